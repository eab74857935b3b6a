/*
 * The vcpu_arch_* hooks: one table of functions per vendor, chosen at boot (SVM on
 * AMD, VMX on Intel).  The backends live in svm/ and vmx/.
 */
#include "arch.h"
#include "x86.h"

struct vcpu_backend {
    const char *name;
    bool (*init_cpu)(void);
    void (*init)(struct vcpu *v);
    void (*configure)(struct vcpu *v, struct guest_space *gs, uint64_t exception_bitmap);
    void (*run)(struct vcpu *v);
    void (*exit_info)(struct vcpu *v, struct vcpu_exit *e);
    void (*read_group)(struct vcpu *v, unsigned group, uint64_t *out);
    void (*write_group)(struct vcpu *v, unsigned group, const uint64_t *in);
    void (*inject)(struct vcpu *v, uint64_t event, uint64_t error_code);
    void (*request_windows)(struct vcpu *v, uint64_t windows);
    void (*flush_space)(struct guest_space *gs);
    void (*destroy)(struct vcpu *v);
};

bool svm_init_cpu(void);
void svm_init(struct vcpu *v);
void svm_configure(struct vcpu *v, struct guest_space *gs, uint64_t exception_bitmap);
void svm_run(struct vcpu *v);
void svm_exit_info(struct vcpu *v, struct vcpu_exit *e);
void svm_read_group(struct vcpu *v, unsigned group, uint64_t *out);
void svm_write_group(struct vcpu *v, unsigned group, const uint64_t *in);
void svm_inject(struct vcpu *v, uint64_t event, uint64_t error_code);
void svm_request_windows(struct vcpu *v, uint64_t windows);

/* A VMCB is plain memory: nothing of it stays in the CPU. */
static void svm_destroy(struct vcpu *v)
{
    (void)v;
}

static void svm_flush_space(struct guest_space *gs)
{
    (void)gs;   /* the generation check at the next VMRUN flushes the ASID */
}

static const struct vcpu_backend svm = {
    "svm", svm_init_cpu, svm_init, svm_configure, svm_run, svm_exit_info, svm_read_group,
    svm_write_group, svm_inject, svm_request_windows, svm_flush_space,
    svm_destroy,
};

bool vmx_init_cpu(void);
void vmx_init(struct vcpu *v);
void vmx_configure(struct vcpu *v, struct guest_space *gs, uint64_t exception_bitmap);
void vmx_run(struct vcpu *v);
void vmx_exit_info(struct vcpu *v, struct vcpu_exit *e);
void vmx_read_group(struct vcpu *v, unsigned group, uint64_t *out);
void vmx_write_group(struct vcpu *v, unsigned group, const uint64_t *in);
void vmx_inject(struct vcpu *v, uint64_t event, uint64_t error_code);
void vmx_request_windows(struct vcpu *v, uint64_t windows);
void vmx_flush_space(struct guest_space *gs);
void vmx_destroy(struct vcpu *v);

static const struct vcpu_backend vmx = {
    "vmx", vmx_init_cpu, vmx_init, vmx_configure, vmx_run, vmx_exit_info, vmx_read_group,
    vmx_write_group, vmx_inject, vmx_request_windows, vmx_flush_space,
    vmx_destroy,
};

static const struct vcpu_backend *backend;
extern bool vspace_guest_ept;

bool vcpu_arch_init_cpu(void)
{
    const struct vcpu_backend *candidates[] = {
        &svm,
        &vmx,
    };
    for (unsigned i = 0; i < ARRAY_SIZE(candidates); i++) {
        if (candidates[i]->init_cpu()) {
            backend = candidates[i];
            vspace_guest_ept = backend == &vmx;     /* guest tables: EPT, else NPT */
            return true;
        }
    }
    return false;
}

const char *vcpu_arch_name(void) { return backend->name; }
void vcpu_arch_init(struct vcpu *v) { backend->init(v); }
void vcpu_arch_configure(struct vcpu *v, struct guest_space *gs, uint64_t exc) { backend->configure(v, gs, exc); }
void vcpu_arch_exit_info(struct vcpu *v, struct vcpu_exit *e) { backend->exit_info(v, e); }
void vcpu_arch_read_group(struct vcpu *v, unsigned g, uint64_t *out) { backend->read_group(v, g, out); }
void vcpu_arch_write_group(struct vcpu *v, unsigned g, const uint64_t *in) { backend->write_group(v, g, in); }
void vcpu_arch_inject(struct vcpu *v, uint64_t event, uint64_t error) { backend->inject(v, event, error); }
void vcpu_arch_request_windows(struct vcpu *v, uint64_t w) { backend->request_windows(v, w); }
void vcpu_arch_destroy(struct vcpu *v) { backend->destroy(v); }
void arch_guest_space_flush(struct guest_space *gs) { if (backend) backend->flush_space(gs); }

void vcpu_arch_run(struct vcpu *v)
{
    backend->run(v);
    panic("vCPU backend returned from entering the guest");
}

/* Host interrupts wait while a guest runs; after its exit they are let in here, on the
 * kernel stack, exactly as if they had arrived while the kernel idled. */
void arch_take_interrupts(void)
{
    __asm__ volatile("sti; nop; cli" ::: "memory");
}
