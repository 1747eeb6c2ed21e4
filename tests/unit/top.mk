# kmalloc, malloc internals, options (tests/unit/).
unit_tests += tests/unit/kmalloc.t tests/unit/options.t tests/unit/gfp.t
check_PROGRAMS += tests/unit/kmalloc.t tests/unit/options.t tests/unit/gfp.t
tests_unit_kmalloc_t_SOURCES = tests/unit/kmalloc.c
tests_unit_kmalloc_t_LDADD = $(TEST_LIB_CORE)
tests_unit_options_t_SOURCES = tests/unit/options.c
tests_unit_options_t_LDADD = $(TEST_LIB_CORE)
tests_unit_gfp_t_SOURCES = tests/unit/gfp.c
tests_unit_gfp_t_LDADD = $(TEST_LIB_CORE)
# The layer order of src/layers.txt, checked on the built objects with nm.
unit_tests += tests/unit/layering.sh
dist_noinst_SCRIPTS += tests/unit/layering.sh
# The man pages: lint, rendering, aliases, every option documented.
unit_tests += tests/unit/man.sh
dist_noinst_SCRIPTS += tests/unit/man.sh
# The background purge thread: memory goes back with no further call.
unit_tests += tests/unit/bg_purge.t
check_PROGRAMS += tests/unit/bg_purge.t
tests_unit_bg_purge_t_SOURCES = tests/unit/bg_purge.c
tests_unit_bg_purge_t_LDADD = $(TEST_LIB_CORE)
