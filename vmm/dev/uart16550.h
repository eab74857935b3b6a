/*
 * The 16550A UART as a guest programs it (National Semiconductor PC16550D data sheet,
 * "Registers"): eight byte registers at a port base, the divisor latch behind
 * LCR.DLAB, a 16-byte receive FIFO, modem-control loopback, and the interrupt
 * identification a driver polls or takes interrupts from.  Transmission is
 * instantaneous: every byte written to THR goes straight to the output callback (or,
 * in loopback, into the receive FIFO), so THR and the transmitter are always empty.
 * No serial timing, parity or break is modelled; line errors never happen except
 * receiver overrun.
 */
#ifndef VMM_UART16550_H
#define VMM_UART16550_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"

/* Register offsets from the base port (DLAB = LCR bit 7 selects the latch at 0 and 1). */
enum uart16550_reg {
    UART_RBR_THR_DLL = 0,
    UART_IER_DLM = 1,
    UART_IIR_FCR = 2,
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_MSR = 6,
    UART_SCR = 7,
    UART16550_REGS = 8
};

#define UART_IER_RDA   0x01     /* received data available */
#define UART_IER_THRE  0x02     /* transmitter holding register empty */
#define UART_IER_RLS   0x04     /* receiver line status */
#define UART_IER_MS    0x08     /* modem status */

#define UART_IIR_NONE  0x01     /* no interrupt pending */
#define UART_IIR_MS    0x00
#define UART_IIR_THRE  0x02
#define UART_IIR_RDA   0x04
#define UART_IIR_RLS   0x06
#define UART_IIR_FIFO  0xc0     /* FIFOs enabled */

#define UART_FCR_ENABLE   0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04

#define UART_LCR_DLAB  0x80

#define UART_MCR_DTR   0x01
#define UART_MCR_RTS   0x02
#define UART_MCR_OUT1  0x04
#define UART_MCR_OUT2  0x08
#define UART_MCR_LOOP  0x10

#define UART_LSR_DR    0x01     /* data ready */
#define UART_LSR_OE    0x02     /* overrun error */
#define UART_LSR_THRE  0x20
#define UART_LSR_TEMT  0x40

#define UART_MSR_DELTAS 0x0f
#define UART_MSR_CTS   0x10
#define UART_MSR_DSR   0x20
#define UART_MSR_RI    0x40
#define UART_MSR_DCD   0x80

#define UART_FIFO_SIZE 16

struct uart16550 {
    uint8_t ier, lcr, mcr, fcr, scr;
    uint8_t dll, dlm;
    uint8_t msr;                    /* modem status lines and their delta bits */
    bool overrun;                   /* LSR.OE until the next LSR read */
    bool thre_interrupt;            /* THR-empty interrupt not yet acknowledged */
    uint8_t rx[UART_FIFO_SIZE];
    unsigned rx_head, rx_count;
    void (*output)(void *context, uint8_t byte);
    void *context;
    struct irq_line irq;            /* the INTRPT output, driven after every change */
};

/* A UART after power-on reset that sends what the guest transmits to output() and
 * drives `irq` (IRQ 4 for COM1; an irq_line without set() when nothing listens). */
void uart16550_init(struct uart16550 *u, void (*output)(void *context, uint8_t byte),
                    void *context, struct irq_line irq);
void uart16550_reset(struct uart16550 *u);

/* A guest access to register `reg` (0..7). */
uint8_t uart16550_read(struct uart16550 *u, unsigned reg);
void uart16550_write(struct uart16550 *u, unsigned reg, uint8_t value);

/* A byte arriving on the line (host input); false when the FIFO was full (overrun). */
bool uart16550_receive(struct uart16550 *u, uint8_t byte);

/* The INTRPT output: an enabled interrupt is pending.  (A PC's COM port gates it with
 * MCR.OUT2 on the way to the PIC; the model drives `irq` with exactly that.) */
bool uart16550_irq_pending(const struct uart16550 *u);

/* What the kernel may answer without the VMM (VCpu.SET_PORT, docs/vm.md): LSR's value
 * while reading it changes nothing (no overrun to clear), -1 otherwise; and whether a
 * THR write may wait until the next exit: it only sends the byte (no divisor latch, no
 * THR-empty interrupt enabled, no loopback). */
int uart16550_lsr_constant(const struct uart16550 *u);
bool uart16550_thr_deferrable(const struct uart16550 *u);

/* The baud-rate divisor latch: 1 is 115200 baud. */
static inline unsigned uart16550_divisor(const struct uart16550 *u)
{
    return (unsigned)u->dlm << 8 | u->dll;
}

/* Port window of 8 bytes: offset = register; a wider access reads the register
 * zero-extended or writes its low byte. */
extern const struct device_ops uart16550_ops;

#endif
