/*
 * Devices and per-thread CPU state: IRQ handlers (real interrupts from the 8254 PIT
 * on line 0 and the MC146818 RTC on line 8, both emulated by QEMU and Bochs), I/O
 * port capabilities and the I/O permission bitmap, and FPU/SSE state kept apart
 * between threads.  Port accesses that might fault run in a probe thread whose faults
 * come to the case, so a broken bitmap fails a case instead of stopping the suite.
 */
#include "ktest.h"

#define DV_DONE         0x7d1
#define DV_PRIORITY     90

#define PIT_CH0         0x40
#define PIT_CMD         0x43
#define PIT_1MS         1193        /* counts of the 1.193182 MHz clock */
#define CMOS_INDEX      0x70
#define CMOS_DATA       0x71
#define CMOS_REG_A      0x0a
#define CMOS_REG_B      0x0b
#define CMOS_REG_C      0x0c
#define CMOS_REG_D      0x0d
#define POST_PORT       0x80

/* ---- Time ------------------------------------------------------------------------ */

static uint64_t ms_to_tsc(uint64_t ms)
{
    return kt_bootinfo->tsc_hz / 1000 * ms;
}

/* Sleep on a notification's deadline. */
static bool dv_sleep(struct pith_test_ctx *ctx, pith_cap_t n, uint64_t ms)
{
    uint64_t bits = 0;
    if (!pith_expect_ok(ctx, pith_notification_set_deadline(n, pith_rdtsc() + ms_to_tsc(ms)),
                        "arming a deadline"))
        return false;
    return pith_expect_ok(ctx, pith_wait(n, &bits), "sleeping") &&
           pith_expect(ctx, bits & PITH_DEADLINE_BIT, "woke without the deadline bit: %lx", bits);
}

/* Wait for IRQ bits on n, at most timeout_ms; returns the bits (deadline bit alone
 * = timed out). */
static uint64_t dv_wait_irq(struct pith_test_ctx *ctx, pith_cap_t n, uint64_t timeout_ms)
{
    uint64_t bits = 0;
    pith_notification_set_deadline(n, pith_rdtsc() + ms_to_tsc(timeout_ms));
    pith_expect_ok(ctx, pith_wait(n, &bits), "waiting for the interrupt");
    pith_notification_set_deadline(n, 0);
    return bits;
}

/* Nothing pending on n. */
static bool dv_quiet(struct pith_test_ctx *ctx, pith_cap_t n, const char *what)
{
    uint64_t bits = 0;
    return pith_expect_err(ctx, pith_poll(n, &bits), PITH_E_WOULD_BLOCK, what);
}

/* ---- Port probes in a thread with a fault endpoint ------------------------------------ */

static struct {
    pith_cap_t ep;
    uint16_t out_port;      /* 0: no OUT first */
    uint8_t out_value;
    uint16_t in_port;
    unsigned in_width;      /* 1 or 2 */
    volatile uint64_t rip;
} px;

static void probe_thread(uint64_t unused)
{
    (void)unused;
    uint64_t value = 0;
    if (px.out_port) {
        __asm__ volatile("lea 1f(%%rip), %%rcx\n\t"
                         "mov %%rcx, %0\n"
                         "1:\toutb %%al, %%dx"
                         : "=m"(px.rip) : "a"(px.out_value), "d"(px.out_port) : "rcx", "memory");
    }
    if (px.in_width == 2) {
        uint16_t v;
        __asm__ volatile("lea 1f(%%rip), %%rcx\n\t"
                         "mov %%rcx, %0\n"
                         "1:\tinw %%dx, %%ax"
                         : "=m"(px.rip), "=a"(v) : "d"(px.in_port) : "rcx", "memory");
        value = v;
    } else {
        uint8_t v;
        __asm__ volatile("lea 1f(%%rip), %%rcx\n\t"
                         "mov %%rcx, %0\n"
                         "1:\tinb %%dx, %%al"
                         : "=m"(px.rip), "=a"(v) : "d"(px.in_port) : "rcx", "memory");
        value = v;
    }
    struct pith_msg m = { .info = pith_msginfo(DV_DONE, 1, 0), .mr = { value } };
    pith_call(px.ep, &m);
}

enum probe_result { PROBE_FAILED, PROBE_RAN, PROBE_GP };

/* Optionally OUT out_value to out_port, then IN from in_port (width 1 or 2) in a
 * fresh thread of the root address space.  PROBE_RAN with *value, PROBE_GP when an
 * access raised #GP (checked: vector 13, error 0, rip of that instruction). */
static enum probe_result probe(struct pith_test_ctx *ctx, uint16_t out_port, uint8_t out_value,
                               uint16_t in_port, unsigned in_width, uint64_t *value)
{
    struct kt_thread t;
    struct pith_msg m;
    enum probe_result result = PROBE_FAILED;
    px.ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    px.out_port = out_port;
    px.out_value = out_value;
    px.in_port = in_port;
    px.in_width = in_width;
    px.rip = 0;
    if (!px.ep)
        return PROBE_FAILED;
    if (kt_thread_start(ctx, &t, probe_thread, 0, DV_PRIORITY, px.ep)) {
        if (pith_expect_ok(ctx, pith_recv(px.ep, &m), "receiving from the probe")) {
            uint64_t label = pith_msginfo_label(m.info);
            if (label == DV_DONE) {
                *value = m.mr[0];
                result = PROBE_RAN;
            } else if (pith_expect_eq(ctx, label, PITH_FAULT_EXCEPTION, "probe fault kind") &&
                       pith_expect_eq(ctx, m.mr[3], 13, "probe fault vector") &&
                       pith_expect_eq(ctx, m.mr[2], 0, "probe fault error code") &&
                       pith_expect_eq(ctx, m.mr[0], px.rip, "probe fault rip")) {
                result = PROBE_GP;
            }
        }
        kt_thread_destroy(&t);
    }
    kt_delete(px.ep);
    return result;
}

/* Read a CMOS register through the probe. */
static enum probe_result probe_cmos(struct pith_test_ctx *ctx, uint8_t reg, uint64_t *value)
{
    return probe(ctx, CMOS_INDEX, reg, CMOS_DATA, 1, value);
}

/* A capability for ports first..last in a fresh slot (0 and a failure if not). */
static pith_cap_t dv_ports(struct pith_test_ctx *ctx, uint16_t first, uint16_t last)
{
    pith_cap_t slot = kt_slot();
    if (!pith_expect_ok(ctx, pith_ioport_control_issue(PITH_SLOT_IOPORT_CONTROL, first, last, slot),
                        "issuing a port range")) {
        pith_alloc_free_slot(slot);
        return 0;
    }
    return slot;
}

/* Close the range again and drop the capability. */
static void dv_ports_close(pith_cap_t ports)
{
    if (ports) {
        pith_ioport_deny(ports, KT_SPACE);
        kt_delete(ports);
    }
}

/* Ports first..last, allowed in the root address space and checked with a probe
 * read of first (from a thread, so a failure does not stop the root task). */
static pith_cap_t dv_ports_open(struct pith_test_ctx *ctx, uint16_t first, uint16_t last)
{
    pith_cap_t ports = dv_ports(ctx, first, last);
    uint64_t v;
    if (!ports)
        return 0;
    if (!pith_expect_ok(ctx, pith_ioport_allow(ports, KT_SPACE), "allowing the ports") ||
        !pith_expect_eq(ctx, probe(ctx, 0, 0, first, 1, &v), PROBE_RAN, "a probe of the open ports")) {
        dv_ports_close(ports);
        return 0;
    }
    return ports;
}

static uint8_t cmos_read(uint8_t reg)
{
    pith_outb(CMOS_INDEX, reg);
    return pith_inb(CMOS_DATA);
}

static void cmos_write(uint8_t reg, uint8_t value)
{
    pith_outb(CMOS_INDEX, reg);
    pith_outb(CMOS_DATA, value);
}

/* ---- IRQ capabilities ------------------------------------------------------------- */

static pith_cap_t irq_get(struct pith_test_ctx *ctx, uint64_t line)
{
    pith_cap_t slot = kt_slot();
    if (!pith_expect_ok(ctx, pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, line, slot),
                        "getting an IRQ handler")) {
        pith_alloc_free_slot(slot);
        return 0;
    }
    return slot;
}

static void irq_get_twice(struct pith_test_ctx *ctx)
{
    pith_cap_t h = irq_get(ctx, 5);
    if (!h)
        return;
    pith_cap_t other = kt_slot();
    pith_expect_err(ctx, pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, 5, other), PITH_E_BUSY,
                    "the same line twice");
    pith_cap_t copy = kt_slot();
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, copy, KT_CNODE, h, PITH_RIGHTS_ALL),
                   "copying the handler");
    kt_delete(h);
    pith_expect_err(ctx, pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, 5, other), PITH_E_BUSY,
                    "a copy still holds the line");
    kt_delete(copy);
    pith_expect_ok(ctx, pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, 5, other),
                   "the line is free once every handler capability is gone");
    kt_delete(other);
    pith_cap_t again = irq_get(ctx, 5);
    kt_delete(again);
}

static void irq_bad_lines(struct pith_test_ctx *ctx)
{
    pith_cap_t slot = kt_slot();
    pith_expect_err(ctx, pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, 2, slot), PITH_E_INVALID_ARG,
                    "line 2 (the cascade)");
    pith_expect_err(ctx, pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, 16, slot), PITH_E_RANGE,
                    "line 16");
    pith_expect_err(ctx, pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, ~0ull, slot), PITH_E_RANGE,
                    "line 2^64-1");
    struct pith_msg probe_msg = { .info = pith_msginfo(PITH_FRAME_ADDRESS, 0, 0) };
    pith_expect_err(ctx, pith_call(slot, &probe_msg), PITH_E_INVALID_CAP, "the slot stayed empty");
    pith_alloc_free_slot(slot);
}

static void irq_bad_slots(struct pith_test_ctx *ctx)
{
    pith_expect_err(ctx, pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, 6, 0), PITH_E_RANGE, "slot 0");
    pith_expect_err(ctx, pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, 6,
                                              1ull << kt_bootinfo->cnode_size_bits),
                    PITH_E_RANGE, "a slot past the CNode");
    pith_expect_err(ctx, pith_irq_control_get(PITH_SLOT_IRQ_CONTROL, 6, PITH_SLOT_THREAD),
                    PITH_E_SLOT_OCCUPIED, "an occupied slot");
    /* None of these handed the line out. */
    pith_cap_t h = irq_get(ctx, 6);
    kt_delete(h);
}

static void irq_handler_methods(struct pith_test_ctx *ctx)
{
    pith_cap_t h = irq_get(ctx, 10);
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    pith_cap_t n = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t n_read = kt_slot();
    if (!h || !ep || !n)
        return;
    pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, n_read, KT_CNODE, n, PITH_RIGHT_READ),
                   "a read-only copy of the notification");
    pith_expect_err(ctx, pith_irq_set_notification(h, ep), PITH_E_INVALID_CAP, "an endpoint");
    pith_expect_err(ctx, pith_irq_set_notification(h, n_read), PITH_E_RIGHTS,
                    "a notification without WRITE");
    pith_expect_ok(ctx, pith_irq_set_notification(h, n), "a notification");
    pith_expect_ok(ctx, pith_irq_set_notification(h, n), "replacing it");
    pith_expect_ok(ctx, pith_irq_ack(h), "ack");
    pith_expect_ok(ctx, pith_irq_ack(h), "ack on an unmasked line");
    pith_expect_ok(ctx, pith_irq_clear(h), "clear");
    pith_expect_ok(ctx, pith_irq_clear(h), "clear again");
    struct pith_msg m = { .info = pith_msginfo(PITH_IRQ_ACK, 0, 0) };
    pith_expect_err(ctx, pith_call(PITH_SLOT_IRQ_CONTROL, &m), PITH_E_ILLEGAL_OP,
                    "a handler method on IRQ control");
    m = (struct pith_msg){ .info = pith_msginfo(PITH_IRQ_CONTROL_GET, 2, 0), .mr = { 9, kt_slot() } };
    pith_expect_err(ctx, pith_call(h, &m), PITH_E_ILLEGAL_OP, "GET on a handler");
    m = (struct pith_msg){ .info = pith_msginfo(PITH_IOPORT_ALLOW, 1, 0), .mr = { KT_SPACE } };
    pith_expect_err(ctx, pith_call(h, &m), PITH_E_ILLEGAL_OP, "an I/O-port method on a handler");
    kt_delete(n_read);
    kt_delete(h);
}

/* ---- Real interrupts: the PIT on line 0 ----------------------------------------------
 * Channel 0 in mode 0 (interrupt on terminal count): the control word drives OUT low,
 * the count runs down and OUT rises once, one edge on IRQ 0, then OUT stays high, so
 * the line is quiet until the next programming.  The BIOS left the channel running
 * periodically, so the PIC may hold a stale request: pit_open drains it. */

struct pit {
    pith_cap_t ports, handler, irq, sleep;
};

static void pit_oneshot(uint16_t count)
{
    pith_outb(PIT_CMD, 0x30);           /* channel 0, low then high byte, mode 0 */
    pith_outb(PIT_CH0, count & 0xff);
    pith_outb(PIT_CH0, count >> 8);
}

static void pit_close(struct pit *p)
{
    if (p->handler) {
        pith_irq_clear(p->handler);
        kt_delete(p->handler);
    }
    dv_ports_close(p->ports);
    kt_delete(p->irq);
    kt_delete(p->sleep);
    *p = (struct pit){ 0 };
}

/* Ports, handler and notifications; the channel quiet, the line unmasked, nothing
 * pending. */
static bool pit_open(struct pith_test_ctx *ctx, struct pit *p)
{
    *p = (struct pit){ 0 };
    p->irq = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    p->sleep = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    p->ports = dv_ports_open(ctx, PIT_CH0, PIT_CMD);
    p->handler = p->ports ? irq_get(ctx, 0) : 0;
    if (!p->irq || !p->sleep || !p->handler) {
        pit_close(p);
        return false;
    }
    pit_oneshot(PIT_1MS);
    uint64_t bits;
    bool ok = dv_sleep(ctx, p->sleep, 10) &&
              pith_expect_ok(ctx, pith_irq_set_notification(p->handler, p->irq), "set notification") &&
              pith_expect_ok(ctx, pith_irq_ack(p->handler), "ack") &&
              dv_sleep(ctx, p->sleep, 10);
    pith_poll(p->irq, &bits);                      /* a stale request, if any */
    ok = ok && pith_expect_ok(ctx, pith_irq_ack(p->handler), "ack after draining");
    if (!ok)
        pit_close(p);
    return ok;
}

/* QEMU's and Bochs's firmware list an I/O APIC: the kernel delivers the lines through
 * it (the PIT and RTC cases below then prove its routing, IRQ 0's override included),
 * and its registers are in no untyped the root task got. */
static void irq_controller_ioapic(struct pith_test_ctx *ctx)
{
    uint64_t page = kt_bootinfo->irq_controller_mmio;
    if (!pith_expect_eq(ctx, kt_bootinfo->irq_controller, PITH_IRQ_CONTROLLER_IOAPIC,
                        "the controller named in the boot info") ||
        !pith_expect(ctx, page && !(page & 0xfff), "the I/O APIC's page: %lx", page))
        return;
    for (uint64_t i = 0; i < kt_bootinfo->untyped_count; i++) {
        const struct pith_untyped_desc *u = &kt_bootinfo->untyped[i];
        uint64_t end = u->phys + (1ull << u->size_bits);
        pith_expect(ctx, page + 0x1000 <= u->phys || page >= end,
                    "untyped %lu [%lx, %lx) covers the I/O APIC at %lx", i, u->phys, end, page);
    }
}

static void irq_pit_interrupt(struct pith_test_ctx *ctx)
{
    struct pit p;
    if (!pit_open(ctx, &p))
        return;
    /* No programming, no interrupt. */
    if (dv_sleep(ctx, p.sleep, 30) && dv_quiet(ctx, p.irq, "an interrupt from an idle PIT")) {
        uint64_t start = pith_rdtsc();
        pit_oneshot(PIT_1MS);
        uint64_t bits = dv_wait_irq(ctx, p.irq, 1000);
        uint64_t elapsed = pith_rdtsc() - start;
        pith_expect_eq(ctx, bits, 1, "bits of an unbadged notification: the line's bit");
        pith_expect(ctx, elapsed >= ms_to_tsc(1) / 4, "the interrupt came too early (%lu TSC)", elapsed);
        /* Mode 0 fires once: nothing more until reprogrammed. */
        pith_expect_ok(ctx, pith_irq_ack(p.handler), "ack");
        if (dv_sleep(ctx, p.sleep, 20))
            dv_quiet(ctx, p.irq, "a second interrupt from one count");
    }
    pit_close(&p);
}

/* The kernel masks the line when it fires; the next edge waits for ACK. */
static void irq_masked_until_ack(struct pith_test_ctx *ctx)
{
    struct pit p;
    if (!pit_open(ctx, &p))
        return;
    pit_oneshot(PIT_1MS);
    if (pith_expect_eq(ctx, dv_wait_irq(ctx, p.irq, 1000), 1, "the first interrupt")) {
        pit_oneshot(PIT_1MS);
        if (dv_sleep(ctx, p.sleep, 20) && dv_quiet(ctx, p.irq, "an interrupt before ACK")) {
            pith_expect_ok(ctx, pith_irq_ack(p.handler), "ack");
            pith_expect_eq(ctx, dv_wait_irq(ctx, p.irq, 1000), 1, "the held interrupt after ACK");
        }
    }
    pit_close(&p);
}

/* CLEAR detaches the notification and masks the line. */
static void irq_clear_detaches(struct pith_test_ctx *ctx)
{
    struct pit p;
    if (!pit_open(ctx, &p))
        return;
    if (pith_expect_ok(ctx, pith_irq_clear(p.handler), "clear")) {
        pit_oneshot(PIT_1MS);
        if (dv_sleep(ctx, p.sleep, 20) && dv_quiet(ctx, p.irq, "an interrupt after CLEAR")) {
            /* The line was masked, not the request lost: attaching again delivers it. */
            pith_expect_ok(ctx, pith_irq_set_notification(p.handler, p.irq), "set notification");
            pith_expect_ok(ctx, pith_irq_ack(p.handler), "ack");
            pith_expect_eq(ctx, dv_wait_irq(ctx, p.irq, 1000), 1, "the held interrupt");
        }
    }
    pit_close(&p);
}

/* SET_NOTIFICATION unmasks the line by itself (docs/abi.md §4.6). */
static void irq_set_notification_unmasks(struct pith_test_ctx *ctx)
{
    struct pit p;
    if (!pit_open(ctx, &p))
        return;
    if (pith_expect_ok(ctx, pith_irq_clear(p.handler), "clear (masks)") &&
        pith_expect_ok(ctx, pith_irq_set_notification(p.handler, p.irq), "set notification")) {
        pit_oneshot(PIT_1MS);
        pith_expect_eq(ctx, dv_wait_irq(ctx, p.irq, 1000), 1, "an interrupt without ACK");
    }
    pit_close(&p);
}

/* Deleting the handler gives the line back; a new handler with a badged
 * notification receives the badge as its bits. */
static void irq_handler_deleted_regained(struct pith_test_ctx *ctx)
{
    struct pit p;
    if (!pit_open(ctx, &p))
        return;
    pith_cap_t badged = kt_slot();
    kt_delete(p.handler);
    p.handler = 0;
    pith_cap_t h = irq_get(ctx, 0);
    if (h && pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, badged, KT_CNODE, p.irq,
                                                 PITH_RIGHTS_ALL, 0x10000), "a badged notification") &&
        pith_expect_ok(ctx, pith_irq_set_notification(h, badged), "set notification") &&
        pith_expect_ok(ctx, pith_irq_ack(h), "ack")) {
        uint64_t bits = 0;
        dv_sleep(ctx, p.sleep, 10);
        pith_poll(p.irq, &bits);   /* a request held while there was no handler */
        pith_irq_ack(h);
        pit_oneshot(PIT_1MS);
        pith_expect_eq(ctx, dv_wait_irq(ctx, p.irq, 1000), 0x10000, "the badge as the bits");
    }
    p.handler = h;
    pit_close(&p);
    kt_delete(badged);
}

/* ---- Real interrupts: the RTC periodic interrupt on line 8 (the second PIC) ---------- */

static void irq_rtc_periodic(struct pith_test_ctx *ctx)
{
    pith_cap_t n = kt_new(ctx, PITH_OBJ_NOTIFICATION, 0);
    pith_cap_t badged = kt_slot();
    pith_cap_t ports = n ? dv_ports_open(ctx, CMOS_INDEX, CMOS_DATA) : 0;
    pith_cap_t h = ports ? irq_get(ctx, 8) : 0;
    if (!h || !pith_expect_ok(ctx, pith_cnode_mint(KT_CNODE, badged, KT_CNODE, n, PITH_RIGHTS_ALL, 0x4242),
                              "a badged notification")) {
        dv_ports_close(ports);
        kt_delete(h);
        return;
    }
    uint8_t a = cmos_read(CMOS_REG_A), b = cmos_read(CMOS_REG_B);
    cmos_read(CMOS_REG_C);                              /* nothing pending */
    cmos_write(CMOS_REG_A, (uint8_t)((a & 0xf0) | 6));  /* 1024 Hz */
    if (pith_expect_ok(ctx, pith_irq_set_notification(h, badged), "set notification") &&
        pith_expect_ok(ctx, pith_irq_ack(h), "ack")) {
        cmos_write(CMOS_REG_B, b | 0x40);               /* periodic interrupt on */
        uint64_t bits = dv_wait_irq(ctx, n, 1000);
        pith_expect_eq(ctx, bits, 0x4242, "the first periodic interrupt");
        uint8_t c = cmos_read(CMOS_REG_C);              /* acknowledges the RTC */
        pith_expect_eq(ctx, c & 0xc0, 0xc0, "register C: IRQF and PF");
        if (bits == 0x4242 && pith_expect_ok(ctx, pith_irq_ack(h), "ack")) {
            bits = dv_wait_irq(ctx, n, 1000);
            pith_expect_eq(ctx, bits, 0x4242, "the next periodic interrupt");
            cmos_read(CMOS_REG_C);
        }
    }
    cmos_write(CMOS_REG_B, b & ~0x40);
    cmos_write(CMOS_REG_A, a);
    cmos_read(CMOS_REG_C);
    pith_irq_clear(h);
    kt_delete(h);
    kt_delete(badged);
    dv_ports_close(ports);
    kt_delete(n);
}

/* ---- I/O ports ---------------------------------------------------------------------- */

static void ioport_issue_checks(struct pith_test_ctx *ctx)
{
    pith_cap_t slot = kt_slot();
    const pith_cap_t control = PITH_SLOT_IOPORT_CONTROL;
    pith_expect_err(ctx, pith_ioport_control_issue(control, 0x71, 0x70, slot), PITH_E_INVALID_ARG,
                    "first > last");
    pith_expect_err(ctx, pith_ioport_control_issue(control, 0xfff0, 0x10000, slot), PITH_E_RANGE,
                    "last > 0xffff");
    pith_expect_err(ctx, pith_ioport_control_issue(control, 0x70, 0x71, 0), PITH_E_RANGE, "slot 0");
    pith_expect_err(ctx, pith_ioport_control_issue(control, 0x70, 0x71, PITH_SLOT_THREAD),
                    PITH_E_SLOT_OCCUPIED, "an occupied slot");
    pith_expect_err(ctx, pith_ioport_control_issue(control, 0x3f8, 0x3f8, slot), PITH_E_BUSY,
                    "the kernel's console port");
    pith_expect_err(ctx, pith_ioport_control_issue(control, 0x300, 0x3ff, slot), PITH_E_BUSY,
                    "a range over the kernel's console");
    pith_expect_ok(ctx, pith_ioport_control_issue(control, 0x3f0, 0x3f7, slot), "just below it");
    pith_cap_t overlap = kt_slot();
    pith_expect_ok(ctx, pith_ioport_control_issue(control, 0x3f0, 0x3f1, overlap),
                   "an overlapping range");
    pith_cap_t space = kt_new(ctx, PITH_OBJ_ADDRESS_SPACE, 0);
    pith_cap_t space_ro = kt_slot();
    if (space && pith_expect_ok(ctx, pith_cnode_copy(KT_CNODE, space_ro, KT_CNODE, space,
                                                     PITH_RIGHT_READ), "read-only space copy")) {
        pith_expect_err(ctx, pith_ioport_allow(slot, space_ro), PITH_E_RIGHTS,
                        "allow in a space without WRITE");
        pith_expect_err(ctx, pith_ioport_allow(slot, slot), PITH_E_INVALID_CAP,
                        "allow in a non-space");
    }
    struct pith_msg m = { .info = pith_msginfo(PITH_IOPORT_ALLOW, 1, 0), .mr = { KT_SPACE } };
    pith_expect_err(ctx, pith_call(control, &m), PITH_E_ILLEGAL_OP, "ALLOW on the control cap");
    m = (struct pith_msg){ .info = pith_msginfo(PITH_IOPORT_CONTROL_ISSUE, 3, 0),
                           .mr = { 0x70, 0x70, kt_slot() } };
    pith_expect_err(ctx, pith_call(slot, &m), PITH_E_ILLEGAL_OP, "ISSUE on a port cap");
    kt_delete(space_ro);
    kt_delete(space);
    kt_delete(overlap);
    kt_delete(slot);
}

/* ALLOW opens the range: the CMOS answers (register D reads 0x80: valid RAM and time). */
static void ioport_allow_cmos(struct pith_test_ctx *ctx)
{
    pith_cap_t ports = dv_ports(ctx, CMOS_INDEX, CMOS_DATA);
    uint64_t v = 0;
    if (!ports)
        return;
    if (pith_expect_ok(ctx, pith_ioport_allow(ports, KT_SPACE), "allow") &&
        pith_expect_eq(ctx, probe_cmos(ctx, CMOS_REG_D, &v), PROBE_RAN, "reading CMOS register D"))
        pith_expect_eq(ctx, v, 0x80, "CMOS register D");
    uint64_t b = 0, sec = 0xff;
    if (probe_cmos(ctx, CMOS_REG_B, &b) == PROBE_RAN && probe_cmos(ctx, 0x00, &sec) == PROBE_RAN) {
        if (b & 4)
            pith_expect(ctx, sec < 60, "binary seconds %lu", sec);
        else
            pith_expect(ctx, sec < 0x60 && (sec & 0xf) < 10, "BCD seconds %lx", sec);
    }
    /* And the root task itself may use them now. */
    pith_expect_eq(ctx, cmos_read(CMOS_REG_D), 0x80, "CMOS register D read by the root task");
    dv_ports_close(ports);
}

/* A port nobody opened: IN raises #GP, delivered to the fault endpoint. */
static void ioport_closed_faults(struct pith_test_ctx *ctx)
{
    pith_cap_t ports = dv_ports(ctx, POST_PORT, POST_PORT);
    uint64_t v;
    if (!ports)
        return;
    pith_expect_ok(ctx, pith_ioport_deny(ports, KT_SPACE), "deny (it was never open)");
    pith_expect_eq(ctx, probe(ctx, 0, 0, POST_PORT, 1, &v), PROBE_GP, "IN from a closed port");
    pith_expect_eq(ctx, probe(ctx, POST_PORT, 0x55, POST_PORT, 1, &v), PROBE_GP,
                   "OUT to a closed port");
    dv_ports_close(ports);
}

/* DENY closes a range again; ALLOW reopens it. */
static void ioport_deny_closes(struct pith_test_ctx *ctx)
{
    pith_cap_t ports = dv_ports(ctx, CMOS_INDEX, CMOS_DATA);
    uint64_t v = 0;
    if (!ports)
        return;
    pith_expect_ok(ctx, pith_ioport_allow(ports, KT_SPACE), "allow");
    pith_expect_eq(ctx, probe_cmos(ctx, CMOS_REG_D, &v), PROBE_RAN, "open");
    pith_expect_ok(ctx, pith_ioport_deny(ports, KT_SPACE), "deny");
    pith_expect_eq(ctx, probe_cmos(ctx, CMOS_REG_D, &v), PROBE_GP, "closed by DENY");
    pith_expect_eq(ctx, probe(ctx, 0, 0, CMOS_DATA, 1, &v), PROBE_GP, "the last port closed too");
    pith_expect_ok(ctx, pith_ioport_allow(ports, KT_SPACE), "allow again");
    if (pith_expect_eq(ctx, probe_cmos(ctx, CMOS_REG_D, &v), PROBE_RAN, "open again"))
        pith_expect_eq(ctx, v, 0x80, "CMOS register D");
    /* Deleting the capability does not close the ports; DENY through another does. */
    pith_cap_t other = dv_ports(ctx, CMOS_INDEX, CMOS_DATA);
    kt_delete(ports);
    pith_expect_eq(ctx, probe_cmos(ctx, CMOS_REG_D, &v), PROBE_RAN, "still open after delete");
    if (other)
        pith_expect_ok(ctx, pith_ioport_deny(other, KT_SPACE), "deny through another capability");
    pith_expect_eq(ctx, probe_cmos(ctx, CMOS_REG_D, &v), PROBE_GP, "closed");
    dv_ports_close(other);
}

/* The bitmap is exact per port: a word access needs both bytes open. */
static void ioport_exact_ports(struct pith_test_ctx *ctx)
{
    pith_cap_t index = dv_ports(ctx, CMOS_INDEX, CMOS_INDEX);
    uint64_t v;
    if (!index)
        return;
    pith_expect_ok(ctx, pith_ioport_allow(index, KT_SPACE), "allow the index port only");
    pith_expect_eq(ctx, probe(ctx, 0, 0, CMOS_INDEX, 1, &v), PROBE_RAN, "the index port");
    pith_expect_eq(ctx, probe(ctx, CMOS_INDEX, CMOS_REG_D, CMOS_DATA, 1, &v), PROBE_GP,
                   "the data port next to it");
    pith_expect_eq(ctx, probe(ctx, 0, 0, CMOS_INDEX, 2, &v), PROBE_GP,
                   "a word access reaching the closed port");
    pith_cap_t data = dv_ports(ctx, CMOS_DATA, CMOS_DATA);
    if (data) {
        pith_expect_ok(ctx, pith_ioport_allow(data, KT_SPACE), "allow the data port");
        pith_expect_eq(ctx, probe(ctx, 0, 0, CMOS_INDEX, 2, &v), PROBE_RAN, "the word access");
    }
    dv_ports_close(data);
    dv_ports_close(index);
}

/* The bitmap belongs to the address space: opening ports in another space leaves
 * them closed here. */
static void ioport_per_space(struct pith_test_ctx *ctx)
{
    pith_cap_t space = kt_new(ctx, PITH_OBJ_ADDRESS_SPACE, 0);
    pith_cap_t ports = dv_ports(ctx, CMOS_INDEX, CMOS_DATA);
    uint64_t v;
    if (!space || !ports)
        return;
    pith_expect_ok(ctx, pith_ioport_deny(ports, KT_SPACE), "closed here");
    pith_expect_ok(ctx, pith_ioport_allow(ports, space), "open in the other space");
    pith_expect_eq(ctx, probe_cmos(ctx, CMOS_REG_D, &v), PROBE_GP, "still closed here");
    dv_ports_close(ports);
    kt_delete(space);
}

/* ---- FPU / SSE state ---------------------------------------------------------------- */

struct fpu_image {
    uint64_t xmm[16][2];    /* offset 0 */
    int64_t x87[2];         /* 256: pushed in this order */
    uint32_t mxcsr;         /* 272 */
    uint16_t fcw;           /* 276 */
    uint16_t pad;
} __attribute__((aligned(16)));

static const uint32_t default_mxcsr = 0x1f80;
static const uint16_t default_fcw = 0x037f;

#define FPU_LOAD  XMM_ALL(XMM_IN) "fildq 256(%0)\n\tfildq 264(%0)\n\tldmxcsr 272(%0)\n\tfldcw 276(%0)\n\t"
#define FPU_STORE XMM_ALL(XMM_OUT) "fistpq 264(%1)\n\tfistpq 256(%1)\n\tstmxcsr 272(%1)\n\tfnstcw 276(%1)\n\t" \
                  "ldmxcsr %3\n\tfldcw %4\n\t"
#define FPU_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", \
                     "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory"

/* Load *in into xmm0-15, two x87 registers, MXCSR and the x87 control word; yield
 * `yields` (>= 1) times; store them all into *out and restore the default controls. */
static void fpu_load_yield_store(const struct fpu_image *in, struct fpu_image *out, unsigned yields)
{
    __asm__ volatile(FPU_LOAD
                     "mov %2, %%r12d\n"
                     "1:\tmov %5, %%eax\n\t"
                     "xor %%edi, %%edi\n\t"
                     "xor %%esi, %%esi\n\t"
                     "syscall\n\t"
                     "dec %%r12d\n\t"
                     "jnz 1b\n\t"
                     FPU_STORE
                     : : "r"(in), "r"(out), "r"(yields), "m"(default_mxcsr), "m"(default_fcw),
                         "i"(PITH_SYS_YIELD)
                     : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
                       FPU_CLOBBERS);
}

/* The same around a ud2 the fault handler skips. */
static void fpu_load_fault_store(const struct fpu_image *in, struct fpu_image *out)
{
    __asm__ volatile(FPU_LOAD
                     "ud2\n\t"
                     FPU_STORE
                     : : "r"(in), "r"(out), "r"(0), "m"(default_mxcsr), "m"(default_fcw)
                     : FPU_CLOBBERS);
}

/* Distinct contents for (owner, round). */
static void fpu_pattern(struct fpu_image *img, uint64_t owner, uint64_t round)
{
    static const uint32_t mxcsr[4] = { 0x3f80, 0x5f80, 0x7f80, 0x1f80 };
    static const uint16_t fcw[4] = { 0x077f, 0x0b7f, 0x0f7f, 0x027f };
    for (uint64_t i = 0; i < 16; i++) {
        img->xmm[i][0] = owner << 56 | round << 16 | i;
        img->xmm[i][1] = ~img->xmm[i][0] ^ (i << 40);
    }
    img->x87[0] = (int64_t)(owner * 1000000 + round * 100 + 1);
    img->x87[1] = -(int64_t)(owner * 1000000 + round * 100 + 2);
    img->mxcsr = mxcsr[owner & 3];
    img->fcw = fcw[owner & 3];
    img->pad = 0;
}

static bool fpu_same(const struct fpu_image *a, const struct fpu_image *b)
{
    return memcmp(a, b, offsetof(struct fpu_image, pad)) == 0;
}

#define FPU_ROUNDS 40

static struct fpu_worker {
    volatile uint64_t rounds, mismatches, interleaved, done;
} fpu_workers[2];

static void fpu_thread(uint64_t id)
{
    struct fpu_worker *me = &fpu_workers[id], *other = &fpu_workers[id ^ 1];
    struct fpu_image in, out;
    for (uint64_t r = 0; r < FPU_ROUNDS; r++) {
        fpu_pattern(&in, id + 1, r);
        uint64_t before = other->rounds;
        fpu_load_yield_store(&in, &out, 2);
        if (other->rounds != before)
            me->interleaved++;
        if (!fpu_same(&in, &out))
            me->mismatches++;
        me->rounds = r + 1;
    }
    me->done = 1;
}

static void fpu_state_per_thread(struct pith_test_ctx *ctx)
{
    struct kt_thread a, b;
    memset(fpu_workers, 0, sizeof(fpu_workers));
    if (!kt_thread_start(ctx, &a, fpu_thread, 0, KT_ROOT_PRIORITY, 0))
        return;
    if (!kt_thread_start(ctx, &b, fpu_thread, 1, KT_ROOT_PRIORITY, 0)) {
        kt_thread_destroy(&a);
        return;
    }
    /* The root task takes part with its own values. */
    struct fpu_image in, out;
    unsigned root_rounds = 0, root_mismatches = 0;
    while (!(fpu_workers[0].done && fpu_workers[1].done) && root_rounds < 20 * FPU_ROUNDS) {
        fpu_pattern(&in, 3, root_rounds);
        fpu_load_yield_store(&in, &out, 1);
        if (!fpu_same(&in, &out))
            root_mismatches++;
        root_rounds++;
    }
    for (unsigned i = 0; i < 2; i++) {
        pith_expect_eq(ctx, fpu_workers[i].rounds, FPU_ROUNDS, "rounds of a thread");
        pith_expect_eq(ctx, fpu_workers[i].mismatches, 0, "rounds whose registers changed");
        pith_expect(ctx, fpu_workers[i].interleaved > 0, "thread %u never ran beside the other", i);
    }
    pith_expect_eq(ctx, root_mismatches, 0, "root rounds whose registers changed");
    kt_thread_destroy(&a);
    kt_thread_destroy(&b);
}

static uint8_t fresh_fxsave[512] __attribute__((aligned(16)));
static volatile uint64_t fresh_ran;

static void fresh_fpu_thread(uint64_t unused)
{
    (void)unused;
    __asm__ volatile("fxsave64 %0" : "=m"(fresh_fxsave));
    fresh_ran = 1;
}

/* A new thread starts with the default FPU state, not what another thread left. */
static void fpu_initial_state(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct fpu_image in, out;
    fresh_ran = 0;
    memset(fresh_fxsave, 0, sizeof(fresh_fxsave));
    if (!kt_thread_start(ctx, &t, fresh_fpu_thread, 0, KT_ROOT_PRIORITY, 0))
        return;
    fpu_pattern(&in, 3, 7);
    for (unsigned i = 0; i < 10 && !fresh_ran; i++)
        fpu_load_yield_store(&in, &out, 1);     /* the thread runs during the yield */
    if (pith_expect(ctx, fresh_ran, "the thread did not run")) {
        uint16_t fcw, fsw;
        uint32_t mxcsr;
        memcpy(&fcw, fresh_fxsave + 0, 2);
        memcpy(&fsw, fresh_fxsave + 2, 2);
        memcpy(&mxcsr, fresh_fxsave + 24, 4);
        pith_expect_eq(ctx, fcw, default_fcw, "x87 control word");
        pith_expect_eq(ctx, fsw & 0x3800, 0, "x87 stack top");
        pith_expect_eq(ctx, fresh_fxsave[4], 0, "x87 tags: all empty");
        pith_expect_eq(ctx, mxcsr, default_mxcsr, "MXCSR");
        for (unsigned i = 0; i < 16; i++)
            pith_expect(ctx, memcmp(fresh_fxsave + 160 + 16 * i, in.xmm[i], 16) != 0,
                        "xmm%u holds the root task's value", i);
    }
    pith_expect(ctx, fpu_same(&in, &out), "the root task's registers changed");
    kt_thread_destroy(&t);
}

static struct fpu_image fault_in, fault_out;

static void fpu_fault_thread(uint64_t ep)
{
    fpu_load_fault_store(&fault_in, &fault_out);
    struct pith_msg m = { .info = pith_msginfo(DV_DONE, 1, 0), .mr = { fpu_same(&fault_in, &fault_out) } };
    pith_call(ep, &m);
}

/* The state survives a fault whose handler uses the FPU itself meanwhile. */
static void fpu_kept_across_fault(struct pith_test_ctx *ctx)
{
    struct kt_thread t;
    struct pith_msg m;
    pith_cap_t ep = kt_new(ctx, PITH_OBJ_ENDPOINT, 0);
    fpu_pattern(&fault_in, 1, 99);
    memset(&fault_out, 0, sizeof(fault_out));
    if (!ep || !kt_thread_start(ctx, &t, fpu_fault_thread, ep, DV_PRIORITY, ep))
        return;
    if (pith_expect_ok(ctx, pith_recv(ep, &m), "receiving the fault") &&
        pith_expect_eq(ctx, pith_msginfo_label(m.info), PITH_FAULT_EXCEPTION, "fault kind") &&
        pith_expect_eq(ctx, m.mr[3], 6, "vector")) {
        /* Use every register here, in the handler, before the thread goes on. */
        struct fpu_image in, out;
        fpu_pattern(&in, 2, 5);
        fpu_load_yield_store(&in, &out, 1);
        pith_expect(ctx, fpu_same(&in, &out), "the handler's registers changed");
        struct pith_msg r = { .info = pith_msginfo(0, 1, 0), .mr = { m.mr[0] + 2 } };
        if (pith_expect_ok(ctx, pith_reply(&r), "resuming after the ud2") &&
            pith_expect_ok(ctx, pith_recv(ep, &m), "receiving the result") &&
            pith_expect_eq(ctx, pith_msginfo_label(m.info), DV_DONE, "finished"))
            pith_expect_eq(ctx, m.mr[0], 1, "the thread's registers are intact");
    }
    kt_thread_destroy(&t);
    kt_delete(ep);
}

KT_TABLE(device,
    { "irq_get_twice", irq_get_twice },
    { "irq_bad_lines", irq_bad_lines },
    { "irq_bad_slots", irq_bad_slots },
    { "irq_handler_methods", irq_handler_methods },
    { "irq_controller_ioapic", irq_controller_ioapic },
    { "irq_pit_interrupt", irq_pit_interrupt },
    { "irq_masked_until_ack", irq_masked_until_ack },
    { "irq_clear_detaches", irq_clear_detaches },
    { "irq_set_notification_unmasks", irq_set_notification_unmasks },
    { "irq_handler_deleted_regained", irq_handler_deleted_regained },
    { "irq_rtc_periodic", irq_rtc_periodic },
    { "ioport_issue_checks", ioport_issue_checks },
    { "ioport_allow_cmos", ioport_allow_cmos },
    { "ioport_closed_faults", ioport_closed_faults },
    { "ioport_deny_closes", ioport_deny_closes },
    { "ioport_exact_ports", ioport_exact_ports },
    { "ioport_per_space", ioport_per_space },
    { "fpu_state_per_thread", fpu_state_per_thread },
    { "fpu_initial_state", fpu_initial_state },
    { "fpu_kept_across_fault", fpu_kept_across_fault },
)
