/* SPDX-License-Identifier: MIT */
/*
 * os.t — the OS layer: CPU id (rseq or sched_getcpu), clocks, random,
 * environment, reservations (low ones below 4 GiB), aligned maps, purge,
 * RSS, the brk/mapped probes, and the introspection segments (a private
 * directory, the record lock, stale files taken over, live ones refused).
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <slabmalloc.h>
#include "page_alloc.h"
#include "tap.h"

#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

/* os_seg_open and the fcntl lock it holds, in a directory of our own. */
static void test_segments(void)
{
	char base[] = "/tmp/sm-seg.XXXXXX", dir[64], path[96];
	void *map;
	if (!mkdtemp(base)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(dir, sizeof dir, "%s/d", base);
	snprintf(path, sizeof path, "%s/1", dir);
	int fd = os_seg_open(dir, "1", 8192, &map);
	struct stat st;
	ok(fd >= 0 && map && stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700,
	   "os_seg_open creates a 0700 directory");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 8192,
	   "... and a 0600 file of the size asked");
	((char *)map)[100] = 42;

	/* Another process sees our lock, cannot take the file, and maps what
	 * we wrote. */
	pid_t child = fork();
	if (child == 0) {
		int cfd = open(path, O_RDWR);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int seen = cfd >= 0 && fcntl(cfd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK &&
		           fl.l_pid == getppid();
		void *m2;
		int fd2 = os_seg_open(dir, "1", 8192, &m2);
		_exit(seen && fd2 < 0 ? 0 : 1);
	}
	int status = -1;
	waitpid(child, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "another process sees the lock's holder and cannot take a live segment");

	/* Closed (the process gone, or exec'd): the file is stale and the next
	 * opener takes it over, zeroed. */
	os_seg_close(fd, map, 8192);
	fd = os_seg_open(dir, "1", 8192, &map);
	ok(fd >= 0 && ((char *)map)[100] == 0, "a stale segment is taken over, cleared");
	os_seg_close(fd, map, 8192);
	os_seg_unlink(path);
	ok(access(path, F_OK) != 0, "os_seg_unlink removes it");

	/* The sweep: an old unlocked file goes; a fresh one (being created)
	 * and a locked one (a live process's) stay. */
	char old_[128], fresh[128], held[128];
	snprintf(old_, sizeof old_, "%s/11", dir);
	snprintf(fresh, sizeof fresh, "%s/12", dir);
	snprintf(held, sizeof held, "%s/13", dir);
	int a = open(old_, O_CREAT | O_RDWR, 0600), b = open(fresh, O_CREAT | O_RDWR, 0600);
	close(a);
	close(b);
	struct timespec past[2] = { { time(NULL) - 60, 0 }, { time(NULL) - 60, 0 } };
	utimensat(AT_FDCWD, old_, past, 0);
	int up[2], down[2];      /* child -> parent, parent -> child */
	ok(pipe(up) == 0 && pipe(down) == 0, "pipes");
	alarm(30);               /* a regression fails rather than hangs */
	pid_t holder = fork();
	if (holder == 0) {
		void *m;
		int hfd = os_seg_open(dir, "13", 4096, &m);
		char c = hfd >= 0 ? 'y' : 'n';
		close(down[1]);
		write(up[1], &c, 1);
		read(down[0], &c, 1);            /* until the parent is done */
		_exit(0);
	}
	close(down[0]);
	char c = 0;
	read(up[0], &c, 1);
	utimensat(AT_FDCWD, held, past, 0);
	os_seg_sweep(dir, 64);
	ok(access(old_, F_OK) != 0, "os_seg_sweep removes an old unlocked segment");
	ok(access(fresh, F_OK) == 0, "... keeps one created this instant");
	ok(c == 'y' && access(held, F_OK) == 0, "... keeps a live process's");
	close(down[1]);
	waitpid(holder, NULL, 0);
	alarm(0);
	unlink(fresh);
	unlink(held);

	/* A directory that others may enter is refused. */
	chmod(dir, 0777);
	fd = os_seg_open(dir, "2", 8192, &map);
	ok(fd < 0 && map == NULL, "a directory with mode 0777 is refused");
	chmod(dir, 0700);
	rmdir(dir);
	rmdir(base);
}

int main(void)
{
	os_init();
	ok(os_page_size() == 4096, "page size 4096");
	int n = os_ncpus_configured();
	int c = os_cpu_id();
	ok(n >= 1 && c >= 0 && c < 4096, "cpu id %d, %d CPUs configured", c, n);

	cpu_set_t set, old;
	sched_getaffinity(0, sizeof old, &old);
	int first = -1;        /* the last CPU we may run on: not 0 if we can */
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &old))
			first = i;
	CPU_ZERO(&set);
	CPU_SET(first, &set);
	bool pinned = sched_setaffinity(0, sizeof set, &set) == 0;
	sched_yield();
	ok(!pinned || os_cpu_id() == first, "pinned to CPU %d, os_cpu_id agrees (%d)", first,
	   os_cpu_id());
	sched_setaffinity(0, sizeof old, &old);

	uint64_t t0 = os_now_ns();
	os_sleep_ns(2000000);
	uint64_t t1 = os_now_ns();
	ok(t1 >= t0 + 2000000, "os_sleep_ns sleeps, os_now_ns is monotonic");
	uintptr_t r0 = os_random(), r1 = os_random();
	ok(r0 != r1, "os_random gives different values");

	setenv("SM_OS_TEST_VAR", "v=1", 1);
	ok(os_getenv("SM_OS_TEST_VAR") && strcmp(os_getenv("SM_OS_TEST_VAR"), "v=1") == 0 &&
	   os_getenv("SM_OS_TEST") == NULL && os_getenv("SM_OS_TEST_VAR_NOT") == NULL,
	   "os_getenv matches whole names only");

	char *lo = os_reserve_low(8u << 20);
	ok(lo && (uintptr_t)lo + (8u << 20) <= (1ul << 32), "os_reserve_low below 4 GiB (%p)",
	   (void *)lo);
	if (lo) {
		lo[0] = 1;
		os_unmap(lo, 8u << 20);
	}
	char *spot = os_map(8u << 20);
	os_unmap(spot, 8u << 20);
	char *fx = os_map_fixed(spot, 8u << 20);
	errno = 0;
	ok(fx == spot && os_map_fixed(spot + (4u << 20), 8u << 20) == NULL && errno == EEXIST &&
	   fx[(8u << 20) - 1] == 0,
	   "os_map_fixed maps where asked, and never over a mapping (EEXIST)");
	if (fx)
		os_unmap(fx, 8u << 20);
	uintptr_t top = os_user_top();
	ok((top & (top - 1)) == 0 && top > (uintptr_t)&top && top / 2 <= (uintptr_t)&top,
	   "os_user_top is the power of two above the stack (%#lx)", (unsigned long)top);
	size_t vm = os_vm_bytes();
	ok(vm >= os_rss_bytes() && vm > 0 && os_as_limit() > 0,
	   "os_vm_bytes %zu KiB, os_as_limit %zu", vm >> 10, os_as_limit());

	char *al = os_map_aligned(3u << 20, 2u << 20);
	ok(al && ((uintptr_t)al & ((2u << 20) - 1)) == 0, "os_map_aligned to 2 MiB");
	memset(al, 7, 3u << 20);
	size_t rss1 = os_rss_bytes();
	ok(os_purge(al, 3u << 20) == 0 && al[12345] == 0, "os_purge: the next read is zero");
	size_t rss2 = os_rss_bytes();
	ok(rss1 > 0 && rss2 + (2u << 20) <= rss1, "and RSS falls (%zu -> %zu KiB)", rss1 >> 10,
	   rss2 >> 10);
	ok(os_protect_none(al + (2u << 20), 4096) == 0, "os_protect_none");
	os_unmap(al, 3u << 20);
	ok(!os_is_mapped(al) && os_is_mapped(&n), "os_is_mapped: unmapped vs stack");

	uintptr_t blo, bhi;
	os_brk_range(&blo, &bhi);
	ok(blo <= bhi, "os_brk_range [%p, %p)", (void *)blo, (void *)bhi);
	test_segments();
	return done_testing();
}
