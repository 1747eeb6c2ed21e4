/* SPDX-License-Identifier: MIT */
/*
 * bench/wl_threads.c — workloads with more than one thread: producer/
 * consumer (remote frees) and per-thread churn.
 *
 * Theory
 * ------
 * Producer/consumer. Objects allocated on one thread and freed on another
 * are the case a per-thread cache handles worst: the free lands in the
 * consumer's cache (or a remote-free list) and the producer keeps drawing
 * fresh objects from the shared layer. The hand-over is a single-producer
 * single-consumer ring of pointers with acquire/release indices, so the
 * ring itself takes no lock and allocates nothing; the producer's and the
 * consumer's indices sit on their own cache lines. The consumer thread is
 * started once (wl_prodcons_start) and lives across timed runs, so thread
 * creation is not measured; wl_prodcons_run() returns only once the
 * consumer has freed every object it was handed, so each op is complete.
 * Waiting spins with a pause hint and yields after a while, which keeps it
 * fair on a machine with fewer cores than threads.
 *
 * Churn. Each thread keeps its own working set of slots and replaces a
 * random one per op: a steady state of mixed sizes with no sharing, which
 * shows how the allocator scales with threads (Google Benchmark runs the
 * same function on 1, 2 and 4 threads).
 *
 * Fork: none of this state survives or matters across fork.
 */
#include "config.h"
#include "workloads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PC_RING       1024              /* slots in the ring (power of two) */
#define PC_SPINS      256               /* spins before yielding the CPU */
#define CACHE_LINE    64

struct wl_prodcons {
	_Alignas(CACHE_LINE) _Atomic size_t pc_head;  /* next slot to fill (producer) */
	_Alignas(CACHE_LINE) _Atomic size_t pc_tail;  /* next slot to drain (consumer) */
	_Alignas(CACHE_LINE) _Atomic int pc_stop;     /* set to end the consumer */
	size_t pc_size;                               /* object size */
	pthread_t pc_thread;                          /* the consumer */
	void *pc_ring[PC_RING];                       /* handed-over objects */
};

static void die(const char *what)
{
	fprintf(stderr, "bench: %s\n", what);
	abort();
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Spin a while, then give the CPU away: the peer may be waiting for it. */
static inline void backoff(unsigned int *spins)
{
	if (++*spins < PC_SPINS) {
		cpu_relax();
	} else {
		*spins = 0;
		sched_yield();
	}
}

static void *pc_consumer(void *arg)
{
	struct wl_prodcons *pc = arg;
	size_t tail = atomic_load_explicit(&pc->pc_tail, memory_order_relaxed);
	unsigned int spins = 0;

	for (;;) {
		size_t head = atomic_load_explicit(&pc->pc_head, memory_order_acquire);

		if (tail == head) {
			if (atomic_load_explicit(&pc->pc_stop, memory_order_acquire) &&
			    tail == atomic_load_explicit(&pc->pc_head, memory_order_acquire))
				return NULL;
			backoff(&spins);
			continue;
		}
		spins = 0;
		while (tail != head) {
			unsigned char *p = pc->pc_ring[tail % PC_RING];

			/* Read what the producer wrote: the object is really shared. */
			if (p[0] != 0xa5 || p[pc->pc_size - 1] != 0x5a)
				die("producer/consumer object corrupted");
			free(p);
			tail++;
			atomic_store_explicit(&pc->pc_tail, tail, memory_order_release);
		}
	}
}

struct wl_prodcons *wl_prodcons_start(size_t size)
{
	struct wl_prodcons *pc;
	int err;

	if (size == 0)
		die("wl_prodcons_start: size 0");
	/* The control block is not part of the measured heap. */
	pc = mmap(NULL, sizeof(*pc), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pc == MAP_FAILED)
		die("mmap failed in wl_prodcons_start");
	atomic_init(&pc->pc_head, 0);
	atomic_init(&pc->pc_tail, 0);
	atomic_init(&pc->pc_stop, 0);
	pc->pc_size = size;
	err = pthread_create(&pc->pc_thread, NULL, pc_consumer, pc);
	if (err) {
		fprintf(stderr, "bench: pthread_create: %s\n", strerror(err));
		abort();
	}
	return pc;
}

void wl_prodcons_run(struct wl_prodcons *pc, size_t iters)
{
	size_t head = atomic_load_explicit(&pc->pc_head, memory_order_relaxed);
	unsigned int spins = 0;

	for (size_t i = 0; i < iters; i++) {
		unsigned char *p = malloc(pc->pc_size);

		if (!p)
			die("malloc failed in wl_prodcons_run");
		p[0] = 0xa5;
		p[pc->pc_size - 1] = 0x5a;
		while (head - atomic_load_explicit(&pc->pc_tail, memory_order_acquire) == PC_RING)
			backoff(&spins);
		spins = 0;
		pc->pc_ring[head % PC_RING] = p;
		head++;
		atomic_store_explicit(&pc->pc_head, head, memory_order_release);
	}
	/* Done when the consumer has freed everything handed over. */
	while (atomic_load_explicit(&pc->pc_tail, memory_order_acquire) != head)
		backoff(&spins);
}

void wl_prodcons_stop(struct wl_prodcons *pc)
{
	atomic_store_explicit(&pc->pc_stop, 1, memory_order_release);
	pthread_join(pc->pc_thread, NULL);
	munmap(pc, sizeof(*pc));
}

#define CHURN_SLOTS 256

/* Churn sizes: 60% 16..128, 30% 129..512, 10% 513..2048 bytes. */
static size_t churn_size(unsigned int *seed)
{
	unsigned int r = wl_xorshift32(seed) % 10;

	if (r < 6)
		return 16 + wl_xorshift32(seed) % (128 - 16 + 1);
	if (r < 9)
		return 129 + wl_xorshift32(seed) % (512 - 129 + 1);
	return 513 + wl_xorshift32(seed) % (2048 - 513 + 1);
}

static void *churn_alloc(unsigned int *seed)
{
	size_t size = churn_size(seed);
	char *p = malloc(size);

	if (!p)
		die("malloc failed in wl_churn");
	p[0] = 1;
	p[size - 1] = 2;
	return p;
}

void wl_churn(size_t iters, unsigned seed)
{
	void *slots[CHURN_SLOTS];
	unsigned int s = seed * 2654435761u + 1;  /* never zero: xorshift sticks at 0 */

	if (s == 0)
		s = 1;
	for (size_t i = 0; i < CHURN_SLOTS; i++)
		slots[i] = churn_alloc(&s);
	for (size_t i = 0; i < iters; i++) {
		size_t j = wl_xorshift32(&s) % CHURN_SLOTS;

		free(slots[j]);
		slots[j] = churn_alloc(&s);
	}
	wl_escape(slots);
	for (size_t i = 0; i < CHURN_SLOTS; i++)
		free(slots[i]);
}
