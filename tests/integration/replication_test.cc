// Active -> standby replication, epoch fencing and leases (PRODUCT.md sections
// 3-5) against real baton-gateway processes on loopback. The tests stand in
// for the arbiter and the instance agents: they drive GatewayControl
// (AssignRole, RenewLease, GetState) themselves, and compare stores across
// gateways by GetState's digest and object count, or through the client API
// after promoting a standby (a standby serves no client calls).
//
// Every wait has a deadline; every load loop is bounded in count and time;
// only processes the fixture started are signalled. BATON_TEST_SEED replays
// the random vectors; BATON_KEEP_TEMP=1 keeps data dirs and logs.
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "baton/v1/control.grpc.pb.h"
#include "baton/v1/gateway.grpc.pb.h"
#include "common/mutex.h"
#include "common/process.h"
#include "tests/support/binaries.h"
#include "tests/support/gateway_cluster.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_util.h"

namespace baton::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using Cluster = GatewayCluster;

constexpr int kDimension = 4;

uint64_t Seed() {
  static const uint64_t seed = [] {
    uint64_t s = std::random_device{}();
    if (const char* env = std::getenv("BATON_TEST_SEED")) s = std::strtoull(env, nullptr, 10);
    std::cout << "seed " << s << " (replay with BATON_TEST_SEED=" << s << ")" << std::endl;
    return s;
  }();
  return seed;
}

std::vector<float> RandomVector(std::mt19937_64& rng) {
  std::uniform_real_distribution<float> value(-1, 1);
  std::vector<float> v(kDimension);
  for (float& x : v) x = value(rng);
  return v;
}

std::vector<float> FixedVector(float base) { return {base, base + 1, base + 2, base + 3}; }

std::string CodeName(grpc::StatusCode code) { return std::string(StatusCodeName(static_cast<StatusCode>(code))); }

std::string Describe(const grpc::Status& s) { return CodeName(s.error_code()) + " '" + s.error_message() + "'"; }

int64_t MsSince(steady_clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(steady_clock::now() - t).count();
}

// CLOCK_MONOTONIC now, in ns: what an agent puts in deadline_monotonic_ns.
int64_t MonotonicNanos() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Stands in for the instance agents of `members`: RenewLease(epoch,
// lease_ms) to each every `period` until destroyed. Its thread waits on a
// condition variable between rounds (a timer, not a synchronisation).
class Renewer {
 public:
  Renewer(Cluster& cluster, std::vector<int> members, uint64_t epoch, uint32_t lease_ms, milliseconds period)
      : cluster_(cluster), members_(std::move(members)), epoch_(epoch), lease_ms_(lease_ms), period_(period) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Renewer() { Stop(); }
  void Stop() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
      cv_.SignalAll();
    }
    if (thread_.joinable()) thread_.join();
  }
  uint64_t renewed() const { return renewed_.load(); }
  std::vector<std::string> failures() {
    MutexLock lock(&mu_);
    return failures_;
  }

 private:
  void Run() {
    MutexLock lock(&mu_);
    while (!stop_) {
      mu_.Unlock();
      for (int m : members_) {
        Status s = cluster_.RenewLease(m, epoch_, lease_ms_);
        if (s.ok()) {
          renewed_.fetch_add(1);
        } else {
          MutexLock failed(&mu_);
          failures_.push_back(s.ToString());
        }
      }
      mu_.Lock();
      if (!stop_) cv_.WaitFor(period_);
    }
  }

  Cluster& cluster_;
  const std::vector<int> members_;
  const uint64_t epoch_;
  const uint32_t lease_ms_;
  const milliseconds period_;
  std::atomic<uint64_t> renewed_{0};
  Mutex mu_;
  CondVar cv_{&mu_};
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::string> failures_ GUARDED_BY(mu_);
  std::thread thread_;
};

// What one acknowledged write stored.
struct AckedWrite {
  std::vector<float> vector;
  int64_t timestamp = 0;
};

// A bounded concurrent write load against one member: `threads` threads, each
// making at most `max_per_thread` writes and stopping at `time_limit`, at
// Stop(), or at its first failed write. Inserts of unique ids
// ("<prefix>-<thread>-<n>"), or, with key_space > 0, upserts over
// "<prefix>-k<0..key_space-1>". Failures before ExpectFailures() are
// unexpected. Start and Finish on the test thread; the counters are
// thread-safe.
class WriteLoad {
 public:
  struct Options {
    int member = 0;
    int threads = 4;
    int max_per_thread = 300;
    milliseconds time_limit{20000};
    std::string prefix = "w";
    int key_space = 0;
    size_t metadata_bytes = 0;
  };

  WriteLoad(Cluster& cluster, Options options) : cluster_(cluster), options_(std::move(options)) {
    for (int t = 0; t < options_.threads; ++t) threads_.emplace_back([this, t] { Run(t); });
  }
  ~WriteLoad() { Finish(); }

  void Stop() { stop_ = true; }
  void ExpectFailures() { expect_failures_ = true; }
  // Stops the load and waits for the threads.
  void Finish() {
    stop_ = true;
    Join();
  }
  // Waits until every thread has made its writes (or hit its time limit).
  void Join() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  uint64_t acked() const { return acked_count_.load(); }
  bool all_done() const { return done_threads_.load() == options_.threads; }
  // Waits until `n` writes are acknowledged in all (false on timeout or when
  // every thread has ended first).
  bool WaitAcked(uint64_t n, milliseconds timeout) {
    return Cluster::WaitFor([&] { return acked() >= n || all_done(); }, timeout) && acked() >= n;
  }
  std::map<std::string, AckedWrite> acked_writes() {
    MutexLock lock(&mu_);
    return acked_;
  }
  std::vector<std::string> unexpected_failures() {
    MutexLock lock(&mu_);
    return unexpected_;
  }
  std::vector<std::string> expected_failures() {
    MutexLock lock(&mu_);
    return expected_;
  }

 private:
  void Run(int t) {
    std::mt19937_64 rng(Seed() * 7919 + static_cast<uint64_t>(t) + std::hash<std::string>{}(options_.prefix));
    const auto deadline = steady_clock::now() + options_.time_limit;
    auto stub = cluster_.client(options_.member);
    const std::string metadata(options_.metadata_bytes, 'm');
    for (int n = 0; n < options_.max_per_thread && !stop_.load() && steady_clock::now() < deadline; ++n) {
      const std::string id = options_.key_space > 0
                                 ? options_.prefix + "-k" + std::to_string(rng() % options_.key_space)
                                 : options_.prefix + "-" + std::to_string(t) + "-" + std::to_string(n);
      v1::Object object = Cluster::MakeObject(id, RandomVector(rng), metadata);
      v1::WriteResult result;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + seconds(15));
      grpc::Status status;
      if (options_.key_space > 0) {
        v1::UpsertRequest request;
        *request.mutable_object() = object;
        status = stub->Upsert(&context, request, &result);
      } else {
        v1::InsertRequest request;
        *request.mutable_object() = object;
        status = stub->Insert(&context, request, &result);
      }
      MutexLock lock(&mu_);
      if (status.ok()) {
        AckedWrite& w = acked_[id];
        if (result.timestamp() > w.timestamp) {
          w.vector.assign(object.vector().begin(), object.vector().end());
          w.timestamp = result.timestamp();
        }
        acked_count_.fetch_add(1);
        continue;
      }
      const std::string text = id + ": " + Describe(status);
      (expect_failures_.load() ? expected_ : unexpected_).push_back(text);
      break;
    }
    done_threads_.fetch_add(1);
  }

  Cluster& cluster_;
  const Options options_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> expect_failures_{false};
  std::atomic<uint64_t> acked_count_{0};
  std::atomic<int> done_threads_{0};
  Mutex mu_;
  std::map<std::string, AckedWrite> acked_ GUARDED_BY(mu_);
  std::vector<std::string> unexpected_ GUARDED_BY(mu_);
  std::vector<std::string> expected_ GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

std::string Join(const std::vector<std::string>& lines, size_t max = 10) {
  std::string text;
  for (size_t i = 0; i < lines.size() && i < max; ++i) text += "\n  " + lines[i];
  if (lines.size() > max) text += "\n  ... " + std::to_string(lines.size() - max) + " more";
  return text;
}

// First seqs of the WAL segments in `data_dir`/log, ascending.
std::vector<uint64_t> SegmentFirstSeqs(const std::string& data_dir) {
  std::vector<uint64_t> seqs;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir + "/log", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 24 && name.ends_with(".log") &&
        std::all_of(name.begin(), name.begin() + 20, [](char c) { return c >= '0' && c <= '9'; })) {
      seqs.push_back(std::stoull(name.substr(0, 20)));
    }
  }
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

// Seqs covered by the snapshots in `data_dir`/snapshots, ascending.
std::vector<uint64_t> SnapshotSeqs(const std::string& data_dir) {
  std::vector<uint64_t> seqs;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir + "/snapshots", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 25 && name.ends_with(".snap")) seqs.push_back(std::stoull(name.substr(0, 20)));
  }
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

// Lines of `log` that mention `word` (case-insensitive), except the
// start-up "config key = value" lines.
std::vector<std::string> LinesMentioning(const std::string& log, const std::string& word) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  std::string line;
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  for (std::string l; std::getline(in, l);) {
    const std::string low = lower(l);
    const bool config_line = low.find(" config ") != std::string::npos && low.find(" = ") != std::string::npos;
    if (low.find(lower(word)) != std::string::npos && !config_line) lines.push_back(l);
  }
  return lines;
}

bool SameHistory(const v1::GetStateResponse& a, const v1::GetStateResponse& b) {
  if (a.epoch_history_size() != b.epoch_history_size()) return false;
  for (int i = 0; i < a.epoch_history_size(); ++i) {
    if (a.epoch_history(i).epoch() != b.epoch_history(i).epoch() ||
        a.epoch_history(i).first_seq() != b.epoch_history(i).first_seq()) {
      return false;
    }
  }
  return true;
}

const v1::StandbyState* FindStandby(const v1::GetStateResponse& state, const std::string& id) {
  for (const auto& s : state.standbys()) {
    if (s.instance_id() == id) return &s;
  }
  return nullptr;
}


// ---------------------------------------------------------------------------
// The fixture itself: processes start, become ready, stop, die, pause,
// resume and restart on the same ports and data. Needs no replication.
TEST(GatewayClusterFixture, StartsStopsKillsPausesAndRestartsMembers) {
  Cluster cluster({.size = 2, .dimension = kDimension});
  ASSERT_OK(cluster.StartAll());
  EXPECT_NE(cluster.pid(0), cluster.pid(1));
  EXPECT_NE(cluster.address(0), cluster.address(1));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(cluster.ReadyzStatus(i), 200) << cluster.id(i);
    auto health = HttpGet(cluster.http_port(i), "/healthz");
    ASSERT_TRUE(health.ok()) << health.status();
    EXPECT_EQ(health->first, 200);
  }
  // A standalone gateway is active: it takes writes.
  auto w = cluster.Insert(0, Cluster::MakeObject("fixture-a", FixedVector(1)));
  ASSERT_TRUE(w.status.ok()) << Describe(w.status);

  // SIGSTOP: nothing answers; SIGCONT: it answers again.
  ASSERT_OK(cluster.Pause(0));
  EXPECT_TRUE(cluster.paused(0));
  EXPECT_EQ(cluster.ReadyzStatus(0, milliseconds(300)), -1);
  ASSERT_OK(cluster.Resume(0));
  EXPECT_TRUE(Cluster::WaitFor([&] { return cluster.ReadyzStatus(0) == 200; }, seconds(10)));

  // SIGKILL, then restart on the same data dir and ports: the write is there.
  const uint16_t port = cluster.grpc_port(0);
  ASSERT_OK(cluster.Kill(0));
  EXPECT_FALSE(cluster.running(0));
  EXPECT_EQ(cluster.ReadyzStatus(0, milliseconds(300)), -1);
  ASSERT_OK(cluster.Start(0));
  EXPECT_EQ(cluster.grpc_port(0), port);
  auto r = cluster.GetObject(0, "fixture-a");
  ASSERT_TRUE(r.status.ok()) << Describe(r.status);
  EXPECT_EQ(r.object.timestamp(), w.result.timestamp());

  // SIGTERM of a paused member still ends it cleanly (SIGCONT first).
  ASSERT_OK(cluster.Pause(1));
  ASSERT_OK(cluster.Stop(1));
  EXPECT_FALSE(cluster.running(1));
  ASSERT_OK(cluster.Start(1));
  ASSERT_OK(cluster.Restart(1));
  EXPECT_EQ(cluster.ReadyzStatus(1), 200);
  EXPECT_NE(cluster.CurrentRunLog(1).find("=== gatewaycluster: start 3 of g2 ==="), std::string::npos);

  // GetState answers once the control service exists; say which it is.
  auto state = cluster.GetState(0);
  if (state.ok()) {
    std::cout << "GetState g1: " << Cluster::Describe(*state) << std::endl;
    EXPECT_EQ(state->role(), v1::ROLE_ACTIVE);
  } else {
    std::cout << "GetState g1 not available yet: " << state.status() << std::endl;
  }
  ASSERT_OK(cluster.Stop(0));
  ASSERT_OK(cluster.Stop(1));
}

// ---------------------------------------------------------------------------
// a. With sync_standbys 1 and sync set {s1}, every write the active
// acknowledged is on s1 when the active dies right after acknowledging it.
TEST(Replication, SyncAckedWritesAreOnTheStandby) {
  Cluster cluster({.size = 3, .dimension = kDimension});
  const int active = 0, s1 = 1, s2 = 2;
  ASSERT_OK(cluster.StartAll());
  ASSERT_OK(cluster.AssignActiveWithStandbys(active, {s1, s2}, 1, 1, std::vector<int>{s1}));

  WriteLoad load(cluster,
                 {.member = active, .threads = 4, .max_per_thread = 300, .time_limit = seconds(20), .prefix = "a"});
  // Kill while the clients are still writing (or, on a fast machine, right
  // after the last of them got its ack).
  const bool enough = load.WaitAcked(600, seconds(25));
  load.ExpectFailures();
  ASSERT_OK(cluster.Kill(active));
  load.Finish();
  ASSERT_TRUE(load.unexpected_failures().empty())
      << "writes failed before the kill:" << Join(load.unexpected_failures());
  const auto acked = load.acked_writes();
  ASSERT_TRUE(enough) << "only " << acked.size() << " writes acknowledged";
  std::cout << acked.size() << " writes acknowledged, " << load.expected_failures().size() << " failed at the kill"
            << std::endl;

  // s1 as the new active at epoch 2, alone; read everything back.
  ASSERT_OK(cluster.AssignActive(s1, 2));
  ASSERT_OK_AND_ASSIGN(state, cluster.GetState(s1));
  EXPECT_EQ(state.role(), v1::ROLE_ACTIVE);
  EXPECT_GE(state.object_count(), acked.size()) << Cluster::Describe(state);
  std::vector<std::string> missing;
  for (const auto& [id, write] : acked) {
    auto r = cluster.GetObject(s1, id);
    if (!r.status.ok()) {
      missing.push_back(id + ": " + Describe(r.status));
    } else if (std::vector<float>(r.object.vector().begin(), r.object.vector().end()) != write.vector ||
               r.object.timestamp() != write.timestamp) {
      missing.push_back(id + ": different version (timestamp " + std::to_string(r.object.timestamp()) + ", acked " +
                        std::to_string(write.timestamp) + ")");
    }
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " of " << acked.size()
                               << " acknowledged writes are not on the sync standby:" << Join(missing);
}

// ---------------------------------------------------------------------------
// b. A standby killed mid-stream resumes from its own log after a restart
// and converges with the active while writes go on.
TEST(Replication, StandbyKilledMidStreamCatchesUp) {
  Cluster cluster({.size = 3, .dimension = kDimension});
  const int active = 0, s1 = 1, s2 = 2;
  ASSERT_OK(cluster.StartAll());
  ASSERT_OK(cluster.AssignActiveWithStandbys(active, {s1, s2}, 1, 1));

  WriteLoad load(cluster, {.member = active,
                           .threads = 2,
                           .max_per_thread = 4000,
                           .time_limit = seconds(30),
                           .prefix = "b",
                           .key_space = 500});
  ASSERT_TRUE(load.WaitAcked(200, seconds(10))) << "acked " << load.acked();
  ASSERT_OK(cluster.Kill(s2));
  const uint64_t at_kill = load.acked();
  ASSERT_TRUE(load.WaitAcked(at_kill + 300, seconds(10))) << "acked " << load.acked();

  ASSERT_OK(cluster.Start(s2, Cluster::Readiness::kHealthz));
  ASSERT_OK_AND_ASSIGN(restarted, cluster.GetState(s2));
  ASSERT_OK_AND_ASSIGN(active_state, cluster.GetState(active));
  EXPECT_LT(restarted.durable().seq(), active_state.durable().seq())
      << "the restarted standby is not behind: the test proves nothing\n  " << Cluster::Describe(restarted) << "\n  "
      << Cluster::Describe(active_state);
  ASSERT_OK(cluster.Reassign(s2));
  const uint64_t at_restart = load.acked();
  ASSERT_TRUE(load.WaitAcked(at_restart + 200, seconds(10))) << "acked " << load.acked();
  load.Finish();
  ASSERT_TRUE(load.unexpected_failures().empty()) << "writes failed:" << Join(load.unexpected_failures());

  ASSERT_OK(cluster.WaitCaughtUp(active, s2, seconds(20)));
  ASSERT_OK(cluster.WaitCaughtUp(active, s1, seconds(20)));
  ASSERT_OK_AND_ASSIGN(final_active, cluster.GetState(active));
  const v1::StandbyState* st = FindStandby(final_active, cluster.id(s2));
  ASSERT_NE(st, nullptr) << Cluster::Describe(final_active);
  EXPECT_TRUE(st->connected()) << Cluster::Describe(final_active);
  EXPECT_EQ(st->acked().seq(), final_active.durable().seq()) << Cluster::Describe(final_active);
}

// ---------------------------------------------------------------------------
// c. A standby kept down while the active's snapshots delete the segments it
// still needed catches up by fetching a snapshot, then the log after it.
TEST(Replication, StandbyBehindRetentionCatchesUpViaSnapshot) {
  Cluster cluster({.size = 2,
                   .dimension = kDimension,
                   .member_args = {{0, {"--wal.segment_bytes", "65536", "--snapshot.interval_records", "200"}}}});
  const int active = 0, standby = 1;
  ASSERT_OK(cluster.StartAll());
  ASSERT_OK(cluster.AssignActiveWithStandbys(active, {standby}, 1, 0));
  {
    WriteLoad first(cluster, {.member = active,
                              .threads = 2,
                              .max_per_thread = 50,
                              .time_limit = seconds(10),
                              .prefix = "c1",
                              .metadata_bytes = 512});
    first.Join();
    ASSERT_TRUE(first.unexpected_failures().empty()) << Join(first.unexpected_failures());
    ASSERT_EQ(first.acked(), 100u);
  }
  ASSERT_OK(cluster.WaitCaughtUp(active, standby, seconds(15)));
  ASSERT_OK_AND_ASSIGN(before, cluster.GetState(standby));
  const uint64_t standby_seq = before.durable().seq();
  ASSERT_TRUE(SnapshotSeqs(cluster.data_dir(standby)).empty()) << "the standby wrote snapshots of its own";
  ASSERT_OK(cluster.Stop(standby));

  // ~1.6 MB of log: 25 segments of 64 KiB, a snapshot every 200 records.
  {
    WriteLoad more(cluster, {.member = active,
                             .threads = 4,
                             .max_per_thread = 400,
                             .time_limit = seconds(20),
                             .prefix = "c2",
                             .metadata_bytes = 1024});
    more.Join();
    ASSERT_TRUE(more.unexpected_failures().empty()) << Join(more.unexpected_failures());
    ASSERT_EQ(more.acked(), 1600u);
  }
  // The record after the standby's position is gone from the active's log.
  std::vector<uint64_t> segments;
  ASSERT_TRUE(Cluster::WaitFor(
      [&] {
        segments = SegmentFirstSeqs(cluster.data_dir(active));
        return !segments.empty() && segments.front() > standby_seq + 1;
      },
      seconds(15)))
      << "the active still holds seq " << standby_seq + 1 << ": first segment starts at "
      << (segments.empty() ? 0 : segments.front());

  ASSERT_OK(cluster.Start(standby, Cluster::Readiness::kHealthz));
  ASSERT_OK(cluster.Reassign(standby));
  ASSERT_OK(cluster.WaitCaughtUp(active, standby, seconds(30)));

  // It installed a snapshot: the standby never writes one itself (interval
  // 100000), yet holds one past its old position.
  const std::vector<uint64_t> snaps = SnapshotSeqs(cluster.data_dir(standby));
  ASSERT_FALSE(snaps.empty()) << "no snapshot in " << cluster.data_dir(standby) << "/snapshots";
  EXPECT_GT(snaps.back(), standby_seq + 1);
  const auto mentions = LinesMentioning(cluster.CurrentRunLog(standby), "snapshot");
  EXPECT_FALSE(mentions.empty()) << "the standby's log never mentions the snapshot";
  std::cout << "standby log about snapshots:" << Join(mentions, 5) << std::endl;

  // What it installed survives its own recovery.
  ASSERT_OK_AND_ASSIGN(caught_up, cluster.GetState(standby));
  ASSERT_OK(cluster.Restart(standby, Cluster::Readiness::kHealthz));
  ASSERT_OK_AND_ASSIGN(recovered, cluster.GetState(standby));
  EXPECT_EQ(recovered.digest(), caught_up.digest()) << Cluster::Describe(recovered);
  EXPECT_EQ(recovered.durable().seq(), caught_up.durable().seq()) << Cluster::Describe(recovered);
}

// ---------------------------------------------------------------------------
// d. An old active's unacknowledged tail (durable on it, never on the standby
// that was promoted) is truncated when it comes back as a standby.
//
// The stopped standby's socket may already hold the first tail entries when
// the active dies; after SIGCONT it persists those before its promotion, so
// they become part of the new history (legitimately: their clients got
// UNAVAILABLE, "outcome unknown"). The promoted g2 is therefore the reference
// for which tail ids must survive; large tail records (48 KiB) keep most of
// the tail out of g2's flow-control window, so a divergent part remains.
TEST(Replication, DivergentTailIsTruncatedOnDemotion) {
  Cluster cluster({.size = 2, .dimension = kDimension, .extra_args = {"--replication.sync_timeout_ms", "500"}});
  const int g1 = 0, g2 = 1;
  ASSERT_OK(cluster.StartAll());
  ASSERT_OK(cluster.AssignActiveWithStandbys(g1, {g2}, 1, 1));
  for (int i = 0; i < 5; ++i) {
    auto w = cluster.Insert(g1, Cluster::MakeObject("base-" + std::to_string(i), FixedVector(i)));
    ASSERT_TRUE(w.status.ok()) << Describe(w.status);
  }
  ASSERT_OK(cluster.WaitCaughtUp(g1, g2, seconds(10)));
  ASSERT_OK_AND_ASSIGN(common, cluster.GetState(g2));

  ASSERT_OK(cluster.Pause(g2));
  std::vector<std::string> tail_ids;
  for (int i = 0; i < 3; ++i) {
    const std::string id = "tail-" + std::to_string(i);
    const auto start = steady_clock::now();
    auto w = cluster.Insert(g1, Cluster::MakeObject(id, FixedVector(10 + i), std::string(48 << 10, 't')));
    EXPECT_EQ(w.status.error_code(), grpc::StatusCode::UNAVAILABLE) << id << ": " << Describe(w.status);
    EXPECT_GE(MsSince(start), 450) << id << " failed before replication.sync_timeout_ms (500)";
    tail_ids.push_back(id);
  }
  ASSERT_OK_AND_ASSIGN(g1_tail, cluster.GetState(g1));
  ASSERT_EQ(g1_tail.durable().seq(), common.durable().seq() + 3)
      << "the unacknowledged writes are not durable on g1: " << Cluster::Describe(g1_tail);
  ASSERT_OK(cluster.Kill(g1));
  ASSERT_OK(cluster.Resume(g2));

  // g2 takes over at epoch 2 and writes on, at the seqs g1's tail used.
  ASSERT_OK(cluster.AssignActive(g2, 2));
  for (int i = 0; i < 3; ++i) {
    auto w = cluster.Insert(g2, Cluster::MakeObject("new-" + std::to_string(i), FixedVector(20 + i)));
    ASSERT_TRUE(w.status.ok()) << Describe(w.status);
  }
  ASSERT_OK_AND_ASSIGN(promoted, cluster.GetState(g2));
  uint64_t epoch2_first = 0;
  for (const auto& e : promoted.epoch_history()) {
    if (e.epoch() == 2) epoch2_first = e.first_seq();
  }
  ASSERT_GT(epoch2_first, common.durable().seq()) << Cluster::Describe(promoted);
  ASSERT_LE(epoch2_first, g1_tail.durable().seq())
      << "no divergence to repair: g2 received g1's whole tail after SIGCONT\n  " << Cluster::Describe(promoted);
  std::set<std::string> on_g2;
  for (const std::string& id : tail_ids) {
    auto r = cluster.GetObject(g2, id);
    if (r.status.ok()) {
      on_g2.insert(id);
    } else {
      EXPECT_EQ(r.status.error_code(), grpc::StatusCode::NOT_FOUND) << id << " on g2: " << Describe(r.status);
    }
  }
  EXPECT_EQ(on_g2.size(), epoch2_first - 1 - common.durable().seq()) << Cluster::Describe(promoted);
  std::cout << on_g2.size() << " of the 3 unacknowledged tail writes reached g2 after SIGCONT; "
            << g1_tail.durable().seq() - (epoch2_first - 1) << " diverge" << std::endl;

  // g1 comes back (standalone: active, its tail intact), then is demoted.
  ASSERT_OK(cluster.Start(g1, Cluster::Readiness::kHealthz));
  ASSERT_OK_AND_ASSIGN(g1_back, cluster.GetState(g1));
  EXPECT_EQ(g1_back.durable().seq(), g1_tail.durable().seq()) << Cluster::Describe(g1_back);
  EXPECT_EQ(g1_back.durable().epoch(), 1u) << Cluster::Describe(g1_back);
  ASSERT_OK(cluster.AssignActiveWithStandbys(g2, {g1}, 2, 1));
  ASSERT_OK(cluster.WaitCaughtUp(g2, g1, seconds(15)));
  ASSERT_OK_AND_ASSIGN(s1, cluster.GetState(g1));
  ASSERT_OK_AND_ASSIGN(a2, cluster.GetState(g2));
  EXPECT_TRUE(SameHistory(s1, a2)) << "g1: " << Cluster::Describe(s1) << "\ng2: " << Cluster::Describe(a2);
  EXPECT_EQ(s1.digest(), a2.digest());
  EXPECT_EQ(s1.object_count(), 8u + on_g2.size()) << Cluster::Describe(s1);
  const auto truncations = LinesMentioning(cluster.CurrentRunLog(g1), "truncat");
  EXPECT_FALSE(truncations.empty()) << "g1's log does not mention the truncation";
  std::cout << "g1 log about truncation:" << Join(truncations, 5) << std::endl;

  // Read g1's store through the client API: promote it at epoch 3.
  ASSERT_OK(cluster.AssignActive(g1, 3));
  for (const std::string& id : tail_ids) {
    auto r = cluster.GetObject(g1, id);
    if (on_g2.count(id) != 0) {
      EXPECT_TRUE(r.status.ok()) << id << " is on g2 but not on g1: " << Describe(r.status);
    } else {
      EXPECT_EQ(r.status.error_code(), grpc::StatusCode::NOT_FOUND)
          << id << " (never on g2) survived on g1: " << Describe(r.status);
    }
  }
  for (int i = 0; i < 3; ++i) {
    auto r = cluster.GetObject(g1, "new-" + std::to_string(i));
    EXPECT_TRUE(r.status.ok()) << "new-" << i << ": " << Describe(r.status);
  }
  for (int i = 0; i < 5; ++i) {
    auto r = cluster.GetObject(g1, "base-" + std::to_string(i));
    EXPECT_TRUE(r.status.ok()) << "base-" << i << ": " << Describe(r.status);
  }
}

// ---------------------------------------------------------------------------
// e. A standby at a higher epoch refuses the stream of an active at a lower
// one (a deposed active is fenced), and refuses to go back in epoch.
TEST(Replication, LowerEpochReplicationIsRejected) {
  Cluster cluster({.size = 2, .dimension = kDimension, .extra_args = {"--replication.sync_timeout_ms", "1000"}});
  const int g1 = 0, g2 = 1;
  ASSERT_OK(cluster.StartAll());
  ASSERT_OK(cluster.Assign(g2, {.role = v1::ROLE_STANDBY, .epoch = 5, .active = g1}));
  ASSERT_OK_AND_ASSIGN(g2_before, cluster.GetState(g2));
  ASSERT_OK(cluster.AssignActive(g1, 3, {g2}, {g2}, 1));

  ASSERT_OK(cluster.WaitForState(
      g1,
      [&](const v1::GetStateResponse& s) {
        const v1::StandbyState* st = FindStandby(s, cluster.id(g2));
        if (st == nullptr || st->connected()) return false;
        std::string error = st->last_error();
        std::transform(error.begin(), error.end(), error.begin(), [](unsigned char c) { return std::tolower(c); });
        return error.find("epoch") != std::string::npos;
      },
      seconds(10), "g2 refused with an error naming the epoch"));

  const auto start = steady_clock::now();
  auto w = cluster.Insert(g1, Cluster::MakeObject("fenced", FixedVector(1)));
  EXPECT_EQ(w.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(w.status);
  EXPECT_GE(MsSince(start), 900) << "failed before replication.sync_timeout_ms (1000)";

  Status back = cluster.AssignStandby(g2, 4, g1);
  EXPECT_EQ(back.code(), StatusCode::kFailedPrecondition) << back.ToString();

  ASSERT_OK_AND_ASSIGN(g2_after, cluster.GetState(g2));
  EXPECT_EQ(g2_after.epoch(), 5u) << Cluster::Describe(g2_after);
  EXPECT_EQ(g2_after.role(), v1::ROLE_STANDBY);
  EXPECT_EQ(g2_after.durable().seq(), g2_before.durable().seq()) << "g2 took entries from epoch 3";
  EXPECT_EQ(g2_after.digest(), g2_before.digest());
  ASSERT_OK_AND_ASSIGN(g1_after, cluster.GetState(g1));
  const v1::StandbyState* st = FindStandby(g1_after, cluster.id(g2));
  ASSERT_NE(st, nullptr);
  EXPECT_FALSE(st->connected()) << Cluster::Describe(g1_after);
}

// ---------------------------------------------------------------------------
// f. An active whose lease runs out on the real clock is fenced: writes and
// reads fail FAILED_PRECONDITION and /readyz turns 503, until RenewLease.
TEST(Replication, LeaseExpiryFencesWritesOnRealClock) {
  Cluster cluster({.size = 1, .dimension = kDimension});
  ASSERT_OK(cluster.StartAll());
  const auto assigned = steady_clock::now();
  ASSERT_OK(cluster.AssignActive(0, 1, {}, {}, 0, 1500));
  auto first = cluster.Insert(0, Cluster::MakeObject("lease-0", FixedVector(0)));
  ASSERT_TRUE(first.status.ok()) << Describe(first.status);
  ASSERT_OK_AND_ASSIGN(leased, cluster.GetState(0));
  EXPECT_GT(leased.lease_remaining_ms(), 0) << Cluster::Describe(leased);
  EXPECT_LE(leased.lease_remaining_ms(), 1500) << Cluster::Describe(leased);
  EXPECT_FALSE(leased.fenced());

  // At most one write per 20 ms for 5 s.
  int n = 1;
  grpc::Status last;
  std::vector<std::string> odd;
  const bool fenced = Cluster::WaitFor(
      [&] {
        auto w = cluster.Insert(0, Cluster::MakeObject("lease-" + std::to_string(n++), FixedVector(1)));
        last = w.status;
        if (!w.status.ok() && w.status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
          odd.push_back(Describe(w.status));
        }
        return w.status.error_code() == grpc::StatusCode::FAILED_PRECONDITION;
      },
      seconds(5));
  const int64_t fenced_after_ms = MsSince(assigned);
  ASSERT_TRUE(fenced) << "writes still " << Describe(last) << " 5 s after a 1500 ms lease";
  EXPECT_TRUE(odd.empty()) << "unexpected failures:" << Join(odd);
  EXPECT_GE(fenced_after_ms, 1500) << "fenced before the lease ran out";
  EXPECT_TRUE(Cluster::WaitFor([&] { return cluster.ReadyzStatus(0) == 503; }, seconds(3)))
      << "/readyz " << cluster.ReadyzStatus(0);
  ASSERT_OK_AND_ASSIGN(expired, cluster.GetState(0));
  EXPECT_TRUE(expired.fenced()) << Cluster::Describe(expired);
  EXPECT_EQ(expired.lease_remaining_ms(), 0) << Cluster::Describe(expired);
  EXPECT_EQ(expired.role(), v1::ROLE_ACTIVE);
  // Reads are fenced too: a successor may be taking writes this one never sees.
  auto stale_read = cluster.GetObject(0, "lease-0");
  EXPECT_EQ(stale_read.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(stale_read.status);

  // A renewal whose absolute deadline (CLOCK_MONOTONIC, shared with the
  // gateway) has passed, as one delayed in a socket would be, leaves it
  // fenced however long its lease_ms.
  ASSERT_OK(cluster.RenewLease(0, 1, 10000, MonotonicNanos() - 1'000'000));
  auto late = cluster.Insert(0, Cluster::MakeObject("lease-late-renewal", FixedVector(2)));
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(late.status);
  ASSERT_OK_AND_ASSIGN(still_fenced, cluster.GetState(0));
  EXPECT_TRUE(still_fenced.fenced()) << Cluster::Describe(still_fenced);
  EXPECT_EQ(still_fenced.lease_remaining_ms(), 0) << Cluster::Describe(still_fenced);
  // A deadline before receipt + lease_ms bounds the lease.
  ASSERT_OK(cluster.RenewLease(0, 1, 60000, MonotonicNanos() + 20'000'000'000));
  ASSERT_OK_AND_ASSIGN(bounded, cluster.GetState(0));
  EXPECT_GT(bounded.lease_remaining_ms(), 15000) << Cluster::Describe(bounded);
  EXPECT_LE(bounded.lease_remaining_ms(), 20000) << Cluster::Describe(bounded);

  // Renewal at another epoch is refused; at this one it restores writes.
  EXPECT_EQ(cluster.RenewLease(0, 2, 10000).code(), StatusCode::kFailedPrecondition);
  ASSERT_OK(cluster.RenewLease(0, 1, 10000));
  auto renewed = cluster.Insert(0, Cluster::MakeObject("lease-renewed", FixedVector(2)));
  EXPECT_TRUE(renewed.status.ok()) << Describe(renewed.status);
  auto read_again = cluster.GetObject(0, "lease-0");
  EXPECT_TRUE(read_again.status.ok()) << "reads resume with the lease: " << Describe(read_again.status);
  EXPECT_TRUE(Cluster::WaitFor([&] { return cluster.ReadyzStatus(0) == 200; }, seconds(3)))
      << "/readyz " << cluster.ReadyzStatus(0);
  ASSERT_OK_AND_ASSIGN(renewed_state, cluster.GetState(0));
  EXPECT_FALSE(renewed_state.fenced()) << Cluster::Describe(renewed_state);
  EXPECT_GT(renewed_state.lease_remaining_ms(), 5000) << Cluster::Describe(renewed_state);
}

// ---------------------------------------------------------------------------
// g. Failsafe: past its lease, with no renewals, the active keeps serving
// while every standby acks; once one stops acking it is fenced.
TEST(Replication, FailsafeKeepsServingWhileStandbysAck) {
  Cluster cluster({.size = 3, .dimension = kDimension, .extra_args = {"--replication.sync_timeout_ms", "1000"}});
  const int active = 0, s1 = 1, s2 = 2;
  ASSERT_OK(cluster.StartAll());
  const auto assigned = steady_clock::now();
  ASSERT_OK(cluster.AssignActiveWithStandbys(active, {s1, s2}, 1, 1, std::nullopt, 1000, /*failsafe=*/true));
  auto w0 = cluster.Insert(active, Cluster::MakeObject("fs-0", FixedVector(0)));
  ASSERT_TRUE(w0.status.ok()) << Describe(w0.status);

  ASSERT_OK(cluster.WaitForState(
      active, [](const v1::GetStateResponse& s) { return s.lease_remaining_ms() == 0; }, seconds(5),
      "the lease to run out"));
  ASSERT_GE(MsSince(assigned), 1000);
  for (int i = 1; i <= 5; ++i) {
    auto w = cluster.Insert(active, Cluster::MakeObject("fs-" + std::to_string(i), FixedVector(i)));
    ASSERT_TRUE(w.status.ok()) << "past the lease with both standbys acking, write " << i << ": " << Describe(w.status);
  }
  ASSERT_OK_AND_ASSIGN(serving, cluster.GetState(active));
  EXPECT_FALSE(serving.fenced()) << Cluster::Describe(serving);
  EXPECT_EQ(serving.lease_remaining_ms(), 0) << Cluster::Describe(serving);
  std::cout << "failsafe serving past the lease: " << Cluster::Describe(serving) << ", /readyz "
            << cluster.ReadyzStatus(active) << std::endl;

  // s2 stops acking (SIGSTOP: its connection stays open, no acks come). What
  // the gateway does, precisely: the next write is held until s2 has been
  // silent for the ack window (10 x replication.heartbeat_ms = 500 ms), then
  // the failsafe no longer holds, the active is fenced and the write answers
  // FAILED_PRECONDITION -- before the 1000 ms sync timeout could answer
  // UNAVAILABLE. No write succeeds once s2 is stopped. GetState shows s2
  // behind and, once silent for the ack window, not connected (although its
  // TCP connection is alive).
  ASSERT_OK(cluster.Pause(s2));
  int n = 100;
  int succeeded_after_stop = 0;
  grpc::Status first_failure;
  int64_t first_failure_ms = 0;
  const bool failed = Cluster::WaitFor(
      [&] {
        const auto start = steady_clock::now();
        auto w = cluster.Insert(active, Cluster::MakeObject("fs-" + std::to_string(n++), FixedVector(3)));
        first_failure = w.status;
        first_failure_ms = MsSince(start);
        if (w.status.ok()) ++succeeded_after_stop;
        return !w.status.ok();
      },
      seconds(15));
  ASSERT_TRUE(failed) << "writes still succeed with s2 stopped, past the lease";
  std::cout << "first write after SIGSTOP of s2: " << Describe(first_failure) << " after " << first_failure_ms
            << " ms; " << succeeded_after_stop << " succeeded before it" << std::endl;
  EXPECT_EQ(succeeded_after_stop, 0) << "acknowledged past the lease without s2 having the write";
  EXPECT_EQ(first_failure.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(first_failure);
  EXPECT_LT(first_failure_ms, 1000) << "the sync timeout, not the failsafe, ended the write";
  ASSERT_OK_AND_ASSIGN(fenced_state, cluster.GetState(active));
  std::cout << "after the failed write: " << Cluster::Describe(fenced_state) << std::endl;
  EXPECT_TRUE(fenced_state.fenced()) << Cluster::Describe(fenced_state);
  EXPECT_EQ(fenced_state.lease_remaining_ms(), 0);
  const v1::StandbyState* stopped = FindStandby(fenced_state, cluster.id(s2));
  ASSERT_NE(stopped, nullptr) << Cluster::Describe(fenced_state);
  EXPECT_LT(stopped->acked().seq(), fenced_state.durable().seq()) << Cluster::Describe(fenced_state);
  EXPECT_OK_STATUS(cluster.WaitForState(
      active,
      [&](const v1::GetStateResponse& st) {
        const v1::StandbyState* s = FindStandby(st, cluster.id(s2));
        return s != nullptr && !s->connected();
      },
      seconds(3), "the stopped s2 reported not connected"));
  // Fenced: an active whose lease is gone answers FAILED_PRECONDITION.
  auto fenced_write = cluster.Insert(active, Cluster::MakeObject("fs-fenced", FixedVector(4)));
  EXPECT_EQ(fenced_write.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(fenced_write.status);
  EXPECT_TRUE(Cluster::WaitFor([&] { return cluster.ReadyzStatus(active) == 503; }, seconds(3)))
      << "/readyz " << cluster.ReadyzStatus(active);

  ASSERT_OK(cluster.Resume(s2));
  {
    // Informational (PRODUCT.md does not say): with s2 acking again, the
    // failsafe holds again and writes resume without a renewal (observed).
    grpc::Status after_resume;
    const bool resumed = Cluster::WaitFor(
        [&] {
          after_resume =
              cluster.Insert(active, Cluster::MakeObject("fs-resumed-" + std::to_string(n++), FixedVector(6))).status;
          return after_resume.ok();
        },
        seconds(3));
    auto st = cluster.GetState(active);
    std::cout << "after SIGCONT of s2, no renewal: writes " << (resumed ? "resume" : "stay refused: ")
              << (resumed ? "" : Describe(after_resume)) << "; "
              << (st.ok() ? Cluster::Describe(*st) : st.status().ToString()) << std::endl;
  }

  // A renewal (the arbiter is back) restores writes.
  ASSERT_OK(cluster.RenewLease(active, 1, 10000));
  grpc::Status after_renewal;
  EXPECT_TRUE(Cluster::WaitFor(
      [&] {
        after_renewal =
            cluster.Insert(active, Cluster::MakeObject("fs-renewed-" + std::to_string(n++), FixedVector(5))).status;
        return after_renewal.ok();
      },
      seconds(5)))
      << Describe(after_renewal);
}

// ---------------------------------------------------------------------------
// h. Failsafe denied: the standbys hear from the arbiter (their agents renew
// them) and the active does not. The active is the one cut off, so it must
// stop at its lease deadline although every standby still acks, and the
// arbiter may promote after the lease (docs/arbiter.md "Failsafe").
TEST(Replication, FailsafeEndsAtTheDeadlineWhenStandbysHearTheArbiter) {
  Cluster cluster({.size = 3, .dimension = kDimension, .extra_args = {"--replication.sync_timeout_ms", "1000"}});
  const int active = 0, s1 = 1, s2 = 2;
  const uint32_t lease_ms = 1500;
  ASSERT_OK(cluster.StartAll());
  ASSERT_OK(cluster.AssignActiveWithStandbys(active, {s1, s2}, 1, 1, std::nullopt, 30000, /*failsafe=*/true));
  // The agents of s1 and s2 renew them (contact lasts lease_ms / 4 = 375 ms).
  Renewer renewer(cluster, {s1, s2}, 1, lease_ms, milliseconds(100));
  ASSERT_TRUE(Cluster::WaitFor([&] { return renewer.renewed() >= 4; }, seconds(5)));
  // The active's lease, granted now, is never renewed.
  const auto granted = steady_clock::now();
  ASSERT_OK(cluster.RenewLease(active, 1, lease_ms));

  int n = 0;
  grpc::Status last;
  int64_t fenced_after_ms = -1;
  std::vector<std::string> odd;
  const bool fenced = Cluster::WaitFor(
      [&] {
        auto w = cluster.Insert(active, Cluster::MakeObject("deny-" + std::to_string(n++), FixedVector(1)));
        last = w.status;
        if (w.status.ok()) return false;
        if (w.status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) odd.push_back(Describe(w.status));
        fenced_after_ms = MsSince(granted);
        return true;
      },
      seconds(10));
  ASSERT_TRUE(fenced) << "writes still " << Describe(last) << " 10 s after a " << lease_ms
                      << " ms lease with the standbys in touch with the arbiter";
  EXPECT_TRUE(odd.empty()) << "unexpected failures:" << Join(odd);
  std::cout << "fenced " << fenced_after_ms << " ms after the last grant (lease " << lease_ms << " ms), " << n - 1
            << " writes acknowledged before" << std::endl;
  EXPECT_GE(fenced_after_ms, lease_ms) << "fenced before the lease ran out";
  EXPECT_LT(fenced_after_ms, lease_ms + 1000) << "the failsafe kept the active past its deadline";
  ASSERT_OK_AND_ASSIGN(state, cluster.GetState(active));
  EXPECT_TRUE(state.fenced()) << Cluster::Describe(state);
  for (int s : {s1, s2}) {
    const v1::StandbyState* st = FindStandby(state, cluster.id(s));
    ASSERT_NE(st, nullptr) << Cluster::Describe(state);
    EXPECT_TRUE(st->connected()) << "the standbys ack all along: " << Cluster::Describe(state);
  }
  EXPECT_TRUE(Cluster::WaitFor([&] { return cluster.ReadyzStatus(active) == 503; }, seconds(3)))
      << "/readyz " << cluster.ReadyzStatus(active);

  // The standbys lose the arbiter as well: once their contact runs out the
  // failsafe holds again and the active resumes without a renewal.
  renewer.Stop();
  EXPECT_TRUE(renewer.failures().empty()) << Join(renewer.failures());
  grpc::Status resumed;
  EXPECT_TRUE(Cluster::WaitFor(
      [&] {
        resumed = cluster.Insert(active, Cluster::MakeObject("deny-" + std::to_string(n++), FixedVector(2))).status;
        return resumed.ok();
      },
      seconds(5)))
      << "with nobody in touch with the arbiter the failsafe should hold again: " << Describe(resumed);
}

// ---------------------------------------------------------------------------
// i. Under an arbiter (arbiter.addresses set) a gateway has no role until its
// first assignment: GetState says UNASSIGNED, clients get UNAVAILABLE,
// /readyz is 503. pid_file holds its pid while it serves and is gone after a
// clean stop.
TEST(Replication, UnderAnArbiterAGatewayWaitsForItsFirstAssignment) {
  TempDir pid_dir;
  const std::string pid_file = pid_dir.Join("g1.pid");
  Cluster cluster({.size = 1,
                   .dimension = kDimension,
                   .extra_args = {"--arbiter.addresses", "127.0.0.1:1", "--pid_file", pid_file}});
  ASSERT_OK(cluster.Start(0, Cluster::Readiness::kHealthz));
  ASSERT_OK_AND_ASSIGN(state, cluster.GetState(0));
  EXPECT_EQ(state.role(), v1::ROLE_UNASSIGNED) << Cluster::Describe(state);
  EXPECT_FALSE(state.fenced());
  auto w = cluster.Insert(0, Cluster::MakeObject("early", FixedVector(1)));
  EXPECT_EQ(w.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(w.status);
  EXPECT_EQ(w.status.error_message(), "this gateway has no role yet (waiting for the arbiter)");
  auto r = cluster.GetObject(0, "early");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(r.status);
  EXPECT_EQ(cluster.ReadyzStatus(0), 503);
  EXPECT_EQ(cluster.RenewLease(0, 1, 2000).code(), StatusCode::kFailedPrecondition);

  auto pid = ReadPidFile(pid_file);
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_EQ(*pid, cluster.pid(0));

  ASSERT_OK(cluster.AssignActive(0, 1, {}, {}, 0, 10000));
  auto w2 = cluster.Insert(0, Cluster::MakeObject("assigned", FixedVector(2)));
  EXPECT_TRUE(w2.status.ok()) << Describe(w2.status);
  EXPECT_TRUE(Cluster::WaitFor([&] { return cluster.ReadyzStatus(0) == 200; }, seconds(3)));

  ASSERT_OK(cluster.Stop(0));
  EXPECT_EQ(ReadPidFile(pid_file).status().code(), StatusCode::kNotFound) << "pid_file left behind";

  // A restart comes back unassigned: roles are never read from disk.
  ASSERT_OK(cluster.Start(0, Cluster::Readiness::kHealthz));
  ASSERT_OK_AND_ASSIGN(restarted, cluster.GetState(0));
  EXPECT_EQ(restarted.role(), v1::ROLE_UNASSIGNED) << Cluster::Describe(restarted);
  EXPECT_EQ(restarted.object_count(), 1u);
}

// Found by the chaos runner (seed 20261924): a standby told of a new epoch
// before any record of it arrived, then killed, came back at its log's older
// epoch and would have taken that epoch's replication again. The epoch it
// was assigned is durable before it acts on it.
TEST(Replication, AStandbyKilledRightAfterANewEpochComesBackAtThatEpoch) {
  Cluster cluster({.size = 2, .dimension = kDimension, .extra_args = {"--arbiter.addresses", "127.0.0.1:1"}});
  const int g1 = 0, g2 = 1;
  ASSERT_OK(cluster.StartAll(Cluster::Readiness::kHealthz));
  ASSERT_OK(cluster.AssignStandby(g2, 5, g1));
  ASSERT_OK(cluster.AssignActive(g1, 5, {g2}, {g2}, 1, 10000));
  auto w = cluster.Insert(g1, Cluster::MakeObject("at-5", FixedVector(1)));
  ASSERT_TRUE(w.status.ok()) << Describe(w.status);

  ASSERT_OK(cluster.AssignStandby(g2, 7, g1));  // no record of epoch 7 anywhere yet
  ASSERT_OK(cluster.Kill(g2));
  ASSERT_OK(cluster.Start(g2, Cluster::Readiness::kHealthz));
  ASSERT_OK_AND_ASSIGN(restarted, cluster.GetState(g2));
  EXPECT_EQ(restarted.role(), v1::ROLE_UNASSIGNED) << Cluster::Describe(restarted);
  EXPECT_EQ(restarted.epoch(), 7u) << Cluster::Describe(restarted);
  EXPECT_EQ(restarted.durable().epoch(), 5u) << "its log is still at epoch 5";
  Status back = cluster.AssignStandby(g2, 6, g1);
  EXPECT_EQ(back.code(), StatusCode::kFailedPrecondition) << back.ToString();
}

// ---------------------------------------------------------------------------
// j. SIGTERM stops a gateway promptly although replication streams are open
// (they never end by themselves), and the active finds a restarted standby
// quickly (no multi-second gRPC reconnect backoff).
TEST(Replication, StopIsPromptWithOpenStreamsAndRestartedStandbyReconnectsFast) {
  Cluster cluster({.size = 2, .dimension = kDimension});
  const int active = 0, standby = 1;
  ASSERT_OK(cluster.StartAll());
  ASSERT_OK(cluster.AssignActiveWithStandbys(active, {standby}, 1, 1));
  for (int i = 0; i < 5; ++i) {
    auto w = cluster.Insert(active, Cluster::MakeObject("stop-" + std::to_string(i), FixedVector(i)));
    ASSERT_TRUE(w.status.ok()) << Describe(w.status);
  }
  ASSERT_OK(cluster.WaitCaughtUp(active, standby, seconds(10)));

  // The standby serves the active's open Replicate stream.
  auto start = steady_clock::now();
  ASSERT_OK(cluster.Stop(standby));
  const int64_t standby_stop_ms = MsSince(start);

  // The active retries the standby meanwhile; once it is back (and has its
  // role again) the stream must resume quickly.
  ASSERT_OK(cluster.Start(standby, Cluster::Readiness::kHealthz));
  ASSERT_OK(cluster.Reassign(standby));
  start = steady_clock::now();
  ASSERT_OK(cluster.WaitForState(
      active,
      [&](const v1::GetStateResponse& st) {
        const v1::StandbyState* s = FindStandby(st, cluster.id(standby));
        return s != nullptr && s->connected();
      },
      seconds(10), "the restarted standby connected"));
  const int64_t reconnect_ms = MsSince(start);
  auto w = cluster.Insert(active, Cluster::MakeObject("stop-after", FixedVector(9)));
  EXPECT_TRUE(w.status.ok()) << Describe(w.status);

  // The active holds the client end of the stream (and serves its clients).
  start = steady_clock::now();
  ASSERT_OK(cluster.Stop(active));
  const int64_t active_stop_ms = MsSince(start);
  std::cout << "SIGTERM to exit: standby " << standby_stop_ms << " ms, active " << active_stop_ms
            << " ms; reconnect after the standby's restart " << reconnect_ms << " ms" << std::endl;
  // Typically ~200 ms each. Bounds with room for a loaded machine, yet below
  // what the gRPC server's own shutdown deadline (2 s) or gRPC's default
  // reconnect backoff (1 s and up) would give.
  EXPECT_LT(standby_stop_ms, 1500) << "a standby with an open replication stream stops slowly";
  EXPECT_LT(active_stop_ms, 1500) << "an active with an open replication stream stops slowly";
  EXPECT_LT(reconnect_ms, 1000) << "the active took long to find the restarted standby";
}

}  // namespace
}  // namespace baton::testing
