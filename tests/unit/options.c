/* options: parsing, validation before applying, errors. */
#include "tap.h"
#include "kmalloc.h"
#include "slab_internal.h"

#include <errno.h>
#include <string.h>

extern char sm_stats_target[256];

int main(void)
{
	sm_ensure_init();
	ok(slabmalloc_config("decay_ms=250") == 0 && buddy_decay_ns == 250000000ull,
	   "decay_ms applies");
	ok(slabmalloc_config(" pcp_high=64 , decay_ms=1000 ") == 0 && buddy_pcp_high == 64 &&
	   buddy_decay_ns == 1000000000ull, "several items, spaces around them");
	errno = 0;
	ok(slabmalloc_config("decay_ms=10,pcp_high=x") == -1 && errno == EINVAL &&
	   buddy_decay_ns == 1000000000ull, "a bad value rejects the whole string, nothing applied");
	ok(slabmalloc_config("decay_ms=99999999999999999999") == -1, "overflow is a bad value");
	ok(slabmalloc_config("decay_ms") == -1, "a key without a value is an error");
	ok(slabmalloc_config("unknown=3,decay_ms=20") == 0 && buddy_decay_ns == 20000000ull,
	   "unknown keys are skipped with a warning");
	ok(slabmalloc_config("stats=stderr") == 0 && strcmp(sm_stats_target, "stderr") == 0,
	   "stats=stderr");
	ok(slabmalloc_config("stats=none") == 0 && sm_stats_target[0] == 0, "stats=none");
	ok(slabmalloc_config("mag_budget_mb=1") == 0 && slab_mag_budget == ((size_t)1 << 20) &&
	   mag_thread_share() == ((size_t)1 << 20), "mag_budget_mb sets the magazine budget and share");
	ok(slabmalloc_config("mag_budget_mb=0") == -1 && slab_mag_budget == ((size_t)1 << 20),
	   "mag_budget_mb=0 is a bad value");
	ok(slabmalloc_config("mag_budget_mb=32") == 0 && mag_thread_share() == ((size_t)4 << 20),
	   "mag_budget_mb=32 (the default): one thread's share is capped at 4 MiB");
	ok(slabmalloc_config("") == 0, "an empty string is accepted");
	errno = 0;
	ok(slabmalloc_config(NULL) == -1 && errno == EINVAL, "NULL -> EINVAL");
	return done_testing();
}
