/*
 * vtio-vhost-fe: a vhost-user front end that checks what comes back.
 * net: sends N frames of a known pattern and checks every frame that comes
 * back byte for byte; blk: writes sectors with a known pattern, flushes,
 * reads them back and compares. One JSON result line; exit 0 only when
 * every check passed. Patterns and options: docs/vhost-user.md.
 */
#include "vhost_prog.h"

#include <fcntl.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include "vtio/vhost_user.h"

#define PROG "vtio-vhost-fe"

struct opts {
	const char *sock, *type, *ready, *net_role, *blk_mode;
	bool packed, no_event_idx, no_indirect;
	uint64_t count, size, sector;
	uint32_t qsize;
	unsigned queues;
	int timeout_ms;
	unsigned seed;
};

static struct opts o;
static struct vtio_vhost_fe *fe;
static char errtext[200];
static uint64_t deadline_ns;
static bool closing; /* buffers cancelled by the final close are not failures */
static uint64_t inflight_failed, inflight_failed_twice; /* failed back by the front end */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --socket PATH --type net|blk [options]\n"
		"  vhost-user front end that checks what comes back.\n"
		"  --packed              negotiate VIRTIO_F_RING_PACKED\n"
		"  --count N             net: frames; blk: requests per phase (default 64)\n"
		"  --size B              net: frame bytes 60..9000 (default 256);\n"
		"                        blk: bytes per request, multiple of 512 (default 4096)\n"
		"  --queue-size N        ring size (default 256)\n"
		"  --queues N            net: queue pairs; blk: request queues (default 1)\n"
		"  --timeout-ms T        whole run deadline (default 10000)\n"
		"  --seed S              pattern seed 0..255 (default 0)\n"
		"  --net-role R          both | send | recv (default both)\n"
		"  --ready-file PATH     created once queues are live and rx buffers posted\n"
		"  --blk-mode M          rw | write | verify (default rw)\n"
		"  --sector S            first sector (default 0)\n"
		"  --no-event-idx        do not negotiate VIRTIO_F_EVENT_IDX\n"
		"  --no-indirect         do not negotiate VIRTIO_F_INDIRECT_DESC\n"
		"  --help                this text\n");
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int left_ms(void)
{
	uint64_t n = now_ns();
	return n >= deadline_ns ? 0 : (int)((deadline_ns - n) / 1000000u) + 1;
}

static void set_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_err(const char *fmt, ...)
{
	if (errtext[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errtext, sizeof(errtext), fmt, ap);
	va_end(ap);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void ready(void)
{
	if (o.ready == NULL)
		return;
	int fd = open(o.ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
}

/* ---- net ------------------------------------------------------------------------- */

struct netbuf {
	unsigned char *p; /* header + frame */
	uint32_t cap;
	unsigned q;
	bool busy;
};

static struct {
	struct netbuf *rx, *tx;
	unsigned nrx, ntx;
	uint32_t rxcap;
	unsigned char *asm_buf; /* MRG_RXBUF reassembly */
	uint32_t asm_len, asm_left;
	unsigned asm_q;
	unsigned char *seen;
	unsigned char *ref;
	uint64_t sent, tx_done, received, mismatches, bytes_sent, bytes_received;
	uint32_t hdr_len;
} n;

static void gen_frame(unsigned char *f, uint64_t k, uint32_t len)
{
	memset(f, 0xff, 6);
	static const unsigned char src[6] = {0x02, 0, 0, 0, 0, 0x01};
	memcpy(f + 6, src, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	f[14] = (unsigned char)(k >> 24);
	f[15] = (unsigned char)(k >> 16);
	f[16] = (unsigned char)(k >> 8);
	f[17] = (unsigned char)k;
	for (uint32_t i = 18; i < len; i++)
		f[i] = (unsigned char)(k + i + o.seed);
}

static void check_frame(const unsigned char *f, uint32_t len)
{
	if (len < 18) {
		n.mismatches++;
		set_err("received a %u-byte frame", len);
		return;
	}
	uint64_t k =
	    ((uint64_t)f[14] << 24) | ((uint64_t)f[15] << 16) | ((uint64_t)f[16] << 8) | f[17];
	if (len != o.size || k >= o.count || n.seen[k]) {
		n.mismatches++;
		set_err("unexpected frame (length %u, sequence %llu)", len, (unsigned long long)k);
		return;
	}
	gen_frame(n.ref, k, (uint32_t)o.size);
	if (memcmp(f, n.ref, len) != 0) {
		n.mismatches++;
		set_err("frame %llu differs from what was sent", (unsigned long long)k);
		return;
	}
	n.seen[k] = 1;
	n.received++;
	n.bytes_received += len;
}

static int post_rx(struct netbuf *b)
{
	struct vtio_sg sg = vtio_sg_of(b->p, b->cap);
	b->busy = true;
	return vtio_vq_add(vtio_vhost_fe_vq(fe, b->q), &sg, 0, 1, b);
}

static void rx_done(struct netbuf *b, uint32_t len)
{
	uint32_t hl = n.hdr_len;
	if (n.asm_left > 0 && b->q == n.asm_q) {
		/* Continuation of a merged frame: no header. */
		memcpy(n.asm_buf + n.asm_len, b->p, len);
		n.asm_len += len;
		if (--n.asm_left == 0)
			check_frame(n.asm_buf + hl, n.asm_len - hl);
	} else if (len < hl) {
		n.mismatches++;
		set_err("rx buffer of %u bytes has no full virtio_net_hdr", len);
	} else {
		uint16_t nb = hl == 12 ? (uint16_t)(b->p[10] | (b->p[11] << 8)) : 1;
		if (nb <= 1) {
			check_frame(b->p + hl, len - hl);
		} else if ((uint64_t)nb * n.rxcap >
			   VTIO_NET_HDR_LEN + VTIO_NET_MAX_FRAME + n.rxcap) {
			n.mismatches++;
			set_err("num_buffers %u is impossible", nb);
		} else {
			memcpy(n.asm_buf, b->p, len);
			n.asm_len = len;
			n.asm_left = nb - 1u;
			n.asm_q = b->q;
		}
	}
	if (post_rx(b) != 0)
		set_err("cannot re-post an rx buffer");
	b->busy = true;
}

static void net_complete(void *ctx, unsigned qi, void *token, uint32_t len, int status)
{
	struct netbuf *b = token;
	(void)ctx;
	(void)qi;
	bool was_busy = b->busy;
	b->busy = false;
	if (closing)
		return;
	if (status != 0) {
		if (was_busy)
			inflight_failed++;
		else
			inflight_failed_twice++;
		set_err("the back end went away: in-flight buffers failed back (%s)",
			vtio_strerror(status));
		return;
	}
	if ((b->q & 1u) == 0)
		rx_done(b, len);
	else
		n.tx_done++;
}

static int run_net(void)
{
	bool do_send = strcmp(o.net_role, "recv") != 0;
	bool do_recv = strcmp(o.net_role, "send") != 0;
	unsigned nq = 2 * o.queues;
	n.hdr_len = VTIO_NET_HDR_LEN;
	uint64_t f = vtio_vhost_fe_features(fe);
	bool mrg = (f & VTIO_FEATURE(VTIO_NET_F_MRG_RXBUF)) != 0;
	if (!(f & VTIO_FEATURE(VTIO_F_VERSION_1)) && !mrg)
		n.hdr_len = VTIO_NET_HDR_LEN_LEGACY;
	n.rxcap = (uint32_t)(n.hdr_len + o.size);
	if (mrg && n.rxcap > 2048)
		n.rxcap = 2048;
	n.nrx = o.queues * o.qsize;
	n.ntx = o.queues * o.qsize;
	n.rx = calloc(n.nrx, sizeof(*n.rx));
	n.tx = calloc(n.ntx, sizeof(*n.tx));
	n.seen = calloc(o.count ? o.count : 1, 1);
	n.ref = malloc(VTIO_NET_MAX_FRAME);
	n.asm_buf = malloc(VTIO_NET_HDR_LEN + VTIO_NET_MAX_FRAME + 4096);
	if (!n.rx || !n.tx || !n.seen || !n.ref || !n.asm_buf) {
		set_err("out of memory");
		return 1;
	}
	for (unsigned i = 0; i < n.nrx; i++) {
		n.rx[i].cap = n.rxcap;
		n.rx[i].q = 2 * (i / o.qsize);
		n.rx[i].p = vtio_vhost_fe_alloc(fe, n.rxcap, 64);
		if (n.rx[i].p == NULL) {
			set_err("shared memory exhausted");
			return 1;
		}
		if (post_rx(&n.rx[i]) != 0) {
			set_err("cannot post rx buffers");
			return 1;
		}
	}
	for (unsigned i = 0; i < n.ntx; i++) {
		n.tx[i].cap = (uint32_t)(n.hdr_len + o.size);
		n.tx[i].q = 2 * (i / o.qsize) + 1;
		n.tx[i].p = vtio_vhost_fe_alloc(fe, n.tx[i].cap, 64);
		if (n.tx[i].p == NULL) {
			set_err("shared memory exhausted");
			return 1;
		}
	}
	for (unsigned q = 0; q < nq; q += 2)
		vtio_vhost_fe_kick(fe, q);
	ready();
	unsigned tx_cursor[16] = {0};
	for (;;) {
		bool sent_all = !do_send || n.tx_done == o.count;
		bool recv_all = !do_recv || n.received == o.count;
		if ((sent_all && recv_all) || errtext[0])
			break;
		if (left_ms() == 0) {
			set_err("timed out: sent %llu (completed %llu), received %llu of %llu",
				(unsigned long long)n.sent, (unsigned long long)n.tx_done,
				(unsigned long long)n.received, (unsigned long long)o.count);
			break;
		}
		/* Frame k goes to pair k % queues, into a free slot of that pair. */
		bool kicked[2 * VTIO_VHOST_USER_MAX_QUEUES] = {false};
		while (do_send && n.sent < o.count) {
			unsigned pair = (unsigned)(n.sent % o.queues);
			struct netbuf *b = NULL;
			for (unsigned t = 0; t < o.qsize && b == NULL; t++) {
				struct netbuf *c =
				    &n.tx[pair * o.qsize + (tx_cursor[pair] + t) % o.qsize];
				if (!c->busy)
					b = c;
			}
			if (b == NULL)
				break;
			tx_cursor[pair] = (unsigned)((b - n.tx) % o.qsize + 1) % o.qsize;
			memset(b->p, 0, n.hdr_len);
			gen_frame(b->p + n.hdr_len, n.sent, (uint32_t)o.size);
			struct vtio_sg sg[2] = {vtio_sg_of(b->p, n.hdr_len),
						vtio_sg_of(b->p + n.hdr_len, (uint32_t)o.size)};
			int err = vtio_vq_add(vtio_vhost_fe_vq(fe, b->q), sg, 2, 0, b);
			if (err == VTIO_ENOSPC)
				break;
			if (err != 0) {
				set_err("tx add failed: %s", vtio_strerror(err));
				break;
			}
			b->busy = true;
			kicked[b->q] = true;
			n.sent++;
			n.bytes_sent += o.size;
		}
		for (unsigned q = 1; q < nq; q += 2)
			if (kicked[q])
				vtio_vhost_fe_kick(fe, q);
		for (unsigned q = 0; q < nq; q += 2)
			vtio_vhost_fe_kick(fe, q); /* re-posted rx buffers */
		int ms = left_ms();
		if (vtio_vhost_fe_poll(fe, ms < 50 ? ms : 50) != 0) {
			set_err("the back end went away");
			break;
		}
		if (vtio_prog_stop) {
			set_err("interrupted");
			break;
		}
	}
	return errtext[0] || n.mismatches ? 1 : 0;
}

/* ---- blk ------------------------------------------------------------------------- */

struct blkreq {
	unsigned char *hdr; /* 16 bytes */
	unsigned char *data;
	unsigned char *status;
	uint32_t data_len;
	bool done;
	int err;
	uint32_t len;
	unsigned q;
};

static struct {
	struct blkreq *r;
	unsigned nr;
	uint64_t submitted, completed, written, read, flushes, errors;
	char serial[VTIO_BLK_ID_BYTES + 1];
} b;

static unsigned char pattern_byte(uint64_t o_)
{
	return (unsigned char)((o_ >> 9) * 131u + (o_ & 511u) + o.seed);
}

static void blk_complete(void *ctx, unsigned qi, void *token, uint32_t len, int status)
{
	struct blkreq *r = token;
	(void)ctx;
	(void)qi;
	if (status != 0 && !closing) {
		if (r->done)
			inflight_failed_twice++;
		else
			inflight_failed++;
	}
	r->done = true;
	r->err = status;
	r->len = len;
	b.completed++;
}

static void put_hdr(struct blkreq *r, uint32_t type, uint64_t sector)
{
	memset(r->hdr, 0, 16);
	memcpy(r->hdr, &type, 4);
	memcpy(r->hdr + 8, &sector, 8);
	*r->status = 0xee;
}

static int submit(struct blkreq *r, uint32_t type, uint64_t sector, uint32_t dlen)
{
	struct vtio_sg sg[3];
	unsigned out = 1, in = 0;
	put_hdr(r, type, sector);
	sg[0] = vtio_sg_of(r->hdr, 16);
	if (dlen > 0) {
		sg[1] = vtio_sg_of(r->data, dlen);
		if (type == VTIO_BLK_T_OUT)
			out++;
		else
			in++;
	}
	sg[out + in] = vtio_sg_of(r->status, 1);
	in++;
	r->done = false;
	r->data_len = dlen;
	int err = vtio_vq_add(vtio_vhost_fe_vq(fe, r->q), sg, out, in, r);
	if (err == 0) {
		b.submitted++;
		vtio_vhost_fe_kick(fe, r->q);
	}
	return err;
}

static bool wait_req(struct blkreq *r)
{
	while (!r->done) {
		if (left_ms() == 0) {
			set_err("timed out waiting for a request");
			return false;
		}
		if (vtio_vhost_fe_poll(fe, 50) != 0 && !r->done) {
			set_err("the back end went away");
			return false;
		}
		if (vtio_prog_stop) {
			set_err("interrupted");
			return false;
		}
	}
	if (r->err != 0) {
		set_err("the back end went away: request failed back (%s)", vtio_strerror(r->err));
		return false;
	}
	if (*r->status != VTIO_BLK_S_OK) {
		b.errors++;
		set_err("request answered with status %u", *r->status);
		return false;
	}
	return true;
}

/* Wait for slot @r holding request @j; compare what it read. */
static bool finish(struct blkreq *r, uint64_t j, bool write)
{
	if (!wait_req(r))
		return false;
	if (write) {
		b.written++;
		return true;
	}
	uint64_t spr = o.size / 512, base = (o.sector + j * spr) * 512;
	for (uint32_t i = 0; i < o.size; i++) {
		if (r->data[i] != pattern_byte(base + i)) {
			set_err("sector %llu: byte %u differs from the pattern",
				(unsigned long long)(o.sector + j * spr + i / 512), i % 512);
			return false;
		}
	}
	b.read++;
	return true;
}

/* Write (or read and compare) requests 0..count-1, the slots in rotation. */
static bool blk_phase(bool write)
{
	uint64_t spr = o.size / 512;
	uint64_t *owner = malloc(sizeof(uint64_t) * b.nr);
	bool ok = owner != NULL;
	for (unsigned i = 0; ok && i < b.nr; i++)
		owner[i] = UINT64_MAX;
	for (uint64_t j = 0; ok && j < o.count; j++) {
		unsigned s = (unsigned)(j % b.nr);
		struct blkreq *r = &b.r[s];
		if (owner[s] != UINT64_MAX && !(ok = finish(r, owner[s], write)))
			break;
		uint64_t sector = o.sector + j * spr;
		if (write)
			for (uint32_t i = 0; i < o.size; i++)
				r->data[i] = pattern_byte(sector * 512 + i);
		int err =
		    submit(r, write ? VTIO_BLK_T_OUT : VTIO_BLK_T_IN, sector, (uint32_t)o.size);
		if (err != 0) {
			set_err("add failed: %s", vtio_strerror(err));
			ok = false;
			break;
		}
		owner[s] = j;
	}
	for (unsigned s = 0; ok && s < b.nr; s++)
		if (owner[s] != UINT64_MAX)
			ok = finish(&b.r[s], owner[s], write);
	free(owner);
	return ok;
}

static int run_blk(void)
{
	if (o.size == 0 || o.size % 512 != 0) {
		set_err("--size must be a multiple of 512 for blk");
		return 1;
	}
	unsigned char cfg[24];
	int err = vtio_vhost_fe_get_config(fe, 0, cfg, sizeof(cfg));
	if (err == 0) {
		uint64_t cap = 0;
		for (int i = 7; i >= 0; i--)
			cap = cap << 8 | cfg[i];
		if (o.sector + o.count * (o.size / 512) > cap) {
			set_err("image of %llu sectors is too small for the requests",
				(unsigned long long)cap);
			return 1;
		}
	} else if (err != VTIO_ENOTSUP) {
		set_err("GET_CONFIG failed: %s", vtio_strerror(err));
		return 1;
	}
	unsigned per_q = o.qsize / 3 < 32 ? (o.qsize / 3 ? o.qsize / 3 : 1) : 32;
	b.nr = per_q * o.queues;
	b.r = calloc(b.nr, sizeof(*b.r));
	if (b.r == NULL) {
		set_err("out of memory");
		return 1;
	}
	for (unsigned i = 0; i < b.nr; i++) {
		b.r[i].q = i % o.queues;
		b.r[i].hdr = vtio_vhost_fe_alloc(fe, 16, 16);
		b.r[i].data = vtio_vhost_fe_alloc(fe, o.size, 512);
		b.r[i].status = vtio_vhost_fe_alloc(fe, 1, 1);
		if (!b.r[i].hdr || !b.r[i].data || !b.r[i].status) {
			set_err("shared memory exhausted (lower --size or --queue-size)");
			return 1;
		}
	}
	ready();
	bool wr = strcmp(o.blk_mode, "verify") != 0;
	bool rd = strcmp(o.blk_mode, "write") != 0;
	if (wr) {
		if (!blk_phase(true))
			return 1;
		struct blkreq *r = &b.r[0];
		if ((err = submit(r, VTIO_BLK_T_FLUSH, 0, 0)) != 0 || !wait_req(r)) {
			set_err("flush failed");
			return 1;
		}
		b.flushes++;
	}
	if (wr && rd) {
		struct blkreq *r = &b.r[0];
		if (o.size >= VTIO_BLK_ID_BYTES) {
			memset(r->data, 0, VTIO_BLK_ID_BYTES);
			if ((err = submit(r, VTIO_BLK_T_GET_ID, 0, VTIO_BLK_ID_BYTES)) != 0 ||
			    !wait_req(r)) {
				set_err("GET_ID failed");
				return 1;
			}
			memcpy(b.serial, r->data, VTIO_BLK_ID_BYTES);
			for (unsigned i = 0; i < VTIO_BLK_ID_BYTES; i++)
				if ((unsigned char)b.serial[i] < 0x20 ||
				    (unsigned char)b.serial[i] > 0x7e)
					b.serial[i] = b.serial[i] ? '?' : '\0';
		}
	}
	if (rd && !blk_phase(false))
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	o.count = 64;
	o.qsize = 256;
	o.queues = 1;
	o.timeout_ms = 10000;
	o.net_role = "both";
	o.blk_mode = "rw";
	bool size_set = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--socket"))
			o.sock = vtio_prog_arg(PROG, argc, argv, &i);
		else if (!strcmp(a, "--type"))
			o.type = vtio_prog_arg(PROG, argc, argv, &i);
		else if (!strcmp(a, "--packed"))
			o.packed = true;
		else if (!strcmp(a, "--count"))
			o.count = vtio_prog_num(PROG, a, vtio_prog_arg(PROG, argc, argv, &i), 0,
						1u << 31);
		else if (!strcmp(a, "--size")) {
			o.size = vtio_prog_num(PROG, a, vtio_prog_arg(PROG, argc, argv, &i), 1,
					       1u << 20);
			size_set = true;
		} else if (!strcmp(a, "--queue-size"))
			o.qsize = (uint32_t)vtio_prog_num(
			    PROG, a, vtio_prog_arg(PROG, argc, argv, &i), 1, 32768);
		else if (!strcmp(a, "--queues"))
			o.queues = (unsigned)vtio_prog_num(
			    PROG, a, vtio_prog_arg(PROG, argc, argv, &i), 1, 16);
		else if (!strcmp(a, "--timeout-ms"))
			o.timeout_ms = (int)vtio_prog_num(
			    PROG, a, vtio_prog_arg(PROG, argc, argv, &i), 1, 3600000);
		else if (!strcmp(a, "--seed"))
			o.seed = (unsigned)vtio_prog_num(
			    PROG, a, vtio_prog_arg(PROG, argc, argv, &i), 0, 255);
		else if (!strcmp(a, "--net-role"))
			o.net_role = vtio_prog_arg(PROG, argc, argv, &i);
		else if (!strcmp(a, "--ready-file"))
			o.ready = vtio_prog_arg(PROG, argc, argv, &i);
		else if (!strcmp(a, "--blk-mode"))
			o.blk_mode = vtio_prog_arg(PROG, argc, argv, &i);
		else if (!strcmp(a, "--sector"))
			o.sector = vtio_prog_num(PROG, a, vtio_prog_arg(PROG, argc, argv, &i), 0,
						 1ull << 40);
		else if (!strcmp(a, "--no-event-idx"))
			o.no_event_idx = true;
		else if (!strcmp(a, "--no-indirect"))
			o.no_indirect = true;
		else {
			fprintf(stderr, PROG ": unknown option '%s' (see --help)\n", a);
			return 2;
		}
	}
	if (o.sock == NULL || o.type == NULL) {
		fprintf(stderr, PROG ": --socket and --type are required (see --help)\n");
		return 2;
	}
	bool net = !strcmp(o.type, "net");
	if (!net && strcmp(o.type, "blk") != 0) {
		fprintf(stderr, PROG ": --type must be net or blk\n");
		return 2;
	}
	if (strcmp(o.net_role, "both") && strcmp(o.net_role, "send") &&
	    strcmp(o.net_role, "recv")) {
		fprintf(stderr, PROG ": --net-role must be both, send or recv\n");
		return 2;
	}
	if (strcmp(o.blk_mode, "rw") && strcmp(o.blk_mode, "write") &&
	    strcmp(o.blk_mode, "verify")) {
		fprintf(stderr, PROG ": --blk-mode must be rw, write or verify\n");
		return 2;
	}
	if (!size_set)
		o.size = net ? 256 : 4096;
	if (net && (o.size < 60 || o.size > 9000)) {
		fprintf(stderr, PROG ": --size for net must be in 60..9000\n");
		return 2;
	}
	if (!o.packed && (o.qsize & (o.qsize - 1)) != 0) {
		fprintf(stderr, PROG ": --queue-size must be a power of 2 for the split ring\n");
		return 2;
	}
	vtio_prog_signals();
	deadline_ns = now_ns() + (uint64_t)o.timeout_ms * 1000000ull;

	struct vtio_vhost_fe_config c;
	memset(&c, 0, sizeof(c));
	c.path = o.sock;
	c.fd = -1;
	c.connect_timeout_ms = o.timeout_ms;
	c.reply_timeout_ms = o.timeout_ms;
	c.packed = o.packed;
	c.required = VTIO_FEATURE(VTIO_F_VERSION_1);
	c.features = VTIO_FEATURE(VTIO_F_VERSION_1);
	if (!o.no_event_idx)
		c.features |= VTIO_FEATURE(VTIO_F_EVENT_IDX);
	if (!o.no_indirect) {
		c.features |= VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
		c.indirect_tables = o.qsize;
		c.indirect_max = 4;
	}
	if (net) {
		c.features |= VTIO_FEATURE(VTIO_NET_F_MRG_RXBUF);
		if (o.queues > 1)
			c.features |= VTIO_FEATURE(VTIO_NET_F_MQ);
		c.num_queues = 2 * o.queues;
		uint64_t per = (uint64_t)o.qsize * 2 * (o.size + 64 + 2048);
		c.mem_size = (size_t)(o.queues * per +
				      (uint64_t)o.queues * 2 * (o.qsize * 64 + 65536) + (1u << 20));
		c.complete = net_complete;
	} else {
		c.features |= VTIO_FEATURE(VTIO_BLK_F_SEG_MAX) | VTIO_FEATURE(VTIO_BLK_F_BLK_SIZE) |
			      VTIO_FEATURE(VTIO_BLK_F_FLUSH);
		if (o.queues > 1)
			c.features |= VTIO_FEATURE(VTIO_BLK_F_MQ);
		c.num_queues = o.queues;
		c.mem_size =
		    (size_t)(o.queues * (32 * (o.size + 1024) + o.qsize * 64 + 65536) + (1u << 20));
		c.complete = blk_complete;
	}
	c.queue_size = o.qsize;
	char cerr[160] = "";
	c.errbuf = cerr;
	c.errbuf_len = sizeof(cerr);
	int rc = 1;
	int err = vtio_vhost_fe_connect(&fe, &c);
	if (err != 0) {
		set_err("cannot set up the front end on %s: %s", o.sock, cerr);
		fe = NULL;
	} else {
		rc = net ? run_net() : run_blk();
	}
	if (errtext[0])
		rc = 1;
	uint64_t feat = fe ? vtio_vhost_fe_features(fe) : 0;
	closing = true;
	if (fe != NULL)
		vtio_vhost_fe_close(fe);
	printf("{\"program\":\"" PROG "\",\"type\":\"%s\",\"layout\":\"%s\",\"ok\":%s,"
	       "\"features\":\"0x%llx\",",
	       net ? "net" : "blk", o.packed ? "packed" : "split", rc == 0 ? "true" : "false",
	       (unsigned long long)feat);
	if (net)
		printf("\"sent\":%llu,\"received\":%llu,\"mismatches\":%llu,\"bytes_sent\":%llu,"
		       "\"bytes_received\":%llu,",
		       (unsigned long long)n.sent, (unsigned long long)n.received,
		       (unsigned long long)n.mismatches, (unsigned long long)n.bytes_sent,
		       (unsigned long long)n.bytes_received);
	else {
		printf("\"sent\":%llu,\"received\":%llu,\"written\":%llu,\"read\":%llu,"
		       "\"flushes\":%llu,\"serial\":",
		       (unsigned long long)b.submitted, (unsigned long long)b.completed,
		       (unsigned long long)b.written, (unsigned long long)b.read,
		       (unsigned long long)b.flushes);
		json_str(b.serial);
		putchar(',');
	}
	printf("\"inflight_failed\":%llu,\"inflight_failed_twice\":%llu,",
	       (unsigned long long)inflight_failed, (unsigned long long)inflight_failed_twice);
	printf("\"error\":");
	if (errtext[0])
		json_str(errtext);
	else
		printf("null");
	printf("}\n");
	fflush(stdout);
	if (errtext[0])
		fprintf(stderr, PROG ": %s\n", errtext);
	return rc;
}
