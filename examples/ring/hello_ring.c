/*
 * The smallest complete use of the library: one driver-side queue and one
 * device-side queue in the same process, one request and one reply.
 *
 * Everything lives in static storage sized by the library's *_size()
 * functions, as it would in firmware. The device reaches driver memory
 * through a memory view; here both sides share one address space, so the
 * view is a single identity region covering everything.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <vtio.h>

#define QSIZE 8

static _Alignas(16) unsigned char vq_state[8192];
static _Alignas(16) unsigned char dq_state[1024];
static _Alignas(4096) unsigned char ring[8192];

static struct vtio_devq *dq;
static int kicks, interrupts;

/* The driver's "doorbell": in a real transport this writes a register. */
static int kick(void *ctx, uint32_t data)
{
	(void)ctx;
	(void)data;
	kicks++;
	return 0;
}

/* The device's "interrupt". */
static int interrupt(void *ctx, uint32_t data)
{
	(void)ctx;
	(void)data;
	interrupts++;
	return 0;
}

int main(void)
{
	/* Driver side: carve one ring block into the three areas. */
	size_t need = vtio_vq_ring_size(VTIO_LAYOUT_SPLIT, QSIZE, 4096);
	if (need == 0 || need > sizeof(ring) ||
	    vtio_vq_state_size(VTIO_LAYOUT_SPLIT, QSIZE, 0, 0) > sizeof(vq_state) ||
	    vtio_devq_state_size(VTIO_LAYOUT_SPLIT, QSIZE) > sizeof(dq_state)) {
		fprintf(stderr, "hello_ring: static storage too small\n");
		return 1;
	}
	struct vtio_vq_config dc = {
	    .layout = VTIO_LAYOUT_SPLIT,
	    .num = QSIZE,
	    .features = VTIO_FEATURE(VTIO_F_VERSION_1),
	    .notify = kick,
	};
	int err =
	    vtio_vq_areas_in(VTIO_LAYOUT_SPLIT, QSIZE, 4096, ring, (uintptr_t)ring, &dc.areas);
	struct vtio_vq *vq = NULL;
	if (err == 0)
		err = vtio_vq_init(&vq, vq_state, sizeof(vq_state), &dc);
	if (err != 0) {
		fprintf(stderr, "hello_ring: driver queue: %s\n", vtio_strerror(err));
		return 1;
	}

	/* Device side: a view of the driver's memory, and the same ring. */
	static const struct vtio_mem_region everything = {0, UINTPTR_MAX, NULL, VTIO_MEM_RW};
	struct vtio_mem view;
	struct vtio_devq_config cc = {
	    .layout = VTIO_LAYOUT_SPLIT,
	    .num = QSIZE,
	    .features = dc.features,
	    .desc_addr = dc.areas.desc_addr,
	    .driver_addr = dc.areas.driver_addr,
	    .device_addr = dc.areas.device_addr,
	    .mem = &view,
	    .notify = interrupt,
	};
	err = vtio_mem_init(&view, &everything, 1);
	if (err == 0)
		err = vtio_devq_init(&dq, dq_state, sizeof(dq_state), &cc);
	if (err != 0) {
		fprintf(stderr, "hello_ring: device queue: %s\n", vtio_strerror(err));
		return 1;
	}

	/* Driver: one readable and one writable segment, then kick. */
	static char request[] = "ping";
	static char reply[16];
	struct vtio_sg sg[2] = {vtio_sg_of(request, sizeof(request)),
				vtio_sg_of(reply, sizeof(reply))};
	err = vtio_vq_add(vq, sg, 1, 1, request);
	if (err == 0)
		err = vtio_vq_kick(vq);
	if (err != 0) {
		fprintf(stderr, "hello_ring: add: %s\n", vtio_strerror(err));
		return 1;
	}

	/* Device: take the chain, read the request, write the reply. */
	struct vtio_iov rd[4], wr[4];
	struct vtio_devq_chain c = {.rd = rd, .rd_max = 4, .wr = wr, .wr_max = 4};
	err = vtio_devq_pop(dq, &c);
	if (err != 0) {
		fprintf(stderr, "hello_ring: pop: %s\n", vtio_strerror(err));
		return 1;
	}
	char got[8] = {0};
	int64_t n = vtio_devq_read(dq, &c, 0, got, sizeof(got) - 1);
	int64_t w = vtio_devq_write(dq, &c, 0, "pong", 5);
	/* The handle (8 bytes) is all a request in flight needs: c, rd and wr
	 * are free for the next pop, and the push may come later, in any order. */
	struct vtio_devq_handle h = vtio_devq_handle_of(&c);
	if (n != (int64_t)sizeof(request) || w != 5 ||
	    vtio_devq_push_handle(dq, h, (uint32_t)w) != 0 || vtio_devq_kick(dq) != 0) {
		fprintf(stderr, "hello_ring: device could not complete the request\n");
		return 1;
	}

	/* Driver: reap the used buffer. */
	uint32_t len = 0;
	void *token = NULL;
	err = vtio_vq_take_used(vq, &token, &len); /* 0, VTIO_EAGAIN (nothing yet) or VTIO_EIO */
	if (err != 0 || token != request || len != 5 || strcmp(reply, "pong") != 0) {
		fprintf(stderr, "hello_ring: wrong completion (token %p len %u)\n", token, len);
		return 1;
	}
	printf("driver sent \"%s\", device answered \"%s\" (%u bytes); %d kick, %d interrupt\n",
	       got, reply, len, kicks, interrupts);
	return kicks == 1 && interrupts == 1 ? 0 : 1;
}
