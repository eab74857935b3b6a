/*
 * System-call wrappers: one SYSCALL instruction each, following the register
 * convention of pith/abi.h. Message registers 0..3 travel in CPU registers (struct
 * pith_msg); 4..63 live in the calling thread's IPC buffer, which the runtime finds
 * through pith_ipc_buffer().
 */
#ifndef PITH_SYSCALL_H
#define PITH_SYSCALL_H

#include <stddef.h>
#include <stdint.h>

#include "pith/abi.h"

/* A capability address: a slot index in the calling thread's own CNode. */
typedef uint64_t pith_cap_t;

/* The part of a message that travels in CPU registers. */
struct pith_msg {
    uint64_t info;                      /* message-info word (pith_msginfo) */
    uint64_t badge;                     /* received: sender's badge or notification bits */
    uint64_t mr[PITH_MSG_REGS_IN_CPU];  /* message registers 0..3 */
};

/*
 * The IPC buffer of the running thread, found without thread-local storage: the
 * kernel points each thread's FS base at its IPC buffer (Thread.CONFIGURE; the root
 * task's at boot), and by the runtime's convention user[PITH_IPC_USER_SELF] of every
 * IPC buffer holds the buffer's own address, so one %fs-relative load yields it.
 * Only call it in a thread that has an IPC buffer: without one FS base is 0 and the
 * load faults.
 */
#define PITH_IPC_USER_SELF 0

static inline struct pith_ipc_buffer *pith_ipc_buffer(void)
{
    struct pith_ipc_buffer *self;
    __asm__ volatile("movq %%fs:%c1, %0"
                     : "=r"(self)
                     : "i"(offsetof(struct pith_ipc_buffer, user[PITH_IPC_USER_SELF])));
    return self;
}

/* Writes the self pointer into an IPC buffer: once for the running thread's own buffer
 * (the root task: PITH_ROOT_IPC_BUFFER), and for a new thread's before it starts. */
void pith_set_ipc_buffer(struct pith_ipc_buffer *buffer);

/*
 * The one system-call primitive: every input register comes from *msg, every output
 * register goes back into it. rcx and r11 are destroyed by SYSCALL/SYSRET; the
 * "memory" clobber covers the IPC buffer, which the kernel reads and writes.
 */
static inline enum pith_error pith_syscall(enum pith_syscall number, uint64_t cap,
                                           struct pith_msg *msg)
{
    register uint64_t rax __asm__("rax") = (uint64_t)number;
    register uint64_t rdi __asm__("rdi") = cap;
    register uint64_t rsi __asm__("rsi") = msg->info;
    register uint64_t rdx __asm__("rdx") = msg->mr[0];
    register uint64_t r8 __asm__("r8") = msg->mr[1];
    register uint64_t r9 __asm__("r9") = msg->mr[2];
    register uint64_t r10 __asm__("r10") = msg->mr[3];

    __asm__ volatile("syscall"
                     : "+r"(rax), "+r"(rdi), "+r"(rsi), "+r"(rdx), "+r"(r8), "+r"(r9),
                       "+r"(r10)
                     :
                     : "rcx", "r11", "memory");

    msg->badge = rdi;
    msg->info = rsi;
    msg->mr[0] = rdx;
    msg->mr[1] = r8;
    msg->mr[2] = r9;
    msg->mr[3] = r10;
    return (enum pith_error)rax;
}

/* Send *msg to an endpoint and wait for the reply, which replaces *msg. On any other
 * capability this invokes the object's method (label = method) and returns at once. */
static inline enum pith_error pith_call(pith_cap_t cap, struct pith_msg *msg)
{
    return pith_syscall(PITH_SYS_CALL, cap, msg);
}

static inline enum pith_error pith_send(pith_cap_t endpoint, const struct pith_msg *msg)
{
    struct pith_msg scratch = *msg;
    return pith_syscall(PITH_SYS_SEND, endpoint, &scratch);
}

/* Like pith_send, but PITH_E_WOULD_BLOCK (message dropped) when no receiver waits. */
static inline enum pith_error pith_nb_send(pith_cap_t endpoint, const struct pith_msg *msg)
{
    struct pith_msg scratch = *msg;
    return pith_syscall(PITH_SYS_NB_SEND, endpoint, &scratch);
}

/* Block until a message (endpoint) or signal bits (notification) arrive in *msg. */
static inline enum pith_error pith_recv(pith_cap_t cap, struct pith_msg *msg)
{
    *msg = (struct pith_msg){ 0 };
    return pith_syscall(PITH_SYS_RECV, cap, msg);
}

static inline enum pith_error pith_nb_recv(pith_cap_t cap, struct pith_msg *msg)
{
    *msg = (struct pith_msg){ 0 };
    return pith_syscall(PITH_SYS_NB_RECV, cap, msg);
}

/* Reply to the thread whose Call this thread received last. */
static inline enum pith_error pith_reply(const struct pith_msg *msg)
{
    struct pith_msg scratch = *msg;
    return pith_syscall(PITH_SYS_REPLY, 0, &scratch);
}

/* Reply with *msg (if a caller waits), then receive on cap into *msg. */
static inline enum pith_error pith_reply_recv(pith_cap_t cap, struct pith_msg *msg)
{
    return pith_syscall(PITH_SYS_REPLY_RECV, cap, msg);
}

static inline enum pith_error pith_signal(pith_cap_t notification)
{
    struct pith_msg scratch = { 0 };
    return pith_syscall(PITH_SYS_SIGNAL, notification, &scratch);
}

/* Block until the notification has bits, take them all; bits may be NULL. */
static inline enum pith_error pith_wait(pith_cap_t notification, uint64_t *bits)
{
    struct pith_msg scratch = { 0 };
    enum pith_error err = pith_syscall(PITH_SYS_WAIT, notification, &scratch);
    if (bits)
        *bits = scratch.badge;
    return err;
}

/* Take the notification's bits without blocking: PITH_E_WOULD_BLOCK if none. */
static inline enum pith_error pith_poll(pith_cap_t notification, uint64_t *bits)
{
    struct pith_msg scratch = { 0 };
    enum pith_error err = pith_syscall(PITH_SYS_POLL, notification, &scratch);
    if (bits)
        *bits = scratch.badge;
    return err;
}

static inline enum pith_error pith_yield(void)
{
    struct pith_msg scratch = { 0 };
    return pith_syscall(PITH_SYS_YIELD, 0, &scratch);
}

/* Write c to the kernel console through the debug-console capability in the fixed
 * slot PITH_SLOT_DEBUG_CONSOLE (the root task's from the kernel, a child's from its
 * parent: pith_child.debug_console); PITH_E_INVALID_CAP without it. */
static inline enum pith_error pith_debug_putc(char c)
{
    struct pith_msg scratch = { .info = pith_msginfo(0, 1, 0), .mr = { (uint8_t)c } };
    return pith_syscall(PITH_SYS_DEBUG_PUTC, PITH_SLOT_DEBUG_CONSOLE, &scratch);
}

#endif
