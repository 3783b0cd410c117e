/* Transport ops table, driver init-sequence helpers and the loopback
 * transport: negotiation (FEAT-*), status sequence (INIT-*), notifications
 * around DRIVER_OK (NOTIF-*), device reset and per-queue reset (RESET-*).
 * Queue behaviour runs over both ring layouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/transport.h"
#include "vtio/transport/loopback.h"
#include "vtio/dma.h"
#include "transport_fixture.h"

/* ---- Shared fixture ------------------------------------------------------------------ */

#define ARENA_SIZE (4u << 20)
static _Alignas(4096) unsigned char arena[ARENA_SIZE];
static struct tf_arena A;

#define QMAX 64u
#define NQ   2u

struct env {
	struct vtio_mem_region region;
	struct vtio_mem mem;
	struct vtio_loopback lb;
	struct vtio_transport *t;
	unsigned char config[32];
	/* device hook records */
	unsigned kicks[NQ];
	uint32_t last_kick_data;
	unsigned live_events[NQ], stop_events[NQ];
	unsigned resets;
	int refuse_features;
	/* driver irq records */
	unsigned irqs[NQ];
	unsigned config_irqs;
};

static struct env E;

static int dev_kick(void *ctx, uint16_t index, uint32_t data)
{
	struct env *e = ctx;
	e->kicks[index]++;
	e->last_kick_data = data;
	return 0;
}

static int dev_features_ok(void *ctx, uint64_t f)
{
	struct env *e = ctx;
	(void)f;
	return e->refuse_features;
}

static void dev_queue_state(void *ctx, uint16_t index, struct vtio_devq *q)
{
	struct env *e = ctx;
	if (q)
		e->live_events[index]++;
	else
		e->stop_events[index]++;
}

static void dev_reset(void *ctx)
{
	((struct env *)ctx)->resets++;
}

static const struct vtio_loopback_device_ops dev_ops = {
    .kick = dev_kick,
    .features_ok = dev_features_ok,
    .queue_state = dev_queue_state,
    .reset = dev_reset,
};

static void drv_irq(void *ctx, uint16_t index)
{
	((struct env *)ctx)->irqs[index]++;
}

static void drv_config_irq(void *ctx)
{
	((struct env *)ctx)->config_irqs++;
}

#define BASE_FEATURES (VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC))

static void env_setup(uint64_t offered)
{
	memset(&E, 0, sizeof(E));
	tf_arena_init(&A, arena, ARENA_SIZE);
	tf_mem_init(&E.mem, &E.region, &A);
	struct vtio_loopback_config c;
	memset(&c, 0, sizeof(c));
	c.device_features = offered;
	c.num_queues = NQ;
	c.queue_max = QMAX;
	c.mem = &E.mem;
	c.config = E.config;
	c.config_len = sizeof(E.config);
	c.dev = &dev_ops;
	c.dev_ctx = &E;
	size_t ss = vtio_loopback_storage_size(NQ, QMAX);
	assert_true(ss > 0);
	void *st = tf_alloc(&A, ss);
	assert_int_equal(vtio_loopback_init(&E.lb, st, ss, &c), 0);
	E.t = vtio_loopback_transport(&E.lb);
	vtio_transport_set_irq(E.t, drv_irq, drv_config_irq, &E);
}

/* Device: serve everything available on queue @p index; returns count. */
static unsigned serve(uint16_t index)
{
	return tf_serve_devq(vtio_loopback_devq(&E.lb, index), true);
}

/* ---- Ops table ---------------------------------------------------------------------- */

/* A mock transport: records status writes, can refuse FEATURES_OK, can
 * keep the status non-zero after a reset, can bump the generation on every read. */
struct mock {
	struct vtio_transport t;
	uint8_t status;
	uint8_t log[16];
	unsigned nlog;
	uint64_t offered;
	uint64_t written;
	bool refuse;
	bool stuck;
	unsigned gen_bumps; /* bump the generation on this many config reads */
	uint32_t gen;
};

static uint8_t m_get_status(struct vtio_transport *t)
{
	return ((struct mock *)t->priv)->status;
}
static void m_set_status(struct vtio_transport *t, uint8_t s)
{
	struct mock *m = t->priv;
	if (m->nlog < 16)
		m->log[m->nlog++] = s;
	if (s == 0 && m->stuck)
		return;
	if (m->refuse)
		s = (uint8_t)(s & ~VTIO_STATUS_FEATURES_OK);
	m->status = s;
}
static uint32_t m_get_features(struct vtio_transport *t, uint32_t w)
{
	return (uint32_t)(((struct mock *)t->priv)->offered >> (32 * w));
}
static void m_set_features(struct vtio_transport *t, uint32_t w, uint32_t v)
{
	struct mock *m = t->priv;
	m->written &= ~((uint64_t)0xffffffffu << (32 * w));
	m->written |= (uint64_t)v << (32 * w);
}
static uint32_t m_queue_max(struct vtio_transport *t, uint16_t i)
{
	(void)t;
	return i == 0 ? 8 : 0;
}
static int m_queue_setup(struct vtio_transport *t, uint16_t i, const struct vtio_transport_queue *q)
{
	(void)t;
	(void)i;
	(void)q;
	return 0;
}
static int m_queue_enable(struct vtio_transport *t, uint16_t i)
{
	(void)t;
	(void)i;
	return 0;
}
static int m_notify(struct vtio_transport *t, uint32_t d)
{
	(void)t;
	(void)d;
	return 0;
}
static int m_config_read(struct vtio_transport *t, uint32_t off, void *dst, size_t len)
{
	struct mock *m = t->priv;
	(void)off;
	memset(dst, 0x5a, len);
	if (m->gen_bumps) {
		m->gen_bumps--;
		m->gen++;
	}
	return 0;
}
static uint32_t m_gen(struct vtio_transport *t)
{
	return ((struct mock *)t->priv)->gen;
}

static const struct vtio_transport_ops mock_min_ops = {
    .name = "mock-min",
    .get_status = m_get_status,
    .set_status = m_set_status,
    .get_features = m_get_features,
    .set_features = m_set_features,
    .queue_max = m_queue_max,
    .queue_setup = m_queue_setup,
    .queue_enable = m_queue_enable,
    .notify = m_notify,
};

static const struct vtio_transport_ops mock_cfg_ops = {
    .name = "mock-cfg",
    .get_status = m_get_status,
    .set_status = m_set_status,
    .get_features = m_get_features,
    .set_features = m_set_features,
    .config_read = m_config_read,
    .config_generation = m_gen,
    .queue_max = m_queue_max,
    .queue_setup = m_queue_setup,
    .queue_enable = m_queue_enable,
    .notify = m_notify,
};

static void test_ops_required_and_defaults(void **state)
{
	(void)state;
	struct mock m;
	memset(&m, 0, sizeof(m));
	struct vtio_transport_ops broken = mock_min_ops;
	broken.notify = NULL;
	assert_int_equal(vtio_transport_init(&m.t, &broken, &m), VTIO_EINVAL);
	broken = mock_min_ops;
	broken.queue_setup = NULL;
	assert_int_equal(vtio_transport_init(&m.t, &broken, &m), VTIO_EINVAL);

	assert_int_equal(vtio_transport_init(&m.t, &mock_min_ops, &m), 0);
	assert_ptr_equal(m.t.ops, &mock_min_ops);
	/* Optional ops resolved to defaults: call sites never see NULL. */
	assert_non_null(m.t.fn.config_read);
	assert_non_null(m.t.fn.config_write);
	assert_non_null(m.t.fn.config_generation);
	assert_non_null(m.t.fn.queue_reset);
	unsigned char b[4];
	assert_int_equal(vtio_transport_config_read(&m.t, 0, b, 4), VTIO_ERANGE);
	assert_int_equal(vtio_transport_config_generation(&m.t), 0);
	assert_int_equal(m.t.fn.queue_reset(&m.t, 0), VTIO_ENOTSUP);
}

/* INIT-DRV-1, INIT-DRV-5, INIT-DRV-6: 0 -> 1 -> 3 -> 11 -> 15, bits only added. */
static void test_init_drv_1_status_sequence(void **state)
{
	(void)state;
	struct mock m;
	memset(&m, 0, sizeof(m));
	m.status = 0x7f;
	m.offered = VTIO_FEATURE(VTIO_F_VERSION_1);
	assert_int_equal(vtio_transport_init(&m.t, &mock_min_ops, &m), 0);
	struct vtio_transport_negotiation n = {0};
	assert_int_equal(vtio_transport_negotiate(&m.t, &n), 0);
	assert_int_equal(vtio_transport_driver_ok(&m.t), 0);
	uint8_t want[] = {0, 1, 3, 11, 15};
	assert_int_equal(m.nlog, 5);
	assert_memory_equal(m.log, want, 5);
	assert_int_equal(m.written, VTIO_FEATURE(VTIO_F_VERSION_1));
}

/* RESET-DRV-1: the reset is complete only when the status reads 0. */
static void test_reset_drv_1_waits_for_zero(void **state)
{
	(void)state;
	struct mock m;
	memset(&m, 0, sizeof(m));
	m.status = 0x0f;
	m.stuck = true;
	assert_int_equal(vtio_transport_init(&m.t, &mock_min_ops, &m), 0);
	assert_int_equal(vtio_transport_reset(&m.t), VTIO_ETIMEDOUT);
	struct vtio_transport_negotiation n = {0};
	assert_int_equal(vtio_transport_negotiate(&m.t, &n), VTIO_ETIMEDOUT);
	assert_int_equal(m.nlog, 2); /* only the two reset writes: no ACKNOWLEDGE */
}

/* FEAT-DRV-1, -3, -5, -6, -10, -13, LEG-8: accept the offered, supported,
 * described subset; never bit 30 or reserved bits; VERSION_1 and
 * ORDER_PLATFORM always; unknown offered bits do not fail. */
static void test_feat_drv_accepted_subset(void **state)
{
	(void)state;
	struct mock m;
	memset(&m, 0, sizeof(m));
	m.offered = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC) |
		    VTIO_FEATURE(VTIO_F_EVENT_IDX) | VTIO_FEATURE(VTIO_F_BAD_FEATURE) |
		    VTIO_FEATURE(45) | VTIO_FEATURE(3) | VTIO_FEATURE(55) |
		    VTIO_FEATURE(VTIO_F_ORDER_PLATFORM) | VTIO_FEATURE(VTIO_F_SR_IOV);
	assert_int_equal(vtio_transport_init(&m.t, &mock_min_ops, &m), 0);
	struct vtio_transport_negotiation n = {0};
	n.supported = VTIO_FEATURE(VTIO_F_INDIRECT_DESC) | VTIO_FEATURE(VTIO_F_BAD_FEATURE) |
		      VTIO_FEATURE(45) | VTIO_FEATURE(3) | VTIO_FEATURE(7) |
		      VTIO_FEATURE(VTIO_F_SR_IOV) | VTIO_FEATURE(VTIO_F_RING_PACKED);
	assert_int_equal(vtio_transport_negotiate(&m.t, &n), 0);
	uint64_t want = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC) |
			VTIO_FEATURE(3) | VTIO_FEATURE(VTIO_F_ORDER_PLATFORM);
	assert_int_equal(vtio_transport_features(&m.t), want);
	assert_int_equal(m.written, want); /* words 0 and 1 both written */
	assert_true(vtio_transport_has(&m.t, VTIO_F_INDIRECT_DESC));
	assert_false(vtio_transport_has(&m.t, VTIO_F_EVENT_IDX));
}

static int validate_add_unoffered(void *ctx, uint64_t offered, uint64_t *accept)
{
	(void)ctx;
	(void)offered;
	*accept |= VTIO_FEATURE(5) | VTIO_FEATURE(VTIO_F_RING_RESET);
	*accept &= ~VTIO_FEATURE(VTIO_F_INDIRECT_DESC); /* FEAT-DRV-2 style trim */
	return 0;
}

/* FEAT-DRV-1, FEAT-DRV-2: a validate callback can drop bits, never add unoffered ones. */
static void test_feat_drv_1_validate_cannot_add(void **state)
{
	(void)state;
	struct mock m;
	memset(&m, 0, sizeof(m));
	m.offered = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
	assert_int_equal(vtio_transport_init(&m.t, &mock_min_ops, &m), 0);
	struct vtio_transport_negotiation n = {0};
	n.supported = ~(uint64_t)0;
	n.validate = validate_add_unoffered;
	assert_int_equal(vtio_transport_negotiate(&m.t, &n), 0);
	assert_int_equal(m.written, VTIO_FEATURE(VTIO_F_VERSION_1));
}

/* FEAT-DRV-4: a required feature not offered -> FAILED, no FEATURES_OK. */
static void test_feat_drv_4_required_missing(void **state)
{
	(void)state;
	env_setup(BASE_FEATURES);
	struct vtio_transport_negotiation n = {0};
	n.supported = VTIO_FEATURE(VTIO_F_RING_RESET);
	n.required = VTIO_FEATURE(VTIO_F_RING_RESET);
	assert_int_equal(vtio_transport_negotiate(E.t, &n), VTIO_ENOTSUP);
	uint8_t s = vtio_loopback_status(&E.lb);
	assert_true(s & VTIO_STATUS_FAILED);
	assert_false(s & VTIO_STATUS_FEATURES_OK);
	/* INIT-DRV-4: no further step */
	assert_int_equal(vtio_transport_driver_ok(E.t), VTIO_EPERM);
}

/* FEAT-DEV-2, INIT-DRV-4: the device refuses FEATURES_OK for a set with an
 * unoffered bit, and when its model refuses; the helper sees it not read back. */
static void test_feat_dev_2_features_ok_refused(void **state)
{
	(void)state;
	env_setup(BASE_FEATURES);
	struct vtio_transport *t = E.t;
	/* By hand, as a buggy driver would: accept bit 5, never offered. */
	t->fn.set_status(t, 0);
	t->fn.set_status(t, VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_DRIVER);
	t->fn.set_features(t, 0, (1u << 5) | (1u << VTIO_F_INDIRECT_DESC));
	t->fn.set_features(t, 1, 1u); /* VERSION_1 */
	t->fn.set_status(t, VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_DRIVER | VTIO_STATUS_FEATURES_OK);
	assert_false(t->fn.get_status(t) & VTIO_STATUS_FEATURES_OK);
	assert_int_equal(vtio_loopback_features(&E.lb), 0);

	/* Through the helper, with the device model refusing. */
	E.refuse_features = 1;
	struct vtio_transport_negotiation n = {0};
	n.supported = VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
	assert_int_equal(vtio_transport_negotiate(t, &n), VTIO_EPERM);
	assert_true(vtio_loopback_status(&E.lb) & VTIO_STATUS_FAILED);
	assert_int_equal(vtio_transport_features(t), 0);
	/* INIT-DRV-7: a reset and a new negotiation work (FEAT-DEV-4). */
	E.refuse_features = 0;
	assert_int_equal(vtio_transport_negotiate(t, &n), 0);
	assert_int_equal(vtio_loopback_features(&E.lb), BASE_FEATURES);
	assert_int_equal(vtio_loopback_status(&E.lb),
			 VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_DRIVER | VTIO_STATUS_FEATURES_OK);
}

/* FEAT-DEV-8: feature writes after FEATURES_OK change nothing. */
static void test_feat_dev_8_fixed_after_features_ok(void **state)
{
	(void)state;
	env_setup(BASE_FEATURES | VTIO_FEATURE(VTIO_F_EVENT_IDX));
	struct vtio_transport_negotiation n = {0};
	n.supported = VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
	assert_int_equal(vtio_transport_negotiate(E.t, &n), 0);
	E.t->fn.set_features(E.t, 0, 1u << VTIO_F_EVENT_IDX);
	E.t->fn.set_status(E.t, vtio_loopback_status(&E.lb));
	assert_int_equal(vtio_loopback_features(&E.lb), BASE_FEATURES);
}

/* FEAT-DEV-5, FEAT-DEV-3, FEAT-DEV-7, INIT-DEV-1: what a loopback may offer. */
static void test_feat_dev_offer_checks(void **state)
{
	(void)state;
	struct vtio_mem m;
	assert_int_equal(vtio_mem_init(&m, NULL, 0), 0);
	struct vtio_loopback lb;
	struct vtio_loopback_config c;
	memset(&c, 0, sizeof(c));
	c.num_queues = 1;
	c.queue_max = 8;
	c.mem = &m;
	size_t ss = vtio_loopback_storage_size(1, 8);
	void *st = tf_alloc(&A, ss);
	c.device_features = VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
	assert_int_equal(vtio_loopback_init(&lb, st, ss, &c), VTIO_EINVAL);
	c.device_features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_SR_IOV);
	assert_int_equal(vtio_loopback_init(&lb, st, ss, &c), VTIO_EINVAL);
	c.device_features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_BAD_FEATURE);
	assert_int_equal(vtio_loopback_init(&lb, st, ss, &c), VTIO_EINVAL);
	c.device_features = VTIO_FEATURE(VTIO_F_VERSION_1);
	assert_int_equal(vtio_loopback_init(&lb, st, ss - 1, &c), VTIO_EINVAL);
	assert_int_equal(vtio_loopback_init(&lb, (char *)st + 8, ss, &c), VTIO_EINVAL);
	assert_int_equal(vtio_loopback_storage_size(0, 8), 0);
	assert_int_equal(vtio_loopback_storage_size(1, 40000), 0);
	assert_int_equal(vtio_loopback_init(&lb, st, ss, &c), 0);
	assert_int_equal(vtio_loopback_status(&lb), 0); /* INIT-DEV-1 */
	assert_null(vtio_loopback_devq(&lb, 0));
	assert_null(vtio_loopback_devq(&lb, 1));
}

/* INIT-DRV-2, INIT-DRV-9, INIT-DEV-5: config space. */
static void test_init_config_space(void **state)
{
	(void)state;
	env_setup(BASE_FEATURES);
	for (unsigned i = 0; i < sizeof(E.config); i++)
		E.config[i] = (unsigned char)i;
	unsigned char b[8];
	assert_int_equal(vtio_transport_config_read(E.t, 4, b, 4), 0);
	assert_int_equal(b[0], 4);
	assert_int_equal(vtio_transport_config_read(E.t, 30, b, 4), VTIO_ERANGE);
	assert_int_equal(vtio_transport_config_read(E.t, UINT32_MAX, b, 4), VTIO_ERANGE);
	/* During negotiation: reads allowed, writes refused (INIT-DRV-2). */
	assert_int_equal(vtio_transport_reset(E.t), 0);
	assert_int_equal(vtio_transport_add_status(E.t, VTIO_STATUS_ACKNOWLEDGE), 0);
	assert_int_equal(vtio_transport_add_status(E.t, VTIO_STATUS_DRIVER), 0);
	assert_int_equal(vtio_transport_config_read_stable(E.t, 0, b, 8), 0);
	b[0] = 0xee;
	assert_int_equal(vtio_transport_config_write(E.t, 0, b, 1), VTIO_EPERM);
	assert_int_equal(E.config[0], 0);
	struct vtio_vq *vq[NQ];
	tf_bring_up(E.t, &A, 0, NQ, vq, true);
	assert_int_equal(vtio_transport_config_write(E.t, 0, b, 1), 0);
	assert_int_equal(E.config[0], 0xee);
	/* INIT-DEV-5: a device change bumps the generation and notifies. */
	uint32_t g = vtio_transport_config_generation(E.t);
	unsigned irqs = E.config_irqs;
	vtio_loopback_config_changed(&E.lb);
	assert_int_not_equal(vtio_transport_config_generation(E.t), g);
	assert_int_equal(E.config_irqs, irqs + 1);

	/* INIT-DRV-9: retry while the generation moves, give up after too many. */
	struct mock m;
	memset(&m, 0, sizeof(m));
	assert_int_equal(vtio_transport_init(&m.t, &mock_cfg_ops, &m), 0);
	m.gen_bumps = 3;
	assert_int_equal(vtio_transport_config_read_stable(&m.t, 0, b, 8), 0);
	assert_int_equal(m.gen_bumps, 0);
	m.gen_bumps = 1000;
	assert_int_equal(vtio_transport_config_read_stable(&m.t, 0, b, 8), VTIO_EAGAIN);
}

/* NOTIF-DEV-2, INIT-DEV-3: DEVICE_NEEDS_RESET with a config notification;
 * the driver never clears it by writing the status. */
static void test_notif_dev_2_needs_reset(void **state)
{
	(void)state;
	env_setup(BASE_FEATURES);
	vtio_loopback_needs_reset(&E.lb); /* before DRIVER_OK: no notification */
	assert_int_equal(E.config_irqs, 0);
	assert_int_equal(vtio_transport_reset(E.t), 0);
	struct vtio_vq *vq[NQ];
	tf_bring_up(E.t, &A, 0, NQ, vq, true);
	vtio_loopback_needs_reset(&E.lb);
	assert_int_equal(E.config_irqs, 1);
	assert_true(vtio_transport_get_status(E.t) & VTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(vtio_transport_add_status(E.t, VTIO_STATUS_DRIVER_OK), 0);
	assert_true(vtio_transport_get_status(E.t) & VTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(vtio_transport_reset(E.t), 0);
	assert_int_equal(vtio_transport_get_status(E.t), 0);
}

/* INIT-DRV-6 seen from the device: a driver write that clears status bits
 * is refused as a whole (no bit of it is taken) and the device asks for a
 * reset (DEVICE_NEEDS_RESET with a config notification: INIT-DEV-3,
 * NOTIF-DEV-2); live queues never lose DRIVER_OK short of a reset (found by
 * fuzz_loopback). */
static void test_init_drv_6_status_bits_sticky(void **state)
{
	(void)state;
	env_setup(BASE_FEATURES);
	struct vtio_vq *vq[NQ];
	tf_bring_up(E.t, &A, 0, NQ, vq, true);
	unsigned irqs = E.config_irqs;
	E.t->fn.set_status(E.t, VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_FAILED);
	assert_int_equal(vtio_loopback_status(&E.lb),
			 VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_DRIVER | VTIO_STATUS_FEATURES_OK |
			     VTIO_STATUS_DRIVER_OK | VTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(E.config_irqs, irqs + 1);
	assert_non_null(vtio_loopback_devq(&E.lb, 0));
	/* FAILED stops the queues. */
	vtio_transport_fail(E.t);
	assert_null(vtio_loopback_devq(&E.lb, 0));
	assert_int_equal(vtio_transport_notify(E.t, 0), VTIO_EPERM);
}

/* INIT-DRV-12 and queue register checks. */
static void test_init_drv_12_queue_setup_phase(void **state)
{
	enum vtio_layout l = *(enum vtio_layout *)*state;
	env_setup(BASE_FEATURES | tf_layout_features(l));
	struct vtio_transport_vq_config qc;
	memset(&qc, 0, sizeof(qc));
	qc.num = 16;
	qc.ring_size = vtio_transport_vq_ring_size(l, 16);
	qc.ring = tf_alloc(&A, qc.ring_size);
	qc.state_size = vtio_vq_state_size(l, 16, 0, 0);
	qc.state = tf_alloc(&A, qc.state_size);
	struct vtio_vq *vq = NULL;
	/* Before FEATURES_OK. */
	assert_int_equal(vtio_transport_vq_setup(E.t, &qc, &vq), VTIO_EPERM);
	struct vtio_transport_negotiation n = {0};
	n.supported = VTIO_FEATURE(VTIO_F_RING_PACKED);
	assert_int_equal(vtio_transport_negotiate(E.t, &n), 0);
	assert_int_equal(vtio_transport_layout(E.t), l);
	qc.index = NQ; /* no such queue */
	assert_int_equal(vtio_transport_vq_setup(E.t, &qc, &vq), VTIO_ENODEV);
	qc.index = 0;
	qc.num = QMAX * 2;
	assert_int_equal(vtio_transport_vq_setup(E.t, &qc, &vq), VTIO_ERANGE);
	qc.num = 16;
	qc.ring_size = 8;
	assert_int_equal(vtio_transport_vq_setup(E.t, &qc, &vq), VTIO_EINVAL);
	qc.ring_size = vtio_transport_vq_ring_size(l, 16);
	assert_int_equal(vtio_transport_vq_setup(E.t, &qc, &vq), 0);
	assert_int_equal(vtio_vq_layout(vq), l);
	/* Enabled twice: the device refuses. */
	assert_int_equal(vtio_transport_queue_attach(E.t, vq), VTIO_EBUSY);
	/* Device-side register checks. */
	struct vtio_transport_queue r = {12, 0, 0, 0};
	int want = l == VTIO_LAYOUT_SPLIT ? VTIO_EINVAL : 0; /* split sizes are powers of 2 */
	assert_int_equal(E.t->fn.queue_setup(E.t, 1, &r), want);
	r.num = 0;
	assert_int_equal(E.t->fn.queue_setup(E.t, 1, &r), VTIO_ERANGE);
	assert_int_equal(vtio_transport_driver_ok(E.t), 0);
	/* After DRIVER_OK without RING_RESET: no queue setup. */
	assert_int_equal(vtio_transport_queue_attach(E.t, vq), VTIO_EPERM);
	assert_non_null(vtio_loopback_devq(&E.lb, 0));
	assert_null(vtio_loopback_devq(&E.lb, 1)); /* never enabled */
	/* num 0 picks the maximum (power of two for split). */
	assert_int_equal(vtio_transport_reset(E.t), 0);
	assert_int_equal(vtio_transport_negotiate(E.t, &n), 0);
	qc.num = 0;
	qc.ring_size = vtio_transport_vq_ring_size(l, QMAX);
	qc.ring = tf_alloc(&A, qc.ring_size);
	qc.state_size = vtio_vq_state_size(l, QMAX, 0, 0);
	qc.state = tf_alloc(&A, qc.state_size);
	assert_int_equal(vtio_transport_vq_setup(E.t, &qc, &vq), 0);
	assert_int_equal(vtio_vq_size(vq), QMAX);
}

/* NOTIF-DRV-1, NOTIF-DEV-1, INIT-DEV-2: nothing crosses before DRIVER_OK. */
static void test_notif_drv_1_no_notify_before_driver_ok(void **state)
{
	enum vtio_layout l = *(enum vtio_layout *)*state;
	env_setup(BASE_FEATURES | tf_layout_features(l));
	struct vtio_vq *vq[NQ];
	tf_bring_up(E.t, &A, VTIO_FEATURE(VTIO_F_RING_PACKED), NQ, vq, false);
	unsigned char *b = tf_post(&A, vq[0], 0x11);
	/* The driver-side helper refuses the notification... */
	assert_int_equal(vtio_vq_kick(vq[0]), VTIO_EPERM);
	assert_int_equal(vtio_transport_notify(E.t, 0), VTIO_EPERM);
	/* ...and the device drops one sent around it, and has no queue yet. */
	assert_int_equal(E.t->fn.notify(E.t, 0), 0);
	assert_int_equal(E.kicks[0], 0);
	struct vtio_loopback_stats st;
	vtio_loopback_get_stats(&E.lb, &st);
	assert_int_equal(st.kicks_dropped, 1);
	assert_null(vtio_loopback_devq(&E.lb, 0));
	assert_int_equal(E.live_events[0], 0);

	assert_int_equal(vtio_transport_driver_ok(E.t), 0);
	assert_int_equal(E.live_events[0], 1);
	assert_int_equal(E.live_events[1], 1);
	assert_int_equal(vtio_transport_notify(E.t, 0), 0);
	assert_int_equal(E.kicks[0], 1);
	assert_int_equal(E.last_kick_data, 0);
	/* The buffer made available before DRIVER_OK is served now. */
	assert_int_equal(serve(0), 1);
	assert_int_equal(E.irqs[0], 1);
	tf_reap_check(vq[0], b, 0x11);
}

/* Round trips on both queues, notifications both ways, indirect chains. */
static void test_loopback_round_trip(void **state)
{
	enum vtio_layout l = *(enum vtio_layout *)*state;
	env_setup(BASE_FEATURES | tf_layout_features(l));
	struct vtio_vq *vq[NQ];
	tf_bring_up(E.t, &A, VTIO_FEATURE(VTIO_F_RING_PACKED) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC),
		    NQ, vq, true);
	for (unsigned round = 0; round < 50; round++) {
		for (uint16_t q = 0; q < NQ; q++) {
			unsigned char tag = (unsigned char)(round * 2 + q);
			unsigned char *b[3];
			for (int i = 0; i < 3; i++)
				b[i] = tf_post(&A, vq[q], (unsigned char)(tag + i));
			assert_int_equal(vtio_vq_kick(vq[q]), 0);
			assert_int_equal(serve(q), 3);
			for (int i = 0; i < 3; i++)
				tf_reap_check(vq[q], b[i], (unsigned char)(tag + i));
			assert_null(vtio_vq_get_used(vq[q], NULL));
		}
	}
	assert_true(E.kicks[0] >= 1 && E.kicks[0] <= 50);
	assert_true(E.irqs[1] >= 1);
	/* A 5-segment buffer goes indirect (threshold 2, tables of 8). */
	unsigned char *big = tf_alloc(&A, 5 * 16);
	memset(big, 0x3c, 4 * 16);
	struct vtio_sg sg[5];
	for (int i = 0; i < 5; i++)
		sg[i] = vtio_sg_of(big + 16 * i, 16);
	struct vtio_vq_stats vs0, vs;
	vtio_vq_get_stats(vq[0], &vs0);
	assert_int_equal(vtio_vq_add(vq[0], sg, 4, 1, big), 0);
	vtio_vq_get_stats(vq[0], &vs);
	assert_int_equal(vs.indirect, vs0.indirect + 1);
	assert_int_equal(vtio_vq_kick(vq[0]), 0);
	struct vtio_devq *d = vtio_loopback_devq(&E.lb, 0);
	struct vtio_iov rd[8], wr[8];
	struct vtio_devq_chain c = {.rd = rd, .rd_max = 8, .wr = wr, .wr_max = 8};
	assert_int_equal(vtio_devq_pop(d, &c), 0);
	assert_int_equal(c.rd_len, 64);
	assert_int_equal(c.wr_len, 16);
	assert_int_equal(vtio_devq_write(d, &c, 0, "0123456789abcdef", 16), 16);
	assert_int_equal(vtio_devq_push(d, &c, 16), 0);
	uint32_t len;
	assert_ptr_equal(vtio_vq_get_used(vq[0], &len), big);
	assert_int_equal(len, 16);
	assert_memory_equal(big + 64, "0123456789abcdef", 16);
}

/* NOTIF-DRV-4, NOTIF-DRV-5: with NOTIFICATION_DATA the kick that reaches the
 * device carries the queue index and the next avail position. */
static void test_notif_drv_5_notification_data(void **state)
{
	enum vtio_layout l = *(enum vtio_layout *)*state;
	env_setup(BASE_FEATURES | tf_layout_features(l) | VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA));
	struct vtio_vq *vq[NQ];
	tf_bring_up(E.t, &A,
		    VTIO_FEATURE(VTIO_F_RING_PACKED) | VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA), NQ,
		    vq, true);
	(void)tf_post(&A, vq[1], 1);
	(void)tf_post(&A, vq[1], 2);
	assert_int_equal(vtio_vq_kick(vq[1]), 0);
	assert_int_equal(E.kicks[1], 1);
	/* split: the new avail idx (2); packed: the next ring slot (as many
	 * as the two buffers took) with wrap counter 1. */
	uint32_t slots = vtio_vq_size(vq[1]) - vtio_vq_num_free(vq[1]);
	uint32_t want = l == VTIO_LAYOUT_SPLIT ? (1u | 2u << 16) : (1u | (slots | 0x8000u) << 16);
	assert_int_equal(E.last_kick_data, want);
	assert_int_equal(serve(1), 2);
}

/* RESET-DEV-1, RESET-DEV-2, RESET-DRV-3: a device reset stops every queue,
 * drops notifications, and the driver gets each token back once. */
static void test_reset_dev_1_reset_clears_queues(void **state)
{
	enum vtio_layout l = *(enum vtio_layout *)*state;
	env_setup(BASE_FEATURES | tf_layout_features(l));
	struct vtio_vq *vq[NQ];
	tf_bring_up(E.t, &A, VTIO_FEATURE(VTIO_F_RING_PACKED), NQ, vq, true);
	unsigned char *b0 = tf_post(&A, vq[0], 1);
	unsigned char *b1 = tf_post(&A, vq[0], 2);
	(void)tf_post(&A, vq[1], 3);
	assert_int_equal(vtio_vq_kick(vq[0]), 0);
	struct vtio_devq *d0 = vtio_loopback_devq(&E.lb, 0);
	assert_non_null(d0);

	assert_int_equal(vtio_transport_reset(E.t), 0);
	assert_int_equal(vtio_loopback_status(&E.lb), 0);
	assert_int_equal(vtio_loopback_features(&E.lb), 0);
	assert_int_equal(vtio_transport_features(E.t), 0);
	assert_null(vtio_loopback_devq(&E.lb, 0));
	assert_null(vtio_loopback_devq(&E.lb, 1));
	assert_int_equal(E.stop_events[0], 1);
	assert_int_equal(E.stop_events[1], 1);
	assert_int_equal(E.resets, 2); /* the negotiation's reset, then this one */
	/* RESET-DEV-2: nothing crosses any more. */
	unsigned kicks = E.kicks[0];
	assert_int_equal(vtio_transport_notify(E.t, 0), VTIO_EPERM);
	assert_int_equal(E.t->fn.notify(E.t, 0), 0);
	assert_int_equal(E.kicks[0], kicks);
	/* The driver takes back its buffers, each once. */
	void *got[2] = {vtio_vq_detach_unused(vq[0]), vtio_vq_detach_unused(vq[0])};
	assert_null(vtio_vq_detach_unused(vq[0]));
	assert_true((got[0] == b0 && got[1] == b1) || (got[0] == b1 && got[1] == b0));
	assert_non_null(vtio_vq_detach_unused(vq[1]));
	assert_null(vtio_vq_detach_unused(vq[1]));
	/* Re-initialisation after reset works (FEAT-DEV-4). */
	tf_bring_up(E.t, &A, VTIO_FEATURE(VTIO_F_RING_PACKED), NQ, vq, true);
	unsigned char *b = tf_post(&A, vq[1], 9);
	assert_int_equal(vtio_vq_kick(vq[1]), 0);
	assert_int_equal(serve(1), 1);
	tf_reap_check(vq[1], b, 9);
}

/* RESET-DEV-3/4/5, RESET-DRV-3/5/6: per-queue reset with RING_RESET while
 * the other queue keeps running. */
static void test_reset_dev_3_queue_reset(void **state)
{
	enum vtio_layout l = *(enum vtio_layout *)*state;
	env_setup(BASE_FEATURES | tf_layout_features(l) | VTIO_FEATURE(VTIO_F_RING_RESET));
	struct vtio_vq *vq[NQ];
	/* RESET-DRV-6: not negotiated, not allowed. */
	tf_bring_up(E.t, &A, VTIO_FEATURE(VTIO_F_RING_PACKED), NQ, vq, true);
	assert_int_equal(vtio_transport_queue_reset(E.t, 0), VTIO_ENOTSUP);
	assert_int_equal(E.t->fn.queue_reset(E.t, 0), VTIO_ENOTSUP);

	tf_bring_up(E.t, &A, VTIO_FEATURE(VTIO_F_RING_PACKED) | VTIO_FEATURE(VTIO_F_RING_RESET), NQ,
		    vq, true);
	unsigned char *a[5];
	for (int i = 0; i < 5; i++)
		a[i] = tf_post(&A, vq[0], (unsigned char)(0x40 + i));
	assert_int_equal(vtio_vq_kick(vq[0]), 0);
	unsigned char *b = tf_post(&A, vq[1], 0x50);
	assert_int_equal(vtio_vq_kick(vq[1]), 0);

	/* The device takes two of queue 0's buffers before the reset. */
	struct vtio_devq *d0 = vtio_loopback_devq(&E.lb, 0);
	struct vtio_iov rd[4], wr[4];
	struct vtio_devq_chain c = {.rd = rd, .rd_max = 4, .wr = wr, .wr_max = 4};
	assert_int_equal(vtio_devq_pop(d0, &c), 0);
	assert_int_equal(vtio_transport_queue_reset(E.t, 0), 0);
	assert_null(vtio_loopback_devq(&E.lb, 0));
	assert_int_equal(E.stop_events[0], 2); /* the renegotiation's reset, then this */
	assert_int_equal(E.stop_events[1], 1);
	assert_non_null(vtio_loopback_devq(&E.lb, 1));
	/* RESET-DEV-3: no kick for the reset queue reaches the device. */
	unsigned kicks = E.kicks[0];
	assert_int_equal(vtio_transport_notify(E.t, 0), 0);
	assert_int_equal(E.kicks[0], kicks);
	/* Queue 1 keeps running. */
	assert_int_equal(serve(1), 1);
	tf_reap_check(vq[1], b, 0x50);

	/* RESET-DRV-3: now reclaim every token of queue 0 exactly once. */
	unsigned seen = 0;
	void *tok;
	while ((tok = vtio_vq_detach_unused(vq[0])) != NULL) {
		int k;
		for (k = 0; k < 5; k++)
			if (tok == a[k])
				break;
		assert_true(k < 5);
		assert_false(seen & (1u << k));
		seen |= 1u << k;
	}
	assert_int_equal(seen, 0x1f);
	/* RESET-DRV-5 / RESET-DEV-4/5: re-zero, re-enable; fresh device state. */
	assert_int_equal(vtio_vq_reset(vq[0]), 0);
	assert_int_equal(vtio_transport_queue_attach(E.t, vq[0]), 0);
	assert_int_equal(E.live_events[0], 3); /* 2 bring-ups + re-enable */
	unsigned char *x = tf_post(&A, vq[0], 0x77);
	assert_int_equal(vtio_vq_kick(vq[0]), 0);
	assert_int_equal(serve(0), 1); /* only the new buffer: state was reset */
	tf_reap_check(vq[0], x, 0x77);
	struct vtio_loopback_stats st;
	vtio_loopback_get_stats(&E.lb, &st);
	assert_int_equal(st.queue_resets, 1);
}

/* ---- Ring memory from a DMA device -------------------------------------------------- */

struct arena_layer {
	struct vtio_dma_layer l;
	unsigned allocs, frees;
};

static int al_map(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		  uint32_t attrs, uint64_t *bus)
{
	(void)l;
	(void)len;
	(void)dir;
	(void)attrs;
	*bus = (uint64_t)(uintptr_t)cpu;
	return 0;
}
static int al_unmap(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		    uint32_t attrs)
{
	(void)l;
	(void)bus;
	(void)len;
	(void)dir;
	(void)attrs;
	return 0;
}
static int al_alloc(struct vtio_dma_layer *l, size_t size, void **cpu, uint64_t *bus)
{
	struct arena_layer *a = (struct arena_layer *)l;
	a->allocs++;
	*cpu = tf_alloc(&A, size);
	*bus = (uint64_t)(uintptr_t)*cpu;
	return 0;
}
static int al_free(struct vtio_dma_layer *l, size_t size, void *cpu, uint64_t bus)
{
	struct arena_layer *a = (struct arena_layer *)l;
	(void)size;
	assert_int_equal(bus, (uint64_t)(uintptr_t)cpu);
	a->frees++;
	return 0;
}
static const struct vtio_dma_ops arena_ops = {
    .name = "test-arena",
    .klass = VTIO_DMA_CLASS_BOTTOM,
    .map = al_map,
    .unmap = al_unmap,
    .alloc = al_alloc,
    .free = al_free,
};

static void test_ring_from_dma_device(void **state)
{
	enum vtio_layout l = *(enum vtio_layout *)*state;
	env_setup(BASE_FEATURES | tf_layout_features(l));
	struct arena_layer al;
	memset(&al, 0, sizeof(al));
	al.l.ops = &arena_ops;
	struct vtio_dma_dev dev;
	vtio_dma_dev_init(&dev);
	assert_int_equal(vtio_dma_dev_push(&dev, &al.l), 0);
	assert_int_equal(vtio_dma_dev_build(&dev), 0);
	struct vtio_transport_negotiation n = {0};
	n.supported = VTIO_FEATURE(VTIO_F_RING_PACKED);
	assert_int_equal(vtio_transport_negotiate(E.t, &n), 0);
	struct vtio_transport_vq_config qc;
	memset(&qc, 0, sizeof(qc));
	qc.num = 8;
	qc.dma = &dev;
	qc.state_size = vtio_vq_state_size(l, 8, 0, 0);
	qc.state = tf_alloc(&A, qc.state_size);
	struct vtio_vq *vq;
	assert_int_equal(vtio_transport_vq_setup(E.t, &qc, &vq), 0);
	assert_int_equal(al.allocs, 1);
	/* A failing setup frees what it allocated. */
	qc.index = 1;
	qc.state_size = 8;
	struct vtio_vq *bad;
	assert_int_not_equal(vtio_transport_vq_setup(E.t, &qc, &bad), 0);
	assert_int_equal(al.allocs, 2);
	assert_int_equal(al.frees, 1);
	assert_int_equal(vtio_transport_driver_ok(E.t), 0);
	unsigned char *b = tf_post(&A, vq, 0x21);
	assert_int_equal(vtio_vq_kick(vq), 0);
	assert_int_equal(serve(0), 1);
	tf_reap_check(vq, b, 0x21);
	assert_int_equal(vtio_transport_reset(E.t), 0);
	assert_int_equal(vtio_transport_vq_release(vq, &dev), 0);
	assert_int_equal(al.frees, 2);
}

static enum vtio_layout split_layout = VTIO_LAYOUT_SPLIT;
static enum vtio_layout packed_layout = VTIO_LAYOUT_PACKED;

#define BOTH(f)                                                                                    \
	cmocka_unit_test_prestate(f, &split_layout), cmocka_unit_test_prestate(f, &packed_layout)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_required_and_defaults),
	    cmocka_unit_test(test_init_drv_1_status_sequence),
	    cmocka_unit_test(test_reset_drv_1_waits_for_zero),
	    cmocka_unit_test(test_feat_drv_accepted_subset),
	    cmocka_unit_test(test_feat_drv_1_validate_cannot_add),
	    cmocka_unit_test(test_feat_drv_4_required_missing),
	    cmocka_unit_test(test_feat_dev_2_features_ok_refused),
	    cmocka_unit_test(test_feat_dev_8_fixed_after_features_ok),
	    cmocka_unit_test(test_feat_dev_offer_checks),
	    cmocka_unit_test(test_init_config_space),
	    cmocka_unit_test(test_notif_dev_2_needs_reset),
	    cmocka_unit_test(test_init_drv_6_status_bits_sticky),
	    BOTH(test_init_drv_12_queue_setup_phase),
	    BOTH(test_notif_drv_1_no_notify_before_driver_ok),
	    BOTH(test_loopback_round_trip),
	    BOTH(test_notif_drv_5_notification_data),
	    BOTH(test_reset_dev_1_reset_clears_queues),
	    BOTH(test_reset_dev_3_queue_reset),
	    BOTH(test_ring_from_dma_device),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
