/* The bulk fill and copy loops of the kernel's and libpith's memset and memcpy. */
#include <pith/bulk.h>

#include "unit.h"

#define AREA 320
#define GUARD 0x5a

/* Every length up to past four steps, at every alignment: the bytes in range take the
 * value, the rest (before and after) stay as they were, and what is left for the
 * caller's byte loop is the length modulo 64, starting where the loop stopped. */
static void fill_every_length_and_alignment(void)
{
    unsigned char area[AREA];
    for (unsigned offset = 0; offset < 8; offset++) {
        for (size_t n = 0; n + offset + 8 <= AREA; n++) {
            memset(area, GUARD, sizeof(area));
            unsigned char *cursor = area + offset;
            size_t left = pith_bulk_fill(&cursor, 0xc3, n);
            CHECK_EQ(left, n % 64);
            CHECK(cursor == area + offset + (n - left));
            for (size_t i = 0; i < AREA; i++) {
                bool inside = i >= offset && i < offset + (n - left);
                if (area[i] != (inside ? 0xc3 : GUARD)) {
                    CHECK(!"a byte filled wrongly");
                    return;
                }
            }
        }
    }
}

static void copy_every_length_and_alignment(void)
{
    unsigned char source[AREA], area[AREA];
    for (size_t i = 0; i < AREA; i++)
        source[i] = (unsigned char)(i * 7 + 1);
    for (unsigned offset = 0; offset < 8; offset++) {
        for (size_t n = 0; n + offset + 8 <= AREA; n++) {
            memset(area, GUARD, sizeof(area));
            unsigned char *cursor = area + offset;
            const unsigned char *from = source + (7 - offset);
            size_t left = pith_bulk_copy(&cursor, &from, n);
            CHECK_EQ(left, n % 64);
            CHECK(cursor == area + offset + (n - left));
            CHECK(from == source + (7 - offset) + (n - left));
            for (size_t i = 0; i < AREA; i++) {
                bool inside = i >= offset && i < offset + (n - left);
                if (area[i] != (inside ? source[7 - offset + (i - offset)] : GUARD)) {
                    CHECK(!"a byte copied wrongly");
                    return;
                }
            }
        }
    }
}

/* The pattern is the byte in every position, whatever the byte's top bit. */
static void fill_pattern_of_high_bytes(void)
{
    unsigned char area[64];
    unsigned char *cursor = area;
    CHECK_EQ(pith_bulk_fill(&cursor, 0xff, sizeof(area)), 0);
    for (size_t i = 0; i < sizeof(area); i++)
        CHECK_EQ(area[i], 0xff);
}

/* pith_copy_words: exactly n words, whatever n (a state group is up to 16, a message
 * up to 64), the words around untouched. */
static void copy_words_every_count(void)
{
    uint64_t source[72], area[74];
    for (size_t i = 0; i < 72; i++)
        source[i] = 0x1111111111111111ull * (i % 15 + 1) + i;
    for (size_t n = 0; n <= 72; n++) {
        for (size_t i = 0; i < 74; i++)
            area[i] = 0x5a5a5a5a5a5a5a5aull;
        pith_copy_words(&area[1], source, n);
        for (size_t i = 0; i < 74; i++) {
            bool inside = i >= 1 && i < 1 + n;
            if (area[i] != (inside ? source[i - 1] : 0x5a5a5a5a5a5a5a5aull)) {
                CHECK(!"a word copied wrongly");
                return;
            }
        }
    }
}

UNIT_TABLE(bulk,
    { "bulk_fill_lengths_alignments", fill_every_length_and_alignment },
    { "bulk_copy_lengths_alignments", copy_every_length_and_alignment },
    { "bulk_fill_high_byte", fill_pattern_of_high_bytes },
    { "bulk_copy_words_counts", copy_words_every_count },
)
