/* vtio_vq_add_batch() and vtio_vq_get_used_batch(): a VERSION_1 packed
 * queue over local pointers takes its own loops (vq_packed.c,
 * add_batch_hot / used_batch_hot); every other queue (packed legacy or
 * IN_ORDER, a ring behind a ring_mem view, split) takes the general loop
 * over vtio_vq_add() / vtio_vq_get_used(). Every scenario runs on each and
 * must give what one call per buffer gives: the same ring bytes, the same
 * chains at the device, the same tokens and lengths back, the same errors,
 * the same counters.
 *
 * Checklist: PACKED-DRV-4 (wrap flip after slot num-1), PACKED-DRV-7/8
 * (fields, then flags with a release store), PACKED-DRV-12 (buffer id),
 * PACKED-DRV-14 (flags first, id/len read once, the buffer's own count),
 * PACKED-DRV-15 (len clamped), SPLIT-DRV-16, CHECKLIST 3.3 (a bad used id
 * breaks the queue and no wrong token is returned). */
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
#define IO VTIO_FEATURE(VTIO_F_IN_ORDER)

static const struct variant {
	const char *name;
	enum vtio_layout layout;
	uint64_t features;
	uint32_t vq_flags;
	bool count; /* driver rings behind a counting ring_mem view */
} variants[] = {
    {"packed hot", VTIO_LAYOUT_PACKED, FX_MODERN, 0, false},
    {"packed hot, DMA barriers", VTIO_LAYOUT_PACKED, FX_MODERN, VTIO_VQ_F_DMA_BARRIERS, false},
    {"packed legacy", VTIO_LAYOUT_PACKED, 0, 0, false},
    {"packed in-order", VTIO_LAYOUT_PACKED, FX_MODERN | IO, 0, false},
    {"packed ring_mem", VTIO_LAYOUT_PACKED, FX_MODERN, 0, true},
    {"packed hot, event idx, notification data", VTIO_LAYOUT_PACKED,
     FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX) | VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA), 0, false},
    {"split", VTIO_LAYOUT_SPLIT, FX_MODERN, 0, false},
    {"split, event idx, notification data", VTIO_LAYOUT_SPLIT,
     FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX) | VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA), 0, false},
    {"split in-order", VTIO_LAYOUT_SPLIT, FX_MODERN | IO, 0, false},
    {"split legacy", VTIO_LAYOUT_SPLIT, 0, 0, false},
};
#define NVAR (sizeof(variants) / sizeof(variants[0]))

static int setup_variant(struct fx *f, unsigned v, uint32_t num)
{
	struct fx_opts o;
	memset(&o, 0, sizeof(o));
	o.vq_flags = variants[v].vq_flags;
	o.count = variants[v].count;
	return fx_setup(f, variants[v].layout, num, variants[v].features, &o);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* The ring as the device sees it, without buffer addresses (each run has
 * its own arena): packed len/id/flags of every slot; split the driver and
 * device areas and every descriptor's len/flags/next. */
static uint64_t ring_sig(const struct fx *f)
{
	uint64_t h = 1469598103934665603ull;
	struct vtio_vq_area_sizes s;
	assert_int_equal(vtio_vq_area_sizes(f->layout, f->num, &s), 0);
	const unsigned char *d = f->areas.desc;
	for (uint32_t i = 0; i < f->num; i++)
		h = fnv(h, d + (size_t)i * 16u + 8u, 8);
	if (f->layout == VTIO_LAYOUT_SPLIT) {
		h = fnv(h, f->areas.driver, s.driver);
		h = fnv(h, f->areas.device, s.device);
	}
	return h;
}

/* One buffer's trip, as the test records it. */
struct trip {
	uint16_t id;	/* device: chain id */
	uint32_t off;	/* device: first piece, from the fixture's buffer */
	uint32_t dlen;	/* device: the piece's length */
	bool dwr;	/* device: writable */
	unsigned token; /* driver: index of the token that came back */
	uint32_t len;	/* driver: used length that came back */
};

#define MAX_ROUNDS 120
#define MAX_WANT   64

struct result {
	struct trip t[MAX_ROUNDS * MAX_WANT];
	unsigned n;
	uint64_t sig[MAX_ROUNDS]; /* ring_sig() after each round */
	unsigned rounds;
	struct vtio_vq_stats st;
};

/* Buffer s: one segment of 16 + s % 40 bytes, writable in runs of four. */
static bool dir_of(unsigned s)
{
	return (s / 4u) % 2u == 0;
}

/*
 * Laps over a ring of @p num: rounds of 1..min(num, 64) buffers, added with
 * add_batch in calls of at most @p per (split where the direction changes)
 * or with one vtio_vq_add() each (@p per 0), popped and pushed by the
 * device (used len 1 + s % writable size), reaped with get_used_batch in
 * calls of at most @p per or one vtio_vq_get_used() each. Batch runs put
 * single calls between the batches.
 */
static void run(unsigned v, uint32_t num, unsigned per, struct result *r)
{
	struct fx f;
	assert_int_equal(setup_variant(&f, v, num), 0);
	unsigned char *buf = fx_alloc(&f, 64u * 64u, 16);
	static int tok[64];
	memset(r, 0, sizeof(*r));
	unsigned seq = 0;
	const uint32_t most = num < MAX_WANT ? num : MAX_WANT;
	for (unsigned round = 0; round < 3u * num + 6u && round < MAX_ROUNDS; round++) {
		unsigned want = 1u + (round * 7u) % most;
		unsigned added = 0;
		while (added < want) {
			unsigned s = seq + added;
			bool w = dir_of(s);
			/* Batch runs mix in single calls: the state the batch
			 * loops leave must be the one the single calls read. */
			if (per == 0 || (round % 4u == 3u && added == 0)) {
				struct vtio_sg sg =
				    vtio_sg_of(buf + 64u * (s % 64u), 16u + s % 40u);
				assert_int_equal(
				    vtio_vq_add(f.vq, &sg, w ? 0 : 1, w ? 1 : 0, &tok[s % 64u]), 0);
				added++;
				continue;
			}
			struct vtio_sg sg[64];
			void *tk[64];
			unsigned n = 0;
			while (n < per && added + n < want && dir_of(s + n) == w) {
				unsigned t = s + n;
				sg[n] = vtio_sg_of(buf + 64u * (t % 64u), 16u + t % 40u);
				tk[n] = &tok[t % 64u];
				n++;
			}
			assert_int_equal(vtio_vq_add_batch(f.vq, sg, n, w, tk), (int)n);
			added += n;
		}
		/* Kicks and their data (the next slot and the wrap counter with
		 * NOTIFICATION_DATA) go into the round's signature. */
		assert_int_equal(vtio_vq_kick(f.vq), 0);
		struct vtio_devq_done done[64];
		for (unsigned i = 0; i < want; i++) {
			struct vtio_devq_chain c;
			fx_chain_init(&f, &c);
			assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
			struct trip *t = &r->t[r->n + i];
			t->id = c.id;
			const struct vtio_iov *io = c.rd_num ? &c.rd[0] : &c.wr[0];
			t->off = (uint32_t)(io->addr - fx_addr(buf));
			t->dlen = io->len;
			t->dwr = c.wr_num != 0;
			done[i].h = vtio_devq_handle_of(&c);
			done[i].len = c.wr_len ? 1u + (seq + i) % c.wr_len : 0u;
		}
		assert_int_equal(vtio_devq_push_batch(f.dq, done, want), 0);
		/* With EVENT_IDX the device asks for the next kick at its next
		 * slot on some rounds: the driver's decision reads its wrap. */
		if (round % 2u == 0u)
			(void)vtio_devq_enable_notify(f.dq);
		else
			vtio_devq_disable_notify(f.dq);
		unsigned got = 0;
		while (got < want) {
			struct trip *t = &r->t[r->n + got];
			if (per == 0 || (round + got) % 3u == 2u) {
				void *p = vtio_vq_get_used(f.vq, &t->len);
				assert_non_null(p);
				t->token = (unsigned)((int *)p - tok);
				got++;
				continue;
			}
			void *p[64];
			uint32_t len[64];
			unsigned n = per < want - got ? per : want - got;
			int k = vtio_vq_get_used_batch(f.vq, p, len, n);
			assert_true(k >= 1 && (unsigned)k <= n);
			for (int i = 0; i < k; i++) {
				r->t[r->n + got + (unsigned)i].token =
				    (unsigned)((int *)p[i] - tok);
				r->t[r->n + got + (unsigned)i].len = len[i];
			}
			got += (unsigned)k;
		}
		void *none;
		assert_int_equal(vtio_vq_get_used_batch(f.vq, &none, NULL, 1), VTIO_EAGAIN);
		r->n += want;
		uint64_t h = ring_sig(&f);
		h = fnv(h, &f.kicks, sizeof(f.kicks));
		h = fnv(h, &f.last_kick_data, sizeof(f.last_kick_data));
		r->sig[r->rounds++] = h;
		seq += want;
	}
	assert_false(vtio_vq_is_broken(f.vq));
	assert_int_equal(vtio_vq_num_free(f.vq), num);
	vtio_vq_get_stats(f.vq, &r->st);
	fx_teardown(&f);
}

/* The batch calls give what one call per buffer gives, over laps, odd
 * ring sizes and every batch size, on the hot loops and the general one. */
static void test_batch_equals_single(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {1, 2, 3, 7, 64, 255, 256};
	static const unsigned pers[] = {1, 2, 3, 32, 64};
	static struct result ref, got;
	for (unsigned v = 0; v < NVAR; v++) {
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			if (variants[v].layout == VTIO_LAYOUT_SPLIT && (sizes[i] & (sizes[i] - 1u)))
				continue; /* split sizes are powers of 2 */
			run(v, sizes[i], 0, &ref);
			assert_true(ref.n > 0);
			assert_int_equal(ref.st.added, ref.n);
			assert_int_equal(ref.st.used, ref.n);
			for (unsigned p = 0; p < sizeof(pers) / sizeof(pers[0]); p++) {
				run(v, sizes[i], pers[p], &got);
				assert_int_equal(got.n, ref.n);
				assert_int_equal(got.rounds, ref.rounds);
				for (unsigned k = 0; k < got.n; k++) {
					assert_int_equal(got.t[k].id, ref.t[k].id);
					assert_int_equal(got.t[k].off, ref.t[k].off);
					assert_int_equal(got.t[k].dlen, ref.t[k].dlen);
					assert_int_equal(got.t[k].dwr, ref.t[k].dwr);
					assert_int_equal(got.t[k].token, ref.t[k].token);
					assert_int_equal(got.t[k].len, ref.t[k].len);
				}
				for (unsigned k = 0; k < got.rounds; k++)
					assert_true(got.sig[k] == ref.sig[k]);
				assert_memory_equal(&got.st, &ref.st, sizeof(got.st));
			}
		}
	}
}

/* Buffers for the small tests: @p n of 32 bytes in @p f's arena, sg[i]
 * of @p len bytes over buffer i, tk[i] = &tok[i]. */
struct bufs {
	unsigned char *buf;
	int tok[12];
	struct vtio_sg sg[12];
	void *tk[12];
};

static void bufs_init(struct bufs *b, struct fx *f, unsigned n, uint32_t len)
{
	assert_true(n <= 12);
	b->buf = fx_alloc(f, 32u * n, 16);
	for (unsigned i = 0; i < n; i++) {
		b->sg[i] = vtio_sg_of(b->buf + 32u * i, len);
		b->tk[i] = &b->tok[i];
	}
}

/* A full ring: add_batch adds what fits and says so; then VTIO_ENOSPC
 * with nothing written; get_used_batch reaps in pieces, then EAGAIN. */
static void test_batch_full_ring(void **state)
{
	(void)state;
	for (unsigned v = 0; v < NVAR; v++) {
		struct fx f;
		assert_int_equal(setup_variant(&f, v, 8), 0);
		struct bufs b;
		bufs_init(&b, &f, 12, 32);
		assert_int_equal(vtio_vq_add_batch(f.vq, b.sg, 12, true, b.tk), 8);
		uint64_t before = ring_sig(&f);
		assert_int_equal(vtio_vq_add_batch(f.vq, b.sg + 8, 4, true, b.tk + 8), VTIO_ENOSPC);
		assert_int_equal(vtio_vq_add(f.vq, b.sg + 8, 0, 1, b.tk[8]), VTIO_ENOSPC);
		assert_true(ring_sig(&f) == before);
		assert_int_equal(vtio_vq_num_free(f.vq), 0);
		(void)vtio_vq_kick_prepare(f.vq);
		struct vtio_devq_done done[8];
		for (unsigned i = 0; i < 8; i++) {
			struct vtio_devq_chain c;
			fx_chain_init(&f, &c);
			assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
			assert_int_equal(c.wr[0].addr, fx_addr(b.buf + 32u * i));
			done[i].h = vtio_devq_handle_of(&c);
			done[i].len = i + 1u;
		}
		assert_int_equal(vtio_devq_push_batch(f.dq, done, 8), 0);
		void *p[8];
		uint32_t len[8];
		assert_int_equal(vtio_vq_get_used_batch(f.vq, p, len, 3), 3);
		assert_int_equal(vtio_vq_get_used_batch(f.vq, p + 3, NULL, 3), 3);
		assert_int_equal(vtio_vq_get_used_batch(f.vq, p + 6, len + 6, 8), 2);
		assert_int_equal(vtio_vq_get_used_batch(f.vq, p, len, 8), VTIO_EAGAIN);
		for (unsigned i = 0; i < 8; i++)
			assert_ptr_equal(p[i], &b.tok[i]);
		/* IN_ORDER: one used entry may complete the batch, the buffers
		 * before it come back with their writable size (vtio_vq_get_used()). */
		bool io = (variants[v].features & IO) != 0;
		for (unsigned i = 0; i < 3; i++)
			assert_int_equal(len[i], io ? 32u : i + 1u);
		assert_int_equal(len[6], io ? 32u : 7u);
		assert_int_equal(len[7], 8);
		assert_int_equal(vtio_vq_num_free(f.vq), 8);
		struct vtio_vq_stats st;
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.added, 8);
		assert_int_equal(st.used, 8);
		fx_teardown(&f);
	}
}

/* Bad arguments, and a bad entry in the middle of a batch: the buffers
 * before it are added, it is not, and the next call says why. */
static void test_batch_bad_entries(void **state)
{
	(void)state;
	for (unsigned v = 0; v < NVAR; v++) {
		struct fx f;
		assert_int_equal(setup_variant(&f, v, 8), 0);
		struct bufs b;
		bufs_init(&b, &f, 4, 32);
		void *p[4];
		assert_int_equal(vtio_vq_add_batch(f.vq, b.sg, 0, false, b.tk), VTIO_EINVAL);
		assert_int_equal(vtio_vq_add_batch(f.vq, NULL, 2, false, b.tk), VTIO_EINVAL);
		assert_int_equal(vtio_vq_add_batch(f.vq, b.sg, 2, false, NULL), VTIO_EINVAL);
		assert_int_equal(vtio_vq_get_used_batch(f.vq, p, NULL, 0), VTIO_EINVAL);
		assert_int_equal(vtio_vq_get_used_batch(f.vq, NULL, NULL, 2), VTIO_EINVAL);
		assert_int_equal(vtio_vq_get_used_batch(f.vq, p, NULL, 2), VTIO_EAGAIN);
		uint64_t empty = ring_sig(&f);
		/* b.sg[2] has no bytes: two added, then EINVAL for it. */
		b.sg[2].len = 0;
		assert_int_equal(vtio_vq_add_batch(f.vq, b.sg, 4, false, b.tk), 2);
		assert_int_equal(vtio_vq_add_batch(f.vq, b.sg + 2, 2, false, b.tk + 2),
				 VTIO_EINVAL);
		/* A NULL token: nothing added, EINVAL. */
		b.sg[2].len = 32;
		b.tk[2] = NULL;
		assert_int_equal(vtio_vq_add_batch(f.vq, b.sg + 2, 2, false, b.tk + 2),
				 VTIO_EINVAL);
		b.tk[2] = &b.tok[2];
		assert_int_equal(vtio_vq_add_batch(f.vq, b.sg + 2, 2, false, b.tk + 2), 2);
		assert_int_equal(vtio_vq_num_free(f.vq), 4);
		assert_true(ring_sig(&f) != empty);
		(void)vtio_vq_kick_prepare(f.vq);
		/* The device sees the four good buffers, in order, and no more. */
		for (unsigned i = 0; i < 4; i++) {
			struct vtio_devq_chain c;
			fx_chain_init(&f, &c);
			assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
			assert_int_equal(c.rd_num, 1);
			assert_int_equal(c.wr_num, 0);
			assert_int_equal(c.rd[0].addr, fx_addr(b.buf + 32u * i));
			assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
		}
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EAGAIN);
		assert_int_equal(vtio_vq_get_used_batch(f.vq, p, NULL, 4), 4);
		for (unsigned i = 0; i < 4; i++)
			assert_ptr_equal(p[i], &b.tok[i]);
		fx_teardown(&f);
	}
}

/* Wire order of the variant's ring fields (legacy packed: host order). */
static uint16_t w16(const struct fx *f, uint16_t x)
{
	return (f->features & FX_MODERN) ? vtio_le16(x) : x;
}
static uint32_t w32(const struct fx *f, uint32_t x)
{
	return (f->features & FX_MODERN) ? vtio_le32(x) : x;
}

/*
 * A hostile packed device (the test writes the used descriptors): four
 * buffers, used in slots 0..3 as {id 0, len 1000 (clamped)}, {id 1},
 * then slot 2 holds @p bad: 0 an id out of range, 1 an id not in flight
 * (0 again), 2 flags of the wrong lap (not used, no error); slot 3 a good
 * id. get_used_batch returns the two good ones with the clamp counted,
 * then stops; the queue is broken for 0 and 1 with the single call's
 * reason, and the next call says VTIO_EIO; for 2 the rest comes once the
 * flags are right. No token that was not named is ever returned.
 */
static void test_batch_hostile_used(void **state)
{
	(void)state;
	static const unsigned pk[] = {0, 2, 3, 4, 5}; /* packed variants */
	const char *why[2] = {NULL, NULL};
	for (unsigned vi = 0; vi < sizeof(pk) / sizeof(pk[0]); vi++) {
		unsigned v = pk[vi];
		if (variants[v].features & IO)
			continue; /* in-order ids are slots: test_packed_order.c */
		for (unsigned bad = 0; bad < 3; bad++) {
			struct fx f;
			assert_int_equal(setup_variant(&f, v, 4), 0);
			struct bufs b;
			bufs_init(&b, &f, 4, 16);
			assert_int_equal(vtio_vq_add_batch(f.vq, b.sg, 4, true, b.tk), 4);
			struct vtio_packed_desc *d =
			    (struct vtio_packed_desc *)(void *)f.areas.desc;
			uint16_t ids[4];
			for (unsigned i = 0; i < 4; i++)
				ids[i] = w16(&f, d[i].id);
			/* Slots written in the device's order: fields, then flags. */
			uint16_t lap = w16(&f, AV | US | WR);
			d[0].len = w32(&f, 1000);
			d[0].id = w16(&f, ids[0]);
			d[0].flags = lap;
			d[1].len = w32(&f, 5);
			d[1].id = w16(&f, ids[1]);
			d[1].flags = lap;
			d[2].len = w32(&f, 6);
			d[2].id = w16(&f, bad == 0 ? 4u : bad == 1 ? ids[0] : ids[2]);
			d[2].flags = bad == 2 ? w16(&f, AV | WR) : lap;
			d[3].len = w32(&f, 7);
			d[3].id = w16(&f, ids[3]);
			d[3].flags = lap;
			void *p[8];
			uint32_t len[8];
			assert_int_equal(vtio_vq_get_used_batch(f.vq, p, len, 8), 2);
			assert_ptr_equal(p[0], &b.tok[0]);
			assert_ptr_equal(p[1], &b.tok[1]);
			assert_int_equal(len[0], 16); /* clamped to the writable size */
			assert_int_equal(len[1], 5);
			struct vtio_vq_stats st;
			vtio_vq_get_stats(f.vq, &st);
			assert_int_equal(st.len_clamped, 1);
			assert_int_equal(st.used, 2);
			if (bad < 2) {
				assert_true(vtio_vq_is_broken(f.vq));
				const char *r = vtio_vq_broken_reason(f.vq);
				if (why[bad] == NULL)
					why[bad] = r;
				assert_string_equal(r, why[bad]);
				assert_int_equal(vtio_vq_get_used_batch(f.vq, p, len, 8), VTIO_EIO);
				assert_int_equal(vtio_vq_get_used_batch(f.vq, p, len, 8), VTIO_EIO);
			} else {
				assert_false(vtio_vq_is_broken(f.vq));
				assert_int_equal(vtio_vq_get_used_batch(f.vq, p, len, 8),
						 VTIO_EAGAIN);
				d[2].flags = lap;
				assert_int_equal(vtio_vq_get_used_batch(f.vq, p, len, 8), 2);
				assert_ptr_equal(p[0], &b.tok[2]);
				assert_ptr_equal(p[1], &b.tok[3]);
				assert_int_equal(len[0], 6);
				assert_int_equal(len[1], 7);
				assert_int_equal(vtio_vq_num_free(f.vq), 4);
			}
			fx_teardown(&f);
		}
	}
	assert_non_null(why[0]);
	assert_non_null(why[1]);
	assert_string_not_equal(why[0], why[1]);
}

/* Split: used->ring[@p slot] = {id, len}, then used->idx = @p idx, in the
 * variant's byte order (legacy: the host's; fx_put_used() writes LE). */
static void put_used(struct fx *f, uint16_t slot, uint32_t id, uint32_t len, uint16_t idx)
{
	unsigned char *u = f->areas.device;
	uint32_t wid = w32(f, id), wlen = w32(f, len);
	uint16_t widx = w16(f, idx);
	memcpy(u + vtio_split_used_ring_off(slot & (f->num - 1u)), &wid, 4);
	memcpy(u + vtio_split_used_ring_off(slot & (f->num - 1u)) + 4, &wlen, 4);
	memcpy(u + 2, &widx, 2);
}

/* Split, the same hostile device through used->ring (SPLIT-DRV-15/16,
 * CHECKLIST 3.3): after two good entries (the first len clamped), @p bad
 * 0 an out-of-range id, 1 an id not in flight, 2 used->idx moved further
 * ahead than the buffers in flight once the batch has taken the two (a
 * batch that reads it so at once takes nothing, as the single call does).
 * The two good ones come back, the queue
 * breaks with the single call's reason, and every later call says
 * VTIO_EIO. On the hot loop and the general one (legacy). */
static void test_batch_hostile_used_split(void **state)
{
	(void)state;
	static const unsigned sp[] = {6, 7, 9}; /* split, event idx, legacy */
	const char *why[3] = {NULL, NULL, NULL};
	for (unsigned vi = 0; vi < sizeof(sp) / sizeof(sp[0]); vi++) {
		unsigned v = sp[vi];
		for (unsigned bad = 0; bad < 3; bad++) {
			struct fx f;
			assert_int_equal(setup_variant(&f, v, 4), 0);
			struct bufs b;
			bufs_init(&b, &f, 4, 16);
			assert_int_equal(vtio_vq_add_batch(f.vq, b.sg, 4, true, b.tk), 4);
			(void)vtio_vq_kick_prepare(f.vq);
			uint16_t heads[4];
			for (unsigned i = 0; i < 4; i++) {
				uint16_t h;
				memcpy(&h, (unsigned char *)f.areas.driver + 4u + 2u * i, 2);
				heads[i] = w16(&f, h);
			}
			put_used(&f, 0, heads[0], 1000, 1);
			put_used(&f, 1, heads[1], 3, 2);
			if (bad != 2) {
				put_used(&f, 2, bad == 0 ? 9u : heads[0], 3, 3);
				put_used(&f, 3, heads[3], 3, 4);
			}
			void *p[8];
			uint32_t len[8];
			assert_int_equal(vtio_vq_get_used_batch(f.vq, p, len, 8), 2);
			if (bad == 2) {
				assert_false(vtio_vq_is_broken(f.vq));
				put_used(&f, 2, heads[2], 3, 9);
				assert_int_equal(vtio_vq_get_used_batch(f.vq, p + 2, len + 2, 8),
						 VTIO_EIO);
			}
			assert_ptr_equal(p[0], &b.tok[0]);
			assert_ptr_equal(p[1], &b.tok[1]);
			assert_int_equal(len[0], 16);
			assert_int_equal(len[1], 3);
			struct vtio_vq_stats st;
			vtio_vq_get_stats(f.vq, &st);
			assert_int_equal(st.len_clamped, 1);
			assert_true(vtio_vq_is_broken(f.vq));
			const char *r = vtio_vq_broken_reason(f.vq);
			if (why[bad] == NULL)
				why[bad] = r;
			assert_string_equal(r, why[bad]);
			assert_int_equal(vtio_vq_get_used_batch(f.vq, p, len, 8), VTIO_EIO);
			assert_int_equal(vtio_vq_add_batch(f.vq, b.sg, 1, true, b.tk), VTIO_EIO);
			fx_teardown(&f);
		}
	}
	assert_string_not_equal(why[0], why[1]);
	assert_string_not_equal(why[0], why[2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batch_equals_single),
	    cmocka_unit_test(test_batch_full_ring),
	    cmocka_unit_test(test_batch_bad_entries),
	    cmocka_unit_test(test_batch_hostile_used),
	    cmocka_unit_test(test_batch_hostile_used_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
