/* SPDX-License-Identifier: MIT */
/*
 * control.c — run-time control and the summary: slabmalloc_config(), the
 * run-time form of SLABMALLOC_OPTIONS, and slabmalloc_meminfo().
 *
 * API floor (internal.h): entry points that make sure the allocator is
 * initialised (so the environment's options are applied first), then call
 * options.c (parse and apply the string with its table) or stats.c.
 */
#include "slab_internal.h"

#include <errno.h>

/**
 * slabmalloc_config - apply "key=value,..." options at run time.
 * CONTEXT: any thread.
 * RETURNS: 0; or -1 with errno EINVAL (and a message on stderr) if the
 * string has a bad item, in which case nothing was applied.
 */
SM_EXPORT int slabmalloc_config(const char *options)
{
	if (!options) {
		errno = EINVAL;
		return -1;
	}
	sm_ensure_init();
	if (options_apply(options, "slabmalloc_config") != 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/**
 * slabmalloc_meminfo - a /proc/meminfo-style summary of the allocator.
 * CONTEXT: any thread; takes no allocator lock.
 */
SM_EXPORT void slabmalloc_meminfo(FILE *out)
{
	sm_ensure_init();
	stats_meminfo(out);
}

/**
 * slabmalloc_debug_check - check every object of the debugged caches now
 *
 * The red zone of every allocated object and the poison of every free one
 * that slub_debug (debug=) has a record of are checked, as a free or an
 * allocation would; the first fault is reported ("BUG <cache> ...") and
 * the program aborts.
 *
 * CONTEXT: any thread; takes the debug lock.
 * RETURNS: the number of objects checked.
 */
SM_EXPORT int slabmalloc_debug_check(void)
{
	sm_ensure_init();
	return slab_debug_check_all();
}
