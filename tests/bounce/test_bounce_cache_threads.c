/*
 * Two-thread stress of the per-thread caches (run under TSan in CI): two
 * workers, each with its own vtio_bounce_cache, map through it with several
 * mappings in flight, check the copy in and the zeroed slack, let a
 * "device" write the whole run, unmap with copy back and check, then try a
 * double unmap (refused). In the first test the caches sit on two areas;
 * in the second on the same small area, so refills, give-backs and
 * fallbacks to the plain calls (other area, exhaustion) race each other,
 * and a third thread reads the counters all along (in_use + cached never
 * exceeds the pool). At the end the caches detach, nothing leaks and the
 * counters add up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <cmocka.h>

#include "bounce_test_util.h"
#include "tc_util.h"

#define SLOT	 2048u
#define INFLIGHT 5

struct shared {
	struct vtio_bounce_set *set;
	struct tpool tp;
	size_t pool_size;
	uint64_t dev_base;
	int stop;
	int stat_failures;
};

struct worker {
	struct shared *sh;
	unsigned id, area;
	long iters;
	int failures;
	unsigned long maps, nomem;
};

struct inflight {
	bool live;
	uint64_t bus;
	size_t len;
	enum vtio_dma_dir dir;
	unsigned char orig[4096];
	unsigned char want[4096];
};

static unsigned char *tlb(struct shared *sh, uint64_t bus)
{
	return sh->tp.mem + (bus - sh->dev_base);
}

static void finish(struct worker *w, struct vtio_bounce_cache *c, struct inflight *s)
{
	struct shared *sh = w->sh;
	/* The device writes the whole data range. */
	unsigned char *t = tlb(sh, s->bus);
	for (size_t k = 0; k < s->len; k++)
		t[k] = (unsigned char)(w->id * 31u + k);
	if (s->dir != VTIO_DMA_TO_DEVICE)
		for (size_t k = 0; k < s->len; k++)
			s->want[k] = (unsigned char)(w->id * 31u + k);
	TC_WORKER_CHECK(w, vtio_bounce_cache_unmap(c, s->bus, s->len, s->dir, 0) == 0);
	s->live = false;
	TC_WORKER_CHECK(w, memcmp(s->orig, s->want, s->len) == 0);
	/* Double unmap: refused (the slots are free in the cache, back in the
	 * area, or mapped again by the other worker, whose lengths are of the
	 * other parity, so no mapping of its can match). */
	int r = vtio_bounce_cache_unmap(c, s->bus, s->len, s->dir, 0);
	TC_WORKER_CHECK(w, r == VTIO_EALREADY || r == VTIO_EINVAL || r == VTIO_ENOENT);
}

static void work(struct worker *w)
{
	struct shared *sh = w->sh;
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	d.area_hint = w->area;
	struct vtio_bounce_cache *c = tpool_aligned(64, sizeof(*c));
	struct inflight *fl = tpool_aligned(64, sizeof(*fl) * INFLIGHT);
	memset(fl, 0, sizeof(*fl) * INFLIGHT);
	TC_WORKER_CHECK(w, vtio_bounce_cache_init(c, sh->set, &d) == 0);
	uint64_t rnd = 0x9e3779b97f4a7c15ull * (w->id + 1u);
	for (long it = 0; it < w->iters && w->failures == 0; it++) {
		struct inflight *s = &fl[tc_rand32(&rnd) % INFLIGHT];
		if (s->live) {
			finish(w, c, s);
			continue;
		}
		/* Lengths of this worker's parity, mostly one or two slots. */
		size_t len = 1 + tc_rand32(&rnd) % 4095;
		len = (len & ~(size_t)1) | w->id;
		if (len == 0)
			len = 2;
		s->len = len;
		s->dir = (enum vtio_dma_dir)(tc_rand32(&rnd) % 3);
		for (size_t k = 0; k < len; k++)
			s->orig[k] = (unsigned char)tc_rand32(&rnd);
		memcpy(s->want, s->orig, len);
		int r = vtio_bounce_cache_map(c, s->orig, len, s->dir, 0, &s->bus);
		if (r == VTIO_ENOMEM) {
			w->nomem++;
			continue;
		}
		TC_WORKER_CHECK(w, r == 0);
		w->maps++;
		s->live = true;
		unsigned char *t = tlb(sh, s->bus);
		TC_WORKER_CHECK(w, memcmp(t, s->orig, len) == 0);
		size_t off = (size_t)(s->bus - sh->dev_base) % SLOT;
		size_t end = (off + len + SLOT - 1) / SLOT * SLOT;
		for (size_t k = off + len; k < end; k++)
			TC_WORKER_CHECK(w, t[k - off] == 0); /* no stale byte after the data */
		/* ... and the device scribbles over the slack too */
		memset(t + len, 0xEE, end - off - len);
	}
	for (int i = 0; i < INFLIGHT; i++)
		if (fl[i].live)
			finish(w, c, &fl[i]);
	TC_WORKER_CHECK(w, vtio_bounce_cache_fini(c) == 0);
	free(fl);
	free(c);
}

static void *worker_main(void *p)
{
	work(p);
	return NULL;
}

static void *stats_main(void *p)
{
	struct shared *sh = p;
	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		struct vtio_bounce_stats st;
		vtio_bounce_set_get_stats(sh->set, &st);
		if (st.in_use + st.cached > st.slots)
			sh->stat_failures++;
		sched_yield();
	}
	return NULL;
}

static void run(size_t pool_size, unsigned area0, unsigned area1, long iters)
{
	struct shared sh;
	memset(&sh, 0, sizeof(sh));
	sh.dev_base = 0x40000000ull;
	sh.pool_size = pool_size;
	struct vtio_bounce_pool_config c = tcfg_linear(pool_size, sh.dev_base);
	c.nareas = 2;
	assert_int_equal(tpool_init(&sh.tp, &c), 0);
	sh.set = tset_new();
	assert_int_equal(vtio_bounce_set_register(sh.set, sh.tp.pool), 0);
	struct worker w[2];
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < 2; i++) {
		w[i].sh = &sh;
		w[i].id = i;
		w[i].area = i ? area1 : area0;
		w[i].iters = iters;
	}
	pthread_t t[3];
	assert_int_equal(pthread_create(&t[2], NULL, stats_main, &sh), 0);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	for (unsigned i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t[2], NULL);
	assert_int_equal(w[0].failures + w[1].failures, 0);
	assert_int_equal(sh.stat_failures, 0);
	assert_true(w[0].maps > 0 && w[1].maps > 0);
	struct vtio_bounce_stats st;
	vtio_bounce_set_get_stats(sh.set, &st);
	assert_int_equal(st.in_use, 0);
	assert_int_equal(st.cached, 0);
	assert_int_equal(st.maps, w[0].maps + w[1].maps);
	assert_int_equal(st.unmaps, st.maps);
	assert_int_equal(vtio_bounce_set_unregister(sh.set, sh.tp.pool), 0);
	tpool_fini(&sh.tp);
	free(sh.set);
}

/* Two caches on two areas of a roomy pool: no contention, no fallback needed. */
static void test_cache_threads_two_areas(void **state)
{
	(void)state;
	run(64u * SLOT, 0, 1, getenv("VTIO_TEST_SHORT") ? 2000 : 20000);
}

/* Both caches on area 0 of a pool too small for their magazines and
 * mappings: refills, give-backs, fallbacks to area 1 and exhaustion race. */
static void test_cache_threads_one_area(void **state)
{
	(void)state;
	run(24u * SLOT, 0, 0, getenv("VTIO_TEST_SHORT") ? 2000 : 20000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cache_threads_two_areas),
	    cmocka_unit_test(test_cache_threads_one_area),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
