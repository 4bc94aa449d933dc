#include "inference/kserve/rest_codec.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/http/json.h"
#include "fmt/format.h"
#include "inference/kserve/infer_validation.h"

namespace inference {
namespace {

using simdjson::ondemand::array;
using simdjson::ondemand::json_type;
using simdjson::ondemand::object;
using simdjson::ondemand::value;

absl::Status Malformed(std::string_view where, simdjson::error_code e) {
  return absl::InvalidArgumentError(
      fmt::format("malformed JSON at {}: {}", where, simdjson::error_message(e)));
}

struct PendingInput {
  int index = -1;
  DataType datatype = DataType::kInvalid;
  Shape shape;
  std::string_view raw_data;  // the JSON text of "data", inside the request body
  bool has_shape = false;
};

template <typename T>
absl::Status ReadScalar(value v, T* out, std::string_view name) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    double d;
    if (auto e = v.get_double().get(d)) return Malformed(name, e);
    *out = static_cast<T>(d);
  } else if constexpr (std::is_same_v<T, bool>) {
    bool b;
    if (auto e = v.get_bool().get(b)) return Malformed(name, e);
    *out = b;
  } else {
    int64_t i;
    if (auto e = v.get_int64().get(i)) return Malformed(name, e);
    if (i < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
        i > static_cast<int64_t>(std::numeric_limits<T>::max())) {
      return absl::InvalidArgumentError(fmt::format("input '{}': value {} out of range", name, i));
    }
    *out = static_cast<T>(i);
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status DecodeArray(array arr, T* out, size_t capacity, size_t* count, size_t depth,
                         std::string_view name) {
  if (depth > kTensorDimsMax) {
    return absl::InvalidArgumentError(fmt::format("input '{}': data nested too deeply", name));
  }
  for (auto element : arr) {
    value v;
    if (auto e = element.get(v)) return Malformed(name, e);
    json_type type;
    if (auto e = v.type().get(type)) return Malformed(name, e);
    if (type == json_type::array) {
      array inner;
      if (auto e = v.get_array().get(inner)) return Malformed(name, e);
      absl::Status s = DecodeArray(inner, out, capacity, count, depth + 1, name);
      if (!s.ok()) return s;
      continue;
    }
    if (*count == capacity) {
      return absl::InvalidArgumentError(
          fmt::format("input '{}': more data elements than the shape holds ({})", name, capacity));
    }
    absl::Status s = ReadScalar<T>(v, out + *count, name);
    if (!s.ok()) return s;
    ++*count;
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status DecodeData(simdjson::ondemand::parser& parser, std::string_view raw, size_t tail_bytes,
                        char* dest, size_t elements, std::string_view name) {
  simdjson::padded_string_view psv(raw.data(), raw.size(), raw.size() + tail_bytes);
  simdjson::ondemand::document doc;
  if (auto e = parser.iterate(psv).get(doc)) return Malformed(name, e);
  array arr;
  if (auto e = doc.get_array().get(arr)) return Malformed(name, e);
  size_t count = 0;
  absl::Status s = DecodeArray<T>(arr, reinterpret_cast<T*>(dest), elements, &count, 1, name);
  if (!s.ok()) return s;
  if (count != elements) {
    return absl::InvalidArgumentError(
        fmt::format("input '{}': {} data elements, the shape needs {}", name, count, elements));
  }
  return absl::OkStatus();
}

absl::Status DecodeTyped(simdjson::ondemand::parser& parser, DataType type, std::string_view raw,
                         size_t tail, char* dest, size_t elements, std::string_view name) {
  switch (type) {
    case DataType::kFp32:
      return DecodeData<float>(parser, raw, tail, dest, elements, name);
    case DataType::kFp64:
      return DecodeData<double>(parser, raw, tail, dest, elements, name);
    case DataType::kInt64:
      return DecodeData<int64_t>(parser, raw, tail, dest, elements, name);
    case DataType::kInt32:
      return DecodeData<int32_t>(parser, raw, tail, dest, elements, name);
    case DataType::kInt16:
      return DecodeData<int16_t>(parser, raw, tail, dest, elements, name);
    case DataType::kInt8:
      return DecodeData<int8_t>(parser, raw, tail, dest, elements, name);
    case DataType::kUint8:
      return DecodeData<uint8_t>(parser, raw, tail, dest, elements, name);
    case DataType::kBool:
      return DecodeData<bool>(parser, raw, tail, dest, elements, name);
    case DataType::kInvalid:
      break;
  }
  return absl::InvalidArgumentError("unsupported datatype");
}

absl::Status ParseInput(object obj, const ModelConfig& config, PendingInput* in) {
  std::string_view name;
  for (auto field : obj) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return Malformed("inputs[].key", e);
    if (key == "name") {
      if (auto e = field.value().get_string().get(name)) return Malformed("inputs[].name", e);
      in->index = config.InputIndex(name);
      if (in->index < 0) {
        return absl::InvalidArgumentError(
            fmt::format("unknown input '{}' for model '{}'", name, config.name));
      }
    } else if (key == "datatype") {
      std::string_view dt;
      if (auto e = field.value().get_string().get(dt)) return Malformed("inputs[].datatype", e);
      auto parsed = ParseDataType(dt);
      if (!parsed) return absl::InvalidArgumentError(fmt::format("unsupported datatype '{}'", dt));
      in->datatype = *parsed;
    } else if (key == "shape") {
      array dims;
      if (auto e = field.value().get_array().get(dims)) return Malformed("inputs[].shape", e);
      for (auto d : dims) {
        int64_t v;
        if (auto e = d.get_int64().get(v)) return Malformed("inputs[].shape", e);
        if (!in->shape.Append(v)) return absl::InvalidArgumentError("shape: too many dimensions");
      }
      in->has_shape = true;
    } else if (key == "data") {
      array data;
      if (auto e = field.value().get_array().get(data)) return Malformed("inputs[].data", e);
      if (auto e = data.raw_json().get(in->raw_data)) return Malformed("inputs[].data", e);
    }
    // "parameters" and unknown keys are skipped.
  }
  if (in->index < 0) return absl::InvalidArgumentError("inputs[]: missing 'name'");
  const std::string_view n = config.inputs[static_cast<size_t>(in->index)].name;
  if (in->datatype == DataType::kInvalid) {
    return absl::InvalidArgumentError(fmt::format("input '{}': missing 'datatype'", n));
  }
  if (!in->has_shape)
    return absl::InvalidArgumentError(fmt::format("input '{}': missing 'shape'", n));
  if (in->raw_data.empty())
    return absl::InvalidArgumentError(fmt::format("input '{}': missing 'data'", n));
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeInferRequest(simdjson::padded_string_view body, const ModelConfig& config,
                                DecodedInferRequest* out) {
  thread_local simdjson::ondemand::parser parser;
  std::array<PendingInput, kModelTensorsMax> pending;
  size_t pending_count = 0;
  {
    simdjson::ondemand::document doc;
    if (auto e = parser.iterate(body).get(doc)) return Malformed("request", e);
    object root;
    if (auto e = doc.get_object().get(root)) return Malformed("request", e);
    for (auto field : root) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return Malformed("request", e);
      if (key == "inputs") {
        array inputs;
        if (auto e = field.value().get_array().get(inputs)) return Malformed("inputs", e);
        for (auto element : inputs) {
          object obj;
          if (auto e = element.get_object().get(obj)) return Malformed("inputs[]", e);
          if (pending_count == config.inputs.size()) {
            return absl::InvalidArgumentError(fmt::format("too many inputs: model '{}' has {}",
                                                          config.name, config.inputs.size()));
          }
          absl::Status s = ParseInput(obj, config, &pending[pending_count]);
          if (!s.ok()) return s;
          for (size_t j = 0; j < pending_count; ++j) {
            if (pending[j].index == pending[pending_count].index) {
              return absl::InvalidArgumentError(
                  fmt::format("input '{}' given twice",
                              config.inputs[static_cast<size_t>(pending[j].index)].name));
            }
          }
          ++pending_count;
        }
      } else if (key == "id") {
        std::string_view id;
        if (auto e = field.value().get_string().get(id)) return Malformed("id", e);
        out->id.assign(id);
      } else if (key == "outputs") {
        array outputs;
        if (auto e = field.value().get_array().get(outputs)) return Malformed("outputs", e);
        for (auto element : outputs) {
          object obj;
          if (auto e = element.get_object().get(obj)) return Malformed("outputs[]", e);
          std::string_view name;
          for (auto f : obj) {
            std::string_view k;
            if (auto e = f.unescaped_key().get(k)) return Malformed("outputs[]", e);
            if (k == "name") {
              if (auto e = f.value().get_string().get(name)) return Malformed("outputs[].name", e);
            }
          }
          int idx = config.OutputIndex(name);
          if (idx < 0) {
            return absl::InvalidArgumentError(
                fmt::format("unknown output '{}' for model '{}'", name, config.name));
          }
          if (out->output_count == kModelTensorsMax) {
            return absl::InvalidArgumentError("too many requested outputs");
          }
          out->outputs[out->output_count++] = idx;
        }
      } else if (key == "parameters") {
        object params;
        if (auto e = field.value().get_object().get(params)) return Malformed("parameters", e);
        for (auto f : params) {
          std::string_view k;
          if (auto e = f.unescaped_key().get(k)) return Malformed("parameters", e);
          if (k == "priority") {
            if (auto e = f.value().get_int64().get(out->priority))
              return Malformed("parameters.priority", e);
          } else if (k == "timeout") {
            if (auto e = f.value().get_int64().get(out->timeout_us))
              return Malformed("parameters.timeout", e);
          }
        }
      }
    }
  }
  if (pending_count != config.inputs.size()) {
    for (size_t i = 0; i < config.inputs.size(); ++i) {
      bool found = false;
      for (size_t j = 0; j < pending_count; ++j) found |= pending[j].index == static_cast<int>(i);
      if (!found) {
        return absl::InvalidArgumentError(fmt::format("missing input '{}'", config.inputs[i].name));
      }
    }
  }
  // Validate every shape, then size the buffer once.
  std::array<size_t, kModelTensorsMax> offsets{};
  size_t total = 0;
  for (size_t j = 0; j < pending_count; ++j) {
    const PendingInput& p = pending[j];
    int64_t rows = 1;
    auto bytes = ValidateInput(config, static_cast<size_t>(p.index), p.datatype, p.shape, &rows);
    if (!bytes.ok()) return bytes.status();
    if (j == 0) {
      out->batch_rows = rows;
    } else if (rows != out->batch_rows) {
      return absl::InvalidArgumentError("inputs disagree on the batch size");
    }
    offsets[j] = total;
    total += (*bytes + 7) & ~size_t{7};
    if (total > kInferRequestBytesMax) return absl::InvalidArgumentError("request too large");
  }
  char* const storage = out->Storage(total);
  const char* body_end = body.data() + body.length();
  const size_t padding = body.capacity() - body.length();
  for (size_t j = 0; j < pending_count; ++j) {
    const PendingInput& p = pending[j];
    const size_t elements = static_cast<size_t>(p.shape.elements());
    const size_t tail =
        static_cast<size_t>(body_end - (p.raw_data.data() + p.raw_data.size())) + padding;
    char* dest = storage + offsets[j];
    absl::Status s = DecodeTyped(parser, p.datatype, p.raw_data, tail, dest, elements,
                                 config.inputs[static_cast<size_t>(p.index)].name);
    if (!s.ok()) return s;
    out->inputs[static_cast<size_t>(p.index)] =
        TensorView{p.datatype, p.shape, dest, elements * DataTypeBytes(p.datatype)};
  }
  if (out->output_count == 0) {
    for (size_t k = 0; k < config.outputs.size(); ++k) out->outputs[k] = static_cast<int>(k);
    out->output_count = config.outputs.size();
  }
  return absl::OkStatus();
}

void AppendJsonValues(std::string* out, DataType type, const char* data, size_t count) {
  char buf[32];
  auto put = [&](auto v) {
    if constexpr (std::is_floating_point_v<decltype(v)>) {
      if (!std::isfinite(v)) {
        out->append("null");
        return;
      }
    }
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, static_cast<size_t>(r.ptr - buf));
  };
  for (size_t i = 0; i < count; ++i) {
    if (i) out->push_back(',');
    switch (type) {
      case DataType::kFp32: {
        float v;
        std::memcpy(&v, data + i * 4, 4);
        put(v);
        break;
      }
      case DataType::kFp64: {
        double v;
        std::memcpy(&v, data + i * 8, 8);
        put(v);
        break;
      }
      case DataType::kInt64: {
        int64_t v;
        std::memcpy(&v, data + i * 8, 8);
        put(v);
        break;
      }
      case DataType::kInt32: {
        int32_t v;
        std::memcpy(&v, data + i * 4, 4);
        put(v);
        break;
      }
      case DataType::kInt16: {
        int16_t v;
        std::memcpy(&v, data + i * 2, 2);
        put(v);
        break;
      }
      case DataType::kInt8:
        put(static_cast<int>(static_cast<int8_t>(data[i])));
        break;
      case DataType::kUint8:
        put(static_cast<int>(static_cast<uint8_t>(data[i])));
        break;
      case DataType::kBool:
        out->append(data[i] ? "true" : "false");
        break;
      case DataType::kInvalid:
        out->append("null");
        break;
    }
  }
}

void AppendInferResponse(std::string* out, std::string_view model, std::string_view version,
                         std::string_view id, const ModelConfig& config,
                         std::span<const TensorView> outputs, std::span<const int> selected) {
  out->append("{\"model_name\":");
  core::http::AppendJsonString(out, model);
  out->append(",\"model_version\":");
  core::http::AppendJsonString(out, version);
  if (!id.empty()) {
    out->append(",\"id\":");
    core::http::AppendJsonString(out, id);
  }
  out->append(",\"outputs\":[");
  char buf[24];
  for (size_t s = 0; s < selected.size(); ++s) {
    const size_t k = static_cast<size_t>(selected[s]);
    const TensorView& t = outputs[k];
    if (s) out->push_back(',');
    out->append("{\"name\":");
    core::http::AppendJsonString(out, config.outputs[k].name);
    out->append(",\"datatype\":\"");
    out->append(DataTypeName(t.datatype));
    out->append("\",\"shape\":[");
    for (size_t d = 0; d < t.shape.rank(); ++d) {
      if (d) out->push_back(',');
      auto r = std::to_chars(buf, buf + sizeof(buf), t.shape[d]);
      out->append(buf, static_cast<size_t>(r.ptr - buf));
    }
    out->append("],\"data\":[");
    AppendJsonValues(out, t.datatype, t.data, static_cast<size_t>(t.shape.elements()));
    out->append("]}");
  }
  out->append("]}");
}

}  // namespace inference
