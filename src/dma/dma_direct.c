/*
 * Direct layer: the bottom of a stack when no bouncing is needed. Translates
 * CPU to bus addresses (identity, fixed offset or callback), enforces its own
 * mask, does cache maintenance when memory is not coherent, and carves
 * coherent memory from a caller arena (or asks a callback).
 */
#include "vtio/dma_layers.h"

#if VTIO_CONFIG_DMA

static struct vtio_dma_direct *direct_of(struct vtio_dma_layer *l)
{
	return (struct vtio_dma_direct *)l->priv;
}

static int direct_to_bus(const struct vtio_dma_direct *d, const void *cpu, size_t len,
			 uint64_t *bus)
{
	switch (d->cfg.mode) {
	case VTIO_DMA_DIRECT_IDENTITY:
		*bus = (uint64_t)(uintptr_t)cpu;
		return 0;
	case VTIO_DMA_DIRECT_OFFSET:
		*bus = (uint64_t)(uintptr_t)cpu + d->cfg.offset;
		return 0;
	default:
		return d->cfg.to_bus(d->cfg.xlate_ctx, cpu, len, bus);
	}
}

static void *direct_to_cpu(const struct vtio_dma_direct *d, uint64_t bus)
{
	switch (d->cfg.mode) {
	case VTIO_DMA_DIRECT_IDENTITY:
		return (void *)(uintptr_t)bus;
	case VTIO_DMA_DIRECT_OFFSET:
		return (void *)(uintptr_t)(bus - d->cfg.offset);
	default:
		return d->cfg.to_cpu != NULL ? d->cfg.to_cpu(d->cfg.xlate_ctx, bus) : NULL;
	}
}

/* [bus, bus+len) must lie at or below the mask without wrapping. */
static bool direct_reachable(const struct vtio_dma_direct *d, uint64_t bus, size_t len)
{
	uint64_t last = bus + (len != 0 ? (uint64_t)len - 1 : 0);
	return last >= bus && last <= d->mask;
}

static int direct_map(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		      uint32_t attrs, uint64_t *bus)
{
	struct vtio_dma_direct *d = direct_of(l);
	/* VTIO_DMA_ATTR_BOUNCE is ignored: this layer cannot bounce, and the
	 * window layer above re-checks the address it gets. */
	if (d->cfg.max_mapping != 0 && len > d->cfg.max_mapping)
		return VTIO_EMSGSIZE;
	uint64_t b;
	int err = direct_to_bus(d, cpu, len, &b);
	if (err != 0)
		return err;
	if (!direct_reachable(d, b, len))
		return VTIO_ERANGE;
	/* Clean for every direction, as Linux does since 5.x: a dirty line left
	 * in the cache over a FROM_DEVICE buffer could be written back on top of
	 * what the device writes. Unmap / sync_for_cpu invalidate afterwards. */
	if (d->cfg.noncoherent && !(attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC))
		VTIO_CACHE_FLUSH(cpu, len);
	(void)dir;
	*bus = b;
	return 0;
}

static int direct_unmap_coherent(struct vtio_dma_layer *l, uint64_t bus, size_t len,
				 enum vtio_dma_dir dir, uint32_t attrs)
{
	(void)l, (void)bus, (void)len, (void)dir, (void)attrs;
	return 0;
}

static int direct_sync_for_cpu(struct vtio_dma_layer *l, uint64_t bus, size_t len,
			       enum vtio_dma_dir dir);

/* Unmapping non-coherent memory is a sync for the CPU (invalidate what the
 * device may have written), unless the caller asked to skip it. */
static int direct_unmap_noncoherent(struct vtio_dma_layer *l, uint64_t bus, size_t len,
				    enum vtio_dma_dir dir, uint32_t attrs)
{
	if (attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC)
		return 0;
	return direct_sync_for_cpu(l, bus, len, dir);
}

static int direct_sync_for_cpu(struct vtio_dma_layer *l, uint64_t bus, size_t len,
			       enum vtio_dma_dir dir)
{
	struct vtio_dma_direct *d = direct_of(l);
	if (dir != VTIO_DMA_TO_DEVICE) {
		void *cpu = direct_to_cpu(d, bus);
		if (cpu != NULL)
			VTIO_CACHE_INVALIDATE(cpu, len);
	}
	return 0;
}

static int direct_sync_for_device(struct vtio_dma_layer *l, uint64_t bus, size_t len,
				  enum vtio_dma_dir dir)
{
	struct vtio_dma_direct *d = direct_of(l);
	if (dir != VTIO_DMA_FROM_DEVICE) {
		void *cpu = direct_to_cpu(d, bus);
		if (cpu != NULL)
			VTIO_CACHE_FLUSH(cpu, len);
	}
	return 0;
}

/* ---- Arena: first fit over a granule bitmap, natural alignment ----------------- */

static bool bit_get(const uint32_t *map, size_t i)
{
	return (map[i >> 5] >> (i & 31u)) & 1u;
}

static void bits_set(uint32_t *map, size_t from, size_t n, bool on)
{
	for (size_t i = from; i < from + n; i++) {
		uint32_t m = 1u << (i & 31u);
		if (on)
			map[i >> 5] |= m;
		else
			map[i >> 5] &= ~m;
	}
}

static size_t granules_for(const struct vtio_dma_direct *d, size_t size)
{
	return (size + d->granule - 1) >> d->granule_shift;
}

static int direct_arena_alloc(struct vtio_dma_direct *d, size_t size, void **cpu, uint64_t *bus)
{
	if (size == 0 || size > d->cfg.arena_size)
		return size == 0 ? VTIO_EINVAL : VTIO_ENOMEM;
	size_t need = granules_for(d, size);
	/* Natural alignment, as dma_alloc_coherent gives page alignment. */
	size_t align = 1;
	while (align * 2 <= size && align * 2 <= 4096)
		align *= 2;
	size_t step = align > d->granule ? align >> d->granule_shift : 1;
	uint32_t *map = (uint32_t *)d->cfg.arena_map;
	int err = VTIO_ENOMEM;

	VTIO_LOCK(&d->lock);
	for (size_t start = 0; start + need <= d->granules; start += step) {
		size_t i = 0;
		while (i < need && !bit_get(map, start + i))
			i++;
		if (i < need)
			continue;
		void *p = (unsigned char *)d->cfg.arena + (start << d->granule_shift);
		uint64_t b;
		err = direct_to_bus(d, p, size, &b);
		if (err == 0 && !direct_reachable(d, b, size))
			err = VTIO_ERANGE;
		if (err == 0) {
			bits_set(map, start, need, true);
			d->in_use += need << d->granule_shift;
			*cpu = p;
			*bus = b;
		}
		break;
	}
	VTIO_UNLOCK(&d->lock);
	return err;
}

static int direct_arena_free(struct vtio_dma_direct *d, size_t size, void *cpu)
{
	uintptr_t base = (uintptr_t)d->cfg.arena;
	uintptr_t p = (uintptr_t)cpu;
	if (size == 0 || p < base || p - base >= d->cfg.arena_size ||
	    ((p - base) & (d->granule - 1)) != 0)
		return VTIO_EINVAL;
	size_t start = (p - base) >> d->granule_shift;
	size_t need = granules_for(d, size);
	if (start + need > d->granules)
		return VTIO_EINVAL;
	uint32_t *map = (uint32_t *)d->cfg.arena_map;
	int err = 0;
	VTIO_LOCK(&d->lock);
	for (size_t i = 0; i < need; i++) {
		if (!bit_get(map, start + i)) {
			err = VTIO_EALREADY;
			break;
		}
	}
	if (err == 0) {
		bits_set(map, start, need, false);
		d->in_use -= need << d->granule_shift;
	}
	VTIO_UNLOCK(&d->lock);
	return err;
}

static int direct_alloc(struct vtio_dma_layer *l, size_t size, void **cpu, uint64_t *bus)
{
	struct vtio_dma_direct *d = direct_of(l);
	if (d->cfg.arena != NULL)
		return direct_arena_alloc(d, size, cpu, bus);
	if (d->cfg.alloc != NULL)
		return d->cfg.alloc(d->cfg.alloc_ctx, size, cpu, bus);
	return VTIO_ENOSYS;
}

static int direct_free(struct vtio_dma_layer *l, size_t size, void *cpu, uint64_t bus)
{
	struct vtio_dma_direct *d = direct_of(l);
	if (d->cfg.arena != NULL)
		return direct_arena_free(d, size, cpu);
	if (d->cfg.free != NULL)
		return d->cfg.free(d->cfg.alloc_ctx, size, cpu, bus);
	return VTIO_ENOSYS;
}

static int direct_caps(struct vtio_dma_layer *l, struct vtio_dma_caps *out)
{
	struct vtio_dma_direct *d = direct_of(l);
	out->mask = d->mask;
	out->max_mapping = d->cfg.max_mapping != 0 ? d->cfg.max_mapping : UINT64_MAX;
	return 0;
}

static const struct vtio_dma_ops direct_coherent_ops = {
    .name = "direct",
    .klass = VTIO_DMA_CLASS_BOTTOM,
    .map = direct_map,
    .unmap = direct_unmap_coherent,
    .alloc = direct_alloc,
    .free = direct_free,
    .caps = direct_caps,
};

static const struct vtio_dma_ops direct_noncoherent_ops = {
    .name = "direct-noncoherent",
    .klass = VTIO_DMA_CLASS_BOTTOM,
    .map = direct_map,
    .unmap = direct_unmap_noncoherent,
    .sync_for_cpu = direct_sync_for_cpu,
    .sync_for_device = direct_sync_for_device,
    .alloc = direct_alloc,
    .free = direct_free,
    .caps = direct_caps,
};

static size_t granule_or_default(size_t g)
{
	return g != 0 ? g : 64;
}

size_t vtio_dma_direct_arena_map_size(size_t arena_size, size_t granule)
{
	granule = granule_or_default(granule);
	size_t granules = arena_size / granule;
	return (granules + 31) / 32 * sizeof(uint32_t);
}

int vtio_dma_direct_init(struct vtio_dma_direct *d, const struct vtio_dma_direct_config *cfg)
{
	if (d == NULL || cfg == NULL)
		return VTIO_EINVAL;
	if (cfg->mode != VTIO_DMA_DIRECT_IDENTITY && cfg->mode != VTIO_DMA_DIRECT_OFFSET &&
	    cfg->mode != VTIO_DMA_DIRECT_CALLBACK)
		return VTIO_EINVAL;
	if (cfg->mode == VTIO_DMA_DIRECT_CALLBACK && cfg->to_bus == NULL)
		return VTIO_EINVAL;
	size_t g = granule_or_default(cfg->arena_granule);
	if (g < 8 || (g & (g - 1)) != 0)
		return VTIO_EINVAL;
	if (cfg->arena != NULL && (cfg->arena_map == NULL || cfg->arena_size < g))
		return VTIO_EINVAL;
	if ((cfg->alloc == NULL) != (cfg->free == NULL))
		return VTIO_EINVAL;

	VTIO_MEMSET(d, 0, sizeof(*d));
	d->cfg = *cfg;
	d->mask = cfg->mask != 0 ? cfg->mask : UINT64_MAX;
	d->granule = g;
	while (((size_t)1 << d->granule_shift) < g)
		d->granule_shift++;
	VTIO_LOCK_INIT(&d->lock);
	if (cfg->arena != NULL) {
		d->granules = cfg->arena_size >> d->granule_shift;
		VTIO_MEMSET(cfg->arena_map, 0, vtio_dma_direct_arena_map_size(cfg->arena_size, g));
	}
	d->layer.ops = cfg->noncoherent ? &direct_noncoherent_ops : &direct_coherent_ops;
	d->layer.priv = d;
	/* Coherent, unlimited identity / offset: map is an addition that cannot
	 * fail, so the device may do it inline (vtio_dma_dev::linear). */
	if (cfg->mode != VTIO_DMA_DIRECT_CALLBACK && !cfg->noncoherent && d->mask == UINT64_MAX &&
	    cfg->max_mapping == 0) {
		d->layer.flags = VTIO_DMA_LAYER_F_LINEAR;
		d->layer.linear_offset = cfg->mode == VTIO_DMA_DIRECT_OFFSET ? cfg->offset : 0;
		if (cfg->mode == VTIO_DMA_DIRECT_IDENTITY)
			d->layer.flags |= VTIO_DMA_LAYER_F_IDENTITY;
	}
	return 0;
}

size_t vtio_dma_direct_arena_in_use(struct vtio_dma_direct *d)
{
	VTIO_LOCK(&d->lock);
	size_t n = d->in_use;
	VTIO_UNLOCK(&d->lock);
	return n;
}

#endif /* VTIO_CONFIG_DMA */
