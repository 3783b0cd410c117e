/* Packed ring features: VIRTIO_F_IN_ORDER (both roles), NOTIFICATION_DATA,
 * event suppression in both directions (ENABLE / DISABLE / DESC with
 * EVENT_IDX, wrap-adjusted offsets), and the used len policy, driver and
 * device of this library against each other with the wire checked by hand.
 *
 * Checklist: INDIR-DRV-1, INORD-DEV-1/2, INORD-DRV-3/4, NOTIF-DRV-3/4, NOTIF-DEV-3,
 * EVT-DRV-3/7/8/9, EVT-DEV-6/7/8/9, PACKED-DEV-7/8, PACKED-DRV-15,
 * CHECKLIST 3.3, 3.4, 3.11, 3.12. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ring_fixture.h"
#include "tc_util.h"

#define AV VTIO_DESC_F_AVAIL
#define US VTIO_DESC_F_USED
#define WR VTIO_DESC_F_WRITE

static uint16_t raw16(const void *base, size_t off)
{
	uint16_t v;
	memcpy(&v, (const unsigned char *)base + off, 2);
	return vtio_le16(v);
}

static void set16(void *base, size_t off, uint16_t v)
{
	v = vtio_le16(v);
	memcpy((unsigned char *)base + off, &v, 2);
}

static void pop(struct fx *f, struct vtio_devq_chain *c, struct vtio_iov *rd, struct vtio_iov *wr)
{
	tc_chain_init(c, rd, 8, wr, 8);
	assert_int_equal(vtio_devq_pop(f->dq, c), 0);
}

/* A packed queue pair of @p num slots with EVENT_IDX. */
static void evt_setup(struct fx *f, uint32_t num)
{
	assert_int_equal(
	    fx_setup(f, VTIO_LAYOUT_PACKED, num, FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX), NULL),
	    0);
}

/* @p n one-descriptor buffers through both sides, one at a time, with no
 * notification decision on either side. */
static void cycle(struct fx *f, int n)
{
	int tok;
	struct vtio_devq_chain c;
	struct vtio_iov rd[8], wr[8];
	for (int i = 0; i < n; i++) {
		fx_add_segs(f, 1, 0, 8, &tok);
		pop(f, &c, rd, wr);
		assert_int_equal(vtio_devq_push(f->dq, &c, 0), 0);
		assert_ptr_equal(vtio_vq_get_used(f->vq, NULL), &tok);
	}
}

/* ---- IN_ORDER ------------------------------------------------------------------------- */

/* INORD-DEV-2 / INORD-DRV-3/4 / 3.11: the device returns a batch as ONE used
 * descriptor carrying the last buffer's id, written over the batch's first
 * descriptor; the driver hands back every token in order, the skipped ones
 * with their full writable size, the last with the reported len. */
static void test_in_order_batch(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(
	    fx_setup(&f, VTIO_LAYOUT_PACKED, 7, FX_MODERN | VTIO_FEATURE(VTIO_F_IN_ORDER), NULL),
	    0);
	int tok[8];
	for (int lap = 0; lap < 6; lap++) {
		fx_add_segs(&f, 1, 1, 8, &tok[0]); /* 2 slots */
		fx_add_segs(&f, 0, 2, 8, &tok[1]); /* 2 slots */
		fx_add_segs(&f, 1, 0, 8, &tok[2]); /* 1 slot */
		struct vtio_devq_chain c[3];
		struct vtio_iov rd[3][8], wr[3][8];
		for (int i = 0; i < 3; i++)
			pop(&f, &c[i], rd[i], wr[i]);
		/* INORD: the driver's ids are the head slots, in ring order */
		uint32_t first_slot = c[0].id;
		assert_int_equal(c[1].id, (c[0].id + 2u) % 7u);
		assert_int_equal(c[2].id, (c[1].id + 2u) % 7u);
		/* (the first len is not written: in order, the batch's earlier
		 * buffers count as fully used; it is still checked) */
		struct vtio_devq_done u[3] = {{vtio_devq_handle_of(&c[0]), 8},
					      {vtio_devq_handle_of(&c[1]), 16},
					      {vtio_devq_handle_of(&c[2]), 0}};
		u[1].len = 16;
		/* batch of the first two only, then the third alone */
		assert_int_equal(vtio_devq_push_batch(f.dq, u, 2), 0);
		/* one used descriptor at the batch's first slot, id of the last */
		assert_int_equal(fx_pdesc_id(&f, first_slot), c[1].id);
		uint16_t fl = fx_pdesc_flags(&f, first_slot);
		assert_int_equal((fl & AV) != 0, (fl & US) != 0);
		assert_true(fl & WR);
		/* the batch's other slots were not written as used */
		uint32_t s2 = (first_slot + 2u) % 7u;
		uint16_t f2 = fx_pdesc_flags(&f, s2);
		assert_int_not_equal((f2 & AV) != 0, (f2 & US) != 0);
		uint32_t len = 99;
		assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok[0]);
		assert_int_equal(len, 8); /* skipped: whole writable size */
		assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok[1]);
		assert_int_equal(len, 16);
		assert_null(vtio_vq_get_used(f.vq, NULL));
		assert_int_equal(vtio_devq_push_batch(f.dq, &u[2], 1), 0);
		assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok[2]);
		assert_int_equal(len, 0);
		assert_int_equal(vtio_vq_num_free(f.vq), 7);
	}
	assert_false(vtio_vq_is_broken(f.vq));
	assert_false(vtio_devq_is_broken(f.dq));
	fx_teardown(&f);
}

/* INORD-DEV-1: a long in-order run with random batch sizes, across many
 * wraps of a ring whose size is not a power of two. */
static void test_in_order_long(void **state)
{
	(void)state;
	struct fx f;
	struct fx_opts o = {.indirect_tables = 4, .indirect_max = 8, .indirect_threshold = 4};
	assert_int_equal(
	    fx_setup(&f, VTIO_LAYOUT_PACKED, 13,
		     FX_MODERN | VTIO_FEATURE(VTIO_F_IN_ORDER) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC),
		     &o),
	    0);
	static int tok[64];
	unsigned head = 0, tail = 0; /* tokens added / reaped, in order */
	uint64_t rng = 7;
	struct vtio_devq_done pend[16];
	unsigned npend = 0;
	struct vtio_devq_chain c;
	struct vtio_iov rd[8], wr[8];
	unsigned char *b = fx_alloc(&f, 64, 8);
	for (int iter = 0; iter < 20000; iter++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		unsigned r = (unsigned)(rng >> 33);
		unsigned n = 1 + r % 5;
		struct vtio_sg sg[5];
		for (unsigned i = 0; i < n; i++)
			sg[i] = vtio_sg_of(b + 8u * i, 8);
		if (head - tail < 16 &&
		    vtio_vq_add(f.vq, sg, n / 2, n - n / 2, &tok[head % 64]) == 0)
			head++;
		for (;;) {
			tc_chain_init(&c, rd, 8, wr, 8);
			if (npend == 16 || vtio_devq_pop(f.dq, &c) != 0)
				break;
			pend[npend].h = vtio_devq_handle_of(&c);
			pend[npend].len = (uint32_t)c.wr_len;
			npend++;
		}
		unsigned batch = npend ? 1 + (r >> 8) % npend : 0;
		if (batch) {
			assert_int_equal(vtio_devq_push_batch(f.dq, pend, batch), 0);
			memmove(&pend[0], &pend[batch], (npend - batch) * sizeof(pend[0]));
			npend -= batch;
		}
		void *t;
		while ((t = vtio_vq_get_used(f.vq, NULL)) != NULL) {
			assert_ptr_equal(t, &tok[tail % 64]); /* in order */
			tail++;
		}
	}
	assert_true(tail > 5000);
	assert_false(vtio_vq_is_broken(f.vq));
	assert_false(vtio_devq_is_broken(f.dq));
	fx_teardown(&f);
}

/* ---- NOTIFICATION_DATA ---------------------------------------------------------------- */

/* NOTIF-DRV-4 / 3.12: the notify value carries the queue index, the next
 * slot to be made available in bits 16-30 and the driver wrap counter in
 * bit 31; without the feature, the index alone. */
static void test_notification_data(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 5,
				  FX_MODERN | VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA), NULL),
			 0);
	int tok;
	struct vtio_devq_chain c;
	struct vtio_iov rd[8], wr[8];
	uint32_t slot = 0;
	unsigned wrap = 1;
	for (int i = 0; i < 12; i++) {
		unsigned n = 1 + (unsigned)i % 3;
		fx_add_segs(&f, n, 0, 8, &tok);
		slot += n;
		if (slot >= 5) {
			slot -= 5;
			wrap ^= 1;
		}
		unsigned kicks = f.kicks;
		assert_int_equal(vtio_vq_kick(f.vq), 0);
		assert_int_equal(f.kicks, kicks + 1);
		assert_int_equal(f.last_kick_data, 3u | (slot << 16) | (wrap << 31));
		pop(&f, &c, rd, wr);
		assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok);
	}
	fx_teardown(&f);

	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 5, FX_MODERN, NULL), 0);
	fx_add_segs(&f, 2, 0, 8, &tok);
	assert_int_equal(vtio_vq_kick(f.vq), 0);
	assert_int_equal(f.last_kick_data, 3);
	fx_teardown(&f);
}

/* ---- Event suppression ------------------------------------------------------------------ */

/* EVT-DEV-8 / EVT-DRV-8 / NOTIF-DRV-3: the device's area says DISABLE ->
 * no kick; ENABLE -> kick; nothing added -> no kick. */
static void test_evt_device_area_flags(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 8, FX_MODERN, NULL), 0);
	int tok;
	assert_false(vtio_vq_kick_prepare(f.vq));
	vtio_devq_disable_notify(f.dq);
	assert_int_equal(raw16(f.areas.device, 2), VTIO_RING_EVENT_FLAGS_DISABLE);
	fx_add_segs(&f, 1, 0, 8, &tok);
	assert_false(vtio_vq_kick_prepare(f.vq));
	/* enable_notify: ENABLE without EVENT_IDX; false because a chain waits */
	assert_false(vtio_devq_enable_notify(f.dq));
	assert_int_equal(raw16(f.areas.device, 2), VTIO_RING_EVENT_FLAGS_ENABLE);
	fx_add_segs(&f, 1, 0, 8, &tok);
	assert_true(vtio_vq_kick_prepare(f.vq));
	assert_false(vtio_vq_kick_prepare(f.vq)); /* nothing new */
	/* reserved value 3 and DESC without EVENT_IDX: treated as ENABLE */
	set16(f.areas.device, 2, 3);
	fx_add_segs(&f, 1, 0, 8, &tok);
	assert_true(vtio_vq_kick_prepare(f.vq));
	set16(f.areas.device, 2, VTIO_RING_EVENT_FLAGS_DESC);
	fx_add_segs(&f, 1, 0, 8, &tok);
	assert_true(vtio_vq_kick_prepare(f.vq));
	fx_teardown(&f);
}

/* EVT-DRV-7 / EVT-DEV-7: the driver's area; disable_cb -> DISABLE and the
 * device does not notify; enable_cb -> ENABLE and it does. enable_cb
 * returns false when a used buffer is already there (EVT-DRV-9). */
static void test_evt_driver_area_flags(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 8, FX_MODERN, NULL), 0);
	int tok;
	struct vtio_devq_chain c;
	struct vtio_iov rd[8], wr[8];
	vtio_vq_disable_cb(f.vq);
	assert_int_equal(raw16(f.areas.driver, 2), VTIO_RING_EVENT_FLAGS_DISABLE);
	fx_add_segs(&f, 1, 0, 8, &tok);
	pop(&f, &c, rd, wr);
	assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
	assert_false(vtio_devq_notify_prepare(f.dq));
	assert_false(vtio_vq_enable_cb(f.vq)); /* one is pending */
	assert_int_equal(raw16(f.areas.driver, 2), VTIO_RING_EVENT_FLAGS_ENABLE);
	assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok);
	assert_true(vtio_vq_enable_cb(f.vq));
	assert_null(vtio_vq_get_used(f.vq, NULL)); /* EVT-DRV-3: spurious is fine */
	fx_add_segs(&f, 1, 0, 8, &tok);
	pop(&f, &c, rd, wr);
	assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
	assert_true(vtio_devq_notify_prepare(f.dq));
	assert_false(vtio_devq_notify_prepare(f.dq)); /* nothing new used */
	unsigned irqs = f.irqs;
	assert_int_equal(vtio_devq_kick(f.dq), 0);
	assert_int_equal(f.irqs, irqs);
	fx_teardown(&f);
}

/* EVT-DRV-7/8, EVT-DEV-7/8, 3.4: with EVENT_IDX the areas hold DESC and
 * off_wrap; each side notifies exactly when the other's descriptor was
 * among those just made available / used, including across the wrap
 * (an offset with the other wrap bit counts as off - num). */
static void test_evt_desc_mode(void **state)
{
	(void)state;
	const uint32_t num = 6;
	struct fx f;
	evt_setup(&f, num);
	int tok;
	struct vtio_devq_chain c;
	struct vtio_iov rd[8], wr[8];
	/* device asks for a kick at its next slot (0, wrap 1) */
	assert_true(vtio_devq_enable_notify(f.dq));
	assert_int_equal(raw16(f.areas.device, 2), VTIO_RING_EVENT_FLAGS_DESC);
	assert_int_equal(raw16(f.areas.device, 0), 0x8000u);
	/* driver asks for an interrupt at its next used slot */
	assert_true(vtio_vq_enable_cb(f.vq));
	assert_int_equal(raw16(f.areas.driver, 2), VTIO_RING_EVENT_FLAGS_DESC);
	assert_int_equal(raw16(f.areas.driver, 0), 0x8000u);

	uint32_t slot = 0;
	for (int i = 0; i < 40; i++) {
		unsigned n = 1 + (unsigned)i % 4;
		/* the device's event is at its own next slot: the kick is needed */
		fx_add_segs(&f, n, 0, 8, &tok);
		assert_true(vtio_vq_kick_prepare(f.vq));
		/* a second buffer with the event now behind: no kick */
		fx_add_segs(&f, 1, 0, 8, &tok);
		assert_false(vtio_vq_kick_prepare(f.vq));
		for (int k = 0; k < 2; k++) {
			pop(&f, &c, rd, wr);
			assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
			/* the driver's event is its next used slot: first push notifies */
			assert_int_equal(vtio_devq_notify_prepare(f.dq), k == 0);
		}
		slot = (slot + n + 1) % num;
		while (vtio_vq_get_used(f.vq, NULL) != NULL)
			;
		assert_true(vtio_vq_enable_cb(f.vq));
		assert_true(vtio_devq_enable_notify(f.dq));
		uint16_t dev_ow = raw16(f.areas.device, 0);
		uint16_t drv_ow = raw16(f.areas.driver, 0);
		assert_int_equal(dev_ow & 0x7fffu, slot);
		assert_int_equal(drv_ow, dev_ow); /* both sides at the same position */
	}
	assert_false(vtio_vq_is_broken(f.vq));
	fx_teardown(&f);
}

/* 3.4: DESC offsets in the previous lap (other wrap bit) count as off - num:
 * an event the driver already passed in the previous lap gives no kick; an
 * event ahead in the same lap is not crossed; one crossed at the wrap is. */
static void test_evt_desc_wrap_adjust(void **state)
{
	(void)state;
	const uint32_t num = 8;
	struct fx f;
	evt_setup(&f, num);
	int tok;
	struct vtio_devq_chain c;
	struct vtio_iov rd[8], wr[8];
	/* move the driver to slot 6 of lap 0 */
	cycle(&f, 6);
	(void)vtio_vq_kick_prepare(f.vq);
	set16(f.areas.device, 2, VTIO_RING_EVENT_FLAGS_DESC);
	struct {
		uint16_t off_wrap;
		bool kick;
	} cases[] = {
	    {0x8000u | 7u, true},  /* slot 7, lap 0: among 6,7,0 */
	    {0x0000u | 0u, true},  /* slot 0, lap 1: among 6,7,0 */
	    {0x0000u | 1u, false}, /* slot 1, lap 1: ahead */
	    {0x8000u | 5u, false}, /* slot 5, lap 0: already passed */
	    {0x8000u | 6u, true},  /* slot 6, lap 0: the first one added */
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		set16(f.areas.device, 0, cases[k].off_wrap);
		/* add 3 descriptors (slots 6, 7, 0) and decide */
		fx_add_segs(&f, 3, 0, 8, &tok);
		assert_int_equal(vtio_vq_kick_prepare(f.vq), cases[k].kick);
		/* complete it and bring the driver back to slot 6 of lap 0 by
		 * resetting both sides */
		pop(&f, &c, rd, wr);
		assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok);
		assert_int_equal(vtio_vq_reset(f.vq), 0);
		vtio_devq_reset(f.dq);
		cycle(&f, 6);
		(void)vtio_vq_kick_prepare(f.vq);
		set16(f.areas.device, 2, VTIO_RING_EVENT_FLAGS_DESC);
	}
	fx_teardown(&f);
}

/* EVT-DRV-7 enable_cb_delayed: the event is about 3/4 of the descriptors
 * in flight ahead; the device does not notify before it is crossed. */
static void test_evt_delayed(void **state)
{
	(void)state;
	struct fx f;
	evt_setup(&f, 16);
	int tok[8];
	struct vtio_devq_chain c[8];
	struct vtio_iov rd[8][8], wr[8][8];
	for (int i = 0; i < 8; i++)
		fx_add_segs(&f, 1, 0, 8, &tok[i]);
	assert_true(vtio_vq_enable_cb_delayed(f.vq));
	assert_int_equal(raw16(f.areas.driver, 0), 0x8000u | 6u); /* 8 * 3/4 */
	for (int i = 0; i < 8; i++) {
		pop(&f, &c[i], rd[i], wr[i]);
		assert_int_equal(vtio_devq_push(f.dq, &c[i], 0), 0);
		/* used slots 0..5 do not reach the event; slot 6 does */
		assert_int_equal(vtio_devq_notify_prepare(f.dq), i == 6);
	}
	fx_teardown(&f);
}

/* EVT-DRV-8 (3.4): more descriptors made available since the last kick
 * decision than the ring holds: the offsets are ambiguous, so the driver
 * notifies whatever off_wrap says. Here the event names a slot that the
 * wrap-adjusted comparison puts behind the last batch; the next decision,
 * with a short gap, follows the comparison again. */
static void test_evt_drv_long_gap(void **state)
{
	(void)state;
	struct fx f;
	evt_setup(&f, 4);
	int tok;
	/* Six one-descriptor buffers, none decided: the driver ends at slot 2
	 * of its second lap (wrap 0). */
	cycle(&f, 6);
	set16(f.areas.device, 2, VTIO_RING_EVENT_FLAGS_DESC);
	set16(f.areas.device, 0, 2u); /* slot 2, wrap 0: not among the last 6 as u16 offsets */
	assert_true(vtio_vq_kick_prepare(f.vq));
	/* One more (slot 2), event at slot 1 of this lap: already passed. */
	set16(f.areas.device, 0, 1u);
	fx_add_segs(&f, 1, 0, 8, &tok);
	assert_false(vtio_vq_kick_prepare(f.vq));
	/* And one at the event: slot 3. */
	set16(f.areas.device, 0, 3u);
	fx_add_segs(&f, 1, 0, 8, &tok);
	assert_true(vtio_vq_kick_prepare(f.vq));
	assert_false(vtio_vq_is_broken(f.vq));
	fx_teardown(&f);
}

/* EVT-DEV-9: more descriptors used since the last decision than the ring
 * holds (offsets ambiguous): notify, also when the event names a slot the
 * u16 comparison puts behind them; the next, short, stretch follows the
 * comparison again. */
static void test_evt_dev_long_gap(void **state)
{
	(void)state;
	struct fx f;
	evt_setup(&f, 4);
	int tok;
	struct vtio_devq_chain c;
	struct vtio_iov rd[8], wr[8];
	assert_true(vtio_vq_enable_cb(f.vq)); /* event at slot 0, lap 1 */
	cycle(&f, 6);
	/* The device ends at slot 2 of its second lap (wrap 0); an event at
	 * slot 2, wrap 0, is not among the last 6 as u16 offsets. */
	set16(f.areas.driver, 0, 2u);
	assert_true(vtio_devq_notify_prepare(f.dq));
	/* One more (slot 2), event at slot 1 of this lap: passed already. */
	set16(f.areas.driver, 0, 1u);
	fx_add_segs(&f, 1, 0, 8, &tok);
	pop(&f, &c, rd, wr);
	assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
	assert_false(vtio_devq_notify_prepare(f.dq));
	fx_teardown(&f);
}

/* ---- Used len policy ------------------------------------------------------------------- */

/* CHECKLIST 3.3 / PACKED-DEV-7: the device sets WRITE in a used
 * descriptor exactly when len > 0, so a strict driver sees the len and a
 * Linux/QEMU-style one does too. */
static void test_used_len_write_flag(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 4, FX_MODERN, NULL), 0);
	int tok;
	struct vtio_devq_chain c;
	struct vtio_iov rd[8], wr[8];
	fx_add_segs(&f, 1, 1, 8, &tok);
	pop(&f, &c, rd, wr);
	assert_int_equal(vtio_devq_push(f.dq, &c, 5), 0);
	assert_int_equal(fx_pdesc_flags(&f, 0), AV | US | WR);
	uint32_t len;
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok);
	assert_int_equal(len, 5);
	fx_add_segs(&f, 1, 1, 8, &tok);
	pop(&f, &c, rd, wr);
	assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
	assert_int_equal(fx_pdesc_flags(&f, 2), AV | US); /* after the first 2-slot buffer */
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok);
	assert_int_equal(len, 0);
	/* more than the writable part: refused by the device API */
	fx_add_segs(&f, 1, 1, 8, &tok);
	pop(&f, &c, rd, wr);
	assert_int_equal(vtio_devq_push(f.dq, &c, 9), VTIO_EINVAL);
	assert_int_equal(vtio_devq_push(f.dq, &c, 8), 0);
	fx_teardown(&f);
}

/* PACKED-DEV-2/8: a batch completed out of order is written in completion
 * order from the device's next-used slot (first flags last); the driver
 * reaps it in that order with each buffer's own len. */
static void test_push_batch_out_of_order(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 9, FX_MODERN, NULL), 0);
	int tok[4];
	struct vtio_devq_chain c[4];
	struct vtio_iov rd[4][8], wr[4][8];
	for (int i = 0; i < 4; i++)
		fx_add_segs(&f, 1, (unsigned)i % 2, 8, &tok[i]);
	for (int i = 0; i < 4; i++)
		pop(&f, &c[i], rd[i], wr[i]);
	struct vtio_devq_done u[4] = {{vtio_devq_handle_of(&c[3]), 8},
				      {vtio_devq_handle_of(&c[0]), 0},
				      {vtio_devq_handle_of(&c[2]), 0},
				      {vtio_devq_handle_of(&c[1]), 8}};
	assert_int_equal(vtio_devq_push_batch(f.dq, u, 4), 0);
	uint32_t len;
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok[3]);
	assert_int_equal(len, 8);
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok[0]);
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok[2]);
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok[1]);
	assert_int_equal(len, 8);
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_true(vtio_devq_notify_prepare(f.dq));
	fx_teardown(&f);
}

/* INDIR-DRV-1: with indirect tables configured but VIRTIO_F_INDIRECT_DESC
 * not negotiated, no descriptor ever carries INDIRECT. */
static void test_indirect_needs_feature(void **state)
{
	(void)state;
	struct fx f;
	struct fx_opts o = {.indirect_tables = 4, .indirect_max = 8, .indirect_threshold = 2};
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 8, FX_MODERN, &o), 0);
	int tok;
	fx_add_segs(&f, 2, 2, 8, &tok);
	for (uint32_t s = 0; s < 4; s++)
		assert_int_equal(fx_pdesc_flags(&f, s) & VTIO_DESC_F_INDIRECT, 0);
	assert_int_equal(vtio_vq_num_free(f.vq), 4);
	struct vtio_vq_stats st;
	vtio_vq_get_stats(f.vq, &st);
	assert_int_equal(st.indirect, 0);
	fx_teardown(&f);
}

/* ---- Event-driven simulation: no lost notification --------------------------------------- */

struct sim {
	struct fx f;
	uint64_t rng;
	bool kick_pending, irq_pending;
	bool dev_sleeping, drv_sleeping;
	unsigned inflight, completed;
	int tok;
};

static uint32_t sim_rnd(struct sim *s)
{
	s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(s->rng >> 33);
}

static void sim_driver(struct sim *s, unsigned char *buf)
{
	if (s->irq_pending || !s->drv_sleeping) {
		s->irq_pending = false;
		s->drv_sleeping = false;
		vtio_vq_disable_cb(s->f.vq);
		while (vtio_vq_get_used(s->f.vq, NULL) != NULL) {
			s->inflight--;
			s->completed++;
		}
	}
	/* new requests arrive whether the driver sleeps or not */
	unsigned n = sim_rnd(s) % 4;
	for (unsigned i = 0; i < n; i++) {
		unsigned nseg = 1 + sim_rnd(s) % 3;
		struct vtio_sg sg[3];
		for (unsigned k = 0; k < nseg; k++)
			sg[k] = vtio_sg_of(buf + 8u * k, 8);
		if (vtio_vq_add(s->f.vq, sg, 1, nseg - 1, &s->tok) != 0)
			break;
		s->inflight++;
	}
	if (vtio_vq_kick_prepare(s->f.vq))
		s->kick_pending = true;
	if (!s->drv_sleeping) {
		bool ok = (sim_rnd(s) & 1) ? vtio_vq_enable_cb(s->f.vq)
					   : vtio_vq_enable_cb_delayed(s->f.vq);
		s->drv_sleeping = ok;
	}
}

static void sim_device(struct sim *s)
{
	if (!s->kick_pending && s->dev_sleeping)
		return;
	s->kick_pending = false;
	s->dev_sleeping = false;
	vtio_devq_disable_notify(s->f.dq);
	unsigned budget = 1 + sim_rnd(s) % 5;
	struct vtio_devq_chain c;
	for (unsigned i = 0; i < budget; i++) {
		fx_chain_init(&s->f, &c);
		if (vtio_devq_pop(s->f.dq, &c) != 0)
			break;
		assert_int_equal(vtio_devq_push(s->f.dq, &c, (uint32_t)c.wr_len), 0);
	}
	if (vtio_devq_notify_prepare(s->f.dq))
		s->irq_pending = true;
	if (!vtio_devq_more_avail(s->f.dq) && vtio_devq_enable_notify(s->f.dq))
		s->dev_sleeping = true;
}

/* EVT-DRV-8/9, EVT-DEV-7/9, NOTIF-DRV-3, NOTIF-DEV-3: both sides sleep
 * whenever they may; a random interleaving over many wraps never reaches a
 * state where one sleeps with work for it and no notification coming. */
static void test_no_lost_notification(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {1, 3, 7, 16};
	for (int ev = 0; ev < 2; ev++)
		for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
			struct sim s;
			memset(&s, 0, sizeof(s));
			s.rng = 99 + z;
			uint64_t feat = FX_MODERN | (ev ? VTIO_FEATURE(VTIO_F_EVENT_IDX) : 0);
			assert_int_equal(fx_setup(&s.f, VTIO_LAYOUT_PACKED, sizes[z], feat, NULL),
					 0);
			unsigned char *buf = fx_alloc(&s.f, 32, 8);
			for (int step = 0; step < 40000; step++) {
				if (sim_rnd(&s) & 1)
					sim_driver(&s, buf);
				else
					sim_device(&s);
				/* lost kick: the device sleeps, work is there, no kick */
				if (s.dev_sleeping && !s.kick_pending)
					assert_false(vtio_devq_more_avail(s.f.dq));
				/* lost interrupt: all done on the device side, the
				 * driver sleeps with used buffers and no interrupt */
				if (s.dev_sleeping && !s.kick_pending && s.drv_sleeping &&
				    !s.irq_pending)
					assert_false(vtio_vq_more_used(s.f.vq));
			}
			assert_true(s.completed > 1000);
			assert_false(vtio_vq_is_broken(s.f.vq));
			assert_false(vtio_devq_is_broken(s.f.dq));
			fx_teardown(&s.f);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_in_order_batch),
	    cmocka_unit_test(test_in_order_long),
	    cmocka_unit_test(test_notification_data),
	    cmocka_unit_test(test_evt_device_area_flags),
	    cmocka_unit_test(test_evt_driver_area_flags),
	    cmocka_unit_test(test_evt_desc_mode),
	    cmocka_unit_test(test_evt_desc_wrap_adjust),
	    cmocka_unit_test(test_evt_delayed),
	    cmocka_unit_test(test_evt_drv_long_gap),
	    cmocka_unit_test(test_evt_dev_long_gap),
	    cmocka_unit_test(test_used_len_write_flag),
	    cmocka_unit_test(test_push_batch_out_of_order),
	    cmocka_unit_test(test_indirect_needs_feature),
	    cmocka_unit_test(test_no_lost_notification),
	};
	return FX_RUN_PACKED_ONLY(tests);
}
