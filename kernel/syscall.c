/*
 * System-call dispatch.  Every call names a capability in the caller's space;
 * Call and Send on an endpoint are IPC, on any other object they invoke its method.
 * Each path leaves its result in the thread's saved registers and ends by choosing
 * what runs next.
 */
#include "kernel.h"
#include <arch.h>

static void invoke(struct thread *t, struct cap *c)
{
    struct invocation inv = { .caller = t, .cap = c,
                              .label = pith_msginfo_label(arch_msg_info(t)),
                              .length = pith_msginfo_length(arch_msg_info(t)) };
    int err = inv.length > PITH_MSG_MAX ? PITH_E_TRUNCATED : object_invoke(&inv);
    if (err == KERNEL_RESTART) {    /* stopped at a preemption point: SYSCALL again */
        arch_restart_syscall(t);
        return;
    }
    arch_set_result(t, (uint64_t)err);
    arch_set_msg_info(t, pith_msginfo(0, err ? 0 : inv.reply_length, 0));
    /* What the invocation left to destroy is destroyed now, as far as time allows;
     * whatever remains is finished by the next invocation or retype. */
    zombies_reap();
}

static void do_send(struct thread *t, uint64_t call_number)
{
    int err;
    struct cap *c = thread_cspace_lookup(t, arch_cap_arg(t), &err);
    if (!c) {
        thread_set_result(t, (uint64_t)err);
        return;
    }
    bool call = call_number == PITH_SYS_CALL;
    if (c->type == PITH_OBJ_ENDPOINT) {
        if (!(c->rights & PITH_RIGHT_WRITE)) {
            thread_set_result(t, PITH_E_RIGHTS);
            return;
        }
        endpoint_send((struct endpoint *)c->object, t, c->data, c->rights & PITH_RIGHT_GRANT,
                      call, call_number != PITH_SYS_NB_SEND);
        return;
    }
    if (c->type == PITH_OBJ_NOTIFICATION && !call) {
        if (!(c->rights & PITH_RIGHT_WRITE)) {
            thread_set_result(t, PITH_E_RIGHTS);
            return;
        }
        notification_signal((struct notification *)c->object, c->data ? c->data : 1);
        thread_set_result(t, PITH_OK);
        return;
    }
    invoke(t, c);
}

static void do_receive(struct thread *t, bool block)
{
    int err;
    struct cap *c = thread_cspace_lookup(t, arch_cap_arg(t), &err);
    if (!c) {
        thread_set_result(t, (uint64_t)err);
        return;
    }
    if (c->type != PITH_OBJ_ENDPOINT && c->type != PITH_OBJ_NOTIFICATION) {
        thread_set_result(t, PITH_E_INVALID_CAP);
        return;
    }
    if (!(c->rights & PITH_RIGHT_READ)) {
        thread_set_result(t, PITH_E_RIGHTS);
        return;
    }
    if (c->type == PITH_OBJ_ENDPOINT)
        endpoint_receive((struct endpoint *)c->object, t, block);
    else
        notification_wait((struct notification *)c->object, t, block);
}

static void do_signal(struct thread *t)
{
    int err;
    struct cap *c = thread_cspace_lookup(t, arch_cap_arg(t), &err);
    if (c && c->type != PITH_OBJ_NOTIFICATION)
        err = PITH_E_INVALID_CAP;
    else if (c && !(c->rights & PITH_RIGHT_WRITE))
        err = PITH_E_RIGHTS;
    else if (c)
        notification_signal((struct notification *)c->object, c->data ? c->data : 1);
    thread_set_result(t, (uint64_t)err);
}

static void do_wait(struct thread *t, bool block)
{
    int err;
    struct cap *c = thread_cspace_lookup(t, arch_cap_arg(t), &err);
    if (c && c->type != PITH_OBJ_NOTIFICATION)
        err = PITH_E_INVALID_CAP;
    else if (c && !(c->rights & PITH_RIGHT_READ))
        err = PITH_E_RIGHTS;
    if (!c || err) {
        thread_set_result(t, (uint64_t)err);
        return;
    }
    notification_wait((struct notification *)c->object, t, block);
}

/* Destruction left over from earlier invocations is finished before any system call
 * looks up a capability, so no call ever sees an object half destroyed.  The caller
 * may be among what it destroys; then it does not go on. */
static bool finish_destruction(struct thread *t)
{
    if (!zombies_reap()) {
        arch_restart_syscall(t);
        return false;
    }
    return this_cpu()->current == t;
}

/* The kernel console is written only through the debug-console capability, a line
 * at a time: each thread's bytes wait in its TCB until its newline (or until the line
 * is full, or the thread is destroyed), then go out whole, so lines of tasks that are
 * preempted while they print never run into each other. */
void thread_console_flush(struct thread *t)
{
    for (unsigned i = 0; i < t->console_used; i++)
        serial_putc(t->console_line[i]);
    t->console_used = 0;
}

static void debug_console_put(struct thread *t, char c)
{
    t->console_line[t->console_used++] = c;
    if (c == '\n' || t->console_used == THREAD_CONSOLE_LINE)
        thread_console_flush(t);
}

static void do_debug_putc(struct thread *t)
{
    int err;
    struct cap *c = thread_cspace_lookup(t, arch_cap_arg(t), &err);
    if (c && c->type != PITH_CAP_DEBUG_CONSOLE)
        err = PITH_E_INVALID_CAP;
    else if (c && !(c->rights & PITH_RIGHT_WRITE))
        err = PITH_E_RIGHTS;
    else if (c)
        debug_console_put(t, (char)arch_mr_reg(t, 0));
    thread_set_result(t, (uint64_t)err);
}

/* Everything but the fast paths.  The fast paths come here for what they do not take,
 * before changing anything. */
void syscall_slow(struct thread *t)
{
    uint64_t number = arch_syscall_number(t);
    if (zombies_pending() && !finish_destruction(t))
        sched_return_to_user();
    switch (number) {
    case PITH_SYS_CALL:
    case PITH_SYS_SEND:
    case PITH_SYS_NB_SEND:
        do_send(t, number);
        break;
    case PITH_SYS_RECV:
    case PITH_SYS_NB_RECV:
        do_receive(t, number == PITH_SYS_RECV);
        break;
    case PITH_SYS_REPLY:
        thread_set_result(t, (uint64_t)ipc_reply_to_caller(t));
        break;
    case PITH_SYS_REPLY_RECV:
        ipc_reply_to_caller(t);
        do_receive(t, true);
        break;
    case PITH_SYS_SIGNAL:
        do_signal(t);
        break;
    case PITH_SYS_WAIT:
    case PITH_SYS_POLL:
        do_wait(t, number == PITH_SYS_WAIT);
        break;
    case PITH_SYS_YIELD:
        thread_set_result(t, PITH_OK);
        sched_yield();
        break;
    case PITH_SYS_DEBUG_PUTC:
        do_debug_putc(t);
        break;
    default:
        thread_set_result(t, PITH_E_ILLEGAL_OP);
        break;
    }
    sched_return_to_user();
}
