/*
 * The uplink server: the driver of the host's e1000 NIC (e1000.c) as one port of the
 * switch.  What the wire gives goes into the channel's ring to the switch; what the
 * switch queues for this port goes out on the wire.  It is trusted: without an IOMMU
 * the NIC's DMA reaches all of memory, so this program is kept small (docs/network.md).
 * Capabilities and arguments: include/pith/uplink.h.
 */
#include <pith/alloc.h>
#include <pith/cpu.h>
#include <pith/pith.h>
#include <pith/printf.h>
#include <pith/root.h>
#include <pith/syscall.h>
#include <pith/uplink.h>
#include "e1000.h"

/* A safety net besides the interrupt: look at the NIC and the ring this often; without
 * an interrupt line, polling is all there is, and more often. */
#define POLL_US         100000
#define POLL_US_NO_IRQ  1000

static const struct pith_bootinfo *bi;
static struct e1000 nic;
static struct netring to_switch, to_wire;
static uint8_t frame[NETRING_FRAME_MAX];

static void delay(unsigned us)
{
    uint64_t end = pith_rdtsc() + bi->tsc_hz / 1000000 * us;
    while (pith_rdtsc() < end)
        pith_cpu_relax();
}

static const struct pith_uplink_args *arguments(void)
{
    const struct pith_uplink_args *a = (const void *)bi->args_vaddr;
    if (bi->args_size < sizeof(*a) || a->magic != PITH_UPLINK_MAGIC || !netring_slots_valid((uint32_t)a->slots) ||
        a->slots > 1024 || bi->extra_count < PITH_UPLINK_CAPS(a->slots))
        return NULL;
    return a;
}

static bool map_frames(pith_cap_t first, unsigned count, uint64_t vaddr, uint64_t attributes)
{
    for (unsigned f = 0; f < count; f++)
        if (pith_map_frame(first + f, PITH_SLOT_ADDRESS_SPACE, vaddr + 4096ull * f,
                           PITH_RIGHT_READ | PITH_RIGHT_WRITE, attributes) != PITH_OK)
            return false;
    return true;
}

/* Fresh pages for the rings and buffers, with the physical address of each. */
static bool dma_pages(struct e1000_page *pages)
{
    for (unsigned i = 0; i < E1000_DMA_PAGES; i++) {
        uint64_t frame_cap = 0, vaddr = PITH_UPLINK_DMA + 4096ull * i;
        if (pith_alloc_object(PITH_OBJ_FRAME_4K, 0, &frame_cap) != PITH_OK ||
            pith_map_frame(frame_cap, PITH_SLOT_ADDRESS_SPACE, vaddr, PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0) != PITH_OK ||
            pith_frame_address(frame_cap, &pages[i].phys) != PITH_OK)
            return false;
        pages[i].virt = (void *)vaddr;
    }
    return true;
}

static bool to_switch_push(void *ctx, const void *data, uint32_t length)
{
    (void)ctx;
    return netring_push(&to_switch, data, length);
}

/* Everything the NIC received into the switch's ring, everything the switch queued
 * onto the wire; whether the switch should look. */
static bool pump(void)
{
    bool gave = e1000_receive(&nic, to_switch_push, NULL) > 0;
    while (netring_pending(&to_wire) && e1000_tx_room(&nic)) {
        int length = netring_pop(&to_wire, frame, sizeof(frame));
        if (length > 0)
            e1000_transmit(&nic, frame, (uint32_t)length);
        else if (length == NETRING_CORRUPTED)
            break;
        gave = true;                /* room again in its ring to us */
    }
    return gave;
}

int main(void *arg)
{
    bi = arg;
    if (pith_root_init(bi, 0x40000000, 0x50000000) != PITH_OK)
        return 1;
    const struct pith_uplink_args *a = arguments();
    if (!a) {
        pith_printf("uplink: bad arguments\n");
        return 1;
    }
    pith_cap_t caps = bi->extra_first_slot;
    static struct e1000_page pages[E1000_DMA_PAGES];
    void *channel = (void *)PITH_UPLINK_CHANNEL;
    if (!map_frames(caps + PITH_UPLINK_SLOT_BAR, PITH_UPLINK_BAR_FRAMES, PITH_UPLINK_REGISTERS, PITH_ATTR_UNCACHED) ||
        !map_frames(caps + PITH_UPLINK_SLOT_CHANNEL, PITH_SWITCH_CHANNEL_FRAMES(a->slots), PITH_UPLINK_CHANNEL, 0) ||
        !netring_attach(&to_switch, channel, (uint32_t)a->slots, NETRING_TO_SWITCH) ||
        !netring_attach(&to_wire, channel, (uint32_t)a->slots, NETRING_TO_GUEST) || !dma_pages(pages)) {
        pith_printf("uplink: could not map its registers, channel or DMA memory\n");
        return 1;
    }
    e1000_reset(&nic, (volatile void *)PITH_UPLINK_REGISTERS, delay);
    e1000_read_mac(&nic);
    e1000_start(&nic, pages);
    uint64_t start = pith_rdtsc();
    while (!e1000_link_up(&nic) && pith_rdtsc() - start < bi->tsc_hz * 2)
        delay(1000);
    const uint8_t *m = nic.mac;
    pith_printf("uplink: e1000 at %02lx:%02lx.%lu, MAC %02x:%02x:%02x:%02x:%02x:%02x, IRQ %lu, link %s, segment %lu\n",
                a->pci_location >> 8, (a->pci_location >> 3) & 31, a->pci_location & 7,
                m[0], m[1], m[2], m[3], m[4], m[5], a->irq_line, e1000_link_up(&nic) ? "up" : "down", a->segment);

    pith_cap_t notify = caps + PITH_UPLINK_SLOT_NOTIFY, peer = caps + PITH_UPLINK_SLOT_SWITCH;
    pith_cap_t irq = caps + PITH_UPLINK_SLOT_IRQ;
    if (a->irq_line < PITH_IRQ_LINES)
        pith_irq_ack(irq);
    bool link = e1000_link_up(&nic), interrupted = false;
    uint64_t poll = bi->tsc_hz / 1000000 * (a->irq_line < PITH_IRQ_LINES ? POLL_US : POLL_US_NO_IRQ);
    for (;;) {
        uint64_t bits = 0;
        pith_notification_set_deadline(notify, pith_rdtsc() + poll);
        if (pith_wait(notify, &bits) != PITH_OK)
            return 1;
        if (bits & PITH_UPLINK_IRQ_BADGE) {
            if (!interrupted)
                pith_printf("uplink: the NIC's interrupts arrive\n");
            interrupted = true;
            /* Reading ICR lowers the (level-triggered) line before we open it again. */
            uint32_t causes = e1000_interrupt_causes(&nic);
            if ((causes & E1000_ICR_LSC) && e1000_link_up(&nic) != link) {
                link = !link;
                pith_printf("uplink: link %s\n", link ? "up" : "down");
            }
            pith_irq_ack(irq);
        }
        if (pump())
            pith_signal(peer);
    }
}
