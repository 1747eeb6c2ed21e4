# Slab and magazine layers.
src_libslabmalloc_core_la_SOURCES += src/slab.c src/magazine.c
