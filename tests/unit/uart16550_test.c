/* The VMM's 16550 UART model (vmm/dev/uart16550.c). */
#include "unit.h"
#include "dev/uart16550.h"

static struct uart16550 uart;
static char sent[64];
static unsigned sent_count;
static bool irq_level;
static unsigned irq_changes;

static void output(void *context, uint8_t byte)
{
    (void)context;
    if (sent_count < sizeof(sent))
        sent[sent_count++] = (char)byte;
}

static void irq_set(void *context, unsigned line, bool level)
{
    (void)context, (void)line;
    irq_changes += level != irq_level;
    irq_level = level;
}

static void setup(void)
{
    memset(sent, 0, sizeof(sent));
    sent_count = 0;
    irq_level = false;
    irq_changes = 0;
    uart16550_init(&uart, output, NULL, (struct irq_line){ irq_set, NULL, 4 });
}

static void transmit_goes_to_output(void)
{
    setup();
    CHECK(uart16550_read(&uart, UART_LSR) & UART_LSR_THRE);
    uart16550_write(&uart, UART_RBR_THR_DLL, 'h');
    uart16550_write(&uart, UART_RBR_THR_DLL, 'i');
    CHECK_EQ(sent_count, 2);
    CHECK(memcmp(sent, "hi", 2) == 0);
    uint8_t lsr = uart16550_read(&uart, UART_LSR);
    CHECK_EQ(lsr & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE | UART_LSR_TEMT);
    CHECK_EQ(lsr & UART_LSR_DR, 0);
}

static void divisor_latch(void)
{
    setup();
    uart16550_write(&uart, UART_IER_DLM, 0x05);
    uart16550_write(&uart, UART_LCR, UART_LCR_DLAB | 0x03);
    uart16550_write(&uart, UART_RBR_THR_DLL, 0x01);
    uart16550_write(&uart, UART_IER_DLM, 0x02);
    CHECK_EQ(uart16550_read(&uart, UART_RBR_THR_DLL), 0x01);
    CHECK_EQ(uart16550_read(&uart, UART_IER_DLM), 0x02);
    CHECK_EQ(uart16550_divisor(&uart), 0x0201);
    CHECK_EQ(sent_count, 0);                        /* DLL is not THR */
    uart16550_write(&uart, UART_LCR, 0x03);
    CHECK_EQ(uart16550_read(&uart, UART_IER_DLM), 0x05);   /* IER again */
    CHECK_EQ(uart16550_read(&uart, UART_LCR), 0x03);
}

static void scratch_and_modem_control(void)
{
    setup();
    uart16550_write(&uart, UART_SCR, 0x5a);
    CHECK_EQ(uart16550_read(&uart, UART_SCR), 0x5a);
    uart16550_write(&uart, UART_MCR, 0xff);
    CHECK_EQ(uart16550_read(&uart, UART_MCR), 0x1f);
    uart16550_write(&uart, UART_LSR, 0);            /* read-only: ignored */
    CHECK(uart16550_read(&uart, UART_LSR) & UART_LSR_THRE);
}

static void receive_fifo_and_overrun(void)
{
    setup();
    CHECK(uart16550_receive(&uart, 'a'));
    CHECK(!uart16550_receive(&uart, 'b'));          /* FIFOs off: one byte holds */
    uint8_t lsr = uart16550_read(&uart, UART_LSR);
    CHECK_EQ(lsr & (UART_LSR_DR | UART_LSR_OE), UART_LSR_DR | UART_LSR_OE);
    CHECK_EQ(uart16550_read(&uart, UART_LSR) & UART_LSR_OE, 0);     /* cleared by reading */
    CHECK_EQ(uart16550_read(&uart, UART_RBR_THR_DLL), 'a');
    CHECK_EQ(uart16550_read(&uart, UART_LSR) & UART_LSR_DR, 0);
    uart16550_write(&uart, UART_IIR_FCR, UART_FCR_ENABLE);
    for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
        CHECK(uart16550_receive(&uart, (uint8_t)('0' + i)));
    CHECK(!uart16550_receive(&uart, 'x'));
    for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
        CHECK_EQ(uart16550_read(&uart, UART_RBR_THR_DLL), '0' + i);
    uart16550_receive(&uart, 'y');
    uart16550_write(&uart, UART_IIR_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
    CHECK_EQ(uart16550_read(&uart, UART_LSR) & UART_LSR_DR, 0);
}

static void interrupt_identification(void)
{
    setup();
    CHECK_EQ(uart16550_read(&uart, UART_IIR_FCR), UART_IIR_NONE);
    uart16550_write(&uart, UART_IIR_FCR, UART_FCR_ENABLE);
    CHECK_EQ(uart16550_read(&uart, UART_IIR_FCR), UART_IIR_NONE | UART_IIR_FIFO);
    /* Enabling THRE with THR empty raises it; reading IIR acknowledges it. */
    uart16550_write(&uart, UART_IER_DLM, UART_IER_THRE);
    CHECK_EQ(uart16550_read(&uart, UART_IIR_FCR) & 0x0f, UART_IIR_THRE);
    CHECK_EQ(uart16550_read(&uart, UART_IIR_FCR) & 0x0f, UART_IIR_NONE);
    uart16550_write(&uart, UART_RBR_THR_DLL, 'x');  /* sent at once: empty again */
    CHECK(uart16550_irq_pending(&uart));
    /* Received data outranks THR empty. */
    uart16550_write(&uart, UART_IER_DLM, UART_IER_THRE | UART_IER_RDA);
    uart16550_receive(&uart, 'r');
    CHECK_EQ(uart16550_read(&uart, UART_IIR_FCR) & 0x0f, UART_IIR_RDA);
    uart16550_read(&uart, UART_RBR_THR_DLL);
    CHECK_EQ(uart16550_read(&uart, UART_IIR_FCR) & 0x0f, UART_IIR_THRE);
}

static void irq_line_follows_out2(void)
{
    setup();
    uart16550_write(&uart, UART_IER_DLM, UART_IER_THRE);
    CHECK(uart16550_irq_pending(&uart));
    CHECK(!irq_level);                              /* OUT2 off: the PC's gate is closed */
    uart16550_write(&uart, UART_MCR, UART_MCR_OUT2);
    CHECK(irq_level);
    uart16550_read(&uart, UART_IIR_FCR);            /* acknowledge */
    CHECK(!irq_level);
    CHECK_EQ(irq_changes, 2);
}

static void loopback(void)
{
    setup();
    CHECK_EQ(uart16550_read(&uart, UART_MSR) & 0xf0, UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
    /* Linux's probe: loopback with RTS and OUT2 must read back CTS and DCD. */
    uart16550_write(&uart, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT2);
    CHECK_EQ(uart16550_read(&uart, UART_MSR) & 0xf0, UART_MSR_CTS | UART_MSR_DCD);
    CHECK_EQ(uart16550_read(&uart, UART_MSR) & UART_MSR_DELTAS, 0);  /* deltas cleared */
    uart16550_write(&uart, UART_RBR_THR_DLL, 'L');
    CHECK_EQ(sent_count, 0);
    CHECK(uart16550_read(&uart, UART_LSR) & UART_LSR_DR);
    CHECK_EQ(uart16550_read(&uart, UART_RBR_THR_DLL), 'L');
    uart16550_write(&uart, UART_MCR, 0);
    CHECK_EQ(uart16550_read(&uart, UART_MSR) & 0xf0, UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
}

static void device_interface(void)
{
    setup();
    uart16550_ops.write(&uart, UART_SCR, 4, 0x1234);
    CHECK_EQ(uart16550_ops.read(&uart, UART_SCR, 1), 0x34);
    uart16550_ops.write(&uart, UART_RBR_THR_DLL, 1, 'z');
    CHECK_EQ(sent[0], 'z');
    uart16550_ops.reset(&uart);
    CHECK_EQ(uart16550_read(&uart, UART_SCR), 0);
}

/* What the kernel may answer for the VMM: LSR's value exactly as a read would give it,
 * but none while a read would clear an overrun; THR writes deferrable only when they
 * do nothing but send (no latch, no THR-empty interrupt, no loopback). */
static void shortcuts_follow_state(void)
{
    setup();
    CHECK_EQ(uart16550_lsr_constant(&uart), UART_LSR_THRE | UART_LSR_TEMT);
    CHECK(uart16550_thr_deferrable(&uart));
    uart16550_receive(&uart, 'x');
    CHECK_EQ(uart16550_lsr_constant(&uart), UART_LSR_THRE | UART_LSR_TEMT | UART_LSR_DR);
    CHECK_EQ(uart16550_lsr_constant(&uart), uart16550_read(&uart, UART_LSR));
    for (unsigned i = 0; i < UART_FIFO_SIZE + 1; i++)
        uart16550_receive(&uart, 'y');
    CHECK_EQ(uart16550_lsr_constant(&uart), -1);                /* an overrun to report */
    CHECK(uart16550_read(&uart, UART_LSR) & UART_LSR_OE);
    CHECK_EQ(uart16550_lsr_constant(&uart), UART_LSR_THRE | UART_LSR_TEMT | UART_LSR_DR);
    uart16550_write(&uart, UART_LCR, UART_LCR_DLAB);
    CHECK(!uart16550_thr_deferrable(&uart));
    uart16550_write(&uart, UART_LCR, 3);
    CHECK(uart16550_thr_deferrable(&uart));
    uart16550_write(&uart, UART_IER_DLM, UART_IER_THRE);
    CHECK(!uart16550_thr_deferrable(&uart));
    uart16550_write(&uart, UART_IER_DLM, UART_IER_RDA);
    CHECK(uart16550_thr_deferrable(&uart));
    uart16550_write(&uart, UART_MCR, UART_MCR_LOOP);
    CHECK(!uart16550_thr_deferrable(&uart));
}

UNIT_TABLE(uart16550,
    { "uart16550_transmit", transmit_goes_to_output },
    { "uart16550_divisor_latch", divisor_latch },
    { "uart16550_scratch_mcr", scratch_and_modem_control },
    { "uart16550_receive_fifo_overrun", receive_fifo_and_overrun },
    { "uart16550_interrupt_identification", interrupt_identification },
    { "uart16550_irq_line_out2", irq_line_follows_out2 },
    { "uart16550_loopback", loopback },
    { "uart16550_device_interface", device_interface },
    { "uart16550_shortcuts_follow_state", shortcuts_follow_state },
)
