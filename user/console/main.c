/*
 * The console server: owns the UART (COM1) and multiplexes every client's output onto
 * it, each line labelled with the client's name; typed input goes to the focused
 * client (pith/console.h).  Started by the root task with, in its extra slots: the
 * service endpoint, an I/O-port capability for COM1, and the IRQ handler for line 4.
 */
#include <pith/alloc.h>
#include <pith/console.h>
#include <pith/cpu.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/root.h>
#include <pith/syscall.h>
#include "mux.h"

#define COM1 0x3f8
enum { SLOT_SERVICE, SLOT_UART_PORTS, SLOT_UART_IRQ, SLOT_COUNT };

static void uart_emit(void *ctx, const char *text, size_t length)
{
    (void)ctx;
    for (size_t i = 0; i < length; i++) {
        while (!(pith_inb(COM1 + 5) & 0x20))    /* LSR: transmit holding register empty */
            pith_cpu_relax();
        pith_outb(COM1, (uint8_t)text[i]);
    }
}

static void uart_receive(struct mux *m)
{
    while (pith_inb(COM1 + 5) & 0x01)          /* LSR: data ready */
        mux_input(m, pith_inb(COM1));
}

static uint64_t handle(struct mux *m, uint64_t badge, struct pith_msg *msg)
{
    struct pith_ipc_buffer *buffer = pith_ipc_buffer();
    uint64_t words[PITH_MSG_MAX];
    unsigned length = (unsigned)pith_msginfo_length(msg->info);
    for (unsigned i = 0; i < length; i++)
        words[i] = i < PITH_MSG_REGS_IN_CPU ? msg->mr[i] : buffer->mr[i];
    switch (pith_msginfo_label(msg->info)) {
    case PITH_CONSOLE_HELLO: {
        char name[PITH_CONSOLE_NAME_MAX + 1] = { 0 };
        for (unsigned i = 0; i < PITH_CONSOLE_NAME_MAX && i / 8 < length; i++)
            name[i] = (char)(words[i / 8] >> (8 * (i % 8)));
        return mux_hello(m, badge, name) < 0 ? PITH_E_NO_MEMORY : PITH_OK;
    }
    case PITH_CONSOLE_WRITE: {
        uint64_t n = length ? words[0] : 0;
        if (n > PITH_CONSOLE_WRITE_MAX || (n + 7) / 8 + 1 > length)
            return PITH_E_INVALID_ARG;
        mux_write(m, badge, (const char *)&words[1], n);
        return PITH_OK;
    }
    case PITH_CONSOLE_READ: {
        uint8_t bytes[PITH_CONSOLE_READ_MAX] = { 0 };
        size_t n = mux_read(m, badge, bytes, sizeof(bytes));
        msg->mr[0] = n;
        for (unsigned i = 0; i < 3; i++) {
            msg->mr[1 + i] = 0;
            for (unsigned b = 0; b < 8; b++)
                msg->mr[1 + i] |= (uint64_t)bytes[i * 8 + b] << (8 * b);
        }
        return PITH_OK;
    }
    default:
        return PITH_E_ILLEGAL_OP;
    }
}

int main(void *arg)
{
    static struct mux m;
    const struct pith_bootinfo *bi = arg;
    if (pith_root_init(bi, 0x40000000, 0x50000000) || bi->extra_count < SLOT_COUNT)
        return 1;
    pith_cap_t service = bi->extra_first_slot + SLOT_SERVICE;
    pith_cap_t irq = bi->extra_first_slot + SLOT_UART_IRQ;
    pith_ioport_allow(bi->extra_first_slot + SLOT_UART_PORTS, PITH_SLOT_ADDRESS_SPACE);
    uint64_t ntfn = 0;
    pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &ntfn);
    pith_thread_bind_notification(PITH_SLOT_THREAD, ntfn);
    pith_irq_set_notification(irq, ntfn);
    pith_outb(COM1 + 1, 0x01);                  /* IER: interrupt when data arrives */
    pith_outb(COM1 + 4, 0x0b);                  /* MCR: DTR, RTS, OUT2 (the IRQ line) */
    mux_init(&m, uart_emit, NULL);

    struct pith_msg msg;
    pith_recv(service, &msg);
    for (;;) {
        if (msg.info & PITH_MSG_FROM_NOTIFICATION) {
            uart_receive(&m);
            pith_irq_ack(irq);
            pith_recv(service, &msg);
            continue;
        }
        uint64_t err = handle(&m, msg.badge, &msg);
        unsigned words = pith_msginfo_label(msg.info) == PITH_CONSOLE_READ && !err ? 4 : 0;
        msg.info = pith_msginfo(err, words, 0);
        pith_reply_recv(service, &msg);
    }
}
