/* rpmsg-style echo service: device and driver halves (see rpmsg_echo.h). */
#include "rpmsg_echo.h"

#include <string.h>

#include "vtio/transport.h"

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static void put_hdr(unsigned char *b, uint32_t src, uint32_t dst, uint16_t len)
{
	put32(b, src);
	put32(b + 4, dst);
	put32(b + 8, 0);
	put16(b + 12, len);
	put16(b + 14, 0);
}

/* ---- device side -------------------------------------------------------------------------- */

/* Hand one message to the driver in an rx buffer. 0, or VTIO_EAGAIN when the
 * driver has no rx buffer posted. */
static int dev_send(struct rpm_dev *d, uint32_t src, uint32_t dst, const void *data, size_t len)
{
	struct vtio_iov wr[4];
	struct vtio_devq_chain c = {.wr = wr, .wr_max = 4};
	int r = vtio_devq_pop(d->rx, &c);
	if (r)
		return r;
	unsigned char msg[RPM_BUF_SIZE];
	if (len > RPM_MAX_PAYLOAD)
		len = RPM_MAX_PAYLOAD;
	put_hdr(msg, src, dst, (uint16_t)len);
	memcpy(msg + RPM_HDR_SIZE, data, len);
	size_t n = RPM_HDR_SIZE + len;
	if (c.wr_len < n || c.rd_num != 0) {
		vtio_devq_push(d->rx, &c, 0); /* not a usable rx buffer */
		d->dropped++;
		return 0;
	}
	int64_t w = vtio_devq_write(d->rx, &c, 0, msg, n);
	return vtio_devq_push(d->rx, &c, w < 0 ? 0 : (uint32_t)w);
}

static void dev_work(struct rpm_dev *d)
{
	if (d->rx == NULL || d->tx == NULL)
		return;
	if (d->announce_pending) {
		unsigned char ns[RPM_NAME_LEN + 8];
		memset(ns, 0, sizeof(ns));
		memcpy(ns, RPM_ECHO_NAME, sizeof(RPM_ECHO_NAME));
		put32(ns + RPM_NAME_LEN, d->ep_addr);
		put32(ns + RPM_NAME_LEN + 4, RPM_NS_CREATE);
		if (dev_send(d, d->ep_addr, RPM_NS_ADDR, ns, sizeof(ns)) == 0) {
			d->announce_pending = false;
			d->announced++;
		}
	}
	for (;;) {
		/* Echo only while the driver has somewhere to put the answer. */
		if (!vtio_devq_more_avail(d->rx)) {
			if (vtio_devq_enable_notify(d->rx))
				break;
			continue;
		}
		struct vtio_iov rd[4];
		struct vtio_devq_chain c = {.rd = rd, .rd_max = 4};
		int r = vtio_devq_pop(d->tx, &c);
		if (r == VTIO_EAGAIN) {
			if (vtio_devq_enable_notify(d->tx))
				break;
			continue;
		}
		if (r)
			break; /* broken queue: the core sets NEEDS_RESET */
		unsigned char msg[RPM_BUF_SIZE];
		int64_t n = vtio_devq_read(d->tx, &c, 0, msg, sizeof(msg));
		vtio_devq_push(d->tx, &c, 0);
		if (n < (int64_t)RPM_HDR_SIZE) {
			d->dropped++;
			continue;
		}
		uint32_t src = get32(msg), dst = get32(msg + 4);
		uint16_t len = get16(msg + 12);
		if (dst != d->ep_addr || len > n - (int64_t)RPM_HDR_SIZE) {
			d->dropped++;
			continue;
		}
		if (dev_send(d, d->ep_addr, src, msg + RPM_HDR_SIZE, len) == 0)
			d->echoed++;
	}
	vtio_devq_kick(d->rx);
	vtio_devq_kick(d->tx);
}

static void dev_queue_state(void *ctx, uint16_t index, struct vtio_devq *q)
{
	struct rpm_dev *d = ctx;
	if (index == 0)
		d->rx = q;
	else
		d->tx = q;
}

static void dev_driver_ok(void *ctx)
{
	struct rpm_dev *d = ctx;
	d->announce_pending = true;
	dev_work(d);
}

static int dev_kick(void *ctx, uint16_t index, uint32_t data)
{
	(void)index;
	(void)data;
	dev_work(ctx);
	return 0;
}

static void dev_reset(void *ctx)
{
	struct rpm_dev *d = ctx;
	d->announce_pending = false;
}

static const struct vtio_dev_ops rpm_dev_ops = {
    .queue_state = dev_queue_state,
    .driver_ok = dev_driver_ok,
    .kick = dev_kick,
    .reset = dev_reset,
};

int rpm_dev_init(struct rpm_dev *d)
{
	memset(d, 0, sizeof(*d));
	d->ep_addr = RPM_ECHO_ADDR;
	struct vtio_dev_config c = {
	    .device_id = RPM_DEVICE_ID,
	    .features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(RPM_F_NS) |
			VTIO_FEATURE(VTIO_F_EVENT_IDX) | VTIO_FEATURE(VTIO_F_RING_PACKED),
	    .num_queues = 2,
	    .queue_max = RPM_QUEUE_MAX,
	    .ops = &rpm_dev_ops,
	    .ctx = d,
	};
	if (vtio_dev_storage_size(2, RPM_QUEUE_MAX) > sizeof(d->storage))
		return VTIO_ENOMEM;
	return vtio_dev_init(&d->dev, d->storage, sizeof(d->storage), &c);
}

/* ---- driver side --------------------------------------------------------------------------- */

static int drv_dma_init(struct rpm_drv *d)
{
	void *cpu;
	uint64_t bus;
	size_t size;
	int r = vtio_shm_drv_bounce_area(&d->shm, &cpu, &bus, &size);
	if (r)
		return r;
	struct vtio_bounce_pool_config pc = {
	    .base = cpu,
	    .size = size & ~(size_t)(VTIO_BOUNCE_SLOT_SIZE - 1),
	    .mapping = VTIO_BOUNCE_MAP_LINEAR,
	    .dev_base = bus,
	    .flags = VTIO_BOUNCE_POOL_F_SCRUB,
	};
	if (vtio_bounce_pool_size(&pc) > sizeof(d->pool_storage) ||
	    vtio_bounce_set_size() > sizeof(d->set_storage))
		return VTIO_ENOMEM;
	r = vtio_bounce_pool_init(&d->pool, d->pool_storage, sizeof(d->pool_storage), &pc);
	if (!r)
		r = vtio_bounce_set_init(&d->set, d->set_storage, sizeof(d->set_storage));
	if (!r)
		r = vtio_bounce_set_register(d->set, d->pool);
	struct vtio_bounce_dev bd;
	vtio_bounce_dev_init(&bd, UINT64_MAX);
	if (!r)
		r = vtio_bounce_layer_init(&d->bl, d->set, &bd, 0);
	vtio_dma_dev_init(&d->dma);
	if (!r)
		r = vtio_dma_dev_push(&d->dma, &d->bl.layer);
	if (!r)
		r = vtio_dma_dev_build(&d->dma);
	return r;
}

static int post_rx(struct rpm_drv *d, unsigned i)
{
	struct vtio_sg sg = vtio_sg_of(d->rx_buf[i], RPM_BUF_SIZE);
	return vtio_vq_add(d->rx, &sg, 0, 1, (void *)(uintptr_t)(i + 1));
}

int rpm_drv_start(struct rpm_drv *d, void *win, size_t size, const struct vtio_shm_entry_info *e,
		  const struct vtio_shm_hooks *hooks, bool packed)
{
	memset(d, 0, sizeof(*d));
	int r = vtio_shm_drv_init(&d->shm, win, size, e, hooks);
	if (r)
		return r;
	r = drv_dma_init(d);
	if (r)
		return r;
	struct vtio_transport *t = vtio_shm_drv_transport(&d->shm);
	struct vtio_transport_negotiation n = {
	    .supported = VTIO_FEATURE(VTIO_F_EVENT_IDX),
	    .required = VTIO_FEATURE(RPM_F_NS) | (packed ? VTIO_FEATURE(VTIO_F_RING_PACKED) : 0),
	};
	r = vtio_transport_negotiate(t, &n);
	if (r)
		return r;
	struct vtio_transport_vq_config q = {
	    .index = 0,
	    .num = RPM_NRX,
	    .flags = VTIO_VQ_F_MAP,
	    .dma = &d->dma,
	    .state = d->rx_state,
	    .state_size = sizeof(d->rx_state),
	};
	r = vtio_transport_vq_setup(t, &q, &d->rx);
	if (r)
		goto fail;
	q.index = 1;
	q.num = RPM_NTX;
	q.state = d->tx_state;
	q.state_size = sizeof(d->tx_state);
	r = vtio_transport_vq_setup(t, &q, &d->tx);
	if (r)
		goto fail;
	for (unsigned i = 0; i < RPM_NRX && !r; i++)
		r = post_rx(d, i);
	if (r)
		goto fail;
	/* Publish the rx buffers now; a notification is refused before DRIVER_OK. */
	vtio_vq_kick_prepare(d->rx);
	r = vtio_transport_driver_ok(t);
	if (r)
		goto fail;
	return 0;
fail:
	vtio_transport_fail(t);
	return r;
}

int rpm_drv_poll(struct rpm_drv *d)
{
	int got = 0;
	uint32_t len;
	void *tok;
	do {
		while ((tok = vtio_vq_get_used(d->tx, &len)) != NULL) {
			unsigned i = (unsigned)((uintptr_t)tok - 1);
			if (i < RPM_NTX)
				d->tx_busy &= ~(1u << i);
		}
	} while (!vtio_vq_enable_cb(d->tx));
	bool reposted = false;
again:
	while ((tok = vtio_vq_get_used(d->rx, &len)) != NULL) {
		unsigned i = (unsigned)((uintptr_t)tok - 1);
		if (i >= RPM_NRX)
			return VTIO_EPROTO;
		const unsigned char *m = d->rx_buf[i];
		if (len >= RPM_HDR_SIZE && len <= RPM_BUF_SIZE) {
			uint32_t src = get32(m), dst = get32(m + 4);
			uint16_t plen = get16(m + 12);
			if (plen <= len - RPM_HDR_SIZE) {
				const unsigned char *p = m + RPM_HDR_SIZE;
				if (dst == RPM_NS_ADDR && plen >= RPM_NAME_LEN + 8 &&
				    get32(p + RPM_NAME_LEN + 4) == RPM_NS_CREATE) {
					memcpy(d->remote_name, p, RPM_NAME_LEN);
					d->remote_name[RPM_NAME_LEN] = 0;
					if (strcmp(d->remote_name, RPM_ECHO_NAME) == 0) {
						d->remote = get32(p + RPM_NAME_LEN);
						d->bound = true;
					}
				} else if (d->bound && dst == RPM_DRV_ADDR && src == d->remote) {
					memcpy(d->last, p, plen);
					d->last_len = plen;
					d->received++;
					got++;
				}
			}
		}
		int r = post_rx(d, i);
		if (r)
			return r;
		reposted = true;
	}
	/* Ask for the next interrupt (EVENT_IDX moves used_event). */
	if (!vtio_vq_enable_cb(d->rx))
		goto again;
	if (reposted)
		vtio_vq_kick(d->rx);
	return got;
}

int rpm_drv_send(struct rpm_drv *d, const void *data, size_t len)
{
	if (!d->bound)
		return VTIO_EAGAIN;
	if (len > RPM_MAX_PAYLOAD)
		return VTIO_EMSGSIZE;
	unsigned i;
	for (i = 0; i < RPM_NTX; i++)
		if (!(d->tx_busy & (1u << i)))
			break;
	if (i == RPM_NTX)
		return VTIO_EAGAIN;
	unsigned char *b = d->tx_buf[i];
	put_hdr(b, RPM_DRV_ADDR, d->remote, (uint16_t)len);
	memcpy(b + RPM_HDR_SIZE, data, len);
	struct vtio_sg sg = vtio_sg_of(b, (uint32_t)(RPM_HDR_SIZE + len));
	int r = vtio_vq_add(d->tx, &sg, 1, 0, (void *)(uintptr_t)(i + 1));
	if (r)
		return r;
	d->tx_busy |= 1u << i;
	d->sent++;
	return vtio_vq_kick(d->tx);
}

void rpm_drv_stop(struct rpm_drv *d)
{
	vtio_transport_reset(vtio_shm_drv_transport(&d->shm));
}
