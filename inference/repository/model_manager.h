#pragma once
// ModelManager: the worker's model repository at run time. It reconciles the folder tree with what
// is served, one model at a time, on its own loader thread:
//
//   PENDING   version folder seen; no MANIFEST.json yet, or verified and about to load
//   LOADING   verified (manifest, every hash, chain link); backends being created and warmed up
//   READY     served; requests without a version go to the highest READY version
//   DRAINING  replaced or removed: no new requests; waits for its in-flight requests to finish
//   UNLOADED  released (superseded, not selected by version_policy, or unloaded on request)
//   FAILED    rejected (verification or load), with the reason; retried only when its files change
//
// A rejected version never blocks anything: the previous version keeps serving and later versions
// are verified and loaded on their own. A new version is warmed up (one inference per instance)
// before it is READY; only then is the version it replaces drained, so swaps lose no request.
//
// Thread safety: Acquire/Index/Metadata from any thread (the serving map is under a reader lock
// taken for a few hundred nanoseconds); Load/Unload/RequestRescan from any thread (queued to the
// loader thread); Start/Stop from the controlling thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock/clock.h"
#include "inference/backend/backend.h"
#include "inference/batcher/dynamic_batcher.h"
#include "inference/metrics/model_metrics.h"
#include "inference/repository/model_config.h"

namespace inference {

enum class VersionState { kPending, kLoading, kReady, kDraining, kUnloaded, kFailed };
std::string_view VersionStateName(VersionState state);

// A READY model version: its config, batcher and metrics. Shared by the serving map and the leases
// of requests in flight.
class ServedVersion {
 public:
  ServedVersion(ModelConfig config, int64_t version, std::unique_ptr<DynamicBatcher> batcher,
                std::shared_ptr<ModelMetrics> metrics);
  const ModelConfig& config() const { return config_; }
  int64_t version() const { return version_; }
  const std::string& version_string() const { return version_string_; }
  DynamicBatcher& batcher() { return *batcher_; }
  ModelMetrics* metrics() { return metrics_.get(); }

 private:
  friend class ModelManager;
  friend class VersionLease;
  void Release();

  const ModelConfig config_;
  const int64_t version_;
  const std::string version_string_;
  std::unique_ptr<DynamicBatcher> batcher_;
  std::shared_ptr<ModelMetrics> metrics_;
  std::atomic<int64_t> users_{0};
  std::atomic<bool> draining_{false};
  std::mutex drain_mu_;
  std::condition_variable drain_cv_;
};

// Keeps a version from being unloaded while a request uses it. Move-only; release by destruction.
class VersionLease {
 public:
  VersionLease() = default;
  explicit VersionLease(std::shared_ptr<ServedVersion> v) : v_(std::move(v)) {}
  VersionLease(VersionLease&&) noexcept = default;
  VersionLease& operator=(VersionLease&& other) noexcept {
    if (this != &other) {
      Reset();
      v_ = std::move(other.v_);
    }
    return *this;
  }
  ~VersionLease() { Reset(); }
  ServedVersion* operator->() const { return v_.get(); }
  ServedVersion* get() const { return v_.get(); }
  explicit operator bool() const { return v_ != nullptr; }
  void Reset() {
    if (v_) {
      v_->Release();
      v_.reset();
    }
  }

 private:
  std::shared_ptr<ServedVersion> v_;
};

struct ModelManagerOptions {
  std::string repo;
  std::map<std::string, BackendFactory> backends;  // platform ("torchscript", "onnx") -> factory
  WorkerMetrics* metrics = nullptr;                // required
  core::Clock* clock = nullptr;                    // default: real clock
  int drain_timeout_ms = 30000;                    // then the version is unloaded anyway
};

class ModelManager {
 public:
  static absl::StatusOr<std::unique_ptr<ModelManager>> Create(ModelManagerOptions options);
  ~ModelManager();

  // Scans and loads the repository (blocking), then starts the loader thread.
  void Start();
  // Stops the loader thread and drains and unloads every version.
  void Stop();
  // Asks the loader thread to rescan the whole repository (cheap; coalesced).
  void RequestRescan();

  // Serving path. NotFound: unknown model, or the named version is not READY. Unavailable: the
  // model is known but has no READY version.
  absl::StatusOr<VersionLease> Acquire(std::string_view model, std::string_view version) const;
  std::vector<int64_t> ReadyVersions(std::string_view model) const;

  struct IndexEntry {
    std::string name, version, state, reason;
  };
  std::vector<IndexEntry> Index(bool ready_only) const;

  // Repository extension; `done` runs on the loader thread. Load: (re)enables the model, retries
  // its rejected versions, OK when a version is READY afterwards. Unload: disables it (the watcher
  // will not load it again until Load) and drains every version.
  void Load(std::string model, std::function<void(absl::Status)> done);
  void Unload(std::string model, std::function<void(absl::Status)> done);

  bool ready() const { return ready_.load(std::memory_order_acquire); }

 private:
  struct VersionRecord {
    VersionState state = VersionState::kPending;
    std::string reason;
    std::string fingerprint;
    bool verified = false;
    std::shared_ptr<ServedVersion> served;
  };
  struct ModelRecord {
    std::map<int64_t, VersionRecord> versions;
    std::map<int64_t, std::string> manifest_sha;  // verified manifests, kept after folders go
    bool disabled = false;
    std::string reason;  // model-level problem (config.yaml)
  };
  struct Command {
    bool load;
    std::string model;
    std::function<void(absl::Status)> done;
  };

  explicit ModelManager(ModelManagerOptions options);
  void LoaderLoop();
  void ReconcileAll();
  absl::Status Reconcile(const std::string& model);
  void VerifyIfChanged(const std::string& model, ModelRecord& rec, int64_t version);
  absl::Status LoadVersion(const std::string& model, const ModelConfig& config, int64_t version);
  void DrainAndUnload(const std::string& model, int64_t version, std::string reason);
  void SetState(const std::string& model, int64_t version, VersionState state, std::string reason);
  void Publish(const std::string& model, std::shared_ptr<ServedVersion> v);
  void Withdraw(const std::string& model, int64_t version);

  const ModelManagerOptions options_;
  core::Clock* const clock_;

  // The serving map: READY versions by model. Every known model has an entry (maybe empty).
  mutable std::shared_mutex serving_mu_;
  std::map<std::string, std::map<int64_t, std::shared_ptr<ServedVersion>>, std::less<>> serving_;

  // Repository records: written by the loader thread only (under records_mu_), read by Index().
  mutable std::mutex records_mu_;
  std::map<std::string, ModelRecord> records_;

  std::mutex loader_mu_;
  std::condition_variable loader_cv_;
  bool rescan_requested_ = false;
  bool stop_ = false;
  std::deque<Command> commands_;
  std::thread loader_;
  std::atomic<bool> ready_{false};
};

}  // namespace inference
