/*
 * The console server: owns the UART (COM1) and multiplexes every client's output onto
 * it, each line labelled with the client's name; typed input goes to the focused
 * client (pith/console.h, the rules in mux.h).  Started by the root task with, in its
 * extra slots: the service endpoint, an I/O-port capability for COM1, and the IRQ
 * handler for line 4.
 *
 * Back-pressure: while the focused client's queue is full the server reads nothing from
 * the UART and turns its receive interrupt off; the UART's holding register stays full
 * and the host's serial line waits (uart_setup).  Each READ that empties some of the
 * queue reads the UART again; a client that holds the keyboard back and reads nothing
 * for STALL_SECONDS is stalled (mux_stalled) and the UART is read again, so Ctrl-]
 * always gets through.
 *
 * Rest.  The server runs above every guest and waits for the UART by spinning (a real
 * 115200-baud line takes 87 us a byte); the clients decide how much there is to write.
 * Once its waits add up to REST_AFTER_US it rests as long as it waited, up to
 * REST_MOST_US (pith/rest.h), before it takes the next message, so however much the
 * guests write, the threads below it on its CPU get about half of it.  An emulator's
 * UART never makes it wait.
 */
#include <pith/alloc.h>
#include <pith/console.h>
#include <pith/cpu.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/rest.h>
#include <pith/root.h>
#include <pith/syscall.h>
#include "mux.h"

#define COM1 0x3f8
#define COM1_IRQ 4
enum { SLOT_SERVICE, SLOT_UART_PORTS, SLOT_UART_IRQ, SLOT_COUNT };

#define REST_AFTER_US 2000
/* A rest is no longer than this: the UART is not read meanwhile (a key typed then may
 * be lost on a real line without FIFO), and one long burst (the full screen's end
 * showing what was held) is not paid back. */
#define REST_MOST_US 20000

static uint64_t waited_tsc;                     /* spent waiting for the UART, unrested */

/* Wait until the line status register has one of these bits. */
static void uart_wait(uint8_t bits)
{
    if (pith_inb(COM1 + 5) & bits)
        return;
    uint64_t began = pith_rdtsc();
    while (!(pith_inb(COM1 + 5) & bits))
        pith_cpu_relax();
    waited_tsc += pith_rdtsc() - began;
}

static void uart_emit(void *ctx, const char *text, size_t length)
{
    (void)ctx;
    for (size_t i = 0; i < length; i++) {
        uart_wait(0x20);                        /* LSR: transmit holding register empty */
        pith_outb(COM1, (uint8_t)text[i]);
    }
}

#define UART_IER_RECEIVED_DATA 0x01
#define HOLD_TICKS_PER_SECOND 50                /* unfinished lines wait at most 20 ms */
/* A client holding the keyboard back without a READ this long is stalled (mux.h):
 * long enough for a slow guest (Bochs) taking a paste, short enough for an operator. */
#define STALL_SECONDS 10

static struct {
    bool uart_paused;                           /* the keyboard is held back (mux.h) */
    uint64_t paused_at;                         /* since when, or the last READ since (TSC) */
    uint64_t flush_at;                          /* TSC deadline of held lines; 0: none */
    uint64_t armed;                             /* the notification's deadline; 0: none */
    uint64_t tsc_hz;
    pith_cap_t notification;                    /* the UART's interrupt and the deadline */
} server;

static void uart_drain(void)
{
    uart_wait(0x40);                            /* LSR: transmitter empty */
}

static void uart_receive(struct mux *m)
{
    while (mux_input_room(m) && (pith_inb(COM1 + 5) & 0x01))    /* LSR: data ready */
        mux_input(m, pith_inb(COM1));
    bool pause = !mux_input_room(m);
    if (pause != server.uart_paused) {
        pith_outb(COM1 + 1, pause ? 0 : UART_IER_RECEIVED_DATA);
        server.uart_paused = pause;
        server.paused_at = pith_rdtsc();
    }
}

/*
 * 115200 baud, 8 data bits, no parity, one stop bit, and the FIFOs off: with one byte
 * of receive buffer the host's serial line waits whenever that byte is unread (QEMU and
 * Bochs take the next byte only into an empty holding register; with the FIFO on,
 * Bochs would read on and drop what overruns it).  An interrupt per byte is cheap at
 * typing speed, and a paste goes no faster than the guests take it anyway.
 */
static void uart_setup(void)
{
    pith_outb(COM1 + 3, 0x80);                  /* LCR: DLAB, the divisor latch */
    pith_outb(COM1 + 0, 1);                     /* DLL: 115200 / 1 */
    pith_outb(COM1 + 1, 0);                     /* DLM */
    pith_outb(COM1 + 3, 0x03);                  /* LCR: 8N1 */
    pith_outb(COM1 + 2, 0x06);                  /* FCR: clear both FIFOs... */
    pith_outb(COM1 + 2, 0x00);                  /* ...and turn them off */
    pith_outb(COM1 + 1, UART_IER_RECEIVED_DATA);
}

/* What time brings: held unfinished lines shown (mux_flush), a client that has held
 * the keyboard back too long stalled (mux_stalled); then the notification's deadline
 * for the next of them. */
static void deadlines(struct mux *m)
{
    uint64_t now = pith_rdtsc();
    if (server.flush_at && now >= server.flush_at) {
        mux_flush(m);
        server.flush_at = 0;
    }
    if (!server.flush_at && mux_holding(m))
        server.flush_at = now + server.tsc_hz / HOLD_TICKS_PER_SECOND;
    if (server.uart_paused && now - server.paused_at >= STALL_SECONDS * server.tsc_hz) {
        mux_stalled(m);
        uart_receive(m);
    }
    uint64_t next = server.flush_at, stall = server.paused_at + STALL_SECONDS * server.tsc_hz;
    if (server.uart_paused && (!next || stall < next))
        next = stall;
    if (next != server.armed) {
        pith_notification_set_deadline(server.notification, next);
        server.armed = next;
    }
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
        int index = mux_hello(m, badge, name);
        return index == -2 ? PITH_E_INVALID_ARG : index < 0 ? PITH_E_NO_MEMORY : PITH_OK;
    }
    case PITH_CONSOLE_NAME: {
        if (badge != PITH_CONSOLE_ROOT_BADGE || length < 1)
            return PITH_E_ILLEGAL_OP;
        char name[PITH_CONSOLE_NAME_MAX + 1] = { 0 };
        for (unsigned i = 0; i < PITH_CONSOLE_NAME_MAX && 1 + i / 8 < length; i++)
            name[i] = (char)(words[1 + i / 8] >> (8 * (i % 8)));
        int index = mux_name(m, words[0], name);
        return index == -2 ? PITH_E_INVALID_ARG : index < 0 ? PITH_E_NO_MEMORY : PITH_OK;
    }
    case PITH_CONSOLE_WRITE: {
        uint64_t n = length ? words[0] : 0;
        if (n > PITH_CONSOLE_WRITE_MAX || (n + 7) / 8 + 1 > length)
            return PITH_E_INVALID_ARG;
        mux_write(m, badge, (const char *)&words[1], n);
        uart_drain();       /* the client may power off next: its words are out first */
        return PITH_OK;
    }
    case PITH_CONSOLE_READ: {
        uint8_t bytes[PITH_CONSOLE_READ_MAX] = { 0 };
        size_t n = mux_read(m, badge, bytes, sizeof(bytes));
        if (n)
            server.paused_at = pith_rdtsc();    /* a reader: the stall clock starts again */
        msg->mr[0] = n;
        for (unsigned i = 0; i < 3; i++) {
            msg->mr[1 + i] = 0;
            for (unsigned b = 0; b < 8; b++)
                msg->mr[1 + i] |= (uint64_t)bytes[i * 8 + b] << (8 * b);
        }
        return PITH_OK;
    }
    case PITH_CONSOLE_STOPPED:
        if (badge != PITH_CONSOLE_ROOT_BADGE || length < 1)
            return PITH_E_ILLEGAL_OP;
        mux_stopped(m, words[0]);
        return PITH_OK;
    case PITH_CONSOLE_FOCUS:
        if (badge != PITH_CONSOLE_ROOT_BADGE || length < 1)
            return PITH_E_ILLEGAL_OP;
        return mux_focus(m, words[0]) ? PITH_OK : PITH_E_INVALID_ARG;
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
    uint64_t ntfn = 0, quiet = 0;
    pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &ntfn);
    pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &quiet);
    struct pith_rest rest = { .notification = quiet };      /* nobody signals it */
    server.notification = ntfn;
    server.tsc_hz = bi->tsc_hz ? bi->tsc_hz : 1000000000;
    pith_thread_bind_notification(PITH_SLOT_THREAD, ntfn);
    pith_irq_set_notification(irq, ntfn);
    uart_setup();
    pith_outb(COM1 + 4, 0x0b);                  /* MCR: DTR, RTS, OUT2 (the IRQ line) */
    mux_init(&m, uart_emit, NULL);
    mux_set_shell(&m, PITH_CONSOLE_ROOT_BADGE);     /* the root task's control shell */

    struct pith_msg msg;
    pith_recv(service, &msg);
    for (;;) {
        if (msg.info & PITH_MSG_FROM_NOTIFICATION) {
            uart_receive(&m);
            if (msg.badge & (1ull << COM1_IRQ))
                pith_irq_ack(irq);
            deadlines(&m);
            pith_recv(service, &msg);
            continue;
        }
        uint64_t err = handle(&m, msg.badge, &msg);
        if (server.uart_paused && mux_input_room(&m))  /* a READ or a stop made room */
            uart_receive(&m);
        deadlines(&m);
        unsigned words = pith_msginfo_label(msg.info) == PITH_CONSOLE_READ && !err ? 4 : 0;
        msg.info = pith_msginfo(err, words, 0);
        if (quiet && waited_tsc >= REST_AFTER_US * server.tsc_hz / 1000000) {
            pith_reply(&msg);
            uint64_t most = REST_MOST_US * server.tsc_hz / 1000000;
            pith_rest_after(&rest, pith_rdtsc() - (waited_tsc < most ? waited_tsc : most));
            waited_tsc = 0;
            pith_recv(service, &msg);
            continue;
        }
        pith_reply_recv(service, &msg);
    }
}
