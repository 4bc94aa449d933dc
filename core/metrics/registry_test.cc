#include "core/metrics/registry.h"

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace core {
namespace {

using ::testing::HasSubstr;

TEST(RegistryTest, ExposesSmallRegistryExactly) {
  Registry registry;
  auto& requests = registry.AddCounter("http_requests_total", "HTTP requests.", {"method", "code"});
  requests.WithLabels({"GET", "200"}).Inc();
  requests.WithLabels({"GET", "200"}).Inc(2);
  requests.WithLabels({"POST", "500"}).Inc(0.5);
  registry.AddGauge("queue_depth", "Items waiting.").Set(3);
  registry.AddCallbackGauge("temperature_celsius", "Room temperature.", [] { return -1.5; });
  Histogram& latency = registry.AddHistogram("request_duration_seconds", "Latency.", {0.1, 1, 10});
  latency.Observe(0.05);
  latency.Observe(0.1);  // "le" is inclusive: counts in the 0.1 bucket.
  latency.Observe(2);
  latency.Observe(100);
  registry.AddCounter("empty_family_total", "Never used: no output.", {"kind"});

  EXPECT_EQ(registry.ExposeText(),
            "# HELP http_requests_total HTTP requests.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{method=\"GET\",code=\"200\"} 3\n"
            "http_requests_total{method=\"POST\",code=\"500\"} 0.5\n"
            "# HELP queue_depth Items waiting.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth 3\n"
            "# HELP temperature_celsius Room temperature.\n"
            "# TYPE temperature_celsius gauge\n"
            "temperature_celsius -1.5\n"
            "# HELP request_duration_seconds Latency.\n"
            "# TYPE request_duration_seconds histogram\n"
            "request_duration_seconds_bucket{le=\"0.1\"} 2\n"
            "request_duration_seconds_bucket{le=\"1\"} 2\n"
            "request_duration_seconds_bucket{le=\"10\"} 3\n"
            "request_duration_seconds_bucket{le=\"+Inf\"} 4\n"
            "request_duration_seconds_sum 102.15\n"
            "request_duration_seconds_count 4\n");
}

TEST(RegistryTest, EscapesLabelValuesAndHelp) {
  Registry registry;
  registry.AddGauge("escape_test", "Help with \\ backslash,\nnewline and \"quotes\".", {"path"})
      .WithLabels({"a\\b\"c\nd"})
      .Set(1);
  EXPECT_EQ(registry.ExposeText(),
            "# HELP escape_test Help with \\\\ backslash,\\nnewline and \"quotes\".\n"
            "# TYPE escape_test gauge\n"
            "escape_test{path=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(RegistryTest, HistogramBucketsAreCumulativeWithLabels) {
  Registry registry;
  auto& family = registry.AddHistogram("rpc_duration_seconds", "RPC latency.", {"method"},
                                       ExponentialBuckets(0.001, 10, 3));
  Histogram& get = family.WithLabels({"get"});
  for (const double v : {0.0005, 0.001, 0.005, 0.05, 0.5, 0.7}) get.Observe(v);
  const Histogram::Snapshot snapshot = get.TakeSnapshot();
  EXPECT_EQ(snapshot.cumulative_counts, (std::vector<uint64_t>{2, 3, 4, 6}));
  EXPECT_EQ(snapshot.count, 6u);
  EXPECT_DOUBLE_EQ(snapshot.sum, 1.2565);
  const std::string text = registry.ExposeText();
  EXPECT_THAT(text, HasSubstr("rpc_duration_seconds_bucket{method=\"get\",le=\"0.001\"} 2\n"
                              "rpc_duration_seconds_bucket{method=\"get\",le=\"0.01\"} 3\n"
                              "rpc_duration_seconds_bucket{method=\"get\",le=\"0.1\"} 4\n"
                              "rpc_duration_seconds_bucket{method=\"get\",le=\"+Inf\"} 6\n"));
  EXPECT_THAT(text, HasSubstr("rpc_duration_seconds_count{method=\"get\"} 6\n"));
}

TEST(RegistryTest, HistogramNanGoesToInfBucket) {
  Registry registry;
  Histogram& h = registry.AddHistogram("nan_seconds", "NaN.", {1});
  h.Observe(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(h.TakeSnapshot().cumulative_counts, (std::vector<uint64_t>{0, 1}));
  EXPECT_THAT(registry.ExposeText(), HasSubstr("nan_seconds_sum NaN\n"));
}

TEST(RegistryTest, BucketHelpers) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  const std::vector<double> latency = DefaultLatencyBucketsSeconds();
  ASSERT_FALSE(latency.empty());
  EXPECT_TRUE(std::is_sorted(latency.begin(), latency.end()));
  EXPECT_DOUBLE_EQ(latency.back(), 10);
}

TEST(RegistryTest, WithLabelsReturnsStableChild) {
  Registry registry;
  auto& family = registry.AddCounter("stable_total", "Stable.", {"k"});
  Counter& a = family.WithLabels({"a"});
  for (int i = 0; i < 100; ++i) family.WithLabels({std::to_string(i)});
  EXPECT_EQ(&a, &family.WithLabels({"a"}));
  EXPECT_EQ(family.label_sets(), 101u);
}

TEST(RegistryTest, LabelSetsBeyondLimitShareOverflowChild) {
  Registry registry;
  auto& family = registry.AddCounter("cardinality_total", "Bounded.", {"user"});
  for (size_t i = 0; i < kLabelSetsPerFamilyMax; ++i) family.WithLabels({std::to_string(i)}).Inc();
  Counter& overflow_a = family.WithLabels({"one-too-many"});
  Counter& overflow_b = family.WithLabels({"two-too-many"});
  EXPECT_EQ(&overflow_a, &overflow_b);
  EXPECT_EQ(family.label_sets(), kLabelSetsPerFamilyMax);
  // Existing sets still resolve to their own child.
  EXPECT_NE(&family.WithLabels({"7"}), &overflow_a);
  overflow_a.Inc();
  overflow_b.Inc();
  EXPECT_THAT(registry.ExposeText(), HasSubstr("cardinality_total{user=\"__overflow__\"} 2\n"));
}

TEST(RegistryTest, OversizedAndInvalidUtf8LabelValuesGoToOverflow) {
  Registry registry;
  auto& family = registry.AddGauge("odd_values", "Odd.", {"v"});
  Gauge& overflow = family.WithLabels({std::string(kLabelValueBytesMax + 1, 'x')});
  EXPECT_EQ(&family.WithLabels({"\xff\xfe"}), &overflow);
  EXPECT_NE(&family.WithLabels({"caf\xc3\xa9"}), &overflow);  // Valid UTF-8 is fine.
  EXPECT_EQ(family.label_sets(), 1u);
}

TEST(RegistryTest, CounterIgnoresNegativeAndNan) {
  Counter c;
  c.Inc(2);
  c.Inc(-1);
  c.Inc(std::numeric_limits<double>::quiet_NaN());
  c.Inc(0.25);
  EXPECT_DOUBLE_EQ(c.Value(), 2.25);
}

TEST(RegistryTest, GaugeSetIncDec) {
  Gauge g;
  g.Set(5);
  g.Inc();
  g.Dec(2.5);
  EXPECT_DOUBLE_EQ(g.Value(), 3.5);
}

TEST(RegistryTest, NameValidation) {
  EXPECT_TRUE(IsValidMetricName("a_b:c9"));
  EXPECT_TRUE(IsValidMetricName(":x"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("9x"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_TRUE(IsValidLabelName("_a9"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("1a"));
}

TEST(RegistryDeathTest, ProgrammingErrorsAbortWithMessage) {
  EXPECT_DEATH(Registry().AddCounter("requests", "No _total."), "requests: counter names must end");
  EXPECT_DEATH(Registry().AddGauge("bad-name", "h"), "bad-name: not a valid metric name");
  EXPECT_DEATH(Registry().AddGauge("queueDepth", "h"), "queueDepth: use snake_case");
  EXPECT_DEATH(Registry().AddGauge("latency_ms", "h"), "latency_ms: abbreviated unit 'ms'");
  EXPECT_DEATH(Registry().AddGauge("x_total", "h"), "x_total: only counter names");
  EXPECT_DEATH(Registry().AddGauge("no_help", ""), "no_help: help text is required");
  EXPECT_DEATH(Registry().AddGauge("g", "h", {"bad-label"}), "g: label bad-label");
  EXPECT_DEATH(Registry().AddHistogram("wait_seconds", "h", {"le"}, {1}), "\"le\" is reserved");
  EXPECT_DEATH(Registry().AddHistogram("wait_seconds", "h", {2, 1}), "strictly increasing");
  EXPECT_DEATH(
      {
        Registry registry;
        registry.AddGauge("dup", "h");
        registry.AddGauge("dup", "h");
      },
      "dup: name collides with metric dup");
  EXPECT_DEATH(
      {
        Registry registry;
        registry.AddHistogram("latency_seconds", "h", {1});
        registry.AddCounter("latency_seconds_count_total", "h");  // Fine: a different series name.
        registry.AddCallbackGauge("latency_seconds_bucket", "h", [] { return 0.0; });
      },
      "reserved for histograms");
  EXPECT_DEATH(Registry().AddCounter("c_total", "h", {"a", "b"}).WithLabels({"x"}),
               "c_total: 1 label values for 2 label names");
}

// Labelled "concurrent": runs under ThreadSanitizer in CI.
TEST(RegistryConcurrencyTest, EightThreadsSumExactly) {
  Registry registry;
  auto& family = registry.AddCounter("ops_total", "Ops.", {"kind"});
  Counter& shared = family.WithLabels({"shared"});
  Gauge& gauge = registry.AddGauge("in_flight", "In flight.");
  Histogram& histogram = registry.AddHistogram("op_duration_seconds", "Latency.", {0.5, 1});
  constexpr int kThreads = 8;
  constexpr int kOpsPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter& own = family.WithLabels({"thread" + std::to_string(t)});
      for (int i = 0; i < kOpsPerThread; ++i) {
        shared.Inc();
        shared.Inc(0.5);
        own.Inc();
        gauge.Inc();
        gauge.Dec();
        histogram.Observe(i % 2 == 0 ? 0.25 : 0.75);
        if (i % 10000 == 0) (void)registry.ExposeText();  // Scrapes race with updates.
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_DOUBLE_EQ(shared.Value(), kThreads * kOpsPerThread * 1.5);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_DOUBLE_EQ(family.WithLabels({"thread" + std::to_string(t)}).Value(), kOpsPerThread);
  }
  EXPECT_DOUBLE_EQ(gauge.Value(), 0);
  const Histogram::Snapshot snapshot = histogram.TakeSnapshot();
  EXPECT_EQ(snapshot.cumulative_counts,
            (std::vector<uint64_t>{kThreads * kOpsPerThread / 2, kThreads * kOpsPerThread,
                                   kThreads * kOpsPerThread}));
  EXPECT_DOUBLE_EQ(snapshot.sum, kThreads * kOpsPerThread * 0.5);
  EXPECT_THAT(registry.ExposeText(), HasSubstr("ops_total{kind=\"shared\"} 1200000\n"));
}

}  // namespace
}  // namespace core
