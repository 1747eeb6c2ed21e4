/* SPDX-License-Identifier: MIT */
/*
 * smi_target — a multi-threaded program, unmodified (it knows nothing of
 * slabmalloc), for the introspection tests: run under LD_PRELOAD, it reads
 * one command a line from stdin and answers "ready N" when done, so that
 * between commands it is idle (blocked in read, no allocator call).
 *
 *   alloc N    each of the 4 threads mallocs N objects of 200 bytes (kept)
 *   free       the threads free them
 *   big MB     MB MiB in 256 KiB blocks, written, kept
 *   freebig    free them
 *   fork       fork a child that mallocs, prints "child PID" and waits for
 *              "reap" (its stdin is a pipe from this process)
 *   reap       let the child exit and wait for it
 *   quit
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NTHREADS 4

static void **objs[NTHREADS];
static long nobjs;
static int do_free;

static void *worker(void *arg)
{
	long t = (long)arg;
	if (do_free) {
		for (long i = 0; i < nobjs; i++)
			free(objs[t][i]);
		free(objs[t]);
		objs[t] = NULL;
	} else {
		objs[t] = malloc((size_t)nobjs * sizeof(void *));
		for (long i = 0; i < nobjs; i++) {
			objs[t][i] = malloc(200);
			memset(objs[t][i], (int)i, 200);
		}
	}
	return NULL;
}

static void run_threads(void)
{
	pthread_t th[NTHREADS];
	for (long t = 0; t < NTHREADS; t++)
		pthread_create(&th[t], NULL, worker, (void *)t);
	for (long t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
}

int main(void)
{
	char line[128];
	void **big = NULL;
	long nbig = 0;
	int pipefd[2] = { -1, -1 };
	pid_t child = -1;
	long seq = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %ld\n", seq++);
	while (fgets(line, sizeof line, stdin)) {
		long n = 0;
		if (sscanf(line, "alloc %ld", &n) == 1) {
			nobjs = n;
			do_free = 0;
			run_threads();
		} else if (strncmp(line, "freebig", 7) == 0) {
			for (long i = 0; i < nbig; i++)
				free(big[i]);
			free(big);
			big = NULL;
			nbig = 0;
		} else if (strncmp(line, "free", 4) == 0) {
			do_free = 1;
			run_threads();
		} else if (sscanf(line, "big %ld", &n) == 1) {
			nbig = n * 4;
			big = malloc((size_t)nbig * sizeof(void *));
			for (long i = 0; i < nbig; i++) {
				big[i] = malloc(256 * 1024);
				memset(big[i], 1, 256 * 1024);
			}
		} else if (strncmp(line, "fork", 4) == 0) {
			if (pipe(pipefd) != 0)
				return 1;
			child = fork();
			if (child == 0) {
				close(pipefd[1]);
				void *p[1000];
				for (int i = 0; i < 1000; i++)
					p[i] = malloc(300);
				for (int i = 0; i < 1000; i++)
					free(p[i]);
				printf("child %d\n", (int)getpid());
				char c;
				while (read(pipefd[0], &c, 1) > 0)
					;
				exit(0);
			}
			close(pipefd[0]);
			/* the child's line first, then ours */
			usleep(1000);
		} else if (strncmp(line, "reap", 4) == 0) {
			close(pipefd[1]);
			waitpid(child, NULL, 0);
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		}
		printf("ready %ld\n", seq++);
	}
	return 0;
}
