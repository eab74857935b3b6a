/*
 * The root task composes the system.  It starts the console server on the UART, then
 * reads the system configuration (the boot module "system.conf", docs/config.md), starts
 * the network switch when a guest has a NIC, and hands the guests to guests.c, which
 * starts one VMM per valid guest in a protection domain of its own (include/pith/guest.h)
 * and runs the control shell (shell.c) on the console.  Configuration errors are
 * reported with their line and the valid guests still start.  When the last running
 * guest has stopped by itself — or its VMM has crashed — or at the shell's `poweroff`,
 * the machine powers off.
 * Without a configuration it runs a short demonstration of the kernel's mechanisms.
 */
#include <stdarg.h>
#include <pith/alloc.h>
#include <pith/console_client.h>
#include <pith/guest.h>
#include <pith/cpu.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/process.h>
#include <pith/root.h>
#include <pith/string.h>
#include <pith/switch.h>
#include <pith/syscall.h>
#include "guests.h"
#include "storage.h"
#include "uplink.h"

#define COM1 0x3f8
#define COM1_IRQ 4

const struct pith_bootinfo *bi;
pith_cap_t console;                 /* our badged capability to the console server */
pith_cap_t console_service;         /* the server's endpoint: we mint clients from it */
static uint64_t worker_stack[1024] __attribute__((aligned(16)));
static pith_cap_t endpoint;

void root_say(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = pith_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 1)
        n = sizeof(line) - 1;
    bool whole = n > 0 && line[n - 1] == '\n';
    if (whole)
        shell_note_begin();
    if (!console || pith_console_write(console, line, (size_t)n) != PITH_OK)
        pith_printf("%s", line);
    if (whole)
        shell_note_end();
}

#define say root_say

const struct pith_module_desc *root_module(const char *name)
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
    console_service = service;
    console = pith_alloc_slot();
    err = pith_cnode_mint(PITH_SLOT_CNODE, console, PITH_SLOT_CNODE, service,
                          PITH_RIGHT_WRITE | PITH_RIGHT_GRANT, PITH_CONSOLE_ROOT_BADGE);
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

/* ---- Guests from the system configuration (guests.c) ------------------------------- */

static uint64_t free_memory(void)
{
    uint64_t bytes = 0;
    for (unsigned i = 0; i < bi->untyped_count; i++)
        if (!bi->untyped[i].is_device)
            bytes += 1ull << bi->untyped[i].size_bits;
    return bytes;
}

/* ---- The network: the switch server and a channel per guest NIC (docs/network.md) ---- */

static struct pith_child switch_server;

/* Guest g's channel: fresh frames and the two badged capabilities that let each side
 * signal the other's notification.  caps[] receives what the switch gets for this port
 * (the VMM's notification, then the frames). */
static enum pith_error make_channel(struct guest *g, pith_cap_t switch_notification, pith_cap_t *caps)
{
    g->net[0] = pith_alloc_slot();
    caps[0] = pith_alloc_slot();
    enum pith_error err = pith_cnode_mint(PITH_SLOT_CNODE, g->net[0], PITH_SLOT_CNODE, switch_notification,
                                          PITH_RIGHT_WRITE, 1ull << g->port);
    if (!err)
        err = pith_cnode_mint(PITH_SLOT_CNODE, caps[0], PITH_SLOT_CNODE, g->notification,
                              PITH_RIGHT_WRITE, PITH_GUEST_NET_BADGE);
    for (unsigned f = 0; !err && f < GUEST_CHANNEL_FRAMES; f++) {
        uint64_t frame = 0;
        err = pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &frame);
        g->net[1 + f] = caps[1 + f] = frame;
    }
    return err;
}

/* The switch and every guest NIC's channel, before the guests start.  A guest whose
 * channel could not be made starts without its NIC (said so). */
static void start_network(const struct sysconf *config)
{
    unsigned count = config->guest_count;
    static struct pith_switch_args args;
    static pith_cap_t caps[1 + PITH_SWITCH_PORTS_MAX * (1 + GUEST_CHANNEL_FRAMES)];
    const struct pith_module_desc *image = root_module("switch");
    uint64_t notification = 0;
    unsigned ports = 0;
    for (unsigned i = 0; i < count; i++)
        guests[i].port = -1;
    for (unsigned i = 0; i < count; i++)
        ports += guests[i].config->valid && guests[i].config->net_segment;
    if (!ports)
        return;
    if (!image || pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &notification) != PITH_OK) {
        say("network: %s; the guests start without NICs\n", image ? "no memory" : "no module 'switch'");
        return;
    }
    caps[0] = notification;
    args = (struct pith_switch_args){ .magic = PITH_SWITCH_MAGIC, .slots = NETRING_SLOTS };
    for (unsigned i = 0; i < count && args.port_count < PITH_SWITCH_PORTS_MAX; i++) {
        struct guest *g = &guests[i];
        if (!g->config->valid || !g->config->net_segment)
            continue;
        g->port = (int)args.port_count;
        if (make_channel(g, notification, caps + PITH_SWITCH_PORT_FIRST(args.port_count, NETRING_SLOTS)) != PITH_OK) {
            say("guest %s: no memory for its NIC's channel\n", g->config->name);
            g->port = -1;
            break;
        }
        uint64_t mac = 0;
        for (unsigned b = 0; b < 6; b++)
            mac = mac << 8 | g->config->mac[b];
        args.mac[args.port_count] = mac;        /* its frames carry this source only */
        args.segment[args.port_count++] = g->config->net_segment;
    }
    if (config->uplink_segment && args.port_count < PITH_SWITCH_PORTS_MAX &&
        uplink_prepare(bi, root_module("uplink"), config->uplink_segment, (unsigned)args.port_count, notification,
                       caps + PITH_SWITCH_PORT_FIRST(args.port_count, NETRING_SLOTS), say))
        args.segment[args.port_count++] = config->uplink_segment;
    switch_server = (struct pith_child){
        .name = "switch", .image = (const void *)image->vaddr, .image_size = image->size,
        .memory_bytes = 4ull << 20, .cnode_bits = 12, .priority = 110,
        .extra_caps = caps, .extra_count = PITH_SWITCH_PORT_FIRST(args.port_count, NETRING_SLOTS),
        .debug_console = PITH_SLOT_DEBUG_CONSOLE, .args = &args, .args_size = sizeof(args) };
    enum pith_error err = pith_child_start(&switch_server);
    if (err != PITH_OK) {
        say("network: the switch did not start (%s); the guests start without NICs\n", pith_error_name(err));
        for (unsigned i = 0; i < count; i++)
            guests[i].port = -1;
        return;
    }
    say("network: the switch serves %lu ports\n", args.port_count);
    uplink_start(say);
}

/* The guest's block of the configuration, as the VMM parses it. */
size_t root_guest_block(const struct sysconf_guest *g, unsigned index, int port, char *out, size_t size)
{
    static const char *const boot[] = { "linux", "multiboot", "flat", "bios" };
    int n = pith_snprintf(out, size, "guest %s\n  memory %luK\n  vcpus %u\n  boot %s\n  kernel %s\n",
                          g->name, g->memory >> 10, g->vcpus, boot[g->boot], g->kernel);
    if (g->initrd[0])
        n += pith_snprintf(out + n, size - (size_t)n, "  initrd %s\n", g->initrd);
    if (g->disk[0])
        n += pith_snprintf(out + n, size - (size_t)n, "  disk %s%s\n", g->disk,
                           g->disk_read_only ? " readonly" : "");
    if (g->disk_partition[0] && storage_has_disk(index))
        n += pith_snprintf(out + n, size - (size_t)n, "  disk part:%s\n", g->disk_partition);
    if (g->cdrom[0])
        n += pith_snprintf(out + n, size - (size_t)n, "  cdrom %s\n", g->cdrom);
    for (unsigned i = 0; i < g->module_count; i++)
        n += pith_snprintf(out + n, size - (size_t)n, "  module %s\n", g->module_string[i]);
    if (g->debug_exit)
        n += pith_snprintf(out + n, size - (size_t)n, "  debug-exit yes\n");
    if (g->nested)
        n += pith_snprintf(out + n, size - (size_t)n, "  nested on\n");
    if (g->gdb)
        n += pith_snprintf(out + n, size - (size_t)n, "  gdb yes\n");
    if (g->cmdline[0])
        n += pith_snprintf(out + n, size - (size_t)n, "  cmdline %s\n", g->cmdline);
    if (g->cpus) {
        char cpus[SYSCONF_MESSAGE];
        sysconf_format_cpus(g->cpus, cpus, sizeof(cpus));
        n += pith_snprintf(out + n, size - (size_t)n, "  cpus %s\n", cpus);
    }
    n += pith_snprintf(out + n, size - (size_t)n, "  console %s\n",
                       g->console == SYSCONF_CONSOLE_SERIAL ? "serial" : "none");
    if (g->net_segment && port >= 0)
        n += pith_snprintf(out + n, size - (size_t)n, "  net %u %02x:%02x:%02x:%02x:%02x:%02x\n",
                           g->net_segment, g->mac[0], g->mac[1], g->mac[2], g->mac[3], g->mac[4], g->mac[5]);
    return (size_t)n < size ? (size_t)n : size - 1;
}

/* Parse the configuration, report its errors, then run the guests (guests.c). */
static bool compose(const struct pith_module_desc *text, const struct pith_module_desc *vmm)
{
    static struct sysconf config;
    static struct sysconf_error errors[16];
    unsigned nerr = sysconf_parse((const char *)text->vaddr, text->size, free_memory() - (64ull << 20),
                                  &config, errors, 16);
    const char *names[PITH_BOOTINFO_MODULES];
    for (unsigned i = 0; i < bi->module_count; i++)
        names[i] = bi->modules[i].name;
    unsigned shown = nerr < 16 ? nerr : 16;
    shown += sysconf_check_modules(&config, names, (unsigned)bi->module_count, errors + shown, 16 - shown);
    shown += sysconf_check_cpus(&config, (unsigned)bi->cpu_count, errors + shown, 16 - shown);
    for (unsigned i = 0; i < shown && i < 16; i++)
        say("system.conf: %s\n", errors[i].message);
    if (guests_prepare(&config) != PITH_OK) {
        say("no memory for the guests' notifications\n");
        return false;
    }
    start_network(&config);
    storage_start(&config, root_module("storage"));
    return guests_run(vmm);
}

int main(void *arg)
{
    bi = arg;
    enum pith_error err = pith_root_init(bi, 0x10000000, 0x20000000);
    if (err) {
        pith_printf("root: no memory to start with: %s\n", pith_error_name(err));
        return 1;
    }
    const struct pith_module_desc *console_image = root_module("console");
    if (console_image && (err = start_console(console_image)) != PITH_OK)
        pith_printf("root: the console server did not start: %s\n", pith_error_name(err));
    say("hello from user space; %lu untyped capabilities, %lu modules, TSC %lu MHz\n",
        bi->untyped_count, bi->module_count, bi->tsc_hz / 1000000);
    const struct pith_module_desc *text = root_module("system.conf"), *vmm = root_module("vmm");
    if (text && vmm) {
        /* no guest is left: the system's work is done, successfully if all stopped cleanly */
        pith_poweroff(compose(text, vmm));
        return 0;
    }
    err = demo();
    if (err)
        say("the demo failed: %s\n", pith_error_name(err));
    say("demo done, powering off\n");
    pith_poweroff(err == PITH_OK);
    return 0;
}
