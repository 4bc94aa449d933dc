#include "inventory/api/response_renderer.h"

#include <charconv>

#include "core/http/json.h"
#include "core/log/check.h"

namespace inventory {
namespace {

using core::http::AppendJsonString;

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, end);
}

void AppendSku(const SkuView& s, std::string* out) {
  out->append("{\"sku\":");
  AppendJsonString(out, s.sku);
  out->append(",\"available\":");
  AppendInt(out, s.available);
  out->append(",\"reserved\":");
  AppendInt(out, s.reserved);
  out->append(",\"sold\":");
  AppendInt(out, s.sold);
  out->append(",\"version\":");
  AppendInt(out, static_cast<int64_t>(s.version));
  out->push_back('}');
}

void AppendReservation(const ReservationView& r, std::string* out) {
  out->append("{\"reservation_id\":");
  AppendJsonString(out, r.reservation_id);
  out->append(",\"state\":\"");
  out->append(ReservationStateName(r.state));
  out->append("\",\"expires_at_ms\":");
  AppendInt(out, r.expires_at_ms);
  out->append(",\"items\":[");
  for (size_t i = 0; i < r.items.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->append("{\"sku\":");
    AppendJsonString(out, r.items[i].sku);
    out->append(",\"qty\":");
    AppendInt(out, r.items[i].qty);
    out->push_back('}');
  }
  out->push_back(']');
  if (!r.user_id.empty()) {
    out->append(",\"user_id\":");
    AppendJsonString(out, r.user_id);
  }
  out->push_back('}');
}

void AppendError(std::string_view code, std::string_view message, std::string* out) {
  out->append("{\"error\":\"");
  out->append(code);
  out->append("\",\"message\":");
  AppendJsonString(out, message);
}

std::string_view DefaultMessage(Outcome o) {
  switch (o) {
    case Outcome::kSkuNotFound:
      return "no such SKU";
    case Outcome::kReservationNotFound:
      return "no such reservation";
    case Outcome::kInsufficientStock:
      return "not enough available stock";
    case Outcome::kReservationConflict:
      return "reservation_id was already used with a different request";
    case Outcome::kReservationExpired:
      return "the reservation expired";
    case Outcome::kReservationCancelled:
      return "the reservation was cancelled";
    case Outcome::kReservationConfirmed:
      return "the reservation is confirmed";
    case Outcome::kOpConflict:
      return "op_id was already used with a different request";
    case Outcome::kStockLimit:
      return "stock limit reached";
    case Outcome::kTableFull:
      return "table full";
    case Outcome::kUnavailable:
      return "the journal cannot be written; retry later";
    case Outcome::kOverloaded:
      return "the writer queue is full; retry later";
    default:
      return "";
  }
}

std::string_view ErrorCode(Outcome o) {
  switch (o) {
    case Outcome::kSkuNotFound:
      return "sku_not_found";
    case Outcome::kReservationNotFound:
      return "reservation_not_found";
    case Outcome::kInsufficientStock:
      return "insufficient_stock";
    case Outcome::kReservationConflict:
      return "reservation_conflict";
    case Outcome::kReservationExpired:
      return "reservation_expired";
    case Outcome::kReservationCancelled:
      return "reservation_cancelled";
    case Outcome::kReservationConfirmed:
      return "reservation_confirmed";
    case Outcome::kOpConflict:
      return "op_conflict";
    case Outcome::kStockLimit:
      return "stock_limit";
    case Outcome::kTableFull:
    case Outcome::kOverloaded:
      return "resource_exhausted";
    case Outcome::kUnavailable:
      return "unavailable";
    default:
      return "internal";
  }
}

}  // namespace

int HttpStatusOf(const OpResult& r) {
  switch (r.outcome) {
    case Outcome::kOk:
    case Outcome::kReplayed:
      return 200;
    case Outcome::kCreated:
      return 201;
    case Outcome::kSkuNotFound:
    case Outcome::kReservationNotFound:
      return 404;
    case Outcome::kInsufficientStock:
    case Outcome::kReservationConflict:
    case Outcome::kReservationExpired:
    case Outcome::kReservationCancelled:
    case Outcome::kReservationConfirmed:
    case Outcome::kOpConflict:
    case Outcome::kStockLimit:
      return 409;
    case Outcome::kTableFull:
    case Outcome::kOverloaded:
      return 429;
    case Outcome::kUnavailable:
      return 503;
  }
  return 500;
}

void AppendResultJson(const OpResult& r, std::string* out) {
  switch (r.outcome) {
    case Outcome::kOk:
    case Outcome::kCreated:
    case Outcome::kReplayed:
      if (r.kind == OpKind::kAdjust || r.kind == OpKind::kGetSku) {
        AppendSku(r.sku, out);
      } else {
        AppendReservation(r.reservation, out);
      }
      return;
    default:
      break;
  }
  AppendError(ErrorCode(r.outcome), r.message.empty() ? DefaultMessage(r.outcome) : r.message, out);
  switch (r.outcome) {
    case Outcome::kSkuNotFound:
      out->append(",\"sku\":");
      AppendJsonString(out, r.sku.sku);
      break;
    case Outcome::kInsufficientStock:
    case Outcome::kStockLimit:
      out->append(",\"sku\":");
      AppendJsonString(out, r.sku.sku);
      out->append(",\"available\":");
      AppendInt(out, r.sku.available);
      break;
    case Outcome::kReservationExpired:
    case Outcome::kReservationCancelled:
    case Outcome::kReservationConfirmed:
      out->append(",\"reservation_id\":");
      AppendJsonString(out, r.reservation.reservation_id);
      out->append(",\"state\":\"");
      out->append(ReservationStateName(r.reservation.state));
      out->push_back('"');
      break;
    default:
      break;
  }
  out->push_back('}');
}

core::http::Response RenderResult(const OpResult& r) {
  core::http::Response resp;
  resp.status = HttpStatusOf(r);
  resp.body.reserve(160);
  AppendResultJson(r, &resp.body);
  return resp;
}

namespace {

// A batch shares one fate for these: the whole round failed or was refused.
bool WholeBatchFailed(absl::Span<const OpResult> results) {
  return !results.empty() && (results[0].outcome == Outcome::kUnavailable ||
                              results[0].outcome == Outcome::kOverloaded);
}

}  // namespace

core::http::Response RenderBatch(absl::Span<const OpResult> results) {
  if (WholeBatchFailed(results)) return RenderResult(results[0]);
  core::http::Response resp;
  resp.status = 200;
  resp.body.reserve(32 + results.size() * 140);
  resp.body.append("{\"results\":[");
  for (size_t i = 0; i < results.size(); ++i) {
    if (i > 0) resp.body.push_back(',');
    resp.body.append("{\"status\":");
    AppendInt(&resp.body, HttpStatusOf(results[i]));
    resp.body.append(",\"body\":");
    AppendResultJson(results[i], &resp.body);
    resp.body.push_back('}');
  }
  resp.body.append("]}");
  return resp;
}

core::http::Response RenderBatchFailures(absl::Span<const OpResult> failures,
                                         absl::Span<const uint32_t> index) {
  CORE_CHECK(failures.size() == index.size());
  if (WholeBatchFailed(failures)) return RenderResult(failures[0]);
  core::http::Response resp;
  resp.status = 200;
  resp.body.reserve(16 + failures.size() * 160);
  resp.body.append("{\"failures\":[");
  for (size_t i = 0; i < failures.size(); ++i) {
    if (i > 0) resp.body.push_back(',');
    resp.body.append("{\"index\":");
    AppendInt(&resp.body, index[i]);
    resp.body.append(",\"status\":");
    AppendInt(&resp.body, HttpStatusOf(failures[i]));
    resp.body.append(",\"body\":");
    AppendResultJson(failures[i], &resp.body);
    resp.body.push_back('}');
  }
  resp.body.append("]}");
  return resp;
}

core::http::Response RenderFieldError(const FieldError& error) {
  return core::http::JsonError(400, "invalid_argument", error.message, error.field);
}

}  // namespace inventory
