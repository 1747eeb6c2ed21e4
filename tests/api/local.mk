# API conformance tier: programs linked with the public shared library.
api_tests += tests/api/malloc_api.t tests/api/malloc_bad.t tests/api/malloc_threads.t
check_PROGRAMS += tests/api/malloc_api.t tests/api/malloc_bad.t tests/api/malloc_threads.t
tests_api_malloc_api_t_SOURCES = tests/api/malloc_api.c
tests_api_malloc_api_t_LDADD = $(TEST_LIB_PUBLIC)
tests_api_malloc_api_t_LDFLAGS = -no-install
tests_api_malloc_api_t_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_api_malloc_bad_t_SOURCES = tests/api/malloc_bad.c
tests_api_malloc_bad_t_LDADD = $(TEST_LIB_PUBLIC)
tests_api_malloc_bad_t_LDFLAGS = -no-install
tests_api_malloc_bad_t_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_api_malloc_threads_t_SOURCES = tests/api/malloc_threads.c
tests_api_malloc_threads_t_LDADD = $(TEST_LIB_PUBLIC)
tests_api_malloc_threads_t_LDFLAGS = -no-install
tests_api_malloc_threads_t_CFLAGS = $(AM_CFLAGS) -fno-builtin
