/*
 * Two-thread stress (run under TSan in CI): two workers map, check, let a
 * "device" write, sync, unmap and check again, with several mappings in
 * flight and pool allocations mixed in, each on its own area hint of a
 * two-area pool (and spilling into the other area when theirs is full);
 * a third thread registers and unregisters a second pool meanwhile, so
 * lookups run against a changing set and busy removals are refused.
 * Every unmap and free is followed by a double one, which must be refused
 * while the other worker maps and allocates the freed slots (the workers
 * use lengths of different parity, so no mapping of the other worker can
 * legitimately match). At the end nothing leaks and the counters add up.
 * A second test races two threads unmapping the same mapping while both
 * map new buffers into the freed slots: exactly one unmap may succeed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>

#include "bounce_test_util.h"
#include "tc_util.h"

#define ITERS	 6000
#define INFLIGHT 6

struct shared {
	struct vtio_bounce_set *set;
	struct tpool main_pool, extra;
	int stop;
	unsigned long extra_registered, extra_busy;
};

struct worker {
	struct shared *sh;
	unsigned id;
	int failures;
	unsigned long maps, nomem;
};

struct slot {
	bool live;
	bool is_alloc;
	uint64_t bus;
	size_t len;
	enum vtio_dma_dir dir;
	unsigned char orig[3000];
	unsigned char want[3000];
	void *cpu;
};

static void finish(struct worker *w, struct slot *s)
{
	struct vtio_bounce_set *set = w->sh->set;
	if (s->is_alloc) {
		unsigned char *p = s->cpu;
		for (size_t i = 0; i < s->len; i++)
			TC_WORKER_CHECK(w, p[i] == (unsigned char)(w->id + 1));
		TC_WORKER_CHECK(w, vtio_bounce_free(set, s->len, s->cpu, s->bus) == 0);
		s->live = false;
		int r = vtio_bounce_free(set, s->len, s->cpu, s->bus);
		TC_WORKER_CHECK(w, r == VTIO_EALREADY || r == VTIO_ENOENT || r == VTIO_EINVAL);
		return;
	}
	TC_WORKER_CHECK(w, vtio_bounce_unmap(set, s->bus, s->len, s->dir, 0) == 0);
	TC_WORKER_CHECK(w, memcmp(s->orig, s->want, s->len) == 0);
	s->live = false;
	int r = vtio_bounce_unmap(set, s->bus, s->len, s->dir, 0);
	TC_WORKER_CHECK(w, r == VTIO_EALREADY || r == VTIO_ENOENT || r == VTIO_EINVAL);
}

static void run_worker(struct worker *w)
{
	struct vtio_bounce_set *set = w->sh->set;
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	d.area_hint = w->id;
	struct slot *slots = calloc(INFLIGHT, sizeof(*slots));
	if (slots == NULL) {
		w->failures++;
		return;
	}
	uint64_t rs = 0x1234567u + w->id * 7919u;
	for (int it = 0; it < ITERS && w->failures == 0; it++) {
		struct slot *s = &slots[tc_rand32(&rs) % INFLIGHT];
		if (s->live) {
			finish(w, s);
			continue;
		}
		if (tc_rand32(&rs) % 8 == 0) {
			s->len = (1 + tc_rand32(&rs) % 1499) * 2 - w->id; /* parity of the worker */
			int r = vtio_bounce_alloc(set, &d, s->len, 0, &s->cpu, &s->bus);
			if (r == VTIO_ENOMEM) {
				w->nomem++;
				continue;
			}
			TC_WORKER_CHECK(w, r == 0);
			unsigned char *p = s->cpu;
			for (size_t i = 0; i < s->len; i++)
				TC_WORKER_CHECK(w, p[i] == 0);
			memset(p, w->id + 1, s->len);
			s->is_alloc = true;
			s->live = true;
			continue;
		}
		s->is_alloc = false;
		s->len = (1 + tc_rand32(&rs) % 1500) * 2 - w->id;
		s->dir = (enum vtio_dma_dir)(tc_rand32(&rs) % 3);
		for (size_t i = 0; i < s->len; i++)
			s->orig[i] = (unsigned char)tc_rand32(&rs);
		memcpy(s->want, s->orig, s->len);
		int r = vtio_bounce_map(set, &d, s->orig, s->len, s->dir, 0, &s->bus);
		if (r == VTIO_ENOMEM) {
			w->nomem++;
			continue;
		}
		TC_WORKER_CHECK(w, r == 0);
		w->maps++;
		unsigned char *tlb = tset_cpu(set, s->bus);
		TC_WORKER_CHECK(w, tlb != NULL);
		TC_WORKER_CHECK(w, memcmp(tlb, s->orig, s->len) == 0);
		/* The device writes the middle third. */
		size_t a = s->len / 3, n = s->len / 3;
		for (size_t i = a; i < a + n; i++)
			tlb[i] = (unsigned char)(i ^ w->id);
		if (s->dir != VTIO_DMA_TO_DEVICE) {
			for (size_t i = a; i < a + n; i++)
				s->want[i] = (unsigned char)(i ^ w->id);
			if (n > 0) {
				TC_WORKER_CHECK(
				    w, vtio_bounce_sync_for_cpu(set, s->bus + a, n, s->dir) == 0);
				TC_WORKER_CHECK(w, memcmp(s->orig, s->want, s->len) == 0);
			}
		}
		s->live = true;
	}
	for (int i = 0; i < INFLIGHT; i++)
		if (slots[i].live)
			finish(w, &slots[i]);
	free(slots);
}

static void *worker_main(void *arg)
{
	run_worker(arg);
	return NULL;
}

/* Registers and unregisters the extra pool, mapping into it by affinity
 * between the two so its removal is sometimes refused. */
static void *churn_main(void *arg)
{
	struct shared *sh = arg;
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	d.pool_id = 2;
	d.flags = VTIO_BOUNCE_DEV_F_STRICT;
	unsigned char buf[64] = {0};
	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		if (vtio_bounce_set_register(sh->set, sh->extra.pool) != 0)
			break;
		sh->extra_registered++;
		uint64_t bus;
		int r = vtio_bounce_map(sh->set, &d, buf, sizeof(buf), VTIO_DMA_TO_DEVICE, 0, &bus);
		if (r == 0) {
			if (vtio_bounce_set_unregister(sh->set, sh->extra.pool) == VTIO_EBUSY)
				sh->extra_busy++;
			(void)vtio_bounce_unmap(sh->set, bus, sizeof(buf), VTIO_DMA_TO_DEVICE, 0);
		}
		if (vtio_bounce_set_unregister(sh->set, sh->extra.pool) != 0)
			break;
	}
	return NULL;
}

static void test_two_threads_stress(void **state)
{
	(void)state;
	struct shared sh;
	memset(&sh, 0, sizeof(sh));
	struct vtio_bounce_pool_config c = tcfg_linear(128 * 512, 0x10000000u);
	c.slot_size = 512;
	c.max_segment = 8;
	c.nareas = 2;
	c.id = 1;
	assert_int_equal(tpool_init(&sh.main_pool, &c), 0);
	c = tcfg_linear(16 * 512, 0x90000000u);
	c.slot_size = 512;
	c.id = 2;
	c.flags = VTIO_BOUNCE_POOL_F_RESTRICTED;
	assert_int_equal(tpool_init(&sh.extra, &c), 0);
	sh.set = tset_new();
	assert_int_equal(vtio_bounce_set_register(sh.set, sh.main_pool.pool), 0);

	struct worker w[2];
	pthread_t t[2], churn;
	assert_int_equal(pthread_create(&churn, NULL, churn_main, &sh), 0);
	for (unsigned i = 0; i < 2; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].sh = &sh;
		w[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	__atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(churn, NULL), 0);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(w[i].failures, 0);
		assert_true(w[i].maps > ITERS / 4);
	}
	assert_true(sh.extra_registered > 0);

	struct vtio_bounce_stats st;
	vtio_bounce_pool_get_stats(sh.main_pool.pool, &st);
	assert_int_equal(st.in_use, 0);
	assert_int_equal(st.maps, st.unmaps);
	assert_int_equal(st.maps, w[0].maps + w[1].maps);
	assert_int_equal(st.allocs, st.frees);
	assert_true(st.high_water <= 128);
	vtio_bounce_pool_get_stats(sh.extra.pool, &st);
	assert_int_equal(st.in_use, 0);
	/* The extra pool ended unregistered; the set holds only the main pool. */
	assert_int_equal(vtio_bounce_set_unregister(sh.set, sh.extra.pool), VTIO_ENOENT);
	assert_int_equal(vtio_bounce_set_unregister(sh.set, sh.main_pool.pool), 0);
	free(sh.set);
	tpool_fini(&sh.main_pool);
	tpool_fini(&sh.extra);
}

/* ---- Two threads unmapping the same mapping ------------------------------------------ */

#define RACE_ROUNDS 3000

struct race {
	struct vtio_bounce_set *set;
	pthread_barrier_t bar;
	uint64_t bus;
	enum vtio_dma_dir dir;
	unsigned char buf[300];
	int rc[2];
	int failures;
	unsigned long both_failed;
};

struct racer {
	struct race *rc;
	unsigned id;
};

static void *racer_main(void *arg)
{
	struct racer *me = arg;
	struct race *r = me->rc;
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, UINT64_MAX);
	d.area_hint = 0; /* both in one area: the freed slots are the first fit */
	unsigned char own[900];
	size_t own_len = me->id ? 900 : 700; /* never the shared mapping's 300 */
	for (int i = 0; i < RACE_ROUNDS; i++) {
		if (me->id == 0) {
			r->dir = (enum vtio_dma_dir)(i % 3);
			memset(r->buf, i & 0xff, sizeof(r->buf));
			if (vtio_bounce_map(r->set, &d, r->buf, sizeof(r->buf), r->dir, 0,
					    &r->bus) != 0)
				__atomic_fetch_add(&r->failures, 1, __ATOMIC_RELAXED);
		}
		pthread_barrier_wait(&r->bar);
		/* Both unmap the shared mapping, then map their own buffer at once,
		 * likely into the slots just freed, while the other may still be
		 * inside its unmap. */
		r->rc[me->id] = vtio_bounce_unmap(r->set, r->bus, sizeof(r->buf), r->dir, 0);
		uint64_t b;
		memset(own, (int)(me->id + 1), own_len);
		if (vtio_bounce_map(r->set, &d, own, own_len, VTIO_DMA_TO_DEVICE, 0, &b) != 0) {
			__atomic_fetch_add(&r->failures, 1, __ATOMIC_RELAXED);
		} else {
			unsigned char *tlb = tset_cpu(r->set, b);
			for (size_t k = 0; tlb != NULL && k < own_len; k++)
				if (tlb[k] != me->id + 1) {
					__atomic_fetch_add(&r->failures, 1, __ATOMIC_RELAXED);
					break;
				}
			if (tlb == NULL ||
			    vtio_bounce_unmap(r->set, b, own_len, VTIO_DMA_TO_DEVICE, 0) != 0)
				__atomic_fetch_add(&r->failures, 1, __ATOMIC_RELAXED);
		}
		pthread_barrier_wait(&r->bar);
		if (me->id == 0) {
			int a = r->rc[0], c = r->rc[1];
			/* Exactly one unmap succeeds; the other is refused (already
			 * free, or the slot now heads/belongs to a mapping of another
			 * length). */
			int ok = (a == 0) + (c == 0);
			int other = a == 0 ? c : a;
			if (ok != 1 || !(other == VTIO_EALREADY || other == VTIO_ENOENT ||
					 other == VTIO_EINVAL))
				__atomic_fetch_add(&r->failures, 1, __ATOMIC_RELAXED);
			if (ok == 0)
				r->both_failed++;
		}
	}
	return NULL;
}

static void test_two_threads_same_unmap(void **state)
{
	(void)state;
	static struct race r;
	struct tpool tp;
	memset(&r, 0, sizeof(r));
	struct vtio_bounce_pool_config c = tcfg_linear(64 * 512, 0x20000000u);
	c.slot_size = 512;
	assert_int_equal(tpool_init(&tp, &c), 0);
	r.set = tset_new();
	assert_int_equal(vtio_bounce_set_register(r.set, tp.pool), 0);
	assert_int_equal(pthread_barrier_init(&r.bar, NULL, 2), 0);
	struct racer rr[2] = {{&r, 0}, {&r, 1}};
	pthread_t t[2];
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, racer_main, &rr[i]), 0);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(r.failures, 0);
	assert_int_equal(r.both_failed, 0);
	struct vtio_bounce_stats st;
	vtio_bounce_pool_get_stats(tp.pool, &st);
	assert_int_equal(st.in_use, 0);
	assert_int_equal(st.maps, st.unmaps);
	assert_int_equal(st.maps, 3 * RACE_ROUNDS);
	assert_int_equal(st.fail_double + st.fail_unknown + st.fail_mismatch, RACE_ROUNDS);
	pthread_barrier_destroy(&r.bar);
	assert_int_equal(vtio_bounce_set_unregister(r.set, tp.pool), 0);
	free(r.set);
	tpool_fini(&tp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_threads_stress),
	    cmocka_unit_test(test_two_threads_same_unmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
