/*
 * Host-only (POSIX) channel for the message-queue transport: whole messages
 * over a connected stream socket (a UNIX socket, a socketpair, the socket a
 * struct vtio_host_link was set up over), framed by the length field of the
 * message header. Never part of the freestanding core (target vtio_host).
 *
 * recv waits at most the channel's timeout for the first byte of a message
 * and then for each further piece. A peer that closed the socket is VTIO_EIO
 * for send and recv; a header that cannot be framed (bad version, impossible
 * length) is VTIO_EIO too: a stream cannot find the next message after it,
 * so the session is over.
 *
 * Context: one sender and one receiver at a time (they may be different
 * threads).
 */
#ifndef VTIO_HOST_MSGQ_H
#define VTIO_HOST_MSGQ_H

#include "vtio/transport/msgq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A channel over a connected stream socket (not owned: the caller closes it). */
struct vtio_host_msgq_chan {
	int fd;		/* Connected stream socket. */
	int timeout_ms; /* recv wait: -1 for ever, 0 poll (VTIO_EAGAIN when empty). */
};

/* The hooks; their context is a struct vtio_host_msgq_chan. */
extern const struct vtio_msgq_chan_ops vtio_host_msgq_chan_ops;

/* Set up @p c over @p fd and return the struct vtio_msgq_chan to give to
 * vtio_msgq_drv_init() / vtio_msgq_dev_init(). */
struct vtio_msgq_chan vtio_host_msgq_chan_init(struct vtio_host_msgq_chan *c, int fd,
					       int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* VTIO_HOST_MSGQ_H */
