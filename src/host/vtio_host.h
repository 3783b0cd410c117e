/*
 * Host-only helpers for tests, benchmarks and examples (Linux/POSIX):
 * eventfd notifications, thread pinning and a monotonic clock.
 * Never part of the freestanding core (target vtio_host).
 */
#ifndef VTIO_HOST_H
#define VTIO_HOST_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An eventfd used as a doorbell between two threads (or processes). */
struct vtio_host_event {
	int fd;
};

/* Create the doorbell. Returns 0 or a negative VTIO_E* code. */
int vtio_host_event_init(struct vtio_host_event *e);
/* Ring it (eventfd write of 1). Returns 0 or a negative VTIO_E* code. */
int vtio_host_event_signal(struct vtio_host_event *e);
/* Block until it rang, consume all rings. Returns 0 or a negative VTIO_E* code. */
int vtio_host_event_wait(struct vtio_host_event *e);
/* Like vtio_host_event_wait() but gives up after @p ms milliseconds
 * (VTIO_ETIMEDOUT). */
int vtio_host_event_wait_timeout(struct vtio_host_event *e, int ms);
/* Close it. */
void vtio_host_event_close(struct vtio_host_event *e);

/* A vtio_notify_fn-compatible callback: ctx is a struct vtio_host_event. */
int vtio_host_event_notify_cb(void *ctx, uint32_t data);

/* Pin the calling thread to CPU @p cpu (ignored when cpu < 0).
 * Returns 0 or a negative VTIO_E* code (e.g. the CPU does not exist). */
int vtio_host_pin_self(int cpu);

/* Number of online CPUs. */
int vtio_host_ncpus(void);

/* Monotonic clock in nanoseconds. */
uint64_t vtio_host_now_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* VTIO_HOST_H */
