/*
 * vtio-blk-dev: a virtio-blk device back end serving a file, as a standalone
 * program (seed 002), over the message-queue transport: config, status and
 * features by messages on a UNIX socket, notifications by eventfd doorbells,
 * rings and every payload in the shared window the driver process hands
 * over. The device maps only that window (its memory view has one region).
 *
 * Requests (virtio spec 5.2.6): IN, OUT, FLUSH, GET_ID; anything else gets
 * VTIO_BLK_S_UNSUPP, a request outside the capacity or malformed
 * VTIO_BLK_S_IOERR. When the driver goes away the session is dropped (device
 * reset) and the next driver is accepted.
 *
 * Usage: vtio-blk-dev --socket PATH --file IMG [--sessions N] [--quiet]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host_msgq_link.h"
#include "vtio.h"

#define QUEUE_MAX    256u
#define SIZE_MAX_SEG (128u * 1024u)
#define SEG_MAX	     16u
#define MAX_IO	     (SEG_MAX * SIZE_MAX_SEG)

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct blk {
	struct vtio_host_msgq_dev s;
	int fd;
	uint64_t sectors;
	unsigned char config[VTIO_BLK_CFG_LEN];
	unsigned char *buf;
	uint64_t reqs, bytes;
	int quiet;
};

static uint8_t serve_one(struct blk *b, struct vtio_devq *q, struct vtio_devq_chain *c,
			 uint32_t *written)
{
	struct vtio_blk_req_hdr h;
	*written = 0;
	if (c->wr_len < 1 || vtio_devq_read(q, c, 0, &h, sizeof(h)) != (int64_t)sizeof(h))
		return VTIO_BLK_S_IOERR;
	uint32_t type = vtio_le32(h.type);
	uint64_t sector = vtio_le64(h.sector);
	uint64_t in_len = c->wr_len - 1; /* writable data before the status byte */
	uint64_t out_len = c->rd_len - sizeof(h);
	switch (type) {
	case VTIO_BLK_T_IN: {
		if (in_len % VTIO_BLK_SECTOR_SIZE || in_len > MAX_IO || sector > b->sectors ||
		    in_len / VTIO_BLK_SECTOR_SIZE > b->sectors - sector)
			return VTIO_BLK_S_IOERR;
		ssize_t n = pread(b->fd, b->buf, in_len, (off_t)(sector * VTIO_BLK_SECTOR_SIZE));
		if (n != (ssize_t)in_len)
			return VTIO_BLK_S_IOERR;
		if (vtio_devq_write(q, c, 0, b->buf, in_len) != (int64_t)in_len)
			return VTIO_BLK_S_IOERR;
		*written = (uint32_t)in_len;
		b->bytes += in_len;
		return VTIO_BLK_S_OK;
	}
	case VTIO_BLK_T_OUT: {
		if (out_len % VTIO_BLK_SECTOR_SIZE || out_len > MAX_IO || sector > b->sectors ||
		    out_len / VTIO_BLK_SECTOR_SIZE > b->sectors - sector)
			return VTIO_BLK_S_IOERR;
		if (vtio_devq_read(q, c, sizeof(h), b->buf, out_len) != (int64_t)out_len)
			return VTIO_BLK_S_IOERR;
		ssize_t n = pwrite(b->fd, b->buf, out_len, (off_t)(sector * VTIO_BLK_SECTOR_SIZE));
		b->bytes += out_len;
		return n == (ssize_t)out_len ? VTIO_BLK_S_OK : VTIO_BLK_S_IOERR;
	}
	case VTIO_BLK_T_FLUSH:
		return fdatasync(b->fd) == 0 ? VTIO_BLK_S_OK : VTIO_BLK_S_IOERR;
	case VTIO_BLK_T_GET_ID: {
		char id[VTIO_BLK_ID_BYTES] = "vtio-blk-dev";
		if (in_len < VTIO_BLK_ID_BYTES)
			return VTIO_BLK_S_IOERR;
		if (vtio_devq_write(q, c, 0, id, sizeof(id)) != (int64_t)sizeof(id))
			return VTIO_BLK_S_IOERR;
		*written = VTIO_BLK_ID_BYTES;
		return VTIO_BLK_S_OK;
	}
	default:
		return VTIO_BLK_S_UNSUPP;
	}
}

/* Kick hook (runs inside vtio_host_msgq_dev_step()): serve what is available. */
static int blk_kick(void *ctx, uint16_t index, uint32_t data)
{
	struct blk *b = ctx;
	(void)data;
	struct vtio_devq *q = vtio_dev_devq(&b->s.dev, index);
	if (q == NULL)
		return 0;
	struct vtio_iov rd[SEG_MAX + 2], wr[SEG_MAX + 2];
	for (;;) {
		struct vtio_devq_chain c = {
		    .rd = rd, .rd_max = SEG_MAX + 2, .wr = wr, .wr_max = SEG_MAX + 2};
		int rc = vtio_devq_pop(q, &c);
		if (rc == VTIO_EAGAIN) {
			/* Re-enable notifications and look once more (no lost kick). */
			if (vtio_devq_enable_notify(q))
				break; /* empty: wait for the next kick */
			vtio_devq_disable_notify(q);
			continue;
		}
		if (rc != 0) {
			fprintf(stderr, "vtio-blk-dev: queue %u: bad request chain: %s\n", index,
				vtio_strerror(rc));
			vtio_dev_check_queue(&b->s.dev, index);
			return 0;
		}
		uint32_t written;
		uint8_t st = serve_one(b, q, &c, &written);
		/* The status byte is the last writable byte. */
		if (c.wr_len >= 1)
			(void)vtio_devq_write(q, &c, c.wr_len - 1, &st, 1);
		rc = vtio_devq_push(q, &c, c.wr_len >= 1 ? written + 1 : 0);
		if (rc != 0)
			return 0;
		b->reqs++;
		(void)vtio_host_msgq_dev_notify(&b->s, index);
	}
	return 0;
}

static const struct vtio_dev_ops blk_ops = {.kick = blk_kick};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: vtio-blk-dev --socket PATH --file IMG [--sessions N] [--quiet]\n"
	    "  Serve the file IMG as a virtio-blk device over the message-queue transport:\n"
	    "  listens on the UNIX socket PATH for a driver (vtio-blk-drv), maps only the\n"
	    "  shared window the driver sends, serves IN/OUT/FLUSH/GET_ID requests.\n"
	    "  --sessions N  exit after N driver sessions (default: serve until SIGINT/SIGTERM)\n"
	    "  --quiet       no per-session lines\n");
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *file = NULL;
	long sessions = 0;
	static struct blk b;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--socket") && i + 1 < argc) {
			sock = argv[++i];
		} else if (!strcmp(a, "--file") && i + 1 < argc) {
			file = argv[++i];
		} else if (!strcmp(a, "--sessions") && i + 1 < argc) {
			char *end;
			sessions = strtol(argv[++i], &end, 10);
			if (*end || sessions < 1) {
				fprintf(
				    stderr,
				    "vtio-blk-dev: --sessions needs a positive number, got '%s'\n",
				    argv[i]);
				return 2;
			}
		} else if (!strcmp(a, "--quiet")) {
			b.quiet = 1;
		} else {
			fprintf(stderr, "vtio-blk-dev: unknown or incomplete argument '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (!sock || !file) {
		fprintf(stderr, "vtio-blk-dev: --socket and --file are required\n");
		usage(stderr);
		return 2;
	}
	b.fd = open(file, O_RDWR | O_CLOEXEC);
	if (b.fd < 0) {
		fprintf(stderr, "vtio-blk-dev: cannot open image '%s': %s\n", file,
			strerror(errno));
		return 1;
	}
	struct stat st;
	if (fstat(b.fd, &st) != 0 || st.st_size < (off_t)VTIO_BLK_SECTOR_SIZE) {
		fprintf(stderr, "vtio-blk-dev: image '%s' is smaller than one sector\n", file);
		return 1;
	}
	b.sectors = (uint64_t)st.st_size / VTIO_BLK_SECTOR_SIZE;
	uint64_t cap = vtio_le64(b.sectors);
	uint32_t v = vtio_le32(SIZE_MAX_SEG);
	memcpy(b.config + VTIO_BLK_CFG_CAPACITY, &cap, 8);
	memcpy(b.config + VTIO_BLK_CFG_SIZE_MAX, &v, 4);
	v = vtio_le32(SEG_MAX);
	memcpy(b.config + VTIO_BLK_CFG_SEG_MAX, &v, 4);
	v = vtio_le32(VTIO_BLK_SECTOR_SIZE);
	memcpy(b.config + VTIO_BLK_CFG_BLK_SIZE, &v, 4);
	b.buf = malloc(MAX_IO);
	if (!b.buf) {
		fprintf(stderr, "vtio-blk-dev: out of memory\n");
		return 1;
	}

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct vtio_dev_config dc = {
	    .device_id = VTIO_ID_BLOCK,
	    .features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_RING_PACKED) |
			VTIO_FEATURE(VTIO_F_EVENT_IDX) | VTIO_FEATURE(VTIO_BLK_F_FLUSH) |
			VTIO_FEATURE(VTIO_BLK_F_SIZE_MAX) | VTIO_FEATURE(VTIO_BLK_F_SEG_MAX) |
			VTIO_FEATURE(VTIO_BLK_F_BLK_SIZE),
	    .num_queues = 1,
	    .queue_max = QUEUE_MAX,
	    .config = b.config,
	    .config_len = sizeof(b.config),
	    .ops = &blk_ops,
	    .ctx = &b,
	};
	int rc = vtio_host_msgq_dev_open(&b.s, sock, &dc);
	if (rc != 0) {
		fprintf(stderr, "vtio-blk-dev: cannot listen on '%s': %s\n", sock,
			vtio_strerror(rc));
		return 1;
	}
	if (!b.quiet)
		printf("vtio-blk-dev: serving %s (%" PRIu64 " sectors) on %s\n", file, b.sectors,
		       sock);
	fflush(stdout);
	long done = 0;
	while (!stop && (sessions == 0 || done < sessions)) {
		rc = vtio_host_msgq_dev_accept(&b.s, 200);
		if (rc == VTIO_ETIMEDOUT || rc == VTIO_EAGAIN)
			continue;
		if (rc != 0) {
			fprintf(stderr, "vtio-blk-dev: refused a driver: %s\n", vtio_strerror(rc));
			continue;
		}
		uint64_t r0 = b.reqs, by0 = b.bytes;
		while (!stop) {
			rc = vtio_host_msgq_dev_step(&b.s, 200, NULL);
			if (rc == VTIO_ENOTCONN)
				break;
		}
		vtio_host_msgq_dev_drop(&b.s);
		done++;
		if (!b.quiet)
			printf("vtio-blk-dev: session %ld ended: %" PRIu64 " requests, %" PRIu64
			       " bytes\n",
			       done, b.reqs - r0, b.bytes - by0);
		fflush(stdout);
	}
	vtio_host_msgq_dev_close(&b.s);
	close(b.fd);
	free(b.buf);
	return 0;
}
