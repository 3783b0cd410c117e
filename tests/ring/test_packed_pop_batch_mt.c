/* vtio_devq_pop_batch() across two threads: the driver on one, the device
 * taking what is available in batches on the other, on a packed ring
 * through local pointers (VERSION_1: the hot batch loop; legacy: the
 * general loop). Under TSan (label "threads") a descriptor field read
 * before the flags' acquire, or written after the release, is reported;
 * the round trip checks every token, its order and its length
 * (PACKED-DEV-4/9: flags, acquire, then the fields; PACKED-DEV-8 and
 * PACKED-DRV-14: the used side the same way round). */
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

struct dev_arg {
	struct fx *f;
	uint32_t done;
	int err;
};

static void *device_thread(void *p)
{
	struct dev_arg *a = p;
	struct fx *f = a->f;
	static struct vtio_iov rd[8][2], wr[8][2];
	struct vtio_devq_chain c[8];
	unsigned round = 0;
	while (a->done < ROUNDS) {
		for (unsigned i = 0; i < 8; i++)
			tc_chain_init(&c[i], rd[i], 2, wr[i], 2);
		int k = vtio_devq_pop_batch(f->dq, c, 1u + round++ % 8u);
		if (k == VTIO_EAGAIN) {
			if (vtio_devq_enable_notify(f->dq))
				sched_yield();
			vtio_devq_disable_notify(f->dq);
			continue;
		}
		if (k < 0) {
			a->err = k;
			return NULL;
		}
		/* Half the batches in one push_batch, half one push each. */
		int err = 0;
		if (round % 2u) {
			struct vtio_devq_done d[8];
			for (int i = 0; i < k; i++) {
				d[i].h = vtio_devq_handle_of(&c[i]);
				d[i].len = 8;
			}
			err = vtio_devq_push_batch(f->dq, d, (unsigned)k);
		} else {
			for (int i = 0; i < k && err == 0; i++)
				err = vtio_devq_push(f->dq, &c[i], 8);
		}
		if (err == 0)
			err = vtio_devq_kick(f->dq);
		if (err != 0) {
			a->err = err;
			return NULL;
		}
		a->done += (uint32_t)k;
	}
	return NULL;
}

static void run(uint64_t features)
{
	struct fx f;
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_PACKED, 16, features, NULL), 0);
	unsigned char *buf = fx_alloc(&f, 64, 16);
	struct dev_arg a = {.f = &f};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, device_thread, &a), 0);
	fx_drive_fifo(&f, buf, ROUNDS);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(a.err, 0);
	assert_int_equal(a.done, ROUNDS);
	assert_false(vtio_devq_is_broken(f.dq));
	fx_teardown(&f);
}

static void test_pop_batch_mt_hot(void **state)
{
	(void)state;
	run(FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX));
}

static void test_pop_batch_mt_legacy(void **state)
{
	(void)state;
	run(VTIO_FEATURE(VTIO_F_EVENT_IDX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pop_batch_mt_hot),
	    cmocka_unit_test(test_pop_batch_mt_legacy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
