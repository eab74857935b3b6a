/*
 * Terminal escape sequences (ECMA-48 control sequences: ESC [ parameters final, and the
 * SS3 form ESC O final that terminals send for F1-F4 and for the cursor keys in
 * application mode), mapped to the PS/2 keyboard's named keys.
 */
#include "term_keys.h"
#include "dev/ps2_keyboard.h"

#define ESC             0x1b
#define NUMBER_MAX      99          /* no key has a larger number */

/* ESC [ final or ESC O final, no parameters. */
static int final_key(unsigned char final)
{
    switch (final) {
    case 'A': return PS2_KEY_UP;
    case 'B': return PS2_KEY_DOWN;
    case 'C': return PS2_KEY_RIGHT;
    case 'D': return PS2_KEY_LEFT;
    case 'H': return PS2_KEY_HOME;
    case 'F': return PS2_KEY_END;
    case 'P': return PS2_KEY_F1;
    case 'Q': return PS2_KEY_F2;
    case 'R': return PS2_KEY_F3;
    case 'S': return PS2_KEY_F4;
    default:  return -1;
    }
}

/* ESC [ number ~ */
static int tilde_key(unsigned number)
{
    static const struct { unsigned number; int key; } keys[] = {
        { 1, PS2_KEY_HOME }, { 2, PS2_KEY_INSERT }, { 3, PS2_KEY_DELETE }, { 4, PS2_KEY_END },
        { 5, PS2_KEY_PAGE_UP }, { 6, PS2_KEY_PAGE_DOWN }, { 7, PS2_KEY_HOME }, { 8, PS2_KEY_END },
        { 11, PS2_KEY_F1 }, { 12, PS2_KEY_F2 }, { 13, PS2_KEY_F3 }, { 14, PS2_KEY_F4 },
        { 15, PS2_KEY_F5 }, { 17, PS2_KEY_F6 }, { 18, PS2_KEY_F7 }, { 19, PS2_KEY_F8 },
        { 20, PS2_KEY_F9 }, { 21, PS2_KEY_F10 }, { 23, PS2_KEY_F11 }, { 24, PS2_KEY_F12 },
    };
    for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (keys[i].number == number)
            return keys[i].key;
    return -1;
}

static enum term_key_result found(int key, unsigned length, int *out, unsigned *used)
{
    *used = length;
    if (key < 0)
        return TERM_KEY_SKIP;
    *out = key;
    return TERM_KEY_FOUND;
}

/* bytes[0] is ESC and bytes[1] is '[' or 'O'. */
static enum term_key_result sequence(const unsigned char *bytes, unsigned count, bool settled,
                                     int *key, unsigned *used)
{
    bool ss3 = bytes[1] == 'O';
    unsigned number = 0;
    bool digits = false, other_parameters = false;
    for (unsigned i = 2; i < count; i++) {
        unsigned char b = bytes[i];
        if (b >= 0x40 && b <= 0x7e) {                   /* the final byte */
            if (b == '~')
                return found(digits && !other_parameters ? tilde_key(number) : -1, i + 1, key, used);
            return found(digits || other_parameters ? -1 : final_key(b), i + 1, key, used);
        }
        if (ss3 || b < 0x20 || b > 0x3f)
            return found(-1, i + 1, key, used);         /* not a sequence of a key */
        if (b >= '0' && b <= '9' && !other_parameters && number <= NUMBER_MAX) {
            number = number * 10 + (b - '0');
            digits = true;
        } else {
            other_parameters = true;                    /* modifiers (;2) and the like */
        }
    }
    if (settled)
        return found(-1, count, key, used);             /* cut short or overlong: dropped */
    *used = 0;
    return TERM_KEY_MORE;
}

enum term_key_result term_key_decode(const unsigned char *bytes, unsigned count, bool settled,
                                     int *key, unsigned *used)
{
    if (bytes[0] != ESC)
        return found(bytes[0], 1, key, used);
    if (count == 1) {
        if (settled)
            return found(ESC, 1, key, used);
        *used = 0;
        return TERM_KEY_MORE;
    }
    if (bytes[1] == '[' || bytes[1] == 'O')
        return sequence(bytes, count, settled, key, used);
    return found(ESC, 1, key, used);
}
