/* Host plumbing for two-process transports: memfd window, eventfd bells,
 * UNIX sockets with SCM_RIGHTS (Linux). */
#define _GNU_SOURCE
#include "host_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vtio/error.h"

static int from_errno(int e)
{
	switch (e) {
	case EINVAL:
	case EBADF:
		return VTIO_EINVAL;
	case ENOMEM:
	case EMFILE:
	case ENFILE:
	case ENOSPC:
		return VTIO_ENOMEM;
	case EAGAIN:
	case EINTR:
		return VTIO_EAGAIN;
	case EACCES:
	case EPERM:
	case EROFS:
		return VTIO_EACCES;
	case ENOENT:
	case ENOTDIR:
		return VTIO_ENOENT;
	case ECONNREFUSED:
	case ECONNRESET:
	case EPIPE:
	case ENOTCONN:
		return VTIO_ENOTCONN;
	case EADDRINUSE:
		return VTIO_EBUSY;
	case ENAMETOOLONG:
		return VTIO_EMSGSIZE;
	default:
		return VTIO_EIO;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close_fd(&fds[i]);
}

/* ---- Window ---------------------------------------------------------------- */

int vtio_host_shm_create(struct vtio_host_shm *w, const char *name, size_t size)
{
	w->base = NULL;
	w->size = 0;
	w->fd = -1;
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096u;
	/* At most 1 TiB, and on 32-bit hosts half the address space. */
	const uint64_t max = sizeof(size_t) < 8 ? (uint64_t)(SIZE_MAX >> 1) : (UINT64_C(1) << 40);
	if (size == 0 || (uint64_t)size > max)
		return VTIO_EINVAL;
	size = (size + page - 1) & ~(page - 1);
	int fd = memfd_create(name ? name : "vtio-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return from_errno(errno);
	if (ftruncate(fd, (off_t)size) != 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
		int r = from_errno(errno);
		close(fd);
		return r;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int r = from_errno(errno);
		close(fd);
		return r;
	}
	w->base = p;
	w->size = size;
	w->fd = fd;
	return 0;
}

int vtio_host_shm_map(struct vtio_host_shm *w, int fd, size_t min_size)
{
	w->base = NULL;
	w->size = 0;
	w->fd = -1;
	if (fd < 0)
		return VTIO_EINVAL;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return VTIO_EINVAL;
	}
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		close(fd);
		return VTIO_EACCES;
	}
	if (st.st_size <= 0 || (uint64_t)st.st_size < (uint64_t)min_size ||
	    (uint64_t)st.st_size > ((uint64_t)1 << 40)) {
		close(fd);
		return VTIO_ERANGE;
	}
	size_t size = (size_t)st.st_size;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int r = from_errno(errno);
		close(fd);
		return r;
	}
	w->base = p;
	w->size = size;
	w->fd = fd;
	return 0;
}

void vtio_host_shm_close(struct vtio_host_shm *w)
{
	if (w->base)
		munmap(w->base, w->size);
	w->base = NULL;
	w->size = 0;
	close_fd(&w->fd);
}

/* ---- Sockets ------------------------------------------------------------- */

static int make_addr(const char *path, struct sockaddr_un *a)
{
	if (!path || !*path)
		return VTIO_EINVAL;
	size_t n = strlen(path);
	if (n >= sizeof(a->sun_path))
		return VTIO_EMSGSIZE;
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, path, n + 1);
	return 0;
}

int vtio_host_listen(const char *path, int *lfd)
{
	struct sockaddr_un a;
	int r = make_addr(path, &a);
	if (r)
		return r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return from_errno(errno);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		if (errno != EADDRINUSE) {
			r = from_errno(errno);
			close(fd);
			return r;
		}
		/* A socket file exists: live listener or stale leftover? */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			r = from_errno(errno);
			close(fd);
			return r;
		}
		int c = connect(probe, (struct sockaddr *)&a, sizeof(a));
		int ce = errno;
		close(probe);
		if (c == 0 || ce != ECONNREFUSED) {
			close(fd);
			return c == 0 ? VTIO_EBUSY : from_errno(ce);
		}
		struct stat st;
		if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
			close(fd);
			return VTIO_EBUSY; /* not ours to remove */
		}
		unlink(path);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
			r = from_errno(errno);
			close(fd);
			return r;
		}
	}
	if (listen(fd, 4) != 0) {
		r = from_errno(errno);
		close(fd);
		return r;
	}
	*lfd = fd;
	return 0;
}

static int poll_one(int fd, short events, int timeout_ms, short *revents)
{
	struct pollfd p = {.fd = fd, .events = events, .revents = 0};
	int r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return from_errno(errno);
	if (r == 0)
		return VTIO_ETIMEDOUT;
	*revents = p.revents;
	return 0;
}

int vtio_host_accept(int lfd, int timeout_ms, int *sfd)
{
	short rev = 0;
	int r = poll_one(lfd, POLLIN, timeout_ms, &rev);
	if (r)
		return r;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN ? VTIO_ETIMEDOUT : from_errno(errno);
	*sfd = fd;
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int vtio_host_connect(const char *path, int timeout_ms, int *sfd)
{
	struct sockaddr_un a;
	int r = make_addr(path, &a);
	if (r)
		return r;
	uint64_t end = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return from_errno(errno);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			*sfd = fd;
			return 0;
		}
		int e = errno;
		close(fd);
		if (e == EINTR)
			return VTIO_EAGAIN;
		if (e != ENOENT && e != ECONNREFUSED)
			return from_errno(e);
		if (now_ms() >= end)
			return e == ENOENT ? VTIO_ENOENT : VTIO_ENOTCONN;
		struct timespec ts = {0, 10L * 1000 * 1000};
		if (nanosleep(&ts, NULL) != 0 && errno == EINTR)
			return VTIO_EAGAIN;
	}
}

int vtio_host_send_fds(int sfd, const void *msg, size_t len, const int *fds, unsigned nfds)
{
	if (!msg || len == 0 || len > 65536u || nfds > VTIO_HOST_MAX_FDS || (nfds && !fds))
		return VTIO_EINVAL;
	union {
		char buf[CMSG_SPACE(sizeof(int) * VTIO_HOST_MAX_FDS)];
		struct cmsghdr align;
	} c;
	memset(&c, 0, sizeof(c));
	struct iovec iov = {.iov_base = (void *)(uintptr_t)msg, .iov_len = len};
	struct msghdr m;
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (nfds) {
		m.msg_control = c.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(h), fds, sizeof(int) * nfds);
	}
	const char *p = msg;
	size_t done = 0;
	while (done < len) {
		ssize_t n = sendmsg(sfd, &m, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return from_errno(errno);
		}
		done += (size_t)n;
		/* The fds went with the first part; the rest goes plain. */
		iov.iov_base = (void *)(uintptr_t)(p + done);
		iov.iov_len = len - done;
		m.msg_control = NULL;
		m.msg_controllen = 0;
	}
	return 0;
}

/* Close every fd carried by the control messages of @p m. */
static unsigned take_fds(struct msghdr *m, int *fds, unsigned max, bool *overflow)
{
	unsigned n = 0;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS ||
		    h->cmsg_len < CMSG_LEN(0))
			continue;
		size_t cnt = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (n < max && fds)
				fds[n++] = fd;
			else {
				close(fd);
				*overflow = true;
			}
		}
	}
	return n;
}

int vtio_host_recv_fds(int sfd, void *msg, size_t len, int *fds, unsigned max_fds, unsigned *nfds,
		       int timeout_ms)
{
	if (nfds)
		*nfds = 0;
	if (!msg || len == 0 || max_fds > VTIO_HOST_MAX_FDS)
		return VTIO_EINVAL;
	unsigned got = 0;
	size_t done = 0;
	bool overflow = false;
	int r = 0;
	while (done < len) {
		short rev = 0;
		r = poll_one(sfd, POLLIN, timeout_ms, &rev);
		if (r)
			break;
		union {
			char buf[CMSG_SPACE(sizeof(int) * VTIO_HOST_MAX_FDS)];
			struct cmsghdr align;
		} c;
		struct iovec iov = {.iov_base = (char *)msg + done, .iov_len = len - done};
		struct msghdr m;
		memset(&m, 0, sizeof(m));
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = c.buf;
		m.msg_controllen = sizeof(c.buf);
		ssize_t n = recvmsg(sfd, &m, MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR) {
				r = VTIO_EAGAIN;
				break;
			}
			r = from_errno(errno);
			break;
		}
		got += take_fds(&m, fds ? fds + got : NULL, max_fds - got, &overflow);
		if (m.msg_flags & MSG_CTRUNC)
			overflow = true;
		if (n == 0) {
			r = VTIO_ENOTCONN;
			break;
		}
		done += (size_t)n;
	}
	if (!r && overflow)
		r = VTIO_EBADMSG;
	if (r) {
		if (r == VTIO_ENOTCONN && done > 0)
			r = VTIO_EBADMSG; /* message cut short by EOF */
		close_fds(fds, got);
		return r;
	}
	if (nfds)
		*nfds = got;
	return 0;
}

bool vtio_host_peer_gone(int sfd)
{
	if (sfd < 0)
		return true;
	short rev = 0;
	int r = poll_one(sfd, POLLIN | POLLRDHUP, 0, &rev);
	if (r == VTIO_ETIMEDOUT)
		return false;
	if (r)
		return true;
	if (rev & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP))
		return true;
	if (rev & POLLIN) {
		char b;
		ssize_t n = recv(sfd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
	}
	return false;
}

/* ---- Link -------------------------------------------------------------------- */

#define LINK_MAGIC   0x4b4e4c4d48535456ull /* "VTSHMLNK" little-endian */
#define LINK_VERSION 1u

/* The hello message (host byte order: both ends are on one machine). */
struct link_hello {
	uint64_t magic;
	uint32_t version;
	uint32_t nbells;
	uint64_t size;
	uint32_t info_len;
	uint32_t reserved;
	unsigned char info[VTIO_HOST_LINK_INFO_MAX];
};

static void link_blank(struct vtio_host_link *l)
{
	memset(l, 0, sizeof(*l));
	l->win.fd = -1;
	l->sock = -1;
	for (unsigned i = 0; i < VTIO_HOST_LINK_MAX_BELLS; i++) {
		l->tx[i] = -1;
		l->rx[i] = -1;
	}
}

int vtio_host_link_create(struct vtio_host_link *l, size_t size, unsigned nbells)
{
	link_blank(l);
	if (nbells == 0 || nbells > VTIO_HOST_LINK_MAX_BELLS)
		return VTIO_EINVAL;
	int r = vtio_host_shm_create(&l->win, "vtio-link", size);
	if (r)
		return r;
	for (unsigned i = 0; i < nbells; i++) {
		l->tx[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		l->rx[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (l->tx[i] < 0 || l->rx[i] < 0) {
			r = from_errno(errno);
			l->nbells = i + 1;
			vtio_host_link_close(l);
			return r;
		}
	}
	l->nbells = nbells;
	l->creator = true;
	return 0;
}

static void drain(int fd)
{
	uint64_t v;
	while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
	}
}

int vtio_host_link_send(struct vtio_host_link *l, int sfd, const void *info, size_t info_len)
{
	if (!l->creator || sfd < 0 || info_len > VTIO_HOST_LINK_INFO_MAX || (info_len && !info))
		return VTIO_EINVAL;
	struct link_hello h;
	memset(&h, 0, sizeof(h));
	h.magic = LINK_MAGIC;
	h.version = LINK_VERSION;
	h.nbells = l->nbells;
	h.size = l->win.size;
	h.info_len = (uint32_t)info_len;
	if (info_len)
		memcpy(h.info, info, info_len);
	int fds[1 + 2 * VTIO_HOST_LINK_MAX_BELLS];
	unsigned n = 0;
	fds[n++] = l->win.fd;
	for (unsigned i = 0; i < l->nbells; i++)
		fds[n++] = l->tx[i];
	for (unsigned i = 0; i < l->nbells; i++)
		fds[n++] = l->rx[i];
	/* A new peer starts from quiet bells. */
	for (unsigned i = 0; i < l->nbells; i++) {
		drain(l->tx[i]);
		drain(l->rx[i]);
	}
	int r = vtio_host_send_fds(sfd, &h, sizeof(h), fds, n);
	if (r)
		return r;
	if (l->sock >= 0 && l->sock != sfd)
		close(l->sock);
	l->sock = sfd;
	return 0;
}

int vtio_host_link_recv(struct vtio_host_link *l, int sfd, int timeout_ms, void *info,
			size_t info_cap, size_t *info_len)
{
	link_blank(l);
	if (info_len)
		*info_len = 0;
	if (sfd < 0 || (info_cap && !info))
		return VTIO_EINVAL;
	struct link_hello h;
	memset(&h, 0, sizeof(h));
	int fds[1 + 2 * VTIO_HOST_LINK_MAX_BELLS];
	for (unsigned i = 0; i < 1 + 2 * VTIO_HOST_LINK_MAX_BELLS; i++)
		fds[i] = -1;
	unsigned n = 0;
	int r = vtio_host_recv_fds(sfd, &h, sizeof(h), fds, 1 + 2 * VTIO_HOST_LINK_MAX_BELLS, &n,
				   timeout_ms);
	if (r)
		return r;
	if (h.magic != LINK_MAGIC)
		r = VTIO_EBADMSG;
	else if (h.version != LINK_VERSION)
		r = VTIO_ENOTSUP;
	else if (h.nbells == 0 || h.nbells > VTIO_HOST_LINK_MAX_BELLS || n != 1 + 2 * h.nbells ||
		 h.info_len > VTIO_HOST_LINK_INFO_MAX || h.info_len > info_cap || h.size == 0)
		r = VTIO_EBADMSG;
	if (r) {
		close_fds(fds, n);
		return r;
	}
	/* Bells are used non-blocking (8-byte reads and writes only), so a peer
	 * that sends some other kind of fd cannot make us block on it. */
	for (unsigned i = 1; i < n; i++) {
		int fl = fcntl(fds[i], F_GETFL);
		if (fl < 0) {
			close_fds(fds, n);
			return VTIO_EBADMSG;
		}
		if (!(fl & O_NONBLOCK) && fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) != 0) {
			close_fds(fds, n);
			return VTIO_EBADMSG;
		}
	}
	r = vtio_host_shm_map(&l->win, fds[0], (size_t)h.size);
	if (r) {
		close_fds(fds + 1, n - 1);
		link_blank(l);
		return r;
	}
	l->nbells = h.nbells;
	for (unsigned i = 0; i < h.nbells; i++) {
		l->rx[i] = fds[1 + i];		  /* creator's tx: ours to wait on */
		l->tx[i] = fds[1 + h.nbells + i]; /* creator's rx: ours to ring */
	}
	if (h.info_len)
		memcpy(info, h.info, h.info_len);
	if (info_len)
		*info_len = h.info_len;
	l->sock = sfd;
	return 0;
}

int vtio_host_link_ring(void *ctx, uint32_t which)
{
	struct vtio_host_link *l = ctx;
	if (l->nbells == 0)
		return VTIO_EINVAL;
	uint64_t one = 1;
	int fd = l->tx[which % l->nbells];
	for (;;) {
		ssize_t r = write(fd, &one, sizeof(one));
		if (r == (ssize_t)sizeof(one))
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		/* EAGAIN: the counter is saturated, the peer has a ring pending. */
		if (r < 0 && errno == EAGAIN)
			return 0;
		return VTIO_EIO;
	}
}

int vtio_host_link_wait(struct vtio_host_link *l, int timeout_ms, uint64_t *rang)
{
	*rang = 0;
	struct pollfd p[VTIO_HOST_LINK_MAX_BELLS + 1];
	unsigned n = l->nbells;
	for (unsigned i = 0; i < n; i++) {
		p[i].fd = l->rx[i];
		p[i].events = POLLIN;
		p[i].revents = 0;
	}
	p[n].fd = l->sock;
	p[n].events = POLLIN | POLLRDHUP;
	p[n].revents = 0;
	int r = poll(p, n + 1, timeout_ms);
	if (r < 0)
		return from_errno(errno);
	if (r == 0)
		return VTIO_ETIMEDOUT;
	uint64_t mask = 0;
	for (unsigned i = 0; i < n; i++) {
		if (p[i].revents & POLLIN) {
			uint64_t v;
			if (read(l->rx[i], &v, sizeof(v)) == (ssize_t)sizeof(v))
				mask |= (uint64_t)1 << i;
		}
	}
	bool gone = l->sock < 0;
	if (!gone && p[n].revents) {
		if (p[n].revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP))
			gone = true;
		else if (vtio_host_peer_gone(l->sock))
			gone = true;
		else
			mask |= (uint64_t)1 << VTIO_HOST_LINK_SOCK_BIT;
	}
	*rang = mask;
	if (gone)
		return VTIO_ENOTCONN;
	return mask ? 0 : VTIO_ETIMEDOUT;
}

void vtio_host_link_disconnect(struct vtio_host_link *l)
{
	close_fd(&l->sock);
	for (unsigned i = 0; i < l->nbells; i++) {
		if (l->rx[i] >= 0)
			drain(l->rx[i]);
		if (l->tx[i] >= 0)
			drain(l->tx[i]);
	}
}

void vtio_host_link_close(struct vtio_host_link *l)
{
	close_fd(&l->sock);
	close_fds(l->tx, VTIO_HOST_LINK_MAX_BELLS);
	close_fds(l->rx, VTIO_HOST_LINK_MAX_BELLS);
	l->nbells = 0;
	vtio_host_shm_close(&l->win);
	l->creator = false;
}
