/* The gdb test kernel's multiboot v1 header and entry (docs/gdb.md, tests/gdb.py). */
#define MB1_MAGIC   0x1badb002
#define MB1_FLAGS   0x00000003

    .section .multiboot, "a"
    .align 4
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long -(MB1_MAGIC + MB1_FLAGS)

    .text
    .globl _start
    .code32
_start:
    mov $stack_top, %esp
    call gdb_test_main
1:  cli
    hlt
    jmp 1b

    .bss
    .align 16
    .space 16384
stack_top:
