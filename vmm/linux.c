/* Booting Linux in a PC guest (linux.h). */
#include <pith/printf.h>
#include <pith/string.h>

#include "boot/linux_boot.h"
#include "linux.h"
#include "vm.h"

#define SEG_LDT     0x082
#define SEG_TSS64   0x08b       /* busy 64-bit TSS */

/* Whether the line has a word starting with `key` (e.g. "tsc_early_khz="). */
static bool has_word(const char *line, const char *key)
{
    size_t n = pith_strlen(key);
    for (const char *p = line; *p; p++)
        if ((p == line || p[-1] == ' ') && pith_strncmp(p, key, n) == 0)
            return true;
    return false;
}

void linux_cmdline(const struct vm *vm, const char *configured, char *out, unsigned size)
{
    int n = pith_snprintf(out, size, "%s", configured ? configured : "");
    if (!has_word(out, "tsc_early_khz=") && n >= 0 && (unsigned)n < size)
        n += pith_snprintf(out + n, size - (unsigned)n, "%stsc_early_khz=%lu", n ? " " : "",
                           vm->tsc_hz / 1000);
    if (!has_word(out, "tsc=") && n >= 0 && (unsigned)n < size)
        n += pith_snprintf(out + n, size - (unsigned)n, " tsc=reliable");
    if (!has_word(out, "no_timer_check") && n >= 0 && (unsigned)n < size)
        n += pith_snprintf(out + n, size - (unsigned)n, " no_timer_check");
    if (!has_word(out, "pith.name=") && n >= 0 && (unsigned)n < size)
        pith_snprintf(out + n, size - (unsigned)n, " pith.name=%s", vm->name);
}

/* The loader's segment (VMCS-style access rights) as a pith/vm.h segment word. */
static uint64_t segment_word(const struct linux_segment *s)
{
    uint64_t attributes = (s->attributes & 0xff) | ((s->attributes >> 4) & 0xf00);
    return s->selector | attributes << 16 | (uint64_t)s->limit << 32;
}

static enum pith_error write_entry_state(struct vm *vm, const struct linux_entry_state *e)
{
    uint64_t state[16 + 2 + 6 + 16 + 4] = { 0 };
    uint64_t *gpr = state, *rip = &state[16], *cr = &state[18], *seg = &state[24], *dtr = &state[40];
    gpr[4] = e->rsp;
    gpr[6] = e->rsi;
    rip[0] = e->rip;
    rip[1] = e->rflags;
    cr[0] = e->cr0;
    cr[2] = e->cr3;
    cr[3] = e->cr4;
    cr[4] = e->efer;
    cr[5] = 0x400;                                  /* DR7 at reset */
    for (unsigned i = 0; i < 6; i++) {              /* es cs ss ds fs gs */
        seg[2 * i] = segment_word(&e->ds);
        seg[2 * i + 1] = e->ds.base;
    }
    seg[2] = segment_word(&e->cs);
    seg[3] = e->cs.base;
    seg[12] = 0 | (uint64_t)SEG_LDT << 16 | 0xffffull << 32;
    seg[14] = 0 | (uint64_t)SEG_TSS64 << 16 | 0xffffull << 32;
    dtr[0] = e->gdt_base;
    dtr[1] = e->gdt_limit;
    dtr[2] = 0;
    dtr[3] = 0;
    uint64_t groups = PITH_VM_GROUP_GPR | PITH_VM_GROUP_RIP | PITH_VM_GROUP_CR |
                      PITH_VM_GROUP_SEG | PITH_VM_GROUP_DTR;
    return pith_vcpu_write_state(vm->cpus[0].vcpu, groups, state, sizeof(state) / sizeof(state[0]));
}

bool linux_load(struct vm *vm, const struct linux_guest *g)
{
    static char cmdline[768];      /* the configured 511 characters and what we add */
    struct linux_info info;
    enum linux_error e = linux_parse(g->kernel, g->kernel_size, &info);
    if (e != LINUX_OK) {
        vm_stop(vm, VM_END_ERROR, "the kernel: %s", linux_error_name(e));
        return false;
    }
    linux_cmdline(vm, g->cmdline, cmdline, sizeof(cmdline));
    struct linux_ram_range ram = { 0, vm->ram_size };
    struct linux_boot_request request = {
        .memory = { vm->ram, vm->ram_size },
        .ram = &ram, .ram_count = 1,
        .acpi_base = PC_ACPI_BASE, .acpi_size = vm->pc.acpi.length,
        .rsdp_address = vm->pc.acpi.rsdp,
        .cmdline = cmdline,
        .initrd = g->initrd, .initrd_size = g->initrd ? g->initrd_size : 0,
    };
    struct linux_layout layout;
    e = linux_prepare(&info, &request, &layout);
    if (e == LINUX_ERR_KERNEL_PLACEMENT && vm->ram_size < linux_minimum_memory(&info)) {
        vm_stop(vm, VM_END_ERROR, "the kernel needs at least %lu MiB (loaded at %lu MiB, init_size "
                "%u KiB) but the guest has %lu MiB: give it memory %luM or more",
                linux_minimum_memory(&info) >> 20, info.pref_address >> 20, info.init_size >> 10,
                vm->ram_size >> 20, linux_minimum_memory(&info) >> 20);
        return false;
    }
    if (e != LINUX_OK) {
        vm_stop(vm, VM_END_ERROR, "loading the kernel into %lu MiB: %s", vm->ram_size >> 20,
                linux_error_name(e));
        return false;
    }
    vm_log(vm, "Linux boot protocol %u.%02u, kernel at 0x%lx, initrd %lu bytes at 0x%lx",
           info.version >> 8, info.version & 0xff, layout.kernel_address, layout.initrd_size,
           layout.initrd_address);
    vm_log(vm, "command line: %s", cmdline);
    enum pith_error err = write_entry_state(vm, &layout.entry);
    if (err != PITH_OK)
        vm_stop(vm, VM_END_ERROR, "writing the entry state: %s", pith_error_name(err));
    return err == PITH_OK;
}
