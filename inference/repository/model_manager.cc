#include "inference/repository/model_manager.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/log/check.h"
#include "fmt/format.h"
#include "inference/repository/manifest.h"
#include "spdlog/spdlog.h"

namespace inference {
namespace {

namespace fs = std::filesystem;

// Changes whenever a file of the folder is added, removed, resized or rewritten.
std::string Fingerprint(const std::string& dir) {
  std::vector<std::string> parts;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) != 0) continue;
    parts.push_back(fmt::format("{}:{}:{}.{}", entry.path().filename().string(), st.st_size,
                                st.st_mtim.tv_sec, st.st_mtim.tv_nsec));
  }
  std::sort(parts.begin(), parts.end());
  std::string fp;
  for (const auto& p : parts) fp += p + "|";
  return fp;
}

// The `reason` label of inference_version_rejected_total (verification outcome).
std::string_view RejectKind(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kDataLoss:
      return "verification";
    case absl::StatusCode::kInvalidArgument:
      return "invalid";
    default:
      return "io";
  }
}

// The `reason` label of inference_version_load_failures_total (LoadVersion outcome).
std::string_view LoadFailureKind(const absl::Status& s) {
  const std::string_view message(s.message().data(), s.message().size());
  if (message.starts_with("warm-up")) return "warmup";
  if (absl::IsFailedPrecondition(s)) return "precondition";
  return "backend";
}

// Checks a warm-up output against the config (wildcard -1 dims match anything).
absl::Status CheckOutput(const ModelConfig& config, size_t k, const TensorView& out) {
  const TensorConfig& want = config.outputs[k];
  if (out.datatype != want.datatype) {
    return absl::FailedPreconditionError(fmt::format("warm-up: output '{}' is {}, config says {}",
                                                     want.name, DataTypeName(out.datatype),
                                                     DataTypeName(want.datatype)));
  }
  const size_t offset = config.max_batch_size > 0 ? 1 : 0;
  bool match = out.shape.rank() == want.dims.rank() + offset;
  for (size_t d = 0; match && d < want.dims.rank(); ++d) {
    match = want.dims[d] == -1 || want.dims[d] == out.shape[d + offset];
  }
  if (!match) {
    return absl::FailedPreconditionError(
        fmt::format("warm-up: output '{}' has shape {}, config dims {}", want.name,
                    out.shape.ToString(), want.dims.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view VersionStateName(VersionState s) {
  switch (s) {
    case VersionState::kPending:
      return "PENDING";
    case VersionState::kLoading:
      return "LOADING";
    case VersionState::kReady:
      return "READY";
    case VersionState::kDraining:
      return "DRAINING";
    case VersionState::kUnloaded:
      return "UNLOADED";
    case VersionState::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

ServedVersion::ServedVersion(ModelConfig config, int64_t version,
                             std::unique_ptr<DynamicBatcher> batcher,
                             std::shared_ptr<ModelMetrics> metrics)
    : config_(std::move(config)),
      version_(version),
      version_string_(std::to_string(version)),
      batcher_(std::move(batcher)),
      metrics_(std::move(metrics)) {}

void ServedVersion::Release() {
  metrics_->AddInFlight(-1);
  if (users_.fetch_sub(1, std::memory_order_acq_rel) == 1 &&
      draining_.load(std::memory_order_acquire)) {
    std::lock_guard lock(drain_mu_);
    drain_cv_.notify_all();
  }
}

absl::StatusOr<std::unique_ptr<ModelManager>> ModelManager::Create(ModelManagerOptions options) {
  if (options.metrics == nullptr) return absl::InvalidArgumentError("metrics: required");
  std::error_code ec;
  if (!fs::is_directory(options.repo, ec)) {
    return absl::NotFoundError(fmt::format("repository {}: not a directory", options.repo));
  }
  return std::unique_ptr<ModelManager>(new ModelManager(std::move(options)));
}

ModelManager::ModelManager(ModelManagerOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : core::Clock::Real()) {}

ModelManager::~ModelManager() { Stop(); }

void ModelManager::Start() {
  ReconcileAll();
  ready_.store(true, std::memory_order_release);
  loader_ = std::thread([this] { LoaderLoop(); });
}

void ModelManager::Stop() {
  {
    std::lock_guard lock(loader_mu_);
    if (stop_ && !loader_.joinable()) return;
    stop_ = true;
  }
  ready_.store(false, std::memory_order_release);
  loader_cv_.notify_all();
  if (loader_.joinable()) loader_.join();
  std::vector<std::pair<std::string, int64_t>> served;
  for (const auto& [name, rec] : records_) {
    for (const auto& [v, vr] : rec.versions) {
      if (vr.served) served.emplace_back(name, v);
    }
  }
  for (const auto& [name, v] : served) DrainAndUnload(name, v, "server shutting down");
  for (auto& c : commands_) c.done(absl::UnavailableError("server shutting down"));
  commands_.clear();
}

void ModelManager::RequestRescan() {
  {
    std::lock_guard lock(loader_mu_);
    rescan_requested_ = true;
  }
  loader_cv_.notify_one();
}

void ModelManager::Load(std::string model, std::function<void(absl::Status)> done) {
  {
    std::lock_guard lock(loader_mu_);
    if (stop_) {
      done(absl::UnavailableError("server shutting down"));
      return;
    }
    commands_.push_back({true, std::move(model), std::move(done)});
  }
  loader_cv_.notify_one();
}

void ModelManager::Unload(std::string model, std::function<void(absl::Status)> done) {
  {
    std::lock_guard lock(loader_mu_);
    if (stop_) {
      done(absl::UnavailableError("server shutting down"));
      return;
    }
    commands_.push_back({false, std::move(model), std::move(done)});
  }
  loader_cv_.notify_one();
}

void ModelManager::LoaderLoop() {
  while (true) {
    std::deque<Command> commands;
    bool rescan = false;
    {
      std::unique_lock lock(loader_mu_);
      loader_cv_.wait(lock, [&] { return stop_ || rescan_requested_ || !commands_.empty(); });
      if (stop_) return;
      commands.swap(commands_);
      rescan = rescan_requested_;
      rescan_requested_ = false;
    }
    for (Command& c : commands) {
      const std::string model_dir = options_.repo + "/" + c.model;
      std::error_code ec;
      if (c.model.empty() || c.model.find('/') != std::string::npos ||
          !fs::is_directory(model_dir, ec)) {
        // Unloading a model whose folder is gone is still allowed when it is known.
        bool known = false;
        {
          std::lock_guard lock(records_mu_);
          known = records_.contains(c.model);
        }
        if (!known || c.load) {
          c.done(absl::NotFoundError(fmt::format("unknown model '{}'", c.model)));
          continue;
        }
      }
      {
        std::lock_guard lock(records_mu_);
        ModelRecord& rec = records_[c.model];
        rec.disabled = !c.load;
        if (c.load) {
          // Retry rejected versions even when their files did not change.
          for (auto& [v, vr] : rec.versions) {
            if (vr.state == VersionState::kFailed) vr.fingerprint.clear();
          }
        }
      }
      absl::Status s = Reconcile(c.model);
      if (s.ok() && c.load && ReadyVersions(c.model).empty()) {
        std::string reasons;
        std::lock_guard lock(records_mu_);
        const ModelRecord& rec = records_[c.model];
        if (!rec.reason.empty()) reasons = rec.reason;
        for (const auto& [v, vr] : rec.versions) {
          if (!vr.reason.empty())
            reasons += fmt::format("{}{}: {}", reasons.empty() ? "" : "; ", v, vr.reason);
        }
        s = absl::FailedPreconditionError(fmt::format("model '{}' has no loadable version{}{}",
                                                      c.model, reasons.empty() ? "" : ": ",
                                                      reasons));
      }
      c.done(s);
    }
    if (rescan) ReconcileAll();
  }
}

void ModelManager::ReconcileAll() {
  std::set<std::string> models;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.repo, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory(ec) && !name.starts_with(".")) models.insert(name);
  }
  {
    std::lock_guard lock(records_mu_);
    for (const auto& [name, rec] : records_) models.insert(name);
  }
  for (const std::string& m : models) {
    absl::Status s = Reconcile(m);
    if (!s.ok()) spdlog::warn("repository: {}: {}", m, std::string(s.message()));
  }
}

void ModelManager::SetState(const std::string& model, int64_t version, VersionState state,
                            std::string reason) {
  std::lock_guard lock(records_mu_);
  VersionRecord& vr = records_[model].versions[version];
  vr.state = state;
  vr.reason = std::move(reason);
}

void ModelManager::Publish(const std::string& model, std::shared_ptr<ServedVersion> v) {
  std::unique_lock lock(serving_mu_);
  const int64_t version = v->version();
  serving_[model][version] = std::move(v);
}

void ModelManager::Withdraw(const std::string& model, int64_t version) {
  std::unique_lock lock(serving_mu_);
  auto it = serving_.find(model);
  if (it != serving_.end()) it->second.erase(version);
}

void ModelManager::VerifyIfChanged(const std::string& model, ModelRecord& rec, int64_t version) {
  VersionRecord& vr = rec.versions[version];
  if (vr.state != VersionState::kPending && vr.state != VersionState::kFailed) return;
  const std::string dir = fmt::format("{}/{}/{}", options_.repo, model, version);
  std::string fp = Fingerprint(dir);
  if (fp == vr.fingerprint) return;
  ChainView chain;
  const std::string model_dir = options_.repo + "/" + model;
  ChainView disk = DiskChain(model_dir);
  chain.manifest_sha256 = [&](int64_t v) -> std::optional<std::string> {
    if (auto s = disk.manifest_sha256(v)) return s;
    auto it = rec.manifest_sha.find(v);
    if (it != rec.manifest_sha.end()) return it->second;
    return std::nullopt;
  };
  chain.has_lower = [&](int64_t v) {
    return disk.has_lower(v) || (!rec.manifest_sha.empty() && rec.manifest_sha.begin()->first < v);
  };
  absl::StatusOr<VerifiedVersion> verified = VerifyVersion(dir, model, version, chain);
  std::lock_guard lock(records_mu_);
  vr.fingerprint = std::move(fp);
  if (verified.ok()) {
    vr.verified = true;
    vr.state = VersionState::kPending;
    vr.reason.clear();
    rec.manifest_sha[version] = verified->manifest_sha256;
    spdlog::info("repository: {}/{}: verified ({} file(s))", model, version,
                 verified->manifest.files.size());
    return;
  }
  vr.verified = false;
  if (absl::IsNotFound(verified.status())) {
    vr.state = VersionState::kPending;
    vr.reason = std::string(verified.status().message());
    return;
  }
  vr.state = VersionState::kFailed;
  vr.reason = std::string(verified.status().message());
  options_.metrics->RecordVersionRejected(model, RejectKind(verified.status()));
  spdlog::warn("repository: {}/{} REJECTED: {}", model, version, vr.reason);
}

absl::Status ModelManager::Reconcile(const std::string& model) {
  const std::string model_dir = options_.repo + "/" + model;
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec)) {
    std::vector<int64_t> served;
    {
      std::lock_guard lock(records_mu_);
      auto it = records_.find(model);
      if (it == records_.end()) return absl::OkStatus();
      for (const auto& [v, vr] : it->second.versions) {
        if (vr.served) served.push_back(v);
      }
    }
    for (int64_t v : served) DrainAndUnload(model, v, "model removed from repository");
    {
      std::lock_guard lock(records_mu_);
      records_.erase(model);
    }
    std::unique_lock lock(serving_mu_);
    serving_.erase(model);
    return absl::OkStatus();
  }
  {
    std::unique_lock lock(serving_mu_);
    serving_[model];  // known from now on (Acquire: Unavailable rather than NotFound)
  }
  ModelRecord* rec;
  {
    std::lock_guard lock(records_mu_);
    rec = &records_[model];
  }
  absl::StatusOr<ModelConfig> config = LoadModelConfig(model_dir + "/config.yaml", model);
  if (!config.ok()) {
    const std::string reason(config.status().message());
    if (rec->reason != reason) {
      spdlog::warn("repository: {}: config rejected: {}", model, reason);
      options_.metrics->RecordVersionRejected(model, "config");
    }
    std::lock_guard lock(records_mu_);
    rec->reason = reason;
    return absl::OkStatus();  // keeps serving what is loaded
  }
  {
    std::lock_guard lock(records_mu_);
    rec->reason.clear();
  }

  const std::vector<int64_t> on_disk = ListVersions(model_dir);
  // Versions whose folder went away.
  std::vector<int64_t> gone;
  for (const auto& [v, vr] : rec->versions) {
    if (!std::binary_search(on_disk.begin(), on_disk.end(), v)) gone.push_back(v);
  }
  for (int64_t v : gone) {
    if (rec->versions[v].served) DrainAndUnload(model, v, "removed from repository");
    std::lock_guard lock(records_mu_);
    rec->versions.erase(v);
  }
  for (int64_t v : on_disk) {
    {
      std::lock_guard lock(records_mu_);
      rec->versions[v];
    }
    VerifyIfChanged(model, *rec, v);
  }

  std::vector<int64_t> desired;
  for (int round = 0; round <= static_cast<int>(on_disk.size()); ++round) {
    std::vector<int64_t> candidates;
    for (const auto& [v, vr] : rec->versions) {
      if (vr.verified && vr.state != VersionState::kFailed) candidates.push_back(v);
    }
    desired =
        rec->disabled ? std::vector<int64_t>{} : SelectVersions(config->version_policy, candidates);
    bool failed = false;
    for (int64_t v : desired) {
      if (rec->versions[v].state == VersionState::kReady) continue;
      absl::Status s = LoadVersion(model, *config, v);
      if (!s.ok()) {
        failed = true;
        SetState(model, v, VersionState::kFailed, std::string(s.message()));
        options_.metrics->RecordLoadFailure(model, LoadFailureKind(s));
        spdlog::warn("repository: {}/{} FAILED to load: {}", model, v, std::string(s.message()));
      }
    }
    if (!failed) break;
  }
  const int64_t newest = desired.empty() ? 0 : desired.back();
  for (auto& [v, vr] : rec->versions) {
    if (std::find(desired.begin(), desired.end(), v) != desired.end()) continue;
    if (vr.served) {
      DrainAndUnload(model, v,
                     rec->disabled ? "unloaded on request"
                     : newest > v  ? fmt::format("superseded by version {}", newest)
                                   : "not selected by version_policy");
    } else if (vr.verified && vr.state == VersionState::kPending) {
      SetState(model, v, VersionState::kUnloaded,
               rec->disabled ? "unloaded on request" : "not selected by version_policy");
    }
  }
  return absl::OkStatus();
}

absl::Status ModelManager::LoadVersion(const std::string& model, const ModelConfig& config,
                                       int64_t version) {
  SetState(model, version, VersionState::kLoading, "");
  const int64_t start_ns = clock_->NowNs();
  auto factory = options_.backends.find(config.platform);
  if (factory == options_.backends.end()) {
    return absl::FailedPreconditionError(
        fmt::format("no backend for platform '{}' in this build", config.platform));
  }
  const std::string path =
      fmt::format("{}/{}/{}/{}", options_.repo, model, version, config.default_model_filename);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return absl::FailedPreconditionError(
        fmt::format("model file '{}' missing", config.default_model_filename));
  }
  std::vector<std::unique_ptr<Backend>> instances;
  for (int i = 0; i < config.instances; ++i) {
    absl::StatusOr<std::unique_ptr<Backend>> b = factory->second(config, path);
    if (!b.ok()) return b.status();
    instances.push_back(*std::move(b));
  }
  // Warm-up: one inference of zeros per instance, outputs checked against the config.
  std::vector<std::vector<char>> zeros(config.inputs.size());
  std::vector<TensorView> views(config.inputs.size());
  for (size_t i = 0; i < config.inputs.size(); ++i) {
    Shape shape = config.InputShape(i, 1);
    for (size_t d = 0; d < shape.rank(); ++d) {
      if (shape[d] < 0) shape[d] = 1;
    }
    const size_t bytes =
        static_cast<size_t>(shape.elements()) * DataTypeBytes(config.inputs[i].datatype);
    zeros[i].assign(bytes, 0);
    views[i] = TensorView{config.inputs[i].datatype, shape, zeros[i].data(), bytes};
  }
  for (auto& instance : instances) {
    instance->AttachToThread();
    absl::StatusOr<std::vector<Tensor>> out = instance->Run(views);
    if (!out.ok()) {
      return absl::FailedPreconditionError(
          fmt::format("warm-up failed: {}", std::string(out.status().message())));
    }
    if (out->size() != config.outputs.size()) {
      return absl::FailedPreconditionError(
          fmt::format("warm-up: model returned {} outputs, config declares {}", out->size(),
                      config.outputs.size()));
    }
    for (size_t k = 0; k < out->size(); ++k) {
      absl::Status s = CheckOutput(config, k, (*out)[k].view);
      if (!s.ok()) return s;
    }
  }
  std::shared_ptr<ModelMetrics> metrics = options_.metrics->AddModel(
      model, std::to_string(version), config.dynamic_batching.queue_size_max);
  DynamicBatcherOptions bo;
  bo.queue.max_batch_size = config.max_batch_size;
  bo.queue.max_queue_delay_ns = config.dynamic_batching.max_queue_delay_us * 1000;
  bo.queue.preferred_batch_sizes = config.dynamic_batching.preferred_batch_sizes;
  bo.queue.queue_size_max = config.dynamic_batching.queue_size_max;
  bo.queue.priority_levels = config.priority_levels;
  bo.queue.adaptive_release = config.dynamic_batching.adaptive_release;
  bo.queue.continuous = config.kind == ModelKind::kGenerator;
  bo.output_count = config.outputs.size();
  bo.clock = clock_;
  bo.metrics = metrics.get();
  absl::StatusOr<std::unique_ptr<DynamicBatcher>> batcher =
      DynamicBatcher::Create(std::move(bo), std::move(instances));
  if (!batcher.ok()) {
    options_.metrics->RemoveModel(metrics.get());
    return batcher.status();
  }
  auto served = std::make_shared<ServedVersion>(config, version, *std::move(batcher), metrics);
  {
    std::lock_guard lock(records_mu_);
    VersionRecord& vr = records_[model].versions[version];
    vr.served = served;
    vr.state = VersionState::kReady;
    vr.reason.clear();
  }
  Publish(model, std::move(served));
  options_.metrics->RecordVersionLoaded(model);
  spdlog::info("repository: {}/{} READY ({} instance(s), loaded and warmed up in {} ms)", model,
               version, config.instances, (clock_->NowNs() - start_ns) / 1000000);
  return absl::OkStatus();
}

void ModelManager::DrainAndUnload(const std::string& model, int64_t version, std::string reason) {
  std::shared_ptr<ServedVersion> v;
  {
    std::lock_guard lock(records_mu_);
    VersionRecord& vr = records_[model].versions[version];
    v = vr.served;
    vr.state = VersionState::kDraining;
    vr.reason = reason;
  }
  if (!v) return;
  Withdraw(model, version);  // no new lease from here on
  v->draining_.store(true, std::memory_order_release);
  {
    std::unique_lock lock(v->drain_mu_);
    const bool drained =
        v->drain_cv_.wait_for(lock, std::chrono::milliseconds(options_.drain_timeout_ms),
                              [&] { return v->users_.load(std::memory_order_acquire) == 0; });
    if (!drained) {
      spdlog::warn("repository: {}/{}: {} request(s) still in flight after {} ms; unloading anyway",
                   model, version, v->users_.load(), options_.drain_timeout_ms);
    }
  }
  v->batcher_->Stop();  // completes anything still queued
  options_.metrics->RemoveModel(v->metrics());
  {
    std::lock_guard lock(records_mu_);
    VersionRecord& vr = records_[model].versions[version];
    vr.served.reset();
    vr.state = VersionState::kUnloaded;
    vr.reason = std::move(reason);
  }
  v.reset();
  spdlog::info("repository: {}/{} drained and UNLOADED", model, version);
}

absl::StatusOr<VersionLease> ModelManager::Acquire(std::string_view model,
                                                   std::string_view version) const {
  std::shared_lock lock(serving_mu_);
  auto it = serving_.find(model);
  if (it == serving_.end()) {
    return absl::NotFoundError(fmt::format("unknown model '{}'", model));
  }
  std::shared_ptr<ServedVersion> v;
  if (version.empty()) {
    if (it->second.empty()) {
      return absl::UnavailableError(fmt::format("model '{}' has no ready version", model));
    }
    v = it->second.rbegin()->second;
  } else {
    int64_t n = 0;
    auto [ptr, err] = std::from_chars(version.data(), version.data() + version.size(), n);
    auto vit = err == std::errc() && ptr == version.data() + version.size() ? it->second.find(n)
                                                                            : it->second.end();
    if (vit == it->second.end()) {
      return absl::NotFoundError(
          fmt::format("model '{}' version '{}' is not ready", model, version));
    }
    v = vit->second;
  }
  v->users_.fetch_add(1, std::memory_order_acq_rel);
  v->metrics()->AddInFlight(1);
  return VersionLease(std::move(v));
}

std::vector<int64_t> ModelManager::ReadyVersions(std::string_view model) const {
  std::shared_lock lock(serving_mu_);
  std::vector<int64_t> out;
  auto it = serving_.find(model);
  if (it != serving_.end()) {
    for (const auto& [v, sv] : it->second) out.push_back(v);
  }
  return out;
}

std::vector<ModelManager::IndexEntry> ModelManager::Index(bool ready_only) const {
  std::vector<IndexEntry> out;
  std::lock_guard lock(records_mu_);
  for (const auto& [name, rec] : records_) {
    if (rec.versions.empty() && !ready_only) {
      out.push_back({name, "", "UNAVAILABLE", rec.reason});
    }
    for (const auto& [v, vr] : rec.versions) {
      if (ready_only && vr.state != VersionState::kReady) continue;
      std::string reason = vr.reason;
      if (reason.empty() && !rec.reason.empty()) reason = rec.reason;
      out.push_back({name, std::to_string(v), std::string(VersionStateName(vr.state)), reason});
    }
  }
  return out;
}

}  // namespace inference
