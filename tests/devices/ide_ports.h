/* The VMM's IDE model (vmm/dev/ata.c) behind the storage server's port callbacks
 * (user/storage/ata_pio.h, ata_dma.h): the server's drivers run against it in the
 * host tests.  ctx: the model's channel for the ATA ports, its controller for the bus
 * master's. */
#ifndef DEVICE_IDE_PORTS_H
#define DEVICE_IDE_PORTS_H

#include "dev/ata.h"
#include "../../user/storage/ata_dma.h"

static inline uint8_t ide_in8(void *ctx, unsigned reg) { return (uint8_t)ata_command_ops.read(ctx, reg, 1); }
static inline void ide_out8(void *ctx, unsigned reg, uint8_t v) { ata_command_ops.write(ctx, reg, 1, v); }
static inline uint16_t ide_in16(void *ctx) { return (uint16_t)ata_command_ops.read(ctx, 0, 2); }
static inline void ide_out16(void *ctx, uint16_t v) { ata_command_ops.write(ctx, 0, 2, v); }
static inline uint8_t ide_alt_status(void *ctx) { return (uint8_t)ata_control_ops.read(ctx, 0, 1); }
static inline void ide_control(void *ctx, uint8_t v) { ata_control_ops.write(ctx, 0, 1, v); }

static inline uint8_t ide_bm_in8(void *ctx, unsigned reg) { return (uint8_t)ata_bmide_ops.read(ctx, reg, 1); }
static inline void ide_bm_out8(void *ctx, unsigned reg, uint8_t v) { ata_bmide_ops.write(ctx, reg, 1, v); }
static inline void ide_bm_out32(void *ctx, unsigned reg, uint32_t v) { ata_bmide_ops.write(ctx, reg, 4, v); }

/* The primary channel's ATA ports, without pauses. */
static inline struct ata_ports ide_ports(struct ata_controller *c)
{
    return (struct ata_ports){ ide_in8, ide_out8, ide_in16, ide_out16, ide_alt_status, ide_control,
                               &c->channel[0], NULL };
}

/* Its bus master, reading a table at `table` (the RAM's offset table_phys) and taking
 * physical addresses from `phys`. */
static inline struct ata_bus_master ide_bus_master(struct ata_controller *c, uint64_t (*phys)(void *, const void *),
                                                   void *table, uint64_t table_phys)
{
    return (struct ata_bus_master){ ide_bm_in8, ide_bm_out8, ide_bm_out32, c, phys, NULL,
                                    (volatile uint32_t *)table, table_phys };
}

#endif
