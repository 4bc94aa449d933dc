// Redis + Lua peer. Set-up and read-back use hiredis' synchronous API (not measured); the measured
// loop uses loadgen's RESP session (asio + hiredis reader), 1 or Workload::batch EVALSHA per
// request.
#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <array>
#include <fstream>
#include <memory>
#include <sstream>
#include <string_view>

#include "bench/inventory/targets.h"
#include "bench/loadgen/resp_session.h"

namespace inventory_bench {
namespace {

// How long a reservation id stays recognisable (replay / conflict) after its TTL.
constexpr std::string_view kTombstoneRetentionMs = "3600000";
constexpr uint64_t kSetupChunkSkus = 1000;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

absl::StatusOr<Context> Connect(const TargetOptions& o) {
  Context c(redisConnect(o.host.c_str(), o.port));
  if (c == nullptr || c->err) {
    return absl::UnavailableError(
        fmt::format("redis connect {}:{}: {}", o.host, o.port, c ? c->errstr : "alloc"));
  }
  return c;
}

absl::StatusOr<Reply> Command(redisContext* c, std::initializer_list<std::string_view> args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  Reply r(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (r == nullptr) return absl::UnavailableError(fmt::format("redis: {}", c->errstr));
  if (r->type == REDIS_REPLY_ERROR) {
    return absl::InternalError(fmt::format("redis: {}", std::string_view(r->str, r->len)));
  }
  return r;
}

// Reads all pending replies of pipelined commands; fails on the first error reply.
absl::Status Drain(redisContext* c, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK) return absl::UnavailableError(c->errstr);
    Reply r(static_cast<redisReply*>(raw));
    if (r->type == REDIS_REPLY_ERROR) return absl::InternalError(std::string(r->str, r->len));
  }
  return absl::OkStatus();
}

std::string AvailKey(const std::string& sku) { return fmt::format("{{{}}}:avail", sku); }
std::string ReservedKey(const std::string& sku) { return fmt::format("{{{}}}:reserved", sku); }

absl::StatusOr<std::string> Setup(redisContext* c, const TargetOptions& o, const Workload& w) {
  std::ifstream in(o.lua_path);
  if (!in) return absl::NotFoundError(fmt::format("cannot read Lua script {}", o.lua_path));
  std::stringstream script;
  script << in.rdbuf();
  if (auto r = Command(c, {"FLUSHALL"}); !r.ok()) return r.status();
  auto sha = Command(c, {"SCRIPT", "LOAD", script.str()});
  if (!sha.ok()) return sha.status();
  const std::string stock = std::to_string(w.stock_per_sku);
  for (uint64_t begin = 0; begin < w.sku_count; begin += kSetupChunkSkus) {
    const uint64_t end = std::min(w.sku_count, begin + kSetupChunkSkus);
    for (uint64_t i = begin; i < end; ++i) {
      const std::string sku = w.Sku(i);
      redisAppendCommand(c, "SET %s %s", AvailKey(sku).c_str(), stock.c_str());
      redisAppendCommand(c, "SET %s 0", ReservedKey(sku).c_str());
    }
    if (auto s = Drain(c, 2 * (end - begin)); !s.ok()) return s;
  }
  return std::string((*sha)->str, (*sha)->len);
}

absl::Status Verify(redisContext* c, const Workload& w, const AckLedger& ledger, Verification* v) {
  for (uint64_t begin = 0; begin < w.sku_count; begin += kSetupChunkSkus) {
    const uint64_t end = std::min(w.sku_count, begin + kSetupChunkSkus);
    std::vector<std::string> keys;
    for (uint64_t i = begin; i < end; ++i) {
      keys.push_back(AvailKey(w.Sku(i)));
      keys.push_back(ReservedKey(w.Sku(i)));
    }
    std::vector<const char*> argv{"MGET"};
    std::vector<size_t> lens{4};
    for (auto& k : keys) {
      argv.push_back(k.c_str());
      lens.push_back(k.size());
    }
    Reply r(static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != keys.size()) {
      return absl::InternalError("redis: bad MGET reply");
    }
    for (uint64_t i = begin; i < end; ++i) {
      const redisReply* a = r->element[2 * (i - begin)];
      const redisReply* b = r->element[2 * (i - begin) + 1];
      if (a->type != REDIS_REPLY_STRING || b->type != REDIS_REPLY_STRING) {
        return absl::InternalError(fmt::format("redis: missing stock for {}", w.Sku(i)));
      }
      SkuState s{std::stoll(std::string(a->str, a->len)), std::stoll(std::string(b->str, b->len))};
      v->Check(w.stock_per_sku, s, ledger.Get(i));
    }
  }
  return absl::OkStatus();
}

// Per-thread buffers for rendering one EVALSHA (no allocation once grown).
struct EvalArgs {
  std::string res_key, expiry_key, avail_key, reserved_key, ttl, body, qty;
};

}  // namespace

absl::StatusOr<TargetResult> RunRedisLua(const TargetOptions& options, const Workload& w,
                                         bool pipelined) {
  auto ctx = Connect(options);
  if (!ctx.ok()) return ctx.status();
  auto sha = Setup(ctx->get(), options, w);
  if (!sha.ok()) return sha.status();

  Workload run = w;
  if (!pipelined) run.batch = 1;
  AckLedger ledger(w.sku_count);
  loadgen::RespLoadOptions o{options.host, options.port, options.load};
  auto load = loadgen::RunRespLoad(
      o,
      [&](uint64_t seq, std::string* out) {
        thread_local EvalArgs a;
        for (int j = 0; j < run.batch; ++j) {
          const uint64_t op = seq * run.batch + j;
          const std::string sku = run.Sku(run.SkuIndex(op));
          a.res_key.clear();
          fmt::format_to(std::back_inserter(a.res_key), "{{{}}}:res:{}-{}", sku, run.run_tag, op);
          a.expiry_key.clear();
          fmt::format_to(std::back_inserter(a.expiry_key), "{{{}}}:expiries", sku);
          a.avail_key.clear();
          fmt::format_to(std::back_inserter(a.avail_key), "{{{}}}:avail", sku);
          a.reserved_key.clear();
          fmt::format_to(std::back_inserter(a.reserved_key), "{{{}}}:reserved", sku);
          a.ttl.clear();
          fmt::format_to(std::back_inserter(a.ttl), "{}", run.ttl_ms);
          a.qty.clear();
          fmt::format_to(std::back_inserter(a.qty), "{}", run.qty);
          a.body.clear();
          fmt::format_to(std::back_inserter(a.body), "{}:{}|{}", sku, run.qty, run.ttl_ms);
          const std::array<std::string_view, 11> args{
              "EVALSHA",   *sha,           "4",   a.res_key, a.expiry_key,
              a.avail_key, a.reserved_key, a.ttl, a.body,    kTombstoneRetentionMs,
              a.qty};
          loadgen::AppendRespCommand(out, args);
        }
        return run.batch;
      },
      [&](uint64_t seq, int index, const redisReply& r) {
        if (r.type != REDIS_REPLY_ARRAY || r.elements < 1 ||
            r.element[0]->type != REDIS_REPLY_INTEGER) {
          return loadgen::Counts{.errors = 1};
        }
        const long long code = r.element[0]->integer;
        if (code == 1) {
          ledger.Add(run.SkuIndex(seq * run.batch + index), run.qty);
          return loadgen::Counts{.ok = 1};
        }
        if (code == -1) return loadgen::Counts{.rejected = 1};
        return loadgen::Counts{.errors = 1};
      });
  if (!load.ok()) return load.status();
  TargetResult result{std::move(*load), {}};
  if (auto s = Verify(ctx->get(), w, ledger, &result.verify); !s.ok()) return s;
  return result;
}

}  // namespace inventory_bench
