// Exponential backoff with full jitter, for reconnects and redelivery.
// Thread-compatible; seeded so that tests are repeatable.
#pragma once

#include <cstdint>
#include <random>

#include "common/clock.h"

namespace baton {

struct BackoffOptions {
  Duration initial = std::chrono::milliseconds(100);
  Duration max = std::chrono::seconds(5);
  double multiplier = 2.0;
  // Fraction of each delay that is randomised: 0 = none, 1 = anywhere in
  // [0, delay]. Spreads retries of many clients so they do not stampede.
  double jitter = 0.5;
};

class Backoff {
 public:
  explicit Backoff(BackoffOptions options = {}, uint64_t seed = std::random_device{}());

  // The delay before the next attempt; grows until options.max.
  Duration Next();
  // After a success: the next delay starts again at `initial`.
  void Reset();
  int attempts() const { return attempts_; }

 private:
  BackoffOptions options_;
  std::mt19937_64 rng_;
  Duration current_;
  int attempts_ = 0;
};

}  // namespace baton
