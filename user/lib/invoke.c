/*
 * Kernel-object methods: each packs its arguments into message registers and makes a
 * Call on the object's capability (pith/abi.h, "Invocation labels").
 */
#include "pith/pith.h"

#define ARRAY_COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum pith_error pith_invoke(pith_cap_t cap, uint64_t label, const uint64_t *args,
                            size_t count, struct pith_msg *reply)
{
    struct pith_msg msg = { .info = pith_msginfo(label, count, 0) };

    if (count > PITH_MSG_MAX)
        return PITH_E_TRUNCATED;
    for (size_t i = 0; i < count && i < PITH_MSG_REGS_IN_CPU; i++)
        msg.mr[i] = args[i];
    if (count > PITH_MSG_REGS_IN_CPU) {
        struct pith_ipc_buffer *buffer = pith_ipc_buffer();
        for (size_t i = PITH_MSG_REGS_IN_CPU; i < count; i++)
            buffer->mr[i] = args[i];
    }
    enum pith_error err = pith_call(cap, &msg);
    if (reply)
        *reply = msg;
    return err;
}

const char *pith_error_name(enum pith_error err)
{
    static const char *const names[] = {
        [PITH_OK] = "PITH_OK",
        [PITH_E_INVALID_CAP] = "PITH_E_INVALID_CAP",
        [PITH_E_RANGE] = "PITH_E_RANGE",
        [PITH_E_INVALID_ARG] = "PITH_E_INVALID_ARG",
        [PITH_E_ALIGNMENT] = "PITH_E_ALIGNMENT",
        [PITH_E_BAD_ADDRESS] = "PITH_E_BAD_ADDRESS",
        [PITH_E_NO_MEMORY] = "PITH_E_NO_MEMORY",
        [PITH_E_SLOT_OCCUPIED] = "PITH_E_SLOT_OCCUPIED",
        [PITH_E_RIGHTS] = "PITH_E_RIGHTS",
        [PITH_E_ILLEGAL_OP] = "PITH_E_ILLEGAL_OP",
        [PITH_E_WOULD_BLOCK] = "PITH_E_WOULD_BLOCK",
        [PITH_E_MAPPED] = "PITH_E_MAPPED",
        [PITH_E_NOT_MAPPED] = "PITH_E_NOT_MAPPED",
        [PITH_E_TRUNCATED] = "PITH_E_TRUNCATED",
        [PITH_E_BUSY] = "PITH_E_BUSY",
        [PITH_E_NO_REPLY] = "PITH_E_NO_REPLY",
        [PITH_E_DELETED] = "PITH_E_DELETED",
        [PITH_E_REVOKE_FIRST] = "PITH_E_REVOKE_FIRST",
        [PITH_E_INTERRUPTED] = "PITH_E_INTERRUPTED",
    };
    _Static_assert(ARRAY_COUNT(names) == PITH_E_COUNT, "an error code has no name");

    if ((uint64_t)err >= ARRAY_COUNT(names))
        return "PITH_E_?";
    return names[err];
}

/* Methods whose arguments all fit in MR0..3 build them in place. */
static enum pith_error invoke0(pith_cap_t cap, enum pith_method method)
{
    return pith_invoke(cap, method, NULL, 0, NULL);
}

static enum pith_error invoke1(pith_cap_t cap, enum pith_method method, uint64_t arg0)
{
    const uint64_t args[] = { arg0 };
    return pith_invoke(cap, method, args, ARRAY_COUNT(args), NULL);
}

/* ---- Untyped ---------------------------------------------------------------------- */

enum pith_error pith_untyped_retype(pith_cap_t untyped, enum pith_object_type type,
                                    uint64_t size_bits, pith_cap_t dest_cnode,
                                    uint64_t dest_slot, uint64_t count)
{
    const uint64_t args[] = { type, size_bits, dest_cnode, dest_slot, count };
    return pith_invoke(untyped, PITH_UNTYPED_RETYPE, args, ARRAY_COUNT(args), NULL);
}

/* ---- CNode ------------------------------------------------------------------------ */

enum pith_error pith_cnode_copy(pith_cap_t cnode, uint64_t dest_slot, pith_cap_t src_cnode,
                                uint64_t src_slot, uint64_t rights)
{
    const uint64_t args[] = { dest_slot, src_cnode, src_slot, rights };
    return pith_invoke(cnode, PITH_CNODE_COPY, args, ARRAY_COUNT(args), NULL);
}

enum pith_error pith_cnode_mint(pith_cap_t cnode, uint64_t dest_slot, pith_cap_t src_cnode,
                                uint64_t src_slot, uint64_t rights, uint64_t badge)
{
    const uint64_t args[] = { dest_slot, src_cnode, src_slot, rights, badge };
    return pith_invoke(cnode, PITH_CNODE_MINT, args, ARRAY_COUNT(args), NULL);
}

enum pith_error pith_cnode_move(pith_cap_t cnode, uint64_t dest_slot, pith_cap_t src_cnode,
                                uint64_t src_slot)
{
    const uint64_t args[] = { dest_slot, src_cnode, src_slot };
    return pith_invoke(cnode, PITH_CNODE_MOVE, args, ARRAY_COUNT(args), NULL);
}

enum pith_error pith_cnode_delete(pith_cap_t cnode, uint64_t slot)
{
    return invoke1(cnode, PITH_CNODE_DELETE, slot);
}

enum pith_error pith_cnode_revoke(pith_cap_t cnode, uint64_t slot)
{
    return invoke1(cnode, PITH_CNODE_REVOKE, slot);
}

/* ---- Thread ----------------------------------------------------------------------- */

enum pith_error pith_thread_configure(pith_cap_t thread, pith_cap_t cnode,
                                      pith_cap_t address_space, uint64_t ipc_buffer_addr,
                                      pith_cap_t ipc_buffer_frame, pith_cap_t fault_endpoint)
{
    const uint64_t args[] = { cnode, address_space, ipc_buffer_addr, ipc_buffer_frame,
                              fault_endpoint };
    return pith_invoke(thread, PITH_THREAD_CONFIGURE, args, ARRAY_COUNT(args), NULL);
}

enum pith_error pith_thread_set_priority(pith_cap_t thread, uint64_t priority)
{
    return invoke1(thread, PITH_THREAD_SET_PRIORITY, priority);
}

/* The request names how many registers (MR0 = count); the reply carries them. */
enum pith_error pith_thread_read_registers(pith_cap_t thread, uint64_t *regs, size_t count)
{
    const uint64_t args[] = { count };
    struct pith_msg reply;

    enum pith_error err = pith_invoke(thread, PITH_THREAD_READ_REGISTERS, args,
                                      ARRAY_COUNT(args), &reply);
    if (err != PITH_OK)
        return err;
    if (pith_msginfo_length(reply.info) < count)
        return PITH_E_TRUNCATED;
    for (size_t i = 0; i < count && i < PITH_MSG_REGS_IN_CPU; i++)
        regs[i] = reply.mr[i];
    if (count > PITH_MSG_REGS_IN_CPU) {
        const struct pith_ipc_buffer *buffer = pith_ipc_buffer();
        for (size_t i = PITH_MSG_REGS_IN_CPU; i < count; i++)
            regs[i] = buffer->mr[i];
    }
    return PITH_OK;
}

enum pith_error pith_thread_write_registers(pith_cap_t thread, const uint64_t *regs,
                                            size_t count)
{
    return pith_invoke(thread, PITH_THREAD_WRITE_REGISTERS, regs, count, NULL);
}

enum pith_error pith_thread_resume(pith_cap_t thread)
{
    return invoke0(thread, PITH_THREAD_RESUME);
}

enum pith_error pith_thread_suspend(pith_cap_t thread)
{
    return invoke0(thread, PITH_THREAD_SUSPEND);
}

enum pith_error pith_thread_bind_notification(pith_cap_t thread, pith_cap_t notification)
{
    return invoke1(thread, PITH_THREAD_BIND_NOTIFICATION, notification);
}

enum pith_error pith_thread_unbind_notification(pith_cap_t thread)
{
    return invoke0(thread, PITH_THREAD_UNBIND_NOTIFICATION);
}

enum pith_error pith_thread_set_affinity(pith_cap_t thread, uint64_t cpu)
{
    return invoke1(thread, PITH_THREAD_SET_AFFINITY, cpu);
}

/* ---- Paging ----------------------------------------------------------------------- */

enum pith_error pith_table_map(pith_cap_t table, pith_cap_t address_space, uint64_t vaddr)
{
    const uint64_t args[] = { address_space, vaddr };
    return pith_invoke(table, PITH_TABLE_MAP, args, ARRAY_COUNT(args), NULL);
}

enum pith_error pith_table_unmap(pith_cap_t table)
{
    return invoke0(table, PITH_TABLE_UNMAP);
}

enum pith_error pith_frame_map(pith_cap_t frame, pith_cap_t address_space, uint64_t vaddr,
                               uint64_t rights, uint64_t attributes)
{
    const uint64_t args[] = { address_space, vaddr, rights, attributes };
    return pith_invoke(frame, PITH_FRAME_MAP, args, ARRAY_COUNT(args), NULL);
}

enum pith_error pith_frame_unmap(pith_cap_t frame)
{
    return invoke0(frame, PITH_FRAME_UNMAP);
}

enum pith_error pith_frame_address(pith_cap_t frame, uint64_t *phys)
{
    struct pith_msg reply;
    enum pith_error err = pith_invoke(frame, PITH_FRAME_ADDRESS, NULL, 0, &reply);
    if (err == PITH_OK && phys)
        *phys = reply.mr[0];
    return err;
}

/* ---- Notification ----------------------------------------------------------------- */

enum pith_error pith_notification_set_deadline(pith_cap_t notification, uint64_t tsc)
{
    return invoke1(notification, PITH_NOTIFICATION_SET_DEADLINE, tsc);
}

/* ---- Interrupts ------------------------------------------------------------------- */

enum pith_error pith_irq_control_get(pith_cap_t irq_control, uint64_t line,
                                     uint64_t dest_slot)
{
    const uint64_t args[] = { line, dest_slot };
    return pith_invoke(irq_control, PITH_IRQ_CONTROL_GET, args, ARRAY_COUNT(args), NULL);
}

enum pith_error pith_irq_set_notification(pith_cap_t irq_handler, pith_cap_t notification)
{
    return invoke1(irq_handler, PITH_IRQ_SET_NOTIFICATION, notification);
}

enum pith_error pith_irq_ack(pith_cap_t irq_handler)
{
    return invoke0(irq_handler, PITH_IRQ_ACK);
}

enum pith_error pith_irq_clear(pith_cap_t irq_handler)
{
    return invoke0(irq_handler, PITH_IRQ_CLEAR);
}

/* ---- I/O ports -------------------------------------------------------------------- */

enum pith_error pith_ioport_control_issue(pith_cap_t ioport_control, uint64_t first_port,
                                          uint64_t last_port, uint64_t dest_slot)
{
    const uint64_t args[] = { first_port, last_port, dest_slot };
    return pith_invoke(ioport_control, PITH_IOPORT_CONTROL_ISSUE, args, ARRAY_COUNT(args),
                       NULL);
}

/* The same, allowed to include the kernel's console UART (docs/abi.md §4.7). */
enum pith_error pith_ioport_control_issue_console(pith_cap_t ioport_control, uint64_t first_port,
                                                  uint64_t last_port, uint64_t dest_slot)
{
    const uint64_t args[] = { first_port, last_port, dest_slot, 1 };
    return pith_invoke(ioport_control, PITH_IOPORT_CONTROL_ISSUE, args, ARRAY_COUNT(args),
                       NULL);
}

enum pith_error pith_ioport_allow(pith_cap_t ioport, pith_cap_t address_space)
{
    return invoke1(ioport, PITH_IOPORT_ALLOW, address_space);
}

enum pith_error pith_ioport_deny(pith_cap_t ioport, pith_cap_t address_space)
{
    return invoke1(ioport, PITH_IOPORT_DENY, address_space);
}

/* ---- VCpu ---------------------------------------------------------------------------- */

enum pith_error pith_vcpu_configure(pith_cap_t vcpu, pith_cap_t thread, pith_cap_t guest_space,
                                    pith_cap_t exit_endpoint, uint64_t transfer_mask,
                                    uint64_t exception_bitmap)
{
    const uint64_t args[] = { thread, guest_space, exit_endpoint, transfer_mask, exception_bitmap };
    return pith_invoke(vcpu, PITH_VCPU_CONFIGURE, args, ARRAY_COUNT(args), NULL);
}

/* Reads the groups of `mask` into out[0..n) (n = the groups' words). */
enum pith_error pith_vcpu_read_state(pith_cap_t vcpu, uint64_t mask, uint64_t *out, size_t n)
{
    const uint64_t args[] = { mask };
    struct pith_msg reply;
    enum pith_error err = pith_invoke(vcpu, PITH_VCPU_READ_STATE, args, 1, &reply);
    if (err != PITH_OK)
        return err;
    if (pith_msginfo_length(reply.info) < n)
        return PITH_E_TRUNCATED;
    for (size_t i = 0; i < n; i++)
        out[i] = i < PITH_MSG_REGS_IN_CPU ? reply.mr[i] : pith_ipc_buffer()->mr[i];
    return PITH_OK;
}

enum pith_error pith_vcpu_write_state(pith_cap_t vcpu, uint64_t mask, const uint64_t *in, size_t n)
{
    uint64_t args[PITH_MSG_MAX];
    if (n + 1 > PITH_MSG_MAX)
        return PITH_E_TRUNCATED;
    args[0] = mask;
    for (size_t i = 0; i < n; i++)
        args[i + 1] = in[i];
    return pith_invoke(vcpu, PITH_VCPU_WRITE_STATE, args, n + 1, NULL);
}

enum pith_error pith_vcpu_recall(pith_cap_t vcpu)
{
    return invoke0(vcpu, PITH_VCPU_RECALL);
}

enum pith_error pith_vcpu_set_io(pith_cap_t vcpu, pith_cap_t ioport, uint64_t direct)
{
    const uint64_t args[] = { ioport, direct };
    return pith_invoke(vcpu, PITH_VCPU_SET_IO, args, ARRAY_COUNT(args), NULL);
}

enum pith_error pith_vcpu_set_port(pith_cap_t vcpu, uint64_t port, uint64_t kind, uint64_t value)
{
    const uint64_t args[] = { port, kind, value };
    return pith_invoke(vcpu, PITH_VCPU_SET_PORT, args, ARRAY_COUNT(args), NULL);
}

enum pith_error pith_vcpu_set_cpuid(pith_cap_t vcpu, uint64_t first, uint64_t last, const uint32_t answer[4])
{
    const uint64_t args[] = { first, last, answer[0] | (uint64_t)answer[1] << 32,
                              answer[2] | (uint64_t)answer[3] << 32 };
    return pith_invoke(vcpu, PITH_VCPU_SET_CPUID, args, ARRAY_COUNT(args), NULL);
}

enum pith_error pith_vcpu_set_msr(pith_cap_t vcpu, uint64_t index, uint64_t kind, uint64_t value)
{
    const uint64_t args[] = { index, kind, value };
    return pith_invoke(vcpu, PITH_VCPU_SET_MSR, args, ARRAY_COUNT(args), NULL);
}

enum pith_error pith_vcpu_clear_cpuid(pith_cap_t vcpu)
{
    const uint64_t args[] = { 1, 0, 0, 0 };
    return pith_invoke(vcpu, PITH_VCPU_SET_CPUID, args, ARRAY_COUNT(args), NULL);
}
