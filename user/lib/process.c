/* Child protection domains (pith/process.h). */
#include <stdbool.h>
#include "pith/alloc.h"
#include "pith/pith.h"
#include "pith/process.h"
#include "pith/string.h"

#define PAGE 4096ull
#define STACK_PAGES 16
/* Where the parent looks at a child's page while filling it. */
#define SCRATCH_VADDR 0x00007e0000000000ull

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
};

static uint64_t object_bytes(enum pith_object_type type, uint64_t bits)
{
    switch (type) {
    case PITH_OBJ_CNODE: return 64ull << bits;
    case PITH_OBJ_ADDRESS_SPACE: return 16384;
    case PITH_OBJ_THREAD: return 2048;
    case PITH_OBJ_UNTYPED: return 0;        /* the child's own memory, not overhead */
    default: return PAGE;
    }
}

/* An object from the child's budget, in a fresh slot of ours. */
static enum pith_error budget_object(struct builder *b, enum pith_object_type type, uint64_t bits,
                                     pith_cap_t *slot)
{
    *slot = pith_alloc_slot();
    if (!*slot)
        return PITH_E_RANGE;
    enum pith_error err = pith_untyped_retype(b->child->budget, type, bits, PITH_SLOT_CNODE, *slot, 1);
    if (!err)
        b->child->kernel_objects_bytes += object_bytes(type, bits);
    return err;
}

/* Map a frame into the child's space, making missing tables from its budget. */
static enum pith_error child_map(struct builder *b, pith_cap_t frame, uint64_t vaddr, uint64_t rights)
{
    static const enum pith_object_type levels[] = {
        PITH_OBJ_PDPT, PITH_OBJ_PAGE_DIRECTORY, PITH_OBJ_PAGE_TABLE };
    enum pith_error err = pith_frame_map(frame, b->child->space, vaddr, rights, 0);
    if (err != PITH_E_NOT_MAPPED)
        return err;
    for (unsigned i = 0; i < 3; i++) {
        pith_cap_t table;
        err = budget_object(b, levels[i], 0, &table);
        if (err)
            return err;
        err = pith_table_map(table, b->child->space, vaddr);
        if (err == PITH_E_MAPPED)
            err = PITH_OK;      /* it was there; the object stays unused in the budget */
        if (err)
            return err;
    }
    return pith_frame_map(frame, b->child->space, vaddr, rights, 0);
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

/* The parent's module frames, mapped read-only into the child and moved there. */
static enum pith_error give_modules(struct builder *b, struct pith_bootinfo *info)
{
    uint64_t vaddr = PITH_ROOT_MODULES;
    const struct pith_child *c = b->child;
    for (unsigned m = 0; m < c->module_count && m < PITH_BOOTINFO_MODULES; m++) {
        const struct pith_module_desc *src = &c->modules[m];
        struct pith_module_desc *d = &info->modules[info->module_count++];
        *d = *src;
        d->vaddr = vaddr + (src->vaddr & (PAGE - 1));
        d->first_slot = b->next_child_slot;
        for (uint64_t f = 0; f < src->frame_count; f++, vaddr += PAGE) {
            pith_cap_t copy = pith_alloc_slot();
            enum pith_error err = pith_cnode_copy(PITH_SLOT_CNODE, copy, PITH_SLOT_CNODE,
                                                  src->first_slot + f, PITH_RIGHT_READ);
            if (!err)
                err = child_map(b, copy, vaddr, PITH_RIGHT_READ);
            uint64_t at;
            if (!err)
                err = give(b, copy, 0, true, &at);
            pith_alloc_free_slot(copy);
            if (err)
                return err;
        }
        vaddr = (vaddr + (2ull << 20) - 1) & ~((2ull << 20) - 1);
    }
    return PITH_OK;
}

static void fill_info(uint8_t *page, const void *arg)
{
    pith_memcpy(page, arg, sizeof(struct pith_bootinfo));
}

enum pith_error pith_child_start(struct pith_child *c)
{
    static struct pith_bootinfo info;
    const struct pith_bootinfo *mine = (const struct pith_bootinfo *)PITH_ROOT_BOOTINFO;
    struct builder b = { .child = c, .next_child_slot = PITH_SLOT_FIRST_FREE_FIXED };
    pith_cap_t own_untyped, ipc, info_frame;
    uint64_t entry = 0;

    if (c->budget_bits < 20 || c->budget_bits > 40 || c->cnode_bits < 8 || c->cnode_bits > 16)
        return PITH_E_RANGE;
    c->kernel_objects_bytes = 0;
    enum pith_error err = pith_alloc_object(PITH_OBJ_UNTYPED, c->budget_bits, &c->budget);
    /* Half the budget is the child's own untyped (retyped first: it sits at offset 0);
     * the child's objects, tables and pages come out of the other half. */
    if (!err)
        err = budget_object(&b, PITH_OBJ_UNTYPED, c->budget_bits - 1, &own_untyped);
    if (!err)
        err = budget_object(&b, PITH_OBJ_CNODE, c->cnode_bits, &c->cnode);
    if (!err)
        err = budget_object(&b, PITH_OBJ_ADDRESS_SPACE, 0, &c->space);
    if (!err)
        err = budget_object(&b, PITH_OBJ_THREAD, 0, &c->thread);
    if (!err)
        err = load_elf(&b, &entry);
    for (unsigned i = 1; !err && i <= STACK_PAGES; i++)
        err = child_page(&b, PITH_ROOT_STACK_TOP - i * PAGE, PITH_RIGHT_READ | PITH_RIGHT_WRITE,
                         NULL, NULL, NULL);
    if (!err)
        err = child_page(&b, PITH_ROOT_IPC_BUFFER, PITH_RIGHT_READ | PITH_RIGHT_WRITE, NULL, NULL, &ipc);
    if (err)
        return err;

    pith_memset(&info, 0, sizeof(info));
    info.magic = PITH_BOOTINFO_MAGIC;
    info.cnode_size_bits = c->cnode_bits;
    info.tsc_hz = mine->tsc_hz;
    info.cpu_features = mine->cpu_features;
    info.cpu_count = mine->cpu_count;
    info.ipc_buffer = PITH_ROOT_IPC_BUFFER;
    if (c->cmdline)
        pith_strlcpy(info.cmdline, c->cmdline, sizeof(info.cmdline));
    err = give_at(&b, PITH_SLOT_CNODE, c->cnode, PITH_RIGHTS_ALL);
    if (!err)
        err = give_at(&b, PITH_SLOT_ADDRESS_SPACE, c->space, PITH_RIGHTS_ALL);
    if (!err)
        err = give_at(&b, PITH_SLOT_THREAD, c->thread, PITH_RIGHTS_ALL);
    if (!err)
        err = give_at(&b, PITH_SLOT_IPC_BUFFER, ipc, PITH_RIGHTS_ALL);
    if (!err)
        err = give_modules(&b, &info);
    uint64_t at;
    info.untyped_first_slot = b.next_child_slot;
    if (!err)
        err = give(&b, own_untyped, 0, true, &at);
    info.untyped_count = 1;
    info.untyped[0] = (struct pith_untyped_desc){ .size_bits = (uint8_t)(c->budget_bits - 1) };
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
    err = pith_thread_configure(c->thread, c->cnode, c->space, PITH_ROOT_IPC_BUFFER, ipc, 0);
    if (!err)
        err = pith_thread_write_registers(c->thread, regs, PITH_REG_RDI + 1);
    if (!err)
        err = pith_thread_set_priority(c->thread, c->priority);
    if (!err)
        err = pith_thread_resume(c->thread);
    return err;
}

enum pith_error pith_child_destroy(struct pith_child *c)
{
    pith_thread_suspend(c->thread);
    return pith_cnode_revoke(PITH_SLOT_CNODE, c->budget);
}
