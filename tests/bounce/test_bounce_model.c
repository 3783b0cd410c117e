/*
 * Random API sequences against the reference model of
 * fuzz/bounce/fuzz_bounce_ops.c: slot accounting (no overlap, no leak) and
 * every byte's integrity by direction, over a linear pool with two areas, a
 * three-piece non-linear pool and a restricted callback pool. Fixed seeds,
 * so a failure reproduces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint8_t next_byte(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)(rng >> 24);
}

/* Biased inputs: mostly maps and unmaps so pools fill, fragment and drain. */
static void test_random_sequences(void **state)
{
	(void)state;
	static uint8_t buf[8192];
	int rounds = getenv("VTIO_TEST_SHORT") ? 60 : 400; /* emulated cross runs */
	for (int round = 0; round < rounds; round++) {
		size_t n = 256 + (size_t)(next_byte() * 31) % (sizeof(buf) - 256);
		for (size_t i = 0; i < n; i++)
			buf[i] = next_byte();
		LLVMFuzzerTestOneInput(buf, n);
	}
}

/* Exhaustion: long runs of maps only, then the model's teardown frees all. */
static void test_fill_then_drain(void **state)
{
	(void)state;
	static uint8_t buf[4096];
	int rounds = getenv("VTIO_TEST_SHORT") ? 10 : 50;
	for (int round = 0; round < rounds; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			uint8_t b = next_byte();
			/* op byte 0/1 (map) three times in four */
			buf[i] = (i % 7 == 0 && (b & 3) != 0) ? (uint8_t)(b & 1) : b;
		}
		LLVMFuzzerTestOneInput(buf, sizeof(buf));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_sequences),
	    cmocka_unit_test(test_fill_then_drain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
