/* Bad input: every case stops the program at once with one clear line that
 * names the call and the address (each case runs in a child process). */
#include "tap.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <slabmalloc.h>

void free_sized(void *p, size_t size);

static void *volatile sink;

static void double_free(void *arg)
{
	size_t n = (size_t)arg;
	void *p = malloc(n);
	free(p);
	free(p);
}

/* freed, reallocated by someone else, freed, then freed again through the
 * stale pointer */
static void stale_double_free(void *arg)
{
	(void)arg;
	void *p = malloc(48);
	free(p);
	void *q = malloc(48);          /* the same block, another owner */
	free(q);
	free(p);
}

static void interior(void *arg)
{
	char *p = malloc((size_t)arg);
	free(p + 16);
}

static void stack_addr(void *arg)
{
	char buf[64];
	(void)arg;
	sink = buf;
	free(buf + 16);
}

static void foreign_mmap(void *arg)
{
	(void)arg;
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	free(m + 64);
}

static void realloc_freed(void *arg)
{
	void *p = malloc((size_t)arg);
	free(p);
	sink = realloc(p, 200);
}

static void usable_freed_large(void *arg)
{
	(void)arg;
	void *p = malloc(100000);
	free(p);
	free(p);
}

static void free_kmem_object(void *arg)
{
	(void)arg;
	kmem_cache_t *c = kmem_cache_create("victim", 40, 0, 0, NULL, NULL);
	void *o = kmem_cache_alloc(c, GFP_KERNEL);
	free(o);
}

static void free_sized_wrong(void *arg)
{
	(void)arg;
	void *p = malloc(32);
	free_sized(p, 4096);
}

/* An interior pointer of a live large (page) or huge (mapped) block given
 * to free, realloc or malloc_usable_size. */
struct interior_case {
	size_t ic_size;          /* block size */
	size_t ic_off;           /* offset of the pointer passed */
	int ic_op;               /* 0 free, 1 realloc, 2 malloc_usable_size */
	int ic_freed;            /* free the block first */
};
static const char *const op_name[] = { "free", "realloc", "malloc_usable_size" };

static void interior_live(void *arg)
{
	const struct interior_case *ic = arg;
	char *p = malloc(ic->ic_size);
	sink = p;
	if (ic->ic_freed)
		free(p);
	char *q = p + ic->ic_off;
	switch (ic->ic_op) {
	case 0: free(q); break;
	case 1: sink = realloc(q, 100); break;
	default: sink = (void *)malloc_usable_size(q); break;
	}
}

/* A large block grown in place by realloc need not start at an index
 * aligned to its new size: the block around the pointer is still found. */
static void interior_grown(void *arg)
{
	(void)arg;
	char *p = malloc(64u << 10);
	p = realloc(p, 200u << 10);
	free(p + 150000);
}

static void free_page_block(void *arg)
{
	(void)arg;
	unsigned long a = __get_free_pages(GFP_KERNEL, 2);
	free((char *)a + (size_t)arg);
}

static void interior_cases(void)
{
	static const size_t sizes[] = { 64u << 10, 1u << 20, 8u << 20 };
	static const size_t offs[] = { 16, 4096, 8192 + 48 };
	for (unsigned int s = 0; s < 3; s++) {
		for (unsigned int o = 0; o < 3; o++) {
			for (int op = 0; op < 3; op++) {
				struct interior_case ic = { sizes[s], offs[o], op, 0 };
				char expect[200];
				snprintf(expect, sizeof expect,
				         "%s(): invalid pointer (not the start of an allocation: "
				         "offset %zu in the %zu-byte block at 0x",
				         op_name[op], offs[o], sizes[s]);
				expect_death(interior_live, &ic, expect,
				             "%s of a pointer %zu bytes into a live %zu KiB block",
				             op_name[op], offs[o], sizes[s] >> 10);
			}
		}
	}
	/* inside a freed block: kept in the thread's large cache (1 MiB) or
	 * in the cache of mappings (8 MiB) */
	for (unsigned int s = 1; s < 3; s++) {
		struct interior_case ic = { sizes[s], 4096, 0, 1 };
		expect_death(interior_live, &ic, "free(): invalid pointer (inside free memory)",
		             "free of a pointer into a freed %zu KiB block", sizes[s] >> 10);
	}
	expect_death(interior_grown, NULL,
	             "free(): invalid pointer (not the start of an allocation: offset 150000 "
	             "in the 204800-byte block at 0x",
	             "free of a pointer into a large block grown by realloc");
	expect_death(free_page_block, NULL,
	             "free(): invalid pointer (a block of the page allocator, not allocated by malloc)",
	             "free of a block from __get_free_pages");
	expect_death(free_page_block, (void *)8192,
	             "free(): invalid pointer (inside the block of the page allocator at 0x",
	             "free of a pointer into a block from __get_free_pages");
}

int main(void)
{
	expect_death(double_free, (void *)24, "free(): double free detected",
	             "double free of a small block");
	expect_death(double_free, (void *)3000, "free(): double free detected",
	             "double free of a 3000-byte block");
	expect_death(stale_double_free, NULL, "free(): double free detected",
	             "stale pointer freed again after reuse by another owner");
	expect_death(usable_freed_large, NULL, "free(): double free detected",
	             "double free of a large (page) block");
	expect_death(interior, (void *)100, "free(): invalid pointer",
	             "interior pointer of a small block");
	expect_death(interior, (void *)100000, "free(): invalid pointer",
	             "interior pointer of a large block");
	expect_death(stack_addr, NULL, "free(): invalid pointer", "stack address");
	expect_death(foreign_mmap, NULL, "free(): invalid pointer", "foreign mmap address");
	expect_death(realloc_freed, (void *)64, "realloc(): use of freed memory",
	             "realloc of a freed small block");
	expect_death(realloc_freed, (void *)50000, "realloc(): use of freed memory",
	             "realloc of a freed large block");
	expect_death(free_kmem_object, NULL, "belongs to kmem cache 'victim'",
	             "free() of a kmem_cache object");
	expect_death(free_sized_wrong, NULL, "free_sized(): size 4096 does not match",
	             "free_sized with a wrong size");
	interior_cases();
	return done_testing();
}
