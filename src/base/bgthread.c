/* SPDX-License-Identifier: MIT */
/*
 * bgthread.c — the background purge thread: freed memory goes back to the
 * OS on a time base even while the program makes no call (the kernel's
 * kswapd, jemalloc's background thread).
 *
 * Theory.
 *
 *  1. Tasks. The layers that keep freed memory for a while (the page
 *     layer's dirty pages, the cache of huge mappings, the depots'
 *     magazines) register a task at their initialisation: a function
 *     tick(now) that gives back what is due at @now and returns the next
 *     time it has something to do, or 0 when it holds nothing that ages.
 *     Registration is the only way this floor reaches them (docs/layers.md).
 *
 *  2. The thread. It runs every task, then sleeps on a condition variable
 *     (CLOCK_MONOTONIC) until the earliest deadline they returned; when
 *     every task returned 0 it sleeps without a deadline. So a process with
 *     nothing to give back costs nothing: the thread is blocked, not
 *     polling. It does not exist until there is something to age: the
 *     first sm_bg_wake() asks for it, and it is created later, from
 *     sm_bg_poll(), which callers place where they hold no allocator lock
 *     (pthread_create allocates, through us). The thread blocks every
 *     signal and marks itself exiting (sm_thread_state), so it keeps no
 *     per-thread cache of its own: what it frees goes to the shared layers.
 *
 *  3. Waking. A layer calls sm_bg_wake(due) when it starts to hold memory
 *     that ages while it held none (a dirty list that was empty, an empty
 *     cache), @due being when it first wants its task run. A thread that
 *     is running its tasks, or sleeping to a deadline no later than @due,
 *     is left alone (one fence and a load); one sleeping longer (another
 *     task's longer period) or without deadline is signalled. The lost
 *     wake-up (the thread's tasks found nothing, a layer then adds memory
 *     and sees the thread still running) is closed Dekker-style: the thread
 *     publishes its state and deadline, then runs the tasks once more
 *     before it waits; the waker publishes its memory (under its own lock),
 *     then reads the state after a full fence.
 *
 *  4. Fork. sm_bg_prefork() takes bg_lock last (a leaf: nothing is taken
 *     under it); the parent releases it; the child re-initialises it and
 *     forgets the thread (only the forking thread exists in the child): the
 *     child's next sm_bg_wake/sm_bg_poll starts one of its own.
 *
 *  5. Switch. sm_bg_enabled (option reap_thread) 0 keeps the thread from
 *     being started; the layers then age their memory from their slow
 *     paths only, as before the thread existed.
 *
 * Floor 0 (src/layers.txt): calls os.c and report.c; reaches the layers
 * above only through the tasks they registered.
 */
#include "internal.h"

#include <signal.h>
#include <time.h>

#define SM_BG_TASKS 4

int sm_bg_enabled = 1;

static sm_bg_tick_fn bg_tasks[SM_BG_TASKS];
static unsigned int bg_ntasks;          /* published with release */
static pthread_mutex_t bg_reg_lock = PTHREAD_MUTEX_INITIALIZER;

static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cond;          /* CLOCK_MONOTONIC, set up at start */
int sm_bg_state;                        /* BG_* (internal.h) */
static bool bg_kicked;                  /* a wake arrived (bg_lock) */
static unsigned long bg_rounds;         /* task rounds run (statistics) */

void sm_bg_register(sm_bg_tick_fn tick)
{
	sm_mutex_lock(&bg_reg_lock);
	unsigned int n = bg_ntasks;
	bool known = false;
	for (unsigned int i = 0; i < n; i++)
		known |= bg_tasks[i] == tick;
	if (!known) {
		if (n == SM_BG_TASKS)
			sm_fatal("slabmalloc: too many background tasks registered");
		bg_tasks[n] = tick;
		__atomic_store_n(&bg_ntasks, n + 1, __ATOMIC_RELEASE);
	}
	sm_mutex_unlock(&bg_reg_lock);
}

/* Run every task once. RETURNS: the earliest deadline, 0 for none. */
static uint64_t bg_run_tasks(void)
{
	unsigned int n = __atomic_load_n(&bg_ntasks, __ATOMIC_ACQUIRE);
	uint64_t next = 0;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t t = bg_tasks[i](os_now_ns());
		if (t && (!next || t < next))
			next = t;
	}
	__atomic_add_fetch(&bg_rounds, 1, __ATOMIC_RELAXED);
	return next;
}

static uint64_t bg_deadline;            /* end of the thread's sleep (0: none) */

static void *bg_main(void *arg)
{
	(void)arg;
	/* Frees go to the shared layers, never to caches of this thread. */
	sm_thread_state = SM_THREAD_EXITING;
	for (;;) {
		uint64_t next = bg_run_tasks();
		/* Announce the sleep, then look once more (theory 3). */
		__atomic_store_n(&bg_deadline, next, __ATOMIC_SEQ_CST);
		__atomic_store_n(&sm_bg_state, next ? BG_SLEEPING : BG_IDLE, __ATOMIC_SEQ_CST);
		uint64_t again = bg_run_tasks();
		if (again && (!next || again < next))
			next = again;
		sm_mutex_lock(&bg_lock);
		__atomic_store_n(&bg_deadline, next, __ATOMIC_SEQ_CST);
		__atomic_store_n(&sm_bg_state, next ? BG_SLEEPING : BG_IDLE, __ATOMIC_SEQ_CST);
		while (!bg_kicked) {
			if (!next) {
				pthread_cond_wait(&bg_cond, &bg_lock);
				continue;
			}
			uint64_t now = os_now_ns();
			if (now >= next)
				break;
			struct timespec ts = {
				.tv_sec = (time_t)(next / 1000000000u),
				.tv_nsec = (long)(next % 1000000000u),
			};
			pthread_cond_timedwait(&bg_cond, &bg_lock, &ts);
		}
		bg_kicked = false;
		__atomic_store_n(&sm_bg_state, BG_RUNNING, __ATOMIC_SEQ_CST);
		sm_mutex_unlock(&bg_lock);
	}
	return NULL;
}

/* The thread would sleep past @due. */
static bool bg_late(int s, uint64_t due)
{
	return s == BG_IDLE ||
	       (s == BG_SLEEPING && __atomic_load_n(&bg_deadline, __ATOMIC_SEQ_CST) > due);
}

void sm_bg_wake_slow(uint64_t due)
{
	sm_mutex_lock(&bg_lock);
	if (sm_bg_state == BG_NONE && SM_READ_ONCE(sm_bg_enabled))
		sm_bg_state = BG_PENDING;       /* created by the next sm_bg_poll */
	else if (bg_late(sm_bg_state, due)) {
		bg_kicked = true;
		pthread_cond_signal(&bg_cond);
	}
	sm_mutex_unlock(&bg_lock);
}

void sm_bg_wake(uint64_t due)
{
	/* Pairs with the thread's announcement before its second look. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	int s = __atomic_load_n(&sm_bg_state, __ATOMIC_SEQ_CST);
	if (s == BG_NONE || bg_late(s, due))
		sm_bg_wake_slow(due);
}

void sm_bg_start(void)
{
	sm_mutex_lock(&bg_lock);
	bool go = sm_bg_state == BG_PENDING && SM_READ_ONCE(sm_bg_enabled);
	if (go) {
		sm_bg_state = BG_RUNNING;
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&bg_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	sm_mutex_unlock(&bg_lock);
	if (!go)
		return;
	/* Created without bg_lock: pthread_create allocates (its TLS), and
	 * such a call may come back here (the state is no longer PENDING). */
	pthread_attr_t attr;
	sigset_t all;
	pthread_t t;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, (size_t)256 << 10);
	pthread_attr_setsigmask_np(&attr, &all);
	int err = pthread_create(&t, &attr, bg_main, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		__atomic_store_n(&sm_bg_state, BG_FAILED, __ATOMIC_RELEASE);
		sm_warn("slabmalloc: cannot start the background purge thread");
		return;
	}
	pthread_setname_np(t, "slabmalloc-bg");
}

bool sm_bg_running(void)
{
	int s = __atomic_load_n(&sm_bg_state, __ATOMIC_ACQUIRE);
	return s == BG_RUNNING || s == BG_SLEEPING || s == BG_IDLE;
}

unsigned long sm_bg_rounds(void)
{
	return __atomic_load_n(&bg_rounds, __ATOMIC_RELAXED);
}

void sm_bg_prefork(void)
{
	sm_mutex_lock(&bg_lock);
}

void sm_bg_postfork_parent(void)
{
	sm_mutex_unlock(&bg_lock);
}

void sm_bg_postfork_child(void)
{
	pthread_mutex_init(&bg_lock, NULL);
	pthread_mutex_init(&bg_reg_lock, NULL);
	bg_kicked = false;
	/* No thread here. If the parent's was busy, what it was ageing was
	 * inherited: the next sm_bg_poll starts the child's own; otherwise
	 * the next wake asks for one. A failed start is tried again. */
	sm_bg_state = sm_bg_state == BG_RUNNING || sm_bg_state == BG_SLEEPING ?
	              BG_PENDING : BG_NONE;
}
