/* SPDX-License-Identifier: MIT */
/*
 * slabmalloc-top — a slabtop(1) for a running process that uses
 * slabmalloc (man slabmalloc-top(1), docs/introspection.md).
 *
 *   slabmalloc-top [-d SECS] [-s KEY] [--once] [--timeout=MS] PID
 *
 * Every refresh asks the process for a fresh snapshot (its service thread
 * answers; a process that makes no allocator call shows its last published
 * one, with its age) and shows the summary and one line per cache, sorted
 * by KEY (slabtop's keys, plus m for magazine rounds).
 */
#include "config.h"
#include "smi.h"

#include <curses.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char sort_key = 'o';
static struct smi_snapshot snap;

static const char sort_keys[] = "abclvnopsum";

static uint64_t cache_bytes(const struct smi_cache *c)
{
	return c->sc_num_slabs * (uint64_t)c->sc_pagesperslab * 4096u;
}

static unsigned int use_pct(const struct smi_cache *c)
{
	return c->sc_num_objs ? (unsigned int)(c->sc_active_objs * 100 / c->sc_num_objs) : 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? 1 : a > b ? -1 : 0;       /* largest first */
}

static int cmp_cache(const void *pa, const void *pb)
{
	const struct smi_cache *a = pa, *b = pb;
	int r = 0;
	switch (sort_key) {
	case 'a': r = cmp_u64(a->sc_active_objs, b->sc_active_objs); break;
	case 'b': r = cmp_u64(a->sc_objperslab, b->sc_objperslab); break;
	case 'c': r = cmp_u64(cache_bytes(a), cache_bytes(b)); break;
	case 'l': r = cmp_u64(a->sc_num_slabs, b->sc_num_slabs); break;
	case 'v': r = cmp_u64(a->sc_active_slabs, b->sc_active_slabs); break;
	case 'n': return strcmp(a->sc_name, b->sc_name);
	case 'o': r = cmp_u64(a->sc_num_objs, b->sc_num_objs); break;
	case 'p': r = cmp_u64(a->sc_pagesperslab, b->sc_pagesperslab); break;
	case 's': r = cmp_u64(a->sc_objsize, b->sc_objsize); break;
	case 'u': r = cmp_u64(use_pct(a), use_pct(b)); break;
	case 'm': r = cmp_u64(a->sc_mag_rounds, b->sc_mag_rounds); break;
	}
	return r ? r : strcmp(a->sc_name, b->sc_name);
}

static double pct(uint64_t a, uint64_t t)
{
	return t ? 100.0 * (double)a / (double)t : 0.0;
}

/* The screen as lines of text, for stdout (--once) or curses. */
typedef void (*emit_fn)(int row, const char *line);

static void render(const struct smi_client *cl, bool fresh, emit_fn emit, int rows)
{
	struct smi_snapshot *ss = &snap;
	char line[256];
	uint64_t act = 0, tot = 0, sact = 0, stot = 0, bact = 0, btot = 0;
	uint64_t mn = UINT64_MAX, mx = 0, sum = 0, rounds = 0;
	unsigned int cact = 0;
	for (unsigned int i = 0; i < ss->ss_nr_caches; i++) {
		const struct smi_cache *c = &ss->ss_caches[i];
		act += c->sc_active_objs;
		tot += c->sc_num_objs;
		sact += c->sc_active_slabs;
		stot += c->sc_num_slabs;
		btot += cache_bytes(c);
		bact += c->sc_active_objs * c->sc_objsize;
		rounds += c->sc_mag_rounds;
		cact += c->sc_num_objs != 0;
		mn = c->sc_objsize < mn ? c->sc_objsize : mn;
		mx = c->sc_objsize > mx ? c->sc_objsize : mx;
		sum += c->sc_objsize;
	}
	if (!ss->ss_nr_caches)
		mn = 0;
	int r = 0;
	if (fresh)
		snprintf(line, sizeof line, " slabmalloc-top: pid %d (%s)  RSS %lu kB  "
		         "sorted by %c", cl->pid, cl->comm,
		         (unsigned long)(ss->ss_mem.sm_rss >> 10), sort_key);
	else
		snprintf(line, sizeof line, " slabmalloc-top: pid %d (%s)  RSS %lu kB  "
		         "sorted by %c  [idle: figures from %.1f s ago]", cl->pid, cl->comm,
		         (unsigned long)(ss->ss_mem.sm_rss >> 10), sort_key, smi_age(ss));
	emit(r++, line);
	snprintf(line, sizeof line, " Active / Total Objects (%% used)    : %lu / %lu (%.1f%%)",
	         (unsigned long)act, (unsigned long)tot, pct(act, tot));
	emit(r++, line);
	snprintf(line, sizeof line, " Active / Total Slabs (%% used)      : %lu / %lu (%.1f%%)",
	         (unsigned long)sact, (unsigned long)stot, pct(sact, stot));
	emit(r++, line);
	snprintf(line, sizeof line, " Active / Total Caches (%% used)     : %u / %u (%.1f%%)",
	         cact, ss->ss_nr_caches, pct(cact, ss->ss_nr_caches));
	emit(r++, line);
	snprintf(line, sizeof line, " Active / Total Size (%% used)       : %.2fK / %.2fK (%.1f%%)",
	         (double)bact / 1024, (double)btot / 1024, pct(bact, btot));
	emit(r++, line);
	snprintf(line, sizeof line, " Minimum / Average / Maximum Object : %.2fK / %.2fK / %.2fK",
	         (double)mn / 1024,
	         ss->ss_nr_caches ? (double)sum / ss->ss_nr_caches / 1024 : 0.0,
	         (double)mx / 1024);
	emit(r++, line);
	snprintf(line, sizeof line, " Magazine rounds (free, in threads and depots): %lu",
	         (unsigned long)rounds);
	emit(r++, line);
	emit(r++, "");
	emit(r++, "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE   MAGS NAME");
	qsort(ss->ss_caches, ss->ss_nr_caches, sizeof ss->ss_caches[0], cmp_cache);
	for (unsigned int i = 0; i < ss->ss_nr_caches && (rows <= 0 || r < rows); i++) {
		const struct smi_cache *c = &ss->ss_caches[i];
		snprintf(line, sizeof line, "%6lu %6lu %3u%% %7.2fK %6lu %8u %9luK %6lu %s",
		         (unsigned long)c->sc_num_objs, (unsigned long)c->sc_active_objs,
		         use_pct(c), (double)c->sc_objsize / 1024,
		         (unsigned long)c->sc_num_slabs, c->sc_objperslab,
		         (unsigned long)(cache_bytes(c) >> 10),
		         (unsigned long)c->sc_mag_rounds, c->sc_name);
		emit(r++, line);
	}
}

static void emit_stdout(int row, const char *line)
{
	(void)row;
	puts(line);
}

static void emit_curses(int row, const char *line)
{
	if (row < LINES) {
		move(row, 0);
		clrtoeol();
		if (row == 8)
			attron(A_REVERSE);
		mvaddnstr(row, 0, line, COLS);
		if (row == 8)
			attroff(A_REVERSE);
	}
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: slabmalloc-top [-d SECS] [-s KEY] [-o|--once] [--timeout=MS] PID\n"
	        "sort keys: a active objects, b objects per slab, c cache size,\n"
	        "  l slabs, v active slabs, n name, o objects (default), p pages per\n"
	        "  slab, s object size, u utilisation, m magazine rounds\n"
	        "keys while running: a sort key to sort, space to refresh, q to quit\n");
}

/* Ask for a fresh snapshot; fall back to the published one. */
static bool take_snapshot(struct smi_client *cl, int timeout_ms)
{
	bool fresh = smi_request(cl, SMI_CMD_SNAPSHOT, NULL, timeout_ms);
	smi_read(cl, &snap);
	return fresh;
}

static volatile sig_atomic_t resized;
static void on_winch(int sig)
{
	(void)sig;
	resized = 1;
}

int main(int argc, char **argv)
{
	double delay = 1.0;
	bool once = false;
	int timeout_ms = -1;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return SMI_EXIT_OK;
		} else if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			printf("slabmalloc-top %s\n", PACKAGE_VERSION);
			return SMI_EXIT_OK;
		} else if (!strcmp(a, "--once") || !strcmp(a, "-o")) {
			once = true;
		} else if ((!strcmp(a, "-d") || !strcmp(a, "--delay")) && i + 1 < argc) {
			delay = atof(argv[++i]);
			if (delay <= 0) {
				fprintf(stderr, "slabmalloc-top: bad delay '%s'\n", argv[i]);
				return SMI_EXIT_USAGE;
			}
		} else if ((!strcmp(a, "-s") || !strcmp(a, "--sort")) && i + 1 < argc) {
			const char *k = argv[++i];
			if (strlen(k) != 1 || !strchr(sort_keys, k[0])) {
				fprintf(stderr, "slabmalloc-top: bad sort key '%s'\n", k);
				usage(stderr);
				return SMI_EXIT_USAGE;
			}
			sort_key = k[0];
		} else if (!strncmp(a, "--timeout=", 10)) {
			timeout_ms = atoi(a + 10);
			if (timeout_ms <= 0) {
				fprintf(stderr, "slabmalloc-top: bad timeout '%s'\n", a + 10);
				return SMI_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--")) {
			i++;
			break;
		} else {
			fprintf(stderr, "slabmalloc-top: unknown option '%s'\n", a);
			usage(stderr);
			return SMI_EXIT_USAGE;
		}
	}
	if (argc - i != 1) {
		usage(stderr);
		return SMI_EXIT_USAGE;
	}
	int pid = smi_parse_pid(argv[i]);
	if (pid < 0) {
		fprintf(stderr, "slabmalloc-top: '%s' is not a process id\n", argv[i]);
		return SMI_EXIT_USAGE;
	}
	if (timeout_ms < 0)
		timeout_ms = once ? 1000 : (int)(delay * 500);
	if (timeout_ms <= 0)
		timeout_ms = 1;

	struct smi_client cl;
	char err[512];
	int rc = smi_attach(pid, &cl, err, sizeof err);
	if (rc) {
		fprintf(stderr, "slabmalloc-top: %s\n", err);
		return rc;
	}
	if (once) {
		bool fresh = take_snapshot(&cl, timeout_ms);
		if (!fresh && !smi_alive(pid)) {
			fprintf(stderr, "slabmalloc-top: process %d (%s) has exited\n", pid, cl.comm);
			return SMI_EXIT_TARGET;
		}
		render(&cl, fresh, emit_stdout, 0);
		smi_detach(&cl);
		return fflush(stdout) == 0 ? SMI_EXIT_OK : SMI_EXIT_USAGE;
	}

	initscr();
	cbreak();
	noecho();
	curs_set(0);
	keypad(stdscr, TRUE);
	signal(SIGWINCH, on_winch);
	int status = SMI_EXIT_OK;
	for (;;) {
		bool fresh = take_snapshot(&cl, timeout_ms);
		if (!fresh && !smi_alive(pid)) {
			endwin();
			fprintf(stderr, "slabmalloc-top: process %d (%s) has exited\n", pid, cl.comm);
			status = SMI_EXIT_TARGET;
			break;
		}
		erase();
		render(&cl, fresh, emit_curses, LINES);
		refresh();
		timeout((int)(delay * 1000));
		int ch = getch();
		if (resized) {
			resized = 0;
			endwin();
			refresh();
		}
		if (ch == 'q' || ch == 'Q' || ch == 27) {
			endwin();
			break;
		}
		if (ch != ERR && ch < 128 && strchr(sort_keys, ch))
			sort_key = (char)ch;
	}
	smi_detach(&cl);
	return status;
}
