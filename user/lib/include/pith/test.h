/*
 * A tiny test framework for tests that run on Pith itself. Tests are listed in an
 * explicit table:
 *
 *     static void test_retype(struct pith_test_ctx *ctx) { ... }
 *     static const struct pith_test tests[] = { { "retype", test_retype }, ... };
 *     pith_run_tests(tests, sizeof(tests) / sizeof(tests[0]), "qemu", &passed, &failed);
 *
 * A case fails if any expectation fails; only the first failure's message is kept.
 * Expectations return whether they held, so a case can stop early:
 *     if (!pith_expect_ok(ctx, err, "retype endpoint")) return;
 */
#ifndef PITH_TEST_H
#define PITH_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pith/abi.h"
#include "pith/printf.h"

#define PITH_TEST_WHY_MAX 160

struct pith_test_ctx {
    const char *name;               /* the running case */
    unsigned failures;              /* failed expectations so far */
    char why[PITH_TEST_WHY_MAX];    /* message of the first one */
};

struct pith_test {
    const char *name;
    void (*fn)(struct pith_test_ctx *ctx);
};

/* Records a failure with a printf-style message when cond is false. */
bool pith_expect(struct pith_test_ctx *ctx, bool cond, const char *fmt, ...)
    PITH_PRINTF_FORMAT(3, 4);

bool pith_expect_eq_u64(struct pith_test_ctx *ctx, uint64_t actual, uint64_t expected,
                        const char *what);
bool pith_expect_err(struct pith_test_ctx *ctx, enum pith_error actual,
                     enum pith_error expected, const char *what);

/* Integers and pointers; `what` names the value in the failure message. */
#define pith_expect_eq(ctx, actual, expected, what) \
    pith_expect_eq_u64((ctx), (uint64_t)(actual), (uint64_t)(expected), (what))

/* Error codes, reported by name. */
#define pith_expect_ok(ctx, err, what) pith_expect_err((ctx), (err), PITH_OK, (what))

/* Runs every case, printing "PASS name" or "FAIL name: why" for each and finally
 * "<platform>: N passed, N failed" — unless platform is NULL, for a caller that runs
 * several tables and prints the total itself. passed and failed may be NULL. */
void pith_run_tests(const struct pith_test *tests, size_t count, const char *platform,
                    unsigned *passed, unsigned *failed);

#endif
