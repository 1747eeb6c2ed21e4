# vmalloc.c's cache of freed huge kmalloc mappings (tests/unit/vmap_cache.c).
unit_tests += tests/unit/vmap_cache.t
check_PROGRAMS += tests/unit/vmap_cache.t
tests_unit_vmap_cache_t_SOURCES = tests/unit/vmap_cache.c
tests_unit_vmap_cache_t_LDADD = $(TEST_LIB_CORE)
# The test frees and reuses on purpose: the compiler must not treat
# malloc/free/memset as builtins (drop pairs, dead stores before free).
tests_unit_vmap_cache_t_CFLAGS = $(AM_CFLAGS) -fno-builtin
