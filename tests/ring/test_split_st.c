/*
 * The split ring's single-thread work of issue 13 (src/ring/ring_split.h,
 * vq_split.c, devq_split.c):
 *
 * - a pop stores the chain's id and ndesc with one 32-bit store (so the
 *   handle a caller takes right after it is forwarded, not stalled): every
 *   pop path leaves id, ndesc and flags exact, over a chain whose bytes were
 *   garbage before;
 * - IN_ORDER, one used entry for a batch (INORD-DRV-3): when every buffer in
 *   flight holds one descriptor the driver finds the named buffer without
 *   walking the buffers. The accept / refuse decision is checked against
 *   the rule (the entry names a buffer in flight, at most used-count buffers
 *   from the oldest) for every buffer and every count, ring positions that
 *   wrap, on the straight line and the general path, with and without a
 *   chained buffer in flight (which takes the walk).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vtio/spec.h"
#include "vtio/error.h"
#include "ring_fixture.h"

#define IO_FEATURES (FX_MODERN | VTIO_FEATURE(VTIO_F_IN_ORDER))

/* Pop into a chain whose every byte but the array fields was garbage. */
static void pop_dirty(struct fx *f, struct vtio_devq_chain *c)
{
	memset(c, 0xa5, sizeof(*c));
	c->rd = f->rd;
	c->rd_max = 64;
	c->wr = f->wr;
	c->wr_max = 64;
	assert_int_equal(vtio_devq_pop(f->dq, c), 0);
}

static void check_popped(const struct vtio_devq_chain *c, uint16_t id, uint16_t ndesc, uint32_t wr)
{
	assert_int_equal(c->id, id);
	assert_int_equal(c->ndesc, ndesc);
	assert_int_equal(c->flags, 0);
	assert_int_equal(c->wr_len, wr);
	struct vtio_devq_handle h = vtio_devq_handle_of(c);
	assert_int_equal(h.id, id);
	assert_int_equal(h.ndesc, ndesc);
	assert_int_equal(h.wr_cap, wr);
}

/*
 * SPLIT-DEV-7 / SPLIT-DEV-8: the id and ndesc a pop reports (the head the
 * used element must carry) on the hot one-descriptor pop (both directions),
 * the walk from the hot pop's copy (a 3-descriptor chain) and the general
 * pop (device view through accessor ops), from garbage-filled chains; the
 * handles pushed back in reverse order reach the driver as those buffers.
 */
static void test_split_dev_7_pop_id_ndesc(void **state)
{
	(void)state;
	for (int view = 0; view < 2; view++) {
		struct fx f;
		struct fx_opts o;
		memset(&o, 0, sizeof(o));
		o.count = view != 0; /* counting views: no local pointers, general paths */
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, FX_MODERN, &o), 0);
		for (int lap = 0; lap < 2; lap++) {
			fx_add_segs(&f, 0, 1, 32, (void *)1); /* head 0 */
			fx_add_segs(&f, 1, 0, 24, (void *)2); /* head 1 */
			fx_add_segs(&f, 1, 2, 16, (void *)3); /* heads 2..4 */
			(void)vtio_vq_kick(f.vq);
			struct vtio_devq_chain c;
			struct vtio_devq_handle h[3];
			pop_dirty(&f, &c);
			assert_int_equal(c.wr_num, 1);
			check_popped(&c, 0, 1, 32);
			h[0] = vtio_devq_handle_of(&c);
			pop_dirty(&f, &c);
			assert_int_equal(c.rd_num, 1);
			assert_int_equal(c.rd_len, 24);
			check_popped(&c, 1, 1, 0);
			h[1] = vtio_devq_handle_of(&c);
			pop_dirty(&f, &c);
			assert_int_equal(c.rd_num, 1);
			assert_int_equal(c.wr_num, 2);
			check_popped(&c, 2, 3, 32);
			h[2] = vtio_devq_handle_of(&c);
			for (int k = 2; k >= 0; k--) {
				uint32_t len = 99;
				assert_int_equal(vtio_devq_push_handle(f.dq, h[k], h[k].wr_cap), 0);
				assert_ptr_equal(vtio_vq_get_used(f.vq, &len),
						 (void *)(uintptr_t)(k + 1));
				assert_int_equal(len, h[k].wr_cap);
			}
		}
		assert_false(vtio_devq_is_broken(f.dq));
		assert_false(vtio_vq_is_broken(f.vq));
		fx_teardown(&f);
	}
}

/*
 * SPLIT-DEV-7 (element contents): vtio_devq_push_batch() writes each used
 * element as one 8-byte word built from id and len; the ring must hold id
 * then len in the queue's byte order (little-endian, or native for a
 * legacy queue), in every slot of a batch that wraps, on the first lap and
 * on a second lap where the same elements are already there.
 */
static void test_split_dev_7_batch_elements(void **state)
{
	(void)state;
	for (int legacy = 0; legacy < 2; legacy++) {
		struct fx f;
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 4, legacy ? 0 : FX_MODERN, NULL),
				 0);
		for (unsigned lap = 0; lap < 3; lap++) {
			struct vtio_devq_done d[4];
			for (unsigned i = 0; i < 3; i++)
				fx_add_segs(&f, 0, 1, 64, (void *)(uintptr_t)(i + 1));
			(void)vtio_vq_kick(f.vq);
			for (unsigned i = 0; i < 3; i++) {
				struct vtio_devq_chain c;
				fx_pop(&f, &c);
				d[i].h = vtio_devq_handle_of(&c);
				d[i].len = (lap == 2 ? 50u : 40u) + i; /* lap 2: new lens */
			}
			assert_int_equal(vtio_devq_push_batch(f.dq, d, 3), 0);
			for (unsigned i = 0; i < 3; i++) {
				uint32_t slot = (lap * 3u + i) & 3u, id, len;
				const unsigned char *e = (const unsigned char *)f.areas.device +
							 vtio_split_used_ring_off(slot);
				memcpy(&id, e, 4);
				memcpy(&len, e + 4, 4);
				if (!legacy) {
					id = vtio_le32(id);
					len = vtio_le32(len);
				}
				assert_int_equal(id, d[i].h.id);
				assert_int_equal(len, d[i].len);
			}
			for (unsigned i = 0; i < 3; i++) {
				uint32_t len = 0;
				assert_ptr_equal(vtio_vq_get_used(f.vq, &len),
						 (void *)(uintptr_t)(i + 1));
				assert_int_equal(len, d[i].len);
			}
		}
		assert_false(vtio_vq_is_broken(f.vq));
		fx_teardown(&f);
	}
}

/* Head descriptor of buffer @p j when the buffers were allocated from
 * @p off in ring order, the first one @p first_ndesc descriptors long. */
static uint16_t head_of(unsigned off, unsigned j, unsigned first_ndesc)
{
	return (uint16_t)((off + (j == 0 ? 0u : first_ndesc + j - 1u)) & 7u);
}

/*
 * One case: ring of 8, @p off buffers through and reaped first (so the
 * positions wrap), then @p n buffers in flight (the first a 2-descriptor
 * chain when @p chained), all published. The device writes one used entry
 * naming @p uid at the next used slot and moves used->idx by @p count.
 * @p want: the number of buffers the driver must hand back (oldest first,
 * all but the last fully written), or 0 when the queue must break.
 */
static void batch_case(bool view, unsigned off, bool chained, unsigned n, uint32_t uid,
		       unsigned count, unsigned want)
{
	struct fx f;
	struct fx_opts o;
	memset(&o, 0, sizeof(o));
	o.count = view;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, IO_FEATURES, &o), 0);
	for (unsigned i = 0; i < off; i++) {
		fx_add_segs(&f, 0, 1, 16, (void *)(uintptr_t)(50 + i));
		(void)vtio_vq_kick(f.vq);
		fx_put_used(&f, (uint16_t)i, i & 7u, 16, (uint16_t)(i + 1u));
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)(uintptr_t)(50 + i));
	}
	for (unsigned j = 0; j < n; j++) {
		if (j == 0 && chained)
			fx_add_segs(&f, 0, 2, 8, (void *)(uintptr_t)(100 + j));
		else
			fx_add_segs(&f, 0, 1, 16, (void *)(uintptr_t)(100 + j));
	}
	(void)vtio_vq_kick(f.vq);
	fx_put_used(&f, (uint16_t)off, uid, 5, (uint16_t)(off + count));
	if (want == 0) {
		assert_null(vtio_vq_get_used(f.vq, NULL));
		assert_true(vtio_vq_is_broken(f.vq));
		fx_teardown(&f);
		return;
	}
	for (unsigned j = 0; j < want; j++) {
		uint32_t len = 0;
		assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)(uintptr_t)(100 + j));
		assert_int_equal(len, j + 1 == want ? 5u : 16u);
	}
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_false(vtio_vq_is_broken(f.vq));
	assert_int_equal(vtio_vq_num_free(f.vq), 8u - (n - want));
	fx_teardown(&f);
}

/*
 * INORD-DRV-3, hostile device: every (named buffer, used count) pair for
 * 1..7 buffers in flight. Accepted exactly when the entry names the head
 * of buffer j (0 = oldest) and the count is j + 1 (the batch ends on it);
 * a count short of j + 1, an id inside the chain, or an id no buffer in
 * flight has breaks the queue and hands back nothing.
 */
static void test_inord_drv_3_batch_rule(void **state)
{
	(void)state;
	static const unsigned offs[2] = {0, 6};
	for (int view = 0; view < 2; view++)
		for (int ch = 0; ch < 2; ch++)
			for (unsigned oi = 0; oi < 2; oi++)
				for (unsigned n = 1; n + (unsigned)ch <= 7; n++) {
					unsigned off = offs[oi];
					unsigned first = ch ? 2u : 1u;
					for (unsigned j = 0; j < n; j++) {
						uint16_t h = head_of(off, j, first);
						for (unsigned count = 1; count <= j + 1; count++)
							batch_case(view, off, ch, n, h, count,
								   count == j + 1 ? j + 1 : 0);
					}
					/* Not the head of a buffer in flight: the
					 * first free descriptor, and (chained) the
					 * chain's second descriptor. */
					uint16_t free_id = (uint16_t)((off + n + first - 1u) & 7u);
					batch_case(view, off, ch, n, free_id, n, 0);
					if (ch)
						batch_case(view, off, ch, n,
							   (uint16_t)((off + 1u) & 7u), n, 0);
				}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_dev_7_pop_id_ndesc),
	    cmocka_unit_test(test_split_dev_7_batch_elements),
	    cmocka_unit_test(test_inord_drv_3_batch_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
