/*
 * Descriptor tables, system-call MSRs, FPU setup, CPU feature probing, and loading a
 * thread's context (address space, kernel entry stack, FPU, FS/GS base, I/O bitmap).
 */
#include "arch.h"
#include "x86.h"

struct __attribute__((packed)) tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
    uint8_t iomap[8192];
    uint8_t iomap_end;      /* SDM 20.5.2: the byte after the bitmap must be all ones */
};

struct __attribute__((packed)) idt_entry {
    uint16_t offset_low, selector;
    uint8_t ist, flags;
    uint16_t offset_mid;
    uint32_t offset_high, reserved;
};

struct __attribute__((packed)) table_pointer {
    uint16_t limit;
    uint64_t base;
};

/* NMI, #DF, #MC and #DB switch to stacks of their own (SDM 6.14.5, IST): they can
 * arrive while RSP is still the user's (right after SYSCALL, right before SYSRET) or
 * the kernel stack is exhausted.  #DB does: a SYSCALL made with RFLAGS.TF set traps
 * after it completes, at the first instruction of syscall_entry (SDM 17.3.1.4). */
enum { IST_DOUBLE_FAULT = 1, IST_NMI, IST_MACHINE_CHECK, IST_DEBUG };

/* What each CPU has of its own: a GDT (its TSS descriptor goes busy when loaded),
 * the TSS with RSP0, the IST stacks and the I/O bitmap, and the stacks. */
struct cpu_tables {
    uint8_t vm_pages[2][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));  /* VMXON region; SVM host save area, host VMCB */
    uint8_t kernel_stack[16384] __attribute__((aligned(16)));
    uint8_t double_fault_stack[8192] __attribute__((aligned(16)));
    uint8_t nmi_stack[8192] __attribute__((aligned(16)));
    uint8_t machine_check_stack[8192] __attribute__((aligned(16)));
    uint8_t debug_stack[4096] __attribute__((aligned(16)));
    struct tss tss __attribute__((aligned(16)));
    uint64_t gdt[8];
};

static struct cpu_tables bsp_tables __attribute__((aligned(4096)));
static struct idt_entry idt[256];           /* shared by every CPU */
static uint8_t fpu_initial[512] __attribute__((aligned(16)));
static uint64_t features;
static bool under_tcg;          /* QEMU's TCG emulates this machine (features_probe) */

extern char vector_table_start[], syscall_entry[], nmi_entry[], double_fault_entry[],
    machine_check_entry[], debug_entry[];
extern uint64_t boot_pml4[512];

struct cpu cpus[MAX_CPUS];

static void gdt_init(struct cpu_tables *t)
{
    uint64_t *gdt = t->gdt;
    gdt[0] = 0;
    gdt[1] = 0x00af9a000000ffffull;     /* kernel code 64 */
    gdt[2] = 0x00cf92000000ffffull;     /* kernel data */
    gdt[3] = 0;     /* SYSRET's base (STAR): no 32-bit user code, so no compatibility mode */
    gdt[4] = 0x00cff2000000ffffull;     /* user data */
    gdt[5] = 0x00affa000000ffffull;     /* user code 64 */
    uint64_t base = (uint64_t)&t->tss, limit = sizeof(t->tss) - 1;
    gdt[6] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
             (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[7] = base >> 32;

    struct table_pointer p = { sizeof(t->gdt) - 1, (uint64_t)gdt };
    __asm__ volatile("lgdt %0" :: "m"(p));
    /* No LDT: a CPU out of INIT has an LDTR at linear 0 with limit 0xffff, where a
     * thread's own page at address 0 would be its descriptors (a call gate to ring 0,
     * a 32-bit code segment).  A null LDTR makes every LDT selector #GP. */
    __asm__ volatile("lldt %w0" :: "r"(0));
    __asm__ volatile(
        "pushq $0x08\n lea 1f(%%rip), %%rax\n pushq %%rax\n lretq\n"
        "1: mov $0x10, %%ax\n mov %%ax, %%ds\n mov %%ax, %%es\n mov %%ax, %%ss\n"
        "xor %%ax, %%ax\n mov %%ax, %%fs\n mov %%ax, %%gs\n" ::: "rax", "memory");

    struct tss *tss = &t->tss;
    tss->rsp[0] = (uint64_t)(t->kernel_stack + sizeof(t->kernel_stack));
    tss->ist[IST_DOUBLE_FAULT - 1] = (uint64_t)(t->double_fault_stack + sizeof(t->double_fault_stack));
    tss->ist[IST_NMI - 1] = (uint64_t)(t->nmi_stack + sizeof(t->nmi_stack));
    tss->ist[IST_MACHINE_CHECK - 1] =
        (uint64_t)(t->machine_check_stack + sizeof(t->machine_check_stack));
    tss->ist[IST_DEBUG - 1] = (uint64_t)(t->debug_stack + sizeof(t->debug_stack));
    tss->iomap_base = offsetof(struct tss, iomap);
    memset(tss->iomap, 0xff, sizeof(tss->iomap));
    tss->iomap_end = 0xff;
    __asm__ volatile("ltr %w0" :: "r"(SEL_TSS));
}

static void idt_set(unsigned v, void *handler, unsigned ist, unsigned dpl)
{
    uint64_t a = (uint64_t)handler;
    idt[v] = (struct idt_entry){
        .offset_low = a & 0xffff, .selector = SEL_KERNEL_CS, .ist = ist,
        .flags = 0x8e | (dpl << 5), .offset_mid = (a >> 16) & 0xffff,
        .offset_high = a >> 32 };
}

static void idt_build(void)
{
    for (unsigned v = 0; v < 256; v++)
        idt_set(v, vector_table_start + 16 * v, 0, 0);
    idt_set(3, vector_table_start + 16 * 3, 0, 3);  /* int3 from user mode faults to handler */
    idt_set(2, nmi_entry, IST_NMI, 0);
    idt_set(8, double_fault_entry, IST_DOUBLE_FAULT, 0);
    idt_set(18, machine_check_entry, IST_MACHINE_CHECK, 0);
    idt_set(1, debug_entry, IST_DEBUG, 0);
}

static void idt_load(void)
{
    struct table_pointer p = { sizeof(idt) - 1, (uint64_t)idt };
    __asm__ volatile("lidt %0" :: "m"(p));
}

static void features_probe(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    uint32_t max_leaf = r[0];
    if (max_leaf >= 7) {
        cpuid(7, 0, r);
        if (r[1] & BIT(7)) features |= PITH_CPU_SMEP;
        if (r[1] & BIT(20)) features |= PITH_CPU_SMAP;
        if (r[2] & BIT(2)) features |= PITH_CPU_UMIP;
    }
    cpuid(1, 0, r);
    if (r[2] & BIT(31)) {       /* a hypervisor: which one, from its leaf */
        uint32_t h[4];
        cpuid(0x40000000, 0, h);
        under_tcg = h[1] == 0x54474354 && h[2] == 0x43544743 && h[3] == 0x47435447;  /* "TCGTCGTCGTCG" */
    }
    if (r[2] & BIT(5)) features |= PITH_CPU_VMX;
    if (r[2] & BIT(21)) features |= PITH_CPU_X2APIC;
    if (r[2] & BIT(24)) features |= PITH_CPU_TSC_DEADLINE;
    if (r[2] & BIT(17)) features |= PITH_CPU_PCID;
    if (r[2] & BIT(26)) features |= PITH_CPU_XSAVE;
    cpuid(0x80000000, 0, r);
    uint32_t max_ext = r[0];
    if (max_ext >= 0x80000001) {
        cpuid(0x80000001, 0, r);
        if (r[2] & BIT(2)) features |= PITH_CPU_SVM;
        if (r[3] & BIT(20)) features |= PITH_CPU_NX;
        if (r[3] & BIT(26)) features |= PITH_CPU_PAGE1G;
    }
    if (max_ext >= 0x80000007) {
        cpuid(0x80000007, 0, r);
        if (r[3] & BIT(8)) features |= PITH_CPU_INVARIANT_TSC;
    }
    if ((features & PITH_CPU_SVM) && max_ext >= 0x8000000a) {
        cpuid(0x8000000a, 0, r);
        if (r[3] & BIT(0)) features |= PITH_CPU_NPT;
    }
    /* EPT: the secondary-controls allowed-1 bits (SDM A.3.3), then bit 1 "enable EPT". */
    if (features & PITH_CPU_VMX) {
        uint64_t procbased = rdmsr(0x482);
        if ((procbased >> 32) & BIT(31)) {
            uint64_t secondary = rdmsr(0x48b);
            if ((secondary >> 32) & BIT(1))
                features |= PITH_CPU_EPT;
        }
    }
}

void cpu_print_features(void)
{
    static const char *const names[] = { "vmx", "svm", "ept", "npt", "x2apic", "tsc-deadline",
                                         "pcid", "xsave", "nx", "page1g", "invariant-tsc",
                                         "smep", "smap", "umip" };
    kprintf("cpu features:");
    for (unsigned i = 0; i < ARRAY_SIZE(names); i++)
        if (features & BIT(i))
            kprintf(" %s", names[i]);
    uint64_t cr4 = read_cr4();
    kprintf("; kernel protection: wp%s%s%s%s\n", features & PITH_CPU_NX ? " nx w^x" : "",
            cr4 & CR4_SMEP ? " smep" : "", cr4 & CR4_SMAP ? " smap" : "",
            cr4 & CR4_UMIP ? " umip" : "");
}

uint64_t cpu_features(void) { return features; }

/* Bits no task can predict, for what must not be steered from outside (the deadline
 * tree's priorities): RDRAND where the CPU has it (a few tries: it may run dry), mixed
 * with the TSC at the moment asked. */
uint64_t cpu_random_seed(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    uint64_t seed = rdtsc();
    if (r[2] & (1u << 30)) {
        for (unsigned i = 0; i < 10; i++) {
            uint64_t value;
            uint8_t ok;
            __asm__ volatile("rdrand %0; setc %1" : "=r"(value), "=qm"(ok) : : "cc");
            if (ok) {
                seed ^= value;
                break;
            }
        }
    }
    return seed;
}
uint64_t cpu_tss_base(void) { return (uint64_t)&this_cpu()->tables->tss; }

/* CR4 (SDM 2.5): SMEP and SMAP keep the kernel from running or touching user pages,
 * UMIP keeps user mode from reading descriptor-table addresses.  Cleared on purpose:
 * PCE (RDPMC faults in user mode), TSD stays clear (RDTSC is the user's clock),
 * FSGSBASE (the kernel alone sets FS and GS bases: arch_load_thread caches them),
 * VME and PVI (no virtual-8086 mode). */
static uint64_t cr4_value(uint64_t cr4)
{
    cr4 &= ~(CR4_VME | CR4_PVI | CR4_TSD | CR4_PCE | CR4_FSGSBASE | CR4_SMEP | CR4_SMAP |
             CR4_UMIP);
    cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_PGE;
    if (features & PITH_CPU_SMEP)
        cr4 |= CR4_SMEP;
    if (features & PITH_CPU_SMAP)
        cr4 |= CR4_SMAP;
    if (features & PITH_CPU_UMIP)
        cr4 |= CR4_UMIP;
    return cr4;
}

/* Descriptor tables, GS base, system-call MSRs and control registers: what every CPU
 * sets up for itself.  The features are the bootstrap processor's, probed first. */
static void cpu_setup(struct cpu *c)
{
    c->self = c;
    c->kernel_stack_top = (uint64_t)(c->tables->kernel_stack + sizeof(c->tables->kernel_stack));
    gdt_init(c->tables);
    wrmsr(MSR_GS_BASE, (uint64_t)c);    /* loading GS in gdt_init cleared the base */
    wrmsr(MSR_KERNEL_GS_BASE, 0);
    idt_load();

    uint64_t efer = rdmsr(MSR_EFER) | EFER_SCE;
    if (features & PITH_CPU_NX)
        efer |= EFER_NXE;
    wrmsr(MSR_EFER, efer);
    wrmsr(MSR_STAR, ((uint64_t)(SEL_USER_CS32 | 3) << 48) | ((uint64_t)SEL_KERNEL_CS << 32));
    wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
    /* User mode has no way into compatibility mode (no 32-bit code segment), so no
     * SYSCALL comes through CSTAR; were one to, it would be an ordinary system call,
     * not a jump to whatever CSTAR held.  SYSENTER from user mode is #GP with CS 0
     * (#UD on AMD in long mode), whatever the firmware left. */
    wrmsr(MSR_CSTAR, (uint64_t)syscall_entry);
    wrmsr(MSR_SYSENTER_CS, 0);
    wrmsr(MSR_SYSENTER_ESP, 0);
    wrmsr(MSR_SYSENTER_EIP, 0);
    /* The kernel runs with interrupts off, forward string operations, no single-step,
     * SMAP in force, and nothing of the user's IOPL or NT (SDM 5.8.8). */
    wrmsr(MSR_FMASK, RFLAGS_IF | RFLAGS_TF | RFLAGS_DF | RFLAGS_AC | RFLAGS_NT | RFLAGS_IOPL);

    /* SSE for user threads; the kernel itself is built without it (SDM 13.1.3). */
    write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE | CR0_WP);
    write_cr4(cr4_value(read_cr4()));
    __asm__ volatile("fninit");
    uint32_t mxcsr = 0x1f80;
    __asm__ volatile("ldmxcsr %0" :: "m"(mxcsr));
}

void cpu_init(void)
{
    struct cpu *c = &cpus[0];
    c->tables = &bsp_tables;
    features_probe();
    idt_build();
    cpu_setup(c);
    fxsave(fpu_initial);
}

bool cpu_prepare(struct cpu *c, void *(*alloc)(uint64_t size))
{
    c->tables = alloc(sizeof(struct cpu_tables));
    return c->tables != NULL;
}

void *cpu_vm_page(struct cpu *c, unsigned i)
{
    return c->tables->vm_pages[i];
}

uint64_t cpu_stack_top(const struct cpu *c)
{
    return (uint64_t)(c->tables->kernel_stack + sizeof(c->tables->kernel_stack));
}

/*
 * QEMU 7.2's TCG, with a thread per emulated CPU, lets any CPU's x87 state load with no
 * exception pending (FXRSTOR, FRSTOR, FLDENV, XRSTOR's x87 part) clear a bit in CPU 0's
 * hidden flags by reading, masking and writing back the whole word, unlocked.  When
 * that overlaps CPU 0 changing the word itself — its #VMEXIT turning nested paging off —
 * the stale word comes back, and CPU 0's host runs on through the guest's nested page
 * tables (docs/security.md, "Open: SMP guests").  So the other CPUs load a thread's
 * FPU state without an x87 state load whenever its x87 part is initial, as it is for
 * threads that never use the x87: FNINIT, the registers zeroed by FLDZ, FNINIT again
 * (none of which touches CPU 0), then MXCSR and the XMM registers.
 */
void cpu_init_ap(struct cpu *c)
{
    cpu_setup(c);
    c->x87_load_races = under_tcg;
}

/* An FXSAVE image whose x87 part is what FNINIT leaves (control word 0x37f, status,
 * tags, instruction and data pointers 0) with every x87 register 0.  The last opcode
 * is not looked at: nothing but a debugger reads it, and FNINIT on some emulators
 * leaves it. */
static bool fpu_x87_initial(const uint8_t *area)
{
    uint64_t w[20];
    memcpy(w, area, sizeof(w));
    uint64_t differs = ((w[0] & 0x0000ffffffffffffull) ^ 0x37f) | w[1] | w[2];
    for (unsigned i = 4; i < 20; i += 2)        /* ST0-ST7: 10 bytes in 16 each */
        differs |= w[i] | (w[i + 1] & 0xffff);
    return differs == 0;
}

__attribute__((no_caller_saved_registers)) void fpu_load_racing_cpu0(const uint8_t *area)
{
    if (!fpu_x87_initial(area)) {
        fxrstor(area);
        return;
    }
    __asm__ volatile("fninit\n\t"
                     "fldz; fldz; fldz; fldz; fldz; fldz; fldz; fldz\n\t"
                     "fninit\n\t"
                     "ldmxcsr 24(%0)\n\t"
                     "movaps 160(%0), %%xmm0\n\t"
                     "movaps 176(%0), %%xmm1\n\t"
                     "movaps 192(%0), %%xmm2\n\t"
                     "movaps 208(%0), %%xmm3\n\t"
                     "movaps 224(%0), %%xmm4\n\t"
                     "movaps 240(%0), %%xmm5\n\t"
                     "movaps 256(%0), %%xmm6\n\t"
                     "movaps 272(%0), %%xmm7\n\t"
                     "movaps 288(%0), %%xmm8\n\t"
                     "movaps 304(%0), %%xmm9\n\t"
                     "movaps 320(%0), %%xmm10\n\t"
                     "movaps 336(%0), %%xmm11\n\t"
                     "movaps 352(%0), %%xmm12\n\t"
                     "movaps 368(%0), %%xmm13\n\t"
                     "movaps 384(%0), %%xmm14\n\t"
                     "movaps 400(%0), %%xmm15"
                     :: "r"(area) : "memory");
}

void arch_thread_init(struct thread *t)
{
    t->regs.cs = SEL_USER_CS;
    t->regs.ss = SEL_USER_DS;
    t->regs.rflags = RFLAGS_IF | 2;
    memcpy(t->fpu, fpu_initial, sizeof(t->fpu));
}

/* want: the space whose ports to allow, NULL for none.  Apart from arch_load_thread,
 * whose every call would otherwise save the registers memcpy needs. */
static __attribute__((noinline)) void load_io_bitmap(struct cpu *c, struct address_space *want)
{
    uint8_t *iomap = c->tables->tss.iomap;
    if (want)
        memcpy(iomap, want->io_bitmap, sizeof(c->tables->tss.iomap));
    else
        memset(iomap, 0xff, sizeof(c->tables->tss.iomap));
    c->io_bitmap_of = want;
}

void arch_load_thread(struct thread *t)
{
    struct cpu *c = this_cpu();
    struct address_space *as = (struct address_space *)t->slots[TSLOT_VSPACE].object;
    if (as != c->loaded_space) {
        write_cr3((uint64_t)as - PHYSMAP_BASE);    /* retyped or boot_alloc'd: in the physmap */
        c->loaded_space = as;
    }
    uint64_t top = (uint64_t)(&t->regs + 1);
    c->tables->tss.rsp[0] = top;
    c->current_regs_top = top;
    arch_fpu_switch(c, t);
    /* A thread can set its own FS or GS base to 0 by loading a selector (every one it
     * may load has base 0), so after it the CPU's bases are either what was written or
     * 0: another thread whose base is the same nonzero value gets it written again. */
    if (c->loaded_fs_base != t->fs_base || (t->fs_base && c->bases_of != t)) {
        wrmsr(MSR_FS_BASE, t->fs_base);
        c->loaded_fs_base = t->fs_base;
    }
    if (c->loaded_gs_base != t->gs_base || (t->gs_base && c->bases_of != t)) {
        wrmsr(MSR_KERNEL_GS_BASE, t->gs_base);
        c->loaded_gs_base = t->gs_base;
    }
    c->bases_of = t;
    struct address_space *io = as->io_ports_open ? as : NULL;
    if (c->io_bitmap_of != io)
        load_io_bitmap(c, io);      /* last: a tail call, nothing to keep across it */
}

/* t's FS or GS base was written (Thread.configure, WRITE_REGISTERS), or t is going
 * away: where t ran last, the CPU's bases may still be what t's code made them (0),
 * so they count as nobody's written values there (not NULL: that says they are). */
void arch_bases_written(struct thread *t)
{
    for (unsigned i = 0; i < cpus_online; i++)
        if (cpus[i].bases_of == t)
            cpus[i].bases_of = BASES_UNKNOWN;
}

/* A thread is going away: no CPU may touch it again.  Another CPU's FPU may still
 * hold its state (not running it: thread_destroy recalled it first); that is dropped. */
void arch_forget_thread(struct thread *t)
{
    for (unsigned i = 0; i < cpus_online; i++)
        if (cpus[i].fpu_owner == t)
            cpus[i].fpu_owner = NULL;
    arch_bases_written(t);      /* a TCB made at the same address is another thread */
}

/* A thread moves to another CPU: its FPU state, wherever it is, goes back to its TCB. */
void arch_release_fpu(struct thread *t)
{
    struct cpu *self = this_cpu();
    for (unsigned i = 0; i < cpus_online; i++) {
        struct cpu *c = &cpus[i];
        if (c->fpu_owner != t)
            continue;
        if (c == self) {
            fxsave(t->fpu);
            c->fpu_owner = NULL;
        } else {
            smp_request(c, CPU_REQUEST_SAVE_FPU);
        }
    }
}

/* Ask every other CPU for which `affected` holds to do `what`, and wait for all. */
static void ask_others(bool (*affected)(const struct cpu *, const struct address_space *),
                       const struct address_space *as, uint32_t what)
{
    struct cpu *self = this_cpu();
    uint32_t asked = 0;
    for (unsigned i = 0; i < cpus_online; i++) {
        if (&cpus[i] != self && affected(&cpus[i], as)) {
            smp_post(&cpus[i], what);
            asked |= 1u << i;
        }
    }
    for (unsigned i = 0; i < cpus_online; i++)
        if (asked & (1u << i))
            smp_wait(&cpus[i], what);
}

static bool has_loaded(const struct cpu *c, const struct address_space *as)
{
    return c->loaded_space == as;
}

static bool has_io_bitmap(const struct cpu *c, const struct address_space *as)
{
    return c->loaded_space == as || c->io_bitmap_of == as;
}

/* What the lock holder asked of this CPU, done while it waits for the lock (smp.c).
 * It touches only this CPU's registers and state, and the FPU owner's save area. */
void arch_serve_requests(struct cpu *c)
{
    uint32_t what = __atomic_load_n(&c->requests, __ATOMIC_ACQUIRE);
    if ((what & CPU_REQUEST_SAVE_FPU) && c->fpu_owner) {
        fxsave(c->fpu_owner->fpu);
        c->fpu_owner = NULL;
    }
    if (what & CPU_REQUEST_KERNEL_SPACE) {
        write_cr3(virt_to_phys(boot_pml4));
        c->loaded_space = NULL;
    } else if (what & CPU_REQUEST_FLUSH_TLB) {
        write_cr3(read_cr3());          /* every non-global entry (SDM 4.10.4.1) */
    }
    if (what & (CPU_REQUEST_RELOAD_IO | CPU_REQUEST_KERNEL_SPACE))
        c->io_bitmap_of = (struct address_space *)-1;
    if (what & CPU_REQUEST_VM)
        vcpu_arch_serve_request(c);
    __atomic_and_fetch(&c->requests, ~what, __ATOMIC_RELEASE);
}

/* The address space is going away: no CPU may keep it loaded. */
void arch_forget_space(struct address_space *as)
{
    struct cpu *c = this_cpu();
    if (c->loaded_space == as) {
        write_cr3(virt_to_phys(boot_pml4));
        c->loaded_space = NULL;
    }
    if (c->io_bitmap_of == as)
        c->io_bitmap_of = (struct address_space *)-1;  /* reload on next switch */
    ask_others(has_io_bitmap, as, CPU_REQUEST_KERNEL_SPACE);
}

/* The address space's I/O bitmap changed: load it again before the next switch, on a
 * CPU running one of its threads before that thread goes on. */
void arch_forget_space_io(struct address_space *as)
{
    struct cpu *c = this_cpu();
    if (c->io_bitmap_of == as || c->loaded_space == as)
        c->io_bitmap_of = (struct address_space *)-1;
    ask_others(has_io_bitmap, as, CPU_REQUEST_RELOAD_IO);
}

/* TLB shootdown: the flush has happened on every CPU before this returns.  Only CPUs
 * with the space loaded can cache its entries (no PCID: loading CR3 flushes them). */
void arch_flush_tlb_page(struct address_space *as, uint64_t vaddr)
{
    if (this_cpu()->loaded_space == as)
        invlpg(vaddr);
    ask_others(has_loaded, as, CPU_REQUEST_FLUSH_TLB);
}

void arch_flush_tlb(struct address_space *as)
{
    if (this_cpu()->loaded_space == as)
        write_cr3(virt_to_phys(as));
    ask_others(has_loaded, as, CPU_REQUEST_FLUSH_TLB);
}
