#include "inventory/journal/fault_env.h"

#include <fmt/format.h>

namespace inventory {

class FaultFile final : public WritableFile {
 public:
  FaultFile(FaultEnv* env, std::shared_ptr<FaultEnv::FileState> state)
      : env_(env), state_(std::move(state)) {}
  absl::Status Append(std::string_view data) override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    if (env_->fail_appends_ > 0) {
      --env_->fail_appends_;
      return absl::UnavailableError("injected write failure");
    }
    state_->data.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    if (env_->fail_syncs_ > 0) {
      --env_->fail_syncs_;
      return absl::UnavailableError("injected fdatasync failure");
    }
    state_->synced_bytes = state_->data.size();
    ++env_->syncs_;
    return absl::OkStatus();
  }
  absl::Status Close() override { return absl::OkStatus(); }

 private:
  FaultEnv* env_;
  std::shared_ptr<FaultEnv::FileState> state_;
};

namespace {
class NoLock final : public DirLock {};
std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}
}  // namespace

absl::StatusOr<std::unique_ptr<WritableFile>> FaultEnv::OpenAppendable(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& state = files_[path];
  if (!state) state = std::make_shared<FileState>();
  return std::make_unique<FaultFile>(this, state);
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultEnv::NewWritableFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto state = std::make_shared<FileState>();
  files_[path] = state;
  return std::make_unique<FaultFile>(this, state);
}

absl::StatusOr<std::string> FaultEnv::ReadFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return absl::NotFoundError(fmt::format("{}: no such file", path));
  return it->second->data;
}

absl::Status FaultEnv::Truncate(const std::string& path, uint64_t size_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return absl::NotFoundError(fmt::format("{}: no such file", path));
  FileState& f = *it->second;
  if (size_bytes < f.data.size()) f.data.resize(size_bytes);
  // Truncation is made durable at once (as the journal follows it with a sync).
  f.synced_bytes = std::min(f.synced_bytes, f.data.size());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> FaultEnv::ListDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [path, state] : files_) {
    if (Parent(path) == dir) names.push_back(path.substr(dir.size() + 1));
  }
  return names;
}

absl::Status FaultEnv::CreateDirs(const std::string&) { return absl::OkStatus(); }

absl::Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(from);
  if (it == files_.end()) return absl::NotFoundError(fmt::format("{}: no such file", from));
  files_[to] = it->second;
  files_.erase(from);
  return absl::OkStatus();
}

absl::Status FaultEnv::Remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (files_.erase(path) == 0) return absl::NotFoundError(fmt::format("{}: no such file", path));
  return absl::OkStatus();
}

absl::Status FaultEnv::SyncDir(const std::string&) { return absl::OkStatus(); }

absl::StatusOr<std::unique_ptr<DirLock>> FaultEnv::Lock(const std::string&) {
  return std::make_unique<NoLock>();
}

void FaultEnv::Crash(std::mt19937_64* rng, bool garbage) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [path, state] : files_) {
    FileState& f = *state;
    const size_t unsynced = f.data.size() - f.synced_bytes;
    const size_t kept = unsynced == 0 ? 0 : (*rng)() % (unsynced + 1);
    f.data.resize(f.synced_bytes + kept);
    if (garbage && kept > 0) {
      const size_t flips = 1 + (*rng)() % 4;
      for (size_t i = 0; i < flips; ++i) {
        f.data[f.synced_bytes + (*rng)() % kept] = static_cast<char>((*rng)());
      }
    }
    // The new "process" sees the torn bytes as written; nothing beyond synced_bytes is durable.
  }
}

void FaultEnv::FailNextSyncs(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_syncs_ = n;
}

void FaultEnv::FailNextAppends(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_appends_ = n;
}

bool FaultEnv::CorruptByte(const std::string& path, uint64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end() || offset >= it->second->data.size()) return false;
  it->second->data[offset] ^= 0x5a;
  return true;
}

uint64_t FaultEnv::FileSize(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second->data.size();
}

uint64_t FaultEnv::syncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return syncs_;
}

}  // namespace inventory
