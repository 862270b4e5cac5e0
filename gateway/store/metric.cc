#include "gateway/store/metric.h"

#include <cmath>
#include <string>

namespace baton::gateway {

Result<Metric> ParseMetric(std::string_view name) {
  if (name == "l2") return Metric::kL2;
  if (name == "cosine") return Metric::kCosine;
  return Status::InvalidArgument("index.metric: '" + std::string(name) + "' is not one of l2, cosine");
}

std::string_view MetricName(Metric metric) { return metric == Metric::kL2 ? "l2" : "cosine"; }

void PrepareVector(Metric metric, std::span<const float> v, std::vector<float>* out) {
  out->assign(v.begin(), v.end());
  if (metric != Metric::kCosine) return;
  double norm2 = 0;
  for (float x : v) norm2 += static_cast<double>(x) * x;
  if (norm2 == 0) return;
  const double inv = 1.0 / std::sqrt(norm2);
  for (float& x : *out) x = static_cast<float>(x * inv);
}

}  // namespace baton::gateway
