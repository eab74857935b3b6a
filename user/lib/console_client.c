/* Console-server client calls (pith/console_client.h). */
#include "pith/console.h"
#include "pith/console_client.h"
#include "pith/pith.h"

/* Pack bytes into message registers from `first` on, 8 to a register. */
static unsigned pack(uint64_t *words, unsigned first, const char *bytes, size_t n)
{
    unsigned count = (unsigned)((n + 7) / 8);
    for (unsigned w = 0; w < count; w++) {
        words[first + w] = 0;
        for (unsigned b = 0; b < 8 && w * 8 + b < n; b++)
            words[first + w] |= (uint64_t)(uint8_t)bytes[w * 8 + b] << (8 * b);
    }
    return first + count;
}

static enum pith_error call(pith_cap_t console, uint64_t label, const uint64_t *words, unsigned n,
                            struct pith_msg *reply)
{
    enum pith_error err = pith_invoke(console, label, words, n, reply);
    if (err == PITH_OK)
        err = (enum pith_error)pith_msginfo_label(reply->info);
    return err;
}

/* A name in words[first..first + 3], zero padded. */
static void pack_name(uint64_t *words, unsigned first, const char *name)
{
    size_t n = 0;
    while (n < PITH_CONSOLE_NAME_MAX && name[n])
        n++;
    for (unsigned i = 0; i < 4; i++)
        words[first + i] = 0;
    pack(words, first, name, n);
}

enum pith_error pith_console_hello(pith_cap_t console, const char *name)
{
    uint64_t words[4];
    pack_name(words, 0, name);
    struct pith_msg reply;
    return call(console, PITH_CONSOLE_HELLO, words, 4, &reply);
}

enum pith_error pith_console_name(pith_cap_t console, uint64_t badge, const char *name)
{
    uint64_t words[5] = { badge };
    pack_name(words, 1, name);
    struct pith_msg reply;
    return call(console, PITH_CONSOLE_NAME, words, 5, &reply);
}

enum pith_error pith_console_write(pith_cap_t console, const char *bytes, size_t n)
{
    while (n) {
        uint64_t words[PITH_MSG_MAX];
        size_t chunk = n < PITH_CONSOLE_WRITE_MAX ? n : PITH_CONSOLE_WRITE_MAX;
        words[0] = chunk;
        unsigned length = pack(words, 1, bytes, chunk);
        struct pith_msg reply;
        enum pith_error err = call(console, PITH_CONSOLE_WRITE, words, length, &reply);
        if (err)
            return err;
        bytes += chunk;
        n -= chunk;
    }
    return PITH_OK;
}

enum pith_error pith_console_read(pith_cap_t console, char *out, size_t max, size_t *got)
{
    struct pith_msg reply;
    *got = 0;
    enum pith_error err = call(console, PITH_CONSOLE_READ, NULL, 0, &reply);
    if (err)
        return err;
    size_t n = reply.mr[0] < max ? reply.mr[0] : max;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(reply.mr[1 + i / 8] >> (8 * (i % 8)));
    *got = n;
    return PITH_OK;
}

enum pith_error pith_console_stopped(pith_cap_t console, uint64_t badge)
{
    struct pith_msg reply;
    return call(console, PITH_CONSOLE_STOPPED, &badge, 1, &reply);
}

enum pith_error pith_console_focus(pith_cap_t console, uint64_t badge)
{
    struct pith_msg reply;
    return call(console, PITH_CONSOLE_FOCUS, &badge, 1, &reply);
}
