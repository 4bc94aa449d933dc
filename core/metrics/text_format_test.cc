#include "core/metrics/internal/text_format.h"

#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace core::metrics_internal {
namespace {

std::string Double(double v) {
  std::string out;
  AppendDouble(v, &out);
  return out;
}

TEST(TextFormatTest, NumbersRoundTripInPrometheusSyntax) {
  EXPECT_EQ(Double(0), "0");
  EXPECT_EQ(Double(3), "3");
  EXPECT_EQ(Double(-1.5), "-1.5");
  EXPECT_EQ(Double(0.1), "0.1");
  EXPECT_EQ(Double(1e21), "1e+21");
  EXPECT_EQ(Double(1e-7), "1e-07");
  EXPECT_EQ(Double(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(Double(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(Double(std::numeric_limits<double>::quiet_NaN()), "NaN");
  std::string out;
  AppendUint(18446744073709551615ULL, &out);
  EXPECT_EQ(out, "18446744073709551615");
}

TEST(TextFormatTest, SampleLine) {
  std::string out;
  AppendSample("m", "_bucket", {"a", "b"}, {"x", "y\"z"}, "0.5", "7", &out);
  AppendSample("m", "", {}, {}, "", "1", &out);
  AppendSample("m", "_bucket", {}, {}, "+Inf", "2", &out);
  EXPECT_EQ(out, "m_bucket{a=\"x\",b=\"y\\\"z\",le=\"0.5\"} 7\nm 1\nm_bucket{le=\"+Inf\"} 2\n");
}

TEST(TextFormatTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // Truncated.
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // Truncated.
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // Overlong '/'.
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // UTF-16 surrogate.
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // Beyond U+10FFFF.
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

TEST(TextFormatTest, LintRulesMatchPromtool) {
  EXPECT_EQ(LintMetricName("http_requests_total", true, false), "");
  EXPECT_EQ(LintMetricName("request_duration_seconds", false, true), "");
  EXPECT_EQ(LintMetricName("process_resident_memory_bytes", false, false), "");
  EXPECT_NE(LintMetricName("a:b", false, false), "");
  EXPECT_NE(LintMetricName("fooBar", false, false), "");
  EXPECT_NE(LintMetricName("requests", true, false), "");
  EXPECT_NE(LintMetricName("x_count", false, false), "");
  EXPECT_NE(LintMetricName("x_sum", false, false), "");
  EXPECT_NE(LintMetricName("x_bucket", false, false), "");
  EXPECT_NE(LintMetricName("queue_gauge", false, false), "");
  EXPECT_NE(LintMetricName("latency_ms", false, true), "");
  EXPECT_NE(LintMetricName("latency_milliseconds", false, true), "");
  EXPECT_NE(LintMetricName("uptime_hours", false, false), "");
  EXPECT_NE(LintMetricName("size_kilobytes", false, false), "");
  EXPECT_EQ(LintLabelName("method", false), "");
  EXPECT_EQ(LintLabelName("le", false), "");
  EXPECT_NE(LintLabelName("le", true), "");
  EXPECT_NE(LintLabelName("__name", false), "");
  EXPECT_NE(LintLabelName("userId", false), "");
}

}  // namespace
}  // namespace core::metrics_internal
