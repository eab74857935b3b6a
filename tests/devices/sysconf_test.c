/* The system configuration parser: the format, every error with its line, and that a
 * bad guest leaves the good ones alone. */
#include <stdlib.h>
#include "harness.h"
#include <pith/sysconf.h>

#define GIB (1ull << 30)
#define MIB (1ull << 20)
#define MAX_ERRORS 16

static struct sysconf config;
static struct sysconf_error errors[MAX_ERRORS];

static unsigned parse(const char *text)
{
    return sysconf_parse(text, strlen(text), 2 * GIB, &config, errors, MAX_ERRORS);
}

/* text has exactly one error: kind, on line, saying message. */
static void expect_one(const char *text, unsigned line, enum sysconf_error_kind kind,
                       const char *message)
{
    CHECK_EQ(parse(text), 1);
    CHECK_EQ(errors[0].line, line);
    CHECK_EQ(errors[0].kind, kind);
    if (strcmp(errors[0].message, message) != 0 && !device_failed) {
        device_failed = 1;
        snprintf(device_why, sizeof(device_why), "message '%s', expected '%s'",
                 errors[0].message, message);
    }
}

static const char two_guests[] =
    "# two Linux guests\n"
    "guest linux1\n"
    "  memory 256M\n"
    "  vcpus 1\n"
    "  boot linux            # the default\n"
    "  kernel vmlinuz\n"
    "  initrd initrd.gz\n"
    "  cmdline console=ttyS0 quiet\n"
    "  disk disk1.img\n"
    "  console serial\n"
    "\n"
    "guest test-2\n"
    "\tmemory 64m\n"
    "\tvcpus 2\n"
    "\tboot multiboot\n"
    "\tkernel pith-test.elf\n"
    "\tconsole none\n";

static void valid_two_guests(void)
{
    CHECK_EQ(parse(two_guests), 0);
    CHECK_EQ(config.guest_count, 2);
    CHECK_EQ(sysconf_valid_guests(&config), 2);
    const struct sysconf_guest *a = &config.guests[0], *b = &config.guests[1];
    CHECK(strcmp(a->name, "linux1") == 0);
    CHECK(a->valid);
    CHECK_EQ(a->line, 2);
    CHECK_EQ(a->memory, 256 * MIB);
    CHECK_EQ(a->vcpus, 1);
    CHECK_EQ(a->boot, SYSCONF_BOOT_LINUX);
    CHECK(strcmp(a->kernel, "vmlinuz") == 0);
    CHECK_EQ(a->kernel_line, 6);
    CHECK(strcmp(a->initrd, "initrd.gz") == 0);
    CHECK_EQ(a->initrd_line, 7);
    CHECK(strcmp(a->cmdline, "console=ttyS0 quiet") == 0);
    CHECK(strcmp(a->disk, "disk1.img") == 0);
    CHECK_EQ(a->disk_line, 9);
    CHECK_EQ(a->console, SYSCONF_CONSOLE_SERIAL);
    CHECK(strcmp(b->name, "test-2") == 0);
    CHECK(b->valid);
    CHECK_EQ(b->line, 12);
    CHECK_EQ(b->memory, 64 * MIB);
    CHECK_EQ(b->vcpus, 2);
    CHECK_EQ(b->boot, SYSCONF_BOOT_MULTIBOOT);
    CHECK(strcmp(b->kernel, "pith-test.elf") == 0);
    CHECK_EQ(b->initrd[0], 0);
    CHECK_EQ(b->cmdline[0], 0);
    CHECK_EQ(b->disk[0], 0);
    CHECK_EQ(b->console, SYSCONF_CONSOLE_NONE);
}

static void defaults(void)
{
    CHECK_EQ(parse("guest g\nkernel k"), 0);        /* no newline at the end */
    const struct sysconf_guest *g = &config.guests[0];
    CHECK(g->valid);
    CHECK_EQ(g->memory, 128 * MIB);
    CHECK_EQ(g->vcpus, 1);
    CHECK_EQ(g->boot, SYSCONF_BOOT_LINUX);
    CHECK_EQ(g->console, SYSCONF_CONSOLE_SERIAL);
}

static void sizes(void)
{
    CHECK_EQ(parse("guest g\nkernel k\nmemory 1G\n"), 0);
    CHECK_EQ(config.guests[0].memory, GIB);
    CHECK_EQ(parse("guest g\nkernel k\nmemory 4096k\n"), 0);
    CHECK_EQ(config.guests[0].memory, 4 * MIB);
    CHECK_EQ(parse("guest g\nkernel k\nmemory 8192\n"), 0);
    CHECK_EQ(config.guests[0].memory, 8192);
}

/* CRLF, tabs, comments, and a '#' inside a word that is not a comment. */
static void comments_and_spacing(void)
{
    CHECK_EQ(parse("# header\r\n\r\n   # indented comment\r\n"
                   "guest\tg   # trailing\r\n"
                   "kernel\t k \r\n"
                   "cmdline a#b  c   # gone\r\n"), 0);
    CHECK(strcmp(config.guests[0].name, "g") == 0);
    CHECK(strcmp(config.guests[0].kernel, "k") == 0);
    CHECK(strcmp(config.guests[0].cmdline, "a#b  c") == 0);
}

static void cmdline_lines_append(void)
{
    CHECK_EQ(parse("guest g\nkernel k\ncmdline console=ttyS0\ncmdline  root=/dev/vda rw\n"), 0);
    CHECK(strcmp(config.guests[0].cmdline, "console=ttyS0 root=/dev/vda rw") == 0);
}

static void unknown_key(void)
{
    expect_one("guest g\nkernel k\nmemroy 1G\n", 3, SYSCONF_ERR_UNKNOWN_KEY,
               "line 3: unknown key 'memroy'");
    CHECK(!config.guests[0].valid);
}

static void missing_value(void)
{
    expect_one("guest g\nkernel k\nmemory   # none\n", 3, SYSCONF_ERR_MISSING_VALUE,
               "line 3: memory needs a value");
    expect_one("guest\nkernel k\n", 1, SYSCONF_ERR_MISSING_VALUE, "line 1: guest needs a name");
}

static void extra_value(void)
{
    expect_one("guest g\nkernel k\nmemory 256M 512M\n", 3, SYSCONF_ERR_EXTRA_VALUE,
               "line 3: memory takes one value, not '256M 512M'");
    CHECK_EQ(parse("guest my guest\nkernel k\n"), 1);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_EXTRA_VALUE);
}

/* `disk NAME` is the guest's writable copy; `disk NAME readonly` the shared module. */
static void disk_read_only(void)
{
    CHECK_EQ(parse("guest g\nkernel k\ndisk d.img\n"), 0);
    CHECK(strcmp(config.guests[0].disk, "d.img") == 0);
    CHECK(!config.guests[0].disk_read_only);
    CHECK_EQ(parse("guest g\nkernel k\ndisk  d.img   readonly \n"), 0);
    CHECK(strcmp(config.guests[0].disk, "d.img") == 0);
    CHECK(config.guests[0].disk_read_only);
    CHECK_EQ(config.guests[0].disk_line, 3);
    expect_one("guest g\nkernel k\ndisk d.img rw\n", 3, SYSCONF_ERR_EXTRA_VALUE,
               "line 3: disk takes a module name and optionally readonly, not 'rw'");
    CHECK_EQ(config.guests[0].disk[0], 0);
}

/* `disk part:NAME`: a host partition, one guest each; the later claimant is refused. */
static void disk_partitions(void)
{
    CHECK_EQ(parse("guest a\nkernel k\ndisk part:data-a\n"), 0);
    CHECK(strcmp(config.guests[0].disk_partition, "data-a") == 0);
    CHECK_EQ(config.guests[0].disk[0], 0);
    CHECK_EQ(config.guests[0].disk_line, 3);
    CHECK_EQ(parse("guest a\nkernel k\ndisk part:shared\n"
                   "guest b\nkernel k\ndisk part:other\n"
                   "guest c\nkernel k\n\ndisk part:shared\n"), 1);
    CHECK_EQ(errors[0].line, 10);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_BAD_DISK);
    CHECK(strcmp(errors[0].message, "line 10: partition 'shared' is already guest 'a''s disk") == 0);
    CHECK(config.guests[0].valid && config.guests[1].valid && !config.guests[2].valid);
    expect_one("guest g\nkernel k\ndisk part:\n", 3, SYSCONF_ERR_BAD_DISK,
               "line 3: a GPT partition name has 1 to 36 characters, not ''");
    expect_one("guest g\nkernel k\ndisk part:abcdefghijklmnopqrstuvwxyz0123456789X\n", 3, SYSCONF_ERR_BAD_DISK,
               "line 3: a GPT partition name has 1 to 36 characters, not 'abcdefghijklmnopqrstuvwxyz0123456789X'");
    expect_one("guest g\nkernel k\ndisk part:x readonly\n", 3, SYSCONF_ERR_EXTRA_VALUE,
               "line 3: disk part:NAME takes nothing more, not 'readonly'");
    CHECK(!config.guests[0].valid);
}

static void bad_number(void)
{
    expect_one("guest g\nkernel k\nmemory 12X\n", 3, SYSCONF_ERR_BAD_NUMBER,
               "line 3: bad size '12X' for memory");
    expect_one("guest g\nkernel k\n\nvcpus two\n", 4, SYSCONF_ERR_BAD_NUMBER,
               "line 4: bad number 'two' for vcpus");
    expect_one("guest g\nkernel k\nmemory 99999999999G\n", 3, SYSCONF_ERR_BAD_NUMBER,
               "line 3: bad size '99999999999G' for memory");
    expect_one("guest g\nkernel k\nmemory M\n", 3, SYSCONF_ERR_BAD_NUMBER,
               "line 3: bad size 'M' for memory");
    expect_one("guest g\nkernel k\nvcpus 18446744073709551616\n", 3, SYSCONF_ERR_BAD_NUMBER,
               "line 3: bad number '18446744073709551616' for vcpus");
}

static void bad_value(void)
{
    expect_one("guest g\nkernel k\nboot efi\n", 3, SYSCONF_ERR_BAD_VALUE,
               "line 3: unknown boot method 'efi' (linux, multiboot, flat or bios)");
    expect_one("guest g\nkernel k\nconsole vga\n", 3, SYSCONF_ERR_BAD_VALUE,
               "line 3: unknown console 'vga' (serial or none)");
    expect_one("guest g/1\nkernel k\n", 1, SYSCONF_ERR_BAD_VALUE,
               "line 1: guest name 'g/1' may only use letters, digits, - _ .");
    expect_one("guest root\nkernel k\n", 1, SYSCONF_ERR_BAD_VALUE,
               "line 1: guest name 'root' is the console's own label; choose another");
    expect_one("guest console\nkernel k\n", 1, SYSCONF_ERR_BAD_VALUE,
               "line 1: guest name 'console' is the console's own label; choose another");
    expect_one("guest g\nkernel k\ncmdline a\001b\n", 3, SYSCONF_ERR_BAD_VALUE,
               "line 3: control character in line");
}

static void too_long(void)
{
    char text[1200];
    strcpy(text, "guest g\nkernel ");
    memset(text + strlen(text), 'k', 128);
    strcpy(text + strlen("guest g\nkernel ") + 128, "\n");
    CHECK_EQ(parse(text), 2);                       /* and so no kernel */
    CHECK_EQ(errors[0].line, 2);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_TOO_LONG);
    CHECK(strcmp(errors[0].message, "line 2: kernel is longer than 127 characters") == 0);
    CHECK_EQ(errors[1].kind, SYSCONF_ERR_MISSING_KERNEL);

    strcpy(text, "guest g\nkernel k\ncmdline ");       /* 300 + 1 + 300 > 511 */
    memset(text + strlen(text), 'c', 300);
    strcpy(text + strlen("guest g\nkernel k\ncmdline ") + 300, "\ncmdline ");
    size_t at = strlen(text);
    memset(text + at, 'd', 300);
    strcpy(text + at + 300, "\n");
    expect_one(text, 4, SYSCONF_ERR_TOO_LONG, "line 4: cmdline is longer than 511 characters");
}

static void key_outside_guest(void)
{
    expect_one("# nothing yet\nmemory 1G\nguest g\nkernel k\n", 2,
               SYSCONF_ERR_KEY_OUTSIDE_GUEST, "line 2: memory before any 'guest' line");
    CHECK(config.guests[0].valid);
}

static void duplicate_guest(void)
{
    expect_one("guest a\nkernel k\nguest a\nkernel k\n", 3, SYSCONF_ERR_DUPLICATE_GUEST,
               "line 3: guest 'a' already defined on line 1");
    CHECK(config.guests[0].valid);
    CHECK(!config.guests[1].valid);
}

static void duplicate_key(void)
{
    expect_one("guest a\nkernel k\nmemory 1G\nmemory 2G\n", 4, SYSCONF_ERR_DUPLICATE_KEY,
               "line 4: memory given twice for guest 'a'");
    CHECK_EQ(config.guests[0].memory, GIB);
}

static void too_many_guests(void)
{
    char text[8192] = "";
    for (unsigned i = 0; i < SYSCONF_MAX_GUESTS + 1; i++) {
        char guest[64];
        snprintf(guest, sizeof(guest), "guest g%u\nmemory 16M\nkernel k\n", i);
        strcat(text, guest);
    }
    char message[SYSCONF_MESSAGE];
    snprintf(message, sizeof(message), "line %u: more than %u guests, 'g%u' ignored",
             3 * SYSCONF_MAX_GUESTS + 1, SYSCONF_MAX_GUESTS, SYSCONF_MAX_GUESTS);
    expect_one(text, 3 * SYSCONF_MAX_GUESTS + 1, SYSCONF_ERR_TOO_MANY_GUESTS, message);
    CHECK_EQ(SYSCONF_MAX_GUESTS, 64);
    CHECK_EQ(config.guest_count, SYSCONF_MAX_GUESTS);
    CHECK_EQ(sysconf_valid_guests(&config), SYSCONF_MAX_GUESTS);
}

/* A VMM parses its own guest's block into room for one: a second guest is refused by
 * name, and the first is whole. */
static void parse_into_room_for_one(void)
{
    struct sysconf_guest one[2];
    memset(one, 0x5a, sizeof(one));
    unsigned count = 99;
    const char text[] = "guest a\nmemory 96M\nkernel vmlinuz\ncmdline console=ttyS0\n"
                        "guest b\nkernel k\n";
    unsigned n = sysconf_parse_guests(text, sizeof(text) - 1, 1ull << 30, one, 1, &count, errors, 8);
    CHECK_EQ(n, 1);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_TOO_MANY_GUESTS);
    CHECK(strcmp(errors[0].message, "line 5: more than 1 guests, 'b' ignored") == 0);
    CHECK_EQ(count, 1);
    CHECK(one[0].valid);
    CHECK(strcmp(one[0].name, "a") == 0);
    CHECK_EQ(one[0].memory, 96ull << 20);
    CHECK(strcmp(one[0].cmdline, "console=ttyS0") == 0);
    CHECK_EQ((unsigned char)one[1].name[0], 0x5a);      /* nothing written past the room */
    const char *modules[] = { "k" };
    CHECK_EQ(sysconf_check_guest_modules(&one[0], modules, 1, errors, 8), 1);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_MISSING_MODULE);
    CHECK(!one[0].valid);
}

static void missing_kernel(void)
{
    expect_one("guest a\nmemory 1G\n\nguest b\nkernel k\n", 1, SYSCONF_ERR_MISSING_KERNEL,
               "line 1: guest 'a' has no kernel");
    CHECK(!config.guests[0].valid);
    CHECK(config.guests[1].valid);
}

static void memory_range(void)
{
    expect_one("guest g\nkernel k\nmemory 0\n", 3, SYSCONF_ERR_MEMORY_RANGE,
               "line 3: memory must be a non-zero multiple of 4K, not 0");
    expect_one("guest g\nkernel k\nmemory 1000\n", 3, SYSCONF_ERR_MEMORY_RANGE,
               "line 3: memory must be a non-zero multiple of 4K, not 1000");
    expect_one("guest g\nkernel k\nmemory 3G\n", 3, SYSCONF_ERR_MEMORY_RANGE,
               "line 3: memory 3G is more than the 2G available");
}

/* Each fits alone; the third does not fit after the first two. */
static void out_of_memory(void)
{
    expect_one("guest a\nkernel k\nmemory 1G\n"
               "guest b\nkernel k\nmemory 768M\n"
               "guest c\nkernel k\nmemory 512M\n"
               "guest d\nkernel k\nmemory 256M\n", 9, SYSCONF_ERR_OUT_OF_MEMORY,
               "line 9: guest 'c' needs 512M but only 256M is left");
    CHECK(config.guests[0].valid);
    CHECK(config.guests[1].valid);
    CHECK(!config.guests[2].valid);
    CHECK(config.guests[3].valid);                  /* fits in what c left */
}

static void vcpus_range(void)
{
    expect_one("guest g\nkernel k\nvcpus 0\n", 3, SYSCONF_ERR_VCPUS_RANGE,
               "line 3: vcpus 0 is not between 1 and 8");
    expect_one("guest g\nkernel k\nvcpus 9\n", 3, SYSCONF_ERR_VCPUS_RANGE,
               "line 3: vcpus 9 is not between 1 and 8");
    CHECK_EQ(parse("guest g\nkernel k\nvcpus 8\n"), 0);
    CHECK_EQ(config.guests[0].vcpus, 8);
}

static void cpus_lists(void)
{
    CHECK_EQ(parse("guest g\nkernel k\n"), 0);
    CHECK_EQ(config.guests[0].cpus, 0);                 /* no key: spread */
    CHECK_EQ(parse("guest g\nkernel k\ncpus 1-2\n"), 0);
    CHECK_EQ(config.guests[0].cpus, 0x6);
    CHECK_EQ(config.guests[0].cpus_line, 3);
    CHECK_EQ(parse("guest g\nkernel k\ncpus 0,3\n"), 0);
    CHECK_EQ(config.guests[0].cpus, 0x9);
    CHECK_EQ(parse("guest g\nkernel k\ncpus 5\n"), 0);
    CHECK_EQ(config.guests[0].cpus, 0x20);
    CHECK_EQ(parse("guest g\nkernel k\ncpus 0-1,4-5,63\n"), 0);
    CHECK_EQ(config.guests[0].cpus, 0x8000000000000033ull);
    CHECK_EQ(parse("guest g\nkernel k\ncpus 2,2,1-2\n"), 0);    /* repeats are harmless */
    CHECK_EQ(config.guests[0].cpus, 0x6);
}

static void cpus_bad_values(void)
{
    static const char *const bad[] = { "2-1", "a", "1-", "-1", ",", "0,", ",0", "0,,1", "64",
                                       "0-64", "1-2-3", "1.5", "99999999999999999999" };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]) && !device_failed; i++) {
        char text[96], message[SYSCONF_MESSAGE];
        snprintf(text, sizeof(text), "guest g\nkernel k\ncpus %s\n", bad[i]);
        snprintf(message, sizeof(message),
                 "line 3: cpus '%s' is not a list of CPUs 0 to 63 (like 1-2 or 0,3)", bad[i]);
        expect_one(text, 3, SYSCONF_ERR_BAD_CPUS, message);
        CHECK(!config.guests[0].valid);
    }
    expect_one("guest g\nkernel k\ncpus 0 1\n", 3, SYSCONF_ERR_EXTRA_VALUE,
               "line 3: cpus takes one value, not '0 1'");
    expect_one("guest g\nkernel k\ncpus 0\ncpus 1\n", 4, SYSCONF_ERR_DUPLICATE_KEY,
               "line 4: cpus given twice for guest 'g'");
}

/* The root task checks the CPUs against the machine's: a guest naming one that is not
 * there is reported by line and stays behind, the others start. */
static void cpus_checked_against_machine(void)
{
    CHECK_EQ(parse("guest a\nkernel k\ncpus 1\nguest b\nkernel k\nvcpus 2\ncpus 0,2-3\n"
                   "guest c\nkernel k\n"), 0);
    CHECK_EQ(sysconf_check_cpus(&config, 4, errors, MAX_ERRORS), 0);
    CHECK_EQ(sysconf_valid_guests(&config), 3);
    CHECK_EQ(sysconf_check_cpus(&config, 2, errors, MAX_ERRORS), 1);
    CHECK_EQ(errors[0].line, 7);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_NO_SUCH_CPU);
    CHECK(strcmp(errors[0].message,
                 "line 7: cpus of guest 'b' names CPU 2-3, but the machine has 2 CPUs (0-1)") == 0);
    CHECK(config.guests[0].valid && !config.guests[1].valid && config.guests[2].valid);
    CHECK_EQ(parse("guest a\nkernel k\ncpus 1\n"), 0);
    CHECK_EQ(sysconf_check_cpus(&config, 1, errors, MAX_ERRORS), 1);
    CHECK(strcmp(errors[0].message,
                 "line 3: cpus of guest 'a' names CPU 1, but the machine has 1 CPU (0)") == 0);
}

static void cpus_formatted(void)
{
    char out[64];
    CHECK_EQ(sysconf_format_cpus(0x6, out, sizeof(out)), 3);
    CHECK(strcmp(out, "1-2") == 0);
    sysconf_format_cpus(0x8000000000000035ull, out, sizeof(out));
    CHECK(strcmp(out, "0,2,4-5,63") == 0);
    sysconf_format_cpus(0, out, sizeof(out));
    CHECK(strcmp(out, "") == 0);
    CHECK_EQ(sysconf_format_cpus(0x15, out, 4), 3);     /* cut to fit, NUL-terminated */
    CHECK(strcmp(out, "0,2") == 0);
    /* What the root task hands the VMM parses back to the same CPUs. */
    char text[128];
    sysconf_format_cpus(0x8000000000000035ull, out, sizeof(out));
    snprintf(text, sizeof(text), "guest g\nkernel k\ncpus %s\n", out);
    CHECK_EQ(parse(text), 0);
    CHECK_EQ(config.guests[0].cpus, 0x8000000000000035ull);
}

static void missing_module(void)
{
    static const char *const modules[] = { "vmlinuz", "initrd.gz", "pith-test.elf" };
    CHECK_EQ(parse(two_guests), 0);
    CHECK_EQ(sysconf_check_modules(&config, modules, 3, errors, MAX_ERRORS), 1);
    CHECK_EQ(errors[0].line, 9);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_MISSING_MODULE);
    CHECK(strcmp(errors[0].message,
                 "line 9: disk 'disk1.img' of guest 'linux1' is not a boot module") == 0);
    CHECK(!config.guests[0].valid);
    CHECK(config.guests[1].valid);
    static const char *const all[] = { "disk1.img", "pith-test.elf", "initrd.gz", "vmlinuz" };
    CHECK_EQ(parse(two_guests), 0);
    CHECK_EQ(sysconf_check_modules(&config, all, 4, errors, MAX_ERRORS), 0);
    CHECK_EQ(sysconf_valid_guests(&config), 2);
}

/* "The valid guests still start": errors in one guest stay in that guest. */
static void bad_guest_keeps_good_one(void)
{
    CHECK_EQ(parse("guest good\nmemory 256M\nkernel vmlinuz\ncmdline console=ttyS0\n"
                   "guest bad\nmemory lots\nvcpus 99\nfloppy a.img\n"
                   "guest good2\nkernel vmlinuz\n"), 4);
    CHECK_EQ(errors[0].line, 6);
    CHECK_EQ(errors[1].line, 7);
    CHECK_EQ(errors[2].line, 8);
    CHECK_EQ(errors[3].line, 5);                    /* bad has no kernel */
    CHECK_EQ(config.guest_count, 3);
    CHECK(config.guests[0].valid);
    CHECK(!config.guests[1].valid);
    CHECK(config.guests[2].valid);
    CHECK_EQ(config.guests[0].memory, 256 * MIB);
    CHECK(strcmp(config.guests[0].cmdline, "console=ttyS0") == 0);
}

/* More errors than room: all counted, the first ones kept, nothing written past. */
static void error_overflow(void)
{
    struct sysconf_error two[3];
    memset(two, 0x5a, sizeof(two));
    CHECK_EQ(sysconf_parse("a 1\nb 2\nc 3\nd 4\n", 16, GIB, &config, two, 2), 4);
    CHECK_EQ(two[0].line, 1);
    CHECK_EQ(two[1].line, 2);
    CHECK_EQ(two[2].line, 0x5a5a5a5a);
    CHECK_EQ(sysconf_parse("a 1\n", 4, GIB, &config, NULL, 0), 1);
}

/* A long word in a message is cut, never overflowing the message. */
static void long_message_cut(void)
{
    char text[400] = "guest g\nkernel k\n";
    memset(text + strlen(text), 'x', 300);
    CHECK_EQ(parse(text), 1);
    CHECK_EQ(strlen(errors[0].message), SYSCONF_MESSAGE - 1);
    CHECK(strncmp(errors[0].message, "line 3: unknown key 'xxx", 24) == 0);
}

static char *read_example(const char *name, size_t *length)
{
    char path[256];
    snprintf(path, sizeof(path), "guests/configs/%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buffer[8192];
    *length = fread(buffer, 1, sizeof(buffer), f);
    fclose(f);
    return buffer;
}

/* The shipped examples (run from the repository root, as `make test-unit` does). */
static void example_files(void)
{
    static const char *const modules[] = { "vmlinuz", "initrd.img" };
    size_t length;
    char *text = read_example("two-linux.conf", &length);
    CHECK(text != NULL);
    if (!text)
        return;
    CHECK_EQ(sysconf_parse(text, length, 2 * GIB, &config, errors, MAX_ERRORS), 0);
    CHECK_EQ(sysconf_check_modules(&config, modules, 2, errors, MAX_ERRORS), 0);
    CHECK_EQ(sysconf_valid_guests(&config), 2);
    text = read_example("bad-example.conf", &length);
    CHECK(text != NULL);
    if (!text)
        return;
    CHECK_EQ(sysconf_parse(text, length, 2 * GIB, &config, errors, MAX_ERRORS), 5);
    CHECK_EQ(errors[0].line, 11);
    CHECK_EQ(errors[1].line, 12);
    CHECK_EQ(errors[2].line, 13);
    CHECK_EQ(errors[3].line, 14);
    CHECK_EQ(errors[4].line, 10);
    CHECK_EQ(config.guest_count, 2);
    CHECK_EQ(sysconf_valid_guests(&config), 1);
}

/* The legacy boot methods and their keys: multiboot modules with their strings, the
 * isa-debug-exit device, firmware with an IDE disk and CD, the default firmware. */
static void legacy_boot_methods(void)
{
    static const char text[] =
        "guest mb\n"
        "  boot multiboot\n"
        "  kernel mb1-test.elf\n"
        "  module module1.txt tag=1 more words\n"
        "  module module2.txt\n"
        "  debug-exit yes\n"
        "guest fw\n"
        "  boot bios\n"
        "  disk boot.img\n"
        "  cdrom boot.iso\n"
        "guest old\n"
        "  boot flat\n"
        "  kernel hello.bin\n"
        "  debug-exit no\n"
        "  autostart no\n";
    CHECK_EQ(parse(text), 0);
    const struct sysconf_guest *mb = &config.guests[0], *fw = &config.guests[1], *old = &config.guests[2];
    CHECK_EQ(mb->boot, SYSCONF_BOOT_MULTIBOOT);
    CHECK_EQ(mb->module_count, 2);
    CHECK(strcmp(mb->module[0], "module1.txt") == 0);
    CHECK(strcmp(mb->module_string[0], "module1.txt tag=1 more words") == 0);
    CHECK(strcmp(mb->module[1], "module2.txt") == 0);
    CHECK_EQ(mb->module_line[1], 5);
    CHECK(mb->debug_exit);
    CHECK_EQ(fw->boot, SYSCONF_BOOT_BIOS);
    CHECK(strcmp(fw->kernel, SYSCONF_DEFAULT_FIRMWARE) == 0);   /* no kernel line: SeaBIOS */
    CHECK(strcmp(fw->cdrom, "boot.iso") == 0);
    CHECK(!fw->debug_exit);
    CHECK_EQ(old->boot, SYSCONF_BOOT_FLAT);
    CHECK(!old->debug_exit);
    CHECK(old->no_autostart);
    CHECK(!mb->no_autostart);                  /* guests start at boot unless told */
    /* every module is checked against the boot modules, by name */
    static const char *const some[] = { "mb1-test.elf", "module1.txt", "bios-256k.bin", "boot.img",
                                        "hello.bin" };
    CHECK_EQ(sysconf_check_modules(&config, some, 5, errors, MAX_ERRORS), 2);
    CHECK(strcmp(errors[0].message, "line 5: module 'module2.txt' of guest 'mb' is not a boot module") == 0);
    CHECK(strcmp(errors[1].message, "line 10: cdrom 'boot.iso' of guest 'fw' is not a boot module") == 0);
    CHECK(!config.guests[0].valid);
    CHECK(!config.guests[1].valid);
    CHECK(config.guests[2].valid);
}

static void legacy_bad_values(void)
{
    expect_one("guest a\n  kernel k\n  debug-exit maybe\n", 3, SYSCONF_ERR_BAD_VALUE,
               "line 3: debug-exit is yes or no, not 'maybe'");
    expect_one("guest a\n  kernel k\n  autostart later\n", 3, SYSCONF_ERR_BAD_VALUE,
               "line 3: autostart is yes or no, not 'later'");
    expect_one("guest a\n  kernel k\n  cdrom one two\n", 3, SYSCONF_ERR_EXTRA_VALUE,
               "line 3: cdrom takes one value, not 'one two'");
    expect_one("guest a\n  boot multiboot\n", 1, SYSCONF_ERR_MISSING_KERNEL,
               "line 1: guest 'a' has no kernel");
    char text[1024] = "guest a\n  kernel k\n";
    for (unsigned i = 0; i < SYSCONF_MAX_MODULES + 1; i++)
        strcat(text, "  module m\n");
    expect_one(text, 3 + SYSCONF_MAX_MODULES, SYSCONF_ERR_BAD_VALUE, "line 11: more than 8 modules");
    CHECK_EQ(config.guests[0].module_count, SYSCONF_MAX_MODULES);
}

DEVICE_TESTS(sysconf,
    { "sysconf_legacy_boot_methods", legacy_boot_methods },
    { "sysconf_legacy_bad_values", legacy_bad_values },
    { "sysconf_valid_two_guests", valid_two_guests },
    { "sysconf_disk_read_only", disk_read_only },
    { "sysconf_disk_partitions", disk_partitions },
    { "sysconf_defaults", defaults },
    { "sysconf_sizes", sizes },
    { "sysconf_comments_and_spacing", comments_and_spacing },
    { "sysconf_cmdline_lines_append", cmdline_lines_append },
    { "sysconf_unknown_key", unknown_key },
    { "sysconf_missing_value", missing_value },
    { "sysconf_extra_value", extra_value },
    { "sysconf_bad_number", bad_number },
    { "sysconf_bad_value", bad_value },
    { "sysconf_too_long", too_long },
    { "sysconf_key_outside_guest", key_outside_guest },
    { "sysconf_duplicate_guest", duplicate_guest },
    { "sysconf_duplicate_key", duplicate_key },
    { "sysconf_too_many_guests", too_many_guests },
    { "sysconf_parse_into_room_for_one", parse_into_room_for_one },
    { "sysconf_missing_kernel", missing_kernel },
    { "sysconf_memory_range", memory_range },
    { "sysconf_out_of_memory", out_of_memory },
    { "sysconf_vcpus_range", vcpus_range },
    { "sysconf_cpus_lists", cpus_lists },
    { "sysconf_cpus_bad_values", cpus_bad_values },
    { "sysconf_cpus_checked_against_machine", cpus_checked_against_machine },
    { "sysconf_cpus_formatted", cpus_formatted },
    { "sysconf_missing_module", missing_module },
    { "sysconf_bad_guest_keeps_good_one", bad_guest_keeps_good_one },
    { "sysconf_error_overflow", error_overflow },
    { "sysconf_long_message_cut", long_message_cut },
    { "sysconf_example_files", example_files },
)
