/* Fuzz target: driver-side used reaping (vtio_vq_get_used) against a
 * device that writes anything into the used ring. The driver adds buffers
 * with known tokens; the input drives a hostile device (used entries with
 * any id and len, used->idx moves of any size) and the driver's calls. The
 * harness checks:
 *  - every returned token is one in flight, returned at most once, and (when
 *    IN_ORDER is off) the token of the buffer whose head the entry named;
 *  - a returned len never exceeds the buffer's writable size;
 *  - once broken: get_used returns NULL, add returns VTIO_EIO;
 *  - at the end, detach_unused hands back exactly the tokens never
 *    returned, so every token is accounted for exactly once.
 *
 * Input: [cfg][op]... each op is 8 bytes: [kind][a][b][c][d][e][f][g].
 *  cfg bits 0-2: log2(num) (1..128); bit 3: INDIRECT_DESC (+ 4 tables);
 *  bit 4: IN_ORDER; bit 5: EVENT_IDX; bit 6: legacy (no VERSION_1).
 *  kind % 7: 0 add, 1 used entry for a real head, 2 used entry with a raw
 *  id, 3 used idx move, 4 reap (every other one with vtio_vq_get_used_batch
 *  in calls of 1..8), 5 notification calls, 6 the device writes
 *  used->flags or avail_event. See make_corpus.py.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vtio/vq.h"

#include "fuzz_common.h"

#define MAXTOK 512u
#define SEGMAX 4u

enum { T_FREE = 0, T_FLIGHT = 1, T_DONE = 2 };

struct fz {
	uint32_t num;
	unsigned char *desc, *avail, *used;
	struct vtio_vq *vq;
	int in_order;
	char tok[MAXTOK];
	uint8_t st[MAXTOK];
	uint32_t wr[MAXTOK];
	uint16_t head[MAXTOK];
	unsigned ntok;
	uint16_t dev_idx;	 /* the device's used idx */
	uint32_t slot_id[128];	 /* last id written in each used slot */
	unsigned returned;	 /* tokens returned by get_used */
	unsigned reaps;		 /* reap ops so far (odd ones use get_used_batch) */
	unsigned flight[MAXTOK]; /* tokens in flight (unordered) */
	unsigned nflight;
};

static unsigned char bufmem[SEGMAX][256];

static uint16_t rd16(const unsigned char *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static void wr32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t wire32(const struct fz *f, uint32_t v, int legacy)
{
	(void)f;
	return legacy ? v : vtio_le32(v);
}

static void take_token(struct fz *f, void *t, uint32_t len)
{
	char *c = t;
	CHECK(c >= f->tok && c < f->tok + f->ntok);
	unsigned k = (unsigned)(c - f->tok);
	CHECK(f->st[k] == T_FLIGHT);
	f->st[k] = T_DONE;
	CHECK(len <= f->wr[k]);
	for (unsigned i = 0; i < f->nflight; i++) {
		if (f->flight[i] == k) {
			f->flight[i] = f->flight[--f->nflight];
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static struct fz f;
	memset(&f, 0, sizeof(f));
	uint8_t cfgb = data[0];
	data++;
	size--;
	f.num = 1u << (cfgb & 7u);
	f.in_order = (cfgb >> 4) & 1;
	int legacy = (cfgb >> 6) & 1;

	struct vtio_vq_area_sizes s;
	CHECK(vtio_vq_area_sizes(VTIO_LAYOUT_SPLIT, f.num, &s) == 0);
	f.desc = aligned_alloc(16, (s.desc + 15) & ~(size_t)15);
	f.avail = aligned_alloc(16, (s.driver + 15) & ~(size_t)15);
	f.used = aligned_alloc(16, (s.device + 15) & ~(size_t)15);
	CHECK(f.desc && f.avail && f.used);

	struct vtio_vq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.layout = VTIO_LAYOUT_SPLIT;
	cfg.num = f.num;
	if (!legacy)
		cfg.features |= VTIO_FEATURE(VTIO_F_VERSION_1);
	if (cfgb & 0x08) {
		cfg.features |= VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
		cfg.indirect_tables = 4;
		cfg.indirect_max = SEGMAX;
	}
	if (f.in_order)
		cfg.features |= VTIO_FEATURE(VTIO_F_IN_ORDER);
	if (cfgb & 0x20)
		cfg.features |= VTIO_FEATURE(VTIO_F_EVENT_IDX);
	cfg.areas.desc = f.desc;
	cfg.areas.driver = f.avail;
	cfg.areas.device = f.used;
	cfg.areas.desc_addr = 0x100000;
	cfg.areas.driver_addr = 0x200000;
	cfg.areas.device_addr = 0x300000;
	cfg.notify = fuzz_notify_nop;
	static _Alignas(16) unsigned char state[1 << 17];
	size_t ssz =
	    vtio_vq_state_size(VTIO_LAYOUT_SPLIT, f.num, cfg.indirect_tables, cfg.indirect_max);
	CHECK(ssz > 0 && ssz <= sizeof(state));
	CHECK(vtio_vq_init(&f.vq, state, ssz, &cfg) == 0);
	const uint16_t mask = (uint16_t)(f.num - 1u);

	for (size_t pos = 0; pos + 8 <= size; pos += 8) {
		const uint8_t *op = data + pos;
		switch (op[0] % 7u) {
		case 0: { /* add a buffer */
			if (f.ntok >= MAXTOK)
				break;
			unsigned out = op[1] % 3u, in = op[2] % 3u;
			if (out + in == 0)
				out = 1;
			struct vtio_sg sg[SEGMAX];
			uint32_t wrsz = 0;
			for (unsigned i = 0; i < out + in; i++) {
				uint32_t l = 1u + (uint32_t)(op[3 + i] & 0xffu);
				sg[i] = vtio_sg_of(bufmem[i], l);
				if (i >= out)
					wrsz += l;
			}
			unsigned k = f.ntok;
			int rc = vtio_vq_add(f.vq, sg, out, in, &f.tok[k]);
			if (vtio_vq_is_broken(f.vq)) {
				CHECK(rc == VTIO_EIO);
				break;
			}
			if (rc != 0) {
				/* Ring full, or more segments than the queue can hold. */
				CHECK(rc == VTIO_ENOSPC || rc == VTIO_E2BIG);
				break;
			}
			f.ntok++;
			f.st[k] = T_FLIGHT;
			f.wr[k] = wrsz;
			f.flight[f.nflight++] = k;
			(void)vtio_vq_kick_prepare(f.vq);
			/* The device learns the head from the avail ring. */
			uint16_t aidx = legacy ? rd16(f.avail + 2) : vtio_le16(rd16(f.avail + 2));
			uint16_t h =
			    rd16(f.avail + vtio_split_avail_ring_off((uint16_t)(aidx - 1u) & mask));
			f.head[k] = legacy ? h : vtio_le16(h);
			CHECK(f.head[k] < f.num);
			break;
		}
		case 1:	  /* used entry naming a real buffer (in flight or not) */
		case 2: { /* used entry with any id */
			uint32_t id, len;
			memcpy(&len, op + 4, 4);
			if (op[0] % 7u == 1 && f.ntok) {
				unsigned k = f.nflight && !(op[1] & 0x80)
						 ? f.flight[op[2] % f.nflight]
						 : op[2] % f.ntok;
				id = f.head[k];
				if (op[1] & 0x40)
					len = f.wr[k];
			} else {
				/* op[1]: bit 0 high byte all ones, bit 1 bit 16, bit 2 keep
				 * the high byte of the 16-bit part. */
				id = (uint32_t)op[2] | (uint32_t)op[3] << 8;
				if (!(op[1] & 4))
					id &= 0xffu; /* mostly small ids */
				if (op[1] & 1)
					id |= 0xff000000u;
				if (op[1] & 2)
					id |= 0x10000u;
			}
			unsigned slot = f.dev_idx & mask;
			unsigned char *e = f.used + vtio_split_used_ring_off(slot);
			wr32(e, wire32(&f, id, legacy));
			wr32(e + 4, wire32(&f, len, legacy));
			f.slot_id[slot] = id;
			f.dev_idx++;
			uint16_t v = legacy ? f.dev_idx : vtio_le16(f.dev_idx);
			__atomic_store_n((uint16_t *)(void *)(f.used + 2), v, __ATOMIC_RELEASE);
			break;
		}
		case 3: { /* used idx moves by anything */
			if (op[1] & 1)
				f.dev_idx = (uint16_t)(op[2] | op[3] << 8);
			else
				f.dev_idx = (uint16_t)(f.dev_idx + (op[2] & 0xfu));
			uint16_t v = legacy ? f.dev_idx : vtio_le16(f.dev_idx);
			__atomic_store_n((uint16_t *)(void *)(f.used + 2), v, __ATOMIC_RELEASE);
			break;
		}
		case 4: { /* reap (every other time with vtio_vq_get_used_batch) */
			bool batch = (f.reaps++ & 1u) != 0;
			void *tb[8];
			uint32_t lb[8];
			int nb = 0, ib = 0;
			for (unsigned n = 0; n < 2 * f.num + 2; n++) {
				uint32_t len = 0;
				unsigned slot = f.returned & mask;
				void *t;
				if (batch) {
					if (ib == nb) {
						unsigned want = 1u + f.reaps % 8u;
						nb = vtio_vq_get_used_batch(f.vq, tb, lb, want);
						ib = 0;
						if (nb <= 0) {
							CHECK(nb == VTIO_EAGAIN || nb == VTIO_EIO);
							CHECK((nb == VTIO_EIO) ==
							      vtio_vq_is_broken(f.vq));
							break;
						}
						CHECK((unsigned)nb <= want);
					}
					t = tb[ib];
					len = lb[ib];
					ib++;
				} else {
					t = vtio_vq_get_used(f.vq, &len);
				}
				if (t == NULL)
					break;
				/* A batch may end in the break of the entry after it. */
				CHECK(batch || !vtio_vq_is_broken(f.vq));
				unsigned k = (unsigned)((char *)t - f.tok);
				take_token(&f, t, len);
				/* Not IN_ORDER: the entry the driver read named this buffer. */
				if (!f.in_order)
					CHECK(f.slot_id[slot] == f.head[k]);
				f.returned++;
			}
			if (vtio_vq_is_broken(f.vq)) {
				CHECK(vtio_vq_broken_reason(f.vq) != NULL);
				CHECK(vtio_vq_get_used(f.vq, NULL) == NULL);
			}
			break;
		}
		case 6: { /* the device's suppression fields: used->flags, avail_event */
			uint16_t v = (uint16_t)(op[2] | op[3] << 8);
			if (!legacy)
				v = vtio_le16(v);
			size_t off = (op[1] & 1) ? vtio_split_avail_event_off(f.num) : 0;
			memcpy(f.used + off, &v, 2);
			(void)vtio_vq_kick_prepare(f.vq);
			break;
		}
		case 5:
		default: { /* notification paths */
			switch (op[1] % 5u) {
			case 0:
				(void)vtio_vq_kick(f.vq);
				break;
			case 1:
				vtio_vq_disable_cb(f.vq);
				break;
			case 2:
				(void)vtio_vq_enable_cb(f.vq);
				break;
			case 3:
				(void)vtio_vq_enable_cb_delayed(f.vq);
				break;
			default:
				(void)vtio_vq_more_used(f.vq);
				break;
			}
			break;
		}
		}
	}
	if (vtio_vq_is_broken(f.vq)) {
		unsigned char b[4];
		struct vtio_sg sg = vtio_sg_of(b, 4);
		CHECK(vtio_vq_add(f.vq, &sg, 1, 0, &f.tok[0]) == VTIO_EIO);
	}
	/* Every token accounted for exactly once. */
	void *t;
	while ((t = vtio_vq_detach_unused(f.vq)) != NULL)
		take_token(&f, t, 0);
	for (unsigned k = 0; k < f.ntok; k++)
		CHECK(f.st[k] == T_DONE);
	free(f.desc);
	free(f.avail);
	free(f.used);
	return 0;
}
