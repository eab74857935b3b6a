/* The PC platform for Linux guests (pc.h). */
#include <pith/console.h>
#include <pith/console_client.h>
#include <pith/string.h>
#include <pith/syscall.h>

#include "lib/term_keys.h"
#include "x86/cpuid.h"
#include "emulate.h"
#include "vm.h"

#define RTC_START_UNIX      1767225600ull   /* 2026-01-01 00:00:00 UTC: without pith.clock= */
#define LAPIC_TIMER_HZ      1000000000ull   /* the local APIC timer's input clock: 1 GHz */

static uint64_t clock_ns(void *context)
{
    return vm_now_ns(context);
}

/* ---- Interrupt wiring ---------------------------------------------------------------- */

/* ISA IRQ n: PIC input n and I/O APIC pin n, except IRQ 0 on pin 2 (the MADT says so). */
static void isa_irq(void *context, unsigned line, bool level)
{
    struct vm *vm = context;
    pic_set_irq(&vm->pc.pic, line, level);
    ioapic_set_irq(&vm->pc.ioapic, line == 0 ? 2 : line, level);
}

static struct irq_line isa_line(struct vm *vm, unsigned irq)
{
    return (struct irq_line){ isa_irq, vm, irq };
}

struct irq_line pc_isa_line(struct vm *vm, unsigned irq)
{
    return isa_line(vm, irq);
}

/* INTA# of PCI device d is IRQ 10 + d % 2, shared: the line is high while any of its
 * devices holds it (line = irq | d << 8). */
static void pci_irq(void *context, unsigned line, bool level)
{
    struct vm *vm = context;
    unsigned irq = line & 0xff, device = line >> 8;
    uint32_t *held = &vm->pc.pci_irq_held[(irq - PC_IRQ_PCI_BASE) & 1];
    *held = level ? *held | 1u << device : *held & ~(1u << device);
    isa_irq(vm, irq, *held != 0);
}

struct irq_line pc_pci_line(struct vm *vm, unsigned slot)
{
    return (struct irq_line){ pci_irq, vm, (PC_IRQ_PCI_BASE + slot % 2) | slot << 8 };
}

void pc_msi(void *context, uint64_t address, uint32_t data)
{
    struct vm *vm = context;
    if (apic_bus_msi(&vm->pc.bus, address, data))
        vm->pc.msi_delivered++;
    else
        vm->pc.msi_dropped++;
}

/* A redirection entry's message goes over the APIC bus to its destinations. */
static bool ioapic_deliver(void *context, const struct ioapic_message *m)
{
    struct vm *vm = context;
    if (m->delivery_mode != APIC_FIXED && m->delivery_mode != APIC_LOWEST_PRIORITY &&
        m->delivery_mode != APIC_NMI)
        return false;
    struct apic_message message = {
        .vector = m->vector, .delivery_mode = m->delivery_mode, .logical = m->logical,
        .level_triggered = m->level_triggered, .assert = true, .destination = m->destination,
        .source = APIC_BUS_FROM_IOAPIC,
    };
    return apic_bus_deliver(&vm->pc.bus, &message) != 0;
}

static void bus_init(void *context, unsigned index)
{
    vm_vcpu_init(context, index);
}

static void bus_startup(void *context, unsigned index, uint8_t vector)
{
    vm_vcpu_startup(context, index, vector);
}

static void lapic_eoi(void *context, uint8_t vector)
{
    struct vm *vm = context;
    ioapic_eoi(&vm->pc.ioapic, vector);
}

static void lapic_ipi(void *context, const struct lapic_ipi *ipi)
{
    struct vm *vm = context;
    apic_bus_send_ipi(&vm->pc.bus, ipi);
}

/* Every vCPU sees its own local APIC at the same address: the one of the vCPU whose
 * exit is being handled (vm->cpu, under the VMM lock). */
static uint64_t local_apic_read(void *context, uint64_t offset, unsigned size)
{
    struct vm *vm = context;
    return lapic_mmio_ops.read(&vm->pc.lapic[vm->cpu->index], offset, size);
}

static void local_apic_write(void *context, uint64_t offset, unsigned size, uint64_t value)
{
    struct vm *vm = context;
    lapic_mmio_ops.write(&vm->pc.lapic[vm->cpu->index], offset, size, value);
}

static void local_apic_reset(void *context)
{
    struct vm *vm = context;
    for (unsigned i = 0; i < vm->vcpu_count; i++)
        lapic_reset(&vm->pc.lapic[i]);
}

static const struct device_ops local_apic_ops = { "lapic", local_apic_read, local_apic_write,
                                                  local_apic_reset };

static int pc_interrupt(struct vm *vm, unsigned cpu, bool take)
{
    struct pc *pc = &vm->pc;
    struct lapic *l = &pc->lapic[cpu];
    int vector = lapic_has_interrupt(l);
    if (vector >= 0) {
        if (take) {
            lapic_acknowledge(l, (uint8_t)vector);
            pc->apic_injected++;
        }
        return vector;
    }
    if (cpu == 0 && lapic_extint_pending(l) && pic_has_interrupt(&pc->pic)) {
        if (!take)
            return 0;
        pc->extint_injected++;
        return pic_acknowledge(&pc->pic);
    }
    return -1;
}

static bool pc_nmi(struct vm *vm, unsigned cpu, bool take)
{
    struct lapic *l = &vm->pc.lapic[cpu];
    return take ? lapic_take_nmi(l) : l->nmi_pending;
}

/* ---- Machine control ----------------------------------------------------------------- */

static void machine_reset(void *context)
{
    vm_stop(context, VM_END_RESET, "the guest reset the machine");
}

static void machine_power_off(void *context)
{
    vm_stop(context, VM_END_POWER_OFF, "the guest powered off (ACPI S5)");
}

static void uart_output(void *context, uint8_t byte)
{
    vm_output(context, byte);
}

/* ---- Time ----------------------------------------------------------------------------- */

static uint64_t earlier(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Typed bytes go to the PS/2 keyboard as keys: a terminal's escape sequences become the
 * arrows, Home, End and function keys; a character with no key is dropped.  An Escape
 * that may begin a sequence waits for the rest until two input polls have passed. */
static void feed_keyboard(struct pc *pc)
{
    while (pc->input_count) {
        unsigned char window[16];
        unsigned n = pc->input_count < sizeof(window) ? pc->input_count : sizeof(window);
        for (unsigned i = 0; i < n; i++)
            window[i] = pc->input[(pc->input_head + i) % sizeof(pc->input)];
        bool settled = pc->input_waits >= 2 || n == sizeof(window);
        int key = 0;
        unsigned used = 0;
        enum term_key_result found = term_key_decode(window, n, settled, &key, &used);
        if (found == TERM_KEY_MORE)
            return;                     /* counted by pc_update's polls */
        struct ps2_scancode code;
        if (found == TERM_KEY_FOUND && ps2_scancode_of(key, &code) && !i8042_type(&pc->kbd, key))
            return;                     /* the keyboard's FIFO is full: later */
        pc->input_head = (pc->input_head + used) % sizeof(pc->input);
        pc->input_count -= used;
        pc->input_waits = 0;
    }
}

/* Typed bytes wait in pc->input until the UART's receive FIFO has room: a read from the
 * console server takes all it has for us (up to PITH_CONSOLE_READ_MAX), more than the
 * FIFO may hold. */
static void feed_uart(struct vm *vm)
{
    struct pc *pc = &vm->pc;
    if (pc->keyboard_input) {
        feed_keyboard(pc);
        return;
    }
    while (pc->input_count && vm->uart.rx_count < UART_FIFO_SIZE) {
        uart16550_receive(&vm->uart, pc->input[pc->input_head]);
        pc->input_head = (pc->input_head + 1) % sizeof(pc->input);
        pc->input_count--;
    }
}

static void poll_input(struct vm *vm)
{
    if (!vm->console_cap || sizeof(vm->pc.input) - vm->pc.input_count < PITH_CONSOLE_READ_MAX)
        return;
    char bytes[PITH_CONSOLE_READ_MAX];
    size_t got = 0;
    if (pith_console_read(vm->console_cap, bytes, sizeof(bytes), &got) == PITH_OK)
        pc_input(vm, bytes, (unsigned)got);
}

/* Brings every timer up to date at guest time now; returns the guest time of the
 * next event vCPU `cpu` must wake for (PC_NO_EVENT for none): its local APIC's timer,
 * the PCI devices' (the NIC's look at its transmit queue or owed interrupt: every
 * vCPU's, since any vCPU's exit may start them), and for vCPU 0 the machine's (PIT,
 * RTC, console input). */
static uint64_t pc_update(struct vm *vm, uint64_t now, unsigned cpu)
{
    struct pc *pc = &vm->pc;
    feed_uart(vm);
    pit_update(&pc->pit, now);
    rtc_update(&pc->rtc, now);
    for (unsigned i = 0; i < vm->vcpu_count; i++)
        lapic_update(&pc->lapic[i], now);
    uint64_t next = lapic_next_event(&pc->lapic[cpu]);
    for (unsigned i = 0; i < pc->pci_count; i++)   /* any vCPU's exit may start theirs */
        if (pc->pci_devices[i].kind->update)
            next = earlier(next, pc->pci_devices[i].kind->update(vm, &pc->pci_devices[i], now));
    if (cpu != 0)
        return next;
    next = earlier(next, earlier(pit_next_event_ns(&pc->pit, now), rtc_next_event_ns(&pc->rtc, now)));
    if (vm->console_cap) {
        if (now >= pc->next_input_poll) {
            if (pc->keyboard_input && pc->input_count)
                pc->input_waits++;      /* an unfinished escape sequence waits */
            poll_input(vm);
            if (pc->poll)
                pc->poll(vm);
            pc->next_input_poll = now + PC_INPUT_POLL_NS;
        }
        next = earlier(next, pc->next_input_poll);
    }
    return next;
}

void pc_input(struct vm *vm, const char *bytes, unsigned n)
{
    struct pc *pc = &vm->pc;
    for (unsigned i = 0; i < n && pc->input_count < sizeof(pc->input); i++)
        pc->input[(pc->input_head + pc->input_count++) % sizeof(pc->input)] = (uint8_t)bytes[i];
    feed_uart(vm);
}

/* ---- MSRs ------------------------------------------------------------------------------ */

static bool lapic_msr(uint32_t index)
{
    return index == MSR_IA32_APIC_BASE || index == MSR_IA32_TSC_DEADLINE ||
           (index >= MSR_X2APIC_FIRST && index <= MSR_X2APIC_LAST);
}

static bool pc_msr_read(struct vm *vm, uint32_t index, uint64_t *value, bool *ok)
{
    if (lapic_msr(index)) {
        *ok = lapic_msr_read(&vm->pc.lapic[vm->cpu->index], index, value);
        return true;
    }
    if (msr_pc_read(&vm->msrs, index, value)) {
        *ok = true;
        return true;
    }
    return false;
}

static bool pc_msr_write(struct vm *vm, uint32_t index, uint64_t value, bool *ok)
{
    if (lapic_msr(index)) {
        *ok = lapic_msr_write(&vm->pc.lapic[vm->cpu->index], index, value);
        return true;
    }
    if (msr_pc_write(&vm->msrs, index, value)) {
        *ok = true;
        return true;
    }
    return false;
}

/* ---- PCI and virtio ---------------------------------------------------------------------- */

static bool dma_read(void *context, uint64_t gpa, void *buf, size_t length)
{
    return vm_read_phys(context, gpa, buf, length);
}

static bool dma_write(void *context, uint64_t gpa, const void *buf, size_t length)
{
    return vm_write_phys(context, gpa, buf, length);
}

struct guest_memory pc_dma(struct vm *vm)
{
    return (struct guest_memory){ dma_read, dma_write, vm };
}

void pc_modern_function(struct pc_pci_device *d, struct virtio_modern *m, const struct device_ops *ops, void *dev)
{
    struct pci_function *f = &m->pci;
    uint64_t bar = PC_PCI_MMIO_BASE + d->kind->slot * PC_PCI_MMIO_SLOT;
    for (unsigned i = 0; i < 8; i++)    /* a 64-bit BAR: the low dword, then the high */
        f->config[PCI_BAR0 + 4 * VIRTIO_MODERN_BAR + i] |= (uint8_t)(bar >> (8 * i));
    pci_function_set_interrupt(f, 1, (uint8_t)(PC_IRQ_PCI_BASE + d->kind->slot % 2));
    f->config[PCI_COMMAND] = PCI_COMMAND_MEMORY;
    d->function = f;
    d->bars[VIRTIO_MODERN_BAR] = (struct pc_pci_bar){ ops, dev, VIRTIO_MODERN_BAR_SIZE };
}

void pc_virtio_legacy_function(struct pc_pci_device *d, struct pci_function *f,
                               struct virtio_device *dev, const struct device_ops *ops,
                               uint16_t device_id, uint16_t subsystem, uint32_t class_code)
{
    unsigned slot = d->kind->slot;
    uint32_t registers = VIRTIO_LEGACY_REGISTERS + dev->ops->config_size, size = 32;
    while (size < registers)
        size <<= 1;
    pci_function_init(f, VIRTIO_PCI_VENDOR, device_id, class_code, 0);
    pci_function_set_bar(f, 0, size, PCI_BAR_IO);
    uint32_t bar = (PC_PCI_IO_BASE + slot * 0x100) | PCI_BAR_IO;
    memcpy(&f->config[PCI_BAR0], &bar, 4);
    f->config[PCI_SUBSYSTEM_VENDOR_ID] = VIRTIO_PCI_VENDOR & 0xff;
    f->config[PCI_SUBSYSTEM_VENDOR_ID + 1] = VIRTIO_PCI_VENDOR >> 8;
    f->config[PCI_SUBSYSTEM_ID] = (uint8_t)subsystem;
    pci_function_set_interrupt(f, 1, (uint8_t)(PC_IRQ_PCI_BASE + slot % 2));
    f->config[PCI_COMMAND] = PCI_COMMAND_IO;
    d->function = f;
    d->bars[0] = (struct pc_pci_bar){ ops, dev, registers };
}

/* The BAR of a present device that holds address (in port space when io), with the
 * decoding its command register enables. */
static const struct device_window *bar_window(struct vm *vm, uint64_t address, bool io,
                                              struct device_window *out)
{
    struct pc *pc = &vm->pc;
    for (unsigned i = 0; i < pc->pci_count; i++) {
        const struct pc_pci_device *d = &pc->pci_devices[i];
        const struct pci_function *f = d->function;
        if (!(f->config[PCI_COMMAND] & (io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)))
            continue;
        for (unsigned bar = 0; bar < 6; bar++) {
            const struct pc_pci_bar *b = &d->bars[bar];
            if (!b->length || !(f->config[PCI_BAR0 + 4 * bar] & PCI_BAR_IO) != !io)
                continue;
            uint64_t base = pci_function_bar_address(f, bar);
            if (base && address >= base && address - base < b->length) {
                *out = (struct device_window){ base, b->length, b->ops, b->dev };
                return out;
            }
        }
    }
    return NULL;
}

static const struct device_window *pc_port_window(struct vm *vm, uint16_t port, struct device_window *out)
{
    return bar_window(vm, port, true, out);
}

static const struct device_window *pc_mmio_window(struct vm *vm, uint64_t gpa, struct device_window *out)
{
    return bar_window(vm, gpa, false, out);
}

/* The PCI devices beyond the chipset: a device is its file and its line here. */
extern const struct pc_pci_kind pci_virtio_blk, pci_virtio_console, pci_virtio_net;
static const struct pc_pci_kind *const pci_kinds[] = {
    &pci_virtio_blk,                /* 00:02.0 */
    &pci_virtio_console,            /* 00:03.0 */
    &pci_virtio_net,                /* 00:04.0 */
};

static bool create_pci_devices(struct vm *vm, const struct pc_setup *setup)
{
    struct pc *pc = &vm->pc;
    _Static_assert(sizeof(pci_kinds) / sizeof(pci_kinds[0]) <= PC_PCI_DEVICES, "room for every kind");
    for (unsigned i = 0; i < sizeof(pci_kinds) / sizeof(pci_kinds[0]); i++) {
        struct pc_pci_device *d = &pc->pci_devices[pc->pci_count];
        *d = (struct pc_pci_device){ .kind = pci_kinds[i] };
        if (!d->kind->create(vm, setup, d)) {
            vm_log(vm, "%s: could not be built", d->kind->name);
            return false;
        }
        if (!d->function)
            continue;               /* not in this guest */
        if (!pci_host_register(&pc->pci, d->kind->slot, 0, d->function))
            return false;
        pc->pci_count++;
    }
    return true;
}

/* ---- ACPI ------------------------------------------------------------------------------ */

/* AML for the DSDT body (ACPI 6.5, chapter 20): the PCI root bridge with its _PRT, so a
 * guest that takes its PCI configuration from ACPI finds bus 0 and routes INTA# of the
 * virtio devices to IRQs 10 and 11 (level, active high in this platform's terms).
 *
 *   Device (PCI0) {
 *     Name (_HID, EisaId ("PNP0A03"))  Name (_UID, 0)  Name (_BBN, 0)
 *     Name (_CRS, ResourceTemplate () { WordBusNumber 0-0; IO 0xcf8/8;
 *                                       WordIO 0x0000-0x0cf7, 0x0d00-0xffff;
 *                                       DWordMemory 0xa0000-0xbffff, 0xe0000000-0xfebfffff })
 *     Name (_PRT, Package () { Package () { 0xDDDDFFFF, pin, 0, IRQ } ... })
 *   }
 */
static size_t aml_pkglength(uint8_t *p, size_t length)
{
    /* length counts the PkgLength bytes themselves; 1, 2 or 3 bytes */
    if (length + 1 < 0x40) {
        p[0] = (uint8_t)(length + 1);
        return 1;
    }
    if (length + 2 < 0x1000) {
        size_t n = length + 2;
        p[0] = (uint8_t)(0x40 | (n & 0xf));
        p[1] = (uint8_t)(n >> 4);
        return 2;
    }
    size_t n = length + 3;
    p[0] = (uint8_t)(0x80 | (n & 0xf));
    p[1] = (uint8_t)(n >> 4);
    p[2] = (uint8_t)(n >> 12);
    return 3;
}

struct aml {
    uint8_t *p;
    size_t n, size;
};

static void aml_bytes(struct aml *a, const void *bytes, size_t n)
{
    if (a->n + n <= a->size)
        memcpy(a->p + a->n, bytes, n);
    a->n += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
    aml_bytes(a, &b, 1);
}

static void aml_dword_const(struct aml *a, uint32_t v)
{
    uint8_t b[5] = { 0x0c, (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    aml_bytes(a, b, 5);
}

static void aml_integer(struct aml *a, uint32_t v)
{
    if (v == 0)
        aml_byte(a, 0x00);                              /* ZeroOp */
    else if (v == 1)
        aml_byte(a, 0x01);                              /* OneOp */
    else if (v <= 0xff) {
        uint8_t b[2] = { 0x0a, (uint8_t)v };            /* BytePrefix */
        aml_bytes(a, b, 2);
    } else
        aml_dword_const(a, v);
}

/* Wraps the bytes written since `start` in an opcode and a PkgLength. */
static void aml_wrap(struct aml *a, size_t start, const uint8_t *opcode, size_t opcode_length)
{
    uint8_t header[5];
    size_t body = a->n - start;
    memcpy(header, opcode, opcode_length);
    size_t h = opcode_length + aml_pkglength(header + opcode_length, body);
    if (a->n + h <= a->size) {
        memmove(a->p + start + h, a->p + start, body);
        memcpy(a->p + start, header, h);
    }
    a->n += h;
}

static size_t build_pci_aml(uint8_t *buf, size_t size)
{
    struct aml a = { buf, 0, size };
    static const uint8_t crs[] = {
        /* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, , 0, 0, 0, 0, 1) */
        0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
        /* IO (Decode16, 0xcf8, 0xcf8, 1, 8) */
        0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
        /* WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0, 0xcf7, 0, 0xcf8) */
        0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x00, 0xf7, 0x0c, 0x00, 0x00, 0xf8, 0x0c,
        /* WordIO (..., 0, 0xd00, 0xffff, 0, 0xf300) */
        0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x0d, 0xff, 0xff, 0x00, 0x00, 0x00, 0xf3,
        /* DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
         *              0, 0xa0000, 0xbffff, 0, 0x20000) */
        0x87, 0x17, 0x00, 0x00, 0x0c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00,
        0xff, 0xff, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
        /* DWordMemory (..., 0, 0xe0000000, 0xfebfffff, 0, 0x1ec00000) */
        0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0,
        0xff, 0xff, 0xbf, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x1e,
        0x79, 0x00,                                     /* EndTag */
    };
    static const uint8_t device_op[2] = { 0x5b, 0x82 }, package_op[1] = { 0x12 },
                         buffer_op[1] = { 0x11 };
    size_t device = a.n;
    aml_bytes(&a, "PCI0", 4);
    aml_bytes(&a, "\x08_HID\x0c\x41\xd0\x0a\x03", 10);  /* EisaId ("PNP0A03") */
    aml_bytes(&a, "\x08_UID\x00", 6);
    aml_bytes(&a, "\x08_BBN\x00", 6);
    aml_bytes(&a, "\x08_CRS", 5);
    size_t buffer = a.n;
    aml_integer(&a, sizeof(crs));
    aml_bytes(&a, crs, sizeof(crs));
    aml_wrap(&a, buffer, buffer_op, 1);
    aml_bytes(&a, "\x08_PRT", 5);
    size_t prt = a.n;
    unsigned entries = 0;
    size_t count_at = a.n;
    aml_byte(&a, 0);                                    /* NumElements, set below */
    for (unsigned dev = 1; dev < 8; dev++) {
        for (unsigned pin = 0; pin < 4; pin++) {
            size_t entry = a.n;
            aml_byte(&a, 4);
            aml_dword_const(&a, dev << 16 | 0xffff);
            aml_integer(&a, pin);
            aml_byte(&a, 0);                            /* Source: none, a GSI */
            aml_integer(&a, PC_IRQ_PCI_BASE + (dev + pin) % 2);
            aml_wrap(&a, entry, package_op, 1);
            entries++;
        }
    }
    if (count_at < a.size)
        a.p[count_at] = (uint8_t)entries;
    aml_wrap(&a, prt, package_op, 1);
    aml_wrap(&a, device, device_op, 2);
    return a.n <= size ? a.n : 0;
}

static bool build_acpi(struct vm *vm)
{
    static uint8_t aml[2048];
    struct acpi_config cfg;
    acpi_default_config(&cfg, vm->vcpu_count, PC_ACPI_BASE);
    cfg.extra_aml = aml;
    cfg.extra_aml_length = build_pci_aml(aml, sizeof(aml));
    /* No ACPI_BOOT_8042: Linux then leaves the keyboard controller alone (probing a
     * keyboard that never answers costs seconds); its reset still works. */
    cfg.boot_arch = ACPI_BOOT_LEGACY_DEVICES | ACPI_BOOT_NO_VGA;
    return cfg.extra_aml_length && acpi_build_tables(&cfg, vm->ram + PC_ACPI_BASE, PC_ACPI_SIZE, &vm->pc.acpi);
}

/* ---- Creation -------------------------------------------------------------------------- */

bool pc_create(struct vm *vm, const struct pc_setup *setup)
{
    struct pc *pc = &vm->pc;
    uint64_t now = vm_now_ns(vm);
    pic_init(&pc->pic, (struct irq_line){ lapic_set_lint, &pc->lapic[0], 0 });
    pit_init(&pc->pit, isa_line(vm, 0), clock_ns, vm);
    rtc_init(&pc->rtc, vm->wall_clock ? vm->wall_clock : RTC_START_UNIX, now, isa_line(vm, 8), clock_ns, vm);
    uint64_t below_4g = vm->ram_size < 0xe0000000ull ? vm->ram_size : 0xe0000000ull;
    rtc_set_memory_size(&pc->rtc, below_4g, vm->ram_size - below_4g);
    i8042_init(&pc->kbd, machine_reset, vm);
    pc->bus = (struct apic_bus){ .count = vm->vcpu_count, .init = bus_init, .startup = bus_startup,
                                 .ctx = vm };
    for (unsigned i = 0; i < vm->vcpu_count; i++) {
        struct lapic_config lc = { .id = i, .bsp = i == 0, .timer_hz = LAPIC_TIMER_HZ,
                                   .tsc_hz = vm->tsc_hz, .send_ipi = lapic_ipi, .eoi_broadcast = lapic_eoi,
                                   .ctx = vm, .clock = clock_ns, .clock_ctx = vm };
        lapic_init(&pc->lapic[i], &lc);
        pc->bus.lapic[i] = &pc->lapic[i];
    }
    lapic_enable_virtual_wire(&pc->lapic[0]);
    ioapic_init(&pc->ioapic, 0, ioapic_deliver, vm);
    pci_host_init(&pc->pci, machine_reset, vm);
    acpi_pm_init(&pc->pm, true, isa_line(vm, PC_IRQ_SCI), machine_power_off, vm, clock_ns, vm);
    uart16550_init(&vm->uart, uart_output, vm, isa_line(vm, PC_IRQ_UART));

    static const struct { uint64_t base, length; const struct device_ops *ops; size_t offset; } ports[] = {
        { 0x20, 2, &pic_master_ops, offsetof(struct pc, pic) },
        { 0xa0, 2, &pic_slave_ops, offsetof(struct pc, pic) },
        { 0x4d0, 2, &pic_elcr_ops, offsetof(struct pc, pic) },
        { 0x40, 4, &pit_ops, offsetof(struct pc, pit) },
        { 0x61, 1, &pit_port61_ops, offsetof(struct pc, pit) },     /* before the i8042's 0x60-0x64 */
        { 0x60, 5, &i8042_ops, offsetof(struct pc, kbd) },
        { 0x70, 2, &rtc_ops, offsetof(struct pc, rtc) },
        { PCI_HOST_PORT_BASE, PCI_HOST_PORT_COUNT, &pci_host_ops, offsetof(struct pc, pci) },
        { ACPI_PM_DEFAULT_BASE, ACPI_PM_WINDOW_SIZE, &acpi_pm_ops, offsetof(struct pc, pm) },
    };
    bool ok = vm_add_port_window(vm, (struct device_window){ 0x3f8, UART16550_REGS, &uart16550_ops, &vm->uart });
    for (unsigned i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
        ok &= vm_add_port_window(vm, (struct device_window){ ports[i].base, ports[i].length, ports[i].ops,
                                                             (uint8_t *)pc + ports[i].offset });
    ok &= vm_add_mmio_window(vm, (struct device_window){ LAPIC_DEFAULT_BASE, LAPIC_WINDOW_SIZE,
                                                         &local_apic_ops, vm });
    ok &= vm_add_mmio_window(vm, (struct device_window){ IOAPIC_DEFAULT_BASE, IOAPIC_WINDOW_SIZE,
                                                         &ioapic_ops, &pc->ioapic });
    return ok && create_pci_devices(vm, setup) && build_acpi(vm);
}

/* ---- The platform's operations (platform.h) ---------------------------------------- */

static uint64_t update(struct vm *vm, unsigned cpu)
{
    uint64_t next = pc_update(vm, vm_now_ns(vm), cpu);
    return next == PC_NO_EVENT ? 0 : vm_tsc_at(vm, next);
}

static void signalled(struct vm *vm, uint64_t bits)
{
    struct pc *pc = &vm->pc;
    if (bits & PITH_GUEST_POWER_BUTTON_BADGE) {
        vm_log(vm, "the power button is pressed");
        acpi_pm_power_button(&pc->pm);
    }
    for (unsigned i = 0; i < pc->pci_count; i++)
        if (pc->pci_devices[i].kind->signalled)
            pc->pci_devices[i].kind->signalled(vm, &pc->pci_devices[i], bits);
}

static void after_exit(struct vm *vm, unsigned cpu)
{
    (void)cpu;
    struct pc *pc = &vm->pc;
    for (unsigned i = 0; i < pc->pci_count; i++)
        if (pc->pci_devices[i].kind->after_exit)
            pc->pci_devices[i].kind->after_exit(vm, &pc->pci_devices[i]);
}

static void halted(struct vm *vm, unsigned cpu)
{
    (void)cpu;
    struct pc *pc = &vm->pc;
    for (unsigned i = 0; i < pc->pci_count; i++)
        if (pc->pci_devices[i].kind->halted)
            pc->pci_devices[i].kind->halted(vm, &pc->pci_devices[i]);
}

static void report(struct vm *vm)
{
    struct pc *pc = &vm->pc;
    vm_log(vm, "interrupts: %lu from the PIC, %lu from the local APICs; %lu MSIs (%lu no APIC took)",
           pc->extint_injected, pc->apic_injected, pc->msi_delivered + pc->msi_dropped, pc->msi_dropped);
    for (unsigned i = 0; i < pc->pci_count; i++)
        if (pc->pci_devices[i].kind->report)
            pc->pci_devices[i].kind->report(vm, &pc->pci_devices[i]);
}

static uint8_t tpr_read(struct vm *vm, unsigned cpu)
{
    return (uint8_t)vm->pc.lapic[cpu].tpr;
}

static void tpr_write(struct vm *vm, unsigned cpu, uint8_t tpr)
{
    lapic_mmio_ops.write(&vm->pc.lapic[cpu], LAPIC_TPR, 4, tpr);
}

const struct platform_ops pc_platform = {
    .name = "PC",
    .max_vcpus = PC_MAX_CPUS,
    .cpuid_emulates = CPUID_EMULATES_APIC | CPUID_EMULATES_MTRR | CPUID_INVARIANT_TSC,
    .places_vcpus = true,
    .kernel_answers = true,
    .update = update,
    .interrupt = pc_interrupt,
    .nmi = pc_nmi,
    .msr_read = pc_msr_read,
    .msr_write = pc_msr_write,
    .port_window = pc_port_window,
    .mmio_window = pc_mmio_window,
    .signalled = signalled,
    .after_exit = after_exit,
    .halted = halted,
    .report = report,
    .tpr_read = tpr_read,
    .tpr_write = tpr_write,
};
