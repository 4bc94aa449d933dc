#include "inventory/api/request_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "inventory/engine/limits.h"
#include "simdjson.h"

namespace inventory {
namespace {

namespace od = simdjson::ondemand;

// Bits for duplicate detection.
enum FieldBit : uint32_t {
  kFOp = 1,
  kFSku = 2,
  kFDelta = 4,
  kFOpId = 8,
  kFReservationId = 16,
  kFItems = 32,
  kFTtl = 64,
  kFUserId = 128,
  kFQty = 256,
};

// The JSON path of a value ("ops[3].items[0].qty"), built on the stack as the parser descends and
// rendered only when an error names it: rendering every path eagerly cost a third of the
// instructions of a batch parse (callgrind).
struct Path {
  const Path* parent = nullptr;
  std::string_view key;  // member name; empty for an array element or the root
  int64_t index = -1;    // array element index when >= 0

  std::string Render() const {
    std::string out = parent ? parent->Render() : std::string();
    if (index >= 0) {
      fmt::format_to(std::back_inserter(out), "[{}]", index);
    } else if (!key.empty()) {
      if (!out.empty()) out += '.';
      out.append(key.data(), key.size());
    }
    return out;
  }
};

std::string Join(const Path& prefix, std::string_view field) {
  return Path{&prefix, field}.Render();
}

FieldError TypeError(const Path& prefix, std::string_view field, std::string_view want) {
  return FieldError{Join(prefix, field), fmt::format("expected {}", want)};
}

std::optional<FieldError> GetString(od::value& v, const Path& prefix, std::string_view field,
                                    std::string* out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return TypeError(prefix, field, "a string");
  out->assign(s.data(), s.size());
  return std::nullopt;
}

std::optional<FieldError> GetInt(od::value& v, const Path& prefix, std::string_view field,
                                 int64_t* out) {
  const auto err = v.get_int64().get(*out);
  if (err == simdjson::NUMBER_OUT_OF_RANGE) {
    return FieldError{Join(prefix, field), "integer out of range"};
  }
  if (err != simdjson::SUCCESS) return TypeError(prefix, field, "an integer");
  return std::nullopt;
}

std::optional<FieldError> Mark(uint32_t* seen, uint32_t bit, const Path& prefix,
                               std::string_view key) {
  if (*seen & bit) return FieldError{Join(prefix, key), "duplicate field"};
  *seen |= bit;
  return std::nullopt;
}

std::optional<FieldError> ParseItems(od::value& v, const Path& prefix, Items* items) {
  od::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) return TypeError(prefix, "items", "an array");
  const Path items_path{&prefix, "items"};
  size_t i = 0;
  for (auto element : arr) {
    const Path item_path{&items_path, {}, static_cast<int64_t>(i)};
    if (i >= kReservationItemsMax) {
      return FieldError{items_path.Render(),
                        fmt::format("more than {} items", kReservationItemsMax)};
    }
    od::object obj;
    if (element.get_object().get(obj) != simdjson::SUCCESS) {
      return FieldError{item_path.Render(), "expected an object {\"sku\": string, \"qty\": int}"};
    }
    Item& item = items->emplace_back();
    uint32_t seen = 0;
    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
        return FieldError{item_path.Render(), "malformed JSON"};
      }
      od::value value;
      if (field.value().get(value) != simdjson::SUCCESS)
        return FieldError{item_path.Render(), "malformed JSON"};
      if (key == "sku") {
        if (auto e = Mark(&seen, kFSku, item_path, key)) return e;
        if (auto e = GetString(value, item_path, key, &item.sku)) return e;
      } else if (key == "qty") {
        if (auto e = Mark(&seen, kFQty, item_path, key)) return e;
        if (auto e = GetInt(value, item_path, key, &item.qty)) return e;
      } else {
        return FieldError{Join(item_path, key), "unknown field"};
      }
    }
    if (!(seen & kFSku)) return FieldError{Join(item_path, "sku"), "required field is missing"};
    if (!(seen & kFQty)) return FieldError{Join(item_path, "qty"), "required field is missing"};
    ++i;
  }
  return std::nullopt;
}

std::optional<OpKind> ParseKind(std::string_view name) {
  for (OpKind k : {OpKind::kAdjust, OpKind::kReserve, OpKind::kConfirm, OpKind::kCancel,
                   OpKind::kGetSku, OpKind::kGetReservation}) {
    if (OpKindName(k) == name) return k;
  }
  return std::nullopt;
}

// Fields an operation kind accepts.
uint32_t AllowedFields(OpKind kind) {
  switch (kind) {
    case OpKind::kAdjust:
      return kFSku | kFDelta | kFOpId;
    case OpKind::kReserve:
      return kFReservationId | kFItems | kFTtl | kFUserId;
    case OpKind::kConfirm:
    case OpKind::kCancel:
    case OpKind::kGetReservation:
      return kFReservationId;
    case OpKind::kGetSku:
      return kFSku;
  }
  return 0;
}

uint32_t RequiredFields(OpKind kind) {
  return AllowedFields(kind) & ~static_cast<uint32_t>(kFUserId);
}

// Parses the fields of one operation object. The kind is known beforehand (REST: op->kind) or read
// from "op" (batch: `kind_from_body`), which may appear anywhere in the object. `preset`: fields
// already filled from the URL path (they count as present).
std::optional<FieldError> ParseOpObject(od::object& obj, const Path& prefix, bool kind_from_body,
                                        uint32_t preset, Operation* op) {
  uint32_t seen = 0;
  // Fields are collected in any order; the kind check happens after the loop.
  std::string kind_name;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
      std::string path = prefix.Render();
      return FieldError{path.empty() ? "body" : std::move(path), "malformed JSON"};
    }
    od::value value;
    if (field.value().get(value) != simdjson::SUCCESS) {
      return FieldError{Join(prefix, key), "malformed JSON"};
    }
    std::optional<FieldError> e;
    if (key == "op" && kind_from_body) {
      if ((e = Mark(&seen, kFOp, prefix, key))) return e;
      e = GetString(value, prefix, key, &kind_name);
    } else if (key == "sku") {
      if ((e = Mark(&seen, kFSku, prefix, key))) return e;
      e = GetString(value, prefix, key, &op->sku);
    } else if (key == "delta") {
      if ((e = Mark(&seen, kFDelta, prefix, key))) return e;
      e = GetInt(value, prefix, key, &op->delta);
    } else if (key == "op_id") {
      if ((e = Mark(&seen, kFOpId, prefix, key))) return e;
      e = GetString(value, prefix, key, &op->op_id);
    } else if (key == "reservation_id") {
      if ((e = Mark(&seen, kFReservationId, prefix, key))) return e;
      e = GetString(value, prefix, key, &op->reservation_id);
    } else if (key == "items") {
      if ((e = Mark(&seen, kFItems, prefix, key))) return e;
      e = ParseItems(value, prefix, &op->items);
    } else if (key == "ttl_ms") {
      if ((e = Mark(&seen, kFTtl, prefix, key))) return e;
      e = GetInt(value, prefix, key, &op->ttl_ms);
    } else if (key == "user_id") {
      if ((e = Mark(&seen, kFUserId, prefix, key))) return e;
      e = GetString(value, prefix, key, &op->user_id);
    } else {
      return FieldError{Join(prefix, key), "unknown field"};
    }
    if (e) return e;
  }
  if (kind_from_body) {
    if (!(seen & kFOp)) return FieldError{Join(prefix, "op"), "required field is missing"};
    auto kind = ParseKind(kind_name);
    if (!kind) {
      return FieldError{Join(prefix, "op"),
                        "expected one of reserve, adjust, confirm, cancel, get_sku, "
                        "get_reservation"};
    }
    op->kind = *kind;
    seen &= ~static_cast<uint32_t>(kFOp);
  }
  const uint32_t allowed = AllowedFields(op->kind);
  const uint32_t extra = seen & ~allowed;
  if (extra) {
    static constexpr std::pair<uint32_t, std::string_view> kNames[] = {
        {kFSku, "sku"},       {kFDelta, "delta"},
        {kFOpId, "op_id"},    {kFReservationId, "reservation_id"},
        {kFItems, "items"},   {kFTtl, "ttl_ms"},
        {kFUserId, "user_id"}};
    for (const auto& [bit, name] : kNames) {
      if (extra & bit) {
        return FieldError{Join(prefix, name),
                          fmt::format("not a field of operation {}", OpKindName(op->kind))};
      }
    }
  }
  const uint32_t missing = RequiredFields(op->kind) & ~seen & ~preset;
  if (missing) {
    static constexpr std::pair<uint32_t, std::string_view> kNames[] = {
        {kFReservationId, "reservation_id"},
        {kFItems, "items"},
        {kFTtl, "ttl_ms"},
        {kFSku, "sku"},
        {kFDelta, "delta"},
        {kFOpId, "op_id"}};
    for (const auto& [bit, name] : kNames) {
      if (missing & bit) return FieldError{Join(prefix, name), "required field is missing"};
    }
  }
  if (auto e = ValidateOperation(*op)) {
    e->field = Join(prefix, e->field);
    return e;
  }
  return std::nullopt;
}

struct Doc {
  od::document doc;
  od::object root;
};

std::optional<FieldError> OpenObject(std::string_view body, size_t padded_size, Doc* d) {
  thread_local od::parser parser;
  if (body.empty()) return FieldError{"body", "empty body: expected a JSON object"};
  simdjson::padded_string_view view(body.data(), body.size(), padded_size);
  if (parser.iterate(view).get(d->doc) != simdjson::SUCCESS) {
    return FieldError{"body", "malformed JSON"};
  }
  if (d->doc.get_object().get(d->root) != simdjson::SUCCESS) {
    return FieldError{"body", "expected a JSON object"};
  }
  return std::nullopt;
}

// After the root object was consumed: refuse trailing content and late syntax errors.
std::optional<FieldError> CheckEnd(Doc* d) {
  const char* loc = nullptr;
  if (d->doc.current_location().get(loc) == simdjson::SUCCESS) {
    return FieldError{"body", "trailing content after the JSON object"};
  }
  return std::nullopt;
}

}  // namespace

std::optional<FieldError> ParseAdjust(std::string_view body, size_t padded_size,
                                      std::string_view sku, Operation* op) {
  Doc d;
  if (auto e = OpenObject(body, padded_size, &d)) return e;
  op->kind = OpKind::kAdjust;
  op->sku.assign(sku.data(), sku.size());
  const std::string path_sku = op->sku;
  if (auto e = ParseOpObject(d.root, Path{}, /*kind_from_body=*/false, kFSku, op)) return e;
  if (op->sku != path_sku) return FieldError{"sku", "differs from the SKU in the path"};
  return CheckEnd(&d);
}

std::optional<FieldError> ParseReserve(std::string_view body, size_t padded_size, Operation* op) {
  Doc d;
  if (auto e = OpenObject(body, padded_size, &d)) return e;
  op->kind = OpKind::kReserve;
  if (auto e = ParseOpObject(d.root, Path{}, /*kind_from_body=*/false, 0, op)) return e;
  return CheckEnd(&d);
}

std::optional<FieldError> ParseBatch(std::string_view body, size_t padded_size,
                                     absl::InlinedVector<Operation, 1>* ops,
                                     ResultMode* result_mode) {
  Doc d;
  if (auto e = OpenObject(body, padded_size, &d)) return e;
  *result_mode = ResultMode::kAll;
  bool have_ops = false;
  bool have_results = false;
  for (auto field : d.root) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS)
      return FieldError{"body", "malformed JSON"};
    if (key == "results") {
      if (have_results) return FieldError{"results", "duplicate field"};
      have_results = true;
      std::string_view mode;
      if (field.value().get_string().get(mode) != simdjson::SUCCESS ||
          (mode != "all" && mode != "failures")) {
        return FieldError{"results", R"(expected "all" or "failures")"};
      }
      *result_mode = mode == "failures" ? ResultMode::kFailures : ResultMode::kAll;
      continue;
    }
    if (key != "ops") return FieldError{std::string(key), "unknown field"};
    if (have_ops) return FieldError{"ops", "duplicate field"};
    have_ops = true;
    od::array arr;
    if (field.value().get_array().get(arr) != simdjson::SUCCESS) {
      return FieldError{"ops", "expected an array"};
    }
    // One allocation for the ops instead of log2(n) regrowths that move every Operation.
    size_t count = 0;
    if (arr.count_elements().get(count) == simdjson::SUCCESS) {
      ops->reserve(std::min(count, kBatchOpsMax));
    }
    const Path ops_path{nullptr, "ops"};
    size_t i = 0;
    for (auto element : arr) {
      if (i >= kBatchOpsMax)
        return FieldError{"ops", fmt::format("more than {} ops", kBatchOpsMax)};
      const Path prefix{&ops_path, {}, static_cast<int64_t>(i)};
      od::object obj;
      if (element.get_object().get(obj) != simdjson::SUCCESS) {
        return FieldError{prefix.Render(), "expected an object"};
      }
      Operation& op = ops->emplace_back();
      if (auto e = ParseOpObject(obj, prefix, /*kind_from_body=*/true, 0, &op)) return e;
      ++i;
    }
  }
  if (!have_ops) return FieldError{"ops", "required field is missing"};
  if (ops->empty()) return FieldError{"ops", "must hold at least one op"};
  if (auto e = CheckEnd(&d)) return e;
  if (*result_mode == ResultMode::kFailures) {
    for (size_t i = 0; i < ops->size(); ++i) {
      const OpKind kind = (*ops)[i].kind;
      if (kind == OpKind::kGetSku || kind == OpKind::kGetReservation) {
        return FieldError{
            fmt::format("ops[{}].op", i),
            fmt::format(R"({} returns its result only with "results": "all")", OpKindName(kind))};
      }
    }
  }
  return std::nullopt;
}

}  // namespace inventory
