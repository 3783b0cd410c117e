/*
 * copy_overlap: how much of a fixed cost hides behind a copy. Each
 * iteration copies --size bytes (the C library's memcpy, called through a
 * pointer so it is never inlined) from one hot buffer to another, then does
 * one of: nothing; K stores, each to its own cache line; or a block of K
 * dependent additions (no memory access). It prints ns per iteration and
 * the increase over the copy alone.
 *
 * Why: a bounce map + unmap is a copy plus bookkeeping (bounce_cache.md,
 * "Issue 13, third pass"). If the bookkeeping ran beside the copy it
 * would cost nothing; this measures how much of it does, on this machine
 * and with this C library's copy (glibc copies 4 KiB with `rep movsb` on
 * CPUs with ERMS and AVX2/AVX-512; GLIBC_TUNABLES=
 * glibc.cpu.x86_rep_movsb_threshold=N moves that limit).
 *
 * Usage: copy_overlap [--size N] [--iters N] [--runs N] [--stores K] [--quick]
 * Each figure is the fastest of --runs runs (default 5) of --iters
 * iterations (default 1000000). --stores K adds a row for K stores with
 * the ratio copy / (copy + K stores): the best a bounce path that stores K
 * times beside its copy can reach against memcpy.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SIZE   65536u
#define MAX_STORES 64

static unsigned char src[MAX_SIZE] __attribute__((aligned(4096)));
static unsigned char dst[MAX_SIZE] __attribute__((aligned(4096)));
/* One 64-byte line per store. */
static volatile uint64_t lines[MAX_STORES * 8] __attribute__((aligned(64)));
static void *(*volatile copy_fn)(void *, const void *, size_t) = memcpy;

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static __attribute__((noinline)) void do_stores(int n, uint64_t v)
{
	for (int i = 0; i < n; i++)
		lines[i * 8] = v + (uint64_t)i;
}

static __attribute__((noinline)) uint64_t do_adds(int n, uint64_t v)
{
	uint64_t a = v;
	for (int i = 0; i < n; i++) {
		a += (uint64_t)i;
		__asm__ __volatile__("" : "+r"(a));
	}
	return a;
}

static uint64_t sink;

/* Fastest of runs, ns per iteration: copy (size 0: none), then stores or
 * adds (0: none). */
static double measure(size_t size, long iters, int runs, int stores, int adds)
{
	double best = 1e30;
	for (int r = 0; r < runs; r++) {
		uint64_t acc = 0, t0 = now_ns();
		for (long i = 0; i < iters; i++) {
			if (size)
				copy_fn(dst, src, size);
			if (stores)
				do_stores(stores, (uint64_t)i);
			if (adds)
				acc += do_adds(adds, (uint64_t)i);
			__asm__ __volatile__("" ::: "memory");
		}
		double t = (double)(now_ns() - t0) / (double)iters;
		sink += acc;
		if (t < best)
			best = t;
	}
	return best;
}

static long arg_long(const char *opt, const char *v, long lo, long hi)
{
	char *end;
	long x = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || x < lo || x > hi) {
		fprintf(stderr, "copy_overlap: %s must be a number from %ld to %ld\n", opt, lo, hi);
		exit(2);
	}
	return x;
}

int main(int argc, char **argv)
{
	size_t size = 4096;
	long iters = 1000000;
	int runs = 5;
	int extra = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--size") && i + 1 < argc)
			size = (size_t)arg_long("--size", argv[++i], 1, MAX_SIZE);
		else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = arg_long("--iters", argv[++i], 1, 1000000000L);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = (int)arg_long("--runs", argv[++i], 1, 1000);
		else if (!strcmp(argv[i], "--stores") && i + 1 < argc)
			extra = (int)arg_long("--stores", argv[++i], 1, MAX_STORES);
		else if (!strcmp(argv[i], "--quick")) {
			iters = 20000;
			runs = 1;
		} else {
			fprintf(stderr, "usage: copy_overlap [--size N] [--iters N] [--runs N] "
					"[--stores K] [--quick]\n");
			return 2;
		}
	}
	memset(src, 0x5a, sizeof(src));
	double base = measure(size, iters, runs, 0, 0);
	printf("copy %zu B alone: %.2f ns (fastest of %d runs x %ld)\n", size, base, runs, iters);
	static const int ks[] = {8, 16, 32};
	for (unsigned j = 0; j < sizeof(ks) / sizeof(ks[0]); j++) {
		double t = measure(size, iters, runs, ks[j], 0);
		printf("copy + %2d stores (one line each): %.2f ns, +%.2f ns, %.3f ns per store\n",
		       ks[j], t, t - base, (t - base) / ks[j]);
	}
	if (extra) {
		double t = measure(size, iters, runs, extra, 0);
		printf("copy + %2d stores: %.2f ns, +%.2f ns, ratio copy / (copy + stores) %.3f\n",
		       extra, t, t - base, base / t);
	}
	static const int as[] = {50, 100, 200};
	for (unsigned j = 0; j < sizeof(as) / sizeof(as[0]); j++) {
		double t = measure(size, iters, runs, 0, as[j]);
		printf("copy + %3d dependent adds: %.2f ns, +%.2f ns\n", as[j], t, t - base);
	}
	double alone = measure(0, iters, runs, 0, 100);
	printf("100 dependent adds alone: %.2f ns\n", alone);
	return (int)(sink & 0u);
}
