/*
 * Cache maintenance of the direct layer over non-coherent memory (seed 000's
 * PowerPC agents, firmware without cache-coherent DMA). The DMA sources are
 * compiled into this test with VTIO_CONFIG_FILE="dma_cache_config.h", which
 * records each VTIO_CACHE_FLUSH / VTIO_CACHE_INVALIDATE call:
 *  - map cleans (flushes) for every direction, so no dirty line can later be
 *    written back over what the device wrote (FROM_DEVICE included);
 *  - unmap and sync_for_cpu invalidate what the device may have written;
 *  - sync_for_device cleans what the CPU wrote;
 *  - SKIP_CPU_SYNC skips all of it; coherent layers never call the hooks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/dma.h"
#include "vtio/dma_layers.h"

static char ops[32];
static unsigned nops;
static const void *last_p;
static size_t last_n;

void dma_cache_record(char op, const void *p, size_t n)
{
	if (nops < sizeof(ops) - 1)
		ops[nops++] = op;
	ops[nops] = '\0';
	last_p = p;
	last_n = n;
}

static void reset_log(void)
{
	nops = 0;
	ops[0] = '\0';
	last_p = NULL;
	last_n = 0;
}

static unsigned char buf[256];

static void setup_dev(struct vtio_dma_dev *dev, struct vtio_dma_direct *d, bool noncoherent)
{
	struct vtio_dma_direct_config c;
	memset(&c, 0, sizeof(c));
	c.mode = VTIO_DMA_DIRECT_IDENTITY;
	c.noncoherent = noncoherent;
	assert_int_equal(vtio_dma_direct_init(d, &c), 0);
	vtio_dma_dev_init(dev);
	assert_int_equal(vtio_dma_dev_push(dev, &d->layer), 0);
	assert_int_equal(vtio_dma_dev_build(dev), 0);
}

static void test_map_cleans_every_direction(void **state)
{
	(void)state;
	struct vtio_dma_dev dev;
	struct vtio_dma_direct d;
	setup_dev(&dev, &d, true);
	const enum vtio_dma_dir dirs[3] = {VTIO_DMA_TO_DEVICE, VTIO_DMA_FROM_DEVICE,
					   VTIO_DMA_BIDIRECTIONAL};
	for (int i = 0; i < 3; i++) {
		uint64_t bus;
		reset_log();
		assert_int_equal(vtio_dma_map(&dev, buf, 100, dirs[i], 0, &bus), 0);
		assert_string_equal(ops, "F");
		assert_ptr_equal(last_p, buf);
		assert_int_equal(last_n, 100);
		reset_log();
		assert_int_equal(vtio_dma_unmap(&dev, bus, 100, dirs[i], 0), 0);
		/* Only what the device may have written is invalidated. */
		assert_string_equal(ops, dirs[i] == VTIO_DMA_TO_DEVICE ? "" : "I");
	}
}

static void test_syncs(void **state)
{
	(void)state;
	struct vtio_dma_dev dev;
	struct vtio_dma_direct d;
	setup_dev(&dev, &d, true);
	uint64_t bus;
	assert_int_equal(vtio_dma_map(&dev, buf, 64, VTIO_DMA_BIDIRECTIONAL, 0, &bus), 0);
	reset_log();
	assert_int_equal(vtio_dma_sync_for_cpu(&dev, bus + 8, 16, VTIO_DMA_BIDIRECTIONAL), 0);
	assert_string_equal(ops, "I");
	assert_ptr_equal(last_p, buf + 8);
	assert_int_equal(last_n, 16);
	reset_log();
	assert_int_equal(vtio_dma_sync_for_device(&dev, bus, 64, VTIO_DMA_BIDIRECTIONAL), 0);
	assert_string_equal(ops, "F");
	reset_log();
	assert_int_equal(vtio_dma_sync_for_cpu(&dev, bus, 64, VTIO_DMA_TO_DEVICE), 0);
	assert_int_equal(vtio_dma_sync_for_device(&dev, bus, 64, VTIO_DMA_FROM_DEVICE), 0);
	assert_string_equal(ops, "");
	assert_int_equal(vtio_dma_unmap(&dev, bus, 64, VTIO_DMA_BIDIRECTIONAL, 0), 0);
}

static void test_skip_cpu_sync_and_coherent(void **state)
{
	(void)state;
	struct vtio_dma_dev dev;
	struct vtio_dma_direct d;
	setup_dev(&dev, &d, true);
	uint64_t bus;
	reset_log();
	assert_int_equal(
	    vtio_dma_map(&dev, buf, 32, VTIO_DMA_FROM_DEVICE, VTIO_DMA_ATTR_SKIP_CPU_SYNC, &bus),
	    0);
	assert_int_equal(
	    vtio_dma_unmap(&dev, bus, 32, VTIO_DMA_FROM_DEVICE, VTIO_DMA_ATTR_SKIP_CPU_SYNC), 0);
	assert_string_equal(ops, "");

	struct vtio_dma_dev cdev;
	struct vtio_dma_direct cd;
	setup_dev(&cdev, &cd, false);
	assert_int_equal(vtio_dma_map(&cdev, buf, 32, VTIO_DMA_FROM_DEVICE, 0, &bus), 0);
	assert_int_equal(vtio_dma_sync_for_cpu(&cdev, bus, 32, VTIO_DMA_FROM_DEVICE), 0);
	assert_int_equal(vtio_dma_unmap(&cdev, bus, 32, VTIO_DMA_FROM_DEVICE, 0), 0);
	assert_string_equal(ops, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_map_cleans_every_direction),
	    cmocka_unit_test(test_syncs),
	    cmocka_unit_test(test_skip_cpu_sync_and_coherent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
