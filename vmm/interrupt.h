/*
 * Injecting external interrupts: when the guest can take one and the event word that
 * delivers it (the reply's MR0, pith/vm.h).  An external interrupt is taken only with
 * RFLAGS.IF set, outside the one-instruction shadow of STI and MOV SS, and when the
 * exit did not interrupt the delivery of another event, which must be delivered first
 * (SDM Vol. 3, 6.8.3 and 27.2.4; APM Vol. 2, 15.20).  Pure.
 */
#ifndef VMM_INTERRUPT_H
#define VMM_INTERRUPT_H

#include <stdbool.h>
#include <stdint.h>

#include "pith/vm.h"

#define RFLAGS_IF (1ull << 9)
#define INTERRUPT_SHADOW 1ull       /* bit 0 of the INTR group's interruptibility word */
#define INTERRUPT_NMI_BLOCKED 2ull  /* bit 1: an NMI handler runs (until its IRET) */

static inline bool interrupt_deliverable(uint64_t rflags, uint64_t interruptibility,
                                         uint64_t delivering_event)
{
    return (rflags & RFLAGS_IF) && !(interruptibility & INTERRUPT_SHADOW) &&
           !(delivering_event & PITH_VM_EVENT_VALID);
}

static inline uint64_t interrupt_event(uint8_t vector)
{
    return PITH_VM_EVENT_VALID | PITH_VM_EVENT_EXTINT | vector;
}

/* #GP(0), #UD and friends. */
static inline uint64_t exception_event(uint8_t vector, bool has_error_code)
{
    return PITH_VM_EVENT_VALID | PITH_VM_EVENT_EXCEPTION | vector |
           (has_error_code ? PITH_VM_EVENT_ERROR_CODE : 0);
}

#endif
