# Object floors: slabs, per-thread magazines and the depot (with the cache
# life cycle), and kmalloc's size classes.
src_libslabmalloc_core_la_SOURCES += \
	src/slab/slab.c src/slab/debug.c src/slab/magazine.c src/slab/kmalloc.c
