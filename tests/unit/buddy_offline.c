/* SPDX-License-Identifier: MIT */
/*
 * buddy_offline.t — sections given back to the system (buddy.c, theory
 * 10). A wholly free section that a purge has returned is unmapped: it no
 * longer counts in mallinfo2().arena, in the process's address space or
 * against RLIMIT_AS; HeapOffline shows it. A growth maps it again (the
 * lowest first) before the zone extends, zeroed and with its descriptors
 * as before. A section whose address another mapping took meanwhile is
 * lost, not clobbered. A free inside an offline section names what it is,
 * and a randomized valid program that purges all the time is never
 * stopped.
 *
 * Without the background purge thread, so that every purge is ours;
 * bounded by alarm().
 */
#include <slabmalloc.h>
#include "page_alloc.h"
#include "tap.h"
#include "no_bg_purge.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define NBLK      16                               /* 16 sections, 64 MiB */
#define SEC_BYTES ((size_t)PAGE_SIZE << (MAX_ORDER - 1))
#define SEC_PAGES (SEC_BYTES / PAGE_SIZE)

static unsigned long blk[NBLK];
static struct zone *z;

static bool head_offline(unsigned long a)
{
	return (virt_to_page((void *)a)->flags & PG_offline) != 0;
}

/* The meminfo line @name, in kB (-1: missing). */
static long meminfo_kb(const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return -1;
	slabmalloc_meminfo(f);
	fclose(f);
	long kb = -1;
	char *p = strstr(buf, name);
	if (p)
		kb = strtol(p + strlen(name), NULL, 10);
	free(buf);
	return kb;
}

static bool alloc_all(gfp_t gfp)
{
	bool got = true;
	for (int i = 0; i < NBLK; i++) {
		blk[i] = __get_free_pages(gfp, MAX_ORDER - 1);
		got &= blk[i] != 0;
	}
	return got;
}

static void free_all(void)
{
	for (int i = 0; i < NBLK; i++)
		if (blk[i])
			free_pages(blk[i], MAX_ORDER - 1);
}

static unsigned long offline_addr;

static void free_pages_inside(void *arg)
{
	(void)arg;
	free_pages(offline_addr + 8 * PAGE_SIZE, 0);
}

static void free_inside(void *arg)
{
	(void)arg;
	free((void *)(offline_addr + 64));
}

/* The address space a purge gives back is the program's again: under a
 * limit that the heap in use reached, a mapping as large as the freed
 * sections fits once they are offline (child process). */
static void rlimit_child(void *arg)
{
	(void)arg;
	if (!alloc_all(GFP_KERNEL))
		_exit(2);
	struct rlimit rl = { os_vm_bytes() + ((size_t)8 << 20), RLIM_INFINITY };
	rl.rlim_max = rl.rlim_cur;
	free_all();
	buddy_purge(true);
	if (setrlimit(RLIMIT_AS, &rl) != 0)
		_exit(3);
	void *m = mmap(NULL, NBLK * SEC_BYTES - ((size_t)8 << 20), PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		_exit(4);
	munmap(m, NBLK * SEC_BYTES - ((size_t)8 << 20));
	/* Under the limit, growths that cannot map fail cleanly. */
	bool failed = false;
	for (int i = 0; i < 4 * NBLK && !failed; i++)
		failed = __get_free_pages(GFP_KERNEL | __GFP_NOWARN, MAX_ORDER - 1) == 0;
	_exit(failed && errno == ENOMEM && buddy_validate() ? 0 : 5);
}

/* A random valid program of page ranges and malloc blocks, purging often:
 * every byte checked, validators after each purge. */
static bool random_program(void)
{
	enum { SLOTS = 96 };
	struct { unsigned char *p; size_t n; unsigned char tag; } s[SLOTS] = { { 0 } };
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	bool ok_all = true;
	for (int op = 0; op < 6000 && ok_all; op++) {
		unsigned int i = (unsigned int)(tap_rand(&rng) % SLOTS);
		if (s[i].p) {
			for (size_t k = 0; k < s[i].n; k += 61)
				ok_all &= s[i].p[k] == s[i].tag;
			ok_all &= s[i].p[s[i].n - 1] == s[i].tag;
			if (tap_rand(&rng) % 4 == 0) {
				size_t n = 1 + tap_rand(&rng) % (2u << 20);
				unsigned char *q = realloc(s[i].p, n);
				if (!q)
					return false;
				size_t keep = n < s[i].n ? n : s[i].n;
				for (size_t k = 0; k < keep; k += 61)
					ok_all &= q[k] == s[i].tag;
				memset(q, s[i].tag, n);
				s[i].p = q;
				s[i].n = n;
				continue;
			}
			free(s[i].p);
			s[i].p = NULL;
		} else {
			/* sizes 1 B - 2 MiB, log-distributed */
			size_t n = 1 + tap_rand(&rng) % ((size_t)1 << (tap_rand(&rng) % 22));
			s[i].p = malloc(n);
			if (!s[i].p)
				return false;
			s[i].n = n;
			s[i].tag = (unsigned char)(op | 1);
			memset(s[i].p, s[i].tag, n);
		}
		if (op % 200 == 199) {
			buddy_purge(true);
			ok_all &= buddy_validate();
		}
	}
	for (unsigned int i = 0; i < SLOTS; i++)
		free(s[i].p);
	buddy_purge(true);
	return ok_all && buddy_validate();
}

int main(void)
{
	alarm(120);
	z = &sm_zones[ZONE_NORMAL];

	bool got = alloc_all(GFP_KERNEL);
	ok(got, "%d sections allocated", NBLK);
	if (!got)
		return done_testing();
	for (int i = 0; i < NBLK; i++)
		memset((void *)blk[i], 0x5a, SEC_BYTES);

	/* Freed and purged: offline. */
	size_t arena0 = mallinfo2().arena, vm0 = os_vm_bytes(), limit0 = z->zone_limit;
	size_t off0 = z->zone_offline_pages;
	free_all();
	buddy_purge(true);
	bool all_off = true, unmapped = true;
	for (int i = 0; i < NBLK; i++) {
		all_off &= head_offline(blk[i]);
		unmapped &= !os_is_mapped((void *)blk[i]) &&
		            !os_is_mapped((void *)(blk[i] + SEC_BYTES - PAGE_SIZE));
	}
	ok(all_off && z->zone_offline_pages >= off0 + NBLK * SEC_PAGES,
	   "freed and purged, the sections are offline (%zu pages offline)",
	   z->zone_offline_pages);
	ok(unmapped, "their memory is unmapped");
	size_t arena1 = mallinfo2().arena, vm1 = os_vm_bytes();
	ok(arena0 - arena1 >= NBLK * SEC_BYTES,
	   "mallinfo2().arena drops by them (%zu -> %zu MiB)", arena0 >> 20, arena1 >> 20);
	ok(vm0 > vm1 && vm0 - vm1 >= NBLK * SEC_BYTES,
	   "so does the address space (%zu -> %zu MiB)", vm0 >> 20, vm1 >> 20);
	ok(z->zone_limit == limit0, "the zone's grown range stays (%zu MiB)",
	   z->zone_limit >> 20);
	ok(meminfo_kb("HeapOffline:") >= (long)(NBLK * SEC_BYTES >> 10),
	   "meminfo shows them: HeapOffline %ld kB", meminfo_kb("HeapOffline:"));
	ok(z->zone_free_pages >= buddy_reserve_pages,
	   "the emergency reserve stays free (%zu pages free)", z->zone_free_pages);
	ok(buddy_validate(), "buddy_validate passes");

	/* Frees inside say what the address is. */
	offline_addr = blk[5];
	expect_death(free_pages_inside, NULL, "memory given back to the system",
	             "free_pages inside an offline section names it");
	expect_death(free_inside, NULL, "free(): invalid pointer",
	             "free() inside an offline section is an invalid pointer, "
	             "not a double free");

	/* Online again: the same addresses, zeroed, before any extension. */
	unsigned long old[NBLK];
	memcpy(old, blk, sizeof old);
	got = alloc_all(GFP_KERNEL | __GFP_ZERO);
	bool same = got, zero = got;
	for (int i = 0; i < NBLK && got; i++) {
		bool found = false;
		for (int j = 0; j < NBLK; j++)
			found |= blk[i] == old[j];
		same &= found;
		for (size_t k = 0; k < SEC_BYTES; k += 1024)
			zero &= ((unsigned char *)blk[i])[k] == 0;
		memset((void *)blk[i], i + 1, SEC_BYTES);
	}
	ok(same && z->zone_limit == limit0,
	   "allocated again, the offline sections come back and the zone does not extend");
	ok(zero, "they read as zeros");
	ok(z->zone_offline_pages == off0 && mallinfo2().arena >= arena0 - 2 * SEC_BYTES,
	   "the counts come back (%zu pages offline, arena %zu MiB)", z->zone_offline_pages,
	   mallinfo2().arena >> 20);
	bool kept = got;
	for (int i = 0; i < NBLK && got; i++)
		for (size_t k = 0; k < SEC_BYTES; k += 4096)
			kept &= ((unsigned char *)blk[i])[k] == (unsigned char)(i + 1);
	ok(kept && buddy_validate(), "their contents stay as written, buddy valid");

	/* Lost: another mapping takes the lowest offline address. */
	free_all();
	buddy_purge(true);
	unsigned long low = 0;
	for (struct page *p = z->zone_offline; p && !low; p = p->buddy.next)
		low = (unsigned long)page_address(p);
	void *foreign = low ? mmap((void *)low, SEC_BYTES, PROT_READ | PROT_WRITE,
	                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
	                    : MAP_FAILED;
	ok(foreign == (void *)low, "another mapping lands on the lowest offline section");
	if (foreign == (void *)low) {
		memset(foreign, 0x77, SEC_BYTES);
		size_t lost0 = z->zone_lost_pages;
		got = alloc_all(GFP_KERNEL);
		bool apart = got;
		for (int i = 0; i < NBLK && got; i++) {
			apart &= blk[i] != low;
			memset((void *)blk[i], 0x11, SEC_BYTES);
		}
		bool intact = true;
		for (size_t k = 0; k < SEC_BYTES; k += 512)
			intact &= ((unsigned char *)foreign)[k] == 0x77;
		ok(apart && intact && z->zone_lost_pages == lost0 + SEC_PAGES,
		   "growths skip it and leave it alone (%zu pages lost)", z->zone_lost_pages);
		ok(buddy_validate(), "buddy valid with a lost section");
		offline_addr = low;
		expect_death(free_inside, NULL, "free(): invalid pointer",
		             "a free inside the foreign mapping is an invalid pointer");
		free_all();
		munmap(foreign, SEC_BYTES);
	}

	/* Turned off, a purge leaves the sections online. */
	buddy_offline_sections = false;
	got = alloc_all(GFP_KERNEL);
	for (int i = 0; i < NBLK && got; i++)
		memset((void *)blk[i], 0x22, SEC_BYTES);
	size_t arena2 = mallinfo2().arena;
	free_all();
	buddy_purge(true);
	bool online = got;
	for (int i = 0; i < NBLK && got; i++)
		online &= virt_to_page((void *)blk[i])->flags == (PG_buddy | PG_tmpl) &&
		          os_is_mapped((void *)blk[i]);
	ok(online && mallinfo2().arena == arena2,
	   "with buddy_offline_sections off a purge keeps them mapped");
	buddy_offline_sections = true;

	char buf[4096];
	int st = run_child(rlimit_child, NULL, 60, 0, buf, sizeof buf);
	ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "under RLIMIT_AS the address space of offline sections can be mapped by the "
	   "program, and a growth past the limit fails with ENOMEM (status 0x%x) %s", st,
	   buf);

	ok(random_program(), "a random valid program of 1 B - 2 MiB blocks, purged "
	   "every 200 operations: every byte kept, buddy valid");
	return done_testing();
}
