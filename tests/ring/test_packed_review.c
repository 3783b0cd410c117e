/* Review findings on the packed driver (vq_packed.c), each test failing on
 * the code before its fix:
 *  1. a DMA map failure partway through a chain must leave nothing the
 *     device could read as available (CHECKLIST 3.15, PACKED-DRV-7/9/12):
 *     before, the flags of the non-head descriptors already written kept
 *     "available" bits for the lap, so a later shorter buffer made the
 *     device walk into them (VTIO_EPROTO, or stale addresses of unmapped
 *     buffers when the chain straddled the wrap);
 *  2. the writable length of a buffer is summed in 64 bits and saturated:
 *     two writable 2 GiB segments are 4 GiB, not 0 (PACKED-DRV-15/16);
 *  3. ring accesses through a ring_mem view that fail break the queue
 *     instead of reading 0 (a flags read of 0 is "used" on a lap whose
 *     used wrap counter is 0: the token of a buffer the device still owns)
 *     or losing a write (kick decisions, event suppression, descriptors);
 *  4. a linear DMA stack (direct layer with an offset, mapped inline by the
 *     ring core) puts bus addresses, not CPU addresses, in the ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ring_fixture.h"
#include "vtio/dma.h"
#include "vtio/dma_layers.h"
#include "ring_dma_recorder.h"

static const uint64_t FEAT_AP = FX_MODERN | VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM);

/* ---- A ring_mem view that refuses chosen ranges (offsets in the arena) ---------- */

static struct fx_fault fctx; /* the refusing view of the current test */

static void fail_reads(uint64_t lo, uint64_t hi)
{
	fctx.rd_lo = lo;
	fctx.rd_hi = hi;
}

static void fail_writes(uint64_t lo, uint64_t hi)
{
	fctx.wr_lo = lo;
	fctx.wr_hi = hi;
}

/* ---- Finding 1: map failure partway through a chain --------------------------------- */

/*
 * CHECKLIST 3.15, PACKED-DRV-7/9/12. A 3-segment add whose 2nd or 3rd map
 * fails returns the error, unmaps what it mapped and leaves the descriptor
 * ring byte for byte as it was. Then a SHORTER buffer at the same head is
 * popped by the device, and the device's next pop finds nothing (before:
 * slot head+1 still read as available + NEXT: VTIO_EPROTO, or, when the
 * failed chain straddled the wrap, a chain of stale unmapped addresses).
 * Runs with and without IN_ORDER, with the head at slot 0 and at num-1.
 */
static void test_map_failure_partway_leaves_ring_untouched(void **state)
{
	(void)state;
	const uint32_t num = 8;
	for (int in_order = 0; in_order < 2; in_order++)
		for (unsigned prefix = 0; prefix < num; prefix += num - 1u)
			for (unsigned bad = 2; bad <= 3; bad++) {
				struct fx f;
				struct fx_opts o = {.dma = rec_make_dev(),
						    .bus_offset = REC_BUS_OFF};
				uint64_t feat =
				    FEAT_AP | (in_order ? VTIO_FEATURE(VTIO_F_IN_ORDER) : 0u);
				assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, num, feat, &o),
						 0);
				unsigned char *buf = fx_alloc(&f, 256, 16);
				struct vtio_sg sg[3] = {vtio_sg_of(buf, 16),
							vtio_sg_of(buf + 64, 32),
							vtio_sg_of(buf + 128, 48)};
				/* Move the head to slot @prefix. */
				for (unsigned k = 0; k < prefix; k++)
					fx_round_trip(&f, sg, 1, 0, (void *)0x50, 0);
				unsigned char before[16 * 8];
				memcpy(before, f.areas.desc, sizeof(before));

				fail_at = maps + bad;
				assert_int_equal(vtio_vq_add(f.vq, sg, 1, 2, (void *)0x60),
						 VTIO_ENOMEM);
				fail_at = 0;
				assert_int_equal(rec_live(), 0); /* the maps done were undone */
				assert_int_equal(vtio_vq_num_free(f.vq), num);
				assert_false(vtio_vq_is_broken(f.vq));
				/* Nothing of the failed buffer reached the ring. */
				assert_memory_equal(f.areas.desc, before, sizeof(before));
				for (uint32_t s = 0; s < num; s++)
					assert_int_equal(fx_pdesc_flags(&f, s) & VTIO_DESC_F_NEXT,
							 0);

				/* A shorter buffer at the same head, then nothing more. */
				fx_round_trip(&f, sg, 1, 0, (void *)0x70, 0);
				struct vtio_devq_chain c;
				fx_chain_init(&f, &c);
				assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EAGAIN);
				assert_false(vtio_devq_is_broken(f.dq));

				/* The queue still carries the full chain afterwards. */
				fx_round_trip(&f, sg, 1, 2, (void *)0x80, 80);
				assert_int_equal(rec_live(), 0);
				assert_false(vtio_vq_is_broken(f.vq));
				assert_false(vtio_devq_is_broken(f.dq));
				fx_teardown(&f);
			}
}

/* ---- Finding 2: 4 GiB of writable bytes --------------------------------------------- */

/*
 * PACKED-DRV-15/16: two writable segments of 2 GiB (vtio_vq_add accepts a
 * buffer of exactly 4 GiB) never touched by anyone: the device's answer is
 * written by hand with len UINT32_MAX, which is within the buffer and must
 * come back unclamped (the uint32 sum wrapped to 0, clamping every len to 0).
 */
static void test_writable_len_of_4gib(void **state)
{
	(void)state;
	for (int in_order = 0; in_order < 2; in_order++) {
		struct fx f;
		uint64_t feat = FX_MODERN | (in_order ? VTIO_FEATURE(VTIO_F_IN_ORDER) : 0u);
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 8, feat, NULL), 0);
		fx_add_4gib_writable(&f, (void *)0x70);
		fx_hand_first_used(&f, 0, UINT32_MAX); /* id 0 over slot 0, wrap 1 */
		uint32_t got = 0;
		assert_ptr_equal(vtio_vq_get_used(f.vq, &got), (void *)0x70);
		assert_true(got == UINT32_MAX);
		struct vtio_vq_stats st;
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.len_clamped, 0);
		assert_false(vtio_vq_is_broken(f.vq));
		assert_int_equal(vtio_vq_num_free(f.vq), 8);
		fx_teardown(&f);
	}
}

/* ---- Finding 3: ring_mem errors ----------------------------------------------------- */

/* Two buffers round trip on a 2-slot ring: the driver's used wrap counter is 0 after. */
static void second_lap(struct fx *f, unsigned char *buf)
{
	struct vtio_sg sg = vtio_sg_of(buf, 16);
	fx_round_trip(f, &sg, 0, 1, (void *)0x10, 4);
	fx_round_trip(f, &sg, 0, 1, (void *)0x20, 4);
}

/*
 * PACKED-DRV-14 with a ring view that refuses the flags of the slot the
 * driver reaps next, on a lap whose used wrap counter is 0: the buffer was
 * made available and never used. A flags read taken as 0 means AVAIL ==
 * USED == 0 == wrap: "used", and the driver handed back its token while the
 * device still owned it. Now: no token, the queue breaks with the read error.
 */
static void test_used_flags_unreadable_breaks(void **state)
{
	(void)state;
	struct fx f;
	unsigned char *buf = fx_setup_faulty(&f, &fctx, VTIO_LAYOUT_PACKED, 2, FX_MODERN);
	second_lap(&f, buf);
	struct vtio_sg sg = vtio_sg_of(buf, 16);
	assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)0x30), 0);
	assert_int_equal(vtio_vq_kick(f.vq), 0);
	assert_null(vtio_vq_get_used(f.vq, NULL)); /* readable: not used yet */
	fail_reads(f.areas.desc_addr + 14u, f.areas.desc_addr + 16u);
	assert_true(vtio_vq_more_used(f.vq)); /* a read error: get_used will tell */
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_true(vtio_vq_is_broken(f.vq));
	assert_string_equal(vtio_vq_broken_reason(f.vq), "ring memory not readable");
	assert_false(vtio_vq_more_used(f.vq));
	/* The token comes back once, through detach. */
	assert_ptr_equal(vtio_vq_detach_unused(f.vq), (void *)0x30);
	assert_null(vtio_vq_detach_unused(f.vq));
	fx_teardown(&f);
}

/* PACKED-DRV-14: the used descriptor's id/len unreadable (flags readable). */
static void test_used_id_len_unreadable_breaks(void **state)
{
	(void)state;
	struct fx f;
	unsigned char *buf = fx_setup_faulty(&f, &fctx, VTIO_LAYOUT_PACKED, 2, FX_MODERN);
	second_lap(&f, buf);
	struct vtio_sg sg = vtio_sg_of(buf, 16);
	assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)0x30), 0);
	assert_int_equal(vtio_vq_kick(f.vq), 0);
	struct vtio_devq_chain c;
	fx_chain_init(&f, &c);
	assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
	assert_int_equal(vtio_devq_push(f.dq, &c, 4), 0);
	fail_reads(f.areas.desc_addr + 8u, f.areas.desc_addr + 14u);
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_true(vtio_vq_is_broken(f.vq));
	assert_string_equal(vtio_vq_broken_reason(f.vq), "ring memory not readable");
	assert_ptr_equal(vtio_vq_detach_unused(f.vq), (void *)0x30);
	fx_teardown(&f);
}

/*
 * NOTIF-DRV-3: the device event area unreadable at kick time. Reading it as
 * 0 (ENABLE) happened to notify; with EVENT_IDX and DESC, off_wrap read as 0
 * could suppress a needed kick. Either way the queue is dead: kick reports
 * VTIO_EIO and notifies nobody.
 */
static void test_kick_event_area_unreadable_breaks(void **state)
{
	(void)state;
	for (int evidx = 0; evidx < 2; evidx++) {
		struct fx f;
		uint64_t feat = FX_MODERN | (evidx ? VTIO_FEATURE(VTIO_F_EVENT_IDX) : 0u);
		unsigned char *buf = fx_setup_faulty(&f, &fctx, VTIO_LAYOUT_PACKED, 8, feat);
		struct vtio_sg sg = vtio_sg_of(buf, 16);
		if (evidx) {
			/* The device asks for a kick at a given slot: flags DESC. */
			assert_true(vtio_devq_enable_notify(f.dq));
			fail_reads(f.areas.device_addr, f.areas.device_addr + 2u); /* off_wrap */
		} else {
			fail_reads(f.areas.device_addr + 2u, f.areas.device_addr + 4u); /* flags */
		}
		assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, (void *)0x10), 0);
		assert_int_equal(vtio_vq_kick(f.vq), VTIO_EIO);
		assert_int_equal(f.kicks, 0);
		assert_true(vtio_vq_is_broken(f.vq));
		assert_string_equal(vtio_vq_broken_reason(f.vq), "ring memory not readable");
		fx_teardown(&f);
	}
}

/*
 * EVT-DRV-7/9: a lost write of the driver event area (flags or off_wrap)
 * would leave interrupts off (or on) behind the caller's back: the queue
 * breaks and vtio_vq_enable_cb() returns true like any broken queue.
 */
static void test_event_suppression_unwritable_breaks(void **state)
{
	(void)state;
	for (int which = 0; which < 3; which++) {
		struct fx f;
		uint64_t feat = FX_MODERN | (which == 2 ? VTIO_FEATURE(VTIO_F_EVENT_IDX) : 0u);
		(void)fx_setup_faulty(&f, &fctx, VTIO_LAYOUT_PACKED, 8, feat);
		if (which == 0) {
			fail_writes(f.areas.driver_addr + 2u, f.areas.driver_addr + 4u);
			vtio_vq_disable_cb(f.vq);
		} else if (which == 1) {
			vtio_vq_disable_cb(f.vq);
			assert_false(vtio_vq_is_broken(f.vq));
			fail_writes(f.areas.driver_addr + 2u, f.areas.driver_addr + 4u);
			assert_true(vtio_vq_enable_cb(f.vq));
		} else {
			fail_writes(f.areas.driver_addr, f.areas.driver_addr + 2u); /* off_wrap */
			assert_true(vtio_vq_enable_cb(f.vq));
		}
		assert_true(vtio_vq_is_broken(f.vq));
		assert_string_equal(vtio_vq_broken_reason(f.vq), "ring memory not writable");
		fx_teardown(&f);
	}
}

/*
 * PACKED-DRV-7/8: descriptor writes that fail (a descriptor, a non-head
 * flags field, the head's flags; direct and indirect): the add fails with
 * VTIO_EFAULT, the queue breaks, nothing stays in flight (no token for
 * detach: the caller still owns the buffer) and every mapping is undone.
 */
static void test_add_unwritable_breaks(void **state)
{
	(void)state;
	for (int which = 0; which < 4; which++) {
		struct fx f;
		struct fx_opts o = {.ring_mem = fx_fault_view(&fctx, &f),
				    .dma = rec_make_dev(),
				    .bus_offset = REC_BUS_OFF,
				    .indirect_tables = 2,
				    .indirect_max = 4,
				    .indirect_threshold = 3};
		uint64_t feat = FEAT_AP | VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 8, feat, &o), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		struct vtio_sg sg[3] = {vtio_sg_of(buf, 16), vtio_sg_of(buf + 16, 16),
					vtio_sg_of(buf + 32, 16)};
		uint64_t d = f.areas.desc_addr;
		unsigned n = 2;
		if (which == 0) {
			fail_writes(d + 16u, d + 30u); /* slot 1's addr/len/id */
		} else if (which == 1) {
			fail_writes(d + 30u, d + 32u); /* slot 1's flags */
		} else if (which == 2) {
			fail_writes(d + 14u, d + 16u); /* the head's flags */
		} else {
			fail_writes(d, d + 16u); /* the indirect descriptor */
			n = 3;
		}
		assert_int_equal(vtio_vq_add(f.vq, sg, 1, n - 1u, (void *)0x10), VTIO_EFAULT);
		assert_true(vtio_vq_is_broken(f.vq));
		assert_string_equal(vtio_vq_broken_reason(f.vq), "ring memory not writable");
		assert_null(vtio_vq_detach_unused(f.vq));
		assert_int_equal(rec_live(), 0);
		assert_int_equal(vtio_vq_num_free(f.vq), 8);
		fx_teardown(&f);
	}
}

/* ---- Finding 4: linear DMA stack -------------------------------------------------- */

/*
 * A direct DMA layer with an offset is a linear stack: the ring core adds
 * the offset inline (no map call). The packed ring carried the CPU address
 * (the fixture's device view aliases both, which hid it): check the bytes.
 */
static void test_linear_stack_bus_addresses_in_ring(void **state)
{
	(void)state;
	struct vtio_dma_dev *ldev = rec_make_linear_dev();
	struct fx f;
	struct fx_opts o = {.dma = ldev, .bus_offset = REC_BUS_OFF};
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 8, FEAT_AP, &o), 0);
	unsigned char *buf = fx_alloc(&f, 64, 16);
	struct vtio_sg sg[2] = {vtio_sg_of(buf, 16), vtio_sg_of(buf + 16, 16)};
	assert_int_equal(vtio_vq_add(f.vq, sg, 1, 1, (void *)0x10), 0);
	for (unsigned k = 0; k < 2; k++) {
		uint64_t a;
		memcpy(&a, (unsigned char *)f.areas.desc + 16u * k, 8);
		assert_int_equal(vtio_le64(a), fx_addr(buf + 16u * k) + REC_BUS_OFF);
	}
	assert_int_equal(vtio_vq_kick(f.vq), 0);
	struct vtio_devq_chain c;
	fx_chain_init(&f, &c);
	assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
	assert_int_equal(c.rd[0].addr, fx_addr(buf) + REC_BUS_OFF);
	assert_int_equal(c.wr[0].addr, fx_addr(buf + 16) + REC_BUS_OFF);
	assert_int_equal(vtio_devq_push(f.dq, &c, 16), 0);
	assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)0x10);
	/* One segment (the straight-line add) at slot 2. */
	assert_int_equal(vtio_vq_add(f.vq, sg, 1, 0, (void *)0x20), 0);
	uint64_t a;
	memcpy(&a, (unsigned char *)f.areas.desc + 32u, 8);
	assert_int_equal(vtio_le64(a), fx_addr(buf) + REC_BUS_OFF);
	fx_chain_init(&f, &c);
	assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
	assert_int_equal(c.rd[0].addr, fx_addr(buf) + REC_BUS_OFF);
	assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
	assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)0x20);
	fx_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_map_failure_partway_leaves_ring_untouched),
	    cmocka_unit_test(test_writable_len_of_4gib),
	    cmocka_unit_test(test_used_flags_unreadable_breaks),
	    cmocka_unit_test(test_used_id_len_unreadable_breaks),
	    cmocka_unit_test(test_kick_event_area_unreadable_breaks),
	    cmocka_unit_test(test_event_suppression_unwritable_breaks),
	    cmocka_unit_test(test_add_unwritable_breaks),
	    cmocka_unit_test(test_linear_stack_bus_addresses_in_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
