/* Runs every registered device test and prints `devices: N passed, N failed`. */
#include "harness.h"

int device_failed;
char device_why[256];
static struct device_group *groups, **last = &groups;

void device_register(struct device_group *group)
{
    *last = group;      /* constructors run in link order: keep it */
    last = &group->next;
}

int main(void)
{
    unsigned passed = 0, failed = 0;
    for (struct device_group *g = groups; g; g = g->next) {
        for (unsigned i = 0; i < g->count; i++) {
            device_failed = 0;
            device_why[0] = 0;
            g->cases[i].fn();
            if (device_failed) {
                failed++;
                printf("FAIL %s: %s\n", g->cases[i].name, device_why);
            } else {
                passed++;
                printf("PASS %s\n", g->cases[i].name);
            }
        }
    }
    printf("devices: %u passed, %u failed\n", passed, failed);
    return failed != 0 || passed == 0;
}

bool test_ram_read(void *ctx, uint64_t gpa, void *buf, size_t n)
{
    const struct test_ram *ram = ctx;
    if (gpa > ram->size || n > ram->size - gpa)
        return false;
    memcpy(buf, ram->bytes + gpa, n);
    return true;
}

bool test_ram_write(void *ctx, uint64_t gpa, const void *buf, size_t n)
{
    struct test_ram *ram = ctx;
    if (gpa > ram->size || n > ram->size - gpa)
        return false;
    memcpy(ram->bytes + gpa, buf, n);
    return true;
}
