// PostgreSQL peer: each request is one transaction
//   BEGIN; UPDATE stock SET available = available - $1 WHERE sku = $2 AND available >= $1;
//   INSERT INTO reservations ...; COMMIT      (ROLLBACK when the UPDATE touched no row)
// with prepared statements, over libpq's non-blocking API driven by the same asio loop as the
// other targets (one connection per session, 4 round trips per reservation).
#include <fmt/format.h>
#include <libpq-fe.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <charconv>
#include <fstream>
#include <memory>
#include <sstream>

#include "bench/inventory/targets.h"

namespace inventory_bench {
namespace {

namespace asio = boost::asio;

constexpr char kUpdateSql[] =
    "UPDATE stock SET available = available - $1 WHERE sku = $2 AND available >= $1";
constexpr char kInsertSql[] =
    "INSERT INTO reservations (reservation_id, sku, qty, user_id, expires_at) "
    "VALUES ($1, $2, $3, $4, now() + $5 * interval '1 millisecond')";

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;
using Result = std::unique_ptr<PGresult, ResultDeleter>;

absl::StatusOr<Conn> Open(const std::string& conninfo) {
  Conn c(PQconnectdb(conninfo.c_str()));
  if (PQstatus(c.get()) != CONNECTION_OK) {
    return absl::UnavailableError(fmt::format("postgres: {}", PQerrorMessage(c.get())));
  }
  return c;
}

absl::StatusOr<Result> Exec(PGconn* c, const std::string& sql) {
  Result r(PQexec(c, sql.c_str()));
  const ExecStatusType st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return absl::InternalError(
        fmt::format("postgres: {}: {}", sql.substr(0, 60), PQresultErrorMessage(r.get())));
  }
  return r;
}

class ReserveSession final : public loadgen::Session {
 public:
  ReserveSession(asio::io_context& io, loadgen::CompletionSink* sink, const TargetOptions& options,
                 const Workload& w, AckLedger* ledger)
      : socket_(io), sink_(sink), options_(options), w_(w), ledger_(ledger) {}

  ~ReserveSession() override {
    boost::system::error_code ec;
    socket_.cancel(ec);
    if (socket_.is_open()) socket_.release();  // libpq owns the descriptor
  }

  void Connect(std::function<void(absl::Status)> done) override {
    // Blocking connect and prepare: this happens before the measured window.
    auto c = Open(options_.pg_conninfo);
    if (!c.ok()) return done(c.status());
    conn_ = std::move(*c);
    for (auto [name, sql] : {std::pair{"upd", kUpdateSql}, std::pair{"ins", kInsertSql}}) {
      Result r(PQprepare(conn_.get(), name, sql, 0, nullptr));
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        return done(absl::InternalError(PQresultErrorMessage(r.get())));
      }
    }
    PQsetnonblocking(conn_.get(), 1);
    socket_.assign(PQsocket(conn_.get()));
    done(absl::OkStatus());
  }

  void Issue(uint64_t seq) override {
    seq_ = seq;
    sku_index_ = w_.SkuIndex(seq);
    sku_ = w_.Sku(sku_index_);
    id_.clear();
    fmt::format_to(std::back_inserter(id_), "{}-{}", w_.run_tag, seq);
    user_.clear();
    fmt::format_to(std::back_inserter(user_), "u{}", seq % 1000);
    qty_.clear();
    fmt::format_to(std::back_inserter(qty_), "{}", w_.qty);
    ttl_.clear();
    fmt::format_to(std::back_inserter(ttl_), "{}", w_.ttl_ms);
    step_ = Step::kBegin;
    Send(PQsendQuery(conn_.get(), "BEGIN"));
  }

  void Close() override {
    boost::system::error_code ec;
    socket_.cancel(ec);
  }

 private:
  enum class Step { kBegin, kUpdate, kInsert, kCommit, kRollback };

  void Finish(loadgen::Counts c, bool usable = true) { sink_->OnRequestDone(c, usable); }
  void Fail() { Finish(loadgen::Counts{.errors = 1}, false); }

  // Flushes the query just queued by libpq, then waits for its result.
  void Send(int queued) {
    if (!queued) return Fail();
    const int f = PQflush(conn_.get());
    if (f < 0) return Fail();
    if (f == 1) {
      socket_.async_wait(asio::posix::stream_descriptor::wait_write,
                         [this](boost::system::error_code ec) {
                           if (ec) return Fail();
                           Send(1);
                         });
      return;
    }
    WaitResult();
  }

  void WaitResult() {
    socket_.async_wait(asio::posix::stream_descriptor::wait_read,
                       [this](boost::system::error_code ec) {
                         if (ec || !PQconsumeInput(conn_.get())) return Fail();
                         if (PQisBusy(conn_.get())) return WaitResult();
                         // Collect the command's result(s); libpq returns nullptr when done.
                         bool ok = true;
                         bool row_updated = false;
                         while (!PQisBusy(conn_.get())) {
                           Result r(PQgetResult(conn_.get()));
                           if (!r) return OnResult(ok, row_updated);
                           if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) ok = false;
                           row_updated = std::string_view(PQcmdTuples(r.get())) == "1";
                         }
                         WaitResult();
                       });
  }

  void OnResult(bool ok, bool row_updated) {
    switch (step_) {
      case Step::kBegin:
        if (!ok) return Fail();
        step_ = Step::kUpdate;
        {
          const char* params[] = {qty_.c_str(), sku_.c_str()};
          return Send(PQsendQueryPrepared(conn_.get(), "upd", 2, params, nullptr, nullptr, 0));
        }
      case Step::kUpdate:
        if (!ok) return Rollback(loadgen::Counts{.errors = 1});
        if (!row_updated) return Rollback(loadgen::Counts{.rejected = 1});
        step_ = Step::kInsert;
        {
          const char* params[] = {id_.c_str(), sku_.c_str(), qty_.c_str(), user_.c_str(),
                                  ttl_.c_str()};
          return Send(PQsendQueryPrepared(conn_.get(), "ins", 5, params, nullptr, nullptr, 0));
        }
      case Step::kInsert:
        if (!ok) return Rollback(loadgen::Counts{.errors = 1});
        step_ = Step::kCommit;
        return Send(PQsendQuery(conn_.get(), "COMMIT"));
      case Step::kCommit:
        if (!ok) return Fail();
        ledger_->Add(sku_index_, w_.qty);
        return Finish(loadgen::Counts{.ok = 1});
      case Step::kRollback:
        return ok ? Finish(pending_) : Fail();
    }
  }

  void Rollback(loadgen::Counts outcome) {
    pending_ = outcome;
    step_ = Step::kRollback;
    Send(PQsendQuery(conn_.get(), "ROLLBACK"));
  }

  asio::posix::stream_descriptor socket_;
  loadgen::CompletionSink* sink_;
  const TargetOptions& options_;
  const Workload& w_;
  AckLedger* ledger_;
  Conn conn_;
  Step step_ = Step::kBegin;
  loadgen::Counts pending_;
  uint64_t seq_ = 0;
  uint64_t sku_index_ = 0;
  std::string sku_, id_, user_, qty_, ttl_;
};

absl::Status Setup(PGconn* c, const TargetOptions& o, const Workload& w) {
  std::ifstream in(o.schema_path);
  if (!in) return absl::NotFoundError(fmt::format("cannot read schema {}", o.schema_path));
  std::stringstream ddl;
  ddl << in.rdbuf();
  if (auto r = Exec(c, "SET client_min_messages = warning"); !r.ok()) return r.status();
  if (auto r = Exec(c, ddl.str()); !r.ok()) return r.status();
  const std::string seed =
      w.kind == WorkloadKind::kHot
          ? fmt::format("INSERT INTO stock VALUES ('{}', {})", w.Sku(0), w.stock_per_sku)
          : fmt::format(
                "INSERT INTO stock SELECT 'sku-' || lpad(g::text, 6, '0'), {} "
                "FROM generate_series(0, {}) g",
                w.stock_per_sku, w.sku_count - 1);
  if (auto r = Exec(c, seed); !r.ok()) return r.status();
  if (auto r = Exec(c, "VACUUM ANALYZE stock"); !r.ok()) return r.status();
  // Same names as the client generates (Workload::SkuName) or the check below fails loudly.
  if (auto r = Exec(c, fmt::format("SELECT 1 FROM stock WHERE sku = '{}'", w.Sku(0)));
      !r.ok() || PQntuples(r->get()) != 1) {
    return absl::InternalError("postgres: seeded SKU names do not match the workload");
  }
  return absl::OkStatus();
}

absl::Status Verify(PGconn* c, const Workload& w, const AckLedger& ledger, Verification* v) {
  auto r = Exec(c,
                "SELECT s.sku, s.available, COALESCE(SUM(r.qty), 0) FROM stock s "
                "LEFT JOIN reservations r ON r.sku = s.sku AND r.state = 'PENDING' "
                "GROUP BY s.sku, s.available ORDER BY s.sku");
  if (!r.ok()) return r.status();
  PGresult* res = r->get();
  if (static_cast<uint64_t>(PQntuples(res)) != w.sku_count) {
    return absl::InternalError(
        fmt::format("postgres: {} SKUs, expected {}", PQntuples(res), w.sku_count));
  }
  for (int i = 0; i < PQntuples(res); ++i) {
    SkuState s{std::stoll(PQgetvalue(res, i, 1)), std::stoll(PQgetvalue(res, i, 2))};
    // ORDER BY sku matches index order because names are fixed-width.
    v->Check(w.stock_per_sku, s, ledger.Get(static_cast<uint64_t>(i)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TargetResult> RunPostgres(const TargetOptions& options, const Workload& w) {
  auto c = Open(options.pg_conninfo);
  if (!c.ok()) return c.status();
  if (auto s = Setup(c->get(), options, w); !s.ok()) return s;
  AckLedger ledger(w.sku_count);
  auto load = loadgen::RunClosedLoop(
      options.load, [&](asio::io_context& io, loadgen::CompletionSink* sink) {
        return std::make_unique<ReserveSession>(io, sink, options, w, &ledger);
      });
  if (!load.ok()) return load.status();
  TargetResult result{std::move(*load), {}};
  if (auto s = Verify(c->get(), w, ledger, &result.verify); !s.ok()) return s;
  return result;
}

}  // namespace inventory_bench
