#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/smoke.sh — the benchmark harness works (preload tier, TAP).
#
# Not a measurement: every workload of bench/bench_alloc runs one short
# iteration (--bench_smoke) under LD_PRELOAD=$SM_LIB and once more, the
# kernel-API workloads only, without it; the JSON must hold one result per
# workload, name the allocator, and show which path (slabmalloc API or
# baseline) each kernel-API workload took; bench/compare --parse-only must
# turn that JSON into its tables; callgrind_pair must run in every mode.
# No timing is asserted.
#
# Environment (set by the test harness): top_srcdir, top_builddir, SM_LIB.
set -u

bench="$top_builddir/bench/bench_alloc"
cgpair="$top_builddir/bench/callgrind_pair"
compare="$top_srcdir/bench/compare"

if [ ! -x "$bench" ]; then
	echo "1..0 # SKIP no Google Benchmark (bench/bench_alloc not built)"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sm-bench-smoke.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
diag_file() { sed 's/^/# /' "$1" | tail -n 15; }

# A hung allocator must fail the test, not the whole run.
limit=""
command -v timeout >/dev/null 2>&1 && limit="timeout 600"

have_python=no
command -v python3 >/dev/null 2>&1 && have_python=yes

# check_json FILE EXPECTED_ALLOCATOR EXPECTED_LABEL NAMES_FILE
# Every listed workload has exactly one result, none failed, the context
# names the allocator, and every labelled (kernel-API) result has the label.
check_json() {
	python3 - "$@" <<'EOF'
import json, re, sys
path, allocator, label, names_file = sys.argv[1:5]
noise = re.compile(r"/(iterations:\d+|real_time)")
try:
    doc = json.load(open(path))
except (OSError, ValueError) as e:
    print("# %s: not JSON (%s)" % (path, e))
    sys.exit(1)
want = [noise.sub("", l.strip()) for l in open(names_file) if l.strip()]
got = [noise.sub("", b["name"]) for b in doc["benchmarks"]]
problems = []
if doc.get("context", {}).get("allocator") != allocator:
    problems.append("context allocator is %r, expected %r"
                    % (doc.get("context", {}).get("allocator"), allocator))
if sorted(got) != sorted(want):
    problems.append("results %s differ from the workloads %s" % (got, want))
for b in doc["benchmarks"]:
    if b.get("error_occurred"):
        problems.append("%s: %s" % (b["name"], b.get("error_message")))
    if b.get("label") and b["label"] != label:
        problems.append("%s took the %r path, expected %r" % (b["name"], b["label"], label))
    if not b.get("peak_rss_kb", 0) > 0:
        problems.append("%s: no peak_rss_kb counter" % b["name"])
labelled = [b["name"] for b in doc["benchmarks"] if b.get("label")]
if not labelled:
    problems.append("no kernel-API workload reported its path")
for p in problems:
    print("# " + p)
sys.exit(1 if problems else 0)
EOF
}

# 1: the library under test exists.
if [ -f "$SM_LIB" ]; then
	ok "libslabmalloc.so is built ($SM_LIB)"
else
	not_ok "libslabmalloc.so is built ($SM_LIB)"
fi

# 2-3: every workload, one short iteration, under slabmalloc.
"$bench" --benchmark_list_tests > "$tmp/all.names" 2> "$tmp/list.err"
if [ $? -eq 0 ] && [ -s "$tmp/all.names" ]; then
	ok "bench_alloc lists $(wc -l < "$tmp/all.names") workloads"
else
	not_ok "bench_alloc lists its workloads"
	diag_file "$tmp/list.err"
fi

$limit env LD_PRELOAD="$SM_LIB" "$bench" --bench_smoke --benchmark_format=json \
	> "$tmp/slabmalloc.json" 2> "$tmp/slabmalloc.err"
status=$?
if [ $status -eq 0 ]; then
	ok "every workload runs under LD_PRELOAD=libslabmalloc.so"
else
	not_ok "every workload runs under LD_PRELOAD=libslabmalloc.so (exit status $status)"
	diag_file "$tmp/slabmalloc.err"
fi

# 4: its JSON is complete and says slabmalloc's API was used.
if [ $have_python = no ]; then
	skip "no python3 to read the JSON"
elif check_json "$tmp/slabmalloc.json" slabmalloc "slabmalloc API" "$tmp/all.names"; then
	ok "JSON has one result per workload, allocator slabmalloc, kernel API used, peak RSS reported"
else
	not_ok "JSON has one result per workload, allocator slabmalloc, kernel API used, peak RSS reported"
fi

# 5-6: the kernel-API workloads without slabmalloc run their baseline.
filter='^(kmem_cache_ctor|mempool|pages)/'
"$bench" --benchmark_list_tests --benchmark_filter="$filter" > "$tmp/api.names" 2>/dev/null
$limit env -u LD_PRELOAD "$bench" --bench_smoke --benchmark_format=json \
	--benchmark_filter="$filter" > "$tmp/glibc.json" 2> "$tmp/glibc.err"
status=$?
if [ $status -eq 0 ]; then
	ok "kernel-API workloads run without slabmalloc"
else
	not_ok "kernel-API workloads run without slabmalloc (exit status $status)"
	diag_file "$tmp/glibc.err"
fi
if [ $have_python = no ]; then
	skip "no python3 to read the JSON"
elif check_json "$tmp/glibc.json" glibc baseline "$tmp/api.names"; then
	ok "without slabmalloc they take the malloc baseline under the same names"
else
	not_ok "without slabmalloc they take the malloc baseline under the same names"
fi

# 7-8: compare parses its own input format back into tables.
if [ $have_python = no ]; then
	skip "no python3 for bench/compare"
	skip "no python3 for bench/compare"
else
	python3 "$compare" --parse-only "$tmp/slabmalloc.json" > "$tmp/table.md" 2> "$tmp/table.err"
	status=$?
	missing=""
	for w in pair/16 pair/8M batch/random realloc_growth/1M calloc/16M prodcons/128 \
		 churn/threads:4 kmem_cache_ctor/256 mempool/256 pages/order4 fragmentation; do
		grep -q "^| $w |" "$tmp/table.md" || missing="$missing $w"
	done
	if [ $status -eq 0 ] && [ -z "$missing" ] && grep -q '^| workload | slabmalloc |' "$tmp/table.md"; then
		ok "compare --parse-only makes a table with a row per workload"
	else
		not_ok "compare --parse-only makes a table with a row per workload (missing:$missing)"
		diag_file "$tmp/table.err"
	fi
	python3 "$compare" --parse-only "$tmp/slabmalloc.json" "$tmp/glibc.json" \
		> "$tmp/ratios.md" 2> "$tmp/ratios.err"
	if [ $? -eq 0 ] && grep -q '| slabmalloc / glibc |' "$tmp/ratios.md" &&
	   grep -q '^| mempool/256 | [0-9]' "$tmp/ratios.md"; then
		ok "compare --parse-only of two allocators gives slabmalloc/glibc ratios"
	else
		not_ok "compare --parse-only of two allocators gives slabmalloc/glibc ratios"
		diag_file "$tmp/ratios.md"
		diag_file "$tmp/ratios.err"
	fi
fi

# 9-11: the callgrind driver runs in each mode (without valgrind: it is
# only a fixed loop).
if [ -x "$cgpair" ]; then
	bad=""
	for size in 32 40000; do
		for mode in tight batch64 kmem; do
			$limit env LD_PRELOAD="$SM_LIB" "$cgpair" $size $mode 1000 2> "$tmp/cg.err" ||
				bad="$bad $mode/$size"
		done
	done
	if [ -z "$bad" ]; then
		ok "callgrind_pair tight, batch64 and kmem run under slabmalloc"
	else
		not_ok "callgrind_pair tight, batch64 and kmem run under slabmalloc (failed:$bad)"
		diag_file "$tmp/cg.err"
	fi
	env -u LD_PRELOAD "$cgpair" 256 kmem 1000 2>/dev/null
	status=$?
	if [ $status -eq 77 ]; then
		ok "callgrind_pair kmem says 'not available' (77) without slabmalloc"
	else
		not_ok "callgrind_pair kmem says 'not available' (77) without slabmalloc (got $status)"
	fi
	"$cgpair" 256 nonsense 10 2>/dev/null
	status=$?
	if [ $status -eq 2 ]; then
		ok "callgrind_pair rejects a bad mode"
	else
		not_ok "callgrind_pair rejects a bad mode (got $status)"
	fi
else
	skip "bench/callgrind_pair not built"
	skip "bench/callgrind_pair not built"
	skip "bench/callgrind_pair not built"
fi

# 12: the steady-heap program runs two seconds under slabmalloc with every
# byte checked and prints its summary.
steady="$top_builddir/bench/steady"
if [ -x "$steady" ]; then
	if $limit env LD_PRELOAD="$SM_LIB" "$steady" -d 2 -r 1 -s 64 > "$tmp/steady.out" 2>&1 &&
	   grep -q '^summary allocator=slabmalloc .* errors=0 ' "$tmp/steady.out"; then
		ok "bench/steady runs under slabmalloc: every byte checked, a summary"
	else
		not_ok "bench/steady runs under slabmalloc: every byte checked, a summary"
		diag_file "$tmp/steady.out"
	fi
else
	skip "bench/steady not built"
fi

echo "1..$n"
