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
 * Fork. The usual case: the forking thread holds no allocator lock
 * (sm_lock_depth == 0). The prepare handler takes every lock in the order
 * of internal.h; the parent releases them; the child re-initialises them
 * (only the forking thread exists in the child, and no other thread was
 * inside a locked section, so the state they protect is consistent) and
 * drops what other threads owned (their thread caches, blocks they were
 * purging).
 *
 * The C library's stdio list lock. glibc's fork() runs the prepare
 * handlers first and only then takes that lock (and resets it in the
 * child); fflush(NULL) holds it while it takes each FILE lock, and
 * getline() holds a FILE lock while it reallocates. A prepare handler that
 * held our locks while fork() waited for the list lock would close a cycle:
 * the forking thread waits for fflush's list lock, fflush for getline's
 * FILE lock, getline's realloc for our locks. So in a multi-threaded
 * process (__libc_single_threaded clear: the test glibc's fork() uses to
 * decide whether it takes the lock) the prepare handler takes the list
 * lock first, before lock 1: a recursive lock, which fork() then takes
 * again. The parent handler releases our level (fork() has released its
 * own); in the child glibc has reset it. Where the C library does not
 * provide it (configure's HAVE_IO_LIST_LOCK), the handler cannot take it
 * and that cycle stays possible (docs/malloc.md).
 *
 * Fork from a signal handler that interrupted the allocator. When the
 * forking thread is itself inside a locked section (sm_lock_depth != 0:
 * holding a lock, acquiring or releasing one, or in the purge window
 * buddy.c counts as holding its zone lock), waiting for the locks would
 * wait for itself. The handlers then take nothing and change nothing, in
 * either process: every lock keeps its state. The interrupted section
 * resumes when the signal handler returns, in the parent and in the child
 * alike, finishes its change and releases its own locks; any other lock is
 * free in the child with its state whole, since a state under a lock only
 * changes while it is held. In a single-threaded process (the case POSIX
 * and glibc make fork() safe for in a signal handler) that is the whole
 * story: the child allocates normally once the handler returns (the
 * handler itself may not call malloc, as always in a signal handler). In a
 * multi-threaded process a lock that another thread held at that moment
 * stays held in the child, which may then block on it; a child of a
 * multi-threaded process may only call async-signal-safe functions anyway
 * (POSIX), such as execve or _exit. Such a fork can also come in the middle
 * of our own handlers (a signal during the prepare or parent handler):
 * sm_fork_nested counts those, so that their parent and child handlers do
 * nothing and leave the outer fork's state alone.
 */
#include "internal.h"

static pthread_mutex_t sm_init_lock = PTHREAD_MUTEX_INITIALIZER;
static SM_TLS bool sm_init_self;     /* this thread is bringing the layers up */

/* ---- threads ---- */

/* The destructor of sm_thread_key (thread.c), armed by sm_thread_attach. */
static void sm_thread_destructor(void *arg)
{
	(void)arg;
	sm_thread_detach();
	sm_thread_exit_layers();
	sm_bg_poll();            /* what the thread gave back ages from now */
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
	sm_mutex_lock(&sm_init_lock);
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
	sm_mutex_unlock(&sm_init_lock);
}

/* ---- fork ---- */

#if HAVE_IO_LIST_LOCK
#include <sys/single_threaded.h>
/* glibc's stdio list lock (exported, no header since libio.h went away). */
extern void _IO_list_lock(void);
extern void _IO_list_unlock(void);
#endif

/* Forks begun while this process's forking thread was inside a locked
 * section and not yet finished: their handlers do nothing. Only one
 * thread runs fork handlers at a time (glibc serialises them), and a
 * nested fork completes inside its signal handler, so a count suffices. */
static unsigned int sm_fork_nested;
/* The prepare handler of the usual case took the stdio list lock. */
static bool sm_fork_stdio;

static void sm_prefork(void)
{
	if (sm_lock_depth != 0) {
		sm_fork_nested++;
		return;
	}
	sm_fork_stdio = false;
#if HAVE_IO_LIST_LOCK
	if (!__libc_single_threaded) {
		_IO_list_lock();
		sm_fork_stdio = true;
	}
#endif
	sm_mutex_lock(&sm_init_lock);
	sm_prefork_layers();
}

static void sm_postfork_parent(void)
{
	if (sm_fork_nested) {
		sm_fork_nested--;
		return;
	}
	bool stdio = sm_fork_stdio;
	sm_postfork_parent_layers();
	sm_mutex_unlock(&sm_init_lock);
#if HAVE_IO_LIST_LOCK
	if (stdio)
		_IO_list_unlock();
#else
	(void)stdio;
#endif
}

static void sm_postfork_child(void)
{
	if (sm_fork_nested) {
		sm_fork_nested--;
		return;
	}
	sm_postfork_child_layers();
	pthread_mutex_init(&sm_init_lock, NULL);
	/* Only the forking thread exists in the child. */
	sm_nr_attached = sm_thread_state == SM_THREAD_ATTACHED;
	/* The locks taken by the prepare handler were re-initialised, not
	 * released; none was held before it. */
	sm_lock_depth = 0;
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
	introspect_exit();
}

__attribute__((constructor(101)))
static void sm_constructor(void)
{
	sm_ensure_init();
	pthread_atfork(sm_prefork, sm_postfork_parent, sm_postfork_child);
	introspect_start();     /* the live statistics segment (introspect.c) */
}
