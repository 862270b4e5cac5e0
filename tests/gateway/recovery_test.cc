// Recovery of a whole GatewayServer on the same data_dir: the log alone,
// snapshot + log, a snapshot whose older log segments were deleted, and a
// damaged newest snapshot (fall back to the older one while the log still
// covers it; refuse to start with DATA_LOSS when it does not).
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway/gateway_server.h"
#include "tests/gateway/gateway_test_util.h"
#include "tests/support/temp_dir.h"

namespace baton::gateway::testing {
namespace {

using ::baton::testing::TempDir;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr int kDimension = 4;
constexpr char kSmallSegments[] = "65536";  // the schema's minimum

std::vector<std::string> FilesIn(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class RecoveryTest : public ::testing::Test {
 protected:
  // Always with index.exact_threshold 0, so that searches after recovery go
  // through the rebuilt HNSW graph.
  Status Start(const Flags& flags = {}) {
    flags_ = flags;
    Flags all = {{"index.exact_threshold", "0"}};
    all.insert(all.end(), flags.begin(), flags.end());
    auto server = GatewayServer::Start(GatewayTestConfig(dir_.path(), all, kDimension));
    if (!server.ok()) return server.status();
    server_ = std::move(server).value();
    stub_ = ConnectGateway(server_->grpc_port());
    return Status::Ok();
  }

  void Stop() {
    stub_.reset();
    if (server_) server_->Stop();
    server_.reset();
  }

  void TearDown() override { Stop(); }

  void Restart() {
    Stop();
    Status started = Start(flags_);
    ASSERT_TRUE(started.ok()) << started;
  }

  void Write(int count, size_t metadata_bytes = 16) {
    grpc::Status status = RandomWrites(*stub_, rng_, count, kIdSpace, metadata_bytes, kDimension, &acked_);
    ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  }

  struct State {
    uint64_t digest;
    size_t size;
  };
  State Capture() const { return {server_->store().digest(), server_->store().size()}; }

  // The recovered gateway holds `want` and every acknowledged write, and goes
  // on assigning timestamps above everything it assigned before the restart.
  void ExpectRecovered(const State& want) {
    EXPECT_EQ(server_->store().digest(), want.digest);
    EXPECT_EQ(server_->store().size(), want.size);
    EXPECT_EQ(server_->store().size(), acked_.live());
    acked_.ExpectServedBy(*stub_);

    // The index is back too: each object is the nearest to its own vector.
    int searched = 0;
    for (const auto& [id, object] : acked_.objects) {
      if (!object || ++searched > 30) continue;
      v1::SearchRequest search;
      *search.mutable_vector() = object->vector();
      search.set_k(1);
      v1::SearchResponse found;
      auto context = Ctx();
      grpc::Status status = stub_->Search(context.get(), search, &found);
      ASSERT_TRUE(status.ok()) << status.error_message();
      ASSERT_EQ(found.results_size(), 1);
      EXPECT_EQ(found.results(0).id(), id);
    }

    v1::UpsertRequest request;
    ++restarts_;
    *request.mutable_object() = MakeObject("after-restart", {static_cast<float>(restarts_), 2, 3, 4});
    v1::WriteResult result;
    auto context = Ctx();
    grpc::Status status = stub_->Upsert(context.get(), request, &result);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_GT(result.timestamp(), acked_.max_timestamp) << "assigned timestamps went backwards across a restart";
    acked_.Put([&] {
      v1::Object o = request.object();
      o.set_timestamp(result.timestamp());
      return o;
    }());
  }

  std::string snapshot_dir() const { return dir_.Join("snapshots"); }
  std::string log_dir() const { return dir_.Join("log"); }

  static constexpr int kIdSpace = 150;
  TempDir dir_;
  Flags flags_;
  std::unique_ptr<GatewayServer> server_;
  std::unique_ptr<v1::Gateway::Stub> stub_;
  std::mt19937_64 rng_{TestSeed()};
  AckedState acked_;
  int restarts_ = 0;
};

TEST_F(RecoveryTest, LogAloneReplaysToTheSameState) {
  ASSERT_TRUE(Start().ok());
  Write(400);
  const State before = Capture();
  ASSERT_GT(before.size, 0u);
  Restart();
  EXPECT_TRUE(FilesIn(snapshot_dir(), ".snap").empty()) << "this test is about the log alone";
  ExpectRecovered(before);

  // And again, with the record written after the first restart.
  const State again = Capture();
  Restart();
  ExpectRecovered(again);
}

TEST_F(RecoveryTest, SnapshotPlusLogGivesTheSameState) {
  ASSERT_TRUE(Start().ok());
  Write(300);
  const State at_snapshot = Capture();
  ASSERT_TRUE(server_->TakeSnapshot().ok());
  ASSERT_EQ(FilesIn(snapshot_dir(), ".snap").size(), 1u);
  Write(200);
  const State before = Capture();
  ASSERT_NE(before.digest, at_snapshot.digest) << "the writes after the snapshot must matter";
  Restart();
  ExpectRecovered(before);

  const State again = Capture();
  Restart();
  ExpectRecovered(again);
}

TEST_F(RecoveryTest, SnapshotRecoversAfterTheLogBeforeItWasDeleted) {
  ASSERT_TRUE(Start({{"wal.segment_bytes", kSmallSegments}}).ok());
  Write(500, 1024);  // ~0.5 MiB of log: several segments
  const size_t segments_before = FilesIn(log_dir(), ".log").size();
  ASSERT_GE(segments_before, 3u);
  ASSERT_TRUE(server_->TakeSnapshot().ok());
  const size_t segments_after = FilesIn(log_dir(), ".log").size();
  EXPECT_LT(segments_after, segments_before) << "the snapshot should let old segments go";
  EXPECT_GT(server_->wal().first_seq(), 1u);
  Write(200, 1024);
  const State before = Capture();
  Restart();
  ExpectRecovered(before);
}

// How a snapshot file gets damaged.
enum class Damage { kPayloadByte, kHeaderByte, kTruncated };

void DamageFile(const std::string& path, Damage damage) {
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 100u) << path;
  switch (damage) {
    case Damage::kPayloadByte:
      bytes[bytes.size() / 2] ^= 0x01;
      break;
    case Damage::kHeaderByte:
      bytes[20] ^= 0x40;  // inside the covered position
      break;
    case Damage::kTruncated:
      bytes.resize(bytes.size() - 7);
      break;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class DamagedSnapshotTest : public RecoveryTest, public ::testing::WithParamInterface<Damage> {};

TEST_P(DamagedSnapshotTest, FallsBackToTheOlderSnapshotWhileTheLogCoversIt) {
  ASSERT_TRUE(Start().ok());  // 64 MiB segments: nothing is deleted
  Write(200);
  ASSERT_TRUE(server_->TakeSnapshot().ok());
  Write(200);
  ASSERT_TRUE(server_->TakeSnapshot().ok());
  Write(100);
  const State before = Capture();
  Stop();

  const auto snapshots = FilesIn(snapshot_dir(), ".snap");
  ASSERT_EQ(snapshots.size(), 2u);
  DamageFile(snapshots.back(), GetParam());
  Restart();
  ExpectRecovered(before);
}

TEST_P(DamagedSnapshotTest, EveryDamagedSnapshotButTheWholeLogReplaysTheLog) {
  ASSERT_TRUE(Start().ok());
  Write(200);
  ASSERT_TRUE(server_->TakeSnapshot().ok());
  Write(200);
  const State before = Capture();
  Stop();

  const auto snapshots = FilesIn(snapshot_dir(), ".snap");
  ASSERT_EQ(snapshots.size(), 1u);
  DamageFile(snapshots.back(), GetParam());
  Restart();
  ExpectRecovered(before);
}

TEST_P(DamagedSnapshotTest, RefusesToStartWithDataLossWhenTheLogNoLongerCoversTheOlderSnapshot) {
  ASSERT_TRUE(Start({{"wal.segment_bytes", kSmallSegments}}).ok());
  Write(400, 1024);
  ASSERT_TRUE(server_->TakeSnapshot().ok());
  const uint64_t first_covered = server_->wal().durable_position().seq;
  Write(400, 1024);
  ASSERT_TRUE(server_->TakeSnapshot().ok());
  const uint64_t log_start = server_->wal().first_seq();
  ASSERT_GT(log_start, first_covered + 1) << "the second snapshot must have let the first one's log go";
  Stop();

  const auto snapshots = FilesIn(snapshot_dir(), ".snap");
  ASSERT_EQ(snapshots.size(), 2u);
  DamageFile(snapshots.back(), GetParam());
  Status started = Start(flags_);
  ASSERT_FALSE(started.ok()) << "started although records " << first_covered + 1 << ".." << log_start - 1
                             << " are gone";
  EXPECT_EQ(started.code(), baton::StatusCode::kDataLoss) << started;
  EXPECT_THAT(started.message(), HasSubstr("starts at seq " + std::to_string(log_start))) << started;
  EXPECT_THAT(started.message(), HasSubstr(std::to_string(first_covered))) << started;
  EXPECT_THAT(started.message(), HasSubstr("snapshot")) << started;
}

INSTANTIATE_TEST_SUITE_P(Damage, DamagedSnapshotTest,
                         ::testing::Values(Damage::kPayloadByte, Damage::kHeaderByte, Damage::kTruncated),
                         [](const auto& info) {
                           switch (info.param) {
                             case Damage::kPayloadByte: return std::string("PayloadByte");
                             case Damage::kHeaderByte: return std::string("HeaderByte");
                             case Damage::kTruncated: return std::string("Truncated");
                           }
                           return std::string("?");
                         });

}  // namespace
}  // namespace baton::gateway::testing
