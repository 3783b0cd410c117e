/* Driver-side queue: public functions. Argument checks, then a switch on the
 * layout calling the split or packed code by name. */
#include "ring_internal.h"

#if VTIO_CONFIG_DRIVER

#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_PACKED
#define VTIO__DISPATCH(vq, fn, ...)                                                                \
	((vq)->layout == VTIO_LAYOUT_SPLIT ? vtio__vq_split_##fn(__VA_ARGS__)                      \
					   : vtio__vq_packed_##fn(__VA_ARGS__))
#elif VTIO_CONFIG_SPLIT
#define VTIO__DISPATCH(vq, fn, ...) ((void)(vq), vtio__vq_split_##fn(__VA_ARGS__))
#else
#define VTIO__DISPATCH(vq, fn, ...) ((void)(vq), vtio__vq_packed_##fn(__VA_ARGS__))
#endif

/* The hot flag of a queue that is not broken (see vtio_vq::hot). */
static void set_hot(struct vtio_vq *vq)
{
	bool split_fast = VTIO_CONFIG_SPLIT && vq->layout == VTIO_LAYOUT_SPLIT && vq->fast;
	vq->hot = VTIO_CONFIG_FAST_PATHS && split_fast && !vq->in_order;
	vq->hot_io = VTIO_CONFIG_FAST_PATHS && VTIO_CONFIG_IN_ORDER && split_fast && vq->in_order;
	/* Packed needs VERSION_1 on the wire (legacy stays on the general path). */
	vq->hot_packed = VTIO_CONFIG_FAST_PATHS && VTIO_CONFIG_PACKED &&
			 vq->layout == VTIO_LAYOUT_PACKED && vq->fast && !vq->in_order &&
			 !vq->legacy;
}

static bool layout_ok(enum vtio_layout layout)
{
#if VTIO_CONFIG_SPLIT
	if (layout == VTIO_LAYOUT_SPLIT)
		return true;
#endif
#if VTIO_CONFIG_PACKED
	if (layout == VTIO_LAYOUT_PACKED)
		return true;
#endif
	return false;
}

/* Byte offsets of the common parts of the state buffer. */
struct state_layout {
	size_t bufs, indir_free, indir_tables, indir_rec, extra, total;
};

static uint64_t align16_64(uint64_t x)
{
	return (x + 15u) & ~(uint64_t)15u;
}

/* The arithmetic is done in 64 bits (tables * tmax * 16 alone reaches 2^36):
 * false when the total does not fit in size_t (32-bit hosts). */
static bool state_layout(enum vtio_layout layout, uint32_t num, uint32_t tables, uint32_t tmax,
			 struct state_layout *l)
{
	struct vtio_vq_area_sizes s;
	if (vtio_vq_area_sizes(layout, num, &s) != 0)
		return false;
	if (tables != 0 && (tmax == 0 || tmax > 65536u || tables > 65536u))
		return false;
	size_t extra;
#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_PACKED
	extra = layout == VTIO_LAYOUT_SPLIT ? vtio__vq_split_state_size(num)
					    : vtio__vq_packed_state_size(num);
#elif VTIO_CONFIG_SPLIT
	extra = vtio__vq_split_state_size(num);
#else
	extra = vtio__vq_packed_state_size(num);
#endif
	uint64_t entries = (uint64_t)tables * tmax;
	uint64_t bufs = align16_64(sizeof(struct vtio_vq));
	uint64_t indir_free = bufs + align16_64((uint64_t)num * sizeof(struct vtio__vq_buf));
	uint64_t indir_tables = indir_free + align16_64((uint64_t)tables * sizeof(uint32_t));
	uint64_t indir_rec = indir_tables + entries * 16u;
	uint64_t ext = indir_rec + (VTIO_CONFIG_DMA ? entries * sizeof(struct vtio__seg_rec) : 0u);
	uint64_t total = ext + align16_64(extra);
	if (total > SIZE_MAX)
		return false;
	l->bufs = (size_t)bufs;
	l->indir_free = (size_t)indir_free;
	l->indir_tables = (size_t)indir_tables;
	l->indir_rec = (size_t)indir_rec;
	l->extra = (size_t)ext;
	l->total = (size_t)total;
	return true;
}

size_t vtio_vq_state_size(enum vtio_layout layout, uint32_t num, uint32_t indirect_tables,
			  uint32_t indirect_max)
{
	struct state_layout l;
	if (!state_layout(layout, num, indirect_tables, indirect_max, &l))
		return 0;
	return l.total;
}

/* Zero one ring area (through the view when one is set). @return 0 or the view's error. */
static int zero_area(struct vtio_vq *vq, int a, size_t len)
{
	if (!VTIO__VQ_RING_MEM(vq)) {
		VTIO_MEMSET(vq->area_ptr[a], 0, len);
		return 0;
	}
	static const unsigned char zeros[64];
	for (size_t off = 0; off < len; off += sizeof(zeros)) {
		size_t n = len - off < sizeof(zeros) ? len - off : sizeof(zeros);
		int err = vtio_mem_write(vq->ring_mem, vq->area_addr[a] + off, zeros, n);
		if (err != 0)
			return err;
	}
	return 0;
}

/* Reset the common part of the shadow state and zero the ring areas.
 * @return 0, or VTIO_EFAULT when the ring view refuses the zeroing (the
 * queue is then broken). */
static int reset_common(struct vtio_vq *vq)
{
	struct vtio_vq_area_sizes s;
	/* layout and num were validated by vtio_vq_init(): this cannot fail. */
	int err = vtio_vq_area_sizes(vq->layout, vq->num, &s);
	VTIO_ASSERT(err == 0);
	err = zero_area(vq, VTIO__AREA_DESC, s.desc);
	if (err == 0)
		err = zero_area(vq, VTIO__AREA_DRIVER, s.driver);
	if (err == 0)
		err = zero_area(vq, VTIO__AREA_DEVICE, s.device);
	VTIO_MEMSET(vq->bufs, 0, (size_t)vq->num * sizeof(*vq->bufs));
	vq->num_free = vq->num;
	vq->inflight = 0;
	vq->indir_nfree = vq->indir_tables;
	for (uint32_t t = 0; t < vq->indir_tables; t++)
		vq->indir_free[t] = vq->indir_tables - 1u - t;
	vq->broken = false;
	vq->broken_reason = NULL;
	set_hot(vq);
	if (err != 0) {
		vtio__vq_break(vq, VTIO__VQ_ENOWRITE);
		return VTIO_EFAULT;
	}
	return 0;
}

int vtio_vq_init(struct vtio_vq **out, void *state, size_t state_size,
		 const struct vtio_vq_config *cfg)
{
	struct state_layout l;
	struct vtio_vq_area_sizes s;
	if (out == NULL || state == NULL || cfg == NULL)
		return VTIO_EINVAL;
	*out = NULL;
	if (!layout_ok(cfg->layout))
		return cfg->layout == VTIO_LAYOUT_SPLIT || cfg->layout == VTIO_LAYOUT_PACKED
			   ? VTIO_ENOTSUP
			   : VTIO_EINVAL;
	if (((uintptr_t)state & 15u) != 0 || cfg->notify == NULL)
		return VTIO_EINVAL;
	if (vtio_vq_area_sizes(cfg->layout, cfg->num, &s) != 0)
		return VTIO_EINVAL;
	uint32_t tables = 0, tmax = 0;
	bool ind = (cfg->features & VTIO_FEATURE(VTIO_F_INDIRECT_DESC)) != 0;
	if (ind && cfg->indirect_tables != 0) {
		if (!VTIO_CONFIG_INDIRECT)
			return VTIO_ENOTSUP;
		tables = cfg->indirect_tables;
		tmax = cfg->indirect_max;
	}
	if (!state_layout(cfg->layout, cfg->num, cfg->indirect_tables, cfg->indirect_max, &l) ||
	    state_size < l.total)
		return VTIO_EINVAL;
	/* With ring_mem the CPU pointers are never used: they may be NULL. */
	if (cfg->ring_mem == NULL &&
	    (cfg->areas.desc == NULL || cfg->areas.driver == NULL || cfg->areas.device == NULL))
		return VTIO_EINVAL;
	if ((cfg->ring_mem == NULL &&
	     (((uintptr_t)cfg->areas.desc & (s.desc_align - 1u)) != 0 ||
	      ((uintptr_t)cfg->areas.driver & (s.driver_align - 1u)) != 0 ||
	      ((uintptr_t)cfg->areas.device & (s.device_align - 1u)) != 0)) ||
	    (cfg->areas.desc_addr & (s.desc_align - 1u)) != 0 ||
	    (cfg->areas.driver_addr & (s.driver_align - 1u)) != 0 ||
	    (cfg->areas.device_addr & (s.device_align - 1u)) != 0)
		return VTIO_EINVAL; /* SPLIT-DRV-1 / PACKED-DRV-1 */
	if ((cfg->features & VTIO_FEATURE(VTIO_F_EVENT_IDX)) && !VTIO_CONFIG_EVENT_IDX)
		return VTIO_ENOTSUP;
	if ((cfg->features & VTIO_FEATURE(VTIO_F_IN_ORDER)) && !VTIO_CONFIG_IN_ORDER)
		return VTIO_ENOTSUP;
	if (cfg->ring_mem != NULL && !VTIO_CONFIG_RING_MEM)
		return VTIO_ENOTSUP;
	bool want_map =
	    cfg->dma != NULL && ((cfg->features & VTIO_FEATURE(VTIO_F_ACCESS_PLATFORM)) ||
				 (cfg->flags & VTIO_VQ_F_MAP));
	/* Without DMA support nothing can be mapped: neither buffers nor (even
	 * premapped) the indirect tables. */
	if (!VTIO_CONFIG_DMA && want_map &&
	    (!(cfg->flags & VTIO_VQ_F_PREMAPPED) || (ind && tables != 0)))
		return VTIO_ENOTSUP;

	unsigned char *base = state;
	VTIO_MEMSET(base, 0, l.extra);
	struct vtio_vq *vq = (struct vtio_vq *)(void *)base;
	vq->layout = cfg->layout;
	vq->index = cfg->index;
	vq->num = cfg->num;
	vq->features = cfg->features;
	vq->flags = cfg->flags;
	vq->dma_barriers = (cfg->flags & VTIO_VQ_F_DMA_BARRIERS) ||
			   (cfg->features & VTIO_FEATURE(VTIO_F_ORDER_PLATFORM));
	vq->legacy = !(cfg->features & VTIO_FEATURE(VTIO_F_VERSION_1));
	vq->event_idx = (cfg->features & VTIO_FEATURE(VTIO_F_EVENT_IDX)) != 0;
	vq->in_order = (cfg->features & VTIO_FEATURE(VTIO_F_IN_ORDER)) != 0;
	vq->notif_data = (cfg->features & VTIO_FEATURE(VTIO_F_NOTIFICATION_DATA)) != 0;
	vq->indirect = ind && tables != 0 && tmax != 0;
	vq->do_map = false;
	vq->map_tables = false;
	vq->unmap_tables = false;
	vq->bus_offset = 0;
#if VTIO_CONFIG_DMA
	if (want_map && !cfg->dma->identity) {
		/* Indirect tables are the library's memory: mapped even when the
		 * caller premaps its buffers. */
		vq->map_tables = true;
		vq->unmap_tables = !cfg->dma->linear;
		if (!(cfg->flags & VTIO_VQ_F_PREMAPPED)) {
			/* A linear stack (bus = cpu + offset, unmap a no-op) is
			 * handled inline like identity: no map call, no unmap walk. */
			if (cfg->dma->linear)
				vq->bus_offset = cfg->dma->linear_offset;
			else
				vq->do_map = true;
		}
	}
#else
	(void)want_map;
#endif
	vq->fast = cfg->ring_mem == NULL && !vq->do_map && !vq->unmap_tables;
	vq->areas = cfg->areas;
	vq->area_ptr[VTIO__AREA_DESC] = cfg->areas.desc;
	vq->area_ptr[VTIO__AREA_DRIVER] = cfg->areas.driver;
	vq->area_ptr[VTIO__AREA_DEVICE] = cfg->areas.device;
	vq->area_addr[VTIO__AREA_DESC] = cfg->areas.desc_addr;
	vq->area_addr[VTIO__AREA_DRIVER] = cfg->areas.driver_addr;
	vq->area_addr[VTIO__AREA_DEVICE] = cfg->areas.device_addr;
	vq->ring_mem = cfg->ring_mem;
	vq->notify = cfg->notify;
	vq->notify_ctx = cfg->notify_ctx;
	vq->dma = cfg->dma;
	vq->bufs = (struct vtio__vq_buf *)(void *)(base + l.bufs);
	vq->indir_tables = vq->indirect ? tables : 0;
	vq->indir_max = vq->indirect ? tmax : 0;
	vq->indir_threshold = cfg->indirect_threshold ? cfg->indirect_threshold : 2u;
	vq->indir_free = (uint32_t *)(void *)(base + l.indir_free);
	vq->indir_base = base + l.indir_tables;
	vq->indir_rec = VTIO_CONFIG_DMA && vq->indirect
			    ? (struct vtio__seg_rec *)(void *)(base + l.indir_rec)
			    : NULL;
	if (reset_common(vq) != 0)
		return VTIO_EFAULT; /* the ring view refused the zeroing */
	set_hot(vq);
	int err = VTIO__DISPATCH(vq, init, vq, base + l.extra);
	if (err != 0)
		return err;
	*out = vq;
	return 0;
}

/* vtio_vq_add() off the hot path: every argument check, then the layout. */
static VTIO__NOINLINE int add_checked(struct vtio_vq *vq, const struct vtio_sg *sg,
				      unsigned out_num, unsigned in_num, void *token)
{
	unsigned n = out_num + in_num;
	if (VTIO_UNLIKELY(vq->broken))
		return VTIO_EIO;
	if (VTIO_UNLIKELY(sg == NULL || token == NULL))
		return VTIO_EINVAL;
	if (VTIO_LIKELY(n == 1)) {
		if (VTIO_UNLIKELY(sg[0].len == 0))
			return VTIO_EINVAL;
	} else {
		if (VTIO_UNLIKELY(n == 0 || n < out_num))
			return VTIO_EINVAL;
		uint64_t total = 0;
		for (unsigned i = 0; i < n; i++) {
			if (VTIO_UNLIKELY(sg[i].len == 0))
				return VTIO_EINVAL;
			total += sg[i].len;
		}
		if (VTIO_UNLIKELY(total > ((uint64_t)1 << 32)))
			return VTIO_E2BIG; /* SPLIT-DRV-7: a chain carries at most 4 GiB */
		if (VTIO_UNLIKELY(n > vq->num &&
				  (!VTIO_CONFIG_INDIRECT || !vq->indirect || n > vq->indir_max)))
			return VTIO_E2BIG;
	}
	return VTIO__DISPATCH(vq, add, vq, sg, out_num, in_num, token);
}

#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_FAST_PATHS
/*
 * One segment on a hot split queue: out of line, reached by a tail jump with
 * vtio_vq_add()'s own arguments (each one used, so no clone with fewer: the
 * jump needs no moves), so the callee-saved registers split's straight line
 * needs are saved here, not by the packed line inlined in vtio_vq_add()
 * (which then saves none: three pushes and three pops fewer per packed add,
 * gcc 12).
 */
static VTIO__NOINLINE int add_split_one(struct vtio_vq *vq, const struct vtio_sg *sg,
					unsigned out_num, unsigned in_num, void *token)
{
	if (VTIO_UNLIKELY(vq->num_free == 0))
		return add_checked(vq, sg, out_num, in_num, token);
	return vtio__vq_split_add_one(vq, sg, in_num != 0, token, false);
}
#if VTIO_CONFIG_IN_ORDER
static VTIO__NOINLINE int add_split_one_io(struct vtio_vq *vq, const struct vtio_sg *sg,
					   unsigned out_num, unsigned in_num, void *token)
{
	if (VTIO_UNLIKELY(vq->num_free == 0))
		return add_checked(vq, sg, out_num, in_num, token);
	return vtio__vq_split_add_one(vq, sg, in_num != 0, token, true);
}
#endif
#endif

int vtio_vq_add(struct vtio_vq *vq, const struct vtio_sg *sg, unsigned out_num, unsigned in_num,
		void *token)
{
	VTIO_ASSERT(vq != NULL);
#if VTIO_CONFIG_FAST_PATHS
	/* One segment on a hot queue: the packed straight line here (no
	 * call), the split ones one jump away. The three hot kinds are
	 * exclusive; packed is tested before IN_ORDER split so that the
	 * packed line pays one test more than split's, not two. A full hot
	 * packed ring is answered here (the general path would only reach the
	 * same VTIO_ENOSPC). */
	if (VTIO_LIKELY(out_num + in_num == 1 && sg != NULL && token != NULL && sg[0].len != 0)) {
#if VTIO_CONFIG_SPLIT
		if (VTIO_LIKELY(vq->hot))
			return add_split_one(vq, sg, out_num, in_num, token);
#endif
#if VTIO_CONFIG_PACKED
		if (VTIO_LIKELY(vq->hot_packed))
			return VTIO_LIKELY(vq->num_free != 0)
				   ? vtio__vq_packed_add_one(vq, sg, in_num, token)
				   : VTIO_ENOSPC;
#endif
#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_IN_ORDER
		if (vq->hot_io)
			return add_split_one_io(vq, sg, out_num, in_num, token);
#endif
	}
#endif
	return add_checked(vq, sg, out_num, in_num, token);
}

int vtio_vq_add_batch(struct vtio_vq *vq, const struct vtio_sg *sg, unsigned n,
		      bool device_writable, void *const *tokens)
{
	VTIO_ASSERT(vq != NULL);
	if (VTIO_UNLIKELY(n == 0 || sg == NULL || tokens == NULL))
		return VTIO_EINVAL;
#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(vq->hot | vq->hot_io))
		return vtio__vq_split_add_batch(vq, sg, n, device_writable, tokens);
#endif
#if VTIO_CONFIG_PACKED && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(vq->hot_packed))
		return vtio__vq_packed_add_batch(vq, sg, n, device_writable, tokens);
#endif
	unsigned out = device_writable ? 0u : 1u;
	unsigned k = 0;
	for (; k < n; k++) {
		int err = vtio_vq_add(vq, &sg[k], out, 1u - out, tokens[k]);
		if (err != 0)
			return k == 0 ? err : (int)k; /* the next call reports it */
	}
	return (int)k;
}

bool vtio_vq_kick_prepare(struct vtio_vq *vq)
{
	VTIO_ASSERT(vq != NULL);
	if (VTIO_UNLIKELY(vq->broken))
		return false;
	return VTIO__DISPATCH(vq, kick_prepare, vq);
}

int vtio_vq_publish(struct vtio_vq *vq)
{
	VTIO_ASSERT(vq != NULL);
#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(vq->hot | vq->hot_io)) {
		vtio__vq_split_publish_hot(vq);
		return 0;
	}
#endif
#if VTIO_CONFIG_PACKED && VTIO_CONFIG_FAST_PATHS
	/* A hot packed queue (not broken): vtio_vq_add() published already. */
	if (VTIO_LIKELY(vq->hot_packed))
		return 0;
#endif
	if (VTIO_UNLIKELY(vq->broken))
		return VTIO_EIO;
#if VTIO_CONFIG_SPLIT
	/* Packed buffers are visible when vtio_vq_add() returns. */
	if (vq->layout == VTIO_LAYOUT_SPLIT && VTIO_UNLIKELY(!vtio__vq_split_publish(vq)))
		return VTIO_EIO;
#endif
	return 0;
}

int vtio_vq_notify(struct vtio_vq *vq)
{
	VTIO_ASSERT(vq != NULL);
	if (VTIO_UNLIKELY(vq->broken))
		return VTIO_EIO;
	uint32_t data = vq->index;
	if (vq->notif_data)
		data = VTIO__DISPATCH(vq, notify_data, vq);
	vq->stats.notifies++;
	return vq->notify(vq->notify_ctx, data);
}

int vtio_vq_kick(struct vtio_vq *vq)
{
	if (vtio_vq_kick_prepare(vq))
		return vtio_vq_notify(vq);
	return vq->broken ? VTIO_EIO : 0;
}

void *vtio_vq_get_used(struct vtio_vq *vq, uint32_t *len)
{
	VTIO_ASSERT(vq != NULL);
#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(vq->hot))
		return vtio__vq_split_used_hot(vq, len);
#endif
		/* Packed before IN_ORDER split (exclusive kinds): one test, not two. */
#if VTIO_CONFIG_PACKED && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(vq->hot_packed))
		return vtio__vq_packed_get_used_hot(vq, len);
#endif
#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_FAST_PATHS && VTIO_CONFIG_IN_ORDER
	if (vq->hot_io)
		return vtio__vq_split_get_used_io(vq, len); /* out of line: keeps this one lean */
#endif
	if (VTIO_UNLIKELY(vq->broken))
		return NULL;
	return VTIO__DISPATCH(vq, get_used, vq, len);
}

int vtio_vq_get_used_batch(struct vtio_vq *vq, void **tokens, uint32_t *lens, unsigned n)
{
	VTIO_ASSERT(vq != NULL);
	if (VTIO_UNLIKELY(n == 0 || tokens == NULL))
		return VTIO_EINVAL;
#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(vq->hot))
		return vtio__vq_split_get_used_batch(vq, tokens, lens, n);
#endif
#if VTIO_CONFIG_PACKED && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(vq->hot_packed))
		return vtio__vq_packed_get_used_batch(vq, tokens, lens, n);
#endif
	unsigned k = 0;
	for (; k < n; k++) {
		void *t = vtio_vq_get_used(vq, lens != NULL ? &lens[k] : NULL);
		if (t == NULL)
			break;
		tokens[k] = t;
	}
	return vtio__vq_used_batch_result(vq, k);
}

int vtio_vq_take_used(struct vtio_vq *vq, void **token, uint32_t *len)
{
	VTIO_ASSERT(vq != NULL && token != NULL);
	void *t = vtio_vq_get_used(vq, len);
	*token = t;
	if (VTIO_LIKELY(t != NULL))
		return 0;
	return vq->broken ? VTIO_EIO : VTIO_EAGAIN;
}

bool vtio_vq_more_used(const struct vtio_vq *vq)
{
	VTIO_ASSERT(vq != NULL);
#if VTIO_CONFIG_SPLIT && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(vq->hot | vq->hot_io))
		return vtio__vq_split_more_used_hot(vq);
#endif
#if VTIO_CONFIG_PACKED && VTIO_CONFIG_FAST_PATHS
	if (VTIO_LIKELY(vq->hot_packed))
		return vtio__vq_packed_more_used_one(vq);
#endif
	if (VTIO_UNLIKELY(vq->broken))
		return false;
	return VTIO__DISPATCH(vq, more_used, vq);
}

void vtio_vq_disable_cb(struct vtio_vq *vq)
{
	VTIO_ASSERT(vq != NULL);
	if (!vq->broken)
		VTIO__DISPATCH(vq, disable_cb, vq);
}

bool vtio_vq_enable_cb(struct vtio_vq *vq)
{
	VTIO_ASSERT(vq != NULL);
	if (VTIO_UNLIKELY(vq->broken))
		return true;
	return VTIO__DISPATCH(vq, enable_cb, vq);
}

bool vtio_vq_enable_cb_delayed(struct vtio_vq *vq)
{
	VTIO_ASSERT(vq != NULL);
	if (VTIO_UNLIKELY(vq->broken))
		return true;
	if (!vq->event_idx)
		return VTIO__DISPATCH(vq, enable_cb, vq);
	return VTIO__DISPATCH(vq, enable_cb_delayed, vq);
}

void *vtio_vq_detach_unused(struct vtio_vq *vq)
{
	VTIO_ASSERT(vq != NULL);
	return VTIO__DISPATCH(vq, detach_unused, vq);
}

int vtio_vq_reset(struct vtio_vq *vq)
{
	VTIO_ASSERT(vq != NULL);
	if (vtio__vq_inflight(vq) != 0)
		return VTIO_EBUSY;
	int err = reset_common(vq);
	VTIO__DISPATCH(vq, reset, vq);
	return err;
}

bool vtio_vq_is_broken(const struct vtio_vq *vq)
{
	return vq->broken;
}

const char *vtio_vq_broken_reason(const struct vtio_vq *vq)
{
	return vq->broken ? vq->broken_reason : NULL;
}

void vtio_vq_set_broken(struct vtio_vq *vq, const char *reason)
{
	vtio__vq_break(vq, reason != NULL ? reason : "marked broken by the caller");
}

uint32_t vtio_vq_size(const struct vtio_vq *vq)
{
	return vq->num;
}

uint32_t vtio_vq_num_free(const struct vtio_vq *vq)
{
	return vq->num_free;
}

uint16_t vtio_vq_index(const struct vtio_vq *vq)
{
	return vq->index;
}

enum vtio_layout vtio_vq_layout(const struct vtio_vq *vq)
{
	return vq->layout;
}

const struct vtio_vq_areas *vtio_vq_get_areas(const struct vtio_vq *vq)
{
	return &vq->areas;
}

void vtio_vq_get_stats(const struct vtio_vq *vq, struct vtio_vq_stats *out)
{
	*out = vq->stats;
#if VTIO_CONFIG_SPLIT
	if (vq->layout == VTIO_LAYOUT_SPLIT)
		out->added += vtio__vq_split_pending_added(vq);
#endif
#if VTIO_CONFIG_PACKED
	if (vq->layout == VTIO_LAYOUT_PACKED) {
		out->added += vtio__vq_pk_added(&vq->u.packed);
		out->used += vtio__vq_pk_used(vq);
	}
#endif
}

#endif /* VTIO_CONFIG_DRIVER */
