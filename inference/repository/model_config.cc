#include "inference/repository/model_config.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "fmt/format.h"
#include "yaml-cpp/yaml.h"

namespace inference {
namespace {

absl::Status Invalid(std::string_view model, std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("{}/config.yaml: {}: {}", model, field, what));
}

absl::StatusOr<TensorConfig> ParseTensor(const YAML::Node& node, std::string_view model,
                                         const std::string& field) {
  if (!node.IsMap()) return Invalid(model, field, "expected a map {name, datatype, dims}");
  TensorConfig t;
  t.name = node["name"].as<std::string>("");
  if (t.name.empty()) return Invalid(model, field + ".name", "missing");
  auto dt = ParseDataType(node["datatype"].as<std::string>(""));
  if (!dt) return Invalid(model, field + ".datatype", "missing or unsupported");
  t.datatype = *dt;
  const YAML::Node dims = node["dims"];
  if (!dims || !dims.IsSequence()) return Invalid(model, field + ".dims", "expected a list");
  if (dims.size() + 1 > kTensorDimsMax) return Invalid(model, field + ".dims", "too many dims");
  for (const auto& d : dims) {
    int64_t v = d.as<int64_t>();
    if (v == 0 || v < -1) return Invalid(model, field + ".dims", "each dim is > 0 or -1");
    t.dims.Append(v);
  }
  return t;
}

absl::StatusOr<VersionPolicy> ParsePolicy(const YAML::Node& node, std::string_view model) {
  VersionPolicy p;
  if (!node) return p;
  auto parse_specific = [&](const YAML::Node& list) -> absl::Status {
    if (!list.IsSequence() || list.size() == 0) {
      return Invalid(model, "version_policy", "specific needs a non-empty list");
    }
    p.kind = VersionPolicy::Kind::kSpecific;
    for (const auto& v : list) p.specific.push_back(v.as<int64_t>());
    return absl::OkStatus();
  };
  if (node.IsScalar()) {
    std::string text = node.as<std::string>();
    if (text == "all") {
      p.kind = VersionPolicy::Kind::kAll;
      return p;
    }
    if (text.rfind("latest", 0) == 0) {
      std::string n = text.substr(6);
      p.latest = n.empty() ? 1 : std::atoi(n.c_str());
      if (p.latest < 1) return Invalid(model, "version_policy", "latest N needs N >= 1");
      return p;
    }
    if (text.rfind("specific", 0) == 0) {
      YAML::Node list = YAML::Load(text.substr(8));
      absl::Status s = parse_specific(list);
      if (!s.ok()) return s;
      return p;
    }
    return Invalid(model, "version_policy", "expected 'latest N', 'all' or 'specific [..]'");
  }
  if (node.IsMap()) {
    if (node["all"]) {
      p.kind = VersionPolicy::Kind::kAll;
    } else if (node["latest"]) {
      p.latest = node["latest"].as<int>();
      if (p.latest < 1) return Invalid(model, "version_policy.latest", "must be >= 1");
    } else if (node["specific"]) {
      absl::Status s = parse_specific(node["specific"]);
      if (!s.ok()) return s;
    } else {
      return Invalid(model, "version_policy", "expected latest, all or specific");
    }
    return p;
  }
  return Invalid(model, "version_policy", "expected a string or a map");
}

// kind, state, sequence_batching, generation, streaming (after inputs/outputs are parsed).
absl::Status ParseStreaming(const YAML::Node& root, std::string_view model, ModelConfig* c) {
  const std::string kind = root["kind"].as<std::string>("stateless");
  if (kind == "stateless") {
    c->kind = ModelKind::kStateless;
  } else if (kind == "sequence") {
    c->kind = ModelKind::kSequence;
  } else if (kind == "generator") {
    c->kind = ModelKind::kGenerator;
  } else {
    return Invalid(model, "kind", "expected stateless, sequence or generator");
  }
  if (const YAML::Node st = root["streaming"]; st) {
    if (!st.IsMap()) return Invalid(model, "streaming", "expected a map {window}");
    const int64_t window = st["window"].as<int64_t>(16);
    if (window < 1 || window > static_cast<int64_t>(kStreamWindowMax)) {
      return Invalid(model, "streaming.window",
                     fmt::format("must be in [1, {}]", kStreamWindowMax));
    }
    c->streaming.window = static_cast<size_t>(window);
  }
  const bool stateful = c->kind != ModelKind::kStateless;
  for (const char* key : {"state", "sequence_batching", "generation"}) {
    const bool allowed = std::string_view(key) == "state" ? stateful
                         : std::string_view(key) == "sequence_batching"
                             ? c->kind == ModelKind::kSequence
                             : c->kind == ModelKind::kGenerator;
    if (root[key] && !allowed) {
      return Invalid(model, key, fmt::format("not allowed for kind {}", kind));
    }
  }
  if (c->kind == ModelKind::kGenerator) {
    // Steps are batched continuously (batcher/batch_queue.h): these would be silently unused.
    for (const char* key : {"max_queue_delay_us", "preferred_batch_sizes", "adaptive_release"}) {
      if (root["dynamic_batching"] && root["dynamic_batching"][key]) {
        return Invalid(model, fmt::format("dynamic_batching.{}", key),
                       "not used by kind generator: its steps are batched continuously (each "
                       "batch takes every step queued when an instance frees)");
      }
    }
  }
  if (!stateful) return absl::OkStatus();
  if (c->max_batch_size < 1) {
    return Invalid(model, "max_batch_size",
                   "kind sequence/generator needs >= 1 (states are stacked)");
  }
  const YAML::Node state = root["state"];
  if (!state || !state.IsMap()) return Invalid(model, "state", "required: {input, output}");
  c->state.input = state["input"].as<std::string>("");
  c->state.output = state["output"].as<std::string>("");
  c->state.input_index = c->InputIndex(c->state.input);
  c->state.output_index = c->OutputIndex(c->state.output);
  if (c->state.input_index < 0) return Invalid(model, "state.input", "must name an input");
  if (c->state.output_index < 0) return Invalid(model, "state.output", "must name an output");
  const TensorConfig& si = c->inputs[static_cast<size_t>(c->state.input_index)];
  const TensorConfig& so = c->outputs[static_cast<size_t>(c->state.output_index)];
  if (si.datatype != DataType::kFp32 || so.datatype != DataType::kFp32 || !(si.dims == so.dims)) {
    return Invalid(model, "state", "input and output must both be FP32 with the same dims");
  }
  for (int64_t d : si.dims.dims()) {
    if (d < 0) return Invalid(model, "state", "dims must be fixed (no -1)");
  }
  if (c->kind == ModelKind::kSequence) {
    if (const YAML::Node sb = root["sequence_batching"]; sb) {
      if (!sb.IsMap()) return Invalid(model, "sequence_batching", "expected a map");
      c->sequence_batching.idle_timeout_ms = sb["idle_timeout_ms"].as<int64_t>(60'000);
      const int64_t max_sequences = sb["max_sequences"].as<int64_t>(1024);
      if (c->sequence_batching.idle_timeout_ms < 1 ||
          c->sequence_batching.idle_timeout_ms > kIdleTimeoutMsMax) {
        return Invalid(model, "sequence_batching.idle_timeout_ms",
                       fmt::format("must be in [1, {}]", kIdleTimeoutMsMax));
      }
      if (max_sequences < 1 || max_sequences > static_cast<int64_t>(kSequencesMax)) {
        return Invalid(model, "sequence_batching.max_sequences",
                       fmt::format("must be in [1, {}]", kSequencesMax));
      }
      c->sequence_batching.max_sequences = static_cast<size_t>(max_sequences);
    }
    return absl::OkStatus();
  }
  // Generator: inputs [token INT64 [1], state], outputs [logits FP32 [V], state_out].
  if (c->inputs.size() != 2 || c->outputs.size() != 2) {
    return Invalid(model, "inputs",
                   "a generator has exactly 2 inputs (token, state) and 2 outputs");
  }
  c->generation.token_input_index = 1 - c->state.input_index;
  c->generation.logits_output_index = 1 - c->state.output_index;
  const TensorConfig& tok = c->inputs[static_cast<size_t>(c->generation.token_input_index)];
  if (tok.datatype != DataType::kInt64 || !(tok.dims == Shape{1})) {
    return Invalid(model, "inputs",
                   fmt::format("generator input '{}' must be INT64 dims [1]", tok.name));
  }
  const TensorConfig& logits = c->outputs[static_cast<size_t>(c->generation.logits_output_index)];
  if (logits.datatype != DataType::kFp32 || logits.dims.rank() != 1 || logits.dims[0] < 1) {
    return Invalid(model, "outputs",
                   fmt::format("generator output '{}' must be FP32 dims [V]", logits.name));
  }
  if (const YAML::Node g = root["generation"]; g) {
    if (!g.IsMap()) return Invalid(model, "generation", "expected a map");
    c->generation.max_tokens_max = g["max_tokens_max"].as<int>(256);
    c->generation.prompt_tokens_max = g["prompt_tokens_max"].as<int>(256);
    if (c->generation.max_tokens_max < 1 || c->generation.max_tokens_max > kGenerationTokensMax) {
      return Invalid(model, "generation.max_tokens_max",
                     fmt::format("must be in [1, {}]", kGenerationTokensMax));
    }
    if (c->generation.prompt_tokens_max < 1 ||
        c->generation.prompt_tokens_max > kGenerationTokensMax) {
      return Invalid(model, "generation.prompt_tokens_max",
                     fmt::format("must be in [1, {}]", kGenerationTokensMax));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ParseUnsafe(std::string_view yaml_text, std::string_view model) {
  YAML::Node root = YAML::Load(std::string(yaml_text));
  if (!root.IsMap()) return Invalid(model, "(root)", "expected a map");
  ModelConfig c;
  c.name = std::string(model);
  c.platform = root["platform"].as<std::string>("");
  if (c.platform != "torchscript" && c.platform != "onnx") {
    return Invalid(model, "platform", "expected torchscript or onnx");
  }
  c.max_batch_size = root["max_batch_size"].as<int>(0);
  if (c.max_batch_size < 0 || c.max_batch_size > kMaxBatchSizeMax) {
    return Invalid(model, "max_batch_size", fmt::format("must be in [0, {}]", kMaxBatchSizeMax));
  }
  c.default_model_filename = root["default_model_filename"].as<std::string>(
      c.platform == "onnx" ? "model.onnx" : "model.pt");
  if (c.default_model_filename.find('/') != std::string::npos) {
    return Invalid(model, "default_model_filename", "must be a plain file name");
  }
  for (const char* key : {"inputs", "outputs"}) {
    const YAML::Node list = root[key];
    if (!list || !list.IsSequence() || list.size() == 0)
      return Invalid(model, key, "non-empty list");
    if (list.size() > kModelTensorsMax) return Invalid(model, key, "too many tensors");
    auto& out = std::string_view(key) == "inputs" ? c.inputs : c.outputs;
    for (size_t i = 0; i < list.size(); ++i) {
      auto t = ParseTensor(list[i], model, fmt::format("{}[{}]", key, i));
      if (!t.ok()) return t.status();
      out.push_back(*std::move(t));
    }
  }
  if (const YAML::Node db = root["dynamic_batching"]; db) {
    c.dynamic_batching.max_queue_delay_us = db["max_queue_delay_us"].as<int64_t>(100);
    if (c.dynamic_batching.max_queue_delay_us < 0 ||
        c.dynamic_batching.max_queue_delay_us > 10'000'000) {
      return Invalid(model, "dynamic_batching.max_queue_delay_us", "must be in [0, 10s]");
    }
    if (db["preferred_batch_sizes"]) {
      for (const auto& v : db["preferred_batch_sizes"]) {
        int b = v.as<int>();
        if (b < 1 || b > std::max(1, c.max_batch_size)) {
          return Invalid(model, "dynamic_batching.preferred_batch_sizes",
                         "each in [1, max_batch_size]");
        }
        c.dynamic_batching.preferred_batch_sizes.push_back(b);
      }
      std::sort(c.dynamic_batching.preferred_batch_sizes.begin(),
                c.dynamic_batching.preferred_batch_sizes.end());
    }
    c.dynamic_batching.queue_size_max = db["queue_size_max"].as<size_t>(1024);
    c.dynamic_batching.adaptive_release = db["adaptive_release"].as<bool>(true);
    if (c.dynamic_batching.queue_size_max < 1 ||
        c.dynamic_batching.queue_size_max > kQueueSizeMax) {
      return Invalid(model, "dynamic_batching.queue_size_max",
                     fmt::format("in [1, {}]", kQueueSizeMax));
    }
  }
  c.instances = root["instances"].as<int>(1);
  if (c.instances < 1 || c.instances > kInstancesMax) {
    return Invalid(model, "instances", fmt::format("must be in [1, {}]", kInstancesMax));
  }
  c.threads_per_instance = root["threads_per_instance"].as<int>(1);
  if (c.threads_per_instance < 1 || c.threads_per_instance > kThreadsPerInstanceMax) {
    return Invalid(model, "threads_per_instance",
                   fmt::format("in [1, {}]", kThreadsPerInstanceMax));
  }
  c.priority_levels = root["priority_levels"].as<int>(3);
  if (c.priority_levels < 1 || c.priority_levels > kPriorityLevelsMax) {
    return Invalid(model, "priority_levels", fmt::format("in [1, {}]", kPriorityLevelsMax));
  }
  c.default_priority = root["default_priority"].as<int>((c.priority_levels + 1) / 2);
  if (c.default_priority < 1 || c.default_priority > c.priority_levels) {
    return Invalid(model, "default_priority", "in [1, priority_levels]");
  }
  auto policy = ParsePolicy(root["version_policy"], model);
  if (!policy.ok()) return policy.status();
  c.version_policy = *std::move(policy);
  if (absl::Status s = ParseStreaming(root, model, &c); !s.ok()) return s;
  return c;
}

}  // namespace

std::string_view ModelKindName(ModelKind kind) {
  switch (kind) {
    case ModelKind::kStateless:
      return "stateless";
    case ModelKind::kSequence:
      return "sequence";
    case ModelKind::kGenerator:
      return "generator";
  }
  return "unknown";
}

Shape ModelConfig::InputShape(size_t input, int64_t batch) const {
  Shape s;
  if (max_batch_size > 0) s.Append(batch);
  for (int64_t d : inputs[input].dims.dims()) s.Append(d);
  return s;
}

int ModelConfig::InputIndex(std::string_view n) const {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].name == n) return static_cast<int>(i);
  }
  return -1;
}

int ModelConfig::OutputIndex(std::string_view n) const {
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].name == n) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<ModelConfig> ParseModelConfig(std::string_view yaml_text, std::string_view model) {
  try {
    return ParseUnsafe(yaml_text, model);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(fmt::format("{}/config.yaml: {}", model, e.what()));
  }
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& path, std::string_view model) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot open", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseModelConfig(ss.str(), model);
}

std::vector<int64_t> SelectVersions(const VersionPolicy& policy,
                                    const std::vector<int64_t>& available) {
  switch (policy.kind) {
    case VersionPolicy::Kind::kAll:
      return available;
    case VersionPolicy::Kind::kLatest: {
      size_t n = std::min(available.size(), static_cast<size_t>(policy.latest));
      return std::vector<int64_t>(available.end() - n, available.end());
    }
    case VersionPolicy::Kind::kSpecific: {
      std::vector<int64_t> out;
      for (int64_t v : available) {
        if (std::find(policy.specific.begin(), policy.specific.end(), v) != policy.specific.end()) {
          out.push_back(v);
        }
      }
      return out;
    }
  }
  return {};
}

}  // namespace inference
