/* VMX definitions (Intel SDM Vol. 3C, 2023 numbering): VMCS field encodings (Appendix B),
 * control bits (25.6-25.8), basic exit reasons (Appendix C), capability MSRs (Appendix A). */
#ifndef VMX_VMCS_H
#define VMX_VMCS_H

/* ---- Capability and control MSRs (Appendix A) ---- */
#define MSR_FEATURE_CONTROL         0x03a
#define FEATURE_CONTROL_LOCK        (1ull << 0)
#define FEATURE_CONTROL_VMXON       (1ull << 2)     /* VMXON outside SMX operation */
#define MSR_PAT                     0x277
#define MSR_VMX_BASIC               0x480
#define VMX_BASIC_TRUE_CONTROLS     (1ull << 55)
#define MSR_VMX_PINBASED            0x481
#define MSR_VMX_PROCBASED           0x482
#define MSR_VMX_EXIT                0x483
#define MSR_VMX_ENTRY               0x484
#define MSR_VMX_MISC                0x485
#define VMX_MISC_PREEMPTION_RATE    0x1full    /* the timer counts TSC bit n changes */
#define VMX_MISC_ZERO_LENGTH_INJECT (1ull << 30)
#define MSR_VMX_CR0_FIXED0          0x486
#define MSR_VMX_CR0_FIXED1          0x487
#define MSR_VMX_CR4_FIXED0          0x488
#define MSR_VMX_CR4_FIXED1          0x489
#define MSR_VMX_PROCBASED2          0x48b
#define MSR_VMX_EPT_VPID_CAP        0x48c
#define EPT_CAP_WALK_4              (1ull << 6)
#define EPT_CAP_WB                  (1ull << 14)
#define EPT_CAP_INVEPT              (1ull << 20)
#define EPT_CAP_INVEPT_SINGLE       (1ull << 25)
#define EPT_CAP_INVEPT_ALL          (1ull << 26)
#define VPID_CAP_INVVPID            (1ull << 32)
#define VPID_CAP_INVVPID_SINGLE     (1ull << 41)
#define VPID_CAP_INVVPID_ALL        (1ull << 42)
#define MSR_VMX_TRUE_PINBASED       0x48d     /* TRUE_PROCBASED, _EXIT, _ENTRY follow */

/* ---- Execution controls (25.6) ---- */
#define PIN_EXTINT_EXITING          (1u << 0)
#define PIN_NMI_EXITING             (1u << 3)
#define PIN_VIRTUAL_NMIS            (1u << 5)
#define PIN_PREEMPTION_TIMER        (1u << 6)

#define PROC_INTR_WINDOW            (1u << 2)
#define PROC_TSC_OFFSETTING         (1u << 3)
#define PROC_HLT_EXITING            (1u << 7)
#define PROC_RDPMC_EXITING          (1u << 11)
#define PROC_MWAIT_EXITING          (1u << 10)
#define PROC_CR8_LOAD_EXITING       (1u << 19)
#define PROC_CR8_STORE_EXITING      (1u << 20)
#define PROC_TPR_SHADOW             (1u << 21)
#define PROC_NMI_WINDOW             (1u << 22)
#define PROC_IO_BITMAPS             (1u << 25)
#define PROC_MSR_BITMAPS            (1u << 28)
#define PROC_MONITOR_EXITING        (1u << 29)
#define PROC_SECONDARY              (1u << 31)

#define PROC2_EPT                   (1u << 1)
#define PROC2_RDTSCP                (1u << 3)
#define PROC2_VPID                  (1u << 5)
#define PROC2_WBINVD_EXITING        (1u << 6)
#define PROC2_UNRESTRICTED          (1u << 7)
#define PROC2_INVPCID               (1u << 12)

/* ---- VM-exit and VM-entry controls (25.7, 25.8) ---- */
#define EXIT_SAVE_DEBUG             (1u << 2)
#define EXIT_HOST_64                (1u << 9)
#define EXIT_SAVE_PAT               (1u << 18)
#define EXIT_LOAD_PAT               (1u << 19)
#define EXIT_SAVE_EFER              (1u << 20)
#define EXIT_LOAD_EFER              (1u << 21)

#define ENTRY_LOAD_DEBUG            (1u << 2)
#define ENTRY_IA32E_GUEST           (1u << 9)
#define ENTRY_LOAD_PAT              (1u << 14)
#define ENTRY_LOAD_EFER             (1u << 15)

/* ---- VMCS fields (Appendix B); the encoding gives the width ---- */
/* 16-bit */
#define VMCS_VPID                   0x0000
#define VMCS_GUEST_ES_SEL           0x0800      /* ES CS SS DS FS GS LDTR TR, stride 2 */
#define VMCS_HOST_ES_SEL            0x0c00
#define VMCS_HOST_CS_SEL            0x0c02
#define VMCS_HOST_SS_SEL            0x0c04
#define VMCS_HOST_DS_SEL            0x0c06
#define VMCS_HOST_FS_SEL            0x0c08
#define VMCS_HOST_GS_SEL            0x0c0a
#define VMCS_HOST_TR_SEL            0x0c0c
/* 64-bit */
#define VMCS_IO_BITMAP_A            0x2000
#define VMCS_IO_BITMAP_B            0x2002
#define VMCS_MSR_BITMAP             0x2004
#define VMCS_TSC_OFFSET             0x2010
#define VMCS_VIRTUAL_APIC           0x2012
#define VMCS_EPTP                   0x201a
#define VMCS_GUEST_PHYSICAL         0x2400
#define VMCS_LINK_POINTER           0x2800
#define VMCS_GUEST_DEBUGCTL         0x2802
#define VMCS_GUEST_PAT              0x2804
#define VMCS_GUEST_EFER             0x2806
#define VMCS_HOST_PAT               0x2c00
#define VMCS_HOST_EFER              0x2c02
/* 32-bit */
#define VMCS_PIN_CONTROLS           0x4000
#define VMCS_PROC_CONTROLS          0x4002
#define VMCS_EXCEPTION_BITMAP       0x4004
#define VMCS_PF_ERROR_MASK          0x4006
#define VMCS_PF_ERROR_MATCH         0x4008
#define VMCS_CR3_TARGET_COUNT       0x400a
#define VMCS_EXIT_CONTROLS          0x400c
#define VMCS_EXIT_MSR_STORE_COUNT   0x400e
#define VMCS_EXIT_MSR_LOAD_COUNT    0x4010
#define VMCS_ENTRY_CONTROLS         0x4012
#define VMCS_ENTRY_MSR_LOAD_COUNT   0x4014
#define VMCS_ENTRY_INTR_INFO        0x4016
#define VMCS_ENTRY_ERROR_CODE       0x4018
#define VMCS_ENTRY_INSTR_LENGTH     0x401a
#define VMCS_TPR_THRESHOLD          0x401c
#define VMCS_PROC_CONTROLS2         0x401e
#define VMCS_INSTR_ERROR            0x4400
#define VMCS_EXIT_REASON            0x4402
#define VMCS_EXIT_INTR_INFO         0x4404
#define VMCS_EXIT_INTR_ERROR        0x4406
#define VMCS_IDT_VECTORING_INFO     0x4408
#define VMCS_IDT_VECTORING_ERROR    0x440a
#define VMCS_EXIT_INSTR_LENGTH      0x440c
#define VMCS_EXIT_INSTR_INFO        0x440e
#define VMCS_GUEST_ES_LIMIT         0x4800      /* ES CS SS DS FS GS LDTR TR, stride 2 */
#define VMCS_GUEST_GDTR_LIMIT       0x4810
#define VMCS_GUEST_IDTR_LIMIT       0x4812
#define VMCS_GUEST_ES_ACCESS        0x4814      /* ES CS SS DS FS GS LDTR TR, stride 2 */
#define VMCS_GUEST_INTERRUPTIBILITY 0x4824
#define VMCS_GUEST_ACTIVITY         0x4826
#define VMCS_GUEST_SYSENTER_CS      0x482a
#define VMCS_GUEST_PREEMPTION_TIMER 0x482e
#define VMCS_HOST_SYSENTER_CS       0x4c00
/* natural width */
#define VMCS_CR0_MASK               0x6000
#define VMCS_CR4_MASK               0x6002
#define VMCS_CR0_SHADOW             0x6004
#define VMCS_CR4_SHADOW             0x6006
#define VMCS_EXIT_QUALIFICATION     0x6400
#define VMCS_GUEST_CR0              0x6800
#define VMCS_GUEST_CR3              0x6802
#define VMCS_GUEST_CR4              0x6804
#define VMCS_GUEST_ES_BASE          0x6806      /* ES CS SS DS FS GS LDTR TR, stride 2 */
#define VMCS_GUEST_GDTR_BASE        0x6816
#define VMCS_GUEST_IDTR_BASE        0x6818
#define VMCS_GUEST_DR7              0x681a
#define VMCS_GUEST_RSP              0x681c
#define VMCS_GUEST_RIP              0x681e
#define VMCS_GUEST_RFLAGS           0x6820
#define VMCS_GUEST_PENDING_DEBUG    0x6822
#define VMCS_GUEST_SYSENTER_ESP     0x6824
#define VMCS_GUEST_SYSENTER_EIP     0x6826
#define VMCS_HOST_CR0               0x6c00
#define VMCS_HOST_CR3               0x6c02
#define VMCS_HOST_CR4               0x6c04
#define VMCS_HOST_FS_BASE           0x6c06
#define VMCS_HOST_GS_BASE           0x6c08
#define VMCS_HOST_TR_BASE           0x6c0a
#define VMCS_HOST_GDTR_BASE         0x6c0c
#define VMCS_HOST_IDTR_BASE         0x6c0e
#define VMCS_HOST_SYSENTER_ESP      0x6c10
#define VMCS_HOST_SYSENTER_EIP      0x6c12
#define VMCS_HOST_RSP               0x6c14
#define VMCS_HOST_RIP               0x6c16

/* ---- Guest state encodings (25.4.1, 25.4.2) ---- */
#define ACCESS_UNUSABLE             (1u << 16)
#define INTERRUPTIBILITY_STI        (1u << 0)
#define INTERRUPTIBILITY_MOV_SS     (1u << 1)
#define INTERRUPTIBILITY_NMI        (1u << 3)

/* Interruption information (25.8.3, 25.9.2): vector 0..7, type 8..10, error code 11,
 * NMI unblocking due to IRET 12, valid 31. */
#define INTR_INFO_TYPE(i)           (((i) >> 8) & 7)
#define INTR_TYPE_NMI               2
#define INTR_TYPE_HARD_EXC          3
#define INTR_TYPE_SOFT_INT          4
#define INTR_TYPE_PRIV_SOFT_EXC     5
#define INTR_TYPE_SOFT_EXC          6
#define INTR_INFO_ERROR_CODE        (1u << 11)
#define INTR_INFO_IRET_UNBLOCKED    (1u << 12)
#define INTR_INFO_VALID             (1u << 31)

/* ---- Basic exit reasons (Appendix C) ---- */
#define VMX_EXIT_EXCEPTION_NMI      0
#define VMX_EXIT_EXTINT             1
#define VMX_EXIT_TRIPLE_FAULT       2
#define VMX_EXIT_INIT               3
#define VMX_EXIT_INTR_WINDOW        7
#define VMX_EXIT_NMI_WINDOW         8
#define VMX_EXIT_CPUID              10
#define VMX_EXIT_HLT                12
#define VMX_EXIT_RDPMC              15
#define VMX_EXIT_INVD               13
#define VMX_EXIT_VMCALL             18
#define VMX_EXIT_VMCLEAR            19
#define VMX_EXIT_VMLAUNCH           20
#define VMX_EXIT_VMPTRLD            21
#define VMX_EXIT_VMPTRST            22
#define VMX_EXIT_VMREAD             23
#define VMX_EXIT_VMRESUME           24
#define VMX_EXIT_VMWRITE            25
#define VMX_EXIT_VMXOFF             26
#define VMX_EXIT_VMXON              27
#define VMX_EXIT_CR_ACCESS          28
#define VMX_EXIT_IO                 30
#define VMX_EXIT_RDMSR              31
#define VMX_EXIT_WRMSR              32
#define VMX_EXIT_INVALID_STATE      33
#define VMX_EXIT_PAUSE              40
#define VMX_EXIT_EPT_VIOLATION      48
#define VMX_EXIT_EPT_MISCONFIG      49
#define VMX_EXIT_INVEPT             50
#define VMX_EXIT_PREEMPTION_TIMER   52
#define VMX_EXIT_INVVPID            53
#define VMX_EXIT_WBINVD             54
#define VMX_EXIT_XSETBV             55
#define VMX_EXIT_ENTRY_FAILURE      (1u << 31)

#define VECTOR_MC                   18      /* machine check: always the host's */
#define DR6_INIT                    0xffff0ff0ull   /* DR6 after reset (SDM Vol. 3A 18.2.3) */

/* EPT (29.3): EPTP memory type write-back, 4-level walk; INVEPT/INVVPID types (31.3). */
#define EPTP_WB_WALK4               (6u | 3u << 3)
#define INVEPT_SINGLE               1
#define INVEPT_ALL                  2
#define INVVPID_SINGLE              1
#define INVVPID_ALL                 2

#endif
