// Integration test of issue 2's acceptance: the real server binary, driven by the real `curl` and by a
// raw socket, answers a missing path, an oversized body, a malformed request line and a slow-loris client
// each with the right status and a JSON error body, and stays up throughout.
//
// argv[1]: path of the http_bench_server binary.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <thread>
#include <string>

#include "core/http/testing/test_client.h"
#include "core/testing/process.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

std::string g_server_bin;

struct CurlResult {
  int http_code = 0;
  std::string body;
};

// Runs curl and returns the status code and body. `args` are extra curl arguments.
CurlResult Curl(const std::string& args) {
  std::string cmd = "curl -s -o - -w '\\n%{http_code}' " + args + " 2>/dev/null";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (pipe && (n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  if (pipe) ::pclose(pipe);
  CurlResult r;
  size_t nl = out.rfind('\n');
  if (nl == std::string::npos) return r;
  r.http_code = std::atoi(out.c_str() + nl + 1);
  r.body = out.substr(0, nl);
  return r;
}

class HttpLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access("/usr/bin/curl", X_OK), 0) << "curl missing: run scripts/setup.sh";
    std::string ready = dir_.File("ready.json");
    auto child = core::testing::ChildProcess::Start(
        {g_server_bin, "--port", "0", "--body-bytes-max", "1024", "--read-timeout-ms", "500",
         "--ready-file", ready},
        {.log_path = dir_.File("server.log")});
    ASSERT_TRUE(child.ok()) << child.status();
    server_ = std::move(*child);
    auto info = core::testing::WaitForReadyFile(ready);
    ASSERT_TRUE(info.ok()) << info.status();
    port_ = (*info)["http_port"].get<int>();
    base_ = "http://127.0.0.1:" + std::to_string(port_);
  }

  void ExpectJsonError(const std::string& body, const std::string& error) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << body;
    EXPECT_EQ(j.value("error", ""), error) << body;
    EXPECT_FALSE(j.value("message", "").empty()) << body;
  }

  void ExpectUp() {
    ASSERT_TRUE(server_->Running()) << "server died";
    CurlResult r = Curl(base_ + "/healthz");
    EXPECT_EQ(r.http_code, 200);
  }

  core::testing::TempDir dir_;
  std::unique_ptr<core::testing::ChildProcess> server_;
  int port_ = 0;
  std::string base_;
};

TEST_F(HttpLimitsTest, MissingPathIs404Json) {
  CurlResult r = Curl(base_ + "/no/such/path");
  EXPECT_EQ(r.http_code, 404);
  ExpectJsonError(r.body, "not_found");
  ExpectUp();
}

TEST_F(HttpLimitsTest, BodyOverLimitIs413Json) {
  std::string big(4096, 'x');
  std::string path = dir_.File("big.txt");
  FILE* f = fopen(path.c_str(), "w");
  fwrite(big.data(), 1, big.size(), f);
  fclose(f);
  CurlResult r = Curl("-X POST --data-binary @" + path + " " + base_ + "/echo");
  EXPECT_EQ(r.http_code, 413);
  ExpectJsonError(r.body, "body_too_large");
  // Within the limit it works.
  CurlResult ok = Curl("-X POST --data-binary '{\"a\":1}' " + base_ + "/echo");
  EXPECT_EQ(ok.http_code, 200);
  EXPECT_EQ(ok.body, "{\"a\":1}");
  ExpectUp();
}

TEST_F(HttpLimitsTest, MalformedRequestLineIs400Json) {
  // curl cannot send a malformed request line; a raw socket can.
  std::string raw = core::http::testing::RawExchange(port_, "GARBAGE\r\n\r\n");
  EXPECT_EQ(core::http::testing::RawStatus(raw), 400);
  ExpectJsonError(std::string(core::http::testing::RawBody(raw)), "bad_request");
  // And a request target curl itself sends verbatim but which is not a valid HTTP version.
  raw = core::http::testing::RawExchange(port_, "GET / HTTP/7\r\nHost: x\r\n\r\n");
  EXPECT_EQ(core::http::testing::RawStatus(raw), 400);
  ExpectUp();
}

TEST_F(HttpLimitsTest, SlowLorisIs408JsonAndServerStaysUp) {
  // Several slow clients at once, each trickling a header that never ends.
  std::vector<std::thread> clients;
  std::vector<std::string> answers(8);
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([this, i, &answers] {
      answers[i] = core::http::testing::RawExchange(
          port_, "GET / HTTP/1.1\r\nHost: x\r\nX-Trickle: aaaa", /*timeout_ms=*/5000);
    });
  }
  // While they hang, the server keeps serving others.
  ExpectUp();
  for (auto& t : clients) t.join();
  for (const auto& a : answers) {
    EXPECT_EQ(core::http::testing::RawStatus(a), 408) << a;
    ExpectJsonError(std::string(core::http::testing::RawBody(a)), "request_timeout");
  }
  ExpectUp();
}

TEST_F(HttpLimitsTest, SigtermExitsZero) {
  server_->Signal(SIGTERM);
  auto rc = server_->Wait(10000);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 0);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <http_bench_server binary>\n", argv[0]);
    return 2;
  }
  g_server_bin = argv[1];
  return RUN_ALL_TESTS();
}
