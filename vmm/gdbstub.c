/*
 * The GDB stub's guest side (gdbstub.h): the UART it talks through, the stop loop,
 * and struct gdb_target over vCPU 0's exit message and the guest's memory.
 */
#include <pith/cpu.h>
#include <pith/guest.h>
#include <pith/printf.h>
#include <pith/string.h>
#include <pith/syscall.h>

#include "gdb/gdb_commands.h"
#include "gdb/gdb_rsp.h"
#include "x86/guest_walk.h"
#include "gdbstub.h"
#include "vm.h"

/* The trap written over an instruction for a software breakpoint.  HLT, not INT3:
 * QEMU's TCG checks INT3 against the INTn intercept instead of the #BP exception
 * intercept, so under it an INT3 would reach the guest's own IDT; HLT always exits,
 * on both SVM and VMX, with RIP at the instruction.  It works for code at CPL 0 (a
 * HLT elsewhere is a #GP in the guest).  #BP is not intercepted, so the guest's own
 * INT3s (Linux patches its text with them) never leave it. */
#define GDB_BREAK_OPCODE    0xf4
#define GDB_BREAKPOINTS     64
#define RFLAGS_TF           (1ull << 8)
#define RFLAGS_RF           (1ull << 16)
/* Hardware breakpoints: DR0..DR3, enabled in DR7 (SDM Vol. 3B 18.2.4): local enable
 * at bit 2i, R/W at 16 + 4i (0 execute, 1 write, 3 read or write), LEN at 18 + 4i (0
 * one byte, 1 two, 3 four, 2 eight).  Bit 10 is always set. */
#define GDB_HW_SLOTS        4
#define DR7_FIXED           0x400ull
#define DR6_B0_B3           0xfull
#define DR6_BS              (1ull << 14)
/* What a client sent while no VMM had COM2 is not for us (it would stop the guest).
 * QEMU hands it to the UART a byte at a time once the FIFO is reset, so it is dropped
 * until the line has been quiet this long, for at most GDB_STALE_MAX_MS. */
#define GDB_STALE_QUIET_MS  20
#define GDB_STALE_MAX_MS    200

/* 16550 registers and bits (as uart16550.h models them for guests). */
enum { COM_DATA, COM_IER, COM_FCR, COM_LCR, COM_MCR, COM_LSR };
#define COM_LSR_DATA_READY 0x01
#define COM_LSR_THR_EMPTY  0x20

struct breakpoint {
    bool used;
    uint64_t address, gpa;
    uint8_t saved;
};

/* One debug register: a piece of what a Z1..Z4 asked for (a watched range that is not
 * one aligned 1, 2, 4 or 8 bytes takes several). */
struct hw_slot {
    bool used;
    unsigned type;              /* GDB_Z_HARDWARE..GDB_Z_ACCESS */
    uint64_t request, request_length;   /* the Z packet's address and length */
    uint64_t address;
    unsigned length;
};

struct gdb_stub {
    struct vm *vm;
    uint16_t port;
    bool active;                /* COM2 is ours: the root task's grant, which we serve */
    uint64_t grant;
    bool keeps_com2;            /* a test's misbehaving VMM: it never gives COM2 back */
    bool db_intercepted;        /* vCPU 0's #DB exits: single steps are possible */
    bool intercept_change;      /* #DB is to be (un)intercepted at vCPU 0's next recall */
    uint64_t stale_until, stale_end;    /* TSC: input until then is dropped (acquire) */
    struct gdb_rsp rsp;
    struct gdb_target target;
    bool attached;              /* a client talked since the last detach */
    bool client_waits;          /* it resumed the guest and waits for a stop reply */
    bool packet_waiting;        /* rsp.data holds a packet that came while running */
    bool stop_requested;        /* a packet or Ctrl-C: stop at the next exit */
    bool stop_now;              /* an exit that is the debugger's (breakpoint, step) */
    bool stepping;
    bool step_set_tf;           /* TF was ours: clear it after the step */
    int signal;
    enum gdb_stop_kind stop_kind;
    uint64_t stop_address;
    uint64_t next_poll;
    struct breakpoint bp[GDB_BREAKPOINTS];
    struct hw_slot hw[GDB_HW_SLOTS];        /* what the client asked for */
    struct hw_slot programmed[GDB_HW_SLOTS];/* what the vCPU has (the last sync) */
    bool hw_changed;            /* hw differs from programmed: sync at the next chance */
    bool hw_holds;              /* the vCPU's DR0..DR3 and DR7 are ours; the guest's: */
    uint64_t guest_dr[4], guest_dr7;
    char reply[GDB_RSP_MAX + 1];
    char frame[2 * GDB_RSP_MAX + 8];    /* the last packet sent, for a '-' */
    size_t frame_length;
};

static struct gdb_stub stub;

/* ---- The UART -------------------------------------------------------------------- */

static bool uart_read(struct gdb_stub *s, uint8_t *byte)
{
    if (!(pith_inb((uint16_t)(s->port + COM_LSR)) & COM_LSR_DATA_READY))
        return false;
    *byte = pith_inb((uint16_t)(s->port + COM_DATA));
    return true;
}

static void uart_write(struct gdb_stub *s, const char *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (unsigned spin = 0; spin < 1000000; spin++)
            if (pith_inb((uint16_t)(s->port + COM_LSR)) & COM_LSR_THR_EMPTY)
                break;
        pith_outb((uint16_t)(s->port + COM_DATA), (uint8_t)bytes[i]);
    }
}

static void send_packet(struct gdb_stub *s, const char *data, size_t length)
{
    s->frame_length = gdb_rsp_encode(data, length, s->frame, sizeof(s->frame));
    uart_write(s, s->frame, s->frame_length);
}

/* 115200 8N1, FIFOs on, no interrupts: the stub polls.  The receive trigger level is
 * 14 bytes although no interrupt uses it: QEMU's 16550 takes bytes from its socket only
 * up to the trigger level at a time, so at 1 byte a 6 KiB packet would arrive a byte
 * per main-loop round of the emulator, which takes seconds on a busy host. */
static void uart_init(struct gdb_stub *s)
{
    pith_outb((uint16_t)(s->port + COM_IER), 0);
    pith_outb((uint16_t)(s->port + COM_LCR), 0x80);
    pith_outb((uint16_t)(s->port + COM_DATA), 1);
    pith_outb((uint16_t)(s->port + COM_IER), 0);
    pith_outb((uint16_t)(s->port + COM_LCR), 0x03);
    pith_outb((uint16_t)(s->port + COM_FCR), 0xc7);
    pith_outb((uint16_t)(s->port + COM_MCR), 0x03);
}

/* ---- Registers: vCPU 0's exit message ------------------------------------------------ */

static uint64_t *exit_words(struct gdb_stub *s)
{
    return s->vm->cpus[0].exit.mr;
}

static bool long_mode(const uint64_t *mr)
{
    return (mr[VM_CR(VM_EFER)] & GUEST_EFER_LMA) && ((mr[VM_SEG(2 * GUEST_SEG_CS)] >> 16) & (1u << 9));
}

/* GDB's amd64 order of the general registers, as Pith's GPR group numbers them. */
static const uint8_t amd64_gpr[16] = { 0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15 };
/* GDB's order of the segment registers (cs ss ds es fs gs) in the SEG group. */
static const uint8_t gdb_segments[6] = { GUEST_SEG_CS, GUEST_SEG_SS, GUEST_SEG_DS, GUEST_SEG_ES,
                                         GUEST_SEG_FS, GUEST_SEG_GS };

static void read_registers(void *ctx, uint64_t regs[GDB_REGS_MAX])
{
    struct gdb_stub *s = ctx;
    const uint64_t *mr = exit_words(s);
    bool amd64 = s->target.arch == GDB_ARCH_AMD64;
    unsigned gprs = amd64 ? 16 : 8, pc = amd64 ? GDB_AMD64_PC : GDB_I386_PC;
    for (unsigned i = 0; i < gprs; i++)
        regs[i] = mr[VM_GPR(amd64 ? amd64_gpr[i] : i)];
    regs[pc] = mr[VM_RIP];
    regs[pc + 1] = mr[VM_RFLAGS];
    for (unsigned i = 0; i < 6; i++)
        regs[pc + 2 + i] = mr[VM_SEG(2 * gdb_segments[i])] & 0xffff;
}

/* What the kernel would refuse at the next entry is refused here (docs/vm.md): RFLAGS
 * keeps bit 1 and loses the reserved bits, RIP stays canonical or within 32 bits.
 * Segment registers are not written: a value other than the current one is refused. */
static bool write_register(void *ctx, unsigned index, uint64_t value)
{
    struct gdb_stub *s = ctx;
    uint64_t *mr = exit_words(s);
    bool amd64 = s->target.arch == GDB_ARCH_AMD64;
    unsigned gprs = amd64 ? 16 : 8, pc = amd64 ? GDB_AMD64_PC : GDB_I386_PC;
    if (index < gprs) {
        uint64_t *r = &mr[VM_GPR(amd64 ? amd64_gpr[index] : index)];
        *r = amd64 ? value : (*r & ~0xffffffffull) | (uint32_t)value;
        return true;
    }
    if (index == pc) {
        if (amd64 ? (uint64_t)((int64_t)(value << 16) >> 16) != value : value > 0xffffffffull)
            return false;
        mr[VM_RIP] = value;
        return true;
    }
    if (index == pc + 1) {
        value = (value | 2) & 0x3fffffull & ~((1ull << 3) | (1ull << 5) | (1ull << 15));
        if (long_mode(mr) || !(mr[VM_CR(VM_CR0)] & GUEST_CR0_PE))
            value &= ~GUEST_RFLAGS_VM;
        mr[VM_RFLAGS] = value;
        return true;
    }
    if (index >= pc + 2 && index < pc + 8)
        return (mr[VM_SEG(2 * gdb_segments[index - pc - 2])] & 0xffff) == (value & 0xffff);
    return false;
}

/* ---- Memory: through the guest's page tables ---------------------------------------- */

/* The guest-physical address of a linear one and the bytes left in its page; as a
 * debugger sees memory, without the protection checks of an access (CPL 0, AC set). */
static bool translate(struct gdb_stub *s, uint64_t linear, uint64_t *gpa, uint64_t *room)
{
    const uint64_t *mr = exit_words(s);
    *room = 4096 - (linear & 4095);
    if (!(mr[VM_CR(VM_CR0)] & GUEST_CR0_PG)) {
        *gpa = linear;
        return linear <= 0xffffffffull;
    }
    struct guest_paging p = { .cr0 = mr[VM_CR(VM_CR0)], .cr3 = mr[VM_CR(VM_CR3)],
                              .cr4 = mr[VM_CR(VM_CR4)], .efer = mr[VM_CR(VM_EFER)],
                              .rflags = GUEST_RFLAGS_AC, .cpl = 0, .maxphyaddr = 0,
                              .read_phys = vm_read_phys, .ctx = s->vm };
    struct guest_translation t;
    if (guest_translate(&p, linear, GUEST_ACCESS_READ, &t) != GUEST_WALK_OK)
        return false;
    *gpa = t.gpa;
    return true;
}

static struct breakpoint *breakpoint_at(struct gdb_stub *s, uint64_t address)
{
    for (unsigned i = 0; i < GDB_BREAKPOINTS; i++)
        if (s->bp[i].used && s->bp[i].address == address)
            return &s->bp[i];
    return NULL;
}

/* Copies page by page until an address does not translate or is not RAM. */
static size_t copy(struct gdb_stub *s, uint64_t address, uint8_t *buf, size_t length, bool write)
{
    size_t done = 0;
    while (done < length) {
        uint64_t gpa, room;
        if (!translate(s, address + done, &gpa, &room))
            break;
        size_t n = length - done < room ? length - done : (size_t)room;
        bool ok = write ? vm_write_phys(s->vm, gpa, buf + done, n) : vm_read_phys(s->vm, gpa, buf + done, n);
        if (!ok)
            break;
        done += n;
    }
    return done;
}

/* Memory shows the bytes our breakpoints replaced; a write under a breakpoint changes
 * what it restores, and the trap stays. */
static size_t read_memory(void *ctx, uint64_t address, uint8_t *buf, size_t length)
{
    struct gdb_stub *s = ctx;
    size_t done = copy(s, address, buf, length, false);
    for (unsigned i = 0; i < GDB_BREAKPOINTS; i++)
        if (s->bp[i].used && s->bp[i].address - address < done)
            buf[s->bp[i].address - address] = s->bp[i].saved;
    return done;
}

static size_t write_memory(void *ctx, uint64_t address, const uint8_t *buf, size_t length)
{
    struct gdb_stub *s = ctx;
    size_t done = copy(s, address, (uint8_t *)buf, length, true);
    uint8_t trap = GDB_BREAK_OPCODE;
    for (unsigned i = 0; i < GDB_BREAKPOINTS; i++) {
        if (s->bp[i].used && s->bp[i].address - address < done) {
            s->bp[i].saved = buf[s->bp[i].address - address];
            vm_write_phys(s->vm, s->bp[i].gpa, &trap, 1);
        }
    }
    return done;
}

static bool insert_breakpoint(void *ctx, uint64_t address)
{
    struct gdb_stub *s = ctx;
    struct breakpoint *free = NULL;
    uint64_t gpa, room;
    uint8_t trap = GDB_BREAK_OPCODE;
    if (breakpoint_at(s, address))
        return true;
    for (unsigned i = 0; i < GDB_BREAKPOINTS && !free; i++)
        if (!s->bp[i].used)
            free = &s->bp[i];
    if (!free || !translate(s, address, &gpa, &room) || !vm_read_phys(s->vm, gpa, &free->saved, 1) ||
        !vm_write_phys(s->vm, gpa, &trap, 1))
        return false;
    free->used = true;
    free->address = address;
    free->gpa = gpa;
    return true;
}

static void restore(struct gdb_stub *s, struct breakpoint *b)
{
    vm_write_phys(s->vm, b->gpa, &b->saved, 1);
    b->used = false;
}

static bool remove_breakpoint(void *ctx, uint64_t address)
{
    struct gdb_stub *s = ctx;
    struct breakpoint *b = breakpoint_at(s, address);
    if (b)
        restore(s, b);
    return true;
}

/* ---- Hardware breakpoints and watchpoints: DR0..DR3 and DR7 ------------------------
 * The client's requests live in hw[]; the vCPU gets them at sync_hardware, which runs
 * only while vCPU 0 is out of the guest at an exit (its state can be read and
 * written then).  While any is set the stub holds the debug registers: the guest's
 * own DR0..DR3 and DR7 are kept aside and given back when the last one goes (docs/gdb.md). */

static bool address_fits(const struct gdb_stub *s, uint64_t address)
{
    if (s->target.arch == GDB_ARCH_I386)
        return address <= 0xffffffffull;
    return (uint64_t)((int64_t)(address << 16) >> 16) == address;
}

static unsigned free_slots(const struct gdb_stub *s)
{
    unsigned n = 0;
    for (unsigned i = 0; i < GDB_HW_SLOTS; i++)
        n += !s->hw[i].used;
    return n;
}

/* The largest aligned piece (8, 4, 2 or 1 bytes; 1 for an execution breakpoint) that
 * starts at address and does not pass end. */
static unsigned piece(unsigned type, uint64_t address, uint64_t left)
{
    if (type == GDB_Z_HARDWARE)
        return 1;
    unsigned n = 8;
    while (n > 1 && ((address & (n - 1)) || n > left))
        n /= 2;
    return n;
}

static bool insert_hardware(void *ctx, unsigned type, uint64_t address, uint64_t length)
{
    struct gdb_stub *s = ctx;
    if (type == GDB_Z_HARDWARE)
        length = 1;             /* KIND is the instruction's length; DR7 wants 1 */
    if (length == 0 || length > 8 * GDB_HW_SLOTS || address + length - 1 < address ||
        !address_fits(s, address) || !address_fits(s, address + length - 1))
        return false;
    for (unsigned i = 0; i < GDB_HW_SLOTS; i++)
        if (s->hw[i].used && s->hw[i].type == type && s->hw[i].request == address &&
            s->hw[i].request_length == length)
            return true;        /* already there */
    unsigned needed = 0;
    for (uint64_t at = address; at < address + length; at += piece(type, at, address + length - at))
        needed++;
    if (needed > free_slots(s))
        return false;
    unsigned slot = 0;
    for (uint64_t at = address; at < address + length;) {
        while (s->hw[slot].used)
            slot++;
        unsigned n = piece(type, at, address + length - at);
        s->hw[slot] = (struct hw_slot){ .used = true, .type = type, .request = address,
                                        .request_length = length, .address = at, .length = n };
        at += n;
    }
    s->hw_changed = true;
    return true;
}

static bool remove_hardware(void *ctx, unsigned type, uint64_t address, uint64_t length)
{
    struct gdb_stub *s = ctx;
    if (type == GDB_Z_HARDWARE)
        length = 1;
    for (unsigned i = 0; i < GDB_HW_SLOTS; i++) {
        struct hw_slot *h = &s->hw[i];
        if (h->used && h->type == type && h->request == address && h->request_length == length) {
            h->used = false;
            s->hw_changed = true;
        }
    }
    return true;
}

static void remove_all_hardware(struct gdb_stub *s)
{
    for (unsigned i = 0; i < GDB_HW_SLOTS; i++) {
        s->hw_changed |= s->hw[i].used;
        s->hw[i].used = false;
    }
}

static uint64_t dr7_of(const struct hw_slot *slots)
{
    static const uint8_t rw[] = { [GDB_Z_HARDWARE] = 0, [GDB_Z_WRITE] = 1, [GDB_Z_READ] = 3,
                                  [GDB_Z_ACCESS] = 3 };
    static const uint8_t len[9] = { [1] = 0, [2] = 1, [4] = 3, [8] = 2 };
    uint64_t dr7 = DR7_FIXED;
    for (unsigned i = 0; i < GDB_HW_SLOTS; i++)
        if (slots[i].used)
            dr7 |= 1ull << (2 * i) | (uint64_t)rw[slots[i].type] << (16 + 4 * i) |
                   (uint64_t)len[slots[i].length] << (18 + 4 * i);
    return dr7;
}

/* DR7 is in the CR group of the exit message: changed there, written now (the exit may
 * end without a reply) and with the reply (which may carry the CR group too). */
static bool set_dr7(struct gdb_stub *s, uint64_t dr7)
{
    struct vcpu *c = &s->vm->cpus[0];
    uint64_t *mr = exit_words(s);
    mr[VM_CR(VM_DR7)] = dr7;
    c->reply_groups |= PITH_VM_GROUP_CR;
    return pith_vcpu_write_state(c->vcpu, PITH_VM_GROUP_CR, &mr[VM_CR(0)], 6) == PITH_OK;
}

bool gdb_keeps_guest_dr7(struct vm *vm, unsigned index, uint64_t value)
{
    struct gdb_stub *s = &stub;
    if (s->vm != vm || index != 0 || !s->hw_holds)
        return false;
    s->guest_dr7 = value;
    return true;
}

/* The vCPU gets hw[], or the guest's own registers back when hw[] is empty.  At an
 * exit of vCPU 0 only. */
static void sync_hardware(struct gdb_stub *s)
{
    if (!s->hw_changed)
        return;
    struct vcpu *c = &s->vm->cpus[0];
    uint64_t dr[5];
    bool any = free_slots(s) < GDB_HW_SLOTS;
    if (!any && !s->hw_holds) {
        memcpy(s->programmed, s->hw, sizeof(s->programmed));
        s->hw_changed = false;
        return;
    }
    if (pith_vcpu_read_state(c->vcpu, PITH_VM_GROUP_DR, dr, 5) != PITH_OK)
        return;
    if (any && !s->hw_holds) {
        memcpy(s->guest_dr, dr, sizeof(s->guest_dr));
        s->guest_dr7 = exit_words(s)[VM_CR(VM_DR7)];
    }
    for (unsigned i = 0; i < 4; i++)
        dr[i] = !any ? s->guest_dr[i] : s->hw[i].used ? s->hw[i].address : 0;
    if (pith_vcpu_write_state(c->vcpu, PITH_VM_GROUP_DR, dr, 5) != PITH_OK ||
        !set_dr7(s, any ? dr7_of(s->hw) : s->guest_dr7)) {
        vm_log(s->vm, "gdb: the debug registers could not be written");
        return;
    }
    s->hw_holds = any;
    memcpy(s->programmed, s->hw, sizeof(s->programmed));
    s->hw_changed = false;
}

/* At a #DB: DR6's bits B0..B3 of the slots the vCPU has, which were ours; -1 if none. */
static int hardware_hit(struct gdb_stub *s)
{
    uint64_t dr[5];
    if (!s->hw_holds || pith_vcpu_read_state(s->vm->cpus[0].vcpu, PITH_VM_GROUP_DR, dr, 5) != PITH_OK)
        return -1;
    for (unsigned i = 0; i < GDB_HW_SLOTS; i++)
        if (s->programmed[i].used && (dr[4] & (1ull << i)))
            return (int)i;
    return -1;
}

/* A #DB that was the debugger's leaves nothing in DR6 for the guest to find. */
static void clear_dr6(struct gdb_stub *s)
{
    uint64_t dr[5];
    pith_cap_t vcpu = s->vm->cpus[0].vcpu;
    if (pith_vcpu_read_state(vcpu, PITH_VM_GROUP_DR, dr, 5) == PITH_OK && (dr[4] & (DR6_B0_B3 | DR6_BS))) {
        dr[4] &= ~(DR6_B0_B3 | DR6_BS);
        pith_vcpu_write_state(vcpu, PITH_VM_GROUP_DR, dr, 5);
    }
}

/* An execution breakpoint at RIP would fire again before the instruction runs: RF lets
 * the first instruction pass (SDM Vol. 3B 18.3.1.1). */
static void pass_execution_breakpoint(struct gdb_stub *s)
{
    uint64_t *mr = exit_words(s);
    for (unsigned i = 0; i < GDB_HW_SLOTS; i++)
        if (s->programmed[i].used && s->programmed[i].type == GDB_Z_HARDWARE &&
            s->programmed[i].address == mr[VM_RIP])
            mr[VM_RFLAGS] |= RFLAGS_RF;
}

/* The step ended (a #DB, or an instruction the VMM emulated): TF goes if it was ours. */
static void end_step(struct gdb_stub *s)
{
    if (s->step_set_tf)
        exit_words(s)[VM_RFLAGS] &= ~RFLAGS_TF;
    s->stepping = s->step_set_tf = false;
}

/* ---- COM2, given and taken by the root task ------------------------------------------ */

void gdb_prepare(struct vm *vm, bool keeps_com2)
{
    stub = (struct gdb_stub){ .vm = vm, .port = GDB_COM2_PORT, .signal = GDB_SIGNAL_TRAP,
                              .keeps_com2 = keeps_com2 };
    stub.target = (struct gdb_target){ .ctx = &stub, .arch = GDB_ARCH_I386, .stop_signal = GDB_SIGNAL_TRAP,
                                       .read_registers = read_registers, .write_register = write_register,
                                       .read_memory = read_memory, .write_memory = write_memory,
                                       .insert_breakpoint = insert_breakpoint,
                                       .remove_breakpoint = remove_breakpoint,
                                       .insert_hardware = insert_hardware,
                                       .remove_hardware = remove_hardware };
    stub.db_intercepted = vm->exception_bitmap & GDB_EXCEPTION_BITMAP;
    gdb_rsp_init(&stub.rsp);
    vm->gdb = &stub;
}

/* #DB is intercepted while the stub has COM2, and when the configuration asks for it
 * (`gdb yes`: the guest may be debugged from boot on); never while a step is under way
 * would it be dropped (its #DB would reach the guest). */
static bool intercept_wanted(const struct gdb_stub *s)
{
    return s->active || s->stepping || (s->vm->exception_bitmap & GDB_EXCEPTION_BITMAP);
}

static void want_intercept(struct gdb_stub *s)
{
    if (intercept_wanted(s) == s->db_intercepted)
        return;
    s->intercept_change = true;
    s->vm->cpus[0].recall_requested = true;
    pith_vcpu_recall(s->vm->cpus[0].vcpu);
}

/* The exception bitmap is VCpu.CONFIGURE's, which takes an inactive thread
 * (docs/vm.md): at a recall, which needs no reply, the vCPU thread is suspended,
 * configured again and resumed, and enters the guest afresh where it left it.  What
 * the recall was also for (an interrupt to inject) waits for the next one. */
bool gdb_intercept_at_recall(struct vm *vm)
{
    struct gdb_stub *s = vm->gdb;
    struct vcpu *c = vm->cpu;
    if (!s || c->index != 0 || c->exit.reason != PITH_EXIT_RECALL || !s->intercept_change)
        return false;
    sync_hardware(s);               /* the breakpoints of a client that went, out */
    s->intercept_change = false;
    bool wanted = intercept_wanted(s);
    if (wanted == s->db_intercepted)
        return false;               /* changed back meanwhile: an ordinary recall */
    uint64_t bitmap = vm->exception_bitmap | (wanted ? GDB_EXCEPTION_BITMAP : 0);
    pith_thread_suspend(c->thread);
    enum pith_error err = pith_vcpu_configure(c->vcpu, c->thread, vm->space, c->exit_endpoint,
                                              VM_TRANSFER_MASK | c->options, bitmap);
    if (err == PITH_OK) {
        s->db_intercepted = wanted;
        vm_log(vm, wanted ? "gdb: vCPU 0's #DB exits now (single steps)" : "gdb: vCPU 0's #DB is the guest's again");
    } else
        vm_log(vm, "gdb: #DB could not be %s: %s", wanted ? "intercepted" : "given back", pith_error_name(err));
    /* the recall before the thread runs: the event the RECALL took back stays with the
     * next RECALL only until the vCPU enters (docs/vm.md) */
    c->recall_requested = true;
    pith_vcpu_recall(c->vcpu);
    pith_thread_resume(c->thread);
    return true;
}

static void say_in_use(struct gdb_stub *s, uint64_t grant)
{
    __atomic_store_n(&s->vm->stats->gdb_in_use, grant, __ATOMIC_SEQ_CST);
}

/* The grant is claimed before the first access and read again after: the root task
 * clears it before it reads the claim, so either it sees the claim (and waits for it
 * to go) or we see the grant gone (and never touch the ports). */
static void acquire(struct gdb_stub *s, uint64_t grant)
{
    say_in_use(s, grant);
    if (__atomic_load_n(&s->vm->stats->gdb_grant, __ATOMIC_SEQ_CST) != grant) {
        say_in_use(s, 0);           /* taken again meanwhile; its signal is on its way */
        return;
    }
    s->active = true;
    s->grant = grant;
    s->next_poll = 0;
    gdb_rsp_init(&s->rsp);
    uart_init(s);
    uint64_t now = pith_rdtsc(), ms = s->vm->tsc_hz / 1000;
    s->stale_until = now + GDB_STALE_QUIET_MS * ms;
    s->stale_end = now + GDB_STALE_MAX_MS * ms;
    want_intercept(s);
    vm_log(s->vm, "gdb: the remote protocol on COM2 (port 0x%x), for vCPU 0", GDB_COM2_PORT);
}

/* Breakpoints out, the client forgotten, and not one more access to the ports.  A step
 * under way still ends at its #DB (gdb_takes_exit), unseen. */
static void release(struct gdb_stub *s)
{
    for (unsigned i = 0; i < GDB_BREAKPOINTS; i++)
        if (s->bp[i].used)
            restore(s, &s->bp[i]);
    remove_all_hardware(s);         /* out of the vCPU at its next exit */
    s->active = s->attached = s->client_waits = s->packet_waiting = false;
    s->stop_requested = s->stop_now = false;
    s->grant = 0;
    say_in_use(s, 0);
    want_intercept(s);
    vm_log(s->vm, "gdb: COM2 taken back by the root task; the guest runs on");
}

void gdb_grant_changed(struct vm *vm)
{
    struct gdb_stub *s = vm->gdb;
    if (!s || !vm->stats)
        return;
    uint64_t grant = __atomic_load_n(&vm->stats->gdb_grant, __ATOMIC_ACQUIRE);
    if (!grant && s->active && s->keeps_com2)
        vm_log(vm, "gdb: keeping COM2 against the root task's word (pith.gdb_keep_com2=1)");
    else if (!grant && s->active)
        release(s);
    else if (grant && !s->active)
        acquire(s, grant);
    else if (grant && grant != s->grant)
        say_in_use(s, s->grant = grant);
}

/* ---- Running and stopping ----------------------------------------------------------- */

uint64_t gdb_deadline(struct vm *vm, uint64_t tsc)
{
    struct gdb_stub *s = vm->gdb;
    if (!s || !s->active)
        return tsc;
    uint64_t now = pith_rdtsc();
    if (s->next_poll <= now)
        s->next_poll = now + vm->tsc_hz / 1000 * GDB_POLL_MS;
    return tsc && tsc < s->next_poll ? tsc : s->next_poll;
}

void gdb_poll(struct vm *vm)
{
    struct gdb_stub *s = vm->gdb;
    uint8_t byte;
    if (!s || !s->active)
        return;
    uint64_t now = pith_rdtsc();
    while (now < s->stale_until && uart_read(s, &byte)) {
        uint64_t later = now + s->vm->tsc_hz / 1000 * GDB_STALE_QUIET_MS;
        s->stale_until = later < s->stale_end ? later : s->stale_end;
    }
    if (now < s->stale_until)
        return;
    while (!s->packet_waiting && uart_read(s, &byte)) {
        switch (gdb_rsp_feed(&s->rsp, byte)) {
        case GDB_RSP_PACKET:
            uart_write(s, "+", 1);
            s->packet_waiting = s->stop_requested = true;
            break;
        case GDB_RSP_INTERRUPT_EVENT:
            s->stop_requested = true;
            break;
        case GDB_RSP_BAD_PACKET:
            uart_write(s, "-", 1);
            break;
        default:
            break;
        }
    }
}

bool gdb_stop_wanted(const struct vm *vm)
{
    const struct gdb_stub *s = vm->gdb;
    return s && s->stop_requested;
}

bool gdb_stepping(const struct vm *vm, unsigned index)
{
    const struct gdb_stub *s = vm->gdb;
    return s && index == 0 && s->stepping;
}

static void stop_here(struct gdb_stub *s, int signal, enum gdb_stop_kind kind, uint64_t address)
{
    s->stop_now = true;
    s->signal = signal;
    s->stop_kind = kind;
    s->stop_address = address;
}

/* The exception is the guest's own: it gets it as the CPU would have given it. */
static void give_back(uint64_t *inject, uint8_t vector)
{
    *inject = PITH_VM_EVENT_VALID | PITH_VM_EVENT_EXCEPTION | vector;
}

bool gdb_takes_exit(struct vm *vm, uint64_t *inject)
{
    struct gdb_stub *s = vm->gdb;
    if (!s || vm->cpu->index != 0)
        return false;
    uint64_t *mr = vm->cpu->exit.mr, reason = vm->cpu->exit.reason;
    bool db = reason == PITH_EXIT_EXCEPTION && mr[1] == 1;
    int hit = db ? hardware_hit(s) : -1;
    struct hw_slot slot = hit >= 0 ? s->programmed[hit] : (struct hw_slot){ 0 };
    sync_hardware(s);
    if (reason == PITH_EXIT_HLT && s->active && breakpoint_at(s, mr[VM_RIP])) {
        stop_here(s, GDB_SIGNAL_TRAP, GDB_STOP_SWBREAK, 0);
        return true;
    }
    if (reason != PITH_EXIT_EXCEPTION)
        return false;
    if (db && (hit >= 0 || s->stepping))
        clear_dr6(s);
    if (hit >= 0 && s->active) {
        enum gdb_stop_kind kind = slot.type == GDB_Z_HARDWARE ? GDB_STOP_HWBREAK
                                  : (enum gdb_stop_kind)(GDB_STOP_WATCH + slot.type - GDB_Z_WRITE);
        stop_here(s, GDB_SIGNAL_TRAP, kind, slot.type == GDB_Z_HARDWARE ? 0 : slot.request);
        return true;
    }
    if (hit >= 0 && !s->stepping) {
        pass_execution_breakpoint(s);   /* one of a client that went: the guest goes on */
        return true;
    }
    if (mr[1] == 1 && s->stepping && !s->active) {
        end_step(s);                /* COM2 went while it ran: the guest goes on */
        want_intercept(s);
        return true;
    }
    if (mr[1] == 1 && s->stepping) {
        stop_here(s, GDB_SIGNAL_TRAP, GDB_STOP_OTHER, 0);
        return true;
    }
    if (mr[1] == 1)
        give_back(inject, 1);
    return mr[1] == 1;
}

static void detach(struct gdb_stub *s)
{
    for (unsigned i = 0; i < GDB_BREAKPOINTS; i++)
        if (s->bp[i].used)
            restore(s, &s->bp[i]);
    remove_all_hardware(s);
    s->attached = s->client_waits = false;
    vm_log(s->vm, "gdb: detached; the guest runs on");
}

/* One packet while stopped; true when the guest is to run again. */
static bool serve(struct gdb_stub *s)
{
    size_t length;
    s->target.stop_signal = s->signal;
    s->target.stop_kind = s->stop_kind;
    s->target.stop_address = s->stop_address;
    enum gdb_action action = gdb_command(&s->target, s->rsp.data, s->rsp.length, s->reply, sizeof(s->reply),
                                         &length);
    if (action == GDB_ACTION_REPLY || action == GDB_ACTION_DETACH)
        send_packet(s, s->reply, length);
    if (action == GDB_ACTION_STEP && !s->db_intercepted) {
        send_packet(s, "E16", 3);   /* the #DB would reach the guest's own IDT */
        return false;
    }
    if (action == GDB_ACTION_STEP || action == GDB_ACTION_CONTINUE || action == GDB_ACTION_DETACH ||
        action == GDB_ACTION_KILL) {
        if (action == GDB_ACTION_DETACH || action == GDB_ACTION_KILL)
            remove_all_hardware(s);
        sync_hardware(s);           /* before the guest runs: what the client left set */
        pass_execution_breakpoint(s);
    }
    switch (action) {
    case GDB_ACTION_STEP: {
        uint64_t *flags = &exit_words(s)[VM_RFLAGS];
        s->stepping = true;
        s->step_set_tf = !(*flags & RFLAGS_TF);
        *flags |= RFLAGS_TF;
        s->client_waits = true;
        return true;
    }
    case GDB_ACTION_CONTINUE:
        s->client_waits = true;
        return true;
    case GDB_ACTION_DETACH:
    case GDB_ACTION_KILL:
        detach(s);
        return true;
    default:
        return false;
    }
}

/* Serves the client until it resumes the guest; sleeps a millisecond at a time on the
 * vCPU's notification while nothing comes. */
static uint64_t stopped(struct gdb_stub *s)
{
    struct vcpu *c = &s->vm->cpus[0];
    uint64_t seen = 0, bits;
    bool resume = false;
    if (s->packet_waiting) {
        s->packet_waiting = false;
        resume = serve(s);
    }
    while (!resume && s->active) {
        uint8_t byte;
        if (!uart_read(s, &byte)) {
            pith_notification_set_deadline(c->notification, pith_rdtsc() + s->vm->tsc_hz / 1000);
            bits = 0;
            pith_wait(c->notification, &bits);
            seen |= bits;
            if (bits & PITH_GUEST_GDB_BADGE)
                gdb_grant_changed(s->vm);   /* taken back: the guest runs on */
            continue;
        }
        switch (gdb_rsp_feed(&s->rsp, byte)) {
        case GDB_RSP_PACKET:
            uart_write(s, "+", 1);
            resume = serve(s);
            break;
        case GDB_RSP_BAD_PACKET:
            uart_write(s, "-", 1);
            break;
        case GDB_RSP_NACK:
            uart_write(s, s->frame, s->frame_length);
            break;
        default:                    /* '+', or Ctrl-C while stopped: nothing to do */
            break;
        }
    }
    c->deadline = 0;
    return seen | PITH_DEADLINE_BIT;
}

uint64_t gdb_stop_point(struct vm *vm)
{
    struct gdb_stub *s = vm->gdb;
    if (!s || vm->cpu->index != 0)
        return 0;
    uint64_t reason = vm->cpu->exit.reason;
    bool emulated = reason != PITH_EXIT_RECALL && reason != PITH_EXIT_INTERRUPT_WINDOW &&
                    reason != PITH_EXIT_NMI_WINDOW && reason != PITH_EXIT_EXCEPTION;
    if (!s->active) {
        if (s->stepping && emulated) {
            end_step(s);
            want_intercept(s);
        }
        return 0;
    }
    if (s->stepping && !s->stop_now && emulated)
        stop_here(s, GDB_SIGNAL_TRAP, GDB_STOP_OTHER, 0);   /* the VMM did the stepped instruction */
    if (!s->stop_now && !s->stop_requested)
        return 0;
    if (s->stepping)
        end_step(s);
    if (!s->stop_now)
        stop_here(s, GDB_SIGNAL_INT, GDB_STOP_OTHER, 0);
    if (s->packet_waiting)
        s->client_waits = false;    /* a new client (the old one went away running) */
    s->stop_now = s->stop_requested = false;
    if (!s->attached) {
        s->attached = true;
        s->target.arch = long_mode(vm->cpu->exit.mr) ? GDB_ARCH_AMD64 : GDB_ARCH_I386;
        vm_log(vm, "gdb: a client attached; the guest is stopped (%s registers)",
               s->target.arch == GDB_ARCH_AMD64 ? "amd64" : "i386");
    }
    if (s->client_waits) {
        size_t n = gdb_stop_reply(s->signal, s->stop_kind, s->stop_address, s->reply, sizeof(s->reply));
        send_packet(s, s->reply, n);
        s->client_waits = false;
    }
    uint64_t bits = stopped(s);
    sync_hardware(s);               /* COM2 taken back while stopped: nothing of ours stays */
    return bits;
}
