/* A small VMM for the vm_ tests: one vCPU, one guest space, guest code at 0x1000. */
#ifndef KT_VM_H
#define KT_VM_H

#include "ktest.h"
#include <pith/vmexit.h>

#define VM_CODE_GPA 0x1000ull

/* Guest-physical layout the helpers use (each page mapped on demand):
 *   0x0000 real-mode interrupt vector table      0x1000 code (the VM_GUEST blob)
 *   0x2000 data                                  0x3000 GDT (0x3000) and IDT (0x3800)
 *   0x4000..0x6000 long-mode page tables         0x7000 stack page, rsp = 0x8000 */
#define VM_DATA_GPA  0x2000ull
#define VM_SYS_GPA   0x3000ull
#define VM_IDT_GPA   0x3800ull
#define VM_STACK_GPA 0x7000ull

/* Selectors of the GDT that vm_protected / vm_long write at VM_SYS_GPA. */
#define VM_SEL_CODE32 0x08
#define VM_SEL_DATA   0x10
#define VM_SEL_CODE64 0x18

struct kt_vm {
    pith_cap_t vcpu, space, thread, exit_ep;
    pith_cap_t code_frame;
    pith_cap_t last_frame;          /* the frame of the latest vm_map_page */
    uint8_t *code;                  /* the guest page at VM_CODE_GPA, as the test sees it */
    uint8_t *sys;                   /* the page at VM_SYS_GPA once vm_protected mapped it */
    uint8_t *ivt;                   /* the page at 0 once vm_ivt mapped it */
    struct pith_vm_exit exit;
};

/* Guest code assembled into the test image.  VM_GUEST(name, ".code16", "insn\n" ...)
 * defines name[] and name_end[]; each blob is a section of its own, so `.org N` places
 * code at guest address VM_CODE_GPA + N.  Absolute addresses are guest-physical. */
#define VM_GUEST(name, mode, text)                                                     \
    extern const uint8_t name[], name##_end[];                                         \
    __asm__(".pushsection .rodata." #name ",\"a\"\n" mode "\n" #name ":\n" text "\n"  \
            #name "_end:\n.code64\n.popsection\n")
#define VM_CODE(name) name, (size_t)(name##_end - name)

/* Create a vCPU in real mode at 0:1000 with `code` there, ready to run (not resumed). */
bool vm_create(struct pith_test_ctx *ctx, struct kt_vm *vm, const uint8_t *code, size_t length,
               uint64_t exception_bitmap);
/* The same with another transfer mask. */
bool vm_create_mask(struct pith_test_ctx *ctx, struct kt_vm *vm, const uint8_t *code,
                    size_t length, uint64_t exception_bitmap, uint64_t transfer_mask);
/* Another vCPU in the guest space of `other` (nothing mapped), real mode at 0:rip; its
 * own thread and exit endpoint.  vm_destroy leaves the shared space alone. */
bool vm_create_shared(struct pith_test_ctx *ctx, struct kt_vm *vm, const struct kt_vm *other,
                      uint64_t rip);
/* Map another fresh page at gpa; returns the test's view of it. */
uint8_t *vm_map_page(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t gpa, uint64_t rights);
/* Start the vCPU and wait for its first exit. */
bool vm_start(struct pith_test_ctx *ctx, struct kt_vm *vm);
/* Start the vCPU without waiting (for guests that loop). */
bool vm_go(struct pith_test_ctx *ctx, struct kt_vm *vm);
/* Reply (advancing RIP by `advance` and writing the GPR and RIP groups from vm->exit) and
 * wait for the next exit. */
bool vm_resume(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t advance, uint64_t inject);
/* Reply with exactly these groups (from vm->exit), event and windows; wait for the next. */
bool vm_reply(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t mask, uint64_t inject,
              uint64_t error_code, uint64_t windows);
/* On SVM a guest's MOV to DR7 exits (CR_ACCESS with PITH_VM_CR_ACCESS_DR7): completes
 * the `mov %eax, %dr7` (0f 23 f8) of a real-mode test guest as a VMM would and waits for
 * the next exit.  Any other exit is left as it is.  false: not that instruction, or the
 * reply failed. */
bool vm_finish_dr7_write(struct pith_test_ctx *ctx, struct kt_vm *vm);
/* The exit has this reason (the failure names what came instead). */
bool vm_expect_exit(struct pith_test_ctx *ctx, const struct kt_vm *vm, uint64_t reason,
                    const char *what);
/* An I/O exit on `port` (low 16 bits of the qualification). */
bool vm_expect_io(struct pith_test_ctx *ctx, const struct kt_vm *vm, uint16_t port, const char *what);
/* Nothing waits on the exit endpoint (a polling receive finds no sender). */
bool vm_expect_quiet(struct pith_test_ctx *ctx, const struct kt_vm *vm, const char *what);
void vm_destroy(struct kt_vm *vm);

/* Write or read one or more groups with VCpu.WRITE_STATE / READ_STATE. */
bool vm_write(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t mask, const uint64_t *words);
bool vm_read(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t mask, uint64_t *words);

/* Switch the (not yet started) vCPU to 32-bit protected mode, flat segments, a GDT at
 * VM_SYS_GPA, an empty IDT at VM_IDT_GPA, a stack page, rip = VM_CODE_GPA. */
bool vm_protected(struct pith_test_ctx *ctx, struct kt_vm *vm);
/* The same, then long mode: identity-mapped first 2 MiB, 64-bit code segment. */
bool vm_long(struct pith_test_ctx *ctx, struct kt_vm *vm);
/* A 32-bit interrupt gate in the protected-mode IDT. */
void vm_idt32(struct kt_vm *vm, unsigned vector, uint64_t handler);
/* A real-mode interrupt vector (maps the IVT page and a stack page on first use). */
bool vm_ivt(struct pith_test_ctx *ctx, struct kt_vm *vm, unsigned vector, uint16_t ip);

/* Objects of the following vm_create / vm_map_page calls come from this untyped
 * (0: from the test allocator again). */
void vm_use_untyped(pith_cap_t untyped);

/* Block the calling thread for `ms` milliseconds on a notification deadline. */
void vm_sleep_ms(pith_cap_t note, uint64_t ms);
uint64_t vm_tsc_ms(uint64_t ms);

/* The VMCALL instruction of this CPU's vendor (VMCALL on VMX, VMMCALL on SVM). */
void vm_patch_vmcall(uint8_t *at);

/* Where groups sit in an exit message with the default transfer mask (all groups). */
#define VM_MASK       PITH_VM_GROUP_ALL
#define VM_GPR(i)     (pith_vm_group_at(VM_MASK, PITH_VM_GROUP_GPR) + (i))
#define VM_RIP        pith_vm_group_at(VM_MASK, PITH_VM_GROUP_RIP)
#define VM_RFLAGS     (VM_RIP + 1)
#define VM_CR(i)      (pith_vm_group_at(VM_MASK, PITH_VM_GROUP_CR) + (i))
#define VM_SEG(i)     (pith_vm_group_at(VM_MASK, PITH_VM_GROUP_SEG) + (i))
#define VM_DTR(i)     (pith_vm_group_at(VM_MASK, PITH_VM_GROUP_DTR) + (i))
#define VM_SYS(i)     (pith_vm_group_at(VM_MASK, PITH_VM_GROUP_SYS) + (i))
#define VM_INTR(i)    (pith_vm_group_at(VM_MASK, PITH_VM_GROUP_INTR) + (i))
#define VM_TSC        pith_vm_group_at(VM_MASK, PITH_VM_GROUP_TSC)

/* GPR words. */
enum { VM_RAX, VM_RCX, VM_RDX, VM_RBX, VM_RSP, VM_RBP, VM_RSI, VM_RDI, VM_R8 };
/* Segment words: 2 per register, in this order. */
enum { VM_ES, VM_CS, VM_SS, VM_DS, VM_FS, VM_GS, VM_LDTR, VM_TR };
#define VM_SEG_WORD(sel, attr, limit) \
    ((uint64_t)(sel) | ((uint64_t)(attr) << 16) | ((uint64_t)(limit) << 32))

#define VM_CR0_PE 0x1ull
#define VM_CR0_ET 0x10ull
#define VM_CR0_NE 0x20ull
#define VM_CR0_PG 0x80000000ull
#define VM_RFLAGS_IF 0x200ull

#endif
