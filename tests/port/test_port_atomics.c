/*
 * Port layer barriers, index atomics and locks: every hook compiles and does
 * what its name says on this target (run natively, under sanitizers and
 * under qemu-user for the 32-bit and big-endian targets). The two-thread
 * case publishes data behind a release store of a 16-bit index, the pattern
 * the rings use for avail->idx / used->idx (CHECKLIST SPLIT-DRV and
 * SPLIT-DEV memory-ordering items); under TSan it proves the accessors are
 * seen as synchronisation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "vtio/port.h"

static void test_barriers_compile_and_return(void **state)
{
	(void)state;
	volatile int x = 0;
	VTIO_SMP_MB();
	VTIO_SMP_RMB();
	VTIO_SMP_WMB();
	VTIO_DMA_MB();
	VTIO_DMA_RMB();
	VTIO_DMA_WMB();
	VTIO_CPU_RELAX();
	x = 1;
	assert_int_equal(x, 1);
}

static void test_cache_hooks_are_harmless_by_default(void **state)
{
	(void)state;
	unsigned char buf[32];
	memset(buf, 0x5a, sizeof(buf));
	VTIO_CACHE_FLUSH(buf, sizeof(buf));
	VTIO_CACHE_INVALIDATE(buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0x5a);
}

static void test_index_accessors_store_and_load(void **state)
{
	(void)state;
	uint16_t idx = 0;
	VTIO_STORE_RELEASE16(&idx, (uint16_t)0xfffe);
	assert_int_equal(VTIO_LOAD_ACQUIRE16(&idx), 0xfffe);
	VTIO_WRITE_ONCE16(&idx, (uint16_t)3);
	assert_int_equal(VTIO_READ_ONCE16(&idx), 3);
	uint32_t w = 0;
	VTIO_WRITE_ONCE32(&w, 0xdeadbeefu);
	assert_int_equal(VTIO_READ_ONCE32(&w), 0xdeadbeefu);
}

static void test_copy_hooks(void **state)
{
	(void)state;
	unsigned char a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	unsigned char b[8];
	VTIO_MEMCPY(b, a, sizeof(a));
	assert_memory_equal(a, b, sizeof(a));
	VTIO_MEMMOVE(a + 1, a, 7);
	const unsigned char moved[8] = {1, 1, 2, 3, 4, 5, 6, 7};
	assert_memory_equal(a, moved, sizeof(a));
	VTIO_MEMSET(b, 0, sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++)
		assert_int_equal(b[i], 0);
}

static void test_lock_single_thread(void **state)
{
	(void)state;
	VTIO_LOCK_T l;
	VTIO_LOCK_INIT(&l);
	VTIO_LOCK(&l);
	VTIO_UNLOCK(&l);
	VTIO_LOCK(&l); /* would spin forever if unlock did not release */
	VTIO_UNLOCK(&l);
}

VTIO_STATIC_ASSERT(sizeof(uint16_t) == 2, "static assert works at file scope");

/* ---- Two threads: message passing through a 16-bit index ---------------- */

#define RING   64u
#define ROUNDS 20000u

struct mp {
	uint32_t slot[RING];
	uint16_t prod; /* written by producer only (release) */
	uint16_t cons; /* written by consumer only (release) */
	VTIO_LOCK_T lock;
	uint64_t counter; /* protected by lock */
};

static void *producer(void *arg)
{
	struct mp *m = arg;
	uint16_t p = 0;
	for (uint32_t i = 0; i < ROUNDS; i++) {
		while ((uint16_t)(p - VTIO_LOAD_ACQUIRE16(&m->cons)) >= RING)
			VTIO_CPU_RELAX();
		m->slot[p % RING] = i * 2654435761u;
		p++;
		VTIO_STORE_RELEASE16(&m->prod, p);
		VTIO_LOCK(&m->lock);
		m->counter++;
		VTIO_UNLOCK(&m->lock);
	}
	return NULL;
}

static void test_release_acquire_message_passing(void **state)
{
	(void)state;
	struct mp *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	VTIO_LOCK_INIT(&m->lock);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, producer, m), 0);
	uint16_t c = 0;
	for (uint32_t i = 0; i < ROUNDS; i++) {
		while (VTIO_LOAD_ACQUIRE16(&m->prod) == c)
			VTIO_CPU_RELAX();
		assert_int_equal(m->slot[c % RING], i * 2654435761u);
		c++;
		VTIO_STORE_RELEASE16(&m->cons, c);
		VTIO_LOCK(&m->lock);
		m->counter++;
		VTIO_UNLOCK(&m->lock);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(m->counter == 2u * ROUNDS);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_barriers_compile_and_return),
	    cmocka_unit_test(test_cache_hooks_are_harmless_by_default),
	    cmocka_unit_test(test_index_accessors_store_and_load),
	    cmocka_unit_test(test_copy_hooks),
	    cmocka_unit_test(test_lock_single_thread),
	    cmocka_unit_test(test_release_acquire_message_passing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
