/*
 * fw_cfg (QEMU docs/specs/fw_cfg.rst).  Selecting an item resets the data offset;
 * each data-port read returns the next byte, zero past the end.  A DMA transfer is
 * started by writing the low half of the control structure's address; the device
 * reads the structure, optionally selects an item, then reads, skips or writes
 * `length` bytes at the current offset, and writes the control word back: zero when
 * done, the error bit when anything failed.  Port writes to the data register are
 * ignored, as in every QEMU since 2.4.
 */
#include "fw_cfg.h"

static void put_be(uint8_t *p, unsigned bytes, uint64_t v)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_le(uint8_t *p, unsigned bytes, uint64_t v)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static unsigned name_length(const char *s, unsigned max)
{
    unsigned n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

static bool same_name(const uint8_t *entry_name, const char *name)
{
    for (unsigned i = 0; i < FW_CFG_NAME_MAX; i++) {
        if (entry_name[i] != (uint8_t)name[i])
            return false;
        if (!name[i])
            return true;
    }
    return false;
}

void fw_cfg_init(struct fw_cfg *f, struct guest_memory memory)
{
    *f = (struct fw_cfg){ .memory = memory, .signature = { 'Q', 'E', 'M', 'U' } };
    f->fixed[FW_CFG_SIGNATURE] = (struct fw_cfg_item){ .data = f->signature, .size = 4 };
    struct fw_cfg_item *id = &f->fixed[FW_CFG_ID];
    put_le(id->small, 4, FW_CFG_VERSION | FW_CFG_VERSION_DMA);
    id->data = id->small;
    id->size = 4;
    f->fixed[FW_CFG_FILE_DIR] = (struct fw_cfg_item){ .data = f->directory, .size = 4 };
}

/* The item a selector names (the write-channel bit aside), or NULL. */
static struct fw_cfg_item *item(struct fw_cfg *f, uint16_t selector)
{
    unsigned key = selector & 0x3fff;
    if (selector & FW_CFG_ARCH_LOCAL)
        return key < FW_CFG_ARCH_KEYS ? &f->arch[key] : NULL;
    if (key < FW_CFG_FILE_FIRST)
        return &f->fixed[key];
    if (key - FW_CFG_FILE_FIRST < f->files)
        return &f->file[key - FW_CFG_FILE_FIRST];
    return NULL;
}

static struct fw_cfg_item *settable(struct fw_cfg *f, uint16_t key)
{
    if (key == FW_CFG_SIGNATURE || key == FW_CFG_ID || key == FW_CFG_FILE_DIR ||
        (key & FW_CFG_WRITE_CHANNEL) || (!(key & FW_CFG_ARCH_LOCAL) && key >= FW_CFG_FILE_FIRST))
        return NULL;
    return item(f, key);
}

bool fw_cfg_add_bytes(struct fw_cfg *f, uint16_t key, const void *data, uint32_t size)
{
    struct fw_cfg_item *it = settable(f, key);
    if (!it || (!data && size))
        return false;
    *it = (struct fw_cfg_item){ .data = (uint8_t *)(uintptr_t)data, .size = size };
    return true;
}

static bool add_int(struct fw_cfg *f, uint16_t key, uint64_t value, unsigned bytes)
{
    struct fw_cfg_item *it = settable(f, key);
    if (!it)
        return false;
    *it = (struct fw_cfg_item){ .size = bytes };
    put_le(it->small, bytes, value);
    it->data = it->small;
    return true;
}

bool fw_cfg_add_u16(struct fw_cfg *f, uint16_t key, uint16_t value) { return add_int(f, key, value, 2); }
bool fw_cfg_add_u32(struct fw_cfg *f, uint16_t key, uint32_t value) { return add_int(f, key, value, 4); }
bool fw_cfg_add_u64(struct fw_cfg *f, uint16_t key, uint64_t value) { return add_int(f, key, value, 8); }

int fw_cfg_find_file(const struct fw_cfg *f, const char *name)
{
    for (unsigned i = 0; i < f->files; i++)
        if (same_name(f->directory + 4 + i * FW_CFG_DIR_ENTRY + 8, name))
            return (int)(FW_CFG_FILE_FIRST + i);
    return -1;
}

int fw_cfg_add_file(struct fw_cfg *f, const char *name, void *data, uint32_t size, bool writable)
{
    unsigned length = name ? name_length(name, FW_CFG_NAME_MAX) : 0;
    if (length == 0 || length >= FW_CFG_NAME_MAX || f->files >= FW_CFG_FILES ||
        (!data && size) || fw_cfg_find_file(f, name) >= 0)
        return -1;
    unsigned index = f->files++;
    uint16_t key = (uint16_t)(FW_CFG_FILE_FIRST + index);
    f->file[index] = (struct fw_cfg_item){ .data = data, .size = size, .writable = writable };
    uint8_t *entry = f->directory + 4 + index * FW_CFG_DIR_ENTRY;
    put_be(entry, 4, size);
    put_be(entry + 4, 2, key);
    put_be(entry + 6, 2, 0);
    for (unsigned i = 0; i < FW_CFG_NAME_MAX; i++)
        entry[8 + i] = i < length ? (uint8_t)name[i] : 0;
    put_be(f->directory, 4, f->files);
    f->fixed[FW_CFG_FILE_DIR].size = 4 + f->files * FW_CFG_DIR_ENTRY;
    return key;
}

void fw_cfg_e820_entry(uint8_t out[FW_CFG_E820_ENTRY], uint64_t address, uint64_t length,
                       uint32_t type)
{
    put_le(out, 8, address);
    put_le(out + 8, 8, length);
    put_le(out + 16, 4, type);
}

static uint8_t next_byte(struct fw_cfg *f)
{
    struct fw_cfg_item *it = item(f, f->selector);
    if (!it || !it->data || f->offset >= it->size)
        return 0;
    return it->data[f->offset++];
}

static void select(struct fw_cfg *f, uint16_t selector)
{
    f->selector = selector;
    f->offset = 0;
}

/* One DMA request at f->dma_address. */
static void dma(struct fw_cfg *f)
{
    uint8_t request[16];
    uint64_t at = f->dma_address;
    f->dma_address = 0;
    if (!f->memory.read || !f->memory.read(f->memory.ctx, at, request, sizeof(request)))
        return;     /* nowhere to report to */
    uint32_t control = (uint32_t)get_be(request, 4);
    uint32_t length = (uint32_t)get_be(request + 4, 4);
    uint64_t address = get_be(request + 8, 8);
    bool ok = true;

    if (control & FW_CFG_DMA_CTL_SELECT)
        select(f, (uint16_t)(control >> 16));
    struct fw_cfg_item *it = item(f, f->selector);
    uint32_t available = it && it->data && f->offset < it->size ? it->size - f->offset : 0;

    if (control & FW_CFG_DMA_CTL_READ) {
        /* the item's bytes, then zeros past its end */
        uint8_t chunk[64];
        for (uint32_t done = 0; ok && done < length; ) {
            uint32_t n = length - done < sizeof(chunk) ? length - done : (uint32_t)sizeof(chunk);
            for (uint32_t i = 0; i < n; i++)
                chunk[i] = done + i < available ? it->data[f->offset + done + i] : 0;
            ok = f->memory.write && f->memory.write(f->memory.ctx, address + done, chunk, n);
            done += n;
        }
        f->offset += length < available ? length : available;
    } else if (control & FW_CFG_DMA_CTL_WRITE) {
        /* only into a writable item, and only within it */
        if (!it || !it->writable || length > available) {
            ok = false;
        } else {
            ok = f->memory.read && f->memory.read(f->memory.ctx, address, it->data + f->offset, length);
            if (ok)
                f->offset += length;
        }
    } else if (control & FW_CFG_DMA_CTL_SKIP) {
        f->offset += length < available ? length : available;
    }

    uint8_t status[4];
    put_be(status, 4, ok ? 0 : FW_CFG_DMA_CTL_ERROR);
    if (f->memory.write)
        f->memory.write(f->memory.ctx, at, status, sizeof(status));
}

static const uint8_t dma_signature[8] = { 'Q', 'E', 'M', 'U', ' ', 'C', 'F', 'G' };

static uint64_t fw_cfg_read(void *dev, uint64_t offset, unsigned size)
{
    struct fw_cfg *f = dev;
    uint64_t value = 0;
    if (offset == 1) {
        for (unsigned i = 0; i < size; i++)
            value |= (uint64_t)next_byte(f) << (8 * i);
        return value;
    }
    if (offset >= 4 && offset + size <= 12) {
        for (unsigned i = 0; i < size; i++)
            value |= (uint64_t)dma_signature[offset - 4 + i] << (8 * i);
        return value;
    }
    return 0;       /* the selector is write-only */
}

/* The DMA address halves arrive as the guest stored them: big-endian bytes. */
static uint32_t swap32(uint32_t v)
{
    return v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24;
}

static void fw_cfg_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct fw_cfg *f = dev;
    if (offset == 0 && size == 2) {
        select(f, (uint16_t)value);
    } else if (offset == 4 && size == 4) {
        f->dma_address = (uint64_t)swap32((uint32_t)value) << 32;
    } else if (offset == 8 && size == 4) {
        f->dma_address |= swap32((uint32_t)value);
        dma(f);
    }
    /* the data port and odd sizes: ignored */
}

static void fw_cfg_reset(void *dev)
{
    struct fw_cfg *f = dev;
    select(f, 0);
    f->dma_address = 0;
}

const struct device_ops fw_cfg_ops = { "fw_cfg", fw_cfg_read, fw_cfg_write, fw_cfg_reset };
