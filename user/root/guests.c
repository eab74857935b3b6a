/* The guests over their lifetime (guests.h). */
#include <pith/console_client.h>
#include <pith/cpu.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/root.h>
#include <pith/string.h>
#include <pith/syscall.h>
#include "guests.h"
#include "storage.h"

#define STATS_VADDR     0x0000700000000000ull   /* guest i's statistics frame: + i pages */
#define POLL_HZ         40                      /* the control shell reads keys this often */

struct guest guests[SYSCONF_MAX_GUESTS];
unsigned guest_count;
static pith_cap_t reports;          /* the VMMs' reports and faults, badged per guest */
static const struct pith_module_desc *vmm_image;
static bool all_clean = true;

/* COM2, for the VMMs' GDB stubs (docs/gdb.md).  Its capability never leaves the root
 * task: the ports are opened in one VMM's address space at most, the owner's, and
 * closed again before they are opened in another. */
#define COM2                0x2f8
#define GDB_GIVE_BACK_MS    500     /* a VMM's time to stop using COM2 before it is closed */
static pith_cap_t com2, gdb_timer;
static struct guest *gdb_owner;
static uint64_t gdb_grants;

static const char *const state_names[] = {
    [GUEST_NOT_STARTED] = "not started", [GUEST_RUNNING] = "running", [GUEST_STOPPING] = "stopping",
    [GUEST_STOPPED] = "stopped", [GUEST_CRASHED] = "crashed", [GUEST_DESTROYED] = "destroyed",
};

const char *guest_state_name(enum guest_state state)
{
    return state_names[state];
}

bool guest_running(const struct guest *g)
{
    return g->state == GUEST_RUNNING || g->state == GUEST_STOPPING;
}

struct guest *guest_named(const char *name)
{
    for (unsigned i = 0; i < guest_count; i++)
        if (pith_strcmp(guests[i].config->name, name) == 0)
            return &guests[i];
    return NULL;
}

static enum pith_error prepare(struct guest *g)
{
    enum pith_error err = pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &g->notification);
    g->power_button = pith_alloc_slot();
    if (!err)
        err = pith_cnode_mint(PITH_SLOT_CNODE, g->power_button, PITH_SLOT_CNODE, g->notification,
                              PITH_RIGHT_WRITE, PITH_GUEST_POWER_BUTTON_BADGE);
    g->gdb_signal = pith_alloc_slot();
    if (!err)
        err = pith_cnode_mint(PITH_SLOT_CNODE, g->gdb_signal, PITH_SLOT_CNODE, g->notification,
                              PITH_RIGHT_WRITE, PITH_GUEST_GDB_BADGE);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &g->stats_frame);
    /* our view through a copy: the VMM gets the original's copy, we keep ours mapped */
    pith_cap_t view = pith_alloc_slot();
    if (!err)
        err = pith_cnode_copy(PITH_SLOT_CNODE, view, PITH_SLOT_CNODE, g->stats_frame, PITH_RIGHTS_ALL);
    uint64_t vaddr = STATS_VADDR + 4096ull * g->index;
    if (!err)
        err = pith_map_frame(view, PITH_SLOT_ADDRESS_SPACE, vaddr, PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0);
    g->stats = (volatile struct pith_guest_stats *)vaddr;
    /* the window of its starts: as large as the first start needs (pith/alloc.h) */
    g->window = (struct pith_slot_window){ 0 };
    return err;
}

/* The page tables under pith_child_start's scratch page, made now, outside any
 * window: a window's slots are emptied, and tables whose capability is deleted would
 * be made again (and their memory taken again) at every start. */
static enum pith_error scratch_tables(void)
{
    uint64_t frame = 0;
    enum pith_error err = pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &frame);
    if (!err)
        err = pith_map_frame(frame, PITH_SLOT_ADDRESS_SPACE, PITH_CHILD_SCRATCH_VADDR, PITH_RIGHT_READ, 0);
    if (!err)
        err = pith_frame_unmap(frame);
    return err;
}

/* COM2's capability and a notification to wait on, outside any guest's window. */
static void gdb_prepare(void)
{
    pith_cap_t slot = pith_alloc_slot();
    enum pith_error err = pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, COM2, COM2 + 7, slot);
    if (!err)
        err = pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &gdb_timer);
    if (err)
        root_say("gdb: COM2's ports could not be issued: %s\n", pith_error_name(err));
    else
        com2 = slot;
}

enum pith_error guests_prepare(struct sysconf *config)
{
    guest_count = config->guest_count;
    gdb_prepare();
    enum pith_error err = scratch_tables();
    for (unsigned i = 0; i < guest_count; i++) {
        struct guest *g = &guests[i];
        *g = (struct guest){ .config = &config->guests[i], .index = i, .port = -1 };
        if (!err && g->config->valid)
            err = prepare(g);
    }
    return err;
}

/* Slots a VMM's CNode has beyond two per 2 MiB of guest memory and the capabilities
 * it is given: its vCPUs and threads, its page tables and heap pages. */
#define VMM_SLOT_ROOM 256
/* A firmware guest's first 2 MiB is 512 frames of 4 KiB, two slots each (vmm/vm.c). */
#define VMM_LOW_PAGE_SLOTS 1024
/* A nested guest's shadow, per vCPU: a slot per page and per table it maps at once. */
#define VMM_NESTED_SLOTS 1152
/* The VMM's own stack, for its first vCPU's exits: a Linux, multiboot or firmware guest
 * takes it 4 KiB deep at most (measured); the other vCPUs' threads have their own. */
#define VMM_STACK_PAGES 8

/*
 * The VMM's own memory beyond the guest's RAM (docs/vmm.md), sized from the guest: a base for the guest space, the VMM's
 * tables and heap (a one-vCPU Linux guest takes 62 KiB of it, a few more tables per GiB
 * of RAM); each vCPU's objects and VMM thread (about 110 KiB: the vCPU 32 KiB, its
 * thread's 64 KiB stack); a firmware guest's 2 MiB frame, with 2 MiB for its alignment
 * behind the other objects; a copy of each disk it may write (a writable Linux disk, a
 * firmware guest's written chunks); for a nested guest, per vCPU, its guest's two vCPUs and
 * threads and the shadow nested table's tables.
 */
#define VMM_BASE_BYTES      (512ull << 10)
#define VMM_VCPU_BYTES      (256ull << 10)
#define VMM_FIRMWARE_BYTES  (4ull << 20)
#define VMM_NESTED_BYTES    (768ull << 10)   /* per vCPU: L2's two vCPUs and threads, the
                                                 * shadow's 74 tables (vmm/nested_shadow.h) */
#define VMM_FLAT_RAM_MIN    (4ull << 20)    /* the VMM gives a flat test guest this at least */

static uint64_t vmm_memory(const struct sysconf_guest *c, uint64_t disk_frames)
{
    uint64_t ram = (c->memory + (2ull << 20) - 1) & ~((2ull << 20) - 1);   /* as the VMM rounds it */
    if (c->boot == SYSCONF_BOOT_FLAT && ram < VMM_FLAT_RAM_MIN)
        ram = VMM_FLAT_RAM_MIN;
    uint64_t bytes = ram + VMM_BASE_BYTES + (c->vcpus > 1 ? c->vcpus : 1) * VMM_VCPU_BYTES + disk_frames * 4096;
    if (c->boot == SYSCONF_BOOT_BIOS)
        bytes += VMM_FIRMWARE_BYTES;
    if (c->nested)
        bytes += (c->vcpus > 1 ? c->vcpus : 1) * VMM_NESTED_BYTES;
    return bytes;
}

/*
 * Loaders (pith/process.h) that no guest uses now, empty: a guest takes one for its
 * start (the mappings of the modules its VMM copies into the guest: kernel, initrd,
 * firmware) and gives it back when its VMM says the guest is loaded, or when it is
 * destroyed.  At most one per guest loads at a time, so the array never overflows.
 */
static struct spare_loader {
    pith_cap_t cap;
    unsigned bits;
} spare_loaders[SYSCONF_MAX_GUESTS];
static unsigned spare_count;

/* The smallest spare loader of at least 2^bits bytes, or a new one; 0 when none. */
static pith_cap_t take_loader(unsigned bits, unsigned *size_bits)
{
    int best = -1;
    for (unsigned i = 0; i < spare_count; i++)
        if (spare_loaders[i].bits >= bits && (best < 0 || spare_loaders[i].bits < spare_loaders[best].bits))
            best = (int)i;
    if (best >= 0) {
        pith_cap_t cap = spare_loaders[best].cap;
        *size_bits = spare_loaders[best].bits;
        spare_loaders[best] = spare_loaders[--spare_count];
        return cap;
    }
    pith_cap_t cap = 0;
    *size_bits = bits;
    return pith_alloc_object(PITH_OBJ_UNTYPED, bits, &cap) == PITH_OK ? cap : 0;
}

/* The guest's modules are no longer mapped in its VMM: its loader is empty again. */
static void give_back_loader(struct guest *g)
{
    if (!g->vmm.loader)
        return;
    pith_child_loaded(&g->vmm);
    if (spare_count < SYSCONF_MAX_GUESTS)
        spare_loaders[spare_count++] = (struct spare_loader){ g->vmm.loader, g->loader_bits };
    g->vmm.loader = 0;
}

/* Which of the shared modules the VMM copies into its guest and then no longer reads:
 * all but the disks, which it reads for as long as the guest runs. */
static uint32_t load_only_modules(const struct sysconf_guest *c, const struct pith_module_desc *shared,
                                  unsigned count, uint64_t *disk_frames)
{
    uint32_t mask = 0;
    *disk_frames = 0;
    for (unsigned i = 0; i < count; i++) {
        if (pith_strcmp(shared[i].name, c->disk) == 0 || pith_strcmp(shared[i].name, c->cdrom) == 0)
            *disk_frames += shared[i].frame_count;
        else
            mask |= 1u << i;
    }
    return mask;
}

/* The VMM domain, with the capabilities of pith/guest.h, made in the guest's window. */
static enum pith_error start_vmm(struct guest *g)
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
        if (names[i][0] && !again && (mods[count] = root_module(names[i])) != NULL)
            shared[count] = *mods[count], count++;
    }
    uint64_t badge = GUEST_BADGE_BASE + g->index;
    pith_cap_t caps[PITH_GUEST_SLOT_NET_FRAMES + GUEST_CHANNEL_FRAMES + PITH_GUEST_STORAGE_CAPS] = {
        pith_alloc_slot(), pith_alloc_slot(), pith_alloc_slot(), pith_alloc_slot() };
    unsigned cap_count = PITH_GUEST_SLOT_COUNT;
    if (g->port >= 0) {
        for (unsigned i = 0; i < 1 + GUEST_CHANNEL_FRAMES; i++)
            caps[PITH_GUEST_SLOT_NET_SWITCH + i] = g->net[i];
        cap_count = PITH_GUEST_SLOT_NET_FRAMES + GUEST_CHANNEL_FRAMES;
    }
    cap_count += storage_guest_caps(g->index, caps + cap_count);   /* after the NIC's, if any */
    enum pith_error err = pith_cnode_mint(PITH_SLOT_CNODE, caps[PITH_GUEST_SLOT_CONSOLE], PITH_SLOT_CNODE,
                                          console_service, PITH_RIGHT_WRITE, badge);
    if (!err)
        err = pith_cnode_mint(PITH_SLOT_CNODE, caps[PITH_GUEST_SLOT_ROOT], PITH_SLOT_CNODE, reports,
                              PITH_RIGHT_WRITE, badge);
    if (!err)
        err = pith_cnode_copy(PITH_SLOT_CNODE, caps[PITH_GUEST_SLOT_NOTIFY], PITH_SLOT_CNODE,
                              g->notification, PITH_RIGHTS_ALL);
    if (!err)
        err = pith_cnode_copy(PITH_SLOT_CNODE, caps[PITH_GUEST_SLOT_STATS], PITH_SLOT_CNODE,
                              g->stats_frame, PITH_RIGHTS_ALL);
    /* Two slots per 2 MiB of guest memory, and room for the VMM: also a slot per page
     * of a disk it may copy (a writable Linux disk, a firmware guest's written chunks).
     * The modules take none: the VMM gets them mapped, without capabilities. */
    uint64_t disk_frames;
    uint32_t load_only = load_only_modules(c, shared, count, &disk_frames);
    uint64_t slots_needed = (c->memory >> 20) + cap_count + VMM_SLOT_ROOM + disk_frames;
    if (c->boot == SYSCONF_BOOT_BIOS)
        slots_needed += VMM_LOW_PAGE_SLOTS;
    if (c->nested)
        slots_needed += (c->vcpus > 1 ? c->vcpus : 1) * VMM_NESTED_SLOTS;
    unsigned bits = 8;
    while ((1ull << bits) < slots_needed)
        bits++;
    pith_cap_t fault = pith_alloc_slot();
    if (!err)
        err = pith_cnode_mint(PITH_SLOT_CNODE, fault, PITH_SLOT_CNODE, reports, PITH_RIGHT_WRITE, badge);
    /* setup, containers and piece_count stay: a restart reuses them (pith/process.h) */
    struct pith_child *v = &g->vmm;
    v->name = c->name;
    v->image = (const void *)vmm_image->vaddr;
    v->image_size = vmm_image->size;
    v->memory_bytes = vmm_memory(c, disk_frames);
    v->cnode_bits = bits;
    v->priority = 100;
    v->stack_pages = VMM_STACK_PAGES;
    v->modules = shared;
    v->module_count = count;
    v->load_only = load_only;
    unsigned loader_bits = pith_child_loader_bits(v);
    if (!err && loader_bits && !(v->loader = take_loader(loader_bits, &g->loader_bits)))
        err = PITH_E_NO_MEMORY;
    v->extra_caps = caps;
    v->extra_count = cap_count;
    /* With a console server the VMM writes there, labelled, and holds no capability
     * to the kernel's debug console: its lines are nobody's and the kernel writes
     * them to the UART with its lock held, every CPU waiting. */
    v->debug_console = console ? 0 : PITH_SLOT_DEBUG_CONSOLE;
    v->args = block;
    v->cmdline = bi->cmdline;           /* the kernel's: pith.clock= (the RTC's start) */
    v->args_size = root_guest_block(c, g->index, g->port, block, sizeof(block));
    v->fault_endpoint = fault;
    /* Its label is its configured name, whatever its VMM says.  Two names alike in
     * their first 31 bytes (the console's length) cannot both be labels: the second
     * guest is labelled by its number. */
    if (!err && console && pith_console_name(console, badge, c->name) == PITH_E_INVALID_ARG) {
        char number[16];
        pith_snprintf(number, sizeof(number), "guest%u", g->index + 1);
        err = pith_console_name(console, badge, number);
    }
    if (!err)
        err = pith_child_start(v);
    return err;
}

/* The containers a first start made are kept (guests.h): out of the window with them. */
static void keep_containers(struct guest *g)
{
    pith_cap_t *kept[2 + PITH_CHILD_PIECES] = { &g->vmm.setup, &g->vmm.loader };
    for (unsigned i = 0; i < g->vmm.piece_count; i++)
        kept[2 + i] = &g->vmm.containers[i];
    for (unsigned i = 0; i < 2 + g->vmm.piece_count; i++) {
        pith_cap_t slot = *kept[i];
        if (slot < g->window.first || slot >= g->window.end)
            continue;
        pith_cap_t out = pith_alloc_slot();
        if (out && pith_cnode_move(PITH_SLOT_CNODE, out, PITH_SLOT_CNODE, slot) == PITH_OK)
            *kept[i] = out;
    }
}

/* Empty the window: every capability of the last start that revoking left. */
static void empty_window(struct guest *g)
{
    for (uint64_t slot = g->window.first; slot < g->window.next; slot++)
        pith_cnode_delete(PITH_SLOT_CNODE, slot);
    g->window.next = g->window.first;
    g->window.recycled_count = 0;
}

enum pith_error guest_start(struct guest *g)
{
    const struct sysconf_guest *c = g->config;
    if (!c->valid) {
        root_say("guest %s: not started (see the errors above)\n", c->name);
        return PITH_E_INVALID_ARG;
    }
    if (guest_running(g)) {
        root_say("guest %s is running already\n", c->name);
        return PITH_E_BUSY;
    }
    pith_memset((void *)g->stats, 0, sizeof(*g->stats));
    uint64_t bits;
    pith_poll(g->notification, &bits);      /* nothing left for the new VMM */
    pith_alloc_window_begin(&g->window);
    enum pith_error err = start_vmm(g);
    pith_alloc_window_end();
    keep_containers(g);
    root_say("guest %s: %lu MiB, %s%s\n", c->name, c->memory >> 20, err ? "could not start: " : "started",
             err ? pith_error_name(err) : "");
    if (err) {
        guest_destroy(g, GUEST_STOPPED);
        return err;
    }
    uint64_t pieces = (g->vmm.memory_bytes + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);    /* process.h */
    root_say("guest %s: its VMM's domain took %lu KiB (CNode, address space, thread, image, tables) "
             "of a %lu KiB container, its modules' mappings %lu KiB more until its guest is loaded; "
             "%lu KiB set aside beyond its RAM\n", c->name, g->vmm.setup_bytes >> 10,
             (1ul << g->vmm.setup_size_bits) >> 10, g->vmm.loader_bytes >> 10,
             ((1ul << g->vmm.setup_size_bits) + pieces - c->memory) >> 10);
    g->state = GUEST_RUNNING;
    g->started_tsc = pith_rdtsc();
    g->starts++;
    if (c->gdb && !gdb_owner && guest_gdb_give(g) == PITH_OK)
        root_say("guest %s: gdb: COM2 serves it (gdb yes)\n", c->name);
    return PITH_OK;
}

enum pith_error guest_stop(struct guest *g)
{
    if (!guest_running(g))
        return PITH_E_INVALID_ARG;
    g->state = GUEST_STOPPING;
    return pith_signal(g->power_button);
}

void guest_destroy(struct guest *g, enum guest_state state)
{
    if (gdb_owner == g) {           /* its address space goes too; closed all the same */
        pith_ioport_deny(com2, g->vmm.space);
        gdb_owner = NULL;
    }
    if (g->vmm.setup)
        pith_child_destroy(&g->vmm);
    give_back_loader(g);
    empty_window(g);
    if (console)
        pith_console_stopped(console, GUEST_BADGE_BASE + g->index);
    g->state = state;
}

/* ---- COM2 for GDB ------------------------------------------------------------------ */

struct guest *guest_gdb_owner(void)
{
    return gdb_owner;
}

/* Tell the owner, give it GDB_GIVE_BACK_MS to say it no longer touches the ports, then
 * close them whatever it said: its word saves a well-behaved VMM a fault, nothing more. */
void guest_gdb_take(void)
{
    struct guest *g = gdb_owner;
    if (!g)
        return;
    gdb_owner = NULL;
    /* cleared before the claim is read: the VMM claims before it reads (gdbstub.c) */
    __atomic_store_n(&g->stats->gdb_grant, 0, __ATOMIC_SEQ_CST);
    pith_signal(g->gdb_signal);
    uint64_t end = pith_rdtsc() + bi->tsc_hz / 1000 * GDB_GIVE_BACK_MS, bits;
    while (__atomic_load_n(&g->stats->gdb_in_use, __ATOMIC_SEQ_CST) && pith_rdtsc() < end) {
        pith_notification_set_deadline(gdb_timer, pith_rdtsc() + bi->tsc_hz / 1000);
        pith_wait(gdb_timer, &bits);
    }
    bool given_back = !__atomic_load_n(&g->stats->gdb_in_use, __ATOMIC_ACQUIRE);
    enum pith_error err = pith_ioport_deny(com2, g->vmm.space);
    if (!given_back || err)
        root_say("guest %s: gdb: its VMM %s COM2 within %u ms; closed %s\n", g->config->name,
                 given_back ? "gave back" : "did not give back", GDB_GIVE_BACK_MS,
                 err ? pith_error_name(err) : "anyway");
}

enum pith_error guest_gdb_give(struct guest *g)
{
    if (!com2)
        return PITH_E_INVALID_CAP;
    if (!guest_running(g))
        return PITH_E_INVALID_ARG;
    if (gdb_owner == g)
        return PITH_OK;
    guest_gdb_take();
    enum pith_error err = pith_ioport_allow(com2, g->vmm.space);
    if (err)
        return err;
    gdb_owner = g;
    __atomic_store_n(&g->stats->gdb_grant, ++gdb_grants, __ATOMIC_RELEASE);
    return pith_signal(g->gdb_signal);
}

/* Whether an untyped we keep is empty: a retype of its whole size fits only then. */
static bool container_empty(pith_cap_t container, unsigned bits)
{
    pith_cap_t probe = pith_alloc_slot();
    enum pith_error err = pith_untyped_retype(container, PITH_OBJ_UNTYPED, bits, PITH_SLOT_CNODE, probe, 1);
    pith_cnode_delete(PITH_SLOT_CNODE, probe);
    pith_alloc_free_slot(probe);
    return err == PITH_OK;
}

/* The sizes make_pieces gave the containers, largest first (pith/process.h). */
static uint64_t reclaimable(const struct guest *g)
{
    const struct pith_child *v = &g->vmm;
    if (!v->setup || guest_running(g))
        return 0;
    uint64_t bytes = 0, left = (v->memory_bytes + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
    unsigned piece = 0;
    for (unsigned bits = 40; bits >= 20 && left && piece < v->piece_count; bits--) {
        if (!(left & (1ull << bits)))
            continue;
        if (container_empty(v->containers[piece++], bits))
            bytes += 1ull << bits;
        left &= ~(1ull << bits);
    }
    if (container_empty(v->setup, v->setup_size_bits))
        bytes += 1ull << v->setup_size_bits;
    return bytes;
}

uint64_t guests_free_memory(void)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < bi->untyped_count; i++)
        if (!bi->untyped[i].is_device)
            total += 1ull << bi->untyped[i].size_bits;
    uint64_t free = total - pith_alloc_bytes();
    for (unsigned i = 0; i < guest_count; i++)
        free += reclaimable(&guests[i]);
    for (unsigned i = 0; i < spare_count; i++)
        free += 1ull << spare_loaders[i].bits;
    return free;
}

static unsigned running_count(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < guest_count; i++)
        n += guest_running(&guests[i]);
    return n;
}

/* A VMM's report: its guest stopped, or the VMM faulted (the fault's label). */
static void reported(const struct pith_msg *msg)
{
    unsigned index = (unsigned)(msg->badge - GUEST_BADGE_BASE);
    if (index >= guest_count || !guest_running(&guests[index]))
        return;
    struct guest *g = &guests[index];
    uint64_t label = pith_msginfo_label(msg->info);
    enum guest_state state = GUEST_STOPPED;
    if (label == PITH_GUEST_LOADED) {           /* again or early: only its own loss */
        if (g->vmm.loader)
            root_say("guest %s: loaded; its VMM's load-time mappings (%lu KiB) given back\n",
                     g->config->name, g->vmm.loader_bytes >> 10);
        give_back_loader(g);
        return;
    }
    if (label == PITH_GUEST_STOPPED) {
        if (pith_msginfo_length(msg->info) > 1 && msg->mr[1])    /* isa-debug-exit */
            root_say("guest %s: stopped with exit status %lu\n", g->config->name, msg->mr[1]);
        else
            root_say("guest %s: stopped%s\n", g->config->name, msg->mr[0] ? " with an error" : "");
        all_clean &= msg->mr[0] == 0;
    } else {
        root_say("guest %s: its VMM crashed (fault %lu at %lx); the other guests go on\n",
                 g->config->name, label, msg->mr[0]);
        all_clean = false;
        state = GUEST_CRASHED;
    }
    guest_destroy(g, state);
}

bool guests_run(const struct pith_module_desc *vmm)
{
    vmm_image = vmm;
    uint64_t poll = 0;
    if (pith_alloc_object(PITH_OBJ_ENDPOINT, 0, &reports) != PITH_OK ||
        pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &poll) != PITH_OK ||
        pith_thread_bind_notification(PITH_SLOT_THREAD, poll) != PITH_OK)
        return false;
    for (unsigned i = 0; i < guest_count; i++) {
        if (guests[i].config->no_autostart && guests[i].config->valid)
            root_say("guest %s: %lu MiB, not started at boot (autostart no)\n", guests[i].config->name,
                     guests[i].config->memory >> 20);
        else
            guest_start(&guests[i]);
    }
    shell_start();
    /* With no guest running and none left to start, there is nothing to wait for. */
    bool ended_by_itself = !running_count();
    for (unsigned i = 0; i < guest_count; i++)
        ended_by_itself &= !(guests[i].config->valid && guests[i].config->no_autostart);
    uint64_t period = bi->tsc_hz / POLL_HZ;
    pith_notification_set_deadline(poll, pith_rdtsc() + period);
    /* Done when the last running guest has stopped by itself (not by `destroy`), or
     * at `poweroff`. */
    while (!shell_poweroff && (running_count() || !ended_by_itself)) {
        struct pith_msg msg;
        pith_recv(reports, &msg);
        if (msg.info & PITH_MSG_FROM_NOTIFICATION) {
            shell_poll();
            pith_notification_set_deadline(poll, pith_rdtsc() + period);
            continue;
        }
        unsigned before = running_count();
        reported(&msg);
        ended_by_itself = before && !running_count();
    }
    for (unsigned i = 0; i < guest_count; i++)
        if (guest_running(&guests[i])) {
            root_say("guest %s: destroyed at power-off\n", guests[i].config->name);
            guest_destroy(&guests[i], GUEST_DESTROYED);
            all_clean = false;
        }
    root_say("no guest left (%s), powering off\n", all_clean ? "all stopped cleanly" : "not all stopped cleanly");
    return all_clean;
}
