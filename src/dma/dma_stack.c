/*
 * DMA stacks: push, build (resolve per-op dispatch once) and the device-level
 * calls. After a build every impl[] and prev[] link is non-NULL: ops no layer
 * implements resolve to a terminal layer with neutral defaults, so neither the
 * device calls nor the prev helpers test for NULL on the data path.
 */
#include "vtio/dma.h"

#if VTIO_CONFIG_DMA

/* ---- Terminal layer: what "nothing below implements this" means ------------- */

static int term_map(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		    uint32_t attrs, uint64_t *bus)
{
	(void)l, (void)cpu, (void)len, (void)dir, (void)attrs, (void)bus;
	return VTIO_ENOSYS;
}

static int term_unmap(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		      uint32_t attrs)
{
	(void)l, (void)bus, (void)len, (void)dir, (void)attrs;
	return VTIO_ENOSYS;
}

static int term_sync(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir)
{
	/* No layer keeps caches or bounce copies: nothing to make visible. */
	(void)l, (void)bus, (void)len, (void)dir;
	return 0;
}

static int term_alloc(struct vtio_dma_layer *l, size_t size, void **cpu, uint64_t *bus)
{
	(void)l, (void)size, (void)cpu, (void)bus;
	return VTIO_ENOSYS;
}

static int term_free(struct vtio_dma_layer *l, size_t size, void *cpu, uint64_t bus)
{
	(void)l, (void)size, (void)cpu, (void)bus;
	return VTIO_ENOSYS;
}

static int term_caps(struct vtio_dma_layer *l, struct vtio_dma_caps *out)
{
	(void)l;
	out->mask = UINT64_MAX;
	out->max_mapping = UINT64_MAX;
	return 0;
}

static const struct vtio_dma_ops term_ops = {
    .name = "terminal",
    .klass = VTIO_DMA_CLASS_BOTTOM,
    .map = term_map,
    .unmap = term_unmap,
    /* map_sg/unmap_sg stay NULL: vtio__dma_map_sg_at() loops over map. */
    .sync_for_cpu = term_sync,
    .sync_for_device = term_sync,
    .alloc = term_alloc,
    .free = term_free,
    .caps = term_caps,
};

/* Never written after static initialisation: safe to share between devices and threads. */
static struct vtio_dma_layer term_layer = {.ops = &term_ops};

/* ---- Resolution ----------------------------------------------------------------- */

/* Whether a layer counts as "implementing" an op for resolution. map_sg and
 * unmap_sg resolve to the nearest layer with map_sg *or* map, so a layer that
 * only maps single buffers still sees every scatter-list segment. */
static bool implements(const struct vtio_dma_ops *o, unsigned op)
{
	switch (op) {
	case VTIO_DMA_OP_MAP:
		return o->map != NULL;
	case VTIO_DMA_OP_UNMAP:
		return o->unmap != NULL;
	case VTIO_DMA_OP_MAP_SG:
		return o->map_sg != NULL || o->map != NULL;
	case VTIO_DMA_OP_UNMAP_SG:
		return o->unmap_sg != NULL || o->unmap != NULL;
	case VTIO_DMA_OP_SYNC_FOR_CPU:
		return o->sync_for_cpu != NULL;
	case VTIO_DMA_OP_SYNC_FOR_DEVICE:
		return o->sync_for_device != NULL;
	case VTIO_DMA_OP_ALLOC:
		return o->alloc != NULL;
	case VTIO_DMA_OP_FREE:
		return o->free != NULL;
	case VTIO_DMA_OP_CAPS:
		return o->caps != NULL;
	default:
		return false;
	}
}

void vtio_dma_dev_init(struct vtio_dma_dev *dev)
{
	VTIO_ASSERT(dev != NULL);
	VTIO_MEMSET(dev, 0, sizeof(*dev));
}

int vtio_dma_dev_push(struct vtio_dma_dev *dev, struct vtio_dma_layer *l)
{
	VTIO_ASSERT(dev != NULL);
	if (l == NULL || l->ops == NULL || dev->built)
		return VTIO_EINVAL;
	if ((unsigned)l->ops->klass > (unsigned)VTIO_DMA_CLASS_BOTTOM)
		return VTIO_EINVAL;
	for (unsigned i = 0; i < dev->nlayers; i++)
		if (dev->layers[i] == l)
			return VTIO_EINVAL;
	/* Pushed bottom first: each new layer must not be of a lower class
	 * (nearer the bottom) than the current top. Equal classes stack freely. */
	if (dev->nlayers != 0 && l->ops->klass > dev->layers[0]->ops->klass)
		return VTIO_EINVAL;
	if (dev->nlayers >= VTIO_CONFIG_DMA_MAX_LAYERS)
		return VTIO_E2BIG;
	for (unsigned i = dev->nlayers; i > 0; i--)
		dev->layers[i] = dev->layers[i - 1];
	dev->layers[0] = l;
	dev->nlayers++;
	return 0;
}

int vtio_dma_dev_build(struct vtio_dma_dev *dev)
{
	VTIO_ASSERT(dev != NULL);
	if (dev->built)
		return VTIO_EINVAL;
	if (dev->nlayers == 0 || dev->layers[dev->nlayers - 1]->ops->klass != VTIO_DMA_CLASS_BOTTOM)
		return VTIO_ENODEV;

	/* Walk bottom to top carrying, per op, the nearest implementer so far:
	 * that is each layer's prev[], and after the top it is the device's impl[]. */
	struct vtio_dma_layer *near[VTIO_DMA_NOPS];
	for (unsigned op = 0; op < VTIO_DMA_NOPS; op++)
		near[op] = &term_layer;
	for (unsigned i = dev->nlayers; i > 0; i--) {
		struct vtio_dma_layer *l = dev->layers[i - 1];
		l->below = i < dev->nlayers ? dev->layers[i] : NULL;
		for (unsigned op = 0; op < VTIO_DMA_NOPS; op++) {
			l->prev[op] = near[op];
			if (implements(l->ops, op))
				near[op] = l;
		}
	}
	if (near[VTIO_DMA_OP_MAP] == &term_layer || near[VTIO_DMA_OP_UNMAP] == &term_layer)
		return VTIO_ENODEV;

	/* Identity / linear: every op on the mapping path lands on one such layer
	 * (or on nothing). Alloc, free and caps do not matter to mapping. */
	struct vtio_dma_layer *lin = NULL;
	bool linear = true;
	for (unsigned op = 0; op < VTIO_DMA_NOPS; op++) {
		dev->impl[op] = near[op];
		if (op > VTIO_DMA_OP_SYNC_FOR_DEVICE || near[op] == &term_layer)
			continue;
		if (!(near[op]->flags & (VTIO_DMA_LAYER_F_LINEAR | VTIO_DMA_LAYER_F_IDENTITY)) ||
		    (lin != NULL && near[op] != lin))
			linear = false;
		lin = near[op];
	}
	dev->linear = linear && lin != NULL;
	dev->linear_offset = 0;
	dev->identity = false;
	if (dev->linear) {
		dev->identity = (lin->flags & VTIO_DMA_LAYER_F_IDENTITY) != 0;
		dev->linear_offset = dev->identity ? 0 : lin->linear_offset;
	}
	dev->built = true;
	return 0;
}

/* ---- Scatter lists at one resolved layer ---------------------------------------- */

int vtio__dma_map_sg_at(struct vtio_dma_layer *p, struct vtio_dma_sg *sg, unsigned n,
			enum vtio_dma_dir dir, uint32_t attrs)
{
	if (p->ops->map_sg != NULL)
		return p->ops->map_sg(p, sg, n, dir, attrs);
	for (unsigned i = 0; i < n; i++) {
		int err = p->ops->map(p, sg[i].cpu, sg[i].len, dir, attrs, &sg[i].bus);
		if (err != 0) {
			/* Undo with the unmap that pairs with p's map. */
			struct vtio_dma_layer *u =
			    p->ops->unmap != NULL ? p : p->prev[VTIO_DMA_OP_UNMAP];
			while (i > 0) {
				i--;
				(void)u->ops->unmap(u, sg[i].bus, sg[i].len, dir,
						    attrs | VTIO_DMA_ATTR_SKIP_CPU_SYNC);
			}
			return err;
		}
	}
	return 0;
}

int vtio__dma_unmap_sg_at(struct vtio_dma_layer *p, struct vtio_dma_sg *sg, unsigned n,
			  enum vtio_dma_dir dir, uint32_t attrs)
{
	if (p->ops->unmap_sg != NULL)
		return p->ops->unmap_sg(p, sg, n, dir, attrs);
	int first = 0;
	for (unsigned i = 0; i < n; i++) {
		int err = p->ops->unmap(p, sg[i].bus, sg[i].len, dir, attrs);
		if (err != 0 && first == 0)
			first = err;
	}
	return first;
}

/* ---- Device-level calls: one indirect call to the topmost implementer ----------- */

int vtio__dma_map(struct vtio_dma_dev *dev, void *cpu, size_t len, enum vtio_dma_dir dir,
		  uint32_t attrs, uint64_t *bus)
{
	VTIO_ASSERT(dev->built);
	struct vtio_dma_layer *l = dev->impl[VTIO_DMA_OP_MAP];
	return l->ops->map(l, cpu, len, dir, attrs, bus);
}

int vtio__dma_unmap(struct vtio_dma_dev *dev, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		    uint32_t attrs)
{
	VTIO_ASSERT(dev->built);
	struct vtio_dma_layer *l = dev->impl[VTIO_DMA_OP_UNMAP];
	return l->ops->unmap(l, bus, len, dir, attrs);
}

int vtio_dma_map_sg(struct vtio_dma_dev *dev, struct vtio_dma_sg *sg, unsigned n,
		    enum vtio_dma_dir dir, uint32_t attrs)
{
	VTIO_ASSERT(dev->built);
	return vtio__dma_map_sg_at(dev->impl[VTIO_DMA_OP_MAP_SG], sg, n, dir, attrs);
}

int vtio_dma_unmap_sg(struct vtio_dma_dev *dev, struct vtio_dma_sg *sg, unsigned n,
		      enum vtio_dma_dir dir, uint32_t attrs)
{
	VTIO_ASSERT(dev->built);
	return vtio__dma_unmap_sg_at(dev->impl[VTIO_DMA_OP_UNMAP_SG], sg, n, dir, attrs);
}

int vtio_dma_sync_for_cpu(struct vtio_dma_dev *dev, uint64_t bus, size_t len, enum vtio_dma_dir dir)
{
	VTIO_ASSERT(dev->built);
	struct vtio_dma_layer *l = dev->impl[VTIO_DMA_OP_SYNC_FOR_CPU];
	return l->ops->sync_for_cpu(l, bus, len, dir);
}

int vtio_dma_sync_for_device(struct vtio_dma_dev *dev, uint64_t bus, size_t len,
			     enum vtio_dma_dir dir)
{
	VTIO_ASSERT(dev->built);
	struct vtio_dma_layer *l = dev->impl[VTIO_DMA_OP_SYNC_FOR_DEVICE];
	return l->ops->sync_for_device(l, bus, len, dir);
}

int vtio_dma_alloc(struct vtio_dma_dev *dev, size_t size, void **cpu, uint64_t *bus)
{
	VTIO_ASSERT(dev->built);
	struct vtio_dma_layer *l = dev->impl[VTIO_DMA_OP_ALLOC];
	return l->ops->alloc(l, size, cpu, bus);
}

int vtio_dma_free(struct vtio_dma_dev *dev, size_t size, void *cpu, uint64_t bus)
{
	VTIO_ASSERT(dev->built);
	struct vtio_dma_layer *l = dev->impl[VTIO_DMA_OP_FREE];
	return l->ops->free(l, size, cpu, bus);
}

int vtio_dma_caps(struct vtio_dma_dev *dev, struct vtio_dma_caps *out)
{
	VTIO_ASSERT(dev->built);
	struct vtio_dma_layer *l = dev->impl[VTIO_DMA_OP_CAPS];
	return l->ops->caps(l, out);
}

#endif /* VTIO_CONFIG_DMA */
