/* VGA text mode: the registers as a BIOS and Linux's vgacon program them, and the
 * renderer that turns the 0xb8000 buffer into console lines. */
#include "harness.h"
#include "dev/vga_text.h"

static uint8_t screen[VGA_TEXT_SIZE];
static char lines[64][VGA_COLUMNS + 1];
static unsigned rows[64], count;

static void collect(void *ctx, unsigned row, const char *text, unsigned length)
{
    (void)ctx;
    if (count < 64) {
        memcpy(lines[count], text, length);
        lines[count][length] = 0;
        rows[count++] = row;
    }
}

static void put_text(unsigned row, unsigned col, const char *s)
{
    for (unsigned i = 0; s[i]; i++) {
        screen[(row * 80 + col + i) * 2] = (uint8_t)s[i];
        screen[(row * 80 + col + i) * 2 + 1] = 0x07;
    }
}

static void clear(void)
{
    for (unsigned i = 0; i < VGA_TEXT_SIZE; i += 2) {
        screen[i] = ' ';
        screen[i + 1] = 0x07;
    }
}

static void out(struct vga *v, unsigned port, unsigned size, uint32_t value) { vga_ops.write(v, port - VGA_PORT_BASE, size, value); }
static uint8_t in(struct vga *v, unsigned port) { return (uint8_t)vga_ops.read(v, port - VGA_PORT_BASE, 1); }

static void registers(void)
{
    struct vga v;
    vga_init(&v);
    CHECK(vga_is_text(&v));
    CHECK_EQ(in(&v, 0x3cc), 0x67);
    out(&v, 0x3d4, 2, 0x0e | 0x01 << 8);                /* out dx, ax: index then data */
    out(&v, 0x3d4, 2, 0x0f | 0x52 << 8);
    out(&v, 0x3d4, 1, 0x0e);
    CHECK_EQ(in(&v, 0x3d5), 0x01);
    unsigned r, c;
    CHECK(vga_cursor(&v, &r, &c));
    CHECK_EQ(r, (0x152) / 80);
    CHECK_EQ(c, 0x152 % 80);
    out(&v, 0x3d4, 2, 0x0a | 0x20 << 8);                /* cursor off */
    CHECK(!vga_cursor(&v, &r, &c));
    /* sequencer and graphics controller */
    out(&v, 0x3c4, 2, 0x02 | 0x0f << 8);
    out(&v, 0x3c4, 1, 0x02);
    CHECK_EQ(in(&v, 0x3c5), 0x0f);
    out(&v, 0x3ce, 1, 0x06);
    CHECK_EQ(in(&v, 0x3cf), 0x0e);
    /* out of range indexes are harmless */
    out(&v, 0x3c4, 2, 0x77 | 0x12 << 8);
    CHECK_EQ(in(&v, 0x3c5), 0xff);
    out(&v, 0x3d4, 2, 0xee | 0x12 << 8);
    CHECK_EQ(in(&v, 0x3d5), 0xff);
    out(&v, 0x3ce, 2, 0x40 | 0x12 << 8);
    CHECK_EQ(in(&v, 0x3cf), 0xff);
    /* the attribute flip-flop: reading 0x3da resets it to "index" */
    in(&v, 0x3da);
    out(&v, 0x3c0, 1, 0x10);
    out(&v, 0x3c0, 1, 0x0c);
    out(&v, 0x3c0, 1, 0x12);
    in(&v, 0x3da);
    out(&v, 0x3c0, 1, 0x12);                            /* an index again */
    out(&v, 0x3c0, 1, 0x0e);
    CHECK_EQ(v.attr[0x12], 0x0e);
    CHECK_EQ(in(&v, 0x3c1), 0x0e);
    /* status bits alternate so polling loops end */
    uint8_t a = in(&v, 0x3da), b = in(&v, 0x3da);
    CHECK((a ^ b) & 0x08);
    /* the DAC: write index, three components each, auto-increment */
    out(&v, 0x3c8, 1, 5);
    out(&v, 0x3c9, 1, 0x3f); out(&v, 0x3c9, 1, 0x01); out(&v, 0x3c9, 1, 0xff);
    out(&v, 0x3c9, 1, 0x11);
    CHECK_EQ(v.dac[5][2], 0x3f);                        /* 6 bits */
    CHECK_EQ(v.dac[6][0], 0x11);
    out(&v, 0x3c7, 1, 5);
    CHECK_EQ(in(&v, 0x3c9), 0x3f);
    CHECK_EQ(in(&v, 0x3c9), 0x01);
    CHECK_EQ(in(&v, 0x3c9), 0x3f);
    CHECK_EQ(in(&v, 0x3c9), 0x11);
    /* CRTC registers 0-7 write-protected by 0x11 bit 7 (set in mode 3) */
    out(&v, 0x3d4, 2, 0x01 | 0x27 << 8);
    CHECK_EQ(v.crtc[1], 0x4f);
    out(&v, 0x3d4, 2, 0x11 | 0x0e << 8);
    out(&v, 0x3d4, 2, 0x01 | 0x27 << 8);
    CHECK_EQ(v.crtc[1], 0x27);
    /* monochrome addressing moves the CRTC to 0x3b4 */
    out(&v, 0x3c2, 1, 0x66);
    out(&v, 0x3d4, 2, 0x0c | 0x10 << 8);                /* not the CRTC any more */
    CHECK_EQ(vga_start_address(&v), 0);
    out(&v, 0x3b4, 2, 0x0c | 0x10 << 8);
    CHECK_EQ(vga_start_address(&v), 0x1000);
    CHECK_EQ(in(&v, 0x3da), 0xff);
    vga_ops.reset(&v);
    CHECK_EQ(in(&v, 0x3cc), 0x67);
    CHECK_EQ(vga_start_address(&v), 0);
}

static void render_changed_rows_only(void)
{
    struct vga v;
    vga_init(&v);
    clear();
    count = 0;
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 0); /* a blank screen says nothing */
    put_text(0, 0, "SeaBIOS (version 1.16)");
    put_text(2, 4, "Booting from Hard Disk...   ");
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 2);
    CHECK_EQ(rows[0], 0);
    CHECK(strcmp(lines[0], "SeaBIOS (version 1.16)") == 0);
    CHECK_EQ(rows[1], 2);
    CHECK(strcmp(lines[1], "    Booting from Hard Disk...") == 0);   /* trailing blanks gone */
    count = 0;
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 0); /* nothing new */
    screen[1] = 0x1f;                                   /* a colour change is no change */
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 0);
    put_text(2, 30, "ok");
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 1);
    CHECK_EQ(rows[0], 2);
    CHECK(strcmp(lines[0], "    Booting from Hard Disk... ok") == 0);
    /* a row cleared: remembered, not printed; printed again when it comes back */
    count = 0;
    put_text(0, 0, "                      ");
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 0);
    put_text(0, 0, "SeaBIOS (version 1.16)");
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 1);
    /* full-width rows keep all 80 columns; NUL cells are blanks */
    count = 0;
    char wide[81];
    memset(wide, 'x', 80);
    wide[80] = 0;
    put_text(24, 0, wide);
    screen[(24 * 80 + 79) * 2] = 0;
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 1);
    CHECK_EQ(strlen(lines[0]), 79);
    /* no callback: rows still remembered */
    put_text(5, 0, "quiet");
    CHECK_EQ(vga_render(&v, screen, NULL, NULL), 0);
    count = 0;
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 0);
}

static void render_scroll_reports_new_rows(void)
{
    struct vga v;
    vga_init(&v);
    clear();
    char text[32];
    for (unsigned r = 0; r < 25; r++) {
        snprintf(text, sizeof(text), "line %u", r);
        put_text(r, 0, text);
    }
    count = 0;
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 25);
    /* the screen scrolls up by two as a console does, two new lines at the bottom */
    memmove(screen, screen + 2 * 160, 23 * 160);
    for (unsigned i = 23 * 160; i < 25 * 160; i += 2)
        screen[i] = ' ';
    put_text(23, 0, "line 25");
    put_text(24, 0, "line 26");
    count = 0;
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 2);
    CHECK(strcmp(lines[0], "line 25") == 0);
    CHECK(strcmp(lines[1], "line 26") == 0);
    CHECK_EQ(rows[1], 24);
}

static void render_start_address_and_graphics(void)
{
    struct vga v;
    vga_init(&v);
    clear();
    put_text(0, 0, "page zero");
    put_text(50, 0, "page two");                        /* 4000 characters in: row 50 */
    count = 0;
    vga_render(&v, screen, collect, NULL);
    CHECK(strcmp(lines[0], "page zero") == 0);
    out(&v, 0x3d4, 2, 0x0c | (4000 >> 8) << 8);
    out(&v, 0x3d4, 2, 0x0d | (4000 & 0xff) << 8);
    count = 0;
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 1);
    CHECK(strcmp(lines[0], "page two") == 0);
    /* a start address near the end of the window wraps around */
    out(&v, 0x3d4, 2, 0x0c | 0x3f << 8);
    out(&v, 0x3d4, 2, 0x0d | 0xff << 8);
    vga_render(&v, screen, NULL, NULL);                 /* must not read past the buffer */
    /* graphics mode: nothing rendered */
    out(&v, 0x3ce, 2, 0x06 | 0x05 << 8);
    CHECK(!vga_is_text(&v));
    put_text(3, 0, "hidden");
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 0);
}

static void cp437_line_drawing(void)
{
    CHECK_EQ(vga_ascii(0xda), '+');
    CHECK_EQ(vga_ascii(0xc4), '-');
    CHECK_EQ(vga_ascii(0xb3), '|');
    CHECK_EQ(vga_ascii(0xcd), '-');
    CHECK_EQ(vga_ascii(0xba), '|');
    CHECK_EQ(vga_ascii(0xdb), '#');
    CHECK_EQ(vga_ascii('A'), 'A');
    CHECK_EQ(vga_ascii(0), ' ');
    CHECK_EQ(vga_ascii(0x7f), '?');
    for (unsigned c = 0; c < 256; c++) {
        char a = vga_ascii((uint8_t)c);
        CHECK(a >= 0x20 && a < 0x7f);                   /* always printable */
    }
    /* a GRUB-style menu box */
    struct vga v;
    vga_init(&v);
    clear();
    static const uint8_t box[] = { 0xda, 0xc4, 0xc4, 0xbf, 0 };
    for (unsigned i = 0; box[i]; i++)
        screen[(1 * 80 + 2 + i) * 2] = box[i];
    count = 0;
    CHECK_EQ(vga_render(&v, screen, collect, NULL), 1);
    CHECK(strcmp(lines[0], "  +--+") == 0);
}

DEVICE_TESTS(vga_text,
    { "vga_registers", registers },
    { "vga_render_changed_rows_only", render_changed_rows_only },
    { "vga_render_scroll_reports_new_rows", render_scroll_reports_new_rows },
    { "vga_render_start_address_and_graphics", render_start_address_and_graphics },
    { "vga_cp437_line_drawing", cp437_line_drawing })
