/* SPDX-License-Identifier: MIT */
/*
 * config.c — slabmalloc_config(), the run-time form of SLABMALLOC_OPTIONS.
 *
 * API floor (internal.h): an entry point that makes sure the allocator is
 * initialised (so the environment's options are applied first), then
 * parses and applies the string with options.c's table.
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
