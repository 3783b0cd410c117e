/* Fuzz target: the device-side packed walk (vtio_devq_pop on a packed
 * ring) against a driver that writes anything. The input becomes the
 * descriptor ring, the driver event area and an indirect-table area inside a
 * fixed memory view, plus byte patches applied whenever the ring looks empty
 * (the driver writing more while the device works). The harness pops until
 * VTIO_EAGAIN or an error, reads each chain through the queue, writes into
 * its writable part and pushes it back (singly or in batches, in order), and
 * checks:
 *  - every iov lies inside the view; rd_len / wr_len equal the sums of the
 *    pieces and stay <= 2^32; id < num; 1 <= ndesc <= num;
 *  - no more than num descriptors are outstanding (PACKED-DRV-5 seen from
 *    the device);
 *  - an error leaves the queue broken with a reason and later pops return
 *    VTIO_EIO; VTIO_ENOBUFS leaves it usable;
 *  - the device writes nothing but the id/len/flags of descriptor slots, its
 *    own event area and (through vtio_devq_write) the writable pieces it was
 *    given (PACKED-DEV-3/5).
 * ASan/UBSan (a heap block of exactly the view's size) catch the rest.
 *
 * Input: [cfg][cfg2][rd_cap][wr_cap][image ...][patches: off_lo off_hi value ...]
 *  cfg: num = 1 + cfg % 128.
 *  cfg2 bit 0: accessor-ops view; bit 1: EVENT_IDX; bit 2: no INDIRECT_DESC;
 *  bit 3: max_indirect = num; bit 4: IN_ORDER; bit 5: batched pushes;
 *  bit 6: legacy (no VERSION_1).
 *  The image is IMAGE_LEN bytes (ring, driver event, indirect area),
 *  zero-padded; see fuzz/ring/make_packed_corpus.py.
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
#define DRVEV_OFF 0x0800u /* driver event suppression (the driver writes it) */
#define DEVEV_OFF 0x0810u /* device event suppression (the device writes it) */
#define ITAB_OFF  0x1000u
#define ITAB_LEN  0x0800u
#define DATA_OFF  0x2000u

#define IMG_DESC  0x800u
#define IMG_DRVEV 4u
#define IMAGE_LEN (IMG_DESC + IMG_DRVEV + ITAB_LEN)

#define IOV_BIG 4096u

static struct fuzz_view fv; /* the view the harness hands the queue */

static struct vtio_iov rd[IOV_BIG], wr[IOV_BIG];
static unsigned char scratch[VIEW_SIZE];

/* The device may write id/len/flags of every slot and its own event area. */
static void mirror_allowed(unsigned char *snap, uint32_t num)
{
	for (uint32_t s = 0; s < num; s++)
		memcpy(snap + DESC_OFF + s * 16u + 8u, fv.mem + DESC_OFF + s * 16u + 8u, 8);
	memcpy(snap + DEVEV_OFF, fv.mem + DEVEV_OFF, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!VTIO_CONFIG_PACKED)
		return 0; /* packed layout compiled out */
	if (size < 4)
		return 0;
	uint32_t num = 1u + data[0] % 128u;
	uint8_t c2 = data[1];
	unsigned rd_cap = data[2] % 65u, wr_cap = data[3] % 65u;
	int ops = c2 & 1;
	data += 4;
	size -= 4;

	unsigned char *mem = malloc(VIEW_SIZE);
	unsigned char *snap = malloc(VIEW_SIZE);
	CHECK(mem && snap);
	fv = (struct fuzz_view){BASE, VIEW_SIZE, mem};
	/* Image layout in the input: descriptor ring, driver event area, indirect area. */
	static const size_t part_off[3] = {DESC_OFF, DRVEV_OFF, ITAB_OFF};
	static const size_t part_len[3] = {IMG_DESC, IMG_DRVEV, ITAB_LEN};
	size_t take = fuzz_load_image(&fv, snap, data, size, part_off, part_len, DATA_OFF);
	data += take;
	size -= take;

	struct vtio_mem view;
	struct vtio_mem_region reg;
	fuzz_view_init(&view, &reg, &fv, ops);
	uint64_t features = 0;
	if (!(c2 & 0x40))
		features |= VTIO_FEATURE(VTIO_F_VERSION_1);
	if (c2 & 0x02)
		features |= VTIO_FEATURE(VTIO_F_EVENT_IDX);
	if (!(c2 & 0x04))
		features |= VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
	if (c2 & 0x10)
		features |= VTIO_FEATURE(VTIO_F_IN_ORDER);
	static _Alignas(16) unsigned char state[4096];
	static const uint64_t addr[3] = {BASE + DESC_OFF, BASE + DRVEV_OFF, BASE + DEVEV_OFF};
	struct vtio_devq *q = fuzz_devq_make(state, sizeof(state), VTIO_LAYOUT_PACKED, num,
					     features, (c2 & 0x08) ? num : 0, addr, &view);

	struct vtio_devq_done pend[128];
	unsigned npend = 0;
	uint32_t outstanding = 0;
	size_t patch = 0;
	for (unsigned iter = 0; iter < 8 * num + 64; iter++) {
		struct vtio_devq_chain c;
		int rc = fuzz_devq_pop_caps(q, &c, rd, rd_cap, wr, wr_cap, IOV_BIG);
		if (rc == 0) {
			CHECK(c.id < num);
			CHECK(c.ndesc >= 1 && c.ndesc <= num);
			outstanding += c.ndesc;
			CHECK(outstanding <= num);
			fuzz_devq_check_chain(q, &c, &fv, ops, scratch, sizeof(scratch));
			uint32_t len = 0;
			if (!ops && c.wr_num > 0)
				len =
				    fuzz_devq_write_mirror(q, &c, &fv, snap, scratch,
							   (unsigned char)(0x40u + (iter & 0x3fu)));
			pend[npend].h = vtio_devq_handle_of(&c);
			pend[npend].len = len;
			npend++;
			/* batched: hold up to 4 (in pop order, valid for IN_ORDER too) */
			if (!(c2 & 0x20) || npend == 4 || (iter & 3u) == 0) {
				CHECK(vtio_devq_push_batch(q, pend, npend) == 0);
				for (unsigned i = 0; i < npend; i++)
					outstanding -= pend[i].h.ndesc;
				npend = 0;
				(void)vtio_devq_kick(q);
			}
			mirror_allowed(snap, num);
			continue;
		}
		if (rc == VTIO_EAGAIN) {
			CHECK(!vtio_devq_is_broken(q));
			if (npend) {
				CHECK(vtio_devq_push_batch(q, pend, npend) == 0);
				for (unsigned i = 0; i < npend; i++)
					outstanding -= pend[i].h.ndesc;
				npend = 0;
				mirror_allowed(snap, num);
			}
			size_t off;
			uint8_t val;
			if (!fuzz_next_patch(data, size, &patch, VIEW_SIZE, &off, &val))
				break;
			if (off >= DEVEV_OFF && off < DEVEV_OFF + 4)
				off = DRVEV_OFF + (off - DEVEV_OFF); /* the driver's own area */
			mem[off] = val;
			snap[off] = val;
			if ((iter & 7u) == 3u) {
				(void)vtio_devq_enable_notify(q);
				mirror_allowed(snap, num);
			} else if ((iter & 7u) == 5u) {
				vtio_devq_disable_notify(q);
				mirror_allowed(snap, num);
			}
			continue;
		}
		fuzz_devq_check_broken(q, rc, rd, wr, IOV_BIG);
		break;
	}
	/* PACKED-DEV-3/5: nothing else was written. */
	CHECK(memcmp(mem, snap, VIEW_SIZE) == 0);
	free(snap);
	free(mem);
	return 0;
}
