/* Minimal Cortex-M startup: vector table, copy .data, zero .bss, main(). */
#include <stdint.h>

extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end, __stack_top;
int main(void);
void Reset_Handler(void);
void Default_Handler(void);

void Default_Handler(void)
{
	for (;;) {
	}
}

void Reset_Handler(void)
{
	uint32_t *src = &__data_load;
	for (uint32_t *dst = &__data_start; dst < &__data_end;)
		*dst++ = *src++;
	for (uint32_t *dst = &__bss_start; dst < &__bss_end;)
		*dst++ = 0;
	(void)main();
	Default_Handler();
}

/* Initial stack pointer, reset, NMI, HardFault; the rest default. */
__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&__stack_top,
    Reset_Handler,
    Default_Handler,
    Default_Handler,
};
