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

#define MAXBUF 64
#define SEG    64

struct drv {
	uint32_t num;
	unsigned char *desc, *avail, *used;
	void *state;
	struct vtio_vq *vq;
	unsigned notifies;
	char tok[MAXBUF];		    /* token of buffer k is &tok[k] */
	unsigned char data[MAXBUF][4][SEG]; /* buffer k's segments */
	uint32_t wr_size[MAXBUF];
	uint16_t head[MAXBUF]; /* head descriptor of buffer k (from the avail ring) */
	unsigned nadded;
	unsigned char returned[MAXBUF]; /* times buffer k's token came back */
	uint16_t used_idx;		/* the (hostile) device's used idx */
};

static int notify_cb(void *ctx, uint32_t data)
{
	(void)data;
	(*(unsigned *)ctx)++;
	return 0;
}

static void put16(unsigned char *p, uint16_t v)
{
	v = vtio_le16(v);
	memcpy(p, &v, 2);
}
static void put32(unsigned char *p, uint32_t v)
{
	v = vtio_le32(v);
	memcpy(p, &v, 4);
}
static uint16_t get16(const unsigned char *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return vtio_le16(v);
}

static void *zalloc(size_t align, size_t size)
{
	size_t sz = (size + align - 1) & ~(align - 1);
	void *p = aligned_alloc(align, sz ? sz : align);
	assert_non_null(p);
	memset(p, 0, sz ? sz : align);
	return p;
}

static struct drv *drv_setup(uint32_t num, uint64_t extra_features, uint32_t ind_tables)
{
	struct drv *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	d->num = num;
	struct vtio_vq_area_sizes s;
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_SPLIT, num, &s), 0);
	assert_true(s.device >= vtio_split_used_size(num));
	d->desc = zalloc(16, s.desc);
	d->avail = zalloc(16, s.driver);
	d->used = zalloc(16, s.device);
	struct vtio_vq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.layout = VTIO_LAYOUT_SPLIT;
	cfg.num = num;
	cfg.features = VTIO_FEATURE(VTIO_F_VERSION_1) | extra_features;
	cfg.areas.desc = d->desc;
	cfg.areas.driver = d->avail;
	cfg.areas.device = d->used;
	cfg.areas.desc_addr = 0x10000;
	cfg.areas.driver_addr = 0x20000;
	cfg.areas.device_addr = 0x30000;
	cfg.indirect_tables = ind_tables;
	cfg.indirect_max = ind_tables ? 16 : 0;
	cfg.notify = notify_cb;
	cfg.notify_ctx = &d->notifies;
	size_t ssz = vtio_vq_state_size(VTIO_LAYOUT_SPLIT, num, ind_tables, cfg.indirect_max);
	assert_true(ssz > 0);
	d->state = zalloc(16, ssz);
	assert_int_equal(vtio_vq_init(&d->vq, d->state, ssz, &cfg), 0);
	return d;
}

static void drv_free(struct drv *d)
{
	free(d->state);
	free(d->desc);
	free(d->avail);
	free(d->used);
	free(d);
}

/* Add buffer k (out readable + in writable segments of SEG bytes) and kick;
 * learn its head from the avail ring as the device would. */
static unsigned drv_add(struct drv *d, unsigned out, unsigned in)
{
	unsigned k = d->nadded;
	assert_true(k < MAXBUF && out + in <= 4);
	struct vtio_sg sg[4];
	for (unsigned i = 0; i < out + in; i++)
		sg[i] = vtio_sg_of(d->data[k][i], SEG);
	assert_int_equal(vtio_vq_add(d->vq, sg, out, in, &d->tok[k]), 0);
	(void)vtio_vq_kick(d->vq);
	uint16_t aidx = get16(d->avail + 2);
	assert_int_equal(aidx, (uint16_t)(k + 1));
	d->head[k] = get16(d->avail + vtio_split_avail_ring_off(k % d->num));
	assert_true(d->head[k] < d->num);
	d->wr_size[k] = in * SEG;
	d->nadded++;
	return k;
}

/* The device writes one used entry (raw 32-bit id) and publishes it. */
static void dev_used(struct drv *d, uint32_t id, uint32_t len)
{
	unsigned char *e = d->used + vtio_split_used_ring_off(d->used_idx % d->num);
	put32(e, id);
	put32(e + 4, len);
	d->used_idx++;
	uint16_t v = vtio_le16(d->used_idx);
	__atomic_store_n((uint16_t *)(void *)(d->used + 2), v, __ATOMIC_RELEASE);
}

static void dev_set_idx(struct drv *d, uint16_t idx)
{
	d->used_idx = idx;
	put16(d->used + 2, idx);
}

/* Follow the chain of buffer k in the descriptor table (the device may read it). */
static uint16_t chain_member(const struct drv *d, unsigned k, unsigned nth)
{
	uint16_t i = d->head[k];
	for (unsigned n = 0; n < nth; n++) {
		const unsigned char *p = d->desc + 16u * i;
		assert_true(get16(p + 12) & VTIO_DESC_F_NEXT);
		i = get16(p + 14);
	}
	return i;
}

/* Take a used buffer and check its token: @p expect_k is the buffer the
 * entry named (-1: the driver must return nothing). Returns the buffer or -1. */
static int reap(struct drv *d, int expect_k, uint32_t *len)
{
	uint32_t l = 0xdeadbeef;
	void *t = vtio_vq_get_used(d->vq, &l);
	if (t == NULL) {
		if (expect_k >= 0)
			fail_msg("expected the token of buffer %d, got NULL (broken: %s)", expect_k,
				 vtio_vq_broken_reason(d->vq) ? vtio_vq_broken_reason(d->vq)
							      : "no");
		return -1;
	}
	char *c = t;
	if (c < d->tok || c >= d->tok + d->nadded)
		fail_msg("returned a token that was never added");
	int k = (int)(c - d->tok);
	if (d->returned[k]++)
		fail_msg("token of buffer %d returned twice", k);
	if (k != expect_k)
		fail_msg("returned the token of buffer %d, the entry named buffer %d", k, expect_k);
	if (l > d->wr_size[k])
		fail_msg("len %u larger than the writable size %u", l, d->wr_size[k]);
	if (len)
		*len = l;
	return k;
}

/* The broken state as vq.h describes it, then cleanup: every token not yet
 * returned comes back from detach_unused exactly once. */
static void expect_broken(struct drv *d)
{
	assert_true(vtio_vq_is_broken(d->vq));
	assert_non_null(vtio_vq_broken_reason(d->vq));
	assert_null(vtio_vq_get_used(d->vq, NULL));
	unsigned char b[8] = {0};
	struct vtio_sg sg = vtio_sg_of(b, 8);
	assert_int_equal(vtio_vq_add(d->vq, &sg, 1, 0, &d->tok[MAXBUF - 1]), VTIO_EIO);
	assert_int_equal(vtio_vq_notify(d->vq), VTIO_EIO);
	void *t;
	while ((t = vtio_vq_detach_unused(d->vq)) != NULL) {
		char *c = t;
		if (c < d->tok || c >= d->tok + d->nadded)
			fail_msg("detach_unused returned a token that was never added");
		int k = (int)(c - d->tok);
		if (d->returned[k]++)
			fail_msg("token of buffer %d returned twice (detach)", k);
	}
	for (unsigned k = 0; k < d->nadded; k++)
		if (d->returned[k] != 1)
			fail_msg("token of buffer %u lost (returned %u times)", k, d->returned[k]);
}

/* ---- Bad ids ---------------------------------------------------------------------- */

/* SPLIT-DRV-15: id >= num. */
static void test_used_id_ge_num(void **state)
{
	(void)state;
	struct drv *d = drv_setup(8, 0, 0);
	drv_add(d, 1, 1);
	drv_add(d, 1, 0);
	dev_used(d, 8, 0);
	assert_int_equal(reap(d, -1, NULL), -1);
	expect_broken(d);
	drv_free(d);
}

/* id 0xffffffff and id 0x10000 + a valid head: an implementation that keeps
 * only 16 bits of the 32-bit id would return buffer 0's token. */
static void test_used_id_high_bits(void **state)
{
	(void)state;
	static const uint32_t bad[] = {0xffffffffu, 0x10000u, 0x80000000u};
	for (unsigned i = 0; i < 3; i++) {
		struct drv *d = drv_setup(8, 0, 0);
		unsigned k = drv_add(d, 1, 1);
		dev_used(d, bad[i] | d->head[k], 16);
		assert_int_equal(reap(d, -1, NULL), -1);
		expect_broken(d);
		drv_free(d);
	}
}

/* SPLIT-DRV-15: id in range but not in flight (a free descriptor). */
static void test_used_id_not_in_flight(void **state)
{
	(void)state;
	struct drv *d = drv_setup(8, 0, 0);
	unsigned k = drv_add(d, 1, 1); /* two descriptors */
	uint16_t free_id = 0;
	while (free_id == d->head[k] || free_id == chain_member(d, k, 1))
		free_id++;
	dev_used(d, free_id, 0);
	assert_int_equal(reap(d, -1, NULL), -1);
	expect_broken(d);
	drv_free(d);
}

/* The id of a descriptor in the middle (and at the end) of a chain. */
static void test_used_id_mid_chain(void **state)
{
	(void)state;
	for (unsigned nth = 1; nth <= 2; nth++) {
		struct drv *d = drv_setup(8, 0, 0);
		unsigned k = drv_add(d, 2, 1); /* three descriptors */
		dev_used(d, chain_member(d, k, nth), 0);
		assert_int_equal(reap(d, -1, NULL), -1);
		expect_broken(d);
		drv_free(d);
	}
}

/* The same id twice: the first is fine, the second is no longer in flight. */
static void test_used_id_repeated(void **state)
{
	(void)state;
	struct drv *d = drv_setup(8, 0, 0);
	unsigned a = drv_add(d, 1, 1);
	drv_add(d, 1, 1);
	dev_used(d, d->head[a], 10);
	dev_used(d, d->head[a], 10);
	uint32_t len;
	assert_int_equal(reap(d, (int)a, &len), (int)a);
	assert_int_equal(len, 10);
	assert_int_equal(reap(d, -1, NULL), -1);
	expect_broken(d);
	drv_free(d);
}

/* An id already reaped earlier (stale) with nothing re-added. */
static void test_used_id_stale(void **state)
{
	(void)state;
	struct drv *d = drv_setup(8, 0, 0);
	unsigned a = drv_add(d, 1, 0);
	dev_used(d, d->head[a], 0);
	assert_int_equal(reap(d, (int)a, NULL), (int)a);
	assert_false(vtio_vq_is_broken(d->vq));
	dev_used(d, d->head[a], 0);
	assert_int_equal(reap(d, -1, NULL), -1);
	expect_broken(d);
	drv_free(d);
}

/* ---- Lengths ---------------------------------------------------------------------- */

/* SPLIT-DRV-16 / section 3 point 3: len larger than the writable size is
 * clamped and counted; the queue stays usable. */
static void test_used_len_clamped(void **state)
{
	(void)state;
	struct drv *d = drv_setup(8, 0, 0);
	unsigned a = drv_add(d, 1, 2); /* 128 writable */
	unsigned b = drv_add(d, 2, 0); /* read-only */
	unsigned c = drv_add(d, 0, 1); /* 64 writable */
	dev_used(d, d->head[a], 129);
	dev_used(d, d->head[b], 100);
	dev_used(d, d->head[c], 0xffffffffu);
	uint32_t len;
	assert_int_equal(reap(d, (int)a, &len), (int)a);
	assert_int_equal(len, 128);
	assert_int_equal(reap(d, (int)b, &len), (int)b);
	assert_int_equal(len, 0);
	assert_int_equal(reap(d, (int)c, &len), (int)c);
	assert_int_equal(len, 64);
	struct vtio_vq_stats st;
	vtio_vq_get_stats(d->vq, &st);
	assert_int_equal(st.len_clamped, 3);
	assert_int_equal(st.used, 3);
	assert_false(vtio_vq_is_broken(d->vq));
	/* Exact and short lengths pass unchanged. */
	unsigned e = drv_add(d, 1, 1);
	dev_used(d, d->head[e], 64);
	assert_int_equal(reap(d, (int)e, &len), (int)e);
	assert_int_equal(len, 64);
	vtio_vq_get_stats(d->vq, &st);
	assert_int_equal(st.len_clamped, 3);
	drv_free(d);
}

/* Clamp for an indirect buffer: the writable size is the table's. */
static void test_used_len_clamped_indirect(void **state)
{
	(void)state;
	struct drv *d = drv_setup(8, VTIO_FEATURE(VTIO_F_INDIRECT_DESC), 4);
	unsigned a = drv_add(d, 2, 2); /* 4 segments: at the default threshold of 2 */
	dev_used(d, d->head[a], 4096);
	uint32_t len;
	assert_int_equal(reap(d, (int)a, &len), (int)a);
	assert_int_equal(len, 128);
	assert_false(vtio_vq_is_broken(d->vq));
	drv_free(d);
}

/* ---- Index jumps ------------------------------------------------------------------- */

/* used->idx moves by more than the number in flight: the valid entries may
 * come back (correct tokens, once each), nothing else does, and the queue
 * ends broken. */
static void check_jump(uint16_t jump)
{
	struct drv *d = drv_setup(8, 0, 0);
	unsigned a = drv_add(d, 1, 0);
	unsigned b = drv_add(d, 1, 0);
	dev_used(d, d->head[a], 0);
	dev_used(d, d->head[b], 0);
	dev_set_idx(d, jump);
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
	expect_broken(d);
	drv_free(d);
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
	struct drv *d = drv_setup(8, 0, 0);
	dev_set_idx(d, 1);
	assert_int_equal(reap(d, -1, NULL), -1);
	assert_true(vtio_vq_is_broken(d->vq));
	expect_broken(d);
	drv_free(d);
}

/* used->idx moves backwards after buffers were reaped. */
static void test_used_idx_backwards(void **state)
{
	(void)state;
	struct drv *d = drv_setup(8, 0, 0);
	for (unsigned i = 0; i < 3; i++) {
		unsigned k = drv_add(d, 1, 0);
		dev_used(d, d->head[k], 0);
		assert_int_equal(reap(d, (int)k, NULL), (int)k);
	}
	drv_add(d, 1, 0);
	dev_set_idx(d, 1);
	assert_int_equal(reap(d, -1, NULL), -1);
	expect_broken(d);
	drv_free(d);
}

/* A long valid run with the device completing out of order, through the
 * 16-bit wrap: every token comes back once, with its own len. */
static void test_out_of_order_ok(void **state)
{
	(void)state;
	struct drv *d = drv_setup(8, 0, 0);
	uint32_t x = 12345;
	unsigned inflight[8], n = 0, done = 0;
	for (unsigned round = 0; round < 200000; round++) {
		if (d->nadded == MAXBUF - 1) {
			/* Recycle buffer bookkeeping: nothing may be in flight. */
			while (n) {
				unsigned k = inflight[--n];
				dev_used(d, d->head[k], k);
				assert_int_equal(reap(d, (int)k, NULL), (int)k);
			}
			memset(d->returned, 0, sizeof(d->returned));
			d->nadded = 0;
			/* avail idx keeps running: resync the test's view of it. */
		}
		x = x * 1103515245u + 12345u;
		if (n < 4 && (x >> 16) % 3 != 0) {
			unsigned k = d->nadded;
			struct vtio_sg sg = vtio_sg_of(d->data[k][0], SEG);
			assert_int_equal(vtio_vq_add(d->vq, &sg, 0, 1, &d->tok[k]), 0);
			(void)vtio_vq_kick(d->vq);
			uint16_t aidx = get16(d->avail + 2);
			d->head[k] = get16(
			    d->avail + vtio_split_avail_ring_off((uint16_t)(aidx - 1) % d->num));
			d->wr_size[k] = SEG;
			d->nadded++;
			inflight[n++] = k;
		} else if (n) {
			unsigned pick = (x >> 20) % n;
			unsigned k = inflight[pick];
			inflight[pick] = inflight[--n];
			dev_used(d, d->head[k], k % SEG);
			uint32_t len;
			assert_int_equal(reap(d, (int)k, &len), (int)k);
			assert_int_equal(len, k % SEG);
			done++;
		}
	}
	assert_true(done > 70000); /* well past the 16-bit wrap */
	assert_false(vtio_vq_is_broken(d->vq));
	drv_free(d);
}

/* ---- IN_ORDER (INORD-*, section 3 point 11) ------------------------------------- */

/* A legitimate batch: one entry with the last buffer's id, idx += 3. The
 * skipped buffers count as fully used; the last gets the reported len. */
static void test_in_order_batch_ok(void **state)
{
	(void)state;
	struct drv *d = drv_setup(8, VTIO_FEATURE(VTIO_F_IN_ORDER), 0);
	unsigned a = drv_add(d, 0, 1), b = drv_add(d, 1, 1), c = drv_add(d, 0, 2);
	dev_used(d, d->head[c], 7);
	dev_set_idx(d, 3);
	uint32_t len;
	assert_int_equal(reap(d, (int)a, &len), (int)a);
	assert_int_equal(len, d->wr_size[a]);
	assert_int_equal(reap(d, (int)b, &len), (int)b);
	assert_int_equal(len, d->wr_size[b]);
	assert_int_equal(reap(d, (int)c, &len), (int)c);
	assert_int_equal(len, 7);
	assert_int_equal(reap(d, -1, NULL), -1);
	assert_false(vtio_vq_is_broken(d->vq));
	drv_free(d);
}

/* IN_ORDER with an id that is not in flight. */
static void test_in_order_bad_id(void **state)
{
	(void)state;
	struct drv *d = drv_setup(8, VTIO_FEATURE(VTIO_F_IN_ORDER), 0);
	drv_add(d, 0, 1);
	drv_add(d, 0, 1);
	dev_used(d, 6, 0);
	assert_int_equal(reap(d, -1, NULL), -1);
	expect_broken(d);
	drv_free(d);
}

/* IN_ORDER with the id of a descriptor in the middle of a chain. */
static void test_in_order_mid_chain(void **state)
{
	(void)state;
	struct drv *d = drv_setup(8, VTIO_FEATURE(VTIO_F_IN_ORDER), 0);
	unsigned k = drv_add(d, 1, 2);
	dev_used(d, chain_member(d, k, 1), 0);
	assert_int_equal(reap(d, -1, NULL), -1);
	expect_broken(d);
	drv_free(d);
}

/* ---- Packed ring: the same classes ------------------------------------------------ */

struct pdrv {
	uint32_t num;
	unsigned char *ring, *drv_ev, *dev_ev;
	void *state;
	struct vtio_vq *vq;
	unsigned notifies;
	char tok[MAXBUF];
	unsigned char data[MAXBUF][4][SEG];
	uint32_t wr_size[MAXBUF];
	uint16_t id[MAXBUF];	/* buffer id the driver gave buffer k */
	uint16_t ndesc[MAXBUF]; /* ring slots it took */
	unsigned nadded;
	unsigned char returned[MAXBUF];
	uint32_t avail_slot; /* where the driver's next descriptor goes (device's view) */
	uint32_t dev_slot;   /* the device's next used slot */
	int dev_wrap;	     /* the device's wrap counter */
};

static struct pdrv *pdrv_setup(uint32_t num)
{
	struct pdrv *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	d->num = num;
	d->dev_wrap = 1;
	struct vtio_vq_area_sizes s;
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_PACKED, num, &s), 0);
	d->ring = zalloc(16, s.desc);
	d->drv_ev = zalloc(16, s.driver);
	d->dev_ev = zalloc(16, s.device);
	struct vtio_vq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.layout = VTIO_LAYOUT_PACKED;
	cfg.num = num;
	cfg.features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_RING_PACKED);
	cfg.areas.desc = d->ring;
	cfg.areas.driver = d->drv_ev;
	cfg.areas.device = d->dev_ev;
	cfg.areas.desc_addr = 0x10000;
	cfg.areas.driver_addr = 0x20000;
	cfg.areas.device_addr = 0x30000;
	cfg.notify = notify_cb;
	cfg.notify_ctx = &d->notifies;
	size_t ssz = vtio_vq_state_size(VTIO_LAYOUT_PACKED, num, 0, 0);
	assert_true(ssz > 0);
	d->state = zalloc(16, ssz);
	assert_int_equal(vtio_vq_init(&d->vq, d->state, ssz, &cfg), 0);
	return d;
}

static void pdrv_free(struct pdrv *d)
{
	free(d->state);
	free(d->ring);
	free(d->drv_ev);
	free(d->dev_ev);
	free(d);
}

/* Add buffer k; the device reads its id from the last descriptor of the list. */
static unsigned pdrv_add(struct pdrv *d, unsigned out, unsigned in)
{
	unsigned k = d->nadded;
	assert_true(k < MAXBUF && out + in <= 4);
	struct vtio_sg sg[4];
	for (unsigned i = 0; i < out + in; i++)
		sg[i] = vtio_sg_of(d->data[k][i], SEG);
	assert_int_equal(vtio_vq_add(d->vq, sg, out, in, &d->tok[k]), 0);
	(void)vtio_vq_kick(d->vq);
	uint32_t last = (d->avail_slot + out + in - 1) % d->num;
	d->id[k] = get16(d->ring + 16u * last + offsetof(struct vtio_packed_desc, id));
	d->ndesc[k] = (uint16_t)(out + in);
	d->avail_slot = (d->avail_slot + out + in) % d->num;
	d->wr_size[k] = in * SEG;
	d->nadded++;
	return k;
}

/* The device writes one used descriptor and skips @p advance slots. */
static void pdev_used(struct pdrv *d, uint32_t id, uint32_t len, unsigned advance)
{
	unsigned char *e = d->ring + 16u * d->dev_slot;
	put32(e + offsetof(struct vtio_packed_desc, len), len);
	put16(e + offsetof(struct vtio_packed_desc, id), (uint16_t)id);
	uint16_t f = (uint16_t)(VTIO_DESC_F_WRITE |
				(d->dev_wrap ? VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED : 0));
	__atomic_store_n((uint16_t *)(void *)(e + offsetof(struct vtio_packed_desc, flags)),
			 vtio_le16(f), __ATOMIC_RELEASE);
	d->dev_slot += advance;
	if (d->dev_slot >= d->num) {
		d->dev_slot -= d->num;
		d->dev_wrap = !d->dev_wrap;
	}
}

static int preap(struct pdrv *d, int expect_k, uint32_t *len)
{
	uint32_t l = 0xdeadbeef;
	void *t = vtio_vq_get_used(d->vq, &l);
	if (t == NULL) {
		if (expect_k >= 0)
			fail_msg("expected the token of buffer %d, got NULL", expect_k);
		return -1;
	}
	char *c = t;
	if (c < d->tok || c >= d->tok + d->nadded)
		fail_msg("returned a token that was never added");
	int k = (int)(c - d->tok);
	if (d->returned[k]++)
		fail_msg("token of buffer %d returned twice", k);
	if (k != expect_k)
		fail_msg("returned the token of buffer %d, the used descriptor named %d", k,
			 expect_k);
	if (l > d->wr_size[k])
		fail_msg("len %u larger than the writable size %u", l, d->wr_size[k]);
	if (len)
		*len = l;
	return k;
}

static void pexpect_broken(struct pdrv *d)
{
	assert_true(vtio_vq_is_broken(d->vq));
	assert_non_null(vtio_vq_broken_reason(d->vq));
	assert_null(vtio_vq_get_used(d->vq, NULL));
	unsigned char b[8] = {0};
	struct vtio_sg sg = vtio_sg_of(b, 8);
	assert_int_equal(vtio_vq_add(d->vq, &sg, 1, 0, &d->tok[MAXBUF - 1]), VTIO_EIO);
	void *t;
	while ((t = vtio_vq_detach_unused(d->vq)) != NULL) {
		char *c = t;
		if (c < d->tok || c >= d->tok + d->nadded)
			fail_msg("detach_unused returned a token that was never added");
		int k = (int)(c - d->tok);
		if (d->returned[k]++)
			fail_msg("token of buffer %d returned twice (detach)", k);
	}
	for (unsigned k = 0; k < d->nadded; k++)
		if (d->returned[k] != 1)
			fail_msg("token of buffer %u lost (returned %u times)", k, d->returned[k]);
}

/* PACKED-DRV-14: a used id >= num (and one with bit 15 set). */
static void test_packed_used_id_out_of_range(void **state)
{
	(void)state;
	static const uint16_t bad[] = {8, 0x8000, 0xffff};
	for (unsigned i = 0; i < 3; i++) {
		struct pdrv *d = pdrv_setup(8);
		unsigned k = pdrv_add(d, 1, 1);
		pdev_used(d, bad[i], 0, d->ndesc[k]);
		assert_int_equal(preap(d, -1, NULL), -1);
		pexpect_broken(d);
		pdrv_free(d);
	}
}

/* A used id in range but not in flight. */
static void test_packed_used_id_not_in_flight(void **state)
{
	(void)state;
	struct pdrv *d = pdrv_setup(8);
	unsigned k = pdrv_add(d, 1, 1);
	uint16_t other = (uint16_t)((d->id[k] + 1) % 8);
	pdev_used(d, other, 0, 2);
	assert_int_equal(preap(d, -1, NULL), -1);
	pexpect_broken(d);
	pdrv_free(d);
}

/* The same id used twice. */
static void test_packed_used_id_repeated(void **state)
{
	(void)state;
	struct pdrv *d = pdrv_setup(8);
	unsigned a = pdrv_add(d, 1, 1);
	pdrv_add(d, 1, 1);
	pdev_used(d, d->id[a], 5, d->ndesc[a]);
	pdev_used(d, d->id[a], 5, d->ndesc[a]);
	uint32_t len;
	assert_int_equal(preap(d, (int)a, &len), (int)a);
	assert_int_equal(len, 5);
	assert_int_equal(preap(d, -1, NULL), -1);
	pexpect_broken(d);
	pdrv_free(d);
}

/* Section 3 point 3 / PACKED-DRV-16: len larger than the writable size. */
static void test_packed_used_len_clamped(void **state)
{
	(void)state;
	struct pdrv *d = pdrv_setup(6); /* packed sizes need not be powers of 2 */
	unsigned a = pdrv_add(d, 1, 2);
	unsigned b = pdrv_add(d, 2, 0);
	pdev_used(d, d->id[b], 77, d->ndesc[b]); /* out of order */
	pdev_used(d, d->id[a], 0xffffffffu, d->ndesc[a]);
	uint32_t len;
	assert_int_equal(preap(d, (int)b, &len), (int)b);
	assert_int_equal(len, 0);
	assert_int_equal(preap(d, (int)a, &len), (int)a);
	assert_int_equal(len, 128);
	struct vtio_vq_stats st;
	vtio_vq_get_stats(d->vq, &st);
	assert_int_equal(st.len_clamped, 2);
	assert_false(vtio_vq_is_broken(d->vq));
	pdrv_free(d);
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
