/*
 * The test platform of the flat test guests (guests/tests/): COM1 without an
 * interrupt, the test device (its verdict port ends the guest), and a timer that
 * raises vector VM_TIMER_VECTOR every VM_TIMER_PERIOD_MS while the guest runs.  There
 * is no interrupt controller: a tick not yet taken is one pending interrupt, and
 * ticks merge into it.  A guest without a verdict after VM_TIME_LIMIT_S is stopped.
 */
#include "platform.h"
#include "vm.h"

static void output(void *context, uint8_t byte)
{
    vm_output(context, byte);
}

/* The verdict port: the first write ends the guest (with no stop reason: run_tests.c's
 * checks read the verdict itself). */
static uint64_t verdict_read(void *vm, uint64_t offset, unsigned size)
{
    return testdev_port_ops.read(&((struct vm *)vm)->test.testdev, offset, size);
}

static void verdict_write(void *context, uint64_t offset, unsigned size, uint64_t value)
{
    struct vm *vm = context;
    testdev_port_ops.write(&vm->test.testdev, offset, size, value);
    if (vm->test.testdev.verdict_written)
        vm_stop(vm, VM_END_NONE, NULL);
}

static const struct device_ops verdict_ops = { "test verdict", verdict_read, verdict_write, NULL };

static void create(struct vm *vm)
{
    struct test_state *t = &vm->test;
    uart16550_init(&vm->uart, output, vm, (struct irq_line){ 0 });
    testdev_reset(&t->testdev);
    vm_add_port_window(vm, (struct device_window){ 0x3f8, UART16550_REGS, &uart16550_ops, &vm->uart });
    vm_add_port_window(vm, (struct device_window){ TESTDEV_PORT, 1, &verdict_ops, vm });
    vm_add_mmio_window(vm, (struct device_window){ TESTDEV_MMIO_BASE, TESTDEV_MMIO_SIZE,
                                                   &testdev_mmio_ops, &t->testdev });
}

static void start(struct vm *vm, unsigned cpu)
{
    (void)cpu;                      /* the only one */
    uint64_t now = pith_rdtsc();
    periodic_start(&vm->test.timer, now, vm->tsc_hz / 1000 * VM_TIMER_PERIOD_MS);
    vm->test.give_up_at = now + vm->tsc_hz * VM_TIME_LIMIT_S;
}

static uint64_t update(struct vm *vm, unsigned cpu)
{
    (void)cpu;
    struct test_state *t = &vm->test;
    uint64_t now = pith_rdtsc();
    if (t->give_up_at && now >= t->give_up_at)
        vm_stop(vm, VM_END_ERROR, "no verdict after %u s", VM_TIME_LIMIT_S);
    uint64_t periods = periodic_expire(&t->timer, now);
    if (periods) {
        vm->record.ticks += periods;
        t->interrupt_pending = true;
    }
    return t->timer.next;
}

static int interrupt(struct vm *vm, unsigned cpu, bool take)
{
    (void)cpu;
    if (!vm->test.interrupt_pending)
        return -1;
    if (take)
        vm->test.interrupt_pending = false;
    return VM_TIMER_VECTOR;
}

const struct platform_ops test_platform = {
    .name = "test",
    .max_vcpus = 1,                 /* no APIC to start others */
    .create = create,
    .start = start,
    .update = update,
    .interrupt = interrupt,
};
