#include "core/log/check.h"

#include "gtest/gtest.h"

namespace {

TEST(CheckTest, PassingCheckDoesNothing) {
  int evaluations = 0;
  CORE_CHECK(++evaluations == 1) << "not printed";
  EXPECT_EQ(evaluations, 1);
}

TEST(CheckDeathTest, FailingCheckAbortsWithConditionAndMessage) {
  const int limit = 3;
  EXPECT_DEATH(CORE_CHECK(limit > 5) << "limit is " << limit,
               "CHECK failed: limit > 5: limit is 3");
}

TEST(CheckTest, SafeInsideUnbracedIfElse) {
  bool else_taken = false;
  if (false)
    CORE_CHECK(true) << "unreachable";
  else
    else_taken = true;
  EXPECT_TRUE(else_taken);
}

}  // namespace
