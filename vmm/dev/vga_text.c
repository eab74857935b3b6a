/*
 * VGA registers (IBM VGA Technical Reference; the register values of BIOS mode 3)
 * and the text renderer.  CRTC registers sit at 0x3d4/0x3d5 when the miscellaneous
 * output register's bit 0 selects colour addressing, at 0x3b4/0x3b5 otherwise; reading
 * input status 1 (0x3da or 0x3ba) resets the attribute controller's flip-flop.
 */
#include "vga_text.h"

#define P(port)         ((port) - VGA_PORT_BASE)
#define MISC_COLOR      0x01

/* Mode 3 as a BIOS sets it (the standard VGA register table for 80x25 text). */
static const uint8_t mode3_seq[VGA_SEQ_REGS] = { 0x03, 0x00, 0x03, 0x00, 0x02 };
static const uint8_t mode3_crtc[VGA_CRTC_REGS] = {
    0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e,
    0x00, 0x00, 0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
};
static const uint8_t mode3_gc[VGA_GC_REGS] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff };
static const uint8_t mode3_attr[VGA_ATTR_REGS] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
    0x0c, 0x00, 0x0f, 0x08, 0x00,
};

void vga_init(struct vga *v)
{
    *v = (struct vga){ .misc = 0x67, .pel_mask = 0xff };
    for (unsigned i = 0; i < VGA_SEQ_REGS; i++)
        v->seq[i] = mode3_seq[i];
    for (unsigned i = 0; i < VGA_CRTC_REGS; i++)
        v->crtc[i] = mode3_crtc[i];
    for (unsigned i = 0; i < VGA_GC_REGS; i++)
        v->gc[i] = mode3_gc[i];
    for (unsigned i = 0; i < VGA_ATTR_REGS; i++)
        v->attr[i] = mode3_attr[i];
}

bool vga_is_text(const struct vga *v)
{
    return !(v->gc[6] & 0x01) && !(v->attr[0x10] & 0x01);
}

unsigned vga_start_address(const struct vga *v)
{
    return (unsigned)v->crtc[0x0c] << 8 | v->crtc[0x0d];
}

bool vga_cursor(const struct vga *v, unsigned *row, unsigned *column)
{
    unsigned at = ((unsigned)v->crtc[0x0e] << 8 | v->crtc[0x0f]) - vga_start_address(v);
    at &= 0xffff;
    *row = at / VGA_COLUMNS;
    *column = at % VGA_COLUMNS;
    return !(v->crtc[0x0a] & 0x20) && *row < VGA_ROWS;
}

static bool color(const struct vga *v) { return v->misc & MISC_COLOR; }

static uint64_t vga_read(void *dev, uint64_t offset, unsigned size)
{
    struct vga *v = dev;
    (void)size;
    unsigned port = (unsigned)offset + VGA_PORT_BASE;
    bool crtc_here = color(v) ? (port == 0x3d4 || port == 0x3d5) : (port == 0x3b4 || port == 0x3b5);
    if (crtc_here)
        return (port & 1) ? (v->crtc_index < VGA_CRTC_REGS ? v->crtc[v->crtc_index] : 0xff) : v->crtc_index;
    switch (port) {
    case 0x3c0:
        return v->attr_index;
    case 0x3c1:
        return (v->attr_index & 0x1f) < VGA_ATTR_REGS ? v->attr[v->attr_index & 0x1f] : 0;
    case 0x3c2:                 /* input status 0: no switch sense wired */
        return 0x00;
    case 0x3c4:
        return v->seq_index;
    case 0x3c5:
        return v->seq_index < VGA_SEQ_REGS ? v->seq[v->seq_index] : 0xff;
    case 0x3c6:
        return v->pel_mask;
    case 0x3c7:                 /* DAC state: 3 after a read index was set, 0 after a write index */
        return v->dac_read_index ? 3 : 0;
    case 0x3c8:
        return v->dac_write_index;
    case 0x3c9: {
        uint8_t value = v->dac[v->dac_read_index][v->dac_component];
        if (++v->dac_component == 3) {
            v->dac_component = 0;
            v->dac_read_index++;
        }
        return value;
    }
    case 0x3ca:
        return v->feature;
    case 0x3cc:
        return v->misc;
    case 0x3ce:
        return v->gc_index;
    case 0x3cf:
        return v->gc_index < VGA_GC_REGS ? v->gc[v->gc_index] : 0xff;
    case 0x3ba:
    case 0x3da:
        if ((port == 0x3da) != color(v))
            return 0xff;
        /* display enable and vertical retrace alternate, so waiting loops end */
        v->attr_data_next = false;
        v->status_toggle ^= 0x09;
        return v->status_toggle;
    }
    return 0xff;
}

static void vga_write_byte(struct vga *v, unsigned port, uint8_t value)
{
    bool crtc_here = color(v) ? (port == 0x3d4 || port == 0x3d5) : (port == 0x3b4 || port == 0x3b5);
    if (crtc_here) {
        if (!(port & 1)) {
            v->crtc_index = value;
        } else if (v->crtc_index < VGA_CRTC_REGS) {
            /* CRTC 0x11 bit 7 write-protects registers 0-7, except the overflow's bit 4 */
            if ((v->crtc[0x11] & 0x80) && v->crtc_index <= 7) {
                if (v->crtc_index == 7)
                    v->crtc[7] = (uint8_t)((v->crtc[7] & ~0x10) | (value & 0x10));
                return;
            }
            v->crtc[v->crtc_index] = value;
        }
        return;
    }
    switch (port) {
    case 0x3c0:
        if (!v->attr_data_next)
            v->attr_index = value & 0x3f;
        else if ((v->attr_index & 0x1f) < VGA_ATTR_REGS)
            v->attr[v->attr_index & 0x1f] = value;
        v->attr_data_next = !v->attr_data_next;
        break;
    case 0x3c2:
        v->misc = value;
        break;
    case 0x3c4:
        v->seq_index = value;
        break;
    case 0x3c5:
        if (v->seq_index < VGA_SEQ_REGS)
            v->seq[v->seq_index] = value;
        break;
    case 0x3c6:
        v->pel_mask = value;
        break;
    case 0x3c7:
        v->dac_read_index = value;
        v->dac_component = 0;
        break;
    case 0x3c8:
        v->dac_write_index = value;
        v->dac_component = 0;
        break;
    case 0x3c9:
        v->dac[v->dac_write_index][v->dac_component] = value & 0x3f;
        if (++v->dac_component == 3) {
            v->dac_component = 0;
            v->dac_write_index++;
        }
        break;
    case 0x3ce:
        v->gc_index = value;
        break;
    case 0x3cf:
        if (v->gc_index < VGA_GC_REGS)
            v->gc[v->gc_index] = value;
        break;
    case 0x3ba:
    case 0x3da:
        if ((port == 0x3da) == color(v))
            v->feature = value;
        break;
    }
}

/* A 16-bit write is two byte writes: index then data (what `out dx, ax` does). */
static void vga_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    for (unsigned i = 0; i < size && offset + i < VGA_PORT_COUNT; i++)
        vga_write_byte(dev, (unsigned)(offset + i) + VGA_PORT_BASE, (uint8_t)(value >> (8 * i)));
}

static void vga_reset(void *dev)
{
    vga_init(dev);
}

const struct device_ops vga_ops = { "vga", vga_read, vga_write, vga_reset };

/* ---- The renderer -------------------------------------------------------------- */

char vga_ascii(uint8_t c)
{
    if (c >= 0x20 && c < 0x7f)
        return (char)c;
    switch (c) {
    case 0x00: case 0xff:
        return ' ';
    case 0xb3: case 0xba:
        return '|';
    case 0xc4: case 0xcd:
        return '-';
    case 0xb4: case 0xb5: case 0xb6: case 0xb7: case 0xb8: case 0xb9: case 0xbb: case 0xbc:
    case 0xbd: case 0xbe: case 0xbf: case 0xc0: case 0xc1: case 0xc2: case 0xc3: case 0xc5:
    case 0xc6: case 0xc7: case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcc: case 0xce:
    case 0xcf: case 0xd0: case 0xd1: case 0xd2: case 0xd3: case 0xd4: case 0xd5: case 0xd6:
    case 0xd7: case 0xd8: case 0xd9: case 0xda:
        return '+';
    case 0xb0: case 0xb1: case 0xb2: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
        return '#';
    case 0x10: case 0x1a:
        return '>';
    case 0x11: case 0x1b:
        return '<';
    case 0x18: case 0x1e:
        return '^';
    case 0x19: case 0x1f:
        return 'v';
    case 0x07: case 0xf9: case 0xfa:
        return '.';
    }
    return '?';
}

static bool same(const char *a, const char *b)
{
    for (unsigned i = 0; ; i++) {
        if (a[i] != b[i])
            return false;
        if (!a[i])
            return true;
    }
}

static void copy_row(char *to, const char *from)
{
    unsigned i = 0;
    for (; from[i]; i++)
        to[i] = from[i];
    to[i] = 0;
}

unsigned vga_render(struct vga *v, const uint8_t *buffer, vga_line_fn line, void *ctx)
{
    if (!vga_is_text(v))
        return 0;
    char now[VGA_ROWS][VGA_COLUMNS + 1];
    unsigned start = vga_start_address(v);
    for (unsigned r = 0; r < VGA_ROWS; r++) {
        unsigned length = 0;
        for (unsigned c = 0; c < VGA_COLUMNS; c++) {
            unsigned cell = (start + r * VGA_COLUMNS + c) * 2 % VGA_TEXT_SIZE;
            char ch = vga_ascii(buffer[cell]);
            now[r][c] = ch;
            if (ch != ' ')
                length = c + 1;
        }
        now[r][length] = 0;
    }
    /* A scroll by k rows: the old rows k.. are the new rows 0.., and not all blank. */
    unsigned scrolled = 0;
    for (unsigned k = 1; k < VGA_ROWS && !scrolled; k++) {
        bool match = true, content = false;
        for (unsigned r = 0; r + k < VGA_ROWS && match; r++) {
            match = same(now[r], v->shown[r + k]);
            content |= now[r][0] != 0;
        }
        if (match && content)
            scrolled = k;
    }
    if (scrolled)
        for (unsigned r = 0; r + scrolled < VGA_ROWS; r++)
            copy_row(v->shown[r], v->shown[r + scrolled]);
    /* with no scroll and no change, a row is as shown */
    bool unchanged = true;
    for (unsigned r = 0; r < VGA_ROWS && unchanged; r++)
        unchanged = same(now[r], v->shown[r]);
    if (unchanged && scrolled)
        return 0;

    unsigned emitted = 0;
    for (unsigned r = 0; r < VGA_ROWS; r++) {
        if (same(now[r], v->shown[r]))
            continue;
        copy_row(v->shown[r], now[r]);
        unsigned length = 0;
        while (now[r][length])
            length++;
        if (length && line) {
            line(ctx, r, now[r], length);
            emitted++;
        }
    }
    return emitted;
}
