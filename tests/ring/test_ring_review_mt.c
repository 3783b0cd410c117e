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

static void run(uint64_t features)
{
	struct fx f;
	struct fx_opts o = {.ring_mem = &f.mem};
	assert_int_equal(fx_setup(&f, VTIO_LAYOUT_SPLIT, 16, features, &o), 0);
	unsigned char *buf = fx_alloc(&f, 64, 16);
	struct fx_echo a = {.f = &f, .rounds = ROUNDS};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fx_echo_device, &a), 0);
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
