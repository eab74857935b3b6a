/* The GPT reader (gpt.h); field offsets from UEFI 2.10 §5.3.2 (header) and §5.3.3 (entry). */
#include "gpt.h"

#define HEADER_MIN          92u
#define HEADER_SIGNATURE    0x5452415020494645ull   /* "EFI PART" little-endian */

/* Header fields (Table 5.5). */
#define H_SIGNATURE     0
#define H_SIZE          12
#define H_CRC           16
#define H_MY_LBA        24
#define H_FIRST_USABLE  40
#define H_LAST_USABLE   48
#define H_ENTRY_LBA     72
#define H_ENTRY_COUNT   80
#define H_ENTRY_SIZE    84
#define H_ENTRIES_CRC   88

/* Entry fields (Table 5.6). */
#define E_TYPE          0
#define E_FIRST_LBA     32
#define E_LAST_LBA      40
#define E_NAME          56

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

uint32_t gpt_crc32(uint32_t crc, const void *data, size_t length)
{
    const uint8_t *p = data;
    crc = ~crc;
    while (length--) {
        crc ^= *p++;
        for (unsigned bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
    return ~crc;
}

/* What a checked header says about the array and the usable range. */
struct header {
    uint64_t first_usable, last_usable, entry_lba;
    uint32_t entry_count, entry_size, entries_crc;
};

static enum gpt_error check_header(const uint8_t *s, uint64_t lba, uint64_t disk_sectors, struct header *h)
{
    if (get64(s + H_SIGNATURE) != HEADER_SIGNATURE)
        return GPT_E_SIGNATURE;
    uint32_t size = get32(s + H_SIZE);
    if (size < HEADER_MIN || size > GPT_SECTOR)
        return GPT_E_HEADER_SIZE;
    uint8_t copy[GPT_SECTOR];
    for (unsigned i = 0; i < size; i++)         /* the CRC is over the header with it zeroed */
        copy[i] = i >= H_CRC && i < H_CRC + 4 ? 0 : s[i];
    if (gpt_crc32(0, copy, size) != get32(s + H_CRC))
        return GPT_E_HEADER_CRC;
    if (get64(s + H_MY_LBA) != lba)
        return GPT_E_MY_LBA;
    *h = (struct header){ get64(s + H_FIRST_USABLE), get64(s + H_LAST_USABLE), get64(s + H_ENTRY_LBA),
                          get32(s + H_ENTRY_COUNT), get32(s + H_ENTRY_SIZE), get32(s + H_ENTRIES_CRC) };
    /* LBA 0 (protective MBR), 1 and the last one (the headers) are never usable. */
    if (h->first_usable < 2 || h->first_usable > h->last_usable || h->last_usable >= disk_sectors - 1)
        return GPT_E_USABLE_RANGE;
    if (h->entry_size < 128 || h->entry_size > GPT_MAX_ENTRY_SIZE || (h->entry_size & (h->entry_size - 1)) ||
        h->entry_count > GPT_MAX_ENTRIES)
        return GPT_E_ENTRY_SIZE;
    uint64_t array_sectors = ((uint64_t)h->entry_count * h->entry_size + GPT_SECTOR - 1) / GPT_SECTOR;
    if (h->entry_lba < 2 || h->entry_lba >= disk_sectors - 1 ||
        array_sectors > disk_sectors - 1 - h->entry_lba)
        return GPT_E_ENTRY_ARRAY;
    uint64_t array_end = h->entry_lba + array_sectors;      /* exclusive */
    if (array_sectors && h->entry_lba <= h->last_usable && array_end > h->first_usable)
        return GPT_E_ENTRY_ARRAY;
    return GPT_OK;
}

/* An entry's name: UTF-16LE up to the first 0; anything but printable ASCII gives "". */
static void entry_name(const uint8_t *e, char *name)
{
    unsigned n = 0;
    for (; n < GPT_NAME_CHARS; n++) {
        uint16_t c = (uint16_t)(e[E_NAME + 2 * n] | e[E_NAME + 2 * n + 1] << 8);
        if (c == 0)
            break;
        if (c < 0x20 || c > 0x7e) {
            n = 0;
            break;
        }
        name[n] = (char)c;
    }
    name[n] = 0;
}

static bool type_unused(const uint8_t *e)
{
    for (unsigned i = 0; i < 16; i++)
        if (e[E_TYPE + i])
            return false;
    return true;
}

static enum gpt_error add_entry(const uint8_t *e, unsigned index, const struct header *h, struct gpt_table *t)
{
    if (type_unused(e))
        return GPT_OK;
    uint64_t first = get64(e + E_FIRST_LBA), last = get64(e + E_LAST_LBA);
    if (first > last || first < h->first_usable || last > h->last_usable)
        return GPT_E_PARTITION_RANGE;
    for (unsigned i = 0; i < t->count; i++)
        if (first <= t->part[i].last_lba && t->part[i].first_lba <= last)
            return GPT_E_OVERLAP;
    if (t->count == GPT_MAX_PARTITIONS)
        return GPT_E_TOO_MANY;
    struct gpt_partition *p = &t->part[t->count++];
    p->first_lba = first;
    p->last_lba = last;
    p->entry = index;
    entry_name(e, p->name);
    return GPT_OK;
}

/* The entry array: CRC over exactly count * size bytes, then every used entry. */
static enum gpt_error read_entries(gpt_read_fn read, void *ctx, const struct header *h, struct gpt_table *t)
{
    uint8_t sector[GPT_SECTOR];
    uint64_t bytes = (uint64_t)h->entry_count * h->entry_size;
    uint32_t crc = 0;
    for (uint64_t lba = h->entry_lba, done = 0; done < bytes; lba++, done += GPT_SECTOR) {
        if (!read(ctx, lba, sector))
            return GPT_E_READ;
        crc = gpt_crc32(crc, sector, bytes - done < GPT_SECTOR ? (size_t)(bytes - done) : GPT_SECTOR);
    }
    if (crc != h->entries_crc)
        return GPT_E_ENTRIES_CRC;
    /* Read again for the entries: a second pass keeps one sector of buffer. */
    t->count = 0;
    unsigned per_sector = GPT_SECTOR / h->entry_size;
    for (unsigned i = 0; i < h->entry_count; i++) {
        if (i % per_sector == 0 && !read(ctx, h->entry_lba + i / per_sector, sector))
            return GPT_E_READ;
        enum gpt_error e = add_entry(sector + (i % per_sector) * h->entry_size, i, h, t);
        if (e != GPT_OK)
            return e;
    }
    return GPT_OK;
}

static enum gpt_error read_table(gpt_read_fn read, void *ctx, uint64_t lba, uint64_t disk_sectors,
                                 struct gpt_table *t)
{
    uint8_t sector[GPT_SECTOR];
    struct header h;
    if (!read(ctx, lba, sector))
        return GPT_E_READ;
    enum gpt_error e = check_header(sector, lba, disk_sectors, &h);
    if (e == GPT_OK)
        e = read_entries(read, ctx, &h, t);
    if (e == GPT_OK) {
        t->first_usable = h.first_usable;
        t->last_usable = h.last_usable;
    }
    return e;
}

/* The other header, when its own fields hold, declares an entry array that no
 * partition of the table in use may cover.  Otherwise a guest given such a partition
 * (the backup in use because the primary's array is damaged, its usable range over
 * that array) could write an array whose CRC the primary header expects, and the
 * primary, valid again at the next start, would give it partitions of its choosing. */
static enum gpt_error clear_of_other_array(gpt_read_fn read, void *ctx, uint64_t lba, uint64_t disk_sectors,
                                           const struct gpt_table *t)
{
    uint8_t sector[GPT_SECTOR];
    struct header h;
    if (!read(ctx, lba, sector) || check_header(sector, lba, disk_sectors, &h) != GPT_OK)
        return GPT_OK;
    uint64_t array_end = h.entry_lba + ((uint64_t)h.entry_count * h.entry_size + GPT_SECTOR - 1) / GPT_SECTOR;
    for (unsigned i = 0; i < t->count; i++)
        if (t->part[i].first_lba < array_end && h.entry_lba <= t->part[i].last_lba)
            return GPT_E_ARRAY_COVERED;
    return GPT_OK;
}

enum gpt_error gpt_read(gpt_read_fn read, void *ctx, uint64_t disk_sectors, struct gpt_table *out)
{
    *out = (struct gpt_table){ 0 };
    if (disk_sectors < 4)       /* MBR, header, an array sector, the backup header */
        return GPT_E_SMALL;
    enum gpt_error primary = read_table(read, ctx, 1, disk_sectors, out);
    bool from_backup = primary != GPT_OK;
    enum gpt_error e = from_backup ? read_table(read, ctx, disk_sectors - 1, disk_sectors, out) : GPT_OK;
    if (e != GPT_OK) {
        *out = (struct gpt_table){ 0 };
        return primary;
    }
    e = clear_of_other_array(read, ctx, from_backup ? 1 : disk_sectors - 1, disk_sectors, out);
    if (e != GPT_OK) {
        *out = (struct gpt_table){ 0 };
        return e;
    }
    out->from_backup = from_backup;
    out->primary_error = primary;
    return GPT_OK;
}

static bool same_name(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

unsigned gpt_named(const struct gpt_table *t, const char *name)
{
    unsigned n = 0;
    for (unsigned i = 0; name[0] && i < t->count; i++)
        n += same_name(t->part[i].name, name);
    return n;
}

const struct gpt_partition *gpt_find(const struct gpt_table *t, const char *name)
{
    if (gpt_named(t, name) != 1)
        return NULL;
    for (unsigned i = 0; i < t->count; i++)
        if (same_name(t->part[i].name, name))
            return &t->part[i];
    return NULL;
}

const char *gpt_error_name(enum gpt_error e)
{
    static const char *const names[] = {
        [GPT_OK] = "valid",
        [GPT_E_READ] = "the disk could not be read",
        [GPT_E_SMALL] = "the disk is too small for a GPT",
        [GPT_E_SIGNATURE] = "no GPT signature",
        [GPT_E_HEADER_SIZE] = "bad GPT header size",
        [GPT_E_HEADER_CRC] = "GPT header CRC mismatch",
        [GPT_E_MY_LBA] = "GPT header at the wrong LBA",
        [GPT_E_USABLE_RANGE] = "GPT usable range outside the disk",
        [GPT_E_ENTRY_SIZE] = "bad GPT entry size or count",
        [GPT_E_ENTRY_ARRAY] = "GPT entry array outside the disk or in the usable range",
        [GPT_E_ENTRIES_CRC] = "GPT entry array CRC mismatch",
        [GPT_E_PARTITION_RANGE] = "a GPT partition outside the usable range",
        [GPT_E_OVERLAP] = "two GPT partitions overlap",
        [GPT_E_TOO_MANY] = "too many GPT partitions",
        [GPT_E_ARRAY_COVERED] = "a GPT partition covers the other header's entry array",
    };
    return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "unknown GPT error";
}
