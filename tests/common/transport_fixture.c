/* Transport test fixture (transport_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "transport_fixture.h"
#include "tc_util.h"

void tf_arena_init(struct tf_arena *a, void *mem, size_t size)
{
	a->base = mem;
	a->size = size;
	a->used = 0;
}

void *tf_alloc(struct tf_arena *a, size_t n)
{
	a->used = (a->used + 63u) & ~(size_t)63u;
	assert_true(a->used + n <= a->size);
	void *p = a->base + a->used;
	memset(p, 0, n);
	a->used += n;
	return p;
}

void tf_mem_init(struct vtio_mem *mem, struct vtio_mem_region *reg, const struct tf_arena *a)
{
	reg->addr = (uint64_t)(uintptr_t)a->base;
	reg->len = a->size;
	reg->host = a->base;
	reg->perm = VTIO_MEM_RW;
	assert_int_equal(vtio_mem_init(mem, reg, 1), 0);
}

uint64_t tf_layout_features(enum vtio_layout l)
{
	return l == VTIO_LAYOUT_PACKED ? VTIO_FEATURE(VTIO_F_RING_PACKED) : 0;
}

struct vtio_vq *tf_make_vq(struct vtio_transport *t, struct tf_arena *a, uint16_t index,
			   uint32_t num)
{
	enum vtio_layout l = vtio_transport_layout(t);
	struct vtio_transport_vq_config qc;
	memset(&qc, 0, sizeof(qc));
	qc.index = index;
	qc.num = num;
	qc.indirect_tables = 4;
	qc.indirect_max = 8;
	qc.ring_size = vtio_transport_vq_ring_size(l, num);
	qc.ring = tf_alloc(a, qc.ring_size);
	qc.state_size = vtio_vq_state_size(l, num, 4, 8);
	qc.state = tf_alloc(a, qc.state_size);
	struct vtio_vq *vq = NULL;
	assert_int_equal(vtio_transport_vq_setup(t, &qc, &vq), 0);
	return vq;
}

void tf_bring_up(struct vtio_transport *t, struct tf_arena *a, uint64_t supported, unsigned nq,
		 struct vtio_vq **vq, bool driver_ok)
{
	struct vtio_transport_negotiation n;
	memset(&n, 0, sizeof(n));
	n.supported = supported;
	assert_int_equal(vtio_transport_negotiate(t, &n), 0);
	for (uint16_t i = 0; i < nq; i++)
		vq[i] = tf_make_vq(t, a, i, 16);
	if (driver_ok)
		assert_int_equal(vtio_transport_driver_ok(t), 0);
}

unsigned char *tf_post(struct tf_arena *a, struct vtio_vq *vq, unsigned char tag)
{
	unsigned char *b = tf_alloc(a, 64);
	memset(b, tag, 32);
	struct vtio_sg sg[2] = {vtio_sg_of(b, 32), vtio_sg_of(b + 32, 32)};
	assert_int_equal(vtio_vq_add(vq, sg, 1, 1, b), 0);
	return b;
}

unsigned tf_serve_devq(struct vtio_devq *d, bool strict)
{
	assert_non_null(d);
	unsigned n = 0;
	for (;;) {
		struct vtio_iov rd[4], wr[4];
		struct vtio_devq_chain c;
		tc_chain_init(&c, rd, 4, wr, 4);
		int r = vtio_devq_pop(d, &c);
		if (r != 0) {
			if (strict)
				assert_int_equal(r, VTIO_EAGAIN);
			break;
		}
		unsigned char in[32], out[32];
		assert_int_equal(vtio_devq_read(d, &c, 0, in, 32), 32);
		for (int i = 0; i < 32; i++)
			out[i] = (unsigned char)~in[i];
		assert_int_equal(vtio_devq_write(d, &c, 0, out, 32), 32);
		assert_int_equal(vtio_devq_push(d, &c, 32), 0);
		n++;
	}
	int k = vtio_devq_kick(d);
	if (strict)
		assert_int_equal(k, 0);
	return n;
}

void tf_reap_check(struct vtio_vq *vq, unsigned char *b, unsigned char tag)
{
	uint32_t len = 0;
	assert_ptr_equal(vtio_vq_get_used(vq, &len), b);
	assert_int_equal(len, 32);
	for (int i = 0; i < 32; i++)
		assert_int_equal(b[32 + i], (unsigned char)~tag);
}

static int tf_bus_read(void *ctx, uint32_t off, unsigned width, uint32_t *val)
{
	return vtio_mmio_dev_read(ctx, off, width, val);
}

static int tf_bus_write(void *ctx, uint32_t off, unsigned width, uint32_t val)
{
	return vtio_mmio_dev_write(ctx, off, width, val);
}

const struct vtio_mmio_ops tf_mmio_direct_ops = {
    .name = "direct", .read = tf_bus_read, .write = tf_bus_write};

void tf_mmio_assert_clean(const struct vtio_mmio_dev *md, const struct vtio_mmio *drv)
{
	struct vtio_mmio_dev_stats s;
	vtio_mmio_dev_get_stats(md, &s);
	assert_int_equal(s.bad_width, 0);
	assert_int_equal(s.bad_offset, 0);
	assert_int_equal(s.bad_direction, 0);
	assert_int_equal(vtio_mmio_error(drv), 0);
}
