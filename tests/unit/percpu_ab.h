/* SPDX-License-Identifier: MIT */
/* percpu_ab.h — a per-CPU variable shared by percpu_a.c (which defines it)
 * and percpu_b.c (which only declares it), for tests/unit/percpu.t. */
#ifndef PERCPU_AB_H
#define PERCPU_AB_H
#include <slabmalloc/percpu.h>

struct ab_stat {
	long as_hits;
	long as_misses;
};

DECLARE_PER_CPU(struct ab_stat, ab_stat);

/* percpu_a.c */
void ab_hit(void);
struct ab_stat *ab_addr_a(unsigned int cpu);
long ab_local_a(unsigned int cpu);
/* percpu_b.c */
void ab_miss(void);
struct ab_stat *ab_addr_b(unsigned int cpu);
long ab_local_b(unsigned int cpu);
long ab_total_hits(void);
long ab_total_misses(void);
#endif
