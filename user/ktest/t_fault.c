/*
 * Faults: page faults and exceptions of a thread arrive at its fault endpoint as a
 * Call (label PITH_FAULT_*, MR0 rip, MR1 address, MR2 error code, MR3 vector); a
 * reply resumes the thread, at MR0 when the reply carries one.  Each case starts a
 * thread that does one thing wrong; the thread reports a finished run by calling the
 * endpoint with label FX_DONE, so a thread that does not fault fails the case
 * instead of hanging it.
 */
#include "ktest.h"

#define FX_DONE         0x7d0
#define FX_PRIORITY     90      /* below the root: threads run while it waits */

/* Page-fault error code bits (SDM Vol. 3 §4.7). */
#define PF_PRESENT      1u
#define PF_WRITE        2u
#define PF_USER         4u
#define PF_FETCH        16u

/* What the case and its thread share: the thread stores the address of the
 * instruction about to fault in `rip` before executing it. */
static struct {
    pith_cap_t ep;
    uint64_t addr;
    volatile uint64_t rip;
    volatile uint64_t rip2;
    volatile uint64_t value;
    volatile uint64_t step;
} fx;

/* A fresh endpoint for the case, recorded in fx.ep for the threads. */
static pith_cap_t fx_begin(struct pith_test_ctx *ctx)
{
    fx.addr = fx.rip = fx.rip2 = fx.value = fx.step = 0;
    fx.ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    return fx.ep;
}

/* Thread side: report a run to the end with a value. */
static void fx_done(uint64_t value)
{
    struct pith_msg m = { .info = pith_msginfo(FX_DONE, 1, 0), .mr = { value } };
    pith_call(fx.ep, &m);
}

/* Receive the next message on ep and check its label (a fault kind or FX_DONE). */
static bool fx_expect(struct pith_test_ctx *ctx, pith_cap_t ep, struct pith_msg *m, uint64_t label)
{
    if (!pith_expect_ok(ctx, pith_recv(ep, m), "receiving on the fault endpoint"))
        return false;
    uint64_t got = pith_msginfo_label(m->info);
    return pith_expect(ctx, got == label, "expected label %lx, got %lx (rip %lx, vector %lu)",
                       label, got, m->mr[0], m->mr[3]);
}

/* Receive an exception and check the whole fault message; *rip is read after the
 * fault arrived (the thread stores it just before the faulting instruction). */
static bool fx_expect_exception(struct pith_test_ctx *ctx, pith_cap_t ep, struct pith_msg *m,
                                uint64_t vector, const volatile uint64_t *rip, uint64_t error)
{
    if (!fx_expect(ctx, ep, m, PITH_FAULT_EXCEPTION))
        return false;
    bool ok = pith_expect_eq(ctx, pith_msginfo_length(m->info), 4, "fault message length");
    ok = ok && pith_expect_eq(ctx, m->mr[3], vector, "vector (MR3)");
    ok = ok && pith_expect_eq(ctx, m->mr[0], *rip, "rip (MR0)");
    ok = ok && pith_expect_eq(ctx, m->mr[1], 0, "address (MR1) of an exception");
    ok = ok && pith_expect_eq(ctx, m->mr[2], error, "error code (MR2)");
    return ok;
}

/* Resume the faulting thread (the one whose Call we received last) where it was. */
static bool fx_resume(struct pith_test_ctx *ctx)
{
    struct pith_msg r = { .info = pith_msginfo(0, 0, 0) };
    return pith_expect_ok(ctx, pith_reply(&r), "replying to the fault");
}

/* Resume it at rip (a reply of length 1). */
static bool fx_resume_at(struct pith_test_ctx *ctx, uint64_t rip)
{
    struct pith_msg r = { .info = pith_msginfo(0, 1, 0), .mr = { rip } };
    return pith_expect_ok(ctx, pith_reply(&r), "replying with a new rip");
}

/* ---- Threads ------------------------------------------------------------------------ */

static void write_fx_addr(uint64_t value)
{
    __asm__ volatile("lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %0\n"
                     "1:\tmovq %2, (%1)"
                     : "=m"(fx.rip) : "r"(fx.addr), "r"(value) : "rax", "memory");
    fx_done(*(volatile uint64_t *)fx.addr);
}

static void read_fx_addr(uint64_t unused)
{
    (void)unused;
    uint64_t v;
    __asm__ volatile("lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %0\n"
                     "1:\tmovq (%2), %1"
                     : "=m"(fx.rip), "=r"(v) : "r"(fx.addr) : "rax", "memory");
    fx_done(v);
}

/* ud2, then (if resumed after it) report rbx, which must have survived the fault. */
static void do_ud2(uint64_t magic)
{
    uint64_t rbx_after;
    __asm__ volatile("mov %2, %%rbx\n\t"
                     "lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %0\n"
                     "1:\tud2\n\t"
                     "mov %%rbx, %1"
                     : "=m"(fx.rip), "=r"(rbx_after) : "r"(magic) : "rax", "rbx", "memory");
    fx.step = 1;
    fx_done(rbx_after);
}

static void do_hlt_cli(uint64_t unused)
{
    (void)unused;
    __asm__ volatile("lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %0\n"
                     "1:\thlt\n\t"
                     "lea 2f(%%rip), %%rax\n\t"
                     "mov %%rax, %1\n"
                     "2:\tcli"
                     : "=m"(fx.rip), "=m"(fx.rip2) : : "rax", "memory");
    fx_done(0);
}

/* A far jump to `selector`; with 0x1b, the selector SYSRET's layout keeps for 32-bit
 * user code: were there such a segment, the thread would run the SYSCALL after it in
 * compatibility mode, which enters the kernel through CSTAR.  (A jump through a 16:32
 * pointer, which every vendor has; a far return would do as well on a CPU, but QEMU
 * pops its operands with the kernel's rights, so SMAP faults it first.) */
static struct __attribute__((packed)) { uint32_t offset; uint16_t selector; } far_target;

static void far_jump_to(uint64_t selector)
{
    __asm__ volatile("lea 2f(%%rip), %%rax\n\t"
                     "mov %%eax, %1\n\t"
                     "movw %w3, %2\n\t"
                     "lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %0\n"
                     "1:\tljmpl *%1\n"
                     "2:\t.byte 0x0f, 0x05"
                     : "=m"(fx.rip), "+m"(far_target.offset), "+m"(far_target.selector)
                     : "r"(selector) : "rax", "rcx", "r11", "memory");
    fx_done(0);
}

static void do_sysenter(uint64_t unused)
{
    (void)unused;
    __asm__ volatile("lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %0\n"
                     "1:\tsysenter"
                     : "=m"(fx.rip) : : "rax", "rcx", "rdx", "memory");
    fx_done(0);
}

static void do_noncanonical(uint64_t unused)
{
    (void)unused;
    uint64_t v;
    __asm__ volatile("lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %0\n"
                     "1:\tmovq (%2), %1"
                     : "=m"(fx.rip), "=r"(v) : "r"(0x8000000000000000ull) : "rax", "memory");
    fx_done(v);
}

static void do_divide(uint64_t unused)
{
    (void)unused;
    __asm__ volatile("lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %0\n\t"
                     "xor %%edx, %%edx\n\t"
                     "mov $1, %%eax\n\t"
                     "xor %%ecx, %%ecx\n"
                     "1:\tdivl %%ecx"
                     : "=m"(fx.rip) : : "rax", "rcx", "rdx", "memory");
    fx_done(0);
}

/* int3 is a trap: the reported rip is the instruction after it. */
static void do_int3(uint64_t unused)
{
    (void)unused;
    __asm__ volatile("lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %0\n\t"
                     "int3\n"
                     "1:\tnop"
                     : "=m"(fx.rip) : : "rax", "memory");
    fx.step = 1;
    fx_done(0);
}

/* Jump into a page mapped without EXECUTE: an instruction fetch fault. */
static void do_jump_addr(uint64_t unused)
{
    (void)unused;
    ((void (*)(void))fx.addr)();
    fx_done(0);
}

/* count ud2 in a row, each resumed after the instruction by the handler. */
static void do_ud2_loop(uint64_t count)
{
    for (uint64_t i = 0; i < count; i++) {
        fx.step = i;
        __asm__ volatile("ud2" ::: "memory");
    }
    fx.step = count;
    fx_done(count);
}

/* Divide by zero with the x87 zero-divide exception unmasked: the next waiting
 * instruction raises #MF. */
static void do_x87_divide(uint64_t unused)
{
    (void)unused;
    uint16_t fcw = 0x037f & ~(1u << 2);
    float zero = 0.0f;
    __asm__ volatile("fldcw %1\n\t"
                     "fld1\n\t"
                     "fdivs %2\n\t"
                     "lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %0\n"
                     "1:\tfwait\n\t"
                     "fstp %%st(0)"
                     : "=m"(fx.rip) : "m"(fcw), "m"(zero) : "rax", "memory");
    fx_done(0);
}

/* ---- Cases -------------------------------------------------------------------------- */

static void page_fault_unmapped_write(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx))
        return;
    fx.addr = kt_window() + 0x1238;
    if (!kt_thread_start(ctx, &t, write_fx_addr, 5, FX_PRIORITY, fx.ep))
        return;
    if (fx_expect(ctx, fx.ep, &m, PITH_FAULT_PAGE)) {
        pith_expect_eq(ctx, pith_msginfo_length(m.info), 4, "fault message length");
        pith_expect_eq(ctx, m.mr[0], fx.rip, "rip (MR0)");
        pith_expect_eq(ctx, m.mr[1], fx.addr, "fault address (MR1)");
        pith_expect_eq(ctx, m.mr[2] & (PF_PRESENT | PF_WRITE | PF_USER), PF_WRITE | PF_USER,
                       "error code: not present, write, user");
        pith_expect_eq(ctx, m.mr[3], 14, "vector (MR3)");
        pith_expect_eq(ctx, m.badge, 0, "badge of an unbadged fault endpoint");
    }
    kt_thread_destroy(&t);
}

static void page_fault_unmapped_read(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx))
        return;
    fx.addr = kt_window() + 0x7ff8;
    if (!kt_thread_start(ctx, &t, read_fx_addr, 0, FX_PRIORITY, fx.ep))
        return;
    if (fx_expect(ctx, fx.ep, &m, PITH_FAULT_PAGE)) {
        pith_expect_eq(ctx, m.mr[0], fx.rip, "rip (MR0)");
        pith_expect_eq(ctx, m.mr[1], fx.addr, "fault address (MR1)");
        pith_expect_eq(ctx, m.mr[2] & (PF_PRESENT | PF_WRITE | PF_USER), PF_USER,
                       "error code: not present, read, user");
        pith_expect_eq(ctx, m.mr[3], 14, "vector (MR3)");
    }
    kt_thread_destroy(&t);
}

static void page_fault_read_only(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx))
        return;
    pith_cap_t frame = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    fx.addr = kt_window() + 0x40;
    if (!frame || !pith_expect_ok(ctx, kt_map(frame, fx.addr & ~0xfffull, PITH_RIGHT_READ),
                                  "mapping a frame read-only"))
        return;
    pith_expect_eq(ctx, *(volatile uint64_t *)fx.addr, 0, "the read-only page reads");
    if (!kt_thread_start(ctx, &t, write_fx_addr, 7, FX_PRIORITY, fx.ep))
        return;
    if (fx_expect(ctx, fx.ep, &m, PITH_FAULT_PAGE)) {
        pith_expect_eq(ctx, m.mr[0], fx.rip, "rip (MR0)");
        pith_expect_eq(ctx, m.mr[1], fx.addr, "fault address (MR1)");
        pith_expect_eq(ctx, m.mr[2] & (PF_PRESENT | PF_WRITE | PF_USER),
                       PF_PRESENT | PF_WRITE | PF_USER, "error code: present, write, user");
    }
    kt_thread_destroy(&t);
    pith_expect_eq(ctx, *(volatile uint64_t *)fx.addr, 0, "the page is unchanged");
}

static void page_fault_no_execute(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!pith_expect(ctx, kt_bootinfo->cpu_features & PITH_CPU_NX, "the CPU has no NX"))
        return;
    if (!fx_begin(ctx))
        return;
    pith_cap_t frame = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    fx.addr = kt_window();
    if (!frame || !pith_expect_ok(ctx, kt_map(frame, fx.addr, PITH_RIGHT_READ | PITH_RIGHT_WRITE),
                                  "mapping a frame without EXECUTE"))
        return;
    *(volatile uint8_t *)fx.addr = 0xc3;    /* ret: harmless if it did run */
    if (!kt_thread_start(ctx, &t, do_jump_addr, 0, FX_PRIORITY, fx.ep))
        return;
    if (fx_expect(ctx, fx.ep, &m, PITH_FAULT_PAGE)) {
        pith_expect_eq(ctx, m.mr[0], fx.addr, "rip (MR0) is the page");
        pith_expect_eq(ctx, m.mr[1], fx.addr, "fault address (MR1)");
        pith_expect_eq(ctx, m.mr[2] & (PF_PRESENT | PF_USER | PF_FETCH),
                       PF_PRESENT | PF_USER | PF_FETCH, "error code: present, user, fetch");
    }
    kt_thread_destroy(&t);
}

static void invalid_opcode(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, do_ud2, 1, FX_PRIORITY, fx.ep))
        return;
    fx_expect_exception(ctx, fx.ep, &m, 6, &fx.rip, 0);
    kt_thread_destroy(&t);
    pith_expect_eq(ctx, fx.step, 0, "the thread did not go on");
}

static void general_protection_privileged(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, do_hlt_cli, 0, FX_PRIORITY, fx.ep))
        return;
    if (fx_expect_exception(ctx, fx.ep, &m, 13, &fx.rip, 0) && fx_resume_at(ctx, m.mr[0] + 1) &&
        fx_expect_exception(ctx, fx.ep, &m, 13, &fx.rip2, 0) && fx_resume_at(ctx, m.mr[0] + 1))
        fx_expect(ctx, fx.ep, &m, FX_DONE);
    kt_thread_destroy(&t);
}

/* A far jump to `selector` must be #GP naming it (RPL aside). */
static void far_jump_refused(struct pith_test_ctx *ctx, uint64_t selector)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, far_jump_to, selector, FX_PRIORITY, fx.ep))
        return;
    fx_expect_exception(ctx, fx.ep, &m, 13, &fx.rip, selector & ~3ull);
    kt_thread_destroy(&t);
}

/* User mode has no 32-bit code segment. */
static void no_compatibility_mode(struct pith_test_ctx *ctx) { far_jump_refused(ctx, 0x1b); }

/* There is no LDT: its first selector (TI set, RPL 3) names nothing.  A CPU whose
 * LDTR was left as INIT leaves it would read descriptors at address 0 instead. */
static void no_ldt(struct pith_test_ctx *ctx) { far_jump_refused(ctx, 0x07); }

/* SYSENTER from user mode faults: #GP(0), SYSENTER_CS being 0 (Intel), or #UD (AMD,
 * in long mode); never an entry at whatever SYSENTER_EIP holds. */
static void sysenter_refused(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, do_sysenter, 0, FX_PRIORITY, fx.ep))
        return;
    if (fx_expect(ctx, fx.ep, &m, PITH_FAULT_EXCEPTION)) {
        pith_expect(ctx, m.mr[3] == 13 || m.mr[3] == 6, "vector %lu, not #GP or #UD", m.mr[3]);
        pith_expect_eq(ctx, m.mr[2], 0, "error code (MR2)");
        pith_expect_eq(ctx, m.mr[0], fx.rip, "rip (MR0)");
    }
    kt_thread_destroy(&t);
}

static void general_protection_noncanonical(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, do_noncanonical, 0, FX_PRIORITY, fx.ep))
        return;
    fx_expect_exception(ctx, fx.ep, &m, 13, &fx.rip, 0);
    kt_thread_destroy(&t);
}

static void divide_error(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, do_divide, 0, FX_PRIORITY, fx.ep))
        return;
    fx_expect_exception(ctx, fx.ep, &m, 0, &fx.rip, 0);
    kt_thread_destroy(&t);
}

static void breakpoint(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, do_int3, 0, FX_PRIORITY, fx.ep))
        return;
    /* A trap: resuming at the reported rip goes on after the int3. */
    if (fx_expect_exception(ctx, fx.ep, &m, 3, &fx.rip, 0) && fx_resume(ctx))
        fx_expect(ctx, fx.ep, &m, FX_DONE);
    pith_expect_eq(ctx, fx.step, 1, "the thread went on after int3");
    kt_thread_destroy(&t);
}

static void x87_exception(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, do_x87_divide, 0, FX_PRIORITY, fx.ep))
        return;
    fx_expect_exception(ctx, fx.ep, &m, 16, &fx.rip, 0);
    kt_thread_destroy(&t);
}

/* The handler maps the missing page and replies: the write completes. */
static void resume_after_map(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx))
        return;
    pith_cap_t frame = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    fx.addr = kt_window() + 0x2a0;
    if (!frame || !kt_thread_start(ctx, &t, write_fx_addr, 0xfeedf00d5eed, FX_PRIORITY, fx.ep))
        return;
    if (fx_expect(ctx, fx.ep, &m, PITH_FAULT_PAGE) &&
        pith_expect_eq(ctx, m.mr[1], fx.addr, "fault address") &&
        pith_expect_ok(ctx, kt_map(frame, fx.addr & ~0xfffull, PITH_RIGHT_READ | PITH_RIGHT_WRITE),
                       "mapping the missing page") &&
        fx_resume(ctx) && fx_expect(ctx, fx.ep, &m, FX_DONE)) {
        pith_expect_eq(ctx, m.mr[0], 0xfeedf00d5eed, "the thread reads its value back");
        pith_expect_eq(ctx, *(volatile uint64_t *)fx.addr, 0xfeedf00d5eed, "the write landed");
    }
    kt_thread_destroy(&t);
}

/* Replying without repairing anything runs the instruction again: the same fault. */
static void refault_until_mapped(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx))
        return;
    pith_cap_t frame = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    fx.addr = kt_window() + 0x18;
    if (!frame || !kt_thread_start(ctx, &t, write_fx_addr, 99, FX_PRIORITY, fx.ep))
        return;
    for (unsigned i = 0; i < 5; i++) {
        if (!fx_expect(ctx, fx.ep, &m, PITH_FAULT_PAGE) ||
            !pith_expect_eq(ctx, m.mr[0], fx.rip, "the same rip each time") ||
            !pith_expect_eq(ctx, m.mr[1], fx.addr, "the same address each time")) {
            kt_thread_destroy(&t);
            return;
        }
        if (i < 4)
            fx_resume(ctx);
    }
    if (pith_expect_ok(ctx, kt_map(frame, fx.addr & ~0xfffull, PITH_RIGHT_READ | PITH_RIGHT_WRITE),
                       "mapping the page") &&
        fx_resume(ctx) && fx_expect(ctx, fx.ep, &m, FX_DONE))
        pith_expect_eq(ctx, m.mr[0], 99, "the write completed");
    kt_thread_destroy(&t);
}

/* Skip ud2 by rewriting rip with WRITE_REGISTERS while the thread waits, then reply. */
static void resume_write_registers(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, do_ud2, 0x0123456789abcdef, FX_PRIORITY, fx.ep))
        return;
    if (fx_expect_exception(ctx, fx.ep, &m, 6, &fx.rip, 0)) {
        uint64_t regs[1] = { m.mr[0] + 2 };
        if (pith_expect_ok(ctx, pith_thread_write_registers(t.tcb, regs, 1), "writing rip") &&
            fx_resume(ctx) && fx_expect(ctx, fx.ep, &m, FX_DONE)) {
            pith_expect_eq(ctx, m.mr[0], 0x0123456789abcdef, "rbx survived the fault");
            pith_expect_eq(ctx, fx.step, 1, "the thread went on");
        }
    }
    kt_thread_destroy(&t);
}

/* Skip ud2 with a reply of length 1: MR0 is the new rip. */
static void resume_reply_rip(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, do_ud2, 0x5a5a, FX_PRIORITY, fx.ep))
        return;
    if (fx_expect_exception(ctx, fx.ep, &m, 6, &fx.rip, 0) && fx_resume_at(ctx, m.mr[0] + 2) &&
        fx_expect(ctx, fx.ep, &m, FX_DONE)) {
        pith_expect_eq(ctx, m.mr[0], 0x5a5a, "rbx survived the fault");
        pith_expect_eq(ctx, fx.step, 1, "the thread went on");
    }
    kt_thread_destroy(&t);
}

/* A reply naming a kernel rip stops the thread instead; it can be restarted. */
static void resume_bad_rip_suspends(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, do_ud2, 77, KT_ROOT_PRIORITY, fx.ep))
        return;
    if (!fx_expect_exception(ctx, fx.ep, &m, 6, &fx.rip, 0) || !fx_resume_at(ctx, PITH_USER_TOP)) {
        kt_thread_destroy(&t);
        return;
    }
    for (unsigned i = 0; i < 20; i++)
        pith_yield();
    struct pith_msg probe;
    pith_expect_err(ctx, pith_nb_recv(fx.ep, &probe), PITH_E_WOULD_BLOCK, "no fault again");
    pith_expect_eq(ctx, fx.step, 0, "the thread is stopped");
    uint64_t regs[1] = { 0 };
    if (pith_expect_ok(ctx, pith_thread_read_registers(t.tcb, regs, 1), "reading rip"))
        pith_expect_eq(ctx, regs[0], fx.rip, "rip still at the ud2");
    regs[0] = fx.rip + 2;
    if (pith_expect_ok(ctx, pith_thread_write_registers(t.tcb, regs, 1), "writing rip") &&
        pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resuming") &&
        fx_expect(ctx, fx.ep, &m, FX_DONE))
        pith_expect_eq(ctx, m.mr[0], 77, "the thread went on");
    kt_thread_destroy(&t);
}

/* The doc's other way: SUSPEND, WRITE_REGISTERS, RESUME; the fault is dropped. */
static void resume_suspend_write_resume(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, do_ud2, 31, FX_PRIORITY, fx.ep))
        return;
    if (fx_expect_exception(ctx, fx.ep, &m, 6, &fx.rip, 0)) {
        uint64_t regs[1] = { m.mr[0] + 2 };
        struct pith_msg r = { 0 };
        if (pith_expect_ok(ctx, pith_thread_suspend(t.tcb), "suspending") &&
            pith_expect_ok(ctx, pith_thread_write_registers(t.tcb, regs, 1), "writing rip") &&
            pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resuming") &&
            pith_expect_err(ctx, pith_reply(&r), PITH_E_NO_REPLY, "the fault is no longer pending") &&
            fx_expect(ctx, fx.ep, &m, FX_DONE))
            pith_expect_eq(ctx, m.mr[0], 31, "the thread went on");
    }
    kt_thread_destroy(&t);
}

static void fault_many_times(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    const uint64_t count = 25;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, do_ud2_loop, count, FX_PRIORITY, fx.ep))
        return;
    uint64_t first_rip = 0;
    for (uint64_t i = 0; i < count; i++) {
        if (!fx_expect(ctx, fx.ep, &m, PITH_FAULT_EXCEPTION) ||
            !pith_expect_eq(ctx, m.mr[3], 6, "vector") ||
            !pith_expect_eq(ctx, fx.step, i, "one fault per iteration")) {
            kt_thread_destroy(&t);
            return;
        }
        if (i == 0)
            first_rip = m.mr[0];
        if (!pith_expect_eq(ctx, m.mr[0], first_rip, "the same ud2 each time") ||
            !fx_resume_at(ctx, m.mr[0] + 2)) {
            kt_thread_destroy(&t);
            return;
        }
    }
    if (fx_expect(ctx, fx.ep, &m, FX_DONE))
        pith_expect_eq(ctx, m.mr[0], count, "every iteration ran");
    kt_thread_destroy(&t);
}

static void no_fault_endpoint_suspends(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    if (!fx_begin(ctx) || !kt_thread_start(ctx, &t, do_ud2, 0, KT_ROOT_PRIORITY, 0))
        return;
    /* The thread records rip, faults and stops; nobody is told. */
    kt_wait_flag(&fx.rip, 50);
    for (unsigned i = 0; i < 50; i++)
        pith_yield();
    pith_expect(ctx, fx.rip != 0, "the thread ran");
    pith_expect_eq(ctx, fx.step, 0, "the thread makes no progress after its fault");
    uint64_t regs[1] = { 0 };
    if (pith_expect_ok(ctx, pith_thread_read_registers(t.tcb, regs, 1), "reading rip"))
        pith_expect_eq(ctx, regs[0], fx.rip, "stopped at the ud2");
    /* It is inactive, not wedged: restarted past the ud2, it finishes. */
    regs[0] = fx.rip + 2;
    if (pith_expect_ok(ctx, pith_thread_write_registers(t.tcb, regs, 1), "writing rip") &&
        pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resuming"))
        pith_expect(ctx, kt_wait_flag(&fx.step, 100), "the restarted thread went on");
    kt_thread_destroy(&t);
}

/* A fault endpoint that is revoked from under the thread: it stops like one without. */
static void revoked_fault_endpoint_suspends(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    if (!fx_begin(ctx))
        return;
    pith_cap_t copy = kt_slot();
    if (!pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, copy, KT_CNODE, fx.ep, PITH_RIGHTS_ALL),
                        "copying the endpoint") ||
        !kt_thread_create(ctx, &t, do_ud2, 0, KT_ROOT_PRIORITY, copy))
        return;
    /* Revoking the copy deletes the thread's fault-endpoint capability derived from it. */
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, copy), "revoking the copy");
    kt_delete(copy);
    if (!pith_expect_ok(ctx, pith_thread_resume(t.tcb), "resuming"))
        return;
    kt_wait_flag(&fx.rip, 50);
    for (unsigned i = 0; i < 30; i++)
        pith_yield();
    struct pith_msg probe;
    pith_expect(ctx, fx.rip != 0, "the thread ran");
    pith_expect_eq(ctx, fx.step, 0, "the thread stopped at its fault");
    pith_expect_err(ctx, pith_nb_recv(fx.ep, &probe), PITH_E_WOULD_BLOCK,
                    "nothing reached the original endpoint");
    kt_thread_destroy(&t);
}

/* Two threads share one endpoint through differently badged capabilities. */
static void fault_badge(struct pith_test_ctx *ctx)
{
    struct kt_thread a, b;
    struct pith_msg m;
    if (!fx_begin(ctx))
        return;
    pith_cap_t ba = kt_slot(), bb = kt_slot();
    if (!pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, ba, KT_CNODE, fx.ep, PITH_RIGHTS_ALL, 0xa1),
                        "minting badge a1") ||
        !pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, bb, KT_CNODE, fx.ep, PITH_RIGHTS_ALL, 0xb2),
                        "minting badge b2"))
        return;
    fx.addr = 0x1000;   /* the first page stays unmapped */
    if (!kt_thread_start(ctx, &a, do_ud2, 0, FX_PRIORITY, ba))
        return;
    if (!kt_thread_start(ctx, &b, read_fx_addr, 0, FX_PRIORITY, bb)) {
        kt_thread_destroy(&a);
        return;
    }
    bool seen_a = false, seen_b = false;
    for (unsigned i = 0; i < 2; i++) {
        if (!pith_expect_ok(ctx, pith_recv(fx.ep, &m), "receiving"))
            break;
        uint64_t label = pith_msginfo_label(m.info);
        if (m.badge == 0xa1) {
            seen_a = true;
            pith_expect_eq(ctx, label, PITH_FAULT_EXCEPTION, "thread a's fault kind");
            pith_expect_eq(ctx, m.mr[3], 6, "thread a's vector");
        } else if (m.badge == 0xb2) {
            seen_b = true;
            pith_expect_eq(ctx, label, PITH_FAULT_PAGE, "thread b's fault kind");
            pith_expect_eq(ctx, m.mr[1], 0x1000, "thread b's fault address");
        } else {
            pith_expect(ctx, false, "unexpected badge %lx", m.badge);
        }
    }
    pith_expect(ctx, seen_a && seen_b, "both badges delivered");
    kt_thread_destroy(&a);
    kt_thread_destroy(&b);
    kt_delete(ba);
    kt_delete(bb);
}

/* Map a frame at vaddr in another address space, creating its tables. */
static enum pith_error map_in(pith_cap_t space, pith_cap_t frame, uint64_t vaddr, uint64_t rights)
{
    static const enum pith_object_type levels[] = {
        PITH_OBJ_PDPT, PITH_OBJ_PAGE_DIRECTORY, PITH_OBJ_PAGE_TABLE };
    enum pith_error err = pith_frame_map(frame, space, vaddr, rights, 0);
    if (err != PITH_E_NOT_MAPPED)
        return err;
    for (unsigned i = 0; i < 3; i++) {
        uint64_t slot;
        if ((err = pith_alloc_object(levels[i], 0, &slot)))
            return err;
        err = pith_table_map(slot, space, vaddr);
        if (err == PITH_E_MAPPED)
            kt_delete(slot);
        else if (err)
            return err;
    }
    return pith_frame_map(frame, space, vaddr, rights, 0);
}

/* A thread of another address space: its faults arrive the same way, and mapping
 * the page in its space lets it go on. */
static void fault_other_space(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = {
        0xc7, 0x04, 0x25, 0x00, 0x10, 0x01, 0x00, 0x2a, 0x00, 0x00, 0x00,  /* movl $42, 0x11000 */
        0x0f, 0x0b,                                                         /* ud2 */
    };
    const uint64_t code_va = 0x10000, data_va = 0x11000, ud2_va = code_va + 11;
    if (!fx_begin(ctx))
        return;
    pith_cap_t space = kt_new(ctx, PITH_OBJ_ADDRESS_SPACE, 0);
    pith_cap_t code_frame = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    pith_cap_t data_frame = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    pith_cap_t tcb = kt_new(ctx, PITH_OBJ_THREAD, 0);
    pith_cap_t code_copy = kt_slot(), data_copy = kt_slot();
    if (!space || !code_frame || !data_frame || !tcb)
        return;
    uint64_t code_here = kt_window(), data_here = kt_window();
    if (!pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, code_copy, KT_CNODE, code_frame, PITH_RIGHTS_ALL), "copy") ||
        !pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, data_copy, KT_CNODE, data_frame, PITH_RIGHTS_ALL), "copy") ||
        !pith_expect_ok(ctx, kt_map(code_copy, code_here, PITH_RIGHT_READ | PITH_RIGHT_WRITE), "map code here") ||
        !pith_expect_ok(ctx, kt_map(data_copy, data_here, PITH_RIGHT_READ | PITH_RIGHT_WRITE), "map data here"))
        return;
    memcpy((void *)code_here, code, sizeof(code));
    if (!pith_expect_ok(ctx, map_in(space, code_frame, code_va, PITH_RIGHT_READ | PITH_RIGHT_EXECUTE),
                        "mapping the code there"))
        return;
    uint64_t regs[3] = { code_va, 0, 0x202 };
    if (!pith_expect_ok(ctx, pith_thread_configure(tcb, KT_CNODE, space, 0, 0, fx.ep), "configure") ||
        !pith_expect_ok(ctx, pith_thread_write_registers(tcb, regs, 3), "registers") ||
        !pith_expect_ok(ctx, pith_thread_set_priority(tcb, FX_PRIORITY), "priority") ||
        !pith_expect_ok(ctx, pith_thread_resume(tcb), "resume"))
        return;
    struct pith_msg m;
    if (fx_expect(ctx, fx.ep, &m, PITH_FAULT_PAGE) &&
        pith_expect_eq(ctx, m.mr[0], code_va, "rip in the other space") &&
        pith_expect_eq(ctx, m.mr[1], data_va, "address in the other space") &&
        pith_expect_eq(ctx, m.mr[2] & (PF_PRESENT | PF_WRITE | PF_USER), PF_WRITE | PF_USER, "error code") &&
        pith_expect_ok(ctx, map_in(space, data_frame, data_va, PITH_RIGHT_READ | PITH_RIGHT_WRITE),
                       "mapping the data page there") &&
        fx_resume(ctx) &&
        fx_expect_exception(ctx, fx.ep, &m, 6, &ud2_va, 0))
        pith_expect_eq(ctx, *(volatile uint32_t *)data_here, 42, "the store landed in the shared frame");
    pith_thread_suspend(tcb);
    kt_delete(tcb);
    kt_delete(space);
}

/* A fault reply whose rip is outside user space suspends the thread with the registers
 * of the faulting instruction: not a system call's result written over RAX and RSI. */
static volatile uint64_t bad_rip_at;
static void ud2_with_rsi(uint64_t magic)
{
    __asm__ volatile("mov %1, %%rsi\n\t"
                     "lea 1f(%%rip), %%rax\n\t"
                     "mov %%rax, %0\n"
                     "1:\tud2\n\t"
                     : "=m"(bad_rip_at) : "r"(magic) : "rax", "rsi", "memory");
    for (;;) { struct pith_msg m; pith_recv(kt_graveyard, &m); }
}

static void bad_rip_keeps_registers(struct pith_test_ctx *ctx)
{
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    struct kt_thread t;
    if (!ep || !kt_thread_start(ctx, &t, ud2_with_rsi, 0x1234567, KT_ROOT_PRIORITY - 10, ep))
        return;
    struct pith_msg m;
    if (!pith_expect_ok(ctx, pith_recv(ep, &m), "fault arrives"))
        return;
    uint64_t before[PITH_REG_COUNT], after[PITH_REG_COUNT];
    pith_thread_read_registers(t.tcb, before, PITH_REG_RSI + 1);
    struct pith_msg r = { .info = pith_msginfo(0, 1, 0), .mr = { PITH_USER_TOP } };
    pith_expect_ok(ctx, pith_reply(&r), "reply with a kernel rip");
    pith_thread_read_registers(t.tcb, after, PITH_REG_RSI + 1);
    pith_expect_eq(ctx, after[PITH_REG_RIP], bad_rip_at, "rip kept");
    pith_expect_eq(ctx, after[PITH_REG_RAX], before[PITH_REG_RAX], "rax of the faulting thread kept");
    pith_expect_eq(ctx, after[PITH_REG_RSI], 0x1234567, "rsi of the faulting thread kept");
    kt_thread_destroy(&t);
    kt_delete(ep);
}

KT_TABLE(fault,
    { "fault_page_unmapped_write", page_fault_unmapped_write },
    { "fault_page_unmapped_read", page_fault_unmapped_read },
    { "fault_page_read_only", page_fault_read_only },
    { "fault_page_no_execute", page_fault_no_execute },
    { "fault_invalid_opcode", invalid_opcode },
    { "fault_gp_privileged", general_protection_privileged },
    { "fault_gp_noncanonical", general_protection_noncanonical },
    { "fault_no_compatibility_mode", no_compatibility_mode },
    { "fault_no_ldt", no_ldt },
    { "fault_sysenter_refused", sysenter_refused },
    { "fault_divide_error", divide_error },
    { "fault_breakpoint", breakpoint },
    { "fault_x87_exception", x87_exception },
    { "fault_resume_after_map", resume_after_map },
    { "fault_refault_until_mapped", refault_until_mapped },
    { "fault_resume_write_registers", resume_write_registers },
    { "fault_resume_reply_rip", resume_reply_rip },
    { "fault_resume_bad_rip_suspends", resume_bad_rip_suspends },
    { "fault_bad_rip_keeps_registers", bad_rip_keeps_registers },
    { "fault_resume_suspend_write_resume", resume_suspend_write_resume },
    { "fault_many_times", fault_many_times },
    { "fault_no_endpoint_suspends", no_fault_endpoint_suspends },
    { "fault_revoked_endpoint_suspends", revoked_fault_endpoint_suspends },
    { "fault_badge", fault_badge },
    { "fault_other_space", fault_other_space },
)
