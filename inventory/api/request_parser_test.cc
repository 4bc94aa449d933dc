#include "inventory/api/request_parser.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "inventory/api/response_renderer.h"
#include "simdjson.h"

namespace inventory {
namespace {

std::optional<FieldError> Reserve(std::string body, Operation* op) {
  const size_t n = body.size();
  body.resize(n + simdjson::SIMDJSON_PADDING, ' ');
  return ParseReserve(std::string_view(body.data(), n), body.size(), op);
}

std::optional<FieldError> Batch(std::string body, absl::InlinedVector<Operation, 1>* ops,
                                ResultMode* mode = nullptr) {
  const size_t n = body.size();
  body.resize(n + simdjson::SIMDJSON_PADDING, ' ');
  ResultMode ignored;
  return ParseBatch(std::string_view(body.data(), n), body.size(), ops, mode ? mode : &ignored);
}

// The field a batch body is refused for, "<ok:all>" / "<ok:failures>" when it parses.
std::string BatchField(const std::string& body) {
  absl::InlinedVector<Operation, 1> ops;
  ResultMode mode = ResultMode::kAll;
  auto e = Batch(body, &ops, &mode);
  if (e) return e->field;
  return mode == ResultMode::kFailures ? "<ok:failures>" : "<ok:all>";
}

std::string ReserveField(const std::string& body) {
  Operation op;
  auto e = Reserve(body, &op);
  return e ? e->field : "<ok>";
}

TEST(RequestParserTest, ParsesReserve) {
  Operation op;
  auto e = Reserve(R"({"reservation_id":"r1","items":[{"sku":"a","qty":2},{"qty":1,"sku":"b"}],
                      "ttl_ms":5000,"user_id":"u1"})",
                   &op);
  ASSERT_FALSE(e) << e->field << ": " << e->message;
  EXPECT_EQ(op.kind, OpKind::kReserve);
  EXPECT_EQ(op.reservation_id, "r1");
  ASSERT_EQ(op.items.size(), 2u);
  EXPECT_EQ(op.items[1].sku, "b");
  EXPECT_EQ(op.items[1].qty, 1);
  EXPECT_EQ(op.ttl_ms, 5000);
  EXPECT_EQ(op.user_id, "u1");
}

TEST(RequestParserTest, NamesTheBadField) {
  EXPECT_EQ(ReserveField(R"({"reservation_id":"r1","items":[{"sku":"a","qty":0}],"ttl_ms":1})"),
            "items[0].qty");
  EXPECT_EQ(ReserveField(R"({"reservation_id":"r1","items":[{"sku":"a","qty":"1"}],"ttl_ms":1})"),
            "items[0].qty");
  EXPECT_EQ(ReserveField(R"({"reservation_id":"r1","items":[{"sku":"a","qty":1.5}],"ttl_ms":1})"),
            "items[0].qty");
  EXPECT_EQ(ReserveField(R"({"reservation_id":"r1","items":[{"sku":"a"}],"ttl_ms":1})"),
            "items[0].qty");
  EXPECT_EQ(
      ReserveField(R"({"reservation_id":"r1","items":[{"sku":"a","qty":1,"x":1}],"ttl_ms":1})"),
      "items[0].x");
  EXPECT_EQ(ReserveField(R"({"reservation_id":5,"items":[{"sku":"a","qty":1}],"ttl_ms":1})"),
            "reservation_id");
  EXPECT_EQ(ReserveField(R"({"items":[{"sku":"a","qty":1}],"ttl_ms":1})"), "reservation_id");
  EXPECT_EQ(ReserveField(R"({"reservation_id":"r1","items":[],"ttl_ms":1})"), "items");
  EXPECT_EQ(ReserveField(R"({"reservation_id":"r1","items":{},"ttl_ms":1})"), "items");
  EXPECT_EQ(ReserveField(R"({"reservation_id":"r1","items":[{"sku":"a","qty":1}],"ttl_ms":0})"),
            "ttl_ms");
  EXPECT_EQ(ReserveField(R"({"reservation_id":"r1","items":[{"sku":"a","qty":1}]})"), "ttl_ms");
  EXPECT_EQ(ReserveField(R"({"reservation_id":"r1","reservation_id":"r2"})"), "reservation_id");
  EXPECT_EQ(
      ReserveField(R"({"reservation_id":"r1","items":[{"sku":"a","qty":1}],"ttl_ms":1,"delta":1})"),
      "delta");
  EXPECT_EQ(
      ReserveField(
          R"({"reservation_id":"r1","items":[{"sku":"a","qty":99999999999999999999}],"ttl_ms":1})"),
      "items[0].qty");
  EXPECT_EQ(ReserveField(R"({"reservation_id":"r1",)"), "body");
  EXPECT_EQ(ReserveField(R"([1,2])"), "body");
  EXPECT_EQ(ReserveField(""), "body");
  EXPECT_EQ(ReserveField(R"({"reservation_id":"r1","items":[{"sku":"a","qty":1}],"ttl_ms":1} x)"),
            "body");
}

TEST(RequestParserTest, ParsesBatch) {
  absl::InlinedVector<Operation, 1> ops;
  auto e = Batch(
      R"({"ops":[{"op":"reserve","reservation_id":"r1","items":[{"sku":"a","qty":1}],"ttl_ms":9},
                            {"reservation_id":"r1","op":"confirm"},
                            {"op":"adjust","sku":"a","delta":-1,"op_id":"o1"},
                            {"op":"get_sku","sku":"a"}]})",
      &ops);
  ASSERT_FALSE(e) << e->field << ": " << e->message;
  ASSERT_EQ(ops.size(), 4u);
  EXPECT_EQ(ops[1].kind, OpKind::kConfirm);
  EXPECT_EQ(ops[2].delta, -1);
  ops.clear();
  e = Batch(
      R"({"ops":[{"op":"get_sku","sku":"a"},{"op":"reserve","reservation_id":"r1","items":[{"sku":"a","qty":-1}],"ttl_ms":9}]})",
      &ops);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->field, "ops[1].items[0].qty");
  ops.clear();
  e = Batch(R"({"ops":[{"op":"explode"}]})", &ops);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->field, "ops[0].op");
  ops.clear();
  e = Batch(R"({"ops":[]})", &ops);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->field, "ops");
}

TEST(RequestParserTest, ParsesBatchResultMode) {
  constexpr char kReserve[] =
      R"({"op":"reserve","reservation_id":"r1","items":[{"sku":"a","qty":1}],"ttl_ms":9})";
  EXPECT_EQ(BatchField(fmt::format(R"({{"ops":[{}]}})", kReserve)), "<ok:all>");
  EXPECT_EQ(BatchField(fmt::format(R"({{"ops":[{}],"results":"all"}})", kReserve)), "<ok:all>");
  EXPECT_EQ(BatchField(fmt::format(R"({{"ops":[{}],"results":"failures"}})", kReserve)),
            "<ok:failures>");
  // Anywhere in the object, also before "ops".
  EXPECT_EQ(BatchField(fmt::format(R"({{"results":"failures","ops":[{},{}]}})", kReserve,
                                   R"({"op":"cancel","reservation_id":"r2"})")),
            "<ok:failures>");
  EXPECT_EQ(BatchField(fmt::format(R"({{"ops":[{}],"results":"some"}})", kReserve)), "results");
  EXPECT_EQ(BatchField(fmt::format(R"({{"ops":[{}],"results":1}})", kReserve)), "results");
  EXPECT_EQ(BatchField(fmt::format(R"({{"ops":[{}],"results":"all","results":"all"}})", kReserve)),
            "results");
  // A read's result would be dropped: refused, naming the op.
  EXPECT_EQ(BatchField(fmt::format(R"({{"ops":[{},{}],"results":"failures"}})", kReserve,
                                   R"({"op":"get_sku","sku":"a"})")),
            "ops[1].op");
  EXPECT_EQ(BatchField(fmt::format(R"({{"results":"failures","ops":[{}]}})",
                                   R"({"op":"get_reservation","reservation_id":"r1"})")),
            "ops[0].op");
  EXPECT_EQ(BatchField(fmt::format(R"({{"ops":[{},{}],"results":"all"}})", kReserve,
                                   R"({"op":"get_sku","sku":"a"})")),
            "<ok:all>");
}

TEST(ResponseRendererTest, BatchFailuresListsOnlyFailuresWithTheirIndex) {
  OpResult stock;
  stock.kind = OpKind::kReserve;
  stock.outcome = Outcome::kInsufficientStock;
  stock.sku.sku = "a";
  stock.sku.available = 0;
  OpResult conflict;
  conflict.kind = OpKind::kReserve;
  conflict.outcome = Outcome::kReservationConflict;
  const OpResult failures[] = {stock, conflict};
  const uint32_t index[] = {3, 1000};
  auto resp = RenderBatchFailures(failures, index);
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(
      resp.body,
      R"({"failures":[{"index":3,"status":409,"body":{"error":"insufficient_stock","message":"not enough available stock","sku":"a","available":0}},)"
      R"({"index":1000,"status":409,"body":{"error":"reservation_conflict","message":"reservation_id was already used with a different request"}}]})");
  resp = RenderBatchFailures({}, {});
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.body, R"({"failures":[]})");
  // The whole batch failed: one error for the request, as without "failures".
  OpResult down;
  down.outcome = Outcome::kUnavailable;
  const OpResult all_down[] = {down, down};
  const uint32_t all_index[] = {0, 1};
  resp = RenderBatchFailures(all_down, all_index);
  EXPECT_EQ(resp.status, 503);
  EXPECT_NE(resp.body.find(R"("error":"unavailable")"), std::string::npos);
}

TEST(ResponseRendererTest, ShapesMatchTheContract) {
  OpResult r;
  r.kind = OpKind::kReserve;
  r.outcome = Outcome::kInsufficientStock;
  r.sku.sku = "a";
  r.sku.available = 3;
  auto resp = RenderResult(r);
  EXPECT_EQ(resp.status, 409);
  EXPECT_EQ(
      resp.body,
      R"({"error":"insufficient_stock","message":"not enough available stock","sku":"a","available":3})");
  r.outcome = Outcome::kCreated;
  r.reservation.reservation_id = "r1";
  r.reservation.expires_at_ms = 42;
  r.reservation.items.push_back({"a", 2});
  resp = RenderResult(r);
  EXPECT_EQ(resp.status, 201);
  EXPECT_EQ(
      resp.body,
      R"({"reservation_id":"r1","state":"PENDING","expires_at_ms":42,"items":[{"sku":"a","qty":2}]})");
  OpResult g;
  g.kind = OpKind::kGetSku;
  g.sku = {"a", 1, 2, 3, 4};
  OpResult results[] = {r, g};
  resp = RenderBatch(results);
  EXPECT_EQ(
      resp.body,
      R"({"results":[{"status":201,"body":{"reservation_id":"r1","state":"PENDING","expires_at_ms":42,"items":[{"sku":"a","qty":2}]}},{"status":200,"body":{"sku":"a","available":1,"reserved":2,"sold":3,"version":4}}]})");
}

}  // namespace
}  // namespace inventory
