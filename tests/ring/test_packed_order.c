/* Order of the writes each side makes to a packed ring, observed through a
 * logging memory view (every ring access of the side under test goes through
 * the view's read/write ops), and which areas each side reads.
 *
 * Checklist: PACKED-DRV-7/8 (descriptors, then the head's flags last),
 * PACKED-DEV-8 (id/len, then flags; in a batch the first used descriptor's
 * flags last), PACKED-DRV-9/10 (room for the whole list first; no list
 * longer than the queue), EVT-DRV-7 / EVT-DEV-8 (off_wrap before flags),
 * and the placement note of vq.h: both sides read the descriptor ring, each
 * event area is read only by the side it is meant for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ring_fixture.h"

#define AV VTIO_DESC_F_AVAIL
#define US VTIO_DESC_F_USED

struct wlog {
	const struct vtio_mem *inner;
	unsigned n;
	uint64_t addr[256];
	uint32_t len[256];
};

static int log_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
	struct wlog *l = ctx;
	return vtio_mem_read(l->inner, addr, dst, len);
}

static int log_write(void *ctx, uint64_t addr, const void *src, size_t len)
{
	struct wlog *l = ctx;
	if (l->n < 256) {
		l->addr[l->n] = addr;
		l->len[l->n] = (uint32_t)len;
		l->n++;
	}
	return vtio_mem_write(l->inner, addr, src, len);
}

static const struct vtio_mem_ops log_ops = {log_read, log_write, NULL};

/* A view with no regions, only the logging ops over @inner. */
static void log_view(struct vtio_mem *m, struct wlog *l, const struct vtio_mem *inner)
{
	memset(l, 0, sizeof(*l));
	l->inner = inner;
	assert_int_equal(vtio_mem_init(m, NULL, 0), 0);
	assert_int_equal(vtio_mem_set_ops(m, &log_ops, l), 0);
}

/* The driver's ring accesses go through a logging view over the arena. */
struct drvfx {
	struct fx f;
	struct vtio_mem view;
	struct wlog log;
};

static void drv_setup(struct drvfx *d, uint32_t num, uint64_t features)
{
	/* f.mem (the arena's one-region view) is set up before either queue. */
	log_view(&d->view, &d->log, &d->f.mem);
	struct fx_opts o = {.indirect_tables = 2, .indirect_max = 8, .ring_mem = &d->view};
	assert_int_equal(fx_setup(&d->f, VTIO_LAYOUT_PACKED, num, features, &o), 0);
	d->log.n = 0;
}

static uint64_t flags_addr(const struct fx *f, uint32_t slot)
{
	return f->areas.desc_addr + slot * 16u + 14u;
}

/* PACKED-DRV-7/8: every descriptor of the list is written before the
 * head's flags, which are the last write of vtio_vq_add(); nothing is
 * written for an add that does not fit (PACKED-DRV-9) or is too long
 * (PACKED-DRV-10). */
static void test_order_driver_add(void **state)
{
	(void)state;
	struct drvfx d;
	drv_setup(&d, 5, FX_MODERN);
	unsigned char *buf = fx_alloc(&d.f, 64, 16);
	struct vtio_sg sg[6];
	for (int i = 0; i < 6; i++)
		sg[i] = vtio_sg_of(buf + i * 8, 8);
	int tok[3];
	for (int round = 0; round < 4; round++) {
		d.log.n = 0;
		/* 3 descriptors, wrapping from round 1 on */
		assert_int_equal(vtio_vq_add(d.f.vq, sg, 1, 2, &tok[0]), 0);
		uint32_t head = (uint32_t)(round * 3) % 5u;
		assert_true(d.log.n >= 2);
		assert_int_equal(d.log.addr[d.log.n - 1], flags_addr(&d.f, head));
		assert_int_equal(d.log.len[d.log.n - 1], 2);
		/* the other slots' flags were written earlier, and all three
		 * descriptors' fields before the head's flags */
		for (uint32_t k = 1; k < 3; k++) {
			uint64_t fa = flags_addr(&d.f, (head + k) % 5u);
			bool seen = false;
			for (unsigned i = 0; i + 1 < d.log.n; i++)
				if (d.log.addr[i] == fa)
					seen = true;
			assert_true(seen);
		}
		/* no room for 3 more (2 free): nothing written */
		d.log.n = 0;
		assert_int_equal(vtio_vq_add(d.f.vq, sg, 1, 2, &tok[1]), VTIO_ENOSPC);
		assert_int_equal(d.log.n, 0);
		/* longer than the queue and no indirect: E2BIG, nothing written */
		assert_int_equal(vtio_vq_add(d.f.vq, sg, 3, 3, &tok[1]), VTIO_E2BIG);
		assert_int_equal(d.log.n, 0);
		struct vtio_devq_chain c;
		fx_chain_init(&d.f, &c);
		assert_int_equal(vtio_devq_pop(d.f.dq, &c), 0);
		assert_int_equal(vtio_devq_push(d.f.dq, &c, 0), 0);
		assert_ptr_equal(vtio_vq_get_used(d.f.vq, NULL), &tok[0]);
	}
	fx_teardown(&d.f);
}

/* EVT-DRV-7: off_wrap is written before the flags. */
static void test_order_driver_event(void **state)
{
	(void)state;
	struct drvfx d;
	drv_setup(&d, 8, FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX));
	vtio_vq_disable_cb(d.f.vq);
	d.log.n = 0;
	assert_true(vtio_vq_enable_cb(d.f.vq));
	assert_int_equal(d.log.n, 2);
	assert_int_equal(d.log.addr[0], d.f.areas.driver_addr);	    /* off_wrap */
	assert_int_equal(d.log.addr[1], d.f.areas.driver_addr + 2); /* flags */
	fx_teardown(&d.f);
}

/* PACKED-DEV-8: a batch of used descriptors is written id/len first, and
 * the first descriptor's flags last; EVT-DEV-8: off_wrap before flags. */
static void test_order_device_batch(void **state)
{
	(void)state;
	struct fx f;
	struct vtio_mem view;
	struct wlog log;
	struct vtio_mem_region reg;
	struct vtio_mem arena_view;
	/* Device view: logging ops over the arena (created after the fixture). */
	assert_int_equal(
	    fx_setup(&f, VTIO_LAYOUT_PACKED, 8, FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX), NULL),
	    0);
	reg.addr = fx_addr(f.arena);
	reg.len = f.arena_size;
	reg.host = f.arena;
	reg.perm = VTIO_MEM_RW;
	assert_int_equal(vtio_mem_init(&arena_view, &reg, 1), 0);
	log_view(&view, &log, &arena_view);
	struct vtio_devq_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.layout = VTIO_LAYOUT_PACKED;
	dc.num = 8;
	dc.features = FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX);
	dc.desc_addr = f.areas.desc_addr;
	dc.driver_addr = f.areas.driver_addr;
	dc.device_addr = f.areas.device_addr;
	dc.mem = &view;
	dc.notify = fx_irq_cb;
	dc.notify_ctx = &f;
	size_t dst = vtio_devq_state_size(VTIO_LAYOUT_PACKED, 8);
	assert_int_equal(vtio_devq_init(&f.dq, fx_alloc(&f, dst, 16), dst, &dc), 0);

	unsigned char *buf = fx_alloc(&f, 64, 16);
	int tok[3];
	struct vtio_devq_done u[3];
	for (int i = 0; i < 3; i++) {
		struct vtio_sg sg[2] = {vtio_sg_of(buf, 8), vtio_sg_of(buf + 8, 8)};
		assert_int_equal(vtio_vq_add(f.vq, sg, 1, 1, &tok[i]), 0);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		u[i].h = vtio_devq_handle_of(&c);
		u[i].len = 4;
	}
	log.n = 0;
	assert_int_equal(vtio_devq_push_batch(f.dq, u, 3), 0);
	/* used descriptors at slots 0, 2, 4 */
	assert_int_equal(log.n, 6);
	assert_int_equal(log.addr[log.n - 1], flags_addr(&f, 0));
	for (unsigned i = 0; i + 1 < log.n; i++)
		assert_true(log.addr[i] != flags_addr(&f, 0));
	/* each descriptor's id/len before its flags */
	for (uint32_t s = 2; s <= 4; s += 2) {
		int at_len = -1, at_flags = -1;
		for (unsigned i = 0; i < log.n; i++) {
			if (log.addr[i] == f.areas.desc_addr + s * 16u + 8u)
				at_len = (int)i;
			if (log.addr[i] == flags_addr(&f, s))
				at_flags = (int)i;
		}
		assert_true(at_len >= 0 && at_flags > at_len);
	}
	for (int i = 0; i < 3; i++)
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok[i]);
	/* EVT-DEV-8 */
	log.n = 0;
	assert_true(vtio_devq_enable_notify(f.dq));
	assert_int_equal(log.n, 2);
	assert_int_equal(log.addr[0], f.areas.device_addr);
	assert_int_equal(log.addr[1], f.areas.device_addr + 2);
	fx_teardown(&f);
}

/* vq.h placement note: through counting views, over a long run, both sides
 * read the descriptor ring; the driver never reads the driver area (its
 * own event area) and the device never reads the device area. */
static void test_order_area_reads(void **state)
{
	(void)state;
	struct fx f;
	struct fx_opts o = {.count = true};
	assert_int_equal(
	    fx_setup(&f, VTIO_LAYOUT_PACKED, 7, FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX), &o), 0);
	unsigned char *buf = fx_alloc(&f, 64, 16);
	int tok;
	for (unsigned k = 0; k < 3; k++) { /* forget the zeroing done by init */
		f.drv_count.ranges[k].reads = f.drv_count.ranges[k].writes = 0;
		f.dev_count.ranges[k].reads = f.dev_count.ranges[k].writes = 0;
	}
	for (int i = 0; i < 3000; i++) {
		struct vtio_sg sg[2] = {vtio_sg_of(buf, 8), vtio_sg_of(buf + 8, 8)};
		assert_int_equal(vtio_vq_add(f.vq, sg, 1, (unsigned)i % 2, &tok), 0);
		(void)vtio_vq_kick(f.vq);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
		(void)vtio_devq_kick(f.dq);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), &tok);
		if (i % 5 == 0) {
			(void)vtio_vq_enable_cb(f.vq);
			(void)vtio_devq_enable_notify(f.dq);
		}
	}
	assert_true(f.drv_count.ranges[0].reads > 0);	  /* driver reads the ring */
	assert_int_equal(f.drv_count.ranges[1].reads, 0); /* never its own event area */
	assert_true(f.drv_count.ranges[2].reads > 0);	  /* reads the device's */
	assert_true(f.dev_count.ranges[0].reads > 0);
	assert_true(f.dev_count.ranges[1].reads > 0);
	assert_int_equal(f.dev_count.ranges[2].reads, 0);
	assert_int_equal(f.drv_count.ranges[2].writes, 0); /* each writes one event area */
	assert_int_equal(f.dev_count.ranges[1].writes, 0);
	fx_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_driver_add),
	    cmocka_unit_test(test_order_driver_event),
	    cmocka_unit_test(test_order_device_batch),
	    cmocka_unit_test(test_order_area_reads),
	};
	return FX_RUN_PACKED_ONLY(tests);
}
