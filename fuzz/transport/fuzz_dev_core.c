/*
 * Fuzz the device core (vtio_dev) through its wire-side calls, as a hostile
 * driver on any transport would drive it: status writes in any order,
 * feature words at any time, queue registers / enable / disable / reset,
 * notifications with any data, config reads and writes at any offset, raw
 * writes into the driver memory the rings live in; and the device side in
 * between (serving live queues, config changes, NEEDS_RESET, memory view
 * changes), plus the feature mediation helper on arbitrary inputs.
 *
 * Invariants checked after every step (and inside every hook):
 * - status only has bits the rules allow: never SUSPEND or 0x20;
 *   FEATURES_OK only with DRIVER; a status bit disappears only at a reset
 *   (INIT-DRV-6 enforced from the device side, RESET-DEV-1);
 * - features are a subset of the offer, with VERSION_1, and non-zero
 *   exactly when FEATURES_OK is set (FEAT-DEV-2, FEAT-DEV-8);
 * - no live queue, no queue_state(devq), no kick delivered and no
 *   used-buffer notification raised without DRIVER_OK + FEATURES_OK and
 *   without FAILED (NOTIF-DEV-1, INIT-DEV-2); the queue the hook was given
 *   is the one vtio_dev_devq() returns;
 * - after a reset: status 0, nothing negotiated, no queue enabled or live,
 *   every queue register 0 (RESET-DEV-1/2, MMIO-DEV-4);
 * - an enabled queue's size is within its maximum (a power of two for
 *   split); the config generation never goes back (INIT-DEV-5);
 * - mediation results never carry bit 30 or 42..49, always VERSION_1, and
 *   never a device-type bit outside far & peer & type_mask or a ring bit
 *   the mediator's link lacks.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vtio/dev.h"

#include "fuzz_common.h"

#define ARENA 65536u
#define NQ    3u
#define QMAX  64u

static _Alignas(4096) unsigned char arena[ARENA];
static _Alignas(16) unsigned char storage[1u << 17];
static unsigned char config[40];

static struct vtio_dev dev;
static struct vtio_mem mem, mem_small;
static uint64_t offered;
static struct vtio_devq *hook_q[NQ];
static int depth;

static bool may_run(void)
{
	uint8_t s = vtio_dev_status(&dev);
	return (s & (VTIO_STATUS_DRIVER_OK | VTIO_STATUS_FEATURES_OK | VTIO_STATUS_FAILED)) ==
	       (VTIO_STATUS_DRIVER_OK | VTIO_STATUS_FEATURES_OK);
}

static void serve(uint16_t i, uint32_t budget)
{
	struct vtio_devq *q = vtio_dev_devq(&dev, i);
	if (!q || depth > 2)
		return;
	depth++;
	fuzz_devq_serve(q, 0xa5, budget & 1u, 0);
	(void)vtio_dev_check_queue(&dev, i);
	depth--;
}

/* ---- Device type hooks: check the rules from the inside ------------------------------ */

static int h_features_ok(void *ctx, uint64_t f)
{
	(void)ctx;
	CHECK((f & ~offered) == 0);
	CHECK(f & VTIO_FEATURE(VTIO_F_VERSION_1));
	return (f & VTIO_FEATURE(7)) ? 1 : 0; /* the type refuses bit 7 */
}

static void h_queue_state(void *ctx, uint16_t index, struct vtio_devq *q)
{
	(void)ctx;
	CHECK(index < NQ);
	if (q) {
		CHECK(may_run());
		CHECK(hook_q[index] == NULL);
	} else {
		CHECK(hook_q[index] != NULL);
	}
	hook_q[index] = q;
}

static void h_reset(void *ctx)
{
	(void)ctx;
	for (uint16_t i = 0; i < NQ; i++)
		CHECK(hook_q[i] == NULL);
}

static int h_kick(void *ctx, uint16_t index, uint32_t data)
{
	(void)ctx;
	CHECK(may_run());
	CHECK(hook_q[index] != NULL);
	serve(index, data);
	return 0;
}

static void h_driver_ok(void *ctx)
{
	(void)ctx;
	CHECK(may_run());
}

static const struct vtio_dev_ops type_ops = {
    .features_ok = h_features_ok,
    .queue_state = h_queue_state,
    .reset = h_reset,
    .kick = h_kick,
    .driver_ok = h_driver_ok,
};

static int w_vq_irq(void *ctx, uint16_t index)
{
	(void)ctx;
	CHECK(may_run());
	CHECK(index < NQ && hook_q[index] != NULL);
	return 0;
}

static void w_config_irq(void *ctx)
{
	(void)ctx;
	CHECK(vtio_dev_status(&dev) & VTIO_STATUS_DRIVER_OK);
}

static const struct vtio_dev_transport_ops wire_ops = {
    .name = "fuzz",
    .vq_irq = w_vq_irq,
    .config_irq = w_config_irq,
};

/* ---- Invariants ------------------------------------------------------------------------- */

static uint8_t last_status;
static uint32_t last_gen;

static void check_invariants(bool was_reset)
{
	uint8_t s = vtio_dev_status(&dev);
	uint64_t f = vtio_dev_features(&dev);
	CHECK((s & (VTIO_STATUS_SUSPEND | 0x20u)) == 0);
	if (s & VTIO_STATUS_FEATURES_OK)
		CHECK(s & VTIO_STATUS_DRIVER);
	if (!was_reset)
		CHECK((last_status & ~s) == 0);
	last_status = s;
	CHECK((f & ~offered) == 0);
	CHECK((f != 0) == ((s & VTIO_STATUS_FEATURES_OK) != 0));
	if (f)
		CHECK(f & VTIO_FEATURE(VTIO_F_VERSION_1));
	uint32_t g = vtio_dev_config_generation(&dev);
	CHECK(g >= last_gen);
	last_gen = g;
	bool packed = (f & VTIO_FEATURE(VTIO_F_RING_PACKED)) != 0;
	for (uint16_t i = 0; i < NQ; i++) {
		struct vtio_devq *q = vtio_dev_devq(&dev, i);
		CHECK(q == hook_q[i]);
		if (q) {
			CHECK(may_run());
			CHECK(vtio_dev_queue_ready(&dev, i));
		}
		struct vtio_transport_queue r;
		CHECK(vtio_dev_queue_get(&dev, i, &r) == 0);
		if (vtio_dev_queue_ready(&dev, i)) {
			CHECK(r.num >= 1 && r.num <= vtio_dev_queue_max(&dev, i));
			if (!packed)
				CHECK((r.num & (r.num - 1)) == 0);
		}
		if (s == 0) {
			CHECK(!vtio_dev_queue_ready(&dev, i));
			CHECK((r.num | r.desc_addr | r.driver_addr | r.device_addr) == 0);
		}
	}
	CHECK(vtio_dev_devq(&dev, NQ) == NULL);
	CHECK(!vtio_dev_queue_ready(&dev, NQ));
	CHECK(vtio_dev_queue_max(&dev, NQ) == 0);
	if (s == 0) {
		CHECK(f == 0);
		CHECK(vtio_dev_get_driver_features(&dev, 0) == 0);
		CHECK(vtio_dev_get_driver_features(&dev, 1) == 0);
	}
}

static void check_mediation(struct input *in)
{
	struct vtio_dev_mediation m;
	m.far = u64(in);
	m.peer = u8(in) & 1 ? VTIO_DEV_MEDIATE_ANY : u64(in);
	m.type_mask = u64(in);
	m.link = u64(in);
	m.flags = u8(in) & 1u;
	uint64_t out = 1;
	int err = vtio_dev_mediate_features(&m, &out);
	const uint64_t v1 = VTIO_FEATURE(VTIO_F_VERSION_1);
	if (!(m.far & v1) || !(m.peer & v1)) {
		CHECK(err == VTIO_ENOTSUP && out == 0);
		return;
	}
	CHECK(err == 0);
	CHECK(out & v1);
	CHECK((out & ~m.peer) == 0);
	CHECK((out & VTIO_FEATURE(VTIO_F_BAD_FEATURE)) == 0);
	CHECK((out & ((((uint64_t)1 << 50) - 1) & ~(((uint64_t)1 << 42) - 1))) == 0);
	uint64_t type = out & ~VTIO_FEATURES_TRANSPORT_RANGE;
	CHECK((type & ~(m.far & m.type_mask)) == 0);
	uint64_t caps = out & VTIO_FEATURES_RING_CAPS;
	CHECK((caps & ~m.link) == 0);
	if (m.flags & VTIO_DEV_MEDIATE_RING_THROUGH)
		CHECK((caps & ~m.far) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	memset(arena, 0, sizeof(arena));
	memset(hook_q, 0, sizeof(hook_q));
	depth = 0;
	struct vtio_mem_region region = {(uint64_t)(uintptr_t)arena, ARENA, arena, VTIO_MEM_RW};
	struct vtio_mem_region half = {(uint64_t)(uintptr_t)arena, ARENA / 2, arena, VTIO_MEM_RW};
	if (vtio_mem_init(&mem, &region, 1) != 0 || vtio_mem_init(&mem_small, &half, 1) != 0)
		return 0;
	offered = VTIO_FEATURE(VTIO_F_VERSION_1) |
		  (u64(&in) & (VTIO_FEATURES_RING | 0xffffffull | ~(((uint64_t)1 << 50) - 1)));
	uint8_t setup = u8(&in);
	uint32_t per[NQ] = {QMAX, 1u + (setup & 31u), 1u + (uint32_t)(setup >> 2)};
	struct vtio_dev_config c;
	memset(&c, 0, sizeof(c));
	c.device_id = 7;
	c.features = offered;
	c.num_queues = NQ;
	c.queue_max = QMAX;
	c.queue_max_per = (setup & 0x80u) ? per : NULL;
	c.mem = (setup & 0x40u) ? NULL : &mem;
	c.config = config;
	c.config_len = sizeof(config);
	c.ops = &type_ops;
	c.max_indirect = setup & 0x20u ? 16 : 0;
	size_t ss = vtio_dev_storage_size(NQ, QMAX);
	if (ss > sizeof(storage) || vtio_dev_init(&dev, storage, ss, &c) != 0)
		__builtin_trap();
	if (vtio_dev_bind(&dev, &wire_ops, NULL) != 0)
		__builtin_trap();
	last_status = 0;
	last_gen = 0;
	check_invariants(true);

	for (unsigned steps = 0; in.n && steps < 512; steps++) {
		uint8_t op = u8(&in) % 20;
		uint16_t idx = u8(&in) % (NQ + 1);
		bool was_reset = false;
		switch (op) {
		case 0: {
			uint8_t v = u8(&in);
			vtio_dev_set_status(&dev, v);
			was_reset = v == 0;
			break;
		}
		case 1: /* the polite driver: OR in bits */
			vtio_dev_set_status(&dev, (uint8_t)(vtio_dev_get_status(&dev) | u8(&in)));
			break;
		case 2:
			(void)vtio_dev_set_driver_features(&dev, u8(&in) % 3, u32(&in));
			break;
		case 3: {
			struct vtio_transport_queue r;
			r.num = u16(&in) % (QMAX * 2);
			r.desc_addr = fuzz_arena_addr(&in, arena);
			r.driver_addr = fuzz_arena_addr(&in, arena);
			r.device_addr = fuzz_arena_addr(&in, arena);
			(void)vtio_dev_queue_set(&dev, idx, &r);
			break;
		}
		case 4:
			(void)vtio_dev_queue_enable(&dev, idx);
			break;
		case 5:
			(void)vtio_dev_queue_disable(&dev, idx);
			break;
		case 6:
			(void)vtio_dev_queue_reset(&dev, idx);
			break;
		case 7:
			(void)vtio_dev_notify(&dev, u8(&in) & 1 ? u32(&in) : idx);
			break;
		case 8: {
			unsigned char b[80];
			uint8_t off = u8(&in), len = u8(&in) % sizeof(b);
			(void)vtio_dev_config_read(&dev, off, b, len);
			break;
		}
		case 9: {
			unsigned char b[80];
			uint8_t off = u8(&in), len = u8(&in) % sizeof(b);
			memset(b, u8(&in), len);
			(void)vtio_dev_config_write(&dev, off, b, len);
			break;
		}
		case 10:
			fuzz_arena_poke(&in, arena, ARENA);
			break;
		case 11:
			serve(idx, u32(&in));
			break;
		case 12:
			vtio_dev_needs_reset(&dev);
			break;
		case 13:
			vtio_dev_config_changed(&dev);
			break;
		case 14: {
			unsigned char b[8];
			memset(b, u8(&in), sizeof(b));
			(void)vtio_dev_config_set(&dev, u8(&in), b, u8(&in) % 9);
			break;
		}
		case 15: {
			uint8_t k = u8(&in) % 3;
			const struct vtio_mem *m = k == 0 ? NULL : k == 1 ? &mem : &mem_small;
			if (u8(&in) & 1)
				vtio_dev_set_mem(&dev, m);
			else
				(void)vtio_dev_queue_set_mem(&dev, idx, m);
			break;
		}
		case 16:
			(void)vtio_dev_get_features(&dev, u32(&in));
			(void)vtio_dev_get_driver_features(&dev, u32(&in));
			(void)vtio_dev_check_queue(&dev, idx);
			break;
		case 17:
			check_mediation(&in);
			break;
		case 18:
			fuzz_arena_desc(&in, arena, ARENA); /* a descriptor inside the arena */
			break;
		default: {
			/* The whole init sequence in one step, with a queue of a
			 * size and place from the input, so short inputs reach
			 * live queues. */
			uint64_t want = u64(&in) & offered;
			vtio_dev_set_status(&dev, 0);
			was_reset = true;
			check_invariants(true);
			vtio_dev_set_status(&dev, VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_DRIVER);
			(void)vtio_dev_set_driver_features(&dev, 0, (uint32_t)want);
			(void)vtio_dev_set_driver_features(
			    &dev, 1, (uint32_t)((want | VTIO_FEATURE(VTIO_F_VERSION_1)) >> 32));
			vtio_dev_set_status(&dev, VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_DRIVER |
						      VTIO_STATUS_FEATURES_OK);
			struct vtio_transport_queue r;
			r.num = 1u << (u8(&in) % 7);
			uint16_t base = (uint16_t)(u16(&in) & 0x7ff0u);
			r.desc_addr = (uint64_t)(uintptr_t)arena + base;
			r.driver_addr = r.desc_addr + 16u * r.num;
			r.device_addr = (r.driver_addr + 6u + 2u * r.num + 3u) & ~(uint64_t)3u;
			uint16_t qi = idx % NQ;
			(void)vtio_dev_queue_set(&dev, qi, &r);
			(void)vtio_dev_queue_enable(&dev, qi);
			vtio_dev_set_status(
			    &dev, (uint8_t)(vtio_dev_get_status(&dev) | VTIO_STATUS_DRIVER_OK));
			break;
		}
		}
		check_invariants(was_reset);
	}
	return 0;
}
