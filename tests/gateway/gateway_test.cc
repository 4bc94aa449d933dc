// infer-gateway integration tests: real gateway, real workers (spawned by the gateway or by the
// test), real sockets. Arguments: infer-gateway infer-worker infer-repo make-models.
//
// The demo MLP is built once per run (scripts/make-models --skip-resnet) into a temp repository;
// a second version is added with infer-repo so splits have two versions to choose from.

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/http/testing/test_client.h"
#include "core/testing/process.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

namespace {

using core::http::testing::ClientResponse;
using core::http::testing::TestClient;
using core::testing::ChildProcess;
using core::testing::TempDir;
using Headers = std::vector<std::pair<std::string, std::string>>;

std::string g_gateway, g_worker, g_repo_tool, g_make_models;
TempDir* g_models = nullptr;  // holds repo/

std::string Repo() { return g_models->File("repo"); }

int Shell(const std::string& cmd) { return std::system(cmd.c_str()); }

void WriteFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

std::string InferBody() {
  std::string data;
  for (int i = 0; i < 64; ++i) data.append(i ? ",0.1" : "0.1");
  return R"({"inputs":[{"name":"input","datatype":"FP32","shape":[1,64],"data":[)" + data + "]}]}";
}

template <typename Pred>
bool Eventually(Pred pred, int timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// A metric sample's value from the gateway's /metrics, or -1.
double Metric(uint16_t port, const std::string& sample) {
  auto c = TestClient::Connect("127.0.0.1", port);
  if (!c.ok()) return -1;
  auto r = (*c)->Get("/metrics");
  if (!r.ok()) return -1;
  size_t pos = r->body.find("\n" + sample + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(r->body.substr(pos + sample.size() + 2));
}

class Gateway {
 public:
  // `yaml`: the gateway config (workers, qos, auth...); the test adds http_port and routing.
  static std::unique_ptr<Gateway> Start(const std::string& yaml, int ready_workers) {
    auto g = std::make_unique<Gateway>();
    g->routing_ = g->dir_.File("routing.yaml");
    WriteFile(g->routing_, R"(models: {mlp: {versions: {"1": 90, "2": 10}}})");
    const std::string config = g->dir_.File("gateway.yaml");
    WriteFile(config, fmt::format("http_port: 0\nrouting_file: {}\n{}", g->routing_, yaml));
    auto child = ChildProcess::Start(
        {g_gateway, "--config", config, "--ready-file", g->dir_.File("ready.json")},
        {.log_path = g->dir_.File("gateway.log")});
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return nullptr;
    g->child_ = *std::move(child);
    auto ready = core::testing::WaitForReadyFile(g->dir_.File("ready.json"), 20000);
    EXPECT_TRUE(ready.ok()) << ready.status();
    if (!ready.ok()) return nullptr;
    g->port_ = (*ready)["http_port"].get<uint16_t>();
    g->runtime_dir_ = (*ready)["runtime_dir"].get<std::string>();
    EXPECT_TRUE(Eventually(
        [&] { return Metric(g->port_, "gateway_workers{state=\"ready\"}") >= ready_workers; },
        60000))
        << "workers did not become ready";
    // Versions are learnt from the stats poll; wait until both are known.
    EXPECT_TRUE(Eventually(
        [&] {
          auto c = TestClient::Connect("127.0.0.1", g->port_);
          return c.ok() &&
                 (*c)->Request("POST", "/v2/models/mlp/infer", InferBody(),
                               {{"X-Model-Version", "2"}, {"Authorization", "Bearer admin"}})
                         ->status == 200;
        },
        10000));
    return g;
  }
  ~Gateway() {
    if (child_) {
      child_->Signal(SIGTERM);
      (void)child_->Wait(15000);
    }
  }
  uint16_t port() const { return port_; }
  const std::string& routing() const { return routing_; }
  // Worker pid of supervised slot `i` (from its ready file).
  pid_t WorkerPid(int i) {
    auto j = core::testing::WaitForReadyFile(fmt::format("{}/w{}.ready", runtime_dir_, i), 5000);
    return j.ok() ? (*j)["pid"].get<pid_t>() : -1;
  }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> child_;
  uint16_t port_ = 0;
  std::string routing_;
  std::string runtime_dir_;
};

struct Outcome {
  int status;
  std::string version;
};

// `threads` clients, each sending until `stop` (or `per_thread` requests when > 0).
void RunLoad(uint16_t port, int threads, int per_thread, const std::atomic<bool>* stop,
             const std::function<Headers(int thread, int i)>& headers,
             const std::function<void(int thread, int i, const ClientResponse&)>& on_response) {
  const std::string body = InferBody();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto c = TestClient::Connect("127.0.0.1", port);
      ASSERT_TRUE(c.ok());
      for (int i = 0; per_thread > 0 ? i < per_thread : !stop->load(); ++i) {
        auto r = (*c)->Request("POST", "/v2/models/mlp/infer", body, headers(t, i));
        if (!r.ok()) {
          ClientResponse failed;
          failed.status = 0;
          on_response(t, i, failed);
          c = TestClient::Connect("127.0.0.1", port);
          ASSERT_TRUE(c.ok());
          continue;
        }
        on_response(t, i, *r);
      }
    });
  }
  for (auto& th : pool) th.join();
}

constexpr char kSupervised2[] = R"(
workers: {{binary: {}, repo: {}, min: 2, max: 2, initial: 2}}
)";

TEST(GatewayTest, SplitStickyPinAndTraceparent) {
  auto gw = Gateway::Start(fmt::format(kSupervised2, g_worker, Repo()), 2);
  ASSERT_NE(gw, nullptr);
  std::mutex mu;
  std::map<std::string, int> versions;
  int failures = 0;
  constexpr int kThreads = 8, kPerThread = 2500;  // 20k requests
  RunLoad(
      gw->port(), kThreads, kPerThread, nullptr, [](int, int) { return Headers{}; },
      [&](int, int, const ClientResponse& r) {
        std::lock_guard<std::mutex> lock(mu);
        if (r.status != 200) ++failures;
        versions[r.header("x-model-version")]++;
      });
  EXPECT_EQ(failures, 0);
  const double v2_share = 100.0 * versions["2"] / (kThreads * kPerThread);
  EXPECT_NEAR(v2_share, 10.0, 2.0);

  // Sticky users: each of 100 users sees one version over 10 requests.
  std::map<int, std::set<std::string>> seen;
  RunLoad(
      gw->port(), 4, 250, nullptr,
      [](int t, int i) {
        return Headers{{"X-User-Id", fmt::format("user-{}", (t * 250 + i) % 100)}};
      },
      [&](int t, int i, const ClientResponse& r) {
        std::lock_guard<std::mutex> lock(mu);
        seen[(t * 250 + i) % 100].insert(r.header("x-model-version"));
      });
  std::set<std::string> all;
  for (const auto& [user, vs] : seen) {
    EXPECT_EQ(vs.size(), 1u) << "user " << user;
    all.insert(vs.begin(), vs.end());
  }

  // A pin always wins over the split and over stickiness; an unknown version is a clear 404.
  auto c = *TestClient::Connect("127.0.0.1", gw->port());
  for (int i = 0; i < 50; ++i) {
    auto r = c->Request("POST", "/v2/models/mlp/infer", InferBody(),
                        {{"X-Model-Version", "2"}, {"X-User-Id", "user-1"}});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-model-version"), "2");
  }
  auto missing =
      c->Request("POST", "/v2/models/mlp/infer", InferBody(), {{"X-Model-Version", "9"}});
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("version '9' is unknown or not ready"), std::string::npos);

  const std::string trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto traced = c->Request("POST", "/v2/models/mlp/infer", InferBody(), {{"traceparent", trace}});
  EXPECT_EQ(traced->header("traceparent").substr(0, 36), trace.substr(0, 36));
}

TEST(GatewayTest, RoutingChangeUnderLoadAndBrokenFileRefused) {
  auto gw = Gateway::Start(fmt::format(kSupervised2, g_worker, Repo()), 2);
  ASSERT_NE(gw, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int64_t> changed_ns{0};
  std::atomic<int64_t> last_v1_ns{0};
  std::thread load([&] {
    RunLoad(
        gw->port(), 4, 0, &stop, [](int, int) { return Headers{}; },
        [&](int, int, const ClientResponse& r) {
          if (r.status != 200) failures++;
          const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
          if (changed_ns.load() != 0 && r.header("x-model-version") == "1") last_v1_ns = now;
        });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  changed_ns = std::chrono::steady_clock::now().time_since_epoch().count();
  WriteFile(gw->routing(), R"(models: {mlp: {versions: {"1": 0, "2": 100}}})");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  // Requests already in flight at the change may still answer "1"; none after one second.
  EXPECT_LT(last_v1_ns.load() - changed_ns.load(), 1'000'000'000LL);
  WriteFile(gw->routing(), R"(models: {mlp: {versions: {"1": -3}})");
  EXPECT_TRUE(Eventually(
      [&] { return Metric(gw->port(), "gateway_routing_reloads_total{result=\"refused\"}") == 1; },
      2000));
  const int64_t refused_ns = std::chrono::steady_clock::now().time_since_epoch().count();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  load.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LT(last_v1_ns.load(), refused_ns) << "the broken file must not change routing";
}

TEST(GatewayTest, KillNineUnderLoadLosesNothingThatDidNotReachTheModel) {
  auto gw = Gateway::Start(fmt::format(kSupervised2, g_worker, Repo()), 2);
  ASSERT_NE(gw, nullptr);
  const pid_t victim = gw->WorkerPid(0);
  ASSERT_GT(victim, 0);
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<int, int> statuses;
  std::vector<std::string> bodies;
  std::thread load([&] {
    RunLoad(
        gw->port(), 4, 0, &stop, [](int, int) { return Headers{}; },
        [&](int, int, const ClientResponse& r) {
          std::lock_guard<std::mutex> lock(mu);
          statuses[r.status]++;
          if (r.status != 200) bodies.push_back(r.body);
        });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  // The supervisor restarts it and it rejoins.
  EXPECT_TRUE(
      Eventually([&] { return gw->WorkerPid(0) != victim && gw->WorkerPid(0) > 0; }, 15000));
  EXPECT_TRUE(Eventually(
      [&] { return Metric(gw->port(), "gateway_workers{state=\"ready\"}") == 2; }, 30000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  load.join();
  // Only requests the dead worker had already taken may fail (502, at most one per client
  // connection); every request that had not reached it was retried on the other worker.
  int failed = 0;
  for (const auto& [status, n] : statuses) {
    if (status == 200) continue;
    EXPECT_EQ(status, 502) << n << " requests answered " << status;
    failed += n;
  }
  EXPECT_LE(failed, 4);
  EXPECT_GT(statuses[200], 100);
  EXPECT_GE(Metric(gw->port(), "gateway_upstream_retries_total"), 0);
}

// Two workers started by the test on Unix sockets, behind a gateway with a static list.
class StaticWorkers {
 public:
  explicit StaticWorkers(int n) {
    for (int i = 0; i < n; ++i) Start(i);
  }
  void Start(int i) {
    const std::string sock = Socket(i);
    ::unlink(sock.c_str());
    const std::string ready = dir_.File(fmt::format("w{}.ready.json", i));
    ::unlink(ready.c_str());
    auto c = ChildProcess::Start({g_worker, "--repo", Repo(), "--unix-socket", sock, "--grpc-port",
                                  "-1", "--http-threads", "1", "--ready-file", ready},
                                 {.log_path = dir_.File(fmt::format("w{}.log", i))});
    ASSERT_TRUE(c.ok());
    if (workers_.size() <= static_cast<size_t>(i)) workers_.resize(i + 1);
    workers_[i] = *std::move(c);
    ASSERT_TRUE(core::testing::WaitForReadyFile(ready, 30000).ok());
  }
  std::string Socket(int i) { return dir_.File(fmt::format("w{}.sock", i)); }
  ChildProcess& worker(int i) { return *workers_[i]; }
  void Kill(int i) {
    workers_[i]->Signal(SIGKILL);
    (void)workers_[i]->Wait(5000);
  }
  std::string Yaml() {
    std::string list;
    for (size_t i = 0; i < workers_.size(); ++i) {
      list.append(fmt::format("{}unix:{}", i ? ", " : "", Socket(static_cast<int>(i))));
    }
    return fmt::format("workers: {{static: [{}]}}\n", list);
  }

 private:
  TempDir dir_;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
};

double EndpointRequests(uint16_t port, const std::string& endpoint) {
  return Metric(
      port,
      fmt::format("gateway_upstream_request_duration_seconds_count{{endpoint=\"{}\"}}", endpoint));
}

TEST(GatewayTest, SlowWorkerLosesTraffic) {
  StaticWorkers workers(2);
  auto gw = Gateway::Start(workers.Yaml(), 2);
  ASSERT_NE(gw, nullptr);
  const std::string slow = "unix:" + workers.Socket(1), fast = "unix:" + workers.Socket(0);
  const double slow_before = std::max(0.0, EndpointRequests(gw->port(), slow));
  const double fast_before = std::max(0.0, EndpointRequests(gw->port(), fast));
  // Slow the worker down for real: it runs 5 ms out of every 25 ms.
  std::atomic<bool> stop{false};
  std::thread throttle([&] {
    while (!stop) {
      workers.worker(1).Signal(SIGSTOP);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      workers.worker(1).Signal(SIGCONT);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::atomic<int> failures{0};
  RunLoad(
      gw->port(), 4, 800, nullptr, [](int, int) { return Headers{}; },
      [&](int, int, const ClientResponse& r) { failures += r.status != 200; });
  stop = true;
  throttle.join();
  workers.worker(1).Signal(SIGCONT);
  const double slow_n = EndpointRequests(gw->port(), slow) - slow_before;
  const double fast_n = EndpointRequests(gw->port(), fast) - fast_before;
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LT(slow_n, 0.25 * (slow_n + fast_n)) << "slow " << slow_n << " fast " << fast_n;
}

TEST(GatewayTest, FailingWorkerBreakerOpensHalfOpensAndCloses) {
  StaticWorkers workers(2);
  auto gw = Gateway::Start(workers.Yaml() + R"(
stats_interval_ms: 250
breaker: {consecutive_failures: 2, open_ms: 500, min_requests: 1000}
ejection: {consecutive_failures: 1000}
)",
                           2);
  ASSERT_NE(gw, nullptr);
  const std::string state =
      fmt::format("gateway_breaker_state{{endpoint=\"unix:{}\"}}", workers.Socket(1));
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread load([&] {
    RunLoad(
        gw->port(), 4, 0, &stop, [](int, int) { return Headers{}; },
        [&](int, int, const ClientResponse& r) { failures += r.status != 200; });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  workers.Kill(1);
  EXPECT_TRUE(Eventually([&] { return Metric(gw->port(), state) == 1; }, 3000)) << "not opened";
  workers.Start(1);
  // OPEN -> HALF_OPEN after open_ms, and the probe's success closes it.
  EXPECT_TRUE(Eventually([&] { return Metric(gw->port(), state) == 0; }, 10000)) << "not closed";
  EXPECT_GE(Metric(gw->port(), "gateway_breaker_transitions_total"), 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  load.join();
  EXPECT_EQ(failures.load(), 0) << "connect failures are retried on the other worker";
}

TEST(GatewayTest, SaturationShedsBronzeFirstAndKeepsGold) {
  auto gw = Gateway::Start(fmt::format(R"(
workers: {{binary: {}, repo: {}, min: 1, max: 1, initial: 1}}
qos: {{inflight_per_endpoint_max: 8, bronze_shed_at: 0.5, silver_shed_at: 0.75}}
)",
                                       g_worker, Repo()),
                           1);
  ASSERT_NE(gw, nullptr);
  std::mutex mu;
  std::map<std::string, std::map<int, int>> by_level;
  const char* levels[] = {"bronze", "bronze", "bronze", "bronze", "bronze", "bronze", "silver",
                          "silver", "silver", "silver", "silver", "silver", "gold",   "gold"};
  RunLoad(
      gw->port(), 14, 400, nullptr,
      [&](int t, int) {
        return Headers{{"X-QoS-Level", levels[t]}};
      },
      [&](int t, int, const ClientResponse& r) {
        std::lock_guard<std::mutex> lock(mu);
        by_level[levels[t]][r.status]++;
        if (r.status == 503) {
          EXPECT_EQ(r.header("retry-after"), "1");
        }
      });
  auto share_ok = [&](const std::string& level) {
    auto& m = by_level[level];
    int total = 0;
    for (auto& [s, n] : m) total += n;
    return static_cast<double>(m[200]) / total;
  };
  EXPECT_GT(by_level["bronze"][503], 0) << "no saturation reached";
  EXPECT_LT(share_ok("bronze"), share_ok("silver"));
  EXPECT_GE(share_ok("gold"), 0.99);
}

TEST(GatewayTest, ApiKeysRateLimitsAndAdmin) {
  auto sha = [](const std::string& key) {
    std::string out;
    FILE* p = ::popen(fmt::format("printf %s '{}' | sha256sum", key).c_str(), "r");
    char buf[128] = {};
    if (std::fgets(buf, sizeof buf, p)) out = std::string(buf).substr(0, 64);
    ::pclose(p);
    return out;
  };
  auto gw = Gateway::Start(fmt::format(R"(
workers: {{binary: {}, repo: {}, min: 1, max: 1, initial: 1}}
auth:
  keys:
    - {{name: alice, sha256: "{}", rate_per_s: 1, burst: 5}}
    - {{name: ops, sha256: "{}", rate_per_s: 100, burst: 100, admin: true}}
)",
                                       g_worker, Repo(), sha("alice-key"), sha("admin")),
                           1);
  ASSERT_NE(gw, nullptr);
  auto c = *TestClient::Connect("127.0.0.1", gw->port());
  EXPECT_EQ(c->Request("POST", "/v2/models/mlp/infer", InferBody())->status, 401);
  EXPECT_EQ(
      c->Request("POST", "/v2/models/mlp/infer", InferBody(), {{"Authorization", "Bearer wrong"}})
          ->status,
      401);
  int ok = 0, limited = 0;
  for (int i = 0; i < 8; ++i) {
    auto r = c->Request("POST", "/v2/models/mlp/infer", InferBody(),
                        {{"Authorization", "Bearer alice-key"}});
    if (r->status == 200) ++ok;
    if (r->status == 429) {
      ++limited;
      EXPECT_FALSE(r->header("retry-after").empty());
    }
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(limited, 3);
  EXPECT_EQ(c->Request("POST", "/v2/repository/models/mlp/load", "",
                       {{"Authorization", "Bearer alice-key"}})
                ->status,
            403);
  EXPECT_EQ(c->Request("POST", "/v2/gateway/routing", "models: {}",
                       {{"Authorization", "Bearer alice-key"}})
                ->status,
            403);
  auto load =
      c->Request("POST", "/v2/repository/models/mlp/load", "", {{"Authorization", "Bearer admin"}});
  EXPECT_EQ(load->status, 200) << load->body;
  EXPECT_GT(Metric(gw->port(), "gateway_rate_limited_total"), 0);
}

TEST(GatewayTest, LinksNoModelRuntime) {
  FILE* p = ::popen(fmt::format("ldd {}", g_gateway).c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out.append(buf);
  ::pclose(p);
  EXPECT_FALSE(out.empty());
  for (const char* lib : {"libtorch", "libc10", "libopencv"}) {
    EXPECT_EQ(out.find(lib), std::string::npos) << lib << " linked into infer-gateway";
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s infer-gateway infer-worker infer-repo make-models\n", argv[0]);
    return 2;
  }
  g_gateway = argv[1];
  g_worker = argv[2];
  g_repo_tool = argv[3];
  g_make_models = argv[4];
  TempDir models;
  g_models = &models;
  // Only the TorchScript MLP, in two versions, so workers start fast.
  if (Shell(fmt::format("/usr/bin/python3 {} --skip-resnet --out {} > {} 2>&1", g_make_models,
                        models.path(), models.File("make-models.log"))) != 0 ||
      Shell(fmt::format("cd {0}/repo && rm -rf mlp_int8 mlp_onnx && sed -i "
                        "'s/^version_policy:.*/version_policy: all/' mlp/config.yaml && {1} add "
                        "--repo . --model mlp --file mlp/1/model.pt > /dev/null",
                        models.path(), g_repo_tool)) != 0) {
    std::fprintf(stderr, "could not build the demo models (see %s)\n",
                 models.File("make-models.log").c_str());
    return 1;
  }
  return RUN_ALL_TESTS();
}
