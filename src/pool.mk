# Beside the stack: mempool (reserved pools) and percpu (per-CPU variables).
# The GFP policy and fault injection (src/gfp.c) are listed in top.mk.
src_libslabmalloc_core_la_SOURCES += src/mempool.c src/percpu.c
