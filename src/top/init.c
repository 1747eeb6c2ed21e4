/* SPDX-License-Identifier: MIT */
/*
 * init.c — bringing the layers up, thread exit, fork.
 *
 * Top of the stack (internal.h): it calls every layer (through layers.c)
 * and no layer calls it. The state the layers read (sm_initialized,
 * sm_init_running, sm_thread_key, sm_thread_state) lives in the base floor
 * (thread.c); this file writes it. Entry points (the API floor) call
 * sm_ensure_init(); the layers below assume initialisation is done.
 *
 * Initialisation is lazy: the first call that needs the allocator (a malloc,
 * a page allocation) runs sm_init_slow() under sm_init_lock, which brings the
 * layers up bottom-up. Nothing in it allocates through malloc, so it cannot
 * recurse; a thread that re-enters while it initialises (a hook in a lower
 * layer calling malloc) is served from bootmem by the malloc layer.
 * A library constructor also runs the initialisation and registers the fork
 * handlers: pthread_atfork() may allocate, so it is never called from inside
 * malloc.
 *
 * Threads: the first slow path of a thread calls sm_thread_attach()
 * (thread.c), which arms sm_thread_key, whose destructor (here) returns
 * the thread's magazines to the depots and its page lists to the buddy
 * allocator. After that the thread is marked exiting, and its later calls
 * (other TLS destructors that free) bypass the per-thread caches.
 *
 * Exit: the library destructor prints the `stats=` report (stats.c).
 *
 * Fork: the prepare handler takes every lock in the order of internal.h;
 * the parent releases them; the child re-initialises them (only the forking
 * thread exists in the child, so the state they protect is consistent).
 */
#include "internal.h"

static pthread_mutex_t sm_init_lock = PTHREAD_MUTEX_INITIALIZER;
static SM_TLS bool sm_init_self;     /* this thread is bringing the layers up */

/* ---- threads ---- */

/* The destructor of sm_thread_key (thread.c), armed by sm_thread_attach. */
static void sm_thread_destructor(void *arg)
{
	(void)arg;
	sm_thread_state = SM_THREAD_EXITING;
	sm_thread_exit_layers();
}

/* ---- initialisation ---- */

void sm_init_slow(void)
{
	/* First, before this thread touches a thread-local variable. */
	sm_tls_probe();
	/* The initialising thread re-entering (a lower layer's hook that
	 * mallocs) must not wait for itself: it goes on, and the layer it
	 * reaches serves it from bootmem while sm_init_running is set. Other
	 * threads wait on the lock until every layer is up. */
	if (sm_init_self)
		return;
	pthread_mutex_lock(&sm_init_lock);
	if (!sm_initialized) {
		sm_init_self = true;
		__atomic_store_n(&sm_init_running, 1, __ATOMIC_RELAXED);
		os_init();
		pthread_key_create(&sm_thread_key, sm_thread_destructor);
		sm_init_layers();
		__atomic_store_n(&sm_initialized, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&sm_init_running, 0, __ATOMIC_RELAXED);
		sm_init_self = false;
	}
	pthread_mutex_unlock(&sm_init_lock);
}

/* ---- fork ---- */

static void sm_prefork(void)
{
	pthread_mutex_lock(&sm_init_lock);
	sm_prefork_layers();
}

static void sm_postfork_parent(void)
{
	sm_postfork_parent_layers();
	pthread_mutex_unlock(&sm_init_lock);
}

static void sm_postfork_child(void)
{
	sm_postfork_child_layers();
	pthread_mutex_init(&sm_init_lock, NULL);
}

/* The exit report of `stats=` (stats.c). A destructor rather than
 * atexit(), which may allocate; it runs after the program's own exit
 * handlers. Here, in the file every link pulls in, so that a static link
 * keeps it. */
__attribute__((destructor))
static void sm_destructor(void)
{
	if (__atomic_load_n(&sm_initialized, __ATOMIC_ACQUIRE))
		stats_at_exit();
}

__attribute__((constructor(101)))
static void sm_constructor(void)
{
	sm_ensure_init();
	pthread_atfork(sm_prefork, sm_postfork_parent, sm_postfork_child);
}
