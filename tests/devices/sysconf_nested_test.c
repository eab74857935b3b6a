/* The configuration's `nested on|off` key. */
#include "harness.h"
#include <pith/sysconf.h>

static struct sysconf config;
static struct sysconf_error errors[8];

static unsigned parse(const char *text)
{
    return sysconf_parse(text, strlen(text), 1ull << 30, &config, errors, 8);
}

static void test_nested_values(void)
{
    CHECK_EQ(parse("guest a\n kernel k\n nested on\n"
                   "guest b\n kernel k\n nested off\n"
                   "guest c\n kernel k\n"), 0);
    CHECK(config.guests[0].valid && config.guests[0].nested);
    CHECK(config.guests[1].valid && !config.guests[1].nested);
    CHECK(config.guests[2].valid && !config.guests[2].nested);     /* off by default */
}

static void test_nested_errors(void)
{
    CHECK_EQ(parse("guest a\n kernel k\n nested yes\nguest b\n kernel k\n nested on\n"), 1);
    CHECK_EQ(errors[0].line, 3);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_BAD_VALUE);
    CHECK(strstr(errors[0].message, "nested is on or off, not 'yes'") != NULL);
    CHECK(!config.guests[0].valid);
    CHECK(config.guests[1].valid && config.guests[1].nested);
    CHECK_EQ(parse("guest a\n kernel k\n nested on\n nested off\n"), 1);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_DUPLICATE_KEY);
    CHECK_EQ(parse("nested on\nguest a\n kernel k\n"), 1);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_KEY_OUTSIDE_GUEST);
    CHECK_EQ(parse("guest a\n kernel k\n nested on off\n"), 1);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_EXTRA_VALUE);
}

DEVICE_TESTS(sysconf_nested,
    { "sysconf_nested_values", test_nested_values },
    { "sysconf_nested_errors", test_nested_errors },
)
