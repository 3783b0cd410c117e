/* Seed 000 end to end over the shared-memory transport: a driver and a device
 * that each have their own local memory and a slow link between them, where
 * a CPU read across the link is what must never happen on the data path.
 *
 *  - Device memory (the window the device exposes, like a PCI agent's BAR):
 *    the directory, the register block, the descriptor table and the avail
 *    ring. The driver only writes there (posted writes).
 *  - Driver memory: the used ring and the buffers. The device reaches it
 *    only through a 1 GiB window (30-bit DMA mask): the driver's DMA stack
 *    is a 30-bit window layer over an on-request bounce layer over a direct
 *    layer, so buffers above 1 GiB are bounced into a pool below it.
 *  - Payloads cross with an asynchronous copy engine (a "DMA engine") that
 *    the device drives; the device CPU never reads driver memory.
 *
 * Counting views on both sides prove it per buffer: the driver makes zero
 * reads of the descriptor table and the avail ring, the device makes zero
 * CPU reads of driver memory (used ring included). Devices are added to the
 * directory at run time while the first one is running.
 * (SPLIT-DRV-14, SPLIT-DEV-4 of the checklist; DESIGN "read-free placement".) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/bounce.h"
#include "vtio/dev.h"
#include "vtio/dma.h"
#include "vtio/dma_layers.h"
#include "vtio/transport.h"
#include "vtio/transport/shm.h"
#include "tc_util.h"

#define DEVMEM_SIZE (1u << 20)
#define DRVMEM_SIZE (4u << 20)
#define DEV_BASE    0x80000000ull /* device memory, as the device addresses it */
#define DRV_BUS	    0x3fe00000ull /* driver memory: first 2 MiB below 1 GiB, rest above */
#define WIN_MASK    ((1ull << 30) - 1)
#define NUM	    64u
#define POOL_OFF    (1u << 20) /* bounce pool: drvmem [1 MiB, 2 MiB), below 1 GiB */
#define POOL_SIZE   (1u << 20)
#define HIGH_OFF    (2u << 20) /* drvmem [2 MiB, 4 MiB): above 1 GiB, must bounce */
#define SCRATCH_OFF (512u << 10)

static _Alignas(4096) unsigned char devmem[DEVMEM_SIZE];
static _Alignas(4096) unsigned char drvmem[DRVMEM_SIZE];

/* ---- the software copy engine ------------------------------------------------------------- */

struct copy_job {
	uint64_t dst, src;
	size_t len;
	void (*done)(void *, int);
	void *cookie;
};

static struct {
	struct copy_job q[256];
	unsigned head, tail;
	const struct vtio_mem *mem; /* uncounted: the engine is not the CPU */
	uint64_t bytes, jobs;
} engine;

static int engine_submit(void *ctx, uint64_t dst, uint64_t src, size_t len,
			 void (*done)(void *, int), void *cookie)
{
	(void)ctx;
	if (engine.tail - engine.head == 256)
		return VTIO_EAGAIN;
	engine.q[engine.tail++ % 256] = (struct copy_job){dst, src, len, done, cookie};
	return 0;
}

/* Complete queued copies later, in submission order (asynchronous). */
static void engine_run(void)
{
	while (engine.head != engine.tail) {
		struct copy_job j = engine.q[engine.head++ % 256];
		unsigned char buf[4096];
		int r = j.len <= sizeof(buf) ? vtio_mem_read(engine.mem, j.src, buf, j.len)
					     : VTIO_EFAULT;
		if (r == 0)
			r = vtio_mem_write(engine.mem, j.dst, buf, j.len);
		engine.bytes += j.len;
		engine.jobs++;
		j.done(j.cookie, r);
	}
}

static const struct vtio_copy_engine copy_engine = {engine_submit, NULL};

/* ---- the device type: an "add one to every byte" service using the engine ----------------- */

struct job {
	struct vtio_devq_chain c;
	struct vtio_iov rd[2], wr[2];
	uint64_t scratch; /* device-local bounce for the payload */
	bool busy;
	int stage;
};

static struct {
	struct vtio_dev dev;
	_Alignas(16) unsigned char storage[64 * 1024];
	struct vtio_devq *q;
	struct job jobs[NUM];
	uint64_t done, failed;
} D;

static void job_done(void *cookie, int result);

static void job_push(struct job *j, uint32_t len)
{
	assert_int_equal(vtio_devq_push(D.q, &j->c, len), 0);
	vtio_devq_kick(D.q);
	j->busy = false;
	D.done++;
}

static void job_done(void *cookie, int result)
{
	struct job *j = cookie;
	if (result != 0 || D.q == NULL) {
		D.failed++;
		j->busy = false;
		return;
	}
	if (j->stage == 0) {
		/* The payload is in device memory now: work on it locally. */
		unsigned char *p = devmem + (j->scratch - DEV_BASE);
		for (uint32_t i = 0; i < j->rd[0].len; i++)
			p[i] = (unsigned char)(p[i] + 1);
		j->stage = 1;
		assert_int_equal(copy_engine.submit(copy_engine.ctx, j->wr[0].addr, j->scratch,
						    j->rd[0].len, job_done, j),
				 0);
	} else {
		job_push(j, j->rd[0].len);
	}
}

static void dev_serve(void)
{
	if (D.q == NULL)
		return;
	for (;;) {
		unsigned k;
		for (k = 0; k < NUM && D.jobs[k].busy; k++)
			;
		if (k == NUM)
			return;
		struct job *j = &D.jobs[k];
		tc_chain_init(&j->c, j->rd, 2, j->wr, 2);
		int r = vtio_devq_pop(D.q, &j->c);
		if (r == VTIO_EAGAIN) {
			if (vtio_devq_enable_notify(D.q))
				return;
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(j->c.rd_num, 1);
		assert_int_equal(j->c.wr_num, 1);
		/* Accessor-only view: no pointer into remote memory. */
		assert_null(j->rd[0].ptr);
		j->busy = true;
		j->stage = 0;
		j->scratch = DEV_BASE + SCRATCH_OFF + (uint64_t)k * 4096u;
		assert_int_equal(copy_engine.submit(copy_engine.ctx, j->scratch, j->rd[0].addr,
						    j->rd[0].len, job_done, j),
				 0);
	}
}

static int dev_kick(void *ctx, uint16_t index, uint32_t data)
{
	(void)ctx;
	(void)index;
	(void)data;
	dev_serve();
	return 0;
}

static void dev_queue_state(void *ctx, uint16_t index, struct vtio_devq *q)
{
	(void)ctx;
	(void)index;
	D.q = q;
}

static const struct vtio_dev_ops dev_ops = {.kick = dev_kick, .queue_state = dev_queue_state};

/* ---- the two views and the hooks --------------------------------------------------------- */

static struct vtio_shm_dir dir;
static struct vtio_shm_dev sd, sd2;
static struct vtio_dev dev2;
static _Alignas(16) unsigned char dev2_storage[64 * 1024];
static struct vtio_shm_drv drv, drv2;

static struct vtio_mem_region dev_regions[2], drv_regions[2];
static struct vtio_mem dev_inner, drv_inner;
static struct vtio_mem_counter dev_count, drv_count;

static int dev_ring(void *ctx, uint32_t which)
{
	(void)ctx;
	(void)which;
	return 0;
}

static int drv_ring(void *ctx, uint32_t which)
{
	(void)ctx;
	(void)which;
	return 0;
}

static int drv_wait(void *ctx)
{
	(void)ctx;
	vtio_shm_dev_poll(&sd);
	if (sd2.dev)
		vtio_shm_dev_poll(&sd2);
	return 0;
}

/* Driver memory addresses: bus = DRV_BUS + offset in drvmem. */
static int drv_to_bus(void *ctx, const void *cpu, size_t len, uint64_t *bus)
{
	(void)ctx;
	const unsigned char *p = cpu;
	if (p < drvmem || p + len > drvmem + DRVMEM_SIZE)
		return VTIO_EFAULT;
	*bus = DRV_BUS + (uint64_t)(p - drvmem);
	return 0;
}

static void test_seed000_read_free_slow_link(void **state)
{
	(void)state;
	memset(devmem, 0, sizeof(devmem));
	memset(drvmem, 0, sizeof(drvmem));
	memset(&D, 0, sizeof(D));

	/* Device view: its own memory (local) and the 1 GiB window onto the
	 * driver's memory (remote), counted. */
	dev_regions[0] =
	    (struct vtio_mem_region){DRV_BUS, (1ull << 30) - DRV_BUS, drvmem, VTIO_MEM_RW};
	dev_regions[0].len = 2u << 20; /* only the part below 1 GiB exists for the device */
	dev_regions[1] = (struct vtio_mem_region){DEV_BASE, DEVMEM_SIZE, devmem, VTIO_MEM_RW};
	assert_int_equal(vtio_mem_init(&dev_inner, dev_regions, 2), 0);
	assert_int_equal(vtio_mem_counter_init(&dev_count, &dev_inner), 0);
	int remote_dev = vtio_mem_counter_watch(&dev_count, DRV_BUS, 2u << 20);
	assert_true(remote_dev >= 0);
	engine.mem = &dev_inner;
	engine.head = engine.tail = 0;
	engine.bytes = engine.jobs = 0;

	/* The device formats its memory as the window and publishes itself. */
	assert_int_equal(vtio_shm_dir_format(&dir, devmem, DEVMEM_SIZE / 2, DEV_BASE, 4), 0);
	struct vtio_shm_dir_request rq = {
	    .device_type = 42, .num_queues = 1, .bounce_size = 64u << 10, .bounce_align = 4096};
	unsigned slot;
	assert_int_equal(vtio_shm_dir_add(&dir, &rq, &slot), 0);
	struct vtio_dev_config dc = {
	    .device_id = 42,
	    .features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_EVENT_IDX),
	    .num_queues = 1,
	    .queue_max = NUM,
	    .ops = &dev_ops,
	};
	assert_int_equal(vtio_dev_init(&D.dev, D.storage, sizeof(D.storage), &dc), 0);
	struct vtio_shm_dev_config sc = {.dir = &dir,
					 .slot = slot,
					 .dev = &D.dev,
					 .mem = &dev_count.view,
					 .hooks = {dev_ring, NULL, NULL}};
	memset(&sd2, 0, sizeof(sd2));
	assert_int_equal(vtio_shm_dev_init(&sd, &sc), 0);

	/* Driver: find it, negotiate. */
	struct vtio_shm_entry_info ei;
	assert_int_equal(vtio_shm_dir_find(devmem, DEVMEM_SIZE / 2, 0, 42, &ei), 0);
	struct vtio_shm_hooks h = {drv_ring, drv_wait, NULL};
	assert_int_equal(vtio_shm_drv_init(&drv, devmem, DEVMEM_SIZE / 2, &ei, &h), 0);
	struct vtio_transport *t = vtio_shm_drv_transport(&drv);
	struct vtio_transport_negotiation n = {.supported = VTIO_FEATURE(VTIO_F_EVENT_IDX)};
	assert_int_equal(vtio_transport_negotiate(t, &n), 0);

	/* Driver DMA stack: 30-bit window -> on-request bounce -> direct. */
	static _Alignas(64) unsigned char pool_storage[64 * 1024], set_storage[4096];
	struct vtio_bounce_pool_config pc = {.base = drvmem + POOL_OFF,
					     .size = POOL_SIZE,
					     .mapping = VTIO_BOUNCE_MAP_LINEAR,
					     .dev_base = DRV_BUS + POOL_OFF};
	assert_true(vtio_bounce_pool_size(&pc) <= sizeof(pool_storage));
	struct vtio_bounce_pool *pool;
	struct vtio_bounce_set *set;
	assert_int_equal(vtio_bounce_pool_init(&pool, pool_storage, sizeof(pool_storage), &pc), 0);
	assert_int_equal(vtio_bounce_set_init(&set, set_storage, sizeof(set_storage)), 0);
	assert_int_equal(vtio_bounce_set_register(set, pool), 0);
	struct vtio_bounce_dev bd;
	vtio_bounce_dev_init(&bd, WIN_MASK);
	struct vtio_dma_direct direct;
	struct vtio_dma_direct_config ddc = {.mode = VTIO_DMA_DIRECT_CALLBACK,
					     .to_bus = drv_to_bus};
	assert_int_equal(vtio_dma_direct_init(&direct, &ddc), 0);
	struct vtio_bounce_layer bl;
	assert_int_equal(vtio_bounce_layer_init(&bl, set, &bd, VTIO_BOUNCE_LAYER_F_ON_REQUEST), 0);
	struct vtio_dma_window win;
	struct vtio_dma_window_config wc = {0, WIN_MASK, true};
	assert_int_equal(vtio_dma_window_init(&win, &wc), 0);
	struct vtio_dma_dev dma;
	vtio_dma_dev_init(&dma);
	assert_int_equal(vtio_dma_dev_push(&dma, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dma, &bl.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dma, &win.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dma), 0);

	/* Placement: descriptor table + avail ring in device memory (the
	 * entry's ring area), used ring in driver memory. */
	struct vtio_vq_area_sizes as;
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_SPLIT, NUM, &as), 0);
	void *rcpu;
	uint64_t rbus;
	size_t rsize;
	assert_int_equal(vtio_shm_drv_bounce_area(&drv, &rcpu, &rbus, &rsize), 0);
	assert_true(as.desc + 64 + as.driver <= rsize);
	struct vtio_vq_config vc = {
	    .layout = VTIO_LAYOUT_SPLIT,
	    .index = 0,
	    .num = NUM,
	    .features = vtio_transport_features(t),
	    .flags = VTIO_VQ_F_MAP,
	    .notify = vtio_transport_vq_notify_cb,
	    .notify_ctx = t,
	    .dma = &dma,
	};
	vc.areas.desc = rcpu;
	vc.areas.desc_addr = rbus;
	vc.areas.driver = (unsigned char *)rcpu + ((as.desc + 63) & ~(size_t)63);
	vc.areas.driver_addr = rbus + ((as.desc + 63) & ~(size_t)63);
	vc.areas.device = drvmem; /* used ring: driver-local, bus DRV_BUS */
	vc.areas.device_addr = DRV_BUS;
	/* Driver view of its ring areas, counted. */
	drv_regions[0] = (struct vtio_mem_region){DRV_BUS, DRVMEM_SIZE, drvmem, VTIO_MEM_RW};
	drv_regions[1] = (struct vtio_mem_region){DEV_BASE, DEVMEM_SIZE, devmem, VTIO_MEM_RW};
	assert_int_equal(vtio_mem_init(&drv_inner, drv_regions, 2), 0);
	assert_int_equal(vtio_mem_counter_init(&drv_count, &drv_inner), 0);
	int w_desc = vtio_mem_counter_watch(&drv_count, vc.areas.desc_addr, as.desc);
	int w_avail = vtio_mem_counter_watch(&drv_count, vc.areas.driver_addr, as.driver);
	int w_used = vtio_mem_counter_watch(&drv_count, vc.areas.device_addr, as.device);
	int w_remote = vtio_mem_counter_watch(&drv_count, DEV_BASE, DEVMEM_SIZE);
	vc.ring_mem = &drv_count.view;
	static _Alignas(16) unsigned char vq_state[64 * 1024];
	size_t st = vtio_vq_state_size(VTIO_LAYOUT_SPLIT, NUM, 0, 0);
	assert_true(st <= sizeof(vq_state));
	struct vtio_vq *vq;
	assert_int_equal(vtio_vq_init(&vq, vq_state, st, &vc), 0);
	assert_int_equal(vtio_transport_queue_attach(t, vq), 0);
	assert_null(D.q); /* seed 001 again: nothing before DRIVER_OK */
	assert_int_equal(vtio_transport_driver_ok(t), 0);
	assert_non_null(D.q);

	/* Start counting at the data path (devq init probes its areas once). */
	for (unsigned i = 0; i < dev_count.nranges; i++)
		dev_count.ranges[i].reads = dev_count.ranges[i].writes = 0;
	for (unsigned i = 0; i < drv_count.nranges; i++)
		drv_count.ranges[i].reads = drv_count.ranges[i].writes = 0;

	const unsigned ROUNDS = 400;
	uint64_t buffers = 0, high = 0;
	bool added = false;
	for (unsigned r = 0; r < ROUNDS; r++) {
		unsigned batch = 1 + r % 8;
		unsigned char *bufs[8];
		uint32_t lens[8];
		for (unsigned b = 0; b < batch; b++) {
			/* Alternate low (direct) and high (bounced) buffers. */
			size_t off = ((r + b) % 2 ? HIGH_OFF : 4096u) + (size_t)b * 8192u;
			high += (r + b) % 2;
			bufs[b] = drvmem + off;
			lens[b] = 1 + (r * 13u + b * 7u) % 1500u;
			for (uint32_t i = 0; i < lens[b]; i++)
				bufs[b][i] = (unsigned char)(r ^ b ^ i);
			memset(bufs[b] + 4096, 0, lens[b]);
			struct vtio_sg sg[2] = {vtio_sg_of(bufs[b], lens[b]),
						vtio_sg_of(bufs[b] + 4096, lens[b])};
			assert_int_equal(vtio_vq_add(vq, sg, 1, 1, bufs[b]), 0);
		}
		assert_int_equal(vtio_vq_kick(vq), 0);
		vtio_shm_dev_poll(&sd); /* the device's doorbell rang */
		engine_run();		/* the DMA engine completes later */
		dev_serve();
		engine_run();
		unsigned got = 0;
		void *tok;
		uint32_t len;
		do {
			while ((tok = vtio_vq_get_used(vq, &len)) != NULL) {
				unsigned b;
				for (b = 0; b < batch && bufs[b] != tok; b++)
					;
				assert_true(b < batch);
				assert_int_equal(len, lens[b]);
				for (uint32_t i = 0; i < lens[b]; i++)
					assert_int_equal(bufs[b][4096 + i],
							 (unsigned char)((r ^ b ^ i) + 1));
				got++;
			}
		} while (!vtio_vq_enable_cb(vq));
		assert_int_equal(got, batch);
		buffers += batch;

		if (r == ROUNDS / 2 && !added) {
			/* A second device appears in the directory while the first runs. */
			struct vtio_shm_dir_request rq2 = {.device_type = 43, .num_queues = 1};
			unsigned slot2;
			assert_int_equal(vtio_shm_dir_add(&dir, &rq2, &slot2), 0);
			struct vtio_dev_config dc2 = dc;
			dc2.device_id = 43;
			dc2.ops = NULL;
			assert_int_equal(
			    vtio_dev_init(&dev2, dev2_storage, sizeof(dev2_storage), &dc2), 0);
			struct vtio_shm_dev_config sc2 = {.dir = &dir,
							  .slot = slot2,
							  .dev = &dev2,
							  .hooks = {dev_ring, NULL, NULL}};
			assert_int_equal(vtio_shm_dev_init(&sd2, &sc2), 0);
			struct vtio_shm_entry_info e2;
			assert_int_equal(vtio_shm_dir_find(devmem, DEVMEM_SIZE / 2, 0, 43, &e2), 0);
			assert_int_equal(vtio_shm_drv_init(&drv2, devmem, DEVMEM_SIZE / 2, &e2, &h),
					 0);
			assert_int_equal(
			    vtio_transport_negotiate(vtio_shm_drv_transport(&drv2), &n), 0);
			assert_int_equal(vtio_dev_status(&dev2) & VTIO_STATUS_FEATURES_OK,
					 VTIO_STATUS_FEATURES_OK);
			added = true;
		}
	}
	assert_int_equal(D.done, buffers);
	assert_int_equal(D.failed, 0);
	assert_true(added);

	/* Driver: zero reads of what lives in device memory, per buffer. */
	assert_int_equal(drv_count.ranges[w_desc].reads, 0);
	assert_int_equal(drv_count.ranges[w_avail].reads, 0);
	assert_int_equal(drv_count.ranges[w_remote].reads, 0);
	assert_true(drv_count.ranges[w_desc].writes >= buffers);
	assert_true(drv_count.ranges[w_used].reads >= buffers);
	/* Device: zero CPU reads of driver memory; the used ring is only written. */
	assert_int_equal(dev_count.ranges[remote_dev].reads, 0);
	assert_true(dev_count.ranges[remote_dev].writes >= buffers);
	/* Payloads crossed by the engine, twice per buffer. */
	assert_int_equal(engine.jobs, 2 * buffers);
	/* The 30-bit window bounced the high buffers (two mappings each), only them. */
	assert_true(high > 0 && high < buffers);
	assert_int_equal(win.handed_down, 2 * high);
	struct vtio_bounce_stats bs;
	vtio_bounce_pool_get_stats(pool, &bs);
	assert_true(bs.bounced > 0);
	assert_int_equal(bs.in_use, 0);
	print_message("seed000: %llu buffers, driver remote reads %llu (%.2f/buffer), device "
		      "remote reads %llu, device remote writes %.2f/buffer, driver remote writes "
		      "%.2f/buffer, %llu mappings handed down to the bounce pool\n",
		      (unsigned long long)buffers,
		      (unsigned long long)drv_count.ranges[w_remote].reads,
		      (double)drv_count.ranges[w_remote].reads / (double)buffers,
		      (unsigned long long)dev_count.ranges[remote_dev].reads,
		      (double)dev_count.ranges[remote_dev].writes / (double)buffers,
		      (double)drv_count.ranges[w_remote].writes / (double)buffers,
		      (unsigned long long)win.handed_down);
	assert_false(vtio_vq_is_broken(vq));
	assert_int_equal(vtio_transport_reset(t), 0);
	assert_null(D.q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed000_read_free_slow_link),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
