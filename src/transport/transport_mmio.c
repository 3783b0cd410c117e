/* virtio-mmio (version 2) driver transport over register-access hooks. */
#include "vtio/transport/mmio.h"

#if VTIO_CONFIG_DRIVER /* the driver role */

VTIO_STATIC_ASSERT(VTIO_MMIO_MAX_QUEUES % 32u == 0 && VTIO_MMIO_MAX_QUEUES > 0 &&
		       VTIO_MMIO_MAX_QUEUES <= 65536u,
		   "VTIO_MMIO_MAX_QUEUES: a non-zero multiple of 32, at most 65536");

/* ---- Default hooks: a mapped register window ----------------------------------------------- */

/* Through uintptr_t: the window is device memory, its alignment is the
 * platform's business (every offset the transport uses is aligned to the
 * access width). */
static volatile void *win_at(void *ctx, uint32_t off)
{
	return (volatile void *)((uintptr_t)ctx + off);
}

static int win_read(void *ctx, uint32_t off, unsigned width, uint32_t *val)
{
	uint32_t v;
	switch (width) {
	case 1:
		v = *(volatile uint8_t *)win_at(ctx, off);
		break;
	case 2:
		v = vtio_le16(*(volatile uint16_t *)win_at(ctx, off));
		break;
	case 4:
		v = vtio_le32(*(volatile uint32_t *)win_at(ctx, off));
		break;
	default:
		return VTIO_EINVAL;
	}
	/* Ring reads after a register read (InterruptStatus) see what the
	 * device wrote before it raised the bit. */
	VTIO_DMA_RMB();
	*val = v;
	return 0;
}

static int win_write(void *ctx, uint32_t off, unsigned width, uint32_t val)
{
	/* Ring writes are visible before the register write (QueueNotify, QueueReady). */
	VTIO_DMA_WMB();
	switch (width) {
	case 1:
		*(volatile uint8_t *)win_at(ctx, off) = (uint8_t)val;
		return 0;
	case 2:
		*(volatile uint16_t *)win_at(ctx, off) = vtio_le16((uint16_t)val);
		return 0;
	case 4:
		*(volatile uint32_t *)win_at(ctx, off) = vtio_le32(val);
		return 0;
	default:
		return VTIO_EINVAL;
	}
}

const struct vtio_mmio_ops vtio_mmio_window_ops = {
    .name = "mmio-window",
    .read = win_read,
    .write = win_write,
};

/* ---- Register access with error latching --------------------------------------------------- */

static struct vtio_mmio *mm_of(struct vtio_transport *t)
{
	return (struct vtio_mmio *)t->priv;
}

static void latch(struct vtio_mmio *m, int err)
{
	if (!m->err)
		m->err = err;
}

/* A failed read yields 0: status 0 ends a reset poll, feature word 0
 * offers nothing, QueueSizeMax 0 is "no queue"; the latched error is what
 * the caller then gets from every op that can return one. */
static uint32_t rd(struct vtio_mmio *m, uint32_t off)
{
	uint32_t v = 0;
	int err = m->ops->read(m->ctx, off, 4, &v);
	if (err) {
		latch(m, err);
		return 0;
	}
	return v;
}

static void wr(struct vtio_mmio *m, uint32_t off, uint32_t v)
{
	int err = m->ops->write(m->ctx, off, 4, v);
	if (err)
		latch(m, err);
}

static void wr64(struct vtio_mmio *m, uint32_t off_low, uint64_t v)
{
	wr(m, off_low, (uint32_t)v);
	wr(m, off_low + 4u, (uint32_t)(v >> 32));
}

static bool live_get(const struct vtio_mmio *m, uint16_t index)
{
	return (VTIO_READ_ONCE32(&m->live[index / 32u]) >> (index % 32u)) & 1u;
}

/* Only the serialised calls write the bitmap; vtio_mmio_irq() reads it
 * concurrently, hence the untorn accesses. */
static void live_set(struct vtio_mmio *m, uint16_t index, bool on)
{
	uint32_t w = VTIO_READ_ONCE32(&m->live[index / 32u]);
	uint32_t bit = (uint32_t)1 << (index % 32u);
	VTIO_WRITE_ONCE32(&m->live[index / 32u], on ? (w | bit) : (w & ~bit));
}

/* ---- Transport ops --------------------------------------------------------------------------- */

static uint8_t mm_get_status(struct vtio_transport *t)
{
	struct vtio_mmio *m = mm_of(t);
	uint8_t v = (uint8_t)rd(m, VTIO_MMIO_STATUS);
	/* FEATURES_OK was not written while an error is latched: a device that
	 * shows it anyway does not make the negotiation succeed. */
	if (m->err)
		v = (uint8_t)(v & ~VTIO_STATUS_FEATURES_OK);
	return v;
}

static uint32_t mm_get_features(struct vtio_transport *t, uint32_t word)
{
	struct vtio_mmio *m = mm_of(t);
	wr(m, VTIO_MMIO_DEVICE_FEATURES_SEL, word); /* MMIO-DRV-7 */
	return rd(m, VTIO_MMIO_DEVICE_FEATURES);
}

static void mm_set_features(struct vtio_transport *t, uint32_t word, uint32_t value)
{
	struct vtio_mmio *m = mm_of(t);
	wr(m, VTIO_MMIO_DRIVER_FEATURES_SEL, word); /* MMIO-DRV-8 */
	wr(m, VTIO_MMIO_DRIVER_FEATURES, value);
}

/* Last checks before FEATURES_OK is written: the offer read by the
 * negotiation still stands (a device whose features move under the driver
 * is not one it can agree with) and it is a modern one. */
static void features_ok_check(struct vtio_mmio *m)
{
	if (m->err)
		return;
	uint64_t again = 0;
	for (uint32_t w = 0; w < VTIO_TRANSPORT_FEATURE_WORDS; w++)
		again |= (uint64_t)mm_get_features(&m->tr, w) << (32 * w);
	if (m->err)
		return;
	if (again != m->tr.offered)
		latch(m, VTIO_EPROTO);
	else if (!(again & VTIO_FEATURE(VTIO_F_VERSION_1)))
		latch(m, VTIO_ENOTSUP);
}

static void mm_set_status(struct vtio_transport *t, uint8_t status)
{
	struct vtio_mmio *m = mm_of(t);
	if (status == 0) {
		/* A reset is the way out of any latched state, and clears
		 * every queue (MMIO-DEV-4). */
		m->err = 0;
		for (uint32_t i = 0; i < VTIO_MMIO_MAX_QUEUES / 32u; i++)
			VTIO_WRITE_ONCE32(&m->live[i], 0u);
	} else if ((status & VTIO_STATUS_FEATURES_OK) &&
		   !(status & (VTIO_STATUS_DRIVER_OK | VTIO_STATUS_FAILED))) {
		/* The FEATURES_OK step: refused (not written, so it does not
		 * read back) when something is latched. */
		features_ok_check(m);
		if (m->err)
			return;
	}
	wr(m, VTIO_MMIO_STATUS, status);
}

/* Config access per field (MMIO-DRV-3): 1, 2 or 4 naturally aligned bytes
 * are one access of that width, 8 bytes 4-aligned are two 32-bit accesses,
 * anything else is a byte array. */
static unsigned cfg_width(uint32_t off, size_t len, size_t pos)
{
	if (len == 8 && (off & 3u) == 0)
		return 4;
	if ((len == 4 || len == 2) && (off & (uint32_t)(len - 1)) == 0 && pos == 0)
		return (unsigned)len;
	return 1;
}

static int cfg_check(struct vtio_mmio *m, uint32_t off, size_t len)
{
	if (m->err)
		return m->err;
	uint32_t space = m->window_size - VTIO_MMIO_CONFIG;
	if (off > space || len > space - off)
		return VTIO_ERANGE;
	return 0;
}

static int mm_config_read(struct vtio_transport *t, uint32_t off, void *dst, size_t len)
{
	struct vtio_mmio *m = mm_of(t);
	int err = cfg_check(m, off, len);
	if (err)
		return err;
	unsigned char *d = (unsigned char *)dst;
	for (size_t pos = 0; pos < len;) {
		unsigned w = cfg_width(off, len, pos);
		uint32_t v = 0;
		err = m->ops->read(m->ctx, VTIO_MMIO_CONFIG + off + (uint32_t)pos, w, &v);
		if (err) {
			latch(m, err);
			return err;
		}
		/* Wire order (little-endian) whatever the CPU's. */
		for (unsigned i = 0; i < w; i++)
			d[pos + i] = (unsigned char)(v >> (8 * i));
		pos += w;
	}
	return 0;
}

static int mm_config_write(struct vtio_transport *t, uint32_t off, const void *src, size_t len)
{
	struct vtio_mmio *m = mm_of(t);
	int err = cfg_check(m, off, len);
	if (err)
		return err;
	const unsigned char *s = (const unsigned char *)src;
	for (size_t pos = 0; pos < len;) {
		unsigned w = cfg_width(off, len, pos);
		uint32_t v = 0;
		for (unsigned i = 0; i < w; i++)
			v |= (uint32_t)s[pos + i] << (8 * i);
		err = m->ops->write(m->ctx, VTIO_MMIO_CONFIG + off + (uint32_t)pos, w, v);
		if (err) {
			latch(m, err);
			return err;
		}
		pos += w;
	}
	return 0;
}

static uint32_t mm_config_generation(struct vtio_transport *t)
{
	return rd(mm_of(t), VTIO_MMIO_CONFIG_GENERATION);
}

static uint32_t queue_max_sel(struct vtio_mmio *m)
{
	uint32_t max = rd(m, VTIO_MMIO_QUEUE_NUM_MAX);
	/* Any size up to the device's maximum is allowed; no layout goes above 32768. */
	return max > VTIO_SPLIT_MAX_SIZE ? VTIO_SPLIT_MAX_SIZE : max;
}

static uint32_t mm_queue_max(struct vtio_transport *t, uint16_t index)
{
	struct vtio_mmio *m = mm_of(t);
	wr(m, VTIO_MMIO_QUEUE_SEL, index);
	return queue_max_sel(m);
}

/* Errors every queue op checks first: latched state, an index the
 * transport cannot track, a device that asked to be reset. */
static int queue_op_check(struct vtio_mmio *m, uint16_t index)
{
	if (m->err)
		return m->err;
	if (index >= VTIO_MMIO_MAX_QUEUES)
		return VTIO_ERANGE;
	uint32_t status = rd(m, VTIO_MMIO_STATUS);
	if (m->err)
		return m->err;
	if (status & VTIO_STATUS_DEVICE_NEEDS_RESET)
		return VTIO_EIO;
	return 0;
}

static int mm_queue_setup(struct vtio_transport *t, uint16_t index,
			  const struct vtio_transport_queue *q)
{
	struct vtio_mmio *m = mm_of(t);
	int err = queue_op_check(m, index);
	if (err)
		return err;
	if (q->num == 0)
		return VTIO_EINVAL;
	/* MMIO-DRV-19 order: select, QueueReady must be 0, maximum, size, areas. */
	wr(m, VTIO_MMIO_QUEUE_SEL, index);
	uint32_t ready = rd(m, VTIO_MMIO_QUEUE_READY);
	if (m->err)
		return m->err;
	if (ready) {
		/* MMIO-DRV-10: never touch a live queue's registers. */
		if (live_get(m, index))
			return VTIO_EBUSY;
		latch(m, VTIO_EPROTO); /* ready without having been enabled */
		return m->err;
	}
	uint32_t max = queue_max_sel(m);
	if (m->err)
		return m->err;
	if (max == 0)
		return VTIO_ENODEV;
	if (q->num > max)
		return VTIO_ERANGE; /* MMIO-DRV-9 */
	wr(m, VTIO_MMIO_QUEUE_NUM, q->num);
	wr64(m, VTIO_MMIO_QUEUE_DESC_LOW, q->desc_addr);
	wr64(m, VTIO_MMIO_QUEUE_AVAIL_LOW, q->driver_addr);
	wr64(m, VTIO_MMIO_QUEUE_USED_LOW, q->device_addr);
	return m->err;
}

/* Read register @p off (of the selected queue) until it reads @p want. */
static int poll_reg(struct vtio_mmio *m, uint32_t off, uint32_t want)
{
	for (uint32_t i = 0; i < VTIO_MMIO_POLLS; i++) {
		uint32_t v = rd(m, off);
		if (m->err)
			return m->err;
		if (v == want)
			return 0;
		VTIO_CPU_RELAX();
	}
	return VTIO_ETIMEDOUT;
}

static int mm_queue_enable(struct vtio_transport *t, uint16_t index)
{
	struct vtio_mmio *m = mm_of(t);
	int err = queue_op_check(m, index);
	if (err)
		return err;
	wr(m, VTIO_MMIO_QUEUE_SEL, index);
	wr(m, VTIO_MMIO_QUEUE_READY, 1);
	err = poll_reg(m, VTIO_MMIO_QUEUE_READY, 1);
	if (err)
		return err;
	live_set(m, index, true);
	return 0;
}

static int mm_queue_reset(struct vtio_transport *t, uint16_t index)
{
	struct vtio_mmio *m = mm_of(t);
	int err = queue_op_check(m, index);
	if (err)
		return err;
	wr(m, VTIO_MMIO_QUEUE_SEL, index);
	wr(m, VTIO_MMIO_QUEUE_RESET, 1);
	/* The handler stops being called for it whatever the device does next. */
	live_set(m, index, false);
	/* MMIO-DRV-14: not complete until QueueReset reads 0; then QueueReady
	 * reads 0 too (MMIO-DEV-9). */
	err = poll_reg(m, VTIO_MMIO_QUEUE_RESET, 0);
	if (err)
		return err;
	uint32_t ready = rd(m, VTIO_MMIO_QUEUE_READY);
	if (m->err)
		return m->err;
	return ready ? VTIO_EPROTO : 0;
}

static int mm_notify(struct vtio_transport *t, uint32_t data)
{
	struct vtio_mmio *m = mm_of(t);
	/* NOTIF-DRV-7: the queue index or the notification-data word, one
	 * 32-bit write. Not latched: this runs outside the serialised calls. */
	return m->ops->write(m->ctx, VTIO_MMIO_QUEUE_NOTIFY, 4, data);
}

static const struct vtio_transport_ops mm_ops = {
    .name = "virtio-mmio",
    .extra_features = 0, /* no SR_IOV / NOTIF_CONFIG_DATA / ADMIN_VQ on MMIO (MMIO-DRV-20) */
    .get_status = mm_get_status,
    .set_status = mm_set_status,
    .get_features = mm_get_features,
    .set_features = mm_set_features,
    .config_read = mm_config_read,
    .config_write = mm_config_write,
    .config_generation = mm_config_generation,
    .queue_max = mm_queue_max,
    .queue_setup = mm_queue_setup,
    .queue_enable = mm_queue_enable,
    .queue_reset = mm_queue_reset,
    .notify = mm_notify,
};

/* ---- Public API -------------------------------------------------------------------------------
 */

int vtio_mmio_init(struct vtio_mmio *m, const struct vtio_mmio_config *c)
{
	if (!m || !c)
		return VTIO_EINVAL;
	const struct vtio_mmio_ops *ops = c->ops ? c->ops : &vtio_mmio_window_ops;
	void *ctx = c->ops ? c->ctx : (void *)(uintptr_t)c->base;
	uint32_t window = c->window_size ? c->window_size : VTIO_MMIO_DEFAULT_WINDOW;
	if (!ops->read || !ops->write || (!c->ops && !c->base) || window < VTIO_MMIO_CONFIG ||
	    (window & 3u))
		return VTIO_EINVAL;
	VTIO_MEMSET(m, 0, sizeof(*m));
	m->ops = ops;
	m->ctx = ctx;
	m->window_size = window;

	/* MMIO-DRV-15: MagicValue, Version, DeviceID, in that order; nothing
	 * else is touched for a placeholder (DeviceID 0). */
	uint32_t v;
	int err = ops->read(ctx, VTIO_MMIO_MAGIC_VALUE, 4, &v);
	if (err)
		return err;
	if (v != VTIO_MMIO_MAGIC)
		return VTIO_EPROTO; /* MMIO-DRV-4 */
	err = ops->read(ctx, VTIO_MMIO_VERSION, 4, &v);
	if (err)
		return err;
	m->version = v;
	if (v == 1)
		return VTIO_ENOTSUP; /* legacy: never driven */
	if (v != 2)
		return VTIO_EPROTO; /* MMIO-DRV-5 */
	err = ops->read(ctx, VTIO_MMIO_DEVICE_ID, 4, &v);
	if (err)
		return err;
	m->device_id = v;
	if (v == 0)
		return VTIO_ENODEV; /* MMIO-DRV-6 */
	err = ops->read(ctx, VTIO_MMIO_VENDOR_ID, 4, &v);
	if (err)
		return err;
	m->vendor_id = v;
	return vtio_transport_init(&m->tr, &mm_ops, m);
}

int vtio_mmio_irq(struct vtio_mmio *m)
{
	uint32_t isr = 0;
	int err = m->ops->read(m->ctx, VTIO_MMIO_INTERRUPT_STATUS, 4, &isr);
	if (err)
		return err;
	/* MMIO-DRV-12 / -13: undefined bits are ignored and never acked. */
	isr &= VTIO_MMIO_INT_VRING | VTIO_MMIO_INT_CONFIG;
	if (!isr)
		return 0;
	err = m->ops->write(m->ctx, VTIO_MMIO_INTERRUPT_ACK, 4, isr);
	if (err)
		return err;
	if (isr & VTIO_MMIO_INT_VRING) {
		/* MMIO-DRV-18: one bit for every queue, so every live queue is checked. */
		for (uint32_t w = 0; w < VTIO_MMIO_MAX_QUEUES / 32u; w++) {
			uint32_t bits = VTIO_READ_ONCE32(&m->live[w]);
			for (uint32_t b = 0; bits; b++, bits >>= 1)
				if (bits & 1u)
					vtio_transport_irq_vq(&m->tr, (uint16_t)(w * 32u + b));
		}
	}
	if (isr & VTIO_MMIO_INT_CONFIG)
		vtio_transport_irq_config(&m->tr);
	return (int)isr;
}

int vtio_mmio_shm_region(struct vtio_mmio *m, uint32_t id, uint64_t *base, uint64_t *len)
{
	if (m->err)
		return m->err;
	wr(m, VTIO_MMIO_SHM_SEL, id);
	uint64_t l = rd(m, VTIO_MMIO_SHM_LEN_LOW);
	l |= (uint64_t)rd(m, VTIO_MMIO_SHM_LEN_HIGH) << 32;
	uint64_t b = rd(m, VTIO_MMIO_SHM_BASE_LOW);
	b |= (uint64_t)rd(m, VTIO_MMIO_SHM_BASE_HIGH) << 32;
	if (m->err)
		return m->err;
	if (l == UINT64_MAX)
		return VTIO_ENOENT;
	if (b + l < b)
		return VTIO_EPROTO;
	*base = b;
	*len = l;
	return 0;
}

#endif /* VTIO_CONFIG_DRIVER */
