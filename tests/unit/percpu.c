/* SPDX-License-Identifier: MIT */
/*
 * percpu.t — per-CPU variables: exact counters from more threads than CPUs,
 * get_cpu()/put_cpu() exclusion and nesting, layout (alignment, cache-line
 * separation), DECLARE_PER_CPU across files (percpu_a.c, percpu_b.c), CPU
 * folding, and bad input.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "tap.h"
#include "percpu_ab.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define ITERS    100000

DEFINE_PER_CPU(unsigned long, cnt_var);      /* get_cpu_var()/put_cpu_var() */
DEFINE_PER_CPU(unsigned long, cnt_cpu);      /* per_cpu(x, get_cpu()) */
DEFINE_PER_CPU(unsigned long, cnt_op);       /* this_cpu_inc() */
DEFINE_PER_CPU(char, small_c);

struct al128 {
	char a_bytes[72];
} __attribute__((aligned(128)));
DEFINE_PER_CPU(struct al128, big);

struct dstat {
	unsigned long d_a;
	unsigned long d_b;
};

static unsigned long *dyn_cnt;
static struct dstat *dyn_stat;

static void *counter_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < ITERS; i++) {
		get_cpu_var(cnt_var)++;
		put_cpu_var(cnt_var);

		unsigned int cpu = get_cpu();
		per_cpu(cnt_cpu, cpu)++;
		put_cpu();

		this_cpu_inc(cnt_op);

		(*get_cpu_ptr(dyn_cnt))++;
		put_cpu_ptr(dyn_cnt);

		this_cpu_add(dyn_stat->d_b, 3);

		if (i % 10 == 0) {
			ab_hit();
			ab_miss();
		}
		if (i % 4096 == 0)
			sched_yield();   /* invite migration */
	}
	return NULL;
}

static pthread_barrier_t held_bar;
static unsigned int holder_cpu;

static void *holder_main(void *arg)
{
	(void)arg;
	holder_cpu = get_cpu();
	pthread_barrier_wait(&held_bar);
	pthread_barrier_wait(&held_bar);
	put_cpu();
	return NULL;
}

/* ---- bad input ---- */

static void die_free_static(void *arg) { (void)arg; free_percpu(&cnt_var); }
static void die_free_heap(void *arg) { (void)arg; free_percpu(malloc(64)); }
static void die_free_twice(void *arg)
{
	(void)arg;
	long *p = alloc_percpu(long);
	free_percpu(p);
	free_percpu(p);
}
static void die_free_member(void *arg)
{
	(void)arg;
	struct dstat *p = alloc_percpu(struct dstat);
	free_percpu(&p->d_b);
}
static void die_put_unbalanced(void *arg) { (void)arg; put_cpu(); }

/* A cookie is not an address: dereferencing it must fault. */
static int deref_faults(void)
{
	long *p = alloc_percpu(long);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		volatile long v = *(volatile long *)p;
		(void)v;
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	free_percpu(p);
	return WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS);
}

static int copies_separate(uintptr_t a, size_t size, uintptr_t b)
{
	/* a's copy is [a, a+size); b's starts at b > a: no shared line. */
	return (a + size - 1) / 64 < b / 64;
}

int main(void)
{
	unsigned int nr = num_possible_cpus();
	long conf = sysconf(_SC_NPROCESSORS_CONF);
	long expect_nr = conf < 1 ? 1 : conf > NR_CPUS ? NR_CPUS : conf;

	alarm(300);
	ok(nr == (unsigned int)expect_nr, "num_possible_cpus() = configured CPUs (%u, %ld)",
	   nr, conf);
	unsigned int n = 0, cpu;
	for_each_possible_cpu(cpu)
		n++;
	ok(n == nr, "for_each_possible_cpu visits %u CPUs", n);
	ok(smp_processor_id() < nr, "smp_processor_id() < num_possible_cpus()");

	/* --- layout of static variables --- */
	uintptr_t s0 = (uintptr_t)&per_cpu(small_c, 0);
	ok(s0 % 64 == 0, "a static per-CPU char starts on a cache line");
	if (nr > 1)
		ok((uintptr_t)&per_cpu(small_c, 1) - s0 == 64,
		   "... and the next CPU's copy is on the next line");
	else
		ok(1, "(one CPU: no second copy to compare)");
	int al_ok = 1;
	for_each_possible_cpu(cpu) {
		uintptr_t a = (uintptr_t)&per_cpu(big, cpu);
		if (a % 128)
			al_ok = 0;
		if (cpu > 0 && !copies_separate((uintptr_t)&per_cpu(big, cpu - 1),
		                                sizeof(struct al128), a))
			al_ok = 0;
	}
	ok(al_ok, "a 128-aligned type: every copy aligned to 128, none sharing a line");
	uintptr_t tp = (uintptr_t)this_cpu_ptr(&big), b0 = (uintptr_t)&per_cpu(big, 0);
	ok(tp >= b0 && (tp - b0) % 128 == 0 && (tp - b0) / 128 < nr,
	   "this_cpu_ptr(&var) is one of the variable's copies");
	unsigned int c0 = get_cpu();
	ok(this_cpu_ptr(&big) == &per_cpu(big, c0),
	   "between get_cpu() and put_cpu(), this_cpu_ptr(&var) is the held CPU's copy");
	put_cpu();
	ok(&per_cpu(small_c, nr) == &per_cpu(small_c, 0) &&
	   &per_cpu(small_c, nr + 1000) == &per_cpu(small_c, (nr + 1000) % nr),
	   "cpu >= num_possible_cpus() folds modulo the number of CPUs");
	ok(per_cpu(cnt_var, 0) == 0 && per_cpu(big, nr - 1).a_bytes[71] == 0,
	   "static copies start zeroed");

	/* --- DECLARE_PER_CPU across files --- */
	int same = 1;
	for_each_possible_cpu(cpu)
		if (ab_addr_a(cpu) != ab_addr_b(cpu))
			same = 0;
	ok(same, "DEFINE_PER_CPU in percpu_a.c and DECLARE_PER_CPU in percpu_b.c "
	   "designate the same copies");
	ok((uintptr_t)ab_addr_a(0) == (uintptr_t)&per_cpu(ab_stat, 0),
	   "... and this file sees them too");

	/* --- get_cpu() nesting and the held slot --- */
	unsigned int g1 = get_cpu();
	unsigned int g2 = get_cpu();
	ok(g1 == g2 && smp_processor_id() == g1, "nested get_cpu() returns the held CPU");
	put_cpu();
	ok(smp_processor_id() == g1, "still held after the inner put_cpu()");
	put_cpu();
	if (nr > 1) {
		cpu_set_t old, one;
		sched_getaffinity(0, sizeof old, &old);
		unsigned int held = get_cpu();
		unsigned int other = (held + 1) % nr;
		CPU_ZERO(&one);
		CPU_SET(other, &one);
		int moved = sched_setaffinity(0, sizeof one, &one) == 0;
		ok(!moved || smp_processor_id() == held,
		   "after migrating to CPU %u while holding %u, smp_processor_id() is "
		   "still the held slot", other, held);
		put_cpu();
		ok(!moved || smp_processor_id() == other,
		   "after put_cpu(), smp_processor_id() follows the thread (%u)", other);
		sched_setaffinity(0, sizeof old, &old);
	} else {
		ok(1, "(one CPU: no migration test)");
		ok(1, "(one CPU: no migration test)");
	}

	/* --- fork while another thread holds a CPU slot --- */
	pthread_t holder;
	pthread_barrier_init(&held_bar, NULL, 2);
	pthread_create(&holder, NULL, holder_main, NULL);
	pthread_barrier_wait(&held_bar);         /* holder has its slot */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(10);
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(holder_cpu, &one);
		sched_setaffinity(0, sizeof one, &one);
		sm_fork_leaves_child();  /* the registered handler; idempotent */
		unsigned int c = get_cpu();
		put_cpu();
		_exit(c == holder_cpu || os_cpu_id() != (int)holder_cpu ? 0 : 1);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "after fork, the child can take the slot a parent thread held (%u)", holder_cpu);
	pthread_barrier_wait(&held_bar);         /* let the holder put_cpu() */
	pthread_join(holder, NULL);

	/* --- exact counters from more threads than CPUs --- */
	dyn_cnt = alloc_percpu(unsigned long);
	dyn_stat = alloc_percpu(struct dstat);
	ok(dyn_cnt && dyn_stat, "alloc_percpu() of a counter and a struct");
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, counter_main, NULL);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	unsigned long tv = 0, tc = 0, to = 0, td = 0, tb = 0, ta = 0;
	long la = 0, lb = 0;
	for_each_possible_cpu(cpu) {
		tv += per_cpu(cnt_var, cpu);
		tc += per_cpu(cnt_cpu, cpu);
		to += per_cpu(cnt_op, cpu);
		td += *per_cpu_ptr(dyn_cnt, cpu);
		tb += per_cpu_ptr(dyn_stat, cpu)->d_b;
		ta += per_cpu_ptr(dyn_stat, cpu)->d_a;
		la += ab_local_a(cpu);
		lb += ab_local_b(cpu);
	}
	unsigned long total = (unsigned long)NTHREADS * ITERS;
	diag("%d threads x %d increments on %u CPUs", NTHREADS, ITERS, nr);
	ok(tv == total, "get_cpu_var()++/put_cpu_var(): sum %lu == %lu", tv, total);
	ok(tc == total, "per_cpu(x, get_cpu())++/put_cpu(): sum %lu == %lu", tc, total);
	ok(to == total, "this_cpu_inc(): sum %lu == %lu", to, total);
	ok(td == total, "(*get_cpu_ptr(p))++ on alloc_percpu memory: sum %lu == %lu", td, total);
	ok(tb == 3 * total && ta == 0, "this_cpu_add(p->member, 3): sum %lu == %lu, "
	   "neighbour member untouched", tb, 3 * total);
	unsigned long tenth = (unsigned long)NTHREADS * (ITERS / 10);
	ok(ab_total_hits() == (long)tenth && ab_total_misses() == (long)tenth,
	   "counters defined in one file and updated from two: %ld, %ld == %lu",
	   ab_total_hits(), ab_total_misses(), tenth);
	ok(la == (long)tenth && lb == 2 * (long)tenth,
	   "static DEFINE_PER_CPU: two files' same-named variables are distinct");
	c0 = get_cpu();                  /* this_cpu_* nest inside and use c0 */
	ok(this_cpu_read(cnt_op) == per_cpu(cnt_op, c0), "this_cpu_read() reads the held copy");
	this_cpu_write(cnt_op, 7);
	ok(per_cpu(cnt_op, c0) == 7, "this_cpu_write() writes it");
	ok(this_cpu_add_return(cnt_op, 5) == 12 && per_cpu(cnt_op, c0) == 12,
	   "this_cpu_add_return()");
	put_cpu();
	free_percpu(dyn_cnt);
	free_percpu(dyn_stat);

	/* --- dynamic layout: alignment and cache-line separation --- */
	static const size_t sizes[] = { 1, 8, 24, 64, 100, 5000 };
	int align_ok = 1, sep_ok = 1, zero_ok = 1, isol_ok = 1, all_alloc = 1;
	for (size_t align = 8; align <= 4096; align *= 2) {
		for (size_t si = 0; si < SM_ARRAY_SIZE(sizes); si++) {
			size_t size = sizes[si];
			unsigned char *p = __alloc_percpu(size, align);
			if (!p) {
				all_alloc = 0;
				continue;
			}
			for_each_possible_cpu(cpu) {
				unsigned char *c = per_cpu_ptr(p, cpu);
				if ((uintptr_t)c % align)
					align_ok = 0;
				for (size_t b = 0; b < size; b++)
					if (c[b])
						zero_ok = 0;
				memset(c, (int)cpu + 1, size);
				if (cpu > 0 && !copies_separate((uintptr_t)per_cpu_ptr(p, cpu - 1),
				                                size, (uintptr_t)c))
					sep_ok = 0;
			}
			for_each_possible_cpu(cpu) {
				unsigned char *c = per_cpu_ptr(p, cpu);
				for (size_t b = 0; b < size; b++)
					if (c[b] != (unsigned char)(cpu + 1))
						isol_ok = 0;
			}
			free_percpu(p);
		}
	}
	ok(all_alloc, "__alloc_percpu(size, align) for align 8..4096, sizes 1..5000");
	ok(align_ok, "every CPU's copy honours the alignment");
	ok(zero_ok, "copies are zeroed");
	ok(sep_ok, "distinct CPUs' copies never share a cache line");
	ok(isol_ok, "writing a whole copy never touches another CPU's");

	/* --- bad input --- */
	errno = 0;
	ok(__alloc_percpu(0, 8) == NULL && errno == EINVAL, "size 0: NULL, EINVAL");
	errno = 0;
	ok(__alloc_percpu(8, 3) == NULL && errno == EINVAL, "align 3: NULL, EINVAL");
	errno = 0;
	ok(__alloc_percpu(8, 0) == NULL && errno == EINVAL, "align 0: NULL, EINVAL");
	errno = 0;
	ok(__alloc_percpu(8, 8192) == NULL && errno == EINVAL, "align > PAGE_SIZE: NULL, EINVAL");
	errno = 0;
	ok(__alloc_percpu(3u << 20, 8) == NULL && errno == EINVAL, "a 3 MiB copy: NULL, EINVAL");
	free_percpu(NULL);
	ok(1, "free_percpu(NULL) is a no-op");
	expect_death(die_free_static, NULL, "free_percpu(): ",
	             "free_percpu() of a static per-CPU variable dies");
	expect_death(die_free_heap, NULL, "is not a per-CPU pointer",
	             "free_percpu() of a malloc pointer dies");
	expect_death(die_free_twice, NULL, "is not a live per-CPU pointer",
	             "free_percpu() twice dies");
	expect_death(die_free_member, NULL, "is not a per-CPU pointer",
	             "free_percpu() of a member's address dies");
	expect_death(die_put_unbalanced, NULL, "put_cpu(): called without a matching get_cpu()",
	             "put_cpu() without get_cpu() dies");
	ok(deref_faults(), "dereferencing a per-CPU cookie directly faults");

	return done_testing();
}
