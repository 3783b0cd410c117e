/*
 * fw_board.h: what the QEMU interop firmware (fw_main.c) needs from a
 * board: a console, an exit to the host with a status, where the
 * virtio-mmio slots are, and one interrupt line per slot.
 * fw_board_riscv.c implements it for `qemu-system-riscv{32,64} -M virt`
 * (NS16550, sifive_test, PLIC), fw_board_aarch64.c for
 * `qemu-system-aarch64 -M virt` (PL011, semihosting, GICv2).
 */
#ifndef FW_BOARD_H
#define FW_BOARD_H

#include <stdint.h>

/** Name printed in the report (rv64, rv32, aarch64). */
extern const char fw_board_name[];

/** Set up the console and the interrupt controller (all lines disabled). */
void fw_board_init(void);

/** Write one character to the console. */
void fw_board_putc(char c);

/** Leave QEMU: 0 makes it exit with status 0, anything else with a non-zero status. */
__attribute__((noreturn)) void fw_board_exit(int code);

/** Number of virtio-mmio slots the machine has. */
unsigned fw_board_virtio_slots(void);

/** Address of virtio-mmio slot @p slot. */
uintptr_t fw_board_virtio_base(unsigned slot);

/** Route the interrupt line of virtio-mmio slot @p slot to this CPU. */
void fw_board_irq_enable(unsigned slot);

/**
 * Sleep until *counter differs from @p seen. Interrupts are masked except
 * inside this call, so a check followed by the wait cannot miss the wakeup:
 * the CPU sleeps with the line masked (a pending line still wakes it),
 * then takes the interrupt.
 */
void fw_board_irq_wait(const volatile uint32_t *counter, uint32_t seen);

/** Take the interrupts that are pending now (unmask, then mask again). */
void fw_board_irq_take(void);

/** Called by the board's interrupt handler for each claimed virtio slot. */
void fw_irq_slot(unsigned slot);

#endif /* FW_BOARD_H */
