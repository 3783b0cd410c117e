/* Debug layer: one test per misuse class (leak, double unmap, unknown unmap,
 * unmap size / direction, sync of unmapped / wrong range / wrong direction,
 * use after unmap, device access unmapped / against direction, bad free,
 * table full), and a clean run reporting nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/dma.h"
#include "vtio/dma_layers.h"
#include "vtio/mem.h"

static struct vtio_dma_direct direct;
static struct vtio_dma_debug dbg;
static struct vtio_dma_debug_entry table[8];
static struct vtio_dma_dev dev;
static unsigned char mem[8192];
static struct vtio_dma_debug_report reports[32];
static unsigned nreports;

static void on_report(void *ctx, const struct vtio_dma_debug_report *r)
{
	assert_ptr_equal(ctx, &dbg);
	if (nreports < 32)
		reports[nreports++] = *r;
}

static int setup(void **state)
{
	(void)state;
	struct vtio_dma_direct_config dc;
	struct vtio_dma_debug_config c;
	memset(&dc, 0, sizeof(dc));
	if (vtio_dma_direct_init(&direct, &dc) != 0)
		return -1;
	memset(&c, 0, sizeof(c));
	c.table = table;
	c.table_size = vtio_dma_debug_table_size(8);
	c.report = on_report;
	c.report_ctx = &dbg;
	if (vtio_dma_debug_init(&dbg, &c) != 0)
		return -1;
	vtio_dma_dev_init(&dev);
	if (vtio_dma_dev_push(&dev, &direct.layer) || vtio_dma_dev_push(&dev, &dbg.layer) ||
	    vtio_dma_dev_build(&dev))
		return -1;
	nreports = 0;
	return 0;
}

static uint64_t map(void *p, size_t len, enum vtio_dma_dir dir)
{
	uint64_t bus;
	assert_int_equal(vtio_dma_map(&dev, p, len, dir, 0, &bus), 0);
	return bus;
}

static void expect_only(enum vtio_dma_debug_kind kind, uint64_t n)
{
	assert_int_equal(vtio_dma_debug_count(&dbg, kind), n);
	assert_int_equal(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_OK), n);
	assert_int_equal(nreports, n);
	assert_int_equal(dbg.last.kind, kind);
	assert_int_equal(reports[nreports - 1].kind, kind);
}

static void test_clean_run_reports_nothing(void **state)
{
	(void)state;
	uint64_t a = map(mem, 100, VTIO_DMA_TO_DEVICE);
	uint64_t b = map(mem + 200, 100, VTIO_DMA_FROM_DEVICE);
	/* The same buffer mapped twice is legal. */
	uint64_t c = map(mem, 100, VTIO_DMA_BIDIRECTIONAL);
	assert_int_equal(vtio_dma_debug_live(&dbg), 3);
	assert_int_equal(vtio_dma_sync_for_device(&dev, a + 10, 50, VTIO_DMA_TO_DEVICE), 0);
	assert_int_equal(vtio_dma_sync_for_cpu(&dev, b, 100, VTIO_DMA_FROM_DEVICE), 0);
	assert_int_equal(vtio_dma_unmap(&dev, c, 100, VTIO_DMA_BIDIRECTIONAL, 0), 0);
	assert_int_equal(vtio_dma_unmap(&dev, a, 100, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_unmap(&dev, b, 100, VTIO_DMA_FROM_DEVICE, 0), 0);
	void *p;
	uint64_t pb;
	struct vtio_dma_sg sg[2] = {{mem, 0, 10}, {mem + 10, 0, 10}};
	assert_int_equal(vtio_dma_map_sg(&dev, sg, 2, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_debug_live(&dbg), 2); /* each segment tracked */
	assert_int_equal(vtio_dma_unmap_sg(&dev, sg, 2, VTIO_DMA_TO_DEVICE, 0), 0);
	(void)p;
	(void)pb;
	/* Many more mappings than table entries, one at a time: tombstones recycle. */
	for (int i = 0; i < 100; i++) {
		uint64_t x = map(mem + i, 16, VTIO_DMA_TO_DEVICE);
		assert_int_equal(vtio_dma_unmap(&dev, x, 16, VTIO_DMA_TO_DEVICE, 0), 0);
	}
	assert_int_equal(vtio_dma_debug_check_leaks(&dbg), 0);
	assert_int_equal(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_OK), 0);
	assert_int_equal(nreports, 0);
}

static void test_leak_at_teardown(void **state)
{
	(void)state;
	uint64_t a = map(mem, 64, VTIO_DMA_TO_DEVICE);
	uint64_t b = map(mem + 64, 32, VTIO_DMA_FROM_DEVICE);
	assert_int_equal(vtio_dma_unmap(&dev, a, 64, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_debug_check_leaks(&dbg), 1);
	expect_only(VTIO_DMA_DEBUG_LEAK, 1);
	assert_int_equal(reports[0].bus, b);
	assert_int_equal(reports[0].len, 32);
	assert_int_equal(reports[0].map_dir, VTIO_DMA_FROM_DEVICE);
}

static void test_double_unmap(void **state)
{
	(void)state;
	uint64_t a = map(mem, 64, VTIO_DMA_TO_DEVICE);
	assert_int_equal(vtio_dma_unmap(&dev, a, 64, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_unmap(&dev, a, 64, VTIO_DMA_TO_DEVICE, 0), VTIO_EALREADY);
	expect_only(VTIO_DMA_DEBUG_DOUBLE_UNMAP, 1);
	assert_int_equal(reports[0].map_bus, a);
}

static void test_unmap_unknown(void **state)
{
	(void)state;
	assert_int_equal(vtio_dma_unmap(&dev, 0x1234, 64, VTIO_DMA_TO_DEVICE, 0), VTIO_ENOENT);
	expect_only(VTIO_DMA_DEBUG_UNMAP_UNKNOWN, 1);
	assert_int_equal(reports[0].bus, 0x1234);
}

static void test_unmap_wrong_size(void **state)
{
	(void)state;
	uint64_t a = map(mem, 64, VTIO_DMA_TO_DEVICE);
	assert_int_equal(vtio_dma_unmap(&dev, a, 32, VTIO_DMA_TO_DEVICE, 0), 0);
	expect_only(VTIO_DMA_DEBUG_UNMAP_SIZE, 1);
	assert_int_equal(reports[0].len, 32);
	assert_int_equal(reports[0].map_len, 64);
	assert_int_equal(vtio_dma_debug_live(&dbg), 0);
}

static void test_unmap_wrong_direction(void **state)
{
	(void)state;
	uint64_t a = map(mem, 64, VTIO_DMA_TO_DEVICE);
	assert_int_equal(vtio_dma_unmap(&dev, a, 64, VTIO_DMA_FROM_DEVICE, 0), 0);
	expect_only(VTIO_DMA_DEBUG_UNMAP_DIR, 1);
	assert_int_equal(reports[0].dir, VTIO_DMA_FROM_DEVICE);
	assert_int_equal(reports[0].map_dir, VTIO_DMA_TO_DEVICE);
}

static void test_sync_unmapped(void **state)
{
	(void)state;
	assert_int_equal(vtio_dma_sync_for_cpu(&dev, 0x5000, 16, VTIO_DMA_FROM_DEVICE),
			 VTIO_EFAULT);
	expect_only(VTIO_DMA_DEBUG_SYNC_UNMAPPED, 1);
}

static void test_sync_wrong_range(void **state)
{
	(void)state;
	uint64_t a = map(mem, 64, VTIO_DMA_BIDIRECTIONAL);
	assert_int_equal(vtio_dma_sync_for_device(&dev, a + 32, 32, VTIO_DMA_BIDIRECTIONAL), 0);
	assert_int_equal(vtio_dma_sync_for_device(&dev, a + 32, 33, VTIO_DMA_BIDIRECTIONAL),
			 VTIO_ERANGE);
	expect_only(VTIO_DMA_DEBUG_SYNC_RANGE, 1);
	assert_int_equal(reports[0].map_bus, a);
}

static void test_sync_wrong_direction(void **state)
{
	(void)state;
	uint64_t a = map(mem, 64, VTIO_DMA_TO_DEVICE);
	assert_int_equal(vtio_dma_sync_for_cpu(&dev, a, 64, VTIO_DMA_FROM_DEVICE), 0);
	expect_only(VTIO_DMA_DEBUG_SYNC_DIR, 1);
}

static void test_use_after_unmap(void **state)
{
	(void)state;
	uint64_t a = map(mem, 64, VTIO_DMA_FROM_DEVICE);
	assert_int_equal(vtio_dma_unmap(&dev, a, 64, VTIO_DMA_FROM_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_sync_for_cpu(&dev, a + 8, 8, VTIO_DMA_FROM_DEVICE), VTIO_EFAULT);
	expect_only(VTIO_DMA_DEBUG_USE_AFTER_UNMAP, 1);
	/* And from the device side: a write into the unmapped buffer. */
	assert_int_equal(vtio_dma_debug_check_access(&dbg, a, 4, VTIO_MEM_WRITE), VTIO_EFAULT);
	expect_only(VTIO_DMA_DEBUG_USE_AFTER_UNMAP, 2);
}

static void test_device_access_through_view(void **state)
{
	(void)state;
	/* Device-side view: identity region over mem, checked by the debug layer. */
	struct vtio_mem_region reg = {(uint64_t)(uintptr_t)mem, sizeof(mem), mem, VTIO_MEM_RW};
	struct vtio_mem below;
	struct vtio_dma_debug_mem view;
	unsigned char tmp[16] = {0};
	void *ptr;
	uint64_t ml;
	assert_int_equal(vtio_mem_init(&below, &reg, 1), 0);
	assert_int_equal(vtio_dma_debug_mem_init(&view, &dbg, &below), 0);

	uint64_t out = map(mem, 64, VTIO_DMA_TO_DEVICE);
	uint64_t in = map(mem + 64, 64, VTIO_DMA_FROM_DEVICE);
	void *ring;
	uint64_t ring_bus;
	assert_int_equal(vtio_dma_alloc(&dev, 0, &ring, &ring_bus), VTIO_ENOSYS);
	/* Legal accesses. */
	assert_int_equal(vtio_mem_read(&view.view, out, tmp, 16), 0);
	assert_int_equal(vtio_mem_write(&view.view, in + 48, tmp, 16), 0);
	assert_int_equal(vtio_mem_translate(&view.view, out, 64, VTIO_MEM_READ, &ptr, &ml), 0);
	assert_ptr_equal(ptr, mem);
	assert_int_equal(nreports, 0);
	/* Against the direction: writing a TO_DEVICE buffer. */
	assert_int_equal(vtio_mem_write(&view.view, out, tmp, 4), VTIO_EACCES);
	expect_only(VTIO_DMA_DEBUG_ACCESS_DIR, 1);
	/* Never mapped, and running past the end of a mapping. */
	assert_int_equal(vtio_mem_read(&view.view, (uint64_t)(uintptr_t)(mem + 4096), tmp, 4),
			 VTIO_EFAULT);
	assert_int_equal(vtio_mem_write(&view.view, in + 60, tmp, 8), VTIO_EFAULT);
	assert_int_equal(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_ACCESS_UNMAPPED), 2);
	assert_int_equal(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_OK), 3);
	assert_int_equal(nreports, 3);
	/* After unmap. */
	assert_int_equal(vtio_dma_unmap(&dev, in, 64, VTIO_DMA_FROM_DEVICE, 0), 0);
	assert_int_equal(vtio_mem_write(&view.view, in, tmp, 4), VTIO_EFAULT);
	assert_int_equal(dbg.last.kind, VTIO_DMA_DEBUG_USE_AFTER_UNMAP);
	assert_int_equal(vtio_dma_unmap(&dev, out, 64, VTIO_DMA_TO_DEVICE, 0), 0);
}

static _Alignas(4096) unsigned char arena[8192];
static uint32_t arena_map[8];

static void test_bad_free_and_alloc_leak(void **state)
{
	(void)state;
	struct vtio_dma_direct_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.arena = arena;
	dc.arena_size = sizeof(arena);
	dc.arena_map = arena_map;
	assert_int_equal(vtio_dma_direct_init(&direct, &dc), 0);
	void *p;
	uint64_t b;
	assert_int_equal(vtio_dma_alloc(&dev, 256, &p, &b), 0);
	assert_int_equal(vtio_dma_free(&dev, 128, p, b), VTIO_EINVAL);
	expect_only(VTIO_DMA_DEBUG_FREE_UNKNOWN, 1);
	assert_int_equal(reports[0].map_len, 256);
	assert_int_equal(vtio_dma_free(&dev, 256, p, b + 64), VTIO_EINVAL);
	expect_only(VTIO_DMA_DEBUG_FREE_UNKNOWN, 2);
	/* The allocation is still live: a leak at teardown. */
	assert_int_equal(vtio_dma_debug_check_leaks(&dbg), 1);
	assert_int_equal(dbg.last.kind, VTIO_DMA_DEBUG_LEAK);
	assert_int_equal(dbg.last.map_dir, -1);
	assert_int_equal(vtio_dma_free(&dev, 256, p, b), 0);
	assert_int_equal(vtio_dma_debug_check_leaks(&dbg), 0);
	assert_int_equal(vtio_dma_direct_arena_in_use(&direct), 0);
	/* Coherent memory is device read/write. */
	assert_int_equal(vtio_dma_alloc(&dev, 64, &p, &b), 0);
	assert_int_equal(vtio_dma_debug_check_access(&dbg, b, 64, VTIO_MEM_RW), 0);
	assert_int_equal(vtio_dma_free(&dev, 64, p, b), 0);
	dc.arena = NULL;
	assert_int_equal(vtio_dma_direct_init(&direct, &dc), 0);
}

static void test_table_full(void **state)
{
	(void)state;
	uint64_t bus[9];
	for (int i = 0; i < 8; i++)
		bus[i] = map(mem + 16 * i, 16, VTIO_DMA_TO_DEVICE);
	assert_int_equal(nreports, 0);
	/* Ninth live mapping: still mapped (the checker never changes the outcome). */
	bus[8] = map(mem + 128, 16, VTIO_DMA_TO_DEVICE);
	assert_int_equal(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_TABLE_FULL), 1);
	assert_int_equal(dbg.last.kind, VTIO_DMA_DEBUG_TABLE_FULL);
	assert_true(dbg.overflowed);
	/* Its unmap is not reported as unknown: untracked mappings may exist. */
	assert_int_equal(vtio_dma_unmap(&dev, bus[8], 16, VTIO_DMA_TO_DEVICE, 0), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(vtio_dma_unmap(&dev, bus[i], 16, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_OK), 0);
	assert_int_equal(vtio_dma_debug_check_leaks(&dbg), 0);
}

static void test_init_rejects(void **state)
{
	(void)state;
	struct vtio_dma_debug d;
	struct vtio_dma_debug_config c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(vtio_dma_debug_init(&d, &c), VTIO_EINVAL);
	c.table = table;
	c.table_size = sizeof(table[0]) - 1;
	assert_int_equal(vtio_dma_debug_init(&d, &c), VTIO_EINVAL);
	assert_int_equal(vtio_dma_debug_table_size(3), 3 * sizeof(struct vtio_dma_debug_entry));
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_clean_run_reports_nothing),
	    T(test_leak_at_teardown),
	    T(test_double_unmap),
	    T(test_unmap_unknown),
	    T(test_unmap_wrong_size),
	    T(test_unmap_wrong_direction),
	    T(test_sync_unmapped),
	    T(test_sync_wrong_range),
	    T(test_sync_wrong_direction),
	    T(test_use_after_unmap),
	    T(test_device_access_through_view),
	    T(test_bad_free_and_alloc_leak),
	    T(test_table_full),
	    T(test_init_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
