/* The console multiplexer (mux.h). */
#include "mux.h"
#include <pith/console.h>

#define KEY_BACKSPACE   0x7f
#define KEY_CTRL_H      0x08
#define KEY_CTRL_C      0x03
#define KEY_ESC         0x1b

static size_t text_length(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

static bool same_text(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static int find(const struct mux *m, uint64_t badge)
{
    for (unsigned i = 0; i < m->count; i++)
        if (m->clients[i].badge == badge)
            return (int)i;
    return -1;
}

static void say(struct mux *m, const char *text)
{
    m->emit(m->ctx, text, text_length(text, 256));
}

static void say_number(struct mux *m, size_t n)
{
    char digits[24];
    size_t i = sizeof(digits);
    do {
        digits[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    m->emit(m->ctx, digits + i, sizeof(digits) - i);
}

static void say_name(struct mux *m, int index)
{
    say(m, m->clients[index].name);
}

/* ---- The output filter (mux.h: Filter) ---------------------------------------------- */

#define BACKSPACE   0x08
#define CANCEL      0x18
#define SUBSTITUTE  0x1a
#define ESCAPE      0x1b
#define DELETE      0x7f
#define BELL        0x07
/* CSI n D moves back n cells; more than any terminal line is wide goes no further. */
#define BACK_MAX    1024
/* ED from the cursor on, in the default colours (the erased cells take the colours). */
#define ERASE_BELOW "\x1b[m\x1b[J"
_Static_assert(sizeof(ERASE_BELOW) <= MUX_SEQUENCE_MAX, "it is built where the sequence was");
/* The narrowest terminal a client's backspaces are kept right of its label on: at the
 * right margin a terminal keeps its cursor on the last column for the next character
 * (it wraps then), so a backspace from there goes one cell further back than the
 * characters shown say.  Past this column a line takes no backspace. */
#define NARROWEST_TERMINAL 80


enum filter_action {
    FILTER_NOTHING,                 /* the byte was swallowed, or dropped */
    FILTER_SHOW,                    /* bytes to show: a character, a control, a sequence */
    FILTER_BACK,                    /* that many backspaces (CSI n D) */
    FILTER_ALTERNATE_ON,            /* the switch to the alternate screen, its bytes */
    FILTER_ALTERNATE_OFF,           /* the switch back */
    FILTER_LINE_BREAK,              /* CAN: what was open is ended, the line too */
};

struct filter_result {
    enum filter_action action;
    const char *bytes;              /* in the filter, valid until its next byte */
    size_t length;                  /* of bytes; FILTER_BACK: how many */
};

static const struct filter_result filter_nothing = { FILTER_NOTHING, NULL, 0 };

static struct filter_result filter_show(const char *bytes, size_t length)
{
    return (struct filter_result){ FILTER_SHOW, bytes, length };
}

static struct filter_result show_single(struct mux_filter *f, uint8_t byte)
{
    f->character[0] = (char)byte;
    return filter_show(f->character, 1);
}

static void begin_escape(struct mux_filter *f)
{
    f->state = MUX_FILTER_ESCAPE;
    f->swallowed = 1;
    f->sequence[0] = ESCAPE;
    f->sequence_length = 1;
}

/* A C0 control or DEL where text is: the few that keep the cursor on the client's line
 * pass (a backspace as far as mux.h says, later); ESC begins a sequence. */
static struct filter_result control_byte(struct mux_filter *f, uint8_t byte)
{
    switch (byte) {
    case '\t':
    case '\n':
    case '\r':
    case BACKSPACE:
        return show_single(f, byte);
    case ESCAPE:
        begin_escape(f);
        return filter_nothing;
    case CANCEL:
        f->state = MUX_FILTER_TEXT;
        return (struct filter_result){ FILTER_LINE_BREAK, NULL, 0 };
    default:
        return filter_nothing;      /* BEL, SO, SI, ENQ, VT, FF, DEL... */
    }
}

/* A C0 control inside a sequence acts at once, as in the terminals' parser (DEC's,
 * vt100.net/emu/dec_ansi_parser, which xterm follows): a newline is a newline; ESC
 * begins again; CAN and SUB end the sequence. */
static struct filter_result control_in_sequence(struct mux_filter *f, uint8_t byte)
{
    if (byte == SUBSTITUTE) {
        f->state = MUX_FILTER_TEXT;
        return filter_nothing;
    }
    return control_byte(f, byte);
}

/* How many bytes a UTF-8 character beginning with `lead` has; 0: none begins so. */
static unsigned utf8_length(uint8_t lead)
{
    if (lead >= 0xc2 && lead <= 0xdf)
        return 2;
    if (lead >= 0xe0 && lead <= 0xef)
        return 3;
    if (lead >= 0xf0 && lead <= 0xf4)
        return 4;
    return 0;
}

/* Whether `byte` may follow the bytes so far of a well-formed UTF-8 character (Unicode
 * 15.0, table 3-7), the C1 controls U+0080..U+009F excluded. */
static bool utf8_continues(const char *so_far, unsigned count, uint8_t byte)
{
    uint8_t low = 0x80, high = 0xbf;
    if (count == 1) {
        switch ((uint8_t)so_far[0]) {
        case 0xc2: low = 0xa0; break;   /* C2 80..9F: the C1 controls */
        case 0xe0: low = 0xa0; break;   /* overlong */
        case 0xed: high = 0x9f; break;  /* surrogates */
        case 0xf0: low = 0x90; break;   /* overlong */
        case 0xf4: high = 0x8f; break;  /* beyond U+10FFFF */
        }
    }
    return byte >= low && byte <= high;
}

/* A byte from 0x80 up where text is: a complete character passes whole; a byte that
 * neither continues nor begins one is dropped, with what came before it. */
static struct filter_result utf8_byte(struct mux_filter *f, uint8_t byte)
{
    if (f->character_length && utf8_continues(f->character, f->character_length, byte)) {
        f->character[f->character_length++] = (char)byte;
        unsigned length = f->character_length;
        if (length < utf8_length((uint8_t)f->character[0]))
            return filter_nothing;
        f->character_length = 0;
        return filter_show(f->character, length);
    }
    f->lost |= f->character_length || !utf8_length(byte);
    f->character_length = 0;
    if (utf8_length(byte)) {
        f->character[0] = (char)byte;
        f->character_length = 1;
    }
    return filter_nothing;
}

static struct filter_result text_byte(struct mux_filter *f, uint8_t byte)
{
    if (byte >= 0x80)
        return utf8_byte(f, byte);
    f->lost |= f->character_length != 0;
    f->character_length = 0;        /* an unfinished character is dropped */
    if (byte >= 0x20 && byte < DELETE)
        return show_single(f, byte);
    return control_byte(f, byte);
}

/* Not a sequence after all (a byte from 0x80 up inside one): the byte is text. */
static struct filter_result sequence_abandoned(struct mux_filter *f, uint8_t byte)
{
    f->lost = true;
    f->state = MUX_FILTER_TEXT;
    return text_byte(f, byte);
}

/* After ESC: '[' a control sequence, ']' 'P' 'X' '^' '_' a control
 * string; an intermediate byte (ESC ( 0) waits for its final; any other is final. */
static struct filter_result escape_byte(struct mux_filter *f, uint8_t byte)
{
    if (byte < 0x20 || byte == DELETE)
        return control_in_sequence(f, byte);
    if (byte >= 0x80)
        return sequence_abandoned(f, byte);
    switch (byte) {
    case '[':
        f->state = MUX_FILTER_CONTROL_SEQUENCE;
        f->sequence[f->sequence_length++] = (char)byte;
        return filter_nothing;
    case ']':
        f->state = MUX_FILTER_OSC;
        return filter_nothing;
    case 'P':                       /* DCS */
    case 'X':                       /* SOS */
    case '^':                       /* PM */
    case '_':                       /* APC */
        f->state = MUX_FILTER_STRING;
        return filter_nothing;
    }
    f->state = byte < 0x30 ? MUX_FILTER_ESCAPE_INTERMEDIATE : MUX_FILTER_TEXT;
    f->lost |= byte == 'c';         /* a full reset: the alternate screen too */
    return filter_nothing;          /* ESC 7, ESC 8, ESC M, ESC c...: dropped */
}

/* A sequence dropped whatever it says, to its final byte: from `first_final` up. */
static struct filter_result skip_to_final(struct mux_filter *f, uint8_t byte, uint8_t first_final)
{
    if (byte < 0x20 || byte == DELETE)
        return control_in_sequence(f, byte);
    if (byte >= 0x80)
        return sequence_abandoned(f, byte);
    if (byte >= first_final)
        f->state = MUX_FILTER_TEXT;
    return filter_nothing;
}

/* The next of a control sequence's parameters, decimal numbers separated by ';'
 * (ECMA-48 5.4.1), saturated at 65535; empty is 0. */
static unsigned next_parameter(const char **at, const char *end)
{
    unsigned value = 0;
    for (; *at < end && **at != ';'; (*at)++)
        value = value < 6553 ? value * 10 + (unsigned)(**at - '0') : 65535;
    if (*at < end)
        (*at)++;
    return value;
}

static bool only_parameters(const char *at, const char *end)
{
    for (; at < end; at++)
        if (!((*at >= '0' && *at <= '9') || *at == ';'))
            return false;
    return true;
}

/* Whether one of a mode sequence's parameters is one of these modes. */
static bool names_mode(const char *at, const char *end, const unsigned *modes, unsigned count)
{
    while (at < end) {
        unsigned mode = next_parameter(&at, end);
        for (unsigned i = 0; i < count; i++)
            if (mode == modes[i])
                return true;
    }
    return false;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(sizeof(MUX_FULL_SCREEN_RESET "\r\n") - 1 <= 256, "say() writes it whole");

/* xterm's alternate screen (CSI ? 47/1047/1049 h or l, ctlseqs). */
static const unsigned alternate_screen[] = { 47, 1047, 1049 };
/* Private modes that take the terminal from the alternate screen, or out of the ANSI
 * parser, unseen: restoring the alternate screen's (CSI ? r), forbidding it (1046),
 * VT52 (2) and Tektronix (38) modes. */
static const unsigned screen_modes[] = { 2, 38, 47, 1046, 1047, 1049 };
/* ANSI modes a reset would not be heard through, or that turn the keyboard against
 * the operator: keyboard lock (2), local echo (12), newline (20). */
static const unsigned keyboard_modes[] = { 2, 12, 20 };

/* A mode sequence: the alternate screen's switch, or nothing to show; what the full
 * screen could not live with is "lost" (write_full_screen ends it there). */
static struct filter_result mode_sequence(struct mux_filter *f, bool private_mode, const char *at,
                                          const char *end, char final)
{
    if (private_mode && (final == 'h' || final == 'l') && names_mode(at, end, alternate_screen, COUNT(alternate_screen)))
        return (struct filter_result){ final == 'h' ? FILTER_ALTERNATE_ON : FILTER_ALTERNATE_OFF, f->sequence,
                                       f->sequence_length };
    if (private_mode && (final == 'h' || final == 'l' || final == 'r'))
        f->lost |= names_mode(at, end, screen_modes, COUNT(screen_modes));
    else if (!private_mode && (final == 'h' || final == 'l'))
        f->lost |= names_mode(at, end, keyboard_modes, COUNT(keyboard_modes));
    return filter_nothing;
}

/* A whole control sequence (ECMA-48 5.4), ESC [ parameters final: what of it may
 * pass (mux.h).  Parameters are digits and ';' only: no private marker but the
 * alternate screen's '?', no intermediate byte, no ':' sub-parameters. */
static struct filter_result control_sequence_ended(struct mux_filter *f)
{
    const char *sequence = f->sequence, *at = sequence + 2, *end = sequence + f->sequence_length - 1;
    char final = *end;
    bool private_mode = at < end && *at == '?';
    if (!only_parameters(private_mode ? at + 1 : at, end))
        return filter_nothing;
    if (private_mode || final == 'h' || final == 'l' || final == 'r')
        return mode_sequence(f, private_mode, private_mode ? at + 1 : at, end, final);
    switch (final) {
    case 'm':                       /* SGR */
        return filter_show(sequence, f->sequence_length);
    case 'K':                       /* EL and ED, parameter 0: from the cursor on */
    case 'J':
        if (next_parameter(&at, end) != 0 || at != end)
            return filter_nothing;
        if (final == 'K')
            return filter_show(sequence, f->sequence_length);
        /* below the cursor are the lines to come, others' too: not in its colours */
        for (unsigned i = 0; i < sizeof(ERASE_BELOW) - 1; i++)
            f->sequence[i] = ERASE_BELOW[i];
        return filter_show(f->sequence, sizeof(ERASE_BELOW) - 1);
    case 'D': {                     /* CUB: as many backspaces */
        unsigned cells = next_parameter(&at, end);
        if (at != end)
            return filter_nothing;
        if (cells == 0)
            cells = 1;              /* 0 or none is 1 */
        if (cells > BACK_MAX)
            cells = BACK_MAX;
        return (struct filter_result){ FILTER_BACK, NULL, cells };
    }
    default:
        return filter_nothing;      /* cursor moves, other erases, reports, scroll regions */
    }
}

/* Inside ESC [: parameter and intermediate bytes are kept, the final byte ends it. */
static struct filter_result control_sequence_byte(struct mux_filter *f, uint8_t byte)
{
    if (byte < 0x20 || byte == DELETE)
        return control_in_sequence(f, byte);
    if (byte >= 0x80)
        return sequence_abandoned(f, byte);
    if (byte < 0x40) {
        if (f->sequence_length + 1 < MUX_SEQUENCE_MAX)     /* room kept for the final */
            f->sequence[f->sequence_length++] = (char)byte;
        else
            f->state = MUX_FILTER_IGNORED_SEQUENCE, f->lost = true;
        return filter_nothing;
    }
    f->sequence[f->sequence_length++] = (char)byte;
    f->state = MUX_FILTER_TEXT;
    return control_sequence_ended(f);
}

/* Inside a control string, all dropped: ST (ESC \) ends it, and BEL an OSC (xterm);
 * ESC followed by anything else begins a new sequence. */
static struct filter_result string_byte(struct mux_filter *f, uint8_t byte)
{
    f->lost |= byte >= 0x80;        /* a C1 control as UTF-8 (ST, CSI) ends it in some */
    if (byte == ESCAPE)
        f->state = MUX_FILTER_STRING_ESCAPE;
    else if (byte == CANCEL)
        return control_byte(f, byte);
    else if (byte == SUBSTITUTE || (byte == BELL && f->state == MUX_FILTER_OSC))
        f->state = MUX_FILTER_TEXT;
    return filter_nothing;
}

static struct filter_result string_escape_byte(struct mux_filter *f, uint8_t byte)
{
    if (byte == '\\') {
        f->state = MUX_FILTER_TEXT;
        return filter_nothing;
    }
    begin_escape(f);
    return escape_byte(f, byte);
}

/* One byte of a client's output through its filter: what goes on to the screen. */
static struct filter_result filter_byte(struct mux_filter *f, uint8_t byte)
{
    if (f->state != MUX_FILTER_TEXT && ++f->swallowed > MUX_SEQUENCE_BOUND) {
        f->state = MUX_FILTER_TEXT;             /* given up: text again from here */
        f->lost = true;
        return text_byte(f, byte);
    }
    switch (f->state) {
    case MUX_FILTER_TEXT:
        return text_byte(f, byte);
    case MUX_FILTER_ESCAPE:
        return escape_byte(f, byte);
    case MUX_FILTER_ESCAPE_INTERMEDIATE:
        return skip_to_final(f, byte, 0x30);
    case MUX_FILTER_CONTROL_SEQUENCE:
        return control_sequence_byte(f, byte);
    case MUX_FILTER_IGNORED_SEQUENCE:
        return skip_to_final(f, byte, 0x40);
    case MUX_FILTER_OSC:
    case MUX_FILTER_STRING:
        return string_byte(f, byte);
    case MUX_FILTER_STRING_ESCAPE:
        return string_escape_byte(f, byte);
    }
    return filter_nothing;
}

/* ---- Output -------------------------------------------------------------------------- */

/* A byte shown, as the terminal takes it: how far the screen line's client may go back
 * (its printable ASCII since the label), and whether an SGR left a colour on.  What is
 * shown is the filter's output (a control sequence is ESC [ digits ';' final) or, in
 * full screen, anything: then only the colours matter. */
static void screen_follows(struct mux *m, uint8_t byte)
{
    if (m->line_in_sequence) {
        if (byte >= '1' && byte <= '9')
            m->line_sequence_sets = true;
        if (byte >= 0x40 && byte != '[') {
            m->line_in_sequence = false;
            if (byte == 'm')
                m->colours_on = m->line_sequence_sets;
        }
    } else if (byte == ESCAPE) {
        m->line_in_sequence = true;
        m->line_sequence_sets = false;
    } else if (byte == BACKSPACE) {
        if (m->line_cells)
            m->line_cells--;
    } else if (byte >= 0x20 && byte < DELETE && m->line_cells < UINT16_MAX) {
        m->line_cells++;
    }
}

static void emit_followed(struct mux *m, const char *bytes, size_t length)
{
    m->emit(m->ctx, bytes, length);
    for (size_t i = 0; i < length; i++)
        screen_follows(m, (uint8_t)bytes[i]);
}

/* The cursor goes to the start of a fresh line: an unfinished line is ended there. */
/* Labels are drawn in the default colours, and new lines begin in them (a terminal
 * fills a new line with the background colour): no client colours or hides another's
 * label or line. */
static void colours_off(struct mux *m)
{
    if (m->colours_on)
        say(m, "\x1b[m");
    m->colours_on = false;
}

static void new_line(struct mux *m, const char *line_end)
{
    colours_off(m);
    say(m, line_end);
    m->screen_line = MUX_SCREEN_FREE;
}

static void end_screen_line(struct mux *m)
{
    if (m->screen_line >= 0)
        m->clients[m->screen_line].after_cr = false;
    if (m->screen_line != MUX_SCREEN_FREE)
        new_line(m, "\r\n");
}

static void label(struct mux *m, int index)
{
    colours_off(m);
    say(m, "[");
    say_name(m, index);
    say(m, "] ");
    m->label_cells = (uint16_t)(text_length(m->clients[index].name, MUX_NAME_MAX) + 3);
    m->line_cells = 0;
    m->line_in_sequence = false;
}

/* One byte of a client's filtered output onto the screen, labelled (mux.h). */
static void show_byte(struct mux *m, int index, char byte)
{
    struct mux_client *c = &m->clients[index];
    if (m->screen_line != index) {
        end_screen_line(m);
        label(m, index);
        m->screen_line = index;
    }
    if (c->after_cr) {
        c->after_cr = false;
        if (byte == '\n') {
            new_line(m, "\n");
            return;
        }
        label(m, index);                /* the line is rewritten from its start */
    }
    if (byte == '\r') {
        say(m, "\r");
        c->after_cr = true;
    } else if (byte == '\n') {
        new_line(m, "\r\n");
    } else if (byte != BACKSPACE ||
               (m->line_cells > 0 && m->label_cells + m->line_cells < NARROWEST_TERMINAL)) {
        emit_followed(m, &byte, 1);     /* a backspace never reaches into the label */
    }
}

static void show(struct mux *m, int index, const char *bytes, size_t length)
{
    for (size_t i = 0; i < length; i++)
        show_byte(m, index, bytes[i]);
}

static bool held_back(const struct mux *m, int index)
{
    return m->full_screen >= 0 && m->full_screen != index;
}

/* Show the first `length` held bytes and keep the rest. */
static void show_held(struct mux *m, int index, size_t length)
{
    struct mux_client *c = &m->clients[index];
    show(m, index, c->held, length);
    for (size_t i = length; i < c->held_length; i++)
        c->held[i - length] = c->held[i];
    c->held_length -= length;
}

static void show_complete_lines(struct mux *m, int index)
{
    struct mux_client *c = &m->clients[index];
    size_t end = c->held_length;
    while (end && c->held[end - 1] != '\n')
        end--;
    if (end)
        show_held(m, index, end);
}

/* Filtered bytes are held whole (a sequence is never shown in two pieces, with another
 * client's line between them). */
static void hold(struct mux *m, int index, const char *bytes, size_t length)
{
    struct mux_client *c = &m->clients[index];
    if (c->held_length + length > MUX_HOLD_SIZE) {
        if (held_back(m, index)) {
            c->held_dropped += length;
            return;
        }
        show_held(m, index, c->held_length);    /* a long line goes on, unbroken */
    }
    for (size_t i = 0; i < length; i++)
        c->held[c->held_length++] = bytes[i];
}

static void enter_full_screen(struct mux *m, int index);
static void leave_full_screen(struct mux *m);

/* Whether the client's line, held or on the screen, has no end yet. */
static bool line_unfinished(const struct mux *m, int index)
{
    const struct mux_client *c = &m->clients[index];
    if (c->held_length)
        return c->held[c->held_length - 1] != '\n';
    return m->screen_line == index;
}

/* A byte of the full-screen client's: it goes on as it is; the filter only follows, to
 * see the switch back from the alternate screen.  What the filter cannot follow (a
 * sequence too long for it, a C1 control) might be that switch, unseen: the full
 * screen ends there, the byte dropped, and the reset makes the terminal drop what came
 * before it. */
static void write_full_screen(struct mux *m, int index, char byte)
{
    struct mux_filter *filter = &m->clients[index].filter;
    enum filter_action action = filter_byte(filter, (uint8_t)byte).action;
    if (filter->lost || action == FILTER_LINE_BREAK) {
        leave_full_screen(m);       /* a VMM's own line (CAN) is shown labelled */
        return;
    }
    emit_followed(m, &byte, 1);
    if (action == FILTER_ALTERNATE_OFF)
        leave_full_screen(m);
}

/* A byte of any other client's: filtered and held.  The focused client's switch to the
 * alternate screen starts full screen and goes on; anyone else's is dropped. */
static void write_labelled(struct mux *m, int index, char byte)
{
    struct filter_result out = filter_byte(&m->clients[index].filter, (uint8_t)byte);
    switch (out.action) {
    case FILTER_NOTHING:
    case FILTER_ALTERNATE_OFF:
        break;
    case FILTER_SHOW:
        hold(m, index, out.bytes, out.length);
        break;
    case FILTER_BACK:
        for (size_t i = 0; i < out.length; i++)
            hold(m, index, "\b", 1);
        break;
    case FILTER_LINE_BREAK:
        if (line_unfinished(m, index))
            hold(m, index, "\n", 1);
        break;
    case FILTER_ALTERNATE_ON:
        if (index == m->focus && !held_back(m, index)) {
            enter_full_screen(m, index);
            emit_followed(m, out.bytes, out.length);
        }
        break;
    }
}

void mux_write(struct mux *m, uint64_t badge, const char *bytes, size_t length)
{
    int index = find(m, badge);
    if (index < 0)
        return;
    for (size_t i = 0; i < length; i++) {
        if (m->full_screen == index)
            write_full_screen(m, index, bytes[i]);
        else
            write_labelled(m, index, bytes[i]);
    }
    if (m->full_screen != index && !held_back(m, index))
        show_complete_lines(m, index);
}

bool mux_holding(const struct mux *m)
{
    for (unsigned i = 0; i < m->count; i++)
        if (m->clients[i].held_length && !held_back(m, (int)i))
            return true;
    return false;
}

void mux_flush(struct mux *m)
{
    for (unsigned i = 0; i < m->count; i++)
        if (m->clients[i].held_length && !held_back(m, (int)i))
            show_held(m, (int)i, m->clients[i].held_length);
}

/* ---- Notes from the console itself ------------------------------------------------- */

static void note_begin(struct mux *m)
{
    end_screen_line(m);
    colours_off(m);
    say(m, "[console] ");
}

static void note_end(struct mux *m)
{
    say(m, "\r\n");
}

static void note(struct mux *m, const char *text)
{
    note_begin(m);
    say(m, text);
    note_end(m);
}

/* ---- Clients ------------------------------------------------------------------------- */

void mux_init(struct mux *m, void (*emit)(void *ctx, const char *text, size_t length), void *ctx)
{
    *m = (struct mux){ .emit = emit, .ctx = ctx, .focus = -1, .screen_line = MUX_SCREEN_FREE, .full_screen = -1 };
}

void mux_set_shell(struct mux *m, uint64_t badge)
{
    m->shell_badge = badge;
}

/* Indexes at or after `from` move up one to make room, keeping the table by badge. */
static void index_inserted(int *index, int from)
{
    if (*index >= from)
        (*index)++;
}

/* A name a client may have: letters, digits, '.', '_', '-' (as the configuration's
 * guest names), not the console's own, and no other client's. */
static bool name_allowed(const struct mux *m, uint64_t badge, const char *name)
{
    size_t n = text_length(name, MUX_NAME_MAX - 1);
    if (n == 0 || (n == 7 && same_text(name, "console", 7)))
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    for (unsigned i = 0; i < m->count; i++)
        if (m->clients[i].badge != badge && text_length(m->clients[i].name, MUX_NAME_MAX) == n &&
            same_text(m->clients[i].name, name, n))
            return false;
    return true;
}

/* The client with this badge, added in badge order if new; -1 when the table is full. */
static int client_of(struct mux *m, uint64_t badge)
{
    int index = find(m, badge);
    if (index >= 0)
        return index;
    if (m->count == MUX_CLIENTS)
        return -1;
    index = (int)m->count;
    while (index > 0 && m->clients[index - 1].badge > badge) {
        m->clients[index] = m->clients[index - 1];
        index--;
    }
    m->count++;
    index_inserted(&m->focus, index);
    index_inserted(&m->screen_line, index);
    index_inserted(&m->full_screen, index);
    m->clients[index] = (struct mux_client){ .badge = badge };
    return index;
}

static void set_name(struct mux_client *c, const char *name)
{
    size_t n = text_length(name, sizeof(c->name) - 1);
    for (size_t i = 0; i < n; i++)
        c->name[i] = name[i];
    c->name[n] = 0;
}

int mux_hello(struct mux *m, uint64_t badge, const char *name)
{
    int known = find(m, badge);
    bool given = known >= 0 && m->clients[known].name_given;
    if (!given && !name_allowed(m, badge, name))
        return -2;
    int index = client_of(m, badge);
    if (index < 0)
        return -1;
    struct mux_client *c = &m->clients[index];
    c->stopped = false;             /* a stopped client started again keeps its place */
    c->told_dropped = false;
    if (!given)
        set_name(c, name);
    return index;
}

int mux_name(struct mux *m, uint64_t badge, const char *name)
{
    if (!name_allowed(m, badge, name))
        return -2;
    int index = client_of(m, badge);
    if (index < 0)
        return -1;
    set_name(&m->clients[index], name);
    m->clients[index].name_given = true;
    return index;
}

static bool takes_input(const struct mux_client *c)
{
    return c->reads && !c->stopped;
}

/* The next client after `from` (cyclically) that takes input; -1 if none. */
static int next_reader(const struct mux *m, int from)
{
    for (unsigned step = 1; step <= m->count; step++) {
        int i = (int)((unsigned)(from + (int)step) % m->count);
        if (takes_input(&m->clients[i]) && i != from)
            return i;
    }
    return -1;
}

/* Where the focus goes when its client stops: the next guest that takes input, else
 * the control shell. */
static int next_after_stop(const struct mux *m, int from)
{
    for (unsigned step = 1; step < m->count; step++) {
        int i = (int)((unsigned)(from + (int)step) % m->count);
        if (takes_input(&m->clients[i]) && m->clients[i].badge != m->shell_badge)
            return i;
    }
    return next_reader(m, from);
}

static void leave_full_screen(struct mux *m)
{
    int owner = m->full_screen;
    if (owner < 0)
        return;
    m->clients[owner].filter = (struct mux_filter){ .state = MUX_FILTER_TEXT };
    m->full_screen = -1;
    m->screen_line = MUX_SCREEN_FREE;
    say(m, MUX_FULL_SCREEN_RESET "\r\n");
    m->colours_on = false;
    m->line_in_sequence = false;
    note_begin(m);
    say(m, "full screen ended: ");
    say_name(m, owner);
    say(m, "'s output is labelled again");
    note_end(m);
    for (unsigned i = 0; i < m->count; i++) {
        struct mux_client *c = &m->clients[i];
        if (c->held_dropped) {
            note_begin(m);
            say_name(m, (int)i);
            say(m, ": ");
            say_number(m, c->held_dropped);
            say(m, " bytes of output were dropped during the full screen");
            note_end(m);
            c->held_dropped = 0;
        }
    }
    mux_flush(m);
}

/* What the client wrote before is shown labelled; from now on its output passes as it is. */
static void enter_full_screen(struct mux *m, int index)
{
    show_held(m, index, m->clients[index].held_length);
    note_begin(m);
    say(m, "full screen: ");
    say_name(m, index);
    say(m, " (Ctrl-] f ends it)");
    note_end(m);
    m->full_screen = index;
    struct mux_filter *filter = &m->clients[index].filter;   /* (its sequence is shown next) */
    filter->state = MUX_FILTER_TEXT;
    filter->character_length = 0;
    filter->lost = false;
}

void mux_stopped(struct mux *m, uint64_t badge)
{
    int index = find(m, badge);
    if (index < 0 || m->clients[index].stopped)
        return;
    struct mux_client *c = &m->clients[index];
    if (m->full_screen == index)
        leave_full_screen(m);
    if (!held_back(m, index))
        show_held(m, index, c->held_length);
    c->filter = (struct mux_filter){ .state = MUX_FILTER_TEXT };  /* started again: text */
    c->stopped = true;
    c->input_count = 0;
    if (m->focus != index)
        return;
    int next = next_after_stop(m, index);
    if (next >= 0)
        m->focus = next;            /* else it stays, and typing to it says it stopped */
    note_begin(m);
    say_name(m, index);
    say(m, " has stopped; ");
    if (next >= 0) {
        say(m, "focus: ");
        say_name(m, m->focus);
    } else {
        say(m, "no other target takes input");
    }
    note_end(m);
}

/* ---- Input --------------------------------------------------------------------------- */

static void queue(struct mux_client *c, uint8_t byte)
{
    c->input[(c->input_head + c->input_count++) % MUX_INPUT_SIZE] = byte;
}

static void dropped_note(struct mux *m, int index, const char *why)
{
    struct mux_client *c = &m->clients[index];
    if (c->told_dropped)
        return;
    c->told_dropped = true;
    note_begin(m);
    say_name(m, index);
    say(m, why);
    say(m, ": what is typed is dropped (Ctrl-] ? lists the keys and targets)");
    note_end(m);
}

static void deliver(struct mux *m, uint8_t byte)
{
    if (m->focus < 0) {
        if (m->count == 0)
            return;
        m->focus = 0;
    }
    struct mux_client *c = &m->clients[m->focus];
    if (c->stopped)
        dropped_note(m, m->focus, " has stopped");
    else if (c->input_count < MUX_INPUT_SIZE && !c->stalled)
        queue(c, byte);
    else
        dropped_note(m, m->focus, c->reads ? " is not reading its input" : " reads no input");
}

bool mux_input_room(const struct mux *m)
{
    if (m->keys != MUX_KEYS_TYPING || m->focus < 0)
        return true;
    const struct mux_client *c = &m->clients[m->focus];
    return !takes_input(c) || c->stalled || c->input_count < MUX_INPUT_SIZE;
}

void mux_stalled(struct mux *m)
{
    if (m->focus >= 0 && !mux_input_room(m))
        m->clients[m->focus].stalled = true;
}

static void focus_on(struct mux *m, int index)
{
    if (m->clients[index].stopped) {
        note_begin(m);
        say_name(m, index);
        say(m, " has stopped; focus stays on ");
        say(m, m->focus >= 0 ? m->clients[m->focus].name : "nothing");
        note_end(m);
        return;
    }
    if (m->full_screen >= 0 && m->full_screen != index)
        leave_full_screen(m);
    m->focus = index;
    m->focus_chosen = true;
    m->clients[index].told_dropped = false;
    note_begin(m);
    say(m, "focus: ");
    say_name(m, index);
    if (!m->clients[index].reads)
        say(m, " (it reads no input)");
    note_end(m);
}

static void list_targets(struct mux *m)
{
    note_begin(m);
    say(m, "targets:");
    for (unsigned i = 0; i < m->count; i++) {
        const struct mux_client *c = &m->clients[i];
        say(m, "  ");
        say_number(m, i + 1);
        say(m, " ");
        say(m, c->name);
        if (c->stopped)
            say(m, " (stopped)");
        else if (!c->reads)
            say(m, " (reads no input)");
        if ((int)i == m->focus)
            say(m, " *");
    }
    note_end(m);
}

static void help(struct mux *m)
{
    note(m, "keys after Ctrl-]:");
    note(m, "  1-9     focus on that target of the list below");
    note(m, "  n       focus on the next target that takes input");
    note(m, "  c       focus on a target by name: type the name, then Enter");
    note(m, "  f       full screen for the focused guest (top, vi): its output unlabelled,");
    note(m, "          the others' held until Ctrl-] f again");
    note(m, "  ?       this list");
    note(m, "  Ctrl-]  send Ctrl-] itself");
    list_targets(m);
}

/* A target named by what was typed: the exact name, else the only one it begins. */
static int lookup(const struct mux *m, const char *typed, size_t length)
{
    int found = -1, prefixed = 0;
    for (unsigned i = 0; i < m->count; i++) {
        const char *name = m->clients[i].name;
        size_t n = text_length(name, MUX_NAME_MAX);
        if (n == length && same_text(name, typed, length))
            return (int)i;
        if (n > length && same_text(name, typed, length)) {
            found = (int)i;
            prefixed++;
        }
    }
    return prefixed == 1 ? found : -1;
}

/* The console's own unfinished line: the question and what is typed so far. */
static void name_prompt(struct mux *m)
{
    note_begin(m);
    say(m, "focus on: ");
    m->emit(m->ctx, m->typed, m->typed_length);
    m->screen_line = MUX_SCREEN_CONSOLE;
}

static void name_key(struct mux *m, uint8_t byte)
{
    if (byte == '\r' || byte == '\n') {
        m->keys = MUX_KEYS_TYPING;
        end_screen_line(m);
        int index = lookup(m, m->typed, m->typed_length);
        if (index >= 0) {
            focus_on(m, index);
        } else {
            m->typed[m->typed_length] = 0;
            note_begin(m);
            say(m, "no target named '");
            say(m, m->typed);
            say(m, "'");
            note_end(m);
            list_targets(m);
        }
    } else if (byte == KEY_BACKSPACE || byte == KEY_CTRL_H) {
        if (m->typed_length) {
            m->typed_length--;
            if (m->screen_line == MUX_SCREEN_CONSOLE)
                say(m, "\b \b");
            else
                name_prompt(m);
        }
    } else if (byte == KEY_ESC || byte == KEY_CTRL_C || byte == PITH_CONSOLE_ESCAPE) {
        m->keys = MUX_KEYS_TYPING;
        end_screen_line(m);
        note(m, "focus unchanged");
    } else if (byte > ' ' && byte < 0x7f && m->typed_length < MUX_NAME_MAX - 1) {
        if (m->screen_line != MUX_SCREEN_CONSOLE)
            name_prompt(m);                     /* a guest wrote meanwhile: show it again */
        m->typed[m->typed_length++] = (char)byte;
        m->emit(m->ctx, (const char *)&byte, 1);
    }
}

static void escape_key(struct mux *m, uint8_t byte)
{
    m->keys = MUX_KEYS_TYPING;
    if (byte == PITH_CONSOLE_ESCAPE) {
        deliver(m, byte);
    } else if (byte >= '1' && byte <= '9') {
        unsigned n = byte - '1';
        if (n < m->count) {
            focus_on(m, (int)n);
        } else {
            note_begin(m);
            say(m, "no target ");
            say_number(m, n + 1);
            note_end(m);
            list_targets(m);
        }
    } else if (byte == 'n') {
        int next = next_reader(m, m->focus < 0 ? -1 : m->focus);
        if (next >= 0)
            focus_on(m, next);
        else
            note(m, "no other target takes input");
    } else if (byte == 'c') {
        m->keys = MUX_KEYS_NAME;
        m->typed_length = 0;
        name_prompt(m);
    } else if (byte == 'f') {
        if (m->full_screen >= 0)
            leave_full_screen(m);
        else if (m->focus >= 0 && !m->clients[m->focus].stopped)
            enter_full_screen(m, m->focus);
    } else if (byte == '?' || byte == 'h') {
        help(m);
    } else {
        note(m, "unknown key after Ctrl-]: Ctrl-] ? lists the keys");
    }
}

void mux_input(struct mux *m, uint8_t byte)
{
    switch (m->keys) {
    case MUX_KEYS_ESCAPE:
        escape_key(m, byte);
        break;
    case MUX_KEYS_NAME:
        name_key(m, byte);
        break;
    case MUX_KEYS_TYPING:
        if (byte == PITH_CONSOLE_ESCAPE)
            m->keys = MUX_KEYS_ESCAPE;
        else
            deliver(m, byte);
        break;
    }
}

bool mux_focus(struct mux *m, uint64_t badge)
{
    int index = find(m, badge);
    if (index < 0 || m->clients[index].stopped)
        return false;
    focus_on(m, index);
    return true;
}

/* Whether the focus may go to a client that reads for the first time: nobody takes
 * input there, or only the control shell, which nobody chose. */
static bool focus_open(const struct mux *m, const struct mux_client *c)
{
    if (m->focus < 0 || !takes_input(&m->clients[m->focus]))
        return true;
    return m->shell_badge && m->clients[m->focus].badge == m->shell_badge && !m->focus_chosen &&
           c->badge != m->shell_badge;
}

size_t mux_read(struct mux *m, uint64_t badge, uint8_t *out, size_t max)
{
    int index = find(m, badge);
    if (index < 0)
        return 0;
    struct mux_client *c = &m->clients[index];
    /* The keyboard starts with the first client that wants input (mux.h). */
    if (!c->reads && !c->stopped && focus_open(m, c)) {
        if (m->focus >= 0 && m->focus != index) {
            /* what was typed before anyone read goes along */
            struct mux_client *old = &m->clients[m->focus];
            while (old->input_count && c->input_count < MUX_INPUT_SIZE) {
                queue(c, old->input[old->input_head]);
                old->input_head = (old->input_head + 1) % MUX_INPUT_SIZE;
                old->input_count--;
            }
        }
        if (m->full_screen >= 0 && m->full_screen != index)
            leave_full_screen(m);       /* the screen goes with the keyboard */
        m->focus = index;
        m->focus_chosen = false;
        note_begin(m);
        say(m, "focus: ");
        say_name(m, index);
        say(m, " (the first to read; Ctrl-] ? lists the keys)");
        note_end(m);
    }
    c->reads = true;
    c->stalled = false;
    size_t n = 0;
    while (n < max && c->input_count) {
        out[n++] = c->input[c->input_head];
        c->input_head = (c->input_head + 1) % MUX_INPUT_SIZE;
        c->input_count--;
    }
    return n;
}
