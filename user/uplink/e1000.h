/*
 * A small driver for the Intel 8254x (e1000) family, as emulated by QEMU and Bochs
 * (82540EM, PCI 8086:100e): one receive and one transmit ring of legacy descriptors,
 * 2 KiB buffers, no offloads.  Register offsets and bits: Intel "PCI/PCI-X Family of
 * Gigabit Ethernet Controllers Software Developer's Manual" (8254x SDM), §13 (registers)
 * and §3.2, §3.3 (descriptors).
 *
 * The driver is given its registers mapped uncached and DMA memory with the physical
 * address of each page; it makes no system calls, so main.c does the waiting.
 */
#ifndef UPLINK_E1000_H
#define UPLINK_E1000_H

#include <stdbool.h>
#include <stdint.h>

#define E1000_CTRL      0x0000
#define E1000_STATUS    0x0008
#define E1000_EERD      0x0014
#define E1000_ICR       0x00c0
#define E1000_IMS       0x00d0
#define E1000_IMC       0x00d8
#define E1000_RCTL      0x0100
#define E1000_TCTL      0x0400
#define E1000_TIPG      0x0410
#define E1000_RDBAL     0x2800
#define E1000_RDBAH     0x2804
#define E1000_RDLEN     0x2808
#define E1000_RDH       0x2810
#define E1000_RDT       0x2818
#define E1000_TDBAL     0x3800
#define E1000_TDBAH     0x3804
#define E1000_TDLEN     0x3808
#define E1000_TDH       0x3810
#define E1000_TDT       0x3818
#define E1000_MTA       0x5200      /* 128 words of the multicast table */
#define E1000_RAL0      0x5400
#define E1000_RAH0      0x5404

#define E1000_CTRL_ASDE     (1u << 5)
#define E1000_CTRL_SLU      (1u << 6)
#define E1000_CTRL_RST      (1u << 26)
#define E1000_STATUS_LU     (1u << 1)
#define E1000_EERD_START    (1u << 0)
#define E1000_EERD_DONE     (1u << 4)

#define E1000_ICR_TXDW      (1u << 0)
#define E1000_ICR_LSC       (1u << 2)
#define E1000_ICR_RXDMT0    (1u << 4)
#define E1000_ICR_RXO       (1u << 6)
#define E1000_ICR_RXT0      (1u << 7)

#define E1000_RCTL_EN       (1u << 1)
#define E1000_RCTL_UPE      (1u << 3)
#define E1000_RCTL_MPE      (1u << 4)
#define E1000_RCTL_BAM      (1u << 15)
#define E1000_RCTL_SECRC    (1u << 26)
#define E1000_TCTL_EN       (1u << 1)
#define E1000_TCTL_PSP      (1u << 3)

#define E1000_RX_DD         (1u << 0)
#define E1000_RX_EOP        (1u << 1)
#define E1000_TX_CMD_EOP    (1u << 0)
#define E1000_TX_CMD_IFCS   (1u << 1)
#define E1000_TX_CMD_RS     (1u << 3)
#define E1000_TX_DD         (1u << 0)

#define E1000_RING          64u         /* descriptors per ring: 1 KiB, a multiple of 128 B */
#define E1000_BUFFER        2048u
#define E1000_FRAME_MAX     1518u       /* what the switch carries; longer frames dropped */

/* The pages the driver needs: one per descriptor ring, two buffers per page. */
#define E1000_DMA_PAGES     (2 + 2 * E1000_RING * E1000_BUFFER / 4096)

struct e1000_rx_desc {              /* 8254x SDM §3.2.3 */
    uint64_t address;
    uint16_t length;
    uint16_t checksum;
    uint8_t status;
    uint8_t errors;
    uint16_t special;
};

struct e1000_tx_desc {              /* legacy format, 8254x SDM §3.3.3 */
    uint64_t address;
    uint16_t length;
    uint8_t cso;
    uint8_t command;
    uint8_t status;
    uint8_t css;
    uint16_t special;
};

/* A page of DMA memory: where the driver sees it, where the NIC does. */
struct e1000_page {
    void *virt;
    uint64_t phys;
};

struct e1000_stats {
    uint64_t received, transmitted;
    uint64_t rx_errors;             /* frames the NIC flagged, cut in pieces or too long */
    uint64_t rx_full;               /* frames the switch had no room for (left in the ring) */
};

struct e1000 {
    volatile uint8_t *regs;
    struct e1000_rx_desc *rx;
    struct e1000_tx_desc *tx;
    uint8_t *rx_buffer[E1000_RING], *tx_buffer[E1000_RING];
    uint32_t rx_next;               /* the next descriptor the NIC fills */
    uint32_t tx_next;               /* the next descriptor we fill */
    uint32_t tx_clean;              /* the oldest descriptor not yet known done */
    uint8_t mac[6];
    struct e1000_stats stats;
};

/* Reset the NIC (the delay: a callback that waits about `us` microseconds). */
void e1000_reset(struct e1000 *nic, volatile void *regs, void (*delay)(unsigned us));
/* Its MAC address, from the EEPROM (8254x SDM §5.6.1) or else the first receive address. */
void e1000_read_mac(struct e1000 *nic);
/* Rings in pages[0..E1000_DMA_PAGES), receive and transmit on, link up asked for,
 * every frame accepted (the switch behind it decides where frames go). */
void e1000_start(struct e1000 *nic, const struct e1000_page *pages);
bool e1000_link_up(const struct e1000 *nic);
/* Read (and so clear) the interrupt causes. */
uint32_t e1000_interrupt_causes(struct e1000 *nic);

/* Hand each received frame to deliver() until it returns false (no room: the frame
 * stays for next time) or none is left; returns how many were delivered. */
unsigned e1000_receive(struct e1000 *nic, bool (*deliver)(void *ctx, const void *frame, uint32_t length),
                       void *ctx);
/* Free transmit descriptors (after taking back those the NIC is done with). */
unsigned e1000_tx_room(struct e1000 *nic);
/* Queue one frame (14..1518 bytes) for the wire; false when the ring is full. */
bool e1000_transmit(struct e1000 *nic, const void *frame, uint32_t length);

#endif
