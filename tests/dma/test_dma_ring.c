/* The DMA layers under real queues, through the public vq/devq API only:
 *  - fault injection: a flaky layer fails the k-th mapping of an add, for
 *    every k, over chains with and without an indirect table; after each the
 *    debug layer reports zero leaks and zero misuse, the ring is unchanged
 *    (num_free, nothing visible to the device) and the next add works;
 *  - the debug layer's checking view as the device's memory view, so every
 *    device access to rings and buffers is checked against live mappings
 *    and their directions over full round trips and detach;
 *  - an IOMMU stack: rings from vtio_dma_alloc() (IOVAs), buffers mapped to
 *    IOVAs, the device reading and writing through the IOMMU view; a fault
 *    when the device touches an unmapped IOVA;
 *  - a 30-bit window under a queue.
 * Split and packed (when compiled). Checklist: FEAT-DRV-7, section 15
 * (ACCESS_PLATFORM: rings and buffers carry translated bus addresses),
 * INDIR-DRV-9 / INDIR-DRV-10 (the indirect table is device-readable memory,
 * mapped TO_DEVICE while the buffer is exposed: the debug view checks every
 * device read of it), SPLIT-DRV-1 / PACKED-DRV-1 (ring areas from
 * vtio_dma_alloc() are suitably aligned bus addresses). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/vq.h"
#include "vtio/devq.h"
#include "vtio/dma.h"
#include "vtio/dma_layers.h"
#include "vtio/mem.h"
#include "dma_test_layers.h"
#include "ring_layouts.h"
#include "tc_util.h"

#define NUM	   8
#define ARENA	   (256 * 1024)
#define MODERN	   (VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM))
#define RING_ALIGN 4096

/* Host memory the device may reach (below any IOMMU): one block holding the
 * direct layer's arena (rings) and the data buffers. */
static _Alignas(4096) unsigned char host[2 * ARENA];
static unsigned char *const arena = host;
static unsigned char *const bufs = host + ARENA;
static uint32_t arena_map[ARENA / 64 / 32];

struct rt {
	struct vtio_vq *vq;
	struct vtio_devq *dq;
	void *ring_cpu;
	uint64_t ring_bus;
	size_t ring_size;
	void *vq_state, *dq_state;
	struct vtio_iov rd[16], wr[16];
	unsigned kicks, irqs;
	struct vtio_vq_areas areas;
};

static int kick_cb(void *ctx, uint32_t data)
{
	(void)data;
	((struct rt *)ctx)->kicks++;
	return 0;
}

static int irq_cb(void *ctx, uint32_t data)
{
	(void)data;
	((struct rt *)ctx)->irqs++;
	return 0;
}

static void direct_arena(struct vtio_dma_direct *d, enum vtio_dma_direct_mode mode, uint64_t off)
{
	struct vtio_dma_direct_config c;
	memset(&c, 0, sizeof(c));
	c.mode = mode;
	c.offset = off;
	c.arena = arena;
	c.arena_size = ARENA;
	c.arena_map = arena_map;
	assert_true(vtio_dma_direct_arena_map_size(ARENA, 0) <= sizeof(arena_map));
	assert_int_equal(vtio_dma_direct_init(d, &c), 0);
}

/* Queue pair: ring memory from the DMA device, the device over @p view. */
static int rt_setup(struct rt *r, enum vtio_layout layout, uint64_t features, uint32_t ntables,
		    uint32_t flags, struct vtio_dma_dev *dma, const struct vtio_mem *view)
{
	memset(r, 0, sizeof(*r));
	r->ring_size = vtio_vq_ring_size(layout, NUM, RING_ALIGN);
	int err = vtio_dma_alloc(dma, r->ring_size, &r->ring_cpu, &r->ring_bus);
	if (err != 0)
		return err;
	struct vtio_vq_config vc;
	memset(&vc, 0, sizeof(vc));
	vc.layout = layout;
	vc.num = NUM;
	vc.features = features;
	vc.flags = flags;
	assert_int_equal(
	    vtio_vq_areas_in(layout, NUM, RING_ALIGN, r->ring_cpu, r->ring_bus, &vc.areas), 0);
	r->areas = vc.areas;
	vc.indirect_tables = ntables;
	vc.indirect_max = ntables ? 8 : 0;
	vc.notify = kick_cb;
	vc.notify_ctx = r;
	vc.dma = dma;
	size_t st = vtio_vq_state_size(layout, NUM, vc.indirect_tables, vc.indirect_max);
	/* The state holds the indirect tables, which the device reads: keep it
	 * in memory the device's view covers. */
	assert_true(st <= 65536);
	r->vq_state = bufs + 65536;
	assert_int_equal(vtio_vq_init(&r->vq, r->vq_state, st, &vc), 0);

	struct vtio_devq_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.layout = layout;
	dc.num = NUM;
	dc.features = features;
	dc.desc_addr = vc.areas.desc_addr;
	dc.driver_addr = vc.areas.driver_addr;
	dc.device_addr = vc.areas.device_addr;
	dc.mem = view;
	dc.notify = irq_cb;
	dc.notify_ctx = r;
	size_t dst = vtio_devq_state_size(layout, NUM);
	r->dq_state = aligned_alloc(64, (dst + 63) & ~(size_t)63);
	assert_int_equal(vtio_devq_init(&r->dq, r->dq_state, dst, &dc), 0);
	return 0;
}

static void rt_teardown(struct rt *r, struct vtio_dma_dev *dma)
{
	assert_int_equal(vtio_dma_free(dma, r->ring_size, r->ring_cpu, r->ring_bus), 0);
	free(r->dq_state);
}

static void chain_init(struct rt *r, struct vtio_devq_chain *c)
{
	tc_chain_init(c, r->rd, 16, r->wr, 16);
}

/* One full round trip: 3 readable segments carrying a pattern, 2 writable
 * ones the device fills; returns 0 or the first error (asserting on data). */
static void round_trip(struct rt *r, unsigned char *b, void *token, unsigned seed)
{
	for (unsigned i = 0; i < 96; i++)
		b[i] = (unsigned char)(seed + i);
	memset(b + 96, 0, 64);
	struct vtio_sg sg[5] = {vtio_sg_of(b, 32), vtio_sg_of(b + 32, 32), vtio_sg_of(b + 64, 32),
				vtio_sg_of(b + 96, 40), vtio_sg_of(b + 136, 24)};
	uint32_t before = vtio_vq_num_free(r->vq);
	assert_int_equal(vtio_vq_add(r->vq, sg, 3, 2, token), 0);
	vtio_vq_kick(r->vq);
	struct vtio_devq_chain c;
	chain_init(r, &c);
	assert_int_equal(vtio_devq_pop(r->dq, &c), 0);
	assert_int_equal(c.rd_len, 96);
	assert_int_equal(c.wr_len, 64);
	unsigned char got[96];
	assert_int_equal(vtio_devq_read(r->dq, &c, 0, got, 96), 96);
	for (unsigned i = 0; i < 96; i++)
		assert_int_equal(got[i], (unsigned char)(seed + i));
	unsigned char reply[64];
	for (unsigned i = 0; i < 64; i++)
		reply[i] = (unsigned char)(~(seed + i));
	assert_int_equal(vtio_devq_write(r->dq, &c, 0, reply, 64), 64);
	assert_int_equal(vtio_devq_push(r->dq, &c, 64), 0);
	vtio_devq_kick(r->dq);
	uint32_t len = 0;
	assert_ptr_equal(vtio_vq_get_used(r->vq, &len), token);
	assert_int_equal(len, 64);
	assert_memory_equal(b + 96, reply, 64);
	assert_int_equal(vtio_vq_num_free(r->vq), before);
}

/* ---- Fault injection under the debug layer ------------------------------------- */

static void test_flaky_kth_map_every_k_debug_clean(void **state)
{
	(void)state;
	struct vtio_mem_region reg = {(uint64_t)(uintptr_t)host, sizeof(host), host, VTIO_MEM_RW};
	struct vtio_mem hostmem;
	assert_int_equal(vtio_mem_init(&hostmem, &reg, 1), 0);

	for (size_t li = 0; li < FX_NLAYOUTS; li++) {
		for (int ind = 0; ind < 2; ind++) {
			/* Maps per add: 5 segments, plus the table when indirect. */
			unsigned nmaps = 5 + (unsigned)ind;
			for (unsigned k = 1; k <= nmaps; k++) {
				static struct vtio_dma_debug_entry tab[64];
				struct vtio_dma_direct direct;
				struct flaky_layer flaky;
				struct vtio_dma_debug dbg;
				struct vtio_dma_debug_mem dview;
				struct vtio_dma_dev dev;
				struct vtio_dma_debug_config dcfg = {tab, sizeof(tab), NULL, NULL};
				direct_arena(&direct, VTIO_DMA_DIRECT_IDENTITY, 0);
				flaky_layer_init(&flaky, 0);
				assert_int_equal(vtio_dma_debug_init(&dbg, &dcfg), 0);
				vtio_dma_dev_init(&dev);
				assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
				assert_int_equal(vtio_dma_dev_push(&dev, &flaky.layer), 0);
				assert_int_equal(vtio_dma_dev_push(&dev, &dbg.layer), 0);
				assert_int_equal(vtio_dma_dev_build(&dev), 0);
				assert_int_equal(vtio_dma_debug_mem_init(&dview, &dbg, &hostmem),
						 0);

				struct rt r;
				uint64_t feat =
				    MODERN | (ind ? VTIO_FEATURE(VTIO_F_INDIRECT_DESC) : 0);
				assert_int_equal(rt_setup(&r, fx_layouts[li].layout, feat,
							  ind ? 2 : 0, 0, &dev, &dview.view),
						 0);
				size_t base_live = vtio_dma_debug_live(&dbg); /* the ring */
				assert_int_equal(base_live, 1);

				/* A first buffer in flight, so the failure happens mid-ring. */
				round_trip(&r, bufs, (void *)1, 1);
				unsigned char *b = bufs + 512;
				struct vtio_sg sg[5] = {vtio_sg_of(b, 32), vtio_sg_of(b + 32, 32),
							vtio_sg_of(b + 64, 32),
							vtio_sg_of(b + 96, 40),
							vtio_sg_of(b + 136, 24)};
				uint32_t free0 = vtio_vq_num_free(r.vq);
				flaky.fail_at = flaky.maps + k;
				assert_int_equal(vtio_vq_add(r.vq, sg, 3, 2, (void *)2),
						 VTIO_ENOMEM);
				assert_int_equal(flaky.failed, 1);
				assert_int_equal(flaky.maps - flaky.unmaps, 1 + base_live - 1);
				/* Nothing leaked, nothing misused, the ring is unchanged. */
				assert_int_equal(vtio_dma_debug_live(&dbg), base_live);
				assert_int_equal(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_OK), 0);
				assert_int_equal(vtio_vq_num_free(r.vq), free0);
				assert_false(vtio_vq_kick_prepare(r.vq));
				struct vtio_devq_chain c;
				chain_init(&r, &c);
				assert_int_equal(vtio_devq_pop(r.dq, &c), VTIO_EAGAIN);
				assert_null(vtio_vq_detach_unused(r.vq));
				/* The next add works, end to end. */
				round_trip(&r, b, (void *)3, 7 * k);
				/* Detach unmaps too. */
				assert_int_equal(vtio_vq_add(r.vq, sg, 3, 2, (void *)4), 0);
				assert_int_equal(vtio_dma_debug_live(&dbg), base_live + nmaps);
				assert_ptr_equal(vtio_vq_detach_unused(r.vq), (void *)4);
				assert_int_equal(vtio_dma_debug_live(&dbg), base_live);

				rt_teardown(&r, &dev);
				assert_int_equal(vtio_dma_debug_check_leaks(&dbg), 0);
				assert_int_equal(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_OK), 0);
				assert_int_equal(vtio_dma_direct_arena_in_use(&direct), 0);
			}
		}
	}
}

/* The debug view catches a device touching a buffer after it came back. */
static void test_debug_view_catches_device_use_after_unmap(void **state)
{
	(void)state;
	static struct vtio_dma_debug_entry tab[64];
	struct vtio_mem_region reg = {(uint64_t)(uintptr_t)host, sizeof(host), host, VTIO_MEM_RW};
	struct vtio_mem hostmem;
	assert_int_equal(vtio_mem_init(&hostmem, &reg, 1), 0);
	for (size_t li = 0; li < FX_NLAYOUTS; li++) {
		struct vtio_dma_direct direct;
		struct vtio_dma_debug dbg;
		struct vtio_dma_debug_mem dview;
		struct vtio_dma_dev dev;
		struct vtio_dma_debug_config dcfg = {tab, sizeof(tab), NULL, NULL};
		direct_arena(&direct, VTIO_DMA_DIRECT_IDENTITY, 0);
		assert_int_equal(vtio_dma_debug_init(&dbg, &dcfg), 0);
		vtio_dma_dev_init(&dev);
		assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
		assert_int_equal(vtio_dma_dev_push(&dev, &dbg.layer), 0);
		assert_int_equal(vtio_dma_dev_build(&dev), 0);
		assert_int_equal(vtio_dma_debug_mem_init(&dview, &dbg, &hostmem), 0);
		struct rt r;
		assert_int_equal(
		    rt_setup(&r, fx_layouts[li].layout, MODERN, 0, 0, &dev, &dview.view), 0);

		struct vtio_sg sg[2] = {vtio_sg_of(bufs, 16), vtio_sg_of(bufs + 16, 16)};
		assert_int_equal(vtio_vq_add(r.vq, sg, 1, 1, (void *)1), 0);
		vtio_vq_kick(r.vq);
		struct vtio_devq_chain c;
		chain_init(&r, &c);
		assert_int_equal(vtio_devq_pop(r.dq, &c), 0);
		assert_int_equal(vtio_devq_push(r.dq, &c, 0), 0);
		assert_ptr_equal(vtio_vq_get_used(r.vq, NULL), (void *)1);
		assert_int_equal(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_OK), 0);
		/* A buggy device keeps the address of a returned buffer and writes to it
		 * later through its memory view: the checker refuses and reports it. */
		assert_int_equal(vtio_mem_write(&dview.view, c.wr[0].addr, "late", 4), VTIO_EFAULT);
		assert_int_equal(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_USE_AFTER_UNMAP), 1);
		assert_int_equal(dbg.last.map_bus, c.wr[0].addr);
		rt_teardown(&r, &dev);
		assert_int_equal(vtio_dma_debug_check_leaks(&dbg), 0);
	}
}

/* ---- IOMMU under a queue ---------------------------------------------------------- */

#define IOVA_BASE 0x40000000ull
#define IOPAGES	  256

/* A queue's DMA stack with an IOMMU over the direct arena, and the device's
 * IOVA view over host memory. */
struct iommu_env {
	uint64_t pt[IOPAGES];
	struct vtio_mem_region reg;
	struct vtio_mem hostmem;
	struct vtio_dma_direct direct;
	struct vtio_dma_iommu mmu;
	struct vtio_dma_iommu_mem iview;
	struct vtio_dma_dev dev;
};

static void iommu_env_init(struct iommu_env *e)
{
	memset(e, 0, sizeof(*e));
	e->reg =
	    (struct vtio_mem_region){(uint64_t)(uintptr_t)host, sizeof(host), host, VTIO_MEM_RW};
	assert_int_equal(vtio_mem_init(&e->hostmem, &e->reg, 1), 0);
	struct vtio_dma_iommu_config mc;
	memset(&mc, 0, sizeof(mc));
	mc.iova_base = IOVA_BASE;
	mc.npages = IOPAGES;
	mc.table = e->pt;
	direct_arena(&e->direct, VTIO_DMA_DIRECT_IDENTITY, 0);
	assert_int_equal(vtio_dma_iommu_init(&e->mmu, &mc), 0);
	vtio_dma_dev_init(&e->dev);
	assert_int_equal(vtio_dma_dev_push(&e->dev, &e->direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&e->dev, &e->mmu.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&e->dev), 0);
	/* The device sees IOVAs only; below them, host memory. */
	assert_int_equal(vtio_dma_iommu_mem_init(&e->iview, &e->mmu, &e->hostmem), 0);
}

static void test_iommu_round_trip_and_fault(void **state)
{
	(void)state;
	for (size_t li = 0; li < FX_NLAYOUTS; li++) {
		for (int ind = 0; ind < 2; ind++) {
			static struct iommu_env e;
			iommu_env_init(&e);
			struct rt r;
			uint64_t feat = MODERN | (ind ? VTIO_FEATURE(VTIO_F_INDIRECT_DESC) : 0);
			assert_int_equal(rt_setup(&r, fx_layouts[li].layout, feat, ind ? 2 : 0, 0,
						  &e.dev, &e.iview.view),
					 0);
			/* Ring areas are IOVAs. */
			assert_true(r.ring_bus >= IOVA_BASE &&
				    r.ring_bus < IOVA_BASE + IOPAGES * 4096ull);
			size_t ring_pages = vtio_dma_iommu_pages_used(&e.mmu);
			for (unsigned i = 0; i < 3 * NUM; i++)
				round_trip(&r, bufs + 1024 * (i % 4), (void *)(uintptr_t)(i + 1),
					   i);
			assert_int_equal(e.mmu.faults, 0);
			assert_int_equal(vtio_dma_iommu_pages_used(&e.mmu), ring_pages);

			/* The device keeps an IOVA of a returned buffer and uses it: fault. */
			struct vtio_sg sg[2] = {vtio_sg_of(bufs, 16), vtio_sg_of(bufs + 16, 16)};
			assert_int_equal(vtio_vq_add(r.vq, sg, 1, 1, (void *)9), 0);
			vtio_vq_kick(r.vq);
			struct vtio_devq_chain c;
			chain_init(&r, &c);
			assert_int_equal(vtio_devq_pop(r.dq, &c), 0);
			uint64_t stale = c.wr[0].addr;
			assert_true(stale >= IOVA_BASE);
			assert_int_equal(vtio_devq_push(r.dq, &c, 0), 0);
			assert_ptr_equal(vtio_vq_get_used(r.vq, NULL), (void *)9);
			assert_int_equal(vtio_mem_write(&e.iview.view, stale, "x", 1), VTIO_EFAULT);
			assert_int_equal(e.mmu.faults, 1);
			assert_int_equal(e.mmu.last.iova, stale);
			assert_int_equal(e.mmu.last.err, VTIO_EFAULT);
			/* And a write into a device-readable buffer is refused too. */
			assert_int_equal(vtio_vq_add(r.vq, sg, 1, 1, (void *)10), 0);
			vtio_vq_kick(r.vq);
			chain_init(&r, &c);
			assert_int_equal(vtio_devq_pop(r.dq, &c), 0);
			assert_int_equal(vtio_mem_write(&e.iview.view, c.rd[0].addr, "x", 1),
					 VTIO_EACCES);
			assert_int_equal(e.mmu.faults, 2);
			assert_int_equal(vtio_devq_push(r.dq, &c, 0), 0);
			assert_ptr_equal(vtio_vq_get_used(r.vq, NULL), (void *)10);

			rt_teardown(&r, &e.dev);
			assert_int_equal(vtio_dma_iommu_pages_used(&e.mmu), 0);
			assert_int_equal(vtio_dma_direct_arena_in_use(&e.direct), 0);
		}
	}
}

/* Premapped: the caller maps through the IOMMU itself; an IOVA it never
 * mapped makes the device fault instead of reading memory. */
static void test_iommu_premapped_unmapped_iova_faults(void **state)
{
	(void)state;
	for (size_t li = 0; li < FX_NLAYOUTS; li++) {
		static struct iommu_env e;
		iommu_env_init(&e);
		struct rt r;
		assert_int_equal(rt_setup(&r, fx_layouts[li].layout, MODERN, 0, VTIO_VQ_F_PREMAPPED,
					  &e.dev, &e.iview.view),
				 0);

		uint64_t iova;
		memcpy(bufs, "premapped", 9);
		assert_int_equal(vtio_dma_map(&e.dev, bufs, 9, VTIO_DMA_TO_DEVICE, 0, &iova), 0);
		struct vtio_sg sg[1] = {{iova, 9}};
		assert_int_equal(vtio_vq_add(r.vq, sg, 1, 0, (void *)1), 0);
		vtio_vq_kick(r.vq);
		struct vtio_devq_chain c;
		chain_init(&r, &c);
		assert_int_equal(vtio_devq_pop(r.dq, &c), 0);
		char got[9];
		assert_int_equal(vtio_devq_read(r.dq, &c, 0, got, 9), 9);
		assert_memory_equal(got, "premapped", 9);
		assert_int_equal(vtio_devq_push(r.dq, &c, 0), 0);
		assert_ptr_equal(vtio_vq_get_used(r.vq, NULL), (void *)1);
		assert_int_equal(vtio_dma_unmap(&e.dev, iova, 9, VTIO_DMA_TO_DEVICE, 0), 0);

		/* Never mapped: the device's access faults. */
		struct vtio_sg bad[1] = {{IOVA_BASE + 200 * 4096ull, 9}};
		assert_int_equal(vtio_vq_add(r.vq, bad, 1, 0, (void *)2), 0);
		vtio_vq_kick(r.vq);
		chain_init(&r, &c);
		int err = vtio_devq_pop(r.dq, &c);
		if (err == 0)
			assert_true(vtio_devq_read(r.dq, &c, 0, got, 9) < 0);
		else
			assert_int_equal(err, VTIO_EFAULT);
		assert_true(e.mmu.faults >= 1);
		assert_int_equal(e.mmu.last.iova, IOVA_BASE + 200 * 4096ull);
		if (err == 0) {
			assert_int_equal(vtio_devq_push(r.dq, &c, 0), 0);
			assert_ptr_equal(vtio_vq_get_used(r.vq, NULL), (void *)2);
		}
		rt_teardown(&r, &e.dev);
	}
}

/* ---- 30-bit window under a queue --------------------------------------------------- */

static void test_window_30bit_queue(void **state)
{
	(void)state;
	for (size_t li = 0; li < FX_NLAYOUTS; li++) {
		/* Bus address of host[] is 0x1000: everything fits under 2^30. */
		uint64_t off = 0x1000 - (uint64_t)(uintptr_t)host;
		struct vtio_mem_region reg = {0x1000, sizeof(host), host, VTIO_MEM_RW};
		struct vtio_mem busmem;
		assert_int_equal(vtio_mem_init(&busmem, &reg, 1), 0);
		struct vtio_dma_direct direct;
		struct vtio_dma_window win;
		struct vtio_dma_window_config wc = {0, (1ull << 30) - 1, false};
		struct vtio_dma_dev dev;
		direct_arena(&direct, VTIO_DMA_DIRECT_OFFSET, off);
		assert_int_equal(vtio_dma_window_init(&win, &wc), 0);
		vtio_dma_dev_init(&dev);
		assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
		assert_int_equal(vtio_dma_dev_push(&dev, &win.layer), 0);
		assert_int_equal(vtio_dma_dev_build(&dev), 0);
		struct rt r;
		assert_int_equal(rt_setup(&r, fx_layouts[li].layout, MODERN, 0, 0, &dev, &busmem),
				 0);
		assert_true(r.ring_bus < (1ull << 30));
		round_trip(&r, bufs, (void *)1, 3);
		round_trip(&r, bufs + 4096, (void *)2, 4);

		/* A buffer outside host[] lands far above 2^30 on this bus. */
		static unsigned char far[64];
		uint32_t free0 = vtio_vq_num_free(r.vq);
		struct vtio_sg sg[2] = {vtio_sg_of(bufs, 16), vtio_sg_of(far, 16)};
		if ((uint64_t)(uintptr_t)far + off >= (1ull << 30)) {
			assert_int_equal(vtio_vq_add(r.vq, sg, 1, 1, (void *)3), VTIO_ERANGE);
			assert_int_equal(vtio_vq_num_free(r.vq), free0);
			assert_int_equal(win.rejected, 1);
		}
		round_trip(&r, bufs, (void *)4, 5);
		rt_teardown(&r, &dev);
		assert_int_equal(vtio_dma_direct_arena_in_use(&direct), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flaky_kth_map_every_k_debug_clean),
	    cmocka_unit_test(test_debug_view_catches_device_use_after_unmap),
	    cmocka_unit_test(test_iommu_round_trip_and_fault),
	    cmocka_unit_test(test_iommu_premapped_unmapped_iova_faults),
	    cmocka_unit_test(test_window_30bit_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
