/* The e1000 driver (e1000.h). */
#include "e1000.h"

static uint32_t reg_read(const struct e1000 *nic, uint32_t offset)
{
    return *(volatile const uint32_t *)(nic->regs + offset);
}

static void reg_write(const struct e1000 *nic, uint32_t offset, uint32_t value)
{
    *(volatile uint32_t *)(nic->regs + offset) = value;
}

void e1000_reset(struct e1000 *nic, volatile void *regs, void (*delay)(unsigned us))
{
    *nic = (struct e1000){ .regs = regs };
    reg_write(nic, E1000_IMC, ~0u);
    reg_write(nic, E1000_CTRL, reg_read(nic, E1000_CTRL) | E1000_CTRL_RST);
    /* The reset completes within 1 µs of the write (8254x SDM §13.4.1); wait well
     * beyond, then mask interrupts again: the reset does not clear IMC's effect on
     * every model. */
    for (unsigned i = 0; i < 100 && (reg_read(nic, E1000_CTRL) & E1000_CTRL_RST); i++)
        delay(100);
    reg_write(nic, E1000_IMC, ~0u);
    (void)reg_read(nic, E1000_ICR);
}

/* One 16-bit EEPROM word through EERD; false when the NIC never says done. */
static bool eeprom_read(const struct e1000 *nic, unsigned word, uint16_t *value)
{
    reg_write(nic, E1000_EERD, (uint32_t)word << 8 | E1000_EERD_START);
    for (unsigned i = 0; i < 100000; i++) {
        uint32_t v = reg_read(nic, E1000_EERD);
        if (v & E1000_EERD_DONE) {
            *value = (uint16_t)(v >> 16);
            return true;
        }
    }
    return false;
}

void e1000_read_mac(struct e1000 *nic)
{
    uint16_t words[3];
    if (eeprom_read(nic, 0, &words[0]) && eeprom_read(nic, 1, &words[1]) && eeprom_read(nic, 2, &words[2])) {
        for (unsigned i = 0; i < 3; i++)
            nic->mac[2 * i] = (uint8_t)words[i], nic->mac[2 * i + 1] = (uint8_t)(words[i] >> 8);
        return;
    }
    uint32_t low = reg_read(nic, E1000_RAL0), high = reg_read(nic, E1000_RAH0);
    for (unsigned i = 0; i < 4; i++)
        nic->mac[i] = (uint8_t)(low >> (8 * i));
    nic->mac[4] = (uint8_t)high, nic->mac[5] = (uint8_t)(high >> 8);
}

void e1000_start(struct e1000 *nic, const struct e1000_page *pages)
{
    nic->rx = pages[0].virt;
    nic->tx = pages[1].virt;
    for (unsigned i = 0; i < E1000_RING; i++) {
        const struct e1000_page *rx = &pages[2 + i / 2], *tx = &pages[2 + E1000_RING / 2 + i / 2];
        uint32_t offset = (i % 2) * E1000_BUFFER;
        nic->rx_buffer[i] = (uint8_t *)rx->virt + offset;
        nic->tx_buffer[i] = (uint8_t *)tx->virt + offset;
        nic->rx[i] = (struct e1000_rx_desc){ .address = rx->phys + offset };
        nic->tx[i] = (struct e1000_tx_desc){ .address = tx->phys + offset };
    }
    reg_write(nic, E1000_CTRL, (reg_read(nic, E1000_CTRL) & ~E1000_CTRL_RST) | E1000_CTRL_SLU | E1000_CTRL_ASDE);
    /* Our own address in receive address 0 (valid bit 31), an empty multicast table;
     * unicast and multicast promiscuous mode make both moot: the guests behind the
     * switch have addresses of their own. */
    reg_write(nic, E1000_RAL0, (uint32_t)nic->mac[0] | (uint32_t)nic->mac[1] << 8 |
                               (uint32_t)nic->mac[2] << 16 | (uint32_t)nic->mac[3] << 24);
    reg_write(nic, E1000_RAH0, (uint32_t)nic->mac[4] | (uint32_t)nic->mac[5] << 8 | 1u << 31);
    for (unsigned i = 0; i < 128; i++)
        reg_write(nic, E1000_MTA + 4 * i, 0);

    reg_write(nic, E1000_RDBAL, (uint32_t)pages[0].phys);
    reg_write(nic, E1000_RDBAH, (uint32_t)(pages[0].phys >> 32));
    reg_write(nic, E1000_RDLEN, E1000_RING * sizeof(struct e1000_rx_desc));
    reg_write(nic, E1000_RDH, 0);
    reg_write(nic, E1000_RDT, E1000_RING - 1);     /* every buffer but one: RDT == RDH is empty */
    /* 2 KiB buffers (BSIZE 0), no CRC in the buffer, broadcast and everything else. */
    reg_write(nic, E1000_RCTL, E1000_RCTL_EN | E1000_RCTL_UPE | E1000_RCTL_MPE | E1000_RCTL_BAM |
                               E1000_RCTL_SECRC);

    reg_write(nic, E1000_TDBAL, (uint32_t)pages[1].phys);
    reg_write(nic, E1000_TDBAH, (uint32_t)(pages[1].phys >> 32));
    reg_write(nic, E1000_TDLEN, E1000_RING * sizeof(struct e1000_tx_desc));
    reg_write(nic, E1000_TDH, 0);
    reg_write(nic, E1000_TDT, 0);
    /* Collision threshold 15 and full-duplex collision distance 64 bytes (§13.4.33),
     * the inter-packet gap of copper links (§13.4.34: 10, 8, 6), short frames padded. */
    reg_write(nic, E1000_TCTL, E1000_TCTL_EN | E1000_TCTL_PSP | 0x0fu << 4 | 0x40u << 12);
    reg_write(nic, E1000_TIPG, 10u | 8u << 10 | 6u << 20);

    (void)reg_read(nic, E1000_ICR);
    reg_write(nic, E1000_IMS, E1000_ICR_RXT0 | E1000_ICR_RXO | E1000_ICR_RXDMT0 | E1000_ICR_TXDW | E1000_ICR_LSC);
}

bool e1000_link_up(const struct e1000 *nic)
{
    return reg_read(nic, E1000_STATUS) & E1000_STATUS_LU;
}

uint32_t e1000_interrupt_causes(struct e1000 *nic)
{
    return reg_read(nic, E1000_ICR);
}

unsigned e1000_receive(struct e1000 *nic, bool (*deliver)(void *ctx, const void *frame, uint32_t length),
                       void *ctx)
{
    unsigned delivered = 0;
    for (;;) {
        struct e1000_rx_desc *d = &nic->rx[nic->rx_next];
        uint8_t status = __atomic_load_n(&d->status, __ATOMIC_ACQUIRE);
        if (!(status & E1000_RX_DD))
            break;
        uint32_t length = d->length;
        /* A frame in several buffers (longer than 2 KiB) or with errors: dropped. */
        bool good = (status & E1000_RX_EOP) && !d->errors && length >= 14 && length <= E1000_FRAME_MAX;
        if (good && !deliver(ctx, nic->rx_buffer[nic->rx_next], length)) {
            nic->stats.rx_full++;
            break;
        }
        if (good)
            delivered++, nic->stats.received++;
        else
            nic->stats.rx_errors++;
        d->status = 0;
        d->errors = 0;
        /* The descriptor goes back to the NIC: the tail is the last one it may fill. */
        reg_write(nic, E1000_RDT, nic->rx_next);
        nic->rx_next = (nic->rx_next + 1) % E1000_RING;
    }
    return delivered;
}

unsigned e1000_tx_room(struct e1000 *nic)
{
    while (nic->tx_clean != nic->tx_next &&
           (__atomic_load_n(&nic->tx[nic->tx_clean].status, __ATOMIC_ACQUIRE) & E1000_TX_DD))
        nic->tx_clean = (nic->tx_clean + 1) % E1000_RING;
    /* One descriptor stays empty: TDT == TDH means the ring is empty. */
    return (nic->tx_clean + E1000_RING - nic->tx_next - 1) % E1000_RING;
}

bool e1000_transmit(struct e1000 *nic, const void *frame, uint32_t length)
{
    if (length < 14 || length > E1000_FRAME_MAX || e1000_tx_room(nic) == 0)
        return false;
    struct e1000_tx_desc *d = &nic->tx[nic->tx_next];
    __builtin_memcpy(nic->tx_buffer[nic->tx_next], frame, length);
    d->length = (uint16_t)length;
    d->cso = d->css = 0;
    d->special = 0;
    d->status = 0;
    d->command = E1000_TX_CMD_EOP | E1000_TX_CMD_IFCS | E1000_TX_CMD_RS;
    nic->tx_next = (nic->tx_next + 1) % E1000_RING;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    reg_write(nic, E1000_TDT, nic->tx_next);
    nic->stats.transmitted++;
    return true;
}
