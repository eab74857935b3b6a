/*
 * IDE/ATA and ATAPI (ATA/ATAPI-6; MMC-3; 82371SB bus master).  Every command runs to
 * completion when the host has given what it needs: BSY is never seen.  A data
 * transfer is a stream of blocks (512-byte sectors for a disk, 2048-byte blocks for
 * a CD, or one response the device built) that the host drains through the data
 * port in DRQ blocks, or the bus master moves through the PRD table in one go.
 */
#include "ata.h"

#define BM_START        0x01
#define BM_READ         0x08    /* the bus master writes memory: a device-to-host transfer */
#define BM_ACTIVE       0x01
#define BM_ERROR        0x02
#define BM_INTERRUPT    0x04
#define BM_CAPABLE      0x60    /* drive 0/1 DMA capable: kept for the BIOS */
#define PRD_EOT         0x8000u
#define PRD_MAX         8192    /* a 64 KiB table */

#define IR_COD          0x01    /* interrupt reason (ATAPI, in the sector count register) */
#define IR_IO           0x02

#define DEVICE_LBA      0x40
#define DEVICE_SLAVE    0x10

#define HEADS           16
#define SECTORS_PER_TRACK 63

static struct ata_drive *selected(struct ata_channel *ch)
{
    return &ch->drive[(ch->device & DEVICE_SLAVE) ? 1 : 0];
}

static uint32_t block_size(const struct ata_drive *d)
{
    return d->atapi ? ATAPI_BLOCK : ATA_SECTOR;
}

static void update_irq(struct ata_channel *ch)
{
    irq_line_set(&ch->irq, ch->irq_pending && !(ch->control & ATA_NIEN));
}

static void raise_irq(struct ata_channel *ch)
{
    ch->irq_pending = true;
    ch->bm_status |= BM_INTERRUPT;
    update_irq(ch);
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void be16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void be32(uint8_t *p, uint32_t v) { be16(p, v >> 16); be16(p + 2, v); }
static uint32_t get_be(const uint8_t *p, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}
static uint32_t get_le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void clear_buffer(struct ata_channel *ch)
{
    for (unsigned i = 0; i < sizeof(ch->buffer); i++)
        ch->buffer[i] = 0;
}

/* ---- Signatures, completion, errors -------------------------------------------- */

static void signature(struct ata_channel *ch, const struct ata_drive *d)
{
    ch->nsector = ch->lbal = 1;
    ch->lbam = d->atapi ? 0x14 : 0;
    ch->lbah = d->atapi ? 0xeb : 0;
    ch->error = 1;                      /* diagnostics passed */
}

static void channel_reset(struct ata_channel *ch)
{
    ch->device = 0;
    signature(ch, &ch->drive[0]);
    ch->phase = ATA_IDLE;
    ch->status = ch->drive[0].present && !ch->drive[0].atapi ? ATA_DRDY | ATA_DSC : 0;
    ch->irq_pending = false;
    update_irq(ch);
}

static void complete(struct ata_channel *ch)
{
    ch->phase = ATA_IDLE;
    ch->status = ATA_DRDY | ATA_DSC;
    ch->error = 0;
    if (ch->command == 0xa0)
        ch->nsector = IR_IO | IR_COD;
    raise_irq(ch);
}

static void ata_abort(struct ata_channel *ch, uint8_t error)
{
    ch->phase = ATA_IDLE;
    ch->status = ATA_DRDY | ATA_ERR;
    ch->error = error;
    raise_irq(ch);
}

static void check_condition(struct ata_channel *ch, uint8_t key, uint8_t asc)
{
    struct ata_drive *d = selected(ch);
    d->sense_key = key;
    d->asc = asc;
    d->ascq = 0;
    ch->phase = ATA_IDLE;
    ch->status = ATA_DRDY | ATA_ERR;
    ch->error = (uint8_t)(key << 4 | ATA_ABRT);
    ch->nsector = IR_IO | IR_COD;
    raise_irq(ch);
}

/* ---- The data stream ----------------------------------------------------------- */

/* Refill the buffer with the next block from the medium when it is empty. */
static bool refill(struct ata_channel *ch)
{
    if (ch->buffer_pos < ch->buffer_len || !ch->from_disk)
        return true;
    struct ata_drive *d = selected(ch);
    uint32_t n = block_size(d);
    if (ch->lba >= d->blocks || !d->read(d->ctx, ch->lba * n, ch->buffer, n))
        return false;
    ch->lba++;
    ch->buffer_pos = 0;
    ch->buffer_len = n;
    return true;
}

/* A full block came from the host: onto the medium. */
static bool flush_block(struct ata_channel *ch)
{
    struct ata_drive *d = selected(ch);
    if (ch->lba >= d->blocks || d->read_only || !d->write ||
        !d->write(d->ctx, ch->lba * ATA_SECTOR, ch->buffer, ATA_SECTOR))
        return false;
    ch->lba++;
    ch->buffer_pos = 0;
    return true;
}

/* ---- PIO ----------------------------------------------------------------------- */

/* ATAPI: the next DRQ block of at most the host's byte count limit. */
static void atapi_next_chunk(struct ata_channel *ch)
{
    uint32_t n = ch->bytes_left < ch->byte_limit ? ch->bytes_left : ch->byte_limit;
    ch->chunk_left = n;
    ch->lbam = (uint8_t)n;
    ch->lbah = (uint8_t)(n >> 8);
    ch->nsector = IR_IO;
    ch->status = ATA_DRDY | ATA_DRQ;
    ch->phase = ATA_PIO_IN;
    raise_irq(ch);
}

/* Start handing `bytes` to the host (the buffer or the medium is ready). */
static void start_pio_in(struct ata_channel *ch, uint32_t bytes)
{
    ch->bytes_left = bytes;
    if (ch->command == 0xa0) {
        atapi_next_chunk(ch);
        return;
    }
    if (!refill(ch)) {
        ata_abort(ch, ATA_ABRT | ATA_IDNF);
        return;
    }
    ch->chunk_left = ATA_SECTOR;
    ch->phase = ATA_PIO_IN;
    ch->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
    raise_irq(ch);
}

static uint8_t pio_in_byte(struct ata_channel *ch)
{
    if (ch->phase != ATA_PIO_IN)
        return 0xff;
    if (!refill(ch)) {
        ata_abort(ch, ATA_ABRT | ATA_IDNF);
        return 0;
    }
    uint8_t byte = ch->buffer_pos < ch->buffer_len ? ch->buffer[ch->buffer_pos] : 0;
    ch->buffer_pos++;
    ch->bytes_left--;
    if (--ch->chunk_left)
        return byte;
    /* the end of a DRQ block */
    if (ch->bytes_left == 0) {
        if (ch->command == 0xa0) {
            complete(ch);
        } else {
            ch->phase = ATA_IDLE;
            ch->status = ATA_DRDY | ATA_DSC;    /* no interrupt after the last data-in block */
        }
    } else if (ch->command == 0xa0) {
        atapi_next_chunk(ch);
    } else {
        ch->chunk_left = ATA_SECTOR;
        raise_irq(ch);
    }
    return byte;
}

static void run_packet(struct ata_channel *ch);

static void pio_out_byte(struct ata_channel *ch, uint8_t byte)
{
    if (ch->phase == ATA_PACKET) {
        ch->buffer[ch->buffer_pos++] = byte;
        if (ch->buffer_pos == 12)
            run_packet(ch);
        return;
    }
    if (ch->phase != ATA_PIO_OUT)
        return;
    ch->buffer[ch->buffer_pos++] = byte;
    if (ch->buffer_pos < ATA_SECTOR)
        return;
    if (!flush_block(ch)) {
        ata_abort(ch, ATA_ABRT);
        return;
    }
    ch->bytes_left -= ATA_SECTOR;
    if (ch->bytes_left == 0) {
        complete(ch);
    } else {
        ch->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
        raise_irq(ch);
    }
}

/* ---- DMA ----------------------------------------------------------------------- */

static void run_dma(struct ata_channel *ch)
{
    struct ata_drive *d = selected(ch);
    bool ok = true, exact = false;
    uint8_t prd[8];
    for (unsigned i = 0; ok && ch->bytes_left && i < PRD_MAX; i++) {
        if (!ch->memory.read || !ch->memory.read(ch->memory.ctx, ch->prd_table + 8ull * i, prd, 8)) {
            ok = false;
            break;
        }
        uint64_t address = get_le32(prd);
        uint32_t count = (uint32_t)(prd[4] | prd[5] << 8);
        bool eot = (prd[6] | prd[7] << 8) & PRD_EOT;
        if (count == 0)
            count = 0x10000;
        uint32_t n = count < ch->bytes_left ? count : ch->bytes_left;
        for (uint32_t done = 0; ok && done < n; ) {
            if (ch->to_device) {
                uint32_t piece = ATA_SECTOR - ch->buffer_pos;
                if (piece > n - done)
                    piece = n - done;
                ok = ch->memory.read(ch->memory.ctx, address + done, ch->buffer + ch->buffer_pos, piece);
                ch->buffer_pos += piece;
                done += piece;
                if (ok && ch->buffer_pos == ATA_SECTOR)
                    ok = flush_block(ch);
            } else {
                ok = refill(ch);
                uint32_t piece = ch->buffer_len - ch->buffer_pos;
                if (piece > n - done)
                    piece = n - done;
                ok = ok && ch->memory.write &&
                     ch->memory.write(ch->memory.ctx, address + done, ch->buffer + ch->buffer_pos, piece);
                ch->buffer_pos += piece;
                done += piece;
            }
        }
        ch->bytes_left -= n;
        exact = eot && n == count;
        if (eot && ch->bytes_left)
            ok = false;                 /* the table ended before the data */
    }
    if (ch->bytes_left)
        ok = false;
    (void)d;
    if (!ok) {
        ch->bm_status = (uint8_t)((ch->bm_status & ~BM_ACTIVE) | BM_ERROR);
        ata_abort(ch, ATA_ABRT);
        return;
    }
    /* a table longer than the data leaves the engine active (82371SB §2.7.3) */
    if (exact)
        ch->bm_status &= (uint8_t)~BM_ACTIVE;
    complete(ch);
}

static void start_dma(struct ata_channel *ch, uint32_t bytes, bool to_device)
{
    ch->bytes_left = bytes;
    ch->to_device = to_device;
    ch->buffer_pos = 0;
    ch->buffer_len = 0;
    ch->phase = ATA_DMA;
    ch->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
    if (ch->bm_command & BM_START)
        run_dma(ch);
}

/* ---- IDENTIFY ------------------------------------------------------------------ */

/* ATA strings: two characters a word, the first in the high byte, space-padded. */
static void id_string(uint8_t *id, unsigned word, unsigned words, const char *s)
{
    unsigned n = 0;
    while (s[n])
        n++;
    for (unsigned i = 0; i < 2 * words; i++) {
        char c = i < n ? s[i] : ' ';
        id[2 * word + (i ^ 1)] = (uint8_t)c;
    }
}

static void identify(struct ata_channel *ch, const struct ata_drive *d, unsigned slot)
{
    uint8_t *id = ch->buffer;
    clear_buffer(ch);
    char serial[21] = "PITH-000000000000000";
    serial[19] = (char)('0' + slot);
    id_string(id, 10, 10, serial);
    id_string(id, 23, 4, "1.0");
    if (d->atapi) {
        put16(id + 0 * 2, 0x85c0);          /* ATAPI, CD-ROM, removable, 12-byte packets */
        id_string(id, 27, 20, "PITH VIRTUAL CD-ROM");
        put16(id + 49 * 2, 0x0300);         /* LBA, DMA */
        put16(id + 53 * 2, 0x0006);         /* words 64-70 and 88 valid */
        put16(id + 63 * 2, 0x0407);         /* multiword DMA 0-2, 2 selected */
        put16(id + 64 * 2, 0x0003);         /* PIO 3 and 4 */
        for (unsigned w = 65; w <= 68; w++)
            put16(id + w * 2, 120);
        put16(id + 80 * 2, 0x0070);         /* ATA/ATAPI-4 to -6 */
        put16(id + 82 * 2, 0x4010);         /* PACKET, NOP */
        put16(id + 83 * 2, 0x4000);
        put16(id + 84 * 2, 0x4000);
        put16(id + 85 * 2, 0x4010);
        put16(id + 87 * 2, 0x4000);
        return;
    }
    uint64_t chs_sectors = d->blocks < 16383ull * HEADS * SECTORS_PER_TRACK ? d->blocks
                                                                            : 16383ull * HEADS * SECTORS_PER_TRACK;
    uint32_t cylinders = (uint32_t)(chs_sectors / (HEADS * SECTORS_PER_TRACK));
    uint32_t lba28 = d->blocks < 0x0fffffff ? (uint32_t)d->blocks : 0x0fffffff;
    put16(id + 0 * 2, 0x0040);              /* fixed device */
    put16(id + 1 * 2, (uint16_t)cylinders);
    put16(id + 3 * 2, HEADS);
    put16(id + 6 * 2, SECTORS_PER_TRACK);
    id_string(id, 27, 20, "PITH VIRTUAL DISK");
    put16(id + 47 * 2, 0x8000);             /* no READ/WRITE MULTIPLE */
    put16(id + 49 * 2, 0x0300);             /* LBA, DMA */
    put16(id + 50 * 2, 0x4000);
    put16(id + 53 * 2, 0x0007);             /* words 54-58, 64-70, 88 valid */
    put16(id + 54 * 2, (uint16_t)cylinders);
    put16(id + 55 * 2, HEADS);
    put16(id + 56 * 2, SECTORS_PER_TRACK);
    uint32_t chs_capacity = cylinders * HEADS * SECTORS_PER_TRACK;
    put16(id + 57 * 2, (uint16_t)chs_capacity);
    put16(id + 58 * 2, (uint16_t)(chs_capacity >> 16));
    put16(id + 60 * 2, (uint16_t)lba28);
    put16(id + 61 * 2, (uint16_t)(lba28 >> 16));
    put16(id + 63 * 2, 0x0407);
    put16(id + 64 * 2, 0x0003);
    for (unsigned w = 65; w <= 68; w++)
        put16(id + w * 2, 120);
    put16(id + 80 * 2, 0x00f0);             /* ATA-4 to ATA-7 */
    put16(id + 82 * 2, 0x4000);             /* NOP */
    put16(id + 83 * 2, 0x7400);             /* LBA48, FLUSH CACHE, FLUSH CACHE EXT */
    put16(id + 84 * 2, 0x4000);
    put16(id + 85 * 2, 0x4000);
    put16(id + 86 * 2, 0x3400);
    put16(id + 87 * 2, 0x4000);
    for (unsigned i = 0; i < 4; i++)
        put16(id + (100 + i) * 2, (uint16_t)(d->blocks >> (16 * i)));
}

/* ---- ATA commands -------------------------------------------------------------- */

static bool lba28_address(struct ata_channel *ch, uint64_t *lba)
{
    if (ch->device & DEVICE_LBA) {
        *lba = (uint64_t)(ch->device & 0x0f) << 24 | (uint64_t)ch->lbah << 16 | ch->lbam << 8 | ch->lbal;
        return true;
    }
    /* CHS in the translated geometry the IDENTIFY data reports */
    uint32_t cylinder = ch->lbam | ch->lbah << 8, head = ch->device & 0x0f, sector = ch->lbal;
    if (sector == 0 || sector > SECTORS_PER_TRACK)
        return false;
    *lba = ((uint64_t)cylinder * HEADS + head) * SECTORS_PER_TRACK + sector - 1;
    return true;
}

static uint64_t lba48_address(const struct ata_channel *ch)
{
    return (uint64_t)ch->hob_lbah << 40 | (uint64_t)ch->hob_lbam << 32 | (uint64_t)ch->hob_lbal << 24 |
           (uint64_t)ch->lbah << 16 | (uint64_t)ch->lbam << 8 | ch->lbal;
}

/* Set up a read or write of sectors; false: out of range (aborted). */
static bool setup_rw(struct ata_channel *ch, struct ata_drive *d, bool ext)
{
    uint64_t lba;
    uint32_t count;
    if (ext) {
        lba = lba48_address(ch);
        count = (uint32_t)(ch->hob_nsector << 8 | ch->nsector);
        if (count == 0)
            count = 65536;
    } else {
        if (!lba28_address(ch, &lba)) {
            ata_abort(ch, ATA_ABRT | ATA_IDNF);
            return false;
        }
        count = ch->nsector ? ch->nsector : 256;
    }
    if (lba >= d->blocks || count > d->blocks - lba) {
        ata_abort(ch, ATA_ABRT | ATA_IDNF);
        return false;
    }
    ch->lba = lba;
    ch->from_disk = true;
    ch->buffer_pos = ch->buffer_len = 0;
    ch->bytes_left = count * ATA_SECTOR;
    return true;
}

static void command(struct ata_channel *ch, uint8_t cmd)
{
    unsigned slot = (ch->device & DEVICE_SLAVE) ? 1 : 0;
    struct ata_drive *d = &ch->drive[slot];
    if (!d->present)
        return;                         /* nobody to answer */
    ch->command = cmd;
    ch->irq_pending = false;
    update_irq(ch);
    if (d->atapi) {
        switch (cmd) {
        case 0xa1:                      /* IDENTIFY PACKET DEVICE */
            identify(ch, d, slot);
            ch->from_disk = false;
            ch->buffer_pos = 0;
            ch->buffer_len = ATA_SECTOR;
            ch->bytes_left = ATA_SECTOR;
            ch->chunk_left = ATA_SECTOR;
            ch->phase = ATA_PIO_IN;
            ch->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
            raise_irq(ch);
            return;
        case 0xa0:                      /* PACKET */
            ch->phase = ATA_PACKET;
            ch->buffer_pos = 0;
            ch->buffer_len = 12;
            ch->nsector = IR_COD;
            ch->status = ATA_DRDY | ATA_DRQ;
            ch->to_device = ch->feature & 0x01;     /* remembered: DMA wanted */
            return;
        case 0x08:                      /* DEVICE RESET */
            signature(ch, d);
            ch->phase = ATA_IDLE;
            ch->status = 0;
            return;
        case 0xec:                      /* IDENTIFY DEVICE: not an ATA device */
            signature(ch, d);
            ata_abort(ch, ATA_ABRT);
            ch->status = ATA_ERR;       /* DRDY stays clear on a packet device */
            return;
        case 0xef:                      /* SET FEATURES */
        case 0x00:                      /* NOP */
        case 0xe5:
            complete(ch);
            return;
        }
        ata_abort(ch, ATA_ABRT);
        return;
    }
    switch (cmd) {
    case 0xec:                          /* IDENTIFY DEVICE */
        identify(ch, d, slot);
        ch->from_disk = false;
        ch->buffer_pos = 0;
        ch->buffer_len = ATA_SECTOR;
        start_pio_in(ch, ATA_SECTOR);
        return;
    case 0x20: case 0x21:               /* READ SECTORS (with and without retries) */
    case 0x24:                          /* READ SECTORS EXT */
        if (setup_rw(ch, d, cmd == 0x24))
            start_pio_in(ch, ch->bytes_left);
        return;
    case 0x30: case 0x31: case 0x34:    /* WRITE SECTORS (EXT) */
        if (d->read_only) {
            ata_abort(ch, ATA_ABRT);
            return;
        }
        if (setup_rw(ch, d, cmd == 0x34)) {
            ch->from_disk = false;
            ch->phase = ATA_PIO_OUT;
            ch->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
        }
        return;
    case 0xc8: case 0xc9: case 0x25:    /* READ DMA (EXT) */
        if (setup_rw(ch, d, cmd == 0x25))
            start_dma(ch, ch->bytes_left, false);
        return;
    case 0xca: case 0xcb: case 0x35:    /* WRITE DMA (EXT) */
        if (d->read_only) {
            ata_abort(ch, ATA_ABRT);
            return;
        }
        if (setup_rw(ch, d, cmd == 0x35)) {
            ch->from_disk = false;
            start_dma(ch, ch->bytes_left, true);
        }
        return;
    case 0x40: case 0x41: case 0x42:    /* READ VERIFY SECTORS (EXT): checks the range only */
        if (setup_rw(ch, d, cmd == 0x42))
            complete(ch);
        return;
    case 0xe5:                          /* CHECK POWER MODE: active */
        ch->nsector = 0xff;
        complete(ch);
        return;
    case 0xe7: case 0xea:               /* FLUSH CACHE (EXT): writes are through */
    case 0xef:                          /* SET FEATURES: transfer modes and caches */
    case 0x91:                          /* INITIALIZE DEVICE PARAMETERS */
    case 0xe0: case 0xe1: case 0xe2: case 0xe3:     /* standby / idle */
        complete(ch);
        return;
    }
    if ((cmd & 0xf0) == 0x10) {         /* RECALIBRATE */
        complete(ch);
        return;
    }
    ata_abort(ch, ATA_ABRT);
}

/* ---- ATAPI packets ------------------------------------------------------------- */

static void respond(struct ata_channel *ch, uint32_t length, uint32_t allocation)
{
    uint32_t n = length < allocation ? length : allocation;
    ch->from_disk = false;
    ch->buffer_pos = 0;
    ch->buffer_len = n;
    if (n == 0) {
        complete(ch);
        return;
    }
    if (ch->to_device)                  /* the packet asked for DMA */
        start_dma(ch, n, false);
    else
        start_pio_in(ch, n);
}

static uint32_t mode_page(uint8_t *p, unsigned page)
{
    if (page == 0x01) {                 /* read/write error recovery */
        p[0] = 0x01;
        p[1] = 0x06;
        return 8;
    }
    if (page == 0x2a) {                 /* CD capabilities and mechanical status */
        p[0] = 0x2a;
        p[1] = 0x12;
        p[2] = 0x03;                    /* reads CD-R and CD-RW */
        p[4] = 0x71;                    /* audio play, composite, digital ports, multisession */
        p[5] = 0x00;
        p[6] = 0x29;                    /* tray, eject, lock */
        be16(p + 8, 706);               /* maximum speed, KB/s */
        be16(p + 10, 256);              /* volume levels */
        be16(p + 12, 512);              /* buffer, KiB */
        be16(p + 14, 706);
        return 20;
    }
    return 0;
}

static void lba_to_msf(uint8_t *p, uint32_t lba)
{
    lba += 150;
    p[0] = 0;
    p[1] = (uint8_t)(lba / (75 * 60));
    p[2] = (uint8_t)(lba / 75 % 60);
    p[3] = (uint8_t)(lba % 75);
}

static void run_packet(struct ata_channel *ch)
{
    struct ata_drive *d = selected(ch);
    uint8_t cdb[12];
    for (unsigned i = 0; i < 12; i++)
        cdb[i] = ch->buffer[i];
    uint32_t limit = ch->lbam | ch->lbah << 8;
    if (limit == 0 || limit == 0xffff)
        limit = 0xfffe;
    ch->byte_limit = limit & ~1u;
    if (ch->byte_limit == 0)
        ch->byte_limit = 2;
    uint8_t *r = ch->buffer;
    clear_buffer(ch);

    switch (cdb[0]) {
    case 0x00:                          /* TEST UNIT READY */
    case 0x1b:                          /* START STOP UNIT */
    case 0x1e:                          /* PREVENT ALLOW MEDIUM REMOVAL */
    case 0x2b:                          /* SEEK */
        complete(ch);
        return;
    case 0x03: {                        /* REQUEST SENSE */
        r[0] = 0x70;
        r[2] = d->sense_key;
        r[7] = 10;
        r[12] = d->asc;
        r[13] = d->ascq;
        d->sense_key = d->asc = d->ascq = 0;
        respond(ch, 18, cdb[4]);
        return;
    }
    case 0x12:                          /* INQUIRY */
        if (cdb[1] & 0x01) {            /* vital product data: none */
            check_condition(ch, SENSE_ILLEGAL_REQUEST, 0x24);
            return;
        }
        r[0] = 0x05;                    /* CD/DVD device */
        r[1] = 0x80;                    /* removable */
        r[2] = 0x00;
        r[3] = 0x21;                    /* ATAPI, response format 1 */
        r[4] = 31;
        for (unsigned i = 0; i < 28; i++)
            r[8 + i] = (uint8_t)"PITH    VIRTUAL CD-ROM  1.0 "[i];
        respond(ch, 36, get_be(cdb + 3, 2));
        return;
    case 0x25:                          /* READ CAPACITY */
        be32(r, (uint32_t)(d->blocks ? d->blocks - 1 : 0));
        be32(r + 4, ATAPI_BLOCK);
        respond(ch, 8, 8);
        return;
    case 0x28:                          /* READ(10) */
    case 0xa8: {                        /* READ(12) */
        uint32_t lba = get_be(cdb + 2, 4);
        uint32_t count = cdb[0] == 0x28 ? get_be(cdb + 7, 2) : get_be(cdb + 6, 4);
        if (lba >= d->blocks || count > d->blocks - lba) {
            check_condition(ch, SENSE_ILLEGAL_REQUEST, 0x21);   /* LBA out of range */
            return;
        }
        if (count == 0) {
            complete(ch);
            return;
        }
        if (count > 0xffffffffu / ATAPI_BLOCK) {
            check_condition(ch, SENSE_ILLEGAL_REQUEST, 0x24);
            return;
        }
        ch->lba = lba;
        ch->from_disk = true;
        ch->buffer_pos = ch->buffer_len = 0;
        if (ch->to_device)
            start_dma(ch, count * ATAPI_BLOCK, false);
        else
            start_pio_in(ch, count * ATAPI_BLOCK);
        return;
    }
    case 0x1a:                          /* MODE SENSE(6) */
    case 0x5a: {                        /* MODE SENSE(10) */
        bool ten = cdb[0] == 0x5a;
        unsigned page = cdb[2] & 0x3f, header = ten ? 8 : 4;
        uint32_t n = header;
        if (page == 0x3f) {
            n += mode_page(r + n, 0x01);
            n += mode_page(r + n, 0x2a);
        } else {
            uint32_t m = mode_page(r + n, page);
            if (!m) {
                check_condition(ch, SENSE_ILLEGAL_REQUEST, 0x24);
                return;
            }
            n += m;
        }
        if (ten) {
            be16(r, n - 2);
            r[2] = 0x70;                /* medium type: door closed, no disc type */
        } else {
            r[0] = (uint8_t)(n - 1);
            r[1] = 0x70;
        }
        respond(ch, n, ten ? get_be(cdb + 7, 2) : cdb[4]);
        return;
    }
    case 0x46: {                        /* GET CONFIGURATION */
        /* the header with the current profile (CD-ROM), then the profile list */
        uint32_t n = 8;
        unsigned rt = cdb[1] & 3, start = get_be(cdb + 2, 2);
        if (rt != 2 || start == 0) {
            be16(r + n, 0x0000);        /* profile list feature */
            r[n + 2] = 0x03;            /* persistent, current */
            r[n + 3] = 4;
            be16(r + n + 4, 0x0008);    /* CD-ROM */
            r[n + 6] = 0x01;            /* current */
            n += 8;
        }
        be32(r, n - 4);
        be16(r + 6, 0x0008);
        respond(ch, n, get_be(cdb + 7, 2));
        return;
    }
    case 0x43: {                        /* READ TOC */
        bool msf = cdb[1] & 0x02;
        unsigned format = cdb[9] >> 6 ? cdb[9] >> 6 : cdb[2] & 0x0f;
        uint32_t n;
        if (format == 0) {              /* one data track and the lead-out */
            r[2] = r[3] = 1;
            r[5] = 0x14;                /* data track, copy permitted */
            r[6] = 1;
            if (msf) lba_to_msf(r + 8, 0); else be32(r + 8, 0);
            r[13] = 0x16;
            r[14] = 0xaa;
            if (msf) lba_to_msf(r + 16, (uint32_t)d->blocks); else be32(r + 16, (uint32_t)d->blocks);
            n = 20;
        } else if (format == 1) {       /* session information: one session */
            r[2] = r[3] = 1;
            r[5] = 0x14;
            r[6] = 1;
            n = 12;
        } else {
            check_condition(ch, SENSE_ILLEGAL_REQUEST, 0x24);
            return;
        }
        be16(r, n - 2);
        respond(ch, n, get_be(cdb + 7, 2));
        return;
    }
    case 0x4a:                          /* GET EVENT STATUS NOTIFICATION */
        if (!(cdb[1] & 0x01)) {         /* only polled operation */
            check_condition(ch, SENSE_ILLEGAL_REQUEST, 0x24);
            return;
        }
        be16(r, 6);
        r[2] = 0x04;                    /* media class */
        r[3] = 0x10;                    /* supported: media */
        r[4] = 0x00;                    /* no change */
        r[5] = 0x02;                    /* media present */
        respond(ch, 8, get_be(cdb + 7, 2));
        return;
    }
    check_condition(ch, SENSE_ILLEGAL_REQUEST, 0x20);       /* invalid command operation code */
}

/* ---- Register windows ---------------------------------------------------------- */

static bool channel_empty(const struct ata_channel *ch)
{
    return !ch->drive[0].present && !ch->drive[1].present;
}

static uint8_t status_of(struct ata_channel *ch)
{
    if (!selected(ch)->present)
        return 0;
    return ch->status;
}

static uint64_t command_read(void *dev, uint64_t offset, unsigned size)
{
    struct ata_channel *ch = dev;
    if (channel_empty(ch))
        return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    bool hob = ch->control & ATA_HOB;
    switch (offset) {
    case 0: {
        uint64_t value = 0;
        for (unsigned i = 0; i < size; i++)
            value |= (uint64_t)pio_in_byte(ch) << (8 * i);
        return value;
    }
    case 1: return hob ? ch->hob_feature : ch->error;
    case 2: return hob ? ch->hob_nsector : ch->nsector;
    case 3: return hob ? ch->hob_lbal : ch->lbal;
    case 4: return hob ? ch->hob_lbam : ch->lbam;
    case 5: return hob ? ch->hob_lbah : ch->lbah;
    case 6: return ch->device | 0xa0;
    case 7:
        ch->irq_pending = false;
        update_irq(ch);
        return status_of(ch);
    }
    return 0xff;
}

static void command_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct ata_channel *ch = dev;
    uint8_t v = (uint8_t)value;
    if (offset != 0 && offset != 7)
        ch->control &= (uint8_t)~ATA_HOB;   /* writing the task file clears HOB */
    switch (offset) {
    case 0:
        for (unsigned i = 0; i < size; i++)
            pio_out_byte(ch, (uint8_t)(value >> (8 * i)));
        break;
    case 1: ch->hob_feature = ch->feature; ch->feature = v; break;
    case 2: ch->hob_nsector = ch->nsector; ch->nsector = v; break;
    case 3: ch->hob_lbal = ch->lbal; ch->lbal = v; break;
    case 4: ch->hob_lbam = ch->lbam; ch->lbam = v; break;
    case 5: ch->hob_lbah = ch->lbah; ch->lbah = v; break;
    case 6: ch->device = v & 0x5f; break;
    case 7:
        if (ch->phase == ATA_IDLE || v == 0x08)
            command(ch, v);
        break;
    }
}

static uint64_t control_read(void *dev, uint64_t offset, unsigned size)
{
    struct ata_channel *ch = dev;
    (void)size;
    if (offset != 0 || channel_empty(ch))
        return 0xff;
    return status_of(ch);               /* the alternate status: no interrupt acknowledge */
}

static void control_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct ata_channel *ch = dev;
    (void)size;
    if (offset != 0)
        return;
    uint8_t old = ch->control;
    ch->control = (uint8_t)value & (ATA_NIEN | ATA_SRST | ATA_HOB);
    if (ch->control & ATA_SRST) {
        ch->status = ATA_BSY;
        ch->phase = ATA_IDLE;
    } else if (old & ATA_SRST) {
        channel_reset(ch);              /* the end of the reset pulse */
    }
    update_irq(ch);
}

static void channel_bm_write(struct ata_channel *ch, unsigned offset, unsigned size, uint32_t value)
{
    if (offset == 0) {
        uint8_t old = ch->bm_command;
        ch->bm_command = (uint8_t)value & (BM_START | BM_READ);
        if ((ch->bm_command & BM_START) && !(old & BM_START)) {
            ch->bm_status |= BM_ACTIVE;
            if (ch->phase == ATA_DMA)
                run_dma(ch);
        } else if (!(ch->bm_command & BM_START)) {
            ch->bm_status &= (uint8_t)~BM_ACTIVE;
        }
    } else if (offset == 2) {
        uint8_t v = (uint8_t)value;
        ch->bm_status = (uint8_t)((ch->bm_status & ~BM_CAPABLE & ~(v & (BM_ERROR | BM_INTERRUPT))) |
                                  (v & BM_CAPABLE));
    } else if (offset >= 4 && offset < 8) {
        for (unsigned i = 0; i < size && offset + i < 8; i++) {
            unsigned shift = 8 * (offset - 4 + i);
            ch->prd_table = (ch->prd_table & ~(0xffu << shift)) | ((value >> (8 * i)) & 0xff) << shift;
        }
        ch->prd_table &= ~3u;
    }
}

static uint64_t bmide_read(void *dev, uint64_t offset, unsigned size)
{
    struct ata_controller *c = dev;
    if (offset >= ATA_BMIDE_SIZE)
        return 0xff;
    struct ata_channel *ch = &c->channel[offset >= 8];
    unsigned reg = offset & 7;
    if (reg == 0)
        return ch->bm_command;
    if (reg == 2)
        return ch->bm_status;
    if (reg >= 4) {
        uint32_t v = ch->prd_table >> (8 * (reg - 4));
        return size >= 4 ? v : v & ((1u << (8 * size)) - 1);
    }
    return 0;
}

static void bmide_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct ata_controller *c = dev;
    if (offset < ATA_BMIDE_SIZE)
        channel_bm_write(&c->channel[offset >= 8], offset & 7, size, (uint32_t)value);
}

static void channel_full_reset(struct ata_channel *ch)
{
    ch->control = 0;
    ch->bm_command = 0;
    ch->bm_status &= BM_CAPABLE;
    ch->prd_table = 0;
    channel_reset(ch);
}

static void ata_reset(void *dev)
{
    struct ata_channel *ch = dev;
    channel_full_reset(ch);
}

static void bmide_reset(void *dev)
{
    (void)dev;                          /* the command window's reset covers the channel */
}

const struct device_ops ata_command_ops = { "ata", command_read, command_write, ata_reset };
const struct device_ops ata_control_ops = { "ata-control", control_read, control_write, bmide_reset };
const struct device_ops ata_bmide_ops = { "ata-bmide", bmide_read, bmide_write, bmide_reset };

void ata_init(struct ata_controller *c, struct guest_memory memory,
              struct irq_line primary, struct irq_line secondary)
{
    *c = (struct ata_controller){ 0 };
    for (unsigned i = 0; i < 2; i++) {
        c->channel[i].memory = memory;
        c->channel[i].irq = i ? secondary : primary;
        channel_full_reset(&c->channel[i]);
    }
    pci_function_init(&c->function, 0x8086, PIIX3_IDE_DEVICE, 0x010180, 0);
    pci_function_set_bar(&c->function, 4, ATA_BMIDE_SIZE, PCI_BAR_IO);
    /* IDETIM: both channels decoded (bit 15), timings kept but meaningless here */
    c->function.config[0x41] = 0x80;
    c->function.config[0x43] = 0x80;
    for (unsigned r = 0x40; r < 0x45; r++)
        c->function.writable[r] = 0xff;
}

static bool attach(struct ata_controller *c, unsigned channel, unsigned slot, struct ata_drive d)
{
    if (channel > 1 || slot > 1 || c->channel[channel].drive[slot].present || !d.read || d.blocks == 0)
        return false;
    c->channel[channel].drive[slot] = d;
    c->channel[channel].bm_status |= (uint8_t)(0x20 << slot);
    channel_reset(&c->channel[channel]);
    return true;
}

bool ata_attach_disk(struct ata_controller *c, unsigned channel, unsigned slot, uint64_t bytes,
                     bool read_only, bool (*read)(void *, uint64_t, void *, size_t),
                     bool (*write)(void *, uint64_t, const void *, size_t), void *ctx)
{
    if (bytes % ATA_SECTOR || (!read_only && !write))
        return false;
    return attach(c, channel, slot, (struct ata_drive){
        .present = true, .read_only = read_only, .blocks = bytes / ATA_SECTOR,
        .read = read, .write = write, .ctx = ctx });
}

bool ata_attach_cdrom(struct ata_controller *c, unsigned channel, unsigned slot, uint64_t bytes,
                      bool (*read)(void *, uint64_t, void *, size_t), void *ctx)
{
    return attach(c, channel, slot, (struct ata_drive){
        .present = true, .atapi = true, .read_only = true, .blocks = bytes / ATAPI_BLOCK,
        .read = read, .ctx = ctx });
}

uint16_t ata_bmide_base(const struct ata_controller *c)
{
    return (uint16_t)pci_function_bar_address(&c->function, 4);
}

/* ---- The medium: an image under the guest's writes ---------------------------------- */

void ata_image_init(struct ata_image *image, const uint8_t *data, uint64_t size,
                    void *(*alloc)(size_t bytes))
{
    *image = (struct ata_image){ .data = data, .size = size, .alloc = alloc };
}

static bool image_in_range(const struct ata_image *image, uint64_t offset, size_t length)
{
    return offset <= image->size && length <= image->size - offset;
}

bool ata_image_read(void *ctx, uint64_t offset, void *buf, size_t length)
{
    const struct ata_image *image = ctx;
    if (!image_in_range(image, offset, length))
        return false;
    uint8_t *out = buf;
    while (length) {
        uint64_t chunk = offset / ATA_IMAGE_CHUNK, within = offset % ATA_IMAGE_CHUNK;
        size_t n = ATA_IMAGE_CHUNK - within < length ? ATA_IMAGE_CHUNK - within : length;
        const uint8_t *from = image->chunks && image->chunks[chunk] ? image->chunks[chunk] + within
                                                                    : image->data + offset;
        __builtin_memcpy(out, from, n);
        out += n, offset += n, length -= n;
    }
    return true;
}

/* The chunk's own copy, made from the image (its last chunk may be short). */
static uint8_t *image_chunk(struct ata_image *image, uint64_t chunk)
{
    if (!image->chunks) {
        uint64_t count = (image->size + ATA_IMAGE_CHUNK - 1) / ATA_IMAGE_CHUNK;
        image->chunks = image->alloc(count * sizeof(*image->chunks));
        if (!image->chunks)
            return NULL;
        __builtin_memset(image->chunks, 0, count * sizeof(*image->chunks));
    }
    if (!image->chunks[chunk]) {
        uint8_t *copy = image->alloc(ATA_IMAGE_CHUNK);
        if (!copy)
            return NULL;
        uint64_t start = chunk * ATA_IMAGE_CHUNK;
        uint64_t n = image->size - start < ATA_IMAGE_CHUNK ? image->size - start : ATA_IMAGE_CHUNK;
        __builtin_memcpy(copy, image->data + start, n);
        image->chunks[chunk] = copy;
        image->chunks_copied++;
    }
    return image->chunks[chunk];
}

bool ata_image_write(void *ctx, uint64_t offset, const void *buf, size_t length)
{
    struct ata_image *image = ctx;
    if (!image_in_range(image, offset, length) || !image->alloc)
        return false;
    const uint8_t *in = buf;
    while (length) {
        uint64_t chunk = offset / ATA_IMAGE_CHUNK, within = offset % ATA_IMAGE_CHUNK;
        size_t n = ATA_IMAGE_CHUNK - within < length ? ATA_IMAGE_CHUNK - within : length;
        uint8_t *copy = image_chunk(image, chunk);
        if (!copy)
            return false;
        __builtin_memcpy(copy + within, in, n);
        in += n, offset += n, length -= n;
    }
    return true;
}
