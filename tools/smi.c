/* SPDX-License-Identifier: MIT */
/*
 * smi.c — the client side of the introspection segment (smi.h). Nothing
 * here reads the target's memory: the tools see only the shared file that
 * the process published (its owner or root may open it), and /proc/PID's
 * world-readable status for the process's name, owner and state.
 */
#include "config.h"
#include "smi.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

int smi_parse_pid(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > INT_MAX)
		return -1;
	return (int)v;
}

/* Read /proc/PID/status: the name, the effective uid and the state.
 * RETURNS: false if the process does not exist. */
static bool proc_status(int pid, char *comm, size_t cap, long *euid, char *state)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	*euid = -1;
	*state = '?';
	comm[0] = 0;
	while (fgets(line, sizeof line, f)) {
		long r, e;
		if (strncmp(line, "Name:", 5) == 0) {
			char *p = line + 5;
			while (*p == ' ' || *p == '\t')
				p++;
			p[strcspn(p, "\n")] = 0;
			snprintf(comm, cap, "%.63s", p);
		} else if (sscanf(line, "Uid: %ld %ld", &r, &e) == 2) {
			*euid = e;
		} else if (strncmp(line, "State:", 6) == 0) {
			char *p = line + 6;
			while (*p == ' ' || *p == '\t')
				p++;
			*state = *p;
		}
	}
	fclose(f);
	return true;
}

bool smi_alive(int pid)
{
	char comm[64], state;
	long euid;
	return proc_status(pid, comm, sizeof comm, &euid, &state) &&
	       state != 'Z' && state != 'X';
}

/* An unlocked segment unchanged for 2 s belongs to no process: its owner
 * died without its destructor (killed, abort()) or exec'd. (A live process
 * locks its file as soon as it has created it.) */
static bool stale(int fd, const struct stat *st)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	return S_ISREG(st->st_mode) && st->st_mtime + 2 < time(NULL) &&
	       fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK;
}

/* Remove the stale segments of @dir (the tools hold no segment lock). */
static void sweep(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		int fd = openat(dirfd(d), e->d_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		struct stat st;
		if (fstat(fd, &st) == 0 && st.st_uid == geteuid() && stale(fd, &st))
			unlinkat(dirfd(d), e->d_name, 0);
		close(fd);
	}
	closedir(d);
}

int smi_attach(int pid, struct smi_client *cl, char *err, size_t errlen)
{
	long euid;
	char state;
	memset(cl, 0, sizeof *cl);
	cl->fd = -1;
	cl->pid = pid;
	if (!proc_status(pid, cl->comm, sizeof cl->comm, &euid, &state)) {
		snprintf(err, errlen, "no process with pid %d", pid);
		return SMI_EXIT_TARGET;
	}
	if (state == 'Z' || state == 'X') {
		snprintf(err, errlen, "process %d (%s) has exited", pid, cl->comm);
		return SMI_EXIT_TARGET;
	}
	uid_t me = geteuid();
	if (me != 0 && euid >= 0 && (uid_t)euid != me) {
		snprintf(err, errlen, "permission denied: process %d (%s) belongs to "
		         "uid %ld; only its owner or root may inspect it",
		         pid, cl->comm, euid);
		return SMI_EXIT_TARGET;
	}
	char dir[64];
	snprintf(dir, sizeof dir, SMI_DIR_FMT, (unsigned int)euid);
	sweep(dir);
	snprintf(cl->path, sizeof cl->path, "%s/%d", dir, pid);
	cl->fd = open(cl->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (cl->fd < 0) {
		if (errno == EACCES || errno == EPERM)
			snprintf(err, errlen, "permission denied: cannot open %s; only the "
			         "owner of process %d (%s) or root may inspect it",
			         cl->path, pid, cl->comm);
		else
			snprintf(err, errlen, "process %d (%s) does not use slabmalloc "
			         "(no segment %s)", pid, cl->comm, cl->path);
		return SMI_EXIT_TARGET;
	}
	struct stat st;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fstat(cl->fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (long)st.st_uid != euid || (st.st_mode & 077) ||
	    (size_t)st.st_size < sizeof(struct smi_segment)) {
		snprintf(err, errlen, "process %d (%s): %s is not a slabmalloc segment "
		         "of its owner", pid, cl->comm, cl->path);
		smi_detach(cl);
		return SMI_EXIT_TARGET;
	}
	if (fcntl(cl->fd, F_GETLK, &fl) != 0 || fl.l_type == F_UNLCK || fl.l_pid != pid) {
		/* Nobody holds it: left by an earlier process with this pid, or
		 * by this one before an exec; or created this instant. */
		bool gone = stale(cl->fd, &st);
		if (gone)
			unlink(cl->path);
		if (fl.l_type == F_UNLCK && !gone)
			snprintf(err, errlen, "process %d (%s) is starting: its segment is "
			         "not ready yet", pid, cl->comm);
		else
			snprintf(err, errlen, "process %d (%s) does not use slabmalloc "
			         "(a stale segment of an earlier process was found%s)",
			         pid, cl->comm, gone ? " and removed" : "");
		smi_detach(cl);
		return SMI_EXIT_TARGET;
	}
	cl->map_len = (size_t)st.st_size;
	void *p = mmap(NULL, cl->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, cl->fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "cannot map %s: %s", cl->path, strerror(errno));
		smi_detach(cl);
		return SMI_EXIT_TARGET;
	}
	cl->seg = p;
	if (__atomic_load_n(&cl->seg->smi_magic, __ATOMIC_ACQUIRE) != SMI_MAGIC ||
	    cl->seg->smi_version != SMI_VERSION || cl->seg->smi_pid != pid) {
		snprintf(err, errlen, "process %d (%s): segment of another version "
		         "of slabmalloc (or not ready yet)", pid, cl->comm);
		smi_detach(cl);
		return SMI_EXIT_TARGET;
	}
	return 0;
}

void smi_detach(struct smi_client *cl)
{
	if (cl->seg)
		munmap(cl->seg, cl->map_len);
	if (cl->fd >= 0)
		close(cl->fd);
	cl->seg = NULL;
	cl->fd = -1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool smi_request(struct smi_client *cl, unsigned int cmd, const char *arg,
                 int timeout_ms)
{
	struct smi_segment *s = cl->seg;
	flock(cl->fd, LOCK_EX);
	s->req_cmd = cmd;
	memset(s->req_arg, 0, sizeof s->req_arg);
	if (arg)
		snprintf(s->req_arg, sizeof s->req_arg, "%s", arg);
	uint32_t mine = __atomic_add_fetch(&s->req_seq, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &s->req_seq, FUTEX_WAKE, 1, NULL, NULL, 0);
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	bool served = false;
	for (;;) {
		uint32_t r = __atomic_load_n(&s->resp_seq, __ATOMIC_ACQUIRE);
		if ((int32_t)(r - mine) >= 0) {
			served = true;
			break;
		}
		uint64_t now = now_ns();
		if (now >= deadline)
			break;
		uint64_t left = deadline - now;
		if (left > 50000000ull)
			left = 50000000ull;    /* also notice a process that exits */
		struct timespec ts = { 0, (long)left };
		syscall(SYS_futex, &s->resp_seq, FUTEX_WAIT, r, &ts, NULL, 0);
		if (!smi_alive(cl->pid))
			break;
	}
	flock(cl->fd, LOCK_UN);
	return served;
}

void smi_read(struct smi_client *cl, struct smi_snapshot *ss)
{
	struct smi_segment *s = cl->seg;
	for (int tries = 0;; tries++) {
		uint32_t g1 = __atomic_load_n(&s->smi_gen, __ATOMIC_ACQUIRE);
		if (!(g1 & 1)) {
			memcpy(ss, (const void *)&s->snap, sizeof *ss);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&s->smi_gen, __ATOMIC_RELAXED) == g1)
				break;
		}
		if (tries > 1000) {      /* a writer died in the middle: take it */
			memcpy(ss, (const void *)&s->snap, sizeof *ss);
			break;
		}
		usleep(100);
	}
	if (ss->ss_nr_caches > SMI_MAX_CACHES)
		ss->ss_nr_caches = SMI_MAX_CACHES;
	if (ss->ss_nr_zones > SMI_NR_ZONES)
		ss->ss_nr_zones = SMI_NR_ZONES;
	if (ss->ss_nr_orders > SMI_MAX_ORDER)
		ss->ss_nr_orders = SMI_MAX_ORDER;
	for (unsigned int i = 0; i < ss->ss_nr_caches; i++)
		ss->ss_caches[i].sc_name[SMI_NAME_MAX - 1] = 0;
	for (unsigned int z = 0; z < ss->ss_nr_zones; z++)
		ss->ss_zones[z].sz_name[sizeof ss->ss_zones[z].sz_name - 1] = 0;
}

double smi_age(const struct smi_snapshot *ss)
{
	uint64_t now = now_ns();
	return now > ss->ss_taken_ns ? (double)(now - ss->ss_taken_ns) / 1e9 : 0.0;
}

/* The same text as slabmalloc_slabinfo() in the process (/proc/slabinfo
 * version 2.1). */
void smi_print_slabinfo(FILE *out, const struct smi_snapshot *ss)
{
	fprintf(out, "slabinfo - version: 2.1\n");
	fprintf(out, "# name            <active_objs> <num_objs> <objsize> <objperslab> "
	             "<pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : "
	             "slabdata <active_slabs> <num_slabs> <sharedavail>\n");
	for (unsigned int i = 0; i < ss->ss_nr_caches; i++) {
		const struct smi_cache *c = &ss->ss_caches[i];
		fprintf(out, "%-17s %6lu %6lu %6u %4u %4u : tunables %4u %4u %4u : "
		             "slabdata %6lu %6lu %6lu\n",
		        c->sc_name, (unsigned long)c->sc_active_objs,
		        (unsigned long)c->sc_num_objs, c->sc_objsize, c->sc_objperslab,
		        c->sc_pagesperslab, c->sc_limit, c->sc_batch, c->sc_sharedfactor,
		        (unsigned long)c->sc_active_slabs, (unsigned long)c->sc_num_slabs,
		        (unsigned long)c->sc_sharedavail);
	}
}

void smi_print_buddyinfo(FILE *out, const struct smi_snapshot *ss)
{
	for (unsigned int z = 0; z < ss->ss_nr_zones; z++) {
		const struct smi_zone *zn = &ss->ss_zones[z];
		if (!zn->sz_present)
			continue;
		fprintf(out, "Node %d, zone %8s ", 0, zn->sz_name);
		for (unsigned int o = 0; o < ss->ss_nr_orders; o++)
			fprintf(out, "%6lu ", (unsigned long)zn->sz_nr_free[o]);
		fputc('\n', out);
	}
}

static void line_kb(FILE *out, const char *name, uint64_t bytes)
{
	fprintf(out, "%-16s%10lu kB\n", name, (unsigned long)(bytes >> 10));
}

void smi_print_meminfo(FILE *out, const struct smi_snapshot *ss)
{
	const struct smi_mem *m = &ss->ss_mem;
	line_kb(out, "HeapReserved:", m->sm_heap_reserved);
	line_kb(out, "HeapGrown:", m->sm_heap_grown);
	line_kb(out, "HeapOffline:", m->sm_heap_offline);
	line_kb(out, "PagesFree:", m->sm_pages_free);
	line_kb(out, "PagesDirty:", m->sm_pages_dirty);
	line_kb(out, "PagesPurged:", m->sm_pages_purged);
	line_kb(out, "Slab:", m->sm_slab);
	line_kb(out, "SlabActive:", m->sm_slab_active);
	line_kb(out, "Vmalloc:", m->sm_vmalloc);
	line_kb(out, "VmallocCached:", m->sm_vmalloc_cached);
	line_kb(out, "Bootmem:", m->sm_bootmem);
	line_kb(out, "BootmemUsed:", m->sm_bootmem_used);
	line_kb(out, "RSS:", m->sm_rss);
}
