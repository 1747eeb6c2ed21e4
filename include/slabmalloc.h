/* SPDX-License-Identifier: MIT */
/*
 * <slabmalloc.h> — umbrella header: the kernel-style API of slabmalloc and
 * its introspection calls. The malloc family needs no header: it replaces
 * the C library's.
 */
#ifndef SLABMALLOC_H
#define SLABMALLOC_H

#include <stdio.h>
#include <slabmalloc/gfp.h>
#include <slabmalloc/mm.h>
#include <slabmalloc/bootmem.h>
#include <slabmalloc/vmalloc.h>
#include <slabmalloc/io.h>
#include <slabmalloc/slab.h>
#include <slabmalloc/mempool.h>
#include <slabmalloc/percpu.h>

#ifdef __cplusplus
extern "C" {
#endif

/* /proc/buddyinfo layout: free blocks per order, per zone. */
void slabmalloc_buddyinfo(FILE *out);
/* /proc/slabinfo version 2.1, one line per cache. */
void slabmalloc_slabinfo(FILE *out);
/* /proc/meminfo-style summary of the whole allocator. */
void slabmalloc_meminfo(FILE *out);
/* Apply "key=value,..." options at run time (same keys as SLABMALLOC_OPTIONS).
 * RETURNS: 0, or -1 with errno EINVAL and a message on stderr for a bad
 * string; nothing is applied from a string with an error. */
int slabmalloc_config(const char *options);
/* slub_debug (debug=, docs/debugging.md): check the red zones and poison of
 * every object of the debugged caches now; a fault is reported and aborts.
 * RETURNS: the objects checked. */
int slabmalloc_debug_check(void);
/* Fault injection (fail_slab=, fail_page_alloc=): the active specs and the
 * calls seen / failures injected since each was set (docs/fault-injection.md). */
void slabmalloc_fault_stats(FILE *out);

#ifdef __cplusplus
}
#endif
#endif /* SLABMALLOC_H */
