// Prometheus metrics for one Baton process: a thin layer over prometheus-cpp
// core. Components build their own families on registry() with
// prometheus::BuildCounter()/BuildGauge()/BuildHistogram(); /metrics serves
// Serialize().
//
// Naming (docs: STYLE.md "Metrics"): `baton_` prefix, base units, counters end
// `_total`, durations `_seconds`, sizes `_bytes`; labels bounded (op, code,
// peer, role, route; never object ids).
//   baton_gateway_writes_total{op="insert",code="OK"}
//   baton_wal_fsync_duration_seconds (histogram, LatencyBuckets())
//
// Thread-safe: prometheus-cpp families and metrics lock internally, so
// registry(), metric updates and Serialize() may run on any thread at once.
// The Metrics object must outlive every component holding a family or metric
// reference obtained from its registry.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/registry.h>

#include "common/clock.h"

namespace baton {

class Metrics {
 public:
  // `component` names the binary: "gateway", "agent", "arbiter", "batonctl".
  // Registers baton_build_info{version,component} 1 and
  // baton_process_start_time_seconds (= `process_start`, Unix seconds).
  explicit Metrics(std::string_view component,
                   WallTime process_start = std::chrono::system_clock::now());

  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Where components register their families. Duplicate registration of the
  // same name, type and constant labels returns the existing family
  // (InsertBehavior::Merge); the same name with another type throws
  // std::invalid_argument, as does an invalid name — both are programming
  // errors caught by the first test that builds the component.
  prometheus::Registry& registry() const { return *registry_; }
  const std::string& component() const { return component_; }

  // All families in the Prometheus text exposition format 0.0.4, served with
  // Content-Type kContentType.
  std::string Serialize() const;

  static constexpr std::string_view kContentType = "text/plain; version=0.0.4";

 private:
  std::string component_;
  std::shared_ptr<prometheus::Registry> registry_;
};

// `count` bucket bounds: start, start*factor, start*factor^2, ...
// Requires start > 0, factor > 1, count >= 1.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// Durations in seconds from 50 µs to 10 s in 1-2.5-5 steps (17 bounds):
// fsync, standby acks, ZooKeeper calls, HTTP requests.
std::vector<double> LatencyBuckets();

// Sizes in bytes from 64 B to 64 MiB, x4 per bucket (11 bounds): records,
// batches, snapshots chunks, request bodies.
std::vector<double> ByteSizeBuckets();

}  // namespace baton
