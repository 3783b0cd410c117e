/* VIRTIO_F_RING_RESET at the ring level, for every compiled layout: one
 * queue is reset and re-enabled while another keeps running; every token
 * in flight comes back exactly once (reaped before the reset, or through
 * vtio_vq_detach_unused()), the driver refuses to reset while buffers are
 * in flight, the ring memory and both sides' state return to their
 * defaults, and the queue works again afterwards, also with a new size.
 *
 * Checklist: RESET-DRV-2/3/5, RESET-DEV-3/4/5, RESET-DRV-6 (the feature
 * gates the transport's per-queue reset; at this level a queue can always
 * be reset), CHECKLIST 3.17. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ring_fixture.h"

#define RR (FX_MODERN | VTIO_FEATURE(VTIO_F_RING_RESET))

/* One full round trip on @f: the queue that keeps running. */
static void round_trip(struct fx *f)
{
	int tok;
	struct vtio_devq_chain c;
	fx_add_segs(f, 1, 1, 16, &tok);
	assert_int_equal(vtio_vq_kick(f->vq), 0);
	fx_pop(f, &c);
	assert_int_equal(vtio_devq_push(f->dq, &c, 16), 0);
	assert_int_equal(vtio_devq_kick(f->dq), 0);
	uint32_t len;
	assert_ptr_equal(vtio_vq_get_used(f->vq, &len), &tok);
	assert_int_equal(len, 16);
	assert_false(vtio_vq_is_broken(f->vq));
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* Reset @f's queue: device side first (the queue is no longer live,
 * RESET-DRV-3), then take back every token, then reset the driver side.
 * Counts returns in @ret (indexed by token - base). */
static void reset_queue(struct fx *f, int *base, unsigned n, unsigned *ret)
{
	vtio_devq_reset(f->dq);
	/* RESET-DRV-5: not while buffers are in flight */
	bool busy = vtio_vq_num_free(f->vq) != f->num;
	if (busy)
		assert_int_equal(vtio_vq_reset(f->vq), VTIO_EBUSY);
	int *t;
	while ((t = vtio_vq_detach_unused(f->vq)) != NULL) {
		assert_true(t >= base && t < base + n);
		ret[t - base]++;
	}
	assert_int_equal(vtio_vq_num_free(f->vq), f->num);
	assert_int_equal(vtio_vq_reset(f->vq), 0);
	/* RESET-DRV-5 / 3.17: ring memory re-zeroed */
	struct vtio_vq_area_sizes s;
	assert_int_equal(vtio_vq_area_sizes(f->layout, f->num, &s), 0);
	assert_true(all_zero(f->areas.desc, s.desc));
	assert_true(all_zero(f->areas.driver, s.driver));
	assert_true(all_zero(f->areas.device, s.device));
	assert_false(vtio_devq_more_avail(f->dq));
	assert_null(vtio_vq_get_used(f->vq, NULL));
}

/* RESET-DRV-2/3, RESET-DEV-4: reset with buffers in every state (available
 * and not popped, popped and not used, used and not reaped, reaped) while
 * the other queue keeps running; each token back exactly once. */
static void test_reset_tokens_once(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx q0, q1;
		assert_int_equal(fx_setup(&q0, L, 8, RR, NULL), 0);
		assert_int_equal(fx_setup(&q1, L, 8, RR, NULL), 0);
		int tok[6];
		unsigned ret[6] = {0};
		for (int i = 0; i < 6; i++) /* 8 descriptors */
			fx_add_segs(&q0, 1, (unsigned)(i == 1 || i == 4), 16, &tok[i]);
		assert_int_equal(vtio_vq_kick(q0.vq), 0);
		round_trip(&q1);
		struct vtio_devq_chain c[3];
		for (int i = 0; i < 3; i++)
			fx_pop(&q0, &c[i]);
		assert_int_equal(vtio_devq_push(q0.dq, &c[1], 0), 0); /* used */
		assert_int_equal(vtio_devq_push(q0.dq, &c[0], 0), 0); /* used, reaped below */
		round_trip(&q1);
		int *t = vtio_vq_get_used(q0.vq, NULL);
		assert_true(t == &tok[1]);
		ret[1]++;
		reset_queue(&q0, tok, 6, ret);
		for (int i = 0; i < 6; i++)
			assert_int_equal(ret[i], 1);
		round_trip(&q1);
		/* re-enabled: works from the default state again */
		for (int i = 0; i < 3 * 8; i++) {
			round_trip(&q0);
			round_trip(&q1);
		}
		assert_false(vtio_devq_is_broken(q0.dq));
		assert_false(vtio_devq_is_broken(q1.dq));
		fx_teardown(&q0);
		fx_teardown(&q1);
	}
}

/* RESET-DEV-4: after the reset the indices and wrap counters are back to
 * their defaults on both sides: packed, the first descriptor made
 * available again sits in slot 0 with AVAIL=1/USED=0 even though the
 * queue was reset in its second lap; split, avail->idx restarts at 1. */
static void test_reset_defaults(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx q;
		assert_int_equal(fx_setup(&q, L, 4, RR, NULL), 0);
		for (int i = 0; i < 5; i++) /* into the second lap */
			round_trip(&q);
		int tok;
		unsigned ret[1] = {0};
		fx_add_segs(&q, 2, 0, 16, &tok);
		reset_queue(&q, &tok, 1, ret);
		assert_int_equal(ret[0], 1);
		fx_add_segs(&q, 1, 0, 16, &tok);
		assert_int_equal(vtio_vq_kick(q.vq), 0);
		if (L == VTIO_LAYOUT_PACKED) {
			uint16_t fl;
			memcpy(&fl, (unsigned char *)q.areas.desc + 14, 2);
			assert_int_equal(vtio_le16(fl), VTIO_DESC_F_AVAIL);
		} else {
			uint16_t idx;
			memcpy(&idx, (unsigned char *)q.areas.driver + 2, 2);
			assert_int_equal(vtio_le16(idx), 1);
		}
		struct vtio_devq_chain c;
		fx_pop(&q, &c);
		assert_int_equal(vtio_devq_push(q.dq, &c, 0), 0);
		assert_ptr_equal(vtio_vq_get_used(q.vq, NULL), &tok);
		fx_teardown(&q);
	}
}

/* RESET-DRV-5 / RESET-DEV-5: re-enable with another size (new state and
 * areas, both sides initialised again) while the other queue runs. */
static void test_reset_new_size(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx q0, q1;
		assert_int_equal(fx_setup(&q0, L, 16, RR, NULL), 0);
		assert_int_equal(fx_setup(&q1, L, 8, RR, NULL), 0);
		int tok[4];
		unsigned ret[4] = {0};
		for (int i = 0; i < 4; i++)
			fx_add_segs(&q0, 1, 1, 16, &tok[i]);
		round_trip(&q1);
		reset_queue(&q0, tok, 4, ret);
		for (int i = 0; i < 4; i++)
			assert_int_equal(ret[i], 1);
		fx_teardown(&q0);
		uint32_t newnum = L == VTIO_LAYOUT_PACKED ? 5u : 4u;
		assert_int_equal(fx_setup(&q0, L, newnum, RR, NULL), 0);
		for (int i = 0; i < 20; i++) {
			round_trip(&q0);
			round_trip(&q1);
		}
		fx_teardown(&q0);
		fx_teardown(&q1);
	}
}

/* Reset in the middle of an IN_ORDER batch and with indirect tables in
 * flight: the tokens of the batch not yet reaped and of the indirect
 * buffers come back once, and the tables are all free again afterwards. */
static void test_reset_in_order_indirect(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx q;
		struct fx_opts o = {
		    .indirect_tables = 2, .indirect_max = 4, .indirect_threshold = 3};
		assert_int_equal(fx_setup(&q, L, 8,
					  RR | VTIO_FEATURE(VTIO_F_IN_ORDER) |
					      VTIO_FEATURE(VTIO_F_INDIRECT_DESC),
					  &o),
				 0);
		int tok[5];
		unsigned ret[5] = {0};
		fx_add_segs(&q, 1, 0, 16, &tok[0]);
		fx_add_segs(&q, 1, 0, 16, &tok[1]);
		fx_add_segs(&q, 1, 0, 16, &tok[2]);
		fx_add_segs(&q, 1, 2, 16, &tok[3]); /* indirect */
		fx_add_segs(&q, 2, 1, 16, &tok[4]); /* indirect */
		assert_int_equal(vtio_vq_kick(q.vq), 0);
		struct vtio_devq_chain c[3];
		struct vtio_devq_done u[3];
		for (int i = 0; i < 3; i++) {
			fx_pop(&q, &c[i]);
			u[i].h = vtio_devq_handle_of(&c[i]);
			u[i].len = 0;
		}
		assert_int_equal(vtio_devq_push_batch(q.dq, u, 3), 0);
		int *t = vtio_vq_get_used(q.vq, NULL);
		assert_true(t == &tok[0]);
		ret[0]++;
		reset_queue(&q, tok, 5, ret);
		for (int i = 0; i < 5; i++)
			assert_int_equal(ret[i], 1);
		/* both tables free again: two indirect buffers fit */
		fx_add_segs(&q, 1, 2, 16, &tok[0]);
		fx_add_segs(&q, 1, 2, 16, &tok[1]);
		assert_int_equal(vtio_vq_kick(q.vq), 0);
		assert_int_equal(vtio_vq_num_free(q.vq), 6);
		for (int i = 0; i < 2; i++) {
			fx_pop(&q, &c[i]);
			assert_int_equal(c[i].ndesc, 1);
			assert_int_equal(vtio_devq_push(q.dq, &c[i], 0), 0);
		}
		assert_ptr_equal(vtio_vq_get_used(q.vq, NULL), &tok[0]);
		assert_ptr_equal(vtio_vq_get_used(q.vq, NULL), &tok[1]);
		assert_false(vtio_vq_is_broken(q.vq));
		fx_teardown(&q);
	}
}

/* A broken queue is repaired by the reset (the transport's recovery path). */
static void test_reset_clears_broken(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx q;
		assert_int_equal(fx_setup(&q, L, 4, RR, NULL), 0);
		int tok;
		unsigned ret[1] = {0};
		fx_add_segs(&q, 1, 0, 16, &tok);
		assert_int_equal(vtio_vq_kick(q.vq), 0);
		vtio_vq_set_broken(q.vq, "test");
		assert_true(vtio_vq_is_broken(q.vq));
		reset_queue(&q, &tok, 1, ret);
		assert_int_equal(ret[0], 1);
		assert_false(vtio_vq_is_broken(q.vq));
		round_trip(&q);
		fx_teardown(&q);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reset_tokens_once),
	    cmocka_unit_test(test_reset_defaults),
	    cmocka_unit_test(test_reset_new_size),
	    cmocka_unit_test(test_reset_in_order_indirect),
	    cmocka_unit_test(test_reset_clears_broken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
