/* The device core (vtio_dev) driven directly through its wire-side calls,
 * as a hostile or odd driver would: out-of-order status, features not
 * offered, queue registers out of phase, config out of range, kicks before
 * DRIVER_OK, resets mid-stream, NEEDS_RESET, the generation counter; and
 * live split and packed queues with real traffic from a vtio_vq on the
 * driver side. Then the feature mediation helper. Test names cite the
 * CHECKLIST IDs they check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/dev.h"
#include "vtio/vq.h"
#include "transport_fixture.h"
#include "tc_util.h"

/* ---- Fixture ------------------------------------------------------------------------------ */

#define ARENA_SIZE (2u << 20)
static _Alignas(4096) unsigned char arena[ARENA_SIZE];
static struct tf_arena A;

#define NQ   3u
#define QMAX 64u

#define S_ACK  VTIO_STATUS_ACKNOWLEDGE
#define S_DRV  VTIO_STATUS_DRIVER
#define S_FOK  VTIO_STATUS_FEATURES_OK
#define S_DOK  VTIO_STATUS_DRIVER_OK
#define S_FAIL VTIO_STATUS_FAILED
#define S_NR   VTIO_STATUS_DEVICE_NEEDS_RESET

#define V1	      VTIO_FEATURE(VTIO_F_VERSION_1)
#define BASE_FEATURES (V1 | VTIO_FEATURE(VTIO_F_INDIRECT_DESC) | VTIO_FEATURE(3))

struct fx {
	struct vtio_mem_region region;
	struct vtio_mem mem;
	struct vtio_dev dev;
	void *storage;
	size_t storage_size;
	unsigned char config[24];
	/* device type records */
	unsigned kicks[NQ];
	uint32_t last_kick_data;
	unsigned live[NQ], stopped[NQ];
	struct vtio_devq *devq[NQ];
	unsigned resets, driver_oks;
	unsigned live_at_driver_ok;
	int refuse_features;
	uint64_t features_seen;
	uint32_t written_off;
	size_t written_len;
	int config_written_err;
	bool serve_in_kick;
	/* transport records (what the driver would see) */
	unsigned vq_irqs[NQ];
	unsigned config_irqs;
};

static struct fx F;

static int t_features_ok(void *ctx, uint64_t f)
{
	struct fx *x = ctx;
	x->features_seen = f;
	return x->refuse_features;
}

static void t_queue_state(void *ctx, uint16_t index, struct vtio_devq *q)
{
	struct fx *x = ctx;
	if (q)
		x->live[index]++;
	else
		x->stopped[index]++;
	x->devq[index] = q;
}

static void t_reset(void *ctx)
{
	((struct fx *)ctx)->resets++;
}

static int t_config_written(void *ctx, uint32_t off, size_t len)
{
	struct fx *x = ctx;
	x->written_off = off;
	x->written_len = len;
	return x->config_written_err;
}

static unsigned serve(uint16_t index);

static int t_kick(void *ctx, uint16_t index, uint32_t data)
{
	struct fx *x = ctx;
	x->kicks[index]++;
	x->last_kick_data = data;
	if (x->serve_in_kick)
		(void)serve(index);
	return 0;
}

static void t_driver_ok(void *ctx)
{
	struct fx *x = ctx;
	x->driver_oks++;
	x->live_at_driver_ok = 0;
	for (uint16_t i = 0; i < NQ; i++)
		x->live_at_driver_ok += vtio_dev_queue_live(&x->dev, i);
}

static const struct vtio_dev_ops type_ops = {
    .features_ok = t_features_ok,
    .queue_state = t_queue_state,
    .reset = t_reset,
    .config_written = t_config_written,
    .kick = t_kick,
    .driver_ok = t_driver_ok,
};

static int w_vq_irq(void *ctx, uint16_t index)
{
	((struct fx *)ctx)->vq_irqs[index]++;
	return 0;
}

static void w_config_irq(void *ctx)
{
	((struct fx *)ctx)->config_irqs++;
}

static const struct vtio_dev_transport_ops wire_ops = {
    .name = "test-wire",
    .vq_irq = w_vq_irq,
    .config_irq = w_config_irq,
};

static void base_config(struct vtio_dev_config *c, uint64_t offered)
{
	memset(c, 0, sizeof(*c));
	c->device_id = 42;
	c->features = offered;
	c->num_queues = NQ;
	c->queue_max = QMAX;
	c->mem = &F.mem;
	c->config = F.config;
	c->config_len = sizeof(F.config);
	c->ops = &type_ops;
	c->ctx = &F;
}

static void fx_reset(void)
{
	memset(&F, 0, sizeof(F));
	tf_arena_init(&A, arena, ARENA_SIZE);
	tf_mem_init(&F.mem, &F.region, &A);
	F.storage_size = vtio_dev_storage_size(NQ, QMAX);
	assert_true(F.storage_size > 0);
	F.storage = tf_alloc(&A, F.storage_size);
}

static void fx_setup(uint64_t offered)
{
	fx_reset();
	struct vtio_dev_config c;
	base_config(&c, offered);
	assert_int_equal(vtio_dev_init(&F.dev, F.storage, F.storage_size, &c), 0);
	assert_int_equal(vtio_dev_bind(&F.dev, &wire_ops, &F), 0);
}

static struct vtio_dev_stats stats(void)
{
	struct vtio_dev_stats s;
	vtio_dev_get_stats(&F.dev, &s);
	return s;
}

/* The driver's side of the wire: what a register write would do. */
static void wr_features(uint64_t f)
{
	(void)vtio_dev_set_driver_features(&F.dev, 0, (uint32_t)f);
	(void)vtio_dev_set_driver_features(&F.dev, 1, (uint32_t)(f >> 32));
}

static void add_status(uint8_t bits)
{
	vtio_dev_set_status(&F.dev, (uint8_t)(vtio_dev_get_status(&F.dev) | bits));
}

/* Reset, ACK, DRIVER, features, FEATURES_OK (asserted to read back). */
static void negotiate(uint64_t f)
{
	vtio_dev_set_status(&F.dev, 0);
	add_status(S_ACK);
	add_status(S_DRV);
	wr_features(f);
	add_status(S_FOK);
	assert_true(vtio_dev_get_status(&F.dev) & S_FOK);
	assert_int_equal(vtio_dev_features(&F.dev), f);
}

/* Driver-side queue over arena memory; its notifications go to the wire. */
static int drv_notify(void *ctx, uint32_t data)
{
	return vtio_dev_notify((struct vtio_dev *)ctx, data);
}

static struct vtio_vq *drv_queue(uint16_t index, uint32_t num, struct vtio_transport_queue *reg)
{
	uint64_t f = vtio_dev_features(&F.dev);
	enum vtio_layout l =
	    (f & VTIO_FEATURE(VTIO_F_RING_PACKED)) ? VTIO_LAYOUT_PACKED : VTIO_LAYOUT_SPLIT;
	size_t rs = vtio_vq_ring_size(l, num, 64);
	void *ring = tf_alloc(&A, rs);
	struct vtio_vq_config vc;
	memset(&vc, 0, sizeof(vc));
	vc.layout = l;
	vc.index = index;
	vc.num = num;
	vc.features = f;
	vc.indirect_tables = 4;
	vc.indirect_max = 8;
	vc.notify = drv_notify;
	vc.notify_ctx = &F.dev;
	assert_int_equal(vtio_vq_areas_in(l, num, 64, ring, (uint64_t)(uintptr_t)ring, &vc.areas),
			 0);
	size_t ss = vtio_vq_state_size(l, num, 4, 8);
	void *st = tf_alloc(&A, ss);
	struct vtio_vq *vq = NULL;
	assert_int_equal(vtio_vq_init(&vq, st, ss, &vc), 0);
	reg->num = num;
	reg->desc_addr = vc.areas.desc_addr;
	reg->driver_addr = vc.areas.driver_addr;
	reg->device_addr = vc.areas.device_addr;
	return vq;
}

/* Negotiate @p f, set up and enable every queue (16 entries), DRIVER_OK. */
static void bring_up(uint64_t f, struct vtio_vq **vq)
{
	negotiate(f);
	for (uint16_t i = 0; i < NQ; i++) {
		struct vtio_transport_queue r;
		vq[i] = drv_queue(i, 16, &r);
		assert_int_equal(vtio_dev_queue_set(&F.dev, i, &r), 0);
		assert_int_equal(vtio_dev_queue_enable(&F.dev, i), 0);
	}
	add_status(S_DOK);
	for (uint16_t i = 0; i < NQ; i++)
		assert_non_null(vtio_dev_devq(&F.dev, i));
}

/* Device: answer everything available on queue @p index with ~data. */
static unsigned serve(uint16_t index)
{
	struct vtio_devq *d = vtio_dev_devq(&F.dev, index);
	assert_ptr_equal(d, F.devq[index]); /* the queue_state hook's queue */
	return tf_serve_devq(d, false);	    /* pops may end in an error: hostile rings */
}

static uint64_t layout_bit(void **state)
{
	return tf_layout_features(*(enum vtio_layout *)*state);
}

/* ---- Setup checks ------------------------------------------------------------------------- */

/* INIT-DEV-1, FEAT-DEV-3, FEAT-DEV-5: what init accepts. */
static void test_init_dev_1_setup(void **state)
{
	(void)state;
	fx_reset();
	struct vtio_dev_config c;
	struct vtio_dev d;
	base_config(&c, V1 & ~V1);
	assert_int_equal(vtio_dev_init(&d, F.storage, F.storage_size, &c), VTIO_EINVAL);
	c.features = V1 | VTIO_FEATURE(VTIO_F_BAD_FEATURE);
	assert_int_equal(vtio_dev_init(&d, F.storage, F.storage_size, &c), VTIO_EINVAL);
	c.features = V1 | VTIO_FEATURE(VTIO_F_SUSPEND); /* 42..49: not implemented */
	assert_int_equal(vtio_dev_init(&d, F.storage, F.storage_size, &c), VTIO_EINVAL);
	c.features = BASE_FEATURES;
	assert_int_equal(vtio_dev_init(&d, F.storage, F.storage_size - 1, &c), VTIO_EINVAL);
	assert_int_equal(vtio_dev_init(&d, (char *)F.storage + 8, F.storage_size, &c), VTIO_EINVAL);
	c.config = NULL;
	assert_int_equal(vtio_dev_init(&d, F.storage, F.storage_size, &c), VTIO_EINVAL);
	c.config = F.config;
	uint32_t per[NQ] = {8, 0, 64};
	c.queue_max_per = per;
	assert_int_equal(vtio_dev_init(&d, F.storage, F.storage_size, &c), VTIO_EINVAL);
	per[1] = QMAX + 1;
	assert_int_equal(vtio_dev_init(&d, F.storage, F.storage_size, &c), VTIO_EINVAL);
	per[1] = 5;
	assert_int_equal(vtio_dev_storage_size(0, 8), 0);
	assert_int_equal(vtio_dev_storage_size(1, 0), 0);
	assert_int_equal(vtio_dev_storage_size(1, 40000), 0);
	assert_int_equal(vtio_dev_init(&d, F.storage, F.storage_size, &c), 0);
	assert_int_equal(vtio_dev_get_status(&d), 0); /* INIT-DEV-1 */
	assert_int_equal(vtio_dev_device_id(&d), 42);
	assert_int_equal(vtio_dev_vendor_id(&d), VTIO_DEV_DEFAULT_VENDOR_ID);
	assert_int_equal(vtio_dev_num_queues(&d), NQ);
	assert_int_equal(vtio_dev_config_len(&d), sizeof(F.config));
	assert_int_equal(vtio_dev_queue_max(&d, 0), 8);
	assert_int_equal(vtio_dev_queue_max(&d, 1), 5);
	assert_int_equal(vtio_dev_queue_max(&d, 2), 64);
	assert_int_equal(vtio_dev_queue_max(&d, NQ), 0); /* MMIO-DEV-10 */
	assert_int_equal(vtio_dev_get_features(&d, 0), (uint32_t)BASE_FEATURES);
	assert_int_equal(vtio_dev_get_features(&d, 1), 1u);
	assert_int_equal(vtio_dev_get_features(&d, 2), 0);
	assert_int_equal(vtio_dev_get_features(&d, UINT32_MAX), 0);
	assert_null(vtio_dev_devq(&d, 0));
	assert_null(vtio_dev_devq(&d, NQ));
	assert_false(vtio_dev_queue_ready(&d, NQ));
	c.vendor_id = 0x554d4551;
	c.queue_max_per = NULL;
	assert_int_equal(vtio_dev_init(&d, F.storage, F.storage_size, &c), 0);
	assert_int_equal(vtio_dev_vendor_id(&d), 0x554d4551);
	/* Per-queue maxima bound the size the driver may write. */
	c.queue_max_per = per;
	assert_int_equal(vtio_dev_init(&F.dev, F.storage, F.storage_size, &c), 0);
	negotiate(BASE_FEATURES);
	struct vtio_transport_queue r = {16, 0x1000, 0x2000, 0x3000};
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), VTIO_ERANGE);
	r.num = 8;
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), 0);
}

/* FEAT-DEV-3, FEAT-DEV-7: the transport decides which transport-dependent
 * bits it can carry; the offer is fixed once a transport is bound. */
static void test_feat_dev_7_bind_and_offer(void **state)
{
	(void)state;
	fx_reset();
	struct vtio_dev_config c;
	base_config(&c, BASE_FEATURES | VTIO_FEATURE(VTIO_F_SR_IOV));
	assert_int_equal(vtio_dev_init(&F.dev, F.storage, F.storage_size, &c), 0);
	assert_int_equal(vtio_dev_bind(&F.dev, NULL, &F), VTIO_EINVAL);
	assert_int_equal(vtio_dev_bind(&F.dev, &wire_ops, &F), VTIO_EINVAL); /* not PCI */
	struct vtio_dev_transport_ops pci = wire_ops;
	pci.extra_features = VTIO_FEATURE(VTIO_F_SR_IOV);
	assert_int_equal(vtio_dev_set_offer(&F.dev, BASE_FEATURES | VTIO_FEATURE(25)), 0);
	assert_int_equal(vtio_dev_bind(&F.dev, &pci, &F), VTIO_EINVAL); /* 25: undescribed */
	assert_int_equal(vtio_dev_set_offer(&F.dev, VTIO_FEATURE(VTIO_F_BAD_FEATURE) | V1),
			 VTIO_EINVAL);
	assert_int_equal(vtio_dev_set_offer(&F.dev, VTIO_FEATURE(3)), VTIO_EINVAL);
	assert_int_equal(vtio_dev_set_offer(&F.dev, BASE_FEATURES | VTIO_FEATURE(VTIO_F_SR_IOV)),
			 0);
	assert_int_equal(vtio_dev_bind(&F.dev, &pci, &F), 0);
	assert_int_equal(vtio_dev_bind(&F.dev, &pci, &F), VTIO_EBUSY);
	/* Bound: a driver may have read the offer, it cannot change. */
	assert_int_equal(vtio_dev_set_offer(&F.dev, BASE_FEATURES), VTIO_EBUSY);
	assert_int_equal(vtio_dev_offered(&F.dev), BASE_FEATURES | VTIO_FEATURE(VTIO_F_SR_IOV));
	assert_int_equal(vtio_dev_get_features(&F.dev, 1),
			 (uint32_t)((BASE_FEATURES | VTIO_FEATURE(VTIO_F_SR_IOV)) >> 32));
	/* Missing transport hooks get defaults: notifications still work. */
	struct vtio_dev_transport_ops bare = {0};
	fx_setup(BASE_FEATURES);
	struct vtio_dev d2;
	void *st = tf_alloc(&A, F.storage_size);
	base_config(&c, BASE_FEATURES);
	assert_int_equal(vtio_dev_init(&d2, st, F.storage_size, &c), 0);
	assert_int_equal(vtio_dev_bind(&d2, &bare, NULL), 0);
	vtio_dev_set_status(&d2, S_ACK | S_DRV);
	(void)vtio_dev_set_driver_features(&d2, 1, 1);
	vtio_dev_set_status(&d2, S_ACK | S_DRV | S_FOK | S_DOK);
	vtio_dev_config_changed(&d2);
	vtio_dev_needs_reset(&d2);
	assert_int_equal(vtio_dev_get_status(&d2), S_ACK | S_DRV | S_FOK | S_DOK | S_NR);
}

/* ---- Status and features ------------------------------------------------------------------ */

/* FEAT-DEV-8, INIT-DRV-3: feature words are taken only while DRIVER is set
 * and FEATURES_OK is not. */
static void test_feat_dev_8_feature_window(void **state)
{
	(void)state;
	fx_setup(BASE_FEATURES | VTIO_FEATURE(VTIO_F_EVENT_IDX));
	/* Before DRIVER. */
	assert_int_equal(vtio_dev_set_driver_features(&F.dev, 0, 1u << 3), VTIO_EPERM);
	add_status(S_ACK);
	assert_int_equal(vtio_dev_set_driver_features(&F.dev, 0, 1u << 3), VTIO_EPERM);
	assert_int_equal(vtio_dev_get_driver_features(&F.dev, 0), 0);
	assert_int_equal(stats().protocol_errors, 2);
	add_status(S_DRV);
	assert_int_equal(vtio_dev_set_driver_features(&F.dev, 0, 1u << 3), 0);
	assert_int_equal(vtio_dev_set_driver_features(&F.dev, 1, 1u), 0);
	assert_int_equal(vtio_dev_set_driver_features(&F.dev, 2, 0), 0); /* nothing to store */
	assert_int_equal(vtio_dev_set_driver_features(&F.dev, 2, 1), VTIO_EPERM);
	assert_int_equal(vtio_dev_get_driver_features(&F.dev, 0), 1u << 3);
	assert_int_equal(vtio_dev_get_driver_features(&F.dev, 1), 1u);
	assert_int_equal(vtio_dev_get_driver_features(&F.dev, 2), 0);
	/* Nothing takes effect before FEATURES_OK. */
	assert_int_equal(vtio_dev_features(&F.dev), 0);
	add_status(S_FOK);
	assert_int_equal(vtio_dev_features(&F.dev), V1 | VTIO_FEATURE(3));
	assert_int_equal(F.features_seen, V1 | VTIO_FEATURE(3));
	/* After FEATURES_OK: refused, no change (even on a later FEATURES_OK write). */
	assert_int_equal(vtio_dev_set_driver_features(&F.dev, 0, 1u << VTIO_F_EVENT_IDX),
			 VTIO_EPERM);
	add_status(S_FOK);
	assert_int_equal(vtio_dev_get_driver_features(&F.dev, 0), 1u << 3);
	assert_int_equal(vtio_dev_features(&F.dev), V1 | VTIO_FEATURE(3));
	/* After FAILED: refused too. */
	vtio_dev_set_status(&F.dev, 0);
	add_status(S_ACK | S_DRV | S_FAIL);
	assert_int_equal(vtio_dev_set_driver_features(&F.dev, 1, 1u), VTIO_EPERM);
}

/* FEAT-DEV-2, FEAT-DEV-4, FEAT-DEV-5: FEATURES_OK is refused (does not read
 * back) for unoffered bits, without VERSION_1, without DRIVER, or when the
 * device type refuses; a set accepted once is accepted again after reset. */
static void test_feat_dev_2_features_ok_refused(void **state)
{
	(void)state;
	fx_setup(BASE_FEATURES);
	/* Bit 5 never offered. */
	add_status(S_ACK | S_DRV);
	wr_features(V1 | VTIO_FEATURE(5));
	add_status(S_FOK);
	assert_int_equal(vtio_dev_get_status(&F.dev), S_ACK | S_DRV);
	assert_int_equal(vtio_dev_features(&F.dev), 0);
	assert_int_equal(F.features_seen, 0); /* the type was not asked */
	/* No VERSION_1: this core has no legacy interface. */
	wr_features(VTIO_FEATURE(3));
	add_status(S_FOK);
	assert_false(vtio_dev_get_status(&F.dev) & S_FOK);
	/* The device type refuses a valid subset. */
	wr_features(V1 | VTIO_FEATURE(3));
	F.refuse_features = 1;
	add_status(S_FOK);
	assert_false(vtio_dev_get_status(&F.dev) & S_FOK);
	assert_int_equal(F.features_seen, V1 | VTIO_FEATURE(3));
	F.refuse_features = 0;
	assert_int_equal(stats().features_refused, 3);
	/* Accepted now (the same words, the type agrees); the other bits of
	 * every refused write were kept. */
	add_status(S_FOK);
	assert_int_equal(vtio_dev_get_status(&F.dev), S_ACK | S_DRV | S_FOK);
	/* FEAT-DEV-4: after a reset the same set is accepted again. */
	vtio_dev_set_status(&F.dev, 0);
	assert_int_equal(vtio_dev_features(&F.dev), 0);
	assert_int_equal(vtio_dev_get_driver_features(&F.dev, 0), 0);
	negotiate(V1 | VTIO_FEATURE(3));
	/* FEATURES_OK without DRIVER: refused. */
	vtio_dev_set_status(&F.dev, 0);
	vtio_dev_set_status(&F.dev, S_ACK | S_FOK);
	assert_int_equal(vtio_dev_get_status(&F.dev), S_ACK);
	/* DRIVER and FEATURES_OK in one write: the feature words could not be
	 * written yet (they need DRIVER), so no VERSION_1: refused. */
	vtio_dev_set_status(&F.dev, S_ACK | S_DRV | S_FOK);
	assert_int_equal(vtio_dev_get_status(&F.dev), S_ACK | S_DRV);
	wr_features(V1);
	add_status(S_FOK);
	assert_int_equal(vtio_dev_get_status(&F.dev), S_ACK | S_DRV | S_FOK);
	/* Skipping ACKNOWLEDGE is tolerated (only DRIVER gates FEATURES_OK). */
	vtio_dev_set_status(&F.dev, 0);
	vtio_dev_set_status(&F.dev, S_DRV);
	wr_features(V1);
	vtio_dev_set_status(&F.dev, S_DRV | S_FOK);
	assert_int_equal(vtio_dev_get_status(&F.dev), S_DRV | S_FOK);
	assert_int_equal(vtio_dev_features(&F.dev), V1);
}

/* INIT-DRV-6 from the device side: a write that clears bits is refused as a
 * whole and sets DEVICE_NEEDS_RESET (INIT-DEV-3); the NEEDS_RESET bit and
 * unimplemented bits in a driver write are ignored. */
static void test_init_drv_6_clearing_write_refused(void **state)
{
	(void)state;
	fx_setup(BASE_FEATURES);
	negotiate(V1);
	uint64_t pe = stats().protocol_errors;
	vtio_dev_set_status(&F.dev, S_ACK | S_FAIL); /* drops DRIVER and FEATURES_OK */
	assert_int_equal(vtio_dev_get_status(&F.dev), S_ACK | S_DRV | S_FOK | S_NR);
	assert_int_equal(stats().protocol_errors, pe + 1);
	assert_int_equal(stats().needs_reset, 1);
	assert_int_equal(F.config_irqs, 0); /* no DRIVER_OK: no notification yet */
	/* The driver writes back what it read (NEEDS_RESET included) plus
	 * DRIVER_OK: fine, NEEDS_RESET stays the device's. */
	struct vtio_vq *vq[NQ];
	for (uint16_t i = 0; i < NQ; i++) {
		struct vtio_transport_queue r;
		vq[i] = drv_queue(i, 8, &r);
		assert_int_equal(vtio_dev_queue_set(&F.dev, i, &r), 0);
	}
	assert_int_equal(vtio_dev_queue_enable(&F.dev, 0), 0);
	add_status(S_DOK);
	assert_int_equal(vtio_dev_get_status(&F.dev), S_ACK | S_DRV | S_FOK | S_DOK | S_NR);
	assert_non_null(vtio_dev_devq(&F.dev, 0));
	/* Writing without NEEDS_RESET does not clear it; SUSPEND and 0x20 are
	 * not implemented: ignored. */
	vtio_dev_set_status(&F.dev, S_ACK | S_DRV | S_FOK | S_DOK | VTIO_STATUS_SUSPEND | 0x20);
	assert_int_equal(vtio_dev_get_status(&F.dev), S_ACK | S_DRV | S_FOK | S_DOK | S_NR);
	/* A clearing write under DRIVER_OK: refused, live queues stay live. */
	vtio_dev_set_status(&F.dev, S_ACK | S_DRV | S_DOK);
	assert_int_equal(vtio_dev_get_status(&F.dev), S_ACK | S_DRV | S_FOK | S_DOK | S_NR);
	assert_non_null(vtio_dev_devq(&F.dev, 0));
	assert_int_equal(stats().needs_reset, 1); /* already set: no second notification */
	/* Only a reset clears. */
	vtio_dev_set_status(&F.dev, 0);
	assert_int_equal(vtio_dev_get_status(&F.dev), 0);
	assert_null(vtio_dev_devq(&F.dev, 0));
	/* From a fresh device: NEEDS_RESET under DRIVER_OK notifies. */
	bring_up(V1, vq);
	vtio_dev_set_status(&F.dev, S_DOK);
	assert_int_equal(vtio_dev_get_status(&F.dev), S_ACK | S_DRV | S_FOK | S_DOK | S_NR);
	assert_int_equal(F.config_irqs, 1); /* NOTIF-DEV-2 */
}

/* NOTIF-DEV-2, INIT-DEV-3: DRIVER_OK without FEATURES_OK; FAILED. */
static void test_notif_dev_2_driver_ok_without_features(void **state)
{
	(void)state;
	fx_setup(BASE_FEATURES);
	vtio_dev_set_status(&F.dev, S_ACK | S_DRV | S_DOK);
	assert_int_equal(vtio_dev_get_status(&F.dev), S_ACK | S_DRV | S_DOK | S_NR);
	assert_int_equal(F.config_irqs, 1);
	assert_int_equal(F.driver_oks, 0);
	for (uint16_t i = 0; i < NQ; i++)
		assert_null(vtio_dev_devq(&F.dev, i));
	/* Refused FEATURES_OK and DRIVER_OK in one write: the same. */
	vtio_dev_set_status(&F.dev, 0);
	F.config_irqs = 0;
	vtio_dev_set_status(&F.dev, S_ACK | S_DRV);
	wr_features(V1 | VTIO_FEATURE(9));
	vtio_dev_set_status(&F.dev, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(vtio_dev_get_status(&F.dev), S_ACK | S_DRV | S_DOK | S_NR);
	assert_int_equal(F.config_irqs, 1);
	/* FAILED stops every queue, and nothing goes live after it. */
	struct vtio_vq *vq[NQ];
	bring_up(V1, vq);
	add_status(S_FAIL);
	for (uint16_t i = 0; i < NQ; i++) {
		assert_null(vtio_dev_devq(&F.dev, i));
		assert_int_equal(F.stopped[i], 1);
	}
	struct vtio_transport_queue r = {8, 0, 0, 0};
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), VTIO_EBUSY); /* still enabled */
	assert_int_equal(vtio_dev_queue_disable(&F.dev, 0), 0);
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), VTIO_EPERM);
	assert_int_equal(vtio_dev_queue_enable(&F.dev, 0), VTIO_EPERM);
	assert_int_equal(vtio_dev_notify(&F.dev, 0), 0);
	assert_int_equal(F.kicks[0], 0);
	vtio_dev_config_changed(&F.dev); /* no notification after FAILED */
	assert_int_equal(F.config_irqs, 1);
}

/* ---- Queue registers ----------------------------------------------------------------------- */

/* INIT-DRV-12, MMIO-DEV-10, PCI-DEV-3: queue registers only between
 * FEATURES_OK and DRIVER_OK; sizes checked against the maximum and the layout. */
static void test_init_drv_12_queue_register_phase(void **state)
{
	uint64_t lbit = layout_bit(state);
	fx_setup(BASE_FEATURES | lbit);
	struct vtio_transport_queue r = {16, 0x10000, 0x20000, 0x30000}, g;
	/* Before FEATURES_OK. */
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), VTIO_EPERM);
	assert_int_equal(vtio_dev_queue_enable(&F.dev, 0), VTIO_EPERM);
	add_status(S_ACK | S_DRV);
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), VTIO_EPERM);
	wr_features(V1 | lbit);
	add_status(S_FOK);
	assert_int_equal(vtio_dev_queue_set(&F.dev, NQ, &r), VTIO_ENODEV);
	assert_int_equal(vtio_dev_queue_enable(&F.dev, NQ), VTIO_ENODEV);
	assert_int_equal(vtio_dev_queue_get(&F.dev, NQ, &g), VTIO_ENODEV);
	assert_int_equal(vtio_dev_queue_reset(&F.dev, 0), VTIO_ENOTSUP); /* RESET-DRV-6 */
	/* Size. */
	r.num = 0;
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), VTIO_ERANGE);
	r.num = QMAX + 1;
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), VTIO_ERANGE);
	r.num = 12;
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), lbit ? 0 : VTIO_EINVAL);
	/* Enable without a size. */
	assert_int_equal(vtio_dev_queue_enable(&F.dev, 1), VTIO_EINVAL);
	assert_false(vtio_dev_queue_ready(&F.dev, 1));
	r.num = 16;
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), 0);
	assert_int_equal(vtio_dev_queue_get(&F.dev, 0, &g), 0);
	assert_memory_equal(&g, &r, sizeof(r));
	assert_int_equal(vtio_dev_queue_enable(&F.dev, 0), 0);
	assert_true(vtio_dev_queue_ready(&F.dev, 0));
	/* Enabled: read-only. */
	assert_int_equal(vtio_dev_queue_enable(&F.dev, 0), VTIO_EBUSY);
	r.num = 8;
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), VTIO_EBUSY);
	/* No devq before DRIVER_OK, whatever the registers say. */
	assert_null(vtio_dev_devq(&F.dev, 0));
	assert_int_equal(F.live[0], 0);
	/* After DRIVER_OK (no RING_RESET): no queue register writes. The ring
	 * at 0x10000.. is in the view (the arena is bigger). */
	r.desc_addr = (uint64_t)(uintptr_t)tf_alloc(&A, 4096);
	r.driver_addr = (uint64_t)(uintptr_t)tf_alloc(&A, 4096);
	r.device_addr = (uint64_t)(uintptr_t)tf_alloc(&A, 4096);
	r.num = 8;
	assert_int_equal(vtio_dev_queue_set(&F.dev, 1, &r), 0);
	assert_int_equal(vtio_dev_queue_disable(&F.dev, 0), 0); /* before DRIVER_OK: fine */
	assert_false(vtio_dev_queue_ready(&F.dev, 0));
	assert_int_equal(vtio_dev_queue_get(&F.dev, 0, &g), 0);
	assert_int_equal(g.num, 16); /* registers kept */
	assert_int_equal(vtio_dev_queue_enable(&F.dev, 1), 0);
	add_status(S_DOK);
	assert_non_null(vtio_dev_devq(&F.dev, 1));
	assert_null(vtio_dev_devq(&F.dev, 0)); /* disabled */
	assert_null(vtio_dev_devq(&F.dev, 2)); /* never enabled */
	uint64_t pe = stats().protocol_errors;
	assert_int_equal(vtio_dev_queue_set(&F.dev, 2, &r), VTIO_EPERM);
	assert_int_equal(vtio_dev_queue_enable(&F.dev, 0), VTIO_EPERM);
	assert_int_equal(stats().protocol_errors, pe + 2);
	/* MMIO-DEV-6: a disabled queue stops at once and stays stopped. */
	assert_int_equal(vtio_dev_queue_disable(&F.dev, 1), 0);
	assert_null(vtio_dev_devq(&F.dev, 1));
	assert_int_equal(F.stopped[1], 1);
	assert_int_equal(vtio_dev_queue_enable(&F.dev, 1), VTIO_EPERM);
	assert_int_equal(vtio_dev_queue_disable(&F.dev, NQ), VTIO_ENODEV);
	/* MMIO-DEV-4: a reset clears QueueReady and the registers. */
	vtio_dev_set_status(&F.dev, 0);
	for (uint16_t i = 0; i < NQ; i++) {
		assert_false(vtio_dev_queue_ready(&F.dev, i));
		assert_int_equal(vtio_dev_queue_get(&F.dev, i, &g), 0);
		assert_int_equal(g.num, 0);
		assert_int_equal(g.desc_addr | g.driver_addr | g.device_addr, 0);
	}
}

/* ---- Queues live -------------------------------------------------------------------------- */

/* NOTIF-DEV-1, INIT-DEV-2 (seed 001): no queue, no kick before DRIVER_OK;
 * at DRIVER_OK every enabled queue goes live, then the driver_ok hook. */
static void test_notif_dev_1_nothing_before_driver_ok(void **state)
{
	uint64_t lbit = layout_bit(state);
	fx_setup(BASE_FEATURES | lbit);
	negotiate(V1 | lbit);
	struct vtio_vq *vq[NQ];
	for (uint16_t i = 0; i < NQ; i++) {
		struct vtio_transport_queue r;
		vq[i] = drv_queue(i, 16, &r);
		assert_int_equal(vtio_dev_queue_set(&F.dev, i, &r), 0);
		if (i < 2)
			assert_int_equal(vtio_dev_queue_enable(&F.dev, i), 0);
	}
	unsigned char *b = tf_post(&A, vq[0], 0x5a);
	/* A driver that kicks around the rule: dropped, counted. */
	assert_int_equal(vtio_vq_kick(vq[0]), 0);
	assert_int_equal(vtio_dev_notify(&F.dev, 1), 0);
	assert_int_equal(F.kicks[0] + F.kicks[1], 0);
	assert_int_equal(stats().kicks_dropped, 2);
	for (uint16_t i = 0; i < NQ; i++) {
		assert_null(vtio_dev_devq(&F.dev, i));
		assert_int_equal(F.live[i], 0);
	}
	/* Invalid queue index: refused and counted, whatever the phase. */
	assert_int_equal(vtio_dev_notify(&F.dev, NQ), VTIO_EINVAL);
	assert_int_equal(vtio_dev_notify(&F.dev, 0x10000u), VTIO_EINVAL);
	assert_int_equal(stats().kicks_invalid, 2);

	add_status(S_DOK);
	assert_int_equal(F.live[0], 1);
	assert_int_equal(F.live[1], 1);
	assert_int_equal(F.live[2], 0); /* not enabled */
	assert_int_equal(F.driver_oks, 1);
	assert_int_equal(F.live_at_driver_ok, 2);
	/* The buffer made available before DRIVER_OK is served now. */
	assert_int_equal(vtio_dev_notify(&F.dev, 0), 0);
	assert_int_equal(F.kicks[0], 1);
	assert_int_equal(serve(0), 1);
	assert_int_equal(F.vq_irqs[0], 1);
	tf_reap_check(vq[0], b, 0x5a);
	/* A kick for the queue that never went live: dropped. */
	uint64_t dropped = stats().kicks_dropped;
	assert_int_equal(vtio_dev_notify(&F.dev, 2), 0);
	assert_int_equal(stats().kicks_dropped, dropped + 1);
	assert_int_equal(F.kicks[2], 0);
	/* A second DRIVER_OK write changes nothing. */
	add_status(S_DOK);
	assert_int_equal(F.live[0], 1);
	assert_int_equal(F.driver_oks, 1);
}

/* Real traffic on every queue, both layouts, with indirect chains and
 * NOTIFICATION_DATA (NOTIF-DRV-5: the core decodes the index). */
static void test_dev_traffic(void **state)
{
	uint64_t lbit = layout_bit(state);
	uint64_t f =
	    V1 | lbit | VTIO_FEATURE(VTIO_F_INDIRECT_DESC) | VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA);
	fx_setup(BASE_FEATURES | f);
	F.serve_in_kick = true;
	struct vtio_vq *vq[NQ];
	bring_up(f, vq);
	for (unsigned round = 0; round < 40; round++) {
		for (uint16_t q = 0; q < NQ; q++) {
			unsigned char tag = (unsigned char)(round * 3 + q);
			unsigned char *b[3];
			for (int k = 0; k < 3; k++)
				b[k] = tf_post(&A, vq[q], (unsigned char)(tag + k));
			/* A four-segment buffer goes indirect. */
			unsigned char *x = tf_alloc(&A, 64);
			memset(x, tag, 32);
			struct vtio_sg sg[4] = {vtio_sg_of(x, 16), vtio_sg_of(x + 16, 16),
						vtio_sg_of(x + 32, 16), vtio_sg_of(x + 48, 16)};
			assert_int_equal(vtio_vq_add(vq[q], sg, 2, 2, x), 0);
			assert_int_equal(vtio_vq_kick(vq[q]), 0);
			for (int k = 0; k < 3; k++)
				tf_reap_check(vq[q], b[k], (unsigned char)(tag + k));
			uint32_t len = 0;
			assert_ptr_equal(vtio_vq_get_used(vq[q], &len), x);
			assert_int_equal(len, 32);
			for (int i = 32; i < 64; i++)
				assert_int_equal(x[i], (unsigned char)~tag);
			/* The raw notification data reached the device type. */
			assert_int_equal(F.last_kick_data & 0xffffu, q);
		}
	}
	struct vtio_dev_stats s = stats();
	for (uint16_t q = 0; q < NQ; q++) {
		assert_true(F.kicks[q] >= 1);
		assert_true(F.vq_irqs[q] >= 1);
	}
	assert_int_equal(s.kicks, F.kicks[0] + F.kicks[1] + F.kicks[2]);
	assert_int_equal(s.irqs, F.vq_irqs[0] + F.vq_irqs[1] + F.vq_irqs[2]);
	assert_int_equal(s.kicks_dropped, 0);
	assert_int_equal(s.protocol_errors, 0);
	assert_false(vtio_dev_get_status(&F.dev) & S_NR);
}

/* RESET-DEV-1, RESET-DEV-2, RESET-DEV-4, INIT-DEV-5: a reset mid-stream
 * stops every queue, returns every register to its initial value, clears
 * the features; the generation stays monotonic; a new initialisation runs
 * clean on fresh rings. */
static void test_reset_dev_1_reset_mid_stream(void **state)
{
	uint64_t lbit = layout_bit(state);
	uint64_t f = V1 | lbit;
	fx_setup(BASE_FEATURES | lbit);
	struct vtio_vq *vq[NQ];
	bring_up(f, vq);
	vtio_dev_config_changed(&F.dev);
	vtio_dev_config_changed(&F.dev);
	uint32_t gen = vtio_dev_config_generation(&F.dev);
	assert_int_equal(gen, 2);
	/* Buffers in flight on every queue, some popped, none used. */
	for (uint16_t q = 0; q < NQ; q++) {
		(void)tf_post(&A, vq[q], 1);
		(void)tf_post(&A, vq[q], 2);
		assert_int_equal(vtio_vq_kick(vq[q]), 0);
	}
	struct vtio_devq *d0 = vtio_dev_devq(&F.dev, 0);
	struct vtio_iov rd[4], wr[4];
	struct vtio_devq_chain c;
	tc_chain_init(&c, rd, 4, wr, 4);
	assert_int_equal(vtio_devq_pop(d0, &c), 0);

	unsigned resets = F.resets;
	assert_int_equal(stats().resets, resets);
	vtio_dev_set_status(&F.dev, 0);
	assert_int_equal(vtio_dev_get_status(&F.dev), 0);
	assert_int_equal(F.resets, resets + 1);
	assert_int_equal(stats().resets, resets + 1);
	assert_int_equal(vtio_dev_features(&F.dev), 0);
	assert_int_equal(vtio_dev_get_driver_features(&F.dev, 0), 0);
	assert_int_equal(vtio_dev_get_driver_features(&F.dev, 1), 0);
	assert_true(vtio_dev_config_generation(&F.dev) >= gen);
	for (uint16_t q = 0; q < NQ; q++) {
		struct vtio_transport_queue g;
		assert_null(vtio_dev_devq(&F.dev, q));
		assert_int_equal(F.stopped[q], 1);
		assert_false(vtio_dev_queue_ready(&F.dev, q));
		assert_int_equal(vtio_dev_queue_get(&F.dev, q, &g), 0);
		assert_int_equal(g.num | g.desc_addr | g.driver_addr | g.device_addr, 0);
	}
	/* RESET-DEV-2: nothing crosses until the driver re-initialises. */
	uint64_t irqs = stats().irqs;
	unsigned kicks = F.kicks[0], cirqs = F.config_irqs;
	assert_int_equal(kicks, 1);
	assert_int_equal(cirqs, 2);
	assert_int_equal(vtio_dev_notify(&F.dev, 0), 0);
	assert_int_equal(F.kicks[0], kicks);
	vtio_dev_config_changed(&F.dev);
	assert_int_equal(F.config_irqs, cirqs);
	assert_true(vtio_dev_config_generation(&F.dev) > gen);
	/* A device that wrongly notifies on its stopped queue: dropped. */
	assert_int_equal(vtio_devq_notify(d0), 0);
	assert_int_equal(stats().irqs_dropped, 1);
	assert_int_equal(stats().irqs, irqs);
	assert_int_equal(F.vq_irqs[0], 0);
	/* Re-initialise on fresh rings: the device queue starts from the
	 * defaults (RESET-DEV-4), so traffic runs from index 0 again. */
	F.serve_in_kick = true;
	bring_up(f, vq);
	for (uint16_t q = 0; q < NQ; q++) {
		assert_int_equal(F.live[q], 2);
		unsigned char *b = tf_post(&A, vq[q], (unsigned char)(0x30 + q));
		assert_int_equal(vtio_vq_kick(vq[q]), 0);
		tf_reap_check(vq[q], b, (unsigned char)(0x30 + q));
	}
	assert_false(vtio_dev_get_status(&F.dev) & S_NR);
}

/* RESET-DEV-3, RESET-DEV-4, RESET-DEV-5, MMIO-DEV-8, MMIO-DEV-9: a queue
 * reset under DRIVER_OK stops one queue, clears its registers, lets the
 * driver reconfigure it (size may change) and goes live again at enable. */
static void test_reset_dev_3_queue_reset(void **state)
{
	uint64_t lbit = layout_bit(state);
	uint64_t f = V1 | lbit | VTIO_FEATURE(VTIO_F_RING_RESET);
	fx_setup(BASE_FEATURES | f);
	F.serve_in_kick = true;
	struct vtio_vq *vq[NQ];
	bring_up(f, vq);
	for (unsigned k = 0; k < 5; k++) {
		unsigned char *b = tf_post(&A, vq[0], (unsigned char)k);
		assert_int_equal(vtio_vq_kick(vq[0]), 0);
		tf_reap_check(vq[0], b, (unsigned char)k);
	}
	F.serve_in_kick = false;
	(void)tf_post(&A, vq[0], 9); /* in flight at the reset */
	assert_int_equal(vtio_vq_kick(vq[0]), 0);

	assert_int_equal(vtio_dev_queue_reset(&F.dev, NQ), VTIO_ENODEV);
	assert_int_equal(vtio_dev_queue_reset(&F.dev, 0), 0);
	assert_int_equal(stats().queue_resets, 1);
	assert_int_equal(F.stopped[0], 1);
	assert_null(vtio_dev_devq(&F.dev, 0));
	assert_false(vtio_dev_queue_ready(&F.dev, 0)); /* MMIO-DEV-9 */
	struct vtio_transport_queue g;
	assert_int_equal(vtio_dev_queue_get(&F.dev, 0, &g), 0);
	assert_int_equal(g.num | g.desc_addr, 0);
	/* RESET-DEV-3: no requests from it. */
	assert_int_equal(vtio_dev_notify(&F.dev, 0), 0);
	assert_int_equal(F.kicks[0], 6);
	/* The other queues keep running. */
	assert_non_null(vtio_dev_devq(&F.dev, 1));
	F.serve_in_kick = true;
	unsigned char *b1 = tf_post(&A, vq[1], 0x77);
	assert_int_equal(vtio_vq_kick(vq[1]), 0);
	tf_reap_check(vq[1], b1, 0x77);
	/* The driver takes its buffers back and re-enables with a new size. */
	assert_non_null(vtio_vq_detach_unused(vq[0]));
	assert_null(vtio_vq_detach_unused(vq[0]));
	struct vtio_transport_queue r;
	vq[0] = drv_queue(0, 32, &r);
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), 0);
	assert_int_equal(vtio_dev_queue_enable(&F.dev, 0), 0);
	assert_true(vtio_dev_queue_ready(&F.dev, 0)); /* MMIO-DEV-8 */
	assert_int_equal(F.live[0], 2);
	assert_non_null(vtio_dev_devq(&F.dev, 0));
	/* Re-enabled: read-only again. */
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), VTIO_EBUSY);
	for (unsigned k = 0; k < 40; k++) { /* wraps the 32-entry ring */
		unsigned char *b = tf_post(&A, vq[0], (unsigned char)(0x80 + k));
		assert_int_equal(vtio_vq_kick(vq[0]), 0);
		tf_reap_check(vq[0], b, (unsigned char)(0x80 + k));
	}
	/* A queue reset is complete on return, also before DRIVER_OK; a device
	 * reset clears the reset state (MMIO-DEV-7). */
	vtio_dev_set_status(&F.dev, 0);
	assert_int_equal(vtio_dev_queue_reset(&F.dev, 0), VTIO_ENOTSUP); /* no features */
	negotiate(f);
	assert_int_equal(vtio_dev_queue_reset(&F.dev, 2), 0);
	assert_int_equal(vtio_dev_queue_set(&F.dev, 2, &r), 0);
}

/* INIT-DEV-3, NOTIF-DEV-2: a queue the driver broke sets
 * DEVICE_NEEDS_RESET (once, with one configuration-change notification). */
static void test_init_dev_3_broken_queue_needs_reset(void **state)
{
	uint64_t lbit = layout_bit(state);
	uint64_t f = V1 | lbit;
	fx_setup(BASE_FEATURES | lbit);
	F.serve_in_kick = true;
	struct vtio_vq *vq[NQ];
	bring_up(f, vq);
	assert_false(vtio_dev_check_queue(&F.dev, 0));
	assert_false(vtio_dev_check_queue(&F.dev, NQ));
	/* The driver writes garbage into its ring: split, avail->idx jumps by
	 * more than the queue size; packed, a descriptor with an out-of-range
	 * buffer id marked available. */
	struct vtio_transport_queue r;
	assert_int_equal(vtio_dev_queue_get(&F.dev, 1, &r), 0);
	if (lbit) {
		unsigned char *d = (unsigned char *)(uintptr_t)r.desc_addr;
		uint64_t a = vtio_le64((uint64_t)(uintptr_t)tf_alloc(&A, 64));
		uint32_t len = vtio_le32(16);
		uint16_t id = vtio_le16(999);
		uint16_t flags = vtio_le16((uint16_t)(1u << 7)); /* AVAIL, wrap 1 */
		memcpy(d, &a, 8);
		memcpy(d + 8, &len, 4);
		memcpy(d + 12, &id, 2);
		memcpy(d + 14, &flags, 2);
	} else {
		uint16_t idx = vtio_le16(1000);
		memcpy((unsigned char *)(uintptr_t)r.driver_addr + 2, &idx, 2);
	}
	assert_int_equal(vtio_dev_notify(&F.dev, 1), 0);
	assert_true(vtio_devq_is_broken(vtio_dev_devq(&F.dev, 1)));
	assert_true(vtio_dev_get_status(&F.dev) & S_NR);
	assert_int_equal(F.config_irqs, 1);
	assert_true(vtio_dev_check_queue(&F.dev, 1));
	assert_int_equal(F.config_irqs, 1); /* idempotent */
	vtio_dev_needs_reset(&F.dev);
	assert_int_equal(F.config_irqs, 1);
	assert_int_equal(stats().needs_reset, 1);
	/* The queue stays live (the driver resets), others keep working. */
	assert_non_null(vtio_dev_devq(&F.dev, 1));
	unsigned char *b = tf_post(&A, vq[0], 0x12);
	assert_int_equal(vtio_vq_kick(vq[0]), 0);
	tf_reap_check(vq[0], b, 0x12);
	/* Reset: bit gone, a clean run afterwards. */
	vtio_dev_set_status(&F.dev, 0);
	assert_int_equal(vtio_dev_get_status(&F.dev), 0);
	bring_up(f, vq);
	assert_false(vtio_dev_get_status(&F.dev) & S_NR);
	/* Before DRIVER_OK, NEEDS_RESET notifies nobody. */
	vtio_dev_set_status(&F.dev, 0);
	unsigned irqs = F.config_irqs;
	vtio_dev_needs_reset(&F.dev);
	assert_int_equal(F.config_irqs, irqs);
	assert_int_equal(vtio_dev_get_status(&F.dev), S_NR);
}

/* A ring the device cannot use (outside the view, misaligned) or no view
 * at all: the queue does not go live, the device asks for a reset. A view
 * given later (vhost-user / shared memory learn it at run time) works. */
static void test_init_dev_3_bad_ring_and_late_view(void **state)
{
	uint64_t lbit = layout_bit(state);
	uint64_t f = V1 | lbit;
	fx_setup(BASE_FEATURES | lbit);
	negotiate(f);
	struct vtio_transport_queue r = {8, 0x10, 0x1000, 0x2000}; /* not in the arena */
	assert_int_equal(vtio_dev_queue_set(&F.dev, 0, &r), 0);
	assert_int_equal(vtio_dev_queue_enable(&F.dev, 0), 0); /* accepted... */
	add_status(S_DOK);
	assert_null(vtio_dev_devq(&F.dev, 0)); /* ...but cannot go live */
	assert_true(vtio_dev_get_status(&F.dev) & S_NR);
	assert_int_equal(F.config_irqs, 1);
	assert_int_equal(F.live[0], 0);

	/* No view at init. */
	fx_reset();
	struct vtio_dev_config c;
	base_config(&c, BASE_FEATURES | lbit);
	c.mem = NULL;
	assert_int_equal(vtio_dev_init(&F.dev, F.storage, F.storage_size, &c), 0);
	assert_int_equal(vtio_dev_bind(&F.dev, &wire_ops, &F), 0);
	struct vtio_vq *vq[NQ];
	negotiate(f);
	for (uint16_t i = 0; i < NQ; i++) {
		vq[i] = drv_queue(i, 8, &r);
		assert_int_equal(vtio_dev_queue_set(&F.dev, i, &r), 0);
		assert_int_equal(vtio_dev_queue_enable(&F.dev, i), 0);
	}
	/* Queue 2 gets its own view; the others none yet. */
	assert_int_equal(vtio_dev_queue_set_mem(&F.dev, NQ, &F.mem), VTIO_ENODEV);
	assert_int_equal(vtio_dev_queue_set_mem(&F.dev, 2, &F.mem), 0);
	add_status(S_DOK);
	assert_null(vtio_dev_devq(&F.dev, 0));
	assert_null(vtio_dev_devq(&F.dev, 1));
	assert_non_null(vtio_dev_devq(&F.dev, 2));
	assert_true(vtio_dev_get_status(&F.dev) & S_NR);
	assert_int_equal(vtio_dev_queue_set_mem(&F.dev, 2, NULL), VTIO_EBUSY); /* live */
	/* The view arrives; the driver resets and starts again. */
	vtio_dev_set_mem(&F.dev, &F.mem);
	F.serve_in_kick = true;
	bring_up(f, vq);
	for (uint16_t q = 0; q < NQ; q++) {
		unsigned char *b = tf_post(&A, vq[q], (unsigned char)q);
		assert_int_equal(vtio_vq_kick(vq[q]), 0);
		tf_reap_check(vq[q], b, (unsigned char)q);
	}
}

/* ---- Config space --------------------------------------------------------------------------- */

/* INIT-DEV-4, INIT-DRV-2, INIT-DEV-5, MMIO-DEV-5: reads in every phase,
 * writes refused during negotiation, bounds, the generation counter. */
static void test_init_dev_4_config_space(void **state)
{
	(void)state;
	fx_setup(BASE_FEATURES);
	for (unsigned i = 0; i < sizeof(F.config); i++)
		F.config[i] = (unsigned char)i;
	unsigned char b[32];
	const uint32_t len = sizeof(F.config);
	/* Reads: status 0, ACK, DRIVER (before FEATURES_OK). */
	for (int phase = 0; phase < 3; phase++) {
		if (phase == 1)
			add_status(S_ACK);
		if (phase == 2)
			add_status(S_DRV);
		memset(b, 0xff, sizeof(b));
		assert_int_equal(vtio_dev_config_read(&F.dev, 4, b, 4), 0);
		assert_int_equal(b[0], 4);
		assert_int_equal(b[3], 7);
	}
	assert_int_equal(vtio_dev_config_read(&F.dev, 0, b, len), 0);
	assert_int_equal(vtio_dev_config_read(&F.dev, len, b, 0), 0);
	memset(b, 0xee, sizeof(b));
	assert_int_equal(vtio_dev_config_read(&F.dev, len - 3, b, 4), VTIO_ERANGE);
	assert_int_equal(vtio_dev_config_read(&F.dev, len + 1, b, 0), VTIO_ERANGE);
	assert_int_equal(vtio_dev_config_read(&F.dev, UINT32_MAX, b, 4), VTIO_ERANGE);
	assert_int_equal(vtio_dev_config_read(&F.dev, 4, b, SIZE_MAX), VTIO_ERANGE);
	assert_int_equal(b[0], 0xee); /* nothing copied */
	/* Writes: refused during negotiation (INIT-DRV-2). */
	b[0] = 0xaa;
	uint64_t pe = stats().protocol_errors;
	assert_int_equal(vtio_dev_config_write(&F.dev, 0, b, 1), VTIO_EPERM);
	assert_int_equal(F.config[0], 0);
	assert_int_equal(stats().protocol_errors, pe + 1);
	wr_features(V1);
	add_status(S_FOK);
	assert_int_equal(vtio_dev_config_write(&F.dev, len - 1, b, 2), VTIO_ERANGE);
	assert_int_equal(vtio_dev_config_write(&F.dev, UINT32_MAX, b, 1), VTIO_ERANGE);
	assert_int_equal(F.config[len - 1], len - 1);
	assert_int_equal(vtio_dev_config_write(&F.dev, 2, b, 1), 0);
	assert_int_equal(F.config[2], 0xaa);
	assert_int_equal(F.written_off, 2);
	assert_int_equal(F.written_len, 1);
	F.config_written_err = VTIO_EINVAL; /* the type's answer reaches the driver */
	assert_int_equal(vtio_dev_config_write(&F.dev, 3, b, 1), VTIO_EINVAL);
	F.config_written_err = 0;
	/* Generation: bumped by device changes, notified only under DRIVER_OK. */
	assert_int_equal(vtio_dev_config_generation(&F.dev), 0);
	unsigned char nv[2] = {0x10, 0x20};
	assert_int_equal(vtio_dev_config_set(&F.dev, 6, nv, 2), 0);
	assert_int_equal(F.config[6], 0x10);
	assert_int_equal(vtio_dev_config_generation(&F.dev), 1);
	assert_int_equal(F.config_irqs, 0);
	assert_int_equal(vtio_dev_config_set(&F.dev, len - 1, nv, 2), VTIO_ERANGE);
	assert_int_equal(vtio_dev_config_generation(&F.dev), 1);
	add_status(S_DOK);
	vtio_dev_config_changed(&F.dev);
	assert_int_equal(vtio_dev_config_generation(&F.dev), 2);
	assert_int_equal(F.config_irqs, 1);
	assert_int_equal(stats().config_irqs, 1);
	/* Monotonic across a reset: the driver never sees an old value again. */
	vtio_dev_set_status(&F.dev, 0);
	assert_int_equal(vtio_dev_config_generation(&F.dev), 2);
	/* Writes before ACKNOWLEDGE are not negotiation; after FAILED, refused. */
	assert_int_equal(vtio_dev_config_write(&F.dev, 0, b, 1), 0);
	add_status(S_ACK | S_FAIL);
	assert_int_equal(vtio_dev_config_write(&F.dev, 0, b, 1), VTIO_EPERM);
	/* A device with no config space. */
	fx_reset();
	struct vtio_dev_config c;
	base_config(&c, BASE_FEATURES);
	c.config = NULL;
	c.config_len = 0;
	assert_int_equal(vtio_dev_init(&F.dev, F.storage, F.storage_size, &c), 0);
	assert_int_equal(vtio_dev_config_read(&F.dev, 0, b, 0), 0);
	assert_int_equal(vtio_dev_config_read(&F.dev, 0, b, 1), VTIO_ERANGE);
}

/* ---- Feature mediation (seed 001) ------------------------------------------------------- */

#define F_RP  VTIO_FEATURE(VTIO_F_RING_PACKED)
#define F_EI  VTIO_FEATURE(VTIO_F_EVENT_IDX)
#define F_ID  VTIO_FEATURE(VTIO_F_INDIRECT_DESC)
#define F_AP  VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM)
#define F_OP  VTIO_FEATURE(VTIO_F_ORDER_PLATFORM)
#define F_RR  VTIO_FEATURE(VTIO_F_RING_RESET)
#define F_SR  VTIO_FEATURE(VTIO_F_SR_IOV)
#define F_NCD VTIO_FEATURE(VTIO_F_NOTIF_CONFIG_DATA)

static void test_mediate_features(void **state)
{
	(void)state;
	uint64_t out = 1;
	struct vtio_dev_mediation m;
	memset(&m, 0, sizeof(m));
	assert_int_equal(vtio_dev_mediate_features(NULL, &out), VTIO_EINVAL);
	assert_int_equal(vtio_dev_mediate_features(&m, NULL), VTIO_EINVAL);
	/* VERSION_1 on both sides, or nothing. */
	m.far = VTIO_FEATURE(0);
	m.peer = VTIO_DEV_MEDIATE_ANY;
	assert_int_equal(vtio_dev_mediate_features(&m, &out), VTIO_ENOTSUP);
	assert_int_equal(out, 0);
	m.far = V1;
	m.peer = VTIO_FEATURE(0);
	assert_int_equal(vtio_dev_mediate_features(&m, &out), VTIO_ENOTSUP);

	/* Step 1 of the header's example: an offer from the far device's offer.
	 * Type bits: far & type_mask (5 not understood, 60 is; 1 not offered).
	 * Terminated rings: ring bits from the mediator only (far has packed,
	 * the mediator's link does not; the mediator does EVENT_IDX, far does
	 * not). Platform: the link's own. Transport-only bits of the far side
	 * (SR_IOV) never pass; the link's own (NOTIF_CONFIG_DATA) do. Bit 30
	 * and 42..49 never appear. */
	m.far =
	    V1 | VTIO_FEATURE(0) | VTIO_FEATURE(5) | VTIO_FEATURE(60) | F_RP | F_ID | F_AP | F_SR;
	m.peer = VTIO_DEV_MEDIATE_ANY;
	m.type_mask = VTIO_FEATURE(0) | VTIO_FEATURE(1) | VTIO_FEATURE(60);
	m.link = F_EI | F_ID | F_RR | F_NCD | VTIO_FEATURE(VTIO_F_BAD_FEATURE) |
		 VTIO_FEATURE(VTIO_F_SUSPEND) | VTIO_FEATURE(3) /* not a link bit */;
	m.flags = 0;
	assert_int_equal(vtio_dev_mediate_features(&m, &out), 0);
	assert_int_equal(out, V1 | VTIO_FEATURE(0) | VTIO_FEATURE(60) | F_EI | F_ID | F_RR | F_NCD);
	/* The result is an offer the device core takes (once the transport
	 * carries NOTIF_CONFIG_DATA). */
	fx_reset();
	struct vtio_dev_config c;
	base_config(&c, V1);
	assert_int_equal(vtio_dev_init(&F.dev, F.storage, F.storage_size, &c), 0);
	assert_int_equal(vtio_dev_set_offer(&F.dev, out), 0);
	struct vtio_dev_transport_ops pci = wire_ops;
	pci.extra_features = F_NCD;
	assert_int_equal(vtio_dev_bind(&F.dev, &pci, &F), 0);

	/* Ring passed through: ring caps need all three; never RING_PACKED
	 * unless both ends do it. Platform requirements of the far device
	 * propagate (the near driver must use the DMA API / DMA barriers). */
	m.flags = VTIO_DEV_MEDIATE_RING_THROUGH;
	m.far = V1 | F_RP | F_ID | F_EI | F_OP;
	m.link = F_ID | F_EI | F_RP;
	m.peer = V1 | F_ID | F_AP | F_OP; /* the near party: split only */
	m.type_mask = 0;
	assert_int_equal(vtio_dev_mediate_features(&m, &out), 0);
	assert_int_equal(out, V1 | F_ID | F_OP);
	assert_false(out & F_RP);
	m.peer = VTIO_DEV_MEDIATE_ANY;
	assert_int_equal(vtio_dev_mediate_features(&m, &out), 0);
	assert_int_equal(out, V1 | F_ID | F_EI | F_RP | F_OP);
	/* ACCESS_PLATFORM of the mediator's own link propagates too. */
	m.link |= F_AP;
	assert_int_equal(vtio_dev_mediate_features(&m, &out), 0);
	assert_true(out & F_AP);
	/* Terminated again: far's platform bits do not matter. */
	m.flags = 0;
	m.link = F_ID;
	assert_int_equal(vtio_dev_mediate_features(&m, &out), 0);
	assert_int_equal(out, V1 | F_ID);

	/* Step 2: what to accept from the local device (peer = its offer), from
	 * what the remote driver accepted (far). Never more than offered. */
	m.far = V1 | VTIO_FEATURE(0) | VTIO_FEATURE(60) | F_EI;
	m.peer = V1 | VTIO_FEATURE(60) | F_RP | F_ID;
	m.type_mask = VTIO_FEATURE(0) | VTIO_FEATURE(60);
	m.link = F_RP | F_ID | F_EI;
	assert_int_equal(vtio_dev_mediate_features(&m, &out), 0);
	assert_int_equal(out, V1 | VTIO_FEATURE(60) | F_RP | F_ID);
	assert_int_equal(out & ~m.peer, 0);
}

/* ---- Runner -------------------------------------------------------------------------------- */

static enum vtio_layout split_l = VTIO_LAYOUT_SPLIT;
static enum vtio_layout packed_l = VTIO_LAYOUT_PACKED;

#define BOTH(fn) cmocka_unit_test_prestate(fn, &split_l), cmocka_unit_test_prestate(fn, &packed_l)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_dev_1_setup),
	    cmocka_unit_test(test_feat_dev_7_bind_and_offer),
	    cmocka_unit_test(test_feat_dev_8_feature_window),
	    cmocka_unit_test(test_feat_dev_2_features_ok_refused),
	    cmocka_unit_test(test_init_drv_6_clearing_write_refused),
	    cmocka_unit_test(test_notif_dev_2_driver_ok_without_features),
	    BOTH(test_init_drv_12_queue_register_phase),
	    BOTH(test_notif_dev_1_nothing_before_driver_ok),
	    BOTH(test_dev_traffic),
	    BOTH(test_reset_dev_1_reset_mid_stream),
	    BOTH(test_reset_dev_3_queue_reset),
	    BOTH(test_init_dev_3_broken_queue_needs_reset),
	    BOTH(test_init_dev_3_bad_ring_and_late_view),
	    cmocka_unit_test(test_init_dev_4_config_space),
	    cmocka_unit_test(test_mediate_features),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
