/* The ATA PIO driver (ata_pio.h).  Register numbers and status bits: ATA8-ACS §6.2
 * (status), ATA8-APT §5 (the command block at 0x1f0, device control at 0x3f6). */
#include "ata_pio.h"

enum { REG_DATA, REG_ERROR, REG_COUNT, REG_LBA0, REG_LBA1, REG_LBA2, REG_DEVICE, REG_STATUS };
#define REG_COMMAND REG_STATUS

#define ST_ERR  0x01
#define ST_DRQ  0x08
#define ST_DF   0x20
#define ST_DRDY 0x40
#define ST_BSY  0x80

#define CTL_NIEN 0x02               /* no interrupts: this driver polls */

#define CMD_READ_SECTORS        0x20
#define CMD_READ_SECTORS_EXT    0x24
#define CMD_WRITE_SECTORS       0x30
#define CMD_WRITE_SECTORS_EXT   0x34
#define CMD_FLUSH_CACHE         0xe7
#define CMD_FLUSH_CACHE_EXT     0xea
#define CMD_IDENTIFY            0xec

#define DEVICE_LBA  0x40
#define DEFAULT_POLLS 10000000u     /* without pauses */

static uint8_t status(struct ata_disk *d)
{
    return d->ports.in8(d->ports.ctx, REG_STATUS);
}

/* The 400 ns a device may take to show its status after a command or a selection
 * (ATA8-APT §5.2.9): four reads of the alternate status. */
static void settle(struct ata_disk *d)
{
    for (unsigned i = 0; i < 4; i++)
        d->ports.alt_status(d->ports.ctx);
}

uint8_t ata_wait_ready(struct ata_disk *d)
{
    for (uint32_t i = 0; i < d->poll_limit; i++) {
        if (i >= ATA_PIO_QUICK_POLLS && d->ports.pause)
            d->ports.pause(d->ports.ctx);
        uint8_t s = status(d);
        if (!(s & ST_BSY))
            return s;
    }
    return 0xff;
}

/* Waits for the data phase of one sector. */
static bool wait_data(struct ata_disk *d)
{
    uint8_t s = ata_wait_ready(d);
    return s != 0xff && !(s & (ST_ERR | ST_DF)) && (s & ST_DRQ);
}

static void select_device(struct ata_disk *d, uint8_t bits)
{
    d->ports.out8(d->ports.ctx, REG_DEVICE, (uint8_t)(0xa0 | bits | d->slot << 4));
    settle(d);
}

bool ata_pio_identify(struct ata_disk *d, const struct ata_ports *ports, unsigned slot)
{
    *d = (struct ata_disk){ .ports = *ports, .slot = slot & 1,
                            .poll_limit = ports->pause ? ATA_PIO_PAUSED_POLLS : DEFAULT_POLLS };
    d->ports.control(d->ports.ctx, CTL_NIEN);
    select_device(d, 0);
    if (status(d) == 0xff)                          /* a floating bus: no drive at all */
        return false;
    for (unsigned r = REG_COUNT; r <= REG_LBA2; r++)
        d->ports.out8(d->ports.ctx, r, 0);
    d->ports.out8(d->ports.ctx, REG_COMMAND, CMD_IDENTIFY);
    settle(d);
    uint8_t s = ata_wait_ready(d);
    /* An ATAPI device aborts IDENTIFY DEVICE and leaves its signature 14h/EBh. */
    if (s == 0xff || (s & ST_ERR) || !(s & ST_DRQ) ||
        d->ports.in8(d->ports.ctx, REG_LBA1) || d->ports.in8(d->ports.ctx, REG_LBA2))
        return false;
    uint16_t id[256];
    for (unsigned i = 0; i < 256; i++)
        id[i] = d->ports.in16(d->ports.ctx);
    for (unsigned i = 0; i < 20; i++) {             /* words 27-46, two characters each */
        d->model[2 * i] = (char)(id[27 + i] >> 8);
        d->model[2 * i + 1] = (char)id[27 + i];
    }
    for (int i = 39; i >= 0 && d->model[i] == ' '; i--)
        d->model[i] = 0;
    d->lba48 = id[83] & (1u << 10);
    if (d->lba48)
        d->sectors = (uint64_t)id[100] | (uint64_t)id[101] << 16 | (uint64_t)id[102] << 32 |
                     (uint64_t)id[103] << 48;
    else
        d->sectors = (uint64_t)id[60] | (uint64_t)id[61] << 16;
    if (d->sectors > 1ull << 48)
        d->sectors = 1ull << 48;                    /* what LBA48 can name */
    return d->sectors != 0;
}

bool ata_issue(struct ata_disk *d, uint64_t lba, unsigned count, uint8_t cmd28, uint8_t cmd48)
{
    if (count == 0 || count > ata_max_count(d) || lba >= d->sectors || count > d->sectors - lba)
        return false;
    uint8_t s = ata_wait_ready(d);
    if (s == 0xff)
        return false;
    void *c = d->ports.ctx;
    if (d->lba48) {
        select_device(d, DEVICE_LBA);
        d->ports.out8(c, REG_COUNT, (uint8_t)(count >> 8));     /* the high bytes first; 65536 is 0 */
        d->ports.out8(c, REG_LBA0, (uint8_t)(lba >> 24));
        d->ports.out8(c, REG_LBA1, (uint8_t)(lba >> 32));
        d->ports.out8(c, REG_LBA2, (uint8_t)(lba >> 40));
    } else {
        if (lba + count > (1u << 28))
            return false;
        select_device(d, (uint8_t)(DEVICE_LBA | (lba >> 24 & 0x0f)));
    }
    d->ports.out8(c, REG_COUNT, (uint8_t)count);                /* 256 is 0 */
    d->ports.out8(c, REG_LBA0, (uint8_t)lba);
    d->ports.out8(c, REG_LBA1, (uint8_t)(lba >> 8));
    d->ports.out8(c, REG_LBA2, (uint8_t)(lba >> 16));
    d->ports.out8(c, REG_COMMAND, d->lba48 ? cmd48 : cmd28);
    settle(d);
    return true;
}

bool ata_pio_read(struct ata_disk *d, uint64_t lba, unsigned count, void *buf)
{
    uint8_t *p = buf;
    if (!ata_issue(d, lba, count, CMD_READ_SECTORS, CMD_READ_SECTORS_EXT))
        return false;
    for (unsigned s = 0; s < count; s++) {
        if (!wait_data(d))
            return false;
        for (unsigned i = 0; i < 256; i++, p += 2) {
            uint16_t w = d->ports.in16(d->ports.ctx);
            p[0] = (uint8_t)w;
            p[1] = (uint8_t)(w >> 8);
        }
        settle(d);
    }
    uint8_t st = ata_wait_ready(d);
    return st != 0xff && !(st & (ST_ERR | ST_DF));
}

bool ata_pio_write(struct ata_disk *d, uint64_t lba, unsigned count, const void *buf)
{
    const uint8_t *p = buf;
    if (!ata_issue(d, lba, count, CMD_WRITE_SECTORS, CMD_WRITE_SECTORS_EXT))
        return false;
    for (unsigned s = 0; s < count; s++) {
        if (!wait_data(d))
            return false;
        for (unsigned i = 0; i < 256; i++, p += 2)
            d->ports.out16(d->ports.ctx, (uint16_t)(p[0] | p[1] << 8));
        settle(d);
    }
    uint8_t st = ata_wait_ready(d);
    return st != 0xff && !(st & (ST_ERR | ST_DF));
}

#define CTL_SRST 0x04

bool ata_reset(struct ata_disk *d)
{
    d->ports.control(d->ports.ctx, CTL_SRST | CTL_NIEN);
    settle(d);
    d->ports.control(d->ports.ctx, CTL_NIEN);
    settle(d);
    select_device(d, 0);
    return ata_wait_ready(d) != 0xff;
}

bool ata_pio_flush(struct ata_disk *d)
{
    if (ata_wait_ready(d) == 0xff)
        return false;
    select_device(d, 0);
    d->ports.out8(d->ports.ctx, REG_COMMAND, d->lba48 ? CMD_FLUSH_CACHE_EXT : CMD_FLUSH_CACHE);
    settle(d);
    uint8_t st = ata_wait_ready(d);
    return st != 0xff && !(st & (ST_ERR | ST_DF));
}
