/* Host tests of the VMM's device models (vmm/dev), under ASan and UBSan.  Each file
 * registers its own group, so test files never share a table. */
#ifndef DEVICE_HARNESS_H
#define DEVICE_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct device_case {
    const char *name;
    void (*fn)(void);
};

struct device_group {
    const struct device_case *cases;
    unsigned count;
    struct device_group *next;
};

void device_register(struct device_group *group);

/* Guest RAM for the models that reach guest memory (struct guest_memory's callbacks,
 * ctx = the struct test_ram): bytes [0, size), every access bounds-checked. */
struct test_ram {
    unsigned char *bytes;
    size_t size;
};
bool test_ram_read(void *ctx, uint64_t gpa, void *buf, size_t n);
bool test_ram_write(void *ctx, uint64_t gpa, const void *buf, size_t n);

extern int device_failed;
extern char device_why[256];

#define CHECK(cond) do { \
        if (!(cond) && !device_failed) { \
            device_failed = 1; \
            snprintf(device_why, sizeof(device_why), "%s:%d: %s", __FILE__, __LINE__, #cond); \
        } \
    } while (0)

#define CHECK_EQ(a, b) do { \
        unsigned long long va_ = (unsigned long long)(a), vb_ = (unsigned long long)(b); \
        if (va_ != vb_ && !device_failed) { \
            device_failed = 1; \
            snprintf(device_why, sizeof(device_why), "%s:%d: %s == %llu (0x%llx), expected %llu (0x%llx)", \
                     __FILE__, __LINE__, #a, va_, va_, vb_, vb_); \
        } \
    } while (0)

/* DEVICE_TESTS(pic, { "pic_init", test_init }, ...) at the end of a test file. */
#define DEVICE_TESTS(group, ...) \
    static const struct device_case group##_cases[] = { __VA_ARGS__ }; \
    static struct device_group group##_group = { \
        group##_cases, sizeof(group##_cases) / sizeof(group##_cases[0]), NULL }; \
    __attribute__((constructor)) static void group##_register(void) { device_register(&group##_group); }

#endif
