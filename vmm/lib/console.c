/* Guest output as lines (console.h). */
#include "console.h"

void console_init(struct console *c, void (*emit)(void *context, const char *line),
                  void *context)
{
    c->length = 0;
    c->line[0] = 0;
    c->emit = emit;
    c->context = context;
}

void console_flush(struct console *c)
{
    if (c->length == 0)
        return;
    c->line[c->length] = 0;
    c->length = 0;
    c->emit(c->context, c->line);
}

void console_put(struct console *c, uint8_t byte)
{
    if (byte == '\n') {
        c->line[c->length] = 0;
        c->length = 0;
        c->emit(c->context, c->line);
        return;
    }
    if (byte == '\r')
        return;
    if ((byte < 0x20 && byte != '\t') || byte >= 0x7f)
        byte = '?';
    c->line[c->length++] = (char)byte;
    if (c->length == CONSOLE_LINE_MAX)
        console_flush(c);
}
