/*
 * The worker: a thread whose capability space is the stream's CNode and which makes
 * `calls_wanted` random system calls there.  Each call is built in three steps —
 * pick the operation (an invocation label, an IPC call, a raw system-call number or
 * a compound sequence), pick the capability (a slot believed to hold the right kind
 * of object, sometimes any slot, empty or out of range), pick the arguments (mostly
 * plausible, sometimes at a boundary) — and recorded in a ring buffer first, so a
 * crash leaves the last calls behind.
 *
 * What each slot holds is tracked in a shadow table from the results of the
 * stream's own calls; revokes, received capabilities and the helpers make it
 * approximate, which is fine: it is only a bias.
 */
#include "fuzz.h"
#include <pith/vmexit.h>

struct stream_state stream;

/* Shadow values beyond the object types. */
enum {
    SH_EMPTY = 0,
    SH_SELF = 20,                   /* the stream's own CNode (also a CNode) */
    SH_IRQ_CONTROL = PITH_CAP_IRQ_CONTROL,
    SH_IRQ_HANDLER = PITH_CAP_IRQ_HANDLER,
    SH_IOPORT_CONTROL = PITH_CAP_IOPORT_CONTROL,
    SH_IOPORT = PITH_CAP_IOPORT,
    SH_UNKNOWN = 0xfe,
};

#define IPC (world_worker_ipc)

/* ---- The system call, with the checks the caller can make itself -------------------- */

#define CANARY_BASE 0x5a17c0de00000000ull

/* rbx and r12..r15 must survive (abi.md §1.2); DF is set for the call when asked. */
static enum pith_error fuzz_syscall(uint64_t number, uint64_t cap, struct pith_msg *msg, bool df)
{
    register uint64_t rax __asm__("rax") = number;
    register uint64_t rdi __asm__("rdi") = cap;
    register uint64_t rsi __asm__("rsi") = msg->info;
    register uint64_t rdx __asm__("rdx") = msg->mr[0];
    register uint64_t r8 __asm__("r8") = msg->mr[1];
    register uint64_t r9 __asm__("r9") = msg->mr[2];
    register uint64_t r10 __asm__("r10") = msg->mr[3];
    register uint64_t r12 __asm__("r12") = CANARY_BASE + 12;
    register uint64_t r13 __asm__("r13") = CANARY_BASE + 13;
    register uint64_t r14 __asm__("r14") = CANARY_BASE + 14;
    register uint64_t r15 __asm__("r15") = CANARY_BASE + 15;
    uint64_t rbx = CANARY_BASE + 3;
    __asm__ volatile("test %[df], %[df]\n jz 1f\n std\n1: syscall\n cld"
                     : "+r"(rax), "+r"(rdi), "+r"(rsi), "+r"(rdx), "+r"(r8), "+r"(r9), "+r"(r10),
                       "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15), "+b"(rbx)
                     : [df] "r"((uint64_t)df)
                     : "rcx", "r11", "memory", "cc");
    msg->badge = rdi;
    msg->info = rsi;
    msg->mr[0] = rdx;
    msg->mr[1] = r8;
    msg->mr[2] = r9;
    msg->mr[3] = r10;
    if ((r12 != CANARY_BASE + 12 || r13 != CANARY_BASE + 13 || r14 != CANARY_BASE + 14 ||
         r15 != CANARY_BASE + 15 || rbx != CANARY_BASE + 3) && !stream.failed) {
        pith_snprintf(stream.why, sizeof(stream.why),
                      "callee-saved register changed by the kernel (rbx %lx r12 %lx r15 %lx)",
                      rbx, r12, r15);
        stream.failed = 1;
    }
    return (enum pith_error)rax;
}


/* One recorded call: number, capability, label and length, MR0..; arguments beyond
 * MR3 go through the IPC buffer. */
struct call {
    uint64_t number, cap, label, length, caps;
    uint64_t mr[PITH_MSG_MAX];
};

static enum pith_error make_call(struct call *c, struct pith_msg *out)
{
    uint64_t seq = stream.calls++;
    struct call_record *rec = &stream.ring[seq % RING_SIZE];
    bool df = !(fuzz_options.avoid & AVOID_DF) && rng_percent(&stream.rng, 2);
    *rec = (struct call_record){ .seq = seq, .number = (uint8_t)c->number, .result = 0xff,
                                 .df = df, .length = (uint8_t)c->length, .cap = c->cap,
                                 .label = c->label };
    for (unsigned i = 0; i < 6; i++)
        rec->mr[i] = c->mr[i];
    for (unsigned i = PITH_MSG_REGS_IN_CPU; i < PITH_MSG_MAX; i++)
        IPC->mr[i] = c->mr[i];
    struct pith_msg msg = { .info = pith_msginfo(c->label, c->length, c->caps),
                            .mr = { c->mr[0], c->mr[1], c->mr[2], c->mr[3] } };
    if (fuzz_options.trace)
        stream_print_record(rec);
    stream.in_call = 1;
    uint64_t t0 = pith_rdtsc();
    enum pith_error err = fuzz_syscall(c->number, c->cap, &msg, df);
    uint64_t took = pith_rdtsc() - t0;
    stream.in_call = 0;
    rec->result = (uint8_t)err;
    if (took > stream.slowest_tsc) {
        stream.slowest_tsc = took;
        stream.slowest = *rec;
    }
    if ((uint64_t)err >= PITH_E_COUNT && !stream.failed) {
        pith_snprintf(stream.why, sizeof(stream.why), "call %lu returned error %lu", seq, (uint64_t)err);
        stream.failed = 1;
    }
    if (out)
        *out = msg;
    return err;
}

/* ---- Picking capabilities -------------------------------------------------------------- */

static bool shadow_is(uint8_t value, unsigned type)
{
    if (type == PITH_OBJ_CNODE)
        return value == PITH_OBJ_CNODE || value == SH_SELF;
    return value == type;
}

/* A slot believed to hold `type`, else any occupied slot, else anything. */
static uint64_t slot_of(unsigned type)
{
    struct rng *r = &stream.rng;
    unsigned roll = (unsigned)rng_below(r, 100);
    if (roll < 85 || (type == SH_SELF && roll < 97)) {
        unsigned start = (unsigned)rng_below(r, STREAM_SLOTS);
        for (unsigned i = 0; i < STREAM_SLOTS; i++) {
            unsigned s = (start + i) % STREAM_SLOTS;
            if (s && shadow_is(stream.shadow[s], type == SH_SELF ? SH_SELF : type))
                return s;
        }
    }
    if (roll < 93) {
        unsigned start = (unsigned)rng_below(r, STREAM_SLOTS);
        for (unsigned i = 0; i < STREAM_SLOTS; i++) {
            unsigned s = (start + i) % STREAM_SLOTS;
            if (s && stream.shadow[s] != SH_EMPTY)
                return s;
        }
    }
    if (roll < 97)
        return rng_below(r, STREAM_SLOTS);
    return rng_percent(r, 50) ? STREAM_SLOTS + rng_below(r, 64) : fuzz_boundary(r);
}

/* Any slot believed to hold something, sometimes any slot at all. */
static uint64_t occupied_slot(void)
{
    struct rng *r = &stream.rng;
    if (rng_percent(r, 92)) {
        unsigned start = (unsigned)rng_below(r, STREAM_SLOTS);
        for (unsigned i = 0; i < STREAM_SLOTS; i++) {
            unsigned s = (start + i) % STREAM_SLOTS;
            if (s && stream.shadow[s] != SH_EMPTY)
                return s;
        }
    }
    return rng_percent(r, 70) ? rng_below(r, STREAM_SLOTS) : fuzz_boundary(r);
}

/* A destination slot: mostly empty ones. */
static uint64_t dest_slot(void)
{
    struct rng *r = &stream.rng;
    unsigned roll = (unsigned)rng_below(r, 100);
    if (roll < 85) {
        unsigned start = SS_FIRST_FREE + (unsigned)rng_below(r, STREAM_SLOTS - SS_FIRST_FREE);
        for (unsigned i = 0; i < STREAM_SLOTS; i++) {
            unsigned s = (start + i) % STREAM_SLOTS;
            if (s && stream.shadow[s] == SH_EMPTY)
                return s;
        }
    }
    if (roll < 93)
        return rng_below(r, STREAM_SLOTS);
    return fuzz_boundary(r);
}

/* The kinds of object an address-space argument may name. */
static uint64_t space_slot(void)
{
    return slot_of(rng_percent(&stream.rng, 75) ? PITH_OBJ_ADDRESS_SPACE : PITH_OBJ_GUEST_SPACE);
}

/* ---- Shadow bookkeeping ---------------------------------------------------------------- */

static bool in_stream(uint64_t slot)
{
    return slot > 0 && slot < STREAM_SLOTS;
}

static bool names_self(uint64_t cnode)
{
    return in_stream(cnode) && stream.shadow[cnode] == SH_SELF;
}

static void shadow_set(uint64_t slot, uint8_t value)
{
    if (in_stream(slot))
        stream.shadow[slot] = value;
}

/* What a successful invocation changed in the stream's own CNode. */
static void note_invocation(const struct call *c)
{
    uint64_t const *mr = c->mr;
    switch (c->label) {
    case PITH_UNTYPED_RETYPE:
        if (names_self(mr[2]))
            for (uint64_t i = 0; i < mr[4] && i < STREAM_SLOTS; i++)
                shadow_set(mr[3] + i, (uint8_t)mr[0]);
        break;
    case PITH_CNODE_COPY:
    case PITH_CNODE_MINT:
    case PITH_CNODE_MOVE:
        if (names_self(c->cap)) {
            uint8_t v = names_self(mr[1]) && in_stream(mr[2]) ? stream.shadow[mr[2]] : SH_UNKNOWN;
            shadow_set(mr[0], v);
        }
        if (c->label == PITH_CNODE_MOVE && names_self(mr[1]))
            shadow_set(mr[2], SH_EMPTY);
        break;
    case PITH_CNODE_DELETE:
        if (names_self(c->cap))
            shadow_set(mr[0], SH_EMPTY);
        break;
    case PITH_IRQ_CONTROL_GET:
        shadow_set(mr[1], SH_IRQ_HANDLER);
        break;
    case PITH_IOPORT_CONTROL_ISSUE:
        shadow_set(mr[2], SH_IOPORT);
        break;
    default:
        break;
    }
}

static void reset_shadow(void)
{
    memset(stream.shadow, SH_EMPTY, sizeof(stream.shadow));
    uint8_t *s = stream.shadow;
    s[SS_CNODE] = SH_SELF;
    s[SS_POOL] = s[SS_POOL_SMALL] = PITH_OBJ_UNTYPED;
    s[SS_IRQ_CONTROL] = SH_IRQ_CONTROL;
    s[SS_IOPORT_CONTROL] = SH_IOPORT_CONTROL;
    s[SS_HELPER_SPACE] = PITH_OBJ_ADDRESS_SPACE;
    s[SS_NOTIFICATION_EXTRA] = PITH_OBJ_NOTIFICATION;
    if (world_has_device)
        s[SS_DEVICE] = PITH_OBJ_UNTYPED;
    for (unsigned i = 0; i < HELPER_COUNT; i++)
        s[SS_HELPER0 + i] = PITH_OBJ_THREAD;
    for (unsigned i = 0; i < ENDPOINT_COUNT; i++)
        s[SS_ENDPOINT0 + i] = PITH_OBJ_ENDPOINT;
    for (unsigned i = 0; i < NOTIFICATION_COUNT; i++)
        s[SS_NOTIFICATION0 + i] = PITH_OBJ_NOTIFICATION;
    for (unsigned i = 0; i < FRAME_COUNT; i++)
        s[SS_FRAME0 + i] = PITH_OBJ_FRAME_4K;
    s[SS_TABLE0] = s[SS_TABLE0 + 3] = PITH_OBJ_PDPT;
    s[SS_TABLE0 + 1] = s[SS_TABLE0 + 4] = PITH_OBJ_PAGE_DIRECTORY;
    s[SS_TABLE0 + 2] = s[SS_TABLE0 + 5] = PITH_OBJ_PAGE_TABLE;
}

/* ---- Arguments ------------------------------------------------------------------------- */

static const uint8_t object_weights[] = {
    PITH_OBJ_UNTYPED, PITH_OBJ_CNODE, PITH_OBJ_THREAD, PITH_OBJ_THREAD, PITH_OBJ_ENDPOINT,
    PITH_OBJ_ENDPOINT, PITH_OBJ_NOTIFICATION, PITH_OBJ_NOTIFICATION, PITH_OBJ_ADDRESS_SPACE,
    PITH_OBJ_PDPT, PITH_OBJ_PAGE_DIRECTORY, PITH_OBJ_PAGE_TABLE, PITH_OBJ_FRAME_4K,
    PITH_OBJ_FRAME_4K, PITH_OBJ_FRAME_2M, PITH_OBJ_VCPU, PITH_OBJ_GUEST_SPACE,
};

static uint64_t object_type(void)
{
    struct rng *r = &stream.rng;
    if (rng_percent(r, 92))
        return RNG_PICK(r, object_weights);
    return rng_percent(r, 50) ? rng_below(r, PITH_OBJ_TYPE_COUNT + 2) : fuzz_boundary(r);
}

static void args_retype(struct call *c)
{
    struct rng *r = &stream.rng;
    uint64_t type = object_type();
    c->mr[0] = type;
    if (type == PITH_OBJ_UNTYPED)
        c->mr[1] = rng_percent(r, 85) ? 4 + rng_below(r, 20) : fuzz_boundary(r);
    else if (type == PITH_OBJ_CNODE)
        c->mr[1] = rng_percent(r, 85) ? 1 + rng_below(r, 8) : fuzz_boundary(r);
    else
        c->mr[1] = rng_percent(r, 80) ? 0 : fuzz_value(r);
    c->mr[2] = slot_of(PITH_OBJ_CNODE);
    c->mr[3] = dest_slot();
    unsigned roll = (unsigned)rng_below(r, 100);
    c->mr[4] = roll < 85 ? 1 : roll < 95 ? 2 + rng_below(r, 7) : fuzz_boundary(r);
    c->length = 5;
}

static uint64_t rights(void)
{
    return rng_percent(&stream.rng, 80) ? rng_below(&stream.rng, 16) : fuzz_value(&stream.rng);
}

static void args_cnode(struct call *c)
{
    struct rng *r = &stream.rng;
    if (c->label == PITH_CNODE_DELETE || c->label == PITH_CNODE_REVOKE) {
        c->mr[0] = rng_percent(r, 90) ? occupied_slot() : fuzz_value(r);
        c->length = 1;
        return;
    }
    c->mr[0] = dest_slot();
    c->mr[1] = slot_of(PITH_OBJ_CNODE);
    c->mr[2] = rng_percent(r, 90) ? occupied_slot() : fuzz_value(r);
    c->mr[3] = rights();
    c->mr[4] = rng_percent(r, 80) ? 1 + rng_below(r, 0xffff) : fuzz_value(r);
    c->length = c->label == PITH_CNODE_MOVE ? 3 : c->label == PITH_CNODE_COPY ? 4 : 5;
}

/* Register values for Thread.WRITE_REGISTERS: mostly somewhere in the helper code. */
static void thread_registers(struct call *c, unsigned count)
{
    struct rng *r = &stream.rng;
    for (unsigned i = 0; i < count; i++)
        c->mr[i] = fuzz_value(r);
    unsigned roll = (unsigned)rng_below(r, 100);
    c->mr[PITH_REG_RIP] = roll < 60 ? HELPER_CODE + HELPER_ENTRY
                        : roll < 70 ? HELPER_CODE + rng_below(r, 0x100)
                        : roll < 75 ? PITH_USER_TOP - 2 : fuzz_address(r);
    /* RFLAGS: the kernel keeps the arithmetic flags, TF, DF, NT, RF, AC and ID. */
    uint64_t flags = 0x202 | (rng_next(r) & (rng_percent(r, 30) ? ~0ull : 0x2500d5ull));
    if (fuzz_options.avoid & AVOID_DF)
        flags &= ~0x400ull;
    c->mr[PITH_REG_RFLAGS] = flags;
    if (c->mr[PITH_REG_RAX] == PITH_SYS_DEBUG_PUTC)
        c->mr[PITH_REG_RAX] = PITH_SYS_YIELD;   /* keep the console clean */
    c->mr[PITH_REG_RDI] = rng_next(r);
    if (count > PITH_REG_FS_BASE)
        c->mr[PITH_REG_FS_BASE] = rng_percent(r, 60) ? HELPER_IPC + (rng_below(r, 4) << 12) : fuzz_address(r);
}

static void args_thread(struct call *c)
{
    struct rng *r = &stream.rng;
    switch (c->label) {
    case PITH_THREAD_CONFIGURE:
        c->mr[0] = slot_of(PITH_OBJ_CNODE);
        c->mr[1] = space_slot();
        c->mr[2] = rng_percent(r, 40) ? HELPER_IPC + (rng_below(r, 8) << 12)
                 : rng_percent(r, 30) ? 0 : fuzz_address(r);
        c->mr[3] = slot_of(PITH_OBJ_FRAME_4K);
        c->mr[4] = rng_percent(r, 70) ? slot_of(PITH_OBJ_ENDPOINT) : rng_percent(r, 70) ? 0 : fuzz_value(r);
        c->length = 5;
        break;
    case PITH_THREAD_SET_PRIORITY:
        /* Below the worker's own priority (its MCP): a thread the stream lifts to the
         * worker's level could take its time; above it the kernel refuses. */
        c->mr[0] = rng_percent(r, 80) ? rng_below(r, WORKER_PRIORITY) : fuzz_value(r);
        if (c->mr[0] == WORKER_PRIORITY)
            c->mr[0]--;
        c->length = 1;
        break;
    case PITH_THREAD_READ_REGISTERS:
        c->mr[0] = rng_percent(r, 85) ? 1 + rng_below(r, PITH_REG_COUNT) : fuzz_boundary(r);
        c->length = 1;
        break;
    case PITH_THREAD_WRITE_REGISTERS: {
        unsigned count = rng_percent(r, 90) ? 1 + (unsigned)rng_below(r, PITH_REG_COUNT)
                                            : (unsigned)rng_below(r, PITH_MSG_MAX + 1);
        thread_registers(c, count < PITH_MSG_MAX ? count : PITH_MSG_MAX);
        c->length = count;
        break;
    }
    case PITH_THREAD_BIND_NOTIFICATION:
        c->mr[0] = slot_of(PITH_OBJ_NOTIFICATION);
        c->length = 1;
        break;
    case PITH_THREAD_SET_AFFINITY:
        c->mr[0] = rng_percent(r, 70) ? 0 : fuzz_value(r);
        c->length = 1;
        break;
    default:
        c->length = rng_percent(r, 90) ? 0 : rng_below(r, 4);
        break;
    }
}

static void args_map(struct call *c)
{
    struct rng *r = &stream.rng;
    c->mr[0] = space_slot();
    c->mr[1] = fuzz_address(r);
    c->mr[2] = rights();
    /* Attributes: mostly valid; else a value from fuzz_value, which half the time is
     * made a piece of a 2 MiB frame (PITH_ATTR_PIECE) at one of its offsets or just past
     * them, from the value's own bits (no draws of their own, so the campaign's calls
     * are the ones they were before pieces). */
    c->mr[3] = rng_percent(r, 90) ? rng_below(r, 2) : fuzz_value(r);
    if (c->mr[3] & 4)
        c->mr[3] = PITH_ATTR_PIECE | (c->mr[3] & (PITH_ATTR_UNCACHED | PITH_ATTR_PIECE_OFFSET | (1u << 21)));
    c->length = c->label == PITH_FRAME_MAP ? 4 : 2;
}

static uint64_t deadline(void)
{
    struct rng *r = &stream.rng;
    uint64_t now = pith_rdtsc(), us = kt_bootinfo->tsc_hz / 1000000;
    switch (rng_below(r, 6)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return now + us * (1 + rng_below(r, 2000));
    case 3: return now - us * rng_below(r, 1000);
    default: return fuzz_value(r);
    }
}

/* I/O-port ranges: only ports nothing is behind (0x300..0x33f), or ranges the
 * kernel must refuse; COM1 only without the console flag (PITH_E_BUSY). */
static void args_ioport_issue(struct call *c)
{
    struct rng *r = &stream.rng;
    uint64_t first = 0x300 + rng_below(r, 0x40);
    uint64_t last = first + rng_below(r, 0x40 - (first - 0x300));
    c->mr[3] = 0;
    switch (rng_below(r, 8)) {
    case 0: last = first - 1 - rng_below(r, 16); c->mr[3] = rng_below(r, 3); break;
    case 1: last = 0x10000 + rng_below(r, 4); c->mr[3] = rng_below(r, 3); break;
    case 2: first = 0x3f8 - rng_below(r, 8); last = first + rng_below(r, 16); break;
    default: break;
    }
    c->mr[0] = first;
    c->mr[1] = last;
    c->mr[2] = dest_slot();
    c->length = 4;
}

/* State words for VCpu.WRITE_STATE: raw, boundary, or plausible-looking values. */
static void args_vcpu_state(struct call *c)
{
    struct rng *r = &stream.rng;
    uint64_t mask = rng_percent(r, 90) ? rng_below(r, 0x100) : fuzz_value(r);
    if (fuzz_options.avoid & AVOID_GUEST_STATE)
        mask &= PITH_VM_GROUP_GPR | PITH_VM_GROUP_INTR | PITH_VM_GROUP_TSC;
    c->mr[0] = mask;
    unsigned words = 0;
    for (unsigned g = 0; g < PITH_VM_GROUP_COUNT; g++)
        if (mask & (1u << g))
            words += pith_vm_group_words(g);
    for (unsigned i = 1; i < PITH_MSG_MAX; i++)
        c->mr[i] = fuzz_value(r);
    c->length = rng_percent(r, 90) ? (words + 1 < PITH_MSG_MAX ? words + 1 : PITH_MSG_MAX) : rng_below(r, 66);
}

/* VCpu.SET_PORT: mostly a handful of ports, so a vCPU's four shortcuts run out and a
 * second buffered port is asked for; now and then a port, kind or value the kernel
 * must refuse, some of them good ones with a high bit set that a narrower field would
 * drop. */
static void args_vcpu_port(struct call *c)
{
    static const uint16_t ports[] = { 0x80, 0xe9, 0x3f8, 0x3fd, 0x310, 0x402, 0xffff };
    fuzz_port_shortcut(&stream.rng, ports, sizeof(ports) / sizeof(ports[0]), c->mr);
    c->length = 3;
}

static void args_vcpu(struct call *c)
{
    struct rng *r = &stream.rng;
    switch (c->label) {
    case PITH_VCPU_CONFIGURE:
        c->mr[0] = slot_of(PITH_OBJ_THREAD);
        c->mr[1] = slot_of(PITH_OBJ_GUEST_SPACE);
        c->mr[2] = slot_of(PITH_OBJ_ENDPOINT);
        c->mr[3] = rng_percent(r, 80) ? rng_below(r, 0x100) | (rng_percent(r, 25) ? PITH_VM_OPTION_VIRTUAL_GIF : 0)
                                      : fuzz_value(r);
        c->mr[4] = rng_percent(r, 50) ? 0 : fuzz_value(r);
        c->length = 5;
        break;
    case PITH_VCPU_READ_STATE:
        c->mr[0] = rng_percent(r, 90) ? rng_below(r, 0x100) : fuzz_value(r);
        c->length = 1;
        break;
    case PITH_VCPU_WRITE_STATE:
        args_vcpu_state(c);
        break;
    case PITH_VCPU_SET_IO:
        c->mr[0] = slot_of(SH_IOPORT);
        c->mr[1] = rng_percent(r, 90) ? rng_below(r, 2) : fuzz_value(r);
        c->length = 2;
        break;
    case PITH_VCPU_SET_PORT:
        args_vcpu_port(c);
        break;
    case PITH_VCPU_SET_CPUID:
        fuzz_cpuid_shortcut(r, c->mr);
        c->length = 4;
        break;
    case PITH_VCPU_SET_MSR:
        fuzz_msr_shortcut(r, c->mr);
        c->length = 3;
        break;
    default:
        c->length = 0;
        break;
    }
}

/* Every method of pith/abi.h, and the object each belongs to. */
static const struct { uint16_t label; uint8_t object; } methods[] = {
    { PITH_UNTYPED_RETYPE, PITH_OBJ_UNTYPED }, { PITH_UNTYPED_RETYPE, PITH_OBJ_UNTYPED },
    { PITH_UNTYPED_RETYPE, PITH_OBJ_UNTYPED },
    { PITH_CNODE_COPY, PITH_OBJ_CNODE }, { PITH_CNODE_COPY, PITH_OBJ_CNODE },
    { PITH_CNODE_MINT, PITH_OBJ_CNODE }, { PITH_CNODE_MOVE, PITH_OBJ_CNODE },
    { PITH_CNODE_DELETE, PITH_OBJ_CNODE }, { PITH_CNODE_REVOKE, PITH_OBJ_CNODE },
    { PITH_THREAD_CONFIGURE, PITH_OBJ_THREAD }, { PITH_THREAD_SET_PRIORITY, PITH_OBJ_THREAD },
    { PITH_THREAD_READ_REGISTERS, PITH_OBJ_THREAD }, { PITH_THREAD_WRITE_REGISTERS, PITH_OBJ_THREAD },
    { PITH_THREAD_RESUME, PITH_OBJ_THREAD }, { PITH_THREAD_SUSPEND, PITH_OBJ_THREAD },
    { PITH_THREAD_BIND_NOTIFICATION, PITH_OBJ_THREAD }, { PITH_THREAD_UNBIND_NOTIFICATION, PITH_OBJ_THREAD },
    { PITH_THREAD_SET_AFFINITY, PITH_OBJ_THREAD },
    { PITH_TABLE_MAP, PITH_OBJ_PDPT }, { PITH_TABLE_MAP, PITH_OBJ_PAGE_DIRECTORY },
    { PITH_TABLE_MAP, PITH_OBJ_PAGE_TABLE }, { PITH_TABLE_UNMAP, PITH_OBJ_PAGE_TABLE },
    { PITH_TABLE_UNMAP, PITH_OBJ_PAGE_DIRECTORY },
    { PITH_FRAME_MAP, PITH_OBJ_FRAME_4K }, { PITH_FRAME_MAP, PITH_OBJ_FRAME_4K },
    { PITH_FRAME_MAP, PITH_OBJ_FRAME_2M }, { PITH_FRAME_UNMAP, PITH_OBJ_FRAME_4K },
    { PITH_FRAME_ADDRESS, PITH_OBJ_FRAME_4K },
    { PITH_NOTIFICATION_SET_DEADLINE, PITH_OBJ_NOTIFICATION },
    { PITH_IRQ_CONTROL_GET, SH_IRQ_CONTROL }, { PITH_IRQ_SET_NOTIFICATION, SH_IRQ_HANDLER },
    { PITH_IRQ_ACK, SH_IRQ_HANDLER }, { PITH_IRQ_CLEAR, SH_IRQ_HANDLER },
    { PITH_IOPORT_CONTROL_ISSUE, SH_IOPORT_CONTROL }, { PITH_IOPORT_ALLOW, SH_IOPORT },
    { PITH_IOPORT_DENY, SH_IOPORT },
    { PITH_VCPU_CONFIGURE, PITH_OBJ_VCPU }, { PITH_VCPU_READ_STATE, PITH_OBJ_VCPU },
    { PITH_VCPU_WRITE_STATE, PITH_OBJ_VCPU }, { PITH_VCPU_RECALL, PITH_OBJ_VCPU },
    { PITH_VCPU_SET_IO, PITH_OBJ_VCPU }, { PITH_VCPU_SET_PORT, PITH_OBJ_VCPU },
    { PITH_VCPU_SET_CPUID, PITH_OBJ_VCPU }, { PITH_VCPU_SET_MSR, PITH_OBJ_VCPU },
};

static void args_for(struct call *c)
{
    struct rng *r = &stream.rng;
    switch (c->label) {
    case PITH_UNTYPED_RETYPE: args_retype(c); break;
    case PITH_CNODE_COPY: case PITH_CNODE_MINT: case PITH_CNODE_MOVE:
    case PITH_CNODE_DELETE: case PITH_CNODE_REVOKE: args_cnode(c); break;
    case PITH_TABLE_MAP: case PITH_FRAME_MAP: args_map(c); break;
    case PITH_NOTIFICATION_SET_DEADLINE: c->mr[0] = deadline(); c->length = 1; break;
    case PITH_IRQ_CONTROL_GET:
        c->mr[0] = rng_percent(r, 90) ? rng_below(r, 18) : fuzz_value(r);
        c->mr[1] = dest_slot();
        c->length = 2;
        break;
    case PITH_IRQ_SET_NOTIFICATION: c->mr[0] = slot_of(PITH_OBJ_NOTIFICATION); c->length = 1; break;
    case PITH_IOPORT_CONTROL_ISSUE: args_ioport_issue(c); break;
    case PITH_IOPORT_ALLOW: case PITH_IOPORT_DENY: c->mr[0] = space_slot(); c->length = 1; break;
    default:
        if (c->label >= PITH_THREAD_CONFIGURE && c->label <= PITH_THREAD_SET_AFFINITY)
            args_thread(c);
        else if (c->label >= PITH_VCPU_CONFIGURE && c->label <= PITH_VCPU_SET_MSR)
            args_vcpu(c);
        else
            c->length = 0;
        break;
    }
    /* Sometimes a wrong length: too short (arguments read as 0) or above 64. */
    if (rng_percent(r, 3))
        c->length = rng_below(r, 128);
}

/* The stream must keep a way to name its own CNode: its slot is not emptied through
 * its own CNode (other copies and aliases may still do it). */
static bool spares_self(const struct call *c)
{
    if (!names_self(c->cap))
        return true;
    if ((c->label == PITH_CNODE_DELETE || c->label == PITH_CNODE_REVOKE) && c->mr[0] == SS_CNODE)
        return false;
    return !(c->label == PITH_CNODE_MOVE && c->mr[2] == SS_CNODE && names_self(c->mr[1]));
}

/* VCpu.SET_PORT refuses a port above 0xffff, an unknown kind and a value other than a
 * READ's byte, VCpu.SET_CPUID a last leaf past 32 bits and a reversed range other than
 * the exact "take all away", VCpu.SET_MSR an index past 32 bits, an unknown kind and a
 * value with EXIT (docs/vm.md): accepting one (a value cut to its field, say) breaks
 * the contract.  Arguments beyond the length read as 0. */
static void check_shortcut_call(const struct call *c, enum pith_error err)
{
    if (c->number != PITH_SYS_CALL || err != PITH_OK || stream.failed)
        return;
    uint64_t args[4];
    for (unsigned i = 0; i < 4; i++)
        args[i] = c->length > i ? c->mr[i] : 0;
    if (c->label == PITH_VCPU_SET_PORT && !fuzz_port_shortcut_valid(args))
        pith_snprintf(stream.why, sizeof(stream.why), "VCpu.SET_PORT accepted port %lx kind %lx value %lx",
                      args[0], args[1], args[2]);
    else if (c->label == PITH_VCPU_SET_CPUID && !fuzz_cpuid_shortcut_valid(args))
        pith_snprintf(stream.why, sizeof(stream.why), "VCpu.SET_CPUID accepted leaves %lx..%lx words %lx %lx",
                      args[0], args[1], args[2], args[3]);
    else if (c->label == PITH_VCPU_SET_MSR && !fuzz_msr_shortcut_valid(args))
        pith_snprintf(stream.why, sizeof(stream.why), "VCpu.SET_MSR accepted MSR %lx kind %lx value %lx",
                      args[0], args[1], args[2]);
    else
        return;
    stream.failed = 1;
}

static void op_invoke(void)
{
    struct rng *r = &stream.rng;
    struct call c = { .number = PITH_SYS_CALL };
    unsigned m = (unsigned)rng_below(r, sizeof(methods) / sizeof(methods[0]));
    c.label = methods[m].label;
    c.cap = slot_of(methods[m].object);
    if (rng_percent(r, 3))
        c.label = rng_percent(r, 50) ? rng_below(r, 130) : rng_next(r) >> 12;
    args_for(&c);
    if (!spares_self(&c))
        return;
    if (rng_percent(r, 2))
        c.number = rng_percent(r, 50) ? PITH_SYS_SEND : PITH_SYS_NB_SEND;
    enum pith_error err = make_call(&c, NULL);
    if (err == PITH_OK)
        note_invocation(&c);
    check_shortcut_call(&c, err);
}

/* ---- IPC --------------------------------------------------------------------------------- */

static void random_message(struct call *c)
{
    struct rng *r = &stream.rng;
    c->label = rng_percent(r, 50) ? rng_below(r, 0x100) : rng_next(r) >> 12;
    c->length = rng_percent(r, 80) ? rng_below(r, 65) : rng_below(r, 128);
    c->caps = rng_percent(r, 30) ? 1 + rng_below(r, 3) : 0;
    for (unsigned i = 0; i < PITH_MSG_MAX; i++)
        c->mr[i] = rng_percent(r, 50) ? fuzz_value(r) : rng_below(r, 0x100);
    IPC->caps[0] = occupied_slot();
    IPC->receive_slot = rng_percent(r, 60) ? dest_slot() : 0;
}

/* A received capability lands in the receive slot: the shadow does not know what. */
static void note_receive(const struct pith_msg *msg)
{
    if (msg->info & PITH_MSG_CAP_RECEIVED)
        shadow_set(IPC->receive_slot, SH_UNKNOWN);
}

static void op_ipc(bool blocking)
{
    struct rng *r = &stream.rng;
    static const uint8_t quick[] = {
        PITH_SYS_NB_SEND, PITH_SYS_NB_SEND, PITH_SYS_NB_RECV, PITH_SYS_NB_RECV, PITH_SYS_NB_RECV,
        PITH_SYS_POLL, PITH_SYS_SIGNAL, PITH_SYS_SIGNAL, PITH_SYS_REPLY, PITH_SYS_REPLY,
        PITH_SYS_YIELD, PITH_SYS_DEBUG_PUTC,
    };
    static const uint8_t slow[] = {
        PITH_SYS_CALL, PITH_SYS_CALL, PITH_SYS_SEND, PITH_SYS_RECV, PITH_SYS_RECV, PITH_SYS_WAIT,
        PITH_SYS_REPLY_RECV,
    };
    struct call c = { .number = blocking ? RNG_PICK(r, slow) : RNG_PICK(r, quick) };
    random_message(&c);
    bool on_notification = c.number == PITH_SYS_POLL || c.number == PITH_SYS_SIGNAL ||
                           c.number == PITH_SYS_WAIT || rng_percent(r, 20);
    c.cap = slot_of(on_notification ? PITH_OBJ_NOTIFICATION : PITH_OBJ_ENDPOINT);
    if (c.number == PITH_SYS_DEBUG_PUTC)
        c.cap = (rng_next(r) & ~0xffull) | '\r';     /* a character nobody sees */
    struct pith_msg msg;
    if (make_call(&c, &msg) == PITH_OK)
        note_receive(&msg);
}

/* Any system-call number, every register random. */
static void op_raw(void)
{
    struct rng *r = &stream.rng;
    struct call c = { .number = rng_percent(r, 80) ? rng_below(r, PITH_SYS_COUNT + 2) : fuzz_value(r) };
    random_message(&c);
    c.cap = rng_percent(r, 70) ? occupied_slot() : fuzz_value(r);
    if (c.number == PITH_SYS_DEBUG_PUTC)
        c.cap = (c.cap & ~0xffull) | '\r';
    make_call(&c, NULL);
}

/* ---- Compound sequences ------------------------------------------------------------------ */

static enum pith_error invoke5(uint64_t cap, uint64_t label, uint64_t a, uint64_t b, uint64_t c3,
                               uint64_t d, uint64_t e, unsigned length)
{
    struct call c = { .number = PITH_SYS_CALL, .cap = cap, .label = label, .length = length,
                      .mr = { a, b, c3, d, e } };
    enum pith_error err = make_call(&c, NULL);
    if (err == PITH_OK)
        note_invocation(&c);
    return err;
}

static bool budget_left(uint64_t calls)
{
    return stream.calls + calls <= stream.calls_wanted && !stream.failed;
}

/* Copy of a copy of a copy ...: with `drop`, each parent is deleted after its child is
 * made, so the chain grows deep in two slots. */
static uint64_t op_derivation_chain(uint64_t length, bool drop)
{
    uint64_t from = slot_of(rng_percent(&stream.rng, 50) ? PITH_OBJ_ENDPOINT : PITH_OBJ_NOTIFICATION);
    uint64_t a = dest_slot(), b, i = 0;
    if (!in_stream(from) || !in_stream(a) || invoke5(SS_CNODE, PITH_CNODE_COPY, a, SS_CNODE, from,
                                                      PITH_RIGHTS_ALL, 0, 4) != PITH_OK)
        return 0;
    uint64_t spare = dest_slot();
    for (; i < length && budget_left(2); i++) {
        /* With drop, two slots take turns: the parent's slot is empty again. */
        b = drop && i > 0 ? spare : dest_slot();
        spare = a;
        if (!in_stream(b) || invoke5(SS_CNODE, PITH_CNODE_COPY, b, SS_CNODE, a, PITH_RIGHTS_ALL, 0, 4) != PITH_OK)
            return i;
        if (drop)
            invoke5(SS_CNODE, PITH_CNODE_DELETE, a, 0, 0, 0, 0, 1);
        a = b;
    }
    /* A long chain is revoked from its root: every level must go, the last one too
     * (a depth counter that wraps would hide it from the revoke). */
    if (length > 1000) {
        invoke5(SS_CNODE, PITH_CNODE_REVOKE, from, 0, 0, 0, 0, 1);
        uint64_t probe = dest_slot();
        enum pith_error err = invoke5(SS_CNODE, PITH_CNODE_COPY, probe, SS_CNODE, a, PITH_RIGHTS_ALL, 0, 4);
        if (err != PITH_E_INVALID_CAP && in_stream(probe) && stream.shadow[probe] == SH_EMPTY && !stream.failed) {
            pith_snprintf(stream.why, sizeof(stream.why),
                          "level %lu of a derivation chain survived the revoke of its root (copy: %s)",
                          i, pith_error_name(err));
            stream.failed = 1;
        }
        return i;
    }
    /* Now revoke or delete somewhere along what is left. */
    invoke5(SS_CNODE, rng_percent(&stream.rng, 50) ? PITH_CNODE_REVOKE : PITH_CNODE_DELETE,
            rng_percent(&stream.rng, 50) ? from : a, 0, 0, 0, 0, 1);
    return i;
}

/* CNodes each holding the only capability to the next one, then the head deleted:
 * destruction recurses through the chain. */
static void op_cnode_chain(unsigned depth)
{
    uint64_t slots[48];
    unsigned made = 0;
    for (; made < depth && made < 48 && budget_left(4); made++) {
        slots[made] = dest_slot();
        if (!in_stream(slots[made]) ||
            invoke5(SS_POOL_SMALL, PITH_UNTYPED_RETYPE, PITH_OBJ_CNODE, 1, SS_CNODE, slots[made], 1, 5) != PITH_OK)
            break;
    }
    /* CNode i holds the capability of CNode i+1 in its slot 1; then only that one. */
    for (unsigned i = 0; i + 1 < made; i++)
        if (invoke5(slots[i], PITH_CNODE_MOVE, 1, SS_CNODE, slots[i + 1], 0, 0, 3) != PITH_OK)
            break;
    if (made)
        invoke5(SS_CNODE, PITH_CNODE_DELETE, slots[0], 0, 0, 0, 0, 1);
}

/* Revoke an untyped and make objects in its memory at once, while the shadow and
 * the helpers may still name what was there. */
static void op_retype_over(void)
{
    struct rng *r = &stream.rng;
    uint64_t pool = rng_percent(r, 60) ? SS_POOL : slot_of(PITH_OBJ_UNTYPED);
    invoke5(SS_CNODE, PITH_CNODE_REVOKE, pool, 0, 0, 0, 0, 1);
    for (unsigned i = 0; i < 1 + rng_below(r, 6); i++) {
        struct call c = { .number = PITH_SYS_CALL, .cap = pool, .label = PITH_UNTYPED_RETYPE };
        args_retype(&c);
        c.mr[2] = SS_CNODE;
        if (make_call(&c, NULL) == PITH_OK)
            note_invocation(&c);
    }
}

/* A page-table hierarchy and a frame, mapped top-down so the maps succeed, then
 * taken apart in a random order. */
static void op_map_chain(void)
{
    struct rng *r = &stream.rng;
    static const uint8_t types[] = { PITH_OBJ_PDPT, PITH_OBJ_PAGE_DIRECTORY, PITH_OBJ_PAGE_TABLE,
                                     PITH_OBJ_FRAME_4K };
    uint64_t space = space_slot(), vaddr = fuzz_address(r) & ~0xfffull, slots[4];
    for (unsigned i = 0; i < 4; i++) {
        slots[i] = dest_slot();
        if (invoke5(SS_POOL, PITH_UNTYPED_RETYPE, types[i], 0, SS_CNODE, slots[i], 1, 5) != PITH_OK)
            return;
        if (i < 3)
            invoke5(slots[i], PITH_TABLE_MAP, space, vaddr, 0, 0, 0, 2);
        else
            invoke5(slots[i], PITH_FRAME_MAP, space, vaddr, rights(), 0, 0, 4);
    }
    for (unsigned i = 0; i < 4; i++) {
        uint64_t s = slots[rng_below(r, 4)];
        static const uint16_t labels[] = { PITH_TABLE_UNMAP, PITH_FRAME_UNMAP, PITH_CNODE_DELETE };
        uint64_t label = RNG_PICK(r, labels);
        if (label == PITH_CNODE_DELETE)
            invoke5(SS_CNODE, label, s, 0, 0, 0, 0, 1);
        else
            invoke5(s, label, 0, 0, 0, 0, 0, 0);
    }
}

/* A vCPU on a fresh thread with a guest space and a frame at a random guest address:
 * it runs at once, and its exits wait on one of the stream's endpoints. */
static void op_vcpu(void)
{
    struct rng *r = &stream.rng;
    uint64_t vcpu = dest_slot();
    if (invoke5(SS_POOL, PITH_UNTYPED_RETYPE, PITH_OBJ_VCPU, 0, SS_CNODE, vcpu, 1, 5) != PITH_OK)
        return;
    uint64_t space = dest_slot();
    invoke5(SS_POOL, PITH_UNTYPED_RETYPE, PITH_OBJ_GUEST_SPACE, 0, SS_CNODE, space, 1, 5);
    uint64_t thread = rng_percent(r, 50) ? dest_slot() : slot_of(PITH_OBJ_THREAD);
    if (in_stream(thread) && stream.shadow[thread] == SH_EMPTY)
        invoke5(SS_POOL, PITH_UNTYPED_RETYPE, PITH_OBJ_THREAD, 0, SS_CNODE, thread, 1, 5);
    invoke5(thread, PITH_THREAD_SUSPEND, 0, 0, 0, 0, 0, 0);
    invoke5(thread, PITH_THREAD_CONFIGURE, SS_CNODE, SS_HELPER_SPACE, 0, 0, 0, 5);
    invoke5(vcpu, PITH_VCPU_CONFIGURE, thread, space, slot_of(PITH_OBJ_ENDPOINT),
            rng_below(r, 0x100), rng_percent(r, 50) ? 0 : rng_next(r), 5);
    op_map_chain();     /* perhaps into this guest space */
    invoke5(thread, PITH_THREAD_SET_PRIORITY, rng_below(r, WORKER_PRIORITY), 0, 0, 0, 0, 1);
    invoke5(thread, PITH_THREAD_RESUME, 0, 0, 0, 0, 0, 0);
}

static void op_compound(void)
{
    struct rng *r = &stream.rng;
    switch (rng_below(r, 8)) {
    case 0: case 1:
        op_derivation_chain(1 + rng_below(r, 30), rng_percent(r, 50));
        break;
    case 2:
        if (rng_percent(r, 10))
            op_derivation_chain(100 + rng_below(r, 2000), true);
        else
            op_cnode_chain(2 + (unsigned)rng_below(r, (fuzz_options.avoid & AVOID_CNODE_CHAIN) ? 12 : 40));
        break;
    case 3:
        op_retype_over();
        break;
    case 4: case 5:
        op_map_chain();
        break;
    default:
        op_vcpu();
        break;
    }
}

/* ---- The worker --------------------------------------------------------------------------- */

static void one_step(void)
{
    unsigned roll = (unsigned)rng_below(&stream.rng, 1000);
    if (roll < 780)
        op_invoke();
    else if (roll < 950)
        op_ipc(false);
    else if (roll < 962)
        op_ipc(true);
    else if (roll < 972)
        op_raw();
    else
        op_compound();
}

void stream_worker(uint64_t arg)
{
    (void)arg;
    reset_shadow();
    /* Once a seed, if allowed: a derivation chain past the 16-bit depth. */
    /* The deep chain starts from one of the world's endpoints or notifications. */
    for (unsigned tries = 0; stream.deep && !stream.deep_reached && tries < 16; tries++)
        stream.deep_reached = op_derivation_chain(fuzz_options.deep_chain, true);
    while (stream.calls < stream.calls_wanted && !stream.failed)
        one_step();
    stream.done = 1;
    for (;;)
        pith_yield();
}

/* ---- Reports --------------------------------------------------------------------------------- */

static const char *const syscall_names[] = {
    "0", "Call", "ReplyRecv", "Send", "NBSend", "Recv", "NBRecv", "Reply", "Signal", "Wait",
    "Poll", "Yield", "DebugPutc",
};

const char *fuzz_syscall_name(uint64_t number)
{
    return number < sizeof(syscall_names) / sizeof(syscall_names[0]) ? syscall_names[number] : "?";
}

void stream_print_record(const struct call_record *c)
{
    char result[24];
    if (c->result == 0xff)
        pith_snprintf(result, sizeof(result), "(no return)");
    else
        pith_snprintf(result, sizeof(result), "%s", pith_error_name((enum pith_error)c->result));
    pith_printf("  #%lu %s%s cap=%lu label=%lu len=%u mr=%lx,%lx,%lx,%lx,%lx,%lx -> %s\n", c->seq,
                fuzz_syscall_name(c->number), c->df ? "+DF" : "", c->cap, c->label, c->length,
                c->mr[0], c->mr[1], c->mr[2], c->mr[3], c->mr[4], c->mr[5], result);
}

void stream_print_ring(void)
{
    uint64_t n = stream.calls < RING_SIZE ? stream.calls : RING_SIZE;
    pith_printf("  last %lu calls of batch %lu (oldest first):\n", n, stream.batch);
    for (uint64_t i = stream.calls - n; i < stream.calls; i++)
        stream_print_record(&stream.ring[i % RING_SIZE]);
}
