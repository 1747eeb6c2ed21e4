# Preload tier: real programs run under LD_PRELOAD=libslabmalloc.so, and the
# library loaded as a plugin with dlopen.
preload_scripts = tests/preload/exports.sh tests/preload/interpose.sh \
	tests/preload/programs.sh tests/preload/redis.sh tests/preload/aslimit.sh \
	tests/preload/dlopen_python.sh tests/preload/fork.sh tests/preload/vg.sh \
	tests/preload/introspect.sh
preload_tests += $(preload_scripts) tests/preload/dlopen.t
check_PROGRAMS += tests/preload/own_kmalloc tests/preload/cxx_threads tests/preload/aslimit \
	tests/preload/fork_stdio tests/preload/fork_signal tests/preload/vg_misuse \
	tests/preload/smi_target
tests_preload_own_kmalloc_SOURCES = tests/preload/own_kmalloc.c
tests_preload_cxx_threads_SOURCES = tests/preload/cxx_threads.cc
tests_preload_cxx_threads_LDADD = $(PTHREAD_LIBS)
tests_preload_aslimit_SOURCES = tests/preload/aslimit.c
tests_preload_aslimit_CFLAGS = $(AM_CFLAGS) $(PTHREAD_CFLAGS) -fno-builtin
tests_preload_aslimit_LDADD = $(PTHREAD_LIBS)
# dlopen(RTLD_LOCAL), threads, dlclose, thread exit: a C program that loads
# $SM_LIB (dlopen_python.sh does the same from python3's ctypes).
check_PROGRAMS += tests/preload/dlopen.t
tests_preload_dlopen_t_SOURCES = tests/preload/dlopen.c
tests_preload_dlopen_t_LDADD = $(PTHREAD_LIBS)
EXTRA_DIST += tests/preload/lib.sh $(preload_scripts)
# The api tier's fork tests, built against the C library alone.
tests_preload_fork_stdio_SOURCES = tests/api/fork_stdio.c
tests_preload_fork_stdio_LDADD = $(PTHREAD_LIBS)
tests_preload_fork_stdio_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_preload_fork_signal_SOURCES = tests/api/fork_signal.c
tests_preload_fork_signal_CFLAGS = $(AM_CFLAGS) -fno-builtin
# valgrind's client requests: a program with misuses run under memcheck.
tests_preload_vg_misuse_SOURCES = tests/preload/vg_misuse.c
tests_preload_vg_misuse_CFLAGS = $(AM_CFLAGS) -g -O0 -fno-builtin -Wno-array-bounds
tests_preload_smi_target_SOURCES = tests/preload/smi_target.c
tests_preload_smi_target_LDADD = $(PTHREAD_LIBS)
