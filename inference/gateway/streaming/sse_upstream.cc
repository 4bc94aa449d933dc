#include "inference/gateway/streaming/sse_upstream.h"

#include <utility>

namespace inference::gateway {

namespace {
// The call's write queue: one request at a time (one generation per call); a bound of 2 lets that
// request be queued without UpstreamStream reporting the queue full.
constexpr size_t kWriteQueue = 2;
}  // namespace

std::shared_ptr<SseUpstream> SseUpstream::Open(EndpointPtr endpoint, GrpcUpstream* grpc,
                                               std::string_view traceparent) {
  std::shared_ptr<SseUpstream> s(new SseUpstream(std::move(endpoint)));
  s->self_ = s;
  auto context = std::make_unique<grpc::ClientContext>();
  if (!traceparent.empty()) context->AddMetadata("traceparent", std::string(traceparent));
  // The callbacks never touch stream_; the owner's calls come after this returns.
  s->stream_ = UpstreamStream::Start(grpc, std::move(context), s.get(), kWriteQueue);
  return s;
}

bool SseUpstream::Begin(std::shared_ptr<User> user, grpc::ByteBuffer request) {
  std::lock_guard lock(mu_);
  if (ended_ || user_ != nullptr) return false;
  if (stream_->Write(std::move(request)) == UpstreamStream::WriteResult::kEnded) {
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
    stream_->Cancel();
  }
  if (idle) stream_->Resume();  // in case the generation paused reading before its end
}

void SseUpstream::Resume() {
  std::lock_guard lock(mu_);
  stream_->Resume();
}

void SseUpstream::Close() {
  std::lock_guard lock(mu_);
  if (ended_) return;
  ended_ = true;
  if (user_ == nullptr) {
    stream_->CloseWrites();
  } else {
    stream_->Cancel();
  }
}

bool SseUpstream::Reusable() {
  std::lock_guard lock(mu_);
  return !ended_ && user_ == nullptr;
}

bool SseUpstream::OnUpstreamResponse(UpstreamStream*, grpc::ByteBuffer* response) {
  std::shared_ptr<User> user;
  {
    std::lock_guard lock(mu_);
    user = user_;
  }
  // Nothing is due on an idle call; a stray response is dropped.
  return user == nullptr || user->OnUpstreamResponse(response);
}

void SseUpstream::OnUpstreamDone(UpstreamStream*, const grpc::Status& status) {
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

}  // namespace inference::gateway
