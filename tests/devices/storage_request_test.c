/* The storage server's check of a guest's block request (pith/storage.h): inside the
 * partition, within the data frames, no wrapping arithmetic. */
#include "harness.h"
#include "pith/storage.h"

static void request_bounds(void)
{
    const uint64_t n = 8192;                /* a 4 MiB partition */
    CHECK_EQ(pith_storage_check(PITH_STORAGE_READ, 0, 1, n), PITH_STORAGE_OK);
    CHECK_EQ(pith_storage_check(PITH_STORAGE_WRITE, n - 1, 1, n), PITH_STORAGE_OK);
    CHECK_EQ(pith_storage_check(PITH_STORAGE_READ, n - 8, 8, n), PITH_STORAGE_OK);
    CHECK_EQ(pith_storage_check(PITH_STORAGE_READ, n, 1, n), PITH_STORAGE_IOERR);        /* one past */
    CHECK_EQ(pith_storage_check(PITH_STORAGE_WRITE, n - 1, 2, n), PITH_STORAGE_IOERR);   /* straddles */
    CHECK_EQ(pith_storage_check(PITH_STORAGE_WRITE, UINT64_MAX, 2, n), PITH_STORAGE_IOERR);
    CHECK_EQ(pith_storage_check(PITH_STORAGE_READ, 0, 0, n), PITH_STORAGE_IOERR);
    CHECK_EQ(pith_storage_check(PITH_STORAGE_READ, 0, PITH_STORAGE_MAX_SECTORS, n), PITH_STORAGE_OK);
    CHECK_EQ(pith_storage_check(PITH_STORAGE_READ, 0, PITH_STORAGE_MAX_SECTORS + 1, n), PITH_STORAGE_IOERR);
    CHECK_EQ(pith_storage_check(PITH_STORAGE_READ, 0, UINT32_MAX, n), PITH_STORAGE_IOERR);
    CHECK_EQ(pith_storage_check(PITH_STORAGE_READ, 0, 1, 0), PITH_STORAGE_IOERR);        /* no partition */
}

static void request_operations(void)
{
    CHECK_EQ(pith_storage_check(PITH_STORAGE_FLUSH, UINT64_MAX, UINT32_MAX, 0), PITH_STORAGE_OK);
    CHECK_EQ(pith_storage_check(3, 0, 1, 100), PITH_STORAGE_UNSUPPORTED);
    CHECK_EQ(pith_storage_check(UINT32_MAX, 0, 1, 100), PITH_STORAGE_UNSUPPORTED);
}

DEVICE_TESTS(storage_request,
    { "storage_request_bounds", request_bounds },
    { "storage_request_operations", request_operations },
)
