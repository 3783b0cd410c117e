/*
 * Debug layer, after Linux's DMA_API_DEBUG: a table of every live mapping
 * and coherent allocation, with unmapped ones kept as tombstones until their
 * slot is reused, so a second unmap or a late access is told apart from an
 * address that was never mapped. Findings go to counters, a last-finding
 * record and an optional callback; nothing aborts.
 *
 * Misuse that would make the layers below corrupt their own state (double
 * unmap, unmap or sync of something not mapped, a sync running past its
 * mapping, a free of something not allocated) is reported and not passed
 * down; mismatched size or direction on unmap and a sync in the wrong
 * direction are reported and passed down unchanged, as the kernel does.
 */
#include "vtio/dma_layers.h"

#if VTIO_CONFIG_DMA

enum { ST_FREE = 0, ST_LIVE = 1, ST_DEAD = 2 };
#define NIL UINT32_MAX

/* Live entries form a doubly linked list, so the success paths never look at
 * tombstones or free slots. */
static void link_live(struct vtio_dma_debug *d, struct vtio_dma_debug_entry *e)
{
	uint32_t i = (uint32_t)(e - d->tab);
	e->prev = NIL;
	e->next = d->live_head;
	if (d->live_head != NIL)
		d->tab[d->live_head].prev = i;
	d->live_head = i;
}

static void unlink_live(struct vtio_dma_debug *d, struct vtio_dma_debug_entry *e)
{
	if (e->prev != NIL)
		d->tab[e->prev].next = e->next;
	else
		d->live_head = e->next;
	if (e->next != NIL)
		d->tab[e->next].prev = e->prev;
	e->next = e->prev = NIL;
}
enum { K_MAP = 0, K_ALLOC = 1 };

static struct vtio_dma_debug *dbg_of(struct vtio_dma_layer *l)
{
	return (struct vtio_dma_debug *)l->priv;
}

static void rep_init(struct vtio_dma_debug_report *r, enum vtio_dma_debug_kind kind, uint64_t bus,
		     uint64_t len, int dir)
{
	r->kind = kind;
	r->bus = bus;
	r->len = len;
	r->dir = dir;
	r->map_bus = 0;
	r->map_len = 0;
	r->map_dir = -1;
}

static void rep_entry(struct vtio_dma_debug_report *r, const struct vtio_dma_debug_entry *e)
{
	r->map_bus = e->bus;
	r->map_len = e->len;
	r->map_dir = e->kind == K_ALLOC ? -1 : (int)e->dir;
}

/* Count and record under the lock. */
static void note(struct vtio_dma_debug *d, const struct vtio_dma_debug_report *r)
{
	d->counts[r->kind]++;
	d->last = *r;
}

/* Call the report callback for each finding, lock released. */
static void emit(struct vtio_dma_debug *d, const struct vtio_dma_debug_report *r, unsigned n)
{
	if (d->report == NULL)
		return;
	for (unsigned i = 0; i < n; i++)
		d->report(d->report_ctx, &r[i]);
}

static struct vtio_dma_debug_entry *find_live_at(struct vtio_dma_debug *d, uint64_t bus,
						 unsigned kind, uint64_t len, uint8_t dir)
{
	struct vtio_dma_debug_entry *best = NULL;
	for (uint32_t i = d->live_head; i != NIL; i = d->tab[i].next) {
		struct vtio_dma_debug_entry *e = &d->tab[i];
		if (e->kind != kind || e->bus != bus)
			continue;
		if (e->len == len && e->dir == dir)
			return e; /* the same buffer may be mapped twice: prefer the exact one */
		if (best == NULL)
			best = e;
	}
	return best;
}

/* The live entry containing bus (any kind), else NULL. */
static struct vtio_dma_debug_entry *find_live_containing(struct vtio_dma_debug *d, uint64_t bus)
{
	for (uint32_t i = d->live_head; i != NIL; i = d->tab[i].next) {
		struct vtio_dma_debug_entry *e = &d->tab[i];
		if (bus >= e->bus && bus - e->bus < e->len)
			return e;
	}
	return NULL;
}

/* The newest tombstone containing bus, else NULL. */
static struct vtio_dma_debug_entry *find_dead_containing(struct vtio_dma_debug *d, uint64_t bus)
{
	struct vtio_dma_debug_entry *best = NULL;
	for (size_t i = 0; i < d->hw; i++) {
		struct vtio_dma_debug_entry *e = &d->tab[i];
		if (e->state == ST_DEAD && bus >= e->bus && bus - e->bus < e->len &&
		    (best == NULL || e->seq > best->seq))
			best = e;
	}
	return best;
}

/* Track a new mapping; false when the table is full of live entries. */
static bool track(struct vtio_dma_debug *d, uint64_t bus, uint64_t len, uint8_t dir, unsigned kind)
{
	for (size_t k = 0; k < d->n; k++) {
		size_t i = d->cursor;
		d->cursor = i + 1 == d->n ? 0 : i + 1;
		struct vtio_dma_debug_entry *e = &d->tab[i];
		if (e->state == ST_LIVE)
			continue;
		e->bus = bus;
		e->len = len;
		e->dir = dir;
		e->kind = (uint8_t)kind;
		e->state = ST_LIVE;
		e->seq = ++d->seq;
		link_live(d, e);
		if (i >= d->hw)
			d->hw = i + 1;
		d->live++;
		return true;
	}
	d->overflowed = true;
	return false;
}

static void retire(struct vtio_dma_debug *d, struct vtio_dma_debug_entry *e)
{
	e->state = ST_DEAD;
	e->seq = ++d->seq;
	unlink_live(d, e);
	d->live--;
}

static void after_new(struct vtio_dma_debug *d, uint64_t bus, uint64_t len, uint8_t dir,
		      unsigned kind)
{
	struct vtio_dma_debug_report r;
	bool ok;
	VTIO_LOCK(&d->lock);
	ok = track(d, bus, len, dir, kind);
	if (!ok) {
		rep_init(&r, VTIO_DMA_DEBUG_TABLE_FULL, bus, len, kind == K_MAP ? dir : -1);
		note(d, &r);
	}
	VTIO_UNLOCK(&d->lock);
	if (!ok)
		emit(d, &r, 1);
}

static int debug_map(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		     uint32_t attrs, uint64_t *bus)
{
	int err = vtio_dma_prev_map(l, cpu, len, dir, attrs, bus);
	if (err == 0)
		after_new(dbg_of(l), *bus, len, (uint8_t)dir, K_MAP);
	return err;
}

static int debug_unmap(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		       uint32_t attrs)
{
	struct vtio_dma_debug *d = dbg_of(l);
	struct vtio_dma_debug_report r[2];
	unsigned nr = 0;
	int refuse = 0;

	VTIO_LOCK(&d->lock);
	struct vtio_dma_debug_entry *e = find_live_at(d, bus, K_MAP, len, (uint8_t)dir);
	if (e != NULL) {
		if (e->len != len) {
			rep_init(&r[nr], VTIO_DMA_DEBUG_UNMAP_SIZE, bus, len, (int)dir);
			rep_entry(&r[nr++], e);
		}
		if (e->dir != (uint8_t)dir) {
			rep_init(&r[nr], VTIO_DMA_DEBUG_UNMAP_DIR, bus, len, (int)dir);
			rep_entry(&r[nr++], e);
		}
		retire(d, e);
	} else {
		struct vtio_dma_debug_entry *t = find_dead_containing(d, bus);
		if (t != NULL && t->bus == bus && t->kind == K_MAP) {
			rep_init(&r[nr], VTIO_DMA_DEBUG_DOUBLE_UNMAP, bus, len, (int)dir);
			rep_entry(&r[nr++], t);
			refuse = VTIO_EALREADY;
		} else if (!d->overflowed) {
			/* With untracked mappings around, an unknown address may be legal. */
			rep_init(&r[nr++], VTIO_DMA_DEBUG_UNMAP_UNKNOWN, bus, len, (int)dir);
			refuse = VTIO_ENOENT;
		}
	}
	for (unsigned i = 0; i < nr; i++)
		note(d, &r[i]);
	VTIO_UNLOCK(&d->lock);
	emit(d, r, nr);
	if (refuse != 0)
		return refuse;

	int err = vtio_dma_prev_unmap(l, bus, len, dir, attrs);
	if (err != 0 && e != NULL) {
		/* Still mapped below: keep tracking it. */
		VTIO_LOCK(&d->lock);
		if (e->state == ST_DEAD && e->bus == bus) {
			e->state = ST_LIVE;
			link_live(d, e);
			d->live++;
		}
		VTIO_UNLOCK(&d->lock);
	}
	return err;
}

/* Shared check of a sync; 0 to pass it down, else the error to return. */
static int check_sync(struct vtio_dma_debug *d, uint64_t bus, size_t len, enum vtio_dma_dir dir)
{
	struct vtio_dma_debug_report r;
	bool found = false;
	int ret = 0;
	VTIO_LOCK(&d->lock);
	struct vtio_dma_debug_entry *e = find_live_containing(d, bus);
	if (e == NULL) {
		struct vtio_dma_debug_entry *t = find_dead_containing(d, bus);
		if (t != NULL) {
			rep_init(&r, VTIO_DMA_DEBUG_USE_AFTER_UNMAP, bus, len, (int)dir);
			rep_entry(&r, t);
			found = true;
			ret = VTIO_EFAULT;
		} else if (!d->overflowed) {
			rep_init(&r, VTIO_DMA_DEBUG_SYNC_UNMAPPED, bus, len, (int)dir);
			found = true;
			ret = VTIO_EFAULT;
		}
	} else if ((uint64_t)len > e->len - (bus - e->bus)) {
		rep_init(&r, VTIO_DMA_DEBUG_SYNC_RANGE, bus, len, (int)dir);
		rep_entry(&r, e);
		found = true;
		ret = VTIO_ERANGE;
	} else if (e->kind == K_MAP && e->dir != VTIO_DMA_BIDIRECTIONAL && e->dir != (uint8_t)dir) {
		rep_init(&r, VTIO_DMA_DEBUG_SYNC_DIR, bus, len, (int)dir);
		rep_entry(&r, e);
		found = true;
	}
	if (found)
		note(d, &r);
	VTIO_UNLOCK(&d->lock);
	if (found)
		emit(d, &r, 1);
	return ret;
}

static int debug_sync_for_cpu(struct vtio_dma_layer *l, uint64_t bus, size_t len,
			      enum vtio_dma_dir dir)
{
	int err = check_sync(dbg_of(l), bus, len, dir);
	return err != 0 ? err : vtio_dma_prev_sync_for_cpu(l, bus, len, dir);
}

static int debug_sync_for_device(struct vtio_dma_layer *l, uint64_t bus, size_t len,
				 enum vtio_dma_dir dir)
{
	int err = check_sync(dbg_of(l), bus, len, dir);
	return err != 0 ? err : vtio_dma_prev_sync_for_device(l, bus, len, dir);
}

static int debug_alloc(struct vtio_dma_layer *l, size_t size, void **cpu, uint64_t *bus)
{
	int err = vtio_dma_prev_alloc(l, size, cpu, bus);
	if (err == 0)
		after_new(dbg_of(l), *bus, size, (uint8_t)VTIO_DMA_BIDIRECTIONAL, K_ALLOC);
	return err;
}

static int debug_free(struct vtio_dma_layer *l, size_t size, void *cpu, uint64_t bus)
{
	struct vtio_dma_debug *d = dbg_of(l);
	struct vtio_dma_debug_report r;
	bool bad = false;
	VTIO_LOCK(&d->lock);
	struct vtio_dma_debug_entry *e =
	    find_live_at(d, bus, K_ALLOC, size, (uint8_t)VTIO_DMA_BIDIRECTIONAL);
	if (e == NULL || e->len != size) {
		if (e != NULL || !d->overflowed) {
			rep_init(&r, VTIO_DMA_DEBUG_FREE_UNKNOWN, bus, size, -1);
			if (e != NULL)
				rep_entry(&r, e);
			note(d, &r);
			bad = true;
		}
	} else {
		retire(d, e);
	}
	VTIO_UNLOCK(&d->lock);
	if (bad) {
		emit(d, &r, 1);
		return VTIO_EINVAL;
	}
	return vtio_dma_prev_free(l, size, cpu, bus);
}

static const struct vtio_dma_ops debug_ops = {
    .name = "debug",
    .klass = VTIO_DMA_CLASS_DEBUG,
    .map = debug_map,
    .unmap = debug_unmap,
    /* map_sg/unmap_sg resolve to map/unmap here, so every segment is tracked. */
    .sync_for_cpu = debug_sync_for_cpu,
    .sync_for_device = debug_sync_for_device,
    .alloc = debug_alloc,
    .free = debug_free,
};

size_t vtio_dma_debug_table_size(size_t n)
{
	return n * sizeof(struct vtio_dma_debug_entry);
}

int vtio_dma_debug_init(struct vtio_dma_debug *d, const struct vtio_dma_debug_config *cfg)
{
	if (d == NULL || cfg == NULL || cfg->table == NULL ||
	    cfg->table_size < sizeof(struct vtio_dma_debug_entry) ||
	    cfg->table_size / sizeof(struct vtio_dma_debug_entry) >= NIL)
		return VTIO_EINVAL;
	VTIO_MEMSET(d, 0, sizeof(*d));
	d->tab = (struct vtio_dma_debug_entry *)cfg->table;
	d->n = cfg->table_size / sizeof(struct vtio_dma_debug_entry);
	VTIO_MEMSET(d->tab, 0, d->n * sizeof(struct vtio_dma_debug_entry));
	d->live_head = NIL;
	d->report = cfg->report;
	d->report_ctx = cfg->report_ctx;
	VTIO_LOCK_INIT(&d->lock);
	d->layer.ops = &debug_ops;
	d->layer.priv = d;
	return 0;
}

size_t vtio_dma_debug_check_leaks(struct vtio_dma_debug *d)
{
	size_t leaks = 0;
	for (size_t i = 0;; i++) {
		struct vtio_dma_debug_report r;
		bool leak = false;
		VTIO_LOCK(&d->lock);
		if (i >= d->hw) {
			VTIO_UNLOCK(&d->lock);
			break;
		}
		struct vtio_dma_debug_entry *e = &d->tab[i];
		if (e->state == ST_LIVE) {
			rep_init(&r, VTIO_DMA_DEBUG_LEAK, e->bus, e->len,
				 e->kind == K_ALLOC ? -1 : (int)e->dir);
			rep_entry(&r, e);
			note(d, &r);
			leak = true;
		}
		VTIO_UNLOCK(&d->lock);
		if (leak) {
			leaks++;
			emit(d, &r, 1);
		}
	}
	return leaks;
}

size_t vtio_dma_debug_live(struct vtio_dma_debug *d)
{
	VTIO_LOCK(&d->lock);
	size_t n = d->live;
	VTIO_UNLOCK(&d->lock);
	return n;
}

uint64_t vtio_dma_debug_count(struct vtio_dma_debug *d, enum vtio_dma_debug_kind kind)
{
	uint64_t n = 0;
	VTIO_LOCK(&d->lock);
	if (kind != VTIO_DMA_DEBUG_OK) {
		n = (unsigned)kind < VTIO_DMA_DEBUG_NKINDS ? d->counts[kind] : 0;
	} else {
		for (unsigned k = 1; k < VTIO_DMA_DEBUG_NKINDS; k++)
			if (k != VTIO_DMA_DEBUG_TABLE_FULL)
				n += d->counts[k];
	}
	VTIO_UNLOCK(&d->lock);
	return n;
}

int vtio_dma_debug_check_access(struct vtio_dma_debug *d, uint64_t bus, uint64_t len, uint32_t perm)
{
	struct vtio_dma_debug_report r;
	bool found = false;
	int ret = 0;
	int pdir = perm == VTIO_MEM_READ    ? (int)VTIO_DMA_TO_DEVICE
		   : perm == VTIO_MEM_WRITE ? (int)VTIO_DMA_FROM_DEVICE
					    : (int)VTIO_DMA_BIDIRECTIONAL;
	VTIO_LOCK(&d->lock);
	struct vtio_dma_debug_entry *e = find_live_containing(d, bus);
	if (e == NULL) {
		struct vtio_dma_debug_entry *t = find_dead_containing(d, bus);
		if (t != NULL || !d->overflowed) {
			rep_init(&r,
				 t != NULL ? VTIO_DMA_DEBUG_USE_AFTER_UNMAP
					   : VTIO_DMA_DEBUG_ACCESS_UNMAPPED,
				 bus, len, pdir);
			if (t != NULL)
				rep_entry(&r, t);
			found = true;
			ret = VTIO_EFAULT;
		}
	} else if (len > e->len - (bus - e->bus)) {
		rep_init(&r, VTIO_DMA_DEBUG_ACCESS_UNMAPPED, bus, len, pdir);
		rep_entry(&r, e);
		found = true;
		ret = VTIO_EFAULT;
	} else if (e->kind == K_MAP &&
		   (((perm & VTIO_MEM_WRITE) && e->dir == VTIO_DMA_TO_DEVICE) ||
		    ((perm & VTIO_MEM_READ) && e->dir == VTIO_DMA_FROM_DEVICE))) {
		rep_init(&r, VTIO_DMA_DEBUG_ACCESS_DIR, bus, len, pdir);
		rep_entry(&r, e);
		found = true;
		ret = VTIO_EACCES;
	}
	if (found)
		note(d, &r);
	VTIO_UNLOCK(&d->lock);
	if (found)
		emit(d, &r, 1);
	return ret;
}

/* ---- Checking memory view -------------------------------------------------------- */

static int dmem_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
	struct vtio_dma_debug_mem *v = ctx;
	int err = vtio_dma_debug_check_access(v->dbg, addr, len, VTIO_MEM_READ);
	return err != 0 ? err : vtio_mem_read(v->below, addr, dst, len);
}

static int dmem_write(void *ctx, uint64_t addr, const void *src, size_t len)
{
	struct vtio_dma_debug_mem *v = ctx;
	int err = vtio_dma_debug_check_access(v->dbg, addr, len, VTIO_MEM_WRITE);
	return err != 0 ? err : vtio_mem_write(v->below, addr, src, len);
}

static int dmem_translate(void *ctx, uint64_t addr, uint64_t len, uint32_t perm, void **ptr,
			  uint64_t *maplen)
{
	struct vtio_dma_debug_mem *v = ctx;
	int err = vtio_dma_debug_check_access(v->dbg, addr, len, perm);
	return err != 0 ? err : vtio_mem_translate(v->below, addr, len, perm, ptr, maplen);
}

static const struct vtio_mem_ops dmem_ops = {
    .read = dmem_read,
    .write = dmem_write,
    .translate = dmem_translate,
};

int vtio_dma_debug_mem_init(struct vtio_dma_debug_mem *v, struct vtio_dma_debug *dbg,
			    const struct vtio_mem *below)
{
	if (v == NULL || dbg == NULL || below == NULL)
		return VTIO_EINVAL;
	v->dbg = dbg;
	v->below = below;
	int err = vtio_mem_init(&v->view, NULL, 0);
	return err != 0 ? err : vtio_mem_set_ops(&v->view, &dmem_ops, v);
}

#endif /* VTIO_CONFIG_DMA */
