// Kill -9 at any moment loses no acknowledged write (PRODUCT.md section 3),
// against the real baton-gateway binary: 8 client threads write concurrently
// (insert, upsert, update, remove over a small key space, server-assigned
// timestamps); at a random moment the gateway gets SIGKILL, is restarted on
// the same data_dir, and every id must hold its latest acknowledged write
// (vector, metadata, timestamp; or be absent after a remove) -- or a later
// write whose outcome the client never learned (it was in flight at the
// kill). Small log segments and a small snapshot interval make recovery go
// through snapshots and deleted segments too.
//
// 20 rounds by default (~20 s); BATON_CRASH_ROUNDS=200 for a long run (~1 s
// per round, within the ctest TIMEOUT of 600 s). BATON_TEST_SEED replays a run.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "baton/v1/gateway.grpc.pb.h"
#include "common/mutex.h"
#include "tests/support/binaries.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_util.h"

namespace baton::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kDimension = 8;
constexpr int kIdSpace = 200;
constexpr int kThreads = 8;

// A state an id can be in: live with this content, or removed.
struct Version {
  bool live = false;
  std::vector<float> vector;
  std::string metadata;
  int64_t timestamp = 0;  // 0: unknown (a write whose answer never came)

  std::string ToString() const {
    if (!live) return "removed (ts " + std::to_string(timestamp) + ")";
    return "live ts " + std::to_string(timestamp) + " metadata '" + metadata + "'";
  }
};

// Every write the clients made, per id: the latest acknowledged one (by
// timestamp: the gateway assigns them in apply order) and every write whose
// outcome is unknown. Thread-safe.
class Tracker {
 public:
  void Acked(const std::string& id, Version v) {
    MutexLock lock(&mu_);
    auto& entry = ids_[id];
    if (!entry.acked || v.timestamp > entry.acked->timestamp) entry.acked = std::move(v);
    ++acked_total_;
  }
  void Unknown(const std::string& id, Version v) {
    MutexLock lock(&mu_);
    ids_[id].unknown.push_back(std::move(v));
    ++unknown_total_;
  }
  int64_t max_acked_timestamp() {
    MutexLock lock(&mu_);
    int64_t max = 0;
    for (const auto& [id, entry] : ids_) {
      if (entry.acked) max = std::max(max, entry.acked->timestamp);
    }
    return max;
  }
  uint64_t acked_total() {
    MutexLock lock(&mu_);
    return acked_total_;
  }
  uint64_t unknown_total() {
    MutexLock lock(&mu_);
    return unknown_total_;
  }

  // Checks what the gateway serves for every id against the writes; returns
  // a description of each violation. Afterwards the served state is the new
  // baseline (it is durable: recovery syncs what it found).
  std::vector<std::string> VerifyAndRebase(v1::Gateway::Stub& stub, const std::vector<std::string>& key_space) {
    MutexLock lock(&mu_);
    std::vector<std::string> violations;
    std::vector<std::string> ids = key_space;
    for (const auto& [id, entry] : ids_) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (const std::string& id : ids) {
      v1::GetObjectRequest request;
      request.set_id(id);
      v1::Object object;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + seconds(10));
      grpc::Status status = stub.GetObject(&context, request, &object);
      if (!status.ok() && status.error_code() != grpc::StatusCode::NOT_FOUND) {
        violations.push_back("GetObject(" + id + "): " + std::to_string(status.error_code()) + " " +
                             status.error_message());
        continue;
      }
      Version served;
      if (status.ok()) {
        served.live = true;
        served.vector.assign(object.vector().begin(), object.vector().end());
        served.metadata = object.metadata();
        served.timestamp = object.timestamp();
      }
      Entry& entry = ids_[id];
      if (!Acceptable(entry, served)) {
        std::string text = "object " + id + ": served " + (served.live ? served.ToString() : "NOT_FOUND") +
                           "; latest acknowledged " + (entry.acked ? entry.acked->ToString() : "none") + "; " +
                           std::to_string(entry.unknown.size()) + " write(s) of unknown outcome";
        for (const Version& u : entry.unknown) text += "\n    unknown: " + u.ToString();
        violations.push_back(text);
      }
      entry.acked = served;
      entry.unknown.clear();
    }
    return violations;
  }

 private:
  struct Entry {
    std::optional<Version> acked;
    std::vector<Version> unknown;
  };

  static bool SameContent(const Version& a, const Version& b) {
    if (a.live != b.live) return false;
    return !a.live || (a.vector == b.vector && a.metadata == b.metadata);
  }

  // The latest acknowledged write exactly, or a write of unknown outcome that
  // came after it (a newer timestamp, when one is visible).
  static bool Acceptable(const Entry& entry, const Version& served) {
    if (entry.acked) {
      if (SameContent(*entry.acked, served) && (!served.live || served.timestamp == entry.acked->timestamp)) {
        return true;
      }
    } else if (!served.live) {
      return true;  // never acknowledged: absent is fine
    }
    for (const Version& u : entry.unknown) {
      if (!SameContent(u, served)) continue;
      if (!served.live || !entry.acked || served.timestamp > entry.acked->timestamp) return true;
    }
    return false;
  }

  Mutex mu_;
  std::map<std::string, Entry> ids_ GUARDED_BY(mu_);
  uint64_t acked_total_ GUARDED_BY(mu_) = 0;
  uint64_t unknown_total_ GUARDED_BY(mu_) = 0;
};

int RoundsFromEnv() {
  if (const char* env = std::getenv("BATON_CRASH_ROUNDS")) {
    int rounds = std::atoi(env);
    if (rounds > 0) return rounds;
  }
  return 20;
}

uint64_t SeedFromEnv() {
  if (const char* env = std::getenv("BATON_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

class GatewayCrashTest : public ::testing::Test {
 protected:
  // Starts the gateway on the shared data dir and waits until it is ready.
  void StartGateway(int round) {
    grpc_port_ = PickFreePort();
    const uint16_t http_port = PickFreePort();
    http_port_ = http_port;
    auto daemon = StartDaemon(BinaryPath("gateway/baton-gateway"),
                              {"--data_dir", dir_.Join("data"), "--index.dimension", std::to_string(kDimension),
                               "--grpc.listen", "127.0.0.1:" + std::to_string(grpc_port_), "--http.listen",
                               "127.0.0.1:" + std::to_string(http_port), "--instance.cluster", "c1",
                               "--wal.segment_bytes", "65536", "--snapshot.interval_records", "300"},
                              dir_.Join("gateway-" + std::to_string(round) + ".log"));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_.emplace(std::move(daemon).value());
    bool exited = false;
    const bool ready = WaitFor(
        [&] {
          if (daemon_->process->Exited()) {
            exited = true;
            return true;
          }
          auto r = HttpGet(http_port, "/readyz", milliseconds(500));
          return r.ok() && r->first == 200;
        },
        seconds(60));
    ASSERT_TRUE(ready && !exited) << "gateway not ready (round " << round << ")\n" << daemon_->Log();
    stub_ = v1::Gateway::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials()));
  }

  // One client thread: random writes until `stop`.
  void Writer(uint64_t seed, int thread, const std::atomic<bool>& stop, const std::atomic<bool>& killing,
              std::atomic<uint64_t>& acked_this_round) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> pick_id(0, kIdSpace - 1);
    std::uniform_int_distribution<int> pick_op(0, 9);
    std::uniform_real_distribution<float> value(-1, 1);
    auto stub = v1::Gateway::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials()));
    // No new write once the kill is under way: a write that never reached the
    // gateway would count as "outcome unknown" and loosen the check.
    for (uint64_t n = 0; !stop.load() && !killing.load(); ++n) {
      const std::string id = "k" + std::to_string(pick_id(rng));
      const int op = pick_op(rng);  // 0-2 insert, 3-6 upsert, 7 update, 8-9 remove
      Version v;
      v.live = op < 8;
      if (v.live) {
        v.vector.resize(kDimension);
        for (float& x : v.vector) x = value(rng);
        v.metadata = "t" + std::to_string(thread) + "-" + std::to_string(n);
      }
      v1::Object object;
      object.set_id(id);
      object.mutable_vector()->Add(v.vector.begin(), v.vector.end());
      object.set_metadata(v.metadata);

      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + seconds(10));
      v1::WriteResult result;
      grpc::Status status;
      if (op < 3) {
        v1::InsertRequest request;
        *request.mutable_object() = object;
        status = stub->Insert(&context, request, &result);
      } else if (op < 7) {
        v1::UpsertRequest request;
        *request.mutable_object() = object;
        status = stub->Upsert(&context, request, &result);
      } else if (op < 8) {
        v1::UpdateRequest request;
        *request.mutable_object() = object;
        status = stub->Update(&context, request, &result);
      } else {
        v1::RemoveRequest request;
        request.set_id(id);
        status = stub->Remove(&context, request, &result);
      }

      if (status.ok()) {
        // With a server-assigned timestamp, OK always means applied.
        v.timestamp = result.timestamp();
        tracker_.Acked(id, std::move(v));
        acked_this_round.fetch_add(1);
      } else if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS ||
                 status.error_code() == grpc::StatusCode::NOT_FOUND) {
        // Decided and not applied: nothing to remember.
      } else {
        tracker_.Unknown(id, std::move(v));
        if (!killing.load()) {
          ADD_FAILURE() << "write failed before the kill: " << status.error_code() << " " << status.error_message();
          return;
        }
      }
    }
  }

  TempDir dir_;
  std::optional<Daemon> daemon_;
  uint16_t grpc_port_ = 0;
  uint16_t http_port_ = 0;
  std::unique_ptr<v1::Gateway::Stub> stub_;
  Tracker tracker_;
};

TEST_F(GatewayCrashTest, KillNineLosesNoAcknowledgedWrite) {
  const int rounds = RoundsFromEnv();
  const uint64_t seed = SeedFromEnv();
  std::cout << "seed " << seed << " (replay with BATON_TEST_SEED=" << seed << "), " << rounds << " rounds"
            << std::endl;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> kill_after_ms(30, 1800);

  std::vector<std::string> key_space;
  for (int i = 0; i < kIdSpace; ++i) key_space.push_back("k" + std::to_string(i));

  const auto test_start = std::chrono::steady_clock::now();
  int snapshots_written = 0;
  for (int round = 0; round <= rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_NO_FATAL_FAILURE(StartGateway(round));
    if (round > 0) {
      auto violations = tracker_.VerifyAndRebase(*stub_, key_space);
      for (size_t i = 0; i < violations.size() && i < 20; ++i) ADD_FAILURE() << violations[i];
      ASSERT_TRUE(violations.empty()) << violations.size() << " violation(s) after kill -9 in round " << round - 1
                                      << "; seed " << seed << "\n--- gateway log ---\n" << daemon_->Log();
      // Recovered timestamps: assignment continues above every ack.
      const int64_t max_acked = tracker_.max_acked_timestamp();
      v1::UpsertRequest probe;
      probe.mutable_object()->set_id("probe");
      for (int i = 0; i < kDimension; ++i) probe.mutable_object()->add_vector(static_cast<float>(round + i));
      v1::WriteResult result;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + seconds(10));
      grpc::Status status = stub_->Upsert(&context, probe, &result);
      ASSERT_TRUE(status.ok()) << status.error_message();
      EXPECT_GT(result.timestamp(), max_acked);
      Version v{true, {probe.object().vector().begin(), probe.object().vector().end()}, "", result.timestamp()};
      tracker_.Acked("probe", v);
    }
    if (round == rounds) break;

    std::atomic<bool> stop{false}, killing{false};
    std::atomic<uint64_t> acked_this_round{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      const uint64_t thread_seed = seed + static_cast<uint64_t>(round) * 1000 + static_cast<uint64_t>(t) + 1;
      threads.emplace_back([&, thread_seed, t] { Writer(thread_seed, t, stop, killing, acked_this_round); });
    }
    // The random moment: at least one ack, and a seeded delay since the load began.
    const auto load_start = std::chrono::steady_clock::now();
    const auto kill_at = load_start + milliseconds(kill_after_ms(rng));
    const bool moment = WaitFor(
        [&] { return acked_this_round.load() > 0 && std::chrono::steady_clock::now() >= kill_at; }, seconds(30));
    killing = true;
    ASSERT_TRUE(daemon_->process->Signal(SIGKILL).ok());
    auto wait_status = daemon_->process->Wait(seconds(10));
    stop = true;
    for (auto& thread : threads) thread.join();
    ASSERT_TRUE(moment) << "no write was acknowledged within 30 s\n" << daemon_->Log();
    ASSERT_TRUE(wait_status.ok()) << wait_status.status();
    ASSERT_TRUE(WIFSIGNALED(*wait_status) && WTERMSIG(*wait_status) == SIGKILL)
        << "the gateway died on its own before the kill: " << DescribeWaitStatus(*wait_status) << "\n"
        << daemon_->Log();
    const std::string log = daemon_->Log();
    for (size_t at = log.find("snapshot written"); at != std::string::npos; at = log.find("snapshot written", at + 1)) {
      ++snapshots_written;
    }
    if (::testing::Test::HasFailure()) {
      std::cout << "--- gateway log, round " << round << " ---\n" << log << std::endl;
      return;
    }
    daemon_.reset();
  }

  const double seconds_taken =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - test_start).count();
  std::cout << rounds << " rounds in " << seconds_taken << " s: " << tracker_.acked_total() << " writes acknowledged, "
            << tracker_.unknown_total() << " of unknown outcome, " << snapshots_written << " snapshots written"
            << std::endl;
  if (rounds >= 10) {
    EXPECT_GT(snapshots_written, 0) << "recovery never went through a snapshot: lower snapshot.interval_records";
  }
}

}  // namespace
}  // namespace baton::testing
