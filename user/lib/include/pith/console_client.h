/* Talking to the console server (pith/console.h) through a badged endpoint capability. */
#ifndef PITH_CONSOLE_CLIENT_H
#define PITH_CONSOLE_CLIENT_H

#include <stddef.h>
#include "pith/console.h"
#include "pith/syscall.h"

enum pith_error pith_console_hello(pith_cap_t console, const char *name);
/* The root task names the client with `badge` (its guest's configured name) before it
 * runs: that client's HELLO cannot change it. */
enum pith_error pith_console_name(pith_cap_t console, uint64_t badge, const char *name);
/* Writes all n bytes (in pieces of PITH_CONSOLE_WRITE_MAX). */
enum pith_error pith_console_write(pith_cap_t console, const char *bytes, size_t n);
/* Typed input for this client: up to max bytes (max ≤ PITH_CONSOLE_READ_MAX); *got = count. */
enum pith_error pith_console_read(pith_cap_t console, char *out, size_t max, size_t *got);
/* The root task tells the server that the client with `badge` has stopped. */
enum pith_error pith_console_stopped(pith_cap_t console, uint64_t badge);
/* The root task focuses the client with `badge` (the control shell's `console NAME`). */
enum pith_error pith_console_focus(pith_cap_t console, uint64_t badge);

#endif
