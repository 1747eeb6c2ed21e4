# In-place resizing of exact page ranges (buddy_resize_exact) and of large
# kmalloc blocks through realloc.
unit_tests += tests/unit/buddy_resize.t
check_PROGRAMS += tests/unit/buddy_resize.t
tests_unit_buddy_resize_t_SOURCES = tests/unit/buddy_resize.c
tests_unit_buddy_resize_t_LDADD = $(TEST_LIB_CORE)
