# Page floors: bootmem, the GFP policy and fault injection, the buddy page
# allocator (zones, struct page, per-thread page lists), huge mappings.
src_libslabmalloc_core_la_SOURCES += \
	src/page/bootmem.c src/page/gfp.c src/page/buddy.c src/page/vmalloc.c
