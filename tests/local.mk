# Test tiers. Each fragment adds its programs to check_PROGRAMS and its
# tests to its tier. Each tier runs alone: make check-unit, check-api,
# check-preload, check-stress, check-install; `make check` runs them all.
unit_tests =
api_tests =
preload_tests =
stress_tests =
install_tests =
TEST_LIB_CORE = src/libslabmalloc_core.la $(PTHREAD_LIBS)
TEST_LIB_PUBLIC = src/libslabmalloc.la $(PTHREAD_LIBS)
EXTRA_DIST += tests/tap.h tests/run

include tests/unit/page.mk
include tests/unit/slab.mk
include tests/unit/pool.mk
include tests/unit/top.mk
include tests/unit/vmap.mk
include tests/unit/resize.mk
include tests/api/local.mk
include tests/preload/local.mk
include tests/stress/local.mk
include tests/install/local.mk

TESTS += $(unit_tests) $(api_tests) $(preload_tests) $(stress_tests) $(install_tests)

check-unit:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(unit_tests)'
check-api:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(api_tests)'
check-preload:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(preload_tests)'
check-stress:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(stress_tests)'
check-install:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(install_tests)'
.PHONY: check-unit check-api check-preload check-stress check-install
