#include "core/http/server.h"

#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "absl/synchronization/notification.h"
#include "core/http/json.h"
#include "core/http/testing/sse_client.h"
#include "core/http/testing/test_client.h"
#include "core/process/scheduler.h"
#include "core/testing/process.h"
#include "gtest/gtest.h"

namespace core::http {
namespace {

using testing::RawBody;
using testing::RawExchange;
using testing::RawStatus;
using testing::TestClient;

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    router_.Get("/hello", [](Request&, Responder rsp) {
      rsp.Send(Response::Json(200, "{\"hello\":\"world\"}"));
    });
    router_.Post("/echo/{name}", [](Request& req, Responder rsp) {
      rsp.Send(Response::Json(200, std::string(req.param("name")) + ":" + std::string(req.body)));
    });
    router_.Get("/async", [this](Request&, Responder rsp) {
      // Completes on another thread, as the inventory writer and inference batcher do.
      Spawn([r = std::move(rsp)]() mutable {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        r.Send(Response::Json(200, "{\"async\":true}"));
      });
    });
    router_.Get("/slow", [this](Request&, Responder rsp) {
      slow_entered_.Notify();
      Spawn([r = std::move(rsp)]() mutable {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        r.Send(Response::Json(200, "{\"slow\":true}"));
      });
    });
    router_.Get("/events", [this](Request&, Responder rsp) {
      auto stream = rsp.StartSse();
      Spawn([stream] {
        for (int i = 0; i < 3; ++i) stream->Send("{\"token\":" + std::to_string(i) + "}");
        stream->Send("{\"done\":true}", "final");
        stream->Close();
      });
    });
    auto server = HttpServer::Create(options, &router_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::lock_guard<std::mutex> lock(workers_mu_);
    for (auto& t : workers_) t.join();
  }
  // Handlers run on several I/O threads: guard the thread list.
  template <typename F>
  void Spawn(F&& f) {
    std::lock_guard<std::mutex> lock(workers_mu_);
    workers_.emplace_back(std::forward<F>(f));
  }
  void ExpectStillServing() {
    auto client = TestClient::Connect("127.0.0.1", port_);
    ASSERT_TRUE(client.ok());
    auto r = (*client)->Get("/hello");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
  std::mutex workers_mu_;
  std::vector<std::thread> workers_;
  absl::Notification slow_entered_;
};

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  auto client = TestClient::Connect("127.0.0.1", port_);
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 100; ++i) {
    auto r = (*client)->Get("/hello");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "{\"hello\":\"world\"}");
    EXPECT_EQ(r->header("content-type"), "application/json");
  }
  auto e = (*client)->Post("/echo/bob", "payload");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->body, "bob:payload");
  EXPECT_EQ(server_->connections(), 1);
}

TEST_F(ServerTest, PipelinedRequestsAnsweredInOrder) {
  StartServer();
  std::string raw = RawExchange(port_,
                                "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                                "POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
                                "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  size_t first = raw.find("{\"hello\":\"world\"}");
  size_t second = raw.find("a:xyz");
  size_t third = raw.rfind("{\"hello\":\"world\"}");
  ASSERT_NE(first, std::string::npos);
  ASSERT_NE(second, std::string::npos);
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
}

TEST_F(ServerTest, UnknownPathIs404WithJsonBody) {
  StartServer();
  auto client = TestClient::Connect("127.0.0.1", port_);
  auto r = (*client)->Get("/does/not/exist");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "{\"error\":\"not_found\",\"message\":\"no route for /does/not/exist\"}");
  ExpectStillServing();
}

TEST_F(ServerTest, BodyOverLimitIs413) {
  ServerOptions o;
  o.body_bytes_max = 1024;
  StartServer(o);
  // Declared too large: refused from the header alone.
  std::string raw =
      RawExchange(port_, "POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
                             std::string(5000, 'x'));
  EXPECT_EQ(RawStatus(raw), 413);
  EXPECT_NE(RawBody(raw).find("\"error\":\"body_too_large\""), std::string::npos);
  // Chunked body that grows past the limit.
  std::string chunk(800, 'y');
  std::string chunked = "POST /echo/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunked += "320\r\n" + chunk + "\r\n";
  chunked += "0\r\n\r\n";
  raw = RawExchange(port_, chunked);
  EXPECT_EQ(RawStatus(raw), 413);
  ExpectStillServing();
}

TEST_F(ServerTest, ChunkedBodyWithinLimitIsAssembled) {
  StartServer();
  std::string raw = RawExchange(port_,
                                "POST /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                "Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(RawStatus(raw), 200);
  EXPECT_EQ(RawBody(raw), "c:abcde");
}

TEST_F(ServerTest, LargeBodyArrivingInPiecesIsContiguous) {
  StartServer();
  std::string body(200000, 'z');
  body[0] = 'A';
  body.back() = 'Z';
  auto client = TestClient::Connect("127.0.0.1", port_);
  auto r = (*client)->Post("/echo/big", body);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "big:" + body);
}

TEST_F(ServerTest, MalformedRequestLineIs400) {
  StartServer();
  std::string raw = RawExchange(port_, "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(RawStatus(raw), 400);
  EXPECT_NE(RawBody(raw).find("\"error\":\"bad_request\""), std::string::npos);
  raw = RawExchange(port_, "GET /hello HTTP/9.9\r\n\r\n");
  EXPECT_EQ(RawStatus(raw), 400);
  ExpectStillServing();
}

TEST_F(ServerTest, OversizedHeaderIs431) {
  ServerOptions o;
  o.header_bytes_max = 1024;
  StartServer(o);
  std::string raw = RawExchange(
      port_, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'h') + "\r\n\r\n");
  EXPECT_EQ(RawStatus(raw), 431);
  EXPECT_NE(RawBody(raw).find("\"error\":\"header_too_large\""), std::string::npos);
  ExpectStillServing();
}

TEST_F(ServerTest, SlowLorisGets408AndServerStaysUp) {
  ServerOptions o;
  o.read_timeout_ms = 300;
  StartServer(o);
  // Sends half a header and then nothing: the server must answer 408 and close.
  auto start = std::chrono::steady_clock::now();
  std::string raw = RawExchange(port_, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ", 5000);
  auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  EXPECT_EQ(RawStatus(raw), 408);
  EXPECT_NE(RawBody(raw).find("\"error\":\"request_timeout\""), std::string::npos);
  EXPECT_LT(elapsed_ms, 4000);  // closed by the server, not by our read timeout
  ExpectStillServing();
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions o;
  o.idle_timeout_ms = 200;
  StartServer(o);
  std::string raw = RawExchange(port_, "", 5000);  // connect, send nothing
  EXPECT_EQ(raw, "");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server_->connections() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server_->connections(), 0);
}

TEST_F(ServerTest, ConnectionsOverLimitGet503) {
  ServerOptions o;
  o.connections_max = 2;
  StartServer(o);
  auto c1 = TestClient::Connect("127.0.0.1", port_);
  auto c2 = TestClient::Connect("127.0.0.1", port_);
  ASSERT_TRUE((*c1)->Get("/hello").ok());
  ASSERT_TRUE((*c2)->Get("/hello").ok());
  std::string raw = RawExchange(port_, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(RawStatus(raw), 503);
  EXPECT_NE(RawBody(raw).find("\"error\":\"unavailable\""), std::string::npos);
  c1->reset();
  // After a slot frees up, new connections are served again.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < deadline) {
    status = RawStatus(
        RawExchange(port_, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  }
  EXPECT_EQ(status, 200);
}

TEST_F(ServerTest, ResponseFromAnotherThread) {
  ServerOptions o;
  o.io_threads = 2;
  StartServer(o);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      auto client = TestClient::Connect("127.0.0.1", port_);
      if (!client.ok()) return;
      for (int i = 0; i < 5; ++i) {
        auto r = (*client)->Get("/async");
        if (r.ok() && r->status == 200 && r->body == "{\"async\":true}") ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 20);
}

TEST_F(ServerTest, ServerSentEvents) {
  StartServer();
  std::string raw =
      RawExchange(port_, "GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(RawStatus(raw), 200);
  EXPECT_NE(raw.find("Connection: close"), std::string::npos);
  EXPECT_NE(raw.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(raw.find("Transfer-Encoding: chunked"), std::string::npos);
  size_t t0 = raw.find("data: {\"token\":0}\n\n");
  size_t t2 = raw.find("data: {\"token\":2}\n\n");
  size_t fin = raw.find("event: final\ndata: {\"done\":true}\n\n");
  ASSERT_NE(t0, std::string::npos);
  ASSERT_NE(t2, std::string::npos);
  ASSERT_NE(fin, std::string::npos);
  EXPECT_LT(t0, t2);
  EXPECT_LT(t2, fin);
  EXPECT_NE(raw.find("\r\n0\r\n\r\n"), std::string::npos);  // terminating chunk
}

// An event stream ends with its terminating chunk and the keep-alive connection serves the next
// request (here pipelined: a second stream, then a plain request that closes the connection).
TEST_F(ServerTest, ServerSentEventsKeepTheConnectionAlive) {
  StartServer();
  std::string raw = RawExchange(port_,
                                "GET /events HTTP/1.1\r\nHost: x\r\n\r\n"
                                "GET /events HTTP/1.1\r\nHost: x\r\n\r\n"
                                "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const size_t second = raw.find("HTTP/1.1 200 OK", 1);
  ASSERT_NE(second, std::string::npos) << raw;
  const std::string first_stream = raw.substr(0, second);
  EXPECT_EQ(first_stream.find("Connection: close"), std::string::npos);
  EXPECT_NE(first_stream.find("event: final\ndata: {\"done\":true}\n\n"), std::string::npos);
  EXPECT_TRUE(first_stream.ends_with("\r\n0\r\n\r\n")) << first_stream;
  const size_t hello = raw.find("{\"hello\":\"world\"}", second);
  ASSERT_NE(hello, std::string::npos) << raw;
  const std::string second_stream = raw.substr(second, hello - second);
  EXPECT_NE(second_stream.find("data: {\"token\":2}\n\n"), std::string::npos);
  EXPECT_NE(second_stream.find("\r\n0\r\n\r\n"), std::string::npos);
}

// Under SCHED_BATCH, the I/O thread serving an event stream runs SCHED_OTHER while the stream is
// open, and returns to SCHED_BATCH once none was open for sse_preempt_linger_ms.
TEST_F(ServerTest, IoThreadPreemptsWhileAnEventStreamIsOpen) {
  const int policy_before = sched_getscheduler(0);
  struct RestorePolicy {  // also when an ASSERT below returns early
    int policy;
    ~RestorePolicy() { core::SetThreadPolicy(policy); }
  } restore{policy_before};
  ASSERT_TRUE(core::SetThreadPolicy(SCHED_BATCH));  // the I/O thread inherits it
  std::atomic<pid_t> io_tid{0};
  // A std::promise, not absl::Notification: Debian's Abseil is not instrumented for TSan, so TSan
  // would not see the hand-over of the stream as synchronised.
  std::promise<std::shared_ptr<SseStream>> opened;
  router_.Get("/held", [&](Request&, Responder rsp) {
    io_tid = static_cast<pid_t>(::gettid());
    opened.set_value(rsp.StartSse());
  });
  ServerOptions options;
  options.sse_preempt_linger_ms = 200;
  StartServer(options);
  ASSERT_TRUE(core::SetThreadPolicy(policy_before));
  std::string raw;
  std::thread reader([&] {
    raw = RawExchange(port_, "GET /held HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  });
  std::future<std::shared_ptr<SseStream>> opened_future = opened.get_future();
  ASSERT_EQ(opened_future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  std::shared_ptr<SseStream> held = opened_future.get();
  auto wait_for_policy = [&](int want) {
    for (int i = 0; i < 500 && sched_getscheduler(io_tid) != want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return sched_getscheduler(io_tid);
  };
  EXPECT_EQ(wait_for_policy(SCHED_OTHER), SCHED_OTHER);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // open: past the linger
  EXPECT_EQ(sched_getscheduler(io_tid), SCHED_OTHER);
  held->Send("{}", "final");
  held->Close();
  EXPECT_EQ(wait_for_policy(SCHED_BATCH), SCHED_BATCH);
  reader.join();
  EXPECT_NE(raw.find("event: final"), std::string::npos) << raw;
}

// The first event of a stream is written by the thread that sends it, so it reaches the client
// while the I/O thread is busy; later events wait for the I/O thread. With
// sse_direct_first_event off, the first event waits too.
class SseFirstEventTest : public ServerTest, public ::testing::WithParamInterface<bool> {};

TEST_P(SseFirstEventTest, ReachesTheClientWhileTheIoThreadIsBusyOnlyWhenDirect) {
  const bool direct = GetParam();
  std::promise<std::shared_ptr<SseStream>> opened;
  std::promise<void> held, release;
  std::shared_future<void> released = release.get_future().share();
  router_.Post("/stream", [&](Request&, Responder rsp) { opened.set_value(rsp.StartSse()); });
  router_.Get("/hold", [&held, released](Request&, Responder rsp) {
    held.set_value();
    released.wait_for(std::chrono::seconds(10));  // holds the server's only I/O thread
    rsp.Send(Response::Json(200, "{}"));
  });
  ServerOptions options;
  options.io_threads = 1;
  options.sse_direct_first_event = direct;
  StartServer(options);
  auto client = testing::SseClient::Post("127.0.0.1", port_, "/stream", "{}");
  ASSERT_TRUE(client.ok()) << client.status();
  std::future<std::shared_ptr<SseStream>> opened_future = opened.get_future();
  ASSERT_EQ(opened_future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  std::shared_ptr<SseStream> stream = opened_future.get();

  std::thread holder(
      [this] { RawExchange(port_, "GET /hold HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); });
  bool released_once = false;
  auto release_io_thread = [&] {
    if (!released_once) release.set_value();
    released_once = true;
  };
  struct Joiner {  // an ASSERT below must not leave the I/O thread held or the thread unjoined
    std::function<void()> release;
    std::thread* t;
    ~Joiner() {
      release();
      t->join();
    }
  } joiner{release_io_thread, &holder};
  ASSERT_EQ(held.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);

  ASSERT_TRUE(stream->Send("{\"n\":1}"));
  ASSERT_TRUE(stream->Send("{\"n\":2}"));
  std::optional<testing::SseEvent> e = (*client)->Next(direct ? 5000 : 300);
  if (direct) {
    ASSERT_TRUE(e.has_value()) << "the first event waited for the held I/O thread";
    EXPECT_EQ(e->data, "{\"n\":1}");
  } else {
    EXPECT_FALSE(e.has_value()) << "the first event went out while the I/O thread was held";
  }
  EXPECT_FALSE((*client)->Next(300).has_value())
      << "the second event went out while the I/O thread was held";

  release_io_thread();
  if (!direct) {
    e = (*client)->Next(5000);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->data, "{\"n\":1}");
  }
  e = (*client)->Next(5000);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->data, "{\"n\":2}");
  stream->Close();
  EXPECT_FALSE((*client)->Next(5000).has_value());
  EXPECT_TRUE((*client)->ended());
}

INSTANTIATE_TEST_SUITE_P(DirectOnAndOff, SseFirstEventTest, ::testing::Bool());

TEST_F(ServerTest, GracefulShutdownFinishesInFlightRequest) {
  StartServer();
  std::string raw;
  std::thread client([&] { raw = RawExchange(port_, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); });
  slow_entered_.WaitForNotification();
  server_->Shutdown();  // returns after the in-flight request has been answered
  client.join();
  EXPECT_EQ(RawStatus(raw), 200);
  EXPECT_NE(raw.find("Connection: close"), std::string::npos);
  EXPECT_EQ(RawBody(raw), "{\"slow\":true}");
  // No longer accepting.
  EXPECT_EQ(RawExchange(port_, "GET /hello HTTP/1.1\r\n\r\n", 500), "");
}

TEST(ServerUnix, ServesOverUnixSocket) {
  Router router;
  router.Get("/hello", [](Request&, Responder rsp) { rsp.Send(Response::Json(200, "{}")); });
  ServerOptions o;
  o.unix_socket_path = "/tmp/core_http_test_" + std::to_string(::getpid()) + ".sock";
  auto server = HttpServer::Create(o, &router);
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE((*server)->Start().ok());
  auto client = TestClient::ConnectUnix(o.unix_socket_path);
  ASSERT_TRUE(client.ok()) << client.status();
  auto r = (*client)->Get("/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  (*server)->Shutdown();
}

TEST(ServerOptionsValidation, RejectsBadOptions) {
  Router router;
  ServerOptions o;
  o.io_threads = 0;
  auto s = HttpServer::Create(o, &router);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("io_threads"), std::string::npos);
  o.io_threads = 1;
  o.host = "not-an-ip";
  auto s2 = HttpServer::Create(o, &router);
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ((*s2)->Start().code(), absl::StatusCode::kInvalidArgument);
}

// A self-signed certificate for localhost, made with the openssl CLI.
void MakeCert(const core::testing::TempDir& dir, const std::string& name) {
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
      dir.File(name + ".key") + " -out " + dir.File(name + ".crt") + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// `requests` GETs of /hello over one verified TLS connection; returns the raw bytes read.
std::string TlsExchange(uint16_t port, const std::string& ca_file, int requests) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(ca_file);
  asio::ssl::stream<asio::ip::tcp::socket> stream(io, ctx);
  stream.set_verify_mode(asio::ssl::verify_peer);
  stream.set_verify_callback(asio::ssl::host_name_verification("localhost"));
  stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  stream.handshake(asio::ssl::stream_base::client);
  std::string out;
  for (int i = 0; i < requests; ++i) {
    const bool last = i + 1 == requests;
    const std::string req = std::string("GET /hello HTTP/1.1\r\nHost: localhost\r\n") +
                            (last ? "Connection: close\r\n" : "") + "\r\n";
    asio::write(stream, asio::buffer(req));
  }
  boost::system::error_code ec;
  char buf[4096];
  while (true) {
    size_t n = stream.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1)) {
    ++n;
  }
  return n;
}

TEST_F(ServerTest, TlsServesKeepAliveRequestsAndRefusesPlainText) {
  core::testing::TempDir dir;
  MakeCert(dir, "server");
  ServerOptions o;
  o.tls_cert_file = dir.File("server.crt");
  o.tls_key_file = dir.File("server.key");
  StartServer(o);
  const std::string raw = TlsExchange(port_, dir.File("server.crt"), 3);
  EXPECT_EQ(Count(raw, "HTTP/1.1 200 OK"), 3u) << raw;
  EXPECT_EQ(Count(raw, "{\"hello\":\"world\"}"), 3u);
  // A plain-text request gets no HTTP answer from a TLS listener.
  const std::string plain = RawExchange(port_, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(plain.find("HTTP/1.1 200"), std::string::npos) << plain;
  // A client that does not trust the certificate fails the handshake.
  MakeCert(dir, "other");
  EXPECT_THROW(TlsExchange(port_, dir.File("other.crt"), 1), boost::system::system_error);
  // The server is unaffected by those failures.
  EXPECT_EQ(Count(TlsExchange(port_, dir.File("server.crt"), 1), "HTTP/1.1 200 OK"), 1u);
}

TEST(ServerOptionsValidation, RejectsBadTlsFiles) {
  core::testing::TempDir dir;
  MakeCert(dir, "a");
  MakeCert(dir, "b");
  Router router;
  ServerOptions o;
  o.tls_cert_file = dir.File("a.crt");
  auto half = HttpServer::Create(o, &router);
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("tls_cert_file/tls_key_file"), std::string::npos);
  o.tls_key_file = dir.File("missing.key");
  auto missing = HttpServer::Create(o, &router);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("tls_key_file"), std::string::npos) << missing.status();
  o.tls_key_file = dir.File("b.key");
  auto mismatch = HttpServer::Create(o, &router);
  EXPECT_FALSE(mismatch.ok()) << "a key that does not match the certificate must be refused";
  o.tls_cert_file = dir.File("nope.crt");
  auto no_cert = HttpServer::Create(o, &router);
  ASSERT_FALSE(no_cert.ok());
  EXPECT_NE(no_cert.status().message().find("tls_cert_file"), std::string::npos);
  o.tls_cert_file = dir.File("a.crt");
  o.tls_key_file = dir.File("a.key");
  EXPECT_TRUE(HttpServer::Create(o, &router).ok());
}

}  // namespace
}  // namespace core::http
