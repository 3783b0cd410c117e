/* Host helpers: eventfd doorbells, thread pinning, clock (Linux). */
#define _GNU_SOURCE
#include "vtio_host.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "vtio/error.h"

static int neg_errno(void)
{
	switch (errno) {
	case EINVAL:
		return VTIO_EINVAL;
	case ENOMEM:
		return VTIO_ENOMEM;
	case EAGAIN:
		return VTIO_EAGAIN;
	default:
		return VTIO_EIO;
	}
}

int vtio_host_event_init(struct vtio_host_event *e)
{
	e->fd = eventfd(0, EFD_CLOEXEC);
	return e->fd < 0 ? neg_errno() : 0;
}

int vtio_host_event_signal(struct vtio_host_event *e)
{
	uint64_t one = 1;
	for (;;) {
		ssize_t r = write(e->fd, &one, sizeof(one));
		if (r == (ssize_t)sizeof(one))
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		return neg_errno();
	}
}

int vtio_host_event_wait(struct vtio_host_event *e)
{
	uint64_t v;
	for (;;) {
		ssize_t r = read(e->fd, &v, sizeof(v));
		if (r == (ssize_t)sizeof(v))
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		return neg_errno();
	}
}

int vtio_host_event_wait_timeout(struct vtio_host_event *e, int ms)
{
	struct pollfd p;
	p.fd = e->fd;
	p.events = POLLIN;
	p.revents = 0;
	for (;;) {
		int r = poll(&p, 1, ms);
		if (r > 0)
			return vtio_host_event_wait(e);
		if (r == 0)
			return VTIO_ETIMEDOUT;
		if (errno != EINTR)
			return neg_errno();
	}
}

void vtio_host_event_close(struct vtio_host_event *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}

int vtio_host_event_notify_cb(void *ctx, uint32_t data)
{
	(void)data;
	return vtio_host_event_signal((struct vtio_host_event *)ctx);
}

int vtio_host_pin_self(int cpu)
{
	if (cpu < 0)
		return 0;
	if (cpu >= CPU_SETSIZE)
		return VTIO_EINVAL;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET((size_t)cpu, &set);
	int r = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	return r == 0 ? 0 : VTIO_EINVAL;
}

int vtio_host_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

uint64_t vtio_host_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
