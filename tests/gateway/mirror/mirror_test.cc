// Two gateways of different clusters in one process, mirroring over real
// gRPC (docs/mirroring.md): delivery from the log, the logged cursor after a
// restart, a full resync when the log no longer reaches back, and the
// synchronous mode's aggregated answers. The three-cluster scenarios with
// real processes are in tests/integration/mirror_test.cc.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gateway/gateway_server.h"
#include "tests/gateway/gateway_test_util.h"
#include "tests/gateway/log/wal_test_util.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_util.h"

namespace baton::gateway::testing {
namespace {

using baton::testing::TempDir;
using baton::testing::WaitFor;
using namespace std::chrono_literals;

constexpr auto kDeadline = 30s;

class MirrorTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (a_) a_->Stop();
    if (b_) b_->Stop();
  }

  void StartB(const Flags& extra = {}) {
    Flags flags{{"instance.cluster", "b"}, {"instance.id", "b1"}};
    flags.insert(flags.end(), extra.begin(), extra.end());
    auto server = GatewayServer::Start(GatewayTestConfig(dir_b_.path(), flags));
    ASSERT_TRUE(server.ok()) << server.status();
    b_ = std::move(server).value();
    b_stub_ = ConnectGateway(b_->grpc_port());
  }

  // A mirrors to B (B must be started once, so that its port is known).
  void StartA(const Flags& extra = {}, bool with_target = true) {
    Flags flags{{"instance.cluster", "a"}, {"instance.id", "a1"}, {"mirror.cursor_interval_ms", "20"}};
    if (with_target) flags.emplace_back("mirror.targets", "b=b@127.0.0.1:" + std::to_string(b_port_));
    flags.insert(flags.end(), extra.begin(), extra.end());
    auto server = GatewayServer::Start(GatewayTestConfig(dir_a_.path(), flags));
    ASSERT_TRUE(server.ok()) << server.status();
    a_ = std::move(server).value();
    a_stub_ = ConnectGateway(a_->grpc_port());
  }

  grpc::Status Insert(v1::Gateway::Stub& stub, const std::string& id, const std::vector<float>& vector) {
    v1::InsertRequest request;
    *request.mutable_object() = MakeObject(id, vector);
    v1::WriteResult result;
    auto context = Ctx();
    return stub.Insert(context.get(), request, &result);
  }

  void InsertMany(const std::string& prefix, int n) {
    v1::MultiInsertRequest request;
    for (int i = 0; i < n; ++i) {
      *request.add_requests()->mutable_object() =
          MakeObject(prefix + std::to_string(i), {static_cast<float>(i), 1, 2, 3});
    }
    v1::MultiWriteResult result;
    auto context = Ctx();
    grpc::Status status = a_stub_->MultiInsert(context.get(), request, &result);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Seq of the last kWrite record in the server's log (0 if none).
  static uint64_t LastWriteSeq(GatewayServer& server) {
    auto records = wal_test::ReadAll(server.wal(), server.wal().first_seq());
    EXPECT_TRUE(records.ok()) << records.status();
    uint64_t last_write = 0;
    if (!records.ok()) return last_write;
    for (const LogRecord& record : *records) {
      if (record.type == RecordType::kWrite) last_write = record.pos.seq;
    }
    return last_write;
  }

  v1::MirrorPeerState PeerState() {
    v1::GetStateResponse state = a_->State();
    EXPECT_EQ(state.mirror_peers_size(), 1);
    return state.mirror_peers_size() > 0 ? state.mirror_peers(0) : v1::MirrorPeerState{};
  }

  TempDir dir_a_;
  TempDir dir_b_;
  std::unique_ptr<GatewayServer> a_;
  std::unique_ptr<GatewayServer> b_;
  std::unique_ptr<v1::Gateway::Stub> a_stub_;
  std::unique_ptr<v1::Gateway::Stub> b_stub_;
  uint16_t b_port_ = 0;
};

TEST_F(MirrorTest, DeliversAndResumesFromTheLoggedCursorAfterARestart) {
  StartB();
  b_port_ = b_->grpc_port();
  StartA();
  InsertMany("x", 50);
  ASSERT_TRUE(WaitFor([&] { return b_->store().size() == 50; }, kDeadline)) << b_->store().size();
  EXPECT_EQ(b_->store().digest(), a_->store().digest());
  // The peer's writes are marked as mirrored, once each.
  EXPECT_EQ(b_->State().mirror_applied().at("a"), 50u);
  // The cursor reaches the log (a kCursor record) once it moved past the
  // writes. It need not cover the cursor records after them (they carry no
  // writes), so the wait is for the last write record, not delivered_seq.
  const uint64_t last_write = LastWriteSeq(*a_);
  ASSERT_GT(last_write, 0u);
  ASSERT_TRUE(WaitFor([&] { return a_->store().mirror_cursors()["b"] >= last_write; }, kDeadline))
      << "cursor " << a_->store().mirror_cursors()["b"] << ", last write " << last_write;

  // After a restart A goes on from its cursor: the 50 writes are not sent again.
  a_->Stop();
  a_.reset();
  StartA();
  InsertMany("y", 10);
  ASSERT_TRUE(WaitFor([&] { return b_->store().size() == 60; }, kDeadline)) << b_->store().size();
  ASSERT_TRUE(WaitFor([&] { return PeerState().lag_entries() == 0; }, kDeadline));
  v1::MirrorPeerState peer = PeerState();
  EXPECT_EQ(peer.delivered_writes(), 10u);
  EXPECT_TRUE(peer.connected());
  EXPECT_EQ(peer.last_error(), "");
  EXPECT_EQ(b_->State().mirror_applied().at("a"), 60u);
  // B does not send A's writes back: it has no target, and they are not its own.
  EXPECT_EQ(a_->State().mirror_applied().count("b"), 0u);
}

TEST_F(MirrorTest, RetriesUntilThePeerReturns) {
  StartB();
  b_port_ = b_->grpc_port();
  b_->Stop();
  b_.reset();
  StartA({{"mirror.timeout_ms", "300"}});
  InsertMany("x", 20);
  ASSERT_TRUE(WaitFor([&] { return !PeerState().last_error().empty(); }, kDeadline));
  EXPECT_FALSE(PeerState().connected());
  EXPECT_GT(PeerState().lag_entries(), 0u);
  // B comes back on the same port: nothing is done by hand.
  StartB({{"grpc.listen", "127.0.0.1:" + std::to_string(b_port_)}});
  ASSERT_TRUE(WaitFor([&] { return b_->store().size() == 20; }, kDeadline)) << b_->store().size();
  ASSERT_TRUE(WaitFor([&] { return PeerState().lag_entries() == 0 && PeerState().last_error().empty(); }, kDeadline));
  EXPECT_TRUE(PeerState().connected());
}

TEST_F(MirrorTest, ANewTargetGetsTheWholeStoreWhenTheLogNoLongerReachesBack) {
  StartB();
  b_port_ = b_->grpc_port();
  // A alone first, with small segments so that a snapshot lets it delete some.
  StartA({{"wal.segment_bytes", "65536"}}, /*with_target=*/false);
  for (int batch = 0; batch < 20; ++batch) InsertMany("x" + std::to_string(batch) + "-", 100);
  v1::RemoveRequest remove;
  remove.set_id("x0-0");
  v1::WriteResult removed;
  auto context = Ctx();
  ASSERT_TRUE(a_stub_->Remove(context.get(), remove, &removed).ok());
  ASSERT_OK(a_->TakeSnapshot());
  ASSERT_GT(a_->wal().first_seq(), 1u) << "the snapshot should have let the log drop segments";
  a_->Stop();
  a_.reset();

  StartA({{"wal.segment_bytes", "65536"}});
  ASSERT_TRUE(WaitFor([&] { return b_->store().size() == 1999; }, kDeadline)) << b_->store().size();
  EXPECT_EQ(b_->store().digest(), a_->store().digest());
  EXPECT_EQ(b_->store().tombstone_count(), 1u);  // the remove travels as a tombstone
  ASSERT_TRUE(WaitFor([&] { return PeerState().lag_entries() == 0; }, kDeadline));
}

TEST_F(MirrorTest, SyncModeAnswersWithTheAggregateOfEveryCluster) {
  StartB();
  b_port_ = b_->grpc_port();
  StartA({{"mirror.mode", "sync"}, {"mirror.timeout_ms", "1000"}});
  // B alone has "x", with other content: B answers ALREADY_EXISTS, gets an
  // Update, and the aggregate is OK.
  ASSERT_TRUE(Insert(*b_stub_, "x", {9, 9, 9, 9}).ok());
  ASSERT_TRUE(Insert(*a_stub_, "x", {1, 0, 0, 0}).ok());
  EXPECT_EQ(b_->store().Get("x")->vector, (std::vector<float>{1, 0, 0, 0}));
  EXPECT_EQ(b_->store().digest(), a_->store().digest());
  // Now both have it, identical: every target answers ALREADY_EXISTS.
  EXPECT_EQ(Insert(*a_stub_, "x", {1, 0, 0, 0}).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // Neither has "y": NOT_FOUND everywhere.
  v1::RemoveRequest remove;
  remove.set_id("y");
  v1::WriteResult result;
  auto context = Ctx();
  EXPECT_EQ(a_stub_->Remove(context.get(), remove, &result).error_code(), grpc::StatusCode::NOT_FOUND);
  // B gone: its failure is the answer, though A applied the write.
  b_->Stop();
  b_.reset();
  grpc::Status down = Insert(*a_stub_, "z", {0, 1, 0, 0});
  EXPECT_TRUE(down.error_code() == grpc::StatusCode::UNAVAILABLE ||
              down.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
      << down.error_code() << " " << down.error_message();
  EXPECT_NE(down.error_message().find("mirror target b"), std::string::npos) << down.error_message();
  EXPECT_TRUE(a_->store().Exists("z"));
}

TEST_F(MirrorTest, RefusesABadTargetAtStartUp) {
  auto server = GatewayServer::Start(
      GatewayTestConfig(dir_a_.path(), {{"instance.cluster", "a"}, {"mirror.targets", "b=b@nohost"}}));
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("mirror.targets"), std::string::npos) << server.status();
  EXPECT_NE(server.status().message().find("nohost"), std::string::npos) << server.status();
  auto ttl = GatewayServer::Start(
      GatewayTestConfig(dir_a_.path(), {{"instance.cluster", "a"}, {"mirror.tombstone_ttl", "soon"}}));
  ASSERT_FALSE(ttl.ok());
  EXPECT_NE(ttl.status().message().find("mirror.tombstone_ttl"), std::string::npos) << ttl.status();
}

}  // namespace
}  // namespace baton::gateway::testing
