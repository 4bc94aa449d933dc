#pragma once
// Load report of the worker on the shared core::Registry: per model-version request counts,
// failures, request/queue/compute durations, pending requests (queue depth), in-flight requests,
// batch sizes, and per-model load rejections; plus the cheap numbers the gateway polls
// (GET /v2/stats, WorkerLoadReport.Stats) read back from the same metrics.
//
// Series (labels model, version unless noted):
//   inference_request_success_total, inference_request_failure_total          counters
//   inference_request_duration_seconds, inference_queue_duration_seconds,
//   inference_compute_duration_seconds                                        histograms
//   inference_batch_size                                  histogram (rows per executed batch)
//   inference_pending_requests, inference_in_flight_requests,
//   inference_request_latency_ewma_seconds                                    gauges
//   inference_version_loaded_total{model}
//   inference_version_rejected_total{model,reason}     hot-plug verification rejected a version
//       (or the model's config): reason verification (hash, size, unlisted file, broken chain) |
//       invalid (malformed manifest) | io (unreadable) | config (bad config.yaml)
//   inference_version_load_failures_total{model,reason} a verified version failed to load:
//       reason backend (the runtime refused the model) | warmup (warm-up inference failed or its
//       outputs contradict the config) | precondition (no backend for the platform, file gone)
//
// Hot path: a ModelMetrics is created once per model version at load time and caches its
// core::Registry children, so recording is a few relaxed atomic operations: no lock, no map lookup,
// no allocation.
//
// Lifetime: core::Registry never drops a label set, so an unloaded version's series stay exposed
// with their final values (and a reloaded version continues its counters); the families cap label
// sets at core::kLabelSetsPerFamilyMax. Models() lists only the versions currently loaded.
//
// Thread safety: every method may be called from any thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics/registry.h"

namespace inference {

class WorkerMetrics;

// The metrics of one loaded model version. Created by WorkerMetrics::AddModel.
class ModelMetrics {
 public:
  const std::string& model() const { return model_; }
  const std::string& version() const { return version_; }
  size_t queue_capacity() const { return queue_capacity_; }

  // One finished request (answered or rejected); durations in nanoseconds.
  void RecordRequest(bool ok, int64_t request_ns, int64_t queue_ns);
  // One executed batch.
  void RecordBatch(int64_t rows, int64_t compute_ns);
  void SetQueueDepth(size_t depth) { pending_.Set(static_cast<double>(depth)); }
  void AddInFlight(int64_t delta) { in_flight_.Inc(static_cast<double>(delta)); }

  uint64_t queue_depth() const { return static_cast<uint64_t>(pending_.Value()); }
  int64_t in_flight() const { return static_cast<int64_t>(in_flight_.Value()); }
  double latency_ewma_us() const { return latency_ewma_.Value() * 1e6; }
  uint64_t success_count() const { return static_cast<uint64_t>(success_.Value()); }
  uint64_t failure_count() const { return static_cast<uint64_t>(failure_.Value()); }

 private:
  friend class WorkerMetrics;
  ModelMetrics(std::string model, std::string version, size_t queue_capacity,
               const WorkerMetrics& families);

  const std::string model_, version_;
  const size_t queue_capacity_;
  core::Counter& success_;
  core::Counter& failure_;
  core::Gauge& pending_;
  core::Gauge& in_flight_;
  core::Gauge& latency_ewma_;
  core::Histogram& request_duration_;
  core::Histogram& queue_duration_;
  core::Histogram& compute_duration_;
  core::Histogram& batch_size_;
};

// The worker's metric families. Registers them on `registry` at construction (a second
// WorkerMetrics on the same registry is a programming error: duplicate names abort). Process
// metrics are not registered here: the registry's owner calls core::RegisterProcessMetrics.
class WorkerMetrics {
 public:
  // `registry` must outlive this object and every ModelMetrics it creates.
  explicit WorkerMetrics(core::Registry* registry);
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // At load time (cold path: takes locks, looks up the families).
  std::shared_ptr<ModelMetrics> AddModel(const std::string& model, const std::string& version,
                                         size_t queue_capacity);
  // Removes the version from Models() (its series stay; see the header comment).
  void RemoveModel(const ModelMetrics* metrics);
  // Hot-plug outcomes (cold path). `reason` must come from a small fixed set (it is a label).
  void RecordVersionRejected(const std::string& model, std::string_view reason);
  void RecordLoadFailure(const std::string& model, std::string_view reason);
  void RecordVersionLoaded(const std::string& model);

  // The versions currently loaded, in load order.
  std::vector<std::shared_ptr<ModelMetrics>> Models() const;

  const core::Registry& registry() const { return *registry_; }

 private:
  friend class ModelMetrics;
  core::Registry* const registry_;
  core::CounterFamily& success_;
  core::CounterFamily& failure_;
  core::GaugeFamily& pending_;
  core::GaugeFamily& in_flight_;
  core::GaugeFamily& latency_ewma_;
  core::HistogramFamily& request_duration_;
  core::HistogramFamily& queue_duration_;
  core::HistogramFamily& compute_duration_;
  core::HistogramFamily& batch_size_;
  core::CounterFamily& loaded_;
  core::CounterFamily& rejected_;
  core::CounterFamily& load_failures_;

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<ModelMetrics>> models_;
};

// CPU time and resident memory of this process, for the load report (GET /v2/stats).
struct ProcessUsage {
  double cpu_seconds = 0;  // user + system
  uint64_t rss_bytes = 0;
};
ProcessUsage ReadProcessUsage();

}  // namespace inference
