// Mirroring between clusters (PRODUCT.md §6, issue 8) with real baton-gateway
// processes on loopback: three clusters "a", "b" and "c" (a fourth, "d", with
// another dimension for one case), each a GatewayCluster of standalone
// gateways that name each other in `--mirror.targets`. The tests stand in for
// the arbiter where a cluster has two members (AssignRole through
// GatewayControl) and observe delivery through GetState (mirror_peers,
// mirror_applied, digest, object_count), /metrics and the client API.
//
// - MirrorSync.*: every status rule of sync mode, table-driven, with mixed
//   answers, checking the stores of all three clusters, not only the codes.
// - MirrorAsync.PeerDownTenSecondsUnderLoad: nothing acknowledged is lost
//   while a peer is down; delivery resumes by itself.
// - MirrorFailover.*: SIGKILL of the sending active; its promoted standby
//   carries on from the replicated cursor.
// - MirrorMesh.*: concurrent writes to the same ids converge; a remove is not
//   undone by an older insert arriving later; each write is applied exactly
//   once per cluster (no echo).
//
// Every wait has a deadline; every load loop is bounded in count and time;
// only processes the fixtures started are signalled. BATON_KEEP_TEMP=1 keeps
// data dirs and logs.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "baton/v1/control.grpc.pb.h"
#include "baton/v1/gateway.grpc.pb.h"
#include "common/mutex.h"
#include "common/status.h"
#include "tests/support/binaries.h"
#include "tests/support/following_writer.h"
#include "tests/support/gateway_cluster.h"
#include "tests/support/metrics_text.h"
#include "tests/support/test_util.h"

namespace baton::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using Cluster = GatewayCluster;

constexpr int kDimension = 4;

std::string CodeName(grpc::StatusCode code) { return std::string(StatusCodeName(static_cast<StatusCode>(code))); }
std::string CodeName(int code) { return CodeName(static_cast<grpc::StatusCode>(code)); }

std::string Describe(const grpc::Status& s) { return CodeName(s.error_code()) + " '" + s.error_message() + "'"; }

std::vector<float> V(float base) { return {base, base + 1, base + 2, base + 3}; }

std::string VectorText(const std::vector<float>& v) {
  if (v.empty()) return "(absent)";
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < v.size(); ++i) out << (i ? " " : "") << v[i];
  out << "]";
  return out.str();
}

std::string JoinLines(const std::vector<std::string>& lines, size_t max = 10) {
  std::string text;
  for (size_t i = 0; i < lines.size() && i < max; ++i) text += "\n  " + lines[i];
  if (lines.size() > max) text += "\n  ... " + std::to_string(lines.size() - max) + " more";
  return text;
}

// `--mirror.targets` entry naming every member of `peer` (cluster `name`).
std::string TargetSpec(const std::string& name, const Cluster& peer) {
  return name + "=" + name + "@" + peer.addresses_joined();
}

// Flags of a mirroring gateway. Short cursor interval and delivery timeout,
// so that a test sees a stalled peer and a resumed sender quickly.
std::vector<std::string> MirrorArgs(const std::string& mode, const std::vector<std::string>& targets) {
  std::string joined;
  for (const auto& t : targets) joined += (joined.empty() ? "" : ",") + t;
  std::vector<std::string> args = {"--mirror.mode", mode, "--mirror.cursor_interval_ms", "100",
                                   "--mirror.timeout_ms", "1500"};
  if (!joined.empty()) {
    args.push_back("--mirror.targets");
    args.push_back(joined);
  }
  return args;
}

v1::MirrorTarget TargetProto(const std::string& name, const Cluster& peer) {
  v1::MirrorTarget t;
  t.set_name(name);
  t.set_cluster(name);
  for (int i = 0; i < peer.size(); ++i) t.add_addresses(peer.address(i));
  return t;
}

const v1::MirrorPeerState* FindPeer(const v1::GetStateResponse& state, const std::string& target) {
  for (const auto& p : state.mirror_peers()) {
    if (p.target() == target) return &p;
  }
  return nullptr;
}

uint64_t Applied(const v1::GetStateResponse& state, const std::string& origin) {
  auto it = state.mirror_applied().find(origin);
  return it == state.mirror_applied().end() ? 0 : it->second;
}

// Cluster::Describe plus the mirroring fields.
std::string DescribeMirror(const v1::GetStateResponse& s) {
  std::string text = Cluster::Describe(s) + " cluster=" + s.cluster() + " mirror_peers=[";
  for (const auto& p : s.mirror_peers()) {
    std::ostringstream lag;
    lag << p.lag_seconds();
    text += " {" + p.target() + " cluster=" + p.cluster() + " addr=" + p.address() +
            (p.connected() ? " connected" : " disconnected") + " delivered_seq=" + std::to_string(p.delivered_seq()) +
            " lag=" + std::to_string(p.lag_entries()) + " lag_s=" + lag.str() +
            " writes=" + std::to_string(p.delivered_writes()) +
            (p.last_error().empty() ? "" : " error='" + p.last_error() + "'") + "}";
  }
  text += " ] mirror_applied={";
  std::map<std::string, uint64_t> applied(s.mirror_applied().begin(), s.mirror_applied().end());
  for (const auto& [origin, n] : applied) text += " " + origin + ":" + std::to_string(n);
  return text + " }";
}

double GatewayMetric(const Cluster& cluster, int i, const std::string& name,
                     const std::map<std::string, std::string>& labels) {
  auto r = HttpGet(cluster.http_port(i), "/metrics");
  return r.ok() && r->first == 200 ? MetricValue(r->second, name, labels) : -1;
}

// A counter that may not be exported before its first increment: absent = 0.
double Counter(const Cluster& cluster, int i, const std::string& name,
               const std::map<std::string, std::string>& labels) {
  const double v = GatewayMetric(cluster, i, name, labels);
  return std::isnan(v) ? 0 : v;
}

// --- client calls ------------------------------------------------------------

enum class Op { kInsert, kUpdate, kUpsert, kRemove };

const char* OpName(Op op) {
  switch (op) {
    case Op::kInsert: return "Insert";
    case Op::kUpdate: return "Update";
    case Op::kUpsert: return "Upsert";
    case Op::kRemove: return "Remove";
  }
  return "?";
}

struct WriteOutcome {
  grpc::Status status;
  v1::WriteResult result;
};

// One write to member i; Remove uses object.id() and object.timestamp().
WriteOutcome Write(const Cluster& cluster, int i, Op op, const v1::Object& object,
                   milliseconds timeout = seconds(15)) {
  WriteOutcome out;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  auto stub = cluster.client(i);
  switch (op) {
    case Op::kInsert: {
      v1::InsertRequest r;
      *r.mutable_object() = object;
      out.status = stub->Insert(&context, r, &out.result);
      break;
    }
    case Op::kUpdate: {
      v1::UpdateRequest r;
      *r.mutable_object() = object;
      out.status = stub->Update(&context, r, &out.result);
      break;
    }
    case Op::kUpsert: {
      v1::UpsertRequest r;
      *r.mutable_object() = object;
      out.status = stub->Upsert(&context, r, &out.result);
      break;
    }
    case Op::kRemove: {
      v1::RemoveRequest r;
      r.set_id(object.id());
      r.set_timestamp(object.timestamp());
      out.status = stub->Remove(&context, r, &out.result);
      break;
    }
  }
  return out;
}

v1::Object Obj(const std::string& id, const std::vector<float>& vector, const std::string& metadata = "",
               int64_t timestamp = 0) {
  v1::Object o = Cluster::MakeObject(id, vector, metadata);
  o.set_timestamp(timestamp);
  return o;
}

// What GetObject on member i shows: "" when it matches `vector` (empty =
// absent) and `metadata`, else what differs.
std::string CheckStored(const Cluster& cluster, int i, const std::string& where, const std::string& id,
                        const std::vector<float>& vector, const std::string& metadata,
                        v1::Object* stored = nullptr) {
  auto got = cluster.GetObject(i, id);
  if (vector.empty()) {
    if (got.status.error_code() == grpc::StatusCode::NOT_FOUND) return "";
    return where + ": " + id + " should be absent, GetObject answered " + Describe(got.status) +
           (got.status.ok()
                ? " with " + VectorText(std::vector<float>(got.object.vector().begin(), got.object.vector().end()))
                : "");
  }
  if (!got.status.ok()) return where + ": " + id + " should be " + VectorText(vector) + ", GetObject " + Describe(got.status);
  const std::vector<float> have(got.object.vector().begin(), got.object.vector().end());
  if (stored) *stored = got.object;
  if (have != vector || got.object.metadata() != metadata) {
    return where + ": " + id + " is " + VectorText(have) + " metadata '" + got.object.metadata() + "', should be " +
           VectorText(vector) + " metadata '" + metadata + "'";
  }
  return "";
}

// --- bounded load --------------------------------------------------------------

// A paced write load on one gateway: one thread, at most `max_writes` writes
// at no more than `rate` per second, until `time_limit` or Stop(). Inserts
// of unique ids "<prefix><n>", or, with key_space > 0, upserts (4 in 5) and
// removes of "<prefix>k<0..key_space-1>". Start and Finish on the test
// thread; the accessors are thread-safe.
class PacedWriter {
 public:
  struct Options {
    int member = 0;
    std::string prefix = "w";
    int max_writes = 1000;
    int rate = 300;
    milliseconds time_limit{20000};
    int key_space = 0;
    uint64_t seed = 1;
    milliseconds rpc_timeout{10000};
  };
  struct Acked {
    std::vector<float> vector;
    int64_t timestamp = 0;
  };

  PacedWriter(const Cluster& cluster, Options options) : cluster_(cluster), options_(std::move(options)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~PacedWriter() { Finish(); }
  void Finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool done() const { return done_.load(); }
  uint64_t acked() const { return acked_count_.load(); }
  bool WaitAcked(uint64_t n, milliseconds timeout) const {
    return WaitFor([&] { return acked() >= n || done(); }, timeout) && acked() >= n;
  }
  bool WaitDone(milliseconds timeout) const {
    return WaitFor([&] { return done(); }, timeout);
  }
  // Unique-id mode: every acknowledged insert.
  std::map<std::string, Acked> acked_writes() const {
    MutexLock lock(&mu_);
    return acked_;
  }
  std::vector<std::string> failures() const {
    MutexLock lock(&mu_);
    return failures_;
  }

 private:
  void Run() {
    std::mt19937_64 rng(options_.seed);
    std::uniform_real_distribution<float> value(-1, 1);
    const auto start = steady_clock::now();
    const auto deadline = start + options_.time_limit;
    const auto period = std::chrono::nanoseconds(1'000'000'000LL / std::max(1, options_.rate));
    for (int n = 0; n < options_.max_writes && !stop_.load() && steady_clock::now() < deadline; ++n) {
      std::this_thread::sleep_until(start + n * period);  // pacing, not synchronisation
      std::vector<float> vector(kDimension);
      for (float& x : vector) x = value(rng);
      Op op = Op::kInsert;
      std::string id = options_.prefix + std::to_string(n);
      if (options_.key_space > 0) {
        id = options_.prefix + "k" + std::to_string(rng() % options_.key_space);
        op = rng() % 5 == 0 ? Op::kRemove : Op::kUpsert;
      }
      auto out = Write(cluster_, options_.member, op, Obj(id, vector), options_.rpc_timeout);
      const auto code = out.status.error_code();
      const bool fine = out.status.ok() || (options_.key_space > 0 && (code == grpc::StatusCode::NOT_FOUND ||
                                                                       code == grpc::StatusCode::ALREADY_EXISTS));
      MutexLock lock(&mu_);
      if (fine) {
        acked_count_.fetch_add(1);
        if (options_.key_space == 0) acked_[id] = Acked{vector, out.result.timestamp()};
      } else if (failures_.size() < 50) {
        failures_.push_back(std::string(OpName(op)) + " " + id + ": " + Describe(out.status));
      }
    }
    done_ = true;
  }

  const Cluster& cluster_;
  const Options options_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::atomic<uint64_t> acked_count_{0};
  mutable Mutex mu_;
  std::map<std::string, Acked> acked_ GUARDED_BY(mu_);
  std::vector<std::string> failures_ GUARDED_BY(mu_);
  std::thread thread_;
};

// One cluster's active as the convergence checks see it.
struct Node {
  std::string name;
  Cluster* cluster;
  int member = 0;
  int peers = 0;  // mirror targets it must list in mirror_peers
};

// Quiescence: every node lists its `peers` mirror targets, each with
// lag_entries 0; all nodes report one digest and object count; and that has
// held, unchanged, for `stable_for`. On timeout the error shows every node.
Status WaitConverged(const std::vector<Node>& nodes, milliseconds timeout, milliseconds stable_for = milliseconds(400)) {
  std::optional<steady_clock::time_point> since;
  uint64_t stable_digest = 0;
  std::string last = "no answer";
  const bool ok = WaitFor(
      [&] {
        bool good = true;
        std::optional<std::pair<uint64_t, uint64_t>> store;
        last.clear();
        for (const auto& n : nodes) {
          auto state = n.cluster->GetState(n.member);
          if (!state.ok()) {
            last += "\n  " + n.name + ": " + state.status().ToString();
            good = false;
            continue;
          }
          last += "\n  " + n.name + ": " + DescribeMirror(*state);
          if (state->mirror_peers_size() != n.peers) good = false;
          for (const auto& p : state->mirror_peers()) good &= p.lag_entries() == 0;
          const std::pair<uint64_t, uint64_t> mine{state->digest(), state->object_count()};
          if (!store) store = mine;
          good &= *store == mine;
        }
        if (!good || !store) {
          since.reset();
          return false;
        }
        if (!since || stable_digest != store->first) {
          since = steady_clock::now();
          stable_digest = store->first;
        }
        return steady_clock::now() - *since >= stable_for;
      },
      timeout, milliseconds(50));
  if (ok) return Status::Ok();
  return Status::DeadlineExceeded("not converged within " + std::to_string(timeout.count()) + " ms:" + last);
}

// ===========================================================================
// 1. Status rules in sync mode: a mirrors to b and c; b and c mirror nowhere
// and are seeded by writing to them directly.

constexpr int kA = 0, kB = 1, kC = 2;
const char* const kNames[] = {"a", "b", "c"};

struct SeedStep {
  int cluster;  // kA (mirrored to all in sync mode), kB or kC (that cluster only)
  Op op;
  std::vector<float> vector = {};
  std::string metadata = "";
};

struct StatusCase {
  std::string name;
  std::vector<SeedStep> seed;
  Op op;
  std::vector<float> vector;  // the request (ignored for Remove)
  std::string metadata;
  grpc::StatusCode want;
  std::array<std::vector<float>, 3> stored;  // afterwards in a, b, c (empty = absent)
  std::string stored_metadata = "";
  // a applied the write itself: b and c store a's version's timestamp.
  bool same_timestamp = false;
};

class MirrorSync : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = std::make_unique<Cluster>(Cluster::Options{.size = 1, .dimension = kDimension, .cluster = "a"});
    b_ = std::make_unique<Cluster>(Cluster::Options{.size = 1, .dimension = kDimension, .cluster = "b"});
    c_ = std::make_unique<Cluster>(Cluster::Options{.size = 1, .dimension = kDimension, .cluster = "c"});
    a_->AddArgs(MirrorArgs("sync", {TargetSpec("b", *b_), TargetSpec("c", *c_)}));
    ASSERT_OK(b_->StartAll());
    ASSERT_OK(c_->StartAll());
    ASSERT_OK(a_->StartAll());
  }

  Cluster& at(int cluster) { return cluster == kA ? *a_ : cluster == kB ? *b_ : *c_; }

  // Writes the seed steps; each must answer OK.
  void Seed(const std::string& id, const std::vector<SeedStep>& steps) {
    for (const auto& step : steps) {
      auto out = Write(at(step.cluster), 0, step.op, Obj(id, step.vector, step.metadata));
      ASSERT_TRUE(out.status.ok()) << "seed " << OpName(step.op) << " " << id << " at " << kNames[step.cluster] << ": "
                                   << Describe(out.status);
    }
  }

  // Every cluster stores `stored[k]` for id; with `same_timestamp` all carry
  // `timestamp`.
  void ExpectStored(const std::string& what, const std::string& id, const std::array<std::vector<float>, 3>& stored,
                    const std::string& metadata, std::optional<int64_t> timestamp) {
    for (int k = 0; k < 3; ++k) {
      v1::Object object;
      const std::string problem = CheckStored(at(k), 0, kNames[k], id, stored[k], metadata, &object);
      EXPECT_EQ(problem, "") << what;
      if (problem.empty() && timestamp && !stored[k].empty()) {
        EXPECT_EQ(object.timestamp(), *timestamp)
            << what << ": " << kNames[k] << " stores " << id << " at another timestamp than a's version";
      }
    }
  }

  std::unique_ptr<Cluster> a_, b_, c_;
};

TEST_F(MirrorSync, EachStatusRuleWithMixedAnswers) {
  const auto AE = grpc::StatusCode::ALREADY_EXISTS;
  const auto NF = grpc::StatusCode::NOT_FOUND;
  const auto OK = grpc::StatusCode::OK;
  const std::vector<float> no;  // absent
  const std::vector<StatusCase> cases = {
      // Insert
      {"insert new everywhere", {}, Op::kInsert, V(1), "", OK, {V(1), V(1), V(1)}, "", true},
      {"insert identical everywhere", {{kA, Op::kInsert, V(1)}}, Op::kInsert, V(1), "", AE, {V(1), V(1), V(1)}},
      {"insert new locally, another value at b", {{kB, Op::kInsert, V(2)}}, Op::kInsert, V(1), "", OK,
       {V(1), V(1), V(1)}, "", true},
      {"insert identical at a and c, another value at b",
       {{kA, Op::kInsert, V(1)}, {kB, Op::kUpsert, V(2)}}, Op::kInsert, V(1), "", OK, {V(1), V(1), V(1)}},
      {"insert identical at a and b, removed at c",
       {{kA, Op::kInsert, V(1)}, {kC, Op::kRemove}}, Op::kInsert, V(1), "", OK, {V(1), V(1), V(1)}},
      // Update
      {"update missing everywhere (inserts)", {}, Op::kUpdate, V(1), "", OK, {V(1), V(1), V(1)}, "", true},
      {"update identical everywhere", {{kA, Op::kInsert, V(1)}}, Op::kUpdate, V(1), "", AE, {V(1), V(1), V(1)}},
      {"update changed everywhere", {{kA, Op::kInsert, V(1)}}, Op::kUpdate, V(2), "", OK, {V(2), V(2), V(2)}, "",
       true},
      {"update metadata only", {{kA, Op::kInsert, V(1), "m1"}}, Op::kUpdate, V(1), "m2", OK, {V(1), V(1), V(1)}, "m2",
       true},
      {"update, missing at c", {{kA, Op::kInsert, V(1)}, {kC, Op::kRemove}}, Op::kUpdate, V(2), "", OK,
       {V(2), V(2), V(2)}, "", true},
      {"update, present at b only", {{kB, Op::kInsert, V(1)}}, Op::kUpdate, V(2), "", OK, {V(2), V(2), V(2)}, "",
       true},
      // Upsert
      {"upsert new everywhere", {}, Op::kUpsert, V(1), "", OK, {V(1), V(1), V(1)}, "", true},
      {"upsert identical everywhere", {{kA, Op::kInsert, V(1), "m"}}, Op::kUpsert, V(1), "m", AE,
       {V(1), V(1), V(1)}, "m"},
      {"upsert identical at a and c, another value at b", {{kA, Op::kInsert, V(1)}, {kB, Op::kUpsert, V(2)}},
       Op::kUpsert, V(1), "", OK, {V(1), V(1), V(1)}},
      {"upsert metadata only", {{kA, Op::kInsert, V(1), "m1"}}, Op::kUpsert, V(1), "m2", OK, {V(1), V(1), V(1)}, "m2",
       true},
      // Remove
      {"remove missing everywhere", {}, Op::kRemove, {}, "", NF, {no, no, no}},
      {"remove present everywhere", {{kA, Op::kInsert, V(1)}}, Op::kRemove, {}, "", OK, {no, no, no}},
      {"remove present at b only", {{kB, Op::kInsert, V(1)}}, Op::kRemove, {}, "", OK, {no, no, no}},
      {"remove present at a only", {{kA, Op::kInsert, V(1)}, {kB, Op::kRemove}, {kC, Op::kRemove}}, Op::kRemove, {},
       "", OK, {no, no, no}},
      {"remove present at a and c", {{kA, Op::kInsert, V(1)}, {kB, Op::kRemove}}, Op::kRemove, {}, "", OK,
       {no, no, no}},
  };

  for (size_t n = 0; n < cases.size(); ++n) {
    const StatusCase& c = cases[n];
    const std::string id = "case" + std::to_string(n);
    const std::string what = "case " + std::to_string(n) + " '" + c.name + "' (" + id + ")";
    SCOPED_TRACE(what);
    Seed(id, c.seed);
    if (HasFatalFailure()) return;
    auto out = Write(*a_, 0, c.op, Obj(id, c.vector, c.metadata));
    EXPECT_EQ(out.status.error_code(), c.want) << what << ": " << OpName(c.op) << " answered " << Describe(out.status)
                                               << ", want " << CodeName(c.want);
    std::optional<int64_t> ts;
    if (c.same_timestamp && out.status.ok()) {
      auto local = a_->GetObject(0, id);
      if (local.status.ok()) {
        ts = local.object.timestamp();
        EXPECT_EQ(out.result.timestamp(), *ts) << what << ": WriteResult timestamp is not a's stored version's";
      }
    }
    ExpectStored(what, id, c.stored, c.stored_metadata, ts);
  }
}

// Multi* forms: one code per item, by the same rules, and the stores.
TEST_F(MirrorSync, MultiFormsAnswerPerItem) {
  // MultiInsert: new everywhere; identical everywhere; another value at b.
  Seed("mi-same", {{kA, Op::kInsert, V(1)}});
  Seed("mi-diff", {{kA, Op::kInsert, V(1)}, {kB, Op::kUpsert, V(2)}});
  Seed("mi-bonly", {{kB, Op::kInsert, V(3)}});
  if (HasFatalFailure()) return;
  {
    v1::MultiInsertRequest request;
    for (const auto& [id, v] : std::vector<std::pair<std::string, std::vector<float>>>{
             {"mi-new", V(1)}, {"mi-same", V(1)}, {"mi-diff", V(1)}, {"mi-bonly", V(1)}}) {
      *request.add_requests()->mutable_object() = Obj(id, v);
    }
    v1::MultiWriteResult result;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(15));
    const grpc::Status s = a_->client(0)->MultiInsert(&context, request, &result);
    ASSERT_TRUE(s.ok()) << "MultiInsert: " << Describe(s);
    ASSERT_EQ(result.results_size(), 4) << result.DebugString();
    const std::vector<std::pair<std::string, grpc::StatusCode>> want = {{"mi-new", grpc::StatusCode::OK},
                                                                         {"mi-same", grpc::StatusCode::ALREADY_EXISTS},
                                                                         {"mi-diff", grpc::StatusCode::OK},
                                                                         {"mi-bonly", grpc::StatusCode::OK}};
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(result.results(i).id(), want[i].first);
      EXPECT_EQ(result.results(i).code(), static_cast<int>(want[i].second))
          << "MultiInsert item " << i << " (" << want[i].first << ") answered " << CodeName(result.results(i).code())
          << " '" << result.results(i).message() << "', want " << CodeName(want[i].second);
    }
    for (const auto* id : {"mi-new", "mi-same", "mi-diff", "mi-bonly"}) {
      ExpectStored(std::string("MultiInsert ") + id, id, {V(1), V(1), V(1)}, "", std::nullopt);
    }
  }
  // MultiUpdate: missing everywhere (inserted); identical everywhere;
  // changed, missing at c.
  Seed("mu-same", {{kA, Op::kInsert, V(1)}});
  Seed("mu-change", {{kA, Op::kInsert, V(1)}, {kC, Op::kRemove}});
  if (HasFatalFailure()) return;
  {
    v1::MultiUpdateRequest request;
    for (const auto& [id, v] : std::vector<std::pair<std::string, std::vector<float>>>{
             {"mu-missing", V(4)}, {"mu-same", V(1)}, {"mu-change", V(4)}}) {
      *request.add_requests()->mutable_object() = Obj(id, v);
    }
    v1::MultiWriteResult result;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(15));
    const grpc::Status s = a_->client(0)->MultiUpdate(&context, request, &result);
    ASSERT_TRUE(s.ok()) << "MultiUpdate: " << Describe(s);
    ASSERT_EQ(result.results_size(), 3) << result.DebugString();
    const std::vector<grpc::StatusCode> want = {grpc::StatusCode::OK, grpc::StatusCode::ALREADY_EXISTS,
                                                grpc::StatusCode::OK};
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(result.results(i).code(), static_cast<int>(want[i]))
          << "MultiUpdate item " << i << " (" << result.results(i).id() << ") answered "
          << CodeName(result.results(i).code()) << " '" << result.results(i).message() << "', want "
          << CodeName(want[i]);
    }
    ExpectStored("MultiUpdate mu-missing", "mu-missing", {V(4), V(4), V(4)}, "", std::nullopt);
    ExpectStored("MultiUpdate mu-same", "mu-same", {V(1), V(1), V(1)}, "", std::nullopt);
    ExpectStored("MultiUpdate mu-change", "mu-change", {V(4), V(4), V(4)}, "", std::nullopt);
  }
  // MultiRemove: missing everywhere; present at b only; present everywhere.
  Seed("mr-bonly", {{kB, Op::kInsert, V(1)}});
  Seed("mr-all", {{kA, Op::kInsert, V(1)}});
  if (HasFatalFailure()) return;
  {
    v1::MultiRemoveRequest request;
    for (const auto* id : {"mr-missing", "mr-bonly", "mr-all"}) request.add_requests()->set_id(id);
    v1::MultiWriteResult result;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(15));
    const grpc::Status s = a_->client(0)->MultiRemove(&context, request, &result);
    ASSERT_TRUE(s.ok()) << "MultiRemove: " << Describe(s);
    ASSERT_EQ(result.results_size(), 3) << result.DebugString();
    const std::vector<grpc::StatusCode> want = {grpc::StatusCode::NOT_FOUND, grpc::StatusCode::OK,
                                                grpc::StatusCode::OK};
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(result.results(i).code(), static_cast<int>(want[i]))
          << "MultiRemove item " << i << " (" << result.results(i).id() << ") answered "
          << CodeName(result.results(i).code()) << " '" << result.results(i).message() << "', want "
          << CodeName(want[i]);
    }
    for (const auto* id : {"mr-missing", "mr-bonly", "mr-all"}) {
      ExpectStored(std::string("MultiRemove ") + id, id, std::array<std::vector<float>, 3>{}, "", std::nullopt);
    }
  }
}

// A mirrored Remove of an id a peer does not have answers NOT_FOUND there
// and still leaves a tombstone: an insert older than the remove, made at the
// peer afterwards, is not applied; a newer one is.
TEST_F(MirrorSync, MirroredRemoveOfMissingIdLeavesATombstoneAtThePeer) {
  const int64_t now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t removed_at = now_ns;
  auto out = Write(*a_, 0, Op::kRemove, Obj("tomb", {}, "", removed_at));
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(out.status);
  for (int k : {kB, kC}) {
    auto late = Write(at(k), 0, Op::kInsert, Obj("tomb", V(1), "", removed_at - 1000));
    EXPECT_TRUE(late.status.ok()) << kNames[k] << ": an insert older than the tombstone answers OK (not applied): "
                                  << Describe(late.status);
    EXPECT_EQ(CheckStored(at(k), 0, kNames[k], "tomb", {}, ""), "")
        << "the mirrored remove left no tombstone at " << kNames[k];
    auto newer = Write(at(k), 0, Op::kInsert, Obj("tomb", V(2), "", removed_at + 1000));
    EXPECT_TRUE(newer.status.ok()) << Describe(newer.status);
    EXPECT_EQ(CheckStored(at(k), 0, kNames[k], "tomb", V(2), ""), "");
  }
}

// A peer that is down: its code (UNAVAILABLE) is returned, the write is
// applied locally and at the peer that is up.
TEST_F(MirrorSync, PeerDownReturnsItsCodeAfterTheLocalWrite) {
  ASSERT_OK(c_->Stop(0));
  const auto before = steady_clock::now();
  auto out = Write(*a_, 0, Op::kInsert, Obj("down-1", V(5)), seconds(20));
  std::cout << "insert with c down answered " << Describe(out.status) << " after "
            << std::chrono::duration_cast<milliseconds>(steady_clock::now() - before).count() << " ms" << std::endl;
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAVAILABLE) << Describe(out.status);
  EXPECT_EQ(CheckStored(*a_, 0, "a", "down-1", V(5), ""), "");
  EXPECT_EQ(CheckStored(*b_, 0, "b", "down-1", V(5), ""), "");
}

// A peer with another index.dimension rejects the vector: its
// INVALID_ARGUMENT is returned; a and b (same dimension) store the write.
TEST(MirrorSyncDimension, PeerWithAnotherDimensionReturnsInvalidArgument) {
  Cluster a({.size = 1, .dimension = kDimension, .cluster = "a"});
  Cluster b({.size = 1, .dimension = kDimension, .cluster = "b"});
  Cluster d({.size = 1, .dimension = 2 * kDimension, .cluster = "d"});
  a.AddArgs(MirrorArgs("sync", {TargetSpec("b", b), TargetSpec("d", d)}));
  ASSERT_OK(b.StartAll());
  ASSERT_OK(d.StartAll());
  ASSERT_OK(a.StartAll());
  auto out = Write(a, 0, Op::kInsert, Obj("dim-1", V(1)));
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(out.status);
  EXPECT_EQ(CheckStored(a, 0, "a", "dim-1", V(1), ""), "");
  EXPECT_EQ(CheckStored(b, 0, "b", "dim-1", V(1), ""), "");
  EXPECT_EQ(CheckStored(d, 0, "d", "dim-1", {}, ""), "");
}

// ===========================================================================
// 2. Async: peer b stopped for 10 s while a takes a paced load; after b
// restarts every acknowledged write reaches it with nothing done by hand.
TEST(MirrorAsync, PeerDownTenSecondsUnderLoad) {
  Cluster a({.size = 1, .dimension = kDimension, .cluster = "a"});
  Cluster b({.size = 1, .dimension = kDimension, .cluster = "b"});
  a.AddArgs(MirrorArgs("async", {TargetSpec("b", b)}));
  ASSERT_OK(b.StartAll());
  ASSERT_OK(a.StartAll());

  PacedWriter load(a, {.member = 0, .prefix = "load-", .max_writes = 6000, .rate = 300,
                       .time_limit = seconds(40), .seed = 2});
  ASSERT_TRUE(load.WaitAcked(100, seconds(20))) << "only " << load.acked() << " acks" << JoinLines(load.failures());
  ASSERT_OK(a.WaitForState(
      0,
      [](const v1::GetStateResponse& s) {
        const auto* p = FindPeer(s, "b");
        return p && p->connected() && p->delivered_writes() > 0;
      },
      seconds(20), "delivering to b"));

  ASSERT_OK(b.Stop(0));
  const auto outage_end = steady_clock::now() + seconds(10);
  const uint64_t acked_at_stop = load.acked();
  // The sender sees the outage: disconnected, an error, a growing lag.
  Status seen = a.WaitForState(
      0,
      [](const v1::GetStateResponse& s) {
        const auto* p = FindPeer(s, "b");
        return p && !p->connected() && !p->last_error().empty() && p->lag_entries() > 0;
      },
      seconds(9), "b disconnected with a lag");
  EXPECT_OK_STATUS(seen);
  // /metrics shows the growing lag too (not a value left from before the
  // outage): at 300 writes/s, 300 entries and 1 s within the 10 s.
  double lag_entries = 0, lag_seconds = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        lag_entries = GatewayMetric(a, 0, "baton_mirror_lag_entries", {{"target", "b"}});
        lag_seconds = GatewayMetric(a, 0, "baton_mirror_lag_seconds", {{"target", "b"}});
        return lag_entries >= 300 && lag_seconds >= 1.0;
      },
      seconds(9), milliseconds(100)))
      << "while b is down, baton_mirror_lag_entries{target=\"b\"} = " << lag_entries
      << ", baton_mirror_lag_seconds = " << lag_seconds << "; GetState: "
      << (a.GetState(0).ok() ? DescribeMirror(*a.GetState(0)) : std::string("-"));
  // The outage lasts 10 s (a duration of the scenario, not a synchronisation).
  WaitFor([&] { return steady_clock::now() >= outage_end; }, seconds(12), milliseconds(100));
  const uint64_t acked_during = load.acked() - acked_at_stop;
  std::cout << acked_during << " writes acknowledged while b was down" << std::endl;
  EXPECT_GT(acked_during, 500u) << "a should keep taking writes while its peer is down";

  ASSERT_OK(b.Start(0));
  // Some more load after b is back, then the load ends.
  EXPECT_TRUE(load.WaitAcked(load.acked() + 100, seconds(20)));
  load.Finish();
  EXPECT_TRUE(load.failures().empty()) << JoinLines(load.failures());
  const auto acked = load.acked_writes();

  ASSERT_OK(WaitConverged({{"a", &a, 0, 1}, {"b", &b, 0, 0}}, seconds(90)));
  std::vector<std::string> problems;
  for (const auto& [id, w] : acked) {
    auto got = b.GetObject(0, id, seconds(5));
    if (!got.status.ok()) {
      problems.push_back(id + ": " + Describe(got.status));
    } else if (std::vector<float>(got.object.vector().begin(), got.object.vector().end()) != w.vector ||
               got.object.timestamp() != w.timestamp) {
      problems.push_back(id + ": another version on b (timestamp " + std::to_string(got.object.timestamp()) +
                         ", acked " + std::to_string(w.timestamp) + ")");
    }
    if (problems.size() >= 10) break;
  }
  EXPECT_TRUE(problems.empty()) << "acknowledged writes missing on b:" << JoinLines(problems);
  ASSERT_OK_AND_ASSIGN(state_a, a.GetState(0));
  ASSERT_OK_AND_ASSIGN(state_b, b.GetState(0));
  EXPECT_EQ(state_b.object_count(), acked.size());
  const auto* peer = FindPeer(state_a, "b");
  ASSERT_NE(peer, nullptr) << DescribeMirror(state_a);
  EXPECT_TRUE(peer->connected()) << DescribeMirror(state_a);
  EXPECT_EQ(peer->last_error(), "") << DescribeMirror(state_a);
  EXPECT_EQ(peer->cluster(), "b");
  EXPECT_EQ(peer->address(), b.address(0));
  EXPECT_GE(peer->delivered_writes(), acked.size()) << DescribeMirror(state_a);
  // Applied since b's restart: at least the writes it missed.
  EXPECT_GE(Applied(state_b, "a"), acked_during) << DescribeMirror(state_b);
  // Metrics of both sides.
  EXPECT_GT(GatewayMetric(a, 0, "baton_mirror_delivery_errors_total", {{"target", "b"}}), 0);
  EXPECT_GE(GatewayMetric(a, 0, "baton_mirror_delivered_total", {{"target", "b"}}), static_cast<double>(acked.size()));
  EXPECT_EQ(GatewayMetric(a, 0, "baton_mirror_lag_entries", {{"target", "b"}}), 0);
  EXPECT_GE(GatewayMetric(b, 0, "baton_mirror_applied_total", {{"origin", "a"}}), static_cast<double>(acked_during));
}

// ===========================================================================
// 3. SIGKILL of a's active while it writes and its cursor lags (b stopped
// with SIGSTOP); the promoted standby carries on from the replicated cursor
// and b ends with every write a acknowledged.
TEST(MirrorFailover, PromotedStandbyCarriesOnFromTheReplicatedCursor) {
  Cluster a({.size = 2, .dimension = kDimension, .cluster = "a"});
  Cluster b({.size = 1, .dimension = kDimension, .cluster = "b"});
  a.AddArgs(MirrorArgs("async", {TargetSpec("b", b)}));
  ASSERT_OK(b.StartAll());
  ASSERT_OK(a.StartAll());
  ASSERT_OK(a.AssignActiveWithStandbys(0, {1}, 1, 1));

  FollowingWriter writer(a, {.dimension = kDimension, .rpc_timeout = milliseconds(2000), .max_writes = 5000});
  writer.Start(0);
  ASSERT_TRUE(writer.WaitForMoreAcks(300, seconds(30))) << writer.last_error();
  // The first writes reach b (so the cursor has moved and was logged).
  ASSERT_OK(a.WaitForState(
      0,
      [](const v1::GetStateResponse& s) {
        const auto* p = FindPeer(s, "b");
        return p && p->delivered_writes() >= 300;
      },
      seconds(30), "300 writes delivered to b"));

  // b stalls: a's cursor stops while a keeps acknowledging writes.
  ASSERT_OK(b.Pause(0));
  ASSERT_TRUE(writer.WaitForMoreAcks(300, seconds(30))) << writer.last_error();
  ASSERT_OK(a.WaitForState(
      0,
      [](const v1::GetStateResponse& s) {
        const auto* p = FindPeer(s, "b");
        return p && p->lag_entries() >= 100;
      },
      seconds(20), "a lag towards b"));
  ASSERT_OK(a.Kill(0));  // mid-stream: the writer is still writing
  const uint64_t acked_at_kill = writer.ack_count();

  // Promote the standby at epoch 2 with the same targets (in the assignment
  // too, as an arbiter would send them).
  v1::Assignment promote =
      a.MakeAssignment(1, Cluster::Spec{.role = v1::ROLE_ACTIVE, .epoch = 2, .active = 1});
  *promote.add_mirror_targets() = TargetProto("b", b);
  ASSERT_OK(a.AssignRaw(1, promote));
  ASSERT_OK(b.Resume(0));
  ASSERT_TRUE(writer.WaitForMoreAcks(200, seconds(30))) << writer.last_error();
  writer.Stop();
  const auto acks = writer.acks();
  std::cout << acks.size() << " writes acknowledged (" << acked_at_kill << " before the kill), " << writer.failures()
            << " failed attempts" << std::endl;

  ASSERT_OK(WaitConverged({{"a", &a, 1, 1}, {"b", &b, 0, 0}}, seconds(60)));
  const auto missing = MissingAcks(b, 0, acks);
  EXPECT_TRUE(missing.empty()) << JoinLines(missing);
  ASSERT_OK_AND_ASSIGN(state_a, a.GetState(1));
  ASSERT_OK_AND_ASSIGN(state_b, b.GetState(0));
  EXPECT_EQ(state_a.role(), v1::ROLE_ACTIVE);
  EXPECT_EQ(state_b.digest(), state_a.digest());
  // Every object of a is an upsert of a fresh id applied once at b (a
  // re-sent write is not newer than what b stores, so not applied again).
  EXPECT_EQ(Applied(state_b, "a"), state_a.object_count()) << DescribeMirror(state_b) << "\n" << DescribeMirror(state_a);
  // The promoted sender started from the replicated cursor, not from the
  // beginning of the log: the first 300 writes were delivered before b
  // stalled, and the cursor covering them was logged (and replicated to the
  // sync standby) long before the kill.
  const auto* peer = FindPeer(state_a, "b");
  ASSERT_NE(peer, nullptr) << DescribeMirror(state_a);
  std::cout << "promoted standby: " << DescribeMirror(state_a) << "\nb: " << DescribeMirror(state_b) << std::endl;
  EXPECT_LE(peer->delivered_writes() + 200, state_a.object_count())
      << "the promoted standby re-sent (nearly) everything: " << DescribeMirror(state_a);
}

// ===========================================================================
// 4-6. A full mesh of three clusters: each names all three in mirror.targets
// (its own cluster is ignored), async.
class MirrorMesh : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int k = 0; k < 3; ++k) {
      clusters_[k] = std::make_unique<Cluster>(
          Cluster::Options{.size = 1, .dimension = kDimension, .cluster = kNames[k]});
    }
    const std::vector<std::string> targets = {TargetSpec("a", *clusters_[kA]), TargetSpec("b", *clusters_[kB]),
                                              TargetSpec("c", *clusters_[kC])};
    for (auto& c : clusters_) c->AddArgs(MirrorArgs("async", targets));
    for (auto& c : clusters_) ASSERT_OK(c->StartAll());
  }

  Cluster& at(int k) { return *clusters_[k]; }
  std::vector<Node> nodes() {
    return {{"a", clusters_[kA].get(), 0, 2}, {"b", clusters_[kB].get(), 0, 2}, {"c", clusters_[kC].get(), 0, 2}};
  }

  std::array<std::unique_ptr<Cluster>, 3> clusters_;
};

// 4. The same ids written concurrently in a and b converge to one store in
// all three clusters.
TEST_F(MirrorMesh, ConcurrentWritesToTheSameIdsConverge) {
  constexpr int kKeys = 40;
  PacedWriter in_a(at(kA), {.member = 0, .prefix = "x", .max_writes = 600, .rate = 150, .time_limit = seconds(10),
                            .key_space = kKeys, .seed = 11});
  PacedWriter in_b(at(kB), {.member = 0, .prefix = "x", .max_writes = 600, .rate = 150, .time_limit = seconds(10),
                            .key_space = kKeys, .seed = 12});
  EXPECT_TRUE(in_a.WaitDone(seconds(30)));
  EXPECT_TRUE(in_b.WaitDone(seconds(30)));
  in_a.Finish();
  in_b.Finish();
  EXPECT_TRUE(in_a.failures().empty()) << JoinLines(in_a.failures());
  EXPECT_TRUE(in_b.failures().empty()) << JoinLines(in_b.failures());
  std::cout << in_a.acked() << " writes in a, " << in_b.acked() << " in b" << std::endl;
  EXPECT_GT(in_a.acked(), 100u);
  EXPECT_GT(in_b.acked(), 100u);

  ASSERT_OK(WaitConverged(nodes(), seconds(60)));
  // Object by object: the same version (vector, metadata, timestamp) or
  // absent everywhere.
  std::vector<std::string> diffs;
  for (int key = 0; key < kKeys; ++key) {
    const std::string id = "xk" + std::to_string(key);
    std::array<Cluster::Outcome, 3> got;
    for (int k = 0; k < 3; ++k) got[k] = at(k).GetObject(0, id);
    for (int k = 1; k < 3; ++k) {
      const bool same = got[k].status.error_code() == got[0].status.error_code() &&
                        (!got[0].status.ok() || (got[k].object.SerializeAsString() == got[0].object.SerializeAsString()));
      if (!same) {
        diffs.push_back(id + ": a " + Describe(got[0].status) + " ts " + std::to_string(got[0].object.timestamp()) +
                        ", " + kNames[k] + " " + Describe(got[k].status) + " ts " +
                        std::to_string(got[k].object.timestamp()));
      }
    }
  }
  EXPECT_TRUE(diffs.empty()) << JoinLines(diffs);
}

// 5. Remove in a; an insert with an older timestamp arriving later from b
// does not bring the object back anywhere.
TEST_F(MirrorMesh, OlderInsertArrivingAfterARemoveDoesNotResurrect) {
  // (i) b already has the remove: its own older insert is not applied.
  auto ins = Write(at(kA), 0, Op::kInsert, Obj("r1", V(1)));
  ASSERT_TRUE(ins.status.ok()) << Describe(ins.status);
  ASSERT_OK(WaitConverged(nodes(), seconds(30)));
  auto rem = Write(at(kA), 0, Op::kRemove, Obj("r1", {}));
  ASSERT_TRUE(rem.status.ok()) << Describe(rem.status);
  ASSERT_OK(WaitConverged(nodes(), seconds(30)));
  ASSERT_GT(rem.result.timestamp(), ins.result.timestamp() + 1);
  const int64_t older = ins.result.timestamp() + (rem.result.timestamp() - ins.result.timestamp()) / 2;
  auto late = Write(at(kB), 0, Op::kInsert, Obj("r1", V(2), "", older));
  EXPECT_TRUE(late.status.ok()) << "an insert older than the tombstone answers OK (not applied): "
                                << Describe(late.status);
  EXPECT_EQ(late.result.timestamp(), rem.result.timestamp()) << "answers with the tombstone's timestamp";
  ASSERT_OK(WaitConverged(nodes(), seconds(30)));
  for (int k = 0; k < 3; ++k) EXPECT_EQ(CheckStored(at(k), 0, kNames[k], "r1", {}, ""), "");

  // (ii) b applies its older insert before a's remove reaches it: b down
  // while a removes, a stopped (SIGSTOP) while b comes back and inserts.
  ins = Write(at(kA), 0, Op::kInsert, Obj("r2", V(1)));
  ASSERT_TRUE(ins.status.ok()) << Describe(ins.status);
  ASSERT_OK(WaitConverged(nodes(), seconds(30)));
  ASSERT_OK(at(kB).Stop(0));
  rem = Write(at(kA), 0, Op::kRemove, Obj("r2", {}));
  ASSERT_TRUE(rem.status.ok()) << Describe(rem.status);
  ASSERT_TRUE(WaitFor([&] { return CheckStored(at(kC), 0, "c", "r2", {}, "").empty(); }, seconds(20)))
      << "a's remove did not reach c";
  ASSERT_OK(at(kA).Pause(0));
  ASSERT_OK(at(kB).Start(0));
  ASSERT_GT(rem.result.timestamp(), ins.result.timestamp() + 1);
  const int64_t older2 = ins.result.timestamp() + (rem.result.timestamp() - ins.result.timestamp()) / 2;
  // b still has r2 at the first version: an upsert older than a's remove
  // but newer than that version applies at b.
  late = Write(at(kB), 0, Op::kUpsert, Obj("r2", V(2), "", older2));
  EXPECT_TRUE(late.status.ok()) << Describe(late.status);
  EXPECT_EQ(CheckStored(at(kB), 0, "b", "r2", V(2), ""), "") << "b should have applied its own newer upsert";
  ASSERT_OK(at(kA).Resume(0));
  ASSERT_OK(WaitConverged(nodes(), seconds(60)));
  for (int k = 0; k < 3; ++k) EXPECT_EQ(CheckStored(at(k), 0, kNames[k], "r2", {}, ""), "");
}

// 6. Each write is applied exactly once per cluster, and senders deliver
// only their own cluster's writes (no echo).
TEST_F(MirrorMesh, EachWriteAppliedOncePerClusterNoEcho) {
  constexpr int kN = 150, kM = 90;
  PacedWriter in_a(at(kA), {.member = 0, .prefix = "na-", .max_writes = kN, .rate = 200, .time_limit = seconds(40),
                            .seed = 21});
  PacedWriter in_b(at(kB), {.member = 0, .prefix = "nb-", .max_writes = kM, .rate = 200, .time_limit = seconds(40),
                            .seed = 22});
  ASSERT_TRUE(in_a.WaitDone(seconds(60)));
  ASSERT_TRUE(in_b.WaitDone(seconds(60)));
  in_a.Finish();
  in_b.Finish();
  ASSERT_TRUE(in_a.failures().empty()) << JoinLines(in_a.failures());
  ASSERT_TRUE(in_b.failures().empty()) << JoinLines(in_b.failures());
  ASSERT_EQ(in_a.acked(), static_cast<uint64_t>(kN));
  ASSERT_EQ(in_b.acked(), static_cast<uint64_t>(kM));

  ASSERT_OK(WaitConverged(nodes(), seconds(60)));
  std::array<v1::GetStateResponse, 3> s;
  for (int k = 0; k < 3; ++k) {
    auto state = at(k).GetState(0);
    ASSERT_TRUE(state.ok()) << state.status();
    s[k] = *state;
  }
  const std::string all = "\n  a: " + DescribeMirror(s[kA]) + "\n  b: " + DescribeMirror(s[kB]) +
                          "\n  c: " + DescribeMirror(s[kC]);
  EXPECT_EQ(s[kA].object_count(), static_cast<uint64_t>(kN + kM)) << all;
  // Applied here, by origin: each peer's writes once, never our own.
  const std::map<std::string, uint64_t> want_applied[3] = {{{"b", kM}}, {{"a", kN}}, {{"a", kN}, {"b", kM}}};
  for (int k = 0; k < 3; ++k) {
    for (const char* origin : {"a", "b", "c"}) {
      auto it = want_applied[k].find(origin);
      const uint64_t want = it == want_applied[k].end() ? 0 : it->second;
      EXPECT_EQ(Applied(s[k], origin), want) << kNames[k] << ".mirror_applied[" << origin << "]" << all;
      EXPECT_EQ(Counter(at(k), 0, "baton_mirror_applied_total", {{"origin", origin}}), static_cast<double>(want))
          << kNames[k] << " baton_mirror_applied_total{origin=\"" << origin << "\"}";
    }
  }
  // Each sender delivered exactly its own cluster's writes; own cluster is
  // not a target.
  const uint64_t originated[3] = {kN, kM, 0};
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(s[k].mirror_peers_size(), 2) << all;
    for (const auto& p : s[k].mirror_peers()) {
      EXPECT_NE(p.cluster(), kNames[k]) << kNames[k] << " mirrors to itself" << all;
      EXPECT_EQ(p.delivered_writes(), originated[k])
          << kNames[k] << " -> " << p.target() << " delivered_writes" << all;
      // `connected` says the last delivery reached the peer: a sender with
      // nothing to deliver (c's) may not have tried yet.
      if (originated[k] > 0) {
        EXPECT_TRUE(p.connected()) << all;
      }
      EXPECT_EQ(p.last_error(), "") << all;
      EXPECT_EQ(Counter(at(k), 0, "baton_mirror_delivered_total", {{"target", p.target()}}),
                static_cast<double>(originated[k]))
          << kNames[k] << " baton_mirror_delivered_total{target=\"" << p.target() << "\"}";
      EXPECT_EQ(GatewayMetric(at(k), 0, "baton_mirror_lag_entries", {{"target", p.target()}}), 0)
          << kNames[k] << " baton_mirror_lag_entries{target=\"" << p.target() << "\"}";
    }
  }
}

}  // namespace
}  // namespace baton::testing
