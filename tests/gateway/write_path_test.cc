// WritePath's append gate and Flush(), on a real log in a temp dir: what a
// handover relies on to make the active's durable position final. A write
// admitted before the gate closed stays out of the log, and once Flush()
// returns nothing moves the durable position any more.
#include "gateway/write_path.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/file_system.h"
#include "gateway/log/wal.h"
#include "gateway/log/wal_reader.h"
#include "gateway/store/store.h"
#include "gateway/store/vector_index.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_util.h"

namespace baton::gateway {
namespace {

constexpr int kDim = 4;

WriteRequest Upsert(const std::string& id) {
  v1::Object object;
  object.set_id(id);
  for (int i = 0; i < kDim; ++i) object.add_vector(static_cast<float>(i));
  return WriteRequest::Put(v1::WRITE_OP_UPSERT, object, "c1");
}

class WritePathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WalOptions options;
    options.dir = dir_.Join("log");
    options.initial_epoch = 1;
    auto wal = Wal::Open(PosixFileSystem(), options, RealClock());
    ASSERT_TRUE(wal.ok()) << wal.status();
    wal_ = std::move(wal).value();
    store_ = std::make_unique<ObjectStore>(RealClock(), ObjectStoreOptions{.dimension = kDim});
    auto index = VectorIndex::Create(*store_, VectorIndexOptions{.dimension = kDim});
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = std::move(index).value();
    writes_ = std::make_unique<WritePath>(*wal_, *store_, *index_);
    writes_->set_append_gate([this] { return closed_ ? Status::Unavailable("test: gate closed") : Status::Ok(); });
  }

  uint64_t durable_seq() const { return wal_->durable_position().seq; }

  ::baton::testing::TempDir dir_;
  std::atomic<bool> closed_{false};
  std::unique_ptr<Wal> wal_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<VectorIndex> index_;
  std::unique_ptr<WritePath> writes_;  // last: it is destroyed first
};

TEST_F(WritePathTest, ClosedGateKeepsWritesOutOfTheLogAndTheStore) {
  ASSERT_TRUE(writes_->Write({Upsert("a")}).ok());
  const uint64_t before = durable_seq();
  const LogPosition applied = writes_->applied_position();

  closed_ = true;  // as if the handover began after "b" was admitted
  auto refused = writes_->Write({Upsert("b")});
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status();
  EXPECT_EQ(refused.status().message(), "test: gate closed");
  EXPECT_EQ(durable_seq(), before) << "nothing logged";
  EXPECT_EQ(writes_->applied_position().seq, applied.seq);
  EXPECT_FALSE(store_->Get("b").has_value()) << "nothing applied";

  EXPECT_TRUE(writes_->Flush().ok());
  EXPECT_EQ(durable_seq(), before) << "Flush() logs nothing";

  closed_ = false;
  ASSERT_TRUE(writes_->Write({Upsert("b")}).ok());
  EXPECT_EQ(durable_seq(), before + 1);
  EXPECT_TRUE(store_->Get("b").has_value());
}

// Writers keep going while the gate closes: once Flush() returns, the
// durable position is final, and it covers exactly the writes that succeeded.
TEST_F(WritePathTest, AfterFlushTheDurablePositionNoLongerMoves) {
  const uint64_t base = durable_seq();
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      // Until 50 writes of this thread were refused (bounded: 20000 in all).
      int refused_here = 0;
      for (int n = 0; n < 20000 && refused_here < 50; ++n) {
        auto r = writes_->Write({Upsert("w" + std::to_string(t) + "-" + std::to_string(n))});
        if (r.ok()) {
          ++ok;
        } else if (r.status().code() == StatusCode::kUnavailable) {
          ++refused;
          ++refused_here;
        } else {
          ++other;
        }
      }
    });
  }
  ASSERT_TRUE(::baton::testing::WaitFor([&] { return ok >= 200; }, std::chrono::seconds(20)));
  closed_ = true;
  ASSERT_TRUE(writes_->Flush().ok());
  const uint64_t final_seq = durable_seq();
  for (auto& w : writers) w.join();
  EXPECT_EQ(other, 0);
  EXPECT_GE(refused, 4 * 50);
  EXPECT_EQ(durable_seq(), final_seq) << "a batch let through before the gate closed landed after Flush()";
  EXPECT_EQ(final_seq - base, static_cast<uint64_t>(ok.load())) << "one record per successful write, none other";
  EXPECT_EQ(store_->size(), static_cast<size_t>(ok.load()));
}

// Mirror cursors go through group commit as kCursor records and reach the
// store once durable; a reader of the log (a standby, recovery) sees them.
TEST_F(WritePathTest, CursorRecordsAreLoggedAndApplied) {
  ASSERT_TRUE(writes_->Write({Upsert("a")}).ok());
  v1::MirrorCursorRecord cursors;
  v1::MirrorCursor* cursor = cursors.add_cursors();
  cursor->set_target("b");
  cursor->set_delivered_seq(1);
  ASSERT_OK(writes_->LogCursors(cursors));
  EXPECT_EQ(store_->mirror_cursors().at("b"), 1u);
  EXPECT_EQ(writes_->applied_position().seq, durable_seq());
  auto reader = wal_->NewReader(durable_seq());
  auto record = reader->Next(std::chrono::milliseconds(0));
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->type, RecordType::kCursor);

  closed_ = true;  // handing over: no cursor either
  EXPECT_EQ(writes_->LogCursors(cursors).code(), StatusCode::kUnavailable);
}

// Compaction runs between batches on the committer and logs nothing.
TEST_F(WritePathTest, CompactTombstonesDropsOnlyOlderOnes) {
  ASSERT_TRUE(writes_->Write({Upsert("a"), Upsert("b")}).ok());
  ASSERT_TRUE(writes_->Write({WriteRequest::Remove("a", 0, "c1")}).ok());
  const uint64_t before = durable_seq();
  ASSERT_OK_AND_ASSIGN(none, writes_->CompactTombstones(RealClock().WallNow() - std::chrono::hours(1)));
  EXPECT_EQ(none, 0u);
  EXPECT_EQ(store_->tombstone_count(), 1u);
  ASSERT_OK_AND_ASSIGN(dropped, writes_->CompactTombstones(RealClock().WallNow() + std::chrono::seconds(1)));
  EXPECT_EQ(dropped, 1u);
  EXPECT_EQ(store_->tombstone_count(), 0u);
  EXPECT_TRUE(store_->Exists("b"));
  EXPECT_EQ(durable_seq(), before) << "compaction logs nothing";
}

}  // namespace
}  // namespace baton::gateway
