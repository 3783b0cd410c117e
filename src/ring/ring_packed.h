/*
 * Packed-ring private state (placeholder created by the split helper; the
 * packed helper owns this file and replaces these structs).
 */
#ifndef VTIO_RING_PACKED_H
#define VTIO_RING_PACKED_H

#include <stdbool.h>
#include <stdint.h>

/** Driver-side packed state. */
struct vtio__vq_packed {
	uint16_t next_avail; /* next descriptor slot to fill */
	bool avail_wrap;     /* driver ring wrap counter */
	uint16_t last_used;  /* next slot to look at for used descriptors */
	bool used_wrap;	     /* driver-side used wrap counter */
};

/** Device-side packed state. */
struct vtio__devq_packed {
	uint16_t last_avail; /* next slot to look at for available descriptors */
	bool avail_wrap;
	uint16_t next_used; /* next slot to write a used descriptor */
	bool used_wrap;
};

#endif /* VTIO_RING_PACKED_H */
