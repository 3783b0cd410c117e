/*
 * Host-only (POSIX): the message-queue transport between two processes, the
 * seed 002 set-up. Never part of the freestanding core (target vtio_host).
 *
 *   driver process                              device process
 *   private buffers (heap)                      maps only the window
 *   window (memfd) = one bounce pool:           memory view = the window
 *     rings + bounce slots                        (VTIO_HOST_MSGQ_BUS_BASE ..)
 *   vtio_mmio driver                            vtio_mmio_dev register model
 *     hooks -> vtio_msgq_drv  --- messages --->   vtio_msgq_dev -> vtio_dev
 *     QueueNotify -> doorbell q --- eventfd --->  vtio_dev_notify(q)
 *   used / config handler   <--- doorbell q ---   device type (used buffers)
 *                           <--- doorbell N ---   register model interrupt line
 *
 * The driver creates the window and the doorbells (it is the side whose
 * memory is protected: it decides what it shares) and connects to the
 * device's UNIX socket; the link's socket then carries the messages. Every
 * payload goes through the bounce pool in the window (the DMA stack is a
 * bounce layer over it), the rings are allocated from it, so the device
 * never sees an address outside the window; its memory view has that one
 * region and nothing else.
 *
 * Doorbells: bell q (q < num_queues) in the driver -> device direction is
 * the available-buffer notification of queue q, in the other direction the
 * used-buffer notification of queue q; bell num_queues (device -> driver)
 * is the register model's interrupt line (configuration change,
 * DEVICE_NEEDS_RESET), which the driver handles with vtio_mmio_irq() over
 * messages.
 *
 * Peer death: the driver sees VTIO_ENOTCONN from vtio_host_msgq_drv_wait()
 * or VTIO_EIO from a message call; it takes back every buffer in flight
 * with vtio_host_msgq_drv_fail_inflight() (each token exactly once), then
 * vtio_host_msgq_drv_reconnect() resets the queues, connects a new device
 * process over the same window and runs the initialisation again. The
 * device sees VTIO_ENOTCONN from vtio_host_msgq_dev_step(), drops the
 * session (device reset: its queues stop; window unmapped) with
 * vtio_host_msgq_dev_drop() and accepts the next driver.
 */
#ifndef VTIO_HOST_MSGQ_LINK_H
#define VTIO_HOST_MSGQ_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host_msgq.h"
#include "host_shm.h"
#include "vtio/bounce.h"
#include "vtio/dev.h"
#include "vtio/dma.h"
#include "vtio/transport/mmio.h"
#include "vtio/transport/mmio_dev.h"
#include "vtio/transport/msgq.h"
#include "vtio/vq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Device address of the window's first byte (what the device sees). */
#define VTIO_HOST_MSGQ_BUS_BASE 0x40000000ull
/* Most queues of a link. */
#define VTIO_HOST_MSGQ_MAX_QUEUES 8u
/* Hello info magic ("MSGQ"). */
#define VTIO_HOST_MSGQ_INFO_MAGIC 0x5147534du

/* ---- Driver process ------------------------------------------------------------------- */

struct vtio_host_msgq_drv_config {
	const char *socket;	/* Device's UNIX socket. */
	int connect_timeout_ms; /* How long to wait for a device to listen. */
	int call_timeout_ms;	/* How long a message call waits (0: 2000). */
	size_t window_size;	/* Shared window bytes (0: 4 MiB). */
	uint16_t num_queues;	/* Queues to set up (1..VTIO_HOST_MSGQ_MAX_QUEUES). */
	uint32_t queue_num;	/* Queue size (0: the device maximum). */
	bool packed;		/* Ask for VIRTIO_F_RING_PACKED. */
	uint64_t supported;	/* Device-type feature bits the driver can use. */
	uint32_t device_id;	/* Expected device id (0: any). */
	/* Extra VTIO_VQ_F_* for the queues (VTIO_VQ_F_MAP is always set): e.g.
	 * VTIO_VQ_F_PREMAPPED when the caller places its buffers in the window
	 * itself (vtio_dma_alloc() on .dma) and passes their bus addresses. */
	uint32_t vq_flags;
};

struct vtio_host_msgq_drv {
	struct vtio_host_msgq_drv_config cfg;
	struct vtio_host_link link;
	struct vtio_host_msgq_chan hc;
	struct vtio_msgq_drv msgq;
	struct vtio_mmio mmio;
	void *pool_storage;
	void *set_storage;
	struct vtio_bounce_pool *pool;
	struct vtio_bounce_set *set;
	struct vtio_bounce_layer bl;
	struct vtio_dma_dev dma;
	struct vtio_vq *vq[VTIO_HOST_MSGQ_MAX_QUEUES];
	void *vq_state[VTIO_HOST_MSGQ_MAX_QUEUES];
	size_t vq_state_size;
	bool connected;	   /* A device session is up (DRIVER_OK done). */
	unsigned sessions; /* Sessions set up so far. */
};

/*
 * Create the window (a bounce pool over all of it) and the doorbells,
 * connect to the device, initialise it (negotiate, queues in the window,
 * DRIVER_OK). Returns 0; VTIO_ENOENT / VTIO_ENOTCONN (no device at the
 * socket), VTIO_EINVAL (bad configuration), VTIO_ENOMEM, a negotiation or
 * queue setup error, VTIO_ENODEV (unexpected device id).
 */
int vtio_host_msgq_drv_open(struct vtio_host_msgq_drv *d,
			    const struct vtio_host_msgq_drv_config *c);

/* Wait for a doorbell or the socket (see vtio_host_link_wait()). Returns 0
 * with *rang set, VTIO_ETIMEDOUT, VTIO_EAGAIN (signal), VTIO_ENOTCONN (the
 * device went away). A config bell is handled here (vtio_mmio_irq()). */
int vtio_host_msgq_drv_wait(struct vtio_host_msgq_drv *d, int timeout_ms, uint64_t *rang);

/* The device is gone (or is going to be replaced): take back every buffer
 * in flight of every queue, calling @p fail once per token. Returns the
 * number of tokens failed back. */
unsigned vtio_host_msgq_drv_fail_inflight(struct vtio_host_msgq_drv *d,
					  void (*fail)(void *ctx, void *token), void *ctx);

/* After vtio_host_msgq_drv_fail_inflight(): release the queues, connect to
 * a new device process (waiting up to @p timeout_ms) and initialise it over
 * the same window. Returns as vtio_host_msgq_drv_open(). */
int vtio_host_msgq_drv_reconnect(struct vtio_host_msgq_drv *d, int timeout_ms);

/* Negotiated features (valid while connected). */
uint64_t vtio_host_msgq_drv_features(const struct vtio_host_msgq_drv *d);

/* Reset the device, release the queues and close everything. */
void vtio_host_msgq_drv_close(struct vtio_host_msgq_drv *d);

/* ---- Device process ------------------------------------------------------------------- */

struct vtio_host_msgq_dev {
	int lfd; /* Listening socket, -1 when closed. */
	char path[108];
	struct vtio_host_link link;
	struct vtio_host_msgq_chan hc;
	struct vtio_msgq_dev msgq;
	struct vtio_dev dev;
	struct vtio_mmio_dev mmio;
	void *dev_storage;
	void *mmio_storage;
	struct vtio_mem mem;
	struct vtio_mem_region region;
	bool connected;
	volatile bool irq; /* the model raised its line (config bell pending) */
	unsigned sessions;
};

/*
 * Listen on @p path and set up the device core (@p cfg: the device type's
 * configuration; its mem is ignored, the window is the memory view) and the
 * register model. Offers ACCESS_PLATFORM on top of cfg->features (the
 * device sees bus addresses in the window, not driver addresses).
 */
int vtio_host_msgq_dev_open(struct vtio_host_msgq_dev *s, const char *path,
			    const struct vtio_dev_config *cfg);

/* Accept one driver session (waiting up to @p timeout_ms): receive the
 * window and doorbells, make the window the device's memory view. Returns
 * 0, VTIO_ETIMEDOUT, VTIO_EAGAIN (signal), VTIO_EBADMSG (bad hello). */
int vtio_host_msgq_dev_accept(struct vtio_host_msgq_dev *s, int timeout_ms);

/*
 * Serve the session once: wait up to @p timeout_ms (0: poll) for the socket
 * or a doorbell, handle every pending message, deliver kicks to the core
 * (its kick hook runs here). *kicked (may be NULL) receives the bells that
 * rang. Returns 0, VTIO_ETIMEDOUT, VTIO_EAGAIN, VTIO_ENOTCONN (the driver
 * went away: call vtio_host_msgq_dev_drop()).
 */
int vtio_host_msgq_dev_step(struct vtio_host_msgq_dev *s, int timeout_ms, uint64_t *kicked);

/* Used-buffer notification of queue @p index by doorbell, when the ring's
 * suppression state asks for one (vtio_devq_notify_prepare()). */
int vtio_host_msgq_dev_notify(struct vtio_host_msgq_dev *s, uint16_t index);

/* Drop the session: device reset (queues stop), window unmapped, bells closed. */
void vtio_host_msgq_dev_drop(struct vtio_host_msgq_dev *s);

/* Close everything (drops a session first). */
void vtio_host_msgq_dev_close(struct vtio_host_msgq_dev *s);

#ifdef __cplusplus
}
#endif

#endif /* VTIO_HOST_MSGQ_LINK_H */
