#include "inference/gateway/routing/routing_watcher.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "core/testing/process.h"
#include "gtest/gtest.h"

namespace inference::gateway {
namespace {

void WriteAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

// Waits (bounded) for `pred`; the watcher polls, so there is no event to block on.
template <typename Pred>
bool Eventually(Pred pred, int timeout_ms = 2000) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

TEST(RoutingWatcherTest, ReloadsAndRefusesBrokenFiles) {
  core::testing::TempDir dir;
  const std::string path = dir.File("routing.yaml");
  WriteAtomically(path, R"(models: {mlp: {versions: {"1": 100}}})");
  std::atomic<int> failures{0};
  auto watcher = RoutingWatcher::Create(
      {.path = path, .poll_interval_ms = 20, .on_reload = [&](bool ok, const std::string&) {
         if (!ok) failures++;
       }});
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  EXPECT_EQ(*(*watcher)->current()->Resolve("mlp", "u", 0), "1");

  WriteAtomically(path, R"(models: {mlp: {versions: {"2": 100}}})");
  ASSERT_TRUE(Eventually([&] { return *(*watcher)->current()->Resolve("mlp", "u", 0) == "2"; }));

  WriteAtomically(path, R"(models: {mlp: {versions: {"3": -5}}})");
  ASSERT_TRUE(Eventually([&] { return failures.load() == 1; }));
  EXPECT_EQ(*(*watcher)->current()->Resolve("mlp", "u", 0), "2");
  EXPECT_NE((*watcher)->last_error().find("models.mlp.versions.3"), std::string::npos);
}

TEST(RoutingWatcherTest, InvalidFileAtStartIsAnError) {
  core::testing::TempDir dir;
  const std::string path = dir.File("routing.yaml");
  WriteAtomically(path, "models: [");
  auto watcher = RoutingWatcher::Create({.path = path});
  EXPECT_EQ(watcher.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RoutingWatcher::Create({.path = path, .poll_interval_ms = 1000}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace inference::gateway
