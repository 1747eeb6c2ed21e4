/* Linking: built twice, with the shared library and fully static; in both
 * every call of the malloc family must land in slabmalloc. */
#include "tap.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <slabmalloc.h>

void *reallocarray(void *p, size_t n, size_t s);

static void *in_thread(void *arg)
{
	void *p = malloc(100);
	int ours = p && slabmalloc_ksize(p) == 112;
	free(p);
	return (void *)(intptr_t)ours;
}

int main(void)
{
	/* 100 bytes is kmalloc-112 here; glibc would give 104 usable bytes. */
	void *p = malloc(100);
	ok(slabmalloc_ksize(p) == 112 && malloc_usable_size(p) == 112, "malloc lands in slabmalloc");
	p = realloc(p, 1000);
	ok(slabmalloc_ksize(p) == 1024, "realloc lands in slabmalloc");
	free(p);
	void *c = calloc(10, 10);
	ok(slabmalloc_ksize(c) == 112, "calloc lands in slabmalloc");
	free(c);
	void *a = aligned_alloc(64, 64), *m = memalign(128, 100), *v = valloc(10), *q = NULL;
	ok(posix_memalign(&q, 256, 10) == 0 && slabmalloc_ksize(a) == 64 &&
	   slabmalloc_ksize(m) == 128 && slabmalloc_ksize(v) >= 4096 && slabmalloc_ksize(q) == 256,
	   "aligned_alloc, memalign, valloc, posix_memalign land in slabmalloc");
	free(a);
	free(m);
	free(v);
	free(q);
	void *r = reallocarray(NULL, 7, 16);
	ok(slabmalloc_ksize(r) == 112, "reallocarray lands in slabmalloc");
	free(r);
	pthread_t t;
	void *res;
	pthread_create(&t, NULL, in_thread, NULL);
	pthread_join(t, &res);
	ok(res != NULL, "malloc in another thread lands in slabmalloc");
	char *s = strdup("a string from libc");
	ok(s && slabmalloc_ksize(s) == 32, "libc's own allocations (strdup) land in slabmalloc");
	free(s);
	return done_testing();
}
