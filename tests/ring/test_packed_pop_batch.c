/* vtio_devq_pop_batch(): a VERSION_1 packed queue over local pointers takes
 * its own straight-line loop (devq_packed.c, pop_batch_hot); a legacy
 * packed queue and a split queue over the same kind of memory take the
 * general loop over vtio_devq_pop(). Every scenario runs on each and must
 * give the chains that one vtio_devq_pop() per chain gives, the same
 * errors, and the same state after it.
 *
 * Checklist: PACKED-DEV-4 (available test per slot, as one compare per
 * lap), PACKED-DEV-9 (flags before the other fields, each read once),
 * PACKED-DEV-7 (buffer id range), CHECKLIST 3.2 (a slot made available
 * again before it was used: more than num outstanding). */
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

/* Modern packed (hot loop), legacy packed and split (general loop). */
static const struct {
	enum vtio_layout layout;
	uint64_t features;
} variants[3] = {
    {VTIO_LAYOUT_PACKED, FX_MODERN},
    {VTIO_LAYOUT_PACKED, 0},
    {VTIO_LAYOUT_SPLIT, FX_MODERN},
};

/* What a test compares of one popped chain. */
struct got {
	uint16_t id, ndesc;
	unsigned rd_num, wr_num;
	uint64_t rd_len, wr_len;
	uintptr_t off0; /* first piece, from the fixture's buffer */
	uint32_t len0;
};

static struct got got_of(const struct vtio_devq_chain *c, const unsigned char *buf)
{
	struct got g;
	memset(&g, 0, sizeof(g));
	g.id = c->id;
	g.ndesc = c->ndesc;
	g.rd_num = c->rd_num;
	g.wr_num = c->wr_num;
	g.rd_len = c->rd_len;
	g.wr_len = c->wr_len;
	const struct vtio_iov *v = c->rd_num ? &c->rd[0] : &c->wr[0];
	g.off0 = (uintptr_t)v->ptr - (uintptr_t)buf;
	g.len0 = v->len;
	return g;
}

/* Chains with their own arrays (each c[i] as vtio_devq_pop() wants it). */
struct chains {
	struct vtio_iov rd[64][4], wr[64][4];
	struct vtio_devq_chain c[64];
};

static void chains_init(struct chains *cs)
{
	for (unsigned i = 0; i < 64; i++)
		tc_chain_init(&cs->c[i], cs->rd[i], 4, cs->wr[i], 4);
}

/*
 * Several laps over a ring of @p num: batches of buffers (one in five a
 * two-segment list, which the hot loop hands to the general pop and then
 * goes on), popped with pop_batch in calls of @p per chains (or with one
 * vtio_devq_pop() each when @p per is 0), completed in one push_batch,
 * reaped. Records every chain in @p out. @return the number recorded.
 */
static unsigned run(unsigned v, uint32_t num, unsigned per, struct got *out, unsigned max_out)
{
	struct fx f;
	assert_int_equal(fx_setup(&f, variants[v].layout, num, variants[v].features, NULL), 0);
	unsigned char *buf = fx_alloc(&f, 64u * 64u, 16);
	static struct chains cs;
	int tok[64];
	unsigned seq = 0, nout = 0;
	for (unsigned round = 0; round < 4u * num + 8u; round++) {
		unsigned want = 1u + round % (num < 40u ? num : 40u);
		unsigned used_slots = 0, nbuf = 0;
		while (nbuf < want) {
			unsigned s = seq + nbuf;
			unsigned char *b = buf + 64u * (s % 64u);
			bool list = num >= 2 && s % 5u == 4u;
			if (list && used_slots + 2u > num)
				break;
			if (!list && used_slots + 1u > num)
				break;
			if (list) {
				struct vtio_sg sg[2] = {vtio_sg_of(b, 8), vtio_sg_of(b + 8, 24)};
				assert_int_equal(vtio_vq_add(f.vq, sg, 1, 1, &tok[nbuf]), 0);
				used_slots += 2;
			} else {
				bool w = s % 3u != 0;
				struct vtio_sg sg = vtio_sg_of(b, 16u + s % 40u);
				assert_int_equal(
				    vtio_vq_add(f.vq, &sg, w ? 0 : 1, w ? 1 : 0, &tok[nbuf]), 0);
				used_slots += 1;
			}
			nbuf++;
		}
		assert_true(nbuf > 0);
		(void)vtio_vq_kick_prepare(f.vq); /* split: publish */
		struct vtio_devq_done done[64];
		unsigned got = 0;
		chains_init(&cs);
		while (got < nbuf) {
			if (per == 0) {
				assert_int_equal(vtio_devq_pop(f.dq, &cs.c[got]), 0);
				got++;
				continue;
			}
			unsigned n = per < 64u - got ? per : 64u - got;
			int k = vtio_devq_pop_batch(f.dq, &cs.c[got], n);
			assert_true(k >= 1);
			assert_true((unsigned)k <= n);
			assert_true(got + (unsigned)k <= nbuf);
			got += (unsigned)k;
		}
		/* Nothing more available: EAGAIN from both calls. */
		assert_int_equal(vtio_devq_pop_batch(f.dq, &cs.c[63], 1), VTIO_EAGAIN);
		for (unsigned i = 0; i < nbuf; i++) {
			if (nout < max_out)
				out[nout++] = got_of(&cs.c[i], buf);
			done[i].h = vtio_devq_handle_of(&cs.c[i]);
			done[i].len = cs.c[i].wr_len ? 1u : 0u;
		}
		assert_int_equal(vtio_devq_push_batch(f.dq, done, nbuf), 0);
		for (unsigned i = 0; i < nbuf; i++)
			assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok[i]);
		assert_null(vtio_vq_get_used(f.vq, NULL));
		seq += nbuf;
	}
	assert_false(vtio_devq_is_broken(f.dq));
	assert_false(vtio_vq_is_broken(f.vq));
	struct vtio_devq_pos pos;
	vtio_devq_get_pos(f.dq, &pos);
	assert_int_equal(pos.in_flight, 0);
	fx_teardown(&f);
	return nout;
}

/* The batch gives the chains one pop each gives, over laps and odd sizes,
 * for every batch size, on the hot loop and on the general one. */
static void test_pop_batch_laps(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {1, 2, 3, 7, 64, 255};
	static const unsigned pers[] = {1, 2, 3, 32, 64};
	static struct got ref[4096], got[4096];
	for (unsigned v = 0; v < 3; v++) {
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			if (variants[v].layout == VTIO_LAYOUT_SPLIT && (sizes[i] & (sizes[i] - 1u)))
				continue; /* split sizes are powers of 2 */
			unsigned nref = run(v, sizes[i], 0, ref, 4096);
			assert_true(nref > 0);
			for (unsigned p = 0; p < sizeof(pers) / sizeof(pers[0]); p++) {
				unsigned n = run(v, sizes[i], pers[p], got, 4096);
				assert_int_equal(n, nref);
				for (unsigned k = 0; k < n; k++) {
					assert_int_equal(got[k].id, ref[k].id);
					assert_int_equal(got[k].ndesc, ref[k].ndesc);
					assert_int_equal(got[k].rd_num, ref[k].rd_num);
					assert_int_equal(got[k].wr_num, ref[k].wr_num);
					assert_int_equal(got[k].rd_len, ref[k].rd_len);
					assert_int_equal(got[k].wr_len, ref[k].wr_len);
					assert_int_equal(got[k].off0, ref[k].off0);
					assert_int_equal(got[k].len0, ref[k].len0);
				}
			}
		}
	}
}

/* Argument errors; an empty ring (a broken queue: test_pop_batch_errors). */
static void test_pop_batch_args(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 3; v++) {
		struct fx f;
		assert_int_equal(fx_setup(&f, variants[v].layout, 8, variants[v].features, NULL),
				 0);
		static struct chains cs;
		chains_init(&cs);
		assert_int_equal(vtio_devq_pop_batch(f.dq, cs.c, 0), VTIO_EINVAL);
		assert_int_equal(vtio_devq_pop_batch(f.dq, NULL, 4), VTIO_EINVAL);
		assert_int_equal(vtio_devq_pop_batch(f.dq, cs.c, 4), VTIO_EAGAIN);
		fx_teardown(&f);
	}
}

/* Hand-written available packed descriptors, slots 0..n-1 (lap 1: AVAIL). */
static void put_avail(struct fx *f, uint32_t slot, uint64_t addr, uint32_t len, uint16_t id,
		      uint16_t flags)
{
	struct vtio_packed_desc *d = (struct vtio_packed_desc *)(void *)f->areas.desc + slot;
	bool le = (f->features & FX_MODERN) != 0;
	d->addr = le ? vtio_le64(addr) : addr;
	d->len = le ? vtio_le32(len) : len;
	d->id = le ? vtio_le16(id) : id;
	d->flags = le ? vtio_le16(flags) : flags;
}

/*
 * A bad descriptor behind good ones: the batch returns the good ones, the
 * queue is broken, the next call returns the specific error once, then
 * VTIO_EIO; a bad first descriptor returns its error at once. VTIO_ENOBUFS
 * behind good ones: the good ones, then VTIO_ENOBUFS with nothing
 * consumed, and the chain pops with larger arrays. Packed variants only
 * (hand-written descriptors).
 */
static void test_pop_batch_errors(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 2; v++) {
		for (unsigned bad_at = 0; bad_at < 4; bad_at += 3) {
			/* id out of range; outside the view; a slot over one in use */
			for (unsigned kind = 0; kind < 3; kind++) {
				struct fx f;
				uint32_t num = kind == 2 ? 3u : 8u;
				assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, num,
							  variants[v].features, NULL),
						 0);
				unsigned char *buf = fx_alloc(&f, 64, 16);
				static struct chains cs;
				chains_init(&cs);
				int want_err = 0;
				uint32_t good = kind == 2 ? num : bad_at;
				for (uint32_t s = 0; s < good; s++)
					put_avail(&f, s, fx_addr(buf), 16, (uint16_t)s,
						  AV | VTIO_DESC_F_WRITE);
				if (kind == 0) {
					put_avail(&f, bad_at, fx_addr(buf), 16, (uint16_t)num, AV);
					want_err = VTIO_ERANGE;
				} else if (kind == 1) {
					put_avail(&f, bad_at,
						  fx_addr(f.arena) + f.arena_size + 4096u, 16, 0,
						  AV);
					want_err = VTIO_EFAULT;
				} else {
					/* Lap 2 over slot 0 while all num are still popped. */
					want_err = VTIO_EPROTO;
				}
				int k = vtio_devq_pop_batch(f.dq, cs.c, 8);
				if (kind == 2) {
					assert_int_equal(k, (int)num);
					put_avail(&f, 0, fx_addr(buf), 16, 0, US);
					chains_init(&cs);
					k = vtio_devq_pop_batch(f.dq, cs.c, 8);
					assert_int_equal(k, want_err);
					assert_true(vtio_devq_is_broken(f.dq));
				} else if (bad_at == 0) {
					assert_int_equal(k, want_err);
					assert_true(vtio_devq_is_broken(f.dq));
					assert_int_equal(vtio_devq_pop_batch(f.dq, cs.c, 8),
							 VTIO_EIO);
				} else {
					assert_int_equal(k, (int)bad_at);
					for (int i = 0; i < k; i++) {
						assert_int_equal(cs.c[i].id, (uint16_t)i);
						assert_int_equal(cs.c[i].wr_num, 1);
						assert_ptr_equal(cs.c[i].wr[0].ptr, buf);
					}
					assert_true(vtio_devq_is_broken(f.dq));
					chains_init(&cs);
					assert_int_equal(vtio_devq_pop_batch(f.dq, cs.c, 8),
							 want_err);
					assert_int_equal(vtio_devq_pop_batch(f.dq, cs.c, 8),
							 VTIO_EIO);
				}
				fx_teardown(&f);
			}
		}
		/* VTIO_ENOBUFS behind two good chains. */
		struct fx f;
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 8, variants[v].features, NULL),
				 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		static struct chains cs;
		chains_init(&cs);
		for (uint32_t s = 0; s < 3; s++)
			put_avail(&f, s, fx_addr(buf), 16, (uint16_t)s, AV | VTIO_DESC_F_WRITE);
		cs.c[2].wr_max = 0;
		assert_int_equal(vtio_devq_pop_batch(f.dq, cs.c, 8), 2);
		assert_false(vtio_devq_is_broken(f.dq));
		cs.c[2].wr_max = 0;
		assert_int_equal(vtio_devq_pop_batch(f.dq, &cs.c[2], 1), VTIO_ENOBUFS);
		assert_int_equal(cs.c[2].wr_num, 1); /* pieces needed */
		chains_init(&cs);
		assert_int_equal(vtio_devq_pop_batch(f.dq, cs.c, 8), 1);
		assert_int_equal(cs.c[0].id, 2);
		struct vtio_devq_pos pos;
		vtio_devq_get_pos(f.dq, &pos);
		assert_int_equal(pos.in_flight, 3);
		assert_int_equal(pos.avail_idx, 3);
		assert_false(vtio_devq_is_broken(f.dq));
		fx_teardown(&f);
	}
}

/* vtio_vq_publish() on a packed queue (hot: returns at once; legacy: the
 * general path): 0 and not a byte of the ring written (a packed add is
 * visible when it returns, PACKED-DRV-7/8); VTIO_EIO once broken. */
static void test_packed_publish(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 2; v++) {
		struct fx f;
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 4, variants[v].features, NULL),
				 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		int tok;
		struct vtio_sg sg = vtio_sg_of(buf, 16);
		assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, &tok), 0);
		unsigned char ring[64];
		memcpy(ring, f.areas.desc, sizeof(ring));
		assert_int_equal(vtio_vq_publish(f.vq), 0);
		assert_memory_equal(f.areas.desc, ring, sizeof(ring));
		static struct chains cs;
		chains_init(&cs);
		assert_int_equal(vtio_devq_pop_batch(f.dq, cs.c, 4), 1);
		vtio_vq_set_broken(f.vq, "test");
		assert_int_equal(vtio_vq_publish(f.vq), VTIO_EIO);
		fx_teardown(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_packed_publish),
	    cmocka_unit_test(test_pop_batch_laps),
	    cmocka_unit_test(test_pop_batch_args),
	    cmocka_unit_test(test_pop_batch_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
