/* fork() from a signal handler that interrupted malloc or free. A
 * single-threaded program allocates and frees in a loop (batches that run
 * the magazine, depot, slab, page and huge-mapping slow paths, which take
 * the allocator's locks); an interval timer's SIGALRM handler calls fork()
 * and waits for the child. The handler often runs while the interrupted
 * code holds an allocator lock: the fork handler must not wait for a lock
 * its own thread holds. In the child the interrupted call completes when
 * the handler returns, then the child allocates across the layers and
 * exits 0. A second timer (SIGUSR1, a watchdog) turns a hang into a
 * failure. Built linked with the library and without it, for the preload
 * tier. */
#include "tap.h"
#include "fork_child.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>
#include <sys/wait.h>

enum { FORKS = 1000, WATCHDOG_S = 60, BATCH = 1500 };

static volatile sig_atomic_t in_child;
static volatile sig_atomic_t forks, children_ok, children_bad;
static uint64_t arm_seed = 0x2545f4914f6cdd1dull;

/* One-shot timer, re-armed at the end of each handler with a varying
 * delay, so that the signal lands on varying instructions rather than
 * being pending again at the one it just interrupted. */
static void arm(void)
{
	struct itimerval it = { { 0, 0 }, { 0, 50 + (long)(tap_rand(&arm_seed) % 400) } };
	setitimer(ITIMER_REAL, &it, NULL);
}

/* Fork, and in the parent wait for the child. The child returns from the
 * handler: its interrupted malloc or free completes first, then the main
 * loop sees in_child and runs child_work(). */
static void on_alarm(int sig)
{
	(void)sig;
	int saved = errno;
	if (in_child || forks >= FORKS) {
		errno = saved;
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		in_child = 1;
		errno = saved;
		return;
	}
	forks++;
	if (pid < 0) {
		children_bad++;
	} else {
		int st;
		cur_child = pid;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		cur_child = 0;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			children_ok++;
		else
			children_bad++;
	}
	arm();
	errno = saved;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	fork_watchdog_msg = "not ok 1 - fork from a SIGALRM handler that "
	                    "interrupted malloc/free: timed out (deadlock)\n1..1\n";
	sa.sa_handler = fork_on_watchdog;
	sigaction(SIGUSR1, &sa, NULL);

	/* The watchdog: a POSIX timer, separate from the interval timer. */
	timer_t wd;
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	struct itimerspec wds = { .it_value = { WATCHDOG_S, 0 } };
	if (timer_create(CLOCK_MONOTONIC, &sev, &wd) != 0 ||
	    timer_settime(wd, 0, &wds, NULL) != 0) {
		ok(0, "timer_create: %s", strerror(errno));
		return done_testing();
	}

	arm();

	static void *obj[BATCH];
	uint64_t seed = 88172645463325252ull;
	long bad = 0;
	while (forks < FORKS) {
		/* Batches larger than a magazine: depot and slab slow paths. */
		size_t sz = 16 + tap_rand(&seed) % 2000;
		for (int i = 0; i < BATCH; i++) {
			size_t n = sz;
			if (i % 97 == 0)
				n = 33000 + tap_rand(&seed) % 300000;      /* buddy pages */
			else if (i % 499 == 0)
				n = (5 << 20) + tap_rand(&seed) % 100000; /* a mapping */
			obj[i] = malloc(n);
			if (!obj[i])
				bad++;
			else
				*(volatile char *)obj[i] = (char)i;
			if (in_child)
				child_work();
		}
		for (int i = 0; i < BATCH; i++) {
			free(obj[i]);
			if (in_child)
				child_work();
		}
		if (in_child)
			child_work();
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	timer_delete(wd);

	ok(children_bad == 0 && children_ok == FORKS,
	   "%d forks from a SIGALRM handler interrupting malloc/free: "
	   "every child completes the interrupted call, allocates and exits 0 "
	   "(%d failed)", FORKS, (int)children_bad);
	ok(bad == 0, "the interrupted program's allocations all succeeded");
	return done_testing();
}
