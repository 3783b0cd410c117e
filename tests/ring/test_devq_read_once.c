/* Read-once test of the device side: every byte of every descriptor (ring
 * slot, indirect table entry) and of the avail ring is read from driver
 * memory at most once per vtio_devq_pop(), and every byte the chain is made
 * of at least once (so the counting is seen to work). A second read would
 * let a driver that rewrites the ring between the two reads make the device
 * use a value it did not check (TOCTOU; Linux vringh and DPDK's
 * CVE-2020-14375 are why: SPLIT-DEV-4, INDIR-DEV-1, PACKED-DEV-9).
 *
 * Reads are counted per byte of the driver-memory arena:
 *  - through accessor ops, by the ops themselves (the library cannot read
 *    around them);
 *  - through local pointers (region views), by the ring sources compiled
 *    into this program with VTIO__TEST_PEER_FETCH: every device-side read of
 *    peer memory through a pointer names its bytes (ring_internal.h).
 *
 * The same program is built three times (tests/ring/CMakeLists.txt): with
 * the default options, with VTIO_CONFIG_FAST_PATHS=0 (the device's general
 * paths only) and as a minimal device-only core (no driver role, indirect,
 * event idx or IN_ORDER; the indirect shapes are skipped there).
 *
 * Every chain shape runs in both layouts over four views: one region (the
 * pointer fast paths), accessor ops only, two regions split inside the
 * indirect table (the table read piece by piece through vtio_mem_read), and
 * rings in a region with tables and buffers through ops (the hot pop
 * falling back to the walk, the table checked by reading its last entry).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/devq.h"
#include "ring_layouts.h"

#define ARENA	  0x4000u
#define BASE	  0x7000000ull /* driver address of arena byte 0 */
#define NUM	  8u
#define DESC_OFF  0x0000u
#define AVAIL_OFF 0x0200u
#define USED_OFF  0x0400u
#define EVT_OFF	  0x0600u /* packed: driver / device event areas */
#define ITAB_OFF  0x1000u /* indirect table (up to 16 entries) */
#define SPLIT_OFF 0x1028u /* the "two regions" view splits here: inside table entry 2 */
#define RING_END  0x1000u /* the "mixed" view: rings in a region below, ops above */
#define DATA_OFF  0x2000u

static _Alignas(64) unsigned char arena[ARENA];
static unsigned reads[ARENA]; /* reads per byte since the last reset */

static void count(size_t off, size_t len)
{
	for (size_t i = 0; i < len && off + i < ARENA; i++)
		reads[off + i]++;
}

/* Called by the ring code for every read of peer memory through a pointer. */
void vtio__test_peer_fetched(const volatile void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)arena;
	if (a >= lo && a < lo + ARENA)
		count(a - lo, len);
}

static int ops_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
	(void)ctx;
	if (addr < BASE || addr - BASE > ARENA || len > ARENA - (addr - BASE))
		return VTIO_EFAULT;
	memcpy(dst, arena + (addr - BASE), len);
	count((size_t)(addr - BASE), len);
	return 0;
}

static int ops_write(void *ctx, uint64_t addr, const void *src, size_t len)
{
	(void)ctx;
	if (addr < BASE || addr - BASE > ARENA || len > ARENA - (addr - BASE))
		return VTIO_EFAULT;
	memcpy(arena + (addr - BASE), src, len);
	return 0;
}

static const struct vtio_mem_ops test_ops = {ops_read, ops_write, NULL};

enum view { V_REGION, V_OPS, V_TWO_REGIONS, V_MIXED, V_COUNT };
static const char *const view_name[V_COUNT] = {"one region", "accessor ops", "two regions",
					       "rings in a region, the rest through ops"};

struct view_state {
	struct vtio_mem_region r[2];
	struct vtio_mem mem;
};

static void make_view(struct view_state *v, enum view kind)
{
	memset(v, 0, sizeof(*v));
	switch (kind) {
	case V_REGION:
		v->r[0] = (struct vtio_mem_region){BASE, ARENA, arena, VTIO_MEM_RW};
		assert_int_equal(vtio_mem_init(&v->mem, v->r, 1), 0);
		break;
	case V_OPS:
		assert_int_equal(vtio_mem_init(&v->mem, NULL, 0), 0);
		assert_int_equal(vtio_mem_set_ops(&v->mem, &test_ops, NULL), 0);
		break;
	case V_TWO_REGIONS:
		v->r[0] = (struct vtio_mem_region){BASE, SPLIT_OFF, arena, VTIO_MEM_RW};
		v->r[1] = (struct vtio_mem_region){BASE + SPLIT_OFF, ARENA - SPLIT_OFF,
						   arena + SPLIT_OFF, VTIO_MEM_RW};
		assert_int_equal(vtio_mem_init(&v->mem, v->r, 2), 0);
		break;
	default:
		v->r[0] = (struct vtio_mem_region){BASE, RING_END, arena, VTIO_MEM_RW};
		assert_int_equal(vtio_mem_init(&v->mem, v->r, 1), 0);
		assert_int_equal(vtio_mem_set_ops(&v->mem, &test_ops, NULL), 0);
		break;
	}
}

/* ---- Chain shapes -------------------------------------------------------------------- */

/* One descriptor of a shape: where it lives and what it says. */
struct sdesc {
	bool in_table; /* in the indirect table (else in the ring) */
	unsigned slot; /* ring slot / table entry */
	uint32_t len;
	uint16_t flags; /* NEXT / WRITE / INDIRECT (packed: AVAIL/USED added) */
	uint16_t next;
};

struct shape {
	const char *name;
	bool split_only;
	unsigned n;
	struct sdesc d[8];
	unsigned table_entries; /* entries of the indirect table (0: none) */
	uint64_t rd_len, wr_len;
	bool indirect;
};

#define N  VTIO_DESC_F_NEXT
#define W  VTIO_DESC_F_WRITE
#define IN VTIO_DESC_F_INDIRECT

/* The ring part of each shape is written in ring order from slot 0 (packed
 * lists are consecutive; split ones are linked by next, here in a scrambled
 * order where that matters). The indirect descriptor's len is set from
 * table_entries. */
static const struct shape shapes[] = {
    {"one readable", false, 1, {{false, 0, 64, 0, 0}}, 0, 64, 0, false},
    {"one writable", false, 1, {{false, 0, 64, W, 0}}, 0, 0, 64, false},
    {"zero-length writable", false, 1, {{false, 0, 0, W, 0}}, 0, 0, 0, false},
    {"direct rd rd wr",
     false,
     3,
     {{false, 0, 16, N, 1}, {false, 1, 32, N, 2}, {false, 2, 48, W, 0}},
     0,
     48,
     48,
     false},
    {"direct, scrambled next",
     true,
     3,
     {{false, 0, 16, N, 5}, {false, 5, 32, N | W, 3}, {false, 3, 48, W, 0}},
     0,
     16,
     80,
     false},
    {"indirect, one entry", false, 2, {{false, 0, 0, IN, 0}, {true, 0, 40, W, 0}}, 1, 0, 40, true},
    {"indirect rd wr wr",
     false,
     4,
     {{false, 0, 0, IN, 0}, {true, 0, 24, N, 1}, {true, 1, 8, N | W, 2}, {true, 2, 16, W, 0}},
     3,
     24,
     24,
     true},
    {"indirect, 6 entries, straddling two regions",
     false,
     7,
     {{false, 0, 0, IN, 0},
      {true, 0, 8, N, 1},
      {true, 1, 8, N, 2},
      {true, 2, 8, N, 3},
      {true, 3, 8, N | W, 4},
      {true, 4, 8, N | W, 5},
      {true, 5, 8, W, 0}},
     6,
     24,
     24,
     true},
    /* Split: the chain inside the table jumps to the last entry (the one the
     * accessor check reads) in the middle of the walk. */
    {"indirect, walk visits the last entry first",
     true,
     4,
     {{false, 0, 0, IN, 0}, {true, 0, 16, N, 3}, {true, 3, 16, N | W, 1}, {true, 1, 16, W, 0}},
     4,
     16,
     32,
     true},
    /* Split: a chain shorter than its table (the last entry is only checked). */
    {"indirect, chain shorter than the table",
     true,
     3,
     {{false, 0, 0, IN, 0}, {true, 0, 16, N, 1}, {true, 1, 16, W, 0}},
     5,
     16,
     16,
     true},
    /* Split: direct descriptors, then one final indirect one. */
    {"direct then indirect",
     true,
     4,
     {{false, 0, 16, N, 2}, {false, 2, 0, IN, 0}, {true, 0, 16, N, 1}, {true, 1, 32, W, 0}},
     2,
     32,
     32,
     true},
};

#define NSHAPES (sizeof(shapes) / sizeof(shapes[0]))

static void put(size_t off, const void *v, size_t n)
{
	memcpy(arena + off, v, n);
}
static void put16(size_t off, uint16_t v)
{
	v = vtio_le16(v);
	put(off, &v, 2);
}
static void put32(size_t off, uint32_t v)
{
	v = vtio_le32(v);
	put(off, &v, 4);
}
static void put64(size_t off, uint64_t v)
{
	v = vtio_le64(v);
	put(off, &v, 8);
}

/* Byte range of a shape's descriptor in the arena. */
static size_t desc_off(const struct sdesc *d)
{
	return (d->in_table ? ITAB_OFF : DESC_OFF) + (size_t)d->slot * 16u;
}

/* Write the shape's descriptors (buffers one after the other from DATA_OFF). */
static void write_shape(const struct shape *s, enum vtio_layout layout)
{
	uint64_t data = BASE + DATA_OFF;
	for (unsigned k = 0; k < s->n; k++) {
		const struct sdesc *d = &s->d[k];
		size_t o = desc_off(d);
		uint64_t addr = data;
		uint32_t len = d->len;
		if (d->flags & IN) {
			addr = BASE + ITAB_OFF;
			len = s->table_entries * 16u;
		} else {
			data += d->len;
		}
		put64(o, addr);
		put32(o + 8, len);
		if (layout == VTIO_LAYOUT_SPLIT) {
			put16(o + 12, d->flags);
			put16(o + 14, d->next);
		} else {
			/* Packed: id 3 in the ring's last descriptor, lists by position,
			 * table entries walked by count (their NEXT is ignored). */
			uint16_t f = (uint16_t)(d->flags & (W | IN));
			if (!d->in_table) {
				bool last = k + 1 == s->n || s->d[k + 1].in_table;
				if (!last)
					f |= N;
				f |= VTIO_DESC_F_AVAIL; /* first lap: AVAIL = 1, USED = 0 */
			}
			put16(o + 12, 3);
			put16(o + 14, f);
		}
	}
	/* Entries of the table no descriptor of the shape names: valid ones. */
	for (unsigned e = 0; e < s->table_entries; e++) {
		bool named = false;
		for (unsigned k = 0; k < s->n; k++)
			named |= s->d[k].in_table && s->d[k].slot == e;
		if (!named) {
			size_t o = ITAB_OFF + (size_t)e * 16u;
			put64(o, BASE + DATA_OFF + 0x1000u);
			put32(o + 8, 8);
			put16(o + 12, W);
			put16(o + 14, 0);
		}
	}
	if (layout == VTIO_LAYOUT_SPLIT) {
		put16(AVAIL_OFF + 4, 0); /* ring[0] = head 0 */
		put16(AVAIL_OFF + 2, 1); /* idx */
	}
}

static int no_notify(void *ctx, uint32_t data)
{
	(void)ctx;
	(void)data;
	return 0;
}

/* Bytes the pop may read: the ring's descriptors, the table, the avail ring. */
static bool descriptor_byte(enum vtio_layout layout, size_t off)
{
	if (off < DESC_OFF + 16u * NUM) /* DESC_OFF is 0 */
		return true;
	if (off >= ITAB_OFF && off < ITAB_OFF + 16u * 16u)
		return true;
	return layout == VTIO_LAYOUT_SPLIT && off >= AVAIL_OFF && off < AVAIL_OFF + 6u + 2u * NUM;
}

static void run_one(enum vtio_layout layout, enum view vk, const struct shape *s)
{
	struct view_state v;
	make_view(&v, vk);
	memset(arena, 0, sizeof(arena));
	write_shape(s, layout);

	struct vtio_devq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.layout = layout;
	cfg.num = NUM;
	cfg.features = VTIO_FEATURE(VTIO_F_VERSION_1) |
		       (VTIO_CONFIG_INDIRECT ? VTIO_FEATURE(VTIO_F_INDIRECT_DESC) : 0);
	cfg.desc_addr = BASE + DESC_OFF;
	cfg.driver_addr = BASE + (layout == VTIO_LAYOUT_SPLIT ? AVAIL_OFF : EVT_OFF);
	cfg.device_addr = BASE + (layout == VTIO_LAYOUT_SPLIT ? USED_OFF : EVT_OFF + 4u);
	cfg.mem = &v.mem;
	cfg.notify = no_notify;
	static _Alignas(16) unsigned char state[4096];
	assert_true(vtio_devq_state_size(layout, NUM) <= sizeof(state));
	struct vtio_devq *q;
	assert_int_equal(vtio_devq_init(&q, state, sizeof(state), &cfg), 0);

	memset(reads, 0, sizeof(reads)); /* init's own area checks are not a pop */
	struct vtio_iov rd[8], wr[8];
	struct vtio_devq_chain c = {.rd = rd, .rd_max = 8, .wr = wr, .wr_max = 8};
	int err = vtio_devq_pop(q, &c);
	if (err != 0)
		fail_msg("%s, %s, %s: pop returned %d (%s)",
			 layout == VTIO_LAYOUT_SPLIT ? "split" : "packed", view_name[vk], s->name,
			 err, vtio_devq_broken_reason(q));
	assert_int_equal(c.rd_len, s->rd_len);
	assert_int_equal(c.wr_len, s->wr_len);
	assert_int_equal((c.flags & VTIO_DEVQ_CHAIN_F_INDIRECT) != 0, s->indirect);

	for (size_t off = 0; off < ARENA; off++) {
		if (!descriptor_byte(layout, off))
			continue;
		if (reads[off] > 1)
			fail_msg("%s, %s, %s: byte %#zx read %u times in one pop",
				 layout == VTIO_LAYOUT_SPLIT ? "split" : "packed", view_name[vk],
				 s->name, off, reads[off]);
	}
	/* Every byte of every descriptor of the chain was read (once). */
	for (unsigned k = 0; k < s->n; k++) {
		size_t o = desc_off(&s->d[k]);
		for (size_t b = 0; b < 16; b++)
			if (reads[o + b] != 1)
				fail_msg("%s, %s, %s: descriptor byte %#zx read %u times",
					 layout == VTIO_LAYOUT_SPLIT ? "split" : "packed",
					 view_name[vk], s->name, o + b, reads[o + b]);
	}

	/* The handle completes the request with the chain's arrays gone. */
	struct vtio_devq_handle h = vtio_devq_handle_of(&c);
	memset(&c, 0xa5, sizeof(c));
	memset(rd, 0xa5, sizeof(rd));
	memset(wr, 0xa5, sizeof(wr));
	if (h.wr_cap < UINT32_MAX)
		assert_int_equal(vtio_devq_push_handle(q, h, h.wr_cap + 1u), VTIO_EINVAL);
	assert_int_equal(vtio_devq_push_handle(q, h, h.wr_cap), 0);
	assert_false(vtio_devq_is_broken(q));
}

static void test_read_once(void **state)
{
	(void)state;
	unsigned runs = 0;
	for (size_t l = 0; l < FX_NLAYOUTS; l++)
		for (int vk = 0; vk < V_COUNT; vk++)
			for (size_t k = 0; k < NSHAPES; k++) {
				if (shapes[k].split_only &&
				    fx_layouts[l].layout != VTIO_LAYOUT_SPLIT)
					continue;
				if (shapes[k].indirect && !VTIO_CONFIG_INDIRECT)
					continue; /* a core built without indirect support */
				run_one(fx_layouts[l].layout, (enum view)vk, &shapes[k]);
				runs++;
			}
	print_message("read-once: %u (layout, view, shape) runs\n", runs);
}

/* The counting itself: a second pop of the same (consumed) ring position
 * reads nothing of the chain, and re-popping after an ENOBUFS reads the
 * chain afresh (the retry is a new pop, checked again). */
static void test_enobufs_retry_reads_again(void **state)
{
	(void)state;
	struct view_state v;
	make_view(&v, V_OPS);
	memset(arena, 0, sizeof(arena));
	write_shape(&shapes[3], VTIO_LAYOUT_SPLIT); /* rd rd wr */
	struct vtio_devq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.layout = VTIO_LAYOUT_SPLIT;
	cfg.num = NUM;
	cfg.features = VTIO_FEATURE(VTIO_F_VERSION_1);
	cfg.desc_addr = BASE + DESC_OFF;
	cfg.driver_addr = BASE + AVAIL_OFF;
	cfg.device_addr = BASE + USED_OFF;
	cfg.mem = &v.mem;
	cfg.notify = no_notify;
	static _Alignas(16) unsigned char st[4096];
	struct vtio_devq *q;
	assert_int_equal(vtio_devq_init(&q, st, sizeof(st), &cfg), 0);
	struct vtio_iov rd[8], wr[8];
	struct vtio_devq_chain c = {.rd = rd, .rd_max = 1, .wr = wr, .wr_max = 8};
	memset(reads, 0, sizeof(reads));
	assert_int_equal(vtio_devq_pop(q, &c), VTIO_ENOBUFS);
	assert_int_equal(reads[DESC_OFF], 1);
	c.rd_max = 8;
	memset(reads, 0, sizeof(reads));
	assert_int_equal(vtio_devq_pop(q, &c), 0);
	assert_int_equal(reads[DESC_OFF], 1);
	assert_int_equal(reads[DESC_OFF + 16], 1);
	memset(reads, 0, sizeof(reads));
	assert_int_equal(vtio_devq_pop(q, &c), VTIO_EAGAIN);
	assert_int_equal(reads[DESC_OFF], 0);
}

/* config.h: a device core built without EVENT_IDX or IN_ORDER refuses a
 * queue that negotiated them (VTIO_ENOTSUP); one built with them accepts it. */
static void test_compiled_out_features(void **state)
{
	(void)state;
	struct view_state v;
	make_view(&v, V_REGION);
	static const uint64_t feat[2] = {VTIO_FEATURE(VTIO_F_EVENT_IDX),
					 VTIO_FEATURE(VTIO_F_IN_ORDER)};
	const bool compiled[2] = {VTIO_CONFIG_EVENT_IDX, VTIO_CONFIG_IN_ORDER};
	for (int k = 0; k < 2; k++) {
		struct vtio_devq_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.layout = VTIO_CONFIG_SPLIT ? VTIO_LAYOUT_SPLIT : VTIO_LAYOUT_PACKED;
		cfg.num = NUM;
		cfg.features = VTIO_FEATURE(VTIO_F_VERSION_1) | feat[k];
		cfg.desc_addr = BASE + DESC_OFF;
		cfg.driver_addr = BASE + (VTIO_CONFIG_SPLIT ? AVAIL_OFF : EVT_OFF);
		cfg.device_addr = BASE + (VTIO_CONFIG_SPLIT ? USED_OFF : EVT_OFF + 4u);
		cfg.mem = &v.mem;
		cfg.notify = no_notify;
		static _Alignas(16) unsigned char st[4096];
		struct vtio_devq *q;
		assert_int_equal(vtio_devq_init(&q, st, sizeof(st), &cfg),
				 compiled[k] ? 0 : VTIO_ENOTSUP);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_once),
	    cmocka_unit_test(test_enobufs_retry_reads_again),
	    cmocka_unit_test(test_compiled_out_features),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
