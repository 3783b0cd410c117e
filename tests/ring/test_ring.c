/* Behavioural suite of the virtqueues, written once and run for every
 * compiled layout (fx_layouts in ring_fixture.h). Each test cites the
 * checklist IDs (../shared/spec/CHECKLIST.md) it covers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ring_fixture.h"

#define FOR_EACH_LAYOUT(L)                                                                         \
	for (size_t L##_i = 0; L##_i < FX_NLAYOUTS; L##_i++)                                       \
		for (enum vtio_layout L = fx_layouts[L##_i].layout, *L##_once = &L; L##_once;      \
		     L##_once = NULL)

/* One buffer through both sides: out bytes read by the device, in bytes written. */
static void round_trip(struct fx *f, unsigned nout, unsigned nin, uint32_t seglen, void *token)
{
	struct vtio_sg sg[64];
	unsigned char *bufs = fx_alloc(f, (size_t)(nout + nin) * seglen, 16);
	for (unsigned i = 0; i < nout + nin; i++) {
		memset(bufs + (size_t)i * seglen, (int)(i + 1), seglen);
		sg[i] = vtio_sg_of(bufs + (size_t)i * seglen, seglen);
	}
	assert_int_equal(vtio_vq_add(f->vq, sg, nout, nin, token), 0);
	vtio_vq_kick(f->vq);
	struct vtio_devq_chain c;
	fx_chain_init(f, &c);
	assert_int_equal(vtio_devq_pop(f->dq, &c), 0);
	assert_int_equal(c.rd_len, (uint64_t)nout * seglen);
	assert_int_equal(c.wr_len, (uint64_t)nin * seglen);
	unsigned char tmp[64];
	for (unsigned i = 0; i < nout; i++) {
		assert_int_equal(vtio_devq_read(f->dq, &c, (uint64_t)i * seglen, tmp, 1), 1);
		assert_int_equal(tmp[0], i + 1);
	}
	memset(tmp, 0xee, sizeof(tmp));
	uint32_t wlen = nin ? (seglen < 64 ? seglen : 64) : 0;
	if (nin)
		assert_int_equal(vtio_devq_write(f->dq, &c, 0, tmp, wlen), wlen);
	assert_int_equal(vtio_devq_push(f->dq, &c, wlen), 0);
	vtio_devq_kick(f->dq);
	uint32_t len = 12345;
	assert_ptr_equal(vtio_vq_get_used(f->vq, &len), token);
	assert_int_equal(len, wlen);
	if (nin)
		assert_int_equal(bufs[(size_t)nout * seglen], 0xee);
}

static void test_round_trip(void **state)
{
	(void)state;
	FOR_EACH_LAYOUT(L)
	{
		struct fx f;
		assert_int_equal(fx_setup(&f, L, 8, FX_MODERN, NULL), 0);
		int tok[4];
		round_trip(&f, 1, 0, 32, &tok[0]);
		round_trip(&f, 1, 1, 32, &tok[1]);
		round_trip(&f, 2, 3, 16, &tok[2]);
		round_trip(&f, 0, 1, 16, &tok[3]);
		assert_null(vtio_vq_get_used(f.vq, NULL));
		assert_false(vtio_vq_is_broken(f.vq));
		assert_false(vtio_devq_is_broken(f.dq));
		assert_int_equal(vtio_vq_num_free(f.vq), 8);
		fx_teardown(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
