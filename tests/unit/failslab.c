/* SPDX-License-Identifier: MIT */
/*
 * failslab.t — fault injection (fail_slab=, fail_page_alloc=): exact interval
 * counts, times, space, probability 0/100, cache and min_size filters,
 * __GFP_NOFAIL never failed, verbose output, thread safety, bad specs
 * rejected with a message and nothing applied; then through the real entry
 * points kmem_cache_alloc() and alloc_pages().
 */
#include "internal.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>

static char err[256];

static int set(int which, const char *spec)
{
	return fault_parse(which, spec, strlen(spec), true, err, sizeof err);
}

static int slab_fails(int n, const char *cache, size_t size, gfp_t gfp)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += should_failslab(cache, size, gfp);
	return k;
}

static int page_fails(int n, unsigned int order, gfp_t gfp)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += should_fail_alloc_page(order, gfp);
	return k;
}

static pthread_barrier_t start;

static void *interval_main(void *arg)
{
	int *k = arg;
	pthread_barrier_wait(&start);
	*k = slab_fails(3000, "fs-threads", 64, GFP_KERNEL);
	return NULL;
}

/* Run fn with stderr captured into buf. */
static void capture_stderr(void (*fn)(void), char *buf, size_t len)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		return;
	fflush(stderr);
	int saved = dup(2);
	dup2(pfd[1], 2);
	close(pfd[1]);
	fn();
	dup2(saved, 2);
	close(saved);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	ssize_t r = read(pfd[0], buf, len - 1);
	buf[r > 0 ? r : 0] = 0;
	close(pfd[0]);
}

static void two_verbose_failures(void)
{
	should_failslab("kmalloc-96", 80, GFP_KERNEL);
	should_fail_alloc_page(2, GFP_ATOMIC);
}

int main(void)
{
	/* --- off by default --- */
	ok(!sm_fault_active && slab_fails(100, "x", 8, GFP_KERNEL) == 0 &&
	   page_fails(100, 0, GFP_KERNEL) == 0, "no injection by default");

	/* --- interval --- */
	ok(set(FAULT_SLAB, "interval=3") == 0 && sm_fault_active, "fail_slab=interval=3 accepted");
	int pattern_ok = 1, k = 0;
	for (int i = 1; i <= 30; i++) {
		bool f = should_failslab("kmalloc-64", 64, GFP_KERNEL);
		k += f;
		if (f != (i % 3 == 0))
			pattern_ok = 0;
	}
	ok(k == 10 && pattern_ok, "every 3rd of 30 calls fails: %d failures, calls 3, 6, ... 30", k);
	ok(fault_injected(FAULT_SLAB) == 10 && fault_calls(FAULT_SLAB) == 30,
	   "counters: 30 calls, 10 injected (%lu, %lu)", fault_calls(FAULT_SLAB),
	   fault_injected(FAULT_SLAB));
	ok(page_fails(30, 0, GFP_KERNEL) == 0, "fail_slab does not touch the page allocator");

	/* Thread safety: 4 threads x 3000 calls, interval 3: exactly 4000.
	 * The injection also hits this process's malloc, so the threads are
	 * created first and the spec is limited to a cache of our own. */
	set(FAULT_SLAB, "off");
	pthread_t th[4];
	int kt[4] = { -1, -1, -1, -1 };
	pthread_barrier_init(&start, NULL, 5);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, interval_main, &kt[i]);
	set(FAULT_SLAB, "interval=3:cache=fs-threads");
	pthread_barrier_wait(&start);
	int sum = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		sum += kt[i];
	}
	ok(sum == 4000 && fault_injected(FAULT_SLAB) == 4000,
	   "4 threads x 3000 calls, interval 3: exactly 4000 failures (%d)", sum);

	/* --- times --- */
	set(FAULT_SLAB, "times=5");
	ok(slab_fails(30, "a", 8, GFP_KERNEL) == 5, "times=5 caps the failures at 5");
	set(FAULT_SLAB, "interval=2:times=3");
	ok(slab_fails(30, "a", 8, GFP_KERNEL) == 3, "interval=2:times=3: 3 failures");
	set(FAULT_SLAB, "times=0");
	ok(slab_fails(30, "a", 8, GFP_KERNEL) == 0, "times=0: none");
	set(FAULT_SLAB, "times=-1");
	ok(slab_fails(30, "a", 8, GFP_KERNEL) == 30, "times=-1: unlimited");

	/* --- probability --- */
	set(FAULT_SLAB, "probability=0");
	ok(slab_fails(1000, "a", 8, GFP_KERNEL) == 0, "probability=0: never");
	set(FAULT_SLAB, "probability=100");
	ok(slab_fails(1000, "a", 8, GFP_KERNEL) == 1000, "probability=100: always");
	set(FAULT_SLAB, "probability=50");
	k = slab_fails(2000, "a", 8, GFP_KERNEL);
	ok(k > 700 && k < 1300, "probability=50: about half of 2000 (%d)", k);
	set(FAULT_SLAB, "probability=10:interval=2");
	k = slab_fails(4000, "a", 8, GFP_KERNEL);
	ok(k > 100 && k < 300, "probability=10:interval=2: about 200 of 4000 (%d)", k);

	/* --- space --- */
	set(FAULT_SLAB, "space=100");
	ok(!should_failslab("a", 40, GFP_KERNEL) && !should_failslab("a", 40, GFP_KERNEL) &&
	   should_failslab("a", 40, GFP_KERNEL), "space=100: two 40-byte calls pass, the third fails");
	set(FAULT_SLAB, "space=1k");
	ok(slab_fails(3, "a", 512, GFP_KERNEL) == 2,
	   "space=1k: the first 512-byte call passes, then space (512) is not > size");

	/* --- filters --- */
	set(FAULT_SLAB, "cache=kmalloc-64:cache=my_objs");
	ok(should_failslab("kmalloc-64", 64, GFP_KERNEL) && should_failslab("my_objs", 8, GFP_KERNEL),
	   "cache filter: the named caches fail");
	ok(!should_failslab("kmalloc-128", 128, GFP_KERNEL) && !should_failslab("kmalloc-6", 6, GFP_KERNEL) &&
	   !should_failslab(NULL, 64, GFP_KERNEL), "... others (and prefixes) do not");
	ok(fault_calls(FAULT_SLAB) == 2, "filtered-out calls are not counted");
	set(FAULT_SLAB, "min_size=1k");
	ok(!should_failslab("a", 1023, GFP_KERNEL) && should_failslab("a", 1024, GFP_KERNEL),
	   "min_size=1k: 1023 bytes pass, 1024 fail");
	set(FAULT_PAGE_ALLOC, "min_size=16k");
	ok(page_fails(5, 1, GFP_KERNEL) == 0 && page_fails(5, 2, GFP_KERNEL) == 5,
	   "fail_page_alloc=min_size=16k: order 1 passes, order 2 fails");
	set(FAULT_PAGE_ALLOC, "interval=4");
	ok(page_fails(40, 0, GFP_ATOMIC) == 10 && fault_injected(FAULT_PAGE_ALLOC) == 10,
	   "fail_page_alloc=interval=4: 10 of 40");

	/* --- __GFP_NOFAIL is never failed --- */
	set(FAULT_SLAB, "on");
	set(FAULT_PAGE_ALLOC, "1");
	ok(slab_fails(50, "a", 8, GFP_KERNEL | __GFP_NOFAIL) == 0 &&
	   page_fails(50, 0, GFP_NOIO | __GFP_NOFAIL) == 0, "__GFP_NOFAIL calls are never failed");
	ok(slab_fails(5, "a", 8, GFP_KERNEL) == 5 && page_fails(5, 0, GFP_KERNEL) == 5,
	   "... while the same calls without it all fail (\"on\", \"1\")");

	/* --- verbose --- */
	set(FAULT_SLAB, "verbose=1");
	set(FAULT_PAGE_ALLOC, "verbose=1");
	char out[1024];
	capture_stderr(two_verbose_failures, out, sizeof out);
	ok(strstr(out, "fail_slab: injected failure 1: cache kmalloc-96, size 80") != NULL,
	   "verbose=1 reports a slab failure");
	ok(strstr(out, "fail_page_alloc: injected failure 1: order 2") != NULL,
	   "verbose=1 reports a page failure");

	/* --- off --- */
	ok(set(FAULT_SLAB, "off") == 0 && set(FAULT_PAGE_ALLOC, "0") == 0 && !sm_fault_active,
	   "off and 0 disable; sm_fault_active drops to 0");
	ok(slab_fails(20, "a", 8, GFP_KERNEL) == 0 && page_fails(20, 0, GFP_KERNEL) == 0,
	   "nothing fails after off");

	/* --- bad specs: a message, nothing applied --- */
	set(FAULT_SLAB, "interval=2");
	should_failslab("a", 8, GFP_KERNEL);     /* count 1 */
	static const struct { int which; const char *spec; const char *msg; } bad[] = {
		{ FAULT_SLAB, "", "empty spec" },
		{ FAULT_SLAB, "interval=0", "bad value '0' for interval" },
		{ FAULT_SLAB, "interval=x", "bad value 'x' for interval" },
		{ FAULT_SLAB, "interval=", "bad value '' for interval" },
		{ FAULT_SLAB, "probability=101", "for probability (expected a percentage 0..100)" },
		{ FAULT_SLAB, "times=-2", "for times" },
		{ FAULT_SLAB, "space=-1", "for space" },
		{ FAULT_SLAB, "min_size=12q", "for min_size" },
		{ FAULT_SLAB, "verbose=2", "for verbose" },
		{ FAULT_SLAB, "interval=99999999999999999999999", "for interval" },
		{ FAULT_SLAB, "foo=1", "unknown field 'foo'" },
		{ FAULT_SLAB, "interval", "field 'interval' is not key=value" },
		{ FAULT_SLAB, "interval=3:", "empty field" },
		{ FAULT_SLAB, ":interval=3", "empty field" },
		{ FAULT_SLAB, "times=1::interval=2", "empty field" },
		{ FAULT_SLAB, "cache=", "bad value '' for cache" },
		{ FAULT_SLAB, "cache=abcdefghijabcdefghijabcdefghijXY", "longer than 31 bytes" },
		{ FAULT_SLAB, "cache=a:cache=b:cache=c:cache=d:cache=e:cache=f:cache=g:cache=h:cache=i",
		  "more than 8 cache= names" },
		{ FAULT_SLAB, "interval=5:times=3:probability=x", "for probability" },
		{ FAULT_PAGE_ALLOC, "cache=kmalloc-64", "cache= applies only to fail_slab" },
		{ FAULT_PAGE_ALLOC, "bogus", "field 'bogus' is not key=value" },
	};
	int all_rejected = 1;
	for (size_t i = 0; i < SM_ARRAY_SIZE(bad); i++) {
		err[0] = 0;
		int r = set(bad[i].which, bad[i].spec);
		if (r != -1 || !strstr(err, bad[i].msg)) {
			all_rejected = 0;
			diag("spec \"%s\": returned %d, message \"%s\", expected \"%s\"",
			     bad[i].spec, r, err, bad[i].msg);
		}
	}
	ok(all_rejected, "%zu bad specs rejected, each with a clear message",
	   SM_ARRAY_SIZE(bad));
	ok(fault_calls(FAULT_SLAB) == 1 && should_failslab("a", 8, GFP_KERNEL) &&
	   !should_failslab("a", 8, GFP_KERNEL) && should_failslab("a", 8, GFP_KERNEL),
	   "after the bad specs the previous spec (interval=2) is intact, counters too");
	ok(fault_parse(FAULT_SLAB, "times=0", 7, false, err, sizeof err) == 0 &&
	   fault_parse(FAULT_SLAB, "off", 3, false, err, sizeof err) == 0 &&
	   fault_parse(FAULT_SLAB, "times=x", 7, false, err, sizeof err) == -1,
	   "apply=false only validates");
	ok(!should_failslab("a", 8, GFP_KERNEL) && should_failslab("a", 8, GFP_KERNEL),
	   "... and changes nothing (interval=2 still on)");
	ok(sm_fault_active && page_fails(10, 0, GFP_KERNEL) == 0,
	   "and fail_page_alloc is still off");
	ok(fault_parse(FAULT_SLAB, "interval=4:times=1junk", 18, true, err, sizeof err) == 0,
	   "the spec is @len bytes long, not NUL-terminated");
	ok(slab_fails(12, "a", 8, GFP_KERNEL) == 1, "... interval=4:times=1 applied");
	err[0] = 'x';
	ok(fault_parse(7, "1", 1, true, err, sizeof err) == -1 && strstr(err, "unknown fault injection kind"),
	   "an unknown kind is rejected");
	set(FAULT_SLAB, "off");

	/* --- stats --- */
	set(FAULT_SLAB, "interval=2:cache=fs-stats");
	slab_fails(10, "fs-stats", 64, GFP_KERNEL);
	char *buf = NULL;
	size_t blen = 0;
	FILE *mf = open_memstream(&buf, &blen);
	slabmalloc_fault_stats(mf);
	fclose(mf);
	ok(buf && strstr(buf, "fail_slab") && strstr(buf, "interval=2") &&
	   strstr(buf, "cache=fs-stats") && strstr(buf, "calls 10 injected 5") &&
	   strstr(buf, "fail_page_alloc  off"),
	   "slabmalloc_fault_stats() prints the spec and counters");
	if (buf)
		diag("%s", buf);
	free(buf);
	set(FAULT_SLAB, "off");

	/* --- through the real entry points --- */
	kmem_cache_t *c = kmem_cache_create("fs-test", 40, 0, 0, NULL, NULL);
	kmem_cache_t *o = kmem_cache_create("fs-other", 40, 0, 0, NULL, NULL);
	ok(c && o, "two caches");
	set(FAULT_SLAB, "cache=fs-test:interval=2");
	void *objs[10];
	int nulls = 0, onulls = 0;
	for (int i = 0; i < 10; i++) {
		objs[i] = kmem_cache_alloc(c, GFP_KERNEL | __GFP_NOWARN);
		nulls += objs[i] == NULL;
		void *x = kmem_cache_alloc(o, GFP_KERNEL);
		onulls += x == NULL;
		kmem_cache_free(o, x);
	}
	ok(nulls == 5 && onulls == 0,
	   "kmem_cache_alloc: every 2nd call on fs-test fails (%d), fs-other never (%d)",
	   nulls, onulls);
	for (int i = 0; i < 10; i++)
		if (objs[i])
			kmem_cache_free(c, objs[i]);
	set(FAULT_SLAB, "cache=fs-test");
	void *nf = kmem_cache_alloc(c, GFP_KERNEL | __GFP_NOFAIL);
	ok(nf != NULL && kmem_cache_alloc(c, GFP_KERNEL | __GFP_NOWARN) == NULL,
	   "kmem_cache_alloc with __GFP_NOFAIL succeeds while every other call fails");
	kmem_cache_free(c, nf);
	set(FAULT_SLAB, "off");

	set(FAULT_PAGE_ALLOC, "interval=1");
	struct page *pg = alloc_pages(GFP_KERNEL | __GFP_NOWARN, 0);
	struct page *pnf = alloc_pages(GFP_KERNEL | __GFP_NOFAIL, 0);
	ok(pg == NULL && pnf != NULL, "alloc_pages fails under fail_page_alloc, "
	   "except with __GFP_NOFAIL");
	if (pnf)
		__free_pages(pnf, 0);
	set(FAULT_PAGE_ALLOC, "off");
	kmem_cache_destroy(c);
	kmem_cache_destroy(o);

	return done_testing();
}
