/* SPDX-License-Identifier: MIT */
/*
 * introspect.h — the layout of the statistics segment that a process using
 * slabmalloc shares with slabmalloc-top and slabmalloc-ctl
 * (docs/introspection.md). Included by the library (top/introspect.c) and
 * by the tools (tools/smi.c); it depends on nothing else of the library.
 *
 * The segment is a file of the tmpfs /dev/shm, one per process:
 *
 *     /dev/shm/slabmalloc-UID/PID     directory 0700, file 0600
 *
 * UID is the process's effective user id when it started. The process
 * holds a write lock (fcntl F_SETLK, whole file) on it for as long as it
 * uses it: POSIX record locks belong to a process, are not inherited by
 * fork and go away with the process (or its exec), so F_GETLK tells a tool
 * whether PID still serves the file.
 *
 * Two channels share the segment:
 *   the snapshot   statistics the process publishes (a seqlock: smi_gen is
 *                  odd while a writer fills it), from its allocator slow
 *                  paths at most once per SMI_PUBLISH_NS, and from the
 *                  service thread on request;
 *   requests       a tool writes req_cmd/req_arg, then increments req_seq
 *                  and wakes it (a shared futex); the service thread serves
 *                  it and sets resp_seq to that value (and wakes it). The
 *                  thread is started by the first allocator slow path that
 *                  sees a request pending, and then stays.
 * Tools serialise among themselves with flock() on the file.
 */
#ifndef SM_INTROSPECT_H
#define SM_INTROSPECT_H

#include <stdint.h>

#define SMI_MAGIC        0x3154534d424c53ull   /* "SLBMST1" */
#define SMI_VERSION      2u
#define SMI_DIR_FMT      "/dev/shm/slabmalloc-%u"
#define SMI_NAME_MAX     32
#define SMI_MAX_CACHES   256
#define SMI_MAX_ORDER    16
#define SMI_NR_ZONES     2
#define SMI_ARG_MAX      64
#define SMI_TEXT_MAX     1024
/* The slow paths publish at most this often (a clock read decides). */
#define SMI_PUBLISH_NS   (1000ull * 1000 * 1000)

enum smi_cmd {
	SMI_CMD_NONE = 0,
	SMI_CMD_SNAPSHOT = 1,   /* publish a fresh snapshot */
	SMI_CMD_TRIM = 2,       /* malloc_trim(0) from the service thread */
	SMI_CMD_SHRINK = 3,     /* kmem_cache_shrink of the cache named req_arg */
	SMI_CMD_DEBUG = 4,      /* apply "debug=<req_arg>" (slub_debug flags) */
	SMI_CMD_LEAKS = 5,      /* the leak report of the tracked objects */
};

/* Where a snapshot came from. */
enum smi_source {
	SMI_SRC_START = 1,      /* at initialisation */
	SMI_SRC_SLOWPATH = 2,   /* an allocator slow path (try-locks only) */
	SMI_SRC_SERVICE = 3,    /* the service thread, on request */
};

/* One cache: the /proc/slabinfo 2.1 columns and the magazine rounds. */
struct smi_cache {
	char     sc_name[SMI_NAME_MAX];
	uint64_t sc_active_objs;    /* allocated (not in slabs nor magazines) */
	uint64_t sc_num_objs;       /* objects in all slabs */
	uint32_t sc_objsize;        /* object stride */
	uint32_t sc_objperslab;
	uint32_t sc_pagesperslab;
	uint32_t sc_limit;          /* depot magazine capacity */
	uint32_t sc_batch;
	uint32_t sc_sharedfactor;   /* magazine capacity limit */
	uint64_t sc_active_slabs;
	uint64_t sc_num_slabs;
	uint64_t sc_sharedavail;    /* rounds in the depot's full magazines */
	uint64_t sc_mag_rounds;     /* rounds in threads' magazines and depot */
};

struct smi_zone {
	char     sz_name[16];
	uint32_t sz_present;
	uint32_t sz_pad;
	uint64_t sz_nr_free[SMI_MAX_ORDER];
};

/* The meminfo-style summary, in bytes. */
struct smi_mem {
	uint64_t sm_heap_reserved, sm_heap_grown, sm_pages_free, sm_pages_dirty,
	         sm_pages_purged, sm_slab, sm_slab_active, sm_vmalloc,
	         sm_vmalloc_cached, sm_bootmem, sm_bootmem_used, sm_rss;
	uint64_t sm_heap_offline;   /* grown, given back to the system (offline) */
};

struct smi_snapshot {
	uint64_t ss_taken_ns;       /* CLOCK_MONOTONIC when filled */
	uint32_t ss_source;         /* enum smi_source */
	uint32_t ss_nr_caches;
	uint32_t ss_nr_orders;
	uint32_t ss_nr_zones;
	uint64_t ss_count;          /* snapshots published so far */
	struct smi_mem   ss_mem;
	struct smi_zone  ss_zones[SMI_NR_ZONES];
	struct smi_cache ss_caches[SMI_MAX_CACHES];
};

struct smi_segment {
	uint64_t smi_magic;
	uint32_t smi_version;
	uint32_t smi_size;          /* sizeof(struct smi_segment) */
	int32_t  smi_pid;
	uint32_t smi_uid;
	uint64_t smi_start_ns;      /* CLOCK_MONOTONIC at creation */
	uint32_t smi_service;       /* 1 once the service thread runs */
	uint32_t smi_pad0;
	/* requests (futex words: 32-bit, naturally aligned) */
	uint32_t req_seq;           /* incremented by a tool per request */
	uint32_t resp_seq;          /* = req_seq of the last request served */
	uint32_t req_cmd;           /* enum smi_cmd */
	int32_t  resp_status;       /* 0, or a negative errno */
	char     req_arg[SMI_ARG_MAX];
	char     resp_text[SMI_TEXT_MAX];
	/* the snapshot, under the seqlock smi_gen */
	uint32_t smi_gen;
	uint32_t smi_pad1;
	struct smi_snapshot snap;
};

#endif /* SM_INTROSPECT_H */
