# Stress tier: randomized, multi-threaded, byte-verified.
stress_tests += tests/stress/mixed.t
check_PROGRAMS += tests/stress/mixed.t
tests_stress_mixed_t_SOURCES = tests/stress/mixed.c
tests_stress_mixed_t_LDADD = $(TEST_LIB_CORE)
stress_tests += tests/stress/debug.sh
EXTRA_DIST += tests/stress/debug.sh
