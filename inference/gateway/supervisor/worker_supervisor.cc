#include "inference/gateway/supervisor/worker_supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>

#include "core/process/child_fds.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace inference::gateway {

struct WorkerSupervisor::Slot {
  int id = 0;
  pid_t pid = -1;
  bool attached = false;
  bool retiring = false;
  int64_t started_ns = 0;
  int64_t restart_at_ns = 0;
  int64_t term_sent_ns = 0;
  EndpointPtr endpoint;
  std::unique_ptr<core::Backoff> backoff;
  std::string name() const { return fmt::format("worker-{}", id); }
};

namespace {

pid_t SpawnProcess(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Child: die with the gateway, keep the parent's signal mask out of the worker.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  core::CloseDescriptorsFrom(3);  // not the gateway's sockets (clients, other workers' connections)
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ::execv(args[0], args.data());
  ::_exit(127);
}

}  // namespace

absl::StatusOr<std::unique_ptr<WorkerSupervisor>> WorkerSupervisor::Create(SupervisorOptions o,
                                                                           Attach attach,
                                                                           Detach detach,
                                                                           core::Clock* clock) {
  if (::access(o.worker_binary.c_str(), X_OK) != 0) {
    return absl::InvalidArgumentError(
        fmt::format("workers.binary: '{}' is not an executable", o.worker_binary));
  }
  if (o.repo.empty()) return absl::InvalidArgumentError("workers.repo: required");
  if (o.workers_min < 1 || o.workers_min > o.workers_max || o.workers_max > kWorkersMax ||
      o.workers_initial < o.workers_min || o.workers_initial > o.workers_max) {
    return absl::InvalidArgumentError(fmt::format(
        "workers: expected 1 <= min <= initial <= max <= {}, got min {} initial {} max {}",
        kWorkersMax, o.workers_min, o.workers_initial, o.workers_max));
  }
  if (absl::Status s = core::Backoff::ValidateOptions(o.restart_backoff); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::create_directories(o.runtime_dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        fmt::format("workers.runtime_dir '{}': {}", o.runtime_dir, ec.message()));
  }
  return std::unique_ptr<WorkerSupervisor>(
      new WorkerSupervisor(std::move(o), std::move(attach), std::move(detach), clock));
}

WorkerSupervisor::WorkerSupervisor(SupervisorOptions options, Attach attach, Detach detach,
                                   core::Clock* clock)
    : options_(std::move(options)),
      attach_(std::move(attach)),
      detach_(std::move(detach)),
      clock_(clock) {}

WorkerSupervisor::~WorkerSupervisor() { Stop(); }

void WorkerSupervisor::Start() {
  const int64_t now = clock_->NowNs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < options_.workers_initial; ++i) {
      auto slot = std::make_unique<Slot>();
      slot->id = next_id_++;
      slot->backoff =
          std::make_unique<core::Backoff>(options_.restart_backoff, std::random_device{}());
      Spawn(*slot, now);
      slots_.push_back(std::move(slot));
    }
    next_scale_ns_ = now + int64_t{options_.scale_interval_ms} * 1'000'000;
  }
  thread_ = std::thread([this] { Loop(); });
}

void WorkerSupervisor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& s : slots_) {
    if (s->pid > 0) ::kill(s->pid, SIGTERM);
  }
  for (auto& s : slots_) {
    if (s->pid <= 0) continue;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(s->pid, nullptr, WNOHANG) == s->pid) {
        s->pid = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    if (s->pid > 0) {
      ::kill(s->pid, SIGKILL);
      ::waitpid(s->pid, nullptr, 0);
      s->pid = -1;
    }
  }
}

int WorkerSupervisor::workers() const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& s : slots_) n += s->pid > 0;
  return n;
}

int64_t WorkerSupervisor::restarts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return restarts_;
}

std::vector<pid_t> WorkerSupervisor::pids() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<pid_t> out;
  for (const auto& s : slots_) {
    if (s->pid > 0) out.push_back(s->pid);
  }
  return out;
}

void WorkerSupervisor::Spawn(Slot& slot, int64_t now_ns) {
  const std::string base = fmt::format("{}/w{}", options_.runtime_dir, slot.id);
  ::unlink((base + ".sock").c_str());
  ::unlink((base + ".grpc.sock").c_str());
  ::unlink((base + ".ready").c_str());
  std::vector<std::string> argv = {options_.worker_binary,
                                   "--repo",
                                   options_.repo,
                                   "--unix-socket",
                                   base + ".sock",
                                   "--grpc-unix-socket",
                                   base + ".grpc.sock",
                                   "--ready-file",
                                   base + ".ready",
                                   "--http-threads",
                                   std::to_string(options_.worker_http_threads)};
  argv.insert(argv.end(), options_.worker_args.begin(), options_.worker_args.end());
  slot.pid = SpawnProcess(argv, base + ".log");
  slot.started_ns = now_ns;
  slot.attached = false;
  spdlog::info("supervisor: started {} (pid {})", slot.name(), slot.pid);
}

void WorkerSupervisor::Loop() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      Step(clock_->NowNs());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void WorkerSupervisor::Step(int64_t now_ns) {
  for (auto it = slots_.begin(); it != slots_.end();) {
    Slot& s = **it;
    if (s.pid > 0) {
      int status = 0;
      if (::waitpid(s.pid, &status, WNOHANG) == s.pid) {
        spdlog::warn("supervisor: {} (pid {}) exited ({})", s.name(), s.pid,
                     WIFSIGNALED(status) ? fmt::format("signal {}", WTERMSIG(status))
                                         : fmt::format("code {}", WEXITSTATUS(status)));
        s.pid = -1;
        if (s.attached) detach_(s.name());
        s.attached = false;
        s.endpoint.reset();
        if (s.retiring) {
          it = slots_.erase(it);
          continue;
        }
        if (now_ns - s.started_ns > kStableUptimeMs * 1'000'000) s.backoff->Reset();
        const int64_t delay_ms = s.backoff->NextDelayMs().value_or(options_.restart_backoff.max_ms);
        s.restart_at_ns = now_ns + delay_ms * 1'000'000;
        ++restarts_;
      }
    }
    if (s.pid <= 0 && s.retiring) {
      it = slots_.erase(it);
      continue;
    }
    if (s.pid <= 0 && now_ns >= s.restart_at_ns) Spawn(s, now_ns);
    if (s.pid > 0 && !s.attached) {
      const std::string base = fmt::format("{}/w{}", options_.runtime_dir, s.id);
      if (::access((base + ".ready").c_str(), F_OK) == 0) {
        s.endpoint = attach_(s.name(), UpstreamAddress{true, base + ".sock", 0},
                             "unix:" + base + ".grpc.sock");
        s.attached = true;
      }
    }
    if (s.retiring && s.pid > 0 && s.term_sent_ns == 0 &&
        (s.endpoint == nullptr || s.endpoint->inflight.load() == 0)) {
      ::kill(s.pid, SIGTERM);
      s.term_sent_ns = now_ns;
    }
    ++it;
  }
  if (now_ns >= next_scale_ns_) {
    next_scale_ns_ = now_ns + int64_t{options_.scale_interval_ms} * 1'000'000;
    Scale(now_ns);
  }
}

void WorkerSupervisor::Scale(int64_t now_ns) {
  int active = 0;
  int ready = 0;
  double pressure = 0;
  double latency = 0;
  for (const auto& s : slots_) {
    if (s->retiring) continue;
    ++active;
    if (s->endpoint && s->endpoint->ready.load()) {
      ++ready;
      pressure += static_cast<double>(
          std::max<int64_t>(s->endpoint->inflight.load(), s->endpoint->queue_depth.load()));
      latency += s->endpoint->worker_latency_ewma_us.load();
    }
  }
  if (ready == 0) return;
  pressure /= ready;
  latency /= ready;
  const bool hot = pressure > options_.scale_up_pressure ||
                   (options_.scale_up_latency_us > 0 && latency > options_.scale_up_latency_us);
  const bool cold = pressure < options_.scale_down_pressure;
  up_votes_ = hot ? up_votes_ + 1 : 0;
  down_votes_ = cold ? down_votes_ + 1 : 0;
  if (up_votes_ >= options_.scale_up_after && active < options_.workers_max && ready == active) {
    up_votes_ = 0;
    auto slot = std::make_unique<Slot>();
    slot->id = next_id_++;
    slot->backoff =
        std::make_unique<core::Backoff>(options_.restart_backoff, std::random_device{}());
    spdlog::info("supervisor: scaling up to {} workers (pressure {:.1f}, latency {:.0f} us)",
                 active + 1, pressure, latency);
    Spawn(*slot, now_ns);
    slots_.push_back(std::move(slot));
  } else if (down_votes_ >= options_.scale_down_after && active > options_.workers_min &&
             ready == active) {
    // Not while a worker is still starting: requests wait in the gateway meanwhile, so the
    // pressure the ready ones report reads low, and the starting one would be retired unused.
    down_votes_ = 0;
    for (auto it = slots_.rbegin(); it != slots_.rend(); ++it) {
      Slot& s = **it;
      if (s.retiring) continue;
      s.retiring = true;
      if (s.endpoint) s.endpoint->draining.store(true);
      spdlog::info("supervisor: scaling down to {} workers (pressure {:.1f}): draining {}",
                   active - 1, pressure, s.name());
      break;
    }
  }
}

}  // namespace inference::gateway
