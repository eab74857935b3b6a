/*
 * The flat test guests of guests/tests/ (make test-vmm): each *.bin module in turn on
 * the test platform, then a check of what it did against what the VMM saw.  One
 * `PASS vmm_...` / `FAIL vmm_...: why` line per check, `vmm-svm: N passed, N failed`
 * (vmm-vmx on Intel), and power-off with the verdict.
 */
#include <pith/alloc.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/string.h>

#include "vmm.h"
#include "x86/cpuid.h"

static unsigned passed, failed;

static void check(bool ok, const char *name, const char *why)
{
    if (ok) {
        passed++;
        pith_printf("PASS %s\n", name);
    } else {
        failed++;
        pith_printf("FAIL %s: %s\n", name, why);
    }
}

static bool kernel_has_vcpus(void)
{
    uint64_t slot;
    if (pith_alloc_object(PITH_OBJ_VCPU, 0, &slot) != PITH_OK)
        return false;
    pith_cnode_delete(PITH_SLOT_CNODE, slot);
    pith_alloc_free_slot(slot);
    return true;
}

static bool saw_line(const struct vm *vm, const char *line)
{
    unsigned kept = vm->record.line_count < VM_LINES_KEPT ? vm->record.line_count : VM_LINES_KEPT;
    for (unsigned i = 0; i < kept; i++)
        if (pith_strcmp(vm->record.lines[i], line) == 0)
            return true;
    return false;
}

/* "why" for a check that failed: the guest's own reason to stop comes first. */
static const char *because(const struct vm *vm, const char *otherwise)
{
    return vm->why[0] ? vm->why : otherwise;
}

static void check_verdict(const struct vm *vm, const char *name)
{
    static char why[VM_WHY_MAX + 32];
    if (vm->why[0])
        pith_snprintf(why, sizeof(why), "%s", vm->why);
    else if (!vm->test.testdev.verdict_written)
        pith_snprintf(why, sizeof(why), "the guest stopped without a verdict");
    else
        pith_snprintf(why, sizeof(why), "the guest reported failure (%u)", vm->test.testdev.verdict);
    check(!vm->why[0] && vm->test.testdev.verdict_written && vm->test.testdev.verdict == 0, name, why);
}

static void host_vendor(char vendor[13])
{
    uint32_t r[4];
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(0), "c"(0));
    memcpy(vendor, &r[1], 4);
    memcpy(vendor + 4, &r[3], 4);
    memcpy(vendor + 8, &r[2], 4);
    vendor[12] = 0;
}

/* hello.S does one thing per check, prints a line after it, and fails (verdict 1)
 * when it sees a wrong answer; the checks want both the line and the exits behind it. */
static void check_hello(const struct vm *vm)
{
    const struct vm_record *r = &vm->record;
    char vendor[13], line[64];
    host_vendor(vendor);
    pith_snprintf(line, sizeof(line), "cpu vendor: %s", vendor);

    check(saw_line(vm, "hello from a Pith guest"), "vmm_uart_output",
          because(vm, "no line 'hello from a Pith guest'"));
    check(uart16550_divisor(&vm->uart) == 1 && vm->uart.lcr == 0x03 && vm->uart.scr == 0x5a &&
          saw_line(vm, "uart configured"), "vmm_uart_registers",
          because(vm, "divisor, line control or scratch register not as the guest set them"));
    check((r->cpuid_leaves & 0x100000003ull) == 0x100000003ull && saw_line(vm, line) &&
          saw_line(vm, "hypervisor: " CPUID_SIGNATURE), "vmm_cpuid",
          because(vm, "leaves 0, 1, 0x40000000 not all asked, or the vendor or signature line missing"));
    check(r->tsc_reads > 0 && saw_line(vm, "rdmsr tsc ok"), "vmm_msr_tsc",
          because(vm, "no RDMSR of IA32_TSC, or no 'rdmsr tsc ok'"));
    check(r->gp_injected > 0 && r->last_gp_msr == 0x1337 && saw_line(vm, "rdmsr 0x1337 raised #GP"),
          "vmm_msr_unknown_gp", because(vm, "no #GP for MSR 0x1337 arrived"));
    check(r->mmio_done >= 7 && vm->test.testdev.id_reads > 0 && vm->test.testdev.scratch == 0xcafef00d &&
          saw_line(vm, "mmio test device ok"), "vmm_mmio",
          because(vm, "the test device's registers were not read and written as expected"));
    check(r->injected_at[PITH_EXIT_HLT] > 0 && saw_line(vm, "3 timer interrupts"), "vmm_timer_hlt",
          because(vm, "no timer interrupt woke a HLT"));
    check(r->injected_at[PITH_EXIT_RECALL] > 0 && saw_line(vm, "2 timer interrupts while running"),
          "vmm_timer_recall", because(vm, "no timer interrupt came through a recall"));
    check_verdict(vm, "vmm_guest_verdict");
}

static void report(const struct vm *vm)
{
    const struct vm_record *r = &vm->record;
    pith_printf("vmm: %s stopped: %lu CPUID, %lu IO, %lu MMIO, %lu MSR, %lu HLT, %lu RECALL, "
                "%lu window exits; %lu ticks, %lu recalls\n", vm->name,
                r->exits[PITH_EXIT_CPUID], r->exits[PITH_EXIT_IO], r->exits[PITH_EXIT_MMIO],
                r->exits[PITH_EXIT_MSR_READ] + r->exits[PITH_EXIT_MSR_WRITE], r->exits[PITH_EXIT_HLT],
                r->exits[PITH_EXIT_RECALL], r->exits[PITH_EXIT_INTERRUPT_WINDOW], r->ticks, r->recalls);
}

/* "hello.bin" -> "hello"; false for modules that are not test guests. */
static bool guest_name(const char *module, char *name, size_t size)
{
    size_t n = pith_strlen(module);
    if (n <= 4 || n - 4 >= size || pith_strcmp(module + n - 4, ".bin") != 0)
        return false;
    memcpy(name, module, n - 4);
    name[n - 4] = 0;
    return true;
}

static void run_guest(const struct pith_module_desc *module, pith_cap_t notification)
{
    static char name[48], check_name[64];
    if (!guest_name(module->name, name, sizeof(name)))
        return;
    pith_snprintf(check_name, sizeof(check_name), "vmm_%s_created", name);
    struct vm_config config = { .name = name, .platform = &test_platform, .ram_bytes = VM_TEST_RAM_SIZE,
                                .notification = notification, .tsc_hz = bootinfo->tsc_hz };
    enum pith_error err = vm_create(&guest, &config);
    check(err == PITH_OK, check_name, pith_error_name(err));
    if (err != PITH_OK)
        return;
    pith_printf("vmm: %s: %lu bytes at 0x%lx, %lu MiB of RAM, timer every %u ms\n", name,
                module->size, VM_LOAD_ADDRESS, VM_TEST_RAM_SIZE >> 20, VM_TIMER_PERIOD_MS);
    if (vm_load(&guest, (const uint8_t *)module->vaddr, module->size))
        vm_run(&guest);
    report(&guest);
    if (pith_strcmp(name, "hello") == 0) {
        check_hello(&guest);
    } else {
        pith_snprintf(check_name, sizeof(check_name), "vmm_%s_verdict", name);
        check_verdict(&guest, check_name);
    }
}

int run_test_guests(enum pith_error err)
{
    const char *platform = (bootinfo->cpu_features & PITH_CPU_VMX) ? "vmm-vmx" : "vmm-svm";
    uint64_t notification = 0;
    if (!err)
        err = pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &notification);
    if (!err)
        err = pith_thread_bind_notification(PITH_SLOT_THREAD, notification);
    check(err == PITH_OK, "vmm_setup", pith_error_name(err));
    if (!err && !kernel_has_vcpus())
        check(false, "vmm_backend", "the kernel has no VMX or SVM backend for this CPU");
    else if (!err) {
        unsigned guests = 0;
        for (unsigned i = 0; i < bootinfo->module_count; i++) {
            unsigned before = passed + failed;
            run_guest(&bootinfo->modules[i], notification);
            guests += passed + failed != before;
        }
        check(guests > 0, "vmm_guests_found", "no boot module named *.bin");
    }
    pith_printf("%s: %u passed, %u failed\n", platform, passed, failed);
    pith_poweroff(failed == 0);
    return failed != 0;
}
