/* Runs every host unit test and prints `unit: N passed, N failed`. */
#include "unit.h"

int unit_failed;
char unit_why[256];

static const struct { const struct unit_case *cases; const unsigned *count; } groups[] = {
    { cap_cases, &cap_count },
    { schedq_cases, &schedq_count },
    { deadline_cases, &deadline_count },
    { bootmem_cases, &bootmem_count },
    { multiboot1_cases, &multiboot1_count },
    { acpi_cases, &acpi_count },
    { untyped_cases, &untyped_count },
    { bulk_cases, &bulk_count },
    { message_cases, &message_count },
    { uart16550_cases, &uart16550_count },
    { vmm_cases, &vmm_count },
    { guest_state_cases, &guest_state_count },
};

int main(void)
{
    unsigned passed = 0, failed = 0;
    for (unsigned g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        for (unsigned i = 0; i < *groups[g].count; i++) {
            const struct unit_case *c = &groups[g].cases[i];
            unit_failed = 0;
            unit_why[0] = 0;
            c->fn();
            if (unit_failed) {
                failed++;
                printf("FAIL %s: %s\n", c->name, unit_why);
            } else {
                passed++;
                printf("PASS %s\n", c->name);
            }
        }
    }
    printf("unit: %u passed, %u failed\n", passed, failed);
    return failed != 0;
}
