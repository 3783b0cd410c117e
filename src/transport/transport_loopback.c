/* Loopback transport: driver and device side in one process. */
#include "vtio/transport/loopback.h"

#if VTIO_CONFIG_DEVICE

/* ---- Device hook defaults --------------------------------------------------------- */

static int def_kick(void *ctx, uint16_t index, uint32_t data)
{
	(void)ctx;
	(void)index;
	(void)data;
	return 0;
}

static int def_features_ok(void *ctx, uint64_t features)
{
	(void)ctx;
	(void)features;
	return 0;
}

static void def_queue_state(void *ctx, uint16_t index, struct vtio_devq *q)
{
	(void)ctx;
	(void)index;
	(void)q;
}

static void def_reset(void *ctx)
{
	(void)ctx;
}

static int def_config_written(void *ctx, uint32_t off, size_t len)
{
	(void)ctx;
	(void)off;
	(void)len;
	return 0;
}

/* ---- Storage ------------------------------------------------------------------------ */

static size_t align16(size_t n)
{
	return (n + 15u) & ~(size_t)15u;
}

static size_t devq_max_state(uint32_t queue_max)
{
	size_t best = 0;
#if VTIO_CONFIG_SPLIT
	uint32_t p2 = queue_max > VTIO_SPLIT_MAX_SIZE ? VTIO_SPLIT_MAX_SIZE : queue_max;
	while (p2 & (p2 - 1))
		p2 &= p2 - 1;
	size_t s = vtio_devq_state_size(VTIO_LAYOUT_SPLIT, p2);
	if (s > best)
		best = s;
#endif
#if VTIO_CONFIG_PACKED
	size_t p = vtio_devq_state_size(VTIO_LAYOUT_PACKED, queue_max);
	if (p > best)
		best = p;
#endif
	return align16(best);
}

size_t vtio_loopback_storage_size(uint16_t num_queues, uint32_t queue_max)
{
	if (num_queues == 0 || queue_max == 0 || queue_max > VTIO_PACKED_MAX_SIZE)
		return 0;
	size_t stride = devq_max_state(queue_max);
	if (stride == 0)
		return 0;
	return align16(sizeof(struct vtio_loopback_queue) * num_queues) + stride * num_queues;
}

/* ---- Queue life cycle ------------------------------------------------------------------ */

static struct vtio_loopback *lb_of(struct vtio_transport *t)
{
	return (struct vtio_loopback *)t->priv;
}

static void queue_stop(struct vtio_loopback *lb, struct vtio_loopback_queue *q)
{
	bool was_live = q->devq != NULL;
	if (was_live)
		vtio_devq_reset(q->devq);
	q->devq = NULL;
	q->ready = false;
	VTIO_MEMSET(&q->reg, 0, sizeof(q->reg));
	if (was_live)
		lb->dev.queue_state(lb->dev_ctx, q->index, NULL);
}

/* Used-buffer notification from a device queue: crosses over to the driver. */
static int devq_notify(void *ctx, uint32_t data)
{
	struct vtio_loopback_queue *q = (struct vtio_loopback_queue *)ctx;
	struct vtio_loopback *lb = q->lb;
	(void)data;
	if ((lb->status & (VTIO_STATUS_DRIVER_OK | VTIO_STATUS_FAILED)) != VTIO_STATUS_DRIVER_OK ||
	    q->devq == NULL) {
		lb->stats.irqs_dropped++; /* NOTIF-DEV-1, RESET-DEV-2 */
		return 0;
	}
	lb->stats.irqs++;
	vtio_transport_irq_vq(&lb->tr, q->index);
	return 0;
}

static void set_needs_reset(struct vtio_loopback *lb)
{
	lb->status = (uint8_t)(lb->status | VTIO_STATUS_DEVICE_NEEDS_RESET);
	if (lb->status & VTIO_STATUS_DRIVER_OK) {
		lb->stats.config_irqs++;
		vtio_transport_irq_config(&lb->tr);
	}
}

static void queue_go_live(struct vtio_loopback *lb, struct vtio_loopback_queue *q)
{
	struct vtio_devq_config c;
	VTIO_MEMSET(&c, 0, sizeof(c));
	c.layout = (lb->features & VTIO_FEATURE(VTIO_F_RING_PACKED)) ? VTIO_LAYOUT_PACKED
								     : VTIO_LAYOUT_SPLIT;
	c.index = q->index;
	c.num = q->reg.num;
	c.features = lb->features;
	c.flags = lb->devq_flags;
	if (lb->features & VTIO_FEATURE(VTIO_F_ORDER_PLATFORM))
		c.flags |= VTIO_DEVQ_F_DMA_BARRIERS;
	c.desc_addr = q->reg.desc_addr;
	c.driver_addr = q->reg.driver_addr;
	c.device_addr = q->reg.device_addr;
	c.mem = lb->mem;
	c.max_indirect = lb->max_indirect;
	c.notify = devq_notify;
	c.notify_ctx = q;
	struct vtio_devq *d = NULL;
	if (vtio_devq_init(&d, q->devq_state, lb->devq_stride, &c) != 0) {
		/* The driver gave a ring the device cannot use. */
		set_needs_reset(lb);
		return;
	}
	q->devq = d;
	lb->dev.queue_state(lb->dev_ctx, q->index, d);
}

static void device_reset(struct vtio_loopback *lb)
{
	for (uint16_t i = 0; i < lb->num_queues; i++) {
		queue_stop(lb, &lb->queues[i]);
		lb->queues[i].reset_done = false;
	}
	lb->status = 0; /* RESET-DEV-1 */
	lb->driver_features = 0;
	lb->features = 0;
	lb->stats.resets++;
	lb->dev.reset(lb->dev_ctx);
}

/* ---- Transport ops (what the driver calls) -------------------------------------------- */

static uint8_t lb_get_status(struct vtio_transport *t)
{
	return lb_of(t)->status;
}

static void lb_set_status(struct vtio_transport *t, uint8_t v)
{
	struct vtio_loopback *lb = lb_of(t);
	if (v == 0) {
		device_reset(lb);
		return;
	}
	uint8_t old = lb->status;
	/* Status bits are sticky: a driver may not clear one (INIT-DRV-6), so a
	 * write that tries is taken as adding its new bits only. Queues live
	 * under DRIVER_OK therefore never lose it short of a reset.
	 * DEVICE_NEEDS_RESET belongs to the device. */
	v = (uint8_t)((v & ~VTIO_STATUS_DEVICE_NEEDS_RESET) | old);
	uint8_t added = (uint8_t)(v & ~old);

	if (added & VTIO_STATUS_FEATURES_OK) {
		/* FEAT-DEV-2: refuse a set that is not a subset of the offer, or
		 * that the device model refuses. */
		bool ok = (lb->driver_features & ~lb->device_features) == 0 &&
			  (old & VTIO_STATUS_DRIVER) &&
			  lb->dev.features_ok(lb->dev_ctx, lb->driver_features) == 0;
		if (ok)
			lb->features = lb->driver_features;
		else
			v = (uint8_t)(v & ~VTIO_STATUS_FEATURES_OK);
	}
	if ((added & VTIO_STATUS_DRIVER_OK) && !(v & VTIO_STATUS_FEATURES_OK)) {
		/* DRIVER_OK without negotiated features: nothing can run. */
		lb->status = v;
		set_needs_reset(lb);
		return;
	}
	lb->status = v;
	if (added & VTIO_STATUS_FAILED) {
		for (uint16_t i = 0; i < lb->num_queues; i++)
			queue_stop(lb, &lb->queues[i]);
		return;
	}
	if ((added & VTIO_STATUS_DRIVER_OK) && !(v & VTIO_STATUS_FAILED)) {
		for (uint16_t i = 0; i < lb->num_queues; i++) {
			struct vtio_loopback_queue *q = &lb->queues[i];
			if (q->ready && q->devq == NULL)
				queue_go_live(lb, q);
		}
	}
}

static uint32_t lb_get_features(struct vtio_transport *t, uint32_t word)
{
	struct vtio_loopback *lb = lb_of(t);
	return word < 2 ? (uint32_t)(lb->device_features >> (32 * word)) : 0;
}

static void lb_set_features(struct vtio_transport *t, uint32_t word, uint32_t value)
{
	struct vtio_loopback *lb = lb_of(t);
	/* FEAT-DEV-8: fixed once FEATURES_OK is set. */
	if (word >= 2 || (lb->status & VTIO_STATUS_FEATURES_OK))
		return;
	uint64_t mask = (uint64_t)0xffffffffu << (32 * word);
	lb->driver_features = (lb->driver_features & ~mask) | ((uint64_t)value << (32 * word));
}

static int lb_config_read(struct vtio_transport *t, uint32_t off, void *dst, size_t len)
{
	struct vtio_loopback *lb = lb_of(t);
	if (off > lb->config_len || len > lb->config_len - off)
		return VTIO_ERANGE;
	if (len)
		VTIO_MEMCPY(dst, lb->config + off, len);
	return 0;
}

static int lb_config_write(struct vtio_transport *t, uint32_t off, const void *src, size_t len)
{
	struct vtio_loopback *lb = lb_of(t);
	if (off > lb->config_len || len > lb->config_len - off)
		return VTIO_ERANGE;
	if (len)
		VTIO_MEMCPY(lb->config + off, src, len);
	return lb->dev.config_written(lb->dev_ctx, off, len);
}

static uint32_t lb_config_generation(struct vtio_transport *t)
{
	return lb_of(t)->generation;
}

static uint32_t lb_queue_max(struct vtio_transport *t, uint16_t index)
{
	struct vtio_loopback *lb = lb_of(t);
	return index < lb->num_queues ? lb->queue_max : 0;
}

static int lb_queue_setup(struct vtio_transport *t, uint16_t index,
			  const struct vtio_transport_queue *r)
{
	struct vtio_loopback *lb = lb_of(t);
	if (index >= lb->num_queues)
		return VTIO_ENODEV;
	if (!(lb->status & VTIO_STATUS_FEATURES_OK) || (lb->status & VTIO_STATUS_FAILED))
		return VTIO_EPERM;
	struct vtio_loopback_queue *q = &lb->queues[index];
	if (q->ready)
		return VTIO_EBUSY;
	if (r->num == 0 || r->num > lb->queue_max)
		return VTIO_ERANGE;
	if (!(lb->features & VTIO_FEATURE(VTIO_F_RING_PACKED)) && (r->num & (r->num - 1)) != 0)
		return VTIO_EINVAL;
	q->reg = *r;
	return 0;
}

static int lb_queue_enable(struct vtio_transport *t, uint16_t index)
{
	struct vtio_loopback *lb = lb_of(t);
	if (index >= lb->num_queues)
		return VTIO_ENODEV;
	struct vtio_loopback_queue *q = &lb->queues[index];
	if (q->reg.num == 0)
		return VTIO_EINVAL;
	if (q->ready)
		return VTIO_EBUSY;
	q->ready = true;
	q->reset_done = false;
	/* Re-enable after a queue reset (RESET-DEV-5): live at once. */
	if ((lb->status & (VTIO_STATUS_DRIVER_OK | VTIO_STATUS_FAILED)) == VTIO_STATUS_DRIVER_OK)
		queue_go_live(lb, q);
	return 0;
}

static int lb_queue_reset(struct vtio_transport *t, uint16_t index)
{
	struct vtio_loopback *lb = lb_of(t);
	if (!(lb->features & VTIO_FEATURE(VTIO_F_RING_RESET)))
		return VTIO_ENOTSUP;
	if (index >= lb->num_queues)
		return VTIO_ENODEV;
	struct vtio_loopback_queue *q = &lb->queues[index];
	queue_stop(lb, q); /* RESET-DEV-3, RESET-DEV-4 */
	q->reset_done = true;
	lb->stats.queue_resets++;
	return 0;
}

static int lb_notify(struct vtio_transport *t, uint32_t data)
{
	struct vtio_loopback *lb = lb_of(t);
	uint16_t index = (uint16_t)(data & 0xffffu);
	if (index >= lb->num_queues)
		return VTIO_EINVAL;
	struct vtio_loopback_queue *q = &lb->queues[index];
	if ((lb->status & (VTIO_STATUS_DRIVER_OK | VTIO_STATUS_FAILED)) != VTIO_STATUS_DRIVER_OK ||
	    q->devq == NULL) {
		lb->stats.kicks_dropped++;
		return 0;
	}
	lb->stats.kicks++;
	return lb->dev.kick(lb->dev_ctx, index, data);
}

static const struct vtio_transport_ops loopback_ops = {
    .name = "loopback",
    .extra_features = 0,
    .get_status = lb_get_status,
    .set_status = lb_set_status,
    .get_features = lb_get_features,
    .set_features = lb_set_features,
    .config_read = lb_config_read,
    .config_write = lb_config_write,
    .config_generation = lb_config_generation,
    .queue_max = lb_queue_max,
    .queue_setup = lb_queue_setup,
    .queue_enable = lb_queue_enable,
    .queue_reset = lb_queue_reset,
    .notify = lb_notify,
};

/* ---- Public device-side API ----------------------------------------------------------------- */

/* Bits a loopback cannot honour: the probe bit, PCI-only bits, reserved 42..49. */
#define LB_BAD_FEATURES                                                                            \
	(VTIO_FEATURE(VTIO_F_BAD_FEATURE) | VTIO_FEATURE(VTIO_F_SR_IOV) |                          \
	 VTIO_FEATURE(VTIO_F_NOTIF_CONFIG_DATA) | VTIO_FEATURE(VTIO_F_ADMIN_VQ) |                  \
	 ((((uint64_t)1 << 50) - 1) & ~(((uint64_t)1 << 42) - 1)))

int vtio_loopback_init(struct vtio_loopback *lb, void *storage, size_t storage_size,
		       const struct vtio_loopback_config *cfg)
{
	if (!lb || !cfg || !cfg->mem || (cfg->config_len && !cfg->config))
		return VTIO_EINVAL;
	if (!(cfg->device_features & VTIO_FEATURE(VTIO_F_VERSION_1)) ||
	    (cfg->device_features & LB_BAD_FEATURES))
		return VTIO_EINVAL;
	size_t need = vtio_loopback_storage_size(cfg->num_queues, cfg->queue_max);
	if (need == 0 || !storage || storage_size < need || ((uintptr_t)storage & 15u) != 0)
		return VTIO_EINVAL;
	VTIO_MEMSET(lb, 0, sizeof(*lb));
	int err = vtio_transport_init(&lb->tr, &loopback_ops, lb);
	if (err)
		return err;
	lb->dev.kick = def_kick;
	lb->dev.features_ok = def_features_ok;
	lb->dev.queue_state = def_queue_state;
	lb->dev.reset = def_reset;
	lb->dev.config_written = def_config_written;
	if (cfg->dev) {
		if (cfg->dev->kick)
			lb->dev.kick = cfg->dev->kick;
		if (cfg->dev->features_ok)
			lb->dev.features_ok = cfg->dev->features_ok;
		if (cfg->dev->queue_state)
			lb->dev.queue_state = cfg->dev->queue_state;
		if (cfg->dev->reset)
			lb->dev.reset = cfg->dev->reset;
		if (cfg->dev->config_written)
			lb->dev.config_written = cfg->dev->config_written;
	}
	lb->dev_ctx = cfg->dev_ctx;
	lb->mem = cfg->mem;
	lb->config = (unsigned char *)cfg->config;
	lb->config_len = cfg->config_len;
	lb->device_features = cfg->device_features;
	lb->queue_max = cfg->queue_max;
	lb->devq_flags = cfg->devq_flags;
	lb->max_indirect = cfg->max_indirect;
	lb->num_queues = cfg->num_queues;
	lb->devq_stride = devq_max_state(cfg->queue_max);
	unsigned char *base = (unsigned char *)storage;
	VTIO_MEMSET(base, 0, need);
	lb->queues = (struct vtio_loopback_queue *)(void *)base;
	unsigned char *states = base + align16(sizeof(struct vtio_loopback_queue) * lb->num_queues);
	for (uint16_t i = 0; i < lb->num_queues; i++) {
		struct vtio_loopback_queue *q = &lb->queues[i];
		q->lb = lb;
		q->index = i;
		q->devq_state = states + lb->devq_stride * i;
	}
	lb->status = 0; /* INIT-DEV-1 */
	return 0;
}

struct vtio_devq *vtio_loopback_devq(struct vtio_loopback *lb, uint16_t index)
{
	if (index >= lb->num_queues)
		return NULL;
	return lb->queues[index].devq;
}

void vtio_loopback_config_changed(struct vtio_loopback *lb)
{
	lb->generation++; /* INIT-DEV-5 */
	if ((lb->status & (VTIO_STATUS_DRIVER_OK | VTIO_STATUS_FAILED)) == VTIO_STATUS_DRIVER_OK) {
		lb->stats.config_irqs++;
		vtio_transport_irq_config(&lb->tr);
	}
}

void vtio_loopback_needs_reset(struct vtio_loopback *lb)
{
	set_needs_reset(lb);
}

void vtio_loopback_get_stats(const struct vtio_loopback *lb, struct vtio_loopback_stats *out)
{
	*out = lb->stats;
}

#endif /* VTIO_CONFIG_DEVICE */
