#include "inference/metrics/model_metrics.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "core/metrics/process_metrics.h"

namespace inference {
namespace {

constexpr std::string_view kModelVersion[] = {"model", "version"};
constexpr std::string_view kModel[] = {"model"};
constexpr std::string_view kModelReason[] = {"model", "reason"};

// 50 µs .. 5 s: an MLP answers in well under a millisecond, a ResNet batch takes seconds.
std::vector<double> DurationBucketsSeconds() {
  return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3,
          25e-3, 50e-3,  100e-3, 250e-3, 0.5,  1,      2.5,  5};
}

double Seconds(int64_t ns) { return static_cast<double>(std::max<int64_t>(0, ns)) * 1e-9; }

}  // namespace

ModelMetrics::ModelMetrics(std::string model, std::string version, size_t queue_capacity,
                           const WorkerMetrics& f)
    : model_(std::move(model)),
      version_(std::move(version)),
      queue_capacity_(queue_capacity),
      success_(f.success_.WithLabels({model_, version_})),
      failure_(f.failure_.WithLabels({model_, version_})),
      pending_(f.pending_.WithLabels({model_, version_})),
      in_flight_(f.in_flight_.WithLabels({model_, version_})),
      latency_ewma_(f.latency_ewma_.WithLabels({model_, version_})),
      request_duration_(f.request_duration_.WithLabels({model_, version_})),
      queue_duration_(f.queue_duration_.WithLabels({model_, version_})),
      compute_duration_(f.compute_duration_.WithLabels({model_, version_})),
      batch_size_(f.batch_size_.WithLabels({model_, version_})) {}

void ModelMetrics::RecordRequest(bool ok, int64_t request_ns, int64_t queue_ns) {
  (ok ? success_ : failure_).Inc();
  const double request_s = Seconds(request_ns);
  request_duration_.Observe(request_s);
  queue_duration_.Observe(Seconds(queue_ns));
  // EWMA, alpha = 1/16. Racing writers lose an update at worst: fine for a load signal.
  const double prev = latency_ewma_.Value();
  latency_ewma_.Set(prev == 0 ? request_s : prev + (request_s - prev) / 16.0);
}

void ModelMetrics::RecordBatch(int64_t rows, int64_t compute_ns) {
  batch_size_.Observe(static_cast<double>(rows));
  compute_duration_.Observe(Seconds(compute_ns));
}

WorkerMetrics::WorkerMetrics(core::Registry* registry)
    : registry_(registry),
      success_(registry->AddCounter("inference_request_success_total",
                                    "Inference requests answered successfully.", kModelVersion)),
      failure_(registry->AddCounter(
          "inference_request_failure_total",
          "Inference requests that failed (bad input, queue full, deadline, model error).",
          kModelVersion)),
      pending_(registry->AddGauge("inference_pending_requests",
                                  "Requests waiting in the dynamic batcher's queue.",
                                  kModelVersion)),
      in_flight_(registry->AddGauge("inference_in_flight_requests",
                                    "Requests received and not yet answered.", kModelVersion)),
      latency_ewma_(registry->AddGauge(
          "inference_request_latency_ewma_seconds",
          "Exponentially weighted moving average (alpha 1/16) of the request duration.",
          kModelVersion)),
      request_duration_(registry->AddHistogram("inference_request_duration_seconds",
                                               "Time from receiving a request to answering it.",
                                               kModelVersion, DurationBucketsSeconds())),
      queue_duration_(registry->AddHistogram(
          "inference_queue_duration_seconds",
          "Time a request waited in the batcher's queue before its batch started.", kModelVersion,
          DurationBucketsSeconds())),
      compute_duration_(registry->AddHistogram("inference_compute_duration_seconds",
                                               "Time the backend took to run one batch.",
                                               kModelVersion, DurationBucketsSeconds())),
      batch_size_(registry->AddHistogram("inference_batch_size",
                                         "Rows (batch dimension) per executed batch.",
                                         kModelVersion, core::ExponentialBuckets(1, 2, 11))),
      loaded_(registry->AddCounter("inference_version_loaded_total",
                                   "Model versions loaded, warmed up and published.", kModel)),
      rejected_(registry->AddCounter(
          "inference_version_rejected_total",
          "Model versions (or configs) rejected by repository verification.", kModelReason)),
      load_failures_(registry->AddCounter("inference_version_load_failures_total",
                                          "Verified model versions that failed to load or warm up.",
                                          kModelReason)) {}

std::shared_ptr<ModelMetrics> WorkerMetrics::AddModel(const std::string& model,
                                                      const std::string& version,
                                                      size_t queue_capacity) {
  std::shared_ptr<ModelMetrics> m(new ModelMetrics(model, version, queue_capacity, *this));
  // A reloaded version reuses its children: start its gauges from a clean state.
  m->pending_.Set(0);
  m->in_flight_.Set(0);
  std::lock_guard lock(mu_);
  models_.push_back(m);
  return m;
}

void WorkerMetrics::RemoveModel(const ModelMetrics* metrics) {
  std::lock_guard lock(mu_);
  std::erase_if(models_, [&](const auto& m) { return m.get() == metrics; });
}

void WorkerMetrics::RecordVersionRejected(const std::string& model, std::string_view reason) {
  rejected_.WithLabels({model, reason}).Inc();
}

void WorkerMetrics::RecordLoadFailure(const std::string& model, std::string_view reason) {
  load_failures_.WithLabels({model, reason}).Inc();
}

void WorkerMetrics::RecordVersionLoaded(const std::string& model) {
  loaded_.WithLabels({model}).Inc();
}

std::vector<std::shared_ptr<ModelMetrics>> WorkerMetrics::Models() const {
  std::lock_guard lock(mu_);
  return models_;
}

ProcessUsage ReadProcessUsage() {
  ProcessUsage u;
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) == 0) {
    auto seconds = [](const timeval& tv) {
      return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
    };
    u.cpu_seconds = seconds(ru.ru_utime) + seconds(ru.ru_stime);
  }
  const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[256];
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    ::close(fd);
    if (n > 0) {
      auto pages = core::process_metrics_internal::ParseStatmPages(
          std::string_view(buf, static_cast<size_t>(n)));
      if (pages) u.rss_bytes = pages->second * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    }
  }
  return u;
}

}  // namespace inference
