/*
 * Board layer of the QEMU interop firmware for `qemu-system-aarch64 -M virt
 * -semihosting` (GICv2, the default gic-version), started from an ELF image
 * in EL1 with the MMU off. Addresses from QEMU's hw/arm/virt.c memory map:
 *   0x08000000 GIC distributor, 0x08010000 GIC CPU interface
 *   0x09000000 PL011 UART
 *   0x0a000000 virtio-mmio slot 0, one slot per 0x200, 32 slots; slot i is
 *              SPI 16 + i, i.e. GIC interrupt ID 48 + i
 * Exit: semihosting SYS_EXIT with ADP_Stopped_ApplicationExit and the status.
 */
#include <stdint.h>

#include "fw_board.h"

const char fw_board_name[] = "aarch64";

#define GICD_BASE    0x08000000u
#define GICC_BASE    0x08010000u
#define UART_BASE    0x09000000u
#define VIRTIO_BASE  0x0a000000u
#define VIRTIO_STEP  0x200u
#define VIRTIO_N     32u
#define VIRTIO_INTID 48u

#define GICD_CTLR	  (GICD_BASE + 0x000u)
#define GICD_ISENABLER(n) (GICD_BASE + 0x100u + 4u * (n))
#define GICD_ICENABLER(n) (GICD_BASE + 0x180u + 4u * (n))
#define GICD_IPRIORITYR	  (GICD_BASE + 0x400u)
#define GICD_ITARGETSR	  (GICD_BASE + 0x800u)
#define GICC_CTLR	  (GICC_BASE + 0x000u)
#define GICC_PMR	  (GICC_BASE + 0x004u)
#define GICC_IAR	  (GICC_BASE + 0x00cu)
#define GICC_EOIR	  (GICC_BASE + 0x010u)
#define GIC_SPURIOUS	  1023u

static inline void w8(uintptr_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
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

static void put_hex(uint64_t v)
{
	fw_board_putc('0');
	fw_board_putc('x');
	for (int i = 60; i >= 0; i -= 4)
		fw_board_putc("0123456789abcdef"[(v >> i) & 0xfu]);
}

void fw_irq_handler(void);
void fw_fault(uint64_t esr, uint64_t elr, uint64_t far);

/* IRQ vector (fw_start_aarch64.S): claim, dispatch, end of interrupt. */
void fw_irq_handler(void)
{
	for (;;) {
		uint32_t iar = r32(GICC_IAR);
		uint32_t id = iar & 0x3ffu;
		if (id == GIC_SPURIOUS)
			break;
		if (id >= VIRTIO_INTID && id < VIRTIO_INTID + VIRTIO_N)
			fw_irq_slot(id - VIRTIO_INTID);
		w32(GICC_EOIR, iar);
	}
}

/* Every other exception is a firmware bug: report it and fail. */
void fw_fault(uint64_t esr, uint64_t elr, uint64_t far)
{
	put_str("VTIO result FAIL unexpected exception esr=");
	put_hex(esr);
	put_str(" elr=");
	put_hex(elr);
	put_str(" far=");
	put_hex(far);
	put_str("\n");
	fw_board_exit(90);
}

void fw_board_init(void)
{
	__asm__ __volatile__("msr daifset, #2" ::: "memory");
	w32(GICD_CTLR, 0);
	for (unsigned n = 0; n < (VIRTIO_INTID + VIRTIO_N + 31u) / 32u; n++)
		w32(GICD_ICENABLER(n), 0xffffffffu);
	for (unsigned i = 0; i < VIRTIO_N; i++) {
		w8(GICD_IPRIORITYR + VIRTIO_INTID + i, 0xa0);
		w8(GICD_ITARGETSR + VIRTIO_INTID + i, 0x01); /* CPU 0 */
	}
	w32(GICD_CTLR, 1);
	w32(GICC_PMR, 0xff);
	w32(GICC_CTLR, 1);
}

void fw_board_putc(char c)
{
	while (r32(UART_BASE + 0x18u) & (1u << 5)) /* FR.TXFF */
		;
	w32(UART_BASE, (uint8_t)c);
}

void fw_board_exit(int code)
{
	/* SYS_EXIT (0x18) takes a parameter block on AArch64:
	 * ADP_Stopped_ApplicationExit and the exit status. */
	static volatile uint64_t block[2];
	block[0] = 0x20026u;
	block[1] = (uint64_t)(code == 0 ? 0 : (code & 0xff) ? (code & 0xff) : 1);
	for (;;) {
		register uint64_t x0 __asm__("x0") = 0x18;
		register uint64_t x1 __asm__("x1") = (uint64_t)(uintptr_t)block;
		__asm__ __volatile__("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
	}
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
	unsigned id = VIRTIO_INTID + slot;
	w32(GICD_ISENABLER(id / 32u), 1u << (id % 32u));
}

void fw_board_irq_wait(const volatile uint32_t *counter, uint32_t seen)
{
	while (*counter == seen) {
		/* WFI wakes on a pending IRQ even while PSTATE.I masks it;
		 * the exception is taken once it is unmasked. */
		__asm__ __volatile__("wfi" ::: "memory");
		__asm__ __volatile__("msr daifclr, #2\n\tisb\n\tmsr daifset, #2" ::: "memory");
	}
}

void fw_board_irq_take(void)
{
	__asm__ __volatile__("msr daifclr, #2\n\tisb\n\tmsr daifset, #2" ::: "memory");
}
