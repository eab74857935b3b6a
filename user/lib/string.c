/*
 * Memory and string functions.  Fill and copy go 64 bytes a step (pith/bulk.h), the
 * tail by `rep stosb` / `rep movsb`, which GCC's loop-pattern recognition cannot turn
 * back into a call to memcpy or memset, recursing forever.
 */
#include <stdint.h>

#include <pith/bulk.h>
#include "pith/string.h"

void *pith_memset(void *dst, int byte, size_t n)
{
    return pith_bulk_memset(dst, byte, n);
}

void *pith_memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    return pith_bulk_memcpy(dst, src, n);
}

/* Overlapping with dst above src: copy from the last byte down (direction flag set
 * only for this one instruction; the System V ABI requires it clear otherwise). */
void *pith_memmove(void *dst, const void *src, size_t n)
{
    if ((uintptr_t)dst <= (uintptr_t)src || (uintptr_t)dst >= (uintptr_t)src + n)
        return pith_memcpy(dst, src, n);
    if (n == 0)
        return dst;

    void *last_dst = (char *)dst + n - 1;
    const void *last_src = (const char *)src + n - 1;
    __asm__ volatile("std\n\trep movsb\n\tcld"
                     : "+D"(last_dst), "+S"(last_src), "+c"(n)
                     :
                     : "memory");
    return dst;
}

int pith_memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t pith_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int pith_strcmp(const char *a, const char *b)
{
    return pith_strncmp(a, b, SIZE_MAX);
}

int pith_strncmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x != y)
            return x < y ? -1 : 1;
        if (x == 0)
            break;
    }
    return 0;
}

char *pith_strchr(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (*s == 0)
            return NULL;
    }
}

size_t pith_strlcpy(char *restrict dst, const char *restrict src, size_t size)
{
    size_t length = pith_strlen(src);
    if (size > 0) {
        size_t copied = length < size - 1 ? length : size - 1;
        pith_memcpy(dst, src, copied);
        dst[copied] = 0;
    }
    return length;
}

/* The standard names, as separate symbols so that either may be replaced. */
void *memset(void *dst, int byte, size_t n)
{
    return pith_memset(dst, byte, n);
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    return pith_memcpy(dst, src, n);
}

void *memmove(void *dst, const void *src, size_t n)
{
    return pith_memmove(dst, src, n);
}

int memcmp(const void *a, const void *b, size_t n)
{
    return pith_memcmp(a, b, n);
}
