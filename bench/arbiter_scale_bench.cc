// arbiter_scale_bench [--counts 1000,2500,...] [--step-seconds S]
//                     [--streams-per-connection N] [--heartbeat-ms MS]
//                     [--keep-going] [--max-seconds S] [--no-null]
// arbiter_scale_bench --serve-null PORT
//
// How many instance agents one baton-arbiter serves, and how many the machine
// and gRPC alone would let it serve. Simulates agents from this one process:
// one baton.v1.Arbiter/Heartbeats bidi stream per agent on gRPC's callback
// client API (no thread per stream; one ticker thread starts the writes,
// gRPC's own threads run the callbacks). Agent k is instance "i<k>" of
// cluster "c<k/3>"; it reports every heartbeat-ms (default 100, spread
// evenly), health OK, priority 1, a durable/applied position, and the role
// and epoch of the last assignment it was given (UNASSIGNED at first, then
// what the server assigns), like a real agent whose gateway follows its
// assignments.
//
// Two servers, one after the other, each ramped through the same --counts by
// the same simulator:
//   1. the null arbiter (unless --no-null): this same binary run as a child
//      with --serve-null PORT, a gRPC callback server of the same service
//      that answers every heartbeat at once with its sequence and a fixed
//      STANDBY assignment, with no ZooKeeper and no state. It is the floor
//      this machine, gRPC and the simulator set.
//   2. baton-arbiter on a real ZooKeeper (tests/support/zookeeper_server.h).
// Each step adds streams, waits (bounded) until nearly every agent has been
// given an assignment (the arbiter persists membership and the first active
// of each new cluster in ZooKeeper), then measures for --step-seconds:
//   offered  = agents * 1000 / heartbeat-ms heartbeats per second,
//   achieved = answers received per second,
//   RTT      = heartbeat sent -> its answer (matched by sequence) p50/p99,
//   the arbiter's processing p99 from the deltas of its /metrics histogram
//   baton_arbiter_heartbeat_duration_seconds over the window, and the CPU
//   the server and the simulator used.
// A step passes when achieved >= 95% of offered, no stream failed, and: for
// baton-arbiter, processing p99 < 20 ms (fewer than 1% of the window's
// observations above the 20 ms bucket); for the null arbiter, which has no
// processing metric, answer RTT p99 < 20 ms. A ramp stops at its first
// failing step (unless --keep-going). The result is the largest passing
// count of each (goal for baton-arbiter >= 10,000) and their ratio.
//
// Progress to stderr, the tables to stdout, one JSON line at the end. Bounded
// in agents, time (--max-seconds per ramp) and memory; the only processes
// signalled are the ones this program started (the null arbiter, ZooKeeper
// and baton-arbiter, via the fixtures).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "baton/v1/arbiter.grpc.pb.h"
#include "tests/support/binaries.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_util.h"
#include "tests/support/zookeeper_server.h"

namespace baton::bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

__attribute__((format(printf, 1, 2))) void Log(const char* fmt, ...) {
  std::va_list args;
  va_start(args, fmt);
  std::fprintf(stderr, "arbiter_scale: ");
  std::vfprintf(stderr, fmt, args);
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  va_end(args);
}

int64_t NowNs() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

// Lock-free latency histogram: 100 log-spaced buckets per decade from 1 us
// to 100 s.
class LatencyHist {
 public:
  static constexpr int kPerDecade = 100;
  static constexpr int kBuckets = 8 * kPerDecade + 1;
  void Add(int64_t ns) {
    const double us = std::max(1.0, static_cast<double>(ns) / 1000.0);
    int b = static_cast<int>(std::log10(us) * kPerDecade);
    b = std::clamp(b, 0, kBuckets - 1);
    counts_[b].fetch_add(1, std::memory_order_relaxed);
  }
  std::array<uint64_t, kBuckets> Snapshot() const {
    std::array<uint64_t, kBuckets> s{};
    for (int i = 0; i < kBuckets; ++i) s[i] = counts_[i].load(std::memory_order_relaxed);
    return s;
  }
  // Quantile (ms, bucket upper bound) of the difference of two snapshots.
  static double QuantileMs(const std::array<uint64_t, kBuckets>& a, const std::array<uint64_t, kBuckets>& b, double q) {
    uint64_t total = 0;
    for (int i = 0; i < kBuckets; ++i) total += b[i] - a[i];
    if (total == 0) return NAN;
    const double target = q * static_cast<double>(total);
    uint64_t cum = 0;
    for (int i = 0; i < kBuckets; ++i) {
      cum += b[i] - a[i];
      if (static_cast<double>(cum) >= target) return std::pow(10.0, static_cast<double>(i + 1) / kPerDecade) / 1000.0;
    }
    return NAN;
  }

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
};

struct Counters {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> answered{0};
  std::atomic<uint64_t> skipped{0};  // previous write still in flight at the tick
  std::atomic<uint64_t> stream_failures{0};
  std::atomic<uint64_t> redirects{0};  // answers naming another leader
  std::atomic<uint64_t> with_assignment{0};
  std::atomic<uint64_t> agents_assigned{0};  // agents that got at least one assignment
  std::atomic<uint64_t> done{0};
  LatencyHist rtt;
};

class SimAgent : public grpc::ClientBidiReactor<v1::Heartbeat, v1::HeartbeatResponse> {
 public:
  SimAgent(int k, Counters* counters) : counters_(counters) {
    id_ = "i" + std::to_string(k);
    cluster_ = "c" + std::to_string(k / 3);
    address_ = "10." + std::to_string((k >> 16) & 255) + "." + std::to_string((k >> 8) & 255) + "." +
               std::to_string(k & 255) + ":7700";
  }

  void Begin(v1::Arbiter::Stub* stub) {
    stub->async()->Heartbeats(&ctx_, this);
    AddHold();  // writes start from the ticker thread, outside reactions
    StartRead(&response_);
    StartCall();
  }

  // Ticker thread only.
  void Tick() {
    if (failed_.load(std::memory_order_relaxed)) return;
    bool idle = false;
    if (!write_busy_.compare_exchange_strong(idle, true)) {
      counters_->skipped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const uint64_t seq = ++sequence_;
    const uint64_t epoch = epoch_.load(std::memory_order_relaxed);
    heartbeat_.Clear();
    heartbeat_.set_instance_id(id_);
    heartbeat_.set_cluster(cluster_);
    heartbeat_.set_address(address_);
    heartbeat_.set_health(v1::HEALTH_OK);
    heartbeat_.set_role(static_cast<v1::Role>(role_.load(std::memory_order_relaxed)));
    heartbeat_.set_epoch(epoch);
    heartbeat_.mutable_durable()->set_epoch(epoch);
    heartbeat_.mutable_durable()->set_seq(seq);
    heartbeat_.mutable_applied()->set_epoch(epoch);
    heartbeat_.mutable_applied()->set_seq(seq);
    heartbeat_.set_priority(1);
    heartbeat_.set_sequence(seq);
    heartbeat_.set_lease_remaining_ms(-1);
    heartbeat_.set_assignment_version(version_.load(std::memory_order_relaxed));
    sent_at_[seq % kRing].store(NowNs(), std::memory_order_relaxed);
    counters_->sent.fetch_add(1, std::memory_order_relaxed);
    StartWrite(&heartbeat_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) failed_ = true;
    write_busy_.store(false);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      if (!shutting_down_.load()) {
        failed_ = true;
        counters_->stream_failures.fetch_add(1);
      }
      return;
    }
    const int64_t sent = sent_at_[response_.sequence() % kRing].load(std::memory_order_relaxed);
    if (sent > 0) counters_->rtt.Add(NowNs() - sent);
    counters_->answered.fetch_add(1, std::memory_order_relaxed);
    if (!response_.leader_address().empty()) counters_->redirects.fetch_add(1);
    if (response_.has_assignment()) {
      counters_->with_assignment.fetch_add(1, std::memory_order_relaxed);
      const v1::Assignment& a = response_.assignment();
      role_.store(a.role(), std::memory_order_relaxed);
      epoch_.store(a.epoch(), std::memory_order_relaxed);
      version_.store(a.config_version(), std::memory_order_relaxed);
      if (!assigned_) {
        assigned_ = true;
        counters_->agents_assigned.fetch_add(1);
      }
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    counters_->done.fetch_add(1);
    cv_.notify_all();
  }

  // After the ticker stopped: cancel and let OnDone come.
  void Shutdown() {
    shutting_down_ = true;
    ctx_.TryCancel();
    RemoveHold();
  }
  bool WaitDone(milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_; });
  }

 private:
  static constexpr int kRing = 16;
  Counters* const counters_;
  std::string id_, cluster_, address_;
  grpc::ClientContext ctx_;
  v1::Heartbeat heartbeat_;  // owned by the write in flight
  v1::HeartbeatResponse response_;
  uint64_t sequence_ = 0;  // ticker thread
  std::atomic<bool> write_busy_{false};
  std::atomic<bool> failed_{false};
  std::atomic<bool> shutting_down_{false};
  std::atomic<int> role_{v1::ROLE_UNASSIGNED};
  std::atomic<uint64_t> epoch_{0};
  std::atomic<uint64_t> version_{0};
  bool assigned_ = false;  // reactions are serialized per stream
  std::array<std::atomic<int64_t>, kRing> sent_at_{};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// Metrics of the arbiter from /metrics.
struct Scrape {
  bool ok = false;
  std::map<double, double> buckets;  // le -> cumulative count (+Inf as infinity)
  double count = 0;
  double heartbeats = 0;
  double agents_connected = 0;
  double state_writes = 0;
};

double ParseValue(const std::string& line) {
  const size_t sp = line.rfind(' ');
  return sp == std::string::npos ? 0 : std::atof(line.c_str() + sp + 1);
}

Scrape ScrapeArbiter(uint16_t port) {
  Scrape s;
  auto got = baton::testing::HttpGet(port, "/metrics", seconds(10));
  if (!got.ok() || got->first != 200) return s;
  std::istringstream in(got->second);
  const std::string bucket = "baton_arbiter_heartbeat_duration_seconds_bucket{";
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind(bucket, 0) == 0) {
      const size_t le = line.find("le=\"");
      if (le == std::string::npos) continue;
      const std::string v = line.substr(le + 4, line.find('"', le + 4) - le - 4);
      s.buckets[v == "+Inf" ? INFINITY : std::atof(v.c_str())] = ParseValue(line);
    } else if (line.rfind("baton_arbiter_heartbeat_duration_seconds_count", 0) == 0) {
      s.count = ParseValue(line);
    } else if (line.rfind("baton_arbiter_heartbeats_total", 0) == 0) {
      s.heartbeats = ParseValue(line);
    } else if (line.rfind("baton_arbiter_agents_connected", 0) == 0) {
      s.agents_connected = ParseValue(line);
    } else if (line.rfind("baton_arbiter_state_writes_total", 0) == 0) {
      s.state_writes += ParseValue(line);
    }
  }
  s.ok = !s.buckets.empty();
  return s;
}

// Quantile of the bucket deltas b - a, interpolated linearly inside the
// bucket (as Prometheus' histogram_quantile); seconds.
double HistQuantile(const Scrape& a, const Scrape& b, double q, double* total_out) {
  std::vector<std::pair<double, double>> d;  // le, cumulative delta
  for (const auto& [le, cum] : b.buckets) {
    auto it = a.buckets.find(le);
    d.emplace_back(le, cum - (it == a.buckets.end() ? 0 : it->second));
  }
  const double total = d.empty() ? 0 : d.back().second;
  if (total_out) *total_out = total;
  if (total <= 0) return NAN;
  const double target = q * total;
  double prev_le = 0, prev_cum = 0;
  for (const auto& [le, cum] : d) {
    if (cum >= target) {
      if (std::isinf(le)) return prev_le;  // above the last finite bucket
      if (cum == prev_cum) return le;
      return prev_le + (le - prev_le) * (target - prev_cum) / (cum - prev_cum);
    }
    prev_le = le;
    prev_cum = cum;
  }
  return NAN;
}

// Fraction of the window's observations above `le` seconds.
double FractionAbove(const Scrape& a, const Scrape& b, double le) {
  auto cum = [](const Scrape& s, double bound) {
    auto it = s.buckets.find(bound);
    return it == s.buckets.end() ? 0.0 : it->second;
  };
  const double total = cum(b, INFINITY) - cum(a, INFINITY);
  if (total <= 0) return NAN;
  return 1.0 - (cum(b, le) - cum(a, le)) / total;
}

// utime + stime of a process, seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return NAN;
  std::istringstream fields(text.substr(paren + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state
    if (i == 14) utime = std::atof(f.c_str());
    if (i == 15) {
      stime = std::atof(f.c_str());
      break;
    }
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The null arbiter (--serve-null PORT): the same baton.v1.Arbiter/Heartbeats
// service with nothing behind it, so that one invocation also measures the
// floor set by this machine, gRPC and the simulator. Every heartbeat is
// answered at once with its `sequence`, arbiter_id "null" and an assignment
// (STANDBY, the heartbeat's epoch or 1, a lease, config_version 1): that is
// all the simulator looks at, so its flow (settle once assigned, then report
// the assigned role and epoch) is the one it has against the arbiter. No
// ZooKeeper and no state across heartbeats or streams.
constexpr uint32_t kNullLeaseMs = 2000;
// Printed by the null arbiter once it listens; the ramp waits for it.
constexpr const char* kNullReady = "null arbiter serving on";

// One stream of the null arbiter. Reads and writes overlap as in the
// arbiter's AgentService::Stream (the next read starts as soon as a heartbeat
// is answered; an answer that finds a write in flight waits in pending_, a
// newer one replacing it), so gRPC does the same work per heartbeat and only
// the arbiter's own processing is missing. A read and a write reaction may
// run at the same time on gRPC's threads; mu_ orders the write side and the
// decision to finish. Deletes itself in OnDone.
class NullStream : public grpc::ServerBidiReactor<v1::Heartbeat, v1::HeartbeatResponse> {
 public:
  NullStream() { StartRead(&in_); }

  void OnReadDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ok) {  // the agent closed its side, or the call was cancelled
      FinishLocked();
      return;
    }
    if (finishing_) return;
    v1::HeartbeatResponse answer;
    answer.set_sequence(in_.sequence());
    answer.set_arbiter_id("null");
    v1::Assignment* assignment = answer.mutable_assignment();
    assignment->set_role(v1::ROLE_STANDBY);
    assignment->set_epoch(std::max<uint64_t>(in_.epoch(), 1));
    assignment->set_lease_ms(kNullLeaseMs);
    assignment->set_config_version(1);
    if (writing_) {
      pending_ = std::move(answer);
    } else {
      out_ = std::move(answer);
      writing_ = true;
      StartWrite(&out_);
    }
    StartRead(&in_);  // in_ is done with: the answer holds copies
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked();
      return;
    }
    if (pending_ && !finishing_) {
      out_ = std::move(*pending_);
      pending_.reset();
      writing_ = true;
      StartWrite(&out_);
      return;
    }
    if (finishing_) FinishLocked();
  }

  void OnDone() override { delete this; }  // gRPC callback reactors own themselves

 private:
  // Finishes once, and only when no write is in flight (a write must not race
  // the final status); OnWriteDone finishes a deferred one.
  void FinishLocked() {
    finishing_ = true;
    if (finished_ || writing_) return;
    finished_ = true;
    Finish(grpc::Status::OK);
  }

  v1::Heartbeat in_;  // only the read side touches it
  std::mutex mu_;
  v1::HeartbeatResponse out_;                       // guarded by mu_, owned by the write in flight
  std::optional<v1::HeartbeatResponse> pending_;    // guarded by mu_
  bool writing_ = false, finishing_ = false, finished_ = false;  // guarded by mu_
};

class NullArbiterService final : public v1::Arbiter::CallbackService {
  grpc::ServerBidiReactor<v1::Heartbeat, v1::HeartbeatResponse>* Heartbeats(grpc::CallbackServerContext*) override {
    return new NullStream();  // owned by gRPC until OnDone
  }
};

// --serve-null PORT: serves the null arbiter on 127.0.0.1:PORT (gRPC's
// default server options, as baton-arbiter) until SIGTERM or SIGINT, then
// exits 0. Prints kNullReady once it listens.
int ServeNull(const char* port_arg) {
  const int port = std::atoi(port_arg);
  if (port < 1 || port > 65535) {
    std::fprintf(stderr, "arbiter_scale: --serve-null: bad port \"%s\"\n", port_arg);
    return 2;
  }
  // Blocked before gRPC starts its threads, which inherit the mask, so the
  // sigwait below is the only taker of the stop signal.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  NullArbiterService service;
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(), &selected_port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || selected_port == 0) {
    std::fprintf(stderr, "arbiter_scale: null arbiter cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  std::printf("%s 127.0.0.1:%d\n", kNullReady, selected_port);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  // Open streams would hold Shutdown() forever without a deadline.
  server->Shutdown(std::chrono::system_clock::now() + seconds(2));
  return 0;
}

struct Options {
  std::vector<int> counts = {1000, 2500, 5000, 7500, 10000, 12500, 15000, 20000};
  int step_seconds = 10;
  int heartbeat_ms = 100;
  int streams_per_connection = 4;
  bool keep_going = false;
  bool null_peer = true;  // also ramp against the null arbiter
  int max_seconds = 1200;  // per ramp
  int settle_max_seconds = 60;
  uint32_t lease_ms = 2000;
};

struct StepResult {
  int agents = 0;
  double offered = 0, sent = 0, achieved = 0, server_rate = NAN;
  double rtt_p50_ms = NAN, rtt_p99_ms = NAN;
  double proc_p50_ms = NAN, proc_p99_ms = NAN, above_20ms = NAN, observations = 0;
  double server_cpu = NAN, bench_cpu = NAN;  // cores used
  double settle_s = 0;
  uint64_t skipped = 0, failures = 0, redirects = 0, state_writes = 0;
  bool pass = false;
  std::string limit;  // why it failed
};

std::string Num(double v, int decimals = 2) {
  if (std::isnan(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// For tables: "-" where JSON says null.
std::string Cell(double v, int decimals = 2) { return std::isnan(v) ? "-" : Num(v, decimals); }

int Usage(const char* argv0, int rc = 2) {
  std::fprintf(rc == 0 ? stdout : stderr,
               "usage: %s [--counts 1000,2500,...] [--step-seconds S] [--streams-per-connection N]\n"
               "          [--heartbeat-ms MS] [--keep-going] [--max-seconds S] [--no-null]\n"
               "       %s --serve-null PORT\n"
               "Ramps simulated agents (one Heartbeats stream each) through --counts against a null\n"
               "arbiter (the same service answering every heartbeat at once: no ZooKeeper, no state;\n"
               "the floor of this machine, gRPC and the simulator; skipped with --no-null), then against\n"
               "baton-arbiter on a real ZooKeeper. A step passes when >= 95%% of the offered heartbeats\n"
               "are answered and, for baton-arbiter, its processing p99 < 20 ms; the null arbiter has no\n"
               "processing metric, so for it the answer RTT p99 must be < 20 ms. --max-seconds bounds each\n"
               "ramp (default 1200). --serve-null PORT only serves the null arbiter on 127.0.0.1:PORT until\n"
               "SIGTERM (the ramp starts it so, as a child).\n",
               argv0, argv0);
  return rc;
}

// The server one ramp runs against.
struct Server {
  const char* name;                // for logs
  std::string target;              // host:port of its Heartbeats service
  baton::testing::Daemon* daemon;  // its process: CPU, exit, log
  uint16_t metrics_port = 0;       // baton-arbiter's /metrics; 0: none (the null arbiter), pass on RTT p99
};

struct Ramp {
  std::vector<StepResult> steps;
  int best = 0;  // largest passing count, 0 if none
};

// Ramps simulated agents through opt.counts against `server` and measures
// every step. Call from the main thread; bounded by opt.max_seconds (checked
// between steps) plus one step. Its streams are ended before it returns (or,
// past 20 s, left to process exit together with what they point to).
Ramp RunRamp(const Options& opt, const Server& server) {
  Ramp ramp;
  const int max_agents = opt.counts.back();
  const auto run_deadline = Clock::now() + seconds(opt.max_seconds);
  const pid_t server_pid = server.daemon->process->pid();

  // Channels: each its own TCP connection (local subchannel pool).
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::Arbiter::Stub>> stubs;
  // Heap-held: streams that do not end in time still point to it.
  auto counters_owner = std::make_unique<Counters>();
  Counters& counters = *counters_owner;
  std::vector<std::unique_ptr<SimAgent>> agents(static_cast<size_t>(max_agents));
  std::atomic<int> active_agents{0};
  std::atomic<bool> stop_ticker{false};

  // One ticker: agent k sends in slot k % slots of every heartbeat period.
  const int slots = opt.heartbeat_ms;  // 1 ms per slot
  std::thread ticker([&] {
    auto next = Clock::now();
    int slot = 0;
    while (!stop_ticker.load()) {
      const int n = active_agents.load(std::memory_order_acquire);
      for (int k = slot; k < n; k += slots) agents[static_cast<size_t>(k)]->Tick();
      slot = (slot + 1) % slots;
      next += milliseconds(1);
      const auto now = Clock::now();
      if (next > now) {
        std::this_thread::sleep_until(next);
      } else if (now - next > milliseconds(opt.heartbeat_ms)) {
        next = now;  // more than a period behind: do not burst to catch up
      }
    }
  });

  int started = 0;
  for (int count : opt.counts) {
    if (Clock::now() > run_deadline) {
      Log("%s: time budget (%d s) used up; stopping the ramp", server.name, opt.max_seconds);
      break;
    }
    StepResult r;
    r.agents = count;
    // Add agents [started, count).
    const auto add_start = Clock::now();
    const uint64_t assigned_before = counters.agents_assigned.load();
    for (int k = started; k < count; ++k) {
      const size_t c = static_cast<size_t>(k / opt.streams_per_connection);
      if (c >= channels.size()) {
        grpc::ChannelArguments args;
        args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
        args.SetInt("grpc.bench_connection", static_cast<int>(c));
        channels.push_back(grpc::CreateCustomChannel(server.target, grpc::InsecureChannelCredentials(), args));
        stubs.push_back(v1::Arbiter::NewStub(channels.back()));
      }
      agents[static_cast<size_t>(k)] = std::make_unique<SimAgent>(k, &counters);
      agents[static_cast<size_t>(k)]->Begin(stubs[c].get());
      if ((k + 1) % 500 == 0 || k + 1 == count) active_agents.store(k + 1, std::memory_order_release);
    }
    started = count;
    // Settle: new clusters get members, a first active and a sync set
    // written to ZooKeeper; wait until (nearly) every new agent has an
    // assignment, at least 2 s, at most settle_max_seconds. The null arbiter
    // assigns at the first answer; it waits the same, so both ramps measure
    // streams of the same age.
    const auto want_assigned = static_cast<uint64_t>(0.99 * count);
    baton::testing::WaitFor(
        [&] {
          return Clock::now() - add_start > seconds(2) &&
                 counters.agents_assigned.load() >= want_assigned;
        },
        seconds(opt.settle_max_seconds), milliseconds(100));
    // Let the first lease of the newest clusters pass (bootstrap promotions).
    std::this_thread::sleep_for(milliseconds(opt.lease_ms + 500));
    r.settle_s = std::chrono::duration<double>(Clock::now() - add_start).count();
    Log("%s, %d agents: %lu assigned (+%lu) after %.1f s; measuring %d s", server.name, count,
        static_cast<unsigned long>(counters.agents_assigned.load()),
        static_cast<unsigned long>(counters.agents_assigned.load() - assigned_before), r.settle_s, opt.step_seconds);

    // Measure.
    const bool scrape = server.metrics_port != 0;
    const Scrape m0 = scrape ? ScrapeArbiter(server.metrics_port) : Scrape{};
    const auto rtt0 = counters.rtt.Snapshot();
    const uint64_t sent0 = counters.sent.load(), ans0 = counters.answered.load(), skip0 = counters.skipped.load(),
                   fail0 = counters.stream_failures.load(), redir0 = counters.redirects.load();
    const double scpu0 = CpuSeconds(server_pid), bcpu0 = CpuSeconds(::getpid());
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(seconds(opt.step_seconds));
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const double scpu1 = CpuSeconds(server_pid), bcpu1 = CpuSeconds(::getpid());
    const uint64_t sent1 = counters.sent.load(), ans1 = counters.answered.load(), skip1 = counters.skipped.load(),
                   fail1 = counters.stream_failures.load(), redir1 = counters.redirects.load();
    const auto rtt1 = counters.rtt.Snapshot();
    const Scrape m1 = scrape ? ScrapeArbiter(server.metrics_port) : Scrape{};

    r.offered = count * 1000.0 / opt.heartbeat_ms;
    r.sent = static_cast<double>(sent1 - sent0) / secs;
    r.achieved = static_cast<double>(ans1 - ans0) / secs;
    r.rtt_p50_ms = LatencyHist::QuantileMs(rtt0, rtt1, 0.50);
    r.rtt_p99_ms = LatencyHist::QuantileMs(rtt0, rtt1, 0.99);
    r.skipped = skip1 - skip0;
    r.failures = fail1 - fail0;
    r.redirects = redir1 - redir0;
    r.server_cpu = (scpu1 - scpu0) / secs;
    r.bench_cpu = (bcpu1 - bcpu0) / secs;
    if (scrape && m0.ok && m1.ok) {
      r.proc_p50_ms = HistQuantile(m0, m1, 0.50, &r.observations) * 1000;
      r.proc_p99_ms = HistQuantile(m0, m1, 0.99, nullptr) * 1000;
      r.above_20ms = FractionAbove(m0, m1, 0.02);
      r.server_rate = (m1.heartbeats - m0.heartbeats) / secs;
      r.state_writes = static_cast<uint64_t>(m1.state_writes - m0.state_writes);
    } else if (scrape) {
      Log("cannot scrape the arbiter's /metrics");
    }
    const bool answered = r.achieved >= 0.95 * r.offered;
    const bool sent = r.sent >= 0.95 * r.offered;
    // Why a step fails: the simulator could not even send the load (it
    // shares the cores), the server was slow, or answers went missing.
    if (scrape) {
      r.pass = !std::isnan(r.above_20ms) && r.above_20ms < 0.01 && answered && r.failures == 0;
      r.limit = r.pass                   ? ""
                : r.failures > 0         ? "streams failed"
                : !(r.above_20ms < 0.01) ? "arbiter processing p99"
                : !sent                  ? "simulator could not send the offered load"
                                         : "answers below 95% of offered";
    } else {
      // No processing metric: the answer RTT, which contains the processing,
      // is held to the same 20 ms.
      r.pass = answered && r.rtt_p99_ms < 20 && r.failures == 0;
      r.limit = r.pass           ? ""
                : r.failures > 0 ? "streams failed"
                : !sent          ? "simulator could not send the offered load"
                : !answered      ? "answers below 95% of offered"
                                 : "answer RTT p99";
    }
    char counted[64] = "", proc[160] = "";
    if (scrape) {
      std::snprintf(counted, sizeof counted, " (arbiter counted %.0f/s)", r.server_rate);
      std::snprintf(proc, sizeof proc, "; arbiter processing p50 %s p99 %s ms (%.3f%% > 20 ms, %.0f obs); state writes %lu",
                    Num(r.proc_p50_ms, 4).c_str(), Num(r.proc_p99_ms, 4).c_str(), 100 * r.above_20ms, r.observations,
                    static_cast<unsigned long>(r.state_writes));
    }
    Log("%s, %6d agents: offered %.0f/s sent %.0f/s answered %.0f/s%s; RTT p50 %s p99 %s ms%s; cpu server %.2f "
        "bench %.2f cores; %s%s%s",
        server.name, count, r.offered, r.sent, r.achieved, counted, Num(r.rtt_p50_ms, 3).c_str(),
        Num(r.rtt_p99_ms, 3).c_str(), proc, r.server_cpu, r.bench_cpu, r.pass ? "PASS" : "FAIL", r.pass ? "" : ": ",
        r.limit.c_str());
    ramp.steps.push_back(r);
    if (r.pass) ramp.best = std::max(ramp.best, count);
    if (server.daemon->process->Exited()) {
      Log("%s exited:\n%s", server.name, server.daemon->Log().c_str());
      break;
    }
    if (!r.pass && !opt.keep_going) break;
  }

  // Tear down: ticker first, then every stream.
  stop_ticker = true;
  ticker.join();
  const int n = active_agents.load();
  for (int k = 0; k < n; ++k) agents[static_cast<size_t>(k)]->Shutdown();
  const auto shutdown_deadline = Clock::now() + seconds(20);
  bool all_done = true;
  for (int k = 0; k < n && all_done; ++k) {
    const auto left = std::chrono::duration_cast<milliseconds>(shutdown_deadline - Clock::now());
    all_done = agents[static_cast<size_t>(k)]->WaitDone(std::max(left, milliseconds(0)));
  }
  if (!all_done) {
    Log("%s: some streams did not end within 20 s; leaving them to process exit", server.name);
    for (auto& a : agents) (void)a.release();  // a reactor must outlive OnDone
    (void)counters_owner.release();             // and what it counts into
  }
  return ramp;
}

// The count a ramp reached, as printed: "+" when it passed the last count of
// --counts (the ramp ended, not the server: a lower bound).
bool LowerBound(const Options& opt, const Ramp& ramp) { return ramp.best > 0 && ramp.best == opt.counts.back(); }
std::string BestText(const Options& opt, const Ramp& ramp) {
  return std::to_string(ramp.best) + (LowerBound(opt, ramp) ? "+" : "");
}

const StepResult* StepOf(const Ramp& ramp, int agents) {
  for (const auto& r : ramp.steps) {
    if (r.agents == agents) return &r;
  }
  return nullptr;
}

void PrintArbiterTable(const Options& opt, const Ramp& ramp) {
  std::printf("\n  baton-arbiter heartbeat scale: 1 arbiter + 1 ZooKeeper; simulated agents in one process\n");
  std::printf("  (%u cores shared by the arbiter, ZooKeeper and this simulator; %d streams per TCP connection;\n",
              std::thread::hardware_concurrency(), opt.streams_per_connection);
  std::printf("   heartbeat every %d ms; step %d s; pass = arbiter processing p99 < 20 ms and >= 95%% of offered)\n\n",
              opt.heartbeat_ms, opt.step_seconds);
  std::printf("  %7s %10s %10s %10s %7s %10s %10s %11s %11s %9s %9s  %s\n", "agents", "offered/s", "sent/s",
              "answered/s", "ratio", "rtt p50", "rtt p99", "proc p50", "proc p99", "cpu arb", "cpu sim", "result");
  for (const auto& r : ramp.steps) {
    std::printf("  %7d %10.0f %10.0f %10.0f %7.3f %8s ms %8s ms %9s ms %9s ms %9.2f %9.2f  %s%s%s\n", r.agents,
                r.offered, r.sent, r.achieved, r.offered > 0 ? r.achieved / r.offered : 0.0, Num(r.rtt_p50_ms, 2).c_str(),
                Num(r.rtt_p99_ms, 2).c_str(), Num(r.proc_p50_ms, 3).c_str(), Num(r.proc_p99_ms, 3).c_str(),
                r.server_cpu, r.bench_cpu, r.pass ? "pass" : "FAIL", r.pass ? "" : ": ", r.limit.c_str());
  }
}

void PrintNullTable(const Ramp& ramp) {
  std::printf("\n  null arbiter: the same Heartbeats service answering every heartbeat at once (no ZooKeeper, no\n");
  std::printf("  state), i.e. the floor of this machine, gRPC and the simulator; same simulator and counts\n");
  std::printf("  (pass = answer RTT p99 < 20 ms and >= 95%% of offered: it has no processing metric)\n\n");
  std::printf("  %7s %10s %10s %10s %7s %10s %10s %9s %9s  %s\n", "agents", "offered/s", "sent/s", "answered/s",
              "ratio", "rtt p50", "rtt p99", "cpu null", "cpu sim", "result");
  for (const auto& r : ramp.steps) {
    std::printf("  %7d %10.0f %10.0f %10.0f %7.3f %8s ms %8s ms %9.2f %9.2f  %s%s%s\n", r.agents, r.offered, r.sent,
                r.achieved, r.offered > 0 ? r.achieved / r.offered : 0.0, Num(r.rtt_p50_ms, 2).c_str(),
                Num(r.rtt_p99_ms, 2).c_str(), r.server_cpu, r.bench_cpu, r.pass ? "pass" : "FAIL", r.pass ? "" : ": ",
                r.limit.c_str());
  }
}

void PrintSideBySide(const Options& opt, const Ramp& arb, const Ramp& null_ramp) {
  // Rows end where their text does (no trailing padding).
  auto line = [](std::string text) {
    text.erase(text.find_last_not_of(' ') + 1);
    std::printf("%s\n", text.c_str());
  };
  auto cells = [](const StepResult* r) {
    char buf[128];
    if (r == nullptr) {
      std::snprintf(buf, sizeof buf, "%10s %10s %8s %8s %-6s", "-", "-", "-", "-", "-");
    } else {
      std::snprintf(buf, sizeof buf, "%10.0f %7s ms %8s %8s %-6s", r->achieved, Cell(r->rtt_p99_ms, 2).c_str(),
                    Cell(r->server_cpu, 2).c_str(), Cell(r->bench_cpu, 2).c_str(), r->pass ? "pass" : "FAIL");
    }
    return std::string(buf);
  };
  char buf[256];
  std::printf("\n  side by side (same simulator, same counts; - = step not run):\n\n");
  std::snprintf(buf, sizeof buf, "  %7s | %-46s | %s", "", "baton-arbiter", "null arbiter");
  line(buf);
  std::snprintf(buf, sizeof buf, "  %7s | %10s %10s %8s %8s %-6s | %10s %10s %8s %8s %-6s", "agents", "answered/s",
                "rtt p99", "cpu arb", "cpu sim", "result", "answered/s", "rtt p99", "cpu null", "cpu sim", "result");
  line(buf);
  for (int count : opt.counts) {
    const StepResult* a = StepOf(arb, count);
    const StepResult* z = StepOf(null_ramp, count);
    if (a == nullptr && z == nullptr) continue;
    std::snprintf(buf, sizeof buf, "  %7d | %s | %s", count, cells(a).c_str(), cells(z).c_str());
    line(buf);
  }
}

std::string StepsJson(const Ramp& ramp, bool arbiter) {
  std::ostringstream j;
  j << "[";
  for (size_t i = 0; i < ramp.steps.size(); ++i) {
    const auto& r = ramp.steps[i];
    j << (i ? "," : "") << "{\"agents\":" << r.agents << ",\"offered_per_s\":" << Num(r.offered, 0)
      << ",\"sent_per_s\":" << Num(r.sent, 0) << ",\"answered_per_s\":" << Num(r.achieved, 0);
    if (arbiter) {
      j << ",\"arbiter_counted_per_s\":" << Num(r.server_rate, 0);
    }
    j << ",\"rtt_p50_ms\":" << Num(r.rtt_p50_ms, 3) << ",\"rtt_p99_ms\":" << Num(r.rtt_p99_ms, 3);
    if (arbiter) {
      j << ",\"processing_p50_ms\":" << Num(r.proc_p50_ms, 4) << ",\"processing_p99_ms\":" << Num(r.proc_p99_ms, 4)
        << ",\"fraction_over_20ms\":" << Num(r.above_20ms, 5) << ",\"arbiter_cpu_cores\":" << Num(r.server_cpu, 2);
    }
    // server_cpu_cores in both lists, so steps of the two runs compare by key.
    j << ",\"server_cpu_cores\":" << Num(r.server_cpu, 2) << ",\"bench_cpu_cores\":" << Num(r.bench_cpu, 2)
      << ",\"skipped_ticks\":" << r.skipped << ",\"stream_failures\":" << r.failures;
    if (arbiter) j << ",\"state_writes\":" << r.state_writes;
    j << ",\"settle_s\":" << Num(r.settle_s, 1) << ",\"pass\":" << (r.pass ? "true" : "false") << ",\"limit\":\""
      << r.limit << "\"}";
  }
  j << "]";
  return j.str();
}

int Main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--serve-null") return argc == 3 ? ServeNull(argv[2]) : Usage(argv[0]);
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--help" || a == "-h") return Usage(argv[0], 0);
    if (a == "--keep-going") {
      opt.keep_going = true;
      continue;
    }
    if (a == "--no-null") {
      opt.null_peer = false;
      continue;
    }
    if (v == nullptr) return Usage(argv[0]);
    ++i;
    if (a == "--counts") {
      opt.counts.clear();
      std::stringstream ss(v);
      for (std::string c; std::getline(ss, c, ',');) opt.counts.push_back(std::atoi(c.c_str()));
    } else if (a == "--step-seconds") {
      opt.step_seconds = std::atoi(v);
    } else if (a == "--heartbeat-ms") {
      opt.heartbeat_ms = std::atoi(v);
    } else if (a == "--streams-per-connection") {
      opt.streams_per_connection = std::atoi(v);
    } else if (a == "--max-seconds") {
      opt.max_seconds = std::atoi(v);
    } else {
      return Usage(argv[0]);
    }
  }
  std::sort(opt.counts.begin(), opt.counts.end());
  if (opt.counts.empty() || opt.counts.front() < 1 || opt.counts.back() > 100000 || opt.step_seconds < 1 ||
      opt.step_seconds > 600 || opt.heartbeat_ms < 10 || opt.heartbeat_ms > 10000 ||
      opt.streams_per_connection < 1 || opt.streams_per_connection > 1000 || opt.max_seconds < 10) {
    return Usage(argv[0]);
  }
  baton::testing::DefaultBuildDirToExecutable();
  if (!baton::testing::ZookeeperAvailable()) {
    std::fprintf(stderr, "arbiter_scale: %s\n", baton::testing::ZookeeperUnavailableReason().c_str());
    return 1;
  }
  const int max_agents = opt.counts.back();

  // File descriptors: one connection per streams_per_connection agents, on
  // both sides (the servers inherit the raised limit).
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  if (nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  const uint64_t connections = (static_cast<uint64_t>(max_agents) + opt.streams_per_connection - 1) /
                               static_cast<uint64_t>(opt.streams_per_connection);
  if (connections * 2 + 200 > nofile.rlim_cur) {
    std::fprintf(stderr,
                 "arbiter_scale: %lu connections need more file descriptors than RLIMIT_NOFILE %lu allows; raise "
                 "--streams-per-connection\n",
                 static_cast<unsigned long>(connections), static_cast<unsigned long>(nofile.rlim_cur));
    return 1;
  }

  baton::testing::TempDir dir;

  // The null arbiter first: it fails fast if anything is wrong with the
  // simulator or the machine, before the long arbiter ramp. Only one server
  // runs at a time; each ramp has the cores to itself and the simulator.
  Ramp null_ramp;
  if (opt.null_peer) {
    char self[4096] = {};
    const ssize_t len = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
      Log("cannot find this program (/proc/self/exe) to start the null arbiter");
      return 1;
    }
    const uint16_t null_port = baton::testing::PickFreePort();
    auto null_server = baton::testing::StartDaemon(std::string(self, static_cast<size_t>(len)),
                                                   {"--serve-null", std::to_string(null_port)}, dir.Join("null.log"));
    if (!null_server.ok()) {
      Log("cannot start the null arbiter: %s", null_server.status().ToString().c_str());
      return 1;
    }
    const bool ready = baton::testing::WaitFor(
        [&] { return null_server->process->Exited() || null_server->Log().find(kNullReady) != std::string::npos; },
        seconds(30), milliseconds(20));
    if (!ready || null_server->process->Exited()) {
      Log("the null arbiter did not start within 30 s:\n%s", null_server->Log().c_str());
      return 1;
    }
    Log("null arbiter pid %d (grpc :%u) serves; %u cores shared by it and this simulator",
        static_cast<int>(null_server->process->pid()), null_port, std::thread::hardware_concurrency());
    null_ramp = RunRamp(opt, Server{"null arbiter", "127.0.0.1:" + std::to_string(null_port), &*null_server, 0});
    (void)null_server->process->Stop(seconds(10));
  }

  Ramp arb_ramp;
  {
    baton::testing::ZookeeperServer zookeeper;
    if (Status s = zookeeper.Start(); !s.ok()) {
      Log("ZooKeeper did not start: %s", s.ToString().c_str());
      return 1;
    }
    const uint16_t grpc_port = baton::testing::PickFreePort();
    uint16_t http_port = baton::testing::PickFreePort();
    while (http_port == grpc_port) http_port = baton::testing::PickFreePort();
    const std::string log_path = dir.Join("arbiter.log");
    auto arbiter = baton::testing::StartDaemon(
        baton::testing::BinaryPath("arbiter/baton-arbiter"),
        {"--arbiter.id", "a1", "--grpc.listen", "127.0.0.1:" + std::to_string(grpc_port), "--http.listen",
         "127.0.0.1:" + std::to_string(http_port), "--zookeeper.connect", zookeeper.connect_string(),
         "--zookeeper.root", "/baton-scale", "--lease_ms", std::to_string(opt.lease_ms), "--log.level", "warn"},
        log_path);
    if (!arbiter.ok()) {
      Log("cannot start baton-arbiter: %s", arbiter.status().ToString().c_str());
      return 1;
    }
    const bool leading = baton::testing::WaitFor(
        [&] {
          if (arbiter->process->Exited()) return true;
          auto got = baton::testing::HttpGet(http_port, "/metrics", milliseconds(500));
          return got.ok() && got->first == 200 && got->second.find("\nbaton_arbiter_leader 1") != std::string::npos;
        },
        seconds(60), milliseconds(50));
    if (!leading || arbiter->process->Exited()) {
      Log("baton-arbiter did not become leader within 60 s:\n%s", arbiter->Log().c_str());
      return 1;
    }
    Log("ZooKeeper %s, baton-arbiter pid %d (grpc :%u, http :%u) leads; %u cores shared by both and this simulator",
        zookeeper.connect_string().c_str(), static_cast<int>(arbiter->process->pid()), grpc_port, http_port,
        std::thread::hardware_concurrency());
    arb_ramp =
        RunRamp(opt, Server{"baton-arbiter", "127.0.0.1:" + std::to_string(grpc_port), &*arbiter, http_port});
    (void)arbiter->process->Stop(seconds(10));
    zookeeper.Stop();
  }

  const int best = arb_ramp.best;
  PrintArbiterTable(opt, arb_ramp);
  std::printf("\n  largest passing agent count: %d (goal >= 10000: %s)\n", best, best >= 10000 ? "met" : "NOT met");
  double ratio = NAN;
  if (opt.null_peer) {
    PrintNullTable(null_ramp);
    PrintSideBySide(opt, arb_ramp, null_ramp);
    if (null_ramp.best > 0) ratio = static_cast<double>(best) / null_ramp.best;
    std::printf("\n  largest passing agent count: baton-arbiter %s, null arbiter %s; ratio %s of the floor\n",
                BestText(opt, arb_ramp).c_str(), BestText(opt, null_ramp).c_str(), Cell(ratio, 2).c_str());
    if (LowerBound(opt, arb_ramp) || LowerBound(opt, null_ramp)) {
      std::printf("  (+ = passed the last of --counts: a lower bound, the ramp ended before the server did)\n");
    }
  }
  std::printf("\n");

  std::ostringstream j;
  j << "{\"bench\":\"arbiter_scale\",\"cores\":" << std::thread::hardware_concurrency()
    << ",\"heartbeat_ms\":" << opt.heartbeat_ms << ",\"step_seconds\":" << opt.step_seconds
    << ",\"streams_per_connection\":" << opt.streams_per_connection << ",\"max_agents_passing\":" << best
    << ",\"goal_met\":" << (best >= 10000 ? "true" : "false")
    << ",\"max_agents_is_lower_bound\":" << (LowerBound(opt, arb_ramp) ? "true" : "false");
  if (opt.null_peer) {
    j << ",\"null_max_agents_passing\":" << null_ramp.best
      << ",\"null_max_agents_is_lower_bound\":" << (LowerBound(opt, null_ramp) ? "true" : "false")
      << ",\"max_agents_ratio_to_null\":" << Num(ratio, 3);
  } else {
    j << ",\"null_max_agents_passing\":null,\"null_max_agents_is_lower_bound\":null,\"max_agents_ratio_to_null\":null";
  }
  j << ",\"steps\":" << StepsJson(arb_ramp, true) << ",\"null_steps\":" << StepsJson(null_ramp, false) << "}";
  std::printf("%s\n", j.str().c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace baton::bench

int main(int argc, char** argv) { return baton::bench::Main(argc, argv); }
