/* The chain a device-side test pops into: arrays and their capacities, every
 * other field zero (what vtio_devq_pop() expects). */
#ifndef VTIO_TEST_DEVQ_CHAIN_H
#define VTIO_TEST_DEVQ_CHAIN_H

#include <string.h>

#include "vtio/devq.h"

static inline void tc_chain_init(struct vtio_devq_chain *c, struct vtio_iov *rd, unsigned rd_max,
				 struct vtio_iov *wr, unsigned wr_max)
{
	memset(c, 0, sizeof(*c));
	c->rd = rd;
	c->rd_max = rd_max;
	c->wr = wr;
	c->wr_max = wr_max;
}

#endif /* VTIO_TEST_DEVQ_CHAIN_H */
