#include "inference/tools/sse_stream_load.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/http/server.h"

namespace inference {
namespace {

using Progress = SseResponseReader::Progress;

constexpr char kStreamHead[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

std::string Chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

// A response whose events are cut across chunks, a "\n\n" split between two of them included.
std::string EventStreamResponse() {
  return std::string(kStreamHead) + Chunk("data: {\"token\":0}\n\n: keep-alive\n\ndata: {\"tok") +
         Chunk("en\":1}\n") + Chunk("\ndata: {\"token\":2}\n\n") +
         Chunk("event: final\ndata: {\"done\":true}\n\n") + "0\r\n\r\n";
}

// Every token, the final event and the end of the response come out however the bytes are cut,
// and the end only with the last byte.
TEST(SseResponseReaderTest, ReadsEventsCutAnywhere) {
  const std::string wire = EventStreamResponse();
  std::mt19937 rng(11);
  for (int round = 0; round < 300; ++round) {
    int tokens = 0;
    SseResponseReader reader(1 << 10, [&] { ++tokens; });
    reader.Start();
    Progress p = Progress::kMore;
    for (size_t at = 0; at < wire.size();) {
      const size_t n = std::min<size_t>(wire.size() - at, 1 + rng() % 12);
      ASSERT_EQ(p, Progress::kMore)
          << "round " << round << " at " << at << ": " << reader.failure();
      p = reader.Feed(std::string_view(wire).substr(at, n));
      at += n;
    }
    EXPECT_EQ(p, Progress::kDone) << "round " << round << ": " << reader.failure();
    EXPECT_EQ(tokens, 3) << "round " << round;
    EXPECT_TRUE(reader.final_event());
    EXPECT_FALSE(reader.error_event());
    EXPECT_TRUE(reader.keep_alive());
  }
}

TEST(SseResponseReaderTest, RestartsForTheNextResponse) {
  int tokens = 0;
  SseResponseReader reader(1 << 10, [&] { ++tokens; });
  reader.Start();
  ASSERT_EQ(reader.Feed(EventStreamResponse()), Progress::kDone);
  reader.Start();
  EXPECT_FALSE(reader.final_event());
  const std::string errored =
      std::string(kStreamHead) + Chunk("data: 1\n\nevent: error\ndata: {}\n\n") + "0\r\n\r\n";
  ASSERT_EQ(reader.Feed(errored), Progress::kDone);
  EXPECT_EQ(tokens, 4);
  EXPECT_TRUE(reader.error_event());
  EXPECT_FALSE(reader.final_event());
}

TEST(SseResponseReaderTest, ConnectionCloseIsNotKeptAlive) {
  SseResponseReader reader(1 << 10, [] {});
  reader.Start();
  const std::string wire =
      "HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
      Chunk("event: final\ndata: {}\n\n") + "0\r\n\r\n";
  ASSERT_EQ(reader.Feed(wire), Progress::kDone);
  EXPECT_FALSE(reader.keep_alive());
}

TEST(SseResponseReaderTest, StatusOtherThan200Fails) {
  SseResponseReader reader(1 << 10, [] {});
  reader.Start();
  EXPECT_EQ(reader.Feed("HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"),
            Progress::kFailed);
  EXPECT_EQ(reader.failure(), "status 404");
}

TEST(SseResponseReaderTest, UnfinishedEventOverTheLimitFails) {
  SseResponseReader reader(100, [] {});
  reader.Start();
  ASSERT_EQ(reader.Feed(std::string(kStreamHead) + Chunk("data: " + std::string(90, 'x'))),
            Progress::kMore);
  EXPECT_EQ(reader.Feed(Chunk(std::string(20, 'x'))), Progress::kFailed);
  EXPECT_NE(reader.failure().find("longer than 100 bytes"), std::string::npos) << reader.failure();
}

TEST(SseResponseReaderTest, ChunkHeaderThatNeverEndsFails) {
  SseResponseReader reader(1 << 10, [] {});
  reader.Start();
  ASSERT_EQ(reader.Feed(std::string(kStreamHead) + "10;"), Progress::kMore);
  Progress p = Progress::kMore;
  const std::string ext(4096, 'a');
  for (size_t fed = 0; p == Progress::kMore && fed <= 2 * kSseUnparsedBytesMax; fed += ext.size()) {
    p = reader.Feed(ext);
  }
  EXPECT_EQ(p, Progress::kFailed);
}

TEST(SseResponseReaderTest, BytesPastTheResponseFail) {
  SseResponseReader reader(1 << 10, [] {});
  reader.Start();
  EXPECT_EQ(reader.Feed(EventStreamResponse() + "HTTP/1.1"), Progress::kFailed);
}

TEST(SseResponseReaderTest, ConnectionClosedMidResponseFails) {
  SseResponseReader reader(1 << 10, [] {});
  reader.Start();
  const std::string wire = EventStreamResponse();
  ASSERT_EQ(reader.Feed(std::string_view(wire).substr(0, wire.size() - 3)), Progress::kMore);
  EXPECT_EQ(reader.FeedEof(), Progress::kFailed);

  reader.Start();
  EXPECT_EQ(reader.FeedEof(), Progress::kFailed);  // nothing at all
}

// A real HttpServer whose generate_stream route answers by model name: "gen" streams kTokens
// token events then the final event, "error" two tokens then an error event, "nofinal" two tokens
// and no final event, "big" one token event longer than the client's limit; every event is sent
// from another thread, as the gateway sends them.
class SseStreamLoadTest : public ::testing::Test {
 protected:
  static constexpr int kTokens = 5;

  void SetUp() override {
    router_.Post("/v2/models/{model}/generate_stream",
                 [this](core::http::Request& req, core::http::Responder rsp) {
                   const std::string model(req.param("model"));
                   {
                     std::lock_guard<std::mutex> lock(mu_);
                     ++bodies_[std::string(req.body)];
                     if (!req.keep_alive) ++close_requests_;
                   }
                   std::shared_ptr<core::http::SseStream> stream = rsp.StartSse();
                   ASSERT_NE(stream, nullptr);
                   Spawn([stream, model] {
                     if (model == "gen") {
                       for (int i = 0; i < kTokens; ++i) {
                         stream->Send("{\"token\":" + std::to_string(i) + "}");
                       }
                       stream->Send("{\"done\":true}", "final");
                     } else if (model == "error") {
                       stream->Send("{\"token\":1}");
                       stream->Send("{\"token\":2}");
                       stream->Send("{\"error\":\"boom\"}", "error");
                     } else if (model == "nofinal") {
                       stream->Send("{\"token\":1}");
                       stream->Send("{\"token\":2}");
                     } else if (model == "big") {
                       stream->Send(std::string(256 << 10, 'x'));
                       stream->Send("{\"done\":true}", "final");
                     }
                     stream->Close();
                   });
                 });
    core::http::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    auto server = core::http::HttpServer::Create(options, &router_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_TRUE(server_->Start().ok());
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : workers_) t.join();
  }

  template <typename F>
  void Spawn(F&& f) {
    std::lock_guard<std::mutex> lock(mu_);
    workers_.emplace_back(std::forward<F>(f));
  }

  SseStreamLoadOptions Options(const std::string& model, int streams, int requests) {
    SseStreamLoadOptions o;
    o.host = "127.0.0.1";
    o.port = server_->port();
    o.target = "/v2/models/" + model + "/generate_stream";
    o.streams = streams;
    o.requests = requests;
    o.make_body = [](int stream, int request) {
      return "{\"stream\":" + std::to_string(stream) + ",\"request\":" + std::to_string(request) +
             "}";
    };
    o.on_stream_failed = [this](int, std::string_view why) {
      std::lock_guard<std::mutex> lock(mu_);
      failures_.emplace_back(why);
    };
    return o;
  }

  // Every generation's body reached the server exactly once.
  void ExpectEveryBodyOnce(int streams, int requests) {
    std::map<std::string, int> expected;
    for (int s = 0; s < streams; ++s) {
      for (int r = 0; r < requests; ++r) {
        ++expected["{\"stream\":" + std::to_string(s) + ",\"request\":" + std::to_string(r) + "}"];
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(bodies_, expected);
  }

  core::http::Router router_;
  std::unique_ptr<core::http::HttpServer> server_;
  std::mutex mu_;  // guards everything below: handlers run on the I/O thread
  std::vector<std::thread> workers_;
  std::map<std::string, int> bodies_;
  int close_requests_ = 0;
  std::vector<std::string> failures_;
};

// Every generation runs on keep-alive connections, or on a new connection each ("Connection:
// close" on every request).
class SseStreamLoadConnectionTest : public SseStreamLoadTest,
                                    public ::testing::WithParamInterface<bool> {};

TEST_P(SseStreamLoadConnectionTest, RunsEveryGeneration) {
  const bool new_connection = GetParam();
  const int streams = 3, requests = 4;
  SseStreamLoadOptions o = Options("gen", streams, requests);
  o.new_connection = new_connection;
  absl::StatusOr<SseStreamLoadResult> r = RunSseStreamLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tokens, int64_t{streams} * requests * kTokens);
  EXPECT_EQ(r->errors, 0);
  EXPECT_EQ(r->ttft_ms.size(), size_t{streams * requests});
  ExpectEveryBodyOnce(streams, requests);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(close_requests_, new_connection ? streams * requests : 0);
  EXPECT_TRUE(failures_.empty());
}

INSTANTIATE_TEST_SUITE_P(KeepAliveAndNewConnection, SseStreamLoadConnectionTest, ::testing::Bool());

// An error event fails its generation; the stream goes on with the next one.
TEST_F(SseStreamLoadTest, ErrorEventCountsEachGeneration) {
  const int streams = 2, requests = 3;
  absl::StatusOr<SseStreamLoadResult> r = RunSseStreamLoad(Options("error", streams, requests));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->errors, streams * requests);
  EXPECT_EQ(r->tokens, int64_t{streams} * requests * 2);
  EXPECT_EQ(r->ttft_ms.size(), size_t{streams * requests});
  ExpectEveryBodyOnce(streams, requests);
}

TEST_F(SseStreamLoadTest, StreamEndingWithoutFinalEventIsAnError) {
  const int streams = 2, requests = 3;
  absl::StatusOr<SseStreamLoadResult> r = RunSseStreamLoad(Options("nofinal", streams, requests));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->errors, streams * requests);
  EXPECT_EQ(r->tokens, int64_t{streams} * requests * 2);
}

// A 404 (JSON body, no event stream) fails the generation and stops its stream; the run ends.
TEST_F(SseStreamLoadTest, NotFoundStopsEachStream) {
  const int streams = 3, requests = 4;
  SseStreamLoadOptions o = Options("gen", streams, requests);
  o.target = "/v2/models/gen/nowhere";
  absl::StatusOr<SseStreamLoadResult> r = RunSseStreamLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->errors, streams);
  EXPECT_EQ(r->tokens, 0);
  EXPECT_TRUE(r->ttft_ms.empty());
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(failures_, std::vector<std::string>(streams, "status 404"));
}

TEST_F(SseStreamLoadTest, EventOverTheLimitStopsTheStream) {
  SseStreamLoadOptions o = Options("big", 1, 3);
  o.event_bytes_max = 4 << 10;
  absl::StatusOr<SseStreamLoadResult> r = RunSseStreamLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->errors, 1);
  EXPECT_EQ(r->tokens, 0);
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_NE(failures_[0].find("longer than 4096 bytes"), std::string::npos) << failures_[0];
}

TEST(SseStreamLoadConnectTest, ConnectionRefusedFailsEveryStream) {
  SseStreamLoadOptions o;
  o.host = "127.0.0.1";
  o.port = 1;  // nothing listens on port 1
  o.target = "/";
  o.streams = 2;
  o.requests = 5;
  o.make_body = [](int, int) { return std::string("{}"); };
  absl::StatusOr<SseStreamLoadResult> r = RunSseStreamLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->errors, 2);
  EXPECT_EQ(r->tokens, 0);
}

TEST(SseStreamLoadConnectTest, BadOptionsAreRejected) {
  SseStreamLoadOptions o;
  o.host = "127.0.0.1";
  o.port = 1;
  EXPECT_EQ(RunSseStreamLoad(o).status().code(), absl::StatusCode::kInvalidArgument);  // no body
  o.make_body = [](int, int) { return std::string("{}"); };
  o.streams = 0;
  EXPECT_EQ(RunSseStreamLoad(o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace inference
