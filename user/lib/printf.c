/*
 * A small printf. The formatter writes into a sink: a bounded buffer (snprintf) or a
 * buffer that is flushed to the console whenever it fills (printf).
 */
#include <stdbool.h>
#include <stdint.h>

#include "pith/console_client.h"
#include "pith/printf.h"
#include "pith/syscall.h"

struct sink {
    char *buf;
    size_t capacity;        /* characters buf holds, not counting a terminator */
    size_t used;
    size_t total;           /* characters produced so far, kept or not */
    void (*flush)(struct sink *sink);  /* NULL: drop what does not fit */
};

static void sink_put(struct sink *sink, char c)
{
    if (sink->used == sink->capacity && sink->flush)
        sink->flush(sink);
    if (sink->used < sink->capacity)
        sink->buf[sink->used++] = c;
    sink->total++;
}

static void sink_repeat(struct sink *sink, char c, size_t count)
{
    while (count-- > 0)
        sink_put(sink, c);
}

/* One conversion's flags, width and precision. */
struct spec {
    bool left_align;
    bool zero_pad;
    size_t width;
    int precision;          /* -1: not given */
};

/* Pads `body` (already in characters: sign/prefix, zeros, digits) out to the width. */
static void put_field(struct sink *sink, const struct spec *spec, const char *prefix,
                      size_t zeros, const char *body, size_t body_length)
{
    size_t prefix_length = 0;
    while (prefix[prefix_length])
        prefix_length++;
    size_t length = prefix_length + zeros + body_length;
    size_t padding = spec->width > length ? spec->width - length : 0;

    if (spec->zero_pad && !spec->left_align && spec->precision < 0) {
        zeros += padding;
        padding = 0;
    }
    if (!spec->left_align)
        sink_repeat(sink, ' ', padding);
    for (size_t i = 0; i < prefix_length; i++)
        sink_put(sink, prefix[i]);
    sink_repeat(sink, '0', zeros);
    for (size_t i = 0; i < body_length; i++)
        sink_put(sink, body[i]);
    if (spec->left_align)
        sink_repeat(sink, ' ', padding);
}

static void put_number(struct sink *sink, const struct spec *spec, uint64_t magnitude,
                       bool negative, unsigned base, bool upper, const char *prefix)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char text[24];          /* 2^64 has 20 decimal, 16 hex digits */
    size_t length = 0;

    /* C: precision 0 prints no digits for the value 0. */
    if (magnitude != 0 || spec->precision != 0) {
        do {
            text[sizeof(text) - 1 - length++] = digits[magnitude % base];
            magnitude /= base;
        } while (magnitude != 0);
    }
    size_t zeros = spec->precision > 0 && (size_t)spec->precision > length
                       ? (size_t)spec->precision - length
                       : 0;
    put_field(sink, spec, negative ? "-" : prefix, zeros, text + sizeof(text) - length,
              length);
}

static void put_string(struct sink *sink, const struct spec *spec, const char *s)
{
    if (!s)
        s = "(null)";
    size_t length = 0;
    while (s[length] && (spec->precision < 0 || length < (size_t)spec->precision))
        length++;
    struct spec text_spec = *spec;
    text_spec.zero_pad = false;
    put_field(sink, &text_spec, "", 0, s, length);
}

enum length_modifier { LENGTH_INT, LENGTH_LONG, LENGTH_LONG_LONG, LENGTH_SIZE };

static const char *parse_length(const char *p, enum length_modifier *length)
{
    *length = LENGTH_INT;
    if (p[0] == 'l' && p[1] == 'l') {
        *length = LENGTH_LONG_LONG;
        return p + 2;
    }
    if (p[0] == 'l') {
        *length = LENGTH_LONG;
        return p + 1;
    }
    if (p[0] == 'z') {
        *length = LENGTH_SIZE;
        return p + 1;
    }
    return p;
}

/* va_list is passed by pointer so the callee's va_arg advances the caller's list. */
static int64_t next_signed(va_list *args, enum length_modifier length)
{
    switch (length) {
    case LENGTH_LONG: return va_arg(*args, long);
    case LENGTH_LONG_LONG: return va_arg(*args, long long);
    case LENGTH_SIZE: return (int64_t)va_arg(*args, size_t);
    default: return va_arg(*args, int);
    }
}

static uint64_t next_unsigned(va_list *args, enum length_modifier length)
{
    switch (length) {
    case LENGTH_LONG: return va_arg(*args, unsigned long);
    case LENGTH_LONG_LONG: return va_arg(*args, unsigned long long);
    case LENGTH_SIZE: return va_arg(*args, size_t);
    default: return va_arg(*args, unsigned int);
    }
}

static const char *parse_spec(const char *p, struct spec *spec, va_list *args)
{
    *spec = (struct spec){ .precision = -1 };
    for (;; p++) {
        if (*p == '-')
            spec->left_align = true;
        else if (*p == '0')
            spec->zero_pad = true;
        else
            break;
    }
    if (*p == '*') {
        int width = va_arg(*args, int);
        if (width < 0) {
            spec->left_align = true;
            width = -width;
        }
        spec->width = (size_t)width;
        p++;
    } else {
        while (*p >= '0' && *p <= '9')
            spec->width = spec->width * 10 + (size_t)(*p++ - '0');
    }
    if (*p == '.') {
        p++;
        spec->precision = 0;
        if (*p == '*') {
            int precision = va_arg(*args, int);
            spec->precision = precision < 0 ? -1 : precision;
            p++;
        } else {
            while (*p >= '0' && *p <= '9')
                spec->precision = spec->precision * 10 + (*p++ - '0');
        }
    }
    return p;
}

/* Formats one conversion starting after its '%'; returns where the format goes on. */
static const char *format_conversion(struct sink *sink, const char *p, va_list *args)
{
    const char *start = p - 1;
    struct spec spec;
    enum length_modifier length;

    p = parse_spec(p, &spec, args);
    p = parse_length(p, &length);
    switch (*p) {
    case 'd':
    case 'i': {
        int64_t value = next_signed(args, length);
        uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
        put_number(sink, &spec, magnitude, value < 0, 10, false, "");
        break;
    }
    case 'u':
        put_number(sink, &spec, next_unsigned(args, length), false, 10, false, "");
        break;
    case 'x':
    case 'X':
        put_number(sink, &spec, next_unsigned(args, length), false, 16, *p == 'X', "");
        break;
    case 'p':
        put_number(sink, &spec, (uintptr_t)va_arg(*args, void *), false, 16, false, "0x");
        break;
    case 's':
        put_string(sink, &spec, va_arg(*args, const char *));
        break;
    case 'c': {
        char c = (char)va_arg(*args, int);
        struct spec char_spec = spec;
        char_spec.zero_pad = false;
        put_field(sink, &char_spec, "", 0, &c, 1);
        break;
    }
    case '%':
        sink_put(sink, '%');
        break;
    default:
        /* Unknown or cut-off conversion: print it as written. */
        while (start < p)
            sink_put(sink, *start++);
        if (*p == 0)
            return p;
        sink_put(sink, *p);
        break;
    }
    return p + 1;
}

static void format(struct sink *sink, const char *fmt, va_list args)
{
    va_list cursor;
    va_copy(cursor, args);
    for (const char *p = fmt; *p;) {
        if (*p == '%')
            p = format_conversion(sink, p + 1, &cursor);
        else
            sink_put(sink, *p++);
    }
    va_end(cursor);
}

static int clamp_to_int(size_t n)
{
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

int pith_vsnprintf(char *buf, size_t size, const char *fmt, va_list args)
{
    struct sink sink = { .buf = buf, .capacity = size > 0 ? size - 1 : 0 };
    format(&sink, fmt, args);
    if (size > 0)
        buf[sink.used] = 0;
    return clamp_to_int(sink.total);
}

int pith_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int n = pith_vsnprintf(buf, size, fmt, args);
    va_end(args);
    return n;
}

/* Where pith_printf writes: the console server once pith_printf_to_console named
 * one, the kernel's debug console before that or when the server does not answer. */
static pith_cap_t printf_console;

void pith_printf_to_console(uint64_t console)
{
    printf_console = console;
}

static void console_flush(struct sink *sink)
{
    if (sink->used && (!printf_console ||
                       pith_console_write(printf_console, sink->buf, sink->used) != PITH_OK))
        for (size_t i = 0; i < sink->used; i++)
            pith_debug_putc(sink->buf[i]);
    sink->used = 0;
}

int pith_vprintf(const char *fmt, va_list args)
{
    char buf[256];
    struct sink sink = { .buf = buf, .capacity = sizeof(buf), .flush = console_flush };
    format(&sink, fmt, args);
    console_flush(&sink);
    return clamp_to_int(sink.total);
}

int pith_printf(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int n = pith_vprintf(fmt, args);
    va_end(args);
    return n;
}

int pith_puts(const char *s)
{
    return pith_printf("%s\n", s);
}
