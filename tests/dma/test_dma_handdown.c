/* The window layer's hand-down with the real bounce layer, under queues:
 * direct (callback: a low block below 2^30, a high block above 4 GiB) <-
 * bounce (on request) <- 30-bit window. The device's view holds only the
 * bounce pool and the low block, so every byte of a buffer in the high block
 * reaches it only if the window handed it down and the bounce layer copied
 * it. Rings come from vtio_dma_alloc() through the window (served by the
 * pool). Split and packed. Checklist: section 15 (ACCESS_PLATFORM, addresses
 * the device can reach), FEAT-DRV-7. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/vq.h"
#include "vtio/devq.h"
#include "vtio/dma.h"
#include "vtio/dma_layers.h"
#include "vtio/bounce.h"
#include "tc_util.h"
#include "ring_layouts.h"

#if VTIO_CONFIG_BOUNCE

#define NUM	 8
#define LOW_BUS	 0x200000ull
#define HIGH_BUS (1ull << 32)
#define POOL_BUS 0x100000ull
#define POOLSZ	 (64 * 1024)

static _Alignas(4096) unsigned char low[64 * 1024];
static _Alignas(4096) unsigned char high[64 * 1024];
static _Alignas(4096) unsigned char pool_mem[POOLSZ];
static _Alignas(64) unsigned char pool_storage[16384];
static _Alignas(64) unsigned char set_storage[4096];

static int to_bus(void *ctx, const void *cpu, size_t len, uint64_t *bus)
{
	(void)ctx;
	const unsigned char *p = cpu;
	if (p >= low && p + len <= low + sizeof(low))
		*bus = LOW_BUS + (uint64_t)(p - low);
	else if (p >= high && p + len <= high + sizeof(high))
		*bus = HIGH_BUS + (uint64_t)(p - high);
	else
		return VTIO_EFAULT;
	return 0;
}

static void test_window_hands_down_to_bounce_layer_under_queue(void **state)
{
	(void)state;
	for (size_t li = 0; li < FX_NLAYOUTS; li++) {
		enum vtio_layout layout = fx_layouts[li].layout;
		/* Pool and set. */
		struct vtio_bounce_pool_config pc;
		memset(&pc, 0, sizeof(pc));
		pc.base = pool_mem;
		pc.size = POOLSZ;
		pc.mapping = VTIO_BOUNCE_MAP_LINEAR;
		pc.dev_base = POOL_BUS;
		assert_true(vtio_bounce_pool_size(&pc) <= sizeof(pool_storage));
		struct vtio_bounce_pool *pool;
		assert_int_equal(
		    vtio_bounce_pool_init(&pool, pool_storage, sizeof(pool_storage), &pc), 0);
		struct vtio_bounce_set *set;
		assert_true(vtio_bounce_set_size() <= sizeof(set_storage));
		assert_int_equal(vtio_bounce_set_init(&set, set_storage, sizeof(set_storage)), 0);
		assert_int_equal(vtio_bounce_set_register(set, pool), 0);
		struct vtio_bounce_dev bdev;
		vtio_bounce_dev_init(&bdev, (1ull << 30) - 1);

		/* Stack. */
		struct vtio_dma_direct direct;
		struct vtio_dma_direct_config dc;
		memset(&dc, 0, sizeof(dc));
		dc.mode = VTIO_DMA_DIRECT_CALLBACK;
		dc.to_bus = to_bus;
		assert_int_equal(vtio_dma_direct_init(&direct, &dc), 0);
		struct vtio_bounce_layer bl;
		assert_int_equal(
		    vtio_bounce_layer_init(&bl, set, &bdev, VTIO_BOUNCE_LAYER_F_ON_REQUEST), 0);
		struct vtio_dma_window win;
		struct vtio_dma_window_config wc = {0, (1ull << 30) - 1, true};
		assert_int_equal(vtio_dma_window_init(&win, &wc), 0);
		struct vtio_dma_dev dev;
		vtio_dma_dev_init(&dev);
		assert_int_equal(vtio_dma_dev_push(&dev, &direct.layer), 0);
		assert_int_equal(vtio_dma_dev_push(&dev, &bl.layer), 0);
		assert_int_equal(vtio_dma_dev_push(&dev, &win.layer), 0);
		assert_int_equal(vtio_dma_dev_build(&dev), 0);

		/* The device sees the pool and the low block only. */
		struct vtio_mem_region regs[2] = {
		    {POOL_BUS, POOLSZ, pool_mem, VTIO_MEM_RW},
		    {LOW_BUS, sizeof(low), low, VTIO_MEM_RW},
		};
		struct vtio_mem view;
		assert_int_equal(vtio_mem_init(&view, regs, 2), 0);

		/* Rings from the DMA device: served by the pool, inside the window. */
		size_t rs = vtio_vq_ring_size(layout, NUM, 64);
		void *ring;
		uint64_t ring_bus;
		assert_int_equal(vtio_dma_alloc(&dev, rs, &ring, &ring_bus), 0);
		assert_true(ring_bus >= POOL_BUS && ring_bus + rs <= POOL_BUS + POOLSZ);
		struct vtio_vq_config vc;
		memset(&vc, 0, sizeof(vc));
		vc.layout = layout;
		vc.num = NUM;
		vc.features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM);
		assert_int_equal(vtio_vq_areas_in(layout, NUM, 64, ring, ring_bus, &vc.areas), 0);
		vc.notify = tc_notify_nop;
		vc.dma = &dev;
		size_t st = vtio_vq_state_size(layout, NUM, 0, 0);
		void *vst = aligned_alloc(64, (st + 63) & ~(size_t)63);
		struct vtio_vq *vq;
		assert_int_equal(vtio_vq_init(&vq, vst, st, &vc), 0);
		struct vtio_devq_config qc;
		memset(&qc, 0, sizeof(qc));
		qc.layout = layout;
		qc.num = NUM;
		qc.features = vc.features;
		qc.desc_addr = vc.areas.desc_addr;
		qc.driver_addr = vc.areas.driver_addr;
		qc.device_addr = vc.areas.device_addr;
		qc.mem = &view;
		qc.notify = tc_notify_nop;
		size_t dst = vtio_devq_state_size(layout, NUM);
		void *dstate = aligned_alloc(64, (dst + 63) & ~(size_t)63);
		struct vtio_devq *dq;
		assert_int_equal(vtio_devq_init(&dq, dstate, dst, &qc), 0);

		for (unsigned round = 0; round < 3 * NUM; round++) {
			/* Alternate: out in high memory + in in low memory, then the reverse. */
			unsigned char *hb = high + 512 * (round % 8);
			unsigned char *lb = low + 512 * (round % 8);
			unsigned char *out = round & 1 ? lb : hb;
			unsigned char *in = round & 1 ? hb : lb;
			for (unsigned i = 0; i < 200; i++)
				out[i] = (unsigned char)(round * 3 + i);
			memset(in, 0, 100);
			uint64_t hd = win.handed_down;
			struct vtio_sg sg[2] = {vtio_sg_of(out, 200), vtio_sg_of(in, 100)};
			assert_int_equal(vtio_vq_add(vq, sg, 1, 1, out), 0);
			/* Only the high-memory segment was handed down. */
			assert_int_equal(win.handed_down, hd + 1);
			vtio_vq_kick(vq);
			struct vtio_iov rd[4], wr[4];
			struct vtio_devq_chain c;
			tc_chain_init(&c, rd, 4, wr, 4);
			assert_int_equal(vtio_devq_pop(dq, &c), 0);
			unsigned char got[200], reply[100];
			assert_int_equal(vtio_devq_read(dq, &c, 0, got, 200), 200);
			for (unsigned i = 0; i < 200; i++)
				assert_int_equal(got[i], (unsigned char)(round * 3 + i));
			for (unsigned i = 0; i < 100; i++)
				reply[i] = (unsigned char)(0xff - round - i);
			assert_int_equal(vtio_devq_write(dq, &c, 0, reply, 100), 100);
			assert_int_equal(vtio_devq_push(dq, &c, 100), 0);
			vtio_devq_kick(dq);
			uint32_t len;
			assert_ptr_equal(vtio_vq_get_used(vq, &len), out);
			assert_int_equal(len, 100);
			/* Copied back from the bounce slot at unmap when in high memory. */
			assert_memory_equal(in, reply, 100);
		}
		assert_int_equal(win.rejected, 0);
		struct vtio_bounce_stats bs;
		vtio_bounce_pool_get_stats(pool, &bs);
		/* One high-memory segment per round went through the pool. */
		assert_int_equal(bs.maps, 3 * NUM);
		assert_int_equal(bs.unmaps, 3 * NUM);
		assert_int_equal(bs.fail_mismatch + bs.fail_double + bs.fail_unknown, 0);

		assert_int_equal(vtio_dma_free(&dev, rs, ring, ring_bus), 0);
		free(vst);
		free(dstate);
		vtio_bounce_pool_get_stats(pool, &bs);
		assert_int_equal(bs.in_use, 0);
		assert_int_equal(vtio_bounce_set_unregister(set, pool),
				 0); /* not busy: all returned */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_window_hands_down_to_bounce_layer_under_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#else
int main(void)
{
	return 0;
}
#endif
