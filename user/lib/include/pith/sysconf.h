/*
 * The system configuration: a text file passed as a boot module that tells the root
 * task which guests to compose (DESIGN.md §7).  The format is in docs/config.md:
 *
 *   guest linux1
 *     memory 256M
 *     kernel vmlinuz
 *     cmdline console=ttyS0
 *
 * Parsing is pure and needs no allocator: fixed arrays, errors as text with the line
 * number.  A guest with an error is marked invalid and the others stay valid, so the
 * valid guests still start.
 */
#ifndef VMM_SYSCONF_H
#define VMM_SYSCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYSCONF_MAX_GUESTS      64      /* in one system (the root task's struct sysconf) */
#define SYSCONF_MAX_VCPUS       8
#define SYSCONF_MAX_CPU         63      /* the highest host CPU number `cpus` may name */
#define SYSCONF_STRING          128     /* names and module names, with the NUL */
#define SYSCONF_CMDLINE         512     /* the guest's command line, with the NUL */
#define SYSCONF_MESSAGE         128     /* one error message, with the NUL */
#define SYSCONF_MAX_SEGMENT     4094    /* network segments are 1..this */

enum sysconf_boot {
    SYSCONF_BOOT_LINUX,         /* bzImage, Linux x86 boot protocol (the default) */
    SYSCONF_BOOT_MULTIBOOT,     /* a multiboot v1 or v2 kernel on the PC platform */
    SYSCONF_BOOT_FLAT,          /* a flat test image at 1 MiB (guests/tests) */
    SYSCONF_BOOT_BIOS,          /* firmware (SeaBIOS) from the reset vector */
};

#define SYSCONF_MAX_MODULES     8       /* multiboot modules per guest */
#define SYSCONF_DEFAULT_FIRMWARE "bios-256k.bin"

enum sysconf_console {
    SYSCONF_CONSOLE_SERIAL,     /* the guest's 16550 on the console server (default) */
    SYSCONF_CONSOLE_NONE,
};

struct sysconf_guest {
    char name[SYSCONF_STRING];
    bool valid;
    unsigned line;              /* of the `guest` line */
    uint64_t memory;            /* bytes */
    unsigned vcpus;
    uint64_t cpus;              /* `cpus`: host CPUs for the vCPUs, bit n = CPU n; 0: spread */
    unsigned cpus_line;
    enum sysconf_boot boot;
    char kernel[SYSCONF_STRING];        /* boot module names; "" when not given */
    char initrd[SYSCONF_STRING];
    char disk[SYSCONF_STRING];          /* virtio-blk backing module */
    bool disk_read_only;                /* `disk NAME readonly`: no private writable copy */
    char disk_partition[SYSCONF_STRING];    /* `disk part:NAME`: a host disk's GPT partition */
    char cmdline[SYSCONF_CMDLINE];
    enum sysconf_console console;
    unsigned kernel_line, initrd_line, disk_line;   /* where each module was named */
    /* multiboot modules: the module's name, then its command line (the whole value) */
    char module[SYSCONF_MAX_MODULES][SYSCONF_STRING];
    char module_string[SYSCONF_MAX_MODULES][SYSCONF_STRING];
    unsigned module_line[SYSCONF_MAX_MODULES];
    unsigned module_count;
    char cdrom[SYSCONF_STRING];         /* boot bios: an ISO image on the IDE controller */
    unsigned cdrom_line;
    bool debug_exit;                    /* QEMU's isa-debug-exit at port 0xf4 */
    bool gdb;                           /* `gdb yes`: the GDB stub on COM2 (one guest at most) */
    bool no_autostart;                  /* `autostart no`: the control shell starts it */
    uint32_t net_segment;       /* `net SEGMENT [MAC]`: a NIC on that segment; 0 = none */
    uint8_t mac[6];             /* given, or 52:54:00:50:SS:GG (segment, guest number) */
    unsigned net_line;
    bool nested;                /* `nested on`: the guest may run its own hypervisor (docs/nested.md) */
};

struct sysconf {
    struct sysconf_guest guests[SYSCONF_MAX_GUESTS];
    unsigned guest_count;
    /* System level: `uplink SEGMENT`, the segment the host's NIC joins; 0 = none. */
    uint32_t uplink_segment;
    unsigned uplink_line;
};

enum sysconf_error_kind {
    SYSCONF_ERR_UNKNOWN_KEY,
    SYSCONF_ERR_MISSING_VALUE,
    SYSCONF_ERR_EXTRA_VALUE,        /* text after a one-word value */
    SYSCONF_ERR_BAD_NUMBER,
    SYSCONF_ERR_BAD_VALUE,          /* boot method, console or guest name not allowed */
    SYSCONF_ERR_TOO_LONG,
    SYSCONF_ERR_KEY_OUTSIDE_GUEST,
    SYSCONF_ERR_DUPLICATE_GUEST,
    SYSCONF_ERR_DUPLICATE_KEY,
    SYSCONF_ERR_TOO_MANY_GUESTS,
    SYSCONF_ERR_MISSING_KERNEL,
    SYSCONF_ERR_MEMORY_RANGE,       /* 0, not page-sized, or more than the limit */
    SYSCONF_ERR_OUT_OF_MEMORY,      /* fits alone, not after the guests above it */
    SYSCONF_ERR_VCPUS_RANGE,
    SYSCONF_ERR_MISSING_MODULE,
    SYSCONF_ERR_BAD_CPUS,           /* `cpus` is not a list of CPU numbers and ranges */
    SYSCONF_ERR_NO_SUCH_CPU,        /* `cpus` names a CPU the machine does not have */
    SYSCONF_ERR_BAD_NET,            /* segment out of range, bad or duplicate MAC */
    SYSCONF_ERR_BAD_DISK,           /* a partition named twice, or a bad partition name */
    SYSCONF_ERR_BAD_UPLINK,         /* uplink: bad or repeated segment, or no guest on it */
};

struct sysconf_error {
    unsigned line;
    enum sysconf_error_kind kind;
    char message[SYSCONF_MESSAGE];  /* "line 7: unknown key 'memroy'" */
};

/*
 * Parses length bytes of text.  memory_limit is the RAM the caller can give guests in
 * all: each guest must fit in it, and the valid guests together, taken in file order.
 * Errors go to errors[0..max_errors); returns how many there were in all, which may be
 * more than max_errors.
 */
unsigned sysconf_parse(const char *text, size_t length, uint64_t memory_limit,
                       struct sysconf *config,
                       struct sysconf_error *errors, unsigned max_errors);

/*
 * The same into the caller's room for capacity guests (at most SYSCONF_MAX_GUESTS), with
 * *count set to how many there were: a VMM, given only its own guest's block, keeps room
 * for one rather than a whole system's.  System-level keys are checked and dropped.
 */
unsigned sysconf_parse_guests(const char *text, size_t length, uint64_t memory_limit,
                              struct sysconf_guest *guests, unsigned capacity, unsigned *count,
                              struct sysconf_error *errors, unsigned max_errors);

/*
 * Checks that every module a guest names (kernel, initrd, disk) is among the boot
 * modules; a guest that names a missing one becomes invalid.  Returns the number of
 * errors, stored as for sysconf_parse.
 */
unsigned sysconf_check_modules(struct sysconf *config,
                               const char *const *modules, unsigned module_count,
                               struct sysconf_error *errors, unsigned max_errors);
/* The same for one guest. */
unsigned sysconf_check_guest_modules(struct sysconf_guest *guest,
                                     const char *const *modules, unsigned module_count,
                                     struct sysconf_error *errors, unsigned max_errors);

/*
 * Checks every guest's `cpus` against the host CPUs 0 .. cpu_count-1; a guest that
 * names another becomes invalid.  Returns the number of errors, stored as above.
 */
unsigned sysconf_check_cpus(struct sysconf *config, unsigned cpu_count,
                            struct sysconf_error *errors, unsigned max_errors);

/* "0-1,3" for the CPUs of mask; returns the length written (out has size bytes). */
size_t sysconf_format_cpus(uint64_t mask, char *out, size_t size);

unsigned sysconf_valid_guests(const struct sysconf *config);

#endif
