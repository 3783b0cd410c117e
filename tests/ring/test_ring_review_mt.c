/* Review finding 5: 16-bit ring fields (indexes, flags, event fields) that
 * the driver reaches through a view (vtio_vq_config::ring_mem) must be one
 * untorn access, ordered like the pointer path: a view whose translate gives
 * an aligned pointer is accessed with the atomic 16-bit load/store, not a
 * byte copy. Driver and device run in two threads on one split ring; the
 * driver through a region view, the device through its fast pointers. Under
 * TSan (label "threads") a byte copy of avail->idx / used->idx racing with
 * the peer's atomic access is reported; the round trip itself checks every
 * token and length (SPLIT-DRV-12, SPLIT-DRV-15, SPLIT-DEV-5/7/8). */
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
	struct vtio_iov rd[4], wr[4];
	while (a->done < ROUNDS) {
		struct vtio_devq_chain c;
		tc_chain_init(&c, rd, 4, wr, 4);
		int err = vtio_devq_pop(f->dq, &c);
		if (err == VTIO_EAGAIN) {
			if (vtio_devq_enable_notify(f->dq))
				sched_yield();
			vtio_devq_disable_notify(f->dq);
			continue;
		}
		if (err != 0) {
			a->err = err;
			return NULL;
		}
		/* Length = the token's low bits, checked by the driver. */
		uint32_t len = c.wr_len < 8u ? c.wr_len : 8u;
		err = vtio_devq_push(f->dq, &c, len);
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

static void run(uint64_t features)
{
	struct fx f;
	struct fx_opts o = {.ring_mem = &f.mem};
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 16, features, &o), 0);
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

static void test_view_idx_fields_flags(void **state)
{
	(void)state;
	run(FX_MODERN);
}

static void test_view_idx_fields_event_idx(void **state)
{
	(void)state;
	run(FX_MODERN | VTIO_FEATURE(VTIO_F_EVENT_IDX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_view_idx_fields_flags),
	    cmocka_unit_test(test_view_idx_fields_event_idx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
