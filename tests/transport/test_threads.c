/* Two-thread tests: a driver thread and a device thread running
 * concurrently over the loopback transport, both layouts, with and without
 * EVENT_IDX, polling or sleeping on eventfd notifications, many buffers of
 * mixed shapes (indirect ones too) with every byte checked. Run under TSan
 * in CI (label "threads").
 *
 * Checklist: SPLIT-DRV/DEV memory ordering (publish after the data, read
 * after the index), NOTIF-DRV-2/3 and NOTIF-DEV-3 (no lost wake-up: a
 * missed notification hangs and fails the test by timeout), EVT-* (EVENT_IDX
 * and flag-based suppression under concurrency), INORD-* (in-order runs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <cmocka.h>

#include "vtio/transport.h"
#include "vtio/transport/loopback.h"
#include "vtio_host.h"
#include "tc_util.h"

#define QSIZE	   64u
#define MAX_RD	   4u
#define MAX_WR	   2u
#define SEG_MAX	   256u
#define SLOT_SIZE  (2u * MAX_RD * SEG_MAX + 64u)
#define WAIT_MS	   5000
#define SPIN_YIELD 256u

struct cfg {
	const char *name;
	enum vtio_layout layout;
	bool event_idx;
	bool sleep; /* eventfd notifications instead of polling */
	bool in_order;
	unsigned buffers;
	bool ring_reset; /* reset queue 0 again and again while queue 1 runs */
};

struct ctx {
	const struct cfg *cfg;
	unsigned char *arena;
	size_t arena_size, used;
	struct vtio_mem_region region;
	struct vtio_mem mem;
	struct vtio_loopback lb;
	struct vtio_transport *t;
	struct vtio_vq *vq; /* traffic queue */
	struct vtio_devq *dq;
	uint16_t tq;	     /* its index */
	struct vtio_vq *rq;  /* queue 0 when ring_reset */
	unsigned char *rbuf; /* buffers for rq */
	unsigned resets;
	struct vtio_host_event kickfd, callfd;
	unsigned char *slots;
	/* results, each written by one thread and read after join */
	int drv_err, dev_err;
	int stop; /* atomic: the driver failed, the device gives up */
	unsigned served, checked, indirect;
	char msg[160];
};

static void *carve(struct ctx *c, size_t n)
{
	c->used = (c->used + 63u) & ~(size_t)63u;
	assert_true(c->used + n <= c->arena_size);
	void *p = c->arena + c->used;
	c->used += n;
	return p;
}

static int dev_kick(void *p, uint16_t index, uint32_t data)
{
	struct ctx *c = p;
	(void)data;
	return c->cfg->sleep && index == c->tq ? vtio_host_event_signal(&c->kickfd) : 0;
}

static void drv_irq(void *p, uint16_t index)
{
	struct ctx *c = p;
	if (c->cfg->sleep && index == c->tq)
		(void)vtio_host_event_signal(&c->callfd);
}

static const struct vtio_loopback_device_ops dev_ops = {.kick = dev_kick};

static uint32_t mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

/* ---- Device thread: reply = each readable byte + 1, in order, then the
 * 4-byte sum of the readable bytes. ---- */
static void *device_thread(void *arg)
{
	struct ctx *c = arg;
	struct vtio_devq *q = c->dq;
	static _Thread_local unsigned char in[MAX_RD * SEG_MAX], out[MAX_RD * SEG_MAX + 4];
	unsigned spins = 0;
	while (c->served < c->cfg->buffers && !__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		struct vtio_iov rd[MAX_RD + 1], wr[MAX_WR + 1];
		struct vtio_devq_chain ch;
		tc_chain_init(&ch, rd, MAX_RD + 1, wr, MAX_WR + 1);
		int r = vtio_devq_pop(q, &ch);
		if (r == VTIO_EAGAIN) {
			if (c->cfg->sleep) {
				if (vtio_devq_enable_notify(q)) {
					r = vtio_host_event_wait_timeout(&c->kickfd, WAIT_MS);
					if (r) {
						snprintf(c->msg, sizeof(c->msg),
							 "device: no kick after %u buffers",
							 c->served);
						c->dev_err = r;
						return NULL;
					}
				}
				vtio_devq_disable_notify(q);
			} else if (++spins % SPIN_YIELD == 0) {
				sched_yield();
			}
			continue;
		}
		if (r) {
			snprintf(c->msg, sizeof(c->msg), "device: pop: %s (%s)", vtio_strerror(r),
				 vtio_devq_broken_reason(q) ? vtio_devq_broken_reason(q) : "-");
			c->dev_err = r;
			return NULL;
		}
		size_t n = (size_t)ch.rd_len;
		if (n > sizeof(in) || ch.wr_len != n + 4 ||
		    vtio_devq_read(q, &ch, 0, in, n) != (int64_t)n) {
			snprintf(c->msg, sizeof(c->msg), "device: bad request shape");
			c->dev_err = VTIO_EBADMSG;
			return NULL;
		}
		uint32_t sum = 0;
		for (size_t i = 0; i < n; i++) {
			out[i] = (unsigned char)(in[i] + 1);
			sum += in[i];
		}
		memcpy(out + n, &sum, 4);
		if (vtio_devq_write(q, &ch, 0, out, n + 4) != (int64_t)(n + 4) ||
		    vtio_devq_push(q, &ch, (uint32_t)(n + 4)) != 0) {
			snprintf(c->msg, sizeof(c->msg), "device: write/push failed");
			c->dev_err = VTIO_EIO;
			return NULL;
		}
		c->served++;
		/* NOTIF-DEV-3 inside: used idx published, barrier, suppression read. */
		if (c->cfg->sleep)
			vtio_devq_kick(q);
	}
	return NULL;
}

/* ---- Driver thread ---- */
struct req {
	uint32_t seq, len, wr_len;
	unsigned slot;
};

/* RESET-DRV-3..6, RESET-DEV-3..5 under concurrency: queue 0 gets buffers,
 * is reset, gives each token back once and is re-enabled, while the device
 * thread keeps serving queue 1. Returns 0 or an error (message in c->msg). */
static int reset_cycle(struct ctx *c)
{
	void *tok[2] = {c->rbuf, c->rbuf + 64};
	for (int i = 0; i < 2; i++) {
		struct vtio_sg sg[2] = {vtio_sg_of(tok[i], 32),
					vtio_sg_of((unsigned char *)tok[i] + 32, 32)};
		if (vtio_vq_add(c->rq, sg, 1, 1, tok[i]) != 0)
			return VTIO_EIO;
	}
	int r = vtio_vq_kick(c->rq);
	if (!r)
		r = vtio_transport_queue_reset(c->t, 0);
	if (r)
		return r;
	if (vtio_loopback_devq(&c->lb, 0) != NULL)
		return VTIO_EBUSY;
	unsigned seen = 0;
	void *t;
	while ((t = vtio_vq_detach_unused(c->rq)) != NULL) {
		unsigned k = t == tok[0] ? 1u : t == tok[1] ? 2u : 4u;
		if ((seen & k) || k == 4u)
			return VTIO_EPROTO;
		seen |= k;
	}
	if (seen != 3u)
		return VTIO_EPROTO;
	r = vtio_vq_reset(c->rq);
	if (!r)
		r = vtio_transport_queue_attach(c->t, c->rq);
	if (!r && vtio_loopback_devq(&c->lb, 0) == NULL)
		r = VTIO_ENODEV;
	c->resets++;
	return r;
}

static void *driver_thread(void *arg)
{
	struct ctx *c = arg;
	struct vtio_vq *vq = c->vq;
	unsigned nbuf = c->cfg->buffers, sent = 0, done = 0, spins = 0;
	static _Thread_local struct req reqs[QSIZE];
	unsigned free_slots[QSIZE], nfree = QSIZE;
	for (unsigned i = 0; i < QSIZE; i++)
		free_slots[i] = i;
	uint32_t expect_seq = 0;
	uint64_t stall_since = 0;
	unsigned stall_done = 0;
	while (done < nbuf) {
		unsigned added = 0;
		while (sent < nbuf && nfree > 0) {
			uint32_t h = mix(sent);
			unsigned nrd = 1 + h % MAX_RD, nwr = 1 + (h >> 8) % MAX_WR;
			unsigned slot = free_slots[nfree - 1];
			unsigned char *b = c->slots + (size_t)slot * SLOT_SIZE;
			struct vtio_sg sg[MAX_RD + MAX_WR];
			uint32_t off = 0;
			for (unsigned i = 0; i < nrd; i++) {
				uint32_t l = 1 + mix(sent * 8 + i) % SEG_MAX;
				for (uint32_t k = 0; k < l; k++)
					b[off + k] = (unsigned char)(sent * 7 + off + k);
				sg[i] = vtio_sg_of(b + off, l);
				off += l;
			}
			uint32_t payload = off, left = payload + 4;
			for (unsigned i = 0; i < nwr; i++) {
				uint32_t l = i + 1 == nwr ? left : (left + 1) / 2;
				memset(b + off, 0xee, l);
				sg[nrd + i] = vtio_sg_of(b + off, l);
				off += l;
				left -= l;
			}
			struct req *rq = &reqs[slot];
			rq->seq = sent;
			rq->len = payload;
			rq->wr_len = payload + 4;
			rq->slot = slot;
			int r = vtio_vq_add(vq, sg, nrd, nwr, rq);
			if (r == VTIO_ENOSPC)
				break;
			if (r) {
				snprintf(c->msg, sizeof(c->msg), "driver: add: %s",
					 vtio_strerror(r));
				c->drv_err = r;
				return NULL;
			}
			nfree--;
			sent++;
			added++;
		}
		if (added) {
			int r = vtio_vq_kick(vq);
			if (r) {
				snprintf(c->msg, sizeof(c->msg), "driver: kick: %s",
					 vtio_strerror(r));
				c->drv_err = r;
				return NULL;
			}
		}
		uint32_t len;
		struct req *rq;
		unsigned reaped = 0;
		while ((rq = vtio_vq_get_used(vq, &len)) != NULL) {
			const unsigned char *in = c->slots + (size_t)rq->slot * SLOT_SIZE;
			const unsigned char *out = in + rq->len;
			uint32_t sum = 0, got;
			int ok = len == rq->wr_len;
			for (uint32_t i = 0; ok && i < rq->len; i++) {
				ok = in[i] == (unsigned char)(rq->seq * 7 + i) &&
				     out[i] == (unsigned char)(in[i] + 1);
				sum += in[i];
			}
			memcpy(&got, out + rq->len, 4);
			if (!ok || got != sum) {
				snprintf(c->msg, sizeof(c->msg),
					 "driver: data mismatch in buffer %u", rq->seq);
				c->drv_err = VTIO_EBADMSG;
				return NULL;
			}
			if (c->cfg->in_order && rq->seq != expect_seq) {
				snprintf(c->msg, sizeof(c->msg),
					 "driver: IN_ORDER buffer %u used before %u", rq->seq,
					 expect_seq);
				c->drv_err = VTIO_EPROTO;
				return NULL;
			}
			expect_seq = rq->seq + 1;
			free_slots[nfree++] = rq->slot;
			done++;
			c->checked++;
			reaped++;
			if (c->cfg->ring_reset && done % 256 == 0) {
				int e = reset_cycle(c);
				if (e) {
					snprintf(c->msg, sizeof(c->msg),
						 "driver: queue 0 reset cycle %u: %s", c->resets,
						 vtio_strerror(e));
					c->drv_err = e;
					return NULL;
				}
			}
		}
		if (vtio_vq_is_broken(vq)) {
			snprintf(c->msg, sizeof(c->msg), "driver: broken: %s",
				 vtio_vq_broken_reason(vq));
			c->drv_err = VTIO_EIO;
			return NULL;
		}
		if (reaped || added || done == nbuf)
			continue;
		if (c->cfg->sleep) {
			/* No lost wake-up allowed: enable, re-check, sleep. */
			if (vtio_vq_enable_cb(vq)) {
				int r = vtio_host_event_wait_timeout(&c->callfd, WAIT_MS);
				if (r) {
					snprintf(c->msg, sizeof(c->msg),
						 "driver: no interrupt with %u of %u done", done,
						 sent);
					c->drv_err = r;
					return NULL;
				}
			}
			vtio_vq_disable_cb(vq);
		} else if (++spins % SPIN_YIELD == 0) {
			sched_yield();
			if (spins % (SPIN_YIELD * 64) == 0) {
				uint64_t now = vtio_host_now_ns();
				if (stall_since == 0 || done != stall_done) {
					stall_since = now;
					stall_done = done;
				} else if (now - stall_since > (uint64_t)WAIT_MS * 1000000u) {
					snprintf(c->msg, sizeof(c->msg),
						 "driver: stalled with %u of %u done, free %u, "
						 "more_used %d",
						 done, sent, vtio_vq_num_free(vq),
						 (int)vtio_vq_more_used(vq));
					c->drv_err = VTIO_ETIMEDOUT;
					return NULL;
				}
			}
		}
	}
	return NULL;
}

static void run_cfg(void **state)
{
	const struct cfg *cfg = *state;
	struct ctx *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->cfg = cfg;
	size_t ss = vtio_loopback_storage_size(2, QSIZE);
	size_t rs = vtio_transport_vq_ring_size(cfg->layout, QSIZE);
	size_t vs = vtio_vq_state_size(cfg->layout, QSIZE, QSIZE, MAX_RD + MAX_WR);
	c->arena_size = ss + 2 * (rs + vs) + (size_t)QSIZE * SLOT_SIZE + 8192;
	c->arena = aligned_alloc(4096, (c->arena_size + 4095u) & ~(size_t)4095u);
	assert_non_null(c->arena);
	memset(c->arena, 0, c->arena_size);
	c->region.addr = (uint64_t)(uintptr_t)c->arena;
	c->region.len = c->arena_size;
	c->region.host = c->arena;
	c->region.perm = VTIO_MEM_RW;
	assert_int_equal(vtio_mem_init(&c->mem, &c->region, 1), 0);

	struct vtio_loopback_config lc;
	memset(&lc, 0, sizeof(lc));
	lc.device_features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC) |
			     VTIO_FEATURE(VTIO_F_EVENT_IDX) | VTIO_FEATURE(VTIO_F_RING_PACKED) |
			     VTIO_FEATURE(VTIO_F_IN_ORDER) | VTIO_FEATURE(VTIO_F_RING_RESET);
	lc.num_queues = 2;
	lc.queue_max = QSIZE;
	lc.mem = &c->mem;
	lc.dev = &dev_ops;
	lc.dev_ctx = c;
	void *st = carve(c, ss);
	assert_int_equal(vtio_loopback_init(&c->lb, st, ss, &lc), 0);
	c->t = vtio_loopback_transport(&c->lb);
	vtio_transport_set_irq(c->t, drv_irq, NULL, c);
	struct vtio_transport_negotiation n;
	memset(&n, 0, sizeof(n));
	n.supported = VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
	if (cfg->event_idx)
		n.supported |= VTIO_FEATURE(VTIO_F_EVENT_IDX);
	if (cfg->layout == VTIO_LAYOUT_PACKED)
		n.supported |= VTIO_FEATURE(VTIO_F_RING_PACKED);
	if (cfg->in_order)
		n.supported |= VTIO_FEATURE(VTIO_F_IN_ORDER);
	if (cfg->ring_reset)
		n.supported |= VTIO_FEATURE(VTIO_F_RING_RESET);
	n.required = n.supported;
	c->tq = cfg->ring_reset ? 1 : 0;
	assert_int_equal(vtio_transport_negotiate(c->t, &n), 0);
	struct vtio_transport_vq_config qc;
	memset(&qc, 0, sizeof(qc));
	qc.num = QSIZE;
	qc.ring = carve(c, rs);
	qc.ring_size = rs;
	qc.indirect_tables = QSIZE;
	qc.indirect_max = MAX_RD + MAX_WR;
	qc.indirect_threshold = 3;
	qc.state = carve(c, vs);
	qc.state_size = vs;
	qc.index = c->tq;
	assert_int_equal(vtio_transport_vq_setup(c->t, &qc, &c->vq), 0);
	if (cfg->ring_reset) {
		qc.index = 0;
		qc.ring = carve(c, rs);
		qc.state = carve(c, vs);
		assert_int_equal(vtio_transport_vq_setup(c->t, &qc, &c->rq), 0);
		c->rbuf = carve(c, 128);
	}
	assert_int_equal(vtio_transport_driver_ok(c->t), 0);
	c->dq = vtio_loopback_devq(&c->lb, c->tq);
	assert_non_null(c->dq);
	c->slots = carve(c, (size_t)QSIZE * SLOT_SIZE);
	assert_int_equal(vtio_host_event_init(&c->kickfd), 0);
	assert_int_equal(vtio_host_event_init(&c->callfd), 0);

	pthread_t td, tv;
	assert_int_equal(pthread_create(&tv, NULL, device_thread, c), 0);
	assert_int_equal(pthread_create(&td, NULL, driver_thread, c), 0);
	pthread_join(td, NULL);
	if (c->drv_err) {
		/* Let the device thread finish or time out, then report. */
		__atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
		(void)vtio_host_event_signal(&c->kickfd);
	}
	pthread_join(tv, NULL);
	if (c->drv_err || c->dev_err)
		print_error("%s: %s (device served %u, more_avail %d)\n", cfg->name, c->msg,
			    c->served, (int)vtio_devq_more_avail(c->dq));
	assert_int_equal(c->drv_err, 0);
	assert_int_equal(c->dev_err, 0);
	assert_int_equal(c->checked, cfg->buffers);
	assert_int_equal(c->served, cfg->buffers);
	struct vtio_vq_stats vs_;
	vtio_vq_get_stats(c->vq, &vs_);
	assert_true(vs_.indirect > 0); /* buffers of 3+ segments went indirect */
	assert_int_equal(vs_.used, cfg->buffers);
	assert_int_equal(vs_.len_clamped, 0);
	struct vtio_loopback_stats ls;
	vtio_loopback_get_stats(&c->lb, &ls);
	if (cfg->sleep) {
		/* Suppression worked: far fewer notifications than buffers. */
		assert_true(ls.kicks > 0 && ls.irqs > 0);
	}
	assert_int_equal(ls.kicks_dropped, 0);
	assert_int_equal(ls.queue_resets, c->resets);
	if (cfg->ring_reset)
		assert_true(c->resets >= cfg->buffers / 256 - 1);
	assert_int_equal(ls.irqs_dropped, 0);
	assert_int_equal(vtio_transport_reset(c->t), 0);
	vtio_host_event_close(&c->kickfd);
	vtio_host_event_close(&c->callfd);
	free(c->arena);
	free(c);
}

#define N 30000u
static const struct cfg cfgs[] = {
    {"split poll", VTIO_LAYOUT_SPLIT, false, false, false, N, false},
    {"split poll event_idx", VTIO_LAYOUT_SPLIT, true, false, false, N, false},
    {"split eventfd", VTIO_LAYOUT_SPLIT, false, true, false, N, false},
    {"split eventfd event_idx", VTIO_LAYOUT_SPLIT, true, true, false, N, false},
    {"split eventfd event_idx in_order", VTIO_LAYOUT_SPLIT, true, true, true, N, false},
    {"packed poll", VTIO_LAYOUT_PACKED, false, false, false, N, false},
    {"packed poll event_idx", VTIO_LAYOUT_PACKED, true, false, false, N, false},
    {"packed eventfd", VTIO_LAYOUT_PACKED, false, true, false, N, false},
    {"packed eventfd event_idx", VTIO_LAYOUT_PACKED, true, true, false, N, false},
    {"packed eventfd event_idx in_order", VTIO_LAYOUT_PACKED, true, true, true, N, false},
    {"split eventfd event_idx ring_reset", VTIO_LAYOUT_SPLIT, true, true, false, N, true},
    {"packed poll ring_reset", VTIO_LAYOUT_PACKED, false, false, false, N, true},
};

int main(void)
{
	struct CMUnitTest tests[sizeof(cfgs) / sizeof(cfgs[0])];
	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		memset(&tests[i], 0, sizeof(tests[i]));
		tests[i].name = cfgs[i].name;
		tests[i].test_func = run_cfg;
		tests[i].initial_state = (void *)(uintptr_t)&cfgs[i];
	}
	return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
