/*
 * ring_lines: the workload of ring_bench's two-thread poll mode, run on one
 * thread with the two sides taking turns, so that a memory tracer can count
 * which shared cache lines each side reads and writes per buffer.
 *
 * Run under valgrind's lackey by bench/ring/ring_lines.sh, which feeds the
 * trace to bench/ring/ring_lines.py: a two-cache MESI model of the ring
 * areas that counts, per buffer and per side, the lines that had to move
 * from the other side's cache (a read of a line the peer wrote since this
 * side last had it) and the lines whose peer copy a write invalidated.
 * These are the transfers that cost time when the sides run on two cores;
 * this VM has no hardware counters (no perf c2c), so they are counted here.
 *
 * The turns are set by --burst K: the driver reaps every used buffer, adds up
 * to K buffers (publishing every --batch adds, as ring_bench does), then the
 * device pops and pushes every available buffer one at a time (ringtest's
 * run_host()). K = 1 is the closest a pair of spinning cores comes to
 * lock-step; larger K models a device that lags.
 *
 * Phase boundaries reach the tracer as 1-byte loads of marker[] (one line
 * per marker, addresses printed at start): everything between a driver
 * marker and the next device marker is the driver's, and so on.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vtio.h>

enum { M_DRIVER = 0, M_DEVICE = 1, M_START = 2, M_END = 3 };

static _Alignas(64) volatile unsigned char marker[4 * 64];
static _Alignas(4096) unsigned char ring[1 << 20];
static _Alignas(16) unsigned char vq_state[1 << 20];
static _Alignas(16) unsigned char dq_state[1 << 16];
static _Alignas(64) unsigned char buf[256 * 64];

static void mark(int m)
{
	(void)marker[m * 64];
}

static int no_notify(void *ctx, uint32_t data)
{
	(void)ctx;
	(void)data;
	return 0;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--layout split|packed] [--in-order] [--no-event-idx] [--ring N]\n"
		"          [--burst K] [--batch B] [--buffers N] [--warmup W] [--bufs D]\n"
		"  --bufs D  cycle through D distinct 64-byte buffers (default 1, as ring_bench)\n",
		argv0);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "ring_lines: %s: %s\n", what, vtio_strerror(err));
	exit(1);
}

int main(int argc, char **argv)
{
	enum vtio_layout layout = VTIO_LAYOUT_SPLIT;
	bool in_order = false, event_idx = true;
	uint32_t num = 256;
	unsigned burst = 1, batch = 1, nbufs = 1;
	unsigned long buffers = 4096, warmup = 1024;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--layout") && v) {
			if (!strcmp(v, "split"))
				layout = VTIO_LAYOUT_SPLIT;
			else if (!strcmp(v, "packed"))
				layout = VTIO_LAYOUT_PACKED;
			else {
				fprintf(stderr, "ring_lines: unknown layout %s\n", v);
				return 2;
			}
			i++;
		} else if (!strcmp(a, "--in-order")) {
			in_order = true;
		} else if (!strcmp(a, "--no-event-idx")) {
			event_idx = false;
		} else if (!strcmp(a, "--ring") && v) {
			num = (uint32_t)strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--burst") && v) {
			burst = (unsigned)strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--batch") && v) {
			batch = (unsigned)strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--buffers") && v) {
			buffers = strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--bufs") && v) {
			nbufs = (unsigned)strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--warmup") && v) {
			warmup = strtoul(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(argv[0]);
			return 0;
		} else {
			fprintf(stderr, "ring_lines: unknown argument %s\n", a);
			usage(argv[0]);
			return 2;
		}
	}
	if (burst == 0 || batch == 0 || buffers == 0 || nbufs == 0 || nbufs > 256) {
		fprintf(stderr,
			"ring_lines: --burst, --batch, --buffers must be > 0, --bufs 1..256\n");
		return 2;
	}

	uint64_t features = VTIO_FEATURE(VTIO_F_VERSION_1);
	if (event_idx)
		features |= VTIO_FEATURE(VTIO_F_EVENT_IDX);
	if (in_order)
		features |= VTIO_FEATURE(VTIO_F_IN_ORDER);
	if (layout == VTIO_LAYOUT_PACKED)
		features |= VTIO_FEATURE(VTIO_F_RING_PACKED);

	size_t need = vtio_vq_ring_size(layout, num, 4096);
	if (need == 0 || need > sizeof(ring))
		die("ring size", VTIO_EINVAL);
	struct vtio_vq_config dc = {
	    .layout = layout, .num = num, .features = features, .notify = no_notify};
	int err = vtio_vq_areas_in(layout, num, 4096, ring, (uintptr_t)ring, &dc.areas);
	struct vtio_vq *vq = NULL;
	if (err == 0)
		err = vtio_vq_init(&vq, vq_state, sizeof(vq_state), &dc);
	if (err != 0)
		die("driver queue", err);

	static const struct vtio_mem_region everything = {0, UINTPTR_MAX, NULL, VTIO_MEM_RW};
	static struct vtio_mem view;
	struct vtio_devq_config cc = {.layout = layout,
				      .num = num,
				      .features = features,
				      .desc_addr = dc.areas.desc_addr,
				      .driver_addr = dc.areas.driver_addr,
				      .device_addr = dc.areas.device_addr,
				      .mem = &view,
				      .notify = no_notify};
	struct vtio_devq *dq = NULL;
	err = vtio_mem_init(&view, &everything, 1);
	if (err == 0)
		err = vtio_devq_init(&dq, dq_state, sizeof(dq_state), &cc);
	if (err != 0)
		die("device queue", err);
	/* Nobody asks for notifications, as in poll mode. */
	vtio_vq_disable_cb(vq);
	vtio_devq_disable_notify(dq);

	struct vtio_vq_area_sizes sz;
	if (vtio_vq_area_sizes(layout, num, &sz) != 0)
		die("area sizes", VTIO_EINVAL);
	printf("area desc %" PRIxPTR " %zu\n", (uintptr_t)dc.areas.desc, sz.desc);
	printf("area driver %" PRIxPTR " %zu\n", (uintptr_t)dc.areas.driver, sz.driver);
	printf("area device %" PRIxPTR " %zu\n", (uintptr_t)dc.areas.device, sz.device);
	printf("area buffer %" PRIxPTR " %zu\n", (uintptr_t)buf, (size_t)nbufs * 64u);
	for (int m = 0; m < 4; m++)
		printf("marker %d %" PRIxPTR "\n", m, (uintptr_t)&marker[m * 64]);
	printf("layout %s in_order %d event_idx %d ring %u burst %u batch %u bufs %u buffers %lu\n",
	       layout == VTIO_LAYOUT_SPLIT ? "split" : "packed", in_order, event_idx, num, burst,
	       batch, nbufs, buffers);
	fflush(stdout);

	unsigned long total = warmup + buffers, started = 0, completed = 0;
	bool measuring = false;
	while (completed < total) {
		if (!measuring && completed >= warmup) {
			mark(M_START);
			measuring = true;
		}
		/* Driver: reap, then add up to burst buffers. */
		mark(M_DRIVER);
		while (vtio_vq_get_used(vq, NULL) != NULL)
			completed++;
		unsigned added = 0, unpublished = 0;
		while (added < burst && started < total) {
			struct vtio_sg sg = vtio_sg_of(buf + (started % nbufs) * 64u, 64);
			err = vtio_vq_add(vq, &sg, 0, 1, buf);
			if (err == VTIO_ENOSPC)
				break;
			if (err != 0)
				die("add", err);
			started++;
			added++;
			if (++unpublished == batch) {
				(void)vtio_vq_publish(vq);
				unpublished = 0;
			}
		}
		if (unpublished)
			(void)vtio_vq_publish(vq);
		/* Device: everything available, one at a time. */
		mark(M_DEVICE);
		for (;;) {
			struct vtio_iov rd[1], wr[1];
			struct vtio_devq_chain c = {.rd = rd, .rd_max = 1, .wr = wr, .wr_max = 1};
			err = vtio_devq_pop(dq, &c);
			if (err == VTIO_EAGAIN)
				break;
			if (err != 0)
				die("pop", err);
			if (vtio_devq_push(dq, &c, 1) != 0)
				die("push", VTIO_EIO);
		}
		if (vtio_vq_is_broken(vq) || vtio_devq_is_broken(dq))
			die("queue broken", VTIO_EIO);
	}
	mark(M_END);
	printf("done %lu\n", buffers);
	return 0;
}
