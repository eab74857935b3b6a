/*
 * What CPUID tells the guest: the host's identity and a whitelist of the host's
 * features that need nothing from the VMM (instructions that run natively), minus
 * everything this VMM does not emulate (local APIC, MTRRs, machine checks, XSAVE,
 * nested virtualization, performance monitoring ...), plus the hypervisor bit and a
 * hypervisor leaf with the signature "PithPithPith" (the convention KVM, Xen and
 * Hyper-V share: leaf 0x40000000, signature in ebx, ecx, edx).  Leaves past the
 * supported ones read as zero.  Pure: the host's CPUID is a callback.
 */
#ifndef VMM_CPUID_H
#define VMM_CPUID_H

#include <stdbool.h>
#include <stdint.h>

#define CPUID_HYPERVISOR_LEAF   0x40000000u
#define CPUID_SIGNATURE         "PithPithPith"

enum { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };

/* Runs CPUID on the host. */
typedef void cpuid_host_fn(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/* The guest's answer to CPUID(leaf, subleaf): eax, ebx, ecx, edx. */
void cpuid_guest(cpuid_host_fn *host, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/* What a platform adds to the whitelist because the VMM emulates it. */
#define CPUID_EMULATES_APIC     (1u << 0)   /* local APIC (leaf 1 EDX.9) with TSC deadline (ECX.24) */
#define CPUID_EMULATES_MTRR     (1u << 1)   /* MTRRs without ranges (leaf 1 EDX.12) */
#define CPUID_INVARIANT_TSC     (1u << 2)   /* the host's invariant TSC (0x80000007 EDX.8) */

void cpuid_guest_with(cpuid_host_fn *host, unsigned emulated, uint32_t leaf, uint32_t subleaf,
                      uint32_t out[4]);

/* The leaves cpuid_guest_with answers, in ranges over which its answer is the same
 * whatever the leaf or subleaf: each leaf it names alone, and the gaps between them,
 * which read as zero (ranges[i].gap).  Together they cover every leaf, in order; the
 * count (CPUID_RANGES). */
struct cpuid_range {
    uint32_t first, last;
    bool gap;
};
#define CPUID_RANGES 15
unsigned cpuid_guest_ranges(struct cpuid_range out[CPUID_RANGES]);

#endif
