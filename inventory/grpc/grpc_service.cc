#include "inventory/grpc/grpc_service.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <chrono>

#include "inventory/api/response_renderer.h"
#include "inventory/engine/limits.h"
#include "inventory/engine/validate.h"
#include "inventory/v1/inventory.grpc.pb.h"

namespace inventory {

namespace pb = ::inventory::v1;

namespace {

void ToProto(const SkuView& s, pb::Sku* out) {
  out->set_sku(s.sku);
  out->set_available(s.available);
  out->set_reserved(s.reserved);
  out->set_sold(s.sold);
  out->set_version(s.version);
}

void ToProto(const ReservationView& r, bool replayed, pb::Reservation* out) {
  out->set_reservation_id(r.reservation_id);
  out->set_state(static_cast<pb::ReservationState>(static_cast<int>(r.state) + 1));
  out->set_expires_at_ms(r.expires_at_ms);
  out->clear_items();
  for (const Item& item : r.items) {
    pb::Item* i = out->add_items();
    i->set_sku(item.sku);
    i->set_qty(item.qty);
  }
  out->set_user_id(r.user_id);
  out->set_replayed(replayed);
}

bool IsSuccess(const OpResult& r) { return IsSuccess(r.outcome); }

void ToProtoError(const OpResult& r, pb::Error* e) {
  // Reuse the REST rendering's code and message so both protocols agree word for word.
  std::string json;
  AppendResultJson(r, &json);
  const size_t code_start = json.find("\"error\":\"") + 9;
  e->set_code(json.substr(code_start, json.find('"', code_start) - code_start));
  e->set_message(r.message);
  if (r.outcome == Outcome::kSkuNotFound || r.outcome == Outcome::kInsufficientStock ||
      r.outcome == Outcome::kStockLimit) {
    e->set_sku(r.sku.sku);
    e->set_available(r.sku.available);
  }
  e->set_reservation_id(r.reservation.reservation_id);
}

grpc::StatusCode GrpcCode(Outcome o) {
  switch (o) {
    case Outcome::kSkuNotFound:
    case Outcome::kReservationNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case Outcome::kReservationConflict:
    case Outcome::kOpConflict:
      return grpc::StatusCode::ALREADY_EXISTS;
    case Outcome::kInsufficientStock:
    case Outcome::kReservationExpired:
    case Outcome::kReservationCancelled:
    case Outcome::kReservationConfirmed:
    case Outcome::kStockLimit:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case Outcome::kTableFull:
    case Outcome::kOverloaded:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Outcome::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    default:
      return grpc::StatusCode::INTERNAL;
  }
}

void ToProto(const OpResult& r, pb::Result* out) {
  out->set_http_status(HttpStatusOf(r));
  if (!IsSuccess(r)) {
    ToProtoError(r, out->mutable_error());
  } else if (r.kind == OpKind::kAdjust || r.kind == OpKind::kGetSku) {
    ToProto(r.sku, out->mutable_sku());
  } else {
    ToProto(r.reservation, r.outcome == Outcome::kReplayed, out->mutable_reservation());
  }
}

// Finishes `reactor` with the error of `r`, detail in trailing metadata.
void FinishWithError(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
                     const OpResult& r) {
  pb::Error e;
  ToProtoError(r, &e);
  ctx->AddTrailingMetadata("inventory-error-bin", e.SerializeAsString());
  const std::string message = e.message().empty() ? e.code() : e.code() + ": " + e.message();
  reactor->Finish(grpc::Status(GrpcCode(r.outcome), message));
}

void FinishInvalid(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
                   const FieldError& fe) {
  pb::Error e;
  e.set_code("invalid_argument");
  e.set_message(fe.message);
  e.set_field(fe.field);
  ctx->AddTrailingMetadata("inventory-error-bin", e.SerializeAsString());
  reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               fmt::format("invalid_argument: {}: {}", fe.field, fe.message)));
}

// One RPC in flight through the writer. `Fill` writes the successful result into the response.
template <typename Response>
class GrpcSubmission final : public Submission {
 public:
  GrpcSubmission(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
                 Response* response)
      : ctx_(ctx), reactor_(reactor), response_(response) {}
  void Complete() override {
    if constexpr (std::is_same_v<Response, pb::BatchResponse>) {
      if (!results.empty() && (results[0].outcome == Outcome::kUnavailable ||
                               results[0].outcome == Outcome::kOverloaded)) {
        FinishWithError(ctx_, reactor_, results[0]);
        return;
      }
      response_->mutable_results()->Reserve(static_cast<int>(results.size()));
      for (size_t j = 0; j < results.size(); ++j) {
        pb::Result* out = response_->add_results();
        ToProto(results[j], out);
        if (result_mode == ResultMode::kFailures) out->set_index(failed_index[j]);
      }
      reactor_->Finish(grpc::Status::OK);
    } else {
      const OpResult& r = results[0];
      if (!IsSuccess(r)) {
        FinishWithError(ctx_, reactor_, r);
        return;
      }
      if constexpr (std::is_same_v<Response, pb::Sku>) {
        ToProto(r.sku, response_);
      } else {
        ToProto(r.reservation, r.outcome == Outcome::kReplayed, response_);
      }
      reactor_->Finish(grpc::Status::OK);
    }
  }

 private:
  grpc::CallbackServerContext* ctx_;
  grpc::ServerUnaryReactor* reactor_;
  Response* response_;
};

void FromProto(const pb::AdjustRequest& r, Operation* op) {
  op->kind = OpKind::kAdjust;
  op->sku = r.sku();
  op->delta = r.delta();
  op->op_id = r.op_id();
}
void FromProto(const pb::ReserveRequest& r, Operation* op) {
  op->kind = OpKind::kReserve;
  op->reservation_id = r.reservation_id();
  op->ttl_ms = r.ttl_ms();
  op->user_id = r.user_id();
  for (const pb::Item& item : r.items()) op->items.push_back({item.sku(), item.qty()});
}
void FromProto(OpKind kind, const std::string& id, Operation* op) {
  op->kind = kind;
  op->reservation_id = id;
}

std::optional<FieldError> FromProto(const pb::Operation& p, Operation* op) {
  switch (p.op_case()) {
    case pb::Operation::kAdjust:
      FromProto(p.adjust(), op);
      break;
    case pb::Operation::kReserve:
      FromProto(p.reserve(), op);
      break;
    case pb::Operation::kConfirm:
      FromProto(OpKind::kConfirm, p.confirm().reservation_id(), op);
      break;
    case pb::Operation::kCancel:
      FromProto(OpKind::kCancel, p.cancel().reservation_id(), op);
      break;
    case pb::Operation::kGetSku:
      op->kind = OpKind::kGetSku;
      op->sku = p.get_sku().sku();
      break;
    case pb::Operation::kGetReservation:
      FromProto(OpKind::kGetReservation, p.get_reservation().reservation_id(), op);
      break;
    default:
      return FieldError{"op", "no operation set"};
  }
  return ValidateOperation(*op);
}

}  // namespace

class GrpcService final : public pb::Inventory::CallbackService {
 public:
  explicit GrpcService(Writer* writer) : writer_(writer) {}

  grpc::ServerUnaryReactor* Adjust(grpc::CallbackServerContext* ctx, const pb::AdjustRequest* req,
                                   pb::Sku* resp) override {
    return Single(ctx, resp, [&](Operation* op) { FromProto(*req, op); });
  }
  grpc::ServerUnaryReactor* GetSku(grpc::CallbackServerContext* ctx, const pb::GetSkuRequest* req,
                                   pb::Sku* resp) override {
    return Single(ctx, resp, [&](Operation* op) {
      op->kind = OpKind::kGetSku;
      op->sku = req->sku();
    });
  }
  grpc::ServerUnaryReactor* Reserve(grpc::CallbackServerContext* ctx, const pb::ReserveRequest* req,
                                    pb::Reservation* resp) override {
    return Single(ctx, resp, [&](Operation* op) { FromProto(*req, op); });
  }
  grpc::ServerUnaryReactor* Confirm(grpc::CallbackServerContext* ctx,
                                    const pb::ReservationIdRequest* req,
                                    pb::Reservation* resp) override {
    return Single(ctx, resp,
                  [&](Operation* op) { FromProto(OpKind::kConfirm, req->reservation_id(), op); });
  }
  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* ctx,
                                   const pb::ReservationIdRequest* req,
                                   pb::Reservation* resp) override {
    return Single(ctx, resp,
                  [&](Operation* op) { FromProto(OpKind::kCancel, req->reservation_id(), op); });
  }
  grpc::ServerUnaryReactor* GetReservation(grpc::CallbackServerContext* ctx,
                                           const pb::ReservationIdRequest* req,
                                           pb::Reservation* resp) override {
    return Single(ctx, resp, [&](Operation* op) {
      FromProto(OpKind::kGetReservation, req->reservation_id(), op);
    });
  }
  grpc::ServerUnaryReactor* Batch(grpc::CallbackServerContext* ctx, const pb::BatchRequest* req,
                                  pb::BatchResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    if (req->ops_size() == 0 || req->ops_size() > static_cast<int>(kBatchOpsMax)) {
      FinishInvalid(ctx, reactor,
                    FieldError{"ops", fmt::format("must hold 1..{} ops", kBatchOpsMax)});
      return reactor;
    }
    auto s = std::make_unique<GrpcSubmission<pb::BatchResponse>>(ctx, reactor, resp);
    switch (req->results()) {
      case pb::BATCH_RESULTS_ALL:
        s->result_mode = ResultMode::kAll;
        break;
      case pb::BATCH_RESULTS_FAILURES:
        s->result_mode = ResultMode::kFailures;
        break;
      default:
        FinishInvalid(
            ctx, reactor,
            FieldError{"results", "expected BATCH_RESULTS_ALL or BATCH_RESULTS_FAILURES"});
        return reactor;
    }
    s->ops.reserve(static_cast<size_t>(req->ops_size()));
    for (int i = 0; i < req->ops_size(); ++i) {
      Operation& op = s->ops.emplace_back();
      if (auto e = FromProto(req->ops(i), &op)) {
        e->field = fmt::format("ops[{}].{}", i, e->field);
        FinishInvalid(ctx, reactor, *e);
        return reactor;
      }
      if (s->result_mode == ResultMode::kFailures &&
          (op.kind == OpKind::kGetSku || op.kind == OpKind::kGetReservation)) {
        FinishInvalid(ctx, reactor,
                      FieldError{fmt::format("ops[{}].op", i),
                                 fmt::format("{} returns its result only with BATCH_RESULTS_ALL",
                                             OpKindName(op.kind))});
        return reactor;
      }
    }
    writer_->Submit(std::move(s));
    return reactor;
  }

 private:
  template <typename Response, typename Build>
  grpc::ServerUnaryReactor* Single(grpc::CallbackServerContext* ctx, Response* resp, Build build) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    auto s = std::make_unique<GrpcSubmission<Response>>(ctx, reactor, resp);
    Operation& op = s->ops.emplace_back();
    build(&op);
    if (auto e = ValidateOperation(op)) {
      FinishInvalid(ctx, reactor, *e);
      return reactor;
    }
    writer_->Submit(std::move(s));
    return reactor;
  }

  Writer* writer_;
};

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const std::string& host, int port,
                                                              Writer* writer) {
  auto server = std::unique_ptr<GrpcServer>(new GrpcServer());
  server->service_ = std::make_unique<GrpcService>(writer);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(fmt::format("{}:{}", host, port), grpc::InsecureServerCredentials(),
                           &server->port_);
  builder.RegisterService(server->service_.get());
  builder.SetMaxReceiveMessageSize(16 << 20);
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->port_ == 0) {
    return absl::UnavailableError(fmt::format("gRPC: cannot listen on {}:{}", host, port));
  }
  return server;
}

GrpcServer::~GrpcServer() { Shutdown(0); }

void GrpcServer::Shutdown(int grace_ms) {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(grace_ms));
  server_->Wait();
  server_.reset();
}

}  // namespace inventory
