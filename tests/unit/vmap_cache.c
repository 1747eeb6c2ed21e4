/* SPDX-License-Identifier: MIT */
/*
 * vmap_cache.t — the cache of freed huge kmalloc mappings (vmalloc.c,
 * theory 4 and 5): reuse of the same mapping, zeroing for calloc, the byte
 * and count limits, decay (RSS falls), malloc_trim, double free detection,
 * realloc (mremap) alongside the cache, vmalloc's guarded regions kept out,
 * and a forked child keeping the cache.
 */
#include "tap.h"
#include <slabmalloc.h>
#include "kmalloc.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MiB ((size_t)1 << 20)

/* Resident bytes, from /proc/self/statm (second field, in pages). */
static size_t rss_bytes(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	unsigned long size = 0, res = 0;
	if (sscanf(buf, "%lu %lu", &size, &res) != 2)
		return 0;
	return res * (size_t)sysconf(_SC_PAGESIZE);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void fill(void *p, size_t n, int c)
{
	memset(p, c, n);
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += sizeof(uint64_t))
		if (*(const uint64_t *)(p + i))
			return false;
	return true;
}

static void test_reuse(void)
{
	malloc_trim(0);
	size_t total = vmap_total_bytes();
	char *p = malloc(8 * MiB);
	ok(p && vmap_size(p) == 8 * MiB, "a huge malloc is a registered mapping");
	fill(p, 8 * MiB, 0x5a);
	free(p);
	ok(vmap_cached_bytes() == 8 * MiB && vmap_size(p) == 0 && vmap_is_cached(p),
	   "free keeps it in the cache, out of the registry (cached %zu)",
	   vmap_cached_bytes());
	ok(vmap_total_bytes() == total, "Vmalloc total does not count the cache");
	char *q = malloc(8 * MiB);
	ok(q == p, "malloc of the same size reuses the mapping (%p, %p)", (void *)p, (void *)q);
	ok(vmap_cached_bytes() == 0 && !vmap_is_cached(q) && vmap_size(q) == 8 * MiB,
	   "it left the cache and is registered again");
	ok(q[0] == 0x5a && q[8 * MiB - 1] == 0x5a, "malloc does not pay for zeroing");

	/* Slightly smaller: reused whole, the surplus is usable. */
	free(q);
	q = malloc(8 * MiB - 3 * PAGE_SIZE);
	ok(q == p && malloc_usable_size(q) == 8 * MiB,
	   "a slightly smaller request reuses it whole (usable %zu)", malloc_usable_size(q));

	/* Much smaller: the head reused, the tail (1 MiB or more) kept. */
	free(q);
	q = malloc(5 * MiB);
	ok(q == p && malloc_usable_size(q) == 5 * MiB && vmap_cached_bytes() == 3 * MiB,
	   "a much smaller request reuses the head (usable %zu)", malloc_usable_size(q));
	ok(os_is_mapped(p + 6 * MiB) && vmap_is_cached(p + 5 * MiB),
	   "and the tail stays cached");

	/* Larger than any: the largest grows (mremap keeps its pages). */
	q[0] = 0x3c;
	free(q);
	q = malloc(6 * MiB);
	ok(q && q[0] == 0x3c && malloc_usable_size(q) == 6 * MiB &&
	   vmap_cached_bytes() == 3 * MiB,
	   "a larger request grows the largest cached mapping, its pages kept");
	free(q);
	malloc_trim(0);
	ok(vmap_cached_bytes() == 0, "malloc_trim empties the cache");
	ok(!os_is_mapped(p) && !vmap_is_cached(p), "and unmaps the mappings");
}

static void test_calloc(void)
{
	unsigned char *p = malloc(16 * MiB);
	fill(p, 16 * MiB, 0xa5);
	free(p);
	unsigned char *q = calloc(1, 16 * MiB);
	ok(q == p, "calloc reuses a dirty cached mapping");
	ok(q && all_zero(q, 16 * MiB), "and it reads zero everywhere");
	free(q);
	/* A reused mapping larger than asked (whole reuse) is zero whole. */
	p = malloc(16 * MiB);
	fill(p, 16 * MiB, 0x77);
	free(p);
	q = calloc(1, 15 * MiB);
	/* Reading past the requested size is allowed up to the usable size
	 * (malloc_usable_size); hide the request from the compiler's object
	 * size tracking, which would flag it under UBSan. */
	unsigned char *whole = q;
	__asm__("" : "+r"(whole));
	ok(q == p && malloc_usable_size(q) == 16 * MiB && all_zero(whole, 16 * MiB),
	   "calloc of a bit less: zero up to the usable size");
	free(q);
	unsigned char *z = kzalloc(9 * MiB, GFP_KERNEL);
	ok(z && all_zero(z, 9 * MiB), "kzalloc after a cached free reads zero");
	kfree(z);
	malloc_trim(0);
}

static void test_limits(void)
{
	enum { N = 40, SLOTS = 32 };
	char *v[N];
	size_t saved = vmap_cache_max_bytes;

	/* Count limit: at most SLOTS mappings, the oldest evicted. */
	vmap_cache_max_bytes = (size_t)1 << 30;
	for (int i = 0; i < N; i++)
		v[i] = malloc(5 * MiB);
	bool bounded = true;
	for (int i = 0; i < N; i++) {
		free(v[i]);
		size_t want = (size_t)(i + 1 < SLOTS ? i + 1 : SLOTS) * 5 * MiB;
		bounded &= vmap_cached_bytes() == want;
	}
	ok(bounded, "the cache never holds more than %d mappings", SLOTS);
	bool newest = true, oldest = true;
	for (int i = 0; i < N; i++) {
		if (i < N - SLOTS)
			oldest &= !vmap_is_cached(v[i]) && !os_is_mapped(v[i]);
		else
			newest &= vmap_is_cached(v[i]);
	}
	ok(oldest && newest, "the oldest were evicted and unmapped, the newest kept");
	malloc_trim(0);

	/* Byte limit. */
	vmap_cache_max_bytes = 16 * MiB;
	for (int i = 0; i < 6; i++)
		v[i] = malloc(5 * MiB);
	bounded = true;
	for (int i = 0; i < 6; i++) {
		free(v[i]);
		bounded &= vmap_cached_bytes() <= 16 * MiB;
		bounded &= vmap_cached_bytes() == (size_t)(i + 1 < 3 ? i + 1 : 3) * 5 * MiB;
	}
	ok(bounded, "the cache never holds more than vmap_cache_max_bytes");
	char *big = malloc(20 * MiB);
	free(big);
	ok(!vmap_is_cached(big) && vmap_cached_bytes() == 10 * MiB,
	   "a mapping larger than the limit is unmapped at once (a cached one grew into it)");

	/* 0 disables the cache. */
	vmap_cache_max_bytes = 0;
	char *p = malloc(5 * MiB);
	free(p);
	ok(!vmap_is_cached(p), "vmap_cache_max_bytes = 0: nothing is cached");
	vmap_cache_max_bytes = saved;
	malloc_trim(0);

	/* vmalloc's guarded regions never enter the cache. */
	void *g = vmalloc(8 * MiB);
	vfree(g);
	ok(vmap_cached_bytes() == 0 && !vmap_is_cached(g), "vfree does not cache");
}

static void test_decay(void)
{
	uint64_t saved = buddy_decay_ns;
	enum { N = 4 };
	char *v[N];

	malloc_trim(0);
	for (int i = 0; i < N; i++) {
		v[i] = malloc(8 * MiB);
		fill(v[i], 8 * MiB, 1);
	}
	for (int i = 0; i < N; i++)
		free(v[i]);
	ok(vmap_cache_purge(false) == 0 && vmap_cached_bytes() == N * 8 * MiB,
	   "before the decay period nothing is purged");

	buddy_decay_ns = 50 * 1000000ull;       /* 50 ms */
	size_t before = rss_bytes();
	sleep_ms(120);
	size_t purged = vmap_cache_purge(false);
	size_t after = rss_bytes();
	ok(purged == N * 8 * MiB && vmap_cached_bytes() == 0,
	   "vmap_cache_purge(false) after the decay unmaps them (%zu bytes)", purged);
	ok(before >= after + (N * 8 - 4) * MiB,
	   "RSS falls (%zu -> %zu KiB)", before >> 10, after >> 10);

	/* Opportunistic decay: another vmap operation does it. */
	for (int i = 0; i < N; i++) {
		v[i] = malloc(8 * MiB);
		fill(v[i], 8 * MiB, 2);
	}
	for (int i = 0; i < N; i++)
		free(v[i]);
	before = rss_bytes();
	sleep_ms(120);
	void *g = vmalloc(PAGE_SIZE);
	vfree(g);
	after = rss_bytes();
	ok(vmap_cached_bytes() == 0 && before >= after + (N * 8 - 4) * MiB,
	   "a later vmap operation unmaps expired entries (RSS %zu -> %zu KiB)",
	   before >> 10, after >> 10);
	char *a = malloc(8 * MiB);
	free(a);
	sleep_ms(120);
	char *b = malloc(10 * MiB);
	ok(b != a && vmap_cached_bytes() == 0 && !vmap_is_cached(a),
	   "a malloc that maps anew unmaps expired entries first");
	free(b);
	sleep_ms(120);
	a = malloc(10 * MiB);
	ok(a == b && vmap_cached_bytes() == 0,
	   "a malloc that fits an expired entry reuses it rather than remap");
	free(a);

	/* Decay 0: immediate, nothing is cached. */
	buddy_decay_ns = 0;
	a = malloc(8 * MiB);
	free(a);
	ok(vmap_cached_bytes() == 0, "decay 0 disables the cache");
	buddy_decay_ns = saved;
	malloc_trim(0);
}

static void double_free(void *arg)
{
	(void)arg;
	char *p = malloc(8 * MiB);
	free(p);
	free(p);
}

static void double_kfree(void *arg)
{
	(void)arg;
	void *p = kmalloc(12 * MiB, GFP_KERNEL);
	kfree(p);
	kfree(p);
}

static void realloc_freed(void *arg)
{
	(void)arg;
	char *p = malloc(8 * MiB);
	free(p);
	p = realloc(p, 9 * MiB);
	printf("%p\n", (void *)p);
}

static void test_double_free(void)
{
	expect_death(double_free, NULL, "double free detected",
	             "free() of a cached huge pointer: double free detected");
	expect_death(double_kfree, NULL, "double free detected",
	             "kfree() twice of a huge pointer: double free detected");
	expect_death(realloc_freed, NULL, "realloc(): use of freed memory",
	             "realloc() of a freed huge pointer is caught");
}

static void test_realloc(void)
{
	malloc_trim(0);
	char *cached = malloc(8 * MiB);
	char *p = malloc(8 * MiB);
	free(cached);                       /* one mapping waits in the cache */
	for (size_t i = 0; i < 8 * MiB; i += PAGE_SIZE)
		p[i] = (char)(i >> 12);
	char *q = realloc(p, 20 * MiB);
	bool same = q != NULL;
	for (size_t i = 0; same && i < 8 * MiB; i += PAGE_SIZE)
		same = q[i] == (char)(i >> 12);
	ok(same && vmap_size(q) == 20 * MiB, "realloc grows a huge block, contents kept");
	ok(vmap_is_cached(cached) && vmap_cached_bytes() == 8 * MiB,
	   "the cached mapping is untouched by it");
	q = realloc(q, 6 * MiB);
	same = q != NULL;
	for (size_t i = 0; same && i < 6 * MiB; i += PAGE_SIZE)
		same = q[i] == (char)(i >> 12);
	ok(same && vmap_size(q) == 6 * MiB, "realloc shrinks it, contents kept");
	free(q);
	ok(vmap_is_cached(q) && vmap_cached_bytes() == 14 * MiB,
	   "a remapped block is cached when freed");
	char *r = malloc(6 * MiB);
	ok(r == q, "and reused by the next malloc of its size");
	char *s = malloc(8 * MiB);
	ok(s == cached && vmap_cached_bytes() == 0, "the other one too");
	s = realloc(s, 7 * MiB);
	ok(s && vmap_size(s) == 7 * MiB, "realloc of a reused mapping works");
	free(r);
	free(s);
	malloc_trim(0);
}

/* Mapped bytes (first field of /proc/self/statm). */
static size_t vm_size_bytes(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return (size_t)strtoul(buf, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

/* In a child: with the address space limited so that only the cache's
 * mappings stand between a new mapping and failure, malloc succeeds. */
static void test_pressure(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char *v[8];
		for (int i = 0; i < 8; i++)
			v[i] = malloc(5 * MiB);
		for (int i = 0; i < 8; i++)
			free(v[i]);
		if (vmap_cached_bytes() != 40 * MiB)
			_exit(2);
		struct rlimit rl;
		rl.rlim_cur = rl.rlim_max = vm_size_bytes() + 8 * MiB;
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(3);
		char *big = malloc(24 * MiB);
		_exit(big && vmap_cached_bytes() == 0 ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "when mmap fails the cache is given back and the call retried (status %d)",
	   WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void test_fork_and_meminfo(void)
{
	char *p = malloc(8 * MiB);
	fill(p, 8 * MiB, 0x11);
	free(p);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char *q = malloc(8 * MiB);
		_exit(q == p && q[4 * MiB] == 0x11 && vmap_cached_bytes() == 0 ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a forked child keeps and reuses the cache");
	ok(vmap_is_cached(p), "the parent's cache is unchanged");

	FILE *f = tmpfile();
	char line[256];
	bool seen = false;
	slabmalloc_meminfo(f);
	rewind(f);
	while (fgets(line, sizeof line, f)) {
		unsigned long kb;
		if (sscanf(line, "VmallocCached: %lu kB", &kb) == 1)
			seen = kb == 8 * 1024;
	}
	fclose(f);
	ok(seen, "meminfo reports VmallocCached: 8192 kB");
	malloc_trim(0);
}

int main(void)
{
	sm_ensure_init();
	buddy_decay_ns = 10ull * 1000000000ull;   /* fixed, whatever the env */
	vmap_cache_max_bytes = 64 * MiB;
	vmap_arena_max_block = 0;   /* the cache of whole mappings (bg_purge.t: arenas) */
	test_reuse();
	test_calloc();
	test_limits();
	test_decay();
	test_double_free();
	test_realloc();
	test_pressure();
	test_fork_and_meminfo();
	return done_testing();
}
