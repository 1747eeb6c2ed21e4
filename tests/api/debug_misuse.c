/* slub_debug misuse corpus: each case is a small misuse run in a child
 * process with debug=FZPU in effect (the program re-executes itself with
 * SLABMALLOC_OPTIONS set, so that the caches are created in debug mode),
 * expecting the report; plus the leak report, run-time switching, the
 * option's errors, and the default-mode check of the large-block lists. */
#include "tap.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <slabmalloc.h>

/* C23; glibc 2.36 does not declare it. */
void free_sized(void *p, size_t size);

#define OPTIONS "debug=FZPU"

static void *volatile sink;
static volatile unsigned char vbyte;

static void double_free(void *arg)
{
	char *p = malloc((size_t)arg);
	free(p);
	free(p);
}

/* freed, then many allocations and frees of the size, then freed again */
static void double_free_delayed(void *arg)
{
	(void)arg;
	char *p = malloc(40);
	free(p);
	for (int i = 0; i < 5000; i++) {
		sink = malloc(40);
		free(sink);
	}
	free(p);
}

/* the freed object is overwritten before the second free (a tag or a
 * poison check alone would miss it) */
static void double_free_overwritten(void *arg)
{
	char *p = malloc((size_t)arg);
	free(p);
	memset(p, 0x41, (size_t)arg);
	free(p);
}

static void interior_free(void *arg)
{
	char *p = malloc(64);
	free(p + (size_t)arg);
}

static void stack_free(void *arg)
{
	char buf[64];
	(void)arg;
	sink = buf;
	free(buf + 16);
}

/* write @n bytes just past a block of @size bytes, then free it */
struct overflow { size_t size, n; };

static void overflow(void *arg)
{
	const struct overflow *o = arg;
	char *p = malloc(o->size);
	memset(p + o->size, 'B', o->n);
	free(p);
}

/* write one byte just before a block, then free it: its left red zone */
static void underflow_free(void *arg)
{
	(void)arg;
	char *a = malloc(24), *b = malloc(24);
	char *hi = a < b ? b : a;
	sink = a;
	sink = b;
	hi[-1] = 'U';
	free(hi);
}

/* write one byte just before a block (the zone of the object below it) */
static void underflow(void *arg)
{
	(void)arg;
	char *a = malloc(24), *b = malloc(24);
	sink = a;
	char *lo = a < b ? a : b, *hi = a < b ? b : a;
	sink = lo;
	sink = hi;
	hi[-1] = 'U';
	slabmalloc_debug_check();
}

static void write_after_free(void *arg)
{
	size_t n = (size_t)arg;
	char *p = malloc(n);
	sink = p;
	free(p);
	p[10] = 'X';
	if (n > 32768) {
		slabmalloc_debug_check();
	} else {
		for (int i = 0; i < 1000; i++)
			sink = malloc(n);       /* one of them is p again */
	}
}

static void overflow_checked(void *arg)
{
	(void)arg;
	char *p = malloc(100);
	sink = p;                      /* escapes: the store below stays */
	p[100] = 1;
	slabmalloc_debug_check();      /* on demand, before any free */
}

static void sized_free_mismatch(void *arg)
{
	(void)arg;
	char *p = malloc(24);
	free_sized(p, 40);             /* the class holds 32: only debug sees it */
}

struct conn { int fd; char name[52]; };

static void kmem_overflow(void *arg)
{
	(void)arg;
	kmem_cache_t *c = kmem_cache_create("conn", sizeof(struct conn), 0, 0, NULL, NULL);
	struct conn *o = kmem_cache_alloc(c, GFP_KERNEL);
	memset(o, 0, sizeof *o + 1);
	kmem_cache_free(c, o);
}

static void kmem_wrong_cache(void *arg)
{
	(void)arg;
	kmem_cache_t *c = kmem_cache_create("conn", sizeof(struct conn), 0, 0, NULL, NULL);
	kmem_cache_t *d = kmem_cache_create("session", 64, 0, 0, NULL, NULL);
	void *o = kmem_cache_alloc(d, GFP_KERNEL);
	kmem_cache_free(c, o);
}

static void kmem_double_free(void *arg)
{
	(void)arg;
	kmem_cache_t *c = kmem_cache_create("conn", sizeof(struct conn), 0, 0, NULL, NULL);
	struct conn *o = kmem_cache_alloc(c, GFP_KERNEL);
	kmem_cache_free(c, o);
	o->fd = 3;
	kmem_cache_free(c, o);
}

/* switched on at run time for one cache, with objects allocated before */
static void runtime_switch(void *arg)
{
	(void)arg;
	if (slabmalloc_config("debug=off") != 0)
		return;
	char *before = malloc(24);
	free(malloc(24));
	if (slabmalloc_config("debug=FZP:kmalloc-32") != 0)
		return;
	char *p = malloc(20);
	sink = before;
	p[20] = 'R';
	free(p);
}

static void runtime_switch_double_free(void *arg)
{
	(void)arg;
	if (slabmalloc_config("debug=off") != 0)
		return;
	char *before = malloc(24);
	if (slabmalloc_config("debug=F:kmalloc-*") != 0)
		return;
	free(before);
	free(before);
}

/* Default mode: a write after free forges the link of a freed 40 KB block
 * towards an address of the program's choice. */
static void forged_link(void *arg)
{
	static char target[1 << 16];
	(void)arg;
	if (slabmalloc_config("debug=off") != 0)
		return;
	char *a = malloc(40000), *b = malloc(40000);
	free(a);
	free(b);
	*(void **)b = (void *)(((uintptr_t)target + 4095) & ~(uintptr_t)4095);
	sink = malloc(40000);
	sink = malloc(40000);
	if (sink == (void *)(((uintptr_t)target + 4095) & ~(uintptr_t)4095))
		abort();                /* without the message: the test fails */
}

/* Run @fn in a child that exits normally, destructors included (the leak
 * report); its stderr into @buf. RETURNS: its exit status, 128 if it did
 * not exit, -1 if it could not be run. */
static void (*exit_fn)(void);
static void call_exit_fn(void *arg)
{
	(void)arg;
	exit_fn();
}

static int run_exit(void (*fn)(void), char *buf, size_t buflen)
{
	exit_fn = fn;
	int st = run_child(call_exit_fn, NULL, 0, 1, buf, buflen);
	if (st == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void *leaked[8];

/* one allocation site for three objects */
__attribute__((noinline)) static void *alloc100(void)
{
	void *p = malloc(100);
	__asm__ volatile("" ::: "memory");
	return p;
}

static void leak_some(void)
{
	if (slabmalloc_config("leak=stderr") != 0)
		return;
	for (int i = 0; i < 3; i++)
		leaked[i] = alloc100();
	leaked[3] = malloc(70000);
	free(malloc(100));
}

static void valid_use(void)
{
	/* reads, reallocs and frees of every kind: no report */
	for (size_t n = 1; n < 300000; n = n * 3 / 2 + 1) {
		char *p = malloc(n);
		memset(p, 1, n);
		p = realloc(p, n + 7);
		memset(p, 2, n + 7);
		if (malloc_usable_size(p) < n + 7)
			abort();
		free(p);
	}
	slabmalloc_debug_check();
}

static void read_after_free(void *out, size_t n)
{
	char *p = malloc(n);
	strcpy(p, "secret");
	free(p);
	memcpy(out, p, 4);
}

int main(int argc, char **argv)
{
	(void)argc;
	const char *env = getenv("SLABMALLOC_OPTIONS");
	if (!env || strcmp(env, OPTIONS) != 0) {
		setenv("SLABMALLOC_OPTIONS", OPTIONS, 1);
		execv("/proc/self/exe", argv);
		ok(0, "re-executed with " OPTIONS);
		return done_testing();
	}
	alarm(120);

	expect_death(double_free, (void *)24, "Object already free",
	             "double free of a small block");
	expect_death(double_free, (void *)3000, "BUG kmalloc-3072 (pid",
	             "double free of a 3000-byte block, in the kernel's form");
	expect_death(double_free_delayed, NULL, "Object already free",
	             "double free after 5000 other uses of the size");
	expect_death(double_free_overwritten, (void *)40, "Object already free",
	             "double free of a small block overwritten after the first free");
	expect_death(double_free_overwritten, (void *)100000, "Object already free",
	             "double free of a large block overwritten after the first free");
	expect_death(interior_free, (void *)16, "Invalid object pointer",
	             "interior pointer of a small block");
	expect_death(interior_free, (void *)1, "not the start of an object: 1 bytes into",
	             "unaligned pointer of a small block");
	expect_death(stack_free, NULL, "free(): invalid pointer", "stack address");

	struct overflow small1 = { 24, 1 }, small8 = { 32, 8 };
	struct overflow large1 = { 256 << 10, 1 }, large8 = { 256 << 10, 8 };
	struct overflow huge8 = { 6 << 20, 8 };
	expect_death(overflow, &small1, "Right Redzone overwritten",
	             "1-byte overflow of a 24-byte block");
	expect_death(overflow, &small1, "@offset=24. First byte 0x42 instead of 0xcc",
	             "... reported with its offset and bytes");
	expect_death(overflow, &small8, "-0x", "8-byte overflow of a 32-byte (whole class) block");
	expect_death(overflow, &small8, "@offset=32.", "... at offset 32");
	expect_death(overflow, &large1, "BUG kmalloc-large (pid",
	             "1-byte overflow of a 256 KiB block");
	expect_death(overflow, &large8, "@offset=262144. First byte 0x42",
	             "8-byte overflow of a 256 KiB block, with the offset");
	expect_death(overflow, &large8, "Redzone  0x", "... and a hex dump");
	expect_death(overflow, &huge8, "BUG kmalloc-huge (pid", "8-byte overflow of a 6 MiB block");
	expect_death(underflow, NULL, "Redzone overwritten",
	             "1-byte underflow found on demand");
	expect_death(underflow_free, NULL, "Left Redzone overwritten",
	             "1-byte underflow of a small block caught at its free");
	expect_death(underflow_free, NULL, "@offset=-1.", "... at offset -1");
	expect_death(overflow_checked, NULL, "@offset=100.",
	             "overflow found on demand (slabmalloc_debug_check)");
	expect_death(write_after_free, (void *)100, "Poison overwritten",
	             "write after free of a small block");
	expect_death(write_after_free, (void *)100, "@offset=10.",
	             "... reported with its offset");
	expect_death(write_after_free, (void *)100000, "Poison overwritten",
	             "write after free of a large block");
	expect_death(double_free, (void *)24, "Allocated in ",
	             "reports show the allocation site");
	expect_death(double_free, (void *)24, "Freed in ", "... and the free site");
	expect_death(sized_free_mismatch, NULL, "free_sized(): size 40 does not match",
	             "sized free with the wrong size");
	expect_death(kmem_overflow, NULL, "BUG conn (pid",
	             "overflow of a kmem_cache object (debug layout)");
	expect_death(kmem_wrong_cache, NULL, "belongs to cache session",
	             "kmem_cache_free to the wrong cache");
	expect_death(kmem_double_free, NULL, "Object already free",
	             "kmem_cache double free");
	expect_death(runtime_switch, NULL, "BUG kmalloc-32 (pid",
	             "debug switched on at run time for kmalloc-32 catches an overflow");
	expect_death(runtime_switch_double_free, NULL, "Object already free",
	             "... and a double free of an object allocated before the switch");
	expect_death(forged_link, NULL, "corrupted link in freed block",
	             "default mode: a forged link of a freed large block is caught");

	unsigned char b[4];
	read_after_free(b, 100);
	ok(b[0] == 0x6b && b[1] == 0x6b, "read after free of a small block sees poison");
	read_after_free(b, 100000);
	ok(b[0] == 0x6b && b[1] == 0x6b, "read after free of a large block sees poison");

	char buf[4096];
	int st = run_exit(leak_some, buf, sizeof buf);
	ok(st == 0 && strstr(buf, "300 bytes in      3 objects of kmalloc-112") != NULL,
	   "leak report: three 100-byte blocks from one site, grouped");
	ok(strstr(buf, "70000 bytes in      1 objects of kmalloc-large") != NULL,
	   "leak report: the large block");
	if (!strstr(buf, "kmalloc-112"))
		diag("stderr was: %s", buf);
	st = run_exit(valid_use, buf, sizeof buf);
	ok(st == 0 && !strstr(buf, "BUG"), "no report on valid use");
	if (st != 0)
		diag("stderr was: %s", buf);

	errno = 0;
	ok(slabmalloc_config("debug=FQ") == -1 && errno == EINVAL, "debug=FQ is an error");
	ok(slabmalloc_config("debug=F:") == -1, "debug=F: is an error");
	ok(slabmalloc_config("debug=F:a//b") == -1, "debug=F:a//b is an error");
	ok(slabmalloc_config("debug=") == -1, "debug= is an error");
	ok(slabmalloc_config("leak=") == -1, "leak= is an error");
	ok(slabmalloc_config("debug=FZPU:kmalloc-64/conn") == 0, "a selection by name is accepted");
	return done_testing();
}
