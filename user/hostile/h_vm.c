/* Hostile cases: see hostile.h. */
#include "hostile.h"

static void placeholder(struct pith_test_ctx *ctx)
{
    pith_expect(ctx, true, "placeholder");
}

KT_TABLE(hvm, { "hvm_placeholder", placeholder })
