/*
 * Small helpers shared by the vhost-user example programs: signal flags
 * (SIGINT/SIGTERM stop, SIGUSR1 asks for a stats line), strict number
 * parsing and device constants the programs use (virtio-blk, virtio-net).
 */
#ifndef VTIO_VHOST_PROG_H
#define VTIO_VHOST_PROG_H

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtio/vhost_user.h"

/* virtio-blk (virtio spec 5.2) */
#define VTIO_BLK_F_SIZE_MAX  1
#define VTIO_BLK_F_SEG_MAX   2
#define VTIO_BLK_F_RO	     5
#define VTIO_BLK_F_BLK_SIZE  6
#define VTIO_BLK_F_FLUSH     9
#define VTIO_BLK_F_MQ	     12
#define VTIO_BLK_T_IN	     0u
#define VTIO_BLK_T_OUT	     1u
#define VTIO_BLK_T_FLUSH     4u
#define VTIO_BLK_T_GET_ID    8u
#define VTIO_BLK_S_OK	     0u
#define VTIO_BLK_S_IOERR     1u
#define VTIO_BLK_S_UNSUPP    2u
#define VTIO_BLK_ID_BYTES    20u
#define VTIO_BLK_CONFIG_SIZE 60u /* through write_zeroes_may_unmap + padding */

/* virtio-net (virtio spec 5.1) */
#define VTIO_NET_F_MRG_RXBUF	15
#define VTIO_NET_F_CTRL_VQ	17
#define VTIO_NET_F_MQ		22
#define VTIO_NET_HDR_LEN	12u /* with VERSION_1 or MRG_RXBUF: num_buffers present */
#define VTIO_NET_HDR_LEN_LEGACY 10u
#define VTIO_NET_MAX_FRAME	65535u

static volatile sig_atomic_t vtio_prog_stop;
static volatile sig_atomic_t vtio_prog_stats;

static void vtio_prog_on_signal(int sig)
{
	if (sig == SIGUSR1)
		vtio_prog_stats = 1;
	else
		vtio_prog_stop = 1;
}

/* No SA_RESTART: a blocking wait returns EINTR and the loop sees the flag. */
static inline void vtio_prog_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vtio_prog_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Parse an unsigned number in [lo, hi]; exits 2 naming the option otherwise. */
static inline uint64_t vtio_prog_num(const char *prog, const char *opt, const char *s, uint64_t lo,
				     uint64_t hi)
{
	char *end;
	errno = 0;
	unsigned long long v = s != NULL ? strtoull(s, &end, 0) : 0;
	if (s == NULL || *s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v < lo ||
	    v > hi) {
		fprintf(stderr, "%s: %s needs a number in %llu..%llu, got '%s'\n", prog, opt,
			(unsigned long long)lo, (unsigned long long)hi, s != NULL ? s : "");
		exit(2);
	}
	return v;
}

static inline const char *vtio_prog_arg(const char *prog, int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "%s: %s needs a value (see --help)\n", prog, argv[*i]);
		exit(2);
	}
	return argv[++*i];
}

/* The JSON member ,"queues":[...] for a stats line: every queue the front
 * end set up, with where the device side stands, whether a buffer waits,
 * both sides' event suppression words and the kicks and calls counted (a
 * stalled peer shows which side waits on which). */
static inline void vtio_prog_print_queues(const struct vtio_vhost_be *be)
{
	struct vtio_vhost_be_queue_info qi;
	bool first = true;
	printf(",\"queues\":[");
	for (unsigned i = 0; vtio_vhost_be_queue_info(be, i, &qi) == 0; i++) {
		if (qi.num == 0)
			continue;
		printf("%s{\"index\":%u,\"num\":%u,\"live\":%s,\"avail_pos\":%u,"
		       "\"avail_wrap\":%d,\"used_pos\":%u,\"used_wrap\":%d,\"in_flight\":%u,"
		       "\"avail\":%s,\"driver_event\":\"0x%08x\",\"device_event\":\"0x%08x\","
		       "\"kicks\":%llu,\"calls\":%llu}",
		       first ? "" : ",", i, qi.num, qi.live ? "true" : "false", qi.pos.avail_idx,
		       qi.pos.avail_wrap, qi.pos.used_idx, qi.pos.used_wrap, qi.pos.in_flight,
		       qi.avail ? "true" : "false", qi.driver_event, qi.device_event,
		       (unsigned long long)qi.kicks, (unsigned long long)qi.calls);
		first = false;
	}
	printf("]");
}

#endif /* VTIO_VHOST_PROG_H */
