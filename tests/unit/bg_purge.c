/* SPDX-License-Identifier: MIT */
/*
 * bg_purge.t — freed memory goes back to the OS while the program makes no
 * call (the background purge thread, src/base/bgthread.c): no thread in a
 * process that never freed memory to age; RSS falls after the decay period
 * with no further call, for large blocks (the page layer) and huge ones
 * (the arenas and cache of vmalloc.c); the thread survives fork (the child
 * starts its own); huge blocks are reused, resized and zeroed correctly.
 * Waits are bounded (alarm), and nothing asserts how long anything takes.
 */
#include <slabmalloc.h>
#include "kmalloc.h"
#include "tap.h"

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024.0 * 1024.0)

static int tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Wait (up to @ms) until RSS is at most @target bytes; the final RSS. */
static size_t wait_rss_below(size_t target, unsigned int ms)
{
	size_t r = os_rss_bytes();
	for (unsigned int t = 0; t < ms && r > target; t += 20) {
		os_sleep_ns(20000000ull);
		r = os_rss_bytes();
	}
	return r;
}

#define NBLK 512                        /* 512 x 64 KiB = 32 MiB */
static void *blk[NBLK];

static void fill_and_free(size_t size, int n)
{
	for (int i = 0; i < n; i++) {
		blk[i] = malloc(size);
		if (blk[i])
			memset(blk[i], 0x5a, size);
	}
	for (int i = 0; i < n; i++)
		free(blk[i]);
}

static void test_large_idle(const char *who)
{
	size_t r0 = os_rss_bytes();
	fill_and_free(64 << 10, NBLK);
	size_t r1 = os_rss_bytes();
	ok(r1 >= r0 + ((size_t)24 << 20), "%s: 32 MiB of 64 KiB blocks freed, RSS %.1f -> %.1f MiB",
	   who, r0 / MIB, r1 / MIB);
	ok(tasks() == 2 && sm_bg_running(), "%s: the background thread exists now (%d tasks)",
	   who, tasks());
	/* No call into the allocator from here: only the thread can purge. */
	size_t r2 = wait_rss_below(r0 + ((size_t)8 << 20), 3000);
	ok(r2 + ((size_t)16 << 20) <= r1, "%s: with no further call, RSS fell to %.1f MiB",
	   who, r2 / MIB);
}

static void test_huge(void)
{
	/* Reuse: the same memory serves a smaller block, then grows in place
	 * or moves, keeping the data; a zeroed request reads zeros. */
	size_t big = (size_t)20 << 20, small = (size_t)6 << 20;
	unsigned char *a = malloc(big);
	memset(a, 0xab, big);
	uintptr_t a_addr = (uintptr_t)a;
	free(a);
	unsigned char *b = malloc(small);
	ok((uintptr_t)b == a_addr, "a freed huge block serves the next one");
	memset(b, 0x11, small);
	unsigned char *c = realloc(b, (size_t)12 << 20);
	ok(c && c[0] == 0x11 && c[small - 1] == 0x11, "realloc keeps the data");
	ok(c == b, "and grows in place when the pages after it are free");
	unsigned char *d = malloc((size_t)10 << 20);
	memset(d, 0x22, (size_t)10 << 20);
	unsigned char *e = realloc(c, (size_t)30 << 20);
	ok(e && e[0] == 0x11 && e[small - 1] == 0x11, "realloc that must move keeps the data");
	free(d);
	unsigned char *z = calloc(1, (size_t)24 << 20);
	int zero = 1;
	for (size_t i = 0; i < ((size_t)24 << 20); i += 4096)
		zero &= z[i] == 0 && z[i + 4095] == 0;
	ok(zero, "calloc of reused huge memory reads zeros");
	ok(kmalloc_usable(e, "test", false) >= ((size_t)30 << 20), "usable size");
	memset(z, 1, (size_t)24 << 20);
	memset(e, 1, (size_t)30 << 20);
	size_t r0 = os_rss_bytes();
	free(z);
	free(e);
	size_t r1 = os_rss_bytes();
	ok(r1 + ((size_t)40 << 20) > r0, "freed huge blocks are kept a while (%.1f MiB)", r1 / MIB);
	size_t r2 = wait_rss_below(r1 > ((size_t)48 << 20) ? r1 - ((size_t)48 << 20) : 0, 3000);
	ok(r2 + ((size_t)40 << 20) <= r1,
	   "freed huge blocks go back with no further call: RSS %.1f -> %.1f MiB (%zu cached)",
	   r1 / MIB, r2 / MIB, vmap_cached_bytes());
}

static void *idle_thread(void *arg)
{
	(void)arg;
	return NULL;
}

int main(void)
{
	alarm(60);
	/* Small allocations only: nothing freed that ages. */
	void *p = malloc(100);
	free(p);
	pthread_t t;
	pthread_create(&t, NULL, idle_thread, NULL);
	pthread_join(t, NULL);
	/* pthread_join returns when the thread's tid is cleared, which the
	 * kernel does before the task leaves /proc/self/task: wait for it. */
	for (int i = 0; i < 2000 && tasks() > 1 && !sm_bg_running(); i++)
		usleep(1000);
	ok(tasks() == 1 && !sm_bg_running(),
	   "no background thread before memory was freed to age (%d tasks)", tasks());
	ok(options_apply("decay_ms=300", "test") == 0, "decay_ms=300");

	test_large_idle("parent");

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		/* The child has no thread: the next freed memory starts one. */
		int before = tasks();
		size_t r0 = os_rss_bytes();
		fill_and_free(64 << 10, NBLK);
		int after = tasks();
		size_t r1 = os_rss_bytes();
		size_t r2 = wait_rss_below(r0 + ((size_t)8 << 20), 3000);
		_exit(before == 1 && after == 2 && r2 + ((size_t)16 << 20) <= r1 ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "after fork the child starts its own thread, which purges");
	ok(tasks() == 2, "the parent keeps its thread");

	test_huge();
	ok(buddy_validate(), "buddy_validate");
	return done_testing();
}
