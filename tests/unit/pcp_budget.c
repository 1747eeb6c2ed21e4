/* SPDX-License-Identifier: MIT */
/*
 * pcp_budget.c — the per-thread page lists share one budget: with many
 * threads alive, each having freed blocks of every list order, the pages
 * their lists hold together stay within the budget (32 MiB), every block
 * handed out is whole, the count of attached threads follows the threads,
 * and a thread alone keeps the full high mark.
 */
#include "page_alloc.h"
#include "tap.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

enum { THREADS = 256, BLOCKS = 160 };

static pthread_barrier_t attached, churned, release;
static size_t held[THREADS];
static int bad;

/* Attach, wait for every thread, then allocate BLOCKS blocks of each list
 * order, write and check them, free them all: the lists fill to their
 * marks. Report what this thread's lists hold, wait to be released. */
static void *churner(void *arg)
{
	unsigned int me = (unsigned int)(uintptr_t)arg;
	struct page *pg[BLOCKS];
	struct page *first = buddy_alloc(GFP_KERNEL, 0);
	if (first)
		buddy_free(first, 0, "pcp_budget");
	pthread_barrier_wait(&attached);
	for (unsigned int order = 0; order <= SM_PCP_MAX_ORDER; order++) {
		size_t bytes = (size_t)SM_PAGE_SIZE << order;
		for (unsigned int i = 0; i < BLOCKS; i++) {
			pg[i] = buddy_alloc(GFP_KERNEL, order);
			if (pg[i])
				memset(sm_page_to_virt(pg[i]), (int)(me + i) & 0xff, bytes);
		}
		for (unsigned int i = 0; i < BLOCKS; i++) {
			if (!pg[i]) {
				__atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
				continue;
			}
			unsigned char *b = sm_page_to_virt(pg[i]);
			if (b[0] != ((me + i) & 0xff) || b[bytes - 1] != ((me + i) & 0xff))
				__atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
			buddy_free(pg[i], order, "pcp_budget");
		}
	}
	held[me] = buddy_pcp_bytes();
	pthread_barrier_wait(&churned);
	pthread_barrier_wait(&release);
	return NULL;
}

int main(void)
{
	alarm(300);
	sm_ensure_init();
	/* Alone, this thread keeps the whole high mark. */
	struct page *one = buddy_alloc(GFP_KERNEL, 0);
	buddy_free(one, 0, "pcp_budget");
	unsigned int base = SM_READ_ONCE(sm_nr_attached);
	ok(base >= 1 && pcp_high(0) == buddy_pcp_high,
	   "one thread: attached (%u), the list keeps its high mark (%u pages)", base,
	   pcp_high(0));

	pthread_t t[THREADS];
	pthread_barrier_init(&attached, NULL, THREADS);
	pthread_barrier_init(&churned, NULL, THREADS + 1);
	pthread_barrier_init(&release, NULL, THREADS + 1);
	unsigned int started = 0;
	for (unsigned int i = 0; i < THREADS; i++) {
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 64 << 10);
		if (pthread_create(&t[i], &a, churner, (void *)(uintptr_t)i) == 0)
			started++;
		pthread_attr_destroy(&a);
	}
	if (!ok(started == THREADS, "%u of %u threads started", started, THREADS))
		return done_testing();           /* the barriers would never open */
	pthread_barrier_wait(&churned);
	unsigned int alive = SM_READ_ONCE(sm_nr_attached);
	ok(alive >= base + THREADS, "%u threads alive are counted attached (%u)", THREADS, alive);
	size_t total = 0;
	for (unsigned int i = 0; i < THREADS; i++)
		total += held[i];
	ok(total <= ((size_t)32 << 20),
	   "the lists of %u threads hold %zu KiB together, within the 32 MiB budget",
	   THREADS, total >> 10);
	ok(pcp_high(0) < buddy_pcp_high, "the high mark went down to %u pages", pcp_high(0));
	ok(!bad, "every block was allocated and kept its bytes");
	pthread_barrier_wait(&release);
	for (unsigned int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	ok(SM_READ_ONCE(sm_nr_attached) == base, "joined threads are no longer counted (%u)",
	   SM_READ_ONCE(sm_nr_attached));
	one = buddy_alloc(GFP_KERNEL, 0);       /* a slow path recomputes the mark */
	buddy_free(one, 0, "pcp_budget");
	for (unsigned int i = 0; i < 200; i++) {
		struct page *p = buddy_alloc(GFP_KERNEL, 0);
		buddy_free(p, 0, "pcp_budget");
	}
	buddy_drain_local();                      /* empty list: refill next */
	one = buddy_alloc(GFP_KERNEL, 0);
	buddy_free(one, 0, "pcp_budget");
	ok(pcp_high(0) == buddy_pcp_high, "alone again, the list keeps its high mark (%u)",
	   pcp_high(0));
	ok(buddy_validate(), "the page layer validates");
	return done_testing();
}
