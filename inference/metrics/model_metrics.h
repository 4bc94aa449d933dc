#pragma once
// Load report of the worker: per model-version counters and histograms, rendered as Prometheus text
// on /metrics, plus the cheap numbers the gateway polls (queue depth, in-flight, latency EWMA).
//
// Written on the request path from several threads: every field is a relaxed atomic; there is no
// lock on the hot path. Rendering reads a consistent-enough snapshot (counters may be a request
// apart).
//
// core/metrics (being written in parallel) will replace Histogram/Render; the recording points
// (RecordRequest, RecordBatch, ...) are the interface the batcher and protocol code use, so the
// switch stays inside this component.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace inference {

// Fixed-bucket histogram of non-negative integer observations.
class Histogram {
 public:
  static constexpr size_t kBucketsMax = 24;
  explicit Histogram(std::vector<uint64_t> upper_bounds);  // ascending; CHECK <= kBucketsMax
  void Observe(uint64_t value);
  // Appends "<name>_bucket{<labels>,le=..} n" lines, _sum and _count.
  void Render(std::string* out, std::string_view name, std::string_view labels) const;

 private:
  std::vector<uint64_t> bounds_;
  std::array<std::atomic<uint64_t>, kBucketsMax + 1> counts_{};
  std::atomic<uint64_t> sum_{0};
};

class ModelMetrics {
 public:
  ModelMetrics(std::string model, std::string version);

  const std::string& model() const { return model_; }
  const std::string& version() const { return version_; }

  void RecordRequest(bool ok, int64_t request_ns, int64_t queue_ns);
  void RecordBatch(int64_t rows, int64_t compute_ns);
  void SetQueueDepth(size_t depth) { queue_depth_.store(depth, std::memory_order_relaxed); }
  void AddInFlight(int64_t delta) { in_flight_.fetch_add(delta, std::memory_order_relaxed); }

  uint64_t queue_depth() const { return queue_depth_.load(std::memory_order_relaxed); }
  int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  double latency_ewma_us() const { return ewma_us_.load(std::memory_order_relaxed); }
  uint64_t success_count() const { return success_.load(std::memory_order_relaxed); }
  uint64_t failure_count() const { return failure_.load(std::memory_order_relaxed); }
  size_t queue_capacity = 0;

  void Render(std::string* out) const;

 private:
  const std::string model_, version_, labels_;
  std::atomic<uint64_t> success_{0}, failure_{0};
  std::atomic<uint64_t> queue_depth_{0};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<double> ewma_us_{0};
  Histogram request_us_, queue_us_, compute_us_, batch_rows_;
};

// All metrics of the process. Model versions register when loaded and leave when unloaded.
class MetricsRegistry {
 public:
  std::shared_ptr<ModelMetrics> AddModel(const std::string& model, const std::string& version,
                                         size_t queue_capacity);
  void RemoveModel(const ModelMetrics* metrics);
  // A version rejected by verification or failing to load.
  void RecordVersionRejected(const std::string& model, std::string_view kind);
  void RecordVersionLoaded(const std::string& model);

  std::vector<std::shared_ptr<ModelMetrics>> Models() const;
  std::string RenderPrometheus() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<ModelMetrics>> models_;
  struct Event {
    std::string model, kind;
    uint64_t count;
  };
  std::vector<Event> rejected_;
  std::vector<Event> loaded_;
};

struct ProcessUsage {
  double cpu_seconds = 0;  // user + system
  uint64_t rss_bytes = 0;
};
ProcessUsage ReadProcessUsage();

}  // namespace inference
