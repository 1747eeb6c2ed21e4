/* Randomized multi-threaded stress across every layer: malloc of all size
 * ranges, realloc, a shared kmem cache with a constructor, page blocks of
 * orders 0..4; every byte written is verified before it is freed, blocks
 * migrate between threads, and the layer validators run at the end (and
 * between phases). */
#include "tap.h"
#include "kmalloc.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 4, SLOTS = 1024, SHARED = 256 };
/* Steps per thread: 150000, or MIXED_STEPS from the environment (the
 * slub_debug run, tests/stress/debug.sh, takes fewer). */
static int STEPS = 150000;

static kmem_cache_t *objcache;
static unsigned long ctor_calls;

struct obj {
	uint64_t o_magic;
	unsigned char o_data[88];
};
#define OBJ_MAGIC 0x0b1ec7c0deull

static void obj_ctor(void *p, kmem_cache_t *c, unsigned long flags)
{
	(void)c;
	(void)flags;
	struct obj *o = p;
	o->o_magic = OBJ_MAGIC;
	__atomic_fetch_add(&ctor_calls, 1, __ATOMIC_RELAXED);
}

enum kind { K_MALLOC, K_OBJ, K_PAGES };
struct slot {
	enum kind kind;
	unsigned char *p;
	size_t n;
	unsigned order;
	unsigned char v;
};

/* Blocks handed between threads. */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot shared[SHARED];

static void fill(struct slot *s)
{
	unsigned char *d = s->p;
	size_t n = s->n;
	if (s->kind == K_OBJ) {
		d = ((struct obj *)s->p)->o_data;
		n = sizeof((struct obj *)0)->o_data;
	}
	memset(d, s->v, n);
}

static int verify(const struct slot *s)
{
	const unsigned char *d = s->p;
	size_t n = s->n;
	if (s->kind == K_OBJ) {
		if (((struct obj *)s->p)->o_magic != OBJ_MAGIC)
			return 0;
		d = ((struct obj *)s->p)->o_data;
		n = sizeof((struct obj *)0)->o_data;
	}
	for (size_t i = 0; i < n; i++)
		if (d[i] != s->v)
			return 0;
	return 1;
}

static void release(struct slot *s)
{
	switch (s->kind) {
	case K_MALLOC: free(s->p); break;
	case K_OBJ: kmem_cache_free(objcache, s->p); break;
	case K_PAGES: free_pages((unsigned long)s->p, s->order); break;
	}
	s->p = NULL;
}

static int make(struct slot *s, uint64_t *seed)
{
	uint64_t r = tap_rand(seed);
	s->v = (unsigned char)(r >> 8);
	switch (r % 10) {
	case 0:
		s->kind = K_OBJ;
		s->p = kmem_cache_alloc(objcache, GFP_KERNEL);
		s->n = sizeof(struct obj);
		break;
	case 1:
		s->kind = K_PAGES;
		s->order = (unsigned)(r >> 16) % 5;
		s->n = PAGE_SIZE << s->order;
		s->p = (unsigned char *)__get_free_pages(GFP_KERNEL, s->order);
		break;
	default:
		s->kind = K_MALLOC;
		switch ((r >> 12) % 20) {
		case 0: s->n = (r >> 20) % (6u << 20); break;      /* up to huge */
		case 1: case 2: s->n = (r >> 20) % 300000; break;  /* large */
		default: s->n = (r >> 20) % 2000; break;           /* small */
		}
		s->p = malloc(s->n);
		break;
	}
	if (!s->p)
		return 0;
	fill(s);
	return 1;
}

static void *worker(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 7;
	struct slot *slots = calloc(SLOTS, sizeof *slots);
	long bad = 0;
	for (int step = 0; step < STEPS; step++) {
		struct slot *s = &slots[tap_rand(&seed) % SLOTS];
		uint64_t r = tap_rand(&seed);
		if (!s->p) {
			if (!make(s, &seed))
				bad++;
		} else if (r % 8 == 0 && s->kind == K_MALLOC) {
			/* realloc keeps the prefix */
			size_t nn = (r >> 8) % 100000;
			if (!verify(s))
				bad++;
			unsigned char *q = realloc(s->p, nn ? nn : 1);
			size_t keep = nn < s->n ? nn : s->n;
			for (size_t i = 0; i < keep; i++)
				if (q[i] != s->v) {
					bad++;
					break;
				}
			s->p = q;
			s->n = nn ? nn : 1;
			fill(s);
		} else if (r % 8 == 1) {
			/* swap with the shared pool: blocks change threads */
			pthread_mutex_lock(&shared_lock);
			struct slot *o = &shared[(r >> 8) % SHARED];
			struct slot t = *o;
			*o = *s;
			*s = t;
			pthread_mutex_unlock(&shared_lock);
		} else {
			if (!verify(s))
				bad++;
			release(s);
		}
	}
	for (int i = 0; i < SLOTS; i++)
		if (slots[i].p) {
			if (!verify(&slots[i]))
				bad++;
			release(&slots[i]);
		}
	free(slots);
	return (void *)bad;
}

static int validate_all(void)
{
	int good = buddy_validate();
	pthread_mutex_lock(&sm_cache_list_lock);
	for (struct kmem_cache *c = sm_cache_list; c; c = c->next)
		good &= slab_validate(c);
	pthread_mutex_unlock(&sm_cache_list_lock);
	return good;
}

int main(void)
{
	const char *steps = getenv("MIXED_STEPS");
	if (steps && atoi(steps) > 0)
		STEPS = atoi(steps);
	objcache = kmem_cache_create("stress_obj", sizeof(struct obj), 0, SLAB_HWCACHE_ALIGN,
	                             obj_ctor, NULL);
	ok(objcache != NULL, "shared cache with a constructor");
	for (int phase = 0; phase < 2; phase++) {
		pthread_t t[THREADS];
		long bad = 0;
		for (int i = 0; i < THREADS; i++)
			pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1 + phase * 10));
		for (int i = 0; i < THREADS; i++) {
			void *r;
			pthread_join(t[i], &r);
			bad += (long)r;
		}
		ok(bad == 0, "phase %d: %d threads x %d steps, every byte verified (%ld bad)",
		   phase, THREADS, STEPS, bad);
		ok(validate_all(), "phase %d: buddy and slab validators pass", phase);
	}
	long bad = 0;
	for (int i = 0; i < SHARED; i++)
		if (shared[i].p) {
			bad += !verify(&shared[i]);
			release(&shared[i]);
		}
	ok(bad == 0, "blocks handed between threads verified");
	ok(kmem_cache_destroy(objcache) == 0, "the shared cache is empty and destroyed");
	malloc_trim(0);
	ok(validate_all(), "validators pass after trim");
	return done_testing();
}
