# Page layer unit tests (tests/unit/): OS, bootmem, buddy, vmalloc/ioremap.
unit_tests += tests/unit/buddy.t tests/unit/buddy_decay.t tests/unit/pages_api.t \
	tests/unit/buddy_sparse.t tests/unit/bootmem.t tests/unit/vmalloc.t tests/unit/page_bad.t tests/unit/os.t
check_PROGRAMS += tests/unit/buddy.t tests/unit/buddy_decay.t tests/unit/pages_api.t \
	tests/unit/buddy_sparse.t tests/unit/bootmem.t tests/unit/vmalloc.t tests/unit/page_bad.t tests/unit/os.t
tests_unit_buddy_t_SOURCES = tests/unit/buddy.c
tests_unit_buddy_t_LDADD = $(TEST_LIB_CORE)
tests_unit_buddy_sparse_t_SOURCES = tests/unit/buddy_sparse.c
tests_unit_buddy_sparse_t_LDADD = $(TEST_LIB_CORE)
tests_unit_buddy_decay_t_SOURCES = tests/unit/buddy_decay.c
tests_unit_buddy_decay_t_LDADD = $(TEST_LIB_CORE)
tests_unit_pages_api_t_SOURCES = tests/unit/pages_api.c
tests_unit_pages_api_t_LDADD = $(TEST_LIB_CORE)
tests_unit_bootmem_t_SOURCES = tests/unit/bootmem.c
tests_unit_bootmem_t_LDADD = $(TEST_LIB_CORE)
tests_unit_vmalloc_t_SOURCES = tests/unit/vmalloc.c
tests_unit_vmalloc_t_LDADD = $(TEST_LIB_CORE)
tests_unit_page_bad_t_SOURCES = tests/unit/page_bad.c
tests_unit_page_bad_t_LDADD = $(TEST_LIB_CORE)
tests_unit_os_t_SOURCES = tests/unit/os.c
tests_unit_os_t_LDADD = $(TEST_LIB_CORE)
# A steady workload of large blocks reaches a steady heap.
unit_tests += tests/unit/heap_steady.t
check_PROGRAMS += tests/unit/heap_steady.t
tests_unit_heap_steady_t_SOURCES = tests/unit/heap_steady.c
tests_unit_heap_steady_t_LDADD = $(TEST_LIB_CORE)
# The per-thread page lists share one budget across threads.
unit_tests += tests/unit/pcp_budget.t
check_PROGRAMS += tests/unit/pcp_budget.t
tests_unit_pcp_budget_t_SOURCES = tests/unit/pcp_budget.c
tests_unit_pcp_budget_t_LDADD = $(TEST_LIB_CORE)
# Descriptors of free, purged sections and of the window cost no RSS.
unit_tests += tests/unit/buddy_descmap.t
check_PROGRAMS += tests/unit/buddy_descmap.t
tests_unit_buddy_descmap_t_SOURCES = tests/unit/buddy_descmap.c
tests_unit_buddy_descmap_t_LDADD = $(TEST_LIB_CORE)
EXTRA_DIST += tests/unit/no_bg_purge.h
# Wholly free, purged sections are unmapped and come back on growth.
unit_tests += tests/unit/buddy_offline.t
check_PROGRAMS += tests/unit/buddy_offline.t
tests_unit_buddy_offline_t_SOURCES = tests/unit/buddy_offline.c
tests_unit_buddy_offline_t_LDADD = $(TEST_LIB_CORE)
