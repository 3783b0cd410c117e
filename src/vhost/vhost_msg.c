/* vhost-user wire helpers: one message in, one message out, shape checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vhost_internal.h"

static int ferr(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int ferr(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

static void close_all(struct vtio__vhost_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

/* Read exactly @len bytes, waiting at most @timeout_ms for each piece. */
static int read_full(int fd, void *buf, size_t len, int timeout_ms, char *err, size_t errlen)
{
	unsigned char *p = buf;
	while (len > 0) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int pr = poll(&pf, 1, timeout_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return ferr(err, errlen, VTIO_ETIMEDOUT, "message truncated (timed out)");
		ssize_t r = recv(fd, p, len, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r == 0)
			return ferr(err, errlen, VTIO_EPROTO, "message truncated (EOF)");
		if (r < 0)
			return ferr(err, errlen, VTIO_EIO, "socket read failed: %s",
				    strerror(errno));
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int vtio__vhost_recv(int fd, struct vtio__vhost_msg *m, int timeout_ms, char *err, size_t errlen)
{
	uint32_t hdr[3];
	union {
		char buf[CMSG_SPACE(sizeof(int) * VTIO_VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = hdr, .iov_len = sizeof(hdr)};
	struct msghdr mh;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	m->nfds = 0;
	ssize_t r;
	do {
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		return VTIO_ENOENT;
	if (r < 0)
		return ferr(err, errlen, VTIO_EIO, "socket read failed: %s", strerror(errno));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (m->nfds < VTIO_VHOST_USER_MAX_FDS)
				m->fds[m->nfds++] = f;
			else
				close(f);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		close_all(m);
		return ferr(err, errlen, VTIO_EPROTO, "more than %u fds in one message",
			    VTIO_VHOST_USER_MAX_FDS);
	}
	int e = 0;
	if ((size_t)r < sizeof(hdr))
		e = read_full(fd, (unsigned char *)hdr + r, sizeof(hdr) - (size_t)r, timeout_ms,
			      err, errlen);
	if (e == 0) {
		m->req = hdr[0];
		m->flags = hdr[1];
		m->size = hdr[2];
		if (m->size > VTIO_VHOST_USER_MAX_PAYLOAD)
			e = ferr(err, errlen, VTIO_EPROTO,
				 "request %u: payload of %u bytes exceeds %u", m->req, m->size,
				 VTIO_VHOST_USER_MAX_PAYLOAD);
	}
	if (e == 0 && m->size > 0)
		e = read_full(fd, m->payload, m->size, timeout_ms, err, errlen);
	if (e != 0) {
		close_all(m);
		return e == VTIO_EIO || e == VTIO_ETIMEDOUT ? e : VTIO_EPROTO;
	}
	return 0;
}

int vtio__vhost_send(int fd, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		     const int *fds, unsigned nfds)
{
	unsigned char buf[VTIO_VHOST_USER_HDR_SIZE + VTIO_VHOST_USER_MAX_PAYLOAD];
	union {
		char buf[CMSG_SPACE(sizeof(int) * VTIO_VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	if (size > VTIO_VHOST_USER_MAX_PAYLOAD || nfds > VTIO_VHOST_USER_MAX_FDS)
		return VTIO_EINVAL;
	uint32_t hdr[3] = {req, flags, size};
	memcpy(buf, hdr, sizeof(hdr));
	if (size > 0)
		memcpy(buf + sizeof(hdr), payload, size);
	size_t len = sizeof(hdr) + size, done = 0;
	while (done < len) {
		struct iovec iov = {.iov_base = buf + done, .iov_len = len - done};
		struct msghdr mh;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (done == 0 && nfds > 0) {
			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		}
		ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return VTIO_EIO;
		done += (size_t)r;
	}
	return 0;
}

uint64_t vtio__vhost_u64(const struct vtio__vhost_msg *m)
{
	uint64_t v;
	memcpy(&v, m->payload, sizeof(v));
	return v;
}

struct vtio__vhost_state vtio__vhost_state(const struct vtio__vhost_msg *m)
{
	struct vtio__vhost_state s;
	memcpy(&s.index, m->payload, 4);
	memcpy(&s.num, m->payload + 4, 4);
	return s;
}

struct vtio__vhost_addr vtio__vhost_addr(const struct vtio__vhost_msg *m)
{
	struct vtio__vhost_addr a;
	memcpy(&a.index, m->payload, 4);
	memcpy(&a.flags, m->payload + 4, 4);
	/* Order on the wire: descriptor, used, available, log. */
	memcpy(&a.desc, m->payload + 8, 8);
	memcpy(&a.used, m->payload + 16, 8);
	memcpy(&a.avail, m->payload + 24, 8);
	memcpy(&a.log, m->payload + 32, 8);
	return a;
}

int vtio__vhost_check_request(const struct vtio__vhost_msg *m, unsigned nqueues, char *err,
			      size_t errlen)
{
	const uint32_t req = m->req;
	if ((m->flags & VTIO_VHOST_USER_VERSION_MASK) != VTIO_VHOST_USER_VERSION)
		return ferr(err, errlen, VTIO_EPROTO, "request %u: version %u, not 1", req,
			    m->flags & VTIO_VHOST_USER_VERSION_MASK);
	if (m->flags & ~(VTIO_VHOST_USER_VERSION_MASK | VTIO_VHOST_USER_FLAG_NEED_REPLY))
		return ferr(err, errlen, VTIO_EPROTO, "request %u: unknown flags 0x%x", req,
			    m->flags);
	unsigned want_fds = 0;
	switch (req) {
	case VTIO_VHOST_USER_GET_FEATURES:
	case VTIO_VHOST_USER_SET_OWNER:
	case VTIO_VHOST_USER_RESET_OWNER:
	case VTIO_VHOST_USER_GET_PROTOCOL_FEATURES:
	case VTIO_VHOST_USER_GET_QUEUE_NUM:
	case VTIO_VHOST_USER_RESET_DEVICE:
	case VTIO_VHOST_USER_GET_STATUS:
		/* No payload; some front ends send a zero u64. */
		if (m->size != 0 && m->size != 8)
			return ferr(err, errlen, VTIO_EPROTO, "request %u: size %u, expected 0",
				    req, m->size);
		break;
	case VTIO_VHOST_USER_SET_FEATURES:
	case VTIO_VHOST_USER_SET_PROTOCOL_FEATURES:
	case VTIO_VHOST_USER_SET_STATUS:
		if (m->size != 8)
			return ferr(err, errlen, VTIO_EPROTO, "request %u: size %u, expected 8",
				    req, m->size);
		break;
	case VTIO_VHOST_USER_SET_VRING_NUM:
	case VTIO_VHOST_USER_SET_VRING_BASE:
	case VTIO_VHOST_USER_GET_VRING_BASE:
	case VTIO_VHOST_USER_SET_VRING_ENABLE:
	case VTIO_VHOST_USER_SET_VRING_ADDR: {
		uint32_t want = req == VTIO_VHOST_USER_SET_VRING_ADDR ? 40u : 8u;
		if (m->size != want)
			return ferr(err, errlen, VTIO_EPROTO, "request %u: size %u, expected %u",
				    req, m->size, want);
		uint32_t idx;
		memcpy(&idx, m->payload, 4);
		if (idx >= nqueues)
			return ferr(err, errlen, VTIO_EPROTO,
				    "request %u: queue %u out of range (%u queues)", req, idx,
				    nqueues);
		break;
	}
	case VTIO_VHOST_USER_SET_VRING_KICK:
	case VTIO_VHOST_USER_SET_VRING_CALL:
	case VTIO_VHOST_USER_SET_VRING_ERR: {
		if (m->size != 8)
			return ferr(err, errlen, VTIO_EPROTO, "request %u: size %u, expected 8",
				    req, m->size);
		uint64_t v = vtio__vhost_u64(m);
		if (v & ~(uint64_t)(VTIO_VHOST_USER_VRING_IDX_MASK | VTIO_VHOST_USER_VRING_NOFD))
			return ferr(err, errlen, VTIO_EPROTO, "request %u: reserved bits in 0x%llx",
				    req, (unsigned long long)v);
		if ((v & VTIO_VHOST_USER_VRING_IDX_MASK) >= nqueues)
			return ferr(err, errlen, VTIO_EPROTO,
				    "request %u: queue %u out of range (%u queues)", req,
				    (unsigned)(v & VTIO_VHOST_USER_VRING_IDX_MASK), nqueues);
		want_fds = (v & VTIO_VHOST_USER_VRING_NOFD) ? 0u : 1u;
		break;
	}
	case VTIO_VHOST_USER_SET_MEM_TABLE: {
		uint32_t n;
		if (m->size < 8)
			return ferr(err, errlen, VTIO_EPROTO, "SET_MEM_TABLE: size %u too short",
				    m->size);
		memcpy(&n, m->payload, 4);
		if (n == 0 || n > VTIO_VHOST_USER_MAX_REGIONS)
			return ferr(err, errlen, VTIO_EPROTO, "SET_MEM_TABLE: %u regions (1..%u)",
				    n, VTIO_VHOST_USER_MAX_REGIONS);
		if (m->size < 8u + n * 32u || m->size > 8u + VTIO_VHOST_USER_MAX_REGIONS * 32u)
			return ferr(err, errlen, VTIO_EPROTO,
				    "SET_MEM_TABLE: size %u does not hold %u regions", m->size, n);
		want_fds = n;
		break;
	}
	case VTIO_VHOST_USER_GET_CONFIG:
	case VTIO_VHOST_USER_SET_CONFIG: {
		uint32_t off, size;
		if (m->size < 12)
			return ferr(err, errlen, VTIO_EPROTO, "request %u: size %u too short", req,
				    m->size);
		memcpy(&off, m->payload, 4);
		memcpy(&size, m->payload + 4, 4);
		if (size > VTIO_VHOST_USER_CONFIG_MAX || m->size != 12u + size)
			return ferr(err, errlen, VTIO_EPROTO,
				    "request %u: config size %u does not match message size %u",
				    req, size, m->size);
		if (off > 0xffffu)
			return ferr(err, errlen, VTIO_EPROTO, "request %u: config offset %u", req,
				    off);
		break;
	}
	default:
		return ferr(err, errlen, VTIO_EPROTO, "request %u not supported", req);
	}
	if (m->nfds != want_fds)
		return ferr(err, errlen, VTIO_EPROTO, "request %u: %u fds, expected %u", req,
			    m->nfds, want_fds);
	return 0;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int vtio__vhost_parse_mem_table(const struct vtio__vhost_msg *m, struct vtio__vhost_mem_table *t,
				char *err, size_t errlen)
{
	uint32_t n;
	memcpy(&n, m->payload, 4);
	t->n = n;
	for (unsigned i = 0; i < n; i++) {
		struct vtio__vhost_region *r = &t->r[i];
		const unsigned char *p = m->payload + 8 + i * 32u;
		memcpy(&r->gpa, p, 8);
		memcpy(&r->size, p + 8, 8);
		memcpy(&r->uaddr, p + 16, 8);
		memcpy(&r->mmap_offset, p + 24, 8);
		if (r->size == 0)
			return ferr(err, errlen, VTIO_EPROTO, "memory region %u is empty", i);
		if (r->gpa + r->size < r->gpa || r->uaddr + r->size < r->uaddr ||
		    r->mmap_offset + r->size < r->mmap_offset || r->gpa + r->size == 0 ||
		    r->uaddr + r->size == 0)
			return ferr(err, errlen, VTIO_EPROTO, "memory region %u wraps past 2^64",
				    i);
		for (unsigned j = 0; j < i; j++) {
			if (overlaps(r->gpa, r->size, t->r[j].gpa, t->r[j].size))
				return ferr(err, errlen, VTIO_EPROTO,
					    "memory regions %u and %u overlap (guest addresses)", j,
					    i);
			if (overlaps(r->uaddr, r->size, t->r[j].uaddr, t->r[j].size))
				return ferr(
				    err, errlen, VTIO_EPROTO,
				    "memory regions %u and %u overlap (front-end addresses)", j, i);
		}
	}
	return 0;
}

uint32_t vtio__vhost_packed_base(const struct vtio_devq_pos *pos)
{
	return (uint32_t)(pos->avail_idx & 0x7fffu) | ((uint32_t)pos->avail_wrap << 15) |
	       ((uint32_t)(pos->used_idx & 0x7fffu) << 16) | ((uint32_t)pos->used_wrap << 31);
}

void vtio__vhost_base_to_pos(uint32_t base, bool packed, struct vtio_devq_pos *pos)
{
	memset(pos, 0, sizeof(*pos));
	if (!packed) {
		pos->avail_idx = (uint16_t)base;
		pos->used_idx = (uint16_t)base;
		return;
	}
	pos->avail_idx = (uint16_t)(base & 0x7fffu);
	pos->avail_wrap = (base >> 15) & 1u;
	if ((base >> 16) == 0) {
		pos->used_idx = pos->avail_idx;
		pos->used_wrap = pos->avail_wrap;
	} else {
		pos->used_idx = (uint16_t)((base >> 16) & 0x7fffu);
		pos->used_wrap = (base >> 31) & 1u;
	}
}
