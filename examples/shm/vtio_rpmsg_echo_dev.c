/* vtio-rpmsg-echo-dev: the device half of the rpmsg echo service. It makes a
 * shared-memory window with a device directory, publishes an rpmsg device
 * (name service: "rpmsg-echo" at 0x400) and serves drivers that connect to
 * its UNIX socket, one at a time, echoing every message back. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpmsg_echo_host.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: vtio-rpmsg-echo-dev --socket PATH [--once] [--idle-timeout SEC]\n"
		   "\n"
		   "Publish an rpmsg echo device in a shared-memory window and serve the\n"
		   "drivers (vtio-rpmsg-echo-drv) that connect to the UNIX socket PATH.\n"
		   "\n"
		   "  --socket PATH        UNIX socket to listen on (a stale one is replaced)\n"
		   "  --once               exit after the first driver went away\n"
		   "  --idle-timeout SEC   exit with an error after SEC seconds without a\n"
		   "                       driver or without driver activity (default: none)\n"
		   "  --help               this text\n"
		   "\n"
		   "SIGINT / SIGTERM end it cleanly (exit 0).\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int once = 0;
	long idle_ms = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--once")) {
			once = 1;
		} else if (!strcmp(argv[i], "--idle-timeout") && i + 1 < argc) {
			unsigned long v;
			if (rpm_host_parse_uint(argv[++i], 86400, &v) || v == 0) {
				fprintf(
				    stderr,
				    "vtio-rpmsg-echo-dev: --idle-timeout wants 1..86400 seconds, "
				    "not '%s'\n",
				    argv[i]);
				return 2;
			}
			idle_ms = (long)v * 1000;
		} else {
			fprintf(stderr,
				"vtio-rpmsg-echo-dev: unknown or incomplete argument '%s'\n",
				argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "vtio-rpmsg-echo-dev: --socket PATH is required\n");
		usage(stderr);
		return 2;
	}
	rpm_host_catch_signals();

	static struct rpm_host_dev h;
	int r = rpm_host_dev_create(&h);
	if (r) {
		fprintf(stderr, "vtio-rpmsg-echo-dev: cannot create the device window: %s\n",
			vtio_strerror(r));
		return 1;
	}
	int lfd;
	r = vtio_host_listen(path, &lfd);
	if (r) {
		fprintf(stderr, "vtio-rpmsg-echo-dev: cannot listen on '%s': %s\n", path,
			r == VTIO_EBUSY ? "another program is listening there" : vtio_strerror(r));
		rpm_host_dev_destroy(&h);
		return 1;
	}
	printf("vtio-rpmsg-echo-dev: rpmsg device '%s' at 0x%x, listening on %s\n", RPM_ECHO_NAME,
	       RPM_ECHO_ADDR, path);
	fflush(stdout);
	int rc = 0;
	long waited = 0;
	while (!rpm_host_stop) {
		int sfd;
		r = vtio_host_accept(lfd, 200, &sfd);
		if (r == VTIO_ETIMEDOUT || r == VTIO_EAGAIN) {
			waited += 200;
			if (idle_ms >= 0 && waited >= idle_ms) {
				fprintf(stderr,
					"vtio-rpmsg-echo-dev: no driver came within %ld s\n",
					idle_ms / 1000);
				rc = 1;
				break;
			}
			continue;
		}
		if (r) {
			fprintf(stderr, "vtio-rpmsg-echo-dev: accept failed: %s\n",
				vtio_strerror(r));
			rc = 1;
			break;
		}
		waited = 0;
		uint64_t echoed0 = h.rd.echoed;
		printf("vtio-rpmsg-echo-dev: driver connected\n");
		fflush(stdout);
		r = rpm_host_dev_serve(&h, sfd, &rpm_host_stop, (int)idle_ms);
		printf("vtio-rpmsg-echo-dev: driver %s; echoed %llu message(s)\n",
		       r == VTIO_ECANCELED ? "dropped (stopping)" : "gone",
		       (unsigned long long)(h.rd.echoed - echoed0));
		fflush(stdout);
		if (r == VTIO_ETIMEDOUT) {
			fprintf(stderr, "vtio-rpmsg-echo-dev: driver idle for %ld s\n",
				idle_ms / 1000);
			rc = 1;
			break;
		}
		if (r && r != VTIO_ECANCELED) {
			fprintf(stderr, "vtio-rpmsg-echo-dev: serving failed: %s\n",
				vtio_strerror(r));
			rc = 1;
			break;
		}
		if (once)
			break;
	}
	close(lfd);
	unlink(path);
	rpm_host_dev_destroy(&h);
	if (rpm_host_stop)
		printf("vtio-rpmsg-echo-dev: stopped by signal\n");
	return rc;
}
