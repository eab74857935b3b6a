/* Multiboot v1 test kernel: the header (ELF image, page-aligned modules, memory
 * information) and the entry, which keeps EAX and EBX for the checks in check.c. */
#define MB1_MAGIC   0x1badb002
#define MB1_FLAGS   0x00000003

    .section .multiboot, "a"
    .align 4
    .long MB1_MAGIC
    .long MB1_FLAGS
#ifdef BAD_CHECKSUM
    .long -(MB1_MAGIC + MB1_FLAGS) + 1      /* a malformed kernel for the tests */
#else
    .long -(MB1_MAGIC + MB1_FLAGS)
#endif

    .text
    .globl _start
    .code32
_start:
    mov $stack_top, %esp
    pushf                       /* EFLAGS as the loader left it */
    push %ebx
    push %eax
    call check_v1
1:  cli
    hlt
    jmp 1b

    .bss
    .align 16
    .space 16384
stack_top:
