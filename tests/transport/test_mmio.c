/* virtio-mmio in both roles: our driver transport (struct vtio_mmio) against
 * our register model (struct vtio_mmio_dev over the device core), the bus
 * being direct function calls that pass every register access through and
 * hand any refusal back to the driver (so a single forbidden access by the
 * driver shows up as a latched error). Real traffic through vtio_vq and
 * vtio_devq over split and packed rings with data checked; INIT-*, FEAT-*,
 * RESET-* and MMIO-* items from both sides; the register model's answers
 * to a driver that breaks the rules (MMIO-DEV-*). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/transport.h"
#include "vtio/transport/mmio.h"
#include "vtio/transport/mmio_dev.h"
#include "transport_fixture.h"

#define ARENA_SIZE (2u << 20)
static _Alignas(4096) unsigned char arena[ARENA_SIZE];
static struct tf_arena A;

#define NQ   2u
#define QMAX 64u

struct env {
	struct vtio_mem_region region;
	struct vtio_mem mem;
	struct vtio_dev dev;
	struct vtio_mmio_dev md;
	struct vtio_mmio drv;
	struct vtio_transport *t;
	unsigned char config[16];
	struct vtio_devq *devq[NQ];
	unsigned kicks[NQ];
	uint32_t kick_data;
	int refuse_features;
	bool line;
	unsigned line_ups;
	unsigned irqs[NQ];
	unsigned config_irqs;
	struct vtio_mmio_dev_shm shm[1];
};

static struct env E;

/* ---- Device type hooks ---------------------------------------------------------------------- */

static int d_features_ok(void *ctx, uint64_t f)
{
	(void)f;
	return ((struct env *)ctx)->refuse_features;
}

static void d_queue_state(void *ctx, uint16_t index, struct vtio_devq *q)
{
	((struct env *)ctx)->devq[index] = q;
}

static int d_kick(void *ctx, uint16_t index, uint32_t data)
{
	struct env *e = ctx;
	e->kicks[index]++;
	e->kick_data = data;
	return 0;
}

static const struct vtio_dev_ops d_ops = {
    .features_ok = d_features_ok,
    .queue_state = d_queue_state,
    .kick = d_kick,
};

/* ---- The bus: direct calls ------------------------------------------------------------------- */

static void bus_line(void *ctx, bool level)
{
	struct env *e = ctx;
	if (level && !e->line)
		e->line_ups++;
	e->line = level;
}

static const struct vtio_mmio_dev_ops bus_dev_ops = {.irq_line = bus_line};

static void drv_irq(void *ctx, uint16_t index)
{
	((struct env *)ctx)->irqs[index]++;
}

static void drv_config_irq(void *ctx)
{
	((struct env *)ctx)->config_irqs++;
}

#define OFFER                                                                                      \
	(VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC) |                     \
	 VTIO_FEATURE(VTIO_F_EVENT_IDX) | VTIO_FEATURE(VTIO_F_RING_PACKED) |                       \
	 VTIO_FEATURE(VTIO_F_RING_RESET) | VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA) | 0x3u)

static void env_setup_offer(uint64_t offer, uint32_t num_shm)
{
	memset(&E, 0, sizeof(E));
	tf_arena_init(&A, arena, ARENA_SIZE);
	tf_mem_init(&E.mem, &E.region, &A);
	for (unsigned i = 0; i < sizeof(E.config); i++)
		E.config[i] = (unsigned char)(0xa0 + i);
	struct vtio_dev_config dc = {
	    .device_id = 4,
	    .features = offer,
	    .num_queues = NQ,
	    .queue_max = QMAX,
	    .mem = &E.mem,
	    .config = E.config,
	    .config_len = sizeof(E.config),
	    .ops = &d_ops,
	    .ctx = &E,
	};
	size_t ds = vtio_dev_storage_size(NQ, QMAX);
	assert_int_equal(vtio_dev_init(&E.dev, tf_alloc(&A, ds), ds, &dc), 0);
	E.shm[0].base = 0x80000000ull;
	E.shm[0].len = 0x100000ull;
	struct vtio_mmio_dev_config mc = {
	    .dev = &E.dev,
	    .ops = &bus_dev_ops,
	    .ctx = &E,
	    .shm = num_shm ? E.shm : NULL,
	    .num_shm = num_shm,
	};
	size_t ms = vtio_mmio_dev_storage_size(NQ);
	assert_int_equal(vtio_mmio_dev_init(&E.md, tf_alloc(&A, ms), ms, &mc), 0);
	struct vtio_mmio_config c = {
	    .ops = &tf_mmio_direct_ops, .ctx = &E.md, .window_size = 0x100 + 16};
	assert_int_equal(vtio_mmio_init(&E.drv, &c), 0);
	E.t = vtio_mmio_transport(&E.drv);
	vtio_transport_set_irq(E.t, drv_irq, drv_config_irq, &E);
}

static void env_setup(void)
{
	env_setup_offer(OFFER, 1);
}

/* No forbidden access happened on either side. */
static void assert_clean(void)
{
	tf_mmio_assert_clean(&E.md, &E.drv);
}

static enum vtio_layout L(void **state)
{
	return *(enum vtio_layout *)*state;
}

static void bring_up(uint64_t supported, struct vtio_vq **vq)
{
	tf_bring_up(E.t, &A, supported, NQ, vq, true);
	for (uint16_t i = 0; i < NQ; i++)
		assert_non_null(E.devq[i]);
}

/* Device: serve everything available on queue @p index, writing ~data back. */
static unsigned serve(uint16_t index)
{
	return tf_serve_devq(E.devq[index], true);
}

static uint32_t rd(uint32_t off)
{
	uint32_t v = 0xdeadbeefu;
	assert_int_equal(vtio_mmio_dev_read(&E.md, off, 4, &v), 0);
	return v;
}

static void wr(uint32_t off, uint32_t v)
{
	assert_int_equal(vtio_mmio_dev_write(&E.md, off, 4, v), 0);
}

/* ---- Traffic --------------------------------------------------------------------------------- */

/* INIT-DRV-1 / MMIO-DRV-17 / MMIO-DEV-3 / MMIO-DRV-18: the whole sequence, then buffers both
 * ways on two queues; the used-buffer interrupt stays pending until acked. */
static void test_mmio_round_trip(void **state)
{
	enum vtio_layout l = L(state);
	env_setup();
	struct vtio_vq *vq[NQ];
	bring_up(VTIO_FEATURE(VTIO_F_INDIRECT_DESC) | VTIO_FEATURE(VTIO_F_EVENT_IDX) |
		     tf_layout_features(l),
		 vq);
	assert_int_equal(vtio_vq_layout(vq[0]), l);
	assert_int_equal(vtio_dev_get_status(&E.dev), VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_DRIVER |
							  VTIO_STATUS_FEATURES_OK |
							  VTIO_STATUS_DRIVER_OK);
	assert_true(vtio_dev_features(&E.dev) == vtio_transport_features(E.t));
	for (unsigned round = 0; round < 40; round++) {
		uint16_t q = (uint16_t)(round % NQ);
		unsigned char *b[3];
		for (unsigned i = 0; i < 3; i++)
			b[i] = tf_post(&A, vq[q], (unsigned char)(round * 3 + i));
		assert_int_equal(vtio_vq_kick(vq[q]), 0);
		assert_true(E.kicks[q] > 0);
		assert_int_equal(serve(q), 3);
		/* MMIO-DEV-3: set from the event until the ack. */
		assert_true(E.line);
		assert_true(vtio_mmio_dev_interrupt_status(&E.md) & VTIO_MMIO_INT_VRING);
		unsigned before = E.irqs[q];
		assert_int_equal(vtio_mmio_irq(&E.drv), VTIO_MMIO_INT_VRING);
		assert_false(E.line);
		assert_int_equal(vtio_mmio_dev_interrupt_status(&E.md), 0);
		assert_int_equal(E.irqs[q], before + 1);
		for (unsigned i = 0; i < 3; i++)
			tf_reap_check(vq[q], b[i], (unsigned char)(round * 3 + i));
		/* Re-arm (EVENT_IDX: used_event moves on); nothing new arrived. */
		assert_true(vtio_vq_enable_cb(vq[q]));
		/* Nothing pending: the driver's handler reports "not mine". */
		assert_int_equal(vtio_mmio_irq(&E.drv), 0);
	}
	assert_int_equal(E.irqs[0], E.irqs[1]); /* one bit for both: every live queue checked */
	assert_clean();
}

/* NOTIF-DRV-5 / NOTIF-DRV-7: with NOTIFICATION_DATA the device sees index and position. */
static void test_mmio_notification_data(void **state)
{
	enum vtio_layout l = L(state);
	env_setup();
	struct vtio_vq *vq[NQ];
	bring_up(VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA) | tf_layout_features(l), vq);
	assert_true(vtio_dev_has(&E.dev, VTIO_F_NOTIFICATION_DATA));
	(void)tf_post(&A, vq[1], 1);
	(void)tf_post(&A, vq[1], 2);
	assert_int_equal(vtio_vq_kick(vq[1]), 0);
	assert_int_equal(E.kicks[1], 1);
	assert_int_equal(E.kick_data & 0xffffu, 1);
	if (l == VTIO_LAYOUT_SPLIT)
		assert_int_equal(E.kick_data >> 16, 2); /* avail idx */
	else
		assert_int_equal(E.kick_data, 1u | 4u << 16 | 1u << 31); /* 2 x 2 slots, wrap 1 */
	assert_clean();
}

/* RESET-DRV-3..5, RESET-DEV-3/4, MMIO-DEV-7, MMIO-DEV-8, MMIO-DEV-9, MMIO-DRV-14: reset one queue
 * while the other runs, take the buffers back, re-enable it and use it again. */
static void test_mmio_queue_reset(void **state)
{
	enum vtio_layout l = L(state);
	env_setup();
	struct vtio_vq *vq[NQ];
	bring_up(VTIO_FEATURE(VTIO_F_RING_RESET) | tf_layout_features(l), vq);
	(void)tf_post(&A, vq[0], 7);
	assert_int_equal(vtio_vq_kick(vq[0]), 0);
	assert_int_equal(vtio_transport_queue_reset(E.t, 0), 0);
	assert_null(E.devq[0]);
	wr(VTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_RESET), 0);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_READY), 0);
	assert_non_null(vtio_vq_detach_unused(vq[0]));
	assert_null(vtio_vq_detach_unused(vq[0]));
	assert_int_equal(vtio_vq_reset(vq[0]), 0);
	/* The other queue keeps working. */
	unsigned char *b = tf_post(&A, vq[1], 9);
	assert_int_equal(vtio_vq_kick(vq[1]), 0);
	assert_int_equal(serve(1), 1);
	tf_reap_check(vq[1], b, 9);
	/* Re-enable (RESET-DRV-5) and use it. */
	assert_int_equal(vtio_transport_queue_attach(E.t, vq[0]), 0);
	assert_non_null(E.devq[0]);
	wr(VTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_READY), 1);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_RESET), 0); /* MMIO-DEV-8 */
	b = tf_post(&A, vq[0], 11);
	assert_int_equal(vtio_vq_kick(vq[0]), 0);
	assert_int_equal(serve(0), 1);
	assert_true(vtio_mmio_irq(&E.drv) > 0);
	tf_reap_check(vq[0], b, 11);
	assert_clean();
}

/* RESET-DEV-1 / RESET-DRV-1 / MMIO-DEV-4: a device reset clears InterruptStatus, QueueReady
 * and every queue register; the driver can bring it up again. */
static void test_mmio_dev_4_reset(void **state)
{
	enum vtio_layout l = L(state);
	env_setup();
	struct vtio_vq *vq[NQ];
	bring_up(tf_layout_features(l), vq);
	(void)tf_post(&A, vq[0], 1);
	assert_int_equal(vtio_vq_kick(vq[0]), 0);
	assert_int_equal(serve(0), 1);
	assert_true(E.line);
	assert_int_equal(vtio_transport_reset(E.t), 0);
	assert_false(E.line);
	assert_int_equal(vtio_mmio_dev_interrupt_status(&E.md), 0);
	for (uint32_t q = 0; q < NQ; q++) {
		wr(VTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(rd(VTIO_MMIO_QUEUE_READY), 0);
		assert_null(E.devq[q]);
	}
	assert_int_equal(rd(VTIO_MMIO_STATUS), 0);
	/* QueueReady = 1 right after a reset has no size: refused, reads 0. */
	wr(VTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_READY), 0);
	/* Again from scratch. */
	A.used += 4096u;
	bring_up(tf_layout_features(l), vq);
	unsigned char *b = tf_post(&A, vq[1], 5);
	assert_int_equal(vtio_vq_kick(vq[1]), 0);
	assert_int_equal(serve(1), 1);
	assert_int_equal(vtio_mmio_irq(&E.drv), VTIO_MMIO_INT_VRING);
	tf_reap_check(vq[1], b, 5);
	struct vtio_mmio_dev_stats s;
	vtio_mmio_dev_get_stats(&E.md, &s);
	assert_int_equal(s.bad_width + s.bad_offset + s.bad_direction, 0);
	assert_int_equal(vtio_mmio_error(&E.drv), 0);
}

/* ---- Negotiation ------------------------------------------------------------------------------
 */

/* FEAT-DEV-2 / FEAT-DRV: the device type refuses FEATURES_OK: it does not read back. */
static void test_mmio_feat_dev_2_refused(void **state)
{
	(void)state;
	env_setup();
	E.refuse_features = 1;
	struct vtio_transport_negotiation n = {.supported = OFFER};
	assert_int_equal(vtio_transport_negotiate(E.t, &n), VTIO_EPERM);
	assert_true(vtio_dev_get_status(&E.dev) & VTIO_STATUS_FAILED);
	assert_false(vtio_dev_get_status(&E.dev) & VTIO_STATUS_FEATURES_OK);
	E.refuse_features = 0;
	assert_int_equal(vtio_transport_negotiate(E.t, &n), 0); /* INIT-DRV-7: after a reset */
	assert_clean();
}

/* FEAT-DRV-1 / FEAT-DRV-13 / MMIO-DEV-10: what the driver accepts is offered; both words;
 * DeviceFeatures beyond the defined words reads 0. */
static void test_mmio_feat_words(void **state)
{
	(void)state;
	env_setup();
	struct vtio_transport_negotiation n = {.supported = 0x1u | VTIO_FEATURE(VTIO_F_EVENT_IDX)};
	assert_int_equal(vtio_transport_negotiate(E.t, &n), 0);
	uint64_t f = vtio_transport_features(E.t);
	assert_true(f == (0x1u | VTIO_FEATURE(VTIO_F_EVENT_IDX) | VTIO_FEATURE(VTIO_F_VERSION_1)));
	assert_true(vtio_dev_features(&E.dev) == f);
	wr(VTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(VTIO_MMIO_DEVICE_FEATURES), (uint32_t)(OFFER >> 32));
	wr(VTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(VTIO_MMIO_DEVICE_FEATURES), 0);
	wr(VTIO_MMIO_DEVICE_FEATURES_SEL, 0xffffffffu);
	assert_int_equal(rd(VTIO_MMIO_DEVICE_FEATURES), 0);
	assert_clean();
}

/* FEAT-DEV-3 / MMIO-DRV-20: a device core offering a bit MMIO cannot carry is not bound. */
static void test_mmio_dev_offer_not_carried(void **state)
{
	(void)state;
	memset(&E, 0, sizeof(E));
	tf_arena_init(&A, arena, ARENA_SIZE);
	struct vtio_dev_config dc = {
	    .device_id = 1,
	    .features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_ADMIN_VQ),
	    .num_queues = 1,
	    .queue_max = 8,
	};
	size_t ds = vtio_dev_storage_size(1, 8);
	assert_int_equal(vtio_dev_init(&E.dev, tf_alloc(&A, ds), ds, &dc), 0);
	struct vtio_mmio_dev_config mc = {.dev = &E.dev};
	size_t ms = vtio_mmio_dev_storage_size(1);
	void *st = tf_alloc(&A, ms);
	assert_int_equal(vtio_mmio_dev_init(&E.md, st, ms, &mc), VTIO_EINVAL);
	/* Bad arguments. */
	assert_int_equal(vtio_mmio_dev_init(&E.md, st, ms - 1, &mc), VTIO_EINVAL);
	assert_int_equal(vtio_mmio_dev_init(&E.md, (char *)st + 1, ms, &mc), VTIO_EINVAL);
	mc.num_shm = 1;
	assert_int_equal(vtio_mmio_dev_init(&E.md, st, ms, &mc), VTIO_EINVAL);
	mc.dev = NULL;
	assert_int_equal(vtio_mmio_dev_init(&E.md, st, ms, &mc), VTIO_EINVAL);
	assert_int_equal(vtio_mmio_dev_storage_size(0), 0);
}

/* ---- Config space ------------------------------------------------------------------------------
 */

/* INIT-DRV-9 / INIT-DEV-5 / MMIO-DEV-5 / MMIO-DRV-3: field widths through the model, a device
 * change moves the generation and raises the configuration interrupt; INIT-DRV-2: no config
 * write during feature negotiation. */
static void test_mmio_config(void **state)
{
	(void)state;
	env_setup();
	uint8_t b;
	uint16_t h;
	uint32_t w;
	uint64_t d;
	assert_int_equal(vtio_transport_config_read(E.t, 1, &b, 1), 0);
	assert_int_equal(b, 0xa1);
	assert_int_equal(vtio_transport_config_read(E.t, 2, &h, 2), 0);
	assert_int_equal(vtio_le16(h), 0xa3a2);
	assert_int_equal(vtio_transport_config_read(E.t, 4, &w, 4), 0);
	assert_int_equal(vtio_le32(w), 0xa7a6a5a4u);
	assert_int_equal(vtio_transport_config_read_stable(E.t, 8, &d, 8), 0);
	assert_true(vtio_le64(d) == 0xafaeadacabaaa9a8ull);
	/* Beyond the config space: the window says 16 bytes. */
	assert_int_equal(vtio_transport_config_read(E.t, 16, &b, 1), VTIO_ERANGE);

	struct vtio_vq *vq[NQ];
	bring_up(0, vq);
	uint32_t gen = vtio_transport_config_generation(E.t);
	uint32_t nv = vtio_le32(0x01020304u);
	assert_int_equal(vtio_dev_config_set(&E.dev, 4, &nv, 4), 0);
	assert_int_not_equal(vtio_transport_config_generation(E.t), gen);
	assert_true(E.line);
	assert_int_equal(vtio_mmio_irq(&E.drv), VTIO_MMIO_INT_CONFIG);
	assert_int_equal(E.config_irqs, 1);
	assert_int_equal(vtio_transport_config_read_stable(E.t, 4, &w, 4), 0);
	assert_int_equal(vtio_le32(w), 0x01020304u);
	/* Driver write (after FEATURES_OK). */
	h = vtio_le16(0x5aa5);
	assert_int_equal(vtio_transport_config_write(E.t, 0, &h, 2), 0);
	assert_int_equal(E.config[0], 0xa5);
	assert_int_equal(E.config[1], 0x5a);
	/* INIT-DRV-2 on the wire: a register-level write during negotiation is refused. */
	assert_int_equal(vtio_transport_reset(E.t), 0);
	wr(VTIO_MMIO_STATUS, VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_DRIVER);
	assert_int_equal(vtio_mmio_dev_write(&E.md, VTIO_MMIO_CONFIG, 1, 0x77), VTIO_EPERM);
	assert_int_equal(E.config[0], 0xa5);
	assert_clean();
}

/* ---- Registers
 * ----------------------------------------------------------------------------------- */

/* MMIO-DEV-1, MMIO-DEV-2, MMIO-DEV-10 and the probe from the driver side. */
static void test_mmio_dev_registers(void **state)
{
	(void)state;
	env_setup();
	assert_int_equal(vtio_mmio_device_id(&E.drv), 4);
	assert_int_equal(vtio_mmio_vendor_id(&E.drv), VTIO_DEV_DEFAULT_VENDOR_ID);
	assert_int_equal(rd(VTIO_MMIO_MAGIC_VALUE), VTIO_MMIO_MAGIC);
	assert_int_equal(rd(VTIO_MMIO_VERSION), 2);
	wr(VTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_NUM_MAX), QMAX);
	wr(VTIO_MMIO_QUEUE_SEL, NQ);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(vtio_transport_queue_max(E.t, 1), QMAX);
	assert_int_equal(vtio_transport_queue_max(E.t, NQ), 0);
	assert_int_equal(rd(VTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_RESET), 0);
	assert_int_equal(rd(VTIO_MMIO_CONFIG_GENERATION), vtio_dev_config_generation(&E.dev));
	assert_clean();
}

/* MMIO-DEV-10 / MMIO-DRV-16: shared memory regions, configured and not. */
static void test_mmio_shm(void **state)
{
	(void)state;
	env_setup();
	uint64_t base = 0, len = 0;
	assert_int_equal(vtio_mmio_shm_region(&E.drv, 0, &base, &len), 0);
	assert_true(base == 0x80000000ull && len == 0x100000ull);
	assert_int_equal(vtio_mmio_shm_region(&E.drv, 1, &base, &len), VTIO_ENOENT);
	wr(VTIO_MMIO_SHM_SEL, 7);
	assert_int_equal(rd(VTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
	assert_int_equal(rd(VTIO_MMIO_SHM_LEN_HIGH), 0xffffffffu);
	assert_int_equal(rd(VTIO_MMIO_SHM_BASE_LOW), 0xffffffffu);
	assert_int_equal(rd(VTIO_MMIO_SHM_BASE_HIGH), 0xffffffffu);
	env_setup_offer(OFFER, 0);
	assert_int_equal(vtio_mmio_shm_region(&E.drv, 0, &base, &len), VTIO_ENOENT);
	assert_clean();
}

/* MMIO-DEV-* answers to a driver that breaks MMIO-DRV-1/2: defined values, counted, no effect. */
static void test_mmio_dev_bad_accesses(void **state)
{
	(void)state;
	env_setup();
	uint32_t v;
	struct vtio_mmio_dev_stats s;
	/* Reads of write-only registers. */
	static const uint32_t wo[] = {VTIO_MMIO_DEVICE_FEATURES_SEL, VTIO_MMIO_DRIVER_FEATURES,
				      VTIO_MMIO_QUEUE_SEL,	     VTIO_MMIO_QUEUE_NUM,
				      VTIO_MMIO_QUEUE_NOTIFY,	     VTIO_MMIO_INTERRUPT_ACK,
				      VTIO_MMIO_QUEUE_DESC_LOW,	     VTIO_MMIO_SHM_SEL};
	for (unsigned i = 0; i < sizeof(wo) / sizeof(wo[0]); i++) {
		v = 1;
		assert_int_equal(vtio_mmio_dev_read(&E.md, wo[i], 4, &v), VTIO_EPERM);
		assert_int_equal(v, 0);
	}
	/* Writes of read-only registers change nothing. */
	static const uint32_t ro[] = {VTIO_MMIO_MAGIC_VALUE,	   VTIO_MMIO_VERSION,
				      VTIO_MMIO_DEVICE_ID,	   VTIO_MMIO_DEVICE_FEATURES,
				      VTIO_MMIO_QUEUE_NUM_MAX,	   VTIO_MMIO_INTERRUPT_STATUS,
				      VTIO_MMIO_CONFIG_GENERATION, VTIO_MMIO_SHM_LEN_LOW};
	for (unsigned i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
		assert_int_equal(vtio_mmio_dev_write(&E.md, ro[i], 4, 0x12345678u), VTIO_EPERM);
	assert_int_equal(rd(VTIO_MMIO_MAGIC_VALUE), VTIO_MMIO_MAGIC);
	assert_int_equal(rd(VTIO_MMIO_DEVICE_ID), 4);
	vtio_mmio_dev_get_stats(&E.md, &s);
	assert_int_equal(s.bad_direction, 16);
	/* Gaps and legacy registers (this is a version 2 device). */
	static const uint32_t none[] = {0x018,
					0x01c,
					VTIO_MMIO_GUEST_PAGE_SIZE,
					VTIO_MMIO_QUEUE_ALIGN,
					VTIO_MMIO_QUEUE_PFN,
					0x048,
					0x054,
					0x0a8,
					0x0c4,
					0x0f8};
	for (unsigned i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		v = 1;
		assert_int_equal(vtio_mmio_dev_read(&E.md, none[i], 4, &v), VTIO_ERANGE);
		assert_int_equal(v, 0);
		assert_int_equal(vtio_mmio_dev_write(&E.md, none[i], 4, 1), VTIO_ERANGE);
	}
	/* Bad widths and alignment (MMIO-DRV-2 on control registers; natural alignment in config).
	 */
	assert_int_equal(vtio_mmio_dev_read(&E.md, VTIO_MMIO_STATUS, 1, &v), VTIO_EINVAL);
	assert_int_equal(vtio_mmio_dev_write(&E.md, VTIO_MMIO_STATUS, 2, 1), VTIO_EINVAL);
	assert_int_equal(vtio_mmio_dev_read(&E.md, VTIO_MMIO_STATUS + 1, 4, &v), VTIO_EINVAL);
	assert_int_equal(vtio_mmio_dev_read(&E.md, VTIO_MMIO_CONFIG, 3, &v), VTIO_EINVAL);
	assert_int_equal(vtio_mmio_dev_read(&E.md, VTIO_MMIO_CONFIG + 1, 2, &v), VTIO_EINVAL);
	assert_int_equal(vtio_mmio_dev_read(&E.md, VTIO_MMIO_CONFIG, 8, &v), VTIO_EINVAL);
	assert_int_equal(vtio_mmio_dev_write(&E.md, VTIO_MMIO_CONFIG + 2, 4, 1), VTIO_EINVAL);
	assert_int_equal(vtio_dev_get_status(&E.dev), 0); /* nothing took effect */
	/* Config beyond its length, and far beyond. */
	assert_int_equal(vtio_mmio_dev_read(&E.md, VTIO_MMIO_CONFIG + 16, 1, &v), VTIO_ERANGE);
	assert_int_equal(vtio_mmio_dev_read(&E.md, VTIO_MMIO_CONFIG + 14, 4, &v), VTIO_EINVAL);
	assert_int_equal(vtio_mmio_dev_read(&E.md, VTIO_MMIO_CONFIG + 12, 4, &v), 0);
	assert_int_equal(vtio_mmio_dev_read(&E.md, 0xfffffffcu, 4, &v), VTIO_ERANGE);
	assert_int_equal(vtio_mmio_dev_write(&E.md, 0xfffffffcu, 4, 1), VTIO_ERANGE);
	vtio_mmio_dev_get_stats(&E.md, &s);
	assert_int_equal(s.bad_width, 8);
	assert_int_equal(s.bad_offset, 23);
	/* The device still comes up. */
	struct vtio_vq *vq[NQ];
	bring_up(0, vq);
	assert_int_equal(vtio_mmio_error(&E.drv), 0);
}

/* MMIO-DRV-10 from the device side: an enabled queue's registers do not change; QueueReady
 * refused for a bad size; QueueReset without RING_RESET refused; undefined ACK bits ignored. */
static void test_mmio_dev_queue_rules(void **state)
{
	(void)state;
	env_setup();
	struct vtio_vq *vq[NQ];
	bring_up(0, vq); /* no RING_RESET */
	struct vtio_transport_queue before;
	assert_int_equal(vtio_dev_queue_get(&E.dev, 0, &before), 0);
	wr(VTIO_MMIO_QUEUE_SEL, 0);
	wr(VTIO_MMIO_QUEUE_NUM, 4);
	wr(VTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	struct vtio_transport_queue after;
	assert_int_equal(vtio_dev_queue_get(&E.dev, 0, &after), 0);
	assert_int_equal(after.num, before.num);
	assert_true(after.desc_addr == before.desc_addr);
	wr(VTIO_MMIO_QUEUE_RESET, 1); /* no RING_RESET: refused */
	assert_non_null(E.devq[0]);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_READY), 1);
	wr(VTIO_MMIO_QUEUE_READY, 7); /* not 0 / 1 */
	assert_int_equal(rd(VTIO_MMIO_QUEUE_READY), 1);
	/* MMIO-DRV-11 / MMIO-DEV-6: QueueReady = 0 stops the queue. */
	wr(VTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_READY), 0);
	assert_null(E.devq[0]);
	/* Writes to a queue that does not exist. */
	wr(VTIO_MMIO_QUEUE_SEL, 9);
	wr(VTIO_MMIO_QUEUE_NUM, 8);
	wr(VTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_READY), 0);
	/* A kick naming no queue. */
	assert_int_equal(vtio_mmio_dev_write(&E.md, VTIO_MMIO_QUEUE_NOTIFY, 4, 9), VTIO_EINVAL);
	/* Undefined InterruptACK bits clear nothing. */
	(void)tf_post(&A, vq[1], 3);
	assert_int_equal(vtio_vq_kick(vq[1]), 0);
	assert_int_equal(serve(1), 1);
	wr(VTIO_MMIO_INTERRUPT_ACK, 0xfffffffcu);
	assert_true(E.line);
	assert_int_equal(rd(VTIO_MMIO_INTERRUPT_STATUS), VTIO_MMIO_INT_VRING);
	struct vtio_mmio_dev_stats s;
	vtio_mmio_dev_get_stats(&E.md, &s);
	assert_true(s.refused >= 6);
	assert_int_equal(s.irq_raised, 1);
	/* Fresh start: a split queue with a size that is not a power of two is refused. */
	assert_int_equal(vtio_transport_reset(E.t), 0);
	struct vtio_transport_negotiation n = {0};
	assert_int_equal(vtio_transport_negotiate(E.t, &n), 0);
	wr(VTIO_MMIO_QUEUE_SEL, 0);
	wr(VTIO_MMIO_QUEUE_NUM, 12);
	wr(VTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_READY), 0);
	wr(VTIO_MMIO_QUEUE_NUM, QMAX * 2);
	wr(VTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VTIO_MMIO_QUEUE_READY), 0);
}

/* NOTIF-DEV-2 / INIT-DEV-3: the device sets NEEDS_RESET mid-stream; the driver sees it through
 * the configuration interrupt and the status, queue operations fail, a reset recovers. */
static void test_mmio_needs_reset(void **state)
{
	(void)state;
	env_setup();
	struct vtio_vq *vq[NQ];
	bring_up(VTIO_FEATURE(VTIO_F_RING_RESET), vq);
	vtio_dev_needs_reset(&E.dev);
	assert_true(E.line);
	assert_int_equal(vtio_mmio_irq(&E.drv), VTIO_MMIO_INT_CONFIG);
	assert_int_equal(E.config_irqs, 1);
	assert_true(vtio_transport_get_status(E.t) & VTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(vtio_transport_queue_reset(E.t, 0), VTIO_EIO);
	assert_int_equal(vtio_transport_reset(E.t), 0);
	assert_false(vtio_transport_get_status(E.t) & VTIO_STATUS_DEVICE_NEEDS_RESET);
	A.used += 4096u;
	bring_up(0, vq);
	assert_clean();
}

/* A bus-level view of MMIO-DRV-15: nothing but the three probe registers for a placeholder
 * would be read; here the model always has a device, so probing twice is idempotent. */
static void test_mmio_probe_twice(void **state)
{
	(void)state;
	env_setup();
	struct vtio_mmio_dev_stats a, b;
	vtio_mmio_dev_get_stats(&E.md, &a);
	struct vtio_mmio_config c = {.ops = &tf_mmio_direct_ops, .ctx = &E.md};
	assert_int_equal(vtio_mmio_init(&E.drv, &c), 0);
	vtio_mmio_dev_get_stats(&E.md, &b);
	assert_int_equal(b.reads - a.reads, 4);
	assert_int_equal(b.writes, a.writes);
}

static enum vtio_layout split_layout = VTIO_LAYOUT_SPLIT;
static enum vtio_layout packed_layout = VTIO_LAYOUT_PACKED;

int main(void)
{
#define BOTH(f)                                                                                    \
	cmocka_unit_test_prestate(f, &split_layout), cmocka_unit_test_prestate(f, &packed_layout)
	const struct CMUnitTest tests[] = {
	    BOTH(test_mmio_round_trip),
	    BOTH(test_mmio_notification_data),
	    BOTH(test_mmio_queue_reset),
	    BOTH(test_mmio_dev_4_reset),
	    cmocka_unit_test(test_mmio_feat_dev_2_refused),
	    cmocka_unit_test(test_mmio_feat_words),
	    cmocka_unit_test(test_mmio_dev_offer_not_carried),
	    cmocka_unit_test(test_mmio_config),
	    cmocka_unit_test(test_mmio_dev_registers),
	    cmocka_unit_test(test_mmio_shm),
	    cmocka_unit_test(test_mmio_dev_bad_accesses),
	    cmocka_unit_test(test_mmio_dev_queue_rules),
	    cmocka_unit_test(test_mmio_needs_reset),
	    cmocka_unit_test(test_mmio_probe_twice),
	};
#undef BOTH
	return cmocka_run_group_tests(tests, NULL, NULL);
}
