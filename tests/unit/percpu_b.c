/* SPDX-License-Identifier: MIT */
/* percpu_b.c — uses ab_stat defined in percpu_a.c through DECLARE_PER_CPU. */
#include "percpu_ab.h"

static DEFINE_PER_CPU(long, ab_local);

void ab_miss(void)
{
	unsigned int cpu = get_cpu();
	per_cpu(ab_stat, cpu).as_misses++;
	put_cpu();
	this_cpu_add(ab_local, 2);
}

struct ab_stat *ab_addr_b(unsigned int cpu)
{
	return per_cpu_ptr(&ab_stat, cpu);
}

long ab_local_b(unsigned int cpu)
{
	return per_cpu(ab_local, cpu);
}

long ab_total_hits(void)
{
	long sum = 0;
	unsigned int cpu;
	for_each_possible_cpu(cpu)
		sum += per_cpu(ab_stat, cpu).as_hits;
	return sum;
}

long ab_total_misses(void)
{
	long sum = 0;
	unsigned int cpu;
	for_each_possible_cpu(cpu)
		sum += per_cpu(ab_stat, cpu).as_misses;
	return sum;
}
