/*
 * vhost-user, our front end against our back end in one process: the back
 * end runs its event loop in a thread, the test thread drives the front
 * end. A test device XORs every readable byte into the writable part.
 *
 * - data through split and packed rings, two queues, indirect and direct
 *   buffers, checked byte by byte (SPLIT-DRV/DEV, PACKED-DRV/DEV through a
 *   real socket and shared memory);
 * - GET_VRING_BASE returns where the ring stopped (split: the avail index;
 *   packed: slot + wrap in both halves);
 * - reconnection: a second front end is served after the first went away;
 * - the back end dies with buffers in flight: each is failed back once;
 * - malformed messages: every one drops the connection, counted, and the
 *   back end serves a well-behaved front end afterwards.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "vtio/vhost_user.h"
#include "vhost_internal.h"
#include "tc_util.h"

#define NQ    2u
#define QSIZE 64u
#define BUF   300u

struct server {
	char dir[64];
	char path[128];
	struct vtio_vhost_be *be;
	pthread_t th;
	atomic_bool stop;
	atomic_bool kill_conn;	/* destroy the back end (the front end sees EOF) */
	atomic_bool hold;	/* pop chains but never push them */
	atomic_uint idle_calls; /* queue_work returns "drained" without popping this often */
	atomic_uint held;
	struct vtio_vhost_be_stats stats; /* copied when the thread ends */
	/* Each queue's vtio_vhost_be_queue_info() after the last run that found
	 * it live, and what the call gave for the first index past the end. */
	struct vtio_vhost_be_queue_info info[NQ];
	int info_past_end;
	uint64_t features;
	struct vtio_iov rd[QSIZE + 1100], wr[QSIZE + 1100];
	struct vtio_devq_chain kept[NQ][QSIZE];
	struct vtio_iov kept_iov[NQ][QSIZE][2][4];
	unsigned nkept[NQ];
};

static bool xor_work(void *ctx, struct vtio_vhost_be *be, unsigned qi, struct vtio_devq *q)
{
	struct server *s = ctx;
	(void)be;
	for (;;) {
		struct vtio_devq_chain c;
		memset(&c, 0, sizeof(c));
		unsigned idle = atomic_load(&s->idle_calls);
		if (idle != 0) {
			atomic_store(&s->idle_calls, idle - 1);
			return true; /* claims drained, leaves the ring as it is */
		}
		if (atomic_load(&s->hold)) {
			if (s->nkept[qi] == QSIZE)
				return true;
			struct vtio_devq_chain *k = &s->kept[qi][s->nkept[qi]];
			tc_chain_init(k, s->kept_iov[qi][s->nkept[qi]][0], 4,
				      s->kept_iov[qi][s->nkept[qi]][1], 4);
			if (vtio_devq_pop(q, k) != 0)
				return true;
			s->nkept[qi]++;
			atomic_fetch_add(&s->held, 1);
			continue;
		}
		c.rd = s->rd;
		c.rd_max = QSIZE + 1100;
		c.wr = s->wr;
		c.wr_max = QSIZE + 1100;
		if (vtio_devq_pop(q, &c) != 0)
			return true;
		unsigned char tmp[4096];
		uint64_t n = c.rd_len < c.wr_len ? c.rd_len : c.wr_len;
		if (n > sizeof(tmp))
			n = sizeof(tmp);
		if (vtio_devq_read(q, &c, 0, tmp, (size_t)n) != (int64_t)n)
			n = 0;
		for (uint64_t i = 0; i < n; i++)
			tmp[i] ^= 0x5a;
		if (vtio_devq_write(q, &c, 0, tmp, (size_t)n) != (int64_t)n)
			n = 0;
		vtio_devq_push(q, &c, (uint32_t)n);
	}
}

static void xor_state(void *ctx, struct vtio_vhost_be *be, unsigned qi, bool live)
{
	struct server *s = ctx;
	(void)be;
	if (!live)
		s->nkept[qi] = 0; /* popped chains die with the queue */
}

static const struct vtio_vhost_be_ops xor_ops = {.queue_work = xor_work, .queue_state = xor_state};

static void *server_main(void *arg)
{
	struct server *s = arg;
	while (!atomic_load(&s->stop)) {
		if (atomic_load(&s->kill_conn) && s->be != NULL) {
			vtio_vhost_be_get_stats(s->be, &s->stats);
			vtio_vhost_be_destroy(s->be);
			s->be = NULL;
		}
		if (s->be != NULL) {
			vtio_vhost_be_run(s->be, 5);
			s->features = vtio_vhost_be_features(s->be);
			for (unsigned qi = 0; qi < NQ; qi++) {
				struct vtio_vhost_be_queue_info qinfo;
				assert_int_equal(vtio_vhost_be_queue_info(s->be, qi, &qinfo), 0);
				if (qinfo.live)
					s->info[qi] = qinfo;
			}
			struct vtio_vhost_be_queue_info past;
			s->info_past_end = vtio_vhost_be_queue_info(s->be, NQ, &past);
		} else {
			usleep(1000);
		}
	}
	if (s->be != NULL) {
		vtio_vhost_be_get_stats(s->be, &s->stats);
		vtio_vhost_be_destroy(s->be);
	}
	return NULL;
}

static struct server *server_start(bool packed)
{
	struct server *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	strcpy(s->dir, "/tmp/vtio-vhost-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/be.sock", s->dir);
	struct vtio_vhost_be_config c;
	memset(&c, 0, sizeof(c));
	c.path = s->path;
	c.features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC) |
		     VTIO_FEATURE(VTIO_F_EVENT_IDX);
	if (packed)
		c.features |= VTIO_FEATURE(VTIO_F_RING_PACKED);
	c.protocol_features = VTIO_VHOST_USER_PROTOCOL_SUPPORTED;
	c.num_queues = NQ;
	c.max_queue_size = 1024;
	c.ops = &xor_ops;
	c.ctx = s;
	assert_int_equal(vtio_vhost_be_create(&s->be, &c), 0);
	assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
	return s;
}

static void server_stop(struct server *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->th, NULL);
	rmdir(s->dir);
}

/* ---- front end side ------------------------------------------------------------- */

struct req {
	unsigned char *out, *in;
	uint32_t len;
	bool done;
	int status;
	uint32_t got;
	unsigned q;
};

struct client {
	unsigned completions, failures;
	int last_status;
};

static void on_complete(void *ctx, unsigned qi, void *token, uint32_t len, int status)
{
	struct client *cl = ctx;
	struct req *r = token;
	(void)qi;
	assert_false(r->done); /* exactly once */
	r->done = true;
	r->status = status;
	r->got = len;
	cl->completions++;
	if (status != 0) {
		cl->failures++;
		cl->last_status = status;
	}
}

static struct vtio_vhost_fe *fe_connect(const char *path, bool packed, struct client *cl)
{
	struct vtio_vhost_fe_config c;
	memset(&c, 0, sizeof(c));
	c.path = path;
	c.fd = -1;
	c.connect_timeout_ms = 2000;
	c.features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC) |
		     VTIO_FEATURE(VTIO_F_EVENT_IDX);
	c.required = VTIO_FEATURE(VTIO_F_VERSION_1);
	c.packed = packed;
	c.num_queues = NQ;
	c.queue_size = QSIZE;
	c.mem_size = 4u << 20;
	c.indirect_tables = QSIZE;
	c.indirect_max = 8;
	c.indirect_threshold = 3; /* three segments indirect, two direct */
	c.complete = on_complete;
	c.ctx = cl;
	char err[160] = "";
	c.errbuf = err;
	c.errbuf_len = sizeof(err);
	struct vtio_vhost_fe *fe = NULL;
	int r = vtio_vhost_fe_connect(&fe, &c);
	if (r != 0)
		fprintf(stderr, "connect: %s\n", err);
	assert_int_equal(r, 0);
	uint64_t f = vtio_vhost_fe_features(fe);
	assert_int_equal((f & VTIO_FEATURE(VTIO_F_RING_PACKED)) != 0, packed);
	return fe;
}

/* @n buffers of varying shapes over both queues; every byte checked. */
static void do_io(struct vtio_vhost_fe *fe, struct client *cl, unsigned n)
{
	struct req *r = calloc(n, sizeof(*r));
	assert_non_null(r);
	unsigned next = 0, done = 0;
	for (unsigned i = 0; i < n; i++) {
		r[i].len = 1 + (i * 37u) % BUF;
		r[i].out = vtio_vhost_fe_alloc(fe, r[i].len, 1);
		r[i].in = vtio_vhost_fe_alloc(fe, r[i].len, 1);
		assert_non_null(r[i].out);
		assert_non_null(r[i].in);
		r[i].q = i % NQ;
		for (uint32_t k = 0; k < r[i].len; k++)
			r[i].out[k] = (unsigned char)(i * 7u + k);
	}
	unsigned before = cl->completions;
	while (done < n) {
		while (next < n) {
			struct req *q = &r[next];
			struct vtio_sg sg[4];
			unsigned out = 1, in = 1;
			sg[0] = vtio_sg_of(q->out, q->len);
			if (q->len > 2 && next % 3 == 0) { /* three segments: goes indirect */
				sg[0].len = q->len / 2;
				sg[1] = vtio_sg_of(q->out + q->len / 2, q->len - q->len / 2);
				out = 2;
			}
			sg[out] = vtio_sg_of(q->in, q->len);
			int e = vtio_vq_add(vtio_vhost_fe_vq(fe, q->q), sg, out, in, q);
			if (e == VTIO_ENOSPC)
				break;
			assert_int_equal(e, 0);
			next++;
		}
		for (unsigned qi = 0; qi < NQ; qi++)
			assert_int_equal(vtio_vhost_fe_kick(fe, qi), 0);
		assert_int_equal(vtio_vhost_fe_poll(fe, 1000), 0);
		done = cl->completions - before;
	}
	for (unsigned i = 0; i < n; i++) {
		assert_true(r[i].done);
		assert_int_equal(r[i].status, 0);
		assert_int_equal(r[i].got, r[i].len);
		for (uint32_t k = 0; k < r[i].len; k++)
			assert_int_equal(r[i].in[k], (unsigned char)((i * 7u + k) ^ 0x5a));
	}
	free(r);
}

static void run_data(bool packed)
{
	struct server *s = server_start(packed);
	struct client cl = {0};
	struct vtio_vhost_fe *fe = fe_connect(s->path, packed, &cl);
	do_io(fe, &cl, 700);
	/* Stop: the back end reports where each ring stopped. 350 buffers per
	 * queue, one ring slot each for split accounting; packed counts slots
	 * (indirect buffers take one, direct ones two). */
	uint32_t base[NQ];
	assert_int_equal(vtio_vhost_fe_stop(fe, base, NQ), 0);
	if (!packed) {
		assert_int_equal(base[0], 350);
		assert_int_equal(base[1], 350);
	} else {
		for (unsigned qi = 0; qi < NQ; qi++) {
			/* both halves equal: nothing was in flight */
			assert_int_equal(base[qi] & 0xffffu, base[qi] >> 16);
			assert_true((base[qi] & 0x7fffu) < QSIZE);
		}
	}
	vtio_vhost_fe_close(fe);
	server_stop(s);
	assert_int_equal(s->stats.protocol_errors, 0);
	assert_int_equal(s->stats.connections, 1);
	/* The queues as the back end last saw them live: every buffer taken,
	 * kicked and called at least once, the device's event word where its
	 * last enable_notify put it (EVENT_IDX: the next position). */
	assert_int_equal(s->info_past_end, VTIO_ERANGE);
	for (unsigned qi = 0; qi < NQ; qi++) {
		const struct vtio_vhost_be_queue_info *qinfo = &s->info[qi];
		assert_true(qinfo->live);
		assert_int_equal(qinfo->num, QSIZE);
		assert_false(qinfo->avail);
		assert_true(qinfo->kicks >= 1);
		assert_true(qinfo->calls >= 1 && qinfo->calls <= 350);
		assert_int_equal(qinfo->pos.in_flight, 0);
		if (!packed) {
			assert_int_equal(qinfo->pos.avail_idx, 350);
			assert_int_equal(qinfo->pos.used_idx, 350);
			assert_int_equal(qinfo->device_event >> 16, 350); /* avail_event */
		} else {
			assert_int_equal(qinfo->pos.avail_idx, base[qi] & 0x7fffu);
			uint32_t ow = qinfo->pos.avail_idx | (uint32_t)qinfo->pos.avail_wrap << 15;
			assert_int_equal(qinfo->device_event & 0xffffu, ow);
			assert_int_equal(qinfo->device_event >> 16, VTIO_RING_EVENT_FLAGS_DESC);
			/* The driver's: DESC (EVENT_IDX) or DISABLE, never reserved. */
			assert_true((qinfo->driver_event >> 16) <= VTIO_RING_EVENT_FLAGS_DESC);
		}
	}
	free(s);
}

static void test_data_split(void **st)
{
	(void)st;
	run_data(false);
}

static void test_data_packed(void **st)
{
	(void)st;
	run_data(true);
}

/*
 * run_queue() stops after 64 rounds of queue_work + re-arm that each found
 * the ring non-empty; the buffers still waiting then have no kick coming
 * (they were made available before the event index moved), so the next
 * vtio_vhost_be_run() must take them up by itself. queue_work here claims
 * "drained" 100 times without popping: 64 rounds, the cap, then 36 more.
 */
static void test_round_cap(void **st)
{
	(void)st;
	for (int packed = 0; packed < 2; packed++) {
		struct server *s = server_start(packed != 0);
		struct client cl = {0};
		struct vtio_vhost_fe *fe = fe_connect(s->path, packed != 0, &cl);
		unsigned char *out = vtio_vhost_fe_alloc(fe, 16, 1);
		unsigned char *in = vtio_vhost_fe_alloc(fe, 16, 1);
		assert_non_null(out);
		assert_non_null(in);
		memset(out, 0x11, 16);
		struct req r = {.out = out, .in = in, .len = 16, .q = 0};
		struct vtio_sg sg[2] = {vtio_sg_of(out, 16), vtio_sg_of(in, 16)};
		atomic_store(&s->idle_calls, 100);
		assert_int_equal(vtio_vq_add(vtio_vhost_fe_vq(fe, 0), sg, 1, 1, &r), 0);
		assert_int_equal(vtio_vhost_fe_kick(fe, 0), 0); /* the only kick */
		for (int i = 0; i < 200 && !r.done; i++)
			assert_int_equal(vtio_vhost_fe_poll(fe, 10), 0);
		assert_true(r.done);
		assert_int_equal(r.status, 0);
		assert_int_equal(r.got, 16);
		assert_int_equal(in[0], 0x11 ^ 0x5a);
		assert_int_equal(atomic_load(&s->idle_calls), 0);
		vtio_vhost_fe_close(fe);
		server_stop(s);
		free(s);
	}
}

/* A front end goes away and a new one comes: served again, rings from 0. */
static void test_reconnect(void **st)
{
	(void)st;
	for (int packed = 0; packed < 2; packed++) {
		struct server *s = server_start(packed != 0);
		for (int round = 0; round < 3; round++) {
			struct client cl = {0};
			struct vtio_vhost_fe *fe = fe_connect(s->path, packed != 0, &cl);
			do_io(fe, &cl, 100 + 50u * (unsigned)round);
			vtio_vhost_fe_close(fe);
		}
		server_stop(s);
		assert_int_equal(s->stats.connections, 3);
		assert_int_equal(s->stats.protocol_errors, 0);
		free(s);
	}
}

/* The back end dies with buffers popped and not used: each comes back once,
 * with VTIO_EIO; later polls complete nothing more. */
static void test_backend_dies(void **st)
{
	(void)st;
	for (int packed = 0; packed < 2; packed++) {
		struct server *s = server_start(packed != 0);
		atomic_store(&s->hold, true);
		struct client cl = {0};
		struct vtio_vhost_fe *fe = fe_connect(s->path, packed != 0, &cl);
		struct req r[20];
		memset(r, 0, sizeof(r));
		for (unsigned i = 0; i < 20; i++) {
			r[i].len = 16;
			r[i].out = vtio_vhost_fe_alloc(fe, 16, 1);
			r[i].in = vtio_vhost_fe_alloc(fe, 16, 1);
			struct vtio_sg sg[2] = {vtio_sg_of(r[i].out, 16), vtio_sg_of(r[i].in, 16)};
			assert_int_equal(vtio_vq_add(vtio_vhost_fe_vq(fe, i % NQ), sg, 1, 1, &r[i]),
					 0);
		}
		for (unsigned qi = 0; qi < NQ; qi++)
			vtio_vhost_fe_kick(fe, qi);
		for (int t = 0; t < 2000 && atomic_load(&s->held) < 20; t++) {
			assert_int_equal(vtio_vhost_fe_poll(fe, 1), 0);
		}
		assert_int_equal(atomic_load(&s->held), 20);
		assert_int_equal(cl.completions, 0);
		atomic_store(&s->kill_conn, true);
		int rc = 0;
		for (int t = 0; t < 2000 && rc == 0; t++)
			rc = vtio_vhost_fe_poll(fe, 5);
		assert_int_equal(rc, VTIO_EIO);
		assert_true(vtio_vhost_fe_dead(fe));
		assert_int_equal(cl.completions, 20);
		assert_int_equal(cl.failures, 20);
		assert_int_equal(cl.last_status, VTIO_EIO);
		assert_int_equal(vtio_vhost_fe_poll(fe, 0), VTIO_EIO);
		assert_int_equal(vtio_vhost_fe_kick(fe, 0), VTIO_EIO);
		vtio_vhost_fe_close(fe);
		assert_int_equal(cl.completions, 20); /* close fails nothing twice */
		server_stop(s);
		free(s);
	}
}

/* ---- malformed messages ------------------------------------------------------------ */

static int raw_connect(const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void raw_send(int fd, uint32_t req, uint32_t flags, const void *p, uint32_t size,
		     const int *fds, unsigned nfds)
{
	assert_int_equal(vtio__vhost_send(fd, req, flags, p, size, fds, nfds), 0);
}

/* True when the back end closes the connection within 2 s (replies skipped). */
static bool dropped(int fd)
{
	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, 2000) <= 0)
			return false;
		char b[512];
		ssize_t r = recv(fd, b, sizeof(b), 0);
		if (r <= 0)
			return true;
	}
}

static int memfd_of(size_t size)
{
	int fd = memfd_create("vhost-test", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void u64_msg(int fd, uint32_t req, uint64_t v)
{
	raw_send(fd, req, 1, &v, 8, NULL, 0);
}

static void mem_table(int fd, unsigned n, const void *r, const int *fds, unsigned nfds)
{
	unsigned char p[8 + 8 * 32];
	memset(p, 0, sizeof(p));
	uint32_t nn = n;
	memcpy(p, &nn, 4);
	memcpy(p + 8, r, n * 32u);
	raw_send(fd, VTIO_VHOST_USER_SET_MEM_TABLE, 1, p, 8 + n * 32u, fds, nfds);
}

static void test_malformed(void **st)
{
	(void)st;
	struct server *s = server_start(false);
	uint64_t ver1 = VTIO_FEATURE(VTIO_F_VERSION_1);
	int mfd = memfd_of(65536);
	unsigned cases = 0;
	for (int c = 0;; c++) {
		int fd = raw_connect(s->path);
		if (getenv("VTIO_TEST_VERBOSE"))
			fprintf(stderr, "malformed case %d\n", c);
		uint32_t st2[2];
		int efd = eventfd(0, 0);
		switch (c) {
		case 0: /* version 2 */
			raw_send(fd, VTIO_VHOST_USER_GET_FEATURES, 2, NULL, 0, NULL, 0);
			break;
		case 1: /* payload larger than any message */
		{
			uint32_t h[3] = {VTIO_VHOST_USER_SET_FEATURES, 1, 5000};
			assert_int_equal(send(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
		} break;
		case 2: /* queue index out of range */
			st2[0] = 99;
			st2[1] = 64;
			raw_send(fd, VTIO_VHOST_USER_SET_VRING_NUM, 1, st2, 8, NULL, 0);
			break;
		case 3: /* ring size 0 */
			st2[0] = 0;
			st2[1] = 0;
			raw_send(fd, VTIO_VHOST_USER_SET_VRING_NUM, 1, st2, 8, NULL, 0);
			break;
		case 4: /* split ring size not a power of 2 */
			u64_msg(fd, VTIO_VHOST_USER_SET_FEATURES, ver1);
			st2[0] = 0;
			st2[1] = 100;
			raw_send(fd, VTIO_VHOST_USER_SET_VRING_NUM, 1, st2, 8, NULL, 0);
			break;
		case 5: { /* overlapping regions */
			uint64_t r[2][4] = {{0, 65536, 0x10000000, 0},
					    {32768, 32768, 0x20000000, 0}};
			int fds[2] = {mfd, mfd};
			mem_table(fd, 2, r, fds, 2);
			break;
		}
		case 6: { /* one region, no fd */
			uint64_t r[1][4] = {{0, 65536, 0x10000000, 0}};
			mem_table(fd, 1, r, NULL, 0);
			break;
		}
		case 7: { /* region larger than its file */
			uint64_t r[1][4] = {{0, 1u << 20, 0x10000000, 0}};
			mem_table(fd, 1, r, &mfd, 1);
			break;
		}
		case 8: { /* region wrapping past 2^64 */
			uint64_t r[1][4] = {{UINT64_MAX - 100, 65536, 0x10000000, 0}};
			mem_table(fd, 1, r, &mfd, 1);
			break;
		}
		case 9: /* kick without fd and without the no-fd flag */
			u64_msg(fd, VTIO_VHOST_USER_SET_VRING_KICK, 0);
			break;
		case 10: /* fd passed with a message that takes none */
			raw_send(fd, VTIO_VHOST_USER_SET_OWNER, 1, NULL, 0, &efd, 1);
			break;
		case 11: /* unknown request */
			raw_send(fd, 99, 1, NULL, 0, NULL, 0);
			break;
		case 12: /* features not offered */
			u64_msg(fd, VTIO_VHOST_USER_SET_FEATURES, 1ull << 60);
			break;
		case 13: { /* ring address outside the memory table */
			uint64_t r[1][4] = {{0, 65536, 0x10000000, 0}};
			u64_msg(fd, VTIO_VHOST_USER_SET_FEATURES, ver1);
			mem_table(fd, 1, r, &mfd, 1);
			st2[0] = 0;
			st2[1] = 64;
			raw_send(fd, VTIO_VHOST_USER_SET_VRING_NUM, 1, st2, 8, NULL, 0);
			uint32_t a[10] = {0};
			uint64_t ua[4] = {0x30000000, 0x10001000, 0x10002000, 0};
			memcpy(&a[2], ua, sizeof(ua));
			raw_send(fd, VTIO_VHOST_USER_SET_VRING_ADDR, 1, a, 40, NULL, 0);
			u64_msg(fd, VTIO_VHOST_USER_SET_VRING_KICK, VTIO_VHOST_USER_VRING_NOFD);
			break;
		}
		case 14: { /* ring running off the end of the region */
			uint64_t r[1][4] = {{0, 65536, 0x10000000, 0}};
			u64_msg(fd, VTIO_VHOST_USER_SET_FEATURES, ver1);
			mem_table(fd, 1, r, &mfd, 1);
			st2[0] = 0;
			st2[1] = 1024;
			raw_send(fd, VTIO_VHOST_USER_SET_VRING_NUM, 1, st2, 8, NULL, 0);
			uint32_t a[10] = {0};
			uint64_t ua[4] = {0x1000f000, 0x10001000, 0x10002000, 0};
			memcpy(&a[2], ua, sizeof(ua));
			raw_send(fd, VTIO_VHOST_USER_SET_VRING_ADDR, 1, a, 40, NULL, 0);
			raw_send(fd, VTIO_VHOST_USER_SET_VRING_KICK, 1, (uint64_t[]){0}, 8, &efd,
				 1);
			break;
		}
		case 15: { /* config size does not match the message */
			uint32_t cfg[4] = {0, 8, 0, 0};
			raw_send(fd, VTIO_VHOST_USER_GET_CONFIG, 1, cfg, 16, NULL, 0);
			break;
		}
		case 16: /* truncated payload, then EOF */
		{
			uint32_t h[4] = {VTIO_VHOST_USER_SET_FEATURES, 1, 8, 0};
			assert_int_equal(send(fd, h, 16, 0), 16);
			shutdown(fd, SHUT_WR);
		} break;
		case 17: /* the reply flag on a request */
			raw_send(fd, VTIO_VHOST_USER_GET_FEATURES, 1 | VTIO_VHOST_USER_FLAG_REPLY,
				 NULL, 0, NULL, 0);
			break;
		case 18: /* SET_VRING_ENABLE 2 */
			st2[0] = 0;
			st2[1] = 2;
			raw_send(fd, VTIO_VHOST_USER_SET_VRING_ENABLE, 1, st2, 8, NULL, 0);
			break;
		default:
			close(efd);
			close(fd);
			goto done;
		}
		close(efd);
		if (!dropped(fd))
			fail_msg("malformed case %d: connection not dropped", c);
		close(fd);
		cases++;
	}
done:
	close(mfd);
	/* Still serving: a real front end works. */
	struct client cl = {0};
	struct vtio_vhost_fe *fe = fe_connect(s->path, false, &cl);
	do_io(fe, &cl, 50);
	vtio_vhost_fe_close(fe);
	server_stop(s);
	assert_int_equal(s->stats.protocol_errors, cases);
	assert_int_equal(s->stats.connections, cases + 2); /* + the empty one, + the good one */
	free(s);
}

/* Well-formed messages the back end must answer: REPLY_ACK, GET_QUEUE_NUM,
 * GET_STATUS, GET_VRING_BASE of a ring never started, a second front end
 * while one is served is refused. */
static void test_replies(void **st)
{
	(void)st;
	struct server *s = server_start(true);
	int fd = raw_connect(s->path);
	struct vtio__vhost_msg m;
	char err[128];
	raw_send(fd, VTIO_VHOST_USER_GET_PROTOCOL_FEATURES, 1, NULL, 0, NULL, 0);
	assert_int_equal(vtio__vhost_recv(fd, &m, 2000, err, sizeof(err)), 0);
	assert_int_equal(m.flags, 1 | VTIO_VHOST_USER_FLAG_REPLY);
	assert_int_equal(vtio__vhost_u64(&m), VTIO_VHOST_USER_PROTOCOL_SUPPORTED);
	u64_msg(fd, VTIO_VHOST_USER_SET_PROTOCOL_FEATURES, VTIO_VHOST_USER_PROTOCOL_SUPPORTED);
	/* NEED_REPLY: an ack of 0 */
	uint64_t f = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_RING_PACKED);
	raw_send(fd, VTIO_VHOST_USER_SET_FEATURES, 1 | VTIO_VHOST_USER_FLAG_NEED_REPLY, &f, 8, NULL,
		 0);
	assert_int_equal(vtio__vhost_recv(fd, &m, 2000, err, sizeof(err)), 0);
	assert_int_equal(m.req, VTIO_VHOST_USER_SET_FEATURES);
	assert_int_equal(m.size, 8);
	assert_int_equal(vtio__vhost_u64(&m), 0);
	/* SET_CONFIG with no set_config op: refused with an ack of 1, kept */
	uint32_t cfg[4] = {0, 4, 0, 0};
	raw_send(fd, VTIO_VHOST_USER_SET_CONFIG, 1 | VTIO_VHOST_USER_FLAG_NEED_REPLY, cfg, 16, NULL,
		 0);
	assert_int_equal(vtio__vhost_recv(fd, &m, 2000, err, sizeof(err)), 0);
	assert_int_equal(vtio__vhost_u64(&m), 1);
	raw_send(fd, VTIO_VHOST_USER_GET_QUEUE_NUM, 1, NULL, 0, NULL, 0);
	assert_int_equal(vtio__vhost_recv(fd, &m, 2000, err, sizeof(err)), 0);
	assert_int_equal(vtio__vhost_u64(&m), NQ);
	u64_msg(fd, VTIO_VHOST_USER_SET_STATUS, VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_FEATURES_OK);
	raw_send(fd, VTIO_VHOST_USER_GET_STATUS, 1, NULL, 0, NULL, 0);
	assert_int_equal(vtio__vhost_recv(fd, &m, 2000, err, sizeof(err)), 0);
	assert_int_equal(vtio__vhost_u64(&m), VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_FEATURES_OK);
	/* packed base set, then read back without starting */
	uint32_t st2[2] = {1, 0x80058005u};
	raw_send(fd, VTIO_VHOST_USER_SET_VRING_BASE, 1, st2, 8, NULL, 0);
	raw_send(fd, VTIO_VHOST_USER_GET_VRING_BASE, 1, st2, 8, NULL, 0);
	assert_int_equal(vtio__vhost_recv(fd, &m, 2000, err, sizeof(err)), 0);
	assert_int_equal(m.size, 8);
	assert_int_equal(vtio__vhost_state(&m).index, 1);
	assert_int_equal(vtio__vhost_state(&m).num, 0x80058005u);
	/* a second front end waits while this one is served, then is served */
	int fd2 = raw_connect(s->path);
	raw_send(fd2, VTIO_VHOST_USER_GET_FEATURES, 1, NULL, 0, NULL, 0);
	struct pollfd pf = {.fd = fd2, .events = POLLIN};
	assert_int_equal(poll(&pf, 1, 200), 0);
	close(fd);
	assert_int_equal(vtio__vhost_recv(fd2, &m, 2000, err, sizeof(err)), 0);
	assert_int_equal(m.req, VTIO_VHOST_USER_GET_FEATURES);
	assert_true(vtio__vhost_u64(&m) & VTIO_FEATURE(VTIO_F_RING_PACKED));
	close(fd2);
	server_stop(s);
	assert_int_equal(s->stats.protocol_errors, 0);
	assert_int_equal(s->stats.connections, 2);
	free(s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* the back end may close before a send */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_data_split),	 cmocka_unit_test(test_data_packed),
	    cmocka_unit_test(test_reconnect),	 cmocka_unit_test(test_round_cap),
	    cmocka_unit_test(test_backend_dies), cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
