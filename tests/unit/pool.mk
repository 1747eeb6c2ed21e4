# Unit tests of mempool, per-CPU variables and fault injection (tests/unit/).
pool_unit_tests = tests/unit/mempool.t tests/unit/mempool_helpers.t \
	tests/unit/percpu.t tests/unit/failslab.t
unit_tests += $(pool_unit_tests)
check_PROGRAMS += $(pool_unit_tests)
tests_unit_mempool_t_SOURCES = tests/unit/mempool.c
tests_unit_mempool_t_LDADD = $(TEST_LIB_CORE)
tests_unit_mempool_helpers_t_SOURCES = tests/unit/mempool_helpers.c
tests_unit_mempool_helpers_t_LDADD = $(TEST_LIB_CORE)
tests_unit_percpu_t_SOURCES = tests/unit/percpu.c tests/unit/percpu_a.c \
	tests/unit/percpu_b.c tests/unit/percpu_ab.h
tests_unit_percpu_t_LDADD = $(TEST_LIB_CORE)
tests_unit_failslab_t_SOURCES = tests/unit/failslab.c
tests_unit_failslab_t_LDADD = $(TEST_LIB_CORE)
