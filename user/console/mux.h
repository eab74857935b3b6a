/*
 * The console multiplexer, without hardware: several clients share one terminal.
 * Unit-tested on the host (tests/devices/console_mux_test.c).
 *
 * Output.  Every screen line belongs to one client and starts with its label
 * "[name] ", once.  A client's complete lines go out at once, whole, however long; its
 * unfinished last line (a prompt, an echoed key) is held until the line completes or
 * the server calls mux_flush (after a short hold, so a line a guest writes in pieces
 * still arrives in one piece).  When another client's output arrives while a line is
 * unfinished on the screen, that line is ended there and continues later on a new line
 * with its label again.  A carriage return that does not end a line rewrites the label
 * after it, so a line editor's redraw keeps it.
 *
 * Filter.  A client's output passes a filter of its own, which keeps its state between
 * writes (a sequence may come in pieces), so that a client can change nothing on the
 * screen but its own line, right of its label, nor make the terminal answer on the
 * keyboard (that would be typing into the focused client):
 *   - passes: printable ASCII; UTF-8 characters, each when complete and well formed
 *     (Unicode table 3-7), but not U+0080..U+009F, the C1 controls, which some
 *     terminals obey in UTF-8 too (U+009B is CSI); every other byte from 0x80 up is
 *     dropped, so no lone C1 introducer (0x9b CSI, 0x9d OSC, 0x90 DCS) passes; tab,
 *     newline, carriage return.  The terminal must be in UTF-8 mode: one that reads
 *     8-bit controls would take a character's second byte from 0x80 to 0x9F (that of
 *     U+011B, say) for one;
 *   - passes: SGR (CSI digits and ';' m): colours.  A label, a client's or the
 *     console's, is drawn in the default colours (ESC [ m goes first when a colour
 *     may be on), so no client can hide or paint a label; a colour does not carry
 *     over a label, into the next line or after a carriage return, and a new line
 *     begins in the default colours (a terminal fills it with the background colour);
 *   - passes: erase right of the cursor, CSI K or CSI 0K, and below it, CSI J or CSI 0J
 *     (in the default colours: ESC [ m goes first).  Nothing of another client is
 *     there: the lines go onto the screen one after another and nothing that passes
 *     moves the cursor up.  CSI 1K, 2K, 1J, 2J, 3J would erase labels and are dropped;
 *   - backspace, and CSI n D (n backspaces), only as far as the client's own printable
 *     ASCII on the screen line since its label, and not past column 80: its own line
 *     editing ("\b \b", a shell moving back) works, the label stays.  A character
 *     beyond ASCII or a tab counts none, so this never reaches further than the cells
 *     the client filled; and at the right margin a terminal holds the cursor on the
 *     last column, so a backspace from there would go one cell further back than
 *     counted: past column 80 a line takes none (a narrower terminal wraps labels
 *     anyway);
 *   - CAN ends whatever sequence or string is open, and the client's unfinished line:
 *     a VMM writes it before a line of its own (vm_own_line), which no guest can then
 *     swallow or join;
 *   - everything else is dropped whole, its parameters with it: other C0 controls (BEL,
 *     SO/SI, ENQ, VT, FF) and DEL; cursor moves and positions, scroll regions, ESC 7/8,
 *     ESC M, ESC c; modes (CSI ? ... h/l), the alternate screen too, unless it starts
 *     full screen (below); character sets (ESC ( 0 and the like); every report request
 *     (CSI 6n, CSI c, CSI > c...), the focused client's too (the answer goes to whoever
 *     has the keyboard when it arrives); and the strings OSC (titles, OSC 52 clipboard),
 *     DCS (DECRQSS), SOS, PM and APC up to their ST (ESC \), or BEL for OSC.  A C0
 *     control inside a sequence acts as in a terminal (a newline is a newline), SUB
 *     ends it.  A sequence or string that is still unfinished after
 *     MUX_SEQUENCE_BOUND bytes is given up: what follows is text again.
 * The filter works before the hold: held bytes are clean.
 *
 * Full screen (Ctrl-] f, or from when the focused client switches to the terminal's
 * alternate screen, CSI ? 1049/1047/47 h, as vi does, until it switches back) is the
 * exception, chosen by the operator or accepted with the focus: the focused client's
 * output passes without labels and unfiltered, and the others' is held until full
 * screen ends.  The filter still follows the full-screen client's output, to see the
 * switch back; what it cannot follow there (a sequence too long for it, a C1 control,
 * a stray byte) might be that switch unseen, so the full screen ends at that byte,
 * which is dropped.  However it ends, MUX_FULL_SCREEN_RESET goes to the terminal first
 * (it ends an open sequence, the alternate screen and whatever modes the client set,
 * and puts the cursor below everything shown), and the filter starts again with text.
 * While a client has the full screen, the screen shows what it draws: the console's
 * note before it ("full screen: NAME") is the operator's only sign of whose it is.
 *
 * Input.  Typed bytes go to the focused client's queue.  A queue that is full holds
 * the keyboard back (mux_input_room) instead of dropping: the server stops reading the
 * UART and the host's serial line waits, for some seconds at most (mux_stalled: a
 * client that stops reading must not keep Ctrl-] from the operator).  Only a client that has never asked for input
 * (it may never) or one that has stopped does not hold the keyboard back: what is typed
 * to it is dropped, with a note.
 *
 * Focus targets.  The clients, ordered by badge (the root task's 1 first, then the
 * guests in configuration order), numbered 1.. as Ctrl-] ? lists them; a stopped
 * client stays in the list, marked stopped, so the numbers do not move.  A control
 * shell that reads input and registers with the lowest badge becomes target 1; the
 * keyboard still starts with the first guest that reads (the shell has it until then,
 * or when it is chosen), and the console says so.  The shell may also move the focus (mux_focus: its `console
 * NAME`).
 * Keys after Ctrl-] (PITH_CONSOLE_ESCAPE): a digit, `n` (next), `c` NAME Enter, `f`
 * (full screen), `?` (the keys and targets), Ctrl-] (itself); anything else gets a hint.
 */
#ifndef CONSOLE_MUX_H
#define CONSOLE_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MUX_CLIENTS     66          /* the root task, its shell and SYSCONF_MAX_GUESTS guests */
#define MUX_NAME_MAX    32
#define MUX_INPUT_SIZE  2048        /* typed bytes a client has not read yet */
#define MUX_HOLD_SIZE   2048        /* output not yet shown */
#define MUX_SEQUENCE_MAX   48       /* the longest control sequence that may pass */
#define MUX_SEQUENCE_BOUND 4096     /* bytes after which an unfinished one is given up */
/* What ends the full screen, whatever the client did: CAN ends a sequence or string it
 * left open; back to the main screen; a soft reset (DECSTR: modes, margins, character
 * sets, colours, the palette); autowrap and the cursor on; mouse, focus and
 * bracketed-paste reports off; the default foreground, background, cursor and
 * highlight colours (OSC 110..119: a client could have made them black on black, and
 * labels are drawn in them); user-defined keys cleared (DECUDK); the cursor to the
 * last line, below everything shown, since the client may have moved it on the main
 * screen too (xterm's ctlseqs).  The modes DECSTR leaves (keyboard lock, local echo,
 * newline; VT52 and Tektronix modes, in which a reset is not heard) the client cannot
 * set: in the full screen they end it first (mux.c, mode_sequence). */
#define MUX_FULL_SCREEN_RESET "\x18\x1b[?1049l\x1b[!p\x1b[?7h\x1b[?25h" \
    "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1004l\x1b[?1006l\x1b[?2004l" \
    "\x1b]110\x1b\\\x1b]111\x1b\\\x1b]112\x1b\\\x1b]117\x1b\\\x1b]119\x1b\\\x1bP0;1|\x1b\\" \
    "\x1b(B\x0f\x1b[m\x1b[9999;1H"

/* Where a client's output filter is (mux.c): text, or inside an escape sequence,
 * control sequence (CSI) or control string. */
enum mux_filter_state {
    MUX_FILTER_TEXT,
    MUX_FILTER_ESCAPE,              /* after ESC */
    MUX_FILTER_ESCAPE_INTERMEDIATE, /* ESC ( and the like, to its final byte */
    MUX_FILTER_CONTROL_SEQUENCE,    /* ESC [, to its final byte */
    MUX_FILTER_IGNORED_SEQUENCE,    /* one too long to pass, to its final byte */
    MUX_FILTER_OSC,                 /* ESC ], to ST or BEL */
    MUX_FILTER_STRING,              /* ESC P, X, ^, _, to ST */
    MUX_FILTER_STRING_ESCAPE,       /* ESC in a string: ST if '\\' follows */
};

struct mux_filter {
    enum mux_filter_state state;
    uint16_t swallowed;             /* bytes of the sequence or string so far */
    uint8_t sequence_length;
    char sequence[MUX_SEQUENCE_MAX];    /* the control sequence so far, from its ESC */
    uint8_t character_length;
    char character[4];              /* an unfinished UTF-8 character, or a byte to show */
    bool lost;                      /* it met what it cannot follow: a sequence too long,
                                     * a C1 control or a stray byte, a string given up */
};

struct mux_client {
    uint64_t badge;
    char name[MUX_NAME_MAX];
    bool reads;                     /* it has asked for input at least once */
    bool stopped;                   /* mux_stopped: it will neither write nor read again */
    bool after_cr;                  /* its last byte shown was a lone carriage return */
    bool told_dropped;              /* the note about dropped input was shown */
    bool name_given;                /* by the root task (mux_name): a HELLO keeps it */
    bool stalled;                   /* focused, its queue full and unread too long
                                     * (mux_stalled): what is typed to it is dropped */
    uint8_t input[MUX_INPUT_SIZE];
    size_t input_head, input_count;
    struct mux_filter filter;
    char held[MUX_HOLD_SIZE];       /* filtered */
    size_t held_length;
    size_t held_dropped;            /* output lost while another had the full screen */
};

enum mux_keys { MUX_KEYS_TYPING, MUX_KEYS_ESCAPE, MUX_KEYS_NAME };

struct mux {
    struct mux_client clients[MUX_CLIENTS];     /* by badge */
    unsigned count;
    int focus;                      /* index of the focused client; -1 before any */
    bool focus_chosen;              /* by a key or mux_focus, not by the first reader */
    uint64_t shell_badge;           /* the control shell's client, 0: none (mux_init) */
    int screen_line;                /* whose unfinished line the cursor is on, or: */
#define MUX_SCREEN_FREE    (-1)     /*   the cursor is at the start of a line */
#define MUX_SCREEN_CONSOLE (-2)     /*   the console's own question (Ctrl-] c) */
    uint16_t label_cells;           /* the width of the screen line's label */
    uint16_t line_cells;            /* at least this many of the screen line's client's
                                     * cells are left of the cursor, after its label */
    bool line_in_sequence;          /* a shown control sequence has not ended yet */
    bool line_sequence_sets;        /* it has a digit other than 0: as SGR it sets colours */
    bool colours_on;                /* an SGR that set colours was shown, none reset them */
    int full_screen;                /* whose output has the screen unlabelled; -1: none */
    enum mux_keys keys;
    char typed[MUX_NAME_MAX];       /* a name typed after Ctrl-] c */
    size_t typed_length;
    void (*emit)(void *ctx, const char *text, size_t length);   /* to the terminal */
    void *ctx;
};

void mux_init(struct mux *m, void (*emit)(void *ctx, const char *text, size_t length), void *ctx);
/* The client with this badge is the control shell: it gives the keyboard to the first
 * guest that reads until the focus is chosen. */
void mux_set_shell(struct mux *m, uint64_t badge);
/* Focus the client with this badge, as Ctrl-] c NAME would; false if there is none or
 * it has stopped (the focus stays). */
bool mux_focus(struct mux *m, uint64_t badge);
/* A client introduces itself; again: a new name, or a stopped client started again.
 * A name the root task gave (mux_name) stays whatever the client says.  Otherwise the
 * name must be letters, digits, '.', '_' or '-', not "console", and no other client's:
 * a client cannot take another's label or its place in Ctrl-] c.  Returns its index,
 * -1 when the table is full, -2 for a refused name. */
int mux_hello(struct mux *m, uint64_t badge, const char *name);
/* The root task names the client with this badge (its guest's configured name) before
 * that client runs; the same rules as mux_hello.  Returns its index, -1 or -2. */
int mux_name(struct mux *m, uint64_t badge, const char *name);
/* A client has stopped: its held output is shown, its input dropped, focus moves on. */
void mux_stopped(struct mux *m, uint64_t badge);
/* Output from a client. */
void mux_write(struct mux *m, uint64_t badge, const char *bytes, size_t length);
/* Whether unfinished lines are held: the server calls mux_flush soon. */
bool mux_holding(const struct mux *m);
/* Show every held unfinished line (not those held back by the full screen). */
void mux_flush(struct mux *m);
/* Whether the next typed byte can be taken without dropping it. */
bool mux_input_room(const struct mux *m);
/* The focused client has held the keyboard back too long without reading (the server
 * calls this after 10 s): from now until its next READ, what is typed to it is
 * dropped, with a note, so Ctrl-] is read again and the operator keeps the keyboard. */
void mux_stalled(struct mux *m);
/* A byte typed on the keyboard. */
void mux_input(struct mux *m, uint8_t byte);
/* Up to max bytes queued for the client; returns how many. */
size_t mux_read(struct mux *m, uint64_t badge, uint8_t *out, size_t max);

#endif
