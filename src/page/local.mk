# Page floors: bootmem, the GFP policy and fault injection, the buddy page
# allocator (zones, struct page, per-thread page lists), huge mappings,
# sampled guarded allocations.
src_libslabmalloc_core_la_SOURCES += \
	src/page/bootmem.c src/page/gfp.c src/page/buddy.c src/page/vmalloc.c \
	src/page/kfence.c
