# Slab and magazine layer unit tests (tests/unit/).
unit_tests += tests/unit/slab_cache.t tests/unit/slab_bad.t tests/unit/mag_threads.t
check_PROGRAMS += tests/unit/slab_cache.t tests/unit/slab_bad.t tests/unit/mag_threads.t
tests_unit_slab_cache_t_SOURCES = tests/unit/slab_cache.c
tests_unit_slab_cache_t_LDADD = $(TEST_LIB_CORE)
tests_unit_slab_bad_t_SOURCES = tests/unit/slab_bad.c
tests_unit_slab_bad_t_LDADD = $(TEST_LIB_CORE)
tests_unit_mag_threads_t_SOURCES = tests/unit/mag_threads.c
tests_unit_mag_threads_t_LDADD = $(TEST_LIB_CORE)
unit_tests += tests/unit/mag_budget.t
check_PROGRAMS += tests/unit/mag_budget.t
tests_unit_mag_budget_t_SOURCES = tests/unit/mag_budget.c
tests_unit_mag_budget_t_LDADD = $(TEST_LIB_CORE)
