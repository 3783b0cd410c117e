/* Values taken from Debian's Linux uapi virtio headers, exported by a
 * translation unit (spec_linux_values.c) that includes only those headers, so
 * test_spec_linux.c can compare them with include/vtio/spec.h without the two
 * sets of names ever meeting in one file. */
#ifndef VTIO_TEST_SPEC_LINUX_VALUES_H
#define VTIO_TEST_SPEC_LINUX_VALUES_H

#include <stddef.h>
#include <stdint.h>

/* One constant, layout offset or size as Linux defines it. */
struct vtio_test_lx_value {
	const char *name; /* Linux expression, e.g. "offsetof(struct vring_desc, next)". */
	uint64_t value;	  /* Its value (meaningless when !defined). */
	int defined;	  /* 0 when this linux-libc-dev is too old to define it. */
};

extern const struct vtio_test_lx_value vtio_test_lx_values[];
extern const size_t vtio_test_lx_nvalues;

/* Linux's vring_need_event(), called through this TU. */
int vtio_test_lx_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx);

/* Linux's vring_size(). */
uint64_t vtio_test_lx_vring_size(unsigned num, unsigned long align);

/* Offsets Linux's vring_init() gives inside a legacy block at a 'base' aligned
 * to 'align': avail ring, used ring, &vring_used_event(), &vring_avail_event().
 * Returns 0, or -1 when align < 4 or num/align are too large for the buffer. */
int vtio_test_lx_vring_layout(unsigned num, unsigned long align, uint64_t *avail_off,
			      uint64_t *used_off, uint64_t *used_event_off,
			      uint64_t *avail_event_off);

#endif
