/*
 * A recording DMA layer for ring tests, shared by every test that needs one:
 * every map and unmap is a real call (the stack is neither identity nor
 * linear), bus = cpu + REC_BUS_OFF, the fail_at-th map fails with
 * VTIO_ENOMEM (an exhausted bounce pool, say), and an unmap that does not
 * match a live mapping's bus address, length and direction fails the test at
 * once (and is counted in bad_unmaps).
 */
#ifndef VTIO_TEST_RING_DMA_RECORDER_H
#define VTIO_TEST_RING_DMA_RECORDER_H

#include <stdbool.h>
#include <string.h>

#include "vtio/dma.h"
#include "vtio/dma_layers.h"

#define REC_BUS_OFF 0x100000000000ull
#define REC_MAX	    256

struct rec {
	uint64_t bus;
	size_t len;
	enum vtio_dma_dir dir;
	bool live;
};

static struct rec recs[REC_MAX];
static unsigned nrec, maps, unmaps, bad_unmaps, fail_at;

static int rec_map(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		   uint32_t attrs, uint64_t *bus)
{
	(void)l;
	(void)attrs;
	maps++;
	if (fail_at != 0 && maps == fail_at)
		return VTIO_ENOMEM;
	assert_true(nrec < REC_MAX);
	*bus = (uint64_t)(uintptr_t)cpu + REC_BUS_OFF;
	recs[nrec].bus = *bus;
	recs[nrec].len = len;
	recs[nrec].dir = dir;
	recs[nrec].live = true;
	nrec++;
	return 0;
}

static int rec_unmap(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		     uint32_t attrs)
{
	(void)l;
	(void)attrs;
	unmaps++;
	for (unsigned i = 0; i < nrec; i++) {
		if (recs[i].live && recs[i].bus == bus && recs[i].len == len &&
		    recs[i].dir == dir) {
			recs[i].live = false;
			return 0;
		}
	}
	bad_unmaps++;
	fail_msg("unmap of something not mapped (bus %llx, len %zu, dir %d)",
		 (unsigned long long)bus, len, (int)dir);
	return VTIO_EINVAL;
}

static const struct vtio_dma_ops rec_ops = {
    .name = "recorder", .klass = VTIO_DMA_CLASS_BOTTOM, .map = rec_map, .unmap = rec_unmap};

static struct vtio_dma_layer rec_layer;
static struct vtio_dma_dev rec_dev;

/* Forget every record and counter (the layer itself stays built). */
static inline void rec_reset(void)
{
	memset(recs, 0, sizeof(recs));
	nrec = maps = unmaps = bad_unmaps = fail_at = 0;
}

/* A DMA device whose only layer is the recorder, records reset. */
static inline struct vtio_dma_dev *rec_make_dev(void)
{
	memset(&rec_layer, 0, sizeof(rec_layer));
	rec_layer.ops = &rec_ops;
	vtio_dma_dev_init(&rec_dev);
	assert_int_equal(vtio_dma_dev_push(&rec_dev, &rec_layer), 0);
	assert_int_equal(vtio_dma_dev_build(&rec_dev), 0);
	assert_false(rec_dev.identity);
	assert_false(rec_dev.linear);
	rec_reset();
	return &rec_dev;
}

/* Mappings still live. */
static inline unsigned rec_live(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < nrec; i++)
		n += recs[i].live;
	return n;
}

/* A linear DMA device: one direct layer adding REC_BUS_OFF (the ring core
 * adds the offset inline: no map call, nothing recorded). */
static inline struct vtio_dma_dev *rec_make_linear_dev(void)
{
	static struct vtio_dma_direct dd;
	static struct vtio_dma_dev ldev;
	struct vtio_dma_direct_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.mode = VTIO_DMA_DIRECT_OFFSET;
	dc.offset = REC_BUS_OFF;
	assert_int_equal(vtio_dma_direct_init(&dd, &dc), 0);
	vtio_dma_dev_init(&ldev);
	assert_int_equal(vtio_dma_dev_push(&ldev, &dd.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&ldev), 0);
	assert_true(ldev.linear);
	return &ldev;
}

#endif /* VTIO_TEST_RING_DMA_RECORDER_H */
