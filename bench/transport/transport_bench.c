/*
 * transport_bench: a driver and a device as two processes over shared
 * memory (the message-queue transport of seed 002: config by messages on a
 * UNIX socket, notifications by eventfd doorbells, rings in a shared memfd
 * window). The device is this program re-executed with --device, so the two
 * share nothing but the window.
 *
 * Workload (as ring_bench's poll/eventfd modes and Linux tools/virtio
 * ringtest): the driver keeps the ring full of one-descriptor
 * device-readable buffers and reaps them; the device uses every buffer at
 * once without touching its bytes.
 *
 *   mode      poll: both sides spin (split publishes every add, the device
 *             publishes every used entry); doorbell: EVENT_IDX suppression,
 *             kicks and interrupts by eventfd, both sides sleep when idle.
 *   size      64 B and 4 KiB buffers.
 *   place     window: buffers allocated in the shared window (premapped, no
 *             copy); bounce: buffers in the driver's private memory, every
 *             one bounced through the pool in the window (the seed 002 set-up).
 *
 * Reported per case: buffers/s, GB/s (buffers/s x size), notifications per
 * buffer (kicks sent + interrupts received by the driver); every number the
 * median of --runs runs. The in-process two-thread figure (ring_bench --mode
 * poll, same ring size and buffer count) is measured in the same run and the
 * ratio time-per-buffer(across processes) / time-per-buffer(in process) is
 * printed for 64 B window polling (target: within 1.3x).
 *
 * Usage: transport_bench [--json] [--runs R] [--buffers N] [--quick]
 *                        [--mode poll|doorbell|both] [--layout split|packed|both]
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host_msgq_link.h"
#include "vtio.h"
#include "vtio_host.h"

#define RING	 256u
#define BENCH_ID 0x7f01u

static struct {
	int json;
	unsigned runs;
	uint64_t buffers;
	int modes;   /* bit 0 poll, bit 1 doorbell */
	int layouts; /* bit 0 split, bit 1 packed */
} opt = {.runs = 5, .buffers = 2000000, .modes = 3, .layouts = 3};

/* ---- Device process ---------------------------------------------------------------------- */

static struct vtio_host_msgq_dev srv;
static int dev_poll_mode;

static unsigned drain(struct vtio_devq *q)
{
	struct vtio_iov rd[2], wr[2];
	unsigned n = 0;
	for (;;) {
		struct vtio_devq_chain c = {.rd = rd, .rd_max = 2, .wr = wr, .wr_max = 2};
		if (vtio_devq_pop(q, &c) != 0)
			return n;
		if (vtio_devq_push(q, &c, 0) != 0)
			return n;
		n++;
	}
}

static int dev_kick(void *ctx, uint16_t index, uint32_t data)
{
	(void)ctx;
	(void)data;
	struct vtio_devq *q = vtio_dev_devq(&srv.dev, index);
	if (q == NULL || dev_poll_mode)
		return 0;
	for (;;) {
		if (drain(q))
			(void)vtio_host_msgq_dev_notify(&srv, index);
		if (vtio_devq_enable_notify(q))
			return 0;
	}
}

static const struct vtio_dev_ops dev_ops = {.kick = dev_kick};

static int device_main(const char *sock, const char *mode, int cpu)
{
	dev_poll_mode = !strcmp(mode, "poll");
	vtio_host_pin_self(cpu);
	struct vtio_dev_config dc = {
	    .device_id = BENCH_ID,
	    .features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_RING_PACKED) |
			VTIO_FEATURE(VTIO_F_EVENT_IDX),
	    .num_queues = 1,
	    .queue_max = RING,
	    .ops = &dev_ops,
	};
	if (vtio_host_msgq_dev_open(&srv, sock, &dc) != 0)
		return 10;
	if (vtio_host_msgq_dev_accept(&srv, 10000) != 0)
		return 11;
	for (;;) {
		struct vtio_devq *q = vtio_dev_devq(&srv.dev, 0);
		if (dev_poll_mode && q != NULL) {
			/* Spin on the ring; look at the socket now and then. */
			for (unsigned i = 0; i < 4096; i++)
				drain(q);
			if (vtio_host_msgq_dev_step(&srv, 0, NULL) == VTIO_ENOTCONN)
				break;
			continue;
		}
		if (vtio_host_msgq_dev_step(&srv, dev_poll_mode ? 1 : 1000, NULL) == VTIO_ENOTCONN)
			break;
	}
	vtio_host_msgq_dev_close(&srv);
	return 0;
}

/* ---- Driver ------------------------------------------------------------------------------ */

struct result {
	double bufs_per_s;
	double notif_per_buf;
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct bufrec {
	struct vtio_sg sg;
};

static char exe[PATH_MAX];

static int one_case(bool packed, bool poll, uint32_t size, bool bounce, struct result *out)
{
	char sock[108];
	snprintf(sock, sizeof(sock), "/tmp/vtio-tbench-%d.sock", (int)getpid());
	int ncpu = vtio_host_ncpus();
	pid_t dev = fork();
	if (dev == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(exe, "transport_bench", "--device", sock, poll ? "poll" : "doorbell",
		      ncpu > 1 ? "1" : "-1", (char *)NULL);
		_exit(127);
	}
	vtio_host_pin_self(ncpu > 1 ? 0 : -1);
	static struct vtio_host_msgq_drv d;
	struct vtio_host_msgq_drv_config c = {.socket = sock,
					      .connect_timeout_ms = 10000,
					      .num_queues = 1,
					      .queue_num = RING,
					      .packed = packed,
					      .window_size = 8u << 20,
					      .device_id = BENCH_ID,
					      .vq_flags = bounce ? 0 : VTIO_VQ_F_PREMAPPED};
	int rc = vtio_host_msgq_drv_open(&d, &c);
	if (rc != 0) {
		fprintf(stderr, "transport_bench: cannot set up the device: %s\n",
			vtio_strerror(rc));
		kill(dev, SIGKILL);
		waitpid(dev, NULL, 0);
		return rc;
	}
	struct vtio_vq *vq = d.vq[0];
	static struct bufrec recs[RING];
	static void *priv[RING];
	for (unsigned i = 0; i < RING; i++) {
		if (bounce) {
			priv[i] = calloc(1, size);
			recs[i].sg = vtio_sg_of(priv[i], size);
		} else {
			void *cpu;
			uint64_t bus;
			rc = vtio_dma_alloc(&d.dma, size, &cpu, &bus);
			if (rc != 0)
				break;
			recs[i].sg.addr = bus;
			recs[i].sg.len = size;
		}
	}
	struct bufrec *free_stack[RING];
	unsigned nfree = RING;
	for (unsigned i = 0; i < RING; i++)
		free_stack[i] = &recs[i];
	double *v = calloc(opt.runs, sizeof(double)), *nv = calloc(opt.runs, sizeof(double));
	if (poll)
		vtio_vq_disable_cb(vq);
	for (unsigned run = 0; rc == 0 && run <= opt.runs; run++) {
		/* run 0 is the warm-up */
		uint64_t n = run == 0 ? opt.buffers / 10 : opt.buffers;
		uint64_t sent = 0, done = 0, kicks = 0, irqs = 0;
		uint64_t t0 = vtio_host_now_ns();
		while (done < n) {
			while (nfree > 0 && sent < n) {
				struct bufrec *b = free_stack[nfree - 1];
				if (vtio_vq_add(vq, &b->sg, 1, 0, b) != 0)
					break;
				nfree--;
				sent++;
				if (poll)
					(void)vtio_vq_publish(vq);
			}
			if (!poll && vtio_vq_kick_prepare(vq)) {
				(void)vtio_vq_notify(vq);
				kicks++;
			}
			unsigned got = 0;
			struct bufrec *b;
			while ((b = vtio_vq_get_used(vq, NULL)) != NULL) {
				free_stack[nfree++] = b;
				got++;
			}
			done += got;
			if (poll || got)
				continue;
			if (!vtio_vq_enable_cb(vq)) {
				vtio_vq_disable_cb(vq);
				continue;
			}
			uint64_t rang = 0;
			int wrc = vtio_host_msgq_drv_wait(&d, 2000, &rang);
			vtio_vq_disable_cb(vq);
			if (wrc == 0 && (rang & 1))
				irqs++;
			if (wrc == VTIO_ENOTCONN || wrc == VTIO_ETIMEDOUT) {
				fprintf(stderr, "transport_bench: device stalled or gone (%s)\n",
					vtio_strerror(wrc));
				rc = wrc;
				break;
			}
		}
		uint64_t t1 = vtio_host_now_ns();
		if (run > 0) {
			v[run - 1] = (double)n * 1e9 / (double)(t1 - t0);
			nv[run - 1] = (double)(kicks + irqs) / (double)n;
		}
	}
	if (rc == 0) {
		out->bufs_per_s = median(v, opt.runs);
		out->notif_per_buf = median(nv, opt.runs);
	}
	free(v);
	free(nv);
	vtio_host_msgq_drv_close(&d);
	for (unsigned i = 0; bounce && i < RING; i++)
		free(priv[i]);
	waitpid(dev, NULL, 0);
	return rc;
}

/* ring_bench --mode poll: in-process two-thread ns per buffer for @p layout. */
static double ring_bench_poll(const char *layout)
{
	char path[PATH_MAX + 64], cmd[PATH_MAX + 256];
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", exe);
	snprintf(path, sizeof(path), "%s/../ring/ring_bench", dirname(tmp));
	snprintf(cmd, sizeof(cmd),
		 "'%s' --mode poll --layout %s --json --runs %u --buffers %" PRIu64
		 " --ring-size %u 2>/dev/null",
		 path, layout, opt.runs, opt.buffers, RING);
	FILE *f = popen(cmd, "r");
	if (!f)
		return 0;
	char line[1024];
	double ns = 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "\"ns_per_buf\":");
		if (p && strstr(line, "\"bench\":\"poll\""))
			ns = strtod(p + 13, NULL);
	}
	pclose(f);
	return ns;
}

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: transport_bench [--json] [--runs R] [--buffers N] [--quick]\n"
	       "                       [--mode poll|doorbell|both] [--layout split|packed|both]\n");
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "--device"))
		return device_main(argv[2], argv[3], atoi(argv[4]));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json"))
			opt.json = 1;
		else if (!strcmp(a, "--quick"))
			opt.runs = 1, opt.buffers = 20000;
		else if (!strcmp(a, "--runs") && i + 1 < argc)
			opt.runs = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(a, "--buffers") && i + 1 < argc)
			opt.buffers = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(a, "--mode") && i + 1 < argc) {
			const char *m = argv[++i];
			opt.modes = !strcmp(m, "poll") ? 1 : !strcmp(m, "doorbell") ? 2 : 3;
		} else if (!strcmp(a, "--layout") && i + 1 < argc) {
			const char *m = argv[++i];
			opt.layouts = !strcmp(m, "split") ? 1 : !strcmp(m, "packed") ? 2 : 3;
		} else if (!strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "transport_bench: unknown argument '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (opt.runs == 0 || opt.buffers < 10) {
		fprintf(stderr, "transport_bench: --runs >= 1 and --buffers >= 10\n");
		return 2;
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 1;
	exe[n] = 0;
	signal(SIGPIPE, SIG_IGN);
	int status = 0;
	for (int l = 0; l < 2; l++) {
		if (!(opt.layouts & (1 << l)))
			continue;
		const char *ln = l ? "packed" : "split";
		double inproc_ns = (opt.modes & 1) ? ring_bench_poll(ln) : 0;
		for (int m = 0; m < 2; m++) {
			if (!(opt.modes & (1 << m)))
				continue;
			for (int s = 0; s < 2; s++) {
				uint32_t size = s ? 4096u : 64u;
				for (int bnc = 0; bnc < 2; bnc++) {
					struct result r;
					if (one_case(l == 1, m == 0, size, bnc == 1, &r) != 0) {
						status = 1;
						continue;
					}
					const char *mode = m ? "doorbell" : "poll";
					const char *place = bnc ? "bounce" : "window";
					double gbs = r.bufs_per_s * size / 1e9;
					double ratio = 0;
					if (m == 0 && s == 0 && bnc == 0 && inproc_ns > 0)
						ratio = (1e9 / r.bufs_per_s) / inproc_ns;
					if (opt.json) {
						printf(
						    "{\"bench\":\"transport\",\"transport\":\"msgq+"
						    "shm\","
						    "\"processes\":2,\"layout\":\"%s\",\"mode\":\"%"
						    "s\","
						    "\"size\":%u,\"placement\":\"%s\",\"ring\":%u,"
						    "\"buffers\":%" PRIu64 ",\"runs\":%u,"
						    "\"buffers_per_s\":%.0f,\"gb_per_s\":%.3f,"
						    "\"notifications_per_buf\":%.4f",
						    ln, mode, size, place, RING, opt.buffers,
						    opt.runs, r.bufs_per_s, gbs, r.notif_per_buf);
						if (ratio > 0)
							printf(",\"inproc_poll_ns_per_buf\":%.2f,"
							       "\"ratio_vs_inproc\":%.3f",
							       inproc_ns, ratio);
						printf("}\n");
					} else {
						printf(
						    "%-6s %-8s %4u B %-6s %10.0f buf/s %7.3f GB/s "
						    "%6.4f notif/buf",
						    ln, mode, size, place, r.bufs_per_s, gbs,
						    r.notif_per_buf);
						if (ratio > 0)
							printf("  (in-process poll %.2f ns/buf: "
							       "ratio %.2fx)",
							       inproc_ns, ratio);
						printf("\n");
					}
					fflush(stdout);
				}
			}
		}
	}
	return status;
}
