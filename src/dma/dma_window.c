/*
 * Address window / DMA mask layer: maps through the layers below and checks
 * that the device can reach the resulting bus address. Out-of-window mappings
 * either fail with VTIO_ERANGE or are retried below with VTIO_DMA_ATTR_BOUNCE
 * so a bounce layer copies them into memory the device reaches (Linux's
 * dma_capable() check in front of swiotlb). The in-window fast path costs one
 * compare; counters are touched only on the slow path.
 */
#include "vtio/dma_layers.h"

#if VTIO_CONFIG_DMA

static bool in_window(const struct vtio_dma_window *w, uint64_t bus, size_t len)
{
	uint64_t last = bus + (len != 0 ? (uint64_t)len - 1 : 0);
	return bus >= w->cfg.base && last >= bus && last <= w->cfg.mask;
}

static void note_out(struct vtio_dma_window *w, uint64_t bus, size_t len, bool handed)
{
	VTIO_LOCK(&w->lock);
	w->last_bus = bus;
	w->last_len = len;
	if (handed)
		w->handed_down++;
	else
		w->rejected++;
	VTIO_UNLOCK(&w->lock);
}

static int window_map(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		      uint32_t attrs, uint64_t *bus)
{
	struct vtio_dma_window *w = (struct vtio_dma_window *)l->priv;
	uint64_t b;
	int err = vtio_dma_prev_map(l, cpu, len, dir, attrs, &b);
	if (err != 0)
		return err;
	if (VTIO_LIKELY(in_window(w, b, len))) {
		*bus = b;
		return 0;
	}
	(void)vtio_dma_prev_unmap(l, b, len, dir, attrs | VTIO_DMA_ATTR_SKIP_CPU_SYNC);
	if (w->cfg.hand_down && !(attrs & VTIO_DMA_ATTR_BOUNCE)) {
		note_out(w, b, len, true);
		err = vtio_dma_prev_map(l, cpu, len, dir, attrs | VTIO_DMA_ATTR_BOUNCE, &b);
		if (err != 0)
			return err;
		if (in_window(w, b, len)) {
			*bus = b;
			return 0;
		}
		(void)vtio_dma_prev_unmap(l, b, len, dir, attrs | VTIO_DMA_ATTR_SKIP_CPU_SYNC);
	}
	note_out(w, b, len, false);
	return VTIO_ERANGE;
}

static int window_alloc(struct vtio_dma_layer *l, size_t size, void **cpu, uint64_t *bus)
{
	struct vtio_dma_window *w = (struct vtio_dma_window *)l->priv;
	void *c;
	uint64_t b;
	int err = vtio_dma_prev_alloc(l, size, &c, &b);
	if (err != 0)
		return err;
	if (!in_window(w, b, size)) {
		(void)vtio_dma_prev_free(l, size, c, b);
		note_out(w, b, size, false);
		return VTIO_ERANGE;
	}
	*cpu = c;
	*bus = b;
	return 0;
}

static int window_caps(struct vtio_dma_layer *l, struct vtio_dma_caps *out)
{
	struct vtio_dma_window *w = (struct vtio_dma_window *)l->priv;
	int err = vtio_dma_prev_caps(l, out);
	if (err != 0)
		return err;
	if (out->mask > w->cfg.mask)
		out->mask = w->cfg.mask;
	uint64_t span = w->cfg.mask - w->cfg.base;
	if (span != UINT64_MAX && out->max_mapping > span + 1)
		out->max_mapping = span + 1;
	return 0;
}

static const struct vtio_dma_ops window_ops = {
    .name = "window",
    .klass = VTIO_DMA_CLASS_WINDOW,
    .map = window_map,
    /* unmap, syncs and free fall through: the window never changes addresses. */
    .alloc = window_alloc,
    .caps = window_caps,
};

int vtio_dma_window_init(struct vtio_dma_window *w, const struct vtio_dma_window_config *cfg)
{
	if (w == NULL || cfg == NULL || cfg->base > cfg->mask)
		return VTIO_EINVAL;
	VTIO_MEMSET(w, 0, sizeof(*w));
	w->cfg = *cfg;
	VTIO_LOCK_INIT(&w->lock);
	w->layer.ops = &window_ops;
	w->layer.priv = w;
	return 0;
}

#endif /* VTIO_CONFIG_DMA */
