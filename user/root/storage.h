/* The root task's part in host storage (docs/storage.md): the storage server, and a
 * channel between it and each guest that names a host partition (`disk part:NAME`). */
#ifndef ROOT_STORAGE_H
#define ROOT_STORAGE_H

#include <pith/pith.h>
#include <pith/storage.h>
#include <pith/sysconf.h>

/* Makes the channels and starts the server (the module `image`, NULL when absent)
 * before the guests start.  A guest whose channel could not be made starts without
 * its disk, said so. */
void storage_start(const struct sysconf *config, const struct pith_module_desc *image);

/* Whether guest `index` has a channel (its block then carries `disk part:NAME`). */
bool storage_has_disk(unsigned index);

/* The capabilities guest `index`'s VMM gets for its disk (PITH_GUEST_STORAGE_CAPS of
 * them, pith/storage.h), written to caps; their count, 0 when it has no disk. */
unsigned storage_guest_caps(unsigned index, pith_cap_t *caps);

#endif
