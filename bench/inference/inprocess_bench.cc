// inprocess_bench: the physical limit of a TorchScript model on this machine. Runs the model
// in-process with libtorch (torch::jit::optimize_for_inference, c10::InferenceMode, an explicit
// intra-op thread count: Debian's libtorch defaults to 1) for each layout (I instances, i.e. I
// threads each running its own copy of the model, with T intra-op threads each) and batch size,
// and prints
//   <name> layout=<I>x<T> batch=<B> samples/s=... ms_per_batch=...   (one line per combination)
//   <name> best_batch=<B> samples/s=... layout=<I>x<T>                (last line)
// Layouts are swept because on a shared machine more OpenMP threads than idle cores make every
// parallel region wait for a descheduled thread, and because infer-worker can run several
// instances of a model (docs/inference-bench-notes.md).
// The only libtorch translation unit of the benchmark (libtorch headers compile slowly).
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/frozen_graph_optimizations.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kBatchSizeMax = 4096;
constexpr int kThreadsMax = 256;

struct Layout {
  int instances = 1;
  int threads = 1;
};

struct Measurement {
  Layout layout;
  int64_t batch = 0;
  double samples_per_second = 0;
  double ms_per_batch = 0;
};

struct RunOptions {
  std::vector<int64_t> dims;
  int warmup_iterations = 2;  // the profiling executor specializes on the first runs of a shape
  double seconds_min = 1.0;
  int iterations_min = 3;
  bool profiling_executor = true;
};

torch::jit::Module LoadOptimized(const std::string& path) {
  torch::jit::Module module = torch::jit::load(path, torch::kCPU);
  module.eval();
  try {
    return torch::jit::optimize_for_inference(module);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "optimize_for_inference failed (%s); using freeze\n", e.what());
    return torch::jit::freeze(module);
  }
}

// One instance: its own thread, thread-local libtorch settings, the shared start line.
struct InstanceResult {
  int iterations = 0;
  double seconds = 0;
};

void RunInstance(torch::jit::Module* module, Layout layout, int64_t batch, const RunOptions& o,
                 std::barrier<>* start_line, InstanceResult* result) {
  at::set_num_threads(layout.threads);  // per calling thread under OpenMP
  c10::InferenceMode inference_mode;
  torch::jit::GraphOptimizerEnabledGuard optimizer(o.profiling_executor);
  std::vector<int64_t> shape = {batch};
  shape.insert(shape.end(), o.dims.begin(), o.dims.end());
  std::vector<torch::jit::IValue> args = {torch::randn(shape)};
  for (int i = 0; i < o.warmup_iterations; ++i) module->forward(args);
  start_line->arrive_and_wait();
  const Clock::time_point start = Clock::now();
  double elapsed = 0;
  do {
    at::Tensor out = module->forward(args).toTensor();
    // Outputs may be in MKL-DNN layout: materialize them like a server must.
    if (out.is_mkldnn()) out = out.to_dense();
    ++result->iterations;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < o.seconds_min || result->iterations < o.iterations_min);
  result->seconds = elapsed;
}

Measurement Measure(std::vector<torch::jit::Module>& modules, Layout layout, int64_t batch,
                    const RunOptions& o) {
  std::barrier<> start_line(layout.instances);
  std::vector<InstanceResult> results(layout.instances);
  std::vector<std::thread> threads;
  for (int i = 0; i < layout.instances; ++i) {
    threads.emplace_back(RunInstance, &modules[i], layout, batch, std::cref(o), &start_line,
                         &results[i]);
  }
  for (auto& t : threads) t.join();
  double samples = 0, seconds = 0, ms = 0;
  for (const InstanceResult& r : results) {
    samples += static_cast<double>(batch) * r.iterations;
    seconds = std::max(seconds, r.seconds);
    ms += 1000.0 * r.seconds / r.iterations;
  }
  return {layout, batch, samples / seconds, ms / layout.instances};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"In-process libtorch throughput of a TorchScript model per layout and batch size"};
  std::string model_path;
  std::string name = "inprocess";
  RunOptions o;
  std::vector<int64_t> batch_sizes = {1, 2, 4, 8, 16, 32, 64};
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::string> layout_specs;
  app.add_option("--model-file", model_path, "TorchScript file (model.pt)")->required();
  app.add_option("--dims", o.dims, "Input dims without the batch dimension, e.g. 3,224,224")
      ->required()
      ->delimiter(',');
  app.add_option("--batch-sizes", batch_sizes, "Batch sizes to measure")
      ->delimiter(',')
      ->check(CLI::Range(int64_t{1}, kBatchSizeMax))
      ->capture_default_str();
  app.add_option("--layouts", layout_specs,
                 "<instances>x<intra-op threads> to sweep, e.g. 1x2,2x1 (default: every layout "
                 "with instances * threads <= cores)")
      ->delimiter(',');
  app.add_option("--warmup-iterations", o.warmup_iterations, "Untimed iterations per batch size")
      ->capture_default_str();
  app.add_option("--seconds", o.seconds_min, "Minimum timed seconds per batch size")
      ->capture_default_str();
  app.add_option("--iterations-min", o.iterations_min, "Minimum timed iterations per instance")
      ->capture_default_str();
  app.add_option("--profiling-executor", o.profiling_executor,
                 "JIT graph optimizer on (libtorch's default); infer-worker runs with it off")
      ->capture_default_str();
  app.add_option("--name", name, "Label of the output lines")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::vector<Layout> layouts;
  if (layout_specs.empty()) {
    for (int i = 1; i <= cores; ++i) {
      for (int t = 1; i * t <= cores; ++t) layouts.push_back({i, t});
    }
  }
  for (const std::string& spec : layout_specs) {
    Layout l;
    if (std::sscanf(spec.c_str(), "%dx%d", &l.instances, &l.threads) != 2 || l.instances < 1 ||
        l.threads < 1 || l.instances * l.threads > kThreadsMax) {
      std::fprintf(stderr, "%s: bad layout %s (want <instances>x<threads>)\n", name.c_str(),
                   spec.c_str());
      return 2;
    }
    layouts.push_back(l);
  }
  int instances_max = 1;
  for (const Layout& l : layouts) instances_max = std::max(instances_max, l.instances);

  at::set_num_interop_threads(1);
  try {
    std::vector<torch::jit::Module> modules;
    for (int i = 0; i < instances_max; ++i) modules.push_back(LoadOptimized(model_path));
    Measurement best;
    for (const Layout& l : layouts) {
      for (int64_t b : batch_sizes) {
        const Measurement m = Measure(modules, l, b, o);
        std::printf("%s layout=%dx%d batch=%lld samples/s=%.1f ms_per_batch=%.3f\n", name.c_str(),
                    l.instances, l.threads, static_cast<long long>(b), m.samples_per_second,
                    m.ms_per_batch);
        std::fflush(stdout);
        if (m.samples_per_second > best.samples_per_second) best = m;
      }
    }
    std::printf("%s best_batch=%lld samples/s=%.1f layout=%dx%d\n", name.c_str(),
                static_cast<long long>(best.batch), best.samples_per_second, best.layout.instances,
                best.layout.threads);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: libtorch: %s\n", name.c_str(), e.what());
    return 1;
  }
  return 0;
}
