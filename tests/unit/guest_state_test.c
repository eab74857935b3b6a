/* The state a VMM may ask a guest to run with (arch/x86_64/guest_state.c). */
#include "unit.h"
#include "../../arch/x86_64/arch.h"

static const struct vcpu_guest_limits limits = {
    .cr4_allowed = 0x3f7ffull, .efer_allowed = 0xd01ull, .phys_bits = 40,
};

#define CR0_PE 1ull
#define CR0_PG (1ull << 31)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define ATTR_L (1ull << 9)
#define ATTR_DB (1ull << 10)

/* A 64-bit guest: paging, PAE, long mode, a 64-bit code segment. */
static struct guest_state_words long_mode_guest(void)
{
    struct guest_state_words w;
    memset(&w, 0, sizeof(w));
    w.rip[0] = 0xffffffff81000000ull;
    w.rip[1] = 0x2;
    w.cr[0] = CR0_PE | CR0_PG;
    w.cr[2] = 0x1000;
    w.cr[3] = CR4_PAE;
    w.cr[4] = EFER_LME | EFER_LMA;
    w.cr[5] = 0x400;
    w.seg[2] = 0x10 | ((0x9b | ATTR_L) << 16);
    w.seg[14] = 0x8bull << 16;              /* TR: a busy 32-bit TSS */
    return w;
}

static unsigned check(const struct guest_state_words *w)
{
    return guest_state_check(w, PITH_VM_GROUP_RIP | PITH_VM_GROUP_CR | PITH_VM_GROUP_SEG |
                             PITH_VM_GROUP_DTR | PITH_VM_GROUP_SYS, &limits);
}

static void consistent_long_mode_accepted(void)
{
    struct guest_state_words w = long_mode_guest();
    CHECK_EQ(check(&w), 0);
    memset(&w, 0, sizeof(w));       /* real mode at reset */
    w.rip[1] = 0x2;
    w.seg[14] = 0x8bull << 16;
    CHECK_EQ(check(&w), 0);
    w.seg[14] = 0x83ull << 16;      /* a busy 16-bit TSS outside long mode */
    CHECK_EQ(check(&w), 0);
}

/* TR must be a present, usable TSS (16-bit only outside long mode): QEMU stops the
 * emulator for any other when a guest above CPL 0 takes an interrupt. */
static void task_register_refused(void)
{
    static const uint64_t bad[] = { 0x0b, 0x8b | 0x1000, 0x9b, 0x82, 0x81, 0x83, 0x8c, 0 };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct guest_state_words w = long_mode_guest();
        w.seg[14] = bad[i] << 16;
        CHECK_EQ(check(&w), PITH_VM_REFUSED_SEGMENT);
    }
    struct guest_state_words w = long_mode_guest();
    w.seg[14] = 0x83ull << 16;      /* a 16-bit TSS in long mode */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_SEGMENT);
    w.seg[14] = 0x89ull << 16;      /* available: QEMU's LTR leaves that type in TR */
    CHECK_EQ(check(&w), 0);
}

static void control_inconsistencies_refused(void)
{
    struct guest_state_words w = long_mode_guest();
    w.cr[3] = 0;                            /* long mode without PAE */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_CONTROL);
    w = long_mode_guest();
    w.cr[0] = CR0_PE;                       /* LMA without paging */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_CONTROL);
    w = long_mode_guest();
    w.cr[0] = CR0_PG;                       /* paging without protection */
    w.cr[4] = 0;
    CHECK_EQ(check(&w), PITH_VM_REFUSED_CONTROL);
    w = long_mode_guest();
    w.cr[0] |= CR0_NW;                      /* NW without CD */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_CONTROL);
    w.cr[0] |= CR0_CD;
    CHECK_EQ(check(&w), 0);
    w = long_mode_guest();
    w.cr[2] = 1ull << 45;                   /* CR3 beyond the physical width */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_CONTROL);
    w = long_mode_guest();
    w.cr[5] = 1ull << 40;                   /* DR7 high bits */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_CONTROL);
    w = long_mode_guest();
    w.cr[4] |= 1ull << 20;                  /* an EFER bit the CPU lacks */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_CONTROL);
}

/* LME without paging: valid on the CPU (and under VMX) with or without PAE; where the
 * backend asks (SVM, for QEMU's #VMEXIT) only with PAE. */
static void lme_without_pae(void)
{
    struct vcpu_guest_limits svm = limits;
    svm.lme_needs_pae = true;
    uint64_t groups = PITH_VM_GROUP_RIP | PITH_VM_GROUP_CR | PITH_VM_GROUP_SEG;
    struct guest_state_words w = long_mode_guest();
    w.cr[0] = CR0_PE;
    w.cr[3] = 0;
    w.cr[4] = EFER_LME;
    w.seg[2] = 0x10 | (0xc9bull << 16);     /* 32-bit code */
    w.rip[0] = 0x1000;
    CHECK_EQ(check(&w), 0);
    CHECK_EQ(guest_state_check(&w, groups, &svm), PITH_VM_REFUSED_CONTROL);
    w.cr[3] = CR4_PAE;
    CHECK_EQ(guest_state_check(&w, groups, &svm), 0);
    w = long_mode_guest();
    CHECK_EQ(guest_state_check(&w, groups, &svm), 0);
}

static void segments_rip_and_tables_refused(void)
{
    struct guest_state_words w = long_mode_guest();
    w.seg[2] |= ATTR_DB << 16;              /* CS both L and D */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_SEGMENT);
    w = long_mode_guest();
    w.seg[9] = 0x0000800000000000ull;       /* non-canonical FS base */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_SEGMENT);
    w = long_mode_guest();
    w.rip[0] = 0x0000800000000000ull;       /* non-canonical RIP in 64-bit code */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_RIP);
    w = long_mode_guest();
    w.rip[1] = 0;                           /* RFLAGS bit 1 clear */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_RIP);
    w = long_mode_guest();
    w.dtr[1] = 0x10000;                     /* GDTR limit past 16 bits */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_TABLE);
    w = long_mode_guest();
    w.sys[4] = 0xffff800000000000ull - 1;   /* LSTAR just below the upper half */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_SYS);
    w = long_mode_guest();
    w.sys[8] = 0x02;                        /* PAT entry of a reserved type */
    CHECK_EQ(check(&w), PITH_VM_REFUSED_SYS);
}

static void only_written_groups_checked(void)
{
    struct guest_state_words w = long_mode_guest();
    w.sys[4] = 1ull << 60;
    CHECK_EQ(guest_state_check(&w, PITH_VM_GROUP_CR, &limits), 0);
    CHECK_EQ(guest_state_check(&w, PITH_VM_GROUP_SYS, &limits), PITH_VM_REFUSED_SYS);
}

/* DR0..DR3 canonical (a MOV would fault in the kernel), DR6's upper half clear. */
static void debug_registers_checked(void)
{
    struct guest_state_words w = long_mode_guest();
    uint64_t groups = PITH_VM_GROUP_DR;
    w.dr[0] = 0xffffffff81000000ull;
    w.dr[3] = 0x00007ffffffff000ull;
    w.dr[4] = 0xffff4ff0ull;                /* reserved low bits: harmless */
    CHECK_EQ(guest_state_check(&w, groups, &limits), 0);
    for (unsigned i = 0; i < 4; i++) {
        struct guest_state_words bad = w;
        bad.dr[i] = 0x0000800000000000ull;
        CHECK_EQ(guest_state_check(&bad, groups, &limits), PITH_VM_REFUSED_DEBUG);
        bad.dr[i] = 0xdead000000000000ull;
        CHECK_EQ(guest_state_check(&bad, groups, &limits), PITH_VM_REFUSED_DEBUG);
    }
    w.dr[4] = 1ull << 32;
    CHECK_EQ(guest_state_check(&w, groups, &limits), PITH_VM_REFUSED_DEBUG);
    CHECK_EQ(check(&w), 0);                 /* not looked at unless written */
}

static void events_checked(void)
{
    uint64_t v = PITH_VM_EVENT_VALID;
    CHECK(guest_event_valid(v | PITH_VM_EVENT_EXTINT | 0x30));
    CHECK(guest_event_valid(v | PITH_VM_EVENT_NMI | 2));
    CHECK(!guest_event_valid(v | PITH_VM_EVENT_NMI | 3));
    CHECK(guest_event_valid(v | PITH_VM_EVENT_EXCEPTION | PITH_VM_EVENT_ERROR_CODE | 14));
    CHECK(!guest_event_valid(v | PITH_VM_EVENT_EXCEPTION | PITH_VM_EVENT_ERROR_CODE | 6));
    CHECK(!guest_event_valid(v | PITH_VM_EVENT_EXCEPTION | 32));
    CHECK(!guest_event_valid(v | PITH_VM_EVENT_EXCEPTION | 2));
    CHECK(!guest_event_valid(v | (7ull << 8) | 1));         /* reserved type */
    CHECK(!guest_event_valid(v | (1ull << 40) | 0x30));     /* bits outside the format */
    CHECK(!guest_event_valid(v | PITH_VM_EVENT_SOFT_INT | PITH_VM_EVENT_ERROR_CODE | 0x80));
}

UNIT_TABLE(guest_state,
    { "guest_state_long_mode_accepted", consistent_long_mode_accepted },
    { "guest_state_task_register_refused", task_register_refused },
    { "guest_state_control_refused", control_inconsistencies_refused },
    { "guest_state_lme_without_pae", lme_without_pae },
    { "guest_state_segments_rip_tables_refused", segments_rip_and_tables_refused },
    { "guest_state_only_written_groups", only_written_groups_checked },
    { "guest_state_events_checked", events_checked },
    { "guest_state_debug_registers", debug_registers_checked },
)
