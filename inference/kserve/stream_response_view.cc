#include "inference/kserve/stream_response_view.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstdint>
#include <cstring>

#include "inference/kserve/stream_protocol.h"

namespace inference {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

constexpr std::string_view kFinalKey = kFinalResponseParameter;

constexpr uint32_t Tag(int field, WireFormatLite::WireType type) {
  return WireFormatLite::MakeTag(field, type);
}

constexpr uint32_t Bytes(int field) {
  return Tag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
}

// A length-delimited field's bytes, as a view into the input.
bool ReadView(CodedInputStream* in, std::string_view* out) {
  uint32_t length = 0;
  if (!in->ReadVarint32(&length)) return false;
  if (length == 0) {
    *out = {};
    return true;
  }
  const void* data = nullptr;
  int available = 0;  // up to the innermost limit
  if (!in->GetDirectBufferPointer(&data, &available) || static_cast<uint32_t>(available) < length) {
    return false;
  }
  *out = std::string_view(static_cast<const char*>(data), length);
  return in->Skip(static_cast<int>(length));
}

// Reads one length-delimited submessage, calling `on_field(tag)` for each of its fields; on_field
// consumes the field (or returns false when it is malformed).
template <typename OnField>
bool ReadNested(CodedInputStream* in, OnField&& on_field) {
  uint32_t length = 0;
  if (!in->ReadVarint32(&length)) return false;
  // PushLimit clamps a limit to the enclosing one (for an array input, its end), so a submessage
  // longer than what is left would otherwise read as complete.
  const int left = in->BytesUntilLimit();
  if (left >= 0 && length > static_cast<uint32_t>(left)) return false;
  const CodedInputStream::Limit limit = in->PushLimit(static_cast<int>(length));
  while (const uint32_t tag = in->ReadTag()) {
    if (!on_field(tag)) return false;
  }
  const bool whole = in->BytesUntilLimit() == 0;
  in->PopLimit(limit);
  return whole;
}

// One entry of map<string, InferParameter>: whether its key is kFinalKey, and its bool_param.
bool ReadParameterEntry(CodedInputStream* in, bool* is_final_key, bool* value) {
  return ReadNested(in, [&](uint32_t tag) {
    if (tag == Bytes(1)) {  // key
      std::string_view key;
      if (!ReadView(in, &key)) return false;
      *is_final_key = key == kFinalKey;
      return true;
    }
    if (tag == Bytes(2)) {  // value: InferParameter
      return ReadNested(in, [&](uint32_t t) {
        if (t == Tag(1, WireFormatLite::WIRETYPE_VARINT)) {  // bool_param
          uint64_t v = 0;
          if (!in->ReadVarint64(&v)) return false;
          *value = v != 0;
          return true;
        }
        return WireFormatLite::SkipField(in, t);
      });
    }
    return WireFormatLite::SkipField(in, tag);
  });
}

// ModelInferResponse.outputs[i]: name (1) and datatype (2).
bool ReadOutput(CodedInputStream* in, OutputTensorView* out) {
  return ReadNested(in, [&](uint32_t tag) {
    if (tag == Bytes(1)) return ReadView(in, &out->name);
    if (tag == Bytes(2)) return ReadView(in, &out->datatype);
    return WireFormatLite::SkipField(in, tag);
  });
}

bool ReadInferResponse(CodedInputStream* in, StreamResponseView* out) {
  return ReadNested(in, [&](uint32_t tag) {
    switch (tag) {
      case Bytes(2):  // model_version
        return ReadView(in, &out->model_version);
      case Bytes(4): {  // parameters
        bool is_final_key = false, value = false;
        if (!ReadParameterEntry(in, &is_final_key, &value)) return false;
        if (is_final_key) out->final = value;  // a later entry wins, as in a parse
        return true;
      }
      case Bytes(5):  // outputs
        return ReadOutput(in, &out->outputs.emplace_back());
      case Bytes(6):  // raw_output_contents
        return ReadView(in, &out->raw_output_contents.emplace_back());
      default:
        return WireFormatLite::SkipField(in, tag);
    }
  });
}

}  // namespace

bool ReadStreamResponse(std::string_view bytes, StreamResponseView* out) {
  out->Clear();
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  while (const uint32_t tag = in.ReadTag()) {
    bool ok = true;
    if (tag == Bytes(1)) {  // error_message
      ok = ReadView(&in, &out->error_message);
    } else if (tag == Bytes(2)) {  // infer_response (a repeated occurrence merges, as in a parse)
      ok = ReadInferResponse(&in, out);
    } else {
      ok = WireFormatLite::SkipField(&in, tag);
    }
    if (!ok) return false;
  }
  return in.ConsumedEntireMessage();
}

}  // namespace inference
