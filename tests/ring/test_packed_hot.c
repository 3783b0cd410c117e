/* The packed ring's straight-line ("hot") paths, both roles: one-segment
 * add, get_used, one-descriptor pop, push, push_handle and the one-pass
 * push_batch. A VERSION_1 queue over local pointers takes them; a legacy
 * (no VERSION_1) queue over the same memory takes the general paths, so
 * every scenario here runs on both and must give the same results, the same
 * ring bytes and the same errors.
 *
 * Checklist: PACKED-DRV-4/7/8/12/14/15 (descriptor fields, flags last, wrap
 * flip after slot num-1, the buffer's own count, len clamped), PACKED-DEV-4/
 * 7/8/9 (available test, WRITE iff len, a batch's first flags last, flags
 * before the other fields), PACKED-DRV-9 (no room: nothing written). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ring_fixture.h"

#define AV VTIO_DESC_F_AVAIL
#define US VTIO_DESC_F_USED
#define WR VTIO_DESC_F_WRITE

/* Modern (hot paths) and legacy (general paths) packed queues. */
static const uint64_t variants[2] = {FX_MODERN, 0};

static struct vtio_packed_desc *desc_at(struct fx *f, uint32_t slot)
{
	return (struct vtio_packed_desc *)(void *)f->areas.desc + slot;
}

/* Wire to CPU order for the variant (legacy packed uses host order). */
static uint16_t w16(const struct fx *f, uint16_t x)
{
	return (f->features & FX_MODERN) ? vtio_le16(x) : x;
}
static uint32_t w32(const struct fx *f, uint32_t x)
{
	return (f->features & FX_MODERN) ? vtio_le32(x) : x;
}
static uint64_t w64(const struct fx *f, uint64_t x)
{
	return (f->features & FX_MODERN) ? vtio_le64(x) : x;
}

/* One buffer at a time and batches of every size up to num, over several
 * laps of odd ring sizes: every descriptor field the driver writes, the
 * chain the device gets, every used descriptor the device writes, and the
 * token and length the driver gets back. */
static void run_laps(uint32_t num, uint64_t features)
{
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, num, features, NULL), 0);
	unsigned char *buf = fx_alloc(&f, 64u * num, 16);
	int tok[256];
	uint32_t slot = 0;
	bool wrap = true; /* PACKED-DRV-3 */
	unsigned seq = 0;
	for (unsigned round = 0; round < 6u * num + 6u; round++) {
		unsigned batch = 1u + round % num; /* 1..num */
		struct vtio_devq_done done[256];
		uint32_t first_slot = slot;
		for (unsigned k = 0; k < batch; k++) {
			bool w = (seq + k) % 3 != 0;
			unsigned char *b = buf + 64u * ((seq + k) % num);
			struct vtio_sg sg = vtio_sg_of(b, 16u + (seq + k) % 40u);
			void *t = &tok[(seq + k) % 256u];
			assert_int_equal(vtio_vq_add(f.vq, &sg, w ? 0 : 1, w ? 1 : 0, t), 0);
			uint32_t s = (first_slot + k) % num;
			bool lap = ((first_slot + k) / num) % 2 == 0 ? wrap : !wrap;
			const struct vtio_packed_desc *d = desc_at(&f, s);
			assert_int_equal(w64(&f, d->addr), fx_addr(b));
			assert_int_equal(w32(&f, d->len), sg.len);
			assert_true(w16(&f, d->id) < num);
			/* PACKED-DRV-4/12: AVAIL = wrap, USED = !wrap, WRITE as asked. */
			assert_int_equal(w16(&f, d->flags), (lap ? AV : US) | (w ? WR : 0));
		}
		for (unsigned k = 0; k < batch; k++) {
			bool w = (seq + k) % 3 != 0;
			struct vtio_devq_chain c;
			fx_chain_init(&f, &c);
			assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
			assert_int_equal(c.ndesc, 1);
			assert_int_equal(c.rd_num, w ? 0u : 1u);
			assert_int_equal(c.wr_num, w ? 1u : 0u);
			const struct vtio_iov *v = w ? &c.wr[0] : &c.rd[0];
			assert_ptr_equal(v->ptr, buf + 64u * ((seq + k) % num));
			assert_int_equal(v->len, 16u + (seq + k) % 40u);
			assert_int_equal(w ? c.wr_len : c.rd_len, v->len);
			done[k].h = vtio_devq_handle_of(&c);
			done[k].len = w ? (uint32_t)((seq + k) % 7u) : 0u;
		}
		struct vtio_devq_chain none;
		fx_chain_init(&f, &none);
		assert_int_equal(vtio_devq_pop(f.dq, &none), VTIO_EAGAIN);
		if (batch == 1 && round % 2 == 0) {
			assert_int_equal(vtio_devq_push_handle(f.dq, done[0].h, done[0].len), 0);
		} else {
			assert_int_equal(vtio_devq_push_batch(f.dq, done, batch), 0);
		}
		for (unsigned k = 0; k < batch; k++) {
			uint32_t s = (first_slot + k) % num;
			bool lap = ((first_slot + k) / num) % 2 == 0 ? wrap : !wrap;
			const struct vtio_packed_desc *d = desc_at(&f, s);
			/* PACKED-DEV-7: AVAIL = USED = wrap, WRITE iff len > 0. */
			assert_int_equal(w16(&f, d->flags),
					 (lap ? AV | US : 0) | (done[k].len ? WR : 0));
			assert_int_equal(w16(&f, d->id), done[k].h.id);
			assert_int_equal(w32(&f, d->len), done[k].len);
		}
		for (unsigned k = 0; k < batch; k++) {
			uint32_t len = 99;
			assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok[(seq + k) % 256u]);
			assert_int_equal(len, done[k].len);
		}
		assert_null(vtio_vq_get_used(f.vq, NULL));
		assert_false(vtio_vq_more_used(f.vq));
		assert_int_equal(vtio_vq_num_free(f.vq), num);
		slot = (first_slot + batch) % num;
		if ((first_slot + batch) / num % 2 == 1)
			wrap = !wrap;
		seq += batch;
	}
	struct vtio_vq_stats st;
	vtio_vq_get_stats(f.vq, &st);
	assert_int_equal(st.added, seq);
	assert_int_equal(st.used, seq);
	assert_false(vtio_vq_is_broken(f.vq));
	assert_false(vtio_devq_is_broken(f.dq));
	fx_teardown(&f);
}

static void test_hot_laps(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {1, 2, 3, 7, 64, 255};
	for (unsigned v = 0; v < 2; v++)
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			run_laps(sizes[i], variants[v]);
}

/* A refused batch publishes nothing (PACKED-DEV-8: the head's flags are
 * written last, and only when every entry passed): the driver sees no used
 * buffer, the head slot still reads as the driver left it, the queue is
 * not broken, and the same buffers can then be pushed. Entries refused: a
 * len over the handle's capacity, an id out of range, no descriptor count,
 * more descriptors than were popped. */
static void test_hot_batch_refused(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 2; v++) {
		for (unsigned bad = 0; bad < 4; bad++) {
			struct fx f;
			assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 8, variants[v], NULL), 0);
			unsigned char *buf = fx_alloc(&f, 256, 16);
			int tok[4];
			struct vtio_devq_done d[4];
			for (int i = 0; i < 4; i++) {
				struct vtio_sg sg = vtio_sg_of(buf + 64 * i, 32);
				assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, &tok[i]), 0);
			}
			for (int i = 0; i < 4; i++) {
				struct vtio_devq_chain c;
				fx_chain_init(&f, &c);
				assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
				d[i].h = vtio_devq_handle_of(&c);
				d[i].len = 8;
			}
			struct vtio_packed_desc head = *desc_at(&f, 0);
			struct vtio_devq_done e[4];
			memcpy(e, d, sizeof(e));
			if (bad == 0)
				e[2].len = 33; /* over wr_cap (32) */
			else if (bad == 1)
				e[3].h.id = 8; /* out of range */
			else if (bad == 2)
				e[1].h.ndesc = 0;
			else
				e[3].h.ndesc = 2; /* 5 descriptors, 4 popped */
			assert_int_equal(vtio_devq_push_batch(f.dq, e, 4), VTIO_EINVAL);
			/* The head's flags as the driver left them: nothing published. */
			assert_int_equal(desc_at(&f, 0)->flags, head.flags);
			assert_null(vtio_vq_get_used(f.vq, NULL));
			assert_false(vtio_vq_more_used(f.vq));
			assert_false(vtio_vq_is_broken(f.vq));
			assert_false(vtio_devq_is_broken(f.dq));
			/* Only the first buffer now: the slots behind it must not read
			 * as used (the refused batch left nothing behind). */
			assert_int_equal(vtio_devq_push_batch(f.dq, d, 1), 0);
			uint32_t len = 0;
			assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok[0]);
			assert_int_equal(len, 8);
			assert_null(vtio_vq_get_used(f.vq, NULL));
			assert_false(vtio_vq_is_broken(f.vq));
			assert_int_equal(vtio_devq_push_batch(f.dq, d + 1, 3), 0);
			for (int i = 1; i < 4; i++) {
				assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok[i]);
				assert_int_equal(len, 8);
			}
			assert_null(vtio_vq_get_used(f.vq, NULL));
			fx_teardown(&f);
		}
	}
}

/* A forged handle on the single push (no descriptor count, more than were
 * popped, a len over its capacity) is refused without a write. */
static void test_hot_push_handle_forged(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 2; v++) {
		struct fx f;
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 4, variants[v], NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		int tok;
		struct vtio_sg sg = vtio_sg_of(buf, 16);
		assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, &tok), 0);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		struct vtio_devq_handle h = vtio_devq_handle_of(&c);
		struct vtio_packed_desc before = *desc_at(&f, 0);
		struct vtio_devq_handle x = h;
		x.ndesc = 0;
		assert_int_equal(vtio_devq_push_handle(f.dq, x, 1), VTIO_EINVAL);
		x.ndesc = 2;
		assert_int_equal(vtio_devq_push_handle(f.dq, x, 1), VTIO_EINVAL);
		assert_int_equal(vtio_devq_push_handle(f.dq, h, 17), VTIO_EINVAL);
		assert_memory_equal(desc_at(&f, 0), &before, sizeof(before));
		assert_false(vtio_devq_is_broken(f.dq));
		assert_int_equal(vtio_devq_push(f.dq, &c, 16), 0);
		uint32_t len = 0;
		assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok);
		assert_int_equal(len, 16);
		fx_teardown(&f);
	}
}

/* A full ring: VTIO_ENOSPC, nothing written, the argument checks still
 * first (NULL token, zero length), VTIO_EIO once broken. */
static void test_hot_full_ring(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 2; v++) {
		struct fx f;
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 3, variants[v], NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		int tok[4];
		struct vtio_sg sg = vtio_sg_of(buf, 16);
		for (int i = 0; i < 3; i++)
			assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, &tok[i]), 0);
		unsigned char ring[48];
		memcpy(ring, f.areas.desc, sizeof(ring));
		assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, &tok[3]), VTIO_ENOSPC);
		assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, NULL), VTIO_EINVAL);
		struct vtio_sg zero = vtio_sg_of(buf, 0);
		assert_int_equal(vtio_vq_add(f.vq, &zero, 1, 0, &tok[3]), VTIO_EINVAL);
		assert_memory_equal(f.areas.desc, ring, sizeof(ring));
		assert_int_equal(vtio_vq_num_free(f.vq), 0);
		assert_false(vtio_vq_is_broken(f.vq));
		vtio_vq_set_broken(f.vq, "test");
		assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, &tok[3]), VTIO_EIO);
		assert_null(vtio_vq_get_used(f.vq, NULL));
		fx_teardown(&f);
	}
}

/* What the hot pop does not take itself goes to the general walk with the
 * head it already copied: a NEXT list, an empty caller array (VTIO_ENOBUFS,
 * nothing consumed), a zero length, a buffer outside the view, an id out of
 * range, a slot made available again before it was used. Same result on
 * both variants. */
static void test_hot_pop_fallbacks(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 2; v++) {
		struct fx f;
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 8, variants[v], NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		int tok[2];
		struct vtio_sg sg2[2] = {vtio_sg_of(buf, 8), vtio_sg_of(buf + 8, 8)};
		assert_int_equal(vtio_vq_add(f.vq, sg2, 1, 1, &tok[0]), 0);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(c.ndesc, 2);
		assert_int_equal(c.rd_num, 1);
		assert_int_equal(c.wr_num, 1);
		assert_int_equal(vtio_devq_push(f.dq, &c, 4), 0);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok[0]);

		struct vtio_sg sg = vtio_sg_of(buf, 16);
		assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, &tok[1]), 0);
		fx_chain_init(&f, &c);
		c.wr_max = 0;
		assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_ENOBUFS);
		assert_int_equal(c.wr_num, 1);
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(c.wr_num, 1);
		assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok[1]);
		assert_false(vtio_devq_is_broken(f.dq));

		fx_teardown(&f);
	}
	/* Hand-written available descriptors at slot 0 (lap 1: AVAIL). */
	enum { ARENA, ARENA_END, OUTSIDE };
	static const struct {
		int base;    /* the arena's start or end, or outside the view */
		int64_t off; /* from base */
		uint32_t len;
		uint16_t id;
		uint16_t flags;
		int err; /* 1: whatever the general walk says (compared across variants) */
	} bad[] = {
	    {ARENA, 0, 0, 0, AV, 1},		  /* zero length */
	    {ARENA, 0, 0, 0, AV | WR, 1},	  /* zero length, writable */
	    {OUTSIDE, 0, 16, 0, AV, VTIO_EFAULT}, /* outside the view */
	    {ARENA, 0, 16, 8, AV, VTIO_ERANGE},	  /* id out of range */
	    /* The view's edges (its one region is the arena): one byte below
	     * its start, one byte past its end, ending exactly at its end
	     * (taken), starting at its end; both directions. */
	    {ARENA, -1, 16, 0, AV, VTIO_EFAULT},
	    {ARENA, -1, 16, 0, AV | WR, VTIO_EFAULT},
	    {ARENA_END, -15, 16, 0, AV, VTIO_EFAULT},
	    {ARENA_END, -15, 16, 0, AV | WR, VTIO_EFAULT},
	    {ARENA_END, -16, 16, 0, AV, 0},
	    {ARENA_END, -16, 16, 0, AV | WR, 0},
	    {ARENA_END, 0, 16, 0, AV | WR, VTIO_EFAULT},
	};
	int errs[2][sizeof(bad) / sizeof(bad[0])];
	unsigned nums[2][sizeof(bad) / sizeof(bad[0])];
	for (unsigned v = 0; v < 2; v++) {
		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct fx g;
			struct vtio_devq_chain c;
			assert_int_equal(fx_setup(&g, VTIO_LAYOUT_PACKED, 8, variants[v], NULL), 0);
			struct vtio_packed_desc *d = desc_at(&g, 0);
			uint64_t a = fx_addr(g.arena) + (uint64_t)bad[i].off;
			if (bad[i].base == ARENA_END)
				a += g.arena_size;
			else if (bad[i].base == OUTSIDE)
				a += g.arena_size + 4096u;
			int want = bad[i].err;
			d->addr = w64(&g, a);
			d->len = w32(&g, bad[i].len);
			d->id = w16(&g, bad[i].id);
			d->flags = w16(&g, bad[i].flags);
			fx_chain_init(&g, &c);
			errs[v][i] = vtio_devq_pop(g.dq, &c);
			nums[v][i] = c.rd_num + c.wr_num;
			if (want == 0) {
				/* Taken: the piece is the buffer, at its place in the arena. */
				assert_int_equal(errs[v][i], 0);
				const struct vtio_iov *io = (bad[i].flags & WR) ? c.wr : c.rd;
				assert_int_equal(nums[v][i], 1);
				assert_ptr_equal(io->ptr, g.arena + (g.arena_size - 16u));
				assert_int_equal(io->len, 16);
				assert_false(vtio_devq_is_broken(g.dq));
			} else if (want != 1) {
				assert_int_equal(errs[v][i], want);
				assert_true(vtio_devq_is_broken(g.dq));
				assert_int_equal(vtio_devq_pop(g.dq, &c), VTIO_EIO);
			}
			fx_teardown(&g);
		}
	}
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(errs[0][i], errs[1][i]);
		if (errs[0][i] == 0)
			assert_int_equal(nums[0][i], nums[1][i]);
	}
}

/* The driver makes a slot available again before the device has used it:
 * num + 1 available descriptors (PACKED-DEV-4, CHECKLIST 3.2). */
static void test_hot_pop_overrun(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 2; v++) {
		struct fx f;
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 2, variants[v], NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		for (uint32_t s = 0; s < 2; s++) {
			struct vtio_packed_desc *d = desc_at(&f, s);
			d->addr = w64(&f, fx_addr(buf));
			d->len = w32(&f, 16);
			d->id = w16(&f, (uint16_t)s);
			d->flags = w16(&f, AV);
		}
		struct vtio_devq_chain c;
		for (int i = 0; i < 2; i++) {
			fx_chain_init(&f, &c);
			assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		}
		/* Lap 2 (wrap 0: USED set, AVAIL clear) over slots still in use. */
		struct vtio_packed_desc *d = desc_at(&f, 0);
		d->flags = w16(&f, US);
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EPROTO);
		assert_true(vtio_devq_is_broken(f.dq));
		fx_teardown(&f);
	}
}

/* Used descriptors the driver must refuse or clamp on the hot path as on
 * the general one: an id out of range, an id not in flight, a len over the
 * writable size (clamped and counted), flags of the wrong lap (not used). */
static void test_hot_used_checks(void **state)
{
	(void)state;
	const char *why[2][2];
	for (unsigned v = 0; v < 2; v++) {
		for (unsigned k = 0; k < 4; k++) {
			struct fx f;
			assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 4, variants[v], NULL), 0);
			unsigned char *buf = fx_alloc(&f, 64, 16);
			int tok;
			struct vtio_sg sg = vtio_sg_of(buf, 16);
			assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, &tok), 0);
			struct vtio_packed_desc *d = desc_at(&f, 0);
			uint16_t id = w16(&f, d->id);
			d->len = w32(&f, k == 2 ? 1000u : 8u);
			d->id = w16(&f, k == 0 ? 4u : k == 1 ? (uint16_t)((id + 1u) % 4u) : id);
			d->flags = w16(&f, k == 3 ? AV : AV | US | WR);
			uint32_t len = 0;
			void *t = vtio_vq_get_used(f.vq, &len);
			if (k < 2) {
				assert_null(t);
				assert_true(vtio_vq_is_broken(f.vq));
				why[v][k] = vtio_vq_broken_reason(f.vq);
			} else if (k == 2) {
				assert_ptr_equal(t, &tok);
				assert_int_equal(len, 16);
				struct vtio_vq_stats st;
				vtio_vq_get_stats(f.vq, &st);
				assert_int_equal(st.len_clamped, 1);
			} else {
				assert_null(t);
				assert_false(vtio_vq_is_broken(f.vq));
			}
			fx_teardown(&f);
		}
	}
	assert_string_equal(why[0][0], why[1][0]);
	assert_string_equal(why[0][1], why[1][1]);
	assert_string_not_equal(why[0][0], why[0][1]);
}

/* What a device writes to mark @p slot used in lap 1: id, 8 bytes, WRITE. */
static void forge_used(struct fx *f, uint32_t slot, uint16_t id)
{
	struct vtio_packed_desc *d = desc_at(f, slot);
	d->id = w16(f, id);
	d->len = w32(f, 8);
	d->flags = w16(f, AV | US | WR);
}

/* A device that writes a used-looking descriptor with nothing in flight
 * (before the first add, and after the only buffer came back): more_used
 * says no and get_used takes nothing, on the hot path as on the general
 * one; the forged slot is not read as a completion (PACKED-DRV-14). */
static void test_hot_nothing_in_flight(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 2; v++) {
		struct fx f;
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 4, variants[v], NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		int tok;
		/* Slot 0 used in lap 1 before anything was added. */
		forge_used(&f, 0, 0);
		assert_false(vtio_vq_more_used(f.vq));
		assert_null(vtio_vq_get_used(f.vq, NULL));
		assert_false(vtio_vq_is_broken(f.vq));
		/* One buffer out and back; then slot 1 forged used. */
		struct vtio_sg sg = vtio_sg_of(buf, 16);
		assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, &tok), 0);
		uint16_t id = w16(&f, desc_at(&f, 0)->id);
		forge_used(&f, 0, id);
		assert_true(vtio_vq_more_used(f.vq));
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok);
		forge_used(&f, 1, id);
		assert_false(vtio_vq_more_used(f.vq));
		assert_null(vtio_vq_get_used(f.vq, NULL));
		assert_false(vtio_vq_is_broken(f.vq));
		fx_teardown(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hot_laps),
	    cmocka_unit_test(test_hot_batch_refused),
	    cmocka_unit_test(test_hot_push_handle_forged),
	    cmocka_unit_test(test_hot_full_ring),
	    cmocka_unit_test(test_hot_pop_fallbacks),
	    cmocka_unit_test(test_hot_pop_overrun),
	    cmocka_unit_test(test_hot_used_checks),
	    cmocka_unit_test(test_hot_nothing_in_flight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
