/*
 * vhost-user front end (driver role): shares memfd memory, negotiates and
 * drives every ring through vtio_vq. Descriptor addresses are guest
 * addresses = CPU address + a fixed offset (a linear direct DMA layer), so
 * the back end's translation of ring addresses (front-end virtual, through
 * userspace_addr) and of buffers (guest physical) differ and both are used.
 */
#define _GNU_SOURCE
#include "vtio/vhost_user.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vtio/dma.h"
#include "vtio/dma_layers.h"
#include "vhost_internal.h"

/* Guest address of the first byte of shared memory. */
#define FE_GPA_BASE 0x40000000ull

struct fe_queue {
	struct vtio_vq *vq;
	int kick_fd, call_fd;
};

struct vtio_vhost_fe {
	struct vtio_vhost_fe_config cfg;
	int sock;
	bool dead;
	bool failed_back; /* in-flight buffers were completed with an error */
	uint64_t features;
	uint64_t protocol;
	unsigned char *mem; /* one reservation, mem_regions memfds mapped into it */
	size_t mem_size;
	size_t region_size;
	int memfd[2];
	size_t used; /* bump allocator */
	struct vtio_dma_direct direct;
	struct vtio_dma_dev dma;
	struct fe_queue q[VTIO_VHOST_USER_MAX_QUEUES];
	char err[160];
};

static int kick_cb(void *ctx, uint32_t data)
{
	struct fe_queue *q = ctx;
	uint64_t one = 1;
	(void)data;
	ssize_t r;
	do {
		r = write(q->kick_fd, &one, sizeof(one));
	} while (r < 0 && errno == EINTR);
	return r == (ssize_t)sizeof(one) ? 0 : VTIO_EIO;
}

static int send_msg(struct vtio_vhost_fe *fe, uint32_t req, bool ack, const void *p, uint32_t size,
		    const int *fds, unsigned nfds)
{
	uint32_t flags = VTIO_VHOST_USER_VERSION;
	bool want_ack = ack && (fe->protocol & (1ull << VTIO_VHOST_USER_PROTOCOL_F_REPLY_ACK));
	if (want_ack)
		flags |= VTIO_VHOST_USER_FLAG_NEED_REPLY;
	if (fe->dead)
		return VTIO_EIO;
	if (vtio__vhost_send(fe->sock, req, flags, p, size, fds, nfds) != 0) {
		fe->dead = true;
		return VTIO_EIO;
	}
	return want_ack ? 1 : 0;
}

static int wait_reply(struct vtio_vhost_fe *fe, uint32_t req, struct vtio__vhost_msg *m)
{
	int to = fe->cfg.reply_timeout_ms > 0 ? fe->cfg.reply_timeout_ms : 5000;
	int err = vtio__vhost_recv(fe->sock, m, to, fe->err, sizeof(fe->err));
	if (err == VTIO_ENOENT || err == VTIO_EIO) {
		fe->dead = true;
		return VTIO_EIO;
	}
	if (err != 0)
		return err;
	for (unsigned i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	if (m->req != req || !(m->flags & VTIO_VHOST_USER_FLAG_REPLY) ||
	    (m->flags & VTIO_VHOST_USER_VERSION_MASK) != VTIO_VHOST_USER_VERSION || m->nfds != 0)
		return VTIO_EPROTO;
	return 0;
}

/* A message without its own reply; waits for the REPLY_ACK when negotiated. */
static int set_msg(struct vtio_vhost_fe *fe, uint32_t req, const void *p, uint32_t size,
		   const int *fds, unsigned nfds)
{
	int r = send_msg(fe, req, true, p, size, fds, nfds);
	if (r <= 0)
		return r;
	struct vtio__vhost_msg m;
	int err = wait_reply(fe, req, &m);
	if (err != 0)
		return err;
	if (m.size != 8)
		return VTIO_EPROTO;
	return vtio__vhost_u64(&m) == 0 ? 0 : VTIO_EIO;
}

static int get_u64(struct vtio_vhost_fe *fe, uint32_t req, uint64_t *v)
{
	int err = send_msg(fe, req, false, NULL, 0, NULL, 0);
	if (err != 0)
		return err;
	struct vtio__vhost_msg m;
	if ((err = wait_reply(fe, req, &m)) != 0)
		return err;
	if (m.size != 8)
		return VTIO_EPROTO;
	*v = vtio__vhost_u64(&m);
	return 0;
}

static int set_u64(struct vtio_vhost_fe *fe, uint32_t req, uint64_t v)
{
	return set_msg(fe, req, &v, sizeof(v), NULL, 0);
}

static int set_state(struct vtio_vhost_fe *fe, uint32_t req, uint32_t idx, uint32_t num)
{
	uint32_t s[2] = {idx, num};
	return set_msg(fe, req, s, sizeof(s), NULL, 0);
}

static int connect_sock(const struct vtio_vhost_fe_config *cfg)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (cfg->path == NULL || strlen(cfg->path) >= sizeof(sa.sun_path))
		return VTIO_EINVAL;
	strcpy(sa.sun_path, cfg->path);
	int waited = 0;
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return VTIO_EIO;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		if (waited >= cfg->connect_timeout_ms)
			return VTIO_ETIMEDOUT;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
		waited += 10;
	}
}

static int setup_mem(struct vtio_vhost_fe *fe)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned nreg = fe->cfg.mem_regions == 0 ? 2u : fe->cfg.mem_regions;
	if (nreg > 2)
		return VTIO_EINVAL;
	size_t total = fe->cfg.mem_size == 0 ? (size_t)8 << 20 : fe->cfg.mem_size;
	size_t rs = (total / nreg + (size_t)pg - 1) & ~((size_t)pg - 1);
	fe->region_size = rs;
	fe->mem_size = rs * nreg;
	fe->mem = mmap(NULL, fe->mem_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fe->mem == MAP_FAILED) {
		fe->mem = NULL;
		return VTIO_ENOMEM;
	}
	for (unsigned i = 0; i < nreg; i++) {
		fe->memfd[i] = memfd_create("vtio-vhost-fe", MFD_CLOEXEC);
		if (fe->memfd[i] < 0 || ftruncate(fe->memfd[i], (off_t)rs) != 0)
			return VTIO_ENOMEM;
		if (mmap(fe->mem + i * rs, rs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 fe->memfd[i], 0) == MAP_FAILED)
			return VTIO_ENOMEM;
	}
	struct vtio_dma_direct_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.mode = VTIO_DMA_DIRECT_OFFSET;
	dc.offset = FE_GPA_BASE - (uint64_t)(uintptr_t)fe->mem;
	int err = vtio_dma_direct_init(&fe->direct, &dc);
	if (err != 0)
		return err;
	vtio_dma_dev_init(&fe->dma);
	if ((err = vtio_dma_dev_push(&fe->dma, &fe->direct.layer)) != 0)
		return err;
	return vtio_dma_dev_build(&fe->dma);
}

void *vtio_vhost_fe_alloc(struct vtio_vhost_fe *fe, size_t size, size_t align)
{
	if (align == 0 || (align & (align - 1)) != 0)
		return NULL;
	size_t at = (fe->used + align - 1) & ~(align - 1);
	if (at > fe->mem_size || size > fe->mem_size - at)
		return NULL;
	fe->used = at + size;
	return fe->mem + at;
}

static uint64_t gpa_of(const struct vtio_vhost_fe *fe, const void *p)
{
	return FE_GPA_BASE + (uint64_t)((const unsigned char *)p - fe->mem);
}

static int send_mem_table(struct vtio_vhost_fe *fe)
{
	unsigned nreg = fe->memfd[1] >= 0 ? 2u : 1u;
	unsigned char p[8 + 2 * 32];
	memset(p, 0, sizeof(p));
	uint32_t n = nreg;
	memcpy(p, &n, 4);
	for (unsigned i = 0; i < nreg; i++) {
		unsigned char *base = fe->mem + i * fe->region_size;
		uint64_t r[4] = {gpa_of(fe, base), fe->region_size, (uint64_t)(uintptr_t)base, 0};
		memcpy(p + 8 + i * 32, r, sizeof(r));
	}
	return set_msg(fe, VTIO_VHOST_USER_SET_MEM_TABLE, p, 8 + nreg * 32, fe->memfd, nreg);
}

static int setup_queue(struct vtio_vhost_fe *fe, unsigned qi)
{
	struct fe_queue *q = &fe->q[qi];
	bool packed = (fe->features & VTIO_FEATURE(VTIO_F_RING_PACKED)) != 0;
	enum vtio_layout layout = packed ? VTIO_LAYOUT_PACKED : VTIO_LAYOUT_SPLIT;
	uint32_t num = fe->cfg.queue_size;
	uint32_t itab =
	    (fe->features & VTIO_FEATURE(VTIO_F_INDIRECT_DESC)) ? fe->cfg.indirect_tables : 0;
	size_t rsz = vtio_vq_ring_size(layout, num, 4096);
	size_t ssz = vtio_vq_state_size(layout, num, itab, itab ? fe->cfg.indirect_max : 0);
	if (rsz == 0 || ssz == 0)
		return VTIO_EINVAL;
	void *ring = vtio_vhost_fe_alloc(fe, rsz, 4096);
	void *state = vtio_vhost_fe_alloc(fe, ssz, 64); /* shared: holds the indirect tables */
	if (ring == NULL || state == NULL)
		return VTIO_ENOMEM;
	struct vtio_vq_config c;
	memset(&c, 0, sizeof(c));
	c.layout = layout;
	c.index = (uint16_t)qi;
	c.num = num;
	c.features = fe->features;
	c.indirect_tables = itab;
	c.indirect_max = itab ? fe->cfg.indirect_max : 0;
	c.indirect_threshold = fe->cfg.indirect_threshold;
	c.notify = kick_cb;
	c.notify_ctx = q;
	c.dma = &fe->dma;
	c.flags = VTIO_VQ_F_MAP; /* guest address = CPU address + offset, tables too */
	int err = vtio_vq_areas_in(layout, num, 4096, ring, gpa_of(fe, ring), &c.areas);
	if (err == 0)
		err = vtio_vq_init(&q->vq, state, ssz, &c);
	if (err != 0)
		return err;
	q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->kick_fd < 0 || q->call_fd < 0)
		return VTIO_EIO;
	const struct vtio_vq_areas *a = &c.areas;
	if ((err = set_state(fe, VTIO_VHOST_USER_SET_VRING_NUM, qi, num)) != 0)
		return err;
	if ((err = set_state(fe, VTIO_VHOST_USER_SET_VRING_BASE, qi, packed ? 0x80008000u : 0)) !=
	    0)
		return err;
	uint32_t addr[10];
	uint64_t ua[4] = {(uint64_t)(uintptr_t)a->desc, (uint64_t)(uintptr_t)a->device,
			  (uint64_t)(uintptr_t)a->driver, 0};
	addr[0] = qi;
	addr[1] = 0;
	memcpy(&addr[2], ua, sizeof(ua));
	if ((err = set_msg(fe, VTIO_VHOST_USER_SET_VRING_ADDR, addr, 40, NULL, 0)) != 0)
		return err;
	uint64_t v = qi;
	if ((err = set_msg(fe, VTIO_VHOST_USER_SET_VRING_CALL, &v, 8, &q->call_fd, 1)) != 0)
		return err;
	return set_msg(fe, VTIO_VHOST_USER_SET_VRING_KICK, &v, 8, &q->kick_fd, 1);
}

static int fe_setup(struct vtio_vhost_fe *fe)
{
	const struct vtio_vhost_fe_config *cfg = &fe->cfg;
	uint64_t offered, v;
	int err;
	if ((err = setup_mem(fe)) != 0)
		return err;
	if ((err = set_msg(fe, VTIO_VHOST_USER_SET_OWNER, NULL, 0, NULL, 0)) != 0)
		return err;
	if ((err = get_u64(fe, VTIO_VHOST_USER_GET_FEATURES, &offered)) != 0)
		return err;
	uint64_t want = cfg->features | cfg->required;
	if (cfg->packed)
		want |= VTIO_FEATURE(VTIO_F_RING_PACKED);
	else
		want &= ~VTIO_FEATURE(VTIO_F_RING_PACKED);
	uint64_t need = cfg->required | (cfg->packed ? VTIO_FEATURE(VTIO_F_RING_PACKED) : 0);
	if ((offered & need) != need) {
		snprintf(fe->err, sizeof(fe->err), "back end lacks features 0x%llx",
			 (unsigned long long)(need & ~offered));
		return VTIO_ENOTSUP;
	}
	fe->features = want & offered;
	if (offered & VTIO_FEATURE(VTIO_VHOST_USER_F_PROTOCOL_FEATURES)) {
		fe->features |= VTIO_FEATURE(VTIO_VHOST_USER_F_PROTOCOL_FEATURES);
		if ((err = get_u64(fe, VTIO_VHOST_USER_GET_PROTOCOL_FEATURES, &v)) != 0)
			return err;
		uint64_t p = v & ((1ull << VTIO_VHOST_USER_PROTOCOL_F_MQ) |
				  (1ull << VTIO_VHOST_USER_PROTOCOL_F_REPLY_ACK) |
				  (1ull << VTIO_VHOST_USER_PROTOCOL_F_CONFIG) |
				  (1ull << VTIO_VHOST_USER_PROTOCOL_F_STATUS));
		if ((err = set_u64(fe, VTIO_VHOST_USER_SET_PROTOCOL_FEATURES, p)) != 0)
			return err;
		fe->protocol = p;
	}
	if (fe->protocol & (1ull << VTIO_VHOST_USER_PROTOCOL_F_MQ)) {
		if ((err = get_u64(fe, VTIO_VHOST_USER_GET_QUEUE_NUM, &v)) != 0)
			return err;
		if (v < cfg->num_queues) {
			snprintf(fe->err, sizeof(fe->err), "back end has %llu queues, %u wanted",
				 (unsigned long long)v, cfg->num_queues);
			return VTIO_ENOTSUP;
		}
	}
	if ((err = set_u64(fe, VTIO_VHOST_USER_SET_FEATURES, fe->features)) != 0)
		return err;
	bool status = (fe->protocol & (1ull << VTIO_VHOST_USER_PROTOCOL_F_STATUS)) != 0;
	uint64_t st = VTIO_STATUS_ACKNOWLEDGE | VTIO_STATUS_DRIVER | VTIO_STATUS_FEATURES_OK;
	if (status) {
		if ((err = set_u64(fe, VTIO_VHOST_USER_SET_STATUS, st)) != 0 ||
		    (err = get_u64(fe, VTIO_VHOST_USER_GET_STATUS, &v)) != 0)
			return err;
		if (!(v & VTIO_STATUS_FEATURES_OK)) {
			snprintf(fe->err, sizeof(fe->err), "back end refused FEATURES_OK");
			return VTIO_ENOTSUP;
		}
	}
	if ((err = send_mem_table(fe)) != 0)
		return err;
	for (unsigned qi = 0; qi < cfg->num_queues; qi++)
		if ((err = setup_queue(fe, qi)) != 0)
			return err;
	if (fe->features & VTIO_FEATURE(VTIO_VHOST_USER_F_PROTOCOL_FEATURES))
		for (unsigned qi = 0; qi < cfg->num_queues; qi++)
			if ((err = set_state(fe, VTIO_VHOST_USER_SET_VRING_ENABLE, qi, 1)) != 0)
				return err;
	if (status &&
	    (err = set_u64(fe, VTIO_VHOST_USER_SET_STATUS, st | VTIO_STATUS_DRIVER_OK)) != 0)
		return err;
	/* A round trip: every message above is handled when it returns. */
	return get_u64(fe, VTIO_VHOST_USER_GET_FEATURES, &v);
}

int vtio_vhost_fe_connect(struct vtio_vhost_fe **out, const struct vtio_vhost_fe_config *cfg)
{
	if (out == NULL || cfg == NULL || cfg->complete == NULL || cfg->num_queues == 0 ||
	    cfg->num_queues > VTIO_VHOST_USER_MAX_QUEUES || cfg->queue_size == 0 ||
	    cfg->queue_size > 32768u)
		return VTIO_EINVAL;
	struct vtio_vhost_fe *fe = calloc(1, sizeof(*fe));
	if (fe == NULL)
		return VTIO_ENOMEM;
	fe->cfg = *cfg;
	fe->memfd[0] = fe->memfd[1] = -1;
	for (unsigned i = 0; i < VTIO_VHOST_USER_MAX_QUEUES; i++)
		fe->q[i].kick_fd = fe->q[i].call_fd = -1;
	fe->sock = cfg->fd >= 0 ? cfg->fd : connect_sock(cfg);
	int err = fe->sock < 0 ? fe->sock : fe_setup(fe);
	if (err != 0) {
		if (cfg->errbuf != NULL && cfg->errbuf_len > 0)
			snprintf(cfg->errbuf, cfg->errbuf_len, "%s",
				 fe->err[0] ? fe->err : vtio_strerror(err));
		if (fe->sock < 0)
			fe->dead = true;
		fe->failed_back = true; /* nothing was added yet */
		vtio_vhost_fe_close(fe);
		return err;
	}
	*out = fe;
	return 0;
}

struct vtio_vq *vtio_vhost_fe_vq(struct vtio_vhost_fe *fe, unsigned qi)
{
	return qi < fe->cfg.num_queues ? fe->q[qi].vq : NULL;
}

int vtio_vhost_fe_kick(struct vtio_vhost_fe *fe, unsigned qi)
{
	if (qi >= fe->cfg.num_queues)
		return VTIO_ERANGE;
	if (fe->dead)
		return VTIO_EIO;
	return vtio_vq_kick(fe->q[qi].vq);
}

/* @return how many buffers were completed. */
static unsigned reap(struct vtio_vhost_fe *fe)
{
	unsigned done = 0;
	for (unsigned qi = 0; qi < fe->cfg.num_queues; qi++) {
		struct vtio_vq *vq = fe->q[qi].vq;
		void *tok;
		uint32_t len;
		if (vq == NULL)
			continue;
		while ((tok = vtio_vq_get_used(vq, &len)) != NULL) {
			fe->cfg.complete(fe->cfg.ctx, qi, tok, len, 0);
			done++;
		}
	}
	return done;
}

/* Complete everything still in flight with @status, once. */
static void fail_back(struct vtio_vhost_fe *fe, int status)
{
	if (fe->failed_back)
		return;
	fe->failed_back = true;
	for (unsigned qi = 0; qi < fe->cfg.num_queues; qi++) {
		struct vtio_vq *vq = fe->q[qi].vq;
		void *tok;
		if (vq == NULL)
			continue;
		vtio_vq_set_broken(vq, status == VTIO_EIO ? "vhost-user back end went away"
							  : "vhost-user front end stopped");
		while ((tok = vtio_vq_detach_unused(vq)) != NULL)
			fe->cfg.complete(fe->cfg.ctx, qi, tok, 0, status);
	}
}

int vtio_vhost_fe_poll(struct vtio_vhost_fe *fe, int timeout_ms)
{
	struct pollfd pf[VTIO_VHOST_USER_MAX_QUEUES + 1];
	unsigned n = 0;
	if (fe->dead) {
		reap(fe);
		fail_back(fe, VTIO_EIO);
		return VTIO_EIO;
	}
	pf[n].fd = fe->sock;
	pf[n].events = POLLIN;
	n++;
	for (unsigned qi = 0; qi < fe->cfg.num_queues; qi++) {
		pf[n].fd = fe->q[qi].call_fd;
		pf[n].events = POLLIN;
		n++;
	}
	/* Reap, then ask for a call notification before sleeping (with
	 * EVENT_IDX, used_event must be moved or the back end stays quiet);
	 * a buffer used meanwhile means no sleep. */
	/* Completions found here are progress: return without sleeping, so
	 * the caller acts on them (refill, send more) first. */
	if (reap(fe) > 0)
		timeout_ms = 0;
	for (unsigned qi = 0; qi < fe->cfg.num_queues; qi++) {
		if (fe->q[qi].vq == NULL)
			continue;
		/* Buffers added by the completions (refills) reach the back end
		 * before we sleep: it may be waiting for exactly those. */
		vtio_vq_kick(fe->q[qi].vq);
		if (!vtio_vq_enable_cb(fe->q[qi].vq))
			timeout_ms = 0;
	}
	int r = poll(pf, n, timeout_ms);
	if (r < 0 && errno != EINTR)
		return VTIO_EIO;
	if (r > 0) {
		for (unsigned i = 1; i < n; i++) {
			uint64_t cnt;
			if (pf[i].revents & POLLIN)
				while (read(pf[i].fd, &cnt, sizeof(cnt)) == (ssize_t)sizeof(cnt))
					;
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			/* No request is pending: data here is EOF or a message we never
			 * asked for. Either way the connection is over. */
			fe->dead = true;
		}
	}
	reap(fe);
	if (fe->dead) {
		fail_back(fe, VTIO_EIO);
		return VTIO_EIO;
	}
	return 0;
}

int vtio_vhost_fe_get_config(struct vtio_vhost_fe *fe, uint32_t off, void *buf, uint32_t len)
{
	if (!(fe->protocol & (1ull << VTIO_VHOST_USER_PROTOCOL_F_CONFIG)))
		return VTIO_ENOTSUP;
	if (len > VTIO_VHOST_USER_CONFIG_MAX)
		return VTIO_EINVAL;
	unsigned char p[12 + VTIO_VHOST_USER_CONFIG_MAX];
	memset(p, 0, sizeof(p));
	uint32_t h[3] = {off, len, 0};
	memcpy(p, h, sizeof(h));
	int err = send_msg(fe, VTIO_VHOST_USER_GET_CONFIG, false, p, 12 + len, NULL, 0);
	if (err != 0)
		return err;
	struct vtio__vhost_msg m;
	if ((err = wait_reply(fe, VTIO_VHOST_USER_GET_CONFIG, &m)) != 0)
		return err;
	if (m.size == 0)
		return VTIO_EIO; /* the back end could not read it */
	if (m.size != 12 + len)
		return VTIO_EPROTO;
	memcpy(buf, m.payload + 12, len);
	return 0;
}

uint64_t vtio_vhost_fe_features(const struct vtio_vhost_fe *fe)
{
	return fe->features;
}

bool vtio_vhost_fe_dead(const struct vtio_vhost_fe *fe)
{
	return fe->dead;
}

int vtio_vhost_fe_stop(struct vtio_vhost_fe *fe, uint32_t *base, unsigned n)
{
	int first = 0;
	for (unsigned qi = 0; qi < fe->cfg.num_queues; qi++) {
		uint32_t s[2] = {qi, 0};
		int err =
		    send_msg(fe, VTIO_VHOST_USER_GET_VRING_BASE, false, s, sizeof(s), NULL, 0);
		struct vtio__vhost_msg m;
		if (err == 0)
			err = wait_reply(fe, VTIO_VHOST_USER_GET_VRING_BASE, &m);
		if (err == 0 && m.size != 8)
			err = VTIO_EPROTO;
		if (err == 0) {
			struct vtio__vhost_state st = vtio__vhost_state(&m);
			if (st.index != qi)
				err = VTIO_EPROTO;
			else if (base != NULL && qi < n)
				base[qi] = st.num;
		}
		if (err != 0 && first == 0)
			first = err;
	}
	reap(fe);
	fail_back(fe, fe->dead ? VTIO_EIO : VTIO_ECANCELED);
	return first;
}

void vtio_vhost_fe_close(struct vtio_vhost_fe *fe)
{
	if (fe == NULL)
		return;
	if (fe->sock >= 0)
		close(fe->sock);
	reap(fe);
	fail_back(fe, fe->dead ? VTIO_EIO : VTIO_ECANCELED);
	for (unsigned qi = 0; qi < VTIO_VHOST_USER_MAX_QUEUES; qi++) {
		if (fe->q[qi].kick_fd >= 0)
			close(fe->q[qi].kick_fd);
		if (fe->q[qi].call_fd >= 0)
			close(fe->q[qi].call_fd);
	}
	for (unsigned i = 0; i < 2; i++)
		if (fe->memfd[i] >= 0)
			close(fe->memfd[i]);
	if (fe->mem != NULL)
		munmap(fe->mem, fe->mem_size);
	free(fe);
}
