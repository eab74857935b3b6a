/* The GDB remote protocol's framing (gdb_rsp.h). */
#include "gdb_rsp.h"

const char gdb_hex_chars[16] = "0123456789abcdef";

int gdb_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void gdb_rsp_init(struct gdb_rsp *r)
{
    r->state = RSP_IDLE;
    r->length = 0;
    r->sum = 0;
    r->too_long = false;
    r->data[0] = 0;
}

static void keep(struct gdb_rsp *r, uint8_t byte)
{
    if (r->length < GDB_RSP_MAX)
        r->data[r->length++] = (char)byte;
    else
        r->too_long = true;
}

/* Outside a packet only '$', '+', '-' and 0x03 mean something; other bytes (line
 * noise, a stray '#') are skipped. */
static enum gdb_rsp_event idle(struct gdb_rsp *r, uint8_t byte)
{
    switch (byte) {
    case '$':
        r->state = RSP_DATA;
        r->length = 0;
        r->sum = 0;
        r->too_long = false;
        return GDB_RSP_NONE;
    case '+':
        return GDB_RSP_ACK;
    case '-':
        return GDB_RSP_NACK;
    case GDB_RSP_INTERRUPT:
        return GDB_RSP_INTERRUPT_EVENT;
    default:
        return GDB_RSP_NONE;
    }
}

static enum gdb_rsp_event finish(struct gdb_rsp *r, int low)
{
    int high = gdb_hex_digit((char)r->given);
    r->state = RSP_IDLE;
    r->data[r->length] = 0;
    if (high < 0 || low < 0 || (uint8_t)(high << 4 | low) != r->sum || r->too_long) {
        r->length = 0;
        r->data[0] = 0;
        return GDB_RSP_BAD_PACKET;
    }
    return GDB_RSP_PACKET;
}

enum gdb_rsp_event gdb_rsp_feed(struct gdb_rsp *r, uint8_t byte)
{
    switch (r->state) {
    case RSP_IDLE:
        return idle(r, byte);
    case RSP_DATA:
        if (byte == '#') {
            r->state = RSP_SUM1;
            return GDB_RSP_NONE;
        }
        if (byte == '$') {              /* a new packet before the end: the old one is lost */
            r->length = 0;
            r->sum = 0;
            r->too_long = false;
            return GDB_RSP_NONE;
        }
        r->sum = (uint8_t)(r->sum + byte);
        if (byte == '}')
            r->state = RSP_ESCAPE;
        else
            keep(r, byte);
        return GDB_RSP_NONE;
    case RSP_ESCAPE:
        r->sum = (uint8_t)(r->sum + byte);
        keep(r, byte ^ 0x20);
        r->state = RSP_DATA;
        return GDB_RSP_NONE;
    case RSP_SUM1:
        r->given = byte;
        r->state = RSP_SUM2;
        return GDB_RSP_NONE;
    case RSP_SUM2:
    default:
        return finish(r, gdb_hex_digit((char)byte));
    }
}

static bool needs_escape(char c)
{
    return c == '$' || c == '#' || c == '}' || c == '*';
}

size_t gdb_rsp_encode(const char *data, size_t length, char *out, size_t out_size)
{
    size_t n = 0;
    uint8_t sum = 0;
    if (out_size < 4)
        return 0;
    out[n++] = '$';
    for (size_t i = 0; i < length; i++) {
        bool escape = needs_escape(data[i]);
        if (n + (escape ? 2 : 1) + 3 > out_size)
            return 0;
        if (escape) {
            out[n++] = '}';
            sum = (uint8_t)(sum + '}');
            out[n] = (char)(data[i] ^ 0x20);
        } else {
            out[n] = data[i];
        }
        sum = (uint8_t)(sum + (uint8_t)out[n++]);
    }
    out[n++] = '#';
    out[n++] = gdb_hex_chars[sum >> 4];
    out[n++] = gdb_hex_chars[sum & 15];
    return n;
}
