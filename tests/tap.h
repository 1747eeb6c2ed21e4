/* SPDX-License-Identifier: MIT */
/*
 * tap.h — a small TAP producer for slabmalloc's tests. Every ok() prints one
 * "ok N - ..." or "not ok N - ..." line; automake's TAP driver counts them.
 *
 *   ok(cond, "what %s", ...)     one test
 *   diag("...")                  a comment line
 *   expect_death(fn, arg, "substring")
 *                                run fn(arg) in a child; pass if the child
 *                                dies by SIGABRT and its stderr contains the
 *                                substring
 *   done_testing()               prints the plan; returns the exit status
 *   tap_rand(&state)             the next number of a xorshift64 stream
 */
#ifndef SM_TESTS_TAP_H
#define SM_TESTS_TAP_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>

static int tap_n, tap_failed;

/* xorshift64 (13, 7, 17): a reproducible stream from a fixed non-zero
 * seed, the same on every machine. */
static inline uint64_t tap_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

__attribute__((format(printf, 2, 3), unused))
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

__attribute__((format(printf, 1, 2), unused))
static void diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Run fn(arg) in a child process whose stderr goes to @buf (for diag).
 * When fn returns the child ends with exit(0) if @exit_handlers (its
 * destructors and atexit handlers run), else _exit(0); with @limit_s it is
 * killed by SIGALRM after that many seconds. RETURNS: the child's wait
 * status, or -1 if it could not be run. */
__attribute__((unused))
static int run_child(void (*fn)(void *), void *arg, unsigned int limit_s,
                     int exit_handlers, char *buf, size_t buflen)
{
	int pfd[2];
	buf[0] = 0;
	if (pipe(pfd) != 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], 2);
		if (limit_s)
			alarm(limit_s);
		fn(arg);
		if (exit_handlers)
			exit(0);
		_exit(0);
	}
	close(pfd[1]);
	size_t len = 0;
	ssize_t r;
	while (len + 1 < buflen && (r = read(pfd[0], buf + len, buflen - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = 0;
	close(pfd[0]);
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

/* Run fn(arg) in a child process; return 1 if it aborted (SIGABRT) and its
 * stderr contained @expect. The child's stderr is kept in @buf for diag;
 * surviving fails the test. */
__attribute__((unused))
static int run_death(void (*fn)(void *), void *arg, const char *expect,
                     char *buf, size_t buflen)
{
	int st = run_child(fn, arg, 0, 0, buf, buflen);
	return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT &&
	       strstr(buf, expect) != NULL;
}

#define expect_death(fn, arg, expect, ...)                                   \
	do {                                                                 \
		char tap_buf_[4096];                                         \
		int tap_r_ = run_death((fn), (arg), (expect), tap_buf_,     \
		                       sizeof tap_buf_);                    \
		if (!ok(tap_r_, __VA_ARGS__))                                \
			diag("expected abort with \"%s\", stderr was: %s",   \
			     (expect), tap_buf_);                            \
	} while (0)

__attribute__((unused))
static int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif /* SM_TESTS_TAP_H */
