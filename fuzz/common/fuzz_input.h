/*
 * The fuzz harnesses' input reader: little-endian fields taken from the
 * front of the fuzz input, zero once it runs out (so every input, however
 * short, decodes to a complete program).
 */
#ifndef VTIO_FUZZ_INPUT_H
#define VTIO_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct input {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t u8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}
static inline uint16_t u16(struct input *in)
{
	return (uint16_t)(u8(in) | (u8(in) << 8));
}
static inline uint32_t u32(struct input *in)
{
	return (uint32_t)u16(in) | ((uint32_t)u16(in) << 16);
}
static inline uint64_t u64(struct input *in)
{
	return (uint64_t)u32(in) | ((uint64_t)u32(in) << 32);
}

#endif /* VTIO_FUZZ_INPUT_H */
