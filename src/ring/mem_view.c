/* Memory views: region tables with accessor-op fallback, and the counting view. */
#include "vtio/mem.h"
#include "ring_internal.h" /* VTIO__PEER_FETCHED */

int vtio_mem_init(struct vtio_mem *m, const struct vtio_mem_region *regions, unsigned n)
{
	VTIO_ASSERT(m != NULL);
	if (n != 0 && regions == NULL)
		return VTIO_EINVAL;
	for (unsigned i = 0; i < n; i++) {
		const struct vtio_mem_region *r = &regions[i];
		if (r->len == 0 || r->addr + (r->len - 1) < r->addr)
			return VTIO_EINVAL;
		/* host + (len - 1) must be a representable local address. */
		if (r->len - 1 > (uint64_t)(UINTPTR_MAX - (uintptr_t)r->host))
			return VTIO_EINVAL;
		/* Sorted and disjoint, so the slow path may binary-search. */
		if (i > 0 && r->addr <= regions[i - 1].addr + (regions[i - 1].len - 1))
			return VTIO_EINVAL;
	}
	m->regions = regions;
	m->nregions = n;
	m->ops = NULL;
	m->ctx = NULL;
	return 0;
}

int vtio_mem_set_ops(struct vtio_mem *m, const struct vtio_mem_ops *ops, void *ctx)
{
	VTIO_ASSERT(m != NULL);
	if (ops == NULL || ops->read == NULL || ops->write == NULL)
		return VTIO_EINVAL;
	m->ops = ops;
	m->ctx = ctx;
	return 0;
}

/* Region containing addr, or NULL. Regions are sorted and disjoint. */
static const struct vtio_mem_region *find_region(const struct vtio_mem *m, uint64_t addr)
{
	unsigned lo = 0, hi = m->nregions;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct vtio_mem_region *r = &m->regions[mid];
		if (addr < r->addr)
			hi = mid;
		else if (addr - r->addr >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

int vtio_mem_translate_slow(const struct vtio_mem *m, uint64_t addr, uint64_t len, uint32_t perm,
			    void **ptr, uint64_t *maplen)
{
	const struct vtio_mem_region *r = find_region(m, addr);
	if (r != NULL) {
		if ((r->perm & perm) != perm)
			return VTIO_EACCES;
		uint64_t off = addr - r->addr;
		uint64_t room = r->len - off;
		*ptr = (void *)((uintptr_t)r->host + (uintptr_t)off);
		*maplen = len < room ? len : room;
		return 0;
	}
	if (m->ops == NULL)
		return VTIO_EFAULT;
	if (m->ops->translate == NULL)
		return VTIO_ENOTSUP;
	int err = m->ops->translate(m->ctx, addr, len, perm, ptr, maplen);
	/* Callers walk ranges by *maplen: 0 would spin, more than len would
	 * underflow their remaining count. A broken op is a fault, not a hang. */
	if (err == 0 && (*maplen == 0 || *maplen > len))
		return VTIO_EFAULT;
	return err;
}

/* Copy between local memory and the view, piece by piece: regions where they
 * cover the range, the ops' read/write where they do not. */
static int mem_copy(const struct vtio_mem *m, uint64_t addr, void *local, size_t len, int write)
{
	unsigned char *p = local;
	uint32_t perm = write ? VTIO_MEM_WRITE : VTIO_MEM_READ;
	while (len > 0) {
		if (addr + (len - 1) < addr)
			return VTIO_EFAULT; /* range wraps past 2^64 */
		void *host;
		uint64_t n;
		int err = vtio_mem_translate(m, addr, len, perm, &host, &n);
		if (err == VTIO_ENOTSUP) {
			/* No pointer for this range: the accessor ops take the rest. */
			return write ? m->ops->write(m->ctx, addr, p, len)
				     : m->ops->read(m->ctx, addr, p, len);
		}
		if (err != 0)
			return err;
		if (write) {
			VTIO_MEMCPY(host, p, (size_t)n);
		} else {
			VTIO_MEMCPY(p, host, (size_t)n);
			VTIO__PEER_FETCHED(host, (size_t)n);
		}
		p += n;
		addr += n;
		len -= (size_t)n;
	}
	return 0;
}

int vtio_mem_read(const struct vtio_mem *m, uint64_t addr, void *dst, size_t len)
{
	return mem_copy(m, addr, dst, len, 0);
}

int vtio_mem_write(const struct vtio_mem *m, uint64_t addr, const void *src, size_t len)
{
	/* mem_copy only reads from local memory when writing. */
	union {
		const void *c;
		void *v;
	} u = {.c = src};
	return mem_copy(m, addr, u.v, len, 1);
}

/* ---- Counting view ---------------------------------------------------------------- */

static void count(struct vtio_mem_counter *c, uint64_t addr, size_t len, int write)
{
	if (write)
		c->writes++;
	else
		c->reads++;
	for (unsigned i = 0; i < c->nranges; i++) {
		struct vtio_mem_count_range *r = &c->ranges[i];
		/* Overlap of [addr, addr+len) and [r->addr, r->addr+r->len). */
		if (addr < r->addr + r->len && r->addr < addr + len) {
			if (write)
				r->writes++;
			else
				r->reads++;
		}
	}
}

static int counter_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
	struct vtio_mem_counter *c = ctx;
	count(c, addr, len, 0);
	return vtio_mem_read(c->inner, addr, dst, len);
}

static int counter_write(void *ctx, uint64_t addr, const void *src, size_t len)
{
	struct vtio_mem_counter *c = ctx;
	count(c, addr, len, 1);
	return vtio_mem_write(c->inner, addr, src, len);
}

static const struct vtio_mem_ops counter_ops = {
    .read = counter_read,
    .write = counter_write,
    .translate = NULL,
};

int vtio_mem_counter_init(struct vtio_mem_counter *c, const struct vtio_mem *inner)
{
	if (c == NULL || inner == NULL)
		return VTIO_EINVAL;
	VTIO_MEMSET(c, 0, sizeof(*c));
	c->inner = inner;
	(void)vtio_mem_init(&c->view, NULL, 0);
	return vtio_mem_set_ops(&c->view, &counter_ops, c);
}

int vtio_mem_counter_watch(struct vtio_mem_counter *c, uint64_t addr, uint64_t len)
{
	if (c->nranges == VTIO_MEM_COUNT_RANGES)
		return VTIO_ENOSPC;
	c->ranges[c->nranges].addr = addr;
	c->ranges[c->nranges].len = len;
	return (int)c->nranges++;
}
