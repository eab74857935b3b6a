/* fw_cfg: selector and data port, the file directory, the DMA interface as SeaBIOS and
 * Linux drive it, and what a confused or hostile guest may try. */
#include "harness.h"
#include "dev/fw_cfg.h"

#define MEM_SIZE 8192
static uint8_t mem[MEM_SIZE];

static struct test_ram ram = { mem, MEM_SIZE };
static const struct guest_memory memory = { test_ram_read, test_ram_write, &ram };

static void select_key(struct fw_cfg *f, uint16_t key) { fw_cfg_ops.write(f, 0, 2, key); }
static uint8_t data(struct fw_cfg *f) { return (uint8_t)fw_cfg_ops.read(f, 1, 1); }

static void read_item(struct fw_cfg *f, uint16_t key, uint8_t *out, unsigned n)
{
    select_key(f, key);
    for (unsigned i = 0; i < n; i++)
        out[i] = data(f);
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static void put_be32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static uint32_t bswap(uint32_t v) { return v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24; }

/* What a driver does: the structure at `at`, its address written high then low. */
static uint32_t dma_request(struct fw_cfg *f, uint32_t at, uint32_t control, uint32_t length, uint64_t address)
{
    put_be32(mem + at, control);
    put_be32(mem + at + 4, length);
    put_be32(mem + at + 8, (uint32_t)(address >> 32));
    put_be32(mem + at + 12, (uint32_t)address);
    fw_cfg_ops.write(f, 4, 4, 0);
    fw_cfg_ops.write(f, 8, 4, bswap(at));
    return be32(mem + at);
}

static void signature_and_id(void)
{
    struct fw_cfg f;
    fw_cfg_init(&f, memory);
    uint8_t sig[5] = { 0 };
    read_item(&f, FW_CFG_SIGNATURE, sig, 4);
    CHECK(memcmp(sig, "QEMU", 4) == 0);
    CHECK_EQ(data(&f), 0);                              /* past the end: zeros */
    uint8_t id[4];
    read_item(&f, FW_CFG_ID, id, 4);
    CHECK_EQ(id[0], FW_CFG_VERSION | FW_CFG_VERSION_DMA);
    CHECK_EQ(id[1] | id[2] | id[3], 0);
    /* the DMA register reads "QEMU CFG" as bytes, which a 64-bit big-endian load sees
     * as the signature constant */
    uint64_t hi = fw_cfg_ops.read(&f, 4, 4), lo = fw_cfg_ops.read(&f, 8, 4);
    CHECK_EQ(((uint64_t)bswap((uint32_t)hi) << 32) | bswap((uint32_t)lo), FW_CFG_DMA_SIGNATURE);
    CHECK_EQ(fw_cfg_ops.read(&f, 0, 2), 0);             /* selector: write-only */
    /* a wider data read takes consecutive bytes */
    select_key(&f, FW_CFG_SIGNATURE);
    CHECK_EQ(fw_cfg_ops.read(&f, 1, 4), 0x554d4551);
}

static void fixed_keys_and_integers(void)
{
    struct fw_cfg f;
    fw_cfg_init(&f, memory);
    CHECK(fw_cfg_add_u16(&f, FW_CFG_NB_CPUS, 2));
    CHECK(fw_cfg_add_u32(&f, FW_CFG_IRQ0_OVERRIDE, 1));
    CHECK(fw_cfg_add_u64(&f, FW_CFG_RAM_SIZE, 0x123456789aull));
    static const uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    CHECK(fw_cfg_add_bytes(&f, FW_CFG_UUID, uuid, 16));
    uint8_t b[16];
    read_item(&f, FW_CFG_NB_CPUS, b, 3);
    CHECK_EQ(b[0], 2); CHECK_EQ(b[1], 0); CHECK_EQ(b[2], 0);
    read_item(&f, FW_CFG_IRQ0_OVERRIDE, b, 4);
    CHECK_EQ(b[0], 1);
    read_item(&f, FW_CFG_RAM_SIZE, b, 8);
    CHECK_EQ(b[0], 0x9a); CHECK_EQ(b[4], 0x12); CHECK_EQ(b[5], 0);
    read_item(&f, FW_CFG_UUID, b, 16);
    CHECK(memcmp(b, uuid, 16) == 0);
    /* keys the platform cannot replace or that are not fixed keys */
    CHECK(!fw_cfg_add_u32(&f, FW_CFG_SIGNATURE, 0));
    CHECK(!fw_cfg_add_u32(&f, FW_CFG_ID, 0));
    CHECK(!fw_cfg_add_u32(&f, FW_CFG_FILE_DIR, 0));
    CHECK(!fw_cfg_add_u32(&f, FW_CFG_FILE_FIRST, 0));
    CHECK(!fw_cfg_add_u32(&f, FW_CFG_ARCH_LOCAL | FW_CFG_ARCH_KEYS, 0));
    CHECK(!fw_cfg_add_u32(&f, FW_CFG_WRITE_CHANNEL | FW_CFG_NB_CPUS, 0));
    CHECK(!fw_cfg_add_bytes(&f, FW_CFG_UUID, NULL, 4));
    /* an absent key reads zeros; so does an unknown file key or arch key */
    read_item(&f, FW_CFG_MACHINE_ID, b, 4);
    CHECK_EQ(b[0] | b[1] | b[2] | b[3], 0);
    read_item(&f, 0x3fff, b, 2);
    CHECK_EQ(b[0] | b[1], 0);
    read_item(&f, 0xffff, b, 2);
    CHECK_EQ(b[0] | b[1], 0);
    /* the write-channel bit selects the same item */
    read_item(&f, FW_CFG_WRITE_CHANNEL | FW_CFG_NB_CPUS, b, 1);
    CHECK_EQ(b[0], 2);
}

static void file_directory(void)
{
    struct fw_cfg f;
    fw_cfg_init(&f, memory);
    uint8_t e820[2 * FW_CFG_E820_ENTRY];
    fw_cfg_e820_entry(e820, 0, 0x9fc00, 1);
    fw_cfg_e820_entry(e820 + FW_CFG_E820_ENTRY, 0x100000, 0x7f00000, 1);
    char bootorder[] = "/pci@i0cf8/ide@1,1/drive@0/disk@0\n";
    CHECK_EQ(fw_cfg_add_file(&f, "etc/e820", e820, sizeof(e820), false), 0x20);
    CHECK_EQ(fw_cfg_add_file(&f, "bootorder", bootorder, sizeof(bootorder) - 1, false), 0x21);
    CHECK_EQ(fw_cfg_find_file(&f, "bootorder"), 0x21);
    CHECK_EQ(fw_cfg_find_file(&f, "bootorde"), -1);

    uint8_t dir[4 + 2 * 64];
    read_item(&f, FW_CFG_FILE_DIR, dir, sizeof(dir));
    CHECK_EQ(be32(dir), 2);
    CHECK_EQ(be32(dir + 4), sizeof(e820));
    CHECK_EQ(dir[8] << 8 | dir[9], 0x20);
    CHECK(strcmp((char *)dir + 12, "etc/e820") == 0);
    CHECK_EQ(be32(dir + 68), sizeof(bootorder) - 1);
    CHECK_EQ(dir[72] << 8 | dir[73], 0x21);
    CHECK(strcmp((char *)dir + 76, "bootorder") == 0);
    CHECK_EQ(data(&f), 0);                              /* the directory ends there */

    uint8_t back[2 * FW_CFG_E820_ENTRY];
    read_item(&f, 0x20, back, sizeof(back));
    CHECK(memcmp(back, e820, sizeof(back)) == 0);
    CHECK_EQ(back[FW_CFG_E820_ENTRY + 2], 0x10);        /* 0x100000, little-endian */
    CHECK_EQ(back[FW_CFG_E820_ENTRY + 16], 1);
}

static void bad_files_refused(void)
{
    struct fw_cfg f;
    fw_cfg_init(&f, memory);
    static uint8_t one[1];
    char long_name[80];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = 0;
    CHECK_EQ(fw_cfg_add_file(&f, long_name, one, 1, false), -1);
    long_name[FW_CFG_NAME_MAX - 1] = 0;                 /* 55 characters: fits */
    CHECK_EQ(fw_cfg_add_file(&f, long_name, one, 1, false), 0x20);
    CHECK_EQ(fw_cfg_add_file(&f, long_name, one, 1, false), -1);   /* duplicate */
    CHECK_EQ(fw_cfg_add_file(&f, "", one, 1, false), -1);
    CHECK_EQ(fw_cfg_add_file(&f, NULL, one, 1, false), -1);
    CHECK_EQ(fw_cfg_add_file(&f, "x", NULL, 1, false), -1);
    CHECK_EQ(fw_cfg_add_file(&f, "empty", NULL, 0, false), 0x21);
    char name[8];
    for (unsigned i = 2; i < FW_CFG_FILES; i++) {
        snprintf(name, sizeof(name), "f%u", i);
        CHECK_EQ(fw_cfg_add_file(&f, name, one, 1, false), 0x20 + (int)i);
    }
    CHECK_EQ(fw_cfg_add_file(&f, "full", one, 1, false), -1);
    uint8_t count[4];
    read_item(&f, FW_CFG_FILE_DIR, count, 4);
    CHECK_EQ(be32(count), FW_CFG_FILES);
    read_item(&f, 0x20 + FW_CFG_FILES, count, 1);       /* one past the last file */
    CHECK_EQ(count[0], 0);
}

static void dma_read_select_skip(void)
{
    struct fw_cfg f;
    fw_cfg_init(&f, memory);
    memset(mem, 0xee, sizeof(mem));
    uint8_t blob[100];
    for (unsigned i = 0; i < sizeof(blob); i++)
        blob[i] = (uint8_t)(i + 1);
    int key = fw_cfg_add_file(&f, "etc/table-loader", blob, sizeof(blob), false);
    CHECK_EQ(key, 0x20);
    /* select and read 10 bytes */
    uint32_t ctl = dma_request(&f, 0x100, (uint32_t)key << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 10, 0x1000);
    CHECK_EQ(ctl, 0);
    CHECK_EQ(mem[0x1000], 1);
    CHECK_EQ(mem[0x1009], 10);
    CHECK_EQ(mem[0x100a], 0xee);
    /* skip 80, then read 20: 10 bytes of data, 10 zeros */
    CHECK_EQ(dma_request(&f, 0x100, FW_CFG_DMA_CTL_SKIP, 80, 0), 0);
    CHECK_EQ(dma_request(&f, 0x100, FW_CFG_DMA_CTL_READ, 20, 0x1c00), 0);
    CHECK_EQ(mem[0x1c00], 91);
    CHECK_EQ(mem[0x1c09], 100);
    CHECK_EQ(mem[0x1c0a], 0);
    CHECK_EQ(mem[0x1c13], 0);
    CHECK_EQ(mem[0x1c14], 0xee);
    /* the port sees the offset DMA left behind: at the end */
    CHECK_EQ(data(&f), 0);
    /* a long read crosses the model's bounce chunk */
    CHECK_EQ(dma_request(&f, 0x100, FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ | 0x20u << 16, 100, 0x1800), 0);
    CHECK(memcmp(mem + 0x1800, blob, 100) == 0);
    /* select alone */
    CHECK_EQ(dma_request(&f, 0x100, FW_CFG_DMA_CTL_SELECT | FW_CFG_SIGNATURE << 16, 0, 0), 0);
    CHECK_EQ(data(&f), 'Q');
}

static void dma_write(void)
{
    struct fw_cfg f;
    fw_cfg_init(&f, memory);
    uint8_t target[8] = { 0 }, fixed[8] = { 0 };
    int w = fw_cfg_add_file(&f, "etc/vmcoreinfo", target, sizeof(target), true);
    int r = fw_cfg_add_file(&f, "etc/readonly", fixed, sizeof(fixed), false);
    memcpy(mem + 0x300, "ABCDEFGHIJ", 10);
    CHECK_EQ(dma_request(&f, 0x100, (uint32_t)w << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE, 8, 0x300), 0);
    CHECK(memcmp(target, "ABCDEFGH", 8) == 0);
    /* past the end of the writable file: refused, nothing written */
    CHECK_EQ(dma_request(&f, 0x100, (uint32_t)w << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE, 9, 0x301), FW_CFG_DMA_CTL_ERROR);
    CHECK(memcmp(target, "ABCDEFGH", 8) == 0);
    /* a read-only file, and a fixed key */
    CHECK_EQ(dma_request(&f, 0x100, (uint32_t)r << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE, 1, 0x300), FW_CFG_DMA_CTL_ERROR);
    CHECK_EQ(fixed[0], 0);
    CHECK_EQ(dma_request(&f, 0x100, FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE, 1, 0x300), FW_CFG_DMA_CTL_ERROR);
    CHECK_EQ(f.signature[0], 'Q');
    /* port writes to the data register are ignored */
    select_key(&f, (uint16_t)(FW_CFG_WRITE_CHANNEL | w));
    fw_cfg_ops.write(&f, 1, 1, 'z');
    CHECK_EQ(target[0], 'A');
}

static void dma_bad_addresses(void)
{
    struct fw_cfg f;
    fw_cfg_init(&f, memory);
    uint8_t blob[16] = { 7 };
    fw_cfg_add_file(&f, "x", blob, sizeof(blob), false);
    /* destination outside guest memory: the error bit comes back */
    CHECK_EQ(dma_request(&f, 0x100, 0x20u << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 16, MEM_SIZE - 8), FW_CFG_DMA_CTL_ERROR);
    CHECK_EQ(dma_request(&f, 0x100, 0x20u << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 16, 0xffffffffffff0000ull), FW_CFG_DMA_CTL_ERROR);
    /* the control structure itself outside memory: nothing happens, nothing breaks */
    fw_cfg_ops.write(&f, 4, 4, bswap(1));
    fw_cfg_ops.write(&f, 8, 4, 0);
    CHECK_EQ(f.dma_address, 0);
    /* the high half alone starts nothing; the low half then uses it */
    mem[0x200] = 0x55;
    fw_cfg_ops.write(&f, 4, 4, bswap(0));
    put_be32(mem + 0x100, 0x20u << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ);
    put_be32(mem + 0x104, 1);
    put_be32(mem + 0x108, 0);
    put_be32(mem + 0x10c, 0x200);
    CHECK_EQ(mem[0x200], 0x55);
    fw_cfg_ops.write(&f, 8, 4, bswap(0x100));
    CHECK_EQ(mem[0x200], 7);
    CHECK_EQ(be32(mem + 0x100), 0);
    /* a huge length on a read is bounded by guest memory, not by the item */
    CHECK_EQ(dma_request(&f, 0x100, 0x20u << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 0xffffffffu, 0x1000), FW_CFG_DMA_CTL_ERROR);
    /* no control bits: a no-op that completes */
    CHECK_EQ(dma_request(&f, 0x100, 0, 5, 0), 0);
    /* odd-size and unknown port accesses are ignored */
    fw_cfg_ops.write(&f, 0, 1, 0x20);
    fw_cfg_ops.write(&f, 2, 4, 0);
    fw_cfg_ops.write(&f, 9, 1, 0);
    CHECK_EQ(fw_cfg_ops.read(&f, 2, 1), 0);
    fw_cfg_ops.reset(&f);
    CHECK_EQ(data(&f), 'Q');                            /* reset selects the signature */
}

DEVICE_TESTS(fw_cfg,
    { "fw_cfg_signature_and_id", signature_and_id },
    { "fw_cfg_fixed_keys_and_integers", fixed_keys_and_integers },
    { "fw_cfg_file_directory", file_directory },
    { "fw_cfg_bad_files_refused", bad_files_refused },
    { "fw_cfg_dma_read_select_skip", dma_read_select_skip },
    { "fw_cfg_dma_write", dma_write },
    { "fw_cfg_dma_bad_addresses", dma_bad_addresses })
