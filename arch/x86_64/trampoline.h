/* The parameter block at the end of the AP start-up code (trampoline.S), which smp.c
 * fills before each start: offsets from its beginning, shared by the assembly and C. */
#ifndef TRAMPOLINE_H
#define TRAMPOLINE_H

#define TRAMPOLINE_GDT          0   /* null, 32-bit code, data, 64-bit code */
#define TRAMPOLINE_GDT_POINTER  32  /* limit (2 bytes), base (4): LGDT's operand */
#define TRAMPOLINE_JUMP32       40  /* far pointer: offset (4 bytes), selector (2) */
#define TRAMPOLINE_JUMP64       48
#define TRAMPOLINE_CR3          56  /* 4 bytes: the start-up page table, below 4 GiB */
#define TRAMPOLINE_EFER         60  /* 4 bytes: EFER bits to set (LME, NXE) */
#define TRAMPOLINE_STACK        64  /* the AP's kernel stack top */
#define TRAMPOLINE_CPU          72  /* its struct cpu, the C entry's argument */
#define TRAMPOLINE_ENTRY        80  /* smp_ap_main */
#define TRAMPOLINE_PARAMS_SIZE  88

#define TRAMPOLINE_CODE32_SEL   0x08
#define TRAMPOLINE_DATA_SEL     0x10
#define TRAMPOLINE_CODE64_SEL   0x18

#endif
