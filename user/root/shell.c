/*
 * The control shell: the root task's client of the console server (target 1, `Ctrl-] 1`).
 * It reads what is typed to it (polled, guests.c), echoes it, and runs a command per
 * line: help, list, start, stop, destroy, restart, stats, console, gdb, poweroff
 * (README.md, "The control shell").
 */
#include <pith/console_client.h>
#include <pith/cpu.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/string.h>
#include "guests.h"

#define LINE_MAX 80
#define PROMPT "pith> "

bool shell_poweroff;
static char line[LINE_MAX];
static size_t line_length;
static bool after_cr;

static void echo(const char *bytes, size_t n)
{
    if (console)
        pith_console_write(console, bytes, n);
}

static bool prompt_open;            /* the prompt and the line typed so far are shown */

static void prompt(void)
{
    echo(PROMPT, sizeof(PROMPT) - 1);
    echo(line, line_length);
    prompt_open = true;
}

/* Something else the root task says while the prompt waits: on a line of its own,
 * then the prompt and what was typed again. */
void shell_note_begin(void)
{
    if (prompt_open)
        echo("\r\n", 2);
}

void shell_note_end(void)
{
    if (prompt_open)
        prompt();
}

void shell_start(void)
{
    root_say("control shell: Ctrl-] 1 to reach it, then 'help'\n");
    prompt();
}

/* ---- Figures ------------------------------------------------------------------------ */

/* Tenths of a second, as "12.3 s". */
static void format_seconds(char *out, size_t size, uint64_t ticks)
{
    uint64_t tenths = bi->tsc_hz ? ticks * 10 / bi->tsc_hz : 0;
    pith_snprintf(out, size, "%lu.%lu s", tenths / 10, tenths % 10);
}

static uint64_t mib(uint64_t bytes)
{
    return bytes >> 20;
}

static void cmd_help(void)
{
    static const char *const lines[] = {
        "list            the guests: state, memory, vCPUs, uptime; free memory",
        "start NAME      start a guest that is not running",
        "stop NAME       press its ACPI power button: it shuts down cleanly",
        "destroy NAME    end its VMM at once; all its memory comes back",
        "restart NAME    destroy (if running), then start",
        "stats NAME      exits by reason, time in the guest and in the VMM, memory",
        "console NAME    give it the keyboard (Ctrl-] 1 comes back here)",
        "gdb [NAME|none] which guest's VMM serves GDB on COM2; move it to NAME",
        "poweroff        destroy every guest and power the machine off",
    };
    root_say("commands:\n");
    for (unsigned i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        root_say("  %s\n", lines[i]);
}

static void cmd_list(void)
{
    root_say("%-12s %-12s %8s %6s %10s\n", "NAME", "STATE", "MEMORY", "VCPUS", "UPTIME");
    for (unsigned i = 0; i < guest_count; i++) {
        const struct guest *g = &guests[i];
        char uptime[24] = "-";
        if (guest_running(g))
            format_seconds(uptime, sizeof(uptime), pith_rdtsc() - g->started_tsc);
        const char *state = g->config->valid ? guest_state_name(g->state) : "invalid";
        root_say("%-12s %-12s %4lu MiB %6u %10s\n", g->config->name, state, mib(g->config->memory),
                 g->config->vcpus, uptime);
    }
    root_say("free memory: %lu KiB\n", guests_free_memory() >> 10);
}

static const char *const exit_names[PITH_EXIT_COUNT] = {
    [PITH_EXIT_CPUID] = "CPUID", [PITH_EXIT_IO] = "IO", [PITH_EXIT_MMIO] = "MMIO",
    [PITH_EXIT_MSR_READ] = "MSR_READ", [PITH_EXIT_MSR_WRITE] = "MSR_WRITE", [PITH_EXIT_HLT] = "HLT",
    [PITH_EXIT_INTERRUPT_WINDOW] = "WINDOW", [PITH_EXIT_NMI_WINDOW] = "NMI_WINDOW",
    [PITH_EXIT_RECALL] = "RECALL", [PITH_EXIT_EXCEPTION] = "EXCEPTION", [PITH_EXIT_SHUTDOWN] = "SHUTDOWN",
    [PITH_EXIT_INVALID_STATE] = "INVALID_STATE", [PITH_EXIT_VMCALL] = "VMCALL", [PITH_EXIT_INVD] = "INVD",
    [PITH_EXIT_WBINVD] = "WBINVD", [PITH_EXIT_XSETBV] = "XSETBV", [PITH_EXIT_CR_ACCESS] = "CR",
    [PITH_EXIT_PAUSE] = "PAUSE", [PITH_EXIT_INIT] = "INIT", [PITH_EXIT_OTHER] = "OTHER",
};

static const char *exit_name(unsigned reason)
{
    return exit_names[reason] ? exit_names[reason] : "?";
}

static void cmd_stats(struct guest *g)
{
    const volatile struct pith_guest_stats *s = g->stats;
    if (!guest_running(g) || s->magic != PITH_GUEST_STATS_MAGIC) {
        root_say("%s: %s, no figures\n", g->config->name, guest_state_name(g->state));
        return;
    }
    uint64_t now = pith_rdtsc(), vcpu_time = (now - s->started_tsc) * (s->vcpus ? s->vcpus : 1);
    uint64_t vmm = s->vmm_tsc, halted = s->halted_tsc;
    uint64_t in_guest = vcpu_time > vmm + halted ? vcpu_time - vmm - halted : 0;
    char up[24], guest_time[24], vmm_time[24], halt_time[24];
    format_seconds(up, sizeof(up), now - g->started_tsc);
    format_seconds(guest_time, sizeof(guest_time), in_guest);
    format_seconds(vmm_time, sizeof(vmm_time), vmm);
    format_seconds(halt_time, sizeof(halt_time), halted);
    root_say("%s: up %s, %lu vCPU%s: in the guest %s, in the VMM %s, halted %s\n", g->config->name, up,
             s->vcpus, s->vcpus == 1 ? "" : "s", guest_time, vmm_time, halt_time);
    root_say("%s: memory: %lu MiB RAM, %lu KiB VMM, %lu KiB VMM domain\n", g->config->name,
             mib(s->ram_bytes), s->vmm_bytes >> 10, g->vmm.setup_bytes >> 10);
    char text[400] = "";            /* no exit counted yet: nothing after "exits 0:" */
    uint64_t total = 0;
    int n = 0;
    for (unsigned r = 0; r < PITH_EXIT_COUNT; r++) {
        uint64_t count = s->exits[r];
        total += count;
        if (count && n < (int)sizeof(text) - 40)
            n += pith_snprintf(text + n, sizeof(text) - (size_t)n, " %s %lu", exit_name(r), count);
    }
    root_say("%s: exits %lu:%s\n", g->config->name, total, text);
}

static void cmd_destroy(struct guest *g)
{
    if (!guest_running(g)) {
        root_say("%s is %s\n", g->config->name, guest_state_name(g->state));
        return;
    }
    guest_destroy(g, GUEST_DESTROYED);
    root_say("guest %s: destroyed; free memory: %lu KiB\n", g->config->name, guests_free_memory() >> 10);
}

static void cmd_stop(struct guest *g)
{
    if (g->config->boot == SYSCONF_BOOT_FLAT) {
        root_say("%s has no power button (a flat test guest): destroy it\n", g->config->name);
    } else if (guest_stop(g) == PITH_OK) {
        root_say("guest %s: power button pressed\n", g->config->name);
    } else {
        root_say("%s is %s\n", g->config->name, guest_state_name(g->state));
    }
}

static void cmd_console(struct guest *g)
{
    if (!guest_running(g) || !console ||
        pith_console_focus(console, GUEST_BADGE_BASE + g->index) != PITH_OK)
        root_say("%s is %s: the keyboard stays here\n", g->config->name, guest_state_name(g->state));
}

/* COM2's GDB stub: say who has it, or move it (docs/gdb.md). */
static void cmd_gdb(const char *name)
{
    struct guest *owner = guest_gdb_owner(), *g = name[0] ? guest_named(name) : NULL;
    if (!name[0]) {
        if (owner)
            root_say("gdb: COM2 serves %s\n", owner->config->name);
        else
            root_say("gdb: no guest has COM2 (gdb NAME gives it one)\n");
    } else if (!g && pith_strcmp(name, "none") == 0) {
        guest_gdb_take();
        root_say(owner ? "gdb: COM2 taken back from %s\n" : "gdb: no guest had COM2%s\n",
                 owner ? owner->config->name : "");
    } else if (!g) {
        root_say("gdb NAME: no guest named '%s' (list shows them)\n", name);
    } else if (!guest_running(g)) {
        root_say("%s is %s: gdb needs a running guest\n", g->config->name, guest_state_name(g->state));
    } else if (owner == g) {
        root_say("gdb: COM2 serves %s already\n", g->config->name);
    } else {
        enum pith_error err = guest_gdb_give(g);
        if (err)
            root_say("gdb: COM2 could not be given to %s: %s\n", g->config->name, pith_error_name(err));
        else if (owner)
            root_say("gdb: COM2 moved from %s to %s\n", owner->config->name, g->config->name);
        else
            root_say("gdb: COM2 serves %s\n", g->config->name);
    }
}

/* The first word of s, NUL-terminated in place; *rest after it. */
static char *word(char *s, char **rest)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *start = s;
    while (*s && *s != ' ' && *s != '\t')
        s++;
    if (*s)
        *s++ = 0;
    *rest = s;
    return start;
}

static void run(char *text)
{
    char *rest, *name_rest;
    char *command = word(text, &rest), *name = word(rest, &name_rest);
    if (!command[0])
        return;
    if (pith_strcmp(command, "help") == 0 || pith_strcmp(command, "?") == 0)
        return cmd_help();
    if (pith_strcmp(command, "list") == 0)
        return cmd_list();
    if (pith_strcmp(command, "gdb") == 0)
        return cmd_gdb(name);
    if (pith_strcmp(command, "poweroff") == 0) {
        shell_poweroff = true;
        return;
    }
    static const char *const with_name[] = { "start", "stop", "destroy", "restart", "stats", "console" };
    bool known = false;
    for (unsigned i = 0; i < sizeof(with_name) / sizeof(with_name[0]); i++)
        known |= pith_strcmp(command, with_name[i]) == 0;
    if (!known) {
        root_say("unknown command '%s': help lists them\n", command);
        return;
    }
    struct guest *g = guest_named(name);
    if (!g) {
        root_say("%s NAME: no guest named '%s' (list shows them)\n", command, name);
        return;
    }
    if (pith_strcmp(command, "start") == 0) {
        guest_start(g);
    } else if (pith_strcmp(command, "stop") == 0) {
        cmd_stop(g);
    } else if (pith_strcmp(command, "destroy") == 0) {
        cmd_destroy(g);
    } else if (pith_strcmp(command, "restart") == 0) {
        if (guest_running(g))
            cmd_destroy(g);
        guest_start(g);
    } else if (pith_strcmp(command, "stats") == 0) {
        cmd_stats(g);
    } else {
        cmd_console(g);
    }
}

/* ---- Keys --------------------------------------------------------------------------- */

static void key(char c)
{
    bool was_cr = after_cr;
    after_cr = c == '\r';
    if (c == '\n' && was_cr)
        return;                     /* the second half of a CR LF */
    if (c == '\r' || c == '\n') {
        echo("\r\n", 2);
        prompt_open = false;
        line[line_length] = 0;
        line_length = 0;
        run(line);
        if (!shell_poweroff)
            prompt();
    } else if (c == 0x7f || c == 0x08) {
        if (line_length) {
            line_length--;
            echo("\b \b", 3);
        }
    } else if (c == 0x03) {         /* Ctrl-C: the line is dropped */
        line_length = 0;
        echo("^C\r\n", 4);
        prompt_open = false;
        prompt();
    } else if (c >= ' ' && c < 0x7f && line_length < LINE_MAX - 1) {
        line[line_length++] = c;
        echo(&c, 1);
    }
}

void shell_poll(void)
{
    char keys[PITH_CONSOLE_READ_MAX];
    size_t got = 0;
    while (console && !shell_poweroff && pith_console_read(console, keys, sizeof(keys), &got) == PITH_OK && got)
        for (size_t i = 0; i < got && !shell_poweroff; i++)
            key(keys[i]);
}
