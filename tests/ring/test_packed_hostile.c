/* Hostile peers of the packed ring.
 *
 * Hostile driver: a table of malicious descriptor rings written by hand
 * against the device side (vtio_devq, packed). Each case expects its
 * specific error, a broken queue with a reason, VTIO_EIO afterwards, and no
 * access outside the view (run under ASan/UBSan).
 *
 * Hostile device: used descriptors written by hand against the driver side
 * (vtio_vq, packed): wrong wrap bits, ids out of range, ids not in flight, a
 * used descriptor for a buffer never made available, len larger than the
 * writable size, len without WRITE. The driver never crashes, never returns
 * a wrong or repeated token, and every token not returned comes back once
 * through vtio_vq_detach_unused().
 *
 * Checklist: PACKED-DEV-4/9/10, PACKED-DRV-5/10/12/14/15/16, INDIR-DRV-1/8,
 * INDIR-DEV-3/4, CHECKLIST 3.2, 3.3, 3.7, 3.10, 3.18. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/vq.h"
#include "vtio/devq.h"
#include "hostile_ring.h"
#include "ring_fixture.h"

#define AV    VTIO_DESC_F_AVAIL
#define US    VTIO_DESC_F_USED
#define NEXT  VTIO_DESC_F_NEXT
#define WR    VTIO_DESC_F_WRITE
#define INDIR VTIO_DESC_F_INDIRECT

/* ---- Hostile driver ------------------------------------------------------------------ */

#define BASE  0x10000000ull /* driver address of the arena */
#define ASIZE 65536u
#define RING  0x0000u /* offsets in the arena */
#define DRVEV 0x1000u
#define DEVEV 0x1010u
#define TABLE 0x2000u
#define DATA  0x4000u

static void hd_setup(struct hr_dev *h, uint32_t num, uint64_t features, uint32_t max_indirect,
		     bool huge)
{
	struct hr_dev_config c = {.layout = VTIO_LAYOUT_PACKED,
				  .num = num,
				  .features = features,
				  .max_indirect = max_indirect,
				  .base = BASE,
				  .size = ASIZE,
				  .desc_off = RING,
				  .driver_off = DRVEV,
				  .device_off = DEVEV,
				  .huge = huge};
	hr_dev_setup(h, &c);
}

/* Descriptor @slot of the ring. */
static void ring_desc(struct hr_dev *h, uint32_t slot, uint64_t addr, uint32_t len, uint16_t id,
		      uint16_t flags)
{
	hr_put_pdesc(h->mem + RING + slot * 16u, addr, len, id, flags);
}

static void table_desc(struct hr_dev *h, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags)
{
	hr_put_pdesc(h->mem + TABLE + i * 16u, addr, len, 0, flags);
}

/* One case: build a ring, expect @err from the first pop (0: no error). */
struct hcase {
	const char *name;
	uint32_t num;
	uint64_t features;
	uint32_t max_indirect;
	bool huge;
	int err;
	void (*build)(struct hr_dev *h);
};

#define D(x) (BASE + DATA + (x))

static void b_ok_chain(struct hr_dev *h)
{
	ring_desc(h, 0, D(0), 16, 0, AV | NEXT);
	ring_desc(h, 1, D(16), 16, 2, AV | WR);
}
/* 2nd descriptor of the list carries the wrong lap's bits. */
static void b_wrong_wrap_in_list(struct hr_dev *h)
{
	ring_desc(h, 0, D(0), 16, 0, AV | NEXT);
	ring_desc(h, 1, D(16), 16, 1, US | WR);
}
/* 2nd descriptor not made available at all (flags 0). */
static void b_list_not_avail(struct hr_dev *h)
{
	ring_desc(h, 0, D(0), 16, 0, AV | NEXT);
	ring_desc(h, 1, D(16), 16, 1, 0);
}
/* Every descriptor has NEXT: a list longer than the queue. */
static void b_list_too_long(struct hr_dev *h)
{
	for (uint32_t i = 0; i < h->num; i++)
		ring_desc(h, i, D(i * 8u), 8, 0, AV | NEXT);
}
/* Buffer id out of range in the last descriptor. */
static void b_id_range(struct hr_dev *h)
{
	ring_desc(h, 0, D(0), 16, 0, AV | NEXT);
	ring_desc(h, 1, D(16), 16, (uint16_t)h->num, AV);
}
static void b_id_ffff(struct hr_dev *h)
{
	ring_desc(h, 0, D(0), 16, 0xffff, AV);
}
static void b_addr_outside(struct hr_dev *h)
{
	ring_desc(h, 0, BASE + ASIZE, 16, 0, AV);
}
static void b_addr_straddles_end(struct hr_dev *h)
{
	ring_desc(h, 0, BASE + ASIZE - 8, 16, 0, AV);
}
static void b_addr_wraps(struct hr_dev *h)
{
	ring_desc(h, 0, 0xfffffffffffffff0ull, 0x20, 0, AV);
}
static void b_rd_after_wr(struct hr_dev *h)
{
	ring_desc(h, 0, D(0), 16, 0, AV | WR | NEXT);
	ring_desc(h, 1, D(16), 16, 0, AV);
}
static void b_overflow(struct hr_dev *h)
{
	ring_desc(h, 0, 0x100000000ull, 0x80000001u, 0, AV | NEXT);
	ring_desc(h, 1, 0x200000000ull, 0x80000000u, 0, AV);
}
static void b_indirect_no_feature(struct hr_dev *h)
{
	table_desc(h, 0, D(0), 16, 0);
	ring_desc(h, 0, BASE + TABLE, 16, 0, AV | INDIR);
}
static void b_indirect_ok(struct hr_dev *h)
{
	table_desc(h, 0, D(0), 16, NEXT); /* NEXT inside a table: ignored (INDIR-DEV-3) */
	table_desc(h, 1, D(16), 16, WR);
	ring_desc(h, 0, BASE + TABLE, 32, 1, AV | INDIR | WR); /* WRITE ignored */
}
static void b_indirect_next(struct hr_dev *h)
{
	table_desc(h, 0, D(0), 16, 0);
	ring_desc(h, 0, BASE + TABLE, 16, 0, AV | INDIR | NEXT);
	ring_desc(h, 1, D(16), 16, 0, AV);
}
static void b_indirect_in_list(struct hr_dev *h)
{
	table_desc(h, 0, D(0), 16, 0);
	ring_desc(h, 0, D(16), 16, 0, AV | NEXT);
	ring_desc(h, 1, BASE + TABLE, 16, 0, AV | INDIR);
}
static void b_indirect_nested(struct hr_dev *h)
{
	table_desc(h, 0, D(0), 16, 0);
	table_desc(h, 1, BASE + TABLE, 32, INDIR);
	ring_desc(h, 0, BASE + TABLE, 32, 0, AV | INDIR);
}
static void b_indirect_len_odd(struct hr_dev *h)
{
	ring_desc(h, 0, BASE + TABLE, 24, 0, AV | INDIR);
}
static void b_indirect_len_zero(struct hr_dev *h)
{
	ring_desc(h, 0, BASE + TABLE, 0, 0, AV | INDIR);
}
static void b_indirect_too_big(struct hr_dev *h)
{
	ring_desc(h, 0, BASE + TABLE, 16u * 9u, 0, AV | INDIR); /* policy: 8 */
}
static void b_indirect_outside(struct hr_dev *h)
{
	ring_desc(h, 0, BASE + ASIZE - 16, 64, 0, AV | INDIR);
}
static void b_indirect_entry_outside(struct hr_dev *h)
{
	table_desc(h, 0, D(0), 16, 0);
	table_desc(h, 1, 0x7000000000ull, 16, WR);
	ring_desc(h, 0, BASE + TABLE, 32, 0, AV | INDIR);
}
static void b_indirect_rd_after_wr(struct hr_dev *h)
{
	table_desc(h, 0, D(0), 16, WR);
	table_desc(h, 1, D(16), 16, 0);
	ring_desc(h, 0, BASE + TABLE, 32, 0, AV | INDIR);
}
/* A used-looking descriptor (AVAIL=USED=1) in lap 0: nothing available. */
static void b_used_bits(struct hr_dev *h)
{
	ring_desc(h, 0, D(0), 16, 0, AV | US);
}
/* Lap-1 bits in lap 0 (AVAIL=0, USED=1): nothing available. */
static void b_next_lap_bits(struct hr_dev *h)
{
	ring_desc(h, 0, D(0), 16, 0, US);
}
/* Zero-length descriptor: legal, carries nothing. */
static void b_zero_len(struct hr_dev *h)
{
	ring_desc(h, 0, D(0), 0, 0, AV | NEXT);
	ring_desc(h, 1, D(0), 8, 0, AV | WR);
}

static const struct hcase hcases[] = {
    {"ok chain", 4, 0, 0, false, 0, b_ok_chain},
    {"wrong wrap bits inside a list", 4, 0, 0, false, VTIO_EPROTO, b_wrong_wrap_in_list},
    {"list descriptor not available", 4, 0, 0, false, VTIO_EPROTO, b_list_not_avail},
    {"list longer than the queue", 4, 0, 0, false, VTIO_ELOOP, b_list_too_long},
    {"list longer than the queue (num 1)", 1, 0, 0, false, VTIO_ELOOP, b_list_too_long},
    {"list longer than the queue (num 3)", 3, 0, 0, false, VTIO_ELOOP, b_list_too_long},
    {"buffer id = num", 4, 0, 0, false, VTIO_ERANGE, b_id_range},
    {"buffer id 0xffff", 7, 0, 0, false, VTIO_ERANGE, b_id_ffff},
    {"address outside the view", 4, 0, 0, false, VTIO_EFAULT, b_addr_outside},
    {"buffer straddles the view's end", 4, 0, 0, false, VTIO_EFAULT, b_addr_straddles_end},
    {"address wraps past 2^64", 4, 0, 0, false, VTIO_EFAULT, b_addr_wraps},
    {"readable after writable", 4, 0, 0, false, VTIO_EBADMSG, b_rd_after_wr},
    {"total length over 4 GiB", 4, 0, 0, true, VTIO_EOVERFLOW, b_overflow},
    {"INDIRECT without the feature", 4, 0, 0, false, VTIO_EPROTO, b_indirect_no_feature},
    {"indirect ok (NEXT and WRITE ignored)", 4, VTIO_FEATURE(VTIO_F_INDIRECT_DESC), 8, false, 0,
     b_indirect_ok},
    {"INDIRECT with NEXT", 4, VTIO_FEATURE(VTIO_F_INDIRECT_DESC), 8, false, VTIO_EBADMSG,
     b_indirect_next},
    {"INDIRECT inside a NEXT list", 4, VTIO_FEATURE(VTIO_F_INDIRECT_DESC), 8, false, VTIO_EBADMSG,
     b_indirect_in_list},
    {"nested indirect", 4, VTIO_FEATURE(VTIO_F_INDIRECT_DESC), 8, false, VTIO_EBADMSG,
     b_indirect_nested},
    {"indirect len not a multiple of 16", 4, VTIO_FEATURE(VTIO_F_INDIRECT_DESC), 8, false,
     VTIO_EBADMSG, b_indirect_len_odd},
    {"indirect len 0", 4, VTIO_FEATURE(VTIO_F_INDIRECT_DESC), 8, false, VTIO_EBADMSG,
     b_indirect_len_zero},
    {"indirect table over the policy", 4, VTIO_FEATURE(VTIO_F_INDIRECT_DESC), 8, false, VTIO_E2BIG,
     b_indirect_too_big},
    {"indirect table outside the view", 4, VTIO_FEATURE(VTIO_F_INDIRECT_DESC), 8, false,
     VTIO_EFAULT, b_indirect_outside},
    {"indirect entry outside the view", 4, VTIO_FEATURE(VTIO_F_INDIRECT_DESC), 8, false,
     VTIO_EFAULT, b_indirect_entry_outside},
    {"indirect readable after writable", 4, VTIO_FEATURE(VTIO_F_INDIRECT_DESC), 8, false,
     VTIO_EBADMSG, b_indirect_rd_after_wr},
    {"used bits on the head", 4, 0, 0, false, VTIO_EAGAIN, b_used_bits},
    {"next lap's bits on the head", 4, 0, 0, false, VTIO_EAGAIN, b_next_lap_bits},
    {"zero-length descriptor", 4, 0, 0, false, 0, b_zero_len},
};

/* PACKED-DEV-4/9, INDIR-DEV-3/4, 3.7, 3.10, 3.18: each malicious ring gives
 * its specific error and a broken queue; legal rings pass. */
static void test_hostile_driver_corpus(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(hcases) / sizeof(hcases[0]); k++) {
		const struct hcase *hc = &hcases[k];
		if (hc->huge && sizeof(void *) < 8)
			continue; /* a 16 GiB view region needs a 64-bit host */
		struct hr_dev h;
		hd_setup(&h, hc->num, hc->features, hc->max_indirect, hc->huge);
		hc->build(&h);
		struct vtio_devq_chain c;
		struct vtio_iov rd[8], wr[8];
		int err = hr_pop(h.q, &c, rd, 8, wr, 8);
		if (err != hc->err)
			fail_msg("case '%s': got %d (%s), expected %d", hc->name, err,
				 vtio_strerror(err), hc->err);
		if (err == 0 || err == VTIO_EAGAIN) {
			assert_false(vtio_devq_is_broken(h.q));
			assert_null(vtio_devq_broken_reason(h.q));
		} else {
			assert_true(vtio_devq_is_broken(h.q));
			assert_non_null(vtio_devq_broken_reason(h.q));
			/* broken stays broken */
			assert_int_equal(hr_pop(h.q, &c, rd, 8, wr, 8), VTIO_EIO);
			assert_false(vtio_devq_more_avail(h.q));
			struct vtio_devq_done u = {{0, 1, 0}, 0};
			assert_int_equal(vtio_devq_push_batch(h.q, &u, 1), VTIO_EIO);
		}
		hr_dev_teardown(&h);
	}
}

/* ENOBUFS: arrays too small consume nothing and do not break the queue. */
static void test_hostile_driver_enobufs(void **state)
{
	(void)state;
	struct hr_dev h;
	hd_setup(&h, 4, 0, 0, false);
	ring_desc(&h, 0, D(0), 8, 0, AV | NEXT);
	ring_desc(&h, 1, D(8), 8, 0, AV | NEXT);
	ring_desc(&h, 2, D(16), 8, 3, AV);
	struct vtio_devq_chain c;
	struct vtio_iov rd[3], wr[1];
	assert_int_equal(hr_pop(h.q, &c, rd, 1, wr, 1), VTIO_ENOBUFS);
	assert_false(vtio_devq_is_broken(h.q));
	assert_true(vtio_devq_more_avail(h.q));
	assert_int_equal(hr_pop(h.q, &c, rd, 3, wr, 3), 0);
	assert_int_equal(c.rd_num, 3);
	assert_int_equal(c.id, 3);
	assert_int_equal(c.ndesc, 3);
	hr_dev_teardown(&h);
}

/* PACKED-DRV-5 seen from the device: a driver that makes a slot available
 * again before the device used it (the ring would hold more than num
 * descriptors in flight) breaks the queue instead of being trusted. */
static void test_hostile_driver_overrun(void **state)
{
	(void)state;
	struct hr_dev h;
	hd_setup(&h, 2, 0, 0, false);
	ring_desc(&h, 0, D(0), 8, 0, AV);
	ring_desc(&h, 1, D(8), 8, 1, AV);
	struct vtio_devq_chain c;
	struct vtio_iov rd[2], wr[2];
	assert_int_equal(hr_pop(h.q, &c, rd, 2, wr, 2), 0);
	assert_int_equal(hr_pop(h.q, &c, rd, 2, wr, 2), 0);
	/* Lap 1 bits on slot 0 while both are still outstanding. */
	ring_desc(&h, 0, D(0), 8, 0, US);
	assert_int_equal(hr_pop(h.q, &c, rd, 2, wr, 2), VTIO_EPROTO);
	assert_true(vtio_devq_is_broken(h.q));
	hr_dev_teardown(&h);
}

/* A chain that wraps: slots num-1 then 0 with the flipped bits is legal;
 * the same chain with lap-0 bits on slot 0 is not. */
static void test_hostile_driver_wrap_list(void **state)
{
	(void)state;
	for (int bad = 0; bad < 2; bad++) {
		struct hr_dev h;
		hd_setup(&h, 3, 0, 0, false);
		struct vtio_devq_chain c;
		struct vtio_iov rd[4], wr[4];
		ring_desc(&h, 0, D(0), 8, 0, AV);
		ring_desc(&h, 1, D(0), 8, 1, AV);
		assert_int_equal(hr_pop(h.q, &c, rd, 4, wr, 4), 0);
		struct vtio_devq_done u = {{0, 1, 0}, 0};
		assert_int_equal(vtio_devq_push_batch(h.q, &u, 1), 0);
		assert_int_equal(hr_pop(h.q, &c, rd, 4, wr, 4), 0);
		u.h.id = 1;
		assert_int_equal(vtio_devq_push_batch(h.q, &u, 1), 0);
		ring_desc(&h, 2, D(0), 8, 0, AV | NEXT);
		ring_desc(&h, 0, D(8), 8, 0, bad ? (uint16_t)AV : (uint16_t)US);
		int err = hr_pop(h.q, &c, rd, 4, wr, 4);
		assert_int_equal(err, bad ? VTIO_EPROTO : 0);
		if (!bad)
			assert_int_equal(c.ndesc, 2);
		hr_dev_teardown(&h);
	}
}

/* Push more than was popped: a caller bug, refused without breaking. */
static void test_hostile_driver_push_unpopped(void **state)
{
	(void)state;
	struct hr_dev h;
	hd_setup(&h, 4, 0, 0, false);
	struct vtio_devq_done u = {{0, 1, 0}, 0};
	assert_int_equal(vtio_devq_push_batch(h.q, &u, 1), VTIO_EINVAL);
	assert_false(vtio_devq_is_broken(h.q));
	hr_dev_teardown(&h);
}

/* A view that forbids writing the descriptor ring: init refuses the queue
 * (the packed device writes used descriptors there). */
static void test_hostile_driver_ro_ring(void **state)
{
	(void)state;
	unsigned char *arena = aligned_alloc(4096, ASIZE);
	struct vtio_mem_region reg[2] = {
	    {BASE, 0x1000, arena, VTIO_MEM_READ},
	    {BASE + 0x1000, ASIZE - 0x1000, arena + 0x1000, VTIO_MEM_RW},
	};
	struct vtio_mem m;
	assert_int_equal(vtio_mem_init(&m, reg, 2), 0);
	struct vtio_devq_config c;
	memset(&c, 0, sizeof(c));
	c.layout = VTIO_LAYOUT_PACKED;
	c.num = 4;
	c.features = VTIO_FEATURE(VTIO_F_VERSION_1);
	c.desc_addr = BASE + RING;
	c.driver_addr = BASE + DRVEV;
	c.device_addr = BASE + DEVEV;
	c.mem = &m;
	c.notify = tc_notify_count;
	unsigned irqs = 0;
	c.notify_ctx = &irqs;
	size_t sz = vtio_devq_state_size(VTIO_LAYOUT_PACKED, 4);
	void *st = aligned_alloc(16, (sz + 15) & ~(size_t)15);
	struct vtio_devq *q;
	assert_int_equal(vtio_devq_init(&q, st, sz, &c), VTIO_EFAULT);
	free(st);
	free(arena);
}

/* ---- Hostile device ------------------------------------------------------------------ */

/* PACKED-DRV-14: id out of range breaks the queue, no token. */
static void test_hostile_device_id_range(void **state)
{
	(void)state;
	static const uint16_t bad[] = {8, 9, 0x7fff, 0xffff};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hr_drv *v = hr_drv_setup(VTIO_LAYOUT_PACKED, 8, 0, 0, 16);
		(void)hr_add(v, 1, 1);
		hr_pused(v, bad[i], 16, 2);
		assert_null(hr_take(v, NULL));
		assert_true(vtio_vq_is_broken(v->vq));
		assert_non_null(vtio_vq_broken_reason(v->vq));
		struct vtio_sg sg = vtio_sg_of(v->data[1][0], 16);
		assert_int_equal(vtio_vq_add(v->vq, &sg, 1, 0, &v->tok[1]), VTIO_EIO);
		hr_finish(v);
	}
}

/* An id in range that names no buffer (never made available), or the
 * second entry of a chain (not a buffer id), breaks the queue. */
static void test_hostile_device_id_not_inflight(void **state)
{
	(void)state;
	struct hr_drv *v = hr_drv_setup(VTIO_LAYOUT_PACKED, 8, 0, 0, 16);
	(void)hr_add(v, 1, 1);
	(void)hr_add(v, 1, 1);
	uint16_t never = 0;
	while (never == v->head[0] || never == v->head[1])
		never++;
	hr_pused_flags(v, never, 0, hr_used_bits(v), 2);
	assert_null(hr_take(v, NULL));
	assert_true(vtio_vq_is_broken(v->vq));
	hr_finish(v);

	/* The id of a chain's second entry: ids are consumed one per slot, so
	 * that id is taken but is not a buffer. */
	v = hr_drv_setup(VTIO_LAYOUT_PACKED, 8, 0, 0, 16);
	(void)hr_add(v, 1, 1);
	uint16_t second = (uint16_t)((v->head[0] + 1u) % 8u);
	hr_pused_flags(v, second, 0, hr_used_bits(v), 2);
	assert_null(hr_take(v, NULL));
	assert_true(vtio_vq_is_broken(v->vq));
	hr_finish(v);
}

/* Completing the same buffer twice: the second is "not in flight". */
static void test_hostile_device_duplicate(void **state)
{
	(void)state;
	struct hr_drv *v = hr_drv_setup(VTIO_LAYOUT_PACKED, 8, 0, 0, 16);
	(void)hr_add(v, 1, 1);
	(void)hr_add(v, 1, 1);
	hr_pused(v, v->head[0], 16, 2);
	hr_pused(v, v->head[0], 16, 2);
	assert_ptr_equal(hr_take(v, NULL), &v->tok[0]);
	assert_null(hr_take(v, NULL));
	assert_true(vtio_vq_is_broken(v->vq));
	hr_finish(v);
}

/* Wrong wrap bits: not used yet (no token, not broken); the ring stalls
 * rather than returning anything wrong. */
static void test_hostile_device_wrong_wrap(void **state)
{
	(void)state;
	static const uint16_t flags[] = {AV, US, 0, US | WR, AV | WR};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct hr_drv *v = hr_drv_setup(VTIO_LAYOUT_PACKED, 8, 0, 0, 16);
		(void)hr_add(v, 1, 1);
		hr_pused_flags(v, v->head[0], 16, flags[i], 2);
		assert_false(vtio_vq_more_used(v->vq));
		assert_null(hr_take(v, NULL));
		assert_false(vtio_vq_is_broken(v->vq));
		/* The correct bits then work. */
		v->used_slot = 0;
		v->used_wrap = true;
		hr_pused(v, v->head[0], 16, 2);
		assert_true(vtio_vq_more_used(v->vq));
		assert_ptr_equal(hr_take(v, NULL), &v->tok[0]);
		hr_finish(v);
	}
}

/* Used len policy (CHECKLIST 3.3, PACKED-DRV-15/16): len is taken whether
 * WRITE is set or not (QEMU never sets it), and clamped to the writable
 * size when larger (counted in the stats). */
static void test_hostile_device_len(void **state)
{
	(void)state;
	struct hr_drv *v = hr_drv_setup(VTIO_LAYOUT_PACKED, 8, 0, 0, 16);
	for (unsigned k = 0; k < 4; k++)
		(void)hr_add(v, 1, 1);
	uint32_t len;
	hr_pused_flags(v, v->head[0], 10, hr_used_bits(v), 2); /* no WRITE: QEMU style */
	assert_ptr_equal(hr_take(v, &len), &v->tok[0]);
	assert_int_equal(len, 10);
	hr_pused(v, v->head[1], 17, 2); /* one more than writable */
	assert_ptr_equal(hr_take(v, &len), &v->tok[1]);
	assert_int_equal(len, 16);
	hr_pused(v, v->head[2], 0xffffffffu, 2);
	assert_ptr_equal(hr_take(v, &len), &v->tok[2]);
	assert_int_equal(len, 16);
	hr_pused_flags(v, v->head[3], 16, hr_used_bits(v) | WR | NEXT | INDIR,
		       2); /* reserved bits */
	assert_ptr_equal(hr_take(v, &len), &v->tok[3]);
	assert_int_equal(len, 16);
	struct vtio_vq_stats st;
	vtio_vq_get_stats(v->vq, &st);
	assert_int_equal(st.len_clamped, 2);
	assert_false(vtio_vq_is_broken(v->vq));
	hr_finish(v);
}

/* IN_ORDER: a device that completes out of order (an older buffer after a
 * batch that already covered it) is refused. */
static void test_hostile_device_in_order(void **state)
{
	(void)state;
	struct hr_drv *v =
	    hr_drv_setup(VTIO_LAYOUT_PACKED, 8, VTIO_FEATURE(VTIO_F_IN_ORDER), 0, 16);
	for (unsigned k = 0; k < 3; k++)
		(void)hr_add(v, 1, 1);
	/* in order, the id is the head slot */
	assert_int_equal(v->head[0], 0);
	assert_int_equal(v->head[1], 2);
	assert_int_equal(v->head[2], 4);
	/* batch of buffers 0 and 1: one used descriptor with id 2 at slot 0 */
	hr_pused(v, 2, 5, 4);
	uint32_t len;
	assert_ptr_equal(hr_take(v, &len), &v->tok[0]);
	assert_int_equal(len, 16); /* skipped buffer: fully written (INORD-DRV-4) */
	assert_ptr_equal(hr_take(v, &len), &v->tok[1]);
	assert_int_equal(len, 5);
	/* now buffer 0 again: out of order */
	hr_pused(v, 0, 5, 2);
	assert_null(hr_take(v, NULL));
	assert_true(vtio_vq_is_broken(v->vq));
	hr_finish(v);

	/* A used id that is in flight but not a head of the in-flight sequence
	 * (odd slot = second descriptor of a buffer). */
	v = hr_drv_setup(VTIO_LAYOUT_PACKED, 8, VTIO_FEATURE(VTIO_F_IN_ORDER), 0, 16);
	(void)hr_add(v, 1, 1);
	(void)hr_add(v, 1, 1);
	hr_pused(v, 1, 5, 2);
	assert_null(hr_take(v, NULL));
	assert_true(vtio_vq_is_broken(v->vq));
	hr_finish(v);
}

/* A device gone mad: random used descriptors over many rounds. The driver
 * never returns an unknown or repeated token; detach returns the rest. */
static void test_hostile_device_random(void **state)
{
	(void)state;
	uint64_t rng = 42;
	for (int round = 0; round < 400; round++) {
		uint64_t feat = (round & 1) ? VTIO_FEATURE(VTIO_F_IN_ORDER) : 0;
		struct hr_drv *v = hr_drv_setup(VTIO_LAYOUT_PACKED, 8, feat, 0, 16);
		for (unsigned k = 0; k < 4; k++)
			(void)hr_add(v, 1, 1);
		for (int s = 0; s < 12 && !vtio_vq_is_broken(v->vq); s++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			uint32_t r = (uint32_t)(rng >> 33);
			uint16_t id = (uint16_t)(r % 10u);
			uint16_t fl = (uint16_t)(((r >> 4) & 1 ? AV : 0) | ((r >> 5) & 1 ? US : 0) |
						 ((r >> 6) & 1 ? WR : 0));
			hr_pused_flags(v, id, r >> 7, fl, 1 + ((r >> 8) & 3));
			uint32_t len;
			while (hr_take(v, &len) != NULL)
				assert_true(len <= 16);
		}
		hr_finish(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hostile_driver_corpus),
	    cmocka_unit_test(test_hostile_driver_enobufs),
	    cmocka_unit_test(test_hostile_driver_overrun),
	    cmocka_unit_test(test_hostile_driver_wrap_list),
	    cmocka_unit_test(test_hostile_driver_push_unpopped),
	    cmocka_unit_test(test_hostile_driver_ro_ring),
	    cmocka_unit_test(test_hostile_device_id_range),
	    cmocka_unit_test(test_hostile_device_id_not_inflight),
	    cmocka_unit_test(test_hostile_device_duplicate),
	    cmocka_unit_test(test_hostile_device_wrong_wrap),
	    cmocka_unit_test(test_hostile_device_len),
	    cmocka_unit_test(test_hostile_device_in_order),
	    cmocka_unit_test(test_hostile_device_random),
	};
	return FX_RUN_PACKED_ONLY(tests);
}
