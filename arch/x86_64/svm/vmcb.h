/* VMCB offsets (AMD APM Vol. 2, Appendix B): control area, then the state save area
 * at 0x400.  Accessed by offset so the layout reads like the manual's table. */
#ifndef SVM_VMCB_H
#define SVM_VMCB_H

#define VMCB_INTERCEPT_CR       0x000   /* u32: reads 0..15, writes 16..31 */
#define VMCB_INTERCEPT_DR       0x004   /* u32: reads 0..15, writes 16..31 */
#define VMCB_INTERCEPT_EXC      0x008   /* u32: exception vectors */
#define VMCB_INTERCEPT_MISC1    0x00c
#define VMCB_INTERCEPT_MISC2    0x010
#define VMCB_IOPM_BASE          0x040
#define VMCB_MSRPM_BASE         0x048
#define VMCB_TSC_OFFSET         0x050
#define VMCB_ASID               0x058   /* u32 */
#define VMCB_TLB_CONTROL        0x05c   /* u8: TLB_FLUSH_* */
#define VMCB_INT_CTL            0x060   /* V_TPR, V_IRQ (bit 8), V_GIF (9), V_IGN_TPR (20),
                                         * V_INTR_MASKING (24), V_GIF_ENABLE (25), vector (32..39) */
#define INT_CTL_V_GIF           (1ull << 9)
#define INT_CTL_V_GIF_ENABLE    (1ull << 25)
#define VMCB_INT_SHADOW         0x068
#define VMCB_EXITCODE           0x070
#define VMCB_EXITINFO1          0x078
#define VMCB_EXITINFO2          0x080
#define VMCB_EXITINTINFO        0x088
#define VMCB_NP_ENABLE          0x090
#define VMCB_EVENTINJ           0x0a8
#define VMCB_N_CR3              0x0b0
#define VMCB_CLEAN              0x0c0
#define VMCB_NRIP               0x0c8

#define VMCB_ES                 0x400   /* segments: u16 selector, u16 attributes, u32 limit, u64 base */
#define VMCB_CS                 0x410
#define VMCB_SS                 0x420
#define VMCB_DS                 0x430
#define VMCB_FS                 0x440
#define VMCB_GS                 0x450
#define VMCB_GDTR               0x460
#define VMCB_LDTR               0x470
#define VMCB_IDTR               0x480
#define VMCB_TR                 0x490
#define VMCB_CPL                0x4cb
#define VMCB_EFER               0x4d0
#define VMCB_CR4                0x548
#define VMCB_CR3                0x550
#define VMCB_CR0                0x558
#define VMCB_DR7                0x560
#define VMCB_DR6                0x568
#define VMCB_RFLAGS             0x570
#define VMCB_RIP                0x578
#define VMCB_RSP                0x5d8
#define VMCB_RAX                0x5f8
#define VMCB_STAR               0x600
#define VMCB_LSTAR              0x608
#define VMCB_CSTAR              0x610
#define VMCB_SFMASK             0x618
#define VMCB_KERNEL_GS_BASE     0x620
#define VMCB_SYSENTER_CS        0x628
#define VMCB_SYSENTER_ESP       0x630
#define VMCB_SYSENTER_EIP       0x638
#define VMCB_CR2                0x640
#define VMCB_G_PAT              0x668

/* TLB_CONTROL (APM 15.16.1): nothing, every ASID's entries, this guest's ASID's. */
#define TLB_FLUSH_NOTHING   0
#define TLB_FLUSH_ALL       1
#define TLB_FLUSH_GUEST     3

#define VECTOR_MC           18      /* machine check: always the host's */

/* Intercept bits (APM Table B-1). */
#define MISC1_INTR          (1u << 0)
#define MISC1_NMI           (1u << 1)
#define MISC1_SMI           (1u << 2)
#define MISC1_INIT          (1u << 3)
#define MISC1_VINTR         (1u << 4)
#define MISC1_RDPMC         (1u << 15)
#define MISC1_CPUID         (1u << 18)
#define MISC1_INVD          (1u << 22)
#define MISC1_HLT           (1u << 24)
#define MISC1_INVLPGA       (1u << 26)
#define MISC1_IOIO          (1u << 27)
#define MISC1_MSR           (1u << 28)
#define MISC1_TASK_SWITCH   (1u << 29)
#define MISC1_SHUTDOWN      (1u << 31)
#define MISC2_VMRUN         (1u << 0)
#define MISC2_VMMCALL       (1u << 1)
#define MISC2_VMLOAD        (1u << 2)
#define MISC2_VMSAVE        (1u << 3)
#define MISC2_STGI          (1u << 4)
#define MISC2_CLGI          (1u << 5)
#define MISC2_SKINIT        (1u << 6)
#define MISC2_WBINVD        (1u << 9)
#define MISC2_MONITOR       (1u << 10)
#define MISC2_MWAIT         (1u << 11)
#define MISC2_XSETBV        (1u << 13)

/* Exit codes (APM Appendix C). */
#define SVM_EXIT_WRITE_DR7      0x37
#define SVM_EXIT_EXCEPTION_0    0x40
#define SVM_EXIT_INTR           0x60
#define SVM_EXIT_NMI            0x61
#define SVM_EXIT_SMI            0x62
#define SVM_EXIT_INIT           0x63
#define SVM_EXIT_VINTR          0x64
#define SVM_EXIT_RDPMC          0x6f
#define SVM_EXIT_CPUID          0x72
#define SVM_EXIT_INVD           0x76
#define SVM_EXIT_PAUSE          0x77
#define SVM_EXIT_HLT            0x78
#define SVM_EXIT_IOIO           0x7b
#define SVM_EXIT_MSR            0x7c
#define SVM_EXIT_SHUTDOWN       0x7f
#define SVM_EXIT_VMMCALL        0x81
#define SVM_EXIT_WBINVD         0x89
#define SVM_EXIT_XSETBV         0x8d
#define SVM_EXIT_NPF            0x400
#define SVM_EXIT_INVALID        ((uint64_t)-1)

#endif
