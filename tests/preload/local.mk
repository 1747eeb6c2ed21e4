# Preload tier: real programs run under LD_PRELOAD=libslabmalloc.so.
preload_tests += tests/preload/exports.sh tests/preload/interpose.sh \
	tests/preload/programs.sh tests/preload/redis.sh tests/preload/vg.sh
check_PROGRAMS += tests/preload/own_kmalloc tests/preload/cxx_threads \
	tests/preload/vg_misuse
tests_preload_own_kmalloc_SOURCES = tests/preload/own_kmalloc.c
tests_preload_cxx_threads_SOURCES = tests/preload/cxx_threads.cc
tests_preload_cxx_threads_LDADD = $(PTHREAD_LIBS)
EXTRA_DIST += tests/preload/lib.sh $(preload_tests)
tests_preload_vg_misuse_SOURCES = tests/preload/vg_misuse.c
tests_preload_vg_misuse_CFLAGS = $(AM_CFLAGS) -g -O0 -fno-builtin -Wno-array-bounds
