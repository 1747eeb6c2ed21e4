/* SPDX-License-Identifier: MIT */
/* percpu_a.c — defines ab_stat (see percpu_ab.h), and a file-local
 * per-CPU variable with the same name as one in percpu_b.c. */
#include "percpu_ab.h"

DEFINE_PER_CPU(struct ab_stat, ab_stat);
static DEFINE_PER_CPU(long, ab_local);

void ab_hit(void)
{
	get_cpu_var(ab_stat).as_hits++;
	put_cpu_var(ab_stat);
	this_cpu_inc(ab_local);
}

struct ab_stat *ab_addr_a(unsigned int cpu)
{
	return &per_cpu(ab_stat, cpu);
}

long ab_local_a(unsigned int cpu)
{
	return per_cpu(ab_local, cpu);
}
