/*
 * What the rings leave in memory, byte by byte, on the host running the
 * test (run on big-endian PowerPC and s390x and on 32-bit i686 by
 * scripts/cross-test.sh). With VIRTIO_F_VERSION_1 every ring field is
 * little-endian (spec 2.7 / 2.8: le16/le32/le64 fields; CHECKLIST
 * SPLIT-DRV and PACKED-DRV descriptor/index encodings); a legacy queue (no
 * VERSION_1) uses the guest's native order (spec 2.7, "legacy interface").
 * The expected bytes are built independently of vtio_le*(): a helper writes
 * a value least significant byte first (or in native order with memcpy), so
 * a byte-order bug cannot cancel itself out as it would in a round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vtio.h"
#include "tc_util.h"

#define QSIZE 8u

static unsigned kicks, irqs;

static int on_kick(void *ctx, uint32_t data)
{
	(void)ctx;
	(void)data;
	kicks++;
	return 0;
}

static int on_irq(void *ctx, uint32_t data)
{
	(void)ctx;
	(void)data;
	irqs++;
	return 0;
}

/* Expected encoding of an n-byte value: little-endian or native. */
static void enc(unsigned char *out, uint64_t v, unsigned n, int legacy)
{
	if (legacy) {
		uint16_t v16 = (uint16_t)v;
		uint32_t v32 = (uint32_t)v;
		if (n == 2)
			memcpy(out, &v16, 2);
		else if (n == 4)
			memcpy(out, &v32, 4);
		else
			memcpy(out, &v, 8);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		out[i] = (unsigned char)(v >> (8 * i));
}

static void assert_field(const void *at, uint64_t v, unsigned n, int legacy)
{
	unsigned char want[8];
	enc(want, v, n, legacy);
	assert_memory_equal(at, want, n);
}

/* Decode a field the same independent way. */
static uint64_t dec(const void *at, unsigned n, int legacy)
{
	const unsigned char *b = at;
	uint64_t v = 0;
	if (legacy) {
		uint16_t v16;
		uint32_t v32;
		if (n == 2) {
			memcpy(&v16, b, 2);
			return v16;
		}
		if (n == 4) {
			memcpy(&v32, b, 4);
			return v32;
		}
		memcpy(&v, b, 8);
		return v;
	}
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

struct rig {
	enum vtio_layout layout;
	int legacy;
	unsigned char *block; /* rings + buffers, one region for the device */
	size_t block_size;
	struct vtio_vq_areas areas;
	struct vtio_vq *vq;
	struct vtio_devq *dq;
	void *vq_state, *dq_state;
	struct vtio_mem_region region;
	struct vtio_mem mem;
	unsigned char *out_buf, *in_buf;
};

static void rig_setup(struct rig *r, enum vtio_layout layout, int legacy)
{
	memset(r, 0, sizeof(*r));
	r->layout = layout;
	r->legacy = legacy;
	size_t ring = vtio_vq_ring_size(layout, QSIZE, 16);
	assert_true(ring > 0);
	r->block_size = ring + 256;
	r->block = aligned_alloc(64, (r->block_size + 63) & ~(size_t)63);
	assert_non_null(r->block);
	memset(r->block, 0xee, r->block_size);
	r->out_buf = r->block + ring + 16;
	r->in_buf = r->block + ring + 128;
	assert_int_equal(
	    vtio_vq_areas_in(layout, QSIZE, 16, r->block, (uint64_t)(uintptr_t)r->block, &r->areas),
	    0);

	uint64_t features = legacy ? 0 : VTIO_FEATURE(VTIO_F_VERSION_1);
	if (layout == VTIO_LAYOUT_PACKED)
		features |= VTIO_FEATURE(VTIO_F_RING_PACKED);

	struct vtio_vq_config vc;
	memset(&vc, 0, sizeof(vc));
	vc.layout = layout;
	vc.num = QSIZE;
	vc.features = features;
	vc.areas = r->areas;
	vc.notify = on_kick;
	size_t vs = vtio_vq_state_size(layout, QSIZE, 0, 0);
	r->vq_state = aligned_alloc(16, (vs + 15) & ~(size_t)15);
	assert_non_null(r->vq_state);
	assert_int_equal(vtio_vq_init(&r->vq, r->vq_state, vs, &vc), 0);

	r->region.addr = (uint64_t)(uintptr_t)r->block;
	r->region.len = r->block_size;
	r->region.host = r->block;
	r->region.perm = VTIO_MEM_RW;
	assert_int_equal(vtio_mem_init(&r->mem, &r->region, 1), 0);
	struct vtio_devq_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.layout = layout;
	dc.num = QSIZE;
	dc.features = features;
	dc.desc_addr = r->areas.desc_addr;
	dc.driver_addr = r->areas.driver_addr;
	dc.device_addr = r->areas.device_addr;
	dc.mem = &r->mem;
	dc.notify = on_irq;
	size_t ds = vtio_devq_state_size(layout, QSIZE);
	r->dq_state = aligned_alloc(16, (ds + 15) & ~(size_t)15);
	assert_non_null(r->dq_state);
	assert_int_equal(vtio_devq_init(&r->dq, r->dq_state, ds, &dc), 0);
}

static void rig_free(struct rig *r)
{
	free(r->block);
	free(r->vq_state);
	free(r->dq_state);
}

/* One request: 0x31 device-readable bytes, 0x42 device-writable bytes; the
 * device answers with 0x21 bytes written. */
#define OUT_LEN 0x31u
#define IN_LEN	0x42u
#define WR_LEN	0x21u

static void drive_one(struct rig *r)
{
	struct vtio_sg sg[2] = {vtio_sg_of(r->out_buf, OUT_LEN), vtio_sg_of(r->in_buf, IN_LEN)};
	assert_int_equal(vtio_vq_add(r->vq, sg, 1, 1, r->in_buf), 0);
	assert_int_equal(vtio_vq_kick(r->vq), 0);
}

static void device_answer(struct rig *r)
{
	struct vtio_iov rd[2], wr[2];
	struct vtio_devq_chain c;
	tc_chain_init(&c, rd, 2, wr, 2);
	assert_int_equal(vtio_devq_pop(r->dq, &c), 0);
	/* The device decoded the driver's bytes back to the right values. */
	assert_int_equal(c.rd_num, 1);
	assert_int_equal(c.wr_num, 1);
	assert_true(c.rd[0].addr == (uint64_t)(uintptr_t)r->out_buf);
	assert_int_equal(c.rd[0].len, OUT_LEN);
	assert_true(c.wr[0].addr == (uint64_t)(uintptr_t)r->in_buf);
	assert_int_equal(c.wr[0].len, IN_LEN);
	assert_int_equal(vtio_devq_push(r->dq, &c, WR_LEN), 0);
}

static void reap(struct rig *r)
{
	uint32_t len = 0;
	assert_ptr_equal(vtio_vq_get_used(r->vq, &len), r->in_buf);
	assert_int_equal(len, WR_LEN);
}

/* Split ring: descriptor table, avail ring, used ring (spec 2.7.5-2.7.8). */
static void check_split(int legacy)
{
	struct rig r;
	rig_setup(&r, VTIO_LAYOUT_SPLIT, legacy);
	drive_one(&r);

	const unsigned char *avail = r.areas.driver;
	assert_field(avail + 2, 1, 2, legacy); /* avail->idx == 1 */
	uint16_t head = (uint16_t)dec(avail + 4, 2, legacy);
	assert_true(head < QSIZE);
	const unsigned char *d = (const unsigned char *)r.areas.desc + 16u * head;
	assert_field(d + 0, (uint64_t)(uintptr_t)r.out_buf, 8, legacy);
	assert_field(d + 8, OUT_LEN, 4, legacy);
	assert_field(d + 12, VTIO_DESC_F_NEXT, 2, legacy);
	uint16_t next = (uint16_t)dec(d + 14, 2, legacy);
	assert_true(next < QSIZE);
	const unsigned char *d2 = (const unsigned char *)r.areas.desc + 16u * next;
	assert_field(d2 + 0, (uint64_t)(uintptr_t)r.in_buf, 8, legacy);
	assert_field(d2 + 8, IN_LEN, 4, legacy);
	assert_field(d2 + 12, VTIO_DESC_F_WRITE, 2, legacy);

	device_answer(&r);
	const unsigned char *used = r.areas.device;
	assert_field(used + 2, 1, 2, legacy);	 /* used->idx == 1 */
	assert_field(used + 4, head, 4, legacy); /* used->ring[0].id (le32) */
	assert_field(used + 8, WR_LEN, 4, legacy);
	reap(&r);
	rig_free(&r);
}

static void test_split_modern_is_little_endian(void **state)
{
	(void)state;
	check_split(0);
}

static void test_split_legacy_is_native(void **state)
{
	(void)state;
	check_split(1);
}

/* Packed ring (spec 2.8.13): the first chain starts at slot 0 with wrap 1. */
static void test_packed_is_little_endian(void **state)
{
	(void)state;
	struct rig r;
	rig_setup(&r, VTIO_LAYOUT_PACKED, 0);
	drive_one(&r);
	const unsigned char *d = r.areas.desc;
	assert_field(d + 0, (uint64_t)(uintptr_t)r.out_buf, 8, 0);
	assert_field(d + 8, OUT_LEN, 4, 0);
	uint16_t id = (uint16_t)dec(d + 12, 2, 0);
	/* First descriptor: AVAIL set, USED clear (wrap 1), NEXT. */
	assert_field(d + 14, VTIO_DESC_F_AVAIL | VTIO_DESC_F_NEXT, 2, 0);
	assert_field(d + 16, (uint64_t)(uintptr_t)r.in_buf, 8, 0);
	assert_field(d + 24, IN_LEN, 4, 0);
	assert_field(d + 30, VTIO_DESC_F_AVAIL | VTIO_DESC_F_WRITE, 2, 0);

	device_answer(&r);
	/* The device writes the used descriptor into slot 0: id, len, AVAIL|USED. */
	assert_field(d + 8, WR_LEN, 4, 0);
	assert_field(d + 12, id, 2, 0);
	/* Flags: AVAIL (bit 7) in the first byte, USED (bit 15) in the second,
	 * as little-endian puts them; WRITE may be set too (DPDK sets it when
	 * len != 0), so only those two bits are checked. */
	assert_int_equal(d[14] & 0x80, 0x80);
	assert_int_equal(d[15] & 0x80, 0x80);
	reap(&r);
	rig_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_modern_is_little_endian),
	    cmocka_unit_test(test_split_legacy_is_native),
	    cmocka_unit_test(test_packed_is_little_endian),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
