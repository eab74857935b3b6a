/* Biased random values: boundaries, small numbers, addresses (fuzz.h). */
#include "fuzz.h"

static const uint64_t boundaries[] = {
    0, 1, 2, 3, 4, 7, 8, 11, 12, 15, 16, 17, 31, 32, 63, 64, 65, 127, 128, 255, 256,
    0xfff, 0x1000, 0x1001, 0xffff, 0x10000, 0x1fffff, 0x200000, 0x3fffffff, 0x40000000,
    0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0x7fffffffffffull, 0x800000000000ull,
    0x7ffffffff000ull, 0x7ffffffffffeull, 0xffff800000000000ull, 0xffffffff80000000ull,
    0x7fffffffffffffffull, 0x8000000000000000ull, 0xfffffffffffff000ull, 0xfffffffffffffffeull,
    0xffffffffffffffffull,
};

uint64_t fuzz_boundary(struct rng *r)
{
    uint64_t v = RNG_PICK(r, boundaries);
    switch (rng_below(r, 4)) {
    case 0: return v - 1;
    case 1: return v + 1;
    default: return v;
    }
}

uint64_t fuzz_value(struct rng *r)
{
    switch (rng_below(r, 8)) {
    case 0: case 1: case 2: return fuzz_boundary(r);
    case 3: case 4: return rng_below(r, 64);
    case 5: return 1ull << rng_below(r, 64);
    default: return rng_next(r);
    }
}

uint64_t fuzz_address(struct rng *r)
{
    static const uint64_t bases[] = {
        0, HELPER_CODE, HELPER_IPC, 0x400000, 0x40000000, 0x8000000000ull,
        PITH_USER_TOP - 0x200000, PITH_USER_TOP - 0x1000, PITH_USER_TOP,
        0xffff800000000000ull, 0x0000800000001000ull, 0xfffffffffffff000ull,
    };
    uint64_t base = RNG_PICK(r, bases);
    switch (rng_below(r, 6)) {
    case 0: return base;
    case 1: return base + (rng_below(r, 16) << 12);
    case 2: return base - (rng_below(r, 4) << 12);
    case 3: return base + (rng_below(r, 512) << 21);
    case 4: return rng_next(r) & ~0xfffull;
    default: return base + rng_below(r, 0x2000);   /* mostly unaligned */
    }
}

void fuzz_port_shortcut(struct rng *r, const uint16_t *ports, unsigned count, uint64_t args[3])
{
    uint64_t port = ports[rng_below(r, count)], kind = rng_below(r, 3);
    uint64_t value = kind == PITH_VM_PORT_READ ? rng_below(r, 0x100) : 0;
    switch (rng_below(r, 12)) {
    case 0: port = rng_percent(r, 50) ? port | 1ull << (16 + rng_below(r, 48)) : fuzz_value(r); break;
    case 1: kind = rng_percent(r, 50) ? PITH_VM_PORT_BUFFER + 1 + rng_below(r, 4) : fuzz_value(r); break;
    case 2: value = rng_percent(r, 50) ? value | 1ull << (8 + rng_below(r, 56)) : fuzz_value(r); break;
    case 3: value = 1 + rng_below(r, 0xff); break;     /* refused unless kind is READ */
    default: break;
    }
    args[0] = port;
    args[1] = kind;
    args[2] = value;
}

void fuzz_cpuid_shortcut(struct rng *r, uint64_t args[4])
{
    uint64_t first = rng_percent(r, 70) ? rng_below(r, 0x20) | (rng_percent(r, 30) ? 0x80000000u : 0)
                                        : (uint32_t)rng_next(r);
    uint64_t last = first + (rng_percent(r, 50) ? 0 : rng_below(r, 0x40));
    switch (rng_below(r, 10)) {
    case 0: last = rng_percent(r, 50) ? last | 1ull << (32 + rng_below(r, 32)) : fuzz_value(r); break;
    case 1: first = last + 1 + rng_below(r, 8); break;                  /* reversed */
    case 2: first = 1, last = 0; break;                                 /* take all away */
    default: break;
    }
    args[0] = first;
    args[1] = last;
    args[2] = rng_next(r);
    args[3] = rng_percent(r, 90) ? rng_next(r) : 0;
    if (first == 1 && last == 0 && rng_percent(r, 50))
        args[2] = args[3] = 0;
}

bool fuzz_cpuid_shortcut_valid(const uint64_t args[4])
{
    if (args[0] > args[1])
        return args[0] == 1 && args[1] == 0 && !args[2] && !args[3];
    return args[1] <= 0xffffffffull;
}

void fuzz_msr_shortcut(struct rng *r, uint64_t args[3])
{
    static const uint32_t msrs[] = { 0x10, 0x1b, 0x8b, 0x1d9, 0x277, 0x6e0, 0xc0000080,
                                     0xc0000102, 0xc0010015, 0xc0010117 };
    uint64_t index = rng_percent(r, 80) ? RNG_PICK(r, msrs) : (uint32_t)rng_next(r);
    uint64_t kind = rng_below(r, 2), value = kind == PITH_VM_MSR_READ ? fuzz_value(r) : 0;
    switch (rng_below(r, 10)) {
    case 0: index = rng_percent(r, 50) ? index | 1ull << (32 + rng_below(r, 32)) : fuzz_value(r); break;
    case 1: kind = rng_percent(r, 50) ? PITH_VM_MSR_READ + 1 + rng_below(r, 4) : fuzz_value(r); break;
    case 2: value = 1 + rng_below(r, 0xffff); break;   /* refused unless kind is READ */
    default: break;
    }
    args[0] = index;
    args[1] = kind;
    args[2] = value;
}

bool fuzz_msr_shortcut_valid(const uint64_t args[3])
{
    return args[0] <= 0xffffffffull && args[1] <= PITH_VM_MSR_READ && (args[1] == PITH_VM_MSR_READ || !args[2]);
}

bool fuzz_port_shortcut_valid(const uint64_t args[3])
{
    return args[0] <= 0xffff && args[1] <= PITH_VM_PORT_BUFFER && args[2] <= 0xff &&
           (args[1] == PITH_VM_PORT_READ || !args[2]);
}
