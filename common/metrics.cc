#include "common/metrics.h"

#include <chrono>
#include <cmath>

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

namespace baton {

Metrics::Metrics(std::string_view component, WallTime process_start)
    : component_(component), registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::BuildGauge()
      .Name("baton_build_info")
      .Help("Always 1; labels carry the Baton version and the component of this process.")
      .Register(*registry_)
      .Add({{"version", BATON_VERSION}, {"component", component_}})
      .Set(1);
  prometheus::BuildGauge()
      .Name("baton_process_start_time_seconds")
      .Help("Start time of the process since the Unix epoch, in seconds.")
      .Register(*registry_)
      .Add({})
      .Set(std::chrono::duration<double>(process_start.time_since_epoch()).count());
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> bounds;
  bounds.reserve(count > 0 ? count : 0);
  for (int i = 0; i < count; ++i) bounds.push_back(start * std::pow(factor, i));
  return bounds;
}

std::vector<double> LatencyBuckets() {
  // Written out rather than computed so that the `le` labels print as the
  // round numbers an operator types into a query.
  return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
          50e-3, 100e-3, 250e-3, 500e-3, 1.0,  2.5,    5.0,  10.0};
}

std::vector<double> ByteSizeBuckets() { return ExponentialBuckets(64, 4, 11); }

}  // namespace baton
