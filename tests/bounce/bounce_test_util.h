/* Helpers shared by the bounce tests: pools and sets in static or heap storage. */
#ifndef BOUNCE_TEST_UTIL_H
#define BOUNCE_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "vtio/bounce.h"

/* A pool plus its storage (heap, 64-byte aligned). */
struct tpool {
	struct vtio_bounce_pool *pool;
	void *store;
	unsigned char *mem;
	size_t size;
};

static inline void *tpool_aligned(size_t align, size_t size)
{
	size = (size + align - 1) / align * align;
	void *p = aligned_alloc(align, size);
	if (p == NULL)
		abort();
	return p;
}

/* Initialise a pool over fresh memory filled with "stale" 0xEE; returns the init result. */
static inline int tpool_init(struct tpool *t, struct vtio_bounce_pool_config *cfg)
{
	memset(t, 0, sizeof(*t));
	if (cfg->base == NULL) {
		t->mem = tpool_aligned(4096, cfg->size);
		memset(t->mem, 0xEE, cfg->size);
		cfg->base = t->mem;
	}
	t->size = cfg->size;
	size_t need = vtio_bounce_pool_size(cfg);
	t->store = tpool_aligned(64, need ? need : 64);
	return vtio_bounce_pool_init(&t->pool, t->store, need, cfg);
}

static inline void tpool_fini(struct tpool *t)
{
	free(t->store);
	free(t->mem);
	memset(t, 0, sizeof(*t));
}

static inline struct vtio_bounce_set *tset_new(void)
{
	void *st = tpool_aligned(64, vtio_bounce_set_size());
	struct vtio_bounce_set *s;
	if (vtio_bounce_set_init(&s, st, vtio_bounce_set_size()) != 0)
		abort();
	return s;
}

/* Linear pool config: size bytes at device address dev. */
static inline struct vtio_bounce_pool_config tcfg_linear(size_t size, uint64_t dev)
{
	struct vtio_bounce_pool_config c;
	memset(&c, 0, sizeof(c));
	c.size = size;
	c.mapping = VTIO_BOUNCE_MAP_LINEAR;
	c.dev_base = dev;
	return c;
}

/* CPU pointer of a bus address owned by some pool of the set. */
static inline unsigned char *tset_cpu(struct vtio_bounce_set *s, uint64_t bus)
{
	struct vtio_bounce_pool *p;
	void *cpu;
	if (vtio_bounce_set_find(s, bus, &p, NULL) != 0 ||
	    vtio_bounce_pool_dev_to_cpu(p, bus, &cpu) != 0)
		return NULL;
	return cpu;
}

#endif
