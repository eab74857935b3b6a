/*
 * The PC's two 8259A interrupt controllers: the master at ports 0x20-0x21 takes IRQ
 * 0-7, the slave at 0xa0-0xa1 takes IRQ 8-15 and drives the master's IR2, and the
 * edge/level control registers at 0x4d0-0x4d1 choose the trigger of each input.
 * The VMM injects what pic_acknowledge returns whenever the intr line is high.
 */
#ifndef VMM_PIC8259_H
#define VMM_PIC8259_H

#include "device.h"

struct pic_chip {
    uint8_t irr;            /* edges latched and not yet acknowledged */
    uint8_t isr;            /* in service, waiting for an EOI */
    uint8_t imr;
    uint8_t elcr;           /* inputs that are level-triggered */
    uint8_t input;          /* the level each IR pin is at now */
    uint8_t vector_base;    /* ICW2: T7-T3 */
    uint8_t cascade;        /* ICW3: the master's slave mask, or the slave's own ID */
    uint8_t expect;         /* which ICW the odd port takes next; 0 once initialised */
    bool single;            /* ICW1 SNGL */
    bool needs_icw4;        /* ICW1 IC4 */
    bool all_level;         /* ICW1 LTIM */
    bool auto_eoi;          /* ICW4 AEOI */
    bool read_isr;          /* OCW3 chose the ISR for reads of the even port */
};

struct pic {
    struct pic_chip master, slave;
    struct irq_line intr;   /* INTR to the CPU */
    bool intr_level;
};

extern const struct device_ops pic_master_ops;  /* ports 0x20-0x21, offset = port - 0x20 */
extern const struct device_ops pic_slave_ops;   /* ports 0xa0-0xa1, offset = port - 0xa0 */
extern const struct device_ops pic_elcr_ops;    /* ports 0x4d0-0x4d1, offset = port - 0x4d0 */

void pic_init(struct pic *pic, struct irq_line intr);

/* An irq_line sink: line 0-15 is the ISA IRQ.  Line 2 is the cascade and is ignored. */
void pic_set_irq(void *pic, unsigned line, bool level);

bool pic_has_interrupt(const struct pic *pic);

/* The two INTA cycles: returns the vector to inject and moves its IRR bit to the ISR. */
uint8_t pic_acknowledge(struct pic *pic);

/* Byte access by port number (0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1). */
uint8_t pic_port_read(struct pic *pic, uint16_t port);
void pic_port_write(struct pic *pic, uint16_t port, uint8_t value);

#endif
