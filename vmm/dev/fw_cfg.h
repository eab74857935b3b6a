/*
 * QEMU's firmware configuration device (fw_cfg), the way SeaBIOS and Linux find it on
 * a PC: a 16-bit selector at port 0x510, a byte-wide data port at 0x511, and the DMA
 * interface whose 64-bit address register sits big-endian at 0x514-0x51b.  Items are
 * byte strings the platform adds before the guest starts: the fixed keys (signature,
 * interface ID, CPU counts, ...) and named files listed in the file directory (key
 * 0x19), such as `etc/e820` and `bootorder`.  The model is pure: DMA reaches guest
 * memory through callbacks, and the data of every item belongs to the caller.
 */
#ifndef VMM_FW_CFG_H
#define VMM_FW_CFG_H

#include "virtio.h"     /* struct guest_memory */

#define FW_CFG_PORT_BASE        0x510
#define FW_CFG_PORT_COUNT       12      /* 0x510-0x51b */

/* Fixed keys (QEMU docs/specs/fw_cfg.rst; the ones SeaBIOS reads are marked *). */
#define FW_CFG_SIGNATURE        0x00    /* * "QEMU" */
#define FW_CFG_ID               0x01    /* * interface bits, below */
#define FW_CFG_UUID             0x02    /* * 16 bytes */
#define FW_CFG_RAM_SIZE         0x03
#define FW_CFG_NOGRAPHIC        0x04
#define FW_CFG_NB_CPUS          0x05    /* * le16: CPUs present at start */
#define FW_CFG_MACHINE_ID       0x06
#define FW_CFG_KERNEL_ADDR      0x07
#define FW_CFG_KERNEL_SIZE      0x08
#define FW_CFG_KERNEL_CMDLINE   0x09
#define FW_CFG_INITRD_ADDR      0x0a
#define FW_CFG_INITRD_SIZE      0x0b
#define FW_CFG_BOOT_DEVICE      0x0c
#define FW_CFG_NUMA             0x0d    /* * le64 node count, then per-CPU and per-node */
#define FW_CFG_BOOT_MENU        0x0e    /* * le16: show the boot menu */
#define FW_CFG_MAX_CPUS         0x0f    /* * le16 */
#define FW_CFG_FILE_DIR         0x19    /* * the directory, built by the model */
#define FW_CFG_FILE_FIRST       0x20    /* files take keys from here on */
#define FW_CFG_WRITE_CHANNEL    0x4000  /* selector bit: writes allowed (ignored on the data port) */
#define FW_CFG_ARCH_LOCAL       0x8000  /* selector bit: the architecture's own keys */
#define FW_CFG_ACPI_TABLES      0x8000
#define FW_CFG_SMBIOS_ENTRIES   0x8001  /* * */
#define FW_CFG_IRQ0_OVERRIDE    0x8002  /* * le32 */
#define FW_CFG_E820_TABLE       0x8003
#define FW_CFG_HPET             0x8004

/* FW_CFG_ID bits */
#define FW_CFG_VERSION          0x01    /* the selector/data interface */
#define FW_CFG_VERSION_DMA      0x02    /* the DMA interface */

/* DMA control word bits (the control structure is big-endian in guest memory:
 * be32 control, be32 length, be64 address) */
#define FW_CFG_DMA_CTL_ERROR    0x01
#define FW_CFG_DMA_CTL_READ     0x02
#define FW_CFG_DMA_CTL_SKIP     0x04
#define FW_CFG_DMA_CTL_SELECT   0x08
#define FW_CFG_DMA_CTL_WRITE    0x10
#define FW_CFG_DMA_SIGNATURE    0x51454d5520434647ull   /* "QEMU CFG", read at 0x514 */

#define FW_CFG_FILES            32
#define FW_CFG_NAME_MAX         56      /* with the NUL */
#define FW_CFG_ARCH_KEYS        8
#define FW_CFG_DIR_ENTRY        64      /* be32 size, be16 select, be16 reserved, name[56] */

struct fw_cfg_item {
    uint8_t *data;              /* the caller's bytes (or small[]); NULL: absent */
    uint32_t size;
    bool writable;              /* the guest may overwrite it by DMA */
    uint8_t small[8];           /* storage for the integer items */
};

struct fw_cfg {
    uint16_t selector;
    uint32_t offset;            /* into the selected item */
    uint64_t dma_address;       /* high half latched by 0x514, low half starts a transfer */
    struct guest_memory memory;
    struct fw_cfg_item fixed[FW_CFG_FILE_FIRST];
    struct fw_cfg_item file[FW_CFG_FILES];
    struct fw_cfg_item arch[FW_CFG_ARCH_KEYS];
    unsigned files;
    uint8_t directory[4 + FW_CFG_FILES * FW_CFG_DIR_ENTRY];
    uint8_t signature[4];
};

extern const struct device_ops fw_cfg_ops;     /* ports 0x510-0x51b, offset = port - 0x510 */

/* Signature "QEMU", ID with DMA, an empty directory. */
void fw_cfg_init(struct fw_cfg *f, struct guest_memory memory);
/* A fixed or architecture key (not the signature, ID or directory); false if the key
 * is not one of them.  The bytes stay the caller's and must outlive the device. */
bool fw_cfg_add_bytes(struct fw_cfg *f, uint16_t key, const void *data, uint32_t size);
/* Little-endian integers of 2, 4 or 8 bytes, kept inside the device. */
bool fw_cfg_add_u16(struct fw_cfg *f, uint16_t key, uint16_t value);
bool fw_cfg_add_u32(struct fw_cfg *f, uint16_t key, uint32_t value);
bool fw_cfg_add_u64(struct fw_cfg *f, uint16_t key, uint64_t value);
/* A named file: returns its key (0x20 on), or -1 for an empty, too long or duplicate
 * name, or a full directory.  writable: the guest may write it through DMA. */
int fw_cfg_add_file(struct fw_cfg *f, const char *name, void *data, uint32_t size, bool writable);
/* The key of a file by name, or -1. */
int fw_cfg_find_file(const struct fw_cfg *f, const char *name);

/* Building blocks for `etc/e820`: entries of le64 address, le64 length, le32 type. */
#define FW_CFG_E820_ENTRY       20
void fw_cfg_e820_entry(uint8_t out[FW_CFG_E820_ENTRY], uint64_t address, uint64_t length,
                       uint32_t type);

#endif
