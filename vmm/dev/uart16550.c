/* The 16550A register model (uart16550.h). */
#include "uart16550.h"

static void drive_irq(struct uart16550 *u);

/* In loopback the modem inputs follow the modem outputs (data sheet, MCR bit 4):
 * CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2.  Otherwise the line is idle with a
 * peer attached: CTS, DSR and DCD are on. */
static uint8_t modem_lines(const struct uart16550 *u)
{
    if (!(u->mcr & UART_MCR_LOOP))
        return UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
    uint8_t lines = 0;
    if (u->mcr & UART_MCR_RTS)
        lines |= UART_MSR_CTS;
    if (u->mcr & UART_MCR_DTR)
        lines |= UART_MSR_DSR;
    if (u->mcr & UART_MCR_OUT1)
        lines |= UART_MSR_RI;
    if (u->mcr & UART_MCR_OUT2)
        lines |= UART_MSR_DCD;
    return lines;
}

/* New modem lines: set the delta bits of those that changed (TERI only on RI's
 * trailing edge). */
static void update_modem_status(struct uart16550 *u)
{
    uint8_t old = u->msr & 0xf0, now = modem_lines(u), changed = old ^ now;
    uint8_t deltas = u->msr & UART_MSR_DELTAS;
    if (changed & UART_MSR_CTS)
        deltas |= 0x01;
    if (changed & UART_MSR_DSR)
        deltas |= 0x02;
    if ((changed & UART_MSR_RI) && !(now & UART_MSR_RI))
        deltas |= 0x04;
    if (changed & UART_MSR_DCD)
        deltas |= 0x08;
    u->msr = now | deltas;
}

void uart16550_reset(struct uart16550 *u)
{
    u->ier = u->lcr = u->mcr = u->fcr = u->scr = 0;
    u->dll = 12;                    /* 9600 baud; the data sheet leaves it undefined */
    u->dlm = 0;
    u->overrun = false;
    u->thre_interrupt = false;
    u->rx_head = u->rx_count = 0;
    u->msr = modem_lines(u);
    drive_irq(u);
}

void uart16550_init(struct uart16550 *u, void (*output)(void *context, uint8_t byte),
                    void *context, struct irq_line irq)
{
    u->output = output;
    u->context = context;
    u->irq = irq;
    uart16550_reset(u);
}

static bool receive_byte(struct uart16550 *u, uint8_t byte)
{
    unsigned capacity = (u->fcr & UART_FCR_ENABLE) ? UART_FIFO_SIZE : 1;
    if (u->rx_count >= capacity) {
        u->overrun = true;
        return false;
    }
    u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
    u->rx_count++;
    return true;
}

static uint8_t receive_pop(struct uart16550 *u)
{
    if (u->rx_count == 0)
        return 0;
    uint8_t byte = u->rx[u->rx_head];
    u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
    u->rx_count--;
    return byte;
}

static void transmit(struct uart16550 *u, uint8_t byte)
{
    if (u->mcr & UART_MCR_LOOP)
        receive_byte(u, byte);
    else if (u->output)
        u->output(u->context, byte);
    u->thre_interrupt = true;       /* sent at once: THR is empty again */
}

/* The highest-priority pending interrupt (data sheet, Table IV): line status, then
 * received data, then THR empty, then modem status. */
static uint8_t interrupt_id(const struct uart16550 *u)
{
    if ((u->ier & UART_IER_RLS) && u->overrun)
        return UART_IIR_RLS;
    if ((u->ier & UART_IER_RDA) && u->rx_count > 0)
        return UART_IIR_RDA;
    if ((u->ier & UART_IER_THRE) && u->thre_interrupt)
        return UART_IIR_THRE;
    if ((u->ier & UART_IER_MS) && (u->msr & UART_MSR_DELTAS))
        return UART_IIR_MS;
    return UART_IIR_NONE;
}

bool uart16550_irq_pending(const struct uart16550 *u)
{
    return interrupt_id(u) != UART_IIR_NONE;
}

/* The interrupt as the PC wires it: through MCR.OUT2 to the interrupt controller. */
static void drive_irq(struct uart16550 *u)
{
    irq_line_set(&u->irq, uart16550_irq_pending(u) && (u->mcr & UART_MCR_OUT2));
}

static uint8_t read_register(struct uart16550 *u, unsigned reg)
{
    bool dlab = u->lcr & UART_LCR_DLAB;
    switch (reg) {
    case UART_RBR_THR_DLL:
        return dlab ? u->dll : receive_pop(u);
    case UART_IER_DLM:
        return dlab ? u->dlm : u->ier;
    case UART_IIR_FCR: {
        uint8_t id = interrupt_id(u);
        if (id == UART_IIR_THRE)    /* reading IIR acknowledges THR empty */
            u->thre_interrupt = false;
        return id | ((u->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO : 0);
    }
    case UART_LCR:
        return u->lcr;
    case UART_MCR:
        return u->mcr;
    case UART_LSR: {
        uint8_t lsr = UART_LSR_THRE | UART_LSR_TEMT;
        if (u->rx_count > 0)
            lsr |= UART_LSR_DR;
        if (u->overrun)
            lsr |= UART_LSR_OE;
        u->overrun = false;         /* error bits clear when LSR is read */
        return lsr;
    }
    case UART_MSR: {
        uint8_t msr = u->msr;
        u->msr &= (uint8_t)~UART_MSR_DELTAS;
        return msr;
    }
    case UART_SCR:
        return u->scr;
    default:
        return 0xff;
    }
}

static void write_fcr(struct uart16550 *u, uint8_t value)
{
    /* Switching the FIFOs on or off clears them, as do the two clear bits. */
    if (((value ^ u->fcr) & UART_FCR_ENABLE) || (value & UART_FCR_CLEAR_RX))
        u->rx_head = u->rx_count = 0;
    u->fcr = value & (UART_FCR_ENABLE | 0xc0);  /* the trigger level is kept, unused */
}

static void write_register(struct uart16550 *u, unsigned reg, uint8_t value)
{
    bool dlab = u->lcr & UART_LCR_DLAB;
    switch (reg) {
    case UART_RBR_THR_DLL:
        if (dlab)
            u->dll = value;
        else
            transmit(u, value);
        break;
    case UART_IER_DLM:
        if (dlab) {
            u->dlm = value;
        } else {
            /* Enabling the THR-empty interrupt while THR is empty raises it at once. */
            if ((value & UART_IER_THRE) && !(u->ier & UART_IER_THRE))
                u->thre_interrupt = true;
            u->ier = value & 0x0f;
        }
        break;
    case UART_IIR_FCR:
        write_fcr(u, value);
        break;
    case UART_LCR:
        u->lcr = value;
        break;
    case UART_MCR:
        u->mcr = value & 0x1f;
        update_modem_status(u);
        break;
    case UART_SCR:
        u->scr = value;
        break;
    default:                        /* LSR and MSR are read-only */
        break;
    }
}

uint8_t uart16550_read(struct uart16550 *u, unsigned reg)
{
    uint8_t value = read_register(u, reg);
    drive_irq(u);
    return value;
}

void uart16550_write(struct uart16550 *u, unsigned reg, uint8_t value)
{
    write_register(u, reg, value);
    drive_irq(u);
}

int uart16550_lsr_constant(const struct uart16550 *u)
{
    if (u->overrun)
        return -1;
    return UART_LSR_THRE | UART_LSR_TEMT | (u->rx_count ? UART_LSR_DR : 0);
}

bool uart16550_thr_deferrable(const struct uart16550 *u)
{
    return !(u->lcr & UART_LCR_DLAB) && !(u->ier & UART_IER_THRE) && !(u->mcr & UART_MCR_LOOP);
}

bool uart16550_receive(struct uart16550 *u, uint8_t byte)
{
    bool taken = receive_byte(u, byte);
    drive_irq(u);
    return taken;
}

/* ---- The device interface ---------------------------------------------------------- */

static uint64_t device_read(void *dev, uint64_t offset, unsigned size)
{
    (void)size;
    return uart16550_read(dev, (unsigned)offset);
}

static void device_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    (void)size;
    uart16550_write(dev, (unsigned)offset, (uint8_t)value);
}

static void device_reset(void *dev)
{
    uart16550_reset(dev);
}

const struct device_ops uart16550_ops = {
    .name = "16550 UART",
    .read = device_read,
    .write = device_write,
    .reset = device_reset,
};
