/* Multiboot2 test kernel: the header with an information request (command line, boot
 * loader name, modules, memory, memory map, ACPI) and the entry. */
#define MB2_MAGIC   0xe85250d6
#define MB2_LENGTH  (header_end - header_start)

    .section .multiboot, "a"
    .align 8
header_start:
    .long MB2_MAGIC
    .long 0                     /* i386 */
    .long MB2_LENGTH
    .long -(MB2_MAGIC + 0 + MB2_LENGTH)
    /* information request: required types */
    .align 8
request_start:
    .short 1, 0
    .long request_end - request_start
    .long 1, 2, 3, 4, 6
request_end:
    /* ACPI asked for as optional: the loader may have none */
    .align 8
optional_start:
    .short 1, 1
    .long optional_end - optional_start
    .long 14, 15
optional_end:
    /* module alignment */
    .align 8
    .short 6, 0
    .long 8
    /* the end tag */
    .align 8
    .short 0, 0
    .long 8
header_end:

    .text
    .globl _start
    .code32
_start:
    mov $stack_top, %esp
    pushf
    push %ebx
    push %eax
    call check_v2
1:  cli
    hlt
    jmp 1b

    .bss
    .align 16
    .space 16384
stack_top:
