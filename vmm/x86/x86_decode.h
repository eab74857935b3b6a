/*
 * Decoding and emulating the instructions a guest uses to touch MMIO (SDM Vol. 2).
 *
 * An MMIO exit gives the guest-physical address and whether it was a read or a write,
 * but on AMD without decode assists not the instruction or its length.  The VMM reads
 * the bytes at CS:RIP (guest_walk.h), x86_decode() turns them into an x86_insn, and
 * x86_emulate() performs it against the device and the guest's registers.  Both are
 * pure: no hardware, no libc, tested on the host.
 *
 * Covered: MOV (88-8B, A0-A3, C6, C7), MOVZX/MOVSX (0F B6/B7/BE/BF), MOVSXD (63),
 * ADD/OR/ADC/SBB/AND/SUB/XOR/CMP (00-3B, 80-83), TEST (84, 85, F6/F7 /0 /1),
 * NOT/NEG (F6/F7 /2 /3), INC/DEC (FE/FF /0 /1), XCHG (86, 87), BT (0F A3, 0F BA /4),
 * MOVS/STOS/LODS (A4, A5, AA-AD) with REP; prefixes 66, 67, REX, segment overrides,
 * LOCK, F2/F3.  Anything else is X86_DECODE_UNSUPPORTED.
 */
#ifndef VMM_X86_DECODE_H
#define VMM_X86_DECODE_H

#include "guest_walk.h"

#define X86_MAX_LENGTH 15           /* SDM Vol. 2, 2.3.11: longer is #GP */

/* General-purpose registers in encoding order, which is also PITH_VM_GROUP_GPR's. */
enum x86_reg {
    X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI, X86_RDI,
    X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15,
    X86_REG_COUNT,
    X86_REG_NONE = -1,
    X86_REG_RIP = -2,               /* only as an address base: RIP-relative */
};

/* Arithmetic flags in RFLAGS (SDM Vol. 1, 3.4.3.1) and DF. */
#define X86_FLAG_CF (1ull << 0)
#define X86_FLAG_PF (1ull << 2)
#define X86_FLAG_AF (1ull << 4)
#define X86_FLAG_ZF (1ull << 6)
#define X86_FLAG_SF (1ull << 7)
#define X86_FLAG_DF (1ull << 10)
#define X86_FLAG_OF (1ull << 11)
#define X86_FLAGS_ARITH (X86_FLAG_CF | X86_FLAG_PF | X86_FLAG_AF | X86_FLAG_ZF | \
                         X86_FLAG_SF | X86_FLAG_OF)

enum x86_op {
    X86_OP_ADD, X86_OP_OR, X86_OP_ADC, X86_OP_SBB,      /* the group-1 order: ModRM.reg */
    X86_OP_AND, X86_OP_SUB, X86_OP_XOR, X86_OP_CMP,
    X86_OP_MOV, X86_OP_TEST, X86_OP_XCHG, X86_OP_NOT, X86_OP_NEG, X86_OP_INC, X86_OP_DEC,
    X86_OP_BT, X86_OP_MOVS, X86_OP_STOS, X86_OP_LODS,
};

/* What the instruction does to its memory operand. */
#define X86_ACCESS_READ  1u
#define X86_ACCESS_WRITE 2u
#define X86_ACCESS_RMW   (X86_ACCESS_READ | X86_ACCESS_WRITE)

enum x86_extend { X86_EXTEND_NONE, X86_EXTEND_ZERO, X86_EXTEND_SIGN };
enum x86_rep { X86_REP_NONE, X86_REP_REPE, X86_REP_REPNE };   /* F3, F2 */

/* A memory operand: segment:[base + index * scale + displacement], truncated to the
 * address size; base X86_REG_RIP means relative to the next instruction. */
struct x86_address {
    int8_t base, index;             /* enum x86_reg, or X86_REG_NONE */
    uint8_t scale;                  /* 1, 2, 4, 8 */
    uint8_t segment;                /* enum guest_segment, after any override */
    uint64_t displacement;          /* sign-extended */
};

struct x86_insn {
    uint8_t length;                 /* bytes, prefixes included: add it to RIP */
    uint8_t op;                     /* enum x86_op */
    uint8_t access;                 /* X86_ACCESS_* on `memory` */
    uint8_t size;                   /* bytes accessed in memory (per element, strings) */
    uint8_t register_size;          /* of `reg`: differs from size for MOVZX/MOVSX */
    uint8_t extend;                 /* enum x86_extend, memory to register */
    uint8_t address_size;           /* 2, 4, 8 */
    uint8_t code_size;              /* 2, 4, 8: the mode decoded for */
    uint8_t rep;                    /* enum x86_rep */
    bool lock;
    bool register_first;            /* the register is the first (destination) operand:
                                     * MOV load, Gv,Ev ALU forms, LODS */
    int8_t reg;                     /* register operand, X86_REG_NONE if there is none */
    bool reg_high_byte;             /* reg is AH, CH, DH or BH (encodings 4-7, no REX) */
    bool has_immediate;
    uint64_t immediate;             /* sign-extended to `size`, then truncated to it */
    struct x86_address memory;      /* MOVS: the source, DS:[rSI] */
    struct x86_address destination; /* MOVS only: ES:[rDI] */
};

enum x86_decode_status {
    X86_DECODE_OK,
    X86_DECODE_UNSUPPORTED,         /* not an instruction this emulates: #UD or stop */
    X86_DECODE_NO_MEMORY,           /* a register-only form (ModRM.mod = 3): it cannot
                                     * have made the access that exited */
    X86_DECODE_TRUNCATED,           /* needed more bytes than given (e.g. the next page
                                     * did not translate: inject that fault) */
    X86_DECODE_TOO_LONG,            /* over 15 bytes: #GP(0) */
};

/* The guest registers the instruction reads and writes (from the GPR, RIP and SEG
 * groups).  Segment bases only: the CPU checked limits and rights before exiting. */
struct x86_state {
    uint64_t gpr[X86_REG_COUNT];
    uint64_t rip, rflags;
    uint64_t segment_base[GUEST_SEG_COUNT];
};

/* Default operand and address size in bytes for the guest's current code: 2 in
 * virtual-8086 mode, 8 in 64-bit mode (EFER.LMA and CS.L), else CS.D ? 4 : 2 (SDM
 * Vol. 3A 3.4.5, Vol. 1 3.6).  Real mode follows CS.D too, as the CPU does: it is 0
 * after reset and stays so unless the guest left protected mode with a 32-bit CS.
 * cs_attributes as in PITH_VM_GROUP_SEG. */
unsigned x86_code_size(uint64_t cr0, uint64_t efer, uint64_t rflags, unsigned cs_attributes);

enum x86_decode_status x86_decode(const uint8_t *bytes, size_t available,
                                  unsigned code_size, struct x86_insn *insn);

/* Effective address (segment offset) and linear address of a memory operand, given
 * the registers before the instruction runs. */
uint64_t x86_effective_address(const struct x86_insn *insn, const struct x86_address *a,
                               const struct x86_state *state);
uint64_t x86_linear_address(const struct x86_insn *insn, const struct x86_address *a,
                            const struct x86_state *state);

/* The device behind the exit, and (for MOVS) the rest of guest memory. */
struct x86_emulate_ops {
    uint64_t (*mmio_read)(void *ctx, uint64_t gpa, unsigned size);
    void (*mmio_write)(void *ctx, uint64_t gpa, unsigned size, uint64_t value);
    /* The other operand of MOVS, by linear address: false means a fault, which the
     * callback records for the VMM to inject.  May be NULL: MOVS is then unsupported. */
    bool (*memory_read)(void *ctx, uint64_t linear, unsigned size, uint64_t *value);
    bool (*memory_write)(void *ctx, uint64_t linear, unsigned size, uint64_t value);
    void *ctx;
};

enum x86_emulate_status {
    X86_EMULATE_DONE,               /* advance RIP by insn->length */
    X86_EMULATE_REPEAT,             /* one REP iteration done, count not exhausted: leave
                                     * RIP, the guest executes the instruction again */
    X86_EMULATE_FAULT,              /* a memory callback failed: inject, leave RIP */
    X86_EMULATE_UNSUPPORTED,
};

/*
 * Performs the instruction on the device at `gpa` (the exit's address) and the
 * registers in `state`, except RIP, which the VMM advances on X86_EMULATE_DONE.
 * `exit_was_write` says which side of a MOVS is the device: the source if the exit
 * was a read, the destination if a write.  String instructions do one element per
 * call, as each element is a separate access that may exit.
 */
enum x86_emulate_status x86_emulate(const struct x86_insn *insn, struct x86_state *state,
                                    uint64_t gpa, bool exit_was_write,
                                    const struct x86_emulate_ops *ops);

#endif
