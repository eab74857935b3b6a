/*
 * The VMX backend (Intel SDM Vol. 3C, chapters 24-31 in the 2023 numbering): a VMCS per
 * vCPU with EPT, VPID and unrestricted guest (so guests start in real mode), every I/O
 * port intercepted unless the VMM passes ports through, every MSR but the few the guest
 * owns (guest_owned_msrs) intercepted, and the exit dispatch
 * that decides what the kernel keeps (host interrupts and NMIs) and what becomes an
 * exit message.  A VMCS is only reachable through VMREAD/VMWRITE while it is current,
 * so every hook first makes its vCPU's VMCS current.
 * The world switch: the VMCS switches CR0/3/4, DR7, segments with FS and GS base, GDTR
 * and IDTR bases, the SYSENTER MSRs, PAT and EFER.  What it does not switch, the
 * backend does around each entry: CR2, DR6, the SYSCALL MSRs and KERNEL_GS_BASE, and
 * the limits a VM exit leaves wrong (TR 0x67, GDTR and IDTR 0xffff); vcpu_arch.c
 * switches DR0..DR3 and kernel/vcpu.c the FPU.  XSETBV always exits, so XCR0 stays the
 * host's, and RDPMC exits, so the host's counters stay unread.
 */
#include "../arch.h"
#include "../x86.h"
#include "vmcs.h"

#define EFER_LMA (1ull << 10)

void vmx_enter(struct vcpu *v, bool launched);
void vmx_exit(void);
void vmx_entry_failed(struct vcpu *v);
bool vmx_init_ap(void);
void vmx_serve_request(struct cpu *c);
void vmx_post_flush(struct cpu *c, struct guest_space *gs);

/* The VMX part of struct vcpu.arch: what the VMCS does not hold. */
struct vmx_vcpu {
    struct vcpu_x86 x86;
    uint32_t vmcs_cpu;                  /* 1 + the CPU the VMCS is active on, 0 = clear */
    bool launched;                      /* VMRESUME rather than VMLAUNCH */
    bool entry_failed;                  /* VMLAUNCH/VMRESUME refused to enter */
    bool stepped_back;                  /* the pending injection moved RIP back by one, */
    uint64_t stepped_rip;               /*   to this (vmx_inject) */
    uint64_t guest_cr2;
    uint64_t guest_msr[5];              /* STAR LSTAR CSTAR SFMASK KERNEL_GS_BASE */
    uint64_t guest_dr6;
};
_Static_assert(sizeof(struct vmx_vcpu) <= sizeof(((struct vcpu *)0)->arch), "fits vcpu.arch");
static struct vmx_vcpu *vmx_state(struct vcpu *v) { return (struct vmx_vcpu *)v->arch; }

/* The SYSCALL MSRs in the order of struct vmx_vcpu.guest_msr. */
static const uint32_t switched_msrs[5] = { MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_FMASK,
                                           MSR_KERNEL_GS_BASE };

/* The operand of LGDT/SGDT and LIDT/SIDT. */
struct __attribute__((packed)) table_register {
    uint16_t limit;
    uint64_t base;
};

/* What each CPU has of its own, in struct cpu.vm_arch: its current VMCS, VPIDs, and
 * descriptor tables (each CPU has its own GDT); and what the lock holder asks of it
 * with CPU_REQUEST_VM (vmx_serve_request). */
struct vmx_cpu {
    uint64_t current_vmcs;              /* physical address, 0 = none */
    struct vcpu_tag_pool vpids;         /* VPID 0 is the host's */
    struct table_register host_gdtr, host_idtr;
    uint64_t release_vmcs;              /* VMCLEAR this VMCS, 0 = nothing */
    uint64_t flush_eptp;                /* INVEPT this EPTP, 0 = nothing */
};
_Static_assert(sizeof(struct vmx_cpu) <= sizeof(((struct cpu *)0)->vm_arch), "fits cpu.vm_arch");
static struct vmx_cpu *vmx_cpu_of(struct cpu *c) { return (struct vmx_cpu *)c->vm_arch; }
static struct vmx_cpu *vmx_cpu(void) { return vmx_cpu_of(this_cpu()); }

/* What the CPU allows, settled once at boot (SDM Appendix A). */
static struct {
    uint32_t revision;
    uint32_t pin, proc, proc2, exit, entry;     /* entry without "IA-32e mode guest" */
    uint64_t cr0_forced, cr4_forced;            /* guest bits VMX operation keeps set */
    uint64_t host_msr[4];                       /* the host's STAR LSTAR CSTAR SFMASK */
    unsigned preemption_rate;
    bool zero_length_inject, invept_single;
} vmx;


/* ---- Instructions (SDM 31.3); a failing VMREAD or VMWRITE is a kernel bug ----------- */

static uint64_t vmread(uint64_t field)
{
    uint64_t value;
    __asm__ goto("vmread %[f], %[v]; jna %l[fail]" : [v] "=r"(value) : [f] "r"(field) : "cc" : fail);
    return value;
fail:
    panic("vmx: VMREAD %lx failed", field);
}

static void vmwrite(uint64_t field, uint64_t value)
{
    __asm__ goto("vmwrite %[v], %[f]; jna %l[fail]" :: [f] "r"(field), [v] "r"(value) : "cc" : fail);
    return;
fail:
    panic("vmx: VMWRITE %lx = %lx failed (error %lu)", field, value, vmread(VMCS_INSTR_ERROR));
}

static bool vmxon(uint64_t pa)
{
    bool failed;
    __asm__ volatile("vmxon %1; setna %0" : "=q"(failed) : "m"(pa) : "cc", "memory");
    return !failed;
}

static void vmclear(uint64_t pa)
{
    bool failed;
    __asm__ volatile("vmclear %1; setna %0" : "=q"(failed) : "m"(pa) : "cc", "memory");
    if (failed)
        panic("vmx: VMCLEAR %lx failed", pa);
    if (vmx_cpu()->current_vmcs == pa)
        vmx_cpu()->current_vmcs = 0;
}

static void vmptrld(uint64_t pa)
{
    bool failed;
    __asm__ volatile("vmptrld %1; setna %0" : "=q"(failed) : "m"(pa) : "cc", "memory");
    if (failed)
        panic("vmx: VMPTRLD %lx failed", pa);
    vmx_cpu()->current_vmcs = pa;
}

static void invept(uint64_t type, uint64_t eptp)
{
    struct { uint64_t eptp, zero; } desc = { eptp, 0 };
    __asm__ volatile("invept %0, %1" :: "m"(desc), "r"(type) : "cc", "memory");
}

static void invvpid(uint64_t type, uint64_t vpid)
{
    struct { uint64_t vpid, address; } desc = { vpid, 0 };
    __asm__ volatile("invvpid %0, %1" :: "m"(desc), "r"(type) : "cc", "memory");
}

static uint64_t read_dr6(void)
{
    uint64_t value;
    __asm__ volatile("mov %%dr6, %0" : "=r"(value));
    return value;
}

static uint64_t eptp_of(const struct guest_space *gs)
{
    return virt_to_phys(gs->table) | EPTP_WB_WALK4;
}

static void flush_ept(uint64_t eptp)
{
    if (vmx.invept_single)
        invept(INVEPT_SINGLE, eptp);
    else
        invept(INVEPT_ALL, 0);
}

static uint64_t vmcs_of(const struct vcpu *v)
{
    return virt_to_phys(vcpu_page(v, VCPU_PAGE_CONTROL));
}

/* Ask another CPU to VMCLEAR a VMCS that is active there (the caller holds the big
 * lock, and the vCPU does not run there: its thread is not that CPU's current). */
static void release_on(struct cpu *c, uint64_t vmcs)
{
    vmx_cpu_of(c)->release_vmcs = vmcs;
    smp_request(c, CPU_REQUEST_VM);
}

static void init_host_state(void);

/* A VMCS is active on one CPU at a time, and must be cleared there before another
 * CPU loads it (SDM 25.11.1): a vCPU that moved, or whose state another CPU reads or
 * writes, takes its VMCS over here.  The VMCS is clear then: the next entry is a
 * VMLAUNCH, and the host state of this CPU (GS base, TR, GDTR) is written again. */
static void load(struct vcpu *v)
{
    struct vmx_vcpu *x = vmx_state(v);
    struct cpu *c = this_cpu();
    uint64_t pa = vmcs_of(v);
    if (x->vmcs_cpu == c->id + 1) {
        if (vmx_cpu()->current_vmcs != pa)
            vmptrld(pa);
        return;
    }
    if (x->vmcs_cpu)
        release_on(&cpus[x->vmcs_cpu - 1], pa);
    vmptrld(pa);
    x->vmcs_cpu = c->id + 1;
    x->launched = false;
    init_host_state();
}

/* CPU_REQUEST_VM, on the CPU asked, without the lock: only its own VMX state. */
void vmx_serve_request(struct cpu *c)
{
    struct vmx_cpu *xc = vmx_cpu_of(c);
    if (xc->release_vmcs) {
        vmclear(xc->release_vmcs);
        xc->release_vmcs = 0;
    }
    if (xc->flush_eptp) {
        flush_ept(xc->flush_eptp);
        xc->flush_eptp = 0;
    }
}

void vmx_post_flush(struct cpu *c, struct guest_space *gs)
{
    vmx_cpu_of(c)->flush_eptp = eptp_of(gs);
}

/* ---- Boot ----------------------------------------------------------------------------- */

/* A control word (SDM A.3-A.5): the bits needed or wanted that the CPU allows, plus the
 * bits it insists on (allowed-0 settings in the MSR's low half, allowed-1 in its high
 * half).  False when a needed bit is not allowed. */
static bool control(uint32_t msr, uint32_t need, uint32_t want, uint32_t *out)
{
    uint64_t cap = rdmsr(msr);
    *out = (need | want | (uint32_t)cap) & (uint32_t)(cap >> 32);
    return (*out & need) == need;
}

bool vmx_init_cpu(void)
{
    if (!(cpu_features() & PITH_CPU_VMX) || !(cpu_features() & PITH_CPU_EPT))
        return false;
    uint64_t basic = rdmsr(MSR_VMX_BASIC), ept = rdmsr(MSR_VMX_EPT_VPID_CAP), misc = rdmsr(MSR_VMX_MISC);
    uint32_t true_msr = basic & VMX_BASIC_TRUE_CONTROLS ? MSR_VMX_TRUE_PINBASED - MSR_VMX_PINBASED : 0;
    /* Without a TPR shadow a guest's MOV to CR8 would reach the host's APIC. */
    uint32_t cr8 = (rdmsr(MSR_VMX_PROCBASED + true_msr) >> 32) & PROC_TPR_SHADOW ?
                   PROC_TPR_SHADOW : PROC_CR8_LOAD_EXITING | PROC_CR8_STORE_EXITING;
    if (!control(MSR_VMX_PINBASED + true_msr, PIN_EXTINT_EXITING | PIN_NMI_EXITING,
                 PIN_VIRTUAL_NMIS | PIN_PREEMPTION_TIMER, &vmx.pin) ||
        !control(MSR_VMX_PROCBASED + true_msr, PROC_TSC_OFFSETTING | PROC_HLT_EXITING |
                 PROC_RDPMC_EXITING | PROC_IO_BITMAPS | PROC_MSR_BITMAPS | PROC_SECONDARY | cr8,
                 PROC_MWAIT_EXITING | PROC_MONITOR_EXITING, &vmx.proc) ||
        !control(MSR_VMX_PROCBASED2, PROC2_EPT | PROC2_UNRESTRICTED,
                 PROC2_VPID | PROC2_WBINVD_EXITING | PROC2_RDTSCP | PROC2_INVPCID, &vmx.proc2) ||
        !control(MSR_VMX_EXIT + true_msr, EXIT_HOST_64 | EXIT_SAVE_PAT | EXIT_LOAD_PAT |
                 EXIT_SAVE_EFER | EXIT_LOAD_EFER, EXIT_SAVE_DEBUG, &vmx.exit) ||
        !control(MSR_VMX_ENTRY + true_msr, ENTRY_LOAD_PAT | ENTRY_LOAD_EFER, ENTRY_LOAD_DEBUG,
                 &vmx.entry))
        return false;
    /* EPT tables as vspace.c walks them and ept_pte_leaf fills them: 4 levels,
     * write-back (SDM A.10). */
    uint64_t need_ept = EPT_CAP_WALK_4 | EPT_CAP_WB | EPT_CAP_INVEPT;
    if ((ept & need_ept) != need_ept || !(ept & (EPT_CAP_INVEPT_SINGLE | EPT_CAP_INVEPT_ALL)))
        return false;
    /* A new round of VPIDs flushes them all (vcpu_tag_get). */
    if (!(ept & VPID_CAP_INVVPID) || !(ept & VPID_CAP_INVVPID_ALL))
        vmx.proc2 &= ~PROC2_VPID;
    vmx.entry &= ~ENTRY_IA32E_GUEST;
    vmx.revision = basic & 0x7fffffff;
    vmx.invept_single = ept & EPT_CAP_INVEPT_SINGLE;
    vmx.zero_length_inject = misc & VMX_MISC_ZERO_LENGTH_INJECT;
    vmx.preemption_rate = misc & VMX_MISC_PREEMPTION_RATE;
    /* The guest's CR0.PE and PG are free with unrestricted guest (SDM 27.3.1.1). */
    vmx.cr0_forced = rdmsr(MSR_VMX_CR0_FIXED0) & ~(CR0_PE | CR0_PG);
    vmx.cr4_forced = rdmsr(MSR_VMX_CR4_FIXED0);
    for (unsigned i = 0; i < 4; i++)
        vmx.host_msr[i] = rdmsr(switched_msrs[i]);
    return vmx_init_ap();
}

/* VMX operation on this CPU (SDM 24.7, 24.8): the feature-control MSR, fixed CR bits,
 * CR4.VMXE, VMXON with a region of its own (cpu_vm_page) holding the revision; its own
 * VPIDs and the descriptor tables its exits restore.  The same on every CPU, after
 * the bootstrap processor settled the controls (vmx_init_cpu). */
bool vmx_init_ap(void)
{
    uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK))
        wrmsr(MSR_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMXON);
    else if (!(fc & FEATURE_CONTROL_VMXON))
        return false;
    struct cpu *c = this_cpu();
    struct vmx_cpu *xc = vmx_cpu_of(c);
    *xc = (struct vmx_cpu){ .vpids.count = 0x10000 };
    __asm__ volatile("sgdt %0" : "=m"(xc->host_gdtr));
    __asm__ volatile("sidt %0" : "=m"(xc->host_idtr));
    write_cr0((read_cr0() | rdmsr(MSR_VMX_CR0_FIXED0)) & rdmsr(MSR_VMX_CR0_FIXED1));
    write_cr4((read_cr4() | CR4_VMXE | rdmsr(MSR_VMX_CR4_FIXED0)) & rdmsr(MSR_VMX_CR4_FIXED1));
    uint8_t *region = cpu_vm_page(c, 0);
    *(uint32_t *)region = vmx.revision;
    if (!vmxon(virt_to_phys(region))) {
        write_cr4(read_cr4() & ~CR4_VMXE);
        return false;
    }
    return true;
}

/* ---- A new vCPU: controls, host state, and a guest at reset ---------------------------- */

static void write_segment(unsigned i, uint16_t selector, uint32_t access, uint32_t limit, uint64_t base)
{
    vmwrite(VMCS_GUEST_ES_SEL + 2 * i, selector);
    vmwrite(VMCS_GUEST_ES_ACCESS + 2 * i, access);
    vmwrite(VMCS_GUEST_ES_LIMIT + 2 * i, limit);
    vmwrite(VMCS_GUEST_ES_BASE + 2 * i, base);
}

static void init_host_state(void)
{
    struct table_register idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    vmwrite(VMCS_HOST_CR0, read_cr0());
    vmwrite(VMCS_HOST_CR4, read_cr4());
    vmwrite(VMCS_HOST_CS_SEL, SEL_KERNEL_CS);
    vmwrite(VMCS_HOST_SS_SEL, SEL_KERNEL_DS);
    vmwrite(VMCS_HOST_DS_SEL, SEL_KERNEL_DS);
    vmwrite(VMCS_HOST_ES_SEL, SEL_KERNEL_DS);
    vmwrite(VMCS_HOST_FS_SEL, 0);
    vmwrite(VMCS_HOST_GS_SEL, 0);
    vmwrite(VMCS_HOST_TR_SEL, SEL_TSS);
    vmwrite(VMCS_HOST_GS_BASE, rdmsr(MSR_GS_BASE));
    vmwrite(VMCS_HOST_TR_BASE, cpu_tss_base());
    vmwrite(VMCS_HOST_GDTR_BASE, vmx_cpu()->host_gdtr.base);
    vmwrite(VMCS_HOST_IDTR_BASE, idtr.base);
    vmwrite(VMCS_HOST_SYSENTER_CS, rdmsr(MSR_SYSENTER_CS));
    vmwrite(VMCS_HOST_SYSENTER_ESP, rdmsr(MSR_SYSENTER_ESP));
    vmwrite(VMCS_HOST_SYSENTER_EIP, rdmsr(MSR_SYSENTER_EIP));
    vmwrite(VMCS_HOST_EFER, rdmsr(MSR_EFER));
    vmwrite(VMCS_HOST_PAT, rdmsr(MSR_PAT));
    vmwrite(VMCS_HOST_RIP, (uint64_t)vmx_exit);
}

/* The state after RESET (SDM Vol. 3A 10.1.1): real mode at f000:fff0.  The guest reads
 * CR0 and CR4 through shadows where VMX keeps bits set (CR0.NE, CR4.VMXE). */
static void init_guest_state(void)
{
    const uint64_t cr0 = 0x60000010;        /* CD, NW, ET */
    vmwrite(VMCS_CR0_MASK, vmx.cr0_forced);
    vmwrite(VMCS_CR4_MASK, vmx.cr4_forced);
    vmwrite(VMCS_CR0_SHADOW, cr0);
    vmwrite(VMCS_CR4_SHADOW, 0);
    vmwrite(VMCS_GUEST_CR0, cr0 | vmx.cr0_forced);
    vmwrite(VMCS_GUEST_CR3, 0);
    vmwrite(VMCS_GUEST_CR4, vmx.cr4_forced);
    vmwrite(VMCS_GUEST_DR7, 0x400);
    vmwrite(VMCS_GUEST_RSP, 0);
    vmwrite(VMCS_GUEST_RIP, 0xfff0);
    vmwrite(VMCS_GUEST_RFLAGS, 2);
    for (unsigned i = 0; i < 6; i++)
        write_segment(i, 0, 0x93, 0xffff, 0);
    write_segment(1, 0xf000, 0x9b, 0xffff, 0xffff0000);
    write_segment(6, 0, 0x82, 0xffff, 0);
    write_segment(7, 0, 0x8b, 0xffff, 0);
    vmwrite(VMCS_GUEST_GDTR_BASE, 0);
    vmwrite(VMCS_GUEST_GDTR_LIMIT, 0xffff);
    vmwrite(VMCS_GUEST_IDTR_BASE, 0);
    vmwrite(VMCS_GUEST_IDTR_LIMIT, 0xffff);
    vmwrite(VMCS_GUEST_EFER, 0);
    vmwrite(VMCS_GUEST_PAT, 0x0007040600070406ull);
    vmwrite(VMCS_GUEST_DEBUGCTL, 0);
    vmwrite(VMCS_GUEST_SYSENTER_CS, 0);
    vmwrite(VMCS_GUEST_SYSENTER_ESP, 0);
    vmwrite(VMCS_GUEST_SYSENTER_EIP, 0);
    vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
    vmwrite(VMCS_GUEST_ACTIVITY, 0);
    vmwrite(VMCS_GUEST_PENDING_DEBUG, 0);
    vmwrite(VMCS_LINK_POINTER, ~0ull);
}

/* MSRs the guest reads and writes without exits, as on SVM: their values are the
 * guest's own, switched at every entry and exit by the VMCS (its guest-state fields for
 * the SYSENTER MSRs and the FS and GS bases) or by this backend (KERNEL_GS_BASE, read
 * back at every exit since SWAPGS changes it anyway), and the CPU's WRMSR refuses a
 * non-canonical base with #GP in the guest.  The VMM sees them in the SEG and SYS
 * groups.  Linux writes the FS base at its context switches, and a guest hypervisor
 * switches KERNEL_GS_BASE around each of its guest's exits to user space: on Bochs
 * three exits per L2 exit (docs/nested.md). */
static const uint32_t guest_owned_msrs[] = {
    0x174, 0x175, 0x176,                        /* SYSENTER_CS, _ESP, _EIP */
    0xc0000100, 0xc0000101, 0xc0000102,         /* FS_BASE, GS_BASE, KERNEL_GS_BASE */
};

/* The MSR bitmap (SDM 25.6.9): one bit per MSR, in four 1 KiB quarters: reads of
 * 0..1FFF, reads of C0000000..C0001FFF, then the writes of both. */
static void msr_pass_through(uint8_t *map, uint32_t msr)
{
    uint32_t quarter = msr >= 0xc0000000u ? 1024 : 0, bit = msr & 0x1fff;
    map[quarter + bit / 8] &= (uint8_t)~(1u << (bit % 8));
    map[2048 + quarter + bit / 8] &= (uint8_t)~(1u << (bit % 8));
}

void vmx_init(struct vcpu *v)
{
    memset(vcpu_page(v, VCPU_PAGE_IO_BITMAP), 0xff, 2 * PAGE_SIZE);
    memset(vcpu_page(v, VCPU_PAGE_MSR_BITMAP), 0xff, PAGE_SIZE);
    for (unsigned i = 0; i < ARRAY_SIZE(guest_owned_msrs); i++)
        msr_pass_through(vcpu_page(v, VCPU_PAGE_MSR_BITMAP), guest_owned_msrs[i]);
    uint8_t *vapic = vcpu_page(v, VCPU_PAGE_IO_BITMAP + 2);     /* the TPR shadow's page */
    memset(vapic, 0, PAGE_SIZE);
    uint32_t *vmcs = vcpu_page(v, VCPU_PAGE_CONTROL);
    memset(vmcs, 0, PAGE_SIZE);
    vmcs[0] = vmx.revision;
    vmclear(virt_to_phys(vmcs));
    vmptrld(virt_to_phys(vmcs));
    vmx_state(v)->launched = false;
    vmx_state(v)->vmcs_cpu = this_cpu()->id + 1;

    vmwrite(VMCS_PIN_CONTROLS, vmx.pin);
    vmwrite(VMCS_PROC_CONTROLS, vmx.proc);
    vmwrite(VMCS_PROC_CONTROLS2, vmx.proc2);
    vmwrite(VMCS_EXIT_CONTROLS, vmx.exit);
    vmwrite(VMCS_ENTRY_CONTROLS, vmx.entry);
    vmwrite(VMCS_IO_BITMAP_A, virt_to_phys(vcpu_page(v, VCPU_PAGE_IO_BITMAP)));
    vmwrite(VMCS_IO_BITMAP_B, virt_to_phys(vcpu_page(v, VCPU_PAGE_IO_BITMAP + 1)));
    vmwrite(VMCS_MSR_BITMAP, virt_to_phys(vcpu_page(v, VCPU_PAGE_MSR_BITMAP)));
    if (vmx.proc & PROC_TPR_SHADOW) {
        vmwrite(VMCS_VIRTUAL_APIC, virt_to_phys(vapic));
        vmwrite(VMCS_TPR_THRESHOLD, 0);
    }
    vmwrite(VMCS_EXCEPTION_BITMAP, BIT(VECTOR_MC) | VCPU_GUARDED_EXCEPTIONS);   /* as vmx_configure(0) */
    vmwrite(VMCS_PF_ERROR_MASK, 0);
    vmwrite(VMCS_PF_ERROR_MATCH, 0);
    vmwrite(VMCS_CR3_TARGET_COUNT, 0);
    vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 0);
    vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, 0);
    vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
    vmwrite(VMCS_ENTRY_INTR_INFO, 0);
    vmwrite(VMCS_TSC_OFFSET, 0);
    init_host_state();
    init_guest_state();
    struct vmx_vcpu *x = vmx_state(v);
    x->entry_failed = false;
    x->guest_cr2 = 0;
    x->guest_dr6 = DR6_INIT;
    for (unsigned i = 0; i < 5; i++)
        x->guest_msr[i] = 0;
}

/* The guest space is loaded at the next entry (vmx_load_space); #MC stays the host's
 * (vcpu.c refuses it in the VMM's bitmap; intercepted, it ends in vmx_exit_info). */
void vmx_configure(struct vcpu *v, struct guest_space *gs, uint64_t exception_bitmap)
{
    (void)gs;
    load(v);
    vmwrite(VMCS_EXCEPTION_BITMAP, exception_bitmap | BIT(VECTOR_MC) | VCPU_GUARDED_EXCEPTIONS);
    vcpu_x86(v)->space = NULL;
}

/* A new guest space becomes the EPTP.  Its table may have been another guest space's,
 * and unmaps since the last entry leave stale translations: INVEPT forgets both for
 * every VPID (SDM 29.4.3). */
void vmx_load_space(struct vcpu *v, struct guest_space *gs)
{
    struct vcpu_x86 *x = vcpu_x86(v);
    load(v);
    if (x->space != gs) {
        x->space = gs;
        vmwrite(VMCS_EPTP, eptp_of(gs));
        x->space_generation = gs->generation;
        flush_ept(eptp_of(gs));
    } else if (gs->generation != x->space_generation) {
        x->space_generation = gs->generation;
        flush_ept(eptp_of(gs));
    }
}

/* ---- Entry and exit ------------------------------------------------------------------- */

/* A guest entered with IF = 0 must still end by the host's next timer event.  External-
 * interrupt exiting guarantees that (SDM 26.2), but Bochs 2.7 decides at VM entry whether
 * interrupts are masked from IF alone, so there the VMX-preemption timer (SDM 26.5.1) has
 * to end such a guest. */
static uint32_t preemption_timer(const struct cpu *c)
{
    uint64_t when = c->next_tick, deadline = notification_earliest_deadline(), now = rdtsc();
    if (deadline && deadline < when)
        when = deadline;
    if (when <= now)
        return 0;
    uint64_t ticks = ((when - now) >> vmx.preemption_rate) + 1;
    return ticks > 0xffffffff ? 0xffffffff : (uint32_t)ticks;
}

/* Each vCPU has a VPID of its own: vCPUs of one guest space have their own guest page
 * tables, whose translations must not meet (SDM 29.1). */
static void load_vpid(struct vcpu *v)
{
    if (!(vmx.proc2 & PROC2_VPID))
        return;
    switch (vcpu_tag_get(&vmx_cpu()->vpids, v)) {
    case VCPU_TAG_NEW_ROUND:
        invvpid(INVVPID_ALL, 0);
        vmwrite(VMCS_VPID, vcpu_x86(v)->tag);
        break;
    case VCPU_TAG_FRESH:
        vmwrite(VMCS_VPID, vcpu_x86(v)->tag);
        break;
    case VCPU_TAG_KEPT:
        break;
    }
}

void vmx_run(struct vcpu *v)
{
    struct cpu *c = this_cpu();
    load(v);
    load_vpid(v);
    vmwrite(VMCS_HOST_CR3, read_cr3());
    vmwrite(VMCS_HOST_FS_BASE, c->loaded_fs_base);
    if (vmx.pin & PIN_PREEMPTION_TIMER)
        vmwrite(VMCS_GUEST_PREEMPTION_TIMER,
                vmread(VMCS_GUEST_RFLAGS) & RFLAGS_IF ? 0xffffffff : preemption_timer(c));
    struct vmx_vcpu *x = vmx_state(v);
    if (read_cr2() != x->guest_cr2)
        __asm__ volatile("mov %0, %%cr2" :: "r"(x->guest_cr2));
    if (read_dr6() != x->guest_dr6)
        __asm__ volatile("mov %0, %%dr6" :: "r"(x->guest_dr6));
    for (unsigned i = 0; i < 4; i++)
        if (x->guest_msr[i] != vmx.host_msr[i])
            wrmsr(switched_msrs[i], x->guest_msr[i]);
    /* The thread that ran here last may have set KERNEL_GS_BASE to 0 (cpu.c,
     * arch_load_thread). */
    if (x->guest_msr[4] != c->loaded_gs_base || (x->guest_msr[4] && c->bases_of))
        wrmsr(MSR_KERNEL_GS_BASE, x->guest_msr[4]);
    c->bases_of = NULL;         /* after the exit the bases are the values, no thread's */
    vmx_enter(v, x->launched);
}

/* From vmx_enter, before the lock: vcpu_arch_after_exit follows. */
void vmx_entry_failed(struct vcpu *v)
{
    vmx_state(v)->entry_failed = true;
}

/* Give the host back what the VMCS does not restore.  A VM exit also sets the limits of
 * GDTR and IDTR to 0xffff, and TR's to 0x67 (SDM 28.5.2): a user task would reach
 * descriptors past the GDT's end, and the TSS's I/O bitmap would be cut off, so all
 * three are loaded again. */
static void restore_host(struct vcpu *v)
{
    struct cpu *c = this_cpu();
    struct vmx_cpu *xc = vmx_cpu();
    __asm__ volatile("lgdt %0; lidt %1" :: "m"(xc->host_gdtr), "m"(xc->host_idtr));
    struct vmx_vcpu *x = vmx_state(v);
    x->guest_cr2 = read_cr2();
    x->guest_dr6 = read_dr6();
    x->guest_msr[4] = rdmsr(MSR_KERNEL_GS_BASE);    /* SWAPGS in the guest changes it */
    for (unsigned i = 0; i < 4; i++)
        if (x->guest_msr[i] != vmx.host_msr[i])
            wrmsr(switched_msrs[i], vmx.host_msr[i]);
    if (x->guest_msr[4] != c->loaded_gs_base)
        wrmsr(MSR_KERNEL_GS_BASE, c->loaded_gs_base);
    ((uint64_t *)xc->host_gdtr.base)[SEL_TSS >> 3] &= ~BIT(41);   /* busy -> available */
    __asm__ volatile("ltr %w0" :: "r"(SEL_TSS));
}

/* ---- Exit decoding: the one switch that shows what the kernel keeps ------------------ */

/* I/O exit qualification (SDM Table 28-5): size - 1 in bits 0..2, IN 3, string 4, REP 5,
 * port 16..31. */
static uint64_t io_qualification(uint64_t q)
{
    return (q >> 16) | (((q & 7) + 1) << 16) | (q & BIT(3) ? PITH_VM_IO_IN : 0) |
           (q & BIT(4) ? PITH_VM_IO_STRING : 0) | (q & BIT(5) ? PITH_VM_IO_REP : 0);
}

/* EPT violation qualification (SDM Table 28-7): the access in bits 0..2 (read, write,
 * fetch: the PITH_VM_ACCESS_* bits), what the entry allowed in bits 3..5. */
static uint64_t ept_access(uint64_t q)
{
    return (q & 7) | (q & 0x38 ? PITH_VM_ACCESS_PRESENT : 0);
}

static void clear_control(uint64_t bits)
{
    vmwrite(VMCS_PROC_CONTROLS, vmread(VMCS_PROC_CONTROLS) & ~bits);
}

/* A fault in IRET unblocked NMIs before the exit: block them again so that they stay
 * blocked until the IRET runs again (SDM 28.2.3). */
static void reblock_nmi(bool iret_unblocked)
{
    if (iret_unblocked && !(vmread(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID))
        vmwrite(VMCS_GUEST_INTERRUPTIBILITY, vmread(VMCS_GUEST_INTERRUPTIBILITY) | INTERRUPTIBILITY_NMI);
}

static bool software_event(uint64_t info)
{
    unsigned type = INTR_INFO_TYPE(info);
    return type == INTR_TYPE_SOFT_INT || type == INTR_TYPE_PRIV_SOFT_EXC || type == INTR_TYPE_SOFT_EXC;
}

/* An event in the ABI's layout (docs/vm.md, the INTR group): the interruption
 * information's valid bit, type and vector, and the error code from `error_field` in
 * bits 32..63 when it has one. */
static uint64_t event_word(uint64_t info, uint64_t error_field)
{
    if (!(info & INTR_INFO_VALID))
        return 0;
    return (info & 0x80000fffull) | (info & INTR_INFO_ERROR_CODE ? (vmread(error_field) & 0xffffffffull) << 32 : 0);
}

/* An exit the kernel keeps interrupted the delivery of a guest event: deliver it again
 * at the next entry (SDM 28.2.4, 32.2.1). */
static void redeliver_event(void)
{
    uint64_t info = vmread(VMCS_IDT_VECTORING_INFO);
    if (!(info & INTR_INFO_VALID))
        return;
    vmwrite(VMCS_ENTRY_INTR_INFO, info & 0x80000fffull);
    vmwrite(VMCS_ENTRY_ERROR_CODE, vmread(VMCS_IDT_VECTORING_ERROR));
    vmwrite(VMCS_ENTRY_INSTR_LENGTH, vmread(VMCS_EXIT_INSTR_LENGTH));
}

/* The CPU refused the entry, before the guest ran (VMfail, SDM 31.2) or while loading
 * its state (an exit with bit 31 set, SDM 27.8): the event to inject comes back to the
 * VMM (vcpu_entry_refused), and the VMCS starts again from a clear launch state. */
static void entry_refused(struct vcpu *v, struct vcpu_exit *e, uint64_t raw, uint64_t qualification)
{
    vcpu_entry_refused(v);
    vmclear(vmx_cpu()->current_vmcs);
    vmptrld(virt_to_phys(vcpu_page(v, VCPU_PAGE_CONTROL)));
    vmx_state(v)->launched = false;
    *e = (struct vcpu_exit){ PITH_EXIT_INVALID_STATE, raw, qualification, 0, 0 };
}

/* The window is open and the VMM hears of it: its control goes.  Left set when the
 * exit is dropped, it ends the next entry with the same exit once the window opens. */
void vmx_exit_delivered(struct vcpu *v, const struct vcpu_exit *e)
{
    if (e->reason == PITH_EXIT_INTERRUPT_WINDOW || e->reason == PITH_EXIT_NMI_WINDOW) {
        load(v);
        clear_control(e->reason == PITH_EXIT_INTERRUPT_WINDOW ? PROC_INTR_WINDOW : PROC_NMI_WINDOW);
    }
}

void vmx_exit_info(struct vcpu *v, struct vcpu_exit *e)
{
    const uint64_t *gpr = vcpu_x86(v)->gpr;
    restore_host(v);     /* before the lock (vcpu_arch_after_exit): v's VMCS is current */
    if (vmx_state(v)->entry_failed) {
        vmx_state(v)->entry_failed = false;
        entry_refused(v, e, VMX_EXIT_INVALID_STATE, vmread(VMCS_INSTR_ERROR));
        return;
    }
    uint64_t reason = vmread(VMCS_EXIT_REASON), code = reason & 0xffff,
             q = vmread(VMCS_EXIT_QUALIFICATION), length = vmread(VMCS_EXIT_INSTR_LENGTH),
             rax = gpr[0], ecx = (uint32_t)gpr[1], edx_eax = (gpr[2] << 32) | (uint32_t)rax;
    if (reason & VMX_EXIT_ENTRY_FAILURE) {
        entry_refused(v, e, code, q);
        return;
    }
    *e = (struct vcpu_exit){ .reason = PITH_EXIT_OTHER, .raw = code, .qualification = q };
    vmx_state(v)->launched = true;
    switch (code) {
    case VMX_EXIT_EXCEPTION_NMI: {
        uint64_t info = vmread(VMCS_EXIT_INTR_INFO);
        if (INTR_INFO_TYPE(info) == INTR_TYPE_NMI) {
            e->reason = VCPU_EXIT_KEEP_NMI;
            break;
        }
        if ((info & 0xff) == VECTOR_MC && INTR_INFO_TYPE(info) == INTR_TYPE_HARD_EXC)
            panic("machine check while a guest ran");
        reblock_nmi(info & INTR_INFO_IRET_UNBLOCKED);
        /* An intercepted #DB leaves DR6 alone and says in the qualification what it
         * would have set (B0..B3, BD, BS: SDM 28.2.1): DR6 shows it as without the
         * intercept (and as on SVM), for the VMM to see and for the guest if given back. */
        if ((info & 0xff) == 1 && INTR_INFO_TYPE(info) == INTR_TYPE_HARD_EXC)
            vmx_state(v)->guest_dr6 = (vmx_state(v)->guest_dr6 & ~0xfull) | (q & 0x600full);
        *e = (struct vcpu_exit){ PITH_EXIT_EXCEPTION, code, info & 0xff,
                                 info & INTR_INFO_ERROR_CODE ? vmread(VMCS_EXIT_INTR_ERROR) : 0,
                                 software_event(info) ? length : 0 };
        /* an ICEBP's #DB (a privileged software exception) has its length: vcpu_exited
         * moves RIP past it and gives it back as a hardware #DB, which ends the same */
        if ((INTR_INFO_TYPE(info) == INTR_TYPE_HARD_EXC || INTR_INFO_TYPE(info) == INTR_TYPE_PRIV_SOFT_EXC) &&
            vcpu_exception_guarded(v->exception_bitmap, info & 0xff,
                                   vmread(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID))
            e->reason = VCPU_EXIT_KEEP_EXCEPTION;
        break;
    }
    case VMX_EXIT_EXTINT:
    case VMX_EXIT_PREEMPTION_TIMER:
        e->reason = VCPU_EXIT_KEEP_INTERRUPT;
        break;
    case VMX_EXIT_TRIPLE_FAULT:
        e->reason = PITH_EXIT_SHUTDOWN;
        break;
    case VMX_EXIT_INIT:
        e->reason = PITH_EXIT_INIT;
        break;
    case VMX_EXIT_INTR_WINDOW:
        e->reason = PITH_EXIT_INTERRUPT_WINDOW;     /* the control: vmx_exit_delivered */
        break;
    case VMX_EXIT_NMI_WINDOW:
        e->reason = PITH_EXIT_NMI_WINDOW;
        break;
    case VMX_EXIT_CPUID:
        *e = (struct vcpu_exit){ PITH_EXIT_CPUID, code, (uint32_t)rax, ecx, length };
        break;
    case VMX_EXIT_HLT:
        *e = (struct vcpu_exit){ PITH_EXIT_HLT, code, 0, 0, length };
        break;
    case VMX_EXIT_RDPMC:
        *e = (struct vcpu_exit){ PITH_EXIT_OTHER, code, 0, 0, length };
        break;
    case VMX_EXIT_INVD:
        *e = (struct vcpu_exit){ PITH_EXIT_INVD, code, 0, 0, length };
        break;
    case VMX_EXIT_VMCALL:
        *e = (struct vcpu_exit){ PITH_EXIT_VMCALL, code, 0, 0, length };
        break;
    case VMX_EXIT_CR_ACCESS:    /* SDM Table 28-3: access type 1 is the only read */
        *e = (struct vcpu_exit){ PITH_EXIT_CR_ACCESS, code, q & 15, ((q >> 4) & 3) != 1, length };
        break;
    case VMX_EXIT_IO:
        *e = (struct vcpu_exit){ PITH_EXIT_IO, code, io_qualification(q),
                                 q & (BIT(3) | BIT(4)) ? 0 : rax, length };
        break;
    case VMX_EXIT_RDMSR:
        *e = (struct vcpu_exit){ PITH_EXIT_MSR_READ, code, ecx, 0, length };
        break;
    case VMX_EXIT_WRMSR:
        *e = (struct vcpu_exit){ PITH_EXIT_MSR_WRITE, code, ecx, edx_eax, length };
        break;
    case VMX_EXIT_PAUSE:
        *e = (struct vcpu_exit){ PITH_EXIT_PAUSE, code, 0, 0, length };
        break;
    case VMX_EXIT_EPT_VIOLATION:
        reblock_nmi(q & BIT(12));
        *e = (struct vcpu_exit){ PITH_EXIT_MMIO, code, vmread(VMCS_GUEST_PHYSICAL), ept_access(q), 0 };
        break;
    case VMX_EXIT_EPT_MISCONFIG:
        *e = (struct vcpu_exit){ PITH_EXIT_MMIO, code, vmread(VMCS_GUEST_PHYSICAL),
                                 PITH_VM_ACCESS_PRESENT, 0 };
        break;
    case VMX_EXIT_WBINVD:
        *e = (struct vcpu_exit){ PITH_EXIT_WBINVD, code, 0, 0, length };
        break;
    case VMX_EXIT_VMCLEAR:
    case VMX_EXIT_VMLAUNCH:
    case VMX_EXIT_VMPTRLD:
    case VMX_EXIT_VMPTRST:
    case VMX_EXIT_VMREAD:
    case VMX_EXIT_VMRESUME:
    case VMX_EXIT_VMWRITE:
    case VMX_EXIT_VMXOFF:
    case VMX_EXIT_VMXON:
    case VMX_EXIT_INVEPT:
    case VMX_EXIT_INVVPID:      /* for a VMM that emulates them: their operands (28.2.5) */
        *e = (struct vcpu_exit){ PITH_EXIT_OTHER, code, q, vmread(VMCS_EXIT_INSTR_INFO), length };
        break;
    case VMX_EXIT_XSETBV:
        *e = (struct vcpu_exit){ PITH_EXIT_XSETBV, code, ecx, edx_eax, length };
        break;
    }
    if (e->reason == VCPU_EXIT_KEEP_INTERRUPT || e->reason == VCPU_EXIT_KEEP_NMI)
        redeliver_event();
}

/* ---- State groups (pith/vm.h order) -------------------------------------------------- */

/* vm.h segment attributes <-> VMX access rights (SDM 25.4.1): the descriptor's bits
 * 40..47 and 52..55 sit at 0..7 and 12..15; a segment not present is unusable. */
static uint64_t attributes(uint64_t access)
{
    return (access & 0xff) | ((access >> 4) & 0xf00) |
           (access & ACCESS_UNUSABLE ? PITH_VM_SEG_UNUSABLE : 0);
}

static uint64_t access_rights(uint64_t attr)
{
    bool usable = (attr & 0x80) && !(attr & PITH_VM_SEG_UNUSABLE);
    return (attr & 0xff) | ((attr & 0xf00) << 4) | (usable ? 0 : ACCESS_UNUSABLE);
}

/* The guest reads CR0 and CR4 through their shadows where VMX keeps bits set. */
static uint64_t shadowed(uint64_t real, uint64_t shadow, uint64_t mask)
{
    return (real & ~mask) | (shadow & mask);
}

static const uint64_t sysenter_fields[3] = { VMCS_GUEST_SYSENTER_CS, VMCS_GUEST_SYSENTER_ESP,
                                             VMCS_GUEST_SYSENTER_EIP };

/* Segment i (pith/vm.h order) as its two words, from this CPU's current VMCS. */
static void read_segment(unsigned i, uint64_t *out)
{
    out[0] = vmread(VMCS_GUEST_ES_SEL + 2 * i) | attributes(vmread(VMCS_GUEST_ES_ACCESS + 2 * i)) << 16 |
             vmread(VMCS_GUEST_ES_LIMIT + 2 * i) << 32;
    out[1] = vmread(VMCS_GUEST_ES_BASE + 2 * i);
}

void vmx_read_group(struct vcpu *v, unsigned group, uint64_t *out)
{
    load(v);
    switch (BIT(group)) {
    case PITH_VM_GROUP_GPR:
        for (unsigned i = 0; i < 16; i++)
            out[i] = vcpu_x86(v)->gpr[i];
        out[4] = vmread(VMCS_GUEST_RSP);
        break;
    case PITH_VM_GROUP_RIP:
        out[0] = vmread(VMCS_GUEST_RIP);
        out[1] = vmread(VMCS_GUEST_RFLAGS);
        break;
    case PITH_VM_GROUP_CR:
        out[0] = shadowed(vmread(VMCS_GUEST_CR0), vmread(VMCS_CR0_SHADOW), vmx.cr0_forced);
        out[1] = vmx_state(v)->guest_cr2;
        out[2] = vmread(VMCS_GUEST_CR3);
        out[3] = shadowed(vmread(VMCS_GUEST_CR4), vmread(VMCS_CR4_SHADOW), vmx.cr4_forced);
        out[4] = vmread(VMCS_GUEST_EFER);
        out[5] = vmread(VMCS_GUEST_DR7);
        break;
    case PITH_VM_GROUP_SEG:
        for (unsigned i = 0; i < 8; i++)
            read_segment(i, &out[2 * i]);
        break;
    case PITH_VM_GROUP_DTR:
        out[0] = vmread(VMCS_GUEST_GDTR_BASE);
        out[1] = vmread(VMCS_GUEST_GDTR_LIMIT);
        out[2] = vmread(VMCS_GUEST_IDTR_BASE);
        out[3] = vmread(VMCS_GUEST_IDTR_LIMIT);
        break;
    case PITH_VM_GROUP_SYS:
        for (unsigned i = 0; i < 3; i++)
            out[i] = vmread(sysenter_fields[i]);
        for (unsigned i = 0; i < 5; i++)
            out[3 + i] = vmx_state(v)->guest_msr[i];
        out[8] = vmread(VMCS_GUEST_PAT);
        break;
    case PITH_VM_GROUP_INTR: {
        uint64_t blocking = vmread(VMCS_GUEST_INTERRUPTIBILITY),
                 event = vmread(VMCS_IDT_VECTORING_INFO);
        out[0] = (blocking & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS) ? 1 : 0) |
                 (blocking & INTERRUPTIBILITY_NMI ? 2 : 0);
        out[1] = v->before_entry ? v->withheld : event_word(event, VMCS_IDT_VECTORING_ERROR);
        break;
    }
    case PITH_VM_GROUP_TSC:
        out[0] = vmread(VMCS_TSC_OFFSET);
        break;
    case PITH_VM_GROUP_DR:
        for (unsigned i = 0; i < 4; i++)
            out[i] = vcpu_x86(v)->guest_dr[i];
        out[4] = vmx_state(v)->guest_dr6;
        break;
    }
}

void vmx_write_group(struct vcpu *v, unsigned group, const uint64_t *in)
{
    load(v);
    switch (BIT(group)) {
    case PITH_VM_GROUP_GPR:
        for (unsigned i = 0; i < 16; i++)
            vcpu_x86(v)->gpr[i] = in[i];
        vmwrite(VMCS_GUEST_RSP, in[4]);
        break;
    case PITH_VM_GROUP_RIP: {
        /* A moved RIP finished the instruction an STI or MOV SS shadow covered, and
         * STI blocking needs IF (SDM 27.3.1.5). */
        uint64_t blocking = vmread(VMCS_GUEST_INTERRUPTIBILITY);
        if (in[0] != vmread(VMCS_GUEST_RIP))
            blocking &= ~(uint64_t)(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS);
        if (!(in[1] & RFLAGS_IF))
            blocking &= ~(uint64_t)INTERRUPTIBILITY_STI;
        vmwrite(VMCS_GUEST_INTERRUPTIBILITY, blocking);
        vmwrite(VMCS_GUEST_RIP, in[0]);
        vmwrite(VMCS_GUEST_RFLAGS, in[1]);
        break;
    }
    case PITH_VM_GROUP_CR:
        vmwrite(VMCS_GUEST_CR0, in[0] | vmx.cr0_forced);
        vmwrite(VMCS_CR0_SHADOW, in[0]);
        vmx_state(v)->guest_cr2 = in[1];
        vmwrite(VMCS_GUEST_CR3, in[2]);
        vmwrite(VMCS_GUEST_CR4, in[3] | vmx.cr4_forced);
        vmwrite(VMCS_CR4_SHADOW, in[3]);
        vmwrite(VMCS_GUEST_EFER, in[4]);
        vmwrite(VMCS_ENTRY_CONTROLS, vmx.entry | (in[4] & EFER_LMA ? ENTRY_IA32E_GUEST : 0));
        vmwrite(VMCS_GUEST_DR7, in[5]);
        break;
    case PITH_VM_GROUP_SEG:
        for (unsigned i = 0; i < 8; i++) {
            vmwrite(VMCS_GUEST_ES_SEL + 2 * i, in[2 * i] & 0xffff);
            vmwrite(VMCS_GUEST_ES_ACCESS + 2 * i, access_rights((in[2 * i] >> 16) & 0xffff));
            vmwrite(VMCS_GUEST_ES_LIMIT + 2 * i, in[2 * i] >> 32);
            vmwrite(VMCS_GUEST_ES_BASE + 2 * i, in[2 * i + 1]);
        }
        break;
    case PITH_VM_GROUP_DTR:
        vmwrite(VMCS_GUEST_GDTR_BASE, in[0]);
        vmwrite(VMCS_GUEST_GDTR_LIMIT, in[1] & 0xffff);
        vmwrite(VMCS_GUEST_IDTR_BASE, in[2]);
        vmwrite(VMCS_GUEST_IDTR_LIMIT, in[3] & 0xffff);
        break;
    case PITH_VM_GROUP_SYS:
        for (unsigned i = 0; i < 3; i++)
            vmwrite(sysenter_fields[i], in[i]);
        for (unsigned i = 0; i < 5; i++)
            vmx_state(v)->guest_msr[i] = in[3 + i];
        vmwrite(VMCS_GUEST_PAT, in[8]);
        break;
    case PITH_VM_GROUP_INTR: {
        /* One shadow bit: STI blocking needs IF, else it is a MOV SS shadow. */
        uint64_t blocking = vmread(VMCS_GUEST_INTERRUPTIBILITY) & ~(uint64_t)(INTERRUPTIBILITY_STI |
                            INTERRUPTIBILITY_MOV_SS | INTERRUPTIBILITY_NMI);
        if (in[0] & 1)
            blocking |= vmread(VMCS_GUEST_RFLAGS) & RFLAGS_IF ? INTERRUPTIBILITY_STI
                                                               : INTERRUPTIBILITY_MOV_SS;
        if (in[0] & 2)
            blocking |= INTERRUPTIBILITY_NMI;
        vmwrite(VMCS_GUEST_INTERRUPTIBILITY, blocking);
        break;
    }
    case PITH_VM_GROUP_TSC:
        vmwrite(VMCS_TSC_OFFSET, in[0]);
        break;
    case PITH_VM_GROUP_DR:
        for (unsigned i = 0; i < 4; i++)
            vcpu_x86(v)->guest_dr[i] = in[i];
        vmx_state(v)->guest_dr6 = in[4];
        break;
    }
}

/* The ABI's event format is the VM-entry interruption-information layout (SDM 25.8.3),
 * checked by vcpu.c.
 * Real mode pushes no error codes (SDM 27.2.1.3).  A software event returns to the RIP
 * the VMM left, as on SVM, unless it is the one whose delivery the last exit stopped,
 * which returns past the instruction that raised it (SDM 27.6.1.1). */
void vmx_inject(struct vcpu *v, uint64_t event, uint64_t error_code)
{
    load(v);
    struct vmx_vcpu *x = vmx_state(v);
    uint64_t info = event & 0x80000fffull;
    if (!(vmread(VMCS_GUEST_CR0) & CR0_PE))
        info &= ~(uint64_t)INTR_INFO_ERROR_CODE;
    x->stepped_back = false;
    if (software_event(info)) {
        uint64_t stopped = vmread(VMCS_IDT_VECTORING_INFO);
        if ((stopped & INTR_INFO_VALID) && (stopped & 0x7ff) == (info & 0x7ff)) {
            vmwrite(VMCS_ENTRY_INSTR_LENGTH, vmread(VMCS_EXIT_INSTR_LENGTH));
        } else if (vmx.zero_length_inject) {
            vmwrite(VMCS_ENTRY_INSTR_LENGTH, 0);
        } else {
            x->stepped_rip = vmread(VMCS_GUEST_RIP) - 1;
            x->stepped_back = true;
            vmwrite(VMCS_GUEST_RIP, x->stepped_rip);
            vmwrite(VMCS_ENTRY_INSTR_LENGTH, 1);
        }
    }
    vmwrite(VMCS_ENTRY_INTR_INFO, info);
    vmwrite(VMCS_ENTRY_ERROR_CODE, error_code & 0xffffffffull);
}

void vmx_debug_given_back(struct vcpu *v)
{
    load(v);
    vmwrite(VMCS_GUEST_DR7, vmread(VMCS_GUEST_DR7) & ~DR7_GD);
    if ((vmread(VMCS_GUEST_RFLAGS) & RFLAGS_TF) &&
        (vmread(VMCS_GUEST_INTERRUPTIBILITY) & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS)))
        vmwrite(VMCS_GUEST_PENDING_DEBUG, vmread(VMCS_GUEST_PENDING_DEBUG) | DR6_BS);
}

/* The entry's event, taken back (vcpu.c, take_back_injection).  A software event that
 * vmx_inject gave a length of 1 by moving RIP back has RIP put forward again, so that
 * the VMM sees it where it left it, unless the VMM wrote another RIP since. */
uint64_t vmx_withdraw_event(struct vcpu *v)
{
    load(v);
    struct vmx_vcpu *x = vmx_state(v);
    uint64_t info = vmread(VMCS_ENTRY_INTR_INFO);
    bool stepped_back = x->stepped_back;
    x->stepped_back = false;
    if (!(info & INTR_INFO_VALID))
        return 0;
    if (stepped_back && software_event(info) && vmread(VMCS_GUEST_RIP) == x->stepped_rip)
        vmwrite(VMCS_GUEST_RIP, x->stepped_rip + 1);
    vmwrite(VMCS_ENTRY_INTR_INFO, 0);
    return event_word(info, VMCS_ENTRY_ERROR_CODE);
}

void vmx_request_windows(struct vcpu *v, uint64_t windows)
{
    load(v);
    uint64_t proc = vmread(VMCS_PROC_CONTROLS);
    if (windows & PITH_VM_WINDOW_INTERRUPT)
        proc |= PROC_INTR_WINDOW;
    if ((windows & PITH_VM_WINDOW_NMI) && (vmx.pin & PIN_VIRTUAL_NMIS))
        proc |= PROC_NMI_WINDOW;
    vmwrite(VMCS_PROC_CONTROLS, proc);
}


/* The CPU may keep a VMCS's data cached until VMCLEAR writes it back (SDM 24.11.1):
 * clear it before the object's memory can become something else. */
void vmx_destroy(struct vcpu *v)
{
    struct vmx_vcpu *x = vmx_state(v);
    if (x->vmcs_cpu == this_cpu()->id + 1)
        vmclear(vmcs_of(v));
    else if (x->vmcs_cpu)
        release_on(&cpus[x->vmcs_cpu - 1], vmcs_of(v));
    x->vmcs_cpu = 0;
}

void vmx_flush_space(struct guest_space *gs)
{
    flush_ept(eptp_of(gs));
}

/* ---- EPT entries (SDM 29.3.2): read, write, execute in bits 0..2, an entry with none
 * of them is not present; a leaf's memory type in bits 3..5 (6 write-back, 0 uncached)
 * and bit 7 for a large page.  Tables allow everything: the leaves decide. */

uint64_t ept_pte_table(uint64_t phys) { return phys | 7; }

uint64_t ept_pte_leaf(uint64_t phys, unsigned rights, bool large, bool uncached)
{
    return phys | (large ? BIT(7) : 0) | (rights & PITH_RIGHT_READ ? 1 : 0) |
           (rights & PITH_RIGHT_WRITE ? 2 : 0) | (rights & PITH_RIGHT_EXECUTE ? 4 : 0) |
           ((uncached ? 0ull : 6ull) << 3);
}
