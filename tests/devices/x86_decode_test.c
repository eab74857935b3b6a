/* The MMIO instruction decoder and emulator, on byte sequences of real instructions
 * as compilers emit them for Linux and firmware device accesses. */
#include "harness.h"
#include "x86/x86_decode.h"

#define BYTES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

#define MMIO 0xfebf1000ull          /* the exit's guest-physical address in these tests */

/* A device that answers every read with `value` and records the last write, and a
 * scrap of ordinary guest memory at linear RAM_BASE for MOVS. */
#define RAM_BASE 0x10000ull
static struct {
    uint64_t value;
    unsigned reads, writes;
    uint64_t gpa, written;
    unsigned size;
    uint8_t ram[64];
} dev;

static uint64_t mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
    (void)ctx;
    dev.reads++;
    dev.gpa = gpa;
    dev.size = size;
    return dev.value;
}

static void mmio_write(void *ctx, uint64_t gpa, unsigned size, uint64_t value)
{
    (void)ctx;
    dev.writes++;
    dev.gpa = gpa;
    dev.size = size;
    dev.written = value;
}

static bool in_ram(uint64_t linear, unsigned size)
{
    return linear >= RAM_BASE && linear + size <= RAM_BASE + sizeof(dev.ram);
}

static bool memory_read(void *ctx, uint64_t linear, unsigned size, uint64_t *value)
{
    (void)ctx;
    if (!in_ram(linear, size))
        return false;
    *value = 0;
    for (unsigned i = 0; i < size; i++)
        *value |= (uint64_t)dev.ram[linear - RAM_BASE + i] << (8 * i);
    return true;
}

static bool memory_write(void *ctx, uint64_t linear, unsigned size, uint64_t value)
{
    (void)ctx;
    if (!in_ram(linear, size))
        return false;
    for (unsigned i = 0; i < size; i++)
        dev.ram[linear - RAM_BASE + i] = (uint8_t)(value >> (8 * i));
    return true;
}

static const struct x86_emulate_ops ops = { mmio_read, mmio_write, memory_read,
                                            memory_write, NULL };

static struct x86_state state;

/* Fresh registers with recognisable contents; 0x202 is IF plus the fixed bit 1. */
static void reset(uint64_t device_value)
{
    memset(&dev, 0, sizeof(dev));
    dev.value = device_value;
    memset(&state, 0, sizeof(state));
    for (unsigned r = 0; r < X86_REG_COUNT; r++)
        state.gpr[r] = 0x1111111111111111ull * (r + 1);
    state.rip = 0xffffffff81000000ull;
    state.rflags = 0x202;
}

static struct x86_insn insn;

static enum x86_decode_status decode(unsigned code_size, const uint8_t *bytes, size_t n)
{
    return x86_decode(bytes, n, code_size, &insn);
}

static enum x86_emulate_status emulate(void)
{
    return x86_emulate(&insn, &state, MMIO, (insn.access & X86_ACCESS_WRITE) &&
                       !(insn.access & X86_ACCESS_READ), &ops);
}

static uint64_t address(void)
{
    return x86_linear_address(&insn, &insn.memory, &state);
}

/* ---- Loads and stores ----------------------------------------------------------- */

static void mov_eax_from_rdi(void)
{
    reset(0x12345678);
    CHECK_EQ(decode(8, BYTES(0x8b, 0x07)), X86_DECODE_OK);     /* mov eax,[rdi] */
    CHECK_EQ(insn.length, 2);
    CHECK_EQ(insn.op, X86_OP_MOV);
    CHECK_EQ(insn.access, X86_ACCESS_READ);
    CHECK_EQ(insn.size, 4);
    CHECK_EQ(insn.reg, X86_RAX);
    CHECK_EQ(address(), state.gpr[X86_RDI]);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.gpa, MMIO);
    CHECK_EQ(dev.size, 4);
    CHECK_EQ(state.gpr[X86_RAX], 0x12345678);                  /* upper half zeroed */
}

static void mov_rax_from_rdi_disp32(void)
{
    reset(0x8877665544332211ull);
    CHECK_EQ(decode(8, BYTES(0x48, 0x8b, 0x87, 0x10, 0x01, 0x00, 0x00)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 7);
    CHECK_EQ(insn.size, 8);
    CHECK_EQ(address(), state.gpr[X86_RDI] + 0x110);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RAX], 0x8877665544332211ull);
}

static void mov_store_edx(void)
{
    reset(0);
    CHECK_EQ(decode(8, BYTES(0x89, 0x50, 0x04)), X86_DECODE_OK); /* mov [rax+4],edx */
    CHECK_EQ(insn.length, 3);
    CHECK_EQ(insn.access, X86_ACCESS_WRITE);
    CHECK_EQ(insn.reg, X86_RDX);
    CHECK_EQ(address(), state.gpr[X86_RAX] + 4);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.writes, 1);
    CHECK_EQ(dev.reads, 0);
    CHECK_EQ(dev.size, 4);
    CHECK_EQ(dev.written, 0x33333333);
}

static void mov_store_cx_operand_prefix(void)
{
    reset(0);
    CHECK_EQ(decode(8, BYTES(0x66, 0x89, 0x08)), X86_DECODE_OK); /* mov [rax],cx */
    CHECK_EQ(insn.length, 3);
    CHECK_EQ(insn.size, 2);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0x2222);
}

static void mov_store_immediates(void)
{
    reset(0);
    CHECK_EQ(decode(8, BYTES(0xc7, 0x00, 0x01, 0x00, 0x00, 0x00)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 6);                                    /* mov dword [rax],1 */
    CHECK_EQ(insn.has_immediate, true);
    CHECK_EQ(insn.immediate, 1);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 1);
    CHECK_EQ(dev.size, 4);

    /* mov qword [rax+8],-1: imm32 sign-extended to 64 bits. */
    CHECK_EQ(decode(8, BYTES(0x48, 0xc7, 0x40, 0x08, 0xff, 0xff, 0xff, 0xff)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 8);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.size, 8);
    CHECK_EQ(dev.written, 0xffffffffffffffffull);

    /* mov byte [rbx+disp32],0x5a, and mov word [rdi],0x1234. */
    CHECK_EQ(decode(8, BYTES(0xc6, 0x83, 0x00, 0x02, 0x00, 0x00, 0x5a)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 7);
    CHECK_EQ(address(), state.gpr[X86_RBX] + 0x200);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0x5a);
    CHECK_EQ(decode(8, BYTES(0x66, 0xc7, 0x07, 0x34, 0x12)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 5);
    CHECK_EQ(insn.immediate, 0x1234);
}

static void movzx_movsx_movsxd(void)
{
    reset(0x80);
    CHECK_EQ(decode(8, BYTES(0x0f, 0xb6, 0x40, 0x02)), X86_DECODE_OK); /* movzx eax,[rax+2] */
    CHECK_EQ(insn.length, 4);
    CHECK_EQ(insn.size, 1);
    CHECK_EQ(insn.register_size, 4);
    CHECK_EQ(insn.extend, X86_EXTEND_ZERO);
    CHECK_EQ(address(), state.gpr[X86_RAX] + 2);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.size, 1);
    CHECK_EQ(state.gpr[X86_RAX], 0x80);

    CHECK_EQ(decode(8, BYTES(0x48, 0x0f, 0xbe, 0x0f)), X86_DECODE_OK); /* movsx rcx,byte [rdi] */
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RCX], 0xffffffffffffff80ull);

    CHECK_EQ(decode(8, BYTES(0x66, 0x0f, 0xbe, 0x17)), X86_DECODE_OK); /* movsx dx,byte [rdi] */
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RDX], 0x333333333333ff80ull);

    dev.value = 0x8001;                         /* movzx ebx,word [rbx-2] */
    CHECK_EQ(decode(8, BYTES(0x0f, 0xb7, 0x5b, 0xfe)), X86_DECODE_OK);
    CHECK_EQ(insn.size, 2);
    CHECK_EQ(address(), state.gpr[X86_RBX] - 2);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RBX], 0x8001);

    CHECK_EQ(decode(8, BYTES(0x0f, 0xbf, 0x33)), X86_DECODE_OK);       /* movsx esi,word [rbx] */
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RSI], 0xffff8001);

    dev.value = 0x87654321;                     /* movsxd rax,dword [rdi+8] */
    CHECK_EQ(decode(8, BYTES(0x48, 0x63, 0x47, 0x08)), X86_DECODE_OK);
    CHECK_EQ(insn.size, 4);
    CHECK_EQ(insn.register_size, 8);
    CHECK_EQ(insn.extend, X86_EXTEND_SIGN);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RAX], 0xffffffff87654321ull);
}

/* ---- Byte registers and partial writes -------------------------------------------- */

static void byte_register_with_sib(void)
{
    reset(0);
    CHECK_EQ(decode(8, BYTES(0x88, 0x5c, 0x24, 0x08)), X86_DECODE_OK); /* mov [rsp+8],bl */
    CHECK_EQ(insn.length, 4);
    CHECK_EQ(insn.size, 1);
    CHECK_EQ(insn.reg, X86_RBX);
    CHECK_EQ(insn.reg_high_byte, false);
    CHECK_EQ(insn.memory.base, X86_RSP);
    CHECK_EQ(insn.memory.index, X86_REG_NONE);
    CHECK_EQ(insn.memory.segment, GUEST_SEG_SS);
    CHECK_EQ(address(), state.gpr[X86_RSP] + 8);
    state.gpr[X86_RBX] = 0xa5;
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0xa5);
}

static void ah_without_rex_spl_with_rex(void)
{
    reset(0);
    state.gpr[X86_RAX] = 0x1234;
    state.gpr[X86_RSP] = 0x5678;
    CHECK_EQ(decode(8, BYTES(0x88, 0x27)), X86_DECODE_OK);             /* mov [rdi],ah */
    CHECK_EQ(insn.reg, X86_RAX);
    CHECK_EQ(insn.reg_high_byte, true);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0x12);
    CHECK_EQ(decode(8, BYTES(0x40, 0x88, 0x27)), X86_DECODE_OK);       /* mov [rdi],spl */
    CHECK_EQ(insn.length, 3);
    CHECK_EQ(insn.reg, X86_RSP);
    CHECK_EQ(insn.reg_high_byte, false);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0x78);
}

static void partial_register_loads(void)
{
    reset(0xfedcba9876543210ull);
    CHECK_EQ(decode(8, BYTES(0x8a, 0x07)), X86_DECODE_OK);             /* mov al,[rdi] */
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RAX], 0x1111111111111110ull);
    CHECK_EQ(decode(8, BYTES(0x8a, 0x2f)), X86_DECODE_OK);             /* mov ch,[rdi] */
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RCX], 0x2222222222221022ull);
    CHECK_EQ(decode(8, BYTES(0x40, 0x8a, 0x2f)), X86_DECODE_OK);       /* mov bpl,[rdi] */
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RBP], 0x6666666666666610ull);
    CHECK_EQ(decode(8, BYTES(0x66, 0x8b, 0x17)), X86_DECODE_OK);       /* mov dx,[rdi] */
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RDX], 0x3333333333333210ull);
    CHECK_EQ(decode(8, BYTES(0x44, 0x8b, 0x07)), X86_DECODE_OK);       /* mov r8d,[rdi] */
    CHECK_EQ(insn.reg, X86_R8);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_R8], 0x76543210);
    CHECK_EQ(decode(8, BYTES(0x4d, 0x8b, 0x3f)), X86_DECODE_OK);       /* mov r15,[r15] */
    CHECK_EQ(insn.reg, X86_R15);
    CHECK_EQ(insn.memory.base, X86_R15);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_R15], 0xfedcba9876543210ull);
}

/* ---- Addressing forms ----------------------------------------------------------- */

static void rip_relative(void)
{
    reset(7);
    CHECK_EQ(decode(8, BYTES(0x8b, 0x05, 0x10, 0x00, 0x00, 0x00)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 6);
    CHECK_EQ(insn.memory.base, X86_REG_RIP);
    CHECK_EQ(address(), state.rip + 6 + 0x10);

    /* With an immediate after it, RIP is still the end of the whole instruction:
     * mov dword [rip-0x20],5. */
    CHECK_EQ(decode(8, BYTES(0xc7, 0x05, 0xe0, 0xff, 0xff, 0xff, 0x05, 0x00, 0x00, 0x00)),
             X86_DECODE_OK);
    CHECK_EQ(insn.length, 10);
    CHECK_EQ(address(), state.rip + 10 - 0x20);

    /* 67: EIP-relative, truncated to 32 bits. */
    state.rip = 0x7ffffffffff0ull;
    CHECK_EQ(decode(8, BYTES(0x67, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00)), X86_DECODE_OK);
    CHECK_EQ(insn.address_size, 4);
    CHECK_EQ(address(), (0x7ffffffffff0ull + 7 + 0x100) & 0xffffffff);
}

static void sib_forms(void)
{
    reset(0);
    /* mov eax,[rcx*4+0x1000]: no base. */
    CHECK_EQ(decode(8, BYTES(0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 7);
    CHECK_EQ(insn.memory.base, X86_REG_NONE);
    CHECK_EQ(insn.memory.index, X86_RCX);
    CHECK_EQ(insn.memory.scale, 4);
    CHECK_EQ(address(), state.gpr[X86_RCX] * 4 + 0x1000);

    /* mov eax,[r12] needs a SIB byte; mov eax,[r13+0] a disp8. */
    CHECK_EQ(decode(8, BYTES(0x41, 0x8b, 0x04, 0x24)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 4);
    CHECK_EQ(address(), state.gpr[X86_R12]);
    CHECK_EQ(decode(8, BYTES(0x41, 0x8b, 0x45, 0x00)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 4);
    CHECK_EQ(address(), state.gpr[X86_R13]);

    /* mov [rdx+r12*8-0x10],rsi: REX.W.X, index 12 is not "no index". */
    CHECK_EQ(decode(8, BYTES(0x4a, 0x89, 0x74, 0xe2, 0xf0)), X86_DECODE_OK);
    CHECK_EQ(insn.memory.index, X86_R12);
    CHECK_EQ(address(), state.gpr[X86_RDX] + state.gpr[X86_R12] * 8 - 0x10);

    /* mov eax,fs:[0x28]: SIB with neither base nor index. */
    state.segment_base[GUEST_SEG_FS] = 0x7f0000001000ull;
    CHECK_EQ(decode(8, BYTES(0x64, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 8);
    CHECK_EQ(insn.memory.segment, GUEST_SEG_FS);
    CHECK_EQ(address(), 0x7f0000001028ull);

    /* DS override in 64-bit mode: no base applies. */
    state.segment_base[GUEST_SEG_DS] = 0x5000;
    CHECK_EQ(decode(8, BYTES(0x3e, 0x8b, 0x07)), X86_DECODE_OK);
    CHECK_EQ(address(), state.gpr[X86_RDI]);
}

static void moffs_forms(void)
{
    reset(0xabcd);
    /* 64-bit: mov rax,[0xfed00000f0] with an 8-byte offset. */
    CHECK_EQ(decode(8, BYTES(0x48, 0xa1, 0xf0, 0x00, 0x00, 0xd0, 0xfe, 0x00, 0x00, 0x00)),
             X86_DECODE_OK);
    CHECK_EQ(insn.length, 10);
    CHECK_EQ(insn.size, 8);
    CHECK_EQ(address(), 0xfed00000f0ull);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RAX], 0xabcd);

    /* 32-bit code: mov [0xfec00010],al with a DS base, wrapping at 4 GiB. */
    state.segment_base[GUEST_SEG_DS] = 0x100;
    state.gpr[X86_RAX] = 0x11;
    CHECK_EQ(decode(4, BYTES(0xa2, 0x10, 0x00, 0xc0, 0xfe)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 5);
    CHECK_EQ(insn.access, X86_ACCESS_WRITE);
    CHECK_EQ(address(), 0xfec00110);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0x11);
}

static void real_mode_16bit(void)
{
    reset(0xbeef);
    state.segment_base[GUEST_SEG_DS] = 0xf0000;     /* DS = 0xf000 */
    state.segment_base[GUEST_SEG_SS] = 0x7000;
    CHECK_EQ(decode(2, BYTES(0xa1, 0x00, 0x80)), X86_DECODE_OK);  /* mov ax,[0x8000] */
    CHECK_EQ(insn.length, 3);
    CHECK_EQ(insn.size, 2);
    CHECK_EQ(address(), 0xf8000);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RAX], 0x111111111111beefull);

    state.gpr[X86_RBX] = 0xfffe;                    /* mov ax,[bx+2]: wraps at 64 KiB */
    CHECK_EQ(decode(2, BYTES(0x8b, 0x47, 0x02)), X86_DECODE_OK);
    CHECK_EQ(address(), 0xf0000);
    state.gpr[X86_RBP] = 0x100;                     /* mov ax,[bp-2]: SS */
    CHECK_EQ(decode(2, BYTES(0x8b, 0x46, 0xfe)), X86_DECODE_OK);
    CHECK_EQ(insn.memory.segment, GUEST_SEG_SS);
    CHECK_EQ(address(), 0x7000 + 0xfe);
    state.gpr[X86_RSI] = 0x10;                      /* mov [bx+si],cl */
    CHECK_EQ(decode(2, BYTES(0x88, 0x08)), X86_DECODE_OK);
    CHECK_EQ(address(), 0xf000e);
    CHECK_EQ(decode(2, BYTES(0x8b, 0x1e, 0x34, 0x12)), X86_DECODE_OK); /* mov bx,[0x1234] */
    CHECK_EQ(insn.length, 4);
    CHECK_EQ(address(), 0xf1234);

    /* 66 67 in 16-bit code: mov eax,[edi], a 32-bit load through 32-bit addressing. */
    state.gpr[X86_RDI] = 0x12345;
    state.segment_base[GUEST_SEG_ES] = 0;
    CHECK_EQ(decode(2, BYTES(0x66, 0x67, 0x26, 0x8b, 0x07)), X86_DECODE_OK);
    CHECK_EQ(insn.size, 4);
    CHECK_EQ(insn.address_size, 4);
    CHECK_EQ(address(), 0x12345);
}

static void prefix_rules(void)
{
    reset(0);
    /* A REX before a legacy prefix is ignored: 48 66 8b 07 is a 16-bit load. */
    CHECK_EQ(decode(8, BYTES(0x48, 0x66, 0x8b, 0x07)), X86_DECODE_OK);
    CHECK_EQ(insn.size, 2);
    /* REX.W beats 66. */
    CHECK_EQ(decode(8, BYTES(0x66, 0x48, 0x8b, 0x07)), X86_DECODE_OK);
    CHECK_EQ(insn.size, 8);
    /* 15 bytes is the limit. */
    CHECK_EQ(decode(8, BYTES(0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                             0x66, 0x66, 0x66, 0x8b, 0x07)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 15);
    CHECK_EQ(decode(8, BYTES(0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                             0x66, 0x66, 0x66, 0x66, 0x8b, 0x07)), X86_DECODE_TOO_LONG);
    /* Missing bytes. */
    CHECK_EQ(decode(8, BYTES(0x48, 0x8b, 0x87, 0x10, 0x01)), X86_DECODE_TRUNCATED);
    CHECK_EQ(decode(8, BYTES(0x66)), X86_DECODE_TRUNCATED);
    /* LOCK only on read-modify-write with a memory destination. */
    CHECK_EQ(decode(8, BYTES(0xf0, 0x83, 0x00, 0x01)), X86_DECODE_OK);
    CHECK_EQ(insn.lock, true);
    CHECK_EQ(decode(8, BYTES(0xf0, 0x89, 0x07)), X86_DECODE_UNSUPPORTED);
    CHECK_EQ(decode(8, BYTES(0xf0, 0x39, 0x07)), X86_DECODE_UNSUPPORTED);
}

static void unsupported_and_register_forms(void)
{
    reset(0);
    CHECK_EQ(decode(8, BYTES(0x0f, 0x0b)), X86_DECODE_UNSUPPORTED);          /* ud2 */
    CHECK_EQ(decode(8, BYTES(0x90)), X86_DECODE_UNSUPPORTED);                /* nop */
    CHECK_EQ(decode(8, BYTES(0xf7, 0x27)), X86_DECODE_UNSUPPORTED);          /* mul [rdi] */
    CHECK_EQ(decode(8, BYTES(0xff, 0x17)), X86_DECODE_UNSUPPORTED);          /* call [rdi] */
    CHECK_EQ(decode(8, BYTES(0xc7, 0xf8, 0, 0, 0, 0)), X86_DECODE_UNSUPPORTED); /* xbegin */
    CHECK_EQ(decode(8, BYTES(0x82, 0x00, 0x01)), X86_DECODE_UNSUPPORTED);    /* not in 64 */
    CHECK_EQ(decode(4, BYTES(0x82, 0x00, 0x01)), X86_DECODE_OK);
    CHECK_EQ(decode(4, BYTES(0x63, 0x07)), X86_DECODE_UNSUPPORTED);          /* arpl */
    CHECK_EQ(decode(8, BYTES(0x8b, 0xc0)), X86_DECODE_NO_MEMORY);            /* mov eax,eax */
    CHECK_EQ(decode(4, BYTES(0x40, 0x8b, 0x07)), X86_DECODE_UNSUPPORTED);    /* inc eax */
}

static void code_size_from_state(void)
{
    const unsigned l = 1u << 9, db = 1u << 10;
    CHECK_EQ(x86_code_size(0, 0, 0, 0x93), 2);                               /* real */
    CHECK_EQ(x86_code_size(0, 0, 0, 0x93 | db), 4);                /* real, 32-bit CS */
    CHECK_EQ(x86_code_size(GUEST_CR0_PE, 0, GUEST_RFLAGS_VM, db), 2);        /* vm86 */
    CHECK_EQ(x86_code_size(GUEST_CR0_PE, GUEST_EFER_LMA, 0, 0x9b | l), 8);
    CHECK_EQ(x86_code_size(GUEST_CR0_PE, GUEST_EFER_LMA, 0, 0x9b | db), 4);  /* compat */
    CHECK_EQ(x86_code_size(GUEST_CR0_PE, 0, 0, 0x9b | db), 4);
    CHECK_EQ(x86_code_size(GUEST_CR0_PE, 0, 0, 0x9b), 2);
}

/* ---- Arithmetic and flags ------------------------------------------------------- */

#define FLAGS (state.rflags & X86_FLAGS_ARITH)

static void or_and_with_immediates(void)
{
    reset(0x10);
    CHECK_EQ(decode(8, BYTES(0x83, 0x48, 0x04, 0x01)), X86_DECODE_OK);  /* or dword [rax+4],1 */
    CHECK_EQ(insn.length, 4);
    CHECK_EQ(insn.op, X86_OP_OR);
    CHECK_EQ(insn.access, X86_ACCESS_RMW);
    state.rflags |= X86_FLAG_CF | X86_FLAG_OF;
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.reads, 1);
    CHECK_EQ(dev.written, 0x11);
    CHECK_EQ(FLAGS, X86_FLAG_PF);                       /* 0x11: two bits set */
    CHECK_EQ(state.rflags & 0x202, 0x202);              /* other flags kept */

    dev.value = 0x1234;         /* and dword [rax],0xffffff00 via sign-extended imm8 */
    CHECK_EQ(decode(8, BYTES(0x83, 0x20, 0x00)), X86_DECODE_OK);
    CHECK_EQ(insn.immediate, 0);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0);
    CHECK_EQ(FLAGS, X86_FLAG_ZF | X86_FLAG_PF);

    CHECK_EQ(decode(8, BYTES(0x81, 0x20, 0x00, 0xff, 0xff, 0xff)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 6);
    CHECK_EQ(insn.immediate, 0xffffff00);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0x1200);

    dev.value = 0x0f;                                   /* xor byte [rdi],0xff */
    CHECK_EQ(decode(8, BYTES(0x80, 0x37, 0xff)), X86_DECODE_OK);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0xf0);
    CHECK_EQ(dev.size, 1);
    CHECK_EQ(FLAGS, X86_FLAG_SF | X86_FLAG_PF);
}

static void compare_and_test(void)
{
    reset(5);
    CHECK_EQ(decode(8, BYTES(0x80, 0x38, 0x05)), X86_DECODE_OK);        /* cmp byte [rax],5 */
    CHECK_EQ(insn.access, X86_ACCESS_READ);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.writes, 0);
    CHECK_EQ(FLAGS, X86_FLAG_ZF | X86_FLAG_PF);

    dev.value = 3;                                      /* 3 - 5 = 0xfe, borrow */
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(FLAGS, X86_FLAG_CF | X86_FLAG_SF | X86_FLAG_AF);

    /* cmp eax,[rdi] (3B): the register is the first operand. */
    state.gpr[X86_RAX] = 3;
    dev.value = 5;
    CHECK_EQ(decode(8, BYTES(0x3b, 0x07)), X86_DECODE_OK);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(FLAGS, X86_FLAG_CF | X86_FLAG_SF | X86_FLAG_AF);
    CHECK_EQ(state.gpr[X86_RAX], 3);

    dev.value = 0x80;                                   /* test byte [rax],0x80 */
    CHECK_EQ(decode(8, BYTES(0xf6, 0x00, 0x80)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 3);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(FLAGS, X86_FLAG_SF);
    CHECK_EQ(dev.writes, 0);

    dev.value = 0x0f0f0000;                             /* test [rdi],eax */
    state.gpr[X86_RAX] = 0xf0f0ffff;
    CHECK_EQ(decode(8, BYTES(0x85, 0x07)), X86_DECODE_OK);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(FLAGS, X86_FLAG_ZF | X86_FLAG_PF);

    CHECK_EQ(decode(8, BYTES(0xf7, 0x47, 0x10, 0x00, 0x00, 0x00, 0x01)), X86_DECODE_OK);
    CHECK_EQ(insn.length, 7);                           /* test dword [rdi+16],0x1000000 */
    CHECK_EQ(insn.immediate, 0x01000000);
}

static void add_sub_carry_overflow(void)
{
    reset(0x7fffffff);
    state.gpr[X86_RAX] = 1;
    CHECK_EQ(decode(8, BYTES(0x01, 0x07)), X86_DECODE_OK);              /* add [rdi],eax */
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0x80000000);
    CHECK_EQ(FLAGS, X86_FLAG_OF | X86_FLAG_SF | X86_FLAG_AF | X86_FLAG_PF);

    dev.value = 0xffffffff;
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0);
    CHECK_EQ(FLAGS, X86_FLAG_CF | X86_FLAG_ZF | X86_FLAG_AF | X86_FLAG_PF);

    /* adc [rdi],eax with CF set: 0xffffffff + 0 + 1. */
    state.gpr[X86_RAX] = 0;
    CHECK_EQ(decode(8, BYTES(0x11, 0x07)), X86_DECODE_OK);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0);
    CHECK_EQ(FLAGS & (X86_FLAG_CF | X86_FLAG_ZF), X86_FLAG_CF | X86_FLAG_ZF);

    /* sub eax,[rdi] (2B): 0 - 1. */
    dev.value = 1;
    state.gpr[X86_RAX] = 0xaaaaaaaa00000000ull;
    CHECK_EQ(decode(8, BYTES(0x2b, 0x07)), X86_DECODE_OK);
    CHECK_EQ(insn.register_first, true);
    CHECK_EQ(insn.access, X86_ACCESS_READ);
    dev.writes = 0;
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.writes, 0);
    CHECK_EQ(state.gpr[X86_RAX], 0xffffffff);
    CHECK_EQ(FLAGS, X86_FLAG_CF | X86_FLAG_SF | X86_FLAG_AF | X86_FLAG_PF);

    /* sbb [rdi],eax with CF set: 0 - 0 - 1 borrows. */
    dev.value = 0;
    state.gpr[X86_RAX] = 0;
    CHECK_EQ(decode(8, BYTES(0x19, 0x07)), X86_DECODE_OK);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0xffffffff);
    CHECK(state.rflags & X86_FLAG_CF);

    /* 64-bit: add [rdi],rax overflowing both ways. */
    dev.value = 0x8000000000000000ull;
    state.gpr[X86_RAX] = 0x8000000000000000ull;
    CHECK_EQ(decode(8, BYTES(0x48, 0x01, 0x07)), X86_DECODE_OK);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0);
    CHECK_EQ(FLAGS, X86_FLAG_CF | X86_FLAG_OF | X86_FLAG_ZF | X86_FLAG_PF);

    /* sub byte [rdi],ah: 0x80 - 1 overflows. */
    dev.value = 0x80;
    state.gpr[X86_RAX] = 0x0100;
    CHECK_EQ(decode(8, BYTES(0x28, 0x27)), X86_DECODE_OK);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0x7f);
    CHECK_EQ(FLAGS, X86_FLAG_OF | X86_FLAG_AF);
}

static void unary_operations(void)
{
    reset(0x80000000);
    CHECK_EQ(decode(8, BYTES(0xf7, 0x18)), X86_DECODE_OK);              /* neg dword [rax] */
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0x80000000);
    CHECK_EQ(FLAGS, X86_FLAG_CF | X86_FLAG_OF | X86_FLAG_SF | X86_FLAG_PF);

    dev.value = 0xff;                                   /* inc byte [rax]: CF kept */
    CHECK_EQ(decode(8, BYTES(0xfe, 0x00)), X86_DECODE_OK);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0);
    CHECK_EQ(FLAGS, X86_FLAG_CF | X86_FLAG_ZF | X86_FLAG_AF | X86_FLAG_PF);

    dev.value = 1;                                      /* dec dword [rax] */
    state.rflags = 0x202;
    CHECK_EQ(decode(8, BYTES(0xff, 0x08)), X86_DECODE_OK);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0);
    CHECK_EQ(FLAGS, X86_FLAG_ZF | X86_FLAG_PF);

    dev.value = 0x0f0f;                                 /* not word [rax]: no flags */
    CHECK_EQ(decode(8, BYTES(0x66, 0xf7, 0x10)), X86_DECODE_OK);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0xf0f0);
    CHECK_EQ(FLAGS, X86_FLAG_ZF | X86_FLAG_PF);
}

static void exchange(void)
{
    reset(0xdead);
    state.gpr[X86_RAX] = 0xffffffff0000beefull;
    CHECK_EQ(decode(8, BYTES(0x87, 0x07)), X86_DECODE_OK);              /* xchg [rdi],eax */
    CHECK_EQ(insn.access, X86_ACCESS_RMW);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0xbeef);
    CHECK_EQ(state.gpr[X86_RAX], 0xdead);
}

static void bit_test(void)
{
    reset(0x8);
    state.gpr[X86_RAX] = 35;                    /* bt [rdi],eax: dword 1, bit 3 */
    CHECK_EQ(decode(8, BYTES(0x0f, 0xa3, 0x07)), X86_DECODE_OK);
    CHECK_EQ(address(), state.gpr[X86_RDI] + 4);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK(state.rflags & X86_FLAG_CF);

    state.gpr[X86_RAX] = 0xffffffff;            /* -1: the dword below, bit 31 */
    CHECK_EQ(address(), state.gpr[X86_RDI] - 4);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK(!(state.rflags & X86_FLAG_CF));

    CHECK_EQ(decode(8, BYTES(0x0f, 0xba, 0x27, 0x23)), X86_DECODE_OK);  /* bt dword [rdi],35 */
    CHECK_EQ(insn.length, 4);
    CHECK_EQ(address(), state.gpr[X86_RDI]);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK(state.rflags & X86_FLAG_CF);
}

/* ---- String instructions -------------------------------------------------------- */

static void rep_stos(void)
{
    reset(0);
    state.gpr[X86_RCX] = 3;
    state.gpr[X86_RDI] = 0x1000;
    state.gpr[X86_RAX] = 0x1234567890abcdefull;
    CHECK_EQ(decode(8, BYTES(0xf3, 0xab)), X86_DECODE_OK);              /* rep stosd */
    CHECK_EQ(insn.length, 2);
    CHECK_EQ(insn.op, X86_OP_STOS);
    CHECK_EQ(insn.rep, X86_REP_REPE);
    CHECK_EQ(insn.memory.segment, GUEST_SEG_ES);
    CHECK_EQ(address(), 0x1000);
    CHECK_EQ(emulate(), X86_EMULATE_REPEAT);
    CHECK_EQ(dev.written, 0x90abcdef);
    CHECK_EQ(state.gpr[X86_RCX], 2);
    CHECK_EQ(state.gpr[X86_RDI], 0x1004);
    state.rflags |= X86_FLAG_DF;
    CHECK_EQ(emulate(), X86_EMULATE_REPEAT);
    CHECK_EQ(state.gpr[X86_RDI], 0x1000);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RCX], 0);
    CHECK_EQ(dev.writes, 3);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);      /* count 0: nothing happens */
    CHECK_EQ(dev.writes, 3);

    /* stosb without REP, in 16-bit code: DI wraps within 16 bits. */
    state.rflags = 0x202;
    state.gpr[X86_RDI] = 0xabcdffff;
    CHECK_EQ(decode(2, BYTES(0xaa)), X86_DECODE_OK);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0xef);
    CHECK_EQ(state.gpr[X86_RDI], 0xabcd0000);

    /* rep stosq with a 32-bit address size: ECX counts, EDI zero-extends. */
    state.gpr[X86_RCX] = 0x100000001ull;
    state.gpr[X86_RDI] = 0x5500000ff8ull;
    CHECK_EQ(decode(8, BYTES(0x67, 0xf3, 0x48, 0xab)), X86_DECODE_OK);
    CHECK_EQ(insn.size, 8);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RCX], 0);
    CHECK_EQ(state.gpr[X86_RDI], 0x1000);
}

static void movs_both_directions(void)
{
    reset(0x11223344);
    /* rep movsd from the device (the exit was a read) into RAM at ES:rDI. */
    state.gpr[X86_RCX] = 2;
    state.gpr[X86_RSI] = 0x2000;
    state.gpr[X86_RDI] = RAM_BASE;
    CHECK_EQ(decode(8, BYTES(0xf3, 0xa5)), X86_DECODE_OK);
    CHECK_EQ(insn.op, X86_OP_MOVS);
    CHECK_EQ(address(), 0x2000);
    CHECK_EQ(x86_linear_address(&insn, &insn.destination, &state), RAM_BASE);
    CHECK_EQ(x86_emulate(&insn, &state, MMIO, false, &ops), X86_EMULATE_REPEAT);
    CHECK_EQ(dev.ram[0], 0x44);
    CHECK_EQ(dev.ram[3], 0x11);
    CHECK_EQ(state.gpr[X86_RSI], 0x2004);
    CHECK_EQ(state.gpr[X86_RDI], RAM_BASE + 4);

    /* movsb from RAM to the device (the exit was a write). */
    dev.ram[8] = 0x5c;
    state.gpr[X86_RSI] = RAM_BASE + 8;
    CHECK_EQ(decode(8, BYTES(0xa4)), X86_DECODE_OK);
    CHECK_EQ(x86_emulate(&insn, &state, MMIO, true, &ops), X86_EMULATE_DONE);
    CHECK_EQ(dev.written, 0x5c);
    CHECK_EQ(dev.size, 1);
    CHECK_EQ(state.gpr[X86_RSI], RAM_BASE + 9);

    /* A fault on the RAM side leaves the registers for the retry. */
    state.gpr[X86_RSI] = 0x900000;
    CHECK_EQ(x86_emulate(&insn, &state, MMIO, true, &ops), X86_EMULATE_FAULT);
    CHECK_EQ(state.gpr[X86_RSI], 0x900000);

    /* Without memory callbacks MOVS cannot be done. */
    struct x86_emulate_ops device_only = { mmio_read, mmio_write, NULL, NULL, NULL };
    CHECK_EQ(x86_emulate(&insn, &state, MMIO, true, &device_only), X86_EMULATE_UNSUPPORTED);
}

static void lods_with_segment_override(void)
{
    reset(0x77);
    state.segment_base[GUEST_SEG_GS] = 0x40000;
    state.gpr[X86_RSI] = 0x10;
    CHECK_EQ(decode(8, BYTES(0x65, 0xac)), X86_DECODE_OK);              /* lodsb gs: */
    CHECK_EQ(address(), 0x40010);
    CHECK_EQ(emulate(), X86_EMULATE_DONE);
    CHECK_EQ(state.gpr[X86_RAX], 0x1111111111111177ull);
    CHECK_EQ(state.gpr[X86_RSI], 0x11);
}

DEVICE_TESTS(x86_decode,
    { "x86_mov_eax_from_rdi", mov_eax_from_rdi },
    { "x86_mov_rax_from_rdi_disp32", mov_rax_from_rdi_disp32 },
    { "x86_mov_store_edx", mov_store_edx },
    { "x86_mov_store_cx_operand_prefix", mov_store_cx_operand_prefix },
    { "x86_mov_store_immediates", mov_store_immediates },
    { "x86_movzx_movsx_movsxd", movzx_movsx_movsxd },
    { "x86_byte_register_with_sib", byte_register_with_sib },
    { "x86_ah_without_rex_spl_with_rex", ah_without_rex_spl_with_rex },
    { "x86_partial_register_loads", partial_register_loads },
    { "x86_rip_relative", rip_relative },
    { "x86_sib_forms", sib_forms },
    { "x86_moffs_forms", moffs_forms },
    { "x86_real_mode_16bit", real_mode_16bit },
    { "x86_prefix_rules", prefix_rules },
    { "x86_unsupported_and_register_forms", unsupported_and_register_forms },
    { "x86_code_size_from_state", code_size_from_state },
    { "x86_or_and_with_immediates", or_and_with_immediates },
    { "x86_compare_and_test", compare_and_test },
    { "x86_add_sub_carry_overflow", add_sub_carry_overflow },
    { "x86_unary_operations", unary_operations },
    { "x86_exchange", exchange },
    { "x86_bit_test", bit_test },
    { "x86_rep_stos", rep_stos },
    { "x86_movs_both_directions", movs_both_directions },
    { "x86_lods_with_segment_override", lods_with_segment_override },
)
