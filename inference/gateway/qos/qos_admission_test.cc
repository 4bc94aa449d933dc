#include "inference/gateway/qos/qos_admission.h"

#include <vector>

#include "gtest/gtest.h"

namespace inference::gateway {
namespace {

TEST(QosAdmissionTest, ParsesLevels) {
  EXPECT_EQ(*ParseQos(""), QosLevel::kSilver);
  EXPECT_EQ(*ParseQos("gold"), QosLevel::kGold);
  EXPECT_EQ(*ParseQos("bronze"), QosLevel::kBronze);
  EXPECT_EQ(ParseQos("platinum").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WorkerPriority(QosLevel::kGold), 1);
  EXPECT_EQ(WorkerPriority(QosLevel::kBronze), 3);
}

TEST(QosAdmissionTest, ShedsBronzeThenSilverThenGold) {
  QosAdmission admission(
      {.inflight_per_endpoint_max = 10, .bronze_shed_at = 0.5, .silver_shed_at = 0.8});
  std::vector<QosAdmission::Ticket> held;
  // 2 endpoints -> capacity 20: bronze up to 10 in flight, silver up to 16, gold up to 20.
  for (int i = 0; i < 10; ++i) held.push_back(*admission.Admit(QosLevel::kBronze, 2));
  EXPECT_EQ(admission.Admit(QosLevel::kBronze, 2).status().code(),
            absl::StatusCode::kResourceExhausted);
  for (int i = 0; i < 6; ++i) held.push_back(*admission.Admit(QosLevel::kSilver, 2));
  EXPECT_FALSE(admission.Admit(QosLevel::kSilver, 2).ok());
  for (int i = 0; i < 4; ++i) held.push_back(*admission.Admit(QosLevel::kGold, 2));
  EXPECT_FALSE(admission.Admit(QosLevel::kGold, 2).ok());
  EXPECT_EQ(admission.inflight(), 20);
  EXPECT_EQ(admission.shed(QosLevel::kBronze), 1);
  EXPECT_EQ(admission.shed(QosLevel::kSilver), 1);
  EXPECT_EQ(admission.shed(QosLevel::kGold), 1);
  held.clear();
  EXPECT_EQ(admission.inflight(), 0);
  EXPECT_TRUE(admission.Admit(QosLevel::kBronze, 2).ok());
}

TEST(QosAdmissionTest, ValidatesOptions) {
  EXPECT_FALSE(QosAdmission::Validate({.bronze_shed_at = 0.9, .silver_shed_at = 0.5}).ok());
  EXPECT_FALSE(QosAdmission::Validate({.inflight_per_endpoint_max = 0}).ok());
  EXPECT_TRUE(QosAdmission::Validate({}).ok());
}

}  // namespace
}  // namespace inference::gateway
