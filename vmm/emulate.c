/* Finishing instructions for the guest (emulate.h). */
#include <pith/string.h>

#include "x86/x86_decode.h"
#include "emulate.h"
#include "nested_vmx.h"
#include "gdbstub.h"
#include "interrupt.h"
#include "vm.h"

#define VECTOR_UD   6
#define VECTOR_GP   13
#define VECTOR_PF   14

/* ---- Device windows ---------------------------------------------------------------- */

static const struct device_window *window_at(const struct device_window *windows, unsigned count,
                                             uint64_t address)
{
    for (unsigned i = 0; i < count; i++)
        if (address >= windows[i].base && address - windows[i].base < windows[i].length)
            return &windows[i];
    return NULL;
}

const struct device_window *vm_port_window(struct vm *vm, uint16_t port, struct device_window *scratch)
{
    const struct device_window *w = window_at(vm->ports, vm->port_count, port);
    if (!w && vm->platform->port_window)
        w = vm->platform->port_window(vm, port, scratch);
    return w;
}

const struct device_window *vm_mmio_window(struct vm *vm, uint64_t gpa, struct device_window *scratch)
{
    const struct device_window *w = window_at(vm->mmio, vm->mmio_count, gpa);
    if (!w && vm->platform->mmio_window)
        w = vm->platform->mmio_window(vm, gpa, scratch);
    return w;
}

/* What a read from nothing returns: all ones (an open bus). */
static uint64_t open_bus(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

uint64_t vm_device_read(const struct device_window *w, uint64_t address, unsigned size)
{
    return w && w->ops->read ? w->ops->read(w->dev, address - w->base, size) & open_bus(size)
                             : open_bus(size);
}

void vm_device_write(const struct device_window *w, uint64_t address, unsigned size, uint64_t value)
{
    if (w && w->ops->write)
        w->ops->write(w->dev, address - w->base, size, value & open_bus(size));
}

/* ---- The guest's view: paging, segments, the instruction bytes ---------------------- */

static uint64_t seg_attributes(const struct vm *vm, unsigned segment)
{
    return (vm->cpu->exit.mr[VM_SEG(2 * segment)] >> 16) & 0xffff;
}

static uint64_t seg_base(const struct vm *vm, unsigned segment)
{
    return vm->cpu->exit.mr[VM_SEG(2 * segment + 1)];
}

static void paging_of(struct vm *vm, struct guest_paging *p)
{
    const uint64_t *mr = vm->cpu->exit.mr;
    *p = (struct guest_paging){
        .cr0 = mr[VM_CR(VM_CR0)], .cr3 = mr[VM_CR(VM_CR3)], .cr4 = mr[VM_CR(VM_CR4)],
        .efer = mr[VM_CR(VM_EFER)], .rflags = mr[VM_RFLAGS],
        .cpl = guest_cpl(mr[VM_CR(VM_CR0)], mr[VM_RFLAGS], (unsigned)seg_attributes(vm, GUEST_SEG_SS)),
        .maxphyaddr = 0, .read_phys = vm_read_phys, .ctx = vm,
    };
}

static unsigned code_size_of(const struct vm *vm)
{
    const uint64_t *mr = vm->cpu->exit.mr;
    return x86_code_size(mr[VM_CR(VM_CR0)], mr[VM_CR(VM_EFER)], mr[VM_RFLAGS],
                         (unsigned)seg_attributes(vm, GUEST_SEG_CS));
}

static void page_fault(struct vm *vm, const struct guest_translation *t, uint64_t *event,
                       uint64_t *error_code)
{
    vm->cpu->exit.mr[VM_CR(VM_CR2)] = t->linear;
    vm->cpu->reply_groups |= PITH_VM_GROUP_CR;
    *event = exception_event(VECTOR_PF, true);
    *error_code = t->error_code;
}

/* The bytes at CS:RIP, as many as translate (up to 15). */
static enum emulate_result fetch(struct vm *vm, uint8_t *bytes, size_t *got, uint64_t *event,
                                 uint64_t *error_code, struct guest_translation *fault,
                                 enum guest_walk_status *status)
{
    struct guest_paging p;
    paging_of(vm, &p);
    unsigned code_size = code_size_of(vm);
    uint64_t rip = vm->cpu->exit.mr[VM_RIP];
    if (code_size < 8)
        rip &= code_size == 4 ? 0xffffffffull : 0xffffull;
    uint64_t linear = guest_segment_linear(code_size == 8, GUEST_SEG_CS, seg_base(vm, GUEST_SEG_CS), rip);
    *status = guest_copy_from_linear(&p, linear, GUEST_ACCESS_FETCH, bytes, X86_MAX_LENGTH, got, fault);
    if (*got == 0) {
        if (*status == GUEST_WALK_PAGE_FAULT) {
            page_fault(vm, fault, event, error_code);
            return EMULATE_FAULT;
        }
        vm_stop(vm, VM_END_ERROR, "cannot read the instruction at rip 0x%lx (linear 0x%lx)",
                vm->cpu->exit.mr[VM_RIP], linear);
        return EMULATE_FAILED;
    }
    return EMULATE_DONE;
}

/* ---- MMIO -------------------------------------------------------------------------- */

struct mmio_context {
    struct vm *vm;
    const struct device_window *window;
    uint64_t *event, *error_code;
};

static uint64_t mmio_read(void *context, uint64_t gpa, unsigned size)
{
    struct mmio_context *c = context;
    return vm_device_read(c->window, gpa, size);
}

static void mmio_write(void *context, uint64_t gpa, unsigned size, uint64_t value)
{
    struct mmio_context *c = context;
    vm_device_write(c->window, gpa, size, value);
}

bool vm_linear_access(struct vm *vm, uint64_t linear, void *buf, unsigned size, bool write, uint64_t *event,
                      uint64_t *error_code)
{
    struct guest_paging p;
    paging_of(vm, &p);
    uint8_t *bytes = buf;
    while (size) {
        unsigned piece = 0x1000 - (unsigned)(linear & 0xfff);
        if (piece > size)
            piece = size;
        struct guest_translation t;
        enum guest_walk_status s = guest_translate(&p, linear, write ? GUEST_ACCESS_WRITE : GUEST_ACCESS_READ, &t);
        if (s == GUEST_WALK_PAGE_FAULT) {
            page_fault(vm, &t, event, error_code);
            return false;
        }
        if (s != GUEST_WALK_OK ||
            !(write ? vm_write_phys(vm, t.gpa, bytes, piece) : vm_read_phys(vm, t.gpa, bytes, piece))) {
            *event = exception_event(VECTOR_GP, true);
            *error_code = 0;
            return false;
        }
        linear += piece;
        bytes += piece;
        size -= piece;
    }
    return true;
}

/* The RAM side of MOVS, by linear address through the guest's page tables. */
static bool memory_access(struct mmio_context *c, uint64_t linear, unsigned size, uint64_t *value,
                          bool write)
{
    return vm_linear_access(c->vm, linear, value, size, write, c->event, c->error_code);
}

static bool memory_read(void *context, uint64_t linear, unsigned size, uint64_t *value)
{
    *value = 0;
    return memory_access(context, linear, size, value, false);
}

static bool memory_write(void *context, uint64_t linear, unsigned size, uint64_t value)
{
    return memory_access(context, linear, size, &value, true);
}

enum emulate_result emulate_mmio(struct vm *vm, uint64_t gpa, bool write, uint64_t *event,
                                 uint64_t *error_code)
{
    uint8_t bytes[X86_MAX_LENGTH];
    size_t got = 0;
    struct guest_translation fault;
    enum guest_walk_status status;
    enum emulate_result r = fetch(vm, bytes, &got, event, error_code, &fault, &status);
    if (r != EMULATE_DONE)
        return r;
    struct x86_insn insn;
    enum x86_decode_status d = x86_decode(bytes, got, code_size_of(vm), &insn);
    if (d == X86_DECODE_TRUNCATED && status == GUEST_WALK_PAGE_FAULT) {
        page_fault(vm, &fault, event, error_code);
        return EMULATE_FAULT;
    }
    if (d != X86_DECODE_OK) {
        vm_stop(vm, VM_END_ERROR, "cannot emulate the MMIO %s of 0x%lx at rip 0x%lx "
                "(%02x %02x %02x %02x %02x %02x)", write ? "write" : "read", gpa,
                vm->cpu->exit.mr[VM_RIP], bytes[0], got > 1 ? bytes[1] : 0, got > 2 ? bytes[2] : 0,
                got > 3 ? bytes[3] : 0, got > 4 ? bytes[4] : 0, got > 5 ? bytes[5] : 0);
        return EMULATE_FAILED;
    }
    struct x86_state state;
    memcpy(state.gpr, &vm->cpu->exit.mr[VM_GPR(0)], sizeof(state.gpr));
    state.rip = vm->cpu->exit.mr[VM_RIP];
    state.rflags = vm->cpu->exit.mr[VM_RFLAGS];
    for (unsigned s = 0; s < GUEST_SEG_COUNT; s++)
        state.segment_base[s] = seg_base(vm, s);
    struct device_window scratch;
    struct mmio_context c = { vm, vm_mmio_window(vm, gpa, &scratch), event, error_code };
    struct x86_emulate_ops ops = { mmio_read, mmio_write, memory_read, memory_write, &c };
    enum x86_emulate_status e = x86_emulate(&insn, &state, gpa, write, &ops);
    if (e == X86_EMULATE_UNSUPPORTED) {
        vm_stop(vm, VM_END_ERROR, "cannot emulate the MMIO instruction at rip 0x%lx", state.rip);
        return EMULATE_FAILED;
    }
    if (e == X86_EMULATE_FAULT)
        return EMULATE_FAULT;
    memcpy(&vm->cpu->exit.mr[VM_GPR(0)], state.gpr, sizeof(state.gpr));
    vm->cpu->exit.mr[VM_RFLAGS] = state.rflags;
    vm->record.mmio_done++;
    if (e == X86_EMULATE_REPEAT)
        return EMULATE_AGAIN;
    vm->cpu->exit.mr[VM_RIP] += insn.length;
    return EMULATE_DONE;
}

/* ---- String port I/O ---------------------------------------------------------------- */

#define STRING_IO_BATCH 256

static bool is_segment_prefix(uint8_t b, unsigned *segment)
{
    switch (b) {
    case 0x26: *segment = GUEST_SEG_ES; return true;
    case 0x2e: *segment = GUEST_SEG_CS; return true;
    case 0x36: *segment = GUEST_SEG_SS; return true;
    case 0x3e: *segment = GUEST_SEG_DS; return true;
    case 0x64: *segment = GUEST_SEG_FS; return true;
    case 0x65: *segment = GUEST_SEG_GS; return true;
    default: return false;
    }
}

/* INS stores to ES:rDI, OUTS loads from DS:rSI (a segment override applies to OUTS
 * only); the element size comes from the exit, the address size from the code size
 * and a 67 prefix (SDM Vol. 2, INS/INSB/INSW/INSD, OUTS/OUTSB/OUTSW/OUTSD). */
enum emulate_result emulate_string_io(struct vm *vm, uint16_t port, unsigned size, bool in, bool rep,
                                      uint64_t *event, uint64_t *error_code)
{
    uint8_t b[X86_MAX_LENGTH];
    size_t got = 0;
    struct guest_translation fault;
    enum guest_walk_status status;
    enum emulate_result r = fetch(vm, b, &got, event, error_code, &fault, &status);
    if (r != EMULATE_DONE)
        return r;
    unsigned code_size = code_size_of(vm), segment = GUEST_SEG_DS, i = 0;
    bool address_override = false;
    for (; i < got; i++) {
        unsigned s;
        if (b[i] == 0x67)
            address_override = true;
        else if (is_segment_prefix(b[i], &s))
            segment = s;
        else if (!(b[i] == 0x66 || b[i] == 0xf2 || b[i] == 0xf3 || b[i] == 0xf0 ||
                   (code_size == 8 && (b[i] & 0xf0) == 0x40)))
            break;
    }
    if (i >= got || b[i] < 0x6c || b[i] > 0x6f) {
        vm_stop(vm, VM_END_ERROR, "string I/O on port 0x%x: no INS/OUTS at rip 0x%lx", port,
                vm->cpu->exit.mr[VM_RIP]);
        return EMULATE_FAILED;
    }
    unsigned length = i + 1;
    unsigned address_size = code_size == 8 ? (address_override ? 4 : 8)
                          : code_size == 4 ? (address_override ? 2 : 4) : (address_override ? 4 : 2);
    uint64_t mask = address_size == 8 ? ~0ull : (1ull << (8 * address_size)) - 1;
    uint64_t *gpr = &vm->cpu->exit.mr[VM_GPR(0)];
    int index = in ? X86_RDI : X86_RSI;
    if (in)
        segment = GUEST_SEG_ES;
    struct guest_paging p;
    paging_of(vm, &p);
    struct device_window scratch;
    const struct device_window *w = vm_port_window(vm, port, &scratch);
    int64_t step = (vm->cpu->exit.mr[VM_RFLAGS] & X86_FLAG_DF) ? -(int64_t)size : (int64_t)size;
    for (unsigned n = 0; n < STRING_IO_BATCH; n++) {
        if (rep && (gpr[X86_RCX] & mask) == 0)
            break;
        uint64_t offset = gpr[index] & mask;
        uint64_t linear = guest_segment_linear(code_size == 8, (enum guest_segment)segment,
                                               seg_base(vm, segment), offset);
        struct guest_translation t;
        enum guest_walk_status ws = guest_translate(&p, linear, in ? GUEST_ACCESS_WRITE : GUEST_ACCESS_READ, &t);
        if (ws == GUEST_WALK_PAGE_FAULT) {
            page_fault(vm, &t, event, error_code);
            return EMULATE_FAULT;
        }
        uint64_t value = 0;
        bool ok = ws == GUEST_WALK_OK && (in ? (value = vm_device_read(w, port, size),
                                                vm_write_phys(vm, t.gpa, &value, size))
                                             : vm_read_phys(vm, t.gpa, &value, size));
        if (!ok) {
            vm_stop(vm, VM_END_ERROR, "string I/O on port 0x%x: 0x%lx is not RAM", port, linear);
            return EMULATE_FAILED;
        }
        if (!in)
            vm_device_write(w, port, size, value);
        gpr[index] = (gpr[index] & ~mask) | ((gpr[index] + (uint64_t)step) & mask);
        if (address_size == 4)
            gpr[index] &= 0xffffffffull;        /* a 32-bit register write zero-extends */
        if (!rep)
            break;
        gpr[X86_RCX] = (gpr[X86_RCX] & ~mask) | ((gpr[X86_RCX] - 1) & mask);
        if (address_size == 4)
            gpr[X86_RCX] &= 0xffffffffull;
        if (vm->stopped)
            return EMULATE_FAILED;
    }
    if (rep && (gpr[X86_RCX] & mask) != 0)
        return EMULATE_AGAIN;                   /* more to do: the guest executes it again */
    vm->cpu->exit.mr[VM_RIP] += vm->cpu->exit.mr[3] ? vm->cpu->exit.mr[3] : length;
    return EMULATE_DONE;
}

/* ---- Control registers ------------------------------------------------------------- */

#define CR0_TS      (1ull << 3)
#define CR0_PG      (1ull << 31)
#define EFER_LME    (1ull << 8)
#define EFER_LMA    (1ull << 10)

/* Turning paging on with EFER.LME set activates long mode, turning it off deactivates
 * it (SDM Vol. 3A 10.8.5): the processor sets EFER.LMA, so an emulated CR0 write must.
 * On VMX the entry's IA-32e mode follows the LMA written back; without it the kernel
 * refuses LME and PG without LMA (Linux's startup_32, whose CR0 write sets NE and so
 * exits, reached this). */
static void cr0_written(uint64_t *cr)
{
    if ((cr[VM_CR0] & CR0_PG) && (cr[VM_EFER] & EFER_LME))
        cr[VM_EFER] |= EFER_LMA;
    else
        cr[VM_EFER] &= ~EFER_LMA;
}

/* CR8 is the task priority's top 4 bits (SDM Vol. 3A §10.8.6.1). */
static uint64_t cr8_read(struct vm *vm)
{
    if (!vm->platform->tpr_read)
        return 0;
    return (vm->platform->tpr_read(vm, vm->cpu->index) >> 4) & 0xf;
}

static void cr8_write(struct vm *vm, uint64_t value)
{
    if (vm->platform->tpr_write)
        vm->platform->tpr_write(vm, vm->cpu->index, (uint8_t)((value & 0xf) << 4));
}

/* MOV to/from CRn (0F 22 / 0F 20), CLTS (0F 06), LMSW (0F 01 /6 with a register). */
enum emulate_result emulate_cr_access(struct vm *vm, uint64_t *event, uint64_t *error_code)
{
    uint8_t b[X86_MAX_LENGTH];
    size_t got = 0;
    struct guest_translation fault;
    enum guest_walk_status status;
    enum emulate_result r = fetch(vm, b, &got, event, error_code, &fault, &status);
    if (r != EMULATE_DONE)
        return r;
    unsigned i = 0, rex = 0;
    while (i < got && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf2 || b[i] == 0xf3 ||
                       b[i] == 0x2e || b[i] == 0x3e || b[i] == 0x26 || b[i] == 0x36 ||
                       b[i] == 0x64 || b[i] == 0x65))
        i++;
    if (i < got && code_size_of(vm) == 8 && (b[i] & 0xf0) == 0x40)
        rex = b[i++];
    uint64_t *gpr = &vm->cpu->exit.mr[VM_GPR(0)], *cr = &vm->cpu->exit.mr[VM_CR(0)];
    if (i + 1 < got && b[i] == 0x0f) {
        uint8_t op = b[i + 1], modrm = i + 2 < got ? b[i + 2] : 0;
        unsigned reg = ((modrm >> 3) & 7) | (rex & 4 ? 8 : 0), rm = (modrm & 7) | (rex & 1 ? 8 : 0);
        uint64_t mask = code_size_of(vm) == 8 ? ~0ull : 0xffffffffull;
        if (op == 0x06) {                               /* CLTS */
            cr[VM_CR0] &= ~CR0_TS;
            i += 2;
        } else if ((op == 0x22 || op == 0x20) && i + 2 < got && (modrm & 0xc0) == 0xc0) {
            static const int slot[9] = { VM_CR0, -1, VM_CR2, VM_CR3, VM_CR4, -1, -1, -1, -1 };
            if (reg > 8 || (reg != 8 && slot[reg] < 0)) {
                *event = exception_event(VECTOR_UD, false);
                return EMULATE_FAULT;
            }
            uint64_t value = gpr[rm] & mask;
            if (op == 0x22 && reg == 4 && !nested_vmx_cr4_write(vm, &value)) {
                *event = exception_event(VECTOR_GP, true);
                *error_code = 0;
                return EMULATE_FAULT;
            }
            if (op == 0x22 && reg == 8)
                cr8_write(vm, gpr[rm]);
            else if (op == 0x22)
                cr[slot[reg]] = value;
            if (op == 0x22 && reg == 0)
                cr0_written(cr);
            else
                gpr[rm] = reg == 8 ? cr8_read(vm) : cr[slot[reg]] & mask;
            i += 3;
        } else if (op == 0x23 && i + 2 < got && (modrm & 0xc0) == 0xc0 && reg == 7) {
            /* MOV to DR7 (an exit on SVM: pith/vm.h, PITH_VM_CR_ACCESS_DR7): bits 63..32
             * must be 0 (#GP); bit 10 reads 1, bits 11, 12, 14 and 15 read 0 */
            uint64_t value = gpr[rm] & mask;
            if (value >> 32) {
                *event = exception_event(VECTOR_GP, true);
                *error_code = 0;
                return EMULATE_FAULT;
            }
            value = (value & ~0xd800ull) | 0x400;
            if (!gdb_keeps_guest_dr7(vm, (unsigned)(vm->cpu - vm->cpus), value))
                cr[VM_DR7] = value;
            i += 3;
        } else if (op == 0x01 && i + 2 < got && ((modrm >> 3) & 7) == 6 && (modrm & 0xc0) == 0xc0) {
            /* LMSW: the low four bits of CR0, PE can be set but not cleared */
            uint64_t value = gpr[rm] & 0xf;
            cr[VM_CR0] = (cr[VM_CR0] & ~0xeull) | (value & 0xe) | (cr[VM_CR0] & 1) | (value & 1);
            i += 3;
        } else {
            i = 0;
        }
        if (i) {
            vm->cpu->reply_groups |= PITH_VM_GROUP_CR;
            vm->cpu->exit.mr[VM_RIP] += vm->cpu->exit.mr[3] ? vm->cpu->exit.mr[3] : i;
            return EMULATE_DONE;
        }
    }
    vm_stop(vm, VM_END_ERROR, "cannot emulate the control-register access at rip 0x%lx (%02x %02x %02x)",
            vm->cpu->exit.mr[VM_RIP], b[0], got > 1 ? b[1] : 0, got > 2 ? b[2] : 0);
    return EMULATE_FAILED;
}
