/*
 * vhost-user back end (device role): one listening socket, one front end
 * at a time, every ring through vtio_devq. Every message is validated
 * before it changes anything; a malformed one drops the connection with a
 * reason and the back end listens again.
 */
#define _GNU_SOURCE
#include "vtio/vhost_user.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vhost_internal.h"

/* epoll tags: the listening socket, the connection, kick fd of queue i. */
#define TAG_LISTEN 0xffffffffu
#define TAG_CONN   0xfffffffeu

struct be_region {
	uint64_t gpa, size, uaddr;
	void *map; /* mmap base (the region starts at map + mmap_offset) */
	size_t map_len;
	unsigned char *host;
};

struct be_vring {
	uint32_t num;
	bool addr_set;
	uint64_t desc_ua, used_ua, avail_ua;
	uint32_t base; /* state from SET_VRING_BASE, or from the last stop */
	int kick_fd, call_fd, err_fd;
	bool kick_set;	     /* SET_VRING_KICK seen (fd or polling) since the last stop */
	bool started;	     /* between SET_VRING_KICK and GET_VRING_BASE */
	bool enabled;	     /* SET_VRING_ENABLE 1 (or no protocol features) */
	struct vtio_devq *q; /* live queue (started && enabled && memory) */
	bool err_sent;	     /* the queue broke and the error eventfd was signalled */
	void *state;
	uint64_t driver_gpa, device_gpa; /* the event areas' guest addresses (live) */
	uint64_t kicks, calls;		 /* vtio_vhost_be_queue_info() */
	bool again; /* run_queue() stopped at its round cap with buffers waiting */
};

struct vtio_vhost_be {
	struct vtio_vhost_be_config cfg;
	char *path;
	char *log_prefix;
	int listen_fd;
	int ep;
	int conn;
	struct vtio_vhost_be_stats stats;
	char err[160];
	bool has_err;

	/* Per-connection state, reset at each disconnect. */
	bool owner;
	bool features_set;
	uint64_t features;
	uint64_t protocol;
	uint8_t status;
	struct be_region regions[VTIO_VHOST_USER_MAX_REGIONS];
	unsigned nregions;
	struct vtio_mem_region view_regions[VTIO_VHOST_USER_MAX_REGIONS];
	struct vtio_mem view;
	bool have_mem;
	struct be_vring vr[VTIO_VHOST_USER_MAX_QUEUES];
	bool polled; /* some started queue has no kick fd */
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int fail(struct vtio_vhost_be *be, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(struct vtio_vhost_be *be, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(be->err, sizeof(be->err), fmt, ap);
	va_end(ap);
	be->has_err = true;
	return VTIO_EPROTO;
}

static bool proto_has(const struct vtio_vhost_be *be, unsigned bit)
{
	return (be->protocol >> bit) & 1u;
}

/* ---- Queues ----------------------------------------------------------------------- */

static int call_notify(void *ctx, uint32_t data)
{
	struct be_vring *v = ctx;
	(void)data;
	if (v->call_fd < 0)
		return 0;
	uint64_t one = 1;
	ssize_t r;
	v->calls++;
	do {
		r = write(v->call_fd, &one, sizeof(one));
	} while (r < 0 && errno == EINTR);
	return 0; /* a full or closed eventfd is the front end's problem */
}

/* Front-end virtual address -> guest physical address (through userspace_addr). */
static int ua_to_gpa(const struct vtio_vhost_be *be, uint64_t ua, uint64_t *gpa)
{
	for (unsigned i = 0; i < be->nregions; i++) {
		const struct be_region *r = &be->regions[i];
		if (ua >= r->uaddr && ua - r->uaddr < r->size) {
			*gpa = r->gpa + (ua - r->uaddr);
			return 0;
		}
	}
	return VTIO_EFAULT;
}

static void queue_drop(struct vtio_vhost_be *be, unsigned qi)
{
	struct be_vring *v = &be->vr[qi];
	if (v->q == NULL)
		return;
	if (be->cfg.ops->queue_state != NULL)
		be->cfg.ops->queue_state(be->cfg.ctx, be, qi, false);
	struct vtio_devq_pos pos;
	vtio_devq_get_pos(v->q, &pos);
	if (be->features & VTIO_FEATURE(VTIO_F_RING_PACKED))
		v->base = vtio__vhost_packed_base(&pos);
	else
		v->base = pos.avail_idx;
	free(v->state);
	v->state = NULL;
	v->q = NULL;
	v->err_sent = false;
}

static void run_queue(struct vtio_vhost_be *be, unsigned qi);

/* Build the devq when the ring is started, enabled and memory is mapped. */
static int queue_update(struct vtio_vhost_be *be, unsigned qi)
{
	struct be_vring *v = &be->vr[qi];
	bool want = v->started && v->enabled && be->have_mem;
	if (!want) {
		queue_drop(be, qi);
		return 0;
	}
	if (v->q != NULL)
		return 0;
	if (!v->addr_set || v->num == 0)
		return fail(be, "queue %u started without SET_VRING_NUM/ADDR", qi);
	bool packed = (be->features & VTIO_FEATURE(VTIO_F_RING_PACKED)) != 0;
	enum vtio_layout layout = packed ? VTIO_LAYOUT_PACKED : VTIO_LAYOUT_SPLIT;
	if (!packed && (v->num & (v->num - 1u)) != 0)
		return fail(be, "queue %u: split ring size %u is not a power of 2", qi, v->num);
	struct vtio_devq_config c;
	memset(&c, 0, sizeof(c));
	c.layout = layout;
	c.index = (uint16_t)qi;
	c.num = v->num;
	c.features = be->features;
	c.mem = &be->view;
	c.notify = call_notify;
	c.notify_ctx = v;
	if (ua_to_gpa(be, v->desc_ua, &c.desc_addr) != 0 ||
	    ua_to_gpa(be, v->avail_ua, &c.driver_addr) != 0 ||
	    ua_to_gpa(be, v->used_ua, &c.device_addr) != 0)
		return fail(be, "queue %u: ring address outside the memory table", qi);
	v->driver_gpa = c.driver_addr;
	v->device_gpa = c.device_addr;
	size_t sz = vtio_devq_state_size(layout, v->num);
	if (sz == 0)
		return fail(be, "queue %u: bad ring size %u", qi, v->num);
	v->state = aligned_alloc(16, (sz + 15u) & ~(size_t)15u);
	if (v->state == NULL)
		return fail(be, "out of memory");
	int err = vtio_devq_init(&v->q, v->state, sz, &c);
	if (err == 0) {
		struct vtio_devq_pos pos;
		vtio__vhost_base_to_pos(v->base, packed, &pos);
		err = vtio_devq_set_pos(v->q, &pos);
	}
	if (err != 0) {
		free(v->state);
		v->state = NULL;
		v->q = NULL;
		return fail(be, "queue %u: rings rejected (%s)", qi, vtio_strerror(err));
	}
	if (be->cfg.ops->queue_state != NULL)
		be->cfg.ops->queue_state(be->cfg.ctx, be, qi, true);
	run_queue(be, qi); /* buffers may be waiting already (restart) */
	return 0;
}

/*
 * queue_work, the call, then re-arm notifications and re-check, until the
 * ring stays empty with notifications on. At most 64 rounds, so that one
 * busy queue cannot starve the socket and the other queues; a queue that
 * still has buffers then is marked to run again in the next
 * vtio_vhost_be_run() without waiting: a kick for those buffers may never
 * come (the driver made them available before the event index moved).
 */
static void run_queue(struct vtio_vhost_be *be, unsigned qi)
{
	struct be_vring *v = &be->vr[qi];
	v->again = false;
	for (int round = 0; v->q != NULL; round++) {
		if (round == 64) {
			v->again = true;
			break;
		}
		bool drained = be->cfg.ops->queue_work(be->cfg.ctx, be, qi, v->q);
		if (v->q == NULL)
			break;
		if (vtio_devq_is_broken(v->q)) {
			/* The driver broke the ring: say so once (log, error eventfd);
			 * the ring stays stopped until the front end restarts it. */
			if (!v->err_sent) {
				v->err_sent = true;
				if (be->log_prefix != NULL)
					fprintf(stderr, "%s: queue %u broken: %s\n", be->log_prefix,
						qi, vtio_devq_broken_reason(v->q));
				if (v->err_fd >= 0) {
					uint64_t one = 1;
					if (write(v->err_fd, &one, sizeof(one)) < 0) {
						/* nothing more to tell */
					}
				}
			}
			break;
		}
		vtio_devq_kick(v->q);
		if (!drained || vtio_devq_enable_notify(v->q))
			break;
	}
}

static void update_polled(struct vtio_vhost_be *be)
{
	be->polled = false;
	for (unsigned i = 0; i < be->cfg.num_queues; i++)
		if (be->vr[i].q != NULL && be->vr[i].kick_fd < 0)
			be->polled = true;
}

/* ---- Connection ---------------------------------------------------------------------- */

static void unmap_all(struct vtio_vhost_be *be)
{
	for (unsigned i = 0; i < be->nregions; i++)
		munmap(be->regions[i].map, be->regions[i].map_len);
	be->nregions = 0;
	be->have_mem = false;
	vtio_mem_init(&be->view, NULL, 0);
}

static void vring_clear(struct vtio_vhost_be *be, unsigned qi)
{
	struct be_vring *v = &be->vr[qi];
	queue_drop(be, qi);
	if (v->kick_fd >= 0)
		epoll_ctl(be->ep, EPOLL_CTL_DEL, v->kick_fd, NULL);
	close_fd(&v->kick_fd);
	close_fd(&v->call_fd);
	close_fd(&v->err_fd);
	memset(v, 0, sizeof(*v));
	v->kick_fd = v->call_fd = v->err_fd = -1;
}

/* RESET_OWNER / RESET_DEVICE and disconnect: back to the state of a new connection. */
static void device_reset(struct vtio_vhost_be *be)
{
	for (unsigned i = 0; i < VTIO_VHOST_USER_MAX_QUEUES; i++)
		vring_clear(be, i);
	unmap_all(be);
	be->owner = false;
	be->features_set = false;
	be->features = 0;
	be->protocol = 0;
	be->status = 0;
	be->polled = false;
}

static void disconnect(struct vtio_vhost_be *be, bool error)
{
	if (be->conn < 0)
		return;
	if (error) {
		be->stats.protocol_errors++;
		if (be->log_prefix != NULL)
			fprintf(stderr, "%s: dropping the front end: %s\n", be->log_prefix,
				be->has_err ? be->err : "protocol error");
	}
	device_reset(be);
	epoll_ctl(be->ep, EPOLL_CTL_DEL, be->conn, NULL);
	close_fd(&be->conn);
	be->stats.disconnects++;
	/* Listen again: a front end waiting in the backlog is accepted next. */
	if (be->listen_fd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TAG_LISTEN};
		epoll_ctl(be->ep, EPOLL_CTL_ADD, be->listen_fd, &ev);
	}
	if (be->cfg.ops->connection != NULL)
		be->cfg.ops->connection(be->cfg.ctx, be, false);
}

static int send_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	while (len > 0) {
		ssize_t r = send(fd, p, len, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return VTIO_EIO;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int reply(struct vtio_vhost_be *be, uint32_t req, const void *payload, uint32_t size)
{
	unsigned char buf[VTIO_VHOST_USER_HDR_SIZE + VTIO_VHOST_USER_MAX_PAYLOAD];
	uint32_t hdr[3] = {req, VTIO_VHOST_USER_VERSION | VTIO_VHOST_USER_FLAG_REPLY, size};
	memcpy(buf, hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), payload, size);
	return send_all(be->conn, buf, sizeof(hdr) + size);
}

static int reply_u64(struct vtio_vhost_be *be, uint32_t req, uint64_t v)
{
	return reply(be, req, &v, sizeof(v));
}

/* ---- Message handlers: 0 ok, > 0 refused (REPLY_ACK says so), < 0 drop ----------- */

static int h_mem_table(struct vtio_vhost_be *be, const struct vtio__vhost_msg *m)
{
	struct vtio__vhost_mem_table t;
	int err = vtio__vhost_parse_mem_table(m, &t, be->err, sizeof(be->err));
	if (err != 0) {
		be->has_err = true;
		return err;
	}
	/* Map everything first, so a failure leaves the old table in place. */
	struct be_region nr[VTIO_VHOST_USER_MAX_REGIONS];
	unsigned n = 0;
	for (; n < t.n; n++) {
		struct stat st;
		const struct vtio__vhost_region *r = &t.r[n];
		uint64_t len = r->mmap_offset + r->size;
		if (fstat(m->fds[n], &st) != 0) {
			err = fail(be, "memory region %u: fd not usable", n);
			break;
		}
		if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < len) {
			err = fail(be,
				   "memory region %u: file of %lld bytes is shorter than "
				   "mmap_offset + size = %llu",
				   n, (long long)st.st_size, (unsigned long long)len);
			break;
		}
		if (len > SIZE_MAX) {
			err = fail(be, "memory region %u too large", n);
			break;
		}
		void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, m->fds[n], 0);
		if (p == MAP_FAILED) {
			err = fail(be, "memory region %u: mmap failed (%s)", n, strerror(errno));
			break;
		}
		nr[n].gpa = r->gpa;
		nr[n].size = r->size;
		nr[n].uaddr = r->uaddr;
		nr[n].map = p;
		nr[n].map_len = (size_t)len;
		nr[n].host = (unsigned char *)p + r->mmap_offset;
	}
	if (err != 0) {
		for (unsigned i = 0; i < n; i++)
			munmap(nr[i].map, nr[i].map_len);
		return err;
	}
	/* Live queues continue over the new table at their current position. */
	bool live[VTIO_VHOST_USER_MAX_QUEUES];
	for (unsigned i = 0; i < be->cfg.num_queues; i++) {
		live[i] = be->vr[i].q != NULL;
		queue_drop(be, i);
	}
	unmap_all(be);
	memcpy(be->regions, nr, sizeof(nr[0]) * t.n);
	be->nregions = t.n;
	/* The view's table sorted by guest address (parse checked no overlap). */
	for (unsigned i = 0; i < t.n; i++) {
		unsigned at = i;
		while (at > 0 && be->view_regions[at - 1].addr > nr[i].gpa) {
			be->view_regions[at] = be->view_regions[at - 1];
			at--;
		}
		be->view_regions[at].addr = nr[i].gpa;
		be->view_regions[at].len = nr[i].size;
		be->view_regions[at].host = nr[i].host;
		be->view_regions[at].perm = VTIO_MEM_RW;
	}
	if (vtio_mem_init(&be->view, be->view_regions, t.n) != 0)
		return fail(be, "memory table rejected by the view");
	be->have_mem = true;
	for (unsigned i = 0; i < be->cfg.num_queues; i++) {
		if (live[i] && (err = queue_update(be, i)) != 0)
			return err;
	}
	return 0;
}

static int h_vring_fd(struct vtio_vhost_be *be, const struct vtio__vhost_msg *m)
{
	uint64_t v = vtio__vhost_u64(m);
	unsigned qi = (unsigned)(v & VTIO_VHOST_USER_VRING_IDX_MASK);
	struct be_vring *r = &be->vr[qi];
	int fd = (v & VTIO_VHOST_USER_VRING_NOFD) ? -1 : m->fds[0];
	switch (m->req) {
	case VTIO_VHOST_USER_SET_VRING_KICK:
		if (r->kick_fd >= 0)
			epoll_ctl(be->ep, EPOLL_CTL_DEL, r->kick_fd, NULL);
		close_fd(&r->kick_fd);
		r->kick_fd = fd;
		if (fd >= 0) {
			struct epoll_event ev = {.events = EPOLLIN, .data.u32 = qi};
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			if (epoll_ctl(be->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
				return fail(be, "queue %u: kick fd cannot be watched", qi);
		}
		r->kick_set = true;
		r->started = true;
		/* Without protocol features a ring is enabled when it starts. */
		if (!(be->features & VTIO_FEATURE(VTIO_VHOST_USER_F_PROTOCOL_FEATURES)))
			r->enabled = true;
		break;
	case VTIO_VHOST_USER_SET_VRING_CALL:
		close_fd(&r->call_fd);
		r->call_fd = fd;
		break;
	default:
		close_fd(&r->err_fd);
		r->err_fd = fd;
		return 0;
	}
	int err = queue_update(be, qi);
	update_polled(be);
	return err;
}

static int h_get_config(struct vtio_vhost_be *be, const struct vtio__vhost_msg *m)
{
	uint32_t off, size, flags;
	memcpy(&off, m->payload, 4);
	memcpy(&size, m->payload + 4, 4);
	memcpy(&flags, m->payload + 8, 4);
	unsigned char out[12 + VTIO_VHOST_USER_CONFIG_MAX];
	memset(out, 0, sizeof(out));
	memcpy(out, m->payload, 12);
	int err = be->cfg.ops->get_config != NULL
		      ? be->cfg.ops->get_config(be->cfg.ctx, off, out + 12, size)
		      : VTIO_ENOTSUP;
	if (err != 0) {
		/* A reply of size 0 tells the front end the read failed. */
		return reply(be, m->req, out, 0) != 0 ? VTIO_EIO : 0;
	}
	return reply(be, m->req, out, 12 + size) != 0 ? VTIO_EIO : 0;
}

/* @return 0 done, 1 refused, < 0 protocol error (disconnect). */
static int handle(struct vtio_vhost_be *be, const struct vtio__vhost_msg *m, bool *replied)
{
	uint64_t offered = be->cfg.features | VTIO_FEATURE(VTIO_VHOST_USER_F_PROTOCOL_FEATURES);
	uint64_t v;
	unsigned qi;
	int err = vtio__vhost_check_request(m, be->cfg.num_queues, be->err, sizeof(be->err));
	if (err != 0) {
		be->has_err = true;
		return err;
	}
	*replied = false;
	switch (m->req) {
	case VTIO_VHOST_USER_GET_FEATURES:
		*replied = true;
		return reply_u64(be, m->req, offered) != 0 ? VTIO_EIO : 0;
	case VTIO_VHOST_USER_SET_FEATURES:
		v = vtio__vhost_u64(m);
		if (v & ~offered)
			return fail(be, "SET_FEATURES 0x%llx has bits not offered (0x%llx)",
				    (unsigned long long)v, (unsigned long long)offered);
		for (qi = 0; qi < be->cfg.num_queues; qi++) {
			if (be->vr[qi].q != NULL && v != be->features)
				return fail(be, "SET_FEATURES changes features while queue %u runs",
					    qi);
		}
		be->features = v;
		be->features_set = true;
		be->stats.last_features = v;
		return 0;
	case VTIO_VHOST_USER_SET_OWNER:
		be->owner = true;
		return 0;
	case VTIO_VHOST_USER_RESET_OWNER:
	case VTIO_VHOST_USER_RESET_DEVICE: {
		uint64_t proto = be->protocol;
		device_reset(be);
		/* RESET_DEVICE keeps the negotiated protocol features. */
		if (m->req == VTIO_VHOST_USER_RESET_DEVICE)
			be->protocol = proto;
		return 0;
	}
	case VTIO_VHOST_USER_GET_PROTOCOL_FEATURES:
		*replied = true;
		return reply_u64(be, m->req,
				 be->cfg.protocol_features & VTIO_VHOST_USER_PROTOCOL_SUPPORTED) !=
			       0
			   ? VTIO_EIO
			   : 0;
	case VTIO_VHOST_USER_SET_PROTOCOL_FEATURES:
		v = vtio__vhost_u64(m);
		if (v & ~(be->cfg.protocol_features & VTIO_VHOST_USER_PROTOCOL_SUPPORTED))
			return fail(be, "SET_PROTOCOL_FEATURES 0x%llx has bits not offered",
				    (unsigned long long)v);
		be->protocol = v;
		be->stats.last_protocol_features = v;
		return 0;
	case VTIO_VHOST_USER_GET_QUEUE_NUM:
		*replied = true;
		return reply_u64(be, m->req, be->cfg.num_queues) != 0 ? VTIO_EIO : 0;
	case VTIO_VHOST_USER_SET_MEM_TABLE:
		return h_mem_table(be, m);
	case VTIO_VHOST_USER_SET_VRING_NUM: {
		struct vtio__vhost_state s = vtio__vhost_state(m);
		if (s.num == 0 || s.num > be->cfg.max_queue_size || s.num > 32768u)
			return fail(be, "queue %u: size %u out of range 1..%u", s.index, s.num,
				    be->cfg.max_queue_size);
		if (be->features_set && !(be->features & VTIO_FEATURE(VTIO_F_RING_PACKED)) &&
		    (s.num & (s.num - 1u)) != 0)
			return fail(be, "queue %u: split ring size %u is not a power of 2", s.index,
				    s.num);
		if (be->vr[s.index].q != NULL)
			return fail(be, "queue %u: SET_VRING_NUM while the ring runs", s.index);
		be->vr[s.index].num = s.num;
		return 0;
	}
	case VTIO_VHOST_USER_SET_VRING_ADDR: {
		struct vtio__vhost_addr a = vtio__vhost_addr(m);
		struct be_vring *r = &be->vr[a.index];
		if (r->q != NULL)
			return fail(be, "queue %u: SET_VRING_ADDR while the ring runs", a.index);
		if (a.flags & 1u)
			return fail(be, "queue %u: dirty logging asked for but not offered",
				    a.index);
		r->desc_ua = a.desc;
		r->used_ua = a.used;
		r->avail_ua = a.avail;
		r->addr_set = true;
		return 0;
	}
	case VTIO_VHOST_USER_SET_VRING_BASE: {
		struct vtio__vhost_state s = vtio__vhost_state(m);
		struct be_vring *r = &be->vr[s.index];
		if (r->q != NULL)
			return fail(be, "queue %u: SET_VRING_BASE while the ring runs", s.index);
		if ((be->features & VTIO_FEATURE(VTIO_F_RING_PACKED)) && r->num != 0 &&
		    (s.num & 0x7fffu) >= r->num)
			return fail(be, "queue %u: packed base %u beyond the ring", s.index,
				    s.num & 0x7fffu);
		r->base = s.num;
		return 0;
	}
	case VTIO_VHOST_USER_GET_VRING_BASE: {
		struct vtio__vhost_state s = vtio__vhost_state(m);
		struct be_vring *r = &be->vr[s.index];
		queue_drop(be, s.index);
		r->started = false;
		r->kick_set = false;
		if (r->kick_fd >= 0)
			epoll_ctl(be->ep, EPOLL_CTL_DEL, r->kick_fd, NULL);
		close_fd(&r->kick_fd);
		update_polled(be);
		s.num = r->base;
		*replied = true;
		uint32_t out[2] = {s.index, s.num};
		return reply(be, m->req, out, sizeof(out)) != 0 ? VTIO_EIO : 0;
	}
	case VTIO_VHOST_USER_SET_VRING_KICK:
	case VTIO_VHOST_USER_SET_VRING_CALL:
	case VTIO_VHOST_USER_SET_VRING_ERR:
		return h_vring_fd(be, m);
	case VTIO_VHOST_USER_SET_VRING_ENABLE: {
		struct vtio__vhost_state s = vtio__vhost_state(m);
		if (s.num > 1)
			return fail(be, "queue %u: SET_VRING_ENABLE %u is neither 0 nor 1", s.index,
				    s.num);
		be->vr[s.index].enabled = s.num == 1;
		err = queue_update(be, s.index);
		update_polled(be);
		return err;
	}
	case VTIO_VHOST_USER_GET_CONFIG:
		*replied = true;
		return h_get_config(be, m);
	case VTIO_VHOST_USER_SET_CONFIG: {
		uint32_t off, size;
		memcpy(&off, m->payload, 4);
		memcpy(&size, m->payload + 4, 4);
		if (be->cfg.ops->set_config == NULL)
			return 1;
		return be->cfg.ops->set_config(be->cfg.ctx, off, m->payload + 12, size) != 0 ? 1
											     : 0;
	}
	case VTIO_VHOST_USER_SET_STATUS:
		v = vtio__vhost_u64(m);
		if (v > 0xffu)
			return fail(be, "SET_STATUS 0x%llx does not fit the status byte",
				    (unsigned long long)v);
		be->status = (uint8_t)v;
		/* FEATURES_OK only holds for features that were set from the offer. */
		if ((be->status & VTIO_STATUS_FEATURES_OK) && !be->features_set)
			be->status &= (uint8_t)~VTIO_STATUS_FEATURES_OK;
		return 0;
	case VTIO_VHOST_USER_GET_STATUS:
		*replied = true;
		return reply_u64(be, m->req, be->status) != 0 ? VTIO_EIO : 0;
	default:
		return fail(be, "request %u not supported", m->req);
	}
}

static void msg_close_fds(const struct vtio_vhost_be *be, struct vtio__vhost_msg *m);

/* Process one decoded message: @return 0 keep the connection, < 0 drop it. */
static int process(struct vtio_vhost_be *be, struct vtio__vhost_msg *m)
{
	bool replied = false;
	be->stats.messages++;
	int r = handle(be, m, &replied);
	/* fds the handler kept were set to -1 by vtio__vhost_take_fds(); close the rest. */
	msg_close_fds(be, m);
	if (r < 0)
		return r;
	if (!replied && (m->flags & VTIO_VHOST_USER_FLAG_NEED_REPLY) &&
	    proto_has(be, VTIO_VHOST_USER_PROTOCOL_F_REPLY_ACK)) {
		if (reply_u64(be, m->req, r == 0 ? 0 : 1) != 0)
			return VTIO_EIO;
	}
	return 0;
}

/* Close the message's fds except one a vring now holds (the memory table's
 * are closed after mmap: the mapping stays). */
static void msg_close_fds(const struct vtio_vhost_be *be, struct vtio__vhost_msg *m)
{
	uint32_t req = m->req;
	bool kept = false;
	if (req == VTIO_VHOST_USER_SET_VRING_KICK || req == VTIO_VHOST_USER_SET_VRING_CALL ||
	    req == VTIO_VHOST_USER_SET_VRING_ERR) {
		/* Kept when it was installed (the queue's fd equals it). */
		if (m->nfds == 1) {
			unsigned qi =
			    (unsigned)(vtio__vhost_u64(m) & VTIO_VHOST_USER_VRING_IDX_MASK);
			if (qi < VTIO_VHOST_USER_MAX_QUEUES) {
				const struct be_vring *r = &be->vr[qi];
				kept = r->kick_fd == m->fds[0] || r->call_fd == m->fds[0] ||
				       r->err_fd == m->fds[0];
			}
		}
	}
	for (unsigned i = 0; i < m->nfds; i++) {
		if (!kept && m->fds[i] >= 0)
			close(m->fds[i]);
		m->fds[i] = -1;
	}
	m->nfds = 0;
}

static void on_conn(struct vtio_vhost_be *be)
{
	struct vtio__vhost_msg m;
	int err = vtio__vhost_recv(be->conn, &m, 1000, be->err, sizeof(be->err));
	if (err == VTIO_ENOENT) { /* orderly EOF */
		disconnect(be, false);
		return;
	}
	if (err != 0) {
		be->has_err = true;
		disconnect(be, true);
		return;
	}
	be->has_err = false;
	if (process(be, &m) != 0)
		disconnect(be, true);
}

static int start_conn(struct vtio_vhost_be *be, int fd)
{
	if (be->conn >= 0) {
		close(fd);
		be->stats.rejected++;
		return VTIO_EBUSY;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TAG_CONN};
	if (epoll_ctl(be->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		close(fd);
		return VTIO_EIO;
	}
	be->conn = fd;
	be->stats.connections++;
	/* One front end at a time: the next one waits in the listen backlog. */
	if (be->listen_fd >= 0)
		epoll_ctl(be->ep, EPOLL_CTL_DEL, be->listen_fd, NULL);
	be->has_err = false;
	if (be->cfg.ops->connection != NULL)
		be->cfg.ops->connection(be->cfg.ctx, be, true);
	return 0;
}

/* ---- Public ------------------------------------------------------------------------- */

int vtio_vhost_be_create(struct vtio_vhost_be **out, const struct vtio_vhost_be_config *cfg)
{
	if (out == NULL || cfg == NULL || cfg->ops == NULL || cfg->ops->queue_work == NULL ||
	    cfg->num_queues == 0 || cfg->num_queues > VTIO_VHOST_USER_MAX_QUEUES ||
	    cfg->max_queue_size == 0 || cfg->max_queue_size > 32768u)
		return VTIO_EINVAL;
	struct vtio_vhost_be *be = calloc(1, sizeof(*be));
	if (be == NULL)
		return VTIO_ENOMEM;
	be->cfg = *cfg;
	be->listen_fd = -1;
	be->conn = -1;
	for (unsigned i = 0; i < VTIO_VHOST_USER_MAX_QUEUES; i++)
		be->vr[i].kick_fd = be->vr[i].call_fd = be->vr[i].err_fd = -1;
	vtio_mem_init(&be->view, NULL, 0);
	if (cfg->log_prefix != NULL)
		be->log_prefix = strdup(cfg->log_prefix);
	be->ep = epoll_create1(EPOLL_CLOEXEC);
	if (be->ep < 0)
		goto fail_io;
	if (cfg->path != NULL) {
		struct sockaddr_un sa;
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		if (strlen(cfg->path) >= sizeof(sa.sun_path)) {
			vtio_vhost_be_destroy(be);
			return VTIO_EINVAL;
		}
		strcpy(sa.sun_path, cfg->path);
		be->path = strdup(cfg->path);
		be->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (be->listen_fd < 0)
			goto fail_io;
		struct stat st;
		if (lstat(cfg->path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(cfg->path);
		if (bind(be->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    listen(be->listen_fd, 4) != 0)
			goto fail_io;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TAG_LISTEN};
		if (epoll_ctl(be->ep, EPOLL_CTL_ADD, be->listen_fd, &ev) != 0)
			goto fail_io;
	}
	be->cfg.path = be->path;
	be->cfg.log_prefix = be->log_prefix;
	*out = be;
	return 0;
fail_io : {
	int e = errno;
	free(be->path);
	be->path = NULL; /* nothing of ours to unlink */
	vtio_vhost_be_destroy(be);
	errno = e;
	return VTIO_EIO;
}
}

void vtio_vhost_be_destroy(struct vtio_vhost_be *be)
{
	if (be == NULL)
		return;
	disconnect(be, false);
	close_fd(&be->listen_fd);
	if (be->path != NULL)
		unlink(be->path);
	close_fd(&be->ep);
	free(be->path);
	free(be->log_prefix);
	free(be);
}

int vtio_vhost_be_adopt(struct vtio_vhost_be *be, int fd)
{
	return start_conn(be, fd);
}

int vtio_vhost_be_fd(const struct vtio_vhost_be *be)
{
	return be->ep;
}

int vtio_vhost_be_run(struct vtio_vhost_be *be, int timeout_ms)
{
	struct epoll_event ev[16];
	if (be->polled && (timeout_ms < 0 || timeout_ms > 1))
		timeout_ms = 1;
	for (unsigned qi = 0; qi < be->cfg.num_queues; qi++)
		if (be->vr[qi].again)
			timeout_ms = 0;
	int n = epoll_wait(be->ep, ev, 16, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : VTIO_EIO;
	for (int i = 0; i < n; i++) {
		uint32_t tag = ev[i].data.u32;
		if (tag == TAG_LISTEN) {
			if (be->conn >= 0)
				continue; /* served after the current one leaves */
			int fd = accept4(be->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				start_conn(be, fd);
		} else if (tag == TAG_CONN) {
			if (be->conn >= 0)
				on_conn(be);
		} else if (tag < VTIO_VHOST_USER_MAX_QUEUES) {
			struct be_vring *r = &be->vr[tag];
			uint64_t cnt;
			if (r->kick_fd >= 0)
				while (read(r->kick_fd, &cnt, sizeof(cnt)) == (ssize_t)sizeof(cnt))
					r->kicks++;
			run_queue(be, tag);
		}
	}
	if (be->polled) {
		for (unsigned qi = 0; qi < be->cfg.num_queues; qi++)
			if (be->vr[qi].q != NULL && be->vr[qi].kick_fd < 0 &&
			    vtio_devq_more_avail(be->vr[qi].q))
				run_queue(be, qi);
	}
	for (unsigned qi = 0; qi < be->cfg.num_queues; qi++)
		if (be->vr[qi].again)
			run_queue(be, qi); /* clears it, or sets it again */
	return 0;
}

int vtio_vhost_be_wake(struct vtio_vhost_be *be, unsigned qi)
{
	if (qi >= be->cfg.num_queues)
		return VTIO_ERANGE;
	if (be->vr[qi].q == NULL)
		return VTIO_ENOENT;
	run_queue(be, qi);
	return 0;
}

void vtio_vhost_be_flush(struct vtio_vhost_be *be)
{
	for (unsigned qi = 0; qi < be->cfg.num_queues; qi++)
		if (be->vr[qi].q != NULL)
			vtio_devq_kick(be->vr[qi].q);
}

struct vtio_devq *vtio_vhost_be_queue(struct vtio_vhost_be *be, unsigned qi)
{
	return qi < be->cfg.num_queues ? be->vr[qi].q : NULL;
}

bool vtio_vhost_be_connected(const struct vtio_vhost_be *be)
{
	return be->conn >= 0;
}

uint64_t vtio_vhost_be_features(const struct vtio_vhost_be *be)
{
	return be->features;
}

void vtio_vhost_be_get_stats(const struct vtio_vhost_be *be, struct vtio_vhost_be_stats *out)
{
	*out = be->stats;
}

/* A 16-bit field of guest memory, 0 where the view does not reach. */
static uint16_t peek16(const struct vtio_vhost_be *be, uint64_t gpa)
{
	void *p;
	uint64_t got;
	uint16_t v = 0;
	if (vtio_mem_translate(&be->view, gpa, 2, VTIO_MEM_READ, &p, &got) == 0 && got == 2)
		memcpy(&v, p, 2);
	return vtio_le16(v);
}

int vtio_vhost_be_queue_info(const struct vtio_vhost_be *be, unsigned qi,
			     struct vtio_vhost_be_queue_info *out)
{
	if (qi >= be->cfg.num_queues)
		return VTIO_ERANGE;
	const struct be_vring *v = &be->vr[qi];
	memset(out, 0, sizeof(*out));
	out->num = v->num;
	out->kicks = v->kicks;
	out->calls = v->calls;
	if (v->q == NULL)
		return 0;
	out->live = true;
	vtio_devq_get_pos(v->q, &out->pos);
	out->avail = vtio_devq_more_avail(v->q);
	uint64_t d = v->driver_gpa, u = v->device_gpa;
	if (be->features & VTIO_FEATURE(VTIO_F_RING_PACKED)) {
		out->driver_event = peek16(be, d) | (uint32_t)peek16(be, d + 2) << 16;
		out->device_event = peek16(be, u) | (uint32_t)peek16(be, u + 2) << 16;
	} else {
		out->driver_event = peek16(be, d) | (uint32_t)peek16(be, d + 4 + 2ull * v->num)
							<< 16;
		out->device_event = peek16(be, u) | (uint32_t)peek16(be, u + 4 + 8ull * v->num)
							<< 16;
	}
	return 0;
}

const char *vtio_vhost_be_last_error(const struct vtio_vhost_be *be)
{
	return be->has_err ? be->err : NULL;
}
