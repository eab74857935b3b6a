/*
 * The root task composes the system.  It starts the console server on the UART, then
 * reads the system configuration (the boot module "system.conf", docs/config.md) and
 * starts one VMM per valid guest in a protection domain of its own: the guest's memory
 * and the VMM's as untyped, the modules the guest names, a badged capability to the
 * console server and one back to us (include/pith/guest.h).  Configuration errors are
 * reported with their line and the valid guests still start.  When every guest has
 * stopped — or its VMM has crashed — the machine powers off.
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
#include "../../vmm/dev/sysconf.h"
#include "uplink.h"

#define COM1 0x3f8
#define COM1_IRQ 4

static const struct pith_bootinfo *bi;
static pith_cap_t console;          /* our badged capability to the console server */
static pith_cap_t console_service;  /* the server's endpoint: we mint clients from it */
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

/* ---- Guests from the system configuration ----------------------------------------- */

#define GUEST_BADGE_BASE 16         /* console badges 1.. are ours; guests from here */

struct guest {
    const struct sysconf_guest *config;
    struct pith_child vmm;
    bool running;
    int port;                       /* on the switch, or -1: no NIC */
    /* its NIC's capabilities, in PITH_GUEST_SLOT_NET_* order (pith/guest.h) */
    pith_cap_t net[2 + PITH_SWITCH_CHANNEL_FRAMES(NETRING_SLOTS)];
};

static struct sysconf config;
static struct guest guests[SYSCONF_MAX_GUESTS];

static uint64_t free_memory(void)
{
    uint64_t bytes = 0;
    for (unsigned i = 0; i < bi->untyped_count; i++)
        if (!bi->untyped[i].is_device)
            bytes += 1ull << bi->untyped[i].size_bits;
    return bytes;
}

/* ---- The network: the switch server and a channel per guest NIC (docs/network.md) ---- */

#define CHANNEL_FRAMES PITH_SWITCH_CHANNEL_FRAMES(NETRING_SLOTS)

static struct pith_child switch_server;

/* Guest g's channel: fresh frames, its VMM's notification, and the two badged
 * capabilities that let each side signal the other.  caps[] receives what the switch
 * gets for this port (the VMM's notification, then the frames). */
static enum pith_error make_channel(struct guest *g, pith_cap_t switch_notification, pith_cap_t *caps)
{
    uint64_t vmm_notification = 0;
    enum pith_error err = pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &vmm_notification);
    g->net[0] = vmm_notification;
    g->net[1] = pith_alloc_slot();
    caps[0] = pith_alloc_slot();
    if (!err)
        err = pith_cnode_mint(PITH_SLOT_CNODE, g->net[1], PITH_SLOT_CNODE, switch_notification,
                              PITH_RIGHT_WRITE, 1ull << g->port);
    if (!err)
        err = pith_cnode_mint(PITH_SLOT_CNODE, caps[0], PITH_SLOT_CNODE, vmm_notification,
                              PITH_RIGHT_WRITE, PITH_GUEST_NET_BADGE);
    for (unsigned f = 0; !err && f < CHANNEL_FRAMES; f++) {
        uint64_t frame = 0;
        err = pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &frame);
        g->net[2 + f] = caps[1 + f] = frame;
    }
    return err;
}

/* The switch and every guest NIC's channel, before the guests start.  A guest whose
 * channel could not be made starts without its NIC (said so). */
static void start_network(unsigned count)
{
    static struct pith_switch_args args;
    static pith_cap_t caps[1 + PITH_SWITCH_PORTS_MAX * (1 + CHANNEL_FRAMES)];
    const struct pith_module_desc *image = module("switch");
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
        args.segment[args.port_count++] = g->config->net_segment;
    }
    if (config.uplink_segment && args.port_count < PITH_SWITCH_PORTS_MAX &&
        uplink_prepare(bi, module("uplink"), config.uplink_segment, (unsigned)args.port_count, notification,
                       caps + PITH_SWITCH_PORT_FIRST(args.port_count, NETRING_SLOTS), say))
        args.segment[args.port_count++] = config.uplink_segment;
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
static size_t guest_block(const struct sysconf_guest *g, int port, char *out, size_t size)
{
    static const char *const boot[] = { "linux", "multiboot", "flat", "bios" };
    int n = pith_snprintf(out, size, "guest %s\n  memory %luK\n  vcpus %u\n  boot %s\n  kernel %s\n",
                          g->name, g->memory >> 10, g->vcpus, boot[g->boot], g->kernel);
    if (g->initrd[0])
        n += pith_snprintf(out + n, size - (size_t)n, "  initrd %s\n", g->initrd);
    if (g->disk[0])
        n += pith_snprintf(out + n, size - (size_t)n, "  disk %s\n", g->disk);
    if (g->cdrom[0])
        n += pith_snprintf(out + n, size - (size_t)n, "  cdrom %s\n", g->cdrom);
    for (unsigned i = 0; i < g->module_count; i++)
        n += pith_snprintf(out + n, size - (size_t)n, "  module %s\n", g->module_string[i]);
    if (g->debug_exit)
        n += pith_snprintf(out + n, size - (size_t)n, "  debug-exit yes\n");
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

static unsigned module_frames(const struct pith_module_desc *const *mods, unsigned n)
{
    unsigned frames = 0;
    for (unsigned i = 0; i < n; i++)
        frames += (unsigned)mods[i]->frame_count;
    return frames;
}

static enum pith_error start_guest(struct guest *g, unsigned index, const struct pith_module_desc *vmm,
                                   pith_cap_t reports)
{
    static char block[4096];
    enum { MAX_SHARED = 4 + SYSCONF_MAX_MODULES };
    static struct pith_module_desc shared[MAX_SHARED];
    const struct sysconf_guest *c = g->config;
    const struct pith_module_desc *mods[MAX_SHARED];
    unsigned count = 0;
    const char *names[MAX_SHARED] = { c->kernel, c->initrd, c->disk, c->cdrom };
    for (unsigned i = 0; i < c->module_count; i++)
        names[4 + i] = c->module[i];
    for (unsigned i = 0; i < 4 + c->module_count; i++) {
        bool again = false;             /* a module named twice is shared once */
        for (unsigned j = 0; j < count; j++)
            again |= pith_strcmp(shared[j].name, names[i]) == 0;
        if (names[i][0] && !again && (mods[count] = module(names[i])) != NULL)
            shared[count] = *mods[count], count++;
    }
    uint64_t badge = GUEST_BADGE_BASE + index;
    pith_cap_t caps[PITH_GUEST_SLOT_NET_FRAMES + CHANNEL_FRAMES] = { pith_alloc_slot(), pith_alloc_slot() };
    unsigned cap_count = PITH_GUEST_SLOT_COUNT;
    if (g->port >= 0) {
        for (unsigned i = 0; i < 2 + CHANNEL_FRAMES; i++)
            caps[PITH_GUEST_SLOT_NET_NOTIFY + i] = g->net[i];
        cap_count = PITH_GUEST_SLOT_NET_FRAMES + CHANNEL_FRAMES;
    }
    enum pith_error err = pith_cnode_mint(PITH_SLOT_CNODE, caps[PITH_GUEST_SLOT_CONSOLE], PITH_SLOT_CNODE,
                                          console_service, PITH_RIGHT_WRITE | PITH_RIGHT_GRANT, badge);
    if (!err)
        err = pith_cnode_mint(PITH_SLOT_CNODE, caps[PITH_GUEST_SLOT_ROOT], PITH_SLOT_CNODE, reports,
                              PITH_RIGHT_WRITE, badge);
    /* the module frames, two slots per 2 MiB of guest memory, and room for the VMM */
    unsigned slots_needed = module_frames(mods, count) + (unsigned)(c->memory >> 20) + cap_count + 1024, bits = 10;
    while ((1u << bits) < slots_needed)
        bits++;
    g->vmm = (struct pith_child){
        .name = c->name, .image = (const void *)vmm->vaddr, .image_size = vmm->size,
        .memory_bytes = c->memory + PITH_GUEST_VMM_BYTES, .cnode_bits = bits, .priority = 100,
        .modules = shared, .module_count = count, .extra_caps = caps,
        .extra_count = cap_count, .debug_console = PITH_SLOT_DEBUG_CONSOLE, .args = block,
        .cmdline = bi->cmdline,     /* the kernel's: pith.clock= (the RTC's start) */
        .args_size = guest_block(c, g->port, block, sizeof(block)) };
    pith_cap_t fault = pith_alloc_slot();
    if (!err)
        err = pith_cnode_mint(PITH_SLOT_CNODE, fault, PITH_SLOT_CNODE, reports, PITH_RIGHT_WRITE, badge);
    g->vmm.fault_endpoint = fault;
    if (!err)
        err = pith_child_start(&g->vmm);
    g->running = err == PITH_OK;
    return err;
}

/* Start every valid guest, then wait until none is left; returns whether all stopped cleanly. */
static bool compose(const struct pith_module_desc *text, const struct pith_module_desc *vmm)
{
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
    uint64_t reports = 0;
    if (pith_alloc_object(PITH_OBJ_ENDPOINT, 0, &reports) != PITH_OK)
        return false;
    unsigned running = 0;
    bool clean = true;
    for (unsigned i = 0; i < config.guest_count; i++)
        guests[i].config = &config.guests[i];
    start_network(config.guest_count);
    for (unsigned i = 0; i < config.guest_count; i++) {
        if (!config.guests[i].valid) {
            say("guest %s: not started (see the errors above)\n", config.guests[i].name);
            continue;
        }
        enum pith_error err = start_guest(&guests[i], i, vmm, reports);
        say("guest %s: %lu MiB, %s%s\n", config.guests[i].name, config.guests[i].memory >> 20,
            err ? "could not start: " : "started", err ? pith_error_name(err) : "");
        if (!err)
            say("guest %s: its VMM's domain took %lu KiB (CNode, address space, thread, image, tables)\n",
                config.guests[i].name, guests[i].vmm.setup_bytes >> 10);
        running += err == PITH_OK;
    }
    while (running) {
        struct pith_msg msg;
        pith_recv(reports, &msg);
        unsigned index = (unsigned)(msg.badge - GUEST_BADGE_BASE);
        if (index >= config.guest_count || !guests[index].running)
            continue;
        struct guest *g = &guests[index];
        uint64_t label = pith_msginfo_label(msg.info);
        if (label == PITH_GUEST_STOPPED) {
            if (pith_msginfo_length(msg.info) > 1 && msg.mr[1])    /* isa-debug-exit */
                say("guest %s: stopped with exit status %lu\n", g->config->name, msg.mr[1]);
            else
                say("guest %s: stopped%s\n", g->config->name, msg.mr[0] ? " with an error" : "");
            clean &= msg.mr[0] == 0;
        } else {
            say("guest %s: its VMM crashed (fault %lu at %lx); the other guests go on\n",
                g->config->name, label, msg.mr[0]);
            clean = false;
        }
        if (console)
            pith_console_stopped(console, msg.badge);
        pith_child_destroy(&g->vmm);
        g->running = false;
        running--;
    }
    say("no guest left (%s), powering off\n", clean ? "all stopped cleanly" : "not all stopped cleanly");
    return clean;
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
    const struct pith_module_desc *text = module("system.conf"), *vmm = module("vmm");
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
