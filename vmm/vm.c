/* Building a guest from the VMM's own untyped memory (vm.h). */
#include <stdarg.h>

#include <pith/alloc.h>
#include <pith/printf.h>
#include <pith/string.h>

#include "vm.h"

#define VCPU_PRIORITY   100         /* below the VMM (255), so its timer preempts the guest */
#define FRAME_2M        (2ull << 20)

/* Where the VMM sees each guest's RAM: a GiB of its address space per guest. */
static uint64_t next_window = 1ull << 30;

void vm_stop(struct vm *vm, const char *fmt, ...)
{
    if (!vm->stopped && fmt) {
        va_list args;
        va_start(args, fmt);
        pith_vsnprintf(vm->why, sizeof(vm->why), fmt, args);
        va_end(args);
    }
    vm->stopped = true;
}

/* Guest RAM: each 2 MiB frame mapped at its guest-physical address in the guest space
 * and, through a copy of its capability, into the VMM's window. */
static enum pith_error map_ram(struct vm *vm)
{
    uint64_t window = next_window;
    next_window += 1ull << 30;
    enum pith_error err = PITH_OK;
    for (uint64_t gpa = 0; !err && gpa < VM_RAM_SIZE; gpa += FRAME_2M) {
        uint64_t frame, view = pith_alloc_slot();
        err = view ? pith_alloc_object(PITH_OBJ_FRAME_2M, 0, &frame) : PITH_E_RANGE;
        if (!err)
            err = pith_cnode_copy(PITH_SLOT_CNODE, view, PITH_SLOT_CNODE, frame, PITH_RIGHTS_ALL);
        if (!err)
            err = pith_map_frame_2m(frame, vm->space, gpa, PITH_RIGHTS_ALL & ~PITH_RIGHT_GRANT, 0);
        if (!err)
            err = pith_map_frame_2m(view, PITH_SLOT_ADDRESS_SPACE, window + gpa,
                                    PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0);
    }
    vm->ram = (uint8_t *)window;
    return err;
}

static void uart_output(void *context, uint8_t byte)
{
    struct vm *vm = context;
    console_put(&vm->console, byte);
}

/* A complete guest line: printed with the guest's name, and kept for the checks. */
static void console_line(void *context, const char *line)
{
    struct vm *vm = context;
    pith_printf("[%s] %s\n", vm->name, line);
    if (vm->record.line_count < VM_LINES_KEPT)
        pith_strlcpy(vm->record.lines[vm->record.line_count], line, CONSOLE_LINE_MAX + 1);
    vm->record.line_count++;
}

/* The platform: COM1 (no interrupt controller yet, so its IRQ goes nowhere) and the
 * test device. */
static void create_devices(struct vm *vm)
{
    uart16550_init(&vm->uart, uart_output, vm, (struct irq_line){ 0 });
    testdev_reset(&vm->testdev);
    console_init(&vm->console, console_line, vm);
    msr_file_reset(&vm->msrs);
    vm->ports[VM_PORTS_COM1] = (struct device_window){ 0x3f8, UART16550_REGS, &uart16550_ops, &vm->uart };
    vm->ports[VM_PORTS_TEST] = (struct device_window){ TESTDEV_PORT, 1, &testdev_port_ops, &vm->testdev };
    vm->mmio[VM_MMIO_TEST] = (struct device_window){ TESTDEV_MMIO_BASE, TESTDEV_MMIO_SIZE,
                                                     &testdev_mmio_ops, &vm->testdev };
}

enum pith_error vm_create(struct vm *vm, const char *name, pith_cap_t notification,
                          uint64_t tsc_hz)
{
    memset(vm, 0, sizeof(*vm));
    vm->name = name;
    vm->timer_notification = notification;
    vm->tsc_hz = tsc_hz;
    vm->exit.transfer_mask = VM_TRANSFER_MASK;
    create_devices(vm);
    enum pith_error err = pith_alloc_object(PITH_OBJ_GUEST_SPACE, 0, &vm->space);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_VCPU, 0, &vm->vcpu);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_THREAD, 0, &vm->thread);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_ENDPOINT, 0, &vm->exit_endpoint);
    if (!err)
        err = map_ram(vm);
    if (!err)
        err = pith_vcpu_configure(vm->vcpu, vm->thread, vm->space, vm->exit_endpoint,
                                  VM_TRANSFER_MASK, 0);
    if (!err)
        err = pith_thread_set_priority(vm->thread, VCPU_PRIORITY);
    return err;
}

/* Segment words of pith/vm.h: selector | attributes << 16 | limit << 32, then base. */
static uint64_t segment(uint16_t selector, uint16_t attributes, uint32_t limit)
{
    return selector | (uint64_t)attributes << 16 | (uint64_t)limit << 32;
}

#define SEG_CODE32  0xc9b       /* G, D, present, code execute/read, accessed */
#define SEG_DATA32  0xc93       /* G, B, present, data read/write, accessed */
#define SEG_LDT     0x082
#define SEG_TSS32   0x08b       /* busy 32-bit TSS */
#define CR0_PE      (1ull << 0)
#define CR0_ET      (1ull << 4)
#define CR0_NE      (1ull << 5)

/*
 * The state a multiboot loader leaves (Multiboot spec 3.2, "Machine state"): 32-bit
 * protected mode without paging, CS a flat 4 GiB code segment, the data segments flat
 * 4 GiB data segments, interrupts off.  Unlike multiboot, GDTR and IDTR are empty
 * (the guest loads its own before it needs them) and there is no boot information:
 * every general register is zero.
 */
static enum pith_error enter_protected_mode(struct vm *vm, uint64_t entry)
{
    uint64_t state[16 + 2 + 6 + 16 + 4] = { 0 };
    uint64_t *rip = &state[16], *cr = &state[18], *seg = &state[24], *dtr = &state[40];
    rip[0] = entry;
    rip[1] = 2;                                     /* RFLAGS: only the fixed bit */
    cr[0] = CR0_PE | CR0_ET | CR0_NE;
    cr[5] = 0x400;                                  /* DR7 at reset */
    for (unsigned i = 0; i < 6; i++)                /* es cs ss ds fs gs */
        seg[2 * i] = segment(0x10, SEG_DATA32, 0xffffffff);
    seg[2] = segment(0x08, SEG_CODE32, 0xffffffff);
    seg[12] = segment(0, SEG_LDT, 0xffff);
    seg[14] = segment(0, SEG_TSS32, 0xffff);
    dtr[1] = dtr[3] = 0xffff;                       /* GDTR, IDTR: base 0, as at reset */
    uint64_t groups = PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP | PITH_VM_GROUP_CR |
                      PITH_VM_GROUP_SEG | PITH_VM_GROUP_DTR;
    return pith_vcpu_write_state(vm->vcpu, groups, state, sizeof(state) / sizeof(state[0]));
}

bool vm_load(struct vm *vm, const uint8_t *image, uint64_t size)
{
    if (size > VM_RAM_SIZE - VM_LOAD_ADDRESS) {
        vm_stop(vm, "the image (%lu bytes) does not fit in %lu MiB of RAM", size,
                VM_RAM_SIZE >> 20);
        return false;
    }
    memcpy(vm->ram + VM_LOAD_ADDRESS, image, size);
    enum pith_error err = enter_protected_mode(vm, VM_LOAD_ADDRESS);
    if (err != PITH_OK)
        vm_stop(vm, "writing the initial vCPU state: %s", pith_error_name(err));
    return err == PITH_OK;
}
