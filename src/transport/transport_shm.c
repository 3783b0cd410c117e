/* Shared-memory + doorbell transport: directory, register block, both roles. */
#include "vtio/transport/shm.h"
#include "vtio/dev.h"

VTIO_STATIC_ASSERT(sizeof(struct vtio_shm_header) == 64, "shm header is 64 bytes");
VTIO_STATIC_ASSERT(sizeof(struct vtio_shm_entry) == 64, "shm entry is 64 bytes");
VTIO_STATIC_ASSERT(sizeof(struct vtio_shm_regs) == 256, "shm register block is 256 bytes");
VTIO_STATIC_ASSERT(sizeof(struct vtio_shm_queue) == 48, "shm queue entry is 48 bytes");

/* ---- Window access ------------------------------------------------------------------------
 * Every field the peer may change is read once with an untorn 32-bit load
 * (64-bit fields as two halves: no 64-bit atomics needed on 32-bit
 * targets) and converted from little-endian. */

static uint32_t rd32(const uint32_t *p)
{
	return vtio_le32(VTIO_READ_ONCE32(p));
}

/* Acquire / release through the port's barriers (DMA strength: the peer
 * may be across NTB or PCIe), not __atomic library calls, so cores without
 * atomic instructions only override the port hooks. */
static uint32_t rd32_acq(const uint32_t *p)
{
	uint32_t v = VTIO_READ_ONCE32(p);
	VTIO_DMA_RMB();
	return vtio_le32(v);
}

static void wr32(uint32_t *p, uint32_t v)
{
	VTIO_WRITE_ONCE32(p, vtio_le32(v));
}

static void wr32_rel(uint32_t *p, uint32_t v)
{
	VTIO_DMA_WMB();
	VTIO_WRITE_ONCE32(p, vtio_le32(v));
}

static uint64_t rd64(const uint64_t *p)
{
	const uint32_t *h = (const uint32_t *)(const void *)p;
	return (uint64_t)rd32(&h[0]) | ((uint64_t)rd32(&h[1]) << 32);
}

static void wr64(uint64_t *p, uint64_t v)
{
	uint32_t *h = (uint32_t *)(void *)p;
	wr32(&h[0], (uint32_t)v);
	wr32(&h[1], (uint32_t)(v >> 32));
}

/* Byte copies to / from the window through relaxed byte accesses, so a
 * concurrent peer write is a race on values only, never on the language. */
static void win_copy_out(unsigned char *dst, const unsigned char *src, size_t n)
{
	const volatile unsigned char *s = src;
	for (size_t i = 0; i < n; i++)
		dst[i] = s[i];
}

static void win_copy_in(unsigned char *dst, const unsigned char *src, size_t n)
{
	volatile unsigned char *d = dst;
	for (size_t i = 0; i < n; i++)
		d[i] = src[i];
}

static int def_wait(void *ctx)
{
	(void)ctx;
	VTIO_CPU_RELAX();
	return 0;
}

static bool is_pow2(uint32_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* [off, off+len) inside a window of @size bytes. */
static bool in_window(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* ---- Directory parser (untrusted window) ------------------------------------------------ */

int vtio_shm_dir_parse(const void *win, size_t size, struct vtio_shm_info *out)
{
	if (win == NULL || out == NULL || size < sizeof(struct vtio_shm_header))
		return VTIO_EINVAL;
	const struct vtio_shm_header *h = win;
	if (rd32(&h->magic) != VTIO_SHM_MAGIC)
		return VTIO_EBADMSG;
	uint32_t vh = rd32((const uint32_t *)(const void *)&h->version);
	uint16_t version = (uint16_t)(vh & 0xffffu), hsize = (uint16_t)(vh >> 16);
	if (version != VTIO_SHM_VERSION)
		return VTIO_ENOTSUP;
	if (hsize != sizeof(struct vtio_shm_header))
		return VTIO_EBADMSG;
	uint64_t wsize = rd64(&h->window_size);
	if (wsize > size)
		return VTIO_ERANGE;
	if (wsize < sizeof(struct vtio_shm_header))
		return VTIO_EBADMSG;
	uint32_t dir_off = rd32(&h->dir_off), n = rd32(&h->dir_entries),
		 esize = rd32(&h->entry_size);
	if (esize != sizeof(struct vtio_shm_entry) || n == 0 || n > VTIO_SHM_MAX_ENTRIES ||
	    dir_off < sizeof(struct vtio_shm_header) || dir_off % 8u != 0 ||
	    !in_window(dir_off, (uint64_t)n * esize, wsize))
		return VTIO_EBADMSG;
	out->size = wsize;
	out->dev_base = rd64(&h->dev_base);
	out->dir_off = dir_off;
	out->dir_entries = n;
	out->dir_gen = rd32(&h->dir_gen);
	return 0;
}

/* An area [off, off+len) of a device: inside the window, aligned, and clear
 * of the header and the directory. */
static bool area_ok(const struct vtio_shm_info *in, uint32_t off, uint64_t len)
{
	if (off % VTIO_SHM_ALIGN != 0 || !in_window(off, len, in->size))
		return false;
	uint64_t dir_end =
	    (uint64_t)in->dir_off + (uint64_t)in->dir_entries * sizeof(struct vtio_shm_entry);
	if (len == 0)
		return true;
	/* Clear of the header: off >= 64 since off is aligned and non-zero below. */
	if (off < sizeof(struct vtio_shm_header))
		return false;
	return (uint64_t)off + len <= in->dir_off || off >= dir_end;
}

int vtio_shm_dir_entry(const void *win, size_t size, unsigned slot, struct vtio_shm_entry_info *out)
{
	struct vtio_shm_info in;
	int r = vtio_shm_dir_parse(win, size, &in);
	if (r)
		return r;
	if (out == NULL)
		return VTIO_EINVAL;
	if (slot >= in.dir_entries)
		return VTIO_ERANGE;
	const struct vtio_shm_entry *e =
	    (const struct vtio_shm_entry *)(const void *)((const unsigned char *)win + in.dir_off +
							  (size_t)slot * sizeof(*e));
	/* Acquire on the state: an entry is filled before it turns LIVE. */
	uint32_t state = rd32_acq(&e->state);
	if (state == VTIO_SHM_FREE)
		return VTIO_ENOENT;
	if (state != VTIO_SHM_LIVE && state != VTIO_SHM_GONE)
		return VTIO_EBADMSG;
	struct vtio_shm_entry_info x;
	x.slot = slot;
	x.state = state;
	x.id = rd32(&e->id);
	x.device_type = rd32(&e->device_type);
	uint32_t w = rd32((const uint32_t *)(const void *)&e->num_queues);
	x.num_queues = (uint16_t)(w & 0xffffu);
	x.dev_bell = (uint16_t)(w >> 16);
	w = rd32((const uint32_t *)(const void *)&e->drv_bell);
	x.drv_bell = (uint16_t)(w & 0xffffu);
	x.regs_off = rd32(&e->regs_off);
	x.queues_off = rd32(&e->queues_off);
	x.config_off = rd32(&e->config_off);
	x.config_size = rd32(&e->config_size);
	x.bounce_off = rd32(&e->bounce_off);
	x.bounce_size = rd32(&e->bounce_size);
	x.dev_base = in.dev_base;
	if (x.num_queues == 0 || x.num_queues > VTIO_SHM_MAX_QUEUES || x.drv_bell == 0xffffu)
		return VTIO_EBADMSG;
	if (!area_ok(&in, x.regs_off, sizeof(struct vtio_shm_regs)) || x.regs_off == 0)
		return VTIO_EBADMSG;
	if (!area_ok(&in, x.queues_off, (uint64_t)x.num_queues * sizeof(struct vtio_shm_queue)) ||
	    x.queues_off == 0)
		return VTIO_EBADMSG;
	if (x.config_size > 0x10000u || !area_ok(&in, x.config_off, x.config_size))
		return VTIO_EBADMSG;
	if (x.bounce_size == 0)
		x.bounce_off = 0;
	else if (!area_ok(&in, x.bounce_off, x.bounce_size) || x.bounce_off == 0)
		return VTIO_EBADMSG;
	/* Register block and queue table must not overlap: the driver writes
	 * its commands and kicks there, and the device reads them back. */
	uint64_t r0 = x.regs_off, r1 = r0 + sizeof(struct vtio_shm_regs);
	uint64_t q0 = x.queues_off,
		 q1 = q0 + (uint64_t)x.num_queues * sizeof(struct vtio_shm_queue);
	if (r0 < q1 && q0 < r1)
		return VTIO_EBADMSG;
	*out = x;
	return 0;
}

int vtio_shm_dir_find(const void *win, size_t size, unsigned from, uint32_t device_type,
		      struct vtio_shm_entry_info *out)
{
	struct vtio_shm_info in;
	int r = vtio_shm_dir_parse(win, size, &in);
	if (r)
		return r;
	for (unsigned s = from; s < in.dir_entries; s++) {
		struct vtio_shm_entry_info e;
		if (vtio_shm_dir_entry(win, size, s, &e) != 0 || e.state != VTIO_SHM_LIVE)
			continue;
		if (device_type != 0 && e.device_type != device_type)
			continue;
		*out = e;
		return 0;
	}
	return VTIO_ENOENT;
}

/* ---- Directory owner (device side) ------------------------------------------------------ */

static struct vtio_shm_header *hdr(struct vtio_shm_dir *dir)
{
	return (struct vtio_shm_header *)(void *)dir->win;
}

/* Everything the device side does uses the directory's own records
 * (dir->dir_off, dir->slots): the window may have been rewritten by the
 * driver, so it is written here, never read back. */
static struct vtio_shm_entry *dir_slot(struct vtio_shm_dir *dir, unsigned slot)
{
	return (struct vtio_shm_entry *)(void *)(dir->win + dir->dir_off +
						 (size_t)slot * sizeof(struct vtio_shm_entry));
}

static void dir_bump(struct vtio_shm_dir *dir)
{
	wr32_rel(&hdr(dir)->dir_gen, ++dir->dir_gen);
}

int vtio_shm_dir_format(struct vtio_shm_dir *dir, void *win, size_t size, uint64_t dev_base,
			unsigned entries)
{
	if (dir == NULL || win == NULL || ((uintptr_t)win & 7u) != 0 || entries == 0 ||
	    entries > VTIO_SHM_MAX_ENTRIES || (uint64_t)size >> 32 != 0)
		return VTIO_EINVAL;
	uint64_t dir_off = VTIO_SHM_ALIGN;
	uint64_t heap =
	    align_up(dir_off + (uint64_t)entries * sizeof(struct vtio_shm_entry), VTIO_SHM_ALIGN);
	if (heap + sizeof(struct vtio_shm_regs) > size)
		return VTIO_EINVAL;
	VTIO_MEMSET(dir, 0, sizeof(*dir));
	dir->win = win;
	dir->size = size;
	dir->dev_base = dev_base;
	dir->dir_off = (uint32_t)dir_off;
	dir->next_id = 1;
	dir->heap_off = (uint32_t)heap;
	dir->heap_next = (uint32_t)heap;
	dir->heap_end = (uint32_t)size;
	dir->entries = entries;
	VTIO_MEMSET(win, 0, (size_t)heap);
	struct vtio_shm_header *h = win;
	wr32(&h->magic, VTIO_SHM_MAGIC);
	wr32((uint32_t *)(void *)&h->version,
	     VTIO_SHM_VERSION | ((uint32_t)sizeof(struct vtio_shm_header) << 16));
	wr64(&h->window_size, size);
	wr64(&h->dev_base, dev_base);
	wr32(&h->dir_off, (uint32_t)dir_off);
	wr32(&h->dir_entries, entries);
	wr32(&h->entry_size, sizeof(struct vtio_shm_entry));
	wr32(&h->heap_off, (uint32_t)heap);
	wr32(&h->heap_size, (uint32_t)(size - heap));
	dir_bump(dir);
	return 0;
}

static int heap_take(struct vtio_shm_dir *dir, uint64_t len, uint64_t align, uint32_t *off)
{
	uint64_t o = align_up(dir->heap_next, align);
	if (len == 0) {
		*off = 0;
		return 0;
	}
	if (o > dir->heap_end || len > dir->heap_end - o)
		return VTIO_ENOMEM;
	*off = (uint32_t)o;
	dir->heap_next = (uint32_t)(o + len);
	return 0;
}

int vtio_shm_dir_add(struct vtio_shm_dir *dir, const struct vtio_shm_dir_request *req,
		     unsigned *slot)
{
	if (dir == NULL || req == NULL || slot == NULL || req->num_queues == 0 ||
	    req->num_queues > VTIO_SHM_MAX_QUEUES || req->config_size > 0x10000u ||
	    (req->bounce_align != 0 && !is_pow2(req->bounce_align)))
		return VTIO_EINVAL;
	unsigned s;
	for (s = 0; s < dir->entries; s++)
		if (dir->slots[s].id == 0)
			break;
	if (s == dir->entries)
		return VTIO_ENOSPC;
	uint32_t saved = dir->heap_next;
	uint32_t regs, queues, config, bounce;
	uint64_t balign = req->bounce_align ? req->bounce_align : 4096u;
	if (balign < VTIO_SHM_ALIGN)
		balign = VTIO_SHM_ALIGN;
	int r = heap_take(dir, sizeof(struct vtio_shm_regs), VTIO_SHM_ALIGN, &regs);
	if (!r)
		r = heap_take(dir, (uint64_t)req->num_queues * sizeof(struct vtio_shm_queue),
			      VTIO_SHM_ALIGN, &queues);
	if (!r)
		r = heap_take(dir, req->config_size, VTIO_SHM_ALIGN, &config);
	if (!r)
		r = heap_take(dir, req->bounce_size, balign, &bounce);
	if (r) {
		dir->heap_next = saved;
		return r;
	}
	if (req->config_size == 0)
		config = regs; /* any aligned in-window offset: zero bytes */
	VTIO_MEMSET(dir->win + regs, 0, sizeof(struct vtio_shm_regs));
	VTIO_MEMSET(dir->win + queues, 0, (size_t)req->num_queues * sizeof(struct vtio_shm_queue));
	if (req->config_size)
		VTIO_MEMSET(dir->win + config, 0, req->config_size);
	/* Doorbells: one towards the device, two towards the driver, per device. */
	uint32_t bell = dir->bells & 0xfffeu;
	dir->bells += 2;
	struct vtio_shm_slot *ls = &dir->slots[s];
	ls->id = dir->next_id++;
	if (dir->next_id == 0)
		dir->next_id = 1;
	ls->state = VTIO_SHM_FREE; /* reserved, not published */
	ls->regs_off = regs;
	ls->queues_off = queues;
	ls->config_off = config;
	ls->config_size = req->config_size;
	ls->heap_lo = saved;
	ls->heap_hi = dir->heap_next;
	ls->num_queues = req->num_queues;
	ls->drv_bell = (uint16_t)bell;
	struct vtio_shm_entry *e = dir_slot(dir, s);
	wr32(&e->state, VTIO_SHM_FREE);
	wr32(&e->id, ls->id);
	wr32(&e->device_type, req->device_type);
	wr32((uint32_t *)(void *)&e->num_queues, req->num_queues | (bell << 16));
	wr32((uint32_t *)(void *)&e->drv_bell, bell);
	wr32(&e->regs_off, regs);
	wr32(&e->queues_off, queues);
	wr32(&e->config_off, config);
	wr32(&e->config_size, req->config_size);
	wr32(&e->bounce_off, req->bounce_size ? bounce : 0);
	wr32(&e->bounce_size, req->bounce_size);
	*slot = s;
	return 0;
}

int vtio_shm_dir_remove(struct vtio_shm_dir *dir, unsigned slot)
{
	if (dir == NULL || slot >= dir->entries)
		return VTIO_ERANGE;
	struct vtio_shm_slot *ls = &dir->slots[slot];
	if (ls->id == 0)
		return VTIO_ENOENT;
	ls->state = VTIO_SHM_GONE;
	wr32_rel(&dir_slot(dir, slot)->state, VTIO_SHM_GONE);
	/* Give the areas back if they are the last ones carved. */
	if (ls->heap_hi == dir->heap_next) {
		dir->heap_next = ls->heap_lo;
		ls->heap_hi = ls->heap_lo;
	}
	dir_bump(dir);
	return 0;
}

int vtio_shm_dir_reclaim(struct vtio_shm_dir *dir, unsigned slot)
{
	if (dir == NULL || slot >= dir->entries)
		return VTIO_ERANGE;
	struct vtio_shm_slot *ls = &dir->slots[slot];
	if (ls->state == VTIO_SHM_LIVE)
		return VTIO_EBUSY;
	ls->state = VTIO_SHM_FREE;
	ls->id = 0;
	struct vtio_shm_entry *e = dir_slot(dir, slot);
	wr32_rel(&e->state, VTIO_SHM_FREE);
	wr32(&e->id, 0);
	return 0;
}

#if VTIO_CONFIG_DEVICE

/* ---- Device role -------------------------------------------------------------------------- */

/* Mirror the config space under the sequence lock (odd while writing). */
static void mirror_config(struct vtio_shm_dev *sd)
{
	uint32_t seq = sd->config_seq;
	wr32(&sd->regs->config_seq, seq + 1);
	VTIO_SMP_WMB();
	unsigned char buf[64];
	for (uint32_t off = 0; off < sd->config_size; off += sizeof(buf)) {
		uint32_t n = sd->config_size - off;
		if (n > sizeof(buf))
			n = sizeof(buf);
		if (vtio_dev_config_read(sd->dev, off, buf, n) == 0)
			win_copy_in(sd->config + off, buf, n);
	}
	sd->mirrored_gen = vtio_dev_config_generation(sd->dev);
	wr32(&sd->regs->config_gen, sd->mirrored_gen);
	sd->config_seq = seq + 2;
	wr32_rel(&sd->regs->config_seq, seq + 2);
}

static void mirror_state(struct vtio_shm_dev *sd)
{
	struct vtio_shm_regs *g = sd->regs;
	wr32(&g->status, vtio_dev_get_status(sd->dev));
	for (uint32_t w = 0; w < 2; w++) {
		wr32(&g->dev_features[w], vtio_dev_get_features(sd->dev, w));
		wr32(&g->drv_features[w], vtio_dev_get_driver_features(sd->dev, w));
	}
	for (uint16_t i = 0; i < sd->num_queues; i++) {
		struct vtio_shm_queue *q = &sd->queues[i];
		struct vtio_transport_queue t;
		VTIO_MEMSET(&t, 0, sizeof(t));
		vtio_dev_queue_get(sd->dev, i, &t);
		wr32(&q->max, vtio_dev_queue_max(sd->dev, i));
		wr32(&q->num, t.num);
		wr32(&q->ready, vtio_dev_queue_ready(sd->dev, i) ? 1u : 0u);
		wr64(&q->desc, t.desc_addr);
		wr64(&q->driver, t.driver_addr);
		wr64(&q->device, t.device_addr);
		size_t bytes = 0;
		if (t.num != 0)
			bytes = vtio_transport_vq_ring_size(
			    vtio_dev_has(sd->dev, VTIO_F_RING_PACKED) ? VTIO_LAYOUT_PACKED
								      : VTIO_LAYOUT_SPLIT,
			    t.num);
		wr64(&q->ring_bytes, bytes);
	}
	if (vtio_dev_config_generation(sd->dev) != sd->mirrored_gen)
		mirror_config(sd);
}

static int shm_dev_vq_irq(void *ctx, uint16_t index)
{
	struct vtio_shm_dev *sd = ctx;
	(void)index;
	return sd->hooks.ring(sd->hooks.ctx, sd->drv_bell);
}

static void shm_dev_config_irq(void *ctx)
{
	struct vtio_shm_dev *sd = ctx;
	mirror_config(sd);
	wr32(&sd->regs->status, vtio_dev_get_status(sd->dev));
	sd->hooks.ring(sd->hooks.ctx, sd->drv_bell + 1u);
}

static const struct vtio_dev_transport_ops shm_dev_tr_ops = {
    .name = "shm",
    .extra_features = 0,
    .vq_irq = shm_dev_vq_irq,
    .config_irq = shm_dev_config_irq,
};

int vtio_shm_dev_init(struct vtio_shm_dev *sd, const struct vtio_shm_dev_config *cfg)
{
	if (sd == NULL || cfg == NULL || cfg->dir == NULL || cfg->dev == NULL ||
	    cfg->hooks.ring == NULL || cfg->slot >= cfg->dir->entries)
		return VTIO_EINVAL;
	struct vtio_shm_dir *dir = cfg->dir;
	const struct vtio_shm_slot *ls = &dir->slots[cfg->slot];
	if (ls->id == 0 || ls->state != VTIO_SHM_FREE)
		return VTIO_EINVAL;
	if (ls->num_queues != vtio_dev_num_queues(cfg->dev) ||
	    ls->config_size != vtio_dev_config_len(cfg->dev))
		return VTIO_EINVAL;
	VTIO_MEMSET(sd, 0, sizeof(*sd));
	sd->dir = dir;
	sd->dev = cfg->dev;
	sd->hooks = cfg->hooks;
	if (sd->hooks.wait == NULL)
		sd->hooks.wait = def_wait;
	sd->regs = (struct vtio_shm_regs *)(void *)(dir->win + ls->regs_off);
	sd->queues = (struct vtio_shm_queue *)(void *)(dir->win + ls->queues_off);
	sd->config = dir->win + ls->config_off;
	sd->config_size = ls->config_size;
	sd->num_queues = ls->num_queues;
	sd->drv_bell = ls->drv_bell;
	sd->slot = cfg->slot;
	const struct vtio_mem *mem = cfg->mem;
	if (mem == NULL) {
		sd->region.addr = dir->dev_base;
		sd->region.len = dir->size;
		sd->region.host = dir->win;
		sd->region.perm = VTIO_MEM_RW;
		int r = vtio_mem_init(&sd->view, &sd->region, 1);
		if (r)
			return r;
		mem = &sd->view;
	}
	int r = vtio_dev_bind(sd->dev, &shm_dev_tr_ops, sd);
	if (r)
		return r;
	vtio_dev_set_mem(sd->dev, mem);
	sd->last_req = rd32(&sd->regs->req_seq);
	wr32(&sd->regs->ack_seq, sd->last_req);
	for (uint16_t i = 0; i < sd->num_queues; i++)
		sd->kick_seen[i] = rd32(&sd->queues[i].kick);
	mirror_state(sd);
	mirror_config(sd);
	/* Published last: the driver sees a device that is ready (seed 001). */
	dir->slots[cfg->slot].state = VTIO_SHM_LIVE;
	wr32_rel(&dir_slot(dir, cfg->slot)->state, VTIO_SHM_LIVE);
	dir_bump(dir);
	return 0;
}

static int do_command(struct vtio_shm_dev *sd, uint32_t seq)
{
	struct vtio_shm_regs *g = sd->regs;
	/* Read the command once; the device core judges the values. */
	uint32_t op = rd32(&g->op), index = rd32(&g->index), a0 = rd32(&g->arg0),
		 a1 = rd32(&g->arg1);
	int res = 0;
	switch (op) {
	case VTIO_SHM_OP_STATUS:
		if (a0 > 0xffu)
			res = VTIO_EINVAL;
		else
			vtio_dev_set_status(sd->dev, (uint8_t)a0);
		break;
	case VTIO_SHM_OP_FEATURES:
		res = vtio_dev_set_driver_features(sd->dev, a0, a1);
		break;
	case VTIO_SHM_OP_QUEUE_SET: {
		struct vtio_transport_queue q;
		q.num = a0;
		q.desc_addr = rd64(&g->addr[0]);
		q.driver_addr = rd64(&g->addr[1]);
		q.device_addr = rd64(&g->addr[2]);
		res = index > 0xffffu ? VTIO_ENODEV
				      : vtio_dev_queue_set(sd->dev, (uint16_t)index, &q);
		break;
	}
	case VTIO_SHM_OP_QUEUE_ENABLE:
		res =
		    index > 0xffffu ? VTIO_ENODEV : vtio_dev_queue_enable(sd->dev, (uint16_t)index);
		break;
	case VTIO_SHM_OP_QUEUE_RESET:
		res =
		    index > 0xffffu ? VTIO_ENODEV : vtio_dev_queue_reset(sd->dev, (uint16_t)index);
		break;
	case VTIO_SHM_OP_CONFIG_WRITE: {
		if (a1 == 0 || a1 > VTIO_SHM_CMD_DATA) {
			res = VTIO_EINVAL;
			break;
		}
		unsigned char buf[VTIO_SHM_CMD_DATA];
		win_copy_out(buf, g->data, a1);
		res = vtio_dev_config_write(sd->dev, a0, buf, a1);
		if (res == 0)
			mirror_config(sd); /* the driver reads its bytes back */
		break;
	}
	default:
		res = VTIO_EINVAL;
		break;
	}
	if (res == VTIO_EINVAL &&
	    (op == VTIO_SHM_OP_NONE || op > VTIO_SHM_OP_CONFIG_WRITE ||
	     (op == VTIO_SHM_OP_STATUS && a0 > 0xffu) || (op == VTIO_SHM_OP_CONFIG_WRITE)))
		sd->bad_commands++;
	sd->commands++;
	mirror_state(sd);
	wr32((uint32_t *)(void *)&g->result, (uint32_t)res);
	wr32_rel(&g->ack_seq, seq);
	sd->hooks.ring(sd->hooks.ctx, sd->drv_bell + 1u);
	return 1;
}

int vtio_shm_dev_poll(struct vtio_shm_dev *sd)
{
	if (sd->dir->slots[sd->slot].state != VTIO_SHM_LIVE)
		return VTIO_ENODEV;
	int n = 0;
	uint32_t seq = rd32_acq(&sd->regs->req_seq);
	if (seq != sd->last_req) {
		sd->last_req = seq;
		n += do_command(sd, seq);
	}
	for (uint16_t i = 0; i < sd->num_queues; i++) {
		uint32_t k = rd32_acq(&sd->queues[i].kick);
		if (k == sd->kick_seen[i])
			continue;
		sd->kick_seen[i] = k;
		vtio_dev_notify(sd->dev, i);
		n++;
	}
	if (n) {
		/* A kick may have set NEEDS_RESET (broken queue). */
		wr32(&sd->regs->status, vtio_dev_get_status(sd->dev));
	}
	return n;
}

void vtio_shm_dev_reset(struct vtio_shm_dev *sd)
{
	vtio_dev_set_status(sd->dev, 0);
	/* Whatever the old driver left in the slot is not a command. */
	sd->last_req = rd32(&sd->regs->req_seq);
	wr32_rel(&sd->regs->ack_seq, sd->last_req);
	for (uint16_t i = 0; i < sd->num_queues; i++)
		sd->kick_seen[i] = rd32(&sd->queues[i].kick);
	mirror_state(sd);
}

int vtio_shm_dev_remove(struct vtio_shm_dev *sd)
{
	int r = vtio_shm_dir_remove(sd->dir, sd->slot);
	if (r == 0)
		sd->hooks.ring(sd->hooks.ctx, sd->drv_bell + 1u);
	return r;
}

void vtio_shm_dev_config_changed(struct vtio_shm_dev *sd)
{
	/* With DRIVER_OK the core calls config_irq, which mirrors and rings. */
	vtio_dev_config_changed(sd->dev);
	if (vtio_dev_config_generation(sd->dev) != sd->mirrored_gen)
		mirror_config(sd);
}

#endif /* VTIO_CONFIG_DEVICE */

#if VTIO_CONFIG_DRIVER

/* ---- Driver role -------------------------------------------------------------------------- */

static struct vtio_shm_drv *drv_of(struct vtio_transport *t)
{
	return (struct vtio_shm_drv *)t->priv;
}

static bool drv_entry_live(struct vtio_shm_drv *d)
{
	struct vtio_shm_info in;
	if (d->gone || vtio_shm_dir_parse(d->win, d->size, &in) != 0 || d->e.slot >= in.dir_entries)
		return false;
	const struct vtio_shm_entry *e =
	    (const struct vtio_shm_entry *)(const void *)(d->win + in.dir_off +
							  (size_t)d->e.slot * sizeof(*e));
	return rd32_acq(&e->state) == VTIO_SHM_LIVE && rd32(&e->id) == d->e.id;
}

/* Send one command and wait for its answer. */
static int drv_cmd(struct vtio_shm_drv *d, uint32_t op, uint32_t index, uint32_t a0, uint32_t a1,
		   const uint64_t *addr, const void *data, size_t len)
{
	if (!drv_entry_live(d)) {
		d->gone = true;
		return VTIO_ENODEV;
	}
	struct vtio_shm_regs *g = d->regs;
	wr32(&g->op, op);
	wr32(&g->index, index);
	wr32(&g->arg0, a0);
	wr32(&g->arg1, a1);
	for (int i = 0; i < 3; i++)
		wr64(&g->addr[i], addr ? addr[i] : 0);
	if (len)
		win_copy_in(g->data, data, len);
	uint32_t seq = ++d->req_seq;
	wr32_rel(&g->req_seq, seq);
	int r = d->hooks.ring(d->hooks.ctx, d->e.dev_bell);
	if (r)
		return r;
	for (uint32_t n = 0; n < VTIO_SHM_CMD_WAITS; n++) {
		if (rd32_acq(&g->ack_seq) == seq)
			return (int32_t)rd32((const uint32_t *)(const void *)&g->result);
		r = d->hooks.wait(d->hooks.ctx);
		if (r)
			return r;
	}
	if (rd32_acq(&g->ack_seq) == seq)
		return (int32_t)rd32((const uint32_t *)(const void *)&g->result);
	return VTIO_ETIMEDOUT;
}

static uint8_t shm_get_status(struct vtio_transport *t)
{
	struct vtio_shm_drv *d = drv_of(t);
	return (uint8_t)rd32_acq(&d->regs->status);
}

static void shm_set_status(struct vtio_transport *t, uint8_t status)
{
	struct vtio_shm_drv *d = drv_of(t);
	if (status == 0)
		d->enabled = 0; /* a reset disables every queue */
	/* Errors show in the status read back, as on hardware. */
	(void)drv_cmd(d, VTIO_SHM_OP_STATUS, 0, status, 0, NULL, NULL, 0);
}

static uint32_t shm_get_features(struct vtio_transport *t, uint32_t word)
{
	struct vtio_shm_drv *d = drv_of(t);
	return word < 2 ? rd32_acq(&d->regs->dev_features[word]) : 0;
}

static void shm_set_features(struct vtio_transport *t, uint32_t word, uint32_t value)
{
	(void)drv_cmd(drv_of(t), VTIO_SHM_OP_FEATURES, 0, word, value, NULL, NULL, 0);
}

static int shm_config_read(struct vtio_transport *t, uint32_t off, void *dst, size_t len)
{
	struct vtio_shm_drv *d = drv_of(t);
	if (off > d->e.config_size || len > d->e.config_size - off)
		return VTIO_ERANGE;
	VTIO_SMP_RMB();
	win_copy_out(dst, d->config + off, len);
	VTIO_SMP_RMB();
	return 0;
}

static int shm_config_write(struct vtio_transport *t, uint32_t off, const void *src, size_t len)
{
	struct vtio_shm_drv *d = drv_of(t);
	if (off > d->e.config_size || len > d->e.config_size - off)
		return VTIO_ERANGE;
	const unsigned char *p = src;
	while (len) {
		size_t n = len > VTIO_SHM_CMD_DATA ? VTIO_SHM_CMD_DATA : len;
		int r = drv_cmd(d, VTIO_SHM_OP_CONFIG_WRITE, 0, off, (uint32_t)n, NULL, p, n);
		if (r)
			return r;
		off += (uint32_t)n;
		p += n;
		len -= n;
	}
	return 0;
}

/* The sequence lock's value is the generation the driver sees: it moves on
 * every mirror update, so a read that overlapped one is retried. */
static uint32_t shm_config_generation(struct vtio_transport *t)
{
	struct vtio_shm_drv *d = drv_of(t);
	uint32_t s = 0;
	for (unsigned i = 0; i < 100000u; i++) {
		s = rd32_acq(&d->regs->config_seq);
		if ((s & 1u) == 0)
			break;
		VTIO_CPU_RELAX();
	}
	return s >> 1;
}

static uint32_t shm_queue_max(struct vtio_transport *t, uint16_t index)
{
	struct vtio_shm_drv *d = drv_of(t);
	if (index >= d->e.num_queues)
		return 0;
	uint32_t m = rd32_acq(&d->queues[index].max);
	return m > VTIO_PACKED_MAX_SIZE ? VTIO_PACKED_MAX_SIZE : m;
}

static int shm_queue_setup(struct vtio_transport *t, uint16_t index,
			   const struct vtio_transport_queue *q)
{
	uint64_t a[3] = {q->desc_addr, q->driver_addr, q->device_addr};
	return drv_cmd(drv_of(t), VTIO_SHM_OP_QUEUE_SET, index, q->num, 0, a, NULL, 0);
}

static int shm_queue_enable(struct vtio_transport *t, uint16_t index)
{
	struct vtio_shm_drv *d = drv_of(t);
	int r = drv_cmd(d, VTIO_SHM_OP_QUEUE_ENABLE, index, 0, 0, NULL, NULL, 0);
	if (r == 0 && index < 64)
		d->enabled |= (uint64_t)1 << index;
	return r;
}

static int shm_queue_reset(struct vtio_transport *t, uint16_t index)
{
	struct vtio_shm_drv *d = drv_of(t);
	int r = drv_cmd(d, VTIO_SHM_OP_QUEUE_RESET, index, 0, 0, NULL, NULL, 0);
	if (r == 0 && index < 64)
		d->enabled &= ~((uint64_t)1 << index);
	return r;
}

/* Data path: one posted store of the driver's own counter and a doorbell;
 * nothing is read across the link. */
static int shm_notify(struct vtio_transport *t, uint32_t data)
{
	struct vtio_shm_drv *d = drv_of(t);
	uint32_t index = data & 0xffffu;
	if (index >= d->e.num_queues)
		return VTIO_EINVAL;
	if (d->gone)
		return VTIO_ENODEV;
	wr32_rel(&d->queues[index].kick, ++d->kicks[index]);
	return d->hooks.ring(d->hooks.ctx, d->e.dev_bell);
}

static const struct vtio_transport_ops shm_drv_ops = {
    .name = "shm",
    .extra_features = 0,
    .get_status = shm_get_status,
    .set_status = shm_set_status,
    .get_features = shm_get_features,
    .set_features = shm_set_features,
    .config_read = shm_config_read,
    .config_write = shm_config_write,
    .config_generation = shm_config_generation,
    .queue_max = shm_queue_max,
    .queue_setup = shm_queue_setup,
    .queue_enable = shm_queue_enable,
    .queue_reset = shm_queue_reset,
    .notify = shm_notify,
};

int vtio_shm_drv_init(struct vtio_shm_drv *d, void *win, size_t size,
		      const struct vtio_shm_entry_info *e, const struct vtio_shm_hooks *hooks)
{
	if (d == NULL || win == NULL || e == NULL || hooks == NULL || hooks->ring == NULL)
		return VTIO_EINVAL;
	/* Re-validate: the caller's copy may not come from vtio_shm_dir_entry(). */
	struct vtio_shm_entry_info chk;
	int r = vtio_shm_dir_entry(win, size, e->slot, &chk);
	if (r == VTIO_ENOENT)
		return VTIO_ENODEV;
	if (r)
		return r;
	if (chk.state != VTIO_SHM_LIVE || chk.id != e->id)
		return VTIO_ENODEV;
	VTIO_MEMSET(d, 0, sizeof(*d));
	d->e = chk;
	d->hooks = *hooks;
	if (d->hooks.wait == NULL)
		d->hooks.wait = def_wait;
	d->win = win;
	d->size = size;
	d->regs = (struct vtio_shm_regs *)(void *)(d->win + chk.regs_off);
	d->queues = (struct vtio_shm_queue *)(void *)(d->win + chk.queues_off);
	d->config = d->win + chk.config_off;
	d->req_seq = rd32(&d->regs->ack_seq);
	wr32(&d->regs->req_seq, d->req_seq);
	for (uint16_t i = 0; i < chk.num_queues; i++)
		d->kicks[i] = rd32(&d->queues[i].kick);
	d->cfg_seen = rd32(&d->regs->config_seq);
	return vtio_transport_init(&d->tr, &shm_drv_ops, d);
}

int vtio_shm_drv_interrupt(struct vtio_shm_drv *d, uint32_t which)
{
	bool vq = which != d->e.drv_bell + 1u;
	bool cfg = which != d->e.drv_bell;
	if (cfg) {
		if (!drv_entry_live(d)) {
			d->gone = true;
			return VTIO_ENODEV;
		}
		uint32_t s = rd32_acq(&d->regs->config_seq);
		uint8_t st = (uint8_t)rd32(&d->regs->status);
		bool nr = (st & VTIO_STATUS_DEVICE_NEEDS_RESET) != 0;
		if (s != d->cfg_seen || (nr && !d->needs_reset_seen)) {
			d->cfg_seen = s;
			d->needs_reset_seen = nr;
			vtio_transport_irq_config(&d->tr);
		}
	}
	if (vq && !d->gone) {
		for (uint16_t i = 0; i < d->e.num_queues; i++)
			if (d->enabled & ((uint64_t)1 << i))
				vtio_transport_irq_vq(&d->tr, i);
	}
	return d->gone ? VTIO_ENODEV : 0;
}

int vtio_shm_drv_bounce_area(const struct vtio_shm_drv *d, void **cpu, uint64_t *bus, size_t *size)
{
	if (d->e.bounce_size == 0)
		return VTIO_ENOENT;
	*cpu = d->win + d->e.bounce_off;
	*bus = d->e.dev_base + d->e.bounce_off;
	*size = d->e.bounce_size;
	return 0;
}

#endif /* VTIO_CONFIG_DRIVER */
