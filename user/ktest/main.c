/*
 * Test root task: sets up an allocator over the largest untyped, runs every group,
 * prints the summary line named after the platform (svm under QEMU, vmx under
 * Bochs), and powers the machine off with the verdict: QEMU's isa-debug-exit gets 0
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
    { vm_tests, &vm_count },
};

static void poweroff(bool pass)
{
    const uint16_t ports[] = { 0xf4, 0x8900 };
    for (unsigned i = 0; i < 2; i++) {
        pith_cap_t slot = kt_slot();
        pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, ports[i], ports[i], slot);
        pith_ioport_allow(slot, KT_SPACE);
    }
    pith_outb(0xf4, pass ? 0 : 1);             /* QEMU exits here */
    if (!pass) {
        pith_outb(0x8900, 'D');                 /* Bochs: stop in the debugger (tools/run-bochs.sh) */
        return;
    }
    for (const char *s = "Shutdown"; *s; s++)
        pith_outb(0x8900, (uint8_t)*s);
}

static bool setup(void)
{
    const struct pith_bootinfo *bi = kt_bootinfo;
    unsigned largest = 0;
    for (unsigned i = 0; i < bi->untyped_count; i++)
        if (!bi->untyped[i].is_device &&
            (bi->untyped[largest].is_device || bi->untyped[i].size_bits > bi->untyped[largest].size_bits))
            largest = i;
    struct pith_alloc_config config = {
        .untyped = bi->untyped_first_slot + largest,
        .untyped_size_bits = bi->untyped[largest].size_bits,
        .cnode = KT_CNODE, .address_space = KT_SPACE,
        .first_free_slot = bi->first_free_slot, .end_slot = 1ull << bi->cnode_size_bits,
        .heap_start = 0x40000000, .heap_end = 0x80000000,
    };
    enum pith_error err = pith_alloc_init(&config);
    if (err == PITH_OK)
        err = pith_thread_set_priority(KT_SELF, KT_ROOT_PRIORITY);
    if (err == PITH_OK)
        err = pith_alloc_object(PITH_OBJ_ENDPOINT, 0, &kt_graveyard);
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
    pith_set_ipc_buffer((struct pith_ipc_buffer *)kt_bootinfo->ipc_buffer);
    const char *platform = (kt_bootinfo->cpu_features & PITH_CPU_VMX) ? "vmx" : "svm";
    if (!setup()) {
        pith_printf("%s: 0 passed, 1 failed\n", platform);
        poweroff(false);
        return 1;
    }
    unsigned passed = 0, failed = 0;
    bool vcpus = kernel_has_vcpus();
    if (!vcpus)
        pith_printf("ktest: this kernel has no VMX/SVM backend for this CPU: the vm_ group is not run\n");
    for (unsigned g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        if (groups[g].tests == vm_tests && !vcpus)
            continue;
        unsigned p = 0, f = 0;
        pith_run_tests(groups[g].tests, *groups[g].count, NULL, &p, &f);
        passed += p;
        failed += f;
    }
    pith_printf("%s: %u passed, %u failed\n", platform, passed, failed);
    poweroff(failed == 0);
    return failed != 0;
}
