/*
 * vtio-vhost-blk: a vhost-user virtio-blk back end serving a raw file.
 * Requests IN / OUT / FLUSH (fsync) / GET_ID on every request queue; config
 * space with capacity, seg_max, blk_size and num_queues. See
 * docs/vhost-user.md for the command line and the JSON line.
 */
#include "vhost_prog.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtio/vhost_user.h"

#define PROG "vtio-vhost-blk"

struct blk {
	int fd;
	uint64_t capacity; /* sectors */
	uint32_t blk_size, seg_max;
	unsigned queues;
	bool ro;
	char serial[VTIO_BLK_ID_BYTES];
	unsigned char config[VTIO_BLK_CONFIG_SIZE];
	struct vtio_iov *rd, *wr;
	unsigned iov_max;
	struct vtio_vhost_be *be;
	bool logged_broken[VTIO_VHOST_USER_MAX_QUEUES];
	uint64_t requests, reads, writes, flushes, get_id, read_bytes, write_bytes, errors;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " --socket PATH --image FILE [options]\n"
		   "  vhost-user virtio-blk back end serving a raw image.\n"
		   "  --socket PATH     UNIX socket to listen on\n"
		   "  --image FILE      raw image (capacity = size / 512)\n"
		   "  --queues N        request queues (default 1; MQ when > 1)\n"
		   "  --queue-size N    largest queue size accepted (default 1024)\n"
		   "  --blk-size B      blk_size in config, power of 2 >= 512 (default 512)\n"
		   "  --seg-max N       seg_max in config (default 126)\n"
		   "  --read-only       offer VIRTIO_BLK_F_RO, fail writes\n"
		   "  --no-packed       do not offer VIRTIO_F_RING_PACKED\n"
		   "  --once            exit after the first front end disconnects\n"
		   "  --serial STR      GET_ID answer (<= 20 bytes, default " PROG ")\n"
		   "  --help            this text\n"
		   "Prints one JSON line of counters on SIGUSR1 and at exit (SIGINT/SIGTERM).\n");
}

static void print_stats(const struct blk *b, const char *event)
{
	struct vtio_vhost_be_stats s;
	vtio_vhost_be_get_stats(b->be, &s);
	printf("{\"program\":\"" PROG "\",\"event\":\"%s\",\"connections\":%llu,"
	       "\"requests\":%llu,\"reads\":%llu,\"writes\":%llu,\"flushes\":%llu,"
	       "\"get_id\":%llu,\"read_bytes\":%llu,\"write_bytes\":%llu,\"errors\":%llu,"
	       "\"protocol_errors\":%llu,\"features\":\"0x%llx\",\"protocol_features\":\"0x%llx\"",
	       event, (unsigned long long)s.connections, (unsigned long long)b->requests,
	       (unsigned long long)b->reads, (unsigned long long)b->writes,
	       (unsigned long long)b->flushes, (unsigned long long)b->get_id,
	       (unsigned long long)b->read_bytes, (unsigned long long)b->write_bytes,
	       (unsigned long long)b->errors, (unsigned long long)s.protocol_errors,
	       (unsigned long long)s.last_features, (unsigned long long)s.last_protocol_features);
	vtio_prog_print_queues(b->be);
	printf("}\n");
	fflush(stdout);
}

/* pread/pwrite the chain part [off, off+len) against the file at @pos. */
static int file_io(struct blk *b, const struct vtio_iov *iov, unsigned n, uint64_t off,
		   uint64_t len, uint64_t pos, bool write)
{
	for (unsigned i = 0; i < n && len > 0; i++) {
		if (off >= iov[i].len) {
			off -= iov[i].len;
			continue;
		}
		uint64_t take = iov[i].len - off;
		if (take > len)
			take = len;
		unsigned char *p = (unsigned char *)iov[i].ptr + off;
		if (iov[i].ptr == NULL)
			return -1;
		off = 0;
		while (take > 0) {
			ssize_t r = write ? pwrite(b->fd, p, (size_t)take, (off_t)pos)
					  : pread(b->fd, p, (size_t)take, (off_t)pos);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			p += r;
			pos += (uint64_t)r;
			take -= (uint64_t)r;
			len -= (uint64_t)r;
		}
	}
	return len == 0 ? 0 : -1;
}

static uint32_t do_request(struct blk *b, struct vtio_devq *q, const struct vtio_devq_chain *c,
			   uint8_t *status)
{
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} h;
	uint64_t data;
	*status = VTIO_BLK_S_OK;
	if (vtio_devq_read(q, c, 0, &h, sizeof(h)) != (int64_t)sizeof(h)) {
		*status = VTIO_BLK_S_IOERR;
		return 0;
	}
	switch (h.type) {
	case VTIO_BLK_T_IN:
		data = c->wr_len - 1;
		if (data % 512 != 0 || h.sector > b->capacity ||
		    data / 512 > b->capacity - h.sector ||
		    file_io(b, c->wr, c->wr_num, 0, data, h.sector * 512, false) != 0) {
			*status = VTIO_BLK_S_IOERR;
			return 0;
		}
		b->reads++;
		b->read_bytes += data;
		return (uint32_t)data;
	case VTIO_BLK_T_OUT:
		data = c->rd_len - sizeof(h);
		if (b->ro || data % 512 != 0 || h.sector > b->capacity ||
		    data / 512 > b->capacity - h.sector ||
		    file_io(b, c->rd, c->rd_num, sizeof(h), data, h.sector * 512, true) != 0) {
			*status = VTIO_BLK_S_IOERR;
			return 0;
		}
		b->writes++;
		b->write_bytes += data;
		return 0;
	case VTIO_BLK_T_FLUSH:
		b->flushes++;
		if (fsync(b->fd) != 0)
			*status = VTIO_BLK_S_IOERR;
		return 0;
	case VTIO_BLK_T_GET_ID: {
		uint64_t n = c->wr_len - 1 < VTIO_BLK_ID_BYTES ? c->wr_len - 1 : VTIO_BLK_ID_BYTES;
		b->get_id++;
		if (vtio_devq_write(q, c, 0, b->serial, (size_t)n) != (int64_t)n)
			*status = VTIO_BLK_S_IOERR;
		return (uint32_t)n;
	}
	default:
		*status = VTIO_BLK_S_UNSUPP;
		return 0;
	}
}

static bool blk_work(void *ctx, struct vtio_vhost_be *be, unsigned qi, struct vtio_devq *q)
{
	struct blk *b = ctx;
	(void)be;
	for (;;) {
		struct vtio_devq_chain c;
		memset(&c, 0, sizeof(c));
		c.rd = b->rd;
		c.rd_max = b->iov_max;
		c.wr = b->wr;
		c.wr_max = b->iov_max;
		int err = vtio_devq_pop(q, &c);
		if (err == VTIO_EAGAIN)
			return true;
		if (err != 0) {
			if (!b->logged_broken[qi])
				fprintf(stderr, PROG ": queue %u: %s (%s)\n", qi,
					vtio_strerror(err),
					vtio_devq_broken_reason(q) ? vtio_devq_broken_reason(q)
								   : "chain not taken");
			b->logged_broken[qi] = true;
			return true;
		}
		b->requests++;
		uint32_t len = 0;
		if (c.rd_len < 16 || c.wr_len < 1) {
			/* No room for a status byte: nothing can be said back. */
			b->errors++;
		} else {
			uint8_t status;
			len = do_request(b, q, &c, &status);
			if (vtio_devq_write(q, &c, c.wr_len - 1, &status, 1) != 1)
				status = VTIO_BLK_S_IOERR;
			if (status != VTIO_BLK_S_OK)
				b->errors++;
			len += 1;
		}
		vtio_devq_push(q, &c, len);
	}
}

static void blk_state(void *ctx, struct vtio_vhost_be *be, unsigned qi, bool live)
{
	struct blk *b = ctx;
	(void)be;
	if (live)
		b->logged_broken[qi] = false;
}

static int blk_get_config(void *ctx, uint32_t off, void *buf, uint32_t len)
{
	struct blk *b = ctx;
	memset(buf, 0, len);
	if (off < sizeof(b->config)) {
		uint32_t n = (uint32_t)sizeof(b->config) - off;
		memcpy(buf, b->config + off, n < len ? n : len);
	}
	return 0;
}

static int blk_set_config(void *ctx, uint32_t off, const void *buf, uint32_t len)
{
	/* Only the writeback byte (offset 32) is writable; nothing else changes. */
	(void)ctx;
	(void)buf;
	return off == 32 && len == 1 ? 0 : VTIO_EINVAL;
}

static void put_le(unsigned char *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *image = NULL, *serial = PROG;
	unsigned queues = 1;
	uint32_t qsize = 1024, blk_size = 512, seg_max = 126;
	bool ro = false, packed = true, once = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--socket"))
			sock = vtio_prog_arg(PROG, argc, argv, &i);
		else if (!strcmp(a, "--image"))
			image = vtio_prog_arg(PROG, argc, argv, &i);
		else if (!strcmp(a, "--queues"))
			queues =
			    (unsigned)vtio_prog_num(PROG, a, vtio_prog_arg(PROG, argc, argv, &i), 1,
						    VTIO_VHOST_USER_MAX_QUEUES);
		else if (!strcmp(a, "--queue-size"))
			qsize = (uint32_t)vtio_prog_num(
			    PROG, a, vtio_prog_arg(PROG, argc, argv, &i), 1, 32768);
		else if (!strcmp(a, "--blk-size"))
			blk_size = (uint32_t)vtio_prog_num(
			    PROG, a, vtio_prog_arg(PROG, argc, argv, &i), 512, 1u << 20);
		else if (!strcmp(a, "--seg-max"))
			seg_max = (uint32_t)vtio_prog_num(
			    PROG, a, vtio_prog_arg(PROG, argc, argv, &i), 1, 1024);
		else if (!strcmp(a, "--read-only"))
			ro = true;
		else if (!strcmp(a, "--no-packed"))
			packed = false;
		else if (!strcmp(a, "--once"))
			once = true;
		else if (!strcmp(a, "--serial"))
			serial = vtio_prog_arg(PROG, argc, argv, &i);
		else {
			fprintf(stderr, PROG ": unknown option '%s' (see --help)\n", a);
			return 2;
		}
	}
	if (sock == NULL || image == NULL) {
		fprintf(stderr, PROG ": --socket and --image are required (see --help)\n");
		return 2;
	}
	if ((blk_size & (blk_size - 1)) != 0) {
		fprintf(stderr, PROG ": --blk-size %u is not a power of 2\n", blk_size);
		return 2;
	}
	if (strlen(serial) > VTIO_BLK_ID_BYTES) {
		fprintf(stderr, PROG ": --serial is longer than %u bytes\n", VTIO_BLK_ID_BYTES);
		return 2;
	}
	static struct blk b;
	b.fd = open(image, ro ? O_RDONLY : O_RDWR);
	if (b.fd < 0) {
		fprintf(stderr, PROG ": cannot open image '%s': %s\n", image, strerror(errno));
		return 1;
	}
	struct stat st;
	if (fstat(b.fd, &st) != 0 || st.st_size < 512) {
		fprintf(stderr, PROG ": image '%s' is smaller than one sector\n", image);
		return 1;
	}
	b.capacity = (uint64_t)st.st_size / 512;
	b.blk_size = blk_size;
	b.seg_max = seg_max;
	b.queues = queues;
	b.ro = ro;
	memcpy(b.serial, serial, strlen(serial));
	put_le(b.config + 0, b.capacity, 8);
	put_le(b.config + 12, seg_max, 4);
	put_le(b.config + 20, blk_size, 4);
	put_le(b.config + 34, queues, 2);
	/* Room for any chain devq accepts: the ring's descriptors plus one
	 * indirect table of the default cap. */
	b.iov_max = qsize + VTIO_DEVQ_DEFAULT_MAX_INDIRECT;
	b.rd = calloc(b.iov_max, sizeof(*b.rd));
	b.wr = calloc(b.iov_max, sizeof(*b.wr));
	if (b.rd == NULL || b.wr == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}

	static const struct vtio_vhost_be_ops ops = {
	    .queue_work = blk_work,
	    .queue_state = blk_state,
	    .get_config = blk_get_config,
	    .set_config = blk_set_config,
	};
	struct vtio_vhost_be_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.path = sock;
	cfg.features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_INDIRECT_DESC) |
		       VTIO_FEATURE(VTIO_F_EVENT_IDX) | VTIO_FEATURE(VTIO_BLK_F_SEG_MAX) |
		       VTIO_FEATURE(VTIO_BLK_F_BLK_SIZE) | VTIO_FEATURE(VTIO_BLK_F_FLUSH);
	if (packed)
		cfg.features |= VTIO_FEATURE(VTIO_F_RING_PACKED);
	if (queues > 1)
		cfg.features |= VTIO_FEATURE(VTIO_BLK_F_MQ);
	if (ro)
		cfg.features |= VTIO_FEATURE(VTIO_BLK_F_RO);
	cfg.protocol_features = (1ull << VTIO_VHOST_USER_PROTOCOL_F_MQ) |
				(1ull << VTIO_VHOST_USER_PROTOCOL_F_REPLY_ACK) |
				(1ull << VTIO_VHOST_USER_PROTOCOL_F_CONFIG) |
				(1ull << VTIO_VHOST_USER_PROTOCOL_F_RESET_DEVICE) |
				(1ull << VTIO_VHOST_USER_PROTOCOL_F_STATUS);
	cfg.num_queues = queues;
	cfg.max_queue_size = qsize;
	cfg.ops = &ops;
	cfg.ctx = &b;
	cfg.log_prefix = PROG;
	int err = vtio_vhost_be_create(&b.be, &cfg);
	if (err != 0) {
		fprintf(stderr, PROG ": cannot listen on '%s': %s\n", sock,
			err == VTIO_EIO ? strerror(errno) : vtio_strerror(err));
		return 1;
	}
	vtio_prog_signals();
	fprintf(stderr, PROG ": listening on %s\n", sock);
	bool seen = false;
	while (!vtio_prog_stop) {
		if (vtio_vhost_be_run(b.be, 200) != 0) {
			fprintf(stderr, PROG ": event loop failed: %s\n", strerror(errno));
			break;
		}
		if (vtio_prog_stats) {
			vtio_prog_stats = 0;
			print_stats(&b, "stats");
		}
		if (vtio_vhost_be_connected(b.be))
			seen = true;
		else if (once && seen)
			break;
	}
	print_stats(&b, "exit");
	vtio_vhost_be_destroy(b.be);
	close(b.fd);
	free(b.rd);
	free(b.wr);
	return 0;
}
