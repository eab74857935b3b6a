/* Child protection domains (pith/process.h). */
#include <stdbool.h>
#include "pith/alloc.h"
#include "pith/pith.h"
#include "pith/process.h"
#include "pith/string.h"

#define PAGE 4096ull
#define STACK_PAGES 16                  /* unless the parent says otherwise */
#define SCRATCH_VADDR PITH_CHILD_SCRATCH_VADDR

/* ELF64 (System V gABI) as far as loading needs it. */
struct elf_header {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
#define PT_LOAD 1
#define PF_X 1
#define PF_W 2

struct builder {
    struct pith_child *child;
    uint64_t next_child_slot;
    pith_cap_t budget;              /* where objects come from now: setup or loader */
    uint64_t *budget_bytes;         /* and what they took from it */
};

/* An object from the current budget (the child's setup untyped, or its loader), in a
 * fresh slot of ours. */
static enum pith_error budget_object(struct builder *b, enum pith_object_type type, uint64_t bits,
                                     pith_cap_t *slot)
{
    *slot = pith_alloc_slot();
    if (!*slot)
        return PITH_E_RANGE;
    enum pith_error err = pith_untyped_retype(b->budget, type, bits, PITH_SLOT_CNODE, *slot, 1);
    if (!err)
        *b->budget_bytes += 1ull << pith_object_bits(type, (unsigned)bits);
    return err;
}

/* Map a frame into the child's space, making the missing tables from its setup
 * untyped: climb from the page table up until one maps, then come back down. */
static enum pith_error child_map(struct builder *b, pith_cap_t frame, uint64_t vaddr, uint64_t rights)
{
    static const enum pith_object_type levels[] = {
        PITH_OBJ_PAGE_TABLE, PITH_OBJ_PAGE_DIRECTORY, PITH_OBJ_PDPT };
    pith_cap_t made[3] = { 0 };
    enum pith_error err = pith_frame_map(frame, b->child->space, vaddr, rights, 0);
    for (int level = 0; err == PITH_E_NOT_MAPPED && level >= 0;) {
        if (!made[level] && (err = budget_object(b, levels[level], 0, &made[level])) != PITH_OK)
            return err;
        err = pith_table_map(made[level], b->child->space, vaddr);
        if (err == PITH_E_NOT_MAPPED && level < 2) {
            level++;
        } else if (err == PITH_OK) {
            level--;
            err = level < 0 ? pith_frame_map(frame, b->child->space, vaddr, rights, 0) : PITH_E_NOT_MAPPED;
        } else {
            return err;
        }
    }
    return err;
}

/* Run fn on our own view of a child frame. */
static enum pith_error with_view(pith_cap_t frame, void (*fn)(uint8_t *page, const void *arg),
                                 const void *arg)
{
    pith_cap_t view = pith_alloc_slot();
    enum pith_error err = pith_cnode_copy(PITH_SLOT_CNODE, view, PITH_SLOT_CNODE, frame, PITH_RIGHTS_ALL);
    if (!err)
        err = pith_map_frame(view, PITH_SLOT_ADDRESS_SPACE, SCRATCH_VADDR,
                             PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0);
    if (!err)
        fn((uint8_t *)SCRATCH_VADDR, arg);
    pith_cnode_delete(PITH_SLOT_CNODE, view);     /* unmaps the view */
    pith_alloc_free_slot(view);
    return err;
}

/* A fresh page of the child's, mapped at vaddr, filled by fn (or left zero). */
static enum pith_error child_page(struct builder *b, uint64_t vaddr, uint64_t rights,
                                  void (*fill)(uint8_t *page, const void *arg), const void *arg,
                                  pith_cap_t *frame_out)
{
    pith_cap_t frame;
    enum pith_error err = budget_object(b, PITH_OBJ_FRAME_4K, 0, &frame);
    if (!err && fill)
        err = with_view(frame, fill, arg);
    if (!err)
        err = child_map(b, frame, vaddr, rights);
    if (frame_out)
        *frame_out = frame;
    return err;
}

struct segment_page {
    const uint8_t *image;
    const struct elf_phdr *ph;
    uint64_t vaddr;
};

static void fill_segment_page(uint8_t *page, const void *arg)
{
    const struct segment_page *sp = arg;
    for (uint64_t i = 0; i < PAGE; i++) {
        uint64_t at = sp->vaddr + i;
        page[i] = at >= sp->ph->vaddr && at < sp->ph->vaddr + sp->ph->filesz
                      ? sp->image[sp->ph->offset + (at - sp->ph->vaddr)] : 0;
    }
}

static enum pith_error load_elf(struct builder *b, uint64_t *entry)
{
    const uint8_t *image = b->child->image;
    const struct elf_header *h = (const void *)image;
    if (b->child->image_size < sizeof(*h) || pith_memcmp(h->ident, "\177ELF", 4) || h->ident[4] != 2 ||
        h->machine != 62 || h->phoff + (uint64_t)h->phnum * sizeof(struct elf_phdr) > b->child->image_size)
        return PITH_E_INVALID_ARG;
    const struct elf_phdr *ph = (const void *)(image + h->phoff);
    for (unsigned i = 0; i < h->phnum; i++) {
        if (ph[i].type != PT_LOAD || ph[i].memsz == 0)
            continue;
        if (ph[i].offset + ph[i].filesz > b->child->image_size || ph[i].vaddr + ph[i].memsz >= PITH_ROOT_BOOTINFO)
            return PITH_E_INVALID_ARG;
        uint64_t rights = PITH_RIGHT_READ | (ph[i].flags & PF_W ? PITH_RIGHT_WRITE : 0) |
                          (ph[i].flags & PF_X ? PITH_RIGHT_EXECUTE : 0);
        for (uint64_t va = ph[i].vaddr & ~(PAGE - 1); va < ph[i].vaddr + ph[i].memsz; va += PAGE) {
            struct segment_page sp = { image, &ph[i], va };
            enum pith_error err = child_page(b, va, rights, fill_segment_page, &sp, NULL);
            if (err)
                return err;
        }
    }
    *entry = h->entry;
    return PITH_OK;
}

/* Put a capability of ours into the child's CNode: copied, or moved if it cannot be. */
static enum pith_error give(struct builder *b, pith_cap_t ours, uint64_t rights, bool move, uint64_t *at)
{
    *at = b->next_child_slot++;
    if (move)
        return pith_cnode_move(b->child->cnode, *at, PITH_SLOT_CNODE, ours);
    return pith_cnode_copy(b->child->cnode, *at, PITH_SLOT_CNODE, ours, rights);
}

static enum pith_error give_at(struct builder *b, uint64_t slot, pith_cap_t ours, uint64_t rights)
{
    return pith_cnode_copy(b->child->cnode, slot, PITH_SLOT_CNODE, ours, rights);
}

/* Whether modules[m] goes with the loader: only while there is one to put it in. */
static bool load_only(const struct pith_child *c, unsigned m)
{
    return c->loader && m < 32 && (c->load_only >> m & 1);
}

/* The slots (one per frame, slot 0 never used) and page tables for the modules of one
 * kind: each module starts on a 2 MiB boundary, so it needs its own page tables, and
 * one page directory per GiB of the stretch they span, one PDPT. */
static void module_needs(const struct pith_child *c, bool loader, uint64_t *frames, uint64_t *tables)
{
    uint64_t span = 0;
    *frames = *tables = 0;
    for (unsigned m = 0; m < c->module_count && m < PITH_BOOTINFO_MODULES; m++) {
        if (load_only(c, m) != loader)
            continue;
        uint64_t n = c->modules[m].frame_count;
        *frames += n;
        *tables += (n + 511) / 512;
        span += (n + 511) / 512 * (2ull << 20);
    }
    if (*frames)
        *tables += 2 + span / (1ull << 30);
}

static unsigned bits_for(uint64_t count)
{
    unsigned bits = 1;
    while ((1ull << bits) < count)
        bits++;
    return bits;
}

unsigned pith_child_loader_bits(const struct pith_child *c)
{
    uint64_t frames = 0, tables = 0;
    struct pith_child probe = *c;
    probe.loader = 1;               /* as if it had one */
    module_needs(&probe, true, &frames, &tables);
    if (!frames)
        return 0;
    unsigned cnode = bits_for(frames + 1);
    return bits_for((1ull << (cnode + PITH_CNODE_SLOT_BITS)) + tables * PAGE);
}

/* The CNode that holds the copies of one kind of modules, if there are any. */
static enum pith_error make_module_cnode(struct builder *b, bool loader)
{
    uint64_t frames, tables;
    module_needs(b->child, loader, &frames, &tables);
    if (!frames)
        return PITH_OK;
    return budget_object(b, PITH_OBJ_CNODE, bits_for(frames + 1),
                         loader ? &b->child->loader_cnode : &b->child->module_cnode);
}

/*
 * The modules, mapped read-only into the child.  The child gets no capability for
 * them: the copies that hold the mappings stay in a CNode of ours (a mapping lasts as
 * long as its capability), so the child cannot map, copy or pass them on, and its
 * own CNode need not have a slot per 4 KiB of them.  The load-only modules go at
 * PITH_CHILD_LOAD_MODULES with their CNode and tables from the loader, so that
 * revoking it (pith_child_loaded) unmaps them and nothing else.
 */
static enum pith_error give_modules(struct builder *b, struct pith_bootinfo *info, bool loader)
{
    struct pith_child *c = b->child;
    uint64_t vaddr = loader ? PITH_CHILD_LOAD_MODULES : PITH_ROOT_MODULES, next = 1;
    pith_cap_t cnode = loader ? c->loader_cnode : c->module_cnode;
    enum pith_error err = PITH_OK;
    for (unsigned m = 0; !err && m < c->module_count && m < PITH_BOOTINFO_MODULES; m++) {
        if (load_only(c, m) != loader)
            continue;
        const struct pith_module_desc *src = &c->modules[m];
        struct pith_module_desc *d = &info->modules[m];
        *d = *src;
        d->vaddr = vaddr + (src->vaddr & (PAGE - 1));
        d->first_slot = 0;              /* mapped, no capabilities */
        d->frame_count = 0;
        for (uint64_t f = 0; !err && f < src->frame_count; f++, vaddr += PAGE) {
            pith_cap_t copy = pith_alloc_slot();
            err = pith_cnode_copy(PITH_SLOT_CNODE, copy, PITH_SLOT_CNODE, src->first_slot + f, PITH_RIGHT_READ);
            if (!err)
                err = child_map(b, copy, vaddr, PITH_RIGHT_READ);
            if (!err)               /* the mapping moves with its capability */
                err = pith_cnode_move(cnode, next++, PITH_SLOT_CNODE, copy);
            pith_alloc_free_slot(copy);
        }
        vaddr = (vaddr + (2ull << 20) - 1) & ~((2ull << 20) - 1);
    }
    return err;
}

static void fill_info(uint8_t *page, const void *arg)
{
    pith_memcpy(page, arg, sizeof(struct pith_bootinfo));
}

static unsigned stack_pages(const struct pith_child *c)
{
    return c->stack_pages && c->stack_pages <= STACK_PAGES ? c->stack_pages : STACK_PAGES;
}

/* A stretch of the child's address space that gets pages. */
struct stretch {
    uint64_t start, end;
};

/* The page tables mapping these stretches makes, of all three levels: one for each
 * 2 MiB, 1 GiB and 512 GiB region any of them touches (the PML4 is the space's). */
static uint64_t tables_for(const struct stretch *s, unsigned n)
{
    uint64_t tables = 0;
    for (unsigned shift = 21; shift <= 39; shift += 9)
        for (unsigned i = 0; i < n; i++)
            for (uint64_t x = s[i].start >> shift; x <= (s[i].end - 1) >> shift; x++) {
                bool counted = false;
                for (unsigned j = 0; j < i && !counted; j++)
                    counted = x >= s[j].start >> shift && x <= (s[j].end - 1) >> shift;
                tables += !counted;
            }
    return tables;
}

/* How much the child's own objects, pages and page tables need.  The objects go in
 * largest first, each aligned to its size: the CNodes (powers of two), the address
 * space, the thread, then pages and tables; a few pages more cover the gaps that
 * alignment leaves (at most the address space's size and a page). */
static unsigned setup_bits(const struct pith_child *c)
{
    enum { MAX_STRETCHES = 20, GAP_PAGES = 5 };
    const struct elf_header *h = c->image;
    struct stretch s[MAX_STRETCHES] = {
        { PITH_ROOT_STACK_TOP - stack_pages(c) * PAGE, PITH_ROOT_STACK_TOP },
        { PITH_ROOT_IPC_BUFFER, PITH_ROOT_IPC_BUFFER + PAGE },
        { PITH_ROOT_BOOTINFO, PITH_ROOT_BOOTINFO + PAGE },
        { PITH_CHILD_ARGS, PITH_CHILD_ARGS + PAGE + c->args_size },
    };
    unsigned n = 4;
    uint64_t pages = stack_pages(c) + 2 + (c->args_size + PAGE - 1) / PAGE, extra_tables = 0;
    if (c->image_size >= sizeof(*h) && h->phoff + (uint64_t)h->phnum * sizeof(struct elf_phdr) <= c->image_size) {
        const struct elf_phdr *ph = (const void *)((const uint8_t *)c->image + h->phoff);
        for (unsigned i = 0; i < h->phnum; i++) {
            if (ph[i].type != PT_LOAD || ph[i].memsz == 0)
                continue;
            pages += (ph[i].memsz + (ph[i].vaddr & (PAGE - 1)) + PAGE - 1) / PAGE;
            if (n < MAX_STRETCHES)
                s[n++] = (struct stretch){ ph[i].vaddr, ph[i].vaddr + ph[i].memsz };
            else
                extra_tables += 3 + ph[i].memsz / (2u << 20);      /* as if alone */
        }
    }
    uint64_t frames, module_tables;
    module_needs(c, false, &frames, &module_tables);
    uint64_t bytes = (64ull << c->cnode_bits) + (frames ? 64ull << bits_for(frames + 1) : 0) +
                     (1ull << PITH_ADDRESS_SPACE_BITS) + (1ull << PITH_THREAD_BITS) +
                     (pages + tables_for(s, n) + extra_tables + module_tables + GAP_PAGES) * PAGE;
    unsigned bits = 16;
    while ((1ull << bits) < bytes)
        bits++;
    return bits;
}

/* The child's memory in power-of-two pieces: a container we keep around each piece
 * we give, so that revoking the container takes everything back. */
static enum pith_error make_pieces(struct builder *b, pith_cap_t *pieces, struct pith_bootinfo *info)
{
    struct pith_child *c = b->child;
    uint64_t bytes = (c->memory_bytes + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
    bool again = c->piece_count > 0;        /* the containers of an earlier start */
    unsigned count = 0;
    for (unsigned bits = 40; bits >= 20 && bytes; bits--) {
        if (!(bytes & (1ull << bits)))
            continue;
        if (count == PITH_CHILD_PIECES || (again && count == c->piece_count))
            return PITH_E_RANGE;
        pith_cap_t *container = &c->containers[count];
        enum pith_error err = again ? pith_cnode_revoke(PITH_SLOT_CNODE, *container)
                                    : pith_alloc_object(PITH_OBJ_UNTYPED, bits, container);
        pieces[count] = pith_alloc_slot();
        if (!err)
            err = pith_untyped_retype(*container, PITH_OBJ_UNTYPED, bits, PITH_SLOT_CNODE,
                                      pieces[count], 1);
        if (err)
            return err;
        info->untyped[count] = (struct pith_untyped_desc){ .size_bits = (uint8_t)bits };
        count++;
        if (!again)
            c->piece_count = count;
        bytes &= ~(1ull << bits);
    }
    info->untyped_count = count;
    return PITH_OK;
}

struct args_page {
    const struct pith_child *child;
    uint64_t offset;
};

static void fill_args_page(uint8_t *page, const void *arg)
{
    const struct args_page *ap = arg;
    const uint8_t *src = ap->child->args;
    for (uint64_t i = 0; i < PAGE; i++)
        page[i] = ap->offset + i < ap->child->args_size ? src[ap->offset + i] : 0;
}

enum pith_error pith_child_start(struct pith_child *c)
{
    static struct pith_bootinfo info;
    const struct pith_bootinfo *mine = (const struct pith_bootinfo *)PITH_ROOT_BOOTINFO;
    struct builder b = { .child = c, .next_child_slot = PITH_SLOT_FIRST_FREE_FIXED, .budget = c->setup,
                         .budget_bytes = &c->setup_bytes };
    pith_cap_t pieces[PITH_CHILD_PIECES], ipc, info_frame;
    uint64_t entry = 0;

    if (c->cnode_bits < 8 || c->cnode_bits > 16 || c->args_size > PITH_CHILD_ARGS_MAX)
        return PITH_E_RANGE;
    c->setup_bytes = c->loader_bytes = 0;
    c->module_cnode = c->loader_cnode = 0;
    pith_memset(&info, 0, sizeof(info));
    /* Started before and destroyed since: the same containers again (process.h). */
    if (!c->setup)
        c->setup_size_bits = setup_bits(c);
    enum pith_error err = c->setup ? pith_cnode_revoke(PITH_SLOT_CNODE, c->setup)
                                   : pith_alloc_object(PITH_OBJ_UNTYPED, c->setup_size_bits, &c->setup);
    b.budget = c->setup;
    if (!err)
        err = make_pieces(&b, pieces, &info);
    /* Largest objects first: each is aligned to its size inside the setup untyped.  The
     * modules' CNode (give_modules) may be larger than the child's. */
    uint64_t frames, tables;
    module_needs(c, false, &frames, &tables);
    bool modules_first = frames && bits_for(frames + 1) > c->cnode_bits;
    if (!err && modules_first)
        err = make_module_cnode(&b, false);
    if (!err)
        err = budget_object(&b, PITH_OBJ_CNODE, c->cnode_bits, &c->cnode);
    if (!err && !modules_first)
        err = make_module_cnode(&b, false);
    if (!err)
        err = budget_object(&b, PITH_OBJ_ADDRESS_SPACE, 0, &c->space);
    if (!err)
        err = budget_object(&b, PITH_OBJ_THREAD, 0, &c->thread);
    if (!err)
        err = load_elf(&b, &entry);
    for (unsigned i = 1; !err && i <= stack_pages(c); i++)
        err = child_page(&b, PITH_ROOT_STACK_TOP - i * PAGE, PITH_RIGHT_READ | PITH_RIGHT_WRITE,
                         NULL, NULL, NULL);
    if (!err)
        err = child_page(&b, PITH_ROOT_IPC_BUFFER, PITH_RIGHT_READ | PITH_RIGHT_WRITE, NULL, NULL, &ipc);
    for (uint64_t off = 0; !err && off < c->args_size; off += PAGE) {
        struct args_page ap = { c, off };
        err = child_page(&b, PITH_CHILD_ARGS + off, PITH_RIGHT_READ, fill_args_page, &ap, NULL);
    }
    if (err)
        return err;

    info.magic = PITH_BOOTINFO_MAGIC;
    info.cnode_size_bits = c->cnode_bits;
    info.tsc_hz = mine->tsc_hz;
    info.cpu_features = mine->cpu_features;
    info.cpu_count = mine->cpu_count;
    info.ipc_buffer = PITH_ROOT_IPC_BUFFER;
    info.args_vaddr = c->args_size ? PITH_CHILD_ARGS : 0;
    info.args_size = c->args_size;
    if (c->cmdline)
        pith_strlcpy(info.cmdline, c->cmdline, sizeof(info.cmdline));
    err = give_at(&b, PITH_SLOT_CNODE, c->cnode, PITH_RIGHTS_ALL);
    if (!err)
        err = give_at(&b, PITH_SLOT_ADDRESS_SPACE, c->space, PITH_RIGHTS_ALL);
    if (!err)
        err = give_at(&b, PITH_SLOT_THREAD, c->thread, PITH_RIGHTS_ALL);
    if (!err)
        err = give_at(&b, PITH_SLOT_IPC_BUFFER, ipc, PITH_RIGHTS_ALL);
    if (!err && c->debug_console)
        err = give_at(&b, PITH_SLOT_DEBUG_CONSOLE, c->debug_console, PITH_RIGHT_WRITE);
    if (!err)
        err = give_modules(&b, &info, false);
    if (!err && c->loader) {
        b.budget = c->loader;
        b.budget_bytes = &c->loader_bytes;
        err = pith_cnode_revoke(PITH_SLOT_CNODE, c->loader);
        if (!err)
            err = make_module_cnode(&b, true);
        if (!err)
            err = give_modules(&b, &info, true);
        b.budget = c->setup;
        b.budget_bytes = &c->setup_bytes;
    }
    info.module_count = c->module_count < PITH_BOOTINFO_MODULES ? c->module_count : PITH_BOOTINFO_MODULES;
    uint64_t at;
    info.untyped_first_slot = b.next_child_slot;
    for (unsigned i = 0; !err && i < c->piece_count; i++)
        err = give(&b, pieces[i], 0, true, &at);
    info.extra_first_slot = b.next_child_slot;
    info.extra_count = c->extra_count;
    for (unsigned i = 0; !err && i < c->extra_count; i++)
        err = give(&b, c->extra_caps[i], PITH_RIGHTS_ALL, false, &at);
    info.first_free_slot = b.next_child_slot;
    if (!err)
        err = child_page(&b, PITH_ROOT_BOOTINFO, PITH_RIGHT_READ, fill_info, &info, &info_frame);
    if (!err)
        err = give_at(&b, PITH_SLOT_BOOTINFO, info_frame, PITH_RIGHT_READ);
    if (err)
        return err;

    uint64_t regs[PITH_REG_RDI + 1] = { 0 };
    regs[PITH_REG_RIP] = entry;
    regs[PITH_REG_RSP] = PITH_ROOT_STACK_TOP;
    regs[PITH_REG_RFLAGS] = 0x202;
    regs[PITH_REG_RDI] = PITH_ROOT_BOOTINFO;
    err = pith_thread_configure(c->thread, c->cnode, c->space, PITH_ROOT_IPC_BUFFER, ipc,
                                c->fault_endpoint);
    if (!err)
        err = pith_thread_write_registers(c->thread, regs, PITH_REG_RDI + 1);
    if (!err)
        err = pith_thread_set_priority(c->thread, c->priority);
    if (!err)
        err = pith_thread_resume(c->thread);
    return err;
}

enum pith_error pith_child_loaded(struct pith_child *c)
{
    if (!c->loader)
        return PITH_OK;
    c->loader_cnode = 0;
    c->loader_bytes = 0;
    return pith_cnode_revoke(PITH_SLOT_CNODE, c->loader);
}

enum pith_error pith_child_destroy(struct pith_child *c)
{
    pith_thread_suspend(c->thread);
    enum pith_error err = pith_child_loaded(c) == PITH_OK ? PITH_OK : PITH_E_INVALID_CAP;
    for (unsigned i = 0; i < c->piece_count; i++)
        if (pith_cnode_revoke(PITH_SLOT_CNODE, c->containers[i]) != PITH_OK)
            err = PITH_E_INVALID_CAP;
    if (pith_cnode_revoke(PITH_SLOT_CNODE, c->setup) != PITH_OK)
        err = PITH_E_INVALID_CAP;
    return err;
}
