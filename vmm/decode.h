/*
 * The instruction decoder for MMIO exits.  A guest access to a guest-physical address
 * with nothing mapped exits with the address and the direction but not the
 * instruction (SVM without decode assists, VMX's EPT violation): the VMM reads the
 * instruction bytes at the guest's RIP and decodes them here to learn the register,
 * the width and the instruction's length.  Only the forms compilers and hand-written
 * drivers use for device registers are known (SDM Vol. 2, "MOV", "MOVZX", "MOVSX"):
 *
 *   88 /r  mov r/m8, r8        8a /r  mov r8, r/m8        c6 /0 ib  mov r/m8, imm8
 *   89 /r  mov r/m, r          8b /r  mov r, r/m          c7 /0 iz  mov r/m, imm16/32
 *   a0/a1  mov al/eAX, moffs   a2/a3  mov moffs, al/eAX
 *   0f b6/b7 movzx r, r/m8/16  0f be/bf movsx r, r/m8/16
 *
 * with the prefixes 66 (operand size), 67 (address size), segment overrides, lock and
 * REX in 64-bit mode.  String instructions and everything else are refused.  Pure
 * logic: the host unit tests run it.
 */
#ifndef VMM_DECODE_H
#define VMM_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#define DECODE_MAX_LENGTH 15        /* the architectural instruction-length limit */

/* The processor mode the code runs in: its default operand and address size. */
enum decode_mode {
    DECODE_MODE_16,                 /* real mode, or a 16-bit code segment */
    DECODE_MODE_32,                 /* a 32-bit code segment (CS.D = 1) */
    DECODE_MODE_64,                 /* long mode with CS.L = 1 */
};

struct mmio_instruction {
    unsigned length;                /* bytes, prefixes included */
    bool store;                     /* memory is written; otherwise it is read */
    unsigned size;                  /* bytes of memory accessed: 1, 2, 4 or 8 */
    unsigned reg;                   /* register operand, x86 numbering = PITH GPR order */
    bool high_byte;                 /* the register is AH, CH, DH or BH */
    unsigned reg_size;              /* bytes a load writes into the register */
    bool sign_extend;               /* a load sign-extends (movsx); else zero-extends */
    bool has_immediate;             /* a store of `immediate`, not of a register */
    uint64_t immediate;
};

/* Decodes the instruction in code[0..available).  False when it is not one of the
 * forms above, does not access memory, or does not fit in `available` bytes. */
bool decode_mmio(const uint8_t *code, unsigned available, enum decode_mode mode,
                 struct mmio_instruction *out);

/* The value a store writes, from the registers (rax, rcx, ... r15) or the immediate. */
uint64_t mmio_store_value(const struct mmio_instruction *insn, const uint64_t gpr[16]);

/* Completes a load: `value` (size bytes read from the device) goes into the register. */
void mmio_complete_load(const struct mmio_instruction *insn, uint64_t gpr[16], uint64_t value);

/* A register after writing its low `size` bytes as x86 does: 1 and 2 keep the other
 * bits, 4 clears bits 32..63, 8 replaces everything. */
uint64_t gpr_merge(uint64_t old, unsigned size, uint64_t value);

#endif
