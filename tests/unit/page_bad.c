/* SPDX-License-Identifier: MIT */
/*
 * page_bad.t — bad input to the page layer stops the program with one line
 * naming the function and the address (each case in a child process).
 */
#include <slabmalloc.h>
#include "page_alloc.h"
#include "tap.h"

#include <stdint.h>

static char foreign[3 * 4096] __attribute__((aligned(4096)));

static unsigned long page_aligned_foreign(void)
{
	return (unsigned long)foreign;
}

/* free_pages */
static void fp_foreign(void *a) { (void)a; free_pages(page_aligned_foreign(), 0); }
static void fp_interior(void *a)
{
	(void)a;
	unsigned long p = __get_free_pages(GFP_KERNEL, 2);
	free_pages(p + PAGE_SIZE, 0);
}
static void fp_unaligned(void *a)
{
	(void)a;
	unsigned long p = __get_free_pages(GFP_KERNEL, 0);
	free_pages(p + 8, 0);
}
static void fp_wrong_order(void *a)
{
	(void)a;
	unsigned long p = __get_free_pages(GFP_KERNEL, 1);
	free_pages(p, 3);
}
static void fp_double(void *a)
{
	(void)a;
	unsigned long p = __get_free_pages(GFP_KERNEL, 2);
	free_pages(p, 2);
	free_pages(p, 2);
}
static void fp_double_merged(void *a)
{
	(void)a;
	/* Order 6 goes to the zone directly and merges with its buddy. */
	unsigned long p = __get_free_pages(GFP_KERNEL, 6);
	free_pages(p, 6);
	buddy_drain_local();
	free_pages(p, 6);
}
static void fp_never_allocated(void *a)
{
	(void)a;
	unsigned long p = __get_free_pages(GFP_KERNEL, 8);
	free_pages(p, 8);
	free_pages(p + 16 * PAGE_SIZE, 0);
}
static void fp_exact(void *a)
{
	(void)a;
	void *p = alloc_pages_exact(3 * PAGE_SIZE, GFP_KERNEL);
	free_pages((unsigned long)p, 2);
}

static void fp_kmalloc(void *a)
{
	(void)a;
	void *p = kmalloc(64 * 1024, GFP_KERNEL);      /* a page-aligned large block */
	free_pages((unsigned long)p, 4);
}

/* __free_pages and friends */
static void fpg_foreign(void *a) { (void)a; __free_pages((struct page *)foreign, 0); }
static void fpg_null(void *a) { (void)a; __free_pages(NULL, 0); }
static void fpg_wrong_order(void *a)
{
	(void)a;
	struct page *pg = alloc_pages(GFP_KERNEL, 1);
	__free_pages(pg, 3);
}
static void fpg_double(void *a)
{
	(void)a;
	struct page *pg = alloc_pages(GFP_KERNEL, 0);
	__free_pages(pg, 0);
	__free_pages(pg, 0);
}
static void fpg_interior(void *a)
{
	(void)a;
	struct page *pg = alloc_pages(GFP_KERNEL, 3);
	__free_pages(pg + 1, 0);
}
static void fpg_misaligned(void *a)
{
	(void)a;
	struct page *pg = alloc_pages(GFP_KERNEL, 0);
	__free_pages((struct page *)((char *)pg + 8), 0);
}
static void hot_double(void *a)
{
	(void)a;
	struct page *pg = alloc_page(GFP_KERNEL);
	free_hot_page(pg);
	free_cold_page(pg);
}
static void pa_foreign(void *a) { (void)a; page_address((struct page *)(foreign + 8)); }

/* free_pages_exact */
static void fpe_foreign(void *a) { (void)a; free_pages_exact(foreign, 4096); }
static void fpe_wrong_size(void *a)
{
	(void)a;
	void *p = alloc_pages_exact(5 * PAGE_SIZE, GFP_KERNEL);
	free_pages_exact(p, 3 * PAGE_SIZE);
}
static void fpe_double(void *a)
{
	(void)a;
	void *p = alloc_pages_exact(5 * PAGE_SIZE, GFP_KERNEL);
	free_pages_exact(p, 5 * PAGE_SIZE);
	free_pages_exact(p, 5 * PAGE_SIZE);
}
static void fpe_interior(void *a)
{
	(void)a;
	char *p = alloc_pages_exact(5 * PAGE_SIZE, GFP_KERNEL);
	free_pages_exact(p + 2 * PAGE_SIZE, PAGE_SIZE);
}
static void fpe_not_exact(void *a)
{
	(void)a;
	unsigned long p = __get_free_pages(GFP_KERNEL, 2);
	free_pages_exact((void *)p, 4 * PAGE_SIZE);
}

/* vfree, iounmap */
static void vf_foreign(void *a) { (void)a; vfree(foreign); }
static void vf_interior(void *a)
{
	(void)a;
	char *p = vmalloc(3 * PAGE_SIZE);
	vfree(p + PAGE_SIZE);
}
static void vf_double(void *a)
{
	(void)a;
	char *p = vmalloc(3 * PAGE_SIZE);
	vfree(p);
	vfree(p);
}
static void vf_pages(void *a)
{
	(void)a;
	vfree((void *)__get_free_pages(GFP_KERNEL, 0));
}
static void iou_foreign(void *a) { (void)a; iounmap(foreign); }
static void iou_vmalloc(void *a)
{
	(void)a;
	iounmap(vmalloc(PAGE_SIZE));
}

int main(void)
{
	expect_death(fp_foreign, NULL, "free_pages(): invalid address 0x",
	             "free_pages of a foreign address");
	expect_death(fp_interior, NULL, "free_pages(): invalid address 0x",
	             "free_pages of an interior address");
	expect_death(fp_unaligned, NULL, "free_pages(): invalid address 0x",
	             "free_pages of an unaligned address");
	expect_death(fp_wrong_order, NULL, "free_pages(): wrong order 3 for block of order 1 at 0x",
	             "free_pages with the wrong order");
	expect_death(fp_double, NULL, "free_pages(): double free of 0x",
	             "free_pages twice");
	expect_death(fp_double_merged, NULL, "free_pages(): double free of 0x",
	             "free_pages twice, after the block merged");
	expect_death(fp_never_allocated, NULL, "free_pages(): double free of 0x",
	             "free_pages inside a free block");
	expect_death(fp_exact, NULL, "free_pages(): invalid address 0x",
	             "free_pages of an alloc_pages_exact range");
	expect_death(fp_kmalloc, NULL, "free_pages(): invalid address 0x",
	             "free_pages of a kmalloc block");
	expect_death(fpg_foreign, NULL, "__free_pages(): invalid page 0x",
	             "__free_pages of a pointer that is not a descriptor");
	expect_death(fpg_null, NULL, "__free_pages(): invalid page",
	             "__free_pages(NULL)");
	expect_death(fpg_wrong_order, NULL, "__free_pages(): wrong order 3 for block of order 1 at 0x",
	             "__free_pages with the wrong order");
	expect_death(fpg_double, NULL, "__free_pages(): double free of 0x",
	             "__free_pages twice");
	expect_death(fpg_interior, NULL, "__free_pages(): invalid address 0x",
	             "__free_pages of a tail page");
	expect_death(fpg_misaligned, NULL, "__free_pages(): invalid page 0x",
	             "__free_pages of a pointer inside a descriptor");
	expect_death(hot_double, NULL, "free_cold_page(): double free of 0x",
	             "free_hot_page then free_cold_page of the same page");
	expect_death(pa_foreign, NULL, "page_address(): invalid page 0x",
	             "page_address of a pointer that is not a descriptor");
	expect_death(fpe_foreign, NULL, "free_pages_exact(): invalid address 0x",
	             "free_pages_exact of a foreign address");
	expect_death(fpe_wrong_size, NULL, "free_pages_exact(): wrong size 12288",
	             "free_pages_exact with the wrong size");
	expect_death(fpe_double, NULL, "free_pages_exact(): double free of 0x",
	             "free_pages_exact twice");
	expect_death(fpe_interior, NULL, "free_pages_exact(): invalid address 0x",
	             "free_pages_exact of an interior address");
	expect_death(fpe_not_exact, NULL, "free_pages_exact(): invalid address 0x",
	             "free_pages_exact of a __get_free_pages block");
	expect_death(vf_foreign, NULL, "vfree(): invalid address 0x", "vfree of a foreign address");
	expect_death(vf_interior, NULL, "vfree(): invalid address 0x", "vfree of an interior address");
	expect_death(vf_double, NULL, "vfree(): invalid address 0x", "vfree twice");
	expect_death(vf_pages, NULL, "vfree(): invalid address 0x", "vfree of a page block");
	expect_death(iou_foreign, NULL, "iounmap(): invalid address 0x", "iounmap of a foreign address");
	expect_death(iou_vmalloc, NULL, "iounmap(): invalid address 0x", "iounmap of a vmalloc region");
	return done_testing();
}
