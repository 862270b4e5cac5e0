// Distance metrics of the vector index (index.metric). Thread-safe: pure
// functions.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace baton::gateway {

enum class Metric {
  // Squared Euclidean distance.
  kL2,
  // 1 - cosine similarity; vectors are normalised before they are compared.
  kCosine,
};

// "l2" | "cosine" (the values of index.metric).
Result<Metric> ParseMetric(std::string_view name);
std::string_view MetricName(Metric metric);

// The form in which `metric` compares `v`: a copy, scaled to unit length for
// kCosine (a zero vector stays zero, so its distance to anything is 1).
void PrepareVector(Metric metric, std::span<const float> v, std::vector<float>* out);

}  // namespace baton::gateway
