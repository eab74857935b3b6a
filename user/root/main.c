/*
 * The default root task: shows what the kernel handed over, then runs a short demo
 * of the kernel's mechanisms (a thread, IPC, a notification deadline) and powers off.
 */
#include <pith/pith.h>
#include <pith/alloc.h>
#include <pith/printf.h>
#include <pith/syscall.h>
#include <pith/cpu.h>
#include <pith/root.h>

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

int main(void *arg)
{
    const struct pith_bootinfo *bi = arg;
    enum pith_error err = pith_root_init(bi, 0x10000000, 0x20000000);
    pith_printf("root: hello from user space; %lu untyped capabilities, %lu modules, "
                "TSC %lu MHz\n", bi->untyped_count, bi->module_count, bi->tsc_hz / 1000000);

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
    pith_poweroff(true);
    return 0;
}
