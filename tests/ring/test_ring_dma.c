/* DMA integration of the driver-side queue (seed 003, CHECKLIST 3.15):
 * a recording DMA layer checks that every segment is mapped with the right
 * direction, indirect tables TO_DEVICE, everything unmapped when the buffer
 * comes back used or is detached, the k-th map failure rolls back the k-1
 * done, and no call at all happens when no mapping is needed. Bus addresses
 * are the CPU address plus an offset, so the device only works if the ring
 * carries bus addresses. Runs for every compiled layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ring_fixture.h"
#include "vtio/dma.h"
#include "ring_dma_recorder.h"

static const uint64_t FEAT = FX_MODERN | VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM);

static void test_map_directions_and_unmap_on_used(void **state)
{
	(void)state;
	for (size_t li = 0; li < FX_NLAYOUTS; li++) {
		struct fx f;
		struct fx_opts o = {.dma = rec_make_dev(), .bus_offset = REC_BUS_OFF};
		assert_int_equal(fx_setup(&f, fx_layouts[li].layout, 8, FEAT, &o), 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		memset(buf, 0x11, 64);
		struct vtio_sg sg[3] = {vtio_sg_of(buf, 16), vtio_sg_of(buf + 16, 16),
					vtio_sg_of(buf + 32, 16)};
		assert_int_equal(vtio_vq_add(f.vq, sg, 2, 1, (void *)1), 0);
		assert_int_equal(maps, 3);
		assert_int_equal(recs[0].dir, VTIO_DMA_TO_DEVICE);
		assert_int_equal(recs[1].dir, VTIO_DMA_TO_DEVICE);
		assert_int_equal(recs[2].dir, VTIO_DMA_FROM_DEVICE);
		assert_int_equal(recs[2].len, 16);
		vtio_vq_kick(f.vq);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		/* The device sees bus addresses. */
		assert_int_equal(c.rd[0].addr, fx_addr(buf) + REC_BUS_OFF);
		assert_int_equal(c.wr[0].addr, fx_addr(buf + 32) + REC_BUS_OFF);
		assert_int_equal(vtio_devq_push(f.dq, &c, 4), 0);
		assert_int_equal(unmaps, 0);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)1);
		assert_int_equal(unmaps, 3);
		assert_int_equal(rec_live(), 0);

		/* Detach unmaps too. */
		assert_int_equal(vtio_vq_add(f.vq, sg, 1, 1, (void *)2), 0);
		assert_int_equal(rec_live(), 2);
		assert_ptr_equal(vtio_vq_detach_unused(f.vq), (void *)2);
		assert_int_equal(rec_live(), 0);
		fx_teardown(&f);
	}
}

static void test_indirect_table_mapped(void **state)
{
	(void)state;
	for (size_t li = 0; li < FX_NLAYOUTS; li++) {
		struct fx f;
		struct fx_opts o = {.dma = rec_make_dev(),
				    .bus_offset = REC_BUS_OFF,
				    .indirect_tables = 2,
				    .indirect_max = 8};
		assert_int_equal(fx_setup(&f, fx_layouts[li].layout, 8,
					  FEAT | VTIO_FEATURE(VTIO_F_INDIRECT_DESC), &o),
				 0);
		unsigned char *buf = fx_alloc(&f, 64, 16);
		struct vtio_sg sg[3] = {vtio_sg_of(buf, 16), vtio_sg_of(buf + 16, 16),
					vtio_sg_of(buf + 32, 16)};
		assert_int_equal(vtio_vq_add(f.vq, sg, 1, 2, (void *)1), 0);
		assert_int_equal(maps, 4); /* 3 segments + the table */
		assert_int_equal(recs[3].dir, VTIO_DMA_TO_DEVICE);
		assert_int_equal(recs[3].len, 3 * 16);
		vtio_vq_kick(f.vq);
		struct vtio_devq_chain c;
		fx_chain_init(&f, &c);
		assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
		assert_int_equal(c.rd_num, 1);
		assert_int_equal(c.wr_num, 2);
		assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
		assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)1);
		assert_int_equal(rec_live(), 0);
		assert_int_equal(unmaps, 4);
		fx_teardown(&f);
	}
}

static void test_rollback_on_kth_failure(void **state)
{
	(void)state;
	for (size_t li = 0; li < FX_NLAYOUTS; li++) {
		for (int indirect = 0; indirect < 2; indirect++) {
			/* A direct chain makes 3 maps; an indirect one 4 (the table last). */
			for (unsigned k = 1; k <= (indirect ? 4u : 3u); k++) {
				struct fx f;
				struct fx_opts o = {.dma = rec_make_dev(),
						    .bus_offset = REC_BUS_OFF,
						    .indirect_tables = indirect ? 2 : 0,
						    .indirect_max = 8};
				uint64_t feat =
				    FEAT | (indirect ? VTIO_FEATURE(VTIO_F_INDIRECT_DESC) : 0);
				assert_int_equal(fx_setup(&f, fx_layouts[li].layout, 8, feat, &o),
						 0);
				unsigned char *buf = fx_alloc(&f, 64, 16);
				struct vtio_sg sg[3] = {vtio_sg_of(buf, 16),
							vtio_sg_of(buf + 16, 16),
							vtio_sg_of(buf + 32, 16)};
				fail_at = k;
				assert_int_equal(vtio_vq_add(f.vq, sg, 1, 2, (void *)1),
						 VTIO_ENOMEM);
				assert_int_equal(nrec, k - 1);
				assert_int_equal(rec_live(), 0); /* the k-1 done were unmapped */
				assert_int_equal(vtio_vq_num_free(f.vq), 8); /* nothing consumed */
				assert_false(vtio_vq_kick_prepare(f.vq));
				assert_int_equal(vtio_devq_pop(f.dq, &(struct vtio_devq_chain){0}),
						 VTIO_EAGAIN);
				assert_null(vtio_vq_detach_unused(f.vq));
				/* And the queue still works afterwards. */
				fail_at = 0;
				assert_int_equal(vtio_vq_add(f.vq, sg, 1, 2, (void *)2), 0);
				vtio_vq_kick(f.vq);
				struct vtio_devq_chain c;
				fx_chain_init(&f, &c);
				assert_int_equal(vtio_devq_pop(f.dq, &c), 0);
				assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
				assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)2);
				assert_int_equal(rec_live(), 0);
				fx_teardown(&f);
			}
		}
	}
}

static void test_no_mapping_when_not_needed(void **state)
{
	(void)state;
	for (size_t li = 0; li < FX_NLAYOUTS; li++) {
		/* Four configurations that must not call the DMA layer at all:
		 * no device; no ACCESS_PLATFORM and no F_MAP; PREMAPPED. */
		struct {
			bool dma;
			uint64_t feat;
			uint32_t flags;
		} cases[] = {
		    {false, FEAT, 0},
		    {true, FX_MODERN, 0},
		    {true, FEAT, VTIO_VQ_F_PREMAPPED},
		    {true, FX_MODERN, VTIO_VQ_F_MAP | VTIO_VQ_F_PREMAPPED},
		};
		for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
			struct fx f;
			struct fx_opts o = {.dma = cases[ci].dma ? rec_make_dev() : NULL,
					    .vq_flags = cases[ci].flags};
			rec_reset();
			assert_int_equal(fx_setup(&f, fx_layouts[li].layout, 8, cases[ci].feat, &o),
					 0);
			unsigned char *buf = fx_alloc(&f, 64, 16);
			struct vtio_devq_chain c;
			fx_add_pop_1_1(&f, buf, (void *)1, &c);
			assert_int_equal(c.rd[0].addr, fx_addr(buf)); /* passed straight through */
			assert_int_equal(vtio_devq_push(f.dq, &c, 0), 0);
			assert_ptr_equal(vtio_vq_get_used(f.vq, NULL), (void *)1);
			assert_int_equal(maps + unmaps, 0);
			fx_teardown(&f);
		}
		/* VTIO_VQ_F_MAP maps even without ACCESS_PLATFORM. */
		struct fx f;
		struct fx_opts o = {
		    .dma = rec_make_dev(), .bus_offset = REC_BUS_OFF, .vq_flags = VTIO_VQ_F_MAP};
		assert_int_equal(fx_setup(&f, fx_layouts[li].layout, 8, FX_MODERN, &o), 0);
		unsigned char *buf = fx_alloc(&f, 16, 16);
		struct vtio_sg sg = vtio_sg_of(buf, 16);
		assert_int_equal(vtio_vq_add(f.vq, &sg, 1, 0, (void *)1), 0);
		assert_int_equal(maps, 1);
		assert_ptr_equal(vtio_vq_detach_unused(f.vq), (void *)1);
		assert_int_equal(unmaps, 1);
		fx_teardown(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_map_directions_and_unmap_on_used),
	    cmocka_unit_test(test_indirect_table_mapped),
	    cmocka_unit_test(test_rollback_on_kth_failure),
	    cmocka_unit_test(test_no_mapping_when_not_needed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
