# Benchmarks (bench/): built by `make bench`.
