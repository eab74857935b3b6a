/*
 * Instructions the VMM finishes for the guest: an MMIO access (the instruction at
 * CS:RIP fetched through the guest's page tables, decoded and performed by
 * x86/x86_decode.h against the device window), and a control-register access that
 * exited (VMX: a MOV to CR0 or CR4 that changes a bit the host owns, CLTS, LMSW).
 */
#ifndef VMM_EMULATE_H
#define VMM_EMULATE_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

enum emulate_result {
    EMULATE_DONE,                   /* registers updated, RIP past the instruction */
    EMULATE_AGAIN,                  /* one REP element done: RIP stays */
    EMULATE_FAULT,                  /* an exception to inject is in *event, *error_code */
    EMULATE_FAILED,                 /* cannot be emulated: the guest is stopped */
};

/* The MMIO access at guest-physical gpa; write: the exit was a write. */
enum emulate_result emulate_mmio(struct vm *vm, uint64_t gpa, bool write, uint64_t *event,
                                 uint64_t *error_code);

/* INS/OUTS (with or without REP) on `port`, size bytes per element: up to 256
 * elements per exit, the memory side through the guest's page tables. */
enum emulate_result emulate_string_io(struct vm *vm, uint16_t port, unsigned size, bool in, bool rep,
                                      uint64_t *event, uint64_t *error_code);

/* A CR_ACCESS exit. */
enum emulate_result emulate_cr_access(struct vm *vm, uint64_t *event, uint64_t *error_code);

/* size bytes at a linear address of the vCPU whose exit is handled, through its page
 * tables, page by page.  false: the exception to inject is in *event and *error_code
 * (#PF as the walk found it, #GP for what is not RAM); part may have been written. */
bool vm_linear_access(struct vm *vm, uint64_t linear, void *buf, unsigned size, bool write, uint64_t *event,
                      uint64_t *error_code);

/* The device window at a port or a guest-physical address, if any (NULL: nothing). */
const struct device_window *vm_port_window(struct vm *vm, uint16_t port, struct device_window *scratch);
const struct device_window *vm_mmio_window(struct vm *vm, uint64_t gpa, struct device_window *scratch);

/* Accesses to a window, or to nothing (reads all ones, writes vanish). */
uint64_t vm_device_read(const struct device_window *w, uint64_t address, unsigned size);
void vm_device_write(const struct device_window *w, uint64_t address, unsigned size, uint64_t value);

#endif
