/**
 * @file vhost_user.h
 * @brief vhost-user over a UNIX socket, both roles (host-only, target
 *        `vtio_vhost`; never part of the freestanding core).
 *
 * - Back end (device role, `struct vtio_vhost_be`): listens on a socket, serves
 *   one front end at a time and the next one after a disconnect, maps the
 *   front end's memory table into a memory view and runs every live ring
 *   through a @ref vtio_devq (split or packed from the negotiated
 *   VIRTIO_F_RING_PACKED). Every message is validated; a malformed one
 *   drops the connection (counted, reason kept), never the process.
 * - Front end (driver role, `struct vtio_vhost_fe`): connects to a back end,
 *   shares memfd-backed memory, negotiates, drives the rings through
 *   @ref vtio_vq and fails every in-flight buffer back exactly once when the
 *   back end goes away.
 *
 * Wire format: QEMU docs/interop/vhost-user.rst (header of request, flags,
 * size; native byte order). See docs/vhost-user.md.
 */
#ifndef VTIO_VHOST_USER_H
#define VTIO_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devq.h"
#include "error.h"
#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_vhost vhost-user transport
 * @{
 */

/** @name Wire constants
 * @{ */
#define VTIO_VHOST_USER_VERSION		0x1u	  /**< Header flags bits 0-1. */
#define VTIO_VHOST_USER_VERSION_MASK	0x3u	  /**< Version bits of the flags. */
#define VTIO_VHOST_USER_FLAG_REPLY	(1u << 2) /**< The message is a reply. */
#define VTIO_VHOST_USER_FLAG_NEED_REPLY (1u << 3) /**< REPLY_ACK asked for. */
#define VTIO_VHOST_USER_HDR_SIZE	12u	  /**< request, flags, size. */
#define VTIO_VHOST_USER_MAX_FDS		8u	  /**< fds one message may carry. */
#define VTIO_VHOST_USER_MAX_REGIONS	8u	  /**< Regions of SET_MEM_TABLE. */
#define VTIO_VHOST_USER_MAX_PAYLOAD	4096u	  /**< Largest payload accepted here. */
#define VTIO_VHOST_USER_CONFIG_MAX	256u	  /**< Largest GET/SET_CONFIG payload. */
#define VTIO_VHOST_USER_VRING_IDX_MASK	0xffu	  /**< Queue index of a kick/call u64. */
#define VTIO_VHOST_USER_VRING_NOFD	(1u << 8) /**< No fd passed with kick/call/err. */
#define VTIO_VHOST_USER_MAX_QUEUES	64u	  /**< Queues one connection may use here. */
/** Feature bit: the back end speaks protocol features. */
#define VTIO_VHOST_USER_F_PROTOCOL_FEATURES 30
/** @} */

/** Front-end request codes (the ones this library knows). */
enum vtio_vhost_user_req {
	VTIO_VHOST_USER_GET_FEATURES = 1,	    /**< reply u64 */
	VTIO_VHOST_USER_SET_FEATURES = 2,	    /**< u64 */
	VTIO_VHOST_USER_SET_OWNER = 3,		    /**< no payload */
	VTIO_VHOST_USER_RESET_OWNER = 4,	    /**< no payload */
	VTIO_VHOST_USER_SET_MEM_TABLE = 5,	    /**< memory table + one fd per region */
	VTIO_VHOST_USER_SET_LOG_BASE = 6,	    /**< not supported */
	VTIO_VHOST_USER_SET_LOG_FD = 7,		    /**< not supported */
	VTIO_VHOST_USER_SET_VRING_NUM = 8,	    /**< vring state */
	VTIO_VHOST_USER_SET_VRING_ADDR = 9,	    /**< vring address */
	VTIO_VHOST_USER_SET_VRING_BASE = 10,	    /**< vring state */
	VTIO_VHOST_USER_GET_VRING_BASE = 11,	    /**< vring state, reply vring state */
	VTIO_VHOST_USER_SET_VRING_KICK = 12,	    /**< u64 + fd */
	VTIO_VHOST_USER_SET_VRING_CALL = 13,	    /**< u64 + fd */
	VTIO_VHOST_USER_SET_VRING_ERR = 14,	    /**< u64 + fd */
	VTIO_VHOST_USER_GET_PROTOCOL_FEATURES = 15, /**< reply u64 */
	VTIO_VHOST_USER_SET_PROTOCOL_FEATURES = 16, /**< u64 */
	VTIO_VHOST_USER_GET_QUEUE_NUM = 17,	    /**< reply u64 */
	VTIO_VHOST_USER_SET_VRING_ENABLE = 18,	    /**< vring state */
	VTIO_VHOST_USER_GET_CONFIG = 24,	    /**< config, reply config */
	VTIO_VHOST_USER_SET_CONFIG = 25,	    /**< config */
	VTIO_VHOST_USER_RESET_DEVICE = 34,	    /**< no payload */
	VTIO_VHOST_USER_SET_STATUS = 39,	    /**< u64 */
	VTIO_VHOST_USER_GET_STATUS = 40		    /**< reply u64 */
};

/** @name Protocol feature bits (GET/SET_PROTOCOL_FEATURES)
 * @{ */
#define VTIO_VHOST_USER_PROTOCOL_F_MQ		0  /**< GET_QUEUE_NUM. */
#define VTIO_VHOST_USER_PROTOCOL_F_REPLY_ACK	3  /**< NEED_REPLY honoured. */
#define VTIO_VHOST_USER_PROTOCOL_F_CONFIG	9  /**< GET/SET_CONFIG. */
#define VTIO_VHOST_USER_PROTOCOL_F_RESET_DEVICE 13 /**< RESET_DEVICE. */
#define VTIO_VHOST_USER_PROTOCOL_F_STATUS	16 /**< SET/GET_STATUS. */
/** The protocol features this library implements (either role). */
#define VTIO_VHOST_USER_PROTOCOL_SUPPORTED                                                         \
	((1ull << VTIO_VHOST_USER_PROTOCOL_F_MQ) |                                                 \
	 (1ull << VTIO_VHOST_USER_PROTOCOL_F_REPLY_ACK) |                                          \
	 (1ull << VTIO_VHOST_USER_PROTOCOL_F_CONFIG) |                                             \
	 (1ull << VTIO_VHOST_USER_PROTOCOL_F_RESET_DEVICE) |                                       \
	 (1ull << VTIO_VHOST_USER_PROTOCOL_F_STATUS))
/** @} */

/* ==== Back end (device role) ===================================================== */

struct vtio_vhost_be;

/** What the device program provides to a back end. Optional ops may be NULL. */
struct vtio_vhost_be_ops {
	/**
	 * Queue @p qi has work (a kick arrived, the queue just went live, or
	 * vtio_vhost_be_wake() was called). Pop and push on @p q; the back end
	 * sends the call notification afterwards (vtio_devq_kick()).
	 * @return true when the queue was drained (popped until VTIO_EAGAIN),
	 *         false when chains were left on purpose (back-pressure): the
	 *         back end then does not re-arm notifications in a loop.
	 * Required.
	 */
	bool (*queue_work)(void *ctx, struct vtio_vhost_be *be, unsigned qi, struct vtio_devq *q);
	/** Queue @p qi goes live (@p live true) or stops (false: before its
	 * devq is dropped; nothing popped may be kept). Optional. */
	void (*queue_state)(void *ctx, struct vtio_vhost_be *be, unsigned qi, bool live);
	/** A front end connected (@p up) or went away. Optional. */
	void (*connection)(void *ctx, struct vtio_vhost_be *be, bool up);
	/** Read device config bytes [off, off+len). 0 or a negative VTIO_E*.
	 * Optional (then GET_CONFIG fails). */
	int (*get_config)(void *ctx, uint32_t off, void *buf, uint32_t len);
	/** Write device config bytes. 0 or a negative VTIO_E*. Optional
	 * (then SET_CONFIG fails with an error reply). */
	int (*set_config)(void *ctx, uint32_t off, const void *buf, uint32_t len);
};

/** Configuration of a back end. */
struct vtio_vhost_be_config {
	/** Socket path to listen on (an existing socket file is removed);
	 * NULL: no listening socket, serve only vtio_vhost_be_adopt() fds. */
	const char *path;
	/** Device features offered (VTIO_FEATURE bits). The library adds
	 * VTIO_VHOST_USER_F_PROTOCOL_FEATURES. */
	uint64_t features;
	/** Protocol features offered; masked with VTIO_VHOST_USER_PROTOCOL_SUPPORTED. */
	uint64_t protocol_features;
	unsigned num_queues;		     /**< Queues (1..VTIO_VHOST_USER_MAX_QUEUES). */
	uint32_t max_queue_size;	     /**< Largest queue size accepted (<= 32768). */
	const struct vtio_vhost_be_ops *ops; /**< Device callbacks. */
	void *ctx;			     /**< First argument of every op. */
	/** Log each dropped connection's reason to stderr with this prefix
	 * (NULL: silent). */
	const char *log_prefix;
};

/** Counters of a back end. */
struct vtio_vhost_be_stats {
	uint64_t connections;	  /**< Front ends accepted (or adopted). */
	uint64_t disconnects;	  /**< Connections ended (any reason). */
	uint64_t protocol_errors; /**< Connections dropped for a malformed message. */
	uint64_t messages;	  /**< Messages handled. */
	/** Adopted fds refused because a front end was being served (a front
	 * end connecting to the socket meanwhile waits in the listen backlog
	 * and is served when the current one leaves). */
	uint64_t rejected;
	/** Features the latest front end set (kept after it disconnects). */
	uint64_t last_features;
	/** Protocol features the latest front end set (kept likewise). */
	uint64_t last_protocol_features;
};

/**
 * Create a back end (and its listening socket when cfg->path is set).
 * @param out receives the back end (heap object).
 * @param cfg configuration; copied.
 * @return 0; VTIO_EINVAL (bad configuration); VTIO_ENOMEM; VTIO_EIO
 *         (socket, bind or listen failed: errno is kept).
 * Context: any thread; the back end is then used by one thread at a time.
 */
int vtio_vhost_be_create(struct vtio_vhost_be **out, const struct vtio_vhost_be_config *cfg);

/**
 * Drop any connection (stopping its queues), close the socket (and unlink
 * its path), free the back end.
 * @param be the back end (NULL is ignored).
 * Context: the back end's thread.
 */
void vtio_vhost_be_destroy(struct vtio_vhost_be *be);

/**
 * Serve an already connected stream socket (e.g. one end of a socketpair)
 * as the current connection. The back end owns @p fd afterwards.
 * @param be the back end. @param fd connected AF_UNIX stream socket.
 * @return 0, VTIO_EBUSY (a front end is being served: @p fd is closed),
 *         VTIO_EIO.
 * Context: the back end's thread.
 */
int vtio_vhost_be_adopt(struct vtio_vhost_be *be, int fd);

/**
 * Wait up to @p timeout_ms for events (socket, messages, kicks) and handle
 * them all; queues with no kick fd are polled on every call.
 * @param be the back end. @param timeout_ms -1 waits forever, 0 polls.
 * @return 0 (something or nothing handled; EINTR also returns 0 so a
 *         signal flag can be checked), VTIO_EIO (epoll failed).
 * Context: the back end's thread.
 */
int vtio_vhost_be_run(struct vtio_vhost_be *be, int timeout_ms);

/**
 * A file descriptor that becomes readable when vtio_vhost_be_run() has
 * something to do (its epoll fd), to wait on several back ends at once.
 * @param be the back end.
 * @return the fd (owned by the back end).
 * Context: any.
 */
int vtio_vhost_be_fd(const struct vtio_vhost_be *be);

/**
 * Run queue_work on queue @p qi now if it is live, then send the call
 * notification if the driver wants one (e.g. after another back end freed
 * room on it).
 * @param be the back end. @param qi queue index.
 * @return 0, VTIO_ENOENT (queue not live), VTIO_ERANGE.
 * Context: the back end's thread (or the thread running every back end).
 */
int vtio_vhost_be_wake(struct vtio_vhost_be *be, unsigned qi);

/**
 * Send the call notification of every live queue that has pushed buffers
 * the driver wants to hear about (vtio_devq_kick()).
 * @param be the back end.
 * Context: the back end's thread.
 */
void vtio_vhost_be_flush(struct vtio_vhost_be *be);

/**
 * The live device queue @p qi, or NULL when it is not live.
 * @param be the back end. @param qi queue index.
 * @return the queue or NULL.
 * Context: the back end's thread.
 */
struct vtio_devq *vtio_vhost_be_queue(struct vtio_vhost_be *be, unsigned qi);

/**
 * Whether a front end is connected.
 * @param be the back end.
 * @return true while a connection is served.
 * Context: any.
 */
bool vtio_vhost_be_connected(const struct vtio_vhost_be *be);

/**
 * Feature bits the front end set (SET_FEATURES), 0 before.
 * @param be the back end.
 * @return the negotiated features.
 * Context: the back end's thread.
 */
uint64_t vtio_vhost_be_features(const struct vtio_vhost_be *be);

/**
 * Read the counters.
 * @param be the back end. @param out receives them.
 * Context: any (values may be torn while the back end runs).
 */
void vtio_vhost_be_get_stats(const struct vtio_vhost_be *be, struct vtio_vhost_be_stats *out);

/** One queue of a back end as it stands (vtio_vhost_be_queue_info()). */
struct vtio_vhost_be_queue_info {
	bool live;		  /**< The device queue runs (started, enabled, memory set). */
	uint32_t num;		  /**< Ring size (SET_VRING_NUM), 0 before. */
	struct vtio_devq_pos pos; /**< live: where the device side stands. */
	bool avail;		  /**< live: a buffer is available at pos now. */
	/** live: the driver's event suppression words as the back end reads
	 * them now. Packed: the driver area's off_wrap (low 16 bits) and flags
	 * (high 16). Split: avail->flags (low) and used_event (high). */
	uint32_t driver_event;
	/** live: the device's own, likewise. Packed: the device area's
	 * off_wrap and flags. Split: used->flags and avail_event. */
	uint32_t device_event;
	uint64_t kicks; /**< Kick eventfd wake-ups handled (this connection). */
	uint64_t calls; /**< Used-buffer notifications written to the call fd. */
};

/**
 * Read one queue's state: for diagnosing a peer that stalls (which side
 * waits on which: a buffer available that was never kicked, or used
 * buffers the driver was never told of).
 * @param be the back end. @param qi queue index. @param out receives it.
 * @return 0, VTIO_ERANGE (qi beyond the configured queues).
 * Context: the back end's thread.
 */
int vtio_vhost_be_queue_info(const struct vtio_vhost_be *be, unsigned qi,
			     struct vtio_vhost_be_queue_info *out);

/**
 * Why the last connection was dropped for a protocol error.
 * @param be the back end.
 * @return a string owned by the back end, or NULL when none was.
 * Context: the back end's thread.
 */
const char *vtio_vhost_be_last_error(const struct vtio_vhost_be *be);

/* ==== Front end (driver role) ===================================================== */

struct vtio_vhost_fe;

/**
 * Completion of a buffer added on a front-end queue.
 * @param ctx vtio_vhost_fe_config::ctx. @param qi queue index.
 * @param token the token given to vtio_vq_add().
 * @param len bytes the device wrote (0 when failed).
 * @param status 0, or VTIO_EIO when the back end went away before using the
 *        buffer (each in-flight buffer is completed exactly once).
 */
typedef void (*vtio_vhost_fe_complete_fn)(void *ctx, unsigned qi, void *token, uint32_t len,
					  int status);

/** Configuration of a front end. */
struct vtio_vhost_fe_config {
	const char *path;	/**< Back end's socket (unless @ref fd >= 0). */
	int fd;			/**< Connected socket to use instead of @ref path; -1 for none. */
	int connect_timeout_ms; /**< Retry connecting this long (0: once). */
	int reply_timeout_ms;	/**< Wait this long for each reply (0: 5000). */
	uint64_t features;	/**< Device and ring features wanted (masked by the offer). */
	uint64_t required;	/**< Features that must be offered (else VTIO_ENOTSUP). */
	bool packed;		/**< Ask for VIRTIO_F_RING_PACKED (then it is required). */
	unsigned num_queues;	/**< Queues to set up (1..VTIO_VHOST_USER_MAX_QUEUES). */
	uint32_t queue_size;	/**< Ring size of every queue. */
	size_t mem_size;	/**< Shared bytes for rings, queue state and buffers (0: 8 MiB). */
	unsigned mem_regions;	/**< memfd regions (1 or 2; 0: 2). */
	uint32_t indirect_tables; /**< Indirect tables per queue (0: none). */
	uint32_t indirect_max;	  /**< Descriptors per indirect table. */
	/** Segments from which a buffer goes indirect (0: the queue's default, 2). */
	uint32_t indirect_threshold;
	vtio_vhost_fe_complete_fn complete; /**< Completion callback; required. */
	void *ctx;			    /**< Its first argument. */
	char *errbuf;	   /**< Optional: receives a message naming why connect failed. */
	size_t errbuf_len; /**< Size of @ref errbuf. */
};

/**
 * Connect, negotiate (SET_OWNER, features, protocol features, memory
 * table, every ring, kick/call fds, enable, STATUS when offered) and return
 * a front end whose queues are live.
 * @param out receives the front end (heap object).
 * @param cfg configuration; copied.
 * @return 0; VTIO_EINVAL; VTIO_ENOMEM; VTIO_ENOTSUP (a required feature,
 *         the packed ring or the number of queues is not offered);
 *         VTIO_ETIMEDOUT (no connection or no reply in time); VTIO_EPROTO
 *         (a malformed reply); VTIO_EIO (socket error or back end gone).
 * Context: any thread; the front end is then used by one thread at a time.
 */
int vtio_vhost_fe_connect(struct vtio_vhost_fe **out, const struct vtio_vhost_fe_config *cfg);

/**
 * Allocate @p size bytes of shared memory (what the back end can reach)
 * for buffers. There is no free: size the area with mem_size.
 * @param fe the front end. @param size bytes. @param align a power of 2.
 * @return the pointer, or NULL when the area is exhausted.
 * Context: the front end's thread.
 */
void *vtio_vhost_fe_alloc(struct vtio_vhost_fe *fe, size_t size, size_t align);

/**
 * Driver queue @p qi. Add buffers with vtio_vq_add() (segment addresses are
 * CPU pointers into vtio_vhost_fe_alloc() memory), then vtio_vhost_fe_kick().
 * @param fe the front end. @param qi queue index.
 * @return the queue or NULL when @p qi is out of range.
 * Context: the front end's thread.
 */
struct vtio_vq *vtio_vhost_fe_vq(struct vtio_vhost_fe *fe, unsigned qi);

/**
 * Publish and notify queue @p qi when the back end wants it.
 * @param fe the front end. @param qi queue index.
 * @return 0, VTIO_ERANGE, VTIO_EIO (back end gone).
 * Context: the front end's thread.
 */
int vtio_vhost_fe_kick(struct vtio_vhost_fe *fe, unsigned qi);

/**
 * Reap used buffers (complete(status 0)), publish and kick what was added
 * since the last kick (e.g. refills made by the completions), re-enable
 * call notifications, then, only when nothing was completed so far, wait
 * up to @p timeout_ms for a call or the socket, and reap again; when the back end went away,
 * complete every in-flight buffer with VTIO_EIO, once.
 * @param fe the front end. @param timeout_ms -1 forever, 0 poll.
 * @return 0, VTIO_EIO (the back end is gone; in-flight buffers were failed
 *         back by this call or an earlier one).
 * Context: the front end's thread.
 */
int vtio_vhost_fe_poll(struct vtio_vhost_fe *fe, int timeout_ms);

/**
 * Read device config bytes (GET_CONFIG; needs the CONFIG protocol feature).
 * @param fe the front end. @param off offset. @param buf destination.
 * @param len bytes (<= VTIO_VHOST_USER_CONFIG_MAX).
 * @return 0, VTIO_ENOTSUP, VTIO_EINVAL, VTIO_EPROTO, VTIO_EIO, VTIO_ETIMEDOUT.
 * Context: the front end's thread.
 */
int vtio_vhost_fe_get_config(struct vtio_vhost_fe *fe, uint32_t off, void *buf, uint32_t len);

/**
 * Negotiated device features.
 * @param fe the front end.
 * @return the feature bits set with SET_FEATURES.
 * Context: any.
 */
uint64_t vtio_vhost_fe_features(const struct vtio_vhost_fe *fe);

/**
 * Stop every ring (GET_VRING_BASE) and store the states the back end gave.
 * Buffers still in flight are then failed back with VTIO_ECANCELED.
 * @param fe the front end.
 * @param base receives one ring state per queue (may be NULL).
 * @param n entries in @p base.
 * @return 0, VTIO_EIO, VTIO_EPROTO, VTIO_ETIMEDOUT.
 * Context: the front end's thread.
 */
int vtio_vhost_fe_stop(struct vtio_vhost_fe *fe, uint32_t *base, unsigned n);

/**
 * Whether the back end went away.
 * @param fe the front end.
 * @return true once the socket saw EOF or an error.
 * Context: the front end's thread.
 */
bool vtio_vhost_fe_dead(const struct vtio_vhost_fe *fe);

/**
 * Close the socket, complete every buffer still in flight with
 * VTIO_ECANCELED, unmap the shared memory and free the front end.
 * @param fe the front end (NULL is ignored).
 * Context: the front end's thread.
 */
void vtio_vhost_fe_close(struct vtio_vhost_fe *fe);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_VHOST_USER_H */
