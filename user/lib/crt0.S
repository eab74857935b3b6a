/*
 * Program entry. The kernel (for the root task) or the creating program starts a
 * thread with rsp = a 16-byte-aligned stack top and rdi = its argument (the root
 * task: the address of struct pith_bootinfo). The loader must have zeroed .bss.
 */
    .text
    .globl _start
    .type _start, @function
_start:
    xorl %ebp, %ebp             /* outermost frame: ends frame-pointer walks */
    andq $-16, %rsp             /* System V: rsp is 16-byte aligned at each call */
    call main                   /* rdi still holds the argument */
    movl %eax, %edi
    call pith_exit
1:  jmp 1b                      /* pith_exit does not return; if it does, stay here */
    .size _start, . - _start

    .section .note.GNU-stack, "", @progbits
