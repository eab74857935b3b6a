/* A small VMM for the vm_ tests: one vCPU, one guest space, guest code at 0x1000. */
#ifndef KT_VM_H
#define KT_VM_H

#include "ktest.h"
#include <pith/vmexit.h>

#define VM_CODE_GPA 0x1000ull

struct kt_vm {
    pith_cap_t vcpu, space, thread, exit_ep;
    pith_cap_t code_frame;
    uint8_t *code;                  /* the guest page at VM_CODE_GPA, as the test sees it */
    struct pith_vm_exit exit;
};

/* Create a vCPU in real mode at 0:1000 with `code` there, ready to run (not resumed). */
bool vm_create(struct pith_test_ctx *ctx, struct kt_vm *vm, const uint8_t *code, size_t length,
               uint64_t exception_bitmap);
/* Map another fresh page at gpa; returns the test's view of it. */
uint8_t *vm_map_page(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t gpa, uint64_t rights);
/* Start the vCPU and wait for its first exit. */
bool vm_start(struct pith_test_ctx *ctx, struct kt_vm *vm);
/* Reply (advancing RIP by `advance` and writing the GPR and RIP groups from vm->exit) and
 * wait for the next exit. */
bool vm_resume(struct pith_test_ctx *ctx, struct kt_vm *vm, uint64_t advance, uint64_t inject);
void vm_destroy(struct kt_vm *vm);

/* Where groups sit in an exit message with the default transfer mask (all groups). */
#define VM_MASK       PITH_VM_GROUP_ALL
#define VM_GPR(i)     (pith_vm_group_at(VM_MASK, PITH_VM_GROUP_GPR) + (i))
#define VM_RIP        pith_vm_group_at(VM_MASK, PITH_VM_GROUP_RIP)
#define VM_RFLAGS     (VM_RIP + 1)
#define VM_CR(i)      (pith_vm_group_at(VM_MASK, PITH_VM_GROUP_CR) + (i))
#define VM_SEG(i)     (pith_vm_group_at(VM_MASK, PITH_VM_GROUP_SEG) + (i))
#define VM_DTR(i)     (pith_vm_group_at(VM_MASK, PITH_VM_GROUP_DTR) + (i))

#endif
