// POST /v1/batch with "results":"failures" and gRPC Batch with BATCH_RESULTS_FAILURES against the
// real stockd: only the failed ops are listed, with their index and the same status and body as
// the default reply gives them; every op is applied (and survives a restart) either way.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "inventory/v1/inventory.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/inventory/stockd_fixture.h"

namespace inventory::testing {
namespace {

namespace pb = ::inventory::v1;
using nlohmann::json;

// 7 ops on `sku` (3 units in stock): ops 2 (insufficient_stock) and 5 (reservation_conflict) fail.
std::string MixedOps(const std::string& sku) {
  auto reserve = [&](const std::string& id, int qty) {
    return fmt::format(
        R"({{"op":"reserve","reservation_id":"{}-{}","items":[{{"sku":"{}","qty":{}}}],)"
        R"("ttl_ms":60000}})",
        sku, id, sku, qty);
  };
  auto cancel = [&](const std::string& id) {
    return fmt::format(R"({{"op":"cancel","reservation_id":"{}-{}"}})", sku, id);
  };
  return fmt::format("[{},{},{},{},{},{},{}]", reserve("r1", 2), reserve("r2", 1), reserve("r3", 1),
                     cancel("r2"), reserve("r1", 2), reserve("r1", 1), cancel("never"));
}

TEST(StockdBatchResultsTest, HttpFailuresListsOnlyFailedOpsWithTheirIndex) {
  StockdProcess server;
  ASSERT_TRUE(server.Start());
  auto c = server.Client();
  ASSERT_TRUE(c);
  for (const char* sku : {"full", "lean"}) {
    ASSERT_EQ(c->Post(fmt::format("/v1/skus/{}/adjust", sku),
                      fmt::format(R"({{"delta":3,"op_id":"seed-{}"}})", sku))
                  ->status,
              200);
  }
  auto full = c->Post("/v1/batch", fmt::format(R"({{"ops":{}}})", MixedOps("full")));
  ASSERT_TRUE(full.ok());
  ASSERT_EQ(full->status, 200) << full->body;
  auto lean =
      c->Post("/v1/batch", fmt::format(R"({{"ops":{},"results":"failures"}})", MixedOps("lean")));
  ASSERT_TRUE(lean.ok());
  ASSERT_EQ(lean->status, 200) << lean->body;

  const json all = json::parse(full->body)["results"];
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all[0]["status"], 201);
  EXPECT_EQ(all[4]["status"], 200);  // identical replay
  const json failures = json::parse(lean->body);
  ASSERT_EQ(failures.size(), 1u) << lean->body;  // {"failures":[...]} and nothing else
  ASSERT_EQ(failures["failures"].size(), 2u) << lean->body;
  EXPECT_EQ(failures["failures"][0]["index"], 2);
  EXPECT_EQ(failures["failures"][1]["index"], 5);
  for (const json& f : failures["failures"]) {
    const json& same = all[f["index"].get<size_t>()];
    EXPECT_EQ(f["status"], same["status"]);
    json body = f["body"];
    json expected = same["body"];
    if (body.contains("sku")) {  // the SKU named in the error differs between the two runs
      EXPECT_EQ(body["sku"], "lean");
      body.erase("sku");
      expected.erase("sku");
    }
    EXPECT_EQ(body, expected);
  }
  EXPECT_EQ(failures["failures"][0]["body"]["error"], "insufficient_stock");
  EXPECT_EQ(failures["failures"][1]["body"]["error"], "reservation_conflict");

  // All successes: an empty list.
  auto none = c->Post(
      "/v1/batch",
      R"({"results":"failures","ops":[{"op":"adjust","sku":"lean","delta":5,"op_id":"more"}]})");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->status, 200);
  EXPECT_EQ(none->body, R"({"failures":[]})");

  // Both modes applied the same operations, durably.
  ASSERT_EQ(server.Terminate(), 0);
  ASSERT_TRUE(server.Start());
  c = server.Client();
  ASSERT_TRUE(c);
  const json f = json::parse(c->Get("/v1/skus/full")->body);
  const json l = json::parse(c->Get("/v1/skus/lean")->body);
  EXPECT_EQ(f["available"], 1);
  EXPECT_EQ(f["reserved"], 2);
  EXPECT_EQ(l["available"], 6);  // + the adjust of 5
  EXPECT_EQ(l["reserved"], 2);
  EXPECT_EQ(c->Post("/v1/reservations",
                    R"({"reservation_id":"lean-never","items":[{"sku":"lean","qty":1}],)"
                    R"("ttl_ms":1000})")
                ->status,
            409);  // the tombstone left by the cancel
}

TEST(StockdBatchResultsTest, GrpcFailuresListsOnlyFailedOpsWithTheirIndex) {
  StockdProcess server;
  ASSERT_TRUE(server.Start());
  auto channel = grpc::CreateChannel(fmt::format("127.0.0.1:{}", server.grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = pb::Inventory::NewStub(channel);
  {
    grpc::ClientContext ctx;
    pb::AdjustRequest req;
    req.set_sku("g");
    req.set_delta(5);
    req.set_op_id("seed");
    pb::Sku sku;
    ASSERT_TRUE(stub->Adjust(&ctx, req, &sku).ok());
  }
  pb::BatchRequest batch;
  batch.set_results(pb::BATCH_RESULTS_FAILURES);
  for (int i = 0; i < 4; ++i) {  // 2 units each: the third and fourth do not fit
    auto* op = batch.add_ops()->mutable_reserve();
    op->set_reservation_id(fmt::format("g{}", i));
    op->set_ttl_ms(60'000);
    auto* item = op->add_items();
    item->set_sku("g");
    item->set_qty(2);
  }
  batch.add_ops()->mutable_cancel()->set_reservation_id("g0");
  {
    grpc::ClientContext ctx;
    pb::BatchResponse resp;
    ASSERT_TRUE(stub->Batch(&ctx, batch, &resp).ok());
    ASSERT_EQ(resp.results_size(), 2);
    EXPECT_EQ(resp.results(0).index(), 2u);
    EXPECT_EQ(resp.results(1).index(), 3u);
    for (const auto& r : resp.results()) {
      EXPECT_EQ(r.http_status(), 409);
      EXPECT_EQ(r.error().code(), "insufficient_stock");
      EXPECT_EQ(r.error().sku(), "g");
      EXPECT_EQ(r.error().available(), 1);
    }
  }
  {
    grpc::ClientContext ctx;
    pb::GetSkuRequest req;
    req.set_sku("g");
    pb::Sku sku;
    ASSERT_TRUE(stub->GetSku(&ctx, req, &sku).ok());
    EXPECT_EQ(sku.available(), 3);  // 5 - 2 - 2 + 2 (g0 cancelled)
    EXPECT_EQ(sku.reserved(), 2);
  }
  // A read's result would be dropped: refused, and nothing of the batch is applied.
  pb::BatchRequest with_read;
  with_read.set_results(pb::BATCH_RESULTS_FAILURES);
  with_read.add_ops()->mutable_cancel()->set_reservation_id("g1");
  with_read.add_ops()->mutable_get_sku()->set_sku("g");
  {
    grpc::ClientContext ctx;
    pb::BatchResponse resp;
    const grpc::Status status = stub->Batch(&ctx, with_read, &resp);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("ops[1].op"), std::string::npos)
        << status.error_message();
  }
  pb::BatchRequest bad_mode;
  bad_mode.set_results(static_cast<pb::BatchResults>(7));
  bad_mode.add_ops()->mutable_cancel()->set_reservation_id("g1");
  {
    grpc::ClientContext ctx;
    pb::BatchResponse resp;
    EXPECT_EQ(stub->Batch(&ctx, bad_mode, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    pb::GetSkuRequest req;
    req.set_sku("g");
    pb::Sku sku;
    ASSERT_TRUE(stub->GetSku(&ctx, req, &sku).ok());
    EXPECT_EQ(sku.reserved(), 2);  // g1 still pending
  }
}

}  // namespace
}  // namespace inventory::testing
