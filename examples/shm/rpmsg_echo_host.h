/* The rpmsg echo service between two processes: the POSIX glue (window,
 * eventfd doorbells and fd passing from src/host/host_shm.h) around
 * rpmsg_echo.h. Shared by vtio-rpmsg-echo-dev, vtio-rpmsg-echo-drv and the
 * two-process tests. */
#ifndef VTIO_EXAMPLE_RPMSG_ECHO_HOST_H
#define VTIO_EXAMPLE_RPMSG_ECHO_HOST_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "host_shm.h"
#include "rpmsg_echo.h"

#define RPM_HOST_WINDOW (2u << 20)
#define RPM_HOST_BOUNCE (512u << 10)
#define RPM_HOST_BELLS	2u

/* Both programs: SIGINT and SIGTERM set rpm_host_stop (the loops check it and
 * end cleanly), SIGPIPE is ignored (a peer gone shows as an error). */
extern volatile sig_atomic_t rpm_host_stop;
void rpm_host_catch_signals(void);
/* A decimal argument in 0..@max; -1 for anything else (sign, junk, range). */
int rpm_host_parse_uint(const char *s, unsigned long max, unsigned long *out);

/* Device process: owns the window, the directory and the device. */
struct rpm_host_dev {
	struct vtio_host_link link;
	struct vtio_shm_dir dir;
	struct rpm_dev rd;
	struct vtio_shm_dev sd;
	unsigned slot;
	uint64_t drivers; /* drivers served */
};

/* Make the window and publish the echo device in it (device first). */
int rpm_host_dev_create(struct rpm_host_dev *h);
/* Hand the window to the driver on connected socket @sfd and serve it until
 * it goes away (then the device is reset: 0 is returned, ready for the next
 * one), *stop becomes non-zero (VTIO_ECANCELED) or nothing happens for
 * @idle_ms (VTIO_ETIMEDOUT; -1: no limit). */
int rpm_host_dev_serve(struct rpm_host_dev *h, int sfd, const volatile sig_atomic_t *stop,
		       int idle_ms);
void rpm_host_dev_destroy(struct rpm_host_dev *h);

/* Driver process. */
struct rpm_host_drv {
	struct vtio_host_link link;
	struct rpm_drv d;
};

/* Receive the window on @sfd, find the echo device, bring it up (packed
 * ring with @packed). */
int rpm_host_drv_connect(struct rpm_host_drv *h, int sfd, int timeout_ms, bool packed);
/* Wait for the name-service announcement, then send @count messages
 * ("<text> <n>") one at a time and check each echo. *ok counts the echoes
 * that matched. 0 when all matched; VTIO_EBADMSG on a wrong echo;
 * VTIO_ENOTCONN when the device went away; VTIO_ECANCELED on *stop;
 * VTIO_ETIMEDOUT after @timeout_ms without progress. */
int rpm_host_drv_echo(struct rpm_host_drv *h, const char *text, unsigned count,
		      const volatile sig_atomic_t *stop, int timeout_ms, unsigned *ok);
void rpm_host_drv_close(struct rpm_host_drv *h);

#endif
