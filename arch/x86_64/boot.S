/*
 * Multiboot2 and multiboot (v1) entry: GRUB's `multiboot2` (Multiboot2 spec §3.1) and
 * QEMU's -kernel (Multiboot spec 0.6.96 §3.2) both enter here in 32-bit protected mode,
 * paging off, EAX = magic, EBX = physical address of the boot information; kernel_main
 * tells the two by the magic.
 * We build the boot page tables, enter long mode (SDM 9.8.5) and call kernel_main
 * in the higher half.  Page tables map, with 2 MiB pages:
 *   - the first GiB at 0 (identity, only needed until we run in the higher half),
 *   - the first 4 GiB at PHYSMAP_BASE (0xffff800000000000, the kernel's view of RAM;
 *     kernel_map_physmap adds the RAM above 4 GiB once the memory map is known),
 *   - the first GiB at KERNEL_BASE (0xffffffff80000000, the kernel image).
 * All of it is writable and executable until kernel_map.c takes the identity map
 * away and gives each part only the access it needs.
 */
#define KERNEL_BASE 0xffffffff80000000
#define V2P(x) ((x) - KERNEL_BASE)

    .section .multiboot, "a"
    .align 8
mb2_header:
    .long 0xe85250d6                        /* magic */
    .long 0                                 /* architecture: i386 */
    .long mb2_header_end - mb2_header
    .long -(0xe85250d6 + (mb2_header_end - mb2_header))
    .align 8
    .word 0, 0                              /* end tag */
    .long 8
mb2_header_end:

/*
 * Multiboot (v1) header, for loaders that know only version 1 (QEMU's -kernel).  They
 * refuse a 64-bit ELF, so flag 16 gives the address fields and the file is loaded as
 * a flat image: the bytes from this header's file offset minus (header_addr -
 * load_addr) up to load_end_addr go to load_addr, zeros up to bss_end_addr.
 * kernel.ld lays the file out so that offset maps linearly onto physical addresses
 * and defines the fields' symbols.  Flags: 0 modules page-aligned, 1 memory
 * information, 16 address fields.  It must lie in the file's first 8 KiB.
 */
#define MB1_MAGIC 0x1badb002
#define MB1_FLAGS ((1 << 0) | (1 << 1) | (1 << 16))
    .align 4
mb1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long -(MB1_MAGIC + MB1_FLAGS)
    .long mb1_header                        /* header_addr (.boot: VMA = LMA) */
    .long mb1_load_addr
    .long mb1_load_end_addr
    .long mb1_bss_end_addr
    .long _start                            /* entry_addr */

    .section .boot.text, "ax"
    .code32
    .global _start
_start:
    cli
    mov $V2P(boot_stack_top), %esp
    mov %eax, %edi                          /* magic -> first argument */
    mov %ebx, %esi                          /* info  -> second argument */

    /* Long mode present? (CPUID 0x80000001 EDX bit 29) */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx
    jz no_long_mode

    /* Four page directories of 2 MiB pages covering 0..4 GiB. */
    mov $V2P(boot_pd), %ebx
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax                          /* present, writable, 2 MiB */
    mov %eax, (%ebx, %ecx, 8)
    mov %ecx, %eax
    shr $11, %eax                           /* bits 32.. of the physical address */
    mov %eax, 4(%ebx, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jne 1b

    /* PDPT for the physmap: entries 0..3 -> the four directories. */
    mov $V2P(boot_pdpt_phys), %ebx
    mov $V2P(boot_pd), %eax
    or $3, %eax
    mov %eax, 0(%ebx)
    add $4096, %eax
    mov %eax, 8(%ebx)
    add $4096, %eax
    mov %eax, 16(%ebx)
    add $4096, %eax
    mov %eax, 24(%ebx)

    /* Low PDPT[0] and kernel PDPT[510] -> the first directory (first GiB). */
    mov $V2P(boot_pd), %eax
    or $3, %eax
    mov %eax, V2P(boot_pdpt_low)
    mov %eax, V2P(boot_pdpt_kernel) + 510 * 8

    /* PML4: [0] low, [256] physmap, [511] kernel. */
    mov $V2P(boot_pml4), %ebx
    mov $V2P(boot_pdpt_low), %eax
    or $3, %eax
    mov %eax, 0(%ebx)
    mov $V2P(boot_pdpt_phys), %eax
    or $3, %eax
    mov %eax, 256 * 8(%ebx)
    mov $V2P(boot_pdpt_kernel), %eax
    or $3, %eax
    mov %eax, 511 * 8(%ebx)

    mov %ebx, %cr3
    mov %cr4, %eax
    or $(1 << 5), %eax                      /* PAE */
    mov %eax, %cr4
    mov $0xc0000080, %ecx                   /* EFER: long mode enable */
    rdmsr
    or $(1 << 8), %eax
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax                    /* PG, WP, PE */
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $long_mode_entry

no_long_mode:
    mov $0x3f8, %dx
    mov $'!', %al
    out %al, %dx
1:  hlt
    jmp 1b

    .code64
long_mode_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    movabs $higher_half, %rax
    jmp *%rax

    .section .boot.data, "aw"
    .align 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff                /* 64-bit code */
    .quad 0x00cf92000000ffff                /* data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .text
higher_half:
    movabs $boot_stack_top, %rsp
    xor %rbp, %rbp
    /* edi = magic, esi = info (zero-extended by the 32-bit moves above) */
    call kernel_main
1:  cli
    hlt
    jmp 1b

    .bss
    .align 4096
    .global boot_pml4, boot_pdpt_phys, boot_pdpt_kernel, boot_pd
boot_pml4:        .space 4096
boot_pdpt_low:    .space 4096
boot_pdpt_phys:   .space 4096
boot_pdpt_kernel: .space 4096
boot_pd:          .space 4 * 4096
    .align 16
    .global boot_stack_top
boot_stack:       .space 16384
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
