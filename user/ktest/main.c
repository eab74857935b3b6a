/*
 * Test root task: sets up an allocator over the largest untyped, runs every group,
 * prints the summary line named after the platform (svm under QEMU, vmx under
 * Bochs), and powers the machine off with the verdict.  With more than one CPU it
 * also runs the smp_ group and reports it on a line of its own, `smp-svm: N passed,
 * N failed` (counted in the main line too); with one CPU that group is not run.
 * The verdict: QEMU's isa-debug-exit gets 0
 * for pass and 1 for fail; Bochs's port 0x8900 gets "Shutdown" for pass and 'D'
 * (enter the debugger, which the runner tells to quit) for fail.
 */
#include "ktest.h"

const struct pith_bootinfo *kt_bootinfo;

static const struct { const struct pith_test *tests; const unsigned *count; } groups[] = {
    { untyped_tests, &untyped_count },
    { cnode_tests, &cnode_count },
    { vspace_tests, &vspace_count },
    { thread_tests, &thread_count },
    { ipc_tests, &ipc_count },
    { notification_tests, &notification_count },
    { fault_tests, &fault_count },
    { device_tests, &device_count },
    { badargs_tests, &badargs_count },
    { process_tests, &process_count },
    { vm_tests, &vm_count },
    { vm2_tests, &vm2_count },
};

static bool setup(void)
{
    enum pith_error err = kt_setup(KT_ROOT_PRIORITY);
    if (err != PITH_OK)
        pith_printf("ktest: setup failed: %s\n", pith_error_name(err));
    return err == PITH_OK;
}

/* The vm_ group needs a virtualization backend in the kernel (SVM or VMX). */
static bool kernel_has_vcpus(void)
{
    uint64_t slot = 0;
    if (pith_alloc_object(PITH_OBJ_VCPU, 0, &slot) != PITH_OK)
        return false;
    kt_delete(slot);
    return true;
}

int main(void *arg)
{
    kt_bootinfo = arg;
    if (kt_bootinfo->extra_count && pith_strcmp(kt_bootinfo->cmdline, "child") == 0) {
        pith_root_init(kt_bootinfo, 0x40000000, 0x80000000);
        return kt_child_main(kt_bootinfo);
    }
    const char *platform = (kt_bootinfo->cpu_features & PITH_CPU_VMX) ? "vmx" : "svm";
    if (!setup()) {
        pith_printf("%s: 0 passed, 1 failed\n", platform);
        pith_poweroff(false);
        return 1;
    }
    unsigned passed = 0, failed = 0;
    bool vcpus = kernel_has_vcpus();
    if (!vcpus)
        pith_printf("ktest: this kernel has no VMX/SVM backend for this CPU: the vm_ group is not run\n");
    for (unsigned g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        if ((groups[g].tests == vm_tests || groups[g].tests == vm2_tests) && !vcpus)
            continue;
        unsigned p = 0, f = 0;
        pith_run_tests(groups[g].tests, *groups[g].count, NULL, &p, &f);
        passed += p;
        failed += f;
    }
    if (kt_bootinfo->cpu_count > 1) {
        unsigned p = 0, f = 0;
        pith_run_tests(smp_tests, smp_count, NULL, &p, &f);
        /* smp-svm with two CPUs, smp4-svm with four: each suite's line its own */
        if (kt_bootinfo->cpu_count == 2)
            pith_printf("smp-%s: %u passed, %u failed\n", platform, p, f);
        else
            pith_printf("smp%lu-%s: %u passed, %u failed\n", kt_bootinfo->cpu_count, platform, p, f);
        passed += p;
        failed += f;
    }
    pith_printf("%s: %u passed, %u failed\n", platform, passed, failed);
    pith_poweroff(failed == 0);
    return failed != 0;
}
