#pragma once
// Scheduling policy of a server process, chosen on the command line (--scheduler) and applied in
// main() before any thread starts, so every thread inherits it (and so do spawned children).
//
//   batch (the default): SCHED_BATCH. Same CPU share as the default policy, but a thread that is
//     woken does not preempt the one that woke it. Our servers hand work between threads (network
//     thread -> writer -> sync thread -> network thread in stockd; downstream and upstream I/O in
//     the gateway): under the default policy each handoff preempted the waker at once, so a busy
//     stockd did about one context switch per request and its network thread never got to read
//     the next socket before the writer ran. Measured on the 2-core dev VM, stockd HTTP single-op,
//     64 connections: 101k -> 25k context switches per 2 s and 30-33k -> 40-49k reservations/s.
//   other: SCHED_OTHER, the kernel's default (lowest latency for a lone request on a busy core).

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace CLI {
class App;
}

namespace core {

inline constexpr std::string_view kDefaultScheduler = "batch";

// Adds --scheduler batch|other to `app`, stored in *policy (preset to kDefaultScheduler).
void AddSchedulerOption(CLI::App& app, std::string* policy);
// Applies `policy` to the calling thread (call before starting threads). InvalidArgument for an
// unknown name; the OS error otherwise.
absl::Status ApplyScheduler(std::string_view policy);
// Moves the calling thread to the native policy `policy` (SCHED_BATCH, SCHED_OTHER; priority 0);
// false (errno set) when the OS refuses. ApplyScheduler and the HTTP I/O threads, which switch to
// SCHED_OTHER while they serve an event stream, both go through it.
bool SetThreadPolicy(int policy);
// Applies the parsed --scheduler of `app` (after parsing, before starting threads). A policy given
// on the command line must apply (its error is returned); the default is a performance hint only:
// if the OS refuses it (a seccomp profile, say), a warning goes to stderr and OK is returned.
absl::Status ApplySchedulerOption(const CLI::App& app, const std::string& policy);
// ApplySchedulerOption for a main(): 0 when applied; otherwise prints "--scheduler: <why>" to
// stderr and returns 2, the exit code for a bad command line.
int ApplySchedulerOptionOrExitCode(const CLI::App& app, const std::string& policy);

}  // namespace core
