// Issue 3 integration test (b): a catalogue of malformed or refused requests, each answered with
// the exact 4xx status, error code and (for invalid_argument) field; the server stays up
// throughout.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "nlohmann/json.hpp"
#include "tests/inventory/stockd_fixture.h"

namespace inventory::testing {
namespace {

struct Case {
  std::string method;
  std::string target;
  std::string body;
  int status;
  std::string error;
  std::string field;  // expected "field" for invalid_argument ("" : not checked)
};

std::string Reserve(std::string_view items, std::string_view extra = R"(,"ttl_ms":1000)") {
  return fmt::format(R"({{"reservation_id":"bad1","items":{}{}}})", items, extra);
}

TEST(StockdBadRequestsTest, CatalogueOfBadRequests) {
  StockdProcess server;
  ASSERT_TRUE(server.Start());
  auto c = server.Client();
  ASSERT_TRUE(c);
  ASSERT_EQ(c->Post("/v1/skus/a/adjust", R"({"delta":5,"op_id":"seed"})")->status, 200);
  ASSERT_EQ(c->Post("/v1/reservations",
                    R"({"reservation_id":"conf","items":[{"sku":"a","qty":1}],"ttl_ms":60000})")
                ->status,
            201);
  ASSERT_EQ(c->Post("/v1/reservations/conf/confirm", "")->status, 200);
  ASSERT_EQ(c->Post("/v1/reservations/tomb/cancel", "")->status, 200);
  ASSERT_EQ(c->Post("/v1/reservations",
                    R"({"reservation_id":"short","items":[{"sku":"a","qty":1}],"ttl_ms":1})")
                ->status,
            201);

  const std::string long_id(200, 'x');
  const std::vector<Case> cases = {
      // Malformed bodies.
      {"POST", "/v1/reservations", "", 400, "invalid_argument", "body"},
      {"POST", "/v1/reservations", "{", 400, "invalid_argument", "body"},
      {"POST", "/v1/reservations", "[]", 400, "invalid_argument", "body"},
      {"POST", "/v1/reservations", "null", 400, "invalid_argument", "body"},
      {"POST", "/v1/reservations", Reserve(R"([{"sku":"a","qty":1}])") + "x", 400,
       "invalid_argument", "body"},
      // Reservation fields.
      {"POST", "/v1/reservations", R"({"items":[{"sku":"a","qty":1}],"ttl_ms":1000})", 400,
       "invalid_argument", "reservation_id"},
      {"POST", "/v1/reservations",
       R"({"reservation_id":7,"items":[{"sku":"a","qty":1}],"ttl_ms":1000})", 400,
       "invalid_argument", "reservation_id"},
      {"POST", "/v1/reservations",
       R"({"reservation_id":"","items":[{"sku":"a","qty":1}],"ttl_ms":1000})", 400,
       "invalid_argument", "reservation_id"},
      {"POST", "/v1/reservations",
       fmt::format(R"({{"reservation_id":"{}","items":[{{"sku":"a","qty":1}}],"ttl_ms":1000}})",
                   long_id),
       400, "invalid_argument", "reservation_id"},
      {"POST", "/v1/reservations",
       R"({"reservation_id":"a b","items":[{"sku":"a","qty":1}],"ttl_ms":1000})", 400,
       "invalid_argument", "reservation_id"},
      {"POST", "/v1/reservations", Reserve("[]"), 400, "invalid_argument", "items"},
      {"POST", "/v1/reservations", Reserve(R"({"sku":"a"})"), 400, "invalid_argument", "items"},
      {"POST", "/v1/reservations", Reserve(R"([1])"), 400, "invalid_argument", "items[0]"},
      {"POST", "/v1/reservations", Reserve(R"([{"sku":"a","qty":0}])"), 400, "invalid_argument",
       "items[0].qty"},
      {"POST", "/v1/reservations", Reserve(R"([{"sku":"a","qty":-3}])"), 400, "invalid_argument",
       "items[0].qty"},
      {"POST", "/v1/reservations", Reserve(R"([{"sku":"a","qty":1.5}])"), 400, "invalid_argument",
       "items[0].qty"},
      {"POST", "/v1/reservations", Reserve(R"([{"sku":"a","qty":"2"}])"), 400, "invalid_argument",
       "items[0].qty"},
      {"POST", "/v1/reservations", Reserve(R"([{"sku":"a","qty":1},{"sku":"a","qty":1}])"), 400,
       "invalid_argument", "items[1].sku"},
      {"POST", "/v1/reservations", Reserve(R"([{"sku":"","qty":1}])"), 400, "invalid_argument",
       "items[0].sku"},
      {"POST", "/v1/reservations", Reserve(R"([{"qty":1}])"), 400, "invalid_argument",
       "items[0].sku"},
      {"POST", "/v1/reservations",
       Reserve("[" +
               [] {
                 std::string s;
                 for (int i = 0; i < 65; ++i)
                   s += fmt::format(R"({}{{"sku":"s{}","qty":1}})", i ? "," : "", i);
                 return s;
               }() +
               "]"),
       400, "invalid_argument", "items"},
      {"POST", "/v1/reservations", Reserve(R"([{"sku":"a","qty":1}])", ""), 400, "invalid_argument",
       "ttl_ms"},
      {"POST", "/v1/reservations", Reserve(R"([{"sku":"a","qty":1}])", R"(,"ttl_ms":0)"), 400,
       "invalid_argument", "ttl_ms"},
      {"POST", "/v1/reservations", Reserve(R"([{"sku":"a","qty":1}])", R"(,"ttl_ms":999999999999)"),
       400, "invalid_argument", "ttl_ms"},
      {"POST", "/v1/reservations",
       Reserve(R"([{"sku":"a","qty":1}])", R"(,"ttl_ms":1,"user_id":3)"), 400, "invalid_argument",
       "user_id"},
      {"POST", "/v1/reservations", Reserve(R"([{"sku":"a","qty":1}])", R"(,"ttl_ms":1,"colour":3)"),
       400, "invalid_argument", "colour"},
      // Adjust.
      {"POST", "/v1/skus/a/adjust", R"({"delta":0,"op_id":"x"})", 400, "invalid_argument", "delta"},
      {"POST", "/v1/skus/a/adjust", R"({"delta":"5","op_id":"x"})", 400, "invalid_argument",
       "delta"},
      {"POST", "/v1/skus/a/adjust", R"({"delta":5})", 400, "invalid_argument", "op_id"},
      {"POST", "/v1/skus/a%2Fb/adjust", R"({"delta":5,"op_id":"x"})", 400, "invalid_argument",
       "sku"},
      {"POST", "/v1/skus/" + long_id + "/adjust", R"({"delta":5,"op_id":"x"})", 400,
       "invalid_argument", "sku"},
      // Batch.
      {"POST", "/v1/batch", R"({"ops":[]})", 400, "invalid_argument", "ops"},
      {"POST", "/v1/batch", R"({"ops":{}})", 400, "invalid_argument", "ops"},
      {"POST", "/v1/batch", R"({"ops":[{"op":"fly"}]})", 400, "invalid_argument", "ops[0].op"},
      {"POST", "/v1/batch",
       R"({"ops":[{"op":"get_sku","sku":"a"},{"op":"confirm","reservation_id":""}]})", 400,
       "invalid_argument", "ops[1].reservation_id"},
      {"POST", "/v1/batch",
       R"({"ops":[{"op":"reserve","reservation_id":"b","items":[{"sku":"a","qty":1}]}]})", 400,
       "invalid_argument", "ops[0].ttl_ms"},
      {"POST", "/v1/batch", R"({"ops":[{"op":"cancel","reservation_id":"c"}],"results":"some"})",
       400, "invalid_argument", "results"},
      {"POST", "/v1/batch",
       R"({"results":"failures","ops":[{"op":"cancel","reservation_id":"c"},)"
       R"({"op":"get_sku","sku":"a"}]})",
       400, "invalid_argument", "ops[1].op"},
      // State-dependent refusals.
      {"GET", "/v1/skus/nope", "", 404, "sku_not_found", ""},
      {"GET", "/v1/reservations/nope", "", 404, "reservation_not_found", ""},
      {"POST", "/v1/reservations/nope/confirm", "", 404, "reservation_not_found", ""},
      {"POST", "/v1/skus/nope/adjust", R"({"delta":-1,"op_id":"neg"})", 404, "sku_not_found", ""},
      {"POST", "/v1/skus/a/adjust", R"({"delta":-100,"op_id":"neg2"})", 409, "insufficient_stock",
       ""},
      {"POST", "/v1/skus/a/adjust", R"({"delta":7,"op_id":"seed"})", 409, "op_conflict", ""},
      {"POST", "/v1/reservations", Reserve(R"([{"sku":"a","qty":100}])"), 409, "insufficient_stock",
       ""},
      {"POST", "/v1/reservations", Reserve(R"([{"sku":"ghost","qty":1}])"), 404, "sku_not_found",
       ""},
      {"POST", "/v1/reservations",
       R"({"reservation_id":"conf","items":[{"sku":"a","qty":2}],"ttl_ms":60000})", 409,
       "reservation_conflict", ""},
      {"POST", "/v1/reservations",
       R"({"reservation_id":"tomb","items":[{"sku":"a","qty":1}],"ttl_ms":60000})", 409,
       "reservation_cancelled", ""},
      {"POST", "/v1/reservations/conf/cancel", "", 409, "reservation_confirmed", ""},
      {"POST", "/v1/reservations/tomb/confirm", "", 409, "reservation_cancelled", ""},
      {"POST", "/v1/reservations/short/confirm", "", 409, "reservation_expired", ""},
      // Routing.
      {"DELETE", "/v1/skus/a", "", 405, "", ""},
      {"GET", "/v1/nothing", "", 404, "", ""},
  };
  ASSERT_GE(cases.size(), 30u);
  for (const Case& k : cases) {
    SCOPED_TRACE(k.method + " " + k.target.substr(0, 60) + " " + k.body.substr(0, 120));
    auto r = c->Request(k.method, k.target, k.body);
    if (!r.ok()) {  // the server may close after an error; the next case must still work
      c = server.Client();
      ASSERT_TRUE(c);
      r = c->Request(k.method, k.target, k.body);
    }
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, k.status) << r->body;
    auto json = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(json.is_object()) << "not a JSON object: " << r->body;
    if (!k.error.empty()) {
      EXPECT_EQ(json.value("error", ""), k.error) << r->body;
    }
    if (!k.field.empty()) {
      EXPECT_EQ(json.value("field", ""), k.field) << r->body;
    }
    EXPECT_TRUE(json.contains("message")) << r->body;
  }
  EXPECT_TRUE(server.Running());
  auto health = c->Get("/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  // Nothing above changed the stock: 5 - 1 (confirmed) - 1 (short, now expired and returned).
  auto sku = c->Get("/v1/skus/a");
  auto json = nlohmann::json::parse(sku->body);
  EXPECT_EQ(json["available"], 4);
  EXPECT_EQ(json["sold"], 1);
  EXPECT_EQ(json["reserved"], 0);
}

}  // namespace
}  // namespace inventory::testing
