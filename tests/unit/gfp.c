/* The GFP retry policy (gfp.c): what each flag promises when an allocation
 * fails. The reclaim hook is the real one except where a test counts its
 * calls by wrapping it. */
#include "tap.h"
#include "kmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

static size_t (*real_hook)(bool);
static int reclaims, reclaims_os;

static size_t counting_hook(bool may_call_os)
{
	reclaims++;
	reclaims_os += may_call_os;
	return real_hook(may_call_os);
}

/* Run gfp_retry until it gives up (at most @cap attempts); returns the
 * number of retries granted. Captures whether a warning was printed. */
static int retries(gfp_t gfp, int cap, int *warned)
{
	char path[] = "/tmp/sm-gfp-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	dup2(fd, 2);
	unsigned int attempt = 0;
	int n = 0;
	reclaims = reclaims_os = 0;
	while (n < cap && gfp_retry(gfp, &attempt, "test_alloc", 123))
		n++;
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char buf[512] = "";
	lseek(fd, 0, SEEK_SET);
	ssize_t r = read(fd, buf, sizeof buf - 1);
	buf[r > 0 ? r : 0] = 0;
	close(fd);
	unlink(path);
	*warned = strstr(buf, "test_alloc: allocation failure: size 123") != NULL;
	return n;
}

int main(void)
{
	int warned;
	sm_ensure_init();
	real_hook = sm_reclaim_hook;
	ok(real_hook != NULL, "the slab layer installed the reclaim hook");
	sm_reclaim_hook = counting_hook;

	ok(retries(GFP_ATOMIC, 10, &warned) == 0 && reclaims == 0 && warned,
	   "GFP_ATOMIC: no retry, no reclaim, a warning");
	ok(retries(GFP_ATOMIC | __GFP_NOWARN, 10, &warned) == 0 && !warned,
	   "__GFP_NOWARN: no warning");
	ok(retries(GFP_KERNEL | __GFP_NORETRY, 10, &warned) == 0 && reclaims == 0,
	   "__GFP_NORETRY: fails at once, without reclaim");
	ok(retries(GFP_KERNEL, 10, &warned) == 1 && reclaims == 1 && reclaims_os == 1 && warned,
	   "GFP_KERNEL: one reclaim (which may call the OS), one retry, then a warning");
	ok(retries(GFP_NOFS, 10, &warned) == 1 && reclaims == 1 && reclaims_os == 0,
	   "GFP_NOFS: reclaim that does not call back into the OS");
	ok(retries(GFP_NOIO, 10, &warned) == 1 && reclaims == 1 && reclaims_os == 0,
	   "GFP_NOIO: reclaim that does not call back into the OS");
	int rep = retries(GFP_KERNEL | __GFP_REPEAT, 10, &warned);
	ok(rep > 1 && rep < 10 && reclaims == rep, "__GFP_REPEAT: retries harder (%d), then fails", rep);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int nf = retries(GFP_KERNEL | __GFP_NOFAIL, 20, &warned);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	ok(nf == 20 && !warned, "__GFP_NOFAIL: never gives up (20 of 20 retries granted)");
	ok(ms >= 1.0, "__GFP_NOFAIL backs off between attempts (%.1f ms for 20)", ms);
	sm_reclaim_hook = real_hook;

	/* kmalloc with __GFP_NOFAIL succeeds while fault injection fails every
	 * other call; without it the call fails. */
	ok(slabmalloc_config("fail_slab=interval=1:times=-1") == 0, "fail every slab allocation");
	void *f = slabmalloc_kmalloc(64, GFP_KERNEL | __GFP_NOWARN);
	void *nfp = slabmalloc_kmalloc(64, GFP_KERNEL | __GFP_NOFAIL);
	ok(f == NULL && nfp != NULL, "kmalloc fails, kmalloc(__GFP_NOFAIL) succeeds");
	/* Through a volatile pointer: compilers may drop an unused malloc. */
	void *(*volatile malloc_fn)(size_t) = malloc;
	void *mf = malloc_fn(100);
	ok(mf == NULL && errno == ENOMEM, "malloc fails with ENOMEM under fail_slab");
	ok(slabmalloc_config("fail_slab=off") == 0, "fault injection off again");
	void *ok_after = malloc(100);
	ok(ok_after != NULL, "malloc works again");
	free(ok_after);
	slabmalloc_kfree(nfp);
	return done_testing();
}
