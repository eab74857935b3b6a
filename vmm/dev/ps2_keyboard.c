/*
 * PS/2 keyboard (IBM PS/2 Hardware Interface Technical Reference, keyboard commands;
 * scan code sets 1 and 2 of the US 101/102-key layout).  One table gives every key's
 * set 1 and set 2 code; the 8042's translation is the same table read backwards, so
 * translated set 2 agrees with set 1 by construction.
 */
#include "ps2_keyboard.h"

#define ACK             0xfa
#define RESEND          0xfe
#define SELF_TEST_OK    0xaa
#define BREAK_SET2      0xf0
#define EXTENDED        0xe0

struct key_codes {
    int key;
    uint8_t set1, set2;
};

/* The unshifted characters and the named keys. */
static const struct key_codes keys[] = {
    { 0x1b, 0x01, 0x76 }, { '1', 0x02, 0x16 }, { '2', 0x03, 0x1e }, { '3', 0x04, 0x26 },
    { '4', 0x05, 0x25 }, { '5', 0x06, 0x2e }, { '6', 0x07, 0x36 }, { '7', 0x08, 0x3d },
    { '8', 0x09, 0x3e }, { '9', 0x0a, 0x46 }, { '0', 0x0b, 0x45 }, { '-', 0x0c, 0x4e },
    { '=', 0x0d, 0x55 }, { '\b', 0x0e, 0x66 }, { '\t', 0x0f, 0x0d },
    { 'q', 0x10, 0x15 }, { 'w', 0x11, 0x1d }, { 'e', 0x12, 0x24 }, { 'r', 0x13, 0x2d },
    { 't', 0x14, 0x2c }, { 'y', 0x15, 0x35 }, { 'u', 0x16, 0x3c }, { 'i', 0x17, 0x43 },
    { 'o', 0x18, 0x44 }, { 'p', 0x19, 0x4d }, { '[', 0x1a, 0x54 }, { ']', 0x1b, 0x5b },
    { '\n', 0x1c, 0x5a }, { PS2_KEY_LCTRL, 0x1d, 0x14 },
    { 'a', 0x1e, 0x1c }, { 's', 0x1f, 0x1b }, { 'd', 0x20, 0x23 }, { 'f', 0x21, 0x2b },
    { 'g', 0x22, 0x34 }, { 'h', 0x23, 0x33 }, { 'j', 0x24, 0x3b }, { 'k', 0x25, 0x42 },
    { 'l', 0x26, 0x4b }, { ';', 0x27, 0x4c }, { '\'', 0x28, 0x52 }, { '`', 0x29, 0x0e },
    { PS2_KEY_LSHIFT, 0x2a, 0x12 }, { '\\', 0x2b, 0x5d },
    { 'z', 0x2c, 0x1a }, { 'x', 0x2d, 0x22 }, { 'c', 0x2e, 0x21 }, { 'v', 0x2f, 0x2a },
    { 'b', 0x30, 0x32 }, { 'n', 0x31, 0x31 }, { 'm', 0x32, 0x3a }, { ',', 0x33, 0x41 },
    { '.', 0x34, 0x49 }, { '/', 0x35, 0x4a }, { PS2_KEY_LALT, 0x38, 0x11 }, { ' ', 0x39, 0x29 },
    { PS2_KEY_F1, 0x3b, 0x05 }, { PS2_KEY_F2, 0x3c, 0x06 }, { PS2_KEY_F3, 0x3d, 0x04 },
    { PS2_KEY_F4, 0x3e, 0x0c }, { PS2_KEY_F5, 0x3f, 0x03 }, { PS2_KEY_F6, 0x40, 0x0b },
    { PS2_KEY_F7, 0x41, 0x83 }, { PS2_KEY_F8, 0x42, 0x0a }, { PS2_KEY_F9, 0x43, 0x01 },
    { PS2_KEY_F10, 0x44, 0x09 }, { PS2_KEY_F11, 0x57, 0x78 }, { PS2_KEY_F12, 0x58, 0x07 },
};

/* Extended keys: E0 then the code, in both sets. */
static const struct key_codes extended_keys[] = {
    { PS2_KEY_UP, 0x48, 0x75 }, { PS2_KEY_DOWN, 0x50, 0x72 }, { PS2_KEY_LEFT, 0x4b, 0x6b },
    { PS2_KEY_RIGHT, 0x4d, 0x74 }, { PS2_KEY_HOME, 0x47, 0x6c }, { PS2_KEY_END, 0x4f, 0x69 },
    { PS2_KEY_PAGE_UP, 0x49, 0x7d }, { PS2_KEY_PAGE_DOWN, 0x51, 0x7a },
    { PS2_KEY_INSERT, 0x52, 0x70 }, { PS2_KEY_DELETE, 0x53, 0x71 },
};

/* Shifted characters and the key that gives them. */
static const char shifted[] = "!@#$%^&*()_+{}:\"~|<>?";
static const char unshifted[] = "1234567890-=[];'`\\,./";

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

bool ps2_scancode_of(int key, struct ps2_scancode *out)
{
    bool shift = false;
    if (key == '\r')
        key = '\n';
    else if (key == 0x7f)
        key = '\b';
    else if (key >= 'A' && key <= 'Z') {
        key += 'a' - 'A';
        shift = true;
    } else {
        for (unsigned i = 0; shifted[i]; i++)
            if (key == shifted[i]) {
                key = unshifted[i];
                shift = true;
                break;
            }
    }
    for (unsigned i = 0; i < COUNT(keys); i++)
        if (keys[i].key == key) {
            *out = (struct ps2_scancode){ keys[i].set1, keys[i].set2, false, shift };
            return true;
        }
    for (unsigned i = 0; i < COUNT(extended_keys); i++)
        if (extended_keys[i].key == key) {
            *out = (struct ps2_scancode){ extended_keys[i].set1, extended_keys[i].set2, true, false };
            return true;
        }
    return false;
}

/* Set 2 code -> set 1 code: the 8042's table, for the codes the keyboard sends. */
static uint8_t set2_to_set1(uint8_t code)
{
    for (unsigned i = 0; i < COUNT(keys); i++)
        if (keys[i].set2 == code)
            return keys[i].set1;
    for (unsigned i = 0; i < COUNT(extended_keys); i++)
        if (extended_keys[i].set2 == code)
            return extended_keys[i].set1;
    return code;            /* 0xfa, 0xaa, 0xe0 and the rest pass unchanged */
}

bool ps2_translate(uint8_t *state, uint8_t in, uint8_t *out)
{
    if (in == BREAK_SET2) {
        *state = 0x80;
        return false;
    }
    /* the answers to commands are not key codes */
    if (in == ACK || in == RESEND || in == SELF_TEST_OK || in == EXTENDED || in == 0xe1) {
        *out = in;
        return true;
    }
    *out = (uint8_t)(set2_to_set1(in) | *state);
    *state = 0;
    return true;
}

void ps2_keyboard_init(struct ps2_keyboard *k)
{
    *k = (struct ps2_keyboard){ .set = 2, .enabled = true };
}

bool ps2_keyboard_has_data(const struct ps2_keyboard *k)
{
    return k->count != 0;
}

bool ps2_keyboard_pop(struct ps2_keyboard *k, uint8_t *byte)
{
    if (!k->count)
        return false;
    *byte = k->queue[k->head];
    k->head = (k->head + 1) % PS2_QUEUE;
    k->count--;
    return true;
}

static void push(struct ps2_keyboard *k, uint8_t byte)
{
    if (k->count < PS2_QUEUE)
        k->queue[(k->head + k->count++) % PS2_QUEUE] = byte;
}

/* The bytes of one key event in the current set; returns how many (at most 3). */
static unsigned encode(const struct ps2_keyboard *k, const struct ps2_scancode *c, bool release,
                       uint8_t out[3])
{
    unsigned n = 0;
    if (c->extended)
        out[n++] = EXTENDED;
    if (k->set == 1) {
        out[n++] = (uint8_t)(c->set1 | (release ? 0x80 : 0));
    } else {
        if (release)
            out[n++] = BREAK_SET2;
        out[n++] = c->set2;
    }
    return n;
}

bool ps2_keyboard_key(struct ps2_keyboard *k, int key, bool release)
{
    struct ps2_scancode c;
    if (!k->enabled || !ps2_scancode_of(key, &c))
        return false;
    uint8_t bytes[3];
    unsigned n = encode(k, &c, release, bytes);
    if (k->count + n > PS2_QUEUE)
        return false;
    for (unsigned i = 0; i < n; i++)
        push(k, bytes[i]);
    return true;
}

bool ps2_keyboard_type(struct ps2_keyboard *k, int ch)
{
    struct ps2_scancode c, modifier;
    int key = ch;
    bool ctrl = false;
    /* control characters other than the named ones: Ctrl + letter */
    if (ch >= 1 && ch <= 26 && ch != '\b' && ch != '\t' && ch != '\n' && ch != '\r') {
        key = 'a' + ch - 1;
        ctrl = true;
    }
    if (!k->enabled || !ps2_scancode_of(key, &c))
        return false;
    bool shift = c.shift;
    if (shift || ctrl)
        ps2_scancode_of(ctrl ? PS2_KEY_LCTRL : PS2_KEY_LSHIFT, &modifier);
    uint8_t bytes[12];
    unsigned n = 0;
    if (shift || ctrl)
        n += encode(k, &modifier, false, bytes + n);
    n += encode(k, &c, false, bytes + n);
    n += encode(k, &c, true, bytes + n);
    if (shift || ctrl)
        n += encode(k, &modifier, true, bytes + n);
    if (k->count + n > PS2_QUEUE)
        return false;
    for (unsigned i = 0; i < n; i++)
        push(k, bytes[i]);
    return true;
}

#define CMD_SET_LEDS        0xed
#define CMD_ECHO            0xee
#define CMD_SCANCODE_SET    0xf0
#define CMD_IDENTIFY        0xf2
#define CMD_TYPEMATIC       0xf3
#define CMD_ENABLE          0xf4
#define CMD_DISABLE         0xf5    /* and restore defaults */
#define CMD_DEFAULTS        0xf6
#define CMD_RESEND          0xfe
#define CMD_RESET           0xff

void ps2_keyboard_write(struct ps2_keyboard *k, uint8_t byte)
{
    uint8_t command = k->pending;
    k->pending = 0;
    if (command == CMD_SET_LEDS) {
        k->leds = byte & 7;
        push(k, ACK);
        return;
    }
    if (command == CMD_TYPEMATIC) {
        push(k, ACK);
        return;
    }
    if (command == CMD_SCANCODE_SET) {
        push(k, ACK);
        if (byte == 0)
            push(k, k->set);            /* the current set (untranslated) */
        else if (byte <= 3)
            k->set = byte;
        return;
    }
    switch (byte) {
    case CMD_SET_LEDS:
    case CMD_TYPEMATIC:
    case CMD_SCANCODE_SET:
        k->pending = byte;
        push(k, ACK);
        break;
    case CMD_ECHO:
        push(k, CMD_ECHO);
        break;
    case CMD_IDENTIFY:
        push(k, ACK);
        push(k, 0xab);                  /* an MF2 keyboard */
        push(k, 0x83);
        break;
    case CMD_ENABLE:
        k->enabled = true;
        push(k, ACK);
        break;
    case CMD_DISABLE:
        k->enabled = false;
        push(k, ACK);
        break;
    case CMD_DEFAULTS:
        k->set = 2;
        k->leds = 0;
        push(k, ACK);
        break;
    case CMD_RESET:
        ps2_keyboard_init(k);           /* empties the FIFO too */
        push(k, ACK);
        push(k, SELF_TEST_OK);
        break;
    case CMD_RESEND:
        push(k, ACK);
        break;
    default:
        push(k, RESEND);                /* not a command this keyboard knows */
        break;
    }
}
