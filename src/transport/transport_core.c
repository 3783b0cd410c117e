/* Transport ops resolution and the driver-side initialisation sequence. */
#include "vtio/transport.h"
#include "vtio/dma.h"

/* ---- Defaults for optional ops ------------------------------------------------ */

static int def_config_read(struct vtio_transport *t, uint32_t off, void *dst, size_t len)
{
	(void)t;
	(void)off;
	(void)dst;
	return len == 0 ? 0 : VTIO_ERANGE;
}

static int def_config_write(struct vtio_transport *t, uint32_t off, const void *src, size_t len)
{
	(void)t;
	(void)off;
	(void)src;
	return len == 0 ? 0 : VTIO_ERANGE;
}

static uint32_t def_config_generation(struct vtio_transport *t)
{
	(void)t;
	return 0;
}

static int def_queue_reset(struct vtio_transport *t, uint16_t index)
{
	(void)t;
	(void)index;
	return VTIO_ENOTSUP;
}

int vtio_transport_init(struct vtio_transport *t, const struct vtio_transport_ops *ops, void *priv)
{
	if (!t || !ops || !ops->get_status || !ops->set_status || !ops->get_features ||
	    !ops->set_features || !ops->queue_max || !ops->queue_setup || !ops->queue_enable ||
	    !ops->notify)
		return VTIO_EINVAL;
	VTIO_MEMSET(t, 0, sizeof(*t));
	t->ops = ops;
	t->fn = *ops;
	if (!t->fn.config_read)
		t->fn.config_read = def_config_read;
	if (!t->fn.config_write)
		t->fn.config_write = def_config_write;
	if (!t->fn.config_generation)
		t->fn.config_generation = def_config_generation;
	if (!t->fn.queue_reset)
		t->fn.queue_reset = def_queue_reset;
	t->priv = priv;
	return 0;
}

void vtio_transport_set_irq(struct vtio_transport *t, vtio_transport_vq_irq_fn vq_irq,
			    vtio_transport_config_irq_fn config_irq, void *ctx)
{
	t->vq_irq = vq_irq;
	t->config_irq = config_irq;
	t->irq_ctx = ctx;
}

/* ---- Status ------------------------------------------------------------------- */

int vtio_transport_add_status(struct vtio_transport *t, uint8_t bits)
{
	if (bits == 0)
		return VTIO_EINVAL;
	/* The driver writes back only the bits it set itself, never the
	 * device's own (DEVICE_NEEDS_RESET). */
	t->status = (uint8_t)(t->status | bits);
	t->fn.set_status(t, t->status);
	return 0;
}

int vtio_transport_reset(struct vtio_transport *t)
{
	t->status = 0;
	t->features = 0;
	t->fn.set_status(t, 0);
	for (uint32_t i = 0; i < VTIO_TRANSPORT_RESET_POLLS; i++) {
		if (t->fn.get_status(t) == 0)
			return 0;
		VTIO_CPU_RELAX();
	}
	return VTIO_ETIMEDOUT;
}

void vtio_transport_fail(struct vtio_transport *t)
{
	(void)vtio_transport_add_status(t, VTIO_STATUS_FAILED);
}

/* ---- Feature negotiation ------------------------------------------------------- */

int vtio_transport_negotiate(struct vtio_transport *t, const struct vtio_transport_negotiation *n)
{
	int err = vtio_transport_reset(t);
	if (err)
		return err;
	vtio_transport_add_status(t, VTIO_STATUS_ACKNOWLEDGE);
	vtio_transport_add_status(t, VTIO_STATUS_DRIVER);

	uint64_t offered = 0;
	for (uint32_t w = 0; w < VTIO_TRANSPORT_FEATURE_WORDS; w++)
		offered |= (uint64_t)t->fn.get_features(t, w) << (32 * w);
	t->offered = offered;

	uint64_t ring_ok = VTIO_FEATURES_RING | t->fn.extra_features;
	/* Never the "bad feature" probe bit (LEG-8), whatever a transport says. */
	ring_ok &= ~VTIO_FEATURE(VTIO_F_BAD_FEATURE);
	uint64_t allowed =
	    ~VTIO_FEATURES_TRANSPORT_RANGE | (ring_ok & VTIO_FEATURES_TRANSPORT_RANGE);
	uint64_t always = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_ORDER_PLATFORM);

	if ((n->required & allowed & offered) != (n->required & allowed) ||
	    (n->required & ~allowed) != 0) {
		vtio_transport_fail(t);
		return VTIO_ENOTSUP;
	}
	uint64_t accept = offered & allowed & (n->supported | n->required | always);
	if (n->validate) {
		err = n->validate(n->validate_ctx, offered, &accept);
		if (err < 0) {
			vtio_transport_fail(t);
			return err;
		}
		/* FEAT-DRV-1 and -3 hold whatever the callback did. */
		accept &= offered & allowed;
		if ((accept & n->required) != n->required) {
			vtio_transport_fail(t);
			return VTIO_ENOTSUP;
		}
	}

	for (uint32_t w = 0; w < VTIO_TRANSPORT_FEATURE_WORDS; w++)
		t->fn.set_features(t, w, (uint32_t)(accept >> (32 * w)));
	vtio_transport_add_status(t, VTIO_STATUS_FEATURES_OK);
	/* INIT-DRV-1 / INIT-DRV-4: the device may refuse; re-read. */
	if ((t->fn.get_status(t) & VTIO_STATUS_FEATURES_OK) == 0) {
		t->status = (uint8_t)(t->status & ~VTIO_STATUS_FEATURES_OK);
		vtio_transport_fail(t);
		return VTIO_EPERM;
	}
	t->features = accept;
	return 0;
}

/* ---- Queues ---------------------------------------------------------------------- */

/* Both roles: a device transport mirrors ring sizes too. */
size_t vtio_transport_vq_ring_size(enum vtio_layout layout, uint32_t num)
{
	return vtio_vq_ring_size(layout, num, VTIO_TRANSPORT_RING_ALIGN);
}

#if VTIO_CONFIG_DRIVER

static int queue_phase_ok(const struct vtio_transport *t)
{
	if ((t->status & VTIO_STATUS_FAILED) || !(t->status & VTIO_STATUS_FEATURES_OK))
		return VTIO_EPERM;
	if ((t->status & VTIO_STATUS_DRIVER_OK) && !vtio_transport_has(t, VTIO_F_RING_RESET))
		return VTIO_EPERM;
	return 0;
}

int vtio_transport_queue_attach(struct vtio_transport *t, struct vtio_vq *vq)
{
	int err = queue_phase_ok(t);
	if (err)
		return err;
	uint16_t index = vtio_vq_index(vq);
	uint32_t max = t->fn.queue_max(t, index);
	if (max == 0)
		return VTIO_ENODEV;
	uint32_t num = vtio_vq_size(vq);
	if (num > max)
		return VTIO_ERANGE;
	const struct vtio_vq_areas *a = vtio_vq_get_areas(vq);
	struct vtio_transport_queue q;
	q.num = num;
	q.desc_addr = a->desc_addr;
	q.driver_addr = a->driver_addr;
	q.device_addr = a->device_addr;
	err = t->fn.queue_setup(t, index, &q);
	if (err)
		return err;
	return t->fn.queue_enable(t, index);
}

int vtio_transport_vq_setup(struct vtio_transport *t, const struct vtio_transport_vq_config *c,
			    struct vtio_vq **out)
{
	int err = queue_phase_ok(t);
	if (err)
		return err;
	uint32_t max = t->fn.queue_max(t, c->index);
	if (max == 0)
		return VTIO_ENODEV;
	enum vtio_layout layout = vtio_transport_layout(t);
	uint32_t num = c->num;
	if (num == 0) {
		num = max > VTIO_SPLIT_MAX_SIZE ? VTIO_SPLIT_MAX_SIZE : max;
		if (layout == VTIO_LAYOUT_SPLIT)
			while (num & (num - 1))
				num &= num - 1;
	}
	if (num > max)
		return VTIO_ERANGE;
	size_t ring_size = vtio_transport_vq_ring_size(layout, num);
	if (ring_size == 0)
		return VTIO_EINVAL;

	void *ring;
	uint64_t ring_addr;
	if (c->dma) {
#if VTIO_CONFIG_DMA
		err = vtio_dma_alloc(c->dma, ring_size, &ring, &ring_addr);
		if (err)
			return err;
#else
		return VTIO_ENOTSUP;
#endif
	} else {
		if (!c->ring || c->ring_size < ring_size)
			return VTIO_EINVAL;
		ring = c->ring;
		ring_addr = (uint64_t)(uintptr_t)c->ring;
	}

	struct vtio_vq_config vc;
	VTIO_MEMSET(&vc, 0, sizeof(vc));
	vc.layout = layout;
	vc.index = c->index;
	vc.num = num;
	vc.features = t->features;
	vc.flags = c->flags;
	if (vtio_transport_has(t, VTIO_F_ORDER_PLATFORM))
		vc.flags |= VTIO_VQ_F_DMA_BARRIERS; /* FEAT-DRV-10 */
	vc.indirect_tables = c->indirect_tables;
	vc.indirect_max = c->indirect_max;
	vc.indirect_threshold = c->indirect_threshold;
	vc.notify = vtio_transport_vq_notify_cb;
	vc.notify_ctx = t;
	vc.dma = c->dma;
	err = vtio_vq_areas_in(layout, num, VTIO_TRANSPORT_RING_ALIGN, ring, ring_addr, &vc.areas);
	struct vtio_vq *vq = NULL;
	if (!err)
		err = vtio_vq_init(&vq, c->state, c->state_size, &vc);
	if (!err)
		err = vtio_transport_queue_attach(t, vq);
	if (err) {
#if VTIO_CONFIG_DMA
		if (c->dma)
			(void)vtio_dma_free(c->dma, ring_size, ring, ring_addr);
#endif
		return err;
	}
	*out = vq;
	return 0;
}

int vtio_transport_vq_release(struct vtio_vq *vq, struct vtio_dma_dev *dma)
{
	if (!dma)
		return 0;
#if VTIO_CONFIG_DMA
	const struct vtio_vq_areas *a = vtio_vq_get_areas(vq);
	size_t size = vtio_transport_vq_ring_size(vtio_vq_layout(vq), vtio_vq_size(vq));
	/* vtio_vq_areas_in() puts the descriptor area at the start of the block. */
	return vtio_dma_free(dma, size, a->desc, a->desc_addr);
#else
	(void)vq;
	return VTIO_ENOTSUP;
#endif
}

#endif /* VTIO_CONFIG_DRIVER */

int vtio_transport_driver_ok(struct vtio_transport *t)
{
	if ((t->status & VTIO_STATUS_FAILED) || !(t->status & VTIO_STATUS_FEATURES_OK))
		return VTIO_EPERM;
	return vtio_transport_add_status(t, VTIO_STATUS_DRIVER_OK);
}

int vtio_transport_queue_reset(struct vtio_transport *t, uint16_t index)
{
	if (!vtio_transport_has(t, VTIO_F_RING_RESET))
		return VTIO_ENOTSUP;
	if (!(t->status & VTIO_STATUS_DRIVER_OK))
		return VTIO_EPERM;
	return t->fn.queue_reset(t, index);
}

int vtio_transport_vq_notify_cb(void *ctx, uint32_t data)
{
	return vtio_transport_notify((struct vtio_transport *)ctx, data);
}

/* ---- Config space ------------------------------------------------------------------- */

int vtio_transport_config_read_stable(struct vtio_transport *t, uint32_t off, void *dst, size_t len)
{
	for (uint32_t i = 0; i <= VTIO_TRANSPORT_CONFIG_RETRIES; i++) {
		uint32_t gen = t->fn.config_generation(t);
		int err = t->fn.config_read(t, off, dst, len);
		if (err)
			return err;
		if (t->fn.config_generation(t) == gen)
			return 0;
	}
	return VTIO_EAGAIN;
}

int vtio_transport_config_write(struct vtio_transport *t, uint32_t off, const void *src, size_t len)
{
	if ((t->status & VTIO_STATUS_DRIVER) && !(t->status & VTIO_STATUS_FEATURES_OK))
		return VTIO_EPERM; /* INIT-DRV-2 */
	return t->fn.config_write(t, off, src, len);
}
