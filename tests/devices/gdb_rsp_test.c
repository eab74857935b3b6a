/* The GDB stub's packet layer and command parser (vmm/gdb/gdb_rsp.h, gdb_commands.h),
 * against a fake guest: framing, checksums, escapes, and malformed or hostile packets,
 * which must get an error reply and never reach memory out of bounds. */
#include <stdlib.h>

#include "harness.h"
#include "gdb/gdb_commands.h"
#include "gdb/gdb_rsp.h"

/* ---- Framing ------------------------------------------------------------------------ */

static enum gdb_rsp_event feed_all(struct gdb_rsp *r, const char *bytes, size_t n)
{
    enum gdb_rsp_event last = GDB_RSP_NONE;
    for (size_t i = 0; i < n; i++) {
        enum gdb_rsp_event e = gdb_rsp_feed(r, (uint8_t)bytes[i]);
        if (e != GDB_RSP_NONE)
            last = e;
    }
    return last;
}

static void frames_and_checksums(void)
{
    static struct gdb_rsp r;
    gdb_rsp_init(&r);
    CHECK_EQ(feed_all(&r, "$g#67", 5), GDB_RSP_PACKET);
    CHECK_EQ(r.length, 1);
    CHECK(strcmp(r.data, "g") == 0);
    CHECK_EQ(feed_all(&r, "$g#68", 5), GDB_RSP_BAD_PACKET);    /* wrong sum */
    CHECK_EQ(feed_all(&r, "$g#6z", 5), GDB_RSP_BAD_PACKET);    /* not hex */
    CHECK_EQ(feed_all(&r, "$#00", 4), GDB_RSP_PACKET);         /* empty packet */
    CHECK_EQ(r.length, 0);
    CHECK_EQ(gdb_rsp_feed(&r, '+'), GDB_RSP_ACK);
    CHECK_EQ(gdb_rsp_feed(&r, '-'), GDB_RSP_NACK);
    CHECK_EQ(gdb_rsp_feed(&r, 0x03), GDB_RSP_INTERRUPT_EVENT);
    CHECK_EQ(feed_all(&r, "noise#$?#3f", 11), GDB_RSP_PACKET);  /* noise before '$' skipped */
    CHECK(strcmp(r.data, "?") == 0);
    CHECK_EQ(feed_all(&r, "$qC$g#67", 8), GDB_RSP_PACKET);     /* a restart drops the old one */
    CHECK(strcmp(r.data, "g") == 0);
    CHECK_EQ(feed_all(&r, "$?#3F", 5), GDB_RSP_PACKET);        /* upper-case sum digits */
}

static void escapes_both_ways(void)
{
    static struct gdb_rsp r;
    char out[64];
    const char data[] = { 'X', '$', '#', '}', '*', 0, 'a' };
    size_t n = gdb_rsp_encode(data, sizeof(data), out, sizeof(out));
    CHECK(n > 0);
    CHECK(memchr(out + 1, '$', n - 1) == NULL);
    CHECK(memchr(out + 1, '*', n - 4) == NULL);
    gdb_rsp_init(&r);
    CHECK_EQ(feed_all(&r, out, n), GDB_RSP_PACKET);
    CHECK_EQ(r.length, sizeof(data));
    CHECK(memcmp(r.data, data, sizeof(data)) == 0);
    CHECK_EQ(gdb_rsp_encode("OK", 2, out, sizeof(out)), 6);
    CHECK(memcmp(out, "$OK#9a", 6) == 0);
    CHECK_EQ(gdb_rsp_encode("OK", 2, out, 5), 0);              /* does not fit */
    CHECK_EQ(gdb_rsp_encode("}}}}", 4, out, 10), 0);
}

static void too_long_is_refused(void)
{
    static struct gdb_rsp r;
    gdb_rsp_init(&r);
    CHECK_EQ(gdb_rsp_feed(&r, '$'), GDB_RSP_NONE);
    uint8_t sum = 0;
    for (unsigned i = 0; i < GDB_RSP_MAX + 100; i++) {
        gdb_rsp_feed(&r, 'a');
        sum = (uint8_t)(sum + 'a');
    }
    char tail[4] = { '#', gdb_hex_chars[sum >> 4], gdb_hex_chars[sum & 15], 0 };
    CHECK_EQ(feed_all(&r, tail, 3), GDB_RSP_BAD_PACKET);
    CHECK(r.length <= GDB_RSP_MAX);
    CHECK_EQ(feed_all(&r, "$g#67", 5), GDB_RSP_PACKET);        /* and the next one is fine */
}

/* ---- Commands against a fake guest ---------------------------------------------------- */

#define FAKE_BASE   0x1000
#define FAKE_SIZE   0x3000

static struct fake {
    uint64_t regs[GDB_REGS_MAX];
    uint8_t memory[FAKE_SIZE];
    uint64_t breakpoints[4];
    unsigned breakpoint_count;
    unsigned hardware_type;         /* the last Z1..Z4 the target saw */
    uint64_t hardware_address, hardware_length;
    unsigned hardware_count;
    unsigned out_of_bounds;
} fake;

static void fake_read_registers(void *ctx, uint64_t regs[GDB_REGS_MAX])
{
    (void)ctx;
    memcpy(regs, fake.regs, sizeof(fake.regs));
}

static bool fake_write_register(void *ctx, unsigned index, uint64_t value)
{
    (void)ctx;
    if (index >= GDB_REGS_MAX) {
        fake.out_of_bounds++;
        return false;
    }
    fake.regs[index] = value;
    return true;
}

static size_t fake_copy(uint64_t address, uint8_t *buf, size_t length, bool write)
{
    if (length > GDB_MEMORY_MAX)
        fake.out_of_bounds++;
    size_t done = 0;
    for (; done < length; done++) {
        uint64_t a = address + done;
        if (a < FAKE_BASE || a >= FAKE_BASE + FAKE_SIZE)
            break;
        if (write)
            fake.memory[a - FAKE_BASE] = buf[done];
        else
            buf[done] = fake.memory[a - FAKE_BASE];
    }
    return done;
}

static size_t fake_read_memory(void *ctx, uint64_t address, uint8_t *buf, size_t length)
{
    (void)ctx;
    return fake_copy(address, buf, length, false);
}

static size_t fake_write_memory(void *ctx, uint64_t address, const uint8_t *buf, size_t length)
{
    (void)ctx;
    return fake_copy(address, (uint8_t *)buf, length, true);
}

static bool fake_insert(void *ctx, uint64_t address)
{
    (void)ctx;
    if (fake.breakpoint_count == 4 || address < FAKE_BASE || address >= FAKE_BASE + FAKE_SIZE)
        return false;
    fake.breakpoints[fake.breakpoint_count++] = address;
    return true;
}

static bool fake_remove(void *ctx, uint64_t address)
{
    (void)ctx;
    for (unsigned i = 0; i < fake.breakpoint_count; i++)
        if (fake.breakpoints[i] == address)
            fake.breakpoints[i] = fake.breakpoints[--fake.breakpoint_count];
    return true;
}

/* Hardware slots: two of them, lengths 1, 2, 4 or 8. */
static bool fake_insert_hardware(void *ctx, unsigned type, uint64_t address, uint64_t length)
{
    (void)ctx;
    if (fake.hardware_count == 2 || (length != 1 && length != 2 && length != 4 && length != 8))
        return false;
    fake.hardware_count++;
    fake.hardware_type = type, fake.hardware_address = address, fake.hardware_length = length;
    return true;
}

static bool fake_remove_hardware(void *ctx, unsigned type, uint64_t address, uint64_t length)
{
    (void)ctx;
    if (!fake.hardware_count)
        return false;
    fake.hardware_count--;
    fake.hardware_type = type, fake.hardware_address = address, fake.hardware_length = length;
    return true;
}

static struct gdb_target target(enum gdb_arch arch)
{
    return (struct gdb_target){ .ctx = &fake, .arch = arch, .stop_signal = GDB_SIGNAL_TRAP,
                                .stop_kind = GDB_STOP_SWBREAK, .read_registers = fake_read_registers,
                                .write_register = fake_write_register, .read_memory = fake_read_memory,
                                .write_memory = fake_write_memory, .insert_breakpoint = fake_insert,
                                .remove_breakpoint = fake_remove };
}

static char reply[GDB_RSP_MAX + 1];
static size_t reply_length;

static enum gdb_action run(const struct gdb_target *t, const char *packet)
{
    return gdb_command(t, packet, strlen(packet), reply, sizeof(reply), &reply_length);
}

static bool reply_is(const char *s)
{
    return reply_length == strlen(s) && strcmp(reply, s) == 0;
}

static void attach_queries(void)
{
    memset(&fake, 0, sizeof(fake));
    struct gdb_target t = target(GDB_ARCH_I386);
    run(&t, "qSupported:multiprocess+;swbreak+;hwbreak+");
    CHECK(strstr(reply, "PacketSize=") && strstr(reply, "swbreak+"));
    CHECK(!strstr(reply, "hwbreak+"));              /* no hardware: not offered */
    run(&t, "?");
    CHECK(reply_is("T05swbreak:;thread:1;"));
    run(&t, "qAttached");
    CHECK(reply_is("1"));
    run(&t, "qC");
    CHECK(reply_is("QC1"));
    run(&t, "Hg0");
    CHECK(reply_is("OK"));
    run(&t, "vCont?");
    CHECK(reply_is(""));
    run(&t, "qTStatus");
    CHECK(reply_is(""));
    CHECK_EQ(run(&t, "D"), GDB_ACTION_DETACH);
    CHECK(reply_is("OK"));
    CHECK_EQ(run(&t, "k"), GDB_ACTION_KILL);
    CHECK_EQ(run(&t, "c"), GDB_ACTION_CONTINUE);
    CHECK_EQ(run(&t, "s"), GDB_ACTION_STEP);
    CHECK_EQ(run(&t, "c200000"), GDB_ACTION_CONTINUE);
    CHECK_EQ(fake.regs[GDB_I386_PC], 0x200000);
    CHECK_EQ(run(&t, "cxyz"), GDB_ACTION_REPLY);
    CHECK(reply_is("E01"));
    char stop[64];
    CHECK(gdb_stop_reply(GDB_SIGNAL_INT, GDB_STOP_OTHER, 0, stop, sizeof(stop)) > 0);
    CHECK(strcmp(stop, "T02thread:1;") == 0);
    CHECK_EQ(gdb_stop_reply(GDB_SIGNAL_INT, GDB_STOP_OTHER, 0, stop, 4), 0);
    CHECK(gdb_stop_reply(GDB_SIGNAL_TRAP, GDB_STOP_HWBREAK, 0, stop, sizeof(stop)) > 0);
    CHECK(strcmp(stop, "T05hwbreak:;thread:1;") == 0);
    CHECK(gdb_stop_reply(GDB_SIGNAL_TRAP, GDB_STOP_WATCH, 0xffffffff81a0b2c0ull, stop, sizeof(stop)) > 0);
    CHECK(strcmp(stop, "T05watch:ffffffff81a0b2c0;thread:1;") == 0);
    CHECK(gdb_stop_reply(GDB_SIGNAL_TRAP, GDB_STOP_RWATCH, 0x10, stop, sizeof(stop)) > 0);
    CHECK(strcmp(stop, "T05rwatch:10;thread:1;") == 0);
    CHECK(gdb_stop_reply(GDB_SIGNAL_TRAP, GDB_STOP_AWATCH, 0, stop, sizeof(stop)) > 0);
    CHECK(strcmp(stop, "T05awatch:0;thread:1;") == 0);
}

static void registers_i386_and_amd64(void)
{
    memset(&fake, 0, sizeof(fake));
    struct gdb_target t = target(GDB_ARCH_I386);
    fake.regs[0] = 0x11223344;
    fake.regs[GDB_I386_PC] = 0x200020;
    run(&t, "g");
    CHECK_EQ(reply_length, 16 * 8);
    CHECK(strncmp(reply, "44332211", 8) == 0);
    CHECK(strncmp(reply + 8 * 8, "20002000", 8) == 0);
    run(&t, "p8");
    CHECK(reply_is("20002000"));
    run(&t, "P0=78563412");
    CHECK(reply_is("OK"));
    CHECK_EQ(fake.regs[0], 0x12345678);
    run(&t, "p10");                                 /* 16: beyond i386's 16 registers */
    CHECK(reply_is("E01"));
    run(&t, "P1=1234");                             /* too short */
    CHECK(reply_is("E01"));
    run(&t, "P1=123456789a");                       /* too long */
    CHECK(reply_is("E01"));
    run(&t, "Pffffffffffffffffff=00000000");        /* 18 digits */
    CHECK(reply_is("E01"));
    run(&t, "G0011");                               /* short G */
    CHECK(reply_is("E01"));
    t.arch = GDB_ARCH_AMD64;
    fake.regs[GDB_AMD64_PC] = 0xffffffff81000000ull;
    run(&t, "g");
    CHECK_EQ(reply_length, 17 * 16 + 7 * 8);
    CHECK(strncmp(reply + 16 * 16, "00000081ffffffff", 16) == 0);
    char g[17 * 16 + 7 * 8 + 2] = "G";
    memcpy(g + 1, reply, reply_length + 1);
    g[1] = '9';                                     /* rax's low byte 0x90 */
    g[2] = '0';
    run(&t, g);
    CHECK(reply_is("OK"));
    CHECK_EQ(fake.regs[0] & 0xff, 0x90);
    CHECK_EQ(fake.out_of_bounds, 0);
}

static void memory_and_bounds(void)
{
    memset(&fake, 0, sizeof(fake));
    struct gdb_target t = target(GDB_ARCH_I386);
    fake.memory[0] = 0xab;
    fake.memory[1] = 0xcd;
    run(&t, "m1000,2");
    CHECK(reply_is("abcd"));
    run(&t, "m3fff,4");                             /* partial: stops at the end */
    CHECK(reply_is("00"));
    run(&t, "m0,4");
    CHECK(reply_is("E14"));
    run(&t, "m1000,0");
    CHECK(reply_is(""));
    run(&t, "m1000,ffffffff");                      /* far beyond GDB_MEMORY_MAX */
    CHECK(reply_is("E01"));
    run(&t, "m1000,7d1");                           /* GDB_MEMORY_MAX + 1 */
    CHECK(reply_is("E01"));
    run(&t, "m1000,7d0");
    CHECK_EQ(reply_length, 2 * GDB_MEMORY_MAX);
    run(&t, "mffffffffffffffff,10");                /* wraps around */
    CHECK(reply_is("E14"));
    run(&t, "m1000");
    CHECK(reply_is("E01"));
    run(&t, "m,2");
    CHECK(reply_is("E01"));
    run(&t, "M1002,2:beef");
    CHECK(reply_is("OK"));
    CHECK_EQ(fake.memory[2], 0xbe);
    CHECK_EQ(fake.memory[3], 0xef);
    run(&t, "M1002,2:be");                          /* data shorter than the length */
    CHECK(reply_is("E01"));
    run(&t, "M1002,1:beef");                        /* longer */
    CHECK(reply_is("E01"));
    run(&t, "M1002,1:zz");
    CHECK(reply_is("E01"));
    run(&t, "M3fff,2:1122");                        /* only one byte is there */
    CHECK(reply_is("E14"));
    const char x[] = { 'X', '1', '0', '0', '4', ',', '3', ':', '$', 0, '#' };
    CHECK_EQ(gdb_command(&t, x, sizeof(x), reply, sizeof(reply), &reply_length), GDB_ACTION_REPLY);
    CHECK(reply_is("OK"));
    CHECK_EQ(fake.memory[4], '$');
    CHECK_EQ(fake.memory[5], 0);
    CHECK_EQ(fake.memory[6], '#');
    run(&t, "X1004,0:");                            /* GDB's probe for X */
    CHECK(reply_is("OK"));
    run(&t, "X1004,4:ab");
    CHECK(reply_is("E01"));
    CHECK_EQ(fake.out_of_bounds, 0);
}

static void breakpoints(void)
{
    memset(&fake, 0, sizeof(fake));
    struct gdb_target t = target(GDB_ARCH_I386);
    run(&t, "Z0,1010,1");
    CHECK(reply_is("OK"));
    CHECK_EQ(fake.breakpoint_count, 1);
    run(&t, "z0,1010,1");
    CHECK(reply_is("OK"));
    CHECK_EQ(fake.breakpoint_count, 0);
    run(&t, "Z0,10,1");                             /* nothing there */
    CHECK(reply_is("E0e"));
    run(&t, "Z1,1010,1");                           /* hardware: not supported */
    CHECK(reply_is(""));
    run(&t, "Z2,1010,4");
    CHECK(reply_is(""));
    t.insert_hardware = fake_insert_hardware;      /* now with two hardware slots */
    t.remove_hardware = fake_remove_hardware;
    run(&t, "qSupported:swbreak+;hwbreak+");
    CHECK(strstr(reply, "hwbreak+") != NULL);
    run(&t, "Z1,ffffffff81000010,1");
    CHECK(reply_is("OK"));
    CHECK_EQ(fake.hardware_type, GDB_Z_HARDWARE);
    CHECK_EQ(fake.hardware_address, 0xffffffff81000010ull);
    run(&t, "Z2,2000,8");
    CHECK(reply_is("OK"));
    CHECK_EQ(fake.hardware_type, GDB_Z_WRITE);
    CHECK_EQ(fake.hardware_length, 8);
    run(&t, "Z4,2000,4");                           /* no slot left */
    CHECK(reply_is("E0e"));
    run(&t, "z2,2000,8");
    CHECK(reply_is("OK"));
    CHECK_EQ(fake.hardware_count, 1);
    run(&t, "Z3,2004,3");                           /* a length the target refuses */
    CHECK(reply_is("E0e"));
    run(&t, "Z5,2000,4");                           /* no such type */
    CHECK(reply_is(""));
    run(&t, "Z1,1000");
    CHECK(reply_is("E01"));
    t.stop_kind = GDB_STOP_WATCH;
    t.stop_address = 0x2000;
    run(&t, "?");
    CHECK(reply_is("T05watch:2000;thread:1;"));
    run(&t, "Z0,1010");
    CHECK(reply_is("E01"));
    run(&t, "Z");
    CHECK(reply_is("E01"));
}

/* Random packets, and random mutations of good ones: every reply is bounded and
 * NUL-terminated, and the fake guest is never asked for more than the limits. */
static void random_packets(void)
{
    static const char *const seeds[] = { "g", "G00", "p8", "P8=00000000", "m1000,10", "M1000,2:abcd",
                                         "X1000,1:a", "Z0,1000,1", "z0,1000,1", "c", "s1000", "qSupported",
                                         "?", "D", "Hc-1", "vCont;c" };
    char packet[256];
    memset(&fake, 0, sizeof(fake));
    srand(1);
    for (unsigned round = 0; round < 20000; round++) {
        struct gdb_target t = target(round & 1 ? GDB_ARCH_AMD64 : GDB_ARCH_I386);
        size_t n;
        if (round % 3 == 0) {
            n = (size_t)rand() % sizeof(packet);
            for (size_t i = 0; i < n; i++)
                packet[i] = (char)rand();
        } else {
            const char *s = seeds[(size_t)rand() % (sizeof(seeds) / sizeof(seeds[0]))];
            n = strlen(s);
            memcpy(packet, s, n);
            for (unsigned k = (unsigned)rand() % 4; k; k--) {
                size_t at = (size_t)rand() % (n + 1);
                if (at < n)
                    packet[at] = "0123456789abcdefGxyz,:;=-#$}"[rand() % 28];
                else if (n < sizeof(packet))
                    packet[n++] = "0123456789abcdef,:"[rand() % 18];
            }
        }
        enum gdb_action a = gdb_command(&t, packet, n, reply, sizeof(reply), &reply_length);
        CHECK(a <= GDB_ACTION_KILL);
        CHECK(reply_length < sizeof(reply));
        CHECK(reply[reply_length] == 0);
    }
    CHECK_EQ(fake.out_of_bounds, 0);
    char small[4];
    struct gdb_target t = target(GDB_ARCH_I386);
    gdb_command(&t, "g", 1, small, sizeof(small), &reply_length);   /* no room: an error fits */
    CHECK(reply_length < sizeof(small));
}

DEVICE_TESTS(gdb_rsp,
             { "gdb_rsp_frames_and_checksums", frames_and_checksums },
             { "gdb_rsp_escapes_both_ways", escapes_both_ways },
             { "gdb_rsp_too_long_is_refused", too_long_is_refused },
             { "gdb_commands_attach_queries", attach_queries },
             { "gdb_commands_registers", registers_i386_and_amd64 },
             { "gdb_commands_memory_and_bounds", memory_and_bounds },
             { "gdb_commands_breakpoints", breakpoints },
             { "gdb_commands_random_packets", random_packets })
