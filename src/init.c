/* SPDX-License-Identifier: MIT */
/*
 * init.c — bringing the layers up, thread attach/exit, fork, and the
 * allocation-free error reporting every layer uses.
 *
 * Initialisation is lazy: the first call that needs the allocator (a malloc,
 * a page allocation) runs sm_init_slow() under sm_init_lock, which brings the
 * layers up bottom-up. Nothing in it allocates through malloc, so it cannot
 * recurse; a thread that re-enters while it initialises (a hook in a lower
 * layer calling malloc) is served from bootmem by the malloc layer.
 * A library constructor also runs the initialisation and registers the fork
 * handlers: pthread_atfork() may allocate, so it is never called from inside
 * malloc.
 *
 * Threads: the first slow path of a thread calls sm_thread_attach(), which
 * arms a pthread key whose destructor returns the thread's magazines to the
 * depots and its page lists to the buddy allocator. After that the thread
 * is marked exiting, and its later calls (other TLS destructors that free)
 * bypass the per-thread caches.
 *
 * Fork: the prepare handler takes every lock in the order of internal.h;
 * the parent releases them; the child re-initialises them (only the forking
 * thread exists in the child, so the state they protect is consistent).
 */
#include "slab_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sm_initialized;
SM_TLS int sm_thread_state;

static pthread_mutex_t sm_init_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t sm_thread_key;
static int sm_init_running;

/* ---- allocation-free formatting ---- */

static size_t fmt_u(char *b, unsigned long long v, unsigned base)
{
	char tmp[24];
	size_t n = 0, i;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	for (i = 0; i < n; i++)
		b[i] = tmp[n - 1 - i];
	return n;
}

/* printf subset: flags '-' and '0', a width, length l/ll/z, and the
 * conversions s c d u x p %. */
static size_t sm_vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
	size_t n = 0;
#define PUT(c) do { if (n + 1 < cap) buf[n++] = (c); } while (0)
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			PUT(*f);
			continue;
		}
		f++;
		bool left = false, zero = false;
		for (;; f++) {
			if (*f == '-')
				left = true;
			else if (*f == '0')
				zero = true;
			else
				break;
		}
		size_t width = 0;
		while (*f >= '0' && *f <= '9')
			width = width * 10 + (size_t)(*f++ - '0');
		int lng = 0;
		while (*f == 'l') {
			lng++;
			f++;
		}
		if (*f == 'z') {
			lng = 1;
			f++;
		}
		char num[32];
		const char *str = num;
		size_t k = 0;
		switch (*f) {
		case 's':
			str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			k = strlen(str);
			break;
		case 'c':
			num[0] = (char)va_arg(ap, int);
			k = 1;
			break;
		case 'd': {
			long long v = lng ? va_arg(ap, long) : va_arg(ap, int);
			unsigned long long u = (unsigned long long)v;
			if (v < 0) {
				num[k++] = '-';
				u = -u;
			}
			k += fmt_u(num + k, u, 10);
			break;
		}
		case 'u':
			k = fmt_u(num, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10);
			break;
		case 'x':
			k = fmt_u(num, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16);
			break;
		case 'p':
			num[0] = '0';
			num[1] = 'x';
			k = 2 + fmt_u(num + 2, (uintptr_t)va_arg(ap, void *), 16);
			break;
		case '%':
			PUT('%');
			continue;
		default:
			PUT('?');
			continue;
		}
		if (!left)
			for (size_t i = k; i < width; i++)
				PUT(zero ? '0' : ' ');
		for (size_t i = 0; i < k; i++)
			PUT(str[i]);
		if (left)
			for (size_t i = k; i < width; i++)
				PUT(' ');
	}
#undef PUT
	buf[n] = 0;
	return n;
}

static void sm_write_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		b += w;
		n -= (size_t)w;
	}
}

void sm_dprintf(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	size_t n = sm_vformat(buf, sizeof buf, fmt, ap);
	va_end(ap);
	sm_write_all(fd, buf, n);
}

void sm_warn(const char *fmt, ...)
{
	char buf[1024];
	int saved = errno;
	memcpy(buf, "slabmalloc: ", 12);
	va_list ap;
	va_start(ap, fmt);
	size_t n = 12 + sm_vformat(buf + 12, sizeof buf - 13, fmt, ap);
	va_end(ap);
	buf[n++] = '\n';
	sm_write_all(2, buf, n);
	errno = saved;
}

void sm_fatal(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	size_t n = sm_vformat(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	buf[n++] = '\n';
	sm_write_all(2, buf, n);
	abort();
}

void sm_assert_fail(const char *expr, const char *file, int line)
{
	sm_fatal("slabmalloc: assertion failed: %s (%s:%d)", expr, file, line);
}

/* ---- threads ---- */

static void sm_thread_destructor(void *arg)
{
	(void)arg;
	sm_thread_state = SM_THREAD_EXITING;
	sm_thread_exit_layers();
}

void sm_thread_attach(void)
{
	if (sm_thread_state != SM_THREAD_NEW)
		return;
	sm_ensure_init();
	sm_thread_state = SM_THREAD_ATTACHED;
	pthread_setspecific(sm_thread_key, (void *)1);
}

/* ---- initialisation ---- */

void sm_init_slow(void)
{
	pthread_mutex_lock(&sm_init_lock);
	if (!sm_initialized && !sm_init_running) {
		sm_init_running = 1;
		os_init();
		pthread_key_create(&sm_thread_key, sm_thread_destructor);
		sm_init_layers();
		__atomic_store_n(&sm_initialized, 1, __ATOMIC_RELEASE);
		sm_init_running = 0;
	}
	pthread_mutex_unlock(&sm_init_lock);
}

bool sm_init_in_progress(void)
{
	return __atomic_load_n(&sm_init_running, __ATOMIC_RELAXED) != 0;
}

/* ---- fork ---- */

static void sm_prefork(void)
{
	pthread_mutex_lock(&sm_init_lock);
	sm_prefork_layers();
}

static void sm_postfork_parent(void)
{
	sm_postfork_parent_layers();
	pthread_mutex_unlock(&sm_init_lock);
}

static void sm_postfork_child(void)
{
	sm_postfork_child_layers();
	pthread_mutex_init(&sm_init_lock, NULL);
}

__attribute__((constructor(101)))
static void sm_constructor(void)
{
	sm_ensure_init();
	pthread_atfork(sm_prefork, sm_postfork_parent, sm_postfork_child);
}
