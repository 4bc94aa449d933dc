// restart_bench: measures stockd's restart (recovery) time after N journalled operations.
//
//   restart_bench --dir /tmp/rb --ops 1000000 [--snapshot]
//
// Writes N mutating operations (adjusts, then reservations of 1 unit on 1000 SKUs, a third of them
// confirmed or cancelled) into a fresh journal in group commits of 1000 ops, exactly as the writer
// encodes them, without a snapshot (the worst case: everything is replayed) unless --snapshot; then
// times RecoverState() (snapshot load + journal replay) and prints the figures.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "CLI/CLI.hpp"
#include "inventory/engine/engine.h"
#include "inventory/engine/op_codec.h"
#include "inventory/journal/journal.h"
#include "inventory/service/writer.h"

int main(int argc, char** argv) {
  CLI::App app{"Recovery time of the inventory journal after N operations"};
  std::string dir = "/tmp/restart_bench";
  uint64_t ops = 1'000'000;
  bool snapshot = false;
  app.add_option("--dir", dir, "Scratch directory (wiped)");
  app.add_option("--ops", ops, "Journalled operations");
  app.add_flag("--snapshot", snapshot, "Write a snapshot at the end (restart = snapshot load)");
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(dir);
  using inventory::Operation;
  inventory::Env* env = inventory::Env::Posix();
  const inventory::JournalOptions jopts{.dir = dir};
  {
    auto state = inventory::RecoverState(env, jopts, inventory::EngineLimits{});
    if (!state.ok()) {
      std::fprintf(stderr, "%s\n", state.status().ToString().c_str());
      return 1;
    }
    inventory::Engine& engine = *state->engine;
    inventory::Journal& journal = *state->journal;
    std::string payload;
    inventory::OpResult r;
    int64_t now = 1'700'000'000'000;
    uint64_t in_batch = 0;
    for (uint64_t i = 0; i < ops; ++i) {
      Operation op;
      if (i < 1000) {
        op.kind = inventory::OpKind::kAdjust;
        op.sku = fmt::format("sku-{:06d}", i);
        op.delta = 1'000'000;
        op.op_id = fmt::format("seed-{}", i);
      } else if (i % 3 != 0) {
        op.kind = inventory::OpKind::kReserve;
        op.reservation_id = fmt::format("r-{}", i);
        op.items.push_back({fmt::format("sku-{:06d}", i % 1000), 1});
        op.ttl_ms = 600'000;
      } else {
        op.kind = i % 2 ? inventory::OpKind::kConfirm : inventory::OpKind::kCancel;
        op.reservation_id = fmt::format("r-{}", i - 1);
      }
      engine.Apply(op, now, &r);
      if (r.mutated) inventory::EncodeOperation(op, now, &payload);
      if (++in_batch == 1000) {
        if (!journal.Append(payload).ok()) return 1;
        payload.clear();
        in_batch = 0;
        now += 1;
      }
    }
    if (!payload.empty() && !journal.Append(payload).ok()) return 1;
    if (!journal.Sync().ok()) return 1;
    if (snapshot) {
      std::string s;
      engine.Serialize(&s);
      if (!journal.WriteSnapshot(s, journal.last_seq()).ok()) return 1;
    }
  }
  uint64_t bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) bytes += e.file_size();
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto state = inventory::RecoverState(env, jopts, inventory::EngineLimits{});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!state.ok()) {
    std::fprintf(stderr, "%s\n", state.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "restart after %llu journalled ops (%s, %.1f MB on disk): %.3f s; %zu SKUs, %zu reservations "
      "(%zu pending), %llu records replayed\n",
      static_cast<unsigned long long>(ops), snapshot ? "snapshot" : "journal only, no snapshot",
      bytes / 1e6, seconds, state->engine->sku_count(), state->engine->reservation_count(),
      state->engine->pending_count(),
      static_cast<unsigned long long>(state->stats.records_replayed));
  state->journal.reset();  // stops its spare-segment preparation before the directory goes
  std::filesystem::remove_all(dir);
  return 0;
}
