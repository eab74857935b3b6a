/* Retype arithmetic: object sizes and placement at the watermark. */
#include "unit.h"

static void sizes_of_fixed_objects(void)
{
    unsigned bits = 0;
    CHECK_EQ(object_size_bits(PITH_OBJ_THREAD, 0, &bits), PITH_OK);
    CHECK_EQ(bits, THREAD_OBJECT_BITS);
    CHECK_EQ(object_size_bits(PITH_OBJ_ENDPOINT, 0, &bits), PITH_OK);
    CHECK_EQ(bits, 6);
    CHECK_EQ(object_size_bits(PITH_OBJ_ADDRESS_SPACE, 0, &bits), PITH_OK);
    CHECK_EQ(bits, 14);
    CHECK_EQ(object_size_bits(PITH_OBJ_FRAME_2M, 0, &bits), PITH_OK);
    CHECK_EQ(bits, 21);
    CHECK_EQ(object_size_bits(PITH_OBJ_PAGE_TABLE, 0, &bits), PITH_OK);
    CHECK_EQ(bits, 12);
}

static void sizes_of_variable_objects(void)
{
    unsigned bits = 0;
    CHECK_EQ(object_size_bits(PITH_OBJ_CNODE, 10, &bits), PITH_OK);
    CHECK_EQ(bits, 16);
    CHECK_EQ(object_size_bits(PITH_OBJ_CNODE, 0, &bits), PITH_E_RANGE);
    CHECK_EQ(object_size_bits(PITH_OBJ_CNODE, 17, &bits), PITH_E_RANGE);
    CHECK_EQ(object_size_bits(PITH_OBJ_UNTYPED, 3, &bits), PITH_E_RANGE);
    CHECK_EQ(object_size_bits(PITH_OBJ_UNTYPED, 48, &bits), PITH_E_RANGE);
    CHECK_EQ(object_size_bits(PITH_OBJ_UNTYPED, 20, &bits), PITH_OK);
    CHECK_EQ(bits, 20);
    CHECK_EQ(object_size_bits(0, 0, &bits), PITH_E_INVALID_ARG);
    CHECK_EQ(object_size_bits(999, 0, &bits), PITH_E_INVALID_ARG);
}

static void placement_aligns_up(void)
{
    bool fits;
    CHECK_EQ(untyped_place(0x40, 12, 1, 16, &fits), 0x1000);
    CHECK(fits);
    CHECK_EQ(untyped_place(0x1000, 12, 1, 16, &fits), 0x1000);
    CHECK(fits);
    CHECK_EQ(untyped_place(0, 6, 1024, 16, &fits), 0);
    CHECK(fits);
}

static void placement_detects_overflow(void)
{
    bool fits;
    untyped_place(0x1000, 12, 16, 16, &fits);           /* 1 + 16 pages in 16 */
    CHECK(!fits);
    untyped_place(0x1000, 12, 15, 16, &fits);
    CHECK(fits);
    untyped_place(0, 21, 1, 20, &fits);                 /* object larger than the untyped */
    CHECK(!fits);
    untyped_place(0x10000, 12, 1, 16, &fits);           /* watermark at the end */
    CHECK(!fits);
    untyped_place(0, 12, ~0ull, 47, &fits);             /* absurd counts do not wrap */
    CHECK(!fits);
}

UNIT_TABLE(untyped,
    { "retype_sizes_fixed", sizes_of_fixed_objects },
    { "retype_sizes_variable", sizes_of_variable_objects },
    { "retype_placement_aligns", placement_aligns_up },
    { "retype_placement_overflow", placement_detects_overflow },
)
