/* vtio_vq_add_batch() and vtio_vq_get_used_batch() across two threads: the
 * driver adds and reaps in batches of 1..16 on one thread, the device
 * (fx_echo_device) pops and echoes each buffer on the other. Packed and split through local
 * pointers (the hot batch loops), split IN_ORDER (the fast add loop, the
 * general reap) and legacy packed (the general loops). Under TSan (label
 * "threads") a descriptor field written after the release of its flags (or
 * of avail->idx), or a used field read before the acquire, is reported; the
 * round trip checks every token, its order and its length.
 *
 * Checklist: PACKED-DRV-7/8 (fields, then flags, release), PACKED-DRV-14
 * (flags, acquire, then id/len), SPLIT-DRV-12 (ring entries before idx),
 * SPLIT-DRV-15 (used->idx before the entries). */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ring_fixture.h"
#include "tc_util.h"

#define ROUNDS 20000u

/* The driver: batches of 1..16 buffers (tokens 1, 2, ...), reaped in
 * batches of 1..16; every token back in order with length 8. */
static void drive(struct fx *f, unsigned char *buf)
{
	uint32_t sent = 0, got = 0, round = 0;
	while (got < ROUNDS) {
		round++;
		unsigned want = 1u + round % 16u;
		if (want > ROUNDS - sent)
			want = ROUNDS - sent;
		if (want != 0 && vtio_vq_num_free(f->vq) != 0) {
			struct vtio_sg sg[16];
			void *tk[16];
			for (unsigned i = 0; i < want; i++) {
				sg[i] = vtio_sg_of(buf + 8u * i, 8);
				tk[i] = (void *)(uintptr_t)(sent + i + 1u);
			}
			int k = vtio_vq_add_batch(f->vq, sg, want, true, tk);
			assert_true(k >= 1 && (unsigned)k <= want);
			sent += (uint32_t)k;
		}
		assert_int_equal(vtio_vq_kick(f->vq), 0);
		void *tok[16];
		uint32_t len[16];
		int k;
		while ((k = vtio_vq_get_used_batch(f->vq, tok, len, 1u + (round * 7u) % 16u)) > 0) {
			for (int i = 0; i < k; i++) {
				got++;
				assert_true((uintptr_t)tok[i] == got); /* FIFO: one device thread */
				assert_int_equal(len[i], 8);
			}
		}
		assert_int_equal(k, VTIO_EAGAIN);
		if (vtio_vq_enable_cb(f->vq))
			sched_yield();
		vtio_vq_disable_cb(f->vq);
	}
	assert_int_equal(sent, ROUNDS);
}

static void run(enum vtio_layout layout, uint64_t features)
{
	struct fx f;
	assert_int_equal(fx_setup(&f, layout, 16, features, NULL), 0);
	unsigned char *buf = fx_alloc(&f, 8u * 16u, 16);
	struct fx_echo a = {.f = &f, .rounds = ROUNDS};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fx_echo_device, &a), 0);
	drive(&f, buf);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(a.err, 0);
	assert_int_equal(a.done, ROUNDS);
	assert_false(vtio_devq_is_broken(f.dq));
	assert_false(vtio_vq_is_broken(f.vq));
	assert_int_equal(vtio_vq_num_free(f.vq), 16);
	fx_teardown(&f);
}

#define EVIDX VTIO_FEATURE(VTIO_F_EVENT_IDX)

static void test_batch_mt_packed_hot(void **state)
{
	(void)state;
	run(VTIO_LAYOUT_PACKED, FX_MODERN | EVIDX);
}

static void test_batch_mt_packed_legacy(void **state)
{
	(void)state;
	run(VTIO_LAYOUT_PACKED, EVIDX);
}

static void test_batch_mt_split_hot(void **state)
{
	(void)state;
	run(VTIO_LAYOUT_SPLIT, FX_MODERN | EVIDX);
}

static void test_batch_mt_split_in_order(void **state)
{
	(void)state;
	run(VTIO_LAYOUT_SPLIT, FX_MODERN | EVIDX | VTIO_FEATURE(VTIO_F_IN_ORDER));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batch_mt_packed_hot),
	    cmocka_unit_test(test_batch_mt_packed_legacy),
	    cmocka_unit_test(test_batch_mt_split_hot),
	    cmocka_unit_test(test_batch_mt_split_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
