/*
 * The system configuration parser (format: docs/config.md).  One pass over the lines:
 * a `guest` line opens a guest, every other line sets one key of the guest above it.
 * Errors never stop the parse; they make the guest they occur in invalid and are
 * reported with their line number, so one run shows every mistake in the file.
 */
#include <pith/sysconf.h>

#define DEFAULT_MEMORY  (128ull << 20)
#define PAGE_SIZE       4096ull

/* A slice of the text: not NUL-terminated. */
struct text {
    const char *p;
    size_t n;
};

struct parser {
    struct sysconf_guest *guests;       /* the caller's room for capacity guests */
    unsigned capacity, guest_count;
    uint32_t uplink_segment;            /* the system-level keys */
    unsigned uplink_line;
    struct sysconf_error *errors;
    unsigned max_errors, error_count;
    char overflow[SYSCONF_MESSAGE];     /* messages past max_errors are written here */
    uint64_t memory_limit;
    struct sysconf_guest *guest;        /* the guest the keys belong to, or NULL */
    bool dropped_guest;                 /* keys belong to a guest there was no room for */
    unsigned seen;                      /* keys the current guest has set, by bit */
    unsigned memory_line;               /* where the current guest's memory was set */
    unsigned memory_lines[SYSCONF_MAX_GUESTS];
    unsigned line;
};

/* ---- small string helpers (no libc) ---- */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static struct text trim(struct text t)
{
    while (t.n && is_space(t.p[0])) {
        t.p++;
        t.n--;
    }
    while (t.n && is_space(t.p[t.n - 1]))
        t.n--;
    return t;
}

/* Splits off the first word; the rest keeps its inner spacing. */
static struct text first_word(struct text t, struct text *rest)
{
    size_t i = 0;
    while (i < t.n && !is_space(t.p[i]))
        i++;
    *rest = trim((struct text){ t.p + i, t.n - i });
    return (struct text){ t.p, i };
}

static bool has_space(struct text t)
{
    for (size_t i = 0; i < t.n; i++)
        if (is_space(t.p[i]))
            return true;
    return false;
}

static bool text_is(struct text t, const char *s)
{
    size_t i = 0;
    for (; i < t.n; i++)
        if (s[i] != t.p[i])
            return false;
    return s[i] == 0;
}

static bool strings_equal(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* "#" starts a comment at the start of a line or after a space, so a command line
 * can still carry "foo#bar". */
static struct text strip_comment(struct text t)
{
    for (size_t i = 0; i < t.n; i++)
        if (t.p[i] == '#' && (i == 0 || is_space(t.p[i - 1])))
            return (struct text){ t.p, i };
    return t;
}

/* Copies t into a field of size bytes; false if it does not fit with its NUL. */
static bool copy_text(char *to, size_t size, struct text t)
{
    if (t.n >= size)
        return false;
    for (size_t i = 0; i < t.n; i++)
        to[i] = t.p[i];
    to[t.n] = 0;
    return true;
}

static size_t string_length(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* ---- error messages ---- */

struct message {
    char *buf;
    size_t len;
};

static void say(struct message *m, const char *s)
{
    while (*s && m->len + 1 < SYSCONF_MESSAGE)
        m->buf[m->len++] = *s++;
    m->buf[m->len] = 0;
}

static void say_text(struct message *m, struct text t)
{
    for (size_t i = 0; i < t.n && m->len + 1 < SYSCONF_MESSAGE; i++)
        m->buf[m->len++] = t.p[i];
    m->buf[m->len] = 0;
}

static void say_number(struct message *m, uint64_t v)
{
    char digits[21];
    unsigned n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char s[2] = { 0, 0 };
    while (n) {
        s[0] = digits[--n];
        say(m, s);
    }
}

/* before, the text, after: most messages are a phrase around one word of the line. */
static void say_around(struct message *m, const char *before, struct text t, const char *after)
{
    say(m, before);
    say_text(m, t);
    say(m, after);
}

/* 268435456 reads as "256M": the largest unit that divides it. */
static void say_size(struct message *m, uint64_t bytes)
{
    static const char units[] = "GMK";
    for (unsigned i = 0; i < 3; i++) {
        uint64_t unit = 1ull << (10 * (3 - i));
        if (bytes && bytes % unit == 0) {
            say_number(m, bytes / unit);
            char s[2] = { units[i], 0 };
            say(m, s);
            return;
        }
    }
    say_number(m, bytes);
}

/* Counts the error and starts its message with "line N: ". */
static struct message report(struct parser *p, unsigned line, enum sysconf_error_kind kind)
{
    struct message m = { p->overflow, 0 };
    if (p->error_count < p->max_errors) {
        struct sysconf_error *e = &p->errors[p->error_count];
        e->line = line;
        e->kind = kind;
        m.buf = e->message;
    }
    p->error_count++;
    say(&m, "line ");
    say_number(&m, line);
    say(&m, ": ");
    return m;
}

/* An error inside the current guest's block: that guest will not start. */
static struct message guest_error(struct parser *p, enum sysconf_error_kind kind)
{
    if (p->guest)
        p->guest->valid = false;
    return report(p, p->line, kind);
}

/* ---- numbers ---- */

static bool parse_number(struct text t, uint64_t *value)
{
    uint64_t v = 0;
    if (t.n == 0)
        return false;
    for (size_t i = 0; i < t.n; i++) {
        unsigned digit = (unsigned)(t.p[i] - '0');
        if (digit > 9 || v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *value = v;
    return true;
}

/* Decimal with an optional K, M or G (powers of 1024). */
static bool parse_size(struct text t, uint64_t *bytes)
{
    unsigned shift = 0;
    if (t.n) {
        switch (t.p[t.n - 1]) {
        case 'K': case 'k': shift = 10; break;
        case 'M': case 'm': shift = 20; break;
        case 'G': case 'g': shift = 30; break;
        }
    }
    if (shift)
        t.n--;
    uint64_t v;
    if (!parse_number(t, &v) || v > (UINT64_MAX >> shift))
        return false;
    *bytes = v << shift;
    return true;
}

/* ---- the keys ---- */

static void set_memory(struct parser *p, struct text key, struct text value)
{
    uint64_t bytes;
    struct message m;
    if (!parse_size(value, &bytes)) {
        m = guest_error(p, SYSCONF_ERR_BAD_NUMBER);
        say_around(&m, "bad size '", value, "' for ");
        say_text(&m, key);
    } else if (bytes == 0 || bytes % PAGE_SIZE) {
        m = guest_error(p, SYSCONF_ERR_MEMORY_RANGE);
        say_around(&m, "memory must be a non-zero multiple of 4K, not ", value, "");
    } else if (bytes > p->memory_limit) {
        m = guest_error(p, SYSCONF_ERR_MEMORY_RANGE);
        say_around(&m, "memory ", value, " is more than the ");
        say_size(&m, p->memory_limit);
        say(&m, " available");
    } else {
        p->guest->memory = bytes;
        p->memory_line = p->line;
    }
}

static void set_vcpus(struct parser *p, struct text key, struct text value)
{
    uint64_t n;
    struct message m;
    if (!parse_number(value, &n)) {
        m = guest_error(p, SYSCONF_ERR_BAD_NUMBER);
        say_around(&m, "bad number '", value, "' for ");
        say_text(&m, key);
    } else if (n < 1 || n > SYSCONF_MAX_VCPUS) {
        m = guest_error(p, SYSCONF_ERR_VCPUS_RANGE);
        say_around(&m, "vcpus ", value, " is not between 1 and ");
        say_number(&m, SYSCONF_MAX_VCPUS);
    } else {
        p->guest->vcpus = (unsigned)n;
    }
}

/* "N", "N-M", and lists of them separated by commas: "0,2-3". */
static bool parse_cpus(struct text t, uint64_t *mask)
{
    uint64_t m = 0;
    size_t start = 0;
    while (start <= t.n) {
        size_t end = start, dash = 0;
        while (end < t.n && t.p[end] != ',') {
            if (t.p[end] == '-' && !dash)
                dash = end;
            end++;
        }
        uint64_t first, last;
        struct text a = { t.p + start, (dash ? dash : end) - start };
        if (!parse_number(a, &first))
            return false;
        last = first;
        if (dash && !parse_number((struct text){ t.p + dash + 1, end - dash - 1 }, &last))
            return false;
        if (first > last || last > SYSCONF_MAX_CPU)
            return false;
        for (uint64_t cpu = first; cpu <= last; cpu++)
            m |= 1ull << cpu;
        start = end + 1;
    }
    *mask = m;
    return true;
}

static void set_cpus(struct parser *p, struct text key, struct text value)
{
    uint64_t mask;
    (void)key;
    if (!parse_cpus(value, &mask)) {
        struct message m = guest_error(p, SYSCONF_ERR_BAD_CPUS);
        say_around(&m, "cpus '", value, "' is not a list of CPUs 0 to ");
        say_number(&m, SYSCONF_MAX_CPU);
        say(&m, " (like 1-2 or 0,3)");
        return;
    }
    p->guest->cpus = mask;
    p->guest->cpus_line = p->line;
}

static void set_boot(struct parser *p, struct text key, struct text value)
{
    (void)key;
    if (text_is(value, "linux")) {
        p->guest->boot = SYSCONF_BOOT_LINUX;
    } else if (text_is(value, "multiboot")) {
        p->guest->boot = SYSCONF_BOOT_MULTIBOOT;
    } else if (text_is(value, "flat")) {
        p->guest->boot = SYSCONF_BOOT_FLAT;
    } else if (text_is(value, "bios")) {
        p->guest->boot = SYSCONF_BOOT_BIOS;
    } else {
        struct message m = guest_error(p, SYSCONF_ERR_BAD_VALUE);
        say_around(&m, "unknown boot method '", value, "' (linux, multiboot, flat or bios)");
    }
}

static void set_console(struct parser *p, struct text key, struct text value)
{
    (void)key;
    if (text_is(value, "serial")) {
        p->guest->console = SYSCONF_CONSOLE_SERIAL;
    } else if (text_is(value, "none")) {
        p->guest->console = SYSCONF_CONSOLE_NONE;
    } else {
        struct message m = guest_error(p, SYSCONF_ERR_BAD_VALUE);
        say_around(&m, "unknown console '", value, "' (serial or none)");
    }
}

static void too_long(struct parser *p, struct text key, size_t limit)
{
    struct message m = guest_error(p, SYSCONF_ERR_TOO_LONG);
    say_around(&m, "", key, " is longer than ");
    say_number(&m, limit - 1);
    say(&m, " characters");
}

static void set_module(struct parser *p, struct text key, struct text value,
                       char *field, unsigned *line)
{
    if (!copy_text(field, SYSCONF_STRING, value))
        too_long(p, key, SYSCONF_STRING);
    else
        *line = p->line;
}

static void set_kernel(struct parser *p, struct text key, struct text value)
{
    set_module(p, key, value, p->guest->kernel, &p->guest->kernel_line);
}

static void set_initrd(struct parser *p, struct text key, struct text value)
{
    set_module(p, key, value, p->guest->initrd, &p->guest->initrd_line);
}

/* `disk part:NAME`: the GPT partition NAME of the host disk, through the storage server. */
static void set_disk_partition(struct parser *p, struct text key, struct text name)
{
    if (name.n == 0 || name.n > 36) {
        struct message m = guest_error(p, SYSCONF_ERR_BAD_DISK);
        say_around(&m, "a GPT partition name has 1 to 36 characters, not '", name, "'");
        return;
    }
    for (size_t i = 0; i < name.n; i++)
        if (name.p[i] < 0x21 || name.p[i] > 0x7e) {
            struct message m = guest_error(p, SYSCONF_ERR_BAD_DISK);
            say_around(&m, "partition name '", name, "' is not printable ASCII");
            return;
        }
    if (!copy_text(p->guest->disk_partition, SYSCONF_STRING, name))
        too_long(p, key, SYSCONF_STRING);
    else
        p->guest->disk_line = p->line;
}

/* `disk NAME [readonly]`: the guest's own writable copy of the module, or the module
 * itself; `disk part:NAME`: a partition of the host disk. */
static void set_disk(struct parser *p, struct text key, struct text value)
{
    struct text rest, name = first_word(value, &rest);
    rest = trim(rest);
    if (name.n >= 5 && text_is((struct text){ name.p, 5 }, "part:")) {
        if (rest.n) {
            struct message m = guest_error(p, SYSCONF_ERR_EXTRA_VALUE);
            say_around(&m, "disk part:NAME takes nothing more, not '", rest, "'");
            return;
        }
        set_disk_partition(p, key, (struct text){ name.p + 5, name.n - 5 });
        return;
    }
    if (rest.n && !text_is(rest, "readonly")) {
        struct message m = guest_error(p, SYSCONF_ERR_EXTRA_VALUE);
        say_around(&m, "disk takes a module name and optionally readonly, not '", rest, "'");
        return;
    }
    p->guest->disk_read_only = rest.n != 0;
    set_module(p, key, name, p->guest->disk, &p->guest->disk_line);
}

static void set_cdrom(struct parser *p, struct text key, struct text value)
{
    set_module(p, key, value, p->guest->cdrom, &p->guest->cdrom_line);
}

/* `module NAME [its command line]`: the name is the first word, the string all of it. */
static void add_module(struct parser *p, struct text key, struct text value)
{
    struct sysconf_guest *g = p->guest;
    if (g->module_count == SYSCONF_MAX_MODULES) {
        struct message m = guest_error(p, SYSCONF_ERR_BAD_VALUE);
        say(&m, "more than ");
        say_number(&m, SYSCONF_MAX_MODULES);
        say(&m, " modules");
        return;
    }
    if (value.n >= SYSCONF_STRING) {
        too_long(p, key, SYSCONF_STRING);
        return;
    }
    struct text rest, name = first_word(value, &rest);
    unsigned i = g->module_count;
    set_module(p, key, name, g->module[i], &g->module_line[i]);
    copy_text(g->module_string[i], SYSCONF_STRING, value);
    if (g->module[i][0])
        g->module_count++;
}

static void set_debug_exit(struct parser *p, struct text key, struct text value)
{
    (void)key;
    if (text_is(value, "yes")) {
        p->guest->debug_exit = true;
    } else if (text_is(value, "no")) {
        p->guest->debug_exit = false;
    } else {
        struct message m = guest_error(p, SYSCONF_ERR_BAD_VALUE);
        say_around(&m, "debug-exit is yes or no, not '", value, "'");
    }
}

/* `gdb yes` on one guest at most: the machine has one COM2 for the debugger. */
static void set_gdb(struct parser *p, struct text key, struct text value)
{
    (void)key;
    if (text_is(value, "no")) {
        p->guest->gdb = false;
        return;
    }
    if (!text_is(value, "yes")) {
        struct message m = guest_error(p, SYSCONF_ERR_BAD_VALUE);
        say_around(&m, "gdb is yes or no, not '", value, "'");
        return;
    }
    for (unsigned i = 0; i < p->guest_count; i++) {
        const struct sysconf_guest *other = &p->guests[i];
        if (other != p->guest && other->gdb) {
            struct message m = guest_error(p, SYSCONF_ERR_BAD_VALUE);
            say(&m, "gdb yes on one guest only: guest '");
            say(&m, other->name);
            say(&m, "' has it");
            return;
        }
    }
    p->guest->gdb = true;
}

static void set_autostart(struct parser *p, struct text key, struct text value)
{
    (void)key;
    if (text_is(value, "yes")) {
        p->guest->no_autostart = false;
    } else if (text_is(value, "no")) {
        p->guest->no_autostart = true;
    } else {
        struct message m = guest_error(p, SYSCONF_ERR_BAD_VALUE);
        say_around(&m, "autostart is yes or no, not '", value, "'");
    }
}

/* Repeated cmdline lines append, separated by a space, for long command lines. */
static void add_cmdline(struct parser *p, struct text key, struct text value)
{
    char *cmdline = p->guest->cmdline;
    size_t used = string_length(cmdline);
    size_t gap = used ? 1 : 0;
    if (used + gap + value.n >= SYSCONF_CMDLINE) {
        too_long(p, key, SYSCONF_CMDLINE);
        return;
    }
    if (gap)
        cmdline[used++] = ' ';
    copy_text(cmdline + used, SYSCONF_CMDLINE - used, value);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* xx:xx:xx:xx:xx:xx, an individual (not group) address other than all zeroes. */
static bool parse_mac(struct text t, uint8_t mac[6])
{
    if (t.n != 17)
        return false;
    for (unsigned i = 0; i < 6; i++) {
        int high = hex_digit(t.p[3 * i]), low = hex_digit(t.p[3 * i + 1]);
        if (high < 0 || low < 0 || (i < 5 && t.p[3 * i + 2] != ':'))
            return false;
        mac[i] = (uint8_t)(high << 4 | low);
    }
    return !(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

/* net SEGMENT [MAC] */
static void set_net(struct parser *p, struct text key, struct text value)
{
    (void)key;
    struct text rest, more;
    struct text segment = first_word(value, &rest);
    struct text mac = first_word(rest, &more);
    uint64_t n;
    struct message m;
    if (!parse_number(segment, &n) || n < 1 || n > SYSCONF_MAX_SEGMENT) {
        m = guest_error(p, SYSCONF_ERR_BAD_NET);
        say_around(&m, "net segment '", segment, "' is not between 1 and ");
        say_number(&m, SYSCONF_MAX_SEGMENT);
    } else if (mac.n && !parse_mac(mac, p->guest->mac)) {
        m = guest_error(p, SYSCONF_ERR_BAD_NET);
        say_around(&m, "bad MAC address '", mac, "' (xx:xx:xx:xx:xx:xx, not multicast)");
    } else if (more.n) {
        m = guest_error(p, SYSCONF_ERR_EXTRA_VALUE);
        say_around(&m, "net takes a segment and a MAC address, not '", more, "'");
    } else {
        p->guest->net_segment = (uint32_t)n;
        p->guest->net_line = p->line;
        if (!mac.n) {
            static const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x50, 0, 0 };
            for (unsigned i = 0; i < 6; i++)
                p->guest->mac[i] = base[i];
            p->guest->mac[4] = (uint8_t)n;
            p->guest->mac[5] = (uint8_t)(p->guest - p->guests + 1);
        }
    }
}

/* `nested on|off`: virtual SVM for a guest hypervisor (docs/nested.md). */
static void set_nested(struct parser *p, struct text key, struct text value)
{
    (void)key;
    if (text_is(value, "on")) {
        p->guest->nested = true;
    } else if (text_is(value, "off")) {
        p->guest->nested = false;
    } else {
        struct message m = guest_error(p, SYSCONF_ERR_BAD_VALUE);
        say_around(&m, "nested is on or off, not '", value, "'");
    }
}

struct key {
    const char *name;
    void (*set)(struct parser *p, struct text key, struct text value);
    bool rest_of_line;      /* the value is the rest of the line, spaces and all */
    bool repeatable;
};

static const struct key keys[] = {
    { "memory",  set_memory,  false, false },
    { "vcpus",   set_vcpus,   false, false },
    { "boot",    set_boot,    false, false },
    { "kernel",  set_kernel,  false, false },
    { "initrd",  set_initrd,  false, false },
    { "cmdline", add_cmdline, true,  true  },
    { "disk",    set_disk,    true,  false },
    { "console", set_console, false, false },
    { "cpus",    set_cpus,    false, false },
    { "module",  add_module,  true,  true  },
    { "cdrom",   set_cdrom,   false, false },
    { "debug-exit", set_debug_exit, false, false },
    { "gdb",     set_gdb,     false, false },
    { "autostart", set_autostart, false, false },
    { "net",     set_net,     true,  false },
    { "nested",  set_nested,  false, false },
};

#define KEY_COUNT (sizeof(keys) / sizeof(keys[0]))

static int find_key(struct text name)
{
    for (unsigned i = 0; i < KEY_COUNT; i++)
        if (text_is(name, keys[i].name))
            return (int)i;
    return -1;
}

/* ---- guests ---- */

static bool name_character(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
}

static bool good_name(struct text name)
{
    for (size_t i = 0; i < name.n; i++)
        if (!name_character(name.p[i]))
            return false;
    return true;
}

static const struct sysconf_guest *find_guest(const struct parser *p, struct text name)
{
    for (unsigned i = 0; i < p->guest_count; i++)
        if (text_is(name, p->guests[i].name))
            return &p->guests[i];
    return NULL;
}

/* The end of a guest's block: checks what only the whole block can tell. */
static void finish_guest(struct parser *p)
{
    struct sysconf_guest *g = p->guest;
    if (!g)
        return;
    p->memory_lines[g - p->guests] = p->memory_line ? p->memory_line : g->line;
    if (g->kernel[0] == 0 && g->boot == SYSCONF_BOOT_BIOS) {
        copy_text(g->kernel, SYSCONF_STRING, (struct text){ SYSCONF_DEFAULT_FIRMWARE,
                                                           sizeof(SYSCONF_DEFAULT_FIRMWARE) - 1 });
        g->kernel_line = g->line;
    }
    if (g->kernel[0] == 0) {
        g->valid = false;
        struct message m = report(p, g->line, SYSCONF_ERR_MISSING_KERNEL);
        say(&m, "guest '");
        say(&m, g->name);
        say(&m, "' has no kernel");
    }
}

/* The guest keeps its name (cut to fit) even when the name is wrong, so later messages
 * can say which guest they mean; its keys are still read and checked. */
static void check_guest_name(struct parser *p, struct text name)
{
    const struct sysconf_guest *first = find_guest(p, name);
    struct message m;
    copy_text(p->guest->name, SYSCONF_STRING,
              (struct text){ name.p, name.n < SYSCONF_STRING ? name.n : SYSCONF_STRING - 1 });
    if (name.n == 0) {
        m = guest_error(p, SYSCONF_ERR_MISSING_VALUE);
        say(&m, "guest needs a name");
    } else if (has_space(name)) {
        m = guest_error(p, SYSCONF_ERR_EXTRA_VALUE);
        say_around(&m, "guest name '", name, "' has a space in it");
    } else if (name.n >= SYSCONF_STRING) {
        too_long(p, (struct text){ "guest name", 10 }, SYSCONF_STRING);
    } else if (!good_name(name)) {
        m = guest_error(p, SYSCONF_ERR_BAD_VALUE);
        say_around(&m, "guest name '", name, "' may only use letters, digits, - _ .");
    } else if (text_is(name, "root") || text_is(name, "console")) {
        m = guest_error(p, SYSCONF_ERR_BAD_VALUE);
        say_around(&m, "guest name '", name, "' is the console's own label; choose another");
    } else if (first) {
        m = guest_error(p, SYSCONF_ERR_DUPLICATE_GUEST);
        say_around(&m, "guest '", name, "' already defined on line ");
        say_number(&m, first->line);
    }
}

static void start_guest(struct parser *p, struct text name)
{
    finish_guest(p);
    p->guest = NULL;
    p->seen = 0;
    p->memory_line = 0;
    p->dropped_guest = p->guest_count == p->capacity;
    if (p->dropped_guest) {
        struct message m = report(p, p->line, SYSCONF_ERR_TOO_MANY_GUESTS);
        say(&m, "more than ");
        say_number(&m, p->capacity);
        say_around(&m, " guests, '", name, "' ignored");
        return;
    }
    struct sysconf_guest *g = &p->guests[p->guest_count++];
    g->valid = true;
    g->line = p->line;
    g->memory = DEFAULT_MEMORY;
    g->vcpus = 1;
    g->boot = SYSCONF_BOOT_LINUX;
    g->console = SYSCONF_CONSOLE_SERIAL;
    p->guest = g;
    check_guest_name(p, name);
}

static void set_key(struct parser *p, struct text name, struct text value)
{
    int k = find_key(name);
    struct message m;
    if (p->dropped_guest)
        return;                     /* already reported at its `guest` line */
    if (k < 0) {
        m = guest_error(p, SYSCONF_ERR_UNKNOWN_KEY);
        say_around(&m, "unknown key '", name, "'");
    } else if (!p->guest) {
        m = report(p, p->line, SYSCONF_ERR_KEY_OUTSIDE_GUEST);
        say_around(&m, "", name, " before any 'guest' line");
    } else if (value.n == 0) {
        m = guest_error(p, SYSCONF_ERR_MISSING_VALUE);
        say_around(&m, "", name, " needs a value");
    } else if (!keys[k].rest_of_line && has_space(value)) {
        m = guest_error(p, SYSCONF_ERR_EXTRA_VALUE);
        say_around(&m, "", name, " takes one value, not '");
        say_around(&m, "", value, "'");
    } else if (!keys[k].repeatable && (p->seen & 1u << k)) {
        m = guest_error(p, SYSCONF_ERR_DUPLICATE_KEY);
        say_around(&m, "", name, " given twice for guest '");
        say(&m, p->guest->name);
        say(&m, "'");
    } else {
        p->seen |= 1u << k;
        keys[k].set(p, name, value);
    }
}

/* uplink SEGMENT: a system-level key, wherever it stands; an error in it leaves the
 * guests alone and the system without an uplink. */
static void set_uplink(struct parser *p, struct text value)
{
    struct text rest, segment = first_word(value, &rest);
    uint64_t n;
    struct message m;
    if (p->uplink_line) {
        m = report(p, p->line, SYSCONF_ERR_BAD_UPLINK);
        say(&m, "uplink given twice (first on line ");
        say_number(&m, p->uplink_line);
        say(&m, ")");
        p->uplink_segment = 0;
    } else if (!parse_number(segment, &n) || n < 1 || n > SYSCONF_MAX_SEGMENT || rest.n) {
        m = report(p, p->line, SYSCONF_ERR_BAD_UPLINK);
        say_around(&m, "uplink segment '", value, "' is not between 1 and ");
        say_number(&m, SYSCONF_MAX_SEGMENT);
        p->uplink_line = p->line;
    } else {
        p->uplink_segment = (uint32_t)n;
        p->uplink_line = p->line;
    }
}

/* An uplink to a segment no valid guest is on would only bring the outside in. */
static void check_uplink(struct parser *p)
{
    if (!p->uplink_segment)
        return;
    for (unsigned i = 0; i < p->guest_count; i++)
        if (p->guests[i].valid && p->guests[i].net_segment == p->uplink_segment)
            return;
    struct message m = report(p, p->uplink_line, SYSCONF_ERR_BAD_UPLINK);
    say(&m, "uplink segment ");
    say_number(&m, p->uplink_segment);
    say(&m, " has no guest on it");
    p->uplink_segment = 0;
}

static bool has_control_character(struct text t)
{
    for (size_t i = 0; i < t.n; i++)
        if ((unsigned char)t.p[i] < 0x20 && t.p[i] != '\t' && t.p[i] != '\r')
            return true;
    return false;
}

static void parse_line(struct parser *p, struct text line)
{
    struct text rest, word;
    line = trim(strip_comment(line));
    if (line.n == 0)
        return;
    if (has_control_character(line)) {
        struct message m = guest_error(p, SYSCONF_ERR_BAD_VALUE);
        say(&m, "control character in line");
        return;
    }
    word = first_word(line, &rest);
    if (text_is(word, "guest"))
        start_guest(p, rest);
    else if (text_is(word, "uplink"))
        set_uplink(p, rest);
    else
        set_key(p, word, rest);
}

/* Two NICs with one MAC address on a segment would steal each other's frames: the
 * later one is refused. */
static void check_macs(struct parser *p)
{
    for (unsigned i = 0; i < p->guest_count; i++)
        for (unsigned j = 0; j < i; j++) {
            struct sysconf_guest *a = &p->guests[j], *b = &p->guests[i];
            bool same = a->net_segment && b->net_segment && a->net_segment == b->net_segment;
            for (unsigned k = 0; same && k < 6; k++)
                same = a->mac[k] == b->mac[k];
            if (!same || !a->valid || !b->valid)
                continue;
            b->valid = false;
            struct message m = report(p, b->net_line, SYSCONF_ERR_BAD_NET);
            say(&m, "guest '");
            say(&m, b->name);
            say(&m, "' has the MAC address of guest '");
            say(&m, a->name);
            say(&m, "' on its segment");
        }
}

/* One partition serves one guest: a later guest naming it again is refused. */
static void check_partitions(struct parser *p)
{
    for (unsigned i = 0; i < p->guest_count; i++)
        for (unsigned j = 0; j < i; j++) {
            struct sysconf_guest *a = &p->guests[j], *b = &p->guests[i];
            if (!a->valid || !b->valid || !a->disk_partition[0] ||
                !text_is((struct text){ b->disk_partition, string_length(b->disk_partition) }, a->disk_partition))
                continue;
            b->valid = false;
            struct message m = report(p, b->disk_line, SYSCONF_ERR_BAD_DISK);
            say(&m, "partition '");
            say(&m, b->disk_partition);
            say(&m, "' is already guest '");
            say(&m, a->name);
            say(&m, "''s disk");
        }
}

/* The valid guests share memory_limit in file order; whoever comes too late loses. */
static void check_memory_budget(struct parser *p)
{
    uint64_t left = p->memory_limit;
    for (unsigned i = 0; i < p->guest_count; i++) {
        struct sysconf_guest *g = &p->guests[i];
        if (!g->valid)
            continue;
        if (g->memory <= left) {
            left -= g->memory;
            continue;
        }
        g->valid = false;
        struct message m = report(p, p->memory_lines[i], SYSCONF_ERR_OUT_OF_MEMORY);
        say(&m, "guest '");
        say(&m, g->name);
        say(&m, "' needs ");
        say_size(&m, g->memory);
        say(&m, " but only ");
        say_size(&m, left);
        say(&m, " is left");
    }
}

static void clear_guests(struct sysconf_guest *guests, unsigned capacity)
{
    char *bytes = (char *)guests;
    for (size_t i = 0; i < capacity * sizeof(*guests); i++)
        bytes[i] = 0;
}

/* The parse itself, into p's guests; the system-level keys stay in p. */
static void parse_text(struct parser *p, const char *text, size_t length)
{
    clear_guests(p->guests, p->capacity);
    size_t start = 0;
    while (start < length) {
        size_t end = start;
        while (end < length && text[end] != '\n')
            end++;
        p->line++;
        parse_line(p, (struct text){ text + start, end - start });
        start = end + 1;
    }
    finish_guest(p);
    check_memory_budget(p);
    check_macs(p);
    check_partitions(p);
    check_uplink(p);
}

unsigned sysconf_parse(const char *text, size_t length, uint64_t memory_limit,
                       struct sysconf *config,
                       struct sysconf_error *errors, unsigned max_errors)
{
    struct parser p = {
        .guests = config->guests, .capacity = SYSCONF_MAX_GUESTS,
        .errors = errors, .max_errors = max_errors, .memory_limit = memory_limit,
    };
    parse_text(&p, text, length);
    config->guest_count = p.guest_count;
    config->uplink_segment = p.uplink_segment;
    config->uplink_line = p.uplink_line;
    return p.error_count;
}

unsigned sysconf_parse_guests(const char *text, size_t length, uint64_t memory_limit,
                              struct sysconf_guest *guests, unsigned capacity, unsigned *count,
                              struct sysconf_error *errors, unsigned max_errors)
{
    struct parser p = {
        .guests = guests, .capacity = capacity < SYSCONF_MAX_GUESTS ? capacity : SYSCONF_MAX_GUESTS,
        .errors = errors, .max_errors = max_errors, .memory_limit = memory_limit,
    };
    parse_text(&p, text, length);
    *count = p.guest_count;
    return p.error_count;
}

static bool module_present(const char *name, const char *const *modules, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        if (strings_equal(name, modules[i]))
            return true;
    return false;
}

static void check_module(struct parser *p, struct sysconf_guest *g, const char *what,
                         const char *name, unsigned line,
                         const char *const *modules, unsigned count)
{
    if (name[0] == 0 || module_present(name, modules, count))
        return;
    g->valid = false;
    struct message m = report(p, line, SYSCONF_ERR_MISSING_MODULE);
    say(&m, what);
    say(&m, " '");
    say(&m, name);
    say(&m, "' of guest '");
    say(&m, g->name);
    say(&m, "' is not a boot module");
}

unsigned sysconf_check_guest_modules(struct sysconf_guest *g,
                                     const char *const *modules, unsigned module_count,
                                     struct sysconf_error *errors, unsigned max_errors)
{
    struct parser p = { .errors = errors, .max_errors = max_errors };
    check_module(&p, g, "kernel", g->kernel, g->kernel_line, modules, module_count);
    check_module(&p, g, "initrd", g->initrd, g->initrd_line, modules, module_count);
    check_module(&p, g, "disk", g->disk, g->disk_line, modules, module_count);
    check_module(&p, g, "cdrom", g->cdrom, g->cdrom_line, modules, module_count);
    for (unsigned j = 0; j < g->module_count; j++)
        check_module(&p, g, "module", g->module[j], g->module_line[j], modules, module_count);
    return p.error_count;
}

unsigned sysconf_check_modules(struct sysconf *config,
                               const char *const *modules, unsigned module_count,
                               struct sysconf_error *errors, unsigned max_errors)
{
    unsigned n = 0;
    for (unsigned i = 0; i < config->guest_count; i++)
        n += sysconf_check_guest_modules(&config->guests[i], modules, module_count,
                                         errors + (n < max_errors ? n : max_errors),
                                         n < max_errors ? max_errors - n : 0);
    return n;
}

size_t sysconf_format_cpus(uint64_t mask, char *out, size_t size)
{
    char buf[SYSCONF_MESSAGE];
    struct message m = { buf, 0 };
    buf[0] = 0;
    for (unsigned cpu = 0; cpu <= SYSCONF_MAX_CPU; cpu++) {
        if (!((mask >> cpu) & 1))
            continue;
        unsigned last = cpu;
        while (last < SYSCONF_MAX_CPU && ((mask >> (last + 1)) & 1))
            last++;
        if (m.len)
            say(&m, ",");
        say_number(&m, cpu);
        if (last > cpu) {
            say(&m, "-");
            say_number(&m, last);
        }
        cpu = last;
    }
    size_t n = m.len < size ? m.len : (size ? size - 1 : 0);
    for (size_t i = 0; i < n; i++)
        out[i] = buf[i];
    if (size)
        out[n] = 0;
    return n;
}

unsigned sysconf_check_cpus(struct sysconf *config, unsigned cpu_count,
                            struct sysconf_error *errors, unsigned max_errors)
{
    struct parser p = { .errors = errors, .max_errors = max_errors };
    uint64_t present = cpu_count >= 64 ? ~0ull : (1ull << cpu_count) - 1;
    for (unsigned i = 0; i < config->guest_count; i++) {
        struct sysconf_guest *g = &config->guests[i];
        uint64_t missing = g->cpus & ~present;
        if (!missing)
            continue;
        g->valid = false;
        struct message m = report(&p, g->cpus_line, SYSCONF_ERR_NO_SUCH_CPU);
        char list[SYSCONF_MESSAGE];
        sysconf_format_cpus(missing, list, sizeof(list));
        say(&m, "cpus of guest '");
        say(&m, g->name);
        say(&m, "' names CPU ");
        say(&m, list);
        say(&m, ", but the machine has ");
        say_number(&m, cpu_count);
        say(&m, cpu_count == 1 ? " CPU (0)" : " CPUs (0-");
        if (cpu_count != 1) {
            say_number(&m, cpu_count - 1);
            say(&m, ")");
        }
    }
    return p.error_count;
}

unsigned sysconf_valid_guests(const struct sysconf *config)
{
    unsigned n = 0;
    for (unsigned i = 0; i < config->guest_count; i++)
        n += config->guests[i].valid;
    return n;
}
