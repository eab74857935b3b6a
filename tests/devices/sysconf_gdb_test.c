/* The configuration's `gdb yes|no` key (docs/gdb.md): on one guest at most. */
#include "harness.h"
#include <pith/sysconf.h>

static struct sysconf config;
static struct sysconf_error errors[8];

static unsigned parse(const char *text)
{
    return sysconf_parse(text, strlen(text), 1ull << 30, &config, errors, 8);
}

static void gdb_values(void)
{
    CHECK_EQ(parse("guest a\n kernel k\n gdb yes\nguest b\n kernel k\n gdb no\nguest c\n kernel k\n"), 0);
    CHECK(config.guests[0].gdb);
    CHECK(!config.guests[1].gdb);
    CHECK(!config.guests[2].gdb);               /* the default */
}

static void gdb_on_one_guest_only(void)
{
    CHECK_EQ(parse("guest a\n kernel k\n gdb yes\nguest b\n kernel k\n gdb yes\n"), 1);
    CHECK_EQ(errors[0].line, 6);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_BAD_VALUE);
    CHECK(strstr(errors[0].message, "gdb yes on one guest only: guest 'a' has it") != NULL);
    CHECK(config.guests[0].gdb);
    CHECK(!config.guests[1].gdb);
    CHECK_EQ(parse("guest a\n kernel k\n gdb maybe\n"), 1);
    CHECK(strstr(errors[0].message, "gdb is yes or no, not 'maybe'") != NULL);
    CHECK_EQ(parse("guest a\n kernel k\n gdb yes\n gdb yes\n"), 1);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_DUPLICATE_KEY);
}

DEVICE_TESTS(sysconf_gdb,
             { "sysconf_gdb_values", gdb_values },
             { "sysconf_gdb_on_one_guest_only", gdb_on_one_guest_only })
