/* The configuration's `net SEGMENT [MAC]` key: values, defaults, and each error
 * reported by line while the other guests stay valid. */
#include "harness.h"
#include <pith/sysconf.h>

static struct sysconf config;
static struct sysconf_error errors[8];

static unsigned parse(const char *text)
{
    return sysconf_parse(text, strlen(text), 1ull << 30, &config, errors, 8);
}

static void test_net_values(void)
{
    CHECK_EQ(parse("guest a\n kernel k\n net 1 52:54:00:AB:cd:01\n"
                   "guest b\n kernel k\n net 4094\n"
                   "guest c\n kernel k\n"), 0);
    const struct sysconf_guest *a = &config.guests[0], *b = &config.guests[1], *c = &config.guests[2];
    CHECK(a->valid && b->valid && c->valid);
    CHECK_EQ(a->net_segment, 1);
    CHECK_EQ(a->net_line, 3);
    static const uint8_t mac_a[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0x01 };
    CHECK(memcmp(a->mac, mac_a, 6) == 0);
    CHECK_EQ(b->net_segment, 4094);
    static const uint8_t mac_b[6] = { 0x52, 0x54, 0x00, 0x50, 4094 & 0xff, 2 };
    CHECK(memcmp(b->mac, mac_b, 6) == 0);         /* segment and guest number */
    CHECK_EQ(c->net_segment, 0);                  /* no NIC */
}

static void expect_bad(const char *text, unsigned line, enum sysconf_error_kind kind, const char *words)
{
    CHECK_EQ(parse(text), 1);
    CHECK_EQ(errors[0].line, line);
    CHECK_EQ(errors[0].kind, kind);
    CHECK(strstr(errors[0].message, words) != NULL);
    CHECK(!config.guests[0].valid);
    CHECK(config.guests[1].valid);                /* the next guest is untouched */
}

static void test_net_errors(void)
{
    const char *other = "guest ok\n kernel k\n net 1\n";
    char text[256];
    static const struct { const char *line; enum sysconf_error_kind kind; const char *words; } bad[] = {
        { "net 0", SYSCONF_ERR_BAD_NET, "segment '0'" },
        { "net 4095", SYSCONF_ERR_BAD_NET, "not between 1 and 4094" },
        { "net x", SYSCONF_ERR_BAD_NET, "segment 'x'" },
        { "net 2 01:00:5e:00:00:01", SYSCONF_ERR_BAD_NET, "bad MAC address" },   /* multicast */
        { "net 2 00:00:00:00:00:00", SYSCONF_ERR_BAD_NET, "bad MAC address" },
        { "net 2 52:54:00:00:00", SYSCONF_ERR_BAD_NET, "bad MAC address" },
        { "net 2 52-54-00-00-00-01", SYSCONF_ERR_BAD_NET, "bad MAC address" },
        { "net 2 52:54:00:00:00:0g", SYSCONF_ERR_BAD_NET, "bad MAC address" },
        { "net 2 52:54:00:00:00:01 x", SYSCONF_ERR_EXTRA_VALUE, "'x'" },
        { "net", SYSCONF_ERR_MISSING_VALUE, "needs a value" },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]) && !device_failed; i++) {
        snprintf(text, sizeof(text), "guest bad\n kernel k\n  %s\n%s", bad[i].line, other);
        expect_bad(text, 3, bad[i].kind, bad[i].words);
        if (device_failed)
            snprintf(device_why + strlen(device_why), sizeof(device_why) - strlen(device_why),
                     " (case '%s': '%s')", bad[i].line, errors[0].message);
    }
    expect_bad("guest bad\n kernel k\n net 1\n net 2\nguest ok\n kernel k\n", 4,
               SYSCONF_ERR_DUPLICATE_KEY, "given twice");
}

/* One MAC twice on a segment: the later guest is refused at its net line; on
 * different segments it is allowed. */
static void test_net_duplicate_mac(void)
{
    CHECK_EQ(parse("guest a\n kernel k\n net 3 52:54:00:00:00:01\n"
                   "guest b\n kernel k\n net 3 52:54:00:00:00:01\n"
                   "guest c\n kernel k\n net 4 52:54:00:00:00:01\n"), 1);
    CHECK_EQ(errors[0].line, 6);
    CHECK_EQ(errors[0].kind, SYSCONF_ERR_BAD_NET);
    CHECK(strstr(errors[0].message, "'b' has the MAC address of guest 'a'") != NULL);
    CHECK(config.guests[0].valid && !config.guests[1].valid && config.guests[2].valid);
}

/* `uplink SEGMENT`: a system-level key wherever it stands; its errors leave every guest
 * valid and the system without an uplink. */
static void test_uplink(void)
{
    CHECK_EQ(parse("uplink 3\nguest a\n kernel k\n net 3\n"), 0);
    CHECK_EQ(config.uplink_segment, 3);
    CHECK_EQ(config.uplink_line, 1);
    CHECK_EQ(parse("guest a\n kernel k\n net 5\nuplink 5\n"), 0);   /* after a guest too */
    CHECK_EQ(config.uplink_segment, 5);
    CHECK(config.guests[0].valid);
    CHECK_EQ(parse("guest a\n kernel k\n net 1\n"), 0);
    CHECK_EQ(config.uplink_segment, 0);                            /* none */
    static const struct { const char *text; unsigned line; const char *words; } bad[] = {
        { "uplink 0\nguest a\n kernel k\n net 1\n", 1, "uplink segment '0' is not between 1 and 4094" },
        { "uplink 4095\nguest a\n kernel k\n net 1\n", 1, "not between 1 and 4094" },
        { "uplink x\nguest a\n kernel k\n net 1\n", 1, "uplink segment 'x'" },
        { "uplink 1 2\nguest a\n kernel k\n net 1\n", 1, "uplink segment '1 2'" },
        { "uplink\nguest a\n kernel k\n net 1\n", 1, "uplink segment ''" },
        { "uplink 1\nguest a\n kernel k\n net 1\nuplink 1\n", 5, "uplink given twice (first on line 1)" },
        { "uplink 2\nguest a\n kernel k\n net 1\n", 1, "uplink segment 2 has no guest on it" },
        /* a guest on the segment that is invalid for its own reasons does not count */
        { "uplink 2\nguest a\n kernel k\n net 2\n vcpus 0\nguest b\n kernel k\n net 1\n", 1, "has no guest on it" },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]) && !device_failed; i++) {
        unsigned count = parse(bad[i].text), e = count - 1;
        CHECK(count >= 1);
        if (device_failed)
            break;
        if (count == 2)             /* the vcpus error comes first */
            CHECK_EQ(errors[0].kind, SYSCONF_ERR_VCPUS_RANGE);
        CHECK_EQ(errors[e].line, bad[i].line);
        CHECK_EQ(errors[e].kind, SYSCONF_ERR_BAD_UPLINK);
        CHECK(strstr(errors[e].message, bad[i].words) != NULL);
        CHECK_EQ(config.uplink_segment, 0);
        CHECK(config.guests[config.guest_count - 1].valid);       /* the guests are untouched */
        if (device_failed)
            snprintf(device_why + strlen(device_why), sizeof(device_why) - strlen(device_why),
                     " (case %u: '%s')", i, errors[e].message);
    }
}

DEVICE_TESTS(sysconf_net,
    { "sysconf_net_values", test_net_values },
    { "sysconf_net_errors", test_net_errors },
    { "sysconf_net_duplicate_mac", test_net_duplicate_mac },
    { "sysconf_uplink", test_uplink },
)
