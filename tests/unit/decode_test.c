/* The VMM's MMIO instruction decoder (vmm/decode.c). */
#include "unit.h"
#include "../../vmm/decode.h"

static struct mmio_instruction insn;

static bool decode(enum decode_mode mode, const uint8_t *code, unsigned length)
{
    memset(&insn, 0xa5, sizeof(insn));
    return decode_mmio(code, length, mode, &insn);
}
#define DECODE(mode, ...) ({ static const uint8_t code_[] = { __VA_ARGS__ }; \
                             decode(mode, code_, sizeof(code_)); })

static void mov_register_forms(void)
{
    CHECK(DECODE(DECODE_MODE_32, 0x8b, 0x5f, 0x04));            /* mov ebx, [edi+4] */
    CHECK_EQ(insn.length, 3);
    CHECK(!insn.store);
    CHECK_EQ(insn.size, 4);
    CHECK_EQ(insn.reg, 3);
    CHECK(!insn.high_byte);
    CHECK(DECODE(DECODE_MODE_32, 0x89, 0x0d, 0x04, 0x00, 0x00, 0xd0));  /* mov [disp32], ecx */
    CHECK_EQ(insn.length, 6);
    CHECK(insn.store);
    CHECK_EQ(insn.reg, 1);
    CHECK(DECODE(DECODE_MODE_32, 0x8b, 0x04, 0x97));            /* mov eax, [edi+edx*4] */
    CHECK_EQ(insn.length, 3);
    CHECK(DECODE(DECODE_MODE_32, 0x8b, 0x04, 0x25, 0, 0, 0, 0xd0));     /* SIB, no base: disp32 */
    CHECK_EQ(insn.length, 7);
    CHECK(DECODE(DECODE_MODE_32, 0x8b, 0x84, 0x24, 0x10, 0, 0, 0));     /* [esp+disp32] */
    CHECK_EQ(insn.length, 7);
    CHECK(DECODE(DECODE_MODE_32, 0x8b, 0x80, 1, 2, 3, 4));      /* [eax+disp32] */
    CHECK_EQ(insn.length, 6);
}

static void byte_registers(void)
{
    CHECK(DECODE(DECODE_MODE_32, 0x8a, 0x27));                  /* mov ah, [edi] */
    CHECK_EQ(insn.size, 1);
    CHECK_EQ(insn.reg, 0);
    CHECK(insn.high_byte);
    CHECK(DECODE(DECODE_MODE_64, 0x40, 0x8a, 0x37));            /* mov sil, [rdi]: REX */
    CHECK_EQ(insn.length, 3);
    CHECK_EQ(insn.reg, 6);
    CHECK(!insn.high_byte);
    CHECK(DECODE(DECODE_MODE_32, 0x88, 0x07));                  /* mov [edi], al */
    CHECK(insn.store);
    CHECK(!insn.high_byte);
}

static void operand_and_address_size(void)
{
    CHECK(DECODE(DECODE_MODE_32, 0x66, 0x8b, 0x47, 0x02));      /* mov ax, [edi+2] */
    CHECK_EQ(insn.length, 4);
    CHECK_EQ(insn.size, 2);
    CHECK(DECODE(DECODE_MODE_16, 0x8b, 0x07));                  /* mov ax, [bx] */
    CHECK_EQ(insn.size, 2);
    CHECK_EQ(insn.length, 2);
    CHECK(DECODE(DECODE_MODE_16, 0x8b, 0x06, 0x00, 0x80));      /* mov ax, [0x8000] */
    CHECK_EQ(insn.length, 4);
    CHECK(DECODE(DECODE_MODE_16, 0x66, 0x67, 0x8b, 0x04, 0x24));    /* mov eax, [esp] */
    CHECK_EQ(insn.size, 4);
    CHECK_EQ(insn.length, 5);
    CHECK(DECODE(DECODE_MODE_64, 0x48, 0x8b, 0x05, 1, 0, 0, 0));    /* mov rax, [rip+1] */
    CHECK_EQ(insn.size, 8);
    CHECK_EQ(insn.length, 7);
    CHECK(DECODE(DECODE_MODE_64, 0x44, 0x89, 0x07));            /* mov [rdi], r8d: REX.R */
    CHECK_EQ(insn.reg, 8);
    CHECK_EQ(insn.size, 4);
    CHECK(DECODE(DECODE_MODE_64, 0x3e, 0xf0, 0x89, 0x07));      /* ignored prefixes */
    CHECK_EQ(insn.length, 4);
}

static void immediates_and_offsets(void)
{
    CHECK(DECODE(DECODE_MODE_32, 0xc7, 0x47, 0x04, 0x78, 0x56, 0x34, 0x12));
    CHECK_EQ(insn.length, 7);
    CHECK(insn.store && insn.has_immediate);
    CHECK_EQ(insn.immediate, 0x12345678);
    CHECK(DECODE(DECODE_MODE_64, 0x48, 0xc7, 0x07, 0xff, 0xff, 0xff, 0xff));    /* sign-extended */
    CHECK_EQ(insn.size, 8);
    CHECK_EQ(insn.immediate, 0xffffffffffffffffull);
    CHECK(DECODE(DECODE_MODE_32, 0x66, 0xc7, 0x07, 0x34, 0x12));
    CHECK_EQ(insn.length, 5);
    CHECK_EQ(insn.immediate, 0x1234);
    CHECK(DECODE(DECODE_MODE_32, 0xc6, 0x07, 0x80));
    CHECK_EQ(insn.size, 1);
    CHECK_EQ(insn.immediate, 0x80);
    CHECK(DECODE(DECODE_MODE_32, 0xa1, 0x00, 0x00, 0x00, 0xd0));    /* mov eax, [moffs32] */
    CHECK_EQ(insn.length, 5);
    CHECK(!insn.store);
    CHECK_EQ(insn.reg, 0);
    CHECK(DECODE(DECODE_MODE_64, 0xa2, 1, 2, 3, 4, 5, 6, 7, 8));    /* mov [moffs64], al */
    CHECK_EQ(insn.length, 9);
    CHECK(insn.store);
    CHECK_EQ(insn.size, 1);
}

static void extensions(void)
{
    CHECK(DECODE(DECODE_MODE_32, 0x0f, 0xb6, 0x47, 0x01));      /* movzx eax, byte [edi+1] */
    CHECK_EQ(insn.length, 4);
    CHECK_EQ(insn.size, 1);
    CHECK_EQ(insn.reg_size, 4);
    CHECK(!insn.sign_extend);
    CHECK(DECODE(DECODE_MODE_64, 0x48, 0x0f, 0xbf, 0x07));      /* movsx rax, word [rdi] */
    CHECK_EQ(insn.size, 2);
    CHECK_EQ(insn.reg_size, 8);
    CHECK(insn.sign_extend);
}

static void refused(void)
{
    CHECK(!DECODE(DECODE_MODE_32, 0x89, 0xc8));                 /* register to register */
    CHECK(!DECODE(DECODE_MODE_32, 0xa5));                       /* movs */
    CHECK(!DECODE(DECODE_MODE_32, 0xf3, 0xa5));                 /* rep movs */
    CHECK(!DECODE(DECODE_MODE_32, 0xc7, 0x4f, 0x04, 0, 0, 0, 0));   /* c7 /1 */
    CHECK(!DECODE(DECODE_MODE_32, 0x8b, 0x80, 1, 2));           /* cut short */
    CHECK(!DECODE(DECODE_MODE_32, 0x0f, 0x0b));                 /* ud2 */
    static const uint8_t prefixes[16] = { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                          0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x8b, 0x07 };
    CHECK(!decode(DECODE_MODE_32, prefixes, sizeof(prefixes)));  /* longer than 15 */
}

static void load_and_store_values(void)
{
    uint64_t gpr[16] = { 0 };
    gpr[0] = 0x1111111122334455ull;
    CHECK(DECODE(DECODE_MODE_32, 0x8a, 0x27));                  /* mov ah, [edi] */
    mmio_complete_load(&insn, gpr, 0x99);
    CHECK_EQ(gpr[0], 0x1111111122339955ull);
    CHECK(DECODE(DECODE_MODE_32, 0x66, 0x8b, 0x07));            /* 16 bits: the rest kept */
    mmio_complete_load(&insn, gpr, 0xabcd);
    CHECK_EQ(gpr[0], 0x111111112233abcdull);
    CHECK(DECODE(DECODE_MODE_64, 0x8b, 0x07));                  /* 32 bits: upper half cleared */
    mmio_complete_load(&insn, gpr, 0xdeadbeef);
    CHECK_EQ(gpr[0], 0xdeadbeef);
    CHECK(DECODE(DECODE_MODE_64, 0x48, 0x0f, 0xbe, 0x0f));      /* movsx rcx, byte [rdi] */
    mmio_complete_load(&insn, gpr, 0x80);
    CHECK_EQ(gpr[1], 0xffffffffffffff80ull);
    gpr[3] = 0x12345678;
    CHECK(DECODE(DECODE_MODE_32, 0x88, 0x3f));                  /* mov [edi], bh */
    CHECK_EQ(mmio_store_value(&insn, gpr), 0x56);
    CHECK(DECODE(DECODE_MODE_32, 0x66, 0x89, 0x1f));            /* mov [edi], bx */
    CHECK_EQ(mmio_store_value(&insn, gpr), 0x5678);
    CHECK_EQ(gpr_merge(0xffffffffffffffffull, 1, 0), 0xffffffffffffff00ull);
    CHECK_EQ(gpr_merge(0xffffffffffffffffull, 4, 1), 1);
    CHECK_EQ(gpr_merge(0, 8, 0x123456789ull), 0x123456789ull);
}

UNIT_TABLE(decode,
    { "decode_mov_register", mov_register_forms },
    { "decode_byte_registers", byte_registers },
    { "decode_operand_address_size", operand_and_address_size },
    { "decode_immediates_offsets", immediates_and_offsets },
    { "decode_movzx_movsx", extensions },
    { "decode_refused", refused },
    { "decode_load_store_values", load_and_store_values },
)
