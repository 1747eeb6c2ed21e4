/* SPDX-License-Identifier: MIT */
/*
 * report.c — the allocation-free error reporting every layer uses:
 * sm_fatal (one line, then abort), sm_warn (one line prefixed
 * "slabmalloc: "), sm_dprintf (formatted write to a file descriptor) and
 * the debug-build assertion failure.
 *
 * Base floor (internal.h): it calls nothing of slabmalloc and nothing that
 * allocates, so any layer may report from any state, including inside
 * malloc, before initialisation and in a forked child. The formatter is a
 * printf subset written into a stack buffer (1 KiB; longer messages are
 * truncated), and the buffer goes out with write(2).
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- formatting ---- */

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

void (*sm_fatal_hook)(void);

void sm_fatal(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	size_t n = sm_vformat(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	buf[n++] = '\n';
	sm_write_all(2, buf, n);
	void (*h)(void) = __atomic_load_n(&sm_fatal_hook, __ATOMIC_ACQUIRE);
	if (h)
		h();
	abort();
}

void sm_assert_fail(const char *expr, const char *file, int line)
{
	sm_fatal("slabmalloc: assertion failed: %s (%s:%d)", expr, file, line);
}

