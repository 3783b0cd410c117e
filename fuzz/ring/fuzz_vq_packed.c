/* Fuzz target: driver-side reaping of a packed ring (vtio_vq_get_used and
 * friends) against a device that writes anything into the descriptor ring
 * and its event area. The input is a program of operations:
 *
 *   [cfg][cfg2] then records:
 *   0 n        add a buffer of (n & 3) + 1 segments, (n >> 2) & 3 of them readable
 *              (one segment: every other time through vtio_vq_add_batch())
 *   1 s i i l l f   device writes a used descriptor at slot s % num: id, len (16 bits
 *              scaled), flags byte: bit 0 AVAIL, 1 USED, 2 WRITE, 3 NEXT, 4 INDIRECT,
 *              bit 7 "honest": use the device's own position, wrap bits and
 *              an id taken from a buffer it saw (then s picks which)
 *   2          reap everything (get_used until NULL; every other time with
 *              vtio_vq_get_used_batch() in calls of 1..7)
 *   3 x        suppression calls: enable_cb / enable_cb_delayed / disable_cb /
 *              kick_prepare / more_used / device event area := x
 *   others     ignored
 *  cfg: num = 1 + cfg % 64. cfg2 bit 0: IN_ORDER; bit 1: INDIRECT_DESC (2
 *  tables of 4); bit 2: EVENT_IDX; bit 3: NOTIFICATION_DATA; bit 4: buffers
 *  mapped through a flaky DMA layer (ACCESS_PLATFORM) whose every k-th map
 *  fails with VTIO_ENOMEM, k = 2 + (cfg2 >> 5) (an exhausted bounce pool).
 *
 * Checks: a token comes back only while in flight and at most once; len <=
 * the buffer's writable size; after the run every token not reaped comes
 * back exactly once through vtio_vq_detach_unused(), num_free returns to
 * num and vtio_vq_reset() succeeds. The driver never reads or writes
 * outside its ring areas (ASan: each area is its own heap block). With the
 * flaky DMA layer: an add that fails leaves the descriptor ring byte for
 * byte as it was (CHECKLIST 3.15: nothing the device could read as
 * available), every unmap matches a live mapping, and none is left at the end.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vtio/vq.h"
#include "vtio/dma.h"

#include "fuzz_common.h"

#define MAXT 256u /* tokens per run */

struct tokst {
	unsigned char state; /* 0 unused, 1 in flight, 2 returned */
	uint32_t wr;	     /* writable bytes */
	uint16_t id;	     /* buffer id as written in the ring */
};

static struct tokst toks[MAXT];
static unsigned char bufmem[4][64];

/* ---- Flaky DMA layer: bus = cpu + offset, every k-th map fails ---- */

#define MAXMAP 1024u
struct maprec {
	uint64_t bus;
	size_t len;
	enum vtio_dma_dir dir;
};
static struct maprec maprecs[MAXMAP];
static unsigned nmap, mapcalls, fail_every;

#if VTIO_CONFIG_DMA
static int flaky_map(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		     uint32_t attrs, uint64_t *bus)
{
	(void)l;
	(void)attrs;
	if (fail_every != 0 && ++mapcalls % fail_every == 0)
		return VTIO_ENOMEM;
	CHECK(nmap < MAXMAP);
	*bus = (uint64_t)(uintptr_t)cpu + 0x100000000000ull;
	maprecs[nmap].bus = *bus;
	maprecs[nmap].len = len;
	maprecs[nmap].dir = dir;
	nmap++;
	return 0;
}

static int flaky_unmap(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		       uint32_t attrs)
{
	(void)l;
	(void)attrs;
	for (unsigned i = 0; i < nmap; i++) {
		if (maprecs[i].bus == bus && maprecs[i].len == len && maprecs[i].dir == dir) {
			maprecs[i] = maprecs[--nmap];
			return 0;
		}
	}
	CHECK(0); /* unmap of something not mapped (or unmapped twice) */
	return VTIO_EINVAL;
}

static const struct vtio_dma_ops flaky_ops = {
    .name = "flaky", .klass = VTIO_DMA_CLASS_BOTTOM, .map = flaky_map, .unmap = flaky_unmap};
static struct vtio_dma_layer flaky_layer;
static struct vtio_dma_dev flaky_dev;
#endif

static void put_used(unsigned char *desc, uint32_t slot, uint16_t id, uint32_t len, uint16_t flags)
{
	uint32_t l = vtio_le32(len);
	uint16_t i = vtio_le16(id), f = vtio_le16(flags);
	memcpy(desc + slot * 16u + 8u, &l, 4);
	memcpy(desc + slot * 16u + 12u, &i, 2);
	memcpy(desc + slot * 16u + 14u, &f, 2);
}

static void take(void *t, uint32_t len)
{
	if (t == NULL)
		return;
	struct tokst *s = t;
	CHECK(s >= toks && s < toks + MAXT);
	CHECK(s->state == 1);
	CHECK(len <= s->wr);
	s->state = 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!VTIO_CONFIG_PACKED)
		return 0; /* packed layout compiled out */
	if (size < 2)
		return 0;
	uint32_t num = 1u + data[0] % 64u;
	uint8_t c2 = data[1];
	data += 2;
	size -= 2;
	memset(toks, 0, sizeof(toks));

	unsigned char *desc = malloc(16u * num);
	unsigned char *drv = malloc(4);
	unsigned char *dev = malloc(4);
	CHECK(desc && drv && dev);
	struct vtio_vq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.layout = VTIO_LAYOUT_PACKED;
	cfg.num = num;
	cfg.features = VTIO_FEATURE(VTIO_F_VERSION_1);
	if (c2 & 1)
		cfg.features |= VTIO_FEATURE(VTIO_F_IN_ORDER);
	if (c2 & 2) {
		cfg.features |= VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
		cfg.indirect_tables = 2;
		cfg.indirect_max = 4;
		cfg.indirect_threshold = 3;
	}
	if (c2 & 4)
		cfg.features |= VTIO_FEATURE(VTIO_F_EVENT_IDX);
	if (c2 & 8)
		cfg.features |= VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA);
	cfg.areas.desc = desc;
	cfg.areas.driver = drv;
	cfg.areas.device = dev;
	cfg.areas.desc_addr = (uintptr_t)desc;
	cfg.areas.driver_addr = (uintptr_t)drv;
	cfg.areas.device_addr = (uintptr_t)dev;
	cfg.notify = fuzz_notify_nop;
	nmap = mapcalls = fail_every = 0;
#if VTIO_CONFIG_DMA
	if (c2 & 16) {
		memset(&flaky_layer, 0, sizeof(flaky_layer));
		flaky_layer.ops = &flaky_ops;
		vtio_dma_dev_init(&flaky_dev);
		CHECK(vtio_dma_dev_push(&flaky_dev, &flaky_layer) == 0);
		CHECK(vtio_dma_dev_build(&flaky_dev) == 0);
		cfg.features |= VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM);
		cfg.dma = &flaky_dev;
		fail_every = 2u + (c2 >> 5);
	}
#endif
	size_t ssz =
	    vtio_vq_state_size(VTIO_LAYOUT_PACKED, num, cfg.indirect_tables, cfg.indirect_max);
	CHECK(ssz > 0);
	void *state = aligned_alloc(16, (ssz + 15u) & ~(size_t)15u);
	CHECK(state != NULL);
	struct vtio_vq *vq;
	CHECK(vtio_vq_init(&vq, state, ssz, &cfg) == 0);

	unsigned ntok = 0, nadds = 0, nreaps = 0;
	uint32_t dslot = 0; /* the honest device's next used slot */
	int dwrap = 1;
	uint16_t seen[MAXT]; /* ids of buffers added (for honest used descriptors) */
	unsigned nseen = 0;
	static unsigned char before[16u * 64u];
	size_t p = 0;
	while (p < size) {
		uint8_t op = data[p++] % 4u;
		if (op == 0 && p < size) {
			uint8_t n = data[p++];
			unsigned nseg = (n & 3u) + 1u, nout = (n >> 2) & 3u;
			if (nout > nseg)
				nout = nseg;
			if (ntok >= MAXT)
				continue;
			struct vtio_sg sg[4];
			uint32_t wr = 0;
			for (unsigned i = 0; i < nseg; i++) {
				sg[i] = vtio_sg_of(bufmem[i], 16u + 8u * i);
				if (i >= nout)
					wr += sg[i].len;
			}
			memcpy(before, desc, 16u * num);
			int err;
			if (nseg == 1 && (nadds++ & 1u)) {
				void *tk = &toks[ntok];
				err = vtio_vq_add_batch(vq, sg, 1, nout == 0, &tk);
				CHECK(err == 1 || err < 0);
				if (err == 1)
					err = 0;
			} else {
				err = vtio_vq_add(vq, sg, nout, nseg - nout, &toks[ntok]);
			}
			if (err == 0) {
				toks[ntok].state = 1;
				toks[ntok].wr = wr;
				ntok++;
				(void)vtio_vq_kick(vq);
				/* learn the buffer id: every descriptor of the list holds it */
				for (uint32_t s = 0; s < num && nseen < MAXT; s++) {
					if (memcmp(before + s * 16u, desc + s * 16u, 16) != 0) {
						uint16_t idw;
						memcpy(&idw, desc + s * 16u + 12u, 2);
						seen[nseen++] = vtio_le16(idw);
						break;
					}
				}
			} else {
				CHECK(err == VTIO_ENOSPC || err == VTIO_EIO || err == VTIO_E2BIG ||
				      (fail_every != 0 && err == VTIO_ENOMEM));
				/* A failed add leaves nothing in the ring (CHECKLIST 3.15). */
				CHECK(memcmp(before, desc, 16u * num) == 0);
			}
		} else if (op == 1 && p + 6 <= size) {
			const uint8_t *r = data + p;
			p += 6;
			uint16_t id = (uint16_t)(r[1] | r[2] << 8);
			uint32_t len = (uint32_t)(r[3] | r[4] << 8) * 3u;
			uint8_t fb = r[5];
			uint32_t slot = r[0] % num;
			uint16_t flags = (uint16_t)(((fb & 1) ? VTIO_DESC_F_AVAIL : 0) |
						    ((fb & 2) ? VTIO_DESC_F_USED : 0) |
						    ((fb & 4) ? VTIO_DESC_F_WRITE : 0) |
						    ((fb & 8) ? VTIO_DESC_F_NEXT : 0) |
						    ((fb & 16) ? VTIO_DESC_F_INDIRECT : 0));
			if (fb & 0x80) {
				/* honest-ish: own position, right wrap bits, a seen id */
				slot = dslot;
				flags =
				    (uint16_t)((flags & ~(VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED)) |
					       (dwrap ? VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED : 0));
				if (nseen)
					id = seen[r[0] % nseen];
				dslot += 1u + (fb >> 5 & 3u);
				while (dslot >= num) {
					dslot -= num;
					dwrap = !dwrap;
				}
			}
			put_used(desc, slot, id, len, flags);
		} else if (op == 2) {
			uint32_t len;
			void *t;
			unsigned guard = 0;
			if (nreaps++ & 1u) {
				void *tb[7];
				uint32_t lb[7];
				unsigned n = 1u + nreaps % 7u;
				int k;
				while ((k = vtio_vq_get_used_batch(vq, tb, lb, n)) > 0) {
					CHECK((unsigned)k <= n);
					for (int i = 0; i < k; i++)
						take(tb[i], lb[i]);
					guard += (unsigned)k;
					CHECK(guard <= MAXT);
				}
				CHECK(k == VTIO_EAGAIN || k == VTIO_EIO);
				CHECK((k == VTIO_EIO) == vtio_vq_is_broken(vq));
			}
			while ((t = vtio_vq_get_used(vq, &len)) != NULL) {
				take(t, len);
				CHECK(++guard <= MAXT);
			}
		} else if (op == 3 && p < size) {
			uint8_t x = data[p++];
			switch (x & 7u) {
			case 0:
				(void)vtio_vq_enable_cb(vq);
				break;
			case 1:
				(void)vtio_vq_enable_cb_delayed(vq);
				break;
			case 2:
				vtio_vq_disable_cb(vq);
				break;
			case 3:
				(void)vtio_vq_kick_prepare(vq);
				break;
			case 4:
				(void)vtio_vq_more_used(vq);
				break;
			default: {
				uint16_t ow = vtio_le16((uint16_t)(x * 0x0101u));
				uint16_t fl = vtio_le16((uint16_t)(x >> 3));
				memcpy(dev, &ow, 2);
				memcpy(dev + 2, &fl, 2);
				break;
			}
			}
		}
	}
	void *t;
	while ((t = vtio_vq_detach_unused(vq)) != NULL) {
		struct tokst *s = t;
		CHECK(s >= toks && s < toks + MAXT && s->state == 1);
		s->state = 2;
	}
	for (unsigned i = 0; i < ntok; i++)
		CHECK(toks[i].state == 2);
	CHECK(vtio_vq_num_free(vq) == num);
	CHECK(nmap == 0); /* every mapping undone */
	CHECK(vtio_vq_reset(vq) == 0);
	CHECK(!vtio_vq_is_broken(vq));
	free(state);
	free(dev);
	free(drv);
	free(desc);
	return 0;
}
