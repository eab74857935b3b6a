/*
 * The VMM's start (main.c) and its two ways to run: a guest of the system
 * configuration (run_configured.c) or the flat test guests with their checks
 * (run_tests.c).  The VMM keeps one guest at a time.
 */
#ifndef VMM_VMM_H
#define VMM_VMM_H

#include <stddef.h>

#include <pith/root.h>

#include "vm.h"

extern const struct pith_bootinfo *bootinfo;
extern struct vm guest;

/* The boot module of that name, or NULL (also for the empty name). */
const struct pith_module_desc *module_named(const char *name);

/* A guest of the configuration in an argument block, a guest.conf module, or the
 * built-in Linux guest; reports its end to the root task or powers the machine off.
 * Returns main's status. */
int run_configured_guest(void);

/* Every *.bin module as a flat test guest, the checks, the summary line and the
 * power-off (make test-vmm); setup: how the VMM's own setup went.  Returns main's
 * status. */
int run_test_guests(enum pith_error setup);

#endif
