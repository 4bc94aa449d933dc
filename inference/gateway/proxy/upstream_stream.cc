#include "inference/gateway/proxy/upstream_stream.h"

#include <utility>

#include "inference/gateway/upstream/grpc_upstream.h"
#include "inference/kserve/stream_protocol.h"

namespace inference::gateway {

UpstreamStream::UpstreamStream(std::unique_ptr<grpc::ClientContext> context, Sink* sink,
                               size_t write_queue_max)
    : context_(std::move(context)), sink_(sink), write_queue_max_(write_queue_max) {}

std::shared_ptr<UpstreamStream> UpstreamStream::Start(GrpcUpstream* upstream,
                                                      std::unique_ptr<grpc::ClientContext> context,
                                                      Sink* sink, size_t write_queue_max) {
  std::shared_ptr<UpstreamStream> s(
      new UpstreamStream(std::move(context), sink, std::max<size_t>(1, write_queue_max)));
  s->self_ = s;
  upstream->generic->PrepareBidiStreamingCall(s->context_.get(), kModelStreamInferMethod,
                                              grpc::StubOptions(), s.get());
  // Held until the read side ends, so methods called from the sink's threads may start operations.
  s->AddHold();
  s->reading_ = true;
  s->StartRead(&s->response_);
  s->StartCall();
  return s;
}

UpstreamStream::WriteResult UpstreamStream::Write(grpc::ByteBuffer request) {
  std::lock_guard lock(mu_);
  if (ended_ || close_writes_ || write_failed_) return WriteResult::kEnded;
  writes_.push_back(std::move(request));
  PumpLocked();
  if (writes_.size() < write_queue_max_) return WriteResult::kQueued;
  want_writable_ = true;
  return WriteResult::kFull;
}

void UpstreamStream::CloseWrites() {
  std::lock_guard lock(mu_);
  close_writes_ = true;
  PumpLocked();
}

void UpstreamStream::PumpLocked() {
  if (ended_ || write_failed_ || write_in_flight_) return;
  if (!writes_.empty()) {
    write_in_flight_ = true;
    if (close_writes_ && writes_.size() == 1) {
      writes_closed_ = true;  // the last request carries the half-close: one frame, not two
      StartWriteLast(&writes_.front(), grpc::WriteOptions());
    } else {
      StartWrite(&writes_.front());  // deque: stays put while others are queued behind it
    }
  } else if (close_writes_ && !writes_closed_) {
    writes_closed_ = true;
    StartWritesDone();
  }
}

void UpstreamStream::Resume() {
  std::lock_guard lock(mu_);
  if (ended_ || reading_) return;
  if (delivering_) {  // the sink changed its mind while its callback still runs
    resume_requested_ = true;
    return;
  }
  reading_ = true;
  StartRead(&response_);
}

void UpstreamStream::Cancel() {
  context_->TryCancel();
  // A paused read side would keep the hold (and the call) forever: read, so the end is seen.
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (ended_ || reading_ || delivering_) return;
  reading_ = true;
  StartRead(&response_);
}

void UpstreamStream::OnReadDone(bool ok) {
  if (ok) {
    {
      std::lock_guard lock(mu_);
      reading_ = false;
      delivering_ = true;
      resume_requested_ = false;
    }
    const bool more = sink_->OnUpstreamResponse(this, &response_);
    std::lock_guard lock(mu_);
    delivering_ = false;
    if ((more || resume_requested_ || cancelled_) && !ended_) {
      reading_ = true;
      StartRead(&response_);
    }
    return;
  }
  {
    std::lock_guard lock(mu_);
    reading_ = false;
    ended_ = true;
    // The worker ended the stream: what is still queued will never be written.
    if (write_in_flight_) {
      writes_.erase(writes_.begin() + 1, writes_.end());
    } else {
      writes_.clear();
    }
  }
  RemoveHold();  // OnDone may follow at once; nothing below
}

void UpstreamStream::OnWriteDone(bool ok) {
  bool notify = false;
  {
    std::lock_guard lock(mu_);
    write_in_flight_ = false;
    writes_.pop_front();
    if (!ok) {
      write_failed_ = true;  // the call is broken; the read side ends too
      writes_.clear();
      return;
    }
    PumpLocked();
    if (want_writable_ && writes_.size() < write_queue_max_) {
      want_writable_ = false;
      notify = !ended_;
    }
  }
  if (notify) sink_->OnUpstreamWritable(this);
}

void UpstreamStream::OnWritesDoneDone(bool) {}

void UpstreamStream::OnDone(const grpc::Status& status) {
  std::shared_ptr<UpstreamStream> keep = std::move(self_);
  sink_->OnUpstreamDone(this, status);
}

}  // namespace inference::gateway
