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

/* ---- Output -------------------------------------------------------------------------- */

/* The cursor goes to the start of a fresh line: an unfinished line is ended there. */
static void end_screen_line(struct mux *m)
{
    if (m->screen_line >= 0)
        m->clients[m->screen_line].after_cr = false;
    if (m->screen_line != MUX_SCREEN_FREE)
        say(m, "\r\n");
    m->screen_line = MUX_SCREEN_FREE;
}

static void label(struct mux *m, int index)
{
    say(m, "[");
    say_name(m, index);
    say(m, "] ");
}

/* One byte of a client's output onto the screen, labelled (mux.h). */
static void show_byte(struct mux *m, int index, char byte)
{
    struct mux_client *c = &m->clients[index];
    if (m->full_screen == index) {
        m->emit(m->ctx, &byte, 1);
        return;
    }
    if (m->screen_line != index) {
        end_screen_line(m);
        label(m, index);
        m->screen_line = index;
    }
    if (c->after_cr) {
        c->after_cr = false;
        if (byte == '\n') {
            say(m, "\n");
            m->screen_line = MUX_SCREEN_FREE;
            return;
        }
        label(m, index);                /* the line is rewritten from its start */
    }
    if (byte == '\r') {
        say(m, "\r");
        c->after_cr = true;
    } else if (byte == '\n') {
        say(m, "\r\n");
        m->screen_line = MUX_SCREEN_FREE;
    } else {
        m->emit(m->ctx, &byte, 1);
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

/* "Where is the cursor?" (ECMA-48 device status report 6): the terminal answers on
 * the keyboard, so only the focused client may ask; from the others the query is
 * dropped (when one write holds all of it), or the answer would reach the wrong guest. */
#define CURSOR_QUERY "\x1b[6n"

static bool cursor_query_at(const char *bytes, size_t length)
{
    return length >= sizeof(CURSOR_QUERY) - 1 && same_text(bytes, CURSOR_QUERY, sizeof(CURSOR_QUERY) - 1);
}

/* The alternate screen (xterm's private mode 1049), which full-screen programs such as
 * vi switch to and back from: the focused client's switch starts and ends full screen. */
#define ALTERNATE_SCREEN_ON  "\x1b[?1049h"
#define ALTERNATE_SCREEN_OFF "\x1b[?1049l"

/* Where `sequence` starts in bytes, or length when it is not there whole. */
static size_t find_sequence(const char *bytes, size_t length, const char *sequence)
{
    size_t n = text_length(sequence, 16);
    for (size_t at = 0; at + n <= length; at++)
        if (same_text(bytes + at, sequence, n))
            return at;
    return length;
}

static void enter_full_screen(struct mux *m, int index);
static void leave_full_screen(struct mux *m);

/* Output of a client without the full screen: held, complete lines shown. */
static void write_labelled(struct mux *m, int index, const char *bytes, size_t length)
{
    struct mux_client *c = &m->clients[index];
    for (size_t i = 0; i < length; i++) {
        if (index != m->focus && cursor_query_at(bytes + i, length - i)) {
            i += sizeof(CURSOR_QUERY) - 2;
            continue;
        }
        if (c->held_length == MUX_HOLD_SIZE) {
            if (held_back(m, index)) {
                c->held_dropped += length - i;
                return;
            }
            show_held(m, index, c->held_length);    /* a long line goes on, unbroken */
        }
        c->held[c->held_length++] = bytes[i];
    }
    if (!held_back(m, index))
        show_complete_lines(m, index);
}

void mux_write(struct mux *m, uint64_t badge, const char *bytes, size_t length)
{
    int index = find(m, badge);
    if (index < 0)
        return;
    if (m->full_screen == index) {
        size_t off = find_sequence(bytes, length, ALTERNATE_SCREEN_OFF);
        if (off == length) {
            show(m, index, bytes, length);
            return;
        }
        off += sizeof(ALTERNATE_SCREEN_OFF) - 1;
        show(m, index, bytes, off);
        leave_full_screen(m);
        mux_write(m, badge, bytes + off, length - off);
        return;
    }
    size_t on = find_sequence(bytes, length, ALTERNATE_SCREEN_ON);
    if (index != m->focus || on == length || held_back(m, index)) {
        write_labelled(m, index, bytes, length);
        return;
    }
    write_labelled(m, index, bytes, on);
    enter_full_screen(m, index);
    mux_write(m, badge, bytes + on, length - on);
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
    m->full_screen = -1;
    m->screen_line = MUX_SCREEN_FREE;
    say(m, "\r\n");
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
