// mirror_lag_bench --system baton|etcd --origin HOST:PORT --peer HOST:PORT
//                  [--rate N] [--duration-s S] [--dimension D] [--metadata-bytes B]
//                  [--sample-every K] [--poll-min-ms MS] [--poll-growth F]
//                  [--warmup-s S] [--drain-s S] [--stall-s S] [--no-verify]
//                  [--key-prefix P]
//
// Cross-cluster mirroring lag (bench/mirror_lag runs it once per system):
// open-loop writes at --rate per second for --duration-s seconds into the
// origin, each with a fresh key, and for every --sample-every'th acknowledged
// write the time until the peer shows it:
//
//   lag = (first read at the peer that finds the key: time its answer came)
//         - (time the origin's acknowledgement came)
//
// Both systems are measured by the same code with the same schedule, only
// the two calls differ:
//   baton: write = Gateway/Insert on the origin's active (id, --dimension
//          floats, --metadata-bytes); read = Gateway/Exists on the peer's active.
//   etcd:  write = KV/Put on the origin (key, value of dimension*4 +
//          metadata-bytes bytes); read = KV/Range of that one key
//          (serializable, keys_only) on the peer: the peer's applied state,
//          as Exists reads the peer's store.
//
// Polling: a sampled key is read at the peer at once after its ack, then again
// every max(--poll-min-ms, --poll-growth x its age) until found, so a lag is
// an upper bound that is late by at most that interval plus one read's round
// trip (resolution 1 ms up to 10 ms of lag, 10% beyond, by default). Writes go
// over one channel, reads over another. After the drain, every acknowledged
// write (sampled or not) is read once at the peer (unless --no-verify):
// missing ones are reported. Progress on stderr; one JSON line on stdout.
// Every wait is bounded (RPC deadlines, --warmup-s, --drain-s).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "baton/v1/gateway.grpc.pb.h"
#include "etcd_kv.grpc.pb.h"
#include "common/mutex.h"

namespace baton::bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

__attribute__((format(printf, 1, 2))) void Log(const char* fmt, ...) {
  std::va_list args;
  va_start(args, fmt);
  std::fprintf(stderr, "mirror_lag: ");
  std::vfprintf(stderr, fmt, args);
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  va_end(args);
}

struct Options {
  std::string system;
  std::string origin;
  std::string peer;
  double rate = 2000;
  double duration_s = 30;
  int dimension = 16;
  int metadata_bytes = 0;
  int sample_every = 10;
  double poll_min_ms = 1;
  double poll_growth = 0.1;
  double warmup_s = 15;
  double drain_s = 600;
  double stall_s = 60;
  bool verify = true;
  std::string key_prefix = "/baton-mirror-lag/";
  int max_writes_in_flight = 4000;
  int max_reads_in_flight = 256;
  milliseconds rpc_timeout{5000};
};

// Nearest-rank percentile of sorted values.
double Pct(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return NAN;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

nlohmann::json Num(double v) {
  if (std::isnan(v)) return nullptr;
  return std::round(v * 1000) / 1000;
}

nlohmann::json Stats(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  double sum = 0;
  for (double x : xs) sum += x;
  return {{"n", xs.size()},
          {"p50_ms", Num(Pct(xs, 0.50))},
          {"p90_ms", Num(Pct(xs, 0.90))},
          {"p99_ms", Num(Pct(xs, 0.99))},
          {"p999_ms", Num(Pct(xs, 0.999))},
          {"max_ms", Num(xs.empty() ? NAN : xs.back())},
          {"mean_ms", Num(xs.empty() ? NAN : sum / static_cast<double>(xs.size()))}};
}

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    default: return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) {
  grpc::ChannelArguments args;
  // Own connection per channel: writes and reads do not share one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// One system's two calls. Callbacks run on gRPC's threads.
class Backend {
 public:
  using WriteDone = std::function<void(const grpc::Status&)>;
  using ReadDone = std::function<void(const grpc::Status&, bool found)>;
  virtual ~Backend() = default;
  // Writes `key` at the origin.
  virtual void Write(const std::string& key, WriteDone done) = 0;
  // Reads `key` at the peer.
  virtual void Read(const std::string& key, ReadDone done) = 0;
  virtual const char* WriteCall() const = 0;
  virtual const char* ReadCall() const = 0;
};

class BatonBackend final : public Backend {
 public:
  explicit BatonBackend(const Options& options)
      : options_(options),
        origin_(v1::Gateway::NewStub(NewChannel(options.origin))),
        peer_(v1::Gateway::NewStub(NewChannel(options.peer))),
        metadata_(static_cast<size_t>(options.metadata_bytes), 'm') {}

  void Write(const std::string& key, WriteDone done) override {
    struct Call {
      grpc::ClientContext context;
      v1::InsertRequest request;
      v1::WriteResult result;
    };
    auto call = std::make_shared<Call>();
    v1::Object* object = call->request.mutable_object();
    object->set_id(key);
    {
      MutexLock lock(&rng_mu_);
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      for (int i = 0; i < options_.dimension; ++i) object->add_vector(dist(rng_));
    }
    object->set_metadata(metadata_);
    call->context.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
    origin_->async()->Insert(&call->context, &call->request, &call->result,
                             [call, done = std::move(done)](grpc::Status status) { done(status); });
  }

  void Read(const std::string& key, ReadDone done) override {
    struct Call {
      grpc::ClientContext context;
      v1::ExistsRequest request;
      v1::ExistsResponse response;
    };
    auto call = std::make_shared<Call>();
    call->request.set_id(key);
    call->context.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
    peer_->async()->Exists(&call->context, &call->request, &call->response,
                           [call, done = std::move(done)](grpc::Status status) {
                             done(status, status.ok() && call->response.exists());
                           });
  }

  const char* WriteCall() const override { return "baton.v1.Gateway/Insert"; }
  const char* ReadCall() const override { return "baton.v1.Gateway/Exists"; }

 private:
  const Options& options_;
  std::unique_ptr<v1::Gateway::Stub> origin_;
  std::unique_ptr<v1::Gateway::Stub> peer_;
  const std::string metadata_;
  Mutex rng_mu_;
  std::mt19937 rng_ GUARDED_BY(rng_mu_){12345};
};

class EtcdBackend final : public Backend {
 public:
  explicit EtcdBackend(const Options& options)
      : options_(options),
        origin_(etcdserverpb::KV::NewStub(NewChannel(options.origin))),
        peer_(etcdserverpb::KV::NewStub(NewChannel(options.peer))) {
    // As many bytes as a Baton object's vector plus metadata.
    std::mt19937 rng(12345);
    value_.resize(static_cast<size_t>(options.dimension) * 4 + static_cast<size_t>(options.metadata_bytes));
    for (char& c : value_) c = static_cast<char>('a' + rng() % 26);
  }

  void Write(const std::string& key, WriteDone done) override {
    struct Call {
      grpc::ClientContext context;
      etcdserverpb::PutRequest request;
      etcdserverpb::PutResponse response;
    };
    auto call = std::make_shared<Call>();
    call->request.set_key(key);
    call->request.set_value(value_);
    call->context.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
    origin_->async()->Put(&call->context, &call->request, &call->response,
                          [call, done = std::move(done)](grpc::Status status) { done(status); });
  }

  void Read(const std::string& key, ReadDone done) override {
    struct Call {
      grpc::ClientContext context;
      etcdserverpb::RangeRequest request;
      etcdserverpb::RangeResponse response;
    };
    auto call = std::make_shared<Call>();
    call->request.set_key(key);
    call->request.set_serializable(true);
    call->request.set_keys_only(true);
    call->context.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
    peer_->async()->Range(&call->context, &call->request, &call->response,
                          [call, done = std::move(done)](grpc::Status status) {
                            done(status, status.ok() && call->response.kvs_size() > 0);
                          });
  }

  const char* WriteCall() const override { return "etcdserverpb.KV/Put"; }
  const char* ReadCall() const override { return "etcdserverpb.KV/Range (serializable, keys_only)"; }

 private:
  const Options& options_;
  std::unique_ptr<etcdserverpb::KV::Stub> origin_;
  std::unique_ptr<etcdserverpb::KV::Stub> peer_;
  std::string value_;
};

// One run of writes and lag probes: `count` writes at `rate` per second.
class Phase {
 public:
  Phase(const Options& options, Backend& backend, std::string name, int64_t count, double rate, double drain_s)
      : options_(options),
        backend_(backend),
        name_(std::move(name)),
        count_(count),
        rate_(rate),
        drain_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(drain_s))),
        writes_(static_cast<size_t>(count)) {}

  nlohmann::json Run(bool verify) {
    std::thread poller([this] { PollLoop(); });
    const Clock::time_point start = Clock::now();
    WriteLoop(start);
    const Clock::time_point writes_done = Clock::now();
    // Every write answered (each has an RPC deadline), then the drain: until
    // every sampled write is seen or --drain-s after the last ack.
    const Clock::time_point ack_deadline = writes_done + options_.rpc_timeout + std::chrono::seconds(5);
    {
      MutexLock lock(&mu_);
      while (writes_in_flight_ > 0 && Clock::now() < ack_deadline) changed_.WaitFor(milliseconds(100));
      drain_deadline_ = Clock::now() + drain_;
      last_progress_ = Clock::now();
      draining_ = true;
      changed_.SignalAll();
      Log("%s: writes done (%lld acked); waiting for the peer (at most %.0f s, or %.0f s without progress)",
          name_.c_str(), static_cast<long long>(acked_), std::chrono::duration<double>(drain_).count(), options_.stall_s);
      Clock::time_point next_report = Clock::now() + std::chrono::seconds(5);
      while (!poll_done_) {
        changed_.WaitFor(milliseconds(200));
        if (Clock::now() >= next_report && !poll_done_) {
          Log("%s: draining: %lld of %lld sampled writes seen at the peer", name_.c_str(),
              static_cast<long long>(seen_), static_cast<long long>(sampled_acked_));
          next_report += std::chrono::seconds(5);
        }
      }
    }
    poller.join();
    const Clock::time_point end = Clock::now();
    int64_t verified_missing = -1;
    int64_t verify_errors = 0;
    if (verify) Verify(&verified_missing, &verify_errors);
    WaitIdle();

    MutexLock lock(&mu_);
    std::vector<double> lag_ms, ack_ms;
    int64_t acked = 0, sampled = 0, seen = 0;
    for (const WriteState& w : writes_) {
      if (!w.acked) continue;
      ++acked;
      ack_ms.push_back(Ms(w.ack - w.sent));
      if (!w.sampled) continue;
      ++sampled;
      if (w.seen != Clock::time_point{}) {
        ++seen;
        lag_ms.push_back(Ms(w.seen - w.ack));
      }
    }
    const double write_seconds = std::chrono::duration<double>(writes_done - start).count();
    // The same figures per 5 s of the run (by the write's send time), so that
    // a stall shows where it happened.
    constexpr double kWindowS = 5;
    const size_t windows = static_cast<size_t>(std::ceil(std::max(write_seconds, 1e-9) / kWindowS));
    std::vector<std::vector<double>> window_ack(windows), window_lag(windows);
    std::vector<int64_t> window_unseen(windows, 0);
    for (const WriteState& w : writes_) {
      if (!w.acked) continue;
      const size_t k = std::min(windows - 1, static_cast<size_t>(std::chrono::duration<double>(w.sent - start).count() / kWindowS));
      window_ack[k].push_back(Ms(w.ack - w.sent));
      if (w.sampled && w.seen != Clock::time_point{}) {
        window_lag[k].push_back(Ms(w.seen - w.ack));
      } else if (w.sampled) {
        ++window_unseen[k];
      }
    }
    nlohmann::json by_window = nlohmann::json::array();
    for (size_t k = 0; k < windows; ++k) {
      nlohmann::json ack = Stats(window_ack[k]);
      nlohmann::json lag = Stats(window_lag[k]);
      by_window.push_back({{"from_s", static_cast<double>(k) * kWindowS},
                           {"acked", ack["n"]},
                           {"ack_p99_ms", ack["p99_ms"]},
                           {"seen", lag["n"]},
                           {"unseen", window_unseen[k]},
                           {"lag_p50_ms", lag["p50_ms"]},
                           {"lag_p99_ms", lag["p99_ms"]},
                           {"lag_max_ms", lag["max_ms"]}});
    }
    nlohmann::json errors = nlohmann::json::object();
    for (const auto& [code, n] : write_errors_) errors[code] = n;
    nlohmann::json read_errors = nlohmann::json::object();
    for (const auto& [code, n] : read_errors_) read_errors[code] = n;
    std::vector<double> read_rtt = read_rtt_ms_;
    const double poll_seconds = std::max(std::chrono::duration<double>(end - start).count(), 1e-9);
    return {{"phase", name_},
            {"writes", count_},
            {"write_seconds", Num(write_seconds)},
            {"offered_rate", rate_},
            {"achieved_rate", Num(static_cast<double>(count_) / std::max(write_seconds, 1e-9))},
            {"acked", acked},
            {"write_errors", errors},
            {"ack", Stats(ack_ms)},
            {"sampled", sampled},
            {"seen", seen},
            {"unseen", sampled - seen},
            {"lag", Stats(lag_ms)},
            // Writes the peer applied per second, from the sampled ones seen
            // (first to last sighting): below the offered rate, the mirror
            // cannot keep up and its lag grows with the run's length.
            {"peer_apply_rate", Num(seen > 1 && last_seen_ > first_seen_
                                        ? static_cast<double>((seen - 1) * options_.sample_every) /
                                              std::chrono::duration<double>(last_seen_ - first_seen_).count()
                                        : NAN)},
            {"reads", reads_},
            {"reads_per_s", Num(static_cast<double>(reads_) / poll_seconds)},
            {"read_errors", read_errors},
            {"read_rtt", Stats(read_rtt)},
            {"verified", verify},
            {"verified_missing", verified_missing},
            {"verify_errors", verify_errors},
            {"by_window", by_window}};
  }

  std::string Key(int64_t i) const { return options_.key_prefix + run_id_ + "/" + name_ + "/" + std::to_string(i); }

 private:
  struct WriteState {
    Clock::time_point sent;
    Clock::time_point ack;
    Clock::time_point seen;
    bool acked = false;
    bool sampled = false;
  };
  // A sampled key due for a read at the peer.
  struct Due {
    Clock::time_point at;
    int64_t index;
    bool operator>(const Due& o) const { return at > o.at; }
  };

  // Open loop: write i is issued at start + i/rate (at once when behind), at
  // most max_writes_in_flight unanswered.
  void WriteLoop(Clock::time_point start) {
    const double period_s = 1.0 / rate_;
    Clock::time_point last_report = start;
    int64_t last_acked = 0;
    for (int64_t i = 0; i < count_; ++i) {
      const Clock::time_point at =
          start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(period_s * static_cast<double>(i)));
      std::this_thread::sleep_until(at);
      {
        MutexLock lock(&mu_);
        const Clock::time_point limit = Clock::now() + options_.rpc_timeout * 2;
        while (writes_in_flight_ >= options_.max_writes_in_flight && Clock::now() < limit) {
          changed_.WaitFor(milliseconds(10));
        }
        ++writes_in_flight_;
        ++calls_in_flight_;
        writes_[static_cast<size_t>(i)].sent = Clock::now();
        writes_[static_cast<size_t>(i)].sampled = i % options_.sample_every == 0;
      }
      backend_.Write(Key(i), [this, i](const grpc::Status& status) { OnAck(i, status); });
      const Clock::time_point now = Clock::now();
      if (now - last_report >= std::chrono::seconds(5)) {
        MutexLock lock(&mu_);
        Log("%s: %lld written, %lld acked (+%lld in %.1f s), %lld sampled seen, %lld reads", name_.c_str(),
            static_cast<long long>(i + 1), static_cast<long long>(acked_), static_cast<long long>(acked_ - last_acked),
            std::chrono::duration<double>(now - last_report).count(), static_cast<long long>(seen_),
            static_cast<long long>(reads_));
        last_acked = acked_;
        last_report = now;
      }
    }
  }

  void OnAck(int64_t i, const grpc::Status& status) {
    const Clock::time_point now = Clock::now();
    MutexLock lock(&mu_);
    WriteState& w = writes_[static_cast<size_t>(i)];
    if (status.ok()) {
      w.ack = now;
      w.acked = true;
      ++acked_;
      if (w.sampled) {
        ++sampled_acked_;
        due_.push({now, i});
        changed_.SignalAll();
      }
    } else {
      ++write_errors_[CodeName(status.error_code())];
    }
    --writes_in_flight_;
    --calls_in_flight_;
    if (writes_in_flight_ == 0) changed_.SignalAll();
  }

  // Reads due keys at the peer until every sampled write is seen, or the
  // drain deadline passes.
  void PollLoop() {
    for (;;) {
      std::vector<int64_t> batch;
      {
        MutexLock lock(&mu_);
        const Clock::time_point now = Clock::now();
        const std::chrono::duration<double> stalled = now - last_progress_;
        if (draining_ && (now >= drain_deadline_ || stalled.count() >= options_.stall_s ||
                          (due_.empty() && reads_in_flight_ == 0))) {
          if (seen_ < sampled_acked_) {
            Log("%s: stopped waiting: %lld sampled writes unseen (%s)", name_.c_str(),
                static_cast<long long>(sampled_acked_ - seen_),
                now >= drain_deadline_ ? "drain deadline" : "no progress");
          }
          poll_done_ = true;
          changed_.SignalAll();
          return;
        }
        while (!due_.empty() && due_.top().at <= now && reads_in_flight_ < options_.max_reads_in_flight) {
          batch.push_back(due_.top().index);
          due_.pop();
          ++reads_in_flight_;
          ++calls_in_flight_;
          ++reads_;
        }
        if (batch.empty()) {
          Clock::duration wait = milliseconds(50);
          if (!due_.empty() && reads_in_flight_ < options_.max_reads_in_flight) {
            wait = std::min<Clock::duration>(wait, due_.top().at - now);
          }
          if (draining_) wait = std::min<Clock::duration>(wait, drain_deadline_ - now);
          changed_.WaitFor(std::max<Clock::duration>(wait, std::chrono::microseconds(50)));
          continue;
        }
      }
      for (int64_t i : batch) {
        const Clock::time_point sent = Clock::now();
        backend_.Read(Key(i), [this, i, sent](const grpc::Status& status, bool found) {
          OnRead(i, sent, status, found);
        });
      }
    }
  }

  void OnRead(int64_t i, Clock::time_point sent, const grpc::Status& status, bool found) {
    const Clock::time_point now = Clock::now();
    MutexLock lock(&mu_);
    --reads_in_flight_;
    --calls_in_flight_;
    read_rtt_ms_.push_back(Ms(now - sent));
    WriteState& w = writes_[static_cast<size_t>(i)];
    if (found) {
      w.seen = now;
      ++seen_;
      last_progress_ = now;
      if (first_seen_ == Clock::time_point{}) first_seen_ = now;
      last_seen_ = now;
    } else {
      if (!status.ok()) ++read_errors_[CodeName(status.error_code())];
      const auto age = std::chrono::duration<double, std::milli>(now - w.ack).count();
      const double interval_ms = std::max(options_.poll_min_ms, options_.poll_growth * age);
      due_.push({now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(interval_ms)), i});
    }
    changed_.SignalAll();
  }

  // Reads every acknowledged write once at the peer (sampled ones already
  // seen excepted), at most 64 reads in flight.
  void Verify(int64_t* missing, int64_t* errors) {
    std::vector<int64_t> todo;
    {
      MutexLock lock(&mu_);
      for (int64_t i = 0; i < count_; ++i) {
        const WriteState& w = writes_[static_cast<size_t>(i)];
        if (w.acked && !(w.sampled && w.seen != Clock::time_point{})) todo.push_back(i);
      }
    }
    auto verify_missing = std::make_shared<std::atomic<int64_t>>(0);
    auto verify_errors = std::make_shared<std::atomic<int64_t>>(0);
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(120);
    constexpr int kInFlight = 64;
    for (int64_t i : todo) {
      {
        MutexLock lock(&mu_);
        while (reads_in_flight_ >= kInFlight && Clock::now() < deadline) changed_.WaitFor(milliseconds(10));
        if (Clock::now() >= deadline) {
          Log("%s: verification stopped at its 120 s deadline", name_.c_str());
          *missing = -1;
          return;
        }
        ++reads_in_flight_;
        ++calls_in_flight_;
      }
      backend_.Read(Key(i), [this, verify_missing, verify_errors](const grpc::Status& status, bool found) {
        if (!found) ++*(status.ok() ? verify_missing : verify_errors);
        MutexLock lock(&mu_);
        --reads_in_flight_;
        --calls_in_flight_;
        changed_.SignalAll();
      });
    }
    WaitIdle();
    *missing = verify_missing->load();
    *errors = verify_errors->load();
  }

  // Until no call of this phase is outstanding (each has a deadline).
  void WaitIdle() {
    MutexLock lock(&mu_);
    const Clock::time_point limit = Clock::now() + options_.rpc_timeout + std::chrono::seconds(5);
    while (calls_in_flight_ > 0 && Clock::now() < limit) changed_.WaitFor(milliseconds(20));
    if (calls_in_flight_ > 0) {
      // The callbacks still reference this phase: leaving would be unsafe.
      Log("%s: %lld calls still outstanding past their deadlines; exiting", name_.c_str(),
          static_cast<long long>(calls_in_flight_));
      std::fflush(nullptr);
      std::_Exit(3);
    }
  }

  const Options& options_;
  Backend& backend_;
  const std::string name_;
  const int64_t count_;
  const double rate_;
  const Clock::duration drain_;
  const std::string run_id_ = std::to_string(std::random_device{}() % 1000000000u);

  Mutex mu_;
  CondVar changed_{&mu_};
  std::vector<WriteState> writes_ GUARDED_BY(mu_);
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due_ GUARDED_BY(mu_);
  std::map<std::string, int64_t> write_errors_ GUARDED_BY(mu_);
  std::map<std::string, int64_t> read_errors_ GUARDED_BY(mu_);
  std::vector<double> read_rtt_ms_ GUARDED_BY(mu_);
  int64_t writes_in_flight_ GUARDED_BY(mu_) = 0;
  int64_t reads_in_flight_ GUARDED_BY(mu_) = 0;
  int64_t calls_in_flight_ GUARDED_BY(mu_) = 0;
  int64_t acked_ GUARDED_BY(mu_) = 0;
  int64_t seen_ GUARDED_BY(mu_) = 0;
  int64_t reads_ GUARDED_BY(mu_) = 0;
  int64_t sampled_acked_ GUARDED_BY(mu_) = 0;
  bool draining_ GUARDED_BY(mu_) = false;
  bool poll_done_ GUARDED_BY(mu_) = false;
  Clock::time_point last_progress_ GUARDED_BY(mu_);
  Clock::time_point first_seen_ GUARDED_BY(mu_);
  Clock::time_point last_seen_ GUARDED_BY(mu_);
  Clock::time_point drain_deadline_ GUARDED_BY(mu_);
};

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: mirror_lag_bench --system baton|etcd --origin HOST:PORT --peer HOST:PORT [--rate N]\n"
               "         [--duration-s S] [--dimension D] [--metadata-bytes B] [--sample-every K]\n"
               "         [--poll-min-ms MS] [--poll-growth F] [--warmup-s S] [--drain-s S] [--stall-s S]\n"
               "         [--no-verify] [--key-prefix P]\n");
  std::exit(2);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (arg == "--system") o.system = value();
    else if (arg == "--origin") o.origin = value();
    else if (arg == "--peer") o.peer = value();
    else if (arg == "--rate") o.rate = std::stod(value());
    else if (arg == "--duration-s") o.duration_s = std::stod(value());
    else if (arg == "--dimension") o.dimension = std::stoi(value());
    else if (arg == "--metadata-bytes") o.metadata_bytes = std::stoi(value());
    else if (arg == "--sample-every") o.sample_every = std::stoi(value());
    else if (arg == "--poll-min-ms") o.poll_min_ms = std::stod(value());
    else if (arg == "--poll-growth") o.poll_growth = std::stod(value());
    else if (arg == "--warmup-s") o.warmup_s = std::stod(value());
    else if (arg == "--drain-s") o.drain_s = std::stod(value());
    else if (arg == "--stall-s") o.stall_s = std::stod(value());
    else if (arg == "--no-verify") o.verify = false;
    else if (arg == "--key-prefix") o.key_prefix = value();
    else Usage();
  }
  if ((o.system != "baton" && o.system != "etcd") || o.origin.empty() || o.peer.empty()) Usage();
  if (o.rate <= 0 || o.duration_s <= 0 || o.dimension < 1 || o.metadata_bytes < 0 || o.sample_every < 1 ||
      o.poll_min_ms <= 0 || o.poll_growth < 0 || o.warmup_s < 0 || o.drain_s < 0 || o.stall_s <= 0) {
    Usage();
  }
  return o;
}

int Main(int argc, char** argv) {
  const Options options = ParseArgs(argc, argv);
  std::unique_ptr<Backend> backend;
  if (options.system == "baton") {
    backend = std::make_unique<BatonBackend>(options);
  } else {
    backend = std::make_unique<EtcdBackend>(options);
  }

  // Warm-up: 20 writes at 50/s, all probed, until seen (connections up, the
  // mirror running). Without a working mirror, the measured run still runs
  // (so the harness can be checked) with a short drain.
  bool warm_ok = true;
  if (options.warmup_s > 0) {
    Options warm = options;
    warm.sample_every = 1;
    Phase phase(warm, *backend, "warmup", 20, 50, options.warmup_s);
    nlohmann::json r = phase.Run(/*verify=*/false);
    warm_ok = r["acked"] == 20 && r["seen"] == 20;
    Log("%s warm-up: %s", options.system.c_str(), r.dump().c_str());
    if (!warm_ok) Log("%s: the peer did not show every warm-up write within %.0f s", options.system.c_str(), options.warmup_s);
  }

  const auto count = static_cast<int64_t>(std::llround(options.rate * options.duration_s));
  Log("%s: %lld writes at %.0f/s into %s, lag probed at %s (every %d. write)", options.system.c_str(),
      static_cast<long long>(count), options.rate, options.origin.c_str(), options.peer.c_str(), options.sample_every);
  Phase phase(options, *backend, "run", count, options.rate, warm_ok ? options.drain_s : std::min(options.drain_s, 5.0));
  nlohmann::json result = phase.Run(options.verify);
  result["system"] = options.system;
  result["origin"] = options.origin;
  result["peer"] = options.peer;
  result["write_call"] = backend->WriteCall();
  result["read_call"] = backend->ReadCall();
  result["dimension"] = options.dimension;
  result["metadata_bytes"] = options.metadata_bytes;
  result["sample_every"] = options.sample_every;
  result["poll_min_ms"] = options.poll_min_ms;
  result["poll_growth"] = options.poll_growth;
  result["warmup_ok"] = warm_ok;
  std::printf("%s\n", result.dump().c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace baton::bench

int main(int argc, char** argv) { return baton::bench::Main(argc, argv); }
