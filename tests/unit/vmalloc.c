/* SPDX-License-Identifier: MIT */
/*
 * vmalloc.t — vmalloc/vzalloc/vfree (guard page, zeroing), the vmap
 * registry under churn, vmap_realloc, and ioremap/iounmap (works, or fails
 * with errno set: never crashes).
 */
#include <slabmalloc.h>
#include "page_alloc.h"
#include "tap.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static void test_vmalloc(void)
{
	size_t sz = (10u << 20) + 123;
	size_t before = vmap_total_bytes();
	unsigned char *p = vmalloc(sz);
	ok(p && ((uintptr_t)p & (PAGE_SIZE - 1)) == 0, "vmalloc(10 MiB) is page aligned");
	ok(vmap_size(p) == PAGE_ALIGN(sz) && vmap_total_bytes() == before + PAGE_ALIGN(sz),
	   "the registry knows its size (%zu)", vmap_size(p));
	memset(p, 0x3c, sz);
	ok(p[sz - 1] == 0x3c, "the whole region is writable");

	/* A write just past the end hits the guard page. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		((volatile unsigned char *)p)[PAGE_ALIGN(sz)] = 1;
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	   "writing past the end faults (guard page)");
	vfree(p);
	ok(vmap_size(p) == 0 && vmap_total_bytes() == before, "vfree unregisters it");

	unsigned char *z = vzalloc((1u << 20) + 1);
	bool zero = z != NULL;
	for (size_t k = 0; zero && k < (1u << 20) + 1; k++)
		zero &= z[k] == 0;
	ok(zero, "vzalloc is zeroed");
	vfree(z);
	ok(vmalloc(0) == NULL && vzalloc(0) == NULL, "size 0 gives NULL");
	ok(vmalloc(~0ul) == NULL, "an impossible size gives NULL");
	vfree(NULL);
	ok(1, "vfree(NULL) is a no-op");
}

static void test_registry(void)
{
	enum { N = 1500 };
	static void *v[N];
	uint64_t s = 12345;
	bool sizes = true;
	for (int i = 0; i < N; i++) {
		v[i] = vmap_alloc((size_t)(i % 3 + 1) * PAGE_SIZE, false, false);
		if (!v[i])
			sizes = false;
	}
	/* Free in a pseudo-random order, checking the survivors as we go. */
	for (int i = N - 1; i > 0; i--) {
		s ^= s << 13; s ^= s >> 7; s ^= s << 17;
		int j = (int)(s % (uint64_t)(i + 1));
		void *t = v[i]; v[i] = v[j]; v[j] = t;
	}
	for (int i = 0; i < N; i++) {
		if (!v[i])
			continue;
		size_t want = vmap_size(v[i]);
		if (want == 0 || want > 3 * PAGE_SIZE)
			sizes = false;
		vmap_free(v[i], "test");
		if (vmap_size(v[i]) != 0)
			sizes = false;
		for (int k = i + 1; k < N && k < i + 8; k++)
			if (v[k] && vmap_size(v[k]) == 0)
				sizes = false;
	}
	ok(sizes, "registry: %d mappings found, freed in random order, none lost", N);
	int local;
	ok(vmap_size(&local) == 0 && vmap_size(NULL) == 0, "unknown addresses have size 0");
}

static void test_realloc(void)
{
	unsigned char *p = vmap_alloc(1u << 20, false, false);
	memset(p, 0x11, 1u << 20);
	unsigned char *q = vmap_realloc(p, 64u << 20);
	ok(q && vmap_size(q) == (64u << 20) && q[0] == 0x11 && q[(1u << 20) - 1] == 0x11,
	   "vmap_realloc grows with mremap, keeping the contents");
	q[(64u << 20) - 1] = 2;
	unsigned char *r = vmap_realloc(q, 8192);
	ok(r && vmap_size(r) == 8192 && r[0] == 0x11, "and shrinks");
	vmap_free(r, "test");

	unsigned char *g = vmap_alloc(3 * PAGE_SIZE, true, false);
	memset(g, 0x22, 3 * PAGE_SIZE);
	unsigned char *h = vmap_realloc(g, 10 * PAGE_SIZE);
	ok(h && vmap_size(h) == 10 * PAGE_SIZE && h[3 * PAGE_SIZE - 1] == 0x22 && vmap_size(g) == 0,
	   "a guarded mapping is reallocated by copy");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		((volatile unsigned char *)h)[10 * PAGE_SIZE] = 1;
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "and keeps its guard page");
	vmap_free(h, "test");
}

static void test_ioremap(void)
{
	errno = 0;
	unsigned char *p = ioremap(0xA0000 + 0x10, 256);
	if (p) {
		ok(((uintptr_t)p & (PAGE_SIZE - 1)) == 0x10, "ioremap works here: offset kept");
		iounmap(p);
	} else {
		ok(errno != 0, "ioremap of /dev/mem is not permitted here: NULL, errno %d (%s)",
		   errno, strerror(errno));
	}
	errno = 0;
	ok(ioremap(0x1000, 0) == NULL && errno == EINVAL, "ioremap size 0: NULL, EINVAL");
	errno = 0;
	ok(ioremap(~0ul - 10, 100) == NULL && errno == EINVAL,
	   "ioremap of an overflowing range: NULL, EINVAL");
	iounmap(NULL);
	ok(1, "iounmap(NULL) is a no-op");
}

int main(void)
{
	test_vmalloc();
	test_registry();
	test_realloc();
	test_ioremap();
	return done_testing();
}
