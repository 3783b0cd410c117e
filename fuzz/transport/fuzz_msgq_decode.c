/*
 * Message-queue transport: the decoder and the device side against any
 * bytes a hostile peer can send.
 *
 * Properties checked on every input:
 *  - vtio_msgq_decode() never reads outside the message and either refuses
 *    it (VTIO_EBADMSG) or accepts it;
 *  - an accepted message is canonical: encoding the decoded form gives back
 *    exactly the same bytes (so every byte was validated: a reserved byte,
 *    a flag or a length the decoder did not check would differ);
 *  - the device side (vtio_msgq_dev_handle() on a register model that
 *    range-checks like a real one) never crashes, answers every request
 *    that has a response with a decodable response of the same type and
 *    sequence, and never answers NOTIFY, EVENT or a response.
 * The input is also split into messages by its length fields, so one input
 * can drive a whole session (HELLO, status writes, queue setup, ...).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vtio/spec.h"
#include "vtio/transport/msgq.h"

static uint32_t regs[0x200 / 4];

static int reg_read(void *ctx, uint32_t off, unsigned width, uint32_t *val)
{
	(void)ctx;
	if (off >= sizeof(regs) || (off & (width - 1)) != 0)
		return VTIO_ERANGE;
	uint32_t v = regs[off / 4] >> (8 * (off & 3));
	*val = width == 4 ? v : v & ((1u << (8 * width)) - 1u);
	return 0;
}

static int reg_write(void *ctx, uint32_t off, unsigned width, uint32_t val)
{
	(void)ctx;
	if (off >= sizeof(regs) || (off & (width - 1)) != 0)
		return VTIO_ERANGE;
	if (off == VTIO_MMIO_STATUS && val == 0xffu)
		return VTIO_EPERM;
	uint32_t shift = 8 * (off & 3), mask = width == 4 ? UINT32_MAX : ((1u << (8 * width)) - 1u);
	regs[off / 4] = (regs[off / 4] & ~(mask << shift)) | ((val & mask) << shift);
	return 0;
}

static const struct vtio_msgq_regs_ops ops = {.read = reg_read, .write = reg_write};

static void one(struct vtio_msgq_dev *dev, const uint8_t *data, size_t size)
{
	struct vtio_msgq_msg m = {0};
	/* Copy so an over-read past the message is an ASan error. */
	uint8_t *copy = malloc(size ? size : 1);
	if (copy == NULL)
		return;
	memcpy(copy, data, size);
	int rc = vtio_msgq_decode(copy, size, &m);
	if (rc == 0) {
		uint8_t again[VTIO_MSGQ_MAX_MSG];
		size_t n = 0;
		if (vtio_msgq_encode(&m, again, sizeof(again), &n) != 0 || n != size ||
		    memcmp(again, copy, size) != 0)
			abort();
	} else if (rc != VTIO_EBADMSG) {
		abort();
	}

	uint8_t out[VTIO_MSGQ_MAX_MSG];
	size_t out_len = 0;
	rc = vtio_msgq_dev_handle(dev, copy, size, out, sizeof(out), &out_len);
	if (rc != 0 && rc != VTIO_EBADMSG)
		abort();
	if (out_len != 0) {
		struct vtio_msgq_msg r;
		if (vtio_msgq_decode(out, out_len, &r) != 0 || !(r.type & VTIO_MSGQ_RESP) ||
		    size < VTIO_MSGQ_HDR_SIZE || r.type != (copy[1] | VTIO_MSGQ_RESP))
			abort();
		if (rc == VTIO_EBADMSG && r.result != VTIO_EBADMSG)
			abort();
	} else if (rc == 0 && !(m.type == VTIO_MSGQ_NOTIFY)) {
		abort(); /* a well-formed request got no answer */
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vtio_msgq_dev dev;
	memset(regs, 0, sizeof(regs));
	if (vtio_msgq_dev_init(&dev, NULL, &ops, NULL) != 0)
		abort();
	one(&dev, data, size);
	/* As a session: messages back to back, framed by their length fields. */
	size_t at = 0;
	while (size - at >= VTIO_MSGQ_HDR_SIZE) {
		int len = vtio_msgq_peek_length(data + at);
		if (len < 0 || (size_t)len > size - at)
			break;
		one(&dev, data + at, (size_t)len);
		at += (size_t)len;
	}
	return 0;
}
