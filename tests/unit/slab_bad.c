/* SPDX-License-Identifier: MIT */
/*
 * slab_bad.c — bad input to the kmem_cache API stops the program with a
 * one-line "BUG <cache>: ..." message (each case runs in a child).
 */
#include "slab_internal.h"
#include "tap.h"

#include <errno.h>

static kmem_cache_t *ca, *cb;

static void wrong_cache(void *arg)
{
	(void)arg;
	void *p = kmem_cache_alloc(ca, GFP_KERNEL);
	kmem_cache_free(cb, p);
}

static void interior(void *arg)
{
	(void)arg;
	char *p = kmem_cache_alloc(ca, GFP_KERNEL);
	kmem_cache_free(ca, p + 8);
}

static void before_first(void *arg)
{
	(void)arg;
	/* A pointer into the colour area / page start of a slab, below object
	 * 0 when coloured, or past the last object (the bitmap). */
	char *p = kmem_cache_alloc(ca, GFP_KERNEL);
	struct page *pg = sm_virt_to_page(p);
	size_t bytes = SM_PAGE_SIZE << ca->order;
	char *end = (char *)SM_ALIGN_DOWN(pg->slab_base, bytes) + bytes - 8;
	kmem_cache_free(ca, end);
}

static void double_free(void *arg)
{
	(void)arg;
	void *p = kmem_cache_alloc(ca, GFP_KERNEL);
	kmem_cache_free(ca, p);
	kmem_cache_free(ca, p);
	/* Caught at the latest when the rounds go back to the slab. */
	mag_flush_own(ca);
}

static void double_free_exit(void *arg)
{
	(void)arg;
	void *p = kmem_cache_alloc(ca, GFP_KERNEL);
	kmem_cache_free(ca, p);
	kmem_cache_free(ca, p);
	kmem_cache_destroy(ca);
}

static void foreign_stack(void *arg)
{
	(void)arg;
	long x[4] = { 0 };
	kmem_cache_free(ca, &x[1]);
}

static void foreign_page(void *arg)
{
	(void)arg;
	void *p = (void *)__get_free_page(GFP_KERNEL);
	kmem_cache_free(ca, p);
}

static void panic_create(void *arg)
{
	(void)arg;
	kmem_cache_create("panicky", 0, 0, SLAB_PANIC, NULL, NULL);
}

int main(void)
{
	ca = kmem_cache_create("cache-a", 64, 0, 0, NULL, NULL);
	cb = kmem_cache_create("cache-b", 64, 0, 0, NULL, NULL);
	expect_death(wrong_cache, NULL, "BUG cache-b: kmem_cache_free(): object 0x",
	             "freeing to the wrong cache");
	expect_death(wrong_cache, NULL, "belongs to cache cache-a", "the message names the owner");
	expect_death(interior, NULL, "BUG cache-a: kmem_cache_free(): 0x",
	             "an interior pointer");
	expect_death(interior, NULL, "is not the start of an object", "the message says why");
	expect_death(before_first, NULL, "is not the start of an object",
	             "a pointer into the slab's bitmap");
	expect_death(double_free, NULL, "BUG cache-a: double free or corruption of object 0x",
	             "a double free is caught when the object returns to its slab");
	expect_death(double_free_exit, NULL, "BUG cache-a: double free",
	             "a double free is caught by kmem_cache_destroy's flush");
	expect_death(foreign_stack, NULL, "BUG cache-a: kmem_cache_free(): invalid pointer 0x",
	             "a pointer outside the heap");
	expect_death(foreign_page, NULL, "BUG cache-a: kmem_cache_free(): invalid pointer",
	             "a page that is not a slab");
	expect_death(panic_create, NULL, "kmem_cache_create(panicky, 0, 0): size 0",
	             "SLAB_PANIC turns a bad argument into an abort");
	/* The message is one line. */
	char buf[4096];
	run_death(wrong_cache, NULL, "BUG", buf, sizeof buf);
	ok(strchr(buf, '\n') == buf + strlen(buf) - 1, "the message is a single line");
	ok(kmem_cache_destroy(ca) == 0 && kmem_cache_destroy(cb) == 0,
	   "the parent's caches are intact");
	return done_testing();
}
