# modules.sh — the boot modules of a system configuration (sourced, not run), shared by
# shellcheck shell=bash
# tools/mkimage.sh (an ISO booted by GRUB) and tools/mkdirect.sh (QEMU's -kernel).
#
#   source tools/modules.sh
#   tool=NAME                       # the caller's name, for the messages
#   pith_modules CONFIG BUILD_DIR || die "..."   # fills the array `modules` with PATH=NAME
#   pith_kernel_cmdline             # prints the kernel's command line
#
# The modules, in order: the root task, the console server and the VMM from BUILD_DIR,
# CONFIG as the module "system.conf", the switch, storage and uplink servers when the
# configuration has a `net`, `disk part:` or `uplink` line, and every file the
# configuration names on a `kernel`, `initrd`, `disk`, `cdrom` or `module` line.  A name
# is a path: absolute, or relative to the directory of CONFIG; a name not found there
# is looked up in BUILD_DIR, BUILD_DIR/guests, guests/tests and guests/ (where the build
# leaves vmlinuz, initrd.img, disk.img and the test guests).  The module keeps the name
# as written, which is what the root task compares.  A name with no file is reported
# with its line, and pith_modules returns 1 once all were looked for; a missing build
# product or configuration calls `die` (the caller's) at once.

pith_modules() {
	local config=$1 build=$2 f
	[ -f "$config" ] || die "no such configuration file: $config (the configurations: guests/configs/*.conf)"
	for f in kernel.elf root.elf console.elf vmm.elf; do
		[ -f "$build/$f" ] || die "$build/$f missing: build it first (make)"
	done

	modules=("$build/root.elf=root" "$build/console.elf=console" "$build/vmm.elf=vmm"
	         "$config=system.conf")
	# The switch server, for guests with a `net` key (docs/network.md).
	if grep -qE '^[[:space:]]*net[[:space:]]' "$config"; then
		[ -f "$build/switch.elf" ] || die "$build/switch.elf missing: build it first (make)"
		modules+=("$build/switch.elf=switch")
	fi
	# The storage server, for guests with a host partition (`disk part:NAME`, docs/storage.md).
	if grep -qE '^[[:space:]]*disk[[:space:]]+part:' "$config"; then
		[ -f "$build/storage.elf" ] || die "$build/storage.elf missing: build it first (make)"
		modules+=("$build/storage.elf=storage")
	fi
	# The uplink, the driver of the host's e1000, for a configuration with `uplink SEGMENT`.
	if grep -qE '^[[:space:]]*uplink[[:space:]]' "$config"; then
		[ -f "$build/uplink.elf" ] || die "$build/uplink.elf missing: build it first (make)"
		modules+=("$build/uplink.elf=uplink")
	fi
	local config_dir key name path found missing=0 number=0 default_firmware=
	config_dir=$(dirname "$config")
	local -A packed=()
	local -a candidates
	# A guest with "boot bios" and no kernel line runs Debian's SeaBIOS (docs/config.md).
	if grep -qE '^[[:space:]]*boot[[:space:]]+bios' "$config"; then
		default_firmware="kernel bios-256k.bin"
	fi
	# Module names: the second word of kernel/initrd/disk/cdrom/module lines, comments stripped.
	while read -r key name _; do
		number=$((number + 1))
		case "$key" in kernel|initrd|disk|cdrom|module) ;; *) continue ;; esac
		[ -n "${name:-}" ] && [ -z "${packed[$name]:-}" ] || continue
		[ "$key" != disk ] || [ "${name#part:}" = "$name" ] || continue     # a host partition, no module
		packed[$name]=1
		found=
		case "$name" in
			/*) candidates=("$name") ;;
			*) candidates=("$config_dir/$name" "$build/$name" "$build/guests/$name" "guests/tests/$name" "guests/$name"
			            "/usr/share/seabios/$name") ;;
		esac
		for path in "${candidates[@]}"; do
			if [ -f "$path" ]; then found=$path; break; fi
		done
		if [ -n "$found" ]; then
			modules+=("$found=$name")
		else
			echo "${tool:-modules}: $config: line $number: no file '$name' for '$key' (looked in $config_dir/ and $build/)" >&2
			missing=$((missing + 1))
		fi
	done < <(sed -e 's/\(^\|[[:space:]]\)#.*$//' "$config"; echo "$default_firmware")
	[ "$missing" = 0 ] || { echo "${tool:-modules}: $missing module file(s) missing" >&2; return 1; }
}

# The host's time, for the guests' clocks (vmm/dev/rtc.h): the root task hands the
# kernel's command line on to each VMM.  KERNEL_CMDLINE (environment) comes first.
pith_kernel_cmdline() {
	echo "${KERNEL_CMDLINE:+$KERNEL_CMDLINE }pith.clock=$(date -u +%s)"
}
