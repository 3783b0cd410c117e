/* virtio-mmio driver transport against a scripted, possibly hostile register
 * window (a fake device that records every access): probing (MMIO-DRV-4..6,
 * MMIO-DRV-15), register discipline (MMIO-DRV-1, -2, -7, -8, -10, -19),
 * config access widths (MMIO-DRV-3), interrupts (MMIO-DRV-12, -13, -18),
 * queue reset (MMIO-DRV-14), shared memory (MMIO-DEV-10), and devices that
 * misbehave: features that move, queue maxima 0 or huge, a generation that
 * never settles, NEEDS_RESET mid-stream, QueueReady / QueueReset that never
 * complete, a failing bus. Every test also checks that the driver never
 * made an access the spec forbids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/transport.h"
#include "vtio/transport/mmio.h"

/* ---- The fake device ---------------------------------------------------------------------- */

#define NQ	 4u
#define LOG_MAX	 4096u
#define CFG_SIZE 0x100u

struct access {
	uint32_t off;
	unsigned width;
	bool write;
	uint32_t val;
};

struct fake {
	uint32_t magic, version, device_id, vendor_id;
	uint32_t features[2];
	bool features_move; /* DeviceFeatures changes on every read of word 0 */
	uint32_t dfsel, drvfsel, drv_features[2];
	uint8_t status;
	bool refuse_features_ok;
	uint32_t queue_sel;
	uint32_t num_max[NQ];
	uint32_t num[NQ];
	uint32_t ready[NQ];
	uint64_t desc[NQ], avail[NQ], used[NQ];
	bool ready_stuck;	/* QueueReady never reads 1 */
	bool reset_stuck;	/* QueueReset reads 1 forever */
	bool reset_keeps_ready; /* QueueReady still 1 after a queue reset */
	uint32_t queue_resets;
	uint32_t isr, acked;
	uint32_t notify[16];
	unsigned notifies;
	uint32_t generation;
	bool gen_moves;	     /* every ConfigGeneration read is new */
	unsigned gen_settle; /* ... for this many reads, then stable */
	uint8_t config[CFG_SIZE];
	uint32_t shm_sel;
	uint64_t shm_len, shm_base; /* region 0 */
	uint32_t status_sticks;	    /* status reads non-zero this many times after a reset */
	int fail_after;		    /* bus error after this many accesses (-1: never) */
	unsigned accesses;
	unsigned violations; /* accesses the spec forbids the driver */
	struct access log[LOG_MAX];
	unsigned nlog;
};

static struct fake F;

static void fake_reset_device(struct fake *f)
{
	f->status = 0;
	f->isr = 0;
	for (unsigned i = 0; i < NQ; i++)
		f->ready[i] = 0;
}

static void fake_default(void)
{
	memset(&F, 0, sizeof(F));
	F.magic = VTIO_MMIO_MAGIC;
	F.version = 2;
	F.device_id = 4;
	F.vendor_id = 0x554d4551u;
	F.features[0] = 0x5u;
	F.features[1] = (uint32_t)(VTIO_FEATURE(VTIO_F_VERSION_1) >> 32) |
			(uint32_t)(VTIO_FEATURE(VTIO_F_RING_RESET) >> 32) |
			(uint32_t)(VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA) >> 32) |
			(uint32_t)(VTIO_FEATURE(VTIO_F_ADMIN_VQ) >> 32) |
			(uint32_t)(VTIO_FEATURE(VTIO_F_NOTIF_CONFIG_DATA) >> 32);
	for (unsigned i = 0; i < NQ; i++)
		F.num_max[i] = i < 2 ? 64u : 0u;
	F.shm_len = UINT64_MAX;
	F.shm_base = UINT64_MAX;
	F.fail_after = -1;
	for (unsigned i = 0; i < CFG_SIZE; i++)
		F.config[i] = (uint8_t)(0x10 + i);
}

static void logit(struct fake *f, uint32_t off, unsigned width, bool write, uint32_t val)
{
	if (f->nlog < LOG_MAX)
		f->log[f->nlog++] = (struct access){off, width, write, val};
}

static bool q_ok(const struct fake *f)
{
	return f->queue_sel < NQ;
}

static int fake_read(void *ctx, uint32_t off, unsigned width, uint32_t *val)
{
	struct fake *f = ctx;
	if (f->fail_after >= 0 && f->accesses >= (unsigned)f->fail_after)
		return VTIO_ETIMEDOUT;
	f->accesses++;
	uint32_t v = 0;
	if (off >= VTIO_MMIO_CONFIG) {
		uint32_t c = off - VTIO_MMIO_CONFIG;
		if ((off & (width - 1)) || c + width > CFG_SIZE)
			f->violations++;
		else
			for (unsigned i = 0; i < width; i++)
				v |= (uint32_t)f->config[c + i] << (8 * i);
		logit(f, off, width, false, v);
		*val = v;
		return 0;
	}
	if (width != 4 || (off & 3))
		f->violations++; /* MMIO-DRV-2 */
	switch (off) {
	case VTIO_MMIO_MAGIC_VALUE:
		v = f->magic;
		break;
	case VTIO_MMIO_VERSION:
		v = f->version;
		break;
	case VTIO_MMIO_DEVICE_ID:
		v = f->device_id;
		break;
	case VTIO_MMIO_VENDOR_ID:
		v = f->vendor_id;
		break;
	case VTIO_MMIO_DEVICE_FEATURES:
		v = f->dfsel < 2 ? f->features[f->dfsel] : 0;
		if (f->features_move && f->dfsel == 0)
			f->features[0] ^= 0x100u;
		break;
	case VTIO_MMIO_QUEUE_NUM_MAX:
		v = q_ok(f) ? f->num_max[f->queue_sel] : 0;
		break;
	case VTIO_MMIO_QUEUE_READY:
		v = q_ok(f) ? f->ready[f->queue_sel] : 0;
		if (f->ready_stuck)
			v = 0;
		break;
	case VTIO_MMIO_INTERRUPT_STATUS:
		v = f->isr;
		break;
	case VTIO_MMIO_STATUS:
		v = f->status;
		if (f->status_sticks) {
			f->status_sticks--;
			v = VTIO_STATUS_ACKNOWLEDGE;
		}
		break;
	case VTIO_MMIO_SHM_LEN_LOW:
		v = f->shm_sel == 0 ? (uint32_t)f->shm_len : ~0u;
		break;
	case VTIO_MMIO_SHM_LEN_HIGH:
		v = f->shm_sel == 0 ? (uint32_t)(f->shm_len >> 32) : ~0u;
		break;
	case VTIO_MMIO_SHM_BASE_LOW:
		v = f->shm_sel == 0 ? (uint32_t)f->shm_base : ~0u;
		break;
	case VTIO_MMIO_SHM_BASE_HIGH:
		v = f->shm_sel == 0 ? (uint32_t)(f->shm_base >> 32) : ~0u;
		break;
	case VTIO_MMIO_QUEUE_RESET:
		v = f->reset_stuck ? 1u : 0u;
		break;
	case VTIO_MMIO_CONFIG_GENERATION:
		v = f->generation;
		if (f->gen_moves)
			f->generation++;
		else if (f->gen_settle) {
			f->gen_settle--;
			f->generation++;
		}
		break;
	default:
		f->violations++; /* a W register or no register: MMIO-DRV-1 */
		break;
	}
	logit(f, off, width, false, v);
	*val = v;
	return 0;
}

static int fake_write(void *ctx, uint32_t off, unsigned width, uint32_t v)
{
	struct fake *f = ctx;
	if (f->fail_after >= 0 && f->accesses >= (unsigned)f->fail_after)
		return VTIO_ETIMEDOUT;
	f->accesses++;
	logit(f, off, width, true, v);
	if (off >= VTIO_MMIO_CONFIG) {
		uint32_t c = off - VTIO_MMIO_CONFIG;
		if ((off & (width - 1)) || c + width > CFG_SIZE)
			f->violations++;
		else
			for (unsigned i = 0; i < width; i++)
				f->config[c + i] = (uint8_t)(v >> (8 * i));
		return 0;
	}
	if (width != 4 || (off & 3))
		f->violations++;
	bool live = q_ok(f) && f->ready[f->queue_sel];
	switch (off) {
	case VTIO_MMIO_DEVICE_FEATURES_SEL:
		f->dfsel = v;
		break;
	case VTIO_MMIO_DRIVER_FEATURES_SEL:
		f->drvfsel = v;
		break;
	case VTIO_MMIO_DRIVER_FEATURES:
		if (f->drvfsel < 2)
			f->drv_features[f->drvfsel] = v;
		break;
	case VTIO_MMIO_QUEUE_SEL:
		f->queue_sel = v;
		break;
	case VTIO_MMIO_QUEUE_NUM:
	case VTIO_MMIO_QUEUE_DESC_LOW:
	case VTIO_MMIO_QUEUE_DESC_HIGH:
	case VTIO_MMIO_QUEUE_AVAIL_LOW:
	case VTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VTIO_MMIO_QUEUE_USED_LOW:
	case VTIO_MMIO_QUEUE_USED_HIGH: {
		if (live || !q_ok(f)) {
			f->violations++; /* MMIO-DRV-10 */
			break;
		}
		unsigned q = f->queue_sel;
		uint64_t *a = off < VTIO_MMIO_QUEUE_AVAIL_LOW  ? &f->desc[q]
			      : off < VTIO_MMIO_QUEUE_USED_LOW ? &f->avail[q]
							       : &f->used[q];
		if (off == VTIO_MMIO_QUEUE_NUM) {
			if (v > f->num_max[q])
				f->violations++; /* MMIO-DRV-9 */
			f->num[q] = v;
		} else if (off & 4)
			*a = (*a & 0xffffffffu) | ((uint64_t)v << 32);
		else
			*a = (*a & ~(uint64_t)0xffffffffu) | v;
		break;
	}
	case VTIO_MMIO_QUEUE_READY:
		if (q_ok(f))
			f->ready[f->queue_sel] = v;
		break;
	case VTIO_MMIO_QUEUE_NOTIFY:
		if (f->notifies < 16)
			f->notify[f->notifies] = v;
		f->notifies++;
		break;
	case VTIO_MMIO_INTERRUPT_ACK:
		if (v & ~3u)
			f->violations++; /* MMIO-DRV-13 */
		f->acked |= v;
		f->isr &= ~v;
		break;
	case VTIO_MMIO_STATUS:
		if (v == 0)
			fake_reset_device(f);
		else if ((v & VTIO_STATUS_FEATURES_OK) && f->refuse_features_ok)
			f->status = (uint8_t)(v & ~VTIO_STATUS_FEATURES_OK);
		else
			f->status = (uint8_t)v;
		break;
	case VTIO_MMIO_SHM_SEL:
		f->shm_sel = v;
		break;
	case VTIO_MMIO_QUEUE_RESET:
		f->queue_resets++;
		if (q_ok(f) && !f->reset_keeps_ready)
			f->ready[f->queue_sel] = 0;
		break;
	default:
		f->violations++; /* an R register or no register */
		break;
	}
	return 0;
}

static const struct vtio_mmio_ops fake_ops = {
    .name = "fake",
    .read = fake_read,
    .write = fake_write,
};

static struct vtio_mmio M;

static int setup(void **state)
{
	(void)state;
	fake_default();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(F.violations, 0);
	return 0;
}

static int probe(void)
{
	struct vtio_mmio_config c = {.ops = &fake_ops, .ctx = &F};
	return vtio_mmio_init(&M, &c);
}

static struct vtio_transport *T(void)
{
	return vtio_mmio_transport(&M);
}

static const struct vtio_transport_negotiation NEG = {
    .supported = 0x5u | VTIO_FEATURE(VTIO_F_RING_RESET) | VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA) |
		 VTIO_FEATURE(VTIO_F_ADMIN_VQ) | VTIO_FEATURE(VTIO_F_NOTIF_CONFIG_DATA),
};

static _Alignas(4096) unsigned char ring_mem[NQ][16384];
static _Alignas(16) unsigned char vq_state[NQ][8192];

static int setup_queue(uint16_t index, uint32_t num, struct vtio_vq **vq)
{
	struct vtio_transport_vq_config c = {
	    .index = index,
	    .num = num,
	    .ring = ring_mem[index],
	    .ring_size = sizeof(ring_mem[index]),
	    .state = vq_state[index],
	    .state_size = sizeof(vq_state[index]),
	};
	return vtio_transport_vq_setup(T(), &c, vq);
}

/* Bring the fake up to DRIVER_OK with queues 0 and 1. */
static void bring_up(struct vtio_vq **q0, struct vtio_vq **q1)
{
	assert_int_equal(probe(), 0);
	assert_int_equal(vtio_transport_negotiate(T(), &NEG), 0);
	assert_int_equal(setup_queue(0, 16, q0), 0);
	assert_int_equal(setup_queue(1, 16, q1), 0);
	assert_int_equal(vtio_transport_driver_ok(T()), 0);
}

/* ---- Probing ------------------------------------------------------------------------------- */

/* MMIO-DRV-15, MMIO-DRV-4..6: MagicValue, Version, DeviceID in that order. */
static void test_mmio_drv_15_probe_ok(void **state)
{
	(void)state;
	assert_int_equal(probe(), 0);
	assert_int_equal(vtio_mmio_device_id(&M), 4);
	assert_int_equal(vtio_mmio_vendor_id(&M), 0x554d4551u);
	assert_int_equal(vtio_mmio_error(&M), 0);
	assert_int_equal(F.nlog, 4);
	assert_int_equal(F.log[0].off, VTIO_MMIO_MAGIC_VALUE);
	assert_int_equal(F.log[1].off, VTIO_MMIO_VERSION);
	assert_int_equal(F.log[2].off, VTIO_MMIO_DEVICE_ID);
	assert_int_equal(F.log[3].off, VTIO_MMIO_VENDOR_ID);
	for (unsigned i = 0; i < F.nlog; i++)
		assert_false(F.log[i].write); /* probing writes nothing */
}

static void test_mmio_drv_4_bad_magic(void **state)
{
	(void)state;
	F.magic = 0x12345678u;
	assert_int_equal(probe(), VTIO_EPROTO);
	assert_int_equal(F.nlog, 1);
}

/* MMIO-DRV-5: legacy (Version 1) is refused, never driven; other versions are not virtio-mmio. */
static void test_mmio_drv_5_version(void **state)
{
	(void)state;
	F.version = 1;
	assert_int_equal(probe(), VTIO_ENOTSUP);
	assert_int_equal(F.nlog, 2);
	F.version = 3;
	assert_int_equal(probe(), VTIO_EPROTO);
	F.version = 0;
	assert_int_equal(probe(), VTIO_EPROTO);
}

/* MMIO-DRV-6 / MMIO-DRV-15: DeviceID 0 is a placeholder: ENODEV, nothing after DeviceID touched. */
static void test_mmio_drv_6_placeholder(void **state)
{
	(void)state;
	F.device_id = 0;
	assert_int_equal(probe(), VTIO_ENODEV);
	assert_int_equal(F.nlog, 3);
	assert_int_equal(F.log[2].off, VTIO_MMIO_DEVICE_ID);
}

static void test_mmio_init_bad_config(void **state)
{
	(void)state;
	struct vtio_mmio_config c = {0};
	assert_int_equal(vtio_mmio_init(NULL, &c), VTIO_EINVAL);
	assert_int_equal(vtio_mmio_init(&M, NULL), VTIO_EINVAL);
	assert_int_equal(vtio_mmio_init(&M, &c), VTIO_EINVAL); /* no base, no hooks */
	struct vtio_mmio_ops half = {.read = fake_read};
	c.ops = &half;
	assert_int_equal(vtio_mmio_init(&M, &c), VTIO_EINVAL);
	c.ops = &fake_ops;
	c.ctx = &F;
	c.window_size = 0x80;
	assert_int_equal(vtio_mmio_init(&M, &c), VTIO_EINVAL);
	c.window_size = 0x202;
	assert_int_equal(vtio_mmio_init(&M, &c), VTIO_EINVAL);
	assert_int_equal(F.nlog, 0);
	c.window_size = 0x100; /* registers only */
	assert_int_equal(vtio_mmio_init(&M, &c), 0);
	unsigned char b;
	assert_int_equal(vtio_transport_config_read(T(), 0, &b, 1), VTIO_ERANGE);
}

/* A bus that fails while probing: its error, nothing else. */
static void test_mmio_probe_bus_error(void **state)
{
	(void)state;
	for (int n = 0; n < 4; n++) {
		fake_default();
		F.fail_after = n;
		assert_int_equal(probe(), VTIO_ETIMEDOUT);
	}
}

/* ---- Negotiation ---------------------------------------------------------------------------- */

/* MMIO-DRV-7, MMIO-DRV-8, MMIO-DRV-17, MMIO-DRV-20, INIT-DRV-1: select before every feature access;
 * the generic sequence; ADMIN_VQ and NOTIF_CONFIG_DATA never accepted on MMIO. */
static void test_mmio_drv_7_8_20_negotiate(void **state)
{
	(void)state;
	assert_int_equal(probe(), 0);
	F.nlog = 0;
	assert_int_equal(vtio_transport_negotiate(T(), &NEG), 0);
	uint64_t f = vtio_transport_features(T());
	assert_true(f & VTIO_FEATURE(VTIO_F_VERSION_1));
	assert_true(f & VTIO_FEATURE(VTIO_F_RING_RESET));
	assert_false(f & VTIO_FEATURE(VTIO_F_ADMIN_VQ));
	assert_false(f & VTIO_FEATURE(VTIO_F_NOTIF_CONFIG_DATA));
	assert_int_equal(F.drv_features[0], 0x5u);
	assert_int_equal(F.drv_features[1], (uint32_t)(f >> 32));
	assert_int_equal(F.status,
			 VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_DRIVER | VTIO_STATUS_FEATURES_OK);
	/* Every DeviceFeatures read is preceded by a DeviceFeaturesSel write of
	 * the word, every DriverFeatures write by a DriverFeaturesSel write. */
	uint32_t dsel = ~0u, drsel = ~0u;
	unsigned dreads = 0, dwrites = 0;
	for (unsigned i = 0; i < F.nlog; i++) {
		const struct access *a = &F.log[i];
		if (a->write && a->off == VTIO_MMIO_DEVICE_FEATURES_SEL)
			dsel = a->val;
		if (a->write && a->off == VTIO_MMIO_DRIVER_FEATURES_SEL)
			drsel = a->val;
		if (!a->write && a->off == VTIO_MMIO_DEVICE_FEATURES) {
			assert_true(dsel < 2);
			dsel = ~0u;
			dreads++;
		}
		if (a->write && a->off == VTIO_MMIO_DRIVER_FEATURES) {
			assert_true(drsel < 2);
			drsel = ~0u;
			dwrites++;
		}
	}
	assert_true(dreads >= 2);
	assert_int_equal(dwrites, 2);
	/* First access of the sequence: the reset (status 0). */
	assert_true(F.log[0].write);
	assert_int_equal(F.log[0].off, VTIO_MMIO_STATUS);
	assert_int_equal(F.log[0].val, 0);
}

/* FEAT-DEV-2 from the driver's side: the device refused FEATURES_OK. */
static void test_feat_drv_features_ok_refused(void **state)
{
	(void)state;
	F.refuse_features_ok = true;
	assert_int_equal(probe(), 0);
	assert_int_equal(vtio_transport_negotiate(T(), &NEG), VTIO_EPERM);
	assert_true(F.status & VTIO_STATUS_FAILED);
	assert_int_equal(vtio_mmio_error(&M), 0);
}

/* A device whose offer moves between reads: FEATURES_OK is never written. */
static void test_mmio_hostile_features_move(void **state)
{
	(void)state;
	F.features_move = true;
	assert_int_equal(probe(), 0);
	assert_int_equal(vtio_transport_negotiate(T(), &NEG), VTIO_EPERM);
	assert_int_equal(vtio_mmio_error(&M), VTIO_EPROTO);
	assert_true(F.status & VTIO_STATUS_FAILED);
	for (unsigned i = 0; i < F.nlog; i++)
		if (F.log[i].write && F.log[i].off == VTIO_MMIO_STATUS)
			assert_false(F.log[i].val & VTIO_STATUS_FEATURES_OK);
	/* Queue setup is refused with the latched error... */
	struct vtio_vq *vq;
	assert_int_not_equal(setup_queue(0, 16, &vq), 0);
	/* ...and a reset clears it: the device settled, the driver can try again. */
	F.features_move = false;
	assert_int_equal(vtio_transport_negotiate(T(), &NEG), 0);
	assert_int_equal(vtio_mmio_error(&M), 0);
}

/* FEAT-DEV-5 from the driver's side: a version 2 device without VERSION_1 is not driven. */
static void test_mmio_no_version_1(void **state)
{
	(void)state;
	F.features[1] = 0;
	assert_int_equal(probe(), 0);
	assert_int_equal(vtio_transport_negotiate(T(), &NEG), VTIO_EPERM);
	assert_int_equal(vtio_mmio_error(&M), VTIO_ENOTSUP);
}

/* RESET-DRV-1: the reset waits for status 0, boundedly. */
static void test_reset_drv_1_bounded(void **state)
{
	(void)state;
	assert_int_equal(probe(), 0);
	F.status_sticks = 5;
	assert_int_equal(vtio_transport_reset(T()), 0);
	assert_int_equal(F.status_sticks, 0);
	F.status_sticks = ~0u;
	assert_int_equal(vtio_transport_reset(T()), VTIO_ETIMEDOUT);
}

/* A bus that fails mid-negotiation: the negotiation fails and the bus error is latched. */
static void test_mmio_bus_error_latched(void **state)
{
	(void)state;
	assert_int_equal(probe(), 0);
	F.fail_after = (int)F.accesses + 6;
	assert_int_not_equal(vtio_transport_negotiate(T(), &NEG), 0);
	assert_int_equal(vtio_mmio_error(&M), VTIO_ETIMEDOUT);
	unsigned char b;
	assert_int_equal(vtio_transport_config_read(T(), 0, &b, 1), VTIO_ETIMEDOUT);
	uint64_t base, len;
	assert_int_equal(vtio_mmio_shm_region(&M, 0, &base, &len), VTIO_ETIMEDOUT);
	/* The bus recovers: the next reset clears the latch. */
	F.fail_after = -1;
	assert_int_equal(vtio_transport_negotiate(T(), &NEG), 0);
	assert_int_equal(vtio_mmio_error(&M), 0);
}

/* ---- Queues ------------------------------------------------------------------------------------
 */

/* MMIO-DRV-19 / -9 / -10: setup order, size within QueueSizeMax, addresses written. */
static void test_mmio_drv_19_queue_setup(void **state)
{
	(void)state;
	assert_int_equal(probe(), 0);
	assert_int_equal(vtio_transport_negotiate(T(), &NEG), 0);
	F.nlog = 0;
	struct vtio_vq *vq;
	assert_int_equal(setup_queue(1, 32, &vq), 0);
	assert_int_equal(F.num[1], 32);
	assert_int_equal(F.ready[1], 1);
	const struct vtio_vq_areas *a = vtio_vq_get_areas(vq);
	assert_true(F.desc[1] == a->desc_addr);
	assert_true(F.avail[1] == a->driver_addr);
	assert_true(F.used[1] == a->device_addr);
	/* Order: QueueSel=1 ... QueueReady read 0, QueueNumMax read, QueueNum, areas, QueueReady=1.
	 */
	int sel = -1, ready_rd = -1, max_rd = -1, num_wr = -1, ready_wr = -1;
	for (unsigned i = 0; i < F.nlog; i++) {
		const struct access *x = &F.log[i];
		if (x->write && x->off == VTIO_MMIO_QUEUE_SEL && sel < 0)
			sel = (int)i;
		if (!x->write && x->off == VTIO_MMIO_QUEUE_READY && ready_rd < 0)
			ready_rd = (int)i;
		if (!x->write && x->off == VTIO_MMIO_QUEUE_NUM_MAX && ready_rd >= 0 && max_rd < 0)
			max_rd = (int)i;
		if (x->write && x->off == VTIO_MMIO_QUEUE_NUM)
			num_wr = (int)i;
		if (x->write && x->off == VTIO_MMIO_QUEUE_READY)
			ready_wr = (int)i;
	}
	assert_true(sel >= 0 && sel < ready_rd && ready_rd < max_rd && max_rd < num_wr &&
		    num_wr < ready_wr);
	/* Setting it up again while it is live is refused without touching it. */
	F.nlog = 0;
	struct vtio_transport_queue q = {.num = 16};
	assert_int_equal(T()->fn.queue_setup(T(), 1, &q), VTIO_EBUSY);
	for (unsigned i = 0; i < F.nlog; i++)
		assert_true(!F.log[i].write || F.log[i].off == VTIO_MMIO_QUEUE_SEL);
}

/* queue_num_max 0 (no queue) and larger than any layout allows (clamped). */
static void test_mmio_hostile_queue_max(void **state)
{
	(void)state;
	assert_int_equal(probe(), 0);
	assert_int_equal(vtio_transport_negotiate(T(), &NEG), 0);
	struct vtio_vq *vq;
	assert_int_equal(vtio_transport_queue_max(T(), 2), 0);
	assert_int_equal(setup_queue(2, 16, &vq), VTIO_ENODEV);
	assert_int_equal(setup_queue(0, 128, &vq), VTIO_ERANGE); /* above 64 */
	F.num_max[0] = 0xffffffffu;
	assert_int_equal(vtio_transport_queue_max(T(), 0), 32768u);
	assert_int_equal(setup_queue(0, 64, &vq), 0);
	/* An index beyond what the transport tracks. */
	assert_int_equal(vtio_transport_queue_max(T(), 500), 0);
	struct vtio_transport_queue q = {.num = 16};
	assert_int_equal(T()->fn.queue_setup(T(), VTIO_MMIO_MAX_QUEUES, &q), VTIO_ERANGE);
	assert_int_equal(T()->fn.queue_enable(T(), VTIO_MMIO_MAX_QUEUES), VTIO_ERANGE);
}

/* The maximum shrinks between the check and the write: caught at the write. */
static void test_mmio_hostile_queue_max_shrinks(void **state)
{
	(void)state;
	assert_int_equal(probe(), 0);
	assert_int_equal(vtio_transport_negotiate(T(), &NEG), 0);
	struct vtio_transport_queue q = {.num = 64};
	F.num_max[0] = 32;
	assert_int_equal(T()->fn.queue_setup(T(), 0, &q), VTIO_ERANGE);
	assert_int_equal(F.num[0], 0);
}

/* QueueReady that never reads 1; QueueReady already 1 on a queue never enabled. */
static void test_mmio_hostile_queue_ready(void **state)
{
	(void)state;
	assert_int_equal(probe(), 0);
	assert_int_equal(vtio_transport_negotiate(T(), &NEG), 0);
	struct vtio_vq *vq;
	F.ready_stuck = true;
	assert_int_equal(setup_queue(0, 16, &vq), VTIO_ETIMEDOUT);
	F.ready_stuck = false;
	F.ready[1] = 1;
	assert_int_equal(setup_queue(1, 16, &vq), VTIO_EPROTO);
	assert_int_equal(vtio_mmio_error(&M), VTIO_EPROTO);
	/* The driver can still reset and start over. */
	assert_int_equal(vtio_transport_negotiate(T(), &NEG), 0);
	assert_int_equal(setup_queue(1, 16, &vq), 0);
}

/* MMIO-DRV-14, RESET-DRV-3..5: queue reset waits for QueueReset 0; stuck and lying devices. */
static void test_mmio_drv_14_queue_reset(void **state)
{
	(void)state;
	struct vtio_vq *q0, *q1;
	bring_up(&q0, &q1);
	assert_int_equal(vtio_transport_queue_reset(T(), 0), 0);
	assert_int_equal(F.queue_resets, 1);
	assert_int_equal(F.ready[0], 0);
	/* Re-enable after the reset (RESET-DRV-5). */
	assert_int_equal(vtio_vq_reset(q0), 0);
	assert_int_equal(vtio_transport_queue_attach(T(), q0), 0);
	assert_int_equal(F.ready[0], 1);
	/* A reset that never completes. */
	F.reset_stuck = true;
	assert_int_equal(vtio_transport_queue_reset(T(), 1), VTIO_ETIMEDOUT);
	F.reset_stuck = false;
	/* A reset that "completes" with the queue still ready. */
	F.reset_keeps_ready = true;
	F.ready[0] = 1;
	assert_int_equal(vtio_transport_queue_reset(T(), 0), VTIO_EPROTO);
}

/* NEEDS_RESET mid-stream: queue operations fail with EIO; a device reset recovers. */
static void test_mmio_hostile_needs_reset(void **state)
{
	(void)state;
	struct vtio_vq *q0, *q1;
	bring_up(&q0, &q1);
	F.status |= VTIO_STATUS_DEVICE_NEEDS_RESET;
	F.isr |= VTIO_MMIO_INT_CONFIG;
	assert_int_equal(vtio_mmio_irq(&M), VTIO_MMIO_INT_CONFIG);
	assert_true(vtio_transport_get_status(T()) & VTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(vtio_transport_queue_reset(T(), 0), VTIO_EIO);
	/* The driver never writes NEEDS_RESET back (it is the device's). */
	for (unsigned i = 0; i < F.nlog; i++)
		if (F.log[i].write && F.log[i].off == VTIO_MMIO_STATUS)
			assert_false(F.log[i].val & VTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(vtio_transport_negotiate(T(), &NEG), 0);
	assert_false(F.status & VTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* NOTIF-DRV-7 / NOTIFICATION_DATA: QueueNotify gets the index or the data word. */
static void test_notif_drv_7_notify(void **state)
{
	(void)state;
	struct vtio_vq *q0, *q1;
	bring_up(&q0, &q1);
	assert_true(vtio_transport_has(T(), VTIO_F_NOTIFICATION_DATA));
	assert_int_equal(vtio_transport_notify(T(), 0x00050001u), 0);
	assert_int_equal(F.notifies, 1);
	assert_int_equal(F.notify[0], 0x00050001u);
	/* Through a queue: the word carries the index and the next avail position. */
	static unsigned char buf[64];
	struct vtio_sg sg = {.addr = (uint64_t)(uintptr_t)buf, .len = sizeof(buf)};
	assert_int_equal(vtio_vq_add(q1, &sg, 1, 0, buf), 0);
	assert_int_equal(vtio_vq_kick(q1), 0);
	assert_int_equal(F.notifies, 2);
	assert_int_equal(F.notify[1] & 0xffffu, 1);
	assert_int_equal(F.notify[1] >> 16, 1); /* next avail index 1 */
	/* A failing bus is reported by notify (not latched: it runs concurrently). */
	F.fail_after = (int)F.accesses;
	assert_int_equal(vtio_transport_notify(T(), 0), VTIO_ETIMEDOUT);
	assert_int_equal(vtio_mmio_error(&M), 0);
}

/* ---- Interrupts ---------------------------------------------------------------------------------
 */

static unsigned vq_irqs[NQ];
static unsigned cfg_irqs;

static void on_vq(void *ctx, uint16_t index)
{
	(void)ctx;
	assert_true(index < NQ);
	vq_irqs[index]++;
}

static void on_cfg(void *ctx)
{
	(void)ctx;
	cfg_irqs++;
}

/* MMIO-DRV-12 / -13 / -18: read, ack the defined handled bits, check every live queue. */
static void test_mmio_drv_18_irq(void **state)
{
	(void)state;
	memset(vq_irqs, 0, sizeof(vq_irqs));
	cfg_irqs = 0;
	struct vtio_vq *q0, *q1;
	bring_up(&q0, &q1);
	vtio_transport_set_irq(T(), on_vq, on_cfg, NULL);
	/* Not ours (shared line): nothing acked, nothing dispatched. */
	F.nlog = 0;
	assert_int_equal(vtio_mmio_irq(&M), 0);
	assert_int_equal(F.nlog, 1);
	/* Used bit plus an undefined bit: the undefined one is ignored, never acked. */
	F.isr = VTIO_MMIO_INT_VRING | 0x80u;
	assert_int_equal(vtio_mmio_irq(&M), VTIO_MMIO_INT_VRING);
	assert_int_equal(F.acked, VTIO_MMIO_INT_VRING);
	assert_int_equal(vq_irqs[0], 1);
	assert_int_equal(vq_irqs[1], 1);
	assert_int_equal(vq_irqs[2], 0);
	assert_int_equal(cfg_irqs, 0);
	F.isr = VTIO_MMIO_INT_VRING | VTIO_MMIO_INT_CONFIG;
	F.acked = 0;
	assert_int_equal(vtio_mmio_irq(&M), 3);
	assert_int_equal(F.acked, 3);
	assert_int_equal(F.isr, 0);
	assert_int_equal(cfg_irqs, 1);
	assert_int_equal(vq_irqs[0], 2);
	/* A queue being reset is not dispatched any more. */
	assert_int_equal(vtio_transport_queue_reset(T(), 0), 0);
	F.isr = VTIO_MMIO_INT_VRING;
	assert_int_equal(vtio_mmio_irq(&M), 1);
	assert_int_equal(vq_irqs[0], 2);
	assert_int_equal(vq_irqs[1], 3);
	/* After a device reset no queue is live. */
	assert_int_equal(vtio_transport_reset(T()), 0);
	F.isr = VTIO_MMIO_INT_VRING;
	assert_int_equal(vtio_mmio_irq(&M), 1);
	assert_int_equal(vq_irqs[1], 3);
	/* A bus error: returned, nothing dispatched. */
	F.isr = VTIO_MMIO_INT_CONFIG;
	F.fail_after = (int)F.accesses;
	assert_int_equal(vtio_mmio_irq(&M), VTIO_ETIMEDOUT);
	assert_int_equal(cfg_irqs, 1);
}

/* ---- Config space
 * -------------------------------------------------------------------------------- */

static unsigned count_cfg(unsigned width)
{
	unsigned n = 0;
	for (unsigned i = 0; i < F.nlog; i++)
		if (F.log[i].off >= VTIO_MMIO_CONFIG && F.log[i].width == width)
			n++;
	return n;
}

/* MMIO-DRV-3: one access of the field's width; 64-bit fields as two 32-bit accesses, bytes LE. */
static void test_mmio_drv_3_config_widths(void **state)
{
	(void)state;
	assert_int_equal(probe(), 0);
	uint8_t b8;
	uint16_t b16;
	uint32_t b32;
	uint64_t b64;
	unsigned char mac[6];
	F.nlog = 0;
	assert_int_equal(vtio_transport_config_read(T(), 3, &b8, 1), 0);
	assert_int_equal(b8, 0x13);
	assert_int_equal(count_cfg(1), 1);
	F.nlog = 0;
	assert_int_equal(vtio_transport_config_read(T(), 6, &b16, 2), 0);
	assert_int_equal(vtio_le16(b16), 0x1716);
	assert_int_equal(count_cfg(2), 1);
	F.nlog = 0;
	assert_int_equal(vtio_transport_config_read(T(), 8, &b32, 4), 0);
	assert_int_equal(vtio_le32(b32), 0x1b1a1918u);
	assert_int_equal(count_cfg(4), 1);
	F.nlog = 0;
	assert_int_equal(vtio_transport_config_read(T(), 12, &b64, 8), 0);
	assert_true(vtio_le64(b64) == 0x232221201f1e1d1cull);
	assert_int_equal(count_cfg(4), 2);
	assert_int_equal(F.log[0].off, VTIO_MMIO_CONFIG + 12); /* low word first */
	/* A byte array (a MAC address) and a misaligned 16-bit read: bytes. */
	F.nlog = 0;
	assert_int_equal(vtio_transport_config_read(T(), 2, mac, 6), 0);
	assert_int_equal(mac[0], 0x12);
	assert_int_equal(mac[5], 0x17);
	assert_int_equal(count_cfg(1), 6);
	F.nlog = 0;
	assert_int_equal(vtio_transport_config_read(T(), 1, &b16, 2), 0);
	assert_int_equal(count_cfg(1), 2);
	/* Writes: same rule, bytes from wire order. */
	b32 = vtio_le32(0xa1b2c3d4u);
	F.nlog = 0;
	assert_int_equal(vtio_transport_config_write(T(), 16, &b32, 4), 0);
	assert_int_equal(count_cfg(4), 1);
	assert_int_equal(F.config[16], 0xd4);
	assert_int_equal(F.config[19], 0xa1);
	b16 = vtio_le16(0x5566);
	assert_int_equal(vtio_transport_config_write(T(), 20, &b16, 2), 0);
	assert_int_equal(F.config[20], 0x66);
	b64 = vtio_le64(0x0102030405060708ull);
	assert_int_equal(vtio_transport_config_write(T(), 24, &b64, 8), 0);
	assert_int_equal(F.config[24], 0x08);
	assert_int_equal(F.config[31], 0x01);
	assert_int_equal(vtio_transport_config_write(T(), 33, mac, 3), 0);
	assert_int_equal(F.config[33], 0x12);
	/* Bounds: the window (default 0x200) ends the config space at 0x100 bytes. */
	assert_int_equal(vtio_transport_config_read(T(), 0xfc, &b32, 4), 0);
	F.nlog = 0;
	assert_int_equal(vtio_transport_config_read(T(), 0xfc, &b64, 8), VTIO_ERANGE);
	assert_int_equal(vtio_transport_config_read(T(), 0xffffffffu, &b8, 1), VTIO_ERANGE);
	assert_int_equal(vtio_transport_config_write(T(), 0x100, &b8, 1), VTIO_ERANGE);
	assert_int_equal(F.nlog, 0);
	assert_int_equal(vtio_transport_config_read(T(), 0x100, &b8, 0), 0);
}

/* INIT-DRV-9 / MMIO-DEV-5: a generation that settles is retried; one that never does is EAGAIN. */
static void test_init_drv_9_generation(void **state)
{
	(void)state;
	assert_int_equal(probe(), 0);
	uint32_t v;
	F.gen_settle = 3;
	assert_int_equal(vtio_transport_config_read_stable(T(), 8, &v, 4), 0);
	assert_int_equal(vtio_le32(v), 0x1b1a1918u);
	assert_int_equal(vtio_transport_config_generation(T()), F.generation);
	F.gen_moves = true;
	F.nlog = 0;
	assert_int_equal(vtio_transport_config_read_stable(T(), 8, &v, 4), VTIO_EAGAIN);
	assert_true(F.nlog <= 3u * (VTIO_TRANSPORT_CONFIG_RETRIES + 1u));
}

/* ---- Shared memory
 * ---------------------------------------------------------------------------------- */

/* MMIO-DEV-10 from the driver side: length all ones is "no region". */
static void test_mmio_shm_region(void **state)
{
	(void)state;
	assert_int_equal(probe(), 0);
	uint64_t base = 7, len = 7;
	assert_int_equal(vtio_mmio_shm_region(&M, 0, &base, &len), VTIO_ENOENT);
	assert_int_equal(vtio_mmio_shm_region(&M, 3, &base, &len), VTIO_ENOENT);
	assert_true(base == 7 && len == 7);
	F.shm_base = 0x1234567800000000ull;
	F.shm_len = 0x200000;
	assert_int_equal(vtio_mmio_shm_region(&M, 0, &base, &len), 0);
	assert_true(base == 0x1234567800000000ull);
	assert_true(len == 0x200000);
	F.shm_base = 0xfffffffffff00000ull; /* wraps */
	assert_int_equal(vtio_mmio_shm_region(&M, 0, &base, &len), VTIO_EPROTO);
	assert_int_equal(vtio_mmio_error(&M), 0);
	for (unsigned i = 0; i < F.nlog; i++)
		if (F.log[i].write && F.log[i].off == VTIO_MMIO_SHM_SEL)
			assert_true(F.log[i].val == 0 || F.log[i].val == 3);
}

/* ---- Default hooks on a memory window
 * ------------------------------------------------------------- */

/* vtio_mmio_window_ops: little-endian registers, widths as asked. */
static void test_mmio_window_ops(void **state)
{
	(void)state;
	static _Alignas(8) unsigned char win[0x200];
	memset(win, 0, sizeof(win));
	const uint32_t words[] = {VTIO_MMIO_MAGIC, 2, 2, 0x1af4};
	for (unsigned i = 0; i < 4; i++)
		for (unsigned b = 0; b < 4; b++)
			win[4 * i + b] = (unsigned char)(words[i] >> (8 * b));
	win[0x100] = 0x11;
	win[0x101] = 0x22;
	win[0x102] = 0x33;
	win[0x103] = 0x44;
	struct vtio_mmio_config c = {.base = win};
	assert_int_equal(vtio_mmio_init(&M, &c), 0);
	assert_int_equal(vtio_mmio_device_id(&M), 2);
	assert_int_equal(vtio_mmio_vendor_id(&M), 0x1af4);
	uint32_t v;
	assert_int_equal(vtio_transport_config_read(T(), 0, &v, 4), 0);
	assert_int_equal(vtio_le32(v), 0x44332211u);
	uint16_t h;
	assert_int_equal(vtio_transport_config_read(T(), 2, &h, 2), 0);
	assert_int_equal(vtio_le16(h), 0x4433);
	T()->fn.set_features(T(), 1, 0xa0b0c0d0u);
	assert_int_equal(win[VTIO_MMIO_DRIVER_FEATURES_SEL], 1);
	assert_int_equal(win[VTIO_MMIO_DRIVER_FEATURES], 0xd0);
	assert_int_equal(win[VTIO_MMIO_DRIVER_FEATURES + 3], 0xa0);
	uint8_t one = 0x5a;
	assert_int_equal(vtio_transport_config_write(T(), 5, &one, 1), 0);
	assert_int_equal(win[0x105], 0x5a);
	assert_int_equal(win[0x104], 0);
	assert_int_equal(vtio_mmio_window_ops.read(win, 0, 3, &v), VTIO_EINVAL);
	assert_int_equal(vtio_mmio_window_ops.write(win, 0, 8, 0), VTIO_EINVAL);
	F.violations = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T_(test_mmio_drv_15_probe_ok),
	    T_(test_mmio_drv_4_bad_magic),
	    T_(test_mmio_drv_5_version),
	    T_(test_mmio_drv_6_placeholder),
	    T_(test_mmio_init_bad_config),
	    T_(test_mmio_probe_bus_error),
	    T_(test_mmio_drv_7_8_20_negotiate),
	    T_(test_feat_drv_features_ok_refused),
	    T_(test_mmio_hostile_features_move),
	    T_(test_mmio_no_version_1),
	    T_(test_reset_drv_1_bounded),
	    T_(test_mmio_bus_error_latched),
	    T_(test_mmio_drv_19_queue_setup),
	    T_(test_mmio_hostile_queue_max),
	    T_(test_mmio_hostile_queue_max_shrinks),
	    T_(test_mmio_hostile_queue_ready),
	    T_(test_mmio_drv_14_queue_reset),
	    T_(test_mmio_hostile_needs_reset),
	    T_(test_notif_drv_7_notify),
	    T_(test_mmio_drv_18_irq),
	    T_(test_mmio_drv_3_config_widths),
	    T_(test_init_drv_9_generation),
	    T_(test_mmio_shm_region),
	    T_(test_mmio_window_ops),
#undef T_
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
