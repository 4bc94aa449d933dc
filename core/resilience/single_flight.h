#pragma once
// SingleFlight: collapses concurrent identical calls into one. While a call for `key` is in flight,
// further Do() calls with that key do not run their own `fn`; they wait for the in-flight call and
// share its result (value or error). Once the call completes the key is forgotten, so the next Do()
// runs `fn` again: this deduplicates concurrent work, it is not a cache.
//
// Typical use: many requests miss a cache for the same model or the same row at once; only one of
// them loads it and the rest reuse that load instead of stampeding the backend.
//
//   SingleFlight<std::string, ModelHandle> loads;
//   auto result = loads.Do(model_name, [&] { return LoadModel(model_name); });
//   if (!result->ok()) return result->status();
//
// Thread safety: all methods may be called from any thread concurrently. `fn` runs on the thread of
// the caller that started the call, without any lock held, so it may itself use this SingleFlight
// for other keys (calling Do() with its own key from inside `fn` deadlocks). Waiters block the
// calling thread until the call completes; bound `fn`'s running time (a deadline inside it) if
// callers must not wait indefinitely. If `fn` throws, waiters get an Internal error and the
// exception propagates to the caller that ran `fn`. Limits: in-flight keys and waiters are each
// bounded by the number of calling threads.

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace core {

template <typename Key, typename Value, typename Hash = absl::Hash<Key>,
          typename Eq = std::equal_to<Key>>
class SingleFlight {
 public:
  using Result = std::shared_ptr<const absl::StatusOr<Value>>;

  SingleFlight() = default;
  SingleFlight(const SingleFlight&) = delete;
  SingleFlight& operator=(const SingleFlight&) = delete;

  // Runs `fn` for `key`, or waits for the call already in flight for `key` and returns its result.
  // Never returns null.
  Result Do(const Key& key, std::function<absl::StatusOr<Value>()> fn) {
    std::unique_lock<std::mutex> lock(mu_);
    if (auto it = calls_.find(key); it != calls_.end()) {
      std::shared_ptr<Call> call = it->second;  // Keeps the call alive after the leader erases it.
      ++call->waiters;
      call->done_cv.wait(lock, [&call] { return call->result != nullptr; });
      --call->waiters;
      return call->result;
    }
    auto call = std::make_shared<Call>();
    calls_.emplace(key, call);
    lock.unlock();

    Result result;
    try {
      result = std::make_shared<const absl::StatusOr<Value>>(fn());
    } catch (...) {
      Complete(key, *call,
               std::make_shared<const absl::StatusOr<Value>>(
                   absl::InternalError("single-flight call threw an exception")));
      throw;
    }
    Complete(key, *call, result);
    return result;
  }

  // Callers currently waiting on the in-flight call for `key` (not counting the one running `fn`);
  // 0 if none is in flight. For metrics and tests.
  size_t waiters(const Key& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(key);
    return it == calls_.end() ? 0 : it->second->waiters;
  }

  // Keys with a call in flight.
  size_t in_flight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_.size();
  }

 private:
  struct Call {
    // Guarded by the owning SingleFlight's mu_.
    std::condition_variable done_cv;
    Result result;  // Set once, when the call completes.
    size_t waiters = 0;
  };

  void Complete(const Key& key, Call& call, Result result) {
    std::lock_guard<std::mutex> lock(mu_);
    call.result = std::move(result);
    calls_.erase(key);
    call.done_cv.notify_all();
  }

  mutable std::mutex mu_;
  absl::flat_hash_map<Key, std::shared_ptr<Call>, Hash, Eq> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace core
