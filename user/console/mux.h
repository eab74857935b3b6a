/* The console multiplexer, without hardware: per-client line assembly with a name
 * prefix, focus switching, and input queues.  Unit-tested on the host. */
#ifndef CONSOLE_MUX_H
#define CONSOLE_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MUX_CLIENTS     9
#define MUX_LINE_MAX    160
#define MUX_INPUT_SIZE  256

struct mux_client {
    uint64_t badge;
    char name[32];
    char line[MUX_LINE_MAX];
    size_t line_length;
    uint8_t input[MUX_INPUT_SIZE];
    size_t input_head, input_count;
    bool reads;                 /* it has asked for input at least once */
};

struct mux {
    struct mux_client clients[MUX_CLIENTS];
    unsigned count;
    unsigned focus;             /* index of the focused client */
    bool escape;                /* the last input byte was the escape key */
    void (*emit)(void *ctx, const char *text, size_t length);   /* to the UART */
    void *ctx;
};

void mux_init(struct mux *m, void (*emit)(void *ctx, const char *text, size_t length), void *ctx);
/* A client introduces itself; returns its index or -1 when the table is full. */
int mux_hello(struct mux *m, uint64_t badge, const char *name);
/* Output from a client: complete lines go out prefixed with "[name] ". */
void mux_write(struct mux *m, uint64_t badge, const char *bytes, size_t length);
/* A byte typed on the keyboard. */
void mux_input(struct mux *m, uint8_t byte);
/* Up to max bytes queued for the client; returns how many. */
size_t mux_read(struct mux *m, uint64_t badge, uint8_t *out, size_t max);

#endif
