/*
 * End to end through the public vq/devq API (seed 002): the driver's
 * buffers live in private heap memory the device side cannot see; its
 * queue maps every buffer through a DMA stack whose bottom is the bounce
 * layer (VTIO_VQ_F_MAP) and its ring areas come from the pool through
 * vtio_dma_alloc(). The device side's memory view holds the pool and
 * nothing else, so any address outside the pool would fault there.
 * Split and packed, direct and indirect descriptors, linear and non-linear
 * pools (the device sees the two halves swapped); every byte checked in
 * both directions, including the bytes the device did not write (the map
 * copies writable buffers in, so they come back unchanged).
 * Checklist: FEAT-DRV-7 (every address given to the device is valid for it:
 * rings and buffers), SPLIT-/PACKED- round trips through a device view.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtio/vq.h"
#include "vtio/devq.h"
#include "bounce_test_util.h"

#define POOL_DEV   0x80000000ull
#define POOL_SIZE  (1024 * 1024)
#define QNUM	   64
#define MAXSEG	   4
#define MAXLEN	   5000
#define NPIECES	   64 /* pieces of the non-linear pool */
#define PIECE_SIZE (POOL_SIZE / NPIECES)
/* What the driver leaves in its writable buffers: the device must see
 * exactly this (the map copies it in), never stale pool bytes. */
#define WR_PATTERN(i) ((unsigned char)(0xC3u ^ ((i)&0xffu)))

struct req {
	unsigned nout, nin;
	unsigned char *buf[MAXSEG * 2];
	unsigned char *want[MAXSEG * 2];
	uint32_t len[MAXSEG * 2];
	uint32_t written; /* bytes the device wrote (used len) */
	bool busy;
};

struct e2e {
	struct tpool tp;
	struct vtio_bounce_set *set;
	struct vtio_bounce_layer bl;
	struct vtio_dma_dev dma;
	struct vtio_mem_region region[NPIECES];
	unsigned nregions;
	unsigned long hits[NPIECES]; /* device accesses per region */
	struct vtio_mem view;	     /* the device's: pool only */
	void *ring_cpu[3];
	uint64_t ring_bus[3];
	size_t ring_size[3];
	void *vq_state, *dq_state;
	struct vtio_vq *vq;
	struct vtio_devq *dq;
	struct req reqs[QNUM];
	uint64_t rnd;
	unsigned round_trips;
	uint64_t bytes_checked;
};

static uint32_t rnd(struct e2e *e)
{
	e->rnd ^= e->rnd << 13;
	e->rnd ^= e->rnd >> 7;
	e->rnd ^= e->rnd << 17;
	return (uint32_t)(e->rnd >> 11);
}

static int kick(void *ctx, uint32_t data)
{
	(void)ctx;
	(void)data;
	return 0;
}

/* Non-linear pool (seed 002): 64 pieces of 16 KiB that the device sees
 * scrambled (piece k at POOL_DEV + ((k * 37) % 64) MiB). */
static struct vtio_bounce_piece pieces[NPIECES];

static void make_pieces(void)
{
	for (unsigned k = 0; k < NPIECES; k++) {
		pieces[k].off = (size_t)k * PIECE_SIZE;
		pieces[k].len = PIECE_SIZE;
		pieces[k].dev = POOL_DEV + (uint64_t)((k * 37u) % NPIECES) * 0x100000u;
	}
}

/* Is [addr, addr+len) inside the pool as the device sees it? */
static bool in_pool(struct e2e *e, uint64_t addr, uint64_t len)
{
	for (unsigned i = 0; i < e->nregions; i++)
		if (addr >= e->region[i].addr && addr - e->region[i].addr <= e->region[i].len &&
		    len <= e->region[i].len - (addr - e->region[i].addr)) {
			e->hits[i]++;
			return true;
		}
	return false;
}

static void setup_e2e(struct e2e *e, enum vtio_layout layout, bool indirect, bool nonlinear)
{
	memset(e, 0, sizeof(*e));
	e->rnd = 0x1234567887654321ull ^ (uint64_t)layout ^ ((uint64_t)indirect << 8);
	struct vtio_bounce_pool_config c = tcfg_linear(POOL_SIZE, POOL_DEV);
	c.nareas = 2;
	if (nonlinear) {
		c.mapping = VTIO_BOUNCE_MAP_PIECES;
		make_pieces();
		c.pieces = pieces;
		c.npieces = NPIECES;
	}
	assert_int_equal(tpool_init(&e->tp, &c), 0);
	e->set = tset_new();
	assert_int_equal(vtio_bounce_set_register(e->set, e->tp.pool), 0);
	struct vtio_bounce_dev d;
	vtio_bounce_dev_init(&d, 0xffffffffu);
	assert_int_equal(vtio_bounce_layer_init(&e->bl, e->set, &d, 0), 0);
	vtio_dma_dev_init(&e->dma);
	assert_int_equal(vtio_dma_dev_push(&e->dma, &e->bl.layer), 0);
	assert_int_equal(vtio_dma_dev_build(&e->dma), 0);
	assert_false(e->dma.identity);

	/* The device's view: the pool, nothing else (two regions, sorted by
	 * address, when the pool is non-linear). */
	if (nonlinear) {
		for (unsigned k = 0; k < NPIECES; k++) { /* regions sorted by address */
			unsigned j = (k * 37u) % NPIECES;
			e->region[j].addr = pieces[k].dev;
			e->region[j].host = e->tp.mem + pieces[k].off;
		}
		e->nregions = NPIECES;
	} else {
		e->region[0].addr = POOL_DEV;
		e->region[0].host = e->tp.mem;
		e->nregions = 1;
	}
	for (unsigned i = 0; i < e->nregions; i++) {
		e->region[i].len = POOL_SIZE / e->nregions;
		e->region[i].perm = VTIO_MEM_RW;
	}
	assert_int_equal(vtio_mem_init(&e->view, e->region, e->nregions), 0);

	struct vtio_vq_area_sizes sz;
	assert_int_equal(vtio_vq_area_sizes(layout, QNUM, &sz), 0);
	e->ring_size[0] = sz.desc;
	e->ring_size[1] = sz.driver;
	e->ring_size[2] = sz.device;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
		    vtio_dma_alloc(&e->dma, e->ring_size[i], &e->ring_cpu[i], &e->ring_bus[i]), 0);
		assert_true(in_pool(e, e->ring_bus[i], e->ring_size[i]));
	}
	assert_true(e->ring_bus[0] % sz.desc_align == 0);
	assert_true(e->ring_bus[1] % sz.driver_align == 0);
	assert_true(e->ring_bus[2] % sz.device_align == 0);

	uint64_t feat = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM);
	if (indirect)
		feat |= VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
	if (layout == VTIO_LAYOUT_PACKED)
		feat |= VTIO_FEATURE(VTIO_F_RING_PACKED);
	struct vtio_vq_config vc;
	memset(&vc, 0, sizeof(vc));
	vc.layout = layout;
	vc.num = QNUM;
	vc.features = feat;
	vc.flags = VTIO_VQ_F_MAP;
	vc.areas.desc = e->ring_cpu[0];
	vc.areas.driver = e->ring_cpu[1];
	vc.areas.device = e->ring_cpu[2];
	vc.areas.desc_addr = e->ring_bus[0];
	vc.areas.driver_addr = e->ring_bus[1];
	vc.areas.device_addr = e->ring_bus[2];
	if (indirect) {
		vc.indirect_tables = 16;
		vc.indirect_max = MAXSEG * 2;
		vc.indirect_threshold = 2;
	}
	vc.notify = kick;
	vc.dma = &e->dma;
	size_t vs = vtio_vq_state_size(layout, QNUM, vc.indirect_tables, vc.indirect_max);
	assert_true(vs > 0);
	e->vq_state = tpool_aligned(64, vs);
	assert_int_equal(vtio_vq_init(&e->vq, e->vq_state, vs, &vc), 0);

	struct vtio_devq_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.layout = layout;
	dc.num = QNUM;
	dc.features = feat;
	dc.desc_addr = e->ring_bus[0];
	dc.driver_addr = e->ring_bus[1];
	dc.device_addr = e->ring_bus[2];
	dc.mem = &e->view;
	dc.notify = kick;
	size_t ds = vtio_devq_state_size(layout, QNUM);
	assert_true(ds > 0);
	e->dq_state = tpool_aligned(64, ds);
	assert_int_equal(vtio_devq_init(&e->dq, e->dq_state, ds, &dc), 0);
}

static void teardown_e2e(struct e2e *e)
{
	struct vtio_bounce_stats st;
	vtio_bounce_pool_get_stats(e->tp.pool, &st);
	/* Only the three ring areas are left: every buffer mapping was undone. */
	uint64_t ring_slots = 0;
	for (int i = 0; i < 3; i++)
		ring_slots += (e->ring_size[i] + 2047) / 2048;
	assert_int_equal(st.in_use, ring_slots);
	assert_true(st.maps > 0);
	assert_int_equal(st.maps, st.unmaps);
	for (int i = 0; i < 3; i++)
		assert_int_equal(
		    vtio_dma_free(&e->dma, e->ring_size[i], e->ring_cpu[i], e->ring_bus[i]), 0);
	vtio_bounce_pool_get_stats(e->tp.pool, &st);
	assert_int_equal(st.in_use, 0);
	assert_int_equal(vtio_bounce_set_unregister(e->set, e->tp.pool), 0);
	for (int i = 0; i < QNUM; i++)
		for (unsigned k = 0; k < MAXSEG * 2; k++) {
			free(e->reqs[i].buf[k]);
			free(e->reqs[i].want[k]);
		}
	free(e->vq_state);
	free(e->dq_state);
	free(e->set);
	tpool_fini(&e->tp);
}

/* Driver: build and add one request in slot r. */
static int add_req(struct e2e *e, struct req *r)
{
	r->nout = 1 + rnd(e) % MAXSEG;
	r->nin = rnd(e) % (MAXSEG + 1);
	struct vtio_sg sg[MAXSEG * 2];
	for (unsigned k = 0; k < r->nout + r->nin; k++) {
		uint32_t len = 1 + rnd(e) % MAXLEN;
		free(r->buf[k]);
		free(r->want[k]);
		r->buf[k] = malloc(len); /* private driver memory */
		r->want[k] = malloc(len);
		assert_non_null(r->buf[k]);
		r->len[k] = len;
		for (uint32_t i = 0; i < len; i++)
			r->buf[k][i] = k < r->nout ? (unsigned char)rnd(e) : WR_PATTERN(i);
		memcpy(r->want[k], r->buf[k], len);
		sg[k] = vtio_sg_of(r->buf[k], len);
	}
	int err = vtio_vq_add(e->vq, sg, r->nout, r->nin, r);
	if (err == 0)
		r->busy = true;
	return err;
}

/* Device: consume every available chain. Output byte j of the writable
 * part is the readable bytes' j-th byte (cyclic) XOR 0xA5; the device
 * writes only a prefix of the writable part, chosen at random. */
static void device_run(struct e2e *e)
{
	struct vtio_iov rd[MAXSEG * 2], wr[MAXSEG * 2];
	static unsigned char in[MAXSEG * MAXLEN];
	for (;;) {
		struct vtio_devq_chain ch;
		memset(&ch, 0, sizeof(ch));
		ch.rd = rd;
		ch.rd_max = MAXSEG * 2;
		ch.wr = wr;
		ch.wr_max = MAXSEG * 2;
		int err = vtio_devq_pop(e->dq, &ch);
		if (err == VTIO_EAGAIN)
			return;
		assert_int_equal(err, 0);
		size_t n = 0;
		for (unsigned i = 0; i < ch.rd_num; i++) {
			/* Every piece the device sees is pool memory. */
			assert_true(in_pool(e, rd[i].addr, rd[i].len));
			assert_int_equal(vtio_mem_read(&e->view, rd[i].addr, in + n, rd[i].len), 0);
			n += rd[i].len;
		}
		/* No stale data: the writable pieces hold the driver's own bytes. */
		for (unsigned i = 0; i < ch.wr_num; i++) {
			static unsigned char seen[MAXLEN];
			assert_int_equal(vtio_mem_read(&e->view, wr[i].addr, seen, wr[i].len), 0);
			for (uint32_t j = 0; j < wr[i].len; j++)
				if (seen[j] != WR_PATTERN(j))
					fail_msg("stale byte %u of a writable piece", j);
		}
		uint32_t total = (uint32_t)ch.wr_len;
		uint32_t w = total ? rnd(e) % (total + 1) : 0;
		uint32_t done = 0;
		for (unsigned i = 0; i < ch.wr_num && done < w; i++) {
			assert_true(in_pool(e, wr[i].addr, wr[i].len));
			uint32_t k = wr[i].len < w - done ? wr[i].len : w - done;
			static unsigned char out[MAXLEN];
			for (uint32_t j = 0; j < k; j++)
				out[j] = (unsigned char)(in[(done + j) % n] ^ 0xA5);
			assert_int_equal(vtio_mem_write(&e->view, wr[i].addr, out, k), 0);
			done += k;
		}
		assert_int_equal(vtio_devq_push(e->dq, &ch, w), 0);
	}
}

/* Driver: reap and check every byte of each finished request. */
static void driver_reap(struct e2e *e)
{
	uint32_t len;
	struct req *r;
	static unsigned char in[MAXSEG * MAXLEN];
	while ((r = vtio_vq_get_used(e->vq, &len)) != NULL) {
		assert_true(r->busy);
		r->busy = false;
		size_t n = 0;
		for (unsigned k = 0; k < r->nout; k++) {
			/* Readable buffers are never written back. */
			assert_memory_equal(r->buf[k], r->want[k], r->len[k]);
			memcpy(in + n, r->want[k], r->len[k]);
			n += r->len[k];
		}
		uint32_t pos = 0;
		for (unsigned k = r->nout; k < r->nout + r->nin; k++) {
			for (uint32_t j = 0; j < r->len[k]; j++, pos++)
				if (pos < len)
					r->want[k][j] = (unsigned char)(in[pos % n] ^ 0xA5);
			/* Beyond the used length the original bytes survive. */
			assert_memory_equal(r->buf[k], r->want[k], r->len[k]);
			e->bytes_checked += r->len[k];
		}
		e->round_trips++;
	}
	assert_false(vtio_vq_is_broken(e->vq));
}

static void run_e2e(enum vtio_layout layout, bool indirect, bool nonlinear)
{
	struct e2e *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	setup_e2e(e, layout, indirect, nonlinear);
	int iters = getenv("VTIO_TEST_SHORT") ? 60 : 250; /* emulated cross runs */
	for (int iter = 0; iter < iters; iter++) {
		unsigned batch = 1 + rnd(e) % 12;
		for (unsigned b = 0; b < batch; b++) {
			struct req *r = NULL;
			for (int i = 0; i < QNUM; i++)
				if (!e->reqs[i].busy) {
					r = &e->reqs[i];
					break;
				}
			if (r == NULL)
				break;
			int err = add_req(e, r);
			if (err == VTIO_ENOSPC)
				break;
			assert_int_equal(err, 0);
		}
		assert_int_equal(vtio_vq_kick(e->vq), 0);
		device_run(e);
		driver_reap(e);
	}
	print_message("%u round trips, %llu bytes checked\n", e->round_trips,
		      (unsigned long long)e->bytes_checked);
	assert_true(e->round_trips > (unsigned)iters * 2);
	if (e->nregions > 1) { /* the device really worked in several pieces */
		unsigned used = 0;
		for (unsigned i = 0; i < e->nregions; i++)
			used += e->hits[i] > 0;
		assert_true(used >= 4);
	}
	teardown_e2e(e);
	free(e);
}

static void test_split_direct(void **state)
{
	(void)state;
	run_e2e(VTIO_LAYOUT_SPLIT, false, false);
}

static void test_split_indirect(void **state)
{
	(void)state;
	run_e2e(VTIO_LAYOUT_SPLIT, true, false);
}

/* Rings and buffers in a pool whose two halves the device sees swapped. */
static void test_split_nonlinear_pool(void **state)
{
	(void)state;
	run_e2e(VTIO_LAYOUT_SPLIT, false, true);
}

#if VTIO_CONFIG_PACKED
static void test_packed_direct(void **state)
{
	(void)state;
	run_e2e(VTIO_LAYOUT_PACKED, false, false);
}

static void test_packed_indirect(void **state)
{
	(void)state;
	run_e2e(VTIO_LAYOUT_PACKED, true, false);
}

static void test_packed_nonlinear_pool(void **state)
{
	(void)state;
	run_e2e(VTIO_LAYOUT_PACKED, true, true);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_direct),
		cmocka_unit_test(test_split_indirect),
		cmocka_unit_test(test_split_nonlinear_pool),
#if VTIO_CONFIG_PACKED
		cmocka_unit_test(test_packed_direct),
		cmocka_unit_test(test_packed_indirect),
		cmocka_unit_test(test_packed_nonlinear_pool),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
