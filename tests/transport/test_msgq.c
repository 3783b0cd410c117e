/*
 * Message-queue transport (seed 002): wire codec, driver side, device side,
 * and the POSIX stream channel.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "host_msgq.h"
#include "vtio/spec.h"
#include "vtio/transport/msgq.h"

/* ---- A register model: 0x100 bytes of registers and 600 bytes of config ---- */

#define CFG_LEN 600u

struct model {
	uint32_t regs[0x100 / 4];
	uint8_t cfg[CFG_LEN];
	unsigned reads, writes, hellos, notifies;
	uint32_t last_notify;
	uint32_t feat_sel, drv_sel;
	uint32_t drv_features[4];
};

static int m_read(void *ctx, uint32_t off, unsigned width, uint32_t *val)
{
	struct model *m = ctx;
	m->reads++;
	if (off >= VTIO_MMIO_CONFIG) {
		uint32_t o = off - VTIO_MMIO_CONFIG;
		if (o + width > CFG_LEN)
			return VTIO_ERANGE;
		uint32_t v = 0;
		for (unsigned i = 0; i < width; i++)
			v |= (uint32_t)m->cfg[o + i] << (8 * i);
		*val = v;
		return 0;
	}
	if (width != 4)
		return VTIO_EINVAL;
	if (off == VTIO_MMIO_DEVICE_FEATURES) {
		*val = 0x1000u * (m->feat_sel + 1);
		return 0;
	}
	*val = m->regs[off / 4];
	return 0;
}

static int m_write(void *ctx, uint32_t off, unsigned width, uint32_t val)
{
	struct model *m = ctx;
	m->writes++;
	if (off >= VTIO_MMIO_CONFIG) {
		uint32_t o = off - VTIO_MMIO_CONFIG;
		if (o + width > CFG_LEN)
			return VTIO_ERANGE;
		for (unsigned i = 0; i < width; i++)
			m->cfg[o + i] = (uint8_t)(val >> (8 * i));
		return 0;
	}
	if (width != 4)
		return VTIO_EINVAL;
	if (off == VTIO_MMIO_STATUS && val != 0 && (val & m->regs[off / 4]) != m->regs[off / 4])
		return VTIO_EPERM; /* clearing a bit: out of order */
	if (off == VTIO_MMIO_DEVICE_FEATURES_SEL)
		m->feat_sel = val;
	if (off == VTIO_MMIO_DRIVER_FEATURES_SEL)
		m->drv_sel = val;
	if (off == VTIO_MMIO_DRIVER_FEATURES && m->drv_sel < 4)
		m->drv_features[m->drv_sel] = val;
	m->regs[off / 4] = val;
	return 0;
}

static void m_hello(void *ctx)
{
	struct model *m = ctx;
	m->hellos++;
	memset(m->regs, 0, sizeof(m->regs));
}

static void m_notify(void *ctx, uint32_t data)
{
	struct model *m = ctx;
	m->notifies++;
	m->last_notify = data;
}

static const struct vtio_msgq_regs_ops model_ops = {
    .read = m_read, .write = m_write, .hello = m_hello, .notify = m_notify};

/* ---- An in-process channel: send runs the device side at once ---- */

struct direct {
	struct vtio_msgq_dev dev;
	uint8_t q[8][VTIO_MSGQ_MAX_MSG]; /* pending messages for the driver */
	size_t qlen[8];
	unsigned head, count;
	bool gone;	     /* the device "process" died */
	bool corrupt_next;   /* flip a reserved byte of the next response */
	unsigned events_per; /* EVENT messages queued before each response */
	bool stale_first;    /* queue a stale response before the real one */
};

static void push(struct direct *d, const void *msg, size_t len)
{
	unsigned at = (d->head + d->count) % 8;
	assert_true(d->count < 8);
	memcpy(d->q[at], msg, len);
	d->qlen[at] = len;
	d->count++;
}

static int d_send(void *ctx, const void *msg, size_t len)
{
	struct direct *d = ctx;
	if (d->gone)
		return VTIO_EIO;
	uint8_t out[VTIO_MSGQ_MAX_MSG];
	size_t n = 0;
	(void)vtio_msgq_dev_handle(&d->dev, msg, len, out, sizeof(out), &n);
	for (unsigned i = 0; i < d->events_per; i++)
		assert_int_equal(vtio_msgq_dev_event(&d->dev, VTIO_MMIO_INT_VRING), 0);
	if (n && d->stale_first) {
		uint8_t stale[VTIO_MSGQ_MAX_MSG];
		memcpy(stale, out, n);
		uint32_t seq = (uint32_t)stale[4] | (uint32_t)stale[5] << 8;
		seq -= 1;
		stale[4] = (uint8_t)seq;
		stale[5] = (uint8_t)(seq >> 8);
		push(d, stale, n);
		d->stale_first = false;
	}
	if (n && d->corrupt_next) {
		out[n - 1] ^= 0x40;	   /* last byte: a value or a reserved byte */
		out[2] = (uint8_t)(n + 1); /* and a length that does not match */
		d->corrupt_next = false;
	}
	if (n)
		push(d, out, n);
	return 0;
}

static int d_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
	struct direct *d = ctx;
	if (d->count == 0)
		return d->gone ? VTIO_EIO : VTIO_EAGAIN;
	assert_true(d->qlen[d->head] <= cap);
	memcpy(buf, d->q[d->head], d->qlen[d->head]);
	*len = d->qlen[d->head];
	d->head = (d->head + 1) % 8;
	d->count--;
	return 0;
}

/* The device side's channel: EVENT messages go to the same queue. */
static int d_dev_send(void *ctx, const void *msg, size_t len)
{
	push(ctx, msg, len);
	return 0;
}

static int d_dev_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
	(void)ctx;
	(void)buf;
	(void)cap;
	(void)len;
	return VTIO_EAGAIN;
}

static const struct vtio_msgq_chan_ops direct_ops = {.send = d_send, .recv = d_recv};
static const struct vtio_msgq_chan_ops direct_dev_ops = {.send = d_dev_send, .recv = d_dev_recv};

struct fix {
	struct model m;
	struct direct d;
	struct vtio_msgq_drv drv;
	unsigned events;
	uint32_t last_isr;
	unsigned rings;
	uint32_t last_ring;
};

static int ring_cb(void *ctx, uint32_t which)
{
	struct fix *f = ctx;
	f->rings++;
	f->last_ring = which;
	return 0;
}

static void on_event(void *ctx, uint32_t isr)
{
	struct fix *f = ctx;
	f->events++;
	f->last_isr = isr;
}

static struct fix *fix_new(void)
{
	static struct fix f;
	memset(&f, 0, sizeof(f));
	struct vtio_msgq_chan dc = {.ops = &direct_dev_ops, .ctx = &f.d};
	assert_int_equal(vtio_msgq_dev_init(&f.d.dev, &dc, &model_ops, &f.m), 0);
	struct vtio_msgq_chan c = {.ops = &direct_ops, .ctx = &f.d};
	assert_int_equal(vtio_msgq_drv_init(&f.drv, &c, on_event, &f), 0);
	for (unsigned i = 0; i < CFG_LEN; i++)
		f.m.cfg[i] = (uint8_t)(i * 7 + 1);
	return &f;
}

/* ---- Codec ---- */

static void roundtrip(const struct vtio_msgq_msg *in, size_t expect_len)
{
	uint8_t buf[VTIO_MSGQ_MAX_MSG + 1];
	size_t n = 0;
	assert_int_equal(vtio_msgq_encode(in, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, expect_len);
	assert_int_equal(buf[0], VTIO_MSGQ_VERSION);
	assert_int_equal(buf[1], in->type);
	assert_int_equal(buf[2] | buf[3] << 8, n);
	assert_int_equal(vtio_msgq_peek_length(buf), (int)n);
	struct vtio_msgq_msg out;
	assert_int_equal(vtio_msgq_decode(buf, n, &out), 0);
	assert_int_equal(out.type, in->type);
	assert_int_equal(out.seq, in->seq);
	assert_int_equal(out.result, in->result);
	assert_int_equal(out.value, in->value);
	assert_int_equal(out.off, in->off);
	assert_int_equal(out.width, in->width);
	assert_int_equal(out.word, in->word);
	assert_int_equal(out.index, in->index);
	assert_int_equal(out.qflags, in->qflags);
	assert_int_equal(out.num, in->num);
	assert_true(out.desc == in->desc && out.driver == in->driver && out.device == in->device);
	assert_int_equal(out.len, in->len);
	if (in->data)
		assert_memory_equal(out.data, in->data, in->len);
	/* Every strict prefix and one byte more are refused. */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(vtio_msgq_decode(buf, k, &out), VTIO_EBADMSG);
	buf[n] = 0;
	assert_int_equal(vtio_msgq_decode(buf, n + 1, &out), VTIO_EBADMSG);
}

static void test_codec_roundtrip_every_type(void **state)
{
	(void)state;
	static const uint8_t data[VTIO_MSGQ_MAX_DATA] = {1, 2, 3, 4, 5};
	const struct vtio_msgq_msg msgs[] = {
	    {.type = VTIO_MSGQ_HELLO, .seq = 1, .value = VTIO_MSGQ_MAX_MSG},
	    {.type = VTIO_MSGQ_REG_READ, .seq = 2, .off = 0x70, .width = 4},
	    {.type = VTIO_MSGQ_REG_WRITE, .seq = 3, .off = 0x102, .width = 2, .value = 0xbeef},
	    {.type = VTIO_MSGQ_CONFIG_READ, .seq = 4, .off = 7, .len = 200},
	    {.type = VTIO_MSGQ_CONFIG_WRITE, .seq = 5, .off = 9, .len = 5, .data = data},
	    {.type = VTIO_MSGQ_CONFIG_WRITE, .seq = 5, .len = VTIO_MSGQ_MAX_DATA, .data = data},
	    {.type = VTIO_MSGQ_GET_STATUS, .seq = 6},
	    {.type = VTIO_MSGQ_SET_STATUS, .seq = 7, .value = 0x8f},
	    {.type = VTIO_MSGQ_GET_FEATURES, .seq = 8, .word = 1},
	    {.type = VTIO_MSGQ_SET_FEATURES, .seq = 9, .word = 3, .value = 0xdeadbeef},
	    {.type = VTIO_MSGQ_QUEUE_SETUP,
	     .seq = 10,
	     .index = 3,
	     .qflags = VTIO_MSGQ_QUEUE_F_ENABLE,
	     .num = 256,
	     .desc = 0x123456789abcull,
	     .driver = 0xfedcba9876543210ull,
	     .device = 1},
	    {.type = VTIO_MSGQ_QUEUE_INFO, .seq = 11, .index = 65535},
	    {.type = VTIO_MSGQ_NOTIFY, .seq = 12, .value = 0x10002},
	    {.type = VTIO_MSGQ_EVENT, .seq = 13, .value = 3},
	    {.type = VTIO_MSGQ_HELLO | VTIO_MSGQ_RESP, .seq = 1, .value = 300},
	    {.type = VTIO_MSGQ_REG_READ | VTIO_MSGQ_RESP, .seq = 2, .value = 0x74726976},
	    {.type = VTIO_MSGQ_REG_WRITE | VTIO_MSGQ_RESP, .seq = 3, .result = VTIO_ERANGE},
	    {.type = VTIO_MSGQ_CONFIG_READ | VTIO_MSGQ_RESP, .seq = 4, .len = 3, .data = data},
	    {.type = VTIO_MSGQ_GET_STATUS | VTIO_MSGQ_RESP, .seq = 6, .value = 0x0f},
	    {.type = VTIO_MSGQ_GET_FEATURES | VTIO_MSGQ_RESP, .seq = 8, .value = 1},
	    {.type = VTIO_MSGQ_QUEUE_INFO | VTIO_MSGQ_RESP,
	     .seq = 11,
	     .value = 1024,
	     .qflags = VTIO_MSGQ_QUEUE_F_READY},
	    {.type = VTIO_MSGQ_QUEUE_SETUP | VTIO_MSGQ_RESP,
	     .seq = 10,
	     .result = VTIO_MSGQ_MIN_ERROR},
	};
	const size_t lens[] = {
	    12, 16, 20, 16, 21, 16 + VTIO_MSGQ_MAX_DATA, 8, 12, 12, 16, 40, 12, 12, 12, 16, 16, 12,
	    15, 16, 16, 20, 12};
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		roundtrip(&msgs[i], lens[i]);
	assert_int_equal(VTIO_MSGQ_MAX_MSG, 16 + VTIO_MSGQ_MAX_DATA);
}

static void test_codec_wire_bytes(void **state)
{
	(void)state;
	/* Little-endian, field by field, independent of the host order. */
	struct vtio_msgq_msg m = {.type = VTIO_MSGQ_QUEUE_SETUP,
				  .seq = 0x01020304,
				  .index = 0x0506,
				  .qflags = 1,
				  .num = 0x0708090a,
				  .desc = 0x1112131415161718ull,
				  .driver = 0x2122232425262728ull,
				  .device = 0x3132333435363738ull};
	const uint8_t expect[40] = {1,	  10,	40,   0,    4,	  3,	2,    1,    6,	  5,
				    1,	  0,	0x0a, 9,    8,	  7,	0x18, 0x17, 0x16, 0x15,
				    0x14, 0x13, 0x12, 0x11, 0x28, 0x27, 0x26, 0x25, 0x24, 0x23,
				    0x22, 0x21, 0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31};
	uint8_t buf[64];
	size_t n;
	assert_int_equal(vtio_msgq_encode(&m, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 40);
	assert_memory_equal(buf, expect, 40);
	/* Too small a buffer. */
	assert_int_equal(vtio_msgq_encode(&m, buf, 39, &n), VTIO_ENOBUFS);
}

static void expect_bad(const uint8_t *b, size_t n)
{
	struct vtio_msgq_msg m;
	assert_int_equal(vtio_msgq_decode(b, n, &m), VTIO_EBADMSG);
}

static void test_codec_rejects(void **state)
{
	(void)state;
	uint8_t b[VTIO_MSGQ_MAX_MSG + 8];
	size_t n;
	struct vtio_msgq_msg m = {
	    .type = VTIO_MSGQ_REG_WRITE, .off = 0x100, .width = 1, .value = 7};
	assert_int_equal(vtio_msgq_encode(&m, b, sizeof(b), &n), 0);
	/* Every reserved byte must be zero. */
	for (size_t k = 13; k < 16; k++) {
		b[k] = 1;
		expect_bad(b, n);
		b[k] = 0;
	}
	/* Version, type, length, width, alignment, value range. */
	b[0] = 2;
	expect_bad(b, n);
	b[0] = 1;
	b[1] = 0x40;
	expect_bad(b, n);
	b[1] = VTIO_MSGQ_REG_WRITE | VTIO_MSGQ_RESP; /* a response of 20 bytes */
	expect_bad(b, n);
	b[1] = VTIO_MSGQ_REG_WRITE;
	b[2] = 21;
	expect_bad(b, n);
	b[2] = 20;
	b[12] = 3;
	expect_bad(b, n);
	b[12] = 2;
	b[8] = 0x01; /* off 0x101 with width 2: misaligned */
	expect_bad(b, n);
	b[12] = 1;
	b[17] = 1; /* value 0x107 does not fit in one byte */
	expect_bad(b, n);
	b[17] = 0;
	struct vtio_msgq_msg out;
	assert_int_equal(vtio_msgq_decode(b, n, &out), 0);

	/* Responses: a positive result, a result below the floor, error with data. */
	struct vtio_msgq_msg r = {.type = VTIO_MSGQ_REG_READ | VTIO_MSGQ_RESP, .value = 5};
	assert_int_equal(vtio_msgq_encode(&r, b, sizeof(b), &n), 0);
	b[8] = 1;
	expect_bad(b, n);
	b[8] = 0;
	b[8] = 0x00, b[9] = 0xf0, b[10] = 0xff, b[11] = 0xff; /* -4096 */
	expect_bad(b, n);
	b[8] = 0xfe, b[9] = 0xff; /* -2 with 4 bytes of value: too long for an error */
	expect_bad(b, n);
	/* NOTIFY / EVENT have no response. */
	struct vtio_msgq_msg nr = {.type = VTIO_MSGQ_NOTIFY | VTIO_MSGQ_RESP};
	assert_int_equal(vtio_msgq_encode(&nr, b, sizeof(b), &n), VTIO_EINVAL);
	memcpy(b, "\x01\xa0\x0c\x00\x00\x00\x00\x00\x00\x00\x00\x00", 12);
	expect_bad(b, 12);
	/* Config lengths: 0, above the maximum, data length mismatch. */
	struct vtio_msgq_msg c = {.type = VTIO_MSGQ_CONFIG_READ, .len = 0};
	assert_int_equal(vtio_msgq_encode(&c, b, sizeof(b), &n), VTIO_EINVAL);
	c.len = VTIO_MSGQ_MAX_DATA + 1;
	assert_int_equal(vtio_msgq_encode(&c, b, sizeof(b), &n), VTIO_EINVAL);
	static const uint8_t data[4] = {1, 2, 3, 4};
	struct vtio_msgq_msg w = {.type = VTIO_MSGQ_CONFIG_WRITE, .len = 4, .data = data};
	assert_int_equal(vtio_msgq_encode(&w, b, sizeof(b), &n), 0);
	b[12] = 3; /* claims 3 data bytes, carries 4 */
	expect_bad(b, n);
	/* Messages longer than the format allows are refused by length alone. */
	memset(b, 0, sizeof(b));
	b[0] = 1;
	b[1] = VTIO_MSGQ_CONFIG_WRITE;
	b[2] = (uint8_t)(VTIO_MSGQ_MAX_MSG + 1);
	b[3] = (uint8_t)((VTIO_MSGQ_MAX_MSG + 1) >> 8);
	expect_bad(b, VTIO_MSGQ_MAX_MSG + 1);
	assert_int_equal(vtio_msgq_peek_length(b), VTIO_EBADMSG);
	/* HELLO announcing a buffer too small for the format. */
	struct vtio_msgq_msg h = {.type = VTIO_MSGQ_HELLO, .value = VTIO_MSGQ_MIN_MSG - 1};
	assert_int_equal(vtio_msgq_encode(&h, b, sizeof(b), &n), VTIO_EINVAL);
	expect_bad(NULL, 8);
}

/* ---- Driver and device over the in-process channel ---- */

static void test_register_access(void **state)
{
	(void)state;
	struct fix *f = fix_new();
	assert_int_equal(vtio_msgq_drv_hello(&f->drv), 0);
	assert_int_equal(f->m.hellos, 1);
	assert_int_equal(f->drv.peer_max, VTIO_MSGQ_MAX_MSG);

	assert_int_equal(vtio_msgq_drv_reg_write(&f->drv, VTIO_MMIO_STATUS, 4, 3), 0);
	assert_int_equal(f->m.regs[VTIO_MMIO_STATUS / 4], 3);
	uint32_t v = 0;
	assert_int_equal(vtio_msgq_drv_reg_read(&f->drv, VTIO_MMIO_STATUS, 4, &v), 0);
	assert_int_equal(v, 3);
	/* Status written out of order: the model's error comes back. */
	assert_int_equal(vtio_msgq_drv_reg_write(&f->drv, VTIO_MMIO_STATUS, 4, 1), VTIO_EPERM);
	assert_int_equal(f->m.regs[VTIO_MMIO_STATUS / 4], 3);
	/* Config bytes by width. */
	assert_int_equal(vtio_msgq_drv_reg_read(&f->drv, VTIO_MMIO_CONFIG + 2, 2, &v), 0);
	assert_int_equal(v, f->m.cfg[2] | f->m.cfg[3] << 8);
	assert_int_equal(vtio_msgq_drv_reg_write(&f->drv, VTIO_MMIO_CONFIG + 5, 1, 0xab), 0);
	assert_int_equal(f->m.cfg[5], 0xab);
	/* Out-of-range config access: a clear error, all ones like a bus error. */
	assert_int_equal(vtio_msgq_drv_reg_read(&f->drv, VTIO_MMIO_CONFIG + CFG_LEN, 4, &v),
			 VTIO_ERANGE);
	assert_int_equal(v, UINT32_MAX);
	/* Caller bugs are refused before anything is sent. */
	uint64_t sent = f->drv.stats.requests;
	assert_int_equal(vtio_msgq_drv_reg_read(&f->drv, 0x72, 4, &v), VTIO_EINVAL);
	assert_int_equal(vtio_msgq_drv_reg_write(&f->drv, 0x100, 1, 0x100), VTIO_EINVAL);
	assert_int_equal(vtio_msgq_drv_reg_write(&f->drv, 0x100, 3, 0), VTIO_EINVAL);
	assert_int_equal(f->drv.stats.requests, sent);
	assert_false(vtio_msgq_drv_is_dead(&f->drv));
	/* NOTIFY goes one way. */
	assert_int_equal(vtio_msgq_drv_notify(&f->drv, 0x30001), 0);
	assert_int_equal(f->m.notifies, 1);
	assert_int_equal(f->m.last_notify, 0x30001);
	assert_int_equal(f->d.count, 0);
	/* With a doorbell, QueueNotify writes ring it: no message at all. */
	vtio_msgq_drv_set_doorbell(&f->drv, ring_cb, f);
	sent = f->drv.stats.requests;
	assert_int_equal(vtio_msgq_drv_reg_write(&f->drv, VTIO_MMIO_QUEUE_NOTIFY, 4, 0x50003), 0);
	assert_int_equal(f->rings, 1);
	assert_int_equal(f->last_ring, 3);
	assert_int_equal(f->drv.stats.requests, sent);
	assert_int_equal(f->m.notifies, 1);
	/* Other registers still go by message. */
	assert_int_equal(vtio_msgq_drv_reg_write(&f->drv, VTIO_MMIO_QUEUE_SEL, 4, 1), 0);
	assert_int_equal(f->drv.stats.requests, sent + 1);
}

static void test_config_range(void **state)
{
	(void)state;
	struct fix *f = fix_new();
	uint8_t buf[CFG_LEN];
	/* Larger than one message: split into VTIO_MSGQ_MAX_DATA pieces. */
	uint64_t before = f->drv.stats.requests;
	assert_int_equal(vtio_msgq_drv_config_read(&f->drv, 1, buf, CFG_LEN - 1), 0);
	assert_memory_equal(buf, f->m.cfg + 1, CFG_LEN - 1);
	assert_int_equal(f->drv.stats.requests - before, 3);
	for (unsigned i = 0; i < CFG_LEN; i++)
		buf[i] = (uint8_t)~i;
	assert_int_equal(vtio_msgq_drv_config_write(&f->drv, 0, buf, CFG_LEN), 0);
	assert_memory_equal(buf, f->m.cfg, CFG_LEN);
	/* The device used the widest aligned accesses: 600 bytes, 150 writes. */
	/* Out of range: the device refuses, nothing is copied. */
	memset(buf, 0xcc, sizeof(buf));
	assert_int_equal(vtio_msgq_drv_config_read(&f->drv, CFG_LEN - 2, buf, 4), VTIO_ERANGE);
	assert_int_equal(buf[0], 0xcc);
	assert_int_equal(vtio_msgq_drv_config_read(&f->drv, UINT32_MAX - 1, buf, 4), VTIO_EINVAL);
	struct vtio_msgq_msg wrap = {.type = VTIO_MSGQ_CONFIG_READ,
				     .off = UINT32_MAX - 2,
				     .len = 8},
			     resp;
	assert_int_equal(vtio_msgq_drv_call(&f->drv, &wrap, &resp), VTIO_ERANGE);
	assert_false(vtio_msgq_drv_is_dead(&f->drv));
}

static void test_compound_requests(void **state)
{
	(void)state;
	struct fix *f = fix_new();
	struct vtio_msgq_msg q, r;
	q = (struct vtio_msgq_msg){.type = VTIO_MSGQ_SET_STATUS, .value = 1};
	assert_int_equal(vtio_msgq_drv_call(&f->drv, &q, &r), 0);
	q = (struct vtio_msgq_msg){.type = VTIO_MSGQ_GET_STATUS};
	assert_int_equal(vtio_msgq_drv_call(&f->drv, &q, &r), 0);
	assert_int_equal(r.value, 1);
	q = (struct vtio_msgq_msg){.type = VTIO_MSGQ_GET_FEATURES, .word = 1};
	assert_int_equal(vtio_msgq_drv_call(&f->drv, &q, &r), 0);
	assert_int_equal(r.value, 0x2000);
	q = (struct vtio_msgq_msg){.type = VTIO_MSGQ_SET_FEATURES, .word = 1, .value = 0x1234};
	assert_int_equal(vtio_msgq_drv_call(&f->drv, &q, &r), 0);
	assert_int_equal(f->m.drv_features[1], 0x1234);
	q = (struct vtio_msgq_msg){.type = VTIO_MSGQ_QUEUE_SETUP,
				   .index = 2,
				   .qflags = VTIO_MSGQ_QUEUE_F_ENABLE,
				   .num = 128,
				   .desc = 0x100000000ull | 0x1000,
				   .driver = 0x2000,
				   .device = 0x3000};
	assert_int_equal(vtio_msgq_drv_call(&f->drv, &q, &r), 0);
	assert_int_equal(f->m.regs[VTIO_MMIO_QUEUE_SEL / 4], 2);
	assert_int_equal(f->m.regs[VTIO_MMIO_QUEUE_NUM / 4], 128);
	assert_int_equal(f->m.regs[VTIO_MMIO_QUEUE_DESC_LOW / 4], 0x1000);
	assert_int_equal(f->m.regs[VTIO_MMIO_QUEUE_DESC_HIGH / 4], 1);
	assert_int_equal(f->m.regs[VTIO_MMIO_QUEUE_USED_LOW / 4], 0x3000);
	assert_int_equal(f->m.regs[VTIO_MMIO_QUEUE_READY / 4], 1);
	f->m.regs[VTIO_MMIO_QUEUE_NUM_MAX / 4] = 512;
	q = (struct vtio_msgq_msg){.type = VTIO_MSGQ_QUEUE_INFO, .index = 2};
	assert_int_equal(vtio_msgq_drv_call(&f->drv, &q, &r), 0);
	assert_int_equal(r.value, 512);
	assert_int_equal(r.qflags, VTIO_MSGQ_QUEUE_F_READY);
	/* A request type without a response is not a call. */
	q = (struct vtio_msgq_msg){.type = VTIO_MSGQ_NOTIFY};
	assert_int_equal(vtio_msgq_drv_call(&f->drv, &q, &r), VTIO_EINVAL);
}

static void test_events_and_stale(void **state)
{
	(void)state;
	struct fix *f = fix_new();
	f->d.events_per = 2;
	uint32_t v;
	assert_int_equal(vtio_msgq_drv_reg_read(&f->drv, VTIO_MMIO_STATUS, 4, &v), 0);
	assert_int_equal(f->events, 2);
	assert_int_equal(f->last_isr, VTIO_MMIO_INT_VRING);
	f->d.events_per = 0;
	/* A stale response (sequence of an earlier request) is dropped. */
	f->d.stale_first = true;
	f->m.regs[VTIO_MMIO_QUEUE_NUM_MAX / 4] = 77;
	assert_int_equal(vtio_msgq_drv_reg_read(&f->drv, VTIO_MMIO_QUEUE_NUM_MAX, 4, &v), 0);
	assert_int_equal(v, 77);
	assert_int_equal(f->drv.stats.stale, 1);
	/* Events without a request. */
	assert_int_equal(vtio_msgq_dev_event(&f->d.dev, VTIO_MMIO_INT_CONFIG), 0);
	assert_int_equal(vtio_msgq_drv_poll_events(&f->drv), 1);
	assert_int_equal(f->last_isr, VTIO_MMIO_INT_CONFIG);
	assert_int_equal(vtio_msgq_drv_poll_events(&f->drv), 0);
}

static void test_malformed_response_kills_session(void **state)
{
	(void)state;
	struct fix *f = fix_new();
	uint32_t v;
	f->d.corrupt_next = true;
	assert_int_equal(vtio_msgq_drv_reg_read(&f->drv, VTIO_MMIO_STATUS, 4, &v), VTIO_EBADMSG);
	assert_true(vtio_msgq_drv_is_dead(&f->drv));
	/* Every later call fails at once, nothing more is sent. */
	uint64_t sent = f->drv.stats.requests;
	assert_int_equal(vtio_msgq_drv_reg_read(&f->drv, VTIO_MMIO_STATUS, 4, &v), VTIO_EIO);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(vtio_msgq_drv_notify(&f->drv, 0), VTIO_EIO);
	assert_int_equal(f->drv.stats.requests, sent);
	/* A new channel (a new device process) brings it back. */
	f->d.count = 0;
	struct vtio_msgq_chan c = {.ops = &direct_ops, .ctx = &f->d};
	assert_int_equal(vtio_msgq_drv_reconnect(&f->drv, &c), 0);
	assert_int_equal(f->m.hellos, 1);
	assert_int_equal(vtio_msgq_drv_reg_read(&f->drv, VTIO_MMIO_STATUS, 4, &v), 0);
}

static void test_peer_gone(void **state)
{
	(void)state;
	struct fix *f = fix_new();
	uint32_t v;
	f->d.gone = true;
	assert_int_equal(vtio_msgq_drv_reg_write(&f->drv, VTIO_MMIO_STATUS, 4, 1), VTIO_EIO);
	assert_true(vtio_msgq_drv_is_dead(&f->drv));
	assert_int_equal(vtio_msgq_drv_reg_read(&f->drv, VTIO_MMIO_STATUS, 4, &v), VTIO_EIO);
}

static void test_device_answers_malformed(void **state)
{
	(void)state;
	struct fix *f = fix_new();
	uint8_t in[32], out[VTIO_MSGQ_MAX_MSG];
	size_t n, on;
	struct vtio_msgq_msg m = {.type = VTIO_MSGQ_SET_STATUS, .seq = 42, .value = 1};
	assert_int_equal(vtio_msgq_encode(&m, in, sizeof(in), &n), 0);
	in[10] = 1; /* reserved */
	assert_int_equal(vtio_msgq_dev_handle(&f->d.dev, in, n, out, sizeof(out), &on),
			 VTIO_EBADMSG);
	struct vtio_msgq_msg r;
	assert_int_equal(vtio_msgq_decode(out, on, &r), 0);
	assert_int_equal(r.type, VTIO_MSGQ_SET_STATUS | VTIO_MSGQ_RESP);
	assert_int_equal(r.seq, 42);
	assert_int_equal(r.result, VTIO_EBADMSG);
	assert_int_equal(f->m.writes, 0); /* nothing executed */
	/* No readable header: no answer. */
	assert_int_equal(vtio_msgq_dev_handle(&f->d.dev, in, 3, out, sizeof(out), &on),
			 VTIO_EBADMSG);
	assert_int_equal(on, 0);
	/* A response or an EVENT sent to the device: refused, no answer. */
	struct vtio_msgq_msg e = {.type = VTIO_MSGQ_EVENT, .value = 1};
	assert_int_equal(vtio_msgq_encode(&e, in, sizeof(in), &n), 0);
	assert_int_equal(vtio_msgq_dev_handle(&f->d.dev, in, n, out, sizeof(out), &on),
			 VTIO_EBADMSG);
	assert_int_equal(on, 0);
	assert_int_equal(f->d.dev.stats.malformed, 3);
}

/* ---- POSIX stream channel over a socketpair, device in a thread ---- */

struct devthread {
	struct model m;
	struct vtio_host_msgq_chan hc;
	struct vtio_msgq_dev dev;
	int end; /* what vtio_msgq_dev_poll returned last */
};

static void *dev_main(void *arg)
{
	struct devthread *t = arg;
	for (;;) {
		int rc = vtio_msgq_dev_poll(&t->dev);
		if (rc == 0 || rc == VTIO_ETIMEDOUT || rc == VTIO_EAGAIN)
			continue;
		t->end = rc;
		return NULL;
	}
}

static void test_socket_channel(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	static struct devthread t;
	memset(&t, 0, sizeof(t));
	struct vtio_msgq_chan dc = vtio_host_msgq_chan_init(&t.hc, sv[1], 200);
	assert_int_equal(vtio_msgq_dev_init(&t.dev, &dc, &model_ops, &t.m), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, dev_main, &t), 0);

	struct vtio_host_msgq_chan hc;
	struct vtio_msgq_chan c = vtio_host_msgq_chan_init(&hc, sv[0], 2000);
	static struct vtio_msgq_drv drv;
	assert_int_equal(vtio_msgq_drv_init(&drv, &c, NULL, NULL), 0);
	assert_int_equal(vtio_msgq_drv_hello(&drv), 0);
	uint32_t v;
	for (uint32_t i = 0; i < 200; i++) {
		assert_int_equal(vtio_msgq_drv_reg_write(&drv, VTIO_MMIO_QUEUE_SEL, 4, i), 0);
		assert_int_equal(vtio_msgq_drv_reg_read(&drv, VTIO_MMIO_QUEUE_SEL, 4, &v), 0);
		assert_int_equal(v, i);
	}
	uint8_t big[CFG_LEN];
	assert_int_equal(vtio_msgq_drv_config_read(&drv, 0, big, sizeof(big)), 0);
	assert_memory_equal(big, t.m.cfg, sizeof(big));

	/* Garbage header: the device side drops the session (a stream cannot
	 * be re-framed), the driver sees the socket close. */
	assert_int_equal(write(sv[0], "\x07garbage", 8), 8);
	pthread_join(th, NULL);
	assert_int_equal(t.end, VTIO_EIO);
	close(sv[1]);
	assert_int_equal(vtio_msgq_drv_reg_read(&drv, VTIO_MMIO_STATUS, 4, &v), VTIO_EIO);
	assert_true(vtio_msgq_drv_is_dead(&drv));
	close(sv[0]);
}

static void test_socket_peer_dies_mid_call(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct vtio_host_msgq_chan hc;
	struct vtio_msgq_chan c = vtio_host_msgq_chan_init(&hc, sv[0], 2000);
	static struct vtio_msgq_drv drv;
	assert_int_equal(vtio_msgq_drv_init(&drv, &c, NULL, NULL), 0);
	/* Half a response, then the peer closes. */
	assert_int_equal(write(sv[1], "\x01\x82\x10\x00", 4), 4);
	close(sv[1]);
	uint32_t v;
	assert_int_equal(vtio_msgq_drv_reg_read(&drv, VTIO_MMIO_STATUS, 4, &v), VTIO_EIO);
	close(sv[0]);

	/* A device that never answers: a timeout, the session stays usable. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c = vtio_host_msgq_chan_init(&hc, sv[0], 50);
	assert_int_equal(vtio_msgq_drv_init(&drv, &c, NULL, NULL), 0);
	assert_int_equal(vtio_msgq_drv_reg_read(&drv, VTIO_MMIO_STATUS, 4, &v), VTIO_ETIMEDOUT);
	assert_false(vtio_msgq_drv_is_dead(&drv));
	close(sv[1]);
	close(sv[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_codec_roundtrip_every_type),
	    cmocka_unit_test(test_codec_wire_bytes),
	    cmocka_unit_test(test_codec_rejects),
	    cmocka_unit_test(test_register_access),
	    cmocka_unit_test(test_config_range),
	    cmocka_unit_test(test_compound_requests),
	    cmocka_unit_test(test_events_and_stale),
	    cmocka_unit_test(test_malformed_response_kills_session),
	    cmocka_unit_test(test_peer_gone),
	    cmocka_unit_test(test_device_answers_malformed),
	    cmocka_unit_test(test_socket_channel),
	    cmocka_unit_test(test_socket_peer_dies_mid_call),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
