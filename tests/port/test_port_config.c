/*
 * Configuration override through VTIO_CONFIG_FILE (STYLE rule 6): this file
 * is compiled with -DVTIO_CONFIG_FILE="port_test_config.h", which sets build
 * options and replaces port hooks; the defaults in config.h / port.h must
 * give way to every one of them and keep the rest. Only header-level
 * behaviour is checked: the library itself was built with the defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/config.h"
#include "vtio/port.h"

unsigned port_test_asserts_failed;
unsigned port_test_flushes;
unsigned port_test_memcpys;
unsigned port_test_locks;

void *port_test_memcpy(void *d, const void *s, size_t n)
{
	port_test_memcpys++;
	return memcpy(d, s, n);
}

#ifndef PORT_TEST_CONFIG_H
#error "VTIO_CONFIG_FILE was not included by config.h"
#endif

/* Overridden options. */
VTIO_STATIC_ASSERT(VTIO_CONFIG_DMA_MAX_LAYERS == 3, "user file wins over default");
VTIO_STATIC_ASSERT(VTIO_CONFIG_BOUNCE_MAX_POOLS == 2, "user file wins over default");
VTIO_STATIC_ASSERT(VTIO_CONFIG_EVENT_IDX == 0, "a feature can be switched off");
/* Options the file does not name keep their defaults. */
VTIO_STATIC_ASSERT(VTIO_CONFIG_SPLIT == 1 && VTIO_CONFIG_PACKED == 1, "defaults kept");
VTIO_STATIC_ASSERT(VTIO_CONFIG_DRIVER == 1 && VTIO_CONFIG_DEVICE == 1, "defaults kept");

static void test_assert_hook_replaced(void **state)
{
	(void)state;
	port_test_asserts_failed = 0;
	VTIO_ASSERT(1 == 1);
	assert_int_equal(port_test_asserts_failed, 0);
	/* The default would trap here; the user's hook counts instead. */
	VTIO_ASSERT(1 == 2);
	assert_int_equal(port_test_asserts_failed, 1);
}

static void test_copy_hook_replaced_others_default(void **state)
{
	(void)state;
	unsigned char a[4] = {1, 2, 3, 4}, b[4] = {0};
	port_test_memcpys = 0;
	VTIO_MEMCPY(b, a, sizeof(a));
	assert_int_equal(port_test_memcpys, 1);
	assert_memory_equal(a, b, sizeof(a));
	VTIO_MEMSET(b, 0, sizeof(b)); /* default, still works */
	assert_int_equal(b[0] | b[1] | b[2] | b[3], 0);
}

static void test_cache_and_lock_hooks_replaced(void **state)
{
	(void)state;
	unsigned char buf[16];
	port_test_flushes = 0;
	VTIO_CACHE_FLUSH(buf, sizeof(buf));
	assert_int_equal(port_test_flushes, 1);
	VTIO_CACHE_INVALIDATE(buf, sizeof(buf)); /* default no-op, compiles */

	VTIO_LOCK_T l;
	VTIO_STATIC_ASSERT(sizeof(l) == sizeof(int), "lock type replaced");
	VTIO_LOCK_INIT(&l);
	port_test_locks = 0;
	VTIO_LOCK(&l);
	assert_int_equal(l, 1);
	VTIO_UNLOCK(&l);
	assert_int_equal(l, 0);
	assert_int_equal(port_test_locks, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_assert_hook_replaced),
	    cmocka_unit_test(test_copy_hook_replaced_others_default),
	    cmocka_unit_test(test_cache_and_lock_hooks_replaced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
