/* virtio-mmio (version 2) register model over the device core. */
#include "vtio/transport/mmio_dev.h"

#if VTIO_CONFIG_DEVICE /* the device role */

struct vtio_mmio_dev_queue {
	struct vtio_transport_queue reg; /* QueueNum and the area registers as written */
};

size_t vtio_mmio_dev_storage_size(uint16_t num_queues)
{
	return (size_t)num_queues * sizeof(struct vtio_mmio_dev_queue);
}

/* ---- Interrupt status: the core's notifications set it, InterruptACK clears it ---------- */

static void isr_raise(struct vtio_mmio_dev *m, uint32_t bit)
{
	VTIO_LOCK(&m->isr_lock);
	uint32_t old = m->isr;
	VTIO_WRITE_ONCE32(&m->isr, old | bit);
	if (!old) {
		m->stats.irq_raised++;
		if (m->ops.irq_line)
			m->ops.irq_line(m->ctx, true);
	}
	VTIO_UNLOCK(&m->isr_lock);
}

static void isr_clear(struct vtio_mmio_dev *m, uint32_t bits)
{
	VTIO_LOCK(&m->isr_lock);
	uint32_t old = m->isr;
	uint32_t now = old & ~bits;
	VTIO_WRITE_ONCE32(&m->isr, now);
	if (old && !now && m->ops.irq_line)
		m->ops.irq_line(m->ctx, false);
	VTIO_UNLOCK(&m->isr_lock);
}

static int tr_vq_irq(void *ctx, uint16_t index)
{
	(void)index; /* one bit for every queue (MMIO-DRV-18) */
	isr_raise((struct vtio_mmio_dev *)ctx, VTIO_MMIO_INT_VRING);
	return 0;
}

static void tr_config_irq(void *ctx)
{
	isr_raise((struct vtio_mmio_dev *)ctx, VTIO_MMIO_INT_CONFIG);
}

static const struct vtio_dev_transport_ops mmio_dev_tr_ops = {
    .name = "virtio-mmio",
    .extra_features = 0, /* no SR_IOV, NOTIF_CONFIG_DATA, ADMIN_VQ on MMIO */
    .vq_irq = tr_vq_irq,
    .config_irq = tr_config_irq,
};

/* ---- Setup ------------------------------------------------------------------------------------
 */

int vtio_mmio_dev_init(struct vtio_mmio_dev *m, void *storage, size_t storage_size,
		       const struct vtio_mmio_dev_config *c)
{
	if (!m || !c || !c->dev || (c->num_shm && !c->shm))
		return VTIO_EINVAL;
	uint16_t nq = vtio_dev_num_queues(c->dev);
	size_t need = vtio_mmio_dev_storage_size(nq);
	if (need && (!storage || storage_size < need || ((uintptr_t)storage & 7u)))
		return VTIO_EINVAL;
	VTIO_MEMSET(m, 0, sizeof(*m));
	m->dev = c->dev;
	if (c->ops)
		m->ops = *c->ops;
	m->ctx = c->ctx;
	m->shm = c->shm;
	m->num_shm = c->num_shm;
	m->queues = (struct vtio_mmio_dev_queue *)storage;
	m->num_queues = nq;
	if (need)
		VTIO_MEMSET(storage, 0, need);
	VTIO_LOCK_INIT(&m->isr_lock);
	return vtio_dev_bind(c->dev, &mmio_dev_tr_ops, m);
}

void vtio_mmio_dev_get_stats(const struct vtio_mmio_dev *m, struct vtio_mmio_dev_stats *out)
{
	*out = m->stats;
}

/* ---- Register file ----------------------------------------------------------------------------
 */

/* The access is refused: classify and count it. */
static int refuse(struct vtio_mmio_dev *m, uint32_t off, bool write)
{
	if (vtio_mmio_reg_access(off) & (write ? VTIO_MMIO_REG_R : VTIO_MMIO_REG_W)) {
		m->stats.bad_direction++;
		return VTIO_EPERM;
	}
	m->stats.bad_offset++;
	return VTIO_ERANGE;
}

static bool width_ok(uint32_t off, unsigned width)
{
	if (width != 1 && width != 2 && width != 4)
		return false;
	if (off & (width - 1u))
		return false;
	return off >= VTIO_MMIO_CONFIG || width == 4; /* MMIO-DRV-2 */
}

/* Selected queue as an index of the core, or -1. */
static int32_t sel_queue(const struct vtio_mmio_dev *m)
{
	return m->queue_sel < m->num_queues ? (int32_t)m->queue_sel : -1;
}

static uint64_t shm_field(const struct vtio_mmio_dev *m, bool base)
{
	if (m->shm_sel >= m->num_shm)
		return UINT64_MAX; /* MMIO-DEV-10: no such region */
	return base ? m->shm[m->shm_sel].base : m->shm[m->shm_sel].len;
}

static uint32_t reg_read(struct vtio_mmio_dev *m, uint32_t off)
{
	int32_t q = sel_queue(m);
	switch (off) {
	case VTIO_MMIO_MAGIC_VALUE:
		return VTIO_MMIO_MAGIC; /* MMIO-DEV-1 */
	case VTIO_MMIO_VERSION:
		return 2; /* MMIO-DEV-2 */
	case VTIO_MMIO_DEVICE_ID:
		return vtio_dev_device_id(m->dev);
	case VTIO_MMIO_VENDOR_ID:
		return vtio_dev_vendor_id(m->dev);
	case VTIO_MMIO_DEVICE_FEATURES:
		return vtio_dev_get_features(m->dev, m->dev_features_sel);
	case VTIO_MMIO_QUEUE_NUM_MAX:
		return q < 0 ? 0 : vtio_dev_queue_max(m->dev, (uint16_t)q);
	case VTIO_MMIO_QUEUE_READY:
		return q < 0 ? 0 : (uint32_t)vtio_dev_queue_ready(m->dev, (uint16_t)q);
	case VTIO_MMIO_INTERRUPT_STATUS:
		return VTIO_READ_ONCE32(&m->isr);
	case VTIO_MMIO_STATUS:
		return vtio_dev_get_status(m->dev);
	case VTIO_MMIO_SHM_LEN_LOW:
		return (uint32_t)shm_field(m, false);
	case VTIO_MMIO_SHM_LEN_HIGH:
		return (uint32_t)(shm_field(m, false) >> 32);
	case VTIO_MMIO_SHM_BASE_LOW:
		return (uint32_t)shm_field(m, true);
	case VTIO_MMIO_SHM_BASE_HIGH:
		return (uint32_t)(shm_field(m, true) >> 32);
	case VTIO_MMIO_QUEUE_RESET:
		/* The core completes a queue reset before the write returns, so
		 * this never reads 1 (MMIO-DEV-7..9). */
		return 0;
	default: /* VTIO_MMIO_CONFIG_GENERATION */
		return vtio_dev_config_generation(m->dev);
	}
}

int vtio_mmio_dev_read(struct vtio_mmio_dev *m, uint32_t off, unsigned width, uint32_t *val)
{
	*val = 0;
	m->stats.reads++;
	if (!width_ok(off, width)) {
		m->stats.bad_width++;
		return VTIO_EINVAL;
	}
	if (off >= VTIO_MMIO_CONFIG) {
		unsigned char b[4];
		if (vtio_dev_config_read(m->dev, off - VTIO_MMIO_CONFIG, b, width)) {
			m->stats.bad_offset++;
			return VTIO_ERANGE;
		}
		uint32_t v = 0;
		for (unsigned i = 0; i < width; i++)
			v |= (uint32_t)b[i] << (8 * i); /* config bytes are little-endian */
		*val = v;
		return 0;
	}
	if (!(vtio_mmio_reg_access(off) & VTIO_MMIO_REG_R))
		return refuse(m, off, false);
	*val = reg_read(m, off);
	return 0;
}

/* The shadow register a queue-register write lands in (NULL: refused). */
static struct vtio_mmio_dev_queue *queue_shadow(struct vtio_mmio_dev *m)
{
	int32_t q = sel_queue(m);
	/* MMIO-DRV-10: the registers of an enabled queue do not change. */
	if (q < 0 || vtio_dev_queue_ready(m->dev, (uint16_t)q)) {
		m->stats.refused++;
		return NULL;
	}
	return &m->queues[q];
}

static void set_low(uint64_t *r, uint32_t v)
{
	*r = (*r & ~(uint64_t)0xffffffffu) | v;
}

static void set_high(uint64_t *r, uint32_t v)
{
	*r = (*r & 0xffffffffu) | ((uint64_t)v << 32);
}

static void queue_ready_write(struct vtio_mmio_dev *m, uint32_t v)
{
	int32_t q = sel_queue(m);
	if (q < 0 || v > 1) {
		m->stats.refused++;
		return;
	}
	uint16_t index = (uint16_t)q;
	bool ready = vtio_dev_queue_ready(m->dev, index);
	if (v == 0) {
		if (ready)
			(void)vtio_dev_queue_disable(m->dev, index); /* MMIO-DRV-11 */
		return;
	}
	if (ready)
		return;
	int err = vtio_dev_queue_set(m->dev, index, &m->queues[index].reg);
	if (!err)
		err = vtio_dev_queue_enable(m->dev, index);
	if (err)
		m->stats.refused++; /* QueueReady keeps reading 0 */
}

static void model_reset(struct vtio_mmio_dev *m)
{
	/* MMIO-DEV-4: InterruptStatus and every queue register back to 0 (the
	 * core cleared QueueReady); the selects too. */
	if (m->num_queues)
		VTIO_MEMSET(m->queues, 0, vtio_mmio_dev_storage_size(m->num_queues));
	m->dev_features_sel = 0;
	m->drv_features_sel = 0;
	m->queue_sel = 0;
	m->shm_sel = 0;
	isr_clear(m, ~0u);
}

static int reg_write(struct vtio_mmio_dev *m, uint32_t off, uint32_t v)
{
	struct vtio_mmio_dev_queue *s;
	switch (off) {
	case VTIO_MMIO_DEVICE_FEATURES_SEL:
		m->dev_features_sel = v;
		return 0;
	case VTIO_MMIO_DRIVER_FEATURES_SEL:
		m->drv_features_sel = v;
		return 0;
	case VTIO_MMIO_DRIVER_FEATURES:
		if (vtio_dev_set_driver_features(m->dev, m->drv_features_sel, v))
			m->stats.refused++;
		return 0;
	case VTIO_MMIO_QUEUE_SEL:
		m->queue_sel = v;
		return 0;
	case VTIO_MMIO_QUEUE_READY:
		queue_ready_write(m, v);
		return 0;
	case VTIO_MMIO_QUEUE_NOTIFY:
		return vtio_dev_notify(m->dev, v);
	case VTIO_MMIO_INTERRUPT_ACK:
		/* MMIO-DRV-13: undefined bits mean nothing; the defined ones clear. */
		isr_clear(m, v & (VTIO_MMIO_INT_VRING | VTIO_MMIO_INT_CONFIG));
		return 0;
	case VTIO_MMIO_STATUS:
		vtio_dev_set_status(m->dev, (uint8_t)v);
		if ((uint8_t)v == 0)
			model_reset(m);
		return 0;
	case VTIO_MMIO_SHM_SEL:
		m->shm_sel = v;
		return 0;
	case VTIO_MMIO_QUEUE_RESET: {
		int32_t q = sel_queue(m);
		if (q < 0 || v != 1 || vtio_dev_queue_reset(m->dev, (uint16_t)q)) {
			m->stats.refused++;
			return 0;
		}
		VTIO_MEMSET(&m->queues[q], 0, sizeof(m->queues[q]));
		return 0;
	}
	default:
		break;
	}
	/* Queue size and area registers. */
	s = queue_shadow(m);
	if (!s)
		return 0;
	switch (off) {
	case VTIO_MMIO_QUEUE_NUM:
		s->reg.num = v; /* checked against the maximum when the queue is enabled */
		break;
	case VTIO_MMIO_QUEUE_DESC_LOW:
		set_low(&s->reg.desc_addr, v);
		break;
	case VTIO_MMIO_QUEUE_DESC_HIGH:
		set_high(&s->reg.desc_addr, v);
		break;
	case VTIO_MMIO_QUEUE_AVAIL_LOW:
		set_low(&s->reg.driver_addr, v);
		break;
	case VTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_high(&s->reg.driver_addr, v);
		break;
	case VTIO_MMIO_QUEUE_USED_LOW:
		set_low(&s->reg.device_addr, v);
		break;
	default: /* VTIO_MMIO_QUEUE_USED_HIGH */
		set_high(&s->reg.device_addr, v);
		break;
	}
	return 0;
}

int vtio_mmio_dev_write(struct vtio_mmio_dev *m, uint32_t off, unsigned width, uint32_t val)
{
	m->stats.writes++;
	if (!width_ok(off, width)) {
		m->stats.bad_width++;
		return VTIO_EINVAL;
	}
	if (off >= VTIO_MMIO_CONFIG) {
		unsigned char b[4];
		uint32_t c = off - VTIO_MMIO_CONFIG;
		for (unsigned i = 0; i < width; i++)
			b[i] = (unsigned char)(val >> (8 * i));
		if (c >= vtio_dev_config_len(m->dev) || width > vtio_dev_config_len(m->dev) - c) {
			m->stats.bad_offset++;
			return VTIO_ERANGE;
		}
		return vtio_dev_config_write(m->dev, c, b, width);
	}
	if (!(vtio_mmio_reg_access(off) & VTIO_MMIO_REG_W))
		return refuse(m, off, true);
	return reg_write(m, off, val);
}

#endif /* VTIO_CONFIG_DEVICE */
