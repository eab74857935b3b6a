/* What the benchmark files share (main.c has the definitions). */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <pith/abi.h>
#include <pith/syscall.h>

extern const struct pith_bootinfo *bi;
/* True when the command line says `wall`: QEMU runs without -icount, figures are
 * wall-clock nanoseconds and only the VM-exit benchmarks run. */
extern bool wall_clock;

pith_cap_t new_object(enum pith_object_type type, uint64_t bits);
/* Map frame at vaddr in space (an address space or a guest space), creating the page
 * tables it needs. */
enum pith_error map_in(pith_cap_t space, pith_cap_t frame, uint64_t vaddr, uint64_t rights);
/* A free stretch of this program's address space for a temporary mapping. */
uint64_t scratch_vaddr(void);
/* TSC ticks to nanoseconds per round, rounded (instructions under -icount shift=0). */
uint64_t per_round_ns(uint64_t ticks, uint64_t rounds);

void bench_vm_exits(void);

#endif
