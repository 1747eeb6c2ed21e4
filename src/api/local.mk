# API floors: the exported entry points (the malloc family and the
# kernel-style API), then the facilities built on that API: mempool and
# per-CPU variables; and the introspection service behind slabmalloc-top
# and slabmalloc-ctl, which nothing calls (it sets a base-floor hook).
src_libslabmalloc_core_la_SOURCES += \
	src/api/malloc.c src/api/slab_api.c src/api/page_api.c \
	src/api/vmalloc_api.c src/api/control.c \
	src/api/mempool.c src/api/percpu.c \
	src/api/introspect.c
