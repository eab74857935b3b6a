/*
 * Benchmark root task, run under QEMU with -icount shift=0: the guest clock then
 * advances one nanosecond per instruction, so TSC deltas converted to nanoseconds
 * are instruction counts, the same on every run and every host.  Each benchmark
 * prints `bench NAME VALUE UNIT`.  With `wall` on the kernel command line (QEMU without
 * -icount) only the VM-exit benchmarks run and their figures are wall-clock
 * nanoseconds, printed as NAME_wall.
 */
#include "bench.h"
#include <pith/abi.h>
#include <pith/alloc.h>
#include <pith/cpu.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/string.h>
#include <pith/syscall.h>

#define ROUNDS 2000

extern char __image_start[], __image_end[];
const struct pith_bootinfo *bi;
bool wall_clock;
static pith_cap_t endpoint, notification;
static uint64_t tsc_hz;             /* the kernel's figure, or ours (wall_tsc_hz) */

uint64_t per_round_ns(uint64_t ticks, uint64_t rounds)
{
    return (uint64_t)(((unsigned __int128)ticks * 1000000000u / tsc_hz + rounds / 2) / rounds);
}

/* TSC ticks to instructions (nanoseconds of icount time), rounded to nearest. */
static uint64_t to_instructions(uint64_t ticks, uint64_t rounds)
{
    return per_round_ns(ticks, rounds);
}

pith_cap_t new_object(enum pith_object_type type, uint64_t bits)
{
    uint64_t slot = 0;
    enum pith_error err = pith_alloc_object(type, bits, &slot);
    if (err) {
        pith_printf("bench: allocating type %d failed: %s\n", type, pith_error_name(err));
        return 0;
    }
    return slot;
}

enum pith_error map_in(pith_cap_t space, pith_cap_t frame, uint64_t vaddr, uint64_t rights)
{
    static const enum pith_object_type levels[] = {
        PITH_OBJ_PDPT, PITH_OBJ_PAGE_DIRECTORY, PITH_OBJ_PAGE_TABLE };
    enum pith_error err = pith_frame_map(frame, space, vaddr, rights, 0);
    for (unsigned i = 0; err == PITH_E_NOT_MAPPED && i < 3; i++) {
        pith_cap_t table = new_object(levels[i], 0);
        enum pith_error terr = pith_table_map(table, space, vaddr);
        if (terr && terr != PITH_E_MAPPED)
            return terr;
        if (i == 2)
            err = pith_frame_map(frame, space, vaddr, rights, 0);
    }
    return err;
}

/* A thread in the same or a fresh address space; a fresh one gets a copy of this
 * program's image at the same addresses, so the thread can run any function here. */
struct bench_thread {
    pith_cap_t tcb, space;
};

static uint64_t next_vaddr = 0x200000000ull;

uint64_t scratch_vaddr(void)
{
    uint64_t va = next_vaddr;
    next_vaddr += 0x200000;
    return va;
}

static bool start_thread_on(struct bench_thread *t, void (*entry)(void), uint64_t priority,
                            bool own_space, uint64_t cpu)
{
    t->tcb = new_object(PITH_OBJ_THREAD, 0);
    t->space = PITH_SLOT_ADDRESS_SPACE;
    uint64_t rw = PITH_RIGHT_READ | PITH_RIGHT_WRITE;
    uint64_t ipc_va = next_vaddr, stack_va = next_vaddr + 0x10000;
    next_vaddr += 0x200000;
    pith_cap_t ipc = new_object(PITH_OBJ_FRAME_4K, 0);
    pith_cap_t stack = new_object(PITH_OBJ_FRAME_4K, 0);
    if (own_space) {
        t->space = new_object(PITH_OBJ_ADDRESS_SPACE, 0);
        for (char *p = __image_start; p < __image_end; p += 4096) {
            pith_cap_t f = new_object(PITH_OBJ_FRAME_4K, 0);
            uint64_t scratch = next_vaddr;
            next_vaddr += 0x200000;
            if (map_in(PITH_SLOT_ADDRESS_SPACE, f, scratch, rw))
                return false;
            memcpy((void *)scratch, p, 4096);
            pith_frame_unmap(f);
            if (map_in(t->space, f, (uint64_t)p, rw | PITH_RIGHT_EXECUTE))
                return false;
        }
    }
    enum pith_error err = map_in(t->space, ipc, ipc_va, rw);
    if (!err)
        err = map_in(t->space, stack, stack_va, rw);
    if (err) {
        pith_printf("bench: mapping a thread's pages: %s\n", pith_error_name(err));
        return false;
    }
    /* The thread's runtime finds its IPC buffer through user[0]: write it through a
     * mapping of our own. */
    pith_cap_t view = pith_alloc_slot();
    pith_cnode_copy(PITH_SLOT_CNODE, view, PITH_SLOT_CNODE, ipc, PITH_RIGHTS_ALL);
    uint64_t view_va = next_vaddr;
    next_vaddr += 0x200000;
    map_in(PITH_SLOT_ADDRESS_SPACE, view, view_va, rw);
    ((struct pith_ipc_buffer *)view_va)->user[0] = ipc_va;

    uint64_t regs[PITH_REG_COUNT] = { 0 };
    regs[PITH_REG_RIP] = (uint64_t)entry;
    regs[PITH_REG_RSP] = stack_va + 4096 - 8;
    regs[PITH_REG_RFLAGS] = 0x202;
    err = pith_thread_configure(t->tcb, PITH_SLOT_CNODE, t->space, ipc_va, ipc, 0);
    if (!err)
        err = pith_thread_write_registers(t->tcb, regs, 3);
    if (!err)
        err = pith_thread_set_priority(t->tcb, priority);
    if (!err && cpu)
        err = pith_thread_set_affinity(t->tcb, cpu);
    if (!err)
        err = pith_thread_resume(t->tcb);
    if (err)
        pith_printf("bench: starting a thread: %s\n", pith_error_name(err));
    return err == PITH_OK;
}

static bool start_thread(struct bench_thread *t, void (*entry)(void), uint64_t priority,
                         bool own_space)
{
    return start_thread_on(t, entry, priority, own_space, 0);
}

static void echo_server(void)
{
    struct pith_msg msg;
    pith_recv(endpoint, &msg);
    for (;;)
        pith_reply_recv(endpoint, &msg);
}

static void signal_waiter(void)
{
    for (;;)
        pith_wait(notification, NULL);
}

/* ROUNDS Call + ReplyRecv round trips to the echo server after one to warm up: the
 * TSC ticks they took.  One loop for every IPC figure. */
static __attribute__((noinline)) uint64_t call_rounds(void)
{
    struct pith_msg msg = { .info = pith_msginfo(1, 2, 0), .mr = { 7, 8 } };
    pith_call(endpoint, &msg);                  /* warm up */
    uint64_t start = pith_rdtsc();
    for (unsigned i = 0; i < ROUNDS; i++) {
        msg.info = pith_msginfo(1, 2, 0);
        pith_call(endpoint, &msg);
    }
    return pith_rdtsc() - start;
}

/* Call + ReplyRecv against an echo server in this or another address space, on this
 * CPU or on `cpu`. */
static void bench_ipc(const char *name, bool own_space, uint64_t cpu)
{
    struct bench_thread server;
    if (!start_thread_on(&server, echo_server, 200, own_space, cpu)) {
        pith_printf("bench: %s: could not start the server\n", name);
        return;
    }
    uint64_t ticks = call_rounds();
    if (cpu)        /* both CPUs' instructions advance the one icount clock */
        pith_printf("bench %s %lu ns\n", name, per_round_ns(ticks, ROUNDS));
    else
        pith_printf("bench %s %lu instructions\n", name, to_instructions(ticks, ROUNDS));
    pith_thread_suspend(server.tcb);
    pith_cnode_delete(PITH_SLOT_CNODE, server.tcb);
}

static void bench_notify(void)
{
    struct bench_thread waiter;
    if (!start_thread(&waiter, signal_waiter, 200, false))
        return;
    uint64_t start = pith_rdtsc();
    for (unsigned i = 0; i < ROUNDS; i++)
        pith_signal(notification);              /* wakes the waiter, which waits again */
    uint64_t ticks = pith_rdtsc() - start;
    pith_printf("bench notify_signal_wait %lu instructions\n", to_instructions(ticks, ROUNDS));
    pith_thread_suspend(waiter.tcb);
}

static void bench_retype(void)
{
    pith_cap_t ut = new_object(PITH_OBJ_UNTYPED, 22);     /* 1024 frames */
    pith_cap_t first = pith_alloc_slot();
    for (unsigned i = 1; i < 1024; i++)
        pith_alloc_slot();
    uint64_t start = pith_rdtsc();
    for (unsigned i = 0; i < 1024; i++)
        pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, PITH_SLOT_CNODE, first + i, 1);
    uint64_t ticks = pith_rdtsc() - start;
    pith_printf("bench untyped_retype_4k %lu instructions\n", to_instructions(ticks, 1024));
    pith_cnode_revoke(PITH_SLOT_CNODE, ut);
}

static void bench_map(void)
{
    pith_cap_t frame = new_object(PITH_OBJ_FRAME_4K, 0);
    uint64_t va = next_vaddr;
    next_vaddr += 0x200000;
    map_in(PITH_SLOT_ADDRESS_SPACE, frame, va, PITH_RIGHT_READ);   /* tables in place */
    pith_frame_unmap(frame);
    uint64_t start = pith_rdtsc();
    for (unsigned i = 0; i < ROUNDS; i++) {
        pith_frame_map(frame, PITH_SLOT_ADDRESS_SPACE, va, PITH_RIGHT_READ, 0);
        pith_frame_unmap(frame);
    }
    uint64_t ticks = pith_rdtsc() - start;
    pith_printf("bench map_unmap_4k %lu instructions\n", to_instructions(ticks, ROUNDS));
}

/* How long a high-priority thread waits while another revokes a tree of 100,000
 * capabilities: it sleeps on a deadline 20,000 instructions away, again and again, and
 * records how late it woke.  Revoke stops at preemption points and restarts. */
#define REVOKE_TREE 100000u
static volatile uint64_t latency_worst, latency_wakes, latency_active, latency_stop;
static uint64_t latency_period;
static pith_cap_t latency_note;

static void latency_ticker(void)
{
    for (;;) {
        uint64_t due = pith_rdtsc() + latency_period;
        pith_notification_set_deadline(latency_note, due);
        pith_wait(latency_note, NULL);
        uint64_t late = pith_rdtsc() - due;
        if (latency_active && !latency_stop) {
            latency_wakes++;
            if (late > latency_worst)
                latency_worst = late;
        }
    }
}

static void bench_revoke_latency(void)
{
    pith_cap_t ep = new_object(PITH_OBJ_ENDPOINT, 0);
    pith_cap_t nodes[2] = { new_object(PITH_OBJ_CNODE, 16), new_object(PITH_OBJ_CNODE, 16) };
    latency_note = new_object(PITH_OBJ_NOTIFICATION, 0);
    for (uint64_t i = 0; i < REVOKE_TREE; i++)
        if (pith_cnode_copy(nodes[i & 1], 1 + i / 2, PITH_SLOT_CNODE, ep, PITH_RIGHTS_ALL)) {
            pith_printf("bench: revoke tree: copy %lu failed\n", i);
            return;
        }
    latency_period = bi->tsc_hz / 50000;        /* 20 us: 20,000 instructions */
    struct bench_thread ticker;
    if (!start_thread(&ticker, latency_ticker, 250, false))
        return;
    latency_active = 1;
    uint64_t start = pith_rdtsc();
    pith_cnode_revoke(PITH_SLOT_CNODE, ep);
    uint64_t took = pith_rdtsc() - start;
    latency_stop = 1;
    pith_printf("bench revoke_100k_caps %lu us\n", per_round_ns(took, 1000));
    pith_printf("bench revoke_worst_latency_us %lu us\n", per_round_ns(latency_worst, 1000));
    pith_printf("bench: the ticker woke %lu times during the revoke\n", (uint64_t)latency_wakes);
    /* The same while 16 MiB are retyped into frames of 2 MiB (zeroing them). */
    pith_cap_t ut = new_object(PITH_OBJ_UNTYPED, 24), cn = new_object(PITH_OBJ_CNODE, 4);
    latency_worst = latency_wakes = latency_stop = 0;
    start = pith_rdtsc();
    pith_untyped_retype(ut, PITH_OBJ_FRAME_2M, 0, cn, 1, 8);
    took = pith_rdtsc() - start;
    latency_stop = 1;
    pith_printf("bench retype_16m_frames %lu us\n", per_round_ns(took, 1000));
    pith_printf("bench retype_worst_latency_us %lu us\n", per_round_ns(latency_worst, 1000));
    pith_thread_suspend(ticker.tcb);
}

static void allow_ports(uint16_t first, uint16_t last)
{
    pith_cap_t slot = pith_alloc_slot();
    pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, first, last, slot);
    pith_ioport_allow(slot, PITH_SLOT_ADDRESS_SPACE);
}

/* The TSC rate for wall-clock figures.  The kernel counts TSC ticks over one 10 ms
 * window of PIT channel 2; when the host deschedules QEMU at the window's edges the
 * count comes out too high (3.36 GHz for 2.60 seen on a busy host).  Being late can
 * only add ticks, so the least of several windows is the rate. */
static uint64_t wall_tsc_hz(void)
{
    const uint16_t pit_count = 11932;           /* 10 ms of 1193182 Hz */
    allow_ports(0x42, 0x43);
    allow_ports(0x61, 0x61);
    uint64_t best = ~0ull;
    for (unsigned i = 0; i < 7; i++) {
        pith_outb(0x61, (pith_inb(0x61) & ~0x02) | 0x01);  /* gate on, speaker off */
        pith_outb(0x43, 0xb0);                  /* channel 2, lo/hi, mode 0: OUT low */
        pith_outb(0x42, pit_count & 0xff);
        uint64_t t0 = pith_rdtsc();
        pith_outb(0x42, pit_count >> 8);        /* counting starts; OUT rises at zero */
        while (!(pith_inb(0x61) & 0x20))
            ;
        uint64_t ticks = pith_rdtsc() - t0;
        best = ticks < best ? ticks : best;
    }
    return best * 1193182 / pit_count;
}

static void poweroff(void)
{
    const uint16_t ports[] = { 0xf4, 0x8900 };
    for (unsigned i = 0; i < 2; i++) {
        pith_cap_t slot = pith_alloc_slot();
        pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, ports[i], ports[i], slot);
        pith_ioport_allow(slot, PITH_SLOT_ADDRESS_SPACE);
    }
    pith_outb(0xf4, 0);
    for (const char *s = "Shutdown"; *s; s++)
        pith_outb(0x8900, (uint8_t)*s);
}

int main(void *arg)
{
    bi = arg;
    pith_set_ipc_buffer((struct pith_ipc_buffer *)bi->ipc_buffer);
    unsigned largest = 0;
    for (unsigned i = 0; i < bi->untyped_count; i++)
        if (!bi->untyped[i].is_device && bi->untyped[i].size_bits > bi->untyped[largest].size_bits)
            largest = i;
    struct pith_alloc_config config = {
        .untyped = bi->untyped_first_slot + largest,
        .untyped_size_bits = bi->untyped[largest].size_bits,
        .cnode = PITH_SLOT_CNODE, .address_space = PITH_SLOT_ADDRESS_SPACE,
        .first_free_slot = bi->first_free_slot, .end_slot = 1ull << bi->cnode_size_bits,
        .heap_start = 0x40000000, .heap_end = 0x80000000,
    };
    if (pith_alloc_init(&config) != PITH_OK)
        return 1;
    pith_thread_set_priority(PITH_SLOT_THREAD, 100);
    endpoint = new_object(PITH_OBJ_ENDPOINT, 0);
    notification = new_object(PITH_OBJ_NOTIFICATION, 0);
    wall_clock = pith_strcmp(bi->cmdline, "wall") == 0;
    tsc_hz = bi->tsc_hz;
    if (wall_clock) {
        tsc_hz = wall_tsc_hz();
        pith_printf("bench: TSC %lu kHz (the kernel's figure: %lu kHz); figures are wall-clock "
                    "nanoseconds (no -icount)\n", tsc_hz / 1000, bi->tsc_hz / 1000);
        bench_vm_exits();
        poweroff();
        return 0;
    }
    if (bi->cpu_count > 1) {        /* the -smp 2 run: only what needs two CPUs */
        pith_printf("bench: %lu CPUs; figures are ns of QEMU's icount clock\n", bi->cpu_count);
        bench_ipc("ipc_call_reply_cross_cpu", false, 1);
        poweroff();
        return 0;
    }
    pith_printf("bench: TSC %lu kHz; figures are instructions (QEMU -icount shift=0)\n",
                bi->tsc_hz / 1000);
    bench_ipc("ipc_call_reply_same_as", false, 0);
    bench_ipc("ipc_call_reply_cross_as", true, 0);
    bench_notify();
    bench_retype();
    bench_map();
    bench_revoke_latency();
    bench_vm_exits();
    poweroff();
    return 0;
}
