#include "core/http/json.h"

#include "gtest/gtest.h"

namespace core::http {
namespace {

TEST(Json, EscapesStrings) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("q\"b\\n\nt\tc\x01"), "\"q\\\"b\\\\n\\nt\\tc\\u0001\"");
}

TEST(Json, ErrorBodyShape) {
  EXPECT_EQ(JsonErrorBody("invalid_argument", "qty must be > 0", "items[0].qty"),
            "{\"error\":\"invalid_argument\",\"field\":\"items[0].qty\",\"message\":\"qty must be > "
            "0\"}");
  EXPECT_EQ(JsonErrorBody("not_found", "no \"x\""),
            "{\"error\":\"not_found\",\"message\":\"no \\\"x\\\"\"}");
}

TEST(Json, StatusMapping) {
  EXPECT_EQ(HttpStatusFromStatus(absl::InvalidArgumentError("")), 400);
  EXPECT_EQ(HttpStatusFromStatus(absl::NotFoundError("")), 404);
  EXPECT_EQ(HttpStatusFromStatus(absl::FailedPreconditionError("")), 409);
  EXPECT_EQ(HttpStatusFromStatus(absl::ResourceExhaustedError("")), 429);
  EXPECT_EQ(HttpStatusFromStatus(absl::UnavailableError("")), 503);
  EXPECT_EQ(HttpStatusFromStatus(absl::DeadlineExceededError("")), 504);
  Response r = ResponseFromStatus(absl::UnavailableError("journal down"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "{\"error\":\"unavailable\",\"message\":\"journal down\"}");
}

TEST(Json, PaddedBodyParsesWithoutCopy) {
  std::string storage = "{\"delta\": 5}";
  storage.resize(storage.size() + kBodyPaddingBytes, ' ');
  Request r;
  r.body = std::string_view(storage.data(), 12);
  r.set_body_padding_bytes(kBodyPaddingBytes);
  simdjson::ondemand::parser parser;
  auto doc = parser.iterate(PaddedBody(r));
  int64_t delta = 0;
  ASSERT_EQ(doc["delta"].get_int64().get(delta), simdjson::SUCCESS);
  EXPECT_EQ(delta, 5);
}

}  // namespace
}  // namespace core::http
