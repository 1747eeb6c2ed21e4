# Base floor: system calls, error reports, thread and initialisation state.
# Calls nothing of slabmalloc.
src_libslabmalloc_core_la_SOURCES += \
	src/base/os.c src/base/report.c src/base/thread.c src/base/bgthread.c
