/* Errors: every code has its own message, and unknown codes are named as such. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/error.h"

static const int all_codes[] = {
    VTIO_EPERM,	    VTIO_ENOENT,   VTIO_EIO,	 VTIO_E2BIG,   VTIO_EAGAIN,    VTIO_ENOMEM,
    VTIO_EACCES,    VTIO_EFAULT,   VTIO_EBUSY,	 VTIO_EEXIST,  VTIO_ENODEV,    VTIO_EINVAL,
    VTIO_ENOSPC,    VTIO_ERANGE,   VTIO_ENOSYS,	 VTIO_ELOOP,   VTIO_EPROTO,    VTIO_EBADMSG,
    VTIO_EOVERFLOW, VTIO_EMSGSIZE, VTIO_ENOTSUP, VTIO_ENOBUFS, VTIO_ETIMEDOUT, VTIO_EALREADY,
    VTIO_ECANCELED, VTIO_ENOTCONN,
};

static void test_codes_are_negative_and_distinct(void **state)
{
	(void)state;
	size_t n = sizeof(all_codes) / sizeof(all_codes[0]);
	for (size_t i = 0; i < n; i++) {
		assert_true(all_codes[i] < 0);
		for (size_t j = i + 1; j < n; j++) {
			assert_int_not_equal(all_codes[i], all_codes[j]);
			assert_string_not_equal(vtio_strerror(all_codes[i]),
						vtio_strerror(all_codes[j]));
		}
		assert_string_not_equal(vtio_strerror(all_codes[i]), "unknown error");
	}
}

static void test_errno_numbering(void **state)
{
	(void)state;
	/* Numbered like Linux errno so logs read naturally. */
	assert_int_equal(VTIO_EINVAL, -22);
	assert_int_equal(VTIO_ENOSPC, -28);
	assert_int_equal(VTIO_EAGAIN, -11);
	assert_int_equal(VTIO_EIO, -5);
}

static void test_unknown_and_success(void **state)
{
	(void)state;
	assert_string_equal(vtio_strerror(-9999), "unknown error");
	assert_string_equal(vtio_strerror(1), "unknown error");
	assert_string_equal(vtio_strerror(0), "success");
	assert_non_null(strstr(vtio_strerror(VTIO_ELOOP), "ELOOP"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_codes_are_negative_and_distinct),
	    cmocka_unit_test(test_errno_numbering),
	    cmocka_unit_test(test_unknown_and_success),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
