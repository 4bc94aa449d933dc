#pragma once
// A Prometheus metrics registry for hot paths.
//
// Families are created once at start-up; labelled children are looked up once and cached; after
// that, recording is a single atomic operation (no lock, no allocation, no map lookup):
//
//   core::Registry registry;
//   auto& requests = registry.AddCounter("http_requests_total", "HTTP requests.", {"method",
//   "code"}); core::Counter& get_ok = requests.WithLabels({"GET", "200"});        // start-up:
//   cache this auto& latency = registry.AddHistogram("http_request_duration_seconds", "Request
//   latency.",
//                                         core::DefaultLatencyBucketsSeconds());
//   ...
//   get_ok.Inc();                                                        // hot path
//   latency.Observe(elapsed_s);
//   ...
//   std::string body = registry.ExposeText();                            // GET /metrics
//
// Names. Metric names must match [a-zA-Z_:][a-zA-Z0-9_:]* and label names [a-zA-Z_][a-zA-Z0-9_]*
// (label names starting with "__" are reserved). On top of that the registry enforces the
// `promtool check metrics` lint rules so that /metrics never fails that check: counters end in
// "_total" and nothing else does; no camelCase; no ':' (reserved for recording rules);
// non-histograms do not end in "_bucket", "_count" or "_sum"; no abbreviated or non-base units
// ("_ms", "_kb",
// "_milliseconds": use "_seconds" and "_bytes"); non-empty help; histograms have no "le" label. A
// violation, a duplicate family name or a wrong number of label values is a programming error: the
// process aborts with a message naming the metric (CORE_CHECK).
//
// Cardinality. Each family holds at most kLabelSetsPerFamilyMax label sets. Beyond that, and for
// label values that are not valid UTF-8 or longer than kLabelValueBytesMax, WithLabels() returns
// one shared overflow child whose label values are all kOverflowLabelValue, so a label fed from
// client input can neither grow memory without bound nor break the exposition.
//
// Thread safety: every method of Registry, the families and the metrics may be called from any
// thread. Counter/Gauge/Histogram updates are lock-free. WithLabels() and Add*() take a mutex (cold
// path); ExposeText() takes the registry's and each family's mutex briefly and runs the callbacks
// of callback metrics on the scraping thread.
//
// Ownership and lifetime: the registry owns every family and metric; references returned by Add*()
// and WithLabels() stay valid for the registry's lifetime. Callbacks must outlive the registry (or
// its last scrape) and must not call into the registry.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/types/span.h"

namespace core {

inline constexpr size_t kLabelSetsPerFamilyMax = 10000;
inline constexpr size_t kLabelNamesPerFamilyMax = 16;
inline constexpr size_t kLabelValueBytesMax = 256;
inline constexpr size_t kHistogramBucketsMax = 64;  // Explicit bounds, excluding +Inf.
inline constexpr size_t kFamiliesMax = 4096;
inline constexpr std::string_view kOverflowLabelValue = "__overflow__";

// Prometheus name syntax (see the header comment for the stricter lint rules applied on top).
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

// `count` bounds: start, start*factor, ... Requires start > 0, factor > 1, 1 <= count <=
// kHistogramBucketsMax (CORE_CHECK).
std::vector<double> ExponentialBuckets(double start, double factor, size_t count);
// 0.5 ms .. 10 s, for request latencies in seconds:
// 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10.
std::vector<double> DefaultLatencyBucketsSeconds();

template <typename Metric>
class MetricFamily;

// A monotonically increasing count. Whole increments are one fetch_add on an integer (exact up to
// 2^64); fractional ones go to a double updated with a compare-and-swap loop.
class alignas(64) Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Inc() { whole_.fetch_add(1, std::memory_order_relaxed); }
  // Negative and NaN increments are dropped: a counter never goes down.
  void Inc(double v);
  double Value() const;

 private:
  friend class MetricFamily<Counter>;  // Exposes the integer part exactly.
  std::atomic<uint64_t> whole_{0};
  std::atomic<double> fraction_{0};
};

// A value that goes up and down.
class alignas(64) Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Inc(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }
  void Dec(double v = 1) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A histogram with fixed upper bounds ("le", inclusive) plus the implicit +Inf bucket. Observe() is
// a binary search over the bounds and two atomic adds. The count exposed is the sum of the bucket
// counts, so _count always equals the +Inf bucket; _sum is updated separately and may lag by the
// observations in flight during a scrape.
class alignas(64) Histogram {
 public:
  struct Snapshot {
    std::vector<uint64_t> cumulative_counts;  // One per bound, then +Inf.
    double sum = 0;
    uint64_t count = 0;
  };

  // `bounds` must be strictly increasing and outlive the histogram (the family owns them).
  explicit Histogram(const std::vector<double>* bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // NaN lands in the +Inf bucket (and makes the sum NaN), as in the Go client.
  void Observe(double v);
  Snapshot TakeSnapshot() const;

 private:
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1, non-cumulative.
  std::atomic<double> sum_{0};
};

namespace metrics_internal {

enum class Type { kCounter, kGauge, kHistogram };

// Type-independent part of a family: name, help, label names, and the exposition entry point.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;
  // Appends HELP, TYPE and every sample (nothing when the family has no children yet).
  virtual void WriteText(std::string* out) const = 0;
  const std::string& name() const { return name_; }

 protected:
  void WriteHeader(std::string* out) const;
  const std::string name_;
  const std::string help_;
  const Type type_;
  const std::vector<std::string> label_names_;
};

}  // namespace metrics_internal

// The children of one metric name, one per label-value combination. See the header comment for the
// overflow behaviour and thread safety.
template <typename Metric>
class MetricFamily final : public metrics_internal::FamilyBase {
 public:
  MetricFamily(std::string name, std::string help, metrics_internal::Type type,
               std::vector<std::string> label_names, std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // The child for `label_values` (one per label name, in order), created on first use. Takes a lock
  // and looks up a map: call at start-up (or once per new combination) and cache the reference.
  Metric& WithLabels(absl::Span<const std::string_view> label_values);

  // Label sets created so far, excluding the overflow child.
  size_t label_sets() const;

  void WriteText(std::string* out) const override;

 private:
  struct Child {
    template <typename... Args>
    explicit Child(std::vector<std::string> values, Args&&... args)
        : label_values(std::move(values)), metric(std::forward<Args>(args)...) {}
    const std::vector<std::string> label_values;
    Metric metric;
  };

  std::unique_ptr<Child> NewChild(std::vector<std::string> values) const;
  Metric& OverflowLocked();

  const std::vector<double> bounds_;  // Histograms only.
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Child>> children_;  // Creation order; never shrinks.
  std::unordered_map<std::string, Child*> by_key_;
  std::unique_ptr<Child> overflow_;
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Counters: `name` must end in "_total".
  Counter& AddCounter(std::string_view name, std::string_view help);
  CounterFamily& AddCounter(std::string_view name, std::string_view help,
                            absl::Span<const std::string_view> label_names);
  // A counter read at scrape time (e.g. CPU seconds from the kernel). `read` must be monotonic.
  void AddCallbackCounter(std::string_view name, std::string_view help,
                          std::function<double()> read);

  Gauge& AddGauge(std::string_view name, std::string_view help);
  GaugeFamily& AddGauge(std::string_view name, std::string_view help,
                        absl::Span<const std::string_view> label_names);
  // A gauge evaluated at scrape time (process RSS, queue depth). `read` must be cheap and
  // thread-safe: it runs on the scraping thread.
  void AddCallbackGauge(std::string_view name, std::string_view help, std::function<double()> read);

  // `bounds`: strictly increasing, finite upper bounds (a trailing +Inf is dropped), at most
  // kHistogramBucketsMax. See ExponentialBuckets() and DefaultLatencyBucketsSeconds().
  Histogram& AddHistogram(std::string_view name, std::string_view help, std::vector<double> bounds);
  HistogramFamily& AddHistogram(std::string_view name, std::string_view help,
                                absl::Span<const std::string_view> label_names,
                                std::vector<double> bounds);

  // The Prometheus text exposition format 0.0.4 (Content-Type: kTextContentType), families in
  // registration order, children in creation order. WriteText appends to `out` so a scrape handler
  // can reuse its buffer.
  static constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";
  std::string ExposeText() const;
  void WriteText(std::string* out) const;

 private:
  void CheckNewFamily(std::string_view name, metrics_internal::Type type, std::string_view help,
                      absl::Span<const std::string_view> label_names) const;
  template <typename Family>
  Family& Insert(std::unique_ptr<Family> family);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<metrics_internal::FamilyBase>> families_;  // Never shrinks.
};

}  // namespace core

namespace core {
extern template class MetricFamily<Counter>;
extern template class MetricFamily<Gauge>;
extern template class MetricFamily<Histogram>;
}  // namespace core
