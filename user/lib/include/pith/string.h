/*
 * Memory and string functions. The mem* functions also exist under their standard
 * names, because GCC emits calls to memset, memcpy, memmove and memcmp on its own
 * (struct copies, large initialisers) even in freestanding code.
 */
#ifndef PITH_STRING_H
#define PITH_STRING_H

#include <stddef.h>

void *pith_memset(void *dst, int byte, size_t n);
void *pith_memcpy(void *restrict dst, const void *restrict src, size_t n);
void *pith_memmove(void *dst, const void *src, size_t n);
int pith_memcmp(const void *a, const void *b, size_t n);

size_t pith_strlen(const char *s);
int pith_strcmp(const char *a, const char *b);
int pith_strncmp(const char *a, const char *b, size_t n);
char *pith_strchr(const char *s, int c);

/* Copies at most size-1 characters and always terminates (if size > 0); returns
 * strlen(src), so a result >= size means the copy was cut short. */
size_t pith_strlcpy(char *restrict dst, const char *restrict src, size_t size);

void *memset(void *dst, int byte, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
