/* Helpers shared by both ring layouts: DMA mapping of buffers and indirect
 * tables (driver side), the layout-independent descriptor checks (device side). */
#include "ring_internal.h"

#if VTIO_CONFIG_DRIVER
/* ---- Driver side: DMA ------------------------------------------------------------ */

int vtio__vq_map(struct vtio_vq *vq, uint64_t cpu, uint32_t len, bool dev_writes, uint64_t *bus)
{
#if VTIO_CONFIG_DMA
	if (vq->do_map)
		return vtio_dma_map(vq->dma, (void *)(uintptr_t)cpu, len,
				    dev_writes ? VTIO_DMA_FROM_DEVICE : VTIO_DMA_TO_DEVICE, 0, bus);
#else
	(void)vq;
	(void)len;
	(void)dev_writes;
#endif
	*bus = cpu;
	return 0;
}

void vtio__vq_unmap(struct vtio_vq *vq, uint64_t bus, uint32_t len, bool dev_writes)
{
#if VTIO_CONFIG_DMA
	if (vq->do_map)
		(void)vtio_dma_unmap(vq->dma, bus, len,
				     dev_writes ? VTIO_DMA_FROM_DEVICE : VTIO_DMA_TO_DEVICE, 0);
#else
	(void)vq;
	(void)bus;
	(void)len;
	(void)dev_writes;
#endif
}

/* Write entry i of an indirect table in the queue's layout format. */
static void put_indirect_entry(const struct vtio_vq *vq, unsigned char *table, unsigned i,
			       unsigned n, uint64_t addr, uint32_t len, bool write)
{
	unsigned char *e = table + (size_t)i * 16u;
	uint64_t a = vtio__w64(vq->legacy, addr);
	uint32_t l = vtio__w32(vq->legacy, len);
	uint16_t flags = write ? VTIO_DESC_F_WRITE : 0;
	VTIO_MEMCPY(e, &a, 8);
	VTIO_MEMCPY(e + 8, &l, 4);
	if (vq->layout == VTIO_LAYOUT_SPLIT) {
		/* Split tables chain with NEXT; next = i + 1 also satisfies IN_ORDER
		 * (INDIR-DRV-5). */
		uint16_t next = (uint16_t)(i + 1u < n ? i + 1u : 0u);
		if (i + 1u < n)
			flags |= VTIO_DESC_F_NEXT;
		uint16_t f = vtio__w16(vq->legacy, flags);
		uint16_t nx = vtio__w16(vq->legacy, next);
		VTIO_MEMCPY(e + 12, &f, 2);
		VTIO_MEMCPY(e + 14, &nx, 2);
	} else {
		/* Packed tables are walked by count: only WRITE (INDIR-DRV-6). */
		uint16_t id = 0;
		uint16_t f = vtio__w16(vq->legacy, flags);
		VTIO_MEMCPY(e + 12, &id, 2);
		VTIO_MEMCPY(e + 14, &f, 2);
	}
}

/* Private unmap records of table t (NULL without DMA support). */
static struct vtio__seg_rec *table_recs(const struct vtio_vq *vq, uint32_t t)
{
	if (vq->indir_rec == NULL)
		return NULL;
	return vq->indir_rec + (size_t)t * vq->indir_max;
}

/* Map an indirect table TO_DEVICE. The table lives in the library's state
 * buffer, which the caller cannot premap: it is mapped whenever the queue
 * maps at all (map_tables), VTIO_VQ_F_PREMAPPED or not, as Linux does. */
static int map_table(struct vtio_vq *vq, const unsigned char *table, uint32_t len, uint64_t *bus)
{
#if VTIO_CONFIG_DMA
	if (vq->map_tables)
		return vtio_dma_map(vq->dma, (void *)(uintptr_t)table, len, VTIO_DMA_TO_DEVICE, 0,
				    bus);
#else
	(void)vq;
	(void)len;
#endif
	*bus = (uint64_t)(uintptr_t)table;
	return 0;
}

static void unmap_table(struct vtio_vq *vq, uint64_t bus, uint32_t len)
{
#if VTIO_CONFIG_DMA
	if (vq->unmap_tables)
		(void)vtio_dma_unmap(vq->dma, bus, len, VTIO_DMA_TO_DEVICE, 0);
#else
	(void)vq;
	(void)bus;
	(void)len;
#endif
}

/* Unmap entries [0, n) of table t from the private records. */
static void unmap_entries(struct vtio_vq *vq, uint32_t t, unsigned n)
{
	const struct vtio__seg_rec *r = table_recs(vq, t);
	if (!vq->do_map || r == NULL)
		return;
	for (unsigned i = 0; i < n; i++)
		vtio__vq_unmap(vq, r[i].bus, r[i].len, r[i].write != 0);
}

int vtio__vq_fill_indirect(struct vtio_vq *vq, uint32_t t, const struct vtio_sg *sg,
			   unsigned out_num, unsigned in_num, uint64_t *table_addr)
{
	unsigned char *table = vtio__vq_indir_table(vq, t);
	struct vtio__seg_rec *r = table_recs(vq, t);
	unsigned n = out_num + in_num;
	unsigned i;
	int err = 0;
	for (i = 0; i < n; i++) {
		uint64_t bus;
		bool w = i >= out_num;
		err = vtio__vq_map_fast(vq, sg[i].addr, sg[i].len, w, &bus);
		if (VTIO_UNLIKELY(err != 0))
			goto rollback;
		if (r != NULL) {
			r[i].bus = bus;
			r[i].len = sg[i].len;
			r[i].write = w;
		}
		put_indirect_entry(vq, table, i, n, bus, sg[i].len, w);
	}
	err = map_table(vq, table, (uint32_t)(n * 16u), table_addr);
	if (VTIO_UNLIKELY(err != 0))
		goto rollback;
	return 0;
rollback:
	unmap_entries(vq, t, i);
	return err;
}

void vtio__vq_unmap_indirect(struct vtio_vq *vq, uint32_t t, unsigned n, uint64_t table_addr)
{
	unmap_entries(vq, t, n);
	unmap_table(vq, table_addr, (uint32_t)(n * 16u));
}

#endif /* VTIO_CONFIG_DRIVER */

/* ---- Ring layout (both roles: a device-only build sizes rings too) ---------- */

#if VTIO_CONFIG_SPLIT
static int split_area_sizes(uint32_t num, struct vtio_vq_area_sizes *out)
{
	if (num == 0 || num > VTIO_SPLIT_MAX_SIZE || (num & (num - 1u)) != 0)
		return VTIO_EINVAL; /* SPLIT-DRV-2 */
	out->desc = vtio_split_desc_size(num);
	out->driver = vtio_split_avail_size(num); /* used_event included (SPLIT-DRV-3) */
	out->device = vtio_split_used_size(num);  /* avail_event included */
	out->desc_align = VTIO_SPLIT_DESC_ALIGN;
	out->driver_align = VTIO_SPLIT_AVAIL_ALIGN;
	out->device_align = VTIO_SPLIT_USED_ALIGN;
	return 0;
}
#endif
#if VTIO_CONFIG_PACKED
static int packed_area_sizes(uint32_t num, struct vtio_vq_area_sizes *out)
{
	if (num == 0 || num > VTIO_PACKED_MAX_SIZE)
		return VTIO_EINVAL; /* PACKED-DRV-2: any size 1..32768 */
	out->desc = (size_t)16 * num;
	out->driver = sizeof(struct vtio_packed_event);
	out->device = sizeof(struct vtio_packed_event);
	out->desc_align = VTIO_PACKED_DESC_ALIGN; /* PACKED-DRV-1 */
	out->driver_align = VTIO_PACKED_EVENT_ALIGN;
	out->device_align = VTIO_PACKED_EVENT_ALIGN;
	return 0;
}
#endif

int vtio_vq_area_sizes(enum vtio_layout layout, uint32_t num, struct vtio_vq_area_sizes *out)
{
	VTIO_ASSERT(out != NULL);
#if VTIO_CONFIG_SPLIT
	if (layout == VTIO_LAYOUT_SPLIT)
		return split_area_sizes(num, out);
#endif
#if VTIO_CONFIG_PACKED
	if (layout == VTIO_LAYOUT_PACKED)
		return packed_area_sizes(num, out);
#endif
	(void)num;
	return VTIO_EINVAL;
}

static size_t align_up(size_t x, size_t a)
{
	return (x + a - 1u) & ~(a - 1u);
}

/* Offsets of the three areas in a contiguous block; returns the total or 0. */
static size_t block_layout(enum vtio_layout layout, uint32_t num, size_t align, size_t off[3])
{
	struct vtio_vq_area_sizes s;
	if (vtio_vq_area_sizes(layout, num, &s) != 0)
		return 0;
	if (align == 0 || (align & (align - 1u)) != 0)
		return 0;
	size_t dev_align = align > s.device_align ? align : s.device_align;
	off[0] = 0;
	off[1] = align_up(s.desc, s.driver_align);
	off[2] = align_up(off[1] + s.driver, dev_align);
	return off[2] + s.device;
}

size_t vtio_vq_ring_size(enum vtio_layout layout, uint32_t num, size_t align)
{
	size_t off[3];
	return block_layout(layout, num, align, off);
}

int vtio_vq_areas_in(enum vtio_layout layout, uint32_t num, size_t align, void *block,
		     uint64_t block_addr, struct vtio_vq_areas *out)
{
	size_t off[3];
	if (block == NULL || out == NULL || ((uintptr_t)block & 15u) != 0 ||
	    (block_addr & 15u) != 0)
		return VTIO_EINVAL;
	if (block_layout(layout, num, align, off) == 0)
		return VTIO_EINVAL;
	unsigned char *b = block;
	out->desc = b + off[0];
	out->driver = b + off[1];
	out->device = b + off[2];
	out->desc_addr = block_addr + off[0];
	out->driver_addr = block_addr + off[1];
	out->device_addr = block_addr + off[2];
	return 0;
}

/* ---- 16-bit ring fields through a view ---------------------------------------------- */

int vtio__mem_load16(const struct vtio_mem *m, uint64_t addr, uint16_t *v, bool acquire)
{
	void *p;
	uint64_t n;
	int err = vtio_mem_translate(m, addr, 2, VTIO_MEM_READ, &p, &n);
	if (err == 0 && n == 2 && ((uintptr_t)p & 1u) == 0) {
		const uint16_t *q = p;
		*v = acquire ? VTIO_LOAD_ACQUIRE16(q) : VTIO_READ_ONCE16(q);
		VTIO__PEER_FETCHED(q, 2);
		return 0;
	}
	if (err != 0 && err != VTIO_ENOTSUP)
		return err;
	/* Accessor ops (untorn 2-byte reads, in order: mem.h). */
	err = vtio_mem_read(m, addr, v, 2);
	if (acquire)
		VTIO_SMP_RMB();
	return err;
}

int vtio__mem_store16(const struct vtio_mem *m, uint64_t addr, uint16_t v, bool release)
{
	void *p;
	uint64_t n;
	int err = vtio_mem_translate(m, addr, 2, VTIO_MEM_WRITE, &p, &n);
	if (err == 0 && n == 2 && ((uintptr_t)p & 1u) == 0) {
		uint16_t *q = p;
		if (release)
			VTIO_STORE_RELEASE16(q, v);
		else
			VTIO_WRITE_ONCE16(q, v);
		return 0;
	}
	if (err != 0 && err != VTIO_ENOTSUP)
		return err;
	if (release)
		VTIO_SMP_WMB();
	return vtio_mem_write(m, addr, &v, 2);
}

#if VTIO_CONFIG_DEVICE
/* ---- Device side: chain walk checks ------------------------------------------------- */

int vtio__walk_add_slow(const struct vtio_devq *q, struct vtio__walk *w, uint64_t addr,
			uint32_t len, bool write)
{
	/* Order and total length were checked inline. */
	struct vtio_devq_chain *c = w->c;
	if (len == 0)
		return 0; /* legal, carries nothing */
	if (VTIO_UNLIKELY(addr + (len - 1u) < addr))
		return VTIO_EFAULT; /* wraps past 2^64 */
	if (write)
		c->wr_len += len;
	else
		c->rd_len += len;
	uint32_t perm = write ? VTIO_MEM_WRITE : VTIO_MEM_READ;
	uint64_t left = len;
	while (left > 0) {
		void *p;
		uint64_t n;
		int err = vtio_mem_translate(q->mem, addr, left, perm, &p, &n);
		if (err == VTIO_ENOTSUP) {
			/* Accessor-only memory: one piece, copied through the ops later. */
			p = NULL;
			n = left;
		} else if (VTIO_UNLIKELY(err != 0)) {
			return err;
		}
		struct vtio_iov *arr = write ? c->wr : c->rd;
		unsigned max = write ? c->wr_max : c->rd_max;
		unsigned *num = write ? &c->wr_num : &c->rd_num;
		if (VTIO_LIKELY(*num < max)) {
			arr[*num].ptr = p;
			arr[*num].addr = addr;
			arr[*num].len = (uint32_t)n;
		} else {
			w->overflow = true;
		}
		(*num)++;
		addr += n;
		left -= n;
	}
	return 0;
}

#if VTIO_CONFIG_INDIRECT
int32_t vtio__devq_indirect_entries(const struct vtio_devq *q, uint32_t len)
{
	if (VTIO_UNLIKELY(len == 0 || (len & 15u) != 0))
		return VTIO_EBADMSG;
	uint32_t n = len / 16u;
	if (VTIO_UNLIKELY(n > q->max_indirect))
		return VTIO_E2BIG;
	return (int32_t)n;
}

/* Accessor-only memory has no translate to check a range with: read the
 * table's last entry, so a table running off the view fails up front rather
 * than only when the walk reaches that far. The copy is kept in @p t: the
 * walk uses it for that entry (each byte read once). */
static int probe_end(const struct vtio_devq *q, struct vtio__table *t)
{
	int err = vtio_mem_read(q->mem, t->addr + (uint64_t)(t->n - 1u) * 16u, t->last, 16);
	VTIO__PEER_COPY_BARRIER();
	t->have_last = err == 0;
	return err;
}

int vtio__devq_map_table(const struct vtio_devq *q, uint64_t addr, uint32_t n,
			 struct vtio__table *t)
{
	void *p;
	uint64_t got;
	uint32_t len = n * 16u; /* n <= max_indirect entries of a 32-bit length */
	t->ptr = NULL;
	t->addr = addr;
	t->n = n;
	t->have_last = false;
	if (VTIO_UNLIKELY(addr + (len - 1u) < addr))
		return VTIO_EFAULT;
	int err = vtio_mem_translate(q->mem, addr, len, VTIO_MEM_READ, &p, &got);
	if (err == VTIO_ENOTSUP)
		return probe_end(q, t);
	if (err != 0)
		return err;
	if (got == len && ((uintptr_t)p & 7u) == 0) {
		t->ptr = p;
		return 0;
	}
	/* Several pieces: the whole table must be readable, even the entries
	 * the chain never reaches. */
	uint64_t a = addr + got, left = len - got;
	while (left > 0) {
		err = vtio_mem_translate(q->mem, a, left, VTIO_MEM_READ, &p, &got);
		if (err == VTIO_ENOTSUP)
			return probe_end(q, t);
		if (err != 0)
			return err;
		a += got;
		left -= got;
	}
	return 0;
}
#endif /* VTIO_CONFIG_INDIRECT */
#endif /* VTIO_CONFIG_DEVICE */
