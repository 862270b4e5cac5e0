// `batonctl bench`: a bounded, concurrent load against a gateway (writes, or
// Exists calls of ids that are not stored: the cheapest call the gateway
// serves, which shows what one gRPC call costs), reporting throughput,
// latency percentiles and errors by status code.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace baton::tools {

struct BenchOptions {
  std::string address;
  int concurrency = 16;
  int64_t count = 0;          // total operations; 0 = run for duration_s
  double duration_s = 10;     // used when count == 0
  int dimension = 128;
  int metadata_bytes = 512;
  std::string op = "insert";  // insert | upsert | exists
  uint64_t seed = 1;
};

struct BenchResult {
  int64_t ok = 0;
  std::map<std::string, int64_t> errors;  // code name -> count
  double seconds = 0;
  double ops_per_second = 0;
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;

  // One JSON object on one line.
  std::string ToJson(const BenchOptions& options) const;
  std::string ToText() const;
};

// Runs the load; prints progress to stderr about once a second.
BenchResult RunBench(const BenchOptions& options);

}  // namespace baton::tools
