/*
 * The GDB remote serial protocol's framing (GDB manual, "Remote Protocol", E.1
 * Overview): packets `$data#cc` with cc the modulo-256 sum of data in two hex digits,
 * `+`/`-` acknowledgements, and a lone 0x03 byte for an interrupt.  In data, `}` escapes
 * the next byte (sent XOR 0x20); `$`, `#`, `}` and `*` are always escaped when sent.
 * Run-length encoding (`*`) is only produced by stubs, never by GDB, so it is not
 * decoded here; this side never produces it.
 *
 * Pure logic, no I/O: the receiver takes bytes one at a time and says when a whole
 * packet (or an interrupt) has arrived; the encoder writes a packet into a buffer.
 * Both bound every length, so a hostile client cannot make them write out of bounds:
 * a packet longer than GDB_RSP_MAX is dropped and answered with `-`.
 */
#ifndef VMM_DEV_GDB_RSP_H
#define VMM_DEV_GDB_RSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GDB_RSP_MAX      4096       /* decoded packet data, as qSupported says (PacketSize) */
#define GDB_RSP_INTERRUPT 0x03

enum gdb_rsp_event {
    GDB_RSP_NONE,                   /* nothing complete yet */
    GDB_RSP_PACKET,                 /* a packet with a good checksum: data, length; ack '+' */
    GDB_RSP_BAD_PACKET,             /* a bad checksum or too long: answer '-' */
    GDB_RSP_INTERRUPT_EVENT,        /* 0x03 outside a packet */
    GDB_RSP_ACK,                    /* '+' */
    GDB_RSP_NACK,                   /* '-': send the last packet again */
};

enum gdb_rsp_state { RSP_IDLE, RSP_DATA, RSP_ESCAPE, RSP_SUM1, RSP_SUM2 };

struct gdb_rsp {
    enum gdb_rsp_state state;
    uint8_t sum;                    /* running sum of the bytes as sent */
    uint8_t given;                  /* the checksum's first digit */
    bool too_long;
    size_t length;
    char data[GDB_RSP_MAX + 1];     /* NUL-terminated for the command parser */
};

void gdb_rsp_init(struct gdb_rsp *r);
/* One byte from the client.  After GDB_RSP_PACKET, r->data holds the packet until the
 * next byte is fed. */
enum gdb_rsp_event gdb_rsp_feed(struct gdb_rsp *r, uint8_t byte);

/* `$data#cc` for length bytes of data, escaped, into out (at most out_size bytes).
 * Returns the encoded length, 0 when it does not fit. */
size_t gdb_rsp_encode(const char *data, size_t length, char *out, size_t out_size);

/* Hex helpers shared with the command parser: a digit's value or -1. */
int gdb_hex_digit(char c);
extern const char gdb_hex_chars[16];

#endif
