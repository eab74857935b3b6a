/*
 * The guests of the VM-exit benchmarks: real-mode code run at 0:1000.  Pith's
 * benchmark (user/bench/vm.c) and the Linux KVM peer (tools/bench/kvm_exit.c) both
 * include this file, so the two run the very same bytes.  Plain C, no Pith headers.
 */
#ifndef BENCH_GUESTS_H
#define BENCH_GUESTS_H

#include <stdint.h>

#define GUEST_CODE_GPA  0x1000u
#define GUEST_IO_PORT   0x80u

/* Every iteration is one port write: the exit goes to the VMM (Pith) or to user space
 * (KVM_EXIT_IO), which resumes the guest after the instruction. */
static const uint8_t guest_io_loop[] = {
    0xe6, 0x80,                     /* 1000: out 0x80, al */
    0xeb, 0xfc,                     /* 1002: jmp 1000 */
};

/* The port-write loop with time stamps, for the split of a round trip: the guest
 * stores the low half of its TSC before the port write and after it, at 0x1800 and
 * 0x1804 (its TSC is the host's: no offset, RDTSC not intercepted). */
#define GUEST_STAMP_BEFORE 0x800u       /* offsets in the code page */
#define GUEST_STAMP_AFTER  0x804u
static const uint8_t guest_io_stamped_loop[] = {
    0x0f, 0x31,                     /* 1000: rdtsc */
    0x66, 0xa3, 0x00, 0x18,         /* 1002: mov [0x1800], eax */
    0xe6, 0x80,                     /* 1006: out 0x80, al */
    0x0f, 0x31,                     /* 1008: rdtsc */
    0x66, 0xa3, 0x04, 0x18,         /* 100a: mov [0x1804], eax */
    0xeb, 0xf0,                     /* 100e: jmp 1000 */
};

/* Exits per measurement: GUEST_WINDOWS windows of GUEST_WINDOW_EXITS exits, after one
 * window of warm-up.  Under -icount the figure is the average over all of them; in
 * wall-clock time it is the best window's average: the host is shared, and a window
 * (a few ms) often runs without QEMU being descheduled, 20000 exits never do. */
#define GUEST_WINDOW_EXITS 100u
#define GUEST_WINDOWS      200u
#define GUEST_EXITS        (GUEST_WINDOWS * GUEST_WINDOW_EXITS)

/* CPUID in batches of GUEST_CPUID_BATCH (one window), then one port write.  Linux
 * handles CPUID inside the kernel, so user space sees only the port write that ends a
 * batch: the per-CPUID figure is a batch's time over GUEST_CPUID_BATCH on both sides
 * (the port write is 1 % of a batch's exits). */
#define GUEST_CPUID_BATCH GUEST_WINDOW_EXITS
static const uint8_t guest_cpuid_loop[] = {
    0xbe, GUEST_CPUID_BATCH & 0xff, GUEST_CPUID_BATCH >> 8,
                                    /* 1000: mov si, GUEST_CPUID_BATCH */
    0x66, 0x31, 0xc0,               /* 1003: xor eax, eax (leaf 0) */
    0x0f, 0xa2,                     /* 1006: cpuid */
    0x4e,                           /* 1008: dec si */
    0x75, 0xf8,                     /* 1009: jnz 1003 */
    0xe6, 0x80,                     /* 100b: out 0x80, al */
    0xeb, 0xf1,                     /* 100d: jmp 1000 */
};

#endif
