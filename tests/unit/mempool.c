/* SPDX-License-Identifier: MIT */
/*
 * mempool.t — mempool semantics with user element functions that can be
 * told to fail: the reserve, waiting and waking, GFP_ATOMIC, resize,
 * destroy, bad input, and a multi-threaded run (for helgrind/TSan).
 */
#include "internal.h"
#include "tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- a test allocator ---- */

#define ELEM_SIZE 48
#define MAX_TRACK 4096

struct tally {
	int fail;                        /* 1: alloc_fn fails */
	int fail_after;                  /* >0: fail once this many succeeded */
	unsigned long allocs, frees, calls;
	gfp_t gfp_seen[16];              /* flags of the first calls */
	void *live[MAX_TRACK];           /* elements handed out, not freed */
};

static void track_add(struct tally *t, void *e)
{
	for (int i = 0; i < MAX_TRACK; i++)
		if (!t->live[i]) {
			t->live[i] = e;
			return;
		}
}

static int track_del(struct tally *t, void *e)
{
	for (int i = 0; i < MAX_TRACK; i++)
		if (t->live[i] == e) {
			t->live[i] = NULL;
			return 1;
		}
	return 0;
}

static void *t_alloc(gfp_t gfp, void *data)
{
	struct tally *t = data;
	unsigned long n = __atomic_fetch_add(&t->calls, 1, __ATOMIC_RELAXED);
	if (n < 16)
		t->gfp_seen[n] = gfp;
	if (__atomic_load_n(&t->fail, __ATOMIC_RELAXED))
		return NULL;
	if (t->fail_after && t->allocs >= (unsigned long)t->fail_after)
		return NULL;
	void *e = calloc(1, ELEM_SIZE);
	t->allocs++;
	track_add(t, e);
	return e;
}

static void t_free(void *e, void *data)
{
	struct tally *t = data;
	if (!track_del(t, e))
		diag("t_free: %p was not handed out by t_alloc", e);
	t->frees++;
	free(e);
}

static void tally_reset(struct tally *t)
{
	memset(t, 0, sizeof *t);
}

/* ---- bad input (run in a child by expect_death) ---- */

static void die_alloc_null(void *arg) { (void)arg; mempool_alloc(NULL, GFP_KERNEL); }
static void die_free_null(void *arg) { mempool_free(arg, NULL); }
static void die_resize_null(void *arg) { (void)arg; mempool_resize(NULL, 3); }
static void die_double_free(void *arg)
{
	mempool_t *pool = arg;
	void *a = mempool_alloc(pool, GFP_KERNEL);
	void *b = mempool_alloc(pool, GFP_KERNEL);
	(void)b;
	mempool_free(a, pool);           /* reserve 1 of 2 */
	mempool_free(a, pool);           /* still short: must be caught */
}
static void die_put_destroyed(void *arg)
{
	static struct tally t;
	mempool_t *pool = mempool_create(1, t_alloc, t_free, &t);
	(void)arg;
	mempool_destroy(pool);
	mempool_alloc(pool, GFP_KERNEL);
}

/* ---- threads ---- */

struct sleeper {
	mempool_t *pool;
	void *got;
	int done;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	s->got = mempool_alloc(s->pool, GFP_KERNEL);
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void wait_for_waiters(mempool_t *pool, unsigned int n)
{
	for (int i = 0; i < 10000 && mempool_waiting(pool) < n; i++)
		os_sleep_ns(1000000);
}

struct flaky {
	pthread_mutex_t lock;
	unsigned long seq, allocs, frees;
	int on;                          /* 0 while the pool preallocates */
};

static void *flaky_alloc(gfp_t gfp, void *data)
{
	struct flaky *f = data;
	(void)gfp;
	pthread_mutex_lock(&f->lock);
	int ok_ = !f->on || (f->seq++ % 2) == 0;   /* every other call fails */
	if (ok_)
		f->allocs++;
	pthread_mutex_unlock(&f->lock);
	return ok_ ? malloc(ELEM_SIZE) : NULL;
}

static void flaky_free(void *e, void *data)
{
	struct flaky *f = data;
	pthread_mutex_lock(&f->lock);
	f->frees++;
	pthread_mutex_unlock(&f->lock);
	free(e);
}

struct worker {
	mempool_t *pool;
	int iters;
	int nulls;
	int bad;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	void *held[4];
	for (int i = 0; i < w->iters; i++) {
		int n = 1 + i % 4;
		for (int k = 0; k < n; k++) {
			held[k] = mempool_alloc(w->pool, GFP_KERNEL);
			if (!held[k])
				w->nulls++;
			else
				memset(held[k], (int)(uintptr_t)w & 0xff, ELEM_SIZE);
		}
		for (int k = 0; k < n; k++) {
			unsigned char *p = held[k];
			for (int b = 0; p && b < ELEM_SIZE; b++)
				if (p[b] != ((uintptr_t)w & 0xff))
					w->bad++;
			mempool_free(held[k], w->pool);
		}
	}
	return NULL;
}

int main(void)
{
	static struct tally t;
	mempool_t *pool;
	void *e[16];

	alarm(120);                      /* a hang is a failure, not a stall */

	/* --- creation --- */
	tally_reset(&t);
	pool = mempool_create(4, t_alloc, t_free, &t);
	ok(pool != NULL, "mempool_create(4) succeeds");
	ok(t.allocs == 4 && mempool_reserved(pool) == 4,
	   "it preallocates min_nr elements (allocs %lu, reserved %d)", t.allocs,
	   mempool_reserved(pool));
	ok(t.gfp_seen[0] == GFP_KERNEL, "preallocation uses GFP_KERNEL (0x%x)", t.gfp_seen[0]);

	/* --- allocator works: the reserve is left alone --- */
	unsigned long calls0 = t.calls;
	e[0] = mempool_alloc(pool, GFP_KERNEL);
	ok(e[0] && mempool_reserved(pool) == 4, "with a working allocator the reserve is untouched");
	gfp_t g = t.gfp_seen[calls0];
	ok((g & __GFP_NORETRY) && (g & __GFP_NOWARN) && !(g & __GFP_WAIT) && !(g & __GFP_IO),
	   "first attempt: NORETRY|NOWARN, without WAIT and IO (0x%x)", g);
	mempool_free(e[0], pool);
	ok(t.frees == 1 && mempool_reserved(pool) == 4,
	   "a free with a full reserve goes to free_fn");

	/* --- allocator fails: the reserve serves --- */
	t.fail = 1;
	calls0 = t.calls;
	int served = 0;
	for (int i = 0; i < 4; i++) {
		e[i] = mempool_alloc(pool, GFP_KERNEL);
		if (e[i])
			served++;
	}
	ok(served == 4 && mempool_reserved(pool) == 0,
	   "the reserve serves min_nr allocations while the allocator fails");
	ok(t.calls - calls0 == 4, "each tried the allocator first (%lu calls)", t.calls - calls0);
	calls0 = t.calls;
	void *atomic = mempool_alloc(pool, GFP_ATOMIC);
	ok(atomic == NULL, "GFP_ATOMIC on an empty reserve returns NULL");
	ok(t.calls - calls0 == 1 && !(t.gfp_seen[calls0 < 16 ? calls0 : 0] & __GFP_WAIT),
	   "... after one non-blocking try of the allocator (%lu)", t.calls - calls0);
	errno = 0;
	ok(mempool_alloc(pool, GFP_NOWAIT) == NULL, "GFP_NOWAIT on an empty reserve returns NULL");

	/* --- frees refill the reserve first --- */
	unsigned long frees0 = t.frees;
	mempool_free(e[0], pool);
	mempool_free(e[1], pool);
	ok(mempool_reserved(pool) == 2 && t.frees == frees0, "frees refill the reserve first");
	e[0] = mempool_alloc(pool, GFP_ATOMIC);
	ok(e[0] == e[1], "the reserve is a stack: the last freed comes back first");
	mempool_free(e[0], pool);
	mempool_free(NULL, pool);
	ok(mempool_reserved(pool) == 2, "mempool_free(NULL) is a no-op");

	/* --- a sleeper is woken by a free --- */
	e[0] = mempool_alloc(pool, GFP_KERNEL);
	e[1] = mempool_alloc(pool, GFP_KERNEL);
	ok(mempool_reserved(pool) == 0, "reserve drained again");
	struct sleeper s = { pool, NULL, 0 };
	pthread_t th;
	pthread_create(&th, NULL, sleeper_main, &s);
	wait_for_waiters(pool, 1);
	ok(mempool_waiting(pool) == 1 && !__atomic_load_n(&s.done, __ATOMIC_ACQUIRE),
	   "GFP_KERNEL on an empty reserve sleeps");
	mempool_free(e[0], pool);
	pthread_join(th, NULL);
	ok(s.done && s.got == e[0], "the sleeper is woken by mempool_free and gets the element");
	ok(mempool_reserved(pool) == 0 && mempool_waiting(pool) == 0, "nothing left waiting");
	e[0] = s.got;

	/* Two sleepers, two frees: both served. */
	struct sleeper s2[2] = { { pool, NULL, 0 }, { pool, NULL, 0 } };
	pthread_t th2[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th2[i], NULL, sleeper_main, &s2[i]);
	wait_for_waiters(pool, 2);
	mempool_free(e[0], pool);
	mempool_free(e[1], pool);
	for (int i = 0; i < 2; i++)
		pthread_join(th2[i], NULL);
	ok(s2[0].got && s2[1].got && s2[0].got != s2[1].got,
	   "two sleepers are both woken by two frees");
	e[0] = s2[0].got;
	e[1] = s2[1].got;

	/* A sleeper is also served when the allocator recovers: the free of an
	 * element while the reserve is full goes to free_fn, so here the
	 * allocator itself must succeed after the 5 s timeout or a free. */
	t.fail = 0;
	mempool_free(e[0], pool);
	mempool_free(e[1], pool);
	ok(mempool_reserved(pool) == 2, "elements back in the reserve");

	/* --- GFP_ATOMIC never waits for the pool lock --- */
	t.fail = 1;
	void *r0 = mempool_alloc(pool, GFP_ATOMIC);
	void *r1 = mempool_alloc(pool, GFP_ATOMIC);
	ok(r0 && r1 && mempool_reserved(pool) == 0, "GFP_ATOMIC takes from the reserve");
	sm_fork_leaves_prepare();        /* holds every pool lock */
	void *busy = mempool_alloc(pool, GFP_ATOMIC);
	sm_fork_leaves_parent();
	ok(busy == NULL, "GFP_ATOMIC returns NULL at once while the pool lock is held");
	mempool_free(r0, pool);
	mempool_free(r1, pool);

	/* --- resize --- */
	t.fail = 0;
	unsigned long a0 = t.allocs;
	frees0 = t.frees;
	ok(mempool_resize(pool, 10) == 0, "resize up to 10");
	ok(t.allocs - a0 == 8 && mempool_reserved(pool) == 10,
	   "... allocates the 8 new elements (allocs %lu, reserved %d)",
	   t.allocs - a0, mempool_reserved(pool));
	ok(mempool_resize(pool, 3) == 0 && t.frees - frees0 == 7 && mempool_reserved(pool) == 3,
	   "resize down to 3 frees the 7 surplus (frees %lu)", t.frees - frees0);
	void *x[5];
	for (int i = 0; i < 5; i++)
		x[i] = mempool_alloc(pool, GFP_KERNEL);
	frees0 = t.frees;
	for (int i = 0; i < 5; i++)
		mempool_free(x[i], pool);
	ok(t.frees - frees0 == 5 && mempool_reserved(pool) == 3,
	   "after the shrink, frees above min_nr go to free_fn");
	a0 = t.allocs;
	frees0 = t.frees;
	t.fail_after = (int)t.allocs + 4;   /* 4 more succeed, then failure */
	ok(mempool_resize(pool, 20) == -ENOMEM, "resize up with a failing allocator: -ENOMEM");
	ok(t.allocs - a0 == 4 && t.frees - frees0 == 4 && mempool_reserved(pool) == 3,
	   "... undoes the partial growth (allocs %lu frees %lu reserved %d)",
	   t.allocs - a0, t.frees - frees0, mempool_reserved(pool));
	t.fail_after = 0;
	ok(mempool_resize(pool, 0) == -EINVAL && mempool_resize(pool, -5) == -EINVAL,
	   "resize to < 1 is -EINVAL");
	ok(mempool_resize(pool, 6) == 0 && mempool_reserved(pool) == 6, "resize up to 6 again");

	t.fail = 0;
	frees0 = t.frees;
	mempool_free(e[2], pool);
	mempool_free(e[3], pool);
	ok(t.frees - frees0 == 2, "elements still out from the first drain go to free_fn "
	   "(reserve full)");

	/* --- destroy --- */
	void *reserved_before = NULL;
	int live = 0;
	for (int i = 0; i < MAX_TRACK; i++)
		if (t.live[i]) {
			live++;
			reserved_before = t.live[i];
		}
	ok(live == 6 && reserved_before, "six elements are out of the allocator");
	frees0 = t.frees;
	mempool_destroy(pool);
	live = 0;
	for (int i = 0; i < MAX_TRACK; i++)
		if (t.live[i])
			live++;
	ok(t.frees - frees0 == 6 && live == 0,
	   "destroy returns every reserved element through free_fn");
	ok(t.allocs == t.frees, "nothing leaked (allocs %lu frees %lu)", t.allocs, t.frees);
	mempool_destroy(NULL);
	ok(1, "mempool_destroy(NULL) is a no-op");

	/* --- creation errors --- */
	tally_reset(&t);
	errno = 0;
	ok(mempool_create(0, t_alloc, t_free, &t) == NULL && errno == EINVAL,
	   "min_nr 0: NULL, EINVAL");
	errno = 0;
	ok(mempool_create(-3, t_alloc, t_free, &t) == NULL && errno == EINVAL,
	   "min_nr -3: NULL, EINVAL");
	errno = 0;
	ok(mempool_create(2, NULL, t_free, &t) == NULL && errno == EINVAL,
	   "NULL alloc_fn: NULL, EINVAL");
	errno = 0;
	ok(mempool_create(2, t_alloc, NULL, &t) == NULL && errno == EINVAL,
	   "NULL free_fn: NULL, EINVAL");
	ok(t.calls == 0, "no element allocated for invalid arguments");
	t.fail_after = 3;
	errno = 0;
	ok(mempool_create(5, t_alloc, t_free, &t) == NULL && errno == ENOMEM,
	   "preallocation failure: NULL, ENOMEM");
	ok(t.allocs == 3 && t.frees == 3, "... and the 3 preallocated elements were freed");
	t.fail_after = 0;

	/* --- bad input dies with a clear message --- */
	tally_reset(&t);
	pool = mempool_create(2, t_alloc, t_free, &t);
	expect_death(die_alloc_null, NULL, "mempool_alloc(): NULL pool",
	             "mempool_alloc(NULL) dies");
	expect_death(die_free_null, e, "mempool_free(): NULL pool", "mempool_free(e, NULL) dies");
	expect_death(die_resize_null, NULL, "mempool_resize(): NULL pool",
	             "mempool_resize(NULL) dies");
	t.fail = 1;
	expect_death(die_double_free, pool, "freed twice",
	             "an element freed twice into the reserve dies");
	t.fail = 0;
	expect_death(die_put_destroyed, NULL, "is not a mempool",
	             "a destroyed pool is detected");
	mempool_destroy(pool);

	/* --- fork while a thread waits on the pool --- */
	tally_reset(&t);
	pool = mempool_create(1, t_alloc, t_free, &t);
	t.fail = 1;
	void *only = mempool_alloc(pool, GFP_KERNEL);
	struct sleeper fs = { pool, NULL, 0 };
	pthread_create(&th, NULL, sleeper_main, &fs);
	wait_for_waiters(pool, 1);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		/* The waiter does not exist here. The handler (init.c runs it;
		 * calling it again is harmless) must forget it, or destroy
		 * would report a waiter. */
		sm_fork_leaves_child();
		mempool_free(only, pool);
		void *again = mempool_alloc(pool, GFP_KERNEL);
		mempool_free(again, pool);
		mempool_destroy(pool);
		_exit(again == only ? 0 : 1);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "after fork, the child uses and destroys a pool a parent thread waits on");
	mempool_free(only, pool);
	pthread_join(th, NULL);
	ok(fs.got == only, "the parent's waiter is still woken");
	mempool_free(fs.got, pool);
	t.fail = 0;
	mempool_destroy(pool);

	/* --- threads: exactness under contention --- */
	static struct flaky f = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0 };
	pool = mempool_create(3, flaky_alloc, flaky_free, &f);
	ok(pool != NULL, "a pool over an allocator that fails every other call");
	f.on = 1;
	struct worker w[6];
	pthread_t wt[6];
	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){ pool, 3000, 0, 0 };
		pthread_create(&wt[i], NULL, worker_main, &w[i]);
	}
	int nulls = 0, bad = 0;
	for (int i = 0; i < 6; i++) {
		pthread_join(wt[i], NULL);
		nulls += w[i].nulls;
		bad += w[i].bad;
	}
	ok(nulls == 0, "6 threads, failing allocator: GFP_KERNEL never returned NULL");
	ok(bad == 0, "no element was handed to two threads at once");
	ok(f.allocs - f.frees == (unsigned long)mempool_reserved(pool) &&
	   mempool_reserved(pool) <= 3,
	   "every element is accounted for (allocs %lu frees %lu reserved %d)",
	   f.allocs, f.frees, mempool_reserved(pool));
	mempool_destroy(pool);
	ok(f.allocs == f.frees, "destroy after the run: nothing leaked");

	return done_testing();
}
