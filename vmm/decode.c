/* The MMIO instruction decoder (decode.h).  Encodings: SDM Vol. 2, chapter 2. */
#include "decode.h"

/* Reads instruction bytes; running past `available` or the length limit clears ok. */
struct cursor {
    const uint8_t *code;
    unsigned available, at;
    bool ok;
};

static uint8_t next_byte(struct cursor *c)
{
    if (c->at >= c->available || c->at >= DECODE_MAX_LENGTH) {
        c->ok = false;
        return 0;
    }
    return c->code[c->at++];
}

static uint64_t next_le(struct cursor *c, unsigned bytes)
{
    uint64_t value = 0;
    for (unsigned i = 0; i < bytes; i++)
        value |= (uint64_t)next_byte(c) << (8 * i);
    return value;
}

static uint64_t low_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static uint64_t sign_extend(uint64_t value, unsigned size)
{
    if (size >= 8)
        return value;
    uint64_t sign = 1ull << (8 * size - 1);
    value &= low_mask(size);
    return (value ^ sign) - sign;
}

/* Steps over the SIB byte and displacement that follow a ModRM byte.  False when the
 * ModRM names a register (mod = 3): no memory access, so nothing MMIO could decode.
 * 16-bit addressing is Table 2-1, 32- and 64-bit addressing Table 2-2 (mod 0, r/m 5
 * is disp32 there, RIP-relative in 64-bit mode; r/m 4 brings a SIB byte whose base 5
 * with mod 0 is again disp32). */
static bool skip_memory_operand(struct cursor *c, uint8_t modrm, unsigned address_size)
{
    unsigned mod = modrm >> 6, rm = modrm & 7;
    if (mod == 3)
        return false;
    if (address_size == 2) {
        if ((mod == 0 && rm == 6) || mod == 2)
            next_le(c, 2);
        else if (mod == 1)
            next_le(c, 1);
        return true;
    }
    if (rm == 4) {
        uint8_t sib = next_byte(c);
        if (mod == 0 && (sib & 7) == 5)
            next_le(c, 4);
    } else if (mod == 0 && rm == 5) {
        next_le(c, 4);
    }
    if (mod == 1)
        next_le(c, 1);
    else if (mod == 2)
        next_le(c, 4);
    return true;
}

struct prefixes {
    bool operand_override;          /* 66 */
    bool address_override;          /* 67 */
    uint8_t rex;                    /* 0 when absent */
};

#define REX_W 0x08
#define REX_R 0x04

static bool is_ignored_prefix(uint8_t byte)
{
    switch (byte) {
    case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:  /* segments */
    case 0xf0:                                                          /* lock */
        return true;
    default:
        return false;
    }
}

/* Reads the legacy prefixes and a REX prefix; returns the opcode byte after them. */
static uint8_t read_prefixes(struct cursor *c, enum decode_mode mode, struct prefixes *p)
{
    uint8_t byte = next_byte(c);
    for (; c->ok; byte = next_byte(c)) {
        if (byte == 0x66)
            p->operand_override = true;
        else if (byte == 0x67)
            p->address_override = true;
        else if (!is_ignored_prefix(byte))
            break;
    }
    if (mode == DECODE_MODE_64 && (byte & 0xf0) == 0x40) {   /* REX comes last */
        p->rex = byte;
        byte = next_byte(c);
    }
    return byte;
}

static unsigned operand_size(enum decode_mode mode, const struct prefixes *p)
{
    if (p->rex & REX_W)
        return 8;
    bool wide = (mode == DECODE_MODE_16) == p->operand_override;
    return wide ? 4 : 2;
}

static unsigned address_size(enum decode_mode mode, const struct prefixes *p)
{
    switch (mode) {
    case DECODE_MODE_16: return p->address_override ? 4 : 2;
    case DECODE_MODE_32: return p->address_override ? 2 : 4;
    default:             return p->address_override ? 4 : 8;
    }
}

/* mov between a register and memory: 88, 89 (store), 8a, 8b (load). */
static bool decode_mov_register(struct cursor *c, uint8_t opcode, unsigned osize,
                                unsigned asize, const struct prefixes *p,
                                struct mmio_instruction *d)
{
    uint8_t modrm = next_byte(c);
    if (!skip_memory_operand(c, modrm, asize))
        return false;
    d->store = opcode == 0x88 || opcode == 0x89;
    d->size = d->reg_size = (opcode & 1) ? osize : 1;
    d->reg = ((modrm >> 3) & 7) | ((p->rex & REX_R) ? 8 : 0);
    /* Without REX, byte registers 4..7 are AH, CH, DH, BH (SDM Vol. 2, 3.1.1.1). */
    if (d->size == 1 && !p->rex && d->reg >= 4) {
        d->high_byte = true;
        d->reg -= 4;
    }
    return true;
}

/* mov memory, immediate: c6 /0 ib, c7 /0 iw or id (sign-extended with REX.W). */
static bool decode_mov_immediate(struct cursor *c, uint8_t opcode, unsigned osize,
                                 unsigned asize, struct mmio_instruction *d)
{
    uint8_t modrm = next_byte(c);
    if (((modrm >> 3) & 7) != 0 || !skip_memory_operand(c, modrm, asize))
        return false;
    d->store = true;
    d->has_immediate = true;
    d->size = d->reg_size = opcode == 0xc6 ? 1 : osize;
    unsigned immediate_size = d->size > 4 ? 4 : d->size;
    d->immediate = sign_extend(next_le(c, immediate_size), immediate_size) & low_mask(d->size);
    return true;
}

/* mov al/eAX to or from an absolute address of the address size: a0..a3. */
static void decode_mov_offset(struct cursor *c, uint8_t opcode, unsigned osize, unsigned asize,
                              struct mmio_instruction *d)
{
    next_le(c, asize);
    d->store = opcode >= 0xa2;
    d->size = d->reg_size = (opcode & 1) ? osize : 1;
    d->reg = 0;
}

/* movzx / movsx: 0f b6, b7, be, bf; the register gets the operand size. */
static bool decode_move_extend(struct cursor *c, unsigned osize, unsigned asize,
                               const struct prefixes *p, struct mmio_instruction *d)
{
    uint8_t opcode = next_byte(c);
    if (opcode != 0xb6 && opcode != 0xb7 && opcode != 0xbe && opcode != 0xbf)
        return false;
    uint8_t modrm = next_byte(c);
    if (!skip_memory_operand(c, modrm, asize))
        return false;
    d->size = (opcode & 1) ? 2 : 1;
    d->reg_size = osize;
    d->sign_extend = opcode >= 0xbe;
    d->reg = ((modrm >> 3) & 7) | ((p->rex & REX_R) ? 8 : 0);
    return true;
}

bool decode_mmio(const uint8_t *code, unsigned available, enum decode_mode mode,
                 struct mmio_instruction *out)
{
    struct cursor c = { code, available, 0, true };
    struct prefixes p = { 0 };
    struct mmio_instruction d = { 0 };
    uint8_t opcode = read_prefixes(&c, mode, &p);
    unsigned osize = operand_size(mode, &p), asize = address_size(mode, &p);
    bool known;
    switch (opcode) {
    case 0x88: case 0x89: case 0x8a: case 0x8b:
        known = decode_mov_register(&c, opcode, osize, asize, &p, &d);
        break;
    case 0xc6: case 0xc7:
        known = decode_mov_immediate(&c, opcode, osize, asize, &d);
        break;
    case 0xa0: case 0xa1: case 0xa2: case 0xa3:
        decode_mov_offset(&c, opcode, osize, asize, &d);
        known = true;
        break;
    case 0x0f:
        known = decode_move_extend(&c, osize, asize, &p, &d);
        break;
    default:
        known = false;
        break;
    }
    if (!known || !c.ok)
        return false;
    d.length = c.at;
    *out = d;
    return true;
}

uint64_t gpr_merge(uint64_t old, unsigned size, uint64_t value)
{
    switch (size) {
    case 1: return (old & ~0xffull) | (value & 0xff);
    case 2: return (old & ~0xffffull) | (value & 0xffff);
    case 4: return value & 0xffffffffull;
    default: return value;
    }
}

uint64_t mmio_store_value(const struct mmio_instruction *insn, const uint64_t gpr[16])
{
    uint64_t value;
    if (insn->has_immediate)
        value = insn->immediate;
    else if (insn->high_byte)
        value = gpr[insn->reg] >> 8;
    else
        value = gpr[insn->reg];
    return value & low_mask(insn->size);
}

void mmio_complete_load(const struct mmio_instruction *insn, uint64_t gpr[16], uint64_t value)
{
    uint64_t *reg = &gpr[insn->reg];
    if (insn->high_byte) {
        *reg = (*reg & ~0xff00ull) | ((value & 0xff) << 8);
        return;
    }
    value = insn->sign_extend ? sign_extend(value, insn->size) : value & low_mask(insn->size);
    *reg = gpr_merge(*reg, insn->reg_size, value);
}
