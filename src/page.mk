# Page layer: OS, bootmem, buddy, vmalloc/ioremap.
src_libslabmalloc_core_la_SOURCES += \
	src/os.c src/bootmem.c src/buddy.c src/vmalloc.c
