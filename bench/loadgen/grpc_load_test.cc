#include "bench/loadgen/grpc_load.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace loadgen {
namespace {

// Answers every call to any method: echoes the request, or fails with `code` when it is not OK.
class EchoService final : public grpc::CallbackGenericService {
 public:
  explicit EchoService(grpc::StatusCode code) : code_(code) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    ++calls_;
    last_method_ = ctx->method();
    return new Reactor(code_);
  }

  int calls() const { return calls_.load(); }
  std::string last_method() const { return last_method_; }

 private:
  class Reactor final : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(grpc::StatusCode code) : code_(code) { StartRead(&message_); }
    void OnReadDone(bool ok) override {
      if (!ok) return Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
      if (code_ != grpc::StatusCode::OK) return Finish(grpc::Status(code_, "refused"));
      StartWriteAndFinish(&message_, grpc::WriteOptions(), grpc::Status::OK);
    }
    void OnDone() override { delete this; }

   private:
    const grpc::StatusCode code_;
    grpc::ByteBuffer message_;
  };

  const grpc::StatusCode code_;
  std::atomic<int> calls_{0};
  std::string last_method_;  // written by gRPC threads; read after the load has finished
};

class GrpcLoadTest : public ::testing::Test {
 protected:
  void Start(grpc::StatusCode code) {
    service_ = std::make_unique<EchoService>(code);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterCallbackGenericService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  GrpcLoadOptions Options(int connections, uint64_t requests) const {
    GrpcLoadOptions o;
    o.target = "127.0.0.1:" + std::to_string(port_);
    o.method = "/test.Echo/Call";
    o.channels = 2;
    o.load.connections = connections;
    o.load.requests_total = requests;
    return o;
  }

  std::unique_ptr<EchoService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

grpc::ByteBuffer Buffer(const std::string& s) {
  grpc::Slice slice(s);
  return grpc::ByteBuffer(&slice, 1);
}

std::string String(const grpc::ByteBuffer& b) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!b.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

TEST_F(GrpcLoadTest, EveryCallCompletesAndSeesItsOwnResponse) {
  Start(grpc::StatusCode::OK);
  std::atomic<int> mismatched{0};
  auto r = RunGrpcLoad(
      Options(8, 200),
      [](uint64_t seq, grpc::ByteBuffer* out) { *out = Buffer(std::to_string(seq)); },
      [&](uint64_t seq, const grpc::Status& status, const grpc::ByteBuffer& response) {
        if (!status.ok() || String(response) != std::to_string(seq)) ++mismatched;
        return Counts{.ok = 1};
      });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ops.ok, 200u);
  EXPECT_EQ(r->requests, 200u);
  EXPECT_EQ(r->latency_ns.count(), 200u);
  EXPECT_EQ(mismatched.load(), 0);
  EXPECT_EQ(service_->calls(), 200);
  EXPECT_EQ(service_->last_method(), "/test.Echo/Call");
}

TEST_F(GrpcLoadTest, ResourceExhaustedCountsAsRejected) {
  Start(grpc::StatusCode::RESOURCE_EXHAUSTED);
  auto r = RunGrpcLoad(Options(4, 50), [](uint64_t, grpc::ByteBuffer* out) { *out = Buffer("x"); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ops.rejected, 50u);
  EXPECT_EQ(r->ops.ok, 0u);
  EXPECT_EQ(r->ops.errors, 0u);
}

TEST_F(GrpcLoadTest, OtherFailuresCountAsErrors) {
  Start(grpc::StatusCode::INTERNAL);
  auto r = RunGrpcLoad(Options(4, 20), [](uint64_t, grpc::ByteBuffer* out) { *out = Buffer("x"); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ops.errors, 20u);
}

TEST_F(GrpcLoadTest, DurationModeStopsAndDrains) {
  Start(grpc::StatusCode::OK);
  GrpcLoadOptions o = Options(16, 0);
  // Long enough that calls complete inside the window under ThreadSanitizer too (a call takes
  // ~0.4 s there at 16 in flight).
  o.load.warmup = std::chrono::milliseconds(50);
  o.load.duration = std::chrono::milliseconds(2000);
  auto r = RunGrpcLoad(o, [](uint64_t, grpc::ByteBuffer* out) { *out = Buffer("x"); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->ops.ok, 0u);
  EXPECT_EQ(r->ops.errors, 0u);
}

TEST(GrpcLoad, UnreachableServerIsUnavailable) {
  GrpcLoadOptions o;
  o.target = "127.0.0.1:1";  // nothing listens on port 1
  o.method = "/test.Echo/Call";
  o.connect_timeout = std::chrono::milliseconds(200);
  auto r = RunGrpcLoad(o, [](uint64_t, grpc::ByteBuffer* out) { *out = Buffer("x"); });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST(GrpcLoad, BadOptionsAreInvalidArgument) {
  GrpcLoadOptions o;
  o.method = "no-slash";
  auto render = [](uint64_t, grpc::ByteBuffer*) {};
  EXPECT_EQ(RunGrpcLoad(o, render).status().code(), absl::StatusCode::kInvalidArgument);
  o.method = "/a.B/C";
  o.channels = 0;
  EXPECT_EQ(RunGrpcLoad(o, render).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace loadgen
