/* One request of one channel (serve.h). */
#include "serve.h"

static enum pith_storage_status perform(const struct storage_disk *disk, struct storage_channel *ch,
                                        uint32_t op, uint64_t sector, uint32_t count)
{
    enum pith_storage_status s = pith_storage_check(op, sector, count, ch->served ? ch->sectors : 0);
    if (!ch->served)
        return PITH_STORAGE_IOERR;
    if (s != PITH_STORAGE_OK)
        return s;
    /* point of no return: [sector, sector + count) lies inside this partition */
    uint64_t lba = ch->first_lba + sector;
    uint32_t step = disk->max_count ? disk->max_count : 1;
    bool ok = true;
    switch (op) {
    case PITH_STORAGE_READ:
        for (uint32_t done = 0; ok && done < count; done += step)
            ok = disk->read(disk->ctx, lba + done, count - done < step ? count - done : step, ch->data + done * 512ull);
        break;
    case PITH_STORAGE_WRITE:
        for (uint32_t done = 0; ok && done < count; done += step)
            ok = disk->write(disk->ctx, lba + done, count - done < step ? count - done : step, ch->data + done * 512ull);
        break;
    default:
        ok = disk->flush(disk->ctx);
        break;
    }
    return ok ? PITH_STORAGE_OK : PITH_STORAGE_IOERR;
}

bool storage_serve(const struct storage_disk *disk, struct storage_channel *ch)
{
    uint32_t seq = __atomic_load_n(&ch->control->seq, __ATOMIC_ACQUIRE);
    if (seq == ch->last_seq)
        return false;
    uint32_t op = ch->control->op, count = ch->control->count;
    uint64_t sector = ch->control->sector;
    ch->control->status = perform(disk, ch, op, sector, count);
    ch->last_seq = seq;
    __atomic_store_n(&ch->control->done, seq, __ATOMIC_RELEASE);
    return true;
}
