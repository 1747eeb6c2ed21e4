# Benchmarks (bench/): the C workloads (the shim), their Google Benchmark
# registration, the callgrind pair counter, and the comparison script.
#
#   make bench      builds bench/bench_alloc and bench/callgrind_pair (needs
#                   libbenchmark-dev; without it, says so and succeeds)
#   bench/compare   runs them under every allocator: see bench/README.md
#
# Neither program links libslabmalloc: they run under each allocator through
# LD_PRELOAD and find slabmalloc's own API with dlsym. `make` alone builds
# neither; `make check` builds both (bench_alloc only when Google Benchmark
# was found) for the smoke test.
BENCH_WORKLOADS = bench/workloads.h bench/workloads.c bench/wl_threads.c \
	bench/wl_kernel.c bench/wl_memory.c bench/wl_single.c

bench_bench_alloc_SOURCES = bench/bench_main.cc $(BENCH_WORKLOADS)
bench_bench_alloc_CXXFLAGS = $(AM_CXXFLAGS) $(BENCHMARK_CFLAGS)
bench_bench_alloc_LDADD = $(BENCHMARK_LIBS) $(PTHREAD_LIBS) $(LIBS) -lm

check_PROGRAMS += bench/callgrind_pair
bench_callgrind_pair_SOURCES = bench/callgrind_pair.c $(BENCH_WORKLOADS)
bench_callgrind_pair_LDADD = $(PTHREAD_LIBS) $(LIBS) -lm

# The steady-heap time series (a program of its own: bench/README.md).
check_PROGRAMS += bench/steady
bench_steady_SOURCES = bench/steady.c $(BENCH_WORKLOADS)
bench_steady_CFLAGS = $(AM_CFLAGS) -fno-builtin
bench_steady_LDADD = $(PTHREAD_LIBS) $(LIBS) -lm

if HAVE_BENCHMARK
check_PROGRAMS += bench/bench_alloc
bench: bench/bench_alloc$(EXEEXT) bench/callgrind_pair$(EXEEXT) bench/steady$(EXEEXT)
else
bench: bench/callgrind_pair$(EXEEXT) bench/steady$(EXEEXT)
	@echo "Google Benchmark not found (apt-get install libbenchmark-dev): skipping bench/bench_alloc"
endif
.PHONY: bench

preload_tests += bench/smoke.sh
EXTRA_DIST += bench/compare bench/smoke.sh bench/README.md bench/RESULTS.md \
	bench/idle_python bench/idle_python.py \
	bench/ratios.png
