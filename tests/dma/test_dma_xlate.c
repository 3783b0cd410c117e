/* Address window (30-bit DMA mask, hand-down to a bouncing layer) and IOMMU
 * layer (IOVA allocation, permissions from direction, faults, device-side
 * view). Checklist: FEAT-DRV-7 / section 15 (ACCESS_PLATFORM: every address the
 * device sees is a translated bus address; translation covers rings too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/dma.h"
#include "vtio/dma_layers.h"
#include "vtio/mem.h"
#include "dma_test_layers.h"

#define MASK30 ((1ull << 30) - 1)

static unsigned char buf[4096];
static struct vtio_dma_direct direct;
static struct vtio_dma_dev dev;

/* Direct layer placing buf at bus address `at`. */
static void direct_at(uint64_t at)
{
	struct vtio_dma_direct_config c;
	memset(&c, 0, sizeof(c));
	c.mode = VTIO_DMA_DIRECT_OFFSET;
	c.offset = at - (uint64_t)(uintptr_t)buf;
	assert_int_equal(vtio_dma_direct_init(&direct, &c), 0);
}

static void test_window_30bit_rejects_above(void **state)
{
	(void)state;
	struct vtio_dma_window w;
	struct vtio_dma_window_config wc = {0, MASK30, false};
	struct trace_layer t;
	uint64_t bus;

	direct_at((1ull << 30) - 128);
	trace_layer_init(&t, "below", VTIO_DMA_CLASS_BOTTOM,
			 OPBIT(VTIO_DMA_OP_MAP) | OPBIT(VTIO_DMA_OP_UNMAP));
	assert_int_equal(vtio_dma_window_init(&w, &wc), 0);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &t.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &w.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);

	/* Ends exactly at 2^30 - 1: fine. */
	assert_int_equal(vtio_dma_map(&dev, buf, 128, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(bus, (1ull << 30) - 128);
	assert_int_equal(vtio_dma_unmap(&dev, bus, 128, VTIO_DMA_TO_DEVICE, 0), 0);
	/* One byte above: VTIO_ERANGE, and what the layers below mapped is undone. */
	assert_int_equal(vtio_dma_map(&dev, buf, 129, VTIO_DMA_TO_DEVICE, 0, &bus), VTIO_ERANGE);
	assert_int_equal(w.rejected, 1);
	assert_int_equal(w.last_bus, (1ull << 30) - 128);
	assert_int_equal(w.last_len, 129);
	assert_int_equal(t.calls[VTIO_DMA_OP_MAP], 2);
	assert_int_equal(t.calls[VTIO_DMA_OP_UNMAP], 2);
	/* Scatter lists go through the window segment by segment. */
	struct vtio_dma_sg sg[2] = {{buf, 0, 64}, {buf + 64, 0, 65}};
	assert_int_equal(vtio_dma_map_sg(&dev, sg, 2, VTIO_DMA_TO_DEVICE, 0), VTIO_ERANGE);
	assert_int_equal(t.calls[VTIO_DMA_OP_MAP], t.calls[VTIO_DMA_OP_UNMAP]);

	struct vtio_dma_caps caps;
	assert_int_equal(vtio_dma_caps(&dev, &caps), 0);
	assert_int_equal(caps.mask, MASK30);
	assert_int_equal(caps.max_mapping, 1ull << 30);
}

static void test_window_base_and_init(void **state)
{
	(void)state;
	struct vtio_dma_window w;
	struct vtio_dma_window_config wc = {0x10000, MASK30, false};
	uint64_t bus;
	assert_int_equal(vtio_dma_window_init(&w, &wc), 0);
	direct_at(0x8000);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &w.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_int_equal(vtio_dma_map(&dev, buf, 16, VTIO_DMA_TO_DEVICE, 0, &bus), VTIO_ERANGE);
	/* Exactly at the base: fine. */
	direct_at(0x10000);
	assert_int_equal(vtio_dma_map(&dev, buf, 16, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(bus, 0x10000);
	assert_int_equal(w.rejected, 1);
	wc.base = MASK30 + 1;
	assert_int_equal(vtio_dma_window_init(&w, &wc), VTIO_EINVAL);
}

static void test_window_hands_down_to_bouncer(void **state)
{
	(void)state;
	struct vtio_dma_window w;
	struct vtio_dma_window_config wc = {0, MASK30, true};
	struct bouncer_layer b;
	uint64_t bus;

	direct_at(1ull << 32); /* buf lives above 4 GiB on the bus */
	bouncer_layer_init(&b, 0x2000);
	assert_int_equal(vtio_dma_window_init(&w, &wc), 0);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &b.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &w.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);

	/* TO_DEVICE: bounced, data copied into the low buffer at map. */
	memset(buf, 0x5a, 256);
	assert_int_equal(vtio_dma_map(&dev, buf, 256, VTIO_DMA_TO_DEVICE, 0, &bus), 0);
	assert_int_equal(bus, 0x2000);
	assert_int_equal(w.handed_down, 1);
	assert_int_equal(b.bounced, 1);
	assert_int_equal(b.pool[255], 0x5a);
	assert_int_equal(vtio_dma_unmap(&dev, bus, 256, VTIO_DMA_TO_DEVICE, 0), 0);

	/* FROM_DEVICE: the "device" writes the bounce buffer; unmap copies back. */
	assert_int_equal(vtio_dma_map(&dev, buf, 100, VTIO_DMA_FROM_DEVICE, 0, &bus), 0);
	memset(b.pool, 0xc3, 100);
	assert_int_equal(vtio_dma_unmap(&dev, bus, 100, VTIO_DMA_FROM_DEVICE, 0), 0);
	assert_int_equal(buf[0], 0xc3);
	assert_int_equal(buf[99], 0xc3);
	assert_int_equal(buf[100], 0x5a);
	assert_int_equal(b.copied_back, 1);

	/* A bouncer whose own memory is outside the window does not help. */
	b.bus_base = 1ull << 31;
	assert_int_equal(vtio_dma_map(&dev, buf, 100, VTIO_DMA_TO_DEVICE, 0, &bus), VTIO_ERANGE);
	assert_int_equal(b.busy, 0); /* the bounce was undone */
	assert_int_equal(w.rejected, 1);

	/* Hand-down with nothing able to bounce below: a clear VTIO_ERANGE. */
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_window_init(&w, &wc), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &w.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_int_equal(vtio_dma_map(&dev, buf, 100, VTIO_DMA_TO_DEVICE, 0, &bus), VTIO_ERANGE);
	assert_int_equal(w.handed_down, 1);
	assert_int_equal(w.rejected, 1);
}

static void test_window_alloc_outside_fails(void **state)
{
	(void)state;
	static _Alignas(4096) unsigned char arena[8192];
	static uint32_t amap[8];
	struct vtio_dma_direct_config c;
	struct vtio_dma_window w;
	struct vtio_dma_window_config wc = {0, MASK30, false};
	void *p;
	uint64_t bus;
	memset(&c, 0, sizeof(c));
	c.mode = VTIO_DMA_DIRECT_OFFSET;
	c.offset = (1ull << 40) - (uint64_t)(uintptr_t)arena;
	c.arena = arena;
	c.arena_size = sizeof(arena);
	c.arena_map = amap;
	assert_int_equal(vtio_dma_direct_init(&direct, &c), 0);
	assert_int_equal(vtio_dma_window_init(&w, &wc), 0);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &w.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	assert_int_equal(vtio_dma_alloc(&dev, 1024, &p, &bus), VTIO_ERANGE);
	assert_int_equal(vtio_dma_direct_arena_in_use(&direct), 0);
}

/* ---- IOMMU ---- */

#define NPAGES 16
static uint64_t ptes[NPAGES];
static struct vtio_dma_iommu mmu;
static struct vtio_dma_iommu_fault faults[8];
static unsigned nfaults;

static void on_fault(void *ctx, const struct vtio_dma_iommu_fault *f)
{
	(void)ctx;
	if (nfaults < 8)
		faults[nfaults++] = *f;
}

static int iommu_setup(void **state)
{
	(void)state;
	struct vtio_dma_direct_config dc;
	struct vtio_dma_iommu_config mc;
	memset(&dc, 0, sizeof(dc));
	if (vtio_dma_direct_init(&direct, &dc))
		return -1;
	memset(&mc, 0, sizeof(mc));
	mc.iova_base = 0x100000;
	mc.npages = NPAGES;
	mc.table = ptes;
	mc.fault = on_fault;
	if (vtio_dma_iommu_init(&mmu, &mc))
		return -1;
	vtio_dma_dev_init(&dev);
	if (vtio_dma_dev_push(&dev, &direct.layer) || vtio_dma_dev_push(&dev, &mmu.layer) ||
	    vtio_dma_dev_build(&dev))
		return -1;
	nfaults = 0;
	return 0;
}

static void test_iommu_translation_and_permissions(void **state)
{
	(void)state;
	static _Alignas(4096) unsigned char big[3 * 4096];
	uint64_t out, in, b, ml;

	assert_int_equal(vtio_dma_map(&dev, big + 100, 5000, VTIO_DMA_TO_DEVICE, 0, &out), 0);
	assert_true(out >= 0x100000 && out < 0x100000 + NPAGES * 4096);
	assert_int_equal(out & 4095, 100); /* page offset kept */
	assert_int_equal(vtio_dma_iommu_pages_used(&mmu), 2);
	/* The device translates the whole range in one piece (contiguous below). */
	assert_int_equal(vtio_dma_iommu_translate(&mmu, out, 5000, VTIO_MEM_READ, &b, &ml), 0);
	assert_int_equal(b, (uint64_t)(uintptr_t)(big + 100));
	assert_int_equal(ml, 5000);
	/* TO_DEVICE gives no write permission. */
	assert_int_equal(vtio_dma_iommu_translate(&mmu, out + 8, 4, VTIO_MEM_WRITE, &b, &ml),
			 VTIO_EACCES);
	assert_int_equal(nfaults, 1);
	assert_int_equal(faults[0].iova, out + 8);
	assert_int_equal(faults[0].err, VTIO_EACCES);
	assert_int_equal(mmu.faults, 1);

	assert_int_equal(vtio_dma_map(&dev, big, 64, VTIO_DMA_FROM_DEVICE, 0, &in), 0);
	assert_int_not_equal(in, out);
	assert_int_equal(vtio_dma_iommu_translate(&mmu, in, 64, VTIO_MEM_WRITE, &b, &ml), 0);
	assert_int_equal(vtio_dma_iommu_translate(&mmu, in, 64, VTIO_MEM_READ, &b, &ml),
			 VTIO_EACCES);
	/* Syncs reach the layers below with the translated address. */
	assert_int_equal(vtio_dma_sync_for_cpu(&dev, in, 64, VTIO_DMA_FROM_DEVICE), 0);
	assert_int_equal(
	    vtio_dma_sync_for_cpu(&dev, 0x100000 + 15 * 4096, 64, VTIO_DMA_FROM_DEVICE),
	    VTIO_EFAULT);

	/* Unmap: wrong size refused, then right; afterwards every access faults. */
	assert_int_equal(vtio_dma_unmap(&dev, out, 100, VTIO_DMA_TO_DEVICE, 0), VTIO_EINVAL);
	assert_int_equal(vtio_dma_unmap(&dev, out, 5000, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_unmap(&dev, out, 5000, VTIO_DMA_TO_DEVICE, 0), VTIO_ENOENT);
	nfaults = 0;
	assert_int_equal(vtio_dma_iommu_translate(&mmu, out, 1, VTIO_MEM_READ, &b, &ml),
			 VTIO_EFAULT);
	assert_int_equal(nfaults, 1);
	assert_int_equal(faults[0].err, VTIO_EFAULT);
	/* Outside the space altogether. */
	assert_int_equal(vtio_dma_iommu_translate(&mmu, 0x42, 1, VTIO_MEM_READ, &b, &ml),
			 VTIO_EFAULT);
	assert_int_equal(vtio_dma_unmap(&dev, in, 64, VTIO_DMA_FROM_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_iommu_pages_used(&mmu), 0);
}

static void test_iommu_exhaustion_undoes_below(void **state)
{
	(void)state;
	static _Alignas(4096) unsigned char big[NPAGES * 4096];
	struct trace_layer t;
	struct vtio_dma_iommu_config mc;
	uint64_t iova[NPAGES];

	/* Rebuild with a tracer under the IOMMU. */
	trace_layer_init(&t, "t", VTIO_DMA_CLASS_WINDOW,
			 OPBIT(VTIO_DMA_OP_MAP) | OPBIT(VTIO_DMA_OP_UNMAP));
	memset(&mc, 0, sizeof(mc));
	mc.iova_base = 0x100000;
	mc.npages = NPAGES;
	mc.table = ptes;
	assert_int_equal(vtio_dma_iommu_init(&mmu, &mc), 0);
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &t.layer), 0);
	assert_int_equal(vtio_dma_dev_push(&dev, &mmu.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);

	for (int i = 0; i < NPAGES; i++)
		assert_int_equal(
		    vtio_dma_map(&dev, big + i * 4096, 4096, VTIO_DMA_TO_DEVICE, 0, &iova[i]), 0);
	uint64_t x;
	assert_int_equal(vtio_dma_map(&dev, big, 1, VTIO_DMA_TO_DEVICE, 0, &x), VTIO_ENOMEM);
	assert_int_equal(t.calls[VTIO_DMA_OP_MAP], NPAGES + 1);
	assert_int_equal(t.calls[VTIO_DMA_OP_UNMAP], 1);
	/* Free two separate pages: a two-page mapping still does not fit ... */
	assert_int_equal(vtio_dma_unmap(&dev, iova[3], 4096, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_unmap(&dev, iova[9], 4096, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_map(&dev, big, 4097, VTIO_DMA_TO_DEVICE, 0, &x), VTIO_ENOMEM);
	/* ... after freeing the neighbour it does. */
	assert_int_equal(vtio_dma_unmap(&dev, iova[4], 4096, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_map(&dev, big, 4097, VTIO_DMA_TO_DEVICE, 0, &x), 0);
	assert_int_equal(x, iova[3]);
	/* Larger than the whole space. */
	assert_int_equal(vtio_dma_map(&dev, big, (NPAGES + 1) * 4096, VTIO_DMA_TO_DEVICE, 0, &x),
			 VTIO_EMSGSIZE);
}

static void test_iommu_next_fit_delays_reuse(void **state)
{
	(void)state;
	uint64_t a, b;
	assert_int_equal(vtio_dma_map(&dev, buf, 64, VTIO_DMA_TO_DEVICE, 0, &a), 0);
	assert_int_equal(vtio_dma_unmap(&dev, a, 64, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_map(&dev, buf, 64, VTIO_DMA_TO_DEVICE, 0, &b), 0);
	/* A late device access through the old IOVA still faults. */
	assert_int_not_equal(a, b);
	uint64_t bus, ml;
	assert_int_equal(vtio_dma_iommu_translate(&mmu, a, 4, VTIO_MEM_READ, &bus, &ml),
			 VTIO_EFAULT);
	assert_int_equal(vtio_dma_unmap(&dev, b, 64, VTIO_DMA_TO_DEVICE, 0), 0);
}

static void test_iommu_mem_view_and_alloc(void **state)
{
	(void)state;
	static _Alignas(4096) unsigned char host[4 * 4096];
	static _Alignas(4096) unsigned char arena[4096 * 4];
	static uint32_t amap[8];
	struct vtio_dma_direct_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.arena = arena;
	dc.arena_size = sizeof(arena);
	dc.arena_map = amap;
	assert_int_equal(vtio_dma_direct_init(&direct, &dc), 0);

	/* The device sees bus addresses below the IOMMU through an identity view. */
	struct vtio_mem_region regs[2] = {
	    {(uint64_t)(uintptr_t)host, sizeof(host), host, VTIO_MEM_RW},
	    {(uint64_t)(uintptr_t)arena, sizeof(arena), arena, VTIO_MEM_RW}};
	if ((uintptr_t)arena < (uintptr_t)host) {
		struct vtio_mem_region tmp = regs[0];
		regs[0] = regs[1];
		regs[1] = tmp;
	}
	struct vtio_mem below;
	struct vtio_dma_iommu_mem view;
	assert_int_equal(vtio_mem_init(&below, regs, 2), 0);
	assert_int_equal(vtio_dma_iommu_mem_init(&view, &mmu, &below), 0);

	uint64_t out, in;
	memcpy(host, "hello, device", 14);
	assert_int_equal(vtio_dma_map(&dev, host, 14, VTIO_DMA_TO_DEVICE, 0, &out), 0);
	assert_int_equal(vtio_dma_map(&dev, host + 4090, 100, VTIO_DMA_FROM_DEVICE, 0, &in), 0);
	char got[14];
	assert_int_equal(vtio_mem_read(&view.view, out, got, 14), 0);
	assert_memory_equal(got, "hello, device", 14);
	unsigned char pattern[100];
	for (int i = 0; i < 100; i++)
		pattern[i] = (unsigned char)(i * 7);
	/* Crosses an IOMMU page boundary. */
	assert_int_equal(vtio_mem_write(&view.view, in, pattern, 100), 0);
	assert_memory_equal(host + 4090, pattern, 100);
	void *ptr;
	uint64_t ml;
	assert_int_equal(vtio_mem_translate(&view.view, in, 100, VTIO_MEM_WRITE, &ptr, &ml), 0);
	assert_ptr_equal(ptr, host + 4090);
	/* Faults through the view. */
	assert_int_equal(vtio_mem_write(&view.view, out, pattern, 4), VTIO_EACCES);
	assert_int_equal(vtio_mem_read(&view.view, 0x100000 + 12 * 4096, got, 4), VTIO_EFAULT);
	assert_int_equal(nfaults, 2);

	/* Coherent memory through the IOMMU: an IOVA, device read/write. */
	void *p;
	uint64_t iova;
	assert_int_equal(vtio_dma_alloc(&dev, 256, &p, &iova), 0);
	assert_true(iova >= 0x100000);
	assert_int_equal(vtio_mem_write(&view.view, iova, pattern, 100), 0);
	assert_memory_equal(p, pattern, 100);
	assert_int_equal(vtio_dma_free(&dev, 256, p, iova), 0);
	assert_int_equal(vtio_dma_direct_arena_in_use(&direct), 0);
	assert_int_equal(vtio_dma_unmap(&dev, out, 14, VTIO_DMA_TO_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_unmap(&dev, in, 100, VTIO_DMA_FROM_DEVICE, 0), 0);
	assert_int_equal(vtio_dma_iommu_pages_used(&mmu), 0);

	struct vtio_dma_caps caps;
	assert_int_equal(vtio_dma_caps(&dev, &caps), 0);
	assert_int_equal(caps.mask, 0x1fffff);
	assert_int_equal(caps.max_mapping, NPAGES * 4096);
	dc.arena = NULL;
	assert_int_equal(vtio_dma_direct_init(&direct, &dc), 0);
}

static void test_iommu_init_rejects(void **state)
{
	(void)state;
	struct vtio_dma_iommu m;
	struct vtio_dma_iommu_config c;
	memset(&c, 0, sizeof(c));
	c.table = ptes;
	assert_int_equal(vtio_dma_iommu_init(&m, &c), VTIO_EINVAL); /* no pages */
	c.npages = 4;
	c.page_size = 100;
	assert_int_equal(vtio_dma_iommu_init(&m, &c), VTIO_EINVAL);
	c.page_size = 4096;
	c.iova_base = 0x1001;
	assert_int_equal(vtio_dma_iommu_init(&m, &c), VTIO_EINVAL);
	c.iova_base = UINT64_MAX - 4095;
	assert_int_equal(vtio_dma_iommu_init(&m, &c), VTIO_EINVAL); /* wraps */
	c.iova_base = 0;
	assert_int_equal(vtio_dma_iommu_init(&m, &c), 0);
	assert_int_equal(vtio_dma_iommu_table_size(16), 128);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_window_30bit_rejects_above),
	    cmocka_unit_test(test_window_base_and_init),
	    cmocka_unit_test(test_window_hands_down_to_bouncer),
	    cmocka_unit_test(test_window_alloc_outside_fails),
	    cmocka_unit_test_setup(test_iommu_translation_and_permissions, iommu_setup),
	    cmocka_unit_test_setup(test_iommu_exhaustion_undoes_below, iommu_setup),
	    cmocka_unit_test_setup(test_iommu_next_fit_delays_reuse, iommu_setup),
	    cmocka_unit_test_setup(test_iommu_mem_view_and_alloc, iommu_setup),
	    cmocka_unit_test(test_iommu_init_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
