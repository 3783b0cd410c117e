/* Hostile device corpus: the test plays a malicious device against the
 * driver side (vtio_vq, split layout), writing used entries and used->idx by
 * hand. The driver must never crash, never hand back a token that is not the
 * one of the buffer the entry names, never hand back a token twice, clamp a
 * used len larger than the writable size (vq.h: "clamped ... counted in the
 * stats"), and mark itself broken with a reason where vq.h says so (an id out
 * of range or not in flight). After it is broken, vtio_vq_add() returns
 * VTIO_EIO and vtio_vq_detach_unused() still hands back every token that
 * was not returned, each exactly once.
 *
 * Checklist IDs: SPLIT-DRV-15 (id < QS and outstanding), SPLIT-DRV-16 (no
 * bytes beyond len: the clamp), SPLIT-DRV-13 (never more than QS
 * outstanding: an idx jump cannot create buffers), INORD-* batching, section
 * 3 points 3 and 18.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/vq.h"
#include "hostile_ring.h"

#define MAXBUF HR_MAXBUF
#define SEG    HR_SEG

/* ---- Bad ids ---------------------------------------------------------------------- */

/* SPLIT-DRV-15: id >= num. */
static void test_used_id_ge_num(void **state)
{
	(void)state;
	struct hr_drv *d = hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, 0, 0, SEG);
	hr_add(d, 1, 1);
	hr_add(d, 1, 0);
	hr_used(d, 8, 0);
	assert_int_equal(hr_reap(d, -1, NULL), -1);
	hr_expect_broken(d);
	hr_drv_free(d);
}

/* id 0xffffffff and id 0x10000 + a valid head: an implementation that keeps
 * only 16 bits of the 32-bit id would return buffer 0's token. */
static void test_used_id_high_bits(void **state)
{
	(void)state;
	static const uint32_t bad[] = {0xffffffffu, 0x10000u, 0x80000000u};
	for (unsigned i = 0; i < 3; i++) {
		struct hr_drv *d = hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, 0, 0, SEG);
		unsigned k = hr_add(d, 1, 1);
		hr_used(d, bad[i] | d->head[k], 16);
		assert_int_equal(hr_reap(d, -1, NULL), -1);
		hr_expect_broken(d);
		hr_drv_free(d);
	}
}

/* SPLIT-DRV-15: id in range but not in flight (a free descriptor). */
static void test_used_id_not_in_flight(void **state)
{
	(void)state;
	struct hr_drv *d = hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, 0, 0, SEG);
	unsigned k = hr_add(d, 1, 1); /* two descriptors */
	uint16_t free_id = 0;
	while (free_id == d->head[k] || free_id == hr_chain_member(d, k, 1))
		free_id++;
	hr_used(d, free_id, 0);
	assert_int_equal(hr_reap(d, -1, NULL), -1);
	hr_expect_broken(d);
	hr_drv_free(d);
}

/* The id of a descriptor in the middle (and at the end) of a chain. */
static void test_used_id_mid_chain(void **state)
{
	(void)state;
	for (unsigned nth = 1; nth <= 2; nth++) {
		struct hr_drv *d = hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, 0, 0, SEG);
		unsigned k = hr_add(d, 2, 1); /* three descriptors */
		hr_used(d, hr_chain_member(d, k, nth), 0);
		assert_int_equal(hr_reap(d, -1, NULL), -1);
		hr_expect_broken(d);
		hr_drv_free(d);
	}
}

/* The same id twice: the first is fine, the second is no longer in flight. */
static void test_used_id_repeated(void **state)
{
	(void)state;
	struct hr_drv *d = hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, 0, 0, SEG);
	unsigned a = hr_add(d, 1, 1);
	hr_add(d, 1, 1);
	hr_used(d, d->head[a], 10);
	hr_used(d, d->head[a], 10);
	uint32_t len;
	assert_int_equal(hr_reap(d, (int)a, &len), (int)a);
	assert_int_equal(len, 10);
	assert_int_equal(hr_reap(d, -1, NULL), -1);
	hr_expect_broken(d);
	hr_drv_free(d);
}

/* An id already reaped earlier (stale) with nothing re-added. */
static void test_used_id_stale(void **state)
{
	(void)state;
	struct hr_drv *d = hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, 0, 0, SEG);
	unsigned a = hr_add(d, 1, 0);
	hr_used(d, d->head[a], 0);
	assert_int_equal(hr_reap(d, (int)a, NULL), (int)a);
	assert_false(vtio_vq_is_broken(d->vq));
	hr_used(d, d->head[a], 0);
	assert_int_equal(hr_reap(d, -1, NULL), -1);
	hr_expect_broken(d);
	hr_drv_free(d);
}

/* ---- Lengths ---------------------------------------------------------------------- */

/* SPLIT-DRV-16 / section 3 point 3: len larger than the writable size is
 * clamped and counted; the queue stays usable. */
static void test_used_len_clamped(void **state)
{
	(void)state;
	struct hr_drv *d = hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, 0, 0, SEG);
	unsigned a = hr_add(d, 1, 2); /* 128 writable */
	unsigned b = hr_add(d, 2, 0); /* read-only */
	unsigned c = hr_add(d, 0, 1); /* 64 writable */
	hr_used(d, d->head[a], 129);
	hr_used(d, d->head[b], 100);
	hr_used(d, d->head[c], 0xffffffffu);
	uint32_t len;
	assert_int_equal(hr_reap(d, (int)a, &len), (int)a);
	assert_int_equal(len, 128);
	assert_int_equal(hr_reap(d, (int)b, &len), (int)b);
	assert_int_equal(len, 0);
	assert_int_equal(hr_reap(d, (int)c, &len), (int)c);
	assert_int_equal(len, 64);
	struct vtio_vq_stats st;
	vtio_vq_get_stats(d->vq, &st);
	assert_int_equal(st.len_clamped, 3);
	assert_int_equal(st.used, 3);
	assert_false(vtio_vq_is_broken(d->vq));
	/* Exact and short lengths pass unchanged. */
	unsigned e = hr_add(d, 1, 1);
	hr_used(d, d->head[e], 64);
	assert_int_equal(hr_reap(d, (int)e, &len), (int)e);
	assert_int_equal(len, 64);
	vtio_vq_get_stats(d->vq, &st);
	assert_int_equal(st.len_clamped, 3);
	hr_drv_free(d);
}

/* Clamp for an indirect buffer: the writable size is the table's. */
static void test_used_len_clamped_indirect(void **state)
{
	(void)state;
	struct hr_drv *d =
	    hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, VTIO_FEATURE(VTIO_F_INDIRECT_DESC), 4, SEG);
	unsigned a = hr_add(d, 2, 2); /* 4 segments: at the default threshold of 2 */
	hr_used(d, d->head[a], 4096);
	uint32_t len;
	assert_int_equal(hr_reap(d, (int)a, &len), (int)a);
	assert_int_equal(len, 128);
	assert_false(vtio_vq_is_broken(d->vq));
	hr_drv_free(d);
}

/* ---- Index jumps ------------------------------------------------------------------- */

/* used->idx moves by more than the number in flight: the valid entries may
 * come back (correct tokens, once each), nothing else does, and the queue
 * ends broken. */
static void check_jump(uint16_t jump)
{
	struct hr_drv *d = hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, 0, 0, SEG);
	unsigned a = hr_add(d, 1, 0);
	unsigned b = hr_add(d, 1, 0);
	hr_used(d, d->head[a], 0);
	hr_used(d, d->head[b], 0);
	hr_set_used_idx(d, jump);
	int expect[2] = {(int)a, (int)b};
	unsigned got = 0;
	for (unsigned i = 0; i < 20; i++) {
		uint32_t l;
		void *t = vtio_vq_get_used(d->vq, &l);
		if (t == NULL)
			break;
		char *c = t;
		if (got >= 2 || c != &d->tok[expect[got]])
			fail_msg("jump %u: unexpected token", jump);
		d->returned[expect[got]]++;
		got++;
	}
	if (!vtio_vq_is_broken(d->vq))
		fail_msg("used idx jumped to %u with 2 in flight, queue not broken", jump);
	hr_expect_broken(d);
	hr_drv_free(d);
}

static void test_used_idx_jump(void **state)
{
	(void)state;
	check_jump(3);	    /* one stale entry past the two valid ones */
	check_jump(9);	    /* more than num */
	check_jump(0x8000); /* far */
	check_jump(0xffff); /* "backwards" by one from 0 */
}

/* used->idx moves while nothing is in flight. */
static void test_used_idx_moves_when_idle(void **state)
{
	(void)state;
	struct hr_drv *d = hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, 0, 0, SEG);
	hr_set_used_idx(d, 1);
	assert_int_equal(hr_reap(d, -1, NULL), -1);
	assert_true(vtio_vq_is_broken(d->vq));
	hr_expect_broken(d);
	hr_drv_free(d);
}

/* used->idx moves backwards after buffers were reaped. */
static void test_used_idx_backwards(void **state)
{
	(void)state;
	struct hr_drv *d = hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, 0, 0, SEG);
	for (unsigned i = 0; i < 3; i++) {
		unsigned k = hr_add(d, 1, 0);
		hr_used(d, d->head[k], 0);
		assert_int_equal(hr_reap(d, (int)k, NULL), (int)k);
	}
	hr_add(d, 1, 0);
	hr_set_used_idx(d, 1);
	assert_int_equal(hr_reap(d, -1, NULL), -1);
	hr_expect_broken(d);
	hr_drv_free(d);
}

/* A long valid run with the device completing out of order, through the
 * 16-bit wrap: every token comes back once, with its own len. */
static void test_out_of_order_ok(void **state)
{
	(void)state;
	struct hr_drv *d = hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, 0, 0, SEG);
	uint32_t x = 12345;
	unsigned inflight[8], n = 0, done = 0;
	for (unsigned round = 0; round < 200000; round++) {
		if (d->nadded == MAXBUF - 1) {
			/* Recycle buffer bookkeeping: nothing may be in flight. */
			while (n) {
				unsigned k = inflight[--n];
				hr_used(d, d->head[k], k);
				assert_int_equal(hr_reap(d, (int)k, NULL), (int)k);
			}
			memset(d->returned, 0, sizeof(d->returned));
			d->nadded = 0; /* hr_add() follows the running avail idx */
		}
		x = x * 1103515245u + 12345u;
		if (n < 4 && (x >> 16) % 3 != 0) {
			unsigned k = hr_add(d, 0, 1);
			inflight[n++] = k;
		} else if (n) {
			unsigned pick = (x >> 20) % n;
			unsigned k = inflight[pick];
			inflight[pick] = inflight[--n];
			hr_used(d, d->head[k], k % SEG);
			uint32_t len;
			assert_int_equal(hr_reap(d, (int)k, &len), (int)k);
			assert_int_equal(len, k % SEG);
			done++;
		}
	}
	assert_true(done > 70000); /* well past the 16-bit wrap */
	assert_false(vtio_vq_is_broken(d->vq));
	hr_drv_free(d);
}

/* ---- IN_ORDER (INORD-*, section 3 point 11) ------------------------------------- */

/* A legitimate batch: one entry with the last buffer's id, idx += 3. The
 * skipped buffers count as fully used; the last gets the reported len. */
static void test_in_order_batch_ok(void **state)
{
	(void)state;
	struct hr_drv *d =
	    hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, VTIO_FEATURE(VTIO_F_IN_ORDER), 0, SEG);
	unsigned a = hr_add(d, 0, 1), b = hr_add(d, 1, 1), c = hr_add(d, 0, 2);
	hr_used(d, d->head[c], 7);
	hr_set_used_idx(d, 3);
	uint32_t len;
	assert_int_equal(hr_reap(d, (int)a, &len), (int)a);
	assert_int_equal(len, d->wr_size[a]);
	assert_int_equal(hr_reap(d, (int)b, &len), (int)b);
	assert_int_equal(len, d->wr_size[b]);
	assert_int_equal(hr_reap(d, (int)c, &len), (int)c);
	assert_int_equal(len, 7);
	assert_int_equal(hr_reap(d, -1, NULL), -1);
	assert_false(vtio_vq_is_broken(d->vq));
	hr_drv_free(d);
}

/* IN_ORDER with an id that is not in flight. */
static void test_in_order_bad_id(void **state)
{
	(void)state;
	struct hr_drv *d =
	    hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, VTIO_FEATURE(VTIO_F_IN_ORDER), 0, SEG);
	hr_add(d, 0, 1);
	hr_add(d, 0, 1);
	hr_used(d, 6, 0);
	assert_int_equal(hr_reap(d, -1, NULL), -1);
	hr_expect_broken(d);
	hr_drv_free(d);
}

/* IN_ORDER with the id of a descriptor in the middle of a chain. */
static void test_in_order_mid_chain(void **state)
{
	(void)state;
	struct hr_drv *d =
	    hr_drv_setup(VTIO_LAYOUT_SPLIT, 8, VTIO_FEATURE(VTIO_F_IN_ORDER), 0, SEG);
	unsigned k = hr_add(d, 1, 2);
	hr_used(d, hr_chain_member(d, k, 1), 0);
	assert_int_equal(hr_reap(d, -1, NULL), -1);
	hr_expect_broken(d);
	hr_drv_free(d);
}

/* ---- Packed ring: the same classes ------------------------------------------------ */

/* PACKED-DRV-14: a used id >= num (and one with bit 15 set). */
static void test_packed_used_id_out_of_range(void **state)
{
	(void)state;
	static const uint16_t bad[] = {8, 0x8000, 0xffff};
	for (unsigned i = 0; i < 3; i++) {
		struct hr_drv *d =
		    hr_drv_setup(VTIO_LAYOUT_PACKED, 8, VTIO_FEATURE(VTIO_F_RING_PACKED), 0, SEG);
		unsigned k = hr_add(d, 1, 1);
		hr_pused(d, bad[i], 0, d->ndesc[k]);
		assert_int_equal(hr_reap(d, -1, NULL), -1);
		hr_expect_broken(d);
		hr_drv_free(d);
	}
}

/* A used id in range but not in flight. */
static void test_packed_used_id_not_in_flight(void **state)
{
	(void)state;
	struct hr_drv *d =
	    hr_drv_setup(VTIO_LAYOUT_PACKED, 8, VTIO_FEATURE(VTIO_F_RING_PACKED), 0, SEG);
	unsigned k = hr_add(d, 1, 1);
	uint16_t other = (uint16_t)((d->head[k] + 1) % 8);
	hr_pused(d, other, 0, 2);
	assert_int_equal(hr_reap(d, -1, NULL), -1);
	hr_expect_broken(d);
	hr_drv_free(d);
}

/* The same id used twice. */
static void test_packed_used_id_repeated(void **state)
{
	(void)state;
	struct hr_drv *d =
	    hr_drv_setup(VTIO_LAYOUT_PACKED, 8, VTIO_FEATURE(VTIO_F_RING_PACKED), 0, SEG);
	unsigned a = hr_add(d, 1, 1);
	hr_add(d, 1, 1);
	hr_pused(d, d->head[a], 5, d->ndesc[a]);
	hr_pused(d, d->head[a], 5, d->ndesc[a]);
	uint32_t len;
	assert_int_equal(hr_reap(d, (int)a, &len), (int)a);
	assert_int_equal(len, 5);
	assert_int_equal(hr_reap(d, -1, NULL), -1);
	hr_expect_broken(d);
	hr_drv_free(d);
}

/* Section 3 point 3 / PACKED-DRV-16: len larger than the writable size. */
static void test_packed_used_len_clamped(void **state)
{
	(void)state;
	struct hr_drv *d = hr_drv_setup(VTIO_LAYOUT_PACKED, 6, VTIO_FEATURE(VTIO_F_RING_PACKED), 0,
					SEG); /* packed sizes need not be powers of 2 */
	unsigned a = hr_add(d, 1, 2);
	unsigned b = hr_add(d, 2, 0);
	hr_pused(d, d->head[b], 77, d->ndesc[b]); /* out of order */
	hr_pused(d, d->head[a], 0xffffffffu, d->ndesc[a]);
	uint32_t len;
	assert_int_equal(hr_reap(d, (int)b, &len), (int)b);
	assert_int_equal(len, 0);
	assert_int_equal(hr_reap(d, (int)a, &len), (int)a);
	assert_int_equal(len, 128);
	struct vtio_vq_stats st;
	vtio_vq_get_stats(d->vq, &st);
	assert_int_equal(st.len_clamped, 2);
	assert_false(vtio_vq_is_broken(d->vq));
	hr_drv_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_used_id_ge_num),
	    cmocka_unit_test(test_used_id_high_bits),
	    cmocka_unit_test(test_used_id_not_in_flight),
	    cmocka_unit_test(test_used_id_mid_chain),
	    cmocka_unit_test(test_used_id_repeated),
	    cmocka_unit_test(test_used_id_stale),
	    cmocka_unit_test(test_used_len_clamped),
	    cmocka_unit_test(test_used_len_clamped_indirect),
	    cmocka_unit_test(test_used_idx_jump),
	    cmocka_unit_test(test_used_idx_moves_when_idle),
	    cmocka_unit_test(test_used_idx_backwards),
	    cmocka_unit_test(test_out_of_order_ok),
	    cmocka_unit_test(test_in_order_batch_ok),
	    cmocka_unit_test(test_in_order_bad_id),
	    cmocka_unit_test(test_in_order_mid_chain),
	    cmocka_unit_test(test_packed_used_id_out_of_range),
	    cmocka_unit_test(test_packed_used_id_not_in_flight),
	    cmocka_unit_test(test_packed_used_id_repeated),
	    cmocka_unit_test(test_packed_used_len_clamped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
