# The kernel the gdb suite debugs (guests/gdb/, tests/gdb.py): a 32-bit multiboot ELF
# with its symbols and line numbers (-g), loaded as the multiboot tests are.
GDB_GUEST := $(BUILD)/guests/gdb-test.elf

$(BUILD)/guests/gdb-start.o: guests/gdb/start.S | deps
	@mkdir -p $(dir $@)
	$(CC) -m32 -c $< -o $@
$(BUILD)/guests/gdb-test.o: guests/gdb/gdb_test.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(MB_CFLAGS) -g -c $< -o $@
$(GDB_GUEST): $(BUILD)/guests/gdb-start.o $(BUILD)/guests/gdb-test.o guests/multiboot/link.ld
	ld $(MB_LDFLAGS) -o $@ $(BUILD)/guests/gdb-start.o $(BUILD)/guests/gdb-test.o
