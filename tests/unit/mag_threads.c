/* SPDX-License-Identifier: MIT */
/*
 * mag_threads.c — the magazine and depot layer with threads: destroy with
 * objects in other threads' magazines, producer/consumer with cross-thread
 * frees, thread exit, GFP_ATOMIC against held locks, magazine growth under
 * contention, working-set reaping (slow-path and background), ids beyond
 * the inline TLS slots, fork.
 */
#include "slab_internal.h"
#include "tap.h"

#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>

static struct kmem_cache *C(kmem_cache_t *c) { return c; }

/* ---- destroy ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int phase;
static kmem_cache_t *shared;
static uint32_t shared_id;
static int slot_cleared;

static void wait_phase(int p)
{
	pthread_mutex_lock(&mu);
	while (phase < p)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

static void set_phase(int p)
{
	pthread_mutex_lock(&mu);
	phase = p;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void *holder(void *arg)
{
	(void)arg;
	void *p[100];
	for (int i = 0; i < 100; i++)
		p[i] = kmem_cache_alloc(shared, GFP_KERNEL);
	for (int i = 0; i < 100; i++)
		kmem_cache_free(shared, p[i]);
	set_phase(1);               /* objects sit in this thread's magazines */
	wait_phase(2);              /* main destroys the cache meanwhile */
	struct cpu_cache *cc = &sm_tc.tc_cc[shared_id];
	slot_cleared = cc->cc_top == NULL && cc->cc_lo == NULL &&
	               cc->cc_hi == NULL && cc->cc_ploaded == NULL;
	return NULL;
}

static void test_destroy(void)
{
	kmem_cache_t *c = kmem_cache_create("busy", 128, 0, 0, NULL, NULL);
	void *live = kmem_cache_alloc(c, GFP_KERNEL);
	void *more[50];
	for (int i = 0; i < 50; i++)
		more[i] = kmem_cache_alloc(c, GFP_KERNEL);
	for (int i = 0; i < 50; i++)
		kmem_cache_free(c, more[i]);
	unsigned long active = C(c)->active_objs, slabs = C(c)->nr_slabs;
	ok(kmem_cache_destroy(c) == -EBUSY, "destroy with a live object: -EBUSY");
	ok(C(c)->active_objs == active && C(c)->nr_slabs == slabs && slab_validate(C(c)),
	   "nothing was freed by the failed destroy");
	void *p = kmem_cache_alloc(c, GFP_KERNEL);
	memset(p, 1, 128);
	kmem_cache_free(c, p);
	ok(p != NULL, "the cache is still usable");
	kmem_cache_free(c, live);
	ok(kmem_cache_destroy(c) == 0, "destroy after the last free: 0");

	shared = kmem_cache_create("held", 256, 0, 0, NULL, NULL);
	shared_id = C(shared)->id;
	phase = 0;
	pthread_t t;
	pthread_create(&t, NULL, holder, NULL);
	wait_phase(1);
	ok(mag_count_cached(C(shared)) == C(shared)->active_objs && C(shared)->active_objs >= 100,
	   "the other thread's magazines (and the depot) hold every object (%lu)",
	   C(shared)->active_objs);
	ok(kmem_cache_destroy(shared) == 0,
	   "destroy with objects in a live thread's magazines: 0 (they are free)");
	set_phase(2);
	pthread_join(t, NULL);
	ok(slot_cleared, "the other thread's slot for the recycled id was reset");
}

/* ---- producer / consumer ---- */

#define QCAP 1024
static void *queue[QCAP];
static unsigned qhead, qtail, qdone;
static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcv = PTHREAD_COND_INITIALIZER;
static kmem_cache_t *pc_cache;
static int pc_bad;
#define PC_SIZE 72
#define PC_PER_PRODUCER 100000

static void fill(unsigned char *p)
{
	for (int i = 0; i < PC_SIZE; i++)
		p[i] = (unsigned char)(((uintptr_t)p >> 3) + i * 7);
}

static int check(const unsigned char *p)
{
	for (int i = 0; i < PC_SIZE; i++)
		if (p[i] != (unsigned char)(((uintptr_t)p >> 3) + i * 7))
			return 0;
	return 1;
}

static void *producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < PC_PER_PRODUCER; i++) {
		unsigned char *p = kmem_cache_alloc(pc_cache, GFP_KERNEL);
		fill(p);
		pthread_mutex_lock(&qmu);
		while (qtail - qhead == QCAP)
			pthread_cond_wait(&qcv, &qmu);
		queue[qtail++ % QCAP] = p;
		pthread_cond_broadcast(&qcv);
		pthread_mutex_unlock(&qmu);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	for (;;) {
		void *batch[32];
		int n = 0;
		pthread_mutex_lock(&qmu);
		while (qtail == qhead && !qdone)
			pthread_cond_wait(&qcv, &qmu);
		if (qtail == qhead && qdone) {
			pthread_mutex_unlock(&qmu);
			return NULL;
		}
		while (qtail != qhead && n < 32)
			batch[n++] = queue[qhead++ % QCAP];
		pthread_cond_broadcast(&qcv);
		pthread_mutex_unlock(&qmu);
		for (int i = 0; i < n; i++) {
			if (!check(batch[i]))
				__atomic_store_n(&pc_bad, 1, __ATOMIC_RELAXED);
			memset(batch[i], 0xdd, PC_SIZE);
			kmem_cache_free(pc_cache, batch[i]);
		}
	}
}

static void test_producer_consumer(void)
{
	pc_cache = kmem_cache_create("prodcons", PC_SIZE, 0, 0, NULL, NULL);
	pthread_t p[2], c[2];
	for (int i = 0; i < 2; i++) {
		pthread_create(&p[i], NULL, producer, NULL);
		pthread_create(&c[i], NULL, consumer, NULL);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(p[i], NULL);
	pthread_mutex_lock(&qmu);
	qdone = 1;
	pthread_cond_broadcast(&qcv);
	pthread_mutex_unlock(&qmu);
	for (int i = 0; i < 2; i++)
		pthread_join(c[i], NULL);
	ok(!pc_bad, "producer/consumer: every byte verified after cross-thread hand-off");
	ok(C(pc_cache)->depot.d_nfull > 0, "full magazines flowed through the depot");
	ok(slab_validate(C(pc_cache)) && mag_validate(C(pc_cache)), "validators pass");
	ok(mag_count_cached(C(pc_cache)) == C(pc_cache)->active_objs,
	   "all objects are free in magazines once the threads exited");
	ok(kmem_cache_destroy(pc_cache) == 0, "destroy reclaims them");
}

/* ---- thread exit ---- */

static kmem_cache_t *exit_cache;
static void *exiter(void *arg)
{
	(void)arg;
	void *p[500];
	for (int i = 0; i < 500; i++)
		p[i] = kmem_cache_alloc(exit_cache, GFP_KERNEL);
	for (int i = 0; i < 500; i++)
		kmem_cache_free(exit_cache, p[i]);
	return NULL;
}

static void test_thread_exit(void)
{
	exit_cache = kmem_cache_create("exiter", 64, 0, 0, NULL, NULL);
	struct depot *d = &C(exit_cache)->depot;
	pthread_t t;
	pthread_create(&t, NULL, exiter, NULL);
	pthread_join(t, NULL);
	/* 500 frees: some full magazines went to the depot while running;
	 * what the thread still held went back to the slabs at its exit. */
	ok(d->d_rounds == C(exit_cache)->active_objs,
	   "after join, only the depot holds objects (%lu rounds, %lu active)",
	   (unsigned long)d->d_rounds, (unsigned long)C(exit_cache)->active_objs);
	ok(d->d_rounds < 500 && mag_count_cached(C(exit_cache)) == d->d_rounds,
	   "the exited thread's magazines went back to the slabs (%lu of 500 in the depot)",
	   (unsigned long)d->d_rounds);
	ok(mag_validate(C(exit_cache)), "mag_validate");
	ok(kmem_cache_destroy(exit_cache) == 0, "destroy");
}

/* ---- GFP_ATOMIC against held locks ---- */

static kmem_cache_t *atomic_cache;
static void *locker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&C(atomic_cache)->depot.d_lock);
	pthread_mutex_lock(&C(atomic_cache)->slab_lock);
	set_phase(11);
	wait_phase(12);
	pthread_mutex_unlock(&C(atomic_cache)->slab_lock);
	pthread_mutex_unlock(&C(atomic_cache)->depot.d_lock);
	return NULL;
}

static void test_atomic(void)
{
	atomic_cache = kmem_cache_create("atomic", 100, 0, 0, NULL, NULL);
	phase = 10;
	pthread_t t;
	pthread_create(&t, NULL, locker, NULL);
	wait_phase(11);
	void *p = kmem_cache_alloc(atomic_cache, GFP_ATOMIC | __GFP_NOWARN);
	ok(p == NULL, "GFP_ATOMIC with the depot and slab locks held elsewhere: NULL, no wait");
	set_phase(12);
	pthread_join(t, NULL);
	p = kmem_cache_alloc(atomic_cache, GFP_ATOMIC);
	ok(p != NULL, "GFP_ATOMIC succeeds once the locks are free");
	kmem_cache_free(atomic_cache, p);
	ok(kmem_cache_destroy(atomic_cache) == 0, "destroy");
}

/* ---- magazine growth under contention ---- */

static kmem_cache_t *hot;
static int stop_hot;
static void *hammer(void *arg)
{
	(void)arg;
	void *p[300];
	while (!__atomic_load_n(&stop_hot, __ATOMIC_RELAXED)) {
		for (int i = 0; i < 300; i++)
			p[i] = kmem_cache_alloc(hot, GFP_KERNEL);
		for (int i = 0; i < 300; i++)
			kmem_cache_free(hot, p[i]);
	}
	return NULL;
}

static void test_growth(void)
{
	hot = kmem_cache_create("contended", 32, 0, 0, NULL, NULL);
	struct depot *d = &C(hot)->depot;
	uint32_t initial = d->d_magsize;
	enum { T = 6 };
	pthread_t t[T];
	stop_hot = 0;
	for (int i = 0; i < T; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	uint64_t start = os_now_ns();
	for (;;) {
		pthread_mutex_lock(&d->d_lock);
		uint32_t now = d->d_magsize;
		pthread_mutex_unlock(&d->d_lock);
		if (now != initial || os_now_ns() - start > 20000000000ull)
			break;
		os_sleep_ns(1000000);
	}
	__atomic_store_n(&stop_hot, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < T; i++)
		pthread_join(t[i], NULL);
	ok(d->d_magsize > initial && d->d_grown > 0,
	   "depot contention grew the magazine size (%u -> %u)", initial, d->d_magsize);
	ok(d->d_magsize <= slab_mag_max, "within slab_mag_max (%u)", slab_mag_max);
	ok(mag_validate(C(hot)) && slab_validate(C(hot)), "validators pass");
	ok(kmem_cache_destroy(hot) == 0, "destroy");
}

/* ---- working-set reaping from the slow paths and the reaper thread ---- */

static kmem_cache_t *reap_cache;
static void *fill_depot(void *arg)
{
	(void)arg;
	enum { N = 2000 };
	static void *p[N];
	for (int i = 0; i < N; i++)
		p[i] = kmem_cache_alloc(reap_cache, GFP_KERNEL);
	for (int i = 0; i < N; i++)
		kmem_cache_free(reap_cache, p[i]);
	return NULL;
}

static void *one_alloc(void *arg)
{
	(void)arg;
	void *p = kmem_cache_alloc(reap_cache, GFP_KERNEL);
	kmem_cache_free(reap_cache, p);
	return NULL;
}

static void run(void *(*fn)(void *))
{
	pthread_t t;
	pthread_create(&t, NULL, fn, NULL);
	pthread_join(t, NULL);
}

static void test_reap(unsigned long flags, int expect_reap)
{
	uint64_t saved = depot_reap_interval_ns;
	__atomic_store_n(&depot_reap_interval_ns, 50000000ull, __ATOMIC_RELAXED);       /* 50 ms */
	reap_cache = kmem_cache_create(expect_reap ? "reaped" : "noreap", 128, 0, flags,
	                               NULL, NULL);
	struct depot *d = &C(reap_cache)->depot;
	run(fill_depot);
	uint32_t full = d->d_nfull;
	os_sleep_ns(60000000ull);
	run(one_alloc);     /* interval end: the depot was used, fmin := nfull */
	os_sleep_ns(60000000ull);
	run(one_alloc);     /* interval end: idle magazines are reaped */
	if (expect_reap)
		ok(full > 2 && d->d_nfull <= 2 && d->d_reaped > 0,
		   "idle full magazines are reaped from a slow path (%u -> %u)", full, d->d_nfull);
	else
		/* Each one_alloc thread took one full magazine, whose rounds
		 * went back to the slabs when it exited. */
		ok(full > 2 && d->d_nfull >= full - 2 && d->d_reaped == 0,
		   "SLAB_NO_REAP: the depot is never reaped (%u -> %u)", full, d->d_nfull);
	ok(mag_validate(C(reap_cache)) && slab_validate(C(reap_cache)), "validators pass");
	ok(kmem_cache_destroy(reap_cache) == 0, "destroy");
	__atomic_store_n(&depot_reap_interval_ns, saved, __ATOMIC_RELAXED);
}

static void test_reaper_thread(void)
{
	uint64_t saved = depot_reap_interval_ns;
	__atomic_store_n(&depot_reap_interval_ns, 20000000ull, __ATOMIC_RELAXED);       /* 20 ms */
	reap_cache = kmem_cache_create("bg-reaped", 128, 0, 0, NULL, NULL);
	struct depot *d = &C(reap_cache)->depot;
	run(fill_depot);    /* its slow paths start the background thread */
	uint32_t full = d->d_nfull;
	uint64_t start = os_now_ns();
	for (;;) {
		pthread_mutex_lock(&d->d_lock);
		uint32_t n = d->d_nfull;
		pthread_mutex_unlock(&d->d_lock);
		if (n == 0 || os_now_ns() - start > 10000000000ull)
			break;
		os_sleep_ns(10000000ull);
	}
	pthread_mutex_lock(&d->d_lock);
	ok(full > 0 && d->d_nfull == 0, "the background reaper emptied an idle depot (%u -> %u)",
	   full, d->d_nfull);
	pthread_mutex_unlock(&d->d_lock);
	__atomic_store_n(&depot_reap_interval_ns, saved, __ATOMIC_RELAXED);
	ok(kmem_cache_destroy(reap_cache) == 0, "destroy");
}

/* ---- many caches: ids beyond the inline TLS slots ---- */

static kmem_cache_t *many[200];
static int many_ok = 1;
static void *use_many(void *arg)
{
	(void)arg;
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 200; i++) {
			void *p[40];
			for (int j = 0; j < 40; j++) {
				p[j] = kmem_cache_alloc(many[i], GFP_KERNEL);
				if (!p[j])
					many_ok = 0;
				else
					memset(p[j], i, 24);
			}
			for (int j = 0; j < 40; j++)
				kmem_cache_free(many[i], p[j]);
		}
	return NULL;
}

static void test_many(void)
{
	for (int i = 0; i < 200; i++)
		many[i] = kmem_cache_create("many", 24 + (i % 5) * 8, 0, 0, NULL, NULL);
	ok(C(many[199])->id >= SM_TC_INLINE, "ids beyond the inline slots (%u)", C(many[199])->id);
	run(use_many);
	use_many(NULL);
	ok(many_ok, "caches with ids >= SM_TC_INLINE work (tc_ext), in two threads");
	int all = 1;
	for (int i = 0; i < 200; i++)
		all &= mag_validate(C(many[i])) && kmem_cache_destroy(many[i]) == 0;
	ok(all, "all destroyed (own ext slots flushed, the exited thread's in the depot)");
}

/* ---- fork ---- */

static void *fork_holder(void *arg)
{
	(void)arg;
	void *p[200];
	for (int i = 0; i < 200; i++)
		p[i] = kmem_cache_alloc(shared, GFP_KERNEL);
	for (int i = 0; i < 200; i++)
		kmem_cache_free(shared, p[i]);
	set_phase(21);
	wait_phase(22);
	return NULL;
}

static void test_fork(void)
{
	shared = kmem_cache_create("forked", 64, 0, 0, NULL, NULL);
	phase = 20;
	pthread_t t;
	pthread_create(&t, NULL, fork_holder, NULL);
	wait_phase(21);
	pid_t pid = fork();
	if (pid == 0) {
		int good = 1;
		void *p[1000];
		for (int i = 0; i < 1000; i++) {
			p[i] = kmem_cache_alloc(shared, GFP_KERNEL);
			good &= p[i] != NULL;
		}
		for (int i = 0; i < 1000; i++)
			kmem_cache_free(shared, p[i]);
		good &= slab_validate(shared) && mag_validate(shared);
		/* the other thread's rounds are leaked in the child: -EBUSY */
		good &= kmem_cache_destroy(shared) == -EBUSY;
		_exit(good ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "after fork the child allocates, frees and validates");
	set_phase(22);
	pthread_join(t, NULL);
	ok(kmem_cache_destroy(shared) == 0, "the parent is unaffected");
}

int main(void)
{
	sm_ensure_init();
	test_destroy();
	test_producer_consumer();
	test_thread_exit();
	test_atomic();
	test_growth();
	test_reap(0, 1);
	test_reap(SLAB_NO_REAP, 0);
	test_many();
	test_fork();
	test_reaper_thread();
	return done_testing();
}
