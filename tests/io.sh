#!/usr/bin/env bash
# io.sh — judge the network system test (guests/configs/io-test.conf): three Linux
# guests with virtio-net NICs on the switch server, alpha and beta on segment 1 (pings
# both ways, 3 MiB over TCP with its MD5), gamma on segment 2 (reaches neither, and
# receives nothing).
#
# Usage: tests/io.sh PLATFORM -- COMMAND...
# One line per check, then "PLATFORM: N passed, M failed"; exit 0 only if all passed.
set -euo pipefail

[ $# -ge 3 ] && [ "$2" = "--" ] || { echo "usage: $0 PLATFORM -- COMMAND..." >&2; exit 2; }
platform=$1
shift 2
source "$(dirname "$0")/checks.sh"
checks_run "$@"

# The end of a guest's line, or a kernel message its console wrote into it: Linux's
# printk does not wait for the newline of a line init is writing (seen on Bochs:
# "ping 10.0.0.2 reachable[   28.047013] IPv6: ...").
end='( *\[ *[0-9]+\.[0-9]+\] .*)?$'
line_of() { grep -nE -- "$1" "$out" | head -n 1 | cut -d: -f1; }
# Line $1 (a regex) comes before line $2.
before() {
	local a b
	a=$(line_of "$1")
	b=$(line_of "$2")
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]
}
received() { grep -m 1 -E "^\[$1\] pith-guest: eth0 received [0-9]+ packets" "$out" | sed -E 's/.*received ([0-9]+) packets.*/\1/'; }
received_some() { local n; n=$(received "$1"); [ -n "$n" ] && [ "$n" -gt 0 ]; }
received_none() { local n; n=$(received "$1"); [ "$n" = 0 ]; }
# gamma's probes ended while alpha and beta were up: after both had answered a ping,
# before either finished its test.
probed_while_up() {
	local g="^\[gamma\] pith-guest: probe $1 unreachable$end"
	before '^\[alpha\] pith-guest: ping 10\.0\.0\.2 reachable'"$end" "$g" &&
		before '^\[beta\] pith-guest: ping 10\.0\.0\.1 reachable'"$end" "$g" &&
		before "$g" '^\[alpha\] pith-guest: test end'"$end" &&
		before "$g" '^\[beta\] pith-guest: test end'"$end"
}

check io_switch_started "the switch server did not start with 3 ports" has '^\[root\] network: the switch serves 3 ports$'
check io_alpha_nic "alpha has no eth0 with its configured MAC" \
	has '^\[alpha\] pith-guest: eth0 10\.0\.0\.1 52:54:00:00:01:01'"$end"
check io_beta_nic "beta has no eth0 with its configured MAC" \
	has '^\[beta\] pith-guest: eth0 10\.0\.0\.2 52:54:00:00:01:02'"$end"
check io_gamma_nic "gamma has no eth0" has '^\[gamma\] pith-guest: eth0 10\.0\.0\.3 '
check io_alpha_pings_beta "alpha's ping of beta got no answer" \
	has '^\[alpha\] pith-guest: ping 10\.0\.0\.2 reachable'"$end"
check io_beta_pings_alpha "beta's ping of alpha got no answer" \
	has '^\[beta\] pith-guest: ping 10\.0\.0\.1 reachable'"$end"
sent_md5() { grep -m 1 -E '^\[alpha\] pith-guest: sending 3072 KiB to 10\.0\.0\.2:5000, md5 [0-9a-f]{32}'"$end" "$out" | sed -E 's/.*md5 ([0-9a-f]{32}).*/\1/'; }
received_md5() { grep -m 1 -E '^\[beta\] pith-guest: received 3145728 bytes, md5 [0-9a-f]{32}'"$end" "$out" | sed -E 's/.*md5 ([0-9a-f]{32}).*/\1/'; }
same_md5() { local a b; a=$(sent_md5); b=$(received_md5); [ -n "$a" ] && [ "$a" = "$b" ]; }
check io_tcp_sent "alpha could not send its 3 MiB to beta over TCP" has '^\[alpha\] pith-guest: send done'"$end"
check io_tcp_received "beta did not receive 3145728 bytes" \
	has '^\[beta\] pith-guest: received 3145728 bytes, md5 '
check io_tcp_checksum "the MD5 beta received is not the one alpha sent" same_md5
check io_alpha_cannot_reach_gamma "alpha reached gamma across segments" \
	has '^\[alpha\] pith-guest: probe 10\.0\.0\.3 unreachable'"$end"
check io_gamma_cannot_reach_alpha "gamma's probe of alpha did not fail while alpha was up" \
	probed_while_up 10.0.0.1
check io_gamma_cannot_reach_beta "gamma's probe of beta did not fail while beta was up" \
	probed_while_up 10.0.0.2
check io_gamma_sees_nothing "gamma received frames from segment 1" received_none gamma
check io_alpha_received "alpha received nothing" received_some alpha
# The NIC is on the modern transport with MSI-X: Linux's virtio-pci driver bound it (a
# 1af4:1041 function) and its interrupts came as MSIs the local APICs took.
check io_nic_modern_msix "beta's NIC is not the modern virtio-net function" \
	has '^\[beta\] \[ *[0-9.]+\] pci 0000:00:04\.0: \[1af4:1041\] type 00 class 0x020000$'
check io_nic_msi_taken "beta's VMM delivered no MSI, or one no local APIC took" \
	has '^\[beta\] vmm: beta: interrupts: .*; [1-9][0-9]* MSIs \(0 no APIC took\)$'

check io_all_stop "not every guest powered off cleanly" \
	eval 'has "^\[root\] guest alpha: stopped$" && has "^\[root\] guest beta: stopped$" && has "^\[root\] guest gamma: stopped$"'
check io_system_powers_off "the system did not power off with success (status $status)" \
	eval 'has "^\[root\] no guest left" && [ "$status" = 0 ]'
checks_summary "$platform"
