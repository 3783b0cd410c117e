/*
 * A device back end that keeps hundreds of requests in flight and completes
 * them out of order from another thread, holding each request by its
 * completion handle only (devq.h: struct vtio_devq_handle, 8 bytes), never
 * by its chain: the chain and its iov arrays are reused for the very next
 * pop.
 *
 * Three threads, one process, one queue:
 *  - the driver (main thread) keeps the ring full of requests: a readable
 *    16-byte header (sequence number, a salt) and a writable 16-byte reply;
 *    it reaps replies with vtio_vq_take_used() and checks each one;
 *  - the device front end pops each request, reads its header, and hands a
 *    job {handle, what to answer, where} to the I/O engine;
 *  - the I/O engine (the second device thread) holds at least --inflight
 *    jobs, then completes random ones: writes the reply, and returns them
 *    with vtio_devq_push_handle() or in batches with vtio_devq_push_batch().
 * The two device threads serialise their device calls with one mutex (the
 * device-side rule of devq.h); the driver runs concurrently without locks.
 * Notifications go through two doorbells (mutex + condition variable).
 *
 * Exit status 0 when every request came back once with the right reply,
 * at least --inflight were in flight at once and some came back out of
 * order; 1 otherwise; 2 for bad arguments. SIGINT/SIGTERM stop it cleanly.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vtio.h>

#define QSIZE	  1024u /* 2 descriptors a request: up to 512 in flight */
#define MAX_JOBS  512u
#define HDR_BYTES 16u

static atomic_int got_signal; /* SIGINT / SIGTERM received */
static atomic_bool stop;      /* every thread winds down */

static void on_signal(int sig)
{
	atomic_store(&got_signal, sig);
	atomic_store(&stop, true);
}

/* ---- A doorbell: a counter, a mutex and a condition variable ------------------------- */

struct doorbell {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned rings;
};

static void bell_init(struct doorbell *b)
{
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	b->rings = 0;
}

static void bell_ring(struct doorbell *b)
{
	pthread_mutex_lock(&b->lock);
	b->rings++;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

/* Wait for a ring or @ms milliseconds (a safety net: nothing depends on it). */
static void bell_wait(struct doorbell *b, long ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += ms * 1000000L;
	t.tv_sec += t.tv_nsec / 1000000000L;
	t.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&b->lock);
	while (b->rings == 0 && !atomic_load(&stop))
		if (pthread_cond_timedwait(&b->cond, &b->lock, &t) == ETIMEDOUT)
			break;
	b->rings = 0;
	pthread_mutex_unlock(&b->lock);
}

/* ---- The setup ---------------------------------------------------------------------- */

struct request {
	uint64_t seq;
	uint64_t salt;
};
struct reply {
	uint64_t seq;
	uint64_t answer; /* seq * 3 + salt */
};

/* What the back end keeps per request in flight: the handle, and what its
 * I/O engine needs to do the work (here: the answer, and where it goes). */
struct job {
	struct vtio_devq_handle h;
	uint64_t seq, answer;
	void *reply; /* local pointer of the writable piece */
	uint64_t pop_order;
};

struct app {
	enum vtio_layout layout;
	unsigned requests, inflight_goal;
	struct vtio_vq *vq;
	struct vtio_devq *dq;
	pthread_mutex_t dq_lock; /* serialises the device-side calls of both threads */
	struct doorbell kick_bell, irq_bell, job_bell;
	/* Jobs handed from the front end to the engine. */
	pthread_mutex_t job_lock;
	struct job jobs[MAX_JOBS];
	unsigned njobs;
	bool front_done; /* the front end popped every request */
	/* Results. */
	atomic_uint max_inflight;
	atomic_uint out_of_order;
	atomic_int device_error;
	unsigned char *mem; /* rings, then request/reply buffers */
	struct request *req;
	struct reply *rep;
};

static int kick_cb(void *ctx, uint32_t data)
{
	(void)data;
	bell_ring(&((struct app *)ctx)->kick_bell);
	return 0;
}

static int irq_cb(void *ctx, uint32_t data)
{
	(void)data;
	bell_ring(&((struct app *)ctx)->irq_bell);
	return 0;
}

static void device_fail(struct app *a, const char *what, int err)
{
	pthread_mutex_lock(&a->dq_lock);
	const char *why = vtio_devq_broken_reason(a->dq);
	pthread_mutex_unlock(&a->dq_lock);
	fprintf(stderr, "inflight_backend: device: %s: %s%s%s\n", what, vtio_strerror(err),
		why ? ", queue broken: " : "", why ? why : "");
	atomic_store(&a->device_error, 1);
	atomic_store(&stop, true);
}

/* ---- Device front end: pop, read the request, hand a job to the engine ------------- */

static void *front_main(void *arg)
{
	struct app *a = arg;
	struct vtio_iov rd[4], wr[4];
	struct vtio_devq_chain c = {.rd = rd, .rd_max = 4, .wr = wr, .wr_max = 4};
	unsigned popped = 0;
	while (popped < a->requests && !atomic_load(&stop)) {
		pthread_mutex_lock(&a->dq_lock);
		int err = vtio_devq_pop(a->dq, &c);
		bool wait = false;
		if (err == VTIO_EAGAIN)
			wait = vtio_devq_enable_notify(a->dq); /* true: still empty */
		pthread_mutex_unlock(&a->dq_lock);
		if (err == VTIO_EAGAIN) {
			if (wait)
				bell_wait(&a->kick_bell, 20);
			continue;
		}
		if (err != 0) {
			device_fail(a, "pop", err);
			break;
		}
		struct request r;
		if (vtio_devq_read(a->dq, &c, 0, &r, sizeof(r)) != (int64_t)sizeof(r) ||
		    c.wr_num != 1 || c.wr[0].ptr == NULL || c.wr_len < sizeof(struct reply)) {
			device_fail(a, "request not of the expected shape", VTIO_EBADMSG);
			break;
		}
		/* From here on the request is its handle (plus the engine's work);
		 * c, rd and wr are free for the next pop. */
		struct job j;
		j.h = vtio_devq_handle_of(&c);
		j.seq = r.seq;
		j.answer = r.seq * 3u + r.salt;
		j.reply = c.wr[0].ptr;
		j.pop_order = popped++;
		pthread_mutex_lock(&a->job_lock);
		a->jobs[a->njobs++] = j; /* njobs < MAX_JOBS: at most QSIZE / 2 in flight */
		unsigned n = a->njobs;
		pthread_mutex_unlock(&a->job_lock);
		unsigned m = atomic_load(&a->max_inflight);
		while (n > m && !atomic_compare_exchange_weak(&a->max_inflight, &m, n)) {
		}
		bell_ring(&a->job_bell);
	}
	pthread_mutex_lock(&a->job_lock);
	a->front_done = true;
	pthread_mutex_unlock(&a->job_lock);
	bell_ring(&a->job_bell);
	return NULL;
}

/* ---- I/O engine: hold the goal, then complete random jobs, often in batches ---------- */

static void *engine_main(void *arg)
{
	struct app *a = arg;
	uint64_t rnd = 0x9e3779b97f4a7c15u;
	uint64_t next_expected = 0; /* pop order of a strictly in-order completion */
	unsigned done = 0;
	while (done < a->requests && !atomic_load(&stop)) {
		struct job take[8];
		unsigned k = 0;
		pthread_mutex_lock(&a->job_lock);
		/* Complete only while more than the goal are held (or at the tail). */
		while (k < 8 && a->njobs > 0 && (a->njobs > a->inflight_goal || a->front_done)) {
			rnd = rnd * 6364136223846793005u + 1442695040888963407u;
			unsigned i = (unsigned)((rnd >> 33) % a->njobs);
			take[k++] = a->jobs[i];
			a->jobs[i] = a->jobs[--a->njobs];
		}
		pthread_mutex_unlock(&a->job_lock);
		if (k == 0) {
			bell_wait(&a->job_bell, 20);
			continue;
		}
		struct vtio_devq_done d[8];
		for (unsigned i = 0; i < k; i++) {
			/* The "I/O": the reply lands in the driver's buffer. */
			struct reply rp = {take[i].seq, take[i].answer};
			memcpy(take[i].reply, &rp, sizeof(rp));
			d[i].h = take[i].h;
			d[i].len = sizeof(rp);
			if (take[i].pop_order != next_expected)
				atomic_fetch_add(&a->out_of_order, 1u);
			next_expected = take[i].pop_order + 1u;
		}
		pthread_mutex_lock(&a->dq_lock);
		int err = k == 1 ? vtio_devq_push_handle(a->dq, d[0].h, d[0].len)
				 : vtio_devq_push_batch(a->dq, d, k);
		if (err == 0)
			err = vtio_devq_kick(a->dq);
		pthread_mutex_unlock(&a->dq_lock);
		if (err != 0) {
			device_fail(a, "push", err);
			break;
		}
		done += k;
	}
	return NULL;
}

/* ---- Driver: keep the ring full, check every reply ----------------------------------- */

static int driver_run(struct app *a)
{
	unsigned submitted = 0, completed = 0;
	unsigned char *seen = calloc(a->requests, 1);
	uint32_t *slot_seq = calloc(MAX_JOBS, sizeof(uint32_t));
	unsigned *free_slots = malloc(MAX_JOBS * sizeof(unsigned));
	if (seen == NULL || slot_seq == NULL || free_slots == NULL) {
		fprintf(stderr, "inflight_backend: out of memory\n");
		free(seen);
		free(slot_seq);
		free(free_slots);
		return 1;
	}
	unsigned nfree = 0;
	for (unsigned s = MAX_JOBS; s-- > 0;)
		free_slots[nfree++] = s;
	int rc = 0;
	while (completed < a->requests && !atomic_load(&stop)) {
		bool moved = false;
		while (submitted < a->requests && nfree > 0) {
			unsigned s = free_slots[nfree - 1];
			a->req[s].seq = submitted;
			a->req[s].salt = (uint64_t)s << 32;
			memset(&a->rep[s], 0, sizeof(a->rep[s]));
			struct vtio_sg sg[2] = {vtio_sg_of(&a->req[s], sizeof(a->req[s])),
						vtio_sg_of(&a->rep[s], sizeof(a->rep[s]))};
			int err = vtio_vq_add(a->vq, sg, 1, 1, &a->req[s]);
			if (err == VTIO_ENOSPC)
				break;
			if (err != 0) {
				fprintf(stderr, "inflight_backend: driver: add: %s\n",
					vtio_strerror(err));
				rc = 1;
				goto out;
			}
			nfree--;
			slot_seq[s] = submitted++;
			moved = true;
		}
		if (moved && vtio_vq_kick(a->vq) != 0) {
			fprintf(stderr, "inflight_backend: driver: kick failed\n");
			rc = 1;
			goto out;
		}
		for (;;) {
			void *token;
			uint32_t len;
			int err = vtio_vq_take_used(a->vq, &token, &len);
			if (err == VTIO_EAGAIN)
				break;
			if (err != 0) {
				fprintf(stderr, "inflight_backend: driver: queue broken: %s\n",
					vtio_vq_broken_reason(a->vq));
				rc = 1;
				goto out;
			}
			unsigned s = (unsigned)((struct request *)token - a->req);
			uint32_t seq = s < MAX_JOBS ? slot_seq[s] : 0;
			if (s >= MAX_JOBS || len != sizeof(struct reply) || a->rep[s].seq != seq ||
			    a->rep[s].answer != (uint64_t)seq * 3u + ((uint64_t)s << 32) ||
			    seen[seq]) {
				fprintf(stderr,
					"inflight_backend: driver: wrong reply for request %u "
					"(len %u)\n",
					seq, len);
				rc = 1;
				goto out;
			}
			seen[seq] = 1;
			free_slots[nfree++] = s;
			completed++;
			moved = true;
		}
		if (!moved && vtio_vq_enable_cb(a->vq))
			bell_wait(&a->irq_bell, 20);
	}
	if (completed < a->requests)
		rc = 1;
out:
	free(seen);
	free(slot_seq);
	free(free_slots);
	return rc;
}

static int run(enum vtio_layout layout, unsigned requests, unsigned goal)
{
	static struct app a;
	memset(&a, 0, sizeof(a));
	a.layout = layout;
	a.requests = requests;
	a.inflight_goal = goal;
	pthread_mutex_init(&a.dq_lock, NULL);
	pthread_mutex_init(&a.job_lock, NULL);
	bell_init(&a.kick_bell);
	bell_init(&a.irq_bell);
	bell_init(&a.job_bell);

	uint64_t features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_EVENT_IDX);
	size_t ring_bytes = vtio_vq_ring_size(layout, QSIZE, 4096);
	size_t buf_off = (ring_bytes + 63u) & ~(size_t)63u; /* buffers 64-byte aligned */
	size_t vq_bytes = vtio_vq_state_size(layout, QSIZE, 0, 0);
	size_t dq_bytes = vtio_devq_state_size(layout, QSIZE);
	size_t buf_bytes = MAX_JOBS * (sizeof(struct request) + sizeof(struct reply));
	a.mem = aligned_alloc(4096, (buf_off + buf_bytes + 4095) & ~(size_t)4095);
	void *vq_state = aligned_alloc(16, (vq_bytes + 15) & ~(size_t)15);
	void *dq_state = aligned_alloc(16, (dq_bytes + 15) & ~(size_t)15);
	int rc = 1;
	if (ring_bytes == 0 || a.mem == NULL || vq_state == NULL || dq_state == NULL) {
		fprintf(stderr, "inflight_backend: cannot size or allocate the queues\n");
		goto out;
	}
	a.req = (struct request *)(void *)(a.mem + buf_off);
	a.rep = (struct reply *)(void *)(a.req + MAX_JOBS);

	struct vtio_vq_config vc = {.layout = layout,
				    .num = QSIZE,
				    .features = features,
				    .notify = kick_cb,
				    .notify_ctx = &a};
	int err = vtio_vq_areas_in(layout, QSIZE, 4096, a.mem, (uintptr_t)a.mem, &vc.areas);
	if (err == 0)
		err = vtio_vq_init(&a.vq, vq_state, vq_bytes, &vc);
	if (err != 0) {
		fprintf(stderr, "inflight_backend: driver queue: %s\n", vtio_strerror(err));
		goto out;
	}
	static const struct vtio_mem_region everything = {0, UINTPTR_MAX, NULL, VTIO_MEM_RW};
	static struct vtio_mem view;
	struct vtio_devq_config cc = {
	    .layout = layout,
	    .num = QSIZE,
	    .features = features,
	    .desc_addr = vc.areas.desc_addr,
	    .driver_addr = vc.areas.driver_addr,
	    .device_addr = vc.areas.device_addr,
	    .mem = &view,
	    .notify = irq_cb,
	    .notify_ctx = &a,
	};
	err = vtio_mem_init(&view, &everything, 1);
	if (err == 0)
		err = vtio_devq_init(&a.dq, dq_state, dq_bytes, &cc);
	if (err != 0) {
		fprintf(stderr, "inflight_backend: device queue: %s\n", vtio_strerror(err));
		goto out;
	}

	pthread_t front, engine;
	if (pthread_create(&front, NULL, front_main, &a) != 0) {
		fprintf(stderr, "inflight_backend: cannot start the device thread\n");
		goto out;
	}
	if (pthread_create(&engine, NULL, engine_main, &a) != 0) {
		fprintf(stderr, "inflight_backend: cannot start the I/O engine thread\n");
		atomic_store(&stop, true);
		pthread_join(front, NULL);
		goto out;
	}
	rc = driver_run(&a);
	if (rc != 0)
		atomic_store(&stop, true);
	bell_ring(&a.kick_bell);
	bell_ring(&a.job_bell);
	pthread_join(front, NULL);
	pthread_join(engine, NULL);
	if (atomic_load(&a.device_error))
		rc = 1;
	unsigned maxin = atomic_load(&a.max_inflight), ooo = atomic_load(&a.out_of_order);
	const char *name = layout == VTIO_LAYOUT_SPLIT ? "split" : "packed";
	if (atomic_load(&got_signal)) {
		printf("inflight_backend: %s: stopped by signal\n", name);
		goto out;
	}
	printf("inflight_backend: %s: %u requests, at most %u in flight (held by %zu-byte "
	       "handles), %u completed out of order\n",
	       name, requests, maxin, sizeof(struct vtio_devq_handle), ooo);
	if (rc == 0 && maxin < goal) {
		fprintf(stderr, "inflight_backend: %s: only %u in flight at once (goal %u)\n", name,
			maxin, goal);
		rc = 1;
	}
	if (rc == 0 && ooo == 0) {
		fprintf(stderr, "inflight_backend: %s: nothing completed out of order\n", name);
		rc = 1;
	}
out:
	free(a.mem);
	free(vq_state);
	free(dq_state);
	return rc;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [--layout split|packed|both] [--requests N] [--inflight N]\n"
		"  Device back end holding requests in flight by completion handle only,\n"
		"  completing them out of order from a second thread.\n"
		"  --layout    ring layout(s) to run (default both)\n"
		"  --requests  requests per layout (default 20000)\n"
		"  --inflight  requests the I/O engine holds before it completes any\n"
		"              (default 256, at most %u)\n",
		argv0, MAX_JOBS - 8u);
}

int main(int argc, char **argv)
{
	bool split = true, packed = true;
	unsigned long requests = 20000, goal = 256;
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i];
		if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
			usage(stdout, argv[0]);
			return 0;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "inflight_backend: unknown option or missing value: %s\n",
				opt);
			usage(stderr, argv[0]);
			return 2;
		}
		const char *val = argv[++i];
		char *end;
		if (strcmp(opt, "--layout") == 0) {
			split = strcmp(val, "split") == 0 || strcmp(val, "both") == 0;
			packed = strcmp(val, "packed") == 0 || strcmp(val, "both") == 0;
			if (!split && !packed) {
				fprintf(stderr,
					"inflight_backend: --layout: expected split, packed or "
					"both, got '%s'\n",
					val);
				return 2;
			}
		} else if (strcmp(opt, "--requests") == 0) {
			requests = strtoul(val, &end, 10);
			if (*end != '\0' || requests == 0 || requests > 100000000ul) {
				fprintf(stderr,
					"inflight_backend: --requests: expected 1..100000000, got "
					"'%s'\n",
					val);
				return 2;
			}
		} else if (strcmp(opt, "--inflight") == 0) {
			goal = strtoul(val, &end, 10);
			if (*end != '\0' || goal == 0 || goal > MAX_JOBS - 8u) {
				fprintf(stderr,
					"inflight_backend: --inflight: expected 1..%u, got '%s'\n",
					MAX_JOBS - 8u, val);
				return 2;
			}
		} else {
			fprintf(stderr, "inflight_backend: unknown option: %s\n", opt);
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (requests < goal) {
		fprintf(stderr,
			"inflight_backend: --requests (%lu) must be at least --inflight (%lu)\n",
			requests, goal);
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	int rc = 0;
#if VTIO_CONFIG_SPLIT
	if (split && rc == 0)
		rc = run(VTIO_LAYOUT_SPLIT, (unsigned)requests, (unsigned)goal);
#endif
#if VTIO_CONFIG_PACKED
	if (packed && rc == 0)
		rc = run(VTIO_LAYOUT_PACKED, (unsigned)requests, (unsigned)goal);
#endif
	(void)split;
	(void)packed;
	int sig = atomic_load(&got_signal);
	return sig != 0 ? 128 + sig : rc; /* stopped cleanly by a signal */
}
