#include "inventory/journal/fault_env.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace inventory {

void FaultEnv::FileState::Write(uint64_t offset, std::string_view bytes) {
  const size_t begin = std::min<size_t>(offset, data.size());  // a gap past the end is written too
  const size_t end = offset + bytes.size();
  if (data.size() < end) data.resize(end, '\0');
  std::memcpy(data.data() + offset, bytes.data(), bytes.size());
  if (dirty_begin == dirty_end) {
    dirty_begin = begin;
    dirty_end = end;
  } else {
    dirty_begin = std::min(dirty_begin, begin);
    dirty_end = std::max(dirty_end, end);
  }
}

void FaultEnv::FileState::MarkSynced() {
  durable.resize(data.size(), '\0');
  if (dirty_end > dirty_begin) {
    std::memcpy(durable.data() + dirty_begin, data.data() + dirty_begin, dirty_end - dirty_begin);
  }
  dirty_begin = dirty_end = 0;
}

class FaultFile final : public WritableFile {
 public:
  FaultFile(FaultEnv* env, std::shared_ptr<FaultEnv::FileState> state, uint64_t offset_bytes)
      : env_(env), state_(std::move(state)), offset_bytes_(offset_bytes) {}
  absl::Status Append(std::string_view data) override {
    std::lock_guard<std::mutex> lock(env_->mu_);
    if (env_->fail_appends_ > 0) {
      --env_->fail_appends_;
      return absl::UnavailableError("injected write failure");
    }
    state_->Write(offset_bytes_, data);
    offset_bytes_ += data.size();
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    std::unique_lock<std::mutex> lock(env_->mu_);
    if (env_->hold_next_sync_) {
      env_->hold_next_sync_ = false;
      env_->sync_held_ = true;
      env_->hold_cv_.wait(lock, [&] { return env_->release_held_; });
      env_->release_held_ = false;
      env_->sync_held_ = false;
      if (env_->release_fails_) return absl::UnavailableError("injected fdatasync failure (held)");
    }
    if (env_->fail_syncs_ > 0) {
      --env_->fail_syncs_;
      return absl::UnavailableError("injected fdatasync failure");
    }
    state_->MarkSynced();
    ++env_->syncs_;
    return absl::OkStatus();
  }
  absl::Status Close() override { return absl::OkStatus(); }

 private:
  FaultEnv* env_;
  std::shared_ptr<FaultEnv::FileState> state_;
  uint64_t offset_bytes_;
};

namespace {
class NoLock final : public DirLock {};
std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}
}  // namespace

absl::StatusOr<std::unique_ptr<WritableFile>> FaultEnv::OpenForWriteAt(const std::string& path,
                                                                       uint64_t offset_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return absl::NotFoundError(fmt::format("{}: no such file", path));
  return std::make_unique<FaultFile>(this, it->second, offset_bytes);
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultEnv::NewWritableFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto state = std::make_shared<FileState>();
  files_[path] = state;
  return std::make_unique<FaultFile>(this, state, 0);
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
  // Truncation is made durable at once (the journal syncs the file right after it).
  if (size_bytes < f.data.size()) f.data.resize(size_bytes);
  if (size_bytes < f.durable.size()) f.durable.resize(size_bytes);
  f.dirty_end = std::min(f.dirty_end, f.data.size());
  if (f.dirty_begin >= f.dirty_end) f.dirty_begin = f.dirty_end = 0;
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
  auto state = it->second;
  files_.erase(it);
  files_[to] = std::move(state);
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
    const size_t begin = f.dirty_begin, end = f.dirty_end;
    std::string out = f.durable;
    if (end > begin) {
      const size_t range = end - begin;
      // landed[i]: byte begin + i reached the disk.
      std::vector<bool> landed(range, false);
      const uint64_t mode = (*rng)() % 3;
      if (mode == 1) {  // independent sectors
        for (size_t s = begin / kSectorBytes * kSectorBytes; s < end; s += kSectorBytes) {
          if ((*rng)() % 2 == 0) continue;
          for (size_t i = std::max(s, begin); i < std::min(s + kSectorBytes, end); ++i) {
            landed[i - begin] = true;
          }
        }
      } else {  // a prefix; mode 2 adds one stray later sector
        const size_t kept = (*rng)() % (range + 1);
        for (size_t i = 0; i < kept; ++i) landed[i] = true;
        if (mode == 2 && kept < range) {
          const size_t stray = begin + kept + (*rng)() % (range - kept);
          const size_t s = stray / kSectorBytes * kSectorBytes;
          for (size_t i = std::max(s, begin); i < std::min(s + kSectorBytes, end); ++i) {
            landed[i - begin] = true;
          }
        }
      }
      size_t size = f.durable.size();
      for (size_t i = range; i > 0; --i) {
        if (landed[i - 1]) {
          size = std::max(size, begin + i);
          break;
        }
      }
      // Garbage: random non-zero bytes anywhere in the torn range; the file grows to cover them
      // (a torn header after zeros, zeros followed by garbage, ...).
      std::vector<size_t> garbage_at;
      if (garbage) {
        const size_t flips = 1 + (*rng)() % 4;
        for (size_t n = 0; n < flips; ++n) {
          garbage_at.push_back(begin + (*rng)() % range);
          size = std::max(size, garbage_at.back() + 1);
        }
      }
      out.resize(size, '\0');
      for (size_t i = 0; i < range && begin + i < size; ++i) {
        if (landed[i]) out[begin + i] = begin + i < f.data.size() ? f.data[begin + i] : '\0';
      }
      for (size_t i : garbage_at) out[i] = static_cast<char>((*rng)() | 1);  // never a zero byte
    }
    // The new "process" sees the torn bytes as written; from now on they are the durable image.
    f.data = out;
    f.durable = std::move(out);
    f.dirty_begin = f.dirty_end = 0;
  }
}

void FaultEnv::FailNextSyncs(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_syncs_ = n;
}

void FaultEnv::HoldNextSync() {
  std::lock_guard<std::mutex> lock(mu_);
  hold_next_sync_ = true;
}

bool FaultEnv::sync_held() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sync_held_;
}

void FaultEnv::ReleaseHeldSync(bool fail) {
  std::lock_guard<std::mutex> lock(mu_);
  release_held_ = true;
  release_fails_ = fail;
  hold_cv_.notify_all();
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
  if (offset < it->second->durable.size()) it->second->durable[offset] ^= 0x5a;
  return true;
}

bool FaultEnv::WriteDurable(const std::string& path, uint64_t offset, std::string_view bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return false;
  FileState& f = *it->second;
  f.Write(offset, bytes);
  f.MarkSynced();
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
