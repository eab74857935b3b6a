/*
 * The commands of the GDB remote protocol a VMM serves for its guest (GDB manual,
 * "Remote Protocol", E.2 Packets): registers (g G p P), memory (m M X), software
 * breakpoints (Z0 z0), hardware breakpoints and watchpoints (Z1..Z4, z1..z4) where the
 * target has them, continue and step (c s), detach (D), kill (k) and the queries GDB
 * makes when it attaches (qSupported, ?, H, qAttached, qC, thread lists, vCont?).  A
 * target without hardware breakpoints gets the empty reply for Z1..Z4: not supported,
 * GDB says so to its user.
 *
 * Pure logic: the guest is reached only through struct gdb_target, so the parser runs
 * on the host in the unit tests.  Every length and number in a packet is checked
 * before it is used: a malformed packet gets an error reply (`E01`..), never a write
 * out of bounds.
 *
 * Registers are numbered as GDB numbers them for the guest's mode when it stopped:
 *   i386   eax ecx edx ebx esp ebp esi edi eip eflags cs ss ds es fs gs, 4 bytes each
 *   amd64  rax rbx rcx rdx rsi rdi rbp rsp r8..r15 rip (8 bytes), eflags cs ss ds es
 *          fs gs (4 bytes)
 * The `g` reply stops after these; GDB takes the registers it has beyond (x87, SSE) as
 * unavailable.
 */
#ifndef VMM_DEV_GDB_COMMANDS_H
#define VMM_DEV_GDB_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gdb_arch { GDB_ARCH_I386, GDB_ARCH_AMD64 };

#define GDB_REGS_MAX        24
#define GDB_I386_PC         8
#define GDB_AMD64_PC        16
#define GDB_MEMORY_MAX      2000    /* bytes per m/M/X: the reply fits GDB_RSP_MAX */
#define GDB_SIGNAL_INT      2       /* GDB's signal numbers for stop replies */
#define GDB_SIGNAL_TRAP     5

/* What the stop reply says beyond the signal (GDB manual, E.3 "Stop Reply Packets"). */
enum gdb_stop_kind {
    GDB_STOP_OTHER,                 /* a step, an interrupt */
    GDB_STOP_SWBREAK,               /* one of our software breakpoints */
    GDB_STOP_HWBREAK,               /* a hardware breakpoint */
    GDB_STOP_WATCH,                 /* a write watchpoint, at stop_address */
    GDB_STOP_RWATCH,                /* a read watchpoint */
    GDB_STOP_AWATCH,                /* an access watchpoint */
};

/* The types of Z and z packets. */
enum { GDB_Z_SOFTWARE, GDB_Z_HARDWARE, GDB_Z_WRITE, GDB_Z_READ, GDB_Z_ACCESS };

struct gdb_target {
    void *ctx;
    enum gdb_arch arch;
    int stop_signal;                /* why the guest stopped last: for `?` */
    enum gdb_stop_kind stop_kind;   /* ... and how */
    uint64_t stop_address;          /* the data address of a watchpoint stop */
    void (*read_registers)(void *ctx, uint64_t regs[GDB_REGS_MAX]);
    bool (*write_register)(void *ctx, unsigned index, uint64_t value);
    /* Both return how many bytes from the start were done (they stop at the first
     * address that does not translate). */
    size_t (*read_memory)(void *ctx, uint64_t address, uint8_t *buf, size_t length);
    size_t (*write_memory)(void *ctx, uint64_t address, const uint8_t *buf, size_t length);
    bool (*insert_breakpoint)(void *ctx, uint64_t address);
    bool (*remove_breakpoint)(void *ctx, uint64_t address);
    /* Z1..Z4: type GDB_Z_HARDWARE..GDB_Z_ACCESS, `length` bytes from address (the
     * packet's KIND).  NULL: the target has none (the empty reply). */
    bool (*insert_hardware)(void *ctx, unsigned type, uint64_t address, uint64_t length);
    bool (*remove_hardware)(void *ctx, unsigned type, uint64_t address, uint64_t length);
};

enum gdb_action {
    GDB_ACTION_REPLY,               /* send the reply, stay stopped */
    GDB_ACTION_CONTINUE,            /* no reply now: the stop reply comes later */
    GDB_ACTION_STEP,
    GDB_ACTION_DETACH,              /* send the reply (OK), then run on without GDB */
    GDB_ACTION_KILL,                /* no reply; as detach (the guest is not killed) */
};

/* Registers of the architecture, and the width in bytes of register i. */
unsigned gdb_register_count(enum gdb_arch arch);
unsigned gdb_register_size(enum gdb_arch arch, unsigned index);

/* One packet (length bytes, binary data allowed); the reply goes to reply, at most
 * reply_size - 1 bytes plus a NUL, its length to *reply_length. */
enum gdb_action gdb_command(const struct gdb_target *t, const char *packet, size_t length,
                            char *reply, size_t reply_size, size_t *reply_length);

/* The stop reply: `T05swbreak:;thread:1;`, `T05hwbreak:;thread:1;`,
 * `T05watch:ADDRESS;thread:1;` (rwatch, awatch) or `T02thread:1;`. */
size_t gdb_stop_reply(int signal, enum gdb_stop_kind kind, uint64_t address, char *out, size_t size);

#endif
