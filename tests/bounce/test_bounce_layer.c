/*
 * The bounce DMA layer inside DMA stacks (include/vtio/dma.h):
 *  - alone at the bottom: every mapping bounced, coherent memory from the
 *    pool, scatter lists all-or-nothing, caps;
 *  - seed 000's 30-bit device: window (hand-down) over bounce (on request)
 *    over a direct layer: buffers the device reaches go direct, the others
 *    are handed down and bounced into a pool inside the window.
 * Checklist: FEAT-DRV-7 (every address given to the device is a valid bus
 * address for it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtio/dma_layers.h"
#include "bounce_test_util.h"

static void test_layer_alone(void **state)
{
	(void)state;
	struct tpool tp;
	struct vtio_bounce_pool_config c = tcfg_linear(8 * 2048, 0x20000000u);
	assert_int_equal(tpool_init(&tp, &c), 0);
	struct vtio_bounce_set *set = tset_new();
	assert_int_equal(vtio_bounce_set_register(set, tp.pool), 0);
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, 0xffffffffu);
	struct vtio_bounce_layer bl;
	assert_int_equal(vtio_bounce_layer_init(&bl, set, &d, 0x80), VTIO_EINVAL);
	assert_int_equal(vtio_bounce_layer_init(&bl, set, &d, 0), 0);
	struct vtio_dma_dev dev;
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &bl.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_false(dev.identity);

	unsigned char buf[3000];
	memset(buf, 0x31, sizeof(buf));
	uint64_t bus;
	assert_int_equal(vtio_dma_map(&dev, buf, sizeof(buf), VTIO_DMA_FROM_DEVICE, 0, &bus), 0);
	assert_true(bus >= 0x20000000u && bus < 0x20000000u + 8 * 2048);
	unsigned char *tlb = tset_cpu(set, bus);
	assert_int_equal(tlb[2999], 0x31); /* copied in although FROM_DEVICE */
	memset(tlb + 1000, 0x44, 10);
	assert_int_equal(vtio_dma_sync_for_cpu(&dev, bus + 1000, 10, VTIO_DMA_FROM_DEVICE), 0);
	assert_int_equal(buf[1000], 0x44);
	memset(tlb, 0x55, 5);
	assert_int_equal(vtio_dma_unmap(&dev, bus, sizeof(buf), VTIO_DMA_FROM_DEVICE, 0), 0);
	assert_int_equal(buf[0], 0x55);
	assert_int_equal(vtio_dma_unmap(&dev, bus, sizeof(buf), VTIO_DMA_FROM_DEVICE, 0),
			 VTIO_EALREADY);

	/* Scatter list: all or nothing. 8 slots: 3 + 3 fit, the third segment does not. */
	static unsigned char s1[5000], s2[5000], s3[5000];
	struct vtio_dma_sg sg[3] = {{s1, 0, 5000}, {s2, 0, 5000}, {s3, 0, 5000}};
	assert_int_equal(vtio_dma_map_sg(&dev, sg, 3, VTIO_DMA_TO_DEVICE, 0), VTIO_ENOMEM);
	struct vtio_bounce_stats st;
	vtio_bounce_pool_get_stats(tp.pool, &st);
	assert_int_equal(st.in_use, 0);
	assert_int_equal(vtio_dma_map_sg(&dev, sg, 2, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_memory_equal(tset_cpu(set, sg[1].bus), s2, 5000);
	assert_int_equal(vtio_dma_unmap_sg(&dev, sg, 2, VTIO_DMA_TO_DEVICE, 0), 0);

	/* Coherent memory comes from the pool, zeroed. */
	void *cpu;
	uint64_t abus;
	assert_int_equal(vtio_dma_alloc(&dev, 4096, &cpu, &abus), 0);
	assert_ptr_equal(tset_cpu(set, abus), cpu);
	assert_int_equal(((unsigned char *)cpu)[4095], 0);
	assert_int_equal(vtio_dma_free(&dev, 4096, cpu, abus), 0);

	struct vtio_dma_caps caps;
	assert_int_equal(vtio_dma_caps(&dev, &caps), 0);
	assert_int_equal(caps.mask, UINT64_MAX);
	assert_int_equal(caps.max_mapping, 8 * 2048);

	assert_int_equal(vtio_bounce_set_unregister(set, tp.pool), 0);
	free(set);
	tpool_fini(&tp);
}

/* Direct layer: the "low" buffer is seen at 0x10000000 (inside a 30-bit
 * window), anything else far above it. */
static unsigned char low_buf[4096], high_buf[4096];

static int to_bus(void *ctx, const void *cpu, size_t len, uint64_t *bus)
{
	(void)ctx;
	(void)len;
	const unsigned char *p = cpu;
	if (p >= low_buf && p < low_buf + sizeof(low_buf))
		*bus = 0x10000000u + (uint64_t)(p - low_buf);
	else
		*bus = 0x800000000ull + ((uintptr_t)p & 0xfffffu);
	return 0;
}

static void test_window_hand_down(void **state)
{
	(void)state;
	struct tpool tp;
	struct vtio_bounce_pool_config c = tcfg_linear(16 * 2048, 0x20000000u);
	assert_int_equal(tpool_init(&tp, &c), 0);
	struct vtio_bounce_set *set = tset_new();
	assert_int_equal(vtio_bounce_set_register(set, tp.pool), 0);

	struct vtio_dma_direct_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.mode = VTIO_DMA_DIRECT_CALLBACK;
	dc.to_bus = to_bus;
	struct vtio_dma_direct direct;
	assert_int_equal(vtio_dma_direct_init(&direct, &dc), 0);
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, (1u << 30) - 1);
	struct vtio_bounce_layer bl;
	assert_int_equal(vtio_bounce_layer_init(&bl, set, &d, VTIO_BOUNCE_LAYER_F_ON_REQUEST), 0);
	struct vtio_dma_window_config wc = {0, (1u << 30) - 1, true};
	struct vtio_dma_window win;
	assert_int_equal(vtio_dma_window_init(&win, &wc), 0);
	struct vtio_dma_dev dev;
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &bl.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &win.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);

	memset(low_buf, 1, sizeof(low_buf));
	memset(high_buf, 2, sizeof(high_buf));
	uint64_t lb, hb;
	/* Reachable buffer: direct, no pool slot used. */
	assert_int_equal(vtio_dma_map(&dev, low_buf, 100, VTIO_DMA_BIDIRECTIONAL, 0, &lb), 0);
	assert_int_equal(lb, 0x10000000u);
	struct vtio_bounce_stats st;
	vtio_bounce_pool_get_stats(tp.pool, &st);
	assert_int_equal(st.maps, 0);
	/* Unreachable buffer: handed down, bounced into the pool inside the window. */
	assert_int_equal(vtio_dma_map(&dev, high_buf, 3000, VTIO_DMA_BIDIRECTIONAL, 0, &hb), 0);
	assert_true(hb >= 0x20000000u && hb + 3000 <= 0x20000000u + 16 * 2048);
	assert_int_equal(win.handed_down, 1);
	vtio_bounce_pool_get_stats(tp.pool, &st);
	assert_int_equal(st.maps, 1);
	assert_int_equal(st.in_use, 2);
	unsigned char *tlb = tset_cpu(set, hb);
	assert_memory_equal(tlb, high_buf, 3000);
	/* Device writes; partial sync and unmap copy back only the bounced buffer. */
	memset(tlb + 10, 9, 20);
	assert_int_equal(vtio_dma_sync_for_cpu(&dev, hb + 10, 20, VTIO_DMA_BIDIRECTIONAL), 0);
	assert_int_equal(high_buf[10], 9);
	assert_int_equal(vtio_dma_sync_for_cpu(&dev, lb, 100, VTIO_DMA_BIDIRECTIONAL), 0);
	assert_int_equal(vtio_dma_unmap(&dev, lb, 100, VTIO_DMA_BIDIRECTIONAL, 0), 0);
	memset(tlb + 2000, 7, 5);
	assert_int_equal(vtio_dma_unmap(&dev, hb, 3000, VTIO_DMA_BIDIRECTIONAL, 0), 0);
	assert_int_equal(high_buf[2004], 7);
	vtio_bounce_pool_get_stats(tp.pool, &st);
	assert_int_equal(st.in_use, 0);
	assert_int_equal(st.unmaps, 1);

	/* Caps: the window's limit, the pool's segment. */
	struct vtio_dma_caps caps;
	assert_int_equal(vtio_dma_caps(&dev, &caps), 0);
	assert_int_equal(caps.mask, (1u << 30) - 1);

	/* Coherent memory: from the pool, so inside the window. */
	void *cpu;
	uint64_t abus;
	assert_int_equal(vtio_dma_alloc(&dev, 1000, &cpu, &abus), 0);
	assert_true(abus >= 0x20000000u && abus < 0x20000000u + 16 * 2048);
	assert_int_equal(vtio_dma_free(&dev, 1000, cpu, abus), 0);

	assert_int_equal(vtio_bounce_set_unregister(set, tp.pool), 0);
	free(set);
	tpool_fini(&tp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layer_alone),
	    cmocka_unit_test(test_window_hand_down),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
