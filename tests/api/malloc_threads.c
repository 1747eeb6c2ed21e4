/* Threads and processes: churn with byte verification, producer/consumer
 * (objects freed by another thread), fork from a threaded parent, and
 * thread exit. */
#include "tap.h"

#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t pick_size(uint64_t *s)
{
	uint64_t r = rnd(s);
	switch (r % 16) {
	case 0: return r % 200000;              /* large */
	case 1: return r % 40000;
	default: return r % 600;                /* small */
	}
}

struct slot {
	unsigned char *p;
	size_t n;
	unsigned char v;
};

static int check(struct slot *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->p[i] != s->v)
			return 0;
	return 1;
}

static void *churn(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
	enum { N = 512 };
	struct slot *slots = calloc(N, sizeof *slots);
	long bad = 0;
	for (int it = 0; it < 60000; it++) {
		struct slot *s = &slots[rnd(&seed) % N];
		if (s->p) {
			bad += !check(s);
			free(s->p);
			s->p = NULL;
		} else {
			s->n = pick_size(&seed);
			s->v = (unsigned char)rnd(&seed);
			s->p = malloc(s->n);
			if (!s->p) {
				bad++;
				continue;
			}
			memset(s->p, s->v, s->n);
		}
	}
	for (int i = 0; i < N; i++)
		if (slots[i].p) {
			bad += !check(&slots[i]);
			free(slots[i].p);
		}
	free(slots);
	return (void *)bad;
}

/* producer/consumer through a bounded ring */
enum { RING = 256, ITEMS = 200000 };
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	unsigned char *item[RING];
	size_t len[RING];
	unsigned head, tail;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, {0}, 0, 0 };

static void *producer(void *arg)
{
	uint64_t seed = 77;
	(void)arg;
	for (unsigned i = 0; i < ITEMS; i++) {
		size_t n = 1 + rnd(&seed) % 1000;
		unsigned char *p = malloc(n);
		memset(p, (unsigned char)i, n);
		pthread_mutex_lock(&q.lock);
		while (q.head - q.tail == RING)
			pthread_cond_wait(&q.cv, &q.lock);
		q.item[q.head % RING] = p;
		q.len[q.head % RING] = n;
		q.head++;
		pthread_cond_broadcast(&q.cv);
		pthread_mutex_unlock(&q.lock);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	long bad = 0;
	(void)arg;
	for (unsigned i = 0; i < ITEMS; i++) {
		pthread_mutex_lock(&q.lock);
		while (q.head == q.tail)
			pthread_cond_wait(&q.cv, &q.lock);
		unsigned char *p = q.item[q.tail % RING];
		size_t n = q.len[q.tail % RING];
		q.tail++;
		pthread_cond_broadcast(&q.cv);
		pthread_mutex_unlock(&q.lock);
		for (size_t k = 0; k < n; k++)
			if (p[k] != (unsigned char)i) {
				bad++;
				break;
			}
		free(p);
	}
	return (void *)bad;
}

static void *short_lived(void *arg)
{
	void *keep[100];
	(void)arg;
	for (int i = 0; i < 100; i++)
		keep[i] = malloc(16 + i * 8);
	for (int i = 0; i < 100; i++)
		free(keep[i]);
	return malloc(32);              /* freed by the parent */
}

static volatile int spin_stop;
static void *spinner(void *arg)
{
	(void)arg;
	while (!spin_stop) {
		void *p = malloc(100);
		free(p);
	}
	return NULL;
}

/* A thread with a cancel pending calls malloc_stats, which must not be
 * cancelled inside its printing (write is a cancellation point); the
 * cancel is acted on at the thread's next cancellation point. */
static volatile int stats_returned, stats_state_kept;
static void *stats_with_cancel_pending(void *arg)
{
	(void)arg;
	pthread_cancel(pthread_self());      /* deferred: pending from here */
	malloc_stats();
	stats_returned = 1;
	int old = -1;
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	stats_state_kept = old == PTHREAD_CANCEL_ENABLE;
	pthread_testcancel();
	return NULL;
}

int main(void)
{
	pthread_t t[4];
	long bad = 0;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	ok(bad == 0, "4-thread churn, every byte verified (%ld bad)", bad);

	pthread_t pt, ct;
	void *cr;
	pthread_create(&pt, NULL, producer, NULL);
	pthread_create(&ct, NULL, consumer, NULL);
	pthread_join(pt, NULL);
	pthread_join(ct, &cr);
	ok((long)cr == 0, "producer/consumer: %d objects freed by another thread, verified", ITEMS);

	int exits_ok = 1;
	for (int round = 0; round < 200; round++) {
		pthread_t st;
		void *r;
		pthread_create(&st, NULL, short_lived, NULL);
		pthread_join(st, &r);
		if (!r)
			exits_ok = 0;
		free(r);
	}
	ok(exits_ok, "200 short-lived threads exit cleanly; their blocks freed elsewhere");

	/* fork while other threads allocate */
	pthread_t sp[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&sp[i], NULL, spinner, NULL);
	int fork_ok = 1;
	for (int i = 0; i < 20; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			void *x[1000];
			for (int k = 0; k < 1000; k++)
				x[k] = malloc(k * 7 + 1);
			for (int k = 0; k < 1000; k++)
				free(x[k]);
			void *h = malloc(10 << 20);
			free(h);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fork_ok = 0;
	}
	spin_stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(sp[i], NULL);
	ok(fork_ok, "20 forks of a threaded parent: each child allocates and exits 0");

	/* malloc_stats prints to stderr: to /dev/null for this test */
	fflush(stderr);
	int err = dup(2), null = open("/dev/null", O_WRONLY);
	dup2(null, 2);
	pthread_t cs;
	void *cres = NULL;
	pthread_create(&cs, NULL, stats_with_cancel_pending, NULL);
	pthread_join(cs, &cres);
	int prev, during = -1;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &prev);
	malloc_stats();
	pthread_setcancelstate(prev, &during);
	dup2(err, 2);
	close(err);
	close(null);
	ok(stats_returned && cres == PTHREAD_CANCELED,
	   "malloc_stats with a cancel pending returns; the thread is cancelled after it");
	ok(stats_state_kept, "malloc_stats restores the caller's cancel state (enabled)");
	ok(during == PTHREAD_CANCEL_DISABLE, "malloc_stats leaves a disabled cancel state disabled");

	return done_testing();
}
