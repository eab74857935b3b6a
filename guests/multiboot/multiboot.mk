# The multiboot test kernels (guests/multiboot/), 32-bit ELF built with Debian's gcc
# and ld, their two modules, and a v1 kernel with a wrong header checksum.
MB_CFLAGS := -m32 -std=c11 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -O2 \
	-Wall -Wextra -Werror
MB_LDFLAGS := -m elf_i386 -n -z noexecstack --no-warn-rwx-segments -T guests/multiboot/link.ld
MULTIBOOT_GUESTS := $(BUILD)/guests/mb1-test.elf $(BUILD)/guests/mb2-test.elf \
	$(BUILD)/guests/mb-badsum.elf $(BUILD)/guests/module1.txt $(BUILD)/guests/module2.txt

$(BUILD)/guests/mb-check.o: guests/multiboot/check.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(MB_CFLAGS) -c $< -o $@
$(BUILD)/guests/mb%-start.o: guests/multiboot/start%.S | deps
	@mkdir -p $(dir $@)
	$(CC) -m32 -c $< -o $@
$(BUILD)/guests/mb-badsum-start.o: guests/multiboot/start1.S | deps
	@mkdir -p $(dir $@)
	$(CC) -m32 -DBAD_CHECKSUM -c $< -o $@
$(BUILD)/guests/mb%-test.elf: $(BUILD)/guests/mb%-start.o $(BUILD)/guests/mb-check.o guests/multiboot/link.ld
	ld $(MB_LDFLAGS) -o $@ $(BUILD)/guests/mb$*-start.o $(BUILD)/guests/mb-check.o
$(BUILD)/guests/mb-badsum.elf: $(BUILD)/guests/mb-badsum-start.o $(BUILD)/guests/mb-check.o guests/multiboot/link.ld
	ld $(MB_LDFLAGS) -o $@ $(BUILD)/guests/mb-badsum-start.o $(BUILD)/guests/mb-check.o
$(BUILD)/guests/module%.txt: guests/multiboot/module%.txt
	@mkdir -p $(dir $@)
	cp $< $@
.PRECIOUS: $(BUILD)/guests/mb%-start.o
