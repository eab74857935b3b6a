/*
 * Address spaces, page tables and frames: mapping, unmapping and remapping 4 KiB and
 * 2 MiB frames, the rights of a mapping (read-only, no-execute), aliasing through
 * copied capabilities, the errors of map, building the table hierarchy, unmapping and
 * deleting tables, a second address space with a thread of its own, and what
 * deleting or revoking does to mappings.  Whether an address is reachable is checked
 * by a probe thread with a fault endpoint, so a wrong answer fails one case instead
 * of stopping the test task.
 */
#include "ktest.h"

#define RW (PITH_RIGHT_READ | PITH_RIGHT_WRITE)
#define KT_HIGH (KT_ROOT_PRIORITY + 1)

/* ---- Probes: one memory access in a thread whose faults come to us ---------------- */

enum probe_mode { PROBE_READ, PROBE_WRITE, PROBE_EXEC };

struct probe {
    uint64_t addr;
    enum probe_mode mode;
    volatile uint64_t value;    /* written (PROBE_WRITE) or read / returned */
    volatile uint64_t done;
};

static void probe_main(uint64_t arg)
{
    struct probe *p = (struct probe *)arg;
    switch (p->mode) {
    case PROBE_READ:
        p->value = *(volatile uint64_t *)p->addr;
        break;
    case PROBE_WRITE:
        *(volatile uint64_t *)p->addr = p->value;
        break;
    case PROBE_EXEC:
        p->value = ((uint64_t (*)(void))p->addr)();
        break;
    }
    p->done = 1;
}

struct fault {
    uint64_t label, rip, addr, error, vector;
};

/* Runs the access in a thread above our priority (so it has run when this returns).
 * Returns 1 when it faulted (*f filled), 0 when it completed (*value filled), -1 on
 * a setup failure (recorded). */
static int probe(struct pith_test_ctx *ctx, uint64_t addr, enum probe_mode mode,
                 uint64_t *value, struct fault *f)
{
    static struct probe p;
    p = (struct probe){ .addr = addr, .mode = mode, .value = value ? *value : 0 };
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    struct kt_thread t = { 0 };
    int result = -1;
    if (ep && kt_thread_start(ctx, &t, probe_main, (uint64_t)&p, KT_HIGH, ep)) {
        struct pith_msg msg;
        enum pith_error err = pith_nb_recv(ep, &msg);
        if (err == PITH_OK) {
            if (f)
                *f = (struct fault){ .label = pith_msginfo_label(msg.info), .rip = msg.mr[0],
                                     .addr = msg.mr[1], .error = msg.mr[2], .vector = msg.mr[3] };
            result = 1;
        } else if (p.done) {
            if (value)
                *value = p.value;
            result = 0;
        } else {
            pith_expect(ctx, false, "the probe neither faulted nor finished (%s)",
                        pith_error_name(err));
        }
    }
    kt_thread_destroy(&t);
    kt_delete(ep);
    return result;
}

/* The access must complete; returns the value read (or returned). */
static uint64_t must_read(struct pith_test_ctx *ctx, uint64_t addr, const char *what)
{
    uint64_t value = 0;
    pith_expect(ctx, probe(ctx, addr, PROBE_READ, &value, NULL) == 0, "%s: reading %lx faulted",
                what, (unsigned long)addr);
    return value;
}

/* The access must fault with a page fault at addr; returns the error code. */
static uint64_t must_fault(struct pith_test_ctx *ctx, uint64_t addr, enum probe_mode mode,
                           const char *what)
{
    struct fault f = { 0 };
    uint64_t value = 0x5eed;
    int r = probe(ctx, addr, mode, &value, &f);
    if (!pith_expect(ctx, r == 1, "%s: no fault at %lx", what, (unsigned long)addr))
        return 0;
    pith_expect_eq(ctx, f.label, PITH_FAULT_PAGE, "fault label");
    pith_expect_eq(ctx, f.vector, 14, "fault vector");
    pith_expect_eq(ctx, f.addr, addr, "fault address (MR1)");
    pith_expect(ctx, f.error & 4, "%s: the U/S bit of the error code (%lx)", what,
                (unsigned long)f.error);
    return f.error;
}

/* ---- Address ranges of our own --------------------------------------------------- */

/* PML4 slot 160 belongs to this file: one PDPT, then a 1 GiB region per case. */
#define REGION_BASE 0x0000500000000000ull
/* PML4 slot 176: left empty until the table-hierarchy case builds it. */
#define BARE_BASE   0x0000580000000000ull

static pith_cap_t region_pdpt;

static uint64_t region(struct pith_test_ctx *ctx, unsigned n)
{
    if (!region_pdpt) {
        region_pdpt = kt_new(ctx, PITH_OBJ_PDPT, 0);
        if (region_pdpt)
            pith_expect_ok(ctx, pith_table_map(region_pdpt, KT_SPACE, REGION_BASE),
                           "mapping this file's PDPT");
    }
    return REGION_BASE + ((uint64_t)n << 30);
}

/* A new table of `type` mapped at vaddr in `space`. */
static pith_cap_t new_table(struct pith_test_ctx *ctx, enum pith_object_type type,
                            pith_cap_t space, uint64_t vaddr)
{
    pith_cap_t t = kt_new(ctx, type, 0);
    if (t && !pith_expect_ok(ctx, pith_table_map(t, space, vaddr), "mapping a new table"))
        return 0;
    return t;
}

/* ---- Map, unmap, remap ----------------------------------------------------------- */

static void map_write_read(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    uint64_t va = kt_window();
    if (!f || !pith_expect_ok(ctx, kt_map(f, va, RW), "map"))
        return;
    volatile uint64_t *p = (volatile uint64_t *)va;
    p[0] = 0x1122334455667788ull;
    p[511] = 0x8877665544332211ull;
    pith_expect_eq(ctx, p[0], 0x1122334455667788ull, "first word");
    pith_expect_eq(ctx, p[511], 0x8877665544332211ull, "last word");
    pith_expect_eq(ctx, must_read(ctx, va + 4088, "another thread"), 0x8877665544332211ull,
                   "another thread of the space sees it");
    uint64_t pa = 0;
    pith_expect_ok(ctx, pith_frame_address(f, &pa), "frame address");
    pith_expect(ctx, pa != 0 && (pa & 0xfff) == 0, "physical address %lx", (unsigned long)pa);
    pith_expect_ok(ctx, pith_frame_unmap(f), "unmap");
    pith_expect_err(ctx, pith_frame_unmap(f), PITH_E_NOT_MAPPED, "unmap again");
    kt_delete(f);
}

static void unmap_faults(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    uint64_t va = kt_window();
    if (!f || !pith_expect_ok(ctx, kt_map(f, va, RW), "map"))
        return;
    *(volatile uint64_t *)(va + 0x100) = 7;
    pith_expect_eq(ctx, must_read(ctx, va + 0x100, "mapped"), 7, "read before unmap");
    pith_expect_ok(ctx, pith_frame_unmap(f), "unmap");
    uint64_t err = must_fault(ctx, va + 0x100, PROBE_READ, "after unmap");
    pith_expect_eq(ctx, err & 3, 0, "not-present read (P and W/R clear)");
    err = must_fault(ctx, va + 0x100, PROBE_WRITE, "write after unmap");
    pith_expect_eq(ctx, err & 3, 2, "not-present write (W/R set)");
    kt_delete(f);
}

static void remap_keeps_contents(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    uint64_t va1 = kt_window(), va2 = kt_window();
    if (!f || !pith_expect_ok(ctx, kt_map(f, va1, RW), "map"))
        return;
    *(volatile uint64_t *)va1 = 0xabcdef;
    pith_expect_ok(ctx, pith_frame_unmap(f), "unmap");
    pith_expect_ok(ctx, kt_map(f, va2, RW), "map elsewhere");
    pith_expect_eq(ctx, *(volatile uint64_t *)va2, 0xabcdef, "the contents moved along");
    must_fault(ctx, va1, PROBE_READ, "the old address");
    pith_expect_ok(ctx, pith_frame_unmap(f), "unmap again");
    pith_expect_ok(ctx, kt_map(f, va1, RW), "map at the first address again");
    pith_expect_eq(ctx, must_read(ctx, va1, "first address"), 0xabcdef, "contents once more");
    must_fault(ctx, va2, PROBE_READ, "the second address");
    pith_frame_unmap(f);
    kt_delete(f);
}

/* ---- Rights of a mapping ------------------------------------------------------------ */

static void readonly_write_faults(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), c = kt_slot();
    uint64_t va = kt_window(), ro = kt_window();
    if (!f || !pith_expect_ok(ctx, kt_map(f, va, RW), "map read-write"))
        return;
    *(volatile uint64_t *)va = 0x600d;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, f, PITH_RIGHTS_ALL), "copy");
    pith_expect_ok(ctx, kt_map(c, ro, PITH_RIGHT_READ), "map read-only");
    pith_expect_eq(ctx, must_read(ctx, ro, "read-only"), 0x600d, "reading is allowed");
    uint64_t err = must_fault(ctx, ro, PROBE_WRITE, "writing the read-only mapping");
    pith_expect_eq(ctx, err & 3, 3, "protection fault on a write (P and W/R set)");
    pith_expect_eq(ctx, *(volatile uint64_t *)va, 0x600d, "the frame is unchanged");
    pith_frame_unmap(c);
    pith_frame_unmap(f);
    kt_delete(c);
    kt_delete(f);
}

static void mapping_rights_follow_cap(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), ro = kt_slot(), none = kt_slot();
    uint64_t va = kt_window(), va2 = kt_window();
    if (!f || !pith_expect_ok(ctx, kt_map(f, va, RW), "map"))
        return;
    /* The mapping gets MR2 AND the capability's rights; READ must remain. */
    pith_expect_err(ctx, pith_frame_map(f, KT_SPACE, va2, PITH_RIGHT_WRITE, 0), PITH_E_RIGHTS,
                    "a mapping without READ");
    pith_expect_err(ctx, pith_frame_map(f, KT_SPACE, va2, 0, 0), PITH_E_RIGHTS, "no rights at all");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, ro, KT_CNODE, f, PITH_RIGHT_READ), "read-only cap");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, none, KT_CNODE, f, PITH_RIGHT_WRITE),
                   "write-only cap");
    pith_expect_err(ctx, kt_map(none, va2, RW), PITH_E_RIGHTS, "mapping a cap without READ");
    pith_expect_ok(ctx, kt_map(ro, va2, RW | PITH_RIGHT_EXECUTE),
                   "asking a read-only cap for more is cut down");
    *(volatile uint64_t *)va = 0x42;
    pith_expect_eq(ctx, must_read(ctx, va2, "read-only cap"), 0x42, "readable");
    uint64_t err = must_fault(ctx, va2, PROBE_WRITE, "write through the read-only cap");
    pith_expect_eq(ctx, err & 3, 3, "a protection fault");
    pith_frame_unmap(ro);
    pith_frame_unmap(f);
    kt_delete(none);
    kt_delete(ro);
    kt_delete(f);
}

static const uint8_t ret_42[] = { 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 };    /* mov $42,%eax; ret */

static void no_execute_enforced(struct pith_test_ctx *ctx)
{
    if (!(kt_bootinfo->cpu_features & PITH_CPU_NX)) {
        pith_expect(ctx, false, "the CPU has no NX: this case cannot run");
        return;
    }
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    uint64_t va = kt_window();
    if (!f || !pith_expect_ok(ctx, kt_map(f, va, RW), "map without EXECUTE"))
        return;
    memcpy((void *)va, ret_42, sizeof(ret_42));
    struct fault fl = { 0 };
    uint64_t value = 0;
    int r = probe(ctx, va, PROBE_EXEC, &value, &fl);
    if (pith_expect(ctx, r == 1, "calling into a non-executable page did not fault (got %lu)",
                    (unsigned long)value)) {
        pith_expect_eq(ctx, fl.label, PITH_FAULT_PAGE, "label");
        pith_expect_eq(ctx, fl.addr, va, "fault address");
        pith_expect_eq(ctx, fl.rip, va, "rip");
        pith_expect(ctx, fl.error & 0x10, "instruction-fetch bit in error %lx", (unsigned long)fl.error);
        pith_expect(ctx, fl.error & 1, "present bit in error %lx", (unsigned long)fl.error);
    }
    /* The same bytes are readable data. */
    pith_expect_eq(ctx, must_read(ctx, va, "data") & 0xff, 0xb8, "the page is readable");
    pith_frame_unmap(f);
    kt_delete(f);
}

static void execute_allowed(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    uint64_t va = kt_window();
    if (!f || !pith_expect_ok(ctx, kt_map(f, va, RW | PITH_RIGHT_EXECUTE), "map RWX"))
        return;
    memcpy((void *)va, ret_42, sizeof(ret_42));
    uint64_t value = 0;
    pith_expect(ctx, probe(ctx, va, PROBE_EXEC, &value, NULL) == 0,
                "calling into an executable page faulted");
    pith_expect_eq(ctx, value & 0xffffffff, 42, "what the code returned");
    pith_frame_unmap(f);
    kt_delete(f);
}

static void uncached_attribute(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    uint64_t va = kt_window();
    if (!f || !pith_expect_ok(ctx, kt_map(f, va, RW), "prepare the tables"))
        return;
    pith_frame_unmap(f);
    pith_expect_err(ctx, pith_frame_map(f, KT_SPACE, va, RW, 2), PITH_E_INVALID_ARG,
                    "attribute bit 1");
    pith_expect_err(ctx, pith_frame_map(f, KT_SPACE, va, RW, PITH_ATTR_UNCACHED | 0x100),
                    PITH_E_INVALID_ARG, "an unknown attribute beside UNCACHED");
    pith_expect_ok(ctx, pith_frame_map(f, KT_SPACE, va, RW, PITH_ATTR_UNCACHED), "map uncached");
    *(volatile uint64_t *)va = 0x0c;
    pith_expect_eq(ctx, *(volatile uint64_t *)va, 0x0c, "uncached memory reads back");
    pith_frame_unmap(f);
    kt_delete(f);
}

/* ---- Aliases and map errors -------------------------------------------------------- */

static void alias_through_copy(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), c = kt_slot();
    uint64_t va1 = kt_window(), va2 = kt_window();
    if (!f)
        return;
    pith_expect_ok(ctx, kt_map(f, va1, RW), "map");
    pith_expect_err(ctx, kt_map(f, va2, RW), PITH_E_MAPPED, "the same capability twice");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, f, PITH_RIGHTS_ALL), "copy");
    pith_expect_ok(ctx, kt_map(c, va2, RW), "map the copy");
    volatile uint64_t *a = (volatile uint64_t *)va1, *b = (volatile uint64_t *)va2;
    a[3] = 0x3333;
    pith_expect_eq(ctx, b[3], 0x3333, "written at the first, read at the second");
    b[4] = 0x4444;
    pith_expect_eq(ctx, a[4], 0x4444, "written at the second, read at the first");
    pith_expect_ok(ctx, pith_frame_unmap(f), "unmap the first");
    must_fault(ctx, va1, PROBE_READ, "the first mapping");
    pith_expect_eq(ctx, must_read(ctx, va2 + 24, "the second mapping"), 0x3333,
                   "the second mapping stays");
    pith_frame_unmap(c);
    kt_delete(c);
    kt_delete(f);
}

static void map_entry_in_use(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), g = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    uint64_t va = kt_window();
    if (!f || !g || !pith_expect_ok(ctx, kt_map(f, va, RW), "map"))
        return;
    *(volatile uint64_t *)va = 0xf;
    pith_expect_err(ctx, kt_map(g, va, RW), PITH_E_MAPPED, "another frame at a used address");
    pith_expect_eq(ctx, *(volatile uint64_t *)va, 0xf, "the first mapping is untouched");
    pith_expect_ok(ctx, kt_map(g, va + 4096, RW), "the next page is free");
    pith_expect_ok(ctx, pith_frame_unmap(f), "unmap the first");
    pith_expect_err(ctx, kt_map(g, va, RW), PITH_E_MAPPED, "g itself is still mapped next door");
    pith_frame_unmap(g);
    pith_expect_ok(ctx, kt_map(g, va, RW), "now the address is free");
    pith_expect_eq(ctx, *(volatile uint64_t *)va, 0, "g's contents (zero)");
    pith_frame_unmap(g);
    kt_delete(g);
    kt_delete(f);
}

static void map_alignment(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    uint64_t va = kt_window();
    if (!f || !pith_expect_ok(ctx, kt_map(f, va, RW), "prepare the tables"))
        return;
    pith_frame_unmap(f);
    static const uint64_t offsets[] = { 1, 8, 0x800, 0xfff };
    for (unsigned i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++)
        pith_expect_err(ctx, pith_frame_map(f, KT_SPACE, va + offsets[i], RW, 0), PITH_E_ALIGNMENT,
                        "a misaligned address");
    pith_cap_t pt = kt_new(ctx, PITH_OBJ_PAGE_TABLE, 0);
    if (pt)
        pith_expect_err(ctx, pith_table_map(pt, KT_SPACE, REGION_BASE + 0x10), PITH_E_ALIGNMENT,
                        "a table at a misaligned address");
    pith_expect_ok(ctx, pith_frame_map(f, KT_SPACE, va, RW, 0), "the aligned address works");
    pith_frame_unmap(f);
    kt_delete(pt);
    kt_delete(f);
}

static void map_bad_address(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), pt = kt_new(ctx, PITH_OBJ_PAGE_TABLE, 0);
    if (!f || !pt)
        return;
    static const uint64_t bad[] = {
        PITH_USER_TOP, 0x0000900000000000ull, 0x00ff000000000000ull,
        0xffff800000000000ull, 0xffffffff80000000ull, 0xfffffffffffff000ull };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pith_expect_err(ctx, pith_frame_map(f, KT_SPACE, bad[i], RW, 0), PITH_E_BAD_ADDRESS,
                        "a frame outside user space");
        pith_expect_err(ctx, pith_table_map(pt, KT_SPACE, bad[i]), PITH_E_BAD_ADDRESS,
                        "a table outside user space");
    }
    /* The last user page is a legal address: what is missing there is the tables. */
    pith_expect_err(ctx, pith_frame_map(f, KT_SPACE, PITH_USER_TOP - 4096, RW, 0),
                    PITH_E_NOT_MAPPED, "the last user page");
    kt_delete(pt);
    kt_delete(f);
}

static void map_wrong_space(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), pt = kt_new(ctx, PITH_OBJ_PAGE_TABLE, 0);
    pith_cap_t ro_space = kt_slot(), empty = kt_slot();
    uint64_t va = kt_window();
    if (!f || !pt || !pith_expect_ok(ctx, kt_map(f, va, RW), "prepare the tables"))
        return;
    pith_frame_unmap(f);
    pith_expect_err(ctx, pith_frame_map(f, f, va, RW, 0), PITH_E_INVALID_CAP, "a frame as the space");
    pith_expect_err(ctx, pith_frame_map(f, KT_CNODE, va, RW, 0), PITH_E_INVALID_CAP,
                    "a CNode as the space");
    pith_expect_err(ctx, pith_frame_map(f, empty, va, RW, 0), PITH_E_INVALID_CAP,
                    "an empty slot as the space");
    pith_expect_err(ctx, pith_frame_map(f, 1ull << kt_bootinfo->cnode_size_bits, va, RW, 0),
                    PITH_E_RANGE, "a space outside the CNode");
    pith_expect_err(ctx, pith_table_map(pt, KT_SELF, REGION_BASE), PITH_E_INVALID_CAP,
                    "a thread as the space");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, ro_space, KT_CNODE, KT_SPACE, PITH_RIGHT_READ),
                   "a read-only address-space capability");
    pith_expect_err(ctx, pith_frame_map(f, ro_space, va, RW, 0), PITH_E_RIGHTS,
                    "map a frame through it");
    pith_expect_err(ctx, pith_table_map(pt, ro_space, REGION_BASE), PITH_E_RIGHTS,
                    "map a table through it");
    pith_expect_err(ctx, pith_frame_unmap(f), PITH_E_NOT_MAPPED, "nothing got mapped");
    kt_delete(ro_space);
    kt_delete(pt);
    kt_delete(f);
}

/* ---- Tables -------------------------------------------------------------------------- */

static void build_hierarchy(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), pdpt = kt_new(ctx, PITH_OBJ_PDPT, 0);
    pith_cap_t pd = kt_new(ctx, PITH_OBJ_PAGE_DIRECTORY, 0), pt = kt_new(ctx, PITH_OBJ_PAGE_TABLE, 0);
    if (!f || !pdpt || !pd || !pt)
        return;
    uint64_t va = BARE_BASE + 0x12345000;
    pith_expect_err(ctx, pith_frame_map(f, KT_SPACE, va, RW, 0), PITH_E_NOT_MAPPED, "frame, no tables");
    pith_expect_err(ctx, pith_table_map(pt, KT_SPACE, va), PITH_E_NOT_MAPPED, "page table, no PD");
    pith_expect_err(ctx, pith_table_map(pd, KT_SPACE, va), PITH_E_NOT_MAPPED, "PD, no PDPT");
    /* Address bits below an entry's coverage are ignored. */
    pith_expect_ok(ctx, pith_table_map(pdpt, KT_SPACE, va), "PDPT");
    pith_expect_err(ctx, pith_frame_map(f, KT_SPACE, va, RW, 0), PITH_E_NOT_MAPPED, "frame, PDPT only");
    pith_expect_err(ctx, pith_table_map(pt, KT_SPACE, va), PITH_E_NOT_MAPPED, "page table, PDPT only");
    pith_expect_ok(ctx, pith_table_map(pd, KT_SPACE, va), "PD");
    pith_expect_err(ctx, pith_frame_map(f, KT_SPACE, va, RW, 0), PITH_E_NOT_MAPPED, "frame, no PT");
    pith_expect_ok(ctx, pith_table_map(pt, KT_SPACE, va), "PT");
    pith_expect_ok(ctx, pith_frame_map(f, KT_SPACE, va, RW, 0), "frame");
    *(volatile uint64_t *)va = 0x77;
    pith_expect_eq(ctx, must_read(ctx, va, "through the new hierarchy"), 0x77, "read back");
    /* The other pages covered by the new tables are not mapped. */
    must_fault(ctx, va + 4096, PROBE_READ, "the next page");
}

static void large_frame(struct pith_test_ctx *ctx)
{
    uint64_t va = region(ctx, 1);
    pith_cap_t pd = new_table(ctx, PITH_OBJ_PAGE_DIRECTORY, KT_SPACE, va);
    pith_cap_t big = kt_new(ctx, PITH_OBJ_FRAME_2M, 0), small = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    pith_cap_t pt = kt_new(ctx, PITH_OBJ_PAGE_TABLE, 0);
    if (!pd || !big || !small || !pt)
        return;
    uint64_t pa = 1;
    pith_expect_ok(ctx, pith_frame_address(big, &pa), "frame address");
    pith_expect_eq(ctx, pa & 0x1fffff, 0, "a 2 MiB frame is 2 MiB aligned");
    pith_expect_err(ctx, pith_frame_map(big, KT_SPACE, va + 0x1000, RW, 0), PITH_E_ALIGNMENT,
                    "a 2 MiB frame at a 4 KiB boundary");
    pith_expect_err(ctx, pith_frame_map(big, KT_SPACE, va + 0x100000, RW, 0), PITH_E_ALIGNMENT,
                    "a 2 MiB frame at a 1 MiB boundary");
    pith_expect_ok(ctx, pith_frame_map(big, KT_SPACE, va, RW, 0), "map at a 2 MiB boundary");
    volatile uint64_t *p = (volatile uint64_t *)va;
    p[0] = 1;
    p[0x100000 / 8] = 2;
    p[0x1ff000 / 8 + 511] = 3;
    pith_expect_eq(ctx, p[0] + p[0x100000 / 8] + p[0x1ff000 / 8 + 511], 6, "the whole 2 MiB");
    pith_expect_eq(ctx, must_read(ctx, va + 0x1ffff8, "last word"), 3, "the last word");
    /* A 4 KiB frame or a page table cannot go where the large page is. */
    pith_expect_err(ctx, pith_frame_map(small, KT_SPACE, va + 0x5000, RW, 0), PITH_E_NOT_MAPPED,
                    "a 4 KiB frame inside the large page");
    pith_expect_err(ctx, pith_table_map(pt, KT_SPACE, va), PITH_E_MAPPED,
                    "a page table over the large page");
    must_fault(ctx, va + (2ull << 20), PROBE_READ, "the next 2 MiB");
    pith_expect_ok(ctx, pith_frame_unmap(big), "unmap");
    must_fault(ctx, va + 0x100000, PROBE_READ, "the unmapped large page");
    /* Now a page table fits, and the large frame no longer does. */
    pith_expect_ok(ctx, pith_table_map(pt, KT_SPACE, va), "a page table there");
    pith_expect_err(ctx, pith_frame_map(big, KT_SPACE, va, RW, 0), PITH_E_MAPPED,
                    "a large frame over a page table");
    pith_expect_ok(ctx, pith_frame_map(big, KT_SPACE, va + (2ull << 20), RW, 0),
                   "the large frame at the next 2 MiB");
    pith_expect_eq(ctx, must_read(ctx, va + (2ull << 20) + 0x100000, "moved large page"), 2,
                   "its contents came along");
    pith_frame_unmap(big);
}

/* One 4 KiB piece of a 2 MiB frame (PITH_ATTR_PIECE): the page at the offset and no
 * other, through a copy of the frame's capability; unmapped by unmap and by delete. */
static void frame_piece(struct pith_test_ctx *ctx)
{
    uint64_t va = region(ctx, 6), piece_va = kt_window();
    pith_cap_t pd = new_table(ctx, PITH_OBJ_PAGE_DIRECTORY, KT_SPACE, va);
    pith_cap_t big = kt_new(ctx, PITH_OBJ_FRAME_2M, 0), small = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    pith_cap_t piece = kt_slot(), again = kt_slot();
    if (!pd || !big || !small || !piece || !again ||
        !pith_expect_ok(ctx, pith_frame_map(big, KT_SPACE, va, RW, 0), "the whole frame"))
        return;
    volatile uint64_t *whole = (volatile uint64_t *)va;
    whole[0x5000 / 8] = 0x5005;
    whole[0x1ff000 / 8 + 511] = 0x1ff1ff;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, piece, KT_CNODE, big, PITH_RIGHTS_ALL), "copy");
    pith_expect_err(ctx, pith_frame_map(small, KT_SPACE, piece_va, RW, PITH_ATTR_PIECE), PITH_E_INVALID_ARG,
                    "a piece of a 4 KiB frame");
    pith_expect_err(ctx, pith_frame_map(piece, KT_SPACE, piece_va, RW, 0x5000), PITH_E_INVALID_ARG,
                    "an offset without PITH_ATTR_PIECE");
    pith_expect_err(ctx, pith_frame_map(piece, KT_SPACE, piece_va, RW, PITH_ATTR_PIECE | 0x200000),
                    PITH_E_INVALID_ARG, "an offset past the frame");
    pith_expect_err(ctx, pith_frame_map(piece, KT_SPACE, piece_va, RW, PITH_ATTR_PIECE | 0x5800),
                    PITH_E_INVALID_ARG, "an offset inside a page");
    if (!pith_expect_ok(ctx, pith_map_frame(piece, KT_SPACE, piece_va, RW, PITH_ATTR_PIECE | 0x5000),
                        "the piece at 0x5000"))
        return;
    pith_expect_eq(ctx, must_read(ctx, piece_va, "the piece"), 0x5005, "the piece is the page at 0x5000");
    *(volatile uint64_t *)(piece_va + 8) = 0xabc;
    pith_expect_eq(ctx, whole[0x5008 / 8], 0xabc, "a write through the piece is in the frame");
    pith_expect_err(ctx, pith_frame_map(piece, KT_SPACE, kt_window(), RW, PITH_ATTR_PIECE), PITH_E_MAPPED,
                    "the same capability again");
    /* A copy of the piece's capability is an unmapped capability to the whole frame. */
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, again, KT_CNODE, piece, PITH_RIGHTS_ALL), "copy the piece");
    uint64_t last_va = kt_window();
    pith_expect_ok(ctx, pith_map_frame(again, KT_SPACE, last_va, PITH_RIGHT_READ, PITH_ATTR_PIECE | 0x1ff000),
                   "the last piece, read-only");
    pith_expect_eq(ctx, must_read(ctx, last_va + 4088, "the last piece"), 0x1ff1ff, "its last word");
    must_fault(ctx, last_va, PROBE_WRITE, "a write to the read-only piece");
    pith_expect_ok(ctx, pith_frame_unmap(piece), "unmap the piece");
    must_fault(ctx, piece_va, PROBE_READ, "the unmapped piece");
    pith_expect_err(ctx, pith_frame_unmap(piece), PITH_E_NOT_MAPPED, "unmap again");
    pith_expect_ok(ctx, pith_map_frame(piece, KT_SPACE, piece_va, RW, PITH_ATTR_PIECE), "the first piece");
    pith_expect_eq(ctx, must_read(ctx, piece_va + 4096 - 8, "the first piece"), whole[511], "offset 0");
    pith_expect_ok(ctx, pith_cnode_delete(KT_CNODE, again), "delete a mapped piece's capability");
    must_fault(ctx, last_va, PROBE_READ, "the deleted capability's piece");
    pith_expect_eq(ctx, must_read(ctx, va + 0x1ffff8, "the whole frame"), 0x1ff1ff, "the whole mapping stays");
    pith_alloc_free_slot(again);
    kt_delete(piece);
    pith_frame_unmap(big);
    kt_delete(big);
    kt_delete(small);
}

static void table_mapped_twice(struct pith_test_ctx *ctx)
{
    uint64_t va = region(ctx, 2);
    pith_cap_t pd = new_table(ctx, PITH_OBJ_PAGE_DIRECTORY, KT_SPACE, va);
    pith_cap_t pt = new_table(ctx, PITH_OBJ_PAGE_TABLE, KT_SPACE, va);
    pith_cap_t pt2 = kt_new(ctx, PITH_OBJ_PAGE_TABLE, 0), pdpt = kt_new(ctx, PITH_OBJ_PDPT, 0);
    if (!pd || !pt || !pt2 || !pdpt)
        return;
    pith_expect_err(ctx, pith_table_map(pt, KT_SPACE, va + (2ull << 20)), PITH_E_MAPPED,
                    "the page table a second time");
    pith_expect_err(ctx, pith_table_map(pt2, KT_SPACE, va), PITH_E_MAPPED,
                    "a second page table in the same entry");
    pith_expect_err(ctx, pith_table_map(pd, KT_SPACE, region(ctx, 3)), PITH_E_MAPPED,
                    "the page directory a second time");
    pith_expect_err(ctx, pith_table_map(region_pdpt, KT_SPACE, 0x0000600000000000ull),
                    PITH_E_MAPPED, "the PDPT a second time");
    pith_expect_err(ctx, pith_table_map(pdpt, KT_SPACE, REGION_BASE), PITH_E_MAPPED,
                    "a second PDPT in the same PML4 entry");
    pith_expect_ok(ctx, pith_table_map(pt2, KT_SPACE, va + (2ull << 20)), "the second table elsewhere");
    pith_expect_ok(ctx, pith_table_unmap(pt), "unmap the first");
    pith_expect_err(ctx, pith_table_unmap(pt), PITH_E_NOT_MAPPED, "unmap it again");
    pith_expect_ok(ctx, pith_table_map(pt, KT_SPACE, va + (4ull << 20)), "map it elsewhere");
    kt_delete(pdpt);
}

static void table_unmap_hides_pages(struct pith_test_ctx *ctx)
{
    uint64_t va = region(ctx, 4);
    pith_cap_t pd = new_table(ctx, PITH_OBJ_PAGE_DIRECTORY, KT_SPACE, va);
    pith_cap_t pt = new_table(ctx, PITH_OBJ_PAGE_TABLE, KT_SPACE, va);
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), g = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    if (!pd || !pt || !f || !g)
        return;
    uint64_t page = va + 0x5000, moved = va + (6ull << 20) + 0x5000;
    pith_expect_ok(ctx, pith_frame_map(f, KT_SPACE, page, RW, 0), "map a frame");
    pith_expect_ok(ctx, pith_frame_map(g, KT_SPACE, page + 4096, RW, 0), "and a second one");
    *(volatile uint64_t *)page = 0x7ab1e;
    pith_expect_eq(ctx, must_read(ctx, page, "mapped"), 0x7ab1e, "visible");
    pith_expect_ok(ctx, pith_table_unmap(pt), "unmap the page table");
    pith_expect_err(ctx, pith_table_unmap(pt), PITH_E_NOT_MAPPED, "unmap it again");
    must_fault(ctx, page, PROBE_READ, "behind the unmapped table");
    must_fault(ctx, page + 4096, PROBE_READ, "the second page");
    /* The table comes back empty, here or elsewhere: nothing it held reappears. */
    pith_expect_ok(ctx, pith_table_map(pt, KT_SPACE, va + (6ull << 20)), "map the table 6 MiB on");
    must_fault(ctx, moved, PROBE_READ, "the moved table's page");
    pith_expect_ok(ctx, pith_table_unmap(pt), "unmap it");
    pith_expect_ok(ctx, pith_table_map(pt, KT_SPACE, va), "map it where it was");
    must_fault(ctx, page, PROBE_READ, "the old page in the old place");
    /* The frames still count as mapped until they are unmapped themselves. */
    pith_expect_err(ctx, pith_frame_map(f, KT_SPACE, page + 0x2000, RW, 0), PITH_E_MAPPED,
                    "the frame still counts as mapped");
    pith_expect_ok(ctx, pith_frame_unmap(f), "unmap the frame");
    pith_expect_ok(ctx, pith_frame_unmap(g), "unmap the second frame");
    pith_expect_ok(ctx, pith_frame_map(f, KT_SPACE, page, RW, 0), "map the frame again");
    pith_expect_eq(ctx, must_read(ctx, page, "remapped"), 0x7ab1e, "the frame kept its contents");
    must_fault(ctx, page + 4096, PROBE_READ, "the second frame's old page");
    pith_frame_unmap(f);
    kt_delete(g);
    kt_delete(f);
}

static void delete_table_unmaps(struct pith_test_ctx *ctx)
{
    uint64_t va = region(ctx, 5);
    pith_cap_t pd = new_table(ctx, PITH_OBJ_PAGE_DIRECTORY, KT_SPACE, va);
    pith_cap_t pt = new_table(ctx, PITH_OBJ_PAGE_TABLE, KT_SPACE, va);
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    if (!pd || !pt || !f)
        return;
    pith_expect_ok(ctx, pith_frame_map(f, KT_SPACE, va, RW, 0), "map");
    *(volatile uint64_t *)va = 0xde1;
    pith_expect_ok(ctx, pith_cnode_delete(KT_CNODE, pt), "delete the page table");
    must_fault(ctx, va, PROBE_READ, "after the table's deletion");
    pith_expect_ok(ctx, pith_frame_unmap(f), "the frame's mapping can still be removed");
    uint64_t w = kt_window();
    pith_expect_ok(ctx, kt_map(f, w, RW), "and the frame maps elsewhere");
    pith_expect_eq(ctx, *(volatile uint64_t *)w, 0xde1, "with its contents");
    pith_frame_unmap(f);
    kt_delete(f);
    pith_alloc_free_slot(pt);
}

/* ---- Deleting and revoking mapped frames ------------------------------------------ */

static void delete_frame_unmaps(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    uint64_t va = kt_window();
    if (!f || !pith_expect_ok(ctx, kt_map(f, va, RW), "map"))
        return;
    *(volatile uint64_t *)va = 1;
    pith_expect_ok(ctx, pith_cnode_delete(KT_CNODE, f), "delete the only capability");
    must_fault(ctx, va, PROBE_READ, "after the delete");
    pith_alloc_free_slot(f);
}

static void delete_copy_unmaps(struct pith_test_ctx *ctx)
{
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), c = kt_slot();
    uint64_t va1 = kt_window(), va2 = kt_window();
    if (!f || !pith_expect_ok(ctx, kt_map(f, va1, RW), "map"))
        return;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, f, PITH_RIGHTS_ALL), "copy");
    pith_expect_ok(ctx, kt_map(c, va2, RW), "map the copy");
    *(volatile uint64_t *)va1 = 0xc0;
    /* The copy is not the last capability of the frame, but its mapping is its own. */
    pith_expect_ok(ctx, pith_cnode_delete(KT_CNODE, c), "delete the copy");
    must_fault(ctx, va2, PROBE_READ, "the copy's mapping");
    pith_expect_eq(ctx, must_read(ctx, va1, "the original's mapping"), 0xc0, "still there");
    pith_expect_ok(ctx, pith_cnode_delete(KT_CNODE, f), "delete the original");
    must_fault(ctx, va1, PROBE_READ, "the original's mapping");
    pith_alloc_free_slot(c);
    pith_alloc_free_slot(f);
}

static void revoke_untyped_unmaps(struct pith_test_ctx *ctx)
{
    pith_cap_t ut = kt_new(ctx, PITH_OBJ_UNTYPED, 13), f = kt_slot(), c = kt_slot(), g = kt_slot();
    uint64_t va1 = kt_window(), va2 = kt_window(), va3 = kt_window();
    if (!ut)
        return;
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, f, 1), "frame");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, f, PITH_RIGHTS_ALL), "copy");
    pith_expect_ok(ctx, kt_map(f, va1, RW), "map");
    pith_expect_ok(ctx, kt_map(c, va2, PITH_RIGHT_READ), "map the copy");
    *(volatile uint64_t *)va1 = 0x5ec7e7;
    pith_expect_eq(ctx, must_read(ctx, va2, "alias"), 0x5ec7e7, "the alias before the revoke");
    pith_expect_ok(ctx, pith_cnode_revoke(KT_CNODE, ut), "revoke the untyped");
    must_fault(ctx, va1, PROBE_READ, "the frame's mapping");
    must_fault(ctx, va2, PROBE_READ, "the copy's mapping");
    uint64_t pa = 0;
    pith_expect_err(ctx, pith_frame_address(f, &pa), PITH_E_INVALID_CAP, "the frame cap is gone");
    /* The memory is handed out again, zeroed, and no old mapping reaches it. */
    pith_expect_ok(ctx, pith_untyped_retype(ut, PITH_OBJ_FRAME_4K, 0, KT_CNODE, g, 1), "retype again");
    pith_expect_ok(ctx, kt_map(g, va3, RW), "map the new frame");
    pith_expect_eq(ctx, *(volatile uint64_t *)va3, 0, "the new frame is zeroed");
    *(volatile uint64_t *)va3 = 0x11;
    must_fault(ctx, va2, PROBE_READ, "the old alias after reuse");
    pith_frame_unmap(g);
    kt_delete(g);
}

/* ---- A second address space --------------------------------------------------------- */

/* Where the second space's code and data go; the root space maps nothing there. */
#define NS_CODE 0x30000000
#define NS_DATA 0x30001000
#define KT_STR_(x) #x
#define KT_STR(x) KT_STR_(x)

/* Position-independent code for a thread in the second space: Send MR0 = data[0]
 * through the endpoint capability data[1], then read data[2] (an address only the root
 * space maps), which faults.  The thread has no stack and no IPC buffer. */
_Static_assert(PITH_SYS_SEND == 3, "the snippet sends with number 3");
__asm__(".pushsection .rodata\n"
        "vs_snippet_start:\n"
        "    movabs $" KT_STR(NS_DATA) ", %rbx\n"
        "    mov (%rbx), %rdx\n"
        "    mov 8(%rbx), %rdi\n"
        "    mov $1, %esi\n"            /* pith_msginfo(0, 1, 0) */
        "    mov $3, %eax\n"
        "    syscall\n"
        "    mov 16(%rbx), %rcx\n"
        "vs_snippet_fault:\n"
        "    mov (%rcx), %rax\n"
        "1:  jmp 1b\n"
        "vs_snippet_end:\n"
        ".popsection\n");
extern const char vs_snippet_start[], vs_snippet_fault[], vs_snippet_end[];

/* A new address space with tables over NS_CODE/NS_DATA. */
static pith_cap_t new_space(struct pith_test_ctx *ctx)
{
    pith_cap_t as = kt_new(ctx, PITH_OBJ_ADDRESS_SPACE, 0);
    if (!as)
        return 0;
    if (!new_table(ctx, PITH_OBJ_PDPT, as, NS_CODE) ||
        !new_table(ctx, PITH_OBJ_PAGE_DIRECTORY, as, NS_CODE) ||
        !new_table(ctx, PITH_OBJ_PAGE_TABLE, as, NS_CODE))
        return 0;
    return as;
}

static void second_space_thread(struct pith_test_ctx *ctx)
{
    pith_cap_t as = new_space(ctx);
    pith_cap_t code = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), data = kt_new(ctx, PITH_OBJ_FRAME_4K, 0);
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0), fault_ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t tcb = kt_new(ctx, PITH_OBJ_THREAD, 0);
    pith_cap_t code2 = kt_slot(), data2 = kt_slot(), badged = kt_slot();
    if (!as || !code || !data || !ep || !fault_ep || !tcb)
        return;
    uint64_t wc = kt_window(), wd = kt_window();
    if (!pith_expect_ok(ctx, kt_map(code, wc, RW), "map the code frame here") ||
        !pith_expect_ok(ctx, kt_map(data, wd, RW), "map the data frame here"))
        return;
    memcpy((void *)wc, vs_snippet_start, (size_t)(vs_snippet_end - vs_snippet_start));
    pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, badged, KT_CNODE, ep, PITH_RIGHT_WRITE, 0x5e),
                   "a badged endpoint for the thread");
    volatile uint64_t *d = (volatile uint64_t *)wd;
    d[0] = 0x1234abcd;
    d[1] = badged;
    d[2] = wd;                  /* mapped in the root space only */
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, code2, KT_CNODE, code, PITH_RIGHTS_ALL), "copy code");
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, data2, KT_CNODE, data, PITH_RIGHTS_ALL), "copy data");
    pith_expect_ok(ctx, pith_frame_map(code2, as, NS_CODE, PITH_RIGHT_READ | PITH_RIGHT_EXECUTE, 0),
                   "map the code there");
    pith_expect_ok(ctx, pith_frame_map(data2, as, NS_DATA, PITH_RIGHT_READ, 0), "map the data there");
    if (!pith_expect_ok(ctx, pith_thread_configure(tcb, KT_CNODE, as, 0, 0, fault_ep), "configure"))
        return;
    uint64_t regs[3] = { [PITH_REG_RIP] = NS_CODE, [PITH_REG_RSP] = 0, [PITH_REG_RFLAGS] = 0x202 };
    pith_expect_ok(ctx, pith_thread_write_registers(tcb, regs, 3), "registers");
    pith_expect_ok(ctx, pith_thread_set_priority(tcb, KT_HIGH), "priority");
    if (!pith_expect_ok(ctx, pith_thread_resume(tcb), "resume"))
        return;
    /* It ran at once: it waits to send. */
    struct pith_msg msg;
    if (pith_expect_ok(ctx, pith_nb_recv(ep, &msg), "the thread's message")) {
        pith_expect_eq(ctx, msg.mr[0], 0x1234abcd, "MR0 read from its own data page");
        pith_expect_eq(ctx, msg.badge, 0x5e, "badge");
        pith_expect_eq(ctx, pith_msginfo_length(msg.info), 1, "length");
    }
    /* Then it touched an address its space does not map. */
    if (pith_expect_ok(ctx, pith_nb_recv(fault_ep, &msg), "the thread's fault")) {
        pith_expect_eq(ctx, pith_msginfo_label(msg.info), PITH_FAULT_PAGE, "fault label");
        pith_expect_eq(ctx, msg.mr[0], NS_CODE + (uint64_t)(vs_snippet_fault - vs_snippet_start),
                       "faulting rip in the second space");
        pith_expect_eq(ctx, msg.mr[1], wd, "fault address");
        pith_expect_eq(ctx, msg.mr[2] & 1, 0, "not present there");
        pith_expect_eq(ctx, msg.mr[3], 14, "vector");
    }
    pith_thread_suspend(tcb);
    kt_delete(tcb);
    kt_delete(as);
}

static void space_isolation(struct pith_test_ctx *ctx)
{
    pith_cap_t as = new_space(ctx);
    pith_cap_t f = kt_new(ctx, PITH_OBJ_FRAME_4K, 0), c = kt_slot();
    uint64_t w = kt_window();
    if (!as || !f)
        return;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, c, KT_CNODE, f, PITH_RIGHTS_ALL), "copy");
    pith_expect_ok(ctx, pith_frame_map(c, as, NS_DATA, RW, 0), "map in the second space");
    pith_expect_ok(ctx, kt_map(f, w, RW), "map here");
    *(volatile uint64_t *)w = 0x150;
    /* The second space's mapping is not ours: the same address faults here. */
    must_fault(ctx, NS_DATA, PROBE_READ, "the second space's address in the root space");
    pith_expect_eq(ctx, must_read(ctx, w, "root mapping"), 0x150, "our own mapping works");
    /* A frame can be unmapped from a space whose capability we still hold. */
    pith_expect_ok(ctx, pith_frame_unmap(c), "unmap from the second space");
    pith_expect_err(ctx, pith_frame_unmap(c), PITH_E_NOT_MAPPED, "unmapped");
    /* After the space is destroyed, a frame mapped in it still counts as mapped. */
    pith_expect_ok(ctx, pith_frame_map(c, as, NS_DATA, RW, 0), "map again");
    kt_delete(as);
    pith_expect_err(ctx, kt_map(c, kt_window(), RW), PITH_E_MAPPED, "a frame of a dead space");
    pith_expect_ok(ctx, pith_frame_unmap(c), "unmap it from the dead space");
    pith_expect_eq(ctx, must_read(ctx, w, "root mapping"), 0x150, "the root mapping is untouched");
    pith_frame_unmap(f);
    kt_delete(c);
    kt_delete(f);
}

KT_TABLE(vspace,
    { "vspace_map_write_read", map_write_read },
    { "vspace_unmap_faults", unmap_faults },
    { "vspace_remap_keeps_contents", remap_keeps_contents },
    { "vspace_readonly_write_faults", readonly_write_faults },
    { "vspace_mapping_rights_follow_cap", mapping_rights_follow_cap },
    { "vspace_no_execute_enforced", no_execute_enforced },
    { "vspace_execute_allowed", execute_allowed },
    { "vspace_uncached_attribute", uncached_attribute },
    { "vspace_alias_through_copy", alias_through_copy },
    { "vspace_map_entry_in_use", map_entry_in_use },
    { "vspace_map_alignment", map_alignment },
    { "vspace_map_bad_address", map_bad_address },
    { "vspace_map_wrong_space", map_wrong_space },
    { "vspace_build_hierarchy", build_hierarchy },
    { "vspace_large_frame", large_frame },
    { "vspace_frame_piece", frame_piece },
    { "vspace_table_mapped_twice", table_mapped_twice },
    { "vspace_table_unmap_hides_pages", table_unmap_hides_pages },
    { "vspace_delete_table_unmaps", delete_table_unmaps },
    { "vspace_delete_frame_unmaps", delete_frame_unmaps },
    { "vspace_delete_copy_unmaps", delete_copy_unmaps },
    { "vspace_revoke_untyped_unmaps", revoke_untyped_unmaps },
    { "vspace_second_space_thread", second_space_thread },
    { "vspace_space_isolation", space_isolation },
)
