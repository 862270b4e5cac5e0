// Disk full under a whole GatewayServer (FaultFileSystem::SetDiskFull: every
// append writes half its data and fails with ENOSPC): writes that cannot be
// made durable answer RESOURCE_EXHAUSTED and change nothing, reads keep
// working, writes work again once space returns, and after a power cut
// (unsynced data dropped) every acknowledged write is still there.
#include <algorithm>
#include <filesystem>
#include <limits>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway/gateway_server.h"
#include "tests/gateway/gateway_test_util.h"
#include "tests/support/binaries.h"
#include "tests/support/fault_file_system.h"
#include "tests/support/temp_dir.h"

namespace baton::gateway::testing {
namespace {

using ::baton::testing::FaultFileSystem;
using ::baton::testing::HttpGet;
using ::baton::testing::TempDir;
using ::testing::HasSubstr;

constexpr int kDimension = 4;
constexpr int kIdSpace = 100;

class DiskFullTest : public ::testing::Test {
 protected:
  void Start(FileSystem& fs) {
    auto server = GatewayServer::Start(
        GatewayTestConfig(dir_.path(), {{"wal.segment_bytes", "65536"}}, kDimension), fs);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    stub_ = ConnectGateway(server_->grpc_port());
  }

  void Stop() {
    stub_.reset();
    if (server_) server_->Stop();
    server_.reset();  // closes every file, so unsynced data can be dropped
  }

  void TearDown() override { Stop(); }

  void Write(int count) {
    grpc::Status status = RandomWrites(*stub_, rng_, count, kIdSpace, 512, kDimension, &acked_);
    ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  }

  // One of each kind of write that would change the store.
  std::vector<std::pair<std::string, grpc::Status>> WritesThatChangeSomething(const std::string& live_id) {
    std::vector<std::pair<std::string, grpc::Status>> out;
    auto call = [&](const std::string& name, auto method, const auto& request, auto response) {
      auto context = Ctx();
      out.emplace_back(name, ((*stub_).*method)(context.get(), request, &response));
    };
    using S = v1::Gateway::Stub;
    {
      v1::InsertRequest r;
      *r.mutable_object() = MakeObject("never-acked", {1, 2, 3, 4});
      call("Insert", &S::Insert, r, v1::WriteResult());
    }
    {
      v1::UpsertRequest r;
      *r.mutable_object() = MakeObject(live_id, {4, 3, 2, 1});
      call("Upsert", &S::Upsert, r, v1::WriteResult());
    }
    {
      v1::UpdateRequest r;
      *r.mutable_object() = MakeObject(live_id, {5, 3, 2, 1}, 0, "new metadata");
      call("Update", &S::Update, r, v1::WriteResult());
    }
    {
      v1::RemoveRequest r;
      r.set_id(live_id);
      call("Remove", &S::Remove, r, v1::WriteResult());
    }
    {
      v1::MultiUpsertRequest r;
      *r.add_requests()->mutable_object() = MakeObject("never-acked-2", {1, 1, 1, 1});
      *r.add_requests()->mutable_object() = MakeObject(live_id, {2, 2, 2, 2});
      call("MultiUpsert", &S::MultiUpsert, r, v1::MultiWriteResult());
    }
    {
      v1::RemoveByTimestampRequest r;
      r.set_before(std::numeric_limits<int64_t>::max());  // would remove everything
      call("RemoveByTimestamp", &S::RemoveByTimestamp, r, v1::MultiWriteResult());
    }
    return out;
  }

  std::string SomeLiveId() const {
    for (const auto& [id, object] : acked_.objects) {
      if (object) return id;
    }
    return "";
  }

  TempDir dir_;
  FaultFileSystem fault_fs_;  // outlives the server
  FaultFileSystem plain_fs_;  // no faults: the restart after a power cut
  std::unique_ptr<GatewayServer> server_;
  std::unique_ptr<v1::Gateway::Stub> stub_;
  std::mt19937_64 rng_{TestSeed()};
  AckedState acked_;
};

TEST_F(DiskFullTest, WritesFailReadsWorkNothingAckedIsLostAndWritesResume) {
  Start(fault_fs_);
  Write(300);
  const std::string live_id = SomeLiveId();
  ASSERT_FALSE(live_id.empty());

  const uint64_t digest = server_->store().digest();
  const size_t size = server_->store().size();
  const LogPosition log = server_->wal().durable_position();

  fault_fs_.SetDiskFull(true);
  // Several rounds: each failed batch must leave the log usable for the next.
  for (int round = 0; round < 3; ++round) {
    for (const auto& [name, status] : WritesThatChangeSomething(live_id)) {
      SCOPED_TRACE(name + " round " + std::to_string(round));
      EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
      EXPECT_FALSE(status.error_message().empty());
    }
  }
  // Concurrent writers (sharing batches) all fail the same way.
  std::atomic<int> exhausted{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto stub = ConnectGateway(server_->grpc_port());
      for (int i = 0; i < 10; ++i) {
        v1::UpsertRequest r;
        *r.mutable_object() = MakeObject("c" + std::to_string(t) + "-" + std::to_string(i), {1, 0, 0, 1});
        v1::WriteResult out;
        auto context = Ctx();
        grpc::Status s = stub->Upsert(context.get(), r, &out);
        (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ? exhausted : other)++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(exhausted.load(), 40);
  EXPECT_EQ(other.load(), 0);
  // A snapshot cannot be written either, and failing must not hurt anything.
  EXPECT_FALSE(server_->TakeSnapshot().ok());

  // Nothing changed, and reads are served throughout.
  EXPECT_EQ(server_->store().digest(), digest);
  EXPECT_EQ(server_->store().size(), size);
  EXPECT_EQ(server_->wal().durable_position(), log);
  EXPECT_TRUE(server_->wal().poison_status().ok()) << "disk full is not an fsync failure";
  acked_.ExpectServedBy(*stub_);
  EXPECT_FALSE(GetObject(*stub_, "never-acked"));
  {
    v1::SearchRequest request;
    for (int i = 0; i < kDimension; ++i) request.add_vector(0.5f);
    request.set_k(5);
    v1::SearchResponse response;
    auto context = Ctx();
    grpc::Status status = stub_->Search(context.get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.results_size(), static_cast<int>(std::min<size_t>(5, size)));
  }
  {
    v1::SearchByIDRequest request;
    request.set_id(live_id);
    request.set_k(3);
    v1::SearchResponse response;
    auto context = Ctx();
    grpc::Status status = stub_->SearchByID(context.get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_GT(response.results_size(), 0);
    EXPECT_EQ(response.results(0).id(), live_id);
  }
  auto healthz = HttpGet(server_->http_port(), "/healthz");
  ASSERT_TRUE(healthz.ok());
  EXPECT_EQ(healthz->first, 200);
  auto metrics = HttpGet(server_->http_port(), "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->second, HasSubstr("code=\"RESOURCE_EXHAUSTED\""));

  // Space returns: writes work again, the refused insert included.
  fault_fs_.SetDiskFull(false);
  Write(200);
  {
    v1::InsertRequest r;
    *r.mutable_object() = MakeObject("never-acked", {1, 2, 3, 4});
    v1::WriteResult out;
    auto context = Ctx();
    grpc::Status status = stub_->Insert(context.get(), r, &out);
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::Object object = r.object();
    object.set_timestamp(out.timestamp());
    acked_.Put(object);
  }
  ASSERT_TRUE(server_->TakeSnapshot().ok());
  Write(100);
  acked_.ExpectServedBy(*stub_);
  const uint64_t final_digest = server_->store().digest();

  // Power cut: whatever was never synced is gone; every ack must survive.
  Stop();
  Status dropped = fault_fs_.DropUnsyncedData();
  ASSERT_TRUE(dropped.ok()) << dropped;
  Start(plain_fs_);
  EXPECT_EQ(server_->store().digest(), final_digest);
  EXPECT_EQ(server_->store().size(), acked_.live());
  acked_.ExpectServedBy(*stub_);
  Stop();
}

// Unlike a full disk, a failed fsync poisons the log for good: the gateway
// says it is DOWN, so the arbiter stops renewing it as an active (and
// promotes another after the lease) and never promotes it as a standby.
TEST_F(DiskFullTest, AFailedFsyncReportsTheGatewayDown) {
  Start(fault_fs_);
  Write(20);
  EXPECT_EQ(server_->State().health(), v1::HEALTH_OK);
  fault_fs_.FailSyncs(Status::Internal("injected fsync failure"));
  v1::UpsertRequest r;
  *r.mutable_object() = MakeObject("never-durable", {1, 2, 3, 4});
  v1::WriteResult out;
  auto context = Ctx();
  grpc::Status failed = stub_->Upsert(context.get(), r, &out);
  EXPECT_FALSE(failed.ok());
  fault_fs_.ClearSyncFailure();
  EXPECT_FALSE(server_->wal().poison_status().ok());
  EXPECT_EQ(server_->State().health(), v1::HEALTH_DOWN) << "a poisoned log takes no write until a restart";
  auto healthz = HttpGet(server_->http_port(), "/healthz");
  ASSERT_TRUE(healthz.ok()) << healthz.status();
  EXPECT_EQ(healthz->first, 503) << healthz->second;
}

TEST_F(DiskFullTest, PowerCutWhileTheDiskIsFullLosesNoAcknowledgedWrite) {
  Start(fault_fs_);
  Write(300);
  fault_fs_.SetDiskFull(true);
  for (const auto& [name, status] : WritesThatChangeSomething(SomeLiveId())) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << name << ": " << status.error_message();
  }
  const uint64_t digest = server_->store().digest();
  Stop();
  fault_fs_.SetDiskFull(false);
  Status dropped = fault_fs_.DropUnsyncedData();
  ASSERT_TRUE(dropped.ok()) << dropped;

  Start(plain_fs_);
  EXPECT_EQ(server_->store().digest(), digest);
  acked_.ExpectServedBy(*stub_);
  EXPECT_FALSE(GetObject(*stub_, "never-acked"));
  Write(50);  // the log continues cleanly after the rolled-back batches
  acked_.ExpectServedBy(*stub_);
  Stop();
}

// The disk fills right after the log rolled to a new segment: the new,
// empty segment must neither lose acknowledged writes nor trip recovery.
TEST_F(DiskFullTest, DiskFullRightAfterASegmentRoll) {
  Start(fault_fs_);
  const std::string log_dir = dir_.Join("log");
  auto newest_segment_bytes = [&]() -> uint64_t {
    std::string newest;
    for (const auto& entry : std::filesystem::directory_iterator(log_dir)) {
      if (entry.path().extension() == ".log") newest = std::max(newest, entry.path().string());
    }
    return newest.empty() ? 0 : std::filesystem::file_size(newest);
  };
  // Fill the active segment up to its limit: the next append starts a new one.
  for (int i = 0; i < 2000 && newest_segment_bytes() < 65536; ++i) ASSERT_NO_FATAL_FAILURE(Write(1));
  ASSERT_GE(newest_segment_bytes(), 65536u);

  fault_fs_.SetDiskFull(true);
  for (const auto& [name, status] : WritesThatChangeSomething(SomeLiveId())) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << name << ": " << status.error_message();
  }
  acked_.ExpectServedBy(*stub_);
  const uint64_t digest = server_->store().digest();

  // Power cut now, with the new segment empty.
  Stop();
  fault_fs_.SetDiskFull(false);
  Status dropped = fault_fs_.DropUnsyncedData();
  ASSERT_TRUE(dropped.ok()) << dropped;
  Start(plain_fs_);
  EXPECT_EQ(server_->store().digest(), digest);
  acked_.ExpectServedBy(*stub_);
  Write(100);
  const uint64_t later = server_->store().digest();
  Stop();
  Start(plain_fs_);
  EXPECT_EQ(server_->store().digest(), later);
  acked_.ExpectServedBy(*stub_);
}

}  // namespace
}  // namespace baton::gateway::testing
