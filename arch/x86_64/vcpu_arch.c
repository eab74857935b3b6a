/*
 * The vcpu_arch_* hooks: one table of functions per vendor, chosen at boot (SVM on
 * AMD, VMX on Intel).  The backends live in svm/ and vmx/.  What both vendors leave to
 * software is here: DR0..DR3 (neither VMCB nor VMCS holds them), the check of the
 * state a VMM wrote (guest_state.c has the rules) and the rounds of TLB tags.
 */
#include "arch.h"
#include "x86.h"

struct vcpu_backend {
    const char *name;
    bool (*init_cpu)(void);
    bool (*init_ap)(void);
    void (*serve_request)(struct cpu *c);
    void (*post_flush)(struct cpu *c, struct guest_space *gs);
    void (*init)(struct vcpu *v);
    void (*configure)(struct vcpu *v, struct guest_space *gs, uint64_t exception_bitmap);
    void (*load_space)(struct vcpu *v, struct guest_space *gs);
    void (*run)(struct vcpu *v);
    void (*exit_info)(struct vcpu *v, struct vcpu_exit *e);
    void (*exit_delivered)(struct vcpu *v, const struct vcpu_exit *e);
    void (*read_group)(struct vcpu *v, unsigned group, uint64_t *out);
    void (*write_group)(struct vcpu *v, unsigned group, const uint64_t *in);
    void (*inject)(struct vcpu *v, uint64_t event, uint64_t error_code);
    void (*debug_given_back)(struct vcpu *v);
    uint64_t (*withdraw_event)(struct vcpu *v);
    void (*request_windows)(struct vcpu *v, uint64_t windows);
    void (*flush_space)(struct guest_space *gs);
    void (*destroy)(struct vcpu *v);
    uint64_t pte_present_bits;
    uint64_t (*pte_table)(uint64_t phys);
    uint64_t (*pte_leaf)(uint64_t phys, unsigned rights, bool large, bool uncached);
    uint64_t (*options)(void);
};

bool svm_init_cpu(void);
bool svm_init_ap(void);
void svm_init(struct vcpu *v);
void svm_configure(struct vcpu *v, struct guest_space *gs, uint64_t exception_bitmap);
void svm_load_space(struct vcpu *v, struct guest_space *gs);
void svm_run(struct vcpu *v);
void svm_exit_info(struct vcpu *v, struct vcpu_exit *e);
void svm_exit_delivered(struct vcpu *v, const struct vcpu_exit *e);
void svm_read_group(struct vcpu *v, unsigned group, uint64_t *out);
void svm_write_group(struct vcpu *v, unsigned group, const uint64_t *in);
void svm_inject(struct vcpu *v, uint64_t event, uint64_t error_code);
void svm_debug_given_back(struct vcpu *v);
uint64_t svm_withdraw_event(struct vcpu *v);
void svm_request_windows(struct vcpu *v, uint64_t windows);
#define NPT_PTE_PRESENT_BITS 1ull        /* P */
uint64_t npt_pte_table(uint64_t phys);
uint64_t npt_pte_leaf(uint64_t phys, unsigned rights, bool large, bool uncached);
uint64_t svm_options(void);

/* A VMCB is plain memory: nothing of it stays in the CPU. */
static void svm_destroy(struct vcpu *v)
{
    (void)v;
}

/* Each vCPU has ASIDs of its own, so a guest space's stale translations are the
 * vCPUs', and the generation check at each one's next VMRUN flushes its ASID.  Another
 * CPU only has to leave the guest: the IPI that posts the request does that. */
static void svm_flush_space(struct guest_space *gs)
{
    (void)gs;
}

static void svm_post_flush(struct cpu *c, struct guest_space *gs)
{
    (void)c, (void)gs;
}

static void svm_serve_request(struct cpu *c)
{
    (void)c;
}

static const struct vcpu_backend svm = {
    "svm", svm_init_cpu, svm_init_ap, svm_serve_request, svm_post_flush, svm_init, svm_configure, svm_load_space, svm_run, svm_exit_info, svm_exit_delivered, svm_read_group,
    svm_write_group, svm_inject, svm_debug_given_back, svm_withdraw_event, svm_request_windows, svm_flush_space,
    svm_destroy, NPT_PTE_PRESENT_BITS, npt_pte_table, npt_pte_leaf, svm_options,
};

bool vmx_init_cpu(void);
bool vmx_init_ap(void);
void vmx_serve_request(struct cpu *c);
void vmx_post_flush(struct cpu *c, struct guest_space *gs);
void vmx_init(struct vcpu *v);
void vmx_configure(struct vcpu *v, struct guest_space *gs, uint64_t exception_bitmap);
void vmx_load_space(struct vcpu *v, struct guest_space *gs);
void vmx_run(struct vcpu *v);
void vmx_exit_info(struct vcpu *v, struct vcpu_exit *e);
void vmx_exit_delivered(struct vcpu *v, const struct vcpu_exit *e);
void vmx_read_group(struct vcpu *v, unsigned group, uint64_t *out);
void vmx_write_group(struct vcpu *v, unsigned group, const uint64_t *in);
void vmx_inject(struct vcpu *v, uint64_t event, uint64_t error_code);
void vmx_debug_given_back(struct vcpu *v);
uint64_t vmx_withdraw_event(struct vcpu *v);
void vmx_request_windows(struct vcpu *v, uint64_t windows);
void vmx_flush_space(struct guest_space *gs);
void vmx_destroy(struct vcpu *v);
#define EPT_PTE_PRESENT_BITS 7ull        /* read, write, execute */
uint64_t ept_pte_table(uint64_t phys);
uint64_t ept_pte_leaf(uint64_t phys, unsigned rights, bool large, bool uncached);

/* VMX has none of the options. */
static uint64_t vmx_options(void)
{
    return 0;
}

static const struct vcpu_backend vmx = {
    "vmx", vmx_init_cpu, vmx_init_ap, vmx_serve_request, vmx_post_flush, vmx_init, vmx_configure, vmx_load_space, vmx_run, vmx_exit_info, vmx_exit_delivered, vmx_read_group,
    vmx_write_group, vmx_inject, vmx_debug_given_back, vmx_withdraw_event, vmx_request_windows, vmx_flush_space,
    vmx_destroy, EPT_PTE_PRESENT_BITS, ept_pte_table, ept_pte_leaf, vmx_options,
};

static const struct vcpu_backend *backend;
static struct vcpu_guest_limits guest_limits;

/* What a guest may have on this CPU (guest_state.c): CR4 bits 0..10 exist on every
 * x86-64 CPU, the later ones only with their CPUID feature (SDM Vol. 3A 2.5); VMXE and
 * SMXE stay the host's, CET is not switched.  EFER: SCE, LME, LMA and NXE. */
static void probe_guest_limits(void)
{
    uint32_t r[4], basic[4], ext[4];
    cpuid(0, 0, basic);
    cpuid(1, 0, r);
    uint64_t cr4 = 0x7ff | (r[2] & BIT(17) ? BIT(17) : 0) | (r[2] & BIT(26) ? BIT(18) : 0);
    if (basic[0] >= 7) {
        cpuid(7, 0, r);
        cr4 |= (r[1] & BIT(0) ? BIT(16) : 0) | (r[1] & BIT(7) ? BIT(20) : 0) |
               (r[1] & BIT(20) ? BIT(21) : 0) | (r[2] & BIT(2) ? BIT(11) : 0) |
               (r[2] & BIT(3) ? BIT(22) : 0) | (r[2] & BIT(16) ? BIT(12) : 0);
    }
    guest_limits.cr4_allowed = cr4;
    guest_limits.efer_allowed = EFER_SCE | EFER_LME | BIT(10) | (cpu_features() & PITH_CPU_NX ? EFER_NXE : 0);
    cpuid(0x80000000, 0, ext);
    guest_limits.phys_bits = 36;
    if (ext[0] >= 0x80000008) {
        cpuid(0x80000008, 0, r);
        guest_limits.phys_bits = r[0] & 0xff;
    }
}

/* The guest changes CR0, CR3 and CR4 without exits, and QEMU's MOV to CR0 takes NW
 * without CD, which a CPU refuses with #GP.  Its VMRUN then refuses such a state (and
 * CR0 bits above 31, CR3 beyond the physical-address width, CR4 bits the CPU lacks)
 * before it has loaded any of the guest, and saves the host's state in the guest's
 * place; after one, CPU 0 was seen to stay in a guest with host interrupts pending and
 * never taken (docs/security.md).  So an exit with such a value has the next entry
 * check the CR group as the guest left it, as after a VMM's write: the entry is
 * refused (INVALID_STATE, PITH_VM_REFUSED_CONTROL) until the VMM writes values a CPU
 * allows. */
void vcpu_arch_recheck_controls(struct vcpu *v, uint64_t cr0, uint64_t cr3, uint64_t cr4)
{
    if (!(cr0 >> 32) && (!(cr0 & CR0_NW) || (cr0 & CR0_CD)) && !(cr3 >> guest_limits.phys_bits) &&
        !(cr4 & ~guest_limits.cr4_allowed))
        return;
    /* The check reads what was written for an unchecked group: the guest's own words. */
    backend->read_group(v, pith_vm_group_index(PITH_VM_GROUP_CR), v->written.cr);
    v->unchecked |= PITH_VM_GROUP_CR;
}

bool vcpu_arch_init_cpu(void)
{
    const struct vcpu_backend *candidates[] = {
        &svm,
        &vmx,
    };
    for (unsigned i = 0; i < ARRAY_SIZE(candidates); i++) {
        if (candidates[i]->init_cpu()) {
            backend = candidates[i];
            probe_guest_limits();
            guest_limits.lme_needs_pae = backend == &svm;   /* svm.c: guest_control_intercepts */
            /* On VMX the CR group's CR4.VMXE is what the guest reads and nothing
             * more: every guest runs with it set (CR4_FIXED0) behind the read shadow,
             * so a VMM that emulates VMX shows its guest the bit it set (vmx.c). */
            if (backend == &vmx)
                guest_limits.cr4_allowed |= CR4_VMXE;
            this_cpu()->vm_ready = true;
            return true;
        }
    }
    return false;
}

/* The backend the bootstrap processor chose, on an application processor: its own
 * VMXON region or host save area, its own tags. */
bool vcpu_arch_init_ap(void)
{
    if (!backend)
        return false;
    this_cpu()->vm_ready = backend->init_ap();
    return this_cpu()->vm_ready;
}

/* Before the CPU idles.  SVM: HLT wakes only for an interrupt the CPU may take, and
 * an interrupt waits while GIF is clear; GIF is set again at every exit
 * (svm_entry.S), and set once more here so that the idle CPU never depends on that
 * (docs/security.md: a halted CPU that does not wake, which this did not cure). */
void vcpu_arch_before_idle(struct cpu *c)
{
    if (backend == &svm && c->vm_ready)
        __asm__ volatile("stgi" ::: "memory");
}

void vcpu_arch_serve_request(struct cpu *c)
{
    if (backend)
        backend->serve_request(c);
}

const char *vcpu_arch_name(void) { return backend->name; }
void vcpu_arch_init(struct vcpu *v) { backend->init(v); }
void vcpu_arch_configure(struct vcpu *v, struct guest_space *gs, uint64_t exc) { backend->configure(v, gs, exc); }
uint64_t vcpu_arch_options(void) { return backend ? backend->options() : 0; }
/* A vCPU that comes to another CPU than it last ran on has nothing of its own in
 * that CPU's TLB and takes a fresh tag there; its guest space is loaded and flushed
 * there as if new (the CPU may hold stale translations of it from another vCPU). */
void vcpu_arch_load_space(struct vcpu *v, struct guest_space *gs)
{
    struct vcpu_x86 *x = vcpu_x86(v);
    struct cpu *c = this_cpu();
    if (x->last_cpu != c->id + 1) {
        x->last_cpu = c->id + 1;
        x->space = NULL;
        x->tag = 0;
    }
    gs->cpus_entered |= (uint32_t)BIT(c->id);
    backend->load_space(v, gs);
}
void vcpu_arch_read_group(struct vcpu *v, unsigned g, uint64_t *out) { backend->read_group(v, g, out); }
/* A VMM's write of the CR group stands for MOVs to the control registers: the vCPU's
 * cached translations of guest-linear addresses go with it, by a fresh tag (VPID or
 * ASID) at its next entry.  A VMM that runs its guest's guest relies on it (docs/vm.md). */
void vcpu_arch_write_group(struct vcpu *v, unsigned g, const uint64_t *in)
{
    if (BIT(g) == PITH_VM_GROUP_CR)     /* first, so that the write stays a tail call */
        vcpu_x86(v)->tag = 0;
    backend->write_group(v, g, in);
}
void vcpu_arch_inject(struct vcpu *v, uint64_t event, uint64_t error) { backend->inject(v, event, error); }
void vcpu_arch_debug_given_back(struct vcpu *v) { backend->debug_given_back(v); }
uint64_t vcpu_arch_withdraw_event(struct vcpu *v) { return backend->withdraw_event(v); }
void vcpu_arch_request_windows(struct vcpu *v, uint64_t w) { backend->request_windows(v, w); }
void vcpu_arch_destroy(struct vcpu *v) { backend->destroy(v); }
/* A mapping of gs went away (its generation is already new): every CPU a vCPU entered
 * gs on flushes it before this returns, by request and IPI as in a TLB shootdown; the
 * IPI also makes a guest running there leave, and no vCPU enters gs again without
 * seeing the new generation.  The CPUs are forgotten: the next entry on each marks
 * it again. */
void arch_guest_space_flush(struct guest_space *gs)
{
    if (!backend)
        return;
    struct cpu *self = this_cpu();
    uint32_t asked = 0;
    for (unsigned i = 0; i < cpus_online; i++) {
        if (!(gs->cpus_entered & BIT(i)))
            continue;
        if (&cpus[i] == self) {
            backend->flush_space(gs);
            continue;
        }
        backend->post_flush(&cpus[i], gs);
        smp_post(&cpus[i], CPU_REQUEST_VM);
        asked |= (uint32_t)BIT(i);
    }
    for (unsigned i = 0; i < cpus_online; i++)
        if (asked & BIT(i))
            smp_wait(&cpus[i], CPU_REQUEST_VM);
    gs->cpus_entered = 0;
}

/* Guest spaces exist only with a backend (retype refuses them without). */
uint64_t guest_pte_present_bits(void) { return backend->pte_present_bits; }
uint64_t guest_pte_table(uint64_t phys) { return backend->pte_table(phys); }
uint64_t guest_pte_leaf(uint64_t phys, unsigned rights, bool large, bool uncached)
{
    return backend->pte_leaf(phys, rights, large, uncached);
}

_Static_assert(offsetof(struct vcpu, arch) + offsetof(struct vcpu_x86, gpr) == VCPU_X86_GPR_OFFSET,
               "guest_gprs.h finds the guest registers here");

/* Both vendors' I/O bitmaps have one bit per port, set = intercepted, from port 0 on
 * (SDM 25.6.4, APM 15.10.1). */
void vcpu_arch_set_io(struct vcpu *v, unsigned first, unsigned last, bool direct)
{
    io_bitmap_set(vcpu_page(v, VCPU_PAGE_IO_BITMAP), first, last, direct);
}

/* The groups written since the last check as the VMM wrote them, the others as the
 * vCPU has them.  RIP written alone is checked with the whole control and segment
 * state too: that state may be the guest's own, and QEMU's VMRUN, refusing some of it
 * before it loads the guest, saves the host's state over the guest's (a check of RIP
 * against the mode alone brought that back under the fuzzer: docs/security.md). */
unsigned vcpu_arch_check_state(struct vcpu *v, uint64_t groups)
{
    struct guest_state_words w;
    static const struct { uint64_t group; size_t at, words; } parts[] = {
        { PITH_VM_GROUP_RIP, offsetof(struct guest_state_words, rip), 2 },
        { PITH_VM_GROUP_CR, offsetof(struct guest_state_words, cr), 6 },
        { PITH_VM_GROUP_SEG, offsetof(struct guest_state_words, seg), 16 },
        { PITH_VM_GROUP_DTR, offsetof(struct guest_state_words, dtr), 4 },
        { PITH_VM_GROUP_SYS, offsetof(struct guest_state_words, sys), 9 },
        { PITH_VM_GROUP_DR, offsetof(struct guest_state_words, dr), 5 },
    };
    uint64_t needed = groups & (PITH_VM_GROUP_DTR | PITH_VM_GROUP_SYS | PITH_VM_GROUP_DR);
    if (groups & (PITH_VM_GROUP_RIP | PITH_VM_GROUP_CR | PITH_VM_GROUP_SEG))
        needed |= PITH_VM_GROUP_RIP | PITH_VM_GROUP_CR | PITH_VM_GROUP_SEG;
    for (unsigned i = 0; i < ARRAY_SIZE(parts); i++) {
        uint64_t *to = (uint64_t *)((uint8_t *)&w + parts[i].at);
        if (!(needed & parts[i].group))
            continue;
        if (groups & parts[i].group)
            memcpy(to, (const uint8_t *)&v->written + parts[i].at, parts[i].words * sizeof(uint64_t));
        else
            backend->read_group(v, pith_vm_group_index(parts[i].group), to);
    }
    return guest_state_check(&w, groups, &guest_limits);
}

/* ---- DR0..DR3 -------------------------------------------------------------------------
 * The guest reads and writes them without exits and no VM entry or exit switches them,
 * so each vCPU keeps its own: loaded before entry where the CPU holds something else,
 * saved after the exit.  The host never uses them (its DR7 disables every breakpoint,
 * and an exit resets DR7 on both vendors), and user tasks cannot reach them at CPL 3,
 * so what a guest leaves there is only ever seen by the next guest's load.  A VMM
 * reads and writes them (with DR6) as the DR group; the state check keeps a value MOV
 * would fault on (a non-canonical address) from ever reaching write_dr. */

static uint64_t read_dr(unsigned i)
{
    uint64_t value = 0;
    switch (i) {
    case 0: __asm__ volatile("mov %%dr0, %0" : "=r"(value)); break;
    case 1: __asm__ volatile("mov %%dr1, %0" : "=r"(value)); break;
    case 2: __asm__ volatile("mov %%dr2, %0" : "=r"(value)); break;
    case 3: __asm__ volatile("mov %%dr3, %0" : "=r"(value)); break;
    }
    return value;
}

static void write_dr(unsigned i, uint64_t value)
{
    switch (i) {
    case 0: __asm__ volatile("mov %0, %%dr0" :: "r"(value)); break;
    case 1: __asm__ volatile("mov %0, %%dr1" :: "r"(value)); break;
    case 2: __asm__ volatile("mov %0, %%dr2" :: "r"(value)); break;
    case 3: __asm__ volatile("mov %0, %%dr3" :: "r"(value)); break;
    }
}

void vcpu_arch_run(struct vcpu *v)
{
    for (unsigned i = 0; i < 4; i++)
        if (read_dr(i) != vcpu_x86(v)->guest_dr[i])
            write_dr(i, vcpu_x86(v)->guest_dr[i]);
    backend->run(v);
    panic("vCPU backend returned from entering the guest");
}

void vcpu_arch_after_exit(struct vcpu *v)
{
    for (unsigned i = 0; i < 4; i++)
        vcpu_x86(v)->guest_dr[i] = read_dr(i);
    backend->exit_info(v, &vcpu_x86(v)->exit);
}

const struct vcpu_exit *vcpu_arch_exit_info(struct vcpu *v)
{
    return &vcpu_x86(v)->exit;
}

void vcpu_arch_exit_delivered(struct vcpu *v, const struct vcpu_exit *e)
{
    backend->exit_delivered(v, e);
}

/* ---- Tags ------------------------------------------------------------------------------ */

/* A vCPU keeps its tag while the pool is in the round it was given in.  Tags are never
 * given twice in a round, and a new round starts with a flush of every tag, so a fresh
 * tag has no TLB entries.  One pool per CPU: a vCPU that moves to another CPU drops its
 * tag (vcpu_arch_load_space) and takes one of that CPU's pool. */
enum vcpu_tag_result vcpu_tag_get(struct vcpu_tag_pool *pool, struct vcpu *v)
{
    struct vcpu_x86 *x = vcpu_x86(v);
    if (x->tag && x->tag_generation == pool->round)
        return VCPU_TAG_KEPT;
    enum vcpu_tag_result result = VCPU_TAG_FRESH;
    if (pool->round == 0 || pool->next >= pool->count) {
        pool->round++;
        pool->next = 1;         /* tag 0 is the host's */
        result = VCPU_TAG_NEW_ROUND;
    }
    x->tag = pool->next++;
    x->tag_generation = pool->round;
    return result;
}

/* Host interrupts wait while a guest runs; after its exit they are let in here, on the
 * kernel stack, exactly as if they had arrived while the kernel idled. */
void arch_take_interrupts(void)
{
    __asm__ volatile("sti; nop; cli" ::: "memory");
}
