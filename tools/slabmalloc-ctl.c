/* SPDX-License-Identifier: MIT */
/*
 * slabmalloc-ctl — one-shot reads and control of a running process that
 * uses slabmalloc (man slabmalloc-ctl(1), docs/introspection.md).
 *
 *   slabmalloc-ctl [--timeout=MS] PID slabinfo|buddyinfo|meminfo
 *   slabmalloc-ctl [--timeout=MS] PID trim
 *   slabmalloc-ctl [--timeout=MS] PID shrink CACHE
 *   slabmalloc-ctl [--timeout=MS] PID debug FLAGS[:CACHE/CACHE...]
 *   slabmalloc-ctl [--timeout=MS] PID leaks
 */
#include "config.h"
#include "smi.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: slabmalloc-ctl [--timeout=MS] PID COMMAND\n"
	        "commands:\n"
	        "  slabinfo       the process's caches, in /proc/slabinfo 2.1 format\n"
	        "  buddyinfo      free page blocks per order, /proc/buddyinfo format\n"
	        "  meminfo        a /proc/meminfo-style summary of the allocator\n"
	        "  trim           give free memory back to the OS now (malloc_trim)\n"
	        "  shrink CACHE   release the idle memory of one cache\n"
	        "  debug FLAGS[:CACHE/...]  switch slub_debug checks (FZPUL, or off)\n"
	        "  leaks          objects still allocated, by allocation site (tracked\n"
	        "                 objects: those allocated while debug=U or leak= was on)\n");
}

int main(int argc, char **argv)
{
	int timeout_ms = 1000;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return SMI_EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("slabmalloc-ctl %s\n", PACKAGE_VERSION);
			return SMI_EXIT_OK;
		} else if (strncmp(argv[i], "--timeout=", 10) == 0) {
			timeout_ms = atoi(argv[i] + 10);
			if (timeout_ms <= 0) {
				fprintf(stderr, "slabmalloc-ctl: bad timeout '%s'\n", argv[i] + 10);
				return SMI_EXIT_USAGE;
			}
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			fprintf(stderr, "slabmalloc-ctl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return SMI_EXIT_USAGE;
		}
	}
	if (argc - i < 2) {
		usage(stderr);
		return SMI_EXIT_USAGE;
	}
	int pid = smi_parse_pid(argv[i]);
	const char *cmd = argv[i + 1];
	const char *arg = argc - i > 2 ? argv[i + 2] : NULL;
	if (pid < 0) {
		fprintf(stderr, "slabmalloc-ctl: '%s' is not a process id\n", argv[i]);
		return SMI_EXIT_USAGE;
	}
	unsigned int code;
	bool control = false;
	if (!strcmp(cmd, "slabinfo") || !strcmp(cmd, "buddyinfo") || !strcmp(cmd, "meminfo")) {
		code = SMI_CMD_SNAPSHOT;
	} else if (!strcmp(cmd, "trim")) {
		code = SMI_CMD_TRIM;
		control = true;
	} else if (!strcmp(cmd, "shrink")) {
		code = SMI_CMD_SHRINK;
		control = true;
		if (!arg || strlen(arg) >= SMI_NAME_MAX) {
			fprintf(stderr, "slabmalloc-ctl: shrink needs a cache name "
			        "(as slabinfo shows it)\n");
			return SMI_EXIT_USAGE;
		}
	} else if (!strcmp(cmd, "debug")) {
		code = SMI_CMD_DEBUG;
		control = true;
		if (!arg || strlen(arg) >= SMI_ARG_MAX) {
			fprintf(stderr, "slabmalloc-ctl: debug needs FLAGS[:CACHE/CACHE...] "
			        "(for example FZ:kmalloc-64, or off), shorter than %d bytes\n",
			        SMI_ARG_MAX);
			return SMI_EXIT_USAGE;
		}
	} else if (!strcmp(cmd, "leaks")) {
		code = SMI_CMD_LEAKS;
		control = true;
	} else {
		fprintf(stderr, "slabmalloc-ctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return SMI_EXIT_USAGE;
	}
	if (arg && code != SMI_CMD_SHRINK && code != SMI_CMD_DEBUG) {
		fprintf(stderr, "slabmalloc-ctl: %s takes no argument\n", cmd);
		return SMI_EXIT_USAGE;
	}

	struct smi_client cl;
	char err[512];
	int rc = smi_attach(pid, &cl, err, sizeof err);
	if (rc) {
		fprintf(stderr, "slabmalloc-ctl: %s\n", err);
		return rc;
	}
	bool served = smi_request(&cl, code, arg, timeout_ms);
	if (!served && !smi_alive(pid)) {
		fprintf(stderr, "slabmalloc-ctl: process %d (%s) has exited\n", pid, cl.comm);
		smi_detach(&cl);
		return SMI_EXIT_TARGET;
	}
	if (control) {
		if (!served) {
			fprintf(stderr, "slabmalloc-ctl: process %d (%s) has made no allocator "
			        "call within %d ms, so its service thread has not started; the "
			        "request stays queued and runs at its next allocator call\n",
			        pid, cl.comm, timeout_ms);
			smi_detach(&cl);
			return SMI_EXIT_TIMEOUT;
		}
		char text[SMI_TEXT_MAX];
		memcpy(text, cl.seg->resp_text, sizeof text);
		text[sizeof text - 1] = 0;
		int status = cl.seg->resp_status;
		fputs(text, status ? stderr : stdout);
		smi_detach(&cl);
		return status ? SMI_EXIT_USAGE : SMI_EXIT_OK;
	}
	static struct smi_snapshot ss;
	smi_read(&cl, &ss);
	if (!served)
		fprintf(stderr, "slabmalloc-ctl: process %d (%s) made no allocator call "
		        "within %d ms; these figures are from its last slow path, "
		        "%.1f s ago\n", pid, cl.comm, timeout_ms, smi_age(&ss));
	if (!strcmp(cmd, "slabinfo"))
		smi_print_slabinfo(stdout, &ss);
	else if (!strcmp(cmd, "buddyinfo"))
		smi_print_buddyinfo(stdout, &ss);
	else
		smi_print_meminfo(stdout, &ss);
	smi_detach(&cl);
	return fflush(stdout) == 0 ? SMI_EXIT_OK : SMI_EXIT_USAGE;
}
