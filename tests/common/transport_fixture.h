/*
 * Transport test fixture: the driver half (a struct vtio_transport and its
 * vtio_vq queues) and the device half (vtio_devq queues served in the
 * test) of a transport's tests, over one arena of caller memory whose CPU
 * address is also its driver address. A new transport's tests reuse it:
 * build the transport pair over tf_mem_init()'s view, then tf_bring_up()
 * (negotiation, queue setup, DRIVER_OK), tf_post() buffers, tf_serve() the
 * device queue and tf_reap_check() the replies (README.md here).
 *
 * Every helper asserts (CMocka) what it does: negotiation and queue setup
 * succeed, the device reads the request and writes its reply in full, the
 * driver gets back the right token with the reply's length and bytes.
 */
#ifndef VTIO_TEST_TRANSPORT_FIXTURE_H
#define VTIO_TEST_TRANSPORT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vtio/transport.h"
#include "vtio/transport/mmio.h"
#include "vtio/transport/mmio_dev.h"

/* Caller memory carved in 64-byte aligned, zeroed pieces. */
struct tf_arena {
	unsigned char *base;
	size_t size;
	size_t used;
};

void tf_arena_init(struct tf_arena *a, void *mem, size_t size);
void *tf_alloc(struct tf_arena *a, size_t n);
/* A one-region read-write view of the whole arena, device address = CPU address. */
void tf_mem_init(struct vtio_mem *mem, struct vtio_mem_region *reg, const struct tf_arena *a);

/* VTIO_F_RING_PACKED for the packed layout, 0 for split. */
uint64_t tf_layout_features(enum vtio_layout l);

/* Queue @p index of @p num entries over arena memory (4 indirect tables of 8). */
struct vtio_vq *tf_make_vq(struct vtio_transport *t, struct tf_arena *a, uint16_t index,
			   uint32_t num);
/* Negotiate @p supported, set up queues 0..nq-1 of 16 entries each, and set
 * DRIVER_OK when @p driver_ok. */
void tf_bring_up(struct vtio_transport *t, struct tf_arena *a, uint64_t supported, unsigned nq,
		 struct vtio_vq **vq, bool driver_ok);

/* One request: 32 readable bytes of @p tag, 32 writable bytes (zero) after
 * them; the buffer is its own token. */
unsigned char *tf_post(struct tf_arena *a, struct vtio_vq *vq, unsigned char tag);
/* Device: answer every available chain with the complement of its first 32
 * bytes; then notify. Pops end with VTIO_EAGAIN when @p strict (any error
 * otherwise, e.g. a stopped queue). Returns how many were answered. */
unsigned tf_serve_devq(struct vtio_devq *d, bool strict);
/* Driver: the next used buffer is @p b, 32 bytes long, holding ~tag. */
void tf_reap_check(struct vtio_vq *vq, unsigned char *b, unsigned char tag);

/* virtio-mmio over direct calls: ctx is the struct vtio_mmio_dev. */
extern const struct vtio_mmio_ops tf_mmio_direct_ops;
/* No forbidden register access happened on either side. */
void tf_mmio_assert_clean(const struct vtio_mmio_dev *md, const struct vtio_mmio *drv);

#endif /* VTIO_TEST_TRANSPORT_FIXTURE_H */
