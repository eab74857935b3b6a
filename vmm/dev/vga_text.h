/*
 * A VGA adapter in 80x25 colour text mode: the registers a BIOS or an OS programs
 * (miscellaneous output, sequencer, CRT controller with the start address and cursor,
 * graphics controller, attribute controller, the DAC palette, input status), and a
 * renderer that turns the text buffer at 0xb8000 into lines for a console: only rows
 * that changed since the last call, as ASCII (CP437 line drawing becomes + - |),
 * trailing blanks dropped, a scrolled screen reported as its new rows only.  The
 * buffer itself is guest memory the caller hands in; the model is pure.
 */
#ifndef VMM_VGA_TEXT_H
#define VMM_VGA_TEXT_H

#include "device.h"

#define VGA_PORT_BASE       0x3b0
#define VGA_PORT_COUNT      0x30    /* 0x3b0-0x3df */
#define VGA_TEXT_BASE       0xb8000
#define VGA_TEXT_SIZE       0x8000  /* the colour text window, 0xb8000-0xbffff */
#define VGA_COLUMNS         80
#define VGA_ROWS            25

#define VGA_SEQ_REGS        5
#define VGA_CRTC_REGS       25
#define VGA_GC_REGS         9
#define VGA_ATTR_REGS       21

struct vga {
    uint8_t misc;                       /* 0x3c2 write, 0x3cc read */
    uint8_t seq_index, seq[VGA_SEQ_REGS];
    uint8_t crtc_index, crtc[VGA_CRTC_REGS];
    uint8_t gc_index, gc[VGA_GC_REGS];
    uint8_t attr_index, attr[VGA_ATTR_REGS];
    bool attr_data_next;                /* the 0x3c0 flip-flop: next write is data */
    uint8_t dac_read_index, dac_write_index, dac_component, pel_mask;
    uint8_t dac[256][3];
    uint8_t feature;
    uint8_t status_toggle;              /* makes retrace bits alternate for polling loops */
    /* what the console has been shown: one row of characters each, NUL-terminated */
    char shown[VGA_ROWS][VGA_COLUMNS + 1];
};

extern const struct device_ops vga_ops;    /* ports 0x3b0-0x3df, offset = port - 0x3b0 */

/* The state a BIOS leaves for mode 3: colour, 80x25, cursor on lines 14-15. */
void vga_init(struct vga *v);
/* Text mode (not graphics) as the graphics and attribute controllers say. */
bool vga_is_text(const struct vga *v);
/* Character offset of the screen's first cell (CRTC 0x0c/0x0d). */
unsigned vga_start_address(const struct vga *v);
/* The cursor: its row and column on screen, and whether it is shown. */
bool vga_cursor(const struct vga *v, unsigned *row, unsigned *column);

/* One row to show: row number (0-24), ASCII text without trailing blanks. */
typedef void (*vga_line_fn)(void *ctx, unsigned row, const char *text, unsigned length);
/* Compare `buffer` (the VGA_TEXT_SIZE bytes at 0xb8000) with what was shown and call
 * `line` for each row that changed and is not blank; returns how many it called. */
unsigned vga_render(struct vga *v, const uint8_t *buffer, vga_line_fn line, void *ctx);
/* The CP437 character as the console shows it. */
char vga_ascii(uint8_t cp437);

#endif
