/* Terminal escape sequences to keys: the arrows, Home/End, Page Up/Down, Insert/Delete
 * and F1-F12 in the forms terminals send, a lone Escape, sequences split across reads,
 * and sequences of no key, cut short or overlong. */
#include "harness.h"
#include "dev/ps2_keyboard.h"
#include "lib/term_keys.h"

/* Decodes the whole of text as settled input; keys[] gets what was found. */
static unsigned decode_all(const char *text, int *keys, unsigned max)
{
    const unsigned char *b = (const unsigned char *)text;
    unsigned count = (unsigned)strlen(text), n = 0;
    while (count) {
        int key = 0;
        unsigned used = 0;
        enum term_key_result r = term_key_decode(b, count, true, &key, &used);
        if (r == TERM_KEY_MORE || used == 0 || used > count)
            return 1000;            /* settled input never waits, and always moves on */
        if (r == TERM_KEY_FOUND && n < max)
            keys[n++] = key;
        b += used;
        count -= used;
    }
    return n;
}

static void cursor_keys(void)
{
    int k[8];
    CHECK_EQ(decode_all("\x1b[A\x1b[B\x1b[C\x1b[D", k, 8), 4);
    CHECK_EQ(k[0], PS2_KEY_UP); CHECK_EQ(k[1], PS2_KEY_DOWN);
    CHECK_EQ(k[2], PS2_KEY_RIGHT); CHECK_EQ(k[3], PS2_KEY_LEFT);
    CHECK_EQ(decode_all("\x1bOA\x1bOD", k, 8), 2);          /* application mode */
    CHECK_EQ(k[0], PS2_KEY_UP); CHECK_EQ(k[1], PS2_KEY_LEFT);
    CHECK_EQ(decode_all("\x1b[H\x1b[F\x1b[1~\x1b[4~", k, 8), 4);
    CHECK_EQ(k[0], PS2_KEY_HOME); CHECK_EQ(k[1], PS2_KEY_END);
    CHECK_EQ(k[2], PS2_KEY_HOME); CHECK_EQ(k[3], PS2_KEY_END);
    CHECK_EQ(decode_all("\x1b[2~\x1b[3~\x1b[5~\x1b[6~", k, 8), 4);
    CHECK_EQ(k[0], PS2_KEY_INSERT); CHECK_EQ(k[1], PS2_KEY_DELETE);
    CHECK_EQ(k[2], PS2_KEY_PAGE_UP); CHECK_EQ(k[3], PS2_KEY_PAGE_DOWN);
}

static void function_keys(void)
{
    int k[16];
    CHECK_EQ(decode_all("\x1bOP\x1bOQ\x1bOR\x1bOS", k, 16), 4);
    CHECK_EQ(k[0], PS2_KEY_F1); CHECK_EQ(k[3], PS2_KEY_F4);
    CHECK_EQ(decode_all("\x1b[15~\x1b[17~\x1b[21~\x1b[23~\x1b[24~\x1b[11~", k, 16), 6);
    CHECK_EQ(k[0], PS2_KEY_F5); CHECK_EQ(k[1], PS2_KEY_F6); CHECK_EQ(k[2], PS2_KEY_F10);
    CHECK_EQ(k[3], PS2_KEY_F11); CHECK_EQ(k[4], PS2_KEY_F12); CHECK_EQ(k[5], PS2_KEY_F1);
}

static void characters_and_escape(void)
{
    int k[8];
    CHECK_EQ(decode_all("a\x1b" "b", k, 8), 3);             /* Escape then b */
    CHECK_EQ(k[0], 'a'); CHECK_EQ(k[1], 0x1b); CHECK_EQ(k[2], 'b');
    CHECK_EQ(decode_all("\x1b\x1b[A", k, 8), 2);            /* Escape, then Up */
    CHECK_EQ(k[0], 0x1b); CHECK_EQ(k[1], PS2_KEY_UP);
    CHECK_EQ(decode_all("\x1b", k, 8), 1);                  /* settled: the Escape key */
    CHECK_EQ(k[0], 0x1b);
}

static void split_sequences_wait(void)
{
    int key = 0;
    unsigned used = 99;
    const unsigned char esc[] = { 0x1b }, csi[] = { 0x1b, '[' }, half[] = { 0x1b, '[', '1', '5' };
    CHECK_EQ(term_key_decode(esc, 1, false, &key, &used), TERM_KEY_MORE);
    CHECK_EQ(used, 0);
    CHECK_EQ(term_key_decode(csi, 2, false, &key, &used), TERM_KEY_MORE);
    CHECK_EQ(term_key_decode(half, 4, false, &key, &used), TERM_KEY_MORE);
    /* settled while cut short: dropped, not typed as its pieces */
    CHECK_EQ(term_key_decode(half, 4, true, &key, &used), TERM_KEY_SKIP);
    CHECK_EQ(used, 4);
}

static void sequences_of_no_key(void)
{
    int k[8];
    /* unknown final, unknown number, modifiers, a non-parameter byte, an overlong one */
    CHECK_EQ(decode_all("\x1b[Zx", k, 8), 1);
    CHECK_EQ(k[0], 'x');
    CHECK_EQ(decode_all("\x1b[99~y", k, 8), 1);
    CHECK_EQ(k[0], 'y');
    CHECK_EQ(decode_all("\x1b[1;5Az", k, 8), 1);            /* Ctrl-Up: no such key here */
    CHECK_EQ(k[0], 'z');
    CHECK_EQ(decode_all("\x1b[\x01q", k, 8), 1);            /* a control byte ends it */
    CHECK_EQ(k[0], 'q');
    CHECK_EQ(decode_all("\x1b[1111111111111~w", k, 8), 1);  /* a number no key has */
    CHECK_EQ(k[0], 'w');
    CHECK_EQ(decode_all("\x1b[11111111111111111111", k, 8), 0);  /* never finished */
    CHECK_EQ(decode_all("\x1bO5r", k, 8), 1);               /* SS3 takes no parameters */
    CHECK_EQ(k[0], 'r');
}

DEVICE_TESTS(term_keys,
    { "term_keys_cursor", cursor_keys },
    { "term_keys_function", function_keys },
    { "term_keys_characters_and_escape", characters_and_escape },
    { "term_keys_split_sequences_wait", split_sequences_wait },
    { "term_keys_no_key", sequences_of_no_key })
