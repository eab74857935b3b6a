#!/usr/bin/env bash
# default-system.sh — boot the default system image and check what a user sees.
#
# Usage: tests/default-system.sh PLATFORM -- COMMAND...
#   e.g. tests/default-system.sh default-svm -- tools/run-qemu.sh build/pith.iso
# Each expected line is one case (PASS/FAIL); ends with "PLATFORM: N passed, N failed"
# and exits 0 only when every case passed and COMMAND exited 0.
set -euo pipefail

source "$(dirname "$0")/checks.sh"
checks_begin "$@"

line default_banner '^Pith microkernel, x86_64$'
line default_cpu_features '^cpu features:'
line default_virtualization "^virtualization: ${platform##*-}\$"
line default_console_labels_root '^\[root\] hello from user space'
line default_ipc_demo '^\[root\] asked a worker thread for 4 squared over IPC: 16$'
line default_deadline_demo '^\[root\] a deadline 10 ms ahead woke us'
line default_powers_off '^\[root\] demo done, powering off$'
check default_exit_status "the emulator exited with $status" [ "$status" = 0 ]
checks_summary "$platform"
