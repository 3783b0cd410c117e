/* Review findings on the ring core (split side and shared helpers), one test
 * or more per finding, each failing on the code before the fix:
 *  1. driver ring_mem errors break the queue (no zero reads, no lost writes);
 *  2. indirect tables of PREMAPPED queues are mapped (CHECKLIST 3.15);
 *  3. state size arithmetic does not wrap on 32-bit hosts;
 *  4. a chain of exactly 4 GiB writable keeps its length (SPLIT-DRV-7/16);
 *  6. indirect entries are unmapped from private records, not the table;
 *  7. ring_mem without CPU pointers; accessor-only device views probed at
 *     init; the error that broke a device queue inside enable_notify /
 *     more_avail is returned once by the next pop;
 *  8. a linear DMA stack (direct layer with an offset) gives bus addresses
 *     inline, for buffers and tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ring_fixture.h"
#include "ring_dma_recorder.h"
#include "vtio/dma.h"
#include "vtio/dma_layers.h"
#include "tc_util.h"

/* ---- A driver/device view over the fixture arena that refuses chosen ranges ---- */

static struct fx_fault fctx; /* the refusing view of the current test */

static void pop_push(struct fx *f, uint32_t len)
{
	struct vtio_devq_chain c;
	fx_chain_init(f, &c);
	assert_int_equal(vtio_devq_pop(f->dq, &c), 0);
	assert_int_equal(vtio_devq_push(f->dq, &c, len), 0);
}

/* Finding 1: a used element that cannot be read must not become id 0
 * (SPLIT-DRV-15: the token of a buffer the device still owns). */
static void test_drv_used_elem_unreadable_breaks(void **state)
{
	(void)state;
	struct fx f;
	unsigned char *buf = fx_setup_faulty(&f, &fctx, VTIO_LAYOUT_SPLIT, 8, FX_MODERN);
	struct vtio_sg sg = vtio_sg_of(buf, 16);
	assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)0x10), 0); /* head 0 */
	assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)0x20), 0); /* head 1 */
	assert_int_equal(vtio_vq_kick(f.vq), 0);
	struct vtio_devq_chain c0, c1;
	fx_chain_init(&f, &c0);
	assert_int_equal(vtio_devq_pop(f.dq, &c0), 0);
	struct vtio_iov rd1[4], wr1[4];
	tc_chain_init(&c1, rd1, 4, wr1, 4);
	assert_int_equal(vtio_devq_pop(f.dq, &c1), 0);
	assert_int_equal(vtio_devq_push(f.dq, &c1, 4), 0); /* only head 1 is used */
	/* The used ring's elements become unreadable to the driver. */
	fctx.rd_lo = f.areas.device_addr + 4;
	fctx.rd_hi = f.areas.device_addr + 4 + 8u * 8u;
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_true(vtio_vq_is_broken(f.vq));
	assert_string_equal(vtio_vq_broken_reason(f.vq), "ring memory not readable");
	fx_teardown(&f);
}

/* Finding 1: used->idx unreadable breaks too (it read as 0 before). */
static void test_drv_used_idx_unreadable_breaks(void **state)
{
	(void)state;
	struct fx f;
	unsigned char *buf = fx_setup_faulty(&f, &fctx, VTIO_LAYOUT_SPLIT, 8, FX_MODERN);
	struct vtio_sg sg = vtio_sg_of(buf, 16);
	assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)0x10), 0);
	assert_int_equal(vtio_vq_kick(f.vq), 0);
	pop_push(&f, 4);
	fctx.rd_lo = f.areas.device_addr + 2;
	fctx.rd_hi = f.areas.device_addr + 4;
	assert_true(vtio_vq_more_used(f.vq)); /* a read error: get_used will tell */
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_true(vtio_vq_is_broken(f.vq));
	assert_false(vtio_vq_more_used(f.vq));
	fx_teardown(&f);
}

/* Finding 1: a lost store of avail->idx is reported, not a silent hang. */
static void test_drv_avail_idx_unwritable_breaks(void **state)
{
	(void)state;
	struct fx f;
	unsigned char *buf = fx_setup_faulty(&f, &fctx, VTIO_LAYOUT_SPLIT, 8, FX_MODERN);
	struct vtio_sg sg = vtio_sg_of(buf, 16);
	assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, (void *)0x10), 0);
	fctx.wr_lo = f.areas.driver_addr + 2;
	fctx.wr_hi = f.areas.driver_addr + 4;
	assert_int_equal(vtio_vq_kick(f.vq), VTIO_EIO);
	assert_true(vtio_vq_is_broken(f.vq));
	assert_string_equal(vtio_vq_broken_reason(f.vq), "ring memory not writable");
	assert_int_equal(f.kicks, 0);
	fx_teardown(&f);
}

/* Finding 1: descriptor or avail entry writes that fail: the add fails with
 * VTIO_EFAULT, breaks the queue and keeps nothing (no token to detach). */
static void test_drv_add_unwritable_breaks(void **state)
{
	(void)state;
	for (int which = 0; which < 2; which++) {
		struct fx f;
		unsigned char *buf = fx_setup_faulty(&f, &fctx, VTIO_LAYOUT_SPLIT, 8, FX_MODERN);
		struct vtio_sg sg[2] = {vtio_sg_of(buf, 16), vtio_sg_of(buf + 16, 16)};
		if (which == 0) {
			fctx.wr_lo = f.areas.desc_addr;
			fctx.wr_hi = f.areas.desc_addr + 16u * 8u;
		} else {
			fctx.wr_lo = f.areas.driver_addr + 4;
			fctx.wr_hi = f.areas.driver_addr + 4 + 2u * 8u;
		}
		assert_int_equal(vtio_vq_add(f.vq, sg, 1, 1, (void *)0x10), VTIO_EFAULT);
		assert_true(vtio_vq_is_broken(f.vq));
		assert_null(vtio_vq_detach_unused(f.vq));
		fx_teardown(&f);
	}
}

/* Finding 1: init reports a ring view that refuses the zeroing. */
static void test_drv_init_zeroing_fails(void **state)
{
	(void)state;
	struct fx f;
	struct fx_opts o = {.ring_mem = fx_fault_view(&fctx, &f)};
	fctx.wr_lo = 0;
	fctx.wr_hi = UINT64_MAX;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, FX_MODERN, &o), VTIO_EFAULT);
	assert_null(f.vq);
	fx_teardown(&f);
}

/* Finding 1: vtio_vq_reset reports a refused zeroing and leaves the queue broken. */
static void test_drv_reset_zeroing_fails(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		(void)fx_setup_faulty(&f, &fctx, L, 8, FX_MODERN);
		fctx.wr_lo = f.areas.device_addr;
		fctx.wr_hi = f.areas.device_addr + 1u;
		assert_int_equal(vtio_vq_reset(f.vq), VTIO_EFAULT);
		assert_true(vtio_vq_is_broken(f.vq));
		fctx.wr_hi = 0;
		assert_int_equal(vtio_vq_reset(f.vq), 0);
		assert_false(vtio_vq_is_broken(f.vq));
		fx_teardown(&f);
	}
}

/* Finding 7: with ring_mem the CPU pointers are not used and may be NULL. */
static void test_ring_mem_without_cpu_pointers(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		(void)fx_setup_faulty(&f, &fctx, L, 8, FX_MODERN);
		size_t st = vtio_vq_state_size(L, 8, 0, 0);
		struct vtio_vq_config vc;
		memset(&vc, 0, sizeof(vc));
		vc.layout = L;
		vc.index = 3;
		vc.num = 8;
		vc.features = FX_MODERN;
		vc.areas.desc_addr = f.areas.desc_addr;
		vc.areas.driver_addr = f.areas.driver_addr;
		vc.areas.device_addr = f.areas.device_addr;
		vc.ring_mem = &fctx.view;
		vc.notify = fx_kick_cb;
		vc.notify_ctx = &f;
		struct vtio_vq *vq;
		assert_int_equal(vtio_vq_init(&vq, fx_alloc(&f, st, 16), st, &vc), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		struct vtio_sg sg = vtio_sg_of(buf, 16);
		assert_int_equal(vtio_vq_add(vq, &sg, 0, 1, (void *)0x30), 0);
		assert_int_equal(vtio_vq_kick(vq), 0);
		pop_push(&f, 7);
		uint32_t len = 0;
		assert_ptr_equal(vtio_vq_get_used(vq, &len), (void *)0x30);
		assert_int_equal(len, 7);
		/* Without ring_mem they are still required. */
		vc.ring_mem = NULL;
		assert_int_equal(vtio_vq_init(&vq, fx_alloc(&f, st, 16), st, &vc), VTIO_EINVAL);
		fx_teardown(&f);
	}
}

static unsigned live_maps(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < nrec; i++)
		n += recs[i].live;
	return n;
}

static const uint64_t FEAT_AP_IND =
    FX_MODERN | VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC);

/* Finding 2 (CHECKLIST 3.15): the caller premaps its buffers but cannot map
 * the library's indirect tables: they are mapped TO_DEVICE, and unmapped
 * when the buffer comes back. */
static void test_premapped_queue_maps_indirect_tables(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		struct fx_opts o = {.dma = rec_make_dev(),
				    .bus_offset = REC_BUS_OFF,
				    .vq_flags = VTIO_VQ_F_PREMAPPED,
				    .indirect_tables = 4,
				    .indirect_max = 8};
		assert_int_equal(fx_setup(&f, L, 8, FEAT_AP_IND, &o), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		memset(buf, 0x11, 64);
		/* Premapped by the caller: bus addresses already. */
		struct vtio_sg sg[3];
		for (int k = 0; k < 3; k++) {
			sg[k].addr = fx_addr(buf + 16 * k) + REC_BUS_OFF;
			sg[k].len = 16;
		}
		assert_int_equal(vtio_vq_add(f.vq, sg, 2, 1, (void *)0x40), 0);
		assert_int_equal(maps, 1); /* the table only */
		assert_int_equal(recs[0].dir, VTIO_DMA_TO_DEVICE);
		assert_int_equal(recs[0].len, 3 * 16);
		/* The ring carries the table's bus address, not its CPU address. */
		uint64_t a;
		memcpy(&a, f.areas.desc, 8);
		assert_true(vtio_le64(a) == recs[0].bus);
		assert_int_equal(vtio_vq_kick(f.vq), 0);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(c.rd_num, 2);
		assert_int_equal(c.wr_num, 1);
		assert_int_equal(vtio_devq_push(f.dq, &c, 16), 0);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)0x40);
		assert_int_equal(unmaps, 1);
		assert_int_equal(live_maps(), 0);
		assert_int_equal(bad_unmaps, 0);
		fx_teardown(&f);
	}
}

/* Finding 6: the device rewrites the table entries (addr, len, WRITE) after
 * popping; the driver still unmaps exactly what it mapped. */
static void test_indirect_unmap_uses_private_records(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		struct fx_opts o = {.dma = rec_make_dev(),
				    .bus_offset = REC_BUS_OFF,
				    .indirect_tables = 4,
				    .indirect_max = 8};
		assert_int_equal(fx_setup(&f, L, 8, FEAT_AP_IND, &o), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		struct vtio_sg sg[3] = {vtio_sg_of(buf, 16), vtio_sg_of(buf + 16, 16),
					vtio_sg_of(buf + 32, 16)};
		assert_int_equal(vtio_vq_add(f.vq, sg, 2, 1, (void *)0x50), 0);
		assert_int_equal(maps, 4);
		assert_int_equal(vtio_vq_kick(f.vq), 0);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(vtio_devq_push(f.dq, &c, 16), 0);
		/* The device scribbles over the table it was given. */
		uint64_t a;
		memcpy(&a, f.areas.desc, 8);
		unsigned char *table = (unsigned char *)(uintptr_t)(vtio_le64(a) - REC_BUS_OFF);
		for (int k = 0; k < 3; k++) {
			uint64_t bogus =
			    vtio_le64(fx_addr(buf) + REC_BUS_OFF + 4096u * (unsigned)(k + 1));
			uint32_t blen = vtio_le32(999);
			memcpy(table + 16 * k, &bogus, 8);
			memcpy(table + 16 * k + 8, &blen, 4);
			table[16 * k + 12] ^= 0xff;
			table[16 * k + 14] ^= 0xff;
		}
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)0x50);
		assert_int_equal(bad_unmaps, 0);
		assert_int_equal(unmaps, 4);
		assert_int_equal(live_maps(), 0);
		fx_teardown(&f);
	}
}

/* Finding 8: a direct layer with an offset is linear: buffers and tables get
 * cpu + offset inline; the round trip works through the offset view. */
static void test_linear_stack_inline_offset(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct vtio_dma_dev *ldev = rec_make_linear_dev();
		for (int premapped = 0; premapped < 2; premapped++) {
			struct fx f;
			struct fx_opts o = {.dma = ldev,
					    .bus_offset = REC_BUS_OFF,
					    .vq_flags = premapped ? VTIO_VQ_F_PREMAPPED : 0u,
					    .indirect_tables = 2,
					    .indirect_max = 4,
					    .indirect_threshold = 3};
			assert_int_equal(fx_setup(&f, L, 8, FEAT_AP_IND, &o), 0);
			unsigned char *buf = fx_alloc(&f, 64, 16);
			uint64_t off = premapped ? REC_BUS_OFF : 0u; /* what the caller adds */
			struct vtio_sg sg[3];
			for (int k = 0; k < 3; k++) {
				sg[k].addr = fx_addr(buf + 16 * k) + off;
				sg[k].len = 16;
			}
			for (int round = 0; round < 20; round++) {
				unsigned n = 1 + (unsigned)round % 3; /* 3: indirect */
				assert_int_equal(vtio_vq_add(f.vq, sg, 1, n - 1, (void *)0x60), 0);
				assert_int_equal(vtio_vq_kick(f.vq), 0);
				struct vtio_devq_chain c;
				fx_chain_init(&f, &c);
				assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
				assert_int_equal(c.rd_num, 1);
				assert_ptr_equal(c.rd[0].ptr, buf); /* bus = cpu + offset */
				assert_int_equal(c.wr_num, n - 1);
				assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
				assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)0x60);
			}
			assert_false(vtio_vq_is_broken(f.vq));
			assert_false(vtio_devq_is_broken(f.dq));
			fx_teardown(&f);
		}
	}
}

/* Finding 3: the layout arithmetic is 64-bit. 4096 tables of 65536 entries
 * are 2^32 bytes of tables alone: 0 on a 32-bit host (it wrapped to a small
 * size before), the full size on a 64-bit one; init refuses a buffer of the
 * wrapped size either way. */
static void test_state_size_does_not_wrap(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		size_t sz = vtio_vq_state_size(L, 256, 4096, 65536);
		uint64_t tables = (uint64_t)4096 * 65536 * 16;
		if ((uint64_t)SIZE_MAX < tables)
			assert_int_equal(sz, 0);
		else
			assert_true((uint64_t)sz > tables);
		/* Just under the size_t limit on 32-bit hosts as well. */
		size_t sz2 = vtio_vq_state_size(L, 256, 65536, 65536);
		if ((uint64_t)SIZE_MAX < (uint64_t)65536 * 65536 * 16)
			assert_int_equal(sz2, 0);
		size_t small = 1u << 16;
		void *st = aligned_alloc(16, small);
		assert_non_null(st);
		struct vtio_vq_config vc;
		memset(&vc, 0, sizeof(vc));
		static unsigned char ring[16384] __attribute__((aligned(4096)));
		vc.layout = L;
		vc.num = 256;
		vc.features = FX_MODERN | VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
		assert_int_equal(vtio_vq_areas_in(L, 256, 4096, ring, fx_addr(ring), &vc.areas), 0);
		vc.indirect_tables = 4096;
		vc.indirect_max = 65536;
		vc.notify = fx_kick_cb;
		struct vtio_vq *vq = (struct vtio_vq *)(uintptr_t)1;
		assert_int_equal(vtio_vq_init(&vq, st, small, &vc), VTIO_EINVAL);
		assert_null(vq);
		free(st);
	}
}

/* Finding 4 (SPLIT-DRV-7, SPLIT-DRV-16): two writable segments of 2 GiB make
 * exactly 4 GiB, which vtio_vq_add accepts; a used length of UINT32_MAX is
 * within the buffer and must not be clamped (the sum wrapped to 0 before). */
static void test_writable_len_of_4gib(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, FX_MODERN, NULL), 0);
	fx_add_4gib_writable(&f, (void *)0x70);
	fx_hand_first_used(&f, 0, UINT32_MAX); /* used->ring[0] = {0, UINT32_MAX}, idx 1 */
	uint32_t got = 0;
	assert_ptr_equal(vtio_vq_get_used(f.vq, &got), (void *)0x70);
	assert_true(got == UINT32_MAX);
	struct vtio_vq_stats st;
	vtio_vq_get_stats(f.vq, &st);
	assert_int_equal(st.len_clamped, 0);
	fx_teardown(&f);
}

/* ---- Device side ---------------------------------------------------------------- */

/* Finding 7 (SPLIT-DEV-8): avail->idx jumps by more than the queue size; the
 * device notices inside enable_notify (or more_avail), which can only return
 * a bool. The next pop returns VTIO_EPROTO once, then VTIO_EIO. */
static void test_devq_breaking_error_returned_once(void **state)
{
	(void)state;
	for (int where = 0; where < 2; where++) {
		struct fx f;
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, FX_MODERN, NULL), 0);
		uint16_t idx = vtio_le16(100);
		memcpy((unsigned char *)f.areas.driver + 2, &idx, 2);
		if (where == 0)
			assert_false(vtio_devq_enable_notify(f.dq));
		else
			assert_false(vtio_devq_more_avail(f.dq));
		assert_true(vtio_devq_is_broken(f.dq));
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EPROTO);
		assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EIO);
		/* reset clears it */
		vtio_devq_reset(f.dq);
		idx = 0;
		memcpy((unsigned char *)f.areas.driver + 2, &idx, 2);
		assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EAGAIN);
		fx_teardown(&f);
	}
}

/* Finding 7: an error a pop returns itself is not returned a second time. */
static void test_devq_pop_error_not_repeated(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, FX_MODERN, NULL), 0);
	uint16_t idx = vtio_le16(100);
	memcpy((unsigned char *)f.areas.driver + 2, &idx, 2);
	struct vtio_devq_chain c;
	fx_chain_init(&f, &c);
	assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EPROTO);
	assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EIO);
	fx_teardown(&f);
}

/* Finding 7: an accessor-only device view is probed at init: an area whose
 * first or last byte is not readable through the view gives VTIO_EFAULT
 * (accepted before, found only at the first access). */
static void test_devq_init_probes_accessor_view(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct vtio_vq_area_sizes s;
		assert_int_equal(vtio_vq_area_sizes(L, 8, &s), 0);
		/* Where fx_setup carves the areas (offsets in its arena). */
		struct fx probe;
		assert_int_equal(fx_setup(&probe, L, 8, FX_MODERN, NULL), 0);
		uint64_t base[3] = {probe.areas.desc_addr - fx_addr(probe.arena),
				    probe.areas.driver_addr - fx_addr(probe.arena),
				    probe.areas.device_addr - fx_addr(probe.arena)};
		fx_teardown(&probe);
		size_t size[3] = {s.desc, s.driver, s.device};
		for (int a = 0; a < 3; a++) {
			for (int end = 0; end < 2; end++) {
				struct fx f;
				struct fx_opts o = {.dev_mem = fx_fault_view(&fctx, &f)};
				fctx.relative = true;
				fctx.rd_lo = base[a] + (end ? size[a] - 1u : 0u);
				fctx.rd_hi = fctx.rd_lo + 1u;
				assert_int_equal(fx_setup(&f, L, 8, FX_MODERN, &o), VTIO_EFAULT);
				fx_teardown(&f);
			}
		}
		/* The whole view readable: accepted. */
		struct fx f;
		struct fx_opts o = {.dev_mem = fx_fault_view(&fctx, &f)};
		assert_int_equal(fx_setup(&f, L, 8, FX_MODERN, &o), 0);
		fx_teardown(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_drv_used_elem_unreadable_breaks),
	    cmocka_unit_test(test_drv_used_idx_unreadable_breaks),
	    cmocka_unit_test(test_drv_avail_idx_unwritable_breaks),
	    cmocka_unit_test(test_drv_add_unwritable_breaks),
	    cmocka_unit_test(test_drv_init_zeroing_fails),
	    cmocka_unit_test(test_drv_reset_zeroing_fails),
	    cmocka_unit_test(test_ring_mem_without_cpu_pointers),
	    cmocka_unit_test(test_premapped_queue_maps_indirect_tables),
	    cmocka_unit_test(test_indirect_unmap_uses_private_records),
	    cmocka_unit_test(test_linear_stack_inline_offset),
	    cmocka_unit_test(test_state_size_does_not_wrap),
	    cmocka_unit_test(test_writable_len_of_4gib),
	    cmocka_unit_test(test_devq_breaking_error_returned_once),
	    cmocka_unit_test(test_devq_pop_error_not_repeated),
	    cmocka_unit_test(test_devq_init_probes_accessor_view),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
