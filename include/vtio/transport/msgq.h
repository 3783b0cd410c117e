/**
 * @file msgq.h
 * @brief Message-queue transport (seed 002): device status, features,
 *        config space and queue setup carried by request/response messages
 *        over a channel, notifications by doorbell, rings in shared memory.
 *
 * For hypervisors that trap no MMIO but offer a message queue (short
 * messages, send/recv) and doorbells (an interrupt into the other VM). The
 * design reuses the virtio-mmio transport rather than writing a third copy
 * of the status and feature rules:
 *
 *  - driver side: the virtio-mmio driver's register hooks are routed onto
 *    request messages (vtio_msgq_drv_reg_read() / vtio_msgq_drv_reg_write();
 *    the adapter is vtio_msgq_mmio_ops when the mmio driver is built);
 *  - device side: each request is executed on a register model through
 *    struct vtio_msgq_regs_ops (normally the virtio-mmio register model,
 *    which drives the device core vtio_dev), and its result sent back.
 *
 * Besides single register accesses the format has compound requests (a
 * config range, status, a feature word, a whole queue setup) that the device
 * side expands into the same register accesses, so a driver that wants fewer
 * round trips can use them without the device needing other rules.
 *
 * ## Wire format (version 1, every field little-endian)
 *
 * Header, 8 bytes:
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 1 | version: VTIO_MSGQ_VERSION (1) |
 * | 1 | 1 | type: enum vtio_msgq_type, VTIO_MSGQ_RESP (0x80) set in responses |
 * | 2 | 2 | length: bytes of the whole message, header included |
 * | 4 | 4 | sequence: chosen by the requester, copied into the response |
 *
 * Request bodies (after the header; "rsvd" bytes must be zero):
 * | type | body |
 * |---|---|
 * | HELLO (1) | u32 max_msg (largest message the sender accepts, >= VTIO_MSGQ_MIN_MSG) |
 * | REG_READ (2) | u32 off, u8 width (1, 2, 4; off % width == 0), u8 rsvd[3] |
 * | REG_WRITE (3) | u32 off, u8 width, u8 rsvd[3], u32 value (value < 2^(8*width)) |
 * | CONFIG_READ (4) | u32 off, u16 len (1..VTIO_MSGQ_MAX_DATA), u16 rsvd |
 * | CONFIG_WRITE (5) | u32 off, u16 len, u16 rsvd, u8 data[len] |
 * | GET_STATUS (6) | (empty) |
 * | SET_STATUS (7) | u8 status, u8 rsvd[3] |
 * | GET_FEATURES (8) | u32 word (0..VTIO_MSGQ_FEATURE_WORDS-1) |
 * | SET_FEATURES (9) | u32 word, u32 value |
 * | QUEUE_SETUP (10) | u16 index, u16 flags (VTIO_MSGQ_QUEUE_F_*), u32 num, u64 desc, u64 driver,
 * u64 device | | QUEUE_INFO (11) | u16 index, u16 rsvd | | NOTIFY (32) | u32 data (queue index or
 * notification-data word); no response | | EVENT (33) | u32 isr (VTIO_MMIO_INT_*), device to
 * driver; no response |
 *
 * Response bodies start with i32 result (0 or a negative VTIO_E* code, at
 * least VTIO_MSGQ_MIN_ERROR); when it is not 0 nothing follows. Otherwise:
 * HELLO: u32 max_msg; REG_READ: u32 value; CONFIG_READ: u8 data[n] with n
 * the requested len; GET_STATUS: u8 status, u8 rsvd[3]; GET_FEATURES:
 * u32 value; QUEUE_INFO: u32 num_max, u32 flags (VTIO_MSGQ_QUEUE_F_READY);
 * the others: nothing. NOTIFY and EVENT have no response.
 *
 * The length field must equal the exact size implied by the type (and the
 * data length); anything else, an unknown version or type, a non-zero
 * reserved byte or flag, a bad width or alignment, a result that is
 * positive or below VTIO_MSGQ_MIN_ERROR, is VTIO_EBADMSG from
 * vtio_msgq_decode(). Every byte of a message is checked.
 *
 * Portable core code: no heap, no libc beyond memcpy/memset. The channel is
 * two hooks (struct vtio_msgq_chan_ops); src/host/host_msgq.h provides one
 * over a UNIX stream socket.
 */
#ifndef VTIO_TRANSPORT_MSGQ_H
#define VTIO_TRANSPORT_MSGQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../error.h"
#include "../port.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_msgq Message-queue transport
 * @ingroup vtio_transport
 * @{
 */

/** Wire format version carried in every header. */
#define VTIO_MSGQ_VERSION 1u
/** Header bytes. */
#define VTIO_MSGQ_HDR_SIZE 8u
/** Largest data payload of CONFIG_READ / CONFIG_WRITE. */
#define VTIO_MSGQ_MAX_DATA 256u
/** Largest message of the format (CONFIG_WRITE request or CONFIG_READ response with
 *  VTIO_MSGQ_MAX_DATA bytes). */
#define VTIO_MSGQ_MAX_MSG (VTIO_MSGQ_HDR_SIZE + 8u + VTIO_MSGQ_MAX_DATA)
/** Smallest max_msg a HELLO may announce: the largest fixed-size message. */
#define VTIO_MSGQ_MIN_MSG (VTIO_MSGQ_HDR_SIZE + 32u)
/** Response bit of the type byte. */
#define VTIO_MSGQ_RESP 0x80u
/** Feature words a GET/SET_FEATURES may select. */
#define VTIO_MSGQ_FEATURE_WORDS 4u
/** Most negative result a response may carry. */
#define VTIO_MSGQ_MIN_ERROR (-4095)

/** QUEUE_SETUP flag: enable the queue after writing its registers. */
#define VTIO_MSGQ_QUEUE_F_ENABLE 0x1u
/** QUEUE_INFO response flag: the queue is enabled (QueueReady reads 1). */
#define VTIO_MSGQ_QUEUE_F_READY 0x1u

/** Message types (request values; a response has VTIO_MSGQ_RESP added). */
enum vtio_msgq_type {
	VTIO_MSGQ_HELLO = 1,	    /**< Start a session (the device resets). */
	VTIO_MSGQ_REG_READ = 2,	    /**< Read one register of the register model. */
	VTIO_MSGQ_REG_WRITE = 3,    /**< Write one register. */
	VTIO_MSGQ_CONFIG_READ = 4,  /**< Read a device-specific config range. */
	VTIO_MSGQ_CONFIG_WRITE = 5, /**< Write a device-specific config range. */
	VTIO_MSGQ_GET_STATUS = 6,   /**< Read the device status. */
	VTIO_MSGQ_SET_STATUS = 7,   /**< Write the device status (0 resets). */
	VTIO_MSGQ_GET_FEATURES = 8, /**< Read a device feature word. */
	VTIO_MSGQ_SET_FEATURES = 9, /**< Write a driver feature word. */
	VTIO_MSGQ_QUEUE_SETUP = 10, /**< Size, addresses (and enable) of a queue. */
	VTIO_MSGQ_QUEUE_INFO = 11,  /**< Maximum size and ready state of a queue. */
	VTIO_MSGQ_NOTIFY = 32,	    /**< Available-buffer notification (no doorbell). */
	VTIO_MSGQ_EVENT = 33	    /**< Device interrupt (no doorbell), device to driver. */
};

/** A message in host byte order (what the codec reads and writes). */
struct vtio_msgq_msg {
	uint8_t type;	/**< enum vtio_msgq_type, plus VTIO_MSGQ_RESP for a response. */
	uint32_t seq;	/**< Sequence number. */
	int32_t result; /**< Responses: 0 or a negative VTIO_E* code. */
	uint32_t off;	/**< REG_*: register offset; CONFIG_*: config-space offset. */
	uint32_t width; /**< REG_*: access width in bytes (1, 2, 4). */
	/** REG_WRITE/REG_READ response: value; SET_STATUS/GET_STATUS response:
	 *  status; *_FEATURES: feature word value; NOTIFY: data; EVENT: isr;
	 *  HELLO: max_msg; QUEUE_INFO response: num_max. */
	uint32_t value;
	uint32_t word;	 /**< *_FEATURES: word select. */
	uint16_t index;	 /**< QUEUE_*: queue index. */
	uint16_t qflags; /**< QUEUE_SETUP: VTIO_MSGQ_QUEUE_F_ENABLE; QUEUE_INFO response: READY. */
	uint32_t num;	 /**< QUEUE_SETUP: queue size. */
	uint64_t desc;	 /**< QUEUE_SETUP: descriptor area address. */
	uint64_t driver; /**< QUEUE_SETUP: driver area address. */
	uint64_t device; /**< QUEUE_SETUP: device area address. */
	uint16_t len;	 /**< CONFIG_*: data bytes. */
	const uint8_t *data; /**< CONFIG_WRITE request / CONFIG_READ response data
				  (points into the buffer given to the codec). */
};

/**
 * Encode @p m into @p buf.
 * @param m    message (for a CONFIG_READ response with result 0, @ref
 *             vtio_msgq_msg::len data bytes are taken from @ref vtio_msgq_msg::data).
 * @param buf  destination.
 * @param cap  bytes available in @p buf.
 * @param out_len  receives the message length.
 * @return 0; VTIO_EINVAL (a field the format cannot carry: unknown type,
 *         bad width, len 0 or above VTIO_MSGQ_MAX_DATA, positive result);
 *         VTIO_ENOBUFS (@p cap too small).
 * Context: any.
 */
int vtio_msgq_encode(const struct vtio_msgq_msg *m, void *buf, size_t cap, size_t *out_len);

/**
 * Decode and validate one message (every byte; see the wire format above).
 * For a CONFIG_READ response the data length is not carried by the message
 * body alone: it is the message length minus 12.
 * @param buf  message bytes.
 * @param len  their count (the whole message).
 * @param m    receives the message; m->data points into @p buf.
 * @return 0; VTIO_EBADMSG (malformed: the message is not used).
 * Context: any; @p buf is untrusted.
 */
int vtio_msgq_decode(const void *buf, size_t len, struct vtio_msgq_msg *m);

/**
 * Length field of a header, for stream channels that must know how many
 * bytes follow the header.
 * @param hdr  VTIO_MSGQ_HDR_SIZE bytes.
 * @return the total message length (VTIO_MSGQ_HDR_SIZE..VTIO_MSGQ_MAX_MSG),
 *         or VTIO_EBADMSG when the version or length is impossible.
 */
int vtio_msgq_peek_length(const void *hdr);

/** A channel's hooks (a hypervisor message queue, a socket). */
struct vtio_msgq_chan_ops {
	/**
	 * Send one whole message.
	 * @return 0; VTIO_EIO when the peer is gone; another negative code.
	 */
	int (*send)(void *ctx, const void *msg, size_t len);
	/**
	 * Receive one whole message into @p buf (at most @p cap bytes), waiting
	 * as the channel's policy says.
	 * @return 0 with *len set; VTIO_EAGAIN (nothing yet: the caller may
	 *         retry); VTIO_ETIMEDOUT (the channel's own wait expired);
	 *         VTIO_EIO (peer gone); VTIO_EBADMSG (a message the channel
	 *         could not frame).
	 */
	int (*recv)(void *ctx, void *buf, size_t cap, size_t *len);
};

/** A channel: its hooks and their context. */
struct vtio_msgq_chan {
	const struct vtio_msgq_chan_ops *ops; /**< Hooks (first member). */
	void *ctx;			      /**< Their first argument. */
};

#ifndef VTIO_MSGQ_RECV_RETRIES
/** How many VTIO_EAGAIN answers of recv a driver call tolerates while it
 *  waits for its response. */
#define VTIO_MSGQ_RECV_RETRIES 1000000u
#endif

/** Driver-side counters. */
struct vtio_msgq_drv_stats {
	uint64_t requests; /**< Requests sent. */
	uint64_t events;   /**< EVENT messages received (interrupts without a doorbell). */
	uint64_t stale;	   /**< Responses dropped because their sequence was old. */
	uint64_t errors;   /**< Requests that failed (channel or device error). */
};

/**
 * Driver-side interrupt handler for EVENT messages that arrive while the
 * driver waits for a response (or from vtio_msgq_drv_poll_events()).
 * @param ctx  context given to vtio_msgq_drv_init().
 * @param isr  VTIO_MMIO_INT_* bits.
 */
typedef void (*vtio_msgq_event_fn)(void *ctx, uint32_t isr);

/**
 * Doorbell hook: inject an interrupt into the other side. @p which is the
 * doorbell number (the queue index for an available-buffer notification).
 * @return 0 or a negative VTIO_E* code.
 */
typedef int (*vtio_msgq_ring_fn)(void *ctx, uint32_t which);

/** Driver side of a message-queue transport. Fields are private. */
struct vtio_msgq_drv {
	struct vtio_msgq_chan chan;	  /**< The channel. */
	vtio_msgq_ring_fn ring;		  /**< Doorbell (NULL: notifications are messages). */
	void *ring_ctx;			  /**< Its context. */
	vtio_msgq_event_fn event;	  /**< EVENT handler (may be NULL). */
	void *event_ctx;		  /**< Its context. */
	uint32_t seq;			  /**< Sequence of the last request. */
	uint32_t peer_max;		  /**< max_msg the device announced (0 before HELLO). */
	int dead;			  /**< 0, or the channel error that ended the session. */
	struct vtio_msgq_drv_stats stats; /**< Counters. */
	/** Receive buffer (responses are decoded in place). */
	uint8_t rx[VTIO_MSGQ_MAX_MSG];
};

/**
 * Set up the driver side over a channel. No message is sent.
 * @param d      driver side.
 * @param chan   channel (copied).
 * @param event  EVENT handler or NULL.
 * @param ctx    its context.
 * @return 0, or VTIO_EINVAL (missing hook).
 * Context: driver side, setup.
 */
int vtio_msgq_drv_init(struct vtio_msgq_drv *d, const struct vtio_msgq_chan *chan,
		       vtio_msgq_event_fn event, void *ctx);

/**
 * Carry available-buffer notifications by doorbell: a write of QueueNotify
 * (vtio_msgq_drv_reg_write(), so the mmio driver's notify) then rings
 * doorbell (value & 0xffff), the queue index, instead of sending a
 * message. Safe to call concurrently with requests on the channel: it
 * touches only the doorbell.
 * @param d     driver side.
 * @param ring  doorbell hook, or NULL to go back to REG_WRITE messages.
 * @param ctx   its context.
 * Context: driver side, setup (before DRIVER_OK).
 */
void vtio_msgq_drv_set_doorbell(struct vtio_msgq_drv *d, vtio_msgq_ring_fn ring, void *ctx);

/**
 * Send a request and wait for its response. EVENT messages received
 * meanwhile go to the handler; responses with an older sequence (left over
 * by a request that timed out) are dropped and counted.
 * @param d     driver side.
 * @param req   request (its seq is assigned here).
 * @param resp  receives the response (resp->data points into d->rx).
 * @return the response's result (0 or the device's negative code);
 *         VTIO_EIO (channel gone: every later call fails with VTIO_EIO
 *         until vtio_msgq_drv_reconnect()); VTIO_ETIMEDOUT; VTIO_EPROTO (a
 *         response of another type or a newer sequence: the session is
 *         then dead); VTIO_EBADMSG (malformed response: session dead).
 * Context: driver side, serialised.
 */
int vtio_msgq_drv_call(struct vtio_msgq_drv *d, struct vtio_msgq_msg *req,
		       struct vtio_msgq_msg *resp);

/**
 * Start a session (HELLO): the device resets its state for a new driver.
 * @param d  driver side.
 * @return as vtio_msgq_drv_call().
 * Context: driver side, serialised.
 */
int vtio_msgq_drv_hello(struct vtio_msgq_drv *d);

/**
 * Attach a new channel after the old one died (new device process): clears
 * the dead state and sends HELLO.
 * @param d     driver side.
 * @param chan  the new channel (copied).
 * @return as vtio_msgq_drv_hello().
 * Context: driver side, serialised.
 */
int vtio_msgq_drv_reconnect(struct vtio_msgq_drv *d, const struct vtio_msgq_chan *chan);

/**
 * Read a register of the device's register model.
 * @param d      driver side.
 * @param off    register offset (VTIO_MMIO_*, or VTIO_MMIO_CONFIG + config offset).
 * @param width  1, 2 or 4.
 * @param val    receives the value (all ones on error, like a bus error).
 * @return as vtio_msgq_drv_call(); VTIO_EINVAL for a bad width/alignment.
 * Context: driver side, serialised.
 */
int vtio_msgq_drv_reg_read(struct vtio_msgq_drv *d, uint32_t off, unsigned width, uint32_t *val);

/**
 * Write a register of the device's register model. With a doorbell set
 * (vtio_msgq_drv_set_doorbell()), a write of QueueNotify rings it instead.
 * @param d      driver side.
 * @param off    register offset.
 * @param width  1, 2 or 4.
 * @param val    value.
 * @return as vtio_msgq_drv_call(); VTIO_EINVAL for a bad width/alignment/value.
 * Context: driver side, serialised.
 */
int vtio_msgq_drv_reg_write(struct vtio_msgq_drv *d, uint32_t off, unsigned width, uint32_t val);

/**
 * Read a range of the device-specific config space (CONFIG_READ, split in
 * pieces of VTIO_MSGQ_MAX_DATA bytes).
 * @param d    driver side.
 * @param off  config offset.
 * @param dst  destination.
 * @param len  bytes.
 * @return as vtio_msgq_drv_call() (VTIO_ERANGE from the device for a range
 *         outside its config space).
 * Context: driver side, serialised.
 */
int vtio_msgq_drv_config_read(struct vtio_msgq_drv *d, uint32_t off, void *dst, size_t len);

/**
 * Write a range of the device-specific config space (CONFIG_WRITE).
 * @param d    driver side.
 * @param off  config offset.
 * @param src  source.
 * @param len  bytes.
 * @return as vtio_msgq_drv_config_read().
 * Context: driver side, serialised.
 */
int vtio_msgq_drv_config_write(struct vtio_msgq_drv *d, uint32_t off, const void *src, size_t len);

/**
 * Send an available-buffer notification as a NOTIFY message (for channels
 * without a doorbell). No response is awaited.
 * @param d     driver side.
 * @param data  queue index or notification-data word.
 * @return 0, VTIO_EIO or the channel's send error.
 * Context: driver side, serialised with the other calls.
 */
int vtio_msgq_drv_notify(struct vtio_msgq_drv *d, uint32_t data);

/**
 * Receive and dispatch pending EVENT messages (for channels without a
 * doorbell) until recv reports nothing more.
 * @param d  driver side.
 * @return the number of events handled, or VTIO_EIO / VTIO_EPROTO /
 *         VTIO_EBADMSG (session dead).
 * Context: driver side, serialised.
 */
int vtio_msgq_drv_poll_events(struct vtio_msgq_drv *d);

/**
 * True once the channel died (peer gone, protocol broken).
 * @param d  driver side.
 * @return whether every call now fails.
 */
VTIO_INLINE bool vtio_msgq_drv_is_dead(const struct vtio_msgq_drv *d)
{
	return d->dead != 0;
}

/**
 * The register model a device side executes requests on (normally the
 * virtio-mmio register model in front of the device core). Every access the
 * messages ask for goes through these hooks, compound requests included.
 */
struct vtio_msgq_regs_ops {
	/** Read register @p off (width 1, 2 or 4). @return 0 or a negative code. */
	int (*read)(void *ctx, uint32_t off, unsigned width, uint32_t *val);
	/** Write register @p off. @return 0 or a negative code. */
	int (*write)(void *ctx, uint32_t off, unsigned width, uint32_t val);
	/** Optional: a new session began (HELLO): reset the device. */
	void (*hello)(void *ctx);
	/** Optional: NOTIFY message (default: a write of QueueNotify). */
	void (*notify)(void *ctx, uint32_t data);
};

/** Device-side counters. */
struct vtio_msgq_dev_stats {
	uint64_t requests;  /**< Well-formed requests handled. */
	uint64_t malformed; /**< Messages refused by the decoder (answered when possible). */
	uint64_t failed;    /**< Requests whose register access failed. */
	uint64_t sessions;  /**< HELLO messages. */
	uint64_t notifies;  /**< NOTIFY messages. */
};

/** Device side of a message-queue transport. Fields are private. */
struct vtio_msgq_dev {
	struct vtio_msgq_chan chan;	  /**< The channel. */
	struct vtio_msgq_regs_ops regs;	  /**< Register model (resolved). */
	void *regs_ctx;			  /**< Its context. */
	struct vtio_msgq_dev_stats stats; /**< Counters. */
	uint8_t rx[VTIO_MSGQ_MAX_MSG];	  /**< Request buffer. */
	uint8_t tx[VTIO_MSGQ_MAX_MSG];	  /**< Response buffer. */
};

/**
 * Set up the device side.
 * @param s     device side.
 * @param chan  channel (copied; may be NULL when only vtio_msgq_dev_handle() is used).
 * @param regs  register model hooks (read and write required).
 * @param ctx   their context.
 * @return 0, or VTIO_EINVAL.
 * Context: device side, setup.
 */
int vtio_msgq_dev_init(struct vtio_msgq_dev *s, const struct vtio_msgq_chan *chan,
		       const struct vtio_msgq_regs_ops *regs, void *ctx);

/**
 * Handle one request: decode it, execute it on the register model, encode
 * the response. A malformed message whose header is readable gets a
 * response with VTIO_EBADMSG; one without a readable header gets none.
 * @param s        device side.
 * @param msg      request bytes (untrusted).
 * @param len      their count.
 * @param out      response buffer (VTIO_MSGQ_MAX_MSG bytes are enough).
 * @param cap      its size.
 * @param out_len  receives the response length (0: nothing to send).
 * @return 0 (handled, even when the result is an error); VTIO_EBADMSG
 *         (malformed, *out_len says whether an error response was made);
 *         VTIO_ENOBUFS (@p cap too small).
 * Context: device side, serialised.
 */
int vtio_msgq_dev_handle(struct vtio_msgq_dev *s, const void *msg, size_t len, void *out,
			 size_t cap, size_t *out_len);

/**
 * Receive one request from the channel, handle it, send the response.
 * @param s  device side.
 * @return 0 (one message handled, malformed ones included); VTIO_EAGAIN /
 *         VTIO_ETIMEDOUT (nothing arrived); VTIO_EIO (peer gone: drop the
 *         session); a send error.
 * Context: device side, serialised.
 */
int vtio_msgq_dev_poll(struct vtio_msgq_dev *s);

/**
 * Send an EVENT (an interrupt, for channels without a doorbell).
 * @param s    device side.
 * @param isr  VTIO_MMIO_INT_* bits.
 * @return 0 or the channel's send error.
 * Context: device side, serialised with vtio_msgq_dev_poll().
 */
int vtio_msgq_dev_event(struct vtio_msgq_dev *s, uint32_t isr);

struct vtio_mmio_ops;

/**
 * virtio-mmio register hooks that turn every register access of the mmio
 * driver transport into a REG_READ / REG_WRITE request (hook context: the
 * struct vtio_msgq_drv). Give them to vtio_mmio_init() (vtio_mmio_config::ops,
 * ctx = the driver side) and run the usual driver sequence: the same mmio
 * driver then runs over the message queue. Defined with the driver role
 * (VTIO_CONFIG_DRIVER), like the mmio driver transport.
 */
extern const struct vtio_mmio_ops vtio_msgq_mmio_ops;

/**
 * Register-model hooks over the virtio-mmio register model (hook context:
 * the struct vtio_mmio_dev, which drives the device core vtio_dev): every
 * request, compound ones included, becomes vtio_mmio_dev_read() /
 * vtio_mmio_dev_write() calls; HELLO writes status 0 (device reset), NOTIFY
 * writes QueueNotify. Defined with the device role (VTIO_CONFIG_DEVICE),
 * like the register model.
 */
extern const struct vtio_msgq_regs_ops vtio_msgq_mmio_dev_regs;

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_TRANSPORT_MSGQ_H */
