/* Test-only DMA layers: a tracing layer with a chosen set of ops, a flaky layer
 * failing the k-th map, and a bouncer standing in for the bounce layer. */
#ifndef VTIO_DMA_TEST_LAYERS_H
#define VTIO_DMA_TEST_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "vtio/dma.h"

#define TRACE_MAX 64

/* Global call trace: "tag:op" strings in call order (tests are single-threaded). */
extern char trace_buf[TRACE_MAX][32];
extern unsigned trace_len;
void trace_reset(void);
/* The trace joined with spaces. */
const char *trace_str(void);

/* Bit (1u << VTIO_DMA_OP_x) per implemented op. */
#define OPBIT(op) (1u << (op))
#define OPS_ALL	  ((1u << VTIO_DMA_NOPS) - 1u)

struct trace_layer {
	struct vtio_dma_layer layer;
	struct vtio_dma_ops ops;
	const char *tag;
	unsigned calls[VTIO_DMA_NOPS];
	uint64_t bus_add;    /* added to bus addresses on map, removed on unmap/sync */
	int work_after_prev; /* unmap: do own work after calling prev (hypercall order) */
	size_t own_below;    /* map: buffers shorter than this are not passed down */
};
void trace_layer_init(struct trace_layer *t, const char *tag, enum vtio_dma_class klass,
		      unsigned opmask);

struct flaky_layer {
	struct vtio_dma_layer layer;
	unsigned fail_at; /* 1-based index of the map call that fails; 0: never */
	unsigned maps, unmaps, failed;
};
void flaky_layer_init(struct flaky_layer *f, unsigned fail_at);

/* Bottom-class layer that bounces (copies into its own low buffer, bus address
 * = bus_base + offset) only mappings asked with VTIO_DMA_ATTR_BOUNCE, and passes
 * the rest down. One mapping at a time is enough for the tests. */
struct bouncer_layer {
	struct vtio_dma_layer layer;
	unsigned char pool[4096];
	uint64_t bus_base;
	void *orig;
	size_t len;
	int busy;
	unsigned bounced, copied_back;
};
void bouncer_layer_init(struct bouncer_layer *b, uint64_t bus_base);

#endif
