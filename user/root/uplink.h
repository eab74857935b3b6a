/*
 * The root task's part of the uplink (docs/network.md): find the host's e1000 on the
 * PCI bus, give it a port on the switch, start its driver (user/uplink) in a domain
 * of its own (include/pith/uplink.h).
 */
#ifndef ROOT_UPLINK_H
#define ROOT_UPLINK_H

#include <stdbool.h>
#include <pith/abi.h>

typedef void (*uplink_say_fn)(const char *fmt, ...);

/*
 * Before the switch starts: find the NIC, claim its registers and interrupt, make the
 * channel of switch port `port` on `segment`, and store at switch_caps what the switch
 * gets for that port (PITH_SWITCH_PORT_CAPS capabilities).  False (said why) when
 * there is no NIC, no `uplink` module or no memory: the system runs without uplink.
 */
bool uplink_prepare(const struct pith_bootinfo *bi, const struct pith_module_desc *image, uint32_t segment,
                    unsigned port, pith_cap_t switch_notification, pith_cap_t *switch_caps, uplink_say_fn say);

/* After the switch has started: start the driver. */
void uplink_start(uplink_say_fn say);

#endif
