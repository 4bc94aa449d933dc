#pragma once
// Private to core/metrics: pieces of the Prometheus text format 0.0.4 and of its naming rules.
// Thread safety: pure functions.

#include <string>
#include <string_view>
#include <vector>

namespace core::metrics_internal {

// Shortest decimal that round-trips, in a form Prometheus parses: "1", "0.25", "1e+21", "NaN",
// "+Inf", "-Inf".
void AppendDouble(double v, std::string* out);
void AppendUint(uint64_t v, std::string* out);
// Label values: backslash, double quote and newline are escaped.
void AppendEscapedLabelValue(std::string_view value, std::string* out);
// HELP text: backslash and newline are escaped (quotes are not, per the format).
void AppendEscapedHelp(std::string_view help, std::string* out);
// `name{l1="v1",l2="v2",le="0.1"} value\n`; `le` empty means no le label; no braces when no labels.
void AppendSample(std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, std::string_view le,
                  std::string_view value, std::string* out);

bool IsValidUtf8(std::string_view s);

// Why `name` breaks a `promtool check metrics` lint rule for a family of this kind, or "" if it
// does not. `is_counter`/`is_histogram` select the suffix rules.
std::string LintMetricName(std::string_view name, bool is_counter, bool is_histogram);
std::string LintLabelName(std::string_view label_name, bool is_histogram);

}  // namespace core::metrics_internal
