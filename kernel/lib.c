/* Freestanding helpers: memory functions and the kernel's formatted printing. */
#include <stdarg.h>
#include "kernel.h"
#include <arch.h>
#include <pith/bulk.h>

/* 64 bytes a step, then the tail a byte at a time (pith/bulk.h says why). */
void *memset(void *d, int c, size_t n)
{
    return pith_bulk_memset(d, c, n);
}

void *memcpy(void *d, const void *s, size_t n)
{
    return pith_bulk_memcpy(d, s, n);
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] - y[i];
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void print_unsigned(uint64_t v, unsigned base, int width, char pad)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (width-- > n)
        serial_putc(pad);
    while (n)
        serial_putc(buf[--n]);
}

static void vkprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            serial_putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, longs = 0;
        if (*fmt == '0')
            pad = '0';
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l' || *fmt == 'z')
            longs++, fmt++;
        switch (*fmt) {
        case 'd': {
            int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            uint64_t magnitude = (uint64_t)v;
            if (v < 0) {
                serial_putc('-');
                magnitude = 0 - magnitude;
            }
            print_unsigned(magnitude, 10, width, pad);
            break;
        }
        case 'u':
            print_unsigned(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad);
            break;
        case 'x':
            print_unsigned(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad);
            break;
        case 'p':
            serial_putc('0'), serial_putc('x');
            print_unsigned((uint64_t)va_arg(ap, void *), 16, 16, '0');
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            while (*s)
                serial_putc(*s++);
            break;
        }
        case 'c':
            serial_putc((char)va_arg(ap, int));
            break;
        case '%':
            serial_putc('%');
            break;
        default:
            serial_putc('?');
            break;
        }
    }
}

/* Messages user threads can cause (a fault nobody handles, a vCPU without an exit
 * endpoint) are rate-limited: at most WARN_BURST a second, so no task can keep the
 * kernel busy writing to the serial port.  What is dropped is counted and reported. */
#define WARN_BURST 8

void kwarn(const char *fmt, ...)
{
    static uint64_t window_start, dropped;
    static unsigned in_window;
    uint64_t now = arch_timestamp();
    if (now - window_start >= timer_tsc_hz()) {
        if (dropped)
            kprintf("pith: %lu more warnings not shown\n", dropped);
        window_start = now;
        in_window = 0;
        dropped = 0;
    }
    if (in_window++ >= WARN_BURST) {
        dropped++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vkprintf(fmt, ap);
    va_end(ap);
}

int kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vkprintf(fmt, ap);
    va_end(ap);
    return 0;
}

void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kprintf("pith: panic: ");
    vkprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    arch_halt();
}
