/* Packed ring wrap-counter torture: queue sizes 1, 2, 3, 255, 256, 257 and
 * 32768, chains that straddle the end of the ring, a chain of exactly num
 * descriptors, out-of-order completion patterns and long runs, driver and
 * device of this library against each other, with the wire bits of the
 * descriptor ring checked by hand where they matter.
 *
 * Checklist: PACKED-DRV-2/3/4/9/12/13/14, PACKED-DEV-1/2/4/6/7/9,
 * CHECKLIST 3.1 (wrap counters; the advance of exactly num), 3.2 (used
 * descriptors are not where the buffer was; advance by the count of THAT
 * id), 3.8 (sizes that are not powers of two), INDIR-DRV-6/8/9. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ring_fixture.h"

#define SEG  4u /* bytes per segment */
#define MAXS 4u /* segments per buffer */

#define AV VTIO_DESC_F_AVAIL
#define US VTIO_DESC_F_USED

/* ---- Torture engine -------------------------------------------------------------------- */

struct entry {
	unsigned char *data; /* MAXS * SEG bytes */
	unsigned nout, nin;
	bool inflight;
	uint8_t sum; /* what the device writes into every writable byte */
};

struct tort {
	struct fx f;
	struct entry *e;
	unsigned *free_e;
	unsigned nfree_e;
	struct vtio_devq_chain *pend; /* popped, not yet pushed */
	unsigned npend;
	uint64_t rng;
	uint64_t completed;
	uint64_t descs; /* ring descriptors consumed */
};

static uint32_t rnd(struct tort *t)
{
	t->rng = t->rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(t->rng >> 33);
}

enum order { ORD_FIFO, ORD_LIFO, ORD_RANDOM, ORD_PARTIAL };

static void tort_setup(struct tort *t, uint32_t num, uint64_t features, uint32_t tables)
{
	memset(t, 0, sizeof(*t));
	struct fx_opts o = {
	    .indirect_tables = tables, .indirect_max = tables ? MAXS : 0, .indirect_threshold = 3};
	assert_int_equal(fx_setup(&t->f, VTIO_LAYOUT_PACKED, num, features, &o), 0);
	t->e = calloc(num, sizeof(*t->e));
	t->free_e = calloc(num, sizeof(unsigned));
	t->pend = calloc(num + 1u, sizeof(*t->pend));
	assert_non_null(t->e);
	for (uint32_t i = 0; i < num; i++) {
		t->e[i].data = fx_alloc(&t->f, MAXS * SEG, 4);
		t->free_e[t->nfree_e++] = num - 1u - i;
	}
	t->rng = 0x12345678u ^ num;
}

static void tort_teardown(struct tort *t)
{
	free(t->e);
	free(t->free_e);
	for (unsigned i = 0; i <= t->f.num; i++)
		free(t->pend[i].rd), free(t->pend[i].wr);
	free(t->pend);
	fx_teardown(&t->f);
}

/* Driver: add buffers until the ring is full or @want are added. */
static unsigned tort_add(struct tort *t, unsigned want, unsigned maxseg)
{
	unsigned added = 0;
	while (added < want && t->nfree_e > 0) {
		unsigned k = t->free_e[t->nfree_e - 1];
		struct entry *e = &t->e[k];
		unsigned n = 1 + rnd(t) % maxseg;
		unsigned nout = rnd(t) % (n + 1);
		struct vtio_sg sg[MAXS];
		uint8_t sum = 0;
		for (unsigned i = 0; i < n; i++) {
			unsigned char *p = e->data + i * SEG;
			if (i < nout) {
				for (unsigned b = 0; b < SEG; b++) {
					p[b] = (unsigned char)rnd(t);
					sum = (uint8_t)(sum + p[b]);
				}
			} else {
				memset(p, 0, SEG);
			}
			sg[i] = vtio_sg_of(p, SEG);
		}
		int err = vtio_vq_add(t->f.vq, sg, nout, n - nout, e);
		if (err == VTIO_ENOSPC)
			break;
		assert_int_equal(err, 0);
		t->nfree_e--;
		e->nout = nout;
		e->nin = n - nout;
		e->sum = sum;
		e->inflight = true;
		added++;
	}
	(void)vtio_vq_kick(t->f.vq);
	return added;
}

/* Device: pop everything available, checking and filling each chain. */
static void tort_pop(struct tort *t)
{
	for (;;) {
		struct vtio_devq_chain *c = &t->pend[t->npend];
		if (c->rd == NULL) {
			c->rd = calloc(MAXS, sizeof(struct vtio_iov));
			c->wr = calloc(MAXS, sizeof(struct vtio_iov));
		}
		c->rd_max = MAXS;
		c->wr_max = MAXS;
		int err = vtio_devq_pop(t->f.dq, c);
		if (err == VTIO_EAGAIN)
			return;
		assert_int_equal(err, 0);
		assert_true(c->id < t->f.num);
		assert_true(c->ndesc >= 1 && c->ndesc <= t->f.num);
		uint8_t sum = 0;
		for (unsigned i = 0; i < c->rd_num; i++)
			for (unsigned b = 0; b < c->rd[i].len; b++)
				sum = (uint8_t)(sum + ((unsigned char *)c->rd[i].ptr)[b]);
		for (unsigned i = 0; i < c->wr_num; i++)
			memset(c->wr[i].ptr, sum, c->wr[i].len);
		t->descs += c->ndesc;
		t->npend++;
	}
}

/* Device: push @n of the pending chains in the given order. */
static void tort_push(struct tort *t, enum order ord)
{
	unsigned n = t->npend;
	if (ord == ORD_PARTIAL)
		n = t->npend ? rnd(t) % (t->npend + 1) : 0;
	for (unsigned k = 0; k < n; k++) {
		unsigned pick;
		switch (ord) {
		case ORD_FIFO:
			pick = 0;
			break;
		case ORD_LIFO:
			pick = t->npend - 1;
			break;
		default:
			pick = rnd(t) % t->npend;
			break;
		}
		struct vtio_devq_chain c = t->pend[pick];
		assert_int_equal(vtio_devq_push(t->f.dq, &c, (uint32_t)c.wr_len), 0);
		/* keep order of the rest (FIFO semantics for the next picks) */
		memmove(&t->pend[pick], &t->pend[pick + 1],
			(t->npend - pick - 1) * sizeof(t->pend[0]));
		t->pend[t->npend - 1] = c; /* recycle its iov arrays */
		t->npend--;
	}
	(void)vtio_devq_kick(t->f.dq);
}

/* Driver: reap everything used and check it. */
static void tort_reap(struct tort *t)
{
	uint32_t len;
	struct entry *e;
	while ((e = vtio_vq_get_used(t->f.vq, &len)) != NULL) {
		assert_true(e >= t->e && e < t->e + t->f.num);
		assert_true(e->inflight);
		e->inflight = false;
		assert_int_equal(len, e->nin * SEG);
		for (unsigned i = e->nout; i < e->nout + e->nin; i++)
			for (unsigned b = 0; b < SEG; b++)
				assert_int_equal(e->data[i * SEG + b], e->sum);
		t->free_e[t->nfree_e++] = (unsigned)(e - t->e);
		t->completed++;
	}
	assert_false(vtio_vq_is_broken(t->f.vq));
}

static void torture(uint32_t num, uint64_t target, enum order ord, uint64_t features,
		    uint32_t tables)
{
	struct tort t;
	tort_setup(&t, num, FX_MODERN | features, tables);
	unsigned maxseg = num < MAXS ? num : MAXS;
	if (tables)
		maxseg = MAXS; /* longer than the ring: goes indirect */
	unsigned stuck = 0;
	while (t.completed < target) {
		uint64_t before = t.completed;
		tort_add(&t, 1 + rnd(&t) % 8, maxseg);
		tort_pop(&t);
		tort_push(&t, ord);
		tort_reap(&t);
		stuck = t.completed == before ? stuck + 1 : 0;
		assert_true(stuck < 1000); /* no progress: the two sides disagree */
	}
	/* drain */
	tort_pop(&t);
	tort_push(&t, ORD_FIFO);
	tort_reap(&t);
	assert_int_equal(t.npend, 0);
	assert_int_equal(vtio_vq_num_free(t.f.vq), num);
	assert_null(vtio_vq_detach_unused(t.f.vq));
	assert_false(vtio_devq_is_broken(t.f.dq));
	/* Enough descriptors went round for several wraps of both counters. */
	assert_true(t.descs >= 3u * num);
	tort_teardown(&t);
}

/* PACKED-DRV-2 / 3.8: every size in the issue, in every completion order. */
static void test_wrap_sizes(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {1, 2, 3, 255, 256, 257};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (int ord = ORD_FIFO; ord <= ORD_PARTIAL; ord++)
			torture(sizes[i], 4u * sizes[i] + 500u, (enum order)ord, 0, 0);
}

static void test_wrap_32768(void **state)
{
	(void)state;
	torture(32768, 3u * 32768u, ORD_RANDOM, 0, 0);
}

/* INDIR-DRV-8: an indirect buffer takes one slot, whatever its length. */
static void test_wrap_indirect(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {1, 2, 3, 257};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		torture(sizes[i], 6u * sizes[i] + 300u, ORD_RANDOM,
			VTIO_FEATURE(VTIO_F_INDIRECT_DESC), 8);
}

/* Long run, out of order, across tens of thousands of wraps of a size
 * that is not a power of two. */
static void test_wrap_long_run(void **state)
{
	(void)state;
	torture(7, 300000, ORD_PARTIAL, 0, 0);
	torture(255, 300000, ORD_RANDOM, VTIO_FEATURE(VTIO_F_EVENT_IDX), 0);
}

/* ---- Targeted wire checks -------------------------------------------------------------- */

static void add_chain(struct fx *f, unsigned n, void *token, unsigned char *buf)
{
	struct vtio_sg sg[8];
	for (unsigned i = 0; i < n; i++)
		sg[i] = vtio_sg_of(buf + i * 8u, 8);
	assert_int_equal(vtio_vq_add(f->vq, sg, n > 1 ? 1 : n, n > 1 ? n - 1 : 0, token), 0);
}

static void pop_push(struct fx *f, unsigned expect_ndesc, uint32_t len)
{
	struct vtio_devq_chain c;
	fx_chain_init(f, &c);
	assert_int_equal(vtio_devq_pop(f->dq, &c), 0);
	assert_int_equal(c.ndesc, expect_ndesc);
	assert_int_equal(vtio_devq_push(f->dq, &c, len), 0);
}

/* PACKED-DRV-3/4, PACKED-DEV-7, 3.1: first available descriptor is
 * AVAIL=1/USED=0, first used one AVAIL=USED=1; a chain across the end
 * carries different bits before and after the wrap; the id sits in the
 * last descriptor (PACKED-DRV-12). */
static void test_wrap_straddle_bits(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 5, FX_MODERN, NULL), 0);
	unsigned char *buf = fx_alloc(&f, 64, 16);
	int tok[4];

	add_chain(&f, 1, &tok[0], buf);
	assert_int_equal(fx_pdesc_flags(&f, 0), AV);
	pop_push(&f, 1, 0);
	assert_int_equal(fx_pdesc_flags(&f, 0) & (AV | US), AV | US);
	assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok[0]);

	add_chain(&f, 2, &tok[1], buf); /* slots 1, 2 */
	pop_push(&f, 2, 8);
	assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok[1]);

	/* slots 3, 4, 0: lap 0 bits on 3 and 4, lap 1 bits on 0 */
	add_chain(&f, 3, &tok[2], buf);
	assert_int_equal(fx_pdesc_flags(&f, 3), AV | VTIO_DESC_F_NEXT);
	assert_int_equal(fx_pdesc_flags(&f, 4), AV | VTIO_DESC_F_NEXT | VTIO_DESC_F_WRITE);
	assert_int_equal(fx_pdesc_flags(&f, 0), US | VTIO_DESC_F_WRITE);
	uint16_t id = fx_pdesc_id(&f, 0);
	assert_true(id < 5);
	assert_int_equal(vtio_vq_num_free(f.vq), 2);
	pop_push(&f, 3, 16);
	/* The used descriptor goes at the device's next-used slot (3) with the
	 * lap-0 bits and WRITE (len > 0), the id of the last descriptor. */
	assert_int_equal(fx_pdesc_flags(&f, 3), AV | US | VTIO_DESC_F_WRITE);
	assert_int_equal(fx_pdesc_id(&f, 3), id);
	assert_int_equal(fx_pdesc_len(&f, 3), 16);
	uint32_t len = 0;
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok[2]);
	assert_int_equal(len, 16);

	/* Next buffer at slot 1 with lap-1 bits (AVAIL=0, USED=1). */
	add_chain(&f, 1, &tok[3], buf);
	assert_int_equal(fx_pdesc_flags(&f, 1), US);
	pop_push(&f, 1, 0);
	/* used in lap 1: AVAIL=USED=0, no WRITE for len 0 */
	assert_int_equal(fx_pdesc_flags(&f, 1), 0);
	assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok[3]);
	assert_false(vtio_vq_is_broken(f.vq));
	assert_false(vtio_devq_is_broken(f.dq));
	fx_teardown(&f);
}

/* 3.1: an advance of exactly num (one chain filling the whole ring) must
 * flip both counters (microsoft/openvmm PR 3990). */
static void test_wrap_exact_num(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {1, 2, 3, 4, 8};
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint32_t num = sizes[s];
		struct fx f;
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, num, FX_MODERN, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 8u * num, 16);
		int tok[3];
		for (int lap = 0; lap < 3; lap++) {
			add_chain(&f, num, &tok[lap], buf);
			assert_int_equal(vtio_vq_num_free(f.vq), 0);
			uint16_t head = fx_pdesc_flags(&f, 0);
			/* lap 0: AVAIL=1,USED=0; lap 1: AVAIL=0,USED=1; ... */
			assert_int_equal(head & (AV | US), (lap % 2 == 0) ? AV : US);
			pop_push(&f, num, 0);
			assert_int_equal(fx_pdesc_flags(&f, 0) & (AV | US),
					 (lap % 2 == 0) ? AV | US : 0);
			assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok[lap]);
			assert_int_equal(vtio_vq_num_free(f.vq), num);
		}
		assert_false(vtio_vq_is_broken(f.vq));
		assert_false(vtio_devq_is_broken(f.dq));
		fx_teardown(&f);
	}
}

/* 3.2 / PACKED-DRV-14: completing a 1-descriptor buffer before an older
 * 3-descriptor one: the used descriptors are written at the device's
 * next-used slots (0 then 1), not where each buffer was, and each side
 * advances by the count of the id it names. */
static void test_wrap_used_position(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 6, FX_MODERN, NULL), 0);
	unsigned char *buf = fx_alloc(&f, 64, 16);
	int tok[3];
	add_chain(&f, 3, &tok[0], buf); /* slots 0-2 */
	add_chain(&f, 1, &tok[1], buf); /* slot 3 */
	add_chain(&f, 2, &tok[2], buf); /* slots 4-5 */
	struct vtio_devq_chain c[3];
	for (int i = 0; i < 3; i++) {
		fx_chain_init(&f, &c[i]);
		struct vtio_iov *rd = calloc(8, sizeof(*rd)), *wr = calloc(8, sizeof(*wr));
		c[i].rd = rd;
		c[i].wr = wr;
		assert_int_equal(vtio_devq_pop(f.dq, &c[i]), 0);
	}
	assert_int_equal(c[0].ndesc, 3);
	assert_int_equal(c[1].ndesc, 1);
	assert_int_equal(c[2].ndesc, 2);
	assert_int_equal(vtio_devq_push(f.dq, &c[1], 0), 0); /* 1-desc buffer first: slot 0 */
	assert_int_equal(fx_pdesc_id(&f, 0), c[1].id);
	assert_int_equal(vtio_devq_push(f.dq, &c[2], 8), 0); /* slot 1 */
	assert_int_equal(fx_pdesc_id(&f, 1), c[2].id);
	assert_int_equal(vtio_devq_push(f.dq, &c[0], 8), 0); /* slot 3 */
	assert_int_equal(fx_pdesc_id(&f, 3), c[0].id);
	assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok[1]);
	assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok[2]);
	assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok[0]);
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_int_equal(vtio_vq_num_free(f.vq), 6);
	/* Both sides agree on the next position: another round works. */
	add_chain(&f, 4, &tok[0], buf);
	pop_push(&f, 4, 8);
	assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok[0]);
	assert_false(vtio_vq_is_broken(f.vq));
	for (int i = 0; i < 3; i++)
		free(c[i].rd), free(c[i].wr);
	fx_teardown(&f);
}

/* PACKED-DRV-13: ids are unique among buffers in flight and < num, and an
 * id is reused only after its buffer came back. */
static void test_wrap_ids_unique(void **state)
{
	(void)state;
	struct fx f;
	const uint32_t num = 9;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, num, FX_MODERN, NULL), 0);
	unsigned char *buf = fx_alloc(&f, 64, 16);
	int tok[9];
	for (int round = 0; round < 20; round++) {
		unsigned seen[9] = {0};
		unsigned n = 0;
		struct vtio_devq_chain c[9];
		for (int i = 0; i < 9; i++) {
			if (vtio_vq_add(f.vq, (struct vtio_sg[]){vtio_sg_of(buf, 8)}, 1, 0,
					&tok[i]) != 0)
				break;
			n++;
		}
		assert_int_equal(n, num);
		for (unsigned i = 0; i < n; i++) {
			fx_chain_init(&f, &c[i]);
			assert_int_equal(vtio_devq_pop(f.dq, &c[i]), 0);
			assert_true(c[i].id < num);
			assert_int_equal(seen[c[i].id]++, 0);
		}
		/* complete in a rotating order so the free-id list gets shuffled */
		for (unsigned i = 0; i < n; i++) {
			struct vtio_devq_chain *cc = &c[(i * 4u + (unsigned)round) % n];
			assert_int_equal(vtio_devq_push(f.dq, cc, 0), 0);
		}
		for (unsigned i = 0; i < n; i++)
			assert_non_null(vtio_vq_get_used(f.vq, NULL));
	}
	assert_false(vtio_vq_is_broken(f.vq));
	fx_teardown(&f);
}

/* INDIR-DRV-6/8/9: a packed indirect buffer is one ring descriptor with
 * INDIRECT, len = 16 * entries, the buffer id; the table entries carry no
 * flag but WRITE. */
static void test_wrap_indirect_wire(void **state)
{
	(void)state;
	struct fx f;
	struct fx_opts o = {.indirect_tables = 2, .indirect_max = 8};
	assert_int_equal(
	    fx_setup(&f, VTIO_LAYOUT_PACKED, 4, FX_MODERN | VTIO_FEATURE(VTIO_F_INDIRECT_DESC), &o),
	    0);
	unsigned char *buf = fx_alloc(&f, 64, 16);
	int tok;
	struct vtio_sg sg[5];
	for (int i = 0; i < 5; i++)
		sg[i] = vtio_sg_of(buf + i * 8, 8);
	assert_int_equal(vtio_vq_add(f.vq, sg, 2, 3, &tok), 0);
	assert_int_equal(vtio_vq_num_free(f.vq), 3);
	assert_int_equal(fx_pdesc_flags(&f, 0), AV | VTIO_DESC_F_INDIRECT);
	assert_int_equal(fx_pdesc_len(&f, 0), 5 * 16);
	uint64_t taddr;
	memcpy(&taddr, f.areas.desc, 8);
	const unsigned char *table = (const unsigned char *)(uintptr_t)vtio_le64(taddr);
	for (int i = 0; i < 5; i++) {
		uint16_t fl;
		memcpy(&fl, table + i * 16 + 14, 2);
		assert_int_equal(vtio_le16(fl), i >= 2 ? VTIO_DESC_F_WRITE : 0);
	}
	struct vtio_devq_chain c;
	fx_chain_init(&f, &c);
	assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
	assert_int_equal(c.ndesc, 1);
	assert_int_equal(c.rd_num, 2);
	assert_int_equal(c.wr_num, 3);
	assert_int_equal(c.id, fx_pdesc_id(&f, 0));
	assert_int_equal(vtio_devq_push(f.dq, &c, 24), 0);
	uint32_t len;
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), &tok);
	assert_int_equal(len, 24);
	struct vtio_vq_stats st;
	vtio_vq_get_stats(f.vq, &st);
	assert_int_equal(st.indirect, 1);
	fx_teardown(&f);
}

/* PACKED-DRV-2: any size 1..32768, not 0 nor 32769; split rules do not apply. */
static void test_wrap_size_limits(void **state)
{
	(void)state;
	struct vtio_vq_area_sizes s;
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_PACKED, 0, &s), VTIO_EINVAL);
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_PACKED, 32769, &s), VTIO_EINVAL);
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_PACKED, 3, &s), 0);
	assert_int_equal(s.desc, 48);
	assert_int_equal(s.driver, 4);
	assert_int_equal(s.device, 4);
	assert_int_equal(s.desc_align, 16); /* PACKED-DRV-1 */
	assert_int_equal(s.driver_align, 4);
	assert_int_equal(s.device_align, 4);
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_PACKED, 32768, &s), 0);
	assert_int_equal(vtio_devq_state_size(VTIO_LAYOUT_PACKED, 0), 0);
	assert_true(vtio_devq_state_size(VTIO_LAYOUT_PACKED, 32767) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wrap_size_limits), cmocka_unit_test(test_wrap_straddle_bits),
	    cmocka_unit_test(test_wrap_exact_num),   cmocka_unit_test(test_wrap_used_position),
	    cmocka_unit_test(test_wrap_ids_unique),  cmocka_unit_test(test_wrap_indirect_wire),
	    cmocka_unit_test(test_wrap_sizes),	     cmocka_unit_test(test_wrap_indirect),
	    cmocka_unit_test(test_wrap_32768),	     cmocka_unit_test(test_wrap_long_run),
	};
	return FX_RUN_PACKED_ONLY(tests);
}
