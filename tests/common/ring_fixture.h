/* Shared fixture of the ring behavioural suites: one driver queue and one
 * device queue over the same ring memory, for any compiled layout. All
 * memory (rings, state, buffers) lives in one heap arena whose CPU address is
 * also its "driver address", seen by the device through a one-region view. */
#ifndef VTIO_TEST_RING_FIXTURE_H
#define VTIO_TEST_RING_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <cmocka.h>

#include "vtio/vq.h"
#include "vtio/devq.h"
#include "ring_layouts.h"
#include "tc_util.h"

#define FX_MODERN (VTIO_FEATURE(VTIO_F_VERSION_1))

struct fx_opts {
	uint32_t indirect_tables;
	uint32_t indirect_max;
	uint32_t indirect_threshold;
	uint32_t vq_flags;
	struct vtio_dma_dev *dma;
	const struct vtio_mem *ring_mem; /* driver-side view of its rings */
	const struct vtio_mem *dev_mem;	 /* device-side view (default: the arena) */
	uint32_t max_indirect;
	uint64_t bus_offset; /* device view also maps [arena+off, ...) to the arena */
	bool count;	     /* driver rings and device view through counting views */
};

struct fx {
	enum vtio_layout layout;
	uint32_t num;
	uint64_t features;
	unsigned char *arena;
	size_t arena_size;
	size_t arena_used;
	struct vtio_mem_region region[2];
	struct vtio_mem mem;
	struct vtio_mem_counter drv_count; /* driver's ring accesses (opts.count) */
	struct vtio_mem_counter dev_count; /* device's accesses (opts.count) */
	struct vtio_vq_areas areas;
	struct vtio_vq *vq;
	struct vtio_devq *dq;
	unsigned kicks, irqs;
	uint32_t last_kick_data;
	struct vtio_iov rd[64], wr[64];
};

static inline int fx_kick_cb(void *ctx, uint32_t data)
{
	struct fx *f = ctx;
	f->kicks++;
	f->last_kick_data = data;
	return 0;
}

static inline int fx_irq_cb(void *ctx, uint32_t data)
{
	struct fx *f = ctx;
	(void)data;
	f->irqs++;
	return 0;
}

/* Carve @n bytes (aligned to @align) from the arena. */
static inline void *fx_alloc(struct fx *f, size_t n, size_t align)
{
	size_t off = (f->arena_used + align - 1) & ~(align - 1);
	if (off + n > f->arena_size)
		abort();
	f->arena_used = off + n;
	return f->arena + off;
}

static inline uint64_t fx_addr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* Set up both sides; returns 0 or the first init error. */
static inline int fx_setup(struct fx *f, enum vtio_layout layout, uint32_t num, uint64_t features,
			   const struct fx_opts *o)
{
	struct fx_opts none;
	memset(&none, 0, sizeof(none));
	if (o == NULL)
		o = &none;
	memset(f, 0, sizeof(*f));
	f->layout = layout;
	f->num = num;
	f->features = features;
	size_t st = vtio_vq_state_size(layout, num, o->indirect_tables, o->indirect_max);
	size_t dst = vtio_devq_state_size(layout, num);
	struct vtio_vq_area_sizes s;
	if (vtio_vq_area_sizes(layout, num, &s) != 0 || st == 0 || dst == 0)
		return VTIO_EINVAL;
	f->arena_size = st + dst + s.desc + s.driver + s.device + (1u << 20) + 256;
	f->arena = aligned_alloc(4096, (f->arena_size + 4095) & ~(size_t)4095);
	if (f->arena == NULL)
		abort();
	memset(f->arena, 0xa5, f->arena_size);
	f->region[0].addr = fx_addr(f->arena);
	f->region[0].len = f->arena_size;
	f->region[0].host = f->arena;
	f->region[0].perm = VTIO_MEM_RW;
	f->region[1] = f->region[0];
	f->region[1].addr += o->bus_offset;
	vtio_mem_init(&f->mem, f->region, o->bus_offset ? 2 : 1);
	const struct vtio_mem *ring_mem = o->ring_mem;
	const struct vtio_mem *dev_mem = o->dev_mem ? o->dev_mem : &f->mem;
	if (o->count) {
		vtio_mem_counter_init(&f->drv_count, &f->mem);
		vtio_mem_counter_init(&f->dev_count, dev_mem);
		ring_mem = &f->drv_count.view;
		dev_mem = &f->dev_count.view;
	}

	f->areas.desc = fx_alloc(f, s.desc, 16);
	f->areas.driver = fx_alloc(f, s.driver, 16);
	f->areas.device = fx_alloc(f, s.device, 16);
	f->areas.desc_addr = fx_addr(f->areas.desc);
	f->areas.driver_addr = fx_addr(f->areas.driver);
	f->areas.device_addr = fx_addr(f->areas.device);
	if (o->count) {
		/* Watch the three areas on both sides: slots 0..2 = desc, driver, device. */
		struct vtio_mem_counter *cs[2] = {&f->drv_count, &f->dev_count};
		for (int k = 0; k < 2; k++) {
			vtio_mem_counter_watch(cs[k], f->areas.desc_addr, s.desc);
			vtio_mem_counter_watch(cs[k], f->areas.driver_addr, s.driver);
			vtio_mem_counter_watch(cs[k], f->areas.device_addr, s.device);
		}
	}

	struct vtio_vq_config vc;
	memset(&vc, 0, sizeof(vc));
	vc.layout = layout;
	vc.index = 3;
	vc.num = num;
	vc.features = features;
	vc.flags = o->vq_flags;
	vc.areas = f->areas;
	vc.ring_mem = ring_mem;
	vc.indirect_tables = o->indirect_tables;
	vc.indirect_max = o->indirect_max;
	vc.indirect_threshold = o->indirect_threshold;
	vc.notify = fx_kick_cb;
	vc.notify_ctx = f;
	vc.dma = o->dma;
	int err = vtio_vq_init(&f->vq, fx_alloc(f, st, 16), st, &vc);
	if (err != 0)
		return err;

	struct vtio_devq_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.layout = layout;
	dc.index = 3;
	dc.num = num;
	dc.features = features;
	dc.desc_addr = f->areas.desc_addr;
	dc.driver_addr = f->areas.driver_addr;
	dc.device_addr = f->areas.device_addr;
	dc.mem = dev_mem;
	dc.max_indirect = o->max_indirect;
	dc.notify = fx_irq_cb;
	dc.notify_ctx = f;
	return vtio_devq_init(&f->dq, fx_alloc(f, dst, 16), dst, &dc);
}

static inline void fx_teardown(struct fx *f)
{
	free(f->arena);
	f->arena = NULL;
}

static inline void fx_chain_init(struct fx *f, struct vtio_devq_chain *c)
{
	tc_chain_init(c, f->rd, 64, f->wr, 64);
}

/* A view over f->mem (accessor ops only) that refuses chosen ranges with
 * VTIO_EFAULT: a ring_mem or device view whose reads or writes fail where
 * the test says. Ranges are bus addresses, or offsets from the arena's
 * address when @ref relative is set. */
struct fx_fault {
	const struct vtio_mem *inner;
	uint64_t rd_lo, rd_hi; /* reads overlapping [rd_lo, rd_hi) fail */
	uint64_t wr_lo, wr_hi; /* writes overlapping [wr_lo, wr_hi) fail */
	bool relative;
	struct vtio_mem view;
};

static inline bool fx_fault_hits(const struct fx_fault *c, uint64_t a, size_t len, uint64_t lo,
				 uint64_t hi)
{
	if (c->relative)
		a -= c->inner->regions[0].addr;
	return a < hi && lo < a + len;
}

static inline int fx_fault_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
	struct fx_fault *c = ctx;
	if (fx_fault_hits(c, addr, len, c->rd_lo, c->rd_hi))
		return VTIO_EFAULT;
	return vtio_mem_read(c->inner, addr, dst, len);
}

static inline int fx_fault_write(void *ctx, uint64_t addr, const void *src, size_t len)
{
	struct fx_fault *c = ctx;
	if (fx_fault_hits(c, addr, len, c->wr_lo, c->wr_hi))
		return VTIO_EFAULT;
	return vtio_mem_write(c->inner, addr, src, len);
}

/* Reset @p c (nothing refused) and return its view over f->mem; valid
 * before fx_setup() runs, which initialises f->mem before either queue. */
static inline const struct vtio_mem *fx_fault_view(struct fx_fault *c, struct fx *f)
{
	static const struct vtio_mem_ops ops = {fx_fault_read, fx_fault_write, NULL};
	memset(c, 0, sizeof(*c));
	c->inner = &f->mem;
	vtio_mem_init(&c->view, NULL, 0);
	vtio_mem_set_ops(&c->view, &ops, c);
	return &c->view;
}

/* fx_setup() (asserted to succeed) with the driver's rings behind the
 * refusing view @p c, nothing refused yet; returns 64 bytes of the arena. */
static inline unsigned char *fx_setup_faulty(struct fx *f, struct fx_fault *c,
					     enum vtio_layout layout, uint32_t num,
					     uint64_t features)
{
	struct fx_opts o = {.ring_mem = fx_fault_view(c, f)};
	assert_int_equal(fx_setup(f, layout, num, features, &o), 0);
	return fx_alloc(f, 64, 16);
}

/* A buffer of two writable 2 GiB segments over the arena (exactly 4 GiB,
 * never touched by either side) added with @p token and kicked. */
static inline void fx_add_4gib_writable(struct fx *f, void *token)
{
	unsigned char *buf = fx_alloc(f, 64, 16);
	struct vtio_sg sg[2] = {{fx_addr(buf), 0x80000000u},
				{fx_addr(buf) + 0x80000000u, 0x80000000u}};
	assert_int_equal(vtio_vq_add(f->vq, sg, 0, 2, token), 0);
	assert_int_equal(vtio_vq_kick(f->vq), 0);
}

/* Split: the device writes used->ring[@p slot] = {id, len} by hand, then
 * used->idx = @p new_idx (the device queue is not used). */
static inline void fx_put_used(struct fx *f, uint16_t slot, uint32_t id, uint32_t len,
			       uint16_t new_idx)
{
	unsigned char *u = f->areas.device;
	uint32_t wid = vtio_le32(id), wlen = vtio_le32(len);
	uint16_t widx = vtio_le16(new_idx);
	memcpy(u + vtio_split_used_ring_off(slot & (f->num - 1)), &wid, 4);
	memcpy(u + vtio_split_used_ring_off(slot & (f->num - 1)) + 4, &wlen, 4);
	memcpy(u + 2, &widx, 2);
}

/* The device's first answer written by hand: split, used->ring[0] =
 * {id, len} then used->idx = 1; packed, slot 0 gets id and len, then the
 * first lap's AVAIL | USED | WRITE. */
static inline void fx_hand_first_used(struct fx *f, uint16_t id, uint32_t len)
{
	if (f->layout == VTIO_LAYOUT_SPLIT) {
		fx_put_used(f, 0, id, len, 1);
		return;
	}
	unsigned char *d = f->areas.desc;
	uint32_t le_len = vtio_le32(len);
	uint16_t le_id = vtio_le16(id);
	uint16_t fl = vtio_le16(VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED | VTIO_DESC_F_WRITE);
	memcpy(d + 8, &le_len, 4);
	memcpy(d + 12, &le_id, 2);
	memcpy(d + 14, &fl, 2);
}

/* Packed: descriptor @p slot's fields as the other side reads them. */
static inline uint16_t fx_pdesc_flags(const struct fx *f, uint32_t slot)
{
	uint16_t v;
	memcpy(&v, (const unsigned char *)f->areas.desc + (size_t)slot * 16u + 14u, 2);
	return vtio_le16(v);
}

static inline uint16_t fx_pdesc_id(const struct fx *f, uint32_t slot)
{
	uint16_t v;
	memcpy(&v, (const unsigned char *)f->areas.desc + (size_t)slot * 16u + 12u, 2);
	return vtio_le16(v);
}

static inline uint32_t fx_pdesc_len(const struct fx *f, uint32_t slot)
{
	uint32_t v;
	memcpy(&v, (const unsigned char *)f->areas.desc + (size_t)slot * 16u + 8u, 4);
	return vtio_le32(v);
}

/* One buffer through both sides: add (@p out readable + @p in writable
 * segments), kick, pop with those counts, push @p len, reap @p token with
 * @p len. */
static inline void fx_round_trip(struct fx *f, const struct vtio_sg *sg, unsigned out, unsigned in,
				 void *token, uint32_t len)
{
	assert_int_equal(vtio_vq_add(f->vq, sg, out, in, token), 0);
	assert_int_equal(vtio_vq_kick(f->vq), 0);
	struct vtio_devq_chain c;
	fx_chain_init(f, &c);
	assert_int_equal(vtio_devq_pop(f->dq, &c), 0);
	assert_int_equal(c.rd_num, out);
	assert_int_equal(c.wr_num, in);
	assert_int_equal(vtio_devq_push(f->dq, &c, len), 0);
	uint32_t got = 0;
	assert_ptr_equal(vtio_vq_get_used(f->vq, &got), token);
	assert_int_equal(got, len);
}

/* Add a buffer of one readable and one writable 16-byte segment at @p buf
 * with @p token, kick, and pop it on the device side into @p c. */
static inline void fx_add_pop_1_1(struct fx *f, unsigned char *buf, void *token,
				  struct vtio_devq_chain *c)
{
	struct vtio_sg sg[2] = {vtio_sg_of(buf, 16), vtio_sg_of(buf + 16, 16)};
	assert_int_equal(vtio_vq_add(f->vq, sg, 1, 1, token), 0);
	(void)vtio_vq_kick(f->vq);
	fx_chain_init(f, c);
	assert_int_equal(vtio_devq_pop(f->dq, c), 0);
}

/* Add a buffer of @p nout readable + @p nin writable segments of @p seg
 * bytes each, fresh from the arena, with @p token (not kicked). */
static inline void fx_add_segs(struct fx *f, unsigned nout, unsigned nin, uint32_t seg, void *token)
{
	struct vtio_sg sg[8];
	assert_true(nout + nin <= 8);
	unsigned char *b = fx_alloc(f, (size_t)seg * (nout + nin), 8);
	for (unsigned i = 0; i < nout + nin; i++)
		sg[i] = vtio_sg_of(b + (size_t)seg * i, seg);
	assert_int_equal(vtio_vq_add(f->vq, sg, nout, nin, token), 0);
}

/* The device pops the next chain into @p c (the fixture's arrays). */
static inline void fx_pop(struct fx *f, struct vtio_devq_chain *c)
{
	fx_chain_init(f, c);
	assert_int_equal(vtio_devq_pop(f->dq, c), 0);
}

/*
 * The device half of a two-thread test, a thread function: pop one chain
 * at a time and complete it with length min(writable size, 8), kicking,
 * until @p rounds chains are done; the first error ends it in @p err.
 */
struct fx_echo {
	struct fx *f;
	uint32_t rounds;
	uint32_t done;
	int err;
};

static inline void *fx_echo_device(void *p)
{
	struct fx_echo *a = p;
	struct fx *f = a->f;
	struct vtio_iov rd[4], wr[4];
	while (a->done < a->rounds) {
		struct vtio_devq_chain c;
		tc_chain_init(&c, rd, 4, wr, 4);
		int err = vtio_devq_pop(f->dq, &c);
		if (err == VTIO_EAGAIN) {
			if (vtio_devq_enable_notify(f->dq))
				sched_yield();
			vtio_devq_disable_notify(f->dq);
			continue;
		}
		if (err == 0)
			err = vtio_devq_push(f->dq, &c, c.wr_len < 8u ? (uint32_t)c.wr_len : 8u);
		if (err == 0)
			err = vtio_devq_kick(f->dq);
		if (err != 0) {
			a->err = err;
			return NULL;
		}
		a->done++;
	}
	return NULL;
}

/*
 * The driver half of a two-thread test (the device runs in another thread
 * and echoes each 8-byte buffer with length 8): post @p rounds one-segment
 * writable buffers of @p buf (tokens 1, 2, ...), kick, reap, and check that
 * they come back in order with length 8; between passes re-arm callbacks and
 * yield when nothing is pending.
 */
static inline void fx_drive_fifo(struct fx *f, unsigned char *buf, uint32_t rounds)
{
	uint32_t sent = 0, got = 0;
	while (got < rounds) {
		while (sent < rounds && vtio_vq_num_free(f->vq) > 0) {
			struct vtio_sg sg = vtio_sg_of(buf, 8);
			if (vtio_vq_add(f->vq, &sg, 0, 1, (void *)(uintptr_t)(sent + 1u)) != 0)
				break;
			sent++;
		}
		assert_int_equal(vtio_vq_kick(f->vq), 0);
		uint32_t len;
		void *tok;
		while ((tok = vtio_vq_get_used(f->vq, &len)) != NULL) {
			got++;
			assert_true((uintptr_t)tok == got); /* in order: one device thread, FIFO */
			assert_int_equal(len, 8);
		}
		assert_false(vtio_vq_is_broken(f->vq));
		if (vtio_vq_enable_cb(f->vq))
			sched_yield();
		vtio_vq_disable_cb(f->vq);
	}
}

#endif
