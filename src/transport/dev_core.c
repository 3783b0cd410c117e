/* Device core: the device-side status / feature / queue state machine that
 * every device-role transport feeds (see include/vtio/dev.h for the rules). */
#include "vtio/dev.h"

/* Status bits a driver may write; the others are the device's (NEEDS_RESET)
 * or outside what this core supports (SUSPEND, 0x20) and are ignored in a write. */
#define DRIVER_BITS                                                                                \
	(VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_DRIVER | VTIO_STATUS_FEATURES_OK |                  \
	 VTIO_STATUS_DRIVER_OK | VTIO_STATUS_FAILED)

/* Bits no device core may offer, whatever its transport: the probe bit and
 * 42..49 (reserved, or defined by specs newer than this core: SUSPEND). */
#define NEVER_OFFERED                                                                              \
	(VTIO_FEATURE(VTIO_F_BAD_FEATURE) |                                                        \
	 ((((uint64_t)1 << 50) - 1) & ~(((uint64_t)1 << 42) - 1)))

#if VTIO_CONFIG_DEVICE

struct vtio_dev_queue {
	struct vtio_transport_queue reg; /* Registers the driver wrote. */
	struct vtio_dev *dev;		 /* Owner (context of the devq's notify). */
	struct vtio_devq *devq;		 /* Device queue while live, else NULL. */
	void *devq_state;		 /* Its storage. */
	const struct vtio_mem *mem;	 /* Own view, or NULL for the device-wide one. */
	uint32_t max;			 /* Largest size of this queue. */
	uint16_t index;
	bool enabled;	 /* QueueReady / queue_enable. */
	bool reset_done; /* Reset by RING_RESET, registers writable again. */
};

/* ---- Hook defaults (STYLE rule 4: resolved once, never tested at a call) ---------------- */

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

static void def_void(void *ctx)
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

static int def_kick(void *ctx, uint16_t index, uint32_t data)
{
	(void)ctx;
	(void)index;
	(void)data;
	return 0;
}

static int def_vq_irq(void *ctx, uint16_t index)
{
	(void)ctx;
	(void)index;
	return 0;
}

static const struct vtio_dev_transport_ops unbound_ops = {
    .name = "unbound",
    .extra_features = 0,
    .vq_irq = def_vq_irq,
    .config_irq = def_void,
};

/* ---- Storage ------------------------------------------------------------------------------ */

static size_t align16(size_t n)
{
	return (n + 15u) & ~(size_t)15u;
}

/* Device queue state for the larger of the two layouts a queue of at most
 * queue_max entries can have (the layout is known only at FEATURES_OK). */
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

size_t vtio_dev_storage_size(uint16_t num_queues, uint32_t queue_max)
{
	if (num_queues == 0 || queue_max == 0 || queue_max > VTIO_PACKED_MAX_SIZE)
		return 0;
	size_t stride = devq_max_state(queue_max);
	if (stride == 0)
		return 0;
	return align16(sizeof(struct vtio_dev_queue) * num_queues) + stride * num_queues;
}

/* ---- Notifications towards the driver ------------------------------------------------------ */

static bool running(const struct vtio_dev *dev)
{
	return (dev->status & (VTIO_STATUS_DRIVER_OK | VTIO_STATUS_FAILED)) ==
	       VTIO_STATUS_DRIVER_OK;
}

/* Used-buffer notification of a device queue (its vtio_notify_fn). */
static int devq_notify(void *ctx, uint32_t data)
{
	struct vtio_dev_queue *q = (struct vtio_dev_queue *)ctx;
	struct vtio_dev *dev = q->dev;
	(void)data;
	if (!running(dev) || q->devq == NULL) {
		dev->stats.irqs_dropped++; /* NOTIF-DEV-1, RESET-DEV-2, RESET-DEV-3 */
		return 0;
	}
	dev->stats.irqs++;
	return dev->tr.vq_irq(dev->tr_ctx, q->index);
}

void vtio_dev_needs_reset(struct vtio_dev *dev)
{
	if (dev->status & VTIO_STATUS_DEVICE_NEEDS_RESET)
		return;
	dev->status = (uint8_t)(dev->status | VTIO_STATUS_DEVICE_NEEDS_RESET);
	dev->stats.needs_reset++;
	/* NOTIF-DEV-2: with DRIVER_OK set the driver must be told. */
	if (dev->status & VTIO_STATUS_DRIVER_OK) {
		dev->stats.config_irqs++;
		dev->tr.config_irq(dev->tr_ctx);
	}
}

void vtio_dev_config_changed(struct vtio_dev *dev)
{
	dev->generation++; /* INIT-DEV-5, MMIO-DEV-5 */
	if (running(dev)) {
		dev->stats.config_irqs++;
		dev->tr.config_irq(dev->tr_ctx);
	}
}

/* ---- Queue life cycle --------------------------------------------------------------------- */

static void queue_stop(struct vtio_dev *dev, struct vtio_dev_queue *q)
{
	struct vtio_devq *d = q->devq;
	if (d == NULL)
		return;
	/* Not live from here on: a notification the reset provokes is dropped. */
	q->devq = NULL;
	vtio_devq_reset(d); /* RESET-DEV-4 */
	dev->ops.queue_state(dev->ctx, q->index, NULL);
}

/* Back to the registers of a device that was just reset (MMIO-DEV-4,
 * MMIO-DEV-7). */
static void queue_clear(struct vtio_dev *dev, struct vtio_dev_queue *q)
{
	queue_stop(dev, q);
	VTIO_MEMSET(&q->reg, 0, sizeof(q->reg));
	q->enabled = false;
	q->reset_done = false;
}

static void queue_go_live(struct vtio_dev *dev, struct vtio_dev_queue *q)
{
	const struct vtio_mem *mem = q->mem ? q->mem : dev->mem;
	struct vtio_devq_config c;
	VTIO_MEMSET(&c, 0, sizeof(c));
	c.layout = (dev->features & VTIO_FEATURE(VTIO_F_RING_PACKED)) ? VTIO_LAYOUT_PACKED
								      : VTIO_LAYOUT_SPLIT;
	c.index = q->index;
	c.num = q->reg.num;
	c.features = dev->features;
	c.flags = dev->devq_flags;
	if (dev->features & VTIO_FEATURE(VTIO_F_ORDER_PLATFORM))
		c.flags |= VTIO_DEVQ_F_DMA_BARRIERS;
	c.desc_addr = q->reg.desc_addr;
	c.driver_addr = q->reg.driver_addr;
	c.device_addr = q->reg.device_addr;
	c.mem = mem;
	c.max_indirect = dev->max_indirect;
	c.notify = devq_notify;
	c.notify_ctx = q;
	struct vtio_devq *d = NULL;
	if (mem == NULL || vtio_devq_init(&d, q->devq_state, dev->devq_stride, &c) != 0) {
		/* A ring the device cannot use (or no view to reach it): the
		 * device cannot run this queue, and says so (INIT-DEV-3). */
		dev->stats.protocol_errors++;
		vtio_dev_needs_reset(dev);
		return;
	}
	q->devq = d;
	dev->ops.queue_state(dev->ctx, q->index, d);
}

static void device_reset(struct vtio_dev *dev)
{
	for (uint16_t i = 0; i < dev->num_queues; i++)
		queue_clear(dev, &dev->queues[i]);
	dev->status = 0; /* RESET-DEV-1; the generation stays (monotonic) */
	dev->driver_features = 0;
	dev->features = 0;
	dev->stats.resets++;
	dev->ops.reset(dev->ctx);
}

/* ---- Status and features ------------------------------------------------------------------- */

static bool features_acceptable(struct vtio_dev *dev, uint8_t status)
{
	uint64_t f = dev->driver_features;
	if (!(status & VTIO_STATUS_DRIVER) || (status & VTIO_STATUS_FAILED))
		return false;
	if ((f & ~dev->offered) != 0 || !(f & VTIO_FEATURE(VTIO_F_VERSION_1)))
		return false; /* FEAT-DEV-2; no legacy interface (FEAT-DEV-5) */
	return dev->ops.features_ok(dev->ctx, f) == 0;
}

void vtio_dev_set_status(struct vtio_dev *dev, uint8_t status)
{
	uint8_t v = status;
	if (v == 0) {
		device_reset(dev);
		return;
	}
	uint8_t old = dev->status;
	v = (uint8_t)(v & DRIVER_BITS);
	if ((old & DRIVER_BITS & ~v) != 0) {
		/* INIT-DRV-6 broken: the driver and the device disagree on the
		 * state; refuse the write, only a reset can fix it. */
		dev->stats.protocol_errors++;
		vtio_dev_needs_reset(dev);
		return;
	}
	uint8_t added = (uint8_t)(v & ~old);
	if (added == 0)
		return;
	uint8_t s = (uint8_t)(old | added);

	if (added & VTIO_STATUS_FEATURES_OK) {
		if (features_acceptable(dev, s)) {
			dev->features = dev->driver_features; /* FEAT-DEV-8 */
		} else {
			s = (uint8_t)(s & ~VTIO_STATUS_FEATURES_OK);
			added = (uint8_t)(added & ~VTIO_STATUS_FEATURES_OK);
			dev->stats.features_refused++;
		}
	}
	dev->status = s;
	if ((added & VTIO_STATUS_DRIVER_OK) && !(s & VTIO_STATUS_FEATURES_OK)) {
		/* DRIVER_OK with nothing negotiated: nothing can run. */
		dev->stats.protocol_errors++;
		vtio_dev_needs_reset(dev);
		return;
	}
	if (added & VTIO_STATUS_FAILED) {
		for (uint16_t i = 0; i < dev->num_queues; i++)
			queue_stop(dev, &dev->queues[i]);
		return;
	}
	if ((added & VTIO_STATUS_DRIVER_OK) && !(s & VTIO_STATUS_FAILED)) {
		/* NOTIF-DEV-1, seed 001: the device touches the rings only now. */
		for (uint16_t i = 0; i < dev->num_queues; i++) {
			struct vtio_dev_queue *q = &dev->queues[i];
			if (q->enabled && q->devq == NULL)
				queue_go_live(dev, q);
		}
		dev->ops.driver_ok(dev->ctx);
	}
}

uint32_t vtio_dev_get_features(const struct vtio_dev *dev, uint32_t word)
{
	return word < VTIO_DEV_FEATURE_WORDS ? (uint32_t)(dev->offered >> (32 * word)) : 0;
}

int vtio_dev_set_driver_features(struct vtio_dev *dev, uint32_t word, uint32_t value)
{
	uint8_t need = VTIO_STATUS_DRIVER;
	uint8_t mask = VTIO_STATUS_DRIVER | VTIO_STATUS_FEATURES_OK | VTIO_STATUS_FAILED;
	if ((dev->status & mask) != need || word >= VTIO_DEV_FEATURE_WORDS) {
		if (word < VTIO_DEV_FEATURE_WORDS || value != 0) {
			dev->stats.protocol_errors++; /* FEAT-DEV-8 */
			return VTIO_EPERM;
		}
		return 0; /* a zero word beyond 63 bits: nothing to store */
	}
	uint64_t m = (uint64_t)0xffffffffu << (32 * word);
	dev->driver_features = (dev->driver_features & ~m) | ((uint64_t)value << (32 * word));
	return 0;
}

uint32_t vtio_dev_get_driver_features(const struct vtio_dev *dev, uint32_t word)
{
	return word < VTIO_DEV_FEATURE_WORDS ? (uint32_t)(dev->driver_features >> (32 * word)) : 0;
}

/* ---- Config space --------------------------------------------------------------------------- */

static bool config_in_range(const struct vtio_dev *dev, uint32_t off, size_t len)
{
	return off <= dev->config_len && len <= (size_t)(dev->config_len - off);
}

int vtio_dev_config_read(const struct vtio_dev *dev, uint32_t off, void *dst, size_t len)
{
	if (!config_in_range(dev, off, len))
		return VTIO_ERANGE;
	if (len)
		VTIO_MEMCPY(dst, dev->config + off, len);
	return 0;
}

int vtio_dev_config_write(struct vtio_dev *dev, uint32_t off, const void *src, size_t len)
{
	if (!config_in_range(dev, off, len))
		return VTIO_ERANGE;
	uint8_t s = dev->status;
	if ((s & VTIO_STATUS_FAILED) ||
	    ((s & VTIO_STATUS_DRIVER) && !(s & VTIO_STATUS_FEATURES_OK))) {
		dev->stats.protocol_errors++; /* INIT-DRV-2 */
		return VTIO_EPERM;
	}
	if (len)
		VTIO_MEMCPY(dev->config + off, src, len);
	return dev->ops.config_written(dev->ctx, off, len);
}

int vtio_dev_config_set(struct vtio_dev *dev, uint32_t off, const void *src, size_t len)
{
	if (!config_in_range(dev, off, len))
		return VTIO_ERANGE;
	if (len)
		VTIO_MEMCPY(dev->config + off, src, len);
	vtio_dev_config_changed(dev);
	return 0;
}

/* ---- Queue registers ------------------------------------------------------------------------ */

uint32_t vtio_dev_queue_max(const struct vtio_dev *dev, uint16_t index)
{
	return index < dev->num_queues ? dev->queues[index].max : 0;
}

/* Queue registers are writable after FEATURES_OK (the layout is known) and
 * before DRIVER_OK (INIT-DRV-12), or for a queue reset under DRIVER_OK
 * (RESET-DEV-5); never after FAILED. */
static int queue_writable(struct vtio_dev *dev, const struct vtio_dev_queue *q)
{
	uint8_t s = dev->status;
	if (q->enabled)
		return VTIO_EBUSY; /* read-only until a reset, whatever the phase */
	if (!(s & VTIO_STATUS_FEATURES_OK) || (s & VTIO_STATUS_FAILED) ||
	    ((s & VTIO_STATUS_DRIVER_OK) && !q->reset_done)) {
		dev->stats.protocol_errors++;
		return VTIO_EPERM;
	}
	return 0;
}

int vtio_dev_queue_set(struct vtio_dev *dev, uint16_t index, const struct vtio_transport_queue *q)
{
	if (index >= dev->num_queues)
		return VTIO_ENODEV;
	struct vtio_dev_queue *dq = &dev->queues[index];
	int err = queue_writable(dev, dq);
	if (err)
		return err;
	if (q->num == 0 || q->num > dq->max)
		return VTIO_ERANGE;
	if (!(dev->features & VTIO_FEATURE(VTIO_F_RING_PACKED)) && (q->num & (q->num - 1)) != 0)
		return VTIO_EINVAL;
	dq->reg = *q;
	return 0;
}

int vtio_dev_queue_get(const struct vtio_dev *dev, uint16_t index, struct vtio_transport_queue *out)
{
	if (index >= dev->num_queues)
		return VTIO_ENODEV;
	*out = dev->queues[index].reg;
	return 0;
}

int vtio_dev_queue_enable(struct vtio_dev *dev, uint16_t index)
{
	if (index >= dev->num_queues)
		return VTIO_ENODEV;
	struct vtio_dev_queue *q = &dev->queues[index];
	int err = queue_writable(dev, q);
	if (err)
		return err;
	if (q->reg.num == 0)
		return VTIO_EINVAL;
	q->enabled = true;
	q->reset_done = false; /* MMIO-DEV-8 */
	if (running(dev))
		queue_go_live(dev, q); /* re-enable after a queue reset: RESET-DEV-5 */
	return 0;
}

int vtio_dev_queue_disable(struct vtio_dev *dev, uint16_t index)
{
	if (index >= dev->num_queues)
		return VTIO_ENODEV;
	struct vtio_dev_queue *q = &dev->queues[index];
	queue_stop(dev, q); /* MMIO-DEV-6: no ring access with QueueReady 0 */
	q->enabled = false;
	return 0;
}

bool vtio_dev_queue_ready(const struct vtio_dev *dev, uint16_t index)
{
	return index < dev->num_queues && dev->queues[index].enabled;
}

int vtio_dev_queue_reset(struct vtio_dev *dev, uint16_t index)
{
	if (!(dev->features & VTIO_FEATURE(VTIO_F_RING_RESET)))
		return VTIO_ENOTSUP; /* RESET-DRV-6: the register exists only then */
	if (index >= dev->num_queues)
		return VTIO_ENODEV;
	struct vtio_dev_queue *q = &dev->queues[index];
	queue_clear(dev, q); /* RESET-DEV-3, RESET-DEV-4, MMIO-DEV-9 */
	q->reset_done = true;
	dev->stats.queue_resets++;
	return 0;
}

/* ---- Notifications from the driver ----------------------------------------------------------- */

int vtio_dev_notify(struct vtio_dev *dev, uint32_t data)
{
	/* With NOTIFICATION_DATA the low 16 bits are the queue index; without
	 * it the whole value is, and anything above 16 bits names no queue. */
	uint32_t index =
	    (dev->features & VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA)) ? (data & 0xffffu) : data;
	if (index >= dev->num_queues) {
		dev->stats.kicks_invalid++;
		return VTIO_EINVAL;
	}
	struct vtio_dev_queue *q = &dev->queues[index];
	if (!running(dev) || q->devq == NULL) {
		dev->stats.kicks_dropped++; /* NOTIF-DEV-1, RESET-DEV-3 */
		return 0;
	}
	dev->stats.kicks++;
	int err = dev->ops.kick(dev->ctx, (uint16_t)index, data);
	(void)vtio_dev_check_queue(dev, (uint16_t)index);
	return err;
}

/* ---- Device side ------------------------------------------------------------------------------
 */

struct vtio_devq *vtio_dev_devq(const struct vtio_dev *dev, uint16_t index)
{
	return index < dev->num_queues ? dev->queues[index].devq : NULL;
}

bool vtio_dev_check_queue(struct vtio_dev *dev, uint16_t index)
{
	struct vtio_devq *d = vtio_dev_devq(dev, index);
	if (d == NULL || !vtio_devq_is_broken(d))
		return false;
	vtio_dev_needs_reset(dev); /* INIT-DEV-3 */
	return true;
}

void vtio_dev_get_stats(const struct vtio_dev *dev, struct vtio_dev_stats *out)
{
	*out = dev->stats;
}

/* ---- Setup -------------------------------------------------------------------------------------
 */

static bool offer_valid(uint64_t f)
{
	return (f & VTIO_FEATURE(VTIO_F_VERSION_1)) && !(f & NEVER_OFFERED); /* FEAT-DEV-3, -5 */
}

int vtio_dev_init(struct vtio_dev *dev, void *storage, size_t storage_size,
		  const struct vtio_dev_config *cfg)
{
	if (!dev || !cfg || (cfg->config_len && !cfg->config) || !offer_valid(cfg->features))
		return VTIO_EINVAL;
	size_t need = vtio_dev_storage_size(cfg->num_queues, cfg->queue_max);
	if (need == 0 || !storage || storage_size < need || ((uintptr_t)storage & 15u) != 0)
		return VTIO_EINVAL;
	if (cfg->queue_max_per) {
		for (uint16_t i = 0; i < cfg->num_queues; i++)
			if (cfg->queue_max_per[i] == 0 || cfg->queue_max_per[i] > cfg->queue_max)
				return VTIO_EINVAL;
	}
	VTIO_MEMSET(dev, 0, sizeof(*dev));
	dev->ops.features_ok = def_features_ok;
	dev->ops.queue_state = def_queue_state;
	dev->ops.reset = def_void;
	dev->ops.config_written = def_config_written;
	dev->ops.kick = def_kick;
	dev->ops.driver_ok = def_void;
	const struct vtio_dev_ops *o = cfg->ops;
	if (o) {
		if (o->features_ok)
			dev->ops.features_ok = o->features_ok;
		if (o->queue_state)
			dev->ops.queue_state = o->queue_state;
		if (o->reset)
			dev->ops.reset = o->reset;
		if (o->config_written)
			dev->ops.config_written = o->config_written;
		if (o->kick)
			dev->ops.kick = o->kick;
		if (o->driver_ok)
			dev->ops.driver_ok = o->driver_ok;
	}
	dev->ctx = cfg->ctx;
	dev->tr = unbound_ops;
	dev->mem = cfg->mem;
	dev->config = (unsigned char *)cfg->config;
	dev->config_len = cfg->config_len;
	dev->device_id = cfg->device_id;
	dev->vendor_id = cfg->vendor_id ? cfg->vendor_id : VTIO_DEV_DEFAULT_VENDOR_ID;
	dev->offered = cfg->features;
	dev->queue_max = cfg->queue_max;
	dev->devq_flags = cfg->devq_flags;
	dev->max_indirect = cfg->max_indirect;
	dev->num_queues = cfg->num_queues;
	dev->devq_stride = devq_max_state(cfg->queue_max);
	unsigned char *base = (unsigned char *)storage;
	VTIO_MEMSET(base, 0, need);
	dev->queues = (struct vtio_dev_queue *)(void *)base;
	unsigned char *states = base + align16(sizeof(struct vtio_dev_queue) * dev->num_queues);
	for (uint16_t i = 0; i < dev->num_queues; i++) {
		struct vtio_dev_queue *q = &dev->queues[i];
		q->dev = dev;
		q->index = i;
		q->max = cfg->queue_max_per ? cfg->queue_max_per[i] : cfg->queue_max;
		q->devq_state = states + dev->devq_stride * i;
	}
	dev->status = 0; /* INIT-DEV-1 */
	return 0;
}

int vtio_dev_set_offer(struct vtio_dev *dev, uint64_t features)
{
	if (dev->bound)
		return VTIO_EBUSY;
	if (!offer_valid(features))
		return VTIO_EINVAL;
	dev->offered = features;
	return 0;
}

int vtio_dev_bind(struct vtio_dev *dev, const struct vtio_dev_transport_ops *ops, void *ctx)
{
	if (!ops)
		return VTIO_EINVAL;
	if (dev->bound)
		return VTIO_EBUSY;
	uint64_t carried = VTIO_FEATURES_RING | ops->extra_features;
	if (dev->offered & VTIO_FEATURES_TRANSPORT_RANGE & ~carried)
		return VTIO_EINVAL; /* FEAT-DEV-3, FEAT-DEV-7 */
	dev->tr.name = ops->name ? ops->name : "transport";
	dev->tr.extra_features = ops->extra_features;
	dev->tr.vq_irq = ops->vq_irq ? ops->vq_irq : def_vq_irq;
	dev->tr.config_irq = ops->config_irq ? ops->config_irq : def_void;
	dev->tr_ctx = ctx;
	dev->bound = true;
	return 0;
}

void vtio_dev_set_mem(struct vtio_dev *dev, const struct vtio_mem *mem)
{
	dev->mem = mem;
}

int vtio_dev_queue_set_mem(struct vtio_dev *dev, uint16_t index, const struct vtio_mem *mem)
{
	if (index >= dev->num_queues)
		return VTIO_ENODEV;
	struct vtio_dev_queue *q = &dev->queues[index];
	if (q->devq != NULL)
		return VTIO_EBUSY;
	q->mem = mem;
	return 0;
}

/* ---- Feature mediation (pure) ---------------------------------------------------------- */

int vtio_dev_mediate_features(const struct vtio_dev_mediation *m, uint64_t *out)
{
	if (!m || !out)
		return VTIO_EINVAL;
	const uint64_t v1 = VTIO_FEATURE(VTIO_F_VERSION_1);
	*out = 0;
	if (!(m->far & v1) || !(m->peer & v1))
		return VTIO_ENOTSUP;
	const uint64_t range = VTIO_FEATURES_TRANSPORT_RANGE;
	const bool through = (m->flags & VTIO_DEV_MEDIATE_RING_THROUGH) != 0;
	/* Device-type bits: forwarded requests, so both parties must have them. */
	uint64_t r = m->far & m->peer & m->type_mask & ~range;
	/* Ring capabilities: per ring. */
	uint64_t caps = m->link & m->peer & VTIO_FEATURES_RING_CAPS;
	if (through)
		caps &= m->far;
	r |= caps;
	/* Platform requirements: of the link, plus the far device's when the
	 * ring (and so its memory access) is passed through. */
	uint64_t plat = (through ? (m->far | m->link) : m->link) & m->peer & VTIO_FEATURES_PLATFORM;
	r |= plat;
	/* Everything else of 24..49 belongs to link L alone. */
	uint64_t other = range & ~VTIO_FEATURES_RING;
	r |= m->link & m->peer & other & ~NEVER_OFFERED;
	*out = r | v1;
	return 0;
}

#endif /* VTIO_CONFIG_DEVICE */
