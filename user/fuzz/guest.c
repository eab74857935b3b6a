/*
 * The VM side of the fuzzer: a small VMM whose guest executes random code.
 *
 * Guest memory is 16 pages at guest-physical 0..0xffff (the fuzzer keeps them and
 * writes them through its own mappings); everything above is unmapped, so stray
 * accesses become MMIO exits.  Layout: 0x0000 real-mode IVT, 0x1000 the random
 * program, 0x2000 the interrupt handler (HLT; IRET), 0x3000 GDT, 0x3800 IDT,
 * 0x4000..0x6000 long-mode page tables (2 MiB identity), 0x7000 stack.
 *
 * An episode writes a starting state for real, protected or long mode and a fresh
 * random program, then answers exits at random: skip the instruction, mutate state
 * groups, inject events, open windows, recall, read and write state in between.
 * Sometimes the vCPU is reconfigured, its thread is given an ordinary address space,
 * or the whole VM (vCPU, guest space, thread, endpoint) is destroyed and made again.
 * A few ports get shortcuts (VCpu.SET_PORT, with arguments the kernel must refuse
 * too), and the guest's IN and OUT, bursts of them among them, often use those ports;
 * the bytes kept for the buffered one must come back with the exits, for that port.
 * SHUTDOWN and INVALID_STATE just start a new episode.  A guest that stops exiting
 * is recalled when a deadline on the VMM's bound notification fires.
 */
#include "fuzz.h"
#include <pith/vmexit.h>

#define GUEST_PAGES 16
#define VM_UNTYPED_BITS 23
#define CODE_GPA 0x1000u
#define HANDLER_GPA 0x2000u
#define GDT_GPA 0x3000u
#define IDT_GPA 0x3800u
#define STACK_TOP 0x8000u
#define VCPU_PRIORITY 50

enum mode { MODE_REAL, MODE_PROTECTED, MODE_LONG };

static struct {
    pith_cap_t untyped;
    pith_cap_t frames[GUEST_PAGES];         /* kept for the whole run */
    uint8_t *page[GUEST_PAGES];             /* the fuzzer's view of each */
    pith_cap_t views[GUEST_PAGES];          /* copies mapped into the guest space */
    pith_cap_t vcpu, space, thread, endpoint, tables[3], alt_cnode, alt_space;
    pith_cap_t ioport;
    pith_cap_t note;                        /* the supervisor's bound notification */
    struct rng rng;
    enum mode mode;
    uint64_t transfer_mask;
    uint64_t options;               /* PITH_VM_OPTION_* given to VCpu.CONFIGURE */
    uint64_t buffered_port;                 /* the last port made BUFFER, NO_PORT: none */
    struct pith_vm_exit exit;
    bool alive;
} vm;

extern pith_cap_t fuzz_tick;

/* Ports the VMM gives shortcuts (VCpu.SET_PORT) and the guest's IN and OUT pick often:
 * more of them than a vCPU has shortcuts, two below 0x100 for the immediate forms,
 * 0x310 one that VCpu.SET_IO may also let through. */
static const uint16_t shortcut_ports[] = { 0x80, 0xe9, 0x3f8, 0x3fd, 0x310, 0x402 };
#define NO_PORT 0x10000u

/* A VMRUN the CPU refused (SVM, MR0 the vendor's reason) leaves the reset state a new
 * vCPU has, never what the CPU saved then (docs/vm.md): RIP f000:fff0. */
static bool refused_state_is_reset(char *why, size_t why_size)
{
    if ((kt_bootinfo->cpu_features & PITH_CPU_VMX) || vm.exit.mr[0] == 0)
        return true;                        /* VMX keeps the state; MR0 0: the kernel refused */
    uint64_t words[2] = { 0 };                  /* the RIP group: rip, rflags */
    enum pith_error err = pith_vcpu_read_state(vm.vcpu, PITH_VM_GROUP_RIP, words, 2);
    if (err == PITH_OK && words[0] == 0xfff0)
        return true;
    pith_snprintf(why, why_size, "after a refused VMRUN the guest's RIP is %lx (%s), not the reset 0xfff0",
                  words[0], pith_error_name(err));
    return false;
}

bool guest_available(void)
{
    uint64_t slot = 0;
    if (pith_alloc_object(PITH_OBJ_VCPU, 0, &slot) != PITH_OK)
        return false;
    kt_delete(slot);
    return true;
}

bool guest_init(void)
{
    uint64_t slot = 0;
    if (pith_alloc_object(PITH_OBJ_UNTYPED, VM_UNTYPED_BITS, &slot) != PITH_OK)
        return false;
    vm.untyped = slot;
    uint64_t window = kt_window();
    for (unsigned i = 0; i < GUEST_PAGES; i++) {
        if (pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &slot) != PITH_OK)
            return false;
        vm.frames[i] = slot;
        pith_cap_t view = kt_slot();
        if (pith_cnode_copy(KT_CNODE, view, KT_CNODE, slot, PITH_RIGHTS_ALL) != PITH_OK ||
            kt_map(view, window + i * 0x1000ull, PITH_RIGHT_READ | PITH_RIGHT_WRITE) != PITH_OK)
            return false;
        vm.page[i] = (uint8_t *)(window + i * 0x1000ull);
        vm.views[i] = kt_slot();
    }
    vm.vcpu = kt_slot(), vm.space = kt_slot(), vm.thread = kt_slot(), vm.endpoint = kt_slot();
    vm.alt_cnode = kt_slot(), vm.alt_space = kt_slot(), vm.ioport = kt_slot();
    for (unsigned i = 0; i < 3; i++)
        vm.tables[i] = kt_slot();
    /* Ports nothing is behind, for VCpu.SET_IO. */
    return pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, 0x300, 0x33f, vm.ioport) == PITH_OK;
}

/* ---- Port shortcuts ------------------------------------------------------------------- */

/* A shortcut set, changed or taken away, now and then with a port, kind or value the
 * kernel must refuse (a good port or byte with a high bit set among them): false, and
 * why, when it accepted one. */
static bool set_shortcut(struct rng *r, char *why, size_t why_size)
{
    if (rng_percent(r, 30)) {               /* a CPUID shortcut (the guest's CPUIDs meet them) */
        uint64_t cpuid[4];
        fuzz_cpuid_shortcut(r, cpuid);
        enum pith_error err = pith_invoke(vm.vcpu, PITH_VCPU_SET_CPUID, cpuid, 4, NULL);
        if (fuzz_options.trace)
            pith_printf("  set cpuid %lx..%lx: %s\n", cpuid[0], cpuid[1], pith_error_name(err));
        if (err == PITH_OK && !fuzz_cpuid_shortcut_valid(cpuid)) {
            pith_snprintf(why, why_size, "VCpu.SET_CPUID accepted leaves %lx..%lx", cpuid[0], cpuid[1]);
            return false;
        }
        return true;
    }
    if (rng_percent(r, 20)) {               /* an MSR shortcut (the guest's RDMSRs meet them) */
        uint64_t msr[3];
        fuzz_msr_shortcut(r, msr);
        enum pith_error err = pith_vcpu_set_msr(vm.vcpu, msr[0], msr[1], msr[2]);
        if (fuzz_options.trace)
            pith_printf("  set msr %lx kind %lx value %lx: %s\n", msr[0], msr[1], msr[2], pith_error_name(err));
        if (err == PITH_OK && !fuzz_msr_shortcut_valid(msr)) {
            pith_snprintf(why, why_size, "VCpu.SET_MSR accepted MSR %lx kind %lx value %lx", msr[0], msr[1], msr[2]);
            return false;
        }
        return true;
    }
    uint64_t args[3];
    fuzz_port_shortcut(r, shortcut_ports, sizeof(shortcut_ports) / sizeof(shortcut_ports[0]), args);
    uint64_t port = args[0], kind = args[1], value = args[2];
    bool valid = fuzz_port_shortcut_valid(args);
    enum pith_error err = pith_vcpu_set_port(vm.vcpu, port, kind, value);
    if (fuzz_options.trace)
        pith_printf("  set port %lx kind %lx value %lx: %s\n", port, kind, value, pith_error_name(err));
    if (err == PITH_OK && !valid) {
        pith_snprintf(why, why_size, "VCpu.SET_PORT accepted port %lx kind %lx value %lx", port, kind, value);
        return false;
    }
    if (err == PITH_OK && kind == PITH_VM_PORT_BUFFER)
        vm.buffered_port = port;
    return true;
}

/* Bytes kept for a buffered port come after the groups of any exit.  While bytes are
 * kept the buffered port cannot change, so they are for the port last made BUFFER; a
 * PORT_WRITES exit carries some. */
static bool port_writes_plausible(char *why, size_t why_size)
{
    uint16_t port = 0;
    uint8_t bytes[PITH_VM_PORT_BUFFER_BYTES];
    unsigned count = pith_vm_exit_port_writes(&vm.exit, &port, bytes);
    if (count && port != vm.buffered_port) {
        pith_snprintf(why, why_size, "exit %lu carries %u bytes for port %x, the buffered port is %lx",
                      vm.exit.reason, count, port, vm.buffered_port);
        return false;
    }
    if (!count && vm.exit.reason == PITH_EXIT_PORT_WRITES) {
        pith_snprintf(why, why_size, "a PORT_WRITES exit with no bytes (length %lu)", vm.exit.length);
        return false;
    }
    return true;
}

/* ---- Creating and destroying the VM -------------------------------------------------- */

static void vm_destroy_all(void)
{
    for (unsigned i = 0; i < GUEST_PAGES; i++)
        pith_cnode_delete(KT_CNODE, vm.views[i]);
    pith_cnode_revoke(KT_CNODE, vm.untyped);
    vm.alive = false;
}

static enum pith_error vm_retype(enum pith_object_type type, uint64_t bits, pith_cap_t slot)
{
    return pith_untyped_retype(vm.untyped, type, bits, KT_CNODE, slot, 1);
}

static bool vm_create(char *why, size_t why_size)
{
    static const enum pith_object_type levels[] = {
        PITH_OBJ_PDPT, PITH_OBJ_PAGE_DIRECTORY, PITH_OBJ_PAGE_TABLE };
    vm_destroy_all();
    enum pith_error err = vm_retype(PITH_OBJ_GUEST_SPACE, 0, vm.space);
    if (!err) err = vm_retype(PITH_OBJ_VCPU, 0, vm.vcpu);
    if (!err) err = vm_retype(PITH_OBJ_THREAD, 0, vm.thread);
    if (!err) err = vm_retype(PITH_OBJ_ENDPOINT, 0, vm.endpoint);
    for (unsigned i = 0; i < 3 && !err; i++) {
        err = vm_retype(levels[i], 0, vm.tables[i]);
        if (!err)
            err = pith_table_map(vm.tables[i], vm.space, 0);
    }
    for (unsigned i = 0; i < GUEST_PAGES && !err; i++) {
        err = pith_cnode_copy(KT_CNODE, vm.views[i], KT_CNODE, vm.frames[i], PITH_RIGHTS_ALL);
        if (!err)
            err = pith_frame_map(vm.views[i], vm.space, i * 0x1000ull, PITH_RIGHTS_ALL, 0);
    }
    struct rng *r = &vm.rng;
    vm.transfer_mask = rng_percent(r, 80) ? PITH_VM_GROUP_ALL : rng_below(r, 0x100) | PITH_VM_GROUP_RIP;
    uint64_t exceptions = rng_percent(r, 60) ? 0 : rng_percent(r, 50) ? rng_next(r) : 0xffffffffull;
    vm.options = rng_percent(r, 30) ? PITH_VM_OPTION_VIRTUAL_GIF : 0;  /* the guest's STGI, CLGI run */
    if (!err) {
        err = pith_vcpu_configure(vm.vcpu, vm.thread, vm.space, vm.endpoint, vm.transfer_mask | vm.options,
                                  exceptions);
        /* NMI, #MC and bits above 31 are the host's: refused, then the rest; and the
         * option where the CPU has no virtual GIF. */
        if (err == PITH_E_INVALID_ARG && (exceptions & (PITH_VM_HOST_EXCEPTIONS | ~0xffffffffull))) {
            exceptions &= 0xffffffffull & ~(uint64_t)PITH_VM_HOST_EXCEPTIONS;
            err = pith_vcpu_configure(vm.vcpu, vm.thread, vm.space, vm.endpoint, vm.transfer_mask | vm.options,
                                      exceptions);
        }
        if (err == PITH_E_INVALID_ARG && vm.options) {
            vm.options = 0;
            err = pith_vcpu_configure(vm.vcpu, vm.thread, vm.space, vm.endpoint, vm.transfer_mask, exceptions);
        }
    }
    if (!err)
        err = pith_thread_set_priority(vm.thread, VCPU_PRIORITY);
    if (err) {
        pith_snprintf(why, why_size, "creating the VM: %s", pith_error_name(err));
        return false;
    }
    vm.exit.transfer_mask = vm.transfer_mask;
    vm.buffered_port = NO_PORT;
    vm.alive = true;
    return true;
}

/* ---- Guest programs -------------------------------------------------------------------- */

struct emitter {
    uint8_t *code;
    unsigned at, size;
};

static void emit(struct emitter *e, const uint8_t *bytes, unsigned n)
{
    for (unsigned i = 0; i < n && e->at < e->size; i++)
        e->code[e->at++] = bytes[i];
}

static void emit_imm(struct emitter *e, uint64_t value, unsigned bytes)
{
    for (unsigned i = 0; i < bytes && e->at < e->size; i++)
        e->code[e->at++] = (uint8_t)(value >> (8 * i));
}

/* The operand size of immediates: 2 in real mode, else 4. */
static unsigned imm_size(void)
{
    return vm.mode == MODE_REAL ? 2 : 4;
}

/* mov (e)ax/(e)cx/(e)dx, imm */
static void emit_mov(struct emitter *e, unsigned reg, uint64_t value)
{
    uint8_t op = (uint8_t)(0xb8 + reg);
    emit(e, &op, 1);
    emit_imm(e, value, imm_size());
}

static uint64_t guest_port(struct rng *r)
{
    static const uint16_t ports[] = { 0x20, 0x21, 0x40, 0x43, 0x60, 0x64, 0x70, 0x71, 0x92,
                                      0xa0, 0xcf8, 0xcfc, 0x300, 0x8900, 0xf4, 0xcf9, 0xffff };
    unsigned roll = (unsigned)rng_below(r, 100);
    if (roll < 35)
        return RNG_PICK(r, shortcut_ports);
    return roll < 75 ? RNG_PICK(r, ports) : rng_below(r, 0x10000);
}

static uint64_t guest_msr(struct rng *r)
{
    static const uint32_t msrs[] = {
        0x10, 0x1b, 0x3a, 0x48, 0x49, 0x8b, 0xe7, 0xe8, 0x174, 0x175, 0x176, 0x1d9, 0x277,
        0x2ff, 0x480, 0x48d, 0x6e0, 0x802, 0x80b, 0x830, 0xc0000080, 0xc0000081, 0xc0000082,
        0xc0000083, 0xc0000084, 0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103, 0xc0010114,
        0xc0010117, 0xc0010015, 0x40000000, 0xffffffff };
    return rng_percent(r, 80) ? RNG_PICK(r, msrs) : (uint32_t)rng_next(r);
}

/* An unmapped guest-physical address (MMIO), or a mapped one now and then. */
static uint64_t guest_address(struct rng *r)
{
    static const uint32_t places[] = { 0x10000, 0x100000, 0xa0000, 0xb8000, 0xfec00000, 0xfee00000,
                                       0xfed00000, 0x7ffff000, 0xfffffff0, 0x2000, 0x3000 };
    return RNG_PICK(r, places) + rng_below(r, 0x100);
}

static void emit_fragment(struct emitter *e, struct rng *r)
{
    static const uint8_t simple[][4] = {
        { 1, 0xf4 }, { 2, 0xfa, 0xf4 }, { 2, 0xfb, 0xf4 }, { 1, 0xcc }, { 2, 0x0f, 0x0b },
        { 2, 0x0f, 0xa2 }, { 2, 0x0f, 0x32 }, { 2, 0x0f, 0x30 }, { 2, 0x0f, 0x31 }, { 2, 0x0f, 0x33 },
        { 3, 0x0f, 0x01, 0xf9 }, { 3, 0x0f, 0x01, 0xc1 }, { 3, 0x0f, 0x01, 0xd9 }, { 3, 0x0f, 0x01, 0xd8 },
        { 3, 0x0f, 0x01, 0xda }, { 3, 0x0f, 0x01, 0xdb }, { 3, 0x0f, 0x01, 0xdc }, { 3, 0x0f, 0x01, 0xdd },
        { 3, 0x0f, 0x01, 0xdf }, { 3, 0x0f, 0x01, 0xc2 }, { 3, 0x0f, 0x01, 0xc3 }, { 3, 0x0f, 0x01, 0xc4 },
        { 2, 0x0f, 0x08 }, { 2, 0x0f, 0x09 }, { 3, 0x0f, 0x01, 0xd1 }, { 2, 0xf3, 0x90 }, { 1, 0xcf },
        { 2, 0x0f, 0x05 }, { 2, 0x0f, 0x07 }, { 2, 0x0f, 0x34 }, { 2, 0x0f, 0x35 }, { 2, 0x0f, 0x06 },
        { 1, 0xec }, { 1, 0xee }, { 1, 0xed }, { 1, 0xef }, { 2, 0xf3, 0x6e }, { 2, 0xf3, 0x6c },
        { 1, 0x9d }, { 2, 0x8e, 0xd0 }, { 2, 0x8e, 0xd8 }, { 1, 0xce }, { 3, 0x0f, 0x01, 0xd0 },
        { 3, 0x0f, 0x20, 0xc0 }, { 2, 0x0f, 0xaa }, { 1, 0xf1 },
    };
    static const uint8_t cr_writes[] = { 0xc0, 0xd0, 0xd8, 0xe0 };   /* cr0, cr2, cr3, cr4 */
    uint8_t b[4];
    switch (rng_below(r, 15)) {
    case 0: case 1: case 2: {                          /* one simple instruction */
        const uint8_t *s = simple[rng_below(r, sizeof(simple) / sizeof(simple[0]))];
        emit(e, s + 1, s[0]);
        break;
    }
    case 3:                                            /* in/out on an immediate port */
        b[0] = (uint8_t)(0xe4 + 2 * rng_below(r, 2) + rng_below(r, 2)), b[1] = (uint8_t)guest_port(r);
        emit(e, b, 2);
        break;
    case 4:                                            /* in/out on dx */
        emit_mov(e, 2, guest_port(r));
        emit_mov(e, 0, rng_next(r));
        b[0] = (uint8_t)(0xec + rng_below(r, 4));
        emit(e, b, 1);
        break;
    case 5:                                            /* MMIO through an absolute address */
        if (vm.mode == MODE_REAL) {
            emit_mov(e, 0, guest_address(r) >> 4);
            emit(e, (const uint8_t[]){ 0x8e, 0xd8 }, 2);           /* mov ds, ax */
        }
        b[0] = (uint8_t)(0xa0 + rng_below(r, 4));                  /* mov al/ax <-> moffs */
        emit(e, b, 1);
        emit_imm(e, vm.mode == MODE_REAL ? rng_below(r, 0x10) : guest_address(r),
                 vm.mode == MODE_LONG ? 8 : imm_size());
        break;
    case 6:                                            /* rdmsr / wrmsr */
        emit_mov(e, 1, guest_msr(r));
        emit_mov(e, 0, fuzz_value(r));
        emit_mov(e, 2, fuzz_value(r));
        emit(e, (const uint8_t[]){ 0x0f, (uint8_t)(rng_percent(r, 50) ? 0x30 : 0x32) }, 2);
        break;
    case 7:                                            /* cpuid with a random leaf */
        emit_mov(e, 0, rng_percent(r, 60) ? rng_below(r, 0x20) | (rng_percent(r, 30) ? 0x80000000u : 0)
                                          : rng_next(r));
        emit_mov(e, 1, rng_below(r, 4));
        emit(e, (const uint8_t[]){ 0x0f, 0xa2 }, 2);
        break;
    case 8:                                            /* mov crN, eax */
        emit_mov(e, 0, fuzz_value(r));
        emit(e, (const uint8_t[]){ 0x0f, 0x22, RNG_PICK(r, cr_writes) }, 3);
        break;
    case 9:                                            /* int n */
        emit(e, (const uint8_t[]){ 0xcd, (uint8_t)rng_next(r) }, 2);
        break;
    case 10:                                           /* lidt/lgdt from a random place: */
        b[0] = 0x0f, b[1] = 0x01;                      /* triple faults on the next event */
        b[2] = vm.mode == MODE_REAL ? (rng_percent(r, 50) ? 0x1e : 0x16) : (rng_percent(r, 50) ? 0x1d : 0x15);
        emit(e, b, 3);
        emit_imm(e, rng_below(r, 0x10000), imm_size());
        if (rng_percent(r, 50))
            emit(e, (const uint8_t[]){ 0xcc }, 1);
        break;
    case 11:                                           /* popf of random flags */
        b[0] = 0x68;
        emit(e, b, 1);
        emit_imm(e, rng_next(r), imm_size());
        emit(e, (const uint8_t[]){ 0x9d }, 1);
        break;
    case 12:                                           /* random bytes */
        for (unsigned i = 0, n = 1 + (unsigned)rng_below(r, 8); i < n; i++) {
            b[0] = (uint8_t)rng_next(r);
            emit(e, b, 1);
        }
        break;
    case 13: {                                         /* a burst of byte INs or OUTs on dx, */
        unsigned roll = (unsigned)rng_below(r, 100);   /* past a buffer's 24 bytes at times */
        bool buffered = roll < 40 && vm.buffered_port != NO_PORT;
        emit_mov(e, 2, buffered ? vm.buffered_port : roll < 80 ? RNG_PICK(r, shortcut_ports) : guest_port(r));
        for (unsigned i = 0, n = 1 + (unsigned)rng_below(r, 32), out = rng_percent(r, 70); i < n; i++) {
            bool turn = rng_percent(r, 10);            /* mostly the burst's direction */
            b[0] = out != turn ? 0xee : 0xec;          /* out dx, al / in al, dx */
            emit(e, b, 1);
            emit(e, (const uint8_t[]){ 0xfe, 0xc0 }, 2);           /* inc al */
        }
        if (rng_percent(r, 20))                        /* then spin: kept bytes wait for */
            emit(e, (const uint8_t[]){ 0xeb, 0xfe }, 2);           /* the 1 ms flush */
        break;
    }
    default:                                           /* a short jump anywhere near */
        emit(e, (const uint8_t[]){ 0xeb, (uint8_t)rng_next(r) }, 2);
        break;
    }
}

static void write_program(struct rng *r)
{
    struct emitter e = { .code = vm.page[CODE_GPA >> 12], .size = 4096 - 8 };
    memset(e.code, 0x90, 4096);
    unsigned fragments = 1 + (unsigned)rng_below(r, 64);
    for (unsigned i = 0; i < fragments && e.at < e.size; i++)
        emit_fragment(&e, r);
    /* Back to the start: jmp rel16/rel32. */
    uint8_t jmp = 0xe9;
    e.size = 4096;
    unsigned len = 1 + imm_size();
    emit(&e, &jmp, 1);
    emit_imm(&e, (uint64_t)(-(int64_t)(e.at - 1 + len)), imm_size());
}

/* ---- Starting states -------------------------------------------------------------------- */

static void put64(uint8_t *page, unsigned offset, uint64_t value)
{
    memcpy(page + offset, &value, 8);
}

static void write_tables(struct rng *r)
{
    uint8_t *sys = vm.page[GDT_GPA >> 12];
    memset(sys, 0, 4096);
    put64(sys, 0x08, 0x00cf9b000000ffffull);       /* 32-bit code */
    put64(sys, 0x10, 0x00cf93000000ffffull);       /* data */
    put64(sys, 0x18, 0x00af9b000000ffffull);       /* 64-bit code */
    bool gates = rng_percent(r, 70);               /* or an IDT of zeros: triple faults */
    for (unsigned v = 0; gates && v < 256; v++) {
        uint64_t h = HANDLER_GPA;
        if (vm.mode == MODE_LONG) {
            put64(sys, 0x800 + 16 * v, (h & 0xffff) | (0x18ull << 16) | (0x8eull << 40) | ((h >> 16) << 48));
        } else if (v < 128) {
            put64(sys, 0x800 + 8 * v, (h & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | ((h >> 16) << 48));
        }
    }
    uint8_t *ivt = vm.page[0];
    for (unsigned v = 0; v < 256; v++) {
        uint32_t entry = HANDLER_GPA;              /* segment 0 */
        memcpy(ivt + 4 * v, &entry, 4);
    }
    uint8_t *handler = vm.page[HANDLER_GPA >> 12];
    memset(handler, 0xf4, 4096);
    handler[0] = 0xf4;                             /* hlt; iret (iretq in long mode) */
    handler[1] = vm.mode == MODE_LONG ? 0x48 : 0xcf;
    handler[2] = 0xcf;
    put64(vm.page[4], 0, 0x5000 | 3);              /* PML4 -> PDPT -> PD: 2 MiB at 0 */
    put64(vm.page[5], 0, 0x6000 | 3);
    put64(vm.page[6], 0, 0x83);
}

#define SEG(sel, attr, limit) ((uint64_t)(sel) | ((uint64_t)(attr) << 16) | ((uint64_t)(limit) << 32))

/* Every group, consistent for the mode. */
static void start_state(uint64_t *words)
{
    uint64_t *gpr = words, *rip = gpr + 16, *cr = rip + 2, *seg = cr + 6, *dtr = seg + 16;
    uint64_t *sys = dtr + 4, *intr = sys + 9, *tsc = intr + 2;
    memset(words, 0, 56 * sizeof(uint64_t));
    gpr[4] = STACK_TOP;
    rip[0] = CODE_GPA, rip[1] = 2;
    cr[5] = 0x400;
    sys[8] = 0x0007040600070406ull;
    *tsc = 0;
    if (vm.mode == MODE_REAL) {
        for (unsigned i = 0; i < 6; i++)
            seg[2 * i] = SEG(0, 0x93, 0xffff);
        seg[2] = SEG(0, 0x9b, 0xffff);
        cr[0] = 0x10;
        dtr[1] = 0xffff, dtr[3] = 0x3ff;
    } else {
        bool lm = vm.mode == MODE_LONG;
        for (unsigned i = 0; i < 6; i++)
            seg[2 * i] = SEG(0x10, 0xc93, 0xffffffffull);
        seg[2] = lm ? SEG(0x18, 0xa9b, 0xffffffffull) : SEG(0x08, 0xc9b, 0xffffffffull);
        cr[0] = 0x31;                              /* PE, ET, NE */
        if (lm)
            cr[0] |= 0x80000000ull, cr[2] = 0x4000, cr[3] = 0x20, cr[4] = 0x500;
        dtr[0] = GDT_GPA, dtr[1] = 0x1f, dtr[2] = IDT_GPA, dtr[3] = lm ? 0xfff : 0x3ff;
    }
    seg[12] = SEG(0, 0x82, 0xffff);
    /* TR: VMX requires a busy TSS at entry (SDM Vol. 3, 27.3.1.2); QEMU's SVM wants
     * the available type in its cache and aborts on an interrupt that reads a busy one. */
    seg[14] = SEG(0, (kt_bootinfo->cpu_features & PITH_CPU_VMX) ? 0x8b : 0x89, 0xffff);
}

/* A new episode: mode, tables, program and state; the vCPU must not be in the guest. */
static enum pith_error new_episode(void)
{
    struct rng *r = &vm.rng;
    vm.mode = (enum mode)rng_below(r, 3);
    write_tables(r);
    write_program(r);
    uint64_t words[56];
    start_state(words);
    return pith_vcpu_write_state(vm.vcpu, PITH_VM_GROUP_ALL, words, 56);
}

/* ---- Replies ----------------------------------------------------------------------------- */

static uint64_t mutate(struct rng *r, uint64_t word)
{
    switch (rng_below(r, 5)) {
    case 0: return word ^ (1ull << rng_below(r, 64));
    case 1: return fuzz_value(r);
    case 2: return word + rng_below(r, 16) - 8;
    case 3: return word & rng_next(r);
    default: return word | (1ull << rng_below(r, 64));
    }
}

static uint64_t random_event(struct rng *r)
{
    static const uint64_t types[] = { PITH_VM_EVENT_EXTINT, PITH_VM_EVENT_NMI, PITH_VM_EVENT_EXCEPTION,
                                      PITH_VM_EVENT_SOFT_INT, 1ull << 8, 5ull << 8, 6ull << 8, 7ull << 8 };
    uint64_t vector = rng_percent(r, 60) ? rng_below(r, 32) : rng_below(r, 256);
    uint64_t event = PITH_VM_EVENT_VALID | vector | RNG_PICK(r, types);
    if (rng_percent(r, 40))
        event |= PITH_VM_EVENT_ERROR_CODE;
    if (rng_percent(r, 5))
        event |= rng_next(r) & ~0xffffffffull;
    return event;
}

/* The groups random values may go into: with avoid=guest-state only the registers
 * no entry check looks at. */
static uint64_t allowed_groups(void)
{
    if (fuzz_options.avoid & AVOID_GUEST_STATE)
        return PITH_VM_GROUP_GPR | PITH_VM_GROUP_INTR | PITH_VM_GROUP_TSC;
    return PITH_VM_GROUP_ALL;
}

/* Answer the exit in vm.exit: false when the episode should start over. */
static void reply(struct rng *r)
{
    struct pith_vm_exit *x = &vm.exit;
    uint64_t mask = 0, inject = 0, error = 0, windows = 0;
    unsigned rip_at = pith_vm_group_at(x->transfer_mask, PITH_VM_GROUP_RIP);
    if (x->transfer_mask & PITH_VM_GROUP_RIP) {
        x->mr[rip_at] += x->mr[3] ? x->mr[3] : rng_below(r, 4);
        mask |= PITH_VM_GROUP_RIP;
    }
    if ((x->transfer_mask & PITH_VM_GROUP_GPR) && rng_percent(r, 50)) {
        unsigned at = pith_vm_group_at(x->transfer_mask, PITH_VM_GROUP_GPR);
        x->mr[at + rng_below(r, 16)] = fuzz_value(r);
        mask |= PITH_VM_GROUP_GPR;
    }
    if (rng_percent(r, 20)) {
        uint64_t groups = rng_next(r) & x->transfer_mask & allowed_groups();
        for (unsigned g = 0; g < PITH_VM_GROUP_COUNT; g++) {
            if (!(groups & (1u << g)))
                continue;
            unsigned at = pith_vm_group_at(x->transfer_mask, 1ull << g);
            for (unsigned i = 0; i < pith_vm_group_words(g); i++)
                if (rng_percent(r, 25))
                    x->mr[at + i] = mutate(r, x->mr[at + i]);
        }
        mask |= groups;
    }
    if (rng_percent(r, 12))
        inject = random_event(r), error = fuzz_value(r);
    if (rng_percent(r, 10))
        windows = rng_below(r, 4);
    if (rng_percent(r, 2))
        mask = rng_next(r);         /* whatever the kernel makes of a mask beyond the groups */
    pith_vm_reply(x, mask, inject, error, windows);
}

/* ---- Meddling between exits ----------------------------------------------------------------- */

/* Give the (suspended) vCPU thread an ordinary address space and CNode; then the old
 * guest space goes away while the vCPU may still refer to it. */
static void reconfigure_thread(struct rng *r)
{
    if (vm_retype(PITH_OBJ_ADDRESS_SPACE, 0, vm.alt_space) != PITH_OK ||
        vm_retype(PITH_OBJ_CNODE, 2, vm.alt_cnode) != PITH_OK) {
        pith_thread_resume(vm.thread);
        return;
    }
    pith_thread_configure(vm.thread, vm.alt_cnode, vm.alt_space, 0, 0, vm.endpoint);
    if (rng_percent(r, 50))
        pith_cnode_delete(KT_CNODE, vm.space);
    pith_thread_resume(vm.thread);
}

static bool meddle(struct rng *r, char *why, size_t why_size)
{
    uint64_t words[PITH_MSG_MAX];
    unsigned what = (unsigned)rng_below(r, 10);
    if (fuzz_options.trace)
        pith_printf("  meddle %u\n", what);
    switch (what) {
    case 0:
        pith_vcpu_recall(vm.vcpu);
        break;
    case 1:
        pith_vcpu_read_state(vm.vcpu, rng_below(r, 0x100), words, 0);
        break;
    case 2: {
        uint64_t mask = rng_below(r, 0x100) & allowed_groups();
        unsigned n = pith_vm_groups_length(mask);
        pith_vcpu_read_state(vm.vcpu, mask, words, n);
        for (unsigned i = 0; i < n; i++)
            if (rng_percent(r, 20))
                words[i] = mutate(r, words[i]);
        pith_vcpu_write_state(vm.vcpu, mask, words, n);
        break;
    }
    case 3:
        pith_vcpu_set_io(vm.vcpu, vm.ioport, rng_below(r, 3));
        break;
    case 4:                                         /* reconfigure in place */
        pith_thread_suspend(vm.thread);
        pith_vcpu_configure(vm.vcpu, vm.thread, vm.space, vm.endpoint, vm.transfer_mask | vm.options,
                            rng_percent(r, 50) ? 0 : rng_next(r));
        pith_thread_resume(vm.thread);
        break;
    case 5:
        pith_thread_suspend(vm.thread);
        if (!(fuzz_options.avoid & AVOID_VCPU_SPACE))
            reconfigure_thread(r);
        else
            pith_thread_resume(vm.thread);
        break;
    case 6:
        pith_thread_set_priority(vm.thread, rng_below(r, 120));
        break;
    case 7:
        pith_thread_suspend(vm.thread);
        pith_thread_resume(vm.thread);
        break;
    default:
        return set_shortcut(r, why, why_size);
    }
    return true;
}

/* ---- The VMM loop --------------------------------------------------------------------------- */

static bool start_guest(char *why, size_t why_size)
{
    if (fuzz_options.trace)
        pith_printf("  new episode%s\n", vm.alive ? "" : " in a new VM");
    if (!vm.alive && !vm_create(why, why_size))
        return false;
    pith_thread_suspend(vm.thread);
    enum pith_error err = new_episode();
    /* Half the episodes begin with new shortcuts, so a vCPU soon has all it can. */
    if (rng_percent(&vm.rng, 50))
        for (unsigned i = 0, n = 1 + (unsigned)rng_below(&vm.rng, 4); i < n; i++)
            if (!set_shortcut(&vm.rng, why, why_size))
                return false;
    if (err == PITH_OK)
        err = pith_thread_resume(vm.thread);
    if (err != PITH_OK) {
        pith_snprintf(why, why_size, "starting an episode: %s", pith_error_name(err));
        return false;
    }
    return true;
}

bool guest_fuzz(uint64_t seed, uint64_t exits, uint64_t *done, char *why, size_t why_size)
{
    struct rng *r = &vm.rng;
    vm.rng.state = seed * 0x2545f4914f6cdd1dull + 0x7e57;
    vm.alive = false;
    *done = 0;
    unsigned quiet = 0, episode_exits = 0, episode_length = 0;
    if (!start_guest(why, why_size))
        return false;
    uint64_t tick = kt_bootinfo->tsc_hz / 500;      /* 2 ms without an exit: recall */
    while (*done < exits) {
        uint64_t waited = pith_rdtsc();
        pith_notification_set_deadline(fuzz_tick, waited + tick);
        enum pith_error err = pith_vm_wait_exit(vm.endpoint, &vm.exit);
        if (err != PITH_OK) {
            pith_snprintf(why, why_size, "waiting for an exit: %s", pith_error_name(err));
            return false;
        }
        if (vm.exit.reason == 0) {                  /* the deadline: no exit came */
            if (fuzz_options.trace)
                pith_printf("  no exit: recall\n");
            if (++quiet > 3) {
                quiet = 0;
                vm.alive = false;                   /* the vCPU is gone or stopped: a new VM */
                if (!start_guest(why, why_size))
                    return false;
            } else {
                pith_vcpu_recall(vm.vcpu);
            }
            continue;
        }
        quiet = 0;
        ++*done;
        if (fuzz_options.trace)
            pith_printf("  exit %lu: reason %lu qual %lx/%lx len %lu mode %u after %lu us\n", *done,
                        vm.exit.reason, vm.exit.mr[1], vm.exit.mr[2], vm.exit.mr[3], vm.mode,
                        (pith_rdtsc() - waited) / (kt_bootinfo->tsc_hz / 1000000));
        ++episode_exits;
        uint64_t reason = vm.exit.reason;
        if (reason == PITH_EXIT_INVALID_STATE && !refused_state_is_reset(why, why_size))
            return false;
        if (!port_writes_plausible(why, why_size))
            return false;
        bool over = reason == PITH_EXIT_SHUTDOWN || reason == PITH_EXIT_INVALID_STATE ||
                    episode_exits > 40 + episode_length;
        if (over) {
            episode_exits = 0;
            episode_length = (unsigned)rng_below(r, 200);
            if (rng_percent(r, 5))
                vm.alive = false;                   /* destroy and make everything again */
            if (!start_guest(why, why_size))
                return false;
            continue;
        }
        if (rng_percent(r, 4) && !meddle(r, why, why_size))
            return false;
        reply(r);
    }
    vm_destroy_all();
    return true;
}
