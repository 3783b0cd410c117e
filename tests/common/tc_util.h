/* Small pieces every kind of test repeats: the chain a device-side test pops
 * into, notification callbacks that do nothing or count, a seeded random
 * source, and the check a worker thread makes (it cannot fail the test
 * itself: CMocka's asserts belong to the main thread). */
#ifndef VTIO_TEST_TC_UTIL_H
#define VTIO_TEST_TC_UTIL_H

#include <stdint.h>
#include <string.h>

#include "vtio/devq.h"

/* Arrays and their capacities, every other field zero (what
 * vtio_devq_pop() expects). */
static inline void tc_chain_init(struct vtio_devq_chain *c, struct vtio_iov *rd, unsigned rd_max,
				 struct vtio_iov *wr, unsigned wr_max)
{
	memset(c, 0, sizeof(*c));
	c->rd = rd;
	c->rd_max = rd_max;
	c->wr = wr;
	c->wr_max = wr_max;
}

/* A notify callback (either side) that does nothing. */
static inline int tc_notify_nop(void *ctx, uint32_t data)
{
	(void)ctx;
	(void)data;
	return 0;
}

/* A notify callback counting into the unsigned that @p ctx points to. */
static inline int tc_notify_count(void *ctx, uint32_t data)
{
	(void)data;
	(*(unsigned *)ctx)++;
	return 0;
}

/* xorshift64 step, the upper bits returned: deterministic for a seed, so a
 * failing run repeats. @p s must not be 0. */
static inline uint32_t tc_rand32(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 16);
}

/* In a worker thread (@p w has `id` and `failures`): on a false @p c, print
 * it with the line, count a failure and return from the function; the main
 * thread asserts failures == 0 after the join. Needs <cmocka.h>. */
#define TC_WORKER_CHECK(w, c)                                                                      \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			print_error("worker %u: %s failed (line %d)\n", (w)->id, #c, __LINE__);    \
			(w)->failures++;                                                           \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#endif /* VTIO_TEST_TC_UTIL_H */
