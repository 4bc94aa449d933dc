#include "bench/loadgen/closed_loop.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <mutex>
#include <thread>
#include <vector>

namespace loadgen {
namespace {

using Clock = std::chrono::steady_clock;

// Shared by all threads of one run.
struct RunState {
  const LoadOptions* options = nullptr;
  std::atomic<uint64_t> next_seq{0};
  Clock::time_point measure_start;
  Clock::time_point measure_end;  // time_point::max() in fixed-count mode
};

class Worker;

class Slot final : public CompletionSink {
 public:
  Slot(Worker* worker) : worker_(worker) {}
  void OnRequestDone(const Counts& ops, bool usable) override;
  void IssueNext();

  std::unique_ptr<Session> session;
  bool busy = false;
  bool usable = true;

 private:
  Worker* worker_;
  Clock::time_point started_;
};

// One io_context thread and the sessions it owns.
class Worker {
 public:
  Worker(RunState* run, int connections) : run_(run), connections_(connections), drain_(io_) {}

  absl::Status Connect(const SessionFactory& factory) {
    absl::Status first_error;
    int pending = connections_;
    slots_.reserve(connections_);
    for (int i = 0; i < connections_; ++i) {
      slots_.push_back(std::make_unique<Slot>(this));
      Slot* slot = slots_.back().get();
      slot->session = factory(io_, slot);
      slot->session->Connect([&](absl::Status s) {
        if (!s.ok() && first_error.ok()) first_error = s;
        --pending;
      });
    }
    io_.run();
    io_.restart();
    if (!first_error.ok()) return first_error;
    return pending == 0 ? absl::OkStatus() : absl::UnavailableError("connect did not complete");
  }

  void Run() {
    for (auto& slot : slots_) slot->IssueNext();
    MaybeFinish();
    if (!finished_) {
      drain_.expires_at(run_->options->requests_total > 0
                            ? Clock::time_point::max()
                            : run_->measure_end + run_->options->drain_timeout);
      drain_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        // Whatever is still in flight is lost: count it as errors and stop.
        for (auto& slot : slots_) {
          if (slot->busy) ++stuck_;
          slot->session->Close();
        }
        io_.stop();
      });
    }
    io_.run();
    for (auto& slot : slots_) slot->session->Close();
    // Let cancelled handlers run so sessions are destroyed with no I/O pending.
    io_.restart();
    io_.poll();
  }

  void Record(Clock::time_point started, Clock::time_point now, const Counts& ops) {
    if (now < run_->measure_start || now >= run_->measure_end) return;
    result_.ops += ops;
    ++result_.requests;
    result_.latency_ns.Record(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - started).count());
    last_completion_ = std::max(last_completion_, now);
  }

  // Returns false when no more requests may be started.
  bool NextSeq(Clock::time_point now, uint64_t* seq) {
    const LoadOptions& o = *run_->options;
    if (o.requests_total == 0 && now >= run_->measure_end) return false;
    *seq = run_->next_seq.fetch_add(1, std::memory_order_relaxed);
    return o.requests_total == 0 || *seq < o.requests_total;
  }

  void MaybeFinish() {
    if (finished_) return;
    for (auto& slot : slots_) {
      if (slot->busy) return;
    }
    finished_ = true;
    drain_.cancel();
    io_.stop();
  }

  boost::asio::io_context& io() { return io_; }
  LoadResult& result() { return result_; }
  uint64_t stuck() const { return stuck_; }
  Clock::time_point last_completion() const { return last_completion_; }
  int retired() const {
    return static_cast<int>(
        std::count_if(slots_.begin(), slots_.end(), [](auto& s) { return !s->usable; }));
  }

 private:
  RunState* run_;
  int connections_;
  boost::asio::io_context io_{1};
  boost::asio::steady_timer drain_;
  std::vector<std::unique_ptr<Slot>> slots_;
  LoadResult result_;
  uint64_t stuck_ = 0;
  bool finished_ = false;
  Clock::time_point last_completion_{};
};

void Slot::IssueNext() {
  uint64_t seq;
  if (!usable || !worker_->NextSeq(Clock::now(), &seq)) {
    busy = false;
    return;
  }
  busy = true;
  started_ = Clock::now();
  session->Issue(seq);
}

void Slot::OnRequestDone(const Counts& ops, bool still_usable) {
  worker_->Record(started_, Clock::now(), ops);
  usable = usable && still_usable;
  IssueNext();
  if (!busy) worker_->MaybeFinish();
}

}  // namespace

absl::StatusOr<LoadResult> RunClosedLoop(const LoadOptions& options,
                                         const SessionFactory& factory) {
  if (options.connections <= 0 || options.threads <= 0) {
    return absl::InvalidArgumentError("connections and threads must be positive");
  }
  const int threads = std::min(options.threads, options.connections);
  RunState run;
  run.options = &options;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < threads; ++t) {
    const int n = options.connections / threads + (t < options.connections % threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(&run, n));
  }

  // Connect everything first so connection set-up never lands in the measured window.
  std::vector<absl::Status> connect_status(threads);
  {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] { connect_status[t] = workers[t]->Connect(factory); });
    }
    for (auto& th : pool) th.join();
  }
  for (const auto& s : connect_status) {
    if (!s.ok()) return s;
  }

  const Clock::time_point start = Clock::now();
  if (options.requests_total > 0) {
    run.measure_start = start;
    run.measure_end = Clock::time_point::max();
  } else {
    run.measure_start = start + options.warmup;
    run.measure_end = run.measure_start + options.duration;
  }
  {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { workers[t]->Run(); });
    for (auto& th : pool) th.join();
  }

  LoadResult total;
  Clock::time_point last{};
  for (auto& w : workers) {
    LoadResult& r = w->result();
    total.ops += r.ops;
    total.ops.errors += w->stuck();
    total.requests += r.requests;
    total.latency_ns.Merge(r.latency_ns);
    total.sessions_retired += w->retired();
    last = std::max(last, w->last_completion());
  }
  if (options.requests_total > 0) {
    total.seconds = std::chrono::duration<double>(std::max(last, start) - start).count();
  } else {
    total.seconds = std::chrono::duration<double>(options.duration).count();
  }
  return total;
}

std::string FormatSummary(std::string_view name, const LoadResult& r) {
  return fmt::format("{} ops/s={:.0f} p50_us={:.1f} p99_us={:.1f} errors={}", name,
                     r.ops_per_second(), r.latency_ns.Quantile(0.50) / 1000.0,
                     r.latency_ns.Quantile(0.99) / 1000.0, r.ops.errors);
}

}  // namespace loadgen
