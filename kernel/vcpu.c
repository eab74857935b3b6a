/*
 * Virtual CPUs.  A VCpu is bound to a thread (the vCPU thread); when the scheduler
 * runs that thread it enters the guest instead of user mode.  An exit the kernel does
 * not keep becomes a Call from the vCPU thread to its exit endpoint (the thread's
 * fault endpoint slot) with the message of pith/vm.h; the VMM's reply is written back
 * and the thread is runnable again.  The thread's address-space slot holds the guest
 * space, so revoking the guest space or the endpoint stops the vCPU like any thread.
 * The vendor backends (arch/x86_64/svm, vmx) sit behind the vcpu_arch_* hooks.
 *
 * Nothing a VMM writes reaches the hardware unchecked: a reply with an invalid event
 * is refused whole, and state written since the last entry is checked before the next
 * one (arch/x86_64/guest_state.c); either way the guest does not run and the VMM gets
 * an INVALID_STATE exit with MR0 = 0 and the reason in MR1.
 */
#include "kernel.h"
#include <arch.h>
#include <pith/bulk.h>


static bool vm_available;

static void apply_reply(struct vcpu *v);
static void withhold_event(struct vcpu *v);

void vcpu_init(struct vcpu *v)
{
    vcpu_arch_init(v);
}

void vcpu_destroy(struct vcpu *v)
{
    struct thread *t = v->thread;
    if (t) {
        thread_suspend(t);
        t->vcpu = NULL;
        v->thread = NULL;
    }
    vcpu_arch_destroy(v);
}

void vcpu_unbind_thread(struct thread *t)
{
    t->vcpu->thread = NULL;
    t->vcpu = NULL;
}

/* The groups of `mask`, one after the other, from out[0]; returns the number of words. */
static unsigned put_groups(struct vcpu *v, uint64_t mask, uint64_t *out)
{
    unsigned at = 0;
    for (mask &= PITH_VM_STATE_GROUPS; mask; mask &= mask - 1) {
        unsigned g = (unsigned)__builtin_ctzll(mask);
        vcpu_arch_read_group(v, g, &out[at]);
        at += pith_vm_group_words(g);
    }
    return at;
}

/* The words of a group the state check looks at, kept as the VMM wrote them: the
 * backends narrow some fields, and the check must see what was asked for. */
static void remember_written(struct vcpu *v, unsigned group, const uint64_t *words)
{
    uint64_t *keep;
    switch (BIT(group)) {
    case PITH_VM_GROUP_RIP: keep = v->written.rip; break;
    case PITH_VM_GROUP_CR:  keep = v->written.cr; break;
    case PITH_VM_GROUP_SEG: keep = v->written.seg; break;
    case PITH_VM_GROUP_DTR: keep = v->written.dtr; break;
    case PITH_VM_GROUP_SYS: keep = v->written.sys; break;
    case PITH_VM_GROUP_DR:  keep = v->written.dr; break;
    default: return;
    }
    memcpy(keep, words, pith_vm_group_words(group) * sizeof(uint64_t));
    v->unchecked |= BIT(group);
}


/* The buffered port writes after the groups (at most PITH_VM_PORT_BUFFER_BYTES, so the
 * message stays within PITH_MSG_MAX whatever the transfer mask); they are the VMM's
 * from here on.  Returns the number of words. */
static unsigned put_port_writes(struct vcpu *v, uint64_t *out)
{
    _Static_assert(PITH_VM_EXIT_HEADER + PITH_VM_GROUP_ALL_WORDS + 1 + PITH_VM_PORT_BUFFER_BYTES / 8 <= PITH_MSG_MAX,
                   "the buffered bytes fit behind every group");
    unsigned count = v->buffered_count;
    if (!count)
        return 0;
    out[0] = PITH_VM_PORT_WRITES_WORD(v->buffered_port, count);
    unsigned words = (count + 7) / 8;
    for (unsigned i = 0; i < words; i++) {
        uint64_t word = 0;
        for (unsigned b = 0; b < 8 && 8 * i + b < count; b++)
            word |= (uint64_t)v->buffered[8 * i + b] << (8 * b);
        out[1 + i] = word;
    }
    v->buffered_count = 0;
    return 1 + words;
}

/* The exit written once, straight into a VMM that waits for it: the header into its
 * registers, the groups into its IPC buffer (none without one, as ipc_transfer does),
 * then the direct switch of the IPC fast path. */
static NORETURN void deliver_exit_fast(struct vcpu *v, const struct vcpu_exit *e, struct thread *vmm,
                                       const struct cap *ep)
{
    struct thread *t = v->thread;
    _Static_assert(PITH_VM_EXIT_HEADER == PITH_MSG_REGS_IN_CPU, "the header is the registers");
    arch_set_mr_reg(vmm, 0, e->raw);
    arch_set_mr_reg(vmm, 1, e->qualification);
    arch_set_mr_reg(vmm, 2, e->qualification2);
    arch_set_mr_reg(vmm, 3, e->length);
    unsigned length = PITH_VM_EXIT_HEADER;
    if (vmm->ipc_buffer) {
        uint64_t *mr = (uint64_t *)vmm->ipc_buffer->mr;
        length += put_groups(v, v->transfer_mask, &mr[PITH_VM_EXIT_HEADER]);
        length += put_port_writes(v, &mr[length]);
    }
    t->fault_label = (uint8_t)e->reason;
    arch_set_result(vmm, PITH_OK);
    arch_set_badge(vmm, ep->data);
    arch_set_msg_info(vmm, pith_msginfo(t->fault_label, length, 0));
    fastpath_exit_switch(t, (struct endpoint *)ep->object);
}

/* Send the exit to the VMM: a Call from the vCPU thread on its exit endpoint.  Returns
 * only when the exit took the slow way (queued, or the VMM woken through the
 * scheduler); the caller then leaves through sched_return_to_user. */
static void deliver_exit(struct vcpu *v, const struct vcpu_exit *e)
{
    struct thread *t = v->thread;
    struct cap *ep = &t->slots[TSLOT_FAULT];
    if (ep->type == PITH_OBJ_ENDPOINT && this_cpu()->current == t) {
        struct thread *vmm = fastpath_exit_partner((const struct endpoint *)ep->object);
        if (vmm)
            deliver_exit_fast(v, e, vmm, ep);
    }
    v->msg[0] = e->raw;
    v->msg[1] = e->qualification;
    v->msg[2] = e->qualification2;
    v->msg[3] = e->length;
    v->msg_length = PITH_VM_EXIT_HEADER + put_groups(v, v->transfer_mask, &v->msg[PITH_VM_EXIT_HEADER]);
    v->msg_length += put_port_writes(v, &v->msg[v->msg_length]);
    if (ep->type != PITH_OBJ_ENDPOINT) {
        kwarn("pith: vCPU %p: exit %lu with no exit endpoint; stopped\n", (void *)v, e->reason);
        thread_suspend(t);
        return;
    }
    t->fault_label = (uint8_t)e->reason;
    endpoint_send((struct endpoint *)ep->object, t, ep->data, false, true, true);
}

#define GUEST_RFLAGS_TF (1ull << 8)     /* the RIP group's RFLAGS: single-step */

/* Writes the RIP group, `now` being what the vCPU holds.  With nothing unchecked the
 * state is one the entry accepted or the CPU left, so `now` is a valid RIP for the
 * guest's mode; a RIP in the same 64 KiB block with the same RFLAGS is then valid too
 * (a canonical or 32-bit boundary lies on a block's edge) and needs no check at the
 * entry.  Any other is checked with the whole state, like every write of a VMM's that
 * is not of this kind: stepping over an instruction, the commonest reply, is. */
static void write_rip(struct vcpu *v, const uint64_t now[2], const uint64_t next[2])
{
    vcpu_arch_write_group(v, pith_vm_group_index(PITH_VM_GROUP_RIP), next);
    if (v->unchecked || next[1] != now[1] || ((next[0] ^ now[0]) >> 16) != 0)
        remember_written(v, pith_vm_group_index(PITH_VM_GROUP_RIP), next);
}

/* Whether the kernel may complete the exit's instruction itself, and then the RIP
 * group: not when its length is unknown, nor for a single-stepped guest (RFLAGS.TF
 * wants a #DB after the instruction). */
static bool completable(struct vcpu *v, const struct vcpu_exit *e, uint64_t rip[2])
{
    if (!e->length || e->length > 15)
        return false;
    vcpu_arch_read_group(v, pith_vm_group_index(PITH_VM_GROUP_RIP), rip);
    return !(rip[1] & GUEST_RFLAGS_TF);
}

/* RIP past an instruction the kernel answered. */
static inline __attribute__((always_inline)) void advance_rip(struct vcpu *v, const uint64_t rip[2], uint64_t length)
{
    uint64_t next[2] = { rip[0] + length, rip[1] };
    write_rip(v, rip, next);
}

/* A byte IN or OUT on a port with a shortcut, answered here: the IN's AL or the OUT's
 * byte kept, RIP past the instruction (advance_rip).  Anything
 * else exits: a string or wider access, an instruction the kernel may not complete
 * (completable), a full buffer. */
static bool port_shortcut(struct vcpu *v, const struct vcpu_exit *e)
{
    uint64_t q = e->qualification;
    if (!v->ports_used || ((q >> 16) & 0xff) != 1 || (q & (PITH_VM_IO_STRING | PITH_VM_IO_REP)))
        return false;
    const struct vcpu_port *p = NULL;
    for (unsigned i = 0; i < PITH_VM_PORT_SHORTCUTS && !p; i++)
        if (v->ports[i].kind != PITH_VM_PORT_EXIT && v->ports[i].port == (q & 0xffff))
            p = &v->ports[i];
    uint64_t rip[2];
    if (!p || (q & PITH_VM_IO_IN ? p->kind != PITH_VM_PORT_READ : p->kind != PITH_VM_PORT_BUFFER) ||
        !completable(v, e, rip))
        return false;
    if (q & PITH_VM_IO_IN) {
        uint64_t gpr[16];
        vcpu_arch_read_group(v, pith_vm_group_index(PITH_VM_GROUP_GPR), gpr);
        gpr[0] = (gpr[0] & ~0xffull) | p->value;
        vcpu_arch_write_group(v, pith_vm_group_index(PITH_VM_GROUP_GPR), gpr);
    } else {
        if (v->buffered_count == PITH_VM_PORT_BUFFER_BYTES)
            return false;
        if (!v->buffered_count)
            v->buffered_since = arch_timestamp();
        v->buffered_port = p->port;
        v->buffered[v->buffered_count++] = (uint8_t)e->qualification2;
    }
    advance_rip(v, rip, e->length);
    return true;
}

/* A CPUID whose leaf has a shortcut, answered here: RAX..RDX (CPUID clears their
 * upper halves), RIP past the instruction (advance_rip), when it is completable. */
static bool cpuid_shortcut(struct vcpu *v, const struct vcpu_exit *e)
{
    uint32_t leaf = (uint32_t)e->qualification;
    const struct vcpu_cpuid *s = NULL;
    for (unsigned i = 0; i < v->cpuid_count && !s; i++)
        if (leaf >= v->cpuid[i].first && leaf <= v->cpuid[i].last)
            s = &v->cpuid[i];
    uint64_t rip[2];
    if (!s || !completable(v, e, rip))
        return false;
    uint64_t gpr[16];
    vcpu_arch_read_group(v, pith_vm_group_index(PITH_VM_GROUP_GPR), gpr);
    gpr[0] = s->answer[0];                  /* the group's order: RAX, RCX, RDX, RBX */
    gpr[1] = s->answer[2];
    gpr[2] = s->answer[3];
    gpr[3] = s->answer[1];
    vcpu_arch_write_group(v, pith_vm_group_index(PITH_VM_GROUP_GPR), gpr);
    advance_rip(v, rip, e->length);
    return true;
}

/* An RDMSR of an MSR with a shortcut, answered here: EDX:EAX (RDMSR clears the upper
 * halves of RAX and RDX), RIP past the instruction (advance_rip), when it is
 * completable.  A WRMSR always exits. */
static bool msr_shortcut(struct vcpu *v, const struct vcpu_exit *e)
{
    if (!v->msrs_used)
        return false;
    const struct vcpu_msr *m = NULL;
    for (unsigned i = 0; i < PITH_VM_MSR_SHORTCUTS && !m; i++)
        if (v->msrs[i].kind == PITH_VM_MSR_READ && v->msrs[i].index == (uint32_t)e->qualification)
            m = &v->msrs[i];
    uint64_t rip[2];
    if (!m || !completable(v, e, rip))
        return false;
    uint64_t gpr[16];
    vcpu_arch_read_group(v, pith_vm_group_index(PITH_VM_GROUP_GPR), gpr);
    gpr[0] = (uint32_t)m->value;            /* the group's order: RAX, RCX, RDX */
    gpr[2] = m->value >> 32;
    vcpu_arch_write_group(v, pith_vm_group_index(PITH_VM_GROUP_GPR), gpr);
    advance_rip(v, rip, e->length);
    return true;
}

/* A guarded #DB or #AC the VMM did not ask for (arch.h): the guest's own, again; #AC's
 * error code is always 0, #DB has none.  An instruction's own #DB (ICEBP, on VMX: the
 * exit has its length) is a trap: the guest goes on past it.  Out of line: the common
 * exits' path stays as short as it was. */
static __attribute__((noinline)) void give_back_exception(struct vcpu *v, const struct vcpu_exit *e)
{
    if (e->length) {
        uint64_t rip[2];
        vcpu_arch_read_group(v, pith_vm_group_index(PITH_VM_GROUP_RIP), rip);
        advance_rip(v, rip, e->length);
    }
    if (e->qualification == 1)
        vcpu_arch_debug_given_back(v);
    vcpu_arch_inject(v, PITH_VM_EVENT_VALID | PITH_VM_EVENT_EXCEPTION | e->qualification |
                            (e->qualification == 17 ? PITH_VM_EVENT_ERROR_CODE : 0), 0);
}

/* Back from the guest with the lock (vcpu_arch_after_exit took the exit out of the
 * CPU).  While this CPU waited for the lock, another may have taken the thread away
 * (sched_recall: to suspend, move or destroy it) and even freed v: then nothing of v
 * is touched here, and only the host's interrupts are let in. */
void vcpu_exited(struct vcpu *v)
{
    const struct vcpu_exit *e = this_cpu()->current ? vcpu_arch_exit_info(v) : NULL;
    if (!e || e->reason == VCPU_EXIT_KEEP_INTERRUPT) {
        arch_take_interrupts();
        if (e && v->buffered_count &&           /* the bytes wait a millisecond at most */
            arch_timestamp() - v->buffered_since >= timer_tsc_hz() / 1000) {
            struct vcpu_exit flush = { .reason = PITH_EXIT_PORT_WRITES };
            withhold_event(v);              /* the kept exit's event, put back for the entry */
            deliver_exit(v, &flush);
        }
    } else if ((e->reason == PITH_EXIT_IO && port_shortcut(v, e)) ||
               (e->reason == PITH_EXIT_CPUID && cpuid_shortcut(v, e)) ||
               (e->reason == PITH_EXIT_MSR_READ && msr_shortcut(v, e))) {
        /* answered: the guest goes on */
    } else if (e->reason < VCPU_EXIT_KEEP_INTERRUPT) {      /* the VMM's: not one kept */
        vcpu_arch_exit_delivered(v, e);
        deliver_exit(v, e);
    } else if (e->reason == VCPU_EXIT_KEEP_EXCEPTION) {
        give_back_exception(v, e);
    }
    sched_return_to_user();
}

/* An exit before the guest runs again (a RECALL, an entry the kernel or the CPU
 * refuses, a flush of buffered port writes) leaves no event waiting in the VMCS or
 * VMCB: the one the last reply injected comes back as the exit's event being
 * delivered (the INTR group), as a hardware exit reports an event it cut short, and
 * the VMM's reply injects it again or not.  Every such exit reports it until a reply,
 * a WRITE_STATE of the INTR group or an entry: a thread suspended and resumed in
 * between (docs/vm.md) does not lose it to a second RECALL.  `withheld` is
 * WITHHELD_HARDWARE from an entry until a reply: then the event the last hardware exit
 * cut short, which nobody has answered yet, is the one the guest would lose. */
#define WITHHELD_HARDWARE 1ull      /* never an event word: those have bit 31 set */

/* The injection out of the VMCS or VMCB.  A software event's RIP may have moved back
 * (vmx_withdraw_event puts it forward again): the entry checks it again, whatever the
 * VMM wrote since the injection. */
static uint64_t take_back_injection(struct vcpu *v)
{
    uint64_t event = vcpu_arch_withdraw_event(v);
    if ((event & PITH_VM_EVENT_VALID) && ((event >> 8) & 7) >= 4) {
        uint64_t rip[2];
        vcpu_arch_read_group(v, pith_vm_group_index(PITH_VM_GROUP_RIP), rip);
        remember_written(v, pith_vm_group_index(PITH_VM_GROUP_RIP), rip);
    }
    return event;
}

static void withhold_event(struct vcpu *v)
{
    uint64_t event = take_back_injection(v);
    if (event) {
        v->withheld = event;
    } else if (!v->before_entry && v->withheld == WITHHELD_HARDWARE) {
        uint64_t intr[2];           /* read while before_entry is false: the hardware's */
        vcpu_arch_read_group(v, pith_vm_group_index(PITH_VM_GROUP_INTR), intr);
        v->withheld = intr[1];
    }
    v->before_entry = true;
}

void vcpu_entry_refused(struct vcpu *v)
{
    v->withheld = take_back_injection(v);
    v->before_entry = true;
}

/* The kernel refuses to enter: the VMM hears why, as an INVALID_STATE exit. */
static NORETURN void refuse_entry(struct vcpu *v, uint64_t why)
{
    struct vcpu_exit e = { .reason = PITH_EXIT_INVALID_STATE, .raw = 0, .qualification = why };
    withhold_event(v);
    deliver_exit(v, &e);
    sched_return_to_user();
}

void vcpu_enter(struct vcpu *v)
{
    struct cpu *c = this_cpu();
    struct thread *t = v->thread;
    c->current = t;
    /* The guest space is the one in the thread's slot now, never one remembered from
     * VCpu.CONFIGURE: that one may be gone and its memory something else. */
    struct cap *space = &t->slots[TSLOT_VSPACE];
    if (space->type != PITH_OBJ_GUEST_SPACE) {
        kwarn("pith: vCPU %p: its thread has no guest space; stopped\n", (void *)v);
        thread_suspend(t);
        sched_return_to_user();
    }
    arch_fpu_switch(c, t);
    apply_reply(v);
    if (v->recall_pending) {
        v->recall_pending = false;
        withhold_event(v);
        struct vcpu_exit e = { .reason = PITH_EXIT_RECALL };
        deliver_exit(v, &e);
        sched_return_to_user();
    }
    if (v->refused) {
        uint64_t why = v->refused;
        v->refused = 0;
        refuse_entry(v, why);
    }
    if (v->unchecked) {
        unsigned why = vcpu_arch_check_state(v, v->unchecked);
        if (why)
            refuse_entry(v, why);
        v->unchecked = 0;
    }
    v->before_entry = false;
    v->withheld = WITHHELD_HARDWARE;
    vcpu_arch_load_space(v, (struct guest_space *)space->object);
    vcpu_arch_run(v);
}

/* Word i of a reply: the replier's message register, or the copy kept in v.  Both
 * are inlined, so each caller of write_back gets its own copy without the test. */
static inline __attribute__((always_inline)) uint64_t reply_word(const struct vcpu *v, const struct thread *replier, unsigned i)
{
    return replier ? arch_mr_reg(replier, i) : v->reply[i];    /* i < PITH_MSG_REGS_IN_CPU */
}

/* Words at..at+n-1 of a reply (all beyond the registers: at >= PITH_VM_EXIT_HEADER, and
 * at + n <= PITH_VM_EXIT_HEADER + the length of every group < PITH_MSG_MAX). */
static inline __attribute__((always_inline)) void reply_words(const struct vcpu *v, const struct thread *replier,
                                                              unsigned at, unsigned n, uint64_t *to)
{
    _Static_assert(PITH_VM_EXIT_HEADER >= PITH_MSG_REGS_IN_CPU, "groups start in the IPC buffer");
    _Static_assert(PITH_VM_EXIT_HEADER + PITH_VM_GROUP_ALL_WORDS <= PITH_MSG_MAX,
                   "a reply's groups fit in the IPC buffer");
    if (!replier)
        pith_copy_words(to, &v->reply[at], n);
    else if (replier->ipc_buffer)
        pith_copy_words(to, (const uint64_t *)&replier->ipc_buffer->mr[at], n);
    else
        memset(to, 0, n * sizeof(uint64_t));
}

/* Write back the groups a reply changed, inject, open windows. */
static inline __attribute__((always_inline)) void write_back(struct vcpu *v, uint64_t info, const struct thread *replier)
{
    uint64_t mask = pith_msginfo_label(info) & PITH_VM_GROUP_ALL;
    unsigned length = (unsigned)pith_msginfo_length(info);
    uint64_t event = length > 0 ? reply_word(v, replier, 0) : 0;
    if (mask == PITH_VM_GROUP_RIP) {    /* the commonest reply: past the instruction */
        if (length >= PITH_VM_EXIT_HEADER + 2) {
            uint64_t now[2], next[2];
            reply_words(v, replier, PITH_VM_EXIT_HEADER, 2, next);
            vcpu_arch_read_group(v, pith_vm_group_index(PITH_VM_GROUP_RIP), now);
            write_rip(v, now, next);
        }
        mask = 0;
    } else if (length < PITH_VM_EXIT_HEADER + pith_vm_groups_length(mask)) {
        mask = 0;           /* a short reply changes no state */
    }
    unsigned at = PITH_VM_EXIT_HEADER;
    for (; mask; mask &= mask - 1) {
        unsigned g = (unsigned)__builtin_ctzll(mask);
        uint64_t words[16];
        reply_words(v, replier, at, pith_vm_group_words(g), words);
        if (BIT(g) == PITH_VM_GROUP_RIP) {
            uint64_t now[2];
            vcpu_arch_read_group(v, g, now);
            write_rip(v, now, words);
        } else {
            vcpu_arch_write_group(v, g, words);
            remember_written(v, g, words);
        }
        at += pith_vm_group_words(g);
    }
    v->withheld = 0;                    /* the reply says what the guest gets */
    if (event & PITH_VM_EVENT_VALID)
        vcpu_arch_inject(v, event, reply_word(v, replier, 1) & 0xffffffffull);
    if (length > 2)
        vcpu_arch_request_windows(v, reply_word(v, replier, 2));
}

/* The VMM answered an exit.  A reply with an invalid event changes nothing, and the
 * next entry reports it.  A reply from the vCPU's own CPU is written back at once;
 * one from another CPU is kept and written back by the vCPU's CPU at its next entry
 * (or before anyone reads or writes the state): on VMX, writing from the VMM's CPU
 * would take the VMCS over from the vCPU's CPU at every exit (vcpu_arch_*). */
void vcpu_take_reply(struct vcpu *v, struct thread *replier)
{
    uint64_t info = arch_msg_info(replier);
    unsigned length = (unsigned)pith_msginfo_length(info);
    uint64_t event = length > 0 ? arch_mr_reg(replier, 0) : 0;
    if ((event & PITH_VM_EVENT_VALID) && !guest_event_valid(event)) {
        v->refused = PITH_VM_REFUSED_EVENT;
        return;
    }
    if (v->thread && v->thread->cpu == this_cpu()->id) {
        write_back(v, info, replier);
        return;
    }
    /* Every word write_back may read: the header and groups (at most PITH_MSG_MAX),
     * MR1 and MR2 even when not sent. */
    for (unsigned i = 0; i < PITH_MSG_MAX && (i < length || i < PITH_MSG_REGS_IN_CPU); i++)
        v->reply[i] = thread_mr(replier, i);
    v->reply_info = info;
    v->reply_pending = true;
}

static void apply_reply(struct vcpu *v)
{
    if (!v->reply_pending)
        return;
    v->reply_pending = false;
    write_back(v, v->reply_info, NULL);
}

/* ---- Invocations ------------------------------------------------------------------- */

static int vcpu_configure(struct invocation *inv, struct vcpu *v)
{
    int err;
    struct cap *tc = inv_cap_arg(inv, 0, PITH_OBJ_THREAD, PITH_RIGHT_WRITE, &err);
    if (!tc)
        return err;
    struct cap *gc = inv_cap_arg(inv, 1, PITH_OBJ_GUEST_SPACE, PITH_RIGHT_WRITE, &err);
    if (!gc)
        return err;
    struct cap *ec = inv_cap_arg(inv, 2, PITH_OBJ_ENDPOINT, PITH_RIGHT_WRITE, &err);
    if (!ec)
        return err;
    struct thread *t = (struct thread *)tc->object;
    if (t->state != THREAD_INACTIVE || (t->vcpu && t->vcpu != v) || (v->thread && v->thread != t))
        return PITH_E_BUSY;
    if (!cap_can_derive_from(gc) || !cap_can_derive_from(ec))
        return PITH_E_RANGE;
    uint64_t exception_bitmap = inv_arg(inv, 4);
    if (exception_bitmap >> 32 || (exception_bitmap & PITH_VM_HOST_EXCEPTIONS))
        return PITH_E_INVALID_ARG;
    uint64_t options = inv_arg(inv, 3) & ~0xffffffffull;
    if (options & ~vcpu_arch_options())
        return PITH_E_INVALID_ARG;      /* unknown, or not on this CPU */
    if (!vcpu_may_run_on(t->cpu))
        return PITH_E_INVALID_ARG;
    /* point of no return */
    struct cap value;
    cap_delete(&t->slots[TSLOT_VSPACE]);
    value = *gc;
    cap_insert_child(gc, &t->slots[TSLOT_VSPACE], &value);
    cap_delete(&t->slots[TSLOT_FAULT]);
    value = *ec;
    cap_insert_child(ec, &t->slots[TSLOT_FAULT], &value);
    t->vcpu = v;
    v->thread = t;
    v->transfer_mask = inv_arg(inv, 3) & PITH_VM_GROUP_ALL;
    v->options = options;
    v->exception_bitmap = exception_bitmap;
    vcpu_arch_configure(v, (struct guest_space *)gc->object, v->exception_bitmap);
    return PITH_OK;
}

/* The vCPU's state may be read and written while its thread is not in the guest, on
 * any CPU (nor on its way in or out: its CPU's current thread until it has the lock). */
static bool state_accessible(const struct vcpu *v)
{
    return !v->thread || cpus[v->thread->cpu].current != v->thread;
}

/* Recall: the vCPU's next entry becomes a RECALL exit.  A guest running on another
 * CPU is made to leave by an IPI: it comes back through the kernel, which finds the
 * recall before it enters again (whatever CPU the thread is on by then). */
static int vcpu_recall(struct vcpu *v)
{
    v->recall_pending = true;
    struct thread *t = v->thread;
    if (t && cpus[t->cpu].current == t && &cpus[t->cpu] != this_cpu())
        smp_reschedule(&cpus[t->cpu]);
    return PITH_OK;
}

static int vcpu_read_state(struct invocation *inv, struct vcpu *v)
{
    uint64_t mask = inv_arg(inv, 0);
    if (mask & ~(uint64_t)PITH_VM_STATE_GROUPS)
        return PITH_E_INVALID_ARG;
    unsigned length = pith_vm_groups_length(mask);
    if (length > PITH_MSG_REGS_IN_CPU && !inv->caller->ipc_buffer)
        return PITH_E_TRUNCATED;
    if (!state_accessible(v))
        return PITH_E_BUSY;
    apply_reply(v);
    uint64_t words[PITH_MSG_MAX];   /* not v->msg: it may hold an exit not yet received */
    put_groups(v, mask, words);
    for (unsigned i = 0; i < length; i++)
        thread_set_mr(inv->caller, i, words[i]);
    inv_reply(inv, length);
    return PITH_OK;
}

static int vcpu_write_state(struct invocation *inv, struct vcpu *v)
{
    uint64_t mask = inv_arg(inv, 0);
    if (mask & ~(uint64_t)PITH_VM_STATE_GROUPS)
        return PITH_E_INVALID_ARG;
    if (inv->length < 1 + pith_vm_groups_length(mask))
        return PITH_E_TRUNCATED;
    if (!state_accessible(v))
        return PITH_E_BUSY;
    apply_reply(v);
    unsigned at = 1;
    for (unsigned g = 0; g < PITH_VM_GROUP_COUNT; g++) {
        if (!(mask & BIT(g)))
            continue;
        uint64_t words[16];
        for (unsigned i = 0; i < pith_vm_group_words(g); i++)
            words[i] = inv_arg(inv, at + i);
        vcpu_arch_write_group(v, g, words);
        remember_written(v, g, words);
        at += pith_vm_group_words(g);
    }
    if (mask & PITH_VM_GROUP_INTR)
        v->withheld = 0;            /* the VMM says what the interrupt state is */
    return PITH_OK;
}

static int vcpu_set_io(struct invocation *inv, struct vcpu *v)
{
    int err;
    struct cap *io = inv_cap_arg(inv, 0, PITH_CAP_IOPORT, 0, &err);
    if (!io)
        return err;
    uint64_t direct = inv_arg(inv, 1);
    if (direct > 1)
        return PITH_E_INVALID_ARG;
    vcpu_arch_set_io(v, io->data & 0xffff, (io->data >> 16) & 0xffff, direct);
    return PITH_OK;
}

/* A port's shortcut: set, changed or taken away.  Bytes already kept stay kept (they
 * come with the next exit); the buffered port changes only while none are. */
static int vcpu_set_port(struct invocation *inv, struct vcpu *v)
{
    uint64_t port = inv_arg(inv, 0), kind = inv_arg(inv, 1), value = inv_arg(inv, 2);
    if (port > 0xffff || kind > PITH_VM_PORT_BUFFER || value > 0xff ||
        (kind != PITH_VM_PORT_READ && value != 0))
        return PITH_E_INVALID_ARG;
    struct vcpu_port *slot = NULL, *free = NULL;
    for (unsigned i = 0; i < PITH_VM_PORT_SHORTCUTS; i++) {
        struct vcpu_port *p = &v->ports[i];
        if (p->kind == PITH_VM_PORT_EXIT)
            free = free ? free : p;
        else if (p->port == port)
            slot = p;
        else if (kind == PITH_VM_PORT_BUFFER && p->kind == PITH_VM_PORT_BUFFER)
            return PITH_E_BUSY;                 /* one buffered port */
    }
    if (kind == PITH_VM_PORT_BUFFER && v->buffered_count && v->buffered_port != port)
        return PITH_E_BUSY;                     /* another port's bytes wait */
    if (!slot) {
        if (kind == PITH_VM_PORT_EXIT)
            return PITH_OK;
        if (!free)
            return PITH_E_NO_MEMORY;
        slot = free;
    }
    if (slot->kind == PITH_VM_PORT_EXIT)
        v->ports_used++;                        /* a free slot taken */
    else if (kind == PITH_VM_PORT_EXIT)
        v->ports_used--;                        /* a shortcut taken away */
    *slot = (struct vcpu_port){ .port = (uint16_t)port, .kind = (uint8_t)kind, .value = (uint8_t)value };
    return PITH_OK;
}

/* A range of leaves answered without an exit, or (first > last, nothing else) none. */
static int vcpu_set_cpuid(struct invocation *inv, struct vcpu *v)
{
    uint64_t first = inv_arg(inv, 0), last = inv_arg(inv, 1), low = inv_arg(inv, 2), high = inv_arg(inv, 3);
    if (first > last) {
        if (last != 0 || low != 0 || high != 0 || first != 1)
            return PITH_E_INVALID_ARG;
        v->cpuid_count = 0;
        return PITH_OK;
    }
    if (last > 0xffffffffull)
        return PITH_E_INVALID_ARG;
    for (unsigned i = 0; i < v->cpuid_count; i++)
        if (first <= v->cpuid[i].last && last >= v->cpuid[i].first)
            return PITH_E_BUSY;
    if (v->cpuid_count == PITH_VM_CPUID_SHORTCUTS)
        return PITH_E_NO_MEMORY;
    v->cpuid[v->cpuid_count++] = (struct vcpu_cpuid){
        (uint32_t)first, (uint32_t)last, { (uint32_t)low, (uint32_t)(low >> 32), (uint32_t)high, (uint32_t)(high >> 32) } };
    return PITH_OK;
}

/* An MSR's shortcut: set, changed or taken away. */
static int vcpu_set_msr(struct invocation *inv, struct vcpu *v)
{
    uint64_t index = inv_arg(inv, 0), kind = inv_arg(inv, 1), value = inv_arg(inv, 2);
    if (index > 0xffffffffull || kind > PITH_VM_MSR_READ || (kind == PITH_VM_MSR_EXIT && value != 0))
        return PITH_E_INVALID_ARG;
    struct vcpu_msr *slot = NULL, *free = NULL;
    for (unsigned i = 0; i < PITH_VM_MSR_SHORTCUTS; i++) {
        struct vcpu_msr *m = &v->msrs[i];
        if (m->kind == PITH_VM_MSR_EXIT)
            free = free ? free : m;
        else if (m->index == index)
            slot = m;
    }
    if (kind == PITH_VM_MSR_EXIT) {
        if (slot) {
            *slot = (struct vcpu_msr){ 0 };
            v->msrs_used--;
        }
        return PITH_OK;
    }
    if (!slot) {
        if (!free)
            return PITH_E_NO_MEMORY;
        slot = free;
        v->msrs_used++;
    }
    *slot = (struct vcpu_msr){ .index = (uint32_t)index, .kind = PITH_VM_MSR_READ, .value = value };
    return PITH_OK;
}

int vcpu_invoke(struct invocation *inv)
{
    struct vcpu *v = vcpu_of_object(inv->cap->object);
    if (!(inv->cap->rights & PITH_RIGHT_WRITE))
        return PITH_E_RIGHTS;
    switch (inv->label) {
    case PITH_VCPU_CONFIGURE:
        return vcpu_configure(inv, v);
    case PITH_VCPU_READ_STATE:
        return vcpu_read_state(inv, v);
    case PITH_VCPU_WRITE_STATE:
        return vcpu_write_state(inv, v);
    case PITH_VCPU_RECALL:
        return vcpu_recall(v);
    case PITH_VCPU_SET_IO:
        return vcpu_set_io(inv, v);
    case PITH_VCPU_SET_PORT:
        return vcpu_set_port(inv, v);
    case PITH_VCPU_SET_CPUID:
        return vcpu_set_cpuid(inv, v);
    case PITH_VCPU_SET_MSR:
        return vcpu_set_msr(inv, v);
    default:
        return PITH_E_ILLEGAL_OP;
    }
}

/* At boot: is there a backend?  Retype of VCpu objects fails without one. */
void vcpu_boot(void)
{
    vm_available = vcpu_arch_init_cpu();
    kprintf("virtualization: %s\n", vm_available ? vcpu_arch_name() : "none (no VMX or SVM)");
}

/* On each application processor as it starts: the same backend there. */
void vcpu_boot_ap(void)
{
    if (vm_available && !vcpu_arch_init_ap())
        kprintf("virtualization: %s refused on CPU %u: no vCPU runs there\n", vcpu_arch_name(),
                this_cpu()->id);
}

bool vcpu_available(void) { return vm_available; }

/* Whether a vCPU thread may have this CPU as its affinity. */
bool vcpu_may_run_on(unsigned cpu)
{
    return cpu < cpus_online && cpus[cpu].vm_ready;
}
