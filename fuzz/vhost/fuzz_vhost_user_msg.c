/*
 * vhost-user back end against a hostile front end: every input is a stream
 * of records sent over a socketpair the back end serves (vtio_vhost_be_adopt):
 *
 *   t < 0x40          a message: (t & 0x0f) fds (at most 8; memfds when
 *                     t & 0x10, else eventfds the harness can kick), then the
 *                     12-byte header, then the payload (cut short at the end
 *                     of the input: the socket is then shut down)
 *   0x40 <= t < 0x80  a write into the shared memfd: u16 offset, u8 len, bytes
 *   t >= 0x80         kick every eventfd sent so far
 *
 * The device pops every chain, copies readable bytes into the writable part
 * and pushes it, so a ring set up by the input runs through vtio_devq. The
 * back end must never crash, hang or leak an fd; a malformed message only
 * drops the connection. Seeds: make_corpus.py.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vtio/vhost_user.h"
#include "vhost_internal.h"

#define MEM_SIZE 65536u
#define MAX_EFD	 32u

static struct vtio_iov rd[2048], wr[2048];

static bool copy_work(void *ctx, struct vtio_vhost_be *be, unsigned qi, struct vtio_devq *q)
{
	(void)ctx;
	(void)be;
	(void)qi;
	for (int n = 0; n < 4096; n++) {
		struct vtio_devq_chain c;
		memset(&c, 0, sizeof(c));
		c.rd = rd;
		c.rd_max = 2048;
		c.wr = wr;
		c.wr_max = 2048;
		if (vtio_devq_pop(q, &c) != 0)
			return true;
		unsigned char tmp[512];
		uint64_t len = c.rd_len < c.wr_len ? c.rd_len : c.wr_len;
		if (len > sizeof(tmp))
			len = sizeof(tmp);
		int64_t got = vtio_devq_read(q, &c, 0, tmp, (size_t)len);
		uint32_t used = 0;
		if (got > 0 && vtio_devq_write(q, &c, 0, tmp, (size_t)got) == got)
			used = (uint32_t)got;
		vtio_devq_push(q, &c, used);
	}
	return false;
}

static int cfg_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
	(void)ctx;
	if (off > 64 || len > 64 - off)
		return VTIO_EINVAL;
	memset(buf, 0xab, len);
	return 0;
}

static const struct vtio_vhost_be_ops ops = {.queue_work = copy_work, .get_config = cfg_read};

static void drain(int fd)
{
	char b[4096];
	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int memfd = -1;
	static unsigned char *mem;
	if (memfd < 0) {
		signal(SIGPIPE, SIG_IGN);
		memfd = memfd_create("fuzz-vhost", MFD_CLOEXEC);
		if (memfd < 0 || ftruncate(memfd, MEM_SIZE) != 0)
			abort();
		mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
		if (mem == MAP_FAILED)
			abort();
	}
	memset(mem, 0, MEM_SIZE);
	struct vtio_vhost_be_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_RING_PACKED) |
		       VTIO_FEATURE(VTIO_F_INDIRECT_DESC) | VTIO_FEATURE(VTIO_F_EVENT_IDX);
	cfg.protocol_features = VTIO_VHOST_USER_PROTOCOL_SUPPORTED;
	cfg.num_queues = 4;
	cfg.max_queue_size = 256;
	cfg.ops = &ops;
	struct vtio_vhost_be *be;
	if (vtio_vhost_be_create(&be, &cfg) != 0)
		abort();
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	if (vtio_vhost_be_adopt(be, sv[0]) != 0)
		abort();
	int efd[MAX_EFD];
	unsigned nefd = 0;
	size_t at = 0;
	while (at < size && vtio_vhost_be_connected(be)) {
		uint8_t t = data[at++];
		if (t < 0x40) {
			uint32_t hdr[3];
			if (size - at < sizeof(hdr))
				break;
			memcpy(hdr, data + at, sizeof(hdr));
			at += sizeof(hdr);
			size_t plen = hdr[2] < size - at ? hdr[2] : size - at;
			unsigned nfds = t & 0x0fu;
			if (nfds > VTIO_VHOST_USER_MAX_FDS)
				nfds = VTIO_VHOST_USER_MAX_FDS;
			int fds[VTIO_VHOST_USER_MAX_FDS];
			for (unsigned i = 0; i < nfds; i++) {
				if (t & 0x10u) {
					fds[i] = memfd;
				} else {
					fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
					if (fds[i] < 0)
						abort();
				}
			}
			unsigned char buf[12 + 4096];
			size_t len = sizeof(hdr) + (plen < 4096 ? plen : 4096);
			memcpy(buf, hdr, sizeof(hdr));
			memcpy(buf + sizeof(hdr), data + at, len - sizeof(hdr));
			at += plen;
			struct iovec iov = {.iov_base = buf, .iov_len = len};
			union {
				char b[CMSG_SPACE(sizeof(int) * VTIO_VHOST_USER_MAX_FDS)];
				struct cmsghdr align;
			} ctl;
			struct msghdr mh;
			memset(&mh, 0, sizeof(mh));
			mh.msg_iov = &iov;
			mh.msg_iovlen = 1;
			if (nfds > 0) {
				memset(&ctl, 0, sizeof(ctl));
				mh.msg_control = ctl.b;
				mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
				struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
				c->cmsg_level = SOL_SOCKET;
				c->cmsg_type = SCM_RIGHTS;
				c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
				memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
			}
			ssize_t r = sendmsg(sv[1], &mh, MSG_NOSIGNAL);
			for (unsigned i = 0; i < nfds; i++) {
				if (t & 0x10u)
					continue;
				if (nefd < MAX_EFD)
					efd[nefd++] = fds[i]; /* kept to kick */
				else
					close(fds[i]);
			}
			if (r < 0)
				break;
			if (at >= size)
				shutdown(sv[1], SHUT_WR); /* a cut payload ends in EOF */
		} else if (t < 0x80) {
			if (size - at < 3)
				break;
			uint32_t off = (uint32_t)(data[at] | data[at + 1] << 8);
			uint32_t len = data[at + 2];
			at += 3;
			if (len > size - at)
				len = (uint32_t)(size - at);
			if (off >= MEM_SIZE)
				off %= MEM_SIZE;
			if (len > MEM_SIZE - off)
				len = MEM_SIZE - off;
			memcpy(mem + off, data + at, len);
			at += len;
		} else {
			uint64_t one = 1;
			for (unsigned i = 0; i < nefd; i++)
				if (write(efd[i], &one, sizeof(one)) < 0) {
					/* a full counter: nothing to do */
				}
		}
		for (int k = 0; k < 3; k++)
			vtio_vhost_be_run(be, 0);
		drain(sv[1]);
	}
	shutdown(sv[1], SHUT_WR);
	for (int k = 0; k < 4 && vtio_vhost_be_connected(be); k++) {
		vtio_vhost_be_run(be, 0);
		drain(sv[1]);
	}
	vtio_vhost_be_destroy(be);
	close(sv[1]);
	for (unsigned i = 0; i < nefd; i++)
		close(efd[i]);
	return 0;
}
