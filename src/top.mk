# Top of the stack: kmalloc, malloc, options, stats, init.
src_libslabmalloc_core_la_SOURCES += src/init.c src/layers.c src/gfp.c src/options.c \
	src/kmalloc.h src/kmalloc.c src/malloc.c src/stats.c

bin_SCRIPTS += tools/slabmalloc
EXTRA_DIST += tools/slabmalloc.in tools/install-deps tools/setup
