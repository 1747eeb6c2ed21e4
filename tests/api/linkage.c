/* Linking: built twice, with the shared library and fully static; in both
 * every call of the malloc family must land in slabmalloc, and the options
 * (SLABMALLOC_OPTIONS, stats= at exit, warnings) must work the same. */
#include "tap.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <slabmalloc.h>

void *reallocarray(void *p, size_t n, size_t s);

static void *in_thread(void *arg)
{
	void *p = malloc(100);
	int ours = p && slabmalloc_ksize(p) == 112;
	free(p);
	return (void *)(intptr_t)ours;
}

/* Run this program again as "child" with SLABMALLOC_OPTIONS=@opts; its
 * stderr (at most @cap - 1 bytes) in @err. RETURNS: its exit status, or -1. */
static int run_with_options(const char *opts, char *err, size_t cap)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		setenv("SLABMALLOC_OPTIONS", opts, 1);
		execl("/proc/self/exe", "linkage-child", "child", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < cap && (r = read(fds[0], err + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	err[n] = 0;
	close(fds[0]);
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void options_work(void)
{
	static char err[1 << 16];
	int st = run_with_options("stats=stderr", err, sizeof err);
	ok(st == 0 && strstr(err, "slabinfo - version: 2.1") && strstr(err, "kmalloc-32 ") &&
	   strstr(err, "Node 0, zone") && strstr(err, "HeapGrown:") &&
	   strstr(err, "---- slabmalloc (linkage-child"),
	   "stats=stderr prints slabinfo, buddyinfo and meminfo at exit (status %d)", st);
	st = run_with_options("no_such_option=1", err, sizeof err);
	ok(st == 0 && strstr(err, "unknown option 'no_such_option' ignored"),
	   "an unknown option gets a warning (status %d)", st);
	st = run_with_options("decay_ms=soon,stats=stderr", err, sizeof err);
	ok(st == 0 && strstr(err, "bad value 'soon' for option 'decay_ms'") &&
	   !strstr(err, "slabinfo - version"),
	   "a bad value is an error and nothing of the string is applied (status %d)", st);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "child") == 0) {
		void *p = malloc(30);
		free(p);
		return 0;
	}
	/* 100 bytes is kmalloc-112 here; glibc would give 104 usable bytes. */
	void *p = malloc(100);
	ok(slabmalloc_ksize(p) == 112 && malloc_usable_size(p) == 112, "malloc lands in slabmalloc");
	p = realloc(p, 1000);
	ok(slabmalloc_ksize(p) == 1024, "realloc lands in slabmalloc");
	free(p);
	void *c = calloc(10, 10);
	ok(slabmalloc_ksize(c) == 112, "calloc lands in slabmalloc");
	free(c);
	void *a = aligned_alloc(64, 64), *m = memalign(128, 100), *v = valloc(10), *q = NULL;
	ok(posix_memalign(&q, 256, 10) == 0 && slabmalloc_ksize(a) == 64 &&
	   slabmalloc_ksize(m) == 128 && slabmalloc_ksize(v) >= 4096 && slabmalloc_ksize(q) == 256,
	   "aligned_alloc, memalign, valloc, posix_memalign land in slabmalloc");
	free(a);
	free(m);
	free(v);
	free(q);
	void *r = reallocarray(NULL, 7, 16);
	ok(slabmalloc_ksize(r) == 112, "reallocarray lands in slabmalloc");
	free(r);
	pthread_t t;
	void *res;
	pthread_create(&t, NULL, in_thread, NULL);
	pthread_join(t, &res);
	ok(res != NULL, "malloc in another thread lands in slabmalloc");
	char *s = strdup("a string from libc");
	ok(s && slabmalloc_ksize(s) == 32, "libc's own allocations (strdup) land in slabmalloc");
	free(s);
	options_work();
	return done_testing();
}
