/*
 * Hostile-ring fixtures shared by the hostile-peer corpora (both layouts).
 *
 * struct hr_drv: a driver queue (vtio_vq) whose device is the test. The test
 * learns each buffer's head (split) or buffer id (packed) as a device would,
 * then writes used entries / used descriptors by hand, with any id, len,
 * flags and index moves, and reaps. The reap helpers fail the test on a token
 * that was never added, one returned twice, a token other than the one the
 * entry named, and a len larger than the buffer's writable size; the broken /
 * finish helpers check that every token not returned comes back from
 * vtio_vq_detach_unused() exactly once.
 *
 * struct hr_dev: a device queue (vtio_devq) over one arena the test writes
 * as a hostile driver (descriptor writers below), seen through a one-region
 * view (plus an optional huge second region for length checks).
 *
 * Checklist context: SPLIT-DRV-13/15/16, PACKED-DRV-14/15/16, INORD-*,
 * CHECKLIST 3.3 and 3.18 (used by test_hostile_device.c,
 * test_packed_hostile.c, test_hostile_driver.c).
 */
#ifndef VTIO_TEST_HOSTILE_RING_H
#define VTIO_TEST_HOSTILE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vtio/vq.h"
#include "vtio/devq.h"
#include "tc_util.h"

#define HR_MAXBUF 64 /* buffers per hr_drv (token k is &tok[k]) */
#define HR_SEG	  64 /* largest segment size */

struct hr_drv {
	enum vtio_layout layout;
	uint32_t num;
	uint32_t seg; /* bytes per segment (<= HR_SEG) */
	unsigned char *desc, *driver, *device;
	void *state;
	struct vtio_vq *vq;
	unsigned notifies;
	char tok[HR_MAXBUF];
	unsigned char data[HR_MAXBUF][4][HR_SEG]; /* buffer k's segments */
	uint32_t wr_size[HR_MAXBUF];		  /* writable bytes of buffer k */
	uint16_t head[HR_MAXBUF];		  /* split: head descriptor; packed: buffer id */
	uint16_t slot[HR_MAXBUF];		  /* packed: ring slot of the first descriptor */
	uint16_t ndesc[HR_MAXBUF];		  /* packed: ring slots the buffer took */
	unsigned nadded;
	unsigned char returned[HR_MAXBUF]; /* times buffer k's token came back */
	uint16_t avail_idx;		   /* split: adds made so far (the driver's avail idx) */
	uint16_t used_idx;		   /* split: the (hostile) device's used idx */
	uint32_t avail_slot;		   /* packed: where the driver's next list goes */
	uint32_t used_slot;		   /* packed: the device's next used slot */
	bool used_wrap;			   /* packed: the device's wrap counter */
};

/* A driver queue of @p layout with VERSION_1 | @p features; @p ind_tables
 * indirect tables of 16 entries (0: none); segments of @p seg bytes. */
struct hr_drv *hr_drv_setup(enum vtio_layout layout, uint32_t num, uint64_t features,
			    uint32_t ind_tables, uint32_t seg);
void hr_drv_free(struct hr_drv *d);

/* Add buffer k = d->nadded (@p out readable + @p in writable segments) and
 * kick; learn its head / id from the ring as the device would. Returns k. */
unsigned hr_add(struct hr_drv *d, unsigned out, unsigned in);

/* Split device: one used entry (raw 32-bit id) published with used->idx + 1. */
void hr_used(struct hr_drv *d, uint32_t id, uint32_t len);
/* Split device: set used->idx to anything. */
void hr_set_used_idx(struct hr_drv *d, uint16_t idx);
/* Split: descriptor @p nth of buffer k's chain (0 = head), asserting NEXT. */
uint16_t hr_chain_member(const struct hr_drv *d, unsigned k, unsigned nth);

/* Packed device: AVAIL|USED as the device's wrap counter says (0 off lap). */
uint16_t hr_used_bits(const struct hr_drv *d);
/* Packed device: a used descriptor with @p flags at the next used slot
 * (flags stored last, release), then skip @p advance slots. */
void hr_pused_flags(struct hr_drv *d, uint16_t id, uint32_t len, uint16_t flags, unsigned advance);
/* The same with WRITE | hr_used_bits(). */
void hr_pused(struct hr_drv *d, uint16_t id, uint32_t len, unsigned advance);

/* Take a used buffer, which must be buffer @p expect_k (-1: nothing may be
 * returned). Returns the buffer or -1; *len gets its len. */
int hr_reap(struct hr_drv *d, int expect_k, uint32_t *len);
/* Take a used buffer with no expectation but a known, first-time token of
 * at most the buffer's writable size. Returns the token or NULL. */
void *hr_take(struct hr_drv *d, uint32_t *len);
/* Every token not yet returned comes back from detach_unused exactly once. */
void hr_detach_rest(struct hr_drv *d);
/* Broken as vq.h describes it (reason, no used, add/notify VTIO_EIO), then
 * hr_detach_rest(). */
void hr_expect_broken(struct hr_drv *d);
/* hr_detach_rest(), all descriptors free again, the queue resets; frees d. */
void hr_finish(struct hr_drv *d);

/* ---- Hostile driver against a device queue ---------------------------------------- */

struct hr_dev_config {
	enum vtio_layout layout;
	uint32_t num;
	uint64_t features; /* VERSION_1 is added unless legacy */
	bool legacy;	   /* no VERSION_1 */
	uint32_t max_indirect;
	uint64_t base; /* driver address of the arena's byte 0 */
	size_t size;   /* arena bytes */
	uint32_t desc_off, driver_off, device_off;
	bool huge; /* a second 16 GiB region at 4 GiB onto the arena (never touched) */
};

struct hr_dev {
	unsigned char *mem; /* the arena the hostile driver writes */
	uint32_t num;
	uint64_t base;
	size_t size;
	struct vtio_mem_region reg[2];
	struct vtio_mem view;
	void *state;
	struct vtio_devq *q;
	unsigned irqs;
};

/* Zeroed arena, view, device queue; asserts init succeeds. */
void hr_dev_setup(struct hr_dev *h, const struct hr_dev_config *c);
void hr_dev_teardown(struct hr_dev *h);

/* tc_chain_init() then vtio_devq_pop(). */
int hr_pop(struct vtio_devq *q, struct vtio_devq_chain *c, struct vtio_iov *rd, unsigned rd_max,
	   struct vtio_iov *wr, unsigned wr_max);

/* A packed descriptor (little-endian fields) at @p at. */
void hr_put_pdesc(unsigned char *at, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags);

#endif /* VTIO_TEST_HOSTILE_RING_H */
