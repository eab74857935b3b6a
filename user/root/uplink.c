/*
 * The uplink's start (uplink.h): the NIC found in PCI configuration space (pci.h), its
 * registers as frames carved out of the device untyped that covers them, its
 * interrupt line as the firmware assigned it (register 0x3c).
 */
#include <pith/alloc.h>
#include <pith/cpu.h>
#include <pith/pith.h>
#include <pith/process.h>
#include <pith/syscall.h>
#include <pith/uplink.h>
#include "pci.h"
#include "uplink.h"

#define E1000_VENDOR 0x8086
#define E1000_DEVICE 0x100e         /* 82540EM, what QEMU and Bochs emulate */

static const struct pith_bootinfo *bi;
static struct pith_child uplink;
static struct pith_uplink_args args;
static pith_cap_t caps[PITH_UPLINK_CAPS(NETRING_SLOTS)];
static bool prepared;
static unsigned uplink_port;

static bool is_e1000(uint32_t id, uint32_t class_revision)
{
    (void)class_revision;
    return id == (E1000_DEVICE << 16 | E1000_VENDOR);
}

/* The device untyped holding physical page `phys`, or -1. */
static int device_untyped_of(uint64_t phys)
{
    for (unsigned i = 0; i < bi->untyped_count; i++) {
        const struct pith_untyped_desc *u = &bi->untyped[i];
        if (u->is_device && phys >= u->phys && phys - u->phys < (1ull << u->size_bits))
            return (int)i;
    }
    return -1;
}

/*
 * A frame for the device page at `phys`.  A retype places objects at the untyped's
 * watermark (docs/abi.md §4.1), so untypeds as large as alignment allows are retyped
 * first to move the watermark up to the page; nobody else retypes device untypeds.
 */
static enum pith_error device_frame(uint64_t phys, pith_cap_t *frame)
{
    static uint64_t watermark[PITH_BOOTINFO_UNTYPED];
    int i = device_untyped_of(phys);
    if (i < 0)
        return PITH_E_RANGE;
    pith_cap_t untyped = bi->untyped_first_slot + (unsigned)i;
    uint64_t offset = phys - bi->untyped[i].phys;
    if (offset < watermark[i])
        return PITH_E_INVALID_ARG;
    while (watermark[i] < offset) {
        unsigned bits = 12;
        while (bits < 40 && !(watermark[i] & (1ull << bits)) && watermark[i] + (2ull << bits) <= offset)
            bits++;
        pith_cap_t filler = pith_alloc_slot();
        enum pith_error err = pith_untyped_retype(untyped, PITH_OBJ_UNTYPED, bits, PITH_SLOT_CNODE, filler, 1);
        if (err)
            return err;
        watermark[i] += 1ull << bits;
    }
    *frame = pith_alloc_slot();
    enum pith_error err = pith_untyped_retype(untyped, PITH_OBJ_FRAME_4K, 0, PITH_SLOT_CNODE, *frame, 1);
    if (!err)
        watermark[i] += 4096;
    return err;
}

/* The channel's frames, and the two badged notifications that let the sides signal. */
static enum pith_error make_channel(unsigned port, pith_cap_t switch_notification, pith_cap_t *switch_caps)
{
    pith_cap_t notification = caps[PITH_UPLINK_SLOT_NOTIFY];
    caps[PITH_UPLINK_SLOT_SWITCH] = pith_alloc_slot();
    switch_caps[0] = pith_alloc_slot();
    enum pith_error err = pith_cnode_mint(PITH_SLOT_CNODE, caps[PITH_UPLINK_SLOT_SWITCH], PITH_SLOT_CNODE,
                                          switch_notification, PITH_RIGHT_WRITE, 1ull << port);
    if (!err)
        err = pith_cnode_mint(PITH_SLOT_CNODE, switch_caps[0], PITH_SLOT_CNODE, notification,
                              PITH_RIGHT_WRITE, PITH_UPLINK_SWITCH_BADGE);
    for (unsigned f = 0; !err && f < PITH_SWITCH_CHANNEL_FRAMES(NETRING_SLOTS); f++) {
        uint64_t frame = 0;
        err = pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &frame);
        caps[PITH_UPLINK_SLOT_CHANNEL + f] = switch_caps[1 + f] = frame;
    }
    return err;
}

/* The NIC's interrupt, bound to the uplink's notification with its badge.  Without a
 * usable line the driver polls (its notification's deadline). */
static void claim_interrupt(uplink_say_fn say)
{
    pith_cap_t handler = pith_alloc_slot(), badged = pith_alloc_slot();
    pith_cap_t notification = caps[PITH_UPLINK_SLOT_NOTIFY];
    if (args.irq_line >= PITH_IRQ_LINES || args.irq_line == 2 ||
        pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, args.irq_line, handler) != PITH_OK ||
        pith_cnode_mint(PITH_SLOT_CNODE, badged, PITH_SLOT_CNODE, notification, PITH_RIGHT_WRITE,
                        PITH_UPLINK_IRQ_BADGE) != PITH_OK ||
        pith_irq_set_notification(handler, badged) != PITH_OK) {
        say("uplink: no interrupt line for the NIC (%lu): it polls\n", args.irq_line);
        args.irq_line = 0xff;
        /* the slot must hold something: a copy of the notification, never ACKed */
        handler = pith_alloc_slot();
        pith_cnode_copy(PITH_SLOT_CNODE, handler, PITH_SLOT_CNODE, notification, PITH_RIGHT_READ);
    }
    caps[PITH_UPLINK_SLOT_IRQ] = handler;
}

static bool find_nic(uplink_say_fn say)
{
    if (!pci_open()) {
        say("uplink: no access to PCI configuration space\n");
        return false;
    }
    int64_t location = pci_find(is_e1000);
    if (location < 0) {
        say("uplink: no e1000 (PCI %04x:%04x) on this machine\n", E1000_VENDOR, E1000_DEVICE);
        return false;
    }
    uint32_t bar = pci_read((uint32_t)location, 0x10);
    if ((bar & 1) || (bar & 6) == 4 || (bar & ~0xfu) == 0) {
        say("uplink: the e1000's BAR 0 (%x) is not a 32-bit memory BAR\n", bar);
        return false;
    }
    /* Memory decoding and bus mastering on, INTx not disabled (PCI 3.0 §6.2.2, the
     * command register; the status half is written as zeroes, which clears nothing). */
    uint32_t command = pci_read((uint32_t)location, 0x04) & 0xffff;
    pci_write((uint32_t)location, 0x04, (command & ~0x400u) | 0x6);
    args.pci_location = (uint64_t)location;
    args.bar_phys = bar & ~0xfu;
    args.irq_line = pci_read((uint32_t)location, 0x3c) & 0xff;
    return true;
}

bool uplink_prepare(const struct pith_bootinfo *bootinfo, const struct pith_module_desc *image, uint32_t segment,
                    unsigned port, pith_cap_t switch_notification, pith_cap_t *switch_caps, uplink_say_fn say)
{
    bi = bootinfo;
    if (!image) {
        say("uplink: no module 'uplink'; no uplink\n");
        return false;
    }
    if (!find_nic(say))
        return false;
    args = (struct pith_uplink_args){ .magic = PITH_UPLINK_MAGIC, .slots = NETRING_SLOTS, .segment = segment,
                                      .pci_location = args.pci_location, .bar_phys = args.bar_phys,
                                      .irq_line = args.irq_line };
    enum pith_error err = PITH_OK;
    for (unsigned f = 0; !err && f < PITH_UPLINK_BAR_FRAMES; f++)
        err = device_frame(args.bar_phys + 4096ull * f, &caps[PITH_UPLINK_SLOT_BAR + f]);
    if (err) {
        say("uplink: the e1000's registers at %lx are in no device untyped (%s)\n", args.bar_phys,
            pith_error_name(err));
        return false;
    }
    uint64_t notification = 0;
    err = pith_alloc_object(PITH_OBJ_NOTIFICATION, 0, &notification);
    caps[PITH_UPLINK_SLOT_NOTIFY] = notification;
    if (!err)
        err = make_channel(port, switch_notification, switch_caps);
    if (err) {
        say("uplink: no memory for its channel (%s)\n", pith_error_name(err));
        return false;
    }
    claim_interrupt(say);
    uplink = (struct pith_child){
        .name = "uplink", .image = (const void *)image->vaddr, .image_size = image->size,
        .memory_bytes = 2ull << 20, .cnode_bits = 10, .priority = 110,
        .extra_caps = caps, .extra_count = PITH_UPLINK_CAPS(NETRING_SLOTS),
        .debug_console = PITH_SLOT_DEBUG_CONSOLE, .args = &args, .args_size = sizeof(args) };
    uplink_port = port;
    prepared = true;
    return true;
}

void uplink_start(uplink_say_fn say)
{
    if (!prepared)
        return;
    enum pith_error err = pith_child_start(&uplink);
    if (err)
        say("uplink: did not start (%s)\n", pith_error_name(err));
    else
        say("network: the uplink (e1000 at PCI %02lx:%02lx.%lu, IRQ %lu) is port %lu on segment %lu\n",
            args.pci_location >> 8, (args.pci_location >> 3) & 31, args.pci_location & 7, args.irq_line,
            (uint64_t)uplink_port, args.segment);
}
