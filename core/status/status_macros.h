#pragma once
// The project's one propagation macro pair, over absl::Status / absl::StatusOr.
//
//   RETURN_IF_ERROR(file->Sync());
//   ASSIGN_OR_RETURN(auto config, LoadConfig(path));
//   ASSIGN_OR_RETURN(Foo foo, MakeFoo(), _.SetPrepend() ...)  -- not supported: keep it simple.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CORE_STATUS_CONCAT_INNER_(a, b) a##b
#define CORE_STATUS_CONCAT_(a, b) CORE_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                                                    \
  do {                                                                           \
    ::absl::Status core_status_tmp_ = (expr);                                    \
    if (!core_status_tmp_.ok()) [[unlikely]] return core_status_tmp_;            \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when not OK, otherwise assigns (moves) the
// value to `lhs`, which may be a declaration (`auto x`, `const Foo& y` is not allowed: it would dangle).
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  CORE_ASSIGN_OR_RETURN_IMPL_(CORE_STATUS_CONCAT_(core_statusor_, __LINE__), lhs, rexpr)

#define CORE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)  \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) [[unlikely]] return statusor.status(); \
  lhs = std::move(statusor).value()
