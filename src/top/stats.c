/* SPDX-License-Identifier: MIT */
/*
 * stats.c — introspection: the meminfo-style summary, and the report that
 * the `stats=` option prints at exit (slabinfo, buddyinfo, summary).
 *
 * slabinfo and buddyinfo themselves are printed by their layers (slab.c,
 * buddy.c) in the kernel's /proc formats; this file gathers the totals.
 * Counters are read without locks: the figures are a snapshot, each one
 * exact at some moment, not all at the same moment.
 *
 * Floor 9 (src/layers.txt), beside options.c: it reads the layers below
 * and prints. The exit report runs from init.c's library destructor, so it
 * is part of every link, static ones included (init.o is always pulled in,
 * stats.o with it). slabmalloc_meminfo, the entry point, is in
 * api/control.c.
 */
#include "kmalloc.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static void line_kb(FILE *out, const char *name, size_t bytes)
{
	fprintf(out, "%-16s%10zu kB\n", name, bytes >> 10);
}

void stats_meminfo(FILE *out)
{
	struct kmalloc_totals t;
	size_t grown = 0, mapped = 0, offline = 0, free_b = 0, dirty_b = 0, purged = 0;
	size_t boot_total = 0, boot_used = 0;

	kmalloc_totals(&t);
	for (int z = 0; z < SM_NR_ZONES; z++) {
		struct zone *zn = &sm_zones[z];
		mapped += zone_heap_bytes(zn) + SM_READ_ONCE(zn->zone_map_bytes);
		grown += SM_READ_ONCE(zn->zone_limit);
		offline += zone_offline_bytes(zn);
		free_b += SM_READ_ONCE(zn->zone_free_pages) << SM_PAGE_SHIFT;
		dirty_b += SM_READ_ONCE(zn->zone_dirty_pages) << SM_PAGE_SHIFT;
		purged += SM_READ_ONCE(zn->zone_purged_bytes);
	}
	bootmem_stats(&boot_total, &boot_used);
	line_kb(out, "HeapMapped:", mapped);       /* sections + mem_map */
	line_kb(out, "HeapGrown:", grown);
	line_kb(out, "HeapOffline:", offline);     /* sections given back */
	line_kb(out, "PagesFree:", free_b);
	line_kb(out, "PagesDirty:", dirty_b);
	line_kb(out, "PagesPurged:", purged);
	line_kb(out, "Slab:", t.slab_bytes);
	line_kb(out, "SlabActive:", t.slab_active_bytes);
	line_kb(out, "LargeCached:", t.cached_large_bytes);
	line_kb(out, "Vmalloc:", t.huge_bytes);
	line_kb(out, "VmallocCached:", vmap_cached_bytes());
	line_kb(out, "Bootmem:", boot_total);
	line_kb(out, "BootmemUsed:", boot_used);
	line_kb(out, "RSS:", os_rss_bytes());
}

/* Each process under LD_PRELOAD reports at its exit: the header names it. */
static void stats_report(FILE *out)
{
	extern char *program_invocation_short_name;
	const char *prog = program_invocation_short_name;
	long pid = (long)getpid();
	fprintf(out, "---- slabmalloc (%s, pid %ld): slabinfo ----\n", prog, pid);
	cache_print_slabinfo(out);
	fprintf(out, "---- slabmalloc (%s, pid %ld): buddyinfo ----\n", prog, pid);
	buddy_print_buddyinfo(out);
	fprintf(out, "---- slabmalloc (%s, pid %ld): meminfo ----\n", prog, pid);
	stats_meminfo(out);
	if (fault_calls(FAULT_SLAB) || fault_calls(FAULT_PAGE_ALLOC)) {
		fprintf(out, "---- slabmalloc (%s, pid %ld): fault injection ----\n", prog, pid);
		fault_print(out);
	}
	fflush(out);
}

void stats_at_exit(void)
{
	if (!sm_stats_target[0])
		return;
	if (strcmp(sm_stats_target, "stderr") == 0) {
		stats_report(stderr);
		return;
	}
	FILE *f = fopen(sm_stats_target, "a");
	if (!f) {
		sm_warn("stats: cannot open '%s'", sm_stats_target);
		return;
	}
	stats_report(f);
	fclose(f);
}

