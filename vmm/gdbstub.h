/*
 * A GDB stub for the guest (docs/gdb.md): the VMM serves the GDB remote protocol on a
 * host UART (COM2), polled every GDB_POLL_MS while the guest runs, as long as the root
 * task keeps COM2's ports open in the VMM's address space: at boot for the guest marked
 * `gdb yes`, later for the guest the control shell's `gdb NAME` chooses (the grant in
 * struct pith_guest_stats, signalled with PITH_GUEST_GDB_BADGE).
 *
 * The stub sees vCPU 0.  A packet or Ctrl-C from the client stops it (a recall, then
 * the RECALL exit); while it is stopped, its VMM thread serves packets inside the exit
 * it stopped at, holding the VMM lock, so vCPUs beyond the first stop at their next
 * exit too.  Software breakpoints are a one-byte trap instruction written into guest
 * memory (GDB_BREAK_OPCODE); hardware breakpoints and watchpoints are DR0..DR3 and DR7
 * (the vCPU's DR and CR state groups), the guest's own kept aside while any is set;
 * single steps set RFLAGS.TF.  Both of the latter take the #DB exit.  The packet
 * layer and the commands are pure (gdb/gdb_rsp.h, gdb/gdb_commands.h); this file is the
 * guest's side: registers from the exit message, memory through the guest's page
 * tables, the UART.
 */
#ifndef VMM_GDBSTUB_H
#define VMM_GDBSTUB_H

#include <stdbool.h>
#include <stdint.h>

#include <pith/pith.h>

#define GDB_COM2_PORT       0x2f8
#define GDB_POLL_MS         10
/* #DB, for single steps and hardware breakpoints (software ones are HLT exits, see
 * gdbstub.c). */
#define GDB_EXCEPTION_BITMAP (1u << 1)

struct vm;

/* The stub for this guest, idle until the root task grants it COM2.  keeps_com2 (the
 * guest's pith.gdb_keep_com2=1, for the tests) makes it ignore the root task's taking
 * COM2 back and go on polling the ports: the VMM of an attacker. */
void gdb_prepare(struct vm *vm, bool keeps_com2);
/* On vCPU 0's thread, when the root task signalled PITH_GUEST_GDB_BADGE: take COM2
 * (the UART is set up), or give it back (breakpoints out, the guest runs on, the ports
 * are not touched again). */
void gdb_grant_changed(struct vm *vm);
/* At an exit of vCPU 0: a recall the stub asked for to change the #DB intercept (a
 * guest without `gdb yes` gets it with COM2, and loses it with COM2).  true: done, the
 * vCPU entered the guest again without a reply. */
bool gdb_intercept_at_recall(struct vm *vm);
/* The TSC deadline of vCPU 0 with the next poll of the UART folded in. */
uint64_t gdb_deadline(struct vm *vm, uint64_t tsc);
/* A deadline of vCPU 0 came: read what the client sent; a packet or Ctrl-C asks for a
 * stop, which vcpu_wants_attention then reports. */
void gdb_poll(struct vm *vm);
bool gdb_stop_wanted(const struct vm *vm);
/* A single step is under way on vCPU `index`: external interrupts wait until it ends
 * (an injected one would run its whole handler inside the step), and do not recall
 * the vCPU (the recall would come before the stepped instruction, again and again). */
bool gdb_stepping(const struct vm *vm, unsigned index);
/* At an exit of vCPU 0, before it is handled: a #DB, or a trap instruction of ours.
 * true: the exit was the debugger's (no instruction to emulate); a #DB that was the
 * guest's own goes back to it through *inject. */
bool gdb_takes_exit(struct vm *vm, uint64_t *inject);
/* The guest wrote DR7 (a MOV that exits, on SVM): while the stub holds the debug
 * registers of vCPU `index`, the value is the guest's kept aside, and true; false: the
 * write is the vCPU's. */
bool gdb_keeps_guest_dr7(struct vm *vm, unsigned index, uint64_t value);
/* After the exit was handled: if the guest is to stop (a breakpoint, a finished step, a
 * request from the client), serve the client until it resumes or detaches.  Returns
 * the notification bits that arrived meanwhile (PITH_DEADLINE_BIT always: the stop
 * used the vCPU's deadline, so the timers must be armed again). */
uint64_t gdb_stop_point(struct vm *vm);

#endif
