/* SPDX-License-Identifier: MIT */
/*
 * buddy_decay.t — freed memory goes back to the OS: RSS falls after
 * buddy_purge(true), and after the decay period on the next slow-path free;
 * purged blocks are clean (read as zeros without a memset).
 */
#include <slabmalloc.h>
#include "page_alloc.h"
#include "tap.h"

#include <string.h>
#include <time.h>

#define NBLK 16                         /* 16 x 4 MiB = 64 MiB */
#define MIB (1024.0 * 1024.0)

static size_t rss(void)
{
	return os_rss_bytes();
}

static void alloc_touch(unsigned long *b, int n)
{
	for (int i = 0; i < n; i++) {
		b[i] = __get_free_pages(GFP_KERNEL, MAX_ORDER - 1);
		if (b[i])
			memset((void *)b[i], 0x5a, PAGE_SIZE << (MAX_ORDER - 1));
	}
}

int main(void)
{
	unsigned long b[NBLK];
	const size_t total = (size_t)NBLK * (PAGE_SIZE << (MAX_ORDER - 1));
	struct zone *z = &sm_zones[ZONE_NORMAL];

	size_t r0 = rss();
	ok(r0 > 0, "os_rss_bytes reads /proc/self/statm (%.1f MiB)", r0 / MIB);
	alloc_touch(b, NBLK);
	size_t r1 = rss();
	ok(r1 >= r0 + total * 9 / 10, "64 MiB touched: RSS %.1f -> %.1f MiB", r0 / MIB, r1 / MIB);
	for (int i = 0; i < NBLK; i++)
		free_pages(b[i], MAX_ORDER - 1);
	ok(z->zone_dirty_pages >= total / PAGE_SIZE,
	   "freed blocks are dirty (%zu dirty pages)", z->zone_dirty_pages);
	size_t purged_before = z->zone_purged_bytes;
	size_t got = buddy_purge(true);
	size_t r2 = rss();
	ok(got >= total, "buddy_purge(true) gave back %.1f MiB", got / MIB);
	ok(r2 + total * 8 / 10 <= r1, "RSS fell by most of it: %.1f -> %.1f MiB", r1 / MIB,
	   r2 / MIB);
	ok(z->zone_dirty_pages == 0 && z->zone_purged_bytes - purged_before >= total,
	   "no dirty pages left; zone_purged_bytes counts %.1f MiB",
	   (z->zone_purged_bytes - purged_before) / MIB);
	ok(buddy_validate(), "valid after the purge");

	/* Purged memory is clean: __GFP_ZERO skips the memset and it still
	 * reads as zeros. */
	unsigned long zb = __get_free_pages(GFP_KERNEL | __GFP_ZERO, MAX_ORDER - 1);
	size_t r_zero = rss();
	bool zero = zb != 0;
	for (size_t k = 0; zb && k < (PAGE_SIZE << (MAX_ORDER - 1)); k += 64)
		zero &= ((unsigned char *)zb)[k] == 0;
	ok(zero, "a purged block handed out with __GFP_ZERO reads as zeros");
	ok(r_zero < r2 + (1 << 20), "and was not memset (RSS %.1f -> %.1f MiB)", r2 / MIB,
	   r_zero / MIB);
	free_pages(zb, MAX_ORDER - 1);
	buddy_purge(true);

	/* Decay: dirty blocks older than buddy_decay_ns are purged by the next
	 * free that reaches the zone. */
	buddy_decay_ns = 50ull * 1000000ull;
	z->zone_next_decay_ns = 0;
	size_t r3 = rss();
	alloc_touch(b, NBLK);
	size_t r4 = rss();
	for (int i = 0; i < NBLK - 1; i++)
		free_pages(b[i], MAX_ORDER - 1);
	size_t r5 = rss();
	ok(r5 + total / 2 > r4, "right after the free nothing is purged yet (%.1f MiB)",
	   r5 / MIB);
	struct timespec ts = { 0, 200 * 1000000L };
	nanosleep(&ts, NULL);
	free_pages(b[NBLK - 1], MAX_ORDER - 1);   /* the slow path that notices */
	size_t r6 = rss();
	ok(r6 + total * 7 / 10 <= r4,
	   "after the decay period a free purges the old blocks: %.1f -> %.1f MiB (base %.1f)",
	   r4 / MIB, r6 / MIB, r3 / MIB);
	ok(z->zone_dirty_pages <= (PAGE_SIZE << (MAX_ORDER - 1)) / PAGE_SIZE,
	   "only the block freed last is still dirty (%zu pages)", z->zone_dirty_pages);
	ok(buddy_validate(), "valid after the decay");
	return done_testing();
}
