#include "bench/loadgen/grpc_load.h"

#include <fmt/format.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif
#include <thread>
#include <vector>

namespace loadgen {
namespace {

// A session is handed to the completion-queue thread as a gRPC tag. gRPC orders the two threads
// with its own synchronization, which ThreadSanitizer cannot see in Debian's uninstrumented
// libgrpc; these annotations tell it about that edge (no code in other builds).
#if defined(__SANITIZE_THREAD__)
void HandOffRelease(void* tag) { __tsan_release(tag); }
void HandOffAcquire(void* tag) { __tsan_acquire(tag); }
#else
void HandOffRelease(void*) {}
void HandOffAcquire(void*) {}
#endif

namespace asio = boost::asio;

// One concurrent call slot. Issue/Close and the classifier run on the session's io thread; the
// completion-queue thread only calls OnCallDone, which hands the result back to the io thread.
class GrpcSession final : public Session {
 public:
  GrpcSession(asio::io_context& io, CompletionSink* sink, grpc::GenericStub* stub,
              grpc::CompletionQueue* cq, const GrpcLoadOptions& options,
              const GrpcRequestRenderer& render, const GrpcResponseClassifier& classify)
      : io_(io),
        sink_(sink),
        stub_(stub),
        cq_(cq),
        options_(options),
        render_(render),
        classify_(classify) {}

  // The completion-queue thread may still hold this session: wait until it has let go (a
  // cancelled call completes promptly).
  ~GrpcSession() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return calls_pending_ == 0; });
  }

  void Connect(std::function<void(absl::Status)> done) override { done(absl::OkStatus()); }

  void Issue(uint64_t seq) override {
    if (closed_) {
      sink_->OnRequestDone(Counts{.errors = 1}, false);
      return;
    }
    seq_ = seq;
    render_(seq, &request_);
    response_.Clear();
    reader_.reset();  // the previous call has completed: its reader and context may go
    context_.emplace();
    context_->set_deadline(std::chrono::system_clock::now() + options_.call_timeout);
    {
      std::lock_guard lock(mu_);
      ++calls_pending_;
    }
    HandOffRelease(this);
    reader_ = stub_->PrepareUnaryCall(&*context_, options_.method, request_, cq_);
    reader_->StartCall();
    reader_->Finish(&response_, &status_, this);
  }

  void Close() override {
    closed_ = true;
    if (context_) context_->TryCancel();
  }

  // Completion-queue thread (ordered after Issue() by the tag handoff, see HandOffRelease above).
  void OnCallDone() {
    std::lock_guard lock(mu_);
    asio::post(io_, [this] {
      const Counts counts = classify_(seq_, status_, response_);
      sink_->OnRequestDone(counts, true);
    });
    // Last touch of this session on this thread (see the destructor).
    --calls_pending_;
    cv_.notify_all();
  }

 private:
  asio::io_context& io_;
  CompletionSink* const sink_;
  grpc::GenericStub* const stub_;
  grpc::CompletionQueue* const cq_;
  const GrpcLoadOptions& options_;
  const GrpcRequestRenderer& render_;
  const GrpcResponseClassifier& classify_;

  uint64_t seq_ = 0;
  bool closed_ = false;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  grpc::Status status_;
  std::optional<grpc::ClientContext> context_;  // a context serves exactly one call
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader_;

  std::mutex mu_;
  std::condition_variable cv_;
  int calls_pending_ = 0;  // guarded by mu_; 0 or 1 (closed loop)
};

void DrainQueue(grpc::CompletionQueue* cq) {
  void* tag = nullptr;
  bool ok = false;
  // `ok` is false for failed or cancelled calls; their status says why, so both paths are the same.
  while (cq->Next(&tag, &ok)) {
    HandOffAcquire(tag);
    static_cast<GrpcSession*>(tag)->OnCallDone();
  }
}

}  // namespace

Counts ClassifyByGrpcStatus(uint64_t, const grpc::Status& status, const grpc::ByteBuffer&) {
  if (status.ok()) return Counts{.ok = 1};
  if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) return Counts{.rejected = 1};
  return Counts{.errors = 1};
}

absl::StatusOr<LoadResult> RunGrpcLoad(const GrpcLoadOptions& options,
                                       const GrpcRequestRenderer& render,
                                       const GrpcResponseClassifier& classify) {
  if (options.channels <= 0 || options.channels > kGrpcChannelsMax) {
    return absl::InvalidArgumentError(fmt::format("channels must be in 1..{}", kGrpcChannelsMax));
  }
  if (options.cq_threads <= 0 || options.cq_threads > kGrpcCqThreadsMax) {
    return absl::InvalidArgumentError(
        fmt::format("cq_threads must be in 1..{}", kGrpcCqThreadsMax));
  }
  if (options.method.empty() || options.method.front() != '/') {
    return absl::InvalidArgumentError("method must be a full name: /package.Service/Method");
  }

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (int i = 0; i < options.channels; ++i) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(options.message_bytes_max);
    args.SetMaxSendMessageSize(options.message_bytes_max);
    // Channels with equal arguments share one subchannel (one TCP connection) through the global
    // pool; a per-channel pool gives each channel its own connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel =
        grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + options.connect_timeout)) {
      return absl::UnavailableError(
          fmt::format("gRPC channel {} to {} did not connect", i, options.target));
    }
    stubs.push_back(std::make_unique<grpc::GenericStub>(channel));
    channels.push_back(std::move(channel));
  }

  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues;
  std::vector<std::thread> pollers;
  for (int i = 0; i < options.cq_threads; ++i) {
    queues.push_back(std::make_unique<grpc::CompletionQueue>());
    pollers.emplace_back(DrainQueue, queues.back().get());
  }

  std::atomic<int> next_session{0};
  absl::StatusOr<LoadResult> result =
      RunClosedLoop(options.load, [&](asio::io_context& io, CompletionSink* sink) {
        const int n = next_session.fetch_add(1, std::memory_order_relaxed);
        return std::make_unique<GrpcSession>(io, sink, stubs[n % stubs.size()].get(),
                                             queues[n % queues.size()].get(), options, render,
                                             classify);
      });
  // Every session has been destroyed, so no call is pending on any queue.
  for (auto& q : queues) q->Shutdown();
  for (auto& t : pollers) t.join();
  return result;
}

}  // namespace loadgen
