// SPDX-License-Identifier: MIT
//
// bench/bench_main.cc — registers the C workloads (workloads.h) with Google
// Benchmark. Thin on purpose: no allocation pattern lives here.
//
// Every benchmark counts operations, not calls: the loop is
// KeepRunningBatch(n) around a workload call of n operations, so the time
// Google Benchmark reports per iteration is the time per operation, and
// items_per_second is operations per second. Every benchmark also reports
// its own peak RSS (user counter peak_rss_kb, VmHWM after resetting it at
// the start), and the JSON context says which allocator served malloc
// (context "allocator"), so a saved JSON file speaks for itself.
//
// Extra flag, read before Google Benchmark's own:
//   --bench_smoke   every benchmark runs one iteration (one batch), and the
//                   fragmentation workload uses fewer objects: a quick check
//                   that each workload runs, not a measurement.
#include <benchmark/benchmark.h>

#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "workloads.h"

namespace {

bool smoke = false;

constexpr size_t KiB = 1024, MiB = 1024 * 1024;

// Common frame of every benchmark: reset the peak RSS, run batches of
// @batch operations until Google Benchmark has enough, report the peak.
template <class Body>
void run_batches(benchmark::State &st, size_t batch, Body body)
{
	if (st.thread_index() == 0)
		wl_reset_peak_rss();
	while (st.KeepRunningBatch(static_cast<benchmark::IterationCount>(batch)))
		body(batch);
	st.SetItemsProcessed(st.iterations());
	// Counters are summed over threads: only thread 0 reports the process's.
	if (st.thread_index() == 0)
		st.counters["peak_rss_kb"] = static_cast<double>(wl_peak_rss_kb());
}

// CPU time of the whole process (every thread, the allocator's own
// included), in seconds.
double process_cpu_seconds()
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// As run_batches, but the time of each batch is the process's CPU time
// instead of the wall time (Google Benchmark's manual time): for workloads
// whose threads outnumber the cores, and for long single-threaded programs,
// it does not count time spent waiting for a core that the machine's other
// load holds.
template <class Body>
void run_batches_cpu(benchmark::State &st, size_t batch, Body body)
{
	wl_reset_peak_rss();
	while (st.KeepRunningBatch(static_cast<benchmark::IterationCount>(batch))) {
		double start = process_cpu_seconds();
		body(batch);
		st.SetIterationTime(process_cpu_seconds() - start);
	}
	st.SetItemsProcessed(st.iterations());
	st.counters["peak_rss_kb"] = static_cast<double>(wl_peak_rss_kb());
}

std::string size_name(size_t size)
{
	if (size >= MiB && size % MiB == 0)
		return std::to_string(size / MiB) + "M";
	if (size >= KiB && size % KiB == 0)
		return std::to_string(size / KiB) + "K";
	return std::to_string(size);
}

// Report which path a kernel-API workload took, or fail it when slabmalloc
// is loaded without that part of its API (see wl_kernel.c).
bool api_path(benchmark::State &st, int path, const char *group)
{
	if (path < 0) {
		std::string msg = std::string("slabmalloc is loaded but does not export the ") +
				  group + " API";
		st.SkipWithError(msg.c_str());
		return false;
	}
	st.SetLabel(path ? "slabmalloc API" : "baseline");
	return true;
}

benchmark::internal::Benchmark *add(const std::string &name,
				    std::function<void(benchmark::State &)> fn,
				    benchmark::TimeUnit unit)
{
	auto *b = benchmark::RegisterBenchmark(name.c_str(), fn);
	b->Unit(unit);
	if (smoke)
		b->Iterations(1);
	return b;
}

void register_all()
{
	static const size_t pair_sizes[] = {16, 64, 256, 1 * KiB, 4 * KiB, 16 * KiB,
					    64 * KiB, 256 * KiB, 1 * MiB, 8 * MiB};
	for (size_t size : pair_sizes) {
		// Large blocks cost more per op: smaller batches keep runs short.
		size_t batch = size >= 256 * KiB ? 16 : 256;
		add("pair/" + size_name(size), [size, batch](benchmark::State &st) {
			run_batches(st, batch, [size](size_t n) { wl_pair(n, size); });
		}, benchmark::kNanosecond);
	}

	static const struct {
		const char *name;
		wl_order order;
	} orders[] = {{"lifo", WL_LIFO}, {"fifo", WL_FIFO}, {"random", WL_RANDOM}};
	for (const auto &o : orders) {
		wl_order order = o.order;
		add(std::string("batch/") + o.name, [order](benchmark::State &st) {
			run_batches(st, 1000, [order](size_t n) { wl_batch(n, 1000, order); });
		}, benchmark::kNanosecond);
	}

	add("realloc_growth/1M", [](benchmark::State &st) {
		run_batches(st, 1, [](size_t n) { wl_realloc_growth(n, 1 * MiB); });
	}, benchmark::kMicrosecond);

	for (size_t size : {1 * MiB, 16 * MiB}) {
		add("calloc/" + size_name(size), [size](benchmark::State &st) {
			run_batches(st, 1, [size](size_t n) { wl_calloc(n, size); });
		}, benchmark::kMicrosecond);
	}

	add("prodcons/128", [](benchmark::State &st) {
		struct wl_prodcons *pc = wl_prodcons_start(128);
		run_batches(st, 4096, [pc](size_t n) { wl_prodcons_run(pc, n); });
		wl_prodcons_stop(pc);
	}, benchmark::kNanosecond)->UseRealTime();

	add("churn", [](benchmark::State &st) {
		unsigned seed = static_cast<unsigned>(st.thread_index()) + 1;
		run_batches(st, 4096, [seed](size_t n) { wl_churn(n, seed); });
	}, benchmark::kNanosecond)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

	add("kmem_cache_ctor/256", [](benchmark::State &st) {
		if (!api_path(st, wl_kmem_cache_ctor(0, 256), "kmem_cache"))
			return;
		run_batches(st, 256, [](size_t n) { wl_kmem_cache_ctor(n, 256); });
	}, benchmark::kNanosecond);

	add("mempool/256", [](benchmark::State &st) {
		if (!api_path(st, wl_mempool(0, 256), "mempool"))
			return;
		run_batches(st, 256, [](size_t n) { wl_mempool(n, 256); });
	}, benchmark::kNanosecond);

	for (unsigned order = 0; order <= 4; order++) {
		add("pages/order" + std::to_string(order), [order](benchmark::State &st) {
			if (!api_path(st, wl_pages(0, order), "page"))
				return;
			run_batches(st, 64, [order](size_t n) { wl_pages(n, order); });
		}, benchmark::kNanosecond);
	}

	// Memory given back while the program is idle (wl_memory.c): one op is
	// long and its resident-set figures are what matters.
	unsigned int pause_ms = smoke ? 10 : 2000;
	size_t idle_total = smoke ? 8 * MiB : 1024 * MiB;
	auto idle_counters = [](benchmark::State &st, const wl_idle_result &r) {
		long peak = wl_peak_rss_kb();
		if (r.ir_rss_full_kb > peak)
			peak = r.ir_rss_full_kb;
		st.counters["peak_rss_kb"] = static_cast<double>(peak);
		st.counters["rss_base_kb"] = static_cast<double>(r.ir_rss_base_kb);
		st.counters["rss_full_kb"] = static_cast<double>(r.ir_rss_full_kb);
		st.counters["rss_freed_kb"] = static_cast<double>(r.ir_rss_freed_kb);
		st.counters["rss_idle_kb"] = static_cast<double>(r.ir_rss_idle_kb);
	};
	add("idle/1G", [pause_ms, idle_total, idle_counters](benchmark::State &st) {
		wl_idle_result r = {};
		wl_reset_peak_rss();
		for (auto _ : st)
			wl_idle(1, idle_total, pause_ms, &r);
		idle_counters(st, r);
	}, benchmark::kMillisecond)->Iterations(1);
	unsigned int nthreads = smoke ? 8 : 1000;
	add("idle/threads", [pause_ms, nthreads, idle_counters](benchmark::State &st) {
		wl_idle_result r = {};
		wl_reset_peak_rss();
		for (auto _ : st)
			wl_threads_rss(1, nthreads, pause_ms, &r);
		idle_counters(st, r);
	}, benchmark::kMillisecond)->Iterations(1);

	// Eight threads churning 8 B..64 KiB at once, a short run: the peak
	// RSS, and what freed pages stay resident after it (wl_memory.c).
	size_t churn_steps = smoke ? 2000 : 20000;
	add("churn8/8to64K", [pause_ms, churn_steps, idle_counters](benchmark::State &st) {
		wl_idle_result r = {};
		wl_reset_peak_rss();
		for (auto _ : st)
			wl_churn_peak(1, 8, churn_steps, pause_ms / 2, &r);
		idle_counters(st, r);
	}, benchmark::kMillisecond)->Iterations(1);

	add("huge/5to25M", [](benchmark::State &st) {
		run_batches(st, 8, [](size_t n) { wl_huge(n); });
	}, benchmark::kMicrosecond);

	// One cycle is long (a large heap built and torn down) and its memory
	// figures are what matters, so it runs a fixed single iteration.
	size_t nr_objects = smoke ? 20000 : 150000;
	add("fragmentation", [nr_objects](benchmark::State &st) {
		struct wl_frag_result r = {};
		wl_reset_peak_rss();
		for (auto _ : st)
			wl_fragmentation(1, nr_objects, &r);
		// VmHWM is maintained lazily by the kernel and can trail VmRSS.
		long peak = wl_peak_rss_kb();
		if (r.fr_rss_full_kb > peak)
			peak = r.fr_rss_full_kb;
		st.counters["peak_rss_kb"] = static_cast<double>(peak);
		st.counters["rss_base_kb"] = static_cast<double>(r.fr_rss_base_kb);
		st.counters["rss_full_kb"] = static_cast<double>(r.fr_rss_full_kb);
		st.counters["rss_after_free_kb"] = static_cast<double>(r.fr_rss_after_free_kb);
		st.counters["rss_end_kb"] = static_cast<double>(r.fr_rss_end_kb);
		st.counters["live_kb"] = static_cast<double>(r.fr_live_kb);
		st.counters["total_kb"] = static_cast<double>(r.fr_total_kb);
	}, benchmark::kMillisecond)->Iterations(1);

	// Threads that free each other's objects (wl_threads.c): the helpers
	// are started before the timed runs and live across them. Time is the
	// process's CPU time (run_batches_cpu).
	static const struct {
		const char *name;
		wl_team_kind kind;
	} teams[] = {{"handoff", WL_TEAM_HANDOFF}, {"server", WL_TEAM_SERVER}};
	for (const auto &tm : teams) {
		for (unsigned int n : {2u, 4u, 8u}) {
			wl_team_kind kind = tm.kind;
			add(std::string(tm.name) + "/threads:" + std::to_string(n),
			    [kind, n](benchmark::State &st) {
				struct wl_team *t = wl_team_start(kind, n);
				run_batches_cpu(st, 16384, [t](size_t k) { wl_team_run(t, k); });
				wl_team_stop(t);
			}, benchmark::kNanosecond)->UseManualTime();
		}
	}

	// Single-threaded programs around the allocator (wl_single.c), in CPU
	// time too.
	size_t nbodies = smoke ? 256 : 8192;
	add("single/nbody", [nbodies](benchmark::State &st) {
		struct wl_nbody *nb = wl_nbody_start(nbodies);
		run_batches_cpu(st, 1, [nb](size_t n) { wl_nbody_run(nb, n); });
		wl_nbody_stop(nb);
	}, benchmark::kMillisecond)->UseManualTime();
	add("single/interp", [](benchmark::State &st) {
		struct wl_interp *in = wl_interp_start();
		run_batches_cpu(st, 4096, [in](size_t n) { wl_interp_run(in, n); });
		wl_interp_stop(in);
	}, benchmark::kNanosecond)->UseManualTime();
}

} // namespace

int main(int argc, char **argv)
{
	std::vector<char *> args;
	for (int i = 0; i < argc; i++) {
		if (std::strcmp(argv[i], "--bench_smoke") == 0)
			smoke = true;
		else
			args.push_back(argv[i]);
	}
	int nargs = static_cast<int>(args.size());
	args.push_back(nullptr);

	register_all();
	benchmark::AddCustomContext("allocator", wl_allocator_name());
	benchmark::AddCustomContext("bench_smoke", smoke ? "yes" : "no");
	benchmark::Initialize(&nargs, args.data());
	if (benchmark::ReportUnrecognizedArguments(nargs, args.data()))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
