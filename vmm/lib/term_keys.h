/*
 * Keys from a terminal: what a VT100/xterm-style terminal sends for keys that are not
 * characters (the arrows, Home, End, Page Up/Down, Insert, Delete, F1-F12) as escape
 * sequences, turned back into those keys for a keyboard model.  Pure.
 */
#ifndef VMM_TERM_KEYS_H
#define VMM_TERM_KEYS_H

#include <stdbool.h>

/* What term_key_decode() found at the start of the input. */
enum term_key_result {
    TERM_KEY_MORE,          /* a sequence has begun and may go on: wait for more input */
    TERM_KEY_FOUND,         /* *key is a character or an enum ps2_key */
    TERM_KEY_SKIP,          /* a sequence of no key this keyboard has: drop *used bytes */
};

/*
 * Decodes the key at the start of bytes[0..count) (count > 0) and sets *used to the
 * bytes it takes.  An Escape followed by nothing is TERM_KEY_MORE until `settled`
 * says no more is coming (the caller's pause, or a window of input that is full); it is
 * then the Escape key itself, as is an Escape followed by anything that starts no
 * sequence.  A sequence still unfinished when settled is dropped whole.
 */
enum term_key_result term_key_decode(const unsigned char *bytes, unsigned count, bool settled,
                                     int *key, unsigned *used);

#endif
