/*
 * Kernel entry and exit under attack.  A thread enters the kernel with DF and AC set,
 * with garbage in every register, with its stack pointer aimed at the kernel or off
 * the canonical range, at the very top of user space; its registers are rewritten
 * with kernel addresses and privileged RFLAGS bits; it runs privileged instructions
 * and software interrupts aimed at the kernel's own vectors.  Each case asserts the
 * attempt is refused or becomes a fault message, and that the kernel still answers.
 *
 * Most cases run raw machine code in an address space of their own (the "cell"): a
 * code page at CELL_CODE, nothing at CELL_DATA, and the thread's faults on an
 * endpoint the case receives on.
 */
#include "hostile.h"

#define CELL_CODE       0x10000ull
#define CELL_DATA       0x20000ull          /* never mapped */
#define CELL_TOP_PAGE   (PITH_USER_TOP - 0x1000)
#define CELL_PRIORITY   90                  /* below the root: it runs while we wait */
#define CELL_MAX_CAPS   24

#define RFLAGS_TF       (1ull << 8)
#define RFLAGS_IF       (1ull << 9)
#define RFLAGS_DF       (1ull << 10)
#define RFLAGS_IOPL     (3ull << 12)
#define RFLAGS_NT       (1ull << 14)
#define RFLAGS_RF       (1ull << 16)
#define RFLAGS_VM       (1ull << 17)
#define RFLAGS_AC       (1ull << 18)
#define RFLAGS_VIF      (1ull << 19)
#define RFLAGS_VIP      (1ull << 20)

#define ARRAY_LENGTH(a) (sizeof(a) / sizeof((a)[0]))

#define PF_PRESENT      1u
#define PF_WRITE        2u
#define PF_USER         4u

#define KERNEL_TEXT     0xffffffff80101000ull   /* inside the kernel image */
#define PHYSMAP         0xffff800000000000ull
#define NONCANONICAL    0x8000000000000000ull

static const uint8_t ud2[] = { 0x0f, 0x0b };

/* ---- The cell: an address space, a thread, its fault endpoint ---------------------- */

static struct {
    pith_cap_t space, tcb, ep;
    pith_cap_t caps[CELL_MAX_CAPS];         /* frames and tables to delete afterwards */
    unsigned count;
} cell;

static void cell_keep(pith_cap_t cap)
{
    if (cell.count < CELL_MAX_CAPS)
        cell.caps[cell.count++] = cap;
    else
        kt_delete(cap);
}

static bool cell_begin(struct pith_test_ctx *ctx, uint64_t priority)
{
    cell.count = 0;
    cell.space = kt_new(ctx, PITH_OBJ_ADDRESS_SPACE, 0);
    cell.tcb = kt_new(ctx, PITH_OBJ_THREAD, 0);
    cell.ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    if (!cell.space || !cell.tcb || !cell.ep)
        return false;
    return pith_expect_ok(ctx, pith_thread_configure(cell.tcb, KT_CNODE, cell.space, 0, 0, cell.ep),
                          "configuring the cell's thread") &&
           pith_expect_ok(ctx, pith_thread_set_priority(cell.tcb, priority), "its priority");
}

static void cell_end(void)
{
    if (cell.tcb)
        pith_thread_suspend(cell.tcb);
    kt_delete(cell.tcb);
    for (unsigned i = cell.count; i-- > 0;)
        kt_delete(cell.caps[i]);
    kt_delete(cell.space);
    kt_delete(cell.ep);
    cell.tcb = cell.space = cell.ep = 0;
    cell.count = 0;
}

/* Map a frame at vaddr in the cell, creating the tables on the way. */
static enum pith_error cell_map(pith_cap_t frame, uint64_t vaddr, uint64_t rights)
{
    static const enum pith_object_type levels[] = {
        PITH_OBJ_PDPT, PITH_OBJ_PAGE_DIRECTORY, PITH_OBJ_PAGE_TABLE };
    enum pith_error err = pith_frame_map(frame, cell.space, vaddr, rights, 0);
    if (err != PITH_E_NOT_MAPPED)
        return err;
    for (unsigned i = 0; i < 3; i++) {
        uint64_t table;
        if ((err = pith_alloc_object(levels[i], 0, &table)))
            return err;
        err = pith_table_map(table, cell.space, vaddr);
        if (err == PITH_E_MAPPED)
            kt_delete(table);
        else if (err)
            return err;
        else
            cell_keep(table);
    }
    return pith_frame_map(frame, cell.space, vaddr, rights, 0);
}

/* A code page at vaddr (page aligned) holding `code` at `offset`; every other byte
 * is int3, so straying execution shows up as a breakpoint. */
static bool cell_code(struct pith_test_ctx *ctx, uint64_t vaddr, uint64_t offset,
                      const uint8_t *code, size_t length)
{
    pith_cap_t frame = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    pith_cap_t here = kt_slot();
    if (!frame)
        return false;
    cell_keep(frame);
    uint64_t window = kt_window();
    if (!pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, here, KT_CNODE, frame, PITH_RIGHTS_ALL),
                        "copying the code frame") ||
        !pith_expect_ok(ctx, kt_map(here, window, PITH_RIGHT_READ | PITH_RIGHT_WRITE),
                        "mapping the code frame here"))
        return false;
    cell_keep(here);
    uint8_t *page = (uint8_t *)window;
    pith_memset(page, 0xcc, 4096);
    pith_memcpy(page + offset, code, length);
    return pith_expect_ok(ctx, cell_map(frame, vaddr, PITH_RIGHT_READ | PITH_RIGHT_EXECUTE),
                          "mapping the code in the cell");
}

/* Give the cell's thread registers 0.. of regs and start it. */
static bool cell_start(struct pith_test_ctx *ctx, const uint64_t *regs, size_t count)
{
    return pith_expect_ok(ctx, pith_thread_write_registers(cell.tcb, regs, count),
                          "writing the cell's registers") &&
           pith_expect_ok(ctx, pith_thread_resume(cell.tcb), "starting the cell");
}

/* Receive the cell's next fault: an exception with this vector, rip and error code. */
static bool cell_expect(struct pith_test_ctx *ctx, uint64_t vector, uint64_t rip, uint64_t error,
                        struct pith_msg *m)
{
    if (!pith_expect_ok(ctx, pith_recv(cell.ep, m), "receiving the cell's fault"))
        return false;
    uint64_t label = vector == 14 ? PITH_FAULT_PAGE : PITH_FAULT_EXCEPTION;
    return pith_expect(ctx, pith_msginfo_label(m->info) == label && m->mr[3] == vector &&
                       m->mr[0] == rip && m->mr[2] == error,
                       "expected vector %lu at %lx (error %lx), got label %lu vector %lu at %lx (error %lx)",
                       vector, rip, error, pith_msginfo_label(m->info), m->mr[3], m->mr[0], m->mr[2]);
}

/* Reply to the fault: resume where the thread stands (rip 0) or at rip. */
static bool cell_resume(struct pith_test_ctx *ctx, uint64_t rip)
{
    struct pith_msg r = { .info = pith_msginfo(0, rip ? 1 : 0, 0), .mr = { rip } };
    return pith_expect_ok(ctx, pith_reply(&r), "replying to the fault");
}

static bool cell_registers(struct pith_test_ctx *ctx, uint64_t *regs)
{
    return pith_expect_ok(ctx, pith_thread_read_registers(cell.tcb, regs, PITH_REG_COUNT),
                          "reading the cell's registers");
}

/* Open one port in our own address space: switching back to us then loads our I/O
 * bitmap, a string copy in the kernel (the DF cases need one on their way back). */
static pith_cap_t open_port_here(struct pith_test_ctx *ctx)
{
    pith_cap_t io = kt_slot();
    if (!pith_expect_ok(ctx, pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, 0x80, 0x80, io),
                        "issuing port 0x80") ||
        !pith_expect_ok(ctx, pith_ioport_allow(io, KT_SPACE), "allowing port 0x80 here"))
        return 0;
    return io;
}

static void close_port_here(pith_cap_t io)
{
    if (io)
        pith_ioport_deny(io, KT_SPACE);
    kt_delete(io);
}

/* ---- DF and AC set on entry ---------------------------------------------------------- */

/* A system call made with DF and AC set; the flags seen right after it return. */
struct df_call {
    uint64_t number, cap, info, mr[4];
    uint64_t result, flags;
    volatile uint64_t done;
};
static struct df_call dfx;

static void df_syscall_thread(uint64_t unused)
{
    (void)unused;
    register uint64_t rax __asm__("rax") = dfx.number;
    register uint64_t rdi __asm__("rdi") = dfx.cap;
    register uint64_t rsi __asm__("rsi") = dfx.info;
    register uint64_t rdx __asm__("rdx") = dfx.mr[0];
    register uint64_t r8 __asm__("r8") = dfx.mr[1];
    register uint64_t r9 __asm__("r9") = dfx.mr[2];
    register uint64_t r10 __asm__("r10") = dfx.mr[3];
    uint64_t flags;
    __asm__ volatile("pushfq\n\t"
                     "orq %[set], (%%rsp)\n\t"
                     "popfq\n\t"
                     "syscall\n\t"
                     "pushfq\n\t"
                     "popq %[flags]\n\t"
                     "pushfq\n\t"
                     "andq %[clear], (%%rsp)\n\t"
                     "popfq"
                     : "+r"(rax), "+r"(rdi), "+r"(rsi), "+r"(rdx), "+r"(r8), "+r"(r9), "+r"(r10),
                       [flags] "=&r"(flags)
                     : [set] "i"(RFLAGS_DF | RFLAGS_AC), [clear] "i"(~(RFLAGS_DF | RFLAGS_AC))
                     : "rcx", "r11", "memory", "cc");
    dfx.result = rax;
    dfx.flags = flags;
    dfx.done = 1;
}

/* Retype zeroes the new object with a string store: with DF set it would run down
 * over the frame just below, which is full of a pattern here. */
static void df_retype(struct pith_test_ctx *ctx)
{
    pith_cap_t untyped = kt_new(ctx, PITH_OBJ_UNTYPED, 14);
    pith_cap_t below = kt_slot(), above = kt_slot();
    struct kt_thread t = { 0 };
    if (!untyped || !pith_expect_ok(ctx, pith_untyped_retype(untyped, PITH_OBJ_FRAME_4K, 0, KT_CNODE,
                                                             below, 1), "the frame below"))
        return;
    uint64_t window = kt_window();
    volatile uint64_t *low = (volatile uint64_t *)window;
    if (!pith_expect_ok(ctx, kt_map(below, window, PITH_RIGHT_READ | PITH_RIGHT_WRITE), "mapping it"))
        goto out;
    for (unsigned i = 0; i < 512; i++)
        low[i] = 0xa5a5a5a5a5a5a5a5ull;
    dfx = (struct df_call){ .number = PITH_SYS_CALL, .cap = untyped,
                         .info = pith_msginfo(PITH_UNTYPED_RETYPE, 5, 0),
                         .mr = { PITH_OBJ_FRAME_4K, 0, KT_CNODE, above } };
    if (!kt_thread_create(ctx, &t, df_syscall_thread, 0, KT_ROOT_PRIORITY, 0))
        goto out;
    t.ipc->mr[4] = 1;       /* count */
    if (!pith_expect_ok(ctx, pith_thread_resume(t.tcb), "starting the thread") ||
        !pith_expect(ctx, kt_wait_flag(&dfx.done, 1000), "the thread's call returned"))
        goto out;
    pith_expect_eq(ctx, dfx.result, PITH_OK, "the retype with DF set");
    pith_expect(ctx, dfx.flags & RFLAGS_DF, "DF is set again after the call");
    pith_expect(ctx, dfx.flags & RFLAGS_AC, "AC is set again after the call");
    unsigned intact = 0;
    for (unsigned i = 0; i < 512; i++)
        intact += low[i] == 0xa5a5a5a5a5a5a5a5ull;
    pith_expect_eq(ctx, intact, 512, "words of the frame below that kept their pattern");
    uint64_t high = kt_window();
    if (pith_expect_ok(ctx, kt_map(above, high, PITH_RIGHT_READ), "mapping the new frame"))
        pith_expect_eq(ctx, ((volatile uint64_t *)high)[0], 0, "the new frame is zeroed");
out:
    kt_thread_destroy(&t);
    kt_delete(above);
    kt_delete(below);
    kt_delete(untyped);
}

/* std, then a page fault: the kernel sends the fault and switches back to us, loading
 * our I/O bitmap with a string copy on the way. */
static void df_fault(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = {
        0xfd,                                           /* std */
        0x8b, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00,       /* mov 0x20000, %eax */
        0x0f, 0x0b,                                     /* ud2 */
    };
    struct pith_msg m;
    uint64_t regs[PITH_REG_COUNT];
    pith_cap_t io = 0;
    if (!cell_begin(ctx, CELL_PRIORITY) || !cell_code(ctx, CELL_CODE, 0, code, sizeof(code)) ||
        !(io = open_port_here(ctx)))
        goto out;
    uint64_t start[3] = { CELL_CODE, 0, RFLAGS_IF | RFLAGS_AC };
    if (!cell_start(ctx, start, 3) ||
        !cell_expect(ctx, 14, CELL_CODE + 1, PF_USER, &m) || !cell_registers(ctx, regs))
        goto out;
    pith_expect_eq(ctx, m.mr[1], CELL_DATA, "fault address");
    pith_expect(ctx, regs[PITH_REG_RFLAGS] & RFLAGS_DF, "DF was set at the fault");
    if (cell_resume(ctx, CELL_CODE + 8) && cell_expect(ctx, 6, CELL_CODE + 8, 0, &m) &&
        cell_registers(ctx, regs))
        pith_expect(ctx, (regs[PITH_REG_RFLAGS] & (RFLAGS_DF | RFLAGS_AC)) == (RFLAGS_DF | RFLAGS_AC),
                    "DF and AC survived the fault (rflags %lx)", regs[PITH_REG_RFLAGS]);
out:
    close_port_here(io);
    cell_end();
}

/* std and spin: a deadline interrupt wakes us, which outrank the cell. */
static void df_interrupt(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = { 0xfd, 0xeb, 0xfe };    /* std; 1: jmp 1b */
    uint64_t regs[PITH_REG_COUNT];
    pith_cap_t io = 0, n = 0;
    if (!cell_begin(ctx, CELL_PRIORITY) || !cell_code(ctx, CELL_CODE, 0, code, sizeof(code)) ||
        !(io = open_port_here(ctx)) || !(n = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0)))
        goto out;
    uint64_t start[3] = { CELL_CODE, 0, RFLAGS_IF | RFLAGS_AC };
    uint64_t ticks = kt_bootinfo->tsc_hz / 333;             /* 3 ms */
    if (!pith_expect_ok(ctx, pith_notification_set_deadline(n, pith_rdtsc() + ticks), "deadline") ||
        !cell_start(ctx, start, 3))
        goto out;
    uint64_t bits = 0;
    pith_expect_ok(ctx, pith_wait(n, &bits), "waiting for the deadline");
    pith_expect(ctx, bits & PITH_DEADLINE_BIT, "the deadline fired");
    if (pith_expect_ok(ctx, pith_thread_suspend(cell.tcb), "stopping the cell") && cell_registers(ctx, regs)) {
        pith_expect_eq(ctx, regs[PITH_REG_RIP], CELL_CODE + 1, "the cell was spinning");
        pith_expect(ctx, regs[PITH_REG_RFLAGS] & RFLAGS_DF, "DF survived the interrupts");
    }
out:
    kt_delete(n);
    close_port_here(io);
    cell_end();
}

/* ---- System calls with hostile registers -------------------------------------------- */

/* Every system-call number, with garbage in every register, DF and AC set and a
 * non-canonical stack pointer: each returns an error code, and the registers the ABI
 * preserves are preserved. */
static void syscall_garbage(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = { 0x0f, 0x05, 0x0f, 0x0b };     /* syscall; ud2 */
    static const uint64_t numbers[] = {
        0, PITH_SYS_CALL, PITH_SYS_REPLY_RECV, PITH_SYS_SEND, PITH_SYS_NB_SEND, PITH_SYS_RECV,
        PITH_SYS_NB_RECV, PITH_SYS_REPLY, PITH_SYS_SIGNAL, PITH_SYS_WAIT, PITH_SYS_POLL,
        PITH_SYS_YIELD, PITH_SYS_DEBUG_PUTC, PITH_SYS_COUNT, 0x100, 1ull << 32, ~0ull };
    struct pith_msg m;
    uint64_t regs[PITH_REG_COUNT];
    if (!cell_begin(ctx, CELL_PRIORITY) || !cell_code(ctx, CELL_CODE, 0, code, sizeof(code)))
        goto out;
    for (unsigned i = 0; i < ARRAY_LENGTH(numbers); i++) {
        uint64_t garbage[PITH_REG_COUNT];
        for (unsigned r = 0; r < PITH_REG_FS_BASE; r++)
            garbage[r] = 0xdead000000000000ull | (uint64_t)i << 32 | (uint64_t)r << 8 | 0x5a;
        garbage[PITH_REG_RIP] = CELL_CODE;
        garbage[PITH_REG_RSP] = NONCANONICAL | 0xbad0;
        garbage[PITH_REG_RFLAGS] = RFLAGS_IF | RFLAGS_DF | RFLAGS_AC;
        garbage[PITH_REG_RAX] = numbers[i];
        garbage[PITH_REG_FS_BASE] = garbage[PITH_REG_GS_BASE] = 0;
        if (!pith_expect_ok(ctx, pith_thread_write_registers(cell.tcb, garbage, PITH_REG_COUNT),
                            "writing garbage registers"))
            break;
        bool ok = i == 0 ? pith_expect_ok(ctx, pith_thread_resume(cell.tcb), "starting the cell")
                         : cell_resume(ctx, 0);
        if (!ok || !cell_expect(ctx, 6, CELL_CODE + 2, 0, &m) || !cell_registers(ctx, regs))
            break;
        static const unsigned kept[] = { PITH_REG_RBX, PITH_REG_RBP, PITH_REG_R12, PITH_REG_R13,
                                         PITH_REG_R14, PITH_REG_R15, PITH_REG_RSP };
        for (unsigned k = 0; k < ARRAY_LENGTH(kept); k++)
            pith_expect(ctx, regs[kept[k]] == garbage[kept[k]],
                        "syscall %lx: register %u changed to %lx", numbers[i], kept[k], regs[kept[k]]);
        pith_expect(ctx, regs[PITH_REG_RAX] < PITH_E_COUNT, "syscall %lx: rax %lx is no error code",
                    numbers[i], regs[PITH_REG_RAX]);
        pith_expect(ctx, regs[PITH_REG_RFLAGS] & RFLAGS_DF, "syscall %lx: DF kept", numbers[i]);
    }
out:
    cell_end();
}

/* SYSCALL in the last two bytes of user space returns to 0x800000000000, which is not
 * canonical: the thread gets a #GP there instead of SYSRET faulting in the kernel. */
static void syscall_at_top(struct pith_test_ctx *ctx)
{
    static const uint8_t syscall[] = { 0x0f, 0x05 };
    struct pith_msg m;
    uint64_t regs[PITH_REG_COUNT];
    if (!cell_begin(ctx, CELL_PRIORITY) || !cell_code(ctx, CELL_CODE, 0, ud2, sizeof(ud2)) ||
        !cell_code(ctx, CELL_TOP_PAGE, 0xffe, syscall, sizeof(syscall)))
        goto out;
    uint64_t start[PITH_REG_RAX + 1] = { PITH_USER_TOP - 2, 0, RFLAGS_IF, PITH_SYS_YIELD };
    if (cell_start(ctx, start, ARRAY_LENGTH(start)) && cell_expect(ctx, 13, PITH_USER_TOP, 0, &m) &&
        cell_resume(ctx, CELL_CODE) && cell_expect(ctx, 6, CELL_CODE, 0, &m) && cell_registers(ctx, regs))
        pith_expect_eq(ctx, regs[PITH_REG_RAX], PITH_OK, "the yield itself completed");
out:
    cell_end();
}

/* int3 in the last byte: the trap's rip is 0x800000000000; resuming there must become a
 * #GP of the thread, not an IRETQ fault in the kernel. */
static void trap_at_top_resumed(struct pith_test_ctx *ctx)
{
    static const uint8_t int3[] = { 0xcc };
    struct pith_msg m;
    if (!cell_begin(ctx, CELL_PRIORITY) || !cell_code(ctx, CELL_CODE, 0, ud2, sizeof(ud2)) ||
        !cell_code(ctx, CELL_TOP_PAGE, 0xfff, int3, sizeof(int3)))
        goto out;
    uint64_t start[3] = { PITH_USER_TOP - 1, 0, RFLAGS_IF };
    if (cell_start(ctx, start, 3) && cell_expect(ctx, 3, PITH_USER_TOP, 0, &m) &&
        cell_resume(ctx, 0) && cell_expect(ctx, 13, PITH_USER_TOP, 0, &m) &&
        cell_resume(ctx, 0) && cell_expect(ctx, 13, PITH_USER_TOP, 0, &m) &&
        cell_resume(ctx, CELL_CODE))
        cell_expect(ctx, 6, CELL_CODE, 0, &m);
out:
    cell_end();
}

/* A nop in the last byte: execution runs off the end of user space. */
static void run_off_the_top(struct pith_test_ctx *ctx)
{
    static const uint8_t nop[] = { 0x90 };
    struct pith_msg m;
    if (!cell_begin(ctx, CELL_PRIORITY) || !cell_code(ctx, CELL_CODE, 0, ud2, sizeof(ud2)) ||
        !cell_code(ctx, CELL_TOP_PAGE, 0xfff, nop, sizeof(nop)))
        goto out;
    uint64_t start[3] = { PITH_USER_TOP - 1, 0, RFLAGS_IF };
    if (!cell_start(ctx, start, 3) || !pith_expect_ok(ctx, pith_recv(cell.ep, &m), "the first fault"))
        goto out;
    /* The CPU reports the #GP at the nop or at the address after it. */
    uint64_t rip = m.mr[0];
    pith_expect(ctx, m.mr[3] == 13 && (rip == PITH_USER_TOP || rip == PITH_USER_TOP - 1),
                "expected a #GP at the top, got vector %lu at %lx", m.mr[3], rip);
    if (cell_resume(ctx, 0) && cell_expect(ctx, 13, rip, 0, &m) && cell_resume(ctx, CELL_CODE))
        cell_expect(ctx, 6, CELL_CODE, 0, &m);
out:
    cell_end();
}

/* A stack pointer off the canonical range or into the kernel: the kernel never uses it,
 * the thread's own push faults in user mode. */
static void hostile_user_stack(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = { 0x0f, 0x05, 0x50, 0x0f, 0x0b };  /* syscall; push %rax; ud2 */
    struct pith_msg m;
    if (!cell_begin(ctx, CELL_PRIORITY) || !cell_code(ctx, CELL_CODE, 0, code, sizeof(code)))
        goto out;
    uint64_t start[PITH_REG_RAX + 1] = { CELL_CODE, NONCANONICAL, RFLAGS_IF, PITH_SYS_YIELD };
    if (!cell_start(ctx, start, ARRAY_LENGTH(start)) ||
        !pith_expect_ok(ctx, pith_recv(cell.ep, &m), "the push's fault"))
        goto out;
    pith_expect(ctx, (m.mr[3] == 12 || m.mr[3] == 13) && m.mr[0] == CELL_CODE + 2,
                "expected #SS or #GP at the push, got vector %lu at %lx", m.mr[3], m.mr[0]);
    uint64_t kernel_stack[PITH_REG_RAX + 1] = { CELL_CODE, KERNEL_TEXT + 0x800, RFLAGS_IF,
                                                PITH_SYS_YIELD };
    if (pith_expect_ok(ctx, pith_thread_write_registers(cell.tcb, kernel_stack, PITH_REG_RAX + 1),
                       "aiming rsp at the kernel") &&
        cell_resume(ctx, 0) && cell_expect(ctx, 14, CELL_CODE + 2, PF_PRESENT | PF_WRITE | PF_USER, &m))
        pith_expect_eq(ctx, m.mr[1], KERNEL_TEXT + 0x800 - 8, "the push's address");
out:
    cell_end();
}

/* ---- Registers a thread may be given ---------------------------------------------- */

static const uint64_t bad_addresses[] = {
    PITH_USER_TOP, PITH_USER_TOP + 1, PHYSMAP, KERNEL_TEXT, NONCANONICAL, 0x0000ffffffffffffull,
    ~0ull,
};

static void write_registers_bad_rip(struct pith_test_ctx *ctx)
{
    struct kt_thread t = { 0 };
    uint64_t before[PITH_REG_COUNT], after[PITH_REG_COUNT];
    if (!kt_thread_create(ctx, &t, NULL, 0, KT_ROOT_PRIORITY, 0) ||
        !pith_expect_ok(ctx, pith_thread_read_registers(t.tcb, before, PITH_REG_COUNT), "reading"))
        goto out;
    for (unsigned i = 0; i < ARRAY_LENGTH(bad_addresses); i++) {
        uint64_t regs[PITH_REG_COUNT];
        pith_memcpy(regs, before, sizeof(regs));
        regs[PITH_REG_RIP] = bad_addresses[i];
        regs[PITH_REG_RSP] = 0x1000;
        pith_expect_err(ctx, pith_thread_write_registers(t.tcb, regs, PITH_REG_COUNT),
                        PITH_E_BAD_ADDRESS, "a rip outside user space");
        pith_expect_err(ctx, pith_thread_write_registers(t.tcb, regs, 1), PITH_E_BAD_ADDRESS,
                        "the rip alone");
    }
    if (pith_expect_ok(ctx, pith_thread_read_registers(t.tcb, after, PITH_REG_COUNT), "reading"))
        pith_expect(ctx, pith_memcmp(before, after, sizeof(before)) == 0, "no register changed");
    uint64_t last[1] = { PITH_USER_TOP - 16 };
    pith_expect_ok(ctx, pith_thread_write_registers(t.tcb, last, 1), "the last user addresses");
out:
    kt_thread_destroy(&t);
}

static volatile uint64_t bases_ran;

static void note_bases(uint64_t unused)
{
    (void)unused;
    bases_ran = 1;
}

/* WRMSR of a non-canonical FS or GS base faults in ring 0: such bases are refused, and
 * a thread with the highest good ones runs. */
static void write_registers_bad_bases(struct pith_test_ctx *ctx)
{
    struct kt_thread t = { 0 };
    uint64_t regs[PITH_REG_COUNT], after[PITH_REG_COUNT];
    bases_ran = 0;
    if (!kt_thread_create(ctx, &t, note_bases, 0, KT_ROOT_PRIORITY, 0) ||
        !pith_expect_ok(ctx, pith_thread_read_registers(t.tcb, regs, PITH_REG_COUNT), "reading"))
        goto out;
    for (unsigned i = 0; i < ARRAY_LENGTH(bad_addresses); i++) {
        for (unsigned which = PITH_REG_FS_BASE; which <= PITH_REG_GS_BASE; which++) {
            uint64_t bad[PITH_REG_COUNT];
            pith_memcpy(bad, regs, sizeof(bad));
            bad[PITH_REG_RSP] = 0x1234;
            bad[which] = bad_addresses[i];
            pith_expect_err(ctx, pith_thread_write_registers(t.tcb, bad, PITH_REG_COUNT),
                            PITH_E_BAD_ADDRESS, "a base outside user space");
        }
    }
    if (pith_expect_ok(ctx, pith_thread_read_registers(t.tcb, after, PITH_REG_COUNT), "reading"))
        pith_expect_eq(ctx, after[PITH_REG_RSP], regs[PITH_REG_RSP], "rsp untouched by the refusals");
    regs[PITH_REG_FS_BASE] = PITH_USER_TOP - 4096;
    regs[PITH_REG_GS_BASE] = PITH_USER_TOP - 8;
    if (pith_expect_ok(ctx, pith_thread_write_registers(t.tcb, regs, PITH_REG_COUNT), "good bases") &&
        pith_expect_ok(ctx, pith_thread_resume(t.tcb), "starting"))
        pith_expect(ctx, kt_wait_flag(&bases_ran, 100), "the thread ran with those bases");
out:
    kt_thread_destroy(&t);
}

/* Every RFLAGS bit but TF: the thread must not get IOPL 3 (cli and in would work), NT,
 * VM, VIF or VIP; IF stays on. */
static void write_registers_rflags(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = { 0xfa, 0xe4, 0x80, 0x0f, 0x0b };  /* cli; in $0x80, %al; ud2 */
    struct pith_msg m;
    uint64_t regs[PITH_REG_COUNT];
    if (!cell_begin(ctx, CELL_PRIORITY) || !cell_code(ctx, CELL_CODE, 0, code, sizeof(code)))
        goto out;
    uint64_t start[3] = { CELL_CODE, 0, ~RFLAGS_TF };
    if (!cell_start(ctx, start, 3) || !cell_expect(ctx, 13, CELL_CODE, 0, &m) || !cell_registers(ctx, regs))
        goto out;
    uint64_t f = regs[PITH_REG_RFLAGS];
    pith_expect_eq(ctx, f & (RFLAGS_IOPL | RFLAGS_NT | RFLAGS_VM | RFLAGS_VIF | RFLAGS_VIP), 0,
                   "privileged flags of the running thread");
    pith_expect(ctx, f & RFLAGS_IF, "IF is on (rflags %lx)", f);
    pith_expect(ctx, (f & (RFLAGS_DF | RFLAGS_AC)) == (RFLAGS_DF | RFLAGS_AC), "DF and AC were kept");
    if (cell_resume(ctx, CELL_CODE + 1) && cell_expect(ctx, 13, CELL_CODE + 1, 0, &m) &&
        cell_resume(ctx, CELL_CODE + 3))
        cell_expect(ctx, 6, CELL_CODE + 3, 0, &m);
out:
    cell_end();
}

/* A fault reply naming an address outside user space stops the thread. */
static void fault_reply_bad_rip(struct pith_test_ctx *ctx)
{
    struct pith_msg m;
    if (!cell_begin(ctx, KT_ROOT_PRIORITY) || !cell_code(ctx, CELL_CODE, 0, ud2, sizeof(ud2)))
        goto out;
    for (unsigned i = 0; i < ARRAY_LENGTH(bad_addresses); i++) {
        uint64_t start[3] = { CELL_CODE, 0, RFLAGS_IF };
        if (!cell_start(ctx, start, 3) || !cell_expect(ctx, 6, CELL_CODE, 0, &m) ||
            !cell_resume(ctx, bad_addresses[i]))
            break;
        for (unsigned y = 0; y < 10; y++)
            pith_yield();
        struct pith_msg probe;
        pith_expect_err(ctx, pith_nb_recv(cell.ep, &probe), PITH_E_WOULD_BLOCK,
                        "the thread stopped instead of running on");
        uint64_t rip[1];
        if (pith_expect_ok(ctx, pith_thread_read_registers(cell.tcb, rip, 1), "reading rip"))
            pith_expect_eq(ctx, rip[0], CELL_CODE, "rip stays at the fault");
    }
out:
    cell_end();
}

/* ---- Instructions aimed at the kernel -------------------------------------------- */

struct attempt {
    const char *name;               /* of the case that runs it */
    const char *what;
    uint8_t bytes[6];
    uint8_t length, fault_at;       /* the faulting instruction's offset in bytes */
    uint8_t vector;
    uint16_t error;
    bool trap;                      /* reported after the instruction */
    bool or_ud;                     /* an emulator may not know it: #UD at it instead */
};

/* A #GP raised by a gate names the IDT entry: vector * 8 + 2 (SDM 6.13); QEMU reports
 * the entry's byte offset, vector * 16 + 2, instead. */
static bool error_matches(uint64_t got, uint64_t want)
{
    return got == want || (want & 2 && got == (want - 2) * 2 + 2);
}

/* Run each attempt in turn in the cell; each must fault as listed and is skipped. */
static void run_attempts(struct pith_test_ctx *ctx, const struct attempt *a, unsigned count)
{
    uint8_t code[512];
    uint64_t at[64];
    size_t length = 0;
    for (unsigned i = 0; i < count && length + 8 < sizeof(code); i++) {
        at[i] = length;
        pith_memcpy(code + length, a[i].bytes, a[i].length);
        length += a[i].length;
    }
    pith_memcpy(code + length, ud2, sizeof(ud2));
    struct pith_msg m;
    if (!cell_begin(ctx, CELL_PRIORITY) || !cell_code(ctx, CELL_CODE, 0, code, length + sizeof(ud2)))
        goto out;
    uint64_t start[3] = { CELL_CODE, 0, RFLAGS_IF };
    if (!cell_start(ctx, start, 3))
        goto out;
    for (unsigned i = 0; i < count; i++) {
        uint64_t base = CELL_CODE + at[i];
        uint64_t rip = base + (a[i].trap ? a[i].length : a[i].fault_at);
        if (!pith_expect_ok(ctx, pith_recv(cell.ep, &m), "receiving the cell's fault"))
            goto out;
        bool unknown = a[i].or_ud && m.mr[3] == 6 && m.mr[0] == base + a[i].fault_at;
        if (!pith_expect(ctx, pith_msginfo_label(m.info) == PITH_FAULT_EXCEPTION &&
                         ((m.mr[3] == a[i].vector && m.mr[0] == rip && error_matches(m.mr[2], a[i].error)) ||
                          unknown),
                         "%s: expected vector %u at %lx (error %x), got vector %lu at %lx (error %lx)",
                         a[i].what, a[i].vector, rip, a[i].error, m.mr[3], m.mr[0], m.mr[2]))
            goto out;
        if (!cell_resume(ctx, base + a[i].length))
            goto out;
    }
    cell_expect(ctx, 6, CELL_CODE + length, 0, &m);
out:
    cell_end();
}

#define GATE_ERROR(v) ((v) * 8 + 2)
static const struct attempt attempts[] = {
    /* Privileged instructions: #GP at CPL 3 (SDM Vol. 2, each one's exceptions). */
    { "entry_insn_cli", "cli", { 0xfa }, 1, 0, 13, 0, false, false },
    { "entry_insn_sti", "sti", { 0xfb }, 1, 0, 13, 0, false, false },
    { "entry_insn_hlt", "hlt", { 0xf4 }, 1, 0, 13, 0, false, false },
    { "entry_insn_in", "in", { 0xe4, 0x80 }, 2, 0, 13, 0, false, false },
    { "entry_insn_out", "out", { 0xe6, 0x80 }, 2, 0, 13, 0, false, false },
    { "entry_insn_read_cr0", "mov %cr0, %rax", { 0x0f, 0x20, 0xc0 }, 3, 0, 13, 0, false, false },
    { "entry_insn_write_cr3", "mov %rax, %cr3", { 0x0f, 0x22, 0xd8 }, 3, 0, 13, 0, false, false },
    { "entry_insn_wrmsr", "wrmsr", { 0x0f, 0x30 }, 2, 0, 13, 0, false, false },
    { "entry_insn_rdmsr", "rdmsr", { 0x0f, 0x32 }, 2, 0, 13, 0, false, false },
    { "entry_insn_swapgs", "swapgs", { 0x0f, 0x01, 0xf8 }, 3, 0, 13, 0, false, false },
    { "entry_insn_sysret", "sysretq", { 0x48, 0x0f, 0x07 }, 3, 0, 13, 0, false, false },
    { "entry_insn_wbinvd", "wbinvd", { 0x0f, 0x09 }, 2, 0, 13, 0, false, false },
    { "entry_insn_clts", "clts", { 0x0f, 0x06 }, 2, 0, 13, 0, false, false },
    { "entry_insn_invlpg", "invlpg (%rax)", { 0x0f, 0x01, 0x38 }, 3, 0, 13, 0, false, false },
    { "entry_insn_ltr", "ltr %ax", { 0x0f, 0x00, 0xd8 }, 3, 0, 13, 0, false, false },
    { "entry_insn_clac", "clac", { 0x0f, 0x01, 0xca }, 3, 0, 6, 0, false, false },
    /* The kernel's own vectors (NMI, #DF, #PF, #MC, IRQs, the timer) have DPL 0 gates:
     * raised with INT they are a #GP naming the vector (SDM 6.13). */
    { "entry_int_0x80", "int $0x80", { 0xcd, 0x80 }, 2, 0, 13, GATE_ERROR(0x80), false, false },
    { "entry_int_nmi", "int $2", { 0xcd, 0x02 }, 2, 0, 13, GATE_ERROR(2), false, false },
    { "entry_int_double_fault", "int $8", { 0xcd, 0x08 }, 2, 0, 13, GATE_ERROR(8), false, false },
    { "entry_int_page_fault", "int $14", { 0xcd, 0x0e }, 2, 0, 13, GATE_ERROR(14), false, false },
    { "entry_int_machine_check", "int $18", { 0xcd, 0x12 }, 2, 0, 13, GATE_ERROR(18), false, false },
    { "entry_int_irq0", "int $0x20", { 0xcd, 0x20 }, 2, 0, 13, GATE_ERROR(0x20), false, false },
    { "entry_int_timer", "int $0xf0", { 0xcd, 0xf0 }, 2, 0, 13, GATE_ERROR(0xf0), false, false },
    { "entry_int_spurious", "int $0xff", { 0xcd, 0xff }, 2, 0, 13, GATE_ERROR(0xff), false, false },
    /* Exceptions user mode may raise: each a fault message, trap or fault as the SDM says. */
    { "entry_exc_int3", "int3", { 0xcc }, 1, 0, 3, 0, true, false },
    { "entry_exc_int_3", "int $3", { 0xcd, 0x03 }, 2, 0, 3, 0, true, false },
    { "entry_exc_int1", "int1", { 0xf1 }, 1, 0, 1, 0, true, true },
    { "entry_exc_into", "into", { 0xce }, 1, 0, 6, 0, false, false },
    { "entry_exc_ud2", "ud2", { 0x0f, 0x0b }, 2, 0, 6, 0, false, false },
    { "entry_exc_divide", "div by zero", { 0x31, 0xc9, 0xf7, 0xf1 }, 4, 2, 0, 0, false, false },
};
#undef GATE_ERROR

/* The case named like the running one, in its own cell. */
static void one_attempt(struct pith_test_ctx *ctx)
{
    for (unsigned i = 0; i < ARRAY_LENGTH(attempts); i++) {
        if (pith_strcmp(attempts[i].name, ctx->name) == 0) {
            run_attempts(ctx, &attempts[i], 1);
            return;
        }
    }
    pith_expect(ctx, false, "no attempt is named %s", ctx->name);
}

/* RDPMC is the kernel's (CR4.PCE clear), RDTSC is everyone's clock. */
static void rdpmc_faults(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = {
        0x0f, 0x31,             /* rdtsc */
        0x31, 0xc9,             /* xor %ecx, %ecx */
        0x0f, 0x33,             /* rdpmc */
        0x0f, 0x0b,             /* ud2 */
    };
    struct pith_msg m;
    if (!cell_begin(ctx, CELL_PRIORITY) || !cell_code(ctx, CELL_CODE, 0, code, sizeof(code)))
        goto out;
    uint64_t start[3] = { CELL_CODE, 0, RFLAGS_IF };
    if (cell_start(ctx, start, 3) && cell_expect(ctx, 13, CELL_CODE + 4, 0, &m) &&
        cell_resume(ctx, CELL_CODE + 6))
        cell_expect(ctx, 6, CELL_CODE + 6, 0, &m);
out:
    cell_end();
}

/* ---- Capabilities and addresses --------------------------------------------------- */

static enum pith_error debug_putc(pith_cap_t cap, uint64_t c)
{
    struct pith_msg msg = { .info = pith_msginfo(0, 1, 0), .mr = { c } };
    return pith_syscall(PITH_SYS_DEBUG_PUTC, cap, &msg);
}

/* The kernel console is written only through the debug-console capability. */
static void debug_putc_needs_cap(struct pith_test_ctx *ctx)
{
    pith_cap_t empty = kt_slot(), read_only = kt_slot(), writable = kt_slot();
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_expect_err(ctx, debug_putc(0, '\r'), PITH_E_INVALID_CAP, "slot 0");
    pith_expect_err(ctx, debug_putc(empty, '\r'), PITH_E_INVALID_CAP, "an empty slot");
    pith_expect_err(ctx, debug_putc(1ull << 40, '\r'), PITH_E_RANGE, "a slot beyond the CNode");
    pith_expect_err(ctx, debug_putc(ep, '\r'), PITH_E_INVALID_CAP, "an endpoint");
    pith_expect_err(ctx, debug_putc(KT_SELF, '\r'), PITH_E_INVALID_CAP, "a thread");
    if (pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, read_only, KT_CNODE, PITH_SLOT_DEBUG_CONSOLE,
                                            PITH_RIGHT_READ), "a copy without WRITE"))
        pith_expect_err(ctx, debug_putc(read_only, '\r'), PITH_E_RIGHTS, "the copy without WRITE");
    if (pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, writable, KT_CNODE, PITH_SLOT_DEBUG_CONSOLE,
                                            PITH_RIGHTS_ALL), "a copy with WRITE"))
        pith_expect_ok(ctx, debug_putc(writable, '\r'), "the copy with WRITE");
    pith_expect_ok(ctx, debug_putc(PITH_SLOT_DEBUG_CONSOLE, '\r'), "the root task's own");
    kt_delete(writable);
    kt_delete(read_only);
    kt_delete(ep);
    pith_alloc_free_slot(empty);
}

/* An IPC buffer outside user space would let the kernel write where it should not. */
static void ipc_buffer_outside_user(struct pith_test_ctx *ctx)
{
    pith_cap_t tcb = kt_new(ctx, PITH_OBJ_THREAD, 0), frame = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    if (!tcb || !frame)
        goto out;
    static const uint64_t addresses[] = { PITH_USER_TOP, PHYSMAP, KERNEL_TEXT & ~0xfffull,
                                          NONCANONICAL, ~0xfffull };
    for (unsigned i = 0; i < ARRAY_LENGTH(addresses); i++)
        pith_expect_err(ctx, pith_thread_configure(tcb, KT_CNODE, KT_SPACE, addresses[i], frame, 0),
                        PITH_E_BAD_ADDRESS, "an IPC buffer outside user space");
    pith_expect_err(ctx, pith_thread_configure(tcb, KT_CNODE, KT_SPACE, 0x10008, frame, 0),
                    PITH_E_ALIGNMENT, "an unaligned IPC buffer");
    pith_expect_err(ctx, pith_thread_resume(tcb), PITH_E_INVALID_ARG, "the thread was never configured");
out:
    kt_delete(frame);
    kt_delete(tcb);
}

/* The kernel turns on what the CPU offers: SMEP, SMAP and UMIP (CPUID 7). */
static void protection_features(struct pith_test_ctx *ctx)
{
    uint32_t a = 7, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    uint64_t f = kt_bootinfo->cpu_features;
    pith_expect_eq(ctx, !!(f & PITH_CPU_SMEP), !!(b & (1u << 7)), "SMEP reported as the CPU has it");
    pith_expect_eq(ctx, !!(f & PITH_CPU_SMAP), !!(b & (1u << 20)), "SMAP reported as the CPU has it");
    pith_expect_eq(ctx, !!(f & PITH_CPU_UMIP), !!(c & (1u << 2)), "UMIP reported as the CPU has it");
    pith_expect(ctx, f & PITH_CPU_NX, "NX (the kernel's W^X needs it)");
    if (!(f & PITH_CPU_UMIP))
        return;
    static const struct attempt sgdt[] = {
        { "entry_protection_features", "sgdt (%rax)", { 0x0f, 0x01, 0x00 }, 3, 0, 13, 0, false, false },
    };
    run_attempts(ctx, sgdt, 1);
}

/* ---- Single step --------------------------------------------------------------------- */

/* A cell running `code` at CELL_CODE with a stack page below CELL_STACK_TOP. */
#define CELL_STACK_TOP (CELL_DATA + 0x11000)

static bool cell_with_stack(struct pith_test_ctx *ctx, const uint8_t *code, size_t length)
{
    if (!cell_begin(ctx, CELL_PRIORITY) || !cell_code(ctx, CELL_CODE, 0, code, length))
        return false;
    pith_cap_t stack = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    if (!stack)
        return false;
    cell_keep(stack);
    return pith_expect_ok(ctx, cell_map(stack, CELL_STACK_TOP - 0x1000, PITH_RIGHT_READ | PITH_RIGHT_WRITE),
                          "the cell's stack");
}

/* A SYSCALL made with TF set: on Intel CPUs the single-step trap is taken after it, at
 * the kernel's first instruction, with the user's RSP still loaded (SDM 17.3.1.4).
 * The kernel must let the call go on; back in user mode the ud2 after it faults. */
static void single_step_into_syscall(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = {
        0xb8, PITH_SYS_YIELD, 0x00, 0x00, 0x00,         /* mov $YIELD, %eax */
        0x9c,                                           /* pushfq */
        0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, /* orq $0x100, (%rsp): TF */
        0x9d,                                           /* popfq */
        0x0f, 0x05,                                     /* syscall */
        0x0f, 0x0b,                                     /* ud2 */
    };
    struct pith_msg m;
    /* The user stack is one the kernel must not run on when the trap arrives. */
    if (!cell_with_stack(ctx, code, sizeof(code)))
        goto out;
    uint64_t start[2] = { CELL_CODE, CELL_STACK_TOP };
    /* Back in user mode with TF set: the step after the SYSCALL traps there (QEMU), or
     * the ud2 faults (CPUs that took the step in the kernel). */
    if (cell_start(ctx, start, 2) && pith_expect_ok(ctx, pith_recv(cell.ep, &m), "the cell's fault"))
        pith_expect(ctx, (m.mr[3] == 1 || m.mr[3] == 6) && m.mr[0] == CELL_CODE + sizeof(code) - 2,
                    "vector %lu at %lx after the SYSCALL", m.mr[3], m.mr[0]);
out:
    cell_end();
}

/* Single-stepping user code: each step is a debug exception for the fault handler. */
static void single_step_user(struct pith_test_ctx *ctx)
{
    static const uint8_t code[] = {
        0x9c,                                           /* pushfq */
        0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, /* orq $0x100, (%rsp): TF */
        0x9d,                                           /* popfq */
        0x90,                                           /* nop: traps after it */
        0x90,
    };
    struct pith_msg m;
    if (!cell_with_stack(ctx, code, sizeof(code)))
        goto out;
    uint64_t start[2] = { CELL_CODE, CELL_STACK_TOP };
    if (cell_start(ctx, start, 2) && cell_expect(ctx, 1, CELL_CODE + 11, 0, &m))
        pith_expect(ctx, (m.mr[2] & 0xffff) == 0, "error code %lx", m.mr[2]);
out:
    cell_end();
}

KT_TABLE(entry,
    { "entry_single_step_into_syscall", single_step_into_syscall },
    { "entry_single_step_user", single_step_user },
    { "entry_df_retype", df_retype },
    { "entry_df_fault", df_fault },
    { "entry_df_interrupt", df_interrupt },
    { "entry_syscall_garbage", syscall_garbage },
    { "entry_syscall_at_top", syscall_at_top },
    { "entry_trap_at_top_resumed", trap_at_top_resumed },
    { "entry_run_off_the_top", run_off_the_top },
    { "entry_hostile_user_stack", hostile_user_stack },
    { "entry_write_registers_bad_rip", write_registers_bad_rip },
    { "entry_write_registers_bad_bases", write_registers_bad_bases },
    { "entry_write_registers_rflags", write_registers_rflags },
    { "entry_fault_reply_bad_rip", fault_reply_bad_rip },
    { "entry_insn_cli", one_attempt },
    { "entry_insn_sti", one_attempt },
    { "entry_insn_hlt", one_attempt },
    { "entry_insn_in", one_attempt },
    { "entry_insn_out", one_attempt },
    { "entry_insn_read_cr0", one_attempt },
    { "entry_insn_write_cr3", one_attempt },
    { "entry_insn_wrmsr", one_attempt },
    { "entry_insn_rdmsr", one_attempt },
    { "entry_insn_swapgs", one_attempt },
    { "entry_insn_sysret", one_attempt },
    { "entry_insn_wbinvd", one_attempt },
    { "entry_insn_clts", one_attempt },
    { "entry_insn_invlpg", one_attempt },
    { "entry_insn_ltr", one_attempt },
    { "entry_insn_clac", one_attempt },
    { "entry_int_0x80", one_attempt },
    { "entry_int_nmi", one_attempt },
    { "entry_int_double_fault", one_attempt },
    { "entry_int_page_fault", one_attempt },
    { "entry_int_machine_check", one_attempt },
    { "entry_int_irq0", one_attempt },
    { "entry_int_timer", one_attempt },
    { "entry_int_spurious", one_attempt },
    { "entry_exc_int3", one_attempt },
    { "entry_exc_int_3", one_attempt },
    { "entry_exc_int1", one_attempt },
    { "entry_exc_into", one_attempt },
    { "entry_exc_ud2", one_attempt },
    { "entry_exc_divide", one_attempt },
    { "entry_rdpmc_faults", rdpmc_faults },
    { "entry_debug_putc_needs_cap", debug_putc_needs_cap },
    { "entry_ipc_buffer_outside_user", ipc_buffer_outside_user },
    { "entry_protection_features", protection_features },
)
