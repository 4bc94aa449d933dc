// Issue 3 integration test (c): every gRPC operation once against the real stockd, including the
// error mapping and the batch path.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "inventory/v1/inventory.grpc.pb.h"
#include "tests/inventory/stockd_fixture.h"

namespace inventory::testing {
namespace {

namespace pb = ::inventory::v1;

TEST(StockdGrpcTest, EveryOperation) {
  StockdProcess server;
  ASSERT_TRUE(server.Start());
  auto channel = grpc::CreateChannel(fmt::format("127.0.0.1:{}", server.grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = pb::Inventory::NewStub(channel);

  {
    grpc::ClientContext ctx;
    pb::AdjustRequest req;
    req.set_sku("g");
    req.set_delta(10);
    req.set_op_id("seed");
    pb::Sku sku;
    ASSERT_TRUE(stub->Adjust(&ctx, req, &sku).ok());
    EXPECT_EQ(sku.available(), 10);
    EXPECT_EQ(sku.version(), 1u);
  }
  pb::ReserveRequest reserve;
  reserve.set_reservation_id("g1");
  reserve.set_ttl_ms(60'000);
  auto* item = reserve.add_items();
  item->set_sku("g");
  item->set_qty(4);
  {
    grpc::ClientContext ctx;
    pb::Reservation r;
    ASSERT_TRUE(stub->Reserve(&ctx, reserve, &r).ok());
    EXPECT_EQ(r.state(), pb::PENDING);
    EXPECT_FALSE(r.replayed());
    ASSERT_EQ(r.items_size(), 1);
  }
  {
    grpc::ClientContext ctx;
    pb::Reservation r;
    ASSERT_TRUE(stub->Reserve(&ctx, reserve, &r).ok());
    EXPECT_TRUE(r.replayed());
  }
  {
    grpc::ClientContext ctx;
    pb::ReserveRequest too_much = reserve;
    too_much.set_reservation_id("g2");
    too_much.mutable_items(0)->set_qty(100);
    pb::Reservation r;
    grpc::Status s = stub->Reserve(&ctx, too_much, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(s.error_message().rfind("insufficient_stock", 0), 0u) << s.error_message();
    auto md = ctx.GetServerTrailingMetadata().find("inventory-error-bin");
    ASSERT_NE(md, ctx.GetServerTrailingMetadata().end());
    pb::Error e;
    ASSERT_TRUE(e.ParseFromString(std::string(md->second.data(), md->second.size())));
    EXPECT_EQ(e.sku(), "g");
    EXPECT_EQ(e.available(), 6);
  }
  {
    grpc::ClientContext ctx;
    pb::ReserveRequest bad = reserve;
    bad.mutable_items(0)->set_qty(0);
    pb::Reservation r;
    grpc::Status s = stub->Reserve(&ctx, bad, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("items[0].qty"), std::string::npos) << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    pb::ReservationIdRequest req;
    req.set_reservation_id("g1");
    pb::Reservation r;
    ASSERT_TRUE(stub->Confirm(&ctx, req, &r).ok());
    EXPECT_EQ(r.state(), pb::CONFIRMED);
  }
  {
    grpc::ClientContext ctx;
    pb::ReservationIdRequest req;
    req.set_reservation_id("g1");
    pb::Reservation r;
    EXPECT_EQ(stub->Cancel(&ctx, req, &r).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    grpc::ClientContext ctx;
    pb::ReservationIdRequest req;
    req.set_reservation_id("never");
    pb::Reservation r;
    ASSERT_TRUE(stub->Cancel(&ctx, req, &r).ok());
    EXPECT_EQ(r.state(), pb::CANCELLED);
  }
  {
    grpc::ClientContext ctx;
    pb::ReservationIdRequest req;
    req.set_reservation_id("g1");
    pb::Reservation r;
    ASSERT_TRUE(stub->GetReservation(&ctx, req, &r).ok());
    EXPECT_EQ(r.state(), pb::CONFIRMED);
  }
  {
    grpc::ClientContext ctx;
    pb::ReservationIdRequest req;
    req.set_reservation_id("missing");
    pb::Reservation r;
    EXPECT_EQ(stub->GetReservation(&ctx, req, &r).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    pb::BatchRequest batch;
    for (int i = 0; i < 3; ++i) {
      auto* op = batch.add_ops()->mutable_reserve();
      op->set_reservation_id(fmt::format("b{}", i));
      op->set_ttl_ms(60'000);
      auto* it = op->add_items();
      it->set_sku("g");
      it->set_qty(3);
    }
    batch.add_ops()->mutable_get_sku()->set_sku("g");
    pb::BatchResponse resp;
    ASSERT_TRUE(stub->Batch(&ctx, batch, &resp).ok());
    ASSERT_EQ(resp.results_size(), 4);
    EXPECT_EQ(resp.results(0).http_status(), 201);
    EXPECT_EQ(resp.results(1).http_status(), 201);
    EXPECT_EQ(resp.results(2).http_status(), 409);  // 6 available: the third does not fit
    EXPECT_EQ(resp.results(2).error().code(), "insufficient_stock");
    EXPECT_EQ(resp.results(3).sku().available(), 0);
    EXPECT_EQ(resp.results(3).sku().reserved(), 6);
    EXPECT_EQ(resp.results(3).sku().sold(), 4);
  }
  {
    grpc::ClientContext ctx;
    pb::GetSkuRequest req;
    req.set_sku("g");
    pb::Sku sku;
    ASSERT_TRUE(stub->GetSku(&ctx, req, &sku).ok());
    EXPECT_EQ(sku.available() + sku.reserved() + sku.sold(), 10);
  }
}

}  // namespace
}  // namespace inventory::testing
