/* Building a guest from the VMM's own untyped memory (vm.h). */
#include <stdarg.h>

#include <pith/alloc.h>
#include <pith/console_client.h>
#include <pith/printf.h>
#include <pith/string.h>

#include "vm.h"

#define VCPU_PRIORITY   99          /* below the VMM (100 as the root task's child, 255 as
                                     * the root task), so its deadlines preempt the guest */
#define FRAME_2M        (2ull << 20)
#define NS_PER_SEC      1000000000ull

/* Where the VMM sees each guest's RAM: its own stretch of the VMM's address space. */
static uint64_t next_window = 1ull << 30;

void vm_stop(struct vm *vm, enum vm_end end, const char *fmt, ...)
{
    if (!vm->stopped) {
        vm->end = end;
        if (fmt) {
            va_list args;
            va_start(args, fmt);
            pith_vsnprintf(vm->why, sizeof(vm->why), fmt, args);
            va_end(args);
        }
    }
    vm->stopped = true;
}

uint64_t vm_now_ns(const struct vm *vm)
{
    uint64_t ticks = pith_rdtsc() - vm->tsc_start;
    return (uint64_t)((unsigned __int128)ticks * NS_PER_SEC / vm->tsc_hz);
}

uint64_t vm_tsc_at(const struct vm *vm, uint64_t ns)
{
    return vm->tsc_start + (uint64_t)(((unsigned __int128)ns * vm->tsc_hz + NS_PER_SEC - 1) / NS_PER_SEC);
}

bool vm_read_phys(void *context, uint64_t gpa, void *buf, size_t length)
{
    struct vm *vm = context;
    if (gpa >= vm->ram_size || length > vm->ram_size - gpa)
        return false;
    memcpy(buf, vm->ram + gpa, length);
    return true;
}

bool vm_write_phys(void *context, uint64_t gpa, const void *buf, size_t length)
{
    struct vm *vm = context;
    if (gpa >= vm->ram_size || length > vm->ram_size - gpa)
        return false;
    memcpy(vm->ram + gpa, buf, length);
    return true;
}

bool vm_add_port_window(struct vm *vm, struct device_window w)
{
    if (vm->port_count == VM_PORT_WINDOWS)
        return false;
    vm->ports[vm->port_count++] = w;
    return true;
}

bool vm_add_mmio_window(struct vm *vm, struct device_window w)
{
    if (vm->mmio_count == VM_MMIO_WINDOWS)
        return false;
    vm->mmio[vm->mmio_count++] = w;
    return true;
}

/*
 * Guest RAM: 2 MiB frames (a firmware guest's first 2 MiB in 4 KiB frames, below),
 * all retyped first (one after another they keep their alignment without gaps), then
 * each mapped at its guest-physical address in the
 * guest space and, through a copy of its capability, into the VMM's window.  Their
 * capabilities' slots are listed on the heap, as many as the guest has (every VMM
 * domain's image would otherwise hold room for the largest guest).
 */
static pith_cap_t *frames;

static enum pith_error retype_ram(struct vm *vm)
{
    uint64_t count = vm->ram_size / FRAME_2M;
    if (count == 0 || count > VM_MAX_FRAMES || vm->ram_size % FRAME_2M)
        return PITH_E_RANGE;
    pith_free(frames);              /* a test VMM builds one guest after another */
    frames = pith_malloc(count * sizeof(*frames));
    if (!frames)
        return PITH_E_NO_MEMORY;
    enum pith_error err = PITH_OK;
    for (uint64_t i = vm->low_pages ? 1 : 0; !err && i < count; i++)
        err = pith_alloc_object(PITH_OBJ_FRAME_2M, 0, &frames[i]);
    return err;
}

#define PAGE_4K             4096ul
#define GUEST_RAM_RIGHTS    (PITH_RIGHTS_ALL & ~PITH_RIGHT_GRANT)
#define LOW_PAGES           (FRAME_2M / PAGE_4K)

/* A RAM frame at its guest-physical address in the guest space and, through a copy of
 * its capability, at the same offset in the VMM's window. */
static enum pith_error map_both(struct vm *vm, pith_cap_t frame, uint64_t gpa, uint64_t window, bool large)
{
    enum pith_error (*map)(pith_cap_t, pith_cap_t, uint64_t, uint64_t, uint64_t) =
        large ? pith_map_frame_2m : pith_map_frame;
    pith_cap_t view = pith_alloc_slot();
    enum pith_error err = view ? PITH_OK : PITH_E_RANGE;
    if (!err)
        err = pith_cnode_copy(PITH_SLOT_CNODE, view, PITH_SLOT_CNODE, frame, PITH_RIGHTS_ALL);
    if (!err)
        err = map(frame, vm->space, gpa, GUEST_RAM_RIGHTS, 0);
    if (!err)
        err = map(view, PITH_SLOT_ADDRESS_SPACE, window + gpa, PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0);
    return err;
}

/* A firmware guest's first 2 MiB, in 4 KiB frames so that the BIOS area's pages can be
 * write-protected one by one (the i440FX's PAM registers): the guest's capability of
 * each, for remapping, and a copy that maps it into the VMM's window. */
static pith_cap_t *low_frames;          /* on the heap: only firmware guests have them */

static enum pith_error map_low_pages(struct vm *vm, uint64_t window)
{
    pith_free(low_frames);
    low_frames = pith_malloc(LOW_PAGES * sizeof(*low_frames));
    if (!low_frames)
        return PITH_E_NO_MEMORY;
    enum pith_error err = PITH_OK;
    for (uint64_t i = 0; !err && i < LOW_PAGES; i++) {
        err = pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &low_frames[i]);
        if (!err)
            err = map_both(vm, low_frames[i], i * PAGE_4K, window, false);
    }
    return err;
}

bool vm_protect_low(struct vm *vm, uint64_t base, uint64_t size, bool writable)
{
    if (!vm->low_pages || base % PAGE_4K || size % PAGE_4K || base > FRAME_2M ||
        size > FRAME_2M - base)
        return false;
    uint64_t rights = writable ? GUEST_RAM_RIGHTS : GUEST_RAM_RIGHTS & ~PITH_RIGHT_WRITE;
    for (uint64_t gpa = base; gpa < base + size; gpa += PAGE_4K) {
        pith_cap_t frame = low_frames[gpa / PAGE_4K];
        enum pith_error err = pith_frame_unmap(frame);
        if (!err)
            err = pith_map_frame(frame, vm->space, gpa, rights, 0);
        if (err) {
            vm_stop(vm, VM_END_ERROR, "remapping guest page 0x%lx: %s", gpa, pith_error_name(err));
            return false;
        }
    }
    return true;
}

pith_cap_t vm_ram_page(struct vm *vm, uint64_t gpa, uint64_t *attributes)
{
    if (gpa >= vm->ram_size)
        return 0;
    if (vm->low_pages && gpa < FRAME_2M) {
        if (gpa >= 0xa0000 && gpa < 0x100000)
            return 0;
        *attributes = 0;
        return low_frames[gpa / PAGE_4K];
    }
    *attributes = PITH_ATTR_PIECE | (gpa & (FRAME_2M - 1) & ~(PAGE_4K - 1));
    return frames[gpa / FRAME_2M];
}

static enum pith_error map_ram(struct vm *vm)
{
    uint64_t window = next_window, stretch = (vm->ram_size + (1ull << 30) - 1) & ~((1ull << 30) - 1);
    next_window += stretch;
    enum pith_error err = PITH_OK;
    if (vm->low_pages)
        err = map_low_pages(vm, window);
    for (uint64_t i = vm->low_pages ? 1 : 0; !err && i < vm->ram_size / FRAME_2M; i++)
        err = map_both(vm, frames[i], i * FRAME_2M, window, true);
    vm->ram = (uint8_t *)window;
    return err;
}

/* ---- Guest output -------------------------------------------------------------------- */

void vm_output_flush(struct vm *vm)
{
    if (vm->console_cap && vm->out_length) {
        if (pith_console_write(vm->console_cap, vm->out, vm->out_length) != PITH_OK)
            vm->console_cap = 0;            /* the server is gone: print from now on */
        vm->out_length = 0;
    }
}

void vm_output(struct vm *vm, uint8_t byte)
{
    console_put(&vm->console, byte);        /* the lines, for the record */
    if (!vm->console_cap || vm->no_output)
        return;
    vm->out[vm->out_length++] = (char)byte;
    if (byte == '\n' || vm->out_length == sizeof(vm->out))
        vm_output_flush(vm);
}

void vm_own_line(struct vm *vm)
{
    vm_output_flush(vm);
    if (vm->console_cap)
        pith_console_write(vm->console_cap, "\x18", 1);
}

void vm_log(struct vm *vm, const char *fmt, ...)
{
    char line[640];
    int n = pith_snprintf(line, sizeof(line), "vmm: %s: ", vm->name);
    va_list args;
    va_start(args, fmt);
    pith_vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, args);
    va_end(args);
    if (vm->console_cap)
        vm_own_line(vm);                /* (which finds out if the server is gone) */
    if (vm->console_cap) {
        size_t length = pith_strlen(line);
        if (length < sizeof(line) - 1)
            line[length++] = '\n';
        pith_console_write(vm->console_cap, line, length);
    } else {
        pith_printf("%s\n", line);
    }
}

/* A complete guest line: printed with the guest's name (unless the console server
 * does that), and kept for the checks. */
static void console_line(void *context, const char *line)
{
    struct vm *vm = context;
    if (!vm->console_cap && !vm->no_output)
        pith_printf("[%s] %s\n", vm->name, line);
    if (vm->record.line_count < VM_LINES_KEPT)
        pith_strlcpy(vm->record.lines[vm->record.line_count], line, CONSOLE_LINE_MAX + 1);
    vm->record.line_count++;
}

/* The vCPU, its thread and exit endpoint; the TSC offset that makes its TSC read 0 at
 * guest time 0, the same on every vCPU (dev/lapic.h assumes it, and Linux checks that
 * the CPUs' TSCs agree). */
static enum pith_error create_vcpu(struct vm *vm, struct vcpu *c)
{
    enum pith_error err = pith_alloc_object(PITH_OBJ_VCPU, 0, &c->vcpu);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_THREAD, 0, &c->thread);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_ENDPOINT, 0, &c->exit_endpoint);
    c->options = 0;                 /* nested_svm_setup may add the virtual GIF */
    if (!err)
        err = pith_vcpu_configure(c->vcpu, c->thread, vm->space, c->exit_endpoint, VM_TRANSFER_MASK,
                                  vm->exception_bitmap);
    if (!err)
        err = pith_thread_set_priority(c->thread, VCPU_PRIORITY);
    c->tsc_offset = -vm->tsc_start;
    if (!err)
        err = pith_vcpu_write_state(c->vcpu, PITH_VM_GROUP_TSC, &c->tsc_offset, 1);
    if (!err && c->index > 0)       /* vCPU 0's VMM thread has its own from run_configured.c or run_tests.c */
        err = pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &c->notification);
    return err;
}

enum pith_error vm_create(struct vm *vm, const struct vm_config *config)
{
    memset(vm, 0, sizeof(*vm));
    vm->name = config->name;
    vm->platform = config->platform;
    vm->ram_size = config->ram_bytes;
    vm->tsc_hz = config->tsc_hz;
    vm->console_cap = config->console;
    vm->no_output = config->no_output;
    vm->wall_clock = config->wall_clock;
    vm->exception_bitmap = config->exception_bitmap;
    vm->low_pages = config->low_pages;
    vm->vcpu_count = config->vcpus ? config->vcpus : 1;
    if (vm->vcpu_count > VM_MAX_VCPUS || vm->vcpu_count > vm->platform->max_vcpus)
        return PITH_E_RANGE;
    vm_place_vcpus(vm, config->cpu_mask, config->host_cpus);
    for (unsigned i = 0; i < vm->vcpu_count; i++) {
        vm->cpus[i] = (struct vcpu){ .vm = vm, .index = i, .host_cpu = vm->cpus[i].host_cpu,
                                     .state = i ? VCPU_WAIT_SIPI : VCPU_IN_GUEST };
        vm->cpus[i].exit.transfer_mask = VM_TRANSFER_MASK;
    }
    vm->cpus[0].notification = config->notification;
    vm->cpu = &vm->cpus[0];             /* until vm_run, only this thread runs */
    console_init(&vm->console, console_line, vm);
    msr_file_reset(&vm->msrs);
    if (vm->platform->create)
        vm->platform->create(vm);
    enum pith_error err = retype_ram(vm);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_GUEST_SPACE, 0, &vm->space);
    if (!err)
        err = map_ram(vm);
    /* Guest time 0 is now: every vCPU's TSC starts from 0 (dev/lapic.h assumes it). */
    vm->tsc_start = pith_rdtsc();
    for (unsigned i = 0; !err && i < vm->vcpu_count; i++)
        err = create_vcpu(vm, &vm->cpus[i]);
    if (!err && vm->vcpu_count > 1)
        err = pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &vm->lock_notification);
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
    return pith_vcpu_write_state(vm->cpus[0].vcpu, groups, state, sizeof(state) / sizeof(state[0]));
}

bool vm_load(struct vm *vm, const uint8_t *image, uint64_t size)
{
    if (size > vm->ram_size - VM_LOAD_ADDRESS) {
        vm_stop(vm, VM_END_ERROR, "the image (%lu bytes) does not fit in %lu MiB of RAM", size,
                vm->ram_size >> 20);
        return false;
    }
    memcpy(vm->ram + VM_LOAD_ADDRESS, image, size);
    enum pith_error err = enter_protected_mode(vm, VM_LOAD_ADDRESS);
    if (err != PITH_OK)
        vm_stop(vm, VM_END_ERROR, "writing the initial vCPU state: %s", pith_error_name(err));
    return err == PITH_OK;
}
