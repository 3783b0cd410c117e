/* Layers that share state lock internally: two driver threads map, unmap,
 * sync, alloc and free through one stack (debug + IOMMU + direct arena)
 * while a device thread translates IOVAs through the IOMMU. Afterwards the
 * books balance: no findings, no leaks, no pages, no arena bytes. Run under
 * TSan (label "threads"). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/dma.h"
#include "vtio/dma_layers.h"

#define ITERS 20000

static _Alignas(4096) unsigned char arena[64 * 1024];
static uint32_t amap[64];
static unsigned char bufs[2][8][256];
static uint64_t ptes[512];
static struct vtio_dma_debug_entry tab[128];
static struct vtio_dma_direct direct;
static struct vtio_dma_iommu mmu;
static struct vtio_dma_debug dbg;
static struct vtio_dma_dev dev;
static int stop;
static int errors;

static void *driver(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (t + 1);
	for (unsigned i = 0; i < ITERS; i++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		unsigned n = 1 + (unsigned)(rng % 8);
		uint64_t bus[8];
		enum vtio_dma_dir dir = (enum vtio_dma_dir)(rng >> 8) % 3;
		unsigned k;
		for (k = 0; k < n; k++)
			if (vtio_dma_map(&dev, bufs[t][k], 256, dir, 0, &bus[k]) != 0)
				break;
		for (unsigned j = 0; j < k; j++) {
			if (vtio_dma_sync_for_cpu(&dev, bus[j] + 16, 64, dir) != 0)
				__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
			if (vtio_dma_unmap(&dev, bus[j], 256, dir, 0) != 0)
				__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
		}
		if ((i & 15) == 0) {
			void *p;
			uint64_t b;
			if (vtio_dma_alloc(&dev, 512, &p, &b) == 0) {
				memset(p, (int)t, 512);
				if (vtio_dma_free(&dev, 512, p, b) != 0)
					__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
			}
		}
	}
	return NULL;
}

static void *device(void *arg)
{
	(void)arg;
	uint64_t rng = 12345, bus, ml;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		uint64_t iova = 0x100000 + rng % (512 * 4096);
		(void)vtio_dma_iommu_translate(&mmu, iova, 8, VTIO_MEM_READ, &bus, &ml);
	}
	return NULL;
}

static void test_concurrent_map_unmap_alloc_translate(void **state)
{
	(void)state;
	struct vtio_dma_direct_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.arena = arena;
	dc.arena_size = sizeof(arena);
	dc.arena_map = amap;
	assert_int_equal(vtio_dma_direct_init(&direct, &dc), 0);
	struct vtio_dma_iommu_config mc;
	memset(&mc, 0, sizeof(mc));
	mc.iova_base = 0x100000;
	mc.npages = 512;
	mc.table = ptes;
	assert_int_equal(vtio_dma_iommu_init(&mmu, &mc), 0);
	struct vtio_dma_debug_config c = {tab, sizeof(tab), NULL, NULL};
	assert_int_equal(vtio_dma_debug_init(&dbg, &c), 0);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &mmu.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &dbg.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);

	pthread_t th[3];
	assert_int_equal(pthread_create(&th[0], NULL, driver, (void *)0), 0);
	assert_int_equal(pthread_create(&th[1], NULL, driver, (void *)1), 0);
	assert_int_equal(pthread_create(&th[2], NULL, device, NULL), 0);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(th[2], NULL);

	assert_int_equal(errors, 0);
	assert_int_equal(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_OK), 0);
	assert_int_equal(vtio_dma_debug_count(&dbg, VTIO_DMA_DEBUG_TABLE_FULL), 0);
	assert_int_equal(vtio_dma_debug_check_leaks(&dbg), 0);
	assert_int_equal(vtio_dma_iommu_pages_used(&mmu), 0);
	assert_int_equal(vtio_dma_direct_arena_in_use(&direct), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_concurrent_map_unmap_alloc_translate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
