#!/usr/bin/env bash
# nested.sh — judge the nested-virtualization tests: virtual VMX on a VMX host
# (nested-vmx, guests/configs/nested-vmx-test.conf: vmx_basic's steps, up to a
# protected-mode L2 whose exits come back to the guest as VM exits) or virtual SVM on an
# SVM host (guests/configs/nested-test.conf: svm_basic's checks, up to a real-mode L2
# whose exits come back as #VMEXITs, with and without nested paging, the first in the
# VMM's shadow nested table, and svm_hostile), none without `nested on`; on both, a
# Linux guest with `nested on` loads KVM, has /dev/kvm and runs KVM's own guests
# (/bin/kvm-test, one check per case), one without sees no flag and KVM refuses.
#
# Usage: tests/nested.sh PLATFORM -- COMMAND...
# One line per check, then "PLATFORM: N passed, M failed"; exit 0 only if all passed.
set -euo pipefail

[ $# -ge 3 ] && [ "$2" = "--" ] || { echo "usage: $0 PLATFORM -- COMMAND..." >&2; exit 2; }
platform=$1
shift 2
source "$(dirname "$0")/checks.sh"
checks_run "$@"

# A Linux guest with `nested on` (kvm-on) and one without (kvm-off), on a host with
# FLAG (svm or vmx): KVM's module MODULE loads and runs KVM's own guests
# (/bin/kvm-test, one check per case) only with it; neither sees OTHER.
linux_kvm_checks() {	# FLAG OTHER MODULE
	local flag=$1 other=$2 module=$3
	check "nested_linux_${flag}_flag" "the guest with nested on has no $flag flag" \
		has "^\[kvm-on\] pith-guest: cpu flag $flag: yes\$"
	check "nested_linux_${module}_loads" "$module did not load in the guest with nested on" \
		has "^\[kvm-on\] pith-guest: insmod $module: loaded\$"
	check nested_linux_dev_kvm "the guest with nested on has no /dev/kvm" \
		has '^\[kvm-on\] pith-guest: /dev/kvm: present$'
	kvm_case io_out_in "an L2's OUT and IN did not reach KVM's user space with the right port, size and data"
	kvm_case cpuid "an L2's CPUID did not give the leaf set with KVM_SET_CPUID2"
	kvm_case hlt "an L2's HLT did not come out as KVM_EXIT_HLT"
	kvm_case mmio_unbacked "an L2's access outside its memory slot did not come out as KVM_EXIT_MMIO with its data"
	kvm_case interrupt "an interrupt KVM_INTERRUPT injected when the window opened did not reach the L2's handler"
	kvm_case long_mode_paging "a long-mode L2's store through its own page tables did not land where they map it"
	kvm_case memory_all "an L2's pattern over all its 2 MiB did not all reach its memory slot"
	kvm_case outside_slots "an L2's access above its slot or at 4 GiB did not come out as KVM_EXIT_MMIO"
	kvm_case spin_preempted "an L2 that never exits held back L1's timer: KVM_RUN was not interrupted by the alarm"
	check nested_kvm_all_passed "kvm-test did not finish with every case passed" \
		has '^\[kvm-on\] kvm-test: 9 passed, 0 failed$'
	check "nested_linux_no_${flag}_flag" "the guest without nested on sees a $flag flag" \
		has "^\[kvm-off\] pith-guest: cpu flag $flag: no\$"
	check "nested_linux_no_${other}_flag" "a guest sees a $other flag on a $flag host" \
		lacks "^\[kvm-(on|off)\] pith-guest: cpu flag $other: yes\$"
	check "nested_linux_${module}_refused" "$module loaded without nested on" \
		has "^\[kvm-off\] pith-guest: insmod $module: refused"
	check nested_linux_no_dev_kvm "the guest without nested on has /dev/kvm" \
		has '^\[kvm-off\] pith-guest: /dev/kvm: absent$'
	check nested_linux_on_power_off "the guest with nested on did not power off cleanly" \
		has '^\[root\] guest kvm-on: stopped$'
	check nested_linux_off_power_off "the guest without nested on did not power off cleanly" \
		has '^\[root\] guest kvm-off: stopped$'
	check nested_no_unexpected_exit "a guest stopped on an exit its VMM does not handle" \
		lacks 'unexpected exit'
	check nested_system_powers_off "the system did not power off at the end" \
		has 'no guest left'
}
kvm_case() {    # NAME WHY: the case's ok line
	check "nested_kvm_$1" "$2" has "^\[kvm-on\] kvm-test: $1: ok$"
}

# Virtual VMX on the VMX host (guests/configs/nested-vmx-test.conf): vmx_basic marks
# each step on COM1 ("Vb" for step 1 ...), so step N passed when step N + 1 was marked.
if [ "$platform" = nested-vmx ]; then
	vmx_step() {	# N NEXT-LETTER WHY
		check "nested_vmx_step_$1" "$3" has "^\[vmx-on\] V$2\$"
	}
	vmx_step 1 c "CPUID.1:ECX.VMX, IA32_FEATURE_CONTROL or IA32_VMX_BASIC was not as offered"
	vmx_step 2 d "VMXON with CR4.VMXE clear did not raise #UD"
	vmx_step 3 e "CR4.VMXE could not be set, or VMXON of a region with a bad revision was not VMfailInvalid"
	vmx_step 4 f "VMXON did not succeed, or a second VMXON was not VMfailInvalid"
	vmx_step 5 g "VMREAD without a current VMCS, VMCLEAR, VMPTRLD or VMPTRST went wrong"
	vmx_step 6 h "VMREAD/VMWRITE of a field, of its halves, or of an unsupported field went wrong"
	vmx_step 7 i "VMLAUNCH with bad pin-based controls was not VMfailValid(7), or VMPTRLD of the VMXON region not VMfailValid(10)"
	vmx_step 8 j "the guest's guest did not run, or its CPUID was not a VM exit with reason 10, length and RIP"
	vmx_step 9 k "after VMRESUME, the guest's guest's OUT was not a VM exit with reason 30, its port, size and registers"
	vmx_step 10 l "the guest's guest's HLT was not a VM exit with reason 12, or L1 did not find the KERNEL_GS_BASE and CR2 L2 wrote"
	vmx_step 11 m "VMLAUNCH of a launched VMCS was not VMfailValid(4)"
	vmx_step 12 n "a guest state VM entry refuses (CR0.PE clear) did not end in exit reason 0x80000021 at the host RIP"
	vmx_step 13 o "EPT or unrestricted guest not offered, or a real-mode L2 whose pages L1's EPT moves did not run from them"
	vmx_step 14 p "an L2 write to a page L1's EPT does not map was not exit 48 with its address and a write's qualification"
	vmx_step 15 q "an L2 write to a page L1's EPT maps read and execute only was not exit 48 with bits 1, 3 and 5"
	vmx_step 16 r "after L1 moved a page and INVEPT, L2's write did not land in the page's new place"
	vmx_step 17 s "an EPT leaf with W and not R was not exit 49 (misconfiguration) with its address"
	vmx_step 18 t "an interrupt in the VM-entry interruption information was not taken by L2 before its first instruction"
	vmx_step 19 u "interrupt-window exiting did not end in exit 7 once L2 could take an interrupt"
	vmx_step 20 v "a window L1 asked for and took back before it opened still ended in a VM exit, or in the guest's stop"
	check nested_vmx_basic_on "vmx_basic with nested on did not pass all its steps (verdict 0: VMXOFF, then VMREAD is #UD)" \
		has 'vmm: vmx-on: stopped after [0-9]+ ms with verdict 0$'
	check nested_vmx_counts "the VMM did not count 13 entries of the guest's guest and 14 VM exits to the guest" \
		has "vmm: vmx-on: vCPU 0: virtual VMX: 13 entries of the guest's guest, 14 VM exits to the guest\$"
	check nested_vmx_shadow "vmx_basic's EPT steps did not run in a shadow (6 pages, 2 flushes)" \
		has 'vmm: vmx-on: vCPU 0: the shadow EPT: 6 pages mapped, 2 flushes$'
	check nested_vmx_hostile "vmx_hostile did not pass all its steps (verdict 0)" \
		has 'vmm: vmx-hostile: stopped after [0-9]+ ms with verdict 0$'
	check nested_vmx_hostile_refills "vmx_hostile's L2 did not make the shadow EPT drop and refill itself" \
		has 'vmm: vmx-hostile: vCPU 0: the shadow EPT: [0-9]{4,} pages mapped, [0-9]{2,} flushes$'
	check nested_vmx_hostile_entries "vmx_hostile's 3000 entries and 200 garbage VMCSs did not all come back to it" \
		has "vmm: vmx-hostile: vCPU 0: virtual VMX: [0-9]{4,} entries of the guest's guest, [0-9]{4,} VM exits to the guest\$"
	check nested_vmx_basic_off "vmx_basic without nested on did not stop at its first step (no VMX: verdict 1)" \
		has 'vmm: vmx-off: stopped after [0-9]+ ms with verdict 1$'
	linux_kvm_checks vmx svm kvm_intel
	checks_summary "$platform"
	exit
fi

check nested_svm_basic_on "svm_basic with nested on did not pass all its steps (verdict 0)" \
	has 'vmm: svm-on: stopped after [0-9]+ ms with verdict 0$'
check nested_svm_shadow "svm_basic's nested-paging steps did not run in a shadow (4 pages, 2 flushes)" \
	has 'vmm: svm-on: vCPU 0: the shadow nested table: 4 pages mapped, 2 flushes$'
check nested_svm_hostile "svm_hostile did not pass all its steps (verdict 0)" \
	has 'vmm: svm-hostile: stopped after [0-9]+ ms with verdict 0$'
check nested_svm_hostile_refills "svm_hostile's L2 did not make the shadow drop and refill itself (10 or more flushes)" \
	has 'vmm: svm-hostile: vCPU 0: the shadow nested table: [0-9]{4,} pages mapped, [0-9]{2,} flushes$'
check nested_svm_basic_off "svm_basic without nested on did not stop at its first step (no SVM: verdict 1)" \
	has 'vmm: svm-off: stopped after [0-9]+ ms with verdict 1$'
check nested_svm_virtual_gif "the guests with nested on did not run STGI and CLGI on the CPU's virtual GIF" \
	has '^\[kvm-on\] vmm: kvm-on: virtual SVM, STGI and CLGI without exits \(the CPU.s virtual GIF\)$'
linux_kvm_checks svm vmx kvm_amd
checks_summary "$platform"
