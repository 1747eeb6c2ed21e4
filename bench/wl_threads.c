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
 * Teams: handoff rings and server churn. A team is 2..WL_TEAM_MAX threads,
 * the calling thread (member 0) and helpers started once by wl_team_start
 * that live across timed runs. Member i sends to member j through its own
 * single-producer single-consumer ring q[i][j] (mmap'd, indices on their
 * own cache lines), so the hand-over takes no lock and the only shared
 * lines are those of the queues and of the objects themselves. A run
 * (wl_team_run) bumps a generation counter; every member does its share of
 * the ops, then keeps draining its inbound rings until every member has
 * finished and its rings are empty, so each op is complete when the run
 * returns. A sender whose ring is full drains its own inbound rings while
 * it waits, so no cycle of full rings can deadlock. A member with nothing
 * to do spins briefly, then sleeps on a futex (team_wait), so that waiting
 * costs next to no CPU time: bench_main.cc reports these workloads in the
 * process's CPU time per op, because with more threads than cores (8 on 2)
 * the wall time measures the scheduler and the machine's other load as
 * much as the allocator. Sizes come from each
 * member's fixed xorshift stream; objects carry their size in their first
 * four bytes and a tag in their last byte, which the receiver checks.
 *
 *  - Handoff ring: member i allocates objects of 8..1024 bytes, writes
 *    them, and passes them in batches of WL_HANDOFF_BATCH to member i+1
 *    (mod n), which reads and frees them. Every free is of an object
 *    another thread allocated, and every thread both allocates and frees:
 *    a chain of pipeline stages.
 *  - Server churn: each member owns SERVER_SLOTS live request objects. Per
 *    op it allocates a request of 8..1024 bytes and either keeps it (the
 *    object in a random slot of its own is freed and replaced) or, one
 *    time in two, hands it to a random other member, which puts it into
 *    one of its slots and frees the object it replaces. The live set stays
 *    constant (the slots, plus what is in flight), and about half of all
 *    frees are of objects another thread allocated.
 *
 * Fork: none of this state survives or matters across fork.
 */
#include "config.h"
#include "workloads.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <limits.h>

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

/* ---- teams: handoff rings and server churn ---- */

#define TQ_SLOTS          512           /* pointers per ring (power of two) */
#define SERVER_SLOTS      1024          /* live requests per server member */
#define OBJ_MIN           8
#define OBJ_MAX           1024
#define TEAM_SPINS        64            /* pauses before sleeping */
#define TEAM_SLEEP_NS     1000000       /* longest sleep (a safety net) */

struct team_queue {
	_Alignas(CACHE_LINE) _Atomic size_t q_head;   /* next slot to fill (sender) */
	_Alignas(CACHE_LINE) _Atomic size_t q_tail;   /* next slot to drain (receiver) */
	_Alignas(CACHE_LINE) void *q_slot[TQ_SLOTS];  /* objects in flight */
};

struct team_member {
	_Alignas(CACHE_LINE) struct wl_team *m_team;
	unsigned int m_id;                  /* 0 is the calling thread */
	unsigned int m_seed;                /* sizes and choices of own ops */
	unsigned int m_rseed;               /* slots for received objects */
	unsigned long m_gen;                /* last run done */
	pthread_t m_thread;
	void *m_slot[SERVER_SLOTS];         /* server: live requests */
};

struct wl_team {
	_Alignas(CACHE_LINE) _Atomic unsigned int t_event;  /* futex: bumped on progress */
	_Atomic unsigned int t_sleepy;      /* a member may sleep on t_event */
	_Alignas(CACHE_LINE) _Atomic unsigned long t_gen;   /* run number */
	_Atomic unsigned int t_finished;    /* members done with their ops */
	_Atomic unsigned int t_drained;     /* members done draining */
	_Atomic unsigned int t_ready;       /* helpers started */
	_Atomic int t_stop;                 /* set to end the helpers */
	enum wl_team_kind t_kind;
	unsigned int t_n;                   /* members */
	size_t t_quota;                     /* ops per member in this run */
	struct team_member t_m[WL_TEAM_MAX];
	struct team_queue t_q[WL_TEAM_MAX][WL_TEAM_MAX];  /* [from][to] */
};

/*
 * Waiting. A member that cannot go on spins TEAM_SPINS pauses, then sleeps
 * on the futex t_event, so a thread that waits gives its core to one that
 * works (there may be more members than cores). Whoever makes progress
 * another may wait for (data sent, room made, a member finished, a run
 * started) calls team_signal after publishing it. The waiter sets t_sleepy,
 * reads t_event and tests its condition again; the signaller publishes,
 * then reads t_sleepy (both sequentially consistent), so either the waiter
 * sees the progress or the signaller sees the flag, clears it, bumps
 * t_event (which stops a sleep about to begin) and wakes every sleeper,
 * which test their conditions again. Clearing the flag keeps it to one
 * wake-up call per sleep, however many signals follow. The sleep is
 * bounded anyway.
 */
static void team_signal(struct wl_team *t)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&t->t_sleepy, memory_order_relaxed) &&
	    atomic_exchange_explicit(&t->t_sleepy, 0, memory_order_seq_cst)) {
		atomic_fetch_add_explicit(&t->t_event, 1, memory_order_seq_cst);
		syscall(SYS_futex, &t->t_event, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	}
}

/* Wait until @cond(@arg) holds, which the caller found false. */
static void team_wait(struct wl_team *t, bool (*cond)(void *), void *arg)
{
	for (unsigned int spins = 0; !cond(arg); spins++) {
		if (spins < TEAM_SPINS) {
			cpu_relax();
			continue;
		}
		atomic_store_explicit(&t->t_sleepy, 1, memory_order_seq_cst);
		unsigned int ev = atomic_load_explicit(&t->t_event, memory_order_seq_cst);

		if (!cond(arg)) {
			struct timespec ts = { 0, TEAM_SLEEP_NS };

			syscall(SYS_futex, &t->t_event, FUTEX_WAIT_PRIVATE, ev, &ts, NULL, 0);
		}
		spins = 0;
	}
}

static size_t obj_size(unsigned int *seed)
{
	return OBJ_MIN + wl_xorshift32(seed) % (OBJ_MAX - OBJ_MIN + 1);
}

/* A request: its size in the first 4 bytes, a tag in the last byte. */
static void *obj_new(unsigned int *seed)
{
	size_t size = obj_size(seed);
	unsigned char *p = malloc(size);

	if (!p)
		die("malloc failed in a team workload");
	*(uint32_t *)p = (uint32_t)size;
	p[size - 1] = (unsigned char)(size ^ 0x5a);
	return p;
}

/* Read what the sender wrote: the object is really shared. */
static void obj_check(const void *obj)
{
	const unsigned char *p = obj;
	size_t size = *(const uint32_t *)p;

	if (size < OBJ_MIN || size > OBJ_MAX || p[size - 1] != (unsigned char)(size ^ 0x5a))
		die("team object corrupted");
}

/* Is anything waiting on @m's inbound rings? */
static bool team_inbound(const struct team_member *m)
{
	struct wl_team *t = m->m_team;

	for (unsigned int from = 0; from < t->t_n; from++) {
		struct team_queue *q = &t->t_q[from][m->m_id];

		if (from != m->m_id &&
		    atomic_load_explicit(&q->q_head, memory_order_acquire) !=
		    atomic_load_explicit(&q->q_tail, memory_order_relaxed))
			return true;
	}
	return false;
}

/* Receive everything waiting on @m's inbound rings: the handoff ring frees
 * it, the server puts it into a random slot and frees what was there.
 * RETURNS: the objects received. */
static size_t team_drain(struct team_member *m)
{
	struct wl_team *t = m->m_team;
	size_t got = 0;

	for (unsigned int from = 0; from < t->t_n; from++) {
		struct team_queue *q = &t->t_q[from][m->m_id];
		size_t tail, head;

		if (from == m->m_id)
			continue;
		tail = atomic_load_explicit(&q->q_tail, memory_order_relaxed);
		head = atomic_load_explicit(&q->q_head, memory_order_acquire);
		if (tail == head)
			continue;
		for (; tail != head; tail++) {
			void *p = q->q_slot[tail % TQ_SLOTS];

			obj_check(p);
			if (t->t_kind == WL_TEAM_SERVER) {
				size_t j = wl_xorshift32(&m->m_rseed) % SERVER_SLOTS;

				free(m->m_slot[j]);
				m->m_slot[j] = p;
			} else {
				free(p);
			}
			got++;
		}
		atomic_store_explicit(&q->q_tail, tail, memory_order_release);
	}
	if (got)
		team_signal(t);
	return got;
}

struct send_wait {
	struct team_member *sw_m;
	struct team_queue *sw_q;
	size_t sw_head, sw_nr;
};

static bool send_ready(void *arg)
{
	struct send_wait *sw = arg;
	size_t tail = atomic_load_explicit(&sw->sw_q->q_tail, memory_order_acquire);

	return TQ_SLOTS - (sw->sw_head - tail) >= sw->sw_nr || team_inbound(sw->sw_m);
}

/* Push @nr objects to @to; while its ring is full, receive our own (so no
 * cycle of full rings can stop the team) or wait. */
static void team_send(struct team_member *m, unsigned int to, void **objs, size_t nr)
{
	struct team_queue *q = &m->m_team->t_q[m->m_id][to];
	struct send_wait sw = { m, q, atomic_load_explicit(&q->q_head, memory_order_relaxed), nr };

	for (;;) {
		size_t tail = atomic_load_explicit(&q->q_tail, memory_order_acquire);

		if (TQ_SLOTS - (sw.sw_head - tail) >= nr)
			break;
		if (team_drain(m) == 0)
			team_wait(m->m_team, send_ready, &sw);
	}
	for (size_t i = 0; i < nr; i++)
		q->q_slot[(sw.sw_head + i) % TQ_SLOTS] = objs[i];
	atomic_store_explicit(&q->q_head, sw.sw_head + nr, memory_order_release);
	team_signal(m->m_team);
}

static void handoff_ops(struct team_member *m, size_t quota)
{
	unsigned int next = (m->m_id + 1) % m->m_team->t_n;
	void *batch[WL_HANDOFF_BATCH];

	for (size_t done = 0; done < quota;) {
		size_t nr = quota - done < WL_HANDOFF_BATCH ? quota - done : WL_HANDOFF_BATCH;

		for (size_t i = 0; i < nr; i++)
			batch[i] = obj_new(&m->m_seed);
		team_send(m, next, batch, nr);
		done += nr;
		team_drain(m);
	}
}

static void server_ops(struct team_member *m, size_t quota)
{
	unsigned int n = m->m_team->t_n;

	for (size_t i = 0; i < quota; i++) {
		void *p = obj_new(&m->m_seed);
		unsigned int r = wl_xorshift32(&m->m_seed);

		if (r & 1) {
			unsigned int to = (m->m_id + 1 + (r >> 1) % (n - 1)) % n;

			team_send(m, to, &p, 1);
		} else {
			size_t j = (r >> 1) % SERVER_SLOTS;

			free(m->m_slot[j]);
			m->m_slot[j] = p;
		}
		if ((i & 7) == 7)
			team_drain(m);
	}
}

static bool drain_ready(void *arg)
{
	struct team_member *m = arg;

	return team_inbound(m) ||
	       atomic_load_explicit(&m->m_team->t_finished, memory_order_acquire) == m->m_team->t_n;
}

/* One member's part of a run: its ops, then drain until all are done. */
static void team_member_run(struct team_member *m)
{
	struct wl_team *t = m->m_team;

	if (t->t_kind == WL_TEAM_SERVER)
		server_ops(m, t->t_quota);
	else
		handoff_ops(m, t->t_quota);
	atomic_fetch_add_explicit(&t->t_finished, 1, memory_order_acq_rel);
	team_signal(t);
	for (;;) {
		/* Once all have finished nobody sends: one more drain empties
		 * our rings for good. */
		bool all = atomic_load_explicit(&t->t_finished, memory_order_acquire) == t->t_n;

		if (team_drain(m) == 0) {
			if (all)
				break;
			team_wait(t, drain_ready, m);
		}
	}
	atomic_fetch_add_explicit(&t->t_drained, 1, memory_order_acq_rel);
	team_signal(t);
}

static void server_fill(struct team_member *m)
{
	for (size_t j = 0; j < SERVER_SLOTS; j++)
		m->m_slot[j] = obj_new(&m->m_seed);
}

static void server_empty(struct team_member *m)
{
	for (size_t j = 0; j < SERVER_SLOTS; j++) {
		free(m->m_slot[j]);
		m->m_slot[j] = NULL;
	}
}

static bool helper_ready(void *arg)
{
	struct team_member *m = arg;
	struct wl_team *t = m->m_team;

	return atomic_load_explicit(&t->t_gen, memory_order_acquire) != m->m_gen ||
	       atomic_load_explicit(&t->t_stop, memory_order_acquire);
}

static void *team_helper(void *arg)
{
	struct team_member *m = arg;
	struct wl_team *t = m->m_team;

	if (t->t_kind == WL_TEAM_SERVER)
		server_fill(m);
	atomic_fetch_add_explicit(&t->t_ready, 1, memory_order_release);
	team_signal(t);
	for (;;) {
		team_wait(t, helper_ready, m);
		if (atomic_load_explicit(&t->t_gen, memory_order_acquire) != m->m_gen) {
			m->m_gen++;
			team_member_run(m);
		} else {
			break;
		}
	}
	if (t->t_kind == WL_TEAM_SERVER)
		server_empty(m);
	return NULL;
}

static bool team_started(void *arg)
{
	struct wl_team *t = arg;

	return atomic_load_explicit(&t->t_ready, memory_order_acquire) == t->t_n - 1;
}

static bool team_done(void *arg)
{
	struct wl_team *t = arg;

	return atomic_load_explicit(&t->t_drained, memory_order_acquire) == t->t_n;
}

struct wl_team *wl_team_start(enum wl_team_kind kind, unsigned int nthreads)
{
	struct wl_team *t;

	if (nthreads < 2 || nthreads > WL_TEAM_MAX)
		die("wl_team_start: 2 to WL_TEAM_MAX threads");
	/* The control block is not part of the measured heap. */
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		die("mmap failed in wl_team_start");
	t->t_kind = kind;
	t->t_n = nthreads;
	for (unsigned int i = 0; i < nthreads; i++) {
		struct team_member *m = &t->t_m[i];

		m->m_team = t;
		m->m_id = i;
		m->m_seed = 0x9e3779b9u * (i + 1) + (unsigned int)kind * 7919u + 1;
		m->m_rseed = 0x85ebca6bu * (i + 1) + 1;
	}
	if (kind == WL_TEAM_SERVER)
		server_fill(&t->t_m[0]);
	for (unsigned int i = 1; i < nthreads; i++) {
		int err = pthread_create(&t->t_m[i].m_thread, NULL, team_helper, &t->t_m[i]);

		if (err) {
			fprintf(stderr, "bench: pthread_create: %s\n", strerror(err));
			abort();
		}
	}
	team_wait(t, team_started, t);
	return t;
}

void wl_team_run(struct wl_team *t, size_t iters)
{
	t->t_quota = (iters + t->t_n - 1) / t->t_n;
	atomic_store_explicit(&t->t_finished, 0, memory_order_relaxed);
	atomic_store_explicit(&t->t_drained, 0, memory_order_relaxed);
	t->t_m[0].m_gen++;
	atomic_fetch_add_explicit(&t->t_gen, 1, memory_order_acq_rel);
	team_signal(t);
	team_member_run(&t->t_m[0]);
	team_wait(t, team_done, t);
}

void wl_team_stop(struct wl_team *t)
{
	atomic_store_explicit(&t->t_stop, 1, memory_order_release);
	team_signal(t);
	for (unsigned int i = 1; i < t->t_n; i++)
		pthread_join(t->t_m[i].m_thread, NULL);
	if (t->t_kind == WL_TEAM_SERVER)
		server_empty(&t->t_m[0]);
	munmap(t, sizeof(*t));
}
