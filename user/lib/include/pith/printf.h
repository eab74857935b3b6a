/*
 * Formatted output: %d %i %u %x %X %p %s %c %% with the length modifiers l, ll and z,
 * a field width (digits or *), a precision (.digits or .*: minimum digits for numbers,
 * maximum characters for %s), and the flags '0' (pad with zeros) and '-' (left-align).
 * Anything else is printed as written.
 */
#ifndef PITH_PRINTF_H
#define PITH_PRINTF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define PITH_PRINTF_FORMAT(fmt_index, first_arg) \
    __attribute__((format(printf, fmt_index, first_arg)))

/* As C's vsnprintf: writes at most size-1 characters and a terminating zero (if
 * size > 0), returns the length the whole output would have had. */
int pith_vsnprintf(char *buf, size_t size, const char *fmt, va_list args);
int pith_snprintf(char *buf, size_t size, const char *fmt, ...) PITH_PRINTF_FORMAT(3, 4);

/* To the kernel debug console, or to the console server named by
 * pith_printf_to_console. Output is collected per call and written in pieces of up
 * to 256 characters, so a normal line goes out in one run. */
int pith_vprintf(const char *fmt, va_list args);
int pith_printf(const char *fmt, ...) PITH_PRINTF_FORMAT(1, 2);

/* From now on pith_printf writes to the console server through this client
 * capability (pith/console_client.h); 0: the kernel debug console again.  What the
 * server does not take goes to the debug console, if the task holds one. */
void pith_printf_to_console(uint64_t console);

/* Writes s and a newline. */
int pith_puts(const char *s);

#endif
