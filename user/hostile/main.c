/*
 * Hostile-suite root task: the same set-up as the kernel test suite, then every
 * attack group; the verdict goes to the emulator like ktest's.
 */
#include "hostile.h"

const struct pith_bootinfo *kt_bootinfo;

static const struct { const struct pith_test *tests; const unsigned *count; bool vm; } groups[] = {
    { lifetime_tests, &lifetime_count, false },
    { entry_tests, &entry_count, false },
    { hvm_tests, &hvm_count, true },
    { mapping_tests, &mapping_count, false },
};

static bool setup(void)
{
    enum pith_error err = kt_setup(KT_ROOT_PRIORITY);
    if (err != PITH_OK)
        pith_printf("hostile: setup failed: %s\n", pith_error_name(err));
    return err == PITH_OK;
}

int main(void *arg)
{
    kt_bootinfo = arg;
    const char *platform = (kt_bootinfo->cpu_features & PITH_CPU_VMX) ? "hostile-vmx" : "hostile-svm";
    if (!setup()) {
        pith_printf("%s: 0 passed, 1 failed\n", platform);
        pith_poweroff(false);
        return 1;
    }
    unsigned passed = 0, failed = 0;
    for (unsigned g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        unsigned p = 0, f = 0;
        pith_run_tests(groups[g].tests, *groups[g].count, NULL, &p, &f);
        passed += p;
        failed += f;
    }
    pith_printf("%s: %u passed, %u failed\n", platform, passed, failed);
    pith_poweroff(failed == 0);
    return failed != 0;
}
