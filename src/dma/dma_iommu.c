/*
 * IOMMU-style translation layer: maps each buffer through the layers below,
 * then gives the device an IOVA from its own space, recording per IOVA page
 * the bus address below and the device's permissions (from the direction).
 * The page table is a flat array in caller memory, one 64-bit entry per IOVA
 * page: the bus page below, plus flag bits in the low bits (pages are at least
 * 64 bytes). IOVAs are allocated next-fit from a cursor, so a freed range is
 * not handed out again at once (helps catch late device accesses).
 *
 * The device side translates through vtio_dma_iommu_translate() or a memory
 * view built on it; accesses to unmapped or wrongly-permitted IOVAs are
 * faults: counted, recorded, reported, and refused.
 */
#include "vtio/dma_layers.h"

#if VTIO_CONFIG_DMA

#define PTE_VALID 0x1u
#define PTE_READ  0x2u
#define PTE_WRITE 0x4u
#define PTE_HEAD  0x8u /* first page of a mapping */
#define PTE_FLAGS 0xfu

static struct vtio_dma_iommu *mmu_of(struct vtio_dma_layer *l)
{
	return (struct vtio_dma_iommu *)l->priv;
}

static uint64_t page_mask(const struct vtio_dma_iommu *m)
{
	return ((uint64_t)1 << m->page_shift) - 1;
}

static uint64_t perm_of_dir(enum vtio_dma_dir dir)
{
	switch (dir) {
	case VTIO_DMA_TO_DEVICE:
		return PTE_READ;
	case VTIO_DMA_FROM_DEVICE:
		return PTE_WRITE;
	default:
		return PTE_READ | PTE_WRITE;
	}
}

/* Number of pages [off, off+len) touches; 0 when it does not fit the space. */
static size_t pages_for(const struct vtio_dma_iommu *m, uint64_t off, size_t len)
{
	uint64_t total = off + (uint64_t)len;
	uint64_t n = (total + page_mask(m)) >> m->page_shift;
	return n <= m->cfg.npages ? (size_t)n : 0;
}

/* Find npg free pages (next fit from the cursor, then from 0). Lock held. */
static bool find_free(struct vtio_dma_iommu *m, size_t npg, size_t *first)
{
	size_t n = m->cfg.npages;
	for (int pass = 0; pass < 2; pass++) {
		size_t i = pass == 0 ? m->cursor : 0;
		size_t end = pass == 0 ? n : m->cursor + npg - 1;
		if (end > n)
			end = n;
		while (i + npg <= end) {
			size_t k = 0;
			while (k < npg && !(m->pte[i + k] & PTE_VALID))
				k++;
			if (k == npg) {
				*first = i;
				return true;
			}
			i += k + 1;
		}
	}
	return false;
}

/* Install a mapping of below-bus b (len bytes) with perms; 0 or VTIO_ENOMEM. */
static int iova_insert(struct vtio_dma_iommu *m, uint64_t b, size_t len, uint64_t perm,
		       uint64_t *iova)
{
	uint64_t off = b & page_mask(m);
	size_t npg = pages_for(m, off, len);
	if (npg == 0)
		return len == 0 ? VTIO_EINVAL : VTIO_EMSGSIZE;
	size_t first;
	int err = VTIO_ENOMEM;
	VTIO_LOCK(&m->lock);
	if (find_free(m, npg, &first)) {
		uint64_t page = b - off;
		for (size_t k = 0; k < npg; k++)
			m->pte[first + k] = (page + ((uint64_t)k << m->page_shift)) | PTE_VALID |
					    perm | (k == 0 ? PTE_HEAD : 0);
		m->cursor = first + npg == m->cfg.npages ? 0 : first + npg;
		m->pages_used += npg;
		*iova = m->cfg.iova_base + ((uint64_t)first << m->page_shift) + off;
		err = 0;
	}
	VTIO_UNLOCK(&m->lock);
	return err;
}

/* Remove the mapping starting at iova of len bytes; gives the bus address below.
 * VTIO_ENOENT when nothing is mapped there, VTIO_EINVAL when the length does not
 * match the mapping's page count. */
static int iova_remove(struct vtio_dma_iommu *m, uint64_t iova, size_t len, uint64_t *below)
{
	if (iova < m->cfg.iova_base)
		return VTIO_ENOENT;
	uint64_t rel = iova - m->cfg.iova_base;
	uint64_t idx64 = rel >> m->page_shift;
	if (idx64 >= m->cfg.npages)
		return VTIO_ENOENT;
	size_t idx = (size_t)idx64;
	uint64_t off = rel & page_mask(m);
	size_t npg = pages_for(m, off, len);
	int err = 0;
	VTIO_LOCK(&m->lock);
	uint64_t head = m->pte[idx];
	if ((head & (PTE_VALID | PTE_HEAD)) != (PTE_VALID | PTE_HEAD)) {
		err = VTIO_ENOENT;
	} else if (npg == 0 || idx + npg > m->cfg.npages) {
		err = VTIO_EINVAL;
	} else {
		for (size_t k = 1; k < npg && err == 0; k++)
			if ((m->pte[idx + k] & (PTE_VALID | PTE_HEAD)) != PTE_VALID)
				err = VTIO_EINVAL;
		if (err == 0 && idx + npg < m->cfg.npages &&
		    (m->pte[idx + npg] & (PTE_VALID | PTE_HEAD)) == PTE_VALID)
			err = VTIO_EINVAL; /* the mapping is longer than len */
	}
	if (err == 0) {
		*below = (head & ~page_mask(m)) + off;
		for (size_t k = 0; k < npg; k++)
			m->pte[idx + k] = 0;
		m->pages_used -= npg;
	}
	VTIO_UNLOCK(&m->lock);
	return err;
}

/* Driver side: below address of a mapped IOVA (no permission check, no fault). */
static int iova_lookup(struct vtio_dma_iommu *m, uint64_t iova, uint64_t *below)
{
	if (iova < m->cfg.iova_base)
		return VTIO_EFAULT;
	uint64_t rel = iova - m->cfg.iova_base;
	if ((rel >> m->page_shift) >= m->cfg.npages)
		return VTIO_EFAULT;
	VTIO_LOCK(&m->lock);
	uint64_t pte = m->pte[(size_t)(rel >> m->page_shift)];
	VTIO_UNLOCK(&m->lock);
	if (!(pte & PTE_VALID))
		return VTIO_EFAULT;
	*below = (pte & ~page_mask(m)) + (rel & page_mask(m));
	return 0;
}

static int iommu_map(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		     uint32_t attrs, uint64_t *bus)
{
	struct vtio_dma_iommu *m = mmu_of(l);
	if (len == 0)
		return VTIO_EINVAL;
	uint64_t b;
	int err = vtio_dma_prev_map(l, cpu, len, dir, attrs, &b);
	if (err != 0)
		return err;
	err = iova_insert(m, b, len, perm_of_dir(dir), bus);
	if (err != 0)
		(void)vtio_dma_prev_unmap(l, b, len, dir, attrs | VTIO_DMA_ATTR_SKIP_CPU_SYNC);
	return err;
}

static int iommu_unmap(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		       uint32_t attrs)
{
	uint64_t below;
	int err = iova_remove(mmu_of(l), bus, len, &below);
	return err != 0 ? err : vtio_dma_prev_unmap(l, below, len, dir, attrs);
}

static int iommu_sync_for_cpu(struct vtio_dma_layer *l, uint64_t bus, size_t len,
			      enum vtio_dma_dir dir)
{
	uint64_t below;
	int err = iova_lookup(mmu_of(l), bus, &below);
	return err != 0 ? err : vtio_dma_prev_sync_for_cpu(l, below, len, dir);
}

static int iommu_sync_for_device(struct vtio_dma_layer *l, uint64_t bus, size_t len,
				 enum vtio_dma_dir dir)
{
	uint64_t below;
	int err = iova_lookup(mmu_of(l), bus, &below);
	return err != 0 ? err : vtio_dma_prev_sync_for_device(l, below, len, dir);
}

static int iommu_alloc(struct vtio_dma_layer *l, size_t size, void **cpu, uint64_t *bus)
{
	void *c;
	uint64_t b;
	if (size == 0)
		return VTIO_EINVAL;
	int err = vtio_dma_prev_alloc(l, size, &c, &b);
	if (err != 0)
		return err;
	err = iova_insert(mmu_of(l), b, size, PTE_READ | PTE_WRITE, bus);
	if (err != 0) {
		(void)vtio_dma_prev_free(l, size, c, b);
		return err;
	}
	*cpu = c;
	return 0;
}

static int iommu_free(struct vtio_dma_layer *l, size_t size, void *cpu, uint64_t bus)
{
	uint64_t below;
	int err = iova_remove(mmu_of(l), bus, size, &below);
	return err != 0 ? err : vtio_dma_prev_free(l, size, cpu, below);
}

static int iommu_caps(struct vtio_dma_layer *l, struct vtio_dma_caps *out)
{
	struct vtio_dma_iommu *m = mmu_of(l);
	uint64_t span = (uint64_t)m->cfg.npages << m->page_shift;
	uint64_t last = m->cfg.iova_base + span - 1;
	uint64_t mask = last;
	for (unsigned s = 1; s < 64; s *= 2)
		mask |= mask >> s;
	out->mask = mask;
	out->max_mapping = span;
	return 0;
}

static const struct vtio_dma_ops iommu_ops = {
    .name = "iommu",
    .klass = VTIO_DMA_CLASS_IOMMU,
    .map = iommu_map,
    .unmap = iommu_unmap,
    .sync_for_cpu = iommu_sync_for_cpu,
    .sync_for_device = iommu_sync_for_device,
    .alloc = iommu_alloc,
    .free = iommu_free,
    .caps = iommu_caps,
};

size_t vtio_dma_iommu_table_size(size_t npages)
{
	return npages * sizeof(uint64_t);
}

int vtio_dma_iommu_init(struct vtio_dma_iommu *m, const struct vtio_dma_iommu_config *cfg)
{
	if (m == NULL || cfg == NULL || cfg->table == NULL || cfg->npages == 0)
		return VTIO_EINVAL;
	size_t ps = cfg->page_size != 0 ? cfg->page_size : 4096;
	if (ps < 64 || (ps & (ps - 1)) != 0 || (cfg->iova_base & (ps - 1)) != 0)
		return VTIO_EINVAL;
	unsigned shift = 0;
	while (((size_t)1 << shift) < ps)
		shift++;
	if ((uint64_t)cfg->npages > (UINT64_MAX >> shift) ||
	    cfg->iova_base - 1 + ((uint64_t)cfg->npages << shift) < cfg->iova_base)
		return VTIO_EINVAL;
	VTIO_MEMSET(m, 0, sizeof(*m));
	m->cfg = *cfg;
	m->cfg.page_size = ps;
	m->page_shift = shift;
	m->pte = (uint64_t *)cfg->table;
	VTIO_MEMSET(m->pte, 0, vtio_dma_iommu_table_size(cfg->npages));
	VTIO_LOCK_INIT(&m->lock);
	m->layer.ops = &iommu_ops;
	m->layer.priv = m;
	return 0;
}

size_t vtio_dma_iommu_pages_used(struct vtio_dma_iommu *m)
{
	VTIO_LOCK(&m->lock);
	size_t n = m->pages_used;
	VTIO_UNLOCK(&m->lock);
	return n;
}

int vtio_dma_iommu_translate(struct vtio_dma_iommu *m, uint64_t iova, uint64_t len, uint32_t perm,
			     uint64_t *bus, uint64_t *maplen)
{
	uint64_t want =
	    ((perm & VTIO_MEM_READ) ? PTE_READ : 0) | ((perm & VTIO_MEM_WRITE) ? PTE_WRITE : 0);
	int err = 0;
	VTIO_LOCK(&m->lock);
	uint64_t rel = iova - m->cfg.iova_base;
	if (iova < m->cfg.iova_base || (rel >> m->page_shift) >= m->cfg.npages || len == 0) {
		err = VTIO_EFAULT;
	} else {
		size_t idx = (size_t)(rel >> m->page_shift);
		uint64_t pte = m->pte[idx];
		if (!(pte & PTE_VALID))
			err = VTIO_EFAULT;
		else if ((pte & want) != want)
			err = VTIO_EACCES;
		else {
			uint64_t page = pte & ~page_mask(m);
			uint64_t off = rel & page_mask(m);
			uint64_t got = (page_mask(m) + 1) - off;
			/* Extend over following pages that are mapped, permitted and
			 * contiguous below. */
			for (size_t k = idx + 1; got < len && k < m->cfg.npages; k++) {
				uint64_t p = m->pte[k];
				uint64_t expect = page + ((uint64_t)(k - idx) << m->page_shift);
				if (!(p & PTE_VALID) || (p & want) != want ||
				    (p & ~page_mask(m)) != expect)
					break;
				got += page_mask(m) + 1;
			}
			*bus = page + off;
			*maplen = got < len ? got : len;
		}
	}
	if (err != 0) {
		m->faults++;
		m->last.iova = iova;
		m->last.len = len;
		m->last.perm = perm;
		m->last.err = err;
	}
	VTIO_UNLOCK(&m->lock);
	if (err != 0 && m->cfg.fault != NULL) {
		struct vtio_dma_iommu_fault f = {iova, len, perm, err};
		m->cfg.fault(m->cfg.fault_ctx, &f);
	}
	return err;
}

/* ---- Device-side memory view (IOTLB flavour) -------------------------------------- */

static int imem_translate(void *ctx, uint64_t addr, uint64_t len, uint32_t perm, void **ptr,
			  uint64_t *maplen)
{
	struct vtio_dma_iommu_mem *v = ctx;
	uint64_t bus, ml;
	int err = vtio_dma_iommu_translate(v->mmu, addr, len, perm, &bus, &ml);
	return err != 0 ? err : vtio_mem_translate(v->below, bus, ml, perm, ptr, maplen);
}

static int imem_copy(struct vtio_dma_iommu_mem *v, uint64_t addr, void *dst, const void *src,
		     size_t len)
{
	uint32_t perm = dst != NULL ? VTIO_MEM_READ : VTIO_MEM_WRITE;
	size_t done = 0;
	while (done < len) {
		uint64_t bus, ml;
		int err =
		    vtio_dma_iommu_translate(v->mmu, addr + done, len - done, perm, &bus, &ml);
		if (err != 0)
			return err;
		err = dst != NULL
			  ? vtio_mem_read(v->below, bus, (unsigned char *)dst + done, (size_t)ml)
			  : vtio_mem_write(v->below, bus, (const unsigned char *)src + done,
					   (size_t)ml);
		if (err != 0)
			return err;
		done += (size_t)ml;
	}
	return 0;
}

static int imem_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
	return imem_copy(ctx, addr, dst, NULL, len);
}

static int imem_write(void *ctx, uint64_t addr, const void *src, size_t len)
{
	return imem_copy(ctx, addr, NULL, src, len);
}

static const struct vtio_mem_ops imem_ops = {
    .read = imem_read,
    .write = imem_write,
    .translate = imem_translate,
};

int vtio_dma_iommu_mem_init(struct vtio_dma_iommu_mem *v, struct vtio_dma_iommu *mmu,
			    const struct vtio_mem *below)
{
	if (v == NULL || mmu == NULL || below == NULL)
		return VTIO_EINVAL;
	v->mmu = mmu;
	v->below = below;
	int err = vtio_mem_init(&v->view, NULL, 0);
	return err != 0 ? err : vtio_mem_set_ops(&v->view, &imem_ops, v);
}

#endif /* VTIO_CONFIG_DMA */
