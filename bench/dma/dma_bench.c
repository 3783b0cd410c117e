/*
 * dma_bench: cost of the DMA stack.
 *
 *  map_unmap        ns per map+unmap pair through vtio_dma_map/unmap for:
 *                   no DMA (bus = cpu, inline), a direct layer (identity and
 *                   offset: linear stacks, mapped inline; masked: one
 *                   indirect call), 0..7 pass-through layers that implement
 *                   nothing on the map path above the masked direct layer
 *                   (fall-through: must be flat), 0..7 forwarding layers
 *                   that implement map/unmap and call prev (one indirect
 *                   call each), the window, IOMMU and debug layers.
 *  ring_round_trip  ns per buffer of a single-thread split-ring round trip
 *                   (add, kick, pop, push, notify, get_used) with a DMA
 *                   device versus no DMA, measured alternately in the same
 *                   run; prints the ratio.
 *
 * Every figure is the median of --runs runs, timed with the thread's CPU
 * clock (--wall for wall time). --json prints one object per line. --quick
 * shortens everything (smoke test).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vtio/vq.h"
#include "vtio/devq.h"
#include "vtio/dma.h"
#include "vtio/dma_layers.h"
#include "vtio/mem.h"

static int json;
static unsigned runs = 7;
static uint64_t iters = 2000000;
static uint64_t ring_iters = 1000000;

/* Thread CPU time by default: every benchmark here is single-threaded, and on
 * a shared machine CPU time is not inflated by time slices given to others.
 * --wall switches to CLOCK_MONOTONIC. */
static clockid_t clk = CLOCK_THREAD_CPUTIME_ID;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static const char *clock_name(void)
{
	return clk == CLOCK_MONOTONIC ? "wall" : "thread_cpu";
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- Layers used only here -------------------------------------------------------- */

/* Forwarding: implements map/unmap and calls the layer below. */
static int fwd_map(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		   uint32_t attrs, uint64_t *bus)
{
	return vtio_dma_prev_map(l, cpu, len, dir, attrs, bus);
}
static int fwd_unmap(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		     uint32_t attrs)
{
	return vtio_dma_prev_unmap(l, bus, len, dir, attrs);
}
static const struct vtio_dma_ops fwd_ops = {
    .name = "forward", .klass = VTIO_DMA_CLASS_PARAVIRT, .map = fwd_map, .unmap = fwd_unmap};

/* Pass-through: implements only caps (a layer that watches limits, say). */
static int pt_caps(struct vtio_dma_layer *l, struct vtio_dma_caps *out)
{
	return vtio_dma_prev_caps(l, out);
}
static const struct vtio_dma_ops pt_ops = {
    .name = "passthrough", .klass = VTIO_DMA_CLASS_PARAVIRT, .caps = pt_caps};

/* ---- map_unmap -------------------------------------------------------------------- */

static unsigned char buf[4096];
static struct vtio_dma_direct direct;
static struct vtio_dma_layer extra[8];
static struct vtio_dma_window window;
static struct vtio_dma_iommu mmu;
static uint64_t ptes[1024];
static struct vtio_dma_debug dbg;
static struct vtio_dma_debug_entry dtab[256];

static volatile uint64_t sink;

static double run_none(void)
{
	/* "No DMA": the ring's own pass-through, bus = cpu. */
	uint64_t acc = 0;
	double t0 = now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		unsigned char *p = buf + (i & 1023);
		__asm__ __volatile__("" : "+r"(p));
		acc += (uint64_t)(uintptr_t)p;
	}
	double t1 = now_ns();
	sink = acc;
	return (t1 - t0) / (double)iters;
}

static double run_dev(struct vtio_dma_dev *dev)
{
	uint64_t acc = 0;
	double t0 = now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		uint64_t bus;
		if (vtio_dma_map(dev, buf + (i & 1023), 64, VTIO_DMA_TO_DEVICE, 0, &bus) != 0 ||
		    vtio_dma_unmap(dev, bus, 64, VTIO_DMA_TO_DEVICE, 0) != 0) {
			fprintf(stderr, "map/unmap failed\n");
			exit(1);
		}
		acc += bus;
	}
	double t1 = now_ns();
	sink = acc;
	return (t1 - t0) / (double)iters;
}

enum stack {
	S_NONE,
	S_DIRECT,
	S_OFFSET,
	S_MASKED,
	S_PASS,
	S_FWD,
	S_WINDOW,
	S_IOMMU,
	S_DEBUG,
	S_DEBUG64
};
static const char *const stack_name[] = {"none",	"direct",  "direct_offset", "direct_masked",
					 "passthrough", "forward", "window",	    "iommu",
					 "debug",	"debug"};

static void build(struct vtio_dma_dev *dev, enum stack s, unsigned depth)
{
	struct vtio_dma_direct_config dc;
	memset(&dc, 0, sizeof(dc));
	if (s == S_OFFSET)
		dc.mode = VTIO_DMA_DIRECT_OFFSET, dc.offset = 0x1000;
	/* A mask makes the direct layer a real call (not linear), so the
	 * pass-through and forwarding rows measure dispatch, not the inline
	 * fast path. */
	if (s == S_MASKED || s == S_PASS || s == S_FWD)
		dc.mask = UINT64_MAX >> 1;
	vtio_dma_direct_init(&direct, &dc);
	vtio_dma_dev_init(dev);
	vtio_dma_dev_push(dev, &direct.layer);
	if (s == S_PASS || s == S_FWD) {
		for (unsigned i = 0; i < depth; i++) {
			memset(&extra[i], 0, sizeof(extra[i]));
			extra[i].ops = s == S_PASS ? &pt_ops : &fwd_ops;
			vtio_dma_dev_push(dev, &extra[i]);
		}
	} else if (s == S_WINDOW) {
		struct vtio_dma_window_config wc = {0, UINT64_MAX, false};
		vtio_dma_window_init(&window, &wc);
		vtio_dma_dev_push(dev, &window.layer);
	} else if (s == S_IOMMU) {
		struct vtio_dma_iommu_config mc;
		memset(&mc, 0, sizeof(mc));
		mc.iova_base = 1ull << 32;
		mc.npages = 1024;
		mc.table = ptes;
		vtio_dma_iommu_init(&mmu, &mc);
		vtio_dma_dev_push(dev, &mmu.layer);
	} else if (s == S_DEBUG || s == S_DEBUG64) {
		struct vtio_dma_debug_config c = {dtab, sizeof(dtab), NULL, NULL};
		vtio_dma_debug_init(&dbg, &c);
		vtio_dma_dev_push(dev, &dbg.layer);
	}
	if (vtio_dma_dev_build(dev) != 0) {
		fprintf(stderr, "build failed\n");
		exit(1);
	}
}

static void bench_map(enum stack s, unsigned depth)
{
	double v[64];
	struct vtio_dma_dev dev;
	unsigned live = 0;
	if (s != S_NONE)
		build(&dev, s, depth);
	if (s == S_DEBUG64) {
		/* 64 other mappings live: the checker's table scan grows with them. */
		static unsigned char other[64][64];
		uint64_t b;
		for (live = 0; live < 64; live++)
			vtio_dma_map(&dev, other[live], 64, VTIO_DMA_TO_DEVICE, 0, &b);
	}
	for (unsigned r = 0; r < runs; r++)
		v[r] = s == S_NONE ? run_none() : run_dev(&dev);
	double m = median(v, runs);
	if (json)
		printf("{\"bench\":\"map_unmap\",\"stack\":\"%s\",\"depth\":%u,\"live\":%u,"
		       "\"identity\":%s,\"ns_per_map\":%.2f,\"runs\":%u,\"iters\":%llu,\"clock\":"
		       "\"%s\"}\n",
		       stack_name[s], depth, live, s != S_NONE && dev.identity ? "true" : "false",
		       m, runs, (unsigned long long)iters, clock_name());
	else
		printf("map_unmap %-14s depth %u live %2u: %7.2f ns per map+unmap\n", stack_name[s],
		       depth, live, m);
}

/* ---- ring round trip ---------------------------------------------------------------- */

#define RNUM 256

struct ring {
	unsigned char *mem;
	struct vtio_mem_region reg;
	struct vtio_mem view;
	struct vtio_vq *vq;
	struct vtio_devq *dq;
	unsigned char *data;
};

static int nop_notify(void *ctx, uint32_t d)
{
	(void)ctx;
	(void)d;
	return 0;
}

static void ring_setup(struct ring *r, struct vtio_dma_dev *dma, uint64_t bus_off, uint32_t flags)
{
	size_t rs = vtio_vq_ring_size(VTIO_LAYOUT_SPLIT, RNUM, 4096);
	size_t st = vtio_vq_state_size(VTIO_LAYOUT_SPLIT, RNUM, 0, 0);
	size_t dst = vtio_devq_state_size(VTIO_LAYOUT_SPLIT, RNUM);
	size_t total = ((rs + 4095) & ~(size_t)4095) + 65536 + ((st + dst + 4095) & ~(size_t)4095);
	memset(r, 0, sizeof(*r));
	r->mem = aligned_alloc(4096, (total + 4095) & ~(size_t)4095);
	memset(r->mem, 0, total);
	unsigned char *ring = r->mem;
	r->data = r->mem + ((rs + 4095) & ~(size_t)4095);
	unsigned char *state = r->data + 65536;
	/* The device addresses everything at cpu + bus_off. */
	r->reg.addr = (uint64_t)(uintptr_t)r->mem + bus_off;
	r->reg.len = total;
	r->reg.host = r->mem;
	r->reg.perm = VTIO_MEM_RW;
	vtio_mem_init(&r->view, &r->reg, 1);

	struct vtio_vq_config vc;
	memset(&vc, 0, sizeof(vc));
	vc.layout = VTIO_LAYOUT_SPLIT;
	vc.num = RNUM;
	vc.features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM);
	vc.flags = flags;
	vtio_vq_areas_in(VTIO_LAYOUT_SPLIT, RNUM, 4096, ring, (uint64_t)(uintptr_t)ring + bus_off,
			 &vc.areas);
	vc.notify = nop_notify;
	vc.dma = dma;
	if (vtio_vq_init(&r->vq, state, st, &vc) != 0) {
		fprintf(stderr, "vq init failed\n");
		exit(1);
	}
	struct vtio_devq_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.layout = VTIO_LAYOUT_SPLIT;
	dc.num = RNUM;
	dc.features = vc.features;
	dc.desc_addr = vc.areas.desc_addr;
	dc.driver_addr = vc.areas.driver_addr;
	dc.device_addr = vc.areas.device_addr;
	dc.mem = &r->view;
	dc.notify = nop_notify;
	if (vtio_devq_init(&r->dq, state + ((st + 63) & ~(size_t)63), dst, &dc) != 0) {
		fprintf(stderr, "devq init failed\n");
		exit(1);
	}
}

static double ring_run(struct ring *r)
{
	struct vtio_iov rd[4], wr[4];
	struct vtio_devq_chain c;
	memset(&c, 0, sizeof(c));
	c.rd = rd;
	c.rd_max = 4;
	c.wr = wr;
	c.wr_max = 4;
	double t0 = now_ns();
	for (uint64_t i = 0; i < ring_iters; i++) {
		unsigned char *b = r->data + ((i & 63) << 8);
		struct vtio_sg sg[2] = {vtio_sg_of(b, 64), vtio_sg_of(b + 64, 64)};
		if (vtio_vq_add(r->vq, sg, 1, 1, b) != 0)
			goto fail;
		vtio_vq_kick(r->vq);
		if (vtio_devq_pop(r->dq, &c) != 0)
			goto fail;
		if (vtio_devq_push(r->dq, &c, 16) != 0)
			goto fail;
		vtio_devq_kick(r->dq);
		if (vtio_vq_get_used(r->vq, NULL) != b)
			goto fail;
	}
	return (now_ns() - t0) / (double)ring_iters;
fail:
	fprintf(stderr, "ring round trip failed\n");
	exit(1);
}

static void bench_ring(enum stack s)
{
	struct vtio_dma_dev dev;
	struct ring plain, mapped;
	uint64_t off = 0;
	build(&dev, s, 0);
	if (s == S_OFFSET)
		off = 0x1000;
	ring_setup(&plain, NULL, 0, 0);
	ring_setup(&mapped, &dev, off, 0);
	double a[64], b[64], ratio[64];
	/* Alternate the two so drift and frequency changes hit both alike. */
	for (unsigned r = 0; r < runs; r++) {
		a[r] = ring_run(&plain);
		b[r] = ring_run(&mapped);
		ratio[r] = b[r] / a[r];
	}
	double ma = median(a, runs), mb = median(b, runs), mr = median(ratio, runs);
	const char *name = s == S_DIRECT ? "direct" : s == S_OFFSET ? "direct_offset" : "debug";
	if (json)
		printf("{\"bench\":\"ring_round_trip\",\"layout\":\"split\",\"stack\":\"%s\","
		       "\"identity\":%s,\"ns_per_buf\":%.2f,\"nodma_ns_per_buf\":%.2f,"
		       "\"ratio\":%.4f,\"runs\":%u,\"iters\":%llu,\"clock\":\"%s\"}\n",
		       name, dev.identity ? "true" : "false", mb, ma, mr, runs,
		       (unsigned long long)ring_iters, clock_name());
	else
		printf("ring_round_trip split %-14s: %7.2f ns/buf vs no DMA %7.2f ns/buf, "
		       "ratio %.4f (median of per-run ratios)\n",
		       name, mb, ma, mr);
	free(plain.mem);
	free(mapped.mem);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--wall")) {
			clk = CLOCK_MONOTONIC;
		} else if (!strcmp(argv[i], "--quick")) {
			runs = 3;
			iters = 20000;
			ring_iters = 5000;
		} else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			runs = (unsigned)strtoul(argv[++i], NULL, 0);
			if (runs == 0 || runs > 64)
				runs = 7;
		} else {
			fprintf(stderr,
				"usage: %s [--json] [--quick] [--wall] [--runs N (1..64)]\n",
				argv[0]);
			return 2;
		}
	}
	bench_map(S_NONE, 0);
	bench_map(S_DIRECT, 0);
	bench_map(S_OFFSET, 0);
	bench_map(S_MASKED, 0);
	for (unsigned d = 0; d < VTIO_CONFIG_DMA_MAX_LAYERS; d++)
		bench_map(S_PASS, d);
	for (unsigned d = 0; d < VTIO_CONFIG_DMA_MAX_LAYERS; d++)
		bench_map(S_FWD, d);
	bench_map(S_WINDOW, 0);
	bench_map(S_IOMMU, 0);
	bench_map(S_DEBUG, 0);
	bench_map(S_DEBUG64, 0);
	bench_ring(S_DIRECT);
	bench_ring(S_OFFSET);
	bench_ring(S_DEBUG);
	return 0;
}
