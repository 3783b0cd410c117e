/* Loopback transport: the driver-side ops table wired straight into a device
 * core in the same process. No virtio rule lives here (see dev_core.c). */
#include "vtio/transport/loopback.h"

#if VTIO_CONFIG_DEVICE

static struct vtio_dev *dev_of(struct vtio_transport *t)
{
	return &((struct vtio_loopback *)t->priv)->dev;
}

/* ---- Driver side: transport ops -> device core wire-side calls --------------------- */

static uint8_t lb_get_status(struct vtio_transport *t)
{
	return vtio_dev_get_status(dev_of(t));
}

static void lb_set_status(struct vtio_transport *t, uint8_t v)
{
	vtio_dev_set_status(dev_of(t), v);
}

static uint32_t lb_get_features(struct vtio_transport *t, uint32_t word)
{
	return vtio_dev_get_features(dev_of(t), word);
}

static void lb_set_features(struct vtio_transport *t, uint32_t word, uint32_t value)
{
	/* A register write: the driver learns nothing from a refusal. */
	(void)vtio_dev_set_driver_features(dev_of(t), word, value);
}

static int lb_config_read(struct vtio_transport *t, uint32_t off, void *dst, size_t len)
{
	return vtio_dev_config_read(dev_of(t), off, dst, len);
}

static int lb_config_write(struct vtio_transport *t, uint32_t off, const void *src, size_t len)
{
	return vtio_dev_config_write(dev_of(t), off, src, len);
}

static uint32_t lb_config_generation(struct vtio_transport *t)
{
	return vtio_dev_config_generation(dev_of(t));
}

static uint32_t lb_queue_max(struct vtio_transport *t, uint16_t index)
{
	return vtio_dev_queue_max(dev_of(t), index);
}

static int lb_queue_setup(struct vtio_transport *t, uint16_t index,
			  const struct vtio_transport_queue *r)
{
	return vtio_dev_queue_set(dev_of(t), index, r);
}

static int lb_queue_enable(struct vtio_transport *t, uint16_t index)
{
	return vtio_dev_queue_enable(dev_of(t), index);
}

static int lb_queue_reset(struct vtio_transport *t, uint16_t index)
{
	return vtio_dev_queue_reset(dev_of(t), index);
}

static int lb_notify(struct vtio_transport *t, uint32_t data)
{
	return vtio_dev_notify(dev_of(t), data);
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

/* ---- Device side: device core notifications -> driver interrupt handlers ------------ */

static int lb_vq_irq(void *ctx, uint16_t index)
{
	vtio_transport_irq_vq((struct vtio_transport *)ctx, index);
	return 0;
}

static void lb_config_irq(void *ctx)
{
	vtio_transport_irq_config((struct vtio_transport *)ctx);
}

static const struct vtio_dev_transport_ops loopback_dev_ops = {
    .name = "loopback",
    .extra_features = 0,
    .vq_irq = lb_vq_irq,
    .config_irq = lb_config_irq,
};

/* ---- Public API ------------------------------------------------------------------------ */

size_t vtio_loopback_storage_size(uint16_t num_queues, uint32_t queue_max)
{
	return vtio_dev_storage_size(num_queues, queue_max);
}

int vtio_loopback_init(struct vtio_loopback *lb, void *storage, size_t storage_size,
		       const struct vtio_loopback_config *cfg)
{
	if (!lb || !cfg || !cfg->mem)
		return VTIO_EINVAL;
	struct vtio_dev_ops ops;
	VTIO_MEMSET(&ops, 0, sizeof(ops));
	if (cfg->dev) {
		ops.features_ok = cfg->dev->features_ok;
		ops.queue_state = cfg->dev->queue_state;
		ops.reset = cfg->dev->reset;
		ops.config_written = cfg->dev->config_written;
		ops.kick = cfg->dev->kick;
	}
	struct vtio_dev_config dc;
	VTIO_MEMSET(&dc, 0, sizeof(dc));
	dc.features = cfg->device_features;
	dc.num_queues = cfg->num_queues;
	dc.queue_max = cfg->queue_max;
	dc.mem = cfg->mem;
	dc.config = cfg->config;
	dc.config_len = cfg->config_len;
	dc.ops = &ops; /* resolved into the device core, need not outlive the call */
	dc.ctx = cfg->dev_ctx;
	dc.devq_flags = cfg->devq_flags;
	dc.max_indirect = cfg->max_indirect;
	VTIO_MEMSET(lb, 0, sizeof(*lb));
	int err = vtio_dev_init(&lb->dev, storage, storage_size, &dc);
	if (err)
		return err;
	err = vtio_transport_init(&lb->tr, &loopback_ops, lb);
	if (err)
		return err;
	return vtio_dev_bind(&lb->dev, &loopback_dev_ops, &lb->tr);
}

struct vtio_devq *vtio_loopback_devq(struct vtio_loopback *lb, uint16_t index)
{
	return vtio_dev_devq(&lb->dev, index);
}

void vtio_loopback_config_changed(struct vtio_loopback *lb)
{
	vtio_dev_config_changed(&lb->dev);
}

void vtio_loopback_needs_reset(struct vtio_loopback *lb)
{
	vtio_dev_needs_reset(&lb->dev);
}

void vtio_loopback_get_stats(const struct vtio_loopback *lb, struct vtio_loopback_stats *out)
{
	struct vtio_dev_stats s;
	vtio_dev_get_stats(&lb->dev, &s);
	VTIO_MEMSET(out, 0, sizeof(*out));
	out->kicks = s.kicks;
	out->kicks_dropped = s.kicks_dropped;
	out->irqs = s.irqs;
	out->irqs_dropped = s.irqs_dropped;
	out->config_irqs = s.config_irqs;
	out->resets = s.resets;
	out->queue_resets = s.queue_resets;
}

#endif /* VTIO_CONFIG_DEVICE */
