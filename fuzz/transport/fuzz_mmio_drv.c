/*
 * Fuzz the virtio-mmio driver transport against a register window whose
 * answers come from the input. The window is a small well-behaved device
 * (status and QueueReady read back what was written, a fixed offer, two
 * queues) and every register read first takes one control byte from the
 * input: keep the sane answer, replace it by an input word, flip bits of it,
 * or fail the bus. An exhausted input answers sanely, so the empty input is
 * the whole happy path and every read of it can be perturbed.
 *
 * The driver runs probe, negotiation, queue setup (both layouts), DRIVER_OK,
 * buffers and kicks, interrupts, config reads of every field shape, the
 * stable config read, shared memory lookup, queue reset and device reset,
 * carrying on after errors. The window checks that the driver never makes
 * an access the spec forbids, whatever it was answered: control registers
 * 32-bit aligned only (MMIO-DRV-2), no read of a write-only register and no
 * write of a read-only one, no gap or legacy register, config within the
 * window (MMIO-DRV-1), no register after a DeviceID of 0 (MMIO-DRV-15),
 * QueueSize within the QueueSizeMax just read (MMIO-DRV-9), no queue
 * register written after QueueReady read non-zero (MMIO-DRV-10), no
 * undefined InterruptACK bit (MMIO-DRV-13); and that every wait ended.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vtio/transport.h"
#include "vtio/transport/mmio.h"

#include "fuzz_common.h"

#define WINDOW 0x180u
#define NQ     2u

struct win {
	const uint8_t *p;
	size_t n;
	/* sane device */
	uint32_t status, dfsel, queue_sel, ready[NQ], shm_sel, generation;
	uint64_t offer;
	/* rule tracking */
	bool dead;	     /* DeviceID read 0: nothing else until the next probe */
	uint32_t last_max;   /* QueueSizeMax as last answered for queue_sel */
	bool max_known;	     /* ... since the last QueueSel write */
	bool ready_nonzero;  /* QueueReady read non-zero since the last QueueSel write */
	unsigned long reads; /* total, to bound every wait */
};

static struct win W;

static uint8_t in8(void)
{
	if (!W.n)
		return 0;
	W.n--;
	return *W.p++;
}

static uint32_t in32(void)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)in8() << (8 * i);
	return v;
}

static void check_access(uint32_t off, unsigned width)
{
	CHECK(!W.dead);
	if (off >= VTIO_MMIO_CONFIG) {
		CHECK(width == 1 || width == 2 || width == 4);
		CHECK((off & (width - 1)) == 0);
		CHECK(off + width <= WINDOW);
	} else {
		CHECK(width == 4 && (off & 3) == 0);
	}
}

static uint32_t sane_read(uint32_t off)
{
	bool q = W.queue_sel < NQ;
	switch (off) {
	case VTIO_MMIO_MAGIC_VALUE:
		return VTIO_MMIO_MAGIC;
	case VTIO_MMIO_VERSION:
		return 2;
	case VTIO_MMIO_DEVICE_ID:
		return 4;
	case VTIO_MMIO_VENDOR_ID:
		return 0x554d4551u;
	case VTIO_MMIO_DEVICE_FEATURES:
		return W.dfsel < 2 ? (uint32_t)(W.offer >> (32 * W.dfsel)) : 0;
	case VTIO_MMIO_QUEUE_NUM_MAX:
		return q ? 64u : 0u;
	case VTIO_MMIO_QUEUE_READY:
		return q ? W.ready[W.queue_sel] : 0;
	case VTIO_MMIO_INTERRUPT_STATUS:
		return VTIO_MMIO_INT_VRING | VTIO_MMIO_INT_CONFIG;
	case VTIO_MMIO_STATUS:
		return W.status;
	case VTIO_MMIO_SHM_LEN_LOW:
	case VTIO_MMIO_SHM_LEN_HIGH:
		return W.shm_sel == 0 ? 0x1000u * (off == VTIO_MMIO_SHM_LEN_LOW) : ~0u;
	case VTIO_MMIO_SHM_BASE_LOW:
	case VTIO_MMIO_SHM_BASE_HIGH:
		return W.shm_sel == 0 ? 0x40000000u * (off == VTIO_MMIO_SHM_BASE_LOW) : ~0u;
	case VTIO_MMIO_QUEUE_RESET:
		return 0;
	case VTIO_MMIO_CONFIG_GENERATION:
		return W.generation;
	default:
		return 0x11223344u ^ off; /* config bytes */
	}
}

static int win_read(void *ctx, uint32_t off, unsigned width, uint32_t *val)
{
	(void)ctx;
	check_access(off, width);
	if (off < VTIO_MMIO_CONFIG)
		CHECK(vtio_mmio_reg_access(off) & VTIO_MMIO_REG_R);
	CHECK(++W.reads < 4000000ul);
	uint32_t v = sane_read(off);
	if (W.n) {
		uint8_t c = in8();
		switch (c & 3u) {
		case 0:
			break;
		case 1:
			v = in32();
			break;
		case 2:
			v ^= (uint32_t)1 << (c >> 3);
			break;
		default:
			if (c & 4u)
				return VTIO_EIO;
			v = c >> 3;
			break;
		}
	}
	if (width < 4)
		v &= (1u << (8 * width)) - 1u;
	if (off == VTIO_MMIO_DEVICE_ID && v == 0)
		W.dead = true;
	if (off == VTIO_MMIO_QUEUE_NUM_MAX) {
		W.last_max = v > 32768u ? 32768u : v;
		W.max_known = true;
	}
	if (off == VTIO_MMIO_QUEUE_READY && v)
		W.ready_nonzero = true;
	*val = v;
	return 0;
}

static int win_write(void *ctx, uint32_t off, unsigned width, uint32_t v)
{
	(void)ctx;
	check_access(off, width);
	if (off >= VTIO_MMIO_CONFIG)
		return 0;
	CHECK(vtio_mmio_reg_access(off) & VTIO_MMIO_REG_W);
	switch (off) {
	case VTIO_MMIO_STATUS:
		W.status = v;
		if (v == 0)
			W.ready[0] = W.ready[1] = 0;
		break;
	case VTIO_MMIO_DEVICE_FEATURES_SEL:
		W.dfsel = v;
		break;
	case VTIO_MMIO_QUEUE_SEL:
		W.queue_sel = v;
		W.max_known = false;
		W.ready_nonzero = false;
		break;
	case VTIO_MMIO_QUEUE_NUM:
		CHECK(W.max_known && v <= W.last_max && v != 0);
		/* fall through */
	case VTIO_MMIO_QUEUE_DESC_LOW:
	case VTIO_MMIO_QUEUE_DESC_HIGH:
	case VTIO_MMIO_QUEUE_AVAIL_LOW:
	case VTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VTIO_MMIO_QUEUE_USED_LOW:
	case VTIO_MMIO_QUEUE_USED_HIGH:
		CHECK(!W.ready_nonzero);
		break;
	case VTIO_MMIO_QUEUE_READY:
		if (W.queue_sel < NQ)
			W.ready[W.queue_sel] = v;
		break;
	case VTIO_MMIO_QUEUE_RESET:
		CHECK(v == 1);
		if (W.queue_sel < NQ)
			W.ready[W.queue_sel] = 0;
		break;
	case VTIO_MMIO_INTERRUPT_ACK:
		CHECK(v != 0 && (v & ~3u) == 0);
		break;
	case VTIO_MMIO_SHM_SEL:
		W.shm_sel = v;
		break;
	default:
		break;
	}
	return 0;
}

static const struct vtio_mmio_ops win_ops = {
    .name = "fuzz-window",
    .read = win_read,
    .write = win_write,
};

static struct vtio_mmio M;
static _Alignas(4096) unsigned char ring[NQ][32768];
static _Alignas(16) unsigned char state[NQ][16384];
static unsigned char buf[256];

static void on_vq(void *ctx, uint16_t index)
{
	(void)ctx;
	CHECK(index < NQ); /* only queues the driver enabled */
}

static void on_cfg(void *ctx)
{
	(void)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	memset(&W, 0, sizeof(W));
	W.p = data;
	W.n = size;
	uint8_t mode = in8();
	W.offer = 0x3u | VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_RING_RESET) |
		  VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA) | VTIO_FEATURE(VTIO_F_EVENT_IDX) |
		  VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
	if (mode & 1u)
		W.offer |= VTIO_FEATURE(VTIO_F_RING_PACKED);

	struct vtio_mmio_config c = {.ops = &win_ops, .window_size = WINDOW};
	int err = vtio_mmio_init(&M, &c);
	if (err) {
		CHECK(err == VTIO_ENODEV || err == VTIO_EPROTO || err == VTIO_ENOTSUP ||
		      err == VTIO_EIO);
		return 0;
	}
	struct vtio_transport *t = vtio_mmio_transport(&M);
	vtio_transport_set_irq(t, on_vq, on_cfg, NULL);
	struct vtio_transport_negotiation n = {.supported = ~(uint64_t)0};
	err = vtio_transport_negotiate(t, &n);
	if (!err) {
		/* FEAT-DRV-1 / MMIO-DRV-20 whatever the device answered. */
		CHECK((vtio_transport_features(t) & ~t->offered) == 0);
		CHECK(!vtio_transport_has(t, VTIO_F_ADMIN_VQ));
		CHECK(!vtio_transport_has(t, VTIO_F_NOTIF_CONFIG_DATA));
		CHECK(!vtio_transport_has(t, VTIO_F_BAD_FEATURE));
		CHECK(vtio_transport_has(t, VTIO_F_VERSION_1));
	}
	struct vtio_vq *vq[NQ] = {NULL, NULL};
	for (uint16_t q = 0; q < NQ; q++) {
		uint32_t num = (uint32_t)(in8() & 0x7fu);
		struct vtio_transport_vq_config vc = {
		    .index = q,
		    .num = num,
		    .ring = ring[q],
		    .ring_size = sizeof(ring[q]),
		    .state = state[q],
		    .state_size = sizeof(state[q]),
		};
		if (vtio_transport_vq_setup(t, &vc, &vq[q]))
			vq[q] = NULL;
	}
	(void)vtio_transport_driver_ok(t);
	for (uint16_t q = 0; q < NQ; q++) {
		if (!vq[q])
			continue;
		struct vtio_sg sg = vtio_sg_of(buf, sizeof(buf));
		(void)vtio_vq_add(vq[q], &sg, 1, 0, buf);
		(void)vtio_vq_kick(vq[q]);
	}
	for (unsigned i = 0; i < 3; i++) {
		err = vtio_mmio_irq(&M);
		CHECK(err <= 3);
	}
	uint64_t v64;
	unsigned char arr[8];
	static const struct {
		uint32_t off;
		size_t len;
	} reads[] = {{0, 1}, {2, 2},	{4, 4},	   {8, 8},   {1, 7},
		     {3, 2}, {0x7c, 4}, {0x7c, 8}, {0x7f, 1}};
	for (unsigned i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		err = vtio_transport_config_read(t, reads[i].off, arr, reads[i].len);
		CHECK(err != 0 || reads[i].off + reads[i].len <= WINDOW - VTIO_MMIO_CONFIG);
	}
	err = vtio_transport_config_read_stable(t, 8, &v64, 8);
	(void)vtio_transport_config_write(t, 4, &v64, 4);
	uint64_t base = 0, len = 0;
	if (vtio_mmio_shm_region(&M, in8() & 1u, &base, &len) == 0)
		CHECK(base + len >= base && len != UINT64_MAX);
	(void)vtio_transport_queue_reset(t, 0);
	(void)vtio_transport_queue_reset(t, 1);
	if (vq[0]) {
		(void)vtio_vq_reset(vq[0]);
		(void)vtio_transport_queue_attach(t, vq[0]);
	}
	(void)vtio_mmio_irq(&M);
	(void)vtio_transport_reset(t);
	return 0;
}
