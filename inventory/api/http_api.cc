#include "inventory/api/http_api.h"

#include <memory>
#include <utility>

#include "core/http/json.h"
#include "inventory/api/request_parser.h"
#include "inventory/api/response_renderer.h"
#include "inventory/engine/limits.h"

namespace inventory {
namespace {

using core::http::Request;
using core::http::Responder;

class HttpSubmission final : public Submission {
 public:
  HttpSubmission(Responder responder, bool batch)
      : responder_(std::move(responder)), batch_(batch) {}
  void Complete() override {
    if (!batch_) {
      responder_.Send(RenderResult(results[0]));
    } else if (result_mode == ResultMode::kFailures) {
      responder_.Send(
          RenderBatchFailures(absl::MakeConstSpan(results.data(), results.size()), failed_index));
    } else {
      responder_.Send(RenderBatch(absl::MakeConstSpan(results.data(), results.size())));
    }
  }
  Responder& responder() { return responder_; }

 private:
  Responder responder_;
  bool batch_;
};

size_t PaddedSize(const Request& req) { return req.body.size() + req.body_padding_bytes(); }

// Validates an id from the URL path; false (and a 400 sent) when bad.
bool CheckPathId(std::string_view value, size_t bytes_max, std::string_view field,
                 Responder& responder) {
  if (IsValidIdentifier(value, bytes_max)) return true;
  responder.Send(RenderFieldError(FieldError{
      std::string(field),
      value.empty() ? "must not be empty"
                    : "1.." + std::to_string(bytes_max) + " bytes of [A-Za-z0-9] and -_.:@+~="}));
  return false;
}

}  // namespace

void HttpApi::Register(core::http::Router& router) {
  Writer* writer = writer_;

  router.Post("/v1/skus/{sku}/adjust", [writer](Request& req, Responder responder) {
    const std::string_view sku = req.param("sku");
    if (!CheckPathId(sku, kSkuBytesMax, "sku", responder)) return;
    auto s = std::make_unique<HttpSubmission>(std::move(responder), false);
    Operation& op = s->ops.emplace_back();
    if (auto e = ParseAdjust(req.body, PaddedSize(req), sku, &op)) {
      s->responder().Send(RenderFieldError(*e));
      return;
    }
    writer->Submit(std::move(s));
  });

  router.Get("/v1/skus/{sku}", [writer](Request& req, Responder responder) {
    const std::string_view sku = req.param("sku");
    if (!CheckPathId(sku, kSkuBytesMax, "sku", responder)) return;
    auto s = std::make_unique<HttpSubmission>(std::move(responder), false);
    Operation& op = s->ops.emplace_back();
    op.kind = OpKind::kGetSku;
    op.sku.assign(sku.data(), sku.size());
    writer->Submit(std::move(s));
  });

  router.Post("/v1/reservations", [writer](Request& req, Responder responder) {
    auto s = std::make_unique<HttpSubmission>(std::move(responder), false);
    Operation& op = s->ops.emplace_back();
    if (auto e = ParseReserve(req.body, PaddedSize(req), &op)) {
      s->responder().Send(RenderFieldError(*e));
      return;
    }
    writer->Submit(std::move(s));
  });

  auto by_id = [writer](OpKind kind) {
    return [writer, kind](Request& req, Responder responder) {
      const std::string_view id = req.param("id");
      if (!CheckPathId(id, kIdBytesMax, "reservation_id", responder)) return;
      auto s = std::make_unique<HttpSubmission>(std::move(responder), false);
      Operation& op = s->ops.emplace_back();
      op.kind = kind;
      op.reservation_id.assign(id.data(), id.size());
      writer->Submit(std::move(s));
    };
  };
  router.Get("/v1/reservations/{id}", by_id(OpKind::kGetReservation));
  router.Post("/v1/reservations/{id}/confirm", by_id(OpKind::kConfirm));
  router.Post("/v1/reservations/{id}/cancel", by_id(OpKind::kCancel));

  router.Post("/v1/batch", [writer](Request& req, Responder responder) {
    auto s = std::make_unique<HttpSubmission>(std::move(responder), true);
    if (auto e = ParseBatch(req.body, PaddedSize(req), &s->ops, &s->result_mode)) {
      s->responder().Send(RenderFieldError(*e));
      return;
    }
    writer->Submit(std::move(s));
  });
}

}  // namespace inventory
