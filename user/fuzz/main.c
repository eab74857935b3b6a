/*
 * The fuzzer's root task and supervisor.  For each seed: batches of random system
 * calls made by the worker in a fresh world (world.c, stream.c) until the seed has
 * its invocations, each batch followed by the checks — the sentinel pages still hold
 * their pattern, the kernel still answers a Call and a retype — then the VM side
 * (guest.c) for its exits.  One line per seed, `PASS fuzz-seed-<seed> (...)` or
 * `FAIL fuzz-seed-<seed>: <why>` and a reproducer, then `fuzz-svm: N passed, N failed`
 * (QEMU) or `fuzz-vmx: ...` (Bochs), and the verdict to the emulator.
 *
 * The supervisor runs above the worker's priority and wakes on a deadline every
 * half millisecond: a worker that made no call since the last tick is blocked (a
 * Call nobody answers, a Recv nobody sends to), so it is suspended and resumed,
 * which ends its call with PITH_E_INTERRUPTED.  The worker's faults come to the
 * supervisor as messages: a fault in fuzzer code means the kernel broke something.
 */
#include "fuzz.h"

const struct pith_bootinfo *kt_bootinfo;
struct fuzz_options fuzz_options;
pith_cap_t fuzz_tick;                   /* bound to the supervisor: its deadlines */

#define SUPERVISOR_PRIORITY 200
#define LIVENESS_PRIORITY 150
#define SENTINEL_PAGES 16
#define STUCK_TICKS_MAX 40000           /* 10 s of ticks without a single call */

/* Without seeds=: eight seeds under QEMU, two under Bochs (about 30x slower). */
#define DEFAULT_SEEDS_SVM 8
#define DEFAULT_SEEDS_VMX 2

/* ---- Parameters ------------------------------------------------------------------------ */

static bool starts_with(const char *s, const char *prefix)
{
    return pith_strncmp(s, prefix, pith_strlen(prefix)) == 0;
}

static uint64_t parse_number(const char **p)
{
    uint64_t v = 0;
    while (**p >= '0' && **p <= '9')
        v = v * 10 + (uint64_t)(*(*p)++ - '0');
    return v;
}

static const struct { const char *name; unsigned bit; } avoid_names[] = {
    { "df", AVOID_DF }, { "sysret", AVOID_SYSRET }, { "depth", AVOID_DEPTH },
    { "cnode-chain", AVOID_CNODE_CHAIN }, { "vcpu-space", AVOID_VCPU_SPACE },
    { "guest-state", AVOID_GUEST_STATE },
};

static void parse_avoid(const char *p)
{
    while (*p && *p != ' ') {
        for (unsigned i = 0; i < sizeof(avoid_names) / sizeof(avoid_names[0]); i++) {
            size_t n = pith_strlen(avoid_names[i].name);
            if (pith_strncmp(p, avoid_names[i].name, n) == 0 && (p[n] == ',' || p[n] == ' ' || !p[n]))
                fuzz_options.avoid |= avoid_names[i].bit;
        }
        while (*p && *p != ',' && *p != ' ')
            p++;
        if (*p == ',')
            p++;
    }
}

static void parse_options(const char *cmdline)
{
    struct fuzz_options *o = &fuzz_options;
    *o = (struct fuzz_options){ .invocations = 20000, .vm_exits = 2000, .batch = 2000,
                                .deep_chain = 65600 };
    for (const char *p = cmdline; *p;) {
        while (*p == ' ')
            p++;
        if (starts_with(p, "seeds=")) {
            p += 6;
            while (*p >= '0' && *p <= '9' && o->seed_count < FUZZ_MAX_SEEDS) {
                o->seeds[o->seed_count++] = parse_number(&p);
                if (*p == ',')
                    p++;
            }
        } else if (starts_with(p, "n=")) {
            p += 2, o->invocations = parse_number(&p);
        } else if (starts_with(p, "vmexits=")) {
            p += 8, o->vm_exits = parse_number(&p);
        } else if (starts_with(p, "batch=")) {
            p += 6, o->batch = parse_number(&p);
        } else if (starts_with(p, "from=")) {
            p += 5, o->first_batch = parse_number(&p);
        } else if (starts_with(p, "deep=")) {
            p += 5, o->deep_chain = parse_number(&p);
        } else if (starts_with(p, "avoid=")) {
            parse_avoid(p + 6);
        } else if (starts_with(p, "trace")) {
            o->trace = true;
        } else if (starts_with(p, "verbose")) {
            o->verbose = true;
        }
        while (*p && *p != ' ')
            p++;
    }
    if (!o->seed_count) {
        bool vmx = (kt_bootinfo->cpu_features & PITH_CPU_VMX) != 0;
        for (unsigned i = 0; i < (vmx ? DEFAULT_SEEDS_VMX : DEFAULT_SEEDS_SVM); i++)
            o->seeds[o->seed_count++] = i + 1;
    }
    if (!o->batch)
        o->batch = 2000;
}

/* ---- Sentinel and liveness ---------------------------------------------------------------- */

static uint64_t *sentinel;
static pith_cap_t liveness_endpoint, liveness_untyped, liveness_slot;
static struct kt_thread liveness_server;

static uint64_t sentinel_word(uint64_t seed, uint64_t i)
{
    struct rng r = { seed ^ (i * 0x9e3779b97f4a7c15ull) };
    return rng_next(&r);
}

static void sentinel_fill(uint64_t seed)
{
    for (uint64_t i = 0; i < SENTINEL_PAGES * 512; i++)
        sentinel[i] = sentinel_word(seed, i);
}

static bool sentinel_check(uint64_t seed, char *why, size_t size)
{
    for (uint64_t i = 0; i < SENTINEL_PAGES * 512; i++) {
        if (sentinel[i] != sentinel_word(seed, i)) {
            pith_snprintf(why, size, "sentinel word %lu at %p changed: %lx, expected %lx", i,
                          (void *)&sentinel[i], sentinel[i], sentinel_word(seed, i));
            return false;
        }
    }
    return true;
}

/* The liveness server answers every Call with MR0 + 1. */
static void liveness_serve(uint64_t arg)
{
    (void)arg;
    struct pith_msg msg;
    pith_recv(liveness_endpoint, &msg);
    for (;;) {
        msg.info = pith_msginfo(0, 1, 0);
        msg.mr[0] += 1;
        pith_reply_recv(liveness_endpoint, &msg);
    }
}

static bool kernel_answers(uint64_t probe, char *why, size_t size)
{
    struct pith_msg msg = { .info = pith_msginfo(0, 1, 0), .mr = { probe } };
    enum pith_error err = pith_call(liveness_endpoint, &msg);
    if (err != PITH_OK || msg.mr[0] != probe + 1) {
        pith_snprintf(why, size, "liveness Call: %s, MR0 %lx (expected %lx)", pith_error_name(err),
                      msg.mr[0], probe + 1);
        return false;
    }
    err = pith_untyped_retype(liveness_untyped, PITH_OBJ_ENDPOINT, 0, KT_CNODE, liveness_slot, 1);
    if (err == PITH_OK)
        err = pith_cnode_delete(KT_CNODE, liveness_slot);
    if (err != PITH_OK) {
        pith_snprintf(why, size, "liveness retype and delete: %s", pith_error_name(err));
        return false;
    }
    return true;
}

static bool setup(void)
{
    struct pith_test_ctx ctx = { .name = "setup" };
    enum pith_error err = kt_setup(SUPERVISOR_PRIORITY);
    if (err == PITH_OK)
        err = pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &fuzz_tick);
    if (err == PITH_OK)
        err = pith_thread_bind_notification(KT_SELF, fuzz_tick);
    if (err == PITH_OK)
        err = pith_alloc_object(PITH_OBJ_ENDPOINT, 0, &liveness_endpoint);
    if (err == PITH_OK)
        err = pith_alloc_object(PITH_OBJ_UNTYPED, 16, &liveness_untyped);
    if (err != PITH_OK) {
        pith_printf("fuzz: setup failed: %s\n", pith_error_name(err));
        return false;
    }
    liveness_slot = kt_slot();
    sentinel = pith_alloc_pages(SENTINEL_PAGES);
    if (!sentinel || !world_init() ||
        !kt_thread_start(&ctx, &liveness_server, liveness_serve, 0, LIVENESS_PRIORITY, 0)) {
        pith_printf("fuzz: setup failed: %s\n", ctx.failures ? ctx.why : "no memory for the world");
        return false;
    }
    return true;
}

/* ---- One batch ------------------------------------------------------------------------------ */

struct seed_result {
    uint64_t seed, invocations, exits, tsc, kicks;
    bool failed;
    char why[200];
};

static void fail(struct seed_result *res, const char *why)
{
    if (!res->failed)
        pith_strlcpy(res->why, why, sizeof(res->why));
    res->failed = true;
}

/* A fault message from the worker: the fuzzer's own code faulted. */
static void worker_fault(struct seed_result *res, const struct pith_msg *msg)
{
    char why[200];
    pith_snprintf(why, sizeof(why), "the worker faulted: %s vector %lu at rip %lx, address %lx, error %lx",
                  pith_msginfo_label(msg->info) == PITH_FAULT_PAGE ? "page fault" : "exception",
                  msg->mr[3], msg->mr[0], msg->mr[1], msg->mr[2]);
    fail(res, why);
}

/* Let the worker run its batch, kicking it out of calls that block. */
static void supervise(struct seed_result *res)
{
    uint64_t tick = kt_bootinfo->tsc_hz / 4000, last = 0, stuck = 0;
    pith_thread_resume(world_worker);
    while (!stream.done && !stream.failed) {
        pith_notification_set_deadline(fuzz_tick, pith_rdtsc() + tick);
        struct pith_msg msg;
        enum pith_error err = pith_recv(world_fault_endpoint, &msg);
        if (err == PITH_OK && !(msg.info & PITH_MSG_FROM_NOTIFICATION)) {
            worker_fault(res, &msg);
            break;
        }
        if (stream.calls != last) {
            last = stream.calls, stuck = 0;
            continue;
        }
        if (++stuck > STUCK_TICKS_MAX) {
            fail(res, "the worker made no call for 10 s");
            break;
        }
        /* Only a worker waiting in a call is kicked: one that is merely preempted by
         * helpers of its priority would lose its place in the ready queue. */
        if (!stream.in_call || stuck < 2)
            continue;
        pith_thread_suspend(world_worker);
        pith_thread_resume(world_worker);
        res->kicks++;
    }
    pith_thread_suspend(world_worker);
    pith_notification_set_deadline(fuzz_tick, 0);
    uint64_t bits;
    pith_poll(fuzz_tick, &bits);
    if (stream.failed)
        fail(res, stream.why);
}

/* The deep derivation chain costs two calls a level: the first seed of a run makes it. */
static bool first_seed = true;

static void run_batch(struct seed_result *res, uint64_t batch)
{
    struct rng world_rng = { res->seed * 0x100000001b3ull ^ batch * 0x9e3779b97f4a7c15ull };
    char why[200];
    stream.seed = res->seed;
    stream.batch = batch;
    stream.calls = 0;
    stream.done = stream.failed = 0;
    stream.slowest_tsc = 0;
    stream.deep_reached = 0;
    stream.deep = first_seed && batch == fuzz_options.first_batch + 1 && fuzz_options.deep_chain > 0 &&
                  !(fuzz_options.avoid & AVOID_DEPTH);
    stream.calls_wanted = fuzz_options.batch + (stream.deep ? 2 * fuzz_options.deep_chain + 8 : 0);
    stream.rng.state = rng_next(&world_rng) ^ 0x5eed;
    if (!world_build(&world_rng, why, sizeof(why))) {
        fail(res, why);
        return;
    }
    uint64_t t0 = pith_rdtsc();
    supervise(res);
    res->tsc += pith_rdtsc() - t0;
    res->invocations += stream.calls;
    if (!res->failed && !sentinel_check(res->seed, why, sizeof(why)))
        fail(res, why);
    if (!res->failed && !kernel_answers(batch, why, sizeof(why)))
        fail(res, why);
}

static void print_reproducer(const struct seed_result *res)
{
    pith_printf("  reproducer: seed %lu, batch %lu (boot with `seeds=%lu from=%lu batch=%lu`)\n",
                res->seed, stream.batch, res->seed, stream.batch, fuzz_options.batch);
    stream_print_ring();
}

static uint64_t rate(uint64_t count, uint64_t tsc)
{
    return tsc ? count * (kt_bootinfo->tsc_hz / 1000) / (tsc / 1000 + 1) : 0;
}

static bool run_seed(uint64_t seed, bool vcpus, uint64_t *total_invocations, uint64_t *total_tsc)
{
    struct seed_result res = { .seed = seed };
    sentinel_fill(seed);
    for (uint64_t b = fuzz_options.first_batch; res.invocations < fuzz_options.invocations && !res.failed; b++) {
        run_batch(&res, b);
        if (fuzz_options.verbose)
            pith_printf("  seed %lu batch %lu: %lu calls, %lu kicks, %lu ms\n", seed, b, stream.calls,
                        res.kicks, res.tsc / (kt_bootinfo->tsc_hz / 1000));
        if (fuzz_options.verbose && stream.deep)
            pith_printf("  deep derivation chain: %lu levels\n", stream.deep_reached);
        if (fuzz_options.trace) {
            pith_printf("  slowest call: %lu us\n", stream.slowest_tsc / (kt_bootinfo->tsc_hz / 1000000));
            stream_print_record(&stream.slowest);
        }
    }
    bool stream_failed = res.failed;
    if (!res.failed && vcpus && fuzz_options.vm_exits) {
        char why[200];
        uint64_t t0 = pith_rdtsc();
        if (!guest_fuzz(seed, fuzz_options.vm_exits, &res.exits, why, sizeof(why)))
            fail(&res, why);
        if (!res.failed && !sentinel_check(seed, why, sizeof(why)))
            fail(&res, why);
        if (!res.failed && !kernel_answers(seed, why, sizeof(why)))
            fail(&res, why);
        if (fuzz_options.verbose)
            pith_printf("  seed %lu: %lu exits in %lu ms\n", seed, res.exits,
                        (pith_rdtsc() - t0) / (kt_bootinfo->tsc_hz / 1000));
    }
    first_seed = false;
    *total_invocations += res.invocations;
    *total_tsc += res.tsc;
    if (res.failed) {
        pith_printf("FAIL fuzz-seed-%lu: %s\n", seed, res.why);
        if (stream_failed)
            print_reproducer(&res);
        else
            pith_printf("  reproducer: seed %lu, VM side after %lu exits (boot with `seeds=%lu n=0`)\n",
                        seed, res.exits, seed);
        return false;
    }
    pith_printf("PASS fuzz-seed-%lu (%lu invocations, %lu exits, %lu inv/s)\n", seed, res.invocations,
                res.exits, rate(res.invocations, res.tsc));
    return true;
}

int main(void *arg)
{
    kt_bootinfo = arg;
    const char *platform = (kt_bootinfo->cpu_features & PITH_CPU_VMX) ? "fuzz-vmx" : "fuzz-svm";
    parse_options(kt_bootinfo->cmdline);
    if (!setup()) {
        pith_printf("%s: 0 passed, 1 failed\n", platform);
        pith_poweroff(false);
        return 1;
    }
    bool vcpus = guest_available() && guest_init();
    pith_printf("fuzz: %u seeds, %lu invocations and %lu VM exits each, batches of %lu%s\n",
                fuzz_options.seed_count, fuzz_options.invocations, vcpus ? fuzz_options.vm_exits : 0,
                fuzz_options.batch, vcpus ? "" : " (no VCpu backend: no VM side)");
    unsigned passed = 0, failed = 0;
    uint64_t invocations = 0, tsc = 0;
    for (unsigned i = 0; i < fuzz_options.seed_count; i++) {
        if (run_seed(fuzz_options.seeds[i], vcpus, &invocations, &tsc))
            passed++;
        else
            failed++;
    }
    pith_printf("fuzz_invocations_per_s: %lu\n", rate(invocations, tsc));
    pith_printf("%s: %u passed, %u failed\n", platform, passed, failed);
    pith_poweroff(failed == 0);
    return failed != 0;
}
