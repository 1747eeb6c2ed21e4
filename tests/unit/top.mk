# kmalloc, malloc internals, options (tests/unit/).
unit_tests += tests/unit/kmalloc.t tests/unit/options.t
check_PROGRAMS += tests/unit/kmalloc.t tests/unit/options.t
tests_unit_kmalloc_t_SOURCES = tests/unit/kmalloc.c
tests_unit_kmalloc_t_LDADD = $(TEST_LIB_CORE)
tests_unit_options_t_SOURCES = tests/unit/options.c
tests_unit_options_t_LDADD = $(TEST_LIB_CORE)
