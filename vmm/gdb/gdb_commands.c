/* The GDB remote protocol's commands (gdb_commands.h). */
#include "gdb_commands.h"
#include "gdb_rsp.h"

/* The reply being built: bounded, always NUL-terminated. */
struct out {
    char *p;
    size_t n, size;
    bool overflow;
};

static void put(struct out *o, const char *s)
{
    for (; *s; s++) {
        if (o->n + 1 >= o->size) {
            o->overflow = true;
            return;
        }
        o->p[o->n++] = *s;
    }
    o->p[o->n] = 0;
}

static void put_hex_le(struct out *o, uint64_t value, unsigned bytes)
{
    char two[3] = { 0 };
    for (unsigned i = 0; i < bytes; i++, value >>= 8) {
        two[0] = gdb_hex_chars[(value >> 4) & 15];
        two[1] = gdb_hex_chars[value & 15];
        put(o, two);
    }
}

/* ---- Parsing: a cursor over the packet ------------------------------------------- */

struct in {
    const char *p, *end;
};

static bool at(const struct in *in, char c)
{
    return in->p < in->end && *in->p == c;
}

static bool take(struct in *in, char c)
{
    if (!at(in, c))
        return false;
    in->p++;
    return true;
}

/* A hex number of 1..16 digits. */
static bool hex_number(struct in *in, uint64_t *value)
{
    unsigned digits = 0;
    *value = 0;
    while (in->p < in->end && gdb_hex_digit(*in->p) >= 0) {
        if (++digits > 16)
            return false;
        *value = *value << 4 | (uint64_t)gdb_hex_digit(*in->p++);
    }
    return digits > 0;
}

/* `bytes` bytes as hex pairs, little-endian into *value (bytes <= 8). */
static bool hex_le(struct in *in, unsigned bytes, uint64_t *value)
{
    *value = 0;
    if ((size_t)(in->end - in->p) < 2u * bytes)
        return false;
    for (unsigned i = 0; i < bytes; i++) {
        int high = gdb_hex_digit(in->p[0]), low = gdb_hex_digit(in->p[1]);
        if (high < 0 || low < 0)
            return false;
        *value |= (uint64_t)(high << 4 | low) << (8 * i);
        in->p += 2;
    }
    return true;
}

static bool at_end(const struct in *in)
{
    return in->p == in->end;
}

/* ---- Registers --------------------------------------------------------------------- */

unsigned gdb_register_count(enum gdb_arch arch)
{
    return arch == GDB_ARCH_AMD64 ? 24 : 16;
}

unsigned gdb_register_size(enum gdb_arch arch, unsigned index)
{
    return arch == GDB_ARCH_AMD64 && index <= GDB_AMD64_PC ? 8 : 4;
}

static void read_all(const struct gdb_target *t, struct out *o)
{
    uint64_t regs[GDB_REGS_MAX] = { 0 };
    t->read_registers(t->ctx, regs);
    for (unsigned i = 0; i < gdb_register_count(t->arch); i++)
        put_hex_le(o, regs[i], gdb_register_size(t->arch, i));
}

static void write_all(const struct gdb_target *t, struct in *in, struct out *o)
{
    uint64_t values[GDB_REGS_MAX];
    unsigned count = gdb_register_count(t->arch);
    for (unsigned i = 0; i < count; i++) {
        if (!hex_le(in, gdb_register_size(t->arch, i), &values[i])) {
            put(o, "E01");
            return;
        }
    }
    bool ok = true;
    for (unsigned i = 0; i < count; i++)
        ok &= t->write_register(t->ctx, i, values[i]);
    put(o, ok ? "OK" : "E02");
}

static void read_one(const struct gdb_target *t, struct in *in, struct out *o)
{
    uint64_t index, regs[GDB_REGS_MAX] = { 0 };
    if (!hex_number(in, &index) || !at_end(in) || index >= gdb_register_count(t->arch)) {
        put(o, "E01");
        return;
    }
    t->read_registers(t->ctx, regs);
    put_hex_le(o, regs[index], gdb_register_size(t->arch, (unsigned)index));
}

static void write_one(const struct gdb_target *t, struct in *in, struct out *o)
{
    uint64_t index, value;
    if (!hex_number(in, &index) || !take(in, '=') || index >= gdb_register_count(t->arch) ||
        !hex_le(in, gdb_register_size(t->arch, (unsigned)index), &value) || !at_end(in)) {
        put(o, "E01");
        return;
    }
    put(o, t->write_register(t->ctx, (unsigned)index, value) ? "OK" : "E02");
}

/* ---- Memory ------------------------------------------------------------------------ */

/* "ADDR,LENGTH" with LENGTH at most GDB_MEMORY_MAX. */
static bool address_length(struct in *in, uint64_t *address, uint64_t *length)
{
    return hex_number(in, address) && take(in, ',') && hex_number(in, length) &&
           *length <= GDB_MEMORY_MAX;
}

static void read_memory(const struct gdb_target *t, struct in *in, struct out *o)
{
    uint8_t buf[GDB_MEMORY_MAX];
    uint64_t address, length;
    if (!address_length(in, &address, &length) || !at_end(in)) {
        put(o, "E01");
        return;
    }
    size_t done = length ? t->read_memory(t->ctx, address, buf, length) : 0;
    if (length && !done) {
        put(o, "E14");          /* EFAULT: nothing there */
        return;
    }
    for (size_t i = 0; i < done; i++)
        put_hex_le(o, buf[i], 1);
}

static void write_memory(const struct gdb_target *t, struct in *in, struct out *o, bool binary)
{
    uint8_t buf[GDB_MEMORY_MAX];
    uint64_t address, length, byte;
    if (!address_length(in, &address, &length) || !take(in, ':')) {
        put(o, "E01");
        return;
    }
    if (binary) {
        if ((uint64_t)(in->end - in->p) != length) {
            put(o, "E01");
            return;
        }
        for (size_t i = 0; i < length; i++)
            buf[i] = (uint8_t)in->p[i];
    } else {
        for (size_t i = 0; i < length; i++) {
            if (!hex_le(in, 1, &byte)) {
                put(o, "E01");
                return;
            }
            buf[i] = (uint8_t)byte;
        }
        if (!at_end(in)) {
            put(o, "E01");
            return;
        }
    }
    size_t done = length ? t->write_memory(t->ctx, address, buf, length) : 0;
    put(o, done == length ? "OK" : "E14");
}

/* ---- Breakpoints -------------------------------------------------------------------- */

/* Z/z TYPE,ADDR,KIND: type 0 (software); 1..4 (hardware) where the target has them,
 * with KIND the length; anything else is not supported (empty). */
static void breakpoint(const struct gdb_target *t, struct in *in, struct out *o, bool insert)
{
    uint64_t type, address, kind;
    if (!hex_number(in, &type) || !take(in, ',') || !hex_number(in, &address) || !take(in, ',') ||
        !hex_number(in, &kind)) {
        put(o, "E01");
        return;
    }
    bool ok;
    if (type == GDB_Z_SOFTWARE)
        ok = insert ? t->insert_breakpoint(t->ctx, address) : t->remove_breakpoint(t->ctx, address);
    else if (type <= GDB_Z_ACCESS && t->insert_hardware && t->remove_hardware)
        ok = insert ? t->insert_hardware(t->ctx, (unsigned)type, address, kind)
                    : t->remove_hardware(t->ctx, (unsigned)type, address, kind);
    else
        return;                 /* empty: not supported */
    put(o, ok ? "OK" : "E0e");
}

/* ---- Queries ------------------------------------------------------------------------ */

static bool starts(const struct in *in, const char *word)
{
    const char *p = in->p;
    for (; *word; word++, p++)
        if (p >= in->end || *p != *word)
            return false;
    return true;
}

static bool is(const struct in *in, const char *word)
{
    size_t n = 0;
    while (word[n])
        n++;
    return starts(in, word) && (size_t)(in->end - in->p) == n;
}

static void query(const struct gdb_target *t, struct in *in, struct out *o)
{
    if (starts(in, "qSupported"))
        put(o, t->insert_hardware ? "PacketSize=ff0;swbreak+;hwbreak+" : "PacketSize=ff0;swbreak+");
    else if (starts(in, "qAttached"))
        put(o, "1");            /* an existing process: detach, not kill, when GDB quits */
    else if (is(in, "qC"))
        put(o, "QC1");
    else if (is(in, "qfThreadInfo"))
        put(o, "m1");
    else if (is(in, "qsThreadInfo"))
        put(o, "l");
    else if (starts(in, "qSymbol"))
        put(o, "OK");
    /* everything else: empty, "not supported" */
}

/* A number as GDB writes one: hex digits, most significant first, no leading zeros. */
static void put_hex_number(struct out *o, uint64_t value)
{
    char digits[17];
    unsigned n = 0;
    do {
        digits[15 - n++] = gdb_hex_chars[value & 15];
        value >>= 4;
    } while (value && n < 16);
    digits[16] = 0;
    put(o, &digits[16 - n]);
}

size_t gdb_stop_reply(int signal, enum gdb_stop_kind kind, uint64_t address, char *out, size_t size)
{
    static const char *const watch[] = { "watch:", "rwatch:", "awatch:" };
    struct out o = { out, 0, size, false };
    if (size)
        out[0] = 0;
    put(&o, "T");
    put_hex_le(&o, (uint64_t)(signal & 0xff), 1);
    if (kind == GDB_STOP_SWBREAK)
        put(&o, "swbreak:;");
    else if (kind == GDB_STOP_HWBREAK)
        put(&o, "hwbreak:;");
    else if (kind >= GDB_STOP_WATCH && kind <= GDB_STOP_AWATCH) {
        put(&o, watch[kind - GDB_STOP_WATCH]);
        put_hex_number(&o, address);
        put(&o, ";");
    }
    put(&o, "thread:1;");
    return o.overflow ? 0 : o.n;
}

/* `c [ADDR]` and `s [ADDR]`: resume at ADDR if given. */
static enum gdb_action resume(const struct gdb_target *t, struct in *in, struct out *o,
                              enum gdb_action action)
{
    uint64_t address;
    if (at_end(in))
        return action;
    unsigned pc = t->arch == GDB_ARCH_AMD64 ? GDB_AMD64_PC : GDB_I386_PC;
    if (!hex_number(in, &address) || !at_end(in) || !t->write_register(t->ctx, pc, address)) {
        put(o, "E01");
        return GDB_ACTION_REPLY;
    }
    return action;
}

enum gdb_action gdb_command(const struct gdb_target *t, const char *packet, size_t length,
                            char *reply, size_t reply_size, size_t *reply_length)
{
    struct in in = { packet, packet + length };
    struct out o = { reply, 0, reply_size, false };
    enum gdb_action action = GDB_ACTION_REPLY;
    if (reply_size)
        reply[0] = 0;
    char command = length ? packet[0] : 0;
    if (length)
        in.p++;
    switch (command) {
    case '?':
        o.n = gdb_stop_reply(t->stop_signal, t->stop_kind, t->stop_address, reply, reply_size);
        break;
    case 'g': read_all(t, &o); break;
    case 'G': write_all(t, &in, &o); break;
    case 'p': read_one(t, &in, &o); break;
    case 'P': write_one(t, &in, &o); break;
    case 'm': read_memory(t, &in, &o); break;
    case 'M': write_memory(t, &in, &o, false); break;
    case 'X': write_memory(t, &in, &o, true); break;
    case 'Z': breakpoint(t, &in, &o, true); break;
    case 'z': breakpoint(t, &in, &o, false); break;
    case 'c': action = resume(t, &in, &o, GDB_ACTION_CONTINUE); break;
    case 's': action = resume(t, &in, &o, GDB_ACTION_STEP); break;
    case 'D':
        put(&o, "OK");
        action = GDB_ACTION_DETACH;
        break;
    case 'k': action = GDB_ACTION_KILL; break;
    case 'H':
    case 'T':
        put(&o, "OK");          /* one thread: every thread id is it */
        break;
    case 'q':
        in.p--;
        query(t, &in, &o);
        break;
    default:
        break;                  /* vCont?, vMustReplyEmpty, unknown: empty */
    }
    if (o.overflow) {
        o.n = 0;
        put(&o, "E03");
    }
    *reply_length = o.n;
    return action;
}
