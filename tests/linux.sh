#!/usr/bin/env bash
# linux.sh — boot the reference Linux guest in the VMM and judge its output.
#
# Usage: tests/linux.sh PLATFORM -- COMMAND...
#   e.g. tests/linux.sh linux-svm -- tools/run-qemu.sh --timeout 300 build/pith-linux.iso
#
# COMMAND boots an ISO whose root task is the VMM with the modules vmlinuz and
# initrd.img (and optionally disk.img): the VMM's built-in guest, whose /init
# (guests/linux/init) runs its test commands because of pith.test=1 and powers off.
# One line per check (`PASS name` / `FAIL name: why`), then `PLATFORM: N passed,
# M failed`.  (Carriage returns from the serial port are ignored.)
# Exit status: 0 all checks passed; 1 some failed; 2 bad usage.
set -euo pipefail

usage() { echo "usage: $0 PLATFORM -- COMMAND..." >&2; exit 2; }
{ [ $# -ge 3 ] && [ "$2" = "--" ]; } || usage
platform=$1
shift 2

source "$(dirname "$0")/checks.sh"
checks_run "$@"

# The guest's name and memory, from the VMM's first line about it:
#   vmm: linux: 128 MiB of RAM, Linux on the PC platform, kernel vmlinuz (...)...
intro=$(grep -m 1 -E '^vmm: [^:]+: [0-9]+ MiB of RAM, Linux' "$out" || true)
name=$(sed -E 's/^vmm: ([^:]+): .*/\1/' <<<"$intro")
mib=$(sed -E 's/^vmm: [^:]+: ([0-9]+) MiB.*/\1/' <<<"$intro")
[ -n "$intro" ] || name=linux mib=0
memtotal=$(grep -m 1 -E 'pith-guest: MemTotal: [0-9]+ kB' "$out" | sed -E 's/.*MemTotal: ([0-9]+) kB.*/\1/' || true)

memory_matches() {
	# What Linux reports is the RAM minus the kernel's own image and reservations:
	# at most the configured size, and no more than 64 MiB below it.
	[ -n "$memtotal" ] && [ "$mib" -gt 0 ] &&
		[ "$memtotal" -le $((mib * 1024)) ] && [ "$memtotal" -gt $(((mib - 64) * 1024)) ]
}

check linux_vmm_loaded "the VMM did not load a kernel (no 'vmm: NAME: Linux boot protocol' line)" \
	has "^vmm: $name: Linux boot protocol [0-9.]+, kernel at"
check linux_banner "no 'Linux version' banner from the guest kernel" \
	has "^\[$name\] \[ *[0-9.]+\] Linux version [0-9]"
check linux_init_running "the guest's /init did not start (no 'pith-guest: init running on')" \
	has "^\[$name\] pith-guest: init running on $name\$"
check linux_memtotal "MemTotal '${memtotal:-none}' kB does not fit the configured $mib MiB" memory_matches
commands_ran() { has "pith-guest: arithmetic 42$" && has "pith-guest: kernel Linux [0-9][^ ]* x86_64$"; }
powered_off() { has "^vmm: $name: powered off after [0-9]+ ms" && [ "$status" = 0 ]; }

check linux_command_output "no output of the test commands (arithmetic, uname)" commands_ran
if grep -qE "^vmm: $name: .*, disk " "$out"; then
	check linux_virtio_disk "the guest did not see its virtio disk" \
		has "pith-guest: disk vda [0-9]+ sectors$"
	check linux_virtio_disk_mounted "the guest did not mount its virtio disk and read hello.txt" \
		has "pith-guest: mounted vda, hello.txt: pith-disk: hello from a mounted virtio disk$"
	check linux_virtio_disk_written "the guest could not write its disk (the VMM's copy) and read it back" \
		has "pith-guest: wrote vda sector ([0-9]+), read back: pith-write-\\1$"
fi
if grep -qE "^vmm: $name: .*, virtio console" "$out"; then
	check linux_virtio_console "nothing the guest wrote to /dev/hvc0 arrived" \
		has "^\[$name\] pith-guest: hello over hvc0\$"
fi
check linux_test_done "the test commands did not finish (no 'pith-guest: test end')" \
	has "pith-guest: test end$"
check linux_power_off "the guest did not power itself off (ACPI S5), or the run failed" powered_off
check linux_exit_time_counted "the VMM did not report the time it spent on the guest's port I/O exits" \
	has "^vmm: $name: the VMM's time on them: [1-9][0-9]* us IO, [0-9]+ us MMIO"
check linux_no_kernel_errors "the guest kernel complained: $(grep -m 1 -E 'Kernel panic|Oops|BUG:|unchecked MSR|ACPI Error|Call Trace' "$out" | cut -c 1-120)" \
	lacks 'Kernel panic|Oops|BUG:|unchecked MSR|ACPI Error|Call Trace'

grep -E "^vmm: $name: (powered off|reset|halted|failed|stopped) after" "$out" | sed 's/^/linux: /' || true
checks_summary "$platform"
