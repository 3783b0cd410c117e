/* The bounce DMA layer: a bottom-class layer that bounces every mapping it
 * is handed through a set of pools and serves coherent memory from them. */
#include "bounce_internal.h"

#if VTIO_CONFIG_BOUNCE

static struct vtio_bounce_layer *bl_of(struct vtio_dma_layer *l)
{
	return (struct vtio_bounce_layer *)l->priv;
}

/* In on-request mode only mappings a window layer above hands down (with
 * VTIO_DMA_ATTR_BOUNCE) are bounced; the rest go to the layer below. */
static bool wants_bounce(const struct vtio_bounce_layer *bl, uint32_t attrs)
{
	return !(bl->flags & VTIO_BOUNCE_LAYER_F_ON_REQUEST) || (attrs & VTIO_DMA_ATTR_BOUNCE);
}

/* Is bus a bounce address (owned by a pool) rather than one the layer below made? */
static bool is_bounced(const struct vtio_bounce_layer *bl, uint64_t bus)
{
	return !(bl->flags & VTIO_BOUNCE_LAYER_F_ON_REQUEST) ||
	       vtio_bounce_set_find(bl->set, bus, NULL, NULL) == 0;
}

/* One bounce map / unmap: through the layer's cache when it has one. */
static int bounce_one(struct vtio_bounce_layer *bl, void *cpu, size_t len, enum vtio_dma_dir dir,
		      uint32_t attrs, uint64_t *bus)
{
	if (bl->cache != NULL)
		return vtio_bounce_cache_map(bl->cache, cpu, len, dir, attrs, bus);
	return vtio_bounce_map(bl->set, &bl->dev, cpu, len, dir, attrs, bus);
}

static int unbounce_one(struct vtio_bounce_layer *bl, uint64_t bus, size_t len,
			enum vtio_dma_dir dir, uint32_t attrs)
{
	if (bl->cache != NULL)
		return vtio_bounce_cache_unmap(bl->cache, bus, len, dir, attrs);
	return vtio_bounce_unmap(bl->set, bus, len, dir, attrs);
}

static int bl_map(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		  uint32_t attrs, uint64_t *bus)
{
	struct vtio_bounce_layer *bl = bl_of(l);
	if (!wants_bounce(bl, attrs))
		return vtio_dma_prev_map(l, cpu, len, dir, attrs, bus);
	return bounce_one(bl, cpu, len, dir, attrs, bus);
}

static int bl_unmap(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		    uint32_t attrs)
{
	struct vtio_bounce_layer *bl = bl_of(l);
	if (!is_bounced(bl, bus))
		return vtio_dma_prev_unmap(l, bus, len, dir, attrs);
	return unbounce_one(bl, bus, len, dir, attrs);
}

static int bl_map_sg(struct vtio_dma_layer *l, struct vtio_dma_sg *sg, unsigned n,
		     enum vtio_dma_dir dir, uint32_t attrs)
{
	struct vtio_bounce_layer *bl = bl_of(l);
	if (!wants_bounce(bl, attrs))
		return vtio_dma_prev_map_sg(l, sg, n, dir, attrs);
	for (unsigned i = 0; i < n; i++) {
		int r = bounce_one(bl, sg[i].cpu, sg[i].len, dir, attrs, &sg[i].bus);
		if (r != 0) {
			/* All or nothing: the segments mapped so far go back
			 * without a copy (the device never ran). */
			while (i-- > 0)
				(void)unbounce_one(bl, sg[i].bus, sg[i].len, dir,
						   attrs | VTIO_DMA_ATTR_SKIP_CPU_SYNC);
			return r;
		}
	}
	return 0;
}

static int bl_unmap_sg(struct vtio_dma_layer *l, struct vtio_dma_sg *sg, unsigned n,
		       enum vtio_dma_dir dir, uint32_t attrs)
{
	struct vtio_bounce_layer *bl = bl_of(l);
	int err = 0;
	for (unsigned i = 0; i < n; i++) {
		int r = is_bounced(bl, sg[i].bus)
			    ? unbounce_one(bl, sg[i].bus, sg[i].len, dir, attrs)
			    : vtio_dma_prev_unmap(l, sg[i].bus, sg[i].len, dir, attrs);
		if (r != 0 && err == 0)
			err = r; /* keep unmapping the rest */
	}
	return err;
}

static int bl_sync_for_cpu(struct vtio_dma_layer *l, uint64_t bus, size_t len,
			   enum vtio_dma_dir dir)
{
	struct vtio_bounce_layer *bl = bl_of(l);
	if (!is_bounced(bl, bus))
		return vtio_dma_prev_sync_for_cpu(l, bus, len, dir);
	return vtio_bounce_sync_for_cpu(bl->set, bus, len, dir);
}

static int bl_sync_for_device(struct vtio_dma_layer *l, uint64_t bus, size_t len,
			      enum vtio_dma_dir dir)
{
	struct vtio_bounce_layer *bl = bl_of(l);
	if (!is_bounced(bl, bus))
		return vtio_dma_prev_sync_for_device(l, bus, len, dir);
	return vtio_bounce_sync_for_device(bl->set, bus, len, dir);
}

static int bl_alloc(struct vtio_dma_layer *l, size_t size, void **cpu, uint64_t *bus)
{
	struct vtio_bounce_layer *bl = bl_of(l);
	return vtio_bounce_alloc(bl->set, &bl->dev, size, 0, cpu, bus);
}

static int bl_free(struct vtio_dma_layer *l, size_t size, void *cpu, uint64_t bus)
{
	return vtio_bounce_free(bl_of(l)->set, size, cpu, bus);
}

/* Any CPU buffer becomes reachable (it is copied); the limit is the
 * largest segment of a pool the device may use. */
static int bl_caps(struct vtio_dma_layer *l, struct vtio_dma_caps *out)
{
	struct vtio_bounce_layer *bl = bl_of(l);
	struct vtio_bounce_set *set = bl->set;
	uint64_t best = 0;
	VTIO_LOCK(&set->lock);
	for (uint32_t i = 0; i < set->npools; i++) {
		const struct vtio_bounce_pool *p = set->pools[i];
		bool named = p->id == bl->dev.pool_id;
		if (p->dev_hi > bl->dev.mask)
			continue;
		if (!named && ((p->flags & VTIO_BOUNCE_POOL_F_RESTRICTED) ||
			       (bl->dev.flags & VTIO_BOUNCE_DEV_F_STRICT)))
			continue;
		uint64_t seg = (uint64_t)p->max_segment << p->slot_shift;
		best = seg > best ? seg : best;
	}
	VTIO_UNLOCK(&set->lock);
	out->mask = UINT64_MAX;
	out->max_mapping = best;
	return 0;
}

static const struct vtio_dma_ops bounce_ops = {
    .name = "bounce",
    .klass = VTIO_DMA_CLASS_BOTTOM,
    .map = bl_map,
    .unmap = bl_unmap,
    .map_sg = bl_map_sg,
    .unmap_sg = bl_unmap_sg,
    .sync_for_cpu = bl_sync_for_cpu,
    .sync_for_device = bl_sync_for_device,
    .alloc = bl_alloc,
    .free = bl_free,
    .caps = bl_caps,
};

int vtio_bounce_layer_init(struct vtio_bounce_layer *bl, struct vtio_bounce_set *set,
			   const struct vtio_bounce_dev *dev, uint32_t flags)
{
	if (bl == NULL || set == NULL || dev == NULL || (flags & ~VTIO_BOUNCE_LAYER_F_ON_REQUEST))
		return VTIO_EINVAL;
	VTIO_MEMSET(bl, 0, sizeof(*bl));
	bl->layer.ops = &bounce_ops;
	bl->layer.priv = bl;
	bl->set = set;
	bl->dev = *dev;
	bl->flags = flags;
	return 0;
}

void vtio_bounce_layer_set_cache(struct vtio_bounce_layer *bl, struct vtio_bounce_cache *cache)
{
	VTIO_ASSERT(bl != NULL && (cache == NULL || cache->set == bl->set));
	bl->cache = cache;
}

#endif /* VTIO_CONFIG_BOUNCE */
