#include "common/backoff.h"

#include <algorithm>

namespace baton {

Backoff::Backoff(BackoffOptions options, uint64_t seed)
    : options_(options), rng_(seed), current_(options.initial) {}

Duration Backoff::Next() {
  ++attempts_;
  const Duration base = std::min(current_, options_.max);
  const double jitter = std::clamp(options_.jitter, 0.0, 1.0);
  std::uniform_real_distribution<double> dist(1.0 - jitter, 1.0);
  const auto delay = Duration(static_cast<int64_t>(static_cast<double>(base.count()) * dist(rng_)));
  const double grown = static_cast<double>(current_.count()) * options_.multiplier;
  current_ = grown >= static_cast<double>(options_.max.count()) ? options_.max : Duration(static_cast<int64_t>(grown));
  return delay;
}

void Backoff::Reset() {
  current_ = options_.initial;
  attempts_ = 0;
}

}  // namespace baton
