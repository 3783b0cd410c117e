/*
 * vtio-vhost-net: a vhost-user virtio-net back end. Echo mode returns every
 * frame a front end transmits on its own rx queue; bridge mode passes
 * frames between the front ends of two sockets. A frame waits (tx is not
 * taken further) while the receiving rx queue is live but has no room; it
 * is dropped when that queue is not live. See docs/vhost-user.md.
 */
#include "vhost_prog.h"

#include <poll.h>
#include <unistd.h>

#include "vtio/vhost_user.h"

#define PROG	  "vtio-vhost-net"
#define MAX_PAIRS 16u
#define HOLD	  64u /* rx chains one frame may take (MRG_RXBUF) */
#define HOLD_IOV  64u

struct rxhold {
	struct vtio_devq_chain c[HOLD];
	struct vtio_iov rd[HOLD][4];
	struct vtio_iov wr[HOLD][HOLD_IOV];
	unsigned n;
	uint64_t cap;
};

struct pending {
	unsigned char buf[VTIO_NET_HDR_LEN + VTIO_NET_MAX_FRAME];
	uint32_t len; /* frame bytes (without header) */
	bool have;
};

struct port {
	const char *path;
	struct vtio_vhost_be *be;
	struct port *peer; /* where this port's tx frames go (itself in echo mode) */
	unsigned pairs;
	bool mq;
	bool mrg;
	uint32_t hdr_len;
	bool seen;
	struct pending pend[MAX_PAIRS];
	struct rxhold *hold[MAX_PAIRS];
	struct vtio_iov txrd[1024 + VTIO_DEVQ_DEFAULT_MAX_INDIRECT];
	struct vtio_iov txwr[16];
	uint64_t in_frames, in_bytes, out_frames, out_bytes, dropped;
};

static struct port ports[2];
static unsigned nports;
static const char *mode;
static bool drop_when_full; /* --drop-when-full: no back-pressure */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --mode echo --socket PATH [--queue-pairs N] [options]\n"
		"       " PROG " --mode bridge --socket A --socket B [options]\n"
		"  vhost-user virtio-net back end.\n"
		"  --mode echo       frames a front end sends come back on its rx queue\n"
		"  --mode bridge     frames pass between the front ends of the two sockets\n"
		"  --socket PATH     UNIX socket to listen on (twice for bridge)\n"
		"  --queue-pairs N   queue pairs offered in echo mode (default 1)\n"
		"  --no-packed       do not offer VIRTIO_F_RING_PACKED\n"
		"  --drop-when-full  drop a frame when the rx queue has no room (default: wait)\n"
		"  --once            exit once the front end(s) connected and went away\n"
		"  --help            this text\n"
		"Prints one JSON line of counters on SIGUSR1 and at exit (SIGINT/SIGTERM).\n");
}

static void print_stats(const char *event)
{
	printf("{\"program\":\"" PROG "\",\"event\":\"%s\",\"mode\":\"%s\",\"ports\":[", event,
	       mode);
	for (unsigned i = 0; i < nports; i++) {
		const struct port *p = &ports[i];
		struct vtio_vhost_be_stats s;
		vtio_vhost_be_get_stats(p->be, &s);
		printf("%s{\"socket\":\"%s\",\"connections\":%llu,\"in_frames\":%llu,"
		       "\"in_bytes\":%llu,\"out_frames\":%llu,\"out_bytes\":%llu,\"dropped\":%llu,"
		       "\"protocol_errors\":%llu,\"features\":\"0x%llx\","
		       "\"protocol_features\":\"0x%llx\"",
		       i ? "," : "", p->path, (unsigned long long)s.connections,
		       (unsigned long long)p->in_frames, (unsigned long long)p->in_bytes,
		       (unsigned long long)p->out_frames, (unsigned long long)p->out_bytes,
		       (unsigned long long)p->dropped, (unsigned long long)s.protocol_errors,
		       (unsigned long long)s.last_features,
		       (unsigned long long)s.last_protocol_features);
		vtio_prog_print_queues(p->be);
		printf("}");
	}
	printf("]}\n");
	fflush(stdout);
}

static void hold_clear(struct rxhold *h)
{
	h->n = 0;
	h->cap = 0;
}

/* Pop one rx chain into the hold; false when none is available now. */
static bool hold_pop(struct rxhold *h, struct vtio_devq *rxq, bool *fatal)
{
	for (;;) {
		struct vtio_devq_chain *c = &h->c[h->n];
		memset(c, 0, sizeof(*c));
		c->rd = h->rd[h->n];
		c->rd_max = 4;
		c->wr = h->wr[h->n];
		c->wr_max = HOLD_IOV;
		int err = vtio_devq_pop(rxq, c);
		if (err == VTIO_EAGAIN) {
			/* Ask for the rx kick, then look once more (a buffer may have
			 * come in between). */
			if (vtio_devq_enable_notify(rxq))
				return false;
			continue;
		}
		if (err != 0) {
			*fatal = true;
			return false;
		}
		if (c->wr_len == 0) {
			vtio_devq_push(rxq, c, 0); /* nothing to write into: give it back */
			continue;
		}
		h->cap += c->wr_len;
		h->n++;
		return true;
	}
}

/* Deliver the pending frame of @src pair @k. @return false while it waits. */
static bool deliver(struct port *src, unsigned k)
{
	struct pending *pd = &src->pend[k];
	if (!pd->have)
		return true;
	struct port *dst = src->peer;
	struct vtio_devq *rxq = vtio_vhost_be_queue(dst->be, 2 * k);
	struct rxhold *h = dst->hold[k];
	if (rxq == NULL || h == NULL) {
		src->dropped++;
		pd->have = false;
		return true;
	}
	uint32_t hl = dst->hdr_len;
	uint64_t need = hl + pd->len;
	bool fatal = false;
	while (h->cap < need && (dst->mrg || h->n == 0)) {
		if (h->n == HOLD || !hold_pop(h, rxq, &fatal)) {
			if (!fatal && h->n < HOLD && !drop_when_full)
				return false; /* wait for rx buffers */
			break;
		}
	}
	if (h->cap < need) {
		/* Does not fit (no MRG_RXBUF and a short buffer, or too many pieces). */
		for (unsigned i = 0; i < h->n; i++)
			vtio_devq_push(rxq, &h->c[i], 0);
		hold_clear(h);
		src->dropped++;
		pd->have = false;
		return true;
	}
	/* virtio_net_hdr: all zero, num_buffers (when present) = chains used. */
	unsigned char *frame = pd->buf + VTIO_NET_HDR_LEN - hl;
	memset(frame, 0, hl);
	if (hl == VTIO_NET_HDR_LEN) {
		frame[10] = (unsigned char)h->n;
		frame[11] = (unsigned char)(h->n >> 8);
	}
	struct vtio_devq_done used[HOLD];
	uint64_t off = 0;
	for (unsigned i = 0; i < h->n; i++) {
		uint64_t n = need - off < h->c[i].wr_len ? need - off : h->c[i].wr_len;
		if (vtio_devq_write(rxq, &h->c[i], 0, frame + off, (size_t)n) != (int64_t)n)
			n = 0;
		used[i].h = vtio_devq_handle_of(&h->c[i]);
		used[i].len = (uint32_t)n;
		off += n;
	}
	vtio_devq_push_batch(rxq, used, h->n);
	hold_clear(h);
	dst->out_frames++;
	dst->out_bytes += pd->len;
	pd->have = false;
	return true;
}

static bool process_tx(struct port *p, unsigned k, struct vtio_devq *txq)
{
	bool drained = true;
	for (;;) {
		if (!deliver(p, k)) {
			drained = false;
			break;
		}
		struct vtio_devq_chain c;
		memset(&c, 0, sizeof(c));
		c.rd = p->txrd;
		c.rd_max = (unsigned)(sizeof(p->txrd) / sizeof(p->txrd[0]));
		c.wr = p->txwr;
		c.wr_max = 16;
		int err = vtio_devq_pop(txq, &c);
		if (err != 0)
			break; /* empty, or broken (the back end logs nothing more) */
		struct pending *pd = &p->pend[k];
		if (c.rd_len < p->hdr_len || c.rd_len - p->hdr_len > VTIO_NET_MAX_FRAME) {
			p->dropped++;
		} else {
			pd->len = (uint32_t)(c.rd_len - p->hdr_len);
			if (vtio_devq_read(txq, &c, p->hdr_len, pd->buf + VTIO_NET_HDR_LEN,
					   pd->len) == (int64_t)pd->len) {
				pd->have = true;
				p->in_frames++;
				p->in_bytes += pd->len;
			} else {
				p->dropped++;
			}
		}
		vtio_devq_push(txq, &c, 0);
	}
	vtio_vhost_be_flush(p->peer->be);
	return drained;
}

static void ctrl_work(struct vtio_devq *q)
{
	static struct vtio_iov rd[64], wr[64];
	for (;;) {
		struct vtio_devq_chain c;
		memset(&c, 0, sizeof(c));
		c.rd = rd;
		c.rd_max = 64;
		c.wr = wr;
		c.wr_max = 64;
		if (vtio_devq_pop(q, &c) != 0)
			return;
		/* Every command (MQ pairs, rx mode, MAC filters) is accepted: OK = 0. */
		uint8_t ok = 0;
		uint32_t len = 0;
		if (c.wr_len >= 1 && vtio_devq_write(q, &c, c.wr_len - 1, &ok, 1) == 1)
			len = (uint32_t)c.wr_len;
		vtio_devq_push(q, &c, len);
	}
}

static struct port *port_of(struct vtio_vhost_be *be)
{
	return ports[0].be == be || nports == 1 ? &ports[0] : &ports[1];
}

static bool net_work(void *ctx, struct vtio_vhost_be *be, unsigned qi, struct vtio_devq *q)
{
	struct port *p = port_of(be);
	(void)ctx;
	unsigned k = qi / 2;
	if (p->mq && qi == 2 * p->pairs) {
		ctrl_work(q);
		return true;
	}
	if (qi & 1u)
		return process_tx(p, k, q);
	/* rx buffers came: let the sender towards this queue continue. */
	for (unsigned i = 0; i < nports; i++) {
		struct port *src = &ports[i];
		if (src->peer == p && vtio_vhost_be_queue(src->be, 2 * k + 1) != NULL)
			vtio_vhost_be_wake(src->be, 2 * k + 1);
		else if (src->peer == p && src->pend[k].have)
			deliver(src, k);
	}
	vtio_vhost_be_flush(p->be);
	return false; /* rx chains are taken only when a frame needs them */
}

static void net_state(void *ctx, struct vtio_vhost_be *be, unsigned qi, bool live)
{
	struct port *p = port_of(be);
	(void)ctx;
	uint64_t f = vtio_vhost_be_features(be);
	p->mrg = (f & VTIO_FEATURE(VTIO_NET_F_MRG_RXBUF)) != 0;
	p->hdr_len = (f & VTIO_FEATURE(VTIO_F_VERSION_1)) || p->mrg ? VTIO_NET_HDR_LEN
								    : VTIO_NET_HDR_LEN_LEGACY;
	if ((qi & 1u) == 0 && qi / 2 < p->pairs && p->hold[qi / 2] != NULL)
		hold_clear(p->hold[qi / 2]); /* chains of a stopped queue are gone */
	if (!live && (qi & 1u) && qi / 2 < p->pairs)
		p->pend[qi / 2].have = false;
}

static void net_conn(void *ctx, struct vtio_vhost_be *be, bool up)
{
	struct port *p = port_of(be);
	(void)ctx;
	if (up) {
		p->seen = true;
		return;
	}
	/* Senders blocked on this port's rx queues now drop instead of waiting. */
	for (unsigned i = 0; i < nports; i++) {
		struct port *src = &ports[i];
		if (src->peer != p || src == p)
			continue;
		for (unsigned k = 0; k < src->pairs; k++)
			if (src->pend[k].have && vtio_vhost_be_wake(src->be, 2 * k + 1) != 0)
				deliver(src, k);
	}
}

int main(int argc, char **argv)
{
	const char *socks[3] = {NULL, NULL, NULL};
	unsigned nsock = 0, pairs = 1;
	bool packed = true, once = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--mode"))
			mode = vtio_prog_arg(PROG, argc, argv, &i);
		else if (!strcmp(a, "--socket")) {
			const char *s = vtio_prog_arg(PROG, argc, argv, &i);
			if (nsock == 2) {
				fprintf(stderr, PROG ": at most two --socket\n");
				return 2;
			}
			socks[nsock++] = s;
		} else if (!strcmp(a, "--queue-pairs"))
			pairs = (unsigned)vtio_prog_num(
			    PROG, a, vtio_prog_arg(PROG, argc, argv, &i), 1, MAX_PAIRS);
		else if (!strcmp(a, "--no-packed"))
			packed = false;
		else if (!strcmp(a, "--once"))
			once = true;
		else if (!strcmp(a, "--drop-when-full"))
			drop_when_full = true;
		else {
			fprintf(stderr, PROG ": unknown option '%s' (see --help)\n", a);
			return 2;
		}
	}
	if (mode == NULL || (strcmp(mode, "echo") != 0 && strcmp(mode, "bridge") != 0)) {
		fprintf(stderr, PROG ": --mode echo or --mode bridge is required (see --help)\n");
		return 2;
	}
	bool bridge = !strcmp(mode, "bridge");
	if (nsock != (bridge ? 2u : 1u)) {
		fprintf(stderr, PROG ": --mode %s needs %s --socket\n", mode,
			bridge ? "exactly two" : "exactly one");
		return 2;
	}
	if (bridge && pairs != 1) {
		fprintf(stderr, PROG ": --queue-pairs applies to echo mode only\n");
		return 2;
	}
	static const struct vtio_vhost_be_ops ops = {
	    .queue_work = net_work,
	    .queue_state = net_state,
	    .connection = net_conn,
	};
	nports = nsock;
	for (unsigned i = 0; i < nsock; i++) {
		struct port *p = &ports[i];
		p->path = socks[i];
		p->pairs = pairs;
		p->mq = pairs > 1;
		p->peer = bridge ? &ports[1 - i] : p;
		p->hdr_len = VTIO_NET_HDR_LEN;
		for (unsigned k = 0; k < pairs; k++) {
			p->hold[k] = calloc(1, sizeof(struct rxhold));
			if (p->hold[k] == NULL) {
				fprintf(stderr, PROG ": out of memory\n");
				return 1;
			}
		}
		struct vtio_vhost_be_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.path = p->path;
		cfg.features = VTIO_FEATURE(VTIO_F_VERSION_1) | VTIO_FEATURE(VTIO_F_EVENT_IDX) |
			       VTIO_FEATURE(VTIO_F_INDIRECT_DESC) |
			       VTIO_FEATURE(VTIO_NET_F_MRG_RXBUF);
		if (packed)
			cfg.features |= VTIO_FEATURE(VTIO_F_RING_PACKED);
		if (p->mq)
			cfg.features |=
			    VTIO_FEATURE(VTIO_NET_F_MQ) | VTIO_FEATURE(VTIO_NET_F_CTRL_VQ);
		cfg.protocol_features = (1ull << VTIO_VHOST_USER_PROTOCOL_F_MQ) |
					(1ull << VTIO_VHOST_USER_PROTOCOL_F_REPLY_ACK) |
					(1ull << VTIO_VHOST_USER_PROTOCOL_F_STATUS);
		cfg.num_queues = 2 * pairs + (p->mq ? 1u : 0u);
		cfg.max_queue_size = 32768;
		cfg.ops = &ops;
		cfg.log_prefix = PROG;
		int err = vtio_vhost_be_create(&p->be, &cfg);
		if (err != 0) {
			fprintf(stderr, PROG ": cannot listen on '%s': %s\n", p->path,
				err == VTIO_EIO ? strerror(errno) : vtio_strerror(err));
			return 1;
		}
		fprintf(stderr, PROG ": listening on %s\n", p->path);
	}
	vtio_prog_signals();
	while (!vtio_prog_stop) {
		struct pollfd pf[2];
		for (unsigned i = 0; i < nports; i++) {
			pf[i].fd = vtio_vhost_be_fd(ports[i].be);
			pf[i].events = POLLIN;
			pf[i].revents = 0;
		}
		int r = poll(pf, nports, 20);
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, PROG ": poll failed: %s\n", strerror(errno));
			break;
		}
		for (unsigned i = 0; i < nports; i++)
			vtio_vhost_be_run(ports[i].be, 0);
		if (vtio_prog_stats) {
			vtio_prog_stats = 0;
			print_stats("stats");
		}
		if (once) {
			bool all_seen = true, any_up = false;
			for (unsigned i = 0; i < nports; i++) {
				all_seen = all_seen && ports[i].seen;
				any_up = any_up || vtio_vhost_be_connected(ports[i].be);
			}
			if (all_seen && !any_up)
				break;
		}
	}
	print_stats("exit");
	for (unsigned i = 0; i < nports; i++) {
		vtio_vhost_be_destroy(ports[i].be);
		for (unsigned k = 0; k < pairs; k++)
			free(ports[i].hold[k]);
	}
	return 0;
}
