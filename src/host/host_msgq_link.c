/* The message-queue transport between two processes (host_msgq_link.h). */
#define _POSIX_C_SOURCE 200809L
#include "host_msgq_link.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtio/dma_layers.h"

struct link_info {
	uint32_t magic;
	uint32_t version;
	uint64_t bus_base;
	uint64_t window_size;
	uint32_t num_queues;
	uint32_t pad;
};

/* ---- Driver ------------------------------------------------------------------------------ */

static void drv_release_queues(struct vtio_host_msgq_drv *d)
{
	for (unsigned i = 0; i < VTIO_HOST_MSGQ_MAX_QUEUES; i++) {
		if (d->vq[i] == NULL)
			continue;
		while (vtio_vq_detach_unused(d->vq[i]) != NULL)
			;
		(void)vtio_transport_vq_release(d->vq[i], &d->dma);
		d->vq[i] = NULL;
	}
}

/* Connect to a device and run the initialisation sequence over messages. */
static int drv_session(struct vtio_host_msgq_drv *d, int timeout_ms)
{
	int sfd = -1;
	int rc = vtio_host_connect(d->cfg.socket, timeout_ms, &sfd);
	if (rc != 0)
		return rc;
	struct link_info info = {.magic = VTIO_HOST_MSGQ_INFO_MAGIC,
				 .version = 1,
				 .bus_base = VTIO_HOST_MSGQ_BUS_BASE,
				 .window_size = d->link.win.size,
				 .num_queues = d->cfg.num_queues};
	rc = vtio_host_link_send(&d->link, sfd, &info, sizeof(info));
	if (rc != 0) {
		close(sfd);
		return rc;
	}
	struct vtio_msgq_chan ch =
	    vtio_host_msgq_chan_init(&d->hc, d->link.sock, d->cfg.call_timeout_ms);
	rc = d->sessions == 0 ? vtio_msgq_drv_init(&d->msgq, &ch, NULL, NULL)
			      : vtio_msgq_drv_reconnect(&d->msgq, &ch);
	if (rc == 0 && d->sessions == 0)
		rc = vtio_msgq_drv_hello(&d->msgq);
	if (rc != 0)
		return rc;
	vtio_msgq_drv_set_doorbell(&d->msgq, vtio_host_link_ring, &d->link);

	struct vtio_mmio_config mc = {.ops = &vtio_msgq_mmio_ops, .ctx = &d->msgq};
	rc = vtio_mmio_init(&d->mmio, &mc);
	if (rc != 0)
		return rc;
	if (d->cfg.device_id != 0 && vtio_mmio_device_id(&d->mmio) != d->cfg.device_id)
		return VTIO_ENODEV;
	struct vtio_transport *t = vtio_mmio_transport(&d->mmio);
	uint64_t want = d->cfg.supported | VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM) |
			VTIO_FEATURE(VTIO_F_EVENT_IDX);
	if (d->cfg.packed)
		want |= VTIO_FEATURE(VTIO_F_RING_PACKED);
	struct vtio_transport_negotiation n = {
	    .supported = want,
	    /* Addresses are bus addresses in the window, not driver memory. */
	    .required = VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM) |
			(d->cfg.packed ? VTIO_FEATURE(VTIO_F_RING_PACKED) : 0)};
	rc = vtio_transport_negotiate(t, &n);
	if (rc != 0)
		return rc;
	for (uint16_t i = 0; i < d->cfg.num_queues; i++) {
		struct vtio_transport_vq_config qc = {.index = i,
						      .num = d->cfg.queue_num,
						      .flags = VTIO_VQ_F_MAP | d->cfg.vq_flags,
						      .dma = &d->dma,
						      .state = d->vq_state[i],
						      .state_size = d->vq_state_size};
		rc = vtio_transport_vq_setup(t, &qc, &d->vq[i]);
		if (rc != 0) {
			vtio_transport_fail(t);
			return rc;
		}
	}
	rc = vtio_transport_driver_ok(t);
	if (rc != 0)
		return rc;
	d->connected = true;
	d->sessions++;
	return 0;
}

int vtio_host_msgq_drv_open(struct vtio_host_msgq_drv *d, const struct vtio_host_msgq_drv_config *c)
{
	if (d == NULL || c == NULL || c->socket == NULL || c->num_queues == 0 ||
	    c->num_queues > VTIO_HOST_MSGQ_MAX_QUEUES || c->queue_num == 0 || c->queue_num > 32768)
		return VTIO_EINVAL;
	memset(d, 0, sizeof(*d));
	d->cfg = *c;
	if (d->cfg.window_size == 0)
		d->cfg.window_size = 4u << 20;
	if (d->cfg.call_timeout_ms == 0)
		d->cfg.call_timeout_ms = 2000;
	d->link.sock = -1;
	d->link.win.fd = -1;

	int rc = vtio_host_link_create(&d->link, d->cfg.window_size, (unsigned)c->num_queues + 1);
	if (rc != 0)
		return rc;
	/* The whole window is one bounce pool: rings and bounce slots. */
	struct vtio_bounce_pool_config pc = {.base = d->link.win.base,
					     .size = d->link.win.size &
						     ~(size_t)(VTIO_BOUNCE_SLOT_SIZE - 1),
					     .mapping = VTIO_BOUNCE_MAP_LINEAR,
					     .dev_base = VTIO_HOST_MSGQ_BUS_BASE};
	size_t ps = vtio_bounce_pool_size(&pc);
	rc = VTIO_ENOMEM;
	if (ps == 0 || posix_memalign(&d->pool_storage, 64, ps) != 0 ||
	    posix_memalign(&d->set_storage, 64, vtio_bounce_set_size()) != 0)
		goto fail;
	rc = vtio_bounce_pool_init(&d->pool, d->pool_storage, ps, &pc);
	if (rc == 0)
		rc = vtio_bounce_set_init(&d->set, d->set_storage, vtio_bounce_set_size());
	if (rc == 0)
		rc = vtio_bounce_set_register(d->set, d->pool);
	struct vtio_bounce_dev bd;
	vtio_bounce_dev_init(&bd, UINT64_MAX);
	if (rc == 0)
		rc = vtio_bounce_layer_init(&d->bl, d->set, &bd, 0);
	vtio_dma_dev_init(&d->dma);
	if (rc == 0)
		rc = vtio_dma_dev_push(&d->dma, &d->bl.layer);
	if (rc == 0)
		rc = vtio_dma_dev_build(&d->dma);
	if (rc != 0)
		goto fail;

	size_t ss = vtio_vq_state_size(VTIO_LAYOUT_SPLIT, c->queue_num, 0, 0);
	size_t sp = vtio_vq_state_size(VTIO_LAYOUT_PACKED, c->queue_num, 0, 0);
	d->vq_state_size = ss > sp ? ss : sp;
	for (unsigned i = 0; i < c->num_queues; i++) {
		if (posix_memalign(&d->vq_state[i], 64, d->vq_state_size) != 0) {
			rc = VTIO_ENOMEM;
			goto fail;
		}
	}
	rc = drv_session(d, c->connect_timeout_ms);
	if (rc != 0)
		goto fail;
	return 0;
fail:
	vtio_host_msgq_drv_close(d);
	return rc;
}

int vtio_host_msgq_drv_wait(struct vtio_host_msgq_drv *d, int timeout_ms, uint64_t *rang)
{
	uint64_t r = 0;
	int rc = vtio_host_link_wait(&d->link, timeout_ms, &r);
	if (rc == VTIO_ENOTCONN)
		d->connected = false;
	if (rc == 0 && (r & (1ull << d->cfg.num_queues)) && d->connected) {
		/* Register model interrupt line: config change / NEEDS_RESET. */
		if (vtio_mmio_irq(&d->mmio) < 0 && vtio_msgq_drv_is_dead(&d->msgq)) {
			d->connected = false;
			rc = VTIO_ENOTCONN;
		}
	}
	if (rc == 0 && (r & (1ull << VTIO_HOST_LINK_SOCK_BIT)) && d->connected) {
		/* Data on the socket outside a call: EVENT messages, or EOF. */
		if (vtio_host_peer_gone(d->link.sock)) {
			d->connected = false;
			rc = VTIO_ENOTCONN;
		} else if (vtio_msgq_drv_poll_events(&d->msgq) < 0) {
			d->connected = false;
			rc = VTIO_ENOTCONN;
		}
	}
	if (rang)
		*rang = r;
	return rc;
}

unsigned vtio_host_msgq_drv_fail_inflight(struct vtio_host_msgq_drv *d,
					  void (*fail)(void *ctx, void *token), void *ctx)
{
	unsigned n = 0;
	d->connected = false;
	for (unsigned i = 0; i < VTIO_HOST_MSGQ_MAX_QUEUES; i++) {
		void *tok;
		if (d->vq[i] == NULL)
			continue;
		while ((tok = vtio_vq_detach_unused(d->vq[i])) != NULL) {
			n++;
			if (fail)
				fail(ctx, tok);
		}
	}
	return n;
}

int vtio_host_msgq_drv_reconnect(struct vtio_host_msgq_drv *d, int timeout_ms)
{
	d->connected = false;
	drv_release_queues(d);
	vtio_host_link_disconnect(&d->link);
	return drv_session(d, timeout_ms);
}

uint64_t vtio_host_msgq_drv_features(const struct vtio_host_msgq_drv *d)
{
	return vtio_transport_features(&d->mmio.tr);
}

void vtio_host_msgq_drv_close(struct vtio_host_msgq_drv *d)
{
	if (d->connected)
		(void)vtio_transport_reset(vtio_mmio_transport(&d->mmio));
	d->connected = false;
	drv_release_queues(d);
	vtio_host_link_close(&d->link);
	for (unsigned i = 0; i < VTIO_HOST_MSGQ_MAX_QUEUES; i++) {
		free(d->vq_state[i]);
		d->vq_state[i] = NULL;
	}
	free(d->pool_storage);
	free(d->set_storage);
	d->pool_storage = d->set_storage = NULL;
}

/* ---- Device ------------------------------------------------------------------------------ */

static void dev_irq_line(void *ctx, bool level)
{
	struct vtio_host_msgq_dev *s = ctx;
	if (level && s->connected)
		(void)vtio_host_link_ring(&s->link, vtio_dev_num_queues(&s->dev));
}

static const struct vtio_mmio_dev_ops dev_bus_ops = {.irq_line = dev_irq_line};

int vtio_host_msgq_dev_open(struct vtio_host_msgq_dev *s, const char *path,
			    const struct vtio_dev_config *cfg)
{
	size_t plen = path != NULL ? strlen(path) : 0;
	if (s == NULL || path == NULL || cfg == NULL || plen >= sizeof(s->path) ||
	    cfg->num_queues > VTIO_HOST_MSGQ_MAX_QUEUES)
		return VTIO_EINVAL;
	memset(s, 0, sizeof(*s));
	s->lfd = -1;
	s->link.sock = -1;
	s->link.win.fd = -1;
	memcpy(s->path, path, plen + 1); /* length checked above */
	struct vtio_dev_config dc = *cfg;
	dc.features |= VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM);
	dc.mem = NULL;
	size_t ds = vtio_dev_storage_size(dc.num_queues, dc.queue_max);
	size_t ms = vtio_mmio_dev_storage_size(dc.num_queues);
	if (ds == 0 || ms == 0)
		return VTIO_EINVAL;
	if (posix_memalign(&s->dev_storage, 64, ds) != 0 ||
	    posix_memalign(&s->mmio_storage, 64, ms) != 0) {
		vtio_host_msgq_dev_close(s);
		return VTIO_ENOMEM;
	}
	int rc = vtio_dev_init(&s->dev, s->dev_storage, ds, &dc);
	struct vtio_mmio_dev_config mc = {.dev = &s->dev, .ops = &dev_bus_ops, .ctx = s};
	if (rc == 0)
		rc = vtio_mmio_dev_init(&s->mmio, s->mmio_storage, ms, &mc);
	if (rc == 0)
		rc = vtio_host_listen(path, &s->lfd);
	if (rc != 0)
		vtio_host_msgq_dev_close(s);
	return rc;
}

int vtio_host_msgq_dev_accept(struct vtio_host_msgq_dev *s, int timeout_ms)
{
	int sfd = -1;
	int rc = vtio_host_accept(s->lfd, timeout_ms, &sfd);
	if (rc != 0)
		return rc;
	struct link_info info;
	size_t n = 0;
	rc = vtio_host_link_recv(&s->link, sfd, 2000, &info, sizeof(info), &n);
	if (rc != 0) {
		close(sfd);
		return rc;
	}
	uint16_t nq = vtio_dev_num_queues(&s->dev);
	if (n != sizeof(info) || info.magic != VTIO_HOST_MSGQ_INFO_MAGIC || info.version != 1 ||
	    info.window_size != s->link.win.size || info.num_queues > nq ||
	    s->link.nbells < (unsigned)info.num_queues + 1 ||
	    info.bus_base > UINT64_MAX - info.window_size) {
		vtio_host_link_close(&s->link);
		return VTIO_EBADMSG;
	}
	/* The device's whole view of the driver: the window, nothing else. */
	s->region = (struct vtio_mem_region){.addr = info.bus_base,
					     .len = s->link.win.size,
					     .host = s->link.win.base,
					     .perm = VTIO_MEM_RW};
	rc = vtio_mem_init(&s->mem, &s->region, 1);
	if (rc != 0) {
		vtio_host_link_close(&s->link);
		return rc;
	}
	vtio_dev_set_mem(&s->dev, &s->mem);
	struct vtio_msgq_chan ch = vtio_host_msgq_chan_init(&s->hc, s->link.sock, 0);
	rc = vtio_msgq_dev_init(&s->msgq, &ch, &vtio_msgq_mmio_dev_regs, &s->mmio);
	if (rc != 0) {
		vtio_host_link_close(&s->link);
		return rc;
	}
	s->connected = true;
	s->sessions++;
	return 0;
}

int vtio_host_msgq_dev_step(struct vtio_host_msgq_dev *s, int timeout_ms, uint64_t *kicked)
{
	uint64_t r = 0;
	if (kicked)
		*kicked = 0;
	if (!s->connected)
		return VTIO_ENOTCONN;
	int rc = vtio_host_link_wait(&s->link, timeout_ms, &r);
	uint16_t nq = vtio_dev_num_queues(&s->dev);
	for (uint16_t i = 0; i < nq; i++)
		if (r & (1ull << i))
			(void)vtio_mmio_dev_write(&s->mmio, VTIO_MMIO_QUEUE_NOTIFY, 4, i);
	if (r & (1ull << VTIO_HOST_LINK_SOCK_BIT)) {
		for (;;) {
			int prc = vtio_msgq_dev_poll(&s->msgq);
			if (prc == 0)
				continue;
			if (prc != VTIO_EAGAIN && prc != VTIO_ETIMEDOUT)
				rc = VTIO_ENOTCONN;
			break;
		}
	}
	if (kicked)
		*kicked = r & ~(1ull << VTIO_HOST_LINK_SOCK_BIT);
	return rc;
}

int vtio_host_msgq_dev_notify(struct vtio_host_msgq_dev *s, uint16_t index)
{
	struct vtio_devq *q = vtio_dev_devq(&s->dev, index);
	if (q == NULL || !s->connected)
		return VTIO_EPERM;
	if (!vtio_devq_notify_prepare(q))
		return 0;
	return vtio_host_link_ring(&s->link, index);
}

void vtio_host_msgq_dev_drop(struct vtio_host_msgq_dev *s)
{
	if (s->connected || s->link.win.base != NULL) {
		/* Device reset through the register model: every queue stops
		 * before the window goes away. */
		(void)vtio_mmio_dev_write(&s->mmio, VTIO_MMIO_STATUS, 4, 0);
		vtio_dev_set_mem(&s->dev, NULL);
	}
	s->connected = false;
	vtio_host_link_close(&s->link);
	s->link.sock = -1;
	s->link.win.fd = -1;
}

void vtio_host_msgq_dev_close(struct vtio_host_msgq_dev *s)
{
	if (s->dev_storage != NULL && s->mmio_storage != NULL)
		vtio_host_msgq_dev_drop(s);
	if (s->lfd >= 0) {
		close(s->lfd);
		unlink(s->path);
	}
	s->lfd = -1;
	free(s->dev_storage);
	free(s->mmio_storage);
	s->dev_storage = s->mmio_storage = NULL;
}
