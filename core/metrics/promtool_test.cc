// Checks our exposition with the real `promtool check metrics` (Debian package `prometheus`), which
// parses the text format and applies Prometheus' lint rules. Never skips: without promtool the test
// fails, because a silently skipped format check is how broken /metrics endpoints ship.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "core/metrics/process_metrics.h"
#include "core/metrics/registry.h"
#include "gtest/gtest.h"

namespace core {
namespace {

constexpr char kPromtool[] = "/usr/bin/promtool";
// promtool's report is a few lines per problem; stop reading after this much.
constexpr size_t kPromtoolOutputBytesMax = 1 << 20;

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr.
};

RunResult RunPromtool(const std::string& metrics_text) {
  RunResult result;
  char path[] = "/tmp/core_metrics_promtool_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) {
    result.output = "mkstemp failed";
    return result;
  }
  const bool written = write(fd, metrics_text.data(), metrics_text.size()) ==
                       static_cast<ssize_t>(metrics_text.size());
  close(fd);
  if (!written) {
    unlink(path);
    result.output = "write failed";
    return result;
  }
  const std::string command = std::string(kPromtool) + " check metrics < " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    unlink(path);
    result.output = "popen failed";
    return result;
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0 &&
         result.output.size() < kPromtoolOutputBytesMax) {
    result.output.append(buffer, n);
  }
  const int status = pclose(pipe);
  unlink(path);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Every metric kind, labelled and not, with values that need escaping and special numbers.
Registry& FullRegistry() {
  static Registry* registry = [] {
    auto* r = new Registry();
    auto& requests = r->AddCounter("http_requests_total", "HTTP requests by method and code.",
                                   {"method", "code"});
    requests.WithLabels({"GET", "200"}).Inc(12);
    requests.WithLabels({"POST", "503"}).Inc(0.5);
    r->AddCounter("journal_fsyncs_total", "Journal fsync calls.").Inc();
    auto& paths =
        r->AddGauge("active_streams", "Help with \\ backslash,\nnewline and \"quotes\".", {"path"});
    paths.WithLabels({"/v2/models/\"resnet\"\\infer\nx"}).Set(2);
    paths.WithLabels({"caf\xc3\xa9"}).Set(-1.5e-9);
    paths.WithLabels({std::string(kLabelValueBytesMax + 1, 'x')}).Set(1);  // Overflow child.
    r->AddGauge("queue_depth", "Items waiting.").Set(1e21);
    r->AddCallbackGauge("batch_fill_ratio", "Last batch fill.",
                        [] { return std::numeric_limits<double>::quiet_NaN(); });
    r->AddCallbackGauge("free_space_bytes", "Free space.",
                        [] { return std::numeric_limits<double>::infinity(); });
    auto& latency = r->AddHistogram("http_request_duration_seconds", "Request latency.", {"route"},
                                    DefaultLatencyBucketsSeconds());
    latency.WithLabels({"/reserve"}).Observe(0.003);
    latency.WithLabels({"/reserve"}).Observe(42);
    latency.WithLabels({"/confirm"}).Observe(0.0001);
    r->AddHistogram("payload_size_bytes", "Request body size.", ExponentialBuckets(64, 4, 8))
        .Observe(1000);
    RegisterProcessMetrics(*r);
    return r;
  }();
  return *registry;
}

TEST(PromtoolTest, ExpositionPassesPromtoolCheckMetrics) {
  ASSERT_EQ(access(kPromtool, X_OK), 0)
      << kPromtool << " not found: run scripts/setup.sh (installs Debian package 'prometheus')";
  const std::string text = FullRegistry().ExposeText();
  const RunResult result = RunPromtool(text);
  EXPECT_EQ(result.exit_code, 0) << "promtool output:\n" << result.output << "\nmetrics:\n" << text;
  EXPECT_EQ(result.output, "") << "metrics:\n" << text;
}

// Guards the test itself: promtool must really reject a bad exposition.
TEST(PromtoolTest, PromtoolRejectsLintProblems) {
  ASSERT_EQ(access(kPromtool, X_OK), 0)
      << kPromtool << " not found: run scripts/setup.sh (installs Debian package 'prometheus')";
  const RunResult result =
      RunPromtool("# HELP requestCount x\n# TYPE requestCount counter\nrequestCount 1\n");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("requestCount"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace core
