#include "core/metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "core/log/check.h"
#include "core/metrics/internal/text_format.h"

namespace core {

using metrics_internal::AppendDouble;
using metrics_internal::AppendSample;
using metrics_internal::AppendUint;
using metrics_internal::Type;

namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Whole numbers below 2^53 are exact in a double and go to the integer counter.
constexpr double kExactIntegerMax = 9007199254740992.0;

// '\xff' never occurs in UTF-8, so joining valid values with it gives a unique key.
std::string JoinKey(absl::Span<const std::string_view> values) {
  std::string key;
  for (const std::string_view value : values) {
    key.append(value);
    key.push_back('\xff');
  }
  return key;
}

std::vector<std::string> ToStrings(absl::Span<const std::string_view> views) {
  return std::vector<std::string>(views.begin(), views.end());
}

class CallbackFamily final : public metrics_internal::FamilyBase {
 public:
  CallbackFamily(std::string name, std::string help, Type type, std::function<double()> read)
      : FamilyBase(std::move(name), std::move(help), type, {}), read_(std::move(read)) {}

  void WriteText(std::string* out) const override {
    WriteHeader(out);
    std::string value;
    AppendDouble(read_(), &value);
    AppendSample(name_, "", label_names_, {}, "", value, out);
  }

 private:
  const std::function<double()> read_;
};

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || !(IsNameStart(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsNameStart(c) || IsDigit(c) || c == ':'; });
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsNameStart(c) || IsDigit(c); });
}

std::vector<double> ExponentialBuckets(double start, double factor, size_t count) {
  CORE_CHECK(start > 0 && factor > 1 && count >= 1 && count <= kHistogramBucketsMax)
      << "ExponentialBuckets(" << start << ", " << factor << ", " << count << ")";
  std::vector<double> bounds(count);
  double bound = start;
  for (size_t i = 0; i < count; ++i, bound *= factor) bounds[i] = bound;
  return bounds;
}

std::vector<double> DefaultLatencyBucketsSeconds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// --- Counter, Histogram -------------------------------------------------------------------------

void Counter::Inc(double v) {
  if (!(v >= 0)) [[unlikely]]
    return;  // Also false for NaN.
  if (v < kExactIntegerMax && v == std::floor(v)) [[likely]] {
    whole_.fetch_add(static_cast<uint64_t>(v), std::memory_order_relaxed);
  } else {
    fraction_.fetch_add(v, std::memory_order_relaxed);
  }
}

double Counter::Value() const {
  return static_cast<double>(whole_.load(std::memory_order_relaxed)) +
         fraction_.load(std::memory_order_relaxed);
}

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(*bounds), counts_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // First bound >= v ("le" is inclusive); NaN compares false everywhere, so send it to +Inf.
  const size_t index =
      std::isnan(v) ? bounds_.size()
                    : static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                          bounds_.begin());
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::TakeSnapshot() const {
  Snapshot snapshot;
  snapshot.cumulative_counts.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts[i] = total;
  }
  snapshot.count = total;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

// --- Families -----------------------------------------------------------------------------------

namespace metrics_internal {

void FamilyBase::WriteHeader(std::string* out) const {
  out->append("# HELP ");
  out->append(name_);
  out->push_back(' ');
  AppendEscapedHelp(help_, out);
  out->append("\n# TYPE ");
  out->append(name_);
  switch (type_) {
    case Type::kCounter:
      out->append(" counter\n");
      break;
    case Type::kGauge:
      out->append(" gauge\n");
      break;
    case Type::kHistogram:
      out->append(" histogram\n");
      break;
  }
}

}  // namespace metrics_internal

template <typename Metric>
std::unique_ptr<typename MetricFamily<Metric>::Child> MetricFamily<Metric>::NewChild(
    std::vector<std::string> values) const {
  if constexpr (std::is_same_v<Metric, Histogram>) {
    return std::make_unique<Child>(std::move(values), &bounds_);
  } else {
    return std::make_unique<Child>(std::move(values));
  }
}

template <typename Metric>
Metric& MetricFamily<Metric>::OverflowLocked() {
  if (overflow_ == nullptr) {
    overflow_ =
        NewChild(std::vector<std::string>(label_names_.size(), std::string(kOverflowLabelValue)));
  }
  return overflow_->metric;
}

template <typename Metric>
Metric& MetricFamily<Metric>::WithLabels(absl::Span<const std::string_view> label_values) {
  CORE_CHECK(label_values.size() == label_names_.size())
      << "metric " << name_ << ": " << label_values.size() << " label values for "
      << label_names_.size() << " label names";
  const std::string key = JoinKey(label_values);
  std::lock_guard<std::mutex> lock(mu_);
  if (const auto it = by_key_.find(key); it != by_key_.end()) return it->second->metric;
  for (const std::string_view value : label_values) {
    if (value.size() > kLabelValueBytesMax || !metrics_internal::IsValidUtf8(value)) {
      return OverflowLocked();
    }
  }
  if (children_.size() >= kLabelSetsPerFamilyMax) return OverflowLocked();
  children_.push_back(NewChild(ToStrings(label_values)));
  by_key_.emplace(key, children_.back().get());
  return children_.back()->metric;
}

template <typename Metric>
size_t MetricFamily<Metric>::label_sets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return children_.size();
}

template <typename Metric>
void MetricFamily<Metric>::WriteText(std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (children_.empty() && overflow_ == nullptr) return;
  WriteHeader(out);
  std::string value;
  std::string le;
  const auto write_child = [&](const Child& child) {
    value.clear();
    if constexpr (std::is_same_v<Metric, Counter>) {
      const uint64_t whole = child.metric.whole_.load(std::memory_order_relaxed);
      const double fraction = child.metric.fraction_.load(std::memory_order_relaxed);
      if (fraction == 0) {
        AppendUint(whole, &value);  // Exact even beyond 2^53.
      } else {
        AppendDouble(static_cast<double>(whole) + fraction, &value);
      }
      AppendSample(name_, "", label_names_, child.label_values, "", value, out);
    } else if constexpr (std::is_same_v<Metric, Gauge>) {
      AppendDouble(child.metric.Value(), &value);
      AppendSample(name_, "", label_names_, child.label_values, "", value, out);
    } else {
      const Histogram::Snapshot snapshot = child.metric.TakeSnapshot();
      for (size_t i = 0; i < snapshot.cumulative_counts.size(); ++i) {
        le.clear();
        if (i < bounds_.size()) {
          AppendDouble(bounds_[i], &le);
        } else {
          le = "+Inf";
        }
        value.clear();
        AppendUint(snapshot.cumulative_counts[i], &value);
        AppendSample(name_, "_bucket", label_names_, child.label_values, le, value, out);
      }
      value.clear();
      AppendDouble(snapshot.sum, &value);
      AppendSample(name_, "_sum", label_names_, child.label_values, "", value, out);
      value.clear();
      AppendUint(snapshot.count, &value);
      AppendSample(name_, "_count", label_names_, child.label_values, "", value, out);
    }
  };
  for (const auto& child : children_) write_child(*child);
  if (overflow_ != nullptr) write_child(*overflow_);
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

// --- Registry -----------------------------------------------------------------------------------

void Registry::CheckNewFamily(std::string_view name, Type type, std::string_view help,
                              absl::Span<const std::string_view> label_names) const {
  const bool is_histogram = type == Type::kHistogram;
  const std::string name_problem =
      metrics_internal::LintMetricName(name, type == Type::kCounter, is_histogram);
  CORE_CHECK(name_problem.empty()) << "metric " << name << ": " << name_problem;
  CORE_CHECK(!help.empty()) << "metric " << name << ": help text is required";
  CORE_CHECK(metrics_internal::IsValidUtf8(help)) << "metric " << name << ": help is not UTF-8";
  CORE_CHECK(label_names.size() <= kLabelNamesPerFamilyMax)
      << "metric " << name << ": " << label_names.size() << " label names, at most "
      << kLabelNamesPerFamilyMax;
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string label_problem = metrics_internal::LintLabelName(label_names[i], is_histogram);
    CORE_CHECK(label_problem.empty())
        << "metric " << name << ": label " << label_names[i] << ": " << label_problem;
    for (size_t j = 0; j < i; ++j) {
      CORE_CHECK(label_names[i] != label_names[j])
          << "metric " << name << ": duplicate label " << label_names[i];
    }
  }
}

template <typename Family>
Family& Registry::Insert(std::unique_ptr<Family> family) {
  Family& result = *family;
  // Every series name a family exposes, so that e.g. a gauge "x_count" cannot shadow histogram "x".
  const auto exposed = [](const std::string& name, bool histogram) {
    return histogram
               ? std::vector<std::string>{name, name + "_bucket", name + "_count", name + "_sum"}
               : std::vector<std::string>{name};
  };
  const bool new_is_histogram = std::is_same_v<Family, HistogramFamily>;
  std::lock_guard<std::mutex> lock(mu_);
  CORE_CHECK(families_.size() < kFamiliesMax) << "more than " << kFamiliesMax << " metric families";
  for (const auto& existing : families_) {
    const bool old_is_histogram = dynamic_cast<const HistogramFamily*>(existing.get()) != nullptr;
    for (const std::string& a : exposed(existing->name(), old_is_histogram)) {
      for (const std::string& b : exposed(family->name(), new_is_histogram)) {
        CORE_CHECK(a != b) << "metric " << family->name() << ": name collides with metric "
                           << existing->name();
      }
    }
  }
  families_.push_back(std::move(family));
  return result;
}

CounterFamily& Registry::AddCounter(std::string_view name, std::string_view help,
                                    absl::Span<const std::string_view> label_names) {
  CheckNewFamily(name, Type::kCounter, help, label_names);
  return Insert(std::make_unique<CounterFamily>(std::string(name), std::string(help),
                                                Type::kCounter, ToStrings(label_names)));
}

Counter& Registry::AddCounter(std::string_view name, std::string_view help) {
  return AddCounter(name, help, {}).WithLabels({});
}

void Registry::AddCallbackCounter(std::string_view name, std::string_view help,
                                  std::function<double()> read) {
  CheckNewFamily(name, Type::kCounter, help, {});
  CORE_CHECK(read != nullptr) << "metric " << name << ": null callback";
  Insert(std::make_unique<CallbackFamily>(std::string(name), std::string(help), Type::kCounter,
                                          std::move(read)));
}

GaugeFamily& Registry::AddGauge(std::string_view name, std::string_view help,
                                absl::Span<const std::string_view> label_names) {
  CheckNewFamily(name, Type::kGauge, help, label_names);
  return Insert(std::make_unique<GaugeFamily>(std::string(name), std::string(help), Type::kGauge,
                                              ToStrings(label_names)));
}

Gauge& Registry::AddGauge(std::string_view name, std::string_view help) {
  return AddGauge(name, help, {}).WithLabels({});
}

void Registry::AddCallbackGauge(std::string_view name, std::string_view help,
                                std::function<double()> read) {
  CheckNewFamily(name, Type::kGauge, help, {});
  CORE_CHECK(read != nullptr) << "metric " << name << ": null callback";
  Insert(std::make_unique<CallbackFamily>(std::string(name), std::string(help), Type::kGauge,
                                          std::move(read)));
}

HistogramFamily& Registry::AddHistogram(std::string_view name, std::string_view help,
                                        absl::Span<const std::string_view> label_names,
                                        std::vector<double> bounds) {
  CheckNewFamily(name, Type::kHistogram, help, label_names);
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) {
    bounds.pop_back();
  }
  CORE_CHECK(!bounds.empty() && bounds.size() <= kHistogramBucketsMax)
      << "metric " << name << ": " << bounds.size() << " bucket bounds, need 1.."
      << kHistogramBucketsMax;
  for (size_t i = 0; i < bounds.size(); ++i) {
    CORE_CHECK(std::isfinite(bounds[i]) && (i == 0 || bounds[i - 1] < bounds[i]))
        << "metric " << name << ": bucket bounds must be finite and strictly increasing";
  }
  return Insert(std::make_unique<HistogramFamily>(std::string(name), std::string(help),
                                                  Type::kHistogram, ToStrings(label_names),
                                                  std::move(bounds)));
}

Histogram& Registry::AddHistogram(std::string_view name, std::string_view help,
                                  std::vector<double> bounds) {
  return AddHistogram(name, help, {}, std::move(bounds)).WithLabels({});
}

std::string Registry::ExposeText() const {
  std::string out;
  WriteText(&out);
  return out;
}

void Registry::WriteText(std::string* out) const {
  // Families are never removed, so the pointers stay valid after the lock is released; rendering
  // (and the callbacks) then runs without blocking registration.
  std::vector<const metrics_internal::FamilyBase*> families;
  {
    std::lock_guard<std::mutex> lock(mu_);
    families.reserve(families_.size());
    for (const auto& family : families_) families.push_back(family.get());
  }
  for (const auto* family : families) family->WriteText(out);
}

}  // namespace core
