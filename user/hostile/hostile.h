/*
 * The hostile suite: a root task that attacks the kernel the way an unprivileged task,
 * a hostile VMM or a hostile guest would, and asserts each attack is refused and
 * leaves the kernel intact.  It reuses the kernel test suite's helpers (ktest.h:
 * objects, slots, threads, the small VMM of vm.h).  One file per class of attack:
 *   h_lifetime.c  object lifetime: derivation depth, deep CNode chains, retype over
 *                 live objects, destruction under bound threads and running vCPUs,
 *                 preemptible revoke
 *   h_entry.c     kernel entry and exit: DF, SYSRET/IRETQ to non-canonical addresses,
 *                 user RSP, registers a thread may set, SMEP/SMAP, kernel console
 *   h_vm.c        the world switch: debug/FPU/XSAVE state across guests, validation
 *                 of VMM-written state, injection, host MSRs
 *   h_mapping.c   mappings: pieces of 2 MiB frames at and past their ends, held by one
 *                 capability, gone with it from address and guest spaces
 * main.c prints `hostile-svm: N passed, N failed` (QEMU) or `hostile-vmx: ...` (Bochs).
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include "../ktest/ktest.h"

KT_GROUP(lifetime)
KT_GROUP(entry)
KT_GROUP(hvm)
KT_GROUP(mapping)

#endif
