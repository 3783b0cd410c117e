/* Behavioural suite of the virtqueues, written once and run for every
 * compiled layout (fx_layouts in ring_fixture.h). Each test cites the
 * checklist IDs (../shared/spec/CHECKLIST.md) it covers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ring_fixture.h"
#include "tc_util.h"

/* One buffer through both sides: out bytes read by the device, in bytes written. */
static void round_trip(struct fx *f, unsigned nout, unsigned nin, uint32_t seglen, void *token)
{
	struct vtio_sg sg[64];
	unsigned char *bufs = fx_alloc(f, (size_t)(nout + nin) * seglen, 16);
	for (unsigned i = 0; i < nout + nin; i++) {
		memset(bufs + (size_t)i * seglen, (int)(i + 1), seglen);
		sg[i] = vtio_sg_of(bufs + (size_t)i * seglen, seglen);
	}
	assert_int_equal(vtio_vq_add(f->vq, sg, nout, nin, token), 0);
	vtio_vq_kick(f->vq);
	struct vtio_devq_chain c;
	fx_chain_init(f, &c);
	assert_int_equal(vtio_devq_pop(f->dq, &c), 0);
	assert_int_equal(c.rd_len, (uint64_t)nout * seglen);
	assert_int_equal(c.wr_len, (uint64_t)nin * seglen);
	unsigned char tmp[64];
	for (unsigned i = 0; i < nout; i++) {
		assert_int_equal(vtio_devq_read(f->dq, &c, (uint64_t)i * seglen, tmp, 1), 1);
		assert_int_equal(tmp[0], i + 1);
	}
	memset(tmp, 0xee, sizeof(tmp));
	uint32_t wlen = nin ? (seglen < 64 ? seglen : 64) : 0;
	if (nin)
		assert_int_equal(vtio_devq_write(f->dq, &c, 0, tmp, wlen), wlen);
	assert_int_equal(vtio_devq_push(f->dq, &c, wlen), 0);
	vtio_devq_kick(f->dq);
	uint32_t len = 12345;
	assert_ptr_equal(vtio_vq_get_used(f->vq, &len), token);
	assert_int_equal(len, wlen);
	if (nin)
		assert_int_equal(bufs[(size_t)nout * seglen], 0xee);
}

static void test_round_trip(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		assert_int_equal(fx_setup(&f, L, 8, FX_MODERN, NULL), 0);
		int tok[4];
		round_trip(&f, 1, 0, 32, &tok[0]);
		round_trip(&f, 1, 1, 32, &tok[1]);
		round_trip(&f, 2, 3, 16, &tok[2]);
		round_trip(&f, 0, 1, 16, &tok[3]);
		assert_null(vtio_vq_get_used(f.vq, NULL));
		assert_false(vtio_vq_is_broken(f.vq));
		assert_false(vtio_devq_is_broken(f.dq));
		assert_int_equal(vtio_vq_num_free(f.vq), 8);
		fx_teardown(&f);
	}
}

/* ---- Helpers ------------------------------------------------------------------ */

/* Device side: pop everything available, write @fill into each writable
 * part and push it with its full writable length. Returns chains handled. */
static unsigned dev_drain(struct fx *f, unsigned char fill)
{
	unsigned n = 0;
	for (;;) {
		struct vtio_devq_chain c;
		fx_chain_init(f, &c);
		int err = vtio_devq_pop(f->dq, &c);
		if (err == VTIO_EAGAIN)
			break;
		assert_int_equal(err, 0);
		unsigned char buf[256];
		memset(buf, fill, sizeof(buf));
		uint64_t left = c.wr_len, off = 0;
		while (left > 0) {
			size_t k = left < sizeof(buf) ? (size_t)left : sizeof(buf);
			assert_int_equal(vtio_devq_write(f->dq, &c, off, buf, k), (int64_t)k);
			off += k;
			left -= k;
		}
		assert_int_equal(vtio_devq_push(f->dq, &c, (uint32_t)c.wr_len), 0);
		n++;
	}
	return n;
}

/* ---- Sizes and setup (SPLIT-DRV-1/2/3/4) ------------------------------------------- */

static void test_area_sizes(void **state)
{
	(void)state;
	struct vtio_vq_area_sizes s;
	/* SPLIT-DRV-3: event fields included; CHECKLIST 1.2 example. */
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_SPLIT, 256, &s), 0);
	assert_int_equal(s.desc, 4096);
	assert_int_equal(s.driver, 518);
	assert_int_equal(s.device, 2054);
	assert_int_equal(s.desc_align, 16); /* SPLIT-DRV-1 */
	assert_int_equal(s.driver_align, 2);
	assert_int_equal(s.device_align, 4);
	/* SPLIT-DRV-2: powers of two 1..32768 only. */
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_SPLIT, 0, &s), VTIO_EINVAL);
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_SPLIT, 3, &s), VTIO_EINVAL);
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_SPLIT, 65536, &s), VTIO_EINVAL);
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_SPLIT, 32768, &s), 0);
	assert_int_equal(vtio_vq_area_sizes(VTIO_LAYOUT_SPLIT, 1, &s), 0);
	/* Legacy contiguous layout = Linux vring_size(). */
	assert_int_equal(vtio_vq_ring_size(VTIO_LAYOUT_SPLIT, 256, 4096), 10246);
	assert_int_equal(vtio_vq_ring_size(VTIO_LAYOUT_SPLIT, 256, 4096),
			 vtio_split_legacy_size(256, 4096));
	assert_int_equal(vtio_vq_ring_size(VTIO_LAYOUT_SPLIT, 3, 4096), 0);
	static _Alignas(16) unsigned char block[10246 + 16];
	struct vtio_vq_areas a;
	assert_int_equal(vtio_vq_areas_in(VTIO_LAYOUT_SPLIT, 256, 4096, block, 0x100000, &a), 0);
	assert_ptr_equal(a.desc, block);
	assert_ptr_equal(a.driver, block + 4096);
	assert_ptr_equal(a.device, block + 8192);
	assert_int_equal(a.device_addr, 0x100000 + 8192);
	assert_int_equal(vtio_vq_state_size(VTIO_LAYOUT_SPLIT, 3, 0, 0), 0);
	assert_int_equal(vtio_devq_state_size(VTIO_LAYOUT_SPLIT, 6), 0);
	assert_true(vtio_vq_state_size(VTIO_LAYOUT_SPLIT, 8, 4, 16) >
		    vtio_vq_state_size(VTIO_LAYOUT_SPLIT, 8, 0, 0));
}

static void test_init_checks(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		assert_int_equal(fx_setup(&f, L, 8, FX_MODERN, NULL), 0);
		/* SPLIT-DRV-3/4: all three areas zeroed by init. */
		struct vtio_vq_area_sizes s;
		vtio_vq_area_sizes(L, 8, &s);
		for (size_t i = 0; i < s.desc; i++)
			assert_int_equal(((unsigned char *)f.areas.desc)[i], 0);
		for (size_t i = 0; i < s.driver; i++)
			assert_int_equal(((unsigned char *)f.areas.driver)[i], 0);
		for (size_t i = 0; i < s.device; i++)
			assert_int_equal(((unsigned char *)f.areas.device)[i], 0);
		assert_int_equal(vtio_vq_size(f.vq), 8);
		assert_int_equal(vtio_vq_index(f.vq), 3);
		assert_int_equal(vtio_vq_layout(f.vq), L);
		assert_ptr_equal(vtio_vq_get_areas(f.vq)->desc, f.areas.desc);

		/* Misaligned areas, missing notify, small state are refused. */
		struct vtio_vq_config vc;
		memset(&vc, 0, sizeof(vc));
		vc.layout = L;
		vc.num = 8;
		vc.features = FX_MODERN;
		vc.areas = f.areas;
		vc.notify = fx_kick_cb;
		size_t st = vtio_vq_state_size(L, 8, 0, 0);
		void *mem = fx_alloc(&f, st, 16);
		struct vtio_vq *vq;
		assert_int_equal(vtio_vq_init(&vq, mem, st - 1, &vc), VTIO_EINVAL);
		vc.areas.desc = (unsigned char *)f.areas.desc + 8;
		assert_int_equal(vtio_vq_init(&vq, mem, st, &vc), VTIO_EINVAL);
		vc.areas = f.areas;
		vc.notify = NULL;
		assert_int_equal(vtio_vq_init(&vq, mem, st, &vc), VTIO_EINVAL);
		vc.notify = fx_kick_cb;
		assert_int_equal(vtio_vq_init(&vq, mem, st, &vc), 0);

		/* Device side: an area outside the view is VTIO_EFAULT. */
		struct vtio_devq_config dc;
		memset(&dc, 0, sizeof(dc));
		dc.layout = L;
		dc.num = 8;
		dc.features = FX_MODERN;
		dc.desc_addr = 0x10;
		dc.driver_addr = f.areas.driver_addr;
		dc.device_addr = f.areas.device_addr;
		dc.mem = &f.mem;
		dc.notify = fx_irq_cb;
		size_t dst = vtio_devq_state_size(L, 8);
		struct vtio_devq *dq;
		void *dmem = fx_alloc(&f, dst, 16);
		assert_int_equal(vtio_devq_init(&dq, dmem, dst, &dc), VTIO_EFAULT);
		dc.desc_addr = f.areas.desc_addr + 4;
		assert_int_equal(vtio_devq_init(&dq, dmem, dst, &dc), VTIO_EINVAL);
		dc.desc_addr = f.areas.desc_addr;
		dc.mem = NULL;
		assert_int_equal(vtio_devq_init(&dq, dmem, dst, &dc), VTIO_EINVAL);
		fx_teardown(&f);
	}
}

/* ---- Sizes, full ring, wraparound ------------------------------------------------- */

/* Every power of two 1..32768: fill the ring, check ENOSPC, drain, reap in
 * order. SPLIT-DRV-2, SPLIT-DRV-13 (never more than num outstanding). */
static void test_all_queue_sizes(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		for (uint32_t num = 1; num <= 32768; num *= 2) {
			struct fx f;
			assert_int_equal(fx_setup(&f, L, num, FX_MODERN, NULL), 0);
			unsigned char *buf = fx_alloc(&f, 16, 16);
			struct vtio_sg sg = vtio_sg_of(buf, 16);
			for (int round = 0; round < 2; round++) {
				for (uint32_t i = 0; i < num; i++)
					assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1,
								     (void *)(uintptr_t)(i + 1)),
							 0);
				assert_int_equal(vtio_vq_num_free(f.vq), 0);
				assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1),
						 VTIO_ENOSPC);
				vtio_vq_kick(f.vq);
				assert_int_equal(dev_drain(&f, 1), num);
				for (uint32_t i = 0; i < num; i++) {
					uint32_t len = 0;
					assert_ptr_equal(vtio_vq_get_used(f.vq, &len),
							 (void *)(uintptr_t)(i + 1));
					assert_int_equal(len, 16);
				}
				assert_null(vtio_vq_get_used(f.vq, NULL));
				assert_int_equal(vtio_vq_num_free(f.vq), num);
			}
			/* A buffer with more segments than the ring can ever hold. */
			struct vtio_sg many[3] = {sg, sg, sg};
			if (num < 3)
				assert_int_equal(vtio_vq_add(f.vq, many, 0, 3, (void *)1),
						 VTIO_E2BIG);
			assert_false(vtio_vq_is_broken(f.vq));
			fx_teardown(&f);
		}
	}
}

/* 16-bit index wraparound: well past 65536 buffers, in batches of varying
 * size, with and without EVENT_IDX (SPLIT-DRV-10/11, SPLIT-DEV-7). */
static void test_index_wraparound(void **state)
{
	(void)state;
	static const uint64_t feats[2] = {FX_MODERN, FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX)};
	FX_FOR_EACH_LAYOUT(L)
	{
		for (int fi = 0; fi < 2; fi++) {
			struct fx f;
			assert_int_equal(fx_setup(&f, L, 8, feats[fi], NULL), 0);
			unsigned char *buf = fx_alloc(&f, 64, 16);
			uint64_t next_tok = 1, expect_tok = 1;
			unsigned batch = 1;
			while (expect_tok < 200000) {
				for (unsigned i = 0; i < batch; i++) {
					struct vtio_sg sg[2] = {vtio_sg_of(buf, 8),
								vtio_sg_of(buf + 32, 8)};
					assert_int_equal(vtio_vq_add(f.vq, sg, 1,
								     (next_tok & 1) ? 1 : 0,
								     (void *)(uintptr_t)next_tok),
							 0);
					next_tok++;
				}
				vtio_vq_kick(f.vq);
				vtio_devq_enable_notify(f.dq);
				assert_int_equal(dev_drain(&f, 7), batch);
				vtio_devq_kick(f.dq);
				void *t;
				uint32_t len;
				while ((t = vtio_vq_get_used(f.vq, &len)) != NULL) {
					assert_ptr_equal(t, (void *)(uintptr_t)expect_tok);
					assert_int_equal(len, (expect_tok & 1) ? 8 : 0);
					expect_tok++;
				}
				assert_int_equal(expect_tok, next_tok);
				vtio_vq_enable_cb(f.vq);
				batch = batch % 4 + 1; /* 1..4 descriptors pairs: up to 8 */
			}
			struct vtio_vq_stats st;
			vtio_vq_get_stats(f.vq, &st);
			assert_int_equal(st.added, next_tok - 1);
			assert_int_equal(st.used, next_tok - 1);
			assert_false(vtio_vq_is_broken(f.vq));
			assert_false(vtio_devq_is_broken(f.dq));
			fx_teardown(&f);
		}
	}
}

/* Chains of 1..num descriptors, readable then writable (SPLIT-DRV-5/8/9,
 * SPLIT-DEV-1). */
static void test_chain_lengths(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		const uint32_t num = 32;
		assert_int_equal(fx_setup(&f, L, num, FX_MODERN, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64 * 8, 16);
		for (unsigned n = 1; n <= num; n++) {
			struct vtio_sg sg[32];
			unsigned nout = n / 2;
			for (unsigned i = 0; i < n; i++)
				sg[i] = vtio_sg_of(buf + 8 * i, 8);
			assert_int_equal(vtio_vq_add(f.vq, sg, nout, n - nout, &f), 0);
			assert_int_equal(vtio_vq_num_free(f.vq), num - n);
			vtio_vq_kick(f.vq);
			struct vtio_devq_chain c;
			fx_chain_init(&f, &c);
			assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
			assert_int_equal(c.rd_num, nout);
			assert_int_equal(c.wr_num, n - nout);
			for (unsigned i = 0; i < nout; i++)
				assert_ptr_equal(c.rd[i].ptr, buf + 8 * i);
			for (unsigned i = 0; i < n - nout; i++)
				assert_ptr_equal(c.wr[i].ptr, buf + 8 * (nout + i));
			assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
			assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &f);
		}
		fx_teardown(&f);
	}
}

/* ---- Indirect descriptors (INDIR-*) ------------------------------------------------- */

static void test_indirect(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		struct fx_opts o = {.indirect_tables = 4, .indirect_max = 64};
		uint64_t feat = FX_MODERN | VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
		assert_int_equal(fx_setup(&f, L, 8, feat, &o), 0);
		unsigned char *buf = fx_alloc(&f, 64 * 16, 16);
		struct vtio_sg sg[65];
		for (unsigned i = 0; i < 65; i++)
			sg[i] = vtio_sg_of(buf + 16 * (i % 64), 16);
		/* A 3-segment buffer takes one ring descriptor (threshold 2). */
		assert_int_equal(vtio_vq_add(f.vq, sg, 1, 2, (void *)1), 0);
		assert_int_equal(vtio_vq_num_free(f.vq), 7);
		/* A single segment stays direct. */
		assert_int_equal(vtio_vq_add(f.vq, sg, 1, 0, (void *)2), 0);
		assert_int_equal(vtio_vq_num_free(f.vq), 6);
		/* INDIR-DRV-4 policy: a buffer larger than the ring goes indirect. */
		assert_int_equal(vtio_vq_add(f.vq, sg, 20, 20, (void *)3), 0);
		assert_int_equal(vtio_vq_num_free(f.vq), 5);
		if (L == VTIO_LAYOUT_SPLIT) {
			/* INDIR-DRV-3/5: head is INDIRECT without NEXT; table chained 1,2,3. */
			const struct vtio_split_desc *d = f.areas.desc;
			assert_int_equal(vtio_le16(d[0].flags), VTIO_DESC_F_INDIRECT);
			assert_int_equal(vtio_le32(d[0].len), 3 * 16);
			const struct vtio_split_desc *t =
			    (const void *)(uintptr_t)vtio_le64(d[0].addr);
			assert_int_equal(vtio_le16(t[0].flags), VTIO_DESC_F_NEXT);
			assert_int_equal(vtio_le16(t[0].next), 1);
			assert_int_equal(vtio_le16(t[1].flags),
					 VTIO_DESC_F_NEXT | VTIO_DESC_F_WRITE);
			assert_int_equal(vtio_le16(t[1].next), 2);
			assert_int_equal(vtio_le16(t[2].flags), VTIO_DESC_F_WRITE);
			/* INDIR-DRV-2: no INDIRECT inside the table. */
			for (int i = 0; i < 3; i++)
				assert_int_equal(vtio_le16(t[i].flags) & VTIO_DESC_F_INDIRECT, 0);
		}
		vtio_vq_kick(f.vq);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(c.rd_num, 1);
		assert_int_equal(c.wr_num, 2);
		assert_int_equal(c.wr_len, 32);
		assert_int_equal(vtio_devq_push(f.dq, &c, 20), 0);
		assert_int_equal(dev_drain(&f, 0), 2);
		uint32_t len;
		assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)1);
		assert_int_equal(len, 20);
		assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)2);
		assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)3);
		assert_int_equal(len, 20 * 16);
		struct vtio_vq_stats st;
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.indirect, 2);
		/* All tables busy: multi-segment buffers fall back to direct chains. */
		for (int i = 0; i < 4; i++)
			assert_int_equal(vtio_vq_add(f.vq, sg, 0, 2, (void *)4), 0);
		assert_int_equal(vtio_vq_num_free(f.vq), 4);
		assert_int_equal(vtio_vq_add(f.vq, sg, 0, 2, (void *)5), 0);
		assert_int_equal(vtio_vq_num_free(f.vq), 2);
		/* Beyond the tables' size and the ring: E2BIG. */
		assert_int_equal(vtio_vq_add(f.vq, sg, 0, 65, (void *)6), VTIO_E2BIG);
		fx_teardown(&f);

		/* INDIR-DRV-1: tables given but INDIRECT_DESC not negotiated: never indirect. */
		assert_int_equal(fx_setup(&f, L, 8, FX_MODERN, &o), 0);
		buf = fx_alloc(&f, 64, 16);
		struct vtio_sg two[2] = {vtio_sg_of(buf, 16), vtio_sg_of(buf + 16, 16)};
		assert_int_equal(vtio_vq_add(f.vq, two, 1, 1, (void *)1), 0);
		assert_int_equal(vtio_vq_num_free(f.vq), 6);
		if (L == VTIO_LAYOUT_SPLIT) {
			const struct vtio_split_desc *d = f.areas.desc;
			assert_int_equal(vtio_le16(d[0].flags) & VTIO_DESC_F_INDIRECT, 0);
		}
		assert_int_equal(vtio_vq_add(f.vq, sg, 0, 9, (void *)1), VTIO_E2BIG);
		fx_teardown(&f);

		/* Threshold: below it stays direct unless the ring is too full. */
		o.indirect_threshold = 4;
		assert_int_equal(fx_setup(&f, L, 4, feat, &o), 0);
		buf = fx_alloc(&f, 64, 16);
		struct vtio_sg three[3] = {vtio_sg_of(buf, 8), vtio_sg_of(buf + 8, 8),
					   vtio_sg_of(buf + 16, 8)};
		assert_int_equal(vtio_vq_add(f.vq, three, 3, 0, (void *)1), 0);
		assert_int_equal(vtio_vq_num_free(f.vq), 1);
		assert_int_equal(vtio_vq_add(f.vq, three, 3, 0, (void *)2), 0); /* does not fit */
		assert_int_equal(vtio_vq_num_free(f.vq), 0);
		vtio_vq_kick(f.vq);
		assert_int_equal(dev_drain(&f, 0), 2);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)1);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)2);
		fx_teardown(&f);
	}
}

/* ---- EVENT_IDX arithmetic and notification suppression (EVT-*, NOTIF-*) ------------ */

static void test_need_event_vectors(void **state)
{
	(void)state;
	/* CHECKLIST 3.4 vectors. */
	assert_true(vtio_need_event(5, 6, 5));
	assert_false(vtio_need_event(5, 7, 6));
	assert_true(vtio_need_event(0xffff, 0x0001, 0xfffe));
	for (unsigned v = 0; v < 0x10000; v += 0x1111)
		assert_false(vtio_need_event((uint16_t)v, (uint16_t)(v + 3), (uint16_t)(v + 3)));
	/* used_event = 0 fires after the first buffer and again after the 65536th. */
	unsigned fired = 0;
	for (uint32_t i = 0; i < 65536 * 2; i++)
		fired += (unsigned)vtio_need_event(0, (uint16_t)(i + 1), (uint16_t)i);
	assert_int_equal(fired, 2);
	/* Batched ranges: the event anywhere inside (old, new] fires, at the wrap too. */
	assert_true(vtio_need_event(0xfffe, 0x0003, 0xfff0));
	assert_true(vtio_need_event(0x0002, 0x0003, 0xfff0));
	assert_false(vtio_need_event(0x0003, 0x0003, 0xfff0));
	assert_false(vtio_need_event(0xffef, 0x0003, 0xfff0));
}

/* Without EVENT_IDX: VTIO_USED_F_NO_NOTIFY (EVT-DRV, EVT-DEV) and
 * VTIO_AVAIL_F_NO_INTERRUPT. */
static void test_flags_suppression(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		assert_int_equal(fx_setup(&f, L, 8, FX_MODERN, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 16, 16);
		struct vtio_sg sg = vtio_sg_of(buf, 16);
		/* Kick needed by default; none when nothing new was added. */
		assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, (void *)1), 0);
		assert_true(vtio_vq_kick_prepare(f.vq));
		assert_false(vtio_vq_kick_prepare(f.vq));
		/* Device asks for no notifications. */
		vtio_devq_disable_notify(f.dq);
		assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, (void *)2), 0);
		assert_false(vtio_vq_kick_prepare(f.vq));
		assert_int_equal(dev_drain(&f, 0), 2);
		/* Re-enabled and empty: true (safe to sleep). */
		assert_true(vtio_devq_enable_notify(f.dq));
		assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, (void *)3), 0);
		assert_true(vtio_vq_kick_prepare(f.vq));
		/* enable_notify sees the pending chain: false (pop again). */
		assert_false(vtio_devq_enable_notify(f.dq));
		unsigned kicks = f.kicks;
		assert_int_equal(vtio_vq_notify(f.vq), 0);
		assert_int_equal(f.kicks, kicks + 1);
		assert_int_equal(f.last_kick_data, 3); /* NOTIF: the queue index */

		/* Used-buffer notifications: driver disables, device sees it. */
		assert_true(vtio_devq_notify_prepare(f.dq));
		vtio_vq_disable_cb(f.vq);
		assert_int_equal(dev_drain(&f, 0), 1);
		assert_false(vtio_devq_notify_prepare(f.dq));
		/* enable_cb with a used buffer pending: false. */
		assert_false(vtio_vq_enable_cb(f.vq));
		while (vtio_vq_get_used(f.vq, NULL) != NULL)
			;
		assert_true(vtio_vq_enable_cb(f.vq));
		assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, (void *)4), 0);
		vtio_vq_kick(f.vq);
		assert_int_equal(dev_drain(&f, 0), 1);
		unsigned irqs = f.irqs;
		assert_int_equal(vtio_devq_kick(f.dq), 0);
		assert_int_equal(f.irqs, irqs + 1);
		/* Nothing new pushed: no second interrupt. */
		assert_false(vtio_devq_notify_prepare(f.dq));
		if (L == VTIO_LAYOUT_SPLIT) {
			/* EVT: the flags live where the spec says. */
			vtio_vq_disable_cb(f.vq);
			assert_int_equal(
			    vtio_le16(((struct vtio_split_avail *)f.areas.driver)->flags),
			    VTIO_AVAIL_F_NO_INTERRUPT);
			vtio_devq_disable_notify(f.dq);
			assert_int_equal(
			    vtio_le16(((struct vtio_split_used *)f.areas.device)->flags),
			    VTIO_USED_F_NO_NOTIFY);
		}
		fx_teardown(&f);
	}
}

/* With EVENT_IDX (EVT-*): avail_event / used_event drive the decisions,
 * flags stay 0, events at the 16-bit wrap work. */
static void test_event_idx(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		assert_int_equal(
		    fx_setup(&f, L, 8, FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX), NULL), 0);
		unsigned char *buf = fx_alloc(&f, 16, 16);
		struct vtio_sg sg = vtio_sg_of(buf, 16);
		/* Run the indexes up to just before the wrap. */
		for (uint32_t i = 0; i < 65533; i++) {
			assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
			vtio_vq_kick_prepare(f.vq);
			assert_int_equal(dev_drain(&f, 0), 1);
			assert_non_null(vtio_vq_get_used(f.vq, NULL));
		}
		/* Device arms avail_event at its last_avail (65533). */
		assert_true(vtio_devq_enable_notify(f.dq));
		for (int k = 0; k < 5; k++) {
			/* Each add crosses the event only when the device re-armed. */
			assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
			assert_true(vtio_vq_kick_prepare(f.vq));
			assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
			assert_false(vtio_vq_kick_prepare(f.vq)); /* not re-armed */
			assert_int_equal(dev_drain(&f, 0), 2);
			assert_true(vtio_devq_enable_notify(f.dq));
			/* Driver: used_event = last_used; the device notifies once. */
			assert_true(vtio_vq_enable_cb(f.vq) == false || !vtio_vq_more_used(f.vq));
			while (vtio_vq_get_used(f.vq, NULL) != NULL)
				;
			assert_true(vtio_vq_enable_cb(f.vq));
			assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
			assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
			vtio_vq_kick_prepare(f.vq);
			struct vtio_devq_chain c;
			fx_chain_init(&f, &c);
			assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
			assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
			assert_true(vtio_devq_notify_prepare(f.dq));
			fx_chain_init(&f, &c);
			assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
			assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
			assert_false(vtio_devq_notify_prepare(f.dq)); /* event already passed */
			while (vtio_vq_get_used(f.vq, NULL) != NULL)
				;
			assert_true(vtio_devq_enable_notify(f.dq));
		}
		if (L == VTIO_LAYOUT_SPLIT) {
			/* EVT: with EVENT_IDX the flags are never set. */
			vtio_vq_disable_cb(f.vq);
			vtio_devq_disable_notify(f.dq);
			assert_int_equal(((struct vtio_split_avail *)f.areas.driver)->flags, 0);
			assert_int_equal(((struct vtio_split_used *)f.areas.device)->flags, 0);
		}
		/* disable_cb: no interrupt for the next buffers. */
		vtio_vq_disable_cb(f.vq);
		for (int k = 0; k < 6; k++) {
			assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
			vtio_vq_kick_prepare(f.vq);
			assert_int_equal(dev_drain(&f, 0), 1);
			assert_false(vtio_devq_notify_prepare(f.dq));
		}
		while (vtio_vq_get_used(f.vq, NULL) != NULL)
			;
		/* enable_cb_delayed: ~3/4 of 8 in flight before an interrupt. */
		for (int k = 0; k < 8; k++)
			assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
		vtio_vq_kick_prepare(f.vq);
		assert_true(vtio_vq_enable_cb_delayed(f.vq));
		unsigned fired_at = 0;
		for (unsigned k = 1; k <= 8; k++) {
			struct vtio_devq_chain c;
			fx_chain_init(&f, &c);
			assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
			assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
			if (vtio_devq_notify_prepare(f.dq) && fired_at == 0)
				fired_at = k;
		}
		assert_int_equal(fired_at, 7); /* used_event = last_used + 6 */
		fx_teardown(&f);
	}
}

/* NOTIF-DRV: VIRTIO_F_NOTIFICATION_DATA (split: full avail idx in bits 16-31). */
static void test_notification_data(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		if (L != VTIO_LAYOUT_SPLIT)
			continue; /* packed value: the packed suite */
		struct fx f;
		assert_int_equal(
		    fx_setup(&f, L, 4, FX_MODERN | VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA), NULL),
		    0);
		unsigned char *buf = fx_alloc(&f, 16, 16);
		struct vtio_sg sg = vtio_sg_of(buf, 16);
		for (uint32_t i = 1; i < 70000; i++) {
			assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
			assert_int_equal(vtio_vq_kick(f.vq), 0);
			assert_int_equal(f.last_kick_data, 3u | ((i & 0xffffu) << 16));
			assert_int_equal(dev_drain(&f, 0), 1);
			assert_non_null(vtio_vq_get_used(f.vq, NULL));
		}
		fx_teardown(&f);
	}
}

/* ---- Bytes on the wire (LEG-*, CHECKLIST 1.1) ------------------------------------- */

static void check_bytes(const unsigned char *p, uint64_t v, unsigned n, bool legacy)
{
	unsigned char expect[8];
	if (legacy) {
		/* Host order. */
		if (n == 2) {
			uint16_t x = (uint16_t)v;
			memcpy(expect, &x, 2);
		} else if (n == 4) {
			uint32_t x = (uint32_t)v;
			memcpy(expect, &x, 4);
		} else {
			memcpy(expect, &v, 8);
		}
	} else {
		for (unsigned i = 0; i < n; i++)
			expect[i] = (unsigned char)(v >> (8 * i));
	}
	assert_memory_equal(p, expect, n);
}

static void test_wire_bytes(void **state)
{
	(void)state;
	for (int legacy = 0; legacy < 2; legacy++) {
		struct fx f;
		uint64_t feat = legacy ? VTIO_FEATURE(VTIO_F_EVENT_IDX)
				       : FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX);
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 4, feat, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 0x300, 16);
		struct vtio_sg sg[2] = {vtio_sg_of(buf, 0x123), vtio_sg_of(buf + 0x200, 0x45)};
		assert_int_equal(vtio_vq_add(f.vq, sg, 1, 1, (void *)1), 0);
		vtio_vq_kick(f.vq);
		const unsigned char *d = f.areas.desc;
		check_bytes(d + 0, fx_addr(buf), 8, legacy);
		check_bytes(d + 8, 0x123, 4, legacy);
		check_bytes(d + 12, VTIO_DESC_F_NEXT, 2, legacy);
		check_bytes(d + 14, 1, 2, legacy);
		check_bytes(d + 16, fx_addr(buf + 0x200), 8, legacy);
		check_bytes(d + 24, 0x45, 4, legacy);
		check_bytes(d + 28, VTIO_DESC_F_WRITE, 2, legacy);
		const unsigned char *av = f.areas.driver;
		check_bytes(av + 2, 1, 2, legacy); /* avail idx */
		check_bytes(av + 4, 0, 2, legacy); /* ring[0] = head 0 */
		vtio_vq_enable_cb(f.vq);
		check_bytes(av + vtio_split_used_event_off(4), 0, 2, legacy);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(c.rd_len, 0x123);
		assert_int_equal(vtio_devq_push(f.dq, &c, 0x44), 0);
		assert_true(vtio_devq_enable_notify(f.dq));
		const unsigned char *u = f.areas.device;
		check_bytes(u + 2, 1, 2, legacy);    /* used idx */
		check_bytes(u + 4, 0, 4, legacy);    /* ring[0].id */
		check_bytes(u + 8, 0x44, 4, legacy); /* ring[0].len */
		check_bytes(u + vtio_split_avail_event_off(4), 1, 2, legacy);
		uint32_t len;
		assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)1);
		assert_int_equal(len, 0x44);
		fx_teardown(&f);
	}
}

/* ---- Read-free placement (DESIGN.md, seed 000; SPLIT-DRV-14, SPLIT-DEV-4) -------- */

static void test_read_free_placement(void **state)
{
	(void)state;
	static const uint64_t feats[2] = {FX_MODERN, FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX) |
							 VTIO_FEATURE(VTIO_F_INDIRECT_DESC)};
	for (int fi = 0; fi < 2; fi++) {
		struct fx f;
		struct fx_opts o = {.count = true, .indirect_tables = 8, .indirect_max = 8};
		assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 16, feats[fi], &o), 0);
		/* Device init probes the first and last byte of each area once
		 * (accessor-only view): placement is about the running queue. */
		f.dev_count.ranges[2].reads = 0;
		unsigned char *buf = fx_alloc(&f, 256, 16);
		for (uint32_t i = 0; i < 70000; i++) {
			struct vtio_sg sg[3] = {vtio_sg_of(buf, 16), vtio_sg_of(buf + 64, 16),
						vtio_sg_of(buf + 128, 16)};
			unsigned n = 1 + i % 3;
			for (unsigned k = 0; k < 1 + i % 5; k++)
				if (vtio_vq_add(f.vq, sg, 1, n - 1, (void *)1) != 0)
					break;
			vtio_vq_kick(f.vq);
			if (i % 7 == 0)
				vtio_devq_disable_notify(f.dq);
			dev_drain(&f, 0);
			vtio_devq_kick(f.dq);
			vtio_devq_enable_notify(f.dq);
			if (i % 3 == 0)
				vtio_vq_disable_cb(f.vq);
			while (vtio_vq_get_used(f.vq, NULL) != NULL)
				;
			if (i % 2 == 0)
				vtio_vq_enable_cb(f.vq);
			else
				vtio_vq_enable_cb_delayed(f.vq);
		}
		vtio_vq_more_used(f.vq);
		/* Driver: zero reads of the descriptor table and the avail ring. */
		assert_int_equal(f.drv_count.ranges[0].reads, 0);
		assert_int_equal(f.drv_count.ranges[1].reads, 0);
		assert_true(f.drv_count.ranges[0].writes > 70000);
		assert_true(f.drv_count.ranges[2].reads > 70000);
		/* Device: zero reads of the used ring. */
		assert_int_equal(f.dev_count.ranges[2].reads, 0);
		assert_true(f.dev_count.ranges[2].writes > 70000);
		assert_true(f.dev_count.ranges[0].reads > 70000);
		assert_false(vtio_vq_is_broken(f.vq));
		assert_false(vtio_devq_is_broken(f.dq));
		fx_teardown(&f);
	}
}

/* ---- VIRTIO_F_IN_ORDER (INORD-*) --------------------------------------------------- */

static void test_in_order(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		if (L != VTIO_LAYOUT_SPLIT)
			continue; /* packed IN_ORDER: the packed suite */
		struct fx f;
		struct fx_opts o = {.indirect_tables = 2, .indirect_max = 8};
		uint64_t feat =
		    FX_MODERN | VTIO_FEATURE(VTIO_F_IN_ORDER) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
		assert_int_equal(fx_setup(&f, L, 8, feat, &o), 0);
		unsigned char *buf = fx_alloc(&f, 256, 16);
		struct vtio_sg sg[4];
		for (int i = 0; i < 4; i++)
			sg[i] = vtio_sg_of(buf + 32 * i, 32);
		uint16_t expect_head = 0;
		for (int round = 0; round < 50; round++) {
			/* INORD-DRV-1: descriptors allocated sequentially, next = x+1 wrapping. */
			unsigned sizes[3] = {1, 2, 3};
			void *toks[3] = {(void *)1, (void *)2, (void *)3};
			unsigned ndesc[3];
			for (int b = 0; b < 3; b++) {
				assert_int_equal(vtio_vq_add(f.vq, sg, 0, sizes[b], toks[b]), 0);
			}
			vtio_vq_kick(f.vq);
			struct vtio_devq_done u[3];
			for (int b = 0; b < 3; b++) {
				struct vtio_devq_chain c;
				fx_chain_init(&f, &c);
				assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
				assert_int_equal(c.id, expect_head);
				ndesc[b] = c.ndesc;
				expect_head = (uint16_t)((expect_head + c.ndesc) & 7);
				u[b].h = vtio_devq_handle_of(&c);
				u[b].len = 5;
			}
			(void)ndesc;
			/* INORD-DEV: one used entry for the batch, idx += 3. */
			uint16_t used_before =
			    vtio_le16(((struct vtio_split_used *)f.areas.device)->idx);
			assert_int_equal(vtio_devq_push_batch(f.dq, u, 3), 0);
			assert_int_equal(
			    (uint16_t)(vtio_le16(((struct vtio_split_used *)f.areas.device)->idx) -
				       used_before),
			    3);
			uint32_t len;
			assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)1);
			assert_int_equal(len, 32); /* skipped buffers count as fully used */
			assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)2);
			assert_int_equal(len, 64);
			assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)3);
			assert_int_equal(len, 5);
			assert_null(vtio_vq_get_used(f.vq, &len));
			assert_int_equal(vtio_vq_num_free(f.vq), 8);
		}
		/* A device completing out of order breaks the queue. */
		assert_int_equal(vtio_vq_add(f.vq, sg, 0, 1, (void *)1), 0);
		assert_int_equal(vtio_vq_add(f.vq, sg, 0, 1, (void *)2), 0);
		vtio_vq_kick(f.vq);
		struct vtio_devq_chain c1, c2;
		struct vtio_iov r1[4], w1[4];
		tc_chain_init(&c1, r1, 4, w1, 4);
		fx_chain_init(&f, &c2);
		assert_int_equal(vtio_devq_pop(f.dq, &c1), 0);
		assert_int_equal(vtio_devq_pop(f.dq, &c2), 0);
		assert_int_equal(vtio_devq_push(f.dq, &c2, 0), 0);
		assert_null(vtio_vq_get_used(f.vq, NULL));
		assert_true(vtio_vq_is_broken(f.vq));
		assert_non_null(vtio_vq_broken_reason(f.vq));
		fx_teardown(&f);
	}
}

/* ---- Hostile device (SPLIT-DRV-15/16) ------------------------------------------------ */

static void test_hostile_device(void **state)
{
	(void)state;
	struct fx f;
	unsigned char *buf;
	struct vtio_sg sg[2];
	/* Used id out of range. */
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, FX_MODERN, NULL), 0);
	buf = fx_alloc(&f, 64, 16);
	sg[0] = vtio_sg_of(buf, 16);
	sg[1] = vtio_sg_of(buf + 16, 16);
	assert_int_equal(vtio_vq_add(f.vq, sg, 1, 1, (void *)1), 0);
	vtio_vq_kick(f.vq);
	fx_put_used(&f, 0, 8, 0, 1);
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_true(vtio_vq_is_broken(f.vq));
	assert_string_equal(vtio_vq_broken_reason(f.vq), "used id out of range");
	assert_int_equal(vtio_vq_add(f.vq, sg, 1, 1, (void *)1), VTIO_EIO);
	assert_int_equal(vtio_vq_notify(f.vq), VTIO_EIO);
	/* Detach still returns the token exactly once; reset then clears broken. */
	assert_ptr_equal(vtio_vq_detach_unused(f.vq), (void *)1);
	assert_null(vtio_vq_detach_unused(f.vq));
	assert_int_equal(vtio_vq_reset(f.vq), 0);
	assert_false(vtio_vq_is_broken(f.vq));
	assert_null(vtio_vq_broken_reason(f.vq));
	fx_teardown(&f);

	/* Id in range but not in flight (descriptor 1 is the chain's second). */
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, FX_MODERN, NULL), 0);
	buf = fx_alloc(&f, 64, 16);
	sg[0] = vtio_sg_of(buf, 16);
	sg[1] = vtio_sg_of(buf + 16, 16);
	assert_int_equal(vtio_vq_add(f.vq, sg, 1, 1, (void *)1), 0);
	vtio_vq_kick(f.vq);
	fx_put_used(&f, 0, 1, 0, 1);
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_string_equal(vtio_vq_broken_reason(f.vq), "used id not in flight");
	fx_teardown(&f);

	/* The same id twice: the second is not in flight any more. */
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, FX_MODERN, NULL), 0);
	buf = fx_alloc(&f, 64, 16);
	sg[0] = vtio_sg_of(buf, 16);
	assert_int_equal(vtio_vq_add(f.vq, sg, 1, 0, (void *)1), 0);
	assert_int_equal(vtio_vq_add(f.vq, sg, 1, 0, (void *)2), 0);
	vtio_vq_kick(f.vq);
	fx_put_used(&f, 0, 0, 0, 1);
	fx_put_used(&f, 1, 0, 0, 2);
	assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)1);
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_true(vtio_vq_is_broken(f.vq));
	fx_teardown(&f);

	/* Used len larger than the writable part: clamped and counted (SPLIT-DRV-16). */
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, FX_MODERN, NULL), 0);
	buf = fx_alloc(&f, 64, 16);
	sg[0] = vtio_sg_of(buf, 16);
	sg[1] = vtio_sg_of(buf + 16, 16);
	assert_int_equal(vtio_vq_add(f.vq, sg, 1, 1, (void *)1), 0);
	assert_int_equal(vtio_vq_add(f.vq, sg, 1, 0, (void *)2), 0);
	vtio_vq_kick(f.vq);
	fx_put_used(&f, 0, 0, 1000, 1);
	fx_put_used(&f, 1, 2, 5, 2);
	uint32_t len;
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)1);
	assert_int_equal(len, 16);
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)2);
	assert_int_equal(len, 0); /* read-only buffer: len 0 */
	struct vtio_vq_stats st;
	vtio_vq_get_stats(f.vq, &st);
	assert_int_equal(st.len_clamped, 2);
	assert_false(vtio_vq_is_broken(f.vq));
	fx_teardown(&f);

	/* Used idx jumping past the buffers in flight. */
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, FX_MODERN, NULL), 0);
	buf = fx_alloc(&f, 64, 16);
	sg[0] = vtio_sg_of(buf, 16);
	assert_int_equal(vtio_vq_add(f.vq, sg, 1, 0, (void *)1), 0);
	vtio_vq_kick(f.vq);
	fx_put_used(&f, 0, 0, 0, 2);
	assert_false(vtio_vq_more_used(f.vq) && false);
	assert_null(vtio_vq_get_used(f.vq, NULL));
	assert_true(vtio_vq_is_broken(f.vq));
	fx_teardown(&f);
}

/* ---- Device side: capacity, push checks, view flavours (SPLIT-DEV-*) ---------------- */

static void test_devq_capacity_and_push(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		assert_int_equal(fx_setup(&f, L, 8, FX_MODERN, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		struct vtio_sg sg[4];
		for (int i = 0; i < 4; i++)
			sg[i] = vtio_sg_of(buf + 16 * i, 16);
		assert_int_equal(vtio_vq_add(f.vq, sg, 2, 2, (void *)1), 0);
		vtio_vq_kick(f.vq);
		struct vtio_devq_chain c;
		struct vtio_iov rd[1], wr[1];
		tc_chain_init(&c, rd, 1, wr, 1);
		/* Arrays too small: VTIO_ENOBUFS, the counts needed, nothing consumed. */
		assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_ENOBUFS);
		assert_int_equal(c.rd_num, 2);
		assert_int_equal(c.wr_num, 2);
		assert_false(vtio_devq_is_broken(f.dq));
		assert_true(vtio_devq_more_avail(f.dq));
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EAGAIN);
		fx_chain_init(&f, &c);
		/* (re-pop impossible; use the saved chain) */
		assert_false(vtio_devq_more_avail(f.dq));
		fx_teardown(&f);
	}
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		assert_int_equal(fx_setup(&f, L, 8, FX_MODERN, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		struct vtio_devq_chain c;
		fx_add_pop_1_1(&f, buf, (void *)1, &c);
		/* Partial reads/writes past the end are short, not errors. */
		unsigned char tmp[40];
		assert_int_equal(vtio_devq_read(f.dq, &c, 10, tmp, 40), 6);
		assert_int_equal(vtio_devq_write(f.dq, &c, 20, tmp, 4), 0);
		/* SPLIT-DEV-6: len beyond the writable part is the caller's bug. */
		assert_int_equal(vtio_devq_push(f.dq, &c, 17), VTIO_EINVAL);
		struct vtio_devq_done u = {.h = {.id = (uint16_t)f.num, .ndesc = 1, .wr_cap = 0},
					   .len = 0};
		assert_int_equal(vtio_devq_push_batch(f.dq, &u, 1), VTIO_EINVAL);
		assert_int_equal(vtio_devq_push(f.dq, &c, 16), 0);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)1);
		fx_teardown(&f);
	}
}

/* Accessor-only view (no translate): every ring and buffer access goes
 * through read/write; iovs carry ptr NULL. */
struct ops_ctx {
	const struct vtio_mem *inner;
	unsigned reads, writes;
};
static int ops_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
	struct ops_ctx *o = ctx;
	o->reads++;
	if (o->inner == NULL) {
		/* Before the arena exists (devq init probes the areas): pretend. */
		memset(dst, 0, len);
		return 0;
	}
	return vtio_mem_read(o->inner, addr, dst, len);
}
static int ops_write(void *ctx, uint64_t addr, const void *src, size_t len)
{
	struct ops_ctx *o = ctx;
	o->writes++;
	return vtio_mem_write(o->inner, addr, src, len);
}

static void test_devq_views(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		/* The fixture's arena view, wrapped in ops with no translate. */
		static struct vtio_mem inner_view;
		static struct vtio_mem_region inner_region;
		static struct ops_ctx octx;
		static const struct vtio_mem_ops ops = {ops_read, ops_write, NULL};
		static struct vtio_mem ops_view;
		struct fx f;
		struct fx_opts o = {.dev_mem = &ops_view};
		vtio_mem_init(&ops_view, NULL, 0);
		vtio_mem_set_ops(&ops_view, &ops, &octx);
		octx.inner = NULL; /* init's probe of the areas reads through ops_read */
		/* inner_view must exist before init zeroes/validates: set up after the
		 * arena exists, so create the fixture first with a temporary region. */
		static unsigned char placeholder;
		inner_region.addr = 0;
		inner_region.len = 1;
		inner_region.host = &placeholder;
		inner_region.perm = VTIO_MEM_RW;
		assert_int_equal(vtio_mem_init(&inner_view, &inner_region, 1), 0);
		assert_int_equal(fx_setup(&f, L, 8, FX_MODERN, &o), 0);
		inner_region = f.region[0];
		octx.inner = &inner_view;
		unsigned char *buf = fx_alloc(&f, 64, 16);
		memset(buf, 0x5a, 16);
		struct vtio_devq_chain c;
		fx_add_pop_1_1(&f, buf, (void *)1, &c);
		assert_null(c.rd[0].ptr);
		assert_int_equal(c.rd[0].addr, fx_addr(buf));
		unsigned char tmp[16];
		assert_int_equal(vtio_devq_read(f.dq, &c, 0, tmp, 16), 16);
		assert_int_equal(tmp[15], 0x5a);
		memset(tmp, 0x77, sizeof(tmp));
		assert_int_equal(vtio_devq_write(f.dq, &c, 0, tmp, 16), 16);
		assert_int_equal(vtio_devq_push(f.dq, &c, 16), 0);
		assert_int_equal(buf[31], 0x77);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)1);
		assert_true(octx.reads > 0 && octx.writes > 0);
		fx_teardown(&f);
	}
	FX_FOR_EACH_LAYOUT(L)
	{
		/* A buffer crossing two regions becomes two iovs. */
		struct fx f;
		static struct vtio_mem_region two[2];
		static struct vtio_mem split_view;
		struct fx_opts o = {.dev_mem = &split_view};
		two[0].addr = 0;
		two[0].len = 1;
		two[0].host = NULL;
		two[0].perm = VTIO_MEM_RW;
		vtio_mem_init(&split_view, two, 1);
		/* Set up once to learn the arena, then re-point the view. */
		assert_int_equal(fx_setup(&f, L, 8, FX_MODERN, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		size_t half = (size_t)(buf + 8 - f.arena);
		two[0] = f.region[0];
		two[0].len = half;
		two[1] = f.region[0];
		two[1].addr += half;
		two[1].host = f.arena + half;
		two[1].len -= half;
		assert_int_equal(vtio_mem_init(&split_view, two, 2), 0);
		struct vtio_devq_config dc;
		memset(&dc, 0, sizeof(dc));
		dc.layout = L;
		dc.num = 8;
		dc.features = FX_MODERN;
		dc.desc_addr = f.areas.desc_addr;
		dc.driver_addr = f.areas.driver_addr;
		dc.device_addr = f.areas.device_addr;
		dc.mem = o.dev_mem;
		dc.notify = fx_irq_cb;
		dc.notify_ctx = &f;
		size_t dst = vtio_devq_state_size(L, 8);
		assert_int_equal(vtio_devq_init(&f.dq, fx_alloc(&f, dst, 16), dst, &dc), 0);
		struct vtio_sg sg = vtio_sg_of(buf, 16);
		assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, (void *)1), 0);
		vtio_vq_kick(f.vq);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(c.rd_num, 2);
		assert_int_equal(c.rd[0].len, 8);
		assert_int_equal(c.rd[1].len, 8);
		assert_ptr_equal(c.rd[1].ptr, buf + 8);
		assert_int_equal(c.rd_len, 16);
		fx_teardown(&f);
	}
}

/* ---- Detach, reset, broken ----------------------------------------------------------- */

static void test_detach_reset(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		struct fx_opts o = {.indirect_tables = 2, .indirect_max = 4};
		assert_int_equal(
		    fx_setup(&f, L, 8, FX_MODERN | VTIO_FEATURE(VTIO_F_INDIRECT_DESC), &o), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		struct vtio_sg sg[3] = {vtio_sg_of(buf, 8), vtio_sg_of(buf + 8, 8),
					vtio_sg_of(buf + 16, 8)};
		int seen[5] = {0};
		for (uintptr_t t = 1; t <= 4; t++)
			assert_int_equal(vtio_vq_add(f.vq, sg, 1, (unsigned)(t % 3), (void *)t), 0);
		vtio_vq_kick(f.vq);
		assert_int_equal(vtio_vq_reset(f.vq), VTIO_EBUSY);
		void *t;
		while ((t = vtio_vq_detach_unused(f.vq)) != NULL) {
			uintptr_t k = (uintptr_t)t;
			assert_true(k >= 1 && k <= 4);
			seen[k]++;
		}
		for (int k = 1; k <= 4; k++)
			assert_int_equal(seen[k], 1);
		assert_int_equal(vtio_vq_num_free(f.vq), 8);
		assert_int_equal(vtio_vq_reset(f.vq), 0);
		vtio_devq_reset(f.dq);
		/* Both sides start over and work. */
		int tok;
		round_trip(&f, 1, 1, 8, &tok);
		vtio_vq_set_broken(f.vq, "transport failed");
		assert_true(vtio_vq_is_broken(f.vq));
		assert_string_equal(vtio_vq_broken_reason(f.vq), "transport failed");
		assert_int_equal(vtio_vq_kick(f.vq), VTIO_EIO);
		fx_teardown(&f);
	}
}

/* Counters: buffers count as added when vtio_vq_add() returns, whether or
 * not a kick has published them yet (split counts them per kick internally),
 * and the counters survive detach + reset. */
static void test_stats_counters(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		assert_int_equal(fx_setup(&f, L, 8, FX_MODERN, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		struct vtio_sg sg = vtio_sg_of(buf, 16);
		struct vtio_vq_stats st;
		for (uintptr_t t = 1; t <= 3; t++)
			assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)t), 0);
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.added, 3);
		assert_int_equal(st.used, 0);
		assert_int_equal(vtio_vq_kick(f.vq), 0);
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.added, 3);
		assert_int_equal(st.notifies, 1);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(vtio_devq_push(f.dq, &c, 4), 0);
		uint32_t len = 0;
		assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)1);
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.used, 1);
		/* Two more, never published. */
		assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)4), 0);
		assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)5), 0);
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.added, 5);
		unsigned detached = 0;
		while (vtio_vq_detach_unused(f.vq) != NULL)
			detached++;
		assert_int_equal(detached, 4);
		assert_int_equal(vtio_vq_reset(f.vq), 0);
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.added, 5);
		assert_int_equal(st.used, 1);
		fx_teardown(&f);
	}
}

/* Counters over many laps of a small ring, with chains (several
 * descriptors per buffer), batch adds and batch reaps, a detach and a
 * reset: added and used stay the buffer counts (packed derives them from
 * its position: lap count, descriptors past each chain's first, buffers
 * in flight and detached). */
static void test_stats_laps_chains(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		assert_int_equal(fx_setup(&f, L, 8, FX_MODERN, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		struct vtio_vq_stats st;
		uint64_t added = 0, used = 0;
		int tok[2];
		for (unsigned i = 0; i < 60; i++) {
			unsigned k;
			if (i % 5 == 0) {
				struct vtio_sg sg[2] = {vtio_sg_of(buf, 16),
							vtio_sg_of(buf + 16, 16)};
				void *const t[2] = {&tok[0], &tok[1]};
				assert_int_equal(vtio_vq_add_batch(f.vq, sg, 2, true, t), 2);
				k = 2;
			} else {
				/* 1, 2 or 3 descriptors: the ring's laps and the
				 * buffers added drift apart */
				fx_add_segs(&f, 1 + i % 3, 0, 8, &tok[0]);
				k = 1;
			}
			added += k;
			assert_int_equal(vtio_vq_kick(f.vq), 0);
			vtio_vq_get_stats(f.vq, &st);
			assert_int_equal(st.added, added);
			assert_int_equal(st.used, used);
			for (unsigned j = 0; j < k; j++) {
				struct vtio_devq_chain c;
				fx_chain_init(&f, &c);
				assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
				assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
			}
			void *got[2];
			assert_int_equal(vtio_vq_get_used_batch(f.vq, got, NULL, 2), (int)k);
			used += k;
			vtio_vq_get_stats(f.vq, &st);
			assert_int_equal(st.used, used);
		}
		/* Two in flight: added counts them, used does not; detached and
		 * reset, neither count moves, and both go on from there. */
		fx_add_segs(&f, 2, 0, 8, &tok[0]);
		fx_add_segs(&f, 1, 0, 8, &tok[1]);
		added += 2;
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.added, added);
		assert_int_equal(st.used, used);
		assert_non_null(vtio_vq_detach_unused(f.vq));
		assert_non_null(vtio_vq_detach_unused(f.vq));
		assert_null(vtio_vq_detach_unused(f.vq));
		assert_int_equal(vtio_vq_reset(f.vq), 0);
		vtio_devq_reset(f.dq);
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.added, added);
		assert_int_equal(st.used, used);
		struct vtio_sg sg = vtio_sg_of(buf, 16);
		fx_round_trip(&f, &sg, 0, 1, &tok[0], 1);
		vtio_vq_get_stats(f.vq, &st);
		assert_int_equal(st.added, added + 1);
		assert_int_equal(st.used, used + 1);
		fx_teardown(&f);
	}
}

/* vtio_vq_publish(): buffers become visible to a polling device with no
 * notification decision, and a later kick_prepare still decides for every
 * buffer added since the previous kick (a publish must never swallow a
 * notification the device asked for). Both layouts, with and without
 * EVENT_IDX. */
static void test_publish_then_kick(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		for (int ev = 0; ev < 2; ev++) {
			struct fx f;
			uint64_t feat = FX_MODERN | (ev ? VTIO_FEATURE(VTIO_F_EVENT_IDX) : 0);
			assert_int_equal(fx_setup(&f, L, 8, feat, NULL), 0);
			unsigned char *buf = fx_alloc(&f, 64, 16);
			struct vtio_sg sg = vtio_sg_of(buf, 16);
			/* The device asks to be notified (fresh queue). */
			assert_true(vtio_devq_enable_notify(f.dq));
			assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
			assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)2), 0);
			assert_int_equal(vtio_vq_publish(f.vq), 0);
			assert_int_equal(f.kicks, 0);
			if (L == VTIO_LAYOUT_SPLIT) {
				const struct vtio_split_avail *a = f.areas.driver;
				assert_int_equal(vtio_le16(a->idx), 2);
			}
			/* A polling device sees both without any notification. */
			struct vtio_devq_chain c;
			fx_chain_init(&f, &c);
			assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
			fx_chain_init(&f, &c);
			assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
			assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EAGAIN);
			/* Publishing twice is harmless; the kick still notifies. */
			assert_int_equal(vtio_vq_publish(f.vq), 0);
			assert_true(vtio_vq_kick_prepare(f.vq));
			assert_false(vtio_vq_kick_prepare(f.vq));
			struct vtio_vq_stats st;
			vtio_vq_get_stats(f.vq, &st);
			assert_int_equal(st.added, 2);
			fx_teardown(&f);
		}
	}
}

/* ---- One test per remaining split checklist ID ------------------------------------- */

static struct vtio_split_avail *avail_of(struct fx *f)
{
	return (struct vtio_split_avail *)f->areas.driver;
}
static struct vtio_split_used *used_of(struct fx *f)
{
	return (struct vtio_split_used *)f->areas.device;
}
static uint16_t *used_event_of(struct fx *f)
{
	return (uint16_t *)(void *)((unsigned char *)f->areas.driver +
				    vtio_split_used_event_off(f->num));
}
static uint16_t *avail_event_of(struct fx *f)
{
	return (uint16_t *)(void *)((unsigned char *)f->areas.device +
				    vtio_split_avail_event_off(f->num));
}

/* EVT-DRV-1 / EVT-DEV-4: without EVENT_IDX the flags are only ever 0 or 1. */
static void test_evt_drv_1_dev_4_flags_values(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 4, FX_MODERN, NULL), 0);
	for (int i = 0; i < 20; i++) {
		if (i % 3)
			vtio_vq_disable_cb(&*f.vq);
		else
			vtio_vq_enable_cb(f.vq);
		if (i % 2)
			vtio_devq_disable_notify(f.dq);
		else
			vtio_devq_enable_notify(f.dq);
		assert_true(vtio_le16(avail_of(&f)->flags) <= 1);
		assert_true(vtio_le16(used_of(&f)->flags) <= 1);
	}
	fx_teardown(&f);
}

/* EVT-DRV-3 / EVT-DEV-6: spurious notifications are harmless. */
static void test_evt_drv_3_dev_6_spurious(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 4, FX_MODERN, NULL), 0);
	for (int i = 0; i < 3; i++) {
		assert_null(vtio_vq_get_used(f.vq, NULL)); /* interrupt with nothing new */
		assert_true(vtio_vq_enable_cb(f.vq));
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EAGAIN); /* kick with nothing */
		assert_true(vtio_devq_enable_notify(f.dq));
	}
	assert_false(vtio_vq_is_broken(f.vq));
	assert_false(vtio_devq_is_broken(f.dq));
	fx_teardown(&f);
}

/* EVT-DRV-4 / EVT-DEV-1: without EVENT_IDX the event words are ignored.
 * EVT-DRV-6 / EVT-DEV-3: with EVENT_IDX bit 0 of the flags is ignored. */
static void test_evt_drv_4_6_dev_1_3_ignored_fields(void **state)
{
	(void)state;
	struct fx f;
	unsigned char *buf;
	struct vtio_sg sg;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 4, FX_MODERN, NULL), 0);
	buf = fx_alloc(&f, 16, 16);
	sg = vtio_sg_of(buf, 16);
	for (int i = 0; i < 4; i++) {
		*avail_event_of(&f) = vtio_le16(0x1234); /* garbage the driver must ignore */
		*used_event_of(&f) = vtio_le16(0x4321);	 /* garbage the device must ignore */
		assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
		assert_true(vtio_vq_kick_prepare(f.vq)); /* flags 0: must notify (EVT-DRV-5) */
		assert_int_equal(dev_drain(&f, 0), 1);
		assert_true(vtio_devq_notify_prepare(f.dq)); /* flags 0: must notify (EVT-DEV-2) */
		assert_non_null(vtio_vq_get_used(f.vq, NULL));
	}
	fx_teardown(&f);

	assert_int_equal(
	    fx_setup(&f, VTIO_LAYOUT_SPLIT, 4, FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX), NULL),
	    0);
	buf = fx_alloc(&f, 16, 16);
	sg = vtio_sg_of(buf, 16);
	/* avail_event = 0 (initial): the first buffer crosses it; the device's
	 * NO_NOTIFY bit in used->flags must not matter. */
	used_of(&f)->flags = vtio_le16(VTIO_USED_F_NO_NOTIFY);
	assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
	assert_true(vtio_vq_kick_prepare(f.vq));
	assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
	assert_false(vtio_vq_kick_prepare(f.vq)); /* event passed: no kick, flags ignored */
	used_of(&f)->flags = 0;
	assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
	assert_false(vtio_vq_kick_prepare(f.vq)); /* flags 0 does not force one either */
	/* Device side: NO_INTERRUPT in avail->flags is ignored with EVENT_IDX. */
	avail_of(&f)->flags = vtio_le16(VTIO_AVAIL_F_NO_INTERRUPT);
	*used_event_of(&f) = vtio_le16(0);
	struct vtio_devq_chain c;
	fx_chain_init(&f, &c);
	assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
	assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
	assert_true(vtio_devq_notify_prepare(f.dq)); /* used idx 0 -> 1 crosses used_event 0 */
	fx_chain_init(&f, &c);
	assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
	assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
	avail_of(&f)->flags = 0;
	assert_false(vtio_devq_notify_prepare(f.dq)); /* 1 -> 2 does not */
	fx_teardown(&f);
}

/* EVT-DEV-9: the first decision after init or reset notifies unconditionally. */
static void test_evt_dev_9_first_notify(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(
	    fx_setup(&f, VTIO_LAYOUT_SPLIT, 4, FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX), NULL),
	    0);
	unsigned char *buf = fx_alloc(&f, 16, 16);
	struct vtio_sg sg = vtio_sg_of(buf, 16);
	for (int round = 0; round < 2; round++) {
		*used_event_of(&f) = vtio_le16(0x8000); /* far away */
		assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
		vtio_vq_kick_prepare(f.vq);
		assert_int_equal(dev_drain(&f, 0), 1);
		assert_true(vtio_devq_notify_prepare(f.dq));
		assert_non_null(vtio_vq_get_used(f.vq, NULL));
		assert_int_equal(vtio_vq_add(f.vq, &sg, 0, 1, (void *)1), 0);
		vtio_vq_kick_prepare(f.vq);
		assert_int_equal(dev_drain(&f, 0), 1);
		assert_false(vtio_devq_notify_prepare(f.dq));
		assert_non_null(vtio_vq_get_used(f.vq, NULL));
		assert_int_equal(vtio_vq_reset(f.vq), 0);
		vtio_devq_reset(f.dq);
	}
	fx_teardown(&f);
}

/* INDIR-DEV-1: WRITE on the descriptor pointing at a table is ignored.
 * INDIR-DEV-2: direct descriptors followed by one final indirect one. */
static void test_indir_dev_1_2(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 4,
				  FX_MODERN | VTIO_FEATURE(VTIO_F_INDIRECT_DESC), NULL),
			 0);
	unsigned char *buf = fx_alloc(&f, 64, 16);
	struct vtio_split_desc *tbl = fx_alloc(&f, 2 * 16, 16);
	struct vtio_split_desc *d = f.areas.desc;
	/* desc 0: readable 8 bytes, NEXT -> 1; desc 1: INDIRECT|WRITE -> table. */
	d[0].addr = vtio_le64(fx_addr(buf));
	d[0].len = vtio_le32(8);
	d[0].flags = vtio_le16(VTIO_DESC_F_NEXT);
	d[0].next = vtio_le16(1);
	d[1].addr = vtio_le64(fx_addr(tbl));
	d[1].len = vtio_le32(32);
	d[1].flags = vtio_le16(VTIO_DESC_F_INDIRECT | VTIO_DESC_F_WRITE);
	d[1].next = 0;
	tbl[0].addr = vtio_le64(fx_addr(buf + 16));
	tbl[0].len = vtio_le32(8);
	tbl[0].flags = vtio_le16(VTIO_DESC_F_NEXT);
	tbl[0].next = vtio_le16(1);
	tbl[1].addr = vtio_le64(fx_addr(buf + 32));
	tbl[1].len = vtio_le32(16);
	tbl[1].flags = vtio_le16(VTIO_DESC_F_WRITE);
	tbl[1].next = 0;
	uint16_t *ring = (uint16_t *)(void *)((unsigned char *)f.areas.driver + 4);
	ring[0] = 0;
	avail_of(&f)->idx = vtio_le16(1);
	struct vtio_devq_chain c;
	fx_chain_init(&f, &c);
	assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
	assert_int_equal(c.rd_num, 2);
	assert_int_equal(c.wr_num, 1);
	assert_ptr_equal(c.rd[1].ptr, buf + 16);
	assert_int_equal(c.wr_len, 16);
	assert_int_equal(c.ndesc, 2);
	fx_teardown(&f);
}

/* INORD-DRV-1: with IN_ORDER, next = x+1 wrapping to 0 at num-1; allocation
 * in ring order. INORD-DEV-2: the batch's element sits at its first slot. */
static void test_inord_drv_1_dev_2(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(
	    fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, FX_MODERN | VTIO_FEATURE(VTIO_F_IN_ORDER), NULL), 0);
	unsigned char *buf = fx_alloc(&f, 64, 16);
	struct vtio_sg sg[3] = {vtio_sg_of(buf, 8), vtio_sg_of(buf + 8, 8),
				vtio_sg_of(buf + 16, 8)};
	/* Two buffers of 3 descriptors (0-2, 3-5), reaped; then one from 6 wrapping to 0. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(vtio_vq_add(f.vq, sg, 1, 2, (void *)1), 0);
	vtio_vq_kick(f.vq);
	assert_int_equal(dev_drain(&f, 0), 2);
	while (vtio_vq_get_used(f.vq, NULL) != NULL)
		;
	assert_int_equal(vtio_vq_add(f.vq, sg, 1, 2, (void *)2), 0);
	const struct vtio_split_desc *d = f.areas.desc;
	assert_int_equal(vtio_le16(d[6].next), 7);
	assert_int_equal(vtio_le16(d[7].next), 0);
	assert_int_equal(vtio_le16(d[7].flags), VTIO_DESC_F_NEXT | VTIO_DESC_F_WRITE);
	const uint16_t *ring =
	    (const uint16_t *)(const void *)((const unsigned char *)f.areas.driver + 4);
	assert_int_equal(vtio_le16(ring[2]), 6);
	/* Batch of two completions: one element at the batch's first used slot. */
	assert_int_equal(vtio_vq_add(f.vq, sg, 0, 1, (void *)3), 0);
	vtio_vq_kick(f.vq);
	struct vtio_devq_chain c1, c2;
	struct vtio_iov r[4], w[4];
	tc_chain_init(&c1, r, 4, w, 4);
	fx_chain_init(&f, &c2);
	assert_int_equal(vtio_devq_pop(f.dq, &c1), 0);
	assert_int_equal(vtio_devq_pop(f.dq, &c2), 0);
	assert_int_equal(c1.id, 6);
	assert_int_equal(c2.id, 1);
	memset((unsigned char *)f.areas.device + vtio_split_used_ring_off(3), 0xee, 8);
	struct vtio_devq_done u[2] = {{vtio_devq_handle_of(&c1), 16},
				      {vtio_devq_handle_of(&c2), 3}};
	assert_int_equal(vtio_devq_push_batch(f.dq, u, 2), 0);
	const struct vtio_split_used_elem *e =
	    (const void *)((const unsigned char *)f.areas.device + vtio_split_used_ring_off(2));
	assert_int_equal(vtio_le32(e->id), 1);
	assert_int_equal(vtio_le32(e->len), 3);
	assert_int_equal(vtio_le16(used_of(&f)->idx), 4);
	/* The slot after it was not written. */
	assert_int_equal(((const unsigned char *)f.areas.device)[vtio_split_used_ring_off(3)],
			 0xee);
	uint32_t len;
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)2);
	assert_int_equal(len, 16); /* INORD-DRV-4: skipped buffer fully used */
	assert_ptr_equal(vtio_vq_get_used(f.vq, &len), (void *)3);
	assert_int_equal(len, 3);
	fx_teardown(&f);
}

/* SPLIT-DRV-11 (avail idx never decreases), SPLIT-DRV-14 (the driver never
 * writes the used ring after setup), SPLIT-DEV-4 (the device never writes the
 * descriptor table or avail ring), SPLIT-DEV-2 (never writes a readable buffer). */
static void test_split_drv_11_14_dev_2_4(void **state)
{
	(void)state;
	struct fx f;
	struct fx_opts o = {.count = true};
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 8, FX_MODERN, &o), 0);
	uint64_t drv_used_writes = f.drv_count.ranges[2].writes; /* init zeroed it */
	unsigned char *buf = fx_alloc(&f, 64, 16);
	memset(buf, 0x3c, 64);
	uint16_t last_idx = 0;
	for (uint32_t i = 0; i < 70000; i++) {
		struct vtio_sg sg[2] = {vtio_sg_of(buf, 16), vtio_sg_of(buf + 32, 16)};
		assert_int_equal(vtio_vq_add(f.vq, sg, 1, i & 1, (void *)1), 0);
		vtio_vq_kick(f.vq);
		uint16_t idx = vtio_le16(avail_of(&f)->idx);
		assert_int_equal((uint16_t)(idx - last_idx), 1);
		last_idx = idx;
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		unsigned char junk[16];
		memset(junk, 0x99, sizeof(junk));
		assert_int_equal(vtio_devq_write(f.dq, &c, 0, junk, 16), (i & 1) ? 16 : 0);
		assert_int_equal(vtio_devq_push(f.dq, &c, (i & 1) ? 16 : 0), 0);
		vtio_devq_kick(f.dq);
		assert_non_null(vtio_vq_get_used(f.vq, NULL));
		assert_int_equal(buf[0], 0x3c); /* the readable part is untouched */
	}
	assert_int_equal(f.drv_count.ranges[2].writes, drv_used_writes);
	assert_int_equal(f.dev_count.ranges[0].writes, 0);
	assert_int_equal(f.dev_count.ranges[1].writes, 0);
	fx_teardown(&f);
}

/* Randomised operation mix, every layout: buffers of 1..6 segments (direct
 * and indirect), popped in bursts, completed out of order with lengths the
 * device chooses, reaped with their own tokens and lengths; the data the
 * device writes is checked byte by byte. */
static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

struct inflight {
	bool live;
	unsigned nout, nin;
	unsigned char *buf;
	uint32_t wr;
	uint32_t expect_len;
	bool pushed;
};

static void test_random_ops(void **state)
{
	(void)state;
	FX_FOR_EACH_LAYOUT(L)
	{
		for (int variant = 0; variant < 2; variant++) {
			struct fx f;
			struct fx_opts o = {.indirect_tables = variant ? 8 : 0,
					    .indirect_max = 8,
					    .indirect_threshold = 3};
			uint64_t feat = FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX) |
					(variant ? VTIO_FEATURE(VTIO_F_INDIRECT_DESC) : 0);
			const uint32_t num = 16;
			assert_int_equal(fx_setup(&f, L, num, feat, &o), 0);
			static struct inflight fl[64];
			memset(fl, 0, sizeof(fl));
			unsigned char *pool = fx_alloc(&f, 64 * 6 * 16, 16);
			struct vtio_devq_chain popped[64];
			struct vtio_iov prd[64][8], pwr[64][8];
			unsigned npopped = 0;
			uint64_t completed = 0;
			for (int step = 0; step < 40000; step++) {
				unsigned op = rnd() % 4;
				if (op == 0) {
					/* add */
					unsigned slot = rnd() % 64;
					if (fl[slot].live)
						continue;
					unsigned n = 1 + rnd() % 6;
					unsigned nout = rnd() % (n + 1);
					struct vtio_sg sg[6];
					unsigned char *b = pool + (size_t)slot * 6 * 16;
					for (unsigned k = 0; k < n; k++) {
						sg[k] = vtio_sg_of(b + 16 * k, 16);
						memset(b + 16 * k, (int)(k < nout ? 0x10 + k : 0),
						       16);
					}
					int err = vtio_vq_add(f.vq, sg, nout, n - nout, &fl[slot]);
					if (err == VTIO_ENOSPC)
						continue;
					assert_int_equal(err, 0);
					fl[slot].live = true;
					fl[slot].pushed = false;
					fl[slot].nout = nout;
					fl[slot].nin = n - nout;
					fl[slot].buf = b;
					fl[slot].wr = 16 * (n - nout);
				} else if (op == 1) {
					/* publish, then pop a burst */
					vtio_vq_kick_prepare(f.vq);
					unsigned burst = 1 + rnd() % 4;
					for (unsigned k = 0; k < burst && npopped < 64; k++) {
						struct vtio_devq_chain *c = &popped[npopped];
						tc_chain_init(c, prd[npopped], 8, pwr[npopped], 8);
						int err = vtio_devq_pop(f.dq, c);
						if (err == VTIO_EAGAIN)
							break;
						assert_int_equal(err, 0);
						npopped++;
					}
				} else if (op == 2 && npopped > 0) {
					/* complete a random popped chain (out of order) */
					unsigned k = rnd() % npopped;
					struct vtio_devq_chain *c = &popped[k];
					unsigned char hdr[96];
					int64_t rl = vtio_devq_read(f.dq, c, 0, hdr, sizeof(hdr));
					assert_int_equal(rl, (int64_t)c->rd_len);
					for (int64_t i = 0; i < rl; i++)
						assert_int_equal(hdr[i], 0x10 + i / 16);
					uint32_t len =
					    c->wr_len ? (uint32_t)(rnd() % (c->wr_len + 1)) : 0;
					unsigned char fill[96];
					memset(fill, 0xab, sizeof(fill));
					assert_int_equal(vtio_devq_write(f.dq, c, 0, fill, len),
							 len);
					/* Find which buffer this is by its first iov address. */
					assert_int_equal(vtio_devq_push(f.dq, c, len), 0);
					popped[k] = popped[npopped - 1];
					memcpy(prd[k], prd[npopped - 1], sizeof(prd[k]));
					memcpy(pwr[k], pwr[npopped - 1], sizeof(pwr[k]));
					popped[k].rd = prd[k];
					popped[k].wr = pwr[k];
					npopped--;
					vtio_devq_kick(f.dq);
				} else if (op == 3) {
					/* reap */
					uint32_t len;
					struct inflight *t;
					while ((t = vtio_vq_get_used(f.vq, &len)) != NULL) {
						assert_true(t >= fl && t < fl + 64);
						assert_true(t->live);
						assert_true(len <= t->wr);
						for (uint32_t i = 0; i < t->wr; i++)
							assert_int_equal(t->buf[16 * t->nout + i],
									 i < len ? 0xab : 0);
						t->live = false;
						completed++;
					}
				}
			}
			assert_false(vtio_vq_is_broken(f.vq));
			assert_false(vtio_devq_is_broken(f.dq));
			assert_true(completed > 1000);
			fx_teardown(&f);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_area_sizes),
	    cmocka_unit_test(test_init_checks),
	    cmocka_unit_test(test_all_queue_sizes),
	    cmocka_unit_test(test_index_wraparound),
	    cmocka_unit_test(test_chain_lengths),
	    cmocka_unit_test(test_indirect),
	    cmocka_unit_test(test_need_event_vectors),
	    cmocka_unit_test(test_flags_suppression),
	    cmocka_unit_test(test_event_idx),
	    cmocka_unit_test(test_notification_data),
	    cmocka_unit_test(test_wire_bytes),
	    cmocka_unit_test(test_read_free_placement),
	    cmocka_unit_test(test_in_order),
	    cmocka_unit_test(test_hostile_device),
	    cmocka_unit_test(test_devq_capacity_and_push),
	    cmocka_unit_test(test_devq_views),
	    cmocka_unit_test(test_detach_reset),
	    cmocka_unit_test(test_stats_counters),
	    cmocka_unit_test(test_stats_laps_chains),
	    cmocka_unit_test(test_publish_then_kick),
	    cmocka_unit_test(test_evt_drv_1_dev_4_flags_values),
	    cmocka_unit_test(test_evt_drv_3_dev_6_spurious),
	    cmocka_unit_test(test_evt_drv_4_6_dev_1_3_ignored_fields),
	    cmocka_unit_test(test_evt_dev_9_first_notify),
	    cmocka_unit_test(test_indir_dev_1_2),
	    cmocka_unit_test(test_inord_drv_1_dev_2),
	    cmocka_unit_test(test_split_drv_11_14_dev_2_4),
	    cmocka_unit_test(test_random_ops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
