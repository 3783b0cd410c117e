/*
 * bounce_bench: costs of the bounce pools.
 *   map_unmap  map + unmap of one buffer (64 B, 512 B, 4 KiB, 64 KiB) per
 *              direction, plain and through a cache, next to plain memcpy
 *              of the same size and the floor pair (the least a cache with
 *              this API does) measured in the same run (TO_DEVICE copies
 *              once, FROM_DEVICE and BIDIRECTIONAL twice: in at map, back
 *              at unmap);
 *   count      a fixed number of map + unmap for instruction counts;
 *   alloc_free small pool allocation + free;
 *   threads    map + unmap on one thread versus two threads on two areas
 *              of one pool (each with its own area hint).
 * Each figure is a median: map_unmap runs --runs runs of CHUNKS interleaved
 * chunks of each kernel and takes the median over all chunks (each ratio
 * per chunk); the others take the median of --runs runs.
 * --json prints one object per line.
 * --quick shrinks the work for a ctest smoke run (no timing is asserted).
 */
#define _GNU_SOURCE /* pthread_setaffinity_np (--pin) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vtio/bounce.h"

static int json, quick, pin, runs = 5;
static size_t only_size; /* --size: one map_unmap size only */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define POOL_SIZE (8u << 20)

static struct vtio_bounce_set *set;
static struct vtio_bounce_pool *pool;
/* The same pool with VTIO_BOUNCE_POOL_F_TRUSTED_DMA (zeroes only what earlier
 * mappings left), in a set of its own, measured next to the default one. */
static struct vtio_bounce_set *tset;
static struct vtio_bounce_pool *tpool;

static void *xalloc(size_t align, size_t size)
{
	void *p = aligned_alloc(align, (size + align - 1) / align * align);
	if (p == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

static void setup_one(struct vtio_bounce_set **sp, struct vtio_bounce_pool **pp, uint32_t flags)
{
	struct vtio_bounce_pool_config c;
	memset(&c, 0, sizeof(c));
	c.base = xalloc(4096, POOL_SIZE);
	memset(c.base, 0, POOL_SIZE);
	c.size = POOL_SIZE;
	c.nareas = 2;
	c.flags = flags;
	c.mapping = VTIO_BOUNCE_MAP_LINEAR;
	c.dev_base = 0x100000000ull;
	size_t need = vtio_bounce_pool_size(&c);
	void *st = xalloc(64, need);
	void *ss = xalloc(64, vtio_bounce_set_size());
	if (vtio_bounce_pool_init(pp, st, need, &c) != 0 ||
	    vtio_bounce_set_init(sp, ss, vtio_bounce_set_size()) != 0 ||
	    vtio_bounce_set_register(*sp, *pp) != 0) {
		fprintf(stderr, "setup failed\n");
		exit(1);
	}
}

static void setup(void)
{
	setup_one(&set, &pool, 0);
	setup_one(&tset, &tpool, VTIO_BOUNCE_POOL_F_TRUSTED_DMA);
}

static void *(*volatile copy_fn)(void *, const void *, size_t) = memcpy;

/* ns per map+unmap of len bytes in dir. */
/* Source buffers: nbuf buffers, stride bytes apart (nbuf 1: one hot buffer). */
struct srcs {
	unsigned char *base;
	size_t stride;
	long nbuf;
	long pos; /* next buffer: kept across calls, so chunks go on cycling */
};

/* The source buffer at *k, and *k moved on to the next (inline: the timing
 * loops stay as they were). */
static inline unsigned char *src_next(const struct srcs *sr, long *k)
{
	unsigned char *buf = sr->base + (size_t)*k * sr->stride;
	*k = *k + 1 == sr->nbuf ? 0 : *k + 1;
	return buf;
}

static double run_map_unmap_ws(struct vtio_bounce_set *st, struct vtio_bounce_dev *d,
			       struct srcs *sr, size_t len, enum vtio_dma_dir dir, long iters)
{
	uint64_t t0 = now_ns();
	long k = sr->pos;
	for (long i = 0; i < iters; i++) {
		uint64_t bus;
		unsigned char *buf = src_next(sr, &k);
		if (vtio_bounce_map(st, d, buf, len, dir, 0, &bus) != 0 ||
		    vtio_bounce_unmap(st, bus, len, dir, 0) != 0) {
			fprintf(stderr, "map/unmap failed\n");
			exit(1);
		}
	}
	sr->pos = k;
	return (double)(now_ns() - t0) / (double)iters;
}

/* The same through a per-thread cache (vtio_bounce_cache_map / _unmap). */
static double run_cached_ws(struct vtio_bounce_cache *c, struct srcs *sr, size_t len,
			    enum vtio_dma_dir dir, long iters)
{
	uint64_t t0 = now_ns();
	long k = sr->pos;
	for (long i = 0; i < iters; i++) {
		uint64_t bus;
		unsigned char *buf = src_next(sr, &k);
		if (vtio_bounce_cache_map(c, buf, len, dir, 0, &bus) != 0 ||
		    vtio_bounce_cache_unmap(c, bus, len, dir, 0) != 0) {
			fprintf(stderr, "cached map/unmap failed\n");
			exit(1);
		}
	}
	sr->pos = k;
	return (double)(now_ns() - t0) / (double)iters;
}

/*
 * The floor of any cached map + unmap with this API (a device address out
 * through a pointer, back in as an argument): a LIFO of free slots that
 * the map pops (then copies) and the unmap pushes, whose top the unmap
 * leaves where the next map finds it in one load (as the cache's top[]),
 * out of line as the library's calls are, with no check, no record and no
 * counter. The cached path's time less the floor's is what its checks and
 * bookkeeping cost; the floor's ratio to memcpy bounds any design's on
 * this machine (docs/bounce_cache.md, fourth pass).
 */
struct floor_mag {
	unsigned char *base;
	uint64_t dev;
	uint32_t shift, n, top;
	uint32_t run[16];
};

/* Out of line and, with gcc, not cloned for the one magazine the bench
 * passes (a clone addresses it as a global, which changes the timing). */
#if defined(__GNUC__) && !defined(__clang__)
#define FLOOR_FN __attribute__((noinline, noclone))
#else
#define FLOOR_FN __attribute__((noinline))
#endif

static FLOOR_FN int floor_map(struct floor_mag *f, void *cpu, size_t len, uint64_t *bus)
{
	uint32_t s = f->top;
	size_t off = (size_t)s << f->shift;
	*bus = f->dev + off;
	uint32_t n = --f->n;
	f->top = f->run[n - 1u];
	memcpy(f->base + off, cpu, len);
	return 0;
}

static FLOOR_FN int floor_unmap(struct floor_mag *f, uint64_t bus)
{
	uint32_t s = (uint32_t)((bus - f->dev) >> f->shift);
	f->run[f->n++] = s;
	f->top = s;
	return 0;
}

static double run_floor_ws(struct floor_mag *f, struct srcs *sr, size_t len, long iters)
{
	uint64_t t0 = now_ns();
	long k = sr->pos;
	for (long i = 0; i < iters; i++) {
		uint64_t bus;
		unsigned char *buf = src_next(sr, &k);
		if (floor_map(f, buf, len, &bus) != 0 || floor_unmap(f, bus) != 0)
			exit(1);
	}
	sr->pos = k;
	return (double)(now_ns() - t0) / (double)iters;
}

/* Zeroing alone: the memset of a 64-byte map's slack in a 2 KiB slot. */
static double run_memset(unsigned char *dst, size_t n, long iters)
{
	uint64_t t0 = now_ns();
	for (long i = 0; i < iters; i++) {
		memset(dst, 0, n);
		__asm__ __volatile__("" ::: "memory");
	}
	return (double)(now_ns() - t0) / (double)iters;
}

static double run_map_unmap(struct vtio_bounce_dev *d, unsigned char *buf, size_t len,
			    enum vtio_dma_dir dir, long iters)
{
	struct srcs one = {buf, 0, 1, 0};
	return run_map_unmap_ws(set, d, &one, len, dir, iters);
}

static double run_memcpy(unsigned char *dst, struct srcs *sr, size_t len, long iters)
{
	uint64_t t0 = now_ns();
	long k = sr->pos;
	for (long i = 0; i < iters; i++) {
		copy_fn(dst, src_next(sr, &k), len);
		__asm__ __volatile__("" ::: "memory");
	}
	sr->pos = k;
	return (double)(now_ns() - t0) / (double)iters;
}

/* memcpy into destinations that cycle through 8 MiB (a pool's size), for
 * comparison: what a map would cost if its slot were cold (the cached and
 * plain paths reuse the most recently freed, warm slot, like the fixed
 * destination of run_memcpy). */
static double run_memcpy_cold_dst(unsigned char *dst, struct srcs *sr, size_t len, long iters)
{
	size_t stride = len < 64 ? 64 : (len + 63) / 64 * 64;
	static long j; /* kept across calls, as the sources' position */
	long ndst = (long)(POOL_SIZE / stride);
	j = j < ndst ? j : 0;
	uint64_t t0 = now_ns();
	long k = sr->pos;
	for (long i = 0; i < iters; i++) {
		copy_fn(dst + (size_t)j * stride, src_next(sr, &k), len);
		j = j + 1 == ndst ? 0 : j + 1;
		__asm__ __volatile__("" ::: "memory");
	}
	sr->pos = k;
	return (double)(now_ns() - t0) / (double)iters;
}

/* Chunks per run of map_unmap, each about CHUNK_NS long for the slowest
 * kernel: short, so that a preemption (a time slice of another process on a
 * loaded machine lasts milliseconds) spoils a few samples, not the median. */
#define CHUNKS	   100
#define CHUNK_NS   40000.0
#define MAXSAMPLES (31 * CHUNKS)

/* Per-chunk samples of map_unmap (static: too large for a stack). */
static struct {
	double b[MAXSAMPLES], m[MAXSAMPLES], ratio[MAXSAMPLES], t[MAXSAMPLES], tratio[MAXSAMPLES],
	    cb[MAXSAMPLES], cratio[MAXSAMPLES], tc[MAXSAMPLES], tcratio[MAXSAMPLES], z[MAXSAMPLES],
	    mc[MAXSAMPLES], ms[MAXSAMPLES], csratio[MAXSAMPLES], fl[MAXSAMPLES],
	    flratio[MAXSAMPLES];
} sm;

/* CPU address of the slots a cached map of len bytes in dir gets next: map
 * and unmap once, and the magazine (LIFO) hands the same run out again. */
static unsigned char *cached_slot(struct vtio_bounce_cache *c, size_t len, enum vtio_dma_dir dir)
{
	static unsigned char probe[65536];
	uint64_t bus;
	void *cpu;
	if (vtio_bounce_cache_map(c, probe, len, dir, 0, &bus) != 0 ||
	    vtio_bounce_pool_dev_to_cpu(pool, bus, &cpu) != 0 ||
	    vtio_bounce_cache_unmap(c, bus, len, dir, 0) != 0) {
		fprintf(stderr, "cached slot probe failed\n");
		exit(1);
	}
	return cpu;
}

/* Iterations per chunk: CHUNK_NS of work at ns_per_op, at least 32, at most
 * it / CHUNKS + 1 (the same total work as before the chunks were cut). */
static long chunk_iters(double ns_per_op, long it)
{
	long hi = it / CHUNKS + 1;
	long n = ns_per_op > 0 ? (long)(CHUNK_NS / ns_per_op) : hi;
	return n < 32 ? 32 : n > hi ? hi : n;
}

static long iters_for(size_t len)
{
	long n = (long)((quick ? (4u << 20) : (256u << 20)) / len);
	long lo = quick ? 2000 : 20000, hi = quick ? 20000 : 2000000;
	return n < lo ? lo : n > hi ? hi : n;
}

static const char *dir_name(enum vtio_dma_dir d)
{
	return d == VTIO_DMA_TO_DEVICE	   ? "to_device"
	       : d == VTIO_DMA_FROM_DEVICE ? "from_device"
					   : "bidirectional";
}

#define WS_BYTES (4u << 20)

/* Median and minimum of n samples (sorts v). */
static double med_min(double *v, int n, double *mn)
{
	double m = v[0];
	for (int k = 1; k < n; k++)
		m = v[k] < m ? v[k] : m;
	*mn = m;
	return median(v, n);
}

static void bench_map_unmap(void)
{
	static const size_t sizes[] = {64, 512, 4096, 65536};
	static const enum vtio_dma_dir dirs[] = {VTIO_DMA_TO_DEVICE, VTIO_DMA_FROM_DEVICE,
						 VTIO_DMA_BIDIRECTIONAL};
	unsigned char *src = xalloc(4096, WS_BYTES), *dst = xalloc(4096, 65536);
	unsigned char *cold = xalloc(4096, POOL_SIZE + 65536);
	memset(src, 0x5a, WS_BYTES);
	memset(dst, 0, 65536);
	memset(cold, 0, POOL_SIZE + 65536);
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	struct vtio_bounce_cache *cache = xalloc(64, sizeof(*cache));
	struct vtio_bounce_cache *tcache = xalloc(64, sizeof(*tcache));
	if (vtio_bounce_cache_init(cache, set, &d) != 0 ||
	    vtio_bounce_cache_init(tcache, tset, &d) != 0) {
		fprintf(stderr, "cache init failed\n");
		exit(1);
	}
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		if (only_size && sizes[si] != only_size)
			continue;
		size_t len = sizes[si];
		/* Bytes a default-pool map zeroes around the data (the slack of
		 * the last 2 KiB slot): measured alone in the same chunks. */
		size_t slack = (2048u - len % 2048u) % 2048u;
		/* "hot": one source buffer (both sides copy from L1/L2); "ws4m":
		 * the sources cycle through 4 MiB, as a driver's buffers would. */
		for (int ws = 0; ws < 2; ws++) {
			size_t stride = len < 64 ? 64 : len;
			struct srcs sr = {src, stride, ws ? (long)(WS_BYTES / stride) : 1, 0};
			for (size_t di = 0; di < 3; di++) {
				long it = iters_for(len);
				double *b = sm.b, *m = sm.m, *ratio = sm.ratio, *t = sm.t,
				       *tratio = sm.tratio, *cb = sm.cb, *cratio = sm.cratio,
				       *tc = sm.tc, *tcratio = sm.tcratio, *z = sm.z, *mc = sm.mc,
				       *ms = sm.ms, *csratio = sm.csratio, *fl = sm.fl,
				       *flratio = sm.flratio;
				int nc = 0;
				/* the floor's slots: 16 runs of up to 64 KiB, warm
				 * as the pool's */
				static struct floor_mag fm;
				static unsigned char *fbase;
				if (fbase == NULL)
					fbase = xalloc(4096, 16u << 16);
				fm.base = fbase;
				fm.dev = 0x40000000u;
				fm.shift = 16;
				fm.n = 16;
				fm.top = 15;
				for (uint32_t q = 0; q < 16; q++)
					fm.run[q] = q;
				/* warm up; the plain map's time per op (the slowest
				 * kernel but the cold-destination copy) sets the chunk
				 * length */
				double plain_ns =
				    run_map_unmap_ws(set, &d, &sr, len, dirs[di], it / 10 + 1);
				(void)run_map_unmap_ws(tset, &d, &sr, len, dirs[di], it / 10 + 1);
				(void)run_cached_ws(cache, &sr, len, dirs[di], it / 10 + 1);
				(void)run_cached_ws(tcache, &sr, len, dirs[di], it / 10 + 1);
				(void)run_floor_ws(&fm, &sr, len, it / 10 + 1);
				long ci = chunk_iters(plain_ns, it);
				/* Like for like: the slot the cache hands out next (LIFO:
				 * the one it got back last), as a memcpy destination. */
				unsigned char *slot = cached_slot(cache, len, dirs[di]);
				for (int r = 0; r < runs; r++) {
					/* CHUNKS interleaved chunks per run; each chunk is a
					 * sample, so a preemption spoils one sample, not a run. */
					for (int k = 0; k < CHUNKS; k++, nc++) {
						m[nc] = run_memcpy(dst, &sr, len, ci);
						b[nc] = run_map_unmap_ws(set, &d, &sr, len,
									 dirs[di], ci);
						cb[nc] =
						    run_cached_ws(cache, &sr, len, dirs[di], ci);
						ms[nc] = run_memcpy(slot, &sr, len, ci);
						t[nc] = run_map_unmap_ws(tset, &d, &sr, len,
									 dirs[di], ci);
						tc[nc] =
						    run_cached_ws(tcache, &sr, len, dirs[di], ci);
						z[nc] = slack ? run_memset(dst, slack, ci) : 0;
						mc[nc] = run_memcpy_cold_dst(cold, &sr, len, ci);
						fl[nc] = run_floor_ws(&fm, &sr, len, ci);
						flratio[nc] = m[nc] / fl[nc];
						ratio[nc] = m[nc] / b[nc];
						cratio[nc] = m[nc] / cb[nc];
						csratio[nc] = ms[nc] / cb[nc];
						tratio[nc] = m[nc] / t[nc];
						tcratio[nc] = m[nc] / tc[nc];
					}
				}
				/* The cache still hands out that slot: the control was
				 * the same destination all along. */
				int same = cached_slot(cache, len, dirs[di]) == slot;
				/* Minima too: on a loaded machine they are the best
				 * estimate of the uncontended cost. */
				double bmin, mmin, cmin, tmin, tcmin, zmin;
				double bn = med_min(b, nc, &bmin), mn = med_min(m, nc, &mmin);
				double cn = med_min(cb, nc, &cmin), tn = med_min(t, nc, &tmin);
				double tcn = med_min(tc, nc, &tcmin), zn = med_min(z, nc, &zmin);
				double mcmin, mcn = med_min(mc, nc, &mcmin);
				double msmin, msn = med_min(ms, nc, &msmin);
				double csrt = median(csratio, nc);
				double flmin, fln = med_min(fl, nc, &flmin);
				double flrt = median(flratio, nc);
				double rt = median(ratio, nc), crt = median(cratio, nc);
				double trt = median(tratio, nc), tcrt = median(tcratio, nc);
				double gbps = (double)len * 8 / bn, mgbps = (double)len * 8 / mn;
				const char *sn = ws ? "ws4m" : "hot";
				if (json)
					printf(
					    "{\"bench\":\"map_unmap\",\"size\":%zu,\"dir\":\"%s\","
					    "\"src\":\"%s\",\"threads\":1,\"ns_per_op\":%.1f,"
					    "\"gbps\":%.2f,\"memcpy_ns\":%.1f,\"memcpy_gbps\":%.2f,"
					    "\"ratio_vs_memcpy\":%.3f,\"min_ns\":%.1f,"
					    "\"memcpy_min_ns\":%.1f,\"ratio_of_min\":%.3f,"
					    "\"cached_ns\":%.1f,\"cached_min_ns\":%.1f,"
					    "\"cached_ratio_vs_memcpy\":%.3f,"
					    "\"trusted_ns\":%.1f,\"trusted_ratio_vs_memcpy\":%.3f,"
					    "\"trusted_cached_ns\":%.1f,\"trusted_cached_min_ns\":%"
					    ".1f,"
					    "\"trusted_cached_ratio_vs_memcpy\":%.3f,"
					    "\"slack_memset_bytes\":%zu,\"slack_memset_ns\":%.1f,"
					    "\"memcpy_cold_dst_ns\":%.1f,"
					    "\"memcpy_slot_ns\":%.1f,\"cached_ratio_vs_memcpy_"
					    "slot\":%.3f,"
					    "\"same_slot\":%d,\"floor_ns\":%.1f,"
					    "\"floor_ratio_vs_memcpy\":%.3f,"
					    "\"runs\":%d,\"samples\":%d}\n",
					    len, dir_name(dirs[di]), sn, bn, gbps, mn, mgbps, rt,
					    bmin, mmin, mmin / bmin, cn, cmin, crt, tn, trt, tcn,
					    tcmin, tcrt, slack, zn, mcn, msn, csrt, same, fln, flrt,
					    runs, nc);
				else
					printf(
					    "map_unmap %6zu B %-13s %-4s memcpy %7.1f ns | plain "
					    "%7.1f ns ratio %.3f | cached %7.1f ns ratio %.3f | "
					    "trusted_dma plain %7.1f ns ratio %.3f, cached %7.1f "
					    "ns ratio %.3f | slack memset %zu B %.1f ns | memcpy "
					    "to "
					    "cold dst %.1f ns | memcpy to the cache's slot %.1f "
					    "ns, "
					    "cached ratio to it %.3f%s | floor pair %.1f ns ratio "
					    "%.3f "
					    "(min: memcpy %.1f plain %.1f cached %.1f tr.cached "
					    "%.1f floor %.1f; %d runs x %d chunks)\n",
					    len, dir_name(dirs[di]), sn, mn, bn, rt, cn, crt, tn,
					    trt, tcn, tcrt, slack, zn, mcn, msn, csrt,
					    same ? "" : " (slot changed!)", fln, flrt, mmin, bmin,
					    cmin, tcmin, flmin, runs, CHUNKS);
				(void)gbps;
				(void)mgbps;
				(void)tmin;
				(void)zmin;
				(void)mcmin;
				(void)msmin;
			}
		}
	}
	if (vtio_bounce_cache_fini(cache) != 0 || vtio_bounce_cache_fini(tcache) != 0) {
		fprintf(stderr, "cache fini failed\n");
		exit(1);
	}
	free(cache);
	free(tcache);
	free(cold);
	free(src);
	free(dst);
}

static void bench_alloc_free(void)
{
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	static const size_t sizes[] = {64, 4096};
	for (size_t si = 0; si < 2; si++) {
		long it = quick ? 20000 : 2000000;
		double v[320];
		int nc = 0;
		for (int r = 0; r < runs; r++) {
			for (int k = 0; k < 10; k++, nc++) { /* chunks: see map_unmap */
				uint64_t t0 = now_ns();
				for (long i = 0; i < it / 10; i++) {
					void *cpu;
					uint64_t bus;
					if (vtio_bounce_alloc(set, &d, sizes[si], 0, &cpu, &bus) !=
						0 ||
					    vtio_bounce_free(set, sizes[si], cpu, bus) != 0) {
						fprintf(stderr, "alloc/free failed\n");
						exit(1);
					}
				}
				v[nc] = (double)(now_ns() - t0) / (double)(it / 10);
			}
		}
		double ns = median(v, nc), mn = v[0];
		for (int k = 1; k < nc; k++)
			mn = v[k] < mn ? v[k] : mn;
		if (json)
			printf("{\"bench\":\"alloc_free\",\"size\":%zu,\"threads\":1,"
			       "\"ns_per_op\":%.1f,\"min_ns\":%.1f,\"runs\":%d}\n",
			       sizes[si], ns, mn, runs);
		else
			printf("alloc_free %6zu B %8.1f ns (min %.1f; zeroing included)\n",
			       sizes[si], ns, mn);
	}
}

struct tharg {
	unsigned area;
	size_t len;
	long iters;
	pthread_barrier_t *bar;
	unsigned char *buf;
	int cpu;       /* pin the thread to this CPU, or -1 */
	int spin;      /* control: 1 a pure compute loop, 2 the copy alone, instead of map+unmap */
	int cached;    /* through a vtio_bounce_cache of the thread's own */
	double cpu_ns; /* out: the thread's CPU time for its work */
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void thread_work(struct tharg *a);

static void *thread_main(void *p)
{
	struct tharg *a = p;
	if (a->cpu >= 0) {
		cpu_set_t cs;
		CPU_ZERO(&cs);
		CPU_SET(a->cpu, &cs);
		if (pthread_setaffinity_np(pthread_self(), sizeof(cs), &cs) != 0) {
			fprintf(stderr, "cannot pin a thread to CPU %d\n", a->cpu);
			exit(1);
		}
	}
	pthread_barrier_wait(a->bar);
	uint64_t c0 = thread_cpu_ns();
	thread_work(a);
	a->cpu_ns = (double)(thread_cpu_ns() - c0);
	return NULL;
}

static void thread_work(struct tharg *a)
{
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	d.area_hint = a->area;
	if (a->spin == 2) {
		unsigned char *dst = xalloc(4096, a->len);
		struct srcs one = {a->buf, 0, 1, 0};
		(void)run_memcpy(dst, &one, a->len, a->iters * 2);
		free(dst);
		return;
	}
	if (a->spin) {
		volatile unsigned long x = 0;
		for (long i = 0; i < a->iters * 20; i++)
			x = x + (unsigned long)i;
		return;
	}
	if (a->cached) {
		struct vtio_bounce_cache *c = xalloc(64, sizeof(*c));
		struct srcs one = {a->buf, 0, 1, 0};
		if (vtio_bounce_cache_init(c, set, &d) != 0) {
			fprintf(stderr, "cache init failed\n");
			exit(1);
		}
		(void)run_cached_ws(c, &one, a->len, VTIO_DMA_TO_DEVICE, a->iters);
		if (vtio_bounce_cache_fini(c) != 0) {
			fprintf(stderr, "cache fini failed\n");
			exit(1);
		}
		free(c);
		return;
	}
	(void)run_map_unmap(&d, a->buf, a->len, VTIO_DMA_TO_DEVICE, a->iters);
}

/* Wall-clock ops/s of n threads each doing iters map+unmap; *cpu_per_op
 * (if not NULL) receives the threads' CPU time per op, which time spent
 * descheduled does not inflate. */
static double run_threads_pin(unsigned n, size_t len, long iters, int spin, int cached,
			      double *cpu_per_op, int cpu0)
{
	pthread_t t[2];
	struct tharg a[2];
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, n + 1);
	for (unsigned i = 0; i < n; i++) {
		a[i].area = i;
		a[i].len = len;
		a[i].iters = iters;
		a[i].bar = &bar;
		a[i].buf = xalloc(4096, len);
		a[i].spin = spin;
		a[i].cached = cached;
		a[i].cpu = cpu0 < 0 ? -1 : cpu0 + (int)i;
		memset(a[i].buf, (int)i, len);
		pthread_create(&t[i], NULL, thread_main, &a[i]);
	}
	pthread_barrier_wait(&bar);
	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	double s = (double)(now_ns() - t0) / 1e9;
	double cpu = 0;
	for (unsigned i = 0; i < n; i++) {
		cpu += a[i].cpu_ns;
		free(a[i].buf);
	}
	if (cpu_per_op != NULL)
		*cpu_per_op = cpu / ((double)n * (double)iters);
	pthread_barrier_destroy(&bar);
	return (double)n * (double)iters / s;
}

/* Unpinned: where the scheduler puts the threads. */
static double run_threads_cpu(unsigned n, size_t len, long iters, int spin, int cached,
			      double *cpu_per_op)
{
	return run_threads_pin(n, len, iters, spin, cached, cpu_per_op, -1);
}

static double run_threads(unsigned n, size_t len, long iters, int spin, int cached)
{
	return run_threads_cpu(n, len, iters, spin, cached, NULL);
}

/* One thread's ops/s and CPU time per op; with --pin the mean of a run on
 * CPU 0 and one on CPU 1, so that two threads pinned to CPUs 0 and 1 reach
 * a ratio of 2.0 when they do not slow each other down, even when the two
 * CPUs run at different speeds (on this VM, CPU 0 ran core-bound code 1.7x
 * slower than CPU 1). */
static double one_thread(size_t len, long iters, int spin, int cached, double *cpu_per_op)
{
	if (!pin)
		return run_threads_cpu(1, len, iters, spin, cached, cpu_per_op);
	double c0, c1;
	double t0 = run_threads_pin(1, len, iters, spin, cached, &c0, 0);
	double t1 = run_threads_pin(1, len, iters, spin, cached, &c1, 1);
	*cpu_per_op = (c0 + c1) / 2;
	return (t0 + t1) / 2;
}

static void bench_threads(void)
{
	static const size_t sizes[] = {512, 4096};
	for (size_t si = 0; si < 2; si++) {
		long it = quick ? 20000 : (sizes[si] == 512 ? 3000000 : 1000000);
		double one[32], two[32], ratio[32], sratio[32], cone[32], ctwo[32], cratio[32],
		    mratio[32], ccpu[32], mcpu[32], rel[32];
		/* Each run measures the cached path and, right after it, the copy
		 * alone (its bound), then the plain path and the compute control. */
		for (int r = 0; r < runs; r++) {
			double c1, c2, k1, k2;
			cone[r] = one_thread(sizes[si], it * 2, 0, 1, &c1);
			ctwo[r] = run_threads_pin(2, sizes[si], it * 2, 0, 1, &c2, pin ? 0 : -1);
			cratio[r] = ctwo[r] / cone[r];
			/* The copy alone: the bound for the cached path, which is
			 * mostly the copy (cores that share execution or store
			 * resources show here). */
			double m2 = run_threads_pin(2, sizes[si], it, 2, 0, &k2, pin ? 0 : -1);
			double m1 = one_thread(sizes[si], it, 2, 0, &k1);
			mratio[r] = m2 / m1;
			/* CPU time per op, one thread against two: 2.0 when the
			 * two threads slow each other down in no way (shared lines,
			 * shared core resources), whatever else runs on the machine:
			 * time spent descheduled is not CPU time. */
			ccpu[r] = 2 * c1 / c2;
			mcpu[r] = 2 * k1 / k2;
			rel[r] = cratio[r] / mratio[r];
			one[r] = run_threads(1, sizes[si], it, 0, 0);
			two[r] = run_threads(2, sizes[si], it, 0, 0);
			ratio[r] = two[r] / one[r];
			/* Control: how well two threads of plain compute scale on
			 * this machine right now (other load shows up here). */
			sratio[r] = run_threads(2, sizes[si], it, 1, 0) /
				    run_threads(1, sizes[si], it, 1, 0);
			if (!json)
				printf("threads %6zu B run %d: cached %.3f (cpu-time %.3f), memcpy "
				       "%.3f (cpu-time %.3f), cached/memcpy %.3f | plain %.3f, "
				       "compute %.3f\n",
				       sizes[si], r, cratio[r], ccpu[r], mratio[r], mcpu[r], rel[r],
				       ratio[r], sratio[r]);
		}
		double m1 = median(one, runs), m2 = median(two, runs), mr = median(ratio, runs);
		double c1 = median(cone, runs), c2 = median(ctwo, runs), cr = median(cratio, runs);
		double ms = median(sratio, runs), mm = median(mratio, runs);
		double cc = median(ccpu, runs), mc = median(mcpu, runs), rl = median(rel, runs);
		if (json)
			printf(
			    "{\"bench\":\"threads\",\"size\":%zu,\"dir\":\"to_device\","
			    "\"threads\":2,\"mops_1\":%.3f,\"mops_2\":%.3f,\"ratio\":%.3f,"
			    "\"cached_mops_1\":%.3f,\"cached_mops_2\":%.3f,\"cached_ratio\":%.3f,"
			    "\"spin_ratio\":%.3f,\"memcpy_ratio\":%.3f,\"cached_cpu_ratio\":%.3f,"
			    "\"memcpy_cpu_ratio\":%.3f,\"cached_vs_memcpy\":%.3f,\"pinned\":%d,"
			    "\"runs\":%d}\n",
			    sizes[si], m1 / 1e6, m2 / 1e6, mr, c1 / 1e6, c2 / 1e6, cr, ms, mm, cc,
			    mc, rl, pin, runs);
		else
			printf("threads %6zu B to_device: plain 1 thread %.3f Mop/s, 2 threads "
			       "%.3f Mop/s, ratio %.3f | cached 1 thread %.3f Mop/s, 2 threads "
			       "%.3f Mop/s, ratio %.3f, cpu-time ratio %.3f, per run against the "
			       "copy alone %.3f (plain compute on 2 threads: %.3f, memcpy alone: "
			       "%.3f, cpu-time %.3f; medians of %d runs%s)\n",
			       sizes[si], m1 / 1e6, m2 / 1e6, mr, c1 / 1e6, c2 / 1e6, cr, cc, rl,
			       ms, mm, mc, runs, pin ? ", threads pinned to CPUs 0 and 1" : "");
	}
}

/* --only count: a fixed number of map+unmap of one size TO_DEVICE, plain
 * then cached, on the default pool (or with --trusted the TRUSTED_DMA one),
 * for instruction counts under valgrind --tool=callgrind (see README.md). */
static void bench_count(int trusted)
{
	size_t len = only_size ? only_size : 64;
	long n = 100000;
	unsigned char *src = xalloc(4096, 65536);
	memset(src, 0x5a, 65536);
	struct vtio_bounce_set *st = trusted ? tset : set;
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	struct vtio_bounce_cache *c = xalloc(64, sizeof(*c));
	struct srcs one = {src, 0, 1, 0};
	if (vtio_bounce_cache_init(c, st, &d) != 0) {
		fprintf(stderr, "cache init failed\n");
		exit(1);
	}
	double p = run_map_unmap_ws(st, &d, &one, len, VTIO_DMA_TO_DEVICE, n);
	double q = run_cached_ws(c, &one, len, VTIO_DMA_TO_DEVICE, n);
	printf("count %zu B to_device %s: %ld plain map+unmap (%.1f ns), %ld cached (%.1f ns)\n",
	       len, trusted ? "trusted_dma" : "default", n, p, n, q);
	if (vtio_bounce_cache_fini(c) != 0)
		exit(1);
	free(c);
	free(src);
}

int main(int argc, char **argv)
{
	int trusted = 0;
	const char *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--quick"))
			quick = 1;
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			only_size = (size_t)atol(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--trusted"))
			trusted = 1;
		else if (!strcmp(argv[i], "--pin"))
			pin = 1;
		else {
			fprintf(stderr,
				"usage: %s [--json] [--quick] [--runs N] "
				"[--only map_unmap|alloc_free|threads|count] [--trusted] [--pin] "
				"[--size 64|512|4096|65536]\n",
				argv[0]);
			return 2;
		}
	}
	if (quick && runs > 3)
		runs = 1;
	if (runs < 1 || runs > 31)
		runs = 5;
	setup();
	if (only && !strcmp(only, "count"))
		bench_count(trusted);
	if (!only || !strcmp(only, "map_unmap"))
		bench_map_unmap();
	if (!only || !strcmp(only, "alloc_free"))
		bench_alloc_free();
	if (!only || !strcmp(only, "threads"))
		bench_threads();
	struct vtio_bounce_stats st;
	vtio_bounce_set_get_stats(set, &st);
	struct vtio_bounce_stats tst;
	vtio_bounce_set_get_stats(tset, &tst);
	st.in_use += tst.in_use;
	if (st.in_use != 0) {
		fprintf(stderr, "leak: %llu slots in use\n", (unsigned long long)st.in_use);
		return 1;
	}
	return 0;
}
