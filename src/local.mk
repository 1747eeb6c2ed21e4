# The library. libslabmalloc_core is every object, with internal symbols
# visible to the unit tests; libslabmalloc exports only the malloc family
# and the slabmalloc_* API.
noinst_LTLIBRARIES += src/libslabmalloc_core.la
src_libslabmalloc_core_la_SOURCES = \
	src/internal.h src/page_alloc.h src/slab_internal.h
src_libslabmalloc_core_la_LIBADD = $(PTHREAD_LIBS) $(LIBS)

include src/page.mk
include src/slab.mk
include src/top.mk
include src/pool.mk

lib_LTLIBRARIES += src/libslabmalloc.la
src_libslabmalloc_la_SOURCES =
nodist_EXTRA_src_libslabmalloc_la_SOURCES = src/dummy.c
src_libslabmalloc_la_LIBADD = src/libslabmalloc_core.la $(PTHREAD_LIBS)
src_libslabmalloc_la_LDFLAGS = -version-info $(SM_LT_VERSION) -no-undefined \
	-export-symbols-regex '$(SM_EXPORT_REGEX)'
SM_EXPORT_REGEX = ^(malloc|free|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|free_sized|free_aligned_sized|malloc_trim|mallinfo|mallinfo2|malloc_stats|mallopt|slabmalloc_.*)$$
