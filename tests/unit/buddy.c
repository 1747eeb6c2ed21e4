/* SPDX-License-Identifier: MIT */
/*
 * buddy.t — the buddy allocator's invariants: a randomized alloc/free
 * sequence checked by buddy_validate() after every step, natural alignment
 * for every order, a 4-thread stress that verifies every byte it wrote,
 * ZONE_DMA below 4 GiB with its emergency reserve, and GFP_ATOMIC failing
 * fast while the zone lock is busy.
 */
#include <slabmalloc.h>
#include "page_alloc.h"
#include "tap.h"
#include "no_bg_purge.h"
#include <malloc.h>

#include <pthread.h>
#include <fcntl.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Pages of @z handed out (to us or to layers above): grown - free. */
/* Pages of @z handed out: not in the free areas, and not being purged (the
 * background purge takes free blocks off the free areas while it madvises
 * them, then puts them back). Read under the zone lock. */
static size_t used_pages(struct zone *z)
{
	pthread_mutex_lock(&z->zone_lock);
	size_t used = (z->zone_limit >> PAGE_SHIFT) - z->zone_free_pages -
	              z->zone_purging_pages - z->zone_offline_pages - z->zone_lost_pages;
	pthread_mutex_unlock(&z->zone_lock);
	return used;
}

/* ---- randomized sequence, validated after every step ---- */

static void test_random_sequence(void)
{
	enum { SLOTS = 192, STEPS = 4000 };
	static struct { unsigned long addr; unsigned int order; } s[SLOTS];
	int allocs = 0, frees = 0, fails = 0, step;
	bool valid = true, aligned = true, intact = true;
	struct zone *z = &sm_zones[ZONE_NORMAL];
	unsigned long small_before[MAX_ORDER];
	buddy_drain_local();
	size_t used_before = used_pages(z);
	for (int o = 0; o < MAX_ORDER; o++)
		small_before[o] = z->zone_free_area[o].fa_nr_free;
	static const gfp_t gfps[] = {
		GFP_KERNEL, GFP_KERNEL | __GFP_COLD, GFP_KERNEL | __GFP_ZERO, GFP_USER,
	};

	for (step = 0; step < STEPS && valid; step++) {
		int i = (int)(rnd(&rng_state) % SLOTS);
		if (s[i].addr) {
			unsigned char *p = (unsigned char *)s[i].addr;
			size_t len = PAGE_SIZE << s[i].order;
			if (p[0] != (unsigned char)i || p[len - 1] != (unsigned char)~i)
				intact = false;
			/* Half through each API. */
			if (rnd(&rng_state) & 1)
				free_pages(s[i].addr, s[i].order);
			else
				__free_pages(virt_to_page(p), s[i].order);
			s[i].addr = 0;
			frees++;
		} else {
			unsigned int order = (unsigned int)(rnd(&rng_state) % MAX_ORDER);
			gfp_t gfp = gfps[rnd(&rng_state) % SM_ARRAY_SIZE(gfps)];
			unsigned long a = __get_free_pages(gfp, order);
			if (!a) {
				fails++;
				continue;
			}
			if (a & ((PAGE_SIZE << order) - 1))
				aligned = false;
			unsigned char *p = (unsigned char *)a;
			size_t len = PAGE_SIZE << order;
			if ((gfp & __GFP_ZERO) && (p[0] || p[len - 1]))
				intact = false;
			p[0] = (unsigned char)i;
			p[len - 1] = (unsigned char)~i;
			s[i].addr = a;
			s[i].order = order;
			allocs++;
		}
		if (!buddy_validate()) {
			valid = false;
			diag("buddy_validate failed after step %d", step);
		}
	}
	ok(valid, "buddy_validate holds after each of %d random steps", step);
	ok(fails == 0, "no allocation failed (%d allocs, %d frees)", allocs, frees);
	ok(aligned, "every random block is naturally aligned");
	ok(intact, "block contents survive until their free");

	for (int i = 0; i < SLOTS; i++)
		if (s[i].addr)
			free_pages(s[i].addr, s[i].order);
	buddy_drain_local();
	ok(buddy_validate(), "valid after freeing everything and draining");
	ok(used_pages(z) == used_before, "every page came back (%zu in use before and after)",
	   used_pages(z));
	bool same = true;
	for (int o = 0; o < MAX_ORDER - 1; o++)
		same &= z->zone_free_area[o].fa_nr_free == small_before[o];
	ok(same, "the free areas coalesced back to the same state");
}

/* ---- alignment ---- */

static void test_alignment(void)
{
	for (unsigned int o = 0; o < MAX_ORDER; o++) {
		struct page *pg[3];
		bool good = true;
		for (int k = 0; k < 3; k++) {
			pg[k] = alloc_pages(GFP_KERNEL, o);
			uintptr_t a = (uintptr_t)page_address(pg[k]);
			if (!pg[k] || a % (PAGE_SIZE << o) != 0 || virt_to_page((void *)a) != pg[k] ||
			    virt_to_page((char *)a + (PAGE_SIZE << o) - 1) != pg[k] + (1u << o) - 1)
				good = false;
		}
		ok(good, "order %u: blocks aligned to %lu bytes, virt_to_page/page_address agree",
		   o, PAGE_SIZE << o);
		for (int k = 0; k < 3; k++)
			if (pg[k])
				__free_pages(pg[k], o);
	}
	ok(buddy_validate(), "valid after the alignment test");
}

/* ---- multi-threaded stress ---- */

struct stress_arg {
	int id;
	long errors;
	long done;
};

static void *stress_thread(void *argp)
{
	struct stress_arg *arg = argp;
	enum { HOLD = 24, ITERS = 3000 };
	struct { uint64_t *p; unsigned int order; uint64_t tag; } h[HOLD] = { { 0 } };
	uint64_t seed = 0x1234567ull * (uint64_t)(arg->id + 1);

	for (int it = 0; it < ITERS; it++) {
		int i = (int)(rnd(&seed) % HOLD);
		if (h[i].p) {
			size_t n = (PAGE_SIZE << h[i].order) / sizeof(uint64_t);
			for (size_t k = 0; k < n; k++)
				if (h[i].p[k] != (h[i].tag ^ k)) {
					arg->errors++;
					break;
				}
			free_pages((unsigned long)h[i].p, h[i].order);
			h[i].p = NULL;
		} else {
			unsigned int order = (unsigned int)(rnd(&seed) % 7);
			gfp_t gfp = (rnd(&seed) & 1) ? GFP_KERNEL : GFP_KERNEL | __GFP_COLD;
			uint64_t *p = (uint64_t *)__get_free_pages(gfp, order);
			if (!p) {
				arg->errors++;
				continue;
			}
			uint64_t tag = ((uint64_t)arg->id << 56) ^ ((uint64_t)it << 20);
			size_t n = (PAGE_SIZE << order) / sizeof(uint64_t);
			for (size_t k = 0; k < n; k++)
				p[k] = tag ^ k;
			h[i].p = p;
			h[i].order = order;
			h[i].tag = tag;
			arg->done++;
		}
	}
	for (int i = 0; i < HOLD; i++)
		if (h[i].p)
			free_pages((unsigned long)h[i].p, h[i].order);
	return NULL;
}

static void *idle_thread(void *arg)
{
	return arg;
}

static void test_stress(void)
{
	enum { NT = 4 };
	pthread_t t[NT];
	struct stress_arg a[NT];
	long errors = 0, done = 0;
	struct zone *z = &sm_zones[ZONE_NORMAL];
	/* malloc (slabmalloc's own, linked into this test) keeps slabs and
	 * magazines, and glibc keeps per-thread blocks with its cached thread
	 * stacks: start and stop NT idle threads once so that glibc's cache
	 * exists, then trim, so that only the page layer's use is compared. */
	for (int i = 0; i < NT; i++)
		pthread_create(&t[i], NULL, idle_thread, NULL);
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	malloc_trim(0);
	buddy_drain_local();
	size_t used_before = used_pages(z);
	for (int i = 0; i < NT; i++) {
		a[i] = (struct stress_arg){ .id = i };
		pthread_create(&t[i], NULL, stress_thread, &a[i]);
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(t[i], NULL);
		errors += a[i].errors;
		done += a[i].done;
	}
	ok(errors == 0, "4 threads: %ld blocks written and verified, %ld errors", done, errors);
	ok(buddy_validate(), "valid after the stress (thread exit drained the page lists)");
	malloc_trim(0);
	buddy_drain_local();
	size_t used_after = used_pages(z);
	ok(used_after == used_before, "no page lost: %zu in use before, %zu after",
	   used_before, used_after);
}

/* ---- ZONE_DMA ---- */

static void test_dma(void)
{
	struct zone *z = &sm_zones[ZONE_DMA];
	if (!z->zone_span) {
		printf("ok %d # SKIP no address space below 4 GiB for ZONE_DMA\n", ++tap_n);
		printf("ok %d # SKIP no ZONE_DMA\n", ++tap_n);
		printf("ok %d # SKIP no ZONE_DMA\n", ++tap_n);
		printf("ok %d # SKIP no ZONE_DMA\n", ++tap_n);
		printf("ok %d # SKIP no ZONE_DMA\n", ++tap_n);
		return;
	}
	bool low = true;
	for (unsigned int o = 0; o < MAX_ORDER; o += 2) {
		unsigned long a = __get_free_pages(GFP_KERNEL | __GFP_DMA, o);
		if (!a || a + (PAGE_SIZE << o) > (1ul << 32) || a % (PAGE_SIZE << o))
			low = false;
		if (a)
			free_pages(a, o);
	}
	ok(low, "__GFP_DMA blocks are below 4 GiB and aligned");

	/* Exhaust the zone: ordinary requests stop at the emergency reserve,
	 * GFP_ATOMIC (__GFP_HIGH) may take exactly the reserve, then NULL. */
	size_t cap = (z->zone_span >> PAGE_SHIFT) + 16, n = 0, n_atomic = 0;
	size_t used_before = used_pages(z);
	unsigned long *held = malloc(cap * sizeof *held);
	unsigned int *ord = malloc(cap * sizeof *ord);
	for (unsigned int o = MAX_ORDER - 1;; ) {
		unsigned long a = __get_free_pages(GFP_KERNEL | __GFP_DMA | __GFP_NOWARN, o);
		if (a) {
			held[n] = a;
			ord[n++] = o;
			continue;
		}
		if (o == 0)
			break;
		o--;
	}
	for (;;) {
		unsigned long a = __get_free_pages(GFP_ATOMIC | __GFP_DMA | __GFP_NOWARN, 0);
		if (!a)
			break;
		held[n] = a;
		ord[n++] = 0;
		n_atomic++;
	}
	ok(n_atomic == buddy_reserve_pages,
	   "GFP_ATOMIC took exactly the emergency reserve (%zu of %lu pages)", n_atomic,
	   buddy_reserve_pages);
	ok(z->zone_limit == z->zone_span && z->zone_free_pages == 0,
	   "the DMA zone is exhausted (%zu free)", z->zone_free_pages);
	ok(__get_free_pages(GFP_ATOMIC | __GFP_DMA | __GFP_NOWARN, 0) == 0 &&
	   alloc_pages(GFP_KERNEL | __GFP_DMA | __GFP_NOWARN | __GFP_NORETRY, 3) == NULL,
	   "an exhausted zone returns NULL");
	for (size_t i = 0; i < n; i++)
		free_pages(held[i], ord[i]);
	free(held);
	free(ord);
	ok(buddy_validate() && used_pages(z) == used_before,
	   "all DMA pages free and coalesced again");
}

/* ---- GFP_ATOMIC with the zone lock busy ---- */

static pthread_mutex_t hold_mx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static int hold_state;   /* 1: zone lock held, 2: release it */

static void *lock_holder(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&sm_zones[ZONE_NORMAL].zone_lock);
	pthread_mutex_lock(&hold_mx);
	hold_state = 1;
	pthread_cond_broadcast(&hold_cv);
	while (hold_state != 2)
		pthread_cond_wait(&hold_cv, &hold_mx);
	pthread_mutex_unlock(&hold_mx);
	pthread_mutex_unlock(&sm_zones[ZONE_NORMAL].zone_lock);
	return NULL;
}

static void test_atomic_busy(void)
{
	pthread_t t;
	buddy_drain_local();     /* empty page lists: the next alloc needs the zone */
	pthread_create(&t, NULL, lock_holder, NULL);
	pthread_mutex_lock(&hold_mx);
	while (hold_state != 1)
		pthread_cond_wait(&hold_cv, &hold_mx);
	pthread_mutex_unlock(&hold_mx);

	struct page *a = alloc_pages(GFP_ATOMIC | __GFP_NOWARN, 0);
	struct page *b = alloc_pages(GFP_ATOMIC | __GFP_NOWARN, 6);
	void *c = alloc_pages_exact(3 * PAGE_SIZE, GFP_NOWAIT | __GFP_NOWARN);
	ok(a == NULL && b == NULL && c == NULL,
	   "GFP_ATOMIC/GFP_NOWAIT return NULL while the zone lock is busy");

	pthread_mutex_lock(&hold_mx);
	hold_state = 2;
	pthread_cond_broadcast(&hold_cv);
	pthread_mutex_unlock(&hold_mx);
	pthread_join(t, NULL);
	a = alloc_pages(GFP_ATOMIC, 0);
	ok(a != NULL, "GFP_ATOMIC succeeds once the lock is free");
	if (a)
		__free_pages(a, 0);
}

/* ---- fork while another thread allocates ---- */

static volatile int fork_stop;

static void *fork_churn(void *unused)
{
	(void)unused;
	uint64_t seed = 99;
	while (!fork_stop) {
		unsigned int o = (unsigned int)(rnd(&seed) % MAX_ORDER);
		unsigned long a = __get_free_pages(GFP_KERNEL, o);
		if (a)
			free_pages(a, o);
		if (rnd(&seed) % 64 == 0)
			buddy_purge(true);   /* blocks in flight while locks drop */
	}
	return NULL;
}

static void test_fork(void)
{
	pthread_t t;
	int good = 0;
	enum { FORKS = 20 };
	fork_stop = 0;
	pthread_create(&t, NULL, fork_churn, NULL);
	for (int i = 0; i < FORKS; i++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			bool okc = true;
			for (unsigned int o = 0; o < MAX_ORDER; o++) {
				unsigned long a = __get_free_pages(GFP_KERNEL, o);
				okc &= a != 0;
				if (a) {
					memset((void *)a, 1, PAGE_SIZE);
					free_pages(a, o);
				}
			}
			okc &= buddy_validate();
			_exit(okc ? 0 : 1);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		good += WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	fork_stop = 1;
	pthread_join(t, NULL);
	ok(good == FORKS, "fork during allocation and purging: %d of %d children valid",
	   good, FORKS);
}

/* The validator itself must catch corruption (quietly: stderr is muted). */
static void test_validator_catches(void)
{
	struct zone *z = &sm_zones[ZONE_NORMAL];
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
	unsigned long a = __get_free_pages(GFP_KERNEL, 5);   /* ensure a split block */
	dup2(devnull, 2);

	z->zone_free_pages++;
	bool c1 = !buddy_validate();
	z->zone_free_pages--;

	struct page *h = NULL;
	for (int o = 1; o < MAX_ORDER && !h; o++)
		h = z->zone_free_area[o].fa_head;
	bool c2 = false;
	if (h) {
		h[1].flags = PG_buddy;
		c2 = !buddy_validate();
		h[1].flags = 0;
	}
	struct page *pg = virt_to_page((void *)a);
	pg->flags = 0;
	bool c3 = !buddy_validate();
	pg->flags = PG_head;

	dup2(saved, 2);
	close(saved);
	close(devnull);
	ok(c1 && c2 && c3, "buddy_validate catches a bad counter, a stale head, a lost block");
	ok(buddy_validate(), "and passes again once repaired");
	free_pages(a, 5);
}

int main(void)
{
	test_alignment();
	test_random_sequence();
	test_stress();
	test_dma();
	test_atomic_busy();
	test_fork();
	test_validator_catches();
	ok(buddy_validate(), "valid at the end");
	return done_testing();
}
