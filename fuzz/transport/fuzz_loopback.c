/*
 * Fuzz the loopback transport's device side against a hostile driver: the
 * input is a program of register writes (status, feature words, queue
 * registers, resets, notifications, config accesses), raw writes into the
 * driver memory the rings live in, and device-side service of every live
 * queue. Checks, after every step, the state machine's invariants:
 * a device queue is live only with FEATURES_OK and DRIVER_OK set and
 * FAILED clear (NOTIF-DEV-1, INIT-DEV-2); after a reset the status reads 0,
 * nothing is negotiated and no queue is live (RESET-DEV-1/2); the accepted
 * features are a subset of the offer (FEAT-DEV-2); nothing crashes or
 * reads outside the memory view.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vtio/transport.h"
#include "vtio/transport/loopback.h"

#include "fuzz_common.h"

#define ARENA 65536u
#define NQ    2u
#define QMAX  64u

static _Alignas(4096) unsigned char arena[ARENA];
static _Alignas(16) unsigned char storage[1u << 16];
static unsigned char config[64];

static struct vtio_loopback lb;
static uint64_t offered;
static int depth;

static void serve(uint16_t i, uint32_t budget)
{
	struct vtio_devq *q = vtio_loopback_devq(&lb, i);
	if (!q || depth > 2)
		return;
	depth++;
	fuzz_devq_serve(q, 0xa5, budget & 1u, 0);
	depth--;
}

static int dev_kick(void *ctx, uint16_t index, uint32_t data)
{
	(void)ctx;
	serve(index, data);
	return 0;
}

static void drv_irq(void *ctx, uint16_t index)
{
	(void)ctx;
	(void)index;
}

static const struct vtio_loopback_device_ops ops = {.kick = dev_kick};

static void check_invariants(void)
{
	uint8_t s = vtio_loopback_status(&lb);
	CHECK((vtio_loopback_features(&lb) & ~offered) == 0);
	for (uint16_t i = 0; i < NQ; i++) {
		if (vtio_loopback_devq(&lb, i) != NULL) {
			CHECK(s & VTIO_STATUS_DRIVER_OK);
			CHECK(s & VTIO_STATUS_FEATURES_OK);
			CHECK(!(s & VTIO_STATUS_FAILED));
		}
	}
	if (s == 0)
		CHECK(vtio_loopback_features(&lb) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	memset(arena, 0, sizeof(arena));
	struct vtio_mem_region region = {(uint64_t)(uintptr_t)arena, ARENA, arena, VTIO_MEM_RW};
	struct vtio_mem mem;
	if (vtio_mem_init(&mem, &region, 1) != 0)
		return 0;
	offered = VTIO_FEATURE(VTIO_F_VERSION_1) |
		  (u64(&in) & (VTIO_FEATURE(VTIO_F_INDIRECT_DESC) | VTIO_FEATURE(VTIO_F_EVENT_IDX) |
			       VTIO_FEATURE(VTIO_F_RING_PACKED) | VTIO_FEATURE(VTIO_F_IN_ORDER) |
			       VTIO_FEATURE(VTIO_F_RING_RESET) |
			       VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA) | 0xffffffull));
	struct vtio_loopback_config c;
	memset(&c, 0, sizeof(c));
	c.device_features = offered;
	c.num_queues = NQ;
	c.queue_max = QMAX;
	c.mem = &mem;
	c.config = config;
	c.config_len = sizeof(config);
	c.dev = &ops;
	size_t ss = vtio_loopback_storage_size(NQ, QMAX);
	if (ss > sizeof(storage) || vtio_loopback_init(&lb, storage, ss, &c) != 0)
		__builtin_trap();
	struct vtio_transport *t = vtio_loopback_transport(&lb);
	vtio_transport_set_irq(t, drv_irq, NULL, NULL);

	for (unsigned steps = 0; in.n && steps < 512; steps++) {
		uint8_t op = u8(&in) % 17;
		uint16_t idx = u8(&in) % (NQ + 1);
		switch (op) {
		case 0:
			t->fn.set_status(t, u8(&in));
			break;
		case 1:
			t->fn.set_features(t, u8(&in) % 3, u32(&in));
			break;
		case 2: {
			struct vtio_transport_queue r;
			r.num = u16(&in) % (QMAX * 2);
			r.desc_addr = fuzz_arena_addr(&in, arena);
			r.driver_addr = fuzz_arena_addr(&in, arena);
			r.device_addr = fuzz_arena_addr(&in, arena);
			(void)t->fn.queue_setup(t, idx, &r);
			break;
		}
		case 3:
			(void)t->fn.queue_enable(t, idx);
			break;
		case 4:
			(void)t->fn.queue_reset(t, idx);
			break;
		case 5:
			(void)t->fn.notify(t, u32(&in));
			break;
		case 6: {
			unsigned char b[80];
			uint8_t off = u8(&in), len = u8(&in) % sizeof(b);
			(void)t->fn.config_read(t, off, b, len);
			break;
		}
		case 7: {
			unsigned char b[80];
			uint8_t off = u8(&in), len = u8(&in) % sizeof(b);
			memset(b, u8(&in), len);
			(void)t->fn.config_write(t, off, b, len);
			break;
		}
		case 8:
			fuzz_arena_poke(&in, arena, ARENA);
			break;
		case 9:
			serve(idx, u32(&in));
			break;
		case 10:
			vtio_loopback_needs_reset(&lb);
			break;
		case 11:
			vtio_loopback_config_changed(&lb);
			break;
		case 12: {
			struct vtio_transport_negotiation n;
			memset(&n, 0, sizeof(n));
			n.supported = u64(&in);
			n.required = u8(&in) & 1 ? n.supported & u64(&in) : 0;
			(void)vtio_transport_negotiate(t, &n);
			break;
		}
		case 13:
			(void)vtio_transport_driver_ok(t);
			break;
		case 14:
			(void)vtio_transport_reset(t);
			CHECK(vtio_loopback_status(&lb) == 0);
			for (uint16_t i = 0; i < NQ; i++)
				CHECK(vtio_loopback_devq(&lb, i) == NULL);
			break;
		case 15:
			fuzz_arena_desc(&in, arena, ARENA); /* a descriptor inside the arena */
			break;
		default:
			(void)vtio_transport_notify(t, idx);
			break;
		}
		check_invariants();
	}
	return 0;
}
