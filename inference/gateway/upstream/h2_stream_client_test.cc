#include "inference/gateway/upstream/h2_stream_client.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "inference/kserve/stream_protocol.h"

namespace inference::gateway {
namespace {

// A bound on every wait, so a broken client fails the test instead of hanging it. Not a timing
// assertion: every wait is for a condition.
constexpr auto kWaitMax = std::chrono::seconds(20);

// What the test server does with a call, parsed from the request bytes "key=value;...":
// n responses of `size` bytes ("<tag>:<i>" padded with '.'), then status `code`/`msg`, or, with
// hold=1, nothing more until the call is cancelled, or, with more=1, the next request on the same
// call (the client's half-close then ends the call OK).
struct Command {
  int n = 0;
  size_t size = 0;
  int code = 0;
  std::string msg;
  bool hold = false;
  bool more = false;
  std::string tag;
};

std::string Request(int n, int code = 0, const std::string& msg = "", bool hold = false,
                    size_t size = 0, const std::string& tag = "t") {
  return "n=" + std::to_string(n) + ";code=" + std::to_string(code) + ";msg=" + msg +
         ";hold=" + (hold ? "1" : "0") + ";size=" + std::to_string(size) + ";tag=" + tag;
}

Command Parse(const std::string& text) {
  Command c;
  std::stringstream in(text);
  std::string field;
  while (std::getline(in, field, ';')) {
    const size_t eq = field.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = field.substr(0, eq), value = field.substr(eq + 1);
    if (key == "n") c.n = std::stoi(value);
    if (key == "code") c.code = std::stoi(value);
    if (key == "msg") c.msg = value;
    if (key == "hold") c.hold = value == "1";
    if (key == "size") c.size = std::stoul(value);
    if (key == "tag") c.tag = value;
    if (key == "more") c.more = value == "1";
  }
  return c;
}

std::string Response(const Command& c, int i) {
  std::string m = c.tag + ":" + std::to_string(i);
  if (m.size() < c.size) m.resize(c.size, '.');
  return m;
}

// ModelStreamInfer on opaque bytes: one request in, Command's responses out.
class StreamService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_method_ = ctx->method();
      auto it = ctx->client_metadata().find("x-test");
      if (it != ctx->client_metadata().end()) {
        last_x_test_.assign(it->second.data(), it->second.size());
      }
    }
    return new Reactor(this);
  }

  // Waits (bounded) until pred() holds under the service's lock.
  bool WaitFor(const std::function<bool()>& pred) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWaitMax, pred);
  }
  bool WaitForWrites(int n, std::chrono::milliseconds within) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, within, [&] { return writes_ >= n; });
  }
  bool WaitForCancels(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWaitMax, [&] { return cancels_ >= n; });
  }
  bool WaitForHolding(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWaitMax, [&] { return holding_ >= n; });
  }
  int writes() {
    std::lock_guard<std::mutex> lock(mu_);
    return writes_;
  }
  int cancels() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancels_;
  }
  int holding() {
    std::lock_guard<std::mutex> lock(mu_);
    return holding_;
  }
  std::string last_method() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_method_;
  }
  std::string last_x_test() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_x_test_;
  }

 private:
  class Reactor final : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(StreamService* service) : service_(service) { StartRead(&request_); }

    void OnReadDone(bool ok) override {
      if (!ok && reading_more_) return MaybeFinish(grpc::Status::OK);  // half-closed
      if (!ok) return MaybeFinish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
      std::vector<grpc::Slice> slices;
      std::string text;
      if (request_.Dump(&slices).ok()) {
        for (const auto& s : slices)
          text.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
      command_ = Parse(text);
      NextWrite();
    }
    void OnWriteDone(bool ok) override {
      if (!ok) return MaybeFinish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      ++sent_;
      service_->Note([](StreamService* s) { ++s->writes_; });
      NextWrite();
    }
    void OnCancel() override {
      service_->Note([](StreamService* s) { ++s->cancels_; });
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      if (holding_) FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }
    void OnDone() override {
      if (held_) service_->Note([](StreamService* s) { --s->holding_; });
      delete this;
    }

   private:
    void NextWrite() {
      if (sent_ < command_.n) {
        const std::string m = Response(command_, sent_);
        grpc::Slice slice(m);
        response_ = grpc::ByteBuffer(&slice, 1);
        StartWrite(&response_);
        return;
      }
      if (command_.more) {
        sent_ = 0;
        reading_more_ = true;
        StartRead(&request_);
        return;
      }
      if (command_.hold) {
        held_ = true;
        service_->Note([](StreamService* s) { ++s->holding_; });
        std::lock_guard<std::mutex> lock(mu_);
        holding_ = true;
        if (cancelled_) FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
        return;
      }
      MaybeFinish(grpc::Status(static_cast<grpc::StatusCode>(command_.code), command_.msg));
    }
    void MaybeFinish(const grpc::Status& status) {
      std::lock_guard<std::mutex> lock(mu_);
      FinishLocked(status);
    }
    void FinishLocked(const grpc::Status& status) {
      if (finished_) return;
      finished_ = true;
      Finish(status);
    }

    StreamService* const service_;
    grpc::ByteBuffer request_, response_;
    Command command_;
    int sent_ = 0;
    bool held_ = false;  // counted in holding_
    bool reading_more_ = false;
    std::mutex mu_;
    bool cancelled_ = false, holding_ = false, finished_ = false;
  };

  void Note(const std::function<void(StreamService*)>& change) {
    std::lock_guard<std::mutex> lock(mu_);
    change(this);
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int writes_ = 0, cancels_ = 0, holding_ = 0;
  std::string last_method_, last_x_test_;
};

// A real gRPC C++ server (the worker's stack) on `address`: "127.0.0.1:<port or 0>" or "unix:...".
class Worker {
 public:
  explicit Worker(const std::string& address, int max_streams = 0) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port_);
    if (max_streams > 0) builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, max_streams);
    builder.RegisterCallbackGenericService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~Worker() { Shutdown(); }

  bool ok() const { return server_ != nullptr; }
  int port() const { return port_; }
  StreamService& service() { return service_; }
  // Cancels the calls still open and closes the connections.
  void Shutdown() {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
    server_.reset();
  }

 private:
  StreamService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

class TestSink final : public H2StreamClient::Sink {
 public:
  // pause(k): whether to pause after the k-th message (1-based).
  explicit TestSink(std::function<bool(size_t)> pause = nullptr) : pause_(std::move(pause)) {}

  bool OnMessage(std::string_view message) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_) ++after_done_;
    messages_.emplace_back(message);
    cv_.notify_all();
    return !(pause_ && pause_(messages_.size()));
  }
  void OnDone(const grpc::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++done_count_;
    status_ = status;
    cv_.notify_all();
  }

  bool WaitMessages(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWaitMax, [&] { return messages_.size() >= n || status_; });
  }
  // The final status (UNKNOWN "timed out" if OnDone never came).
  grpc::Status WaitDone() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, kWaitMax, [&] { return status_.has_value(); })) {
      return grpc::Status(grpc::StatusCode::UNKNOWN, "timed out waiting for OnDone");
    }
    return *status_;
  }
  std::vector<std::string> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_.has_value();
  }
  // OnDone exactly once, nothing after it.
  void ExpectDoneOnce() {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(done_count_, 1);
    EXPECT_EQ(after_done_, 0);
  }

 private:
  const std::function<bool(size_t)> pause_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> messages_;
  std::optional<grpc::Status> status_;
  int done_count_ = 0, after_done_ = 0;
};

std::vector<std::string> Expected(const std::string& request, int n) {
  const Command c = Parse(request);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(Response(c, i));
  return out;
}

H2StreamClient::Options TcpOptions(int port) {
  H2StreamClient::Options o;
  o.address.host = "127.0.0.1";
  o.address.port = static_cast<uint16_t>(port);
  return o;
}

TEST(H2StreamClientTest, DeliversMessagesInOrderThenOk) {
  Worker worker("127.0.0.1:0");
  ASSERT_TRUE(worker.ok());
  auto client = H2StreamClient::Create(TcpOptions(worker.port()));
  auto sink = std::make_shared<TestSink>();
  const std::string request = Request(5);
  client->Start(request, {{"x-test", "hello"}}, sink);
  const grpc::Status status = sink->WaitDone();
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_EQ(sink->messages(), Expected(request, 5));
  sink->ExpectDoneOnce();
  EXPECT_EQ(worker.service().last_method(), kModelStreamInferMethod);
  EXPECT_EQ(worker.service().last_x_test(), "hello");
}

// Started with close_writes false, a call carries requests until CloseWrites, as the gateway's SSE
// upstream pool reuses one call for generation after generation.
TEST(H2StreamClientTest, OpenCallCarriesRequestsUntilCloseWrites) {
  Worker worker("127.0.0.1:0");
  ASSERT_TRUE(worker.ok());
  auto client = H2StreamClient::Create(TcpOptions(worker.port()));
  auto sink = std::make_shared<TestSink>();
  const std::string first = Request(3) + ";more=1";
  const std::string second = Request(2, 0, "", false, 0, "u") + ";more=1";
  std::shared_ptr<H2StreamClient::Call> call =
      client->Start(first, {}, sink, /*close_writes=*/false);
  ASSERT_TRUE(sink->WaitMessages(3));
  EXPECT_FALSE(sink->done()) << "the call ended while open";
  call->Write(second);
  ASSERT_TRUE(sink->WaitMessages(5));
  EXPECT_FALSE(sink->done());
  call->CloseWrites();
  const grpc::Status status = sink->WaitDone();
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  std::vector<std::string> want = Expected(first, 3);
  for (const std::string& m : Expected(second, 2)) want.push_back(m);
  EXPECT_EQ(sink->messages(), want);
  sink->ExpectDoneOnce();
  call->Write(first);  // after the end: ignored
}

TEST(H2StreamClientTest, ServerErrorStatusReachesOnDone) {
  Worker worker("127.0.0.1:0");
  ASSERT_TRUE(worker.ok());
  auto client = H2StreamClient::Create(TcpOptions(worker.port()));
  // After messages (status in trailers); the message is percent-encoded on the wire.
  auto sink = std::make_shared<TestSink>();
  client->Start(Request(2, 3, "bad input: 100% wrong"), {}, sink);
  grpc::Status status = sink->WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "bad input: 100% wrong");
  EXPECT_EQ(sink->messages().size(), 2u);
  sink->ExpectDoneOnce();
  // Trailers-only (status in the response headers).
  auto sink2 = std::make_shared<TestSink>();
  client->Start(Request(0, 5, "no such model"), {}, sink2);
  status = sink2->WaitDone();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "no such model");
  EXPECT_TRUE(sink2->messages().empty());
  sink2->ExpectDoneOnce();
}

// 64 calls at once on one connection, with the server allowing 8 streams: the rest queue.
TEST(H2StreamClientTest, ManyConcurrentCallsComplete) {
  Worker worker("127.0.0.1:0", /*max_streams=*/8);
  ASSERT_TRUE(worker.ok());
  auto client = H2StreamClient::Create(TcpOptions(worker.port()));
  constexpr int kCalls = 64, kMessages = 20;
  std::vector<std::shared_ptr<TestSink>> sinks;
  std::vector<std::string> requests;
  for (int i = 0; i < kCalls; ++i) {
    requests.push_back(Request(kMessages, 0, "", false, 0, std::to_string(i)));
    sinks.push_back(std::make_shared<TestSink>());
    client->Start(requests.back(), {}, sinks.back());
  }
  for (int i = 0; i < kCalls; ++i) {
    const grpc::Status status = sinks[i]->WaitDone();
    EXPECT_TRUE(status.ok()) << i << ": " << status.error_code() << " " << status.error_message();
    EXPECT_EQ(sinks[i]->messages(), Expected(requests[i], kMessages)) << i;
    sinks[i]->ExpectDoneOnce();
  }
}

// A paused call holds back its stream: the server can send about one window, no more, and the
// sink sees nothing until Resume, which delivers the rest in order.
TEST(H2StreamClientTest, PauseHoldsTheWindowAndResumeDeliversTheRest) {
  Worker worker("127.0.0.1:0");
  ASSERT_TRUE(worker.ok());
  H2StreamClient::Options o = TcpOptions(worker.port());
  o.stream_window_bytes = 64 << 10;
  auto client = H2StreamClient::Create(o);
  constexpr int kMessages = 128;
  constexpr size_t kMessageBytes = 8 << 10;  // 1 MiB in all, 16 windows
  auto sink = std::make_shared<TestSink>([](size_t k) { return k == 1; });
  const std::string request = Request(kMessages, 0, "", false, kMessageBytes);
  std::shared_ptr<H2StreamClient::Call> call = client->Start(request, {}, sink);
  ASSERT_TRUE(sink->WaitMessages(1));
  // The server's writes stall once the window is used: within a window of its socket and
  // transport buffers, far below all 128. (Waiting for a condition that must not come.)
  EXPECT_FALSE(worker.service().WaitForWrites(kMessages, std::chrono::milliseconds(500)));
  EXPECT_LT(worker.service().writes(), kMessages / 2);
  EXPECT_EQ(sink->messages().size(), 1u);  // nothing delivered while paused
  EXPECT_FALSE(sink->done());
  call->Resume();
  const grpc::Status status = sink->WaitDone();
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_EQ(sink->messages(), Expected(request, kMessages));
  sink->ExpectDoneOnce();
}

// Trailers that arrive while messages are held wait for Resume and come after them.
TEST(H2StreamClientTest, StatusWaitsForHeldMessages) {
  Worker worker("127.0.0.1:0");
  ASSERT_TRUE(worker.ok());
  auto client = H2StreamClient::Create(TcpOptions(worker.port()));
  auto sink = std::make_shared<TestSink>([](size_t k) { return k == 1; });
  const std::string request = Request(4);
  std::shared_ptr<H2StreamClient::Call> call = client->Start(request, {}, sink);
  ASSERT_TRUE(sink->WaitMessages(1));
  // All written (the window is far larger); the trailers most likely arrive before Resume.
  EXPECT_TRUE(worker.service().WaitForWrites(4, kWaitMax));
  call->Resume();
  EXPECT_TRUE(sink->WaitDone().ok());
  EXPECT_EQ(sink->messages(), Expected(request, 4));
  sink->ExpectDoneOnce();
  call->Resume();  // done: no-op
  call->Cancel();  // done: no-op
  sink->ExpectDoneOnce();
}

TEST(H2StreamClientTest, CancelMidStreamEndsTheCallAndReachesTheServer) {
  Worker worker("127.0.0.1:0");
  ASSERT_TRUE(worker.ok());
  auto client = H2StreamClient::Create(TcpOptions(worker.port()));
  auto sink = std::make_shared<TestSink>();
  std::shared_ptr<H2StreamClient::Call> call =
      client->Start(Request(3, 0, "", /*hold=*/true), {}, sink);
  ASSERT_TRUE(sink->WaitMessages(3));
  call->Cancel();
  EXPECT_EQ(sink->WaitDone().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(worker.service().WaitForCancels(1));
  call->Cancel();  // done: no-op
  sink->ExpectDoneOnce();
}

TEST(H2StreamClientTest, OversizedMessageIsResourceExhausted) {
  Worker worker("127.0.0.1:0");
  ASSERT_TRUE(worker.ok());
  H2StreamClient::Options o = TcpOptions(worker.port());
  o.message_bytes_max = 100;
  auto client = H2StreamClient::Create(o);
  auto sink = std::make_shared<TestSink>();
  client->Start(Request(2, 0, "", false, 1000), {}, sink);
  EXPECT_EQ(sink->WaitDone().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(sink->messages().empty());
  sink->ExpectDoneOnce();
}

// Nothing listens: UNAVAILABLE. A worker comes up on the port: the next call connects. The worker
// goes away: UNAVAILABLE again; back: connects again.
TEST(H2StreamClientTest, UnavailableThenReconnectsOverTcp) {
  int port = 0;
  {
    Worker probe("127.0.0.1:0");  // a port that was free a moment ago
    ASSERT_TRUE(probe.ok());
    port = probe.port();
  }
  auto client = H2StreamClient::Create(TcpOptions(port));
  auto refused = std::make_shared<TestSink>();
  client->Start(Request(1), {}, refused);
  EXPECT_EQ(refused->WaitDone().error_code(), grpc::StatusCode::UNAVAILABLE);
  refused->ExpectDoneOnce();

  auto worker = std::make_unique<Worker>("127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(worker->ok());
  auto first = std::make_shared<TestSink>();
  client->Start(Request(2), {}, first);
  EXPECT_TRUE(first->WaitDone().ok());
  EXPECT_EQ(first->messages().size(), 2u);

  worker->Shutdown();
  auto gone = std::make_shared<TestSink>();
  client->Start(Request(1), {}, gone);
  EXPECT_EQ(gone->WaitDone().error_code(), grpc::StatusCode::UNAVAILABLE);

  worker = std::make_unique<Worker>("127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(worker->ok());
  auto again = std::make_shared<TestSink>();
  client->Start(Request(3), {}, again);
  const grpc::Status status = again->WaitDone();
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_EQ(again->messages().size(), 3u);
}

TEST(H2StreamClientTest, UnixSocketAndReconnect) {
  char dir_template[] = "/tmp/h2_stream_client_test.XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string path = dir + "/w.sock";
  H2StreamClient::Options o;
  o.address.unix_socket = true;
  o.address.host = path;
  auto client = H2StreamClient::Create(o);
  {
    auto worker = std::make_unique<Worker>("unix:" + path);
    ASSERT_TRUE(worker->ok());
    auto sink = std::make_shared<TestSink>();
    const std::string request = Request(4);
    client->Start(request, {}, sink);
    const grpc::Status status = sink->WaitDone();
    EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
    EXPECT_EQ(sink->messages(), Expected(request, 4));

    // The worker holds a call open, then goes away: the call fails UNAVAILABLE or CANCELLED
    // (the server cancels its calls as it shuts down), and the next one reconnects.
    auto open = std::make_shared<TestSink>();
    client->Start(Request(1, 0, "", /*hold=*/true), {}, open);
    ASSERT_TRUE(open->WaitMessages(1));
    worker->Shutdown();
    const grpc::StatusCode code = open->WaitDone().error_code();
    EXPECT_TRUE(code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::CANCELLED)
        << code;
  }
  auto gone = std::make_shared<TestSink>();
  client->Start(Request(1), {}, gone);
  EXPECT_EQ(gone->WaitDone().error_code(), grpc::StatusCode::UNAVAILABLE);
  {
    Worker worker("unix:" + path);
    ASSERT_TRUE(worker.ok());
    auto again = std::make_shared<TestSink>();
    client->Start(Request(2), {}, again);
    EXPECT_TRUE(again->WaitDone().ok());
    EXPECT_EQ(again->messages().size(), 2u);
  }
  client.reset();
  std::filesystem::remove_all(dir);
}

TEST(H2StreamClientTest, DestroyingTheClientEndsOpenCalls) {
  Worker worker("127.0.0.1:0");
  ASSERT_TRUE(worker.ok());
  auto client = H2StreamClient::Create(TcpOptions(worker.port()));
  std::vector<std::shared_ptr<TestSink>> sinks;
  std::vector<std::shared_ptr<H2StreamClient::Call>> calls;
  for (int i = 0; i < 4; ++i) {
    sinks.push_back(std::make_shared<TestSink>(i == 0 ? [](size_t) { return true; }
                                                      : std::function<bool(size_t)>()));
    calls.push_back(client->Start(Request(1, 0, "", /*hold=*/true), {}, sinks.back()));
  }
  for (auto& sink : sinks) ASSERT_TRUE(sink->WaitMessages(1));
  ASSERT_TRUE(worker.service().WaitForHolding(4));
  client.reset();
  for (auto& sink : sinks) {
    ASSERT_TRUE(sink->done());  // before the destructor returned
    EXPECT_EQ(sink->WaitDone().error_code(), grpc::StatusCode::UNAVAILABLE);
    sink->ExpectDoneOnce();
  }
  for (auto& call : calls) {  // after the client: no-ops
    call->Resume();
    call->Cancel();
  }
  EXPECT_TRUE(worker.service().WaitForCancels(4));
}

}  // namespace
}  // namespace inference::gateway
