/*
 * x86 instruction decoding for MMIO, and its emulation (SDM Vol. 2 ch. 2 for the
 * encoding, the instruction pages of Vol. 2 for each opcode).
 */
#include "x86_decode.h"

#define REX_W 0x8
#define REX_R 0x4
#define REX_X 0x2
#define REX_B 0x1

/* Decoding in progress.  Running out of bytes only sets a flag: the caller checks
 * it once at the end, so the opcode handlers read straight through. */
struct decoder {
    const uint8_t *bytes;
    size_t available, pos;
    bool truncated, too_long;
    unsigned code_size;
    uint8_t rex;                    /* the REX byte, 0 if none */
    bool operand_prefix, address_prefix;
    int segment_override;           /* enum guest_segment, -1 if none */
    uint8_t mod, reg_field, rm;     /* of the ModRM byte */
    struct x86_insn *insn;
};

static uint64_t low_bytes(uint64_t value, unsigned size)
{
    return size >= 8 ? value : value & ((1ull << (8 * size)) - 1);
}

static uint64_t sign_bit(unsigned size)
{
    return 1ull << (8 * size - 1);
}

static uint64_t sign_extend(uint64_t value, unsigned size)
{
    value = low_bytes(value, size);
    return (value & sign_bit(size)) ? value | ~low_bytes(~0ull, size) : value;
}

/* ---- Reading bytes -------------------------------------------------------------- */

static bool peek_byte(const struct decoder *d, uint8_t *byte)
{
    if (d->pos >= d->available || d->pos >= X86_MAX_LENGTH)
        return false;
    *byte = d->bytes[d->pos];
    return true;
}

static uint8_t next_byte(struct decoder *d)
{
    if (d->pos >= X86_MAX_LENGTH) {
        d->too_long = true;
        return 0;
    }
    if (d->pos >= d->available) {
        d->truncated = true;
        return 0;
    }
    return d->bytes[d->pos++];
}

/* Displacements, immediates and offsets are little-endian (SDM Vol. 2, 2.1). */
static uint64_t next_bytes(struct decoder *d, unsigned count)
{
    uint64_t value = 0;
    for (unsigned i = 0; i < count; i++)
        value |= (uint64_t)next_byte(d) << (8 * i);
    return value;
}

/* ---- Prefixes and sizes (SDM Vol. 2, 2.1.1, 2.2.1) ------------------------------- */

static void read_prefixes(struct decoder *d)
{
    uint8_t byte;
    while (peek_byte(d, &byte)) {
        switch (byte) {
        case 0xf0: d->insn->lock = true; break;
        case 0xf2: d->insn->rep = X86_REP_REPNE; break;
        case 0xf3: d->insn->rep = X86_REP_REPE; break;
        case 0x26: case 0x2e: case 0x36: case 0x3e:
            d->segment_override = (byte >> 3) & 3;      /* ES CS SS DS */
            break;
        case 0x64: d->segment_override = GUEST_SEG_FS; break;
        case 0x65: d->segment_override = GUEST_SEG_GS; break;
        case 0x66: d->operand_prefix = true; break;
        case 0x67: d->address_prefix = true; break;
        default:
            if (d->code_size == 8 && (byte & 0xf0) == 0x40) {
                d->rex = byte;
                d->pos++;
                continue;
            }
            return;
        }
        d->rex = 0;     /* a REX is ignored unless the opcode follows it (2.2.1) */
        d->pos++;
    }
}

/* SDM Vol. 1 3.6.1, Table 3-4: REX.W beats 66, which toggles 16 and 32 bits. */
static unsigned operand_size(const struct decoder *d)
{
    if (d->code_size == 8 && (d->rex & REX_W))
        return 8;
    if (d->operand_prefix)
        return d->code_size == 2 ? 4 : 2;
    return d->code_size == 2 ? 2 : 4;
}

static unsigned address_size(const struct decoder *d)
{
    if (d->code_size == 8)
        return d->address_prefix ? 4 : 8;
    if (d->address_prefix)
        return d->code_size == 2 ? 4 : 2;
    return d->code_size;
}

/* Bit 0 of most one-byte opcodes selects a byte operand (0) or a full one (1). */
static unsigned size_from_bit0(const struct decoder *d, uint8_t opcode)
{
    return (opcode & 1) ? operand_size(d) : 1;
}

/* ---- ModRM, SIB, displacement (SDM Vol. 2, 2.1.5, Tables 2-1 to 2-3) ------------ */

/* 16-bit addressing: one table row per ModRM.rm, BP-based rows default to SS. */
static void address16(struct decoder *d, struct x86_address *a)
{
    static const int8_t base[8] = { X86_RBX, X86_RBX, X86_RBP, X86_RBP,
                                    X86_RSI, X86_RDI, X86_RBP, X86_RBX };
    static const int8_t index[8] = { X86_RSI, X86_RDI, X86_RSI, X86_RDI,
                                     X86_REG_NONE, X86_REG_NONE, X86_REG_NONE, X86_REG_NONE };
    if (d->mod == 0 && d->rm == 6) {
        a->displacement = next_bytes(d, 2);
        return;
    }
    a->base = base[d->rm];
    a->index = index[d->rm];
    if (a->base == X86_RBP)
        a->segment = GUEST_SEG_SS;
    if (d->mod == 1)
        a->displacement = sign_extend(next_bytes(d, 1), 1);
    else if (d->mod == 2)
        a->displacement = sign_extend(next_bytes(d, 2), 2);
}

/* 32- and 64-bit addressing.  rm 100 brings a SIB byte; base 101 with mod 00 means a
 * bare disp32, which without a SIB byte is RIP-relative in 64-bit mode (2.2.1.6).
 * REX.B does not change either special case: r12 and r13 encode as rsp and rbp do. */
static void address32(struct decoder *d, struct x86_address *a)
{
    unsigned base = d->rm;
    if (base == 4) {
        uint8_t sib = next_byte(d);
        unsigned index = ((sib >> 3) & 7) | ((d->rex & REX_X) ? 8 : 0);
        a->scale = 1u << (sib >> 6);
        a->index = index == X86_RSP ? X86_REG_NONE : (int8_t)index;
        base = sib & 7;
        if (base == 5 && d->mod == 0) {
            a->displacement = sign_extend(next_bytes(d, 4), 4);
            return;
        }
    } else if (base == 5 && d->mod == 0) {
        a->base = d->code_size == 8 ? X86_REG_RIP : X86_REG_NONE;
        a->displacement = sign_extend(next_bytes(d, 4), 4);
        return;
    }
    a->base = (int8_t)(base | ((d->rex & REX_B) ? 8 : 0));
    if (a->base == X86_RSP || a->base == X86_RBP)
        a->segment = GUEST_SEG_SS;
    if (d->mod == 1)
        a->displacement = sign_extend(next_bytes(d, 1), 1);
    else if (d->mod == 2)
        a->displacement = sign_extend(next_bytes(d, 4), 4);
}

static void apply_segment_override(const struct decoder *d, struct x86_address *a)
{
    if (d->segment_override >= 0)
        a->segment = (uint8_t)d->segment_override;
}

/* Reads ModRM and the memory operand it names into insn->memory. */
static enum x86_decode_status read_modrm(struct decoder *d)
{
    uint8_t modrm = next_byte(d);
    struct x86_address *a = &d->insn->memory;

    d->mod = modrm >> 6;
    d->reg_field = (modrm >> 3) & 7;
    d->rm = modrm & 7;
    if (d->mod == 3)
        return X86_DECODE_NO_MEMORY;
    *a = (struct x86_address){ .base = X86_REG_NONE, .index = X86_REG_NONE, .scale = 1,
                               .segment = GUEST_SEG_DS };
    if (d->insn->address_size == 2)
        address16(d, a);
    else
        address32(d, a);
    apply_segment_override(d, a);
    return X86_DECODE_OK;
}

/* The ModRM.reg register.  Byte registers 4-7 are AH CH DH BH unless any REX is
 * present, when they are SPL BPL SIL DIL (SDM Vol. 2, 2.2.1.2, Table 3-1). */
static void use_modrm_register(struct decoder *d, unsigned size)
{
    unsigned reg = d->reg_field | ((d->rex & REX_R) ? 8 : 0);
    d->insn->register_size = (uint8_t)size;
    if (size == 1 && !d->rex && reg >= 4) {
        d->insn->reg = (int8_t)(reg - 4);
        d->insn->reg_high_byte = true;
        return;
    }
    d->insn->reg = (int8_t)reg;
}

static void use_accumulator(struct decoder *d)
{
    d->insn->reg = X86_RAX;
    d->insn->register_size = d->insn->size;
}

/* An immediate of `count` bytes, sign-extended to the operand size. */
static void read_immediate(struct decoder *d, unsigned count)
{
    d->insn->has_immediate = true;
    d->insn->immediate = low_bytes(sign_extend(next_bytes(d, count), count), d->insn->size);
}

/* Iz: 16 bits for 16-bit operands, else 32 bits (sign-extended for 64). */
static unsigned immediate_size(unsigned operand)
{
    return operand > 4 ? 4 : operand;
}

/* ---- Opcodes ------------------------------------------------------------------ */

/* 00-3B: ADD OR ADC SBB AND SUB XOR CMP, Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev. */
static enum x86_decode_status decode_alu(struct decoder *d, uint8_t opcode)
{
    struct x86_insn *i = d->insn;
    i->op = (opcode >> 3) & 7;
    i->size = (uint8_t)size_from_bit0(d, opcode);
    i->register_first = opcode & 2;
    i->access = i->register_first || i->op == X86_OP_CMP ? X86_ACCESS_READ : X86_ACCESS_RMW;
    enum x86_decode_status status = read_modrm(d);
    use_modrm_register(d, i->size);
    return status;
}

/* 80-83: group 1, Eb,Ib / Ev,Iz / Eb,Ib (82, not in 64-bit mode) / Ev,Ib. */
static enum x86_decode_status decode_group1(struct decoder *d, uint8_t opcode)
{
    struct x86_insn *i = d->insn;
    if (opcode == 0x82 && d->code_size == 8)
        return X86_DECODE_UNSUPPORTED;
    i->size = (uint8_t)size_from_bit0(d, opcode);
    enum x86_decode_status status = read_modrm(d);
    i->op = d->reg_field;
    i->access = i->op == X86_OP_CMP ? X86_ACCESS_READ : X86_ACCESS_RMW;
    read_immediate(d, opcode == 0x81 ? immediate_size(i->size) : 1);
    return status;
}

/* 84/85 TEST, 86/87 XCHG, 88-8B MOV: Eb,Gb and Ev,Gv (8A/8B: Gb,Eb and Gv,Ev). */
static enum x86_decode_status decode_register_form(struct decoder *d, uint8_t opcode)
{
    struct x86_insn *i = d->insn;
    i->size = (uint8_t)size_from_bit0(d, opcode);
    if (opcode <= 0x85) {
        i->op = X86_OP_TEST;
        i->access = X86_ACCESS_READ;
    } else if (opcode <= 0x87) {
        i->op = X86_OP_XCHG;
        i->access = X86_ACCESS_RMW;
    } else {
        i->op = X86_OP_MOV;
        i->register_first = opcode & 2;
        i->access = i->register_first ? X86_ACCESS_READ : X86_ACCESS_WRITE;
    }
    enum x86_decode_status status = read_modrm(d);
    use_modrm_register(d, i->size);
    return status;
}

/* 63: MOVSXD Gv,Ed -- sign-extends with REX.W, else a plain 16/32-bit load.  Outside
 * 64-bit mode 63 is ARPL. */
static enum x86_decode_status decode_movsxd(struct decoder *d)
{
    struct x86_insn *i = d->insn;
    if (d->code_size != 8)
        return X86_DECODE_UNSUPPORTED;
    i->op = X86_OP_MOV;
    i->register_first = true;
    i->access = X86_ACCESS_READ;
    i->size = (uint8_t)(operand_size(d) == 8 ? 4 : operand_size(d));
    i->extend = operand_size(d) == 8 ? X86_EXTEND_SIGN : X86_EXTEND_NONE;
    enum x86_decode_status status = read_modrm(d);
    use_modrm_register(d, operand_size(d));
    return status;
}

/* A0-A3: MOV AL/rAX to or from moffs, an address-sized absolute offset in DS. */
static enum x86_decode_status decode_moffs(struct decoder *d, uint8_t opcode)
{
    struct x86_insn *i = d->insn;
    i->op = X86_OP_MOV;
    i->size = (uint8_t)size_from_bit0(d, opcode);
    i->register_first = !(opcode & 2);
    i->access = i->register_first ? X86_ACCESS_READ : X86_ACCESS_WRITE;
    i->memory = (struct x86_address){ .base = X86_REG_NONE, .index = X86_REG_NONE,
                                      .scale = 1, .segment = GUEST_SEG_DS };
    i->memory.displacement = next_bytes(d, i->address_size);
    apply_segment_override(d, &i->memory);
    use_accumulator(d);
    return X86_DECODE_OK;
}

/* C6/C7 /0: MOV Eb,Ib / Ev,Iz. */
static enum x86_decode_status decode_mov_immediate(struct decoder *d, uint8_t opcode)
{
    struct x86_insn *i = d->insn;
    i->op = X86_OP_MOV;
    i->access = X86_ACCESS_WRITE;
    i->size = (uint8_t)size_from_bit0(d, opcode);
    enum x86_decode_status status = read_modrm(d);
    if (d->reg_field != 0)
        return X86_DECODE_UNSUPPORTED;          /* C6 F8 / C7 F8: XABORT, XBEGIN */
    read_immediate(d, immediate_size(i->size));
    return status;
}

/* F6/F7 group 3: /0 and /1 TEST E,I; /2 NOT; /3 NEG; /4-/7 (MUL, DIV) unsupported. */
static enum x86_decode_status decode_group3(struct decoder *d, uint8_t opcode)
{
    static const uint8_t ops[4] = { X86_OP_TEST, X86_OP_TEST, X86_OP_NOT, X86_OP_NEG };
    struct x86_insn *i = d->insn;
    i->size = (uint8_t)size_from_bit0(d, opcode);
    enum x86_decode_status status = read_modrm(d);
    if (d->reg_field > 3)
        return X86_DECODE_UNSUPPORTED;
    i->op = ops[d->reg_field];
    i->access = i->op == X86_OP_TEST ? X86_ACCESS_READ : X86_ACCESS_RMW;
    if (i->op == X86_OP_TEST)
        read_immediate(d, immediate_size(i->size));
    return status;
}

/* FE/FF /0 INC, /1 DEC; the other forms (CALL, JMP, PUSH) do not touch MMIO. */
static enum x86_decode_status decode_inc_dec(struct decoder *d, uint8_t opcode)
{
    struct x86_insn *i = d->insn;
    i->size = (uint8_t)size_from_bit0(d, opcode);
    enum x86_decode_status status = read_modrm(d);
    if (d->reg_field > 1)
        return X86_DECODE_UNSUPPORTED;
    i->op = d->reg_field ? X86_OP_DEC : X86_OP_INC;
    i->access = X86_ACCESS_RMW;
    return status;
}

static struct x86_address string_address(int8_t index, uint8_t segment)
{
    return (struct x86_address){ .base = index, .index = X86_REG_NONE, .scale = 1,
                                 .segment = segment };
}

/* A4/A5 MOVS, AA/AB STOS, AC/AD LODS.  The source DS:rSI takes a segment override,
 * the destination ES:rDI never does (SDM Vol. 2, MOVS). */
static enum x86_decode_status decode_string(struct decoder *d, uint8_t opcode)
{
    struct x86_insn *i = d->insn;
    struct x86_address source = string_address(X86_RSI, GUEST_SEG_DS);
    struct x86_address destination = string_address(X86_RDI, GUEST_SEG_ES);
    apply_segment_override(d, &source);
    i->size = (uint8_t)size_from_bit0(d, opcode);
    if (opcode <= 0xa5) {
        i->op = X86_OP_MOVS;
        i->access = X86_ACCESS_RMW;     /* reads one side, writes the other */
        i->memory = source;
        i->destination = destination;
    } else if (opcode <= 0xab) {
        i->op = X86_OP_STOS;
        i->access = X86_ACCESS_WRITE;
        i->memory = destination;
        use_accumulator(d);
    } else {
        i->op = X86_OP_LODS;
        i->access = X86_ACCESS_READ;
        i->register_first = true;
        i->memory = source;
        use_accumulator(d);
    }
    return X86_DECODE_OK;
}

/* 0F B6/B7 MOVZX, 0F BE/BF MOVSX: Gv from Eb (bit 0 clear) or Ew (set). */
static enum x86_decode_status decode_movx(struct decoder *d, uint8_t opcode)
{
    struct x86_insn *i = d->insn;
    i->op = X86_OP_MOV;
    i->register_first = true;
    i->access = X86_ACCESS_READ;
    i->size = (opcode & 1) ? 2 : 1;
    i->extend = (opcode & 8) ? X86_EXTEND_SIGN : X86_EXTEND_ZERO;
    enum x86_decode_status status = read_modrm(d);
    use_modrm_register(d, operand_size(d));
    return status;
}

/* 0F A3 BT Ev,Gv and 0F BA /4 BT Ev,Ib (BTS, BTR, BTC are not emulated). */
static enum x86_decode_status decode_bt(struct decoder *d, uint8_t opcode)
{
    struct x86_insn *i = d->insn;
    i->op = X86_OP_BT;
    i->access = X86_ACCESS_READ;
    i->size = (uint8_t)operand_size(d);
    enum x86_decode_status status = read_modrm(d);
    if (opcode == 0xa3) {
        use_modrm_register(d, i->size);
        return status;
    }
    if (d->reg_field != 4)
        return X86_DECODE_UNSUPPORTED;
    i->has_immediate = true;
    i->immediate = next_byte(d);        /* a bit number: not sign-extended */
    return status;
}

static enum x86_decode_status decode_two_byte(struct decoder *d)
{
    uint8_t opcode = next_byte(d);
    switch (opcode) {
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: return decode_movx(d, opcode);
    case 0xa3: case 0xba:                       return decode_bt(d, opcode);
    default:                                    return X86_DECODE_UNSUPPORTED;
    }
}

static enum x86_decode_status decode_opcode(struct decoder *d)
{
    uint8_t opcode = next_byte(d);
    if (opcode < 0x40 && (opcode & 7) < 4)
        return decode_alu(d, opcode);
    switch (opcode) {
    case 0x0f:                                  return decode_two_byte(d);
    case 0x63:                                  return decode_movsxd(d);
    case 0x80: case 0x81: case 0x82: case 0x83: return decode_group1(d, opcode);
    case 0x84: case 0x85: case 0x86: case 0x87:
    case 0x88: case 0x89: case 0x8a: case 0x8b: return decode_register_form(d, opcode);
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: return decode_moffs(d, opcode);
    case 0xa4: case 0xa5: case 0xaa: case 0xab:
    case 0xac: case 0xad:                       return decode_string(d, opcode);
    case 0xc6: case 0xc7:                       return decode_mov_immediate(d, opcode);
    case 0xf6: case 0xf7:                       return decode_group3(d, opcode);
    case 0xfe: case 0xff:                       return decode_inc_dec(d, opcode);
    default:                                    return X86_DECODE_UNSUPPORTED;
    }
}

/* LOCK is legal only on read-modify-write instructions with a memory destination;
 * anywhere else the CPU raises #UD (SDM Vol. 2, LOCK). */
static bool lock_allowed(const struct x86_insn *i)
{
    if (i->register_first || i->access != X86_ACCESS_RMW)
        return false;
    return i->op != X86_OP_MOVS;
}

static bool is_string(const struct x86_insn *i)
{
    return i->op == X86_OP_MOVS || i->op == X86_OP_STOS || i->op == X86_OP_LODS;
}

enum x86_decode_status x86_decode(const uint8_t *bytes, size_t available,
                                  unsigned code_size, struct x86_insn *insn)
{
    struct decoder d = { .bytes = bytes, .available = available, .code_size = code_size,
                         .segment_override = -1, .insn = insn };
    *insn = (struct x86_insn){ .reg = X86_REG_NONE, .code_size = (uint8_t)code_size };
    insn->memory = string_address(X86_REG_NONE, GUEST_SEG_DS);
    insn->destination = insn->memory;

    read_prefixes(&d);
    insn->address_size = (uint8_t)address_size(&d);
    enum x86_decode_status status = decode_opcode(&d);
    insn->length = (uint8_t)d.pos;
    if (d.too_long)
        return X86_DECODE_TOO_LONG;
    if (d.truncated)
        return X86_DECODE_TRUNCATED;
    if (status != X86_DECODE_OK)
        return status;
    if (insn->register_size == 0)
        insn->register_size = insn->size;
    if (!is_string(insn))
        insn->rep = X86_REP_NONE;       /* F2/F3 mean nothing to these opcodes */
    if (insn->lock && !lock_allowed(insn))
        return X86_DECODE_UNSUPPORTED;
    return X86_DECODE_OK;
}

unsigned x86_code_size(uint64_t cr0, uint64_t efer, uint64_t rflags, unsigned cs_attributes)
{
    const unsigned cs_long = 1u << 9, cs_default_big = 1u << 10;    /* L, D/B */
    if (rflags & GUEST_RFLAGS_VM)
        return 2;
    if ((cr0 & GUEST_CR0_PE) && (efer & GUEST_EFER_LMA) && (cs_attributes & cs_long))
        return 8;
    return (cs_attributes & cs_default_big) ? 4 : 2;
}

/* ---- Addresses -------------------------------------------------------------------- */

static uint64_t register_read(const struct x86_state *s, int reg, bool high_byte,
                              unsigned size)
{
    if (high_byte)
        return (s->gpr[reg] >> 8) & 0xff;
    return low_bytes(s->gpr[reg], size);
}

/* BT with a register bit offset addresses beyond its operand: the offset is signed,
 * and the operand-sized unit holding the bit is offset DIV (8 * size) units away
 * (SDM Vol. 2, BT, "bit base"). */
static uint64_t bit_base_adjustment(const struct x86_insn *i, const struct x86_state *s)
{
    int64_t offset = (int64_t)sign_extend(register_read(s, i->reg, i->reg_high_byte, i->size),
                                          i->size);
    int64_t bits = 8 * i->size;
    int64_t units = offset / bits;
    if (offset % bits < 0)
        units--;                        /* floor, not truncation toward zero */
    return (uint64_t)(units * i->size);
}

uint64_t x86_effective_address(const struct x86_insn *insn, const struct x86_address *a,
                               const struct x86_state *state)
{
    uint64_t address = a->displacement;
    if (a->base == X86_REG_RIP)
        address += state->rip + insn->length;
    else if (a->base != X86_REG_NONE)
        address += state->gpr[a->base];
    if (a->index != X86_REG_NONE)
        address += state->gpr[a->index] * a->scale;
    if (insn->op == X86_OP_BT && !insn->has_immediate && a == &insn->memory)
        address += bit_base_adjustment(insn, state);
    return low_bytes(address, insn->address_size);
}

uint64_t x86_linear_address(const struct x86_insn *insn, const struct x86_address *a,
                            const struct x86_state *state)
{
    return guest_segment_linear(insn->code_size == 8, (enum guest_segment)a->segment,
                                state->segment_base[a->segment],
                                x86_effective_address(insn, a, state));
}

/* ---- Emulation -------------------------------------------------------------------- */

/* SDM Vol. 1 3.4.1.1: 8- and 16-bit results leave the rest of the register alone,
 * 32-bit results are zero-extended to 64 bits.  (Outside 64-bit mode the upper half
 * is undefined; zero is as good as anything.) */
static void register_write(struct x86_state *s, int reg, bool high_byte, unsigned size,
                           uint64_t value)
{
    uint64_t *r = &s->gpr[reg];
    if (high_byte)
        *r = (*r & ~0xff00ull) | (value & 0xff) << 8;
    else if (size == 1)
        *r = (*r & ~0xffull) | (value & 0xff);
    else if (size == 2)
        *r = (*r & ~0xffffull) | (value & 0xffff);
    else
        *r = low_bytes(value, size);
}

/* The operand that is not memory: the immediate or the register. */
static uint64_t other_operand(const struct x86_insn *i, const struct x86_state *s)
{
    if (i->has_immediate)
        return i->immediate;
    return register_read(s, i->reg, i->reg_high_byte, i->size);
}

static bool parity_even(uint8_t byte)
{
    byte ^= byte >> 4;
    byte ^= byte >> 2;
    byte ^= byte >> 1;
    return !(byte & 1);
}

/* ZF, SF, PF: from the result alone; PF looks at its low byte only. */
static uint64_t result_flags(uint64_t result, unsigned size)
{
    uint64_t flags = 0;
    result = low_bytes(result, size);
    if (result == 0)
        flags |= X86_FLAG_ZF;
    if (result & sign_bit(size))
        flags |= X86_FLAG_SF;
    if (parity_even((uint8_t)result))
        flags |= X86_FLAG_PF;
    return flags;
}

/* Carry out of the top bit, from the operands and result at that bit; holds with a
 * carry in too.  AF is the carry out of bit 3. */
static uint64_t add_flags(uint64_t a, uint64_t b, uint64_t r, unsigned size)
{
    uint64_t flags = result_flags(r, size);
    if (((a & b) | ((a | b) & ~r)) & sign_bit(size))
        flags |= X86_FLAG_CF;
    if ((a ^ r) & (b ^ r) & sign_bit(size))
        flags |= X86_FLAG_OF;
    if ((a ^ b ^ r) & 0x10)
        flags |= X86_FLAG_AF;
    return flags;
}

/* The same for a - b (- borrow): CF is the borrow into the top bit's left. */
static uint64_t sub_flags(uint64_t a, uint64_t b, uint64_t r, unsigned size)
{
    uint64_t flags = result_flags(r, size);
    if (((~a & b) | ((~a | b) & r)) & sign_bit(size))
        flags |= X86_FLAG_CF;
    if ((a ^ b) & (a ^ r) & sign_bit(size))
        flags |= X86_FLAG_OF;
    if ((a ^ b ^ r) & 0x10)
        flags |= X86_FLAG_AF;
    return flags;
}

/* a op b at `size`, with the flags each instruction's SDM page defines.  Logical ops
 * clear CF and OF and leave AF undefined (cleared here); INC and DEC keep CF; NOT
 * changes no flag. */
static uint64_t alu(enum x86_op op, unsigned size, uint64_t a, uint64_t b, uint64_t *rflags)
{
    uint64_t carry = *rflags & X86_FLAG_CF, r, flags;
    switch (op) {
    case X86_OP_ADD: r = a + b;         flags = add_flags(a, b, r, size); break;
    case X86_OP_ADC: r = a + b + carry; flags = add_flags(a, b, r, size); break;
    case X86_OP_SUB:
    case X86_OP_CMP: r = a - b;         flags = sub_flags(a, b, r, size); break;
    case X86_OP_SBB: r = a - b - carry; flags = sub_flags(a, b, r, size); break;
    case X86_OP_NEG: r = 0 - a;         flags = sub_flags(0, a, r, size); break;
    case X86_OP_INC: r = a + 1; flags = (add_flags(a, 1, r, size) & ~X86_FLAG_CF) | carry; break;
    case X86_OP_DEC: r = a - 1; flags = (sub_flags(a, 1, r, size) & ~X86_FLAG_CF) | carry; break;
    case X86_OP_AND:
    case X86_OP_TEST: r = a & b; flags = result_flags(r, size); break;
    case X86_OP_OR:   r = a | b; flags = result_flags(r, size); break;
    case X86_OP_XOR:  r = a ^ b; flags = result_flags(r, size); break;
    default:          return low_bytes(~a, size);                  /* NOT */
    }
    *rflags = (*rflags & ~X86_FLAGS_ARITH) | flags;
    return low_bytes(r, size);
}

static enum x86_emulate_status emulate_mov(const struct x86_insn *i, struct x86_state *s,
                                           uint64_t gpa, const struct x86_emulate_ops *ops)
{
    if (i->access == X86_ACCESS_WRITE) {
        ops->mmio_write(ops->ctx, gpa, i->size, other_operand(i, s));
        return X86_EMULATE_DONE;
    }
    uint64_t value = low_bytes(ops->mmio_read(ops->ctx, gpa, i->size), i->size);
    if (i->extend == X86_EXTEND_SIGN)
        value = sign_extend(value, i->size);
    register_write(s, i->reg, i->reg_high_byte, i->register_size, value);
    return X86_EMULATE_DONE;
}

static enum x86_emulate_status emulate_alu(const struct x86_insn *i, struct x86_state *s,
                                           uint64_t gpa, const struct x86_emulate_ops *ops)
{
    uint64_t memory = low_bytes(ops->mmio_read(ops->ctx, gpa, i->size), i->size);
    uint64_t a = memory, b = 0, result;
    enum x86_op op = (enum x86_op)i->op;

    if (i->register_first) {
        a = register_read(s, i->reg, i->reg_high_byte, i->size);
        b = memory;
    } else if (i->has_immediate || i->reg != X86_REG_NONE) {
        b = other_operand(i, s);
    }
    result = alu(op, i->size, a, b, &s->rflags);
    if (op == X86_OP_CMP || op == X86_OP_TEST)
        return X86_EMULATE_DONE;
    if (i->register_first)
        register_write(s, i->reg, i->reg_high_byte, i->size, result);
    else
        ops->mmio_write(ops->ctx, gpa, i->size, result);
    return X86_EMULATE_DONE;
}

static enum x86_emulate_status emulate_xchg(const struct x86_insn *i, struct x86_state *s,
                                            uint64_t gpa, const struct x86_emulate_ops *ops)
{
    uint64_t old = ops->mmio_read(ops->ctx, gpa, i->size);
    ops->mmio_write(ops->ctx, gpa, i->size, other_operand(i, s));
    register_write(s, i->reg, i->reg_high_byte, i->size, old);
    return X86_EMULATE_DONE;
}

/* BT sets CF to the bit; ZF is kept, OF SF AF PF are undefined (kept here).  The exit's
 * address is already the unit holding the bit, so only the bit within it matters. */
static enum x86_emulate_status emulate_bt(const struct x86_insn *i, struct x86_state *s,
                                          uint64_t gpa, const struct x86_emulate_ops *ops)
{
    uint64_t value = ops->mmio_read(ops->ctx, gpa, i->size);
    unsigned bit = (unsigned)(other_operand(i, s) & (8u * i->size - 1));
    s->rflags &= ~X86_FLAG_CF;
    if ((value >> bit) & 1)
        s->rflags |= X86_FLAG_CF;
    return X86_EMULATE_DONE;
}

/* rSI or rDI moves by one element, down if DF is set, wrapping at the address size. */
static void step_index(const struct x86_insn *i, struct x86_state *s, int reg)
{
    uint64_t value = s->gpr[reg];
    value = (s->rflags & X86_FLAG_DF) ? value - i->size : value + i->size;
    register_write(s, reg, false, i->address_size, value);
}

/* One MOVS element: the device is the side the exit was on, the other side is guest
 * memory.  The memory side that can fault goes first when it is the source. */
static enum x86_emulate_status move_element(const struct x86_insn *i, struct x86_state *s,
                                            uint64_t gpa, bool exit_was_write,
                                            const struct x86_emulate_ops *ops)
{
    uint64_t value;
    if (exit_was_write) {
        if (!ops->memory_read(ops->ctx, x86_linear_address(i, &i->memory, s), i->size, &value))
            return X86_EMULATE_FAULT;
        ops->mmio_write(ops->ctx, gpa, i->size, value);
        return X86_EMULATE_DONE;
    }
    value = ops->mmio_read(ops->ctx, gpa, i->size);
    if (!ops->memory_write(ops->ctx, x86_linear_address(i, &i->destination, s), i->size, value))
        return X86_EMULATE_FAULT;
    return X86_EMULATE_DONE;
}

/* One element of MOVS, STOS or LODS.  With REP the count is rCX at the address size;
 * a zero count does nothing, and while it stays above zero the guest re-executes the
 * instruction, exactly as after an interrupt between iterations (SDM Vol. 2, REP). */
static enum x86_emulate_status emulate_string(const struct x86_insn *i, struct x86_state *s,
                                              uint64_t gpa, bool exit_was_write,
                                              const struct x86_emulate_ops *ops)
{
    bool rep = i->rep != X86_REP_NONE;
    uint64_t count = low_bytes(s->gpr[X86_RCX], i->address_size);

    if (rep && count == 0)
        return X86_EMULATE_DONE;
    if (i->op == X86_OP_MOVS && (!ops->memory_read || !ops->memory_write))
        return X86_EMULATE_UNSUPPORTED;
    if (i->op == X86_OP_STOS) {
        ops->mmio_write(ops->ctx, gpa, i->size, register_read(s, X86_RAX, false, i->size));
        step_index(i, s, X86_RDI);
    } else if (i->op == X86_OP_LODS) {
        register_write(s, X86_RAX, false, i->size, ops->mmio_read(ops->ctx, gpa, i->size));
        step_index(i, s, X86_RSI);
    } else {
        if (move_element(i, s, gpa, exit_was_write, ops) != X86_EMULATE_DONE)
            return X86_EMULATE_FAULT;
        step_index(i, s, X86_RSI);
        step_index(i, s, X86_RDI);
    }
    if (!rep)
        return X86_EMULATE_DONE;
    register_write(s, X86_RCX, false, i->address_size, count - 1);
    return count - 1 ? X86_EMULATE_REPEAT : X86_EMULATE_DONE;
}

enum x86_emulate_status x86_emulate(const struct x86_insn *insn, struct x86_state *state,
                                    uint64_t gpa, bool exit_was_write,
                                    const struct x86_emulate_ops *ops)
{
    switch (insn->op) {
    case X86_OP_MOV:  return emulate_mov(insn, state, gpa, ops);
    case X86_OP_XCHG: return emulate_xchg(insn, state, gpa, ops);
    case X86_OP_BT:   return emulate_bt(insn, state, gpa, ops);
    case X86_OP_MOVS:
    case X86_OP_STOS:
    case X86_OP_LODS: return emulate_string(insn, state, gpa, exit_was_write, ops);
    default:          return emulate_alu(insn, state, gpa, ops);
    }
}
