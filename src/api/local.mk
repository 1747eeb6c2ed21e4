# API floors: the exported entry points (the malloc family and the
# kernel-style API), then the facilities built on that API: mempool and
# per-CPU variables.
src_libslabmalloc_core_la_SOURCES += \
	src/api/malloc.c src/api/slab_api.c src/api/page_api.c \
	src/api/vmalloc_api.c src/api/control.c \
	src/api/mempool.c src/api/percpu.c
