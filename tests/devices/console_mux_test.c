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
    CHECK(strstr(out, "\x1b[?1049l\r\n[console] full screen ended") != NULL);
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
    mux_input(&m, PITH_CONSOLE_ESCAPE);
    mux_input(&m, 'c');
    mux_input(&m, 'b');
    mux_write(&m, 11, "busy\n", 5);
    mux_input(&m, 'e');
    CHECK(strcmp(out, "[console] focus on: b\r\n[alpha] busy\r\n[console] focus on: be") == 0);
}

static void cursor_query_only_from_focus(void)
{
    static struct mux m;
    uint8_t got[8];
    setup(&m);
    mux_read(&m, 11, got, 8);                   /* alpha has the keyboard */
    mux_write(&m, 22, "$ \x1b[6n\n", 7);
    mux_write(&m, 11, "# \x1b[6n\n", 7);
    CHECK(strcmp(out, "[beta] $ \r\n[alpha] # \x1b[6n\r\n") == 0);
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
    { "console_cursor_query_only_from_focus", cursor_query_only_from_focus },
    { "console_stopped_client_loses_focus", stopped_client_loses_focus_and_says_so },
    { "console_targets_ordered_by_badge", targets_ordered_by_badge },
    { "console_non_reader_drops_with_note", non_reader_drops_with_note },
    { "console_input_to_focus", input_goes_to_focus },
    { "console_escape_switches_focus", escape_switches_focus },
    { "console_input_back_pressure", input_back_pressure },
    { "console_hello_renames_and_limits", hello_renames_and_limits },
)
