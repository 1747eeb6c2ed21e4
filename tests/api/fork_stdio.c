/* fork() against the C library's stdio locks. One thread forks in a loop,
 * one reads a 50 000-byte line with getline() (which reallocates while it
 * holds the FILE lock), one calls fflush(NULL) in a loop (the stdio list
 * lock, then each FILE lock). The C library's fork() takes the stdio list
 * lock itself; an allocator whose fork handler held its own locks while
 * fork() waited for that lock would deadlock with the other two threads.
 * Every child must be able to allocate and exit 0. A watchdog alarm turns
 * a hang into a failure. Built linked with the library (shared and static)
 * and without it, for the preload tier. */
#include "tap.h"
#include "fork_child.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

enum { LINE_LEN = 50000, FORKS = 400, WATCHDOG_S = 60 };

static volatile int stop;
static FILE *line_file;

/* Reads the long line again and again: getline grows its buffer by
 * realloc while it holds the FILE lock. */
static void *reader(void *arg)
{
	long *bad = arg;
	while (!stop) {
		char *buf = NULL;
		size_t cap = 0;
		if (fseek(line_file, 0, SEEK_SET) != 0)
			(*bad)++;
		ssize_t n = getline(&buf, &cap, line_file);
		if (n != LINE_LEN + 1 || buf[0] != 'x' || buf[LINE_LEN - 1] != 'x')
			(*bad)++;
		free(buf);
	}
	return NULL;
}

/* The stdio list lock, then every FILE lock, in a loop. */
static void *flusher(void *arg)
{
	(void)arg;
	while (!stop)
		fflush(NULL);
	return NULL;
}

int main(void)
{
	fork_watchdog_msg = "not ok 1 - fork with getline and fflush(NULL) "
	                    "threads: timed out (deadlock)\n1..1\n";
	signal(SIGALRM, fork_on_watchdog);
	alarm(WATCHDOG_S);

	line_file = tmpfile();
	if (!line_file) {
		ok(0, "tmpfile: %s", strerror(errno));
		return done_testing();
	}
	char *line = malloc(LINE_LEN + 1);
	memset(line, 'x', LINE_LEN);
	line[LINE_LEN] = '\n';
	fwrite(line, 1, LINE_LEN + 1, line_file);
	fflush(line_file);
	free(line);

	long bad_reads = 0;
	pthread_t rd, fl;
	pthread_create(&rd, NULL, reader, &bad_reads);
	pthread_create(&fl, NULL, flusher, NULL);

	int children_ok = 0, children_bad = 0;
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();
		if (pid == 0)
			child_work();
		if (pid < 0) {
			children_bad++;
			continue;
		}
		cur_child = pid;
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		cur_child = 0;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			children_ok++;
		else
			children_bad++;
	}
	stop = 1;
	pthread_join(rd, NULL);
	pthread_join(fl, NULL);
	alarm(0);

	ok(children_bad == 0 && children_ok == FORKS,
	   "%d forks beside a getline thread and an fflush(NULL) thread: "
	   "every child allocates and exits 0 (%d failed)", FORKS, children_bad);
	ok(bad_reads == 0, "getline read the 50000-byte line intact every time");
	fclose(line_file);
	return done_testing();
}
