/*
 * vtio_config_fw.h: configuration header of the bare-metal example, named
 * with -DVTIO_CONFIG_FILE='"vtio_config_fw.h"'. It is also the worked
 * example of docs/porting.md: everything a single-core microcontroller
 * port overrides, and nothing else (every hook not named here keeps its
 * default from include/vtio/port.h).
 *
 * Build options (VTIO_CONFIG_SPLIT, _PACKED, _DRIVER, _DEVICE, _INDIRECT,
 * _EVENT_IDX, _DMA, _BOUNCE) are left to the command line here so that
 * scripts/size-report.sh can build every configuration from one header;
 * a real firmware would pin them in this file.
 */
#ifndef VTIO_CONFIG_FW_H
#define VTIO_CONFIG_FW_H

#include <stdint.h>

#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__)
/* ---- Arm Cortex-M (single core) ----------------------------------------- */

/*
 * Locks: mask interrupts, remembering the previous PRIMASK in the lock
 * object so nested locks restore correctly. On a single core this is all a
 * bounce pool needs. (The default test-and-set spinlock would be wrong on
 * Cortex-M0+: ARMv6-M has no exclusive loads/stores, so GCC can only make
 * it a plain, non-atomic byte access.)
 */
static inline uint32_t fw_irq_save(void)
{
	uint32_t primask;
	__asm__ __volatile__("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
	return primask;
}
static inline void fw_irq_restore(uint32_t primask)
{
	__asm__ __volatile__("msr primask, %0" ::"r"(primask) : "memory");
}
#define VTIO_LOCK_T	  uint32_t
#define VTIO_LOCK_INIT(l) (*(l) = 0u)
#define VTIO_LOCK(l)	  (*(l) = fw_irq_save())
#define VTIO_UNLOCK(l)	  fw_irq_restore(*(l))

/*
 * Barriers: a single core needs no SMP ordering beyond the compiler's;
 * against a bus master (DMA engine, another SoC through shared RAM) a DMB
 * orders the CPU's accesses as the interconnect sees them.
 */
#define VTIO_SMP_MB()	 __asm__ __volatile__("" ::: "memory")
#define VTIO_SMP_RMB()	 __asm__ __volatile__("" ::: "memory")
#define VTIO_SMP_WMB()	 __asm__ __volatile__("" ::: "memory")
#define VTIO_DMA_MB()	 __asm__ __volatile__("dmb" ::: "memory")
#define VTIO_DMA_RMB()	 __asm__ __volatile__("dmb" ::: "memory")
#define VTIO_DMA_WMB()	 __asm__ __volatile__("dmb" ::: "memory")
#define VTIO_CPU_RELAX() __asm__ __volatile__("nop" ::: "memory")

/*
 * Bounce pool atomics (src/bounce/bounce_internal.h overrides them as one
 * group). Aligned 32-bit loads and stores are single-copy atomic on every
 * Cortex-M; only the read-modify-write counter needs care on ARMv6-M,
 * which has no atomic RMW: do it with interrupts masked.
 */
#define VTIO_BOUNCE_LOAD_ACQ32(p)      __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define VTIO_BOUNCE_STORE_REL32(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define VTIO_BOUNCE_LOAD_ACQPTR(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define VTIO_BOUNCE_STORE_RELPTR(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define VTIO_BOUNCE_FENCE_ACQ()	       __asm__ __volatile__("" ::: "memory")
#define VTIO_BOUNCE_FENCE_REL()	       __asm__ __volatile__("" ::: "memory")
#define VTIO_BOUNCE_COUNT(p)                                                                       \
	do {                                                                                       \
		uint32_t fw_pm_ = fw_irq_save();                                                   \
		++*(p);                                                                            \
		fw_irq_restore(fw_pm_);                                                            \
	} while (0)

#elif defined(__riscv)
/* ---- RISC-V (RV32IMAC / RV64IMAC: the A extension gives real atomics) ---- */

/* Ordering against a bus master: fence covering device I/O and memory. */
#define VTIO_DMA_MB()  __asm__ __volatile__("fence iorw, iorw" ::: "memory")
#define VTIO_DMA_RMB() __asm__ __volatile__("fence ir, ir" ::: "memory")
#define VTIO_DMA_WMB() __asm__ __volatile__("fence ow, ow" ::: "memory")
#endif

/*
 * Cache maintenance for rings and buffers in non-coherent memory. Neither
 * Cortex-M0+/M4 nor the small RISC-V cores have a data cache, so the
 * defaults (no-ops) are right here. On a Cortex-M7 with D-cache one would
 * write, with CMSIS:
 *   #define VTIO_CACHE_FLUSH(p, n)      SCB_CleanDCache_by_Addr((void *)(p), (int32_t)(n))
 *   #define VTIO_CACHE_INVALIDATE(p, n) SCB_InvalidateDCache_by_Addr((void *)(p), (int32_t)(n))
 */

/* Caller bugs: stop in the debugger instead of trapping. */
#if defined(__arm__)
#define VTIO_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__asm__ __volatile__("bkpt #0");                                           \
	} while (0)
#endif

#endif /* VTIO_CONFIG_FW_H */
