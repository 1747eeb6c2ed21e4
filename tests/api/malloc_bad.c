/* Bad input: every case stops the program at once with one clear line that
 * names the call and the address (each case runs in a child process). */
#include "tap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <slabmalloc.h>

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
	expect_death(realloc_freed, (void *)64, "realloc(): double free detected",
	             "realloc of a freed small block");
	expect_death(realloc_freed, (void *)50000, "realloc(): double free detected",
	             "realloc of a freed large block");
	expect_death(free_kmem_object, NULL, "belongs to kmem cache 'victim'",
	             "free() of a kmem_cache object");
	expect_death(free_sized_wrong, NULL, "free_sized(): size 4096 does not match",
	             "free_sized with a wrong size");
	return done_testing();
}
