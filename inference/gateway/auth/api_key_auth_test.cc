#include "inference/gateway/auth/api_key_auth.h"

#include "gtest/gtest.h"

namespace inference::gateway {
namespace {

TEST(ApiKeyAuthTest, Sha256MatchesKnownVector) {
  EXPECT_EQ(ApiKeyAuth::Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKeyAuthTest, UnauthenticatedRateLimitedAndAdmin) {
  core::FakeClock clock;
  auto auth = ApiKeyAuth::Create(
      {{.name = "alice", .sha256_hex = ApiKeyAuth::Sha256Hex("k1"), .rate_per_s = 1, .burst = 2},
       {.name = "ops",
        .sha256_hex = ApiKeyAuth::Sha256Hex("k2"),
        .rate_per_s = 10,
        .burst = 10,
        .admin = true}},
      &clock);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ((*auth)->Authenticate("").status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*auth)->Authenticate("Bearer nope").status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*auth)->Authenticate("Basic k1").status.code(), absl::StatusCode::kUnauthenticated);

  AuthResult a = (*auth)->Authenticate("Bearer k1");
  ASSERT_TRUE(a.status.ok());
  EXPECT_EQ(*a.key_name, "alice");
  EXPECT_EQ((*auth)->RequireAdmin(a).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE((*auth)->Authenticate("Bearer k1").status.ok());
  AuthResult limited = (*auth)->Authenticate("Bearer k1");
  EXPECT_EQ(limited.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(limited.retry_after_ms, 1000);
  clock.AdvanceMs(1000);
  EXPECT_TRUE((*auth)->Authenticate("Bearer k1").status.ok());

  AuthResult ops = (*auth)->Authenticate("Bearer k2");
  ASSERT_TRUE(ops.status.ok());
  EXPECT_TRUE((*auth)->RequireAdmin(ops).ok());
}

TEST(ApiKeyAuthTest, DisabledWithoutKeys) {
  core::FakeClock clock;
  auto auth = ApiKeyAuth::Create({}, &clock);
  ASSERT_TRUE(auth.ok());
  AuthResult r = (*auth)->Authenticate("");
  EXPECT_TRUE(r.status.ok());
  EXPECT_TRUE((*auth)->RequireAdmin(r).ok());
}

TEST(ApiKeyAuthTest, RejectsBadConfig) {
  core::FakeClock clock;
  EXPECT_EQ(ApiKeyAuth::Create({{.name = "a", .sha256_hex = "abc"}}, &clock).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string h = ApiKeyAuth::Sha256Hex("x");
  EXPECT_EQ(
      ApiKeyAuth::Create({{.name = "a", .sha256_hex = h}, {.name = "b", .sha256_hex = h}}, &clock)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ApiKeyAuth::Create({{.name = "a", .sha256_hex = h, .rate_per_s = 0}}, &clock).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace inference::gateway
