#include "inference/metrics/model_metrics.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "core/log/check.h"
#include "fmt/format.h"

namespace inference {
namespace {

std::vector<uint64_t> LatencyBucketsUs() {
  return {50,    100,   250,    500,    1000,   2500,    5000,    10000,
          25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};
}

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

Histogram::Histogram(std::vector<uint64_t> upper_bounds) : bounds_(std::move(upper_bounds)) {
  CORE_CHECK(bounds_.size() <= kBucketsMax) << bounds_.size() << " buckets";
}

void Histogram::Observe(uint64_t value) {
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                 bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

void Histogram::Render(std::string* out, std::string_view name, std::string_view labels) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    std::string le = i < bounds_.size() ? fmt::format("{}", bounds_[i]) : "+Inf";
    *out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, le, cumulative);
  }
  *out += fmt::format("{}_sum{{{}}} {}\n", name, labels, sum_.load(std::memory_order_relaxed));
  *out += fmt::format("{}_count{{{}}} {}\n", name, labels, cumulative);
}

ModelMetrics::ModelMetrics(std::string model, std::string version)
    : model_(std::move(model)),
      version_(std::move(version)),
      labels_(fmt::format("model=\"{}\",version=\"{}\"", Escape(model_), Escape(version_))),
      request_us_(LatencyBucketsUs()),
      queue_us_(LatencyBucketsUs()),
      compute_us_(LatencyBucketsUs()),
      batch_rows_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}) {}

void ModelMetrics::RecordRequest(bool ok, int64_t request_ns, int64_t queue_ns) {
  (ok ? success_ : failure_).fetch_add(1, std::memory_order_relaxed);
  const uint64_t request_us = static_cast<uint64_t>(std::max<int64_t>(0, request_ns) / 1000);
  request_us_.Observe(request_us);
  queue_us_.Observe(static_cast<uint64_t>(std::max<int64_t>(0, queue_ns) / 1000));
  // EWMA, alpha = 1/16. Races between writers lose an update at worst: fine for a load signal.
  double prev = ewma_us_.load(std::memory_order_relaxed);
  double next = prev == 0 ? static_cast<double>(request_us)
                          : prev + (static_cast<double>(request_us) - prev) / 16.0;
  ewma_us_.store(next, std::memory_order_relaxed);
}

void ModelMetrics::RecordBatch(int64_t rows, int64_t compute_ns) {
  batch_rows_.Observe(static_cast<uint64_t>(rows));
  compute_us_.Observe(static_cast<uint64_t>(std::max<int64_t>(0, compute_ns) / 1000));
}

void ModelMetrics::Render(std::string* out) const {
  *out += fmt::format("inference_request_success_total{{{}}} {}\n", labels_, success_count());
  *out += fmt::format("inference_request_failure_total{{{}}} {}\n", labels_, failure_count());
  *out += fmt::format("inference_pending_request_count{{{}}} {}\n", labels_, queue_depth());
  *out += fmt::format("inference_in_flight_request_count{{{}}} {}\n", labels_, in_flight());
  *out +=
      fmt::format("inference_request_latency_ewma_us{{{}}} {:.1f}\n", labels_, latency_ewma_us());
  request_us_.Render(out, "inference_request_duration_us", labels_);
  queue_us_.Render(out, "inference_queue_duration_us", labels_);
  compute_us_.Render(out, "inference_compute_duration_us", labels_);
  batch_rows_.Render(out, "inference_batch_size", labels_);
}

std::shared_ptr<ModelMetrics> MetricsRegistry::AddModel(const std::string& model,
                                                        const std::string& version,
                                                        size_t queue_capacity) {
  auto m = std::make_shared<ModelMetrics>(model, version);
  m->queue_capacity = queue_capacity;
  std::lock_guard lock(mu_);
  models_.push_back(m);
  return m;
}

void MetricsRegistry::RemoveModel(const ModelMetrics* metrics) {
  std::lock_guard lock(mu_);
  std::erase_if(models_, [&](const auto& m) { return m.get() == metrics; });
}

void MetricsRegistry::RecordVersionRejected(const std::string& model, std::string_view kind) {
  std::lock_guard lock(mu_);
  for (auto& e : rejected_) {
    if (e.model == model && e.kind == kind) {
      ++e.count;
      return;
    }
  }
  rejected_.push_back({model, std::string(kind), 1});
}

void MetricsRegistry::RecordVersionLoaded(const std::string& model) {
  std::lock_guard lock(mu_);
  for (auto& e : loaded_) {
    if (e.model == model) {
      ++e.count;
      return;
    }
  }
  loaded_.push_back({model, "", 1});
}

std::vector<std::shared_ptr<ModelMetrics>> MetricsRegistry::Models() const {
  std::lock_guard lock(mu_);
  return models_;
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::string out;
  out.reserve(16 * 1024);
  const ProcessUsage usage = ReadProcessUsage();
  out += "# TYPE process_cpu_seconds_total counter\n";
  out += fmt::format("process_cpu_seconds_total {:.3f}\n", usage.cpu_seconds);
  out += "# TYPE process_resident_memory_bytes gauge\n";
  out += fmt::format("process_resident_memory_bytes {}\n", usage.rss_bytes);
  out += "# TYPE inference_request_success_total counter\n";
  out += "# TYPE inference_request_failure_total counter\n";
  out += "# TYPE inference_pending_request_count gauge\n";
  out += "# TYPE inference_in_flight_request_count gauge\n";
  out += "# TYPE inference_request_latency_ewma_us gauge\n";
  out += "# TYPE inference_request_duration_us histogram\n";
  out += "# TYPE inference_queue_duration_us histogram\n";
  out += "# TYPE inference_compute_duration_us histogram\n";
  out += "# TYPE inference_batch_size histogram\n";
  std::lock_guard lock(mu_);
  for (const auto& m : models_) m->Render(&out);
  out += "# TYPE inference_version_rejected_total counter\n";
  for (const auto& e : rejected_) {
    out += fmt::format("inference_version_rejected_total{{model=\"{}\",reason=\"{}\"}} {}\n",
                       Escape(e.model), Escape(e.kind), e.count);
  }
  out += "# TYPE inference_version_loaded_total counter\n";
  for (const auto& e : loaded_) {
    out += fmt::format("inference_version_loaded_total{{model=\"{}\"}} {}\n", Escape(e.model),
                       e.count);
  }
  return out;
}

ProcessUsage ReadProcessUsage() {
  ProcessUsage u;
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the ")" closing the command name: state is field 3; utime 14, stime 15.
    size_t close = line.rfind(')');
    if (close != std::string::npos) {
      unsigned long long utime = 0, stime = 0;
      if (std::sscanf(line.c_str() + close + 2,
                      "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                      &stime) == 2) {
        u.cpu_seconds =
            static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
      }
    }
  }
  std::ifstream statm("/proc/self/statm");
  unsigned long long size = 0, resident = 0;
  if (statm >> size >> resident) {
    u.rss_bytes = resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  }
  return u;
}

}  // namespace inference
