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
	struct fuzz_view fv = {BASE, VIEW_SIZE, mem};
	/* Image layout in the input: desc table, avail ring, indirect area. */
	static const size_t part_off[3] = {DESC_OFF, AVAIL_OFF, ITAB_OFF};
	static const size_t part_len[3] = {IMG_DESC, IMG_AVAIL, ITAB_LEN};
	size_t take = fuzz_load_image(&fv, snap, data, size, part_off, part_len, DATA_OFF);
	data += take;
	size -= take;

	struct vtio_mem view;
	struct vtio_mem_region reg;
	fuzz_view_init(&view, &reg, &fv, ops);
	uint64_t features = 0;
	if (!(cfgb & 0x08))
		features |= VTIO_FEATURE(VTIO_F_VERSION_1);
	if (cfgb & 0x20)
		features |= VTIO_FEATURE(VTIO_F_EVENT_IDX);
	if (!(cfgb & 0x80))
		features |= VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
	static _Alignas(16) unsigned char state[1 << 16];
	static const uint64_t addr[3] = {BASE + DESC_OFF, BASE + AVAIL_OFF, BASE + USED_OFF};
	struct vtio_devq *q = fuzz_devq_make(state, sizeof(state), VTIO_LAYOUT_SPLIT, num, features,
					     (cfgb & 0x40) ? num : 0, addr, &view);

	const size_t used_lo = USED_OFF, used_hi = USED_OFF + vtio_split_used_size(num);
	size_t patch = 0;
	unsigned popped_since_patch = 0;
	for (unsigned iter = 0; iter < 4 * num + 64; iter++) {
		struct vtio_devq_chain c;
		int rc = fuzz_devq_pop_caps(q, &c, rd, rd_cap, wr, wr_cap, IOV_BIG);
		if (rc == 0) {
			/* SPLIT-DEV-8: no more than num chains per avail idx reading. */
			CHECK(++popped_since_patch <= num);
			CHECK(c.id < num);
			fuzz_devq_check_chain(q, &c, &fv, ops, scratch, sizeof(scratch));
			uint32_t len = c.wr_len < 16 ? (uint32_t)c.wr_len : 16u;
			if (!ops && c.wr_num > 0)
				len =
				    fuzz_devq_write_mirror(q, &c, &fv, snap, scratch,
							   (unsigned char)(0x40u + (iter & 0x3fu)));
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
			/* The driver writes more: apply one patch (never to the used ring). */
			size_t off;
			uint8_t val;
			if (!fuzz_next_patch(data, size, &patch, VIEW_SIZE, &off, &val))
				break;
			if (off >= used_lo && off < used_hi)
				off = AVAIL_OFF + 2 + (off & 1u); /* steer it to avail idx */
			mem[off] = val;
			snap[off] = val;
			popped_since_patch = 0;
			if ((iter & 7u) == 3u)
				(void)vtio_devq_enable_notify(q);
			continue;
		}
		fuzz_devq_check_broken(q, rc, rd, wr, IOV_BIG);
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
