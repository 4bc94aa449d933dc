#pragma once
// Starts the real stockd binary for integration tests: data in a TempDir, ports chosen by the
// kernel
// (--http-port 0 --grpc-port 0) and read back from --ready-file. Restart() reuses the data
// directory, so tests can kill -9 the server and check what survived.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "core/http/testing/test_client.h"
#include "core/testing/process.h"

namespace inventory::testing {

// argv[1] of the test binary: path of stockd (see tests/inventory/CMakeLists.txt).
inline std::string& StockdPath() {
  static std::string path;
  return path;
}

class StockdProcess {
 public:
  explicit StockdProcess(std::vector<std::string> extra_args = {})
      : extra_args_(std::move(extra_args)) {}

  // Starts (or restarts) stockd on the same data directory; waits until it listens.
  ::testing::AssertionResult Start() {
    const std::string ready = dir_.File("ready.json");
    std::filesystem::remove(ready);
    std::vector<std::string> argv = {
        StockdPath(),  "--data-dir", dir_.File("data"), "--http-port", "0",
        "--grpc-port", "0",          "--ready-file",    ready};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    auto child = core::testing::ChildProcess::Start(
        argv, core::testing::ChildOptions{.log_path = dir_.File("stockd.log")});
    if (!child.ok()) return ::testing::AssertionFailure() << child.status();
    child_ = std::move(*child);
    auto json = core::testing::WaitForReadyFile(ready, 60'000);
    if (!json.ok()) return ::testing::AssertionFailure() << json.status() << "\n" << Log();
    http_port_.store((*json)["http_port"].get<uint16_t>());
    grpc_port_.store((*json)["grpc_port"].get<uint16_t>());
    ++generation_;
    return ::testing::AssertionSuccess();
  }
  void Kill9() {
    child_->Signal(SIGKILL);
    (void)child_->Wait(30'000);
  }
  // SIGTERM; returns the exit code.
  int Terminate() {
    child_->Signal(SIGTERM);
    auto code = child_->Wait(60'000);
    return code.ok() ? *code : -1000;
  }
  bool Running() { return child_ && child_->Running(); }
  uint16_t http_port() const { return http_port_.load(); }
  uint16_t grpc_port() const { return grpc_port_.load(); }
  int generation() const { return generation_.load(); }
  std::string Log() const { return core::testing::ReadFile(dir_.File("stockd.log")); }
  absl::StatusOr<std::unique_ptr<core::http::testing::TestClient>> TryClient() {
    return core::http::testing::TestClient::Connect("127.0.0.1", http_port());
  }
  std::unique_ptr<core::http::testing::TestClient> Client() {
    auto c = TryClient();
    return c.ok() ? std::move(*c) : nullptr;
  }

 private:
  core::testing::TempDir dir_;
  std::vector<std::string> extra_args_;
  std::unique_ptr<core::testing::ChildProcess> child_;
  std::atomic<uint16_t> http_port_{0};
  std::atomic<uint16_t> grpc_port_{0};
  std::atomic<int> generation_{0};
};

}  // namespace inventory::testing
