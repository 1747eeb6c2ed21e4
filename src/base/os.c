/* SPDX-License-Identifier: MIT */
/*
 * os.c — the OS layer: the only file of slabmalloc that makes system calls
 * (mimalloc's prim.h idea: every OS service behind one small contract, see
 * the "OS layer" section of internal.h).
 *
 * Theory.
 *
 *  1. Mappings. os_map() is a plain anonymous private mapping (zeroed by the
 *     kernel). os_map_fixed() maps at an address the caller chose, with
 *     MAP_FIXED_NOREPLACE, which never clobbers an existing mapping (EEXIST
 *     instead; kernels older than 4.17 ignore the flag and treat the
 *     address as a hint, so the result is checked and released when it is
 *     not where we asked): the buddy allocator grows its zones and their
 *     mem_maps this way, section by section, at addresses it set aside
 *     without mapping them. os_reserve_low() maps read-write with
 *     MAP_NORESERVE below 4 GiB (bootmem's low regions): MAP_32BIT first
 *     (it gives the first 2 GiB), then fixed hint addresses between 1 GiB
 *     and 4 GiB with MAP_FIXED_NOREPLACE. Every result of os_reserve_low()
 *     is verified to end at or below 4 GiB.
 *
 *  2. Returning memory. os_purge() is madvise(MADV_DONTNEED): the pages stay
 *     mapped and the next touch reads zeros, which is what lets the buddy
 *     allocator mark a purged block "clean" and skip memset for __GFP_ZERO.
 *
 *  3. CPU id. glibc >= 2.35 registers rseq for every thread; the kernel
 *     keeps rseq->cpu_id current, so reading it is one load from the thread
 *     pointer (__rseq_offset). When rseq is not registered (older glibc,
 *     GLIBC_TUNABLES=glibc.pthread.rseq=0) we fall back to sched_getcpu().
 *
 *  4. Early use. Everything here works before os_init() (bootmem calls
 *     os_map before the allocator initialises, from other libraries'
 *     constructors): os_init() only caches values that are otherwise looked
 *     up on demand, and nothing here allocates. os_getenv() scans `environ`
 *     directly. os_rss_bytes() reads /proc/self/statm with open/read, no
 *     stdio.
 *
 *  5. Address-space probes for the buddy allocator. os_user_top() is the
 *     power of two above the initial stack (AT_RANDOM points into it): the
 *     size of the user address space (2^47 on x86-64 with 4-level paging,
 *     and with 5-level paging unless a program asks for more), which tells
 *     where the kernel puts ordinary mappings (near the top, growing down;
 *     from a third or a quarter of it up in the legacy layout) and so where
 *     it does not. os_as_limit() is RLIMIT_AS, read on each call because a
 *     program may lower it at any time; os_vm_bytes() is the mapped total
 *     (VmSize) from /proc/self/statm. Read-only views of one set of pages
 *     (os_map_shared, os_seal, os_alias) let the buddy allocator show the
 *     descriptors of memory that holds nothing (free sections, the window
 *     past the grown part) as one shared template that costs no RSS;
 *     os_move() gives such a range private pages again, written first.
 *
 *  6. Probes for the malloc layer. os_brk_range() gives the program break's
 *     range (start_brk from /proc/self/stat, read once; the current break
 *     from sbrk(0)), where glibc's main arena lives; os_is_mapped() asks
 *     mincore() whether an address's page is mapped, without touching it.
 *
 *  6. Shared segments and futexes, for the introspection service
 *     (top/introspect.c): os_seg_open() creates or takes over a file in a
 *     directory private to the user, locks it with fcntl (a lock that
 *     belongs to the process, so other processes can tell a live file from
 *     a stale one) and maps it shared; os_futex_wait/wake work on words of
 *     such a mapping across processes.
 *
 *  Locks: none. Fork: nothing to do (os_random's state is per process and
 *  re-mixed with the clock on each call, so parent and child diverge).
 *
 * Floor 0 (src/layers.txt): calls only the C library and the kernel.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <sys/resource.h>
#ifdef HAVE_SYS_RSEQ_H
#include <sys/rseq.h>
#endif

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define OS_4GIB ((uintptr_t)1 << 32)

extern char **environ;

static long os_pagesz;                 /* cached by os_init/os_page_size */
static long os_ncpus;                  /* cached by os_init/os_ncpus_configured */
static uint64_t os_rand_state;         /* splitmix64 state */

/* sysconf(@name), or @fallback if it has none, read once into @cache. */
static long os_sysconf_cached(long *cache, int name, long fallback)
{
	long v = SM_READ_ONCE(*cache);
	if (unlikely(v == 0)) {
		v = sysconf(name);
		if (v <= 0)
			v = fallback;
		SM_WRITE_ONCE(*cache, v);
	}
	return v;
}

size_t os_page_size(void)
{
	return (size_t)os_sysconf_cached(&os_pagesz, _SC_PAGESIZE, 4096);
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = __atomic_add_fetch(state, 0x9e3779b97f4a7c15ull, __ATOMIC_RELAXED);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void os_seed_random(void)
{
	uint64_t seed = 0x2545f4914f6cdd1dull;
	const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
	if (r) {
		uint64_t a, b;
		memcpy(&a, r, 8);
		memcpy(&b, r + 8, 8);
		seed ^= a ^ (b << 1);
	}
	seed ^= os_now_ns();
	seed ^= (uint64_t)(uintptr_t)&seed;   /* stack ASLR */
	__atomic_store_n(&os_rand_state, seed, __ATOMIC_RELAXED);
}

void os_init(void)
{
	(void)os_page_size();
	(void)os_ncpus_configured();
	if (__atomic_load_n(&os_rand_state, __ATOMIC_RELAXED) == 0)
		os_seed_random();
}

void *os_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void *os_map_fixed(void *addr, size_t size)
{
	void *p = mmap(addr, size, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (p != addr) {             /* old kernel: the address was a hint */
		munmap(p, size);
		errno = EEXIST;
		return NULL;
	}
	return p;
}

/*
 * Read-only views of one set of pages (theory 5): os_map_shared() maps
 * @size bytes of shared anonymous memory, read-write until os_seal() makes
 * it read-only; os_alias() puts a view of @size bytes of it, from @src on,
 * at @addr, replacing what the caller had mapped there (mremap with an old
 * size of 0 maps the same pages again); the view is read-only like its
 * source, and untouched it costs no RSS. os_move() moves the private
 * mapping @src (of @size bytes) over the range at @dst, which the caller
 * has mapped, in one step: another thread sees the old pages or the
 * moved ones, never a hole or zeros.
 */
void *os_map_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

bool os_seal(void *addr, size_t size)
{
	return mprotect(addr, size, PROT_READ) == 0;
}

bool os_alias(void *addr, const void *src, size_t size)
{
	void *p = mremap((void *)src, 0, size, MREMAP_MAYMOVE | MREMAP_FIXED, addr);
	return p == addr;
}

bool os_move(void *dst, void *src, size_t size)
{
	void *p = mremap(src, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	return p == dst;
}

uintptr_t os_user_top(void)
{
	uintptr_t a = (uintptr_t)getauxval(AT_RANDOM);
	if (!a)
		a = (uintptr_t)__builtin_frame_address(0);
	unsigned int bits = 64 - (unsigned int)__builtin_clzl(a | 1);
	return bits >= 64 ? ~(uintptr_t)0 : (uintptr_t)1 << bits;
}

size_t os_as_limit(void)
{
	struct rlimit rl;
	int saved = errno;
	int r = getrlimit(RLIMIT_AS, &rl);
	errno = saved;
	if (r != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= SIZE_MAX)
		return SIZE_MAX;
	return (size_t)rl.rlim_cur;
}

/* Accept @p as a low mapping of @size, or release it. */
static void *os_keep_if_low(void *p, size_t size)
{
	if (p == MAP_FAILED)
		return NULL;
	if ((uintptr_t)p + size <= OS_4GIB)
		return p;
	munmap(p, size);
	return NULL;
}

void *os_reserve_low(size_t size)
{
	const int prot = PROT_READ | PROT_WRITE;
	const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void *p;

	if (size == 0 || size > OS_4GIB - ((uintptr_t)1 << 30))
		goto nomem;
#ifdef MAP_32BIT
	p = os_keep_if_low(mmap(NULL, size, prot, flags | MAP_32BIT, -1, 0), size);
	if (p)
		return p;
#endif
	/* Hints from 1 GiB up, in steps of the request (at least 64 MiB), so a
	 * few dozen tries cover the range below 4 GiB. */
	size_t step = size > ((size_t)64 << 20) ? SM_ALIGN_UP(size, (size_t)64 << 20)
	                                        : ((size_t)64 << 20);
	for (uintptr_t hint = (uintptr_t)1 << 30; hint + size <= OS_4GIB; hint += step) {
		p = mmap((void *)hint, size, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED)
			continue;
		if ((uintptr_t)p == hint)
			return os_keep_if_low(p, size);
		munmap(p, size);          /* old kernel: the hint was ignored */
	}
nomem:
	errno = ENOMEM;
	return NULL;
}

void *os_map_aligned(size_t size, size_t align)
{
	size_t page = os_page_size();
	if (align <= page)
		return os_map(size);
	if (size + align < size) {
		errno = ENOMEM;
		return NULL;
	}
	char *p = os_map(size + align);
	if (!p)
		return NULL;
	uintptr_t start = SM_ALIGN_UP((uintptr_t)p, align);
	size_t head = start - (uintptr_t)p;
	size_t tail = align - head;
	if (head)
		munmap(p, head);
	if (tail)
		munmap((char *)start + size, tail);
	return (void *)start;
}

int os_unmap(void *addr, size_t size)
{
	return munmap(addr, size);
}

int os_purge(void *addr, size_t size)
{
	int r;
	do {
		r = madvise(addr, size, MADV_DONTNEED);
	} while (r != 0 && errno == EAGAIN);
	return r;
}

int os_protect_none(void *addr, size_t size)
{
	return mprotect(addr, size, PROT_NONE);
}

int os_protect_rw(void *addr, size_t size)
{
	return mprotect(addr, size, PROT_READ | PROT_WRITE);
}

/* Install @fn as the SIGSEGV handler (SA_SIGINFO), the old one in @old;
 * or, with @fn NULL, put @old back. */
int os_segv_handler(void (*fn)(int, siginfo_t *, void *), struct sigaction *old)
{
	if (!fn)
		return sigaction(SIGSEGV, old, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fn;
	/* SA_ONSTACK: a thread with an alternate signal stack (a stack-overflow
	 * handler of the program) still reaches the handler, which passes
	 * faults that are not its own to the previous one. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSEGV, &sa, old);
}

void *os_remap(void *old, size_t old_size, size_t new_size)
{
	void *p = mremap(old, old_size, new_size, MREMAP_MAYMOVE);
	return p == MAP_FAILED ? NULL : p;
}

void *os_map_phys(int fd, unsigned long offset, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	               (off_t)offset);
	return p == MAP_FAILED ? NULL : p;
}

int os_open_devmem(void)
{
	int fd;
	do {
		fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	return fd;
}

int os_pipe_nonblock(int fds[2])
{
	return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
}

ssize_t os_read(int fd, void *buf, size_t len)
{
	ssize_t r;
	do
		r = read(fd, buf, len);
	while (r < 0 && errno == EINTR);
	return r;
}

void os_close(int fd)
{
	int saved = errno;
	close(fd);
	errno = saved;
}

int os_cpu_id(void)
{
#if defined(HAVE_SYS_RSEQ_H) && defined(RSEQ_SIG)
	if (likely(__rseq_size > 0)) {
		const struct rseq *rs = (const struct rseq *)
			((char *)__builtin_thread_pointer() + __rseq_offset);
		int cpu = (int)SM_READ_ONCE(rs->cpu_id);
		if (likely(cpu >= 0))
			return cpu;
	}
#endif
#ifdef HAVE_SCHED_GETCPU
	int c = sched_getcpu();
	return c >= 0 ? c : 0;
#else
	return 0;
#endif
}

int os_ncpus_configured(void)
{
	return (int)os_sysconf_cached(&os_ncpus, _SC_NPROCESSORS_CONF, 1);
}

uint64_t os_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int os_getpid(void)
{
	return (int)getpid();
}

int os_gettid(void)
{
	return (int)gettid();
}

/* CLOCK_MONOTONIC_COARSE: the last tick's time (a few ms of resolution),
 * read without the TSC: for rate limits on slow paths. */
uint64_t os_now_coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void os_yield(void)
{
	sched_yield();
}

void os_sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
	int saved = errno;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	errno = saved;
}

uintptr_t os_random(void)
{
	if (unlikely(__atomic_load_n(&os_rand_state, __ATOMIC_RELAXED) == 0))
		os_seed_random();
	return (uintptr_t)splitmix64(&os_rand_state);
}

const char *os_getenv(const char *name)
{
	char **env = environ;
	size_t len = strlen(name);
	if (!env)
		return NULL;
	for (; *env; env++) {
		if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
			return *env + len + 1;
	}
	return NULL;
}

/* Read a small /proc file into @buf (NUL-terminated) with open/read, no
 * stdio; errno is left as it was. RETURNS: false if it cannot be opened. */
static bool os_read_proc(const char *path, char *buf, size_t cap)
{
	size_t n = 0;
	int saved = errno;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errno = saved;
		return false;
	}
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	errno = saved;
	buf[n] = 0;
	return true;
}

/* Field @field (0: size, 1: resident) of /proc/self/statm, in bytes. */
static size_t os_statm_bytes(int field)
{
	char buf[128];
	if (!os_read_proc("/proc/self/statm", buf, sizeof buf))
		return 0;
	/* "size resident shared text lib data dt", in pages. */
	const char *s = buf;
	for (int f = 0; f < field; f++) {
		while (*s && *s != ' ')
			s++;
		while (*s == ' ')
			s++;
	}
	size_t pages = 0;
	for (; *s >= '0' && *s <= '9'; s++)
		pages = pages * 10 + (size_t)(*s - '0');
	return pages * os_page_size();
}

size_t os_rss_bytes(void)
{
	return os_statm_bytes(1);
}

size_t os_vm_bytes(void)
{
	return os_statm_bytes(0);
}

/* start_brk never changes: read it once from /proc/self/stat (field 47). */
static uintptr_t os_start_brk;

static uintptr_t os_read_start_brk(void)
{
	char buf[1024];
	if (!os_read_proc("/proc/self/stat", buf, sizeof buf))
		return 0;
	/* The command name may hold spaces and parentheses: fields are
	 * counted from the last ')'; the next field is number 3. */
	const char *s = strrchr(buf, ')');
	if (!s)
		return 0;
	s++;
	for (int field = 3; field <= 47; field++) {
		while (*s == ' ')
			s++;
		if (!*s)
			return 0;
		if (field == 47) {
			uintptr_t v = 0;
			for (; *s >= '0' && *s <= '9'; s++)
				v = v * 10 + (uintptr_t)(*s - '0');
			return v;
		}
		while (*s && *s != ' ')
			s++;
	}
	return 0;
}

void os_brk_range(uintptr_t *lo, uintptr_t *hi)
{
	uintptr_t start = SM_READ_ONCE(os_start_brk);
	if (unlikely(start == 0)) {
		start = os_read_start_brk();
		SM_WRITE_ONCE(os_start_brk, start);
	}
	void *cur = sbrk(0);
	*lo = start;
	*hi = (cur == (void *)-1 || start == 0) ? start : (uintptr_t)cur;
}

bool os_is_mapped(const void *addr)
{
	unsigned char vec;
	void *page = (void *)SM_ALIGN_DOWN((uintptr_t)addr, os_page_size());
	int saved = errno;
	bool mapped = mincore(page, os_page_size(), &vec) == 0;
	errno = saved;
	return mapped;
}

/* ---- shared segments and futexes (the introspection service) ----
 *
 * os_seg_open() creates (or takes over) the file @name in the directory
 * @dir, both private to the effective user (0700 and 0600; a directory
 * that exists with another owner or wider modes is refused), holds a
 * whole-file write lock on it (fcntl F_SETLK: it belongs to this process,
 * is not inherited by fork and is released by exec or exit, so other
 * processes can tell a live segment from a stale one), sizes it and maps it
 * shared. A file that exists unlocked is a stale one (a previous process
 * with the same pid, or this pid before an exec): it is taken over. The
 * descriptor is close-on-exec. RETURNS: the descriptor, or -1. */
int os_seg_open(const char *dir, const char *name, size_t size, void **map)
{
	int saved = errno;
	int fd = -1, dfd = -1;
	struct stat st;
	*map = NULL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		goto out;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) != 0 || st.st_uid != geteuid() ||
	    (st.st_mode & 077))
		goto out;
	fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		goto out;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETLK, &fl) != 0 || ftruncate(fd, 0) != 0 ||
	    ftruncate(fd, (off_t)size) != 0)
		goto fail;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	*map = p;
	goto out;
fail:
	close(fd);
	fd = -1;
out:
	if (dfd >= 0)
		close(dfd);
	errno = saved;
	return fd;
}

/* Remove the stale segments of @dir (see os_seg_open), looking at @max
 * entries at most: regular files of the effective user, unchanged for 2 s
 * (a live process locks its file as soon as it has created it) and locked
 * by no one. The caller must hold no segment lock in @dir: closing a
 * descriptor of a file drops the caller's own locks on it. Reads the
 * directory with getdents64 into a stack buffer: nothing is allocated. */
void os_seg_sweep(const char *dir, unsigned int max)
{
	int saved = errno;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		goto out;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	char buf[4096] __attribute__((aligned(8)));
	unsigned int seen = 0;
	long n;
	while (seen < max && (n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n && seen < max;) {
			struct { uint64_t ino; int64_t off; unsigned short reclen;
			         unsigned char type; char name[]; } *d = (void *)(buf + off);
			off += d->reclen;
			if (d->name[0] < '0' || d->name[0] > '9')
				continue;
			seen++;
			int fd = openat(dfd, d->name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
			if (fd < 0)
				continue;
			struct stat st;
			struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
			    st.st_mtime + 2 < now.tv_sec &&
			    fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK)
				unlinkat(dfd, d->name, 0);
			close(fd);
		}
	}
	close(dfd);
out:
	errno = saved;
}

/* Close a segment (the lock goes with the descriptor) and replace its
 * shared mapping by private zero pages at the same address: code that was
 * interrupted while writing to it (a fork from a signal handler) carries on
 * into memory of its own, harmlessly, rather than fault or write into
 * another process's segment. Async-signal-safe. */
void os_seg_close(int fd, void *map, size_t size)
{
	int saved = errno;
	if (map)
		mmap(map, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (fd >= 0)
		close(fd);
	errno = saved;
}

void os_seg_unlink(const char *path)
{
	int saved = errno;
	unlink(path);
	errno = saved;
}

/* Wait while *@addr == @val on a futex shared between processes (the word
 * is in a MAP_SHARED mapping, so no FUTEX_PRIVATE_FLAG). Spurious wake-ups
 * are the caller's to handle. */
void os_futex_wait(uint32_t *addr, uint32_t val)
{
	int saved = errno;
	syscall(SYS_futex, addr, FUTEX_WAIT, val, NULL, NULL, 0);
	errno = saved;
}

void os_futex_wake(uint32_t *addr)
{
	int saved = errno;
	syscall(SYS_futex, addr, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
	errno = saved;
}

unsigned int os_geteuid(void)
{
	return (unsigned int)geteuid();
}
