/* SPDX-License-Identifier: MIT */
/*
 * options.c — run-time options: SLABMALLOC_OPTIONS="key=value,..." read at
 * initialisation, and slabmalloc_config() (control.c) taking the same string
 * later.
 *
 * Top of the stack, below init.c (internal.h): it writes the tunables of
 * every layer below it, and init.c calls options_init() before it brings
 * the first layer up.
 *
 * One table holds every option with its parser (mimalloc's and libumem's
 * habit). Parsing never allocates: values are parsed in place from the
 * string. A string is applied in two passes: the first checks every item
 * and applies nothing if one is bad (a clear error naming it); the second
 * applies them in order. Unknown keys get a warning and are skipped, so that
 * an option string written for a newer version still works.
 */
#define _GNU_SOURCE 1   /* memmem */
#include "kmalloc.h"

#include <errno.h>
#include <string.h>

char sm_stats_target[256];               /* internal.h */

struct opt_val {
	const char *v;           /* value text, not terminated */
	size_t len;
};

typedef int (*opt_fn)(struct opt_val val, bool apply, char *err, size_t errlen);

static int parse_u64(struct opt_val val, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;
	if (val.len == 0)
		return -1;
	for (size_t i = 0; i < val.len; i++) {
		char c = val.v[i];
		if (c < '0' || c > '9')
			return -1;
		if (x > (max - (uint64_t)(c - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(c - '0');
	}
	*out = x;
	return 0;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
	size_t n = strlen(msg);
	if (n >= errlen)
		n = errlen - 1;
	memcpy(err, msg, n);
	err[n] = 0;
}

static int opt_stats(struct opt_val val, bool apply, char *err, size_t errlen)
{
	if (val.len == 0 || val.len >= sizeof sm_stats_target) {
		set_err(err, errlen, "expects stderr, none or a path shorter than 256 bytes");
		return -1;
	}
	if (apply) {
		if (val.len == 4 && memcmp(val.v, "none", 4) == 0) {
			sm_stats_target[0] = 0;
		} else {
			memcpy(sm_stats_target, val.v, val.len);
			sm_stats_target[val.len] = 0;
		}
	}
	return 0;
}

static int opt_fail_slab(struct opt_val val, bool apply, char *err, size_t errlen)
{
	return fault_parse(FAULT_SLAB, val.v, val.len, apply, err, errlen);
}

static int opt_fail_page_alloc(struct opt_val val, bool apply, char *err, size_t errlen)
{
	return fault_parse(FAULT_PAGE_ALLOC, val.v, val.len, apply, err, errlen);
}

/* slub_debug (debug.c): the selection as the options last set it, so that
 * leak= can add owner tracking to it. */
static unsigned long opt_dbg_flags;
static char opt_dbg_names[256];
static size_t opt_dbg_len;
static bool opt_dbg_given;               /* debug= seen */

static void opt_debug_commit(void)
{
	unsigned long f = opt_dbg_flags;
	if (sm_leak_target[0])
		f |= SLAB_STORE_USER;    /* the leak report needs the call sites */
	slab_debug_configure(f, opt_dbg_names, f ? opt_dbg_len : 0);
	kmalloc_update_fast_limit();
}

/*
 * debug=FLAGS[:NAME/NAME...]: FLAGS are letters of F (sanity checks),
 * Z (red zones), P (poisoning), U (owner tracking), L (leak report at exit
 * on stderr, implies U); "-", "0", "off" or "none" turn debugging off.
 * NAMEs select caches by name, a trailing '*' matching a prefix; without
 * them every cache is selected.
 */
static int opt_debug(struct opt_val val, bool apply, char *err, size_t errlen)
{
	unsigned long flags = 0;
	bool leak = false;
	size_t i = 0;
	const char *names = "";
	size_t nlen = 0;
	if ((val.len == 1 && (val.v[0] == '-' || val.v[0] == '0')) ||
	    (val.len == 3 && memcmp(val.v, "off", 3) == 0) ||
	    (val.len == 4 && memcmp(val.v, "none", 4) == 0)) {
		i = val.len;
	} else {
		for (; i < val.len && val.v[i] != ':'; i++) {
			switch (val.v[i]) {
			case 'F': case 'f': flags |= SLAB_DEBUG_FREE; break;
			case 'Z': case 'z': flags |= SLAB_RED_ZONE; break;
			case 'P': case 'p': flags |= SLAB_POISON; break;
			case 'U': case 'u': flags |= SLAB_STORE_USER; break;
			case 'L': case 'l': flags |= SLAB_STORE_USER; leak = true; break;
			default:
				set_err(err, errlen, "expects letters of FZPUL, optionally "
				        ":CACHE/CACHE... (a trailing * matches a prefix), or off");
				return -1;
			}
		}
		if (!flags) {
			set_err(err, errlen, "expects at least one of the letters F Z P U L");
			return -1;
		}
		if (i < val.len) {
			names = val.v + i + 1;
			nlen = val.len - i - 1;
			if (nlen == 0 || nlen >= sizeof opt_dbg_names || names[0] == '/' ||
			    names[nlen - 1] == '/' || memmem(names, nlen, "//", 2)) {
				set_err(err, errlen, "expects cache names after ':', separated "
				        "by '/', 255 bytes at most");
				return -1;
			}
		}
	}
	if (!apply)
		return 0;
	opt_dbg_given = true;
	opt_dbg_flags = flags;
	memcpy(opt_dbg_names, names, nlen);
	opt_dbg_names[nlen] = 0;
	opt_dbg_len = nlen;
	if (leak && !sm_leak_target[0])
		memcpy(sm_leak_target, "stderr", 7);
	opt_debug_commit();
	return 0;
}

/* leak=stderr|PATH|none: the leak report at exit; owner tracking is added
 * to the debug selection (every cache when debug= named none). */
static int opt_leak(struct opt_val val, bool apply, char *err, size_t errlen)
{
	if (val.len == 0 || val.len >= sizeof sm_leak_target) {
		set_err(err, errlen, "expects stderr, none or a path shorter than 256 bytes");
		return -1;
	}
	if (!apply)
		return 0;
	if ((val.len == 4 && memcmp(val.v, "none", 4) == 0) ||
	    (val.len == 1 && val.v[0] == '0')) {
		sm_leak_target[0] = 0;
	} else {
		memcpy(sm_leak_target, val.v, val.len);
		sm_leak_target[val.len] = 0;
	}
	opt_debug_commit();
	return 0;
}

/* Numeric options: a range, a unit scale, and where the value goes. */
enum opt_width { OPT_U32, OPT_U64, OPT_INT, OPT_SIZE };

static const struct opt_desc {
	const char *name;
	opt_fn fn;                   /* NULL: a number, described below */
	const char *help;            /* also the error text for numbers */
	void *target;
	enum opt_width width;
	uint64_t min, max, scale;    /* value range, then target = value * scale */
} opt_table[] = {
	{ "stats", opt_stats, "stderr|PATH|none: slabinfo, buddyinfo, meminfo at exit",
	  NULL, 0, 0, 0, 0 },
	{ "decay_ms", NULL, "milliseconds before free pages go back to the OS, 0 to 86400000",
	  &buddy_decay_ns, OPT_U64, 0, 86400000, 1000000 },
	{ "pcp_high", NULL, "pages on each thread's page lists, 0 to 4096",
	  &buddy_pcp_high, OPT_U32, 0, 4096, 1 },
	{ "huge_cache_mb", NULL, "MiB of freed huge mappings kept for reuse, 0 to 1048576",
	  &vmap_cache_max_bytes, OPT_SIZE, 0, 1u << 20, 1u << 20 },
	{ "mag_max", NULL, "largest magazine capacity, 1 to 254",
	  &slab_mag_max, OPT_U32, 1, SM_MAG_MAX, 1 },
	{ "mag_budget_mb", NULL, "MiB of objects all threads' magazines may hold, 1 to 1048576",
	  &slab_mag_budget, OPT_SIZE, 1, 1u << 20, 1u << 20 },
	{ "reap_ms", NULL, "milliseconds of a depot working-set interval, 1 to 86400000",
	  &depot_reap_interval_ns, OPT_U64, 1, 86400000, 1000000 },
	{ "reap_thread", NULL, "1: a background thread returns freed memory on time, 0: not",
	  &sm_bg_enabled, OPT_INT, 0, 1, 1 },
	{ "fail_slab", opt_fail_slab, "failslab fault injection (docs/fault-injection.md)",
	  NULL, 0, 0, 0, 0 },
	{ "fail_page_alloc", opt_fail_page_alloc, "fail_page_alloc fault injection",
	  NULL, 0, 0, 0, 0 },
	{ "sample", NULL, "kmalloc refills per guarded (kfence) allocation, 0 (off) to 1000000",
	  &kfence_sample, OPT_U32, 0, 1000000, 1 },
	{ "debug", opt_debug, "slub_debug checks FZPUL[:CACHE/...] or off (docs/debugging.md)",
	  NULL, 0, 0, 0, 0 },
	{ "leak", opt_leak, "stderr|PATH|none: objects still allocated, at exit",
	  NULL, 0, 0, 0, 0 },
};

static int opt_number(const struct opt_desc *d, struct opt_val val, bool apply,
                      char *err, size_t errlen)
{
	uint64_t x;
	if (parse_u64(val, d->max, &x) || x < d->min) {
		set_err(err, errlen, d->help);
		return -1;
	}
	if (!apply)
		return 0;
	x *= d->scale;
	switch (d->width) {
	case OPT_U32: SM_WRITE_ONCE(*(unsigned int *)d->target, (unsigned int)x); break;
	case OPT_U64: SM_WRITE_ONCE(*(uint64_t *)d->target, x); break;
	case OPT_INT: SM_WRITE_ONCE(*(int *)d->target, (int)x); break;
	case OPT_SIZE: SM_WRITE_ONCE(*(size_t *)d->target, (size_t)x); break;
	}
	return 0;
}

/* Run @fn over each key=value item of @s. */
static int opt_walk(const char *s, bool apply, const char *origin)
{
	const char *p = s;
	while (*p) {
		const char *item = p;
		while (*p && *p != ',')
			p++;
		size_t ilen = (size_t)(p - item);
		if (*p == ',')
			p++;
		while (ilen && (*item == ' ' || *item == '\t')) {
			item++;
			ilen--;
		}
		while (ilen && (item[ilen - 1] == ' ' || item[ilen - 1] == '\t'))
			ilen--;
		if (ilen == 0)
			continue;
		const char *eq = memchr(item, '=', ilen);
		size_t klen = eq ? (size_t)(eq - item) : ilen;
		struct opt_val val = { eq ? eq + 1 : item + ilen, eq ? ilen - klen - 1 : 0 };
		const struct opt_desc *d = NULL;
		for (size_t i = 0; i < SM_ARRAY_SIZE(opt_table); i++)
			if (strlen(opt_table[i].name) == klen &&
			    memcmp(opt_table[i].name, item, klen) == 0)
				d = &opt_table[i];
		if (!d) {
			if (!apply) {
				char key[64];
				size_t n = klen < sizeof key - 1 ? klen : sizeof key - 1;
				memcpy(key, item, n);
				key[n] = 0;
				sm_warn("%s: unknown option '%s' ignored", origin, key);
			}
			continue;
		}
		char err[160] = "";
		if (!eq) {
			if (!apply)
				sm_warn("%s: option '%s' needs a value (%s=...)", origin, d->name, d->name);
			return -1;
		}
		int r = d->fn ? d->fn(val, apply, err, sizeof err)
		              : opt_number(d, val, apply, err, sizeof err);
		if (r != 0) {
			char shown[64];
			size_t n = val.len < sizeof shown - 1 ? val.len : sizeof shown - 1;
			memcpy(shown, val.v, n);
			shown[n] = 0;
			sm_warn("%s: bad value '%s' for option '%s': %s", origin, shown, d->name, err);
			return -1;
		}
	}
	return 0;
}

/* Check all, then apply all: nothing is applied from a string with an error. */
int options_apply(const char *s, const char *origin)
{
	if (opt_walk(s, false, origin) != 0)
		return -1;
	return opt_walk(s, true, origin);
}

/* Called once during initialisation, before any layer needs a tunable. */
void options_init(void)
{
	const char *s = os_getenv("SLABMALLOC_OPTIONS");
	if (s && *s)
		options_apply(s, "SLABMALLOC_OPTIONS");
	/* Under valgrind every block goes through the debug paths, which
	 * describe them to memcheck, unless debug= chose otherwise. */
	if (!opt_dbg_given && slab_debug_valgrind()) {
		opt_dbg_flags = SLAB_DEBUG_FREE;
		opt_debug_commit();
	}
}
