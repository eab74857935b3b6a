/* The console multiplexer: labelled lines, focus, input routing, back-pressure. */
#include "harness.h"
#include "../../user/console/mux.h"
#include <pith/console.h>

static char out[16384];
static size_t out_length;

static void capture(void *ctx, const char *text, size_t length)
{
    (void)ctx;
    memcpy(out + out_length, text, length);
    out_length += length;
    out[out_length] = 0;
}

static void setup(struct mux *m)
{
    out_length = 0;
    out[0] = 0;
    mux_init(m, capture, NULL);
    mux_hello(m, 11, "alpha");
    mux_hello(m, 22, "beta");
}

static void lines_are_prefixed(void)
{
    static struct mux m;
    setup(&m);
    mux_write(&m, 11, "hello\n", 6);
    CHECK(strcmp(out, "[alpha] hello\r\n") == 0);
}

static void partial_lines_do_not_interleave(void)
{
    static struct mux m;
    setup(&m);
    mux_write(&m, 11, "one ", 4);
    mux_write(&m, 22, "two\n", 4);
    mux_write(&m, 11, "three\n", 6);
    CHECK(strcmp(out, "[beta] two\r\n[alpha] one three\r\n") == 0);
}

static void unknown_clients_ignored(void)
{
    static struct mux m;
    setup(&m);
    mux_write(&m, 99, "x\n", 2);
    CHECK_EQ(out_length, 0);
}

static void long_line_whole(void)
{
    static struct mux m;
    static char line[3 * MUX_HOLD_SIZE + 1];
    setup(&m);
    memset(line, 'z', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\n';
    mux_write(&m, 22, line, 300);               /* in pieces, as a VMM sends it */
    mux_write(&m, 22, line + 300, sizeof(line) - 300);
    CHECK(strncmp(out, "[beta] zzz", 10) == 0);
    CHECK_EQ(out_length, 7 + sizeof(line) - 1 + 2);
    CHECK(strstr(out + 1, "[") == NULL);          /* one label, no break */
}

static void partial_line_held_then_flushed(void)
{
    static struct mux m;
    setup(&m);
    mux_write(&m, 11, "~ # ", 4);               /* a prompt */
    CHECK_EQ(out_length, 0);
    CHECK(mux_holding(&m));
    mux_flush(&m);
    CHECK(strcmp(out, "[alpha] ~ # ") == 0);
    CHECK(!mux_holding(&m));
    mux_write(&m, 11, "l", 1);                  /* the echo of a key: no second label */
    mux_flush(&m);
    mux_write(&m, 11, "s\r\n", 3);
    CHECK(strcmp(out, "[alpha] ~ # ls\r\n") == 0);
}

static void interleaved_partial_line_continues_labelled(void)
{
    static struct mux m;
    setup(&m);
    mux_write(&m, 11, "abc", 3);
    mux_flush(&m);
    mux_write(&m, 22, "beta line\n", 10);
    mux_write(&m, 11, "def\n", 4);
    CHECK(strcmp(out, "[alpha] abc\r\n[beta] beta line\r\n[alpha] def\r\n") == 0);
}

static void carriage_return_keeps_label(void)
{
    static struct mux m;
    setup(&m);
    mux_write(&m, 11, "50%\r75%\r\n", 10);
    CHECK(strcmp(out, "[alpha] 50%\r[alpha] 75%\r\n") == 0);
}

static void escape_sequences_pass(void)
{
    static struct mux m;
    setup(&m);
    const char bytes[] = "\x1b[1;31mred\x1b[0m\t\b\n";
    mux_write(&m, 11, bytes, sizeof(bytes) - 1);
    CHECK(strcmp(out, "[alpha] \x1b[1;31mred\x1b[0m\t\b\r\n") == 0);
}

static void full_screen_unlabelled_others_held(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_read(&m, 11, got, 8);                   /* alpha reads: it has the keyboard */
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, 'f');
    CHECK(strstr(out, "full screen: alpha") != NULL);
    out_length = 0;
    mux_write(&m, 11, "\x1b[H\x1b[Jtop\n", 10);
    mux_write(&m, 22, "beta\n", 5);
    CHECK_EQ(out_length, 10);
    CHECK(memcmp(out, "\x1b[H\x1b[Jtop\n", 10) == 0);
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, 'f');
    out[out_length] = 0;
    CHECK(strstr(out, "full screen ended") != NULL);
    CHECK(strstr(out, "[beta] beta\r\n") != NULL);
}

static void input_goes_to_focus(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_input(&m, 'a');
    CHECK_EQ(mux_read(&m, 11, got, 8), 1);
    CHECK_EQ(got[0], 'a');
    CHECK_EQ(mux_read(&m, 22, got, 8), 0);
}

static void escape_switches_focus(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, '2');
    mux_input(&m, 'b');
    CHECK_EQ(mux_read(&m, 22, got, 8), 1);
    CHECK_EQ(got[0], 'b');
    CHECK(strstr(out, "focus: beta") != NULL);
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, PITH_CONSOLE_ESCAPE);         /* a literal Ctrl-A */
    CHECK_EQ(mux_read(&m, 22, got, 8), 1);
    CHECK_EQ(got[0], PITH_CONSOLE_ESCAPE);
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, '7');                         /* no seventh target: a note, not input */
    CHECK_EQ(mux_read(&m, 22, got, 8), 0);
    CHECK_EQ(m.focus, 1);
    CHECK(strstr(out, "no target 7") != NULL);
}

/* vi switches to the alternate screen and back: full screen follows it. */
static void alternate_screen_is_full_screen(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_read(&m, 11, got, 8);
    mux_write(&m, 11, "$ vi\r\n\x1b[?1049h\x1b[Hfile\n", 22);
    mux_write(&m, 22, "beta\n", 5);
    CHECK(strstr(out, "[alpha] $ vi\r\n[console] full screen: alpha (Ctrl-] f ends it)\r\n"
                      "\x1b[?1049h\x1b[Hfile\n") != NULL);
    CHECK(strstr(out, "beta") == NULL);
    mux_write(&m, 11, "\x1b[?1049l$ ", 10);
    CHECK(strstr(out, "\x1b[?1049l" MUX_FULL_SCREEN_RESET "\r\n[console] full screen ended") != NULL);
    CHECK(strstr(out, "[beta] beta\r\n") != NULL);
    mux_flush(&m);
    CHECK(strstr(out, "[alpha] $ ") != NULL);
    mux_write(&m, 22, "\x1b[?1049h\n", 9);           /* not focused: no full screen */
    CHECK_EQ(m.full_screen, -1);
}

static void stop_during_full_screen_waits(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_read(&m, 11, got, 8);
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, 'f');
    mux_write(&m, 22, "last words\n", 11);
    mux_stopped(&m, 22);                        /* beta's line waits for the screen */
    CHECK(strstr(out, "last words") == NULL);
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, 'f');
    CHECK(strstr(out, "[beta] last words\r\n") != NULL);
}

static void unknown_escape_gives_hint(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, 'z');
    CHECK(strstr(out, "[console] unknown key after Ctrl-]: Ctrl-] ? lists the keys\r\n") != NULL);
    CHECK_EQ(mux_read(&m, 11, got, 8), 0);
}

static void help_lists_keys_and_targets(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_read(&m, 22, got, 8);
    mux_stopped(&m, 11);
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, '?');
    CHECK(strstr(out, "keys after Ctrl-]") != NULL);
    CHECK(strstr(out, "  c       focus on a target by name") != NULL);
    CHECK(strstr(out, "targets:  1 alpha (stopped)  2 beta *\r\n") != NULL);
}

static void focus_by_name(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_read(&m, 11, got, 8);
    mux_read(&m, 22, got, 8);
    const char *keys = "\x1d" "cbet\x7f" "ta\r" "x";
    for (const char *k = keys; *k; k++)
        mux_input(&m, (uint8_t)*k);
    CHECK(strstr(out, "[console] focus on: bet\b \bta\r\n[console] focus: beta\r\n") != NULL);
    CHECK_EQ(mux_read(&m, 22, got, 8), 1);
    CHECK_EQ(got[0], 'x');
    keys = "\x1d" "cal\r";                    /* a unique beginning will do */
    for (const char *k = keys; *k; k++)
        mux_input(&m, (uint8_t)*k);
    CHECK_EQ(m.focus, 0);
    keys = "\x1d" "cnope\r";
    for (const char *k = keys; *k; k++)
        mux_input(&m, (uint8_t)*k);
    CHECK(strstr(out, "no target named 'nope'") != NULL);
    CHECK_EQ(m.focus, 0);
}

static void name_question_survives_guest_output(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_read(&m, 11, got, 8);
    out_length = 0;
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, 'c');
    mux_input(&m, 'b');
    mux_write(&m, 11, "busy\n", 5);
    mux_input(&m, 'e');
    CHECK(strcmp(out, "[console] focus on: b\r\n[alpha] busy\r\n[console] focus on: be") == 0);
}

/* ---- The output filter (mux.h: Filter; found in review, 2026-12-07) ---------------- */

static void write_text(struct mux *m, uint64_t badge, const char *text)
{
    mux_write(m, badge, text, strlen(text));
}

/* A guest cannot move the cursor onto another's lines, scroll, or save and restore it:
 * the sequence goes, the guest's text around it stays. */
static void filter_drops_cursor_moves(void)
{
    static struct mux m;
    setup(&m);
    const char bytes[] = "a\x1b[Ab\x1b[1;1Hc\x1b[2Jd\x1b" "7e\x1b" "8f\x1bMg\x1b[5;10rh\x1b[3Ci\x1b[10dj"
                         "\x1b[5Gk\x1b[2;2fl\x1b[1Jm\x1b[3Jn\x1b" "Do\x1b" "Ep\n";
    mux_write(&m, 11, bytes, sizeof(bytes) - 1);
    CHECK(strcmp(out, "[alpha] abcdefghijklmnop\r\n") == 0);
}

/* The filter keeps its place between writes: a sequence in pieces, even byte by byte,
 * is dropped as a whole one is. */
static void filter_state_kept_across_writes(void)
{
    static struct mux m;
    setup(&m);
    write_text(&m, 11, "one\x1b[");
    write_text(&m, 11, "2J two\x1b");
    write_text(&m, 11, "[1;1");
    write_text(&m, 11, "H three\n");
    CHECK(strcmp(out, "[alpha] one two three\r\n") == 0);
    out_length = 0;
    const char bytes[] = "x\x1b]0;evil\x07y\x1b[6nz\x1b[?1049h\x1b" "7w\x1b[2Kv\n";
    for (size_t i = 0; i + 1 < sizeof(bytes); i++)
        mux_write(&m, 22, bytes + i, 1);
    out[out_length] = 0;
    CHECK(strcmp(out, "[beta] xyzwv\r\n") == 0);
}

/* Control strings go whole, to their ST or (OSC) BEL: window titles, the clipboard
 * (OSC 52), DECRQSS (DCS), APC, PM, SOS. */
static void filter_drops_strings(void)
{
    static struct mux m;
    setup(&m);
    const char bytes[] = "a\x1b]0;title\x07" "b\x1b]52;c;ZXZpbA==\x1b\\c\x1bP$qm\x1b\\d\x1b_apc\x07\x1b\\e"
                         "\x1b^pm\x1b\\f\x1bXsos\x1b\\g\x1b]2;t\x1b[31mh\n";
    mux_write(&m, 11, bytes, sizeof(bytes) - 1);
    CHECK(strcmp(out, "[alpha] abcdefg\x1b[31mh\x1b[m\r\n") == 0);   /* ESC ends a string, begins anew */
}

/* A string or sequence never ended does not swallow the guest's output for good: after
 * MUX_SEQUENCE_BOUND bytes, counted from its ESC, what follows is text again. */
static void filter_gives_up_unended_strings(void)
{
    static struct mux m;
    static char bytes[5000];
    setup(&m);
    memset(bytes, 'x', sizeof(bytes));
    write_text(&m, 11, "a\x1b]0;");
    mux_write(&m, 11, bytes, sizeof(bytes));
    write_text(&m, 11, "b\n");
    CHECK(strncmp(out, "[alpha] ax", 10) == 0);
    CHECK_EQ(out_length, 9 + sizeof(bytes) - (MUX_SEQUENCE_BOUND - 4) + 3);
    CHECK(strcmp(out + out_length - 4, "xb\r\n") == 0);
    out_length = 0;
    memset(bytes, '1', sizeof(bytes));
    write_text(&m, 22, "\x1b[");
    mux_write(&m, 22, bytes, sizeof(bytes));
    write_text(&m, 22, "m\n");
    CHECK_EQ(out_length, 7 + sizeof(bytes) - (MUX_SEQUENCE_BOUND - 2) + 3);
}

/* The terminal answers a report request on the keyboard, to whoever has it when the
 * answer comes: no client may ask, not even the focused one. */
static void report_requests_dropped(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_read(&m, 11, got, 8);                   /* alpha has the keyboard */
    out_length = 0;
    write_text(&m, 11, "# \x1b[6n\n");
    const char bytes[] = "$ \x1b[6n\x1b[c\x1b[>c\x1b[5n\x05\x1bP$qm\x1b\\\x1b[21t\x1b[?6n\x1b[=c\x1b[0c\n";
    mux_write(&m, 22, bytes, sizeof(bytes) - 1);
    CHECK(strcmp(out, "[alpha] # \r\n[beta] $ \r\n") == 0);
}

/* SGR colours and the erases right of and below the cursor pass as they are; the
 * erases that reach the label (or lines above) do not, nor a colour with ':'. */
static void colours_and_line_erase_pass(void)
{
    static struct mux m;
    setup(&m);
    const char bytes[] = "\x1b[1;31mred\x1b[0m \x1b[Kk\x1b[0Kz\x1b[J\x1b[0J \x1b[1K\x1b[2K\x1b[1J\x1b[2J\x1b[3J"
                         "\x1b[38:2:1:2:3mc\x1b[?25l\x1b[4h\n";
    mux_write(&m, 11, bytes, sizeof(bytes) - 1);
    CHECK(strcmp(out, "[alpha] \x1b[1;31mred\x1b[0m \x1b[Kk\x1b[0Kz\x1b[m\x1b[J\x1b[m\x1b[J c\r\n") == 0);
}

/* A backspace (or CSI n D) goes back over the client's own printable ASCII on the screen
 * line, never into its label: not after a carriage return (the label is rewritten),
 * over a character beyond ASCII or a tab, nor when another client's line came between. */
static void backspace_stays_right_of_label(void)
{
    static struct mux m;
    setup(&m);
    write_text(&m, 11, "ab\b\b\b\bX\n");
    CHECK(strcmp(out, "[alpha] ab\b\bX\r\n") == 0);
    out_length = 0;
    write_text(&m, 11, "~ # ls\x1b[9D!\n");
    out[out_length] = 0;
    CHECK(strcmp(out, "[alpha] ~ # ls\b\b\b\b\b\b!\r\n") == 0);
    out_length = 0;
    write_text(&m, 11, "12\r\b3\n\xc3\xa9\b\n\t\b\n");
    out[out_length] = 0;
    CHECK(strcmp(out, "[alpha] 12\r[alpha] 3\r\n[alpha] \xc3\xa9\r\n[alpha] \t\r\n") == 0);
    out_length = 0;
    write_text(&m, 11, "abc");
    mux_flush(&m);
    write_text(&m, 22, "line\n");
    write_text(&m, 11, "\b\b\bX\n");
    out[out_length] = 0;
    CHECK(strcmp(out, "[alpha] abc\r\n[beta] line\r\n[alpha] X\r\n") == 0);
    out_length = 0;
    write_text(&m, 11, "~ # lx\b\x1b[Js ab\b \b\n");      /* a shell's and the tty's erase */
    out[out_length] = 0;
    CHECK(strcmp(out, "[alpha] ~ # lx\b\x1b[m\x1b[Js ab\b \b\r\n") == 0);
}

/* Only the focused client's switch to the alternate screen reaches the terminal (and
 * starts full screen), in pieces too, as any of xterm's three modes. */
static void alternate_screen_only_from_focus(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_read(&m, 11, got, 8);                   /* alpha has the keyboard */
    out_length = 0;
    write_text(&m, 22, "b1\x1b[?1049hb2\x1b[?47h\x1b[?1047h\x1b[?1049l\n");
    CHECK(strcmp(out, "[beta] b1b2\r\n") == 0);
    CHECK_EQ(m.full_screen, -1);
    write_text(&m, 11, "\x1b[?10");
    write_text(&m, 11, "47h");
    CHECK_EQ(m.full_screen, 0);
    CHECK(strstr(out, "[console] full screen: alpha (Ctrl-] f ends it)\r\n\x1b[?1047h") != NULL);
    write_text(&m, 11, "\x1b[?10");
    write_text(&m, 11, "47l");
    CHECK_EQ(m.full_screen, -1);
    write_text(&m, 11, "\x1b[?47h");
    CHECK_EQ(m.full_screen, 0);
}

/* Character sets (SO/SI, ESC ( 0 and the like), DECALN, a full reset, C1 controls
 * alone or as UTF-8 (U+009B is CSI to xterm), BEL and DEL are dropped; a well-formed
 * UTF-8 character passes, in pieces too. */
static void character_sets_dropped(void)
{
    static struct mux m;
    setup(&m);
    const char bytes[] = "a\x0e" "b\x0f" "c\x1b(0d\x1b)0e\x1b(Bf\x1b#8g\x1b" "ch\x9b" "2Ji\xc2\x9b" "2Jj\x07\x7f"
                         "\xc3\xa9k\xe2\x82";
    mux_write(&m, 11, bytes, sizeof(bytes) - 1);
    write_text(&m, 11, "\xac\xc0\xaf\xed\xa0\x80\n");    /* overlong '/', a surrogate */
    CHECK(strcmp(out, "[alpha] abcdefgh2Ji2Jj\xc3\xa9k\xe2\x82\xac\r\n") == 0);
}

/* A colour left on does not reach a label: the next one, a client's or the console's,
 * is drawn in the default colours, so no client can hide or paint another's label. */
static void labels_in_default_colours(void)
{
    static struct mux m;
    setup(&m);
    write_text(&m, 11, "\x1b[8mhidden\n");
    write_text(&m, 22, "x\n");
    CHECK(strcmp(out, "[alpha] \x1b[8mhidden\x1b[m\r\n[beta] x\r\n") == 0);
    out_length = 0;
    write_text(&m, 11, "\x1b[32mg\x1b[0m\n");        /* reset by the client: no more */
    write_text(&m, 22, "y\n");
    write_text(&m, 11, "\x1b[7mz");
    mux_flush(&m);
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, '?');
    const char *expected = "[alpha] \x1b[32mg\x1b[0m\r\n[beta] y\r\n[alpha] \x1b[7mz\x1b[m\r\n[console] keys";
    CHECK(strncmp(out, expected, strlen(expected)) == 0);
}

/* Full screen ended by Ctrl-] f in the middle of the client's OSC: a CAN ends it for
 * the terminal too, and the client's filter starts again with text. */
static void full_screen_end_cancels_sequence(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_read(&m, 11, got, 8);
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, 'f');
    write_text(&m, 11, "\x1b]0;ti");
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, 'f');
    CHECK(strstr(out, "\x1b]0;ti" MUX_FULL_SCREEN_RESET "\r\n[console] full screen ended") != NULL);
    out_length = 0;
    write_text(&m, 11, "tle\x07ok\n");
    out[out_length] = 0;
    CHECK(strcmp(out, "[alpha] tleok\r\n") == 0);
}

/* At the right margin a terminal keeps the cursor on the last column for the next
 * character, so a backspace from there goes one cell further back than the characters
 * say: with it, printing to the margin and going back again and again walks into the
 * label.  Past column 80 (NARROWEST_TERMINAL) a line takes no backspace. */
static void backspace_stops_at_the_margin(void)
{
    static struct mux m;
    static char line[200];
    setup(&m);
    memset(line, 'x', 71);                      /* "[alpha] " and 71: column 79 */
    strcpy(line + 71, "\b\n");
    write_text(&m, 11, line);
    CHECK(strchr(out, '\b') != NULL);
    out_length = 0;
    memset(line, 'x', 72);                      /* to the margin of an 80-column terminal */
    strcpy(line + 72, "\b\b\x1b[5D\n");
    write_text(&m, 11, line);
    out[out_length] = 0;
    CHECK(strchr(out, '\b') == NULL);
    out_length = 0;
    for (int c = 7; c >= 1; c--) {              /* the walk back, one cell a round */
        memset(line, 'x', (size_t)(80 - c));
        memset(line + 80 - c, '\b', (size_t)(80 - c));
        line[2 * (80 - c)] = 0;
        write_text(&m, 22, line);
    }
    write_text(&m, 22, "\n");
    out[out_length] = 0;
    /* An 80-column terminal's cursor on beta's row, after its 7-cell label: a
     * character on the last column leaves it there, a backspace goes back one. */
    int column = 0, lowest = 80;
    for (const char *at = out; *at && *at != '\r'; at++) {
        if (*at == '\b')
            column = column ? column - 1 : 0, lowest = column < lowest ? column : lowest;
        else if (column < 79)
            column++;
    }
    CHECK(lowest >= 7);
}

/* What the filter cannot follow in full screen might be the switch back, unseen (a
 * sequence too long for it, CSI as a C1 control): the full screen ends there, the
 * reset first, and the rest is labelled again. */
static void full_screen_ends_where_the_filter_is_lost(void)
{
    static struct mux m;
    static char bytes[80];
    uint8_t got[8];
    setup(&m);
    CHECK(mux_focus(&m, 11));
    write_text(&m, 11, "\x1b[?1049h");
    CHECK_EQ(m.full_screen, 0);
    strcpy(bytes, "\x1b[?");
    memset(bytes + 3, '0', 50);
    strcpy(bytes + 53, "1049lA\n");
    out_length = 0;
    write_text(&m, 11, bytes);
    out[out_length] = 0;
    CHECK_EQ(m.full_screen, -1);
    CHECK(strstr(out, MUX_FULL_SCREEN_RESET "\r\n[console] full screen ended") != NULL);
    CHECK(strstr(out, "1049lA\r\n") != NULL);        /* as text, labelled */
    CHECK(strstr(out, "[alpha] ") != NULL);
    write_text(&m, 11, "\x1b[?1049h");
    CHECK_EQ(m.full_screen, 0);
    out_length = 0;
    write_text(&m, 11, "v\xc2\x9b?1049lw\n");
    out[out_length] = 0;
    CHECK_EQ(m.full_screen, -1);
    CHECK(strstr(out, "\x9b") == NULL);
    CHECK(strncmp(out, "v\xc2" MUX_FULL_SCREEN_RESET, 2 + strlen(MUX_FULL_SCREEN_RESET)) == 0);
    (void)got;
}

/* What would take the terminal out of the alternate screen, or out of the reset's
 * reach, unseen, ends the full screen at its last byte, which never reaches the
 * terminal: a full reset, restoring or forbidding the alternate screen, VT52 and
 * Tektronix modes, keyboard lock, local echo, newline mode, an 8-bit byte in a string;
 * and a CAN (a VMM's own line follows, labelled). */
static void full_screen_ends_on_what_would_escape_it(void)
{
    static const struct { const char *bytes; char last; } cases[] = {
        { "\x1b" "c", 'c' }, { "\x1b[?1049r", 'r' }, { "\x1b[?47;1047r", 'r' }, { "\x1b[?1046l", 'l' },
        { "\x1b[?2l", 'l' }, { "\x1b[?38h", 'h' }, { "\x1b[2h", 'h' }, { "\x1b[12l", 'l' },
        { "\x1b[4;20h", 'h' }, { "\x1b]0;a\xc2", '\xc2' }, { "\x18", '\x18' },
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        static struct mux m;
        setup(&m);
        CHECK(mux_focus(&m, 11));
        write_text(&m, 11, "\x1b[?1049h");
        CHECK_EQ(m.full_screen, 0);
        out_length = 0;
        size_t n = strlen(cases[i].bytes);
        write_text(&m, 11, cases[i].bytes);
        out[out_length] = 0;
        CHECK_EQ(m.full_screen, -1);
        CHECK(strncmp(out, cases[i].bytes, n - 1) == 0);        /* all but the last byte */
        CHECK(strncmp(out + n - 1, MUX_FULL_SCREEN_RESET, strlen(MUX_FULL_SCREEN_RESET)) == 0);
    }
    static struct mux m;                        /* the VMM's line after its CAN */
    setup(&m);
    CHECK(mux_focus(&m, 11));
    write_text(&m, 11, "\x1b[?1049hdrawn");
    write_text(&m, 11, "\x18" "vmm: alpha: powered off\n");
    CHECK(strstr(out, "full screen ended: alpha's output is labelled again\r\n"
                      "[alpha] vmm: alpha: powered off\r\n") != NULL);
    /* Ctrl-] f in the middle of a sequence the filter swallowed: text from there on */
    setup(&m);
    CHECK(mux_focus(&m, 11));
    write_text(&m, 11, "\x1b]0;title");
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, 'f');
    CHECK_EQ(m.full_screen, 0);
    CHECK_EQ(m.clients[0].filter.state, MUX_FILTER_TEXT);
}

/* The first client to read gets the keyboard, and the console says so. */
static void first_reader_is_announced(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_read(&m, 22, got, 8);
    CHECK(strcmp(out, "[console] focus: beta (the first to read; Ctrl-] ? lists the keys)\r\n") == 0);
    out_length = 0;
    out[0] = 0;
    mux_read(&m, 11, got, 8);                   /* a later reader does not take it */
    CHECK_EQ(out_length, 0);
    CHECK_EQ(m.focus, 1);
}

/* CAN ends what the client left open, the string and the unfinished line, and adds
 * no empty line after a finished one: a VMM's own line after its guest's output. */
static void cancel_ends_string_and_line(void)
{
    static struct mux m;
    setup(&m);
    write_text(&m, 11, "x\x1b]0;abc\r\n");
    write_text(&m, 11, "\x18" "vmm: alpha: done\n");
    out[out_length] = 0;
    CHECK(strcmp(out, "[alpha] x\r\n[alpha] vmm: alpha: done\r\n") == 0);
    out_length = 0;
    write_text(&m, 22, "y\n");
    write_text(&m, 22, "\x18" "z\n");
    out[out_length] = 0;
    CHECK(strcmp(out, "[beta] y\r\n[beta] z\r\n") == 0);
    out_length = 0;
    write_text(&m, 22, "w");
    mux_flush(&m);                              /* on the screen, unfinished */
    write_text(&m, 22, "\x18" "v\n");
    out[out_length] = 0;
    CHECK(strcmp(out, "[beta] w\r\n[beta] v\r\n") == 0);
}

static void stopped_client_loses_focus_and_says_so(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_read(&m, 11, got, 8);
    mux_read(&m, 22, got, 8);
    mux_write(&m, 11, "bye", 3);                /* held output is shown */
    mux_stopped(&m, 11);
    CHECK(strstr(out, "[alpha] bye\r\n[console] alpha has stopped; focus: beta\r\n") != NULL);
    mux_input(&m, 'q');
    CHECK_EQ(mux_read(&m, 22, got, 8), 1);
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, '1');
    CHECK(strstr(out, "alpha has stopped; focus stays on beta") != NULL);
    CHECK_EQ(m.focus, 1);
    mux_stopped(&m, 22);
    CHECK(strstr(out, "beta has stopped; no other target takes input") != NULL);
    mux_input(&m, 'q');
    CHECK(strstr(out, "beta has stopped: what is typed is dropped") != NULL);
    CHECK_EQ(mux_hello(&m, 22, "beta"), 1);     /* started again, in its old place */
    mux_input(&m, 'r');
    CHECK_EQ(mux_read(&m, 22, got, 8), 1);
    CHECK_EQ(got[0], 'r');
}

static void targets_ordered_by_badge(void)
{
    static struct mux m;
    setup(&m);
    CHECK_EQ(mux_hello(&m, 1, "root"), 0);      /* the root task comes first */
    CHECK_EQ(m.clients[1].badge, 11);
    CHECK_EQ(m.clients[2].badge, 22);
    CHECK_EQ(mux_hello(&m, 16, "mid"), 2);
}

/* A reader's full queue holds the keyboard back: nothing is dropped. */
static void input_back_pressure(void)
{
    static struct mux m;
    static uint8_t got[MUX_INPUT_SIZE + 8];
    setup(&m);
    mux_read(&m, 11, got, 8);
    unsigned typed = 0;
    while (mux_input_room(&m) && typed < 3 * MUX_INPUT_SIZE)
        mux_input(&m, (uint8_t)('a' + typed++ % 26));
    CHECK_EQ(typed, MUX_INPUT_SIZE);
    CHECK_EQ(mux_read(&m, 11, got, 24), 24);
    CHECK(mux_input_room(&m));
    CHECK_EQ(got[0], 'a');
    mux_input(&m, PITH_CONSOLE_ESCAPE);         /* escapes too wait behind the queue */
    CHECK(mux_input_room(&m));                  /* after Ctrl-], a key is always taken */
}

/* A client that never asked for input does not hold the keyboard back. */
static void non_reader_drops_with_note(void)
{
    static struct mux m;
    static uint8_t got[MUX_INPUT_SIZE + 8];
    setup(&m);
    for (unsigned i = 0; i < MUX_INPUT_SIZE + 5; i++) {
        CHECK(mux_input_room(&m));
        mux_input(&m, (uint8_t)('a' + i % 26));
    }
    CHECK(strstr(out, "alpha reads no input: what is typed is dropped") != NULL);
    CHECK_EQ(mux_read(&m, 11, got, sizeof(got)), MUX_INPUT_SIZE);
    CHECK_EQ(got[0], 'a');
}

static void hello_renames_and_limits(void)
{
    static struct mux m;
    setup(&m);
    CHECK_EQ(mux_hello(&m, 11, "gamma"), 0);
    mux_write(&m, 11, "x\n", 2);
    CHECK(strcmp(out, "[gamma] x\r\n") == 0);
    for (unsigned i = 0; i < MUX_CLIENTS; i++) {
        char name[8] = { 'n', (char)('0' + i / 10), (char)('0' + i % 10), 0 };
        mux_hello(&m, 100 + i, name);
    }
    CHECK_EQ(mux_hello(&m, 999, "overflow"), -1);
}

/* A client cannot take another's name, the console's, one that carries control
 * bytes, or none; its label stays its own (found in review, 2026-12-07). */
static void hello_refuses_names(void)
{
    static struct mux m;
    setup(&m);
    CHECK_EQ(mux_hello(&m, 22, "alpha"), -2);
    CHECK_EQ(mux_hello(&m, 22, "console"), -2);
    CHECK_EQ(mux_hello(&m, 22, "x\r\n[console] focus: alpha"), -2);
    CHECK_EQ(mux_hello(&m, 22, "a\x1b[2J"), -2);
    CHECK_EQ(mux_hello(&m, 22, ""), -2);
    CHECK_EQ(mux_hello(&m, 33, "alpha"), -2);       /* nor a new client */
    CHECK_EQ(m.count, 2);
    mux_write(&m, 22, "login:\n", 7);
    CHECK(strcmp(out, "[beta] login:\r\n") == 0);
    CHECK_EQ(mux_hello(&m, 22, "beta.2_x-y"), 1);   /* a name of its own may change */
}

/* The root task names a guest's client before it runs; the guest's HELLO cannot change
 * it, and nobody else can take it, so Ctrl-] c NAME reaches the right guest. */
static void root_given_name_stays(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    CHECK_EQ(mux_name(&m, 33, "gamma"), 2);
    CHECK_EQ(mux_name(&m, 44, "gamma"), -2);
    CHECK_EQ(mux_hello(&m, 11, "gamma"), -2);       /* an earlier client cannot take it */
    CHECK_EQ(mux_hello(&m, 33, "alpha"), 2);        /* kept: a HELLO is still a start */
    mux_write(&m, 33, "hi\n", 3);
    CHECK(strstr(out, "[gamma] hi\r\n") != NULL);
    mux_read(&m, 33, got, 8);
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, 'c');
    for (const char *k = "gamma\r"; *k; k++)
        mux_input(&m, (uint8_t)*k);
    mux_input(&m, 'p');
    CHECK_EQ(mux_read(&m, 33, got, 8), 1);
    CHECK_EQ(got[0], 'p');
}

/* A focused client that read once and then stops reading fills its queue (the
 * terminal's answers to its cursor queries are enough) and held the keyboard back for
 * good: Ctrl-] was never read again.  Stalled after 10 s unread (the server calls
 * mux_stalled), it loses what is typed to it, with a note, and the operator gets the
 * keyboard back; its next READ ends that (found in review, 2026-12-07). */
static void stalled_reader_lets_the_keyboard_go(void)
{
    static struct mux m;
    static uint8_t got[MUX_INPUT_SIZE];
    setup(&m);
    mux_set_shell(&m, 1);
    mux_hello(&m, 1, "root");
    mux_read(&m, 1, got, 8);
    mux_read(&m, 11, got, 8);                       /* alpha has the keyboard */
    while (mux_input_room(&m))
        mux_input(&m, 'x');
    mux_stalled(&m);
    CHECK(mux_input_room(&m));
    mux_input(&m, 'y');
    CHECK(strstr(out, "alpha is not reading its input") != NULL);
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, '1');
    CHECK(strstr(out, "focus: root") != NULL);
    mux_input(&m, 'r');
    CHECK_EQ(mux_read(&m, 1, got, 8), 1);
    CHECK_EQ(got[0], 'r');
    CHECK_EQ(mux_read(&m, 11, got, sizeof(got)), MUX_INPUT_SIZE);   /* its own, no 'y' */
    CHECK(!m.clients[1].stalled);
}

/* The focus moving to a client that reads for the first time takes the full screen
 * from the one that had it: the screen goes with the keyboard. */
static void full_screen_follows_first_reader(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_hello(&m, 33, "gamma");
    CHECK(mux_focus(&m, 11));                       /* chosen, but it never reads */
    mux_write(&m, 11, "\x1b[?1049h", 8);
    CHECK_EQ(m.full_screen, 0);
    mux_read(&m, 33, got, 8);                       /* the first reader takes the focus */
    CHECK_EQ(m.focus, 2);
    CHECK(m.full_screen != 0);
}

static void first_reader_gets_the_keyboard(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    CHECK_EQ(mux_read(&m, 22, got, 8), 0);      /* beta asks first: alpha never reads */
    mux_input(&m, 'k');
    CHECK_EQ(mux_read(&m, 22, got, 8), 1);
    CHECK_EQ(got[0], 'k');
    CHECK_EQ(mux_read(&m, 11, got, 8), 0);      /* a later reader does not take it */
    mux_input(&m, 'q');
    CHECK_EQ(mux_read(&m, 22, got, 8), 1);
}

/* The control shell (badge 1) reads first, yet the first guest that reads takes the
 * keyboard; once the shell is chosen (Ctrl-] 1), a new reader does not take it back;
 * mux_focus moves it as the shell's `console NAME` does. */
static void shell_yields_first_focus(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_set_shell(&m, 1);
    mux_hello(&m, 1, "root");
    CHECK_EQ(mux_read(&m, 1, got, 8), 0);
    mux_input(&m, 'a');
    CHECK_EQ(mux_read(&m, 11, got, 8), 1);      /* alpha takes the keyboard, and the 'a' */
    CHECK_EQ(got[0], 'a');
    CHECK_EQ(mux_read(&m, 22, got, 8), 0);      /* beta does not */
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, '1');
    CHECK(strstr(out, "focus: root") != NULL);
    mux_input(&m, 'b');
    CHECK_EQ(mux_read(&m, 1, got, 8), 1);
    CHECK_EQ(got[0], 'b');
    CHECK(mux_focus(&m, 22));
    mux_input(&m, 'c');
    CHECK_EQ(mux_read(&m, 22, got, 8), 1);
    CHECK(!mux_focus(&m, 99));
    mux_stopped(&m, 11);
    CHECK(!mux_focus(&m, 11));                  /* a stopped client cannot be focused */
    mux_read(&m, 11, got, 8);
    CHECK(mux_focus(&m, 11) == false);
    mux_stopped(&m, 22);                        /* the focused guest stops: the shell has it */
    CHECK(strstr(out, "beta has stopped; focus: root") != NULL);
    mux_hello(&m, 22, "beta");                  /* started again */
    CHECK(mux_focus(&m, 22));
}

DEVICE_TESTS(console_mux,
    { "console_hello_refuses_names", hello_refuses_names },
    { "console_root_given_name_stays", root_given_name_stays },
    { "console_stalled_reader_lets_the_keyboard_go", stalled_reader_lets_the_keyboard_go },
    { "console_full_screen_follows_first_reader", full_screen_follows_first_reader },
    { "console_shell_yields_first_focus", shell_yields_first_focus },
    { "console_first_reader_gets_the_keyboard", first_reader_gets_the_keyboard },
    { "console_lines_prefixed", lines_are_prefixed },
    { "console_partial_lines_do_not_interleave", partial_lines_do_not_interleave },
    { "console_unknown_clients_ignored", unknown_clients_ignored },
    { "console_long_line_whole", long_line_whole },
    { "console_partial_line_held_then_flushed", partial_line_held_then_flushed },
    { "console_interleaved_partial_line_continues_labelled", interleaved_partial_line_continues_labelled },
    { "console_carriage_return_keeps_label", carriage_return_keeps_label },
    { "console_escape_sequences_pass", escape_sequences_pass },
    { "console_full_screen_unlabelled_others_held", full_screen_unlabelled_others_held },
    { "console_alternate_screen_is_full_screen", alternate_screen_is_full_screen },
    { "console_stop_during_full_screen_waits", stop_during_full_screen_waits },
    { "console_unknown_escape_gives_hint", unknown_escape_gives_hint },
    { "console_help_lists_keys_and_targets", help_lists_keys_and_targets },
    { "console_focus_by_name", focus_by_name },
    { "console_name_question_survives_guest_output", name_question_survives_guest_output },
    { "console_filter_drops_cursor_moves", filter_drops_cursor_moves },
    { "console_filter_state_kept_across_writes", filter_state_kept_across_writes },
    { "console_filter_drops_strings", filter_drops_strings },
    { "console_filter_gives_up_unended_strings", filter_gives_up_unended_strings },
    { "console_report_requests_dropped", report_requests_dropped },
    { "console_colours_and_line_erase_pass", colours_and_line_erase_pass },
    { "console_backspace_stays_right_of_label", backspace_stays_right_of_label },
    { "console_alternate_screen_only_from_focus", alternate_screen_only_from_focus },
    { "console_character_sets_dropped", character_sets_dropped },
    { "console_labels_in_default_colours", labels_in_default_colours },
    { "console_full_screen_end_cancels_sequence", full_screen_end_cancels_sequence },
    { "console_backspace_stops_at_the_margin", backspace_stops_at_the_margin },
    { "console_full_screen_ends_where_the_filter_is_lost", full_screen_ends_where_the_filter_is_lost },
    { "console_first_reader_is_announced", first_reader_is_announced },
    { "console_cancel_ends_string_and_line", cancel_ends_string_and_line },
    { "console_full_screen_ends_on_what_would_escape_it", full_screen_ends_on_what_would_escape_it },
    { "console_stopped_client_loses_focus", stopped_client_loses_focus_and_says_so },
    { "console_targets_ordered_by_badge", targets_ordered_by_badge },
    { "console_non_reader_drops_with_note", non_reader_drops_with_note },
    { "console_input_to_focus", input_goes_to_focus },
    { "console_escape_switches_focus", escape_switches_focus },
    { "console_input_back_pressure", input_back_pressure },
    { "console_hello_renames_and_limits", hello_renames_and_limits },
)
