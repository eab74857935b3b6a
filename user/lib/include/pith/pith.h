/*
 * The Pith runtime: one function per kernel-object method of pith/abi.h, plus the
 * program entry/exit contract. Each method is a Call on the object's capability with
 * label = method and the arguments in MR0, MR1, ...; it returns the kernel's error.
 * Methods with more than four arguments (retype, mint, thread configure, write
 * registers) and read_registers of more than four registers use the calling thread's
 * IPC buffer (pith_ipc_buffer), so only threads that have one may call them.
 */
#ifndef PITH_PITH_H
#define PITH_PITH_H

#include <stddef.h>
#include <stdint.h>

#include "pith/abi.h"
#include "pith/cpu.h"
#include "pith/syscall.h"

/* ---- Program entry and exit -------------------------------------------------------
 * crt0's _start calls `int main(void *arg)` with the thread's start argument (the root
 * task gets the boot-info address), then pith_exit(main's result). main is not declared
 * here so that host-side tests may include this header beside their own main. */

/* Ends the program. The library's weak default suspends the thread in slot
 * PITH_SLOT_THREAD of the caller's CNode (the runtime's convention for "my own thread");
 * a program may define its own pith_exit. */
_Noreturn void pith_exit(int status);

/* ---- Generic invocation ------------------------------------------------------------
 * Call method `label` on `cap` with args[0..count-1] as MR0..; the reply's CPU part goes
 * to *reply (may be NULL), its MR4.. stay in the IPC buffer. */
enum pith_error pith_invoke(pith_cap_t cap, uint64_t label, const uint64_t *args,
                            size_t count, struct pith_msg *reply);

/* "PITH_E_NO_MEMORY" for PITH_E_NO_MEMORY, "PITH_E_?" for unknown values. */
const char *pith_error_name(enum pith_error err);

/* ---- Untyped ---------------------------------------------------------------------- */
enum pith_error pith_untyped_retype(pith_cap_t untyped, enum pith_object_type type,
                                    uint64_t size_bits, pith_cap_t dest_cnode,
                                    uint64_t dest_slot, uint64_t count);

/* ---- CNode: `cnode` is the destination (copy, mint, move) or target CNode --------- */
enum pith_error pith_cnode_copy(pith_cap_t cnode, uint64_t dest_slot, pith_cap_t src_cnode,
                                uint64_t src_slot, uint64_t rights);
enum pith_error pith_cnode_mint(pith_cap_t cnode, uint64_t dest_slot, pith_cap_t src_cnode,
                                uint64_t src_slot, uint64_t rights, uint64_t badge);
enum pith_error pith_cnode_move(pith_cap_t cnode, uint64_t dest_slot, pith_cap_t src_cnode,
                                uint64_t src_slot);
enum pith_error pith_cnode_delete(pith_cap_t cnode, uint64_t slot);
enum pith_error pith_cnode_revoke(pith_cap_t cnode, uint64_t slot);

/* ---- Thread ------------------------------------------------------------------------
 * Register arrays are indexed by enum pith_reg and hold `count` registers starting at
 * PITH_REG_RIP (count 1..PITH_REG_COUNT). */
enum pith_error pith_thread_configure(pith_cap_t thread, pith_cap_t cnode,
                                      pith_cap_t address_space, uint64_t ipc_buffer_addr,
                                      pith_cap_t ipc_buffer_frame, pith_cap_t fault_endpoint);
enum pith_error pith_thread_set_priority(pith_cap_t thread, uint64_t priority);
enum pith_error pith_thread_read_registers(pith_cap_t thread, uint64_t *regs, size_t count);
enum pith_error pith_thread_write_registers(pith_cap_t thread, const uint64_t *regs,
                                            size_t count);
enum pith_error pith_thread_resume(pith_cap_t thread);
enum pith_error pith_thread_suspend(pith_cap_t thread);
enum pith_error pith_thread_bind_notification(pith_cap_t thread, pith_cap_t notification);
enum pith_error pith_thread_unbind_notification(pith_cap_t thread);
enum pith_error pith_thread_set_affinity(pith_cap_t thread, uint64_t cpu);

/* ---- Paging: `table` is a PDPT, page-directory or page-table capability ----------- */
enum pith_error pith_table_map(pith_cap_t table, pith_cap_t address_space, uint64_t vaddr);
enum pith_error pith_table_unmap(pith_cap_t table);
enum pith_error pith_frame_map(pith_cap_t frame, pith_cap_t address_space, uint64_t vaddr,
                               uint64_t rights, uint64_t attributes);
enum pith_error pith_frame_unmap(pith_cap_t frame);
enum pith_error pith_frame_address(pith_cap_t frame, uint64_t *phys);

/* ---- Notification ----------------------------------------------------------------- */
enum pith_error pith_notification_set_deadline(pith_cap_t notification, uint64_t tsc);

/* ---- Interrupts ------------------------------------------------------------------- */
enum pith_error pith_irq_control_get(pith_cap_t irq_control, uint64_t line,
                                     uint64_t dest_slot);
enum pith_error pith_irq_set_notification(pith_cap_t irq_handler, pith_cap_t notification);
enum pith_error pith_irq_ack(pith_cap_t irq_handler);
enum pith_error pith_irq_clear(pith_cap_t irq_handler);

/* ---- I/O ports -------------------------------------------------------------------- */
enum pith_error pith_ioport_control_issue(pith_cap_t ioport_control, uint64_t first_port,
                                          uint64_t last_port, uint64_t dest_slot);
enum pith_error pith_ioport_control_issue_console(pith_cap_t ioport_control, uint64_t first_port,
                                                  uint64_t last_port, uint64_t dest_slot);
enum pith_error pith_ioport_allow(pith_cap_t ioport, pith_cap_t address_space);
enum pith_error pith_ioport_deny(pith_cap_t ioport, pith_cap_t address_space);

/* VCpu (pith/vm.h has the exit protocol). */
enum pith_error pith_vcpu_configure(pith_cap_t vcpu, pith_cap_t thread, pith_cap_t guest_space,
                                    pith_cap_t exit_endpoint, uint64_t transfer_mask,
                                    uint64_t exception_bitmap);
enum pith_error pith_vcpu_read_state(pith_cap_t vcpu, uint64_t mask, uint64_t *out, size_t n);
enum pith_error pith_vcpu_write_state(pith_cap_t vcpu, uint64_t mask, const uint64_t *in, size_t n);
enum pith_error pith_vcpu_recall(pith_cap_t vcpu);
enum pith_error pith_vcpu_set_io(pith_cap_t vcpu, pith_cap_t ioport, uint64_t direct);
/* A byte IN or OUT on `port` answered by the kernel (PITH_VM_PORT_*, pith/vm.h). */
enum pith_error pith_vcpu_set_port(pith_cap_t vcpu, uint64_t port, uint64_t kind, uint64_t value);
/* CPUID shortcuts: leaves first..last answered EAX, EBX, ECX, EDX = answer[0..3]; clear
 * takes them all away. */
enum pith_error pith_vcpu_set_cpuid(pith_cap_t vcpu, uint64_t first, uint64_t last, const uint32_t answer[4]);
enum pith_error pith_vcpu_clear_cpuid(pith_cap_t vcpu);
/* An RDMSR of `index` answered by the kernel with `value` (PITH_VM_MSR_*, pith/vm.h). */
enum pith_error pith_vcpu_set_msr(pith_cap_t vcpu, uint64_t index, uint64_t kind, uint64_t value);

#endif
