/*
 * vhost-user wire helpers shared by the back end and the front end:
 * receiving one message with its fds, validating a request's shape,
 * parsing the memory table, ring state encoding. Private to vtio_vhost
 * (the fuzz target includes it too).
 */
#ifndef VTIO_VHOST_INTERNAL_H
#define VTIO_VHOST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vtio/vhost_user.h"

/** One received message: header, payload, fds (owned until closed). */
struct vtio__vhost_msg {
	uint32_t req;
	uint32_t flags;
	uint32_t size;
	unsigned char payload[VTIO_VHOST_USER_MAX_PAYLOAD];
	int fds[VTIO_VHOST_USER_MAX_FDS];
	unsigned nfds;
};

struct vtio__vhost_state {
	uint32_t index;
	uint32_t num;
};

struct vtio__vhost_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc, used, avail, log;
};

struct vtio__vhost_region {
	uint64_t gpa, size, uaddr, mmap_offset;
};

struct vtio__vhost_mem_table {
	unsigned n;
	struct vtio__vhost_region r[VTIO_VHOST_USER_MAX_REGIONS];
};

/*
 * Receive one message. @return 0; VTIO_ENOENT on an orderly EOF before a
 * header; VTIO_EPROTO / VTIO_EIO / VTIO_ETIMEDOUT with @p err set. On error
 * no fd is left open.
 */
int vtio__vhost_recv(int fd, struct vtio__vhost_msg *m, int timeout_ms, char *err, size_t errlen);

/* Send one message with @p nfds fds. @return 0 or VTIO_EIO. */
int vtio__vhost_send(int fd, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		     const int *fds, unsigned nfds);

/* Check a request's flags, size, fd count and queue index. 0 or VTIO_EPROTO. */
int vtio__vhost_check_request(const struct vtio__vhost_msg *m, unsigned nqueues, char *err,
			      size_t errlen);

/* Parse and check a SET_MEM_TABLE payload (sizes, wrap, overlaps). */
int vtio__vhost_parse_mem_table(const struct vtio__vhost_msg *m, struct vtio__vhost_mem_table *t,
				char *err, size_t errlen);

uint64_t vtio__vhost_u64(const struct vtio__vhost_msg *m);
struct vtio__vhost_state vtio__vhost_state(const struct vtio__vhost_msg *m);
struct vtio__vhost_addr vtio__vhost_addr(const struct vtio__vhost_msg *m);

/* Ring state of SET/GET_VRING_BASE <-> device queue position. Packed: bits
 * 0-14 avail slot, 15 avail wrap, 16-30 used slot, 31 used wrap (upper half
 * 0: used = avail, as a front end that sends only the avail half means). */
uint32_t vtio__vhost_packed_base(const struct vtio_devq_pos *pos);
void vtio__vhost_base_to_pos(uint32_t base, bool packed, struct vtio_devq_pos *pos);

#endif /* VTIO_VHOST_INTERNAL_H */
