/*
 * Message-queue transport: the wire codec, the driver side (requests and
 * their responses over a channel) and the device side (requests executed on
 * a register model). Format and rules: include/vtio/transport/msgq.h.
 */
#include "vtio/transport/msgq.h"

#include "vtio/spec.h"

/* ---- Little-endian field access (byte by byte: any host, any alignment) ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

static bool zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* ---- Sizes of the bodies ---------------------------------------------------------------- */

/* Fixed body size of a request type, or -1 for an unknown type. CONFIG_WRITE
 * has len data bytes on top. */
static int req_body(uint8_t type)
{
	switch (type) {
	case VTIO_MSGQ_HELLO:
		return 4;
	case VTIO_MSGQ_REG_READ:
		return 8;
	case VTIO_MSGQ_REG_WRITE:
		return 12;
	case VTIO_MSGQ_CONFIG_READ:
	case VTIO_MSGQ_CONFIG_WRITE:
		return 8;
	case VTIO_MSGQ_GET_STATUS:
		return 0;
	case VTIO_MSGQ_SET_STATUS:
	case VTIO_MSGQ_GET_FEATURES:
		return 4;
	case VTIO_MSGQ_SET_FEATURES:
		return 8;
	case VTIO_MSGQ_QUEUE_SETUP:
		return 32;
	case VTIO_MSGQ_QUEUE_INFO:
	case VTIO_MSGQ_NOTIFY:
	case VTIO_MSGQ_EVENT:
		return 4;
	default:
		return -1;
	}
}

/* Body size of a successful response (result included), -1 when the type
 * has no response. CONFIG_READ has the data bytes on top. */
static int resp_body(uint8_t type)
{
	switch (type) {
	case VTIO_MSGQ_HELLO:
	case VTIO_MSGQ_REG_READ:
	case VTIO_MSGQ_GET_STATUS:
	case VTIO_MSGQ_GET_FEATURES:
		return 8;
	case VTIO_MSGQ_QUEUE_INFO:
		return 12;
	case VTIO_MSGQ_REG_WRITE:
	case VTIO_MSGQ_CONFIG_READ:
	case VTIO_MSGQ_CONFIG_WRITE:
	case VTIO_MSGQ_SET_STATUS:
	case VTIO_MSGQ_SET_FEATURES:
	case VTIO_MSGQ_QUEUE_SETUP:
		return 4;
	default:
		return -1;
	}
}

static bool width_ok(uint32_t off, uint32_t width)
{
	return (width == 1 || width == 2 || width == 4) && (off & (width - 1)) == 0;
}

static bool value_fits(uint32_t value, uint32_t width)
{
	return width == 4 || (value >> (8 * width)) == 0;
}

/* ---- Codec ------------------------------------------------------------------------------ */

int vtio_msgq_encode(const struct vtio_msgq_msg *m, void *buf, size_t cap, size_t *out_len)
{
	if (m == NULL || buf == NULL || out_len == NULL)
		return VTIO_EINVAL;
	uint8_t type = (uint8_t)(m->type & ~VTIO_MSGQ_RESP);
	bool resp = (m->type & VTIO_MSGQ_RESP) != 0;
	int body;
	size_t extra = 0;

	if (resp) {
		body = resp_body(type);
		if (body < 0 || m->result > 0 || m->result < VTIO_MSGQ_MIN_ERROR)
			return VTIO_EINVAL;
		if (m->result != 0) {
			body = 4;
		} else if (type == VTIO_MSGQ_CONFIG_READ) {
			if (m->len == 0 || m->len > VTIO_MSGQ_MAX_DATA || m->data == NULL)
				return VTIO_EINVAL;
			extra = m->len;
		}
	} else {
		body = req_body(type);
		if (body < 0)
			return VTIO_EINVAL;
		switch (type) {
		case VTIO_MSGQ_HELLO:
			if (m->value < VTIO_MSGQ_MIN_MSG)
				return VTIO_EINVAL;
			break;
		case VTIO_MSGQ_REG_READ:
			if (!width_ok(m->off, m->width))
				return VTIO_EINVAL;
			break;
		case VTIO_MSGQ_REG_WRITE:
			if (!width_ok(m->off, m->width) || !value_fits(m->value, m->width))
				return VTIO_EINVAL;
			break;
		case VTIO_MSGQ_CONFIG_WRITE:
			if (m->data == NULL)
				return VTIO_EINVAL;
			extra = m->len;
			/* fall through */
		case VTIO_MSGQ_CONFIG_READ:
			if (m->len == 0 || m->len > VTIO_MSGQ_MAX_DATA)
				return VTIO_EINVAL;
			break;
		case VTIO_MSGQ_SET_STATUS:
			if (m->value > 0xffu)
				return VTIO_EINVAL;
			break;
		case VTIO_MSGQ_GET_FEATURES:
		case VTIO_MSGQ_SET_FEATURES:
			if (m->word >= VTIO_MSGQ_FEATURE_WORDS)
				return VTIO_EINVAL;
			break;
		case VTIO_MSGQ_QUEUE_SETUP:
			if ((m->qflags & ~VTIO_MSGQ_QUEUE_F_ENABLE) != 0)
				return VTIO_EINVAL;
			break;
		default:
			break;
		}
	}

	size_t total = VTIO_MSGQ_HDR_SIZE + (size_t)body + extra;
	if (cap < total)
		return VTIO_ENOBUFS;
	uint8_t *p = buf;
	VTIO_MEMSET(p, 0, total);
	p[0] = VTIO_MSGQ_VERSION;
	p[1] = m->type;
	put16(p + 2, (uint16_t)total);
	put32(p + 4, m->seq);
	uint8_t *b = p + VTIO_MSGQ_HDR_SIZE;

	if (resp) {
		put32(b, (uint32_t)m->result);
		if (m->result != 0)
			goto done;
		switch (type) {
		case VTIO_MSGQ_HELLO:
		case VTIO_MSGQ_REG_READ:
		case VTIO_MSGQ_GET_FEATURES:
			put32(b + 4, m->value);
			break;
		case VTIO_MSGQ_GET_STATUS:
			b[4] = (uint8_t)m->value;
			break;
		case VTIO_MSGQ_QUEUE_INFO:
			put32(b + 4, m->value);
			put32(b + 8, m->qflags & VTIO_MSGQ_QUEUE_F_READY);
			break;
		case VTIO_MSGQ_CONFIG_READ:
			VTIO_MEMCPY(b + 4, m->data, m->len);
			break;
		default:
			break;
		}
		goto done;
	}

	switch (type) {
	case VTIO_MSGQ_HELLO:
	case VTIO_MSGQ_NOTIFY:
	case VTIO_MSGQ_EVENT:
		put32(b, m->value);
		break;
	case VTIO_MSGQ_REG_WRITE:
		put32(b + 8, m->value);
		/* fall through */
	case VTIO_MSGQ_REG_READ:
		put32(b, m->off);
		b[4] = (uint8_t)m->width;
		break;
	case VTIO_MSGQ_CONFIG_WRITE:
		VTIO_MEMCPY(b + 8, m->data, m->len);
		/* fall through */
	case VTIO_MSGQ_CONFIG_READ:
		put32(b, m->off);
		put16(b + 4, m->len);
		break;
	case VTIO_MSGQ_SET_STATUS:
		b[0] = (uint8_t)m->value;
		break;
	case VTIO_MSGQ_SET_FEATURES:
		put32(b + 4, m->value);
		/* fall through */
	case VTIO_MSGQ_GET_FEATURES:
		put32(b, m->word);
		break;
	case VTIO_MSGQ_QUEUE_SETUP:
		put16(b, m->index);
		put16(b + 2, m->qflags);
		put32(b + 4, m->num);
		put64(b + 8, m->desc);
		put64(b + 16, m->driver);
		put64(b + 24, m->device);
		break;
	case VTIO_MSGQ_QUEUE_INFO:
		put16(b, m->index);
		break;
	default:
		break;
	}
done:
	*out_len = total;
	return 0;
}

int vtio_msgq_peek_length(const void *hdr)
{
	const uint8_t *p = hdr;
	if (p == NULL || p[0] != VTIO_MSGQ_VERSION)
		return VTIO_EBADMSG;
	uint16_t len = get16(p + 2);
	if (len < VTIO_MSGQ_HDR_SIZE || len > VTIO_MSGQ_MAX_MSG)
		return VTIO_EBADMSG;
	return len;
}

int vtio_msgq_decode(const void *buf, size_t len, struct vtio_msgq_msg *m)
{
	const uint8_t *p = buf;
	if (buf == NULL || m == NULL)
		return VTIO_EBADMSG;
	if (len < VTIO_MSGQ_HDR_SIZE || len > VTIO_MSGQ_MAX_MSG)
		return VTIO_EBADMSG;
	if (p[0] != VTIO_MSGQ_VERSION || get16(p + 2) != len)
		return VTIO_EBADMSG;

	struct vtio_msgq_msg d;
	VTIO_MEMSET(&d, 0, sizeof(d));
	d.type = p[1];
	d.seq = get32(p + 4);
	uint8_t type = (uint8_t)(d.type & ~VTIO_MSGQ_RESP);
	const uint8_t *b = p + VTIO_MSGQ_HDR_SIZE;
	size_t blen = len - VTIO_MSGQ_HDR_SIZE;

	if (d.type & VTIO_MSGQ_RESP) {
		int body = resp_body(type);
		if (body < 0 || blen < 4)
			return VTIO_EBADMSG;
		int32_t r = (int32_t)get32(b);
		if (r > 0 || r < VTIO_MSGQ_MIN_ERROR)
			return VTIO_EBADMSG;
		d.result = r;
		if (r != 0) {
			if (blen != 4)
				return VTIO_EBADMSG;
			goto ok;
		}
		if (type == VTIO_MSGQ_CONFIG_READ) {
			if (blen < 5 || blen > 4 + VTIO_MSGQ_MAX_DATA)
				return VTIO_EBADMSG;
			d.len = (uint16_t)(blen - 4);
			d.data = b + 4;
			goto ok;
		}
		if (blen != (size_t)body)
			return VTIO_EBADMSG;
		switch (type) {
		case VTIO_MSGQ_HELLO:
			d.value = get32(b + 4);
			if (d.value < VTIO_MSGQ_MIN_MSG)
				return VTIO_EBADMSG;
			break;
		case VTIO_MSGQ_REG_READ:
		case VTIO_MSGQ_GET_FEATURES:
			d.value = get32(b + 4);
			break;
		case VTIO_MSGQ_GET_STATUS:
			if (!zero(b + 5, 3))
				return VTIO_EBADMSG;
			d.value = b[4];
			break;
		case VTIO_MSGQ_QUEUE_INFO: {
			d.value = get32(b + 4);
			uint32_t f = get32(b + 8);
			if ((f & ~VTIO_MSGQ_QUEUE_F_READY) != 0)
				return VTIO_EBADMSG;
			d.qflags = (uint16_t)f;
			break;
		}
		default:
			break;
		}
		goto ok;
	}

	int body = req_body(type);
	if (body < 0 || blen < (size_t)body)
		return VTIO_EBADMSG;
	if (type != VTIO_MSGQ_CONFIG_WRITE && blen != (size_t)body)
		return VTIO_EBADMSG;
	switch (type) {
	case VTIO_MSGQ_HELLO:
		d.value = get32(b);
		if (d.value < VTIO_MSGQ_MIN_MSG)
			return VTIO_EBADMSG;
		break;
	case VTIO_MSGQ_NOTIFY:
	case VTIO_MSGQ_EVENT:
		d.value = get32(b);
		break;
	case VTIO_MSGQ_REG_READ:
	case VTIO_MSGQ_REG_WRITE:
		d.off = get32(b);
		d.width = b[4];
		if (!zero(b + 5, 3) || !width_ok(d.off, d.width))
			return VTIO_EBADMSG;
		if (type == VTIO_MSGQ_REG_WRITE) {
			d.value = get32(b + 8);
			if (!value_fits(d.value, d.width))
				return VTIO_EBADMSG;
		}
		break;
	case VTIO_MSGQ_CONFIG_READ:
	case VTIO_MSGQ_CONFIG_WRITE:
		d.off = get32(b);
		d.len = get16(b + 4);
		if (!zero(b + 6, 2) || d.len == 0 || d.len > VTIO_MSGQ_MAX_DATA)
			return VTIO_EBADMSG;
		if (type == VTIO_MSGQ_CONFIG_WRITE) {
			if (blen != 8u + d.len)
				return VTIO_EBADMSG;
			d.data = b + 8;
		}
		break;
	case VTIO_MSGQ_GET_STATUS:
		break;
	case VTIO_MSGQ_SET_STATUS:
		if (!zero(b + 1, 3))
			return VTIO_EBADMSG;
		d.value = b[0];
		break;
	case VTIO_MSGQ_GET_FEATURES:
	case VTIO_MSGQ_SET_FEATURES:
		d.word = get32(b);
		if (d.word >= VTIO_MSGQ_FEATURE_WORDS)
			return VTIO_EBADMSG;
		if (type == VTIO_MSGQ_SET_FEATURES)
			d.value = get32(b + 4);
		break;
	case VTIO_MSGQ_QUEUE_SETUP:
		d.index = get16(b);
		d.qflags = get16(b + 2);
		if ((d.qflags & ~VTIO_MSGQ_QUEUE_F_ENABLE) != 0)
			return VTIO_EBADMSG;
		d.num = get32(b + 4);
		d.desc = get64(b + 8);
		d.driver = get64(b + 16);
		d.device = get64(b + 24);
		break;
	case VTIO_MSGQ_QUEUE_INFO:
		d.index = get16(b);
		if (!zero(b + 2, 2))
			return VTIO_EBADMSG;
		break;
	default:
		return VTIO_EBADMSG;
	}
ok:
	*m = d;
	return 0;
}

/* ---- Driver side -------------------------------------------------------------------------- */

static bool fatal(int err)
{
	return err == VTIO_EIO || err == VTIO_EPROTO || err == VTIO_EBADMSG;
}

int vtio_msgq_drv_init(struct vtio_msgq_drv *d, const struct vtio_msgq_chan *chan,
		       vtio_msgq_event_fn event, void *ctx)
{
	if (d == NULL || chan == NULL || chan->ops == NULL || chan->ops->send == NULL ||
	    chan->ops->recv == NULL)
		return VTIO_EINVAL;
	VTIO_MEMSET(d, 0, sizeof(*d));
	d->chan = *chan;
	d->event = event;
	d->event_ctx = ctx;
	return 0;
}

static int drv_die(struct vtio_msgq_drv *d, int err)
{
	if (d->dead == 0)
		d->dead = err;
	d->stats.errors++;
	return err;
}

/* Receive one message and decode it into @p m. Dispatches nothing. */
static int drv_recv(struct vtio_msgq_drv *d, struct vtio_msgq_msg *m, bool wait)
{
	uint32_t tries = 0;
	for (;;) {
		size_t n = 0;
		int rc = d->chan.ops->recv(d->chan.ctx, d->rx, sizeof(d->rx), &n);
		if (rc == VTIO_EAGAIN) {
			if (!wait || ++tries >= VTIO_MSGQ_RECV_RETRIES)
				return wait ? VTIO_ETIMEDOUT : VTIO_EAGAIN;
			continue;
		}
		if (rc != 0)
			return rc == VTIO_ETIMEDOUT ? rc : drv_die(d, fatal(rc) ? rc : VTIO_EIO);
		if (n > sizeof(d->rx) || vtio_msgq_decode(d->rx, n, m) != 0)
			return drv_die(d, VTIO_EBADMSG);
		return 0;
	}
}

int vtio_msgq_drv_call(struct vtio_msgq_drv *d, struct vtio_msgq_msg *req,
		       struct vtio_msgq_msg *resp)
{
	if (d == NULL || req == NULL || resp == NULL || (req->type & VTIO_MSGQ_RESP) ||
	    resp_body(req->type) < 0)
		return VTIO_EINVAL;
	if (d->dead)
		return VTIO_EIO;
	uint8_t tx[VTIO_MSGQ_MAX_MSG];
	size_t n;
	req->seq = ++d->seq;
	int rc = vtio_msgq_encode(req, tx, sizeof(tx), &n);
	if (rc != 0)
		return rc;
	if (d->peer_max != 0 && n > d->peer_max)
		return VTIO_EMSGSIZE;
	d->stats.requests++;
	rc = d->chan.ops->send(d->chan.ctx, tx, n);
	if (rc != 0) {
		if (fatal(rc))
			return drv_die(d, VTIO_EIO);
		d->stats.errors++;
		return rc;
	}
	for (;;) {
		rc = drv_recv(d, resp, true);
		if (rc != 0) {
			if (rc == VTIO_ETIMEDOUT)
				d->stats.errors++;
			return rc;
		}
		if (resp->type == VTIO_MSGQ_EVENT) {
			d->stats.events++;
			if (d->event)
				d->event(d->event_ctx, resp->value);
			continue;
		}
		if (!(resp->type & VTIO_MSGQ_RESP))
			return drv_die(d, VTIO_EPROTO);
		if (resp->seq != d->seq) {
			/* Older than ours: the answer to a request that timed out. */
			if ((int32_t)(d->seq - resp->seq) > 0) {
				d->stats.stale++;
				continue;
			}
			return drv_die(d, VTIO_EPROTO);
		}
		if (resp->type != (uint8_t)(req->type | VTIO_MSGQ_RESP))
			return drv_die(d, VTIO_EPROTO);
		if (resp->result != 0)
			d->stats.errors++;
		return resp->result;
	}
}

int vtio_msgq_drv_hello(struct vtio_msgq_drv *d)
{
	struct vtio_msgq_msg req = {.type = VTIO_MSGQ_HELLO, .value = VTIO_MSGQ_MAX_MSG}, resp;
	if (d == NULL)
		return VTIO_EINVAL;
	int rc = vtio_msgq_drv_call(d, &req, &resp);
	if (rc == 0)
		d->peer_max = resp.value;
	return rc;
}

int vtio_msgq_drv_reconnect(struct vtio_msgq_drv *d, const struct vtio_msgq_chan *chan)
{
	if (d == NULL || chan == NULL || chan->ops == NULL || chan->ops->send == NULL ||
	    chan->ops->recv == NULL)
		return VTIO_EINVAL;
	d->chan = *chan;
	d->dead = 0;
	d->peer_max = 0;
	return vtio_msgq_drv_hello(d);
}

int vtio_msgq_drv_reg_read(struct vtio_msgq_drv *d, uint32_t off, unsigned width, uint32_t *val)
{
	if (val == NULL)
		return VTIO_EINVAL;
	*val = UINT32_MAX;
	if (d == NULL || !width_ok(off, width))
		return VTIO_EINVAL;
	struct vtio_msgq_msg req = {.type = VTIO_MSGQ_REG_READ, .off = off, .width = width}, resp;
	int rc = vtio_msgq_drv_call(d, &req, &resp);
	if (rc == 0)
		*val = width == 4 ? resp.value : resp.value & ((1u << (8 * width)) - 1u);
	return rc;
}

void vtio_msgq_drv_set_doorbell(struct vtio_msgq_drv *d, vtio_msgq_ring_fn ring, void *ctx)
{
	d->ring = ring;
	d->ring_ctx = ctx;
}

int vtio_msgq_drv_reg_write(struct vtio_msgq_drv *d, uint32_t off, unsigned width, uint32_t val)
{
	if (d == NULL || !width_ok(off, width) || !value_fits(val, width))
		return VTIO_EINVAL;
	if (off == VTIO_MMIO_QUEUE_NOTIFY && width == 4 && d->ring != NULL) {
		/* The data path: a doorbell, no round trip on the channel. */
		if (d->dead != 0)
			return VTIO_EIO;
		return d->ring(d->ring_ctx, val & 0xffffu);
	}
	struct vtio_msgq_msg req = {.type = VTIO_MSGQ_REG_WRITE,
				    .off = off,
				    .width = width,
				    .value = val},
			     resp;
	return vtio_msgq_drv_call(d, &req, &resp);
}

int vtio_msgq_drv_config_read(struct vtio_msgq_drv *d, uint32_t off, void *dst, size_t len)
{
	if (d == NULL || (dst == NULL && len != 0) || len > UINT32_MAX - (uint64_t)off)
		return VTIO_EINVAL;
	uint8_t *out = dst;
	while (len > 0) {
		uint16_t piece = (uint16_t)(len < VTIO_MSGQ_MAX_DATA ? len : VTIO_MSGQ_MAX_DATA);
		struct vtio_msgq_msg req = {.type = VTIO_MSGQ_CONFIG_READ,
					    .off = off,
					    .len = piece},
				     resp;
		int rc = vtio_msgq_drv_call(d, &req, &resp);
		if (rc != 0)
			return rc;
		if (resp.len != piece)
			return drv_die(d, VTIO_EPROTO);
		VTIO_MEMCPY(out, resp.data, piece);
		out += piece;
		off += piece;
		len -= piece;
	}
	return 0;
}

int vtio_msgq_drv_config_write(struct vtio_msgq_drv *d, uint32_t off, const void *src, size_t len)
{
	if (d == NULL || (src == NULL && len != 0) || len > UINT32_MAX - (uint64_t)off)
		return VTIO_EINVAL;
	const uint8_t *in = src;
	while (len > 0) {
		uint16_t piece = (uint16_t)(len < VTIO_MSGQ_MAX_DATA ? len : VTIO_MSGQ_MAX_DATA);
		struct vtio_msgq_msg req = {.type = VTIO_MSGQ_CONFIG_WRITE,
					    .off = off,
					    .len = piece,
					    .data = in},
				     resp;
		int rc = vtio_msgq_drv_call(d, &req, &resp);
		if (rc != 0)
			return rc;
		in += piece;
		off += piece;
		len -= piece;
	}
	return 0;
}

int vtio_msgq_drv_notify(struct vtio_msgq_drv *d, uint32_t data)
{
	if (d == NULL)
		return VTIO_EINVAL;
	if (d->dead)
		return VTIO_EIO;
	uint8_t tx[VTIO_MSGQ_HDR_SIZE + 4];
	size_t n;
	struct vtio_msgq_msg m = {.type = VTIO_MSGQ_NOTIFY, .value = data};
	int rc = vtio_msgq_encode(&m, tx, sizeof(tx), &n);
	if (rc == 0)
		rc = d->chan.ops->send(d->chan.ctx, tx, n);
	if (rc != 0 && fatal(rc))
		return drv_die(d, VTIO_EIO);
	return rc;
}

int vtio_msgq_drv_poll_events(struct vtio_msgq_drv *d)
{
	if (d == NULL)
		return VTIO_EINVAL;
	if (d->dead)
		return VTIO_EIO;
	int handled = 0;
	for (;;) {
		struct vtio_msgq_msg m;
		int rc = drv_recv(d, &m, false);
		if (rc == VTIO_EAGAIN || rc == VTIO_ETIMEDOUT)
			return handled;
		if (rc != 0)
			return rc;
		if (m.type == VTIO_MSGQ_EVENT) {
			d->stats.events++;
			handled++;
			if (d->event)
				d->event(d->event_ctx, m.value);
			continue;
		}
		if ((m.type & VTIO_MSGQ_RESP) && (int32_t)(d->seq - m.seq) >= 0) {
			d->stats.stale++;
			continue;
		}
		return drv_die(d, VTIO_EPROTO);
	}
}

/* ---- Device side -------------------------------------------------------------------------- */

static void dev_hello_default(void *ctx)
{
	(void)ctx;
}

int vtio_msgq_dev_init(struct vtio_msgq_dev *s, const struct vtio_msgq_chan *chan,
		       const struct vtio_msgq_regs_ops *regs, void *ctx)
{
	if (s == NULL || regs == NULL || regs->read == NULL || regs->write == NULL)
		return VTIO_EINVAL;
	if (chan != NULL &&
	    (chan->ops == NULL || chan->ops->send == NULL || chan->ops->recv == NULL))
		return VTIO_EINVAL;
	VTIO_MEMSET(s, 0, sizeof(*s));
	if (chan != NULL)
		s->chan = *chan;
	s->regs = *regs;
	if (s->regs.hello == NULL)
		s->regs.hello = dev_hello_default;
	s->regs_ctx = ctx;
	return 0;
}

static int rd(struct vtio_msgq_dev *s, uint32_t off, uint32_t *v)
{
	return s->regs.read(s->regs_ctx, off, 4, v);
}

static int wr(struct vtio_msgq_dev *s, uint32_t off, uint32_t v)
{
	return s->regs.write(s->regs_ctx, off, 4, v);
}

/* Config range through the register model: the widest naturally aligned
 * access for each piece, so a 4-byte field is read in one access. */
static int dev_config(struct vtio_msgq_dev *s, uint32_t off, uint8_t *buf, uint16_t len, bool write)
{
	if ((uint64_t)off + len > (uint64_t)UINT32_MAX - VTIO_MMIO_CONFIG)
		return VTIO_ERANGE;
	uint32_t at = VTIO_MMIO_CONFIG + off;
	for (uint16_t i = 0; i < len;) {
		unsigned w = 1;
		if ((at & 3u) == 0 && len - i >= 4)
			w = 4;
		else if ((at & 1u) == 0 && len - i >= 2)
			w = 2;
		int rc;
		if (write) {
			uint32_t v = buf[i];
			if (w >= 2)
				v |= (uint32_t)buf[i + 1] << 8;
			if (w == 4)
				v |= (uint32_t)buf[i + 2] << 16 | (uint32_t)buf[i + 3] << 24;
			rc = s->regs.write(s->regs_ctx, at, w, v);
		} else {
			uint32_t v = 0;
			rc = s->regs.read(s->regs_ctx, at, w, &v);
			for (unsigned k = 0; rc == 0 && k < w; k++)
				buf[i + k] = (uint8_t)(v >> (8 * k));
		}
		if (rc != 0)
			return rc;
		i = (uint16_t)(i + w);
		at += w;
	}
	return 0;
}

/* Execute a decoded request; fills the response fields of @p r. */
static int dev_exec(struct vtio_msgq_dev *s, const struct vtio_msgq_msg *q, struct vtio_msgq_msg *r,
		    uint8_t *data)
{
	int rc = 0;
	uint32_t v = 0;
	switch (q->type) {
	case VTIO_MSGQ_HELLO:
		s->stats.sessions++;
		s->regs.hello(s->regs_ctx);
		r->value = VTIO_MSGQ_MAX_MSG;
		return 0;
	case VTIO_MSGQ_REG_READ:
		rc = s->regs.read(s->regs_ctx, q->off, q->width, &v);
		r->value = q->width == 4 ? v : v & ((1u << (8 * q->width)) - 1u);
		return rc;
	case VTIO_MSGQ_REG_WRITE:
		return s->regs.write(s->regs_ctx, q->off, q->width, q->value);
	case VTIO_MSGQ_CONFIG_READ:
		rc = dev_config(s, q->off, data, q->len, false);
		r->len = q->len;
		r->data = data;
		return rc;
	case VTIO_MSGQ_CONFIG_WRITE:
		VTIO_MEMCPY(data, q->data, q->len);
		return dev_config(s, q->off, data, q->len, true);
	case VTIO_MSGQ_GET_STATUS:
		rc = rd(s, VTIO_MMIO_STATUS, &v);
		r->value = v & 0xffu;
		return rc;
	case VTIO_MSGQ_SET_STATUS:
		return wr(s, VTIO_MMIO_STATUS, q->value);
	case VTIO_MSGQ_GET_FEATURES:
		rc = wr(s, VTIO_MMIO_DEVICE_FEATURES_SEL, q->word);
		if (rc == 0)
			rc = rd(s, VTIO_MMIO_DEVICE_FEATURES, &r->value);
		return rc;
	case VTIO_MSGQ_SET_FEATURES:
		rc = wr(s, VTIO_MMIO_DRIVER_FEATURES_SEL, q->word);
		if (rc == 0)
			rc = wr(s, VTIO_MMIO_DRIVER_FEATURES, q->value);
		return rc;
	case VTIO_MSGQ_QUEUE_SETUP: {
		const uint32_t regs[][2] = {
		    {VTIO_MMIO_QUEUE_SEL, q->index},
		    {VTIO_MMIO_QUEUE_NUM, q->num},
		    {VTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc},
		    {VTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32)},
		    {VTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)q->driver},
		    {VTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(q->driver >> 32)},
		    {VTIO_MMIO_QUEUE_USED_LOW, (uint32_t)q->device},
		    {VTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(q->device >> 32)},
		};
		for (size_t i = 0; rc == 0 && i < sizeof(regs) / sizeof(regs[0]); i++)
			rc = wr(s, regs[i][0], regs[i][1]);
		if (rc == 0 && (q->qflags & VTIO_MSGQ_QUEUE_F_ENABLE))
			rc = wr(s, VTIO_MMIO_QUEUE_READY, 1);
		return rc;
	}
	case VTIO_MSGQ_QUEUE_INFO:
		rc = wr(s, VTIO_MMIO_QUEUE_SEL, q->index);
		if (rc == 0)
			rc = rd(s, VTIO_MMIO_QUEUE_NUM_MAX, &r->value);
		if (rc == 0)
			rc = rd(s, VTIO_MMIO_QUEUE_READY, &v);
		r->qflags = v ? VTIO_MSGQ_QUEUE_F_READY : 0;
		return rc;
	default:
		return VTIO_EBADMSG;
	}
}

int vtio_msgq_dev_handle(struct vtio_msgq_dev *s, const void *msg, size_t len, void *out,
			 size_t cap, size_t *out_len)
{
	if (s == NULL || out == NULL || out_len == NULL)
		return VTIO_EINVAL;
	*out_len = 0;
	struct vtio_msgq_msg q, r;
	uint8_t data[VTIO_MSGQ_MAX_DATA];
	int rc = vtio_msgq_decode(msg, len, &q);
	if (rc != 0 || (q.type & VTIO_MSGQ_RESP) || q.type == VTIO_MSGQ_EVENT) {
		s->stats.malformed++;
		/* Answer when the requester can tell which request failed. */
		const uint8_t *p = msg;
		if (msg == NULL || len < VTIO_MSGQ_HDR_SIZE || p[0] != VTIO_MSGQ_VERSION ||
		    resp_body(p[1]) < 0)
			return VTIO_EBADMSG;
		VTIO_MEMSET(&r, 0, sizeof(r));
		r.type = (uint8_t)(p[1] | VTIO_MSGQ_RESP);
		r.seq = get32(p + 4);
		r.result = VTIO_EBADMSG;
		rc = vtio_msgq_encode(&r, out, cap, out_len);
		return rc != 0 ? rc : VTIO_EBADMSG;
	}
	if (q.type == VTIO_MSGQ_NOTIFY) {
		s->stats.notifies++;
		if (s->regs.notify)
			s->regs.notify(s->regs_ctx, q.value);
		else
			(void)wr(s, VTIO_MMIO_QUEUE_NOTIFY, q.value);
		return 0;
	}
	s->stats.requests++;
	VTIO_MEMSET(&r, 0, sizeof(r));
	rc = dev_exec(s, &q, &r, data);
	if (rc > 0 || rc < VTIO_MSGQ_MIN_ERROR)
		rc = VTIO_EIO;
	if (rc != 0)
		s->stats.failed++;
	r.type = (uint8_t)(q.type | VTIO_MSGQ_RESP);
	r.seq = q.seq;
	r.result = rc;
	return vtio_msgq_encode(&r, out, cap, out_len);
}

int vtio_msgq_dev_poll(struct vtio_msgq_dev *s)
{
	if (s == NULL || s->chan.ops == NULL)
		return VTIO_EINVAL;
	size_t n = 0, out = 0;
	int rc = s->chan.ops->recv(s->chan.ctx, s->rx, sizeof(s->rx), &n);
	if (rc == VTIO_EBADMSG) {
		s->stats.malformed++;
		return 0;
	}
	if (rc != 0)
		return rc;
	if (n > sizeof(s->rx))
		return VTIO_EIO;
	rc = vtio_msgq_dev_handle(s, s->rx, n, s->tx, sizeof(s->tx), &out);
	if (rc != 0 && rc != VTIO_EBADMSG)
		return rc;
	if (out == 0)
		return 0;
	return s->chan.ops->send(s->chan.ctx, s->tx, out);
}

int vtio_msgq_dev_event(struct vtio_msgq_dev *s, uint32_t isr)
{
	if (s == NULL || s->chan.ops == NULL)
		return VTIO_EINVAL;
	uint8_t tx[VTIO_MSGQ_HDR_SIZE + 4];
	size_t n;
	struct vtio_msgq_msg m = {.type = VTIO_MSGQ_EVENT, .value = isr};
	int rc = vtio_msgq_encode(&m, tx, sizeof(tx), &n);
	return rc != 0 ? rc : s->chan.ops->send(s->chan.ctx, tx, n);
}

/* ---- virtio-mmio register hooks over messages ---------------------------------------------- */

/* With the driver role, like the virtio-mmio driver transport itself. */
#if VTIO_CONFIG_DRIVER
#include "vtio/transport/mmio.h"

static int msgq_mmio_read(void *ctx, uint32_t off, unsigned width, uint32_t *val)
{
	return vtio_msgq_drv_reg_read(ctx, off, width, val);
}

static int msgq_mmio_write(void *ctx, uint32_t off, unsigned width, uint32_t val)
{
	return vtio_msgq_drv_reg_write(ctx, off, width, val);
}

const struct vtio_mmio_ops vtio_msgq_mmio_ops = {
    .name = "msgq",
    .read = msgq_mmio_read,
    .write = msgq_mmio_write,
};
#endif /* VTIO_CONFIG_DRIVER */

/* ---- Device side over the virtio-mmio register model ------------------------------------- */

/* With the device role, like the register model itself. */
#if VTIO_CONFIG_DEVICE
#include "vtio/transport/mmio_dev.h"

static int msgq_model_read(void *ctx, uint32_t off, unsigned width, uint32_t *val)
{
	return vtio_mmio_dev_read(ctx, off, width, val);
}

static int msgq_model_write(void *ctx, uint32_t off, unsigned width, uint32_t val)
{
	return vtio_mmio_dev_write(ctx, off, width, val);
}

static void msgq_model_hello(void *ctx)
{
	/* A new session starts from a reset device (RESET-DEV-1). */
	(void)vtio_mmio_dev_write(ctx, VTIO_MMIO_STATUS, 4, 0);
}

static void msgq_model_notify(void *ctx, uint32_t data)
{
	(void)vtio_mmio_dev_write(ctx, VTIO_MMIO_QUEUE_NOTIFY, 4, data);
}

const struct vtio_msgq_regs_ops vtio_msgq_mmio_dev_regs = {
    .read = msgq_model_read,
    .write = msgq_model_write,
    .hello = msgq_model_hello,
    .notify = msgq_model_notify,
};
#endif /* VTIO_CONFIG_DEVICE */
