/* Helpers for root tasks: what every program started by the kernel does first and last. */
#ifndef PITH_ROOT_H
#define PITH_ROOT_H

#include <stdbool.h>
#include "pith/abi.h"

/* Point the runtime at the root task's IPC buffer and start the allocator (pith/alloc.h)
 * over the RAM untyped, largest first, with its heap in [heap_start, heap_end). */
enum pith_error pith_root_init(const struct pith_bootinfo *bi, uint64_t heap_start, uint64_t heap_end);

/* Power the machine off with a verdict: QEMU's isa-debug-exit (port 0xf4) gets 0 for
 * pass and 1 for fail; Bochs's port 0x8900 gets "Shutdown" for pass and 'D' (stop in
 * the debugger, which tools/run-bochs.sh reads as fail) for fail.  Needs the I/O-port
 * control capability in its boot slot. */
void pith_poweroff(bool pass);

#endif
