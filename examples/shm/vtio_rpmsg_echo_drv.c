/* vtio-rpmsg-echo-drv: the driver half of the rpmsg echo service. It
 * connects to vtio-rpmsg-echo-dev's UNIX socket, maps the shared window it
 * is sent, finds the rpmsg device in the directory, brings it up, binds the
 * "rpmsg-echo" endpoint the device announces and checks COUNT echoes. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpmsg_echo_host.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: vtio-rpmsg-echo-drv --socket PATH [--count N] [--message TEXT]\n"
		   "                           [--timeout SEC] [--packed]\n"
		   "\n"
		   "Connect to vtio-rpmsg-echo-dev at the UNIX socket PATH, bind its\n"
		   "'rpmsg-echo' endpoint and send N messages \"TEXT <i>\", checking each echo.\n"
		   "\n"
		   "  --socket PATH    the device's socket\n"
		   "  --count N        messages to send (default 10, at most 10000000)\n"
		   "  --message TEXT   message text (default \"hello\", at most 400 bytes)\n"
		   "  --timeout SEC    give up after SEC seconds without progress, also\n"
		   "                   waiting for the device to appear (default 5)\n"
		   "  --packed         use the packed ring (default: split)\n"
		   "  --help           this text\n"
		   "\n"
		   "Exit status: 0 all echoes matched, 1 failure, 2 bad arguments.\n"
		   "SIGINT / SIGTERM end it cleanly (the device is reset first).\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL, *text = "hello";
	unsigned long count = 10, timeout_s = 5;
	bool packed = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			if (rpm_host_parse_uint(argv[++i], 10000000, &count)) {
				fprintf(
				    stderr,
				    "vtio-rpmsg-echo-drv: --count wants 0..10000000, not '%s'\n",
				    argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--packed")) {
			packed = true;
		} else if (!strcmp(argv[i], "--message") && i + 1 < argc) {
			text = argv[++i];
			if (strlen(text) > 400) {
				fprintf(stderr, "vtio-rpmsg-echo-drv: --message is longer than 400 "
						"bytes\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			if (rpm_host_parse_uint(argv[++i], 3600, &timeout_s) || timeout_s == 0) {
				fprintf(stderr,
					"vtio-rpmsg-echo-drv: --timeout wants 1..3600 seconds, not "
					"'%s'\n",
					argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr,
				"vtio-rpmsg-echo-drv: unknown or incomplete argument '%s'\n",
				argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "vtio-rpmsg-echo-drv: --socket PATH is required\n");
		usage(stderr);
		return 2;
	}
	rpm_host_catch_signals();

	int ms = (int)timeout_s * 1000;
	int sfd;
	int r = vtio_host_connect(path, ms, &sfd);
	if (r) {
		const char *why = r == VTIO_ENOENT
				      ? "no socket there (is vtio-rpmsg-echo-dev running?)"
				  : r == VTIO_ENOTCONN ? "nobody is listening there"
						       : vtio_strerror(r);
		fprintf(stderr, "vtio-rpmsg-echo-drv: cannot reach the device at '%s': %s\n", path,
			why);
		return 1;
	}
	static struct rpm_host_drv h;
	r = rpm_host_drv_connect(&h, sfd, ms, packed);
	if (r) {
		close(sfd);
		fprintf(stderr, "vtio-rpmsg-echo-drv: cannot bring up the device: %s\n",
			r == VTIO_ENOENT ? "no rpmsg device in the directory" : vtio_strerror(r));
		return 1;
	}
	unsigned ok = 0;
	r = rpm_host_drv_echo(&h, text, (unsigned)count, &rpm_host_stop, ms, &ok);
	if (h.d.bound)
		printf("vtio-rpmsg-echo-drv: bound '%s' at 0x%x (%s ring); %u/%lu echoes matched\n",
		       h.d.remote_name, h.d.remote, packed ? "packed" : "split", ok, count);
	rpm_host_drv_close(&h);
	if (r == VTIO_ECANCELED) {
		printf("vtio-rpmsg-echo-drv: stopped by signal\n");
		return 0;
	}
	if (r) {
		fprintf(stderr, "vtio-rpmsg-echo-drv: echo failed after %u message(s): %s\n", ok,
			r == VTIO_ENOTCONN    ? "the device went away"
			: r == VTIO_ETIMEDOUT ? "no answer in time"
			: r == VTIO_EBADMSG   ? "an echo did not match"
					      : vtio_strerror(r));
		return 1;
	}
	return 0;
}
