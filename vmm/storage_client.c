/* The VMM's end of a storage channel (storage_client.h). */
#include <pith/alloc.h>
#include <pith/pith.h>
#include <pith/string.h>
#include <pith/syscall.h>
#include "storage_client.h"
#include "vm.h"

bool storage_client_open(struct storage_client *s, struct vm *vm, uint64_t first_slot, uint64_t vaddr,
                         uint64_t tsc_hz)
{
    for (unsigned f = 0; f < PITH_STORAGE_CHANNEL_FRAMES; f++)
        if (pith_map_frame(first_slot + PITH_GUEST_STORAGE_FRAMES + f, PITH_SLOT_ADDRESS_SPACE,
                           vaddr + 4096ull * f, PITH_RIGHT_READ | PITH_RIGHT_WRITE, 0) != PITH_OK)
            return false;
    *s = (struct storage_client){ vm, (volatile struct pith_storage_control *)vaddr, (uint8_t *)(vaddr + 4096),
                                  first_slot + PITH_GUEST_STORAGE_NOTIFY, first_slot + PITH_GUEST_STORAGE_SERVER,
                                  0, 0, tsc_hz / 1000 * STORAGE_CLIENT_PATIENCE_MS, 0 };
    uint32_t state;
    while ((state = __atomic_load_n(&s->control->state, __ATOMIC_ACQUIRE)) == PITH_STORAGE_STARTING) {
        uint64_t bits;
        if (pith_wait(s->notification, &bits) != PITH_OK)
            return false;
    }
    s->sectors = s->control->sectors;
    /* The channel outlives a VMM (a guest started again keeps it): number requests on
     * from the last one published here, or the first would look answered already, or
     * take the answer to one a VMM stopped mid-request had left. */
    s->seq = s->control->seq;
    return state == PITH_STORAGE_READY && s->sectors;
}

/* One request, answered: its status. */
static uint32_t request(struct storage_client *s, uint32_t op, uint64_t sector, uint32_t count)
{
    s->control->op = op;
    s->control->sector = sector;
    s->control->count = count;
    uint32_t seq = ++s->seq;
    __atomic_store_n(&s->control->seq, seq, __ATOMIC_RELEASE);
    pith_signal(s->server);
    uint64_t since = pith_rdtsc();
    bool asked_again = false;
    while (__atomic_load_n(&s->control->done, __ATOMIC_ACQUIRE) != seq) {
        uint64_t now = pith_rdtsc(), bits;
        if (now - since >= s->patience) {
            if (!asked_again && ++s->asked_again <= 3)
                vm_log(s->vm, "storage: request %u unanswered after %u ms: signalling the server again", seq,
                       STORAGE_CLIENT_PATIENCE_MS);
            asked_again = true;
            pith_signal(s->server);
            since = now;
        }
        /* (a deadline left from an earlier request only makes this loop look again) */
        pith_notification_set_deadline(s->notification, since + s->patience);
        if (pith_wait(s->notification, &bits) != PITH_OK)
            return PITH_STORAGE_IOERR;
    }
    return s->control->status;
}

static bool whole_sectors(uint64_t offset, size_t length)
{
    return offset % 512 == 0 && length % 512 == 0 && length && length <= PITH_STORAGE_DATA_BYTES;
}

bool storage_client_read(void *ctx, uint64_t offset, void *buf, size_t length)
{
    struct storage_client *s = ctx;
    if (!whole_sectors(offset, length) ||
        request(s, PITH_STORAGE_READ, offset / 512, (uint32_t)(length / 512)) != PITH_STORAGE_OK)
        return false;
    if (buf != s->data)
        pith_memcpy(buf, s->data, length);
    return true;
}

bool storage_client_write(void *ctx, uint64_t offset, const void *buf, size_t length)
{
    struct storage_client *s = ctx;
    if (!whole_sectors(offset, length))
        return false;
    if (buf != s->data)
        pith_memcpy(s->data, buf, length);
    return request(s, PITH_STORAGE_WRITE, offset / 512, (uint32_t)(length / 512)) == PITH_STORAGE_OK;
}

bool storage_client_flush(void *ctx)
{
    return request(ctx, PITH_STORAGE_FLUSH, 0, 0) == PITH_STORAGE_OK;
}
