/*
 * The default root task: shows what the kernel handed over, then runs a short demo
 * of the kernel's mechanisms (a thread, IPC, a notification deadline) and powers off.
 */
#include <pith/pith.h>
#include <pith/alloc.h>
#include <pith/printf.h>
#include <pith/syscall.h>
#include <pith/cpu.h>

static uint64_t worker_stack[1024] __attribute__((aligned(16)));

static pith_cap_t endpoint;

static void worker(void)
{
    struct pith_msg msg = { 0 };
    pith_recv(endpoint, &msg);
    for (;;) {
        /* Answer every request with its argument squared. */
        msg.mr[0] = msg.mr[0] * msg.mr[0];
        msg.info = pith_msginfo(0, 1, 0);
        pith_reply_recv(endpoint, &msg);
    }
}

static void poweroff(void)
{
    const struct { uint16_t first, last; } ports[] = { { 0xf4, 0xf4 }, { 0x8900, 0x8900 } };
    for (unsigned i = 0; i < 2; i++) {
        pith_cap_t slot = pith_alloc_slot();
        pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, ports[i].first, ports[i].last, slot);
        pith_ioport_allow(slot, PITH_SLOT_ADDRESS_SPACE);
    }
    pith_outb(0xf4, 0);             /* QEMU isa-debug-exit */
    for (const char *s = "Shutdown"; *s; s++)
        pith_outb(0x8900, (uint8_t)*s);
}

int main(void *arg)
{
    const struct pith_bootinfo *bi = arg;
    pith_set_ipc_buffer((struct pith_ipc_buffer *)bi->ipc_buffer);
    pith_printf("root: hello from user space; %lu untyped capabilities, %lu modules, "
                "TSC %lu MHz\n", bi->untyped_count, bi->module_count, bi->tsc_hz / 1000000);

    unsigned largest = 0;
    for (unsigned i = 0; i < bi->untyped_count; i++)
        if (!bi->untyped[i].is_device && bi->untyped[i].size_bits > bi->untyped[largest].size_bits)
            largest = i;
    struct pith_alloc_config config = {
        .untyped = bi->untyped_first_slot + largest,
        .untyped_size_bits = bi->untyped[largest].size_bits,
        .cnode = PITH_SLOT_CNODE, .address_space = PITH_SLOT_ADDRESS_SPACE,
        .first_free_slot = bi->first_free_slot, .end_slot = 1ull << bi->cnode_size_bits,
        .heap_start = 0x10000000, .heap_end = 0x20000000,
    };
    enum pith_error err = pith_alloc_init(&config);
    uint64_t thread = 0, ntfn = 0;
    if (!err)
        err = pith_alloc_object(PITH_OBJ_ENDPOINT, 0, &endpoint);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_THREAD, 0, &thread);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &ntfn);
    if (err) {
        pith_printf("root: setting up failed: %s\n", pith_error_name(err));
        return 1;
    }
    uint64_t regs[PITH_REG_COUNT] = { 0 };
    regs[PITH_REG_RIP] = (uint64_t)worker;
    regs[PITH_REG_RSP] = (uint64_t)&worker_stack[1023];   /* as after a call */
    regs[PITH_REG_RFLAGS] = 0x202;
    pith_thread_configure(thread, PITH_SLOT_CNODE, PITH_SLOT_ADDRESS_SPACE, 0, 0, 0);
    pith_thread_write_registers(thread, regs, 3);
    pith_thread_set_priority(thread, 200);
    pith_thread_resume(thread);

    for (uint64_t x = 2; x <= 4; x++) {
        struct pith_msg msg = { .info = pith_msginfo(0, 1, 0), .mr = { x } };
        pith_call(endpoint, &msg);
        pith_printf("root: asked a worker thread for %lu squared over IPC: %lu\n", x, msg.mr[0]);
    }

    uint64_t start = pith_rdtsc(), bits = 0;
    pith_notification_set_deadline(ntfn, start + bi->tsc_hz / 100);
    pith_wait(ntfn, &bits);
    pith_printf("root: a deadline 10 ms ahead woke us after %lu us\n",
                (pith_rdtsc() - start) * 1000000 / bi->tsc_hz);
    pith_printf("root: demo done, powering off\n");
    poweroff();
    return 0;
}
