/* Small pieces every kind of test repeats: the chain a device-side test pops
 * into, and notification callbacks that do nothing or count. */
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

#endif /* VTIO_TEST_TC_UTIL_H */
