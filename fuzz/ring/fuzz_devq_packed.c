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

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static unsigned char *g_mem;

static int in_view(uint64_t addr, uint64_t len)
{
	return addr >= BASE && len <= VIEW_SIZE && addr - BASE <= VIEW_SIZE - len;
}

static int ops_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
	(void)ctx;
	if (!in_view(addr, len))
		return VTIO_EFAULT;
	memcpy(dst, g_mem + (addr - BASE), len);
	return 0;
}

static int ops_write(void *ctx, uint64_t addr, const void *src, size_t len)
{
	(void)ctx;
	if (!in_view(addr, len))
		return VTIO_EFAULT;
	memcpy(g_mem + (addr - BASE), src, len);
	return 0;
}

static const struct vtio_mem_ops fz_ops = {ops_read, ops_write, NULL};

static int notify_cb(void *ctx, uint32_t data)
{
	(void)ctx;
	(void)data;
	return 0;
}

static struct vtio_iov rd[IOV_BIG], wr[IOV_BIG];
static unsigned char scratch[VIEW_SIZE];

static void check_iovs(const struct vtio_iov *v, unsigned n, int ops, uint64_t total)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++) {
		sum += v[i].len;
		if (ops) {
			CHECK(v[i].ptr == NULL);
			continue;
		}
		CHECK(in_view(v[i].addr, v[i].len));
		if (v[i].ptr != NULL)
			CHECK((const unsigned char *)v[i].ptr == g_mem + (v[i].addr - BASE));
	}
	CHECK(sum == total);
}

static void caps(struct vtio_devq_chain *c, unsigned rd_max, unsigned wr_max)
{
	memset(c, 0, sizeof(*c));
	c->rd = rd;
	c->rd_max = rd_max;
	c->wr = wr;
	c->wr_max = wr_max;
}

/* The device may write id/len/flags of every slot and its own event area. */
static void mirror_allowed(unsigned char *snap, uint32_t num)
{
	for (uint32_t s = 0; s < num; s++)
		memcpy(snap + DESC_OFF + s * 16u + 8u, g_mem + DESC_OFF + s * 16u + 8u, 8);
	memcpy(snap + DEVEV_OFF, g_mem + DEVEV_OFF, 4);
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
	g_mem = mem;
	memset(mem, 0, VIEW_SIZE);
	size_t take = size < IMAGE_LEN ? size : IMAGE_LEN;
	for (size_t i = 0; i < take; i++) {
		size_t off = i < IMG_DESC		? DESC_OFF + i
			     : i < IMG_DESC + IMG_DRVEV ? DRVEV_OFF + (i - IMG_DESC)
							: ITAB_OFF + (i - IMG_DESC - IMG_DRVEV);
		mem[off] = data[i];
	}
	for (size_t i = 0; i < 0x1000u; i++)
		mem[DATA_OFF + i] = (unsigned char)(i * 7u);
	data += take;
	size -= take;
	memcpy(snap, mem, VIEW_SIZE);

	struct vtio_mem view;
	struct vtio_mem_region reg = {BASE, VIEW_SIZE, mem, VTIO_MEM_RW};
	if (ops) {
		CHECK(vtio_mem_init(&view, NULL, 0) == 0);
		CHECK(vtio_mem_set_ops(&view, &fz_ops, NULL) == 0);
	} else {
		CHECK(vtio_mem_init(&view, &reg, 1) == 0);
	}
	struct vtio_devq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.layout = VTIO_LAYOUT_PACKED;
	cfg.num = num;
	if (!(c2 & 0x40))
		cfg.features |= VTIO_FEATURE(VTIO_F_VERSION_1);
	if (c2 & 0x02)
		cfg.features |= VTIO_FEATURE(VTIO_F_EVENT_IDX);
	if (!(c2 & 0x04))
		cfg.features |= VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
	if (c2 & 0x10)
		cfg.features |= VTIO_FEATURE(VTIO_F_IN_ORDER);
	cfg.max_indirect = (c2 & 0x08) ? num : 0;
	cfg.desc_addr = BASE + DESC_OFF;
	cfg.driver_addr = BASE + DRVEV_OFF;
	cfg.device_addr = BASE + DEVEV_OFF;
	cfg.mem = &view;
	cfg.notify = notify_cb;
	static _Alignas(16) unsigned char state[4096];
	size_t ssz = vtio_devq_state_size(VTIO_LAYOUT_PACKED, num);
	CHECK(ssz > 0 && ssz <= sizeof(state));
	struct vtio_devq *q;
	CHECK(vtio_devq_init(&q, state, ssz, &cfg) == 0);

	struct vtio_devq_done pend[128];
	unsigned npend = 0;
	uint32_t outstanding = 0;
	size_t patch = 0;
	for (unsigned iter = 0; iter < 8 * num + 64; iter++) {
		struct vtio_devq_chain c;
		caps(&c, rd_cap, wr_cap);
		int rc = vtio_devq_pop(q, &c);
		if (rc == VTIO_ENOBUFS) {
			CHECK(!vtio_devq_is_broken(q));
			caps(&c, IOV_BIG, IOV_BIG);
			rc = vtio_devq_pop(q, &c);
			CHECK(rc != VTIO_ENOBUFS);
		}
		if (rc == 0) {
			CHECK(c.id < num);
			CHECK(c.ndesc >= 1 && c.ndesc <= num);
			outstanding += c.ndesc;
			CHECK(outstanding <= num);
			CHECK(c.rd_len + c.wr_len <= ((uint64_t)1 << 32));
			CHECK(c.rd_num <= c.rd_max && c.wr_num <= c.wr_max);
			check_iovs(c.rd, c.rd_num, ops, c.rd_len);
			check_iovs(c.wr, c.wr_num, ops, c.wr_len);
			size_t want =
			    c.rd_len < sizeof(scratch) ? (size_t)c.rd_len : sizeof(scratch);
			int64_t got = vtio_devq_read(q, &c, 0, scratch, want);
			CHECK(got <= (int64_t)want);
			if (!ops)
				CHECK(got == (int64_t)want);
			uint32_t len = 0;
			if (!ops && c.wr_num > 0) {
				size_t n = c.wr_len < 512 ? (size_t)c.wr_len : 512u;
				memset(scratch, (int)(0x40u + (iter & 0x3fu)), n);
				CHECK(vtio_devq_write(q, &c, 0, scratch, n) == (int64_t)n);
				size_t left = n;
				for (unsigned i = 0; i < c.wr_num && left > 0; i++) {
					size_t l = c.wr[i].len < left ? c.wr[i].len : left;
					memcpy(snap + (c.wr[i].addr - BASE), scratch, l);
					left -= l;
				}
				len = (uint32_t)n;
			}
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
			if (size - patch < 3)
				break;
			size_t off =
			    ((size_t)data[patch] | (size_t)data[patch + 1] << 8) % VIEW_SIZE;
			uint8_t val = data[patch + 2];
			patch += 3;
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
		CHECK(rc < 0);
		CHECK(vtio_devq_is_broken(q));
		CHECK(vtio_devq_broken_reason(q) != NULL);
		caps(&c, IOV_BIG, IOV_BIG);
		CHECK(vtio_devq_pop(q, &c) == VTIO_EIO);
		break;
	}
	/* PACKED-DEV-3/5: nothing else was written. */
	CHECK(memcmp(mem, snap, VIEW_SIZE) == 0);
	free(snap);
	free(mem);
	return 0;
}
