#include "inventory/engine/engine.h"

#include <gtest/gtest.h>

#include "inventory/engine/op_codec.h"
#include "inventory/engine/validate.h"

namespace inventory {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

Operation Adjust(std::string sku, int64_t delta, std::string op_id) {
  Operation op;
  op.kind = OpKind::kAdjust;
  op.sku = std::move(sku);
  op.delta = delta;
  op.op_id = std::move(op_id);
  return op;
}

Operation Reserve(std::string id, Items items, int64_t ttl_ms = 1000, std::string user = "") {
  Operation op;
  op.kind = OpKind::kReserve;
  op.reservation_id = std::move(id);
  op.items = std::move(items);
  op.ttl_ms = ttl_ms;
  op.user_id = std::move(user);
  return op;
}

Operation IdOp(OpKind kind, std::string id) {
  Operation op;
  op.kind = kind;
  op.reservation_id = std::move(id);
  return op;
}

Operation GetSku(std::string sku) {
  Operation op;
  op.kind = OpKind::kGetSku;
  op.sku = std::move(sku);
  return op;
}

class EngineTest : public ::testing::Test {
 protected:
  OpResult Do(const Operation& op, int64_t now = kT0) {
    EXPECT_FALSE(ValidateOperation(op).has_value()) << ValidateOperation(op)->field;
    OpResult r;
    engine_.Apply(op, now, &r);
    EXPECT_TRUE(engine_.CheckInvariants().ok()) << engine_.CheckInvariants();
    return r;
  }
  SkuView Sku(const std::string& sku) { return Do(GetSku(sku)).sku; }
  Engine engine_;
};

TEST_F(EngineTest, AdjustCreatesSkuAndIsIdempotent) {
  OpResult r = Do(Adjust("a", 10, "op1"));
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_TRUE(r.mutated);
  EXPECT_EQ(r.sku.available, 10);
  EXPECT_EQ(r.sku.version, 1u);
  r = Do(Adjust("a", 10, "op1"));  // replay
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_FALSE(r.mutated);
  EXPECT_EQ(r.sku.available, 10);
  EXPECT_EQ(Do(Adjust("a", 11, "op1")).outcome, Outcome::kOpConflict);
  EXPECT_EQ(Do(Adjust("b", 10, "op1")).outcome, Outcome::kOpConflict);
}

TEST_F(EngineTest, NegativeAdjustOnlyFromAvailable) {
  EXPECT_EQ(Do(Adjust("a", -1, "op0")).outcome, Outcome::kSkuNotFound);
  Do(Adjust("a", 5, "op1"));
  Do(Reserve("r1", {{"a", 3}}));
  OpResult r = Do(Adjust("a", -3, "op2"));
  EXPECT_EQ(r.outcome, Outcome::kInsufficientStock);
  EXPECT_EQ(r.sku.available, 2);
  EXPECT_FALSE(r.mutated);
  r = Do(Adjust("a", -2, "op3"));
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.sku.available, 0);
  EXPECT_EQ(r.sku.reserved, 3);
}

TEST_F(EngineTest, ReserveAllOrNothing) {
  Do(Adjust("a", 5, "op1"));
  Do(Adjust("b", 1, "op2"));
  OpResult r = Do(Reserve("r1", {{"a", 2}, {"b", 2}}));
  EXPECT_EQ(r.outcome, Outcome::kInsufficientStock);
  EXPECT_EQ(r.sku.sku, "b");
  EXPECT_EQ(r.sku.available, 1);
  EXPECT_EQ(Sku("a").available, 5);
  r = Do(Reserve("r1", {{"a", 2}, {"b", 1}}));
  EXPECT_EQ(r.outcome, Outcome::kCreated);
  EXPECT_EQ(r.reservation.expires_at_ms, kT0 + 1000);
  ASSERT_EQ(r.reservation.items.size(), 2u);
  EXPECT_EQ(Sku("a").available, 3);
  EXPECT_EQ(Sku("a").reserved, 2);
  EXPECT_EQ(Sku("b").available, 0);
  EXPECT_EQ(Do(Reserve("r2", {{"zzz", 1}})).outcome, Outcome::kSkuNotFound);
}

TEST_F(EngineTest, ReserveReplayAndConflict) {
  Do(Adjust("a", 5, "op1"));
  OpResult first = Do(Reserve("r1", {{"a", 2}}, 1000, "u1"));
  ASSERT_EQ(first.outcome, Outcome::kCreated);
  OpResult replay = Do(Reserve("r1", {{"a", 2}}, 1000, "u1"), kT0 + 10);
  EXPECT_EQ(replay.outcome, Outcome::kReplayed);
  EXPECT_FALSE(replay.mutated);
  EXPECT_EQ(replay.reservation.expires_at_ms, first.reservation.expires_at_ms);
  EXPECT_EQ(Sku("a").reserved, 2);
  EXPECT_EQ(Do(Reserve("r1", {{"a", 3}}, 1000, "u1")).outcome, Outcome::kReservationConflict);
  EXPECT_EQ(Do(Reserve("r1", {{"a", 2}}, 999, "u1")).outcome, Outcome::kReservationConflict);
  EXPECT_EQ(Do(Reserve("r1", {{"a", 2}}, 1000, "u2")).outcome, Outcome::kReservationConflict);
  // Replay after confirm: still the original body.
  Do(IdOp(OpKind::kConfirm, "r1"));
  replay = Do(Reserve("r1", {{"a", 2}}, 1000, "u1"));
  EXPECT_EQ(replay.outcome, Outcome::kReplayed);
  EXPECT_EQ(replay.reservation.state, ReservationState::kPending);
}

TEST_F(EngineTest, ConfirmAndCancelTransitions) {
  Do(Adjust("a", 10, "op1"));
  Do(Reserve("r1", {{"a", 4}}));
  Do(Reserve("r2", {{"a", 3}}));
  OpResult r = Do(IdOp(OpKind::kConfirm, "r1"));
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.reservation.state, ReservationState::kConfirmed);
  EXPECT_TRUE(r.mutated);
  r = Do(IdOp(OpKind::kConfirm, "r1"));
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_FALSE(r.mutated);
  EXPECT_EQ(Do(IdOp(OpKind::kCancel, "r1")).outcome, Outcome::kReservationConfirmed);
  r = Do(IdOp(OpKind::kCancel, "r2"));
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.reservation.state, ReservationState::kCancelled);
  EXPECT_EQ(Do(IdOp(OpKind::kCancel, "r2")).outcome, Outcome::kOk);
  EXPECT_EQ(Do(IdOp(OpKind::kConfirm, "r2")).outcome, Outcome::kReservationCancelled);
  EXPECT_EQ(Do(IdOp(OpKind::kConfirm, "nope")).outcome, Outcome::kReservationNotFound);
  SkuView a = Sku("a");
  EXPECT_EQ(a.available, 6);
  EXPECT_EQ(a.reserved, 0);
  EXPECT_EQ(a.sold, 4);
}

TEST_F(EngineTest, CancelBeforeTryLeavesTombstone) {
  Do(Adjust("a", 10, "op1"));
  OpResult r = Do(IdOp(OpKind::kCancel, "r1"));
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_TRUE(r.mutated);
  EXPECT_EQ(r.reservation.state, ReservationState::kCancelled);
  EXPECT_EQ(Do(Reserve("r1", {{"a", 1}})).outcome, Outcome::kReservationCancelled);
  EXPECT_EQ(Sku("a").available, 10);
  EXPECT_EQ(Do(IdOp(OpKind::kGetReservation, "r1")).reservation.state,
            ReservationState::kCancelled);
}

TEST_F(EngineTest, ExpiryReturnsStock) {
  Do(Adjust("a", 10, "op1"));
  Do(Reserve("r1", {{"a", 4}}, 100));
  Do(Reserve("r2", {{"a", 1}}, 200));
  EXPECT_EQ(engine_.next_deadline_ms(), kT0 + 100);
  EXPECT_EQ(engine_.AdvanceTime(kT0 + 99), 0u);
  EXPECT_EQ(engine_.AdvanceTime(kT0 + 100), 1u);
  EXPECT_EQ(Sku("a").available, 9);
  EXPECT_EQ(Do(IdOp(OpKind::kConfirm, "r1"), kT0 + 100).outcome, Outcome::kReservationExpired);
  // An operation after the deadline sees the reservation expired even without a tick.
  EXPECT_EQ(Do(IdOp(OpKind::kConfirm, "r2"), kT0 + 250).outcome, Outcome::kReservationExpired);
  OpResult r = Do(IdOp(OpKind::kCancel, "r2"), kT0 + 250);
  EXPECT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.reservation.state, ReservationState::kExpired);
  EXPECT_EQ(Sku("a").available, 10);
  EXPECT_EQ(engine_.counters().reservations_expired, 2u);
}

TEST_F(EngineTest, TimeNeverGoesBackwards) {
  Do(Adjust("a", 10, "op1"), kT0 + 1000);
  OpResult r = Do(Reserve("r1", {{"a", 1}}, 100), kT0);  // clock stepped back
  EXPECT_EQ(r.reservation.expires_at_ms, kT0 + 1100);
}

TEST_F(EngineTest, TerminalRetentionAndTableLimit) {
  Engine small(EngineLimits{.skus_max = 2,
                            .reservations_max = 3,
                            .terminal_retention_ms = 1000,
                            .adjust_ops_retained_max = 2});
  OpResult r;
  small.Apply(Adjust("a", 100, "op1"), kT0, &r);
  small.Apply(Adjust("b", 100, "op2"), kT0, &r);
  small.Apply(Adjust("c", 100, "op3"), kT0, &r);
  EXPECT_EQ(r.outcome, Outcome::kTableFull);
  for (std::string id : {"r1", "r2", "r3"}) {
    small.Apply(Reserve(id, {{"a", 1}}, 10'000), kT0, &r);
    EXPECT_EQ(r.outcome, Outcome::kCreated);
  }
  small.Apply(Reserve("r4", {{"a", 1}}, 10'000), kT0, &r);
  EXPECT_EQ(r.outcome, Outcome::kTableFull);  // all pending: nothing to evict
  small.Apply(IdOp(OpKind::kConfirm, "r1"), kT0, &r);
  small.Apply(Reserve("r4", {{"a", 1}}, 10'000), kT0, &r);
  EXPECT_EQ(r.outcome, Outcome::kCreated);  // r1 (terminal) evicted early
  small.Apply(IdOp(OpKind::kGetReservation, "r1"), kT0, &r);
  EXPECT_EQ(r.outcome, Outcome::kReservationNotFound);
  small.Apply(IdOp(OpKind::kCancel, "r2"), kT0, &r);
  small.AdvanceTime(kT0 + 999);
  EXPECT_EQ(small.reservation_count(), 3u);
  small.AdvanceTime(kT0 + 1000);
  EXPECT_EQ(small.reservation_count(), 2u);
  EXPECT_TRUE(small.CheckInvariants().ok());
}

TEST_F(EngineTest, SnapshotRoundTrip) {
  Do(Adjust("a", 10, "op1"));
  Do(Adjust("b", 7, "op2"));
  Do(Reserve("r1", {{"a", 2}, {"b", 1}}, 500, "u1"));
  Do(Reserve("r2", {{"a", 1}}, 100));
  Do(IdOp(OpKind::kConfirm, "r1"));
  Do(IdOp(OpKind::kCancel, "ghost"));
  std::string snap;
  engine_.Serialize(&snap);
  auto restored = Engine::Restore(snap, EngineLimits{});
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ((*restored)->Digest(), engine_.Digest());
  // Both continue identically.
  OpResult r1, r2;
  engine_.Apply(Reserve("ghost", {{"a", 1}}), kT0 + 200, &r1);
  (*restored)->Apply(Reserve("ghost", {{"a", 1}}), kT0 + 200, &r2);
  EXPECT_EQ(r1.outcome, Outcome::kReservationCancelled);
  EXPECT_EQ(r2.outcome, r1.outcome);
  EXPECT_EQ((*restored)->Digest(), engine_.Digest());
  // Corruption is refused, never crashes.
  for (size_t cut = 0; cut < snap.size(); cut += 7) {
    EXPECT_FALSE(Engine::Restore(snap.substr(0, cut), EngineLimits{}).ok());
  }
}

TEST_F(EngineTest, OperationCodecRoundTrip) {
  Operation ops[] = {Adjust("a", -5, "op1"), Reserve("r1", {{"a", 2}, {"b", 3}}, 77, "u"),
                     IdOp(OpKind::kConfirm, "r1"), IdOp(OpKind::kCancel, "r2")};
  std::string buf;
  for (const Operation& op : ops) EncodeOperation(op, kT0 + 1, &buf);
  wire::WireReader in(buf);
  for (const Operation& want : ops) {
    Operation got;
    int64_t now = 0;
    ASSERT_TRUE(DecodeOperation(&in, &got, &now).ok());
    EXPECT_EQ(now, kT0 + 1);
    EXPECT_EQ(got.kind, want.kind);
    EXPECT_EQ(got.sku, want.sku);
    EXPECT_EQ(got.delta, want.delta);
    EXPECT_EQ(got.reservation_id, want.reservation_id);
    EXPECT_EQ(got.items.size(), want.items.size());
    EXPECT_EQ(got.ttl_ms, want.ttl_ms);
  }
  EXPECT_TRUE(in.empty());
}

TEST(ValidateTest, RefusesBadFields) {
  Operation op = Reserve("r1", {{"a", 1}});
  EXPECT_FALSE(ValidateOperation(op).has_value());
  op.items[0].qty = 0;
  EXPECT_EQ(ValidateOperation(op)->field, "items[0].qty");
  op = Reserve("r1", {{"a", 1}, {"a", 2}});
  EXPECT_EQ(ValidateOperation(op)->field, "items[1].sku");
  op = Reserve("", {{"a", 1}});
  EXPECT_EQ(ValidateOperation(op)->field, "reservation_id");
  op = Reserve("r/1", {{"a", 1}});
  EXPECT_EQ(ValidateOperation(op)->field, "reservation_id");
  op = Reserve("r1", {{"a", 1}}, 0);
  EXPECT_EQ(ValidateOperation(op)->field, "ttl_ms");
  op = Reserve("r1", {});
  EXPECT_EQ(ValidateOperation(op)->field, "items");
  op = Reserve(std::string(kIdBytesMax + 1, 'x'), {{"a", 1}});
  EXPECT_EQ(ValidateOperation(op)->field, "reservation_id");
  EXPECT_EQ(ValidateOperation(Adjust("a", 0, "o"))->field, "delta");
  EXPECT_EQ(ValidateOperation(Adjust("a", 1, ""))->field, "op_id");
}

TEST(EngineResultDetailTest, OutcomeOnlyChangesTheResultNeverTheState) {
  Engine full_engine, lean_engine;
  const std::vector<Operation> ops = {
      Adjust("a", 3, "seed"),           // ok
      Reserve("r1", {{"a", 2}}),        // created
      Reserve("r1", {{"a", 2}}),        // replayed
      Reserve("r2", {{"a", 2}}),        // insufficient_stock
      Reserve("r3", {{"missing", 1}}),  // sku_not_found
      IdOp(OpKind::kConfirm, "r1"),     // ok
      IdOp(OpKind::kCancel, "r1"),      // reservation_confirmed
      IdOp(OpKind::kCancel, "tomb"),    // ok: tombstone
      IdOp(OpKind::kConfirm, "tomb"),   // reservation_cancelled
      Adjust("a", -1, "take"),          // ok
      Adjust("a", -1, "take"),          // ok: same op_id again
  };
  for (size_t i = 0; i < ops.size(); ++i) {
    OpResult full, lean;
    full_engine.Apply(ops[i], kT0 + static_cast<int64_t>(i), &full);
    lean_engine.Apply(ops[i], kT0 + static_cast<int64_t>(i), &lean, ResultDetail::kOutcomeOnly);
    EXPECT_EQ(full.kind, lean.kind) << i;
    EXPECT_EQ(full.outcome, lean.outcome) << i;
    EXPECT_EQ(full.mutated, lean.mutated) << i;
    EXPECT_EQ(full.message, lean.message) << i;
    if (IsSuccess(full.outcome)) {
      // No per-op copies of names and ids on success.
      EXPECT_EQ(lean.sku.sku, "") << i;
      EXPECT_EQ(lean.reservation.reservation_id, "") << i;
      EXPECT_TRUE(lean.reservation.items.empty()) << i;
    } else {
      // A failure carries everything its error body needs.
      EXPECT_EQ(full.sku.sku, lean.sku.sku) << i;
      EXPECT_EQ(full.sku.available, lean.sku.available) << i;
      EXPECT_EQ(full.reservation.reservation_id, lean.reservation.reservation_id) << i;
      EXPECT_EQ(full.reservation.state, lean.reservation.state) << i;
    }
  }
  EXPECT_EQ(full_engine.Digest(), lean_engine.Digest());
  EXPECT_TRUE(lean_engine.CheckInvariants().ok());
}

}  // namespace
}  // namespace inventory
