#include "inference/gateway/streaming/sse_upstream.h"

#include <utility>

namespace inference::gateway {

namespace {
// The call's write queue: one request at a time (one generation per call); a bound of 2 lets that
// request be queued without UpstreamStream reporting the queue full.
constexpr size_t kWriteQueue = 2;
}  // namespace

std::shared_ptr<SseUpstream> SseUpstream::Open(EndpointPtr endpoint, GrpcUpstream* grpc,
                                               H2StreamClient* h2, std::string_view traceparent) {
  std::shared_ptr<SseUpstream> s(new SseUpstream(std::move(endpoint)));
  s->self_ = s;
  if (h2 != nullptr) {
    s->h2_ = h2;
    s->traceparent_ = std::string(traceparent);
    return s;
  }
  auto context = std::make_unique<grpc::ClientContext>();
  if (!traceparent.empty()) context->AddMetadata("traceparent", std::string(traceparent));
  // The callbacks never touch stream_; the owner's calls come after this returns.
  s->stream_ = UpstreamStream::Start(grpc, std::move(context), s.get(), kWriteQueue);
  return s;
}

bool SseUpstream::Begin(std::shared_ptr<User> user, const std::string& request) {
  std::lock_guard lock(mu_);
  if (ended_ || user_ != nullptr) return false;
  if (h2_ != nullptr) {
    if (h2_call_ == nullptr) {
      // The client holds its sink until OnDone; self_ keeps this alive as long.
      h2_call_ = h2_->Start(request, {{"traceparent", traceparent_}},
                            std::shared_ptr<H2StreamClient::Sink>(self_, this),
                            /*close_writes=*/false);
    } else {
      h2_call_->Write(request);
    }
    user_ = std::move(user);
    return true;
  }
  grpc::Slice slice(request);
  if (stream_->Write(grpc::ByteBuffer(&slice, 1)) == UpstreamStream::WriteResult::kEnded) {
    ended_ = true;
    return false;
  }
  user_ = std::move(user);
  return true;
}

void SseUpstream::Release(bool idle) {
  std::lock_guard lock(mu_);
  user_ = nullptr;
  if (!idle && !ended_) {
    ended_ = true;
    if (h2_call_ != nullptr) {
      h2_call_->Cancel();
    } else if (stream_ != nullptr) {
      stream_->Cancel();
    }
  }
  // In case the generation paused reading before its end.
  if (idle && h2_call_ != nullptr) h2_call_->Resume();
  if (idle && stream_ != nullptr) stream_->Resume();
}

void SseUpstream::Resume() {
  std::lock_guard lock(mu_);
  if (h2_call_ != nullptr) h2_call_->Resume();
  if (stream_ != nullptr) stream_->Resume();
}

void SseUpstream::Close() {
  std::shared_ptr<SseUpstream> keep;
  std::lock_guard lock(mu_);
  if (ended_) return;
  ended_ = true;
  if (h2_ != nullptr && h2_call_ == nullptr) {
    keep = std::move(self_);  // never started: no OnDone will release it
    return;
  }
  if (user_ == nullptr) {
    h2_call_ != nullptr ? h2_call_->CloseWrites() : stream_->CloseWrites();
  } else {
    h2_call_ != nullptr ? h2_call_->Cancel() : stream_->Cancel();
  }
}

bool SseUpstream::Reusable() {
  std::lock_guard lock(mu_);
  return !ended_ && user_ == nullptr;
}

bool SseUpstream::Deliver(std::string_view response, bool readable) {
  std::shared_ptr<User> user;
  {
    std::lock_guard lock(mu_);
    user = user_;
  }
  // Nothing is due on an idle call; a stray response is dropped.
  return user == nullptr || user->OnUpstreamResponse(response, readable);
}

void SseUpstream::Done(const grpc::Status& status) {
  std::shared_ptr<User> user;
  std::shared_ptr<SseUpstream> keep;
  {
    std::lock_guard lock(mu_);
    ended_ = true;
    user = std::move(user_);
    keep = std::move(self_);
  }
  if (user != nullptr) user->OnUpstreamDone(status);
}

bool SseUpstream::OnUpstreamResponse(UpstreamStream*, grpc::ByteBuffer* response) {
  // Read in place: a response is one slice unless gRPC received it in pieces.
  grpc::Slice slice;
  const bool readable =
      response->TrySingleSlice(&slice).ok() || response->DumpToSingleSlice(&slice).ok();
  return Deliver(std::string_view(reinterpret_cast<const char*>(slice.begin()), slice.size()),
                 readable);
}

void SseUpstream::OnUpstreamDone(UpstreamStream*, const grpc::Status& status) { Done(status); }

bool SseUpstream::OnMessage(std::string_view message) { return Deliver(message, true); }

void SseUpstream::OnDone(const grpc::Status& status) { Done(status); }

}  // namespace inference::gateway
