/* SPDX-License-Identifier: MIT */
/*
 * mag_budget.c — the per-thread magazine budget: with many threads alive,
 * each having churned objects of every slab class, the objects held in the
 * threads' magazines stay within the threads' shares of the budget (the
 * share times the thread count), every object handed out is whole (the
 * slots that the budget leaves without magazines work), and the magazines
 * of exited threads go back.
 */
#include "slab_internal.h"
#include "kmalloc.h"
#include "tap.h"

#include <pthread.h>
#include <stdint.h>

enum { THREADS = 200, OPS = 3000, HOLD = 64 };

static pthread_barrier_t registered, churned, release;
static int bad_bytes;

static unsigned int xorshift(unsigned int *s)
{
	unsigned int x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* 16 B .. 32 KiB, every slab class: half up to 256 B, the rest above. */
static size_t pick_size(unsigned int *s)
{
	if (xorshift(s) % 2)
		return 16 + xorshift(s) % 241;
	return 257 + xorshift(s) % (KMALLOC_MAX_CACHE_SIZE - 257 + 1);
}

static void *churner(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg * 2654435761u | 1u;
	unsigned char *held[HOLD] = { 0 };
	size_t len[HOLD] = { 0 };

	/* Register (a first slow path) before anyone churns, so that every
	 * thread works under the share of THREADS threads. */
	slabmalloc_kfree(slabmalloc_kmalloc(64, GFP_KERNEL));
	pthread_barrier_wait(&registered);
	for (unsigned int i = 0; i < OPS; i++) {
		unsigned int j = xorshift(&seed) % HOLD;
		if (held[j]) {
			for (size_t k = 0; k < len[j]; k += 61)
				if (held[j][k] != (unsigned char)j)
					__atomic_fetch_add(&bad_bytes, 1, __ATOMIC_RELAXED);
			slabmalloc_kfree(held[j]);
		}
		len[j] = pick_size(&seed);
		held[j] = slabmalloc_kmalloc(len[j], GFP_KERNEL);
		if (!held[j])
			abort();
		memset(held[j], (int)j, len[j]);
	}
	pthread_barrier_wait(&churned);
	pthread_barrier_wait(&release);
	for (unsigned int j = 0; j < HOLD; j++)
		slabmalloc_kfree(held[j]);
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];
	pthread_attr_t attr;

	alarm(300);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, (size_t)256 << 10);
	pthread_barrier_init(&registered, NULL, THREADS + 1);
	pthread_barrier_init(&churned, NULL, THREADS + 1);
	pthread_barrier_init(&release, NULL, THREADS + 1);
	for (unsigned int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], &attr, churner, (void *)(uintptr_t)(i + 1)) != 0)
			abort();
	pthread_barrier_wait(&registered);
	pthread_barrier_wait(&churned);

	unsigned int n = mag_nr_threads();
	size_t share = mag_thread_share();
	size_t cached = mag_thread_cached_bytes();
	diag("%u threads hold magazines, share %zu KiB each, %zu KiB cached in them",
	     n, share >> 10, cached >> 10);
	ok(n >= THREADS, "every churning thread is registered (%u)", n);
	ok(share * THREADS <= slab_mag_budget || share == (size_t)32 << 10,
	   "the share scales with the thread count");
	ok(cached <= share * n, "magazines of %u threads hold %zu KiB, within %zu KiB",
	   n, cached >> 10, share * n >> 10);
	ok(bad_bytes == 0, "every object held its bytes (%d bad)", bad_bytes);

	pthread_barrier_wait(&release);
	for (unsigned int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	ok(mag_thread_cached_bytes() == 0, "the magazines of exited threads went back");
	for (unsigned int i = 0; i < KMALLOC_NR_CLASSES; i++)
		if (!mag_validate(kmalloc_caches[i]) || !slab_validate(kmalloc_caches[i]))
			ok(0, "kmalloc-%u validates", kmalloc_class_size[i]);
	ok(1, "the kmalloc caches validate");
	return done_testing();
}
