/* Device-side completion handles (devq.h: vtio_devq_handle, push_handle,
 * push_batch over vtio_devq_done), the chain's INDIRECT flag, and the
 * driver's vtio_vq_take_used() (nothing used vs broken), for every compiled
 * layout, driver and device running against each other (ring_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "ring_fixture.h"

static void add_buf(struct fx *f, unsigned char *buf, unsigned out, unsigned in, void *token)
{
	struct vtio_sg sg[8];
	for (unsigned i = 0; i < out + in; i++) {
		sg[i].addr = fx_addr(buf + 64u * i);
		sg[i].len = 64;
	}
	assert_int_equal(vtio_vq_add(f->vq, sg, out, in, token), 0);
}

/* A back end holding many requests by handle only, the chain and its arrays
 * reused for every pop, completing them in reverse and scrambled order,
 * singly and in batches: the driver gets every token with its length. */
static void test_handles_out_of_order(void **state)
{
	(void)state;
	for (size_t l = 0; l < FX_NLAYOUTS; l++) {
		struct fx f;
		assert_int_equal(fx_setup(&f, fx_layouts[l].layout, 64, FX_MODERN, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64u * 2u * 32u, 64);
		int tok[32];
		for (int i = 0; i < 32; i++)
			add_buf(&f, buf + 128u * (unsigned)i, 1, 1, &tok[i]);
		(void)vtio_vq_kick_prepare(f.vq);
		struct vtio_devq_handle held[32];
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		for (int i = 0; i < 32; i++) {
			assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
			assert_int_equal(c.flags, 0);
			held[i] = vtio_devq_handle_of(&c);
			assert_int_equal(held[i].wr_cap, 64);
			memset(&c.rd[0], 0, sizeof(c.rd[0])); /* arrays reused at once */
		}
		assert_int_equal(vtio_devq_pop(f.dq, &c), VTIO_EAGAIN);
		/* 31..16 one by one, with len = index */
		for (int i = 31; i >= 16; i--)
			assert_int_equal(vtio_devq_push_handle(f.dq, held[i], (uint32_t)i), 0);
		/* 0..15 in two batches, odd then even */
		struct vtio_devq_done d[8];
		for (int k = 0; k < 8; k++)
			d[k] = (struct vtio_devq_done){held[2 * k + 1], (uint32_t)(2 * k + 1)};
		assert_int_equal(vtio_devq_push_batch(f.dq, d, 8), 0);
		for (int k = 0; k < 8; k++)
			d[k] = (struct vtio_devq_done){held[2 * k], (uint32_t)(2 * k)};
		assert_int_equal(vtio_devq_push_batch(f.dq, d, 8), 0);
		bool seen[32] = {false};
		for (int n = 0; n < 32; n++) {
			void *t;
			uint32_t len = 999;
			assert_int_equal(vtio_vq_take_used(f.vq, &t, &len), 0);
			int i = (int)((int *)t - tok);
			assert_true(i >= 0 && i < 32 && !seen[i]);
			seen[i] = true;
			assert_int_equal(len, (uint32_t)i);
		}
		void *t = &tok[0];
		uint32_t len = 777;
		assert_int_equal(vtio_vq_take_used(f.vq, &t, &len), VTIO_EAGAIN);
		assert_null(t);
		assert_int_equal(len, 777);
		fx_teardown(&f);
	}
}

/* The handle checks: len over wr_cap and an id out of range are refused,
 * a batch with one bad entry writes nothing. */
static void test_handle_checks(void **state)
{
	(void)state;
	for (size_t l = 0; l < FX_NLAYOUTS; l++) {
		struct fx f;
		assert_int_equal(fx_setup(&f, fx_layouts[l].layout, 8, FX_MODERN, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64u * 4u, 64);
		int tok[2];
		add_buf(&f, buf, 1, 1, &tok[0]);
		add_buf(&f, buf + 128, 0, 2, &tok[1]);
		(void)vtio_vq_kick_prepare(f.vq);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		struct vtio_devq_handle h0 = vtio_devq_handle_of(&c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		struct vtio_devq_handle h1 = vtio_devq_handle_of(&c);
		assert_int_equal(h1.wr_cap, 128);
		assert_int_equal(vtio_devq_push_handle(f.dq, h0, 65), VTIO_EINVAL);
		struct vtio_devq_handle bad = h0;
		bad.id = 8;
		assert_int_equal(vtio_devq_push_handle(f.dq, bad, 0), VTIO_EINVAL);
		struct vtio_devq_done d[2] = {{h0, 64}, {h1, 129}};
		assert_int_equal(vtio_devq_push_batch(f.dq, d, 2), VTIO_EINVAL);
		void *t;
		assert_int_equal(vtio_vq_take_used(f.vq, &t, NULL), VTIO_EAGAIN);
		d[1].len = 128;
		assert_int_equal(vtio_devq_push_batch(f.dq, d, 2), 0);
		uint32_t len;
		assert_int_equal(vtio_vq_take_used(f.vq, &t, &len), 0);
		assert_ptr_equal(t, &tok[0]);
		assert_int_equal(len, 64);
		assert_int_equal(vtio_vq_take_used(f.vq, &t, &len), 0);
		assert_ptr_equal(t, &tok[1]);
		assert_int_equal(len, 128);
		assert_false(vtio_devq_is_broken(f.dq));
		fx_teardown(&f);
	}
}

/* vtio_devq_chain::flags reports a chain that came through an indirect
 * table, and only such a chain. */
static void test_chain_indirect_flag(void **state)
{
	(void)state;
	for (size_t l = 0; l < FX_NLAYOUTS; l++) {
		struct fx f;
		struct fx_opts o = {
		    .indirect_tables = 4, .indirect_max = 8, .indirect_threshold = 3};
		assert_int_equal(fx_setup(&f, fx_layouts[l].layout, 8,
					  FX_MODERN | VTIO_FEATURE(VTIO_F_INDIRECT_DESC), &o),
				 0);
		unsigned char *buf = fx_alloc(&f, 64u * 8u, 64);
		int tok[2];
		add_buf(&f, buf, 2, 2, &tok[0]); /* 4 segments: indirect */
		add_buf(&f, buf + 256, 1, 0, &tok[1]);
		(void)vtio_vq_kick_prepare(f.vq);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(c.flags, VTIO_DEVQ_CHAIN_F_INDIRECT);
		assert_int_equal(c.rd_num, 2);
		assert_int_equal(c.wr_num, 2);
		assert_int_equal(c.ndesc, 1);
		struct vtio_devq_handle h = vtio_devq_handle_of(&c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(c.flags, 0);
		assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
		assert_int_equal(vtio_devq_push_handle(f.dq, h, 128), 0);
		void *t;
		uint32_t len;
		assert_int_equal(vtio_vq_take_used(f.vq, &t, &len), 0);
		assert_ptr_equal(t, &tok[1]);
		assert_int_equal(vtio_vq_take_used(f.vq, &t, &len), 0);
		assert_ptr_equal(t, &tok[0]);
		assert_int_equal(len, 128);
		fx_teardown(&f);
	}
}

/* vtio_vq_take_used(): EAGAIN when nothing is used, EIO when the device's
 * used entry breaks the queue (an id not in flight: the device returned a
 * buffer twice), and EIO on every later call; get_used returns NULL for
 * both, which is why take_used exists. */
static void test_take_used_broken(void **state)
{
	(void)state;
	for (size_t l = 0; l < FX_NLAYOUTS; l++) {
		struct fx f;
		assert_int_equal(fx_setup(&f, fx_layouts[l].layout, 8, FX_MODERN, NULL), 0);
		unsigned char *buf = fx_alloc(&f, 64u * 2u, 64);
		int tok[2];
		void *t;
		assert_int_equal(vtio_vq_take_used(f.vq, &t, NULL), VTIO_EAGAIN);
		add_buf(&f, buf, 0, 1, &tok[0]);
		add_buf(&f, buf + 64, 0, 1, &tok[1]);
		(void)vtio_vq_kick_prepare(f.vq);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		struct vtio_devq_handle h = vtio_devq_handle_of(&c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(vtio_vq_take_used(f.vq, &t, NULL), VTIO_EAGAIN);
		assert_int_equal(vtio_devq_push_handle(f.dq, h, 4), 0);
		assert_int_equal(vtio_vq_take_used(f.vq, &t, NULL), 0);
		assert_ptr_equal(t, &tok[0]);
		/* A buggy device returns the same buffer again. */
		assert_int_equal(vtio_devq_push_handle(f.dq, h, 4), 0);
		assert_int_equal(vtio_vq_take_used(f.vq, &t, NULL), VTIO_EIO);
		assert_null(t);
		assert_true(vtio_vq_is_broken(f.vq));
		assert_non_null(vtio_vq_broken_reason(f.vq));
		assert_int_equal(vtio_vq_take_used(f.vq, &t, NULL), VTIO_EIO);
		assert_null(vtio_vq_get_used(f.vq, NULL));
		fx_teardown(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handles_out_of_order),
	    cmocka_unit_test(test_handle_checks),
	    cmocka_unit_test(test_chain_indirect_flag),
	    cmocka_unit_test(test_take_used_broken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
