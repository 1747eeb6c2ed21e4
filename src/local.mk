# The library, one folder per group of floors (the layer order is written
# once, in src/layers.txt, and checked by tests/unit/layering.sh):
#   src/base/  the OS, error reports, thread and init state
#   src/page/  bootmem, GFP policy, the buddy page allocator, vmalloc
#   src/slab/  slabs, magazines and the depot, kmalloc
#   src/top/   options, initialisation, thread exit and fork orchestration
#   src/api/   the exported entry points
# libslabmalloc_core is every object, with internal symbols visible to the
# unit tests; libslabmalloc exports only the malloc family and the
# slabmalloc_* API.
noinst_LTLIBRARIES += src/libslabmalloc_core.la
src_libslabmalloc_core_la_SOURCES = \
	src/internal.h src/page_alloc.h src/slab_internal.h src/kmalloc.h \
	src/introspect.h
src_libslabmalloc_core_la_LIBADD = $(PTHREAD_LIBS) $(LIBS)
EXTRA_DIST += src/layers.txt

include src/base/local.mk
include src/page/local.mk
include src/slab/local.mk
include src/top/local.mk
include src/api/local.mk

lib_LTLIBRARIES += src/libslabmalloc.la
src_libslabmalloc_la_SOURCES =
# A C++ member (api/cxx.cc): the library is linked as C++ (libstdc++).
nodist_EXTRA_src_libslabmalloc_la_SOURCES = src/dummy.cxx
src_libslabmalloc_la_LIBADD = src/libslabmalloc_core.la $(PTHREAD_LIBS)
# -z nodelete: dlclose never unmaps the library. Threads that used it
# still run its thread-exit hook (a pthread key destructor) when they exit,
# and its memory may still be referenced, so the code must stay mapped
# (docs/malloc.md, "Loading with dlopen").
src_libslabmalloc_la_LDFLAGS = -version-info $(SM_LT_VERSION) -no-undefined \
	-Wl,-z,nodelete -export-symbols-regex '$(SM_EXPORT_REGEX)'
SM_EXPORT_REGEX = ^(malloc|free|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|free_sized|free_aligned_sized|malloc_trim|mallinfo|mallinfo2|malloc_stats|mallopt|slabmalloc_.*|_Zn[wa]m.*|_Zd[la]Pv.*)$$

