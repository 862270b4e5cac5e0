// failover_bench [--trials N] [--lease-ms MS] [--gateways N] [--no-baton]
//                [--no-sentinel] [--redis-server PATH] [--redis-sentinel PATH]
//
// Client-visible write outage when the active/primary dies (SIGKILL) or hangs
// (SIGSTOP), with a steady write load from one client that follows it:
//
//  (a) Baton: a whole HaCluster (ZooKeeper, one baton-arbiter, N gateways,
//      one baton-agent each) and a FollowingWriter. Per trial: the current
//      active is SIGKILLed or SIGSTOPped; outage = first ack from another
//      gateway after the fault minus the ack just before it. Every write
//      acknowledged since the previous check is then read back (GetObject)
//      from the new active: a missing or different one counts as lost. Then
//      the topology is restored (killed gateway restarted / stopped one
//      continued) and the next trial waits until the arbiter's sync set is
//      whole again.
//  (b) Redis Sentinel: 1 primary + 1 replica (redis-server) and 3 sentinels
//      (redis-sentinel, quorum 2, down-after-milliseconds 1000,
//      failover-timeout 3000), own temp configs, loopback. A client finds
//      the primary with SENTINEL get-master-addr-by-name and SETs a fresh key
//      each time; on any error or a 300 ms timeout it asks the sentinels
//      again. Same fault, same measurement; lost = acknowledged keys missing
//      (GET) on the new primary. Restore: the old primary comes back as a
//      replica of the new one (restart with --replicaof / REPLICAOF), and
//      the next trial waits until every sentinel sees it as a healthy replica.
//
// Trials alternate SIGKILL and SIGSTOP. Progress goes to stderr; the summary
// to stdout, ending with one JSON line. Every wait is bounded; only processes
// this program started are signalled (by pid, via the fixtures).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "bench/resp.h"
#include "common/process.h"
#include "tests/support/following_writer.h"
#include "tests/support/binaries.h"
#include "tests/support/ha_cluster.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_util.h"
#include "tests/support/zookeeper_server.h"

namespace baton::bench {
namespace {

using baton::testing::FollowingWriter;
using baton::testing::GatewayCluster;
using baton::testing::HaCluster;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

enum class Fault { kKill, kStop };
const char* FaultName(Fault f) { return f == Fault::kKill ? "sigkill" : "sigstop"; }

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

__attribute__((format(printf, 1, 2))) void Log(const char* fmt, ...) {
  std::va_list args;
  va_start(args, fmt);
  std::fprintf(stderr, "failover: ");
  std::vfprintf(stderr, fmt, args);
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  va_end(args);
}

struct Options {
  int trials = 20;
  uint32_t lease_ms = 2000;
  int gateways = 3;
  bool baton = true;
  bool sentinel = true;
  std::string redis_server = "redis-server";
  std::string redis_sentinel = "redis-sentinel";
  // Bounds for each system's whole run.
  seconds max_run{1800};
  int max_failed_trials = 3;
};

// One system's results for one fault kind.
struct Series {
  std::vector<double> outage_ms;
  std::vector<double> promote_ms;  // fault -> new active/primary visible (Baton: WaitForActive; Redis: sentinel)
  uint64_t acked_checked = 0;
  uint64_t missing = 0;
  int failed = 0;
  std::vector<std::string> errors;
};

// Nearest-rank percentile (with 20 samples, p99 is the maximum).
double Pct(std::vector<double> xs, double p) {
  if (xs.empty()) return NAN;
  std::sort(xs.begin(), xs.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(xs.size())));
  rank = std::clamp<size_t>(rank, 1, xs.size());
  return xs[rank - 1];
}

std::string Num(double v) {
  if (std::isnan(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string SeriesJson(const Series& s) {
  std::ostringstream o;
  o << "{\"trials\":" << s.outage_ms.size() << ",\"failed\":" << s.failed << ",\"p50_ms\":" << Num(Pct(s.outage_ms, 0.5))
    << ",\"p99_ms\":" << Num(Pct(s.outage_ms, 0.99)) << ",\"max_ms\":"
    << Num(s.outage_ms.empty() ? NAN : *std::max_element(s.outage_ms.begin(), s.outage_ms.end()))
    << ",\"promote_p50_ms\":" << Num(Pct(s.promote_ms, 0.5)) << ",\"acked_checked\":" << s.acked_checked
    << ",\"missing_acked\":" << s.missing << "}";
  return o.str();
}

// An acknowledged write as both systems see it: when, and by which server.
struct AckTime {
  Clock::time_point at;
  int server;
};

// Outage around a fault at `fault_at` of server `faulted`: the first ack
// after the fault from another server, minus the ack just before it in the
// client's (sequential) ack stream. nullopt when there is none yet.
std::optional<double> OutageMs(const std::vector<AckTime>& acks, size_t from, Clock::time_point fault_at, int faulted,
                               int* new_server) {
  for (size_t j = std::max<size_t>(from, 1); j < acks.size(); ++j) {
    if (acks[j].at >= fault_at && acks[j].server != faulted) {
      if (new_server) *new_server = acks[j].server;
      return Ms(acks[j].at - acks[j - 1].at);
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// (a) Baton
// ---------------------------------------------------------------------------

std::vector<AckTime> AckTimes(const std::vector<FollowingWriter::Ack>& acks) {
  std::vector<AckTime> out;
  out.reserve(acks.size());
  for (const auto& a : acks) out.push_back({a.at, a.gateway});
  return out;
}

// Reads acks [from, to) back from gateway `g` with a few threads; returns
// how many are missing or differ.
uint64_t CountMissingBaton(GatewayCluster& gateways, int g, const std::vector<FollowingWriter::Ack>& acks, size_t from,
                           size_t to) {
  std::atomic<uint64_t> missing{0};
  std::atomic<size_t> next{from};
  std::atomic<int> printed{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < to; i = next.fetch_add(1)) {
      const auto& ack = acks[i];
      auto got = gateways.GetObject(g, ack.id, seconds(5));
      const auto& v = got.object.vector();
      const bool same = got.status.ok() && static_cast<size_t>(v.size()) == ack.vector.size() &&
                        std::equal(ack.vector.begin(), ack.vector.end(), v.begin());
      if (!same) {
        missing.fetch_add(1);
        if (printed.fetch_add(1) < 5) {
          Log("  acked write %s (acked by %s) missing or different on %s: %s", ack.id.c_str(),
              gateways.id(ack.gateway).c_str(), gateways.id(g).c_str(), got.status.error_message().c_str());
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  return missing.load();
}

bool WaitSyncSetWhole(HaCluster& ha, size_t size, const std::string& active, milliseconds timeout) {
  return baton::testing::WaitFor(
      [&] {
        auto state = ha.ReadState();
        return state.ok() && state->sync_set.size() == size && (active.empty() || state->active == active);
      },
      timeout, milliseconds(50));
}

void RunBaton(const Options& opt, std::map<Fault, Series>* out) {
  const auto run_deadline = Clock::now() + opt.max_run;
  // The fixture runs every daemon at --log.level debug (a flag that may be
  // given only once), as the failover tests do.
  HaCluster ha({.gateways = opt.gateways, .lease_ms = opt.lease_ms});
  Log("baton: starting ZooKeeper, 1 arbiter, %d gateways + agents (lease %u ms)", opt.gateways, opt.lease_ms);
  if (Status s = ha.Start(); !s.ok()) {
    Log("baton: cluster did not start: %s\n%s", s.ToString().c_str(), ha.DescribeLogs(30).c_str());
    (*out)[Fault::kKill].errors.push_back("cluster did not start");
    return;
  }
  const size_t want_sync = static_cast<size_t>(opt.gateways - 1);
  if (!WaitSyncSetWhole(ha, want_sync, "", seconds(60))) {
    Log("baton: sync set never reached %zu members", want_sync);
    (*out)[Fault::kKill].errors.push_back("sync set never whole");
    return;
  }
  auto first = ha.WaitForActive(seconds(10));
  if (!first.ok()) {
    Log("baton: no active: %s", first.status().ToString().c_str());
    return;
  }
  FollowingWriter writer(ha.gateways(), {.dimension = ha.options().dimension, .max_writes = 20'000'000});
  writer.Start(*first);
  if (!writer.WaitForMoreAcks(200, seconds(20))) {
    Log("baton: the writer got no acks");
    writer.Stop();
    return;
  }
  size_t checked = 0;
  int failures = 0;
  for (int t = 0; t < 2 * opt.trials && Clock::now() < run_deadline && failures < opt.max_failed_trials; ++t) {
    const Fault fault = t % 2 == 0 ? Fault::kKill : Fault::kStop;
    Series& series = (*out)[fault];
    auto active = ha.WaitForActive(seconds(10));
    if (!active.ok()) {
      Log("baton: no active before trial %d: %s", t, active.status().ToString().c_str());
      ++failures;
      continue;
    }
    const int victim = *active;
    // Steady load first: a few hundred acks at the current active.
    if (!writer.WaitForMoreAcks(200, seconds(10))) Log("baton: writer slow before trial %d", t);
    const size_t acks_before = writer.ack_count();
    const auto fault_at = Clock::now();
    Status sent = fault == Fault::kKill ? ha.gateways().Kill(victim) : ha.gateways().Pause(victim);
    if (!sent.ok()) Log("baton: signalling %s: %s", ha.gateways().id(victim).c_str(), sent.ToString().c_str());
    const milliseconds promote_timeout =
        fault == Fault::kKill ? milliseconds(15000) : milliseconds(opt.lease_ms + 15000);
    auto promoted = ha.WaitForActive(promote_timeout, [&](int i) { return i != victim; });
    const double promote_ms = Ms(Clock::now() - fault_at);
    bool ok = promoted.ok();
    std::optional<double> outage;
    int new_gateway = -1;
    if (ok) {
      // The client's first ack after the fault (bounded wait).
      baton::testing::WaitFor(
          [&] {
            auto acks = AckTimes(writer.acks());
            outage = OutageMs(acks, acks_before > 0 ? acks_before - 1 : 0, fault_at, victim, &new_gateway);
            return outage.has_value();
          },
          seconds(15), milliseconds(20));
      ok = outage.has_value();
    }
    if (!ok) {
      ++failures;
      ++series.failed;
      series.errors.push_back(std::string(FaultName(fault)) + " trial " + std::to_string(t) + ": " +
                              (promoted.ok() ? "client never resumed" : promoted.status().ToString()));
      Log("baton: trial %d (%s of %s) FAILED: %s", t, FaultName(fault), ha.gateways().id(victim).c_str(),
          series.errors.back().c_str());
      const auto acks = writer.acks();
      Log("baton:   writer: %zu acks, %lu failed attempts, last ack %.0f ms after the fault by %s; last error: %s",
          acks.size(), static_cast<unsigned long>(writer.failures()),
          acks.empty() ? 0.0 : Ms(acks.back().at - fault_at),
          acks.empty() ? "-" : ha.gateways().id(acks.back().gateway).c_str(), writer.last_error().c_str());
      for (int i = 0; i < ha.gateways().size(); ++i) {
        if (i == victim) continue;
        // What the writer is retrying: the next id, with its 300 ms deadline.
        const auto probe_start = Clock::now();
        auto probe = ha.gateways().Upsert(
            i,
            GatewayCluster::MakeObject("w" + std::to_string(acks.size()),
                                       FollowingWriter::VectorFor(acks.size(), ha.options().dimension)),
            milliseconds(300));
        Log("baton:   probe write to %s (%.0f ms): %s %s%s", ha.gateways().id(i).c_str(), Ms(Clock::now() - probe_start),
            probe.status.ok() ? "OK" : std::to_string(probe.status.error_code()).c_str(),
            probe.status.error_message().c_str(),
            probe.baton_active.empty() ? "" : (" (baton-active " + probe.baton_active + ")").c_str());
        auto st = ha.gateways().GetState(i);
        Log("baton:   %s: %s", ha.gateways().id(i).c_str(),
            st.ok() ? GatewayCluster::Describe(*st).c_str() : st.status().ToString().c_str());
      }
    } else {
      writer.WaitForMoreAcks(50, seconds(10));
      const auto acks = writer.acks();
      const size_t prev_checked = checked;
      const uint64_t missing = CountMissingBaton(ha.gateways(), new_gateway, acks, checked, acks.size());
      series.acked_checked += acks.size() - checked;
      series.missing += missing;
      checked = acks.size();
      series.outage_ms.push_back(*outage);
      series.promote_ms.push_back(promote_ms);
      Log("baton: trial %2d %s %s -> %s: outage %7.1f ms (active seen after %7.1f ms), %zu acks checked, %lu missing",
          t, FaultName(fault), ha.gateways().id(victim).c_str(), ha.gateways().id(new_gateway).c_str(), *outage,
          promote_ms, acks.size() - prev_checked, static_cast<unsigned long>(missing));
    }
    // Restore: the old active back (as a standby), the sync set whole again.
    if (fault == Fault::kKill) {
      if (Status s = ha.gateways().Start(victim, GatewayCluster::Readiness::kHealthz); !s.ok()) {
        Log("baton: restarting %s: %s", ha.gateways().id(victim).c_str(), s.ToString().c_str());
      }
    } else {
      (void)ha.gateways().Resume(victim);
    }
    const std::string expect_active = new_gateway >= 0 ? ha.gateways().id(new_gateway) : "";
    if (!WaitSyncSetWhole(ha, want_sync, expect_active, seconds(60))) {
      auto state = ha.ReadState();
      Log("baton: sync set not whole 60 s after trial %d (%s)", t,
          state.ok() ? ("active " + state->active + ", " + std::to_string(state->sync_set.size()) + " in sync set").c_str()
                     : state.status().ToString().c_str());
      ++failures;
    }
  }
  writer.Stop();
  // A last pass over what the writer acked after the last check.
  auto final_active = ha.WaitForActive(seconds(10));
  if (final_active.ok()) {
    const auto acks = writer.acks();
    const uint64_t missing = CountMissingBaton(ha.gateways(), *final_active, acks, checked, acks.size());
    (*out)[Fault::kStop].missing += missing;
    (*out)[Fault::kStop].acked_checked += acks.size() - checked;
  }
  Log("baton: done; %lu acks in all, %lu failed write attempts", static_cast<unsigned long>(writer.ack_count()),
      static_cast<unsigned long>(writer.failures()));
}

// ---------------------------------------------------------------------------
// (b) Redis Sentinel
// ---------------------------------------------------------------------------

constexpr const char* kMaster = "mymaster";
constexpr int kRedisIoTimeoutMs = 300;  // as the Baton writer's rpc_timeout

std::unique_ptr<RespConn> Dial(int port, int timeout_ms = kRedisIoTimeoutMs) {
  auto c = std::make_unique<RespConn>("127.0.0.1", port, timeout_ms, timeout_ms);
  if (!c->connected()) return nullptr;
  return c;
}

// A flat RESP array of alternating keys and values as a map.
std::map<std::string, std::string> FieldMap(const RespValue& v) {
  std::map<std::string, std::string> m;
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2) m[v.elements[i].str] = v.elements[i + 1].str;
  return m;
}

// The primary's port as one sentinel reports it; 0 when unknown.
int AskSentinel(int sentinel_port, int timeout_ms = 200) {
  auto c = Dial(sentinel_port, timeout_ms);
  RespValue r;
  if (!c || !c->Call({"SENTINEL", "get-master-addr-by-name", kMaster}, &r)) return 0;
  if (r.type != '*' || r.elements.size() != 2) return 0;
  return std::atoi(r.elements[1].str.c_str());
}

// Client that follows the primary through the sentinels.
class SentinelWriter {
 public:
  struct Ack {
    uint64_t n;
    Clock::time_point at;
    int port;
  };
  explicit SentinelWriter(std::vector<int> sentinels) : sentinels_(std::move(sentinels)) {}
  ~SentinelWriter() { Stop(); }
  void Start() {
    stop_ = false;
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Ack> acks() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acks_;
  }
  size_t ack_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acks_.size();
  }
  uint64_t failures() const { return failures_.load(); }
  bool WaitForMoreAcks(size_t n, milliseconds timeout) const {
    const size_t target = ack_count() + n;
    return baton::testing::WaitFor([&] { return ack_count() >= target; }, timeout, milliseconds(5));
  }
  static std::string Key(uint64_t n) { return "k" + std::to_string(n); }
  static std::string Value(uint64_t n) { return "v" + std::to_string(n * 7919 % 1000003); }

 private:
  void Run() {
    std::unique_ptr<RespConn> conn;
    int port = 0;
    size_t next_sentinel = 0;
    for (uint64_t n = 0; !stop_ && n < 50'000'000;) {
      if (!conn) {
        // Discover: ask the sentinels in turn until one names a primary.
        port = 0;
        for (size_t i = 0; i < sentinels_.size() && port == 0; ++i) {
          port = AskSentinel(sentinels_[next_sentinel]);
          if (port == 0) next_sentinel = (next_sentinel + 1) % sentinels_.size();
        }
        if (port != 0) conn = Dial(port);
        if (!conn) {
          failures_.fetch_add(1);
          std::this_thread::sleep_for(milliseconds(5));
          continue;
        }
      }
      RespValue reply;
      if (conn->Call({"SET", Key(n), Value(n)}, &reply) && reply.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        acks_.push_back({n, Clock::now(), port});
        ++n;
        continue;
      }
      // Refused, closed, timed out, -READONLY, ...: ask the sentinels again
      // (the same key is retried; SET of the same value is idempotent).
      conn.reset();
      failures_.fetch_add(1);
      std::this_thread::sleep_for(milliseconds(5));
    }
  }

  const std::vector<int> sentinels_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> failures_{0};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Ack> acks_;
};

struct RedisNode {
  int port = 0;
  std::string dir;
  std::string conf;
  std::string log;
  std::unique_ptr<ChildProcess> proc;
  bool paused = false;
};

class SentinelSetup {
 public:
  explicit SentinelSetup(const Options& opt) : opt_(opt) {}
  ~SentinelSetup() {
    for (auto* n : All()) {
      if (n->proc) {
        if (n->paused) (void)n->proc->Signal(SIGCONT);
        (void)n->proc->Stop(seconds(5));
      }
    }
  }

  Status Start() {
    auto place = [this](RedisNode& node, const std::string& kind, int i) {
      node.port = baton::testing::PickFreePort();
      node.dir = dir_.Join(kind + std::to_string(i));
      node.conf = node.dir + "/" + kind + ".conf";
      node.log = node.dir + "/" + kind + ".log";
    };
    for (int i = 0; i < 2; ++i) place(redis_[i], "redis", i);
    for (int i = 0; i < 3; ++i) place(sentinels_[i], "sentinel", i);
    for (int i = 0; i < 2; ++i) {
      RedisNode& n = redis_[i];
      std::string extra = i == 1 ? "replicaof 127.0.0.1 " + std::to_string(redis_[0].port) + "\n" : "";
      BATON_RETURN_IF_ERROR(WriteFile(n, "bind 127.0.0.1\nport " + std::to_string(n.port) +
                                             "\nprotected-mode yes\ndaemonize no\ndir " + n.dir +
                                             "\nsave \"\"\nappendonly no\nrepl-diskless-sync-delay 0\n" + extra));
      BATON_RETURN_IF_ERROR(Spawn(n, opt_.redis_server, {}));
    }
    for (auto& s : sentinels_) {
      BATON_RETURN_IF_ERROR(WriteFile(s, "bind 127.0.0.1\nport " + std::to_string(s.port) +
                                             "\nprotected-mode no\ndaemonize no\ndir " + s.dir +
                                             "\nsentinel monitor " + kMaster + " 127.0.0.1 " +
                                             std::to_string(redis_[0].port) + " 2\nsentinel down-after-milliseconds " +
                                             kMaster + " 1000\nsentinel failover-timeout " + kMaster +
                                             " 3000\nsentinel parallel-syncs " + kMaster + " 1\n"));
      BATON_RETURN_IF_ERROR(Spawn(s, opt_.redis_sentinel, {}));
    }
    Log("sentinel: primary :%d, replica :%d, sentinels :%d :%d :%d", redis_[0].port, redis_[1].port,
        sentinels_[0].port, sentinels_[1].port, sentinels_[2].port);
    return WaitTopology(redis_[0].port, redis_[1].port, seconds(60));
  }

  std::vector<int> sentinel_ports() const {
    std::vector<int> p;
    for (const auto& s : sentinels_) p.push_back(s.port);
    return p;
  }
  RedisNode* ByPort(int port) {
    for (auto& n : redis_) {
      if (n.port == port) return &n;
    }
    return nullptr;
  }
  RedisNode* Other(int port) {
    for (auto& n : redis_) {
      if (n.port != port) return &n;
    }
    return nullptr;
  }
  // What a majority of sentinels call the primary (0: no agreement).
  int Primary() {
    std::map<int, int> votes;
    for (const auto& s : sentinels_) ++votes[AskSentinel(s.port, 500)];
    for (const auto& [port, count] : votes) {
      if (port != 0 && count >= 2) return port;
    }
    return 0;
  }

  // Every sentinel: `primary` is the master (no failover running, 2 other
  // sentinels known) and `replica` a healthy replica of it; the primary
  // reports the replica online.
  bool TopologyOk(int primary, int replica, std::string* why) {
    auto p = Dial(primary, 500);
    RespValue info;
    if (!p || !p->Call({"INFO", "replication"}, &info) || info.str.find("role:master") == std::string::npos ||
        info.str.find("port=" + std::to_string(replica) + ",state=online") == std::string::npos) {
      *why = "primary :" + std::to_string(primary) + " does not list :" + std::to_string(replica) + " online";
      return false;
    }
    for (const auto& s : sentinels_) {
      auto c = Dial(s.port, 500);
      RespValue m, r;
      if (!c || !c->Call({"SENTINEL", "master", kMaster}, &m) || !c->Call({"SENTINEL", "replicas", kMaster}, &r)) {
        *why = "sentinel :" + std::to_string(s.port) + " does not answer";
        return false;
      }
      auto master = FieldMap(m);
      if (master["port"] != std::to_string(primary) || master["flags"] != "master" ||
          master["num-other-sentinels"] != "2") {
        *why = "sentinel :" + std::to_string(s.port) + " sees master port " + master["port"] + " flags " +
               master["flags"] + " other sentinels " + master["num-other-sentinels"];
        return false;
      }
      bool found = false;
      for (const auto& e : r.elements) {
        auto rep = FieldMap(e);
        if (rep["port"] == std::to_string(replica) && rep["flags"] == "slave" && rep["master-link-status"] == "ok" &&
            rep["master-port"] == std::to_string(primary)) {
          found = true;
        }
      }
      if (!found) {
        *why = "sentinel :" + std::to_string(s.port) + " does not see :" + std::to_string(replica) +
               " as a healthy replica";
        return false;
      }
    }
    return true;
  }

  Status WaitTopology(int primary, int replica, milliseconds timeout) {
    std::string why;
    if (baton::testing::WaitFor([&] { return TopologyOk(primary, replica, &why); }, timeout, milliseconds(100))) {
      return Status::Ok();
    }
    return Status::DeadlineExceeded("redis topology not restored: " + why);
  }

  Status Kill(RedisNode& n) {
    Status s = n.proc->Signal(SIGKILL);
    (void)n.proc->Wait(seconds(10));
    n.proc.reset();
    n.paused = false;
    return s;
  }
  Status Pause(RedisNode& n) {
    n.paused = true;
    return n.proc->Signal(SIGSTOP);
  }
  Status Resume(RedisNode& n) {
    n.paused = false;
    return n.proc->Signal(SIGCONT);
  }
  // Back as a replica of `primary`: restarted (killed) or told (stopped).
  Status Rejoin(RedisNode& n, int primary) {
    if (!n.proc) {
      return Spawn(n, opt_.redis_server, {"--replicaof", "127.0.0.1", std::to_string(primary)});
    }
    // Sentinel would also convert it, after a delay of its own (~8 s+).
    auto c = Dial(n.port, 1000);
    RespValue r;
    if (!c || !c->Call({"REPLICAOF", "127.0.0.1", std::to_string(primary)}, &r) || !r.ok()) {
      return Status::Unavailable("REPLICAOF on :" + std::to_string(n.port) + " failed: " + r.str);
    }
    return Status::Ok();
  }

  // Acked keys [from, to) read back from `port`; how many are missing or differ.
  uint64_t CountMissing(int port, const std::vector<SentinelWriter::Ack>& acks, size_t from, size_t to) {
    uint64_t missing = 0;
    int printed = 0;
    for (size_t i = from; i < to;) {
      const size_t end = std::min(to, i + 1000);
      std::vector<std::vector<std::string>> cmds;
      for (size_t j = i; j < end; ++j) cmds.push_back({"GET", SentinelWriter::Key(acks[j].n)});
      std::vector<RespValue> replies;
      auto c = Dial(port, 5000);
      if (!c || !c->CallMany(cmds, &replies)) {
        Log("sentinel: cannot read back keys from :%d", port);
        return missing + (to - i);
      }
      for (size_t j = i; j < end; ++j) {
        const RespValue& r = replies[j - i];
        if (r.type != '$' || r.nil || r.str != SentinelWriter::Value(acks[j].n)) {
          ++missing;
          if (printed++ < 3) {
            Log("  acked key %s (acked by :%d) missing on :%d", SentinelWriter::Key(acks[j].n).c_str(), acks[j].port,
                port);
          }
        }
      }
      i = end;
    }
    return missing;
  }

 private:
  std::vector<RedisNode*> All() {
    return {&redis_[0], &redis_[1], &sentinels_[0], &sentinels_[1], &sentinels_[2]};
  }
  Status WriteFile(RedisNode& n, const std::string& text) {
    ::mkdir(n.dir.c_str(), 0700);
    std::ofstream f(n.conf);
    f << text;
    f.close();
    return f ? Status::Ok() : Status::Internal("cannot write " + n.conf);
  }
  Status Spawn(RedisNode& n, const std::string& binary, std::vector<std::string> extra) {
    ChildOptions o;
    o.argv = {binary, n.conf};
    o.argv.insert(o.argv.end(), extra.begin(), extra.end());
    o.output_path = n.log;
    auto child = ChildProcess::Spawn(o);
    if (!child.ok()) return child.status();
    n.proc = std::move(child).value();
    n.paused = false;
    const bool up = baton::testing::WaitFor(
        [&] {
          if (n.proc->Exited()) return true;
          auto c = Dial(n.port, 200);
          RespValue r;
          return c && c->Call({"PING"}, &r) && r.type == '+';
        },
        seconds(20), milliseconds(20));
    if (!up || n.proc->Exited()) {
      std::ifstream in(n.log);
      std::stringstream tail;
      tail << in.rdbuf();
      std::string t = tail.str();
      return Status::Unavailable(binary + " on :" + std::to_string(n.port) + " did not start: " +
                                 t.substr(t.size() > 2000 ? t.size() - 2000 : 0));
    }
    return Status::Ok();
  }

  const Options& opt_;
  baton::testing::TempDir dir_;
  RedisNode redis_[2];
  RedisNode sentinels_[3];
};

std::vector<AckTime> AckTimes(const std::vector<SentinelWriter::Ack>& acks) {
  std::vector<AckTime> out;
  out.reserve(acks.size());
  for (const auto& a : acks) out.push_back({a.at, a.port});
  return out;
}

void RunSentinel(const Options& opt, std::map<Fault, Series>* out) {
  const auto run_deadline = Clock::now() + opt.max_run;
  SentinelSetup setup(opt);
  Log("sentinel: starting 1 primary, 1 replica, 3 sentinels (down-after 1000 ms, failover-timeout 3000 ms)");
  if (Status s = setup.Start(); !s.ok()) {
    Log("sentinel: setup failed: %s", s.ToString().c_str());
    (*out)[Fault::kKill].errors.push_back("setup failed");
    return;
  }
  SentinelWriter writer(setup.sentinel_ports());
  writer.Start();
  if (!writer.WaitForMoreAcks(200, seconds(20))) {
    Log("sentinel: the writer got no acks");
    return;
  }
  size_t checked = 0;
  int failures = 0;
  for (int t = 0; t < 2 * opt.trials && Clock::now() < run_deadline && failures < opt.max_failed_trials; ++t) {
    const Fault fault = t % 2 == 0 ? Fault::kKill : Fault::kStop;
    Series& series = (*out)[fault];
    const int primary = setup.Primary();
    RedisNode* victim = setup.ByPort(primary);
    if (victim == nullptr || !victim->proc) {
      Log("sentinel: no agreed primary before trial %d", t);
      ++failures;
      std::this_thread::sleep_for(seconds(1));
      continue;
    }
    writer.WaitForMoreAcks(200, seconds(10));
    const size_t acks_before = writer.ack_count();
    const auto fault_at = Clock::now();
    Status sent = fault == Fault::kKill ? setup.Kill(*victim) : setup.Pause(*victim);
    if (!sent.ok()) Log("sentinel: signalling :%d: %s", primary, sent.ToString().c_str());
    std::optional<double> outage;
    int new_primary = 0;
    double promote_ms = NAN;
    baton::testing::WaitFor(
        [&] {
          if (std::isnan(promote_ms)) {
            const int p = setup.Primary();
            if (p != 0 && p != primary) promote_ms = Ms(Clock::now() - fault_at);
          }
          auto acks = AckTimes(writer.acks());
          outage = OutageMs(acks, acks_before > 0 ? acks_before - 1 : 0, fault_at, primary, &new_primary);
          return outage.has_value();
        },
        seconds(60), milliseconds(20));
    if (!outage) {
      ++failures;
      ++series.failed;
      series.errors.push_back(std::string(FaultName(fault)) + " trial " + std::to_string(t) +
                              ": the client never resumed within 60 s");
      Log("sentinel: trial %d (%s of :%d) FAILED: no ack from a new primary within 60 s", t, FaultName(fault), primary);
      if (fault == Fault::kStop) (void)setup.Resume(*victim);
      const int p = setup.Primary();
      if (p != 0 && p != primary) (void)setup.Rejoin(*victim, p);
      continue;
    }
    writer.WaitForMoreAcks(50, seconds(10));
    const auto acks = writer.acks();
    const size_t prev_checked = checked;
    const uint64_t missing = setup.CountMissing(new_primary, acks, checked, acks.size());
    series.acked_checked += acks.size() - checked;
    series.missing += missing;
    checked = acks.size();
    series.outage_ms.push_back(*outage);
    if (!std::isnan(promote_ms)) series.promote_ms.push_back(promote_ms);
    Log("sentinel: trial %2d %s :%d -> :%d: outage %7.1f ms (sentinels agreed after %7.1f ms), %zu acks checked, "
        "%lu missing",
        t, FaultName(fault), primary, new_primary, *outage, promote_ms, acks.size() - prev_checked,
        static_cast<unsigned long>(missing));
    // Restore: the old primary back as a replica of the new one.
    if (fault == Fault::kStop) (void)setup.Resume(*victim);
    if (Status s = setup.Rejoin(*victim, new_primary); !s.ok()) Log("sentinel: rejoin: %s", s.ToString().c_str());
    if (Status s = setup.WaitTopology(new_primary, victim->port, seconds(60)); !s.ok()) {
      Log("sentinel: after trial %d: %s", t, s.ToString().c_str());
      ++failures;
    }
  }
  writer.Stop();
  const int final_primary = setup.Primary();
  if (final_primary != 0) {
    const auto acks = writer.acks();
    (*out)[Fault::kStop].missing += setup.CountMissing(final_primary, acks, checked, acks.size());
    (*out)[Fault::kStop].acked_checked += acks.size() - checked;
  }
  Log("sentinel: done; %zu acks in all, %lu failed attempts", writer.ack_count(),
      static_cast<unsigned long>(writer.failures()));
}

// ---------------------------------------------------------------------------

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--trials N] [--lease-ms MS] [--gateways N] [--no-baton] [--no-sentinel]\n"
               "          [--redis-server PATH] [--redis-sentinel PATH]\n",
               argv0);
  return 2;
}

int Main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--trials" && (v = value())) {
      opt.trials = std::atoi(v);
    } else if (a == "--lease-ms" && (v = value())) {
      opt.lease_ms = static_cast<uint32_t>(std::atoi(v));
    } else if (a == "--gateways" && (v = value())) {
      opt.gateways = std::atoi(v);
    } else if (a == "--redis-server" && (v = value())) {
      opt.redis_server = v;
    } else if (a == "--redis-sentinel" && (v = value())) {
      opt.redis_sentinel = v;
    } else if (a == "--no-baton") {
      opt.baton = false;
    } else if (a == "--no-sentinel") {
      opt.sentinel = false;
    } else {
      return Usage(argv[0]);
    }
  }
  if (opt.trials < 1 || opt.trials > 1000 || opt.lease_ms < 200 || opt.lease_ms > 60000 || opt.gateways < 2 ||
      opt.gateways > 7) {
    return Usage(argv[0]);
  }
  baton::testing::DefaultBuildDirToExecutable();
  spdlog::set_level(spdlog::level::warn);  // the fixtures' own ZooKeeper client logs every connect
  if (opt.baton && !baton::testing::ZookeeperAvailable()) {
    std::fprintf(stderr, "failover: %s\n", baton::testing::ZookeeperUnavailableReason().c_str());
    return 1;
  }
  std::map<Fault, Series> baton_results, sentinel_results;
  baton_results[Fault::kKill];
  baton_results[Fault::kStop];
  sentinel_results[Fault::kKill];
  sentinel_results[Fault::kStop];
  const auto start = Clock::now();
  if (opt.baton) RunBaton(opt, &baton_results);
  if (opt.sentinel) RunSentinel(opt, &sentinel_results);
  const double total_s = Ms(Clock::now() - start) / 1000;

  const double stop_goal = opt.lease_ms + 300.0;
  auto row = [&](const char* name, const Series& s) {
    std::printf("  %-22s %3zu ok %2d failed  p50 %8s ms  p99 %8s ms  max %8s ms  missing acked %lu of %lu\n", name,
                s.outage_ms.size(), s.failed, Num(Pct(s.outage_ms, 0.5)).c_str(), Num(Pct(s.outage_ms, 0.99)).c_str(),
                Num(Pct(s.outage_ms, 1.0)).c_str(), static_cast<unsigned long>(s.missing),
                static_cast<unsigned long>(s.acked_checked));
  };
  std::printf("\n  client-visible write outage (last ack before the fault -> first ack after it), %d trials per kind\n",
              opt.trials);
  std::printf("  (p99 is nearest-rank: with fewer than 100 trials it is the maximum)\n");
  if (opt.baton) {
    row("baton    SIGKILL", baton_results[Fault::kKill]);
    row("baton    SIGSTOP", baton_results[Fault::kStop]);
  }
  if (opt.sentinel) {
    row("sentinel SIGKILL", sentinel_results[Fault::kKill]);
    row("sentinel SIGSTOP", sentinel_results[Fault::kStop]);
  }
  std::map<Fault, double> ratio;
  for (Fault f : {Fault::kKill, Fault::kStop}) {
    const double b = Pct(baton_results[f].outage_ms, 0.5), r = Pct(sentinel_results[f].outage_ms, 0.5);
    ratio[f] = (!std::isnan(b) && !std::isnan(r) && r > 0) ? b / r : NAN;
  }
  const Series& bk = baton_results[Fault::kKill];
  const Series& bs = baton_results[Fault::kStop];
  const bool kill_p50_ok = !bk.outage_ms.empty() && Pct(bk.outage_ms, 0.5) <= 200;
  const bool kill_p99_ok = !bk.outage_ms.empty() && Pct(bk.outage_ms, 0.99) <= 500;
  const bool stop_ok = !bs.outage_ms.empty() && Pct(bs.outage_ms, 1.0) <= stop_goal;
  const bool no_loss = bk.missing == 0 && bs.missing == 0;
  const bool all_ran = bk.failed == 0 && bs.failed == 0 && static_cast<int>(bk.outage_ms.size()) == opt.trials &&
                       static_cast<int>(bs.outage_ms.size()) == opt.trials;
  if (opt.baton && opt.sentinel) {
    std::printf("  ratio baton/sentinel (p50 outage): SIGKILL %.3f, SIGSTOP %.3f\n", ratio[Fault::kKill],
                ratio[Fault::kStop]);
  }
  if (opt.baton) {
    std::printf("  goals: SIGKILL p50 <= 200 ms: %s; SIGKILL p99 <= 500 ms: %s; SIGSTOP max <= lease %u + 300 ms: %s; "
                "0 acked writes lost: %s; all trials ran: %s\n",
                kill_p50_ok ? "met" : "NOT met", kill_p99_ok ? "met" : "NOT met", opt.lease_ms,
                stop_ok ? "met" : "NOT met", no_loss ? "met" : "NOT met", all_ran ? "yes" : "no");
  }
  std::printf("  machine: %u cores shared by every process; total %.0f s\n\n", std::thread::hardware_concurrency(),
              total_s);

  std::ostringstream j;
  j << "{\"bench\":\"failover\",\"trials\":" << opt.trials << ",\"lease_ms\":" << opt.lease_ms
    << ",\"gateways\":" << opt.gateways << ",\"cores\":" << std::thread::hardware_concurrency();
  if (opt.baton) {
    j << ",\"baton\":{\"sigkill\":" << SeriesJson(bk) << ",\"sigstop\":" << SeriesJson(bs) << "}";
  }
  if (opt.sentinel) {
    j << ",\"sentinel\":{\"sigkill\":" << SeriesJson(sentinel_results[Fault::kKill])
      << ",\"sigstop\":" << SeriesJson(sentinel_results[Fault::kStop]) << "}";
  }
  auto r4 = [](double v) {
    if (std::isnan(v)) return std::string("null");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", v);
    return std::string(buf);
  };
  j << ",\"ratio_p50\":{\"sigkill\":" << r4(ratio[Fault::kKill]) << ",\"sigstop\":" << r4(ratio[Fault::kStop]) << "}";
  if (opt.baton) {
    j << ",\"goals\":{\"sigkill_p50_le_200ms\":" << (kill_p50_ok ? "true" : "false")
      << ",\"sigkill_p99_le_500ms\":" << (kill_p99_ok ? "true" : "false") << ",\"sigstop_max_le_lease_plus_300ms\":"
      << (stop_ok ? "true" : "false") << ",\"no_acked_write_lost\":" << (no_loss ? "true" : "false")
      << ",\"all_trials_ran\":" << (all_ran ? "true" : "false") << "}";
  }
  j << ",\"seconds\":" << Num(total_s) << "}";
  std::printf("%s\n", j.str().c_str());
  std::fflush(stdout);
  return opt.baton && !all_ran ? 1 : 0;
}

}  // namespace
}  // namespace baton::bench

int main(int argc, char** argv) { return baton::bench::Main(argc, argv); }
