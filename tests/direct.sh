#!/usr/bin/env bash
# direct.sh — a Linux guest of a system configuration booted with Pith straight from
# QEMU's -kernel (multiboot v1, tools/mkdirect.sh), and what that boot must show.
#
# Usage: tests/direct.sh PLATFORM -- COMMAND...
#   e.g. tests/direct.sh direct-linux-svm -- tools/mkdirect.sh --run guests/configs/bench-linux.conf build
# The configuration must be bench-linux.conf's: one guest `bench` that powers off at init
# (pith.stop=init).  Each expected line is one case (PASS/FAIL); ends with "PLATFORM: N
# passed, N failed" and exits 0 only when every case passed and COMMAND exited 0.
set -euo pipefail

source "$(dirname "$0")/checks.sh"
checks_begin "$@"

line direct_banner '^Pith microkernel, x86_64$'
line direct_multiboot_v1 "^boot: loader's information: multiboot\$"
# root, console, vmm, system.conf, vmlinuz, initrd.img; QEMU's path taken off the command line
line direct_modules_and_cmdline "^modules: 6, command line 'pith\\.clock=[0-9]+'\$"
line direct_root_task "^boot: root task 'root' entry "
line direct_guest_started '^\[root\] guest bench: [0-9]+ MiB, started$'
line direct_guest_init 'pith-guest: init running'
line direct_clean_stop '^\[root\] no guest left \(all stopped cleanly\), powering off$'
check direct_exit_status "the emulator exited with $status" [ "$status" = 0 ]
checks_summary "$platform"
