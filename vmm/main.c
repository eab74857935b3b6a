/*
 * The VMM's start: one program, three ways to run.
 *
 *   A child of the root task with an argument block (include/pith/guest.h): the block
 *   is one guest of the system configuration (docs/config.md); the VMM builds that
 *   guest from the modules it names -- a Linux bzImage, a multiboot kernel or firmware
 *   (SeaBIOS with IDE disks) on the PC platform (pc.h), or a flat test image -- runs
 *   it, and reports PITH_GUEST_STOPPED on the root endpoint.
 *   Guest output goes to the console server.  (run_configured.c)
 *
 *   The root task with a module named "vmlinuz" (make test-linux): the same for a
 *   built-in guest (128 MiB, initrd.img if present, a command line with pith.test=1),
 *   or for the guest described by a module named "guest.conf"; then it powers the
 *   machine off, with a pass verdict when the guest powered itself off.
 *   (run_configured.c)
 *
 *   The root task with modules named *.bin (make test-vmm): each flat test guest of
 *   guests/tests/ in turn, a check of what it did against what the VMM saw, one
 *   `PASS vmm_...` / `FAIL vmm_...: why` line per check and `vmm-svm: N passed, N failed`
 *   (vmm-vmx on Intel), and power-off with the verdict (pith_poweroff: QEMU's
 *   isa-debug-exit, Bochs's shutdown port), as the kernel tests do.  (run_tests.c)
 */
#include <pith/pith.h>
#include <pith/string.h>

#include "vmm.h"

const struct pith_bootinfo *bootinfo;
struct vm guest;

const struct pith_module_desc *module_named(const char *name)
{
    for (unsigned i = 0; i < bootinfo->module_count; i++)
        if (name[0] && pith_strcmp(bootinfo->modules[i].name, name) == 0)
            return &bootinfo->modules[i];
    return NULL;
}

int main(void *arg)
{
    bootinfo = arg;
    enum pith_error err = pith_root_init(bootinfo, 0x10000000, 0x20000000);
    if (!err && (bootinfo->args_size || module_named("vmlinuz")))
        return run_configured_guest();
    return run_test_guests(err);
}
