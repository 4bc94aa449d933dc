#pragma once
// CORE_CHECK: the project-wide, always-on invariant check (STYLE.md rule 6). A failed check is a
// programming error (a broken invariant, a bad constant in our own code), never bad input from a
// client or a file: those get an absl::Status. On failure it prints the location, the condition and
// the streamed message to stderr and aborts, so a core dump or the supervisor's log shows why.
//
//   CORE_CHECK(bounds.size() <= kHistogramBucketsMax) << "metric " << name << ": too many buckets";
//
// Header-only on purpose (no spdlog): safe to use from any component and from static initialisers.
// Thread safety: may be used from any thread.

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

namespace core::check_internal {

// Collects the message; its destructor reports and aborts. Only ever built on the failure path.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition) {
    stream_ << file << ":" << line << ": CHECK failed: " << condition << ": ";
  }
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure() {
    const std::string message = stream_.str();
    std::fprintf(stderr, "%s\n", message.c_str());
    std::fflush(stderr);
    std::abort();
  }
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

}  // namespace core::check_internal

// The `while` form (rather than `if`) keeps the macro safe inside an unbraced if/else; the body
// runs at most once because the temporary's destructor aborts.
#define CORE_CHECK(condition) \
  while (!(condition))        \
  [[unlikely]] ::core::check_internal::CheckFailure(__FILE__, __LINE__, #condition).stream()
