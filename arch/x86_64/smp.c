/*
 * The application processors (SDM 8.4, multiple-processor initialization).  The
 * bootstrap processor finds them in the ACPI MADT (kernel/acpi.c), copies the start-up
 * code (trampoline.S) to a free page below 1 MiB and wakes them one at a time with
 * INIT and two STARTUP IPIs.  Each AP arrives in smp_ap_main on its own kernel stack,
 * loads its own GDT, TSS and GS base, the shared IDT, the kernel's page tables and the
 * BSP's control-register protections, enables its LAPIC and timer, says it is online
 * and joins the scheduler: it waits for the big kernel lock and runs its own queue.
 *
 * The big kernel lock is a ticket lock (fair: CPUs get it in the order they asked).
 * The holder may need another CPU's help: to flush its TLB, to save the FPU state of
 * a thread it ran, to let go of a thread.  It posts the request in that CPU's
 * `requests`, sends an IPI and waits, lock held, until the request is cleared.  The
 * other CPU may be in user mode or a guest (the IPI brings it into the kernel), idle
 * in `sti; hlt` (the IPI wakes it), or already waiting for the lock with interrupts
 * off: every one of these ends in kernel_lock(), whose wait loop serves requests.  So
 * requests are served without the lock, by a CPU that touches nothing but its own
 * registers and per-CPU state, and no CPU ever waits for one that waits for it.
 */
#include "arch.h"
#include "x86.h"
#include "trampoline.h"
#include "../../kernel/acpi.h"

#define PHYSMAP_SIZE        (4ull << 30)
#define ONLINE_TIMEOUT_US   200000
#define EBDA_SEGMENT_AT     0x40e           /* in the BIOS data area */
#define BIOS_ROM_AREA       0xe0000ull      /* ACPI 6.5 §5.2.5.1: RSDP search areas */
#define BIOS_ROM_AREA_SIZE  0x20000ull
#define PTE_PRESENT         BIT(0)
#define PTE_WRITE           BIT(1)
#define PTE_LARGE           BIT(7)

struct __attribute__((packed)) trampoline_params {
    uint64_t gdt[4];
    uint16_t gdt_limit;
    uint32_t gdt_base;
    uint16_t pad0;
    uint32_t jump32_offset;
    uint16_t jump32_selector, pad1;
    uint32_t jump64_offset;
    uint16_t jump64_selector, pad2;
    uint32_t cr3, efer;
    uint64_t stack, cpu, entry;
};
_Static_assert(offsetof(struct trampoline_params, gdt_limit) == TRAMPOLINE_GDT_POINTER, "");
_Static_assert(offsetof(struct trampoline_params, jump32_offset) == TRAMPOLINE_JUMP32, "");
_Static_assert(offsetof(struct trampoline_params, jump64_offset) == TRAMPOLINE_JUMP64, "");
_Static_assert(offsetof(struct trampoline_params, cr3) == TRAMPOLINE_CR3, "");
_Static_assert(offsetof(struct trampoline_params, efer) == TRAMPOLINE_EFER, "");
_Static_assert(offsetof(struct trampoline_params, stack) == TRAMPOLINE_STACK, "");
_Static_assert(offsetof(struct trampoline_params, cpu) == TRAMPOLINE_CPU, "");
_Static_assert(offsetof(struct trampoline_params, entry) == TRAMPOLINE_ENTRY, "");
_Static_assert(sizeof(struct trampoline_params) == TRAMPOLINE_PARAMS_SIZE, "");

extern const uint8_t trampoline_start[], trampoline_32[], trampoline_64[],
    trampoline_params[], trampoline_end[];
extern uint64_t boot_pml4[512];

unsigned cpus_online = 1;

struct kernel_lock_state big_lock;

__attribute__((noinline)) void kernel_lock_wait(uint32_t ticket)
{
    struct cpu *c = this_cpu();
    while (__atomic_load_n(&big_lock.serving, __ATOMIC_ACQUIRE) != ticket) {
        if (__atomic_load_n(&c->requests, __ATOMIC_ACQUIRE))
            arch_serve_requests(c);
        __asm__ volatile("pause");
    }
}

/* Every system call takes it: the uncontended case is a handful of instructions. */
void kernel_lock(void)
{
    uint32_t ticket = __atomic_fetch_add(&big_lock.next_ticket, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&big_lock.serving, __ATOMIC_ACQUIRE) != ticket)
        kernel_lock_wait(ticket);
}

/* kernel_unlock for the world-switch stubs, which call it. */
void kernel_unlock_from_asm(void)
{
    kernel_unlock();
}

void smp_post(struct cpu *c, uint32_t what)
{
    __atomic_or_fetch(&c->requests, what, __ATOMIC_RELEASE);
    lapic_send_ipi(c->apic_id, VECTOR_IPI);
}

void smp_wait(struct cpu *c, uint32_t what)
{
    while (__atomic_load_n(&c->requests, __ATOMIC_ACQUIRE) & what)
        __asm__ volatile("pause");
}

void smp_request(struct cpu *c, uint32_t what)
{
    smp_post(c, what);
    smp_wait(c, what);
}

void smp_reschedule(struct cpu *c)
{
    lapic_send_ipi(c->apic_id, VECTOR_IPI);
}

/* Nothing to run: wait for an interrupt without the lock.  An interrupt taken here
 * takes the lock for its handler (trap_from_kernel); `sti; hlt` lets none slip in
 * between (the STI shadow covers the HLT).  An idle CPU does not tick; once it has
 * something to run again, its timer is armed before it leaves. */
void cpu_idle(struct cpu *c)
{
    c->idle = true;
    vcpu_arch_before_idle(c);
    lapic_before_idle();
    kernel_unlock();
    sti_hlt();
    kernel_lock();
    c->idle = false;
    timer_reprogram();
}

NORETURN void smp_ap_main(struct cpu *c);

static const void *map_physical(uint64_t phys, uint64_t len, void *ctx)
{
    (void)ctx;
    if (phys >= PHYSMAP_SIZE || len > PHYSMAP_SIZE - phys)
        return NULL;
    return phys_to_virt(phys);
}

/* GRUB's copy of the RSDP, else the BIOS areas: the EBDA's first KiB, then the ROM. */
static const uint8_t *find_rsdp(const uint8_t *copy, unsigned size, size_t *len)
{
    *len = size;
    if (size)
        return copy;
    uint64_t ebda = (uint64_t)*(const uint16_t *)phys_to_virt(EBDA_SEGMENT_AT) << 4;
    const uint64_t areas[2][2] = { { ebda, 1024 }, { BIOS_ROM_AREA, BIOS_ROM_AREA_SIZE } };
    for (unsigned i = 0; i < 2; i++) {
        if (areas[i][0] < 0x1000 || areas[i][0] + areas[i][1] > 0x100000)
            continue;
        const uint8_t *area = phys_to_virt(areas[i][0]);
        size_t at = acpi_rsdp_scan(area, areas[i][1]);
        if (at < areas[i][1]) {
            *len = areas[i][1] - at;
            return area + at;
        }
    }
    return NULL;
}

/* The start-up page table: the kernel's upper half and the first 2 MiB at their own
 * addresses (executable), which hold the start-up code. */
static uint64_t startup_page_table(void *(*alloc)(uint64_t size))
{
    uint64_t *pml4 = alloc(PAGE_SIZE), *pdpt = alloc(PAGE_SIZE), *pd = alloc(PAGE_SIZE);
    for (unsigned i = 256; i < 512; i++)
        pml4[i] = boot_pml4[i];
    pml4[0] = virt_to_phys(pdpt) | PTE_PRESENT | PTE_WRITE;
    pdpt[0] = virt_to_phys(pd) | PTE_PRESENT | PTE_WRITE;
    pd[0] = PTE_PRESENT | PTE_WRITE | PTE_LARGE;
    return virt_to_phys(pml4);
}

static struct trampoline_params *install_trampoline(uint64_t phys, void *(*alloc)(uint64_t size))
{
    uint8_t *page = phys_to_virt(phys);
    memcpy(page, trampoline_start, (size_t)(trampoline_end - trampoline_start));
    struct trampoline_params *p = (void *)(page + (trampoline_params - trampoline_start));
    p->gdt_limit = sizeof(p->gdt) - 1;
    p->gdt_base = (uint32_t)(phys + (trampoline_params - trampoline_start));
    p->jump32_offset = (uint32_t)(phys + (trampoline_32 - trampoline_start));
    p->jump32_selector = TRAMPOLINE_CODE32_SEL;
    p->jump64_offset = (uint32_t)(phys + (trampoline_64 - trampoline_start));
    p->jump64_selector = TRAMPOLINE_CODE64_SEL;
    p->cr3 = (uint32_t)startup_page_table(alloc);
    p->efer = (uint32_t)(EFER_LME | (cpu_features() & PITH_CPU_NX ? EFER_NXE : 0));
    p->entry = (uint64_t)smp_ap_main;
    return p;
}

/* Wake one AP and wait until it is online.  One that stays silent gets INIT again, so
 * it cannot wake later on a parameter block meant for the next. */
static bool start_cpu(struct cpu *c, struct trampoline_params *p, uint64_t trampoline_phys)
{
    p->stack = cpu_stack_top(c);
    p->cpu = (uint64_t)c;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);    /* the block is written before the IPI */
    if (!lapic_start_cpu(c->apic_id, trampoline_phys))
        return false;
    uint64_t deadline = rdtsc() + timer_tsc_hz() / 1000000 * ONLINE_TIMEOUT_US;
    while (!__atomic_load_n(&c->online, __ATOMIC_ACQUIRE)) {
        if (rdtsc() > deadline) {
            lapic_reset_cpu(c->apic_id);
            return false;
        }
        __asm__ volatile("pause");
    }
    return true;
}

static void start_all(const struct acpi_cpus *found, uint64_t trampoline_phys,
                      void *(*alloc)(uint64_t size))
{
    struct trampoline_params *params = NULL;
    for (unsigned i = 0; i < found->count; i++) {
        uint32_t apic_id = found->apic_id[i];
        if (apic_id == cpus[0].apic_id)
            continue;
        if (cpus_online == MAX_CPUS) {
            kprintf("cpus: more than %u, APIC ID %u and later left alone\n", MAX_CPUS, apic_id);
            return;
        }
        if (!params)
            params = install_trampoline(trampoline_phys, alloc);
        struct cpu *c = &cpus[cpus_online];
        c->id = cpus_online;
        c->apic_id = apic_id;
        if (!c->tables && !cpu_prepare(c, alloc))
            return;
        if (start_cpu(c, params, trampoline_phys))
            cpus_online++;
        else
            kprintf("cpus: APIC ID %u did not come online, left alone\n", apic_id);
    }
}

unsigned smp_start(const uint8_t *rsdp_copy, unsigned rsdp_size, uint64_t trampoline_phys,
                   void *(*alloc)(uint64_t size))
{
    kernel_lock();          /* held from now until the root task first leaves */
    cpus[0].apic_id = lapic_id();
    cpus[0].online = 1;
    static struct acpi_cpus found;
    size_t rsdp_len;
    const uint8_t *rsdp = find_rsdp(rsdp_copy, rsdp_size, &rsdp_len);
    int err = rsdp ? acpi_find_cpus(rsdp, rsdp_len, map_physical, NULL, &found) : ACPI_BAD_RSDP;
    irq_controller_init(err == ACPI_OK ? &found : NULL, cpus[0].apic_id);
    if (err != ACPI_OK || found.count == 0) {
        kprintf("cpus: no processors in the ACPI tables (error %d): 1 found, 1 online\n", err);
        return cpus_online;
    }
    if (!trampoline_phys)
        kprintf("cpus: no free page below 1 MiB to start the others from\n");
    else
        start_all(&found, trampoline_phys, alloc);
    kprintf("cpus: %u found, %u online\n", found.count + found.dropped, cpus_online);
    return cpus_online;
}

void smp_ap_main(struct cpu *c)
{
    cpu_init_ap(c);
    write_cr3(virt_to_phys(boot_pml4));
    lapic_init_ap();
    timer_init_ap();
    vcpu_boot_ap();
    __atomic_store_n(&c->online, 1, __ATOMIC_RELEASE);
    kernel_lock();
    timer_reprogram();
    sched_return_to_user();
}
