/* SPDX-License-Identifier: MIT */
/*
 * buddy_descmap.t — the page descriptors of memory that holds nothing cost
 * no RSS (buddy.c, theory 2): once freed blocks are purged, all but the
 * first page of the descriptors of each wholly free section are a view of
 * the shared template, not resident; so are the descriptors of the window
 * past the grown part. Such descriptors still read as a valid free state
 * (a free of an address inside reports a double free inside a free block,
 * the validators pass), and the sections are used again with private
 * descriptors and intact contents.
 *
 * Residency is read per page from /proc/self/pagemap (bit 63: present in
 * this process's page tables). Without the background purge thread, so
 * that the purge is ours; bounded by alarm(). Purged sections stay online
 * here (buddy_offline_sections off), so that they are free blocks whose
 * descriptors can be read; the cycles of the race test take them offline
 * and back too. buddy_offline.t tests offline sections.
 */
#include <slabmalloc.h>
#include "page_alloc.h"
#include "tap.h"
#include "no_bg_purge.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define NBLK      16                               /* 16 sections, 64 MiB */
#define SEC_BYTES (PAGE_SIZE << (MAX_ORDER - 1))
#define DESC_SEC  ((SEC_BYTES / PAGE_SIZE) * sizeof(struct page))   /* 64 KiB */

static int pagemap_fd = -1;

/* Pages of [@addr, @addr + @len) present in this process's page tables. */
static size_t present_pages(const void *addr, size_t len)
{
	size_t n = 0;
	uintptr_t first = (uintptr_t)addr / PAGE_SIZE;
	uintptr_t last = ((uintptr_t)addr + len + PAGE_SIZE - 1) / PAGE_SIZE;
	for (uintptr_t p = first; p < last; p++) {
		uint64_t e = 0;
		if (pread(pagemap_fd, &e, sizeof e, (off_t)(p * sizeof e)) != sizeof e)
			return SIZE_MAX;
		n += (e >> 63) & 1;
	}
	return n;
}

static unsigned long blk[NBLK];

static void free_inside(void *arg)
{
	(void)arg;
	free_pages(blk[3] + 100 * PAGE_SIZE, 0);
}

/* Lock-free readers while sections go from views to private descriptors
 * and back: the interior descriptors of a section used only whole always
 * read as a page that holds nothing, never as zeros. */
static volatile int stop_reader;
static volatile unsigned long watched;    /* an address in a cycled section */
static unsigned long reads, bad_reads;

static void *reader(void *arg)
{
	(void)arg;
	while (!stop_reader) {
		unsigned long a = watched;
		if (!a)
			continue;
		const struct page *pg = virt_to_page((void *)(a + 100 * PAGE_SIZE));
		int32_t key = __atomic_load_n(&pg->slab_key, __ATOMIC_RELAXED);
		uint8_t zone = __atomic_load_n(&pg->zone, __ATOMIC_RELAXED);
		reads++;
		if (key != buddy_slab_key_none || zone != ZONE_NORMAL)
			bad_reads++;
	}
	return NULL;
}

static void cycle_sections(void)
{
	pthread_t t;
	ok(pthread_create(&t, NULL, reader, NULL) == 0, "a reader thread starts");
	bool got = true;
	for (int round = 0; round < 1500 && got; round++) {
		for (int i = 0; i < NBLK; i++) {
			blk[i] = __get_free_pages(GFP_KERNEL, MAX_ORDER - 1);
			got &= blk[i] != 0;
		}
		watched = blk[round % NBLK];
		for (int i = 0; i < NBLK; i++)
			if (blk[i])
				free_pages(blk[i], MAX_ORDER - 1);
		buddy_purge(true);            /* views again, and offline */
	}
	stop_reader = 1;
	pthread_join(t, NULL);
	ok(got && reads > 0 && bad_reads == 0,
	   "1500 rounds of sections made private and views again: %lu of %lu lock-free "
	   "reads saw anything but a free page's descriptor", bad_reads, reads);
}

int main(void)
{
	alarm(120);
	buddy_offline_sections = false;
	struct zone *z = &sm_zones[ZONE_NORMAL];
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	ok(pagemap_fd >= 0, "/proc/self/pagemap opens");
	if (pagemap_fd < 0)
		return done_testing();

	bool got = true;
	for (int i = 0; i < NBLK; i++) {
		blk[i] = __get_free_pages(GFP_KERNEL, MAX_ORDER - 1);
		got &= blk[i] != 0;
		if (blk[i])
			memset((void *)blk[i], 0x5a, SEC_BYTES);
	}
	ok(got, "%d sections allocated and written", NBLK);
	if (!got)
		return done_testing();
	size_t held = 0;
	for (int i = 0; i < NBLK; i++)
		held += present_pages(virt_to_page((void *)blk[i]), DESC_SEC);
	ok(held == NBLK * DESC_SEC / PAGE_SIZE,
	   "their descriptors are resident while they are in use (%zu of %zu pages)", held,
	   NBLK * DESC_SEC / PAGE_SIZE);

	for (int i = 0; i < NBLK; i++)
		free_pages(blk[i], MAX_ORDER - 1);
	buddy_purge(true);
	size_t left = 0;
	for (int i = 0; i < NBLK; i++)
		left += present_pages(virt_to_page((void *)blk[i]), DESC_SEC);
	ok(left <= NBLK, "freed and purged, one descriptor page per section stays "
	   "resident (%zu pages for %d sections)", left, NBLK);

	/* The window past the grown part: views too. */
	size_t grown = z->zone_limit / PAGE_SIZE;
	size_t mapped = z->zone_map_bytes / sizeof(struct page);
	size_t beyond = mapped > grown ?
	                present_pages(&z->zone_mem_map[grown],
	                              (mapped - grown) * sizeof(struct page)) : 0;
	ok(beyond == 0, "no descriptor page past the grown part is resident "
	   "(%zu of %zu pages)", beyond, (mapped - grown) * sizeof(struct page) / PAGE_SIZE);

	/* A view reads as the interior of a free block. */
	const struct page *in = virt_to_page((void *)(blk[3] + 100 * PAGE_SIZE));
	const struct page *head = virt_to_page((void *)blk[3]);
	ok(in->flags == 0 && in->zone == ZONE_NORMAL && in->slab_cache == NULL &&
	   in->slab_key == buddy_slab_key_none && (head->flags & PG_buddy) &&
	   head->order == MAX_ORDER - 1,
	   "an interior descriptor reads as a page of a free section");
	expect_death(free_inside, NULL, "double free of",
	             "a free inside a purged section is reported as a double free");
	ok(buddy_validate(), "buddy_validate passes");

	/* Used again: private descriptors, contents as written. */
	bool same = true, clean = true;
	for (int i = 0; i < NBLK; i++) {
		blk[i] = __get_free_pages(GFP_KERNEL | __GFP_ZERO, MAX_ORDER - 1);
		same &= blk[i] != 0;
		if (!blk[i])
			continue;
		for (size_t k = 0; k < SEC_BYTES; k += 512)
			clean &= ((unsigned char *)blk[i])[k] == 0;
		memset((void *)blk[i], i, SEC_BYTES);
	}
	ok(same && clean, "the sections are allocated again and read as zeros");
	bool kept = true;
	for (int i = 0; i < NBLK && same; i++)
		for (size_t k = 0; k < SEC_BYTES; k += 4096)
			kept &= ((unsigned char *)blk[i])[k] == (unsigned char)i;
	ok(kept && buddy_validate(), "their contents stay as written, buddy valid");
	for (int i = 0; i < NBLK; i++)
		if (blk[i])
			free_pages(blk[i], MAX_ORDER - 1);
	ok(buddy_validate(), "buddy valid after the last free");

	/* The views are bounded: with a bound 8 below what the freed heap had,
	 * its sections used and freed again make no more than that, the rest
	 * keep private descriptors, and all of it works as before. */
	buddy_purge(true);
	unsigned int before = buddy_desc_views;
	unsigned int bound = before > 8 ? before - 8 : 0;
	buddy_desc_views_max = bound;
	got = true;
	for (int i = 0; i < NBLK; i++) {
		blk[i] = __get_free_pages(GFP_KERNEL, MAX_ORDER - 1);
		got &= blk[i] != 0;
		if (blk[i])
			memset((void *)blk[i], 0x33, SEC_BYTES);
	}
	for (int i = 0; i < NBLK; i++)
		if (blk[i])
			free_pages(blk[i], MAX_ORDER - 1);
	buddy_purge(true);
	ok(got && before >= NBLK && buddy_desc_views == bound,
	   "at most buddy_desc_views_max views are made (%u, bound %u, %u before)",
	   buddy_desc_views, bound, before);
	ok(buddy_validate(), "buddy valid with the views bounded");
	expect_death(free_inside, NULL, "double free of",
	             "a free inside a section without views is still a double free");
	same = true;
	for (int i = 0; i < NBLK; i++) {
		blk[i] = __get_free_pages(GFP_KERNEL | __GFP_ZERO, MAX_ORDER - 1);
		same &= blk[i] != 0 && ((unsigned char *)blk[i])[SEC_BYTES - 1] == 0;
	}
	for (int i = 0; i < NBLK; i++)
		if (blk[i])
			free_pages(blk[i], MAX_ORDER - 1);
	ok(same && buddy_validate(), "and the sections are used again");
	buddy_desc_views_max = 4096;
	buddy_offline_sections = true;
	cycle_sections();
	ok(buddy_validate(), "buddy valid after the cycles");
	close(pagemap_fd);
	return done_testing();
}
