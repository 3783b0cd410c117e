/* AArch64 startup of the QEMU interop firmware: QEMU starts an ELF image at
 * its entry in EL1 with the MMU off. Stack, exception vectors, zeroed .bss,
 * main(). IRQs go to fw_irq_handler(); any other exception to fw_fault(). */
	.section .text.start, "ax"
	.globl _start
_start:
	ldr	x0, =__stack_top
	mov	sp, x0
	adr	x0, fw_vectors
	msr	vbar_el1, x0
	isb
	ldr	x1, =__bss_start
	ldr	x2, =__bss_end
1:	cmp	x1, x2
	b.hs	2f
	str	xzr, [x1], #8
	b	1b
2:	bl	main
3:	wfi
	b	3b

	.text
/* Save the registers a C call may clobber, call \fn, restore, return. */
	.macro	vsave
	sub	sp, sp, #176
	stp	x0, x1, [sp, #0]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x29, [sp, #144]
	str	x30, [sp, #160]
	.endm
	.macro	vrestore
	ldp	x0, x1, [sp, #0]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldp	x8, x9, [sp, #64]
	ldp	x10, x11, [sp, #80]
	ldp	x12, x13, [sp, #96]
	ldp	x14, x15, [sp, #112]
	ldp	x16, x17, [sp, #128]
	ldp	x18, x29, [sp, #144]
	ldr	x30, [sp, #160]
	add	sp, sp, #176
	.endm

irq_entry:
	vsave
	bl	fw_irq_handler
	vrestore
	eret

fault_entry:
	mrs	x0, esr_el1
	mrs	x1, elr_el1
	mrs	x2, far_el1
	bl	fw_fault
	b	.

	.macro	vent target
	.balign	0x80
	b	\target
	.endm
	.balign	2048
fw_vectors:
	vent	fault_entry	/* current EL, SP0: sync, irq, fiq, serror */
	vent	fault_entry
	vent	fault_entry
	vent	fault_entry
	vent	fault_entry	/* current EL, SPx: sync */
	vent	irq_entry	/* current EL, SPx: irq */
	vent	fault_entry
	vent	fault_entry
	vent	fault_entry	/* lower EL, AArch64 */
	vent	fault_entry
	vent	fault_entry
	vent	fault_entry
	vent	fault_entry	/* lower EL, AArch32 */
	vent	fault_entry
	vent	fault_entry
	vent	fault_entry
