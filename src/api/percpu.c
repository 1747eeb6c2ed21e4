/* SPDX-License-Identifier: MIT */
/*
 * percpu.c — per-CPU variables: CPU slots, get_cpu()/put_cpu(), and the
 * dynamic allocator behind alloc_percpu() (see <slabmalloc/percpu.h>).
 *
 * Slots. A slot is the user-space stand-in for a CPU: slot s serves the CPUs
 * whose id folds to s (id % NR_CPUS; only on machines with more CPUs than
 * NR_CPUS does a slot serve more than one). slabmalloc_percpu_nr, the number
 * of slots in use, is min(configured CPUs, NR_CPUS); it is set once, on the
 * first per-CPU call, and never changes, so dynamic areas sized with it stay
 * valid.
 *
 * Exclusion. The kernel disables preemption between get_cpu() and put_cpu().
 * Here each slot has a mutex (pcpu_slots[], one per cache line so that
 * taking one slot never bounces another's line): get_cpu() locks the slot of
 * the CPU the thread runs on and remembers it in TLS (pcpu_self.pt_held),
 * with a nesting count (pt_nest) so that nested get_cpu() calls return the same
 * slot without locking again. While a thread holds a slot,
 * smp_processor_id() reports the held slot, whatever CPU the thread has
 * migrated to, just as a kernel thread cannot migrate with preemption off.
 *
 * Dynamic areas. __alloc_percpu(size, align) takes one zeroed block from
 * kmalloc holding slabmalloc_percpu_nr copies spaced by the stride (size
 * rounded up to max(align, 64)): the copies start on distinct cache lines
 * and honour the alignment. The 64 bytes before CPU 0's copy hold a header
 * (magic, stride, the kmalloc address) used by free_percpu() to validate and
 * release the block. The caller gets a cookie with the stride encoded in the
 * high bits (see the header), so per_cpu_ptr() is a few arithmetic
 * instructions and never loads the header.
 *
 * Invariants: slabmalloc_percpu_nr is 0 or final; a thread's pt_nest > 0
 * exactly when it holds pcpu_slots[pt_held].ps_lock; a live header has
 * ph_magic == PCPU_MAGIC and ph_stride equal to the cookie's stride.
 *
 * Locks: the slot mutexes are leaves of the allocator's lock order (taken
 * with no allocator lock held; a holder may still allocate, since the
 * allocator never takes a slot lock).
 *
 * Fork: the child re-initialises every slot lock (a thread that held one in
 * the parent does not exist in the child); if the forking thread itself held
 * a slot, it holds it again in the child, so its put_cpu() stays balanced.
 *
 * Floor 12 (src/layers.txt): built on the entry points (kmalloc); its
 * fork handler reaches the top through sm_fork_register.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

#define PCPU_MAGIC      0x70637075u                 /* "pcpu" */
#define PCPU_ADDR_MASK  (((uintptr_t)1 << SLABMALLOC_PCPU_ADDR_BITS) - 1)

SM_EXPORT unsigned int slabmalloc_percpu_nr;

struct pcpu_slot {
	pthread_mutex_t ps_lock;         /* held between get_cpu() and put_cpu() */
} __attribute__((aligned(SM_CACHELINE)));

static struct pcpu_slot pcpu_slots[SLABMALLOC_NR_CPUS] = {
	[0 ... SLABMALLOC_NR_CPUS - 1] = { PTHREAD_MUTEX_INITIALIZER }
};

/* One thread-local block, so that each entry point looks it up once. */
struct pcpu_thread {
	unsigned int pt_held;           /* slot this thread holds */
	unsigned int pt_nest;           /* get_cpu() depth; 0: none held */
};
static SM_TLS struct pcpu_thread pcpu_self;

/* Header in the cache line just before CPU 0's copy of a dynamic area. */
struct pcpu_hdr {
	uint32_t ph_magic;               /* PCPU_MAGIC while allocated */
	uint32_t ph_nr;                  /* copies in the area */
	size_t   ph_size;                /* size asked for */
	size_t   ph_stride;              /* distance between copies */
	void    *ph_raw;                 /* what kmalloc returned */
};
_Static_assert(sizeof(struct pcpu_hdr) <= SM_CACHELINE, "pcpu header fits a line");
_Static_assert(SLABMALLOC_NR_CPUS >= 1, "NR_CPUS must be positive");

static void percpu_postfork_child(void);
static void percpu_fork_nop(void)
{
}
/* The child re-initialises the CPU slot locks (registered at first use). */
static const struct sm_fork_ops percpu_fork_ops = {
	percpu_fork_nop, percpu_fork_nop, percpu_postfork_child,
};

static SM_NOINLINE unsigned int pcpu_init(void)
{
	unsigned int nr = __atomic_load_n(&slabmalloc_percpu_nr, __ATOMIC_ACQUIRE);
	if (nr)
		return nr;
	sm_ensure_init();
	sm_fork_register(&percpu_fork_ops);
	int conf = os_ncpus_configured();
	nr = conf < 1 ? 1u : (unsigned int)conf;
	if (nr > SLABMALLOC_NR_CPUS)
		nr = SLABMALLOC_NR_CPUS;
	/* Every thread that races here computes the same value. */
	__atomic_store_n(&slabmalloc_percpu_nr, nr, __ATOMIC_RELEASE);
	return nr;
}

SM_INLINE unsigned int pcpu_nr(void)
{
	unsigned int nr = __atomic_load_n(&slabmalloc_percpu_nr, __ATOMIC_RELAXED);
	return likely(nr) ? nr : pcpu_init();
}

/* The slot of the CPU this thread runs on now. */
static unsigned int pcpu_current(void)
{
	unsigned int nr = pcpu_nr();
	int id = os_cpu_id();
	unsigned int cpu = id < 0 ? 0u : (unsigned int)id;
	return likely(cpu < nr) ? cpu : cpu % nr;
}

/**
 * slabmalloc_percpu_fold - the slot serving CPU id @cpu
 * @cpu: a CPU id, possibly >= the number of slots
 *
 * CONTEXT: any; called by the inline per_cpu_ptr() for out-of-range ids.
 * RETURNS: @cpu modulo the number of slots.
 */
SM_EXPORT unsigned int slabmalloc_percpu_fold(unsigned int cpu)
{
	return cpu % pcpu_nr();
}

/**
 * slabmalloc_num_possible_cpus - number of CPU slots
 *
 * CONTEXT: any.
 * RETURNS: the configured CPUs, capped at NR_CPUS; at least 1.
 */
SM_EXPORT unsigned int slabmalloc_num_possible_cpus(void)
{
	return pcpu_nr();
}

/**
 * slabmalloc_smp_processor_id - the current CPU's slot
 *
 * CONTEXT: any. Between get_cpu() and put_cpu() it is the held slot;
 * otherwise a hint (the thread may migrate at once).
 * RETURNS: a slot number below num_possible_cpus().
 */
SM_EXPORT unsigned int slabmalloc_smp_processor_id(void)
{
	const struct pcpu_thread *pt = &pcpu_self;
	if (pt->pt_nest)
		return pt->pt_held;
	return pcpu_current();
}

/**
 * slabmalloc_get_cpu - take exclusive use of the current CPU's slot
 *
 * The user-space form of disabling preemption: locks the slot of the CPU
 * the thread runs on. Nested calls return the slot already held.
 * CONTEXT: may block while another thread holds the same slot.
 * RETURNS: the slot number; release it with slabmalloc_put_cpu().
 */
SM_EXPORT unsigned int slabmalloc_get_cpu(void)
{
	struct pcpu_thread *pt = &pcpu_self;
	if (pt->pt_nest) {
		pt->pt_nest++;
		return pt->pt_held;
	}
	unsigned int cpu = pcpu_current();
	pthread_mutex_lock(&pcpu_slots[cpu].ps_lock);
	pt->pt_held = cpu;
	pt->pt_nest = 1;
	return cpu;
}

/**
 * slabmalloc_put_cpu - release the slot taken by slabmalloc_get_cpu()
 *
 * CONTEXT: the thread that called get_cpu(). A put_cpu() without a matching
 * get_cpu() stops the program with a one-line message.
 */
SM_EXPORT void slabmalloc_put_cpu(void)
{
	struct pcpu_thread *pt = &pcpu_self;
	if (unlikely(pt->pt_nest == 0))
		sm_fatal("put_cpu(): called without a matching get_cpu()");
	if (--pt->pt_nest == 0)
		pthread_mutex_unlock(&pcpu_slots[pt->pt_held].ps_lock);
}

/**
 * slabmalloc___alloc_percpu_gfp - allocate one zeroed copy per CPU
 * @size:  bytes per copy (> 0)
 * @align: alignment of every copy: a power of two, at most PAGE_SIZE
 * @gfp:   GFP flags for the underlying allocation (GFP_KERNEL usually)
 *
 * Every copy starts on its own cache line and is aligned to @align.
 * CONTEXT: as kmalloc() with @gfp.
 * RETURNS: a per-CPU cookie for per_cpu_ptr(), or NULL with errno EINVAL
 * (size 0, bad alignment, copy larger than 2 MiB) or ENOMEM.
 */
SM_EXPORT void *slabmalloc___alloc_percpu_gfp(size_t size, size_t align, gfp_t gfp)
{
	if (size == 0 || align == 0 || (align & (align - 1)) || align > PAGE_SIZE ||
	    size > SLABMALLOC_PCPU_STRIDE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	unsigned int nr = pcpu_nr();
	size_t a = SLABMALLOC_PCPU_ALIGN(align);
	size_t stride = SLABMALLOC_PCPU_STRIDE(size, align);
	if (stride > SLABMALLOC_PCPU_STRIDE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	/* Room for the header line before copy 0 and for aligning copy 0. */
	size_t total = (size_t)nr * stride + a + SM_CACHELINE;
	void *raw = slabmalloc_kmalloc(total, gfp | __GFP_ZERO);
	if (!raw) {
		errno = ENOMEM;
		return NULL;
	}
	uintptr_t base = SM_ALIGN_UP((uintptr_t)raw + SM_CACHELINE, a);
	if (unlikely(base & ~PCPU_ADDR_MASK)) {
		/* An address above 2^48 cannot be encoded in a cookie. */
		slabmalloc_kfree(raw);
		errno = ENOMEM;
		return NULL;
	}
	struct pcpu_hdr *h = (struct pcpu_hdr *)(base - SM_CACHELINE);
	h->ph_magic = PCPU_MAGIC;
	h->ph_nr = nr;
	h->ph_size = size;
	h->ph_stride = stride;
	h->ph_raw = raw;
	return (void *)(base | SLABMALLOC_PCPU_TAG |
	                ((uintptr_t)(stride / SLABMALLOC_PCPU_LINE) << SLABMALLOC_PCPU_ADDR_BITS));
}

/**
 * slabmalloc___alloc_percpu - allocate one zeroed copy per CPU (GFP_KERNEL)
 * @size:  bytes per copy
 * @align: alignment of every copy
 *
 * CONTEXT: may block.
 * RETURNS: see slabmalloc___alloc_percpu_gfp().
 */
SM_EXPORT void *slabmalloc___alloc_percpu(size_t size, size_t align)
{
	return slabmalloc___alloc_percpu_gfp(size, align, GFP_KERNEL);
}

/**
 * slabmalloc_free_percpu - free a dynamic per-CPU area
 * @ptr: a cookie from __alloc_percpu()/alloc_percpu(), or NULL (no-op)
 *
 * CONTEXT: may block. A pointer that is not a live per-CPU cookie (a static
 * variable's address, a member's address, a freed cookie) stops the program
 * with a one-line message.
 */
SM_EXPORT void slabmalloc_free_percpu(void *ptr)
{
	uintptr_t p = (uintptr_t)ptr;
	if (!ptr)
		return;
	uintptr_t base = p & PCPU_ADDR_MASK;
	size_t stride = ((p >> SLABMALLOC_PCPU_ADDR_BITS) & 0x7fff) * SLABMALLOC_PCPU_LINE;
	if (!(p & SLABMALLOC_PCPU_TAG) || stride == 0 || (base & (SM_CACHELINE - 1)) ||
	    base < SM_CACHELINE)
		sm_fatal("free_percpu(): %p is not a per-CPU pointer", ptr);
	struct pcpu_hdr *h = (struct pcpu_hdr *)(base - SM_CACHELINE);
	if (h->ph_magic != PCPU_MAGIC || h->ph_stride != stride)
		sm_fatal("free_percpu(): %p is not a live per-CPU pointer "
		         "(freed twice?)", ptr);
	void *raw = h->ph_raw;
	h->ph_magic = 0;
	slabmalloc_kfree(raw);
}

/* Called in the child after fork(): see the theory comment. */
static void percpu_postfork_child(void)
{
	for (unsigned int i = 0; i < SLABMALLOC_NR_CPUS; i++)
		pthread_mutex_init(&pcpu_slots[i].ps_lock, NULL);
	if (pcpu_self.pt_nest)
		pthread_mutex_lock(&pcpu_slots[pcpu_self.pt_held].ps_lock);
}
