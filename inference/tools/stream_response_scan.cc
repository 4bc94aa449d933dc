#include "inference/tools/stream_response_scan.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstring>
#include <string_view>

#include "inference/kserve/stream_protocol.h"

namespace inference {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

constexpr std::string_view kFinalKey = kFinalResponseParameter;

constexpr uint32_t Tag(int field, WireFormatLite::WireType type) {
  return WireFormatLite::MakeTag(field, type);
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
    if (tag == Tag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {  // key
      uint32_t length = 0;
      if (!in->ReadVarint32(&length)) return false;
      if (length != kFinalKey.size()) return in->Skip(static_cast<int>(length));
      char key[kFinalKey.size()];
      if (!in->ReadRaw(key, static_cast<int>(length))) return false;
      *is_final_key = std::memcmp(key, kFinalKey.data(), kFinalKey.size()) == 0;
      return true;
    }
    if (tag == Tag(2, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {  // value: InferParameter
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

}  // namespace

std::optional<StreamResponseFlags> ScanStreamResponse(const uint8_t* data, size_t size) {
  CodedInputStream in(data, static_cast<int>(size));
  StreamResponseFlags flags;
  while (const uint32_t tag = in.ReadTag()) {
    bool ok = true;
    if (tag == Tag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {  // error_message
      uint32_t length = 0;
      ok = in.ReadVarint32(&length) && in.Skip(static_cast<int>(length));
      flags.error = flags.error || length > 0;
    } else if (tag == Tag(2, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {  // infer_response
      ok = ReadNested(&in, [&](uint32_t t) {
        if (t != Tag(4, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {  // not parameters
          return WireFormatLite::SkipField(&in, t);
        }
        bool is_final_key = false, value = false;
        if (!ReadParameterEntry(&in, &is_final_key, &value)) return false;
        if (is_final_key) flags.final = value;  // a later entry wins, as in a parse
        return true;
      });
    } else {
      ok = WireFormatLite::SkipField(&in, tag);
    }
    if (!ok) return std::nullopt;
  }
  if (!in.ConsumedEntireMessage()) return std::nullopt;
  return flags;
}

}  // namespace inference
