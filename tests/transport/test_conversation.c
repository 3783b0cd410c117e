/* One conversation, every transport (issue 11). The driver side runs the
 * generic sequence (vtio_transport_negotiate -> vtio_transport_vq_setup ->
 * vtio_transport_driver_ok, INIT-DRV-1) and then a few hundred requests of
 * varied sizes and segment counts on one queue; the device side serves them
 * through the vtio_devq the device core (vtio_dev) hands out: pop, read,
 * check every request byte, write a reply carrying the request's checksum,
 * push. The driver checks every reply byte and the counts (completed ==
 * sent, nothing left over on either side). The same code runs over a table
 * of transports, each giving setup / teardown / poll hooks, for split and
 * packed rings (RING_PACKED negotiated exactly in packed runs):
 *   loopback, virtio-mmio driver over the register model (direct calls),
 *   shared memory (device and driver role over one window), and the message
 *   queue (mmio driver over vtio_msgq_mmio_ops, device over
 *   vtio_msgq_mmio_dev_regs, an in-memory channel); with the host library
 *   also shared memory across two processes (fork: memfd window from
 *   host_shm.h, the device process polling, results in the window). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "vtio/dev.h"
#include "vtio/transport.h"
#include "vtio/transport/loopback.h"
#include "vtio/transport/mmio.h"
#include "vtio/transport/mmio_dev.h"
#include "vtio/transport/msgq.h"
#include "vtio/transport/shm.h"
#include "transport_fixture.h"

#ifdef VTIO_CONV_FORK
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host_shm.h"
#endif

#define WIN_SIZE   (1u << 20)
#define QMAX	   64u
#define NQ	   1u
#define NREQ	   300u /* requests per conversation */
#define MAX_BATCH  8u	/* requests in flight at most */
#define MAX_SEG	   3u	/* segments per direction */
#define SEG_GAP	   16u	/* bytes left between two segments of one buffer */
#define SLOT_SIZE  2048u
#define REQ_MAX	   (8u + 700u)
#define REP_MAX	   (8u + 900u)
#define RING_OFF   (WIN_SIZE / 2)
#define STATE_OFF  (RING_OFF + 16384u)
#define BUF_OFF	   (RING_OFF + 65536u)
#define STORE_SIZE (64u * 1024u)

#define OFFER                                                                                      \
	(VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC) |                     \
	 VTIO_FEATURE(VTIO_F_EVENT_IDX) | VTIO_FEATURE(VTIO_F_RING_PACKED))

/* Rings and buffers live in the window's upper half: for shm it is the
 * shared window, for the others the device's memory view covers it. */
static _Alignas(4096) unsigned char window_local[WIN_SIZE];
static unsigned char *window = window_local; /* the window of the run */

/* What the device side counts and reports; in the window's last page when
 * the device is another process. */
struct shared {
	atomic_uint served, kicks, indirect;
	atomic_uint fail_line;		      /* device-side check that failed */
	atomic_int fail_err;		      /* the pop's error when it was the pop */
	char fail_why[256];		      /* the queue's broken reason, position */
	atomic_uint check_req, checked;	      /* driver asks for the final checks */
	atomic_uint stop;		      /* driver done: device process exits */
	atomic_uint kicks_dropped, devq_gone; /* results of the final checks */
};
static struct shared local_shared;
static struct shared *SH = &local_shared;
#define SHARED_OFF (WIN_SIZE - 4096u)

/* The in-memory message channel: a send runs the device side at once and
 * queues its response for the driver's recv. */
#define CHAN_DEPTH 4u
struct chan {
	struct vtio_msgq_dev dev;
	uint8_t q[CHAN_DEPTH][VTIO_MSGQ_MAX_MSG];
	size_t qlen[CHAN_DEPTH];
	unsigned head, count;
};

struct env {
	const struct transport *tp;
	struct vtio_transport *t;
	struct vtio_dev *dev; /* the device core of the run */
	struct vtio_mem_region region;
	struct vtio_mem mem;
	_Alignas(16) unsigned char dev_storage[STORE_SIZE];
	_Alignas(16) unsigned char role_storage[STORE_SIZE];
	unsigned char config[16];
	struct vtio_dev core; /* every transport but loopback */
	/* loopback */
	struct vtio_loopback lb;
	/* mmio and msgq */
	struct vtio_mmio_dev md;
	struct vtio_mmio drv;
	unsigned line_ups;
	/* shm */
	struct vtio_shm_dir dir;
	struct vtio_shm_dev sd;
	struct vtio_shm_drv sdrv;
	unsigned slot;
	/* msgq */
	struct chan ch;
	struct vtio_msgq_drv mq;
#ifdef VTIO_CONV_FORK
	/* shm across processes */
	bool in_child;
	struct vtio_host_shm hw;
	pid_t pid;
	struct timespec deadline;
#endif
	unsigned vq_irqs;
};

static struct env E;

/* ---- The device side: serve every available chain ---- */

static uint8_t req_byte(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 31u + i * 7u + 1u);
}

static uint8_t rep_byte(uint32_t seq, uint32_t i)
{
	return (uint8_t)((seq * 13u + i * 3u + 0x5au) ^ 0xffu);
}

static uint32_t checksum(const uint8_t *p, uint32_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Request: seq, total length, then req_byte(seq, i) for i >= 8. Reply:
 * seq, checksum of the whole request, then rep_byte(seq, i) for i >= 8. */
/* A device-side check: a cmocka failure here, an exit with the line
 * recorded for the driver when the device is another process. */
#define DEV_CHECK(c)                                                                               \
	do {                                                                                       \
		if (!(c))                                                                          \
			dev_fail(__LINE__, #c);                                                    \
	} while (0)

static void dev_fail(unsigned line, const char *what)
{
	atomic_store(&SH->fail_line, line);
#ifdef VTIO_CONV_FORK
	if (E.in_child)
		_exit(20);
#endif
	fail_msg("device side, line %u: %s (pop error %d: %s)", line, what,
		 atomic_load(&SH->fail_err), SH->fail_why);
}

/* A failed pop: its error, the queue's reason, its position and the raw
 * descriptor there (a packed slot; the split table's entry of that number),
 * for the message: a failure seen once in CI must say what it saw. */
static void note_pop_error(const struct vtio_devq *q, int r)
{
	atomic_store(&SH->fail_err, r);
	const char *why = vtio_devq_broken_reason(q);
	struct vtio_devq_pos pos;
	vtio_devq_get_pos(q, &pos);
	const uint8_t *d = window + RING_OFF + (size_t)(pos.avail_idx % QMAX) * 16u;
	int n = snprintf(SH->fail_why, sizeof(SH->fail_why),
			 "%s; avail %u/%d used %u/%d in flight %u; desc", why ? why : "not broken",
			 (unsigned)pos.avail_idx, pos.avail_wrap, (unsigned)pos.used_idx,
			 pos.used_wrap, (unsigned)pos.in_flight);
	for (unsigned i = 0; i < 16 && n > 0 && (size_t)n < sizeof(SH->fail_why); i++)
		n += snprintf(SH->fail_why + n, sizeof(SH->fail_why) - (size_t)n, " %02x", d[i]);
}

static void serve(void)
{
	struct vtio_devq *q = vtio_dev_devq(E.dev, 0);
	DEV_CHECK(q != NULL);
	struct vtio_iov rd[MAX_SEG], wr[MAX_SEG];
	for (;;) {
		struct vtio_devq_chain c = {
		    .rd = rd, .rd_max = MAX_SEG, .wr = wr, .wr_max = MAX_SEG};
		int r = vtio_devq_pop(q, &c);
		if (r == VTIO_EAGAIN) {
			/* Ask for the next kick; pop again if a chain slipped in. */
			if (vtio_devq_enable_notify(q))
				break;
			continue;
		}
		if (r != 0)
			note_pop_error(q, r);
		DEV_CHECK(r == 0);
		DEV_CHECK(c.rd_num >= 1 && c.rd_num <= MAX_SEG);
		DEV_CHECK(c.wr_num >= 1 && c.wr_num <= MAX_SEG);
		DEV_CHECK(c.rd_len >= 8 && c.rd_len <= REQ_MAX);
		DEV_CHECK(c.wr_len >= 8 && c.wr_len <= REP_MAX);
		uint8_t in[REQ_MAX], out[REP_MAX];
		DEV_CHECK(vtio_devq_read(q, &c, 0, in, (size_t)c.rd_len) == (int64_t)c.rd_len);
		uint32_t seq = get32(in);
		DEV_CHECK(get32(in + 4) == c.rd_len);
		for (uint32_t i = 8; i < c.rd_len; i++)
			DEV_CHECK(in[i] == req_byte(seq, i));
		put32(out, seq);
		put32(out + 4, checksum(in, (uint32_t)c.rd_len));
		for (uint32_t i = 8; i < c.wr_len; i++)
			out[i] = rep_byte(seq, i);
		DEV_CHECK(vtio_devq_write(q, &c, 0, out, (size_t)c.wr_len) == (int64_t)c.wr_len);
		/* Counted before the push: a packed push is visible to the driver
		 * at once (no used->idx to wait for), and the driver checks the
		 * count as soon as the batch came back. */
		if (c.flags & VTIO_DEVQ_CHAIN_F_INDIRECT)
			atomic_fetch_add(&SH->indirect, 1);
		atomic_fetch_add(&SH->served, 1);
		DEV_CHECK(vtio_devq_push(q, &c, (uint32_t)c.wr_len) == 0);
	}
	DEV_CHECK(vtio_devq_kick(q) == 0);
}

static int d_kick(void *ctx, uint16_t index, uint32_t data)
{
	(void)ctx;
	(void)data;
	DEV_CHECK(index == 0);
	atomic_fetch_add(&SH->kicks, 1);
	serve();
	return 0;
}

static const struct vtio_dev_ops d_ops = {.kick = d_kick};
static const struct vtio_loopback_device_ops lb_ops = {.kick = d_kick};

static void vq_irq(void *ctx, uint16_t index)
{
	(void)ctx;
	assert_int_equal(index, 0);
	E.vq_irqs++;
}

/* ---- Shared setup pieces ---- */

static void mem_over_window(void)
{
	E.region.addr = (uint64_t)(uintptr_t)window;
	E.region.len = WIN_SIZE;
	E.region.host = window;
	E.region.perm = VTIO_MEM_RW;
	assert_int_equal(vtio_mem_init(&E.mem, &E.region, 1), 0);
}

/* The device core every transport but loopback drives (@p mem NULL: the
 * transport's device role sets the view). */
static void core_init(const struct vtio_mem *mem)
{
	struct vtio_dev_config dc = {
	    .device_id = 42,
	    .features = OFFER,
	    .num_queues = NQ,
	    .queue_max = QMAX,
	    .mem = mem,
	    .config = E.config,
	    .config_len = sizeof(E.config),
	    .ops = &d_ops,
	};
	assert_true(vtio_dev_storage_size(NQ, QMAX) <= sizeof(E.dev_storage));
	assert_int_equal(vtio_dev_init(&E.core, E.dev_storage, sizeof(E.dev_storage), &dc), 0);
	E.dev = &E.core;
}

static void md_line(void *ctx, bool level)
{
	(void)ctx;
	if (level)
		E.line_ups++;
}

static const struct vtio_mmio_dev_ops md_ops = {.irq_line = md_line};

/* Register model in front of the core (mmio and msgq). */
static void regs_init(void)
{
	mem_over_window();
	core_init(&E.mem);
	struct vtio_mmio_dev_config mc = {.dev = &E.core, .ops = &md_ops};
	size_t ms = vtio_mmio_dev_storage_size(NQ);
	assert_true(ms <= sizeof(E.role_storage));
	assert_int_equal(vtio_mmio_dev_init(&E.md, E.role_storage, ms, &mc), 0);
}

/* The mmio driver over @p ops (direct bus or message queue). */
static void mmio_drv_init(const struct vtio_mmio_ops *ops, void *ctx)
{
	struct vtio_mmio_config c = {.ops = ops, .ctx = ctx, .window_size = 0x100 + 16};
	assert_int_equal(vtio_mmio_init(&E.drv, &c), 0);
	E.t = vtio_mmio_transport(&E.drv);
}

/* No forbidden register access happened on either side. */
static void regs_clean(void)
{
	tf_mmio_assert_clean(&E.md, &E.drv);
}

/* ---- 1. loopback ---- */

static void lb_setup(void)
{
	mem_over_window();
	struct vtio_loopback_config lc = {
	    .device_features = OFFER,
	    .num_queues = NQ,
	    .queue_max = QMAX,
	    .mem = &E.mem,
	    .config = E.config,
	    .config_len = sizeof(E.config),
	    .dev = &lb_ops,
	};
	size_t s = vtio_loopback_storage_size(NQ, QMAX);
	assert_true(s > 0 && s <= sizeof(E.role_storage));
	assert_int_equal(vtio_loopback_init(&E.lb, E.role_storage, s, &lc), 0);
	E.t = vtio_loopback_transport(&E.lb);
	E.dev = &E.lb.dev;
}

static void lb_teardown(void)
{
	struct vtio_loopback_stats s;
	vtio_loopback_get_stats(&E.lb, &s);
	assert_int_equal(s.kicks, atomic_load(&SH->kicks));
	assert_int_equal(s.kicks_dropped, 0);
}

static void nop_poll(void)
{
}

/* ---- 2. virtio-mmio, the bus being direct calls ---- */

static void mmio_setup(void)
{
	regs_init();
	mmio_drv_init(&tf_mmio_direct_ops, &E.md);
}

/* The interrupt handler: reads and acks InterruptStatus, runs vq_irq. */
static void mmio_poll(void)
{
	assert_true(vtio_mmio_irq(&E.drv) >= 0);
}

/* ---- 3. shared memory, both roles over one window ---- */

static int shm_dev_ring(void *ctx, uint32_t which)
{
	(void)ctx;
	(void)which;
	return 0;
}

static int shm_drv_ring(void *ctx, uint32_t which)
{
	(void)ctx;
	(void)which;
	return 0;
}

/* The device runs in this thread: "waiting" is letting it poll once. */
static int shm_drv_wait(void *ctx)
{
	(void)ctx;
	vtio_shm_dev_poll(&E.sd);
	return 0;
}

/* Directory over the window, the device core published in its entry. */
static void shm_device_setup(void)
{
	memset(window, 0xee, SHARED_OFF);
	/* Device addresses = CPU addresses: ring memory may be caller memory
	 * (after fork the window is at the same address in both processes). */
	assert_int_equal(
	    vtio_shm_dir_format(&E.dir, window, WIN_SIZE, (uint64_t)(uintptr_t)window, 8), 0);
	struct vtio_shm_dir_request rq = {
	    .device_type = 42, .num_queues = NQ, .config_size = sizeof(E.config)};
	assert_int_equal(vtio_shm_dir_add(&E.dir, &rq, &E.slot), 0);
	core_init(NULL);
	struct vtio_shm_dev_config sc = {
	    .dir = &E.dir, .slot = E.slot, .dev = &E.core, .hooks = {shm_dev_ring, NULL, &E}};
	assert_int_equal(vtio_shm_dev_init(&E.sd, &sc), 0);
}

static void shm_driver_setup(int (*wait)(void *ctx))
{
	struct vtio_shm_entry_info ei;
	assert_int_equal(vtio_shm_dir_find(window, WIN_SIZE, 0, 42, &ei), 0);
	struct vtio_shm_hooks h = {shm_drv_ring, wait, &E};
	assert_int_equal(vtio_shm_drv_init(&E.sdrv, window, WIN_SIZE, &ei, &h), 0);
	E.t = vtio_shm_drv_transport(&E.sdrv);
}

static void shm_setup(void)
{
	shm_device_setup();
	shm_driver_setup(shm_drv_wait);
}

/* The device sees kicks when it polls; then the driver's bell "rings"
 * (a bell number that is not the entry's own delivers both interrupts). */
static void shm_poll(void)
{
	assert_true(vtio_shm_dev_poll(&E.sd) >= 0);
	assert_int_equal(vtio_shm_drv_interrupt(&E.sdrv, UINT32_MAX), 0);
}

#ifdef VTIO_CONV_FORK
/* ---- 5. shared memory across two processes (fork) ---- */

/* The device process: poll the entry (kicks run serve()), do the final
 * checks when asked, exit when told; a bounded life whatever happens. */
static void fork_device_main(void)
{
	E.in_child = true;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (vtio_shm_dev_poll(&E.sd) < 0)
			_exit(22);
		if (atomic_load(&SH->check_req) && !atomic_load(&SH->checked)) {
			struct vtio_devq *dq = vtio_dev_devq(E.dev, 0);
			DEV_CHECK(dq != NULL);
			DEV_CHECK(!vtio_devq_is_broken(dq));
			DEV_CHECK(!vtio_devq_more_avail(dq));
			struct vtio_dev_stats ds;
			vtio_dev_get_stats(E.dev, &ds);
			DEV_CHECK(ds.kicks == atomic_load(&SH->kicks));
			DEV_CHECK(ds.kicks_invalid == 0);
			atomic_store(&SH->kicks_dropped, (unsigned)ds.kicks_dropped);
			atomic_store(&SH->checked, 1);
		}
		if (atomic_load(&SH->stop)) {
			atomic_store(&SH->devq_gone, vtio_dev_devq(E.dev, 0) == NULL);
			_exit(0);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 60)
			_exit(21);
		sched_yield();
	}
}

static void fork_check_deadline(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > E.deadline.tv_sec)
		fail_msg("device process does not answer");
}

/* Fail the test when the device process is gone or the time is up. */
static void fork_check_alive(void)
{
	int st = 0;
	pid_t r = waitpid(E.pid, &st, WNOHANG);
	if (r == E.pid) {
		E.pid = 0;
		fail_msg("device process ended (exit %d, check at line %u, error %d: %s)",
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1, atomic_load(&SH->fail_line),
			 atomic_load(&SH->fail_err), SH->fail_why);
	}
	fork_check_deadline();
}

/* The driver waits for the device: let it run. The hook's contract is a
 * short wait (vtio_shm_hooks::wait), and VTIO_SHM_CMD_WAITS of them bound a
 * command: a yield alone returns at once on an idle core, so 5000 of them
 * timed a command out (VTIO_ETIMEDOUT) whenever a loaded machine left the
 * device process unscheduled for a few milliseconds. 200 us each gives a
 * command at least a second. */
static int fork_drv_wait(void *ctx)
{
	(void)ctx;
	fork_check_alive();
	struct timespec ts = {0, 200 * 1000};
	nanosleep(&ts, NULL);
	return 0;
}

static void fork_setup(void)
{
	assert_int_equal(vtio_host_shm_create(&E.hw, "vtio-conversation", WIN_SIZE), 0);
	window = E.hw.base;
	SH = (struct shared *)(void *)(window + SHARED_OFF);
	memset(SH, 0, sizeof(*SH));
	/* Published before the fork; from then on only the child uses the
	 * device state (its copy), the window is all the two share. */
	shm_device_setup();
	clock_gettime(CLOCK_MONOTONIC, &E.deadline);
	E.deadline.tv_sec += 30;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		fork_device_main();
	E.pid = pid;
	shm_driver_setup(fork_drv_wait);
}

static void fork_poll(void)
{
	fork_check_alive();
	assert_int_equal(vtio_shm_drv_interrupt(&E.sdrv, UINT32_MAX), 0);
	sched_yield();
}

/* Ask the device process for its final checks and wait for them. */
static void fork_final_checks(void)
{
	atomic_store(&SH->check_req, 1);
	while (!atomic_load(&SH->checked))
		fork_drv_wait(NULL);
	assert_int_equal(atomic_load(&SH->fail_line), 0);
	assert_int_equal(atomic_load(&SH->kicks_dropped), 0);
}

/* After the reset: the device process saw its queue go and exits 0. */
static void fork_teardown(void)
{
	atomic_store(&SH->stop, 1);
	int st = -1;
	for (;;) {
		pid_t r = waitpid(E.pid, &st, WNOHANG);
		if (r == E.pid)
			break;
		fork_check_deadline();
		sched_yield();
	}
	E.pid = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(atomic_load(&SH->devq_gone), 1);
}
#endif

/* ---- 4. message queue: the mmio driver over an in-memory channel ---- */

static void chan_push(struct chan *c, const void *msg, size_t len)
{
	assert_true(c->count < CHAN_DEPTH);
	assert_true(len <= VTIO_MSGQ_MAX_MSG);
	unsigned at = (c->head + c->count) % CHAN_DEPTH;
	memcpy(c->q[at], msg, len);
	c->qlen[at] = len;
	c->count++;
}

static int chan_send(void *ctx, const void *msg, size_t len)
{
	struct chan *c = ctx;
	uint8_t out[VTIO_MSGQ_MAX_MSG];
	size_t n = 0;
	int r = vtio_msgq_dev_handle(&c->dev, msg, len, out, sizeof(out), &n);
	assert_int_equal(r, 0);
	if (n)
		chan_push(c, out, n);
	return 0;
}

static int chan_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
	struct chan *c = ctx;
	if (c->count == 0)
		return VTIO_EAGAIN;
	assert_true(c->qlen[c->head] <= cap);
	memcpy(buf, c->q[c->head], c->qlen[c->head]);
	*len = c->qlen[c->head];
	c->head = (c->head + 1) % CHAN_DEPTH;
	c->count--;
	return 0;
}

/* Device to driver: EVENT messages land in the same queue. */
static int chan_dev_send(void *ctx, const void *msg, size_t len)
{
	chan_push(ctx, msg, len);
	return 0;
}

static int chan_dev_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
	(void)ctx;
	(void)buf;
	(void)cap;
	(void)len;
	return VTIO_EAGAIN;
}

static const struct vtio_msgq_chan_ops chan_ops = {.send = chan_send, .recv = chan_recv};
static const struct vtio_msgq_chan_ops chan_dev_ops = {.send = chan_dev_send,
						       .recv = chan_dev_recv};

static void msgq_setup(void)
{
	regs_init();
	struct vtio_msgq_chan dc = {.ops = &chan_dev_ops, .ctx = &E.ch};
	assert_int_equal(vtio_msgq_dev_init(&E.ch.dev, &dc, &vtio_msgq_mmio_dev_regs, &E.md), 0);
	struct vtio_msgq_chan c = {.ops = &chan_ops, .ctx = &E.ch};
	assert_int_equal(vtio_msgq_drv_init(&E.mq, &c, NULL, NULL), 0);
	assert_int_equal(vtio_msgq_drv_hello(&E.mq), 0);
	mmio_drv_init(&vtio_msgq_mmio_ops, &E.mq);
}

static void msgq_teardown(void)
{
	regs_clean();
	assert_false(vtio_msgq_drv_is_dead(&E.mq));
	assert_int_equal(E.ch.count, 0);
	assert_int_equal(E.mq.stats.errors, 0);
	assert_int_equal(E.ch.dev.stats.malformed, 0);
	assert_int_equal(E.ch.dev.stats.failed, 0);
}

/* ---- The transport table ---- */

struct transport {
	const char *name;
	void (*setup)(void);
	void (*teardown)(void); /* transport-specific checks after the reset */
	void (*poll)(void);	/* deliver what the transport carries asynchronously */
	/* The device is another process: its state is out of reach, the
	 * device-side checks run there (final_checks asks for them) and
	 * replies may take a while (poll until they are all back). */
	void (*final_checks)(void);
};

static const struct transport T_LOOPBACK = {"loopback", lb_setup, lb_teardown, nop_poll, NULL};
static const struct transport T_MMIO = {"mmio", mmio_setup, regs_clean, mmio_poll, NULL};
static const struct transport T_SHM = {"shm", shm_setup, NULL, shm_poll, NULL};
static const struct transport T_MSGQ = {"msgq", msgq_setup, msgq_teardown, mmio_poll, NULL};
#ifdef VTIO_CONV_FORK
static const struct transport T_FORK = {"shm_fork", fork_setup, fork_teardown, fork_poll,
					fork_final_checks};
#endif

struct run {
	const struct transport *tp;
	enum vtio_layout layout;
};

/* ---- The driver side: the conversation ---- */

struct req {
	uint32_t seq;
	uint32_t req_len, rep_len;
	unsigned nrd, nwr;
	uint8_t *rd[MAX_SEG], *wr[MAX_SEG];
	uint32_t rd_len[MAX_SEG], wr_len[MAX_SEG];
	uint32_t sum; /* checksum of the request bytes */
	bool pending;
};

/* Cut @p total bytes at @p base into @p n segments separated by gaps. */
static void cut(uint8_t *base, uint32_t total, unsigned n, uint8_t **seg, uint32_t *len)
{
	uint32_t each = total / n, off = 0;
	for (unsigned i = 0; i < n; i++) {
		len[i] = i + 1 == n ? total - each * (n - 1) : each;
		seg[i] = base + off + i * SEG_GAP;
		off += len[i];
	}
}

static void post(struct vtio_vq *vq, struct req *r, unsigned slot, uint32_t seq)
{
	uint8_t *base = window + BUF_OFF + (size_t)slot * SLOT_SIZE;
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->req_len = 8u + (seq * 37u) % 701u;
	r->rep_len = 8u + (seq * 53u) % 901u;
	r->nrd = 1u + seq % MAX_SEG;
	r->nwr = 1u + (seq / MAX_SEG) % MAX_SEG;
	uint8_t req[REQ_MAX];
	put32(req, seq);
	put32(req + 4, r->req_len);
	for (uint32_t i = 8; i < r->req_len; i++)
		req[i] = req_byte(seq, i);
	r->sum = checksum(req, r->req_len);
	memset(base, 0xcc, SLOT_SIZE);
	cut(base, r->req_len, r->nrd, r->rd, r->rd_len);
	cut(base + SLOT_SIZE / 2, r->rep_len, r->nwr, r->wr, r->wr_len);
	struct vtio_sg sg[2 * MAX_SEG];
	uint32_t off = 0;
	for (unsigned i = 0; i < r->nrd; i++) {
		memcpy(r->rd[i], req + off, r->rd_len[i]);
		off += r->rd_len[i];
		sg[i] = vtio_sg_of(r->rd[i], r->rd_len[i]);
	}
	for (unsigned i = 0; i < r->nwr; i++)
		sg[r->nrd + i] = vtio_sg_of(r->wr[i], r->wr_len[i]);
	assert_int_equal(vtio_vq_add(vq, sg, r->nrd, r->nwr, r), 0);
	r->pending = true;
}

/* Every reply byte, reassembled from the writable segments. */
static void check_reply(struct req *r, uint32_t len)
{
	assert_true(r->pending);
	assert_int_equal(len, r->rep_len);
	uint8_t rep[REP_MAX];
	uint32_t off = 0;
	for (unsigned i = 0; i < r->nwr; i++) {
		memcpy(rep + off, r->wr[i], r->wr_len[i]);
		off += r->wr_len[i];
		/* Nothing written into the gap after the segment. */
		for (unsigned g = 0; g < SEG_GAP; g++)
			assert_int_equal(r->wr[i][r->wr_len[i] + g], 0xcc);
	}
	assert_int_equal(get32(rep), r->seq);
	assert_int_equal(get32(rep + 4), r->sum);
	for (uint32_t i = 8; i < r->rep_len; i++)
		assert_int_equal(rep[i], rep_byte(r->seq, i));
	r->pending = false;
}

static struct vtio_vq *bring_up(enum vtio_layout layout)
{
	struct vtio_transport_negotiation n = {
	    .supported = VTIO_FEATURE(VTIO_F_INDIRECT_DESC) | VTIO_FEATURE(VTIO_F_EVENT_IDX) |
			 (layout == VTIO_LAYOUT_PACKED ? VTIO_FEATURE(VTIO_F_RING_PACKED) : 0)};
	assert_int_equal(vtio_transport_negotiate(E.t, &n), 0);
	/* RING_PACKED exactly in packed runs. */
	assert_int_equal(vtio_transport_has(E.t, VTIO_F_RING_PACKED), layout == VTIO_LAYOUT_PACKED);
	assert_true(vtio_transport_has(E.t, VTIO_F_VERSION_1));
	assert_true(vtio_transport_has(E.t, VTIO_F_INDIRECT_DESC));
	assert_true(vtio_transport_has(E.t, VTIO_F_EVENT_IDX));
	assert_int_equal(vtio_transport_layout(E.t), layout);
	struct vtio_transport_vq_config qc = {
	    .index = 0,
	    .num = QMAX,
	    .indirect_tables = MAX_BATCH,
	    .indirect_max = 2 * MAX_SEG,
	    .indirect_threshold = 4, /* 2..3 segments direct, 4..6 indirect */
	    .ring = window + RING_OFF,
	    .ring_size = vtio_transport_vq_ring_size(layout, QMAX),
	    /* In the window too: the indirect tables live in the state. */
	    .state = window + STATE_OFF,
	    .state_size = vtio_vq_state_size(layout, QMAX, MAX_BATCH, 2 * MAX_SEG),
	};
	assert_true(qc.ring_size > 0 && qc.ring_size <= STATE_OFF - RING_OFF);
	assert_true(qc.state_size > 0 && qc.state_size <= BUF_OFF - STATE_OFF);
	struct vtio_vq *vq = NULL;
	assert_int_equal(vtio_transport_vq_setup(E.t, &qc, &vq), 0);
	bool local = E.tp->final_checks == NULL;
	if (local)
		assert_null(vtio_dev_devq(E.dev, 0)); /* not before DRIVER_OK */
	assert_int_equal(vtio_transport_driver_ok(E.t), 0);
	assert_int_equal(vtio_vq_layout(vq), layout);
	assert_int_equal(vtio_vq_size(vq), QMAX);
	if (local) {
		assert_non_null(vtio_dev_devq(E.dev, 0));
		/* Both sides agree on the features. */
		assert_true(vtio_dev_features(E.dev) == vtio_transport_features(E.t));
	}
	return vq;
}

static void test_conversation(void **state)
{
	const struct run *run = *state;
	memset(&E, 0, sizeof(E));
	window = window_local;
	SH = &local_shared;
	memset(SH, 0, sizeof(*SH));
	for (unsigned i = 0; i < sizeof(E.config); i++)
		E.config[i] = (unsigned char)(0x10 + i);
	E.tp = run->tp;
	E.tp->setup();
	vtio_transport_set_irq(E.t, vq_irq, NULL, &E);
	struct vtio_vq *vq = bring_up(run->layout);

	bool local = E.tp->final_checks == NULL;
	static struct req reqs[MAX_BATCH];
	uint32_t sent = 0, done = 0;
	while (sent < NREQ) {
		unsigned batch = 1u + (sent * 7u + sent / 5u) % MAX_BATCH;
		if (batch > NREQ - sent)
			batch = NREQ - sent;
		for (unsigned i = 0; i < batch; i++)
			post(vq, &reqs[i], i, sent++);
		assert_int_equal(vtio_vq_kick(vq), 0);
		E.tp->poll();
		unsigned got = 0;
		while (got < batch) {
			void *tok = NULL;
			uint32_t len = 0;
			int r = vtio_vq_take_used(vq, &tok, &len);
			if (r == VTIO_EAGAIN) {
				/* In-process devices answered within the poll. */
				if (local)
					break;
				E.tp->poll();
				continue;
			}
			assert_int_equal(r, 0);
			struct req *q = tok;
			assert_true(q >= reqs && q < reqs + batch);
			check_reply(q, len);
			got++;
		}
		/* The device served the whole batch: every one came back. */
		assert_int_equal(got, batch);
		done += got;
		assert_int_equal(atomic_load(&SH->served), done);
		assert_int_equal(vtio_vq_num_free(vq), QMAX);
		/* Re-arm (EVENT_IDX: used_event moves on); nothing new arrived. */
		assert_true(vtio_vq_enable_cb(vq));
	}
	assert_int_equal(sent, NREQ);
	assert_int_equal(done, NREQ);
	unsigned kicks = atomic_load(&SH->kicks), indirect = atomic_load(&SH->indirect);
	assert_int_equal(atomic_load(&SH->served), NREQ);
	assert_true(kicks > 0);
	assert_true(E.vq_irqs > 0);
	/* No leftover on either side. */
	assert_false(vtio_vq_more_used(vq));
	assert_false(vtio_vq_is_broken(vq));
	struct vtio_vq_stats vs;
	vtio_vq_get_stats(vq, &vs);
	assert_int_equal(vs.added, NREQ);
	assert_int_equal(vs.used, NREQ);
	assert_int_equal(vs.len_clamped, 0);
	/* Every notification reached the device (across processes two may
	 * meet in one poll). */
	if (local)
		assert_int_equal(vs.notifies, kicks);
	else
		assert_true(kicks <= vs.notifies);
	/* Both paths taken: direct chains and indirect tables. */
	assert_int_equal(vs.indirect, indirect);
	assert_true(indirect > 0 && indirect < NREQ);
	if (local) {
		struct vtio_devq *dq = vtio_dev_devq(E.dev, 0);
		assert_false(vtio_devq_is_broken(dq));
		assert_false(vtio_devq_more_avail(dq));
		struct vtio_iov rd[MAX_SEG], wr[MAX_SEG];
		struct vtio_devq_chain c = {
		    .rd = rd, .rd_max = MAX_SEG, .wr = wr, .wr_max = MAX_SEG};
		assert_int_equal(vtio_devq_pop(dq, &c), VTIO_EAGAIN);
		struct vtio_dev_stats ds;
		vtio_dev_get_stats(E.dev, &ds);
		assert_int_equal(ds.kicks, kicks);
		assert_int_equal(ds.kicks_dropped, 0);
		assert_int_equal(ds.kicks_invalid, 0);
	} else {
		E.tp->final_checks();
	}

	/* Reset ends it: the device queue goes away. */
	assert_int_equal(vtio_transport_reset(E.t), 0);
	if (local)
		assert_null(vtio_dev_devq(E.dev, 0));
	if (E.tp->teardown)
		E.tp->teardown();
}

/* ---- Runner ---- */

#define RUN(tp, l)                                                                                 \
	{                                                                                          \
		&(tp), VTIO_LAYOUT_##l                                                             \
	}
static const struct run runs[] = {
    RUN(T_LOOPBACK, SPLIT), RUN(T_LOOPBACK, PACKED), RUN(T_MMIO, SPLIT), RUN(T_MMIO, PACKED),
    RUN(T_SHM, SPLIT),	    RUN(T_SHM, PACKED),	     RUN(T_MSGQ, SPLIT), RUN(T_MSGQ, PACKED),
#ifdef VTIO_CONV_FORK
    RUN(T_FORK, SPLIT),	    RUN(T_FORK, PACKED),
#endif
};

/* Whatever happened: no device process left, the window unmapped. */
static int cleanup(void **state)
{
	(void)state;
#ifdef VTIO_CONV_FORK
	if (E.pid > 0) {
		kill(E.pid, SIGKILL);
		waitpid(E.pid, NULL, 0);
		E.pid = 0;
	}
	if (E.hw.base != NULL)
		vtio_host_shm_close(&E.hw);
#endif
	window = window_local;
	SH = &local_shared;
	return 0;
}

#define CONV(i, label)                                                                             \
	{                                                                                          \
		.name = "test_conversation_" label, .test_func = test_conversation,                \
		.teardown_func = cleanup, .initial_state = (void *)&runs[i]                        \
	}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    CONV(0, "loopback_split"), CONV(1, "loopback_packed"), CONV(2, "mmio_split"),
	    CONV(3, "mmio_packed"),    CONV(4, "shm_split"),	   CONV(5, "shm_packed"),
	    CONV(6, "msgq_split"),     CONV(7, "msgq_packed"),
#ifdef VTIO_CONV_FORK
	    CONV(8, "shm_fork_split"), CONV(9, "shm_fork_packed"),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
