/*
 * Bulk fill and copy, shared by the kernel's and libpith's memset and memcpy.
 *
 * Each step moves 64 bytes with plain 8-byte loads and stores.  `rep stosb` and
 * `rep movsb` are as fast on CPUs with fast string operations, but an emulator steps a
 * `rep` one element at a time: zeroing a 2 MiB frame at a retype or copying a kernel
 * into a guest took several times longer that way under QEMU's TCG.  The empty asm in
 * each loop keeps GCC from recognising the loop and turning it back into a call to
 * memset or memcpy, which would recurse.  x86 allows unaligned 8-byte accesses.
 * Both return how many bytes are left (fewer than 64) for the caller's byte loop.
 */
#ifndef PITH_BULK_H
#define PITH_BULK_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t __attribute__((may_alias, aligned(1))) pith_bulk_word;

static inline size_t pith_bulk_fill(unsigned char **dst, uint8_t byte, size_t n)
{
    uint64_t pattern = byte * 0x0101010101010101ull;
    pith_bulk_word *d = (pith_bulk_word *)*dst;
    for (; n >= 64; n -= 64, d += 8) {
        d[0] = pattern; d[1] = pattern; d[2] = pattern; d[3] = pattern;
        d[4] = pattern; d[5] = pattern; d[6] = pattern; d[7] = pattern;
        __asm__ volatile("" : : "r"(d) : "memory");
    }
    *dst = (unsigned char *)d;
    return n;
}

static inline size_t pith_bulk_copy(unsigned char **dst, const unsigned char **src, size_t n)
{
    pith_bulk_word *d = (pith_bulk_word *)*dst;
    const pith_bulk_word *s = (const pith_bulk_word *)*src;
    for (; n >= 64; n -= 64, d += 8, s += 8) {
        uint64_t a = s[0], b = s[1], c = s[2], e = s[3], f = s[4], g = s[5], h = s[6], i = s[7];
        d[0] = a; d[1] = b; d[2] = c; d[3] = e; d[4] = f; d[5] = g; d[6] = h; d[7] = i;
        __asm__ volatile("" : : "r"(d), "r"(s) : "memory");
    }
    *dst = (unsigned char *)d;
    *src = (const unsigned char *)s;
    return n;
}

/* memset and memcpy themselves, for the kernel's and libpith's names: the bulk, then
 * the tail by `rep stosb` / `rep movsb` (which GCC cannot turn back into a call). */
static inline void *pith_bulk_memset(void *dst, int byte, size_t n)
{
    unsigned char *cursor = dst;
    n = pith_bulk_fill(&cursor, (uint8_t)byte, n);
    __asm__ volatile("rep stosb" : "+D"(cursor), "+c"(n) : "a"(byte) : "memory");
    return dst;
}

static inline void *pith_bulk_memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *cursor = dst;
    const unsigned char *from = src;
    n = pith_bulk_copy(&cursor, &from, n);
    __asm__ volatile("rep movsb" : "+D"(cursor), "+S"(from), "+c"(n) : : "memory");
    return dst;
}

/* 8-byte words (a message's registers, a state group), one by one, without memcpy's
 * call and its byte tail, which an emulator steps a byte at a time.  The empty asm
 * hides the loop from GCC as in pith_bulk_copy. */
static inline void pith_copy_words(uint64_t *to, const uint64_t *from, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        to[i] = from[i];
        __asm__ volatile("" : "+r"(to), "+r"(from));
    }
}

#endif
