/*
 * The test runner: one line per case, one summary line (DESIGN.md §8).
 */
#include <stdarg.h>

#include "pith/pith.h"
#include "pith/test.h"

bool pith_expect(struct pith_test_ctx *ctx, bool cond, const char *fmt, ...)
{
    if (cond)
        return true;
    if (ctx->failures++ == 0) {
        va_list args;
        va_start(args, fmt);
        pith_vsnprintf(ctx->why, sizeof(ctx->why), fmt, args);
        va_end(args);
    }
    return false;
}

bool pith_expect_eq_u64(struct pith_test_ctx *ctx, uint64_t actual, uint64_t expected,
                        const char *what)
{
    return pith_expect(ctx, actual == expected, "%s is %llu (0x%llx), expected %llu (0x%llx)",
                       what, (unsigned long long)actual, (unsigned long long)actual,
                       (unsigned long long)expected, (unsigned long long)expected);
}

bool pith_expect_err(struct pith_test_ctx *ctx, enum pith_error actual,
                     enum pith_error expected, const char *what)
{
    return pith_expect(ctx, actual == expected, "%s returned %s, expected %s", what,
                       pith_error_name(actual), pith_error_name(expected));
}

void pith_run_tests(const struct pith_test *tests, size_t count, const char *platform,
                    unsigned *passed, unsigned *failed)
{
    unsigned pass_count = 0, fail_count = 0;

    for (size_t i = 0; i < count; i++) {
        struct pith_test_ctx ctx = { .name = tests[i].name };
        tests[i].fn(&ctx);
        if (ctx.failures == 0) {
            pass_count++;
            pith_printf("PASS %s\n", tests[i].name);
        } else {
            fail_count++;
            pith_printf("FAIL %s: %s\n", tests[i].name, ctx.why);
        }
    }
    if (platform)   /* NULL: the caller sums several tables and prints the total */
        pith_printf("%s: %u passed, %u failed\n", platform, pass_count, fail_count);
    if (passed)
        *passed = pass_count;
    if (failed)
        *failed = fail_count;
}
