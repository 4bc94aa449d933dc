#include "core/process/scheduler.h"

#include <fmt/format.h>
#include <sched.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace core {

void AddSchedulerOption(CLI::App& app, std::string* policy) {
  *policy = std::string(kDefaultScheduler);
  app.add_option("--scheduler", *policy,
                 "thread scheduling policy: batch (SCHED_BATCH: a woken thread does not preempt "
                 "its waker; default) | other (SCHED_OTHER)")
      ->check(CLI::IsMember({"batch", "other"}));
}

absl::Status ApplyScheduler(std::string_view policy) {
  int native = 0;
  if (policy == "batch") {
    native = SCHED_BATCH;
  } else if (policy == "other") {
    native = SCHED_OTHER;
  } else {
    return absl::InvalidArgumentError(
        fmt::format("scheduler '{}': expected batch or other", policy));
  }
  if (!SetThreadPolicy(native)) {
    return absl::InternalError(
        fmt::format("sched_setscheduler({}): {}", policy, std::strerror(errno)));
  }
  return absl::OkStatus();
}

bool SetThreadPolicy(int policy) {
  sched_param param{};
  param.sched_priority = 0;
  return sched_setscheduler(0, policy, &param) == 0;  // 0: the calling thread
}

absl::Status ApplySchedulerOption(const CLI::App& app, const std::string& policy) {
  absl::Status status = ApplyScheduler(policy);
  if (status.ok() || app.count("--scheduler") > 0) return status;
  std::fprintf(stderr,
               "warning: default scheduling policy not applied (%s); running with the "
               "kernel default\n",
               std::string(status.message()).c_str());
  return absl::OkStatus();
}

int ApplySchedulerOptionOrExitCode(const CLI::App& app, const std::string& policy) {
  absl::Status s = ApplySchedulerOption(app, policy);
  if (s.ok()) return 0;
  std::fprintf(stderr, "--scheduler: %s\n", std::string(s.message()).c_str());
  return 2;
}

}  // namespace core
