/*
 * The default root task.  It composes the system: starts the console server on the
 * UART, gives every client a badged capability to it, and — until guests are composed
 * from a system configuration — runs a short demonstration of the kernel's
 * mechanisms (a thread from untyped memory, IPC, a notification deadline), printing
 * through the console server, then powers off.
 */
#include <stdarg.h>
#include <pith/alloc.h>
#include <pith/console_client.h>
#include <pith/cpu.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/process.h>
#include <pith/root.h>
#include <pith/string.h>
#include <pith/syscall.h>

#define COM1 0x3f8
#define COM1_IRQ 4

static const struct pith_bootinfo *bi;
static pith_cap_t console;          /* our badged capability to the console server */
static uint64_t worker_stack[1024] __attribute__((aligned(16)));
static pith_cap_t endpoint;

static void say(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = pith_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 1)
        n = sizeof(line) - 1;
    if (!console || pith_console_write(console, line, (size_t)n) != PITH_OK)
        pith_printf("%s", line);
}

static const struct pith_module_desc *module(const char *name)
{
    for (unsigned i = 0; i < bi->module_count; i++)
        if (pith_strcmp(bi->modules[i].name, name) == 0)
            return &bi->modules[i];
    return NULL;
}

/* The console server gets the UART's ports and interrupt; we keep its endpoint. */
static enum pith_error start_console(const struct pith_module_desc *image)
{
    static struct pith_child server;
    pith_cap_t caps[3] = { 0 };
    uint64_t service = 0;
    enum pith_error err = pith_alloc_object(PITH_OBJ_ENDPOINT, 0, &service);
    caps[0] = service;
    caps[1] = pith_alloc_slot();
    caps[2] = pith_alloc_slot();
    if (!err)
        err = pith_ioport_control_issue_console(PITH_SLOT_IOPORT_CONTROL, COM1, COM1 + 7, caps[1]);
    if (!err)
        err = pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, COM1_IRQ, caps[2]);
    if (err)
        return err;
    server = (struct pith_child){
        .name = "console", .image = (const void *)image->vaddr, .image_size = image->size,
        .memory_bytes = 1u << 20, .cnode_bits = 8, .priority = 200,
        .extra_caps = caps, .extra_count = 3 };
    err = pith_child_start(&server);
    if (err)
        return err;
    console = pith_alloc_slot();
    err = pith_cnode_mint(PITH_SLOT_CNODE, console, PITH_SLOT_CNODE, service,
                          PITH_RIGHT_WRITE | PITH_RIGHT_GRANT, 1);
    return err ? err : pith_console_hello(console, "root");
}

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

static enum pith_error demo(void)
{
    uint64_t thread = 0, ntfn = 0;
    enum pith_error err = pith_alloc_object(PITH_OBJ_ENDPOINT, 0, &endpoint);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_THREAD, 0, &thread);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &ntfn);
    if (err)
        return err;
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
        say("asked a worker thread for %lu squared over IPC: %lu\n", x, msg.mr[0]);
    }
    uint64_t start = pith_rdtsc(), bits = 0;
    pith_notification_set_deadline(ntfn, start + bi->tsc_hz / 100);
    pith_wait(ntfn, &bits);
    say("a deadline 10 ms ahead woke us after %lu us\n", (pith_rdtsc() - start) * 1000000 / bi->tsc_hz);
    return PITH_OK;
}

int main(void *arg)
{
    bi = arg;
    enum pith_error err = pith_root_init(bi, 0x10000000, 0x20000000);
    if (err) {
        pith_printf("root: no memory to start with: %s\n", pith_error_name(err));
        return 1;
    }
    const struct pith_module_desc *console_image = module("console");
    if (console_image && (err = start_console(console_image)) != PITH_OK)
        pith_printf("root: the console server did not start: %s\n", pith_error_name(err));
    say("hello from user space; %lu untyped capabilities, %lu modules, TSC %lu MHz\n",
        bi->untyped_count, bi->module_count, bi->tsc_hz / 1000000);
    err = demo();
    if (err)
        say("the demo failed: %s\n", pith_error_name(err));
    say("demo done, powering off\n");
    pith_poweroff(err == PITH_OK);
    return 0;
}
