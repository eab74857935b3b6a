/* The storage server and its channels (storage.h, pith/storage.h). */
#include <pith/alloc.h>
#include <pith/printf.h>
#include <pith/process.h>
#include <pith/storage.h>
#include <pith/string.h>
#include "pci.h"
#include "storage.h"

static struct pith_child storage_server;
static struct {
    bool has_disk;
    pith_cap_t caps[PITH_GUEST_STORAGE_CAPS];
} channel_of[SYSCONF_MAX_GUESTS];

/* Channel c for one guest: its frames, the VMM's notification and the two badged
 * capabilities that let each side signal the other.  server[] receives what the server
 * gets for it (the VMM's notification, then the frames). */
static enum pith_error make_channel(unsigned guest, unsigned c, pith_cap_t server_notification,
                                    pith_cap_t *server)
{
    pith_cap_t *vmm = channel_of[guest].caps;
    uint64_t notification = 0;
    enum pith_error err = pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &notification);
    vmm[PITH_GUEST_STORAGE_NOTIFY] = notification;
    vmm[PITH_GUEST_STORAGE_SERVER] = pith_alloc_slot();
    server[0] = pith_alloc_slot();
    if (!err)
        err = pith_cnode_mint(PITH_SLOT_CNODE, vmm[PITH_GUEST_STORAGE_SERVER], PITH_SLOT_CNODE,
                              server_notification, PITH_RIGHT_WRITE, 1ull << c);
    if (!err)
        err = pith_cnode_mint(PITH_SLOT_CNODE, server[0], PITH_SLOT_CNODE, notification, PITH_RIGHT_WRITE, 1);
    for (unsigned f = 0; !err && f < PITH_STORAGE_CHANNEL_FRAMES; f++) {
        uint64_t frame = 0;
        err = pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &frame);
        vmm[PITH_GUEST_STORAGE_FRAMES + f] = server[1 + f] = frame;
    }
    return err;
}

/* An IDE controller that masters the bus, its primary channel at the legacy ports
 * (programming interface: bit 7 bus master, bit 0 clear for compatibility mode). */
static bool is_bus_master_ide(uint32_t id, uint32_t class_revision)
{
    (void)id;
    uint32_t interface = class_revision >> 8 & 0xff;
    return class_revision >> 16 == 0x0101 && (interface & 0x80) && !(interface & 0x01);
}

/* The primary channel's bus-master registers (Programming Interface for Bus Master IDE
 * Controller 1.0: BAR 4, 16 ports, the primary's the first 8) as a capability in
 * *cap, with the controller's I/O decoding and bus mastering on; their first port, or
 * 0 when the machine has no such controller. */
static uint64_t bus_master_ports(pith_cap_t *cap)
{
    int64_t location = pci_open() ? pci_find(is_bus_master_ide) : -1;
    if (location < 0)
        return 0;
    uint32_t bar = pci_read((uint32_t)location, 0x20);
    uint32_t base = bar & 0xfffc;
    if (!(bar & 1) || base == 0)
        return 0;
    *cap = pith_alloc_slot();
    if (pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, base, base + 7, *cap) != PITH_OK)
        return 0;
    uint32_t command = pci_read((uint32_t)location, 0x04) & 0xffff;
    pci_write((uint32_t)location, 0x04, command | 0x5);
    return base;
}

static void copy_name(char *to, const char *from)
{
    unsigned i = 0;
    for (; from[i] && i < PITH_STORAGE_NAME - 1; i++)
        to[i] = from[i];
    to[i] = 0;
}

void storage_start(const struct sysconf *config, const struct pith_module_desc *image)
{
    static struct pith_storage_args args;
    static pith_cap_t caps[PITH_STORAGE_SLOT_BUS_MASTER(PITH_STORAGE_CHANNELS_MAX) + 1];
    unsigned wanted = 0;
    for (unsigned i = 0; i < config->guest_count; i++)
        wanted += config->guests[i].valid && config->guests[i].disk_partition[0];
    if (!wanted)
        return;
    uint64_t notification = 0;
    caps[PITH_STORAGE_SLOT_ATA_COMMAND] = pith_alloc_slot();
    caps[PITH_STORAGE_SLOT_ATA_CONTROL] = pith_alloc_slot();
    enum pith_error err = image ? pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &notification) : PITH_E_INVALID_ARG;
    if (!err)
        err = pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, 0x1f0, 0x1f7, caps[PITH_STORAGE_SLOT_ATA_COMMAND]);
    if (!err)
        err = pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, 0x3f6, 0x3f6, caps[PITH_STORAGE_SLOT_ATA_CONTROL]);
    if (err) {
        pith_printf("storage: %s; the guests start without host disks\n",
                    image ? pith_error_name(err) : "no module 'storage'");
        return;
    }
    caps[PITH_STORAGE_SLOT_NOTIFY] = notification;
    args = (struct pith_storage_args){ .magic = PITH_STORAGE_MAGIC };
    for (unsigned i = 0; i < config->guest_count && args.channel_count < PITH_STORAGE_CHANNELS_MAX; i++) {
        const struct sysconf_guest *g = &config->guests[i];
        if (!g->valid || !g->disk_partition[0])
            continue;
        unsigned c = (unsigned)args.channel_count;
        if (make_channel(i, c, notification, caps + PITH_STORAGE_CHANNEL_FIRST(c)) != PITH_OK) {
            pith_printf("guest %s: no memory for its disk's channel\n", g->name);
            break;
        }
        channel_of[i].has_disk = true;
        copy_name(args.channel[c].guest, g->name);
        copy_name(args.channel[c].partition, g->disk_partition);
        args.channel[c].line = g->disk_line;
        args.channel_count++;
    }
    unsigned count = PITH_STORAGE_CHANNEL_FIRST(args.channel_count);
    args.bus_master = bus_master_ports(&caps[count]);
    if (args.bus_master)
        count++;
    storage_server = (struct pith_child){
        .name = "storage", .image = (const void *)image->vaddr, .image_size = image->size,
        .memory_bytes = 4ull << 20, .cnode_bits = 11, .priority = 110,
        .extra_caps = caps, .extra_count = count,
        .debug_console = PITH_SLOT_DEBUG_CONSOLE, .args = &args, .args_size = sizeof(args) };
    err = pith_child_start(&storage_server);
    if (err != PITH_OK) {
        pith_printf("storage: the server did not start (%s); the guests start without host disks\n",
                    pith_error_name(err));
        for (unsigned i = 0; i < SYSCONF_MAX_GUESTS; i++)
            channel_of[i].has_disk = false;
    }
}

bool storage_has_disk(unsigned index)
{
    return index < SYSCONF_MAX_GUESTS && channel_of[index].has_disk;
}

unsigned storage_guest_caps(unsigned index, pith_cap_t *caps)
{
    if (!storage_has_disk(index))
        return 0;
    for (unsigned i = 0; i < PITH_GUEST_STORAGE_CAPS; i++)
        caps[i] = channel_of[index].caps[i];
    return PITH_GUEST_STORAGE_CAPS;
}
