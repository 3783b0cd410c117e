/*
 * Seed 002 end to end: a driver process whose buffers are private (heap,
 * never in the window) and a device process (this program re-executed with
 * --device, so it shares no memory with the driver but the window) that
 * maps only the shared window. The bounce pool in the window carries every
 * payload; config, status and features go over the message-queue transport
 * (the mmio driver's register accesses as messages, the mmio register model
 * in front of the device core), notifications by eventfd doorbells.
 *
 * The device is an echo device: for every chain it reads the readable part,
 * writes it back XOR 0x5a followed by the FNV-1a checksum of what it read,
 * and records in its config space what it saw: chains, the lowest and
 * highest device address of any piece, the pieces whose local pointer was
 * outside its window mapping, the number of regions of its memory view, the
 * sessions it served. The driver reads those over CONFIG_READ messages.
 *
 * Reliability: the device process is killed (SIGKILL) mid-stream, several
 * times, split and packed: the driver notices (socket closes), fails every
 * in-flight buffer back exactly once, and recovers by reset on a new device
 * process; driver processes are killed mid-stream and the device serves the
 * next one. Every buffer that completed is checked byte for byte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "host_msgq_link.h"
#include "vtio.h"

#define MAX_PAYLOAD 4096u
#define DEPTH	    32u
#define ECHO_ID	    0x7f00u /* a device id for tests */

/* Config space of the echo device (le64 fields). */
enum {
	CFG_CHAINS = 0,
	CFG_BYTES = 8,
	CFG_OUTSIDE = 16,
	CFG_MIN_ADDR = 24,
	CFG_MAX_END = 32,
	CFG_SESSIONS = 40,
	CFG_REGIONS = 48,
	CFG_WINDOW = 56,
	CFG_LEN = 64
};

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* ---- Device process ---------------------------------------------------------------------- */

static struct vtio_host_msgq_dev dsrv;
static unsigned char dcfg[CFG_LEN];
static volatile sig_atomic_t dstop;

static void cfg_put(unsigned off, uint64_t v)
{
	v = vtio_le64(v);
	memcpy(dcfg + off, &v, 8);
}

static uint64_t cfg_get(unsigned off)
{
	uint64_t v;
	memcpy(&v, dcfg + off, 8);
	return vtio_le64(v);
}

static void note_piece(const struct vtio_iov *io)
{
	const unsigned char *lo = dsrv.link.win.base, *hi = lo + dsrv.link.win.size;
	const unsigned char *p = io->ptr;
	if (p == NULL || p < lo || p + io->len > hi)
		cfg_put(CFG_OUTSIDE, cfg_get(CFG_OUTSIDE) + 1);
	if (io->addr < cfg_get(CFG_MIN_ADDR))
		cfg_put(CFG_MIN_ADDR, io->addr);
	if (io->addr + io->len > cfg_get(CFG_MAX_END))
		cfg_put(CFG_MAX_END, io->addr + io->len);
}

static int echo_kick(void *ctx, uint16_t index, uint32_t data)
{
	(void)ctx;
	(void)data;
	struct vtio_devq *q = vtio_dev_devq(&dsrv.dev, index);
	static unsigned char in[MAX_PAYLOAD], out[MAX_PAYLOAD + 4];
	struct vtio_iov rd[4], wr[4];
	while (q) {
		struct vtio_devq_chain c = {.rd = rd, .rd_max = 4, .wr = wr, .wr_max = 4};
		int rc = vtio_devq_pop(q, &c);
		if (rc == VTIO_EAGAIN) {
			if (vtio_devq_enable_notify(q))
				break;
			continue;
		}
		if (rc != 0) {
			vtio_dev_check_queue(&dsrv.dev, index);
			break;
		}
		for (unsigned i = 0; i < c.rd_num; i++)
			note_piece(&rd[i]);
		for (unsigned i = 0; i < c.wr_num; i++)
			note_piece(&wr[i]);
		uint32_t n = (uint32_t)(c.rd_len > MAX_PAYLOAD ? MAX_PAYLOAD : c.rd_len);
		uint32_t len = 0;
		if (vtio_devq_read(q, &c, 0, in, n) == (int64_t)n && c.wr_len >= n + 4u) {
			for (uint32_t i = 0; i < n; i++)
				out[i] = in[i] ^ 0x5a;
			uint32_t h = vtio_le32(fnv1a(in, n));
			memcpy(out + n, &h, 4);
			if (vtio_devq_write(q, &c, 0, out, n + 4) == (int64_t)(n + 4))
				len = n + 4;
		}
		if (vtio_devq_push(q, &c, len) != 0)
			break;
		cfg_put(CFG_CHAINS, cfg_get(CFG_CHAINS) + 1);
		cfg_put(CFG_BYTES, cfg_get(CFG_BYTES) + n);
		(void)vtio_host_msgq_dev_notify(&dsrv, index);
	}
	return 0;
}

static const struct vtio_dev_ops echo_ops = {.kick = echo_kick};

static void dev_on_term(int sig)
{
	(void)sig;
	dstop = 1;
}

static int device_main(const char *sock)
{
	struct sigaction sa = {.sa_handler = dev_on_term};
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	cfg_put(CFG_MIN_ADDR, UINT64_MAX);
	struct vtio_dev_config dc = {
	    .device_id = ECHO_ID,
	    .features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_RING_PACKED) |
			VTIO_FEATURE(VTIO_F_EVENT_IDX),
	    .num_queues = 1,
	    .queue_max = 256,
	    .config = dcfg,
	    .config_len = CFG_LEN,
	    .ops = &echo_ops,
	};
	if (vtio_host_msgq_dev_open(&dsrv, sock, &dc) != 0)
		return 10;
	while (!dstop) {
		int rc = vtio_host_msgq_dev_accept(&dsrv, 100);
		if (rc != 0)
			continue;
		cfg_put(CFG_SESSIONS, cfg_get(CFG_SESSIONS) + 1);
		cfg_put(CFG_REGIONS, dsrv.mem.nregions);
		cfg_put(CFG_WINDOW, dsrv.link.win.size);
		while (!dstop && vtio_host_msgq_dev_step(&dsrv, 100, NULL) != VTIO_ENOTCONN)
			;
		vtio_host_msgq_dev_drop(&dsrv);
	}
	vtio_host_msgq_dev_close(&dsrv);
	return 0;
}

/* ---- Driver side ------------------------------------------------------------------------- */

enum { B_FREE, B_INFLIGHT };

struct buf {
	int state;
	uint32_t len;
	unsigned fails;
	unsigned char data[MAX_PAYLOAD];     /* private */
	unsigned char resp[MAX_PAYLOAD + 4]; /* private */
};

struct run {
	struct vtio_host_msgq_drv d;
	struct buf bufs[DEPTH];
	uint64_t completed, failed, doubles, bad, payload;
	uint64_t rng;
};

static char sock_path[108];

static pid_t spawn(const char *mode, const char *arg, int keep_fd)
{
	pid_t p = fork();
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (keep_fd >= 0)
			fcntl(keep_fd, F_SETFD, 0);
		char fdbuf[16];
		snprintf(fdbuf, sizeof(fdbuf), "%d", keep_fd);
		execl("/proc/self/exe", "test_msgq_procs", mode, arg, fdbuf, (char *)NULL);
		_exit(127);
	}
	return p;
}

/* A socket of its own per test, so a failed test's processes cannot
 * answer for the next one. */
static void new_socket(void)
{
	static int n;
	snprintf(sock_path, sizeof(sock_path), "/tmp/vtio-msgq-procs-%d-%d.sock", (int)getpid(),
		 n++);
}

static pid_t start_device(void)
{
	pid_t p = spawn("--device", sock_path, -1);
	assert_true(p > 0);
	return p;
}

static void reap(pid_t p, int sig)
{
	if (sig)
		kill(p, sig);
	int st;
	waitpid(p, &st, 0);
}

static uint32_t rnd(struct run *r, uint32_t n)
{
	r->rng = r->rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(r->rng >> 33) % n;
}

static int submit(struct run *r, struct buf *b, bool fresh)
{
	if (fresh) {
		b->len = 1 + rnd(r, MAX_PAYLOAD);
		for (uint32_t i = 0; i < b->len; i++)
			b->data[i] = (unsigned char)rnd(r, 256);
	}
	memset(b->resp, 0, b->len + 4);
	struct vtio_sg sg[2] = {vtio_sg_of(b->data, b->len), vtio_sg_of(b->resp, b->len + 4)};
	int rc = vtio_vq_add(r->d.vq[0], sg, 1, 1, b);
	if (rc == 0)
		b->state = B_INFLIGHT;
	return rc;
}

static void check(struct run *r, struct buf *b, uint32_t len)
{
	if (b->state != B_INFLIGHT) {
		r->doubles++;
		return;
	}
	b->state = B_FREE;
	r->completed++;
	uint32_t h = vtio_le32(fnv1a(b->data, b->len));
	bool ok = len == b->len + 4 && memcmp(b->resp + b->len, &h, 4) == 0;
	for (uint32_t i = 0; ok && i < b->len; i++)
		ok = b->resp[i] == (b->data[i] ^ 0x5a);
	if (!ok)
		r->bad++;
	r->payload += b->len;
}

static void fail_cb(void *ctx, void *token)
{
	struct run *r = ctx;
	struct buf *b = token;
	if (b->state != B_INFLIGHT)
		r->doubles++;
	b->state = B_FREE;
	b->fails++;
	r->failed++;
}

static int open_run(struct run *r, bool packed, int timeout_ms)
{
	memset(r, 0, sizeof(*r));
	r->rng = 12345;
	struct vtio_host_msgq_drv_config c = {.socket = sock_path,
					      .connect_timeout_ms = timeout_ms,
					      .num_queues = 1,
					      .queue_num = 128,
					      .packed = packed,
					      .window_size = 1u << 20,
					      .device_id = ECHO_ID};
	return vtio_host_msgq_drv_open(&r->d, &c);
}

/*
 * Keep DEPTH buffers in flight until @p until completions; failed-back
 * buffers are resubmitted with their data. Returns 0, or VTIO_ENOTCONN when
 * the device went away (in-flight buffers are still in the queue).
 */
static int pump(struct run *r, uint64_t until)
{
	while (r->completed < until) {
		unsigned added = 0;
		for (unsigned i = 0; i < DEPTH; i++) {
			struct buf *b = &r->bufs[i];
			if (b->state != B_FREE)
				continue;
			if (submit(r, b, b->fails == 0) != 0)
				break;
			b->fails = 0;
			added++;
		}
		if (added)
			(void)vtio_vq_kick(r->d.vq[0]);
		unsigned got = 0;
		uint32_t len;
		struct buf *b;
		while ((b = vtio_vq_get_used(r->d.vq[0], &len)) != NULL) {
			check(r, b, len);
			got++;
		}
		if (vtio_vq_is_broken(r->d.vq[0]))
			return VTIO_EIO;
		if (got)
			continue;
		if (!vtio_vq_enable_cb(r->d.vq[0]))
			continue;
		int rc = vtio_host_msgq_drv_wait(&r->d, 2000, NULL);
		vtio_vq_disable_cb(r->d.vq[0]);
		if (rc == VTIO_ENOTCONN)
			return rc;
		if (rc == VTIO_ETIMEDOUT)
			return rc;
	}
	return 0;
}

static uint64_t read_cfg(struct run *r, unsigned off)
{
	uint64_t v = 0;
	assert_int_equal(vtio_transport_config_read(vtio_mmio_transport(&r->d.mmio), off, &v, 8),
			 0);
	return vtio_le64(v);
}

static void seed002(bool packed)
{
	static struct run r;
	new_socket();
	pid_t dev = start_device();
	assert_int_equal(open_run(&r, packed, 5000), 0);
	struct vtio_transport *t = vtio_mmio_transport(&r.d.mmio);
	assert_true(vtio_transport_has(t, VTIO_F_ACCESS_PLATFORM));
	assert_int_equal(vtio_transport_has(t, VTIO_F_RING_PACKED), packed);
	assert_int_equal(pump(&r, 3000), 0);
	assert_int_equal(r.bad, 0);
	assert_int_equal(r.doubles, 0);

	/* What the device saw: only the window. */
	const uint64_t lo = VTIO_HOST_MSGQ_BUS_BASE, hi = lo + r.d.link.win.size;
	assert_int_equal(read_cfg(&r, CFG_REGIONS), 1);
	assert_int_equal(read_cfg(&r, CFG_WINDOW), r.d.link.win.size);
	assert_int_equal(read_cfg(&r, CFG_OUTSIDE), 0);
	assert_true(read_cfg(&r, CFG_MIN_ADDR) >= lo);
	assert_true(read_cfg(&r, CFG_MAX_END) <= hi);
	assert_true(read_cfg(&r, CFG_CHAINS) >= 3000);
	/* The driver's buffers are private: none lies in the window, and every
	 * payload byte went through the bounce pool (in, and back out). */
	const unsigned char *wlo = r.d.link.win.base, *whi = wlo + r.d.link.win.size;
	for (unsigned i = 0; i < DEPTH; i++) {
		const unsigned char *p = r.bufs[i].data;
		assert_true(p + sizeof(r.bufs[i].data) <= wlo || p >= whi);
	}
	struct vtio_bounce_stats bs;
	vtio_bounce_pool_get_stats(r.d.pool, &bs);
	assert_true(bs.bounced >= 2 * r.payload);
	assert_int_equal(bs.maps,
			 bs.unmaps + (vtio_vq_size(r.d.vq[0]) - vtio_vq_num_free(r.d.vq[0])));
	vtio_host_msgq_drv_close(&r.d);
	reap(dev, SIGTERM);
}

static void test_seed002_split(void **state)
{
	(void)state;
	seed002(false);
}

static void test_seed002_packed(void **state)
{
	(void)state;
	seed002(true);
}

static void device_killed(bool packed)
{
	static struct run r;
	new_socket();
	pid_t dev = start_device();
	assert_int_equal(open_run(&r, packed, 5000), 0);
	uint64_t target = 400;
	for (int round = 0; round < 3; round++) {
		assert_int_equal(pump(&r, target), 0);
		/* Mid-stream: buffers in flight, then the device dies. */
		for (unsigned i = 0; i < DEPTH; i++)
			if (r.bufs[i].state == B_FREE)
				assert_int_equal(submit(&r, &r.bufs[i], r.bufs[i].fails == 0), 0);
		(void)vtio_vq_kick(r.d.vq[0]);
		unsigned inflight = vtio_vq_size(r.d.vq[0]) - vtio_vq_num_free(r.d.vq[0]);
		assert_true(inflight > 0);
		reap(dev, SIGKILL);
		/* The driver notices (socket closes) ... */
		int rc;
		do
			rc = pump(&r, UINT64_MAX);
		while (rc == VTIO_ETIMEDOUT);
		assert_int_equal(rc, VTIO_ENOTCONN);
		/* ... fails every in-flight buffer back exactly once ... */
		uint64_t before = r.failed;
		unsigned n = vtio_host_msgq_drv_fail_inflight(&r.d, fail_cb, &r);
		assert_int_equal(r.failed - before, n);
		assert_true(n > 0);
		assert_int_equal(r.doubles, 0);
		for (unsigned i = 0; i < DEPTH; i++)
			assert_int_equal(r.bufs[i].state, B_FREE);
		assert_null(vtio_vq_get_used(r.d.vq[0], NULL));
		/* ... and recovers by reset on a new device process. */
		dev = start_device();
		assert_int_equal(vtio_host_msgq_drv_reconnect(&r.d, 5000), 0);
		target = r.completed + 400;
	}
	assert_int_equal(pump(&r, target), 0);
	assert_int_equal(r.bad, 0);
	assert_int_equal(r.doubles, 0);
	assert_true(r.failed >= 3);
	vtio_host_msgq_drv_close(&r.d);
	reap(dev, SIGTERM);
}

static void test_device_killed_split(void **state)
{
	(void)state;
	device_killed(false);
}

static void test_device_killed_packed(void **state)
{
	(void)state;
	device_killed(true);
}

/* Driver process for test_driver_killed: runs until killed, says "up" on
 * fd once DRIVER_OK is done and buffers flow. */
static int driver_main(const char *sock, int fd)
{
	static struct run r;
	snprintf(sock_path, sizeof(sock_path), "%s", sock);
	if (open_run(&r, (getpid() & 1) != 0, 5000) != 0)
		return 20;
	if (pump(&r, 200) != 0 || r.bad)
		return 21;
	if (write(fd, "u", 1) != 1)
		return 22;
	for (;;)
		if (pump(&r, r.completed + 1000) != 0 || r.bad)
			return 23;
}

static void test_driver_killed(void **state)
{
	(void)state;
	new_socket();
	pid_t dev = start_device();
	for (int i = 0; i < 3; i++) {
		int pfd[2];
		assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
		pid_t drv = spawn("--driver", sock_path, pfd[1]);
		close(pfd[1]);
		char c;
		assert_int_equal(read(pfd[0], &c, 1), 1); /* it is mid-stream */
		close(pfd[0]);
		reap(drv, SIGKILL);
	}
	/* The device dropped each session and serves the next driver. */
	static struct run r;
	assert_int_equal(open_run(&r, false, 5000), 0);
	assert_int_equal(pump(&r, 1000), 0);
	assert_int_equal(r.bad, 0);
	assert_int_equal(read_cfg(&r, CFG_SESSIONS), 4);
	vtio_host_msgq_drv_close(&r.d);
	reap(dev, SIGTERM);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "--device"))
		return device_main(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "--driver"))
		return driver_main(argv[2], atoi(argv[3]));
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed002_split),	cmocka_unit_test(test_seed002_packed),
	    cmocka_unit_test(test_device_killed_split), cmocka_unit_test(test_device_killed_packed),
	    cmocka_unit_test(test_driver_killed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
