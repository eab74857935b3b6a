/*
 * A PS/2 keyboard behind the 8042: characters typed on the guest's console become
 * make and break codes (scan code set 2, or set 1 when the guest selects it), the
 * keyboard answers the commands a BIOS and an OS send it (reset, identify, LEDs,
 * scan code set, enable/disable), and ps2_translate() is the 8042's set 2 -> set 1
 * translation that PCs apply by default (configuration byte bit 6).  Pure: bytes go
 * into a FIFO the controller drains.
 */
#ifndef VMM_PS2_KEYBOARD_H
#define VMM_PS2_KEYBOARD_H

#include <stdbool.h>
#include <stdint.h>

#define PS2_QUEUE       64

/* Keys that are not characters, for ps2_keyboard_key(). */
enum ps2_key {
    PS2_KEY_UP = 0x100, PS2_KEY_DOWN, PS2_KEY_LEFT, PS2_KEY_RIGHT,
    PS2_KEY_HOME, PS2_KEY_END, PS2_KEY_PAGE_UP, PS2_KEY_PAGE_DOWN,
    PS2_KEY_INSERT, PS2_KEY_DELETE,
    PS2_KEY_F1, PS2_KEY_F2, PS2_KEY_F3, PS2_KEY_F4, PS2_KEY_F5, PS2_KEY_F6,
    PS2_KEY_F7, PS2_KEY_F8, PS2_KEY_F9, PS2_KEY_F10, PS2_KEY_F11, PS2_KEY_F12,
    PS2_KEY_LSHIFT, PS2_KEY_LCTRL, PS2_KEY_LALT,
};

struct ps2_keyboard {
    uint8_t queue[PS2_QUEUE];
    unsigned head, count;
    uint8_t set;                /* 1, 2 or 3 (3 is accepted and served as 2) */
    bool enabled;               /* scanning: F4 enables, F5 disables */
    uint8_t leds;
    uint8_t pending;            /* a command waiting for its argument, 0 for none */
};

void ps2_keyboard_init(struct ps2_keyboard *k);
/* The next byte for the controller; false when the FIFO is empty. */
bool ps2_keyboard_pop(struct ps2_keyboard *k, uint8_t *byte);
bool ps2_keyboard_has_data(const struct ps2_keyboard *k);
/* A byte the guest wrote to the keyboard (port 0x60 without a controller command). */
void ps2_keyboard_write(struct ps2_keyboard *k, uint8_t byte);
/* A character typed on the console: press and release of its key, with Shift or Ctrl
 * around it as the character needs (ASCII; control characters as Ctrl+letter; \n and
 * \r are Enter, \b and DEL Backspace, \t Tab, ESC Escape).  false: no such key, or the
 * FIFO is full (nothing is queued then), or scanning is disabled. */
bool ps2_keyboard_type(struct ps2_keyboard *k, int ch);
/* Press or release one key (a character or enum ps2_key). */
bool ps2_keyboard_key(struct ps2_keyboard *k, int key, bool release);

/* The codes of one key: set 1 and set 2, with the E0 prefix for extended keys. */
struct ps2_scancode {
    uint8_t set1, set2;
    bool extended;
    bool shift;                 /* the character needs Shift */
};
/* false: a character or key the keyboard has not. */
bool ps2_scancode_of(int key, struct ps2_scancode *out);

/* The 8042's translation of one set 2 byte into set 1 (prefix state kept in *state,
 * start at 0).  Returns false when the byte produces nothing (F0, the break prefix,
 * which sets bit 7 of the next code). */
bool ps2_translate(uint8_t *state, uint8_t in, uint8_t *out);

#endif
