#include "inference/kserve/grpc_stream.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/log/check.h"
#include "fmt/format.h"
#include "inference/batcher/infer_request.h"
#include "inference/kserve/grpc_service.h"
#include "inference/streaming/sequence_table.h"

namespace inference {
namespace {

using Response = ModelStreamInferResponse;

std::string ErrorText(const absl::Status& s) {
  return fmt::format("{}: {}", absl::StatusCodeToString(s.code()),
                     std::string_view(s.message().data(), s.message().size()));
}

const InferParameter* FindParam(const ModelInferRequest& msg, const char* name) {
  auto it = msg.parameters().find(name);
  return it == msg.parameters().end() ? nullptr : &it->second;
}

absl::StatusOr<bool> BoolParam(const ModelInferRequest& msg, const char* name) {
  const InferParameter* p = FindParam(msg, name);
  if (p == nullptr) return false;
  if (p->parameter_choice_case() != InferParameter::kBoolParam) {
    return absl::InvalidArgumentError(fmt::format("parameter {}: must be a bool", name));
  }
  return p->bool_param();
}

// One request read from the stream, from its read until its last response is queued (or it failed).
struct Call {
  ModelInferRequest msg;
  VersionLease lease;  // stateless and generator; sequences use the pin in `slot`
  ServedVersion* version = nullptr;
  ModelKind kind = ModelKind::kStateless;
  std::vector<char> converted;
  GrpcOutputSelection selection;
  // Sequence.
  std::string sequence_key;  // printable id ("7", "'abc'"), the SequenceTable key
  InferParameter sequence_id;
  bool has_sequence_id = false;
  bool sequence_start = false;
  bool sequence_end = false;
  SequenceTable* table = nullptr;
  std::shared_ptr<SequenceSlot> slot;
  // Generator.
  std::vector<int64_t> prompt;
  size_t prompt_pos = 0;
  int max_tokens = 0;
  int produced = 0;
  int64_t next_token = 0;
  std::vector<char> state;
};

class StreamReactor;

// One model run of a Call, handed to the batcher (which destroys it after Complete).
class Step final : public InferRequest {
 public:
  Step(StreamReactor* reactor, Call* call) : reactor_(reactor), call_(call) {}
  void Complete(const absl::Status& status, std::span<const TensorView> outputs) override;

 private:
  StreamReactor* const reactor_;
  Call* const call_;
};

class StreamReactor final : public grpc::ServerBidiReactor<ModelInferRequest, Response> {
 public:
  StreamReactor(ModelManager* manager, SequenceTables* sequences, core::Clock* clock)
      : manager_(manager), sequences_(sequences), clock_(clock) {
    StartRead(&read_msg_);
  }

  void OnReadDone(bool ok) override {
    Actions a;
    if (!ok) {
      {
        std::lock_guard lock(mu_);
        read_closed_ = true;
        DecideLocked(&a);
      }
      Run(a);
      return;
    }
    auto call = std::make_unique<Call>();
    call->msg.Swap(&read_msg_);
    Call* raw = call.get();
    {
      std::lock_guard lock(mu_);
      calls_.push_back(std::move(call));
      // Not finished while this read is being handled: read_closed_ is false.
    }
    Dispatch(raw);
    {
      std::lock_guard lock(mu_);
      if (cancelled_) {
        read_closed_ = true;  // no more reads: OnReadDone will not be called again
      } else {
        read_paused_ = true;  // DecideLocked resumes it at once unless the window is full
      }
      DecideLocked(&a);
    }
    Run(a);
  }

  void OnWriteDone(bool ok) override {
    Actions a;
    {
      std::lock_guard lock(mu_);
      write_in_flight_ = false;
      queue_.pop_front();
      if (!ok) cancelled_ = true;  // the stream is broken: stop producing
      if (cancelled_) {
        queue_.clear();
        DropPausedLocked();
      } else {
        // A generator paused on a full queue continues.
        while (!paused_.empty() && queue_.size() < window_) {
          a.submit.push_back(paused_.front());
          paused_.pop_front();
        }
      }
      DecideLocked(&a);
    }
    Run(a);
  }

  void OnCancel() override {
    Actions a;
    {
      std::lock_guard lock(mu_);
      cancelled_ = true;
      DropPausedLocked();
      if (!write_in_flight_) queue_.clear();
      if (read_paused_) {
        read_paused_ = false;
        read_closed_ = true;
      }
      DecideLocked(&a);
    }
    Run(a);
  }

  void OnDone() override { delete this; }

  // A Step finished (execution thread, or inline in Submit when rejected).
  void OnStepDone(Call* call, const absl::Status& status, std::span<const TensorView> outputs) {
    switch (call->kind) {
      case ModelKind::kStateless:
        if (status.ok()) {
          Response r;
          FillOutputs(*call, outputs, &r);
          Respond(call, std::move(r), /*last=*/true);
        } else {
          Fail(call, status);
        }
        return;
      case ModelKind::kSequence:
        OnChunkDone(call, status, outputs);
        return;
      case ModelKind::kGenerator:
        OnGeneratorStepDone(call, status, outputs);
        return;
    }
  }

 private:
  // ---- dispatch of one request ----

  void Dispatch(Call* call) {
    absl::Status s = Route(call);
    if (!s.ok()) Fail(call, s);
  }

  absl::Status Route(Call* call) {
    auto lease = manager_->Acquire(call->msg.model_name(), call->msg.model_version());
    if (!lease.ok()) return lease.status();
    const ModelConfig& config = (*lease)->config();
    call->kind = config.kind;
    {
      std::lock_guard lock(mu_);
      if (!window_set_) {
        window_ = config.streaming.window;
        window_set_ = true;
      } else {
        window_ = std::min(window_, config.streaming.window);
      }
    }
    switch (config.kind) {
      case ModelKind::kStateless: {
        call->version = lease->get();
        call->lease = *std::move(lease);
        auto step = std::make_unique<Step>(this, call);
        step->start_ns = clock_->NowNs();
        absl::Status s = PrepareGrpcInputs(call->msg, config, -1, -1, step.get(), &call->converted,
                                           &call->selection);
        if (!s.ok()) return s;
        call->version->batcher().Submit(std::move(step));
        return absl::OkStatus();
      }
      case ModelKind::kSequence:
        return RouteChunk(call, *std::move(lease));
      case ModelKind::kGenerator:
        call->version = lease->get();
        call->lease = *std::move(lease);
        return StartGeneration(call);
    }
    return absl::InternalError("unknown model kind");
  }

  // ---- sequences ----

  absl::Status RouteChunk(Call* call, VersionLease lease) {
    const ModelInferRequest& msg = call->msg;
    const std::string model = lease->config().name;
    const InferParameter* id = FindParam(msg, "sequence_id");
    if (id == nullptr) {
      return absl::InvalidArgumentError(fmt::format(
          "sequence_id: required for model '{}' (kind sequence); with sequence_start on the first "
          "chunk and sequence_end on the last",
          model));
    }
    switch (id->parameter_choice_case()) {
      case InferParameter::kInt64Param:
        call->sequence_key = std::to_string(id->int64_param());
        break;
      case InferParameter::kUint64Param:
        call->sequence_key = std::to_string(id->uint64_param());
        break;
      case InferParameter::kStringParam:
        if (id->string_param().empty() || id->string_param().size() > kSequenceIdBytesMax) {
          return absl::InvalidArgumentError(
              fmt::format("sequence_id: a string id must have 1 to {} bytes", kSequenceIdBytesMax));
        }
        call->sequence_key = fmt::format("'{}'", id->string_param());
        break;
      default:
        return absl::InvalidArgumentError("sequence_id: must be an int64, uint64 or string");
    }
    call->sequence_id = *id;
    call->has_sequence_id = true;
    auto start = BoolParam(msg, "sequence_start");
    if (!start.ok()) return start.status();
    auto end = BoolParam(msg, "sequence_end");
    if (!end.ok()) return end.status();
    call->sequence_start = *start;
    call->sequence_end = *end;
    call->table = sequences_->Get(model);
    call->lease = std::move(lease);  // until the chunk runs: the pinned version is used then
    {
      // A chunk of a sequence whose previous chunk from this stream still runs waits for it.
      std::lock_guard lock(mu_);
      if (!running_sequences_.insert(call->sequence_key).second) {
        waiting_.push_back(call);
        return absl::OkStatus();
      }
    }
    absl::Status s = RunChunk(call);
    if (!s.ok()) {
      std::string key = call->sequence_key;
      Fail(call, s);
      EndRunningSequence(key);
    }
    return absl::OkStatus();
  }

  // Precondition: call->sequence_key is in running_sequences_ (this stream runs it). On error the
  // caller answers the call and calls EndRunningSequence.
  absl::Status RunChunk(Call* call) {
    const ModelConfig& latest = call->lease->config();
    const TensorConfig& st = latest.inputs[static_cast<size_t>(latest.state.input_index)];
    const size_t state_bytes = static_cast<size_t>(st.dims.elements()) * sizeof(float);
    std::shared_ptr<void> pin;
    if (call->sequence_start) pin = std::make_shared<VersionLease>(std::move(call->lease));
    call->lease.Reset();
    auto slot = call->table->Acquire(
        call->sequence_key, call->sequence_start,
        {latest.sequence_batching.idle_timeout_ms, latest.sequence_batching.max_sequences},
        state_bytes, std::move(pin));
    if (!slot.ok()) return slot.status();
    call->slot = *std::move(slot);
    call->version = static_cast<VersionLease*>(call->slot->pin.get())->get();
    const ModelConfig& config = call->version->config();
    auto step = std::make_unique<Step>(this, call);
    step->start_ns = clock_->NowNs();
    absl::Status s =
        PrepareGrpcInputs(call->msg, config, config.state.input_index, config.state.output_index,
                          step.get(), &call->converted, &call->selection);
    if (s.ok() && step->batch_rows != 1) {
      s = absl::InvalidArgumentError(
          fmt::format("sequence_id {}: a chunk carries one sequence (batch dimension 1), got {}",
                      call->sequence_key, step->batch_rows));
    }
    if (s.ok() && call->slot->state.size() != state_bytes) {
      s = absl::FailedPreconditionError("state size differs between model versions");
    }
    if (!s.ok()) {
      // A refused chunk leaves the sequence as it was (its state is untouched).
      call->table->Release(call->sequence_key, /*end=*/call->sequence_start);
      call->slot.reset();
      return s;
    }
    const size_t si = static_cast<size_t>(config.state.input_index);
    step->set_input(si, TensorView{DataType::kFp32, config.InputShape(si, 1),
                                   call->slot->state.data(), call->slot->state.size()});
    call->version->batcher().Submit(std::move(step));
    return absl::OkStatus();
  }

  void OnChunkDone(Call* call, const absl::Status& status, std::span<const TensorView> outputs) {
    absl::Status s = status;
    const ModelConfig& config = call->version->config();
    if (s.ok()) {
      const TensorView& h = outputs[static_cast<size_t>(config.state.output_index)];
      if (h.bytes != call->slot->state.size()) {
        s = absl::InternalError(fmt::format("model returned a state of {} bytes, expected {}",
                                            h.bytes, call->slot->state.size()));
      } else {
        std::memmove(call->slot->state.data(), h.data, h.bytes);
      }
    }
    Response r;
    if (s.ok()) FillOutputs(*call, outputs, &r);
    // A failed chunk ends its sequence: its state no longer follows the chunks the client sent.
    call->table->Release(call->sequence_key, call->sequence_end || !s.ok());
    call->slot.reset();
    std::string key = call->sequence_key;
    // Respond first (responses of a sequence leave in order); the key stays in
    // running_sequences_ until EndRunningSequence, so the stream cannot finish in between.
    if (s.ok()) {
      Respond(call, std::move(r), /*last=*/true);
    } else {
      Fail(call, s);
    }
    EndRunningSequence(key);
  }

  // The chunk of sequence `key` no longer runs: start the next waiting chunk of the sequence.
  void EndRunningSequence(const std::string& key) {
    Call* next = nullptr;
    Actions a;
    {
      std::lock_guard lock(mu_);
      auto it = std::find_if(waiting_.begin(), waiting_.end(),
                             [&](Call* w) { return w->sequence_key == key; });
      if (it != waiting_.end()) {
        next = *it;
        waiting_.erase(it);
      } else {
        running_sequences_.erase(key);
        DecideLocked(&a);
      }
    }
    if (next == nullptr) {
      Run(a);
      return;
    }
    absl::Status s = RunChunk(next);
    if (!s.ok()) {
      std::string next_key = next->sequence_key;
      Fail(next, s);
      EndRunningSequence(next_key);
    }
  }

  // ---- generator ----

  absl::Status StartGeneration(Call* call) {
    const ModelConfig& config = call->version->config();
    const ModelInferRequest& msg = call->msg;
    const TensorConfig& tok =
        config.inputs[static_cast<size_t>(config.generation.token_input_index)];
    if (msg.inputs_size() != 1 || msg.inputs(0).name() != tok.name) {
      return absl::InvalidArgumentError(fmt::format(
          "model '{}' (kind generator) takes one input, '{}' (INT64 [n]: the prompt tokens)",
          config.name, tok.name));
    }
    const auto& in = msg.inputs(0);
    if (in.datatype() != "INT64") {
      return absl::InvalidArgumentError(
          fmt::format("input '{}': datatype {}, expected INT64", tok.name, in.datatype()));
    }
    int64_t n = -1;
    if (in.shape_size() == 1) n = in.shape(0);
    if (in.shape_size() == 2 && in.shape(0) == 1) n = in.shape(1);
    if (n < 1 || n > config.generation.prompt_tokens_max) {
      return absl::InvalidArgumentError(
          fmt::format("input '{}': shape must be [n] or [1, n] with n in [1, {}] "
                      "(generation.prompt_tokens_max)",
                      tok.name, config.generation.prompt_tokens_max));
    }
    call->prompt.resize(static_cast<size_t>(n));
    if (msg.raw_input_contents_size() > 0) {
      if (msg.raw_input_contents_size() != 1 ||
          msg.raw_input_contents(0).size() != static_cast<size_t>(n) * sizeof(int64_t)) {
        return absl::InvalidArgumentError(
            fmt::format("input '{}': raw_input_contents must hold {} INT64 values", tok.name, n));
      }
      std::memcpy(call->prompt.data(), msg.raw_input_contents(0).data(),
                  static_cast<size_t>(n) * sizeof(int64_t));
    } else {
      if (in.contents().int64_contents_size() != n) {
        return absl::InvalidArgumentError(
            fmt::format("input '{}': {} int64_contents, shape needs {}", tok.name,
                        in.contents().int64_contents_size(), n));
      }
      std::copy(in.contents().int64_contents().begin(), in.contents().int64_contents().end(),
                call->prompt.begin());
    }
    const int64_t vocab =
        config.outputs[static_cast<size_t>(config.generation.logits_output_index)].dims[0];
    for (int64_t t : call->prompt) {
      if (t < 0 || t >= vocab) {
        return absl::InvalidArgumentError(
            fmt::format("input '{}': token {} out of the vocabulary [0, {})", tok.name, t, vocab));
      }
    }
    int64_t max_tokens = kMaxTokensDefault;
    if (const InferParameter* p = FindParam(msg, "max_tokens"); p != nullptr) {
      if (p->parameter_choice_case() == InferParameter::kInt64Param) {
        max_tokens = p->int64_param();
      } else if (p->parameter_choice_case() == InferParameter::kUint64Param) {
        max_tokens = static_cast<int64_t>(std::min<uint64_t>(p->uint64_param(), INT64_MAX));
      } else {
        return absl::InvalidArgumentError("max_tokens: must be an integer");
      }
    }
    if (max_tokens < 1 || max_tokens > config.generation.max_tokens_max) {
      return absl::InvalidArgumentError(
          fmt::format("max_tokens: {} not in [1, {}] (generation.max_tokens_max)", max_tokens,
                      config.generation.max_tokens_max));
    }
    call->max_tokens = static_cast<int>(max_tokens);
    const TensorConfig& st = config.inputs[static_cast<size_t>(config.state.input_index)];
    call->state.assign(static_cast<size_t>(st.dims.elements()) * sizeof(float), 0);
    call->next_token = call->prompt[0];
    SubmitGeneratorStep(call);
    return absl::OkStatus();
  }

  void SubmitGeneratorStep(Call* call) {
    const ModelConfig& config = call->version->config();
    auto step = std::make_unique<Step>(this, call);
    step->start_ns = clock_->NowNs();
    step->priority_level = config.default_priority - 1;
    const size_t ti = static_cast<size_t>(config.generation.token_input_index);
    const size_t si = static_cast<size_t>(config.state.input_index);
    step->set_input(ti,
                    TensorView{DataType::kInt64, config.InputShape(ti, 1),
                               reinterpret_cast<const char*>(&call->next_token), sizeof(int64_t)});
    step->set_input(si, TensorView{DataType::kFp32, config.InputShape(si, 1), call->state.data(),
                                   call->state.size()});
    call->version->batcher().Submit(std::move(step));
  }

  void OnGeneratorStepDone(Call* call, const absl::Status& status,
                           std::span<const TensorView> outputs) {
    if (!status.ok()) {
      Fail(call, status);
      return;
    }
    const ModelConfig& config = call->version->config();
    const TensorView& h = outputs[static_cast<size_t>(config.state.output_index)];
    const TensorView& logits = outputs[static_cast<size_t>(config.generation.logits_output_index)];
    if (h.bytes != call->state.size() || logits.datatype != DataType::kFp32 || logits.bytes == 0) {
      Fail(call, absl::InternalError("generator step returned unexpected outputs"));
      return;
    }
    std::memmove(call->state.data(), h.data, h.bytes);
    if (call->prompt_pos + 1 < call->prompt.size()) {  // still reading the prompt
      call->next_token = call->prompt[++call->prompt_pos];
      SubmitGeneratorStep(call);
      return;
    }
    const size_t vocab = logits.bytes / sizeof(float);
    std::vector<float> row(vocab);
    std::memcpy(row.data(), logits.data, logits.bytes);
    const int64_t token =
        static_cast<int64_t>(std::max_element(row.begin(), row.end()) - row.begin());
    ++call->produced;
    const bool last = call->produced >= call->max_tokens;
    Response r;
    ModelInferResponse* out = r.mutable_infer_response();
    auto* t = out->add_outputs();
    t->set_name(kGeneratedTokenOutput);
    t->set_datatype("INT64");
    t->add_shape(1);
    out->add_raw_output_contents()->assign(reinterpret_cast<const char*>(&token), sizeof(token));
    call->next_token = token;
    Respond(call, std::move(r), last);
  }

  // ---- responses ----

  void FillOutputs(const Call& call, std::span<const TensorView> outputs, Response* r) {
    const ModelConfig& config = call.version->config();
    ModelInferResponse* out = r->mutable_infer_response();
    for (size_t s = 0; s < call.selection.count; ++s) {
      const size_t k = static_cast<size_t>(call.selection.outputs[s]);
      const TensorView& t = outputs[k];
      auto* o = out->add_outputs();
      o->set_name(config.outputs[k].name);
      o->set_datatype(std::string(DataTypeName(t.datatype)));
      for (int64_t d : t.shape.dims()) o->add_shape(d);
      out->add_raw_output_contents()->assign(t.data, t.bytes);
    }
  }

  void Fail(Call* call, const absl::Status& s) {
    Response r;
    r.set_error_message(ErrorText(s));
    Respond(call, std::move(r), /*last=*/true);
  }

  // Queues a response of `call`; `last`: the call is done (final flag set, the call freed).
  // Otherwise (a generator with more tokens to go) submits its next step, or pauses it while the
  // queue is full.
  void Respond(Call* call, Response r, bool last) {
    ModelInferResponse* out = r.mutable_infer_response();
    out->set_model_name(call->msg.model_name());
    if (call->version != nullptr) out->set_model_version(call->version->version_string());
    if (!call->msg.id().empty()) out->set_id(call->msg.id());
    if (call->has_sequence_id) (*out->mutable_parameters())["sequence_id"] = call->sequence_id;
    (*out->mutable_parameters())[kFinalResponseParameter].set_bool_param(last);
    Actions a;
    std::unique_lock lock(mu_);
    if (!cancelled_) queue_.push_back(std::move(r));
    if (last) {
      auto it = std::find_if(calls_.begin(), calls_.end(),
                             [call](const std::unique_ptr<Call>& c) { return c.get() == call; });
      CORE_CHECK(it != calls_.end());
      calls_.erase(it);  // releases its lease
    } else if (cancelled_) {
      calls_.erase(
          std::find_if(calls_.begin(), calls_.end(),
                       [call](const std::unique_ptr<Call>& c) { return c.get() == call; }));
    } else if (queue_.size() >= window_) {
      paused_.push_back(call);  // resumed by OnWriteDone
    } else {
      a.submit.push_back(call);
    }
    DecideLocked(&a);
    lock.unlock();
    Run(a);
  }

  // ---- flow control and completion (mu_ held) ----

  bool WindowFullLocked() const { return calls_.size() >= window_ || queue_.size() >= window_; }

  // Returns the response to write now, if no write is in flight.
  const Response* StartWriteLocked() {
    if (write_in_flight_ || queue_.empty() || cancelled_ || finished_) return nullptr;
    write_in_flight_ = true;
    return &queue_.front();  // deque: stays put while others are pushed behind it
  }

  bool ResumeReadLocked() {
    if (!read_paused_ || cancelled_ || WindowFullLocked()) return false;
    read_paused_ = false;
    return true;
  }

  void DropPausedLocked() {
    for (Call* c : paused_) {
      calls_.erase(std::find_if(calls_.begin(), calls_.end(),
                                [c](const std::unique_ptr<Call>& u) { return u.get() == c; }));
    }
    paused_.clear();
  }

  // What to do once mu_ is released. The reactor may be deleted (OnDone) as soon as nothing keeps
  // it open: a write or read in flight, an unanswered call, a running sequence. Run() therefore
  // starts the write before the read before the steps, each of which keeps the stream open until
  // the next one is started, and touches nothing after the last.
  struct Actions {
    const Response* write = nullptr;
    bool more_queued = false;  // another response waits behind `write`: let gRPC coalesce
    bool read = false;
    std::vector<Call*> submit;  // generator steps to submit
    bool finish = false;
    bool cancelled = false;
  };

  void DecideLocked(Actions* a) {
    a->write = StartWriteLocked();
    a->more_queued = a->write != nullptr && queue_.size() > 1;
    a->read = ResumeReadLocked();
    if (a->write == nullptr && !a->read && a->submit.empty() && !finished_ && read_closed_ &&
        calls_.empty() && !write_in_flight_ && running_sequences_.empty() &&
        (cancelled_ || queue_.empty())) {
      finished_ = true;
      a->finish = true;
      a->cancelled = cancelled_;
    }
  }

  void Run(const Actions& a) {
    if (a.write != nullptr) {
      // With more queued, the next write follows at once (OnWriteDone), so this one may wait in
      // gRPC's buffer and go out with it: fewer frames and syscalls per token.
      StartWrite(a.write,
                 a.more_queued ? grpc::WriteOptions().set_buffer_hint() : grpc::WriteOptions());
    }
    if (a.read) StartRead(&read_msg_);
    for (Call* c : a.submit) SubmitGeneratorStep(c);
    if (a.finish) {
      Finish(a.cancelled ? grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled")
                         : grpc::Status::OK);
    }
  }

  static constexpr size_t kSequenceIdBytesMax = 256;

  ModelManager* const manager_;
  SequenceTables* const sequences_;
  core::Clock* const clock_;
  ModelInferRequest read_msg_;  // owned by the read in flight

  std::mutex mu_;
  std::vector<std::unique_ptr<Call>> calls_;  // unanswered requests (<= window)
  std::deque<Response> queue_;                // responses to write; front is being written
  std::deque<Call*> paused_;                  // generators waiting for queue space
  std::deque<Call*> waiting_;                 // chunks waiting for their sequence's previous one
  std::unordered_set<std::string> running_sequences_;  // sequences with a chunk in progress
  size_t window_ = kStreamWindowDefault;
  bool window_set_ = false;
  bool write_in_flight_ = false;
  bool read_paused_ = false;
  bool read_closed_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
};

void Step::Complete(const absl::Status& status, std::span<const TensorView> outputs) {
  reactor_->OnStepDone(call_, status, outputs);
}

}  // namespace

grpc::ServerBidiReactor<ModelInferRequest, ModelStreamInferResponse>* NewStreamReactor(
    grpc::CallbackServerContext* ctx, ModelManager* manager, SequenceTables* sequences,
    core::Clock* clock) {
  (void)ctx;
  return new StreamReactor(manager, sequences, clock);
}

}  // namespace inference
