/* The console multiplexer (mux.h). */
#include "mux.h"
#include <pith/console.h>

static struct mux_client *find(struct mux *m, uint64_t badge)
{
    for (unsigned i = 0; i < m->count; i++)
        if (m->clients[i].badge == badge)
            return &m->clients[i];
    return NULL;
}

static size_t text_length(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

void mux_init(struct mux *m, void (*emit)(void *ctx, const char *text, size_t length), void *ctx)
{
    *m = (struct mux){ .emit = emit, .ctx = ctx };
}

int mux_hello(struct mux *m, uint64_t badge, const char *name)
{
    struct mux_client *c = find(m, badge);
    if (!c) {
        if (m->count == MUX_CLIENTS)
            return -1;
        c = &m->clients[m->count++];
        *c = (struct mux_client){ .badge = badge };
    }
    size_t n = text_length(name, sizeof(c->name) - 1);
    for (size_t i = 0; i < n; i++)
        c->name[i] = name[i];
    c->name[n] = 0;
    return (int)(c - m->clients);
}

static void flush_line(struct mux *m, struct mux_client *c)
{
    m->emit(m->ctx, "[", 1);
    m->emit(m->ctx, c->name, text_length(c->name, sizeof(c->name)));
    m->emit(m->ctx, "] ", 2);
    m->emit(m->ctx, c->line, c->line_length);
    m->emit(m->ctx, "\r\n", 2);
    c->line_length = 0;
}

void mux_write(struct mux *m, uint64_t badge, const char *bytes, size_t length)
{
    struct mux_client *c = find(m, badge);
    if (!c)
        return;
    for (size_t i = 0; i < length; i++) {
        char ch = bytes[i];
        if (ch == '\r')
            continue;
        if (ch == '\n') {
            flush_line(m, c);
            continue;
        }
        c->line[c->line_length++] = ch;
        if (c->line_length == MUX_LINE_MAX)     /* an overlong line goes out in pieces */
            flush_line(m, c);
    }
}

static void queue(struct mux_client *c, uint8_t byte)
{
    if (c->input_count == MUX_INPUT_SIZE)
        return;                                 /* a full queue drops what is typed */
    c->input[(c->input_head + c->input_count++) % MUX_INPUT_SIZE] = byte;
}

void mux_input(struct mux *m, uint8_t byte)
{
    if (m->escape) {
        m->escape = false;
        if (byte >= '1' && byte <= '9' && (unsigned)(byte - '1') < m->count) {
            m->focus = byte - '1';
            const char *note = "[console] focus: ";
            m->emit(m->ctx, note, text_length(note, 32));
            m->emit(m->ctx, m->clients[m->focus].name, text_length(m->clients[m->focus].name, 32));
            m->emit(m->ctx, "\r\n", 2);
            return;
        }
        if (byte != PITH_CONSOLE_ESCAPE)
            return;                             /* an unknown escape is dropped */
    } else if (byte == PITH_CONSOLE_ESCAPE) {
        m->escape = true;
        return;
    }
    if (m->count)
        queue(&m->clients[m->focus], byte);
}

size_t mux_read(struct mux *m, uint64_t badge, uint8_t *out, size_t max)
{
    struct mux_client *c = find(m, badge);
    size_t n = 0;
    /* The keyboard starts with the first client that wants input. */
    if (c && !c->reads && m->count && !m->clients[m->focus].reads)
        m->focus = (unsigned)(c - m->clients);
    if (c)
        c->reads = true;
    while (c && n < max && c->input_count) {
        out[n++] = c->input[c->input_head];
        c->input_head = (c->input_head + 1) % MUX_INPUT_SIZE;
        c->input_count--;
    }
    return n;
}
