#!/usr/bin/env bash
# legacy.sh — judge the legacy system test (guests/configs/legacy-test.conf): the
# multiboot test kernels pass their own checks and end through port 0xf4, SeaBIOS
# boots a boot sector from an IDE disk and from an ATAPI CD (BIOS output, a sector
# written and read back on the disk and refused by the CD, a write to the BIOS that the
# PAM registers protect dropped, the VGA text screen, port
# 0xf4), and each bad multiboot guest is reported by name.
#
# With --i686, judges guests/configs/legacy-686.conf instead: SeaBIOS boots GRUB from an
# IDE disk, GRUB boots Debian's 32-bit 686 kernel, and its busybox /init
# (guests/bios/init-686) prints what is checked and ends the guest through port 0xf4.
#
# Usage: tests/legacy.sh [--i686] PLATFORM -- COMMAND...
# One line per check, then "PLATFORM: N passed, M failed"; exit 0 only if all passed.
set -euo pipefail

i686=0
if [ "${1:-}" = --i686 ]; then i686=1; shift; fi
[ $# -ge 3 ] && [ "$2" = "--" ] || { echo "usage: $0 [--i686] PLATFORM -- COMMAND..." >&2; exit 2; }
platform=$1
shift 2
source "$(dirname "$0")/checks.sh"
checks_run "$@"

# GRUB's and SeaBIOS's screen reaches the serial line with cursor movements, which
# may land inside a line ("pith-gr<ESC>[03;07Hub: ...", the ESC sometimes shown as
# '?'): taken out where a check asks.  A line the console showed in part and then again
# whole (its carriage return gone) has the whole after the part: the check looks
# anywhere in the line.
# (grep reads to the end, not -q: under pipefail an early exit would fail sed with SIGPIPE)
# Without the terminal's sequences, and without a label the console wrote again after a
# carriage return inside a line (GRUB's echo: "[sea686] p" CR "[sea686] ith-grub: ..."
# shows one line on the terminal; the log has lost the CR).
has_plain() {
	sed -E 's/(\x1b|\?)\[[0-9;]*[A-Za-z]//g; s/(.)\[[a-z0-9._-]+\] /\1/g' "$out" | grep -E -- "$1" >/dev/null
}

if [ "$i686" = 1 ]; then
	g='^\[sea686\] '
	check legacy_686_bios_boots "SeaBIOS did not boot sea686 from the IDE disk" \
		has "${g}Booting from Hard Disk"
	check legacy_686_grub "GRUB did not run its menu entry for the 686 kernel" \
		has_plain "${g}.*pith-grub: loading the 686 kernel\$"
	check legacy_686_kernel "the kernel that started is not Debian's 32-bit 686 kernel" \
		has "${g}\\[ *[0-9.]+\\] Linux version [^ ]+-686 \\(debian-kernel@"
	check legacy_686_memory "the kernel did not find the guest's 128 MiB (130000-139999 KiB in the e820 map)" \
		has "${g}\\[ *[0-9.]+\\] Memory: [0-9]+K/13[0-9]{4}K available"
	check legacy_686_init "the 686 kernel did not run the initramfs's /init" \
		has "${g}pith-686: init running on Linux [^ ]+-686\$"
	check legacy_686_uname "uname -m did not print i686" has "${g}pith-686: uname -m: i686\$"
	check legacy_686_elf32 "the guest's busybox is not a 32-bit ELF executable" \
		has "${g}pith-686: ELF class of /bin/busybox: 01\$"
	check legacy_686_pipeline "the shell pipeline's output was not 5050" \
		has "${g}pith-686: seq 1 100 \\| awk sum: 5050\$"
	check legacy_686_arith "the shell's 64-bit arithmetic on the 32-bit machine was wrong" \
		has "${g}pith-686: 46341 \\* 46341 = 2147488281\$"
	check legacy_686_vga "the line written to tty1 (vgacon, 0xb8000) did not reach the console" \
		has "${g}pith-686: written to tty1 by i686\$"
	check legacy_686_no_oops "the 686 kernel reported an oops, a BUG or a panic" \
		lacks "${g}.*(Oops|BUG:|Kernel panic)"
	check legacy_686_status "sea686's exit status 33 (every line as expected, 0x10 at port 0xf4) was not reported" \
		has '^\[root\] guest sea686: stopped with exit status 33$'
	check legacy_686_system_powers_off "the system did not power off cleanly" \
		has '^\[root\] no guest left \(all stopped cleanly\)'
	checks_summary "$platform"
	exit
fi

check legacy_mb1_loaded "mb1 was not loaded as a multiboot v1 ELF kernel with 2 modules" \
	has 'mb1: multiboot v1 \(ELF\), kernel at 0x200000-.*, 2 modules'
check legacy_mb1_checks "the v1 kernel's checks did not all pass" \
	has '^\[mb1\] mb1: all 0x[0-9a-f]+ checks passed$'
check legacy_mb1_no_failure "the v1 kernel reported a failed check" lacks '^\[mb1\] mb1: FAIL'
check legacy_mb1_status "mb1's exit status 33 (0x10 at port 0xf4) was not reported" \
	has '^\[root\] guest mb1: stopped with exit status 33$'
check legacy_mb2_loaded "mb2 was not loaded as a multiboot v2 ELF kernel with 1 module" \
	has 'mb2: multiboot v2 \(ELF\), kernel at 0x200000-.*, 1 module,'
check legacy_mb2_checks "the v2 kernel's checks did not all pass" \
	has '^\[mb2\] mb2: all 0x[0-9a-f]+ checks passed$'
check legacy_mb2_no_failure "the v2 kernel reported a failed check" lacks '^\[mb2\] mb2: FAIL'
check legacy_mb2_status "mb2's exit status 33 was not reported" \
	has '^\[root\] guest mb2: stopped with exit status 33$'
check legacy_bios_disk_banner "SeaBIOS printed no banner for seadisk" has '^\[seadisk\] .*SeaBIOS \(version '
check legacy_bios_disk_boots "SeaBIOS did not boot from the IDE disk" has '^\[seadisk\] Booting from Hard Disk'
check legacy_bios_disk_sector "the disk's boot sector did not run" \
	has '^\[seadisk\] pith-boot: hello from the boot sector$'
check legacy_bios_disk_writes "the boot sector's write to the IDE disk did not read back" \
	has '^\[seadisk\] pith-boot: sector 2 written and read back$'
check legacy_bios_rom_protected "a write to the BIOS at 0xffff5 took effect after SeaBIOS write-protected it (PAM)" \
	has '^\[seadisk\] pith-boot: BIOS write-protected$'
check legacy_bios_disk_vga "the boot sector's line in video memory did not reach the console" \
	has '^\[seadisk\] pith-boot: written to 0xb8000$'
check legacy_bios_disk_status "seadisk's exit status 35 (no key, 0x11) was not reported" \
	has '^\[root\] guest seadisk: stopped with exit status 35$'
check legacy_bios_cd_boots "SeaBIOS did not boot from the ATAPI CD" has '^\[seacd\] Booting from DVD/CD'
check legacy_bios_cd_sector "the CD's boot sector did not run" \
	has '^\[seacd\] pith-boot: hello from the boot sector$'
check legacy_bios_cd_read_only "the CD took a write (or the boot sector never tried)" \
	has '^\[seacd\] pith-boot: disk write refused$'
check legacy_bios_cd_vga "the CD guest's line in video memory did not reach the console" \
	has '^\[seacd\] pith-boot: written to 0xb8000$'
check legacy_bios_cd_status "seacd's exit status 35 was not reported" \
	has '^\[root\] guest seacd: stopped with exit status 35$'
check legacy_bad_checksum "the bad checksum was not reported for badsum" \
	has 'badsum.*multiboot header checksum is wrong'
check legacy_no_header "the missing header was not reported for noheader" \
	has 'noheader.*no multiboot header in the first 8 KiB'
check legacy_too_small "the kernel too big for toosmall's RAM was not reported" \
	has 'toosmall.*asks for memory the guest lacks'
check legacy_system_powers_off "the system did not power off" has '^\[root\] no guest left'
checks_summary "$platform"
