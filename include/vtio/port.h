/**
 * @file port.h
 * @brief Platform hooks: barriers, ring-index atomics, endianness, copies,
 *        locks and the assert hook.
 *
 * Every hook is a macro under `#ifndef`, so an embedder overrides any of them
 * from the configuration header (see config.h, `VTIO_CONFIG_FILE`). The
 * defaults use the GCC/Clang `__atomic` builtins, which compile inline on
 * every target we build for and need no libc. This header and config.h are
 * the only places the core learns about its platform.
 *
 * The only C library symbols the core may reference are `memcpy`, `memset`
 * and `memmove` (through VTIO_MEMCPY/VTIO_MEMSET/VTIO_MEMMOVE, which a
 * compiler may also emit on its own for struct copies).
 */
#ifndef VTIO_PORT_H
#define VTIO_PORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup vtio_port Port layer
 * @{
 */

/* ---- Compiler helpers ------------------------------------------------ */

#ifndef VTIO_LIKELY
#if defined(__GNUC__) || defined(__clang__)
/** Branch hint: @p x is usually true. */
#define VTIO_LIKELY(x) __builtin_expect(!!(x), 1)
/** Branch hint: @p x is usually false. */
#define VTIO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
/** Branch hint: @p x is usually true. */
#define VTIO_LIKELY(x)	 (x)
/** Branch hint: @p x is usually false. */
#define VTIO_UNLIKELY(x) (x)
#endif
#endif

#ifndef VTIO_STATIC_ASSERT
#ifdef __cplusplus
/** Compile-time assertion usable at file scope. */
#define VTIO_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
/** Compile-time assertion usable at file scope. */
#define VTIO_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
#endif

#ifndef VTIO_INLINE
/** Inline function in a header. */
#define VTIO_INLINE static inline
#endif

/* ---- Assert hook for caller bugs -------------------------------------- */

#ifndef VTIO_ASSERT
#if defined(__GNUC__) || defined(__clang__)
/**
 * Check a precondition the *caller* owns (never data the peer wrote).
 * Stays on in release builds. Override to log, to call a firmware panic
 * handler, or (at your own risk) to compile checks away.
 */
#define VTIO_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (VTIO_UNLIKELY(!(cond)))                                                        \
			__builtin_trap();                                                          \
	} while (0)
#else
/** Check a precondition the caller owns (see the GCC/Clang variant). */
#define VTIO_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			*(volatile int *)0 = 0;                                                    \
	} while (0)
#endif
#endif

/* ---- Memory copies ------------------------------------------------------ */

#ifndef VTIO_MEMCPY
/** memcpy used by the core (named here so a firmware port can route it). */
#define VTIO_MEMCPY(d, s, n) __builtin_memcpy((d), (s), (n))
#endif
#ifndef VTIO_MEMSET
/** memset used by the core. */
#define VTIO_MEMSET(d, c, n) __builtin_memset((d), (c), (n))
#endif
#ifndef VTIO_MEMMOVE
/** memmove used by the core. */
#define VTIO_MEMMOVE(d, s, n) __builtin_memmove((d), (s), (n))
#endif

/* ---- Barriers ------------------------------------------------------------ */

/*
 * Two families, as in Linux virtio_ring's weak_barriers: SMP barriers order
 * memory between CPUs (the peer is software on another core); DMA barriers
 * order memory as seen by a bus-mastering device (the peer is hardware, or
 * VIRTIO_F_ORDER_PLATFORM was negotiated). Ring code picks one family per
 * queue.
 */
#ifndef VTIO_SMP_MB
/** Full SMP barrier (orders stores before later loads). */
#define VTIO_SMP_MB() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#ifndef VTIO_SMP_RMB
/** SMP read barrier. */
#define VTIO_SMP_RMB() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#endif
#ifndef VTIO_SMP_WMB
/** SMP write barrier. */
#define VTIO_SMP_WMB() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

/*
 * A bus master may sit outside the inner-shareable domain, so on ARM the DMA
 * barriers must reach the outer-shareable domain (Linux dma_rmb/dma_wmb).
 * ARMv7-A/R has no load-only variant; Cortex-M executes every DMB as SY.
 */
#if defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7 && defined(__ARM_ARCH_PROFILE) &&   \
    (__ARM_ARCH_PROFILE == 'A' || __ARM_ARCH_PROFILE == 'R') && !defined(VTIO_DMA_MB)
#define VTIO_DMA_MB()  __asm__ __volatile__("dmb osh" ::: "memory")
#define VTIO_DMA_RMB() __asm__ __volatile__("dmb osh" ::: "memory")
#define VTIO_DMA_WMB() __asm__ __volatile__("dmb oshst" ::: "memory")
#endif
#if defined(__aarch64__) && !defined(VTIO_DMA_MB)
#define VTIO_DMA_MB()  __asm__ __volatile__("dmb osh" ::: "memory")
#define VTIO_DMA_RMB() __asm__ __volatile__("dmb oshld" ::: "memory")
#define VTIO_DMA_WMB() __asm__ __volatile__("dmb oshst" ::: "memory")
#endif
#ifndef VTIO_DMA_MB
/** Full barrier against a DMA-capable device. */
#define VTIO_DMA_MB() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#ifndef VTIO_DMA_RMB
/** Read barrier against a DMA-capable device. */
#define VTIO_DMA_RMB() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#ifndef VTIO_DMA_WMB
/** Write barrier against a DMA-capable device. */
#define VTIO_DMA_WMB() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

/* ---- Ring index and flag accesses ---------------------------------------- */

/*
 * Indexes (split avail/used idx, packed descriptor flags) are published with
 * a release store and observed with an acquire load, so the data written
 * before them is visible after them; TSan understands these, which it does
 * not for bare fences. Event-suppression fields are read and written with
 * relaxed (untorn) accesses and ordered by explicit full barriers.
 * The value is the raw wire value: convert with vtio_le16() afterwards.
 */
#ifndef VTIO_LOAD_ACQUIRE16
/** Acquire load of a 16-bit ring field. */
#define VTIO_LOAD_ACQUIRE16(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
/** Release store of a 16-bit ring field. */
#define VTIO_STORE_RELEASE16(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
/** Untorn (relaxed) load of a 16-bit ring field. */
#define VTIO_READ_ONCE16(p) __atomic_load_n((p), __ATOMIC_RELAXED)
/** Untorn (relaxed) store of a 16-bit ring field. */
#define VTIO_WRITE_ONCE16(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
/** Untorn (relaxed) load of a 32-bit field. */
#define VTIO_READ_ONCE32(p) __atomic_load_n((p), __ATOMIC_RELAXED)
/** Untorn (relaxed) store of a 32-bit field. */
#define VTIO_WRITE_ONCE32(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#endif

/** Hint to the CPU inside a polling loop. */
#ifndef VTIO_CPU_RELAX
#if defined(__x86_64__) || defined(__i386__)
#define VTIO_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define VTIO_CPU_RELAX() __asm__ __volatile__("yield" ::: "memory")
#else
#define VTIO_CPU_RELAX() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#endif
#endif

/* ---- Cache maintenance for non-coherent memory ---------------------------- */

#ifndef VTIO_CACHE_FLUSH
/** Write back CPU caches for [p, p+n) before a device reads it (no-op on coherent systems). */
#define VTIO_CACHE_FLUSH(p, n) ((void)(p), (void)(n))
#endif
#ifndef VTIO_CACHE_INVALIDATE
/**
 * Invalidate CPU caches for [p, p+n) before the CPU reads what a device wrote.
 * Lines only partly inside the range hold other data: clean them before
 * invalidating (or keep device-writable buffers cache-line aligned).
 */
#define VTIO_CACHE_INVALIDATE(p, n) ((void)(p), (void)(n))
#endif

/* ---- Locks (bounce pools and other shared allocators) --------------------- */

/*
 * A firmware port may replace the spinlock by interrupt masking: define
 * VTIO_LOCK_T, VTIO_LOCK_INIT, VTIO_LOCK and VTIO_UNLOCK together.
 */
#ifndef VTIO_LOCK_T
/** Lock type (default: a test-and-set spinlock). */
#define VTIO_LOCK_T unsigned char
/** Initialise a lock. */
#define VTIO_LOCK_INIT(l) __atomic_clear((l), __ATOMIC_RELAXED)
/** Take a lock. */
#define VTIO_LOCK(l)                                                                               \
	do {                                                                                       \
		while (__atomic_test_and_set((l), __ATOMIC_ACQUIRE))                               \
			VTIO_CPU_RELAX();                                                          \
	} while (0)
/** Release a lock. */
#define VTIO_UNLOCK(l) __atomic_clear((l), __ATOMIC_RELEASE)
#endif

/* ---- Endianness ------------------------------------------------------------ */

/** Byte-swap 16 bits. */
VTIO_INLINE uint16_t vtio_bswap16(uint16_t x)
{
	return (uint16_t)((x >> 8) | (x << 8));
}
/** Byte-swap 32 bits. */
VTIO_INLINE uint32_t vtio_bswap32(uint32_t x)
{
	/* Written out so no target needs a libgcc helper; compilers turn it into one instruction.
	 */
	return (x >> 24) | ((x >> 8) & 0xff00u) | ((x << 8) & 0xff0000u) | (x << 24);
}
/** Byte-swap 64 bits. */
VTIO_INLINE uint64_t vtio_bswap64(uint64_t x)
{
	return ((uint64_t)vtio_bswap32((uint32_t)x) << 32) | vtio_bswap32((uint32_t)(x >> 32));
}

#if VTIO_CONFIG_BIG_ENDIAN
/** Convert between CPU order and little-endian (the same operation both ways). */
VTIO_INLINE uint16_t vtio_le16(uint16_t x)
{
	return vtio_bswap16(x);
}
/** Convert between CPU order and little-endian (32 bits). */
VTIO_INLINE uint32_t vtio_le32(uint32_t x)
{
	return vtio_bswap32(x);
}
/** Convert between CPU order and little-endian (64 bits). */
VTIO_INLINE uint64_t vtio_le64(uint64_t x)
{
	return vtio_bswap64(x);
}
#else
/** Convert between CPU order and little-endian (the same operation both ways). */
VTIO_INLINE uint16_t vtio_le16(uint16_t x)
{
	return x;
}
/** Convert between CPU order and little-endian (32 bits). */
VTIO_INLINE uint32_t vtio_le32(uint32_t x)
{
	return x;
}
/** Convert between CPU order and little-endian (64 bits). */
VTIO_INLINE uint64_t vtio_le64(uint64_t x)
{
	return x;
}
#endif

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* VTIO_PORT_H */
