// The history checker (tests/chaos/checker.h) on hand-made histories: each
// violation it exists to find is found, naming the keys involved, and what
// the design allows is accepted and counted. Two clusters c1 (g1, g2) and
// c2 (g3); times in ms from an origin.
#include "tests/chaos/checker.h"

#include <gtest/gtest.h>

#include "tests/chaos/client.h"

namespace baton::chaos {
namespace {

using std::chrono::milliseconds;

class Scenario {
 public:
  Scenario() {
    in_.cluster_names = {"c1", "c2"};
    in_.gateway_names = {"g1", "g2", "g3"};
    in_.gateway_cluster = {0, 0, 1};
    in_.origin = SteadyTime{} + std::chrono::hours(1);
    in_.final_state.resize(2);
    in_.final_digests = {std::make_pair(7, 1), std::make_pair(7, 1), std::make_pair(7, 1)};
    // By default g1 is c1's active at epoch 1 and g3 c2's at epoch 1, for
    // the whole history; g2 is a standby.
    Serve(0, 0, 10000, v1::ROLE_ACTIVE, 1);
    Serve(1, 0, 10000, v1::ROLE_STANDBY, 1);
    Serve(2, 0, 10000, v1::ROLE_ACTIVE, 1);
  }

  SteadyTime At(int ms) const { return in_.origin + milliseconds(ms); }

  // GetState answers of gateway g every 10 ms in [from, to).
  void Serve(int g, int from, int to, v1::Role role, uint64_t epoch, int64_t lease_ms = 500) {
    auto& obs = in_.gateway_observations;
    obs.erase(std::remove_if(obs.begin(), obs.end(),
                             [&](const GatewayObservation& o) {
                               return o.gateway == g && o.sent >= At(from) && o.sent < At(to);
                             }),
              obs.end());
    for (int t = from; t < to; t += 10) {
      obs.push_back(GatewayObservation{g, At(t), At(t + 1), true, role, epoch,
                                       role == v1::ROLE_ACTIVE ? lease_ms : 0, false});
    }
    std::sort(obs.begin(), obs.end(), [](const auto& a, const auto& b) { return a.sent < b.sent; });
  }

  // A write: the key, its tag, [from, to] ms, outcome, timestamp, gateway.
  Op& Write(OpType type, const std::string& key, const std::string& tag, int from, int to, Outcome outcome,
            int64_t ts = 0, int gateway = 0) {
    Op op;
    op.index = in_.ops.size();
    op.type = type;
    op.key = key;
    op.tag = tag;
    op.invoked = At(from);
    op.completed = At(to);
    op.outcome = outcome;
    op.timestamp = outcome == Outcome::kOk ? ts : 0;
    op.gateway = gateway;
    op.cluster = in_.gateway_cluster[gateway];
    in_.ops.push_back(op);
    return in_.ops.back();
  }
  Op& Read(const std::string& key, int from, int to, const std::string& tag, int64_t ts, int gateway = 0) {
    Op op;
    op.index = in_.ops.size();
    op.type = OpType::kGet;
    op.key = key;
    op.invoked = At(from);
    op.completed = At(to);
    op.outcome = Outcome::kOk;
    op.found = !tag.empty();
    op.read_tag = tag;
    op.timestamp = ts;
    op.gateway = gateway;
    op.cluster = in_.gateway_cluster[gateway];
    in_.ops.push_back(op);
    return in_.ops.back();
  }
  void Final(const std::string& key, const std::string& tag, int64_t ts) {
    if (std::find(in_.keys.begin(), in_.keys.end(), key) == in_.keys.end()) in_.keys.push_back(key);
    for (auto& cluster : in_.final_state) {
      if (tag.empty()) {
        cluster.erase(key);
      } else {
        cluster[key] = FinalObject{true, tag, ts, true};
      }
    }
  }

  CheckReport Run() { return Check(in_); }
  CheckInput& input() { return in_; }

 private:
  CheckInput in_;
};

std::string All(const CheckReport& r) {
  std::string text;
  for (const auto& v : r.violations) text += "\n  " + v;
  return text;
}

bool HasViolation(const CheckReport& r, const std::string& part) {
  for (const auto& v : r.violations) {
    if (v.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(ChaosChecker, ACleanHistoryPasses) {
  Scenario h;
  h.Write(OpType::kInsert, "k", "t1", 100, 110, Outcome::kOk, 1000);
  h.Read("k", 120, 125, "t1", 1000);
  h.Write(OpType::kUpsert, "k", "t2", 130, 140, Outcome::kOk, 2000, 2);  // c2, mirrored to c1
  h.Write(OpType::kRemove, "j", "t3", 130, 140, Outcome::kFail);          // NOT_FOUND
  h.Final("k", "t2", 2000);
  h.Final("j", "", 0);
  CheckReport r = h.Run();
  EXPECT_TRUE(r.ok()) << All(r);
  EXPECT_EQ(h.input().ops[0].epoch, 1u) << "resolved from the observations around it";
}

TEST(ChaosChecker, AnAcknowledgedWriteMissingFromTheFinalStateIsLost) {
  Scenario h;
  h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000);
  h.Write(OpType::kUpsert, "k", "t2", 200, 210, Outcome::kOk, 2000);
  h.Final("k", "t1", 1000);
  CheckReport r = h.Run();
  EXPECT_TRUE(HasViolation(r, "upsert t2 (2000, c1) is lost")) << All(r);
  EXPECT_EQ(r.keys, std::set<std::string>{"k"});
}

TEST(ChaosChecker, AnAbsentKeyNeedsARemove) {
  {
    Scenario h;
    h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000);
    h.Final("k", "", 0);
    EXPECT_TRUE(HasViolation(h.Run(), "is absent and no remove explains it"));
  }
  {
    Scenario h;  // an acknowledged remove after it: fine
    h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000);
    h.Write(OpType::kRemove, "k", "t2", 120, 130, Outcome::kOk, 1100);
    h.Final("k", "", 0);
    CheckReport r = h.Run();
    EXPECT_TRUE(r.ok()) << All(r);
  }
  {
    Scenario h;  // only a remove of unknown outcome: allowed, counted
    h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000);
    h.Write(OpType::kRemove, "k", "t2", 50, 1050, Outcome::kUnknown);
    h.Final("k", "", 0);
    CheckReport r = h.Run();
    EXPECT_TRUE(r.ok()) << All(r);
    EXPECT_EQ(r.allowed["final absence explained only by a remove of unknown outcome"], 2u) << "once per cluster";
  }
  {
    Scenario h;  // an acknowledged remove that an older value came back over
    h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000);
    h.Write(OpType::kRemove, "k", "t2", 120, 130, Outcome::kOk, 1100);
    h.Final("k", "t1", 1000);
    EXPECT_TRUE(HasViolation(h.Run(), "remove t2 (1100, c1) is lost"));
  }
}

TEST(ChaosChecker, LastWriterWinsBreaksTiesByOriginCluster) {
  Scenario h;
  h.Write(OpType::kUpsert, "k", "a", 100, 110, Outcome::kOk, 5000, 0);  // c1
  h.Write(OpType::kUpsert, "k", "b", 100, 110, Outcome::kOk, 5000, 2);  // c2 wins the tie
  h.Final("k", "a", 5000);
  EXPECT_TRUE(HasViolation(h.Run(), "upsert b (5000, c2) is lost"));
  h.Final("k", "b", 5000);
  CheckReport r = h.Run();
  EXPECT_TRUE(r.ok()) << All(r);
}

TEST(ChaosChecker, FinalValuesComeFromWritesThatMayHaveHappened) {
  {
    Scenario h;  // unknown outcome, newer: allowed
    h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000);
    h.Write(OpType::kUpsert, "k", "t2", 200, 1200, Outcome::kUnknown);
    h.Final("k", "t2", 1500);
    CheckReport r = h.Run();
    EXPECT_TRUE(r.ok()) << All(r);
    EXPECT_EQ(r.allowed["final value from a write of unknown outcome"], 2u);
  }
  {
    Scenario h;  // certainly failed
    h.Write(OpType::kInsert, "k", "t1", 100, 110, Outcome::kFail);
    h.Final("k", "t1", 1000);
    EXPECT_TRUE(HasViolation(h.Run(), "certainly failed"));
  }
  {
    Scenario h;  // never written
    h.Final("k", "ghost", 1000);
    EXPECT_TRUE(HasViolation(h.Run(), "no client wrote"));
  }
  {
    Scenario h;  // the ack's timestamp is not the stored one
    h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000);
    h.Final("k", "t1", 999);
    EXPECT_TRUE(HasViolation(h.Run(), "but its ack said 1000"));
  }
}

TEST(ChaosChecker, ClustersAndDigestsMustAgree) {
  Scenario h;
  h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000);
  h.Write(OpType::kUpsert, "k", "t2", 100, 1110, Outcome::kUnknown);
  h.Final("k", "t1", 1000);
  h.input().final_state[1]["k"] = FinalObject{true, "t2", 1200, true};
  h.input().final_digests[2] = std::make_pair(8, 1);
  CheckReport r = h.Run();
  EXPECT_TRUE(HasViolation(r, "clusters disagree on k")) << All(r);
  EXPECT_TRUE(HasViolation(r, "digests differ at the end: g1 has 7 (1 objects), g3 has 8")) << All(r);
}

TEST(ChaosChecker, ReadsReturnOnlyWhatWasWritten) {
  Scenario h;
  h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000);
  h.Write(OpType::kInsert, "k", "t2", 120, 130, Outcome::kFail);
  h.Write(OpType::kUpsert, "k", "t3", 500, 510, Outcome::kOk, 3000);
  h.Final("k", "t3", 3000);
  h.Read("k", 200, 205, "ghost", 1);
  h.Read("k", 210, 215, "t2", 1100);
  h.Read("k", 220, 225, "t3", 3000);  // from the future
  h.Read("k", 230, 235, "t1", 1001);  // not the acked timestamp
  CheckReport r = h.Run();
  EXPECT_TRUE(HasViolation(r, "read returned tag 'ghost' that no client wrote")) << All(r);
  EXPECT_TRUE(HasViolation(r, "certainly failed")) << All(r);
  EXPECT_TRUE(HasViolation(r, "invoked after the read completed")) << All(r);
  EXPECT_TRUE(HasViolation(r, "but its ack said 1000")) << All(r);
}

TEST(ChaosChecker, AReadOfAWriteNotYetAcknowledgedIsAllowed) {
  Scenario h;
  h.Write(OpType::kUpsert, "k", "t1", 100, 300, Outcome::kOk, 1000);  // durable, waiting for the standby
  h.Read("k", 150, 155, "t1", 1000);
  h.Final("k", "t1", 1000);
  CheckReport r = h.Run();
  EXPECT_TRUE(r.ok()) << All(r);
  EXPECT_EQ(r.allowed["reads of a write not acknowledged (yet) when the read completed"], 1u);
}

TEST(ChaosChecker, AStaleReadAtTheWritesEpochIsAViolationAtAnOlderEpochIsCounted) {
  {
    Scenario h;
    h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000);
    h.Write(OpType::kUpsert, "k", "t2", 200, 210, Outcome::kOk, 2000);
    h.Read("k", 300, 305, "t1", 1000);
    h.Final("k", "t2", 2000);
    CheckReport r = h.Run();
    EXPECT_TRUE(HasViolation(r, "stale read")) << All(r);
  }
  {
    Scenario h;  // a remove acknowledged, then the object read back
    h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000);
    h.Write(OpType::kRemove, "k", "t2", 200, 210, Outcome::kOk, 2000);
    h.Read("k", 300, 305, "t1", 1000);
    h.Final("k", "", 0);
    EXPECT_TRUE(HasViolation(h.Run(), "stale read"));
  }
  {
    Scenario h;  // g1 deposed at 400 (still thinks it is active at epoch 1), g2 active at epoch 2
    h.Serve(1, 400, 10000, v1::ROLE_ACTIVE, 2);
    h.Serve(0, 400, 10000, v1::ROLE_ACTIVE, 1, 0);
    h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000, 0);
    h.Write(OpType::kUpsert, "k", "t2", 500, 510, Outcome::kOk, 2000, 1);
    h.Read("k", 600, 605, "t1", 1000, 0);
    h.Final("k", "t2", 2000);
    CheckReport r = h.Run();
    EXPECT_TRUE(r.ok()) << All(r);
    EXPECT_EQ(r.allowed["stale reads from a gateway at an older epoch than the write"], 1u);
  }
}

TEST(ChaosChecker, ReadsOfOneGatewayAtOneEpochNeverGoBack) {
  Scenario h;
  h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000, 2);  // c2's, mirrored
  h.Write(OpType::kUpsert, "k", "t2", 120, 130, Outcome::kOk, 2000, 2);
  h.Read("k", 200, 205, "t2", 2000, 0);
  h.Read("k", 210, 215, "t1", 1000, 0);
  h.Final("k", "t2", 2000);
  CheckReport r = h.Run();
  EXPECT_TRUE(HasViolation(r, "non-monotonic read on one gateway at one epoch")) << All(r);
}

TEST(ChaosChecker, EpochChecks) {
  {
    Scenario h;  // two gateways acking at one epoch
    h.Serve(1, 0, 10000, v1::ROLE_ACTIVE, 1);
    h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000, 0);
    h.Write(OpType::kUpsert, "j", "t2", 100, 110, Outcome::kOk, 1001, 1);
    h.Final("k", "t1", 1000);
    h.Final("j", "t2", 1001);
    CheckReport r = h.Run();
    EXPECT_TRUE(HasViolation(r, "two gateways acknowledged writes in c1 at epoch 1")) << All(r);
    EXPECT_EQ(r.keys, (std::set<std::string>{"j", "k"}));
  }
  {
    Scenario h;  // g2 active at epoch 2 acks; then g1 acks a write invoked later at epoch 1
    h.Serve(1, 300, 10000, v1::ROLE_ACTIVE, 2);
    h.Write(OpType::kUpsert, "k", "t1", 400, 410, Outcome::kOk, 1000, 1);
    h.Write(OpType::kUpsert, "j", "t2", 500, 510, Outcome::kOk, 1001, 0);
    h.Final("k", "t1", 1000);
    h.Final("j", "t2", 1001);
    CheckReport r = h.Run();
    EXPECT_TRUE(HasViolation(r, "write acknowledged at epoch 1 was invoked after a write at epoch 2")) << All(r);
    EXPECT_TRUE(HasViolation(r, "g1 reported 500 ms of lease as active at epoch 1")) << All(r);
  }
  {
    Scenario h;  // an epoch going down, on a gateway and in ZooKeeper
    h.Serve(2, 500, 600, v1::ROLE_ACTIVE, 0);
    h.input().cluster_observations = {{0, h.At(10), 3, "g1"}, {0, h.At(20), 2, "g1"}};
    CheckReport r = h.Run();
    EXPECT_TRUE(HasViolation(r, "epoch of g3 went down from 1")) << All(r);
    EXPECT_TRUE(HasViolation(r, "stored epoch of c1 went down from 3 to 2")) << All(r);
  }
}

TEST(ChaosChecker, EpochsResolveOnlyWhenTheSameOnBothSides) {
  Scenario h;
  h.Serve(0, 300, 10000, v1::ROLE_ACTIVE, 2);
  h.Write(OpType::kUpsert, "k", "t1", 100, 110, Outcome::kOk, 1000);  // epoch 1
  h.Write(OpType::kUpsert, "k", "t2", 295, 305, Outcome::kOk, 2000);  // across the change
  h.Write(OpType::kUpsert, "k", "t3", 400, 410, Outcome::kOk, 3000);  // epoch 2
  ResolveEpochs(h.input().ops, h.input().gateway_observations);
  EXPECT_EQ(h.input().ops[0].epoch, 1u);
  EXPECT_EQ(h.input().ops[1].epoch, 0u);
  EXPECT_EQ(h.input().ops[2].epoch, 2u);
}

TEST(ChaosChecker, WriteFailuresAreCertainOnlyWhenNothingWasLogged) {
  EXPECT_EQ(ClassifyWriteFailure(6, "object 'k' already exists"), Outcome::kFail);
  EXPECT_EQ(ClassifyWriteFailure(5, "object 'k' not found"), Outcome::kFail);
  EXPECT_EQ(ClassifyWriteFailure(14, "this gateway is a standby; the active is 10.0.0.1:1"), Outcome::kFail);
  EXPECT_EQ(ClassifyWriteFailure(14, "this gateway has no role yet (waiting for the arbiter)"), Outcome::kFail);
  EXPECT_EQ(ClassifyWriteFailure(14, "failed to connect to all addresses; last error: refused"), Outcome::kFail);
  EXPECT_EQ(ClassifyWriteFailure(9, "the active's lease expired at epoch 3 (fenced until the arbiter renews or "
                                    "reassigns it)"),
            Outcome::kFail);
  EXPECT_EQ(ClassifyWriteFailure(9, "the active's lease expired at epoch 3 before the write could be acknowledged"),
            Outcome::kUnknown);
  EXPECT_EQ(ClassifyWriteFailure(14, "the write is durable here but too few sync standbys confirmed it"),
            Outcome::kUnknown);
  EXPECT_EQ(ClassifyWriteFailure(14, "Socket closed"), Outcome::kUnknown);
  EXPECT_EQ(ClassifyWriteFailure(4, "Deadline Exceeded"), Outcome::kUnknown);
}

}  // namespace
}  // namespace baton::chaos
