/*
 * The kernel fuzzer: a root task that throws long, seeded streams of system calls
 * at the kernel and, when the kernel has a VCpu backend, runs a guest executing
 * random instructions under a VMM that answers every exit at random.
 *
 *   main.c    parameters, the per-seed campaign, the supervisor (watchdog, sentinel,
 *             liveness) and the report
 *   world.c   the stream's world, rebuilt for every batch: its CNode, untyped pools,
 *             helper threads, endpoints and notifications, all from one untyped
 *   stream.c  the worker thread: random calls on the stream's slots with biased
 *             arguments, and the ring buffer of the last calls
 *   helper.c  helper threads: a position-independent loop of random (mostly
 *             blocking) system calls, run in an address space of their own
 *   guest.c   the VM side: random guest code in real, protected and long mode,
 *             random replies, port shortcuts, reconfiguration and recreation of
 *             the vCPU
 *
 * Whatever the stream does, it only reaches objects of its own world: its CNode
 * holds copies of the IRQ and I/O-port control capabilities and the objects the
 * world made, never the fuzzer's own CNode, address space, threads or sentinel.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include "../ktest/ktest.h"

/* ---- Parameters (kernel command line: `seeds=1,2,3 n=20000 vmexits=2000 ...`) ---- */
#define FUZZ_MAX_SEEDS 32

/* Known bug classes that can be left out with avoid=<name>,<name>: the default
 * attacks everything. */
enum fuzz_avoid {
    AVOID_DF = 1u << 0,          /* system calls with RFLAGS.DF set */
    AVOID_SYSRET = 1u << 1,      /* SYSCALL at the top of user space */
    AVOID_DEPTH = 1u << 2,       /* derivation chains deeper than 65535 */
    AVOID_CNODE_CHAIN = 1u << 3, /* chains of CNodes holding each other */
    AVOID_VCPU_SPACE = 1u << 4,  /* Thread.CONFIGURE of a vCPU thread */
    AVOID_GUEST_STATE = 1u << 5, /* random CR, EFER, SYS, segment, descriptor-table and
                                  * RFLAGS state written to a vCPU */
};

struct fuzz_options {
    uint64_t seeds[FUZZ_MAX_SEEDS];
    unsigned seed_count;
    uint64_t invocations;        /* per seed, at least */
    uint64_t vm_exits;           /* per seed, at least (when there is a VCpu backend) */
    uint64_t batch;              /* calls per batch */
    uint64_t first_batch;        /* start each seed at this batch (replaying) */
    uint64_t deep_chain;         /* length of the one deep derivation chain a seed makes */
    unsigned avoid;              /* enum fuzz_avoid */
    bool verbose;
    bool trace;                  /* print every call before it is made (slow) */
};
extern struct fuzz_options fuzz_options;

/* ---- Random numbers: splitmix64, one state per stream ---------------------------- */
struct rng {
    uint64_t state;
};

static inline uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* 0 .. n-1 (n > 0). */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

/* True with probability percent/100. */
static inline bool rng_percent(struct rng *r, unsigned percent)
{
    return rng_below(r, 100) < percent;
}

#define RNG_PICK(r, array) ((array)[rng_below((r), sizeof(array) / sizeof((array)[0]))])

/* A value near a boundary that matters somewhere: 0, 1, powers of two and their
 * neighbours, the end of user space, non-canonical addresses, all ones. */
uint64_t fuzz_boundary(struct rng *r);
/* Mostly boundary values, some small numbers, some raw random words. */
uint64_t fuzz_value(struct rng *r);
/* VCpu.SET_PORT's port, kind and value: a port of `ports`, now and then a port, kind or
 * value the kernel must refuse (good ones with a high bit set among them, which a
 * narrower field would drop); and whether the kernel must accept them (docs/vm.md). */
void fuzz_port_shortcut(struct rng *r, const uint16_t *ports, unsigned count, uint64_t args[3]);
bool fuzz_port_shortcut_valid(const uint64_t args[3]);
/* VCpu.SET_CPUID's first and last leaf and answer words: mostly small ranges of the
 * leaves guests ask, now and then a last leaf past 32 bits, a reversed range or the
 * "take all away" form, with or without its zero words; and whether the kernel must
 * accept them (overlaps and a full table are refused too, which this does not judge). */
void fuzz_cpuid_shortcut(struct rng *r, uint64_t args[4]);
bool fuzz_cpuid_shortcut_valid(const uint64_t args[4]);
/* VCpu.SET_MSR's index, kind and value: mostly a handful of MSRs guests read, now and
 * then an index past 32 bits, an unknown kind or a value with PITH_VM_MSR_EXIT; and
 * whether the kernel must accept them (a full table is refused too). */
void fuzz_msr_shortcut(struct rng *r, uint64_t args[3]);
bool fuzz_msr_shortcut_valid(const uint64_t args[3]);
/* An address: near 0, in the helpers' region, near PITH_USER_TOP, non-canonical,
 * aligned to 4 KiB / 2 MiB / 1 GiB / 512 GiB or not. */
uint64_t fuzz_address(struct rng *r);

/* ---- The stream's world (world.c) -------------------------------------------------- */
#define STREAM_CNODE_BITS 8
#define STREAM_SLOTS (1u << STREAM_CNODE_BITS)

/* Fixed slots of the stream's CNode at the start of every batch. */
enum stream_slot {
    SS_CNODE = 1,            /* the stream's own CNode */
    SS_POOL,                 /* untyped, 4 MiB */
    SS_POOL_SMALL,           /* untyped, 64 KiB */
    SS_IRQ_CONTROL,
    SS_IOPORT_CONTROL,
    SS_HELPER_SPACE,         /* the helpers' address space */
    SS_NOTIFICATION_EXTRA,   /* a notification */
    SS_DEVICE,               /* a small device untyped (legacy VGA memory), if any */
    SS_HELPER0,              /* helper threads */
    SS_ENDPOINT0 = SS_HELPER0 + 4,
    SS_NOTIFICATION0 = SS_ENDPOINT0 + 3,
    SS_FRAME0 = SS_NOTIFICATION0 + 2,   /* the helpers' IPC buffers, mapped */
    SS_TABLE0 = SS_FRAME0 + 4,          /* the helper space's page tables */
    SS_FIRST_FREE = SS_TABLE0 + 6,
};
#define HELPER_COUNT 4
#define ENDPOINT_COUNT 3
#define NOTIFICATION_COUNT 2
#define FRAME_COUNT 4

/* The helpers' address space: code at HELPER_CODE (and its last two bytes, a
 * SYSCALL, at the very top of user space), IPC buffers from HELPER_IPC on. */
#define HELPER_CODE 0x10000ull
#define HELPER_IPC 0x20000ull
#define HELPER_TOP_PAGE (PITH_USER_TOP - 0x1000)

/* The worker's priority, and the most the stream gives a thread (its MCP is this). */
#define WORKER_PRIORITY 100

/* Fixed for the whole run. */
bool world_init(void);
/* Revoke the previous batch's world and build a new one; the worker is created but
 * not started.  Returns false (and why) when the kernel refused the set-up. */
bool world_build(struct rng *r, char *why, size_t why_size);
/* The worker thread (root CNode slot) and its IPC buffer. */
extern pith_cap_t world_worker;
extern struct pith_ipc_buffer *world_worker_ipc;
/* The stream's CNode as seen from the root CNode. */
extern pith_cap_t world_stream_cnode;
/* The endpoint the worker's faults go to (root CNode). */
extern pith_cap_t world_fault_endpoint;
extern bool world_has_device;

/* ---- The worker (stream.c) ----------------------------------------------------------- */
struct call_record {
    uint64_t seq;
    uint8_t number;              /* system call */
    uint8_t result;              /* error returned (0xff: still running) */
    uint8_t df;                  /* made with RFLAGS.DF set */
    uint8_t length;
    uint64_t cap, label;
    uint64_t mr[6];
};
#define RING_SIZE 24

/* Shared between the worker and the supervisor. */
struct stream_state {
    struct rng rng;
    uint64_t seed, batch;
    uint64_t calls_wanted;       /* calls in this batch */
    volatile uint64_t calls;     /* made so far in this batch */
    volatile uint64_t in_call;   /* the worker is between entering and leaving a call */
    bool deep;                   /* this batch starts with the deep derivation chain */
    uint64_t deep_reached;       /* its length */
    volatile uint64_t done;
    volatile uint64_t failed;    /* the worker found a broken contract */
    char why[160];
    struct call_record ring[RING_SIZE];
    struct call_record slowest;  /* the call that took longest in this batch */
    uint64_t slowest_tsc;
    uint8_t shadow[STREAM_SLOTS];   /* what each slot is believed to hold (object type) */
};
extern struct stream_state stream;

/* The worker's entry point (a thread in the root address space, stream CNode). */
void stream_worker(uint64_t arg);
/* Print the last calls of the ring buffer. */
void stream_print_ring(void);
void stream_print_record(const struct call_record *c);
const char *fuzz_syscall_name(uint64_t number);

/* ---- Helpers (helper.c) ------------------------------------------------------------- */
extern const uint8_t helper_code[], helper_code_end[];
/* Offset in helper_code of the loop's entry: rdi = seed, rsi = slot mask. */
#define HELPER_ENTRY 0

/* ---- The VM side (guest.c) ---------------------------------------------------------- */
bool guest_available(void);
bool guest_init(void);
/* Run the VM fuzzer for at least `exits` exits; false (and why) on a failure. */
bool guest_fuzz(uint64_t seed, uint64_t exits, uint64_t *done, char *why, size_t why_size);

#endif
