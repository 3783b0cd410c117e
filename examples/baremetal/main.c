/*
 * Bare-metal example: a driver-side queue and a device-side queue on
 * static storage, no heap, no C library. Both sides live in one image here
 * (the device side could as well be another core or SoC reading this RAM):
 * the driver offers one request/response buffer pair, the device takes the
 * chain, answers, and the driver reaps the answer. Built by the Makefile
 * beside it from sources.mk for Cortex-M0+, Cortex-M4, RV32IMAC and RV64IMAC;
 * it links, and the startup code would run it, but nothing here needs a
 * board: CI only links it and reads its size.
 */
#include <stddef.h>
#include <stdint.h>

#include "vtio.h"

#define QSIZE	   8u
#define RING_ALIGN 16u

/* Generous static sizes; main() checks them against the *_size() functions. */
#define RING_BYTES	 512u
#define VQ_STATE_BYTES	 1024u
#define DEVQ_STATE_BYTES 1024u

/* Memory both sides share: the rings and the buffers. */
static struct shared {
	_Alignas(16) unsigned char ring[RING_BYTES];
	unsigned char request[16];
	unsigned char response[16];
} shm = {.request = "ping"};
#if VTIO_CONFIG_DRIVER
static _Alignas(16) unsigned char vq_state[VQ_STATE_BYTES];
#endif
#if VTIO_CONFIG_DEVICE
static _Alignas(16) unsigned char devq_state[DEVQ_STATE_BYTES];
#endif

/* Set by the notification callbacks; a real port would ring a doorbell
 * register or raise an interrupt there. */
static volatile uint32_t kicks, irqs;

#if VTIO_CONFIG_DRIVER
static int notify_device(void *ctx, uint32_t data)
{
	(void)ctx;
	(void)data;
	kicks++;
	return 0;
}
#endif

#if VTIO_CONFIG_DEVICE
static int notify_driver(void *ctx, uint32_t data)
{
	(void)ctx;
	(void)data;
	irqs++;
	return 0;
}
#endif

/* Result for a debugger to read. */
volatile int fw_result = -1;

static int run(void)
{
#if VTIO_CONFIG_SPLIT
	const enum vtio_layout layout = VTIO_LAYOUT_SPLIT;
#else
	const enum vtio_layout layout = VTIO_LAYOUT_PACKED;
#endif
	const uint64_t features = VTIO_FEATURE(VTIO_F_VERSION_1);
	struct vtio_vq_areas areas;
	int rc;

#if VTIO_CONFIG_DRIVER
	if (vtio_vq_ring_size(layout, QSIZE, RING_ALIGN) > sizeof(shm.ring))
		return VTIO_ENOSPC;
	/* Identity addressing: the device sees driver RAM at its CPU address. */
	rc = vtio_vq_areas_in(layout, QSIZE, RING_ALIGN, shm.ring, (uint64_t)(uintptr_t)shm.ring,
			      &areas);
	if (rc != 0)
		return rc;
#else
	/* Device-only firmware: the driver (another core or SoC) laid the
	 * rings out in shm.ring and tells their addresses; the same layout is
	 * computed here from the spec's sizes (split: descriptors, avail, used
	 * at RING_ALIGN; packed: descriptors, then the two event areas). */
	const uint64_t base = (uint64_t)(uintptr_t)shm.ring;
	size_t desc = (size_t)16u * QSIZE, drv, dev;
	if (layout == VTIO_LAYOUT_SPLIT) {
		drv = desc;
		dev = (drv + vtio_split_avail_size(QSIZE) + RING_ALIGN - 1u) &
		      ~(size_t)(RING_ALIGN - 1u);
	} else {
		drv = desc;
		dev = drv + 4u;
	}
	areas.desc_addr = base;
	areas.driver_addr = base + drv;
	areas.device_addr = base + dev;
	(void)rc;
#endif

#if VTIO_CONFIG_DRIVER
	struct vtio_vq *vq;
	struct vtio_vq_config vc = {0};
	vc.layout = layout;
	vc.num = QSIZE;
	vc.features = features;
	vc.areas = areas;
	vc.notify = notify_device;
	if (vtio_vq_state_size(layout, QSIZE, 0, 0) > sizeof(vq_state))
		return VTIO_ENOSPC;
	rc = vtio_vq_init(&vq, vq_state, sizeof(vq_state), &vc);
	if (rc != 0)
		return rc;
	struct vtio_sg sg[2] = {vtio_sg_of(shm.request, sizeof(shm.request)),
				vtio_sg_of(shm.response, sizeof(shm.response))};
	rc = vtio_vq_add(vq, sg, 1, 1, shm.response);
	if (rc != 0)
		return rc;
	rc = vtio_vq_kick(vq);
	if (rc != 0)
		return rc;
#endif

#if VTIO_CONFIG_DEVICE
	/* The device reaches the shared block through one identity region. */
	struct vtio_mem_region region = {(uint64_t)(uintptr_t)&shm, sizeof(shm), &shm, VTIO_MEM_RW};
	struct vtio_mem mem;
	rc = vtio_mem_init(&mem, &region, 1);
	if (rc != 0)
		return rc;
	struct vtio_devq *dq;
	struct vtio_devq_config dc = {0};
	dc.layout = layout;
	dc.num = QSIZE;
	dc.features = features;
	dc.desc_addr = areas.desc_addr;
	dc.driver_addr = areas.driver_addr;
	dc.device_addr = areas.device_addr;
	dc.mem = &mem;
	dc.notify = notify_driver;
	if (vtio_devq_state_size(layout, QSIZE) > sizeof(devq_state))
		return VTIO_ENOSPC;
	rc = vtio_devq_init(&dq, devq_state, sizeof(devq_state), &dc);
	if (rc != 0)
		return rc;
	struct vtio_iov rd[2], wr[2];
	struct vtio_devq_chain c = {0};
	c.rd = rd;
	c.rd_max = 2;
	c.wr = wr;
	c.wr_max = 2;
	rc = vtio_devq_pop(dq, &c);
	if (rc == 0) {
		static const unsigned char pong[] = "pong";
		int64_t n = vtio_devq_write(dq, &c, 0, pong, sizeof(pong));
		rc = vtio_devq_push(dq, &c, n > 0 ? (uint32_t)n : 0u);
		if (rc == 0)
			rc = vtio_devq_kick(dq);
	}
	if (rc != 0 && rc != VTIO_EAGAIN)
		return rc;
#endif

#if VTIO_CONFIG_DRIVER
	uint32_t len = 0;
	void *token = vtio_vq_get_used(vq, &len);
	if (token != (void *)shm.response && VTIO_CONFIG_DEVICE)
		return VTIO_EIO;
#endif
	return 0;
}

int main(void)
{
	fw_result = run();
	for (;;)
		VTIO_CPU_RELAX();
}
