/*
 * hello: the first Pith test guest.  A flat 32-bit image loaded at 0x100000 and
 * entered in protected mode with flat segments and interrupts off (vmm/vm.c).  It
 * exercises each exit the VMM handles, prints a line after each step through the
 * 16550 UART at 0x3f8, and writes its verdict to the test device's port 0xf4:
 * 0 when every step saw what it expected, 1 (after a "FAIL: ..." line) otherwise.
 * Everything, data included, is in .text: the image is one flat binary.
 */
#define COM1            0x3f8
#define TESTDEV_PORT    0xf4
#define TESTDEV_MMIO    0xd0000000
#define TESTDEV_ID      0x48544950
#define TIMER_VECTOR    0x20
#define UNKNOWN_MSR     0x1337

    .code32
    .text
    .globl _start
_start:
    cli
    movl $stack_top, %esp
    lgdt gdt_descriptor
    ljmp $0x08, $1f
1:  movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    call setup_idt
    call uart_init
    movl $msg_hello, %esi
    call puts
    movl $msg_uart, %esi
    call puts

/* ---- CPUID: the host's vendor, the hypervisor bit and Pith's signature ---------------- */
    xorl %eax, %eax
    cpuid
    movl %ebx, vendor
    movl %edx, vendor + 4
    movl %ecx, vendor + 8
    movl $msg_vendor, %esi
    call puts
    movl $1, %eax
    cpuid
    movl $fail_hypervisor_bit, %esi
    testl $0x80000000, %ecx
    jz fail
    movl $0x40000000, %eax
    cpuid
    movl %ebx, signature
    movl %ecx, signature + 4
    movl %edx, signature + 8
    movl $msg_signature, %esi
    call puts

/* ---- RDMSR of the TSC: not zero, and not ahead of RDTSC right after it --------------- */
    movl $0x10, %ecx
    rdmsr
    movl %edx, %ebx
    movl %eax, %edi
    rdtsc
    movl $fail_tsc, %esi
    cmpl %ebx, %edx
    jb fail
    ja 2f
    cmpl %edi, %eax
    jb fail
2:  orl %ebx, %edi
    jz fail
    movl $msg_tsc, %esi
    call puts

/* ---- RDMSR of an MSR that does not exist: #GP, whose handler skips the rdmsr ------- */
    movl $0, gp_count
    movl $UNKNOWN_MSR, %ecx
    rdmsr
    movl $fail_gp, %esi
    cmpl $1, gp_count
    jne fail
    movl $msg_gp, %esi
    call puts

/* ---- MMIO: the test device's registers through several mov encodings ------------- */
    movl $fail_mmio, %esi
    movl TESTDEV_MMIO, %eax                 /* a1: moffs32 */
    cmpl $TESTDEV_ID, %eax
    jne fail
    movl $TESTDEV_MMIO, %edi
    movl $0x12345678, 4(%edi)               /* c7 /0: immediate, disp8 */
    movl 4(%edi), %ebx                      /* 8b: disp8 */
    cmpl $0x12345678, %ebx
    jne fail
    movl $0xcafef00d, %ecx
    movl %ecx, TESTDEV_MMIO + 4             /* 89: disp32 */
    movl $1, %edx
    movl (%edi,%edx,4), %eax                /* 8b: SIB */
    cmpl $0xcafef00d, %eax
    jne fail
    movzbl 1(%edi), %eax                    /* 0f b6: one byte of the ID */
    cmpl $0x49, %eax                        /* 'I' */
    jne fail
    movl $0xffffffff, %eax
    movw 2(%edi), %ax                       /* 66 8b: 16 bits, the upper half kept */
    cmpl $0xffff4854, %eax                  /* "TH" */
    jne fail
    movl $msg_mmio, %esi
    call puts

/* ---- Timer interrupts: three that wake HLT, two that arrive while the guest loops --- */
    movl $0, ticks
    sti
3:  cmpl $3, ticks
    jae 4f
    hlt
    jmp 3b
4:  cli
    movl $msg_ticks_hlt, %esi
    call puts
    movl ticks, %ebx
    addl $2, %ebx
    sti
5:  cmpl %ebx, ticks                        /* no exit in this loop: the VMM must recall */
    jb 5b
    cli
    movl $msg_ticks_running, %esi
    call puts

    movl $msg_done, %esi
    call puts
    movb $0, %al
    outb %al, $TESTDEV_PORT
6:  cli
    hlt
    jmp 6b

/* esi: why.  Prints "FAIL: why" and reports failure. */
fail:
    pushl %esi
    movl $msg_fail, %esi
    call puts_partial
    popl %esi
    call puts
report_failure:
    movb $1, %al
    outb %al, $TESTDEV_PORT
    jmp 6b

/* ---- The UART --------------------------------------------------------------------------- */
uart_init:
    movw $COM1 + 1, %dx                     /* IER: no interrupts */
    movb $0, %al
    outb %al, %dx
    movw $COM1 + 3, %dx                     /* LCR: DLAB */
    movb $0x80, %al
    outb %al, %dx
    movw $COM1, %dx                         /* divisor 1: 115200 baud */
    movb $1, %al
    outb %al, %dx
    movw $COM1 + 1, %dx
    movb $0, %al
    outb %al, %dx
    movw $COM1 + 3, %dx                     /* 8 data bits, no parity, 1 stop bit */
    movb $0x03, %al
    outb %al, %dx
    movw $COM1 + 2, %dx                     /* FIFOs on and cleared */
    movb $0xc7, %al
    outb %al, %dx
    movw $COM1 + 4, %dx                     /* DTR, RTS */
    movb $0x03, %al
    outb %al, %dx
    movw $COM1 + 7, %dx                     /* the scratch register keeps a value */
    movb $0x5a, %al
    outb %al, %dx
    inb %dx, %al
    movl $fail_uart, %esi
    cmpb $0x5a, %al
    jne fail
    movw $COM1 + 5, %dx                     /* LSR: transmitter empty */
    inb %dx, %al
    testb $0x40, %al
    jz fail
    ret

/* al: the byte.  Waits for THR empty (LSR bit 5), then writes it. */
putc:
    pushl %edx
    pushl %eax
1:  movw $COM1 + 5, %dx
    inb %dx, %al
    testb $0x20, %al
    jz 1b
    popl %eax
    movw $COM1, %dx
    outb %al, %dx
    popl %edx
    ret

/* esi: a zero-terminated string.  puts adds a newline, puts_partial does not. */
puts_partial:
    pushl %esi
    pushl %eax
1:  movb (%esi), %al
    testb %al, %al
    jz 2f
    call putc
    incl %esi
    jmp 1b
2:  popl %eax
    popl %esi
    ret

puts:
    call puts_partial
    pushl %eax
    movb $10, %al
    call putc
    popl %eax
    ret

/* ---- Interrupts and exceptions --------------------------------------------------------- */

/* eax: vector, edx: handler.  A 32-bit interrupt gate to the code segment. */
set_gate:
    movw %dx, idt(,%eax,8)
    movw $0x08, idt + 2(,%eax,8)
    movw $0x8e00, idt + 4(,%eax,8)
    shrl $16, %edx
    movw %dx, idt + 6(,%eax,8)
    ret

setup_idt:
    xorl %eax, %eax
1:  movl exception_stubs(,%eax,4), %edx
    call set_gate
    incl %eax
    cmpl $32, %eax
    jb 1b
    movl $13, %eax
    movl $gp_handler, %edx
    call set_gate
    movl $TIMER_VECTOR, %eax
    movl $timer_handler, %edx
    call set_gate
    lidt idt_descriptor
    ret

timer_handler:
    incl ticks
    iret

/* #GP: count it and step over the 2-byte rdmsr that raised it. */
gp_handler:
    incl gp_count
    addl $4, %esp                           /* the error code */
    addl $2, (%esp)                         /* the saved eip */
    iret

/* Any other exception ends the test: "FAIL: unexpected exception" and the vector. */
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
exception_\n:
    movb $\n, %al
    jmp unexpected_exception
    .endr

unexpected_exception:
    movb %al, %bl
    movl $msg_fail, %esi
    call puts_partial
    movl $fail_exception, %esi
    call puts_partial
    movb %bl, %al
    shrb $4, %al
    call put_hex_digit
    movb %bl, %al
    call put_hex_digit
    movb $10, %al
    call putc
    jmp report_failure

/* al: a value 0..15 in its low bits, printed as one hex digit. */
put_hex_digit:
    andb $0x0f, %al
    addb $0x30, %al           /* '0' */
    cmpb $0x39, %al           /* '9' */
    jbe 1f
    addb $0x27, %al           /* to 'a' */
1:  jmp putc

/* ---- Data ------------------------------------------------------------------------------ */
    .balign 4
exception_stubs:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long exception_\n
    .endr

ticks:      .long 0
gp_count:   .long 0

msg_hello:          .asciz "hello from a Pith guest"
msg_uart:           .asciz "uart configured"
msg_vendor:         .ascii "cpu vendor: "
vendor:             .fill 12, 1, 0
                    .byte 0
msg_signature:      .ascii "hypervisor: "
signature:          .fill 12, 1, 0
                    .byte 0
msg_tsc:            .asciz "rdmsr tsc ok"
msg_gp:             .asciz "rdmsr 0x1337 raised #GP"
msg_mmio:           .asciz "mmio test device ok"
msg_ticks_hlt:      .asciz "3 timer interrupts"
msg_ticks_running:  .asciz "2 timer interrupts while running"
msg_done:           .asciz "all steps passed"
msg_fail:           .asciz "FAIL: "
fail_uart:          .asciz "the UART's scratch or line status register is wrong"
fail_hypervisor_bit: .asciz "CPUID.1:ECX bit 31 (hypervisor) is clear"
fail_tsc:           .asciz "RDMSR IA32_TSC is zero or ahead of RDTSC"
fail_gp:            .asciz "RDMSR of an unknown MSR did not raise #GP once"
fail_mmio:          .asciz "a test device register read back wrong"
fail_exception:     .asciz "unexpected exception 0x"

    .balign 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff                /* 0x08: flat 32-bit code */
    .quad 0x00cf92000000ffff                /* 0x10: flat data */
gdt_end:
gdt_descriptor:
    .word gdt_end - gdt - 1
    .long gdt

    .balign 8
idt:
    .fill 256, 8, 0
idt_end:
idt_descriptor:
    .word idt_end - idt - 1
    .long idt

    .balign 16
stack:
    .fill 4096, 1, 0
stack_top:
