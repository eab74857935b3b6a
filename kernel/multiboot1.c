/*
 * Multiboot (version 1) boot information, as QEMU's -kernel loader and GRUB's
 * `multiboot` command give it (Multiboot spec 0.6.96 §3.3): a fixed block of fields
 * whose flags say which are valid, with physical pointers to a memory map of
 * size-prefixed entries, to an array of module descriptors and to strings.
 *
 * Everything is read through a window onto physical memory and checked against its
 * end before it is read, so a broken or hostile loader ends in an error the caller
 * names, never a read past the window.  Pure logic: the host tests feed it hand-made
 * blocks.  The result is the same struct boot_params as the multiboot2 parser's.
 */
#include "bootmem.h"

#define MB1_FLAG_MEMORY  (1u << 0)     /* mem_lower, mem_upper */
#define MB1_FLAG_CMDLINE (1u << 2)
#define MB1_FLAG_MODS    (1u << 3)
#define MB1_FLAG_MMAP    (1u << 6)

#define MB1_INFO_SIZE    52            /* through mmap_addr, the last field read */
#define MB1_MODULE_SIZE  16            /* mod_start, mod_end, string, reserved */
#define MB1_MMAP_MIN     20            /* an entry's size field: base, length, type */
#define MB1_STRING_MAX   4096          /* longer strings are taken as garbage */

struct window {
    const uint8_t *mem;
    uint64_t size;
};

static bool inside(const struct window *w, uint64_t phys, uint64_t len)
{
    return phys <= w->size && len <= w->size - phys;
}

static uint32_t read32(const struct window *w, uint64_t phys)
{
    uint32_t v;
    memcpy(&v, w->mem + phys, sizeof(v));
    return v;
}

static uint64_t read64(const struct window *w, uint64_t phys)
{
    uint64_t v;
    memcpy(&v, w->mem + phys, sizeof(v));
    return v;
}

/* The string at phys (NUL-terminated inside the window, at most MB1_STRING_MAX bytes),
 * its first word dropped when drop_first is set (the loader's file path) or when it
 * has more than one (a module: "PATH NAME").  Copied into dest, cut to fit; its bytes
 * are added to the information's ranges. */
static int read_string(const struct window *w, uint64_t phys, bool drop_first, char *dest,
                       size_t size, struct boot_params *out)
{
    uint64_t len = 0;
    for (;; len++) {
        if (len == MB1_STRING_MAX || !inside(w, phys + len, 1))
            return MB1_BAD_STRING;
        if (w->mem[phys + len] == 0)
            break;
    }
    ranges_add(&out->info_ranges, phys, phys + len + 1);
    const char *s = (const char *)w->mem + phys;
    uint64_t start = 0;
    while (start < len && s[start] != ' ')
        start++;
    if (start < len || drop_first) {
        while (start < len && s[start] == ' ')
            start++;
    } else {
        start = 0;      /* a single word: the whole string */
    }
    size_t i = 0;
    for (; i + 1 < size && start + i < len; i++)
        dest[i] = s[start + i];
    dest[i] = 0;
    return MB1_OK;
}

static int parse_mmap(const struct window *w, uint64_t addr, uint64_t length,
                      struct boot_params *out)
{
    if (!inside(w, addr, length))
        return MB1_MMAP_OUT_OF_BOUNDS;
    ranges_add(&out->info_ranges, addr, addr + length);
    for (uint64_t off = 0; off < length;) {
        if (length - off < 4)
            return MB1_BAD_MMAP_ENTRY;
        uint32_t size = read32(w, addr + off);
        if (size < MB1_MMAP_MIN || size > length - off - 4)
            return MB1_BAD_MMAP_ENTRY;
        if (out->memmap_count < PITH_BOOTINFO_MEMMAP) {
            struct pith_memmap_entry *m = &out->memmap[out->memmap_count++];
            m->base = read64(w, addr + off + 4);
            m->length = read64(w, addr + off + 12);
            m->type = read32(w, addr + off + 20);
            m->pad = 0;
        }
        off += 4 + (uint64_t)size;
    }
    return out->memmap_count ? MB1_OK : MB1_NO_MEMORY_MAP;
}

/* No map, only the sizes of the memory below 1 MiB and above it (KiB). */
static void memory_from_sizes(uint32_t lower_kib, uint32_t upper_kib, struct boot_params *out)
{
    out->memmap[0] = (struct pith_memmap_entry){ .base = 0, .length = (uint64_t)lower_kib << 10,
                                                 .type = 1 };
    out->memmap[1] = (struct pith_memmap_entry){ .base = 0x100000,
                                                 .length = (uint64_t)upper_kib << 10, .type = 1 };
    out->memmap_count = 2;
}

static int parse_modules(const struct window *w, uint64_t addr, uint32_t count,
                         struct boot_params *out)
{
    if (count > BOOT_MAX_MODULES)
        return MB1_TOO_MANY_MODULES;
    if (count == 0)
        return MB1_OK;      /* the list's address means nothing then */
    if (!inside(w, addr, (uint64_t)count * MB1_MODULE_SIZE))
        return MB1_MODULES_OUT_OF_BOUNDS;
    ranges_add(&out->info_ranges, addr, addr + (uint64_t)count * MB1_MODULE_SIZE);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t d = addr + (uint64_t)i * MB1_MODULE_SIZE;
        struct boot_module *m = &out->modules[out->module_count++];
        m->start = read32(w, d);
        m->end = read32(w, d + 4);
        m->name[0] = 0;
        if (m->end < m->start || !inside(w, m->start, m->end - m->start))
            return MB1_BAD_MODULE;
        uint32_t string = read32(w, d + 8);
        if (string) {
            int err = read_string(w, string, false, m->name, sizeof(m->name), out);
            if (err)
                return err;
        }
    }
    return MB1_OK;
}

int mb1_parse(const uint8_t *mem, uint64_t mem_size, uint64_t info_phys, struct boot_params *out)
{
    const struct window w = { mem, mem_size };
    out->memmap_count = out->module_count = 0;
    out->cmdline[0] = 0;
    out->rsdp_size = 0;
    out->info_ranges.count = 0;
    out->info_size = MB1_INFO_SIZE;
    if (!inside(&w, info_phys, MB1_INFO_SIZE))
        return MB1_INFO_OUT_OF_BOUNDS;
    ranges_add(&out->info_ranges, info_phys, info_phys + MB1_INFO_SIZE);
    uint32_t flags = read32(&w, info_phys);
    int err = MB1_OK;
    if (flags & MB1_FLAG_MMAP)
        err = parse_mmap(&w, read32(&w, info_phys + 48), read32(&w, info_phys + 44), out);
    else if (flags & MB1_FLAG_MEMORY)
        memory_from_sizes(read32(&w, info_phys + 4), read32(&w, info_phys + 8), out);
    else
        err = MB1_NO_MEMORY_MAP;
    if (!err && (flags & MB1_FLAG_MODS))
        err = parse_modules(&w, read32(&w, info_phys + 24), read32(&w, info_phys + 20), out);
    if (!err && (flags & MB1_FLAG_CMDLINE) && read32(&w, info_phys + 16))
        err = read_string(&w, read32(&w, info_phys + 16), true, out->cmdline,
                          sizeof(out->cmdline), out);
    return err;
}

const char *mb1_error_text(int err)
{
    static const char *const text[] = {
        [MB1_OK] = "no error",
        [MB1_INFO_OUT_OF_BOUNDS] = "the information block lies outside memory",
        [MB1_NO_MEMORY_MAP] = "no memory map and no memory sizes",
        [MB1_MMAP_OUT_OF_BOUNDS] = "the memory map lies outside memory",
        [MB1_BAD_MMAP_ENTRY] = "a memory map entry is too short or runs past the map's end",
        [MB1_TOO_MANY_MODULES] = "more modules than the kernel takes",
        [MB1_MODULES_OUT_OF_BOUNDS] = "the module list lies outside memory",
        [MB1_BAD_MODULE] = "a module ends before it starts or lies outside memory",
        [MB1_BAD_STRING] = "a string is unterminated, too long or outside memory",
    };
    if (err < 0 || (unsigned)err >= ARRAY_SIZE(text))
        return "unknown error";
    return text[err];
}
