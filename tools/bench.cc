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

#include <grpcpp/grpcpp.h>

namespace baton::tools {
namespace {

using Clock = std::chrono::steady_clock;

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

namespace {

// One client in the load: at most one call in flight, issued again from the
// completion of the previous one (gRPC's callback API, so that C clients cost
// no C blocked threads; redis-benchmark drives its clients from one event
// loop in the same way).
struct BenchSlot {
  int index = 0;
  std::unique_ptr<v1::Gateway::Stub> stub;
  std::mt19937_64 rng;
  v1::InsertRequest insert;
  v1::UpsertRequest upsert;
  v1::ExistsRequest exists;
  v1::WriteResult result;
  v1::ExistsResponse exists_result;
  std::unique_ptr<grpc::ClientContext> context;
  Clock::time_point started;
  int64_t sent = 0;
  std::vector<double> latencies_ms;
  std::map<std::string, int64_t> errors;
  int64_t ok = 0;
};

class BenchRun {
 public:
  explicit BenchRun(const BenchOptions& options) : options_(options) {
    deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration_s));
  }

  BenchResult Run() {
    const auto start = Clock::now();
    // One connection per client, as redis-benchmark opens one per client.
    std::vector<std::unique_ptr<BenchSlot>> slots;
    for (int i = 0; i < options_.concurrency; ++i) {
      auto slot = std::make_unique<BenchSlot>();
      slot->index = i;
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      slot->stub = v1::Gateway::NewStub(
          grpc::CreateCustomChannel(options_.address, grpc::InsecureChannelCredentials(), args));
      slot->rng.seed(options_.seed * 1000003 + static_cast<uint64_t>(i));
      v1::Object* object = options_.op == "upsert" ? slot->upsert.mutable_object() : slot->insert.mutable_object();
      object->set_metadata(std::string(static_cast<size_t>(options_.metadata_bytes), 'm'));
      slots.push_back(std::move(slot));
    }
    {
      MutexLock lock(&mu_);
      running_ = options_.concurrency;
    }
    for (auto& slot : slots) Issue(*slot);

    int64_t last = 0;
    MutexLock lock(&mu_);
    while (running_ > 0) {
      if (!finished_.WaitFor(std::chrono::seconds(1))) {
        const int64_t now_done = done_.load();
        std::fprintf(stderr, "bench: %lld ops (%lld/s)\n", static_cast<long long>(now_done),
                     static_cast<long long>(now_done - last));
        last = now_done;
      }
    }

    BenchResult result;
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<double> latencies_ms;
    for (auto& slot : slots) {
      latencies_ms.insert(latencies_ms.end(), slot->latencies_ms.begin(), slot->latencies_ms.end());
      for (const auto& [code, count] : slot->errors) result.errors[code] += count;
      result.ok += slot->ok;
    }
    std::sort(latencies_ms.begin(), latencies_ms.end());
    result.ops_per_second = static_cast<double>(latencies_ms.size()) / std::max(result.seconds, 1e-9);
    result.p50_ms = Percentile(latencies_ms, 0.50);
    result.p99_ms = Percentile(latencies_ms, 0.99);
    result.p999_ms = Percentile(latencies_ms, 0.999);
    result.max_ms = latencies_ms.empty() ? 0 : latencies_ms.back();
    return result;
  }

 private:
  // Starts the slot's next call, or retires the slot when the load is done.
  void Issue(BenchSlot& slot) {
    const bool more = options_.count > 0 ? issued_.fetch_add(1) < options_.count : Clock::now() < deadline_;
    if (!more) {
      MutexLock lock(&mu_);
      if (--running_ == 0) finished_.Signal();
      return;
    }
    const bool upsert = options_.op == "upsert";
    const bool exists = options_.op == "exists";
    std::string id = "bench-" + std::to_string(run_id_) + "-" + std::to_string(slot.index) + "-" +
                     std::to_string(slot.sent++);
    if (exists) {
      slot.exists.set_id(std::move(id));
      slot.exists_result.Clear();
    } else {
      v1::Object* object = upsert ? slot.upsert.mutable_object() : slot.insert.mutable_object();
      object->set_id(std::move(id));
      object->clear_vector();
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      for (int i = 0; i < options_.dimension; ++i) object->add_vector(dist(slot.rng));
      slot.result.Clear();
    }
    slot.context = std::make_unique<grpc::ClientContext>();
    slot.context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    slot.started = Clock::now();
    auto on_done = [this, &slot](grpc::Status status) {
      slot.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - slot.started).count());
      if (status.ok()) {
        ++slot.ok;
      } else {
        ++slot.errors[GrpcCodeName(status.error_code())];
      }
      done_.fetch_add(1, std::memory_order_relaxed);
      Issue(slot);
    };
    if (exists) {
      slot.stub->async()->Exists(slot.context.get(), &slot.exists, &slot.exists_result, std::move(on_done));
    } else if (upsert) {
      slot.stub->async()->Upsert(slot.context.get(), &slot.upsert, &slot.result, std::move(on_done));
    } else {
      slot.stub->async()->Insert(slot.context.get(), &slot.insert, &slot.result, std::move(on_done));
    }
  }

  const BenchOptions& options_;
  Clock::time_point deadline_;
  // A random run id keeps ids of repeated runs apart (inserts stay inserts).
  const uint64_t run_id_ = std::random_device{}();
  std::atomic<int64_t> issued_{0};
  std::atomic<int64_t> done_{0};
  Mutex mu_;
  CondVar finished_{&mu_};
  int running_ GUARDED_BY(mu_) = 0;
};

}  // namespace

BenchResult RunBench(const BenchOptions& options) { return BenchRun(options).Run(); }

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
