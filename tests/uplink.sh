#!/usr/bin/env bash
# uplink.sh — judge the uplink system test (guests/configs/uplink-test.conf): the
# host's e1000, driven by the uplink server, on segment 3 with delta (10.0.2.15 on the
# emulator's user-mode network); epsilon on segment 4.
#
#  - an HTTP server on the host's loopback (python3 -m http.server on 127.0.0.1, a free
#    port) serves 1 MiB of random bytes; delta fetches it from 10.0.2.2 with busybox
#    wget and prints its MD5, which must be the host's;
#  - delta serves a page with busybox httpd on port 80; the host fetches it through the
#    emulator's forwarded port on 127.0.0.1 (another free port) and its MD5 must be the
#    one delta printed; then /cgi-bin/done, which lets delta power off;
#  - epsilon, on another segment, reaches no gateway and receives nothing.
#
# Usage: tests/uplink.sh PLATFORM BUILD_DIR -- RUNNER...
# The runner (tools/run-qemu.sh with its options) gets `--forward PORT:10.0.2.15:80
# ISO` appended.  One line per check, then "PLATFORM: N passed, M failed".
set -euo pipefail

[ $# -ge 4 ] && [ "$3" = "--" ] || { echo "usage: $0 PLATFORM BUILD_DIR -- RUNNER..." >&2; exit 2; }
platform=$1 build=$2
shift 3
here=$(dirname "$0")
source "$here/checks.sh"

work=$(mktemp -d)
server='' fetcher=''
cleanup() {
	[ -z "$fetcher" ] || kill "$fetcher" 2>/dev/null || true
	[ -z "$server" ] || kill "$server" 2>/dev/null || true
	rm -rf "$work" "$out"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http_port=$(free_port) forward_port=$(free_port)
while [ "$forward_port" = "$http_port" ]; do forward_port=$(free_port); done

mkdir -p "$work/www"
head -c 1048576 /dev/urandom >"$work/www/payload.bin"
payload_md5=$(md5sum <"$work/www/payload.bin" | cut -d ' ' -f 1)
sed "s/@HTTP_PORT@/$http_port/" "$here/../guests/configs/uplink-test.conf" >"$work/uplink.conf"
tools/mkimage.sh "$work/pith.iso" "$work/uplink.conf" "$build" >"$work/mkimage.log" 2>&1 ||
	{ cat "$work/mkimage.log" >&2; echo "uplink: could not build the image" >&2; exit 2; }

python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$work/www" >"$work/http.log" 2>&1 &
server=$!

# The host's side, while the system runs: once delta says its httpd is up, fetch the
# page through the forwarded port, then /cgi-bin/done.
host_fetch() {
	for _ in $(seq 1200); do
		grep -qa 'pith-guest: httpd on port 80, page md5' "$out" 2>/dev/null && break
		sleep 0.5
	done
	for _ in $(seq 10); do
		curl -sS -m 30 -o "$work/page" "http://127.0.0.1:$forward_port/" 2>>"$work/curl.log" && break
		sleep 1
	done
	curl -sS -m 30 -o "$work/done" "http://127.0.0.1:$forward_port/cgi-bin/done" 2>>"$work/curl.log" || true
}
host_fetch &
fetcher=$!
checks_run "$@" --forward "$forward_port:10.0.2.15:80" "$work/pith.iso"
wait "$fetcher" 2>/dev/null || true
fetcher=''

guest_value() { grep -m 1 -aE "$1" "$out" | sed -E "s/$1//"; }
fetched_md5() { guest_value '^\[delta\] pith-guest: wget done, 1048576 bytes, md5 '; }
page_md5() { guest_value '^\[delta\] pith-guest: httpd on port 80, page md5 '; }
host_page_md5() { [ -s "$work/page" ] && md5sum <"$work/page" | cut -d ' ' -f 1; }
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
received() { grep -m 1 -E "^\[$1\] pith-guest: eth0 received [0-9]+ packets" "$out" | sed -E 's/.*received ([0-9]+) packets.*/\1/'; }

check uplink_found "the root task did not start the uplink on segment 3 as port 2" \
	has '^\[root\] network: the uplink \(e1000 at PCI [0-9a-f]{2}:[0-9a-f]{2}\.[0-7], IRQ [0-9]+\) is port 2 on segment 3$'
check uplink_link_up "the uplink did not bring the e1000 up with a MAC address" \
	has '^uplink: e1000 at [0-9a-f:.]+, MAC ([0-9a-f]{2}:){5}[0-9a-f]{2}, IRQ [0-9]+, link up, segment 3$'
check uplink_interrupts "the NIC's interrupt never reached the uplink (it ran on its 100 ms poll)" \
	has '^uplink: the NIC.s interrupts arrive$'
check uplink_switch_ports "the switch does not serve two guests and the uplink" \
	has '^\[root\] network: the switch serves 3 ports$'
check uplink_delta_nic "delta has no eth0 with its address and MAC" \
	has '^\[delta\] pith-guest: eth0 10\.0\.2\.15 52:54:00:00:03:01$'
check uplink_ping_gateway "delta's ping of the gateway 10.0.2.2 got no answer" \
	has '^\[delta\] pith-guest: ping 10\.0\.2\.2 reachable$'
check uplink_wget "delta could not fetch 1 MiB from the host's HTTP server" \
	has '^\[delta\] pith-guest: wget done, 1048576 bytes, md5 [0-9a-f]{32}$'
check uplink_wget_md5 "the MD5 delta fetched is not the file's ($payload_md5)" \
	eval 'same "$(fetched_md5)" "$payload_md5"'
check uplink_host_served "the host's HTTP server logged no request for the file" \
	grep -q '"GET /payload.bin HTTP/1.1" 200' "$work/http.log"
check uplink_host_fetch "the host could not fetch delta's page through 127.0.0.1:$forward_port" \
	test -s "$work/page"
check uplink_host_fetch_md5 "the page the host fetched is not the one delta served" \
	eval 'same "$(host_page_md5)" "$(page_md5)"'
check uplink_guest_saw_fetch "delta's httpd did not see the host's second request" \
	has '^\[delta\] pith-guest: httpd: the host fetched the page$'
check uplink_other_segment_isolated "epsilon on segment 4 reached the gateway" \
	has '^\[epsilon\] pith-guest: probe 10\.0\.2\.2 unreachable$'
check uplink_other_segment_silent "epsilon on segment 4 received frames" eval '[ "$(received epsilon)" = 0 ]'
check uplink_all_stop "not every guest powered off cleanly" \
	eval 'has "^\[root\] guest delta: stopped$" && has "^\[root\] guest epsilon: stopped$"'
check uplink_system_powers_off "the system did not power off with success (status $status)" \
	eval 'has "^\[root\] no guest left" && [ "$status" = 0 ]'
checks_summary "$platform"
