/*
 * Unprivileged x86_64 instructions a Pith program uses directly: the time-stamp
 * counter and port I/O (allowed only for ports an I/O-port capability opened in the
 * program's address space, see pith_ioport_allow; any other port raises #GP, which
 * arrives at the thread's fault endpoint as PITH_FAULT_EXCEPTION, vector 13).
 * Port helpers take the port first, then the value, unlike Linux's outb(value, port).
 */
#ifndef PITH_CPU_H
#define PITH_CPU_H

#include <stdint.h>

static inline uint64_t pith_rdtsc(void)
{
    uint32_t low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return ((uint64_t)high << 32) | low;
}

static inline void pith_cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}

static inline uint8_t pith_inb(uint16_t port)
{
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

static inline uint16_t pith_inw(uint16_t port)
{
    uint16_t value;
    __asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

static inline uint32_t pith_inl(uint16_t port)
{
    uint32_t value;
    __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

static inline void pith_outb(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline void pith_outw(uint16_t port, uint16_t value)
{
    __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline void pith_outl(uint16_t port, uint32_t value)
{
    __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

#endif
