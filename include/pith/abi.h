/*
 * The Pith user/kernel ABI: system-call numbers, the message-info word, error codes,
 * object types, invocation labels, rights, the IPC buffer and the boot-info page.
 * Shared by the kernel and every user program; docs/abi.md explains each call.
 */
#ifndef PITH_ABI_H
#define PITH_ABI_H

#include <stdint.h>

/* ---- System calls (number in RAX) ------------------------------------------------
 * Entry:  rax = call, rdi = capability address, rsi = message info,
 *         rdx, r8, r9, r10 = message registers 0..3 (the rest in the IPC buffer).
 * Return: rax = error code, rdi = badge, rsi = message info, rdx, r8, r9, r10 = MR0..3.
 * rcx and r11 are clobbered (SYSCALL/SYSRET); every other register is preserved. */
enum pith_syscall {
    PITH_SYS_CALL = 1,       /* send, then wait for the reply; invokes kernel objects */
    PITH_SYS_REPLY_RECV,     /* reply to the current caller, then receive on rdi */
    PITH_SYS_SEND,           /* blocking send */
    PITH_SYS_NB_SEND,        /* send only if a receiver waits, else PITH_E_WOULD_BLOCK */
    PITH_SYS_RECV,           /* blocking receive on an endpoint or notification */
    PITH_SYS_NB_RECV,        /* receive only if a sender waits, else PITH_E_WOULD_BLOCK */
    PITH_SYS_REPLY,          /* reply to the current caller */
    PITH_SYS_SIGNAL,         /* OR the capability's badge into a notification */
    PITH_SYS_WAIT,           /* block until a notification has bits; take them */
    PITH_SYS_POLL,           /* take a notification's bits without blocking */
    PITH_SYS_YIELD,          /* give up the rest of the timeslice */
    PITH_SYS_DEBUG_PUTC,     /* write MR0's low byte to the kernel console, which shows
                              * each thread's output a line at a time (rdi: the
                              * debug-console capability) */
    PITH_SYS_COUNT
};

/* ---- Message info word ------------------------------------------------------------
 * bits 0..6 length in message registers (0..64), bits 7..8 extra capabilities
 * (0..1 sent with the message), bit 9 set by the kernel when a capability was
 * received, bits 12..63 label (method number for invocations, error for replies). */
#define PITH_MSG_MAX            64
#define PITH_MSG_REGS_IN_CPU    4
#define PITH_MSG_MAX_CAPS       1

static inline uint64_t pith_msginfo(uint64_t label, uint64_t length, uint64_t caps)
{
    return (label << 12) | ((caps & 3) << 7) | (length & 0x7f);
}
static inline uint64_t pith_msginfo_label(uint64_t info) { return info >> 12; }
static inline uint64_t pith_msginfo_length(uint64_t info) { return info & 0x7f; }
static inline uint64_t pith_msginfo_caps(uint64_t info) { return (info >> 7) & 3; }
#define PITH_MSG_CAP_RECEIVED   (1u << 9)
/* Set by the kernel when a receive returned the bits of the thread's bound
 * notification (badge = the bits) instead of a message. */
#define PITH_MSG_FROM_NOTIFICATION (1u << 10)

/* ---- Error codes (returned in RAX) ------------------------------------------------ */
enum pith_error {
    PITH_OK = 0,
    PITH_E_INVALID_CAP,      /* slot empty, or the capability has the wrong type */
    PITH_E_RANGE,            /* a slot index or number is outside its range */
    PITH_E_INVALID_ARG,      /* an argument has a value the method does not accept */
    PITH_E_ALIGNMENT,        /* an address or size is not aligned as required */
    PITH_E_BAD_ADDRESS,      /* address in the kernel half, non-canonical, or too high */
    PITH_E_NO_MEMORY,        /* the untyped has no room left for the objects */
    PITH_E_SLOT_OCCUPIED,    /* the destination slot is not empty */
    PITH_E_RIGHTS,           /* the capability lacks a right the operation needs */
    PITH_E_ILLEGAL_OP,       /* the object has no method with this label */
    PITH_E_WOULD_BLOCK,      /* a polling call found no partner */
    PITH_E_MAPPED,           /* already mapped, or the table entry is in use */
    PITH_E_NOT_MAPPED,       /* a needed page table is missing, or nothing is mapped */
    PITH_E_TRUNCATED,        /* the message is longer than 64 or the buffer allows */
    PITH_E_BUSY,             /* the resource is already handed out */
    PITH_E_NO_REPLY,         /* reply with no caller waiting */
    PITH_E_DELETED,          /* the object was destroyed while the caller waited */
    PITH_E_REVOKE_FIRST,     /* the object still has derived capabilities */
    PITH_E_INTERRUPTED,      /* the thread was suspended while it waited in a call */
    PITH_E_COUNT
};

/* ---- Object types (Untyped.retype) ------------------------------------------------- */
enum pith_object_type {
    PITH_OBJ_UNTYPED = 1,        /* size_bits 4..47 */
    PITH_OBJ_CNODE,              /* size_bits = log2 slots, 1..16; 64 bytes a slot */
    PITH_OBJ_THREAD,             /* 2 KiB */
    PITH_OBJ_ENDPOINT,           /* 64 bytes */
    PITH_OBJ_NOTIFICATION,       /* 64 bytes */
    PITH_OBJ_ADDRESS_SPACE,      /* 16 KiB: PML4, I/O permission bitmap, bookkeeping */
    PITH_OBJ_PDPT,               /* 4 KiB page-directory-pointer table */
    PITH_OBJ_PAGE_DIRECTORY,     /* 4 KiB page directory */
    PITH_OBJ_PAGE_TABLE,         /* 4 KiB page table */
    PITH_OBJ_FRAME_4K,
    PITH_OBJ_FRAME_2M,
    PITH_OBJ_VCPU,               /* 32 KiB: VMCB or VMCS, I/O and MSR bitmaps, state */
    PITH_OBJ_GUEST_SPACE,        /* 8 KiB: top-level EPT/NPT table and bookkeeping */
    PITH_OBJ_TYPE_COUNT
};

/* log2 of the bytes each object takes in its untyped: the kernel retypes by these and
 * user-level allocators budget by them.  For an untyped, size_bits is its own size;
 * for a CNode, log2 of its slots (PITH_CNODE_SLOT_BITS each).  The ranges Untyped.retype
 * accepts are in docs/abi.md §4.1; unknown types answer 0. */
#define PITH_CNODE_SLOT_BITS        6
#define PITH_THREAD_BITS            11
#define PITH_ENDPOINT_BITS          6
#define PITH_NOTIFICATION_BITS      6
#define PITH_ADDRESS_SPACE_BITS     14
#define PITH_TABLE_BITS             12
#define PITH_FRAME_4K_BITS          12
#define PITH_FRAME_2M_BITS          21
#define PITH_VCPU_BITS              15
#define PITH_GUEST_SPACE_BITS       13

static inline unsigned pith_object_bits(unsigned type, unsigned size_bits)
{
    switch (type) {
    case PITH_OBJ_UNTYPED:          return size_bits;
    case PITH_OBJ_CNODE:            return size_bits + PITH_CNODE_SLOT_BITS;
    case PITH_OBJ_THREAD:           return PITH_THREAD_BITS;
    case PITH_OBJ_ENDPOINT:         return PITH_ENDPOINT_BITS;
    case PITH_OBJ_NOTIFICATION:     return PITH_NOTIFICATION_BITS;
    case PITH_OBJ_ADDRESS_SPACE:    return PITH_ADDRESS_SPACE_BITS;
    case PITH_OBJ_PDPT:
    case PITH_OBJ_PAGE_DIRECTORY:
    case PITH_OBJ_PAGE_TABLE:       return PITH_TABLE_BITS;
    case PITH_OBJ_FRAME_4K:         return PITH_FRAME_4K_BITS;
    case PITH_OBJ_FRAME_2M:         return PITH_FRAME_2M_BITS;
    case PITH_OBJ_VCPU:             return PITH_VCPU_BITS;
    case PITH_OBJ_GUEST_SPACE:      return PITH_GUEST_SPACE_BITS;
    default:                        return 0;
    }
}

/* Capability types that are not retyped: handed to the root task at boot. */
enum pith_cap_type {
    PITH_CAP_NULL = 0,
    /* 1 .. PITH_OBJ_TYPE_COUNT-1 are the object types above */
    PITH_CAP_IRQ_CONTROL = 32,
    PITH_CAP_IRQ_HANDLER,
    PITH_CAP_IOPORT_CONTROL,
    PITH_CAP_IOPORT,
    PITH_CAP_DEBUG_CONSOLE,      /* the right to write to the kernel's console */
};

/* ---- Rights ------------------------------------------------------------------------
 * Endpoint: WRITE = send, READ = receive, GRANT = send capabilities.
 * Notification: WRITE = signal, READ = wait/poll.  Frame: READ, WRITE, EXECUTE.
 * CNode, Thread, Untyped, tables: WRITE is needed to change them. */
#define PITH_RIGHT_READ     1u
#define PITH_RIGHT_WRITE    2u
#define PITH_RIGHT_EXECUTE  4u
#define PITH_RIGHT_GRANT    8u
#define PITH_RIGHTS_ALL     15u

/* ---- Invocation labels (label of Call on a non-endpoint capability) ---------------
 * Arguments are message registers MR0, MR1, ... ; capability arguments are
 * capability addresses in the caller's own capability space. */
enum pith_method {
    /* Untyped: MR0 type, MR1 size_bits (untyped, cnode), MR2 destination CNode,
     * MR3 first destination slot, MR4 count.  All objects or none. */
    PITH_UNTYPED_RETYPE = 1,

    /* CNode (the invoked CNode is the destination / target):
     * COPY  MR0 dest slot, MR1 source CNode, MR2 source slot, MR3 rights mask
     * MINT  as COPY, MR4 badge (endpoint, notification) — the source must be unbadged
     * MOVE  MR0 dest slot, MR1 source CNode, MR2 source slot
     * DELETE MR0 slot;  REVOKE MR0 slot (delete every capability derived from it) */
    PITH_CNODE_COPY = 16,
    PITH_CNODE_MINT,
    PITH_CNODE_MOVE,
    PITH_CNODE_DELETE,
    PITH_CNODE_REVOKE,

    /* Thread:
     * CONFIGURE   MR0 CNode (capability space), MR1 address space, MR2 IPC buffer
     *             address (4 KiB aligned, 0 = none), MR3 IPC buffer frame, MR4 fault
     *             endpoint (0 = none).  Thread must be inactive.
     * SET_PRIORITY MR0 priority 0..255, not above the caller's maximum controlled
 *             priority (MCP: the priority another thread last gave it; root: 255).
 *             Setting another thread's priority also sets its MCP.
     * READ_REGISTERS  reply MR0.. = struct pith_regs order, length = count
     * WRITE_REGISTERS MR0.. in struct pith_regs order, length = count (1..20)
     * RESUME, SUSPEND
     * BIND_NOTIFICATION MR0 notification; UNBIND_NOTIFICATION
     * SET_AFFINITY MR0 cpu */
    PITH_THREAD_CONFIGURE = 32,
    PITH_THREAD_SET_PRIORITY,
    PITH_THREAD_READ_REGISTERS,
    PITH_THREAD_WRITE_REGISTERS,
    PITH_THREAD_RESUME,
    PITH_THREAD_SUSPEND,
    PITH_THREAD_BIND_NOTIFICATION,
    PITH_THREAD_UNBIND_NOTIFICATION,
    PITH_THREAD_SET_AFFINITY,

    /* Page tables (PDPT, page directory, page table) and frames:
     * MAP MR0 address space, MR1 virtual address, (frames:) MR2 rights, MR3 attributes
     * UNMAP;  FRAME_ADDRESS replies MR0 = physical address */
    PITH_TABLE_MAP = 48,
    PITH_TABLE_UNMAP,
    PITH_FRAME_MAP,
    PITH_FRAME_UNMAP,
    PITH_FRAME_ADDRESS,

    /* Notification: SET_DEADLINE MR0 TSC value (0 cancels).  The kernel signals the
     * notification with bit PITH_DEADLINE_BIT once the TSC reaches it. */
    PITH_NOTIFICATION_SET_DEADLINE = 64,

    /* IRQ control: GET MR0 IRQ line 0..15, MR1 destination slot (caller's space).
     * IRQ handler: SET_NOTIFICATION MR0 notification (its badge is the bits
     * signalled), ACK (unmask the line again), CLEAR (detach the notification). */
    PITH_IRQ_CONTROL_GET = 80,
    PITH_IRQ_SET_NOTIFICATION,
    PITH_IRQ_ACK,
    PITH_IRQ_CLEAR,

    /* I/O ports: ISSUE MR0 first port, MR1 last port, MR2 destination slot, MR3 1 to
     * include the kernel's console UART (COM1, 0x3f8..0x3ff; PITH_E_BUSY otherwise).
     * ALLOW / DENY MR0 address space: open or close the capability's port range in
     * that address space's I/O permission bitmap. */
    PITH_IOPORT_CONTROL_ISSUE = 96,
    PITH_IOPORT_ALLOW,
    PITH_IOPORT_DENY,

    /* VCpu (see pith/vm.h for the exit protocol):
     * CONFIGURE  MR0 thread (inactive; becomes the vCPU thread), MR1 guest space,
     *            MR2 exit endpoint (write right; its badge names the vCPU in exits),
     *            MR3 transfer mask (PITH_VM_GROUP_* sent with every exit),
     *            MR4 exception bitmap (bit v: guest exception v exits)
     * READ_STATE MR0 group mask; reply MR0.. = the groups in order (thread not running)
     * WRITE_STATE MR0 group mask, MR1.. the groups in order
     * RECALL     force an exit with reason PITH_EXIT_RECALL as soon as possible
     * SET_IO     MR0 I/O-port capability, MR1 1 = let the guest use those ports
     *            directly, 0 = exit on them again (the default)
     * SET_PORT   MR0 port, MR1 PITH_VM_PORT_* (how the kernel answers a byte IN or OUT
     *            there without an exit), MR2 the byte an IN reads (PITH_VM_PORT_READ)
     * SET_CPUID  MR0 first leaf, MR1 last leaf (a CPUID with EAX in [first, last],
     *            whatever ECX, is answered by the kernel without an exit), MR2 EAX |
     *            EBX << 32, MR3 ECX | EDX << 32 of the answer; MR0 > MR1 with every
     *            other word 0 takes every CPUID shortcut of the vCPU away
     * SET_MSR    MR0 MSR index (32 bits), MR1 PITH_VM_MSR_* (PITH_VM_MSR_READ: an RDMSR
     *            of it is answered by the kernel without an exit), MR2 the value it
     *            reads (EDX:EAX; 0 with PITH_VM_MSR_EXIT) */
    PITH_VCPU_CONFIGURE = 112,
    PITH_VCPU_READ_STATE,
    PITH_VCPU_WRITE_STATE,
    PITH_VCPU_RECALL,
    PITH_VCPU_SET_IO,
    PITH_VCPU_SET_PORT,
    PITH_VCPU_SET_CPUID,
    PITH_VCPU_SET_MSR,
};

#define PITH_DEADLINE_BIT       (1ull << 63)
#define PITH_PRIORITY_MAX       255
#define PITH_IRQ_LINES          16

/* Frame map attributes (MR3).  PITH_ATTR_PIECE maps one 4 KiB page of a 2 MiB frame,
 * the one at the offset in bits 12-20 (PITH_ATTR_PIECE_OFFSET), into a page table. */
#define PITH_ATTR_UNCACHED      1u
#define PITH_ATTR_PIECE         2u
#define PITH_ATTR_PIECE_OFFSET  0x1ff000ull

/* ---- Faults: sent as a Call to the thread's fault endpoint -------------------------
 * label = PITH_FAULT_*; MR0 rip, MR1 fault address (CR2 for page faults), MR2 error
 * code, MR3 vector.  Any reply resumes the thread at its (possibly rewritten) rip. */
enum pith_fault {
    PITH_FAULT_PAGE = 1,
    PITH_FAULT_EXCEPTION,
};

/* Register order of Thread.READ_REGISTERS / WRITE_REGISTERS. */
enum pith_reg {
    PITH_REG_RIP, PITH_REG_RSP, PITH_REG_RFLAGS,
    PITH_REG_RAX, PITH_REG_RBX, PITH_REG_RCX, PITH_REG_RDX,
    PITH_REG_RSI, PITH_REG_RDI, PITH_REG_RBP,
    PITH_REG_R8, PITH_REG_R9, PITH_REG_R10, PITH_REG_R11,
    PITH_REG_R12, PITH_REG_R13, PITH_REG_R14, PITH_REG_R15,
    PITH_REG_FS_BASE, PITH_REG_GS_BASE,
    PITH_REG_COUNT
};

/* ---- IPC buffer: one 4 KiB frame per thread, registered by Thread.CONFIGURE -------- */
struct pith_ipc_buffer {
    uint64_t mr[PITH_MSG_MAX];       /* message registers (0..3 travel in CPU registers) */
    uint64_t caps[PITH_MSG_MAX_CAPS];/* capability addresses to send */
    uint64_t receive_slot;           /* where a received capability goes (0 = refuse) */
    uint64_t user[8];                /* free for the runtime (thread pointer, ...) */
};

/* ---- Boot info ---------------------------------------------------------------------
 * The root task starts with rdi = address of this page. Fixed slots of its CNode: */
enum pith_root_slot {
    PITH_SLOT_NULL = 0,
    PITH_SLOT_CNODE,             /* its own capability space */
    PITH_SLOT_ADDRESS_SPACE,     /* its own address space */
    PITH_SLOT_THREAD,            /* its own thread */
    PITH_SLOT_IRQ_CONTROL,
    PITH_SLOT_IOPORT_CONTROL,
    PITH_SLOT_IPC_BUFFER,        /* the frame of its IPC buffer */
    PITH_SLOT_BOOTINFO,          /* the frame of this page */
    PITH_SLOT_DEBUG_CONSOLE,     /* the kernel console (PITH_SYS_DEBUG_PUTC) */
    PITH_SLOT_FIRST_FREE_FIXED   /* the kernel fills slots from here on */
};

#define PITH_BOOTINFO_MAGIC     0x6f666e4968746950ull   /* "PithInfo" */
#define PITH_BOOTINFO_UNTYPED   128
#define PITH_BOOTINFO_MODULES   12
#define PITH_BOOTINFO_MEMMAP    32

/* CPU feature bits in pith_bootinfo.cpu_features. */
#define PITH_CPU_VMX            (1ull << 0)
#define PITH_CPU_SVM            (1ull << 1)
#define PITH_CPU_EPT            (1ull << 2)
#define PITH_CPU_NPT            (1ull << 3)
#define PITH_CPU_X2APIC         (1ull << 4)
#define PITH_CPU_TSC_DEADLINE   (1ull << 5)
#define PITH_CPU_PCID           (1ull << 6)
#define PITH_CPU_XSAVE          (1ull << 7)
#define PITH_CPU_NX             (1ull << 8)
#define PITH_CPU_PAGE1G         (1ull << 9)
#define PITH_CPU_INVARIANT_TSC  (1ull << 10)
#define PITH_CPU_SMEP           (1ull << 11)    /* the kernel enables SMEP, SMAP and */
#define PITH_CPU_SMAP           (1ull << 12)    /* UMIP when the CPU has them */
#define PITH_CPU_UMIP           (1ull << 13)

struct pith_untyped_desc {
    uint64_t phys;
    uint8_t size_bits;
    uint8_t is_device;               /* device memory: only frames can be made from it */
    uint8_t pad[6];
};

struct pith_module_desc {
    char name[48];                   /* the GRUB module string */
    uint64_t size;                   /* bytes */
    uint64_t vaddr;                  /* mapped read-only into the root task here */
    uint64_t first_slot;             /* frame capabilities, one per 4 KiB, in order */
    uint64_t frame_count;
};

struct pith_memmap_entry {
    uint64_t base, length;
    uint32_t type;                   /* multiboot2 type: 1 RAM, 2 reserved, 3 ACPI, ... */
    uint32_t pad;
};

struct pith_bootinfo {
    uint64_t magic;
    uint64_t cnode_size_bits;        /* the root CNode has 2^bits slots */
    uint64_t first_free_slot;        /* slots [first_free_slot, 2^bits) are empty */
    uint64_t untyped_first_slot;
    uint64_t untyped_count;
    uint64_t module_count;
    uint64_t memmap_count;
    uint64_t tsc_hz;                 /* measured TSC frequency */
    uint64_t cpu_features;           /* PITH_CPU_* */
    uint64_t cpu_count;              /* CPUs threads run on: 0 … cpu_count-1 */
    uint64_t ipc_buffer;             /* address of the root task's IPC buffer */
    uint64_t kernel_reserved_bytes;  /* RAM the kernel kept for itself and root objects */
    char cmdline[128];               /* kernel command line (a child: its arguments) */
    uint64_t extra_first_slot;       /* a child: capabilities its parent passed, whose */
    uint64_t extra_count;            /* meaning is the program's convention */
    uint64_t args_vaddr;             /* a child: its parent's argument block (read-only), */
    uint64_t args_size;              /* 0 when none */
    struct pith_untyped_desc untyped[PITH_BOOTINFO_UNTYPED];
    struct pith_module_desc modules[PITH_BOOTINFO_MODULES];
    struct pith_memmap_entry memmap[PITH_BOOTINFO_MEMMAP];
    uint64_t cpus_online;            /* CPUs started; threads run on all (= cpu_count) */
    uint64_t irq_controller;         /* PITH_IRQ_CONTROLLER_*: what delivers IRQ lines */
    uint64_t irq_controller_mmio;    /* the I/O APIC's page: the kernel's, no untyped has it */
};
#define PITH_IRQ_CONTROLLER_8259    1
#define PITH_IRQ_CONTROLLER_IOAPIC  2
_Static_assert(sizeof(struct pith_bootinfo) <= 4096, "boot info fits its page");

/* Fixed virtual addresses in the root task (everything else is its own business). */
#define PITH_ROOT_BOOTINFO      0x00007f0000000000ull
#define PITH_ROOT_IPC_BUFFER    0x00007f0000010000ull
#define PITH_ROOT_STACK_TOP     0x00007f0000200000ull   /* 64 KiB below this */
#define PITH_ROOT_MODULES       0x0000100000000000ull
#define PITH_CHILD_ARGS         0x00007f0000100000ull   /* up to 64 KiB */
#define PITH_USER_TOP           0x0000800000000000ull   /* first non-user address */

#include "pith/vm.h"

#endif
