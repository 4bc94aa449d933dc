#include "core/metrics/process_metrics.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace core {
namespace {

using ::testing::ContainsRegex;
using namespace process_metrics_internal;

TEST(ProcessMetricsTest, ParsesStatm) {
  const auto pages = ParseStatmPages("1000 250 30 4 0 500 0\n");
  ASSERT_TRUE(pages.has_value());
  EXPECT_EQ(pages->first, 1000u);
  EXPECT_EQ(pages->second, 250u);
  EXPECT_FALSE(ParseStatmPages("garbage").has_value());
}

TEST(ProcessMetricsTest, ParsesStartTimeAfterCommandWithSpacesAndParens) {
  // Fields 3..21 are arbitrary; field 22 (starttime) is 123456.
  const std::string stat =
      "4711 (my (weird) cmd) S 1 4711 4711 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 123456 "
      "1000000 250 18446744073709551615\n";
  EXPECT_EQ(ParseStatStartTimeTicks(stat), 123456u);
  EXPECT_FALSE(ParseStatStartTimeTicks("4711 (x) S 1 2").has_value());
}

TEST(ProcessMetricsTest, ParsesBootTime) {
  EXPECT_EQ(ParseBootTimeSeconds("cpu  1 2 3\nctxt 99\nbtime 1700000000\nprocesses 5\n"),
            1700000000u);
  EXPECT_EQ(ParseBootTimeSeconds("btime 42\n"), 42u);
  EXPECT_FALSE(ParseBootTimeSeconds("cpu 1\n").has_value());
}

TEST(ProcessMetricsTest, RegistersStandardNamesWithPlausibleValues) {
  Registry registry;
  RegisterProcessMetrics(registry);
  const std::string text = registry.ExposeText();
  EXPECT_THAT(text, ContainsRegex("# TYPE process_cpu_seconds_total counter\n"
                                  "process_cpu_seconds_total [0-9.e+-]+\n"));
  EXPECT_THAT(text, ContainsRegex("\nprocess_resident_memory_bytes [1-9][0-9.e+]*\n"));
  EXPECT_THAT(text, ContainsRegex("\nprocess_virtual_memory_bytes [1-9][0-9.e+]*\n"));
  EXPECT_THAT(text, ContainsRegex("\nprocess_open_fds [1-9][0-9]*\n"));
  EXPECT_THAT(text, ContainsRegex("\nprocess_max_fds [1-9][0-9.e+]*\n"));
  // After 2020-01-01 and not NaN.
  EXPECT_THAT(text, ContainsRegex("\nprocess_start_time_seconds 1[6-9][0-9]{8}(\\.[0-9]+)?\n"));
}

}  // namespace
}  // namespace core
