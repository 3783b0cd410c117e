/*
 * ring_bench: cost of a buffer through a driver queue and a device queue,
 * set up over the loopback transport.
 *
 *  single   one thread: driver add + kick_prepare, device pop + push,
 *           driver get_used, in batches (default 1 and 32).
 *  poll     two threads polling on two cores: the workload of Linux
 *           tools/virtio/ringtest (main.c run_guest/run_host with
 *           virtio_ring_0_9.c): the driver keeps the ring full of
 *           one-descriptor buffers and reaps, the device uses every buffer
 *           and publishes each used entry at once.
 *  eventfd  the same with notifications through eventfd (ringtest --sleep):
 *           kicks and interrupts cross the loopback transport and ring an
 *           eventfd; EVENT_IDX suppression as in virtio_ring_0_9.
 *
 * See bench/ring/README.md for the flags that match ringtest's parameters.
 * --json prints one JSON object per line per measurement; every number is
 * the median of --runs runs.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdalign.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "vtio.h"
#include "vtio_host.h"

/* ---- Options ------------------------------------------------------------------------ */

enum { MODE_SINGLE = 1, MODE_POLL = 2, MODE_EVENTFD = 4 };

static struct {
	int json;
	int layouts; /* bit 0 split, bit 1 packed */
	int in_order;
	int modes;
	unsigned runs;
	uint64_t buffers;	 /* two-thread modes */
	uint64_t single_buffers; /* single-thread mode */
	unsigned ring;
	unsigned batch; /* 0: single mode runs 1 and 32; threads: 1 */
	uint64_t outstanding;
	int host_cpu, guest_cpu;
	int relax;
	unsigned dev_backoff; /* poll: VTIO_CPU_RELAX()es after each empty device poll */
	int no_yield;
	unsigned exit_cycles;
	int event_idx;
	unsigned dev_batch; /* device pops up to this many per vtio_devq_pop_batch() (0:
			       vtio_devq_pop) */
	int drv_batch;	    /* single mode: the driver adds and reaps with the batch calls */
	unsigned trusting;  /* poll, packed: TRUST_DRIVER / TRUST_DEVICE sides run trusting
			       loops on the ring instead of the library (the layout's floor) */
} opt = {
    .layouts = 3,
    .modes = MODE_SINGLE | MODE_POLL | MODE_EVENTFD,
    .runs = 5,
    .buffers = 10000000,
    .single_buffers = 10000000,
    .ring = 256,
    .outstanding = UINT64_MAX,
    .host_cpu = -2,
    .guest_cpu = -2,
    .event_idx = 1,
};

#define TRUST_DRIVER 1u
#define TRUST_DEVICE 2u

/* ---- A driver/device pair over loopback ---------------------------------------------- */

struct pair {
	unsigned char *arena;
	size_t arena_size;
	struct vtio_mem_region region;
	struct vtio_mem mem;
	struct vtio_loopback lb;
	struct vtio_transport *t;
	struct vtio_vq *vq;
	struct vtio_devq *dq;
	unsigned char *buf;  /* the one buffer every descriptor points at (as ringtest) */
	unsigned char *ring; /* the queue's ring memory (packed: the descriptors first) */
	struct vtio_host_event kickfd, callfd;
	int use_eventfd;
};

static void exit_wait(void)
{
#if defined(__x86_64__) || defined(__i386__)
	/* ringtest's vmexit()/vmentry(): a fixed TSC-cycle busy wait around each eventfd op. */
	if (opt.exit_cycles) {
		unsigned long long t = __rdtsc();
		while (__rdtsc() - t < opt.exit_cycles) {
		}
	}
#endif
}

static void signal_fd(struct vtio_host_event *e)
{
	exit_wait();
	if (vtio_host_event_signal(e) != 0) {
		fprintf(stderr, "ring_bench: eventfd write failed\n");
		exit(1);
	}
	exit_wait();
}

static void wait_fd(struct vtio_host_event *e)
{
	exit_wait();
	if (vtio_host_event_wait(e) != 0) {
		fprintf(stderr, "ring_bench: eventfd read failed\n");
		exit(1);
	}
	exit_wait();
}

/* Driver kick reaching the device through the loopback. */
static int dev_kick(void *ctx, uint16_t index, uint32_t data)
{
	struct pair *p = ctx;
	(void)index;
	(void)data;
	if (p->use_eventfd)
		signal_fd(&p->kickfd);
	return 0;
}

/* Device interrupt reaching the driver through the loopback. */
static void drv_irq(void *ctx, uint16_t index)
{
	struct pair *p = ctx;
	(void)index;
	if (p->use_eventfd)
		signal_fd(&p->callfd);
}

static const struct vtio_loopback_device_ops bench_dev_ops = {.kick = dev_kick};

static void die(const char *what, int err)
{
	fprintf(stderr, "ring_bench: %s: %s\n", what, vtio_strerror(err));
	exit(1);
}

/* Regions start on a 128-byte boundary with a 128-byte gap after the one
 * before: the device's state, the ring and the driver's state never share a
 * line pair (the adjacent-line prefetcher's unit). */
static void *carve(struct pair *p, size_t *used, size_t n)
{
	if (*used)
		*used += 128u;
	*used = (*used + 127u) & ~(size_t)127u;
	if (*used + n > p->arena_size) {
		fprintf(stderr, "ring_bench: arena too small\n");
		exit(1);
	}
	void *r = p->arena + *used;
	*used += n;
	return r;
}

static void pair_setup(struct pair *p, enum vtio_layout layout, int use_eventfd)
{
	memset(p, 0, sizeof(*p));
	p->use_eventfd = use_eventfd;
	uint32_t num = opt.ring;
	size_t ss = vtio_loopback_storage_size(1, num);
	size_t rs = vtio_transport_vq_ring_size(layout, num);
	size_t vs = vtio_vq_state_size(layout, num, 0, 0);
	if (ss == 0 || rs == 0 || vs == 0) {
		fprintf(stderr, "ring_bench: invalid ring size %u for this layout\n", num);
		exit(2);
	}
	p->arena_size = ss + rs + vs + 4096;
	p->arena = aligned_alloc(4096, (p->arena_size + 4095u) & ~(size_t)4095u);
	if (!p->arena) {
		fprintf(stderr, "ring_bench: out of memory\n");
		exit(1);
	}
	memset(p->arena, 0, p->arena_size);
	size_t used = 0;
	p->region.addr = (uint64_t)(uintptr_t)p->arena;
	p->region.len = p->arena_size;
	p->region.host = p->arena;
	p->region.perm = VTIO_MEM_RW;
	int err = vtio_mem_init(&p->mem, &p->region, 1);
	if (err)
		die("mem", err);

	struct vtio_loopback_config lc;
	memset(&lc, 0, sizeof(lc));
	lc.device_features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_EVENT_IDX) |
			     VTIO_FEATURE(VTIO_F_RING_PACKED) | VTIO_FEATURE(VTIO_F_IN_ORDER);
	lc.num_queues = 1;
	lc.queue_max = num;
	lc.mem = &p->mem;
	lc.dev = &bench_dev_ops;
	lc.dev_ctx = p;
	void *storage = carve(p, &used, ss);
	err = vtio_loopback_init(&p->lb, storage, ss, &lc);
	if (err)
		die("loopback", err);
	p->t = vtio_loopback_transport(&p->lb);
	vtio_transport_set_irq(p->t, drv_irq, NULL, p);

	struct vtio_transport_negotiation n;
	memset(&n, 0, sizeof(n));
	if (opt.event_idx)
		n.supported |= VTIO_FEATURE(VTIO_F_EVENT_IDX);
	if (layout == VTIO_LAYOUT_PACKED)
		n.supported |= VTIO_FEATURE(VTIO_F_RING_PACKED);
	if (opt.in_order)
		n.supported |= VTIO_FEATURE(VTIO_F_IN_ORDER);
	err = vtio_transport_negotiate(p->t, &n);
	if (err)
		die("negotiate", err);
	struct vtio_transport_vq_config qc;
	memset(&qc, 0, sizeof(qc));
	qc.num = num;
	qc.ring = carve(p, &used, rs);
	p->ring = qc.ring;
	qc.ring_size = rs;
	qc.state = carve(p, &used, vs);
	qc.state_size = vs;
	err = vtio_transport_vq_setup(p->t, &qc, &p->vq);
	if (err)
		die("vq setup", err);
	err = vtio_transport_driver_ok(p->t);
	if (err)
		die("driver ok", err);
	p->dq = vtio_loopback_devq(&p->lb, 0);
	if (!p->dq) {
		fprintf(stderr, "ring_bench: device queue not live\n");
		exit(1);
	}
	p->buf = carve(p, &used, 64);
	if (use_eventfd) {
		if (vtio_host_event_init(&p->kickfd) || vtio_host_event_init(&p->callfd)) {
			fprintf(stderr, "ring_bench: eventfd\n");
			exit(1);
		}
	}
}

static void pair_teardown(struct pair *p)
{
	vtio_transport_reset(p->t);
	while (vtio_vq_detach_unused(p->vq))
		;
	if (p->use_eventfd) {
		vtio_host_event_close(&p->kickfd);
		vtio_host_event_close(&p->callfd);
	}
	free(p->arena);
}

/* ---- (a) single thread ----------------------------------------------------------------- */

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The driver takes back the @p batch buffers the device just returned:
 * one vtio_vq_get_used() each, or vtio_vq_get_used_batch() (--drv-batch). */
static inline void reap(struct vtio_vq *vq, unsigned batch)
{
	if (opt.drv_batch) {
		void *t[256];
		if (VTIO_UNLIKELY(vtio_vq_get_used_batch(vq, t, NULL, batch) != (int)batch))
			die("get_used_batch", VTIO_EIO);
		return;
	}
	for (unsigned i = 0; i < batch; i++)
		if (VTIO_UNLIKELY(vtio_vq_get_used(vq, NULL) == NULL))
			die("get_used", VTIO_EIO);
}

/* Returns wall ns per buffer; *cpu gets the thread's CPU ns per buffer
 * (what the loop costs when the machine is shared and the thread waits
 * for a CPU). */
static double run_single(enum vtio_layout layout, unsigned batch, uint64_t nbuf, double *cpu)
{
	struct pair p;
	pair_setup(&p, layout, 0);
	if (batch > opt.ring)
		batch = opt.ring;
	/* The device never asks for kicks: kick_prepare stays a publish. */
	vtio_devq_disable_notify(p.dq);
	vtio_vq_disable_cb(p.vq);
	struct vtio_sg sg = vtio_sg_of(p.buf, 64);
	struct vtio_devq_done used[256];
	static struct vtio_iov crd[256], cwr[256];
	static struct vtio_devq_chain chains[256];
	for (unsigned i = 0; i < 256; i++) {
		chains[i].rd = &crd[i];
		chains[i].rd_max = 1;
		chains[i].wr = &cwr[i];
		chains[i].wr_max = 1;
	}
	static struct vtio_sg sgs[256];
	static void *toks[256];
	for (unsigned i = 0; i < 256; i++) {
		sgs[i] = sg;
		toks[i] = p.buf;
	}
	uint64_t rounds = (nbuf + batch - 1) / batch;
	uint64_t c0 = thread_cpu_ns();
	uint64_t t0 = vtio_host_now_ns();
	for (uint64_t r = 0; r < rounds; r++) {
		if (opt.drv_batch) {
			/* One vtio_vq_add_batch() for the whole batch. */
			if (VTIO_UNLIKELY(vtio_vq_add_batch(p.vq, sgs, batch, true, toks) !=
					  (int)batch))
				die("add_batch", VTIO_ENOSPC);
		} else {
			for (unsigned i = 0; i < batch; i++)
				if (VTIO_UNLIKELY(vtio_vq_add(p.vq, &sg, 0, 1, p.buf) != 0))
					die("add", VTIO_ENOSPC);
		}
		(void)vtio_vq_kick_prepare(p.vq);
		if (opt.dev_batch && batch > 1) {
			/* The device takes the batch with vtio_devq_pop_batch(). */
			for (unsigned i = 0; i < batch;) {
				unsigned want =
				    batch - i < opt.dev_batch ? batch - i : opt.dev_batch;
				int k = vtio_devq_pop_batch(p.dq, chains + i, want);
				if (VTIO_UNLIKELY(k <= 0))
					die("pop_batch", k);
				for (int j = 0; j < k; j++) {
					used[i + (unsigned)j].h =
					    vtio_devq_handle_of(&chains[i + (unsigned)j]);
					used[i + (unsigned)j].len = 1;
				}
				i += (unsigned)k;
			}
			if (VTIO_UNLIKELY(vtio_devq_push_batch(p.dq, used, batch) != 0))
				die("push_batch", VTIO_EIO);
			reap(p.vq, batch);
			continue;
		}
		for (unsigned i = 0; i < batch; i++) {
			struct vtio_iov rd[1], wr[1];
			struct vtio_devq_chain c;
			c.rd = rd;
			c.rd_max = 1;
			c.wr = wr;
			c.wr_max = 1;
			int err = vtio_devq_pop(p.dq, &c);
			if (VTIO_UNLIKELY(err != 0))
				die("pop", err);
			if (batch == 1) {
				if (VTIO_UNLIKELY(vtio_devq_push(p.dq, &c, 1) != 0))
					die("push", VTIO_EIO);
				continue;
			}
			used[i].h = vtio_devq_handle_of(&c);
			used[i].len = 1;
		}
		if (batch > 1 && VTIO_UNLIKELY(vtio_devq_push_batch(p.dq, used, batch) != 0))
			die("push_batch", VTIO_EIO);
		reap(p.vq, batch);
	}
	uint64_t dt = vtio_host_now_ns() - t0;
	*cpu = (double)(thread_cpu_ns() - c0) / (double)(rounds * batch);
	pair_teardown(&p);
	return (double)dt / (double)(rounds * batch);
}

/* ---- (b)/(c) two threads, ringtest's workload ----------------------------------------- */

/* Each thread's own: 128-byte aligned (a line pair, the unit the adjacent
 * line prefetcher moves) so the device's counters never share a line with
 * what the driver reads. */
struct thr {
	alignas(128) struct pair *p;
	pthread_barrier_t *bar;
	int cpu;
	int sleep;
	uint64_t bufs;
	unsigned batch;
	uint64_t t_start, t_end; /* measured in the thread: main may not get a CPU */
	uint64_t wakeups;	 /* device: times it found the ring non-empty and started popping */
};

/* Pinning that silently failed would compare unlike placements (ringtest
 * asserts on it too). */
static void pin_or_die(int cpu)
{
	if (vtio_host_pin_self(cpu) != 0) {
		fprintf(stderr, "ring_bench: cannot pin a thread to CPU %d\n", cpu);
		exit(1);
	}
}

/* Buffers the device found per wakeup in each run of the last measurement
 * (two-thread modes): how far behind the driver the device runs (ringtest
 * `ring`'s device finds tens; a device that never catches up finds thousands). */
static double *bpw_runs;

/*
 * --dev-backoff N: after each poll that found the ring empty, the device
 * (ours or the trusting one) runs N VTIO_CPU_RELAX()es before it reads the
 * next slot's flags again, so that it reads the line the driver is writing
 * less often; the driver's waits are unchanged. Not ringtest's loop (its
 * device polls back to back): a reference row of compare_linux, never its
 * target row.
 */
static inline void dev_backoff(void)
{
	for (unsigned i = opt.dev_backoff; i != 0; i--)
		VTIO_CPU_RELAX();
}

static inline void busy_wait(unsigned *spins)
{
	if (opt.relax)
		VTIO_CPU_RELAX();
	else
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	/* Only when the peer thread is not running (shared or busy CPUs):
	 * give the CPU away instead of spinning out a whole time slice. */
	if (!opt.no_yield && ++*spins >= (1u << 16)) {
		*spins = 0;
		sched_yield();
	}
}

/*
 * --trusting: ringtest `ring`'s add_inbuf()/get_buf() and use_buf(), written
 * for the virtio packed layout (addr, len, id, flags; AVAIL/USED against a
 * wrap counter) and nothing more: no validation beyond comparing the fields
 * ringtest also reads with the one value they may hold, no free list
 * (buffer id = slot, as ringtest's index), no counters, state in
 * registers. Not a library path and not safe against a hostile peer: it
 * measures what the layout itself costs in this bench's loops, so that a
 * gap between ours and ringtest can be put on the layout or on our code.
 * Each side can be trusting alone, facing the library's other side, which
 * then runs against a second, minimal implementation of the packed format
 * (the smoke tests do that). One descriptor per buffer, device-writable; the
 * device writes 1 byte, as the library device in this bench does.
 */
#define PK_AVAIL_BITS(lap) ((lap) ? VTIO_DESC_F_AVAIL : VTIO_DESC_F_USED)
#define PK_USED_BITS(lap)  ((lap) ? (VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED) : 0u)
#define PK_AU_MASK	   (VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED)

static void *trusting_driver(struct thr *th)
{
	struct pair *p = th->p;
	volatile struct vtio_packed_desc *d = (volatile struct vtio_packed_desc *)(void *)p->ring;
	const uint32_t num = opt.ring;
	uint32_t avail = 0, last_used = 0, num_free = num;
	uint64_t started = 0, completed = 0, bufs = th->bufs;
	bool avail_lap = true, used_lap = true; /* wrap counters, 1 at reset */
	for (;;) {
		int r;
		do {
			r = -1;
			if (started < bufs && started - completed < opt.outstanding && num_free) {
				volatile struct vtio_packed_desc *a = d + avail;
				/* Start with a write, as ringtest does. */
				a->addr = (uint64_t)(uintptr_t)p->buf;
				a->len = 64;
				a->id = (uint16_t)avail;
				__atomic_store_n(
				    &a->flags,
				    (uint16_t)(PK_AVAIL_BITS(avail_lap) | VTIO_DESC_F_WRITE),
				    __ATOMIC_RELEASE);
				if (++avail == num) {
					avail = 0;
					avail_lap = !avail_lap;
				}
				num_free--;
				started++;
				r = 0;
			}
			uint16_t f = __atomic_load_n(&d[last_used].flags, __ATOMIC_ACQUIRE);
			if (num_free < num && (f & PK_AU_MASK) == PK_USED_BITS(used_lap)) {
				/* get_buf() reads len and the id too: here they are
				 * checked against what the device must have written
				 * (one byte, this slot's id, WRITE), so a library device
				 * that wrote anything else stops the run. */
				if (d[last_used].id != last_used || d[last_used].len != 1 ||
				    !(f & VTIO_DESC_F_WRITE))
					die("trusting driver: wrong used descriptor", VTIO_EPROTO);
				if (++last_used == num) {
					last_used = 0;
					used_lap = !used_lap;
				}
				num_free++;
				if (++completed == bufs) {
					th->t_end = vtio_host_now_ns();
					return NULL;
				}
				r = 0;
			}
		} while (r == 0);
		unsigned spins = 0;
		while ((__atomic_load_n(&d[last_used].flags, __ATOMIC_ACQUIRE) & PK_AU_MASK) !=
		       PK_USED_BITS(used_lap))
			busy_wait(&spins);
	}
}

static void *trusting_device(struct thr *th)
{
	struct pair *p = th->p;
	volatile struct vtio_packed_desc *d = (volatile struct vtio_packed_desc *)(void *)p->ring;
	const uint32_t num = opt.ring;
	uint32_t slot = 0;
	bool lap = true;
	uint64_t completed = 0, bufs = th->bufs;
	for (;;) {
		unsigned spins = 0;
		while ((__atomic_load_n(&d[slot].flags, __ATOMIC_ACQUIRE) & PK_AU_MASK) !=
		       PK_AVAIL_BITS(lap)) {
			dev_backoff();
			busy_wait(&spins);
		}
		th->wakeups++;
		/* use_buf(): the id stays the one the driver wrote (one
		 * descriptor per buffer, used in order: the same value). */
		uint16_t f;
		while (((f = __atomic_load_n(&d[slot].flags, __ATOMIC_ACQUIRE)) & PK_AU_MASK) ==
		       PK_AVAIL_BITS(lap)) {
			/* use_buf() reads len and addr: checked against what the
			 * driver must have written (the one 64-byte device-writable
			 * buffer, one descriptor). */
			if (d[slot].addr != (uint64_t)(uintptr_t)p->buf || d[slot].len != 64 ||
			    (f & (VTIO_DESC_F_WRITE | VTIO_DESC_F_NEXT | VTIO_DESC_F_INDIRECT)) !=
				VTIO_DESC_F_WRITE)
				die("trusting device: wrong available descriptor", VTIO_EPROTO);
			d[slot].len = 1;
			__atomic_store_n(&d[slot].flags,
					 (uint16_t)(PK_USED_BITS(lap) | VTIO_DESC_F_WRITE),
					 __ATOMIC_RELEASE);
			if (++slot == num) {
				slot = 0;
				lap = !lap;
			}
			if (++completed == bufs) {
				th->t_end = vtio_host_now_ns();
				return NULL;
			}
		}
	}
}

static void *guest_thread(void *arg)
{
	struct thr *th = arg;
	struct pair *p = th->p;
	struct vtio_vq *vq = p->vq;
	pin_or_die(th->cpu);
	pthread_barrier_wait(th->bar);
	th->t_start = vtio_host_now_ns();
	if (opt.trusting & TRUST_DRIVER)
		return trusting_driver(th);
	struct vtio_sg sg = vtio_sg_of(p->buf, 64);
	uint64_t started = 0, completed = 0, bufs = th->bufs;
	const unsigned batch = th->batch;
	const int sleep_mode = th->sleep;
	unsigned tokick = batch, unpublished = 0;
	/* Poll mode is ringtest's: its driver publishes at add and never runs
	 * the notification check (kick_available() is only called with
	 * --sleep). Our split driver publishes with vtio_vq_publish() every
	 * batch adds (a release store of avail idx, no notification check),
	 * which is what ringtest's add does; a packed add makes its descriptor
	 * available itself (the flags store), so vtio_vq_publish() is a no-op
	 * there. kick_prepare would add the notification check (a full
	 * barrier and a read of the device's event area) that ringtest's poll
	 * mode does not do. */
	const bool publish = sleep_mode || vtio_vq_layout(vq) == VTIO_LAYOUT_SPLIT;
	for (;;) {
		int r;
		do {
			r = -1;
			if (started < bufs && started - completed < opt.outstanding) {
				r = vtio_vq_add(vq, &sg, 0, 1, p->buf);
				if (VTIO_LIKELY(r == 0)) {
					++started;
					unpublished += publish;
					if (publish && !--tokick) {
						tokick = batch;
						unpublished = 0;
						if (sleep_mode)
							vtio_vq_kick(vq);
						else
							(void)vtio_vq_publish(vq);
					}
				}
			}
			if (vtio_vq_get_used(vq, NULL)) {
				if (++completed == bufs) {
					th->t_end = vtio_host_now_ns();
					return NULL;
				}
				r = 0;
			}
		} while (r == 0);
		if (unpublished) {
			/* Our add publishes at kick_prepare, not at add: never wait
			 * on buffers the device cannot see yet. */
			unpublished = 0;
			tokick = batch;
			if (sleep_mode)
				vtio_vq_kick(vq);
			else
				(void)vtio_vq_publish(vq);
		}
		if (vtio_vq_is_broken(vq))
			die("driver queue broken", VTIO_EIO);
		if (sleep_mode) {
			if (!vtio_vq_more_used(vq) && vtio_vq_enable_cb(vq))
				wait_fd(&p->callfd);
		} else {
			unsigned spins = 0;
			while (!vtio_vq_more_used(vq))
				busy_wait(&spins);
		}
	}
}

static void *host_thread(void *arg)
{
	struct thr *th = arg;
	struct pair *p = th->p;
	struct vtio_devq *dq = p->dq;
	pin_or_die(th->cpu);
	pthread_barrier_wait(th->bar);
	th->t_start = vtio_host_now_ns();
	if (opt.trusting & TRUST_DEVICE)
		return trusting_device(th);
	uint64_t completed = 0, bufs = th->bufs;
	const int sleep_mode = th->sleep;
	for (;;) {
		if (sleep_mode) {
			if (!vtio_devq_more_avail(dq) && vtio_devq_enable_notify(dq))
				wait_fd(&p->kickfd);
		} else {
			unsigned spins = 0;
			while (!vtio_devq_more_avail(dq)) {
				dev_backoff();
				busy_wait(&spins);
			}
		}
		th->wakeups++;
		if (opt.dev_batch) {
			/* Pop up to dev_batch chains per call, complete them with one
			 * push_batch: the used entries of a batch fill their lines
			 * before the first one's flags publish them all. */
			struct vtio_iov rd[64], wr[64];
			struct vtio_devq_chain cs[64];
			struct vtio_devq_done done[64];
			for (unsigned i = 0; i < opt.dev_batch; i++) {
				cs[i].rd = &rd[i];
				cs[i].rd_max = 1;
				cs[i].wr = &wr[i];
				cs[i].wr_max = 1;
			}
			for (;;) {
				int k = vtio_devq_pop_batch(dq, cs, opt.dev_batch);
				if (k == VTIO_EAGAIN)
					break;
				if (VTIO_UNLIKELY(k < 0))
					die("pop_batch", k);
				for (int j = 0; j < k; j++) {
					done[j].h = vtio_devq_handle_of(&cs[j]);
					done[j].len = 1;
				}
				if (VTIO_UNLIKELY(vtio_devq_push_batch(dq, done, (unsigned)k) != 0))
					die("push_batch", VTIO_EIO);
				if (sleep_mode)
					vtio_devq_kick(dq);
				completed += (uint64_t)k;
				if (completed >= bufs) {
					th->t_end = vtio_host_now_ns();
					return NULL;
				}
			}
			continue;
		}
		for (;;) {
			struct vtio_iov rd[1], wr[1];
			struct vtio_devq_chain c;
			c.rd = rd;
			c.rd_max = 1;
			c.wr = wr;
			c.wr_max = 1;
			int err = vtio_devq_pop(dq, &c);
			if (err == VTIO_EAGAIN)
				break;
			if (VTIO_UNLIKELY(err != 0))
				die("pop", err);
			if (VTIO_UNLIKELY(vtio_devq_push(dq, &c, 1) != 0))
				die("push", VTIO_EIO);
			if (sleep_mode)
				vtio_devq_kick(dq);
			if (++completed == bufs) {
				th->t_end = vtio_host_now_ns();
				return NULL;
			}
		}
	}
}

/* @bpw: set to the buffers the device found per wakeup. */
static double run_threads(enum vtio_layout layout, int sleep, unsigned batch, uint64_t nbuf,
			  double *bpw)
{
	struct pair p;
	pair_setup(&p, layout, sleep);
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, 3);
	int ncpu = vtio_host_ncpus();
	int hc = opt.host_cpu == -2 ? (ncpu >= 2 ? 0 : -1) : opt.host_cpu;
	int gc = opt.guest_cpu == -2 ? (ncpu >= 2 ? 1 : -1) : opt.guest_cpu;
	struct thr host = {&p, &bar, hc, sleep, nbuf, batch, 0, 0, 0};
	struct thr guest = {&p, &bar, gc, sleep, nbuf, batch, 0, 0, 0};
	pthread_t th, tg;
	if (pthread_create(&th, NULL, host_thread, &host) ||
	    pthread_create(&tg, NULL, guest_thread, &guest)) {
		fprintf(stderr, "ring_bench: pthread_create\n");
		exit(1);
	}
	pthread_barrier_wait(&bar);
	pthread_join(tg, NULL);
	pthread_join(th, NULL);
	uint64_t t0 = host.t_start < guest.t_start ? host.t_start : guest.t_start;
	uint64_t t1 = host.t_end > guest.t_end ? host.t_end : guest.t_end;
	uint64_t dt = t1 - t0;
	*bpw = host.wakeups ? (double)nbuf / (double)host.wakeups : 0.0;
	pthread_barrier_destroy(&bar);
	pair_teardown(&p);
	return (double)dt / (double)nbuf;
}

/* ---- Driver ------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* @cpu: per-run CPU ns per buffer, or NULL when not measured; @bpw: per-run
 * buffers per device wakeup (two-thread modes), or NULL. */
static void report(const char *bench, enum vtio_layout layout, int threads, unsigned batch,
		   uint64_t nbuf, double *v, double *cpu, double *bpw, unsigned n)
{
	double cmed = cpu ? median(cpu, n) : 0;
	double bmed = bpw ? median(bpw, n) : 0;
	double med = median(v, n);
	char cbuf[64] = "";
	char bbuf[64] = "";
	const char *ln = layout == VTIO_LAYOUT_PACKED ? "packed" : "split";
	const char *tr = opt.trusting == (TRUST_DRIVER | TRUST_DEVICE) ? "both"
			 : opt.trusting == TRUST_DRIVER		       ? "driver"
			 : opt.trusting == TRUST_DEVICE		       ? "device"
								       : NULL;
	char tbuf[96] = "";
	if (opt.json) {
		if (tr)
			snprintf(tbuf, sizeof(tbuf), ",\"trusting\":\"%s\"", tr);
		if (opt.dev_backoff && !strcmp(bench, "poll"))
			snprintf(tbuf + strlen(tbuf), sizeof(tbuf) - strlen(tbuf),
				 ",\"dev_backoff\":%u", opt.dev_backoff);
		if (cpu)
			snprintf(cbuf, sizeof(cbuf), ",\"cpu_ns_per_buf\":%.2f", cmed);
		if (bpw)
			snprintf(bbuf, sizeof(bbuf), ",\"bufs_per_wakeup\":%.1f", bmed);
		printf("{\"bench\":\"%s\",\"layout\":\"%s\",\"threads\":%d,\"batch\":%u,"
		       "\"in_order\":%s,\"event_idx\":%s,\"ring\":%u,\"buffers\":%" PRIu64
		       ",\"runs\":%u,\"ns_per_buf\":%.2f,\"min\":%.2f,\"max\":%.2f%s%s%s}\n",
		       bench, ln, threads, batch, opt.in_order ? "true" : "false",
		       opt.event_idx ? "true" : "false", opt.ring, nbuf, n, med, v[0], v[n - 1],
		       cbuf, bbuf, tbuf);
	} else {
		if (cpu)
			snprintf(cbuf, sizeof(cbuf), ", cpu %.2f ns/buf", cmed);
		if (bpw)
			snprintf(bbuf, sizeof(bbuf), ", %.1f bufs/wakeup", bmed);
		if (tr)
			snprintf(tbuf, sizeof(tbuf), " [trusting %s: a ringtest-style loop]", tr);
		if (opt.dev_backoff && !strcmp(bench, "poll"))
			snprintf(tbuf + strlen(tbuf), sizeof(tbuf) - strlen(tbuf),
				 " [device backs off %u pauses]", opt.dev_backoff);
		printf("%-8s %-6s threads=%d batch=%-3u in_order=%d ring=%u buffers=%" PRIu64
		       "  %8.2f ns/buf (median of %u, min %.2f, max %.2f%s%s)%s\n",
		       bench, ln, threads, batch, opt.in_order, opt.ring, nbuf, med, n, v[0],
		       v[n - 1], cbuf, bbuf, tbuf);
	}
	fflush(stdout);
}

static void usage(const char *argv0)
{
	fprintf(
	    stderr,
	    "usage: %s [--json] [--layout split|packed|both] [--in-order]\n"
	    "       [--mode single|poll|eventfd|threads|all] [--buffers N] [--runs R] [--quick]\n"
	    "       [--ring-size R] [--batch B] [--outstanding O] [--no-event-idx]\n"
	    "       [--host-affinity CPU] [--guest-affinity CPU] [--relax] [--no-yield]\n"
	    "       [--dev-backoff N] (poll: N pauses after each empty device poll)\n"
	    "       [--exit-cycles C] [--dev-batch N] [--drv-batch]\n"
	    "       [--trusting driver|device|both] (packed poll only: no checks, see README)\n"
	    "ringtest aliases: --run-cycles N (= --buffers), --sleep (= --mode eventfd),\n"
	    "       --poll (= --mode poll)\n",
	    argv0);
	exit(2);
}

static uint64_t num_arg(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		usage(argv[0]);
	char *end;
	unsigned long long v = strtoull(argv[++*i], &end, 0);
	if (*end)
		usage(argv[0]);
	return v;
}

int main(int argc, char **argv)
{
	int quick = 0, buffers_set = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json"))
			opt.json = 1;
		else if (!strcmp(a, "--in-order"))
			opt.in_order = 1;
		else if (!strcmp(a, "--quick"))
			quick = 1;
		else if (!strcmp(a, "--relax"))
			opt.relax = 1;
		else if (!strcmp(a, "--no-yield"))
			opt.no_yield = 1;
		else if (!strcmp(a, "--no-event-idx"))
			opt.event_idx = 0;
		else if (!strcmp(a, "--sleep"))
			opt.modes = MODE_EVENTFD;
		else if (!strcmp(a, "--poll"))
			opt.modes = MODE_POLL;
		else if (!strcmp(a, "--layout") && i + 1 < argc) {
			const char *l = argv[++i];
			opt.layouts = !strcmp(l, "split")    ? 1
				      : !strcmp(l, "packed") ? 2
				      : !strcmp(l, "both")   ? 3
							     : 0;
			if (!opt.layouts)
				usage(argv[0]);
		} else if (!strcmp(a, "--mode") && i + 1 < argc) {
			const char *m = argv[++i];
			opt.modes = !strcmp(m, "single")    ? MODE_SINGLE
				    : !strcmp(m, "poll")    ? MODE_POLL
				    : !strcmp(m, "eventfd") ? MODE_EVENTFD
				    : !strcmp(m, "threads") ? MODE_POLL | MODE_EVENTFD
				    : !strcmp(m, "all")	    ? MODE_SINGLE | MODE_POLL | MODE_EVENTFD
							    : 0;
			if (!opt.modes)
				usage(argv[0]);
		} else if (!strcmp(a, "--buffers") || !strcmp(a, "--run-cycles")) {
			opt.buffers = opt.single_buffers = num_arg(argc, argv, &i);
			buffers_set = 1;
		} else if (!strcmp(a, "--runs"))
			opt.runs = (unsigned)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--ring-size"))
			opt.ring = (unsigned)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--batch"))
			opt.batch = (unsigned)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--outstanding"))
			opt.outstanding = num_arg(argc, argv, &i);
		else if (!strcmp(a, "--host-affinity"))
			opt.host_cpu = (int)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--guest-affinity"))
			opt.guest_cpu = (int)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--exit-cycles"))
			opt.exit_cycles = (unsigned)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--drv-batch"))
			opt.drv_batch = 1;
		else if (!strcmp(a, "--dev-backoff"))
			opt.dev_backoff = (unsigned)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--dev-batch"))
			opt.dev_batch = (unsigned)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--trusting") && i + 1 < argc) {
			const char *t = argv[++i];
			opt.trusting = !strcmp(t, "driver")   ? TRUST_DRIVER
				       : !strcmp(t, "device") ? TRUST_DEVICE
				       : !strcmp(t, "both")   ? TRUST_DRIVER | TRUST_DEVICE
							      : 0;
			if (!opt.trusting)
				usage(argv[0]);
		} else
			usage(argv[0]);
	}
	if (quick) {
		if (!buffers_set) {
			opt.single_buffers = 200000;
			opt.buffers = 20000;
		}
		if (opt.runs > 3)
			opt.runs = 3;
	}
	if (opt.runs == 0 || opt.runs > 101 || opt.ring == 0 || opt.buffers == 0 ||
	    opt.outstanding == 0 || opt.dev_batch > 64 || opt.dev_backoff > 65536)
		usage(argv[0]);
	if (opt.trusting && (opt.layouts != 2 || opt.modes != MODE_POLL || opt.dev_batch ||
			     (opt.ring & (opt.ring - 1)) != 0 || opt.ring > VTIO_PACKED_MAX_SIZE)) {
		fprintf(stderr, "ring_bench: --trusting needs --layout packed --mode poll, no "
				"--dev-batch, and a power-of-2 ring\n");
		exit(2);
	}
#if !defined(__OPTIMIZE__)
	fprintf(stderr, "ring_bench: warning: unoptimised build; configure with "
			"-DCMAKE_BUILD_TYPE=Release for meaningful numbers\n");
#endif
	double *v = calloc(opt.runs, sizeof(double));
	double *cpu = calloc(opt.runs, sizeof(double));
	bpw_runs = calloc(opt.runs, sizeof(double));
	if (!v || !cpu || !bpw_runs)
		return 1;
	for (int l = 0; l < 2; l++) {
		if (!(opt.layouts & (1 << l)))
			continue;
		enum vtio_layout layout = l ? VTIO_LAYOUT_PACKED : VTIO_LAYOUT_SPLIT;
		if (opt.modes & MODE_SINGLE) {
			unsigned batches[2] = {1, 32};
			unsigned nb = 2;
			if (opt.batch) {
				batches[0] = opt.batch;
				nb = 1;
			}
			for (unsigned b = 0; b < nb; b++) {
				for (unsigned r = 0; r < opt.runs; r++)
					v[r] = run_single(layout, batches[b], opt.single_buffers,
							  &cpu[r]);
				report("single", layout, 1, batches[b], opt.single_buffers, v, cpu,
				       NULL, opt.runs);
			}
		}
		unsigned tb = opt.batch ? opt.batch : 1;
		if (opt.modes & MODE_POLL) {
			for (unsigned r = 0; r < opt.runs; r++)
				v[r] = run_threads(layout, 0, tb, opt.buffers, &bpw_runs[r]);
			report("poll", layout, 2, tb, opt.buffers, v, NULL, bpw_runs, opt.runs);
		}
		if (opt.modes & MODE_EVENTFD) {
			for (unsigned r = 0; r < opt.runs; r++)
				v[r] = run_threads(layout, 1, tb, opt.buffers, &bpw_runs[r]);
			report("eventfd", layout, 2, tb, opt.buffers, v, NULL, bpw_runs, opt.runs);
		}
	}
	free(v);
	free(cpu);
	free(bpw_runs);
	return 0;
}
