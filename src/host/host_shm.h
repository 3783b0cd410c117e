/*
 * Host-only (Linux/POSIX) plumbing for transports between two processes:
 * a shared-memory window, eventfd doorbells in both directions, UNIX socket
 * connection set-up with file descriptors passed by SCM_RIGHTS, and peer-gone
 * detection. Never part of the freestanding core (target vtio_host).
 *
 * What this layer is NOT: it knows nothing of what lies in the window (the
 * shared-memory transport's device directory, a message queue, rings). The
 * portable transports sit on top and reach the doorbells through their
 * `ring(ctx, which)` hooks; vtio_host_link_ring() has that shape.
 *
 * Typical use (one side "creates", the other "accepts" what it is sent):
 *
 *   creator (e.g. the device, initialised first)   peer (e.g. the driver)
 *   vtio_host_listen(path, &lfd)
 *   vtio_host_link_create(&l, size, nbells)
 *   vtio_host_accept(lfd, ms, &sfd)          <-   vtio_host_connect(path, ms, &sfd)
 *   vtio_host_link_send(&l, sfd, info, n)    ->   vtio_host_link_recv(&l, sfd, ms, ...)
 *   ... both: vtio_host_link_ring() / vtio_host_link_wait() ...
 *   vtio_host_link_close(&l)                      vtio_host_link_close(&l)
 *
 * Directions: the creator rings bells "tx" and waits on bells "rx"; on the
 * receiving side the same eventfds arrive swapped, so for both sides tx is
 * "the peer's doorbell" and rx "my doorbell". Bell numbers are the same on
 * both sides: bell i of the creator's tx is bell i of the peer's rx.
 *
 * Peer input is not trusted: the hello message is checked (magic, version,
 * sizes, the number of fds), the window must be a sealed memfd (it cannot
 * shrink under us, so touching it never raises SIGBUS) at least as big as
 * announced, and a closed socket (EOF / POLLHUP) is reported as
 * VTIO_ENOTCONN by every call that looks at it.
 *
 * Every function returns 0 (or a count where said) or a negative VTIO_E*
 * code; errno values are translated (no errno leaks out). Nothing here
 * installs signal handlers; waits return VTIO_EAGAIN when a signal
 * interrupts them so a program can check its stop flag.
 *
 * Context: a link is used by one thread at a time per direction:
 * vtio_host_link_ring() may run concurrently with vtio_host_link_wait() on
 * another thread; set-up and close are serialised with everything else.
 */
#ifndef VTIO_HOST_SHM_H
#define VTIO_HOST_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Shared-memory window ------------------------------------------------ */

/* A window of shared memory: an mmap of a memfd, MAP_SHARED, read/write. */
struct vtio_host_shm {
	void *base;  /* Mapping (page aligned), NULL when closed. */
	size_t size; /* Bytes mapped. */
	int fd;	     /* The memfd (kept open to pass it on), -1 when closed. */
};

/*
 * Create a zero-filled window of @p size bytes (rounded up to the page size)
 * and map it. The memfd is sealed against shrinking and growing, so a peer
 * that receives it can rely on its size. @p name is for /proc (may be NULL).
 * Returns 0, VTIO_EINVAL (size 0 or too large), VTIO_ENOMEM, VTIO_EIO.
 */
int vtio_host_shm_create(struct vtio_host_shm *w, const char *name, size_t size);

/*
 * Map a window received from a peer. Takes ownership of @p fd (closed on
 * failure too). The fd must be a memfd sealed with F_SEAL_SHRINK (else
 * VTIO_EACCES: a peer could truncate it and fault us) and at least
 * @p min_size bytes long (VTIO_ERANGE otherwise); @p min_size 0 accepts
 * any non-empty size. The whole file is mapped; w->size is its real size.
 * Returns 0, VTIO_EINVAL (bad fd), VTIO_EACCES, VTIO_ERANGE, VTIO_ENOMEM, VTIO_EIO.
 */
int vtio_host_shm_map(struct vtio_host_shm *w, int fd, size_t min_size);

/* Unmap and close (safe on a zeroed or already closed window: set fd to -1
 * and base to NULL, or use vtio_host_shm_create/map first). */
void vtio_host_shm_close(struct vtio_host_shm *w);

/* ---- UNIX stream sockets ------------------------------------------------- */

/*
 * Listen on the UNIX socket @p path (SOCK_STREAM, close-on-exec). A stale
 * socket file at @p path (nobody listening) is removed first; a live one
 * gives VTIO_EBUSY (found by connecting to it: that probe leaves a closed
 * connection in the live listener's backlog, so a server treats a peer gone
 * before its hello as gone, not as an error); a path too long for sun_path
 * gives VTIO_EMSGSIZE.
 * Returns 0 with *lfd set, or VTIO_EBUSY / VTIO_EMSGSIZE / VTIO_EACCES /
 * VTIO_ENOENT (directory missing) / VTIO_EIO.
 */
int vtio_host_listen(const char *path, int *lfd);

/*
 * Accept one connection on @p lfd, waiting at most @p timeout_ms (-1: for
 * ever). Returns 0 with *sfd set, VTIO_ETIMEDOUT, VTIO_EAGAIN (a signal
 * interrupted the wait), VTIO_EIO.
 */
int vtio_host_accept(int lfd, int timeout_ms, int *sfd);

/*
 * Connect to the UNIX socket @p path. While nobody listens there (no file,
 * or connection refused) it retries every 10 ms until @p timeout_ms has
 * passed (0: one try), so a program may start before its peer.
 * Returns 0 with *sfd set; VTIO_ENOENT (no socket at @p path),
 * VTIO_ENOTCONN (a socket file but nobody listening), VTIO_EMSGSIZE (path
 * too long), VTIO_EACCES, VTIO_EAGAIN (signal), VTIO_EIO.
 */
int vtio_host_connect(const char *path, int timeout_ms, int *sfd);

/* Most file descriptors one message carries. */
#define VTIO_HOST_MAX_FDS 64u

/*
 * Send one message of @p len bytes (1..65536) with @p nfds file descriptors
 * (0..VTIO_HOST_MAX_FDS) attached by SCM_RIGHTS. The whole message is sent
 * or an error returned. Never raises SIGPIPE.
 * Returns 0, VTIO_EINVAL, VTIO_ENOTCONN (peer gone), VTIO_EIO.
 */
int vtio_host_send_fds(int sfd, const void *msg, size_t len, const int *fds, unsigned nfds);

/*
 * Receive one message of exactly @p len bytes and up to @p max_fds file
 * descriptors (more than that are closed and make the call fail with
 * VTIO_EBADMSG), waiting at most @p timeout_ms (-1: for ever). *nfds gets
 * the number received; the caller owns them. Descriptors arriving with a
 * short or failed message are closed.
 * Returns 0; VTIO_ENOTCONN (EOF: peer gone); VTIO_EBADMSG (short message,
 * too many fds, truncated control data); VTIO_ETIMEDOUT; VTIO_EAGAIN
 * (signal); VTIO_EIO.
 */
int vtio_host_recv_fds(int sfd, void *msg, size_t len, int *fds, unsigned max_fds, unsigned *nfds,
		       int timeout_ms);

/*
 * Without blocking: has the peer of socket @p sfd gone (EOF, POLLHUP,
 * POLLERR)? Unread data pending on the socket does not count as gone.
 */
bool vtio_host_peer_gone(int sfd);

/* ---- Link: window + doorbells + socket ------------------------------------ */

/* Most doorbells per direction of a link. */
#define VTIO_HOST_LINK_MAX_BELLS 16u
/* Most bytes of user information carried by the hello message. */
#define VTIO_HOST_LINK_INFO_MAX 128u
/* Bit of vtio_host_link_wait()'s mask meaning "the socket has data". */
#define VTIO_HOST_LINK_SOCK_BIT 63u

/* A connected pair of processes sharing one window and 2 x nbells eventfds. */
struct vtio_host_link {
	struct vtio_host_shm win;	  /* The shared window. */
	int tx[VTIO_HOST_LINK_MAX_BELLS]; /* Peer's doorbells (we write them). */
	int rx[VTIO_HOST_LINK_MAX_BELLS]; /* Our doorbells (we wait on them). */
	unsigned nbells;		  /* Bells per direction. */
	int sock;			  /* Connected socket, -1 before send/recv. */
	bool creator;			  /* Made by vtio_host_link_create(). */
};

/*
 * Creator side: make the window (@p size bytes, see vtio_host_shm_create())
 * and @p nbells (1..VTIO_HOST_LINK_MAX_BELLS) doorbells per direction. Not
 * connected yet (sock -1): the window may be filled in before a peer comes.
 * Returns 0, VTIO_EINVAL, VTIO_ENOMEM, VTIO_EIO (nothing left allocated).
 */
int vtio_host_link_create(struct vtio_host_link *l, size_t size, unsigned nbells);

/*
 * Creator side: send the hello (magic, version, window size, nbells and
 * @p info_len bytes of @p info, at most VTIO_HOST_LINK_INFO_MAX) with the
 * window fd and all bells over the connected socket @p sfd, which the link
 * then owns (closed by vtio_host_link_close(); a link already connected
 * closes its old socket first, so a creator can serve a new peer after the
 * old one went away).
 * Returns 0, VTIO_EINVAL, VTIO_ENOTCONN, VTIO_EIO (sfd is then not owned).
 */
int vtio_host_link_send(struct vtio_host_link *l, int sfd, const void *info, size_t info_len);

/*
 * Peer side: receive a hello on @p sfd (owned by the link on success),
 * check it, map the window, adopt the bells (directions swapped). The
 * creator's info bytes are copied to @p info (capacity @p info_cap; may be
 * NULL with 0), their count to *info_len (may be NULL).
 * Returns 0; VTIO_ENOTCONN; VTIO_ETIMEDOUT; VTIO_EAGAIN; VTIO_EBADMSG (bad
 * magic, size, fd count, info larger than @p info_cap); VTIO_ENOTSUP
 * (version); the errors of vtio_host_shm_map(). On error every received fd
 * is closed and sfd is not owned.
 */
int vtio_host_link_recv(struct vtio_host_link *l, int sfd, int timeout_ms, void *info,
			size_t info_cap, size_t *info_len);

/*
 * Ring the peer's doorbell @p which (taken modulo nbells, so a transport may
 * number bells per queue and share them when there are fewer). The shape of
 * the portable transports' ring hooks: @p ctx is the struct vtio_host_link.
 * Returns 0, VTIO_EIO.
 */
int vtio_host_link_ring(void *ctx, uint32_t which);

/*
 * Wait until one of our doorbells rings, the socket has data, the peer goes
 * away or @p timeout_ms passes (0: poll, -1: for ever). Every bell that rang
 * is consumed and its bit set in *rang (bit i: bell i; bit
 * VTIO_HOST_LINK_SOCK_BIT: the socket is readable); 0 is returned only with
 * at least one bit set.
 * Returns 0; VTIO_ETIMEDOUT; VTIO_ENOTCONN (peer gone: socket EOF/HUP, bells
 * rung before it went are still reported in *rang); VTIO_EAGAIN (signal);
 * VTIO_EIO.
 */
int vtio_host_link_wait(struct vtio_host_link *l, int timeout_ms, uint64_t *rang);

/* Drop the socket only (the creator keeps window and bells to serve a new
 * peer; bells are drained). */
void vtio_host_link_disconnect(struct vtio_host_link *l);

/* Close everything (socket, bells, window). Safe to call twice. */
void vtio_host_link_close(struct vtio_host_link *l);

#ifdef __cplusplus
}
#endif

#endif /* VTIO_HOST_SHM_H */
