/*
 * A guest of the system configuration (docs/config.md): from the root task's argument
 * block, a guest.conf module, or the built-in Linux guest of make test-linux.  The
 * guest is built from the modules its block names on the platform its boot method
 * wants, run, and reported: to the root task (PITH_GUEST_STOPPED), or by powering the
 * machine off when the VMM is the root task itself.
 */
#include <stdarg.h>

#include <pith/alloc.h>
#include <pith/console_client.h>
#include <pith/guest.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/string.h>
#include <pith/switch.h>
#include <pith/sysconf.h>

#include "bios.h"
#include "dev/debug_exit.h"
#include "gdbstub.h"
#include "linux.h"
#include "multiboot_guest.h"
#include "nested.h"
#include "storage_client.h"
#include "vmm.h"

/* A writable disk is the guest's own copy of the boot module, in this VMM's memory:
 * the module stays as it was for other guests, and writes are lost at power-off. */
static bool disk_copy(struct vm *vm, struct pc_disk *d)
{
    uint8_t *copy = pith_alloc_pages((size_t)((d->size + 4095) / 4096));
    if (!copy) {
        vm_log(vm, "no memory for a writable copy of the disk (%lu bytes)", d->size);
        return false;
    }
    pith_memcpy(copy, d->data, (size_t)d->size);
    d->data = copy;
    d->writable = true;
    return true;
}

/* `disk part:NAME`: the storage channel's capabilities follow the NIC's (pith/guest.h).
 * A partition the server refused leaves the guest without a disk (both say so). */
#define VMM_STORAGE_CHANNEL 0x00007f0000600000ull     /* beside the stack's tables: one more */
_Static_assert(PITH_STORAGE_CHANNEL_FRAMES <= 512, "the storage channel fits one page table");

static void host_partition(struct vm *vm, const struct sysconf_guest *g, struct pc_disk *d)
{
    static struct storage_client client;
    uint64_t first = g->net_segment ? PITH_GUEST_SLOT_NET_FRAMES + PITH_SWITCH_CHANNEL_FRAMES(NETRING_SLOTS)
                                    : PITH_GUEST_SLOT_COUNT;
    if (bootinfo->extra_count < first + PITH_GUEST_STORAGE_CAPS ||
        !storage_client_open(&client, vm, bootinfo->extra_first_slot + first, VMM_STORAGE_CHANNEL,
                             bootinfo->tsc_hz)) {
        vm_log(vm, "no disk: the storage server does not serve partition '%s'", g->disk_partition);
        return;
    }
    vm_log(vm, "disk: host partition '%s', %lu KiB, writable", g->disk_partition, client.sectors / 2);
    *d = (struct pc_disk){ .size = client.sectors * 512, .writable = true, .read = storage_client_read,
                           .write = storage_client_write, .flush = storage_client_flush, .ctx = &client,
                           .stage = client.data, .stage_bytes = PITH_STORAGE_DATA_BYTES };
}

/* The guest `make test-linux` boots when no guest.conf module describes another. */
static size_t builtin_config(char *text, size_t size)
{
    int n = pith_snprintf(text, size, "guest linux\n  memory 128M\n  kernel vmlinuz\n");
    if (module_named("initrd.img"))
        n += pith_snprintf(text + n, size - (size_t)n, "  initrd initrd.img\n");
    if (module_named("disk.img"))
        n += pith_snprintf(text + n, size - (size_t)n, "  disk disk.img\n");
    n += pith_snprintf(text + n, size - (size_t)n,
                       "  cmdline console=ttyS0 earlyprintk=serial panic=-1 pith.test=1\n");
    return (size_t)n;
}

/* The console server, if there is one: pith_printf writes there too. */
static pith_cap_t console_cap, root_endpoint;

static const char *end_name(enum vm_end end)
{
    switch (end) {
    case VM_END_POWER_OFF: return "powered off";
    case VM_END_RESET: return "reset";
    case VM_END_HALTED: return "halted";
    case VM_END_ERROR: return "failed";
    default: return "stopped";
    }
}

static void report_configured(struct vm *vm, uint64_t started)
{
    const struct vm_record *r = &vm->record;
    uint64_t ms = (pith_rdtsc() - started) / (bootinfo->tsc_hz / 1000);
    vm_own_line(vm);
    if (!vm->why[0] && vm->platform == &test_platform && vm->test.testdev.verdict_written)
        pith_printf("vmm: %s: stopped after %lu ms with verdict %u\n", vm->name, ms, vm->test.testdev.verdict);
    else
        pith_printf("vmm: %s: %s after %lu ms: %s\n", vm->name, end_name(vm->end), ms, vm->why);
    pith_printf("vmm: %s: exits: %lu IO, %lu MMIO, %lu MSR, %lu CPUID, %lu HLT, %lu RECALL, %lu window, "
        "%lu PORT_WRITES; %lu interrupts\n", vm->name,
        r->exits[PITH_EXIT_IO], r->exits[PITH_EXIT_MMIO],
        r->exits[PITH_EXIT_MSR_READ] + r->exits[PITH_EXIT_MSR_WRITE], r->exits[PITH_EXIT_CPUID],
        r->exits[PITH_EXIT_HLT], r->exits[PITH_EXIT_RECALL], r->exits[PITH_EXIT_INTERRUPT_WINDOW],
        r->exits[PITH_EXIT_PORT_WRITES], r->interrupts);
    uint64_t per_us = bootinfo->tsc_hz / 1000000 ? bootinfo->tsc_hz / 1000000 : 1;
    pith_printf("vmm: %s: the VMM's time on them: %lu us IO, %lu us MMIO, %lu us MSR, %lu us CPUID, %lu us HLT, "
        "%lu us RECALL, %lu us window, %lu us PORT_WRITES\n", vm->name,
        r->exit_tsc[PITH_EXIT_IO] / per_us, r->exit_tsc[PITH_EXIT_MMIO] / per_us,
        (r->exit_tsc[PITH_EXIT_MSR_READ] + r->exit_tsc[PITH_EXIT_MSR_WRITE]) / per_us,
        r->exit_tsc[PITH_EXIT_CPUID] / per_us, r->exit_tsc[PITH_EXIT_HLT] / per_us,
        r->exit_tsc[PITH_EXIT_RECALL] / per_us, r->exit_tsc[PITH_EXIT_INTERRUPT_WINDOW] / per_us,
        r->exit_tsc[PITH_EXIT_PORT_WRITES] / per_us);
    if (vm->platform->report)
        vm->platform->report(vm);
}

/* One guest from its block of the configuration; true when it ended cleanly (powered
 * itself off, or a test guest's pass verdict). */
/* Does the command line hold this word (space-separated)? */
static bool cmdline_has(const char *line, const char *word)
{
    size_t n = pith_strlen(word);
    for (const char *p = line; *p; p++)
        if ((p == line || p[-1] == ' ') && pith_strncmp(p, word, n) == 0 && (p[n] == ' ' || !p[n]))
            return true;
    return false;
}

/* The number after a word starting with `key` ("pith.boot_menu_wait="), or fallback. */
static uint64_t cmdline_number(const char *line, const char *key, uint64_t fallback)
{
    size_t n = pith_strlen(key);
    for (const char *p = line; *p; p++) {
        if ((p == line || p[-1] == ' ') && pith_strncmp(p, key, n) == 0 && p[n] >= '0' && p[n] <= '9') {
            uint64_t v = 0;
            for (p += n; *p >= '0' && *p <= '9' && v < (1ull << 40); p++)
                v = v * 10 + (uint64_t)(*p - '0');
            return v;
        }
    }
    return fallback;
}

/* isa-debug-exit: the guest ends with status (v << 1) | 1, which the root task reports. */
static uint32_t exit_status;

static void debug_exit_stop(void *ctx, uint32_t status)
{
    vm_stop(ctx, VM_END_POWER_OFF, "exit status %u through port 0x%x", status, DEBUG_EXIT_PORT);
}

/* The guest's NIC channel (pith/guest.h): its frames mapped here.  PITH_E_INVALID_ARG
 * when the root task passed no channel. */
#define VMM_NET_CHANNEL 0x00007f0000400000ull         /* beside the stack's tables: one more */
_Static_assert(PITH_SWITCH_CHANNEL_FRAMES(NETRING_SLOTS) <= 512, "the NIC's channel fits one page table");

static enum pith_error map_channel(void **channel)
{
    unsigned frames = PITH_SWITCH_CHANNEL_FRAMES(NETRING_SLOTS);
    if (bootinfo->extra_count < PITH_GUEST_SLOT_NET_FRAMES + frames)
        return PITH_E_INVALID_ARG;
    pith_cap_t first = bootinfo->extra_first_slot + PITH_GUEST_SLOT_NET_FRAMES;
    for (unsigned f = 0; f < frames; f++) {
        enum pith_error err = pith_map_frame(first + f, PITH_SLOT_ADDRESS_SPACE, VMM_NET_CHANNEL + 4096ull * f,
                                             PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0);
        if (err)
            return err;
    }
    *channel = (void *)VMM_NET_CHANNEL;
    return PITH_OK;
}

/* The root task's statistics frame (pith/guest.h), mapped here; NULL without one.  In
 * the 2 MiB the boot info, IPC buffer and stack are in: it needs no page table more. */
#define VMM_STATS_PAGE 0x00007f0000020000ull

static struct pith_guest_stats *map_stats(void)
{
    if (bootinfo->extra_count <= PITH_GUEST_SLOT_STATS ||
        pith_map_frame(bootinfo->extra_first_slot + PITH_GUEST_SLOT_STATS, PITH_SLOT_ADDRESS_SPACE,
                       VMM_STATS_PAGE, PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0) != PITH_OK)
        return NULL;
    return (struct pith_guest_stats *)VMM_STATS_PAGE;
}

/* For the tests of isolation (docs/security.md): a VMM told to crash does so before its
 * guest runs, and the root task must carry on with the others. */
static void crash_if_asked(const struct sysconf_guest *g)
{
    if (cmdline_has(g->cmdline, "pith.vmm_crash=1")) {
        /* as a hostile VMM would, it tries the kernel's debug console first: under a
         * console server it holds none (tests/ops.py checks the answer) */
        enum pith_error debug = pith_debug_putc('\n');
        pith_printf("vmm: %s: the kernel's debug console: %s\n", g->name, pith_error_name(debug));
        pith_printf("vmm: %s: crashing on purpose (pith.vmm_crash=1)\n", g->name);
        __builtin_trap();           /* ud2: the VMM thread faults */
    }
}

static bool run_configured(const char *text, size_t length)
{
    /* The root task gives this VMM its own guest's block only: room for that one, not a
     * whole system's (SYSCONF_MAX_GUESTS of them would grow every VMM). */
    static struct sysconf_guest config;
    static struct sysconf_error errors[8];
    unsigned count = 0;
    unsigned nerr = sysconf_parse_guests(text, length, 1ull << 40, &config, 1, &count, errors, 8);
    const char *names[PITH_BOOTINFO_MODULES];
    for (unsigned i = 0; i < bootinfo->module_count; i++)
        names[i] = bootinfo->modules[i].name;
    unsigned shown = nerr < 8 ? nerr : 8;
    if (count)
        shown += sysconf_check_guest_modules(&config, names, (unsigned)bootinfo->module_count,
                                             errors + shown, 8 - shown);
    for (unsigned i = 0; i < shown && i < 8; i++)
        pith_printf("vmm: configuration: %s\n", errors[i].message);
    const struct sysconf_guest *g = count && config.valid ? &config : NULL;
    if (!g) {
        pith_printf("vmm: no valid guest in the configuration\n");
        return false;
    }
    if (console_cap)
        pith_console_hello(console_cap, g->name);

    const struct pith_module_desc *kernel = module_named(g->kernel), *initrd = module_named(g->initrd),
                                  *disk = module_named(g->disk), *cdrom = module_named(g->cdrom);
    bool linux = g->boot == SYSCONF_BOOT_LINUX, flat = g->boot == SYSCONF_BOOT_FLAT;
    bool multiboot = g->boot == SYSCONF_BOOT_MULTIBOOT, bios = g->boot == SYSCONF_BOOT_BIOS;
    uint64_t ram = (g->memory + (2ull << 20) - 1) & ~((2ull << 20) - 1);
    if (flat && ram < VM_TEST_RAM_SIZE)
        ram = VM_TEST_RAM_SIZE;
    struct vm_config vc = { .name = g->name, .platform = flat ? &test_platform : &pc_platform,
                            .ram_bytes = ram, .vcpus = linux ? g->vcpus : 1, .cpu_mask = g->cpus,
                            .host_cpus = (unsigned)bootinfo->cpu_count,
                            .tsc_hz = bootinfo->tsc_hz, .console = console_cap,
                            .no_output = g->console == SYSCONF_CONSOLE_NONE,
                            .wall_clock = rtc_clock_from_cmdline(bootinfo->cmdline, 0),
                            .exception_bitmap = g->gdb ? GDB_EXCEPTION_BITMAP : 0,
                            .low_pages = bios };    /* the PAM segments are write-protected */
    crash_if_asked(g);
    /* The notification comes after the guest's RAM: 2 MiB frames retype best first. */
    enum pith_error err = vm_create(&guest, &vc);
    if (!err)
        nested_setup(&guest, g->nested);
    uint64_t notification = 0;
    void *channel = NULL;
    if (!err && g->net_segment)
        err = map_channel(&channel);
    if (bootinfo->extra_count > PITH_GUEST_SLOT_NOTIFY)     /* the root task's and the switch's */
        notification = bootinfo->extra_first_slot + PITH_GUEST_SLOT_NOTIFY;
    if (!err && !notification)
        err = pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &notification);
    if (!err)
        err = pith_thread_bind_notification(PITH_SLOT_THREAD, notification);
    guest.cpus[0].notification = notification;
    if (err != PITH_OK) {
        pith_printf("vmm: %s: creating the guest (%lu MiB): %s\n", g->name, ram >> 20, pith_error_name(err));
        return false;
    }
    /* COM2 comes from the root task, if ever (gdbstub.h) */
    gdb_prepare(&guest, cmdline_has(g->cmdline, "pith.gdb_keep_com2=1"));
    /* COM1's port shortcuts unless asked not to (docs/vm.md, "Port shortcuts") */
    guest.port_shortcuts = !cmdline_has(g->cmdline, "pith.port_shortcuts=0");
    static const char *const methods[] = { "Linux on the PC platform", "a multiboot kernel on the PC platform",
                                           "a flat test guest", "firmware on the PC platform" };
    vm_log(&guest, "%lu MiB of RAM, %s, %s %s (%lu bytes)%s%s%s%s%s%s%s", ram >> 20, methods[g->boot],
           bios ? "firmware" : "kernel", g->kernel, kernel->size,
           initrd ? ", initrd " : "", initrd ? g->initrd : "", disk ? ", disk " : "", disk ? g->disk : "",
           cdrom ? ", cdrom " : "", cdrom ? g->cdrom : "", linux ? ", virtio console" : "");
    bool loaded = true;
    if (!flat) {
        struct pc_disk d = { .data = disk ? (uint8_t *)disk->vaddr : NULL, .size = disk ? disk->size : 0 };
        if (linux && disk && !g->disk_read_only)
            loaded = disk_copy(&guest, &d);
        if (linux && g->disk_partition[0])
            host_partition(&guest, g, &d);
        struct pc_net net = { channel, { 0 }, bootinfo->extra_first_slot + PITH_GUEST_SLOT_NET_SWITCH };
        pith_memcpy(net.mac, g->mac, 6);
        struct pc_setup setup = { .disk = linux && (disk || d.read) ? &d : NULL,
                                  .virtio_console = linux,      /* hvc0 writes to the same console */
                                  .net = channel ? &net : NULL };
        if (loaded)
            loaded = pc_create(&guest, &setup);
        if (loaded && channel)
            vm_log(&guest, "NIC %02x:%02x:%02x:%02x:%02x:%02x on segment %u", g->mac[0], g->mac[1],
                   g->mac[2], g->mac[3], g->mac[4], g->mac[5], g->net_segment);
        if (!loaded)
            vm_stop(&guest, VM_END_ERROR, "building the PC platform failed");
    }
    static struct debug_exit debug_exit;
    if (loaded && g->debug_exit) {
        debug_exit_init(&debug_exit, debug_exit_stop, &guest);
        loaded = vm_add_port_window(&guest, (struct device_window){ DEBUG_EXIT_PORT, 1, &debug_exit_ops,
                                                                    &debug_exit });
    }
    if (!loaded) {
        /* reported above */
    } else if (linux) {
        struct linux_guest lg = { (const void *)kernel->vaddr, kernel->size,
                                  initrd ? (const void *)initrd->vaddr : NULL, initrd ? initrd->size : 0,
                                  g->cmdline };
        loaded = linux_load(&guest, &lg);
    } else if (multiboot) {
        static struct multiboot_module modules[SYSCONF_MAX_MODULES];
        for (unsigned i = 0; i < g->module_count; i++) {
            const struct pith_module_desc *m = module_named(g->module[i]);
            modules[i] = (struct multiboot_module){ (const void *)m->vaddr, m->size, g->module_string[i] };
        }
        struct multiboot_guest mg = { (const void *)kernel->vaddr, kernel->size, g->cmdline,
                                      modules, g->module_count };
        loaded = multiboot_guest_load(&guest, &mg);
    } else if (bios) {
        struct irq_line irq14 = pc_isa_line(&guest, 14), irq15 = pc_isa_line(&guest, 15);
        uint64_t wait = cmdline_number(g->cmdline, "pith.boot_menu_wait=", BIOS_MENU_WAIT_MS);
        loaded = bios_load(&guest, (const void *)kernel->vaddr, kernel->size, 1,
                           cmdline_has(g->cmdline, "pith.bios_log=1"), wait < 65535 ? (unsigned)wait : 65535);
        struct pc_disk part = { 0 };
        if (g->disk_partition[0])
            host_partition(&guest, g, &part);
        if (loaded && disk)
            loaded = bios_attach_disk(&guest, 0, (const void *)disk->vaddr, disk->size, false, &irq14, &irq15);
        else if (loaded && part.read)
            loaded = bios_attach_host_disk(&guest, 0, &part, &irq14, &irq15);
        if (loaded && cdrom)
            loaded = bios_attach_disk(&guest, 2, (const void *)cdrom->vaddr, cdrom->size, true, &irq14, &irq15);
        if (loaded)
            loaded = bios_attach_vga(&guest);
        if (loaded) {
            i8042_attach_keyboard(&guest.pc.kbd, pc_isa_line(&guest, 1));
            guest.pc.keyboard_input = true;
            guest.pc.poll = bios_vga_poll;
        } else if (!guest.stopped) {
            vm_stop(&guest, VM_END_ERROR, "setting up the firmware platform failed");
        }
    } else {
        loaded = vm_load(&guest, (const uint8_t *)kernel->vaddr, kernel->size);
    }
    /* The kernel, initrd and firmware are in the guest now: the root task may unmap them. */
    if (root_endpoint) {
        struct pith_msg msg = { .info = pith_msginfo(PITH_GUEST_LOADED, 0, 0) };
        pith_send(root_endpoint, &msg);
    }
    /* What this guest costs beyond its RAM, on the VMM's side (the root task reports
     * the VMM domain's own objects and image): make bench reads both. */
    vm_log(&guest, "memory beyond the guest's RAM: %lu KiB (kernel objects, tables, VMM heap)",
           (pith_alloc_bytes() - ram) >> 10);
    if ((guest.stats = map_stats()) != NULL) {
        guest.stats->ram_bytes = ram;
        guest.stats->vmm_bytes = pith_alloc_bytes() - ram;
        guest.stats->vcpus = guest.vcpu_count;
        gdb_grant_changed(&guest);
    }
    uint64_t started = pith_rdtsc();
    if (loaded)
        vm_run(&guest);
    report_configured(&guest, started);
    /* and at the end: what its devices took while it ran (a firmware guest's written
     * disk chunks), against what the root task gave it for itself (docs/vmm.md) */
    pith_printf("vmm: %s: memory beyond the guest's RAM at the end: %lu KiB\n", g->name, (pith_alloc_bytes() - ram) >> 10);
    if (debug_exit.written) {
        exit_status = debug_exit.status;
        return true;                /* it ended itself; the status says how */
    }
    if (flat)
        return !guest.why[0] && guest.test.testdev.verdict_written && guest.test.testdev.verdict == 0;
    return guest.end == VM_END_POWER_OFF;
}

int run_configured_guest(void)
{
    static char text[1024];
    size_t length;
    if (bootinfo->extra_count > PITH_GUEST_SLOT_CONSOLE) {
        console_cap = bootinfo->extra_first_slot + PITH_GUEST_SLOT_CONSOLE;
        pith_printf_to_console(console_cap);
    }
    if (bootinfo->extra_count > PITH_GUEST_SLOT_ROOT)
        root_endpoint = bootinfo->extra_first_slot + PITH_GUEST_SLOT_ROOT;
    const struct pith_module_desc *conf = module_named("guest.conf");
    const char *source = (const char *)bootinfo->args_vaddr;
    if (bootinfo->args_size) {
        length = bootinfo->args_size;
    } else if (conf) {
        source = (const char *)conf->vaddr;
        length = conf->size;
    } else {
        source = text;
        length = builtin_config(text, sizeof(text));
    }
    bool clean = run_configured(source, length);
    if (root_endpoint) {
        struct pith_msg msg = { .info = pith_msginfo(PITH_GUEST_STOPPED, 2, 0),
                                .mr = { clean ? 0 : 1, exit_status } };
        pith_send(root_endpoint, &msg);
    } else if (!bootinfo->args_size) {
        pith_poweroff(clean);
    }
    return clean ? 0 : 1;
}
