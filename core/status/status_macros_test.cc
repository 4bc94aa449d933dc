#include "core/status/status_macros.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace core {
namespace {

absl::Status FailIf(bool fail) {
  return fail ? absl::InvalidArgumentError("bad") : absl::OkStatus();
}

absl::Status Chain(bool fail, int* reached) {
  RETURN_IF_ERROR(FailIf(fail));
  ++*reached;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<int>> MakeInt(bool fail) {
  if (fail) return absl::UnavailableError("down");
  return std::make_unique<int>(42);
}

absl::StatusOr<int> Unwrap(bool fail) {
  ASSIGN_OR_RETURN(auto p, MakeInt(fail));  // move-only value
  ASSIGN_OR_RETURN(std::unique_ptr<int> q, MakeInt(false));
  return *p + *q;
}

TEST(StatusMacros, ReturnIfErrorPropagatesAndStops) {
  int reached = 0;
  EXPECT_EQ(Chain(true, &reached).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reached, 0);
  EXPECT_TRUE(Chain(false, &reached).ok());
  EXPECT_EQ(reached, 1);
}

TEST(StatusMacros, AssignOrReturnMovesValueOrPropagates) {
  auto ok = Unwrap(false);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 84);
  auto bad = Unwrap(true);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(bad.status().message(), "down");
}

}  // namespace
}  // namespace core
