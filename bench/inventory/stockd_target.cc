// stockd speaks the JSON contract of issue 3. The batch op encoding lives in AppendBatchReserveOp
// and the per-op result parsing in ClassifyBatchResponse (ClassifyCompactBatchResponse for the
// "results":"failures" reply) so they are easy to adapt.
#include <fmt/format.h>

#include <charconv>
#include <string_view>

#include "bench/inventory/targets.h"
#include "bench/loadgen/grpc_load.h"
#include "bench/loadgen/http_load.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "inventory/v1/inventory.pb.h"

namespace inventory_bench {
namespace {

// Appends {"reservation_id":..,"items":[{"sku":..,"qty":..}],"ttl_ms":..[,"user_id":..]} fields
// (without braces) for reservation `op`.
void AppendReservationFields(std::string* out, const Workload& w, uint64_t op) {
  fmt::format_to(std::back_inserter(*out),
                 R"("reservation_id":"{}-{}","items":[{{"sku":"{}","qty":{}}}],"ttl_ms":{})",
                 w.run_tag, op, w.Sku(w.SkuIndex(op)), w.qty, w.ttl_ms);
}

void AppendBatchReserveOp(std::string* out, const Workload& w, uint64_t op) {
  out->append(R"({"op":"reserve",)");
  AppendReservationFields(out, w, op);
  out->append("}");
}

// Finds the integer value of "key": in `json` starting at `from`; false when absent.
bool FindInt(std::string_view json, std::string_view key, int64_t* value, size_t from = 0) {
  const std::string needle = fmt::format("\"{}\":", key);
  size_t p = json.find(needle, from);
  if (p == std::string_view::npos) return false;
  p += needle.size();
  while (p < json.size() && json[p] == ' ') ++p;
  return std::from_chars(json.data() + p, json.data() + json.size(), *value).ec == std::errc();
}

// Counts one batch op by its HTTP-like status: 201 created a reservation (recorded in the
// ledger), 409 was refused for stock, anything else is an error.
void CountOp(const Workload& w, AckLedger* ledger, uint64_t op, int64_t status,
             loadgen::Counts* c) {
  if (status == 201) {
    ++c->ok;
    ledger->Add(w.SkuIndex(op), w.qty);
  } else if (status == 409) {
    ++c->rejected;
  } else {
    ++c->errors;
  }
}

// Per-op outcome of a /v1/batch response: counts the ops that created a reservation (HTTP-like
// status 201 per result) and those refused for stock. Adapt here if the result encoding changes.
loadgen::Counts ClassifyBatchResponse(const Workload& w, AckLedger* ledger, uint64_t seq,
                                      int status, std::string_view body) {
  loadgen::Counts c;
  if (status != 200) {
    c.errors = w.batch;
    return c;
  }
  // Results are in op order; each carries its own "status".
  size_t pos = body.find("\"results\"");
  if (pos == std::string_view::npos) {
    c.errors = w.batch;
    return c;
  }
  for (int j = 0; j < w.batch; ++j) {
    const size_t at = body.find("\"status\":", pos);
    int64_t op_status = 0;
    if (at == std::string_view::npos || !FindInt(body, "status", &op_status, at)) {
      c.errors += w.batch - j;
      break;
    }
    pos = at + 9;
    CountOp(w, ledger, seq * w.batch + j, op_status, &c);
  }
  return c;
}

// Per-op outcome of a /v1/batch "results":"failures" response ({"failures":[{"index":i,
// "status":s,"body":{...}},...]}): every op not listed succeeded, i.e. created its reservation
// (reservation ids are unique per run, so no success is a replay), a listed 409 was refused for
// stock, anything else listed is an error.
loadgen::Counts ClassifyCompactBatchResponse(const Workload& w, AckLedger* ledger, uint64_t seq,
                                             int status, std::string_view body) {
  loadgen::Counts c;
  size_t pos = body.find("\"failures\":[");
  if (status != 200 || pos == std::string_view::npos) {
    c.errors = w.batch;
    return c;
  }
  int next = 0;  // first op not classified yet
  while (true) {
    const size_t at = body.find("{\"index\":", pos);
    if (at == std::string_view::npos) break;
    int64_t index = -1, op_status = 0;
    if (!FindInt(body, "index", &index, at) || !FindInt(body, "status", &op_status, at) ||
        index < next || index >= w.batch) {
      c.errors += w.batch - next;
      return c;
    }
    for (; next < index; ++next) CountOp(w, ledger, seq * w.batch + next, 201, &c);
    CountOp(w, ledger, seq * w.batch + next, op_status == 201 ? 500 : op_status, &c);
    ++next;
    pos = at + 9;
  }
  for (; next < w.batch; ++next) CountOp(w, ledger, seq * w.batch + next, 201, &c);
  return c;
}

loadgen::LoadOptions FixedCount(const loadgen::LoadOptions& base, uint64_t n) {
  loadgen::LoadOptions o = base;
  o.requests_total = n;
  o.connections = static_cast<int>(std::min<uint64_t>(base.connections, n));
  return o;
}

absl::Status Seed(const TargetOptions& options, const Workload& w) {
  loadgen::HttpLoadOptions o{options.host, options.port, FixedCount(options.load, w.sku_count)};
  std::string body;
  auto result = loadgen::RunHttpLoad(
      o,
      [&](uint64_t seq, std::string* out) {
        const std::string path = fmt::format("/v1/skus/{}/adjust", w.Sku(seq));
        const std::string json =
            fmt::format(R"({{"delta":{},"op_id":"seed-{}-{}"}})", w.stock_per_sku, w.run_tag, seq);
        loadgen::AppendHttpRequest(out, "POST", options.host, path, json);
      },
      [&](uint64_t, int status, std::string_view body) {
        // The SKU view after the adjust must hold exactly the seeded stock: a SKU that existed
        // before would make the after-run check meaningless.
        int64_t available = -1;
        if (status == 200 && FindInt(body, "available", &available) &&
            available == w.stock_per_sku) {
          return loadgen::Counts{.ok = 1};
        }
        if (status == 200) return loadgen::Counts{.rejected = 1};
        return loadgen::Counts{.errors = 1};
      });
  if (!result.ok()) return result.status();
  if (result->ops.rejected > 0) {
    return absl::FailedPreconditionError(
        "stockd already had stock for the workload's SKUs: start it with an empty --data-dir");
  }
  if (result->ops.ok != w.sku_count) {
    return absl::InternalError(fmt::format("seeding stockd: {} of {} adjusts failed",
                                           w.sku_count - result->ops.ok, w.sku_count));
  }
  return absl::OkStatus();
}

absl::Status Verify(const TargetOptions& options, const Workload& w, const AckLedger& ledger,
                    Verification* v) {
  std::vector<SkuState> states(w.sku_count);
  std::vector<char> seen(w.sku_count, 0);
  loadgen::HttpLoadOptions o{options.host, options.port, FixedCount(options.load, w.sku_count)};
  auto result = loadgen::RunHttpLoad(
      o,
      [&](uint64_t seq, std::string* out) {
        loadgen::AppendHttpRequest(out, "GET", options.host,
                                   fmt::format("/v1/skus/{}", w.Sku(seq)));
      },
      [&](uint64_t seq, int status, std::string_view body) {
        SkuState s;
        if (status != 200 || !FindInt(body, "available", &s.available) ||
            !FindInt(body, "reserved", &s.reserved)) {
          return loadgen::Counts{.errors = 1};
        }
        states[seq] = s;
        seen[seq] = 1;
        return loadgen::Counts{.ok = 1};
      });
  if (!result.ok()) return result.status();
  for (uint64_t i = 0; i < w.sku_count; ++i) {
    if (!seen[i]) return absl::InternalError(fmt::format("could not read back {}", w.Sku(i)));
    v->Check(w.stock_per_sku, states[i], ledger.Get(i));
  }
  return absl::OkStatus();
}

// gRPC Batch: `w.batch` reserve ops per call. The request is built in a reused message (the
// strings keep their capacity) and serialized straight into the call's ByteBuffer. `compact`:
// BATCH_RESULTS_FAILURES (the reply lists only failed ops, with their index).
absl::StatusOr<loadgen::LoadResult> RunGrpcBatch(const TargetOptions& options, const Workload& w,
                                                 bool compact, AckLedger* ledger) {
  loadgen::GrpcLoadOptions o;
  o.target = fmt::format("{}:{}", options.host, options.grpc_port);
  o.method = "/inventory.v1.Inventory/Batch";
  o.load = options.load;
  return loadgen::RunGrpcLoad(
      o,
      [&](uint64_t seq, grpc::ByteBuffer* out) {
        thread_local inventory::v1::BatchRequest req;
        if (req.ops_size() != w.batch) {
          req.Clear();
          if (compact) req.set_results(inventory::v1::BATCH_RESULTS_FAILURES);
          for (int j = 0; j < w.batch; ++j) {
            auto* r = req.add_ops()->mutable_reserve();
            r->add_items()->set_qty(w.qty);
            r->set_ttl_ms(w.ttl_ms);
          }
        }
        for (int j = 0; j < w.batch; ++j) {
          const uint64_t op = seq * w.batch + j;
          auto* r = req.mutable_ops(j)->mutable_reserve();
          std::string* id = r->mutable_reservation_id();
          id->clear();
          fmt::format_to(std::back_inserter(*id), "{}-{}", w.run_tag, op);
          r->mutable_items(0)->set_sku(w.Sku(w.SkuIndex(op)));
        }
        bool own = false;
        out->Clear();  // the serializer writes into an empty buffer only
        (void)grpc::SerializationTraits<inventory::v1::BatchRequest>::Serialize(req, out, &own);
      },
      [&](uint64_t seq, const grpc::Status& status, const grpc::ByteBuffer& response) {
        loadgen::Counts c;
        if (!status.ok()) {
          c.errors = w.batch;
          return c;
        }
        thread_local inventory::v1::BatchResponse resp;
        grpc::ByteBuffer copy = response;  // refcounted slices, no bytes copied
        if (!grpc::SerializationTraits<inventory::v1::BatchResponse>::Deserialize(&copy, &resp)
                 .ok() ||
            (compact ? resp.results_size() > w.batch : resp.results_size() != w.batch)) {
          c.errors = w.batch;
          return c;
        }
        if (!compact) {
          for (int j = 0; j < w.batch; ++j) {
            CountOp(w, ledger, seq * w.batch + j, resp.results(j).http_status(), &c);
          }
          return c;
        }
        int next = 0;  // ops not listed succeeded
        for (const auto& failure : resp.results()) {
          const int index = static_cast<int>(failure.index());
          if (index < next || index >= w.batch) {
            c.errors += w.batch - next;
            return c;
          }
          for (; next < index; ++next) CountOp(w, ledger, seq * w.batch + next, 201, &c);
          const int status = failure.http_status();
          CountOp(w, ledger, seq * w.batch + next, status == 201 ? 500 : status, &c);
          ++next;
        }
        for (; next < w.batch; ++next) CountOp(w, ledger, seq * w.batch + next, 201, &c);
        return c;
      });
}

}  // namespace

absl::StatusOr<TargetResult> RunStockdGrpcBatch(const TargetOptions& options, const Workload& w,
                                                bool compact) {
  if (options.grpc_port == 0) return absl::InvalidArgumentError("--grpc-port is required");
  if (auto s = Seed(options, w); !s.ok()) return s;
  AckLedger ledger(w.sku_count);
  auto load = RunGrpcBatch(options, w, compact, &ledger);
  if (!load.ok()) return load.status();
  TargetResult result{*std::move(load), {}};
  if (auto s = Verify(options, w, ledger, &result.verify); !s.ok()) return s;
  return result;
}

absl::StatusOr<TargetResult> RunStockd(const TargetOptions& options, const Workload& w,
                                       StockdRequest request) {
  const bool batch = request != StockdRequest::kSingle;
  const bool compact = request == StockdRequest::kBatchCompact;
  if (auto s = Seed(options, w); !s.ok()) return s;
  AckLedger ledger(w.sku_count);
  Workload run = w;
  if (!batch) run.batch = 1;
  loadgen::HttpLoadOptions o{options.host, options.port, options.load};
  loadgen::LoadResult load;
  if (!batch) {
    auto r = loadgen::RunHttpLoad(
        o,
        [&](uint64_t seq, std::string* out) {
          thread_local std::string body;  // reused: no allocation once grown
          body.clear();
          body.push_back('{');
          AppendReservationFields(&body, run, seq);
          fmt::format_to(std::back_inserter(body), R"(,"user_id":"u{}"}})", seq % 1000);
          loadgen::AppendHttpRequest(out, "POST", options.host, "/v1/reservations", body);
        },
        [&](uint64_t seq, int status, std::string_view body) {
          if (status == 201) {
            ledger.Add(run.SkuIndex(seq), run.qty);
            return loadgen::Counts{.ok = 1};
          }
          if (status == 409 && body.find("insufficient_stock") != std::string_view::npos) {
            return loadgen::Counts{.rejected = 1};
          }
          return loadgen::Counts{.errors = 1};
        });
    if (!r.ok()) return r.status();
    load = std::move(*r);
  } else {
    auto r = loadgen::RunHttpLoad(
        o,
        [&](uint64_t seq, std::string* out) {
          thread_local std::string body;
          body.clear();
          body.append(compact ? R"({"results":"failures","ops":[)" : R"({"ops":[)");
          for (int j = 0; j < run.batch; ++j) {
            if (j > 0) body.push_back(',');
            AppendBatchReserveOp(&body, run, seq * run.batch + j);
          }
          body.append("]}");
          loadgen::AppendHttpRequest(out, "POST", options.host, "/v1/batch", body);
        },
        [&](uint64_t seq, int status, std::string_view body) {
          return compact ? ClassifyCompactBatchResponse(run, &ledger, seq, status, body)
                         : ClassifyBatchResponse(run, &ledger, seq, status, body);
        });
    if (!r.ok()) return r.status();
    load = std::move(*r);
  }
  TargetResult result{std::move(load), {}};
  if (auto s = Verify(options, w, ledger, &result.verify); !s.ok()) return s;
  return result;
}

}  // namespace inventory_bench
