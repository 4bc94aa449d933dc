#pragma once
// Helpers shared by the gateway integration tests (gateway_test.cc, stream_gateway_test.cc).

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "fmt/format.h"

namespace gateway_testing {

// The hex SHA-256 of `key`, as the gateway config stores API keys.
inline std::string Sha256Hex(const std::string& key) {
  std::string out;
  FILE* p = ::popen(fmt::format("printf %s '{}' | sha256sum", key).c_str(), "r");
  char buf[128] = {};
  if (std::fgets(buf, sizeof buf, p)) out = std::string(buf).substr(0, 64);
  ::pclose(p);
  return out;
}

// Polls `pred` every 20 ms until it holds or `timeout_ms` passed; its last value.
template <typename Pred>
bool Eventually(Pred pred, int timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// A metric sample's value in a /metrics text, or -1.
inline double MetricIn(const std::string& metrics, const std::string& sample) {
  size_t pos = metrics.find("\n" + sample + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(metrics.substr(pos + sample.size() + 2));
}

}  // namespace gateway_testing
