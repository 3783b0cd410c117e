/*
 * thread_window.so: an LD_PRELOAD shim that times a two-thread benchmark
 * from its first pthread_create() to the return of its last pthread_join(),
 * and writes the nanoseconds to the file named by $VTIO_THREAD_WINDOW at
 * exit.
 *
 * bench/compare_linux preloads it into ringtest and ring_bench alike, so that
 * both sides are timed by the same clock over the same span (threads created,
 * pinned, the work, threads joined) and neither pays for exec, the dynamic
 * loader or the wait of a normal-priority parent for a CPU, which on a loaded
 * machine added ~100 ms to a run (25 ns per buffer at 4,000,000 buffers).
 *
 * Build: cc -O2 -shared -fPIC -o thread_window.so thread_window.c -ldl
 * Host-only (glibc/Linux dynamic linking), not part of the library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
typedef int (*join_fn)(pthread_t, void **);

static uint64_t first_create, last_join;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static create_fn real;
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
	if (!real)
		abort();
	if (!first_create)
		first_create = now_ns();
	return real(t, attr, fn, arg);
}

int pthread_join(pthread_t t, void **ret)
{
	static join_fn real;
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "pthread_join");
	if (!real)
		abort();
	int r = real(t, ret);
	last_join = now_ns();
	return r;
}

__attribute__((destructor)) static void thread_window_report(void)
{
	const char *path = getenv("VTIO_THREAD_WINDOW");
	if (!path || !first_create || last_join < first_create)
		return;
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "%llu\n", (unsigned long long)(last_join - first_create));
	fclose(f);
}
