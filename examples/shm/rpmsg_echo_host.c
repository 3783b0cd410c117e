/* POSIX glue of the rpmsg echo service (see rpmsg_echo_host.h). */
#define _POSIX_C_SOURCE 200809L
#include "rpmsg_echo_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtio/transport.h"

volatile sig_atomic_t rpm_host_stop;

static void on_signal(int sig)
{
	(void)sig;
	rpm_host_stop = 1;
}

void rpm_host_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int rpm_host_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

int rpm_host_dev_create(struct rpm_host_dev *h)
{
	memset(h, 0, sizeof(*h));
	int r = vtio_host_link_create(&h->link, RPM_HOST_WINDOW, RPM_HOST_BELLS);
	if (r)
		return r;
	/* The device sees window offset o at device address 0x10000000 + o. */
	r = vtio_shm_dir_format(&h->dir, h->link.win.base, h->link.win.size, 0x10000000u, 8);
	if (!r)
		r = rpm_dev_init(&h->rd);
	struct vtio_shm_dir_request rq = {
	    .device_type = RPM_DEVICE_ID, .num_queues = 2, .bounce_size = RPM_HOST_BOUNCE};
	if (!r)
		r = vtio_shm_dir_add(&h->dir, &rq, &h->slot);
	struct vtio_shm_dev_config sc = {
	    .dir = &h->dir,
	    .slot = h->slot,
	    .dev = &h->rd.dev,
	    .hooks = {vtio_host_link_ring, NULL, &h->link},
	};
	if (!r)
		r = vtio_shm_dev_init(&h->sd, &sc);
	if (r)
		vtio_host_link_close(&h->link);
	return r;
}

int rpm_host_dev_serve(struct rpm_host_dev *h, int sfd, const volatile sig_atomic_t *stop,
		       int idle_ms)
{
	int r = vtio_host_link_send(&h->link, sfd, NULL, 0);
	if (r) {
		close(sfd);
		/* Gone before the hello (e.g. another program probing the
		 * socket): nothing to serve, wait for the next one. */
		return r == VTIO_ENOTCONN ? 0 : r;
	}
	h->drivers++;
	int idle = 0;
	for (;;) {
		if (*stop) {
			r = VTIO_ECANCELED;
			break;
		}
		uint64_t rang = 0;
		int w = vtio_host_link_wait(&h->link, 100, &rang);
		/* Poll even on a timeout: doorbells may be merged or lost. */
		int n = vtio_shm_dev_poll(&h->sd);
		if (n > 0 || rang)
			idle = 0;
		if (w == VTIO_ENOTCONN) {
			r = 0;
			break;
		}
		if (w == VTIO_ETIMEDOUT && n <= 0) {
			idle += 100;
			if (idle_ms >= 0 && idle >= idle_ms) {
				r = VTIO_ETIMEDOUT;
				break;
			}
		} else if (w && w != VTIO_EAGAIN && w != VTIO_ETIMEDOUT) {
			r = w;
			break;
		}
	}
	/* The driver is gone (or we stop): reset so the next one starts clean. */
	vtio_shm_dev_reset(&h->sd);
	vtio_host_link_disconnect(&h->link);
	return r;
}

void rpm_host_dev_destroy(struct rpm_host_dev *h)
{
	vtio_host_link_close(&h->link);
}

/* Driver's wait hook: block on our doorbells for a millisecond. */
static int drv_wait(void *ctx)
{
	struct vtio_host_link *l = ctx;
	uint64_t rang;
	int r = vtio_host_link_wait(l, 1, &rang);
	if (r == VTIO_ENOTCONN)
		return r;
	return 0;
}

int rpm_host_drv_connect(struct rpm_host_drv *h, int sfd, int timeout_ms, bool packed)
{
	memset(h, 0, sizeof(*h));
	int r = vtio_host_link_recv(&h->link, sfd, timeout_ms, NULL, 0, NULL);
	if (r)
		return r;
	struct vtio_shm_entry_info e;
	r = vtio_shm_dir_find(h->link.win.base, h->link.win.size, 0, RPM_DEVICE_ID, &e);
	if (!r) {
		struct vtio_shm_hooks hooks = {vtio_host_link_ring, drv_wait, &h->link};
		r = rpm_drv_start(&h->d, h->link.win.base, h->link.win.size, &e, &hooks, packed);
	}
	if (r)
		vtio_host_link_close(&h->link);
	return r;
}

/* Wait for something, then reap. */
static int drv_step(struct rpm_host_drv *h, int ms)
{
	uint64_t rang = 0;
	int w = vtio_host_link_wait(&h->link, ms, &rang);
	if (w == VTIO_ENOTCONN)
		return w;
	if (h->d.shm.gone)
		return VTIO_ENOTCONN;
	return rpm_drv_poll(&h->d);
}

int rpm_host_drv_echo(struct rpm_host_drv *h, const char *text, unsigned count,
		      const volatile sig_atomic_t *stop, int timeout_ms, unsigned *ok)
{
	*ok = 0;
	int waited = 0;
	while (!h->d.bound) {
		if (*stop)
			return VTIO_ECANCELED;
		int r = drv_step(h, 10);
		if (r < 0)
			return r;
		waited += 10;
		if (timeout_ms >= 0 && waited >= timeout_ms)
			return VTIO_ETIMEDOUT;
	}
	char msg[RPM_MAX_PAYLOAD];
	for (unsigned i = 0; i < count; i++) {
		int n = snprintf(msg, sizeof(msg), "%s %u", text, i);
		if (n < 0 || (size_t)n >= sizeof(msg))
			return VTIO_EMSGSIZE;
		uint64_t before = h->d.received;
		int r = rpm_drv_send(&h->d, msg, (size_t)n);
		waited = 0;
		while (r == VTIO_EAGAIN) {
			int s = drv_step(h, 10);
			if (s < 0)
				return s;
			if (*stop)
				return VTIO_ECANCELED;
			r = rpm_drv_send(&h->d, msg, (size_t)n);
		}
		if (r)
			return r;
		while (h->d.received == before) {
			if (*stop)
				return VTIO_ECANCELED;
			r = drv_step(h, 10);
			if (r < 0)
				return r;
			if (h->d.received != before)
				break;
			waited += 10;
			if (timeout_ms >= 0 && waited >= timeout_ms)
				return VTIO_ETIMEDOUT;
		}
		if (h->d.last_len != (uint32_t)n || memcmp(h->d.last, msg, (size_t)n) != 0)
			return VTIO_EBADMSG;
		(*ok)++;
	}
	return 0;
}

void rpm_host_drv_close(struct rpm_host_drv *h)
{
	if (!h->d.shm.gone && !vtio_host_peer_gone(h->link.sock))
		rpm_drv_stop(&h->d);
	vtio_host_link_close(&h->link);
}
