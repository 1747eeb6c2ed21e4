/* Sampled guarded allocations (kfence): with sample=1 every kmalloc refill
 * is served from the guarded pool; a sampled object is told apart by its
 * exact usable size (a 24-byte request from a slab class reports 32). Each
 * misuse runs in a child and expects the report. */
#include "tap.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <slabmalloc.h>

static char *volatile sink;

/* A sampled 24-byte object, or NULL. */
static char *sampled(void)
{
	if (slabmalloc_config("sample=1") != 0)
		return NULL;
	for (int i = 0; i < 20000; i++) {
		char *p = malloc(24);
		if (malloc_usable_size(p) == 24)
			return p;
	}
	return NULL;
}

static void overflow_guard(void *arg)
{
	(void)arg;
	char *p = sampled();
	if (!p)
		return;
	sink = p;
	p[32] = 1;                     /* the first byte of the guard page */
}

static void overflow_canary(void *arg)
{
	(void)arg;
	char *p = sampled();
	if (!p)
		return;
	sink = p;
	p[24] = 1;
	free(p);
}

static void underflow_canary(void *arg)
{
	(void)arg;
	char *p = sampled();
	if (!p)
		return;
	sink = p;
	p[-1] = 1;
	free(p);
}

static void use_after_free(void *arg)
{
	(void)arg;
	char *p = sampled();
	if (!p)
		return;
	sink = p;
	free(p);
	p[3] = 1;
}

static void double_free(void *arg)
{
	(void)arg;
	char *p = sampled();
	if (!p)
		return;
	free(p);
	free(p);
}

static void interior_free(void *arg)
{
	(void)arg;
	char *p = sampled();
	if (!p)
		return;
	free(p + 8);
}

int main(void)
{
	alarm(120);
	char *p = sampled();
	ok(p != NULL, "sample=1: a refill is served from the guarded pool");
	if (p) {
		ok(((uintptr_t)p & 15) == 0, "a sampled object is 16-byte aligned");
		ok(p[0] == 0 && p[23] == 0, "and reads as zeros");
		memset(p, 7, 24);
		p = realloc(p, 5000);
		ok(p && p[23] == 7, "realloc moves it out with its bytes");
		free(p);
	}
	char *q = sampled();
	if (q) {
		void *page = (void *)((uintptr_t)q & ~(uintptr_t)4095);
		unsigned char vec = 0;
		memset(q, 1, 24);
		int was = mincore(page, 4096, &vec) == 0 && (vec & 1);
		free(q);
		vec = 1;
		ok(was && mincore(page, 4096, &vec) == 0 && !(vec & 1),
		   "a freed guarded page is no longer resident");
	} else {
		ok(0, "a freed guarded page is no longer resident (no sampled object)");
	}
	expect_death(overflow_guard, NULL, "BUG kfence (pid",
	             "overflow into the guard page faults at once");
	expect_death(overflow_guard, NULL, "8 bytes right of the object", "... with its offset");
	expect_death(overflow_canary, NULL, "canary after the object",
	             "1-byte overflow caught at free");
	expect_death(underflow_canary, NULL, "before the object", "1-byte underflow caught at free");
	expect_death(use_after_free, NULL, "use after free", "write after free faults");
	expect_death(double_free, NULL, "invalid free (double free)", "double free");
	expect_death(interior_free, NULL, "invalid free", "interior free");
	ok(slabmalloc_config("sample=0") == 0, "sample=0 is accepted");
	int hits = 0;
	for (int i = 0; i < 20000; i++) {
		char *q = malloc(24);
		hits += malloc_usable_size(q) == 24;
		if (i % 7)
			free(q);
	}
	ok(hits == 0, "sample=0: no guarded allocation");
	ok(slabmalloc_config("sample=x") == -1, "sample=x is an error");
	return done_testing();
}
