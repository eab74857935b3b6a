/*
 * The SVM backend (AMD APM Vol. 2, chapter 15): a VMCB per vCPU with nested paging,
 * every I/O port and MSR intercepted unless the VMM passes ports through, and the
 * exit dispatch that decides what the kernel keeps (host interrupts, NMIs, machine
 * checks) and what becomes an exit message.  Works without NRIP-save and decode
 * assists: lengths of the intercepted instructions are known from their encodings, and
 * an I/O exit carries the next RIP in EXITINFO2.
 * The world switch: VMRUN and #VMEXIT switch the VMCB state (segments, CR0/3/4, CR2,
 * EFER, DR6, DR7, RFLAGS, RIP, RSP, RAX, PAT); VMLOAD and VMSAVE around them switch
 * FS, GS, TR, LDTR, KERNEL_GS_BASE, STAR, LSTAR, CSTAR, SFMASK and the SYSENTER MSRs;
 * vcpu_arch.c switches DR0..DR3 and kernel/vcpu.c the FPU.  XCR0 is never the guest's
 * (XSETBV exits), and RDPMC exits, so the host's counters stay unread.
 */
#include "../arch.h"
#include "../x86.h"
#include "vmcb.h"

#define MSR_VM_CR       0xc0010114
#define MSR_VM_HSAVE_PA 0xc0010117
#define VM_CR_SVMDIS    (1u << 4)

void svm_enter(struct vcpu *v, uint64_t vmcb_phys, uint64_t host_vmcb_phys);
bool svm_init_ap(void);

/* What each CPU has of its own, in struct cpu.vm_arch. */
struct svm_cpu {
    uint64_t host_vmcb_phys;            /* the host state VMSAVE/VMLOAD keep around VMRUN */
    struct vcpu_tag_pool asids;         /* the CPU's ASIDs (CPUID 8000_000A EBX) */
};
_Static_assert(sizeof(struct svm_cpu) <= sizeof(((struct cpu *)0)->vm_arch), "fits cpu.vm_arch");
static struct svm_cpu *svm_cpu(struct cpu *c) { return (struct svm_cpu *)c->vm_arch; }

static bool has_nrip;
static bool has_vgif;                   /* virtual GIF (APM 15.33) */

/* The SVM part of struct vcpu.arch. */
struct svm_vcpu {
    struct vcpu_x86 x86;
    bool flush_tlb;                     /* flush the guest's ASID at the next VMRUN */
};
_Static_assert(sizeof(struct svm_vcpu) <= sizeof(((struct vcpu *)0)->arch), "fits vcpu.arch");
static struct svm_vcpu *svm_state(struct vcpu *v) { return (struct svm_vcpu *)v->arch; }

static uint8_t *vmcb(const struct vcpu *v) { return vcpu_page(v, VCPU_PAGE_CONTROL); }
static uint64_t *u64_at(const struct vcpu *v, unsigned off) { return (uint64_t *)(vmcb(v) + off); }
static uint32_t *u32_at(const struct vcpu *v, unsigned off) { return (uint32_t *)(vmcb(v) + off); }

/* SVM on this CPU (APM 15.4): EFER.SVME, its own host save area (VM_HSAVE_PA) and
 * host VMCB (cpu_vm_page), its own ASIDs.  The same on every CPU. */
bool svm_init_ap(void)
{
    if (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS)
        return false;
    uint32_t r[4];
    cpuid(0x8000000a, 0, r);
    struct cpu *c = this_cpu();
    struct svm_cpu *sc = svm_cpu(c);
    sc->asids = (struct vcpu_tag_pool){ .count = r[1] };
    if (sc->asids.count < 2)
        return false;
    /* A vCPU may run on any CPU: without V_GIF_ENABLE honoured, a guest's unintercepted
     * CLGI would clear this CPU's own GIF, so the option needs it on every CPU. */
    if (!(r[3] & BIT(16)))
        has_vgif = false;
    sc->host_vmcb_phys = virt_to_phys(cpu_vm_page(c, 1));
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
    wrmsr(MSR_VM_HSAVE_PA, virt_to_phys(cpu_vm_page(c, 0)));
    return true;
}

bool svm_init_cpu(void)
{
    if (!(cpu_features() & PITH_CPU_SVM) || !(cpu_features() & PITH_CPU_NPT))
        return false;
    uint32_t r[4];
    cpuid(0x8000000a, 0, r);
    has_nrip = r[3] & BIT(3);
    has_vgif = r[3] & BIT(16);         /* and on every other CPU (svm_init_ap) */
    return svm_init_ap();
}

uint64_t svm_options(void)
{
    return has_vgif ? PITH_VM_OPTION_VIRTUAL_GIF : 0;
}

/* MSRs whose guest values live in the VMCB and are switched by VMLOAD/VMSAVE (APM
 * 15.5.2): the guest may use them without exits; the VMM sees them in the SEG and SYS
 * groups.  Every other MSR exits. */
static const uint32_t guest_owned_msrs[] = {
    0x174, 0x175, 0x176,                        /* SYSENTER_CS, _ESP, _EIP */
    0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, /* STAR, LSTAR, CSTAR, SFMASK */
    0xc0000100, 0xc0000101, 0xc0000102,         /* FS_BASE, GS_BASE, KERNEL_GS_BASE */
};

/* The MSR permission map: two bits (read, write) per MSR in three 8 KiB-bit ranges
 * (APM 15.11). */
static void msr_pass_through(uint8_t *map, uint32_t msr)
{
    uint32_t base = msr < 0x2000 ? 0 : msr >= 0xc0010000 ? 0x1000 : 0x800;
    uint32_t bit = (msr & 0x1fff) * 2;
    map[base + bit / 8] &= (uint8_t)~(3u << (bit % 8));
}

/* A guest's VMCB must never be a page a CPU keeps host state in: VMRUN writes the
 * host's state to the host save area and then loads the guest's from the VMCB, and
 * svm_enter's VMSAVE and VMLOAD of the host go through the host VMCB.  Were they one
 * page, the guest would start on the host's RIP, CR3 and stack, or the host would go
 * on with the guest's GS base.  (A guest once reported the host's RIP right after
 * VMRUN as its own: docs/security.md.)  Checked once, when the vCPU is made:
 * its pages and the CPUs' stay where they are (every CPU is online before user space runs). */
static void check_not_host_page(uint64_t vmcb_phys)
{
    for (unsigned i = 0; i < cpus_online; i++) {
        if (!cpus[i].vm_ready)
            continue;
        uint64_t host_save = virt_to_phys(cpu_vm_page(&cpus[i], 0));
        if (vmcb_phys == host_save || vmcb_phys == svm_cpu(&cpus[i])->host_vmcb_phys)
            panic("svm: the VMCB at %lx is CPU %u's %s", vmcb_phys, i,
                  vmcb_phys == host_save ? "host save area" : "host VMCB");
    }
}

static void reset_guest_state(struct vcpu *v);

void svm_init(struct vcpu *v)
{
    check_not_host_page(virt_to_phys(vmcb(v)));
    memset(vcpu_page(v, VCPU_PAGE_IO_BITMAP), 0xff, 3 * PAGE_SIZE);
    memset(vcpu_page(v, VCPU_PAGE_MSR_BITMAP), 0xff, 2 * PAGE_SIZE);
    for (unsigned i = 0; i < ARRAY_SIZE(guest_owned_msrs); i++)
        msr_pass_through(vcpu_page(v, VCPU_PAGE_MSR_BITMAP), guest_owned_msrs[i]);
    *u32_at(v, VMCB_INTERCEPT_MISC1) = MISC1_INTR | MISC1_NMI | MISC1_SMI | MISC1_INIT |
        MISC1_RDPMC | MISC1_CPUID | MISC1_INVD | MISC1_HLT | MISC1_INVLPGA | MISC1_IOIO | MISC1_MSR |
        MISC1_TASK_SWITCH | MISC1_SHUTDOWN;
    *u32_at(v, VMCB_INTERCEPT_MISC2) = MISC2_VMRUN | MISC2_VMMCALL | MISC2_VMLOAD |
        MISC2_VMSAVE | MISC2_STGI | MISC2_CLGI | MISC2_SKINIT | MISC2_WBINVD |
        MISC2_MONITOR | MISC2_MWAIT | MISC2_XSETBV;
    *u64_at(v, VMCB_IOPM_BASE) = virt_to_phys(vcpu_page(v, VCPU_PAGE_IO_BITMAP));
    *u64_at(v, VMCB_MSRPM_BASE) = virt_to_phys(vcpu_page(v, VCPU_PAGE_MSR_BITMAP));
    *u64_at(v, VMCB_INT_CTL) = BIT(24);                 /* V_INTR_MASKING */
    /* A guest's MOV to DR7 exits (to its VMM, as a CR_ACCESS of PITH_VM_CR_ACCESS_DR7):
     * QEMU 7.2 arms the breakpoints a guest enables that way and keeps them armed
     * after #VMEXIT, so the host trapped on them before it had its own GS base back
     * and panicked (ktest vm_guest_breakpoint_on_host).  DR7 that VMRUN loads from
     * the VMCB does not do that, and real CPUs reset DR7 at every exit anyway. */
    *u32_at(v, VMCB_INTERCEPT_DR) = BIT(16 + 7);
    reset_guest_state(v);
    svm_state(v)->flush_tlb = true;
}

/* A reset-like starting point in the VMCB's save area: real mode at f000:fff0 (APM
 * 14.1.3), everything else zero. */
static void reset_guest_state(struct vcpu *v)
{
    memset(vmcb(v) + VMCB_ES, 0, VMCB_G_PAT + 8 - VMCB_ES);
    *u64_at(v, VMCB_G_PAT) = 0x0007040600070406ull;     /* the power-on PAT */
    *u64_at(v, VMCB_EFER) = EFER_SVME;
    *u64_at(v, VMCB_CR0) = 0x60000010;
    *u64_at(v, VMCB_RFLAGS) = 2;
    *u64_at(v, VMCB_RIP) = 0xfff0;
    static const unsigned segs[] = { VMCB_ES, VMCB_CS, VMCB_SS, VMCB_DS, VMCB_FS, VMCB_GS };
    for (unsigned i = 0; i < 6; i++) {
        *(uint16_t *)(vmcb(v) + segs[i] + 2) = 0x93;    /* present, writable data */
        *u32_at(v, segs[i] + 4) = 0xffff;
    }
    *(uint16_t *)(vmcb(v) + VMCB_CS) = 0xf000;
    *(uint16_t *)(vmcb(v) + VMCB_CS + 2) = 0x9b;
    *u64_at(v, VMCB_CS + 8) = 0xffff0000;
    *(uint16_t *)(vmcb(v) + VMCB_LDTR + 2) = 0x82;
    *u32_at(v, VMCB_LDTR + 4) = 0xffff;
    *(uint16_t *)(vmcb(v) + VMCB_TR + 2) = 0x8b;
    *u32_at(v, VMCB_TR + 4) = 0xffff;
    *u32_at(v, VMCB_GDTR + 4) = 0xffff;
    *u32_at(v, VMCB_IDTR + 4) = 0xffff;
    *u64_at(v, VMCB_DR6) = 0xffff0ff0;
    *u64_at(v, VMCB_DR7) = 0x400;
}

/* The guest space is loaded at the next entry (svm_load_space); #MC stays the host's
 * (vcpu.c refuses it in the VMM's bitmap; intercepted, it ends in svm_exit_info).
 * With the virtual GIF option the guest's STGI and CLGI set and clear V_GIF without
 * an exit (APM 15.33.1): the real GIF stays the host's, and a virtual interrupt, so an
 * interrupt window, waits while V_GIF is clear.  GIF is set when the option comes and
 * kept by a CONFIGURE that keeps it.  Without it both exit (svm_init). */
void svm_configure(struct vcpu *v, struct guest_space *gs, uint64_t exception_bitmap)
{
    (void)gs;
    *u64_at(v, VMCB_NP_ENABLE) = 1;
    *u32_at(v, VMCB_INTERCEPT_EXC) = (uint32_t)exception_bitmap | BIT(VECTOR_MC) | VCPU_GUARDED_EXCEPTIONS;
    if (v->options & PITH_VM_OPTION_VIRTUAL_GIF) {
        if (!(*u64_at(v, VMCB_INT_CTL) & INT_CTL_V_GIF_ENABLE))
            *u64_at(v, VMCB_INT_CTL) |= INT_CTL_V_GIF;      /* set when the option comes */
        *u64_at(v, VMCB_INT_CTL) |= INT_CTL_V_GIF_ENABLE;
        *u32_at(v, VMCB_INTERCEPT_MISC2) &= ~(MISC2_STGI | MISC2_CLGI);
    } else {
        *u64_at(v, VMCB_INT_CTL) &= ~(INT_CTL_V_GIF_ENABLE | INT_CTL_V_GIF);
        *u32_at(v, VMCB_INTERCEPT_MISC2) |= MISC2_STGI | MISC2_CLGI;
    }
    vcpu_x86(v)->space = NULL;
}

/* A new guest space: its table becomes nCR3 and this vCPU's ASID forgets the old one's
 * translations; unmaps since the last entry also flush the ASID (APM 15.16). */
void svm_load_space(struct vcpu *v, struct guest_space *gs)
{
    struct svm_vcpu *s = svm_state(v);
    if (s->x86.space != gs) {
        s->x86.space = gs;
        *u64_at(v, VMCB_N_CR3) = virt_to_phys(gs->table);
        s->x86.space_generation = gs->generation;
        s->flush_tlb = true;
    } else if (gs->generation != s->x86.space_generation) {
        s->x86.space_generation = gs->generation;
        s->flush_tlb = true;
    }
}

/*
 * Control state the guest must not leave at an exit.  QEMU's #VMEXIT (TCG,
 * target/i386/tcg/sysemu/svm_helper.c do_vmexit, 7.2 and later) loads the host's CR0
 * through its MOV-to-CR0 path while EFER and CR4 are still the guest's: with the guest
 * at CR0.PG = 0, EFER.LME = 1 and CR4.PAE = 0 that path sees "paging on with LME but
 * no PAE" and returns without writing CR0 (helper.c cpu_x86_update_cr0), so the host
 * goes on with its CR3, CR4 and EFER but the guest's CR0: paging off, fetching its
 * next instruction from the kernel's virtual address as a physical one.  The CPU
 * loads the host's CR0 whatever the guest had; the kernel keeps the guest out of that
 * state anyway, so no emulator's exit can hand the host a guest's CR0:
 *  - the state check refuses LME without PAE (vcpu_guest_limits.lme_needs_pae), so no
 *    entry starts there;
 *  - with LME and no paging, CR4 writes exit (PAE cannot be cleared; setting PG is
 *    free, and leaving long mode again keeps PAE);
 *  - with LME and paging (long mode, PAE set), CR0 writes exit, so the guest cannot
 *    leave paging and then clear PAE in the same run.
 * LME itself changes only through the VMM (WRMSR EFER exits).  The intercepted MOVs
 * reach the VMM as CR_ACCESS exits, as CR0/CR4 writes under VMX's masks do.
 *
 * CR8 reads and writes always exit, as on VMX without a TPR shadow: the VMM keeps the
 * task priority in its local APIC.  Left to the emulator, a guest's MOV to CR8 while
 * an interrupt window is asked for (V_IRQ) aborted QEMU 7.2: its CR8 path raises the
 * virtual interrupt without the lock its interrupt code asserts (fuzzer, 2026-12-06).
 */
static void guest_control_intercepts(struct vcpu *v)
{
    uint32_t writes = BIT(8);
    if (*u64_at(v, VMCB_EFER) & EFER_LME)
        writes |= *u64_at(v, VMCB_CR0) & CR0_PG ? BIT(0) : BIT(4);
    *u32_at(v, VMCB_INTERCEPT_CR) = writes << 16 | BIT(8);
}

void svm_run(struct vcpu *v)
{
    guest_control_intercepts(v);
    uint8_t flush = svm_state(v)->flush_tlb ? TLB_FLUSH_GUEST : TLB_FLUSH_NOTHING;
    struct svm_cpu *sc = svm_cpu(this_cpu());
    switch (vcpu_tag_get(&sc->asids, v)) {
    case VCPU_TAG_NEW_ROUND:
        flush = TLB_FLUSH_ALL;
        break;
    case VCPU_TAG_FRESH:
        flush = TLB_FLUSH_NOTHING;      /* nobody used it in this round */
        break;
    case VCPU_TAG_KEPT:
        break;
    }
    *u32_at(v, VMCB_ASID) = vcpu_x86(v)->tag;
    *(uint8_t *)(vmcb(v) + VMCB_TLB_CONTROL) = flush;
    svm_state(v)->flush_tlb = false;
    *u64_at(v, VMCB_CLEAN) = 0;
    vcpu_x86(v)->gpr[0] = *u64_at(v, VMCB_RAX);
    svm_enter(v, virt_to_phys(vmcb(v)), sc->host_vmcb_phys);
}

/* Said out loud: under QEMU 7.2 with two CPUs, about one boot in six of the SMP
 * guest test (`make test-linux-smp`, always a guest on CPU 0) gets an exit whose
 * VMCB holds the host's own state -- the RIP right after VMRUN, the host's CR3 and
 * stack, what VMRUN saved to the host save area -- with a nested page fault on the
 * host's top-level page table, after the guest had run for a while (docs/security.md).
 * The guest's state is lost by then.  The host's is neither shown to the VMM nor
 * entered: the vCPU gets the reset state and the VMM an INVALID_STATE exit. */
static bool exit_holds_host_state(struct vcpu *v)
{
    extern char svm_after_vmrun[];
    return *u64_at(v, VMCB_RIP) == (uint64_t)svm_after_vmrun && *u64_at(v, VMCB_CR3) == read_cr3();
}

/* ---- Exit decoding: the one switch that shows what the kernel keeps ------------------ */

static uint64_t io_qualification(uint64_t info1)
{
    unsigned size = info1 & BIT(4) ? 1 : info1 & BIT(5) ? 2 : 4;
    return (info1 >> 16) | ((uint64_t)size << 16) | (info1 & 1 ? PITH_VM_IO_IN : 0) |
           (info1 & BIT(2) ? PITH_VM_IO_STRING : 0) | (info1 & BIT(3) ? PITH_VM_IO_REP : 0);
}

/* Length of an intercepted instruction when nothing reports it: its usual encoding. */
static uint64_t known_length(const struct vcpu *v, uint64_t fixed)
{
    return has_nrip ? *u64_at(v, VMCB_NRIP) - *u64_at(v, VMCB_RIP) : fixed;
}

void svm_exit_info(struct vcpu *v, struct vcpu_exit *e)
{
    uint64_t *gpr = vcpu_x86(v)->gpr;
    uint64_t code = *u64_at(v, VMCB_EXITCODE), info1 = *u64_at(v, VMCB_EXITINFO1),
             info2 = *u64_at(v, VMCB_EXITINFO2), rax = *u64_at(v, VMCB_RAX);
    if (exit_holds_host_state(v)) {
        kwarn("pith: svm: exit %lx (info %lx %lx) of vCPU %p on CPU %u holds the host's state; "
              "the guest's is lost\n", code, info1, info2, (void *)v, this_cpu()->id);
        reset_guest_state(v);
        *e = (struct vcpu_exit){ .reason = PITH_EXIT_INVALID_STATE, .raw = code };
        return;
    }
    gpr[0] = rax;
    vcpu_arch_recheck_controls(v, *u64_at(v, VMCB_CR0), *u64_at(v, VMCB_CR3), *u64_at(v, VMCB_CR4));
    *e = (struct vcpu_exit){ .reason = PITH_EXIT_OTHER, .raw = code };
    switch (code) {
    case SVM_EXIT_INTR:
    case SVM_EXIT_NMI:
        /* An event the exit cut short is delivered again on the next entry (APM
         * 15.7.2): EXITINTINFO has the EVENTINJ layout. */
        if (*u64_at(v, VMCB_EXITINTINFO) & PITH_VM_EVENT_VALID)
            *u64_at(v, VMCB_EVENTINJ) = *u64_at(v, VMCB_EXITINTINFO);
        e->reason = code == SVM_EXIT_INTR ? VCPU_EXIT_KEEP_INTERRUPT : VCPU_EXIT_KEEP_NMI;
        break;
    case SVM_EXIT_CPUID:
        *e = (struct vcpu_exit){ PITH_EXIT_CPUID, code, (uint32_t)rax, (uint32_t)gpr[1], known_length(v, 2) };
        break;
    case SVM_EXIT_IOIO:
        *e = (struct vcpu_exit){ PITH_EXIT_IO, code, io_qualification(info1), rax,
                                 info2 - *u64_at(v, VMCB_RIP) };
        break;
    case SVM_EXIT_MSR:
        *e = (struct vcpu_exit){ info1 ? PITH_EXIT_MSR_WRITE : PITH_EXIT_MSR_READ, code,
                                 (uint32_t)gpr[1], (gpr[2] << 32) | (uint32_t)rax,
                                 known_length(v, 2) };
        break;
    case SVM_EXIT_HLT:
        *e = (struct vcpu_exit){ PITH_EXIT_HLT, code, 0, 0, known_length(v, 1) };
        break;
    case SVM_EXIT_VINTR:
        e->reason = PITH_EXIT_INTERRUPT_WINDOW;     /* the request: svm_exit_delivered */
        break;
    case SVM_EXIT_NPF: {
        uint64_t access = (info1 & BIT(1) ? PITH_VM_ACCESS_WRITE : PITH_VM_ACCESS_READ) |
                          (info1 & BIT(4) ? PITH_VM_ACCESS_EXECUTE : 0) |
                          (info1 & BIT(0) ? PITH_VM_ACCESS_PRESENT : 0);
        *e = (struct vcpu_exit){ PITH_EXIT_MMIO, code, info2, access, 0 };
        break;
    }
    case SVM_EXIT_SHUTDOWN:
        e->reason = PITH_EXIT_SHUTDOWN;
        break;
    case SVM_EXIT_VMMCALL:
        *e = (struct vcpu_exit){ PITH_EXIT_VMCALL, code, 0, 0, known_length(v, 3) };
        break;
    case SVM_EXIT_INVD:
        *e = (struct vcpu_exit){ PITH_EXIT_INVD, code, 0, 0, known_length(v, 2) };
        break;
    case SVM_EXIT_WBINVD:
        *e = (struct vcpu_exit){ PITH_EXIT_WBINVD, code, 0, 0, known_length(v, 2) };
        break;
    case SVM_EXIT_XSETBV:
        *e = (struct vcpu_exit){ PITH_EXIT_XSETBV, code, (uint32_t)gpr[1],
                                 (gpr[2] << 32) | (uint32_t)rax, known_length(v, 3) };
        break;
    case SVM_EXIT_PAUSE:
        *e = (struct vcpu_exit){ PITH_EXIT_PAUSE, code, 0, 0, known_length(v, 2) };
        break;
    case SVM_EXIT_INIT:
        e->reason = PITH_EXIT_INIT;
        break;
    case SVM_EXIT_RDPMC:
        *e = (struct vcpu_exit){ PITH_EXIT_OTHER, code, 0, 0, known_length(v, 2) };
        break;
    case SVM_EXIT_EXCEPTION_0 + VECTOR_MC:
        panic("machine check while a guest ran");
    case SVM_EXIT_INVALID:
    case (uint32_t)SVM_EXIT_INVALID:    /* QEMU reports -1 in 32 bits */
        /* Said out loud: QEMU's VMRUN can refuse before it loads the guest's RIP and
         * then saves the host's state over the guest's (docs/security.md). */
        kwarn("pith: svm: VMRUN refused on CPU %u: rip %lx cr0 %lx cr4 %lx efer %lx asid %u\n",
              this_cpu()->id, *u64_at(v, VMCB_RIP), *u64_at(v, VMCB_CR0), *u64_at(v, VMCB_CR4),
              *u64_at(v, VMCB_EFER), *u32_at(v, VMCB_ASID));
        /* What the save area holds now may be the host's (its RIP, stack, CR3, GDT and
         * IDT bases): never shown to the VMM, never entered.  The guest state is the
         * reset state again; the VMM writes what it wants before the next entry. */
        reset_guest_state(v);
        vcpu_entry_refused(v);          /* EVENTINJ was never consumed */
        e->reason = PITH_EXIT_INVALID_STATE;
        break;
    default:
        if (code >= SVM_EXIT_EXCEPTION_0 && code < SVM_EXIT_EXCEPTION_0 + 32) {
            bool delivering = *u64_at(v, VMCB_EXITINTINFO) & PITH_VM_EVENT_VALID;
            *e = (struct vcpu_exit){ PITH_EXIT_EXCEPTION, code, code - SVM_EXIT_EXCEPTION_0, info1, 0 };
            if (vcpu_exception_guarded(v->exception_bitmap, e->qualification, delivering))
                e->reason = VCPU_EXIT_KEEP_EXCEPTION;   /* DR6 is the CPU's already */
        }
        else if (code < 0x20)
            *e = (struct vcpu_exit){ PITH_EXIT_CR_ACCESS, code, code & 15, code >= 0x10, 0 };
        else if (code == SVM_EXIT_WRITE_DR7)
            *e = (struct vcpu_exit){ PITH_EXIT_CR_ACCESS, code, PITH_VM_CR_ACCESS_DR7, 1, 0 };
        break;
    }
}

/* The window is open and the VMM hears of it: the virtual interrupt that asked for it
 * and its intercept go.  Left in place when the exit is dropped, they end the next
 * entry with the same exit as soon as the guest can take an interrupt. */
void svm_exit_delivered(struct vcpu *v, const struct vcpu_exit *e)
{
    if (e->reason != PITH_EXIT_INTERRUPT_WINDOW)
        return;
    *u32_at(v, VMCB_INTERCEPT_MISC1) &= ~MISC1_VINTR;
    *u64_at(v, VMCB_INT_CTL) &= ~BIT(8);
}

/* ---- State groups (pith/vm.h order) -------------------------------------------------- */

static const unsigned seg_offsets[8] = { VMCB_ES, VMCB_CS, VMCB_SS, VMCB_DS, VMCB_FS, VMCB_GS,
                                         VMCB_LDTR, VMCB_TR };
static const unsigned sys_offsets[9] = { VMCB_SYSENTER_CS, VMCB_SYSENTER_ESP, VMCB_SYSENTER_EIP,
                                         VMCB_STAR, VMCB_LSTAR, VMCB_CSTAR, VMCB_SFMASK,
                                         VMCB_KERNEL_GS_BASE, VMCB_G_PAT };

/* Segment i (pith/vm.h order) as its two words. */
static void read_segment(struct vcpu *v, unsigned i, uint64_t *out)
{
    const uint8_t *s = vmcb(v) + seg_offsets[i];
    out[0] = *(const uint16_t *)s | ((uint64_t)(*(const uint16_t *)(s + 2) & 0xfff) << 16) |
             ((uint64_t)*(const uint32_t *)(s + 4) << 32);
    out[1] = *(const uint64_t *)(s + 8);
}

/* EXITINTINFO or EVENTINJ as the ABI's event word (docs/vm.md, the INTR group): the
 * error code stays in bits 32..63 only when the event has one. */
static uint64_t event_word(uint64_t event)
{
    if (!(event & PITH_VM_EVENT_VALID))
        return 0;
    return event & (event & PITH_VM_EVENT_ERROR_CODE ? 0xffffffff80000fffull : 0x80000fffull);
}

void svm_read_group(struct vcpu *v, unsigned group, uint64_t *out)
{
    switch (BIT(group)) {
    case PITH_VM_GROUP_GPR:
        for (unsigned i = 0; i < 16; i++)
            out[i] = vcpu_x86(v)->gpr[i];
        out[0] = *u64_at(v, VMCB_RAX);
        out[4] = *u64_at(v, VMCB_RSP);
        break;
    case PITH_VM_GROUP_RIP:
        out[0] = *u64_at(v, VMCB_RIP);
        out[1] = *u64_at(v, VMCB_RFLAGS);
        break;
    case PITH_VM_GROUP_CR:
        out[0] = *u64_at(v, VMCB_CR0);
        out[1] = *u64_at(v, VMCB_CR2);
        out[2] = *u64_at(v, VMCB_CR3);
        out[3] = *u64_at(v, VMCB_CR4);
        out[4] = *u64_at(v, VMCB_EFER) & ~EFER_SVME;    /* the host's business */
        out[5] = *u64_at(v, VMCB_DR7);
        break;
    case PITH_VM_GROUP_SEG:
        for (unsigned i = 0; i < 8; i++)
            read_segment(v, i, &out[2 * i]);
        break;
    case PITH_VM_GROUP_DTR:
        out[0] = *u64_at(v, VMCB_GDTR + 8);
        out[1] = *u32_at(v, VMCB_GDTR + 4);
        out[2] = *u64_at(v, VMCB_IDTR + 8);
        out[3] = *u32_at(v, VMCB_IDTR + 4);
        break;
    case PITH_VM_GROUP_SYS:
        for (unsigned i = 0; i < 9; i++)
            out[i] = *u64_at(v, sys_offsets[i]);
        break;
    case PITH_VM_GROUP_INTR:
        out[0] = *u64_at(v, VMCB_INT_SHADOW) & 1;
        if ((*u64_at(v, VMCB_INT_CTL) & (INT_CTL_V_GIF_ENABLE | INT_CTL_V_GIF)) == INT_CTL_V_GIF_ENABLE)
            out[0] |= PITH_VM_INTR_GIF_CLEAR;
        out[1] = v->before_entry ? v->withheld : event_word(*u64_at(v, VMCB_EXITINTINFO));
        break;
    case PITH_VM_GROUP_TSC:
        out[0] = *u64_at(v, VMCB_TSC_OFFSET);
        break;
    case PITH_VM_GROUP_DR:
        for (unsigned i = 0; i < 4; i++)
            out[i] = vcpu_x86(v)->guest_dr[i];
        out[4] = *u64_at(v, VMCB_DR6);
        break;
    }
}

void svm_write_group(struct vcpu *v, unsigned group, const uint64_t *in)
{
    switch (BIT(group)) {
    case PITH_VM_GROUP_GPR:
        for (unsigned i = 0; i < 16; i++)
            vcpu_x86(v)->gpr[i] = in[i];
        *u64_at(v, VMCB_RAX) = in[0];
        *u64_at(v, VMCB_RSP) = in[4];
        break;
    case PITH_VM_GROUP_RIP:
        *u64_at(v, VMCB_RIP) = in[0];
        *u64_at(v, VMCB_RFLAGS) = in[1];
        break;
    case PITH_VM_GROUP_CR:
        *u64_at(v, VMCB_CR0) = in[0];
        *u64_at(v, VMCB_CR2) = in[1];
        *u64_at(v, VMCB_CR3) = in[2];
        *u64_at(v, VMCB_CR4) = in[3];
        *u64_at(v, VMCB_EFER) = in[4] | EFER_SVME;      /* VMRUN requires it (APM 15.5.1) */
        *u64_at(v, VMCB_DR7) = in[5];
        break;
    case PITH_VM_GROUP_SEG:
        for (unsigned i = 0; i < 8; i++) {
            uint8_t *s = vmcb(v) + seg_offsets[i];
            *(uint16_t *)s = (uint16_t)in[2 * i];
            *(uint16_t *)(s + 2) = (uint16_t)((in[2 * i] >> 16) & 0xfff);
            *(uint32_t *)(s + 4) = (uint32_t)(in[2 * i] >> 32);
            *(uint64_t *)(s + 8) = in[2 * i + 1];
        }
        /* The CPL is the stack segment's DPL (APM 15.5.1). */
        *(vmcb(v) + VMCB_CPL) = (uint8_t)((*(uint16_t *)(vmcb(v) + VMCB_SS + 2) >> 5) & 3);
        break;
    case PITH_VM_GROUP_DTR:
        *u64_at(v, VMCB_GDTR + 8) = in[0];
        *u32_at(v, VMCB_GDTR + 4) = (uint32_t)in[1];
        *u64_at(v, VMCB_IDTR + 8) = in[2];
        *u32_at(v, VMCB_IDTR + 4) = (uint32_t)in[3];
        break;
    case PITH_VM_GROUP_SYS:
        for (unsigned i = 0; i < 9; i++)
            *u64_at(v, sys_offsets[i]) = in[i];
        break;
    case PITH_VM_GROUP_INTR:
        *u64_at(v, VMCB_INT_SHADOW) = in[0] & 1;
        if (*u64_at(v, VMCB_INT_CTL) & INT_CTL_V_GIF_ENABLE) {
            if (in[0] & PITH_VM_INTR_GIF_CLEAR)
                *u64_at(v, VMCB_INT_CTL) &= ~INT_CTL_V_GIF;
            else
                *u64_at(v, VMCB_INT_CTL) |= INT_CTL_V_GIF;
        }
        break;
    case PITH_VM_GROUP_TSC:
        *u64_at(v, VMCB_TSC_OFFSET) = in[0];
        break;
    case PITH_VM_GROUP_DR:
        for (unsigned i = 0; i < 4; i++)
            vcpu_x86(v)->guest_dr[i] = in[i];
        *u64_at(v, VMCB_DR6) = in[4];
        break;
    }
}

/* The ABI's event format is the EVENTINJ layout (APM 15.20), checked by vcpu.c.  SVM
 * has no types of their own for ICEBP and INT3/INTO (VMX's 5 and 6): they are
 * exceptions here. */
void svm_inject(struct vcpu *v, uint64_t event, uint64_t error_code)
{
    uint64_t type = (event >> 8) & 7;
    if (type == 5 || type == 6)
        event = (event & ~0x700ull) | PITH_VM_EVENT_EXCEPTION;
    *u64_at(v, VMCB_EVENTINJ) = (event & 0x80000fffull) | (error_code << 32);
}

void svm_debug_given_back(struct vcpu *v)
{
    *u64_at(v, VMCB_DR7) &= ~DR7_GD;
}

/* The entry's event, taken back (vcpu.c, withhold_event). */
uint64_t svm_withdraw_event(struct vcpu *v)
{
    uint64_t event = event_word(*u64_at(v, VMCB_EVENTINJ));
    *u64_at(v, VMCB_EVENTINJ) = 0;
    return event;
}

/* An interrupt window: a virtual interrupt the guest takes when it can, intercepted
 * (APM 15.21.4): the VINTR exit says the window is open. */
void svm_request_windows(struct vcpu *v, uint64_t windows)
{
    if (windows & PITH_VM_WINDOW_INTERRUPT) {
        *u64_at(v, VMCB_INT_CTL) |= BIT(8) | BIT(20);
        *u32_at(v, VMCB_INTERCEPT_MISC1) |= MISC1_VINTR;
    }
}

/* ---- NPT entries: the ordinary x86-64 format (APM 15.25.5).  Nested walks count as
 * user accesses, so every entry has U; tables allow everything and the leaves decide. */

uint64_t npt_pte_table(uint64_t phys) { return phys | PTE_P | PTE_W | PTE_U; }

uint64_t npt_pte_leaf(uint64_t phys, unsigned rights, bool large, bool uncached)
{
    uint64_t e = phys | PTE_P | PTE_U | (large ? PTE_PS : 0);
    if (rights & PITH_RIGHT_WRITE)
        e |= PTE_W;
    if (!(rights & PITH_RIGHT_EXECUTE) && (cpu_features() & PITH_CPU_NX))
        e |= PTE_NX;
    if (uncached)
        e |= PTE_PCD | PTE_PWT;
    return e;
}
