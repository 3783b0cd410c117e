/*
 * Port layer byte order: the wire is little-endian on every host
 * (VIRTIO_F_VERSION_1, spec 2.4 / CHECKLIST SPLIT-* and PACKED-* field
 * encodings), so after a store through vtio_le16/32/64 the bytes in memory
 * must be least significant first whatever the CPU. These tests look at the
 * bytes, not at a round trip (a round trip passes even when both directions
 * are wrong), and run on big-endian targets under qemu-user
 * (scripts/cross-test.sh powerpc-linux-gnu / s390x-linux-gnu).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/port.h"
#include "vtio/spec.h"

/* Byte order of this host, found at run time from memory, independent of
 * the compile-time detection in config.h that vtio_le*() relies on. */
static int host_is_big_endian(void)
{
	const uint32_t probe = 0x01020304u;
	unsigned char b[4];
	memcpy(b, &probe, sizeof(b));
	return b[0] == 0x01;
}

static void test_config_matches_runtime_order(void **state)
{
	(void)state;
	assert_int_equal(VTIO_CONFIG_BIG_ENDIAN, host_is_big_endian());
#if defined(VTIO_EXPECT_BIG_ENDIAN)
	/* Set by the cross build for BE targets, so a wrong toolchain cannot pass silently. */
	assert_int_equal(host_is_big_endian(), VTIO_EXPECT_BIG_ENDIAN);
#endif
}

static void test_bswap_values(void **state)
{
	(void)state;
	assert_int_equal(vtio_bswap16(0x1234u), 0x3412u);
	assert_int_equal(vtio_bswap32(0x12345678u), 0x78563412u);
	assert_true(vtio_bswap64(0x0102030405060708ull) == 0x0807060504030201ull);
	assert_true(vtio_bswap64(0xff00000000000000ull) == 0xffull);
}

static void test_le16_bytes_in_memory(void **state)
{
	(void)state;
	uint16_t w = vtio_le16(0xa1b2u);
	unsigned char b[2];
	memcpy(b, &w, sizeof(b));
	assert_int_equal(b[0], 0xb2);
	assert_int_equal(b[1], 0xa1);
	/* Reading back: bytes written LSB first decode to the value. */
	const unsigned char in[2] = {0x34, 0x12};
	uint16_t r;
	memcpy(&r, in, sizeof(r));
	assert_int_equal(vtio_le16(r), 0x1234u);
}

static void test_le32_bytes_in_memory(void **state)
{
	(void)state;
	uint32_t w = vtio_le32(0xa1b2c3d4u);
	unsigned char b[4];
	memcpy(b, &w, sizeof(b));
	assert_int_equal(b[0], 0xd4);
	assert_int_equal(b[1], 0xc3);
	assert_int_equal(b[2], 0xb2);
	assert_int_equal(b[3], 0xa1);
	const unsigned char in[4] = {0x78, 0x56, 0x34, 0x12};
	uint32_t r;
	memcpy(&r, in, sizeof(r));
	assert_int_equal(vtio_le32(r), 0x12345678u);
}

static void test_le64_bytes_in_memory(void **state)
{
	(void)state;
	uint64_t w = vtio_le64(0x0102030405060708ull);
	unsigned char b[8];
	memcpy(b, &w, sizeof(b));
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(b[i], 8 - i);
	const unsigned char in[8] = {0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01};
	uint64_t r;
	memcpy(&r, in, sizeof(r));
	assert_true(vtio_le64(r) == 0x0123456789abcdefull);
}

/*
 * A split descriptor filled the way ring code fills it has the layout of
 * spec 2.7.5 (addr le64 at 0, len le32 at 8, flags le16 at 12, next le16 at
 * 14), byte for byte.
 */
static void test_split_desc_wire_bytes(void **state)
{
	(void)state;
	struct vtio_split_desc d;
	memset(&d, 0, sizeof(d));
	d.addr = vtio_le64(0x1122334455667788ull);
	d.len = vtio_le32(0x00001000u);
	d.flags = vtio_le16(VTIO_DESC_F_NEXT | VTIO_DESC_F_WRITE);
	d.next = vtio_le16(0x0102u);
	assert_int_equal(sizeof(d), 16);
	const unsigned char want[16] = {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
					0x00, 0x10, 0x00, 0x00, 0x03, 0x00, 0x02, 0x01};
	assert_memory_equal(&d, want, sizeof(want));
}

/* Packed descriptor (spec 2.8.13): addr le64, len le32, id le16, flags le16. */
static void test_packed_desc_wire_bytes(void **state)
{
	(void)state;
	struct vtio_packed_desc d;
	memset(&d, 0, sizeof(d));
	d.addr = vtio_le64(0xdeadbeefcafef00dull);
	d.len = vtio_le32(0x11223344u);
	d.id = vtio_le16(0x5566u);
	d.flags = vtio_le16(VTIO_DESC_F_AVAIL);
	assert_int_equal(sizeof(d), 16);
	const unsigned char want[16] = {0x0d, 0xf0, 0xfe, 0xca, 0xef, 0xbe, 0xad, 0xde,
					0x44, 0x33, 0x22, 0x11, 0x66, 0x55, 0x80, 0x00};
	assert_memory_equal(&d, want, sizeof(want));
}

/* Used element (spec 2.7.8): id le32, len le32; event struct: off_wrap le16, flags le16. */
static void test_used_elem_and_event_wire_bytes(void **state)
{
	(void)state;
	struct vtio_split_used_elem e;
	e.id = vtio_le32(7);
	e.len = vtio_le32(0x0100u);
	const unsigned char want_e[8] = {7, 0, 0, 0, 0x00, 0x01, 0, 0};
	assert_memory_equal(&e, want_e, sizeof(want_e));

	struct vtio_packed_event ev;
	ev.off_wrap = vtio_le16((uint16_t)(0x8000u | 5u));
	ev.flags = vtio_le16(VTIO_RING_EVENT_FLAGS_DESC);
	const unsigned char want_ev[4] = {0x05, 0x80, 0x02, 0x00};
	assert_memory_equal(&ev, want_ev, sizeof(want_ev));
}

/* The ring-index accessors move raw wire values: no conversion inside. */
static void test_index_accessors_keep_wire_order(void **state)
{
	(void)state;
	struct vtio_split_avail a;
	memset(&a, 0, sizeof(a));
	VTIO_STORE_RELEASE16(&a.idx, vtio_le16(0x0201u));
	const unsigned char *p = (const unsigned char *)&a.idx;
	assert_int_equal(p[0], 0x01);
	assert_int_equal(p[1], 0x02);
	assert_int_equal(vtio_le16(VTIO_LOAD_ACQUIRE16(&a.idx)), 0x0201u);
	VTIO_WRITE_ONCE16(&a.flags, vtio_le16(VTIO_AVAIL_F_NO_INTERRUPT));
	assert_int_equal(((const unsigned char *)&a.flags)[0], VTIO_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(vtio_le16(VTIO_READ_ONCE16(&a.flags)), VTIO_AVAIL_F_NO_INTERRUPT);

	uint32_t w = 0;
	VTIO_WRITE_ONCE32(&w, vtio_le32(0x0a0b0c0du));
	assert_int_equal(((const unsigned char *)&w)[0], 0x0d);
	assert_int_equal(vtio_le32(VTIO_READ_ONCE32(&w)), 0x0a0b0c0du);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_matches_runtime_order),
	    cmocka_unit_test(test_bswap_values),
	    cmocka_unit_test(test_le16_bytes_in_memory),
	    cmocka_unit_test(test_le32_bytes_in_memory),
	    cmocka_unit_test(test_le64_bytes_in_memory),
	    cmocka_unit_test(test_split_desc_wire_bytes),
	    cmocka_unit_test(test_packed_desc_wire_bytes),
	    cmocka_unit_test(test_used_elem_and_event_wire_bytes),
	    cmocka_unit_test(test_index_accessors_keep_wire_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
