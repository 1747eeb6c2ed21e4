/* API conformance of the malloc family: every function and edge case that
 * glibc documents, run against libslabmalloc linked into the program. */
#include "tap.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <slabmalloc.h>

void *reallocarray(void *p, size_t n, size_t s);
/* glibc's own allocator, still reachable under its internal names. */
void *__libc_malloc(size_t size);
void *__libc_memalign(size_t align, size_t size);
void __libc_free(void *p);
void free_sized(void *p, size_t size);
void free_aligned_sized(void *p, size_t align, size_t size);

static volatile size_t huge_size = SIZE_MAX;   /* defeat constant folding */

static int writable(unsigned char *p, size_t n, unsigned char v)
{
	memset(p, v, n);
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static long statm_rss_pages(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, rss = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss;
}

/* glibc's statistics calls, with glibc's meanings and return values. */
static void statistics_as_glibc(void)
{
	/* mallopt: 1 for every parameter glibc accepts, known or not; 0 only
	 * for an M_MXFAST outside 0 .. 80 * sizeof(size_t) / 4. */
	ok(mallopt(-12345, 1) == 1 && mallopt(12345, 0) == 1 && mallopt(M_TOP_PAD, -1) == 1 &&
	   mallopt(M_MMAP_THRESHOLD, -1) == 1 && mallopt(M_PERTURB, 0) == 1 &&
	   mallopt(M_CHECK_ACTION, 3) == 1 && mallopt(M_ARENA_TEST, 0) == 1,
	   "mallopt returns 1 for the parameters glibc accepts, unknown ones included");
	ok(mallopt(M_MXFAST, 0) == 1 && mallopt(M_MXFAST, 160) == 1 &&
	   mallopt(M_MXFAST, 161) == 0 && mallopt(M_MXFAST, -1) == 0,
	   "mallopt(M_MXFAST) refuses what glibc refuses");

	/* mallinfo2: in use is what the program holds; objects it freed that
	 * sit in magazines and depots are free. */
	enum { N = 100000, SZ = 1000 };
	static void *blk[N];
	struct mallinfo2 before = mallinfo2();
	for (int i = 0; i < N; i++)
		blk[i] = malloc(SZ);
	struct mallinfo2 live = mallinfo2();
	size_t grown = live.uordblks - before.uordblks;
	ok(grown >= (size_t)N * SZ && grown <= (size_t)N * SZ * 11 / 10,
	   "mallinfo2: %d live %d-byte blocks are in use (%zu bytes more)", N, SZ, grown);
	for (int i = 0; i < N; i++)
		free(blk[i]);
	struct mallinfo2 freed = mallinfo2();
	ok(freed.uordblks < before.uordblks + (1u << 20) &&
	   freed.fordblks >= live.fordblks + (size_t)N * SZ,
	   "mallinfo2: once they are freed they are free, not in use (in use %zu -> %zu, "
	   "free %zu -> %zu)", live.uordblks, freed.uordblks, live.fordblks, freed.fordblks);

	/* malloc_stats: real "max mmap" figures. */
	void *huge = malloc(64u << 20);
	free(huge);
	char path[] = "/tmp/sm-stats.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	dup2(fd, 2);
	malloc_stats();
	dup2(saved, 2);
	close(saved);
	char buf[2048] = "";
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	close(fd);
	unlink(path);
	const char *r = strstr(buf, "max mmap regions = "), *b = strstr(buf, "max mmap bytes   = ");
	unsigned long regions = r ? strtoul(r + 19, NULL, 10) : 0;
	unsigned long bytes = b ? strtoul(b + 19, NULL, 10) : 0;
	ok(regions >= 1 && bytes >= (64ul << 20),
	   "malloc_stats prints the most mmapped regions (%lu) and bytes (%lu)", regions, bytes);
}

/* Sizes 0 and 1 at every power-of-two alignment, 1 B .. 2^63: wherever
 * glibc's own memalign gives a block, posix_memalign (from sizeof(void *)),
 * aligned_alloc and memalign must give an aligned one too; elsewhere
 * (alignments larger than the system will map) ENOMEM is allowed. Every
 * block is written and freed. */
static void zero_size_alignment_sweep(void)
{
	int pm_ok = 1, aa_ok = 1, ma_ok = 1;
	unsigned int glibc_max = 0;
	for (unsigned int k = 0; k < 64; k++) {
		size_t al = (size_t)1 << k;
		for (size_t size = 0; size <= 1; size++) {
			void *g = __libc_memalign(al, size);
			int must = g != NULL;
			__libc_free(g);
			if (must && size == 0)
				glibc_max = k;
			if (al >= sizeof(void *)) {
				void *p = (void *)1;
				int r = posix_memalign(&p, al, size);
				if (r == 0 ? ((uintptr_t)p & (al - 1)) || !writable(p, 1, 0x5a)
				           : (must || r != ENOMEM || p != (void *)1)) {
					diag("posix_memalign(2^%u, %zu) -> %d %p", k, size, r, p);
					pm_ok = 0;
				}
				if (r == 0)
					free(p);
			}
			errno = 0;
			void *a = aligned_alloc(al, size);
			if (a ? ((uintptr_t)a & (al - 1)) || !writable(a, 1, 0x5a)
			      : (must || errno != ENOMEM)) {
				diag("aligned_alloc(2^%u, %zu) -> %p (errno %d)", k, size, a, errno);
				aa_ok = 0;
			}
			free(a);
			errno = 0;
			void *m = memalign(al, size);
			if (m ? ((uintptr_t)m & (al - 1)) || !writable(m, 1, 0x5a)
			      : (must || errno != ENOMEM)) {
				diag("memalign(2^%u, %zu) -> %p (errno %d)", k, size, m, errno);
				ma_ok = 0;
			}
			free(m);
		}
	}
	diag("glibc's memalign(align, 0) succeeds up to align 2^%u here", glibc_max);
	ok(glibc_max >= 23, "glibc's memalign serves size 0 at 8 MiB alignment (the sweep is meaningful)");
	ok(pm_ok, "posix_memalign(size 0 and 1) at every alignment glibc serves");
	ok(aa_ok, "aligned_alloc(size 0 and 1) at every alignment glibc serves");
	ok(ma_ok, "memalign(size 0 and 1) at every alignment glibc serves");
}

int main(void)
{
	/* malloc(0) */
	void *a = malloc(0), *b = malloc(0);
	ok(a && b && a != b, "malloc(0) returns unique pointers");
	ok(malloc_usable_size(a) >= 1, "malloc(0) block is usable");
	free(a);
	free(b);
	free(NULL);
	ok(1, "free(NULL) is a no-op");

	/* realloc edge cases */
	char *r = realloc(NULL, 100);
	ok(r != NULL && malloc_usable_size(r) >= 100, "realloc(NULL, n) is malloc(n)");
	errno = 0;
	ok(realloc(r, 0) == NULL, "realloc(p, 0) frees and returns NULL");

	/* impossible sizes */
	errno = 0;
	ok(malloc(huge_size) == NULL && errno == ENOMEM, "malloc(SIZE_MAX) -> NULL, ENOMEM");
	errno = 0;
	ok(malloc(huge_size / 2) == NULL && errno == ENOMEM, "malloc(PTRDIFF_MAX+) -> NULL, ENOMEM");
	errno = 0;
	ok(calloc(huge_size / 2, 3) == NULL && errno == ENOMEM, "calloc overflow -> NULL, ENOMEM");
	errno = 0;
	void *ra = malloc(16);
	ok(reallocarray(ra, huge_size / 2, 3) == NULL && errno == ENOMEM,
	   "reallocarray overflow -> NULL, ENOMEM, old block kept");
	ra = reallocarray(ra, 10, 10);
	ok(ra && malloc_usable_size(ra) >= 100, "reallocarray(p, 10, 10)");
	free(ra);
	errno = 0;
	char *big = malloc(16);
	ok(realloc(big, huge_size) == NULL && errno == ENOMEM, "realloc to SIZE_MAX -> NULL, ENOMEM");
	free(big);

	/* posix_memalign / aligned_alloc / memalign / valloc / pvalloc */
	void *pm = (void *)1;
	ok(posix_memalign(&pm, 3, 10) == EINVAL && pm == (void *)1,
	   "posix_memalign: non power of two -> EINVAL, out untouched");
	ok(posix_memalign(&pm, 4, 10) == EINVAL, "posix_memalign: align < sizeof(void *) -> EINVAL");
	ok(posix_memalign(&pm, 0, 10) == EINVAL, "posix_memalign: align 0 -> EINVAL");
	ok(posix_memalign(&pm, 64, huge_size / 2) == ENOMEM, "posix_memalign: huge -> ENOMEM");
	errno = 0;
	ok(aligned_alloc(3, 16) == NULL && errno == EINVAL, "aligned_alloc(3) -> NULL, EINVAL");
	errno = 0;
	ok(aligned_alloc(0, 16) == NULL && errno == EINVAL, "aligned_alloc(0) -> NULL, EINVAL");
	errno = 0;
	ok(memalign(24, 16) == NULL && errno == EINVAL, "memalign(24) -> NULL, EINVAL");
	int align_ok = 1;
	for (size_t al = 8; al <= (4u << 20); al <<= 1) {
		size_t sizes[] = { 1, 8, 17, 100, al / 2 + 1, al, al + 1, 3 * al, 70000 };
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			void *p1 = NULL;
			if (posix_memalign(&p1, al, sizes[i]) != 0 || ((uintptr_t)p1 & (al - 1)) ||
			    !writable(p1, sizes[i], 0x5a)) {
				diag("posix_memalign(%zu, %zu) -> %p", al, sizes[i], p1);
				align_ok = 0;
			}
			void *p2 = aligned_alloc(al, sizes[i]);
			void *p3 = memalign(al, sizes[i]);
			if (!p2 || !p3 || ((uintptr_t)p2 & (al - 1)) || ((uintptr_t)p3 & (al - 1))) {
				diag("aligned_alloc/memalign(%zu, %zu) -> %p %p", al, sizes[i], p2, p3);
				align_ok = 0;
			}
			free(p1);
			free(p2);
			free(p3);
		}
	}
	ok(align_ok, "alignment sweep 8 B .. 4 MiB, many sizes, writable");
	zero_size_alignment_sweep();
	void *va = valloc(100);
	ok(va && ((uintptr_t)va & 4095) == 0, "valloc is page aligned");
	free(va);
	void *pv = pvalloc(5000);
	ok(pv && ((uintptr_t)pv & 4095) == 0 && malloc_usable_size(pv) >= 8192,
	   "pvalloc rounds to whole pages");
	free(pv);
	pv = pvalloc(0);
	ok(pv && malloc_usable_size(pv) >= 4096, "pvalloc(0) gives one page");
	free(pv);

	/* 16-byte alignment and usable size for every size */
	int a16 = 1, usable_ok = 1;
	for (size_t s = 0; s <= 70000; s += (s < 2048 ? 1 : 61)) {
		unsigned char *p = malloc(s);
		if (!p) {
			usable_ok = 0;
			break;
		}
		if (s >= 16 && ((uintptr_t)p & 15))
			a16 = 0;
		if (s < 16 && ((uintptr_t)p & 7))
			a16 = 0;
		size_t us = malloc_usable_size(p);
		if (us < s || !writable(p, us, (unsigned char)s))
			usable_ok = 0;
		free(p);
	}
	ok(a16, "every pointer of 16 bytes or more is 16-byte aligned (8 below)");
	ok(usable_ok, "malloc_usable_size >= request and all of it writable");

	/* neighbours are not disturbed when the whole usable size is written */
	unsigned char *blk[64];
	for (int i = 0; i < 64; i++) {
		blk[i] = malloc(40);
		memset(blk[i], i, malloc_usable_size(blk[i]));
	}
	int neigh = 1;
	for (int i = 0; i < 64; i++)
		for (size_t k = 0; k < malloc_usable_size(blk[i]); k++)
			if (blk[i][k] != i)
				neigh = 0;
	for (int i = 0; i < 64; i++)
		free(blk[i]);
	ok(neigh, "writing the whole usable size never touches a neighbour");

	/* calloc zeroes even recycled memory */
	int cz = 1;
	for (size_t s = 8; s <= (1u << 22); s *= 3) {
		unsigned char *d = malloc(s);
		memset(d, 0xff, s);
		free(d);
		unsigned char *z = calloc(1, s);
		for (size_t i = 0; i < s; i++)
			if (z[i]) {
				cz = 0;
				break;
			}
		free(z);
	}
	ok(cz, "calloc returns zeroed memory, also after a dirty free");

	/* ... its whole usable size, in every class: the object a calloc
	 * reuses from the magazine is the one just freed dirty */
	int cu = 1;
	for (size_t s = 0; s <= 70000 && cu; s += s / 8 + 1) {
		unsigned char *d = malloc(s);
		memset(d, 0xa5, malloc_usable_size(d));
		free(d);
		unsigned char *z = calloc(s, 1);
		size_t us = malloc_usable_size(z);
		for (size_t i = 0; i < us; i++)
			if (z[i]) {
				diag("calloc(%zu, 1): byte %zu of %zu is 0x%02x", s, i, us, z[i]);
				cu = 0;
				break;
			}
		free(z);
	}
	ok(cu, "calloc zeroes the whole usable size of every class after a dirty free");

	/* realloc keeps the contents while growing and shrinking */
	unsigned char *g = malloc(16);
	size_t gs = 16;
	memset(g, 0xa5, gs);
	int keep = 1;
	while (gs < (64u << 20)) {
		size_t ns = gs * 2 + 3;
		g = realloc(g, ns);
		for (size_t i = 0; i < gs; i++)
			if (g[i] != 0xa5) {
				keep = 0;
				break;
			}
		memset(g, 0xa5, ns);
		gs = ns;
	}
	ok(keep, "realloc growth 16 B -> 64 MiB keeps the contents (mremap for huge)");
	g = realloc(g, 100);
	ok(g && g[99] == 0xa5 && g[0] == 0xa5, "realloc shrink from huge keeps the prefix");
	free(g);

	/* huge allocations */
	unsigned char *h = malloc(100u << 20);
	ok(h && malloc_usable_size(h) >= (100u << 20) && writable(h + (99u << 20), 4096, 1),
	   "100 MiB allocation works");
	free(h);

	/* C23 sized free */
	void *fs = malloc(200);
	free_sized(fs, 200);
	void *fas = aligned_alloc(256, 512);
	free_aligned_sized(fas, 256, 512);
	ok(1, "free_sized / free_aligned_sized accept matching sizes");

	/* malloc_trim really gives memory back */
	enum { NBLK = 2048 };
	static void *many[NBLK];
	for (int i = 0; i < NBLK; i++) {
		many[i] = malloc(40000);
		memset(many[i], 1, 40000);
	}
	long rss_full = statm_rss_pages();
	for (int i = 0; i < NBLK; i++)
		free(many[i]);
	int trimmed = malloc_trim(0);
	long rss_after = statm_rss_pages();
	ok(trimmed == 1 && rss_after < rss_full - (40000L * NBLK / 4096) / 2,
	   "malloc_trim returns memory to the OS (RSS %ld -> %ld pages)", rss_full, rss_after);

	/* mallinfo2 / malloc_stats / mallopt */
	struct mallinfo2 m1 = mallinfo2();
	void *keep10 = malloc(10u << 20);
	memset(keep10, 1, 10u << 20);
	struct mallinfo2 m2 = mallinfo2();
	ok(m2.uordblks + m2.hblkhd >= m1.uordblks + m1.hblkhd + (10u << 20),
	   "mallinfo2 accounts a 10 MiB allocation");
	free(keep10);
	/* a 3 MiB block is a huge one, carved from an arena: hblkhd counts the
	 * arena's whole mapping, used or free, and the buddy heap (arena) does
	 * not grow for it */
	struct mallinfo2 m3 = mallinfo2();
	void *three = malloc(3u << 20);
	memset(three, 1, 3u << 20);
	struct mallinfo2 m4 = mallinfo2();
	ok(three && m4.hblkhd >= (3u << 20) && m4.arena == m3.arena,
	   "a 3 MiB block counts in hblkhd with the rest of its arena (%zu MiB), not in arena",
	   m4.hblkhd >> 20);
	free(three);
	ok(mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1 && mallopt(M_ARENA_MAX, 2) == 1,
	   "mallopt accepts glibc parameters");
	statistics_as_glibc();

	/* Blocks that glibc handed out (before we were in charge, or through
	 * its internal names) are given back to glibc, not reported. */
	char *gsm = __libc_malloc(100), *gl = __libc_malloc(1u << 20);
	strcpy(gsm, "glibc small");
	strcpy(gl, "glibc mmapped");
	ok(malloc_usable_size(gsm) >= 100 && malloc_usable_size(gl) >= (1u << 20),
	   "malloc_usable_size of glibc blocks");
	gsm = realloc(gsm, 5000);
	ok(gsm && strcmp(gsm, "glibc small") == 0 && slabmalloc_ksize(gsm) >= 5000,
	   "realloc of a glibc block moves it to slabmalloc with its contents");
	free(gsm);
	free(gl);
	ok(1, "free of glibc's blocks (brk heap and mmapped) goes back to glibc");

	/* kmalloc family through the public names */
	void *k = kmalloc(100, GFP_KERNEL);
	ok(k && ksize(k) >= 100, "kmalloc/ksize");
	k = krealloc(k, 5000, GFP_KERNEL);
	ok(k && ksize(k) >= 5000, "krealloc grows");
	kfree(k);
	unsigned char *kz = kzalloc(3000, GFP_KERNEL);
	int kzero = kz != NULL;
	for (int i = 0; kz && i < 3000; i++)
		kzero &= kz[i] == 0;
	ok(kzero, "kzalloc zeroes");
	kfree(kz);
	ok(kcalloc(huge_size / 2, 4, GFP_KERNEL | __GFP_NOWARN) == NULL, "kcalloc overflow -> NULL");
	void *katom = kmalloc(64, GFP_ATOMIC);
	ok(katom != NULL, "kmalloc(GFP_ATOMIC) of a small size");
	kfree(katom);
	ok(ksize(NULL) == 0, "ksize(NULL) == 0");
	kfree(NULL);

	return done_testing();
}
