/* Shared-memory transport in one process, both roles: the driver runs the
 * generic init helpers over a directory entry, the device role drives the
 * device core (vtio_dev), for split and packed rings with data checked;
 * the device is published first and queues stay dead before DRIVER_OK
 * (seed 001, NOTIF-DEV-1, INIT-DRV-12); devices come and go at run time
 * (seed 000); a lying directory gives errors, not crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vtio/transport.h"
#include "vtio/transport/shm.h"
#include "vtio/dev.h"

#define WIN_SIZE (1u << 20)
#define QMAX	 64u
#define NQ	 1u

static _Alignas(4096) unsigned char window[WIN_SIZE];

/* One device: core + role + its storage and echo bookkeeping. */
struct tdev {
	struct vtio_dev dev;
	_Alignas(16) unsigned char storage[64 * 1024];
	unsigned char config[16];
	struct vtio_shm_dev sd;
	unsigned slot;
	unsigned kicks, live, stops;
	struct vtio_devq *q;
};

struct env {
	struct vtio_shm_dir dir;
	struct tdev devs[2];
	unsigned ndevs;
	struct vtio_shm_drv drv;
	unsigned dev_rings, drv_rings[4];
	unsigned vq_irqs, config_irqs;
	unsigned char ring[16384];
	_Alignas(16) unsigned char vq_state[16384];
};

static struct env E;

/* ---- device type: echo with every byte + 1 ---------------------------------------------- */

static void echo_serve(struct tdev *t)
{
	if (t->q == NULL)
		return;
	struct vtio_iov rd[8], wr[8];
	for (;;) {
		struct vtio_devq_chain c = {.rd = rd, .rd_max = 8, .wr = wr, .wr_max = 8};
		int pr = vtio_devq_pop(t->q, &c);
		if (pr != 0) {
			/* Ask for the next kick; pop again if a chain slipped in. */
			if (pr != VTIO_EAGAIN || vtio_devq_enable_notify(t->q))
				break;
			continue;
		}
		uint32_t n = 0;
		if (c.rd_num == 1 && c.wr_num == 1 && rd[0].ptr && wr[0].ptr) {
			n = rd[0].len < wr[0].len ? rd[0].len : wr[0].len;
			const unsigned char *s = rd[0].ptr;
			unsigned char *d = wr[0].ptr;
			for (uint32_t i = 0; i < n; i++)
				d[i] = (unsigned char)(s[i] + 1);
		}
		assert_int_equal(vtio_devq_push(t->q, &c, n), 0);
	}
	vtio_devq_kick(t->q);
}

static int dev_kick(void *ctx, uint16_t index, uint32_t data)
{
	struct tdev *t = ctx;
	(void)index;
	(void)data;
	t->kicks++;
	echo_serve(t);
	return 0;
}

static void dev_queue_state(void *ctx, uint16_t index, struct vtio_devq *q)
{
	struct tdev *t = ctx;
	(void)index;
	t->q = q;
	if (q)
		t->live++;
	else
		t->stops++;
}

static const struct vtio_dev_ops echo_ops = {
    .kick = dev_kick,
    .queue_state = dev_queue_state,
};

/* ---- hooks ---------------------------------------------------------------------------------- */

static int dev_ring(void *ctx, uint32_t which)
{
	struct env *e = ctx;
	e->drv_rings[which % 4]++;
	return 0;
}

/* Driver side: the device runs in the same thread, so "waiting" is
 * letting every device poll once. */
static int drv_ring(void *ctx, uint32_t which)
{
	struct env *e = ctx;
	(void)which;
	e->dev_rings++;
	return 0;
}

static int drv_wait(void *ctx)
{
	struct env *e = ctx;
	for (unsigned i = 0; i < e->ndevs; i++)
		vtio_shm_dev_poll(&e->devs[i].sd);
	return 0;
}

static void vq_irq(void *ctx, uint16_t index)
{
	(void)index;
	((struct env *)ctx)->vq_irqs++;
}

static void config_irq(void *ctx)
{
	((struct env *)ctx)->config_irqs++;
}

static const uint64_t OFFER = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_RING_PACKED) |
			      VTIO_FEATURE(VTIO_F_EVENT_IDX) | VTIO_FEATURE(VTIO_F_RING_RESET) |
			      VTIO_FEATURE(3);

/* Reserve, initialise and publish device @i. */
static void add_device(unsigned i, uint32_t type, bool publish)
{
	struct tdev *t = &E.devs[i];
	memset(t, 0, sizeof(*t));
	for (unsigned k = 0; k < sizeof(t->config); k++)
		t->config[k] = (unsigned char)(0x10 + k);
	struct vtio_shm_dir_request rq = {
	    .device_type = type, .num_queues = NQ, .config_size = sizeof(t->config)};
	assert_int_equal(vtio_shm_dir_add(&E.dir, &rq, &t->slot), 0);
	struct vtio_dev_config dc = {
	    .device_id = type,
	    .features = OFFER,
	    .num_queues = NQ,
	    .queue_max = QMAX,
	    .config = t->config,
	    .config_len = sizeof(t->config),
	    .ops = &echo_ops,
	    .ctx = t,
	};
	assert_true(vtio_dev_storage_size(NQ, QMAX) <= sizeof(t->storage));
	assert_int_equal(vtio_dev_init(&t->dev, t->storage, sizeof(t->storage), &dc), 0);
	if (i >= E.ndevs)
		E.ndevs = i + 1;
	if (publish) {
		struct vtio_shm_dev_config sc = {
		    .dir = &E.dir, .slot = t->slot, .dev = &t->dev, .hooks = {dev_ring, NULL, &E}};
		assert_int_equal(vtio_shm_dev_init(&t->sd, &sc), 0);
	}
}

static int setup(void **state)
{
	(void)state;
	memset(&E, 0, sizeof(E));
	memset(window, 0xee, sizeof(window));
	/* Device addresses = CPU addresses: ring memory may be caller memory. */
	assert_int_equal(
	    vtio_shm_dir_format(&E.dir, window, sizeof(window), (uint64_t)(uintptr_t)window, 8), 0);
	return 0;
}

static void bind_driver(uint32_t type)
{
	struct vtio_shm_entry_info ei;
	assert_int_equal(vtio_shm_dir_find(window, sizeof(window), 0, type, &ei), 0);
	struct vtio_shm_hooks h = {drv_ring, drv_wait, &E};
	assert_int_equal(vtio_shm_drv_init(&E.drv, window, sizeof(window), &ei, &h), 0);
	vtio_transport_set_irq(vtio_shm_drv_transport(&E.drv), vq_irq, config_irq, &E);
}

/* Ring memory and buffers come from the bounce-less window tail. */
static unsigned char *win_buf(size_t off)
{
	return window + WIN_SIZE / 2 + off;
}

static void run_echo(enum vtio_layout layout, unsigned rounds)
{
	struct vtio_transport *t = vtio_shm_drv_transport(&E.drv);
	struct vtio_transport_negotiation n = {
	    .supported = VTIO_FEATURE(3) | VTIO_FEATURE(VTIO_F_EVENT_IDX) |
			 (layout == VTIO_LAYOUT_PACKED ? VTIO_FEATURE(VTIO_F_RING_PACKED) : 0)};
	assert_int_equal(vtio_transport_negotiate(t, &n), 0);
	assert_int_equal(vtio_transport_layout(t), layout);
	assert_true(vtio_transport_has(t, 3));
	struct vtio_transport_vq_config qc = {
	    .index = 0,
	    .num = 0,
	    .ring = win_buf(0),
	    .ring_size = 65536,
	    .state = E.vq_state,
	    .state_size = sizeof(E.vq_state),
	};
	struct vtio_vq *vq;
	assert_int_equal(vtio_transport_vq_setup(t, &qc, &vq), 0);
	struct tdev *d = &E.devs[0];
	/* Seed 001: no device queue, and kicks dropped, before DRIVER_OK. */
	assert_null(vtio_dev_devq(&d->dev, 0));
	assert_int_equal(vtio_transport_notify(t, 0), VTIO_EPERM);
	assert_int_equal(d->live, 0);
	assert_int_equal(vtio_transport_driver_ok(t), 0);
	assert_int_equal(d->live, 1);
	assert_non_null(vtio_dev_devq(&d->dev, 0));
	assert_int_equal(vtio_transport_get_status(t) & VTIO_STATUS_DRIVER_OK,
			 VTIO_STATUS_DRIVER_OK);

	unsigned char *out = win_buf(65536), *in = win_buf(65536 + 4096);
	for (unsigned r = 0; r < rounds; r++) {
		uint32_t len = 1 + (r * 37u) % 200u;
		for (uint32_t i = 0; i < len; i++)
			out[i] = (unsigned char)(r + i);
		memset(in, 0, 256);
		struct vtio_sg sg[2] = {vtio_sg_of(out, len), vtio_sg_of(in, 256)};
		assert_int_equal(vtio_vq_add(vq, sg, 1, 1, (void *)(uintptr_t)(r + 1)), 0);
		assert_int_equal(vtio_vq_kick(vq), 0);
		/* The device sees the kick when it polls (its doorbell rang). */
		vtio_shm_dev_poll(&d->sd);
		vtio_shm_drv_interrupt(&E.drv, E.drv.e.drv_bell);
		uint32_t got;
		void *tok = vtio_vq_get_used(vq, &got);
		assert_ptr_equal(tok, (void *)(uintptr_t)(r + 1));
		assert_int_equal(got, len);
		for (uint32_t i = 0; i < len; i++)
			assert_int_equal(in[i], (unsigned char)(r + i + 1));
	}
	assert_true(d->kicks > 0);
	assert_true(E.vq_irqs > 0);
	/* Reset: the device stops its queue. */
	assert_int_equal(vtio_transport_reset(t), 0);
	assert_int_equal(d->stops, 1);
	assert_null(vtio_dev_devq(&d->dev, 0));
}

static void test_shm_echo_split(void **state)
{
	(void)state;
	add_device(0, 42, true);
	bind_driver(42);
	run_echo(VTIO_LAYOUT_SPLIT, 300);
}

static void test_shm_echo_packed(void **state)
{
	(void)state;
	add_device(0, 42, true);
	bind_driver(42);
	run_echo(VTIO_LAYOUT_PACKED, 300);
}

/* Seed 001: the device is initialised first; a reserved, unpublished entry
 * is invisible to the driver. */
static void test_shm_device_first(void **state)
{
	(void)state;
	add_device(0, 7, false);
	struct vtio_shm_entry_info ei;
	assert_int_equal(vtio_shm_dir_find(window, sizeof(window), 0, 7, &ei), VTIO_ENOENT);
	assert_int_equal(vtio_shm_dir_entry(window, sizeof(window), E.devs[0].slot, &ei),
			 VTIO_ENOENT);
	struct vtio_shm_dev_config sc = {.dir = &E.dir,
					 .slot = E.devs[0].slot,
					 .dev = &E.devs[0].dev,
					 .hooks = {dev_ring, NULL, &E}};
	assert_int_equal(vtio_shm_dev_init(&E.devs[0].sd, &sc), 0);
	assert_int_equal(vtio_shm_dir_find(window, sizeof(window), 0, 7, &ei), 0);
	assert_int_equal(ei.device_type, 7);
	assert_int_equal(ei.num_queues, NQ);
	/* Publishing twice is refused. */
	assert_int_equal(vtio_shm_dev_init(&E.devs[0].sd, &sc), VTIO_EINVAL);
}

/* INIT-DRV-12 / NOTIF-DEV-1: queue registers only between FEATURES_OK and
 * DRIVER_OK; a raw kick before DRIVER_OK is dropped by the core. */
static void test_shm_queue_refused_before_driver_ok(void **state)
{
	(void)state;
	add_device(0, 42, true);
	bind_driver(42);
	struct vtio_transport *t = vtio_shm_drv_transport(&E.drv);
	struct tdev *d = &E.devs[0];
	/* Before FEATURES_OK the device core refuses queue registers. */
	struct vtio_transport_queue q = {
	    .num = 16, .desc_addr = 0x1000, .driver_addr = 0x2000, .device_addr = 0x3000};
	assert_int_equal(t->fn.queue_setup(t, 0, &q), VTIO_EPERM);
	assert_int_equal(t->fn.queue_enable(t, 0), VTIO_EPERM);
	/* A driver that writes the kick counter behind the transport's back. */
	struct vtio_dev_stats st0, st1;
	vtio_dev_get_stats(&d->dev, &st0);
	E.drv.queues[0].kick = vtio_le32(99);
	vtio_shm_dev_poll(&d->sd);
	vtio_dev_get_stats(&d->dev, &st1);
	assert_int_equal(st1.kicks_dropped, st0.kicks_dropped + 1);
	assert_int_equal(d->kicks, 0);
	assert_null(vtio_dev_devq(&d->dev, 0));
	/* Out-of-range queue on the wire. */
	assert_int_equal(t->fn.queue_setup(t, 5, &q), VTIO_ENODEV);
	assert_int_equal(vtio_transport_notify(t, 0), VTIO_EPERM);
}

static void test_shm_config(void **state)
{
	(void)state;
	add_device(0, 42, true);
	bind_driver(42);
	struct vtio_transport *t = vtio_shm_drv_transport(&E.drv);
	unsigned char b[16];
	assert_int_equal(vtio_transport_config_read_stable(t, 0, b, 16), 0);
	assert_int_equal(b[0], 0x10);
	assert_int_equal(b[15], 0x1f);
	assert_int_equal(vtio_transport_config_read(t, 10, b, 7), VTIO_ERANGE);
	uint32_t g0 = vtio_transport_config_generation(t);
	/* Device changes its config: the generation moves, the driver sees it. */
	E.devs[0].config[3] = 0x99;
	vtio_shm_dev_config_changed(&E.devs[0].sd);
	assert_int_not_equal(vtio_transport_config_generation(t), g0);
	assert_int_equal(vtio_transport_config_read_stable(t, 3, b, 1), 0);
	assert_int_equal(b[0], 0x99);
	/* Driver write (after FEATURES_OK) lands in the device's config. */
	struct vtio_transport_negotiation n = {.supported = 0};
	assert_int_equal(vtio_transport_negotiate(t, &n), 0);
	unsigned char w[2] = {0xab, 0xcd};
	assert_int_equal(vtio_transport_config_write(t, 14, w, 2), 0);
	assert_int_equal(E.devs[0].config[14], 0xab);
	assert_int_equal(vtio_transport_config_read(t, 14, b, 2), 0);
	assert_int_equal(b[1], 0xcd);
	assert_int_equal(vtio_transport_config_write(t, 15, w, 2), VTIO_ERANGE);
	/* Config change under DRIVER_OK raises the config doorbell. */
	assert_int_equal(vtio_transport_driver_ok(t), 0);
	unsigned before = E.config_irqs;
	E.devs[0].config[0] = 1;
	vtio_shm_dev_config_changed(&E.devs[0].sd);
	vtio_shm_drv_interrupt(&E.drv, E.drv.e.drv_bell + 1u);
	assert_int_equal(E.config_irqs, before + 1);
	/* No change, no interrupt. */
	vtio_shm_drv_interrupt(&E.drv, E.drv.e.drv_bell + 1u);
	assert_int_equal(E.config_irqs, before + 1);
}

/* Seed 000: devices added and removed at run time through the directory. */
static void test_shm_runtime_add_remove(void **state)
{
	(void)state;
	add_device(0, 42, true);
	bind_driver(42);
	struct vtio_shm_entry_info ei;
	assert_int_equal(vtio_shm_dir_find(window, sizeof(window), 0, 3, &ei), VTIO_ENOENT);
	struct vtio_shm_info in0, in1;
	assert_int_equal(vtio_shm_dir_parse(window, sizeof(window), &in0), 0);
	add_device(1, 3, true);
	assert_int_equal(vtio_shm_dir_parse(window, sizeof(window), &in1), 0);
	assert_int_not_equal(in0.dir_gen, in1.dir_gen);
	assert_int_equal(vtio_shm_dir_find(window, sizeof(window), 0, 3, &ei), 0);
	assert_int_not_equal(ei.id, E.drv.e.id);
	/* Device 0 goes away: its driver's commands fail, its interrupt says so. */
	assert_int_equal(vtio_shm_dev_remove(&E.devs[0].sd), 0);
	struct vtio_transport *t = vtio_shm_drv_transport(&E.drv);
	struct vtio_transport_negotiation n = {.supported = 0};
	assert_int_equal(vtio_transport_negotiate(t, &n), VTIO_EPERM);
	assert_int_equal(vtio_shm_drv_interrupt(&E.drv, E.drv.e.drv_bell + 1u), VTIO_ENODEV);
	assert_int_equal(vtio_shm_dev_poll(&E.devs[0].sd), VTIO_ENODEV);
	assert_int_equal(vtio_shm_dir_find(window, sizeof(window), 0, 42, &ei), VTIO_ENOENT);
	/* Device 1 still works end to end. */
	bind_driver(3);
	E.ndevs = 2;
	E.devs[0].q = NULL;
	struct vtio_transport_negotiation n2 = {.supported = 0};
	assert_int_equal(vtio_transport_negotiate(t, &n2), 0);
	/* The slot can be reused after a reclaim. */
	assert_int_equal(vtio_shm_dir_reclaim(&E.dir, E.devs[0].slot), 0);
	assert_int_equal(vtio_shm_dir_reclaim(&E.dir, E.devs[1].slot), VTIO_EBUSY);
	unsigned s;
	struct vtio_shm_dir_request rq = {.device_type = 9, .num_queues = 1};
	assert_int_equal(vtio_shm_dir_add(&E.dir, &rq, &s), 0);
	assert_int_equal(s, E.devs[0].slot);
}

/* A window that lies: every field the parser reads, corrupted. */
static void test_shm_directory_lies(void **state)
{
	(void)state;
	add_device(0, 42, true);
	struct vtio_shm_entry_info ei;
	struct vtio_shm_info in;
	assert_int_equal(vtio_shm_dir_parse(window, sizeof(window), &in), 0);
	unsigned slot = E.devs[0].slot;
	struct vtio_shm_header *h = (struct vtio_shm_header *)(void *)window;
	struct vtio_shm_entry *e = (struct vtio_shm_entry *)(void *)(window + in.dir_off) + slot;
	struct vtio_shm_header hs = *h;
	struct vtio_shm_entry es = *e;

	assert_int_equal(vtio_shm_dir_parse(window, 10, &in), VTIO_EINVAL);
	h->magic ^= 1;
	assert_int_equal(vtio_shm_dir_parse(window, sizeof(window), &in), VTIO_EBADMSG);
	*h = hs;
	h->version = vtio_le16(9);
	assert_int_equal(vtio_shm_dir_parse(window, sizeof(window), &in), VTIO_ENOTSUP);
	*h = hs;
	h->window_size = vtio_le64((uint64_t)WIN_SIZE * 2);
	assert_int_equal(vtio_shm_dir_parse(window, sizeof(window), &in), VTIO_ERANGE);
	*h = hs;
	h->dir_entries = vtio_le32(0x10000000u);
	assert_int_equal(vtio_shm_dir_parse(window, sizeof(window), &in), VTIO_EBADMSG);
	*h = hs;
	h->dir_off = vtio_le32(WIN_SIZE - 8);
	assert_int_equal(vtio_shm_dir_parse(window, sizeof(window), &in), VTIO_EBADMSG);
	*h = hs;

	static const size_t fields[] = {offsetof(struct vtio_shm_entry, regs_off),
					offsetof(struct vtio_shm_entry, queues_off),
					offsetof(struct vtio_shm_entry, config_off),
					offsetof(struct vtio_shm_entry, config_size),
					offsetof(struct vtio_shm_entry, bounce_off)};
	static const uint32_t lies[] = {0xfffffff0u, WIN_SIZE - 64u, 1u, 0u, 32u};
	for (unsigned f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		for (unsigned l = 0; l < sizeof(lies) / sizeof(lies[0]); l++) {
			*e = es;
			e->bounce_size = vtio_le32(4096); /* so bounce_off is checked */
			uint32_t v = vtio_le32(lies[l]);
			memcpy((unsigned char *)e + fields[f], &v, 4);
			int r = vtio_shm_dir_entry(window, sizeof(window), slot, &ei);
			/* Either refused, or every area it accepted lies in the window. */
			if (r == 0) {
				assert_true((uint64_t)ei.regs_off + sizeof(struct vtio_shm_regs) <=
					    WIN_SIZE);
				assert_true((uint64_t)ei.config_off + ei.config_size <= WIN_SIZE);
				assert_true((uint64_t)ei.bounce_off + ei.bounce_size <= WIN_SIZE);
			} else {
				assert_int_equal(r, VTIO_EBADMSG);
			}
		}
	}
	*e = es;
	e->num_queues = vtio_le16(0);
	assert_int_equal(vtio_shm_dir_entry(window, sizeof(window), slot, &ei), VTIO_EBADMSG);
	*e = es;
	e->state = vtio_le32(77);
	assert_int_equal(vtio_shm_dir_entry(window, sizeof(window), slot, &ei), VTIO_EBADMSG);
	*e = es;
	/* Register block on top of the directory. */
	e->regs_off = vtio_le32(in.dir_off);
	assert_int_equal(vtio_shm_dir_entry(window, sizeof(window), slot, &ei), VTIO_EBADMSG);
	*e = es;
	assert_int_equal(vtio_shm_dir_entry(window, sizeof(window), 99, &ei), VTIO_ERANGE);
	assert_int_equal(vtio_shm_dir_entry(window, sizeof(window), slot, &ei), 0);
}

/* The device side reads hostile commands: unknown ops, bad lengths,
 * out-of-range status values; each answered with an error, none crashes. */
static void test_shm_hostile_commands(void **state)
{
	(void)state;
	add_device(0, 42, true);
	struct tdev *d = &E.devs[0];
	struct vtio_shm_regs *g = d->sd.regs;
	static const uint32_t ops[][4] = {{0, 0, 0, 0},
					  {77, 0, 0, 0},
					  {VTIO_SHM_OP_STATUS, 0, 0x1ff, 0},
					  {VTIO_SHM_OP_CONFIG_WRITE, 0, 0, 0},
					  {VTIO_SHM_OP_CONFIG_WRITE, 0, 0, 65},
					  {VTIO_SHM_OP_CONFIG_WRITE, 0, 0xfffffff0u, 32},
					  {VTIO_SHM_OP_QUEUE_SET, 0x10000, 16, 0},
					  {VTIO_SHM_OP_QUEUE_ENABLE, 3, 0, 0},
					  {VTIO_SHM_OP_FEATURES, 0, 7, 1}};
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		g->op = vtio_le32(ops[i][0]);
		g->index = vtio_le32(ops[i][1]);
		g->arg0 = vtio_le32(ops[i][2]);
		g->arg1 = vtio_le32(ops[i][3]);
		g->req_seq = vtio_le32(vtio_le32(g->req_seq) + 1);
		assert_int_equal(vtio_shm_dev_poll(&d->sd), 1);
		assert_true((int32_t)vtio_le32((uint32_t)g->result) < 0);
		assert_int_equal(vtio_le32(g->ack_seq), vtio_le32(g->req_seq));
	}
	assert_true(d->sd.bad_commands >= 5);
}

/* The driver can write the whole window, directory included: the device
 * side keeps its own records and never follows what the driver wrote there. */
static void test_shm_driver_scribbles_directory(void **state)
{
	(void)state;
	add_device(0, 42, true);
	struct vtio_shm_info in;
	assert_int_equal(vtio_shm_dir_parse(window, sizeof(window), &in), 0);
	struct vtio_shm_header *h = (struct vtio_shm_header *)(void *)window;
	struct vtio_shm_entry *e = (struct vtio_shm_entry *)(void *)(window + in.dir_off);
	/* Lies everywhere the device once wrote. */
	h->dir_off = vtio_le32(0xfffff000u);
	for (unsigned i = 0; i < 8; i++) {
		e[i].state = vtio_le32(VTIO_SHM_FREE);
		e[i].id = 0;
		e[i].regs_off = vtio_le32(0xffffff00u);
		e[i].bounce_off = vtio_le32(0xffffff00u);
		e[i].bounce_size = vtio_le32(0xffffffffu);
	}
	/* The device still serves its slot, adds and removes devices in the
	 * window, and the slot it uses is not handed out again. */
	assert_int_equal(vtio_shm_dev_poll(&E.devs[0].sd), 0);
	unsigned s;
	struct vtio_shm_dir_request rq = {.device_type = 5, .num_queues = 2};
	assert_int_equal(vtio_shm_dir_add(&E.dir, &rq, &s), 0);
	assert_int_not_equal(s, E.devs[0].slot);
	assert_int_equal(vtio_shm_dir_remove(&E.dir, s), 0);
	assert_int_equal(vtio_shm_dir_remove(&E.dir, E.devs[0].slot), 0);
	assert_int_equal(vtio_shm_dev_poll(&E.devs[0].sd), VTIO_ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_shm_echo_split, setup),
	    cmocka_unit_test_setup(test_shm_echo_packed, setup),
	    cmocka_unit_test_setup(test_shm_device_first, setup),
	    cmocka_unit_test_setup(test_shm_queue_refused_before_driver_ok, setup),
	    cmocka_unit_test_setup(test_shm_config, setup),
	    cmocka_unit_test_setup(test_shm_runtime_add_remove, setup),
	    cmocka_unit_test_setup(test_shm_directory_lies, setup),
	    cmocka_unit_test_setup(test_shm_hostile_commands, setup),
	    cmocka_unit_test_setup(test_shm_driver_scribbles_directory, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
