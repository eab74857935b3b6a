/*
 * The console server's protocol.  Clients hold a badged capability to its endpoint
 * (the badge names the client) and Call it:
 *   PITH_CONSOLE_HELLO   MR0..3: the client's name, up to 31 bytes, zero padded: letters,
 *                        digits, '.', '_', '-', not "console", no other client's
 *                        (PITH_E_INVALID_ARG); a name the root task gave stays
 *   PITH_CONSOLE_NAME    MR0: a client's badge, MR1..4: its name, as HELLO's; root's
 *                        badge only: the name of the guest the root task starts, which
 *                        its VMM's HELLO cannot change
 *   PITH_CONSOLE_WRITE   MR0: byte count n (1..480), bytes from MR1 on (8 a register);
 *                        what reaches the terminal is filtered (user/console/mux.h);
 *                        a CAN (0x18) ends an open sequence and the unfinished line
 *   PITH_CONSOLE_READ    reply MR0: byte count (0..24), bytes from MR1 on
 *   PITH_CONSOLE_STOPPED MR0: the badge of a client that has stopped (its VMM ended or
 *                        crashed); only the root task's badge (PITH_CONSOLE_ROOT_BADGE)
 *                        may say so, others get PITH_E_ILLEGAL_OP
 *   PITH_CONSOLE_FOCUS   MR0: the badge of a client to focus (the control shell's
 *                        `console NAME`); root's badge only; PITH_E_INVALID_ARG for
 *                        a client that is unknown or stopped
 * Every reply's label is a pith_error.  Keyboard input goes to the focused client —
 * at first the first client that asks for input.  Ctrl-] then a key switches it
 * (Ctrl-] ? lists the keys): a digit focuses that target of the list (clients by
 * badge: the root task is 1, then the guests in configuration order), `c` NAME Enter
 * focuses by name, `n` the next, `f` gives the focused client the full screen;
 * Ctrl-] twice sends one Ctrl-] to the focused client (user/console/mux.h).
 */
#ifndef PITH_CONSOLE_H
#define PITH_CONSOLE_H

enum pith_console_call {
    PITH_CONSOLE_HELLO = 1,
    PITH_CONSOLE_WRITE,
    PITH_CONSOLE_READ,
    PITH_CONSOLE_STOPPED,
    PITH_CONSOLE_FOCUS,
    PITH_CONSOLE_NAME,
};

#define PITH_CONSOLE_ROOT_BADGE 1

#define PITH_CONSOLE_NAME_MAX   31
#define PITH_CONSOLE_WRITE_MAX  480
#define PITH_CONSOLE_READ_MAX   24
#define PITH_CONSOLE_ESCAPE     0x1d    /* Ctrl-] (QEMU keeps Ctrl-A for itself) */

#endif
