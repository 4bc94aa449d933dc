#include "core/process/scheduler.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <CLI/CLI.hpp>
#include <thread>

namespace core {
namespace {

// Each case runs on its own thread: the policy belongs to the calling thread.
template <typename F>
void OnThread(F f) {
  std::thread t(f);
  t.join();
}

TEST(SchedulerTest, AppliesBatchAndOther) {
  OnThread([] {
    ASSERT_TRUE(ApplyScheduler("batch").ok());
    EXPECT_EQ(sched_getscheduler(0), SCHED_BATCH);
    ASSERT_TRUE(ApplyScheduler("other").ok());
    EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
  });
}

TEST(SchedulerTest, UnknownPolicyIsInvalidArgument) {
  absl::Status s = ApplyScheduler("fifo");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("fifo"), std::string::npos);
}

TEST(SchedulerTest, OptionDefaultsToBatchAndRefusesUnknownNames) {
  OnThread([] {
    CLI::App app;
    std::string policy;
    AddSchedulerOption(app, &policy);
    const char* argv[] = {"prog"};
    app.parse(1, argv);
    EXPECT_EQ(policy, "batch");
    ASSERT_TRUE(ApplySchedulerOption(app, policy).ok());
    EXPECT_EQ(sched_getscheduler(0), SCHED_BATCH);

    CLI::App other;
    AddSchedulerOption(other, &policy);
    const char* argv_other[] = {"prog", "--scheduler", "other"};
    other.parse(3, argv_other);
    ASSERT_TRUE(ApplySchedulerOption(other, policy).ok());
    EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);

    CLI::App bad;
    AddSchedulerOption(bad, &policy);
    const char* argv_bad[] = {"prog", "--scheduler", "fifo"};
    EXPECT_THROW(bad.parse(3, argv_bad), CLI::ValidationError);
  });
}

}  // namespace
}  // namespace core
