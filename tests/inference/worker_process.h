#pragma once
// A real infer-worker for integration tests: started on free ports (HTTP and gRPC) with a ready
// file, two HTTP threads, its log in a temp dir; killed by the destructor if still running.

#include <grpcpp/grpcpp.h>

#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/http/testing/test_client.h"
#include "core/testing/process.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.grpc.pb.h"

namespace inference_testing {

using core::testing::ReadFile;

class WorkerProcess {
 public:
  // `extra` flags are appended to the common ones.
  WorkerProcess(const std::string& binary, const std::string& repo,
                const std::vector<std::string>& extra) {
    ready_file_ = tmp_.File("ready.json");
    std::vector<std::string> argv = {binary,      "--repo",         repo, "--http-port",
                                     "0",         "--grpc-port",    "0",  "--ready-file",
                                     ready_file_, "--http-threads", "2"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    core::testing::ChildOptions o;
    o.log_path = tmp_.File("worker.log");
    auto child = core::testing::ChildProcess::Start(argv, o);
    EXPECT_TRUE(child.ok()) << child.status();
    if (child.ok()) child_ = *std::move(child);
    auto ready = core::testing::WaitForReadyFile(ready_file_, 120000);
    EXPECT_TRUE(ready.ok()) << ready.status() << "\n" << Log();
    if (ready.ok()) {
      http_port = (*ready)["http_port"].get<int>();
      grpc_port = (*ready)["grpc_port"].get<int>();
    }
  }

  std::string Log() const { return ReadFile(tmp_.File("worker.log")); }

  std::unique_ptr<core::http::testing::TestClient> Client() {
    auto c =
        core::http::testing::TestClient::Connect("127.0.0.1", static_cast<uint16_t>(http_port));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  std::unique_ptr<inference::GRPCInferenceService::Stub> Grpc(
      const grpc::ChannelArguments& args = {}) {
    return inference::GRPCInferenceService::NewStub(grpc::CreateCustomChannel(
        fmt::format("127.0.0.1:{}", grpc_port), grpc::InsecureChannelCredentials(), args));
  }

  // Sum of a metric's samples whose labels contain model="<model>"; -1 when /metrics fails.
  double Metric(const std::string& name, const std::string& model) {
    auto client = Client();
    if (client == nullptr) return -1;
    auto r = client->Get("/metrics");
    EXPECT_TRUE(r.ok() && r->status == 200);
    if (!r.ok()) return -1;
    double sum = 0;
    std::istringstream in(r->body);
    const std::string label = fmt::format("model=\"{}\"", model);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(name + "{", 0) == 0 && line.find(label) != std::string::npos) {
        sum += std::stod(line.substr(line.rfind(' ') + 1));
      }
    }
    return sum;
  }

  core::testing::ChildProcess& process() { return *child_; }
  int http_port = 0;
  int grpc_port = 0;

 private:
  core::testing::TempDir tmp_;
  std::string ready_file_;
  std::unique_ptr<core::testing::ChildProcess> child_;
};

}  // namespace inference_testing
