/*
 * The helper threads' code: an endless loop of random system calls, mostly blocking
 * ones (Call, Send, Recv, ReplyRecv, Wait), on random slots of the stream's CNode,
 * with random message-info words, message registers, receive slot and capability to
 * send.  It is copied into a page of its own address space, so it is position-
 * independent, uses no stack and no memory but its IPC buffer (through %fs, which
 * the kernel points at it), and keeps its whole state in r15 (callee-saved across
 * system calls): whatever the stream does to a helper — new registers, a new address
 * space, a destroyed IPC buffer — it can only hurt the helper.
 *
 * Entry: rdi = seed.  The loop never returns.
 */
#include "fuzz.h"

/* One xorshift64 step on r15 (Marsaglia, "Xorshift RNGs", 2003: shifts 13, 7, 17). */
#define XORSHIFT                                                                       \
    "mov %r15, %rax\n shl $13, %rax\n xor %rax, %r15\n"                                \
    "mov %r15, %rax\n shr $7, %rax\n xor %rax, %r15\n"                                 \
    "mov %r15, %rax\n shl $17, %rax\n xor %rax, %r15\n"

__asm__(".pushsection .rodata.helper_code,\"a\"\n"
        ".globl helper_code\n.globl helper_code_end\n"
        "helper_code:\n"
        "    mov %rdi, %r15\n"
        "    or $1, %r15\n"
        "1:\n" XORSHIFT
        /* the system call: a table biased to the blocking ones */
        "    mov %r15, %rax\n"
        "    and $15, %eax\n"
        "    lea 9f(%rip), %rcx\n"
        "    movzbl (%rcx,%rax), %eax\n"
        /* the slot: three times in four among the world's fixed slots and the first
         * free ones, else anywhere in 0..511 (half of it outside the CNode) */
        "    mov %r15, %rdi\n"
        "    shr $4, %rdi\n"
        "    test $3, %dil\n"
        "    jz 2f\n"
        "    and $31, %edi\n"
        "    jmp 3f\n"
        "2:  shr $2, %rdi\n"
        "    and $511, %edi\n"
        /* message info: label 0..127, length 0..127, caps 0..3 */
        "3:  mov %r15, %rsi\n"
        "    shr $16, %rsi\n"
        "    and $0x7f, %esi\n"
        "    shl $12, %rsi\n"
        "    mov %r15, %rdx\n"
        "    shr $24, %rdx\n"
        "    and $0x1ff, %edx\n"
        "    or %rdx, %rsi\n"
        XORSHIFT
        /* MR0..3: a raw word, a rotated one, a small number, a byte */
        "    mov %r15, %rdx\n"
        "    mov %r15, %r8\n"
        "    ror $17, %r8\n"
        "    mov %r15, %r9\n"
        "    shr $20, %r9\n"
        "    and $0xff, %r9d\n"
        "    mov %r15, %r10\n"
        "    shr $56, %r10\n"
        /* IPC buffer: receive slot (offset 520) 0..63, capability to send (512) 0..31 */
        "    mov %r15, %rcx\n"
        "    shr $40, %rcx\n"
        "    and $63, %ecx\n"
        "    mov %rcx, %fs:520\n"
        "    mov %r15, %rcx\n"
        "    shr $48, %rcx\n"
        "    and $31, %ecx\n"
        "    mov %rcx, %fs:512\n"
        "    syscall\n"
        "    jmp 1b\n"
        "9:  .byte 1, 1, 2, 2, 3, 3, 4, 5, 5, 5, 6, 7, 8, 9, 9, 11\n"
        "helper_code_end:\n"
        ".popsection\n");

_Static_assert(offsetof(struct pith_ipc_buffer, caps) == 512, "helper code: caps[0] at 512");
_Static_assert(offsetof(struct pith_ipc_buffer, receive_slot) == 520, "helper code: receive slot at 520");
