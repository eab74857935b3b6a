#!/usr/bin/env bash
# legacy.sh — judge the legacy system test (guests/configs/legacy-test.conf): the
# multiboot test kernels pass their own checks and end through port 0xf4, SeaBIOS
# boots a boot sector from an IDE disk and from an ATAPI CD (BIOS output, a sector
# written and read back on the disk and refused by the CD, the VGA text screen, port
# 0xf4), and each bad multiboot guest is reported by name.
#
# Usage: tests/legacy.sh PLATFORM -- COMMAND...
# One line per check, then "PLATFORM: N passed, M failed"; exit 0 only if all passed.
set -euo pipefail

[ $# -ge 3 ] && [ "$2" = "--" ] || { echo "usage: $0 PLATFORM -- COMMAND..." >&2; exit 2; }
platform=$1
shift 2
source "$(dirname "$0")/checks.sh"
checks_run "$@"

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
