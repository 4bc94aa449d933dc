#include "core/metrics/internal/text_format.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "core/metrics/registry.h"

namespace core::metrics_internal {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool HasCamelCase(std::string_view s) {
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i - 1] >= 'a' && s[i - 1] <= 'z' && s[i] >= 'A' && s[i] <= 'Z') return true;
  }
  return false;
}

std::vector<std::string_view> SplitWords(std::string_view name) {
  std::vector<std::string_view> words;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t end = std::min(name.find('_', start), name.size());
    words.push_back(name.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

// promtool's lists (prometheus/util/promlint): abbreviations it rejects, base units, non-base units
// with their base, and SI/binary prefixes that make a base unit non-base ("milliseconds").
constexpr std::array<std::string_view, 14> kUnitAbbreviations = {
    "s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d"};
constexpr std::array<std::string_view, 10> kBaseUnits = {"amperes", "bytes",  "celsius", "grams",
                                                         "joules",  "kelvin", "meters",  "metres",
                                                         "seconds", "volts"};
constexpr std::array<std::string_view, 14> kNonBaseUnits = {
    "minutes", "hours", "days",  "weeks", "kelvins",  "fahrenheit", "rankine",
    "inches",  "yards", "miles", "bits",  "calories", "pounds",     "ounces"};
constexpr std::array<std::string_view, 18> kUnitPrefixes = {
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo",
    "kibi", "mega", "mibi",  "giga",  "gibi",  "tera", "tebi", "peta",  "pebi"};

std::string UnitProblem(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  for (const std::string_view word : SplitWords(lower)) {
    for (const std::string_view abbreviation : kUnitAbbreviations) {
      if (word == abbreviation) {
        return "abbreviated unit '" + std::string(word) +
               "' (spell out base units: _seconds, _bytes)";
      }
    }
    for (const std::string_view unit : kNonBaseUnits) {
      if (word == unit)
        return "non-base unit '" + std::string(word) + "' (use _seconds, _bytes, ...)";
    }
    for (const std::string_view prefix : kUnitPrefixes) {
      if (word.size() <= prefix.size() || word.substr(0, prefix.size()) != prefix) continue;
      const std::string_view rest = word.substr(prefix.size());
      for (const std::string_view unit : kBaseUnits) {
        if (rest == unit) return "non-base unit '" + std::string(word) + "' (use the base unit)";
      }
    }
  }
  return "";
}

}  // namespace

void AppendDouble(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
  } else {
    std::array<char, 32> buffer;
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), v);
    out->append(buffer.data(), result.ptr);
  }
}

void AppendUint(uint64_t v, std::string* out) {
  std::array<char, 24> buffer;
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), v);
  out->append(buffer.data(), result.ptr);
}

void AppendEscapedLabelValue(std::string_view value, std::string* out) {
  for (const char c : value) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '"':
        out->append("\\\"");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        out->push_back(c);
    }
  }
}

void AppendEscapedHelp(std::string_view help, std::string* out) {
  for (const char c : help) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        out->push_back(c);
    }
  }
}

void AppendSample(std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, std::string_view le,
                  std::string_view value, std::string* out) {
  out->append(name);
  out->append(suffix);
  if (!label_names.empty() || !le.empty()) {
    out->push_back('{');
    for (size_t i = 0; i < label_names.size(); ++i) {
      if (i > 0) out->push_back(',');
      out->append(label_names[i]);
      out->append("=\"");
      AppendEscapedLabelValue(label_values[i], out);
      out->push_back('"');
    }
    if (!le.empty()) {
      if (!label_names.empty()) out->push_back(',');
      out->append("le=\"");
      out->append(le);
      out->push_back('"');
    }
    out->push_back('}');
  }
  out->push_back(' ');
  out->append(value);
  out->push_back('\n');
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    uint32_t code_point = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code_point = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code_point = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code_point = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;  // Truncated sequence.
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      code_point = (code_point << 6) | (cc & 0x3f);
    }
    // Overlong encodings, UTF-16 surrogates and code points beyond U+10FFFF are invalid.
    static constexpr uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[extra] || code_point > 0x10ffff ||
        (code_point >= 0xd800 && code_point <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string LintMetricName(std::string_view name, bool is_counter, bool is_histogram) {
  if (!IsValidMetricName(name)) return "not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)";
  if (name.find(':') != std::string_view::npos) {
    return "':' is reserved for recording rules";
  }
  if (HasCamelCase(name)) return "use snake_case, not camelCase";
  if (is_counter && !EndsWith(name, "_total")) return "counter names must end in \"_total\"";
  if (!is_counter && EndsWith(name, "_total")) return "only counter names may end in \"_total\"";
  if (!is_histogram &&
      (EndsWith(name, "_bucket") || EndsWith(name, "_count") || EndsWith(name, "_sum"))) {
    return "\"_bucket\", \"_count\" and \"_sum\" suffixes are reserved for histograms";
  }
  const std::string_view type_word = is_counter ? "counter" : is_histogram ? "histogram" : "gauge";
  for (const std::string_view word : SplitWords(name)) {
    if (word == type_word)
      return "the name must not include its type '" + std::string(type_word) + "'";
  }
  return UnitProblem(name);
}

std::string LintLabelName(std::string_view label_name, bool is_histogram) {
  if (!IsValidLabelName(label_name)) return "not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)";
  if (label_name.substr(0, 2) == "__") return "label names starting with \"__\" are reserved";
  if (HasCamelCase(label_name)) return "use snake_case, not camelCase";
  if (is_histogram && label_name == "le") return "\"le\" is reserved for histogram buckets";
  return "";
}

}  // namespace core::metrics_internal
