/* Hostile-ring fixtures (hostile_ring.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hostile_ring.h"

static void put16(unsigned char *p, uint16_t v)
{
	v = vtio_le16(v);
	memcpy(p, &v, 2);
}
static void put32(unsigned char *p, uint32_t v)
{
	v = vtio_le32(v);
	memcpy(p, &v, 4);
}
static void put64(unsigned char *p, uint64_t v)
{
	v = vtio_le64(v);
	memcpy(p, &v, 8);
}
static uint16_t get16(const unsigned char *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return vtio_le16(v);
}

static void *zalloc(size_t align, size_t size)
{
	size_t sz = (size + align - 1) & ~(align - 1);
	void *p = aligned_alloc(align, sz ? sz : align);
	assert_non_null(p);
	memset(p, 0, sz ? sz : align);
	return p;
}

struct hr_drv *hr_drv_setup(enum vtio_layout layout, uint32_t num, uint64_t features,
			    uint32_t ind_tables, uint32_t seg)
{
	assert_true(seg > 0 && seg <= HR_SEG);
	struct hr_drv *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	d->layout = layout;
	d->num = num;
	d->seg = seg;
	d->used_wrap = true;
	struct vtio_vq_area_sizes s;
	assert_int_equal(vtio_vq_area_sizes(layout, num, &s), 0);
	if (layout == VTIO_LAYOUT_SPLIT)
		assert_true(s.device >= vtio_split_used_size(num));
	d->desc = zalloc(16, s.desc);
	d->driver = zalloc(16, s.driver);
	d->device = zalloc(16, s.device);
	struct vtio_vq_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.layout = layout;
	cfg.num = num;
	cfg.features = VTIO_FEATURE(VTIO_F_VERSION_1) | features;
	cfg.areas.desc = d->desc;
	cfg.areas.driver = d->driver;
	cfg.areas.device = d->device;
	cfg.areas.desc_addr = 0x10000;
	cfg.areas.driver_addr = 0x20000;
	cfg.areas.device_addr = 0x30000;
	cfg.indirect_tables = ind_tables;
	cfg.indirect_max = ind_tables ? 16 : 0;
	cfg.notify = tc_notify_count;
	cfg.notify_ctx = &d->notifies;
	size_t ssz = vtio_vq_state_size(layout, num, ind_tables, cfg.indirect_max);
	assert_true(ssz > 0);
	d->state = zalloc(16, ssz);
	assert_int_equal(vtio_vq_init(&d->vq, d->state, ssz, &cfg), 0);
	return d;
}

void hr_drv_free(struct hr_drv *d)
{
	free(d->state);
	free(d->desc);
	free(d->driver);
	free(d->device);
	free(d);
}

unsigned hr_add(struct hr_drv *d, unsigned out, unsigned in)
{
	unsigned k = d->nadded;
	assert_true(k < HR_MAXBUF && out + in <= 4);
	struct vtio_sg sg[4];
	for (unsigned i = 0; i < out + in; i++)
		sg[i] = vtio_sg_of(d->data[k][i], d->seg);
	assert_int_equal(vtio_vq_add(d->vq, sg, out, in, &d->tok[k]), 0);
	(void)vtio_vq_kick(d->vq);
	if (d->layout == VTIO_LAYOUT_SPLIT) {
		d->avail_idx++;
		uint16_t aidx = get16(d->driver + 2);
		assert_int_equal(aidx, d->avail_idx);
		d->head[k] =
		    get16(d->driver + vtio_split_avail_ring_off((uint16_t)(aidx - 1u) % d->num));
		assert_true(d->head[k] < d->num);
	} else {
		/* The device reads the buffer id from the list's last descriptor. */
		uint32_t last = (d->avail_slot + out + in - 1) % d->num;
		d->head[k] = get16(d->desc + 16u * last + offsetof(struct vtio_packed_desc, id));
		d->slot[k] = (uint16_t)d->avail_slot;
		d->ndesc[k] = (uint16_t)(out + in);
		d->avail_slot = (d->avail_slot + out + in) % d->num;
	}
	d->wr_size[k] = in * d->seg;
	d->nadded++;
	return k;
}

void hr_used(struct hr_drv *d, uint32_t id, uint32_t len)
{
	unsigned char *e = d->device + vtio_split_used_ring_off(d->used_idx % d->num);
	put32(e, id);
	put32(e + 4, len);
	d->used_idx++;
	uint16_t v = vtio_le16(d->used_idx);
	__atomic_store_n((uint16_t *)(void *)(d->device + 2), v, __ATOMIC_RELEASE);
}

void hr_set_used_idx(struct hr_drv *d, uint16_t idx)
{
	d->used_idx = idx;
	put16(d->device + 2, idx);
}

uint16_t hr_chain_member(const struct hr_drv *d, unsigned k, unsigned nth)
{
	uint16_t i = d->head[k];
	for (unsigned n = 0; n < nth; n++) {
		const unsigned char *p = d->desc + 16u * i;
		assert_true(get16(p + 12) & VTIO_DESC_F_NEXT);
		i = get16(p + 14);
	}
	return i;
}

uint16_t hr_used_bits(const struct hr_drv *d)
{
	return d->used_wrap ? (uint16_t)(VTIO_DESC_F_AVAIL | VTIO_DESC_F_USED) : 0;
}

void hr_pused_flags(struct hr_drv *d, uint16_t id, uint32_t len, uint16_t flags, unsigned advance)
{
	unsigned char *e = d->desc + 16u * d->used_slot;
	put32(e + offsetof(struct vtio_packed_desc, len), len);
	put16(e + offsetof(struct vtio_packed_desc, id), id);
	__atomic_store_n((uint16_t *)(void *)(e + offsetof(struct vtio_packed_desc, flags)),
			 vtio_le16(flags), __ATOMIC_RELEASE);
	d->used_slot += advance;
	if (d->used_slot >= d->num) {
		d->used_slot -= d->num;
		d->used_wrap = !d->used_wrap;
	}
}

void hr_pused(struct hr_drv *d, uint16_t id, uint32_t len, unsigned advance)
{
	hr_pused_flags(d, id, len, (uint16_t)(VTIO_DESC_F_WRITE | hr_used_bits(d)), advance);
}

/* Buffer index of token @p t, failing on one never added or returned twice. */
static int hr_account(struct hr_drv *d, void *t, const char *what)
{
	char *c = t;
	if (c < d->tok || c >= d->tok + d->nadded)
		fail_msg("%s returned a token that was never added", what);
	int k = (int)(c - d->tok);
	if (d->returned[k]++)
		fail_msg("token of buffer %d returned twice (%s)", k, what);
	return k;
}

int hr_reap(struct hr_drv *d, int expect_k, uint32_t *len)
{
	uint32_t l = 0xdeadbeef;
	void *t = vtio_vq_get_used(d->vq, &l);
	if (t == NULL) {
		if (expect_k >= 0)
			fail_msg("expected the token of buffer %d, got NULL (broken: %s)", expect_k,
				 vtio_vq_broken_reason(d->vq) ? vtio_vq_broken_reason(d->vq)
							      : "no");
		return -1;
	}
	int k = hr_account(d, t, "get_used");
	if (k != expect_k)
		fail_msg("returned the token of buffer %d, the entry named buffer %d", k, expect_k);
	if (l > d->wr_size[k])
		fail_msg("len %u larger than the writable size %u", l, d->wr_size[k]);
	if (len)
		*len = l;
	return k;
}

void *hr_take(struct hr_drv *d, uint32_t *len)
{
	uint32_t l = 0xdeadbeef;
	void *t = vtio_vq_get_used(d->vq, &l);
	if (t != NULL) {
		int k = hr_account(d, t, "get_used");
		if (l > d->wr_size[k])
			fail_msg("len %u larger than the writable size %u", l, d->wr_size[k]);
	}
	if (len)
		*len = l;
	return t;
}

void hr_detach_rest(struct hr_drv *d)
{
	void *t;
	while ((t = vtio_vq_detach_unused(d->vq)) != NULL)
		(void)hr_account(d, t, "detach_unused");
	for (unsigned k = 0; k < d->nadded; k++)
		if (d->returned[k] != 1)
			fail_msg("token of buffer %u lost (returned %u times)", k, d->returned[k]);
}

void hr_expect_broken(struct hr_drv *d)
{
	assert_true(vtio_vq_is_broken(d->vq));
	assert_non_null(vtio_vq_broken_reason(d->vq));
	assert_null(vtio_vq_get_used(d->vq, NULL));
	unsigned char b[8] = {0};
	struct vtio_sg sg = vtio_sg_of(b, 8);
	assert_int_equal(vtio_vq_add(d->vq, &sg, 1, 0, &d->tok[HR_MAXBUF - 1]), VTIO_EIO);
	assert_int_equal(vtio_vq_notify(d->vq), VTIO_EIO);
	hr_detach_rest(d);
}

void hr_finish(struct hr_drv *d)
{
	hr_detach_rest(d);
	assert_int_equal(vtio_vq_num_free(d->vq), d->num);
	assert_int_equal(vtio_vq_reset(d->vq), 0);
	hr_drv_free(d);
}

/* ---- Hostile driver against a device queue ---------------------------------------- */

void hr_dev_setup(struct hr_dev *h, const struct hr_dev_config *c)
{
	memset(h, 0, sizeof(*h));
	h->base = c->base;
	h->num = c->num;
	h->size = c->size;
	h->mem = aligned_alloc(4096, (c->size + 4095) & ~(size_t)4095);
	assert_non_null(h->mem);
	memset(h->mem, 0, c->size);
	h->reg[0] = (struct vtio_mem_region){c->base, c->size, h->mem, VTIO_MEM_RW};
	unsigned n = 1;
	if (c->huge) {
		/* A second, 16 GiB region: translated, never touched (length checks). */
		h->reg[1] =
		    (struct vtio_mem_region){0x100000000ull, 0x400000000ull, h->mem, VTIO_MEM_RW};
		n = 2;
	}
	assert_int_equal(vtio_mem_init(&h->view, h->reg, n), 0);
	struct vtio_devq_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.layout = c->layout;
	dc.num = c->num;
	dc.features = (c->legacy ? 0 : VTIO_FEATURE(VTIO_F_VERSION_1)) | c->features;
	dc.desc_addr = c->base + c->desc_off;
	dc.driver_addr = c->base + c->driver_off;
	dc.device_addr = c->base + c->device_off;
	dc.mem = &h->view;
	dc.max_indirect = c->max_indirect;
	dc.notify = tc_notify_count;
	dc.notify_ctx = &h->irqs;
	size_t sz = vtio_devq_state_size(c->layout, c->num);
	assert_true(sz > 0);
	h->state = zalloc(16, sz);
	assert_int_equal(vtio_devq_init(&h->q, h->state, sz, &dc), 0);
}

void hr_dev_teardown(struct hr_dev *h)
{
	free(h->state);
	free(h->mem);
	h->state = NULL;
	h->mem = NULL;
}

int hr_pop(struct vtio_devq *q, struct vtio_devq_chain *c, struct vtio_iov *rd, unsigned rd_max,
	   struct vtio_iov *wr, unsigned wr_max)
{
	tc_chain_init(c, rd, rd_max, wr, wr_max);
	return vtio_devq_pop(q, c);
}

void hr_put_pdesc(unsigned char *at, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	put64(at + offsetof(struct vtio_packed_desc, addr), addr);
	put32(at + offsetof(struct vtio_packed_desc, len), len);
	put16(at + offsetof(struct vtio_packed_desc, id), id);
	put16(at + offsetof(struct vtio_packed_desc, flags), flags);
}
