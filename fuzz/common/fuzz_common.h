/*
 * Pieces every fuzz harness shares (header only, so each harness is still
 * one translation unit under -fsanitize=fuzzer): the CHECK() invariant trap,
 * a no-op notification, chain arrays, the device-queue serve loop of the
 * transport fuzzers and the bounded memory view of the ring fuzzers.
 */
#ifndef VTIO_FUZZ_COMMON_H
#define VTIO_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vtio/devq.h"

#include "fuzz_input.h"

/* An invariant the library must keep whatever the input: trap (a crash the
 * fuzzer reports, a failed replay) when it does not. */
#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static inline int fuzz_notify_nop(void *ctx, uint32_t data)
{
	(void)ctx;
	(void)data;
	return 0;
}

/* A chain whose pop fills @p rd / @p wr up to the given capacities. */
static inline void fuzz_chain_caps(struct vtio_devq_chain *c, struct vtio_iov *rd, unsigned rd_max,
				   struct vtio_iov *wr, unsigned wr_max)
{
	memset(c, 0, sizeof(*c));
	c->rd = rd;
	c->rd_max = rd_max;
	c->wr = wr;
	c->wr_max = wr_max;
}

/* A device type's work on a live queue, as the transport fuzzers do it: up
 * to four chains popped, 64 bytes read, 64 bytes of @p fill written, each
 * pushed with the written length when @p exact and with the chain's writable
 * length + @p over otherwise (a device that overstates), then a used-buffer
 * notification. Results are ignored: the driver is hostile. */
static inline void fuzz_devq_serve(struct vtio_devq *q, unsigned char fill, bool exact,
				   uint32_t over)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vtio_iov rd[8], wr[8];
		struct vtio_devq_chain c;
		fuzz_chain_caps(&c, rd, 8, wr, 8);
		if (vtio_devq_pop(q, &c) != 0)
			break;
		unsigned char tmp[64];
		(void)vtio_devq_read(q, &c, 0, tmp, sizeof(tmp));
		memset(tmp, fill, sizeof(tmp));
		int64_t w = vtio_devq_write(q, &c, 0, tmp, sizeof(tmp));
		uint32_t len = w > 0 ? (uint32_t)w : 0;
		(void)vtio_devq_push(q, &c, exact ? len : (uint32_t)c.wr_len + over);
	}
	(void)vtio_devq_kick(q);
}

/* ---- The transport fuzzers' driver memory: an arena at its CPU address ---------------- */

/* A ring or buffer address from the input: anywhere (tag 0xff), else an
 * offset into @p arena, 16-byte aligned unless the tag's bit 0 is set. */
static inline uint64_t fuzz_arena_addr(struct input *in, const unsigned char *arena)
{
	uint8_t k = u8(in);
	if (k == 0xff)
		return u64(in); /* anywhere */
	return (uint64_t)(uintptr_t)arena + (u16(in) & ~(uint16_t)(k & 1 ? 0 : 15));
}

/* The hostile driver writes raw bytes into its memory: [off16][len8][bytes]. */
static inline void fuzz_arena_poke(struct input *in, unsigned char *arena, size_t size)
{
	uint16_t off = u16(in);
	uint8_t len = u8(in);
	for (unsigned k = 0; k < len && off + k < size; k++)
		arena[off + k] = u8(in);
}

/* ... or one descriptor (split or packed layout) whose buffer is inside the
 * arena, so seeds need no absolute addresses:
 * [off16][packed8][buf off16][len16][flags16][next or id16]. */
static inline void fuzz_arena_desc(struct input *in, unsigned char *arena, size_t size)
{
	uint16_t off = u16(in);
	uint8_t packed = u8(in) & 1;
	uint64_t a = (uint64_t)(uintptr_t)arena + u16(in);
	uint32_t len = u16(in);
	uint16_t f = u16(in), x = u16(in);
	if ((size_t)off + 16 > size)
		return;
	unsigned char *d = arena + off;
	uint64_t le_a = vtio_le64(a);
	uint32_t le_l = vtio_le32(len);
	uint16_t w1 = vtio_le16(packed ? x : f), w2 = vtio_le16(packed ? f : x);
	memcpy(d, &le_a, 8);
	memcpy(d + 8, &le_l, 4);
	memcpy(d + 12, &w1, 2);
	memcpy(d + 14, &w2, 2);
}

/* ---- The ring fuzzers' memory: [base, base + size) over one heap block ---------------- */

struct fuzz_view {
	uint64_t base;
	size_t size;
	unsigned char *mem;
};

static inline bool fuzz_in_view(const struct fuzz_view *v, uint64_t addr, uint64_t len)
{
	return addr >= v->base && len <= v->size && addr - v->base <= v->size - len;
}

static inline int fuzz_view_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
	const struct fuzz_view *v = ctx;
	if (!fuzz_in_view(v, addr, len))
		return VTIO_EFAULT;
	memcpy(dst, v->mem + (addr - v->base), len);
	return 0;
}

static inline int fuzz_view_write(void *ctx, uint64_t addr, const void *src, size_t len)
{
	const struct fuzz_view *v = ctx;
	if (!fuzz_in_view(v, addr, len))
		return VTIO_EFAULT;
	memcpy(v->mem + (addr - v->base), src, len);
	return 0;
}

/* Accessor ops over the view (no translate: every access is a copy). */
static inline const struct vtio_mem_ops *fuzz_view_ops(void)
{
	static const struct vtio_mem_ops ops = {fuzz_view_read, fuzz_view_write, NULL};
	return &ops;
}

/* @p view over @p v: one region (local pointers) or, when @p ops, the
 * accessor ops only (every access a bounds-checked copy). */
static inline void fuzz_view_init(struct vtio_mem *view, struct vtio_mem_region *reg,
				  struct fuzz_view *v, bool ops)
{
	if (ops) {
		CHECK(vtio_mem_init(view, NULL, 0) == 0);
		CHECK(vtio_mem_set_ops(view, fuzz_view_ops(), v) == 0);
	} else {
		*reg = (struct vtio_mem_region){v->base, v->size, v->mem, VTIO_MEM_RW};
		CHECK(vtio_mem_init(view, reg, 1) == 0);
	}
}

/* Every piece lies inside the view, a local pointer (regions view) is the
 * view's byte for its address (accessor view: no pointer), and the pieces
 * add up to @p total. */
static inline void fuzz_check_iovs(const struct fuzz_view *v, const struct vtio_iov *iov,
				   unsigned n, bool ops, uint64_t total)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++) {
		sum += iov[i].len;
		if (ops) {
			CHECK(iov[i].ptr == NULL);
			continue;
		}
		CHECK(fuzz_in_view(v, iov[i].addr, iov[i].len));
		if (iov[i].ptr != NULL)
			CHECK((const unsigned char *)iov[i].ptr ==
			      v->mem + (iov[i].addr - v->base));
	}
	CHECK(sum == total);
}

/* The driver's memory image from the input: a zeroed view, then the input's
 * next bytes laid out as three parts of @p part_len bytes at @p part_off (desc
 * area, the driver's area, indirect tables; short input leaves zeros), the
 * data area [data_off, data_off + 0x1000) patterned; @p snap gets a copy (what
 * the device may not change). Returns the bytes taken from @p data. */
static inline size_t fuzz_load_image(const struct fuzz_view *v, unsigned char *snap,
				     const uint8_t *data, size_t size, const size_t part_off[3],
				     const size_t part_len[3], size_t data_off)
{
	memset(v->mem, 0, v->size);
	size_t total = part_len[0] + part_len[1] + part_len[2];
	size_t take = size < total ? size : total;
	for (size_t i = 0; i < take; i++) {
		size_t off = i < part_len[0] ? part_off[0] + i
			     : i < part_len[0] + part_len[1]
				 ? part_off[1] + (i - part_len[0])
				 : part_off[2] + (i - part_len[0] - part_len[1]);
		v->mem[off] = data[i];
	}
	for (size_t i = 0; i < 0x1000u; i++)
		v->mem[data_off + i] = (unsigned char)(i * 7u);
	memcpy(snap, v->mem, v->size);
	return take;
}

/* ---- The device-side ring fuzzers' steps ---------------------------------------------- */

/* The device queue under test over @p view (state in @p state, at most
 * @p cap bytes), its rings at the given driver addresses. */
static inline struct vtio_devq *fuzz_devq_make(void *state, size_t cap, enum vtio_layout layout,
					       uint32_t num, uint64_t features,
					       uint32_t max_indirect, const uint64_t addr[3],
					       const struct vtio_mem *view)
{
	struct vtio_devq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.layout = layout;
	cfg.num = num;
	cfg.features = features;
	cfg.max_indirect = max_indirect;
	cfg.desc_addr = addr[0];
	cfg.driver_addr = addr[1];
	cfg.device_addr = addr[2];
	cfg.mem = view;
	cfg.notify = fuzz_notify_nop;
	size_t ssz = vtio_devq_state_size(layout, num);
	CHECK(ssz > 0 && ssz <= cap);
	struct vtio_devq *q;
	CHECK(vtio_devq_init(&q, state, ssz, &cfg) == 0);
	return q;
}

/* Pop with the input's capacities; VTIO_ENOBUFS must leave the queue usable,
 * and the same chain then comes out with @p big entries per array. */
static inline int fuzz_devq_pop_caps(struct vtio_devq *q, struct vtio_devq_chain *c,
				     struct vtio_iov *rd, unsigned rd_cap, struct vtio_iov *wr,
				     unsigned wr_cap, unsigned big)
{
	fuzz_chain_caps(c, rd, rd_cap, wr, wr_cap);
	int rc = vtio_devq_pop(q, c);
	if (rc == VTIO_ENOBUFS) {
		CHECK(!vtio_devq_is_broken(q));
		fuzz_chain_caps(c, rd, big, wr, big);
		rc = vtio_devq_pop(q, c);
		CHECK(rc != VTIO_ENOBUFS);
	}
	return rc;
}

/* A popped chain: every piece inside the view, the pieces adding up, 2^32
 * bytes at most in all; its readable part read through the queue (short
 * only through accessor ops, where an address is checked at access). */
static inline void fuzz_devq_check_chain(struct vtio_devq *q, const struct vtio_devq_chain *c,
					 const struct fuzz_view *v, bool ops,
					 unsigned char *scratch, size_t cap)
{
	CHECK(c->rd_len + c->wr_len <= ((uint64_t)1 << 32));
	CHECK(c->rd_num <= c->rd_max && c->wr_num <= c->wr_max);
	fuzz_check_iovs(v, c->rd, c->rd_num, ops, c->rd_len);
	fuzz_check_iovs(v, c->wr, c->wr_num, ops, c->wr_len);
	size_t want = c->rd_len < cap ? (size_t)c->rd_len : cap;
	int64_t got = vtio_devq_read(q, c, 0, scratch, want);
	CHECK(got <= (int64_t)want);
	if (!ops)
		CHECK(got == (int64_t)want);
}

/* Write up to 512 bytes of @p fill through the queue (the driver may have
 * pointed a writable piece at its own rings) and mirror them in @p snap,
 * piece by piece as the device writes. Returns the bytes written. */
static inline uint32_t fuzz_devq_write_mirror(struct vtio_devq *q, const struct vtio_devq_chain *c,
					      const struct fuzz_view *v, unsigned char *snap,
					      unsigned char *scratch, unsigned char fill)
{
	size_t n = c->wr_len < 512 ? (size_t)c->wr_len : 512u;
	memset(scratch, fill, n);
	CHECK(vtio_devq_write(q, c, 0, scratch, n) == (int64_t)n);
	size_t left = n;
	for (unsigned i = 0; i < c->wr_num && left > 0; i++) {
		size_t l = c->wr[i].len < left ? c->wr[i].len : left;
		memcpy(snap + (c->wr[i].addr - v->base), scratch, l);
		left -= l;
	}
	return (uint32_t)n;
}

/* A protocol violation: a specific error once, the queue broken with a
 * reason, VTIO_EIO after. (VTIO_EIO first is possible when a call that
 * returns no error, enable_notify or more_avail, found the violation.) */
static inline void fuzz_devq_check_broken(struct vtio_devq *q, int rc, struct vtio_iov *rd,
					  struct vtio_iov *wr, unsigned big)
{
	CHECK(rc < 0);
	CHECK(vtio_devq_is_broken(q));
	CHECK(vtio_devq_broken_reason(q) != NULL);
	struct vtio_devq_chain c;
	fuzz_chain_caps(&c, rd, big, wr, big);
	CHECK(vtio_devq_pop(q, &c) == VTIO_EIO);
}

/* The next driver write from the input's tail: [off_lo][off_hi][value],
 * offset modulo @p view_size. False when fewer than 3 bytes are left. */
static inline bool fuzz_next_patch(const uint8_t *data, size_t size, size_t *patch,
				   size_t view_size, size_t *off, uint8_t *val)
{
	if (size - *patch < 3)
		return false;
	*off = ((size_t)data[*patch] | (size_t)data[*patch + 1] << 8) % view_size;
	*val = data[*patch + 2];
	*patch += 3;
	return true;
}

#endif /* VTIO_FUZZ_COMMON_H */
