/*
 * line_pingpong: the cost of moving one cache line between two CPUs.
 *
 * Two threads, pinned to the two CPUs given, take turns writing one
 * 64-byte-aligned counter: the first writes odd values when it sees an even
 * one, the second writes even values when it sees an odd one. Every write
 * needs the line the other CPU just wrote, so one hand-over is one line
 * transfer plus a store. Prints ns per hand-over (median of --runs runs).
 *
 * bench/compare_linux runs it next to every ringtest/ring_bench pair: both
 * rings are bound by exactly this cost, and on a VM it moves when the
 * hypervisor moves the vCPUs (same core, same L3, other L3), which no
 * guest-visible counter shows (steal stays 0 on some hypervisors).
 *
 * Usage: line_pingpong [--cpus A B] [--rounds N] [--runs R]
 * Host-only program (POSIX threads), not part of the library.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct {
	_Alignas(128) _Atomic uint64_t v;
	char pad[128 - sizeof(uint64_t)];
} line;

static uint64_t rounds = 1000000;

struct side {
	int cpu;
	uint64_t parity; /* 0: writes odd values, 1: writes even values */
	int pinned;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *side_run(void *arg)
{
	struct side *s = arg;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET((size_t)s->cpu, &set);
	s->pinned = pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
	uint64_t last = 2 * rounds;
	for (;;) {
		uint64_t x = atomic_load_explicit(&line.v, memory_order_acquire);
		if (x >= last)
			return NULL;
		if ((x & 1u) == s->parity)
			atomic_store_explicit(&line.v, x + 1, memory_order_release);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int a = 0, b = 1;
	unsigned runs = 3;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--cpus") && i + 2 < argc) {
			a = atoi(argv[++i]);
			b = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			runs = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: line_pingpong [--cpus A B] [--rounds N] [--runs R]\n"
			       "  ns per cache-line hand-over between CPUs A and B (default 0 1),\n"
			       "  N round trips per run (default 1000000), median of R runs "
			       "(default 3)\n");
			return 0;
		} else {
			fprintf(stderr, "line_pingpong: unknown argument %s (try --help)\n",
				argv[i]);
			return 2;
		}
	}
	if (runs == 0 || runs > 100 || rounds == 0) {
		fprintf(stderr, "line_pingpong: --runs must be 1..100 and --rounds > 0\n");
		return 2;
	}
	double v[100];
	for (unsigned r = 0; r < runs; r++) {
		atomic_store(&line.v, 0);
		struct side sa = {a, 0, 0}, sb = {b, 1, 0};
		pthread_t ta, tb;
		uint64_t t0 = now_ns();
		if (pthread_create(&ta, NULL, side_run, &sa) ||
		    pthread_create(&tb, NULL, side_run, &sb)) {
			fprintf(stderr, "line_pingpong: pthread_create failed\n");
			return 1;
		}
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		uint64_t dt = now_ns() - t0;
		if (!sa.pinned || !sb.pinned) {
			fprintf(stderr, "line_pingpong: cannot pin to CPUs %d and %d\n", a, b);
			return 1;
		}
		v[r] = (double)dt / (double)(2 * rounds);
	}
	qsort(v, runs, sizeof(v[0]), cmp_double);
	printf("%.2f\n", v[runs / 2]);
	return 0;
}
