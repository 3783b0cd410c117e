/* An rpmsg-style echo service over any vtio transport (seed 001's first
 * client): the device announces a named endpoint through the name service
 * (address 53), the driver binds it and sends messages, the device echoes
 * each one back to the sender's address.
 *
 * Queues, as Linux's virtio_rpmsg_bus numbers them from the driver's side:
 * 0 = rx (device -> driver: the driver posts empty buffers), 1 = tx
 * (driver -> device). Every message starts with a 16-byte header
 * {src, dst, reserved, len, flags} in little-endian. Example code, shared by
 * the two programs and the tests; not part of the library. */
#ifndef VTIO_EXAMPLE_RPMSG_ECHO_H
#define VTIO_EXAMPLE_RPMSG_ECHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vtio/bounce.h"
#include "vtio/dev.h"
#include "vtio/dma.h"
#include "vtio/transport/shm.h"

#define RPM_DEVICE_ID	7u  /* virtio device id of rpmsg */
#define RPM_F_NS	0u  /* feature bit: name service */
#define RPM_NS_ADDR	53u /* name service endpoint */
#define RPM_NS_CREATE	0u
#define RPM_NAME_LEN	32u
#define RPM_BUF_SIZE	512u
#define RPM_HDR_SIZE	16u
#define RPM_MAX_PAYLOAD (RPM_BUF_SIZE - RPM_HDR_SIZE)
#define RPM_QUEUE_MAX	64u
#define RPM_ECHO_NAME	"rpmsg-echo"
#define RPM_ECHO_ADDR	0x400u
#define RPM_DRV_ADDR	0x401u

/* ---- device side -------------------------------------------------------------------------- */

struct rpm_dev {
	struct vtio_dev dev;
	_Alignas(16) unsigned char storage[32 * 1024];
	struct vtio_devq *rx, *tx;
	bool announce_pending;
	uint32_t ep_addr;
	uint64_t announced, echoed, dropped;
};

/* Initialise the device core (seed 001: the device first, with its
 * features), ready to be published on a transport. */
int rpm_dev_init(struct rpm_dev *d);

/* ---- driver side --------------------------------------------------------------------------- */

#define RPM_NRX 32u
#define RPM_NTX 16u

struct rpm_drv {
	struct vtio_shm_drv shm;
	/* DMA: a bounce pool over the entry's bounce area, so rings and
	 * buffers the device sees lie in the shared window. */
	_Alignas(64) unsigned char pool_storage[16 * 1024];
	_Alignas(64) unsigned char set_storage[4 * 1024];
	struct vtio_bounce_pool *pool;
	struct vtio_bounce_set *set;
	struct vtio_bounce_layer bl;
	struct vtio_dma_dev dma;
	struct vtio_vq *rx, *tx;
	_Alignas(16) unsigned char rx_state[32 * 1024];
	_Alignas(16) unsigned char tx_state[32 * 1024];
	unsigned char rx_buf[RPM_NRX][RPM_BUF_SIZE];
	unsigned char tx_buf[RPM_NTX][RPM_BUF_SIZE];
	uint32_t tx_busy; /* bit per tx buffer */
	bool bound;
	uint32_t remote;
	char remote_name[RPM_NAME_LEN + 1];
	/* Last message received on the bound endpoint. */
	unsigned char last[RPM_MAX_PAYLOAD];
	uint32_t last_len;
	uint64_t received, sent;
};

/* Bind directory entry @e and bring the device up: negotiate (the packed
 * ring with @packed), two queues over the bounce area, rx buffers posted,
 * DRIVER_OK. */
int rpm_drv_start(struct rpm_drv *d, void *win, size_t size, const struct vtio_shm_entry_info *e,
		  const struct vtio_shm_hooks *hooks, bool packed);
/* Reap used buffers: name-service announcements bind the endpoint,
 * messages to us are kept in last/last_len. Returns the number of
 * messages received (>= 0) or an error. */
int rpm_drv_poll(struct rpm_drv *d);
/* Send @len bytes to the bound endpoint (VTIO_EAGAIN: not bound yet or no
 * free tx buffer; VTIO_EMSGSIZE: too long). */
int rpm_drv_send(struct rpm_drv *d, const void *data, size_t len);
/* Reset the device (driver going away). */
void rpm_drv_stop(struct rpm_drv *d);

#endif
