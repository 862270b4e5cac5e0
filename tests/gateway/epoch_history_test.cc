#include "gateway/replication/epoch_history.h"

#include <gtest/gtest.h>

#include "common/file_system.h"
#include "tests/support/temp_dir.h"

namespace baton::gateway {
namespace {

using H = std::vector<EpochStartEntry>;

// Writes `text` as the file `name` in `dir`, as a damaged disk might leave it.
void WriteFile(FileSystem& fs, const std::string& dir, const std::string& name, std::string_view text) {
  auto file = fs.NewWritableFile(JoinPath(dir, name));
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Append(text).ok());
  ASSERT_TRUE((*file)->Close().ok());
}

TEST(EpochHistoryTest, EpochAtFollowsTheSteps) {
  H h{{1, 1}, {3, 10}, {4, 15}};
  EXPECT_EQ(EpochAt(h, 1), 1u);
  EXPECT_EQ(EpochAt(h, 9), 1u);
  EXPECT_EQ(EpochAt(h, 10), 3u);
  EXPECT_EQ(EpochAt(h, 100), 4u);
  EXPECT_EQ(EpochAt({}, 5), 0u);
}

TEST(EpochHistoryTest, CommonPrefixOfIdenticalHistoriesIsTheShorterLog) {
  H h{{1, 1}, {2, 10}};
  EXPECT_EQ(CommonPrefix(h, 20, h, 15), 15u);
  EXPECT_EQ(CommonPrefix(h, 5, h, 15), 5u);
}

TEST(EpochHistoryTest, DivergentTailIsCutAtTheLastSharedEpoch) {
  // Old active wrote seqs 10..14 at epoch 2 that nobody acked; the new active
  // took over at epoch 3 from seq 10.
  H old_active{{1, 1}, {2, 10}};
  H new_active{{1, 1}, {2, 10}, {3, 12}};
  EXPECT_EQ(CommonPrefix(old_active, 14, new_active, 30), 11u);
  // The new active never saw epoch 2 at all.
  H other{{1, 1}, {3, 10}};
  EXPECT_EQ(CommonPrefix(old_active, 14, other, 30), 9u);
  // Nothing in common.
  EXPECT_EQ(CommonPrefix(H{{2, 1}}, 5, H{{3, 1}}, 5), 0u);
}

TEST(EpochHistoryTest, PersistsAndTruncates) {
  testing::TempDir dir;
  FileSystem& fs = PosixFileSystem();
  {
    EpochHistory h(fs, dir.path());
    ASSERT_TRUE(h.Load().ok());
    ASSERT_TRUE(h.Begin(1, 1).ok());
    ASSERT_TRUE(h.Begin(1, 5).ok()) << "same epoch: no new entry";
    ASSERT_TRUE(h.Begin(4, 20).ok());
    ASSERT_TRUE(h.Begin(6, 30).ok());
    ASSERT_TRUE(h.TruncateAfter(25).ok());
  }
  EpochHistory h(fs, dir.path());
  ASSERT_TRUE(h.Load().ok());
  EXPECT_EQ(h.entries(), (H{{1, 1}, {4, 20}}));
  ASSERT_TRUE(h.Begin(5, 20).ok()) << "a new epoch at the same seq replaces the cut one";
  EXPECT_EQ(h.entries(), (H{{1, 1}, {5, 20}}));
  EXPECT_EQ(h.Begin(2, 40).code(), StatusCode::kFailedPrecondition);
}

// Found by the chaos runner (seed 20261924): a standby told of epoch 96 had
// no record of it, so after kill -9 it came back at its log's epoch 95.
TEST(EpochHistoryTest, TheHighestAssignedEpochSurvivesARestart) {
  testing::TempDir dir;
  FileSystem& fs = PosixFileSystem();
  {
    EpochHistory h(fs, dir.path());
    ASSERT_TRUE(h.Load().ok());
    ASSERT_TRUE(h.Begin(1, 1).ok());
    ASSERT_TRUE(h.Begin(95, 40).ok());
    EXPECT_EQ(h.highest_epoch(), 95u);
    ASSERT_TRUE(h.RecordAssigned(96).ok());
    ASSERT_TRUE(h.RecordAssigned(90).ok()) << "a lower epoch changes nothing";
    EXPECT_EQ(h.last_epoch(), 95u);
    EXPECT_EQ(h.highest_epoch(), 96u);
  }
  EpochHistory h(fs, dir.path());
  ASSERT_TRUE(h.Load().ok());
  EXPECT_EQ(h.last_epoch(), 95u);
  EXPECT_EQ(h.highest_epoch(), 96u);
  ASSERT_TRUE(h.Begin(97, 50).ok());
  EXPECT_EQ(h.highest_epoch(), 97u) << "a newer record's epoch counts too";
}

TEST(EpochHistoryTest, MalformedAssignedEpochIsRefusedWithTheFile) {
  testing::TempDir dir;
  FileSystem& fs = PosixFileSystem();
  ASSERT_NO_FATAL_FAILURE(WriteFile(fs, dir.path(), "assigned_epoch", "96 x\n"));
  EpochHistory h(fs, dir.path());
  Status s = h.Load();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("assigned_epoch"), std::string::npos) << s;
}

TEST(EpochHistoryTest, MalformedFileIsRefusedWithTheLine) {
  testing::TempDir dir;
  FileSystem& fs = PosixFileSystem();
  ASSERT_NO_FATAL_FAILURE(WriteFile(fs, dir.path(), "epochs", "1 1\n3 x\n"));
  EpochHistory h(fs, dir.path());
  Status s = h.Load();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("line 2"), std::string::npos) << s;
}

}  // namespace
}  // namespace baton::gateway
