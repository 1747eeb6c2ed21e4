/* SPDX-License-Identifier: MIT */
/*
 * <slabmalloc/percpu.h> — per-CPU variables.
 *
 * A per-CPU variable has one copy per possible CPU, so threads running on
 * different CPUs update different memory and never bounce a cache line
 * between them. Every copy starts on its own cache line and occupies whole
 * cache lines (64 bytes, or the type's alignment if larger): two CPUs'
 * copies never share a line.
 *
 *   DEFINE_PER_CPU(type, name);         NR_CPUS zeroed copies, global symbol
 *   DECLARE_PER_CPU(type, name);        use it from another file
 *   per_cpu(name, cpu)                  that CPU's copy (an lvalue)
 *   get_cpu_var(name) ... put_cpu_var(name)
 *                                       this CPU's copy, held exclusively
 *   this_cpu_ptr(&name)                 pointer to this CPU's copy
 *   this_cpu_read(name), this_cpu_write(name, v), this_cpu_add(name, v),
 *   this_cpu_inc(name), this_cpu_dec(name)
 *                                       one exclusive operation on this copy
 *
 *   p = alloc_percpu(type);             dynamic: one zeroed copy per CPU
 *   p = __alloc_percpu(size, align);    (NULL + ENOMEM/EINVAL on failure)
 *   per_cpu_ptr(p, cpu), this_cpu_ptr(p), get_cpu_ptr(p) ... put_cpu_ptr(p)
 *   free_percpu(p);
 *
 *   cpu = get_cpu(); ... put_cpu();     hold this CPU's slot
 *   smp_processor_id(), num_possible_cpus(), for_each_possible_cpu(cpu)
 *
 * Where user space differs from the kernel:
 *
 *  - The kernel disables preemption between get_cpu() and put_cpu(), so
 *    nothing else runs on that CPU. A user-space thread can be preempted or
 *    migrated at any instruction, so get_cpu() instead LOCKS the slot of the
 *    CPU the thread is running on (a mutex per CPU) and returns its id;
 *    put_cpu() unlocks it. While held, the caller has exclusive use of that
 *    slot: per_cpu(x, cpu)++ between get_cpu() and put_cpu(), and
 *    get_cpu_var(x)++ / put_cpu_var(x), never lose an update, even with more
 *    threads than CPUs. The price: another thread that wants the same slot
 *    waits (where the kernel would not have scheduled it), and the thread
 *    may have migrated since: the slot it holds is the one it locked, not
 *    necessarily the CPU it now runs on. Until put_cpu(), smp_processor_id()
 *    and this_cpu_ptr() report the held slot, as they would in the kernel.
 *    get_cpu() nests (a count per thread); every get_cpu() needs a put_cpu().
 *    While holding a slot, do not wait for another thread that may want the
 *    same slot, and do not call get_cpu() from a signal handler. Allocating
 *    (kmalloc, malloc) while holding a slot is fine.
 *  - Outside get_cpu()/put_cpu(), smp_processor_id() is only a hint (it is
 *    the kernel's raw_smp_processor_id()): the thread may migrate right
 *    after. this_cpu_read/write/add/inc/dec take the slot for the one
 *    operation, so they are exact, like the kernel's.
 *  - CPU ids come from rseq when glibc registered it, else sched_getcpu().
 *    Possible CPUs are the configured CPUs (sysconf(_SC_NPROCESSORS_CONF)),
 *    capped at NR_CPUS (SLABMALLOC_NR_CPUS, default 256; to change it,
 *    build the library and every file that includes this header with the
 *    same -DSLABMALLOC_NR_CPUS=N). On a
 *    machine with more CPUs than NR_CPUS, CPU c uses slot c % NR_CPUS:
 *    several CPUs then share a slot (still correct, merely contended), and
 *    num_possible_cpus() is NR_CPUS. A cpu argument >= num_possible_cpus()
 *    is folded the same way.
 *  - A static per-CPU variable has NR_CPUS copies in the program's data
 *    (its size times NR_CPUS, rounded to cache lines), all zero at start:
 *    DEFINE_PER_CPU(type, name) = init is not supported. `static
 *    DEFINE_PER_CPU(...)` makes the storage file-local. The name designates
 *    CPU 0's copy (as in the kernel, do not use it directly), and the
 *    pointer forms this_cpu_ptr(&name) and per_cpu_ptr(&name, cpu) need the
 *    address of the whole variable (the copies' spacing is derived from its
 *    type); for a member write per_cpu(name, cpu).member or
 *    this_cpu_ptr(&name)->member.
 *  - A dynamic per-CPU pointer is a cookie, not an address (the kernel's
 *    __percpu): dereferencing it directly faults. Pass it, or the address of
 *    a member of it (&p->member), to per_cpu_ptr()/this_cpu_ptr().
 *    __alloc_percpu() accepts alignments up to PAGE_SIZE (like the kernel)
 *    and copies of up to 2 MiB.
 */
#ifndef SLABMALLOC_PERCPU_H
#define SLABMALLOC_PERCPU_H

#include <stddef.h>
#include <stdint.h>
#include <slabmalloc/gfp.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SLABMALLOC_NR_CPUS
#define SLABMALLOC_NR_CPUS 256
#endif

/* ---- the exported part ---- */

/* Number of slots in use: min(configured CPUs, NR_CPUS); 0 until the first
 * per-CPU call initialises it. Read by the inline helpers below. */
extern unsigned int slabmalloc_percpu_nr;

void *slabmalloc___alloc_percpu(size_t size, size_t align);
void *slabmalloc___alloc_percpu_gfp(size_t size, size_t align, gfp_t gfp);
void slabmalloc_free_percpu(void *ptr);
unsigned int slabmalloc_get_cpu(void);
void slabmalloc_put_cpu(void);
unsigned int slabmalloc_smp_processor_id(void);
unsigned int slabmalloc_num_possible_cpus(void);
/* Slot of @cpu when @cpu >= slabmalloc_percpu_nr (initialises on first use). */
unsigned int slabmalloc_percpu_fold(unsigned int cpu);

/* ---- layout ---- */

#define SLABMALLOC_PCPU_LINE 64u
/* Alignment of each copy: the type's, but at least a cache line. */
#define SLABMALLOC_PCPU_ALIGN(align) \
	((align) > SLABMALLOC_PCPU_LINE ? (size_t)(align) : (size_t)SLABMALLOC_PCPU_LINE)
/* Distance between two CPUs' copies: the size rounded up to that alignment. */
#define SLABMALLOC_PCPU_STRIDE(size, align) \
	(((size_t)(size) + SLABMALLOC_PCPU_ALIGN(align) - 1) / \
	 SLABMALLOC_PCPU_ALIGN(align) * SLABMALLOC_PCPU_ALIGN(align))
#define SLABMALLOC_PCPU_TYPE_STRIDE(type) \
	SLABMALLOC_PCPU_STRIDE(sizeof(type), __alignof__(type))

/*
 * Dynamic cookies: bit 63 set (so a direct dereference faults: the address
 * is not canonical), bits 48..62 hold the stride in cache lines, bits 0..47
 * the address of CPU 0's copy. A member offset added by &p->member keeps the
 * tag and the stride intact. Static variables are plain addresses, and their
 * stride comes from the pointed-to type.
 */
#define SLABMALLOC_PCPU_TAG         ((uintptr_t)1 << 63)
#define SLABMALLOC_PCPU_ADDR_BITS   48
#define SLABMALLOC_PCPU_STRIDE_MAX  ((size_t)0x7fff * SLABMALLOC_PCPU_LINE)

static inline void *slabmalloc_percpu_addr(const void *ptr, unsigned int cpu,
                                           size_t static_stride)
{
	uintptr_t a = (uintptr_t)ptr;
	size_t stride = static_stride;

	if (__builtin_expect(cpu >= __atomic_load_n(&slabmalloc_percpu_nr, __ATOMIC_RELAXED), 0))
		cpu = slabmalloc_percpu_fold(cpu);
	if (a & SLABMALLOC_PCPU_TAG) {
		stride = ((a >> SLABMALLOC_PCPU_ADDR_BITS) & 0x7fff) * SLABMALLOC_PCPU_LINE;
		a &= ((uintptr_t)1 << SLABMALLOC_PCPU_ADDR_BITS) - 1;
	}
	/* Hide where the address came from (the kernel's RELOC_HIDE): the
	 * compiler sees a static variable's CPU-0 copy as a lone object and
	 * must not reason about accesses beyond it. */
	__asm__("" : "+r"(a));
	return (void *)(a + (uintptr_t)cpu * stride);
}

#define SLABMALLOC_PCPU_SYM(name) "slabmalloc_pcpu__" #name

#define SLABMALLOC_DECLARE_PER_CPU(type, name) \
	extern __typeof__(type) name __asm__(SLABMALLOC_PCPU_SYM(name))

/* The storage is a zeroed byte array of NR_CPUS strides under the assembler
 * name slabmalloc_pcpu__NAME; NAME is declared with the user's type and the
 * same assembler name, so DECLARE_PER_CPU and DEFINE_PER_CPU may both
 * appear in one file, and a leading `static` applies to the storage. */
#define SLABMALLOC_DEFINE_PER_CPU(type, name)                                     \
	unsigned char slabmalloc_pcpu_area__##name                                \
		[SLABMALLOC_NR_CPUS * SLABMALLOC_PCPU_TYPE_STRIDE(type)]          \
		__asm__(SLABMALLOC_PCPU_SYM(name))                                \
		__attribute__((aligned(SLABMALLOC_PCPU_ALIGN(__alignof__(type))), \
		               used));                                            \
	SLABMALLOC_DECLARE_PER_CPU(type, name)

#define slabmalloc_per_cpu_ptr(ptr, cpu)                                          \
	((__typeof__(ptr))slabmalloc_percpu_addr((const void *)(ptr), (cpu),      \
		SLABMALLOC_PCPU_STRIDE(sizeof(*(ptr)), __alignof__(*(ptr)))))
#define slabmalloc_this_cpu_ptr(ptr) \
	slabmalloc_per_cpu_ptr(ptr, slabmalloc_smp_processor_id())
#define slabmalloc_per_cpu(var, cpu) (*slabmalloc_per_cpu_ptr(&(var), (cpu)))
#define slabmalloc_get_cpu_ptr(ptr) \
	({ unsigned int sm_cpu_ = slabmalloc_get_cpu(); slabmalloc_per_cpu_ptr(ptr, sm_cpu_); })
#define slabmalloc_put_cpu_ptr(ptr) \
	do { (void)(ptr); slabmalloc_put_cpu(); } while (0)
#define slabmalloc_get_cpu_var(var) (*slabmalloc_get_cpu_ptr(&(var)))
#define slabmalloc_put_cpu_var(var) slabmalloc_put_cpu_ptr(&(var))

/* One exclusive operation on this CPU's copy of @pcp (a static variable,
 * or *p / p->member of a dynamic pointer). */
#define slabmalloc_this_cpu_op_(pcp, op)                                  \
	({ __typeof__(pcp) *sm_p_ = slabmalloc_get_cpu_ptr(&(pcp));       \
	   __typeof__(pcp) sm_v_ = (op);                                  \
	   slabmalloc_put_cpu();                                          \
	   sm_v_; })
#define slabmalloc_this_cpu_read(pcp)      slabmalloc_this_cpu_op_(pcp, *sm_p_)
#define slabmalloc_this_cpu_write(pcp, v)  ((void)slabmalloc_this_cpu_op_(pcp, *sm_p_ = (v)))
#define slabmalloc_this_cpu_add(pcp, v)    ((void)slabmalloc_this_cpu_op_(pcp, *sm_p_ += (v)))
#define slabmalloc_this_cpu_sub(pcp, v)    ((void)slabmalloc_this_cpu_op_(pcp, *sm_p_ -= (v)))
#define slabmalloc_this_cpu_add_return(pcp, v) slabmalloc_this_cpu_op_(pcp, *sm_p_ += (v))

#define slabmalloc_alloc_percpu(type) \
	((type *)slabmalloc___alloc_percpu(sizeof(type), __alignof__(type)))
#define slabmalloc_alloc_percpu_gfp(type, gfp) \
	((type *)slabmalloc___alloc_percpu_gfp(sizeof(type), __alignof__(type), (gfp)))
#define slabmalloc_for_each_possible_cpu(cpu) \
	for ((cpu) = 0; (unsigned int)(cpu) < slabmalloc_num_possible_cpus(); (cpu)++)

/* ---- the kernel's names ---- */

#ifndef SLABMALLOC_NO_KERNEL_NAMES
#define NR_CPUS                    SLABMALLOC_NR_CPUS
#define DEFINE_PER_CPU(type, name) SLABMALLOC_DEFINE_PER_CPU(type, name)
#define DECLARE_PER_CPU(type, name) SLABMALLOC_DECLARE_PER_CPU(type, name)
#define per_cpu(var, cpu)          slabmalloc_per_cpu(var, cpu)
#define per_cpu_ptr(ptr, cpu)      slabmalloc_per_cpu_ptr(ptr, cpu)
#define this_cpu_ptr(ptr)          slabmalloc_this_cpu_ptr(ptr)
#define raw_cpu_ptr(ptr)           slabmalloc_this_cpu_ptr(ptr)
#define get_cpu_var(var)           slabmalloc_get_cpu_var(var)
#define put_cpu_var(var)           slabmalloc_put_cpu_var(var)
#define get_cpu_ptr(ptr)           slabmalloc_get_cpu_ptr(ptr)
#define put_cpu_ptr(ptr)           slabmalloc_put_cpu_ptr(ptr)
#define this_cpu_read(pcp)         slabmalloc_this_cpu_read(pcp)
#define this_cpu_write(pcp, v)     slabmalloc_this_cpu_write(pcp, v)
#define this_cpu_add(pcp, v)       slabmalloc_this_cpu_add(pcp, v)
#define this_cpu_sub(pcp, v)       slabmalloc_this_cpu_sub(pcp, v)
#define this_cpu_inc(pcp)          slabmalloc_this_cpu_add(pcp, 1)
#define this_cpu_dec(pcp)          slabmalloc_this_cpu_sub(pcp, 1)
#define this_cpu_add_return(pcp, v) slabmalloc_this_cpu_add_return(pcp, v)
#define alloc_percpu(type)         slabmalloc_alloc_percpu(type)
#define alloc_percpu_gfp(type, gfp) slabmalloc_alloc_percpu_gfp(type, gfp)
#define for_each_possible_cpu(cpu) slabmalloc_for_each_possible_cpu(cpu)
static inline void *__alloc_percpu(size_t size, size_t align)
{ return slabmalloc___alloc_percpu(size, align); }
static inline void *__alloc_percpu_gfp(size_t size, size_t align, gfp_t gfp)
{ return slabmalloc___alloc_percpu_gfp(size, align, gfp); }
static inline void free_percpu(void *ptr) { slabmalloc_free_percpu(ptr); }
static inline unsigned int get_cpu(void) { return slabmalloc_get_cpu(); }
static inline void put_cpu(void) { slabmalloc_put_cpu(); }
static inline unsigned int smp_processor_id(void) { return slabmalloc_smp_processor_id(); }
static inline unsigned int raw_smp_processor_id(void) { return slabmalloc_smp_processor_id(); }
static inline unsigned int num_possible_cpus(void) { return slabmalloc_num_possible_cpus(); }
#endif

#ifdef __cplusplus
}
#endif
#endif /* SLABMALLOC_PERCPU_H */
