/*
 * Board layer of the QEMU interop firmware for `qemu-system-riscv64 -M virt`
 * and `qemu-system-riscv32 -M virt`, started with `-bios none` (the hart
 * runs this image in M-mode from 0x80000000). Addresses from QEMU's
 * hw/riscv/virt.c memory map:
 *   0x00100000 sifive_test finisher (0x5555 pass, code << 16 | 0x3333 fail)
 *   0x0c000000 PLIC (virtio-mmio slot i is source 1 + i; context 0 is
 *              hart 0 in M-mode)
 *   0x10000000 NS16550A UART
 *   0x10001000 virtio-mmio slot 0, one slot per 0x1000, 8 slots
 */
#include <stdint.h>

#include "fw_board.h"

#if __riscv_xlen == 64
const char fw_board_name[] = "rv64";
#else
const char fw_board_name[] = "rv32";
#endif

#define TEST_BASE   0x00100000u
#define PLIC_BASE   0x0c000000u
#define UART_BASE   0x10000000u
#define VIRTIO_BASE 0x10001000u
#define VIRTIO_STEP 0x1000u
#define VIRTIO_N    8u
#define VIRTIO_IRQ  1u

/* PLIC register layout (riscv-plic-spec): priority per source, enable bits
 * per context, then threshold and claim/complete per context. */
#define PLIC_PRIORITY(src)  (PLIC_BASE + 4u * (src))
#define PLIC_ENABLE(ctx)    (PLIC_BASE + 0x2000u + 0x80u * (ctx))
#define PLIC_THRESHOLD(ctx) (PLIC_BASE + 0x200000u + 0x1000u * (ctx))
#define PLIC_CLAIM(ctx)	    (PLIC_BASE + 0x200004u + 0x1000u * (ctx))
#define PLIC_CTX	    0u /* hart 0, M-mode */

#define MSTATUS_MIE (1u << 3)
#define MIE_MEIE    (1u << 11)
#define MCAUSE_MEI  11u

/* Binutils 2.40 wants Zicsr named for csr instructions, but with it in
 * -march GCC 12 picks no multilib (an rv64 libgcc for rv32): enable it for
 * these instructions only. Clang's assembler (14) takes them as they are
 * and knows no `.option arch`. */
#if defined(__clang__) || defined(__riscv_zicsr)
#define CSR(insn) insn
#else
#define CSR(insn) ".option push\n\t.option arch, +zicsr\n\t" insn "\n\t.option pop"
#endif

static inline void w8(uintptr_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}
static inline uint8_t r8(uintptr_t a)
{
	return *(volatile uint8_t *)a;
}
static inline void w32(uintptr_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}
static inline uint32_t r32(uintptr_t a)
{
	return *(volatile uint32_t *)a;
}

static void put_str(const char *s)
{
	while (*s)
		fw_board_putc(*s++);
}

static void put_hex(uintptr_t v)
{
	fw_board_putc('0');
	fw_board_putc('x');
	for (int i = (int)sizeof(v) * 8 - 4; i >= 0; i -= 4)
		fw_board_putc("0123456789abcdef"[(v >> i) & 0xfu]);
}

/* Machine trap handler: only external interrupts are enabled, so only they
 * arrive (anything else is a firmware bug: report it and fail). */
__attribute__((interrupt("machine"), aligned(4))) static void fw_trap(void)
{
	uintptr_t cause;
	__asm__ __volatile__(CSR("csrr %0, mcause") : "=r"(cause));
	if ((intptr_t)cause >= 0 || (cause & 0xffu) != MCAUSE_MEI) {
		uintptr_t epc, tval;
		__asm__ __volatile__(CSR("csrr %0, mepc") : "=r"(epc));
		__asm__ __volatile__(CSR("csrr %0, mtval") : "=r"(tval));
		put_str("VTIO result FAIL unexpected trap mcause=");
		put_hex(cause);
		put_str(" mepc=");
		put_hex(epc);
		put_str(" mtval=");
		put_hex(tval);
		put_str("\n");
		fw_board_exit(90);
	}
	for (;;) {
		uint32_t src = r32(PLIC_CLAIM(PLIC_CTX));
		if (src == 0)
			break;
		if (src >= VIRTIO_IRQ && src < VIRTIO_IRQ + VIRTIO_N)
			fw_irq_slot(src - VIRTIO_IRQ);
		w32(PLIC_CLAIM(PLIC_CTX), src);
	}
}

void fw_board_init(void)
{
	/* 16550: 8N1, FIFO on; QEMU ignores the divisor. */
	w8(UART_BASE + 3, 0x03);
	w8(UART_BASE + 2, 0x07);
	w8(UART_BASE + 1, 0x00);
	/* PLIC: every virtio source off, priority 1, threshold 0. */
	w32(PLIC_ENABLE(PLIC_CTX), 0);
	for (unsigned i = 0; i < VIRTIO_N; i++)
		w32(PLIC_PRIORITY(VIRTIO_IRQ + i), 1);
	w32(PLIC_THRESHOLD(PLIC_CTX), 0);
	__asm__ __volatile__(CSR("csrw mtvec, %0")::"r"((uintptr_t)&fw_trap));
	__asm__ __volatile__(CSR("csrc mstatus, %0")::"r"((uintptr_t)MSTATUS_MIE));
	__asm__ __volatile__(CSR("csrs mie, %0")::"r"((uintptr_t)MIE_MEIE));
}

void fw_board_putc(char c)
{
	while ((r8(UART_BASE + 5) & 0x20u) == 0) /* LSR.THRE */
		;
	w8(UART_BASE, (uint8_t)c);
}

void fw_board_exit(int code)
{
	uint32_t v = code == 0 ? 0x5555u : ((uint32_t)(code & 0xffff) << 16) | 0x3333u;
	for (;;)
		w32(TEST_BASE, v);
}

unsigned fw_board_virtio_slots(void)
{
	return VIRTIO_N;
}

uintptr_t fw_board_virtio_base(unsigned slot)
{
	return VIRTIO_BASE + VIRTIO_STEP * slot;
}

void fw_board_irq_enable(unsigned slot)
{
	uintptr_t en = PLIC_ENABLE(PLIC_CTX);
	w32(en, r32(en) | (1u << (VIRTIO_IRQ + slot)));
}

void fw_board_irq_wait(const volatile uint32_t *counter, uint32_t seen)
{
	while (*counter == seen) {
		/* WFI resumes on a pending enabled interrupt even with
		 * mstatus.MIE clear; the trap is taken once MIE is set. */
		__asm__ __volatile__("wfi" ::: "memory");
		__asm__ __volatile__(CSR("csrs mstatus, %0")::"r"((uintptr_t)MSTATUS_MIE)
				     : "memory");
		__asm__ __volatile__(CSR("csrc mstatus, %0")::"r"((uintptr_t)MSTATUS_MIE)
				     : "memory");
	}
}

void fw_board_irq_take(void)
{
	__asm__ __volatile__(CSR("csrs mstatus, %0")::"r"((uintptr_t)MSTATUS_MIE) : "memory");
	__asm__ __volatile__(CSR("csrc mstatus, %0")::"r"((uintptr_t)MSTATUS_MIE) : "memory");
}
