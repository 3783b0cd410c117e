/*
 * Bare-metal virtio-mmio driver, for the size report: probe a virtio-mmio
 * window, negotiate, set up one driver queue on static storage, DRIVER_OK,
 * post a request/response pair, kick, and reap it from the interrupt
 * handler. The window address is QEMU's first `virt` slot (0x0a000000 on
 * arm); CI only links this image and reads its size (scripts/size-report.sh
 * builds it with `make mmio`). The QEMU-run firmware lives with the interop
 * tests.
 */
#include <stddef.h>
#include <stdint.h>

#include "vtio.h"

#define MMIO_BASE  0x0a000000u
#define QSIZE	   8u
#define RING_BYTES 512u

static _Alignas(64) unsigned char ring[RING_BYTES];
static _Alignas(16) unsigned char vq_state[1024];
static unsigned char request[16] = "ping";
static unsigned char response[16];

static struct vtio_mmio mmio;
static struct vtio_vq *vq;
static volatile uint32_t done;

static void on_used(void *ctx, uint16_t index)
{
	(void)ctx;
	(void)index;
	uint32_t len;
	while (vtio_vq_get_used(vq, &len) != NULL)
		done++;
}

/* The board's interrupt vector would call this. */
void fw_mmio_irq(void);
void fw_mmio_irq(void)
{
	(void)vtio_mmio_irq(&mmio);
}

volatile int fw_result = -1;

static int run(void)
{
	struct vtio_mmio_config mc = {.base = (volatile void *)(uintptr_t)MMIO_BASE};
	int rc = vtio_mmio_init(&mmio, &mc);
	if (rc)
		return rc;
	struct vtio_transport *t = vtio_mmio_transport(&mmio);
	vtio_transport_set_irq(t, on_used, NULL, NULL);
	struct vtio_transport_negotiation n = {0};
	rc = vtio_transport_negotiate(t, &n);
	if (rc)
		return rc;
	struct vtio_transport_vq_config qc = {
	    .index = 0,
	    .num = QSIZE,
	    .ring = ring,
	    .ring_size = sizeof(ring),
	    .state = vq_state,
	    .state_size = sizeof(vq_state),
	};
	rc = vtio_transport_vq_setup(t, &qc, &vq);
	if (rc)
		return rc;
	rc = vtio_transport_driver_ok(t);
	if (rc)
		return rc;
	struct vtio_sg sg[2] = {vtio_sg_of(request, sizeof(request)),
				vtio_sg_of(response, sizeof(response))};
	rc = vtio_vq_add(vq, sg, 1, 1, response);
	if (rc)
		return rc;
	return vtio_vq_kick(vq);
}

int main(void);
int main(void)
{
	fw_result = run();
	for (;;)
		if (done)
			break;
	return 0;
}
