/* Booting a multiboot kernel in a PC guest (multiboot_guest.h). */
#include <pith/printf.h>
#include <pith/string.h>

#include "multiboot_guest.h"
#include "vm.h"

#define SEG_CODE32  0xc9b       /* G, D, present, code execute/read, accessed */
#define SEG_DATA32  0xc93       /* G, B, present, data read/write, accessed */
#define SEG_LDT     0x082
#define SEG_TSS32   0x08b
#define CR0_PE      (1ull << 0)
#define CR0_ET      (1ull << 4)
#define CR0_NE      (1ull << 5)

static uint64_t segment(uint16_t selector, uint16_t attributes, uint32_t limit)
{
    return selector | (uint64_t)attributes << 16 | (uint64_t)limit << 32;
}

/* Multiboot §3.2 / Multiboot2 §3.3 "I386 machine state": EAX the magic, EBX the
 * information, CS and the data segments flat 4 GiB, CR0.PE set and PG clear, EFLAGS
 * with IF and VM clear; GDTR and IDTR are the kernel's to load. */
static enum pith_error write_entry_state(struct vm *vm, const struct multiboot_boot *b)
{
    uint64_t state[16 + 2 + 6 + 16 + 4] = { 0 };
    uint64_t *gpr = state, *rip = &state[16], *cr = &state[18], *seg = &state[24], *dtr = &state[40];
    gpr[VM_RAX] = b->eax;
    gpr[VM_RBX] = b->ebx;
    rip[0] = b->entry;
    rip[1] = 2;
    cr[0] = CR0_PE | CR0_ET | CR0_NE;
    cr[5] = 0x400;
    for (unsigned i = 0; i < 6; i++)
        seg[2 * i] = segment(0x10, SEG_DATA32, 0xffffffff);
    seg[2] = segment(0x08, SEG_CODE32, 0xffffffff);
    seg[12] = segment(0, SEG_LDT, 0xffff);
    seg[14] = segment(0, SEG_TSS32, 0xffff);
    dtr[1] = dtr[3] = 0xffff;
    uint64_t groups = PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP | PITH_VM_GROUP_CR |
                      PITH_VM_GROUP_SEG | PITH_VM_GROUP_DTR;
    return pith_vcpu_write_state(vm->cpus[0].vcpu, groups, state, sizeof(state) / sizeof(state[0]));
}

bool multiboot_guest_load(struct vm *vm, const struct multiboot_guest *g)
{
    /* The PC's map, as the Linux loader's e820 has it: conventional memory, the BIOS
     * hole with the ACPI tables, RAM from 1 MiB. */
    struct multiboot_map_entry map[] = {
        { 0, 0x9fc00, 1 },
        { 0x9fc00, PC_ACPI_BASE - 0x9fc00, 2 },
        { PC_ACPI_BASE, PC_ACPI_SIZE, 3 },
        { PC_ACPI_BASE + PC_ACPI_SIZE, 0x100000 - PC_ACPI_BASE - PC_ACPI_SIZE, 2 },
        { 0x100000, vm->ram_size - 0x100000, 1 },
    };
    const void *rsdp = vm->pc.acpi.rsdp ? vm->ram + vm->pc.acpi.rsdp : NULL;
    struct multiboot_request r = {
        .image = g->kernel, .image_size = g->kernel_size,
        .map = map, .map_count = sizeof(map) / sizeof(map[0]),
        .cmdline = g->cmdline ? g->cmdline : "",
        .modules = g->modules, .module_count = g->module_count,
        .loader_name = "Pith",
        .rsdp = rsdp, .rsdp_size = rsdp ? 36 : 0,
    };
    struct multiboot_boot b;
    enum multiboot_error e = multiboot_load(&r, (struct multiboot_memory){ vm->ram, vm->ram_size }, &b);
    if (e != MULTIBOOT_OK) {
        vm_stop(vm, VM_END_ERROR, "the multiboot kernel: %s", multiboot_error_name(e));
        return false;
    }
    vm_log(vm, "multiboot v%u (%s), kernel at 0x%lx-0x%lx, entry 0x%x, %u module%s, information at 0x%lx",
           b.version, b.aout_kludge ? "address fields" : "ELF", b.load_start, b.load_end, b.entry,
           g->module_count, g->module_count == 1 ? "" : "s", b.info_address);
    enum pith_error err = write_entry_state(vm, &b);
    if (err != PITH_OK)
        vm_stop(vm, VM_END_ERROR, "writing the entry state: %s", pith_error_name(err));
    return err == PITH_OK;
}
