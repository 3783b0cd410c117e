/* DMA stacks: resolution, fall-through, selective prev calls, order
 * enforcement, per-device stacks, rejection of bad stacks, seed 004's
 * hypercall ordering, and the direct layer. Checklist: FEAT-DRV-7 (every
 * address given to the device goes through the platform's DMA translation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/dma.h"
#include "vtio/dma_layers.h"
#include "dma_test_layers.h"

static struct vtio_dma_direct direct;

static void direct_identity(struct vtio_dma_direct *d)
{
	struct vtio_dma_direct_config c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(vtio_dma_direct_init(d, &c), 0);
}

static void test_fall_through_missing_ops(void **state)
{
	(void)state;
	struct vtio_dma_dev dev;
	struct trace_layer mid, top;
	char buf[64];
	uint64_t bus;

	direct_identity(&direct);
	/* mid implements sync_for_cpu only; top implements map and unmap only. */
	trace_layer_init(&mid, "mid", VTIO_DMA_CLASS_IOMMU, OPBIT(VTIO_DMA_OP_SYNC_FOR_CPU));
	trace_layer_init(&top, "top", VTIO_DMA_CLASS_PARAVIRT,
			 OPBIT(VTIO_DMA_OP_MAP) | OPBIT(VTIO_DMA_OP_UNMAP));
	top.bus_add = 0x1000;
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &mid.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &top.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_false(dev.identity);

	/* Resolution is per op, done once: top's map goes straight to direct,
	 * skipping mid, and sync_for_device resolves past everybody. */
	assert_ptr_equal(dev.impl[VTIO_DMA_OP_MAP], &top.layer);
	assert_ptr_equal(dev.impl[VTIO_DMA_OP_SYNC_FOR_CPU], &mid.layer);
	assert_ptr_equal(top.layer.prev[VTIO_DMA_OP_MAP], &direct.layer);
	assert_ptr_equal(top.layer.prev[VTIO_DMA_OP_SYNC_FOR_CPU], &mid.layer);
	assert_ptr_equal(top.layer.below, &mid.layer);
	assert_ptr_equal(mid.layer.below, &direct.layer);
	assert_null(direct.layer.below);
	assert_ptr_equal(dev.impl[VTIO_DMA_OP_ALLOC], &direct.layer);

	trace_reset();
	assert_int_equal(vtio_dma_map(&dev, buf, sizeof(buf), VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(bus, (uint64_t)(uintptr_t)buf + 0x1000);
	assert_int_equal(vtio_dma_sync_for_cpu(&dev, bus, 8, VTIO_DMA_TO_DEVICE), 0);
	assert_int_equal(vtio_dma_sync_for_device(&dev, bus, 8, VTIO_DMA_TO_DEVICE), 0);
	assert_int_equal(vtio_dma_unmap(&dev, bus, sizeof(buf), VTIO_DMA_TO_DEVICE, 0), 0);
	assert_string_equal(trace_str(), "top:map mid:sync_cpu top:unmap");

	/* Scatter lists: nobody implements map_sg, so top's map sees every segment. */
	struct vtio_dma_sg sg[3] = {{buf, 0, 8}, {buf + 8, 0, 8}, {buf + 16, 0, 8}};
	trace_reset();
	assert_int_equal(vtio_dma_map_sg(&dev, sg, 3, VTIO_DMA_FROM_DEVICE, 0), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sg[i].bus, (uint64_t)(uintptr_t)sg[i].cpu + 0x1000);
	assert_int_equal(vtio_dma_unmap_sg(&dev, sg, 3, VTIO_DMA_FROM_DEVICE, 0), 0);
	assert_string_equal(trace_str(), "top:map top:map top:map top:unmap top:unmap top:unmap");
}

static void test_map_sg_below_a_map_only_layer(void **state)
{
	(void)state;
	struct vtio_dma_dev dev;
	struct trace_layer sgl, top;
	char buf[32];

	direct_identity(&direct);
	trace_layer_init(&sgl, "sg", VTIO_DMA_CLASS_WINDOW,
			 OPBIT(VTIO_DMA_OP_MAP_SG) | OPBIT(VTIO_DMA_OP_UNMAP_SG));
	trace_layer_init(&top, "top", VTIO_DMA_CLASS_DEBUG,
			 OPBIT(VTIO_DMA_OP_MAP_SG) | OPBIT(VTIO_DMA_OP_UNMAP_SG));
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &sgl.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &top.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	struct vtio_dma_sg sg[2] = {{buf, 0, 16}, {buf + 16, 0, 16}};
	trace_reset();
	assert_int_equal(vtio_dma_map_sg(&dev, sg, 2, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(sg[1].bus, (uint64_t)(uintptr_t)(buf + 16));
	assert_int_equal(vtio_dma_unmap_sg(&dev, sg, 2, VTIO_DMA_TO_DEVICE, 0), 0);
	/* sg layers chain through map_sg; direct below maps segment by segment. */
	assert_string_equal(trace_str(), "top:map_sg sg:map_sg top:unmap_sg sg:unmap_sg");
}

static void test_map_sg_rolls_back_on_kth_failure(void **state)
{
	(void)state;
	char buf[64];
	for (unsigned k = 1; k <= 4; k++) {
		struct vtio_dma_dev dev;
		struct flaky_layer f;
		direct_identity(&direct);
		flaky_layer_init(&f, k);
		vtio_dma_dev_init(&dev);
		assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
		assert_int_equal(vtio_dma_dev_push(&dev, &f.layer), 0);
		assert_int_equal(vtio_dma_dev_build(&dev), 0);
		struct vtio_dma_sg sg[4] = {
		    {buf, 0, 16}, {buf + 16, 0, 16}, {buf + 32, 0, 16}, {buf + 48, 0, 16}};
		assert_int_equal(vtio_dma_map_sg(&dev, sg, 4, VTIO_DMA_TO_DEVICE, 0), VTIO_ENOMEM);
		/* Everything mapped before the k-th segment was unmapped. */
		assert_int_equal(f.maps, k);
		assert_int_equal(f.unmaps, k - 1);
	}
}

static void test_selective_prev(void **state)
{
	(void)state;
	struct vtio_dma_dev dev;
	struct trace_layer bot, sel;
	char small[16], big[256];
	uint64_t bus;

	/* A bottom-class tracer standing in for hardware, under a layer that
	 * handles small buffers itself (Calgary-style selective prev). */
	direct_identity(&direct);
	trace_layer_init(&bot, "bot", VTIO_DMA_CLASS_BOTTOM,
			 OPBIT(VTIO_DMA_OP_MAP) | OPBIT(VTIO_DMA_OP_UNMAP));
	trace_layer_init(&sel, "sel", VTIO_DMA_CLASS_IOMMU,
			 OPBIT(VTIO_DMA_OP_MAP) | OPBIT(VTIO_DMA_OP_UNMAP));
	sel.own_below = 64;
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &bot.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &sel.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);

	trace_reset();
	assert_int_equal(vtio_dma_map(&dev, small, sizeof(small), VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(bus, 0xabc000u);
	assert_int_equal(vtio_dma_unmap(&dev, bus, sizeof(small), VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_map(&dev, big, sizeof(big), VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(bus, (uint64_t)(uintptr_t)big);
	assert_int_equal(vtio_dma_unmap(&dev, bus, sizeof(big), VTIO_DMA_TO_DEVICE, 0), 0);
	assert_string_equal(trace_str(), "sel:map sel:unmap sel:map bot:map sel:unmap bot:unmap");
	assert_int_equal(bot.calls[VTIO_DMA_OP_MAP], 1);
}

static void test_order_enforced(void **state)
{
	(void)state;
	struct vtio_dma_dev dev;
	struct trace_layer dbg, pv, mmu, win, win2;
	trace_layer_init(&dbg, "dbg", VTIO_DMA_CLASS_DEBUG, OPS_ALL);
	trace_layer_init(&pv, "pv", VTIO_DMA_CLASS_PARAVIRT, OPS_ALL);
	trace_layer_init(&mmu, "mmu", VTIO_DMA_CLASS_IOMMU, OPS_ALL);
	trace_layer_init(&win, "win", VTIO_DMA_CLASS_WINDOW, OPS_ALL);
	trace_layer_init(&win2, "win2", VTIO_DMA_CLASS_WINDOW, OPS_ALL);
	direct_identity(&direct);

	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &mmu.layer), 0);
	/* A window (lower class) cannot go above an IOMMU ... */
	assert_int_equal(vtio_dma_dev_push(&dev, &win.layer), VTIO_EINVAL);
	/* ... nor a second bottom above anything. */
	struct vtio_dma_direct d2;
	direct_identity(&d2);
	assert_int_equal(vtio_dma_dev_push(&dev, &d2.layer), VTIO_EINVAL);
	assert_int_equal(vtio_dma_dev_push(&dev, &pv.layer), 0);
	/* The same instance twice is refused. */
	assert_int_equal(vtio_dma_dev_push(&dev, &pv.layer), VTIO_EINVAL);
	assert_int_equal(vtio_dma_dev_push(&dev, &dbg.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &mmu.layer), VTIO_EINVAL);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_int_equal(dev.nlayers, 4);
	assert_ptr_equal(dev.layers[0], &dbg.layer);
	assert_ptr_equal(dev.layers[3], &direct.layer);
	/* Built stacks are fixed. */
	assert_int_equal(vtio_dma_dev_push(&dev, &win2.layer), VTIO_EINVAL);
	assert_int_equal(vtio_dma_dev_build(&dev), VTIO_EINVAL);

	/* Equal classes stack freely. */
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &win.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &win2.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
}

static void test_bad_stacks_rejected(void **state)
{
	(void)state;
	struct vtio_dma_dev dev;
	struct trace_layer win, bot_nomap;
	struct trace_layer many[VTIO_CONFIG_DMA_MAX_LAYERS + 1];

	/* Empty. */
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_build(&dev), VTIO_ENODEV);
	/* Nothing at the bottom. */
	trace_layer_init(&win, "win", VTIO_DMA_CLASS_WINDOW, OPS_ALL);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &win.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), VTIO_ENODEV);
	/* A bottom that cannot map. */
	trace_layer_init(&bot_nomap, "b", VTIO_DMA_CLASS_BOTTOM, OPBIT(VTIO_DMA_OP_CAPS));
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &bot_nomap.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), VTIO_ENODEV);
	/* NULL layer / ops, bad class. */
	assert_int_equal(vtio_dma_dev_push(&dev, NULL), VTIO_EINVAL);
	struct vtio_dma_layer empty;
	memset(&empty, 0, sizeof(empty));
	assert_int_equal(vtio_dma_dev_push(&dev, &empty), VTIO_EINVAL);
	struct trace_layer badc;
	trace_layer_init(&badc, "bad", (enum vtio_dma_class)7, OPS_ALL);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &badc.layer), VTIO_EINVAL);
	/* Too many layers. */
	vtio_dma_dev_init(&dev);
	direct_identity(&direct);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	unsigned i;
	for (i = 0; i + 1 < VTIO_CONFIG_DMA_MAX_LAYERS; i++) {
		trace_layer_init(&many[i], "m", VTIO_DMA_CLASS_DEBUG, OPS_ALL);
		assert_int_equal(vtio_dma_dev_push(&dev, &many[i].layer), 0);
	}
	trace_layer_init(&many[i], "m", VTIO_DMA_CLASS_DEBUG, OPS_ALL);
	assert_int_equal(vtio_dma_dev_push(&dev, &many[i].layer), VTIO_E2BIG);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
}

static void test_per_device_stacks(void **state)
{
	(void)state;
	struct vtio_dma_dev a, b;
	struct vtio_dma_direct da, db;
	struct trace_layer ta;
	char buf[32];
	uint64_t bus;

	direct_identity(&da);
	direct_identity(&db);
	trace_layer_init(&ta, "a", VTIO_DMA_CLASS_DEBUG, OPS_ALL);
	vtio_dma_dev_init(&a);
	vtio_dma_dev_init(&b);
	assert_int_equal(vtio_dma_dev_push(&a, &da.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&a, &ta.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&b, &db.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&a), 0);
	assert_int_equal(vtio_dma_dev_build(&b), 0);
	/* b is a lone coherent identity direct layer: rings may skip mapping. */
	assert_true(b.identity);
	assert_false(a.identity);
	trace_reset();
	for (int i = 0; i < 10; i++) {
		assert_int_equal(vtio_dma_map(&b, buf, 32, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
		assert_int_equal(bus, (uint64_t)(uintptr_t)buf);
		assert_int_equal(vtio_dma_unmap(&b, bus, 32, VTIO_DMA_TO_DEVICE, 0), 0);
	}
	/* a's layers saw nothing of b's traffic. */
	assert_int_equal(trace_len, 0);
	assert_int_equal(ta.calls[VTIO_DMA_OP_MAP], 0);
	assert_int_equal(vtio_dma_map(&a, buf, 32, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(ta.calls[VTIO_DMA_OP_MAP], 1);
}

static void test_identity_flag(void **state)
{
	(void)state;
	struct vtio_dma_dev dev;
	struct vtio_dma_direct d;
	struct vtio_dma_direct_config c;
	struct trace_layer idle;

	/* A layer implementing nothing cannot observe a call: still identity. */
	direct_identity(&d);
	trace_layer_init(&idle, "idle", VTIO_DMA_CLASS_DEBUG, 0);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &d.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &idle.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_true(dev.identity);

	/* Offset, mask, noncoherent: not identity. */
	memset(&c, 0, sizeof(c));
	c.mode = VTIO_DMA_DIRECT_OFFSET;
	c.offset = 4096;
	assert_int_equal(vtio_dma_direct_init(&d, &c), 0);
	assert_int_equal(d.layer.flags & VTIO_DMA_LAYER_F_IDENTITY, 0);
	memset(&c, 0, sizeof(c));
	c.mask = 0xffffffffu;
	assert_int_equal(vtio_dma_direct_init(&d, &c), 0);
	assert_int_equal(d.layer.flags & VTIO_DMA_LAYER_F_IDENTITY, 0);
	memset(&c, 0, sizeof(c));
	c.noncoherent = true;
	assert_int_equal(vtio_dma_direct_init(&d, &c), 0);
	assert_int_equal(d.layer.flags & VTIO_DMA_LAYER_F_IDENTITY, 0);
	assert_non_null(d.layer.ops->sync_for_cpu);
}

static void test_linear_fast_path(void **state)
{
	(void)state;
	struct vtio_dma_dev dev;
	struct vtio_dma_direct d;
	struct vtio_dma_direct_config c;
	struct trace_layer t;
	char buf[16];
	uint64_t bus;

	/* A lone coherent offset layer: linear, computed inline. */
	memset(&c, 0, sizeof(c));
	c.mode = VTIO_DMA_DIRECT_OFFSET;
	c.offset = 0x7000;
	assert_int_equal(vtio_dma_direct_init(&d, &c), 0);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &d.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_true(dev.linear);
	assert_false(dev.identity);
	assert_int_equal(dev.linear_offset, 0x7000);
	assert_int_equal(vtio_dma_map(&dev, buf, 16, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(bus, (uint64_t)(uintptr_t)buf + 0x7000);
	/* The out-of-line path agrees. */
	uint64_t bus2;
	assert_int_equal(vtio__dma_map(&dev, buf, 16, VTIO_DMA_TO_DEVICE, 0, &bus2), 0);
	assert_int_equal(bus2, bus);
	assert_int_equal(vtio_dma_unmap(&dev, bus, 16, VTIO_DMA_TO_DEVICE, 0), 0);

	/* A layer that syncs (or maps) above it must see its calls: not linear. */
	trace_layer_init(&t, "sync", VTIO_DMA_CLASS_DEBUG, OPBIT(VTIO_DMA_OP_SYNC_FOR_CPU));
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &d.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &t.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_false(dev.linear);
	/* One that only allocates does not matter to mapping. */
	trace_layer_init(&t, "alloc", VTIO_DMA_CLASS_DEBUG,
			 OPBIT(VTIO_DMA_OP_ALLOC) | OPBIT(VTIO_DMA_OP_FREE));
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &d.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &t.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_true(dev.linear);
	/* A mask or the callback mode: real calls. */
	c.mask = 0xffffffffffull;
	assert_int_equal(vtio_dma_direct_init(&d, &c), 0);
	assert_int_equal(d.layer.flags & VTIO_DMA_LAYER_F_LINEAR, 0);
}

/* Seed 004: "what ensures that the hypercall op always gets called and also
 * that it's the last one?" Answer: class order puts the paravirtual layer
 * above the IOMMU and the bottom, so it is called first, and it decides when
 * the layers below run: before its own work on map, after it on unmap. */
static void test_hypercall_first_on_map_last_on_unmap(void **state)
{
	(void)state;
	struct vtio_dma_dev dev;
	struct trace_layer hc, mmu, hw;
	char buf[128];
	uint64_t bus;

	direct_identity(&direct);
	trace_layer_init(&hw, "hw", VTIO_DMA_CLASS_BOTTOM,
			 OPBIT(VTIO_DMA_OP_MAP) | OPBIT(VTIO_DMA_OP_UNMAP));
	trace_layer_init(&mmu, "iommu", VTIO_DMA_CLASS_IOMMU,
			 OPBIT(VTIO_DMA_OP_MAP) | OPBIT(VTIO_DMA_OP_UNMAP));
	trace_layer_init(&hc, "hypercall", VTIO_DMA_CLASS_PARAVIRT,
			 OPBIT(VTIO_DMA_OP_MAP) | OPBIT(VTIO_DMA_OP_UNMAP));
	hc.work_after_prev = 1;
	vtio_dma_dev_init(&dev);
	/* Initialisation order bottom first; a hypercall layer cannot be put below the IOMMU. */
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &hw.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &hc.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &mmu.layer), VTIO_EINVAL);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &hw.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &mmu.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &hc.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);

	trace_reset();
	assert_int_equal(vtio_dma_map(&dev, buf, sizeof(buf), VTIO_DMA_BIDIRECTIONAL, 0, &bus), 0);
	assert_string_equal(trace_str(), "hypercall:map iommu:map hw:map");
	trace_reset();
	assert_int_equal(vtio_dma_unmap(&dev, bus, sizeof(buf), VTIO_DMA_BIDIRECTIONAL, 0), 0);
	assert_string_equal(trace_str(), "iommu:unmap hw:unmap hypercall:unmap");
}

static void test_caps_chain_and_terminal_defaults(void **state)
{
	(void)state;
	struct vtio_dma_dev dev;
	struct vtio_dma_caps caps;
	struct vtio_dma_direct_config c;
	struct trace_layer bot;

	memset(&c, 0, sizeof(c));
	c.mask = (1ull << 40) - 1;
	c.max_mapping = 65536;
	assert_int_equal(vtio_dma_direct_init(&direct, &c), 0);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_int_equal(vtio_dma_caps(&dev, &caps), 0);
	assert_int_equal(caps.mask, (1ull << 40) - 1);
	assert_int_equal(caps.max_mapping, 65536);

	/* A bottom with map/unmap only: caps report no limit, syncs succeed as
	 * no-ops, alloc is not implemented by anyone. */
	trace_layer_init(&bot, "bot", VTIO_DMA_CLASS_BOTTOM,
			 OPBIT(VTIO_DMA_OP_MAP) | OPBIT(VTIO_DMA_OP_UNMAP));
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &bot.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_int_equal(vtio_dma_caps(&dev, &caps), 0);
	assert_int_equal(caps.mask, UINT64_MAX);
	assert_int_equal(vtio_dma_sync_for_cpu(&dev, 0x1000, 16, VTIO_DMA_FROM_DEVICE), 0);
	void *p;
	uint64_t b;
	assert_int_equal(vtio_dma_alloc(&dev, 64, &p, &b), VTIO_ENOSYS);
	assert_int_equal(vtio_dma_free(&dev, 64, NULL, 0), VTIO_ENOSYS);
	/* The bottom's own prev map is the terminal: ENOSYS. */
	uint64_t x;
	assert_int_equal(vtio_dma_prev_map(&bot.layer, &x, 8, VTIO_DMA_TO_DEVICE, 0, &x),
			 VTIO_ENOSYS);
}

/* ---- direct layer ---- */

static int cb_to_bus(void *ctx, const void *cpu, size_t len, uint64_t *bus)
{
	const unsigned char *base = ctx;
	const unsigned char *p = cpu;
	if (p < base || p + len > base + 4096)
		return VTIO_EFAULT;
	*bus = 0x80000000u + (uint64_t)(p - base);
	return 0;
}

static void test_direct_modes(void **state)
{
	(void)state;
	static unsigned char region[4096];
	struct vtio_dma_dev dev;
	struct vtio_dma_direct_config c;
	uint64_t bus;

	memset(&c, 0, sizeof(c));
	c.mode = VTIO_DMA_DIRECT_OFFSET;
	c.offset = 0x100000;
	assert_int_equal(vtio_dma_direct_init(&direct, &c), 0);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_false(dev.identity);
	assert_int_equal(vtio_dma_map(&dev, region, 64, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(bus, (uint64_t)(uintptr_t)region + 0x100000);

	memset(&c, 0, sizeof(c));
	c.mode = VTIO_DMA_DIRECT_CALLBACK;
	assert_int_equal(vtio_dma_direct_init(&direct, &c), VTIO_EINVAL);
	c.to_bus = cb_to_bus;
	c.xlate_ctx = region;
	c.max_mapping = 1024;
	assert_int_equal(vtio_dma_direct_init(&direct, &c), 0);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_int_equal(vtio_dma_map(&dev, region + 100, 64, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(bus, 0x80000000u + 100);
	/* The callback's refusal is the map's error; max_mapping gives EMSGSIZE. */
	assert_int_equal(vtio_dma_map(&dev, region + 4090, 64, VTIO_DMA_TO_DEVICE, 0, &bus),
			 VTIO_EFAULT);
	assert_int_equal(vtio_dma_map(&dev, region, 2048, VTIO_DMA_TO_DEVICE, 0, &bus),
			 VTIO_EMSGSIZE);

	/* Own mask: mapping ending above it fails with ERANGE. */
	c.max_mapping = 0;
	c.mask = 0x80000fffu;
	assert_int_equal(vtio_dma_direct_init(&direct, &c), 0);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_int_equal(vtio_dma_map(&dev, region + 4000, 96, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	c.mask = 0x80000ffeu;
	assert_int_equal(vtio_dma_direct_init(&direct, &c), 0);
	assert_int_equal(vtio_dma_map(&dev, region + 4000, 96, VTIO_DMA_TO_DEVICE, 0, &bus),
			 VTIO_ERANGE);
}

static void test_direct_arena(void **state)
{
	(void)state;
	static _Alignas(4096) unsigned char arena[16384];
	static uint32_t map[64];
	struct vtio_dma_dev dev;
	struct vtio_dma_direct_config c;
	void *p[4];
	uint64_t b[4];

	assert_true(vtio_dma_direct_arena_map_size(sizeof(arena), 64) <= sizeof(map));
	assert_int_equal(vtio_dma_direct_arena_map_size(sizeof(arena), 64), 32);
	memset(&c, 0, sizeof(c));
	c.mode = VTIO_DMA_DIRECT_OFFSET;
	c.offset = 0x10;
	c.arena = arena;
	c.arena_size = sizeof(arena);
	assert_int_equal(vtio_dma_direct_init(&direct, &c), VTIO_EINVAL); /* no bitmap */
	c.arena_map = map;
	assert_int_equal(vtio_dma_direct_init(&direct, &c), 0);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);

	assert_int_equal(vtio_dma_alloc(&dev, 100, &p[0], &b[0]), 0);
	assert_int_equal(b[0], (uint64_t)(uintptr_t)p[0] + 0x10);
	assert_int_equal(vtio_dma_alloc(&dev, 4096 + 6 + 8 * 256, &p[1], &b[1]), 0);
	assert_int_equal((uintptr_t)p[1] % 4096, 0); /* natural alignment, capped at 4096 */
	assert_int_equal(vtio_dma_alloc(&dev, 1000, &p[2], &b[2]), 0);
	assert_int_equal((uintptr_t)p[2] % 512, 0);
	assert_true(vtio_dma_direct_arena_in_use(&direct) >= 100 + 6150 + 1000);
	/* Blocks do not overlap. */
	memset(p[0], 1, 100);
	memset(p[1], 2, 6150);
	memset(p[2], 3, 1000);
	assert_int_equal(((unsigned char *)p[0])[99], 1);
	assert_int_equal(((unsigned char *)p[1])[6149], 2);
	/* Exhaustion, then reuse after free. */
	assert_int_equal(vtio_dma_alloc(&dev, 16384, &p[3], &b[3]), VTIO_ENOMEM);
	assert_int_equal(vtio_dma_free(&dev, 6150, p[1], b[1]), 0);
	assert_int_equal(vtio_dma_free(&dev, 6150, p[1], b[1]), VTIO_EALREADY);
	assert_int_equal(vtio_dma_free(&dev, 10, arena + 3, 0), VTIO_EINVAL);
	assert_int_equal(vtio_dma_alloc(&dev, 8192, &p[3], &b[3]), 0);
	assert_int_equal(vtio_dma_free(&dev, 8192, p[3], b[3]), 0);
	assert_int_equal(vtio_dma_free(&dev, 100, p[0], b[0]), 0);
	assert_int_equal(vtio_dma_free(&dev, 1000, p[2], b[2]), 0);
	assert_int_equal(vtio_dma_direct_arena_in_use(&direct), 0);
	assert_int_equal(vtio_dma_alloc(&dev, 0, &p[0], &b[0]), VTIO_EINVAL);
}

static int cb_alloc_calls;
static int cb_alloc(void *ctx, size_t size, void **cpu, uint64_t *bus)
{
	(void)size;
	cb_alloc_calls++;
	*cpu = ctx;
	*bus = 0x5000;
	return 0;
}
static int cb_free(void *ctx, size_t size, void *cpu, uint64_t bus)
{
	(void)size;
	cb_alloc_calls++;
	return cpu == ctx && bus == 0x5000 ? 0 : VTIO_EINVAL;
}

static void test_direct_alloc_callback(void **state)
{
	(void)state;
	static char mem[256];
	struct vtio_dma_dev dev;
	struct vtio_dma_direct_config c;
	void *p;
	uint64_t b;
	memset(&c, 0, sizeof(c));
	c.alloc = cb_alloc;
	assert_int_equal(vtio_dma_direct_init(&direct, &c), VTIO_EINVAL); /* free missing */
	c.free = cb_free;
	c.alloc_ctx = mem;
	assert_int_equal(vtio_dma_direct_init(&direct, &c), 0);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_int_equal(vtio_dma_alloc(&dev, 64, &p, &b), 0);
	assert_ptr_equal(p, mem);
	assert_int_equal(b, 0x5000);
	assert_int_equal(vtio_dma_free(&dev, 64, p, b), 0);
	assert_int_equal(cb_alloc_calls, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fall_through_missing_ops),
	    cmocka_unit_test(test_map_sg_below_a_map_only_layer),
	    cmocka_unit_test(test_map_sg_rolls_back_on_kth_failure),
	    cmocka_unit_test(test_selective_prev),
	    cmocka_unit_test(test_order_enforced),
	    cmocka_unit_test(test_bad_stacks_rejected),
	    cmocka_unit_test(test_per_device_stacks),
	    cmocka_unit_test(test_identity_flag),
	    cmocka_unit_test(test_linear_fast_path),
	    cmocka_unit_test(test_hypercall_first_on_map_last_on_unmap),
	    cmocka_unit_test(test_caps_chain_and_terminal_defaults),
	    cmocka_unit_test(test_direct_modes),
	    cmocka_unit_test(test_direct_arena),
	    cmocka_unit_test(test_direct_alloc_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
