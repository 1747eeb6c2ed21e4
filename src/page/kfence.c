/* SPDX-License-Identifier: MIT */
/*
 * kfence.c — sampled guarded allocations, after the kernel's KFENCE: a
 * small share of small allocations is placed against a guard page, so that
 * an overflow, an underflow or a use after free of one of them faults at
 * once, in production, at a cost too small to measure.
 *
 * 1. Sampling. kmalloc_refill (the slow path a malloc takes when its
 *    magazine is empty) counts down a per-thread counter from kfence_sample
 *    (`sample=N`: one refill in N; 0 turns the facility off); when it
 *    reaches 0 the allocation comes from here. The fast paths are not
 *    touched.
 *
 * 2. The pool: KFENCE_OBJECTS object pages, each between two guard pages
 *    (PROT_NONE), mapped at the first sampled allocation. An object of at
 *    most a page less 16 bytes is placed at the end of its page (16-byte
 *    aligned), so that an overflow reaches the guard page after it within
 *    the alignment slack; the slack and the bytes before the object are
 *    filled with a canary (0xaa) and checked at free. A freed object's page
 *    becomes PROT_NONE, and its memory goes back to the OS (MADV_DONTNEED):
 *    a use after free faults, and a freed slot costs no resident page.
 *    Free slots are reused oldest first, so a freed page stays protected
 *    as long as possible.
 *
 * 3. Reports. A fault in the pool (SIGSEGV handler, installed with the pool;
 *    faults elsewhere go to the previous handler) and a bad canary or an
 *    invalid free at free time print the kernel's form, "BUG kfence (pid N):
 *    <what>", with the object, its size and its allocation (and free) site,
 *    then abort.
 *
 * 4. Locks: kf_lock, a leaf taken by kfence_alloc/kfence_free only (no
 *    allocator lock is taken under it). Fork: the pool is inherited; the
 *    lock is taken in prefork and re-initialised in the child.
 *
 * Floor 4 (src/layers.txt), beside vmalloc.c: calls the base floor only;
 * kmalloc decides on its refill path which allocations come here.
 */
#include "page_alloc.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#define KFENCE_OBJECTS 63
#define KFENCE_CANARY  0xaa

enum { KF_FREE = 0, KF_ALLOCATED, KF_FREED };

struct kf_slot {
	uint8_t     ks_state;            /* KF_* */
	uint32_t    ks_size;             /* bytes asked for */
	void       *ks_obj;              /* object start, while allocated */
	const void *ks_alloc_ra, *ks_free_ra;
	uint32_t    ks_next;             /* free FIFO link (slot + 1, 0 = end) */
};

unsigned int kfence_sample = 1000;   /* refills per sampled allocation */
SM_TLS unsigned int kfence_countdown;

static pthread_mutex_t kf_lock = PTHREAD_MUTEX_INITIALIZER;
static char *kf_pool;                /* first guard page */
static size_t kf_pool_bytes;
static struct kf_slot kf_slots[KFENCE_OBJECTS];
static uint32_t kf_free_head, kf_free_tail;   /* slot + 1; 0 = none */
static struct sigaction kf_old_segv;
static unsigned long kf_allocs;

static char *kf_page(uint32_t i)
{
	return kf_pool + (2 * (size_t)i + 1) * SM_PAGE_SIZE;
}

bool kfence_owns(const void *p)
{
	char *pool = __atomic_load_n(&kf_pool, __ATOMIC_ACQUIRE);
	return pool && (uintptr_t)p - (uintptr_t)pool < kf_pool_bytes;
}

/* ---- reports ---- */

static void kf_site(const char *label, const void *ra)
{
	Dl_info di;
	if (ra && dladdr(ra, &di) && di.dli_fname) {
		if (di.dli_sname)
			sm_dprintf(2, "INFO: %s in %s+0x%lx (%s)\n", label, di.dli_sname,
			           (unsigned long)((uintptr_t)ra - (uintptr_t)di.dli_saddr),
			           di.dli_fname);
		else
			sm_dprintf(2, "INFO: %s in %s+0x%lx\n", label, di.dli_fname,
			           (unsigned long)((uintptr_t)ra - (uintptr_t)di.dli_fbase));
	} else if (ra) {
		sm_dprintf(2, "INFO: %s in %p\n", label, ra);
	}
}

SM_COLD SM_NORETURN
static void kf_bug(const char *what, const void *addr, const struct kf_slot *s, uint32_t i)
{
	sm_dprintf(2, "=============================================================================\n");
	sm_dprintf(2, "BUG kfence (pid %d): %s\n", os_getpid(), what);
	sm_dprintf(2, "-----------------------------------------------------------------------------\n");
	char *page = kf_page(i);
	const char *obj = s->ks_state == KF_ALLOCATED ? s->ks_obj
	                : page + SM_PAGE_SIZE - SM_ALIGN_UP(s->ks_size, 16);
	if (addr) {
		long off = (long)((const char *)addr - obj);
		if (off < 0)
			sm_dprintf(2, "INFO: access at %p, %lu bytes left of the object\n", addr,
			           (unsigned long)-off);
		else if ((size_t)off >= s->ks_size)
			sm_dprintf(2, "INFO: access at %p, %lu bytes right of the object\n", addr,
			           (unsigned long)((size_t)off - s->ks_size));
		else
			sm_dprintf(2, "INFO: access at %p @offset=%ld of the object\n", addr, off);
	}
	sm_dprintf(2, "INFO: Object %p size=%u (%s), kfence slot %u\n", (const void *)obj,
	           s->ks_size, s->ks_state == KF_ALLOCATED ? "allocated" : "freed", i);
	kf_site("Allocated", s->ks_alloc_ra);
	if (s->ks_state == KF_FREED)
		kf_site("Freed", s->ks_free_ra);
	sm_dprintf(2, "=============================================================================\n");
	abort();
}

/* The slot whose page or guard pages hold @addr (the nearest object). */
static uint32_t kf_slot_of(const void *addr)
{
	size_t pg = ((uintptr_t)addr - (uintptr_t)kf_pool) >> SM_PAGE_SHIFT;
	if (pg % 2 == 1)
		return (uint32_t)(pg / 2);
	/* a guard page: the object before it (overflow) unless it is the
	 * first one or the access is in the upper half (underflow of the
	 * next) */
	uint32_t before = pg == 0 ? 0 : (uint32_t)(pg / 2 - 1);
	uint32_t after = (uint32_t)(pg / 2);
	if (after >= KFENCE_OBJECTS)
		return before;
	if (pg == 0 || ((uintptr_t)addr & (SM_PAGE_SIZE - 1)) >= SM_PAGE_SIZE / 2)
		return after;
	return before;
}

static void kf_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!kfence_owns(si->si_addr)) {
		/* not ours: the previous handler takes the fault when the
		 * instruction runs again */
		(void)sig;
		os_segv_handler(NULL, &kf_old_segv);
		return;
	}
	uint32_t i = kf_slot_of(si->si_addr);
	const struct kf_slot *s = &kf_slots[i];
	kf_bug(s->ks_state == KF_FREED ? "use after free" : "out-of-bounds access",
	       si->si_addr, s, i);
}

/* ---- the pool ---- */

static bool kf_pool_init(void)
{
	size_t bytes = (2 * (size_t)KFENCE_OBJECTS + 1) * SM_PAGE_SIZE;
	char *pool = os_map(bytes);
	if (!pool)
		return false;
	if (os_protect_none(pool, bytes) != 0) {
		os_unmap(pool, bytes);
		return false;
	}
	kf_pool_bytes = bytes;
	for (uint32_t i = 0; i < KFENCE_OBJECTS; i++)
		kf_slots[i].ks_next = i + 1 < KFENCE_OBJECTS ? i + 2 : 0;
	kf_free_head = 1;
	kf_free_tail = KFENCE_OBJECTS;
	os_segv_handler(kf_segv, &kf_old_segv);
	__atomic_store_n(&kf_pool, pool, __ATOMIC_RELEASE);
	return true;
}

void *kfence_alloc(size_t size, const void *ra)
{
	if (size == 0 || size > SM_PAGE_SIZE - 16)
		return NULL;
	sm_mutex_lock(&kf_lock);
	if (!kf_pool && !kf_pool_init()) {
		sm_mutex_unlock(&kf_lock);
		return NULL;
	}
	uint32_t i1 = kf_free_head;
	if (!i1) {
		sm_mutex_unlock(&kf_lock);
		return NULL;                     /* every slot in use */
	}
	struct kf_slot *s = &kf_slots[i1 - 1];
	kf_free_head = s->ks_next;
	if (!kf_free_head)
		kf_free_tail = 0;
	char *page = kf_page(i1 - 1);
	if (os_protect_rw(page, SM_PAGE_SIZE) != 0) {
		s->ks_next = 0;                  /* back at the tail */
		if (kf_free_tail)
			kf_slots[kf_free_tail - 1].ks_next = i1;
		else
			kf_free_head = i1;
		kf_free_tail = i1;
		sm_mutex_unlock(&kf_lock);
		return NULL;
	}
	char *obj = page + SM_PAGE_SIZE - SM_ALIGN_UP(size, 16);
	memset(page, KFENCE_CANARY, SM_PAGE_SIZE);
	s->ks_state = KF_ALLOCATED;
	s->ks_size = (uint32_t)size;
	s->ks_obj = obj;
	s->ks_alloc_ra = ra;
	s->ks_free_ra = NULL;
	kf_allocs++;
	sm_mutex_unlock(&kf_lock);
	memset(obj, 0, size);                    /* as fresh memory reads */
	return obj;
}

size_t kfence_size(const void *p, const char *caller)
{
	uint32_t i = kf_slot_of(p);
	struct kf_slot *s = &kf_slots[i];
	if (s->ks_state != KF_ALLOCATED || s->ks_obj != p) {
		sm_dprintf(2, "%s(%p):\n", caller, p);
		kf_bug(s->ks_state == KF_FREED ? "invalid free (double free)" : "invalid free",
		       p, s, i);
	}
	return s->ks_size;
}

void kfence_free(void *p, const char *caller, const void *ra)
{
	sm_mutex_lock(&kf_lock);
	uint32_t i = kf_slot_of(p);
	struct kf_slot *s = &kf_slots[i];
	kfence_size(p, caller);
	char *page = kf_page(i);
	char *obj = s->ks_obj;
	for (char *q = page; q < obj; q++)
		if ((uint8_t)*q != KFENCE_CANARY)
			kf_bug("memory corruption before the object (canary)", q, s, i);
	for (char *q = obj + s->ks_size; q < page + SM_PAGE_SIZE; q++)
		if ((uint8_t)*q != KFENCE_CANARY)
			kf_bug("out-of-bounds write (canary after the object)", q, s, i);
	os_protect_none(page, SM_PAGE_SIZE);
	os_purge(page, SM_PAGE_SIZE);            /* not resident while it waits */
	s->ks_state = KF_FREED;
	s->ks_free_ra = ra;
	s->ks_next = 0;
	if (kf_free_tail)
		kf_slots[kf_free_tail - 1].ks_next = i + 1;
	else
		kf_free_head = i + 1;
	kf_free_tail = i + 1;
	sm_mutex_unlock(&kf_lock);
}

unsigned long kfence_allocations(void)
{
	return __atomic_load_n(&kf_allocs, __ATOMIC_RELAXED);
}

void kfence_prefork(void)
{
	sm_mutex_lock(&kf_lock);
}

void kfence_postfork_parent(void)
{
	sm_mutex_unlock(&kf_lock);
}

void kfence_postfork_child(void)
{
	pthread_mutex_init(&kf_lock, NULL);
}
