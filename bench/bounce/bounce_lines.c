/*
 * bounce_lines: the workload of bounce_bench's `threads` mode (two threads,
 * each mapping and unmapping TO_DEVICE on its own area of one pool, through
 * a cache of its own or by the plain calls), run on one thread with the two
 * sides taking turns, so that a memory tracer can count the cache lines the
 * two threads share and write.
 *
 * Run under valgrind's lackey by bench/bounce/bounce_lines.sh, which feeds
 * the trace to bench/ring/ring_lines.py (the two-cache MESI model of the
 * ring work: its "driver" side is thread 0 here, its "device" side thread
 * 1). Every memory the two threads' calls touch is a traced area: the pool
 * area (the slots' data), the pool's storage (header, areas, bitmaps, slot
 * records, cache tags), the set, each thread's cache and source buffer.
 * Only each thread's stack is left out (it is private in the real run and
 * one stack here). A transfer counted is a line one thread wrote and the
 * other then read or wrote: what two cores would move between them.
 *
 * Phase boundaries reach the tracer as 1-byte loads of marker[] (one line
 * per marker, addresses printed at start): everything between a marker 0
 * and the next marker 1 is thread 0's, and so on.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtio/bounce.h"

enum { M_T0 = 0, M_T1 = 1, M_START = 2, M_END = 3 };

/* bounce_bench's pool: 8 MiB, 2 KiB slots, two areas. */
#define POOL_SIZE (8u << 20)

static _Alignas(64) volatile unsigned char marker[4 * 64];
static _Alignas(4096) unsigned char pool_area[POOL_SIZE];

static volatile unsigned char sink;

/* The loaded value is used (stored to sink, outside the traced areas), so
 * valgrind's optimiser cannot drop the load as dead. */
static void mark(int m)
{
	sink = marker[m * 64];
}

static void usage(const char *argv0)
{
	fprintf(
	    stderr,
	    "usage: %s [--size N] [--burst K] [--buffers N] [--warmup W] [--plain] [--adjacent]\n"
	    "  --size N     bytes per mapping (default 512; 1 .. 4096)\n"
	    "  --burst K    map+unmap K buffers per turn (default 1: strict alternation)\n"
	    "  --buffers N  map+unmap per thread measured (default 4096)\n"
	    "  --plain      the plain calls (vtio_bounce_map/unmap) instead of caches\n"
	    "  --adjacent   the two caches next to each other in one array (default: two\n"
	    "               separate 64-byte aligned allocations, as bounce_bench's threads)\n",
	    argv0);
}

static void *xalloc(size_t align, size_t size)
{
	void *p = aligned_alloc(align, (size + align - 1) / align * align);
	if (p == NULL) {
		fprintf(stderr, "bounce_lines: out of memory\n");
		exit(1);
	}
	memset(p, 0, (size + align - 1) / align * align);
	return p;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bounce_lines: %s: %s\n", what, vtio_strerror(err));
	exit(1);
}

int main(int argc, char **argv)
{
	size_t len = 512;
	unsigned long burst = 1, buffers = 4096, warmup = 256;
	int plain = 0, adjacent = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--size") && v) {
			len = (size_t)strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--burst") && v) {
			burst = strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--buffers") && v) {
			buffers = strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--warmup") && v) {
			warmup = strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--plain")) {
			plain = 1;
		} else if (!strcmp(a, "--adjacent")) {
			adjacent = 1;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(argv[0]);
			return 0;
		} else {
			fprintf(stderr, "bounce_lines: unknown argument %s\n", a);
			usage(argv[0]);
			return 2;
		}
	}
	if (len == 0 || len > 4096 || burst == 0 || buffers == 0) {
		fprintf(stderr, "bounce_lines: --size 1..4096, --burst and --buffers > 0\n");
		return 2;
	}

	struct vtio_bounce_pool_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.base = pool_area;
	pc.size = POOL_SIZE;
	pc.nareas = 2;
	pc.mapping = VTIO_BOUNCE_MAP_LINEAR;
	pc.dev_base = 0x100000000ull;
	size_t meta = vtio_bounce_pool_size(&pc);
	void *pool_st = xalloc(64, meta), *set_st = xalloc(64, vtio_bounce_set_size());
	struct vtio_bounce_pool *pool;
	struct vtio_bounce_set *set;
	int err = vtio_bounce_pool_init(&pool, pool_st, meta, &pc);
	if (err == 0)
		err = vtio_bounce_set_init(&set, set_st, vtio_bounce_set_size());
	if (err == 0)
		err = vtio_bounce_set_register(set, pool);
	if (err != 0)
		die("pool setup", err);

	struct vtio_bounce_cache *cache[2];
	if (adjacent) {
		cache[0] = xalloc(64, 2 * sizeof(struct vtio_bounce_cache));
		cache[1] = cache[0] + 1;
	} else {
		cache[0] = xalloc(64, sizeof(struct vtio_bounce_cache));
		cache[1] = xalloc(64, sizeof(struct vtio_bounce_cache));
	}
	struct vtio_bounce_dev dev[2];
	unsigned char *src[2];
	for (int t = 0; t < 2; t++) {
		vtio_bounce_dev_init(&dev[t], UINT64_MAX);
		dev[t].area_hint = (uint32_t)t; /* each thread its own area */
		src[t] = xalloc(4096, len);
		memset(src[t], 0x40 + t, len);
		if (!plain && (err = vtio_bounce_cache_init(cache[t], set, &dev[t])) != 0)
			die("cache init", err);
	}

	printf("area pool_data %" PRIxPTR " %zu\n", (uintptr_t)pool_area, (size_t)POOL_SIZE);
	printf("area pool_meta %" PRIxPTR " %zu\n", (uintptr_t)pool_st, meta);
	printf("area set %" PRIxPTR " %zu\n", (uintptr_t)set_st, vtio_bounce_set_size());
	for (int t = 0; t < 2; t++) {
		printf("area cache%d %" PRIxPTR " %zu\n", t, (uintptr_t)cache[t],
		       sizeof(struct vtio_bounce_cache));
		printf("area src%d %" PRIxPTR " %zu\n", t, (uintptr_t)src[t], len);
	}
	for (int m = 0; m < 4; m++)
		printf("marker %d %" PRIxPTR "\n", m, (uintptr_t)&marker[m * 64]);
	/* ring_lines.py reads the op count after the word "buffers". */
	printf("layout bounce %s size %zu burst %lu adjacent %d cache_bytes %zu buffers %lu\n",
	       plain ? "plain" : "cached", len, burst, adjacent, sizeof(struct vtio_bounce_cache),
	       buffers);
	fflush(stdout);

	unsigned long total = warmup + buffers, done[2] = {0, 0};
	int measuring = 0;
	while (done[1] < total) {
		if (!measuring && done[1] >= warmup) {
			mark(M_START);
			measuring = 1;
		}
		for (int t = 0; t < 2; t++) {
			mark(t == 0 ? M_T0 : M_T1);
			for (unsigned long k = 0; k < burst && done[t] < total; k++, done[t]++) {
				uint64_t bus;
				if (plain) {
					err = vtio_bounce_map(set, &dev[t], src[t], len,
							      VTIO_DMA_TO_DEVICE, 0, &bus);
					if (err == 0)
						err = vtio_bounce_unmap(set, bus, len,
									VTIO_DMA_TO_DEVICE, 0);
				} else {
					err = vtio_bounce_cache_map(cache[t], src[t], len,
								    VTIO_DMA_TO_DEVICE, 0, &bus);
					if (err == 0)
						err = vtio_bounce_cache_unmap(
						    cache[t], bus, len, VTIO_DMA_TO_DEVICE, 0);
				}
				if (err != 0)
					die("map/unmap", err);
			}
		}
	}
	mark(M_END);
	for (int t = 0; t < 2 && !plain; t++)
		if ((err = vtio_bounce_cache_fini(cache[t])) != 0)
			die("cache fini", err);
	struct vtio_bounce_stats st;
	vtio_bounce_set_get_stats(set, &st);
	if (st.in_use != 0 || st.cached != 0) {
		fprintf(stderr, "bounce_lines: %" PRIu64 " slots left in use\n", st.in_use);
		return 1;
	}
	if ((err = vtio_bounce_set_unregister(set, pool)) != 0)
		die("unregister", err);
	free(cache[0]);
	if (!adjacent)
		free(cache[1]);
	free(src[0]);
	free(src[1]);
	free(set_st);
	free(pool_st);
	printf("done %lu\n", buffers);
	return 0;
}
