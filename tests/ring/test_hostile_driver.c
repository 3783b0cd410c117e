/* Hostile driver corpus: malicious split rings written by hand into driver
 * memory, fed to the device side (vtio_devq) through a memory view that is
 * exactly the ring + buffer memory (a heap block, so ASan sees any access
 * outside it). Each row expects its specific error, a broken queue with a
 * reason, VTIO_EIO from every later call, no write outside the used ring, and
 * no iov pointing outside the view. Positive rows (what the spec allows and
 * a device must accept) run through the same machinery.
 *
 * Every row runs over three views: a region table (pointer fast path), an
 * accessor-ops view with no translate (copy path, iov ptr NULL) and, for
 * legacy queues, the region table without VIRTIO_F_VERSION_1.
 *
 * Error codes come from devq.h / error.h: ERANGE "index, id, size out of
 * range", ELOOP "chain loops or exceeds its bound", EFAULT "address outside
 * the memory the peer may use", EBADMSG "malformed descriptor",
 * EOVERFLOW "chain longer than 4 GiB", EPROTO "the peer broke the protocol".
 * Where the header leaves two codes plausible for one violation, a row lists
 * both; the report prints which one was returned.
 *
 * Checklist IDs: SPLIT-DEV-4, SPLIT-DEV-8, SPLIT-DEV-9, SPLIT-DEV-10,
 * INDIR-DEV-1, INDIR-DEV-2, INDIR-DEV-4, SPLIT-DRV-5/7/8 (what the device
 * must detect when the driver breaks them), INDIR-DRV-2/3/9, section 3
 * points 7, 10 and 18.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/devq.h"
#include "hostile_ring.h"

/* ---- Driver memory image ---------------------------------------------------- */

#define MEM_SIZE  0x10000u	/* the whole view */
#define BASE	  0x40000000ull /* driver address of byte 0 */
#define DESC_OFF  0x0000u	/* descriptor table (num <= 128) */
#define AVAIL_OFF 0x0800u	/* avail ring */
#define USED_OFF  0x0c00u	/* used ring (num <= 128) */
#define ITAB_OFF  0x1800u	/* indirect tables, 0x400 bytes each ... */
#define ITAB_SIZE 0x400u	/* ... (64 entries), or one big table */
#define DATA_OFF  0x8000u	/* data buffers, 0x100 bytes each */
#define DATA_SIZE 0x100u
#define BIG_LIMIT (1ull << 40) /* the "big" view covers [0, 2^40) */
#define IOV_CAP	  2048u

struct ring {
	unsigned char *mem;
	uint32_t num;
	uint16_t avail_idx;
};

static uint64_t desc_addr(void)
{
	return BASE + DESC_OFF;
}
static uint64_t itab(unsigned t)
{
	return BASE + ITAB_OFF + (uint64_t)t * ITAB_SIZE;
}
static uint64_t data(unsigned k)
{
	return BASE + DATA_OFF + (uint64_t)k * DATA_SIZE;
}

/* Ring fields are little-endian, or guest-native on a legacy queue (LEG-4):
 * set while a legacy row is built, so the rows also hold on big-endian hosts. */
static int g_native;

static void put16(unsigned char *p, uint16_t v)
{
	if (!g_native)
		v = vtio_le16(v);
	memcpy(p, &v, 2);
}
static void put32(unsigned char *p, uint32_t v)
{
	if (!g_native)
		v = vtio_le32(v);
	memcpy(p, &v, 4);
}
static void put64(unsigned char *p, uint64_t v)
{
	if (!g_native)
		v = vtio_le64(v);
	memcpy(p, &v, 8);
}

static void write_desc(unsigned char *at, uint64_t addr, uint32_t len, uint16_t flags,
		       uint16_t next)
{
	put64(at + offsetof(struct vtio_split_desc, addr), addr);
	put32(at + offsetof(struct vtio_split_desc, len), len);
	put16(at + offsetof(struct vtio_split_desc, flags), flags);
	put16(at + offsetof(struct vtio_split_desc, next), next);
}

/* Descriptor i of the ring's table. */
static void desc(struct ring *r, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	write_desc(r->mem + DESC_OFF + 16u * i, addr, len, flags, next);
}

/* Entry i of indirect table t. */
static void idesc(struct ring *r, unsigned t, unsigned i, uint64_t addr, uint32_t len,
		  uint16_t flags, uint16_t next)
{
	write_desc(r->mem + ITAB_OFF + t * ITAB_SIZE + 16u * i, addr, len, flags, next);
}

static void set_avail_idx(struct ring *r, uint16_t idx)
{
	put16(r->mem + AVAIL_OFF + 2, idx);
}

/* Make head @p head available. */
static void avail(struct ring *r, uint16_t head)
{
	put16(r->mem + AVAIL_OFF + vtio_split_avail_ring_off(r->avail_idx % r->num), head);
	r->avail_idx++;
	set_avail_idx(r, r->avail_idx);
}

#define NEXT  VTIO_DESC_F_NEXT
#define WR    VTIO_DESC_F_WRITE
#define INDIR VTIO_DESC_F_INDIRECT

/* ---- The corpus -------------------------------------------------------------------- */

enum {
	M_BIG = 1,    /* needs the big accessor view (huge lengths inside the view) */
	M_NOOPS = 2,  /* skip the ops view */
	M_LEGACY = 4, /* also run as a legacy queue */
	/* The bad address is a buffer's (not a ring's or a table's): with an
	 * accessor-only view (no translate) there is nothing to probe it with,
	 * so the ops view may defer the check to vtio_devq_read/write, which
	 * must then fail. */
	M_BUFADDR = 8,
	M_EITHER = 16, /* success is acceptable too */
	M_PACKED = 32, /* a packed ring (the classes shared with split) */
};

struct row {
	const char *name;
	void (*build)(struct ring *r);
	int expect[3];	   /* accepted errors; {0} = every chain pops fine */
	unsigned good;	   /* chains that must pop fine before the error */
	uint32_t num;	   /* 0 = 8 */
	uint32_t max_ind;  /* vtio_devq_config::max_indirect */
	unsigned mode;	   /* M_* */
	uint64_t rd_total; /* positive rows: expected rd_len of the last chain (0 = skip) */
};

/* SPLIT-DEV-8: head index >= queue size. */
static void b_head_range(struct ring *r)
{
	desc(r, 0, data(0), 16, 0, 0);
	avail(r, 0);
	avail(r, (uint16_t)r->num);
}
static void b_head_ffff(struct ring *r)
{
	avail(r, 0xffff);
}
/* SPLIT-DEV-8: next >= queue size. */
static void b_next_range(struct ring *r)
{
	desc(r, 0, data(0), 16, NEXT, (uint16_t)r->num);
	avail(r, 0);
}
static void b_next_ffff(struct ring *r)
{
	desc(r, 2, data(0), 16, NEXT, 3);
	desc(r, 3, data(1), 16, NEXT | WR, 0xffff);
	avail(r, 2);
}
/* SPLIT-DEV-9 / SPLIT-DRV-7: loops. */
static void b_loop_self(struct ring *r)
{
	desc(r, 5, data(0), 16, NEXT, 5);
	avail(r, 5);
}
static void b_loop_two(struct ring *r)
{
	desc(r, 1, data(0), 16, NEXT, 2);
	desc(r, 2, data(1), 16, NEXT, 1);
	avail(r, 1);
}
static void b_loop_long(struct ring *r)
{
	for (unsigned i = 0; i < r->num; i++)
		desc(r, i, data(i % 64), 8, NEXT, (uint16_t)((i + 1) % r->num));
	avail(r, 3);
}
/* A loop through writable descriptors only (the read-after-write check must
 * not be what stops it). */
static void b_loop_writable(struct ring *r)
{
	desc(r, 0, data(0), 16, NEXT | WR, 1);
	desc(r, 1, data(1), 16, NEXT | WR, 2);
	desc(r, 2, data(2), 16, NEXT | WR, 0);
	avail(r, 0);
}
/* Loop that starts after a tail: 0 -> 1 -> 2 -> 3 -> 1. */
static void b_loop_rho(struct ring *r)
{
	desc(r, 0, data(0), 16, NEXT, 1);
	desc(r, 1, data(1), 16, NEXT, 2);
	desc(r, 2, data(2), 16, NEXT, 3);
	desc(r, 3, data(3), 16, NEXT, 1);
	avail(r, 0);
}
/* SPLIT-DRV-8: every descriptor of a 32768-entry queue in one loop-free
 * chain is legal (a chain of exactly num); one more must loop. Here: a
 * num-long chain of the largest queue we build, then its last descriptor
 * pointing back to the head. */
static void b_chain_num_then_loop(struct ring *r)
{
	for (unsigned i = 0; i < r->num; i++)
		desc(r, i, data(i % 64), 4, NEXT, (uint16_t)(i + 1));
	desc(r, r->num - 1, data(0), 4, NEXT, 0);
	avail(r, 0);
}
static void b_chain_exactly_num(struct ring *r)
{
	for (unsigned i = 0; i < r->num; i++)
		desc(r, i, data(i % 64), 4, i + 1 < r->num ? NEXT : 0, (uint16_t)(i + 1));
	avail(r, 0);
}
/* INDIR-DRV-2 / INDIR-DEV-4: nested indirect. */
static void b_nested_indirect(struct ring *r)
{
	idesc(r, 0, 0, data(0), 16, NEXT, 1);
	idesc(r, 0, 1, itab(1), 32, INDIR, 0);
	idesc(r, 1, 0, data(1), 16, 0, 0);
	idesc(r, 1, 1, data(2), 16, 0, 0);
	desc(r, 0, itab(0), 32, INDIR, 0);
	avail(r, 0);
}
/* INDIR-DRV-9 / INDIR-DEV-4: table length 0. */
static void b_indirect_len0(struct ring *r)
{
	desc(r, 0, itab(0), 0, INDIR, 0);
	avail(r, 0);
}
/* Table length not a multiple of 16. */
static void b_indirect_len_odd(struct ring *r)
{
	idesc(r, 0, 0, data(0), 16, 0, 0);
	desc(r, 0, itab(0), 24, INDIR, 0);
	avail(r, 0);
}
static void b_indirect_len_15(struct ring *r)
{
	desc(r, 0, itab(0), 15, INDIR, 0);
	avail(r, 0);
}
/* Table larger than the policy (max_indirect = 4 in the row). */
static void b_indirect_over_policy(struct ring *r)
{
	for (unsigned i = 0; i < 5; i++)
		idesc(r, 0, i, data(i), 8, i < 4 ? NEXT : 0, (uint16_t)(i + 1));
	desc(r, 0, itab(0), 5 * 16, INDIR, 0);
	avail(r, 0);
}
/* Default policy: max(num, 1024) entries; 1025 is over, 1024 is fine. The
 * tables area holds 0x6800 / 16 = 1664 entries. */
static void b_indirect_1025(struct ring *r)
{
	for (unsigned i = 0; i < 1025; i++)
		idesc(r, 0, i, data(i % 64), 4, i < 1024 ? NEXT : 0, (uint16_t)(i + 1));
	desc(r, 0, itab(0), 1025 * 16, INDIR, 0);
	avail(r, 0);
}
static void b_indirect_1024(struct ring *r)
{
	for (unsigned i = 0; i < 1024; i++)
		idesc(r, 0, i, data(i % 64), 4, i < 1023 ? NEXT : 0, (uint16_t)(i + 1));
	desc(r, 0, itab(0), 1024 * 16, INDIR, 0);
	avail(r, 0);
}
/* Table length so large it would wrap a 32-bit entry count or index. */
static void b_indirect_len_huge(struct ring *r)
{
	desc(r, 0, itab(0), 0xfffffff0u, INDIR, 0);
	avail(r, 0);
}
/* INDIR-DRV-3: INDIRECT together with NEXT. */
static void b_indirect_next(struct ring *r)
{
	idesc(r, 0, 0, data(0), 16, 0, 0);
	desc(r, 0, itab(0), 16, INDIR | NEXT, 1);
	desc(r, 1, data(1), 16, 0, 0);
	avail(r, 0);
}
/* INDIR-DEV-4: next inside a table beyond the table's entry count. */
static void b_indirect_next_range(struct ring *r)
{
	idesc(r, 0, 0, data(0), 16, NEXT, 1);
	idesc(r, 0, 1, data(1), 16, NEXT, 2); /* the table has 2 entries */
	idesc(r, 0, 2, data(2), 16, 0, 0);    /* present in memory, outside the table */
	desc(r, 0, itab(0), 32, INDIR, 0);
	avail(r, 0);
}
/* Loop inside a table. */
static void b_indirect_loop(struct ring *r)
{
	idesc(r, 0, 0, data(0), 16, NEXT, 1);
	idesc(r, 0, 1, data(1), 16, NEXT, 2);
	idesc(r, 0, 2, data(2), 16, NEXT, 0);
	desc(r, 0, itab(0), 48, INDIR, 0);
	avail(r, 0);
}
static void b_indirect_self_loop(struct ring *r)
{
	idesc(r, 0, 0, data(0), 16, NEXT, 0);
	desc(r, 0, itab(0), 16, INDIR, 0);
	avail(r, 0);
}
/* SPLIT-DRV-5: readable after writable, direct. */
static void b_rd_after_wr(struct ring *r)
{
	desc(r, 0, data(0), 16, NEXT, 1);
	desc(r, 1, data(1), 16, NEXT | WR, 2);
	desc(r, 2, data(2), 16, 0, 0);
	avail(r, 0);
}
/* ... inside an indirect table. */
static void b_rd_after_wr_indirect(struct ring *r)
{
	idesc(r, 0, 0, data(0), 16, NEXT | WR, 1);
	idesc(r, 0, 1, data(1), 16, 0, 0);
	desc(r, 0, itab(0), 32, INDIR, 0);
	avail(r, 0);
}
/* ... writable direct descriptor followed by an indirect table with a
 * readable entry (the table continues the same chain). */
static void b_rd_after_wr_mixed(struct ring *r)
{
	idesc(r, 0, 0, data(1), 16, 0, 0);
	desc(r, 0, data(0), 16, NEXT | WR, 1);
	desc(r, 1, itab(0), 16, INDIR, 0);
	avail(r, 0);
}
/* Address outside the view. */
static void b_addr_outside(struct ring *r)
{
	desc(r, 0, BASE + MEM_SIZE + 0x1000, 16, 0, 0);
	avail(r, 0);
}
static void b_addr_below(struct ring *r)
{
	desc(r, 0, BASE - 0x100, 16, 0, 0);
	avail(r, 0);
}
static void b_addr_zero(struct ring *r)
{
	desc(r, 0, 0, 16, WR, 0);
	avail(r, 0);
}
/* Crossing the view's end by 8 bytes. */
static void b_addr_cross_end(struct ring *r)
{
	desc(r, 0, data(0), 16, NEXT, 1);
	desc(r, 1, BASE + MEM_SIZE - 8, 16, WR, 0);
	avail(r, 0);
}
/* Starting inside, huge length. */
static void b_len_past_end(struct ring *r)
{
	desc(r, 0, data(0), 0xffffffffu, 0, 0);
	avail(r, 0);
}
/* addr + len wraps past 2^64. */
static void b_addr_wrap(struct ring *r)
{
	desc(r, 0, 0xfffffffffffffff0ull, 0x20, 0, 0);
	avail(r, 0);
}
static void b_addr_wrap_to_view(struct ring *r)
{
	/* addr + len wraps around to exactly BASE + 0x10: a naive end check passes. */
	desc(r, 0, (uint64_t)0 - 0x10, (uint32_t)(BASE + 0x20), 0, 0);
	avail(r, 0);
}
/* Indirect table outside / crossing / wrapping. */
static void b_itab_outside(struct ring *r)
{
	desc(r, 0, BASE + MEM_SIZE + 0x100, 32, INDIR, 0);
	avail(r, 0);
}
/* The table's declared 32 bytes run 16 past the view's end; its first entry
 * (inside the view) is a valid last entry, so only a check of the whole
 * table catches it. QEMU maps the whole table and fails with "Cannot map
 * indirect buffer" when len < desc.len; DPDK vhost copies the whole table
 * and fails the same way. A table the driver declared is a buffer like any
 * other: it must lie inside the view (INDIR-DEV-4, section 3 point 18). */
static void b_itab_cross_end(struct ring *r)
{
	write_desc(r->mem + MEM_SIZE - 16, data(0), 16, 0, 0);
	desc(r, 0, BASE + MEM_SIZE - 16, 32, INDIR, 0);
	avail(r, 0);
}
/* Zero-length descriptor at an address outside the view: nothing is ever
 * accessed, so accepting it (with no iov outside the view) or refusing it
 * with EFAULT are both defensible. */
static void b_zero_len_outside(struct ring *r)
{
	desc(r, 0, data(0), 16, NEXT, 1);
	desc(r, 1, BASE + MEM_SIZE + 0x1000, 0, WR, 0);
	avail(r, 0);
}
static void b_itab_wrap(struct ring *r)
{
	desc(r, 0, 0xfffffffffffffff0ull, 32, INDIR, 0);
	avail(r, 0);
}
/* Buffer address inside an indirect table outside the view. */
static void b_itab_entry_outside(struct ring *r)
{
	idesc(r, 0, 0, data(0), 16, NEXT, 1);
	idesc(r, 0, 1, BASE + MEM_SIZE, 16, WR, 0);
	desc(r, 0, itab(0), 32, INDIR, 0);
	avail(r, 0);
}
/* SPLIT-DEV-9: total length > 2^32 (big view: the addresses are valid). */
static void b_total_over_4g(struct ring *r)
{
	desc(r, 0, 0x100000000ull, 0x80000000u, NEXT, 1);
	desc(r, 1, 0x200000000ull, 0x80000000u, NEXT | WR, 2);
	desc(r, 2, 0x300000000ull, 1, WR, 0);
	avail(r, 0);
}
static void b_total_over_4g_indirect(struct ring *r)
{
	idesc(r, 0, 0, 0x100000000ull, 0xffffffffu, NEXT, 1);
	idesc(r, 0, 1, 0x200000000ull, 0xffffffffu, NEXT, 2);
	idesc(r, 0, 2, 0x300000000ull, 2, 0, 0);
	desc(r, 0, itab(0), 48, INDIR, 0);
	avail(r, 0);
}
/* Exactly 2^32 is allowed ("exceeds 2^32" is the violation). */
static void b_total_exactly_4g(struct ring *r)
{
	desc(r, 0, 0x100000000ull, 0x80000000u, NEXT, 1);
	desc(r, 1, 0x200000000ull, 0x80000000u, 0, 0);
	avail(r, 0);
}
/* SPLIT-DEV-8: avail idx jumping by more than num. */
static void b_avail_jump(struct ring *r)
{
	for (unsigned i = 0; i < r->num; i++) {
		desc(r, i, data(i), 16, 0, 0);
		avail(r, (uint16_t)i);
	}
	set_avail_idx(r, (uint16_t)(r->num + 1));
}
static void b_avail_jump_far(struct ring *r)
{
	desc(r, 0, data(0), 16, 0, 0);
	set_avail_idx(r, 0x8000);
}
static void b_avail_backwards(struct ring *r)
{
	/* (u16)(0xffff - 0) = 65535 > num: "moved back by one" is a jump too. */
	set_avail_idx(r, 0xffff);
}
/* Exactly num is a full ring, legal. */
static void b_avail_full(struct ring *r)
{
	for (unsigned i = 0; i < r->num; i++) {
		desc(r, i, data(i), 16, (uint16_t)(i & 1 ? WR : 0), 0);
		avail(r, (uint16_t)i);
	}
}
/* Good chains first, then a bad head: the good ones must come out intact. */
static void b_good_then_bad(struct ring *r)
{
	desc(r, 0, data(0), 16, NEXT, 1);
	desc(r, 1, data(1), 32, WR, 0);
	desc(r, 2, data(2), 16, 0, 0);
	avail(r, 0);
	avail(r, 2);
	avail(r, 0x1234);
}
/* INDIR-DEV-2: direct descriptors followed by one final indirect. */
static void b_direct_then_indirect(struct ring *r)
{
	idesc(r, 0, 0, data(2), 16, NEXT, 1);
	idesc(r, 0, 1, data(3), 16, WR, 0);
	desc(r, 0, data(0), 16, NEXT, 1);
	desc(r, 1, data(1), 16, NEXT, 2);
	desc(r, 2, itab(0), 32, INDIR, 0);
	avail(r, 0);
}
/* INDIR-DEV-1: WRITE on the descriptor pointing at the table is ignored (the
 * table's readable entry is readable). */
static void b_indirect_write_flag(struct ring *r)
{
	idesc(r, 0, 0, data(0), 40, NEXT, 1);
	idesc(r, 0, 1, data(1), 16, WR, 0);
	desc(r, 0, itab(0), 32, INDIR | WR, 0);
	avail(r, 0);
}
/* Zero-length descriptors: the spec does not forbid them (CHECKLIST section 3
 * point 7) and devq.h does not either, so the device accepts them. */
static void b_zero_len(struct ring *r)
{
	desc(r, 0, data(0), 0, NEXT, 1);
	desc(r, 1, data(1), 24, NEXT, 2);
	desc(r, 2, data(2), 0, WR, 0);
	avail(r, 0);
}
/* A chain that is only one writable descriptor, and a head in the last slot. */
static void b_last_slot(struct ring *r)
{
	desc(r, r->num - 1, data(0), 64, WR, 0);
	avail(r, (uint16_t)(r->num - 1));
}
/* Queue size 1: head 0 fine, next 1 out of range. */
static void b_num1_next(struct ring *r)
{
	desc(r, 0, data(0), 16, NEXT, 1);
	avail(r, 0);
}
static void b_num1_head(struct ring *r)
{
	avail(r, 1);
}

/* A loop through zero-length descriptors: the bound counts descriptors, not bytes. */
static void b_loop_zero_len(struct ring *r)
{
	desc(r, 0, data(0), 0, NEXT, 1);
	desc(r, 1, data(1), 0, NEXT, 0);
	avail(r, 0);
}
/* Indirect table entries linked out of order (0 -> 2 -> 1): legal without
 * IN_ORDER, the walk follows next from entry 0. */
static void b_indirect_nonsequential(struct ring *r)
{
	idesc(r, 0, 0, data(0), 16, NEXT, 2);
	idesc(r, 0, 2, data(2), 8, NEXT, 1);
	idesc(r, 0, 1, data(1), 32, WR, 0);
	desc(r, 0, itab(0), 48, INDIR, 0);
	avail(r, 0);
}
/* An indirect table at an odd address: the spec sets no alignment for it. */
static void b_indirect_unaligned(struct ring *r)
{
	write_desc(r->mem + ITAB_OFF + 3, data(0), 16, NEXT, 1);
	write_desc(r->mem + ITAB_OFF + 3 + 16, data(1), 16, WR, 0);
	desc(r, 0, itab(0) + 3, 32, INDIR, 0);
	avail(r, 0);
}

static const struct row rows[] = {
    {"head_ge_num", b_head_range, {VTIO_ERANGE}, 1, 0, 0, M_LEGACY, 0},
    {"head_ffff", b_head_ffff, {VTIO_ERANGE}, 0, 0, 0, 0, 0},
    {"next_ge_num", b_next_range, {VTIO_ERANGE}, 0, 0, 0, M_LEGACY, 0},
    {"next_ffff", b_next_ffff, {VTIO_ERANGE}, 0, 0, 0, 0, 0},
    {"loop_self", b_loop_self, {VTIO_ELOOP}, 0, 0, 0, M_LEGACY, 0},
    {"loop_two", b_loop_two, {VTIO_ELOOP}, 0, 0, 0, 0, 0},
    {"loop_long", b_loop_long, {VTIO_ELOOP}, 0, 128, 0, 0, 0},
    {"loop_writable", b_loop_writable, {VTIO_ELOOP}, 0, 0, 0, 0, 0},
    {"loop_rho", b_loop_rho, {VTIO_ELOOP}, 0, 0, 0, 0, 0},
    {"loop_zero_len", b_loop_zero_len, {VTIO_ELOOP}, 0, 0, 0, 0, 0},
    {"indirect_nonsequential_ok", b_indirect_nonsequential, {0}, 1, 0, 0, 0, 24},
    {"indirect_unaligned_table_ok", b_indirect_unaligned, {0}, 1, 0, 0, M_LEGACY, 16},
    {"chain_num_then_loop", b_chain_num_then_loop, {VTIO_ELOOP}, 0, 128, 0, 0, 0},
    {"chain_exactly_num_ok", b_chain_exactly_num, {0}, 1, 128, 0, 0, 128 * 4},
    {"nested_indirect", b_nested_indirect, {VTIO_EBADMSG}, 0, 0, 0, M_LEGACY, 0},
    {"indirect_len0", b_indirect_len0, {VTIO_EBADMSG}, 0, 0, 0, 0, 0},
    {"indirect_len_not_16x", b_indirect_len_odd, {VTIO_EBADMSG}, 0, 0, 0, 0, 0},
    {"indirect_len_15", b_indirect_len_15, {VTIO_EBADMSG}, 0, 0, 0, 0, 0},
    {"indirect_over_policy",
     b_indirect_over_policy,
     {VTIO_E2BIG, VTIO_EMSGSIZE, VTIO_ELOOP},
     0,
     0,
     4,
     0,
     0},
    {"indirect_1025_default",
     b_indirect_1025,
     {VTIO_E2BIG, VTIO_EMSGSIZE, VTIO_ELOOP},
     0,
     0,
     0,
     0,
     0},
    {"indirect_1024_default_ok", b_indirect_1024, {0}, 1, 0, 0, 0, 1024 * 4},
    /* The table is both over the policy and past the view's end: either check may fire. */
    {"indirect_len_huge",
     b_indirect_len_huge,
     {VTIO_E2BIG, VTIO_EMSGSIZE, VTIO_EFAULT},
     0,
     0,
     0,
     0,
     0},
    {"indirect_and_next", b_indirect_next, {VTIO_EBADMSG}, 0, 0, 0, 0, 0},
    {"indirect_next_out_of_table", b_indirect_next_range, {VTIO_ERANGE}, 0, 0, 0, 0, 0},
    {"indirect_loop", b_indirect_loop, {VTIO_ELOOP}, 0, 0, 0, 0, 0},
    {"indirect_self_loop", b_indirect_self_loop, {VTIO_ELOOP}, 0, 0, 0, 0, 0},
    {"rd_after_wr", b_rd_after_wr, {VTIO_EBADMSG}, 0, 0, 0, M_LEGACY, 0},
    {"rd_after_wr_indirect", b_rd_after_wr_indirect, {VTIO_EBADMSG}, 0, 0, 0, 0, 0},
    {"rd_after_wr_direct_then_table", b_rd_after_wr_mixed, {VTIO_EBADMSG}, 0, 0, 0, 0, 0},
    {"addr_outside", b_addr_outside, {VTIO_EFAULT}, 0, 0, 0, M_LEGACY | M_BUFADDR, 0},
    {"addr_below", b_addr_below, {VTIO_EFAULT}, 0, 0, 0, M_BUFADDR, 0},
    {"addr_zero", b_addr_zero, {VTIO_EFAULT}, 0, 0, 0, M_BUFADDR, 0},
    {"addr_cross_end", b_addr_cross_end, {VTIO_EFAULT}, 0, 0, 0, M_BUFADDR, 0},
    {"len_past_end", b_len_past_end, {VTIO_EFAULT}, 0, 0, 0, M_BUFADDR, 0},
    {"addr_wrap_2_64", b_addr_wrap, {VTIO_EFAULT, VTIO_EOVERFLOW}, 0, 0, 0, 0, 0},
    {"addr_wrap_into_view", b_addr_wrap_to_view, {VTIO_EFAULT, VTIO_EOVERFLOW}, 0, 0, 0, 0, 0},
    {"itab_outside", b_itab_outside, {VTIO_EFAULT}, 0, 0, 0, 0, 0},
    {"itab_cross_end", b_itab_cross_end, {VTIO_EFAULT}, 0, 0, 0, 0, 0},
    {"itab_wrap_2_64", b_itab_wrap, {VTIO_EFAULT, VTIO_EOVERFLOW}, 0, 0, 0, 0, 0},
    {"itab_entry_outside", b_itab_entry_outside, {VTIO_EFAULT}, 0, 0, 0, M_BUFADDR, 0},
    {"total_over_4g", b_total_over_4g, {VTIO_EOVERFLOW}, 0, 0, 0, M_BIG, 0},
    {"total_over_4g_indirect", b_total_over_4g_indirect, {VTIO_EOVERFLOW}, 0, 0, 0, M_BIG, 0},
    {"total_exactly_4g_ok", b_total_exactly_4g, {0}, 1, 0, 0, M_BIG, 0x100000000ull},
    {"avail_jump_num_plus_1", b_avail_jump, {VTIO_EPROTO, VTIO_ERANGE}, 0, 0, 0, M_LEGACY, 0},
    {"avail_jump_far", b_avail_jump_far, {VTIO_EPROTO, VTIO_ERANGE}, 0, 0, 0, 0, 0},
    {"avail_backwards", b_avail_backwards, {VTIO_EPROTO, VTIO_ERANGE}, 0, 0, 0, 0, 0},
    {"avail_full_ok", b_avail_full, {0}, 8, 0, 0, M_LEGACY, 0},
    {"good_then_bad_head", b_good_then_bad, {VTIO_ERANGE}, 2, 0, 0, 0, 0},
    {"direct_then_indirect_ok", b_direct_then_indirect, {0}, 1, 0, 0, M_LEGACY, 48},
    {"indirect_write_flag_ignored", b_indirect_write_flag, {0}, 1, 0, 0, 0, 40},
    {"zero_len_desc_ok", b_zero_len, {0}, 1, 0, 0, 0, 24},
    {"zero_len_outside_view", b_zero_len_outside, {VTIO_EFAULT}, 0, 0, 0, M_EITHER, 0},
    {"last_slot_ok", b_last_slot, {0}, 1, 0, 0, 0, 0},
    {"num1_next_range", b_num1_next, {VTIO_ERANGE}, 0, 1, 0, 0, 0},
    {"num1_head_range", b_num1_head, {VTIO_ERANGE}, 0, 1, 0, 0, 0},
};

/* ---- Packed rows: the hostile classes shared with the split layout ------------- */

/* Packed descriptor i, made available on the first lap (AVAIL=1, USED=0). */
static void pd(struct ring *r, unsigned i, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	unsigned char *at = r->mem + DESC_OFF + 16u * i;
	put64(at + offsetof(struct vtio_packed_desc, addr), addr);
	put32(at + offsetof(struct vtio_packed_desc, len), len);
	put16(at + offsetof(struct vtio_packed_desc, id), id);
	put16(at + offsetof(struct vtio_packed_desc, flags), (uint16_t)(flags | VTIO_DESC_F_AVAIL));
}
/* Entry i of packed indirect table t (only WRITE is meaningful inside). */
static void pt(struct ring *r, unsigned t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags)
{
	unsigned char *at = r->mem + ITAB_OFF + t * ITAB_SIZE + 16u * i;
	put64(at + offsetof(struct vtio_packed_desc, addr), addr);
	put32(at + offsetof(struct vtio_packed_desc, len), len);
	put16(at + offsetof(struct vtio_packed_desc, id), 0);
	put16(at + offsetof(struct vtio_packed_desc, flags), flags);
}

static void p_ok_simple(struct ring *r)
{
	pd(r, 0, data(0), 16, 0, NEXT);
	pd(r, 1, data(1), 32, 5, WR);
	pd(r, 2, data(2), 8, 1, 0);
}
static void p_ok_full(struct ring *r) /* num 6: every slot, one buffer each */
{
	for (unsigned i = 0; i < r->num; i++)
		pd(r, i, data(i), 16, (uint16_t)(r->num - 1 - i), (uint16_t)(i & 1 ? WR : 0));
}
static void p_ok_indirect(struct ring *r)
{
	pt(r, 0, 0, data(0), 16, 0);
	pt(r, 0, 1, data(1), 24, 0);
	pt(r, 0, 2, data(2), 64, WR);
	pd(r, 0, itab(0), 48, 3, INDIR);
}
static void p_zero_len(struct ring *r)
{
	pd(r, 0, data(0), 0, 0, NEXT);
	pd(r, 1, data(1), 24, 0, NEXT);
	pd(r, 2, data(2), 0, 2, WR);
}
static void p_addr_outside(struct ring *r)
{
	pd(r, 0, BASE + MEM_SIZE + 0x1000, 16, 0, 0);
}
static void p_addr_cross_end(struct ring *r)
{
	pd(r, 0, data(0), 16, 0, NEXT);
	pd(r, 1, BASE + MEM_SIZE - 8, 16, 0, WR);
}
static void p_addr_wrap(struct ring *r)
{
	pd(r, 0, 0xfffffffffffffff0ull, 0x20, 0, 0);
}
static void p_indirect_len0(struct ring *r)
{
	pd(r, 0, itab(0), 0, 0, INDIR);
}
static void p_indirect_len_odd(struct ring *r)
{
	pt(r, 0, 0, data(0), 16, 0);
	pd(r, 0, itab(0), 24, 0, INDIR);
}
static void p_indirect_over_policy(struct ring *r) /* max_indirect 4 */
{
	for (unsigned i = 0; i < 5; i++)
		pt(r, 0, i, data(i), 8, 0);
	pd(r, 0, itab(0), 5 * 16, 0, INDIR);
}
static void p_itab_outside(struct ring *r)
{
	pd(r, 0, BASE + MEM_SIZE + 0x100, 32, 0, INDIR);
}
static void p_itab_cross_end(struct ring *r)
{
	/* 2 entries declared, the second past the view's end (packed walks
	 * tables by count, so it is read: this must fault). */
	write_desc(r->mem + MEM_SIZE - 16, data(0), 16, 0, 0);
	pd(r, 0, BASE + MEM_SIZE - 16, 32, 0, INDIR);
}
static void p_rd_after_wr(struct ring *r)
{
	pd(r, 0, data(0), 16, 0, NEXT | WR);
	pd(r, 1, data(1), 16, 0, 0);
}
static void p_rd_after_wr_indirect(struct ring *r)
{
	pt(r, 0, 0, data(0), 16, WR);
	pt(r, 0, 1, data(1), 16, 0);
	pd(r, 0, itab(0), 32, 0, INDIR);
}
static void p_total_over_4g(struct ring *r)
{
	pd(r, 0, 0x100000000ull, 0x80000000u, 0, NEXT);
	pd(r, 1, 0x200000000ull, 0x80000000u, 0, NEXT | WR);
	pd(r, 2, 0x300000000ull, 1, 0, WR);
}
/* INDIR-DRV-8: an INDIRECT descriptor inside a NEXT list. */
static void p_indirect_in_list(struct ring *r)
{
	pt(r, 0, 0, data(1), 16, 0);
	pd(r, 0, data(0), 16, 0, NEXT);
	pd(r, 1, itab(0), 16, 0, INDIR);
}
static void p_indirect_and_next(struct ring *r)
{
	pt(r, 0, 0, data(1), 16, 0);
	pd(r, 0, itab(0), 16, 0, INDIR | NEXT);
	pd(r, 1, data(0), 16, 0, 0);
}
/* INDIRECT inside a packed table: INDIR-DEV-3 says ignore every flag but
 * WRITE; refusing it (EBADMSG) is defensible too. */
static void p_nested_indirect(struct ring *r)
{
	pt(r, 0, 0, data(0), 16, INDIR);
	pd(r, 0, itab(0), 16, 0, INDIR);
}
/* Every slot NEXT: the list runs into its own head on the next lap. */
static void p_list_all_next(struct ring *r)
{
	for (unsigned i = 0; i < r->num; i++)
		pd(r, i, data(i), 8, 0, NEXT);
}

static const struct row prows[] = {
    {"packed/ok_simple", p_ok_simple, {0}, 2, 0, 0, M_PACKED, 8},
    {"packed/ok_full_num6", p_ok_full, {0}, 6, 6, 0, M_PACKED, 0},
    {"packed/ok_indirect", p_ok_indirect, {0}, 1, 0, 0, M_PACKED, 40},
    {"packed/zero_len_ok", p_zero_len, {0}, 1, 0, 0, M_PACKED, 24},
    {"packed/addr_outside", p_addr_outside, {VTIO_EFAULT}, 0, 0, 0, M_PACKED | M_BUFADDR, 0},
    {"packed/addr_cross_end", p_addr_cross_end, {VTIO_EFAULT}, 0, 6, 0, M_PACKED | M_BUFADDR, 0},
    {"packed/addr_wrap_2_64", p_addr_wrap, {VTIO_EFAULT, VTIO_EOVERFLOW}, 0, 0, 0, M_PACKED, 0},
    {"packed/indirect_len0", p_indirect_len0, {VTIO_EBADMSG}, 0, 0, 0, M_PACKED, 0},
    {"packed/indirect_len_not_16x", p_indirect_len_odd, {VTIO_EBADMSG}, 0, 0, 0, M_PACKED, 0},
    {"packed/indirect_over_policy",
     p_indirect_over_policy,
     {VTIO_E2BIG, VTIO_EMSGSIZE, VTIO_ELOOP},
     0,
     0,
     4,
     M_PACKED,
     0},
    {"packed/itab_outside", p_itab_outside, {VTIO_EFAULT}, 0, 0, 0, M_PACKED, 0},
    {"packed/itab_cross_end", p_itab_cross_end, {VTIO_EFAULT}, 0, 0, 0, M_PACKED, 0},
    {"packed/rd_after_wr", p_rd_after_wr, {VTIO_EBADMSG}, 0, 0, 0, M_PACKED, 0},
    {"packed/rd_after_wr_indirect", p_rd_after_wr_indirect, {VTIO_EBADMSG}, 0, 0, 0, M_PACKED, 0},
    {"packed/total_over_4g", p_total_over_4g, {VTIO_EOVERFLOW}, 0, 0, 0, M_PACKED | M_BIG, 0},
    {"packed/indirect_in_next_list", p_indirect_in_list, {VTIO_EBADMSG}, 0, 0, 0, M_PACKED, 0},
    {"packed/indirect_and_next", p_indirect_and_next, {VTIO_EBADMSG}, 0, 0, 0, M_PACKED, 0},
    {"packed/nested_indirect", p_nested_indirect, {VTIO_EBADMSG}, 0, 0, 0, M_PACKED | M_EITHER, 0},
    {"packed/list_all_next", p_list_all_next, {VTIO_ELOOP, VTIO_EPROTO}, 0, 6, 0, M_PACKED, 0},
};

/* ---- Views --------------------------------------------------------------------- */

struct ops_ctx {
	unsigned char *mem;
	int big;	  /* also accept [0, BIG_LIMIT) as zero-filled memory */
	unsigned outside; /* accesses refused (outside the view) */
};

static int in_mem(uint64_t addr, size_t len)
{
	return addr >= BASE && len <= MEM_SIZE && addr - BASE <= MEM_SIZE - len;
}

static int ops_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
	struct ops_ctx *o = ctx;
	if (in_mem(addr, len)) {
		memcpy(dst, o->mem + (addr - BASE), len);
		return 0;
	}
	if (o->big && addr < BIG_LIMIT && len <= BIG_LIMIT - addr &&
	    (addr + len <= BASE || addr >= BASE + MEM_SIZE)) {
		memset(dst, 0, len);
		return 0;
	}
	o->outside++;
	return VTIO_EFAULT;
}

static int ops_write(void *ctx, uint64_t addr, const void *src, size_t len)
{
	struct ops_ctx *o = ctx;
	if (in_mem(addr, len)) {
		memcpy(o->mem + (addr - BASE), src, len);
		return 0;
	}
	if (o->big && addr < BIG_LIMIT && len <= BIG_LIMIT - addr &&
	    (addr + len <= BASE || addr >= BASE + MEM_SIZE))
		return 0;
	o->outside++;
	return VTIO_EFAULT;
}

static const struct vtio_mem_ops view_ops = {ops_read, ops_write, NULL};

enum view_kind { V_REGIONS, V_OPS, V_LEGACY };
static const char *const view_name[] = {"regions", "ops", "legacy"};

static int expected(const struct row *rw, int rc)
{
	for (unsigned i = 0; i < 3; i++)
		if (rw->expect[i] != 0 && rw->expect[i] == rc)
			return 1;
	return 0;
}

static void check_iovs(const struct vtio_iov *v, unsigned n, const unsigned char *mem,
		       enum view_kind vk, int big, const char *what)
{
	for (unsigned i = 0; i < n; i++) {
		if (v[i].ptr != NULL) {
			const unsigned char *p = v[i].ptr;
			if (vk == V_OPS)
				fail_msg("%s: iov %u has a pointer in an ops-only view", what, i);
			if (p < mem || p > mem + MEM_SIZE ||
			    v[i].len > (size_t)(mem + MEM_SIZE - p))
				fail_msg("%s: iov %u pointer outside the view", what, i);
			if (v[i].addr - BASE != (uint64_t)(p - mem))
				fail_msg("%s: iov %u pointer does not match its address", what, i);
		}
		if (!big && !in_mem(v[i].addr, v[i].len))
			fail_msg("%s: iov %u address outside the view", what, i);
	}
}

static struct vtio_iov rd_iov[IOV_CAP], wr_iov[IOV_CAP];

/* Allocations of the running row, freed by row_teardown() even when a check
 * fails (cmocka leaves the test through longjmp). */
static void *row_allocs[3];

static int row_teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		free(row_allocs[i]);
		row_allocs[i] = NULL;
	}
	return 0;
}

/* Run one row over one view kind; returns the error code seen (0 if none). */
static int run_row(const struct row *rw, enum view_kind vk)
{
	uint32_t num = rw->num ? rw->num : 8;
	unsigned char *mem = aligned_alloc(4096, MEM_SIZE);
	assert_non_null(mem);
	row_allocs[0] = mem;
	memset(mem, 0, MEM_SIZE);
	struct ring r = {mem, num, 0};
	g_native = vk == V_LEGACY;
	rw->build(&r);
	g_native = 0;

	/* Snapshot: the device writes only the used ring (SPLIT-DEV-4). */
	unsigned char *snap = malloc(MEM_SIZE);
	assert_non_null(snap);
	row_allocs[1] = snap;
	memcpy(snap, mem, MEM_SIZE);

	int big = (rw->mode & M_BIG) != 0;
	struct vtio_mem view;
	struct vtio_mem_region reg = {BASE, MEM_SIZE, mem, VTIO_MEM_RW};
	struct ops_ctx oc = {mem, big, 0};
	if (vk == V_OPS || big) {
		assert_int_equal(vtio_mem_init(&view, NULL, 0), 0);
		assert_int_equal(vtio_mem_set_ops(&view, &view_ops, &oc), 0);
	} else {
		assert_int_equal(vtio_mem_init(&view, &reg, 1), 0);
	}

	unsigned notifies = 0;
	struct vtio_devq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	const int packed = (rw->mode & M_PACKED) != 0;
	const enum vtio_layout layout = packed ? VTIO_LAYOUT_PACKED : VTIO_LAYOUT_SPLIT;
	cfg.layout = layout;
	cfg.num = num;
	cfg.features = VTIO_FEATURE(VTIO_F_INDIRECT_DESC) | VTIO_FEATURE(VTIO_F_EVENT_IDX);
	if (vk != V_LEGACY)
		cfg.features |= VTIO_FEATURE(VTIO_F_VERSION_1);
	if (packed)
		cfg.features |= VTIO_FEATURE(VTIO_F_RING_PACKED);
	cfg.desc_addr = desc_addr();
	cfg.driver_addr = BASE + AVAIL_OFF;
	cfg.device_addr = BASE + USED_OFF;
	cfg.mem = &view;
	cfg.max_indirect = rw->max_ind;
	cfg.notify = tc_notify_count;
	cfg.notify_ctx = &notifies;

	size_t ssz = vtio_devq_state_size(layout, num);
	assert_true(ssz > 0);
	void *state = aligned_alloc(16, (ssz + 15) & ~(size_t)15);
	assert_non_null(state);
	row_allocs[2] = state;
	struct vtio_devq *q = NULL;
	int rc = vtio_devq_init(&q, state, ssz, &cfg);
	if (rc != 0)
		fail_msg("%s/%s: devq_init %d (%s)", rw->name, view_name[vk], rc,
			 vtio_strerror(rc));

	unsigned popped = 0;
	int deferred = 0;
	struct vtio_devq_chain c;
	uint64_t last_rd = 0;
	for (unsigned iter = 0; iter < num + 2; iter++) {
		tc_chain_init(&c, rd_iov, IOV_CAP, wr_iov, IOV_CAP);
		rc = vtio_devq_pop(q, &c);
		if (rc != 0)
			break;
		if (vk == V_OPS && (rw->mode & M_BUFADDR) && popped == rw->good) {
			/* Deferred check: reading or writing the bad piece must fail. */
			static unsigned char bounce[MEM_SIZE];
			int64_t r1 = c.rd_len
					 ? vtio_devq_read(q, &c, 0, bounce,
							  c.rd_len < MEM_SIZE ? c.rd_len : MEM_SIZE)
					 : 0;
			int64_t r2 =
			    c.wr_len ? vtio_devq_write(q, &c, 0, bounce,
						       c.wr_len < MEM_SIZE ? c.wr_len : MEM_SIZE)
				     : 0;
			if (r1 >= 0 && r2 >= 0)
				fail_msg("%s/ops: bad buffer address neither refused at pop nor "
					 "at access (read %lld, write %lld)",
					 rw->name, (long long)r1, (long long)r2);
			deferred = 1;
			rc = r1 < 0 ? (int)r1 : (int)r2;
			break;
		}
		popped++;
		check_iovs(c.rd, c.rd_num, mem, vk, big, rw->name);
		check_iovs(c.wr, c.wr_num, mem, vk, big, rw->name);
		uint64_t s = 0;
		for (unsigned i = 0; i < c.rd_num; i++)
			s += c.rd[i].len;
		assert_true(s == c.rd_len);
		s = 0;
		for (unsigned i = 0; i < c.wr_num; i++)
			s += c.wr[i].len;
		assert_true(s == c.wr_len);
		assert_true(c.id < num);
		last_rd = c.rd_len;
		assert_int_equal(vtio_devq_push(q, &c, 0), 0);
	}

	if (deferred) {
		printf("  (%s/ops: address check deferred to access: %d)\n", rw->name, rc);
	} else if (rw->expect[0] == 0 || ((rw->mode & M_EITHER) && rc == VTIO_EAGAIN)) {
		if (rc != VTIO_EAGAIN)
			fail_msg("%s/%s: expected only good chains, got %d (%s) after %u", rw->name,
				 view_name[vk], rc, vtio_strerror(rc), popped);
		assert_false(vtio_devq_is_broken(q));
		if (rw->expect[0] == 0 && rw->rd_total != 0 && last_rd != rw->rd_total)
			fail_msg("%s/%s: rd_len %llu, expected %llu", rw->name, view_name[vk],
				 (unsigned long long)last_rd, (unsigned long long)rw->rd_total);
	} else {
		if (!expected(rw, rc))
			fail_msg("%s/%s: expected %d (%s), got %d (%s) after %u good chains",
				 rw->name, view_name[vk], rw->expect[0],
				 vtio_strerror(rw->expect[0]), rc, vtio_strerror(rc), popped);
		if (!vtio_devq_is_broken(q))
			fail_msg("%s/%s: error %d but queue not broken", rw->name, view_name[vk],
				 rc);
		if (vtio_devq_broken_reason(q) == NULL)
			fail_msg("%s/%s: broken without a reason", rw->name, view_name[vk]);
		/* Every later call fails with VTIO_EIO. */
		tc_chain_init(&c, rd_iov, IOV_CAP, wr_iov, IOV_CAP);
		assert_int_equal(vtio_devq_pop(q, &c), VTIO_EIO);
		assert_int_equal(vtio_devq_pop(q, &c), VTIO_EIO);
		struct vtio_devq_chain fake;
		memset(&fake, 0, sizeof(fake));
		assert_int_equal(vtio_devq_push(q, &fake, 0), VTIO_EIO);
		struct vtio_devq_done u = {{0, 1, 0}, 0};
		assert_int_equal(vtio_devq_push_batch(q, &u, 1), VTIO_EIO);
		assert_int_equal(vtio_devq_notify(q), VTIO_EIO);
	}
	if (popped != rw->good && !((rw->mode & M_EITHER) && popped == rw->good + 1))
		fail_msg("%s/%s: %u good chains popped, expected %u", rw->name, view_name[vk],
			 popped, rw->good);

	/* Nothing but the device's own area was written: split, the used ring
	 * (SPLIT-DEV-4); packed, the descriptor ring and the device event area. */
	size_t lo1 = packed ? DESC_OFF : USED_OFF;
	size_t hi1 = packed ? DESC_OFF + 16u * num : USED_OFF + vtio_split_used_size(num);
	size_t lo2 = packed ? USED_OFF : hi1, hi2 = packed ? USED_OFF + 4u : hi1;
	if (memcmp(mem, snap, lo1) != 0 || memcmp(mem + hi1, snap + hi1, lo2 - hi1) != 0 ||
	    memcmp(mem + hi2, snap + hi2, MEM_SIZE - hi2) != 0)
		fail_msg("%s/%s: device wrote outside its own areas", rw->name, view_name[vk]);

	return rc == VTIO_EAGAIN ? 0 : rc;
}

struct row_case {
	const struct row *rw;
	enum view_kind vk;
};

/* One cmocka test per row and view, so one bug does not hide the others. */
static void test_row(void **state)
{
	const struct row_case *rc = *state;
	int err = run_row(rc->rw, rc->vk);
	printf("  %-32s %-8s -> %d %s\n", rc->rw->name, view_name[rc->vk], err,
	       err ? vtio_strerror(err) : "");
}

/* ---- iov arrays too small: VTIO_ENOBUFS, not broken, nothing consumed ------------- */

static void small_setup_layout(struct hr_dev *e, uint32_t num, enum vtio_layout layout)
{
	struct hr_dev_config c = {.layout = layout,
				  .num = num,
				  .features = VTIO_FEATURE(VTIO_F_INDIRECT_DESC),
				  .base = BASE,
				  .size = MEM_SIZE,
				  .desc_off = DESC_OFF,
				  .driver_off = AVAIL_OFF,
				  .device_off = USED_OFF};
	if (layout == VTIO_LAYOUT_PACKED)
		c.features |= VTIO_FEATURE(VTIO_F_RING_PACKED);
	hr_dev_setup(e, &c);
}

static void small_setup(struct hr_dev *e, uint32_t num)
{
	small_setup_layout(e, num, VTIO_LAYOUT_SPLIT);
}

static int pop_caps(struct vtio_devq *q, struct vtio_devq_chain *c, unsigned rd_max,
		    unsigned wr_max)
{
	return hr_pop(q, c, rd_iov, rd_max, wr_iov, wr_max);
}

static uint16_t used_idx(const struct hr_dev *e)
{
	uint16_t v;
	memcpy(&v, e->mem + USED_OFF + 2, 2);
	return vtio_le16(v);
}

/* Direct chain of 3 readable + 2 writable; then an indirect one of 5 + 1. */
static void test_enobufs_nothing_consumed(void **state)
{
	(void)state;
	struct hr_dev e;
	small_setup(&e, 8);
	struct ring r = {e.mem, 8, 0};
	desc(&r, 0, data(0), 16, NEXT, 1);
	desc(&r, 1, data(1), 16, NEXT, 2);
	desc(&r, 2, data(2), 16, NEXT, 3);
	desc(&r, 3, data(3), 16, NEXT | WR, 4);
	desc(&r, 4, data(4), 16, WR, 0);
	avail(&r, 0);
	for (unsigned i = 0; i < 6; i++)
		idesc(&r, 0, i, data(5 + i), 8, (uint16_t)((i < 5 ? NEXT : 0) | (i == 5 ? WR : 0)),
		      (uint16_t)(i + 1));
	desc(&r, 5, itab(0), 6 * 16, INDIR, 0);
	avail(&r, 5);

	struct vtio_devq_chain c;
	static const unsigned caps[][2] = {{2, 2}, {3, 1}, {0, 0}, {0, 2}, {3, 0}};
	for (unsigned k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
		assert_int_equal(pop_caps(e.q, &c, caps[k][0], caps[k][1]), VTIO_ENOBUFS);
		assert_false(vtio_devq_is_broken(e.q));
		assert_null(vtio_devq_broken_reason(e.q));
		assert_true(vtio_devq_more_avail(e.q));
	}
	assert_int_equal(used_idx(&e), 0);
	/* The same chain comes out once the arrays are big enough. */
	assert_int_equal(pop_caps(e.q, &c, 3, 2), 0);
	assert_int_equal(c.id, 0);
	assert_int_equal(c.rd_num, 3);
	assert_int_equal(c.wr_num, 2);
	assert_int_equal(c.rd_len, 48);
	assert_int_equal(c.wr_len, 32);
	assert_int_equal(vtio_devq_push(e.q, &c, 32), 0);

	/* Indirect: 5 readable + 1 writable entries. */
	assert_int_equal(pop_caps(e.q, &c, 4, 8), VTIO_ENOBUFS);
	assert_int_equal(pop_caps(e.q, &c, 8, 0), VTIO_ENOBUFS);
	assert_false(vtio_devq_is_broken(e.q));
	assert_int_equal(pop_caps(e.q, &c, 5, 1), 0);
	assert_int_equal(c.id, 5);
	assert_int_equal(c.rd_len, 40);
	assert_int_equal(c.wr_len, 8);
	assert_int_equal(vtio_devq_push(e.q, &c, 8), 0);
	assert_int_equal(pop_caps(e.q, &c, 8, 8), VTIO_EAGAIN);
	assert_int_equal(used_idx(&e), 2);
	hr_dev_teardown(&e);
}

/* The same for a packed ring: a 3 + 2 list, then an indirect 5 + 1 table. */
static void test_enobufs_packed(void **state)
{
	(void)state;
	struct hr_dev e;
	small_setup_layout(&e, 8, VTIO_LAYOUT_PACKED);
	struct ring r = {e.mem, 8, 0};
	pd(&r, 0, data(0), 16, 0, NEXT);
	pd(&r, 1, data(1), 16, 0, NEXT);
	pd(&r, 2, data(2), 16, 0, NEXT);
	pd(&r, 3, data(3), 16, 0, NEXT | WR);
	pd(&r, 4, data(4), 16, 3, WR);
	for (unsigned i = 0; i < 6; i++)
		pt(&r, 0, i, data(5 + i), 8, (uint16_t)(i == 5 ? WR : 0));
	pd(&r, 5, itab(0), 6 * 16, 4, INDIR);
	struct vtio_devq_chain c;
	static const unsigned caps[][2] = {{2, 2}, {3, 1}, {0, 0}};
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(pop_caps(e.q, &c, caps[k][0], caps[k][1]), VTIO_ENOBUFS);
		assert_false(vtio_devq_is_broken(e.q));
		assert_true(vtio_devq_more_avail(e.q));
	}
	assert_int_equal(pop_caps(e.q, &c, 3, 2), 0);
	assert_int_equal(c.id, 3);
	assert_int_equal(c.ndesc, 5);
	assert_int_equal(c.rd_len, 48);
	assert_int_equal(c.wr_len, 32);
	assert_int_equal(vtio_devq_push(e.q, &c, 32), 0);
	assert_int_equal(pop_caps(e.q, &c, 4, 8), VTIO_ENOBUFS);
	assert_false(vtio_devq_is_broken(e.q));
	assert_int_equal(pop_caps(e.q, &c, 5, 1), 0);
	assert_int_equal(c.id, 4);
	assert_int_equal(c.ndesc, 1);
	assert_int_equal(c.rd_len, 40);
	assert_int_equal(c.wr_len, 8);
	assert_int_equal(vtio_devq_push(e.q, &c, 8), 0);
	assert_int_equal(pop_caps(e.q, &c, 8, 8), VTIO_EAGAIN);
	hr_dev_teardown(&e);
}

/* devq.h: a push with len larger than the chain's writable length is
 * VTIO_EINVAL (a device-side caller bug), writes nothing and does not break
 * the queue: vtio_devq_push() from the chain, vtio_devq_push_handle() and
 * vtio_devq_push_batch() from the completion handle (a bad entry anywhere
 * in a batch refuses the whole batch). */
static void test_push_len_too_big(void **state)
{
	(void)state;
	struct hr_dev e;
	small_setup(&e, 8);
	struct ring r = {e.mem, 8, 0};
	desc(&r, 0, data(0), 16, NEXT, 1);
	desc(&r, 1, data(1), 32, WR, 0);
	avail(&r, 0);
	struct vtio_devq_chain c;
	assert_int_equal(pop_caps(e.q, &c, 4, 4), 0);
	assert_int_equal(vtio_devq_push(e.q, &c, 33), VTIO_EINVAL);
	struct vtio_devq_handle h = vtio_devq_handle_of(&c);
	assert_int_equal(h.wr_cap, 32);
	assert_int_equal(vtio_devq_push_handle(e.q, h, 33), VTIO_EINVAL);
	struct vtio_devq_done d[2] = {{h, 0}, {h, 33}};
	assert_int_equal(vtio_devq_push_batch(e.q, d, 2), VTIO_EINVAL);
	struct vtio_devq_handle bad = h;
	bad.id = 8;
	assert_int_equal(vtio_devq_push_handle(e.q, bad, 0), VTIO_EINVAL);
	assert_false(vtio_devq_is_broken(e.q));
	assert_int_equal(used_idx(&e), 0);
	assert_int_equal(vtio_devq_push_handle(e.q, h, 32), 0);
	assert_int_equal(used_idx(&e), 1);
	d[1].len = 32;
	d[0].len = 32;
	assert_int_equal(vtio_devq_push_batch(e.q, d, 1), 0);
	assert_int_equal(used_idx(&e), 2);
	hr_dev_teardown(&e);
}

/* The largest split queue (32768, SPLIT-DRV-2): head and next == 32768 are
 * out of range, a jump of 32769 is too far, a full ring of 32768 heads and a
 * 32768-descriptor chain are fine (SPLIT-DEV-8/9 at the limit). */
static void test_max_queue_size(void **state)
{
	(void)state;
	const uint32_t num = 32768;
	const size_t desc_sz = vtio_split_desc_size(num), av_sz = vtio_split_avail_size(num);
	const size_t used_sz = vtio_split_used_size(num);
	const size_t av_off = desc_sz, used_off = (av_off + av_sz + 15) & ~(size_t)15;
	const size_t data_off = (used_off + used_sz + 15) & ~(size_t)15;
	const size_t total = data_off + 4096;
	for (unsigned scenario = 0; scenario < 5; scenario++) {
		unsigned char *mem = aligned_alloc(4096, (total + 4095) & ~(size_t)4095);
		assert_non_null(mem);
		memset(mem, 0, total);
		struct vtio_mem_region reg = {BASE, total, mem, VTIO_MEM_RW};
		struct vtio_mem view;
		assert_int_equal(vtio_mem_init(&view, &reg, 1), 0);
		unsigned char *d = mem, *av = mem + av_off;
		uint16_t idx = 0;
		int expect = 0;
		unsigned good = 0;
		switch (scenario) {
		case 0: /* head == num */
			put16(av + 4, 32768);
			idx = 1;
			expect = VTIO_ERANGE;
			break;
		case 1: /* next == num */
			write_desc(d, BASE + data_off, 8, NEXT, 32768);
			put16(av + 4, 0);
			idx = 1;
			expect = VTIO_ERANGE;
			break;
		case 2: /* jump of num + 1 */
			idx = 32769;
			expect = VTIO_EPROTO;
			break;
		case 3: /* full ring: 32768 one-descriptor heads */
			for (uint32_t i = 0; i < num; i++) {
				write_desc(d + 16u * i, BASE + data_off + (i & 255u), 1, 0, 0);
				put16(av + vtio_split_avail_ring_off(i), (uint16_t)(num - 1 - i));
			}
			idx = 32768;
			good = num;
			break;
		default: /* one chain through all 32768 descriptors */
			for (uint32_t i = 0; i < num; i++)
				write_desc(d + 16u * i, BASE + data_off + (i & 255u), 1,
					   i + 1 < num ? NEXT : 0, (uint16_t)(i + 1));
			put16(av + 4, 0);
			idx = 1;
			good = 1;
			break;
		}
		put16(av + 2, idx);
		struct vtio_devq_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.layout = VTIO_LAYOUT_SPLIT;
		cfg.num = num;
		cfg.features = VTIO_FEATURE(VTIO_F_VERSION_1);
		cfg.desc_addr = BASE;
		cfg.driver_addr = BASE + av_off;
		cfg.device_addr = BASE + used_off;
		cfg.mem = &view;
		unsigned notifies = 0;
		cfg.notify = tc_notify_count;
		cfg.notify_ctx = &notifies;
		size_t ssz = vtio_devq_state_size(VTIO_LAYOUT_SPLIT, num);
		void *st = aligned_alloc(16, (ssz + 15) & ~(size_t)15);
		assert_non_null(st);
		struct vtio_devq *q;
		assert_int_equal(vtio_devq_init(&q, st, ssz, &cfg), 0);
		static struct vtio_iov big_rd[32768];
		unsigned popped = 0;
		int rc;
		for (;;) {
			struct vtio_devq_chain c;
			tc_chain_init(&c, big_rd, 32768, wr_iov, IOV_CAP);
			rc = vtio_devq_pop(q, &c);
			if (rc != 0)
				break;
			if (scenario == 3)
				assert_int_equal(c.id, num - 1 - popped);
			if (scenario == 4)
				assert_int_equal(c.rd_num, num);
			popped++;
			assert_int_equal(vtio_devq_push(q, &c, 0), 0);
		}
		if (expect != 0) {
			/* An idx jump may be EPROTO or ERANGE, as in the corpus rows. */
			if (rc != expect && !(scenario == 2 && rc == VTIO_ERANGE))
				fail_msg("num 32768 scenario %u: expected %d, got %d", scenario,
					 expect, rc);
			assert_true(vtio_devq_is_broken(q));
		} else {
			assert_int_equal(rc, VTIO_EAGAIN);
			assert_false(vtio_devq_is_broken(q));
		}
		assert_int_equal(popped, good);
		free(st);
		free(mem);
	}
}

/* A looping chain must report ELOOP even when the arrays are smaller than
 * the loop would fill: ENOBUFS cannot be an endless "retry with more". */
static void test_loop_with_small_arrays(void **state)
{
	(void)state;
	struct hr_dev e;
	small_setup(&e, 8);
	struct ring r = {e.mem, 8, 0};
	desc(&r, 0, data(0), 16, NEXT, 1);
	desc(&r, 1, data(1), 16, NEXT, 0);
	avail(&r, 0);
	struct vtio_devq_chain c;
	int rc = pop_caps(e.q, &c, 1, 1);
	/* With arrays too small the device may say so first... */
	unsigned cap = 1;
	while (rc == VTIO_ENOBUFS && cap < IOV_CAP) {
		assert_false(vtio_devq_is_broken(e.q));
		cap *= 2;
		rc = pop_caps(e.q, &c, cap, cap);
	}
	/* ...but with enough room it must find the loop (bound: num descriptors). */
	assert_int_equal(rc, VTIO_ELOOP);
	assert_true(cap <= 16);
	assert_true(vtio_devq_is_broken(e.q));
	hr_dev_teardown(&e);
}

/* A broken queue stays broken until vtio_devq_reset() (RESET-DEV-4), which
 * returns it to its defaults: last_avail = 0, not broken. */
static void test_broken_until_reset(void **state)
{
	(void)state;
	struct hr_dev e;
	small_setup(&e, 8);
	struct ring r = {e.mem, 8, 0};
	avail(&r, 9);
	struct vtio_devq_chain c;
	assert_int_equal(pop_caps(e.q, &c, 4, 4), VTIO_ERANGE);
	assert_true(vtio_devq_is_broken(e.q));
	/* Fixing the ring does not un-break the queue. */
	put16(e.mem + AVAIL_OFF + 4, 0);
	desc(&r, 0, data(0), 16, 0, 0);
	assert_int_equal(pop_caps(e.q, &c, 4, 4), VTIO_EIO);
	vtio_devq_reset(e.q);
	assert_false(vtio_devq_is_broken(e.q));
	assert_null(vtio_devq_broken_reason(e.q));
	/* After reset the device starts again at avail slot 0. */
	assert_int_equal(pop_caps(e.q, &c, 4, 4), 0);
	assert_int_equal(c.id, 0);
	assert_int_equal(c.rd_len, 16);
	hr_dev_teardown(&e);
}

/* A writable descriptor pointing into memory the view maps read-only must not
 * come back as a writable iov (the device would write there). */
static void test_writable_into_readonly_region(void **state)
{
	(void)state;
	unsigned char *mem = aligned_alloc(4096, MEM_SIZE);
	unsigned char *ro = aligned_alloc(4096, 0x1000);
	assert_non_null(mem);
	assert_non_null(ro);
	memset(mem, 0, MEM_SIZE);
	memset(ro, 0xa5, 0x1000);
	struct vtio_mem_region regs[2] = {{BASE, MEM_SIZE, mem, VTIO_MEM_RW},
					  {BASE + 0x100000, 0x1000, ro, VTIO_MEM_READ}};
	struct vtio_mem view;
	assert_int_equal(vtio_mem_init(&view, regs, 2), 0);
	struct ring r = {mem, 8, 0};
	desc(&r, 0, BASE + 0x100000, 64, NEXT, 1); /* readable: fine */
	desc(&r, 1, BASE + 0x100040, 64, WR, 0);   /* writable into read-only */
	avail(&r, 0);
	unsigned notifies = 0;
	struct vtio_devq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.layout = VTIO_LAYOUT_SPLIT;
	cfg.num = 8;
	cfg.features = VTIO_FEATURE(VTIO_F_VERSION_1);
	cfg.desc_addr = desc_addr();
	cfg.driver_addr = BASE + AVAIL_OFF;
	cfg.device_addr = BASE + USED_OFF;
	cfg.mem = &view;
	cfg.notify = tc_notify_count;
	cfg.notify_ctx = &notifies;
	size_t ssz = vtio_devq_state_size(VTIO_LAYOUT_SPLIT, 8);
	void *st = aligned_alloc(16, (ssz + 15) & ~(size_t)15);
	struct vtio_devq *q;
	assert_int_equal(vtio_devq_init(&q, st, ssz, &cfg), 0);
	struct vtio_devq_chain c;
	int rc = pop_caps(q, &c, 4, 4);
	if (rc == 0) {
		/* Deferred check: acceptable only if the writable piece has no
		 * pointer and writing through the queue fails. */
		assert_int_equal(c.wr_num, 1);
		if (c.wr[0].ptr != NULL)
			fail_msg("writable iov points into read-only memory");
		unsigned char buf[64] = {0};
		assert_true(vtio_devq_write(q, &c, 0, buf, sizeof(buf)) < 0);
		for (unsigned i = 0; i < 0x1000; i++)
			assert_int_equal(ro[i], 0xa5);
	} else {
		if (rc != VTIO_EACCES && rc != VTIO_EFAULT)
			fail_msg("writable descriptor into read-only memory: got %d (%s)", rc,
				 vtio_strerror(rc));
		assert_true(vtio_devq_is_broken(q));
	}
	free(st);
	free(ro);
	free(mem);
}

#define NROWS  (sizeof(rows) / sizeof(rows[0]))
#define NPROWS (sizeof(prows) / sizeof(prows[0]))

int main(void)
{
	static const struct CMUnitTest fixed[] = {
	    cmocka_unit_test(test_enobufs_nothing_consumed),
	    cmocka_unit_test(test_enobufs_packed),
	    cmocka_unit_test(test_push_len_too_big),
	    cmocka_unit_test(test_max_queue_size),
	    cmocka_unit_test(test_loop_with_small_arrays),
	    cmocka_unit_test(test_broken_until_reset),
	    cmocka_unit_test(test_writable_into_readonly_region),
	};
	static struct row_case cases[3 * (NROWS + NPROWS)];
	static char names[3 * (NROWS + NPROWS)][64];
	static struct CMUnitTest tests[3 * (NROWS + NPROWS) + sizeof(fixed) / sizeof(fixed[0])];
	size_t n = 0;
	for (int vk = V_REGIONS; vk <= V_LEGACY; vk++) {
		for (size_t i = 0; i < NROWS + NPROWS; i++) {
			const struct row *rw = i < NROWS ? &rows[i] : &prows[i - NROWS];
			if (vk == V_OPS && (rw->mode & (M_NOOPS | M_BIG)))
				continue;
			if (vk == V_LEGACY && (!(rw->mode & M_LEGACY) || (rw->mode & M_PACKED)))
				continue;
			cases[n].rw = rw;
			cases[n].vk = (enum view_kind)vk;
			snprintf(names[n], sizeof(names[n]), "%s/%s", view_name[vk], rw->name);
			memset(&tests[n], 0, sizeof(tests[n]));
			tests[n].name = names[n];
			tests[n].test_func = test_row;
			tests[n].teardown_func = row_teardown;
			tests[n].initial_state = &cases[n];
			n++;
		}
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		tests[n++] = fixed[i];
	return _cmocka_run_group_tests("hostile_driver", tests, n, NULL, NULL);
}
