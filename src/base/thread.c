/* SPDX-License-Identifier: MIT */
/*
 * thread.c — the state every layer reads about initialisation and about
 * the calling thread.
 *
 * Base floor (internal.h): the variables live here so that a layer can read
 * them without naming the top of the stack. Who writes them:
 *
 *   sm_initialized    set by init.c (top) once every layer is up; entry
 *                     points (the API floor) make sure it is set before they
 *                     call down, so the layers below may assume it.
 *   sm_init_running   set by init.c while the initialising thread brings the
 *                     layers up; a layer that is re-entered meanwhile (a
 *                     hook that mallocs) serves the call from bootmem.
 *   sm_thread_key     created by init.c with the destructor that runs the
 *                     layers' thread-exit hooks, top-down.
 *   sm_thread_state   per thread: new, attached (exit hook armed), exiting.
 *   sm_nr_attached    threads attached and not yet exiting: the divisor of
 *                     the per-thread caches' budgets (written by
 *                     sm_thread_attach and sm_thread_detach, reset by
 *                     init.c's fork child handler).
 *   sm_tls_dynamic    whether the library's TLS block is dynamic TLS
 *                     (sm_tls_probe, called by init.c first thing).
 *   sm_lock_depth     per thread: allocator locks held or being taken,
 *                     kept by sm_mutex_lock/unlock (internal.h) in every
 *                     layer; read by init.c's fork handlers.
 *
 * sm_thread_attach() arms the exit hook of the calling thread from the first
 * slow path that keeps per-thread state (magazines, page lists, large-block
 * lists). Before initialisation has finished it does nothing: the key does
 * not exist yet, and the thread attaches at a later slow path.
 */
#include "internal.h"

#include <link.h>

int sm_initialized;
int sm_init_running;
pthread_key_t sm_thread_key;
SM_TLS int sm_thread_state;
SM_TLS unsigned int sm_lock_depth;
int sm_tls_dynamic;
#if SM_TC_SEG_FS
sm_tls_key_t sm_thread_state_key = SM_TLS_KEY_ZERO;
#else
sm_tls_key_t sm_thread_state_key;
#endif

#if SM_TC_SEG_FS
/* dl_iterate_phdr callback: for the object that holds @arg, 1 when its TLS
 * block is allocated in the calling thread (or it has none), 2 when not;
 * 0 for other objects. */
static int tls_probe_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t self = (uintptr_t)arg;
	for (unsigned int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD ||
		    self - (info->dlpi_addr + ph->p_vaddr) >= ph->p_memsz)
			continue;
		if (size < offsetof(struct dl_phdr_info, dlpi_tls_data) + sizeof(void *))
			return 2;
		return info->dlpi_tls_modid == 0 || info->dlpi_tls_data ? 1 : 2;
	}
	return 0;
}
#endif

/*
 * sm_tls_probe - decide sm_tls_dynamic, once.
 *
 * A block in static TLS exists in every thread from the thread's start;
 * dynamic TLS is allocated in a thread at its first access. So the block is
 * static when dl_iterate_phdr reports it allocated in the calling thread
 * before that thread has touched it: the initialising thread, from the
 * library's constructor (which dlopen runs before anything can call in) or,
 * loaded at start-up, from whichever call comes first. Any doubt answers
 * dynamic, which is slower but right in every case.
 *
 * CONTEXT: sm_init_slow(), before any thread-local variable is touched.
 */
void sm_tls_probe(void)
{
#if SM_TC_SEG_FS
	static int probed;
	if (__atomic_load_n(&probed, __ATOMIC_ACQUIRE))
		return;
	int r = dl_iterate_phdr(tls_probe_object, (void *)&sm_tls_dynamic);
	sm_tls_dynamic = r != 1;
	if (!sm_tls_dynamic)
		sm_thread_state_key = SM_TLS_KEY_OF(sm_thread_state);
	__atomic_store_n(&probed, 1, __ATOMIC_RELEASE);
#endif
}

unsigned int sm_nr_attached;

void sm_thread_attach(void)
{
	if (sm_thread_state != SM_THREAD_NEW ||
	    !__atomic_load_n(&sm_initialized, __ATOMIC_ACQUIRE))
		return;
	sm_thread_state = SM_THREAD_ATTACHED;
	__atomic_add_fetch(&sm_nr_attached, 1, __ATOMIC_RELAXED);
	pthread_setspecific(sm_thread_key, (void *)1);
}

/* The exit hook's first step (init.c): the thread stops counting. */
void sm_thread_detach(void)
{
	if (sm_thread_state == SM_THREAD_ATTACHED)
		__atomic_sub_fetch(&sm_nr_attached, 1, __ATOMIC_RELAXED);
	sm_thread_state = SM_THREAD_EXITING;
}

/* ---- fork handlers of the facilities above the API ----
 *
 * mempool and percpu sit above the entry points they use, so the fork
 * handlers of init.c (which only call down) cannot name them. They register
 * here at their first use instead; init.c runs the registered prepare
 * handlers after it has taken every allocator lock (their locks are leaves
 * of the lock order) and the parent and child handlers first. The count
 * seen at prepare time is the one the parent and child handlers use, so a
 * registration that races a fork is simply left out of that fork (such a
 * facility has no lock anyone holds yet).
 */
#define SM_FORK_LEAVES 4

static const struct sm_fork_ops *sm_fork_leaves[SM_FORK_LEAVES];
static unsigned int sm_fork_nr;         /* entries published */
static unsigned int sm_fork_taken;      /* entries prepared by this fork */
static pthread_mutex_t sm_fork_reg_lock = PTHREAD_MUTEX_INITIALIZER;

void sm_fork_register(const struct sm_fork_ops *ops)
{
	unsigned int n = __atomic_load_n(&sm_fork_nr, __ATOMIC_ACQUIRE);
	for (unsigned int i = 0; i < n; i++)
		if (sm_fork_leaves[i] == ops)
			return;
	pthread_mutex_lock(&sm_fork_reg_lock);
	n = sm_fork_nr;
	bool known = false;
	for (unsigned int i = 0; i < n; i++)
		known |= sm_fork_leaves[i] == ops;
	if (!known) {
		if (n == SM_FORK_LEAVES)
			sm_fatal("slabmalloc: too many fork handlers registered");
		sm_fork_leaves[n] = ops;
		__atomic_store_n(&sm_fork_nr, n + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&sm_fork_reg_lock);
}

void sm_fork_leaves_prepare(void)
{
	unsigned int n = __atomic_load_n(&sm_fork_nr, __ATOMIC_ACQUIRE);
	sm_fork_taken = n;
	for (unsigned int i = 0; i < n; i++)
		sm_fork_leaves[i]->prepare();
}

void sm_fork_leaves_parent(void)
{
	for (unsigned int i = sm_fork_taken; i-- > 0;)
		sm_fork_leaves[i]->parent();
}

void sm_fork_leaves_child(void)
{
	pthread_mutex_init(&sm_fork_reg_lock, NULL);
	for (unsigned int i = sm_fork_taken; i-- > 0;)
		sm_fork_leaves[i]->child();
}

/* Set by the introspection service (internal.h: sm_introspect_poll). */
void (*sm_introspect_hook)(void);
