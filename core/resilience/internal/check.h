#pragma once
// RESILIENCE_CHECK: a cheap, always-on invariant check for this component (STYLE.md rule 6). A
// failed check is a programming error (a precondition a caller must guarantee), never bad client
// input: those get an absl::Status. Prints the condition and location, then aborts.
//
// Private to core/resilience; replace with the project-wide CHECK once core/log provides one.

#include <cstdio>
#include <cstdlib>

#define RESILIENCE_CHECK(cond)                                                                 \
  do {                                                                                         \
    if (!(cond)) [[unlikely]] {                                                                \
      std::fprintf(stderr, "%s:%d: RESILIENCE_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)
