/*
 * Fuzz the shared-memory transport's directory parser and driver role over an
 * arbitrary window (a device side that lies about every size and offset).
 * The input is the window. For every slot the parser accepts, every area it
 * reports must lie inside the window; binding the entry, reading every
 * mirror (status, features, queue maxima, config bytes, generation),
 * handling both doorbells and running a negotiation whose commands are
 * never answered must neither crash nor touch memory outside the window
 * (ASan checks the latter: the window is a heap block of exactly the input
 * size).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vtio/transport.h"
#include "vtio/transport/shm.h"

static int ring_nop(void *ctx, uint32_t which)
{
	(void)ctx;
	(void)which;
	return 0;
}

/* Nobody answers: give up at once. */
static int wait_fail(void *ctx)
{
	(void)ctx;
	return VTIO_ETIMEDOUT;
}

static void check_area(uint64_t off, uint64_t len, size_t size)
{
	if (off > size || len > size - off)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	/* 8-byte aligned copy of exactly the input size. */
	size_t alloc = size ? (size + 7u) & ~(size_t)7u : 8u;
	unsigned char *win = aligned_alloc(8, alloc);
	if (!win)
		return 0;
	memcpy(win, data, size);
	struct vtio_shm_info in;
	if (vtio_shm_dir_parse(win, size, &in) == 0) {
		check_area(in.dir_off, (uint64_t)in.dir_entries * sizeof(struct vtio_shm_entry),
			   size);
		for (unsigned s = 0; s <= in.dir_entries; s++) {
			struct vtio_shm_entry_info e;
			if (vtio_shm_dir_entry(win, size, s, &e) != 0)
				continue;
			check_area(e.regs_off, sizeof(struct vtio_shm_regs), size);
			check_area(e.queues_off,
				   (uint64_t)e.num_queues * sizeof(struct vtio_shm_queue), size);
			check_area(e.config_off, e.config_size, size);
			check_area(e.bounce_off, e.bounce_size, size);
			if (e.state != VTIO_SHM_LIVE)
				continue;
			static struct vtio_shm_drv d;
			struct vtio_shm_hooks h = {ring_nop, wait_fail, NULL};
			if (vtio_shm_drv_init(&d, win, size, &e, &h) != 0)
				continue;
			struct vtio_transport *t = vtio_shm_drv_transport(&d);
			(void)vtio_transport_get_status(t);
			(void)t->fn.get_features(t, 0);
			(void)t->fn.get_features(t, 1);
			(void)t->fn.get_features(t, 7);
			for (uint32_t q = 0; q <= e.num_queues; q++)
				(void)vtio_transport_queue_max(t, (uint16_t)q);
			unsigned char cfg[256];
			for (uint32_t off = 0; off < e.config_size && off < 4096u;
			     off += sizeof(cfg)) {
				size_t n = e.config_size - off < sizeof(cfg) ? e.config_size - off
									     : sizeof(cfg);
				(void)vtio_transport_config_read(t, off, cfg, n);
			}
			(void)vtio_transport_config_read(t, e.config_size, cfg, 1);
			(void)vtio_transport_config_generation(t);
			(void)vtio_shm_drv_interrupt(&d, e.drv_bell);
			(void)vtio_shm_drv_interrupt(&d, e.drv_bell + 1u);
			void *cpu;
			uint64_t bus;
			size_t bsize;
			if (vtio_shm_drv_bounce_area(&d, &cpu, &bus, &bsize) == 0)
				check_area((uint64_t)((unsigned char *)cpu - win), bsize, size);
			struct vtio_transport_negotiation n = {.supported = ~(uint64_t)0};
			(void)vtio_transport_negotiate(t, &n);
			unsigned char w[8] = {0};
			(void)vtio_transport_config_write(t, 0, w, sizeof(w));
		}
		struct vtio_shm_entry_info e;
		(void)vtio_shm_dir_find(win, size, 0, 0, &e);
	}
	free(win);
	return 0;
}
