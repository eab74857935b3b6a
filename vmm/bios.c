/* Firmware boot (bios.h). */
#include <pith/alloc.h>
#include <pith/printf.h>
#include <pith/string.h>

#include "bios.h"
#include "dev/fw_cfg.h"
#include "dev/ata.h"
#include "dev/pc_bridges.h"
#include "dev/vga_text.h"
#include "vm.h"

#define FRAME_2M        (2ul << 20)
#define FIRMWARE_TOP    0x100000000ul
#define LOW_ALIAS       (128u << 10)    /* the firmware's last 128 KiB at 0xe0000 */

/* One guest per VMM: the firmware devices live here. */
static struct fw_cfg fw_cfg;
static struct i440fx host_bridge;
static struct piix3 isa_bridge;
static struct port92 port92;
static struct ata_controller ide;
static bool ide_ready;
static unsigned bmide_window;           /* its index in vm->ports */
static struct ata_image images[4];
static struct vga vga;
static bool vga_ready;
static uint8_t e820[2 * FW_CFG_E820_ENTRY];
static char bootorder[] = "/pci@i0cf8/ide@1,1/drive@0/disk@0\n";
static uint8_t sercon_port[2] = { 0xf8, 0x03 };
static uint8_t boot_menu_wait[2];                       /* ms, little-endian */

const char *bios_image_problem(uint64_t size)
{
    if (size < (64u << 10) || size > BIOS_MAX_SIZE || size % (64u << 10))
        return "firmware image must be a multiple of 64 KiB, from 64 KiB to 2 MiB";
    return NULL;
}

/* SeaBIOS's debug port: its log, as guest output. */
static uint64_t debug_read(void *dev, uint64_t offset, unsigned size)
{
    (void)dev; (void)offset; (void)size;
    return 0xe9;            /* what QEMU's debugcon answers: "the port is here" */
}

static void debug_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    (void)offset;
    for (unsigned i = 0; i < size; i++)
        vm_output(dev, (uint8_t)(value >> (8 * i)));
}

/* Without the log the port reads as absent, so SeaBIOS does not write its log at all:
 * every byte of it would be an exit. */
static uint64_t quiet_read(void *dev, uint64_t offset, unsigned size)
{
    (void)dev; (void)offset; (void)size;
    return 0xff;
}

static void quiet_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    (void)dev; (void)offset; (void)size; (void)value;
}

static const struct device_ops debug_ops = { "bios-debug", debug_read, debug_write, NULL };
static const struct device_ops quiet_ops = { "bios-debug", quiet_read, quiet_write, NULL };

/* The frame holding the firmware: mapped read/execute in the guest at the top of
 * 4 GiB, writable in the VMM to fill it. */
static bool map_firmware(struct vm *vm, const void *image, uint64_t size)
{
    pith_cap_t frame, view = pith_alloc_slot();
    enum pith_error err = view ? pith_alloc_object(PITH_OBJ_FRAME_2M, 0, &frame) : PITH_E_RANGE;
    if (!err)
        err = pith_cnode_copy(PITH_SLOT_CNODE, view, PITH_SLOT_CNODE, frame, PITH_RIGHTS_ALL);
    if (!err)
        err = pith_map_frame_2m(frame, vm->space, FIRMWARE_TOP - FRAME_2M,
                                PITH_RIGHT_READ | PITH_RIGHT_EXECUTE, 0);
    if (!err)
        err = pith_map_frame_2m(view, PITH_SLOT_ADDRESS_SPACE, BIOS_WINDOW,
                                PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0);
    if (err) {
        vm_stop(vm, VM_END_ERROR, "mapping the firmware: %s", pith_error_name(err));
        return false;
    }
    uint8_t *window = (uint8_t *)BIOS_WINDOW;
    memset(window, 0xff, FRAME_2M - size);
    memcpy(window + FRAME_2M - size, image, size);
    uint64_t alias = size < LOW_ALIAS ? size : LOW_ALIAS;
    memcpy(vm->ram + 0x100000 - alias, (const uint8_t *)image + size - alias, alias);
    return true;
}

/* The BIOS area is RAM from the start, the firmware's last 128 KiB already in it, so
 * SeaBIOS finds its code where it copies it.  A PAM segment whose mode drops writes has
 * its pages mapped read-only: a write exits, and the shadow window drops it. */
static bool protect_segment(struct vm *vm, unsigned segment, enum pam_mode mode)
{
    uint32_t base, size;
    i440fx_pam_segment(segment, &base, &size);
    return vm_protect_low(vm, base, size, mode & PAM_WRITE_ONLY);
}

static void pam_changed(void *ctx, unsigned segment, enum pam_mode mode)
{
    protect_segment(ctx, segment, mode);    /* a refusal stops the guest */
}

static uint64_t shadow_read(void *dev, uint64_t offset, unsigned size)
{
    struct vm *vm = dev;
    return i440fx_shadow_read(vm->ram, PAM_AREA_BASE + offset, size);
}

static void shadow_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct vm *vm = dev;
    i440fx_shadow_write(&host_bridge, vm->ram, PAM_AREA_BASE + offset, size, value);
}

static const struct device_ops shadow_ops = { "bios-shadow", shadow_read, shadow_write, NULL };

static void a20_changed(void *ctx, bool enabled)
{
    (void)ctx; (void)enabled;       /* A20 is always on in a guest space */
}

static void fast_reset(void *ctx)
{
    vm_stop(ctx, VM_END_RESET, "fast reset through port 0x92");
}

bool bios_load(struct vm *vm, const void *image, uint64_t size, unsigned cpus, bool log,
               unsigned menu_wait_ms)
{
    const char *problem = bios_image_problem(size);
    if (problem) {
        vm_stop(vm, VM_END_ERROR, "%s (this one is %lu bytes)", problem, size);
        return false;
    }
    if (!map_firmware(vm, image, size))
        return false;
    /* the chipset SeaBIOS knows: i440FX at 00:00.0, PIIX3 at 00:01.0 */
    i440fx_init(&host_bridge, pam_changed, vm);
    vm->pc.pci.functions[PCI_DEVFN(0, 0)] = &host_bridge.function;
    piix3_init(&isa_bridge);
    pci_host_register(&vm->pc.pci, 1, 0, &isa_bridge.function);
    port92_init(&port92, a20_changed, fast_reset, vm);
    fw_cfg_init(&fw_cfg, (struct guest_memory){ vm_read_phys, vm_write_phys, vm });
    fw_cfg_add_u16(&fw_cfg, FW_CFG_NB_CPUS, (uint16_t)cpus);
    fw_cfg_add_u16(&fw_cfg, FW_CFG_MAX_CPUS, (uint16_t)cpus);
    fw_cfg_add_u64(&fw_cfg, FW_CFG_RAM_SIZE, vm->ram_size);
    fw_cfg_add_u16(&fw_cfg, FW_CFG_BOOT_MENU, menu_wait_ms ? 1 : 0);   /* no wait: no menu */
    fw_cfg_add_u32(&fw_cfg, FW_CFG_IRQ0_OVERRIDE, 1);
    /* RAM below 4 GiB, as QEMU describes it; SeaBIOS reserves its own areas */
    fw_cfg_e820_entry(e820, 0, vm->ram_size, 1);
    bool ok = fw_cfg_add_file(&fw_cfg, "etc/e820", e820, FW_CFG_E820_ENTRY, false) >= 0;
    ok &= fw_cfg_add_file(&fw_cfg, "bootorder", bootorder, sizeof(bootorder) - 1, false) >= 0;
    ok &= fw_cfg_add_file(&fw_cfg, "etc/sercon-port", sercon_port, sizeof(sercon_port), false) >= 0;
    boot_menu_wait[0] = (uint8_t)menu_wait_ms;
    boot_menu_wait[1] = (uint8_t)(menu_wait_ms >> 8);
    ok &= fw_cfg_add_file(&fw_cfg, "etc/boot-menu-wait", boot_menu_wait, sizeof(boot_menu_wait), false) >= 0;
    ok &= vm_add_port_window(vm, (struct device_window){ FW_CFG_PORT_BASE, FW_CFG_PORT_COUNT, &fw_cfg_ops, &fw_cfg });
    ok &= vm_add_port_window(vm, (struct device_window){ BIOS_DEBUG_PORT, 1, log ? &debug_ops : &quiet_ops, vm });
    ok &= vm_add_port_window(vm, (struct device_window){ 0x92, 1, &port92_ops, &port92 });
    ok &= vm_add_mmio_window(vm, (struct device_window){ PAM_AREA_BASE, PAM_AREA_SIZE, &shadow_ops, vm });
    /* at reset every segment is the ROM's: read-only until the firmware opens it */
    for (unsigned s = 0; ok && s < PAM_SEGMENTS; s++)
        ok = protect_segment(vm, s, PAM_ROM);
    if (!ok) {
        vm_stop(vm, VM_END_ERROR, "setting up the firmware's devices failed");
        return false;
    }
    vm_log(vm, "firmware: %lu KiB at 0x%lx, its last %u KiB at 0x%x; the vCPU at the reset vector",
           size >> 10, FIRMWARE_TOP - size, (unsigned)((size < LOW_ALIAS ? size : LOW_ALIAS) >> 10),
           (unsigned)(0x100000 - (size < LOW_ALIAS ? size : LOW_ALIAS)));
    return true;
}

/* ---- IDE ------------------------------------------------------------------------ */

/* Memory for a disk's copied chunks: whole pages from the VMM's heap.  Only the vCPU's
 * thread calls it, under the VM lock (a firmware guest has one vCPU). */
static void *image_alloc(size_t bytes)
{
    return pith_alloc_pages((bytes + 4095) / 4096);
}

/* The bus master's registers follow BAR 4 wherever the firmware puts it. */
static void ide_config_written(void *ctx, unsigned offset, unsigned size)
{
    struct vm *vm = ctx;
    (void)offset; (void)size;
    uint16_t base = ata_bmide_base(&ide);
    vm->ports[bmide_window].base = base ? base : 0xffff;
}

/* The controller, once, with the first drive. */
static bool ide_setup(struct vm *vm, unsigned slot, const struct irq_line *primary, const struct irq_line *secondary)
{
    if (slot > 3) {
        vm_stop(vm, VM_END_ERROR, "disk slot %u: there are four (0-3)", slot);
        return false;
    }
    if (!ide_ready) {
        ata_init(&ide, (struct guest_memory){ vm_read_phys, vm_write_phys, vm }, *primary, *secondary);
        ide.function.config_written = ide_config_written;
        ide.function.ctx = vm;
        pci_function_set_interrupt(&ide.function, 1, 14);
        bool ok = pci_host_register(&vm->pc.pci, 1, 1, &ide.function);
        ok &= vm_add_port_window(vm, (struct device_window){ ATA_PRIMARY_BASE, 8, &ata_command_ops, &ide.channel[0] });
        ok &= vm_add_port_window(vm, (struct device_window){ ATA_PRIMARY_CONTROL, 1, &ata_control_ops, &ide.channel[0] });
        ok &= vm_add_port_window(vm, (struct device_window){ ATA_SECONDARY_BASE, 8, &ata_command_ops, &ide.channel[1] });
        ok &= vm_add_port_window(vm, (struct device_window){ ATA_SECONDARY_CONTROL, 1, &ata_control_ops, &ide.channel[1] });
        bmide_window = vm->port_count;
        ok &= vm_add_port_window(vm, (struct device_window){ 0xffff, ATA_BMIDE_SIZE, &ata_bmide_ops, &ide });
        if (!ok) {
            vm_stop(vm, VM_END_ERROR, "setting up the IDE controller failed");
            return false;
        }
        ide_ready = true;
    }
    return true;
}

bool bios_attach_disk(struct vm *vm, unsigned slot, const void *data, uint64_t size, bool cdrom,
                      const struct irq_line *primary, const struct irq_line *secondary)
{
    if (!ide_setup(vm, slot, primary, secondary))
        return false;
    /* a hard disk is writable: the guest's writes go to its own copy (ata_image) */
    ata_image_init(&images[slot], data, size, cdrom ? NULL : image_alloc);
    bool ok = cdrom ? ata_attach_cdrom(&ide, slot / 2, slot % 2, size, ata_image_read, &images[slot])
                    : ata_attach_disk(&ide, slot / 2, slot % 2, size, false, ata_image_read, ata_image_write,
                                      &images[slot]);
    if (!ok) {
        vm_stop(vm, VM_END_ERROR, "%s of %lu bytes cannot be attached%s", cdrom ? "a CD image" : "a disk image",
                size, cdrom ? " (less than one 2048-byte block)" : " (not a multiple of 512 bytes)");
        return false;
    }
    vm_log(vm, "IDE %s %s: %s, %lu KiB", slot / 2 ? "secondary" : "primary", slot % 2 ? "slave" : "master",
           cdrom ? "CD-ROM" : "hard disk (writes kept until power-off)", size >> 10);
    return true;
}

bool bios_attach_host_disk(struct vm *vm, unsigned slot, const struct pc_disk *d,
                           const struct irq_line *primary, const struct irq_line *secondary)
{
    if (!ide_setup(vm, slot, primary, secondary))
        return false;
    if (!ata_attach_disk(&ide, slot / 2, slot % 2, d->size, false, d->read, d->write, d->ctx)) {
        vm_stop(vm, VM_END_ERROR, "a host partition of %lu bytes cannot be attached", d->size);
        return false;
    }
    vm_log(vm, "IDE %s %s: hard disk on a host partition (writes kept), %lu KiB", slot / 2 ? "secondary" : "primary",
           slot % 2 ? "slave" : "master", d->size >> 10);
    return true;
}

/* ---- VGA text ------------------------------------------------------------------- */

bool bios_attach_vga(struct vm *vm)
{
    vga_init(&vga);
    vga_ready = vm_add_port_window(vm, (struct device_window){ VGA_PORT_BASE, VGA_PORT_COUNT, &vga_ops, &vga });
    return vga_ready;
}

static void vga_line(void *ctx, unsigned row, const char *text, unsigned length)
{
    struct vm *vm = ctx;
    (void)row;
    vm_output_flush(vm);
    for (unsigned i = 0; i < length; i++)
        vm_output(vm, (uint8_t)text[i]);
    vm_output(vm, '\n');
}

void bios_vga_poll(struct vm *vm)
{
    /* not in the middle of a line from the UART: the screen's lines stay whole */
    if (vm->console.length)
        return;
    if (vga_ready && vm->ram_size >= VGA_TEXT_BASE + VGA_TEXT_SIZE)
        vga_render(&vga, vm->ram + VGA_TEXT_BASE, vga_line, vm);
}
