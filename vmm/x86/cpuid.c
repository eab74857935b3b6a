/* The guest's CPUID (cpuid.h).  Bit names: SDM Vol. 2, CPUID, Tables 3-10 and 3-11;
 * AMD APM Vol. 3, appendix E. */
#include "cpuid.h"

#define BIT(n) (1u << (n))

/* Leaf 1 ECX: SSE3, PCLMULQDQ, SSSE3, CMPXCHG16B, SSE4.1, SSE4.2, MOVBE, POPCNT,
 * AES, RDRAND.  Gone: MONITOR, VMX, SMX, speed/thermal control, PDCM, PCID, x2APIC,
 * TSC deadline, XSAVE/OSXSAVE and the AVX family that depends on it. */
#define LEAF1_ECX_KEEP (BIT(0) | BIT(1) | BIT(9) | BIT(13) | BIT(19) | BIT(20) | BIT(22) | \
                        BIT(23) | BIT(25) | BIT(30))
#define LEAF1_ECX_HYPERVISOR BIT(31)

/* Leaf 1 EDX: FPU, VME, DE, PSE, TSC, MSR, PAE, CX8, SEP, PGE, CMOV, PAT, PSE-36,
 * CLFSH, MMX, FXSR, SSE, SSE2.  Gone: MCE, APIC, MTRR, MCA, PSN, DS, ACPI, SS, HTT,
 * TM, PBE. */
#define LEAF1_EDX_KEEP (BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | \
                        BIT(8) | BIT(11) | BIT(13) | BIT(15) | BIT(16) | BIT(17) | \
                        BIT(19) | BIT(23) | BIT(24) | BIT(25) | BIT(26))

/* Leaf 0x80000001 ECX: LAHF/SAHF, LZCNT, SSE4A, PREFETCHW (SVM and the rest gone).
 * EDX: the leaf-1 bits AMD repeats, SYSCALL, NX, long mode (no 1 GiB pages, no
 * RDTSCP: its TSC_AUX MSR is not emulated). */
#define EXT1_ECX_KEEP (BIT(0) | BIT(5) | BIT(6) | BIT(8))
#define EXT1_EDX_KEEP (BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(5) | BIT(6) | \
                       BIT(8) | BIT(11) | BIT(13) | BIT(15) | BIT(16) | BIT(17) | \
                       BIT(20) | BIT(23) | BIT(24) | BIT(29))

#define MAX_BASIC_LEAF    1u
#define MAX_EXTENDED_LEAF 0x80000008u

/* Every leaf the switch of cpuid_guest_with names, in order. */
static const uint32_t named_leaves[] = {
    0, 1, CPUID_HYPERVISOR_LEAF, 0x80000000u, 0x80000001u, 0x80000002u, 0x80000003u,
    0x80000004u, 0x80000005u, 0x80000006u, 0x80000007u, 0x80000008u,
};

unsigned cpuid_guest_ranges(struct cpuid_range out[CPUID_RANGES])
{
    unsigned n = 0;
    uint64_t next = 0;              /* the first leaf not yet covered */
    for (unsigned i = 0; i < sizeof(named_leaves) / sizeof(named_leaves[0]); i++) {
        uint32_t leaf = named_leaves[i];
        if (leaf > next)
            out[n++] = (struct cpuid_range){ (uint32_t)next, leaf - 1, true };
        out[n++] = (struct cpuid_range){ leaf, leaf, false };
        next = (uint64_t)leaf + 1;
    }
    if (next <= 0xffffffffu)
        out[n++] = (struct cpuid_range){ (uint32_t)next, 0xffffffffu, true };
    return n;
}

static uint32_t signature_word(unsigned i)
{
    const char *s = CPUID_SIGNATURE;
    return (uint32_t)(uint8_t)s[4 * i] | (uint32_t)(uint8_t)s[4 * i + 1] << 8 |
           (uint32_t)(uint8_t)s[4 * i + 2] << 16 | (uint32_t)(uint8_t)s[4 * i + 3] << 24;
}

static void clear(uint32_t out[4])
{
    out[0] = out[1] = out[2] = out[3] = 0;
}

void cpuid_guest(cpuid_host_fn *host, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    cpuid_guest_with(host, 0, leaf, subleaf, out);
}

void cpuid_guest_with(cpuid_host_fn *host, unsigned emulated, uint32_t leaf, uint32_t subleaf,
                      uint32_t out[4])
{
    uint32_t h[4];
    clear(out);
    if (leaf > 0x80000000u && leaf <= MAX_EXTENDED_LEAF) {
        host(0x80000000u, 0, h);
        if (leaf > h[CPUID_EAX])    /* the host has no such leaf either */
            return;
    }
    switch (leaf) {
    case 0:                         /* the host's vendor, fewer leaves */
        host(0, 0, h);
        out[CPUID_EAX] = h[CPUID_EAX] < MAX_BASIC_LEAF ? h[CPUID_EAX] : MAX_BASIC_LEAF;
        out[CPUID_EBX] = h[CPUID_EBX];
        out[CPUID_ECX] = h[CPUID_ECX];
        out[CPUID_EDX] = h[CPUID_EDX];
        break;
    case 1:
        host(1, 0, h);
        out[CPUID_EAX] = h[CPUID_EAX];               /* family, model, stepping */
        out[CPUID_EBX] = h[CPUID_EBX] & 0xffff;      /* brand index, CLFLUSH size; APIC ID 0 */
        out[CPUID_ECX] = (h[CPUID_ECX] & LEAF1_ECX_KEEP) | LEAF1_ECX_HYPERVISOR;
        out[CPUID_EDX] = h[CPUID_EDX] & LEAF1_EDX_KEEP;
        if (emulated & CPUID_EMULATES_APIC) {
            out[CPUID_EDX] |= BIT(9);
            out[CPUID_ECX] |= BIT(24);
        }
        if (emulated & CPUID_EMULATES_MTRR)
            out[CPUID_EDX] |= BIT(12);
        break;
    case CPUID_HYPERVISOR_LEAF:
        out[CPUID_EAX] = CPUID_HYPERVISOR_LEAF;     /* the highest hypervisor leaf */
        out[CPUID_EBX] = signature_word(0);
        out[CPUID_ECX] = signature_word(1);
        out[CPUID_EDX] = signature_word(2);
        break;
    case 0x80000000:
        host(0x80000000, 0, h);
        out[CPUID_EAX] = h[CPUID_EAX] < MAX_EXTENDED_LEAF ? h[CPUID_EAX] : MAX_EXTENDED_LEAF;
        out[CPUID_EBX] = h[CPUID_EBX];
        out[CPUID_ECX] = h[CPUID_ECX];
        out[CPUID_EDX] = h[CPUID_EDX];
        break;
    case 0x80000001:
        host(0x80000001, 0, h);
        out[CPUID_EAX] = h[CPUID_EAX];
        out[CPUID_ECX] = h[CPUID_ECX] & EXT1_ECX_KEEP;
        out[CPUID_EDX] = h[CPUID_EDX] & EXT1_EDX_KEEP;
        break;
    case 0x80000002: case 0x80000003: case 0x80000004:   /* the brand string */
        host(leaf, subleaf, out);
        break;
    case 0x80000007:                /* power management: only the invariant TSC */
        host(0x80000007, 0, h);
        if (emulated & CPUID_INVARIANT_TSC)
            out[CPUID_EDX] = h[CPUID_EDX] & BIT(8);
        break;
    case 0x80000008:                /* physical and linear address sizes only */
        host(0x80000008, 0, h);
        out[CPUID_EAX] = h[CPUID_EAX] & 0xffff;
        break;
    default:
        break;
    }
}
