/*
 * The guests of the system configuration over their lifetime, as the root task keeps
 * them (guests.c): started at boot or by the control shell (shell.c), stopped by their
 * own power-off, by the ACPI power button or by a crash of their VMM, destroyed, and
 * started again.
 *
 * Memory.  A guest's VMM domain is made in containers the root task keeps from the
 * guest's first start on (pith/process.h): one untyped for the domain's own objects
 * and one around each piece of its memory.  Destroying the guest revokes them, which
 * destroys every object made in them, on any CPU; the next start retypes the same
 * containers again, so starting and destroying a guest any number of times uses no
 * more memory than starting it once.  The capabilities the root task makes for one
 * start live in a window of its CNode (pith_slot_window) that destroy empties.
 * The modules the VMM only copies into its guest (kernel, initrd, firmware) are mapped
 * through a loader, an untyped the guest holds only until its VMM says the guest is
 * loaded (PITH_GUEST_LOADED); emptied, it serves the next guest that starts.
 */
#ifndef ROOT_GUESTS_H
#define ROOT_GUESTS_H

#include <stdbool.h>
#include <pith/alloc.h>
#include <pith/guest.h>
#include <pith/process.h>
#include <pith/switch.h>
#include <pith/sysconf.h>

#define GUEST_BADGE_BASE 16         /* console badges 1.. are ours; guests from here */
#define GUEST_CHANNEL_FRAMES PITH_SWITCH_CHANNEL_FRAMES(NETRING_SLOTS)

enum guest_state {
    GUEST_NOT_STARTED,              /* `autostart no`, or invalid */
    GUEST_RUNNING,
    GUEST_STOPPING,                 /* its power button was pressed */
    GUEST_STOPPED,                  /* it powered off (or stopped with an error) */
    GUEST_CRASHED,                  /* its VMM faulted */
    GUEST_DESTROYED,                /* by the control shell */
};

struct guest {
    const struct sysconf_guest *config;
    unsigned index;
    enum guest_state state;
    struct pith_child vmm;
    unsigned loader_bits;           /* the size of vmm.loader, while it has one */
    uint64_t started_tsc;
    unsigned starts;
    int port;                       /* on the switch, or -1: no NIC */
    /* its NIC's capabilities: the switch's notification badged for it, then the frames */
    pith_cap_t net[1 + GUEST_CHANNEL_FRAMES];
    /* made once, kept over restarts */
    pith_cap_t notification;        /* the VMM's (PITH_GUEST_SLOT_NOTIFY) */
    pith_cap_t power_button;        /* ours: it, badged PITH_GUEST_POWER_BUTTON_BADGE */
    pith_cap_t gdb_signal;          /* ours: it, badged PITH_GUEST_GDB_BADGE */
    pith_cap_t stats_frame;         /* PITH_GUEST_SLOT_STATS, mapped at `stats` */
    volatile struct pith_guest_stats *stats;
    struct pith_slot_window window; /* the capabilities of one start */
};

extern struct guest guests[SYSCONF_MAX_GUESTS];
extern unsigned guest_count;

/* The notification, statistics frame and slot window of each valid guest. */
enum pith_error guests_prepare(struct sysconf *config);
/* Start its VMM; says what happened. */
enum pith_error guest_start(struct guest *g);
/* Press its ACPI power button: the guest shuts down cleanly, if it listens. */
enum pith_error guest_stop(struct guest *g);
/* Its VMM and every object of it are gone, all its memory is back. */
void guest_destroy(struct guest *g, enum guest_state state);
bool guest_running(const struct guest *g);
struct guest *guest_named(const char *name);
const char *guest_state_name(enum guest_state state);
/* COM2 for the GDB stubs (docs/gdb.md): at most one running guest's VMM has its
 * ports open.  give takes them from the owner first (guest_gdb_take: the VMM is told,
 * and they are closed in its address space within GDB_GIVE_BACK_MS whatever it does),
 * then opens them in g's and tells its VMM.  Destroying the owner takes them too. */
struct guest *guest_gdb_owner(void);
enum pith_error guest_gdb_give(struct guest *g);
void guest_gdb_take(void);
/* RAM the root task could give out now: its untyped less what it made, plus the
 * containers of guests that do not run, each checked empty (a whole-size retype). */
uint64_t guests_free_memory(void);
/* Every autostart guest, then the reports and the control shell until the system is
 * done; returns whether every guest that ended stopped cleanly. */
bool guests_run(const struct pith_module_desc *vmm);

/* shell.c: keys typed to the control shell, polled from the console server. */
void shell_start(void);
/* Around a line the root task says: the shell's waiting prompt moves below it. */
void shell_note_begin(void);
void shell_note_end(void);
void shell_poll(void);
extern bool shell_poweroff;         /* `poweroff` was typed */

/* main.c */
void root_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
size_t root_guest_block(const struct sysconf_guest *g, unsigned index, int port, char *out, size_t size);
const struct pith_module_desc *root_module(const char *name);
extern const struct pith_bootinfo *bi;
extern pith_cap_t console, console_service;

#endif
