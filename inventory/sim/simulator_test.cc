// Runs the seeded simulator (simulator.h) for >= 200k operations. The seed is printed;
// SIM_SEED=<seed> reproduces a run, SIM_STEPS=<n> changes its length.
#include "inventory/sim/simulator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

namespace inventory {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(SimulatorTest, InvariantsIdempotencyAndDurabilityHold) {
  SimOptions options;
  options.seed = EnvOr("SIM_SEED", std::random_device{}());
  options.steps = EnvOr("SIM_STEPS", 200'000);
  std::printf("simulator: SIM_SEED=%llu SIM_STEPS=%llu\n",
              static_cast<unsigned long long>(options.seed),
              static_cast<unsigned long long>(options.steps));
  SimStats stats;
  absl::Status s = RunSimulation(options, &stats);
  std::printf("simulator: %s\n", stats.ToString().c_str());
  ASSERT_TRUE(s.ok()) << s << "\nreproduce with SIM_SEED=" << options.seed;
  EXPECT_EQ(stats.steps, options.steps);
  EXPECT_GT(stats.crashes, 10u);
  EXPECT_GT(stats.replays_checked, 1000u);
}

// A few fixed seeds too, so CI always covers known-good runs besides the random one.
TEST(SimulatorTest, FixedSeeds) {
  for (uint64_t seed : {1, 2, 3}) {
    SimOptions options;
    options.seed = seed;
    options.steps = 20'000;
    options.crash_probability = 1.0 / 500;
    SimStats stats;
    absl::Status s = RunSimulation(options, &stats);
    ASSERT_TRUE(s.ok()) << s;
  }
}

}  // namespace
}  // namespace inventory
