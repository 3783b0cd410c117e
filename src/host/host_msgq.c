/* POSIX stream-socket channel for the message-queue transport (host_msgq.h). */
#define _POSIX_C_SOURCE 200809L
#include "host_msgq.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	for (;;) {
		int n = poll(&p, 1, timeout_ms);
		if (n > 0)
			return 0; /* readable, HUP or error: read() tells which */
		if (n == 0)
			return timeout_ms == 0 ? VTIO_EAGAIN : VTIO_ETIMEDOUT;
		if (errno != EINTR)
			return VTIO_EIO;
	}
}

/* Read exactly @p len bytes. @p first: nothing of the message read yet. */
static int read_full(const struct vtio_host_msgq_chan *c, uint8_t *buf, size_t len, bool first)
{
	size_t got = 0;
	while (got < len) {
		/* Once a message started, its rest gets a wait even for a polling
		 * channel: the peer sent it as one piece. */
		int tmo = c->timeout_ms;
		if (!first || got > 0)
			tmo = c->timeout_ms == 0 || c->timeout_ms > 1000 ? 1000 : c->timeout_ms;
		int rc = wait_readable(c->fd, tmo);
		if (rc != 0)
			return (first && got == 0) ? rc : VTIO_EIO;
		ssize_t n = read(c->fd, buf + got, len - got);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			return VTIO_EIO; /* EOF: peer gone */
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			continue;
		return VTIO_EIO;
	}
	return 0;
}

static int chan_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
	const struct vtio_host_msgq_chan *c = ctx;
	uint8_t *p = buf;
	if (cap < VTIO_MSGQ_HDR_SIZE)
		return VTIO_EINVAL;
	int rc = read_full(c, p, VTIO_MSGQ_HDR_SIZE, true);
	if (rc != 0)
		return rc;
	int total = vtio_msgq_peek_length(p);
	if (total < 0 || (size_t)total > cap)
		return VTIO_EIO; /* the stream cannot be framed any more */
	rc = read_full(c, p + VTIO_MSGQ_HDR_SIZE, (size_t)total - VTIO_MSGQ_HDR_SIZE, false);
	if (rc != 0)
		return rc;
	*len = (size_t)total;
	return 0;
}

static int chan_send(void *ctx, const void *msg, size_t len)
{
	const struct vtio_host_msgq_chan *c = ctx;
	const uint8_t *p = msg;
	size_t done = 0;
	while (done < len) {
		ssize_t n = send(c->fd, p + done, len - done, MSG_NOSIGNAL);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
			if (poll(&pf, 1, 1000) <= 0)
				return VTIO_ETIMEDOUT;
			continue;
		}
		return VTIO_EIO; /* EPIPE, ECONNRESET, ...: peer gone */
	}
	return 0;
}

const struct vtio_msgq_chan_ops vtio_host_msgq_chan_ops = {
    .send = chan_send,
    .recv = chan_recv,
};

struct vtio_msgq_chan vtio_host_msgq_chan_init(struct vtio_host_msgq_chan *c, int fd,
					       int timeout_ms)
{
	c->fd = fd;
	c->timeout_ms = timeout_ms;
	struct vtio_msgq_chan ch = {.ops = &vtio_host_msgq_chan_ops, .ctx = c};
	return ch;
}
