/*
 * Fuzz the virtio-mmio register model (struct vtio_mmio_dev over the device
 * core) against a hostile driver: the input is a program of register reads
 * and writes at any offset and width, guided queue setups with ring
 * addresses in or out of the driver memory, raw writes into that memory
 * (the rings), InterruptACKs, kicks, and device-side events (service of
 * every live queue, config changes, NEEDS_RESET).
 *
 * Checks after every step: MagicValue / Version read 0x74726976 / 2
 * (MMIO-DEV-1, -2); InterruptStatus holds only defined bits and the
 * interrupt line hook's level matches it (MMIO-DEV-3); QueueReset reads 0
 * (MMIO-DEV-7..9); a status written 0 leaves status, InterruptStatus and
 * every QueueReady at 0 (MMIO-DEV-4, RESET-DEV-1); a device queue is live
 * only with FEATURES_OK and DRIVER_OK set and FAILED clear (NOTIF-DEV-1);
 * the accepted features are a subset of the offer; a refused access reads 0;
 * the counters add up; nothing crashes or reads outside the memory view.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vtio/transport/mmio_dev.h"

#include "fuzz_common.h"

#define ARENA 65536u
#define NQ    3u
#define QMAX  64u
#define BASE  0x40000000ull /* driver address of the arena */

static _Alignas(4096) unsigned char arena[ARENA];
static _Alignas(16) unsigned char dev_storage[1u << 17];
static _Alignas(16) unsigned char mmio_storage[256];
static unsigned char config[24];

static struct vtio_dev dev;
static struct vtio_mmio_dev md;
static struct vtio_devq *live[NQ];
static bool line;
static unsigned line_changes;
static uint64_t offered;
static int depth;

static void irq_line(void *ctx, bool level)
{
	(void)ctx;
	CHECK(level != line); /* only changes are reported */
	line = level;
	line_changes++;
}

static const struct vtio_mmio_dev_ops bus_ops = {.irq_line = irq_line};

static void serve(uint16_t i, uint32_t budget)
{
	struct vtio_devq *q = live[i];
	if (!q || depth > 2)
		return;
	depth++;
	fuzz_devq_serve(q, 0x5a, budget & 1u, 1);
	(void)vtio_dev_check_queue(&dev, i);
	depth--;
}

static void queue_state(void *ctx, uint16_t index, struct vtio_devq *q)
{
	(void)ctx;
	CHECK(index < NQ);
	live[index] = q;
}

static int kick(void *ctx, uint16_t index, uint32_t data)
{
	(void)ctx;
	serve(index, data);
	return 0;
}

static const struct vtio_dev_ops dev_ops = {.queue_state = queue_state, .kick = kick};

static uint32_t rd(uint32_t off)
{
	uint32_t v = 1;
	CHECK(vtio_mmio_dev_read(&md, off, 4, &v) == 0);
	return v;
}

static void check_invariants(void)
{
	CHECK(rd(VTIO_MMIO_MAGIC_VALUE) == VTIO_MMIO_MAGIC);
	CHECK(rd(VTIO_MMIO_VERSION) == 2);
	uint32_t isr = rd(VTIO_MMIO_INTERRUPT_STATUS);
	CHECK((isr & ~3u) == 0);
	CHECK(line == (isr != 0));
	CHECK(rd(VTIO_MMIO_QUEUE_RESET) == 0);
	uint8_t s = vtio_dev_get_status(&dev);
	CHECK(rd(VTIO_MMIO_STATUS) == s);
	CHECK((vtio_dev_features(&dev) & ~offered) == 0);
	for (uint16_t i = 0; i < NQ; i++) {
		CHECK(live[i] == vtio_dev_devq(&dev, i));
		if (live[i]) {
			CHECK(s & VTIO_STATUS_DRIVER_OK);
			CHECK(s & VTIO_STATUS_FEATURES_OK);
			CHECK(!(s & VTIO_STATUS_FAILED));
			CHECK(vtio_dev_queue_ready(&dev, i));
		}
	}
	struct vtio_mmio_dev_stats st;
	vtio_mmio_dev_get_stats(&md, &st);
	CHECK(st.bad_width + st.bad_offset + st.bad_direction <= st.reads + st.writes);
}

static void check_after_reset(void)
{
	CHECK(vtio_dev_get_status(&dev) == 0);
	CHECK(vtio_mmio_dev_interrupt_status(&md) == 0);
	CHECK(!line);
	CHECK(vtio_dev_features(&dev) == 0);
	for (uint16_t i = 0; i < NQ; i++) {
		CHECK(!vtio_dev_queue_ready(&dev, i));
		CHECK(live[i] == NULL);
	}
}

static uint32_t addr32(struct input *in, bool high)
{
	uint8_t k = u8(in);
	if (k == 0xff)
		return u32(in); /* anywhere */
	uint64_t a = BASE + (u16(in) & ~(uint16_t)(k & 1 ? 0 : 63));
	return high ? (uint32_t)(a >> 32) : (uint32_t)a;
}

static void access_any(struct input *in, bool write)
{
	static const unsigned widths[] = {4, 4, 4, 1, 2, 0, 3, 8};
	uint32_t off = u8(in) & 1u ? u32(in) : (uint32_t)u16(in) & 0x1ffu;
	unsigned width = widths[u8(in) & 7u];
	if (write) {
		(void)vtio_mmio_dev_write(&md, off, width, u32(in));
	} else {
		uint32_t v = 0xffffffffu;
		int err = vtio_mmio_dev_read(&md, off, width, &v);
		CHECK(!err || v == 0);
		if (!err && width < 4)
			CHECK(v >> (8 * width) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	memset(arena, 0, sizeof(arena));
	memset(live, 0, sizeof(live));
	line = false;
	line_changes = 0;
	depth = 0;
	struct vtio_mem_region region = {BASE, ARENA, arena, VTIO_MEM_RW};
	struct vtio_mem mem;
	if (vtio_mem_init(&mem, &region, 1) != 0)
		__builtin_trap();
	offered = VTIO_FEATURE(VTIO_F_VERSION_1) |
		  ((uint64_t)u32(&in) << 24 &
		   (VTIO_FEATURE(VTIO_F_INDIRECT_DESC) | VTIO_FEATURE(VTIO_F_EVENT_IDX) |
		    VTIO_FEATURE(VTIO_F_RING_PACKED) | VTIO_FEATURE(VTIO_F_IN_ORDER) |
		    VTIO_FEATURE(VTIO_F_RING_RESET) | VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA) |
		    VTIO_FEATURE(VTIO_F_ORDER_PLATFORM) | VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM))) |
		  0x3fu;
	struct vtio_dev_config dc = {
	    .device_id = 2,
	    .features = offered,
	    .num_queues = NQ,
	    .queue_max = QMAX,
	    .mem = &mem,
	    .config = config,
	    .config_len = sizeof(config),
	    .ops = &dev_ops,
	};
	size_t ds = vtio_dev_storage_size(NQ, QMAX);
	CHECK(ds && ds <= sizeof(dev_storage));
	CHECK(vtio_dev_init(&dev, dev_storage, ds, &dc) == 0);
	static const struct vtio_mmio_dev_shm shm[2] = {{0x80000000ull, 0x1000}, {0, 0}};
	struct vtio_mmio_dev_config mc = {.dev = &dev, .ops = &bus_ops, .shm = shm, .num_shm = 2};
	size_t ms = vtio_mmio_dev_storage_size(NQ);
	CHECK(ms <= sizeof(mmio_storage));
	CHECK(vtio_mmio_dev_init(&md, mmio_storage, ms, &mc) == 0);
	check_invariants();

	for (unsigned steps = 0; in.n && steps < 512; steps++) {
		uint8_t op = u8(&in) % 14;
		switch (op) {
		case 0: /* a well-formed control register write */
		{
			uint32_t off = (uint32_t)(u8(&in) & 0x3fu) * 4u;
			uint32_t v = u32(&in);
			(void)vtio_mmio_dev_write(&md, off, 4, v);
			if (off == VTIO_MMIO_STATUS && (uint8_t)v == 0)
				check_after_reset();
			break;
		}
		case 1: /* a well-formed control register read */
		{
			uint32_t v = 0xffffffffu;
			int err = vtio_mmio_dev_read(&md, (uint32_t)(u8(&in) & 0x3fu) * 4u, 4, &v);
			CHECK(!err || v == 0);
			break;
		}
		case 2:
			access_any(&in, false);
			break;
		case 3:
			access_any(&in, true);
			break;
		case 4: /* status */
			(void)vtio_mmio_dev_write(&md, VTIO_MMIO_STATUS, 4, u8(&in));
			if (vtio_dev_get_status(&dev) == 0)
				check_after_reset();
			break;
		case 5: /* feature word */
			(void)vtio_mmio_dev_write(&md, VTIO_MMIO_DRIVER_FEATURES_SEL, 4,
						  u8(&in) % 3u);
			(void)vtio_mmio_dev_write(&md, VTIO_MMIO_DRIVER_FEATURES, 4, u32(&in));
			break;
		case 6: /* a queue set up the way a driver does it, more or less */
		{
			(void)vtio_mmio_dev_write(&md, VTIO_MMIO_QUEUE_SEL, 4, u8(&in) % (NQ + 1));
			(void)vtio_mmio_dev_write(&md, VTIO_MMIO_QUEUE_NUM, 4,
						  u8(&in) % (QMAX * 2));
			static const uint32_t regs[] = {
			    VTIO_MMIO_QUEUE_DESC_LOW,  VTIO_MMIO_QUEUE_DESC_HIGH,
			    VTIO_MMIO_QUEUE_AVAIL_LOW, VTIO_MMIO_QUEUE_AVAIL_HIGH,
			    VTIO_MMIO_QUEUE_USED_LOW,  VTIO_MMIO_QUEUE_USED_HIGH};
			for (unsigned r = 0; r < 6; r++)
				(void)vtio_mmio_dev_write(&md, regs[r], 4, addr32(&in, r & 1u));
			if (u8(&in) & 1u)
				(void)vtio_mmio_dev_write(&md, VTIO_MMIO_QUEUE_READY, 4, 1);
			break;
		}
		case 7: /* raw driver memory (ring contents) */
			fuzz_arena_poke(&in, arena, ARENA);
			break;
		case 8: /* kick */
			(void)vtio_mmio_dev_write(&md, VTIO_MMIO_QUEUE_NOTIFY, 4,
						  u8(&in) & 1u ? u32(&in) : u8(&in) % (NQ + 1));
			break;
		case 9: /* the driver acks some bits */
			(void)vtio_mmio_dev_write(&md, VTIO_MMIO_INTERRUPT_ACK, 4, u32(&in));
			break;
		case 10: /* device: serve a queue */
			serve(u8(&in) % NQ, u8(&in));
			break;
		case 11: /* device: config change */
		{
			unsigned char b[4] = {u8(&in), u8(&in), u8(&in), u8(&in)};
			(void)vtio_dev_config_set(&dev, u8(&in) % 32u, b, u8(&in) % 5u);
			break;
		}
		case 12: /* device: fatal error */
			vtio_dev_needs_reset(&dev);
			break;
		default: /* config space accesses */
		{
			static const unsigned w[] = {1, 2, 4, 4};
			uint32_t off = VTIO_MMIO_CONFIG + (u8(&in) & 0x1fu);
			unsigned width = w[u8(&in) & 3u];
			if (u8(&in) & 1u) {
				(void)vtio_mmio_dev_write(&md, off, width, u32(&in));
			} else {
				uint32_t v = 0xffffffffu;
				int err = vtio_mmio_dev_read(&md, off, width, &v);
				CHECK(!err || v == 0);
			}
			break;
		}
		}
		check_invariants();
	}
	/* A reset always brings everything back (RESET-DEV-1, MMIO-DEV-4). */
	(void)vtio_mmio_dev_write(&md, VTIO_MMIO_STATUS, 4, 0);
	check_after_reset();
	return 0;
}
