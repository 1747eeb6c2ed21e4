# Top: run-time options, the statistics report and the live statistics
# segment (introspect.c), then initialisation, thread exit and fork
# handlers (init.c, with the list of layers in layers.c).
src_libslabmalloc_core_la_SOURCES += \
	src/top/options.c src/top/stats.c src/top/introspect.c \
	src/top/init.c src/top/layers.c
