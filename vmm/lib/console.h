/*
 * Guest console output as lines: bytes from the guest's UART are collected until a
 * newline and handed on as one line, so the VMM can prefix each with the guest's name
 * and the lines of several guests never interleave mid-line.  Carriage returns are
 * dropped, other control characters shown as '?', and a line longer than the buffer
 * is handed on in pieces.  Pure.
 */
#ifndef VMM_CONSOLE_H
#define VMM_CONSOLE_H

#include <stdint.h>

#define CONSOLE_LINE_MAX 240

struct console {
    char line[CONSOLE_LINE_MAX + 1];
    unsigned length;
    void (*emit)(void *context, const char *line);  /* without the newline */
    void *context;
};

void console_init(struct console *c, void (*emit)(void *context, const char *line),
                  void *context);
void console_put(struct console *c, uint8_t byte);
/* Hands on a partial last line, if any. */
void console_flush(struct console *c);

#endif
