/* The console multiplexer: labelled lines, focus, input routing. */
#include "harness.h"
#include "../../user/console/mux.h"
#include <pith/console.h>

static char out[4096];
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

static void overlong_line_split(void)
{
    static struct mux m;
    char line[MUX_LINE_MAX + 10];
    setup(&m);
    memset(line, 'z', sizeof(line));
    mux_write(&m, 22, line, sizeof(line));
    CHECK(strncmp(out, "[beta] zzz", 10) == 0);
    CHECK_EQ(out_length, 7 + MUX_LINE_MAX + 2);
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
    mux_input(&m, '7');                         /* no seventh client: dropped */
    CHECK_EQ(mux_read(&m, 22, got, 8), 0);
    CHECK_EQ(m.focus, 1);
}

static void input_queue_bounded(void)
{
    static struct mux m;
    uint8_t got[MUX_INPUT_SIZE + 8];
    setup(&m);
    for (unsigned i = 0; i < MUX_INPUT_SIZE + 5; i++)
        mux_input(&m, (uint8_t)('a' + i % 26));
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
    for (unsigned i = 0; i < MUX_CLIENTS; i++)
        mux_hello(&m, 100 + i, "n");
    CHECK_EQ(mux_hello(&m, 999, "overflow"), -1);
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

DEVICE_TESTS(console_mux,
    { "console_first_reader_gets_the_keyboard", first_reader_gets_the_keyboard },
    { "console_lines_prefixed", lines_are_prefixed },
    { "console_partial_lines_do_not_interleave", partial_lines_do_not_interleave },
    { "console_unknown_clients_ignored", unknown_clients_ignored },
    { "console_overlong_line_split", overlong_line_split },
    { "console_input_to_focus", input_goes_to_focus },
    { "console_escape_switches_focus", escape_switches_focus },
    { "console_input_queue_bounded", input_queue_bounded },
    { "console_hello_renames_and_limits", hello_renames_and_limits },
)
