/*
 * The storage server: its own protection domain, started by the root task when a guest
 * names a host partition (`disk part:NAME`, docs/storage.md).  It finds the ATA hard
 * disk on the primary IDE channel, reads its GPT (gpt.c), and serves each channel
 * (pith/storage.h) only the partition named for it: every request is checked against
 * that partition and moved to the disk's sectors here, so a guest never names a disk
 * sector itself.  It touches no guest memory, only the channels.  The disk moves its
 * data by bus-master DMA (ata_dma.h) straight into and out of the channels' data frames
 * when the root task gave it the controller's bus-master ports and a test read agrees
 * with PIO; otherwise by PIO.
 */
#include <pith/alloc.h>
#include <pith/cpu.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/rest.h>
#include <pith/root.h>
#include <pith/storage.h>
#include <pith/string.h>
#include <pith/syscall.h>
#include "ata_dma.h"
#include "gpt.h"
#include "serve.h"

#define ATA_COMMAND_PORT 0x1f0
#define ATA_CONTROL_PORT 0x3f6
#define CHANNELS_VADDR   0x0000200000000000ull
#define CHANNEL_BYTES    (PITH_STORAGE_CHANNEL_FRAMES * 4096ull)
#define DMA_PAGE_VADDR   0x0000210000000000ull  /* the PRD table, then a test read's data */
#define DMA_TEST_OFFSET  2048u


static struct ata_disk disk;
static struct gpt_table table;
static struct storage_channel channels[PITH_STORAGE_CHANNELS_MAX];
static pith_cap_t peer[PITH_STORAGE_CHANNELS_MAX];     /* each VMM's notification */
static uint64_t channel_phys[PITH_STORAGE_CHANNELS_MAX][PITH_STORAGE_CHANNEL_FRAMES];
static uint64_t dma_page_phys;
static uint16_t bus_master_port;
static bool dma;                    /* the disk moves its data by DMA */

static uint8_t port_in8(void *ctx, unsigned reg) { (void)ctx; return pith_inb((uint16_t)(ATA_COMMAND_PORT + reg)); }
static void port_out8(void *ctx, unsigned reg, uint8_t v) { (void)ctx; pith_outb((uint16_t)(ATA_COMMAND_PORT + reg), v); }
static uint16_t port_in16(void *ctx) { (void)ctx; return pith_inw(ATA_COMMAND_PORT); }
static void port_out16(void *ctx, uint16_t v) { (void)ctx; pith_outw(ATA_COMMAND_PORT, v); }
static uint8_t port_alt_status(void *ctx) { (void)ctx; return pith_inb(ATA_CONTROL_PORT); }
static void port_control(void *ctx, uint8_t v) { (void)ctx; pith_outb(ATA_CONTROL_PORT, v); }

/* A pause waits on a notification of the server's own with a deadline.  Not on the
 * one the VMMs signal: a VMM signalling without pause would end every pause at once
 * and use up a command's poll limit (a count of status reads) in a fraction of its
 * 30 s, failing other guests' slow commands.  Their signals stay pending meanwhile. */
static pith_cap_t pause_notification;
static uint64_t pause_tsc;
static uint64_t paused_tsc;             /* in pauses so far: not work, for the rest */

static void port_pause(void *ctx)
{
    (void)ctx;
    uint64_t bits, began = pith_rdtsc();
    pith_notification_set_deadline(pause_notification, began + pause_tsc);
    pith_wait(pause_notification, &bits);
    paused_tsc += pith_rdtsc() - began;
}

static uint8_t bm_in8(void *ctx, unsigned reg) { (void)ctx; return pith_inb((uint16_t)(bus_master_port + reg)); }
static void bm_out8(void *ctx, unsigned reg, uint8_t v) { (void)ctx; pith_outb((uint16_t)(bus_master_port + reg), v); }
static void bm_out32(void *ctx, unsigned reg, uint32_t v) { (void)ctx; pith_outl((uint16_t)(bus_master_port + reg), v); }

/* The physical address of a byte the server mapped itself: in a channel, or in its
 * own DMA page; 0 for anything else. */
static uint64_t phys_of(void *ctx, const void *vaddr)
{
    (void)ctx;
    uint64_t v = (uint64_t)vaddr;
    if (v - DMA_PAGE_VADDR < 4096)
        return dma_page_phys + (v - DMA_PAGE_VADDR);
    uint64_t c = (v - CHANNELS_VADDR) / CHANNEL_BYTES, f = (v - CHANNELS_VADDR) % CHANNEL_BYTES / 4096;
    if (v < CHANNELS_VADDR || c >= PITH_STORAGE_CHANNELS_MAX || !channel_phys[c][f])
        return 0;
    return channel_phys[c][f] + (v & 4095);
}

static struct ata_bus_master bus_master = { bm_in8, bm_out8, bm_out32, NULL, phys_of, NULL,
                                            (volatile uint32_t *)DMA_PAGE_VADDR, 0 };

static const struct ata_ports ports = { port_in8, port_out8, port_in16, port_out16,
                                        port_alt_status, port_control, NULL, port_pause };

static bool disk_sector(void *ctx, uint64_t lba, void *buf)
{
    return ata_pio_read(ctx, lba, 1, buf);
}

static bool disk_read(void *ctx, uint64_t lba, unsigned count, void *buf)
{
    if (dma && ata_dma_prepare(&bus_master, buf, count * 512ull))
        return ata_dma_run(ctx, &bus_master, lba, count, true);
    return ata_pio_read(ctx, lba, count, buf);
}

static bool disk_write(void *ctx, uint64_t lba, unsigned count, const void *buf)
{
    if (dma && ata_dma_prepare(&bus_master, buf, count * 512ull))
        return ata_dma_run(ctx, &bus_master, lba, count, false);
    return ata_pio_write(ctx, lba, count, buf);
}
static bool disk_flush(void *ctx) { return ata_pio_flush(ctx); }
static struct storage_disk storage_disk = { disk_read, disk_write, disk_flush, &disk, 0 };

static const struct pith_storage_args *arguments(const struct pith_bootinfo *bi)
{
    const struct pith_storage_args *a = (const void *)bi->args_vaddr;
    if (bi->args_size < sizeof(*a) || a->magic != PITH_STORAGE_MAGIC ||
        a->channel_count > PITH_STORAGE_CHANNELS_MAX ||
        bi->extra_count < PITH_STORAGE_CHANNEL_FIRST(a->channel_count) + (a->bus_master != 0) ||
        a->bus_master > 0xfff8)
        return NULL;
    return a;
}

static bool map_channel(const struct pith_bootinfo *bi, unsigned c)
{
    uint64_t first = bi->extra_first_slot + PITH_STORAGE_CHANNEL_FIRST(c);
    uint64_t vaddr = CHANNELS_VADDR + c * CHANNEL_BYTES;
    for (unsigned f = 0; f < PITH_STORAGE_CHANNEL_FRAMES; f++) {
        if (pith_map_frame(first + 1 + f, PITH_SLOT_ADDRESS_SPACE, vaddr + 4096ull * f,
                           PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0) != PITH_OK)
            return false;
        if (pith_frame_address(first + 1 + f, &channel_phys[c][f]) != PITH_OK)
            channel_phys[c][f] = 0;     /* PIO for this channel */
    }
    channels[c] = (struct storage_channel){ .control = (volatile struct pith_storage_control *)vaddr,
                                            .data = (uint8_t *)(vaddr + 4096) };
    peer[c] = first;
    return true;
}

/* DMA when the controller's bus-master ports came and a test read of the disk's first
 * sectors by DMA gives what PIO gives; the server says which it uses. */
static void try_dma(const struct pith_bootinfo *bi, const struct pith_storage_args *a)
{
    static uint8_t by_pio[DMA_TEST_OFFSET];
    uint8_t *by_dma = (uint8_t *)DMA_PAGE_VADDR + DMA_TEST_OFFSET;
    uint64_t page = 0;
    const char *why = NULL;
    if (!a->bus_master)
        why = "no bus-master IDE controller";
    else if (pith_ioport_allow(bi->extra_first_slot + PITH_STORAGE_SLOT_BUS_MASTER(a->channel_count),
                               PITH_SLOT_ADDRESS_SPACE) != PITH_OK ||
             pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &page) != PITH_OK ||
             pith_map_frame(page, PITH_SLOT_ADDRESS_SPACE, DMA_PAGE_VADDR, PITH_RIGHT_READ | PITH_RIGHT_WRITE,
                            0) != PITH_OK ||
             pith_frame_address(page, &dma_page_phys) != PITH_OK || dma_page_phys >= (1ull << 32) - 4096)
        why = "no page for its table";
    if (!why) {
        bus_master_port = (uint16_t)a->bus_master;
        bus_master.table_phys = dma_page_phys;
        unsigned n = DMA_TEST_OFFSET / 512;
        memset(by_dma, 0x5a, DMA_TEST_OFFSET);
        if (!ata_pio_read(&disk, 0, n, by_pio) || !ata_dma_prepare(&bus_master, by_dma, DMA_TEST_OFFSET) ||
            !ata_dma_run(&disk, &bus_master, 0, n, true))
            why = "a test read failed";
        else if (memcmp(by_pio, by_dma, DMA_TEST_OFFSET))
            why = "a test read differed from PIO";
    }
    dma = !why;
    if (dma)
        pith_printf("storage: bus-master DMA (ports %lx)\n", a->bus_master);
    else
        pith_printf("storage: PIO: %s\n", why);
}

/* The disk and its table; false (said why) when there is nothing to serve. */
static bool open_disk(const struct pith_bootinfo *bi, const struct pith_storage_args *a)
{
    pith_ioport_allow(bi->extra_first_slot + PITH_STORAGE_SLOT_ATA_COMMAND, PITH_SLOT_ADDRESS_SPACE);
    pith_ioport_allow(bi->extra_first_slot + PITH_STORAGE_SLOT_ATA_CONTROL, PITH_SLOT_ADDRESS_SPACE);
    bool found = false;
    for (unsigned slot = 0; slot < 2 && !found; slot++)
        found = ata_pio_identify(&disk, &ports, slot);
    if (!found) {
        pith_printf("storage: no ATA hard disk on the primary IDE channel\n");
        return false;
    }
    pith_printf("storage: disk '%s' (%s), %lu sectors (%lu MiB)%s\n", disk.model,
                disk.slot ? "slave" : "master", disk.sectors, disk.sectors >> 11,
                disk.lba48 ? ", LBA48" : "");
    try_dma(bi, a);
    storage_disk.max_count = ata_max_count(&disk);
    enum gpt_error e = gpt_read(disk_sector, &disk, disk.sectors, &table);
    if (e != GPT_OK) {
        pith_printf("storage: no usable GPT: %s\n", gpt_error_name(e));
        return false;
    }
    if (table.from_backup)
        pith_printf("storage: the primary GPT is bad (%s): using the backup\n",
                    gpt_error_name(table.primary_error));
    for (unsigned i = 0; i < table.count; i++)
        pith_printf("storage: partition %u '%s': sectors %lu-%lu (%lu KiB)\n", table.part[i].entry + 1,
                    table.part[i].name, table.part[i].first_lba, table.part[i].last_lba,
                    (table.part[i].last_lba - table.part[i].first_lba + 1) / 2);
    return true;
}

/* The partition for channel c, or a message by line why there is none. */
static const struct gpt_partition *resolve(const struct pith_storage_args *a, unsigned c, bool have_table)
{
    const char *name = a->channel[c].partition;
    if (!have_table) {
        pith_printf("storage: line %lu: guest '%s': no host disk to take partition '%s' from\n",
                    a->channel[c].line, a->channel[c].guest, name);
        return NULL;
    }
    unsigned n = gpt_named(&table, name);
    if (n != 1) {
        pith_printf("storage: line %lu: guest '%s': %s partition '%s' on the host disk\n",
                    a->channel[c].line, a->channel[c].guest, n ? "more than one" : "no", name);
        return NULL;
    }
    return gpt_find(&table, name);
}

int main(void *arg)
{
    const struct pith_bootinfo *bi = arg;
    if (pith_root_init(bi, 0x40000000, 0x50000000) != PITH_OK)
        return 1;
    const struct pith_storage_args *a = arguments(bi);
    if (!a) {
        pith_printf("storage: bad arguments\n");
        return 1;
    }
    uint64_t pause = 0;
    if (pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &pause) != PITH_OK) {
        pith_printf("storage: no memory for a notification\n");
        return 1;
    }
    pause_notification = pause;
    pause_tsc = bi->tsc_hz / 10000 + 1;                 /* 100 us */
    bool have_table = open_disk(bi, a);
    unsigned served = 0;
    for (unsigned c = 0; c < a->channel_count; c++) {
        if (!map_channel(bi, (unsigned)c)) {
            pith_printf("storage: guest '%s': its channel could not be mapped\n", a->channel[c].guest);
            continue;
        }
        struct storage_channel *ch = &channels[c];
        const struct gpt_partition *p = resolve(a, c, have_table);
        if (p) {
            *ch = (struct storage_channel){ ch->control, ch->data, true, p->first_lba,
                                            p->last_lba - p->first_lba + 1, 0 };
            ch->control->sectors = ch->sectors;
            pith_printf("storage: guest '%s' gets partition '%s' (%lu KiB)\n", a->channel[c].guest,
                        p->name, ch->sectors / 2);
            served++;
        }
        __atomic_store_n(&ch->control->state, p ? PITH_STORAGE_READY : PITH_STORAGE_REFUSED,
                         __ATOMIC_RELEASE);
        pith_signal(peer[c]);
    }
    pith_printf("storage: serving %u of %lu guests\n", served, a->channel_count);
    pith_cap_t notify = bi->extra_first_slot + PITH_STORAGE_SLOT_NOTIFY;
    /* The rest after each round (pith/rest.h) shares the pause's notification: both
     * are waits on a deadline that nobody else signals. */
    struct pith_rest rest = { .notification = pause_notification, .least_tsc = bi->tsc_hz / 20000 + 1,
                              .allowance_tsc = bi->tsc_hz / 500 };     /* 50 us; 2 ms */
    for (;;) {
        uint64_t bits;
        if (pith_wait(notify, &bits) != PITH_OK)
            return 1;
        /* Every channel, not only the signalled ones: a lost race costs nothing.  A
         * round serves each channel's request at most once, then rests if the server
         * has used more than its half (pith/rest.h): a VMM posting requests back to
         * back, or signalling without pause, gets the server and its CPU for about
         * half the time at most, and a request now and then waits for no rest. */
        for (bool again = true; again;) {
            uint64_t began = pith_rdtsc(), paused = paused_tsc;
            again = false;
            for (unsigned c = 0; c < a->channel_count; c++)
                if (channels[c].control && storage_serve(&storage_disk, &channels[c])) {
                    pith_signal(peer[c]);
                    again = true;
                }
            pith_rest_over_half(&rest, began + (paused_tsc - paused));     /* the pauses were rest */
        }
    }
}
