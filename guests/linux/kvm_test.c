/*
 * kvm_test — does Linux KVM run its own guests (L2) correctly?  Run in the reference
 * Linux guest by /init with `pith.kvm=1 pith.kvm_test=1` (make test-nested, where
 * that guest has `nested on` and its KVM runs on the VMM's virtual SVM; docs/nested.md).
 *
 * Each case is a VM of its own with one vCPU and a few hand-assembled bytes of L2 code;
 * user space drives it through the KVM API and checks what comes out (exit reasons,
 * ports, addresses, data) and what the L2 left in its memory.  There is no in-kernel
 * interrupt controller, so HLT and interrupt windows come out to user space too.
 *
 * Prints `kvm-test: NAME: ok` or `kvm-test: NAME: FAILED (reason)` per case, then
 * `kvm-test: N passed, M failed`; exit status 0 only if all passed.  Every KVM_RUN is
 * bounded by an alarm, so an L2 that never exits fails its case instead of hanging.
 * Built static with the host's gcc; becomes /bin/kvm-test in initrd-kvm.img.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define RUN_TIMEOUT_S 30            /* one KVM_RUN; generous: L2 may run under TCG twice over */
#define SMALL_MEMORY 0x10000u       /* real-mode cases: 64 KiB at 0 */
#define LARGE_MEMORY 0x200000u      /* 32- and 64-bit cases: 2 MiB at 0 */
#define CODE_GPA 0x1000u
#define STACK_TOP 0x8000u
#define TSS_GPA 0x9000u             /* all zero: nothing ever switches to it */

/* Little-endian immediates inside the byte arrays. */
#define IMM16(x) (uint8_t)(x), (uint8_t)((x) >> 8)
#define IMM32(x) IMM16(x), IMM16((x) >> 16)
#define IMM64(x) IMM32(x), IMM32((uint64_t)(x) >> 32)

static int kvm_fd;
static char reason[256];        /* why the current case failed */

static bool fail(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(reason, sizeof(reason), format, args);
    va_end(args);
    return false;
}

struct vm {
    int fd, vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    uint8_t *memory;            /* slot 0, guest-physical 0 */
    size_t memory_size;
};

/* ---- Building a VM ------------------------------------------------------------------ */

/* Supported CPUID with `extra` added (or replacing the entry of its leaf); NULL: as is. */
static bool vm_set_cpuid(struct vm *vm, const struct kvm_cpuid_entry2 *extra)
{
    const unsigned room = 256;
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + room * sizeof(cpuid->entries[0]));
    if (!cpuid)
        return fail("out of memory");
    cpuid->nent = room - 1;     /* one left for `extra` */
    bool ok = ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0;
    if (!ok)
        fail("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
    if (ok && extra) {
        unsigned i = 0;
        while (i < cpuid->nent && cpuid->entries[i].function != extra->function)
            i++;
        cpuid->entries[i] = *extra;
        if (i == cpuid->nent)
            cpuid->nent++;
    }
    if (ok && ioctl(vm->vcpu_fd, KVM_SET_CPUID2, cpuid) < 0)
        ok = fail("KVM_SET_CPUID2: %s", strerror(errno));
    free(cpuid);
    return ok;
}

static bool vm_create(struct vm *vm, size_t memory_size)
{
    *vm = (struct vm){ .fd = -1, .vcpu_fd = -1, .run = MAP_FAILED, .memory = MAP_FAILED,
                       .memory_size = memory_size };
    vm->fd = ioctl(kvm_fd, KVM_CREATE_VM, 0ul);
    if (vm->fd < 0)
        return fail("KVM_CREATE_VM: %s", strerror(errno));
    vm->memory = mmap(NULL, memory_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (vm->memory == MAP_FAILED)
        return fail("mmap of guest memory: %s", strerror(errno));
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = memory_size,
        .userspace_addr = (uint64_t)(uintptr_t)vm->memory,
    };
    if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return fail("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
    vm->vcpu_fd = ioctl(vm->fd, KVM_CREATE_VCPU, 0ul);
    if (vm->vcpu_fd < 0)
        return fail("KVM_CREATE_VCPU: %s", strerror(errno));
    int size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size < (int)sizeof(struct kvm_run))
        return fail("KVM_GET_VCPU_MMAP_SIZE: %d", size);
    vm->run_size = (size_t)size;
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED)
        return fail("mmap of kvm_run: %s", strerror(errno));
    return vm_set_cpuid(vm, NULL);
}

static void vm_destroy(struct vm *vm)
{
    if (vm->run != MAP_FAILED)
        munmap(vm->run, vm->run_size);
    if (vm->memory != MAP_FAILED)
        munmap(vm->memory, vm->memory_size);
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->fd >= 0)
        close(vm->fd);
}

static void vm_load(struct vm *vm, uint64_t gpa, const uint8_t *code, size_t length)
{
    memcpy(vm->memory + gpa, code, length);
}

static bool vm_set_entry(struct vm *vm, struct kvm_sregs *sregs, uint64_t rip)
{
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, sregs) < 0)
        return fail("KVM_SET_SREGS: %s", strerror(errno));
    struct kvm_regs regs = { .rip = rip, .rflags = 2, .rsp = STACK_TOP };
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
        return fail("KVM_SET_REGS: %s", strerror(errno));
    return true;
}

static bool vm_get_sregs(struct vm *vm, struct kvm_sregs *sregs)
{
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, sregs) < 0)
        return fail("KVM_GET_SREGS: %s", strerror(errno));
    return true;
}

/* Real mode at 0:rip, every segment based at 0 (reset has CS at f000 based ffff0000). */
static bool vm_real_mode(struct vm *vm, uint64_t rip)
{
    struct kvm_sregs sregs;
    if (!vm_get_sregs(vm, &sregs))
        return false;
    struct kvm_segment *segments[] = { &sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss };
    for (unsigned i = 0; i < 6; i++) {
        segments[i]->base = 0;
        segments[i]->selector = 0;
    }
    return vm_set_entry(vm, &sregs, rip);
}

/* Flat segments for protected or long mode (SDM 3.4.5; AMD APM 4.7, 4.8). */
static void flat_segments(struct kvm_sregs *sregs, bool long_mode)
{
    struct kvm_segment code = {
        .base = 0, .limit = 0xffffffff, .selector = 8, .type = 11,  /* execute/read, accessed */
        .present = 1, .s = 1, .g = 1, .db = !long_mode, .l = long_mode,
    };
    struct kvm_segment data = {
        .base = 0, .limit = 0xffffffff, .selector = 16, .type = 3,  /* read/write, accessed */
        .present = 1, .s = 1, .g = 1, .db = 1,
    };
    /* A busy 32-bit TSS, which long mode reads as the 64-bit one, the only kind it has
     * (VM entry refuses any other there, SDM 27.3.1.2); KVM's reset TR is 16-bit. */
    struct kvm_segment task = {
        .base = TSS_GPA, .limit = 0x67, .type = 11, .present = 1,
    };
    sregs->cs = code;
    sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
    sregs->tr = task;
}

#define CR0_PE 0x1u
#define CR0_ET 0x10u
#define CR0_PG 0x80000000u
#define CR4_PAE 0x20u
#define EFER_LME 0x100u
#define EFER_LMA 0x400u

/* 32-bit protected mode without paging. */
static bool vm_protected_mode(struct vm *vm, uint64_t rip)
{
    struct kvm_sregs sregs;
    if (!vm_get_sregs(vm, &sregs))
        return false;
    flat_segments(&sregs, false);
    sregs.cr0 = CR0_PE | CR0_ET;
    return vm_set_entry(vm, &sregs, rip);
}

/*
 * The long-mode L2's own page tables (4-level, AMD APM 5.3), in its memory:
 *   PML4 0x10000: [0] -> PDPT 0x11000, [255] -> PDPT 0x14000
 *   PDPT 0x11000: [0] -> PD 0x12000, [4] -> PD 0x17000
 *   PD   0x12000: [0] -> PT 0x13000 (the first 2 MiB, identity, 4 KiB pages),
 *                 [1] -> a 2 MiB page at 0x200000 (above the slot)
 *   PD   0x17000: [0] -> a 2 MiB page at 0x1_0000_0000 (4 GiB)
 *   PDPT 0x14000: [1] -> PD 0x15000; PD 0x15000: [2] -> PT 0x16000;
 *   PT   0x16000: [3] -> 0x45000, so REMAPPED_VA -> REMAPPED_PA.
 */
#define PAGE_TABLES_GPA 0x10000u
#define REMAPPED_VA 0x00007f8040403000ull   /* PML4 255, PDPT 1, PD 2, PT 3 */
#define REMAPPED_PA 0x45000u
#define REMAPPED_PTE_GPA (0x16000u + 3 * 8)
#define PTE_P 0x1u
#define PTE_RW 0x2u
#define PTE_A 0x20u
#define PTE_D 0x40u
#define PTE_PS 0x80u

static void set_entry(struct vm *vm, uint64_t table, unsigned index, uint64_t value)
{
    memcpy(vm->memory + table + index * 8, &value, 8);
}

static void build_page_tables(struct vm *vm)
{
    set_entry(vm, 0x10000, 0, 0x11000 | PTE_P | PTE_RW);
    set_entry(vm, 0x10000, 255, 0x14000 | PTE_P | PTE_RW);
    set_entry(vm, 0x11000, 0, 0x12000 | PTE_P | PTE_RW);
    set_entry(vm, 0x11000, 4, 0x17000 | PTE_P | PTE_RW);
    set_entry(vm, 0x12000, 0, 0x13000 | PTE_P | PTE_RW);
    set_entry(vm, 0x12000, 1, 0x200000 | PTE_P | PTE_RW | PTE_PS);
    for (unsigned i = 0; i < 512; i++)
        set_entry(vm, 0x13000, i, (uint64_t)i * 0x1000 | PTE_P | PTE_RW);
    set_entry(vm, 0x17000, 0, 0x100000000ull | PTE_P | PTE_RW | PTE_PS);
    set_entry(vm, 0x14000, 1, 0x15000 | PTE_P | PTE_RW);
    set_entry(vm, 0x15000, 2, 0x16000 | PTE_P | PTE_RW);
    set_entry(vm, 0x16000, 3, REMAPPED_PA | PTE_P | PTE_RW);
}

/* 64-bit long mode with the page tables above (APM 14.6: PE, PG, PAE, LME and LMA). */
static bool vm_long_mode(struct vm *vm, uint64_t rip)
{
    build_page_tables(vm);
    struct kvm_sregs sregs;
    if (!vm_get_sregs(vm, &sregs))
        return false;
    flat_segments(&sregs, true);
    sregs.cr3 = PAGE_TABLES_GPA;
    sregs.cr4 = CR4_PAE;
    sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
    sregs.efer = EFER_LME | EFER_LMA;
    return vm_set_entry(vm, &sregs, rip);
}

/* ---- Running it --------------------------------------------------------------------- */

static void on_alarm(int signal)
{
    (void)signal;   /* only interrupts KVM_RUN (no SA_RESTART) */
}

static const char *exit_text(const struct kvm_run *r)
{
    static char text[128];
    switch (r->exit_reason) {
    case KVM_EXIT_IO:
        snprintf(text, sizeof(text), "I/O %s port %#x size %u count %u",
                 r->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", r->io.port, r->io.size, r->io.count);
        break;
    case KVM_EXIT_MMIO:
        snprintf(text, sizeof(text), "MMIO %s %#llx length %u", r->mmio.is_write ? "write" : "read",
                 (unsigned long long)r->mmio.phys_addr, r->mmio.len);
        break;
    case KVM_EXIT_HLT:
        return "HLT";
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        return "IRQ_WINDOW_OPEN";
    case KVM_EXIT_SHUTDOWN:
        return "SHUTDOWN (a triple fault)";
    case KVM_EXIT_FAIL_ENTRY:
        snprintf(text, sizeof(text), "FAIL_ENTRY (hardware reason %#llx)",
                 (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        snprintf(text, sizeof(text), "INTERNAL_ERROR (suberror %u)", r->internal.suberror);
        break;
    default:
        snprintf(text, sizeof(text), "exit reason %u", r->exit_reason);
    }
    return text;
}

static uint64_t vm_rip(struct vm *vm)
{
    struct kvm_regs regs;
    return ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) == 0 ? regs.rip : ~0ull;
}

/* One KVM_RUN, bounded by RUN_TIMEOUT_S. */
static bool vm_run(struct vm *vm)
{
    alarm(RUN_TIMEOUT_S);
    int result = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    int error = errno;
    alarm(0);
    if (result == 0)
        return true;
    if (error == EINTR)
        return fail("no exit within %u s (RIP %#llx)", RUN_TIMEOUT_S, (unsigned long long)vm_rip(vm));
    return fail("KVM_RUN: %s", strerror(error));
}

static bool unexpected(struct vm *vm, const char *wanted)
{
    return fail("%s at RIP %#llx, wanted %s", exit_text(vm->run), (unsigned long long)vm_rip(vm), wanted);
}

static bool expect_exit(struct vm *vm, uint32_t exit_reason, const char *name)
{
    if (!vm_run(vm))
        return false;
    return vm->run->exit_reason == exit_reason || unexpected(vm, name);
}

static bool expect_io(struct vm *vm, uint8_t direction, uint16_t port, uint8_t size)
{
    if (!vm_run(vm))
        return false;
    const struct kvm_run *r = vm->run;
    if (r->exit_reason == KVM_EXIT_IO && r->io.direction == direction && r->io.port == port &&
        r->io.size == size && r->io.count == 1)
        return true;
    char wanted[64];
    snprintf(wanted, sizeof(wanted), "I/O %s port %#x size %u count 1",
             direction == KVM_EXIT_IO_OUT ? "out" : "in", port, size);
    return unexpected(vm, wanted);
}

/* L2 writes `value` (size bytes) to `port`. */
static bool expect_out(struct vm *vm, uint16_t port, uint8_t size, uint32_t value)
{
    if (!expect_io(vm, KVM_EXIT_IO_OUT, port, size))
        return false;
    uint32_t data = 0;
    memcpy(&data, (uint8_t *)vm->run + vm->run->io.data_offset, size);
    if (data != value)
        return fail("OUT to port %#x gave %#x, wanted %#x", port, data, value);
    return true;
}

/* L2 reads `size` bytes from `port`; it gets `answer` when the next KVM_RUN completes it. */
static bool expect_in(struct vm *vm, uint16_t port, uint8_t size, uint32_t answer)
{
    if (!expect_io(vm, KVM_EXIT_IO_IN, port, size))
        return false;
    memcpy((uint8_t *)vm->run + vm->run->io.data_offset, &answer, size);
    return true;
}

static bool expect_mmio(struct vm *vm, bool is_write, uint64_t address, uint32_t length)
{
    if (!vm_run(vm))
        return false;
    const struct kvm_run *r = vm->run;
    if (r->exit_reason == KVM_EXIT_MMIO && r->mmio.is_write == is_write &&
        r->mmio.phys_addr == address && r->mmio.len == length)
        return true;
    char wanted[64];
    snprintf(wanted, sizeof(wanted), "MMIO %s %#llx length %u", is_write ? "write" : "read",
             (unsigned long long)address, length);
    return unexpected(vm, wanted);
}

static bool expect_mmio_write(struct vm *vm, uint64_t address, uint32_t length, uint32_t value)
{
    if (!expect_mmio(vm, true, address, length))
        return false;
    uint32_t data = 0;
    memcpy(&data, vm->run->mmio.data, length);
    if (data != value)
        return fail("MMIO write to %#llx gave %#x, wanted %#x", (unsigned long long)address, data, value);
    return true;
}

static bool expect_mmio_read(struct vm *vm, uint64_t address, uint32_t length, uint32_t answer)
{
    if (!expect_mmio(vm, false, address, length))
        return false;
    memcpy(vm->run->mmio.data, &answer, length);
    return true;
}

static uint32_t read32(const struct vm *vm, uint64_t gpa)
{
    uint32_t value;
    memcpy(&value, vm->memory + gpa, 4);
    return value;
}

static uint64_t read64(const struct vm *vm, uint64_t gpa)
{
    uint64_t value;
    memcpy(&value, vm->memory + gpa, 8);
    return value;
}

/* ---- The cases ---------------------------------------------------------------------- */

/* Real mode: OUT of a byte and a word, IN of a byte and a dword, each IN echoed by OUT. */
static bool case_io_out_in(struct vm *vm)
{
    static const uint8_t code[] = {
        0xb0, 0x5a,                 /* mov al, 0x5a */
        0xe6, 0x10,                 /* out 0x10, al */
        0xba, IMM16(0x3f0),         /* mov dx, 0x3f0 */
        0xb8, IMM16(0x1234),        /* mov ax, 0x1234 */
        0xef,                       /* out dx, ax */
        0xe4, 0x11,                 /* in al, 0x11 */
        0xe6, 0x12,                 /* out 0x12, al */
        0x66, 0xed,                 /* in eax, dx */
        0x66, 0xe7, 0x13,           /* out 0x13, eax */
        0xf4,                       /* hlt */
    };
    vm_load(vm, CODE_GPA, code, sizeof(code));
    return vm_real_mode(vm, CODE_GPA) &&
           expect_out(vm, 0x10, 1, 0x5a) &&
           expect_out(vm, 0x3f0, 2, 0x1234) &&
           expect_in(vm, 0x11, 1, 0xa7) &&
           expect_out(vm, 0x12, 1, 0xa7) &&
           expect_in(vm, 0x3f0, 4, 0xc0ffee11) &&
           expect_out(vm, 0x13, 4, 0xc0ffee11) &&
           expect_exit(vm, KVM_EXIT_HLT, "HLT");
}

/* Real mode: CPUID of a leaf whose values only KVM_SET_CPUID2 gave (a brand-string leaf,
 * which KVM passes through untouched), EAX EBX ECX EDX reported by OUT. */
static bool case_cpuid(struct vm *vm)
{
    static const uint8_t code[] = {
        0x66, 0xb8, IMM32(0x80000002),  /* mov eax, 0x80000002 */
        0x66, 0x31, 0xc9,               /* xor ecx, ecx */
        0x0f, 0xa2,                     /* cpuid */
        0x66, 0xe7, 0x20,               /* out 0x20, eax */
        0x66, 0x89, 0xd8,               /* mov eax, ebx */
        0x66, 0xe7, 0x20,               /* out 0x20, eax */
        0x66, 0x89, 0xc8,               /* mov eax, ecx */
        0x66, 0xe7, 0x20,               /* out 0x20, eax */
        0x66, 0x89, 0xd0,               /* mov eax, edx */
        0x66, 0xe7, 0x20,               /* out 0x20, eax */
        0xf4,                           /* hlt */
    };
    const struct kvm_cpuid_entry2 leaf = {
        .function = 0x80000002, .eax = 0x68746950, .ebx = 0x4d564b20, .ecx = 0x74736574, .edx = 0x0021324c,
    };
    vm_load(vm, CODE_GPA, code, sizeof(code));
    return vm_set_cpuid(vm, &leaf) && vm_real_mode(vm, CODE_GPA) &&
           expect_out(vm, 0x20, 4, leaf.eax) &&
           expect_out(vm, 0x20, 4, leaf.ebx) &&
           expect_out(vm, 0x20, 4, leaf.ecx) &&
           expect_out(vm, 0x20, 4, leaf.edx) &&
           expect_exit(vm, KVM_EXIT_HLT, "HLT");
}

/* Real mode: HLT comes out as KVM_EXIT_HLT with RIP past it. */
static bool case_hlt(struct vm *vm)
{
    static const uint8_t code[] = {
        0x90,                       /* nop */
        0xf4,                       /* hlt */
    };
    vm_load(vm, CODE_GPA, code, sizeof(code));
    if (!vm_real_mode(vm, CODE_GPA) || !expect_exit(vm, KVM_EXIT_HLT, "HLT"))
        return false;
    uint64_t rip = vm_rip(vm);
    return rip == CODE_GPA + sizeof(code) ||
           fail("RIP %#llx after HLT, wanted %#x", (unsigned long long)rip, CODE_GPA + (unsigned)sizeof(code));
}

/* Real mode: writes and reads at d000:0010.. (0xd0010, no slot there) come out as MMIO;
 * the reads get what user space answers, reported by OUT. */
static bool case_mmio_unbacked(struct vm *vm)
{
    static const uint8_t code[] = {
        0xb8, IMM16(0xd000),                            /* mov ax, 0xd000 */
        0x8e, 0xd8,                                     /* mov ds, ax */
        0x66, 0xc7, 0x06, IMM16(0x10), IMM32(0xdeadbeef), /* mov dword [0x10], 0xdeadbeef */
        0xc6, 0x06, IMM16(0x14), 0x5c,                  /* mov byte [0x14], 0x5c */
        0x66, 0xa1, IMM16(0x20),                        /* mov eax, [0x20] */
        0x66, 0xe7, 0x30,                               /* out 0x30, eax */
        0xa0, IMM16(0x24),                              /* mov al, [0x24] */
        0xe6, 0x31,                                     /* out 0x31, al */
        0xf4,                                           /* hlt */
    };
    vm_load(vm, CODE_GPA, code, sizeof(code));
    return vm_real_mode(vm, CODE_GPA) &&
           expect_mmio_write(vm, 0xd0010, 4, 0xdeadbeef) &&
           expect_mmio_write(vm, 0xd0014, 1, 0x5c) &&
           expect_mmio_read(vm, 0xd0020, 4, 0x13572468) &&
           expect_out(vm, 0x30, 4, 0x13572468) &&
           expect_mmio_read(vm, 0xd0024, 1, 0xe9) &&
           expect_out(vm, 0x31, 1, 0xe9) &&
           expect_exit(vm, KVM_EXIT_HLT, "HLT");
}

/* Real mode: L2 says it is running with IF clear, sets IF and counts down; user space
 * asks for the interrupt window, injects vector 0x20 when it opens, and the handler the
 * IVT names reports it by OUT and halts.  The frame on L2's stack must point into the
 * countdown.  The countdown is bounded, so that a window that never opens ends in an
 * OUT to port 0x42 (this case fails) rather than in an L2 that never exits: an L1 whose
 * own timer does not reach it while L2 runs could not be woken by the alarm. */
static bool case_interrupt(struct vm *vm)
{
    enum { VECTOR = 0x20, HANDLER = 0x2000, SPIN = CODE_GPA + 11, COUNT = 0x400000 };
    static const uint8_t code[] = {
        0xb0, 0x01,                 /* mov al, 1 */
        0xe6, 0x41,                 /* out 0x41, al */
        0x66, 0xb9, IMM32(COUNT),   /* mov ecx, COUNT */
        0xfb,                       /* sti */
        0x66, 0x49,                 /* SPIN: dec ecx */
        0x75, 0xfc,                 /* jnz SPIN */
        0xb0, 0x02,                 /* mov al, 2 */
        0xe6, 0x42,                 /* out 0x42, al: the window never opened */
        0xf4,                       /* hlt */
    };
    static const uint8_t handler[] = {
        0xb0, 0x49,                 /* mov al, 0x49 */
        0xe6, 0x40,                 /* out 0x40, al */
        0xf4,                       /* hlt */
    };
    const uint8_t vector_entry[] = { IMM16(HANDLER), IMM16(0) };   /* offset, segment */
    vm_load(vm, CODE_GPA, code, sizeof(code));
    vm_load(vm, HANDLER, handler, sizeof(handler));
    vm_load(vm, VECTOR * 4, vector_entry, sizeof(vector_entry));
    if (!vm_real_mode(vm, CODE_GPA) || !expect_out(vm, 0x41, 1, 1))
        return false;
    struct kvm_run *r = vm->run;
    if (r->if_flag || r->ready_for_interrupt_injection)
        return fail("with IF clear: if_flag %u, ready_for_interrupt_injection %u", r->if_flag,
                    r->ready_for_interrupt_injection);
    r->request_interrupt_window = 1;
    if (!expect_exit(vm, KVM_EXIT_IRQ_WINDOW_OPEN, "IRQ_WINDOW_OPEN"))
        return false;
    if (!r->if_flag || !r->ready_for_interrupt_injection)
        return fail("window open: if_flag %u, ready_for_interrupt_injection %u", r->if_flag,
                    r->ready_for_interrupt_injection);
    struct kvm_interrupt interrupt = { .irq = VECTOR };
    if (ioctl(vm->vcpu_fd, KVM_INTERRUPT, &interrupt) < 0)
        return fail("KVM_INTERRUPT: %s", strerror(errno));
    r->request_interrupt_window = 0;
    if (!expect_out(vm, 0x40, 1, 0x49) || !expect_exit(vm, KVM_EXIT_HLT, "HLT"))
        return false;
    struct kvm_regs regs;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0)
        return fail("KVM_GET_REGS: %s", strerror(errno));
    uint16_t frame[3];              /* IP, CS, FLAGS (SDM 20.1.4) */
    memcpy(frame, vm->memory + STACK_TOP - 6, sizeof(frame));
    bool in_countdown = frame[0] == SPIN || frame[0] == SPIN + 2;
    if (regs.rsp != STACK_TOP - 6 || !in_countdown || frame[1] != 0 || !(frame[2] & 0x200))
        return fail("interrupt frame: SP %#llx, IP %#x CS %#x FLAGS %#x; wanted SP %#x, IP %#x or %#x, "
                    "CS 0, IF set", (unsigned long long)regs.rsp, frame[0], frame[1], frame[2],
                    STACK_TOP - 6, SPIN, SPIN + 2);
    return true;
}

/* Long mode with L2's own page tables: a 64-bit store through REMAPPED_VA must land in
 * REMAPPED_PA (L2 reads it back there through the identity map and reports it by two
 * OUTs), and L2's walk must set Accessed and Dirty in its page-table entry. */
#define LONG_MODE_PATTERN 0x0123456789abcdefull

static bool case_long_mode_paging(struct vm *vm)
{
    const uint64_t pattern = LONG_MODE_PATTERN;
    static const uint8_t code[] = {
        0x48, 0xb8, IMM64(REMAPPED_VA),             /* mov rax, REMAPPED_VA */
        0x48, 0xbb, IMM64(LONG_MODE_PATTERN),       /* mov rbx, LONG_MODE_PATTERN */
        0x48, 0x89, 0x18,                           /* mov [rax], rbx */
        0x48, 0x8b, 0x0c, 0x25, IMM32(REMAPPED_PA), /* mov rcx, [REMAPPED_PA] */
        0x89, 0xc8,                                 /* mov eax, ecx */
        0xe7, 0x50,                                 /* out 0x50, eax */
        0x48, 0xc1, 0xe9, 0x20,                     /* shr rcx, 32 */
        0x89, 0xc8,                                 /* mov eax, ecx */
        0xe7, 0x50,                                 /* out 0x50, eax */
        0xf4,                                       /* hlt */
    };
    vm_load(vm, CODE_GPA, code, sizeof(code));
    if (!vm_long_mode(vm, CODE_GPA) ||
        !expect_out(vm, 0x50, 4, (uint32_t)pattern) ||
        !expect_out(vm, 0x50, 4, (uint32_t)(pattern >> 32)) ||
        !expect_exit(vm, KVM_EXIT_HLT, "HLT"))
        return false;
    struct kvm_sregs sregs;
    if (!vm_get_sregs(vm, &sregs))
        return false;
    if (!(sregs.efer & EFER_LMA))
        return fail("EFER %#llx without LMA", (unsigned long long)sregs.efer);
    if (read64(vm, REMAPPED_PA) != pattern)
        return fail("physical %#x holds %#llx, wanted %#llx", REMAPPED_PA,
                    (unsigned long long)read64(vm, REMAPPED_PA), (unsigned long long)pattern);
    uint64_t pte = read64(vm, REMAPPED_PTE_GPA);
    if ((pte & (PTE_A | PTE_D)) != (PTE_A | PTE_D))
        return fail("the page-table entry of %#llx is %#llx: Accessed or Dirty clear",
                    (unsigned long long)REMAPPED_VA, (unsigned long long)pte);
    return true;
}

/* 32-bit protected mode: L2 writes address ^ KEY to every dword of pages 1..511 of its
 * 2 MiB and to the last dword of page 0 (its code's page), then reports where it
 * stopped; user space checks every page. */
static bool case_memory_all(struct vm *vm)
{
    enum { KEY = 0xc33c5aa5, LAST_OF_PAGE0 = 0xffc, CODE = 0x100 };
    static const uint8_t code[] = {
        0xbf, IMM32(0x1000),                        /* mov edi, 0x1000 */
        0x89, 0xf8,                                 /* loop: mov eax, edi */
        0x35, IMM32(KEY),                           /* xor eax, KEY */
        0x89, 0x07,                                 /* mov [edi], eax */
        0x83, 0xc7, 0x04,                           /* add edi, 4 */
        0x81, 0xff, IMM32(LARGE_MEMORY),            /* cmp edi, 0x200000 */
        0x72, 0xec,                                 /* jb loop (-20) */
        0xc7, 0x05, IMM32(LAST_OF_PAGE0), IMM32(LAST_OF_PAGE0 ^ KEY), /* mov dword [0xffc], ... */
        0x89, 0xf8,                                 /* mov eax, edi */
        0xe7, 0x60,                                 /* out 0x60, eax */
        0xf4,                                       /* hlt */
    };
    vm_load(vm, CODE, code, sizeof(code));
    if (!vm_protected_mode(vm, CODE) ||
        !expect_out(vm, 0x60, 4, LARGE_MEMORY) ||
        !expect_exit(vm, KVM_EXIT_HLT, "HLT"))
        return false;
    if (read32(vm, LAST_OF_PAGE0) != (LAST_OF_PAGE0 ^ KEY))
        return fail("physical %#x holds %#x, wanted %#x", LAST_OF_PAGE0, read32(vm, LAST_OF_PAGE0),
                    LAST_OF_PAGE0 ^ KEY);
    unsigned bad_pages = 0;
    uint32_t first_bad = 0;
    for (uint32_t page = 0x1000; page < LARGE_MEMORY; page += 0x1000) {
        for (uint32_t a = page; a < page + 0x1000; a += 4) {
            if (read32(vm, a) != (a ^ KEY)) {
                if (bad_pages++ == 0)
                    first_bad = a;
                break;
            }
        }
    }
    if (bad_pages)
        return fail("%u of 511 pages differ, the first at %#x (%#x, wanted %#x)", bad_pages, first_bad,
                    read32(vm, first_bad), first_bad ^ KEY);
    return true;
}

/* Long mode: a store and a load at each address L2's tables map outside its slot (just
 * above its 2 MiB, near the end of the next 2 MiB, and 4 GiB) come out as MMIO; the
 * load gets user space's answer (reported by OUT), and the slot is untouched where the
 * address would wrap into it. */
#define OUTSIDE_ACCESS(address, stored)                                            \
    0x48, 0xb8, IMM64(address),         /* mov rax, address */                     \
    0xc7, 0x00, IMM32(stored),          /* mov dword [rax], stored */              \
    0x8b, 0x18,                         /* mov ebx, [rax] */                       \
    0x89, 0xd8,                         /* mov eax, ebx */                         \
    0xe7, 0x70                          /* out 0x70, eax */

static bool case_outside_slots(struct vm *vm)
{
    static const uint64_t addresses[] = { 0x200000, 0x3ffffc, 0x100000000ull };
    static const uint8_t code[] = {
        OUTSIDE_ACCESS(0x200000, 0x11111111),
        OUTSIDE_ACCESS(0x3ffffc, 0x22222222),
        OUTSIDE_ACCESS(0x100000000ull, 0x33333333),
        0xf4,                           /* hlt */
    };
    vm_load(vm, CODE_GPA, code, sizeof(code));
    if (!vm_long_mode(vm, CODE_GPA))
        return false;
    for (unsigned i = 0; i < 3; i++) {
        uint32_t stored = 0x11111111u * (i + 1), answer = 0xa5000000u | i;
        if (!expect_mmio_write(vm, addresses[i], 4, stored) ||
            !expect_mmio_read(vm, addresses[i], 4, answer) ||
            !expect_out(vm, 0x70, 4, answer))
            return false;
    }
    if (!expect_exit(vm, KVM_EXIT_HLT, "HLT"))
        return false;
    for (unsigned i = 0; i < 3; i++) {
        uint64_t wrapped = addresses[i] % LARGE_MEMORY;
        if (read32(vm, wrapped) != 0)
            return fail("the store to %#llx reached the slot at %#llx", (unsigned long long)addresses[i],
                        (unsigned long long)wrapped);
    }
    return true;
}

/* L2 spins forever (jmp $) and never exits on its own: only L1's timer can end KVM_RUN,
 * through the alarm's signal.  A nested hypervisor that lets L1's interrupts wait for
 * L2's next exit never gives L1 its timer back (kvm-test then hangs, and its runner's
 * timeout fails it). */
static bool case_spin_preempted(struct vm *vm)
{
    enum { ALARM_S = 2 };
    static const uint8_t code[] = { 0xeb, 0xfe };      /* jmp $ */
    vm_load(vm, CODE_GPA, code, sizeof(code));
    if (!vm_real_mode(vm, CODE_GPA))
        return false;
    alarm(ALARM_S);
    int result = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    int error = errno;
    alarm(0);
    if (result == 0)
        return unexpected(vm, "no exit: L2 spins");
    if (error != EINTR)
        return fail("KVM_RUN: %s", strerror(error));
    uint64_t rip = vm_rip(vm);
    return rip == CODE_GPA || fail("interrupted at RIP %#llx, wanted %#x", (unsigned long long)rip, CODE_GPA);
}

static const struct test_case {
    const char *name;
    bool (*run)(struct vm *vm);
    size_t memory;
} cases[] = {
    { "io_out_in", case_io_out_in, SMALL_MEMORY },
    { "cpuid", case_cpuid, SMALL_MEMORY },
    { "hlt", case_hlt, SMALL_MEMORY },
    { "mmio_unbacked", case_mmio_unbacked, SMALL_MEMORY },
    { "interrupt", case_interrupt, SMALL_MEMORY },
    { "long_mode_paging", case_long_mode_paging, LARGE_MEMORY },
    { "memory_all", case_memory_all, LARGE_MEMORY },
    { "outside_slots", case_outside_slots, LARGE_MEMORY },
    { "spin_preempted", case_spin_preempted, SMALL_MEMORY },
};

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction action = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &action, NULL);
    kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_fd < 0 || ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        printf("kvm-test: /dev/kvm: FAILED (%s)\n", kvm_fd < 0 ? strerror(errno) : "wrong API version");
        return 1;
    }
    unsigned passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vm vm;
        reason[0] = 0;
        bool ok = vm_create(&vm, cases[i].memory) && cases[i].run(&vm);
        vm_destroy(&vm);
        if (ok) {
            printf("kvm-test: %s: ok\n", cases[i].name);
            passed++;
        } else {
            printf("kvm-test: %s: FAILED (%s)\n", cases[i].name, reason);
            failed++;
        }
    }
    printf("kvm-test: %u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
