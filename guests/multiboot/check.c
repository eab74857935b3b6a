/*
 * The multiboot test kernels' checks: everything a v1 or v2 boot loader promises,
 * compared with what the command line says the guest was given:
 *
 *     mbtest ram=64M mods=2 acpi=1
 *
 * ram: the guest's configured memory; mods: how many modules (module K's string ends
 * in "tag=K" and its contents start with "PITH MODULE K"); acpi=1: an RSDP must come
 * (v2).  Each failed check prints its reason on COM1 and ends the guest through the
 * isa-debug-exit port 0xf4 with its number; success writes PASS (status 0x21).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PASS            0x10
#define DEBUG_EXIT      0xf4
#define COM1            0x3f8

extern char _start[], end[];

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static void putc_serial(char c)
{
    for (unsigned i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
        ;
    outb(COM1, (uint8_t)c);
}

static void puts_serial(const char *s)
{
    while (*s)
        putc_serial(*s++);
}

static void put_hex(uint64_t v)
{
    char b[19] = "0x";
    int n = 2;
    bool started = false;
    for (int shift = 60; shift >= 0; shift -= 4) {
        unsigned d = (v >> shift) & 0xf;
        if (d || started || shift == 0) {
            b[n++] = "0123456789abcdef"[d];
            started = true;
        }
    }
    b[n] = 0;
    puts_serial(b);
}

static const char *name = "mb";
static unsigned checks;

static void finish(unsigned code)
{
    outb(DEBUG_EXIT, (uint8_t)code);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* A check: its number is how many came before it, plus one. */
static void check(bool ok, const char *what, uint64_t got)
{
    checks++;
    if (ok)
        return;
    puts_serial(name);
    puts_serial(": FAIL check ");
    put_hex(checks);
    puts_serial(": ");
    puts_serial(what);
    puts_serial(" (got ");
    put_hex(got);
    puts_serial(")\n");
    finish(checks < PASS ? checks : checks + 1);
}

static size_t length(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static bool starts(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return false;
    return true;
}

/* The value of "key=" in the command line, or NULL. */
static const char *arg(const char *cmdline, const char *key)
{
    size_t n = length(key);
    for (const char *p = cmdline; *p; p++)
        if ((p == cmdline || p[-1] == ' ') && starts(p, key) && p[n] == '=')
            return p + n + 1;
    return NULL;
}

static uint64_t number(const char *s)
{
    uint64_t v = 0;
    if (!s)
        return 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint64_t)(*s++ - '0');
    if (*s == 'K') v <<= 10;
    if (*s == 'M') v <<= 20;
    if (*s == 'G') v <<= 30;
    return v;
}

/* ---- What both versions share ------------------------------------------------- */

struct expect {
    uint64_t ram;
    unsigned mods;
    bool acpi;
};

static struct expect expectations(const char *cmdline)
{
    check(cmdline != NULL, "a command line", 0);
    check(starts(cmdline, "mbtest") || arg(cmdline, "ram") != NULL, "the command line is the configured one", 0);
    struct expect e = { number(arg(cmdline, "ram")), (unsigned)number(arg(cmdline, "mods")),
                        number(arg(cmdline, "acpi")) == 1 };
    check(e.ram >= (2u << 20), "ram= in the command line", e.ram);
    return e;
}

struct range { uint64_t base, length; uint32_t type; };
#define MAX_MAP 32
static struct range map[MAX_MAP];
static unsigned map_count;

static bool in_ram(uint64_t base, uint64_t size)
{
    for (unsigned i = 0; i < map_count; i++)
        if (map[i].type == 1 && base >= map[i].base && base + size <= map[i].base + map[i].length)
            return true;
    return false;
}

/* The map against the configured RAM, and mem_lower/mem_upper against the map. */
static void check_memory(const struct expect *e, uint32_t mem_lower, uint32_t mem_upper)
{
    check(map_count > 0, "a memory map", map_count);
    uint64_t total = 0, top = 0, low_end = 0, high_end = 0x100000;
    for (unsigned i = 0; i < map_count; i++) {
        check(map[i].length > 0, "no empty map entries", i);
        for (unsigned j = 0; j < i; j++)
            check(map[i].base >= map[j].base + map[j].length || map[j].base >= map[i].base + map[i].length,
                  "map entries do not overlap", map[i].base);
        if (map[i].type != 1)
            continue;
        total += map[i].length;
        if (map[i].base < 0x100000000ull && map[i].base + map[i].length > top)
            top = map[i].base + map[i].length;
    }
    for (bool grew = true; grew; ) {
        grew = false;
        for (unsigned i = 0; i < map_count; i++) {
            uint64_t b = map[i].base, t = b + map[i].length;
            if (map[i].type != 1)
                continue;
            if (b <= low_end && t > low_end) { low_end = t; grew = true; }
            if (b <= high_end && t > high_end) { high_end = t; grew = true; }
        }
    }
    if (low_end > 0xa0000)
        low_end = 0xa0000;
    check(total <= e->ram && total + (2u << 20) >= e->ram, "RAM in the map matches the configured memory", total);
    check(top <= e->ram && top + (1u << 20) >= e->ram, "the top of RAM is the configured memory", top);
    check(in_ram(0, 0x1000), "the first page is RAM", 0);
    check(in_ram(0x100000, 0x100000), "RAM at 1 MiB", 0);
    check(mem_lower == low_end / 1024, "mem_lower agrees with the map", mem_lower);
    check(mem_lower >= 512 && mem_lower <= 640, "mem_lower is conventional memory", mem_lower);
    check(mem_upper == (high_end - 0x100000) / 1024, "mem_upper agrees with the map", mem_upper);
}

struct module { uint32_t start, end; const char *string; };
#define MAX_MODS 8
static struct module mods[MAX_MODS];
static unsigned mod_count;

static void check_modules(const struct expect *e)
{
    check(mod_count == e->mods, "the number of modules", mod_count);
    for (unsigned i = 0; i < mod_count && i < MAX_MODS; i++) {
        const struct module *m = &mods[i];
        check(m->end > m->start, "a module has contents", m->start);
        check((m->start & 0xfff) == 0, "modules are page-aligned", m->start);
        check(in_ram(m->start, m->end - m->start), "a module lies in RAM", m->start);
        check(m->end <= (uint32_t)(uintptr_t)_start || m->start >= (uint32_t)(uintptr_t)end,
              "a module stays clear of the kernel", m->start);
        for (unsigned j = 0; j < i; j++)
            check(m->end <= mods[j].start || m->start >= mods[j].end, "modules do not overlap", m->start);
        check(m->string != NULL, "a module has a string", i);
        const char *tag = arg(m->string, "tag");
        unsigned k = tag ? (unsigned)number(tag) : i + 1;
        const char *text = (const char *)(uintptr_t)m->start;
        check(starts(text, "PITH MODULE "), "module contents", (uint8_t)text[0]);
        check((unsigned)(text[12] - '0') == k, "the module's string matches its contents", (uint8_t)text[12]);
        check(text[13] == '\n', "module contents", (uint8_t)text[13]);
    }
}

static void check_loader_name(const char *s)
{
    check(s != NULL && s[0] != 0, "a boot loader name", 0);
    for (size_t i = 0; s && s[i]; i++)
        check(s[i] >= 0x20 && s[i] < 0x7f, "the boot loader name is text", (uint8_t)s[i]);
}

/* The machine state both specifications require (i386, §3.2 of each). */
static void check_machine(uint32_t eflags)
{
    uint32_t cr0, cs, ds, ss;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    __asm__ volatile("mov %%ds, %0" : "=r"(ds));
    __asm__ volatile("mov %%ss, %0" : "=r"(ss));
    check(cr0 & 1, "protected mode (CR0.PE)", cr0);
    check(!(cr0 & 0x80000000u), "paging off (CR0.PG)", cr0);
    check(!(eflags & 0x200), "interrupts off (EFLAGS.IF)", eflags);
    check(!(eflags & 0x20000), "not virtual-8086 (EFLAGS.VM)", eflags);
    /* GDTR may be invalid (the kernel loads its own), so LSL cannot see the
     * segments; what must hold is that every data segment reaches the same memory
     * high up as DS does, which a base or a limit other than flat would break. */
    volatile uint32_t *probe = (volatile uint32_t *)0x1ff0;
    uint32_t saved = *probe, via_es, via_ss;
    *probe = 0x5a5aa5a5;
    __asm__ volatile("movl %%es:(%1), %0" : "=r"(via_es) : "r"(probe));
    __asm__ volatile("movl %%ss:(%1), %0" : "=r"(via_ss) : "r"(probe));
    *probe = saved;
    check(via_es == 0x5a5aa5a5, "ES reaches what DS does", via_es);
    check(via_ss == 0x5a5aa5a5, "SS reaches what DS does", via_ss);
    check((cs & 3) == 0 && (ds & 3) == 0 && (ss & 3) == 0, "ring 0 selectors", cs);
    /* A20: 0x107000 must not be an alias of 0x7000 */
    volatile uint32_t *low = (volatile uint32_t *)0x7000, *high = (volatile uint32_t *)0x107000;
    uint32_t saved_low = *low, saved_high = *high;
    *low = 0x12345678;
    *high = 0x9abcdef0;
    bool a20 = *low == 0x12345678;
    *high = saved_high;
    *low = saved_low;
    check(a20, "the A20 gate is on", 0);
}

static void passed(void)
{
    puts_serial(name);
    puts_serial(": all ");
    put_hex(checks);
    puts_serial(" checks passed\n");
    finish(PASS);
}

/* ---- Version 1 ----------------------------------------------------------------- */

struct mb1_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
    uint32_t drives_length, drives_addr, config_table, boot_loader_name;
};

void check_v1(uint32_t magic, const struct mb1_info *info, uint32_t eflags);
void check_v1(uint32_t magic, const struct mb1_info *info, uint32_t eflags)
{
    name = "mb1";
    puts_serial("mb1: multiboot v1 test kernel\n");
    check(magic == 0x2badb002, "EAX holds the multiboot magic", magic);
    check(info != NULL, "EBX points to the information", (uintptr_t)info);
    check_machine(eflags);
    uint32_t flags = info->flags;
    check(flags & (1u << 0), "mem_lower/mem_upper present", flags);
    check(flags & (1u << 2), "a command line", flags);
    check(flags & (1u << 6), "a memory map", flags);
    check(flags & (1u << 9), "a boot loader name", flags);
    const char *cmdline = (const char *)(uintptr_t)info->cmdline;
    puts_serial("mb1: cmdline: ");
    puts_serial(cmdline);
    puts_serial("\n");
    struct expect e = expectations(cmdline);

    map_count = 0;
    for (uint32_t at = info->mmap_addr; at < info->mmap_addr + info->mmap_length; ) {
        const uint8_t *p = (const uint8_t *)(uintptr_t)at;
        uint32_t size = *(const uint32_t *)p;
        check(size >= 20, "map entry size", size);
        check(map_count < MAX_MAP, "a map of a sensible length", map_count);
        map[map_count++] = (struct range){ *(const uint64_t *)(p + 4), *(const uint64_t *)(p + 12),
                                           *(const uint32_t *)(p + 20) };
        at += size + 4;
    }
    check_memory(&e, info->mem_lower, info->mem_upper);

    mod_count = 0;
    if (flags & (1u << 3)) {
        const uint32_t *m = (const uint32_t *)(uintptr_t)info->mods_addr;
        for (uint32_t i = 0; i < info->mods_count && i < MAX_MODS; i++, m += 4)
            mods[mod_count++] = (struct module){ m[0], m[1], (const char *)(uintptr_t)m[2] };
        check(info->mods_count <= MAX_MODS, "a sensible module count", info->mods_count);
    }
    check_modules(&e);
    check_loader_name((const char *)(uintptr_t)info->boot_loader_name);
    passed();
}

/* ---- Version 2 ----------------------------------------------------------------- */

static bool rsdp_ok(const uint8_t *p, uint32_t size)
{
    if (size < 20 || !starts((const char *)p, "RSD PTR "))
        return false;
    uint8_t sum = 0;
    for (unsigned i = 0; i < 20; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum == 0;
}

void check_v2(uint32_t magic, const uint8_t *info, uint32_t eflags);
void check_v2(uint32_t magic, const uint8_t *info, uint32_t eflags)
{
    name = "mb2";
    puts_serial("mb2: multiboot2 test kernel\n");
    check(magic == 0x36d76289, "EAX holds the multiboot2 magic", magic);
    check(((uintptr_t)info & 7) == 0, "the information is 8-byte aligned", (uintptr_t)info);
    check_machine(eflags);
    uint32_t total = *(const uint32_t *)info;
    check(total >= 16 && total < (1u << 20), "a sensible total size", total);

    const char *cmdline = NULL, *loader = NULL;
    bool meminfo = false, have_map = false, acpi = false, ended = false;
    uint32_t mem_lower = 0, mem_upper = 0;
    map_count = mod_count = 0;
    for (uint32_t off = 8; off + 8 <= total; ) {
        const uint8_t *t = info + off;
        uint32_t type = *(const uint32_t *)t, size = *(const uint32_t *)(t + 4);
        check(size >= 8 && off + size <= total, "a tag inside the information", size);
        if (type == 0) {
            check(size == 8, "the end tag's size", size);
            check(off + 8 == total, "the end tag ends the information", off);
            ended = true;
            break;
        }
        switch (type) {
        case 1:
            cmdline = (const char *)(t + 8);
            break;
        case 2:
            loader = (const char *)(t + 8);
            break;
        case 3:
            check(mod_count < MAX_MODS, "a sensible module count", mod_count);
            mods[mod_count++] = (struct module){ *(const uint32_t *)(t + 8), *(const uint32_t *)(t + 12),
                                                 (const char *)(t + 16) };
            break;
        case 4:
            meminfo = true;
            mem_lower = *(const uint32_t *)(t + 8);
            mem_upper = *(const uint32_t *)(t + 12);
            break;
        case 6: {
            uint32_t entry_size = *(const uint32_t *)(t + 8);
            check(entry_size >= 24 && entry_size % 8 == 0, "the map's entry size", entry_size);
            check(*(const uint32_t *)(t + 12) == 0, "the map's entry version", *(const uint32_t *)(t + 12));
            for (uint32_t at = 16; at + entry_size <= size; at += entry_size) {
                check(map_count < MAX_MAP, "a map of a sensible length", map_count);
                map[map_count++] = (struct range){ *(const uint64_t *)(t + at), *(const uint64_t *)(t + at + 8),
                                                   *(const uint32_t *)(t + at + 16) };
            }
            have_map = true;
            break;
        }
        case 14:
        case 15:
            check(rsdp_ok(t + 8, size - 8), "the RSDP copy has its signature and checksum", type);
            acpi = true;
            break;
        }
        off += (size + 7) & ~7u;
    }
    check(ended, "an end tag", 0);
    check(cmdline != NULL, "a command line tag", 0);
    puts_serial("mb2: cmdline: ");
    puts_serial(cmdline);
    puts_serial("\n");
    struct expect e = expectations(cmdline);
    check(meminfo, "a basic memory information tag", 0);
    check(have_map, "a memory map tag", 0);
    check_memory(&e, mem_lower, mem_upper);
    check_modules(&e);
    check_loader_name(loader);
    if (e.acpi)
        check(acpi, "an ACPI RSDP tag", 0);
    passed();
}
