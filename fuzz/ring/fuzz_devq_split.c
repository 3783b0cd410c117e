/* Fuzz target: the device-side split chain walk (vtio_devq_pop) against a
 * driver that writes anything. The input becomes the descriptor table, the
 * avail ring and an indirect-table area inside a fixed memory view, plus a
 * list of byte patches applied between pops (the driver changing memory
 * while the device works). The harness pops until VTIO_EAGAIN or an error,
 * reads every chain through the queue and pushes it back, and checks:
 *  - every iov pointer and address lies inside the view;
 *  - rd_len / wr_len equal the sums of the pieces, and stay <= 2^32;
 *  - an error leaves the queue broken with a reason, and later pops return
 *    VTIO_EIO; VTIO_ENOBUFS leaves it usable;
 *  - the device writes nothing but the used ring and, through
 *    vtio_devq_write(), the writable pieces it was given (SPLIT-DEV-2/4);
 *  - at most num chains are popped per avail idx move (SPLIT-DEV-8).
 * ASan/UBSan (heap block of exactly the view's size) catch any access
 * outside the view.
 *
 * Input: [cfg][rd_cap][wr_cap][image ...][patches: off_lo off_hi value ...]
 *  cfg bits 0-2: log2(num) (1..128); bit 3: legacy (no VERSION_1);
 *  bit 4: accessor-ops view instead of regions; bit 5: EVENT_IDX;
 *  bit 6: max_indirect = num (strict); bit 7: no INDIRECT_DESC.
 *  The image is IMAGE_LEN bytes (desc table, avail ring, indirect area),
 *  zero-padded when the input is short; see fuzz/ring/make_corpus.py.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vtio/devq.h"

#include "fuzz_common.h"

#define BASE	  0x1000ull
#define VIEW_SIZE 0x3000u
#define DESC_OFF  0x0000u /* 16 * 128 = 0x800 */
#define AVAIL_OFF 0x0800u /* 6 + 2 * 128 = 262 */
#define USED_OFF  0x0c00u /* 6 + 8 * 128 = 1030 */
#define ITAB_OFF  0x1800u /* indirect tables, 0x800 bytes */
#define ITAB_LEN  0x0800u
#define DATA_OFF  0x2000u /* data, 0x1000 bytes */

/* Image bytes taken from the input: desc table, avail ring, indirect area
 * (fixed sizes for the largest num, so offsets do not depend on cfg). */
#define IMG_DESC  0x800u
#define IMG_AVAIL 0x108u
#define IMAGE_LEN (IMG_DESC + IMG_AVAIL + ITAB_LEN)

#define IOV_BIG 4096u

static struct vtio_iov rd[IOV_BIG], wr[IOV_BIG];
static unsigned char scratch[VIEW_SIZE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	uint8_t cfgb = data[0];
	unsigned rd_cap = data[1] % 65u, wr_cap = data[2] % 65u;
	data += 3;
	size -= 3;
	uint32_t num = 1u << (cfgb & 7u);
	int ops = (cfgb >> 4) & 1;

	unsigned char *mem = malloc(VIEW_SIZE);
	unsigned char *snap = malloc(VIEW_SIZE);
	CHECK(mem && snap);
	memset(mem, 0, VIEW_SIZE);
	size_t take = size < IMAGE_LEN ? size : IMAGE_LEN;
	/* Image layout in the input: desc table, avail ring, indirect area. */
	for (size_t i = 0; i < take; i++) {
		size_t off = i < IMG_DESC		? DESC_OFF + i
			     : i < IMG_DESC + IMG_AVAIL ? AVAIL_OFF + (i - IMG_DESC)
							: ITAB_OFF + (i - IMG_DESC - IMG_AVAIL);
		mem[off] = data[i];
	}
	for (size_t i = 0; i < 0x1000u; i++)
		mem[DATA_OFF + i] = (unsigned char)(i * 7u);
	data += take;
	size -= take;
	memcpy(snap, mem, VIEW_SIZE);

	struct fuzz_view fv = {BASE, VIEW_SIZE, mem};
	struct vtio_mem view;
	struct vtio_mem_region reg;
	fuzz_view_init(&view, &reg, &fv, ops);
	struct vtio_devq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.layout = VTIO_LAYOUT_SPLIT;
	cfg.num = num;
	if (!(cfgb & 0x08))
		cfg.features |= VTIO_FEATURE(VTIO_F_VERSION_1);
	if (cfgb & 0x20)
		cfg.features |= VTIO_FEATURE(VTIO_F_EVENT_IDX);
	if (!(cfgb & 0x80))
		cfg.features |= VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
	cfg.max_indirect = (cfgb & 0x40) ? num : 0;
	cfg.desc_addr = BASE + DESC_OFF;
	cfg.driver_addr = BASE + AVAIL_OFF;
	cfg.device_addr = BASE + USED_OFF;
	cfg.mem = &view;
	cfg.notify = fuzz_notify_nop;
	static _Alignas(16) unsigned char state[1 << 16];
	size_t ssz = vtio_devq_state_size(VTIO_LAYOUT_SPLIT, num);
	CHECK(ssz > 0 && ssz <= sizeof(state));
	struct vtio_devq *q;
	CHECK(vtio_devq_init(&q, state, ssz, &cfg) == 0);

	const size_t used_lo = USED_OFF, used_hi = USED_OFF + vtio_split_used_size(num);
	size_t patch = 0;
	unsigned popped_since_patch = 0;
	for (unsigned iter = 0; iter < 4 * num + 64; iter++) {
		struct vtio_devq_chain c;
		fuzz_chain_caps(&c, rd, rd_cap, wr, wr_cap);
		int rc = vtio_devq_pop(q, &c);
		if (rc == VTIO_ENOBUFS) {
			CHECK(!vtio_devq_is_broken(q));
			fuzz_chain_caps(&c, rd, IOV_BIG, wr, IOV_BIG);
			rc = vtio_devq_pop(q, &c);
			CHECK(rc != VTIO_ENOBUFS);
		}
		if (rc == 0) {
			/* SPLIT-DEV-8: no more than num chains per avail idx reading. */
			CHECK(++popped_since_patch <= num);
			CHECK(c.id < num);
			CHECK(c.rd_len + c.wr_len <= ((uint64_t)1 << 32));
			unsigned rn = c.rd_num < c.rd_max ? c.rd_num : c.rd_max;
			unsigned wn = c.wr_num < c.wr_max ? c.wr_num : c.wr_max;
			CHECK(rn == c.rd_num && wn == c.wr_num);
			fuzz_check_iovs(&fv, c.rd, rn, ops, c.rd_len);
			fuzz_check_iovs(&fv, c.wr, wn, ops, c.wr_len);
			/* Read the readable part through the queue (copy path). */
			size_t want =
			    c.rd_len < sizeof(scratch) ? (size_t)c.rd_len : sizeof(scratch);
			int64_t got = vtio_devq_read(q, &c, 0, scratch, want);
			CHECK(got <= (int64_t)want);
			if (!ops)
				CHECK(got == (int64_t)want);
			uint32_t len = c.wr_len < 16 ? (uint32_t)c.wr_len : 16u;
			if (!ops && wn > 0) {
				/* Write through the queue (the driver may have pointed a
				 * writable piece at its own rings) and mirror it in the
				 * snapshot, piece by piece as the device writes. */
				size_t n = c.wr_len < 512 ? (size_t)c.wr_len : 512u;
				memset(scratch, (int)(0x40u + (iter & 0x3fu)), n);
				CHECK(vtio_devq_write(q, &c, 0, scratch, n) == (int64_t)n);
				size_t left = n;
				for (unsigned i = 0; i < wn && left > 0; i++) {
					size_t l = c.wr[i].len < left ? c.wr[i].len : left;
					memcpy(snap + (c.wr[i].addr - BASE), scratch, l);
					left -= l;
				}
				len = (uint32_t)n;
			}
			if (iter & 1) {
				struct vtio_devq_done u = {vtio_devq_handle_of(&c), len};
				CHECK(vtio_devq_push_batch(q, &u, 1) == 0);
			} else {
				CHECK(vtio_devq_push(q, &c, len) == 0);
			}
			(void)vtio_devq_kick(q);
			continue;
		}
		if (rc == VTIO_EAGAIN) {
			CHECK(!vtio_devq_is_broken(q));
			CHECK(!vtio_devq_more_avail(q));
			if (size - patch < 3)
				break;
			/* The driver writes more: apply one patch (never to the used ring). */
			size_t off =
			    ((size_t)data[patch] | (size_t)data[patch + 1] << 8) % VIEW_SIZE;
			uint8_t val = data[patch + 2];
			patch += 3;
			if (off >= used_lo && off < used_hi)
				off = AVAIL_OFF + 2 + (off & 1u); /* steer it to avail idx */
			mem[off] = val;
			snap[off] = val;
			popped_since_patch = 0;
			if ((iter & 7u) == 3u)
				(void)vtio_devq_enable_notify(q);
			continue;
		}
		/* A protocol violation: specific error once, broken, EIO after.
		 * VTIO_EIO first is possible when the violation was found by a
		 * call that returns no error (enable_notify, more_avail). */
		CHECK(rc < 0);
		CHECK(vtio_devq_is_broken(q));
		CHECK(vtio_devq_broken_reason(q) != NULL);
		fuzz_chain_caps(&c, rd, IOV_BIG, wr, IOV_BIG);
		CHECK(vtio_devq_pop(q, &c) == VTIO_EIO);
		break;
	}
	/* SPLIT-DEV-2/4: nothing else was written (the snapshot mirrors the
	 * device's own writes into writable pieces). */
	CHECK(memcmp(mem, snap, used_lo) == 0);
	CHECK(memcmp(mem + used_hi, snap + used_hi, VIEW_SIZE - used_hi) == 0);
	free(snap);
	free(mem);
	return 0;
}
