/* SPDX-License-Identifier: MIT */
/*
 * fork_child.h — the work of a forked child in the fork tests: it
 * allocates across the layers (slab sizes, pages, a huge mapping), checks
 * the bytes and exits 0 (3: an allocation failed, 4: a byte was wrong);
 * and the watchdog that turns a deadlock into a failure: a test sets
 * fork_watchdog_msg (its TAP lines), keeps the child it waits for in
 * cur_child, and installs fork_on_watchdog for its timer's signal, which
 * kills that child, prints the message and exits 1.
 */
#ifndef SM_TESTS_FORK_CHILD_H
#define SM_TESTS_FORK_CHILD_H

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile pid_t cur_child;
static const char *fork_watchdog_msg;

static void fork_on_watchdog(int sig)
{
	(void)sig;
	if (cur_child > 0)
		kill(cur_child, SIGKILL);
	if (write(1, fork_watchdog_msg, strlen(fork_watchdog_msg)) < 0)
		_exit(2);
	_exit(1);
}

static void child_work(void)
{
	static void *p[256];
	int bad = 0;
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 256; i++) {
			size_t n = (size_t)(i * 131 + 1) % 3000 + 1;
			if (i % 64 == 0)
				n = 40000 + (size_t)i * 1000;
			p[i] = malloc(n);
			if (!p[i])
				_exit(3);
			memset(p[i], i, n < 64 ? n : 64);
		}
		for (int i = 0; i < 256; i++) {
			if (((unsigned char *)p[i])[0] != (unsigned char)i)
				bad = 1;
			free(p[i]);
		}
	}
	char *h = malloc(8 << 20);
	if (!h)
		_exit(3);
	h[0] = h[(8 << 20) - 1] = 1;
	free(h);
	_exit(bad ? 4 : 0);
}

#endif
