/*
 * The generic kernel's types and the functions each object file offers the others.
 * One object type per file: cap.c (capabilities and the derivation tree), cnode.c,
 * untyped.c, thread.c, endpoint.c, notification.c, vspace.c, irq.c, ioport.c;
 * sched.c schedules, syscall.c dispatches, boot.c builds the root task.
 */
#ifndef KERNEL_H
#define KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <pith/abi.h>

typedef uint64_t word_t;

#define PHYSMAP_BASE    0xffff800000000000ull
#define KERNEL_BASE     0xffffffff80000000ull
#define PHYSMAP_MAX     (512ull << 30)  /* the physmap is one PML4 entry: RAM beyond is unused */
#define PAGE_SIZE       4096ull
#define LARGE_PAGE_SIZE (2ull << 20)

static inline void *phys_to_virt(uint64_t pa) { return (void *)(pa + PHYSMAP_BASE); }
static inline uint64_t virt_to_phys(const void *va)
{
    uint64_t v = (uint64_t)va;
    return v >= KERNEL_BASE ? v - KERNEL_BASE : v - PHYSMAP_BASE;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BIT(n) ((uint64_t)1 << (n))
#define NORETURN __attribute__((noreturn))

/* ---- Capabilities ------------------------------------------------------------------
 * A slot is 64 bytes. The capability proper (type .. data2) is what copy and move
 * carry; prev/next thread every capability into one list in derivation order (a
 * capability's descendants are the entries after it with greater depth, seL4's MDB);
 * owner is a property of the slot: the thread whose internal slot this is. */
struct thread;
struct invocation;

struct cap {
    uint8_t type;
    uint8_t rights;
    uint16_t depth;
    uint32_t aux;           /* per type: size bits, flags (see cap.h helpers) */
    uint64_t object;        /* kernel virtual address of the object */
    uint64_t data;          /* badge; untyped watermark; mapped address; port range */
    uint64_t data2;         /* ASID of the address space a frame or table is mapped in */
    struct cap *prev, *next;
    struct thread *owner;
    uint64_t reserved;
};
_Static_assert(sizeof(struct cap) == 64, "a CNode slot is 64 bytes");

/* aux bits */
#define CAP_AUX_SIZE_MASK   0xffu       /* size bits: untyped, cnode, frame */
#define CAP_AUX_DEVICE      BIT(8)      /* untyped or frame of device memory */
#define CAP_AUX_MAPPED      BIT(9)      /* frame or table is mapped (data, data2) */
#define CAP_AUX_CLEARING    BIT(10)     /* untyped: a retype stopped while zeroing */
#define CAP_AUX_PIECE       BIT(11)     /* 2 MiB frame mapped as one 4 KiB piece ... */
#define CAP_AUX_PIECE_OFFSET 0x1ff000u  /* ... this far into it (PITH_ATTR_PIECE) */
/* What records a mapping: set and cleared as one, so nothing keeps a piece's bits (a
 * whole mapping looked for as a piece would never be removed). */
#define CAP_AUX_MAPPING     (CAP_AUX_MAPPED | CAP_AUX_PIECE | CAP_AUX_PIECE_OFFSET)

static inline unsigned cap_size_bits(const struct cap *c) { return c->aux & CAP_AUX_SIZE_MASK; }
static inline bool cap_is_empty(const struct cap *c) { return c->type == PITH_CAP_NULL; }
static inline uint64_t cap_phys(const struct cap *c) { return c->object - PHYSMAP_BASE; }

/* How deep derivation may go: a copy of a capability at this depth is refused
 * (PITH_E_RANGE), so depths never wrap, and finding a leaf below any capability takes
 * at most this many steps (cap_revoke). */
#define CAP_DEPTH_MAX 1024u
static inline bool cap_can_derive_from(const struct cap *parent) { return parent->depth < CAP_DEPTH_MAX; }

/* cap.c: the derivation tree.  Pure logic, also built for the host tests. */
void cap_insert_child(struct cap *parent, struct cap *slot, const struct cap *value);
void cap_insert_root(struct cap *slot, const struct cap *value);
void cap_move(struct cap *dest, struct cap *src);
bool cap_has_children(const struct cap *c);
bool cap_is_final(const struct cap *c);
bool cap_same_object(const struct cap *a, const struct cap *b);
bool cap_derivable(const struct cap *c);
void cap_prepare_copy(struct cap *value);
void cap_unlink(struct cap *c);
int cap_delete(struct cap *c);
int cap_revoke(struct cap *c);
/* Kernel-internal result of a long operation that stopped at a preemption point: the
 * system call is restarted from the beginning when the thread runs again. */
#define KERNEL_RESTART 1000
/* Whether a long operation should stop here and let another thread run (sched.c). */
bool preemption_point(void);

/* Zombies: objects whose last capability is gone but which still hold capabilities
 * (a CNode's slots, a thread's own slots) or threads (an endpoint's or notification's
 * waiters).  Their slots are deleted, and their waiters woken, later, one at a time
 * with preemption points, so destruction has no recursion, no depth limit and no step
 * whose length a task sets by how many threads it makes wait.  The link lives in the
 * object itself (slot 0 of a CNode, a field of a thread, endpoint or notification).
 * Memory is never handed out again while a zombie may lie in it: retype reaps first. */
struct zombie {
    struct zombie *next;
    struct cap *slots;                      /* slots to delete, or NULL: */
    struct thread **waiters;                /*   the head of a queue whose threads wake */
    uint32_t count, next_slot;
};
void zombie_add(struct zombie *z, struct cap *slots, uint32_t count);
void zombie_add_waiters(struct zombie *z, struct thread **head);
bool zombies_reap(void);            /* false: stopped at a preemption point */
extern struct zombie *zombies;
static inline bool zombies_pending(void) { return zombies != NULL; }

/* Called by cap_delete when the last capability to an object goes (kernel only). */
void object_destroy(const struct cap *last);
void object_slot_cleared(struct cap *slot);

/* ---- Threads ------------------------------------------------------------------------ */
struct user_regs {          /* the order the entry code pushes them (entry.S) */
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;  /* the CPU's interrupt frame */
};
_Static_assert(sizeof(struct user_regs) == 22 * 8, "entry.S");
#define VECTOR_SYSCALL  0x100   /* entered through SYSCALL: may leave through SYSRET */

enum thread_state {
    THREAD_INACTIVE = 0,
    THREAD_RUNNABLE,
    THREAD_BLOCKED_SEND,
    THREAD_BLOCKED_RECV,
    THREAD_BLOCKED_REPLY,
    THREAD_BLOCKED_NOTIFICATION,
};

enum thread_slot { TSLOT_CSPACE, TSLOT_VSPACE, TSLOT_IPC_BUFFER, TSLOT_FAULT, TSLOT_COUNT };

struct notification;
struct vcpu;

/* A thread's kernel-console output is written a line at a time (syscall.c). */
#define THREAD_CONSOLE_LINE 160

struct thread {
    struct user_regs regs;
    uint8_t fpu[512] __attribute__((aligned(16)));
    struct cap slots[TSLOT_COUNT];
    uint64_t fs_base, gs_base;
    uint64_t ipc_buffer_vaddr;
    struct pith_ipc_buffer *ipc_buffer;     /* kernel view, NULL when none */
    struct thread *qnext, *qprev;           /* ready queue or an object's wait queue */
    void *blocked_on;                       /* endpoint or notification */
    uint64_t blocked_badge;
    struct thread *caller;                  /* whom our next Reply goes to */
    struct thread *replier;                 /* who holds our reply, when BLOCKED_REPLY */
    struct notification *bound;
    struct vcpu *vcpu;
    uint64_t fault_mr[4];                   /* the fault message while fault_label != 0 */
    struct zombie zombie;                   /* its slots wait for deletion (cap.c) */
    uint64_t slice_used;                    /* TSC cycles run in its timeslice (sched.c) */
    char console_line[THREAD_CONSOLE_LINE]; /* its DEBUG_PUTC bytes since its last '\n' */
    uint8_t console_used;
    uint8_t fault_label;
    uint8_t state, priority, mcp, cpu;
    uint8_t blocked_call, blocked_grant, in_ready_queue;
};
#define THREAD_OBJECT_BITS PITH_THREAD_BITS
_Static_assert(sizeof(struct thread) <= (1u << THREAD_OBJECT_BITS), "TCB fits its object");

/* ---- IPC objects -------------------------------------------------------------------- */
enum endpoint_state { EP_IDLE, EP_SENDING, EP_RECEIVING };
struct endpoint {
    struct thread *head, *tail;
    uint64_t state;
    struct zombie zombie;                   /* destroyed with waiters: they wake later */
};
_Static_assert(sizeof(struct endpoint) <= (1u << PITH_ENDPOINT_BITS), "an endpoint fits its object");
struct notification {
    uint64_t word;
    struct thread *head, *tail;             /* waiters */
    union {
        struct {
            struct thread *bound;
            uint64_t deadline;              /* TSC, 0 = none */
            struct notification *dl_left, *dl_right, *dl_parent;   /* in the deadline tree */
        };
        struct zombie zombie;               /* once destroyed, unbound and out of the tree */
    };
};
_Static_assert(sizeof(struct notification) <= (1u << PITH_NOTIFICATION_BITS), "a notification fits its object");

/* deadline.c: the armed deadlines, earliest first (a notification is in the tree while
 * its deadline is not 0). */
struct deadline_tree {
    struct notification *root, *first;
    uint64_t secret;                        /* drawn at boot: the nodes' priorities */
};
/* n's deadline becomes tsc (0: none), in the tree or out of it. */
void deadline_tree_set(struct deadline_tree *t, struct notification *n, uint64_t tsc);
#define ENDPOINT_OBJECT_BITS PITH_ENDPOINT_BITS
#define NOTIFICATION_OBJECT_BITS PITH_NOTIFICATION_BITS

/* ---- Address spaces ------------------------------------------------------------------ */
#define ASID_COUNT 4096
struct address_space {
    uint64_t pml4[512];
    uint8_t io_bitmap[8192];                /* 1 = port denied (SDM 20.5.2) */
    uint32_t asid;
    uint32_t io_ports_open;                 /* number of ports allowed */
};
#define ADDRESS_SPACE_OBJECT_BITS PITH_ADDRESS_SPACE_BITS

/* ---- Virtualization ------------------------------------------------------------------
 * A VCpu object is 32 KiB, laid out by the arch backend (the hardware's control
 * structure and bitmaps, and struct vcpu: vcpu_of_object in arch.h).  A GuestSpace is
 * 8 KiB: the top-level guest page table (its format is the backend's), then struct
 * guest_space. */
#define VCPU_OBJECT_BITS        15
#define GUEST_SPACE_OBJECT_BITS 13

/* The checked groups of pith/vm.h, as a VMM wrote them (arch/x86_64/guest_state.c). */
struct guest_state_words {
    uint64_t rip[2], cr[6], seg[16], dtr[4], sys[9], dr[5];
};

/* What generic code keeps of a vCPU; `arch` belongs to the backend alone (guest
 * registers the hardware does not hold, the loaded guest space, TLB tag, launch
 * state...), each backend asserting that its state fits. */
#define VCPU_ARCH_WORDS 48
struct vcpu {
    struct thread *thread;                  /* the vCPU thread, NULL when unbound */
    uint64_t arch[VCPU_ARCH_WORDS];         /* the backend's (entry code uses offset 8) */
    uint64_t transfer_mask;
    uint64_t options;                       /* PITH_VM_OPTION_* of VCpu.CONFIGURE */
    uint64_t exception_bitmap;
    uint64_t msg[PITH_MSG_MAX];             /* the exit message while it is delivered */
    uint32_t msg_length;
    bool recall_pending;
    bool before_entry;                      /* the last exit came before the guest ran: */
    uint64_t withheld;                      /*   the event it took back (vcpu.c) */
    bool reply_pending;                     /* reply[] waits to be written back (vcpu.c) */
    uint64_t reply_info;
    uint64_t reply[PITH_MSG_MAX];
    uint64_t unchecked;                     /* groups written since the last state check, */
    struct guest_state_words written;       /*   their words as written */
    uint64_t refused;                       /* PITH_VM_REFUSED_* of a refused reply, 0 = none */
    struct vcpu_port {                      /* VCpu.SET_PORT; kind PITH_VM_PORT_EXIT = free */
        uint16_t port;
        uint8_t kind, value;
    } ports[PITH_VM_PORT_SHORTCUTS];
    uint8_t ports_used;                     /* how many of ports[] are not EXIT */
    uint16_t buffered_port;                 /* the port the bytes of buffered[] went to */
    uint64_t buffered_since;                /* arch_timestamp() of the first of them */
    uint8_t buffered_count;
    uint8_t buffered[PITH_VM_PORT_BUFFER_BYTES];
    uint8_t cpuid_count;                    /* VCpu.SET_CPUID: cpuid[0 .. count-1] */
    struct vcpu_cpuid {
        uint32_t first, last;               /* the leaves, inclusive */
        uint32_t answer[4];                 /* EAX, EBX, ECX, EDX */
    } cpuid[PITH_VM_CPUID_SHORTCUTS];
    uint8_t msrs_used;                      /* how many of msrs[] are taken */
    struct vcpu_msr {                       /* VCpu.SET_MSR; kind PITH_VM_MSR_EXIT = free */
        uint32_t index;
        uint32_t kind;
        uint64_t value;                     /* EDX:EAX */
    } msrs[PITH_VM_MSR_SHORTCUTS];
};

struct guest_space {
    uint64_t table[512];
    uint32_t asid;
    uint64_t generation;                    /* bumped when a mapping goes away (64 bits: a
                                               VMM's unmaps never bring it back to a value
                                               a waiting vCPU flushed at) */
    uint32_t cpus_entered;                  /* bit i: a vCPU entered it on CPU i, so that
                                               CPU's TLB may hold its translations */
};

/* vcpu.c */
void vcpu_init(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);
void vcpu_unbind_thread(struct thread *t);
int vcpu_invoke(struct invocation *inv);
NORETURN void vcpu_enter(struct vcpu *v);
NORETURN void vcpu_exited(struct vcpu *v);
/* The CPU refused an entry (a backend's exit information): the event that was to be
 * injected comes back in the INTR group, as at a RECALL. */
void vcpu_entry_refused(struct vcpu *v);
void vcpu_take_reply(struct vcpu *v, struct thread *replier);
void vcpu_boot(void);
void vcpu_boot_ap(void);
bool vcpu_available(void);
bool vcpu_may_run_on(unsigned cpu);
/* guest_space.c */
void guest_space_init(struct guest_space *gs);
void guest_space_destroy(struct guest_space *gs);

/* ---- Per-CPU state (entry.S uses the first four fields by offset) -------------------- */
struct sched_queues {
    struct thread *head[256], *tail[256];
    uint64_t bitmap[4];         /* bit p: priority p has a runnable thread */
    uint64_t summary;           /* bit w: bitmap[w] is not zero */
};

#define MAX_CPUS 16
_Static_assert(MAX_CPUS <= 32, "struct guest_space.cpus_entered has a bit per CPU");
struct cpu_tables;              /* descriptor tables and stacks (arch/x86_64/cpu.c) */

/* Each CPU's GS base points at its struct cpu while it runs in the kernel. */
struct cpu {
    struct cpu *self;           /* 0: this_cpu() reads it through %gs */
    uint64_t kernel_stack_top;  /* 8 */
    uint64_t user_rsp;          /* 16: scratch during SYSCALL entry */
    uint64_t current_regs_top;  /* 24: where entry pushes the current thread's frame */
    struct thread *current;     /* NULL while idle */
    struct thread *charged;     /* who pays for the time since charged_since (sched.c) */
    uint64_t charged_since;
    struct thread *fpu_owner;
    struct address_space *loaded_space;
    struct address_space *io_bitmap_of;     /* whose bitmap the TSS holds */
    uint64_t loaded_fs_base, loaded_gs_base;
    struct thread *bases_of;    /* whose they are: that thread may have changed them since;
                                 * NULL: they are the values (cpu.c, arch_load_thread) */
    struct sched_queues ready;
    struct deadline_tree deadlines;         /* only CPU 0's is used */
    uint64_t next_tick;
    uint64_t timer_armed;                   /* the TSC value its timer is armed for */
    struct cpu_tables *tables;
    uint32_t id;                /* index in cpus[]; 0 is the bootstrap processor */
    uint32_t apic_id;
    uint32_t online;            /* set once by the CPU itself (smp.c) */
    uint64_t vm_arch[12];       /* the virtualization backend's (its host state, tags) */
    uint32_t requests;          /* CPU_REQUEST_*: posted by the lock holder, cleared when done */
    bool idle;                  /* idling without the big lock (sched.c, trap.c) */
    bool vm_ready;              /* VMX or SVM is on here: vCPU threads may run on it */
    bool x87_load_races;        /* an x87 state load here may undo CPU 0's own (cpu.c) */
    uint64_t contended_since;   /* when a long operation here saw another CPU wait (sched.c), */
    uint32_t contended_serving; /*   in the hold of the lock whose ticket this is */
};
_Static_assert(offsetof(struct cpu, self) == 0, "this_cpu() and entry.S");
_Static_assert(offsetof(struct cpu, kernel_stack_top) == 8, "entry.S, svm_entry.S, vmx_entry.S");
_Static_assert(offsetof(struct cpu, user_rsp) == 16, "entry.S");
_Static_assert(offsetof(struct cpu, current_regs_top) == 24, "entry.S");
_Static_assert(offsetof(struct cpu, current) == 32, "entry.S");
_Static_assert(PITH_SYS_CALL == 1 && PITH_SYS_REPLY_RECV == 2, "entry.S");

extern struct cpu cpus[MAX_CPUS];
extern unsigned cpus_online;

/* The big kernel lock (smp.c): every entry from user mode or a guest takes it, every
 * exit to user mode or a guest and the idle loop release it.  While a CPU waits for it
 * (interrupts off) it carries out the requests the holder posts in its `requests`. */
void kernel_lock(void);
void kernel_lock_wait(uint32_t ticket);     /* kernel_lock's slow half (entry.S too) */
/* The big kernel lock's tickets (arch/x86_64/smp.c).  Unlocking is written inline: it
 * is on every way back to user mode, and only the holder ever writes `serving`. */
struct kernel_lock_state {
    uint32_t next_ticket;
    uint32_t serving;
};
extern struct kernel_lock_state big_lock;
_Static_assert(offsetof(struct kernel_lock_state, serving) == 4, "entry.S");
static inline __attribute__((always_inline)) void kernel_unlock(void)
{
    __atomic_store_n(&big_lock.serving, big_lock.serving + 1, __ATOMIC_RELEASE);
}
void kernel_unlock_from_asm(void);     /* the same, called by the world-switch stubs */
/* What the lock holder may ask another CPU to do (it waits until the CPU has):  */
#define CPU_REQUEST_SAVE_FPU        BIT(0)  /* save the FPU owner's state and drop it */
#define CPU_REQUEST_FLUSH_TLB       BIT(1)  /* flush the TLB of its address space */
#define CPU_REQUEST_KERNEL_SPACE    BIT(2)  /* load the kernel's page tables only */
#define CPU_REQUEST_RELOAD_IO       BIT(3)  /* copy the I/O bitmap again before leaving */
#define CPU_REQUEST_ENTER_KERNEL    BIT(4)  /* nothing: only be out of user mode or a guest */
#define CPU_REQUEST_VM              BIT(5)  /* what the VMX/SVM backend left in vm_arch:
                                               release a vCPU's VMCS, flush a guest space */
void smp_post(struct cpu *c, uint32_t what);    /* post and send the IPI */
void smp_wait(struct cpu *c, uint32_t what);    /* until c has done it */
void smp_request(struct cpu *c, uint32_t what); /* both */
void smp_reschedule(struct cpu *c);             /* an IPI: c enters the kernel and chooses */

/* The GS base of a CPU never changes while it runs in the kernel, so the compiler may
 * keep the result.  Only code that runs with the kernel's GS base may call this: not
 * the NMI, #DF and #MC handlers (entry.S). */
static inline struct cpu *this_cpu(void)
{
    struct cpu *c;
    __asm__("mov %%gs:0, %0" : "=r"(c));
    return c;
}

/* ---- sched.c -------------------------------------------------------------------------- */
void schedq_push_back(struct sched_queues *q, struct thread *t);
void schedq_push_front(struct sched_queues *q, struct thread *t);
void schedq_remove(struct sched_queues *q, struct thread *t);
struct thread *schedq_highest(const struct sched_queues *q);
/* The highest priority with a runnable thread; the queues must not be empty. */
static inline unsigned schedq_highest_priority(const struct sched_queues *q)
{
    /* 63 ^ clz is the index of the highest set bit: one BSR each */
    unsigned w = 63 ^ (unsigned)__builtin_clzll(q->summary);
    return w << 6 | (63 ^ (unsigned)__builtin_clzll(q->bitmap[w]));
}
void sched_make_runnable(struct thread *t);
void sched_block(struct thread *t, enum thread_state state);
void sched_remove(struct thread *t);
void sched_tick(void);
void sched_yield(void);
void sched_recall(struct thread *t);
void sched_migrate(struct thread *t, unsigned cpu);
NORETURN void sched_return_to_user(void);
NORETURN void sched_switch_to(struct thread *t);
#define TIMESLICE_TICKS 5
#define TICK_NS 1000000ull

/* ---- thread.c ------------------------------------------------------------------------- */
void thread_init(struct thread *t);
void thread_destroy(struct thread *t);
void thread_suspend(struct thread *t);
void thread_set_result(struct thread *t, uint64_t error);
struct cap *thread_cspace_lookup(struct thread *t, uint64_t cptr, int *err);
struct cap *thread_cspace_empty_slot(struct thread *t, uint64_t cptr, int *err);
uint64_t thread_mr(const struct thread *t, unsigned i);
void thread_set_mr(struct thread *t, unsigned i, uint64_t v);
void thread_slot_cleared(struct thread *t, struct cap *slot);
void thread_user_fault(struct thread *t, uint64_t vector, uint64_t error, uint64_t addr);
void thread_wake_with_error(struct thread *t, uint64_t error);
void thread_wait_deleted(struct thread *t);

/* ---- endpoint.c / notification.c ----------------------------------------------------- */
void endpoint_send(struct endpoint *ep, struct thread *sender, uint64_t badge,
                   bool grant, bool call, bool block);
void endpoint_receive(struct endpoint *ep, struct thread *receiver, bool block);
void endpoint_destroy(struct endpoint *ep);
void endpoint_cancel(struct thread *t);
int ipc_reply_to_caller(struct thread *replier);
bool ipc_transfer(struct thread *from, struct thread *to, uint64_t badge, bool grant);
void notification_signal(struct notification *n, uint64_t bits);
void notification_wait(struct notification *n, struct thread *t, bool block);
void notification_cancel(struct thread *t);
void notification_destroy(struct notification *n);
void notification_unbind(struct notification *n);
void notification_check_deadlines(uint64_t now);
uint64_t notification_earliest_deadline(void);
int notification_set_deadline(struct notification *n, uint64_t tsc);

/* ---- Invocations: decode (validate, change nothing) then perform ----------------------- */
struct invocation {
    struct thread *caller;
    struct cap *cap;            /* the invoked capability */
    uint64_t label, length;
    unsigned reply_length;
};
static inline uint64_t inv_arg(const struct invocation *inv, unsigned i)
{
    return i < inv->length ? thread_mr(inv->caller, i) : 0;
}
int untyped_invoke(struct invocation *inv);
int cnode_invoke(struct invocation *inv);
int thread_invoke(struct invocation *inv);
int vspace_invoke(struct invocation *inv);
int notification_invoke(struct invocation *inv);
int irq_invoke(struct invocation *inv);
int ioport_invoke(struct invocation *inv);
/* Look up a capability argument in the caller's space: right type, right rights. */
struct cap *inv_cap_arg(struct invocation *inv, unsigned mr, unsigned type, unsigned rights,
                        int *err);
/* Replies of invocations: the kernel fills MRs and a length. */
void inv_reply(struct invocation *inv, unsigned length);

/* cnode.c */
struct cap *cnode_slot(const struct cap *cnode, uint64_t index, int *err);
void cnode_destroy(struct cap *slots, unsigned size_bits);

/* untyped.c: retype arithmetic, pure */
int object_size_bits(unsigned type, unsigned user_bits, unsigned *out);
uint64_t untyped_place(uint64_t watermark, unsigned obj_bits, uint64_t count,
                       unsigned untyped_bits, bool *fits);

/* vspace.c */
void vspace_init(struct address_space *as);
uint64_t vspace_asids_free(void);
void object_init(struct cap *c);
int object_invoke(struct invocation *inv);
void vspace_destroy(struct address_space *as);
void vspace_unmap_cap(struct cap *c);
struct address_space *vspace_of_thread(const struct thread *t);
extern uint64_t kernel_pml4_upper[256];

/* ioport.c */
void io_bitmap_set(uint8_t *map, unsigned first, unsigned last, bool open);

/* irq.c */
void irq_handle(unsigned line);
void irq_handler_deleted(const struct cap *c);
void irq_notification_destroyed(struct notification *n);

/* trap.c */
void timer_reprogram(void);

/* fastpath.c */
/* Call and ReplyRecv: switch to the partner at once, or pass the call to syscall_slow.
 * Neither returns (not declared NORETURN so the compiler may jump to them). */
void fastpath_call(struct thread *t);
struct thread *fastpath_exit_partner(const struct endpoint *ep);
NORETURN void fastpath_exit_switch(struct thread *t, struct endpoint *ep);
void fastpath_reply_recv(struct thread *t);

/* syscall.c: every system call the fast paths do not take (does not return) */
void syscall_slow(struct thread *t);
/* What a thread wrote to the kernel console since its last newline, written out. */
void thread_console_flush(struct thread *t);

/* boot.c */
NORETURN void kernel_main(uint32_t magic, uint32_t info_phys);

/* lib.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kwarn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* rate-limited */
NORETURN void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
