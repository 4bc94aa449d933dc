#include "inference/gateway/upstream/upstream_pool.h"

#include <boost/asio.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <utility>

#include "fmt/format.h"

namespace inference::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using GenericSocket = asio::generic::stream_protocol::socket;

struct UpstreamPool::Impl {
  std::mutex mu;  // guards targets
  std::vector<std::weak_ptr<UpstreamTarget>> targets;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::atomic<size_t> next{0};
  asio::io_context& NextContext() { return *contexts[next.fetch_add(1) % contexts.size()]; }
};

namespace upstream_internal {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(asio::io_context& ctx) : socket_(ctx), timer_(ctx) {}

  asio::any_io_executor executor() { return socket_.get_executor(); }

  // Runs on this connection's thread.
  void Run(std::shared_ptr<UpstreamTarget> target, std::string request, int64_t timeout_ms,
           UpstreamCallback done, bool retry_stale) {
    target_ = std::move(target);
    request_ = std::move(request);
    done_ = std::move(done);
    retry_stale_ = retry_stale;
    timed_out_ = false;
    timer_.expires_after(std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 1)));
    timer_.async_wait([self = shared_from_this(), gen = ++generation_](beast::error_code ec) {
      if (ec || gen != self->generation_ || self->done_ == nullptr) return;
      self->timed_out_ = true;
      beast::error_code ignored;
      self->socket_.close(ignored);
    });
    reused_ = socket_.is_open();
    if (reused_) {
      Write();
      return;
    }
    Connect();
  }

  void Close() {
    beast::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void Connect() {
    const UpstreamAddress& a = target_->address();
    beast::error_code ec;
    asio::generic::stream_protocol::endpoint ep;
    if (a.unix_socket) {
      ep = asio::local::stream_protocol::endpoint(a.host);
    } else {
      asio::ip::address ip = asio::ip::make_address(a.host, ec);
      if (ec) {
        Fail(absl::InvalidArgumentError(fmt::format("bad upstream address {}", a.host)), false);
        return;
      }
      ep = asio::ip::tcp::endpoint(ip, a.port);
    }
    socket_.async_connect(ep, [self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        self->Fail(absl::UnavailableError(fmt::format(
                       "connect {}: {}", self->target_->address().ToString(), ec.message())),
                   false);
        return;
      }
      if (!self->target_->address().unix_socket) {
        beast::error_code ignored;
        self->socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
      }
      self->Write();
    });
  }

  void Write() {
    asio::async_write(socket_, asio::buffer(request_),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) {
                          self->ReadFailed(ec);
                          return;
                        }
                        self->Read();
                      });
  }

  void Read() {
    parser_.emplace();
    parser_->body_limit(target_->pool_->options().response_bytes_max);
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) {
                         self->ReadFailed(ec);
                         return;
                       }
                       self->Done();
                     });
  }

  void ReadFailed(beast::error_code ec) {
    const bool got_bytes = parser_.has_value() && parser_->got_some();
    if (timed_out_) {
      Fail(absl::DeadlineExceededError("upstream request timed out"), true);
      return;
    }
    if (reused_ && !got_bytes && retry_stale_) {
      // The worker closed this idle keep-alive connection: start over on a fresh one, once.
      auto target = target_;
      auto done = std::move(done_);
      done_ = nullptr;
      ++generation_;
      timer_.cancel();
      Discard();
      target->pool_->Start(target, nullptr, std::move(request_), RemainingMs(), std::move(done),
                           false);
      return;
    }
    Fail(absl::UnavailableError(
             fmt::format("upstream {}: {}", target_->address().ToString(), ec.message())),
         got_bytes || !reused_ ? got_bytes : false);
  }

  int64_t RemainingMs() const {
    const auto left = timer_.expiry() - asio::steady_timer::clock_type::now();
    return std::max<int64_t>(1,
                             std::chrono::duration_cast<std::chrono::milliseconds>(left).count());
  }

  void Done() {
    ++generation_;
    timer_.cancel();
    auto& res = parser_->get();
    UpstreamResponse out;
    out.reached_worker = true;
    out.request = std::move(request_);
    out.http_status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    if (auto it = res.find(http::field::content_type); it != res.end()) {
      out.content_type = std::string(it->value());
    }
    if (auto it = res.find(http::field::retry_after); it != res.end()) {
      out.retry_after = std::string(it->value());
    }
    const bool keep = res.keep_alive() && !res.need_eof();
    parser_.reset();
    UpstreamCallback done = std::move(done_);
    done_ = nullptr;
    if (keep) {
      Release();
    } else {
      Discard();
    }
    done(std::move(out));
  }

  void Fail(absl::Status status, bool reached_worker) {
    ++generation_;
    timer_.cancel();
    parser_.reset();
    UpstreamCallback done = std::move(done_);
    done_ = nullptr;
    Discard();
    UpstreamResponse out;
    out.status = std::move(status);
    out.reached_worker = reached_worker;
    out.request = std::move(request_);
    done(std::move(out));
  }

  // Back to the target's idle list. An idle connection does not hold its target (the target holds
  // it), so dropping a target frees its idle connections.
  void Release() {
    std::shared_ptr<UpstreamTarget> target = std::move(target_);
    std::lock_guard<std::mutex> lock(target->mu_);
    target->idle_.push_back(shared_from_this());
  }
  void Discard() {
    Close();
    buffer_.clear();
    std::lock_guard<std::mutex> lock(target_->mu_);
    --target_->connections_;
  }

  GenericSocket socket_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::shared_ptr<UpstreamTarget> target_;  // while a request runs
  std::string request_;
  UpstreamCallback done_;
  uint64_t generation_ = 0;
  bool reused_ = false;
  bool retry_stale_ = false;
  bool timed_out_ = false;
};

}  // namespace upstream_internal

int UpstreamTarget::connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connections_;
}

void UpstreamTarget::CloseIdle() {
  std::vector<std::shared_ptr<upstream_internal::Connection>> idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle.swap(idle_);
    connections_ -= static_cast<int>(idle.size());
  }
  // Idle connections have no operation pending and no other owner, so they are closed here (the
  // reactor is thread-safe), also when their thread has stopped.
  for (auto& c : idle) c->Close();
}

absl::StatusOr<std::unique_ptr<UpstreamPool>> UpstreamPool::Create(Options options) {
  if (options.threads < 1 || options.threads > kUpstreamThreadsMax) {
    return absl::InvalidArgumentError(
        fmt::format("upstream threads: expected [1, {}]", kUpstreamThreadsMax));
  }
  if (options.connections_per_target_max < 1) {
    return absl::InvalidArgumentError("upstream connections_per_target_max: expected >= 1");
  }
  return std::unique_ptr<UpstreamPool>(new UpstreamPool(options));
}

UpstreamPool::UpstreamPool(Options options) : options_(options), impl_(std::make_unique<Impl>()) {
  for (int i = 0; i < options_.threads; ++i) {
    impl_->contexts.push_back(std::make_unique<asio::io_context>(1));
    impl_->guards.push_back(asio::make_work_guard(*impl_->contexts.back()));
  }
  for (int i = 0; i < options_.threads; ++i) {
    impl_->threads.emplace_back([ctx = impl_->contexts[i].get()] { ctx->run(); });
  }
}

UpstreamPool::~UpstreamPool() {
  for (auto& g : impl_->guards) g.reset();
  for (auto& c : impl_->contexts) c->stop();
  for (auto& t : impl_->threads) t.join();
  // Targets may outlive the pool: their idle connections must not outlive the io_contexts.
  std::vector<std::shared_ptr<UpstreamTarget>> live;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (const auto& w : impl_->targets) {
      if (auto t = w.lock()) live.push_back(std::move(t));
    }
  }
  for (const auto& t : live) t->CloseIdle();
}

std::shared_ptr<UpstreamTarget> UpstreamPool::NewTarget(const UpstreamAddress& address) {
  auto target = std::make_shared<UpstreamTarget>(this, address);
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::erase_if(impl_->targets, [](const std::weak_ptr<UpstreamTarget>& w) { return w.expired(); });
  impl_->targets.push_back(target);
  return target;
}

void UpstreamPool::Send(const std::shared_ptr<UpstreamTarget>& target, std::string request,
                        int64_t timeout_ms, UpstreamCallback done) {
  std::shared_ptr<upstream_internal::Connection> conn;
  {
    std::lock_guard<std::mutex> lock(target->mu_);
    if (!target->idle_.empty()) {
      conn = std::move(target->idle_.back());
      target->idle_.pop_back();
    }
  }
  Start(target, std::move(conn), std::move(request), timeout_ms, std::move(done), true);
}

void UpstreamPool::Start(const std::shared_ptr<UpstreamTarget>& target,
                         std::shared_ptr<upstream_internal::Connection> conn, std::string request,
                         int64_t timeout_ms, UpstreamCallback done, bool retry_stale) {
  if (conn == nullptr) {
    {
      std::lock_guard<std::mutex> lock(target->mu_);
      if (target->connections_ >= options_.connections_per_target_max) {
        UpstreamResponse out;
        out.status = absl::ResourceExhaustedError(fmt::format("upstream {}: {} connections in use",
                                                              target->address().ToString(),
                                                              target->connections_));
        out.request = std::move(request);
        done(std::move(out));
        return;
      }
      ++target->connections_;
    }
    conn = std::make_shared<upstream_internal::Connection>(impl_->NextContext());
  }
  asio::post(conn->executor(), [conn, target, request = std::move(request), timeout_ms,
                                done = std::move(done), retry_stale]() mutable {
    conn->Run(std::move(target), std::move(request), timeout_ms, std::move(done), retry_stale);
  });
}

}  // namespace inference::gateway
