/*
 * Per-thread runtime state (the IPC buffer's self pointer) and the default exit.
 */
#include "pith/pith.h"

void pith_set_ipc_buffer(struct pith_ipc_buffer *buffer)
{
    buffer->user[0] = (uint64_t)buffer;
}

/* Weak so that a program with its own idea of exiting (tell a parent, power off)
 * replaces it. Suspending oneself never returns unless someone resumes the thread,
 * and then there is nothing left to run: keep yielding. */
__attribute__((weak)) _Noreturn void pith_exit(int status)
{
    (void)status;
    for (;;) {
        pith_thread_suspend(PITH_SLOT_THREAD);
        pith_yield();
    }
}
