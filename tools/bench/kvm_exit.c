/*
 * kvm_exit — the Linux KVM peer of Pith's vm_exit benchmarks (user/bench/vm.c).
 *
 * Runs the same real-mode guests (user/bench/guests.h) through the KVM API: one VM,
 * 64 KiB of guest memory at 0, one vCPU in real mode at 0:1000, a KVM_RUN loop that
 * handles KVM_EXIT_IO in user space.  CPUID exits stay in the kernel (KVM answers
 * them from the table set with KVM_SET_CPUID2), so the CPUID figure is a batch's time
 * over the CPUIDs in it, as on the Pith side.  Timing is CLOCK_MONOTONIC; under QEMU
 * -icount shift=0 a nanosecond is an instruction.
 *
 * Prints `kvm vm_exit_io AVERAGE BEST` and `kvm vm_exit_cpuid AVERAGE BEST`: ns per
 * exit over all GUEST_WINDOWS windows and in the best window (guests.h says which
 * figure serves when), or `kvm error ...` and exit status 1.
 * Built static with the host's gcc; runs as /init's child in a busybox initramfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../../user/bench/guests.h"

#define GUEST_MEMORY 0x10000u

static int kvm_fd;

static void die(const char *what)
{
    printf("kvm error %s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

struct vcpu {
    int vm_fd, fd;
    struct kvm_run *run;
    uint8_t *memory;
};

/* A VM of its own for each guest, with one vCPU. */
static void vcpu_create(struct vcpu *v, const uint8_t *code, size_t length)
{
    v->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0ul);
    if (v->vm_fd < 0)
        die("KVM_CREATE_VM");
    v->memory = mmap(NULL, GUEST_MEMORY, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v->memory == MAP_FAILED)
        die("mmap guest memory");
    memcpy(v->memory + GUEST_CODE_GPA, code, length);
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = GUEST_MEMORY,
        .userspace_addr = (uint64_t)(uintptr_t)v->memory,
    };
    if (ioctl(v->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        die("KVM_SET_USER_MEMORY_REGION");
    v->fd = ioctl(v->vm_fd, KVM_CREATE_VCPU, 0ul);
    if (v->fd < 0)
        die("KVM_CREATE_VCPU");
    int size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size < (int)sizeof(struct kvm_run))
        die("KVM_GET_VCPU_MMAP_SIZE");
    v->run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (v->run == MAP_FAILED)
        die("mmap kvm_run");

    /* The CPUID table a VMM would give its guest: what KVM supports. */
    unsigned n = 128;
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));
    cpuid->nent = n;
    if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
        die("KVM_GET_SUPPORTED_CPUID");
    if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0)
        die("KVM_SET_CPUID2");
    free(cpuid);

    /* Real mode, every segment at 0 (the reset state has CS at f000:ffff0000). */
    struct kvm_sregs sregs;
    if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
        die("KVM_GET_SREGS");
    struct kvm_segment *segs[] = { &sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss };
    for (unsigned i = 0; i < 6; i++) {
        segs[i]->base = 0;
        segs[i]->selector = 0;
    }
    if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
        die("KVM_SET_SREGS");
    struct kvm_regs regs = { .rip = GUEST_CODE_GPA, .rflags = 2, .rsp = 0x8000 };
    if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
        die("KVM_SET_REGS");
}

/* Run until the guest's next port write, which is the only exit user space sees. */
static void run_to_port_write(struct vcpu *v)
{
    for (;;) {
        if (ioctl(v->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR)
                continue;
            die("KVM_RUN");
        }
        struct kvm_run *r = v->run;
        if (r->exit_reason == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_OUT &&
            r->io.port == GUEST_IO_PORT)
            return;     /* dropped; the next KVM_RUN completes it and goes on */
        if (r->exit_reason == KVM_EXIT_INTR)
            continue;
        printf("kvm error unexpected exit %u\n", r->exit_reason);
        exit(1);
    }
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Per exit over all windows and in the best one; a window is `port_writes` runs to a
 * port write, `exits` exits in all. */
static void measure(const char *name, struct vcpu *v, unsigned port_writes, unsigned exits)
{
    for (unsigned i = 0; i < port_writes; i++)  /* warm up */
        run_to_port_write(v);
    uint64_t total = 0, best = UINT64_MAX;
    for (unsigned w = 0; w < GUEST_WINDOWS; w++) {
        uint64_t start = now_ns();
        for (unsigned i = 0; i < port_writes; i++)
            run_to_port_write(v);
        uint64_t ns = now_ns() - start;
        total += ns;
        best = ns < best ? ns : best;
    }
    printf("kvm %s %lu %lu\n", name, (unsigned long)((total + GUEST_EXITS / 2) / GUEST_EXITS),
           (unsigned long)((best + exits / 2) / exits));
}

int main(void)
{
    kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_fd < 0)
        die("open /dev/kvm");
    if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
        die("KVM_GET_API_VERSION");
    struct vcpu io, cpuid;
    vcpu_create(&io, guest_io_loop, sizeof(guest_io_loop));
    measure("vm_exit_io", &io, GUEST_WINDOW_EXITS, GUEST_WINDOW_EXITS);
    vcpu_create(&cpuid, guest_cpuid_loop, sizeof(guest_cpuid_loop));
    measure("vm_exit_cpuid", &cpuid, 1, GUEST_CPUID_BATCH);
    fflush(stdout);
    return 0;
}
