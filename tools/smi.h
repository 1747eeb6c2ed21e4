/* SPDX-License-Identifier: MIT */
/*
 * smi.h — the client side of slabmalloc's introspection segment, shared by
 * slabmalloc-top and slabmalloc-ctl (docs/introspection.md): find and check
 * a process's segment, send it a request, read its snapshot, print the
 * /proc-style texts.
 */
#ifndef SMI_CLIENT_H
#define SMI_CLIENT_H

#include <stdbool.h>
#include <stdio.h>
#include "introspect.h"

/* Exit statuses of the tools. */
enum {
	SMI_EXIT_OK = 0,
	SMI_EXIT_USAGE = 1,     /* bad command line, or a request refused */
	SMI_EXIT_TARGET = 2,    /* no such process, not using slabmalloc, denied */
	SMI_EXIT_TIMEOUT = 3,   /* a control request the process has not served */
};

struct smi_client {
	int pid;
	int fd;
	struct smi_segment *seg;
	size_t map_len;
	char comm[64];
	char path[96];
};

/* Open the segment of @pid and check that the process lives and serves it.
 * RETURNS: 0, or SMI_EXIT_TARGET with a one-line reason in @err. */
int smi_attach(int pid, struct smi_client *cl, char *err, size_t errlen);
void smi_detach(struct smi_client *cl);
/* Send @cmd (with @arg, may be NULL) and wait up to @timeout_ms for the
 * answer. RETURNS: true if the process served it. */
bool smi_request(struct smi_client *cl, unsigned int cmd, const char *arg,
                 int timeout_ms);
/* Copy the published snapshot (retrying while a writer is in it). */
void smi_read(struct smi_client *cl, struct smi_snapshot *ss);
/* Seconds since @ss was taken. */
double smi_age(const struct smi_snapshot *ss);
/* Does /proc/PID still exist (and is it not a zombie)? */
bool smi_alive(int pid);

void smi_print_slabinfo(FILE *out, const struct smi_snapshot *ss);
void smi_print_buddyinfo(FILE *out, const struct smi_snapshot *ss);
void smi_print_meminfo(FILE *out, const struct smi_snapshot *ss);
/* Parse a PID argument (a positive decimal number). RETURNS: it, or -1. */
int smi_parse_pid(const char *s);

#endif
