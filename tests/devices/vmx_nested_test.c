/* Virtual VMX's rules: the capability MSRs and CPUID, the VMCS12 layout and
 * VMREAD/VMWRITE widths, the VMX instructions' outcomes, the VM-entry checks one by
 * one, and which exits of L2 L1 asked for. */
#include "harness.h"
#include "x86/vmx_nested.h"

#define PHYS_BITS       40
#define CR4_SUPPORTED   0x3606ffull     /* VME..PGE, OSFXSR, OSXMMEXCPT, PCIDE, OSXSAVE, SMEP, SMAP */

static struct vmx_nested_caps caps;
static uint8_t vmcs[VMX_VMCS_SIZE];

/* Guest RAM for regions and bitmaps: 64 KiB, everything above reads as "not RAM". */
static unsigned char mem[0x10000];
static struct test_ram ram __attribute__((unused)) = { mem, sizeof(mem) };

static void put32(uint64_t address, uint32_t v)
{
    memcpy(mem + address, &v, 4);
}

static void setup(void)
{
    vmx_nested_caps_init(&caps, PHYS_BITS, CR4_SUPPORTED, true);
    memset(mem, 0, sizeof(mem));
}

/* ---- Capability ------------------------------------------------------------------------ */

static uint64_t msr(uint32_t index)
{
    uint64_t v = 0xdeadbeef;
    CHECK_EQ(vmx_nested_msr_read(&caps, index, &v), VMX_MSR_DONE);
    return v;
}

/* Every control word is coherent: whatever must be 1 may be 1. */
static void check_coherent(uint64_t ctls)
{
    CHECK_EQ(vmx_ctls_must_be_1(ctls) & ~vmx_ctls_may_be_1(ctls), 0);
}

static void test_caps_basic_and_misc(void)
{
    setup();
    uint64_t basic = msr(MSR_IA32_VMX_BASIC);
    CHECK_EQ(basic & 0x7fffffff, VMX_NESTED_REVISION);
    CHECK_EQ(basic & (1ull << 31), 0);
    CHECK_EQ((basic >> 32) & 0x1fff, 4096);             /* region size */
    CHECK_EQ((basic >> 50) & 0xf, 6);                   /* write-back */
    CHECK(basic & VMX_BASIC_TRUE_CONTROLS);
    CHECK_EQ(basic & (1ull << 48), 0);                  /* no 32-bit address limit */
    CHECK_EQ(basic & (VMX_BASIC_INOUT | (1ull << 49) | (1ull << 56)), 0);
    CHECK_EQ(msr(0x3a), 5);         /* locked, VMX outside SMX */
    uint64_t misc = msr(MSR_IA32_VMX_MISC);
    CHECK_EQ(misc & 0x1f, 0);                           /* no preemption timer rate */
    CHECK(misc & VMX_MISC_ACTIVITY_HLT);
    CHECK_EQ(misc & (3ull << 7), 0);                    /* no shutdown, no wait-for-SIPI */
    CHECK_EQ((misc >> 16) & 0x1ff, 4);
    CHECK_EQ((misc >> 25) & 7, 0);                      /* 512 MSRs per list */
    CHECK(misc & VMX_MISC_VMWRITE_ANY);
    CHECK_EQ(misc & (1ull << 30), 0);                   /* no zero-length injection */
    CHECK_EQ(msr(MSR_IA32_VMX_VMCS_ENUM), 0x15 << 1);   /* guest SYSENTER_CS, 0x482a */
    CHECK_EQ(msr(MSR_IA32_VMX_CR0_FIXED0), 0x80000021);
    CHECK_EQ(msr(MSR_IA32_VMX_CR0_FIXED1), 0xffffffff);
    CHECK_EQ(msr(MSR_IA32_VMX_CR4_FIXED0), 0x2000);
    CHECK_EQ(msr(MSR_IA32_VMX_CR4_FIXED1), CR4_SUPPORTED | 0x2000);
}

static void test_caps_controls(void)
{
    setup();
    uint64_t pin = msr(MSR_IA32_VMX_PINBASED_CTLS), proc = msr(MSR_IA32_VMX_PROCBASED_CTLS);
    uint64_t exit = msr(MSR_IA32_VMX_EXIT_CTLS), entry = msr(MSR_IA32_VMX_ENTRY_CTLS);
    CHECK_EQ(vmx_ctls_must_be_1(pin), 0x16);
    CHECK_EQ(vmx_ctls_may_be_1(pin), 0x16 | PIN_EXTERNAL_INTERRUPT_EXITING | PIN_NMI_EXITING | PIN_VIRTUAL_NMIS);
    CHECK_EQ(vmx_ctls_must_be_1(proc), 0x0401e172);
    CHECK_EQ(vmx_ctls_must_be_1(msr(MSR_IA32_VMX_TRUE_PROCBASED_CTLS)), 0x04006172);
    CHECK_EQ(vmx_ctls_may_be_1(proc) & (PROC_TPR_SHADOW | PROC_MONITOR_TRAP_FLAG), 0);
    uint32_t wanted = PROC_HLT_EXITING | PROC_CR8_LOAD_EXITING | PROC_CR8_STORE_EXITING |
                      PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS | PROC_SECONDARY_CONTROLS |
                      PROC_NMI_WINDOW_EXITING | PROC_TSC_OFFSETTING;
    CHECK_EQ(vmx_ctls_may_be_1(proc) & wanted, wanted);
    CHECK_EQ(vmx_ctls_must_be_1(exit), 0x36dff);
    CHECK_EQ(vmx_ctls_must_be_1(msr(MSR_IA32_VMX_TRUE_EXIT_CTLS)), 0x36dfb);
    CHECK(vmx_ctls_may_be_1(exit) & EXIT_HOST_ADDRESS_SPACE_SIZE);
    CHECK_EQ(vmx_ctls_may_be_1(exit) & (1u << 22), 0);  /* save preemption timer */
    CHECK_EQ(vmx_ctls_must_be_1(entry), 0x11ff);
    CHECK_EQ(vmx_ctls_must_be_1(msr(MSR_IA32_VMX_TRUE_ENTRY_CTLS)), 0x11fb);
    CHECK_EQ(vmx_ctls_may_be_1(entry) & (ENTRY_TO_SMM | (1u << 11)), 0);
    CHECK_EQ(msr(MSR_IA32_VMX_PROCBASED_CTLS2),
             (uint64_t)(PROC2_ENABLE_EPT | PROC2_ENABLE_VPID | PROC2_UNRESTRICTED_GUEST) << 32);
    uint64_t ept = msr(MSR_IA32_VMX_EPT_VPID_CAP);
    CHECK_EQ(ept & (EPT_CAP_WALK_4 | EPT_CAP_WB | EPT_CAP_INVEPT | EPT_CAP_INVEPT_TYPE(2)),
             EPT_CAP_WALK_4 | EPT_CAP_WB | EPT_CAP_INVEPT | EPT_CAP_INVEPT_TYPE(2));
    CHECK_EQ(ept & (EPT_CAP_AD | EPT_CAP_INVEPT_TYPE(0) | 1), 0);   /* no A/D, no type 0, no execute-only */
    CHECK(ept & VPID_CAP_INVVPID_TYPE(3));
    uint32_t all[] = { MSR_IA32_VMX_PINBASED_CTLS, MSR_IA32_VMX_PROCBASED_CTLS, MSR_IA32_VMX_EXIT_CTLS,
                       MSR_IA32_VMX_ENTRY_CTLS, MSR_IA32_VMX_PROCBASED_CTLS2, MSR_IA32_VMX_TRUE_PINBASED_CTLS,
                       MSR_IA32_VMX_TRUE_PROCBASED_CTLS, MSR_IA32_VMX_TRUE_EXIT_CTLS,
                       MSR_IA32_VMX_TRUE_ENTRY_CTLS };
    for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        check_coherent(msr(all[i]));
    /* a TRUE word only relaxes: each of its must-be-1 bits is one in the plain word */
    CHECK_EQ(vmx_ctls_must_be_1(msr(MSR_IA32_VMX_TRUE_PROCBASED_CTLS)) & ~vmx_ctls_must_be_1(proc), 0);
}

static void test_caps_without_ept_and_missing_msrs(void)
{
    uint64_t v;
    vmx_nested_caps_init(&caps, 36, CR4_SUPPORTED, false);
    CHECK_EQ(vmx_ctls_may_be_1(msr(MSR_IA32_VMX_PROCBASED_CTLS2)), PROC2_ENABLE_VPID);
    CHECK_EQ(msr(MSR_IA32_VMX_EPT_VPID_CAP) & (EPT_CAP_INVEPT | EPT_CAP_WALK_4), 0);
    CHECK(msr(MSR_IA32_VMX_EPT_VPID_CAP) & VPID_CAP_INVVPID);
    CHECK_EQ(vmx_nested_msr_read(&caps, MSR_IA32_VMX_VMFUNC, &v), VMX_MSR_GP);
    caps.basic &= ~VMX_BASIC_TRUE_CONTROLS;
    CHECK_EQ(vmx_nested_msr_read(&caps, MSR_IA32_VMX_TRUE_ENTRY_CTLS, &v), VMX_MSR_GP);
    caps.procbased2 = 0;                                /* secondary controls offer nothing */
    CHECK_EQ(vmx_nested_msr_read(&caps, MSR_IA32_VMX_EPT_VPID_CAP, &v), VMX_MSR_GP);
    caps.procbased &= 0xffffffffull & ~((uint64_t)PROC_SECONDARY_CONTROLS << 32);
    CHECK_EQ(vmx_nested_msr_read(&caps, MSR_IA32_VMX_PROCBASED_CTLS2, &v), VMX_MSR_GP);
    CHECK_EQ(vmx_nested_msr_read(&caps, 0x10, &v), VMX_MSR_NOT_MINE);
    CHECK_EQ(vmx_nested_msr_read(&caps, 0x492, &v), VMX_MSR_NOT_MINE);
    /* nothing here is writable */
    CHECK_EQ(vmx_nested_msr_write(&caps, 0x3a, 5), VMX_MSR_GP);
    CHECK_EQ(vmx_nested_msr_write(&caps, MSR_IA32_VMX_BASIC, 0), VMX_MSR_GP);
    CHECK_EQ(vmx_nested_msr_write(&caps, MSR_IA32_VMX_VMFUNC, 0), VMX_MSR_GP);
    CHECK_EQ(vmx_nested_msr_write(&caps, 0x47f, 0), VMX_MSR_NOT_MINE);
    CHECK_EQ(vmx_nested_msr_write(&caps, 0x492, 0), VMX_MSR_NOT_MINE);
}

static void test_cpuid(void)
{
    uint32_t leaf1[4] = { 0x306a9, 0x800, 0x80000001u, 0x178bfbff };
    vmx_nested_cpuid(1, leaf1);
    CHECK_EQ(leaf1[2], 0x80000021u);                    /* VMX added, the rest kept */
    CHECK_EQ(leaf1[3], 0x178bfbff);
    uint32_t other[4] = { 1, 2, 3, 4 };
    vmx_nested_cpuid(0x80000001u, other);
    CHECK_EQ(other[2], 3);
}

/* ---- VMCS12 ------------------------------------------------------------------------------ */

static void test_vmcs12_layout(void)
{
    static uint8_t used[VMX_VMCS_SIZE];
    unsigned supported = 0, highs = 0;
    memset(used, 0, sizeof(used));
    for (uint32_t e = 0; e < 0x8000; e++) {
        struct vmcs12_field f;
        if (!vmcs12_field_lookup(e, &f))
            continue;
        CHECK(f.offset >= VMCS12_FIELDS_OFFSET);
        CHECK(f.offset + f.bytes <= VMX_VMCS_SIZE);
        CHECK_EQ(f.read_only, ((e >> 10) & 3) == 1);
        CHECK_EQ(e & 0x1000, 0);
        if (f.high) {
            struct vmcs12_field full;
            CHECK(vmcs12_field_lookup(e & ~1u, &full));
            CHECK_EQ(f.offset, full.offset + 4);
            CHECK_EQ(full.bytes, 8);
            highs++;
            continue;
        }
        for (unsigned i = 0; i < f.bytes; i++) {        /* no two fields share a byte */
            CHECK_EQ(used[f.offset + i], 0);
            used[f.offset + i] = 1;
        }
        supported++;
    }
    CHECK_EQ(supported, 128);
    CHECK_EQ(highs, 20);                                /* every 64-bit field has its high half */
    CHECK_EQ(vmcs12_highest_index(), 0x15);
}

static void test_vmcs12_lookup_rejects(void)
{
    struct vmcs12_field f;
    CHECK(vmcs12_field_lookup(VMCS12_GUEST_RIP, &f) && f.bytes == 8 && !f.read_only);
    CHECK(vmcs12_field_lookup(VMCS12_VPID, &f) && f.bytes == 2);
    CHECK(vmcs12_field_lookup(VMCS12_EXIT_REASON, &f) && f.bytes == 4 && f.read_only);
    CHECK(vmcs12_field_lookup(VMCS12_GUEST_PHYSICAL_ADDRESS, &f) && f.read_only);
    CHECK(vmcs12_field_lookup(VMCS12_EXIT_QUALIFICATION, &f) && f.read_only);
    CHECK(vmcs12_field_lookup(VMCS12_LINK_POINTER | 1, &f) && f.high && f.bytes == 4);
    CHECK(!vmcs12_field_lookup(VMCS12_PIN_CONTROLS | 1, &f));       /* odd, 32-bit */
    CHECK(!vmcs12_field_lookup(VMCS12_GUEST_RIP | 1, &f));          /* odd, natural width */
    CHECK(!vmcs12_field_lookup(VMCS12_VPID | 1, &f));               /* odd, 16-bit */
    CHECK(!vmcs12_field_lookup(VMCS12_GUEST_RIP | 0x1000, &f));     /* bit 12 reserved */
    CHECK(!vmcs12_field_lookup(VMCS12_GUEST_RIP | 0x8000, &f));     /* bits 31:15 reserved */
    CHECK(!vmcs12_field_lookup(0x100006800ull, &f));
    CHECK(!vmcs12_field_lookup(0xffffffffffffffffull, &f));
    CHECK(!vmcs12_field_lookup(0x482e, &f));            /* preemption timer: not offered */
    CHECK(!vmcs12_field_lookup(0x2012, &f));            /* virtual-APIC address: no TPR shadow */
    CHECK(!vmcs12_field_lookup(0x0002, &f));            /* posted-interrupt vector */
    CHECK(!vmcs12_field_lookup(0x401c, &f));            /* TPR threshold */
    CHECK(!vmcs12_field_lookup(0x6828, &f));            /* past the guest fields */
}

static void test_vmcs12_widths(void)
{
    uint64_t v;
    setup();
    memset(vmcs, 0xaa, sizeof(vmcs));
    /* natural width: a 32-bit operand reads the low half and clears the high one on write */
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_GUEST_RIP, 8, 0x123456789abcdef0ull, &caps), 0);
    CHECK_EQ(vmcs12_read(vmcs, VMCS12_GUEST_RIP, 8, &v), 0);
    CHECK_EQ(v, 0x123456789abcdef0ull);
    CHECK_EQ(vmcs12_read(vmcs, VMCS12_GUEST_RIP, 4, &v), 0);
    CHECK_EQ(v, 0x9abcdef0u);
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_GUEST_RIP, 4, 0xffffffff00001234ull, &caps), 0);
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_GUEST_RIP), 0x1234);
    /* 64-bit: the high access touches bits 63:32 only */
    vmcs12_set(vmcs, VMCS12_TSC_OFFSET, 0x1111111122222222ull);
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_TSC_OFFSET | 1, 8, 0xdeadbeef33333333ull, &caps), 0);
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_TSC_OFFSET), 0x3333333322222222ull);
    CHECK_EQ(vmcs12_read(vmcs, VMCS12_TSC_OFFSET | 1, 8, &v), 0);
    CHECK_EQ(v, 0x33333333);
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_TSC_OFFSET, 4, 0x44444444, &caps), 0);   /* 32-bit full write */
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_TSC_OFFSET), 0x44444444);
    /* narrower fields: the operand's high bits are ignored, reads zero-extend */
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_VPID, 8, 0xffffffff12345ull, &caps), 0);
    CHECK_EQ(vmcs12_read(vmcs, VMCS12_VPID, 8, &v), 0);
    CHECK_EQ(v, 0x2345);
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_EXCEPTION_BITMAP, 8, 0x5ffffffffull, &caps), 0);
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_EXCEPTION_BITMAP), 0xffffffff);
    struct vmcs12_field vpid;
    CHECK(vmcs12_field_lookup(VMCS12_VPID, &vpid));
    CHECK_EQ(vmcs[vpid.offset + 2], 0xaa);                                      /* the slot's rest kept */
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_GUEST_SELECTOR(VMX_ES)), 0xaaaa);          /* and the neighbour */
    /* read-only fields: writable only with IA32_VMX_MISC[29] */
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_EXIT_REASON, 8, 30, &caps), 0);
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_EXIT_REASON), 30);
    caps.misc &= ~VMX_MISC_VMWRITE_ANY;
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_EXIT_REASON, 8, 31, &caps), VMXERR_VMWRITE_READ_ONLY);
    CHECK_EQ(vmcs12_write(vmcs, VMCS12_GUEST_PHYSICAL_ADDRESS | 1, 8, 1, &caps), VMXERR_VMWRITE_READ_ONLY);
    CHECK_EQ(vmcs12_get(vmcs, VMCS12_EXIT_REASON), 30);
    CHECK_EQ(vmcs12_read(vmcs, VMCS12_EXIT_REASON, 8, &v), 0);                  /* reading is fine */
    CHECK_EQ(vmcs12_write(vmcs, 0x482e, 8, 1, &caps), VMXERR_UNSUPPORTED_FIELD);
    CHECK_EQ(vmcs12_read(vmcs, 0x4001, 8, &v), VMXERR_UNSUPPORTED_FIELD);
    /* the VMM's own accessors ignore unsupported encodings */
    vmcs12_set(vmcs, 0x482e, 7);
    CHECK_EQ(vmcs12_get(vmcs, 0x482e), 0);
    /* the region's header */
    put32(0, 0);
    memcpy(vmcs, "\x01\0\0\x80", 4);
    CHECK_EQ(vmcs12_revision(vmcs), 0x80000001u);
    vmcs12_set_launched(vmcs, true);
    CHECK(vmcs12_launched(vmcs));
    vmcs12_set_launched(vmcs, false);
    CHECK(!vmcs12_launched(vmcs));
}

DEVICE_TESTS(vmx_nested,
    { "vmx_caps_basic_and_misc", test_caps_basic_and_misc },
    { "vmx_caps_controls", test_caps_controls },
    { "vmx_caps_without_ept_and_missing_msrs", test_caps_without_ept_and_missing_msrs },
    { "vmx_cpuid", test_cpuid },
    { "vmx_vmcs12_layout", test_vmcs12_layout },
    { "vmx_vmcs12_lookup_rejects", test_vmcs12_lookup_rejects },
    { "vmx_vmcs12_widths", test_vmcs12_widths },
)
