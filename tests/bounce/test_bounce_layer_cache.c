/*
 * The bounce DMA layer with a per-thread cache (vtio_bounce_layer_set_cache()):
 * maps and unmaps through the DMA API take the cache's path with the same
 * copies, errors and all-or-nothing scatter lists; syncs and coherent
 * memory are unchanged; free runs held by the cache are not available to
 * allocations until it is drained. Checklist: FEAT-DRV-7 (every address
 * given to the device is a valid bus address for it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtio/dma_layers.h"
#include "bounce_test_util.h"

#define DEV 0x20000000u

static void test_layer_through_cache(void **state)
{
	(void)state;
	struct tpool tp;
	struct vtio_bounce_pool_config c = tcfg_linear(8 * 2048, DEV);
	assert_int_equal(tpool_init(&tp, &c), 0);
	struct vtio_bounce_set *set = tset_new();
	assert_int_equal(vtio_bounce_set_register(set, tp.pool), 0);
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, 0xffffffffu);
	struct vtio_bounce_layer bl;
	assert_int_equal(vtio_bounce_layer_init(&bl, set, &d, 0), 0);
	struct vtio_bounce_cache cache;
	assert_int_equal(vtio_bounce_cache_init(&cache, set, &d), 0);
	vtio_bounce_layer_set_cache(&bl, &cache);
	struct vtio_dma_dev dev;
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &bl.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);

	unsigned char buf[3000];
	memset(buf, 0x31, sizeof(buf));
	uint64_t bus;
	assert_int_equal(vtio_dma_map(&dev, buf, sizeof(buf), VTIO_DMA_FROM_DEVICE, 0, &bus), 0);
	assert_true(bus >= DEV && bus < DEV + 8 * 2048);
	unsigned char *tlb = tset_cpu(set, bus);
	assert_int_equal(tlb[2999], 0x31); /* copied in although FROM_DEVICE */
	/* a cache's mapping: the plain unmap refuses it */
	assert_int_equal(vtio_bounce_unmap(set, bus, sizeof(buf), VTIO_DMA_FROM_DEVICE, 0),
			 VTIO_EINVAL);
	memset(tlb + 1000, 0x44, 10);
	assert_int_equal(vtio_dma_sync_for_cpu(&dev, bus + 1000, 10, VTIO_DMA_FROM_DEVICE), 0);
	assert_int_equal(buf[1000], 0x44);
	memset(tlb, 0x55, 5);
	assert_int_equal(vtio_dma_unmap(&dev, bus, 2999, VTIO_DMA_FROM_DEVICE, 0), VTIO_EINVAL);
	assert_int_equal(vtio_dma_unmap(&dev, bus, sizeof(buf), VTIO_DMA_FROM_DEVICE, 0), 0);
	assert_int_equal(buf[0], 0x55);
	assert_int_equal(vtio_dma_unmap(&dev, bus, sizeof(buf), VTIO_DMA_FROM_DEVICE, 0),
			 VTIO_EALREADY);
	struct vtio_bounce_stats st;
	vtio_bounce_set_get_stats(set, &st);
	assert_int_equal(st.in_use, 0);
	assert_true(st.cached > 0);

	/* Scatter list: all or nothing. 8 slots: four two-slot segments fit,
	 * the fifth does not; the four go back (to the cache). */
	static unsigned char s[5][4000];
	struct vtio_dma_sg sg[5];
	for (int i = 0; i < 5; i++) {
		memset(s[i], 0x60 + i, sizeof(s[i]));
		sg[i].cpu = s[i];
		sg[i].bus = 0;
		sg[i].len = sizeof(s[i]);
	}
	assert_int_equal(vtio_dma_map_sg(&dev, sg, 5, VTIO_DMA_TO_DEVICE, 0), VTIO_ENOMEM);
	vtio_bounce_set_get_stats(set, &st);
	assert_int_equal(st.in_use, 0);
	assert_int_equal(vtio_dma_map_sg(&dev, sg, 4, VTIO_DMA_TO_DEVICE, 0), 0);
	for (int i = 0; i < 4; i++)
		assert_memory_equal(tset_cpu(set, sg[i].bus), s[i], sizeof(s[i]));
	assert_int_equal(vtio_dma_unmap_sg(&dev, sg, 4, VTIO_DMA_TO_DEVICE, 0), 0);

	/* The cache holds every free run now: an allocation needs a drain. */
	void *cpu;
	uint64_t abus;
	vtio_bounce_set_get_stats(set, &st);
	assert_int_equal(st.cached, 8);
	assert_int_equal(vtio_dma_alloc(&dev, 4096, &cpu, &abus), VTIO_ENOMEM);
	vtio_bounce_cache_drain(&cache);
	assert_int_equal(vtio_dma_alloc(&dev, 4096, &cpu, &abus), 0);
	assert_ptr_equal(tset_cpu(set, abus), cpu);
	assert_int_equal(vtio_dma_free(&dev, 4096, cpu, abus), 0);

	/* Back to the plain calls. */
	assert_int_equal(vtio_bounce_cache_fini(&cache), 0);
	vtio_bounce_layer_set_cache(&bl, NULL);
	assert_int_equal(vtio_dma_map(&dev, buf, 64, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(vtio_bounce_unmap(set, bus, 64, VTIO_DMA_TO_DEVICE, 0), 0);
	vtio_bounce_set_get_stats(set, &st);
	assert_int_equal(st.in_use, 0);
	assert_int_equal(st.cached, 0);
	assert_int_equal(st.maps, st.unmaps);
	assert_int_equal(vtio_bounce_set_unregister(set, tp.pool), 0);
	free(set);
	tpool_fini(&tp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layer_through_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
