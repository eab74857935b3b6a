/* Root-task helpers (pith/root.h). */
#include "pith/alloc.h"
#include "pith/cpu.h"
#include "pith/pith.h"
#include "pith/root.h"

enum pith_error pith_root_init(const struct pith_bootinfo *bi, uint64_t heap_start, uint64_t heap_end)
{
    pith_set_ipc_buffer((struct pith_ipc_buffer *)bi->ipc_buffer);
    int largest = -1;
    for (unsigned i = 0; i < bi->untyped_count; i++)
        if (!bi->untyped[i].is_device &&
            (largest < 0 || bi->untyped[i].size_bits > bi->untyped[largest].size_bits))
            largest = (int)i;
    if (largest < 0)
        return PITH_E_NO_MEMORY;
    struct pith_alloc_config config = {
        .untyped = bi->untyped_first_slot + (unsigned)largest,
        .untyped_size_bits = bi->untyped[largest].size_bits,
        .cnode = PITH_SLOT_CNODE, .address_space = PITH_SLOT_ADDRESS_SPACE,
        .first_free_slot = bi->first_free_slot, .end_slot = 1ull << bi->cnode_size_bits,
        .heap_start = heap_start, .heap_end = heap_end,
    };
    enum pith_error err = pith_alloc_init(&config);
    /* The other RAM untyped, largest first, for when the first is full. */
    for (unsigned bits = 47; !err && bits >= 12; bits--)
        for (unsigned i = 0; i < bi->untyped_count; i++)
            if ((int)i != largest && !bi->untyped[i].is_device && bi->untyped[i].size_bits == bits &&
                pith_alloc_add_untyped(bi->untyped_first_slot + i, bits) != PITH_OK)
                return PITH_OK;     /* the allocator's table is full: the rest stays unused */
    return err;
}

static void open_port(uint16_t port)
{
    pith_cap_t slot = pith_alloc_slot();
    pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, port, port, slot);
    pith_ioport_allow(slot, PITH_SLOT_ADDRESS_SPACE);
}

void pith_poweroff(bool pass)
{
    open_port(0xf4);
    open_port(0x8900);
    pith_outb(0xf4, pass ? 0 : 1);             /* QEMU exits here */
    if (!pass) {
        pith_outb(0x8900, 'D');
        return;
    }
    for (const char *s = "Shutdown"; *s; s++)
        pith_outb(0x8900, (uint8_t)*s);
}
