/* SPDX-License-Identifier: MIT */
/*
 * bootmem.t — boot-time allocation: usable before the allocator is
 * initialised (the first calls run from .preinit_array, before any
 * constructor, the library's included), zeroed, aligned, *_low below
 * 4 GiB, free_bootmem giving whole pages back for reuse, and bad frees.
 */
#include <slabmalloc.h>
#include "page_alloc.h"
#include "tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define LOW_LIMIT (1ul << 32)

static int pre_initialized = -1;
static unsigned char *pre_small, *pre_low, *pre_pages;

static void before_everything(int argc, char **argv, char **envp)
{
	(void)argc; (void)argv; (void)envp;
	pre_initialized = __atomic_load_n(&sm_initialized, __ATOMIC_ACQUIRE);
	pre_small = alloc_bootmem(100);
	pre_low = alloc_bootmem_low(3000);
	pre_pages = alloc_bootmem_pages(2 * PAGE_SIZE);
}
__attribute__((section(".preinit_array"), used))
static void (*const preinit_hook)(int, char **, char **) = before_everything;

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void *boot_thread(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	long bad = 0;
	unsigned char *mine[300];
	for (int i = 0; i < 300; i++) {
		mine[i] = alloc_bootmem(48 + (size_t)(i % 5) * 40);
		if (!mine[i] || ((uintptr_t)mine[i] & 63) || !all_zero(mine[i], 48)) {
			bad++;
			continue;
		}
		memset(mine[i], (int)id, 48);
	}
	for (int i = 0; i < 300; i++)
		if (mine[i])
			for (int k = 0; k < 48; k++)
				bad += mine[i][k] != (unsigned char)id;
	return (void *)bad;
}

static void bad_double_free(void *arg)
{
	(void)arg;
	unsigned char *p = alloc_bootmem_pages(PAGE_SIZE);
	free_bootmem((unsigned long)p, PAGE_SIZE);
	free_bootmem((unsigned long)p, PAGE_SIZE);
}

static void bad_foreign(void *arg)
{
	(void)arg;
	static char local[2 * 4096];
	free_bootmem((unsigned long)local, sizeof local);
}

int main(void)
{
	ok(pre_initialized == 0, "the first calls ran before the allocator initialised");
	ok(pre_small && ((uintptr_t)pre_small & 63) == 0 && all_zero(pre_small, 100),
	   "alloc_bootmem before init: zeroed and cache-line aligned");
	ok(pre_low && (uintptr_t)pre_low + 3000 <= LOW_LIMIT && all_zero(pre_low, 3000),
	   "alloc_bootmem_low before init: below 4 GiB (%p)", (void *)pre_low);
	ok(pre_pages && ((uintptr_t)pre_pages & (PAGE_SIZE - 1)) == 0 &&
	   all_zero(pre_pages, 2 * PAGE_SIZE), "alloc_bootmem_pages before init: page aligned");
	ok(bootmem_owns(pre_small) && bootmem_owns(pre_pages) && bootmem_owns(pre_low),
	   "bootmem_owns recognises its memory");
	int local;
	ok(!bootmem_owns(&local), "and not a stack address");

	ok(alloc_bootmem(0) == NULL && alloc_bootmem_pages(0) == NULL &&
	   alloc_bootmem_low(0) == NULL && alloc_bootmem_low_pages(0) == NULL,
	   "size 0 gives NULL");
	errno = 0;
	ok(alloc_bootmem(1ul << 62) == NULL && errno == ENOMEM,
	   "an impossible size gives NULL and ENOMEM");
	ok(alloc_bootmem_low(3ul << 30) == NULL, "3 GiB below 4 GiB is refused");

	unsigned char *lp = alloc_bootmem_low_pages(3 * PAGE_SIZE + 5);
	ok(lp && ((uintptr_t)lp & (PAGE_SIZE - 1)) == 0 &&
	   (uintptr_t)lp + 3 * PAGE_SIZE + 5 <= LOW_LIMIT && all_zero(lp, 3 * PAGE_SIZE + 5),
	   "alloc_bootmem_low_pages: aligned, zeroed, below 4 GiB");

	/* Bigger than the static region: a new mapped region. */
	unsigned char *big = alloc_bootmem(3u << 20);
	unsigned char *biglow = alloc_bootmem_low_pages(2u << 20);
	ok(big && all_zero(big, 3u << 20) && bootmem_owns(big + (3u << 20) - 1),
	   "3 MiB comes from a grown region, zeroed");
	ok(biglow && (uintptr_t)biglow + (2u << 20) <= LOW_LIMIT && all_zero(biglow, 2u << 20),
	   "2 MiB low pages from a grown low region");
	memset(big, 1, 3u << 20);

	/* free_bootmem gives whole pages back; they are reused, zeroed. */
	unsigned char *p = alloc_bootmem_pages(3 * PAGE_SIZE);
	unsigned char *guard = alloc_bootmem(64);   /* keep p off the top */
	memset(p, 0xcd, 3 * PAGE_SIZE);
	free_bootmem((unsigned long)p, 3 * PAGE_SIZE);
	unsigned char *q = alloc_bootmem_pages(3 * PAGE_SIZE);
	ok(q == p, "freed pages are reused (%p, %p)", (void *)p, (void *)q);
	ok(q && all_zero(q, 3 * PAGE_SIZE), "reused pages are zeroed");
	/* Only whole pages inside the range are freed. */
	size_t tot0, used0, tot1, used1;
	bootmem_stats(&tot0, &used0);
	free_bootmem((unsigned long)q + 100, 2 * PAGE_SIZE);   /* 1 whole page inside */
	bootmem_stats(&tot1, &used1);
	ok(used0 - used1 == PAGE_SIZE, "free_bootmem frees only the whole pages inside (%zu)",
	   used0 - used1);
	ok(guard != NULL && tot0 >= (5u << 20), "bootmem_stats: %zu bytes in regions", tot0);

	/* The top of a region gives its bump pointer back. */
	unsigned char *t1 = alloc_bootmem_pages(PAGE_SIZE);
	free_bootmem((unsigned long)t1, PAGE_SIZE);
	unsigned char *t2 = alloc_bootmem_pages(PAGE_SIZE);
	ok(t1 == t2, "a freed top page is handed out again");

	pthread_t th[4];
	long bad = 0;
	for (uintptr_t i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, boot_thread, (void *)(i + 1));
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(th[i], &r);
		bad += (long)r;
	}
	ok(bad == 0, "4 threads: 1200 bootmem allocations, distinct, zeroed, aligned");

	expect_death(bad_double_free, NULL, "free_bootmem(): double free of",
	             "free_bootmem twice: one-line message and abort");
	expect_death(bad_foreign, NULL, "free_bootmem(): invalid range",
	             "free_bootmem of memory bootmem did not hand out");
	return done_testing();
}
