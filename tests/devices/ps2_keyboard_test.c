/* The PS/2 keyboard: characters to set 2 and set 1 codes, the 8042's translation, the
 * command set a BIOS and Linux's atkbd use, and a full or disabled keyboard. */
#include "harness.h"
#include "dev/ps2_keyboard.h"

static unsigned drain(struct ps2_keyboard *k, uint8_t *out, unsigned max)
{
    unsigned n = 0;
    while (n < max && ps2_keyboard_pop(k, &out[n]))
        n++;
    return n;
}

static void set2_letters_and_shift(void)
{
    struct ps2_keyboard k;
    ps2_keyboard_init(&k);
    uint8_t b[16];
    CHECK(ps2_keyboard_type(&k, 'a'));
    CHECK_EQ(drain(&k, b, 16), 3);
    CHECK_EQ(b[0], 0x1c); CHECK_EQ(b[1], 0xf0); CHECK_EQ(b[2], 0x1c);
    CHECK(ps2_keyboard_type(&k, 'A'));                  /* shift around it */
    CHECK_EQ(drain(&k, b, 16), 6);
    static const uint8_t shift_a[6] = { 0x12, 0x1c, 0xf0, 0x1c, 0xf0, 0x12 };
    CHECK(memcmp(b, shift_a, 6) == 0);
    CHECK(ps2_keyboard_type(&k, '\n'));
    CHECK_EQ(drain(&k, b, 16), 3);
    CHECK_EQ(b[0], 0x5a);
    CHECK(ps2_keyboard_type(&k, '\r'));                 /* Enter too */
    CHECK_EQ(drain(&k, b, 16), 3);
    CHECK_EQ(b[0], 0x5a);
    CHECK(ps2_keyboard_type(&k, '!'));                  /* shift + 1 */
    CHECK_EQ(drain(&k, b, 16), 6);
    CHECK_EQ(b[0], 0x12); CHECK_EQ(b[1], 0x16);
    CHECK(ps2_keyboard_type(&k, 3));                    /* Ctrl-C */
    CHECK_EQ(drain(&k, b, 16), 6);
    CHECK_EQ(b[0], 0x14); CHECK_EQ(b[1], 0x21); CHECK_EQ(b[3], 0x21); CHECK_EQ(b[5], 0x14);
    CHECK(ps2_keyboard_key(&k, PS2_KEY_DOWN, false));   /* extended */
    CHECK(ps2_keyboard_key(&k, PS2_KEY_DOWN, true));
    CHECK_EQ(drain(&k, b, 16), 5);
    static const uint8_t down[5] = { 0xe0, 0x72, 0xe0, 0xf0, 0x72 };
    CHECK(memcmp(b, down, 5) == 0);
    /* no such key */
    CHECK(!ps2_keyboard_type(&k, 0x80));
    CHECK(!ps2_keyboard_type(&k, -1));
    CHECK(!ps2_keyboard_type(&k, 0));
    CHECK(!ps2_keyboard_key(&k, 0x1ff, false));
    CHECK(!ps2_keyboard_has_data(&k));
}

static void set1_directly(void)
{
    struct ps2_keyboard k;
    ps2_keyboard_init(&k);
    uint8_t b[16];
    ps2_keyboard_write(&k, 0xf0);                       /* select set 1 */
    ps2_keyboard_write(&k, 1);
    CHECK_EQ(drain(&k, b, 16), 2);
    CHECK_EQ(b[0], 0xfa); CHECK_EQ(b[1], 0xfa);
    CHECK(ps2_keyboard_type(&k, 'Q'));
    CHECK_EQ(drain(&k, b, 16), 4);
    CHECK_EQ(b[0], 0x2a); CHECK_EQ(b[1], 0x10); CHECK_EQ(b[2], 0x90); CHECK_EQ(b[3], 0xaa);
    CHECK(ps2_keyboard_key(&k, PS2_KEY_UP, true));
    CHECK_EQ(drain(&k, b, 16), 2);
    CHECK_EQ(b[0], 0xe0); CHECK_EQ(b[1], 0xc8);
    ps2_keyboard_write(&k, 0xf0);                       /* which set? */
    ps2_keyboard_write(&k, 0);
    CHECK_EQ(drain(&k, b, 16), 3);
    CHECK_EQ(b[2], 1);
}

/* What the guest sees through the 8042's translation is set 1 for every key. */
static void translation_matches_set1(void)
{
    int all[128 + 30];
    unsigned n = 0;
    for (int c = 0x20; c < 0x7f; c++)
        all[n++] = c;
    all[n++] = '\n'; all[n++] = '\b'; all[n++] = '\t'; all[n++] = 0x1b;
    for (int key = PS2_KEY_UP; key <= PS2_KEY_LALT; key++)
        all[n++] = key;
    for (unsigned i = 0; i < n; i++) {
        struct ps2_scancode c;
        CHECK(ps2_scancode_of(all[i], &c));
        struct ps2_keyboard k;
        ps2_keyboard_init(&k);
        CHECK(ps2_keyboard_key(&k, all[i], false));
        CHECK(ps2_keyboard_key(&k, all[i], true));
        uint8_t state = 0, in, out, got[8];
        unsigned m = 0;
        while (ps2_keyboard_pop(&k, &in))
            if (ps2_translate(&state, in, &out))
                got[m++] = out;
        unsigned want = c.extended ? 4 : 2;
        CHECK_EQ(m, want);
        CHECK_EQ(got[want / 2 - 1], c.set1);
        CHECK_EQ(got[want - 1], c.set1 | 0x80);
        if (c.extended) {
            CHECK_EQ(got[0], 0xe0);
            CHECK_EQ(got[2], 0xe0);
        }
    }
    /* codes in both sets are distinct: the translation is a function */
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < n; j++) {
            struct ps2_scancode a, b;
            ps2_scancode_of(all[i], &a);
            ps2_scancode_of(all[j], &b);
            if (a.extended == b.extended && a.set2 == b.set2)
                CHECK_EQ(a.set1, b.set1);
        }
    /* F7's set 2 code is above 0x80 and still translates to 0x41 */
    uint8_t state = 0, out = 0;
    CHECK(ps2_translate(&state, 0x83, &out));
    CHECK_EQ(out, 0x41);
    /* the keyboard's answers pass through untouched */
    CHECK(ps2_translate(&state, 0xfa, &out));
    CHECK_EQ(out, 0xfa);
    CHECK(ps2_translate(&state, 0xaa, &out));
    CHECK_EQ(out, 0xaa);
}

static void commands(void)
{
    struct ps2_keyboard k;
    ps2_keyboard_init(&k);
    uint8_t b[16];
    ps2_keyboard_write(&k, 0xff);                       /* reset */
    CHECK_EQ(drain(&k, b, 16), 2);
    CHECK_EQ(b[0], 0xfa); CHECK_EQ(b[1], 0xaa);
    ps2_keyboard_write(&k, 0xf2);                       /* identify */
    CHECK_EQ(drain(&k, b, 16), 3);
    CHECK_EQ(b[1], 0xab); CHECK_EQ(b[2], 0x83);
    ps2_keyboard_write(&k, 0xed);                       /* LEDs */
    ps2_keyboard_write(&k, 0x07);
    CHECK_EQ(k.leds, 7);
    ps2_keyboard_write(&k, 0xf3);                       /* typematic rate */
    ps2_keyboard_write(&k, 0x20);
    CHECK_EQ(drain(&k, b, 16), 4);
    CHECK_EQ(b[3], 0xfa);
    ps2_keyboard_write(&k, 0xee);
    CHECK_EQ(drain(&k, b, 16), 1);
    CHECK_EQ(b[0], 0xee);
    ps2_keyboard_write(&k, 0x42);                       /* nonsense */
    CHECK_EQ(drain(&k, b, 16), 1);
    CHECK_EQ(b[0], 0xfe);
    ps2_keyboard_write(&k, 0xf5);                       /* disable scanning */
    CHECK(!ps2_keyboard_type(&k, 'a'));
    ps2_keyboard_write(&k, 0xf4);
    drain(&k, b, 16);
    CHECK(ps2_keyboard_type(&k, 'a'));
    ps2_keyboard_write(&k, 0xff);                       /* reset drops pending keys */
    CHECK_EQ(drain(&k, b, 16), 2);
    CHECK_EQ(b[0], 0xfa);
    ps2_keyboard_write(&k, 0xf0);                       /* set 7: acknowledged, ignored */
    ps2_keyboard_write(&k, 7);
    CHECK_EQ(k.set, 2);
}

static void full_fifo_queues_nothing_partial(void)
{
    struct ps2_keyboard k;
    ps2_keyboard_init(&k);
    unsigned typed = 0;
    while (ps2_keyboard_type(&k, 'A'))                  /* 6 bytes each */
        typed++;
    CHECK_EQ(typed, PS2_QUEUE / 6);
    CHECK_EQ(k.count, typed * 6);
    CHECK(ps2_keyboard_type(&k, 'a'));                  /* 3 bytes still fit */
    CHECK(!ps2_keyboard_type(&k, 'a'));
    uint8_t b, last = 0;
    unsigned n = 0;
    while (ps2_keyboard_pop(&k, &b)) {
        n++;
        last = b;
    }
    CHECK_EQ(n, typed * 6 + 3);
    CHECK_EQ(last, 0x1c);
}

DEVICE_TESTS(ps2_keyboard,
    { "ps2_set2_letters_and_shift", set2_letters_and_shift },
    { "ps2_set1_directly", set1_directly },
    { "ps2_translation_matches_set1", translation_matches_set1 },
    { "ps2_commands", commands },
    { "ps2_full_fifo_queues_nothing_partial", full_fifo_queues_nothing_partial })
