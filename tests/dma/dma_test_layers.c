#include "dma_test_layers.h"

#include <stdio.h>
#include <string.h>

char trace_buf[TRACE_MAX][32];
unsigned trace_len;

void trace_reset(void)
{
	trace_len = 0;
}

static void trace_add(const char *tag, const char *op)
{
	if (trace_len < TRACE_MAX)
		snprintf(trace_buf[trace_len++], sizeof(trace_buf[0]), "%s:%s", tag, op);
}

const char *trace_str(void)
{
	static char s[TRACE_MAX * 32];
	s[0] = 0;
	for (unsigned i = 0; i < trace_len; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, trace_buf[i]);
	}
	return s;
}

static struct trace_layer *tl(struct vtio_dma_layer *l)
{
	return (struct trace_layer *)l->priv;
}

static int t_map(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		 uint32_t attrs, uint64_t *bus)
{
	struct trace_layer *t = tl(l);
	t->calls[VTIO_DMA_OP_MAP]++;
	trace_add(t->tag, "map");
	if (len < t->own_below) {
		/* Selective: this layer handles small buffers itself. */
		*bus = 0xabc000u + t->bus_add;
		return 0;
	}
	int err = vtio_dma_prev_map(l, cpu, len, dir, attrs, bus);
	if (err == 0)
		*bus += t->bus_add;
	return err;
}

static int t_unmap(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		   uint32_t attrs)
{
	struct trace_layer *t = tl(l);
	t->calls[VTIO_DMA_OP_UNMAP]++;
	if (len < t->own_below) {
		trace_add(t->tag, "unmap");
		return 0;
	}
	if (!t->work_after_prev)
		trace_add(t->tag, "unmap");
	int err = vtio_dma_prev_unmap(l, bus - t->bus_add, len, dir, attrs);
	if (t->work_after_prev)
		trace_add(t->tag, "unmap");
	return err;
}

static int t_map_sg(struct vtio_dma_layer *l, struct vtio_dma_sg *sg, unsigned n,
		    enum vtio_dma_dir dir, uint32_t attrs)
{
	struct trace_layer *t = tl(l);
	t->calls[VTIO_DMA_OP_MAP_SG]++;
	trace_add(t->tag, "map_sg");
	int err = vtio_dma_prev_map_sg(l, sg, n, dir, attrs);
	if (err == 0)
		for (unsigned i = 0; i < n; i++)
			sg[i].bus += t->bus_add;
	return err;
}

static int t_unmap_sg(struct vtio_dma_layer *l, struct vtio_dma_sg *sg, unsigned n,
		      enum vtio_dma_dir dir, uint32_t attrs)
{
	struct trace_layer *t = tl(l);
	t->calls[VTIO_DMA_OP_UNMAP_SG]++;
	trace_add(t->tag, "unmap_sg");
	for (unsigned i = 0; i < n; i++)
		sg[i].bus -= t->bus_add;
	return vtio_dma_prev_unmap_sg(l, sg, n, dir, attrs);
}

static int t_sync_cpu(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir)
{
	struct trace_layer *t = tl(l);
	t->calls[VTIO_DMA_OP_SYNC_FOR_CPU]++;
	trace_add(t->tag, "sync_cpu");
	return vtio_dma_prev_sync_for_cpu(l, bus - t->bus_add, len, dir);
}

static int t_sync_dev(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir)
{
	struct trace_layer *t = tl(l);
	t->calls[VTIO_DMA_OP_SYNC_FOR_DEVICE]++;
	trace_add(t->tag, "sync_dev");
	return vtio_dma_prev_sync_for_device(l, bus - t->bus_add, len, dir);
}

static int t_alloc(struct vtio_dma_layer *l, size_t size, void **cpu, uint64_t *bus)
{
	struct trace_layer *t = tl(l);
	t->calls[VTIO_DMA_OP_ALLOC]++;
	trace_add(t->tag, "alloc");
	int err = vtio_dma_prev_alloc(l, size, cpu, bus);
	if (err == 0)
		*bus += t->bus_add;
	return err;
}

static int t_free(struct vtio_dma_layer *l, size_t size, void *cpu, uint64_t bus)
{
	struct trace_layer *t = tl(l);
	t->calls[VTIO_DMA_OP_FREE]++;
	trace_add(t->tag, "free");
	return vtio_dma_prev_free(l, size, cpu, bus - t->bus_add);
}

static int t_caps(struct vtio_dma_layer *l, struct vtio_dma_caps *out)
{
	struct trace_layer *t = tl(l);
	t->calls[VTIO_DMA_OP_CAPS]++;
	trace_add(t->tag, "caps");
	return vtio_dma_prev_caps(l, out);
}

void trace_layer_init(struct trace_layer *t, const char *tag, enum vtio_dma_class klass,
		      unsigned opmask)
{
	memset(t, 0, sizeof(*t));
	t->tag = tag;
	t->ops.name = tag;
	t->ops.klass = klass;
	if (opmask & OPBIT(VTIO_DMA_OP_MAP))
		t->ops.map = t_map;
	if (opmask & OPBIT(VTIO_DMA_OP_UNMAP))
		t->ops.unmap = t_unmap;
	if (opmask & OPBIT(VTIO_DMA_OP_MAP_SG))
		t->ops.map_sg = t_map_sg;
	if (opmask & OPBIT(VTIO_DMA_OP_UNMAP_SG))
		t->ops.unmap_sg = t_unmap_sg;
	if (opmask & OPBIT(VTIO_DMA_OP_SYNC_FOR_CPU))
		t->ops.sync_for_cpu = t_sync_cpu;
	if (opmask & OPBIT(VTIO_DMA_OP_SYNC_FOR_DEVICE))
		t->ops.sync_for_device = t_sync_dev;
	if (opmask & OPBIT(VTIO_DMA_OP_ALLOC))
		t->ops.alloc = t_alloc;
	if (opmask & OPBIT(VTIO_DMA_OP_FREE))
		t->ops.free = t_free;
	if (opmask & OPBIT(VTIO_DMA_OP_CAPS))
		t->ops.caps = t_caps;
	t->layer.ops = &t->ops;
	t->layer.priv = t;
}

/* ---- flaky ---- */

static int f_map(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		 uint32_t attrs, uint64_t *bus)
{
	struct flaky_layer *f = (struct flaky_layer *)l->priv;
	f->maps++;
	if (f->fail_at != 0 && f->maps == f->fail_at) {
		f->failed++;
		return VTIO_ENOMEM;
	}
	return vtio_dma_prev_map(l, cpu, len, dir, attrs, bus);
}

static int f_unmap(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		   uint32_t attrs)
{
	struct flaky_layer *f = (struct flaky_layer *)l->priv;
	f->unmaps++;
	return vtio_dma_prev_unmap(l, bus, len, dir, attrs);
}

static const struct vtio_dma_ops flaky_ops = {
    .name = "flaky",
    .klass = VTIO_DMA_CLASS_PARAVIRT,
    .map = f_map,
    .unmap = f_unmap,
};

void flaky_layer_init(struct flaky_layer *f, unsigned fail_at)
{
	memset(f, 0, sizeof(*f));
	f->fail_at = fail_at;
	f->layer.ops = &flaky_ops;
	f->layer.priv = f;
}

/* ---- bouncer ---- */

static int b_map(struct vtio_dma_layer *l, void *cpu, size_t len, enum vtio_dma_dir dir,
		 uint32_t attrs, uint64_t *bus)
{
	struct bouncer_layer *b = (struct bouncer_layer *)l->priv;
	if (!(attrs & VTIO_DMA_ATTR_BOUNCE))
		return vtio_dma_prev_map(l, cpu, len, dir, attrs, bus);
	if (b->busy || len > sizeof(b->pool))
		return VTIO_ENOMEM;
	b->busy = 1;
	b->orig = cpu;
	b->len = len;
	b->bounced++;
	memcpy(b->pool, cpu, len); /* always copy in: no stale data */
	*bus = b->bus_base;
	return 0;
}

static int b_unmap(struct vtio_dma_layer *l, uint64_t bus, size_t len, enum vtio_dma_dir dir,
		   uint32_t attrs)
{
	struct bouncer_layer *b = (struct bouncer_layer *)l->priv;
	if (!b->busy || bus != b->bus_base)
		return vtio_dma_prev_unmap(l, bus, len, dir, attrs);
	if (dir != VTIO_DMA_TO_DEVICE && !(attrs & VTIO_DMA_ATTR_SKIP_CPU_SYNC)) {
		memcpy(b->orig, b->pool, len);
		b->copied_back++;
	}
	b->busy = 0;
	return 0;
}

static const struct vtio_dma_ops bouncer_ops = {
    .name = "bouncer",
    .klass = VTIO_DMA_CLASS_BOTTOM,
    .map = b_map,
    .unmap = b_unmap,
};

void bouncer_layer_init(struct bouncer_layer *b, uint64_t bus_base)
{
	memset(b, 0, sizeof(*b));
	b->bus_base = bus_base;
	b->layer.ops = &bouncer_ops;
	b->layer.priv = b;
}
