/*
 * Interrupt lines 0..15, the ISA IRQs (through the I/O APIC, or the legacy 8259 pair
 * where there is none: arch/x86_64/ioapic.c).  IRQ control hands out one handler
 * capability per line; the handler names the notification to signal.  The kernel
 * masks a line when it fires and the driver unmasks it with ACK, so a level-triggered
 * device cannot storm the CPU before its driver runs.
 */
#include "kernel.h"
#include <arch.h>

struct irq_line {
    bool issued;
    struct notification *notification;
    uint64_t bits;
};
static struct irq_line lines[PITH_IRQ_LINES];

static void deliver(struct irq_line *l)
{
    if (l->notification)
        notification_signal(l->notification, l->bits);
}

void irq_handle(unsigned line)
{
    if (irq_line_fired(line))
        deliver(&lines[line]);
}

void irq_handler_deleted(const struct cap *c)
{
    struct irq_line *l = &lines[c->data];
    irq_line_close((unsigned)c->data);
    l->issued = false;
    l->notification = NULL;
}

void irq_notification_destroyed(struct notification *n)
{
    for (unsigned i = 0; i < PITH_IRQ_LINES; i++)
        if (lines[i].notification == n)
            lines[i].notification = NULL;
}

static int irq_control_get(struct invocation *inv)
{
    uint64_t line = inv_arg(inv, 0);
    if (line >= PITH_IRQ_LINES)
        return PITH_E_RANGE;
    if (line == 2)          /* the 8259 cascade: no ISA device has it */
        return PITH_E_INVALID_ARG;
    if (lines[line].issued)
        return PITH_E_BUSY;
    if (!cap_can_derive_from(inv->cap))
        return PITH_E_RANGE;
    int err;
    struct cap *dest = thread_cspace_empty_slot(inv->caller, inv_arg(inv, 1), &err);
    if (!dest)
        return err;
    /* point of no return */
    lines[line].issued = true;
    struct cap value = { .type = PITH_CAP_IRQ_HANDLER, .rights = PITH_RIGHTS_ALL,
                         .object = (uint64_t)&lines[line], .data = line };
    cap_insert_child(inv->cap, dest, &value);
    return PITH_OK;
}

int irq_invoke(struct invocation *inv)
{
    if (inv->cap->type == PITH_CAP_IRQ_CONTROL)
        return inv->label == PITH_IRQ_CONTROL_GET ? irq_control_get(inv) : PITH_E_ILLEGAL_OP;
    unsigned line = (unsigned)inv->cap->data;
    struct irq_line *l = &lines[line];
    int err;
    switch (inv->label) {
    case PITH_IRQ_SET_NOTIFICATION: {
        struct cap *nc = inv_cap_arg(inv, 0, PITH_OBJ_NOTIFICATION, PITH_RIGHT_WRITE, &err);
        if (!nc)
            return err;
        l->notification = (struct notification *)nc->object;
        l->bits = nc->data ? nc->data : BIT(line);
        if (irq_line_open(line))
            deliver(l);
        return PITH_OK;
    }
    case PITH_IRQ_ACK:
        if (irq_line_open(line))
            deliver(l);
        return PITH_OK;
    case PITH_IRQ_CLEAR:
        l->notification = NULL;
        irq_line_hold(line);
        return PITH_OK;
    default:
        return PITH_E_ILLEGAL_OP;
    }
}
