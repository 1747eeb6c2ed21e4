/* SPDX-License-Identifier: MIT */
/*
 * gfp.c — what an allocation may do when it fails, by its GFP flags
 * (DESIGN.md §4), and failslab/fail_page_alloc-style fault injection.
 *
 * Retry policy (gfp_retry):
 *   - a non-blocking call (no __GFP_WAIT, e.g. GFP_ATOMIC) fails at once;
 *   - __GFP_NORETRY fails at once, without reclaim;
 *   - otherwise the first failure reclaims (reaps depots, releases empty
 *     slabs and, unless GFP_NOFS/GFP_NOIO, gives free pages back to the OS)
 *     and tries again; __GFP_REPEAT tries a few more times;
 *   - __GFP_NOFAIL never gives up: it retries with exponential back-off
 *     (sleeping up to 10 ms between attempts), and says so on stderr every
 *     1000 attempts (unless __GFP_NOWARN) so a stuck program is explained.
 *
 * Fault injection (the kernel's failslab and fail_page_alloc, built on its
 * lib/fault-inject.c). Two kinds, FAULT_SLAB (every kmem_cache_alloc and
 * kmalloc) and FAULT_PAGE_ALLOC (the page allocator), each configured by a
 * spec string (fail_slab=SPEC, fail_page_alloc=SPEC in SLABMALLOC_OPTIONS or
 * slabmalloc_config()):
 *
 *   SPEC   := "0" | "off" | "1" | "on" | FIELD { ":" FIELD }
 *   FIELD  := "interval=" N        fail every Nth eligible call (N >= 1; 1)
 *           | "probability=" P     ... with probability P percent (0..100; 100)
 *           | "times=" T           at most T failures (-1: no limit; -1)
 *           | "space=" BYTES       let the first BYTES bytes through (0)
 *           | "min_size=" BYTES    only calls of at least BYTES bytes (0);
 *                                  a page allocation's size is PAGE_SIZE<<order
 *           | "cache=" NAME        only these caches (fail_slab; up to 8)
 *           | "verbose=" 0|1       print each injected failure (0)
 *   BYTES  := decimal, optionally followed by k, m or g (powers of 1024)
 *
 * "1"/"on" fail every eligible call. A call is eligible when it passes the
 * filters: never __GFP_NOFAIL, size >= min_size, cache among the names.
 * Then, in the kernel's order: no more failures once `times` are used up;
 * the first `space` bytes pass; only every interval-th call may fail; and it
 * fails with the probability. The parser allocates nothing and applies a
 * spec only when all of it is valid.
 *
 * Concurrency. Each kind keeps two configuration slots; a new spec is
 * written into the slot not in use and published with a release store of
 * fa_cur (writers serialised by fault_config_lock), so readers take no lock. A reader
 * racing with two reconfigurations in a row may see one call decided by a
 * half-written slot; nothing worse. The counters (calls, interval count,
 * times and space left, injected) are relaxed atomics, reset when a spec is
 * applied; `times` is decremented with a compare-and-swap so it is never
 * exceeded. Probability draws use a per-thread xorshift64* generator
 * seeded from os_random(). sm_fault_active is 1 while either kind is on, so
 * the allocators' fast paths test one global before calling in here.
 *
 * Floor 2 (src/layers.txt): calls the base floor only. What it must tell
 * the layers above goes through hooks they set: sm_reclaim_hook (the slab
 * layer's reclaim) and sm_fault_notify (kmalloc's fast-path limits).
 */
#include "internal.h"

#include <limits.h>
#include <string.h>

int sm_fault_active;
size_t (*sm_reclaim_hook)(bool may_call_os);
void (*sm_fault_notify)(void);

#define GFP_REPEAT_TRIES 4
#define GFP_NOFAIL_MAX_SLEEP_NS 10000000ull
#define GFP_NOFAIL_WARN_EVERY 1000u

bool gfp_retry(gfp_t gfp, unsigned int *attempt, const char *what, size_t size)
{
	unsigned int n = ++*attempt;

	if (gfp & __GFP_NOFAIL) {
		if (n % GFP_NOFAIL_WARN_EVERY == 0 && !(gfp & __GFP_NOWARN))
			sm_warn("%s: __GFP_NOFAIL allocation of %zu bytes still failing "
			        "after %u attempts; retrying", what, size, n);
		if (sm_reclaim_hook)
			sm_reclaim_hook((gfp & (__GFP_IO | __GFP_FS)) == (__GFP_IO | __GFP_FS));
		uint64_t ns = 1000ull << (n < 14 ? n : 14);
		os_sleep_ns(ns < GFP_NOFAIL_MAX_SLEEP_NS ? ns : GFP_NOFAIL_MAX_SLEEP_NS);
		return true;
	}
	if ((gfp & __GFP_WAIT) && !(gfp & __GFP_NORETRY)) {
		unsigned int tries = (gfp & __GFP_REPEAT) ? GFP_REPEAT_TRIES : 1;
		if (n <= tries) {
			if (sm_reclaim_hook)
				sm_reclaim_hook((gfp & (__GFP_IO | __GFP_FS)) ==
				                (__GFP_IO | __GFP_FS));
			if (n > 1)
				os_yield();
			return true;
		}
	}
	if (!(gfp & __GFP_NOWARN))
		sm_warn("%s: allocation failure: size %zu, gfp 0x%x", what, size, gfp);
	return false;
}

/* ---- fault injection ---- */

#define FAULT_MAX_CACHES 8
#define FAULT_NAME_MAX   32              /* SM_CACHE_NAME_MAX, with the NUL */

struct fault_config {
	unsigned long fc_interval;       /* >= 1 */
	unsigned int  fc_probability;    /* percent, 0..100 */
	long          fc_times;          /* -1: unlimited */
	size_t        fc_space;          /* bytes let through first */
	size_t        fc_min_size;       /* smaller calls are not eligible */
	unsigned int  fc_ncaches;        /* 0: every cache */
	int           fc_verbose;
	char          fc_cache[FAULT_MAX_CACHES][FAULT_NAME_MAX];
};

struct fault_attr {
	const char          *fa_name;    /* "fail_slab", "fail_page_alloc" */
	struct fault_config  fa_slot[2];
	struct fault_config *fa_cur;     /* published slot, NULL when off */
	unsigned long        fa_calls;   /* eligible calls */
	unsigned long        fa_count;   /* calls that reached the interval test */
	unsigned long        fa_injected;
	long                 fa_times_left;
	size_t               fa_space_left;
};

static struct fault_attr fault_attrs[FAULT_NR] = {
	[FAULT_SLAB]       = { .fa_name = "fail_slab" },
	[FAULT_PAGE_ALLOC] = { .fa_name = "fail_page_alloc" },
};
/* Serialises reconfiguration of both kinds (so sm_fault_active is computed
 * from a stable view) and fault_print(). A leaf lock, taken by option
 * parsing and statistics only, never on an allocation path. */
static pthread_mutex_t fault_config_lock = PTHREAD_MUTEX_INITIALIZER;

static SM_TLS uint64_t fault_rng;

/* A number in 0..99 from a per-thread xorshift64* generator. */
static unsigned int fault_rand100(void)
{
	uint64_t x = fault_rng;
	if (unlikely(x == 0))
		x = (uint64_t)os_random() | 1;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	fault_rng = x;
	return (unsigned int)(((x * 0x2545f4914f6cdd1dull) >> 32) * 100 >> 32);
}

static bool fault_cache_matches(const struct fault_config *c, const char *name)
{
	if (!name)
		return false;
	for (unsigned int i = 0; i < c->fc_ncaches; i++)
		if (strcmp(c->fc_cache[i], name) == 0)
			return true;
	return false;
}

static SM_NOINLINE bool fault_should_fail(struct fault_attr *fa, const char *cache,
                                          size_t size, gfp_t gfp, unsigned int order)
{
	const struct fault_config *c = __atomic_load_n(&fa->fa_cur, __ATOMIC_ACQUIRE);
	if (!c || (gfp & __GFP_NOFAIL) || size < c->fc_min_size)
		return false;
	if (c->fc_ncaches && !fault_cache_matches(c, cache))
		return false;
	__atomic_fetch_add(&fa->fa_calls, 1, __ATOMIC_RELAXED);

	long left = __atomic_load_n(&fa->fa_times_left, __ATOMIC_RELAXED);
	if (left == 0)
		return false;
	if (c->fc_space) {
		size_t space = __atomic_load_n(&fa->fa_space_left, __ATOMIC_RELAXED);
		while (space > size) {
			if (__atomic_compare_exchange_n(&fa->fa_space_left, &space, space - size,
			                                false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
				return false;
		}
	}
	unsigned long n = __atomic_add_fetch(&fa->fa_count, 1, __ATOMIC_RELAXED);
	if (c->fc_interval > 1 && n % c->fc_interval)
		return false;
	if (c->fc_probability < 100 &&
	    (c->fc_probability == 0 || fault_rand100() >= c->fc_probability))
		return false;
	while (left != -1) {
		if (left <= 0)
			return false;
		if (__atomic_compare_exchange_n(&fa->fa_times_left, &left, left - 1,
		                                false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			break;
	}
	unsigned long k = __atomic_add_fetch(&fa->fa_injected, 1, __ATOMIC_RELAXED);
	if (c->fc_verbose) {
		if (cache)
			sm_warn("%s: injected failure %lu: cache %s, size %zu, gfp 0x%x",
			        fa->fa_name, k, cache, size, gfp);
		else
			sm_warn("%s: injected failure %lu: order %u, gfp 0x%x",
			        fa->fa_name, k, order, gfp);
	}
	return true;
}

bool should_failslab(const char *cache_name, size_t size, gfp_t gfp)
{
	if (likely(!SM_READ_ONCE(sm_fault_active)))
		return false;
	return fault_should_fail(&fault_attrs[FAULT_SLAB], cache_name, size, gfp, 0);
}

bool should_fail_alloc_page(unsigned int order, gfp_t gfp)
{
	if (likely(!SM_READ_ONCE(sm_fault_active)))
		return false;
	size_t size = order < 64 - PAGE_SHIFT ? (size_t)PAGE_SIZE << order : SIZE_MAX;
	return fault_should_fail(&fault_attrs[FAULT_PAGE_ALLOC], NULL, size, gfp, order);
}

unsigned long fault_injected(int which)
{
	if (which < 0 || which >= FAULT_NR)
		return 0;
	return __atomic_load_n(&fault_attrs[which].fa_injected, __ATOMIC_RELAXED);
}

unsigned long fault_calls(int which)
{
	if (which < 0 || which >= FAULT_NR)
		return 0;
	return __atomic_load_n(&fault_attrs[which].fa_calls, __ATOMIC_RELAXED);
}

/* ---- the spec parser: no allocation, all or nothing ---- */

/* Bounded message building for @err (no printf: it may allocate). */
struct msgbuf {
	char  *mb_buf;
	size_t mb_cap;
	size_t mb_len;
};

static void mb_str(struct msgbuf *m, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++)
		if (m->mb_len + 1 < m->mb_cap)
			m->mb_buf[m->mb_len++] = s[i];
	if (m->mb_cap)
		m->mb_buf[m->mb_len < m->mb_cap ? m->mb_len : m->mb_cap - 1] = 0;
}

static void mb_cstr(struct msgbuf *m, const char *s)
{
	mb_str(m, s, strlen(s));
}

static void mb_ulong(struct msgbuf *m, unsigned long v)
{
	char tmp[24];
	size_t n = sizeof tmp;
	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	mb_str(m, tmp + n, sizeof tmp - n);
}

/* Quote at most 40 bytes of user text in a message. */
static void mb_quote(struct msgbuf *m, const char *s, size_t n)
{
	mb_cstr(m, "'");
	mb_str(m, s, n < 40 ? n : 40);
	mb_cstr(m, n > 40 ? "...'" : "'");
}

/* Parse an unsigned decimal of @n bytes, with a k/m/g suffix when
 * @suffix. RETURNS: false on anything else or overflow. */
static bool parse_ulong(const char *s, size_t n, bool suffix, unsigned long *out)
{
	unsigned long v = 0, mult = 1;
	if (n && suffix) {
		switch (s[n - 1]) {
		case 'k': case 'K': mult = 1ul << 10; n--; break;
		case 'm': case 'M': mult = 1ul << 20; n--; break;
		case 'g': case 'G': mult = 1ul << 30; n--; break;
		default: break;
		}
	}
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned long d = (unsigned long)(s[i] - '0');
		if (v > (~0ul - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v > ~0ul / mult)
		return false;
	*out = v * mult;
	return true;
}

static bool token_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

static void fault_apply(struct fault_attr *fa, const struct fault_config *c)
{
	pthread_mutex_lock(&fault_config_lock);
	struct fault_config *cur = __atomic_load_n(&fa->fa_cur, __ATOMIC_RELAXED);
	struct fault_config *next = NULL;
	if (c) {
		next = cur == &fa->fa_slot[0] ? &fa->fa_slot[1] : &fa->fa_slot[0];
		*next = *c;
	}
	__atomic_store_n(&fa->fa_calls, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fa->fa_count, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fa->fa_injected, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fa->fa_times_left, c ? c->fc_times : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fa->fa_space_left, c ? c->fc_space : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fa->fa_cur, next, __ATOMIC_RELEASE);
	int active = 0;
	for (int i = 0; i < FAULT_NR; i++)
		if (__atomic_load_n(&fault_attrs[i].fa_cur, __ATOMIC_RELAXED))
			active = 1;
	__atomic_store_n(&sm_fault_active, active, __ATOMIC_RELEASE);
	/* The fast paths keep sm_fault_active folded into malloc's size
	 * limit and the caches' slot keys, so that every allocation reaches
	 * should_failslab(): the layer that folds it is told. */
	void (*notify)(void) = __atomic_load_n(&sm_fault_notify, __ATOMIC_ACQUIRE);
	if (notify)
		notify();
	pthread_mutex_unlock(&fault_config_lock);
}

int fault_parse(int which, const char *spec, size_t len, bool apply,
                char *err, size_t errlen)
{
	struct msgbuf m = { err, errlen, 0 };
	if (errlen)
		err[0] = 0;
	if (which < 0 || which >= FAULT_NR) {
		mb_cstr(&m, "unknown fault injection kind");
		return -1;
	}
	struct fault_attr *fa = &fault_attrs[which];
	struct fault_config c;
	memset(&c, 0, sizeof c);
	c.fc_interval = 1;
	c.fc_probability = 100;
	c.fc_times = -1;

	if (token_is(spec, len, "0") || token_is(spec, len, "off")) {
		if (apply)
			fault_apply(fa, NULL);
		return 0;
	}
	if (token_is(spec, len, "1") || token_is(spec, len, "on")) {
		if (apply)
			fault_apply(fa, &c);
		return 0;
	}
	if (len == 0) {
		mb_cstr(&m, "empty spec (use 0 or off to disable)");
		return -1;
	}

	const char *end = spec + len;
	for (const char *f = spec; f <= end; ) {
		const char *fe = memchr(f, ':', (size_t)(end - f));
		if (!fe)
			fe = end;
		const char *eq = memchr(f, '=', (size_t)(fe - f));
		if (fe == f) {
			mb_cstr(&m, "empty field in ");
			mb_quote(&m, spec, len);
			return -1;
		}
		if (!eq) {
			mb_cstr(&m, "field ");
			mb_quote(&m, f, (size_t)(fe - f));
			mb_cstr(&m, " is not key=value");
			return -1;
		}
		const char *key = f, *val = eq + 1;
		size_t klen = (size_t)(eq - f), vlen = (size_t)(fe - val);
		unsigned long v = 0;
		const char *expect = NULL;

		if (token_is(key, klen, "interval")) {
			if (!parse_ulong(val, vlen, false, &v) || v < 1)
				expect = "an integer >= 1";
			else
				c.fc_interval = v;
		} else if (token_is(key, klen, "probability")) {
			if (!parse_ulong(val, vlen, false, &v) || v > 100)
				expect = "a percentage 0..100";
			else
				c.fc_probability = (unsigned int)v;
		} else if (token_is(key, klen, "times")) {
			if (token_is(val, vlen, "-1"))
				c.fc_times = -1;
			else if (!parse_ulong(val, vlen, false, &v) || v > (unsigned long)LONG_MAX)
				expect = "-1 or an integer >= 0";
			else
				c.fc_times = (long)v;
		} else if (token_is(key, klen, "space")) {
			if (!parse_ulong(val, vlen, true, &v))
				expect = "a byte count (optionally with k, m or g)";
			else
				c.fc_space = v;
		} else if (token_is(key, klen, "min_size")) {
			if (!parse_ulong(val, vlen, true, &v))
				expect = "a byte count (optionally with k, m or g)";
			else
				c.fc_min_size = v;
		} else if (token_is(key, klen, "verbose")) {
			if (token_is(val, vlen, "0") || token_is(val, vlen, "1"))
				c.fc_verbose = val[0] == '1';
			else
				expect = "0 or 1";
		} else if (token_is(key, klen, "cache")) {
			if (which != FAULT_SLAB) {
				mb_cstr(&m, "cache= applies only to fail_slab");
				return -1;
			}
			if (vlen == 0) {
				expect = "a cache name";
			} else if (vlen >= FAULT_NAME_MAX) {
				mb_cstr(&m, "cache name ");
				mb_quote(&m, val, vlen);
				mb_cstr(&m, " is longer than ");
				mb_ulong(&m, FAULT_NAME_MAX - 1);
				mb_cstr(&m, " bytes");
				return -1;
			} else if (c.fc_ncaches == FAULT_MAX_CACHES) {
				mb_cstr(&m, "more than ");
				mb_ulong(&m, FAULT_MAX_CACHES);
				mb_cstr(&m, " cache= names");
				return -1;
			} else {
				memcpy(c.fc_cache[c.fc_ncaches], val, vlen);
				c.fc_cache[c.fc_ncaches][vlen] = 0;
				c.fc_ncaches++;
			}
		} else {
			mb_cstr(&m, "unknown field ");
			mb_quote(&m, key, klen);
			mb_cstr(&m, which == FAULT_SLAB ?
			        " (known: interval, probability, times, space, min_size, cache, verbose)" :
			        " (known: interval, probability, times, space, min_size, verbose)");
			return -1;
		}
		if (expect) {
			mb_cstr(&m, "bad value ");
			mb_quote(&m, val, vlen);
			mb_cstr(&m, " for ");
			mb_str(&m, key, klen);
			mb_cstr(&m, " (expected ");
			mb_cstr(&m, expect);
			mb_cstr(&m, ")");
			return -1;
		}
		f = fe + 1;
	}
	if (apply)
		fault_apply(fa, &c);
	return 0;
}

void fault_print(FILE *out)
{
	for (int i = 0; i < FAULT_NR; i++) {
		struct fault_attr *fa = &fault_attrs[i];
		pthread_mutex_lock(&fault_config_lock);
		const struct fault_config *c = fa->fa_cur;
		if (!c) {
			fprintf(out, "%-16s off\n", fa->fa_name);
		} else {
			fprintf(out, "%-16s interval=%lu:probability=%u:times=%ld:space=%zu:"
			        "min_size=%zu:verbose=%d", fa->fa_name, c->fc_interval,
			        c->fc_probability, c->fc_times, c->fc_space, c->fc_min_size,
			        c->fc_verbose);
			for (unsigned int k = 0; k < c->fc_ncaches; k++)
				fprintf(out, ":cache=%s", c->fc_cache[k]);
			fprintf(out, "\n%-16s calls %lu injected %lu\n", "",
			        fault_calls(i), fault_injected(i));
		}
		pthread_mutex_unlock(&fault_config_lock);
	}
}

/**
 * slabmalloc_fault_stats - print the fault injection settings and counters
 * @out: where to print (e.g. stderr)
 *
 * For each kind (fail_slab, fail_page_alloc): "off", or the active spec,
 * then the number of eligible calls seen and of failures injected since the
 * spec was applied.
 * CONTEXT: any thread; uses stdio on @out.
 */
SM_EXPORT void slabmalloc_fault_stats(FILE *out)
{
	fault_print(out);
}
