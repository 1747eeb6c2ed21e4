/* SPDX-License-Identifier: MIT */
/*
 * no_bg_purge.h — for unit tests that compare exact page counts: no
 * background purge may take free blocks off the free areas meanwhile.
 * Included once by such a test (after internal.h), it turns the purge
 * thread off before the library's own constructor (priority 101), so the
 * thread never starts; priority 100 is in the range kept for the
 * implementation, which is what the allocator linked into the test is.
 * A test may turn it on again (sm_bg_enabled = 1) for a part of its own.
 */
#ifndef SM_TESTS_NO_BG_PURGE_H
#define SM_TESTS_NO_BG_PURGE_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wprio-ctor-dtor"
__attribute__((constructor(100)))
static void no_background_purge(void)
{
	sm_bg_enabled = 0;
}
#pragma GCC diagnostic pop

#endif
