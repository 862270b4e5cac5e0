#include "tools/bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "tools/gateway_client.h"

namespace baton::tools {
namespace {

using Clock = std::chrono::steady_clock;

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

BenchResult RunBench(const BenchOptions& options) {
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration_s));
  std::atomic<int64_t> issued{0};
  std::atomic<int64_t> done{0};
  std::atomic<bool> stop{false};
  Mutex mu;
  std::vector<double> latencies_ms;
  std::map<std::string, int64_t> errors;
  int64_t ok_total = 0;
  // A random run id keeps ids of repeated runs apart (inserts stay inserts).
  const uint64_t run_id = std::random_device{}();

  auto worker = [&](int thread_index) {
    GatewayClient client(options.address);
    std::mt19937_64 rng(options.seed * 1000003 + thread_index);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<double> local_latencies;
    std::map<std::string, int64_t> local_errors;
    int64_t local_ok = 0;
    v1::UpsertRequest request;
    v1::Object* object = request.mutable_object();
    object->set_metadata(std::string(static_cast<size_t>(options.metadata_bytes), 'm'));
    while (!stop.load(std::memory_order_relaxed)) {
      if (options.count > 0) {
        if (issued.fetch_add(1) >= options.count) break;
      } else if (Clock::now() >= deadline) {
        break;
      }
      const int64_t n = local_ok + static_cast<int64_t>(local_latencies.size());
      object->set_id("bench-" + std::to_string(run_id) + "-" + std::to_string(thread_index) + "-" + std::to_string(n));
      object->clear_vector();
      for (int i = 0; i < options.dimension; ++i) object->add_vector(dist(rng));
      const auto t0 = Clock::now();
      grpc::Status status = client.Call([&](v1::Gateway::Stub& stub, grpc::ClientContext& ctx) {
        v1::WriteResult result;
        if (options.op == "upsert") return stub.Upsert(&ctx, request, &result);
        v1::InsertRequest insert;
        *insert.mutable_object() = *object;
        return stub.Insert(&ctx, insert, &result);
      });
      local_latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      if (status.ok()) {
        ++local_ok;
      } else {
        ++local_errors[GrpcCodeName(status.error_code())];
      }
      done.fetch_add(1, std::memory_order_relaxed);
    }
    MutexLock lock(&mu);
    latencies_ms.insert(latencies_ms.end(), local_latencies.begin(), local_latencies.end());
    for (const auto& [code, count] : local_errors) errors[code] += count;
    ok_total += local_ok;
  };

  std::vector<std::thread> threads;
  for (int i = 0; i < options.concurrency; ++i) threads.emplace_back(worker, i);
  std::thread progress([&] {
    int64_t last = 0;
    while (!stop.load()) {
      for (int i = 0; i < 10 && !stop.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (stop.load()) break;
      int64_t now_done = done.load();
      std::fprintf(stderr, "bench: %lld ops (%lld/s)\n", static_cast<long long>(now_done),
                   static_cast<long long>(now_done - last));
      last = now_done;
    }
  });
  for (auto& t : threads) t.join();
  stop = true;
  progress.join();

  BenchResult result;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  MutexLock lock(&mu);
  std::sort(latencies_ms.begin(), latencies_ms.end());
  result.ok = ok_total;
  result.errors = errors;
  result.ops_per_second = static_cast<double>(latencies_ms.size()) / std::max(result.seconds, 1e-9);
  result.p50_ms = Percentile(latencies_ms, 0.50);
  result.p99_ms = Percentile(latencies_ms, 0.99);
  result.p999_ms = Percentile(latencies_ms, 0.999);
  result.max_ms = latencies_ms.empty() ? 0 : latencies_ms.back();
  return result;
}

std::string BenchResult::ToJson(const BenchOptions& options) const {
  nlohmann::json j = {{"system", "baton"},   {"op", options.op},           {"concurrency", options.concurrency},
                      {"dimension", options.dimension}, {"metadata_bytes", options.metadata_bytes},
                      {"ok", ok},            {"errors", errors},           {"seconds", seconds},
                      {"ops_per_second", ops_per_second}, {"p50_ms", p50_ms}, {"p99_ms", p99_ms},
                      {"p999_ms", p999_ms},  {"max_ms", max_ms}};
  return j.dump();
}

std::string BenchResult::ToText() const {
  std::ostringstream out;
  out << "ops/s  " << static_cast<int64_t>(ops_per_second) << "\n"
      << "ok     " << ok << " in " << seconds << " s\n"
      << "p50    " << p50_ms << " ms\n"
      << "p99    " << p99_ms << " ms\n"
      << "p999   " << p999_ms << " ms\n"
      << "max    " << max_ms << " ms\n";
  for (const auto& [code, count] : errors) out << "error  " << code << " x" << count << "\n";
  return out.str();
}

}  // namespace baton::tools
