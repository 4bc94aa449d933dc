// infer-gateway integration tests: real gateway, real workers (spawned by the gateway or by the
// test), real sockets. Arguments: infer-gateway infer-worker infer-repo make-models.
//
// The demo MLP is built once per run (scripts/make-models --skip-resnet) into a temp repository;
// a second version is added with infer-repo so splits have two versions to choose from.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/http/testing/test_client.h"
#include "core/testing/process.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "tests/gateway/gateway_testing.h"

namespace {

using gateway_testing::Eventually;
using gateway_testing::MetricIn;
using gateway_testing::Sha256Hex;

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

// The gateway's /metrics text, or "" when it does not answer.
std::string Metrics(uint16_t port) {
  auto c = TestClient::Connect("127.0.0.1", port);
  if (!c.ok()) return "";
  auto r = (*c)->Get("/metrics");
  return r.ok() ? r->body : "";
}

// A metric sample's value from the gateway's /metrics, or -1.
double Metric(uint16_t port, const std::string& sample) { return MetricIn(Metrics(port), sample); }

// The /metrics sample counting the answers `endpoint` gave to requests the gateway forwarded.
std::string UpstreamCountSample(const std::string& endpoint) {
  return fmt::format("gateway_upstream_request_duration_seconds_count{{endpoint=\"{}\"}}",
                     endpoint);
}

// The demo MLP's reference input ([4, 64] FP32) and the output the model computes for it.
struct Reference {
  std::string input;  // raw little-endian FP32
  std::vector<float> output;
};

Reference LoadReference() {
  auto read = core::testing::ReadFile;
  Reference r;
  r.input = read(g_models->File("reference/mlp.input.bin"));
  const std::string out = read(g_models->File("reference/mlp.output.bin"));
  r.output.resize(out.size() / sizeof(float));
  std::memcpy(r.output.data(), out.data(), r.output.size() * sizeof(float));
  return r;
}

inference::ModelInferRequest GrpcInferRequest(const Reference& ref) {
  inference::ModelInferRequest req;
  req.set_model_name("mlp");
  auto* in = req.add_inputs();
  in->set_name("input");
  in->set_datatype("FP32");
  in->add_shape(static_cast<int64_t>(ref.input.size() / (64 * sizeof(float))));
  in->add_shape(64);
  req.add_raw_input_contents(ref.input);
  return req;
}

// Largest absolute difference between the answer's first output and the reference.
double MaxDiff(const inference::ModelInferResponse& resp, const Reference& ref) {
  if (resp.raw_output_contents_size() != 1) return 1e9;
  const std::string& raw = resp.raw_output_contents(0);
  if (raw.size() != ref.output.size() * sizeof(float)) return 1e9;
  double diff = 0;
  for (size_t i = 0; i < ref.output.size(); ++i) {
    float v;
    std::memcpy(&v, raw.data() + i * sizeof(float), sizeof(float));
    diff = std::max(diff, static_cast<double>(std::abs(v - ref.output[i])));
  }
  return diff;
}

// The sockets a process holds ("socket:[inode]" for each descriptor that is one).
std::set<std::string> Sockets(pid_t pid) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid), ec)) {
    std::error_code link_ec;
    const std::string target = std::filesystem::read_symlink(e.path(), link_ec).string();
    if (!link_ec && target.rfind("socket:", 0) == 0) out.insert(target);
  }
  return out;
}

class Gateway {
 public:
  // `yaml`: the gateway config (workers, qos, auth...); the test adds http_port and routing.
  // With `ca_pem` (a TLS gateway), readiness is checked over gRPC with that root certificate.
  static std::unique_ptr<Gateway> Start(const std::string& yaml, int ready_workers,
                                        const std::string& ca_pem = "") {
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
    g->grpc_port_ = (*ready)["grpc_port"].get<int>();
    g->runtime_dir_ = (*ready)["runtime_dir"].get<std::string>();
    g->ca_pem_ = ca_pem;
    if (!ca_pem.empty()) {
      // Over TLS: ready once a pinned version-2 inference answers.
      const Reference ref = LoadReference();
      EXPECT_TRUE(Eventually(
          [&] {
            auto stub = g->Grpc();
            grpc::ClientContext ctx;
            ctx.AddMetadata("authorization", "Bearer admin");
            ctx.AddMetadata("x-model-version", "2");
            ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
            inference::ModelInferResponse resp;
            return stub->ModelInfer(&ctx, GrpcInferRequest(ref), &resp).ok();
          },
          60000))
          << "TLS gateway did not become ready";
      return g;
    }
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
  int grpc_port() const { return grpc_port_; }
  const std::string& routing() const { return routing_; }
  // A KServe gRPC stub to the gateway (TLS with the test CA when the gateway serves TLS).
  std::unique_ptr<inference::GRPCInferenceService::Stub> Grpc() const {
    if (ca_pem_.empty()) {
      return inference::GRPCInferenceService::NewStub(grpc::CreateChannel(
          fmt::format("127.0.0.1:{}", grpc_port_), grpc::InsecureChannelCredentials()));
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca_pem_;
    return inference::GRPCInferenceService::NewStub(
        grpc::CreateChannel(fmt::format("localhost:{}", grpc_port_), grpc::SslCredentials(ssl)));
  }
  // Where supervised workers keep their sockets, ready files and logs (w<i>.sock, w<i>.ready).
  const std::string& runtime_dir() const { return runtime_dir_; }
  // The last `bytes` of the gateway's log and of each supervised worker's, for failure messages.
  std::string Logs(size_t bytes = 4000) const {
    auto tail = [bytes](const std::string& path) {
      const std::string text = core::testing::ReadFile(path);
      return text.size() > bytes ? text.substr(text.size() - bytes) : text;
    };
    std::string out = "--- gateway.log\n" + tail(dir_.File("gateway.log"));
    for (int i = 0; i < 8; ++i) {
      const std::string path = fmt::format("{}/w{}.log", runtime_dir_, i);
      if (std::filesystem::exists(path)) out += fmt::format("--- w{}.log\n{}", i, tail(path));
    }
    return out;
  }
  pid_t pid() const { return child_ ? child_->pid() : -1; }
  // Worker pid of supervised slot `i` (from its ready file).
  pid_t WorkerPid(int i) {
    auto j = core::testing::WaitForReadyFile(fmt::format("{}/w{}.ready", runtime_dir_, i), 5000);
    return j.ok() ? (*j)["pid"].get<pid_t>() : -1;
  }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> child_;
  uint16_t port_ = 0;
  int grpc_port_ = -1;
  std::string ca_pem_;
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

// Elastic scaling with hysteresis. Twelve clients on one worker keep the pressure (the larger of
// gateway in-flight and worker queue depth, per ready worker) above scale_up_pressure, so a second
// worker is started; it gets traffic only once its model is ready. One client afterwards keeps the
// pressure at or below 1 (one request counted on at most two workers, one of them a stale queue
// depth, over two ready workers), under scale_down_pressure 1.5, so after scale_down_after
// evaluations the newest worker is drained and stopped. No request fails at any point.
TEST(GatewayTest, ElasticWorkersScaleUpUnderLoadAndDrainBackToMin) {
  // One pressure sample can read 0 even under load (on a small machine, while a new worker loads
  // its model, requests wait in the gateway's own I/O thread, not on an endpoint); 20 cold
  // evaluations in a row cannot happen under this load, so the hysteresis keeps the new worker.
  constexpr int kScaleIntervalMs = 100, kScaleDownAfter = 20;
  auto gw = Gateway::Start(fmt::format(R"(
workers: {{binary: {}, repo: {}, min: 1, max: 2, initial: 1, scale_interval_ms: {},
          scale_up_pressure: 3, scale_down_pressure: 1.5, scale_up_after: 3,
          scale_down_after: {}}}
)",
                                       g_worker, Repo(), kScaleIntervalMs, kScaleDownAfter),
                           1);
  ASSERT_NE(gw, nullptr);
  const pid_t first = gw->WorkerPid(0);
  ASSERT_GT(first, 0);
  const std::string total = "gateway_workers{state=\"total\"}";
  const std::string ready = "gateway_workers{state=\"ready\"}";
  const std::string added = UpstreamCountSample("worker-1");
  std::mutex mu;
  std::map<int, int> heavy_statuses, light_statuses;
  std::vector<std::string> failed_bodies;
  auto counter = [&](std::map<int, int>* statuses) {
    return [&, statuses](int, int, const ClientResponse& r) {
      std::lock_guard<std::mutex> lock(mu);
      (*statuses)[r.status]++;
      if (r.status != 200 && failed_bodies.size() < 5) failed_bodies.push_back(r.body);
    };
  };
  auto no_headers = [](int, int) { return Headers{}; };

  // Scale up under load.
  std::atomic<bool> stop_heavy{false};
  std::thread heavy(
      [&] { RunLoad(gw->port(), 12, 0, &stop_heavy, no_headers, counter(&heavy_statuses)); });
  double total_max = 0;
  int first_traffic_probe = -1;  // worker-1's own model readiness once the gateway used it
  bool scaled_up = false;
  const auto up_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (!scaled_up && std::chrono::steady_clock::now() < up_deadline) {
    const std::string m = Metrics(gw->port());
    total_max = std::max(total_max, MetricIn(m, total));
    const double served = MetricIn(m, added);
    if (served > 0 && first_traffic_probe < 0) {
      // The gateway has forwarded requests to worker-1, so worker-1 must already say its model is
      // ready (readiness only goes from false to true while a worker starts).
      first_traffic_probe = 0;
      if (auto c = TestClient::ConnectUnix(gw->runtime_dir() + "/w1.sock"); c.ok()) {
        auto r = (*c)->Get("/v2/models/mlp/ready");
        if (r.ok()) first_traffic_probe = r->status;
      }
    }
    scaled_up = served >= 50 && MetricIn(m, ready) == 2;
    if (!scaled_up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const pid_t added_pid = gw->WorkerPid(1);
  // Started while the gateway held many connections: the worker inherited none of its sockets
  // (a connection the gateway closes must really close).
  if (scaled_up && added_pid > 0) {
    const std::set<std::string> gateway_sockets = Sockets(gw->pid());
    std::vector<std::string> shared;
    for (const auto& s : Sockets(added_pid)) {
      if (gateway_sockets.count(s)) shared.push_back(s);
    }
    EXPECT_TRUE(shared.empty()) << "worker-1 holds " << shared.size()
                                << " of the gateway's sockets, e.g. " << shared.front();
  }

  // Back down to workers_min under light load, after the hysteresis.
  const auto heavy_stopped = std::chrono::steady_clock::now();
  stop_heavy = true;
  heavy.join();
  std::atomic<bool> stop_light{false};
  std::thread light(
      [&] { RunLoad(gw->port(), 1, 0, &stop_light, no_headers, counter(&light_statuses)); });
  bool scaled_down = false;
  // A draining worker no longer counts as ready, so the ready gauge drops when the drain starts.
  std::optional<std::chrono::steady_clock::duration> drain_started_after;
  const auto down_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (scaled_up && !scaled_down && std::chrono::steady_clock::now() < down_deadline) {
    const std::string m = Metrics(gw->port());
    total_max = std::max(total_max, MetricIn(m, total));
    if (!drain_started_after && MetricIn(m, ready) == 1) {
      drain_started_after = std::chrono::steady_clock::now() - heavy_stopped;
    }
    scaled_down = MetricIn(m, total) == 1 && MetricIn(m, ready) == 1;
    if (!scaled_down) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop_light = true;
  light.join();

  ASSERT_TRUE(scaled_up) << "no second worker serving after 40 s of load (max workers " << total_max
                         << ")";
  EXPECT_EQ(first_traffic_probe, 200) << "the gateway sent traffic to a worker not yet ready";
  EXPECT_LE(total_max, 2) << "more workers than workers_max";
  EXPECT_TRUE(scaled_down) << "not back to workers_min 30 s after the load stopped\n" << gw->Logs();
  // Hysteresis: the drain starts after scale_down_after cold evaluations (2 s), not the first one.
  ASSERT_TRUE(drain_started_after.has_value());
  EXPECT_GE(*drain_started_after,
            std::chrono::milliseconds(kScaleIntervalMs * kScaleDownAfter / 2));
  // The newest worker was the one retired, and its process is gone; the first one still serves.
  ASSERT_GT(added_pid, 0);
  EXPECT_TRUE(Eventually([&] { return ::kill(added_pid, 0) != 0 && errno == ESRCH; }, 5000));
  EXPECT_EQ(gw->WorkerPid(0), first);
  std::lock_guard<std::mutex> lock(mu);
  for (const auto& [phase, statuses] :
       {std::pair{"scale-up", &heavy_statuses}, std::pair{"drain", &light_statuses}}) {
    for (const auto& [status, n] : *statuses) {
      EXPECT_EQ(status, 200) << n << " requests answered " << status << " during " << phase
                             << "; first failures: "
                             << fmt::format("{}", fmt::join(failed_bodies, " | "));
    }
  }
  EXPECT_GT(heavy_statuses[200], 100);
  EXPECT_GT(light_statuses[200], 10);
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
  return Metric(port, UpstreamCountSample(endpoint));
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

// Gateway config with a gRPC listener and two keys: alice (user) and "admin".
std::string GrpcGatewayYaml(int workers, const std::string& extra = "") {
  return fmt::format(R"(
grpc_port: 0
workers: {{binary: {}, repo: {}, min: {}, max: {}, initial: {}}}
auth:
  keys:
    - {{name: alice, sha256: "{}", rate_per_s: 10000, burst: 10000}}
    - {{name: ops, sha256: "{}", rate_per_s: 10000, burst: 10000, admin: true}}
{})",
                     g_worker, Repo(), workers, workers, workers, Sha256Hex("alice-key"),
                     Sha256Hex("admin"), extra);
}

TEST(GatewayTest, GrpcInferMatchesReferencePinsAndChecksKeys) {
  auto gw = Gateway::Start(GrpcGatewayYaml(2), 2);
  ASSERT_NE(gw, nullptr);
  ASSERT_GT(gw->grpc_port(), 0);
  const Reference ref = LoadReference();
  auto stub = gw->Grpc();
  auto infer = [&](const Headers& md, inference::ModelInferResponse* resp,
                   std::multimap<std::string, std::string>* answer_md = nullptr) {
    grpc::ClientContext ctx;
    for (const auto& [k, v] : md) ctx.AddMetadata(k, v);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s = stub->ModelInfer(&ctx, GrpcInferRequest(ref), resp);
    if (answer_md != nullptr) {
      for (const auto& [k, v] : ctx.GetServerInitialMetadata()) {
        answer_md->emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
      }
    }
    return s;
  };
  const Headers alice = {{"authorization", "Bearer alice-key"}};

  // The answer through the gateway is the model's reference output.
  inference::ModelInferResponse resp;
  grpc::Status s = infer(alice, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.model_name(), "mlp");
  EXPECT_LT(MaxDiff(resp, ref), 1e-4);

  // A pin (metadata) always wins over the 90/10 split; the answer says which version served.
  for (int i = 0; i < 30; ++i) {
    inference::ModelInferResponse pinned;
    std::multimap<std::string, std::string> md;
    Headers h = alice;
    h.push_back({"x-model-version", "2"});
    h.push_back({"x-user-id", "user-1"});
    ASSERT_TRUE(infer(h, &pinned, &md).ok());
    EXPECT_EQ(pinned.model_version(), "2");
    EXPECT_EQ(md.find("x-model-version")->second, "2");
    EXPECT_LT(MaxDiff(pinned, ref), 1e-4);
  }
  // The split is applied to unpinned requests (version 1 for most).
  std::map<std::string, int> served;
  for (int i = 0; i < 40; ++i) {
    inference::ModelInferResponse r;
    ASSERT_TRUE(infer(alice, &r).ok());
    served[r.model_version()]++;
  }
  EXPECT_GT(served["1"], 20);

  Headers unknown = alice;
  unknown.push_back({"x-model-version", "9"});
  s = infer(unknown, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("version '9'"), std::string::npos) << s.error_message();

  Headers bad_qos = alice;
  bad_qos.push_back({"x-qos-level", "platinum"});
  s = infer(bad_qos, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("x-qos-level"), std::string::npos) << s.error_message();

  // traceparent: the trace id is continued through the gateway.
  const std::string trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  Headers traced = alice;
  traced.push_back({"traceparent", trace});
  std::multimap<std::string, std::string> md;
  ASSERT_TRUE(infer(traced, &resp, &md).ok());
  ASSERT_EQ(md.count("traceparent"), 1u);
  EXPECT_EQ(md.find("traceparent")->second.substr(0, 36), trace.substr(0, 36));

  // Keys: none -> UNAUTHENTICATED; a user key on a repository RPC -> PERMISSION_DENIED.
  s = infer({}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s.error_message().find("authorization"), std::string::npos);
  s = infer({{"authorization", "Bearer wrong"}}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer alice-key");
    inference::RepositoryIndexResponse index;
    s = stub->RepositoryIndex(&ctx, inference::RepositoryIndexRequest(), &index);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer alice-key");
    inference::RepositoryModelLoadRequest load;
    load.set_model_name("mlp");
    inference::RepositoryModelLoadResponse loaded;
    s = stub->RepositoryModelLoad(&ctx, load, &loaded);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer admin");
    inference::RepositoryIndexResponse index;
    s = stub->RepositoryIndex(&ctx, inference::RepositoryIndexRequest(), &index);
    ASSERT_TRUE(s.ok()) << s.error_message();
    std::set<std::string> models;
    for (const auto& m : index.models()) models.insert(m.name());
    EXPECT_EQ(models.count("mlp"), 1u);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer admin");
    inference::RepositoryModelLoadRequest load;
    load.set_model_name("mlp");
    inference::RepositoryModelLoadResponse loaded;
    s = stub->RepositoryModelLoad(&ctx, load, &loaded);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  // Health and metadata.
  {
    grpc::ClientContext ctx;
    inference::ServerReadyResponse ready;
    ASSERT_TRUE(stub->ServerReady(&ctx, inference::ServerReadyRequest(), &ready).ok());
    EXPECT_TRUE(ready.ready());
  }
  {
    grpc::ClientContext ctx;
    inference::ServerMetadataResponse meta;
    ASSERT_TRUE(stub->ServerMetadata(&ctx, inference::ServerMetadataRequest(), &meta).ok());
    EXPECT_EQ(meta.name(), "infer-gateway");
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer alice-key");
    inference::ModelMetadataRequest req;
    req.set_name("mlp");
    inference::ModelMetadataResponse meta;
    s = stub->ModelMetadata(&ctx, req, &meta);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(meta.name(), "mlp");
    ASSERT_EQ(meta.inputs_size(), 1);
    EXPECT_EQ(meta.inputs(0).name(), "input");
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer alice-key");
    inference::ModelReadyRequest req;
    req.set_name("mlp");
    req.set_version("2");
    inference::ModelReadyResponse ready;
    ASSERT_TRUE(stub->ModelReady(&ctx, req, &ready).ok());
    EXPECT_TRUE(ready.ready());
  }
  // The same metrics as REST: by model, version, QoS and outcome; upstream latency.
  EXPECT_GE(Metric(gw->port(),
                   "gateway_requests_total{model=\"mlp\",version=\"2\",qos=\"silver\",outcome="
                   "\"ok\"}"),
            30);
  EXPECT_GE(Metric(gw->port(),
                   "gateway_requests_total{model=\"mlp\",version=\"\",qos=\"silver\",outcome="
                   "\"refused_auth\"}"),
            2);
}

TEST(GatewayTest, GrpcDeadlinePropagatesToTheWorkerAndInflightIsBounded) {
  // The gateway's own default deadline is long, so only the client's deadline can end the call;
  // one forwarded call at a time.
  auto gw =
      Gateway::Start(GrpcGatewayYaml(1, "request_timeout_ms: 60000\ngrpc_inflight_max: 1\n"), 1);
  ASSERT_NE(gw, nullptr);
  const Reference ref = LoadReference();
  auto stub = gw->Grpc();
  auto infer = [&](int deadline_ms) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer alice-key");
    ctx.AddMetadata("x-model-version", "1");
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
    inference::ModelInferResponse resp;
    return stub->ModelInfer(&ctx, GrpcInferRequest(ref), &resp);
  };
  ASSERT_TRUE(infer(5000).ok());  // warm: the upstream channel is connected
  const pid_t worker = gw->WorkerPid(0);
  ASSERT_GT(worker, 0);
  const std::string timeouts =
      "gateway_requests_total{model=\"mlp\",version=\"1\",qos=\"silver\",outcome=\"timeout\"}";
  ASSERT_TRUE(core::testing::StopProcess(worker).ok());
  grpc::Status first;
  std::chrono::steady_clock::duration waited{};
  std::thread caller([&] {
    const auto start = std::chrono::steady_clock::now();
    first = infer(800);
    waited = std::chrono::steady_clock::now() - start;
  });
  // While that call holds the only slot, another is refused at once.
  EXPECT_TRUE(
      Eventually([&] { return Metric(gw->port(), "gateway_grpc_inflight_calls") == 1; }, 600));
  grpc::Status second = infer(5000);
  EXPECT_EQ(second.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << second.error_message();
  EXPECT_NE(second.error_message().find("grpc_inflight_max"), std::string::npos);
  caller.join();
  EXPECT_EQ(first.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << first.error_message();
  EXPECT_LT(waited, std::chrono::seconds(2));
  // The upstream call ended with the client's deadline although the worker is still stopped
  // (without propagation it would stay in flight for the gateway's 60 s default).
  EXPECT_TRUE(Eventually([&] { return Metric(gw->port(), timeouts) == 1; }, 1500));
  EXPECT_EQ(Metric(gw->port(), "gateway_grpc_inflight_calls"), 0);
  ::kill(worker, SIGCONT);
  if (HasFailure()) ADD_FAILURE() << "gateway log:\n" << gw->Logs();
}

// kill -9 of a supervised worker while gRPC clients call ModelInfer through the gateway. A call the
// dead worker had already taken may fail with UNAVAILABLE (at most one per client, since each
// client has one call in flight); every call that had not reached it is retried once on the other
// worker and succeeds. The supervisor restarts the worker and traffic reaches it again.
TEST(GatewayTest, GrpcKillNineUnderLoadLosesNothingThatDidNotReachTheModel) {
  auto gw = Gateway::Start(GrpcGatewayYaml(2), 2);
  ASSERT_NE(gw, nullptr);
  ASSERT_GT(gw->grpc_port(), 0);
  const Reference ref = LoadReference();
  const pid_t victim = gw->WorkerPid(0);
  ASSERT_GT(victim, 0);
  constexpr int kClients = 4;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<grpc::StatusCode, int> codes;
  std::vector<std::string> failures;
  int wrong_answers = 0;
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&] {
      auto stub = gw->Grpc();
      const inference::ModelInferRequest req = GrpcInferRequest(ref);
      while (!stop.load()) {
        grpc::ClientContext ctx;
        ctx.AddMetadata("authorization", "Bearer alice-key");
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        inference::ModelInferResponse resp;
        const grpc::Status s = stub->ModelInfer(&ctx, req, &resp);
        std::lock_guard<std::mutex> lock(mu);
        codes[s.error_code()]++;
        if (!s.ok()) failures.push_back(s.error_message());
        if (s.ok() && MaxDiff(resp, ref) > 1e-4) ++wrong_answers;
      }
    });
  }
  auto served = [&] { return Metric(gw->port(), UpstreamCountSample("worker-0")); };
  EXPECT_TRUE(Eventually([&] { return served() > 50; }, 10000)) << "no load on worker-0";
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  // The supervisor restarts it and it rejoins: ready again, and calls reach the new process.
  EXPECT_TRUE(
      Eventually([&] { return gw->WorkerPid(0) != victim && gw->WorkerPid(0) > 0; }, 15000));
  EXPECT_TRUE(Eventually(
      [&] { return Metric(gw->port(), "gateway_workers{state=\"ready\"}") == 2; }, 30000));
  const double served_after_restart = served();
  EXPECT_TRUE(Eventually([&] { return served() >= served_after_restart + 50; }, 15000))
      << "the restarted worker gets no traffic";
  stop = true;
  for (auto& c : clients) c.join();

  std::lock_guard<std::mutex> lock(mu);
  int failed = 0;
  for (const auto& [code, n] : codes) {
    if (code == grpc::StatusCode::OK) continue;
    EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE) << n << " calls ended with code " << code;
    failed += n;
  }
  EXPECT_LE(failed, kClients) << "calls that had not reached the model failed: "
                              << fmt::format("{}", fmt::join(failures, " | "));
  // Answers that say the call never reached a model must not reach the client: the gateway retries
  // those on the other worker.
  for (const std::string& m : failures) {
    for (const char* not_run : {"failed to connect", "Connection refused", "No such file",
                                "no ready", "shutting down", "worker endpoint"}) {
      EXPECT_EQ(m.find(not_run), std::string::npos) << "not retried: " << m;
    }
  }
  EXPECT_GT(codes[grpc::StatusCode::OK], 100);
  EXPECT_EQ(wrong_answers, 0);
}

// Runs a shell command; returns its stdout.
std::string Capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// A self-signed certificate for localhost (the test's CA is the certificate itself).
void MakeCert(const TempDir& dir, const std::string& name) {
  const std::string cmd = fmt::format(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout {} -out {} > /dev/null 2>&1",
      dir.File(name + ".key"), dir.File(name + ".crt"));
  ASSERT_EQ(Shell(cmd), 0) << cmd;
}

TEST(GatewayTest, TlsOnBothListeners) {
  TempDir certs;
  MakeCert(certs, "gateway");
  const std::string ca = core::testing::ReadFile(certs.File("gateway.crt"));
  auto gw = Gateway::Start(
      GrpcGatewayYaml(1, fmt::format("tls: {{cert_file: {}, key_file: {}}}\n",
                                     certs.File("gateway.crt"), certs.File("gateway.key"))),
      1, ca);
  ASSERT_NE(gw, nullptr);
  const Reference ref = LoadReference();

  // gRPC over TLS, verified against the test CA.
  auto stub = gw->Grpc();
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer alice-key");
  inference::ModelInferResponse resp;
  grpc::Status s = stub->ModelInfer(&ctx, GrpcInferRequest(ref), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_LT(MaxDiff(resp, ref), 1e-4);

  // REST over TLS with curl --cacert.
  const std::string url_base = fmt::format("https://localhost:{}", gw->port());
  const std::string curl = fmt::format(
      "curl -sS --max-time 10 --cacert {} --resolve localhost:{}:127.0.0.1 "
      "-H 'Authorization: Bearer alice-key' -w ' HTTP=%{{http_code}}' ",
      certs.File("gateway.crt"), gw->port());
  const std::string ready = Capture(curl + url_base + "/v2/health/ready 2>&1");
  EXPECT_NE(ready.find("HTTP=200"), std::string::npos) << ready;
  const std::string body_file = certs.File("body.json");
  std::ofstream(body_file) << InferBody();
  const std::string infer = Capture(curl + "-X POST --data-binary @" + body_file + " " + url_base +
                                    "/v2/models/mlp/infer 2>&1");
  EXPECT_NE(infer.find("HTTP=200"), std::string::npos) << infer;
  EXPECT_NE(infer.find("\"outputs\""), std::string::npos) << infer;
  // Plain HTTP to the TLS listener gets no answer; an untrusted client refuses the server.
  const std::string plain = Capture(fmt::format(
      "curl -s --max-time 5 -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{}/v2/health/ready",
      gw->port()));
  EXPECT_EQ(plain.find("200"), std::string::npos) << plain;
  const std::string untrusted = Capture(fmt::format(
      "curl -s --max-time 5 -o /dev/null -w '%{{http_code}}' --resolve localhost:{}:127.0.0.1 "
      "https://localhost:{}/v2/health/ready",
      gw->port(), gw->port()));
  EXPECT_EQ(untrusted, "000");
}

TEST(GatewayTest, BadTlsOrGrpcConfigStopsStartUpWithAPreciseMessage) {
  TempDir dir;
  MakeCert(dir, "a");
  MakeCert(dir, "b");
  auto run = [&](const std::string& yaml) {
    const std::string config = dir.File("gateway.yaml");
    WriteFile(config, "http_port: 0\n" + yaml);
    const std::string log = dir.File("gateway.log");
    auto child = ChildProcess::Start({g_gateway, "--config", config}, {.log_path = log});
    EXPECT_TRUE(child.ok());
    auto code = (*child)->Wait(10000);
    EXPECT_TRUE(code.ok() && *code == 1) << "the gateway must refuse to start";
    return core::testing::ReadFile(log);
  };
  const std::string workers = fmt::format("workers: {{binary: {}, repo: {}}}\n", g_worker, Repo());
  std::string log = run(workers + fmt::format("tls: {{cert_file: {}, key_file: {}}}\n",
                                              dir.File("a.crt"), dir.File("missing.key")));
  EXPECT_NE(log.find("tls.key_file"), std::string::npos) << log;
  EXPECT_NE(log.find("cannot read"), std::string::npos) << log;
  log = run(workers + fmt::format("tls: {{cert_file: {}, key_file: {}}}\n", dir.File("a.crt"),
                                  dir.File("b.key")));
  EXPECT_NE(log.find("does not match"), std::string::npos) << log;
  log = run(workers + "grpc_port: 70000\n");
  EXPECT_NE(log.find("grpc_port"), std::string::npos) << log;
  log = run("grpc_port: 0\nworkers: {static: [unix:/tmp/nowhere.sock]}\n");
  EXPECT_NE(log.find("workers.static_grpc"), std::string::npos) << log;
  log = run(workers + "streaming: {sse_upstream: http3}\n");
  EXPECT_NE(log.find("streaming.sse_upstream: 'http3': expected h2 or grpc"), std::string::npos)
      << log;
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
