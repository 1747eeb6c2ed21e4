/* Double free: a valid program is never stopped, whatever its blocks hold
 * (the allocator proves a free from its own state, never from the bytes of
 * the object), and a double free is still stopped with one line naming
 * the call and the address: at the second free, or at the latest when the
 * object leaves the thread's magazine for its slab (a trim, a flush, a
 * thread's exit followed by a reap). Each case runs in a child process
 * with a time limit. */
#include "tap.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>

#define TIME_LIMIT 120                  /* seconds per child */
#define MAX_CLASSES 64

static void *volatile sink;
static size_t class_size[MAX_CLASSES];
static int nclasses;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	return tap_rand(&rng_state);
}

/* The size classes of small blocks, found through malloc_usable_size so
 * that the test follows the table. */
static void find_classes(void)
{
	for (size_t s = 1; s <= 32768 && nclasses < MAX_CLASSES;) {
		void *p = malloc(s);
		size_t u = malloc_usable_size(p);
		free(p);
		class_size[nclasses++] = u;
		s = u + 1;
	}
}

/* Run fn(arg) in a child (tap.h's run_child, TIME_LIMIT seconds at most);
 * pass if it exits normally with status 0. */
static int run_alive(void (*fn)(void *), void *arg, char *buf, size_t buflen)
{
	int st = run_child(fn, arg, TIME_LIMIT, 0, buf, buflen);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

#define expect_alive(fn, arg, ...)                                           \
	do {                                                                 \
		char buf_[4096];                                             \
		if (!ok(run_alive((fn), (arg), buf_, sizeof buf_), __VA_ARGS__)) \
			diag("the child did not run to its end; stderr was: %s", buf_); \
	} while (0)

/* A misuse in a child: it prints "victim <p>" first, and must then abort
 * with "<expect> (<p>)", the one-line message naming the address. */
static void expect_death_at_fn(void (*fn)(void *), void *arg, const char *expect,
                               const char *name)
{
	char buf[4096], want[256];
	int died = run_death(fn, arg, expect, buf, sizeof buf);
	const char *v = strstr(buf, "victim ");
	void *victim = NULL;
	if (v)
		sscanf(v, "victim %p", &victim);
	snprintf(want, sizeof want, "%s (%p)\n", expect, victim);
	if (!ok(died && victim && strstr(buf, want), "%s", name))
		diag("expected abort with \"%s\", stderr was: %s", want, buf);
}

static void victim(const void *p)
{
	fprintf(stderr, "victim %p\n", p);
}

/* ---- no false alarm ---- */

/* The report's reproducer: blocks of 32 bytes freed and trimmed, then
 * fresh blocks of 48 bytes reuse their pages; every word of those, stale
 * data included, becomes the first word of a live malloc(16) block that is
 * then freed. */
static void trimmed_words(void *arg)
{
	(void)arg;
	enum { N = 1000 };
	static void *blk[N];
	for (int i = 0; i < N; i++)
		blk[i] = malloc(32);
	for (int i = 0; i < N; i++)
		free(blk[i]);
	malloc_trim(0);
	for (int i = 0; i < N; i++) {
		uint64_t *b = malloc(48);
		for (int w = 0; w < 6; w++) {
			uint64_t *s = malloc(16);
			s[0] = b[w];
			free(s);
		}
		blk[i] = b;
	}
	for (int i = 0; i < N; i++)
		free(blk[i]);
}

/* Copy every word of @src (@bytes long) into the first word of a fresh
 * block of @size, use it as the API allows, and free it. */
static void plant_words(const uint64_t *src, size_t bytes, size_t size)
{
	for (size_t w = 0; w < bytes / 8; w++) {
		uint64_t *b = malloc(size);
		b[0] = src[w];
		if (malloc_usable_size(b) < size)
			abort();
		if (w % 4 == 1) {
			/* within the block's class: stays in place or moves */
			b = realloc(b, size > 1 ? size - 1 : 1);
			if (!b || b[0] != src[w])
				abort();
		}
		free(b);
	}
}

static void *cross_free_main(void *arg)
{
	void **v = arg;
	for (int i = 0; v[i]; i++)
		free(v[i]);
	return NULL;
}

/* Randomized: every class, several rounds of allocate / fill with random
 * and stale words / free in random order / trim; then fresh blocks of
 * every class, whose words are whatever the pages last held, are planted
 * as first words of live blocks of every class (freed by this thread and
 * by another one). */
static void random_stale(void *arg)
{
	(void)arg;
	enum { PER = 48 };
	static void *live[MAX_CLASSES][PER];
	static void *cross[MAX_CLASSES * 8 + 1];
	for (int round = 0; round < 6; round++) {
		for (int c = 0; c < nclasses; c++) {
			size_t s = class_size[c];
			int n = s > 4096 ? PER / 4 : PER;
			for (int i = 0; i < n; i++) {
				size_t req = s - rng() % (s / 4 + 1);
				uint64_t *b = malloc(req ? req : 1);
				for (size_t w = 0; w < (req ? req : 1) / 8; w++)
					b[w] = (w & 1) ? rng() : (uint64_t)(uintptr_t)live[rng() % nclasses][rng() % PER];
				live[c][i] = b;
			}
			for (int i = n - 1; i > 0; i--) {
				int j = (int)(rng() % (uint64_t)(i + 1));
				void *t = live[c][i];
				live[c][i] = live[c][j];
				live[c][j] = t;
			}
			for (int i = 0; i < n; i++) {
				free(live[c][i]);
				live[c][i] = NULL;
			}
		}
		if (round % 2 == 0)
			malloc_trim(0);
		int nc = 0;
		for (int c = 0; c < nclasses; c++) {
			size_t s = class_size[c];
			uint64_t *fresh = malloc(s);
			plant_words(fresh, s < 512 ? s : 512, class_size[rng() % nclasses]);
			plant_words(fresh, s < 64 ? s : 64, class_size[c]);
			for (int k = 0; k < 8; k++) {
				uint64_t *b = malloc(class_size[(c + k) % nclasses]);
				b[0] = fresh[(size_t)k % (s / 8)];
				cross[nc++] = b;
			}
			free(fresh);
		}
		cross[nc] = NULL;
		pthread_t t;
		if (pthread_create(&t, NULL, cross_free_main, cross) != 0 ||
		    pthread_join(t, NULL) != 0)
			abort();
	}
	malloc_trim(0);
}

/* ---- detection ---- */

static void plain_double_free(void *arg)
{
	void *p = malloc((size_t)arg);
	victim(p);
	free(p);
	free(p);
}

/* The freed block's bytes are overwritten before the second free: the
 * proof does not read them. */
static void scribbled_double_free(void *arg)
{
	size_t s = (size_t)arg;
	char *p = malloc(s);
	victim(p);
	free(p);
	memset(p, 0x5a, s);
	free(p);
}

/* p is freed twice with another free between (so it is not on top of the
 * magazine at its second free), its bytes overwritten; the trim flushes
 * the thread's magazines to the slabs. */
static void flushed_double_free(void *arg)
{
	size_t s = (size_t)arg;
	char *p = malloc(s), *q = malloc(s);
	victim(p);
	free(p);
	free(q);
	memset(p, 0x5a, s);
	free(p);
	malloc_trim(0);
}

/* As above, and the doubled block is handed out twice before the flush:
 * both holders free it, many more frees follow, then the trim. */
static void reused_double_free(void *arg)
{
	size_t s = (size_t)arg;
	enum { N = 600 };
	static void *more[N];
	char *p = malloc(s), *q = malloc(s);
	victim(p);
	free(p);
	free(q);
	free(p);
	void *a = malloc(s), *b = malloc(s), *c = malloc(s);
	for (int i = 0; i < N; i++)
		more[i] = malloc(s);
	free(a);
	free(b);
	free(c);
	for (int i = 0; i < N; i++)
		free(more[i]);
	malloc_trim(0);
}

static void *exit_double_free_main(void *arg)
{
	size_t s = (size_t)arg;
	char *p = malloc(s), *q = malloc(s);
	victim(p);
	free(p);
	free(q);
	memset(p, 0x5a, s);
	free(p);
	return NULL;
}

/* The thread's magazines go to the depot when it exits; the trim reaps
 * them back to the slabs. */
static void exit_double_free(void *arg)
{
	pthread_t t;
	if (pthread_create(&t, NULL, exit_double_free_main, arg) != 0 ||
	    pthread_join(t, NULL) != 0)
		abort();
	malloc_trim(0);
}

/* The first free went back to the slab (trim) while a neighbour keeps the
 * slab; the second free is taken, and the next trim proves it. */
static void slab_double_free(void *arg)
{
	size_t s = (size_t)arg;
	char *p = malloc(s), *q = malloc(s);
	sink = q;
	victim(p);
	free(p);
	malloc_trim(0);
	free(p);
	malloc_trim(0);
}

static void usable_freed(void *arg)
{
	void *p = malloc((size_t)arg);
	victim(p);
	free(p);
	sink = (void *)(uintptr_t)malloc_usable_size(p);
}

/* The freed block is in its slab (a neighbour keeps the slab). */
static void usable_freed_trimmed(void *arg)
{
	size_t s = (size_t)arg;
	void *p = malloc(s), *q = malloc(s);
	sink = q;
	victim(p);
	free(p);
	malloc_trim(0);
	sink = (void *)(uintptr_t)malloc_usable_size(p);
}

static void realloc_freed_trimmed(void *arg)
{
	size_t s = (size_t)arg;
	void *p = malloc(s), *q = malloc(s);
	sink = q;
	victim(p);
	free(p);
	malloc_trim(0);
	sink = realloc(p, s * 3);
}

int main(void)
{
	/* First, in a process that has allocated nothing yet, as reported. */
	expect_alive(trimmed_words, NULL,
	             "stale words of trimmed pages in live blocks' first words: no false alarm");
	find_classes();
	ok(nclasses > 30, "%d small size classes found", nclasses);
	expect_alive(random_stale, NULL,
	             "randomized over every class, after trims, with stale words: no false alarm");

	int plain = 1, scribbled = 1;
	for (int c = 0; c < nclasses; c++) {
		char buf[4096];
		void *arg = (void *)class_size[c];
		if (!run_death(plain_double_free, arg, "free(): double free detected", buf, sizeof buf)) {
			diag("class %zu, plain: %s", class_size[c], buf);
			plain = 0;
		}
		if (!run_death(scribbled_double_free, arg, "free(): double free detected",
		               buf, sizeof buf)) {
			diag("class %zu, overwritten: %s", class_size[c], buf);
			scribbled = 0;
		}
	}
	ok(plain, "every class: a plain double free is stopped at the second free");
	ok(scribbled, "every class: also when the freed block's bytes were overwritten");

	static const size_t sizes[] = { 8, 48, 1000, 32768 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		void *arg = (void *)sizes[i];
		char name[128];
		snprintf(name, sizeof name, "%zu bytes: second free not on top, overwritten, "
		         "caught by the trim's flush", sizes[i]);
		expect_death_at_fn(flushed_double_free, arg, "free(): double free detected", name);
		snprintf(name, sizeof name, "%zu bytes: doubled block handed out twice and "
		         "freed by both, caught by the trim", sizes[i]);
		expect_death_at_fn(reused_double_free, arg, "free(): double free detected", name);
		snprintf(name, sizeof name, "%zu bytes: double free in a thread that exits, "
		         "caught when its magazines are reaped", sizes[i]);
		expect_death_at_fn(exit_double_free, arg, "free(): double free detected", name);
		snprintf(name, sizeof name, "%zu bytes: second free of a block back in its "
		         "slab, caught by the next trim", sizes[i]);
		expect_death_at_fn(slab_double_free, arg, "free(): double free detected", name);
		snprintf(name, sizeof name, "%zu bytes: malloc_usable_size of a freed block",
		         sizes[i]);
		expect_death_at_fn(usable_freed, arg,
		                   "malloc_usable_size(): use of freed memory", name);
		snprintf(name, sizeof name, "%zu bytes: malloc_usable_size of a freed block "
		         "back in its slab", sizes[i]);
		expect_death_at_fn(usable_freed_trimmed, arg,
		                   "malloc_usable_size(): use of freed memory", name);
		snprintf(name, sizeof name, "%zu bytes: realloc of a freed block back in its "
		         "slab", sizes[i]);
		expect_death_at_fn(realloc_freed_trimmed, arg, "realloc(): use of freed memory",
		                   name);
	}
	return done_testing();
}
