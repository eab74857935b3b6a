/*
 * A boot sector for the legacy tests: loaded by the BIOS at 0x7c00 from an IDE disk
 * or a CD (no-emulation boot), it prints a line through the BIOS (INT 10h, which
 * SeaBIOS also sends to the serial console), writes itself to its drive's second
 * sector and reads that back through INT 13h (a disk takes the write, a CD refuses
 * it), tries to change a byte of the BIOS at 0xffff5 (SeaBIOS leaves that segment
 * write-protected through the PAM registers), writes a line straight into the VGA
 * text buffer, waits for a key through INT 16h and echoes it, then reports through
 * port 0xf4 (isa-debug-exit): 0x10 after a key, 0x11 when no key came in time.
 */
    .code16
    .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7c00, %sp
    ljmp $0, $start
start:
    sti
    mov %dl, drive                  /* the BIOS passes the boot drive in DL */
    mov $hello, %si
    call say
    call disk_check
    call rom_check
    /* a line straight into video memory, row 12 */
    mov $0xb800, %ax
    mov %ax, %es
    mov $vga_text, %si
    mov $(12 * 160), %di
1:  lodsb
    test %al, %al
    jz 2f
    mov $0x1f, %ah
    stosw
    jmp 1b
2:  mov $prompt, %si
    call say
    /* poll INT 16h for about 25 seconds (the BIOS tick count at 0x46c, 18.2 Hz): a key
     * typed on the console may take seconds to arrive on a loaded emulator */
    mov 0x46c, %cx
    add $455, %cx
3:  mov $0x01, %ah
    int $0x16
    jnz 4f
    hlt
    mov 0x46c, %ax
    cmp %cx, %ax
    jne 3b
    mov $nokey, %si
    call say
    call settle
    mov $0x11, %al
    out %al, $0xf4
    jmp halt
4:  mov $0x00, %ah
    int $0x16
    mov %al, key
    mov $gotkey, %si
    call say
    call settle
    mov $0x10, %al
    out %al, $0xf4
halt:
    cli
    hlt
    jmp halt

/* INT 13h: write this sector (0:0x7c00) to CHS 0/0/2 of the boot drive, read CHS
 * 0/0/2 back to 0:0x8000 and compare; the disk image has zeros there */
disk_check:
    xor %ax, %ax
    mov %ax, %es
    mov $0x0301, %ax                /* write one sector */
    mov $0x7c00, %bx
    call sector2
    jc 2f
    mov $0x0201, %ax                /* read it back */
    mov $0x8000, %bx
    call sector2
    jc 1f
    mov $0x7c00, %si
    mov $0x8000, %di
    mov $256, %cx
    cld
    repe cmpsw
    jne 1f
    mov $readback, %si
    jmp say
1:  mov $differs, %si
    jmp say
2:  mov $refused, %si
    jmp say

/* flip a byte of the BIOS date at f000:fff5 and read it back */
rom_check:
    mov $0xf000, %ax
    mov %ax, %es
    mov %es:0xfff5, %bl
    mov %bl, %al
    not %al
    mov %al, %es:0xfff5
    mov $romkept, %si
    cmp %es:0xfff5, %bl
    je say
    mov %bl, %es:0xfff5
    mov $romwritten, %si
    jmp say

sector2:
    mov $0x0002, %cx                /* cylinder 0, sector 2 */
    xor %dh, %dh                    /* head 0 */
    mov drive, %dl
    int $0x13
    ret

/* five or six timer ticks, so the BIOS's serial console has sent what was printed */
settle:
    mov 0x46c, %cx
    add $6, %cx
1:  hlt
    mov 0x46c, %ax
    cmp %cx, %ax
    jne 1b
    ret

/* a line: "pith-boot: " and the message at SI */
say:
    push %si
    mov $prefix, %si
    call print
    pop %si
print:
    lodsb
    test %al, %al
    jz 1f
    mov $0x0e, %ah
    mov $0x0007, %bx
    int $0x10
    jmp print
1:  ret

prefix:     .asciz "pith-boot: "
hello:      .asciz "hello from the boot sector\r\n"
vga_text:   .asciz "pith-boot: written to 0xb8000"
prompt:     .asciz "press a key\r\n"
nokey:      .asciz "no key\r\n"
readback:   .asciz "sector 2 written and read back\r\n"
differs:    .asciz "sector 2 read back differs\r\n"
refused:    .asciz "disk write refused\r\n"
romkept:    .asciz "BIOS write-protected\r\n"
romwritten: .asciz "BIOS written\r\n"
drive:      .byte 0
gotkey:     .ascii "key '"
key:        .ascii "?"
            .asciz "'\r\n"

    .org 510
    .word 0xaa55
