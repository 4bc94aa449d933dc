// infer_load: closed-loop KServe v2 load against infer-worker (REST JSON or gRPC raw tensors) or
// any server with the same REST infer path (the Flask peer). Verifies one sample reply against the
// reference output first (that also waits for the model to become ready), then runs one closed
// loop per --concurrency value and prints, per run:
//   <name>-c<N> req/s=... p50_us=... p99_us=... errors=... rejected=...
// Exit: 0 ok, 1 the load could not run, 3 the sample reply was wrong, 4 some requests failed.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/inference/kserve_targets.h"
#include "bench/inference/reference_tensors.h"

namespace {

std::chrono::nanoseconds Seconds(double s) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(s));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Closed-loop KServe v2 inference load (REST or gRPC) with a verified sample reply"};
  infer_bench::TargetOptions o;
  std::string protocol;
  std::string reference_dir;
  std::string name;
  std::vector<int> concurrency = {1, 16, 64};
  double duration_s = 5, warmup_s = 1, wait_ready_s = 30, timeout_s = 60;
  bool verify_only = false;
  app.add_option("--protocol", protocol, "rest (JSON tensor) or grpc (raw_input_contents)")
      ->required()
      ->check(CLI::IsMember({"rest", "grpc"}));
  app.add_option("--host", o.host, "Server IP")->capture_default_str();
  app.add_option("--port", o.port, "Server port (HTTP for rest, gRPC for grpc)")->required();
  app.add_option("--model", o.model, "Model name")->capture_default_str();
  app.add_option("--reference-dir", reference_dir,
                 "Folder with <model>.json/.input.bin/.output.bin (scripts/make-models)")
      ->required();
  app.add_option("--row", o.row, "Reference row sent as the batch-1 request")
      ->capture_default_str();
  app.add_option("--input-name", o.input_name, "Input tensor name")->capture_default_str();
  app.add_option("--output-name", o.output_name, "Output tensor name")->capture_default_str();
  app.add_option("--concurrency", concurrency, "Requests in flight; one run per value (1,16,64)")
      ->delimiter(',')
      ->check(CLI::Range(1, 4096));
  app.add_option("--threads", o.load.threads, "Client io threads")->capture_default_str();
  app.add_option("--grpc-channels", o.grpc_channels, "HTTP/2 connections for grpc")
      ->capture_default_str();
  app.add_option("--duration-s", duration_s, "Measured window per run")->capture_default_str();
  app.add_option("--warmup-s", warmup_s, "Warm-up before each window")->capture_default_str();
  app.add_option("--wait-ready-s", wait_ready_s,
                 "How long the sample request retries while the "
                 "model is not ready")
      ->capture_default_str();
  app.add_option("--timeout-s", timeout_s,
                 "Per-request limit: gRPC deadline, and how long requests still in flight when the "
                 "window closes may take before they count as errors")
      ->capture_default_str();
  app.add_option("--name", name, "Label prefix of the output lines (default: <model>-<protocol>)");
  app.add_flag("--verify-only", verify_only, "Check the sample reply and exit");
  CLI11_PARSE(app, argc, argv);

  o.grpc_call_timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  o.protocol = protocol == "rest" ? infer_bench::Protocol::kRest : infer_bench::Protocol::kGrpc;
  if (name.empty()) name = fmt::format("{}-{}", o.model, protocol);
  auto ref = infer_bench::ReferenceTensors::Load(reference_dir, o.model);
  if (!ref.ok()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), ref.status().ToString().c_str());
    return 1;
  }
  const absl::Status verified = infer_bench::VerifySample(
      o, *ref, std::chrono::milliseconds(static_cast<int64_t>(wait_ready_s * 1000)));
  if (!verified.ok()) {
    std::fprintf(stderr, "%s: sample reply: %s\n", name.c_str(), verified.ToString().c_str());
    return absl::IsDataLoss(verified) ? 3 : 1;
  }
  std::fprintf(stderr, "%s: sample reply matches the reference\n", name.c_str());
  if (verify_only) return 0;

  int rc = 0;
  for (int c : concurrency) {
    o.load.connections = c;
    o.load.duration = Seconds(duration_s);
    o.load.warmup = Seconds(warmup_s);
    o.load.drain_timeout = Seconds(timeout_s);
    auto r = infer_bench::RunLoad(o, *ref);
    if (!r.ok()) {
      std::fprintf(stderr, "%s-c%d: %s\n", name.c_str(), c, r.status().ToString().c_str());
      return 1;
    }
    std::printf("%s-c%d req/s=%.1f p50_us=%.1f p99_us=%.1f errors=%llu rejected=%llu\n",
                name.c_str(), c, r->requests_per_second(), r->latency_ns.Quantile(0.50) / 1000.0,
                r->latency_ns.Quantile(0.99) / 1000.0,
                static_cast<unsigned long long>(r->ops.errors),
                static_cast<unsigned long long>(r->ops.rejected));
    std::fflush(stdout);
    if (r->ops.errors > 0) rc = 4;
  }
  return rc;
}
