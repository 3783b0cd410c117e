/*
 * The split ring's straight-line paths (src/ring/ring_split.h), reached by
 * every queue whose rings are local pointers and that maps nothing out of
 * line: IN_ORDER add and get_used (one used entry for a batch, and the
 * hostile entries that must still break the queue), the publish-only call,
 * more_used / more_avail with their shadows, on both the IN_ORDER and the
 * unordered hot paths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vtio/spec.h"
#include "vtio/error.h"
#include "ring_fixture.h"

#define IO_FEATURES (FX_MODERN | VTIO_FEATURE(VTIO_F_IN_ORDER))

static uint16_t rd16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return vtio_le16(v);
}

static void wr16(void *p, uint16_t v)
{
	v = vtio_le16(v);
	memcpy(p, &v, 2);
}

/* The used element at @slot, as the device wrote it (id, len in CPU order). */
static void used_elem(const struct fx *f, uint32_t slot, uint32_t *id, uint32_t *len)
{
	struct vtio_split_used_elem e;
	memcpy(&e, (const unsigned char *)f->areas.device + vtio_split_used_ring_off(slot),
	       sizeof(e));
	*id = vtio_le32(e.id);
	*len = vtio_le32(e.len);
}

/* Pop @n one-descriptor chains into @h (device side). */
static void dev_pop(struct fx *f, struct vtio_devq_handle *h, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct vtio_devq_chain c;
		fx_chain_init(f, &c);
		assert_int_equal(vtio_devq_pop(f->dq, &c), 0);
		assert_int_equal(c.ndesc, 1);
		h[i] = vtio_devq_handle_of(&c);
	}
}

/*
 * INORD-DRV-1/3/4, INORD-DEV-2 on the straight line: five one-segment
 * buffers of different sizes, allocated in ring order; the device returns
 * the first three with one used element (the third's id and length, at the
 * first slot) and the last two with another. The skipped buffers come back
 * fully written, the named ones with the device's length, oldest first;
 * more_used stays true while the batch is pending.
 */
static void test_inord_drv_3_hot_batch(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, IO_FEATURES, NULL), 0);
	unsigned char *buf = fx_alloc(&f, 512, 16);
	for (uintptr_t i = 0; i < 5; i++) {
		struct vtio_sg sg = vtio_sg_of(buf + 80 * i, (uint32_t)(16 * (i + 1)));
		assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)(i + 1)), 0);
	}
	/* Ring order: descriptor i holds buffer i, avail->ring[i] = i. */
	const struct vtio_split_desc *d = f.areas.desc;
	const unsigned char *avail = f.areas.driver;
	for (uint16_t i = 0; i < 5; i++) {
		assert_int_equal(vtio_le64(d[i].addr), fx_addr(buf + 80 * i));
		assert_int_equal(vtio_le32(d[i].len), 16u * (i + 1u));
		assert_int_equal(vtio_le16(d[i].flags), VTIO_DESC_F_WRITE);
		assert_int_equal(rd16(avail + vtio_split_avail_ring_off(i)), i);
	}
	assert_int_equal(rd16(avail + 2), 0); /* not published before the kick */
	vtio_vq_kick(f.vq);
	assert_int_equal(rd16(avail + 2), 5);

	struct vtio_devq_handle h[5];
	dev_pop(&f, h, 5);
	for (uint16_t i = 0; i < 5; i++)
		assert_int_equal(h[i].id, i);
	struct vtio_devq_done done[5];
	for (int i = 0; i < 5; i++) {
		done[i].h = h[i];
		done[i].len = 7u + (uint32_t)i;
	}
	assert_false(vtio_vq_more_used(f.vq));
	assert_int_equal(vtio_devq_push_batch(f.dq, done, 3), 0);
	uint32_t id, len;
	used_elem(&f, 0, &id, &len);
	assert_int_equal(id, 2);
	assert_int_equal(len, 9);
	used_elem(&f, 1, &id, &len);
	assert_int_equal(id, 0); /* skipped slots are not written */
	assert_int_equal(len, 0);
	assert_int_equal(rd16((unsigned char *)f.areas.device + 2), 3);
	assert_true(vtio_vq_more_used(f.vq));

	static const uint32_t want1[3] = {16, 32, 9};
	for (uintptr_t i = 0; i < 3; i++) {
		len = 0;
		assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)(i + 1));
		assert_int_equal(len, want1[i]);
	}
	assert_false(vtio_vq_more_used(f.vq));
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_int_equal(vtio_devq_push_batch(f.dq, done + 3, 2), 0);
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)4);
	assert_int_equal(len, 64);	      /* skipped: fully written */
	assert_true(vtio_vq_more_used(f.vq)); /* the batch's last is still pending */
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)5);
	assert_int_equal(len, 11);
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_int_equal(vtio_vq_num_free(f.vq), 8);
	assert_false(vtio_vq_is_broken(f.vq));

	/* Allocation goes on in ring order, wrapping (8 more: slots 5..7, 0..4). */
	for (uintptr_t i = 0; i < 8; i++) {
		struct vtio_sg sg = vtio_sg_of(buf, 8);
		assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)(i + 10)), 0);
	}
	vtio_vq_kick(f.vq);
	dev_pop(&f, h, 5);
	assert_int_equal(h[0].id, 5);
	assert_int_equal(h[3].id, 0);
	fx_teardown(&f);
}

/* The length a batch's last buffer reports is clamped to what it can hold
 * (SPLIT-DRV-16) on the straight line too. */
static void test_split_drv_16_hot_in_order_clamp(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 4, IO_FEATURES, NULL), 0);
	unsigned char *buf = fx_alloc(&f, 64, 16);
	struct vtio_sg sg = vtio_sg_of(buf, 32);
	assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
	assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)2), 0);
	vtio_vq_kick(f.vq);
	fx_put_used(&f, 0, 1, 4096, 2); /* one entry for both, len too large */
	uint32_t len;
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)1);
	assert_int_equal(len, 32);
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)2);
	assert_int_equal(len, 32);
	struct vtio_vq_stats st;
	vtio_vq_get_stats(f.vq, &st);
	assert_int_equal(st.len_clamped, 1);
	assert_int_equal(st.used, 2);
	assert_false(vtio_vq_is_broken(f.vq));
	fx_teardown(&f);
}

/*
 * INORD-DRV-3 / SPLIT-DRV-15, hostile device, straight line: a used element
 * that names no buffer boundary, a buffer past the used count, an id out of
 * range, or a used->idx past the buffers in flight breaks the queue; the
 * driver hands out nothing.
 */
enum bad_kind { BAD_MID_CHAIN, BAD_PAST_COUNT, BAD_RANGE, BAD_IDX_JUMP };

static void hostile_case(enum bad_kind kind, const char *reason)
{
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, IO_FEATURES, NULL), 0);
	unsigned char *buf = fx_alloc(&f, 64, 16);
	if (kind == BAD_MID_CHAIN) {
		/* Two 3-descriptor chains at 0-2 and 3-5. */
		struct vtio_sg sg[3] = {vtio_sg_of(buf, 8), vtio_sg_of(buf + 8, 8),
					vtio_sg_of(buf + 16, 8)};
		assert_int_equal(vtio_vq_add(f.vq, sg, 1, 2, (void *)1), 0);
		assert_int_equal(vtio_vq_add(f.vq, sg, 1, 2, (void *)2), 0);
	} else {
		for (uintptr_t i = 0; i < 3; i++) {
			struct vtio_sg sg = vtio_sg_of(buf, 8);
			assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)(i + 1)), 0);
		}
	}
	vtio_vq_kick(f.vq);
	switch (kind) {
	case BAD_MID_CHAIN:
		fx_put_used(&f, 0, 1, 8, 2); /* descriptor 1 is inside the first chain */
		break;
	case BAD_PAST_COUNT:
		fx_put_used(&f, 0, 2, 8, 2); /* names the third buffer, counts two */
		break;
	case BAD_RANGE:
		fx_put_used(&f, 0, 8, 8, 1);
		break;
	case BAD_IDX_JUMP:
		fx_put_used(&f, 0, 0, 8, 4); /* 4 used of 3 in flight */
		break;
	}
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_true(vtio_vq_is_broken(f.vq));
	assert_string_equal(vtio_vq_broken_reason(f.vq), reason);
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_int_equal(vtio_vq_publish(f.vq), VTIO_EIO);
	fx_teardown(&f);
}

static void test_inord_drv_3_hot_hostile(void **state)
{
	(void)state;
	hostile_case(BAD_MID_CHAIN, "used id not in flight");
	hostile_case(BAD_PAST_COUNT, "used buffer out of order (IN_ORDER)");
	hostile_case(BAD_RANGE, "used id out of range");
	hostile_case(BAD_IDX_JUMP, "used idx moved past the buffers in flight");
}

/*
 * SPLIT-DRV-12 / SPLIT-DRV-10: vtio_vq_publish() on the straight line makes
 * the added heads visible (avail->idx), counts them once, and leaves the
 * notification decision to the next kick_prepare, which still covers them;
 * for the unordered and the IN_ORDER queue, with and without EVENT_IDX.
 */
static void test_split_drv_12_publish_hot(void **state)
{
	(void)state;
	static const uint64_t feats[4] = {FX_MODERN, IO_FEATURES,
					  FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX),
					  IO_FEATURES | VTIO_FEATURE(VTIO_F_EVENT_IDX)};
	for (int k = 0; k < 4; k++) {
		struct fx f;
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, feats[k], NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		const unsigned char *avail = f.areas.driver;
		struct vtio_sg sg = vtio_sg_of(buf, 8);
		for (uintptr_t i = 0; i < 3; i++)
			assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, (void *)(i + 1)), 0);
		struct vtio_vq_stats st;
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.added, 3); /* pending ones are counted too */
		assert_int_equal(rd16(avail + 2), 0);
		assert_int_equal(vtio_vq_publish(f.vq), 0);
		assert_int_equal(rd16(avail + 2), 3);
		assert_int_equal(vtio_vq_publish(f.vq), 0); /* nothing new */
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.added, 3);
		/* The device wants kicks (flags 0 / avail_event 0): the decision
		 * covers the three published without a kick. */
		assert_true(vtio_vq_kick_prepare(f.vq));
		assert_false(vtio_vq_kick_prepare(f.vq));
		assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, (void *)9), 0);
		assert_int_equal(vtio_vq_publish(f.vq), 0);
		assert_int_equal(rd16(avail + 2), 4);
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.added, 4);
		fx_teardown(&f);
	}
}

/*
 * more_used / more_avail on the straight line read the peer's index only
 * when their shadow is exhausted, and see what the peer published.
 * SPLIT-DEV-8: an avail->idx more than the queue size ahead breaks the
 * device queue in more_avail; the next pop returns that error.
 */
static void test_split_dev_8_more_avail_hot(void **state)
{
	(void)state;
	for (int io = 0; io < 2; io++) {
		struct fx f;
		assert_int_equal(
		    fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, io ? IO_FEATURES : FX_MODERN, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		struct vtio_sg sg = vtio_sg_of(buf, 8);
		assert_false(vtio_devq_more_avail(f.dq));
		assert_false(vtio_vq_more_used(f.vq));
		assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
		assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)2), 0);
		assert_false(vtio_devq_more_avail(f.dq)); /* not published yet */
		assert_int_equal(vtio_vq_publish(f.vq), 0);
		assert_true(vtio_devq_more_avail(f.dq));
		struct vtio_devq_handle h[2];
		dev_pop(&f, h, 1);
		assert_true(vtio_devq_more_avail(f.dq)); /* from the shadow */
		dev_pop(&f, h + 1, 1);
		assert_false(vtio_devq_more_avail(f.dq));
		assert_int_equal(vtio_devq_push_handle(f.dq, h[0], 3), 0);
		assert_true(vtio_vq_more_used(f.vq));
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)1);
		assert_false(vtio_vq_more_used(f.vq));
		assert_int_equal(vtio_devq_push_handle(f.dq, h[1], 3), 0);
		assert_true(vtio_vq_more_used(f.vq));
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)2);

		/* Hostile driver: avail->idx 9 ahead of the device on a ring of 8. */
		wr16((unsigned char *)f.areas.driver + 2, (uint16_t)(2 + 9));
		assert_false(vtio_devq_more_avail(f.dq));
		assert_true(vtio_devq_is_broken(f.dq));
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EPROTO);
		assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EIO);
		fx_teardown(&f);
	}
}

/* Descriptor @i of the ring (CPU order). */
static void ring_desc(const struct fx *f, uint16_t i, uint64_t *addr, uint32_t *len,
		      uint16_t *flags)
{
	const struct vtio_split_desc *d = f->areas.desc;
	*addr = vtio_le64(d[i].addr);
	*len = vtio_le32(d[i].len);
	*flags = vtio_le16(d[i].flags);
}

/* The device takes and returns up to @n buffers (len 1 each). */
static unsigned dev_round(struct fx *f, unsigned n)
{
	unsigned k = 0;
	struct vtio_devq_chain c;
	for (; k < n; k++) {
		fx_chain_init(f, &c);
		if (vtio_devq_pop(f->dq, &c) != 0)
			break;
		assert_int_equal(vtio_devq_push(f->dq, &c, 1), 0);
	}
	return k;
}

/*
 * SPLIT-DRV-10 with the write-skipping shadows: a one-segment add skips the
 * descriptor and avail entry the ring already holds, and writes whatever
 * differs, including after a chain (general path) used the same
 * descriptors and slots, and after a reset zeroed the ring. On a ring of 2
 * every lap lands on the same descriptors and slots.
 */
static void test_split_drv_10_skip_identical(void **state)
{
	(void)state;
	for (int io = 0; io < 2; io++) {
		struct fx f;
		assert_int_equal(
		    fx_setup(&f, VTIO_LAYOUT_SPLIT, 2, io ? IO_FEATURES : FX_MODERN, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 256, 16);
		const unsigned char *avail = f.areas.driver;
		struct vtio_sg a = vtio_sg_of(buf, 64), b = vtio_sg_of(buf + 64, 32);
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
		for (int lap = 0; lap < 3; lap++) {
			fx_round_trip(&f, &a, 0, 1, (void *)7,
				      5); /* descriptor 0 (free list / ring order) */
			fx_round_trip(&f, &a, 0, 1, (void *)7, 6);
		}
		/* The same slot and descriptor, another buffer: written. */
		fx_round_trip(&f, &b, 1, 0, (void *)7, 0);
		uint16_t at = 0; /* both orders hand out descriptor 0 again here */
		ring_desc(&f, at, &addr, &len, &flags);
		assert_int_equal(addr, fx_addr(buf + 64));
		assert_int_equal(len, 32);
		assert_int_equal(flags, 0);
		/* A two-descriptor chain over descriptors 1 and 0, then the first
		 * buffer again: the chain's values are replaced. */
		struct vtio_sg ch[2] = {vtio_sg_of(buf + 128, 16), vtio_sg_of(buf + 160, 24)};
		fx_round_trip(&f, ch, 1, 1, (void *)7, 24);
		assert_int_equal(vtio_vq_add(f.vq, &a, 0, 1, (void *)5), 0);
		assert_int_equal(vtio_vq_add(f.vq, &a, 0, 1, (void *)6), 0);
		assert_int_equal(vtio_vq_publish(f.vq), 0);
		assert_int_equal(dev_round(&f, 2), 2);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)5);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)6);
		for (uint16_t i = 0; i < 2; i++) {
			ring_desc(&f, i, &addr, &len, &flags);
			assert_int_equal(addr, fx_addr(buf));
			assert_int_equal(len, 64);
			assert_int_equal(flags, VTIO_DESC_F_WRITE);
		}
		/* Reset zeroes the rings: the next add writes everything again. */
		vtio_devq_reset(f.dq);
		assert_int_equal(vtio_vq_reset(f.vq), 0);
		assert_int_equal(vtio_vq_add(f.vq, &a, 0, 1, (void *)8), 0);
		assert_int_equal(vtio_vq_publish(f.vq), 0);
		ring_desc(&f, 0, &addr, &len, &flags);
		assert_int_equal(addr, fx_addr(buf));
		assert_int_equal(len, 64);
		assert_int_equal(flags, VTIO_DESC_F_WRITE);
		assert_int_equal(rd16(avail + vtio_split_avail_ring_off(0)), 0);
		assert_int_equal(rd16(avail + 2), 1);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(c.id, 0);
		assert_int_equal(c.wr_len, 64);
		fx_teardown(&f);
	}
}

/*
 * SPLIT-DEV-5 with the used-element shadow: a push of the same id and len
 * to the same slot may skip the write, but never after the used ring was
 * zeroed by a reset of both sides, after vtio_devq_set_pos(), or when the
 * length differs; the driver always reads the element of this lap.
 */
static void test_split_dev_5_used_shadow(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 2, FX_MODERN, NULL), 0);
	unsigned char *buf = fx_alloc(&f, 64, 16);
	struct vtio_sg a = vtio_sg_of(buf, 64);
	uint32_t id, len;
	for (int lap = 0; lap < 3; lap++) {
		fx_round_trip(&f, &a, 0, 1, (void *)7, 9);
		fx_round_trip(&f, &a, 0, 1, (void *)7, 9);
	}
	fx_round_trip(&f, &a, 0, 1, (void *)7, 10); /* slot 0, another length */
	used_elem(&f, 0, &id, &len);
	assert_int_equal(len, 10);
	fx_round_trip(&f, &a, 0, 1, (void *)7, 9);
	/* Reset both sides (the driver zeroes the used ring). */
	vtio_devq_reset(f.dq);
	assert_int_equal(vtio_vq_reset(f.vq), 0);
	used_elem(&f, 0, &id, &len);
	assert_int_equal(len, 0);
	fx_round_trip(&f, &a, 0, 1, (void *)7, 10);
	used_elem(&f, 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 10);
	/* set_pos: the contents at the new position are unknown to the device. */
	fx_round_trip(&f, &a, 0, 1, (void *)7, 10); /* slot 1 holds (0 or 1, 10) */
	memset((unsigned char *)f.areas.device + vtio_split_used_ring_off(0), 0, 16);
	struct vtio_devq_pos pos;
	vtio_devq_get_pos(f.dq, &pos);
	assert_int_equal(vtio_devq_set_pos(f.dq, &pos), 0);
	assert_int_equal(vtio_vq_add(f.vq, &a, 0, 1, (void *)3), 0);
	assert_int_equal(vtio_vq_publish(f.vq), 0);
	struct vtio_devq_chain c;
	fx_chain_init(&f, &c);
	assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
	assert_int_equal(vtio_devq_push(f.dq, &c, 10), 0);
	used_elem(&f, 0, &id, &len);
	assert_int_equal(id, c.id);
	assert_int_equal(len, 10);
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)3);
	assert_int_equal(len, 10);
	fx_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_inord_drv_3_hot_batch),
	    cmocka_unit_test(test_split_drv_16_hot_in_order_clamp),
	    cmocka_unit_test(test_inord_drv_3_hot_hostile),
	    cmocka_unit_test(test_split_drv_12_publish_hot),
	    cmocka_unit_test(test_split_dev_8_more_avail_hot),
	    cmocka_unit_test(test_split_drv_10_skip_identical),
	    cmocka_unit_test(test_split_dev_5_used_shadow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
