/* SPDX-License-Identifier: MIT */
/*
 * dlopen.c — the library loaded as a plugin: dlopen(RTLD_NOW | RTLD_LOCAL)
 * after the program has started, the kernel-style API used from several
 * threads through dlsym, dlclose, and then a thread that used it exits.
 *
 * The program does not link libslabmalloc; it loads $SM_LIB. Each scenario
 * runs in a child process (this program run again with "scenario"), so that
 * a failed dlopen or a crash after dlclose is one failed test, not a dead
 * harness. The scenario runs twice: as the dynamic linker places the
 * library by default (its TLS block does not fit the static TLS left over
 * for dlopen, so it is dynamic TLS) and with glibc.rtld.optional_static_tls
 * raised so that glibc puts it in static TLS.
 */
#include "tap.h"

#include <slabmalloc.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#define NTHREADS 4
#define ROUNDS   300
#define XFER     256             /* objects each thread hands to the next */

/* The entry points, looked up with dlsym. */
static struct {
	__typeof__(&slabmalloc_kmalloc) kmalloc;
	__typeof__(&slabmalloc_kzalloc) kzalloc;
	__typeof__(&slabmalloc_krealloc) krealloc;
	__typeof__(&slabmalloc_kfree) kfree;
	__typeof__(&slabmalloc_ksize) ksize;
	__typeof__(&slabmalloc_kmem_cache_create) cache_create;
	__typeof__(&slabmalloc_kmem_cache_alloc) cache_alloc;
	__typeof__(&slabmalloc_kmem_cache_free) cache_free;
	__typeof__(&slabmalloc_kmem_cache_destroy) cache_destroy;
	__typeof__(&slabmalloc_alloc_pages) alloc_pages;
	__typeof__(&slabmalloc___free_pages) free_pages;
	__typeof__(&slabmalloc_page_address) page_address;
	__typeof__(&slabmalloc_mempool_create_kmalloc_pool) pool_create;
	__typeof__(&slabmalloc_mempool_alloc) pool_alloc;
	__typeof__(&slabmalloc_mempool_free) pool_free;
	__typeof__(&slabmalloc_mempool_destroy) pool_destroy;
	__typeof__(&slabmalloc_vmalloc) vmalloc;
	__typeof__(&slabmalloc_vfree) vfree;
	__typeof__(&slabmalloc_get_cpu) get_cpu;
	__typeof__(&slabmalloc_put_cpu) put_cpu;
	__typeof__(&slabmalloc_slabinfo) slabinfo;
} sm;

static int errors;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *what, long detail)
{
	pthread_mutex_lock(&err_lock);
	if (errors++ < 10)
		diag("scenario: %s (%ld)", what, detail);
	pthread_mutex_unlock(&err_lock);
}

static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);
	if (!p)
		fail(name, 0);
	return p;
}

#define OBJ_MAGIC 0x0b1ec7u
static kmem_cache_t *objs;
static mempool_t *pool;
static void *xfer[NTHREADS][XFER];
static pthread_barrier_t barrier;

static void obj_ctor(void *obj, kmem_cache_t *cache, unsigned long flags)
{
	(void)cache;
	(void)flags;
	*(uint32_t *)obj = OBJ_MAGIC;
}

static void fill(unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i += 61)
		p[i] = (unsigned char)(seed + i);
}

static int check(const unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i += 61)
		if (p[i] != (unsigned char)(seed + i))
			return 0;
	return 1;
}

static void *worker(void *arg)
{
	static const size_t sizes[] = { 1, 8, 24, 64, 200, 1000, 4000, 40000, 300000, 3 << 20 };
	unsigned int id = (unsigned int)(uintptr_t)arg;
	void *ring[64] = { 0 };
	size_t ring_size[64] = { 0 };

	for (unsigned int r = 0; r < ROUNDS; r++) {
		/* kmalloc of every kind of size, kept a while, freed out of order */
		unsigned int k = (r * 7 + id) % 64;
		if (ring[k]) {
			if (!check(ring[k], ring_size[k], k + id))
				fail("kmalloc object changed", (long)ring_size[k]);
			sm.kfree(ring[k]);
		}
		size_t n = sizes[(r + id) % (sizeof sizes / sizeof sizes[0])];
		ring[k] = sm.kmalloc(n, GFP_KERNEL);
		ring_size[k] = n;
		if (!ring[k] || sm.ksize(ring[k]) < n) {
			fail("kmalloc", (long)n);
			ring[k] = NULL;
		} else {
			fill(ring[k], n, k + id);
		}
		unsigned char *z = sm.kzalloc(100, GFP_KERNEL);
		if (!z || z[0] || z[99])
			fail("kzalloc", 100);
		z = sm.krealloc(z, 5000, GFP_KERNEL);
		if (!z)
			fail("krealloc", 5000);
		sm.kfree(z);

		/* a kmem_cache with a constructor */
		uint32_t *o = sm.cache_alloc(objs, GFP_KERNEL);
		if (!o || *o != OBJ_MAGIC)
			fail("kmem_cache_alloc: object not constructed", o ? (long)*o : 0);
		else
			sm.cache_free(objs, o);

		/* pages, a mempool element, vmalloc, a CPU slot */
		unsigned int order = r % 3;
		struct page *pg = sm.alloc_pages(GFP_KERNEL, order);
		if (!pg) {
			fail("alloc_pages", order);
		} else {
			fill(sm.page_address(pg), (size_t)4096 << order, r);
			sm.free_pages(pg, order);
		}
		void *e = sm.pool_alloc(pool, GFP_KERNEL);
		if (!e)
			fail("mempool_alloc", 0);
		else
			sm.pool_free(e, pool);
		if (r % 16 == 0) {
			unsigned char *v = sm.vmalloc(100000);
			if (!v)
				fail("vmalloc", 100000);
			else {
				fill(v, 100000, r);
				sm.vfree(v);
			}
		}
		sm.get_cpu();
		sm.put_cpu();

		/* the program's own malloc keeps working beside the plugin */
		char *m = malloc(100 + r);
		if (!m)
			fail("the program's malloc", (long)r);
		free(m);
	}
	for (unsigned int k = 0; k < 64; k++)
		sm.kfree(ring[k]);

	/* objects freed by another thread than the one that allocated them */
	for (unsigned int i = 0; i < XFER; i++) {
		xfer[id][i] = sm.kmalloc(16 + (i % 200), GFP_KERNEL);
		if (xfer[id][i])
			fill(xfer[id][i], 16, id * 1000 + i);
	}
	pthread_barrier_wait(&barrier);
	unsigned int from = (id + 1) % NTHREADS;
	for (unsigned int i = 0; i < XFER; i++) {
		if (!xfer[from][i] || !check(xfer[from][i], 16, from * 1000 + i))
			fail("cross-thread object", (long)i);
		sm.kfree(xfer[from][i]);
	}
	return NULL;
}

/* A thread that uses the library, then waits until it is dlclosed, then
 * exits: its thread-exit hook (a thread-specific-data destructor of the
 * library) runs after dlclose. */
static int late_pipe[2];

static void *late_thread(void *arg)
{
	(void)arg;
	void *p = sm.kmalloc(48, GFP_KERNEL);
	void *q = sm.kmalloc(100000, GFP_KERNEL);
	struct page *pg = sm.alloc_pages(GFP_KERNEL, 0);
	if (!p || !q || !pg)
		fail("late thread allocation", 0);
	sm.kfree(p);
	sm.kfree(q);
	if (pg)
		sm.free_pages(pg, 0);
	char c;
	while (read(late_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static int scenario(const char *lib)
{
	alarm(60);
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		diag("scenario: dlopen: %s", dlerror());
		return 1;
	}
	sm.kmalloc = sym(h, "slabmalloc_kmalloc");
	sm.kzalloc = sym(h, "slabmalloc_kzalloc");
	sm.krealloc = sym(h, "slabmalloc_krealloc");
	sm.kfree = sym(h, "slabmalloc_kfree");
	sm.ksize = sym(h, "slabmalloc_ksize");
	sm.cache_create = sym(h, "slabmalloc_kmem_cache_create");
	sm.cache_alloc = sym(h, "slabmalloc_kmem_cache_alloc");
	sm.cache_free = sym(h, "slabmalloc_kmem_cache_free");
	sm.cache_destroy = sym(h, "slabmalloc_kmem_cache_destroy");
	sm.alloc_pages = sym(h, "slabmalloc_alloc_pages");
	sm.free_pages = sym(h, "slabmalloc___free_pages");
	sm.page_address = sym(h, "slabmalloc_page_address");
	sm.pool_create = sym(h, "slabmalloc_mempool_create_kmalloc_pool");
	sm.pool_alloc = sym(h, "slabmalloc_mempool_alloc");
	sm.pool_free = sym(h, "slabmalloc_mempool_free");
	sm.pool_destroy = sym(h, "slabmalloc_mempool_destroy");
	sm.vmalloc = sym(h, "slabmalloc_vmalloc");
	sm.vfree = sym(h, "slabmalloc_vfree");
	sm.get_cpu = sym(h, "slabmalloc_get_cpu");
	sm.put_cpu = sym(h, "slabmalloc_put_cpu");
	sm.slabinfo = sym(h, "slabmalloc_slabinfo");
	if (errors)
		return 1;

	/* RTLD_LOCAL after start-up: the program's malloc stays the C
	 * library's, so free() never sees the plugin's pointers. */
	if (dlsym(RTLD_DEFAULT, "malloc") == dlsym(h, "malloc"))
		fail("the program's malloc was replaced", 0);

	objs = sm.cache_create("dlopen_objs", 40, 0, 0, obj_ctor, NULL);
	pool = sm.pool_create(4, 128);
	if (!objs || !pool) {
		fail("kmem_cache_create / mempool_create_kmalloc_pool", 0);
		return 1;
	}
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	pthread_t t[NTHREADS];
	for (unsigned int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
	for (unsigned int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);

	FILE *f = tmpfile();
	char line[256];
	int header = 0, listed = 0;
	if (f) {
		sm.slabinfo(f);
		rewind(f);
		while (fgets(line, sizeof line, f)) {
			header |= strncmp(line, "slabinfo - version: 2.1", 23) == 0;
			listed |= strncmp(line, "dlopen_objs ", 12) == 0;
		}
		fclose(f);
	}
	if (!header || !listed)
		fail("slabinfo lists the plugin's cache", header);
	sm.pool_destroy(pool);
	if (sm.cache_destroy(objs) != 0)
		fail("kmem_cache_destroy", 0);

	/* dlclose, then a thread that used the library exits. */
	pthread_t late;
	if (pipe(late_pipe) != 0 || pthread_create(&late, NULL, late_thread, NULL) != 0) {
		fail("pipe / pthread_create", errno);
		return 1;
	}
	void *p = sm.kmalloc(32, GFP_KERNEL);    /* the main thread used it too */
	sm.kfree(p);
	usleep(10000);
	if (dlclose(h) != 0)
		fail("dlclose", 0);
	if (write(late_pipe[1], "x", 1) != 1)
		fail("write", errno);
	pthread_join(late, NULL);
	/* The library is pinned: dlclose left it loaded. */
	if (!dlopen(lib, RTLD_NOW | RTLD_NOLOAD))
		fail("the library stays loaded after dlclose (-z nodelete)", 0);
	return errors ? 1 : 0;
}

/* Run this program's scenario in a child; @tunables for GLIBC_TUNABLES or
 * NULL. RETURNS: the child's wait status. */
static int run_scenario(const char *self, const char *lib, const char *tunables)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (tunables)
			setenv("GLIBC_TUNABLES", tunables, 1);
		else
			unsetenv("GLIBC_TUNABLES");
		execl(self, self, "scenario", lib, (char *)NULL);
		_exit(127);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	return st;
}

static void report(int st, const char *what)
{
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", what);
	if (WIFSIGNALED(st))
		diag("the scenario died of signal %d", WTERMSIG(st));
	else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		diag("the scenario exited with status %d", WEXITSTATUS(st));
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "scenario") == 0)
		return scenario(argv[2]);
	const char *lib = getenv("SM_LIB");
	if (!lib || !*lib) {
		printf("1..0 # SKIP SM_LIB not set\n");
		return 0;
	}
	report(run_scenario(argv[0], lib, NULL),
	       "dlopen(RTLD_NOW|RTLD_LOCAL): kmalloc, kmem_cache, pages, mempool, "
	       "vmalloc, percpu from 4 threads; dlclose; a thread that used it exits");
	report(run_scenario(argv[0], lib, "glibc.rtld.optional_static_tls=65536"),
	       "the same with glibc.rtld.optional_static_tls raised: glibc puts "
	       "the block in static TLS");
	return done_testing();
}
