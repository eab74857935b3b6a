/* The VMM's pure parts besides the UART and the decoder: CPUID, MSRs, the test
 * device, the periodic timer, console lines, interrupt deliverability. */
#include "unit.h"
#include "lib/console.h"
#include "x86/cpuid.h"
#include "../../vmm/interrupt.h"
#include "x86/msr.h"
#include "dev/testdev.h"
#include "dev/timer.h"

/* A host with every feature bit set, vendor "AuthenticAMD", 0x80000008 extended leaves. */
static void fake_host(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    (void)subleaf;
    out[0] = out[1] = out[2] = out[3] = 0xffffffff;
    if (leaf == 0) {
        out[CPUID_EAX] = 0x10;
        memcpy(&out[CPUID_EBX], "Auth", 4);
        memcpy(&out[CPUID_EDX], "enti", 4);
        memcpy(&out[CPUID_ECX], "cAMD", 4);
    } else if (leaf == 0x80000000) {
        out[CPUID_EAX] = 0x80000008;
    }
}

static void cpuid_identity_and_signature(void)
{
    uint32_t r[4];
    cpuid_guest(fake_host, 0, 0, r);
    CHECK_EQ(r[CPUID_EAX], 1);                      /* fewer basic leaves than the host */
    CHECK(memcmp(&r[CPUID_EBX], "Auth", 4) == 0 && memcmp(&r[CPUID_ECX], "cAMD", 4) == 0);
    cpuid_guest(fake_host, CPUID_HYPERVISOR_LEAF, 0, r);
    char signature[13] = { 0 };
    memcpy(signature, &r[CPUID_EBX], 4);
    memcpy(signature + 4, &r[CPUID_ECX], 4);
    memcpy(signature + 8, &r[CPUID_EDX], 4);
    CHECK(strcmp(signature, CPUID_SIGNATURE) == 0);
    cpuid_guest(fake_host, 7, 0, r);                /* past the last leaf: zeros */
    CHECK_EQ(r[0] | r[1] | r[2] | r[3], 0);
}

/* The ranges the kernel is given cover every leaf once, in order, and the answer is
 * the same at every leaf and subleaf of a range (zero in a gap): sampled at both ends,
 * the middle and pseudo-random leaves. */
static void cpuid_ranges_uniform(void)
{
    struct cpuid_range ranges[CPUID_RANGES];
    unsigned n = cpuid_guest_ranges(ranges);
    const unsigned all = CPUID_EMULATES_APIC | CPUID_EMULATES_MTRR | CPUID_INVARIANT_TSC;
    CHECK(n == CPUID_RANGES);
    uint64_t next = 0, seed = 12345;
    for (unsigned i = 0; i < n && i < CPUID_RANGES; i++) {
        CHECK(ranges[i].first == next && ranges[i].last >= ranges[i].first);
        next = (uint64_t)ranges[i].last + 1;
        uint32_t want[4], got[4];
        cpuid_guest_with(fake_host, all, ranges[i].first, 0, want);
        if (ranges[i].gap)
            CHECK(!want[0] && !want[1] && !want[2] && !want[3]);
        uint32_t span = ranges[i].last - ranges[i].first;
        for (unsigned k = 0; k < 20; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t leaf = k == 0 ? ranges[i].last : k == 1 ? ranges[i].first + span / 2
                                   : ranges[i].first + (uint32_t)((seed >> 32) % ((uint64_t)span + 1));
            cpuid_guest_with(fake_host, all, leaf, k % 3 ? 0 : k, got);
            CHECK(memcmp(want, got, sizeof(want)) == 0);
        }
    }
    CHECK(next == 1ull << 32);
}

static void cpuid_features_filtered(void)
{
    uint32_t r[4];
    cpuid_guest(fake_host, 1, 0, r);
    CHECK(r[CPUID_ECX] & (1u << 31));               /* hypervisor present */
    CHECK(!(r[CPUID_ECX] & (1u << 5)));             /* no VMX */
    CHECK(!(r[CPUID_ECX] & (1u << 21)));            /* no x2APIC */
    CHECK(!(r[CPUID_ECX] & (1u << 26)));            /* no XSAVE */
    CHECK(r[CPUID_EDX] & (1u << 4));                /* TSC */
    CHECK(!(r[CPUID_EDX] & (1u << 9)));             /* no local APIC */
    CHECK(!(r[CPUID_EDX] & (1u << 12)));            /* no MTRRs */
    CHECK_EQ(r[CPUID_EBX] >> 16, 0);                /* APIC ID 0, no logical count */
    cpuid_guest(fake_host, 0x80000001, 0, r);
    CHECK(!(r[CPUID_ECX] & (1u << 2)));             /* no SVM */
    CHECK(r[CPUID_EDX] & (1u << 29));               /* long mode */
    CHECK(!(r[CPUID_EDX] & (1u << 27)));            /* no RDTSCP */
    cpuid_guest(fake_host, 0x80000000, 0, r);
    CHECK_EQ(r[CPUID_EAX], 0x80000008);
}

static void msr_places(void)
{
    struct msr_place p = msr_lookup(MSR_EFER);
    CHECK_EQ(p.kind, MSR_IN_STATE);
    CHECK_EQ(p.group, PITH_VM_GROUP_CR);
    CHECK_EQ(p.word, 4);
    p = msr_lookup(MSR_GS_BASE);
    CHECK_EQ(p.group, PITH_VM_GROUP_SEG);
    CHECK_EQ(p.word, 11);
    CHECK_EQ(msr_lookup(MSR_IA32_PAT).word, 8);
    CHECK_EQ(msr_lookup(MSR_IA32_TSC).kind, MSR_TSC);
    CHECK_EQ(msr_lookup(MSR_IA32_APIC_BASE).kind, MSR_EMULATED);
    CHECK_EQ(msr_lookup(0x1337).kind, MSR_UNKNOWN);
}

static void msr_values(void)
{
    struct msr_file f;
    uint64_t v = 0;
    msr_file_reset(&f);
    CHECK(msr_emulated_read(&f, MSR_IA32_APIC_BASE, &v));
    CHECK_EQ(v, 0xfee00900);
    CHECK(msr_emulated_write(&f, MSR_IA32_APIC_BASE, 0xfec00800));
    CHECK(msr_emulated_read(&f, MSR_IA32_APIC_BASE, &v));
    CHECK_EQ(v, 0xfec00900);                        /* BSP stays */
    CHECK(!msr_emulated_write(&f, MSR_IA32_APIC_BASE, 0xfee00c00));   /* x2APIC */
    CHECK(!msr_emulated_read(&f, 0x1337, &v));
    CHECK(msr_state_write_valid(MSR_EFER, 0xd01));
    CHECK(!msr_state_write_valid(MSR_EFER, 1u << 12));                  /* SVME */
    CHECK(msr_state_write_valid(MSR_IA32_PAT, 0x0007040600070406ull));
    CHECK(!msr_state_write_valid(MSR_IA32_PAT, 0x02));
    CHECK(!msr_state_write_valid(MSR_LSTAR, 0x0000800000000000ull));   /* not canonical */
    CHECK(msr_state_write_valid(MSR_LSTAR, 0xffff800000000000ull));
    CHECK_EQ(msr_tsc_read(1000, msr_tsc_offset_for(1000, 5)), 5);
    CHECK_EQ(msr_tsc_read(1010, msr_tsc_offset_for(1000, 5)), 15);
}

static void testdev_registers(void)
{
    struct testdev t;
    testdev_reset(&t);
    CHECK_EQ(testdev_mmio_read(&t, TESTDEV_REG_ID, 4), TESTDEV_ID);
    CHECK_EQ(testdev_mmio_read(&t, TESTDEV_REG_ID + 1, 1), 'I');
    CHECK_EQ(testdev_mmio_read(&t, TESTDEV_REG_ID + 2, 2), 0x4854);
    CHECK_EQ(testdev_mmio_read(&t, TESTDEV_REG_ID + 3, 2), 0);     /* crosses a register */
    testdev_mmio_write(&t, TESTDEV_REG_SCRATCH, 4, 0x12345678);
    testdev_mmio_write(&t, TESTDEV_REG_SCRATCH + 1, 1, 0xab);
    CHECK_EQ(testdev_mmio_read(&t, TESTDEV_REG_SCRATCH, 4), 0x1234ab78);
    testdev_mmio_write(&t, TESTDEV_REG_ID, 4, 0);                    /* read-only */
    CHECK_EQ(testdev_mmio_read(&t, TESTDEV_REG_ID, 4), TESTDEV_ID);
    CHECK_EQ(testdev_mmio_read(&t, TESTDEV_REG_ACCESSES, 4), 10);
    CHECK_EQ(t.id_reads, 4);                        /* the crossing read is refused */
    CHECK_EQ(t.scratch_writes, 2);
}

static void testdev_verdict(void)
{
    struct testdev t;
    testdev_reset(&t);
    CHECK(!t.verdict_written);
    testdev_port_ops.write(&t, 0, 1, 0x100);        /* one byte: 0 */
    testdev_port_ops.write(&t, 0, 1, 1);            /* later verdicts do not count */
    CHECK(t.verdict_written);
    CHECK_EQ(t.verdict, 0);
    CHECK_EQ(testdev_port_ops.read(&t, 0, 1), 0xff);
}

static void periodic_timer(void)
{
    struct periodic_timer t;
    periodic_start(&t, 1000, 100);
    CHECK_EQ(t.next, 1100);
    CHECK_EQ(periodic_expire(&t, 1099), 0);
    CHECK_EQ(periodic_expire(&t, 1100), 1);
    CHECK_EQ(t.next, 1200);
    CHECK_EQ(periodic_expire(&t, 1450), 3);         /* 1200, 1300, 1400 ended */
    CHECK_EQ(t.next, 1500);
}

static char lines[4][CONSOLE_LINE_MAX + 1];
static unsigned line_count;

static void collect(void *context, const char *line)
{
    (void)context;
    if (line_count < 4)
        strcpy(lines[line_count], line);
    line_count++;
}

static void console_lines(void)
{
    struct console c;
    line_count = 0;
    console_init(&c, collect, NULL);
    for (const char *s = "ab\r\ncd\x01\n"; *s; s++)
        console_put(&c, (uint8_t)*s);
    CHECK_EQ(line_count, 2);
    CHECK(strcmp(lines[0], "ab") == 0);
    CHECK(strcmp(lines[1], "cd?") == 0);
    for (unsigned i = 0; i < CONSOLE_LINE_MAX + 3; i++)
        console_put(&c, 'x');
    CHECK_EQ(line_count, 3);                        /* a full buffer goes out */
    CHECK_EQ(strlen(lines[2]), CONSOLE_LINE_MAX);
    console_flush(&c);
    CHECK_EQ(line_count, 4);
    CHECK(strcmp(lines[3], "xxx") == 0);
    console_flush(&c);
    CHECK_EQ(line_count, 4);
}

static void interrupt_rules(void)
{
    CHECK(interrupt_deliverable(RFLAGS_IF, 0, 0));
    CHECK(!interrupt_deliverable(0, 0, 0));
    CHECK(!interrupt_deliverable(RFLAGS_IF, INTERRUPT_SHADOW, 0));
    CHECK(!interrupt_deliverable(RFLAGS_IF, 0, PITH_VM_EVENT_VALID | 14));
    CHECK_EQ(interrupt_event(0x20), PITH_VM_EVENT_VALID | 0x20);
    CHECK_EQ(exception_event(13, true),
             PITH_VM_EVENT_VALID | PITH_VM_EVENT_EXCEPTION | PITH_VM_EVENT_ERROR_CODE | 13);
}

UNIT_TABLE(vmm,
    { "vmm_cpuid_identity_signature", cpuid_identity_and_signature },
    { "vmm_cpuid_features_filtered", cpuid_features_filtered },
    { "vmm_cpuid_ranges_uniform", cpuid_ranges_uniform },
    { "vmm_msr_places", msr_places },
    { "vmm_msr_values", msr_values },
    { "vmm_testdev_registers", testdev_registers },
    { "vmm_testdev_verdict", testdev_verdict },
    { "vmm_periodic_timer", periodic_timer },
    { "vmm_console_lines", console_lines },
    { "vmm_interrupt_rules", interrupt_rules },
)
