/*
 * Layout of vtio_bounce_cache (issue 13, two-thread scaling): the guards at
 * both ends (VTIO_BOUNCE_CACHE_GUARD bytes) are never written by any call,
 * init included, so caches placed side by side (an array, one allocation,
 * next to a queue's fields) share no cache line that one of them writes.
 * bench/bounce/bounce_lines.sh counts the transfers this removes (two
 * caches adjacent in one array, 4 KiB mappings: the magazine of thread 0
 * and the pool pointer of thread 1 shared a line before).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "bounce_test_util.h"

#define SLOT	 2048u
#define NSLOTS	 256u
#define DEV_BASE 0x20000000ull
#define NCACHES	 3
#define PATTERN	 0xA5

/* The guards are the first and the last field, and everything the calls use
 * lies between them, at least a line from either end. */
static void test_cache_guards_frame_the_fields(void **state)
{
	(void)state;
	const size_t g = VTIO_BOUNCE_CACHE_GUARD;
	assert_true(g >= 64u);
	assert_int_equal(offsetof(struct vtio_bounce_cache, guard_head), 0);
	assert_int_equal(offsetof(struct vtio_bounce_cache, set), g);
	size_t tail = offsetof(struct vtio_bounce_cache, guard_tail);
	assert_int_equal(tail, offsetof(struct vtio_bounce_cache, run) +
				   sizeof(((struct vtio_bounce_cache *)0)->run));
	assert_true(sizeof(struct vtio_bounce_cache) - tail >= g);
}

static void assert_guards(const struct vtio_bounce_cache *c)
{
	for (size_t k = 0; k < VTIO_BOUNCE_CACHE_GUARD; k++) {
		assert_int_equal(c->guard_head[k], PATTERN);
		assert_int_equal(c->guard_tail[k], PATTERN);
	}
}

/* Three caches next to each other in one array, each on its own area:
 * every call (init, maps and unmaps of one and two slots, refills, the
 * give-back of a full magazine, drain, stats, fini) leaves the guards as
 * the caller left them, and each cache's mappings stay correct. */
static void test_cache_array_guards_untouched(void **state)
{
	(void)state;
	struct vtio_bounce_pool_config cfg = tcfg_linear(NSLOTS * SLOT, DEV_BASE);
	cfg.nareas = NCACHES;
	struct tpool tp;
	assert_int_equal(tpool_init(&tp, &cfg), 0);
	struct vtio_bounce_set *set = tset_new();
	assert_int_equal(vtio_bounce_set_register(set, tp.pool), 0);

	static struct vtio_bounce_cache cache[NCACHES];
	memset(cache, PATTERN, sizeof(cache)); /* guards and all */
	struct vtio_bounce_dev dev[NCACHES];
	for (int i = 0; i < NCACHES; i++) {
		vtio_bounce_dev_init(&dev[i], UINT64_MAX);
		dev[i].area_hint = (uint32_t)i;
		assert_int_equal(vtio_bounce_cache_init(&cache[i], set, &dev[i]), 0);
	}
	for (int i = 0; i < NCACHES; i++)
		assert_guards(&cache[i]);

	static unsigned char buf[NCACHES][4096];
	enum { INFLIGHT = VTIO_BOUNCE_CACHE_DEPTH + 4 };
	uint64_t bus[NCACHES][INFLIGHT];
	static const size_t lens[] = {64, 4096};
	for (size_t li = 0; li < 2; li++) {
		size_t len = lens[li];
		/* More in flight than a magazine holds: refills on the way up,
		 * a give-back of half a magazine on the way down. */
		for (int j = 0; j < INFLIGHT; j++) {
			for (int i = 0; i < NCACHES; i++) {
				memset(buf[i], 0x10 + i, len);
				assert_int_equal(vtio_bounce_cache_map(&cache[i], buf[i], len,
								       VTIO_DMA_TO_DEVICE, 0,
								       &bus[i][j]),
						 0);
				assert_memory_equal(tset_cpu(set, bus[i][j]), buf[i], len);
			}
		}
		for (int j = INFLIGHT - 1; j >= 0; j--)
			for (int i = 0; i < NCACHES; i++)
				assert_int_equal(vtio_bounce_cache_unmap(&cache[i], bus[i][j], len,
									 VTIO_DMA_TO_DEVICE, 0),
						 0);
		for (int i = 0; i < NCACHES; i++)
			assert_guards(&cache[i]);
	}
	struct vtio_bounce_stats st;
	vtio_bounce_set_get_stats(set, &st); /* reads every cache of every area */
	assert_int_equal(st.in_use, 0);
	assert_int_equal(st.maps, 2u * NCACHES * INFLIGHT);
	assert_int_equal(st.unmaps, st.maps);
	for (int i = 0; i < NCACHES; i++) {
		vtio_bounce_cache_drain(&cache[i]);
		assert_int_equal(vtio_bounce_cache_fini(&cache[i]), 0);
	}
	for (int i = 0; i < NCACHES; i++)
		assert_guards(&cache[i]);
	vtio_bounce_set_get_stats(set, &st);
	assert_int_equal(st.cached, 0);
	assert_int_equal(vtio_bounce_set_unregister(set, tp.pool), 0);
	tpool_fini(&tp);
	free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cache_guards_frame_the_fields),
	    cmocka_unit_test(test_cache_array_guards_untouched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
