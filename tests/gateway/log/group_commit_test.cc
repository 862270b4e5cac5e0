#include "gateway/log/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "tests/gateway/log/wal_test_util.h"
#include "tests/support/fault_file_system.h"

namespace baton::gateway {
namespace {

using namespace wal_test;
using ::baton::testing::FaultFileSystem;

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override { wal_ = Open(); }

  std::unique_ptr<Wal> Open() {
    auto wal = Wal::Open(fs_, Options(dir_), clock_);
    EXPECT_TRUE(wal.ok()) << wal.status();
    return wal.ok() ? std::move(wal).value() : nullptr;
  }

  // Runs Commit() for each of `items` on its own thread while the first
  // leader's fsync is held at the gate, so that all the others queue up
  // behind it; then opens the gate. Returns once every Commit() returned,
  // and checks that none returned before the fsync covering it.
  void CommitWhileFirstSyncIsHeld(GroupCommitLog& log, std::vector<CommitItem>& items,
                                  std::vector<Status>* statuses) {
    statuses->assign(items.size(), Status());
    std::atomic<int> returned{0};
    std::atomic<int> early{0};
    auto commit = [&](size_t i) {
      (*statuses)[i] = log.Commit(&items[i]);
      // OK means durable: the position is set and the log is durable past it.
      if ((*statuses)[i].ok() &&
          (items[i].position.seq == 0 || wal_->durable_position().seq < items[i].position.seq)) {
        ++early;
      }
      ++returned;
    };
    fs_.CloseSyncGate();
    std::vector<std::thread> threads;
    threads.emplace_back(commit, 0);
    const bool first_blocked = fs_.WaitForBlockedSyncs(1, 10s);
    EXPECT_TRUE(first_blocked) << "the first leader never reached its fsync";
    if (first_blocked) {
      for (size_t i = 1; i < items.size(); ++i) threads.emplace_back(commit, i);
      EXPECT_TRUE(WaitUntil([&] { return log.queued() == items.size(); }));
      EXPECT_EQ(returned.load(), 0) << "a Commit() returned while its fsync was held";
    }
    fs_.OpenSyncGate();  // also on failure above: never leave threads parked
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(early.load(), 0) << "a Commit() returned OK before its record was durable";
  }

  TempDir tmp_;
  const std::string dir_ = JoinPath(tmp_.path(), "log");
  FaultFileSystem fs_;
  ManualClock clock_;
  std::unique_ptr<Wal> wal_;
};

TEST_F(GroupCommitTest, CommitWritesTheRecordAndRunsTheHooks) {
  std::vector<size_t> prepared, applied;
  GroupCommitHooks hooks;
  hooks.prepare = [&](std::span<CommitItem* const> batch) { prepared.push_back(batch.size()); };
  hooks.apply = [&](std::span<CommitItem* const> batch) {
    applied.push_back(batch.size());
    EXPECT_EQ(wal_->durable_position(), batch.back()->position) << "apply runs after the batch is durable";
  };
  GroupCommitLog log(*wal_, hooks);
  ASSERT_TRUE(wal_->SetEpoch(4).ok());
  CommitItem item;
  item.type = RecordType::kCursor;
  item.payload = "cursor-1";
  ASSERT_TRUE(log.Commit(&item).ok());
  EXPECT_EQ(item.position, (LogPosition{4, 1}));
  EXPECT_EQ(item.payload, "cursor-1") << "the payload is still there for apply()";
  EXPECT_EQ(prepared, std::vector<size_t>{1});
  EXPECT_EQ(applied, std::vector<size_t>{1});
  auto records = ReadAll(*wal_, 1);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].type, RecordType::kCursor);
  EXPECT_EQ((*records)[0].payload, "cursor-1");
}

TEST_F(GroupCommitTest, ConcurrentWritersShareFsyncsAndNoneReturnsBeforeItsSync) {
  constexpr size_t kWriters = 64;
  GroupCommitLog log(*wal_, {});
  std::vector<CommitItem> items(kWriters);
  for (size_t i = 0; i < kWriters; ++i) items[i].payload = "writer-" + std::to_string(i);
  const int syncs_before = fs_.sync_calls();
  std::vector<Status> statuses;
  CommitWhileFirstSyncIsHeld(log, items, &statuses);

  const int syncs = fs_.sync_calls() - syncs_before;
  EXPECT_LE(syncs, static_cast<int>(kWriters / 4)) << "group commit did not group";
  EXPECT_EQ(static_cast<uint64_t>(syncs), log.batches());
  std::set<uint64_t> seqs;
  std::map<uint64_t, std::string> expected;
  for (size_t i = 0; i < kWriters; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << "writer " << i << ": " << statuses[i];
    seqs.insert(items[i].position.seq);
    expected[items[i].position.seq] = items[i].payload;
  }
  EXPECT_EQ(seqs.size(), kWriters) << "positions must be distinct";
  EXPECT_EQ(*seqs.begin(), 1u);
  EXPECT_EQ(*seqs.rbegin(), kWriters);

  wal_.reset();
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  wal_ = Open();
  auto records = ReadAll(*wal_, 1);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), kWriters);
  for (const LogRecord& record : *records) EXPECT_EQ(record.payload, expected[record.pos.seq]);
}

TEST_F(GroupCommitTest, NoWriterReturnsBeforeTheSyncCoveringItsRecord) {
  // Every Commit() checks on return that its record is durable and that an
  // fsync has completed since it started.
  GroupCommitLog log(*wal_, {});
  constexpr int kThreads = 8, kCommits = 40;
  std::vector<std::thread> threads;
  std::atomic<int> violations{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCommits; ++i) {
        CommitItem item;
        item.payload = std::to_string(t) + "/" + std::to_string(i);
        const int completed_before = fs_.syncs_completed();
        if (!log.Commit(&item).ok()) ++violations;
        if (item.position.seq == 0 || wal_->durable_position().seq < item.position.seq) ++violations;
        if (fs_.syncs_completed() <= completed_before) ++violations;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(wal_->durable_position().seq, static_cast<uint64_t>(kThreads * kCommits));
}

TEST_F(GroupCommitTest, PrepareDecidesEachItemsOutcome) {
  std::vector<size_t> applied_batch_sizes;
  GroupCommitHooks hooks;
  hooks.prepare = [](std::span<CommitItem* const> batch) {
    for (CommitItem* item : batch) {
      if (item->payload.starts_with("dup")) item->status = Status::AlreadyExists("object exists");
      if (item->payload.starts_with("same")) item->needs_record = false;
    }
  };
  hooks.apply = [&](std::span<CommitItem* const> batch) { applied_batch_sizes.push_back(batch.size()); };
  GroupCommitLog log(*wal_, hooks);
  std::vector<CommitItem> items(4);
  items[0].payload = "first";
  items[1].payload = "dup-a";
  items[2].payload = "same-b";
  items[3].payload = "write-c";
  std::vector<Status> statuses;
  CommitWhileFirstSyncIsHeld(log, items, &statuses);

  EXPECT_TRUE(statuses[0].ok());
  EXPECT_EQ(items[0].position.seq, 1u);
  EXPECT_EQ(statuses[1].code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(items[1].position, LogPosition{});
  EXPECT_TRUE(statuses[2].ok());
  EXPECT_EQ(items[2].position.seq, 2u) << "no record: the batch's durable position";
  EXPECT_TRUE(statuses[3].ok());
  EXPECT_EQ(items[3].position.seq, 2u);
  EXPECT_EQ(applied_batch_sizes, (std::vector<size_t>{1, 3})) << "apply sees every item of its batch";
  EXPECT_EQ(wal_->last_position().seq, 2u) << "only two records were needed";
}

TEST_F(GroupCommitTest, FailedBatchFailsEveryItemAndSkipsApply) {
  int applied = 0;
  std::vector<std::pair<size_t, Status>> aborted;
  GroupCommitHooks hooks;
  hooks.prepare = [](std::span<CommitItem* const> batch) {
    for (CommitItem* item : batch) {
      if (item->payload == "rejected") item->status = Status::AlreadyExists("x");
    }
  };
  hooks.apply = [&](std::span<CommitItem* const>) { ++applied; };
  hooks.abort = [&](std::span<CommitItem* const> batch, const Status& s) { aborted.emplace_back(batch.size(), s); };
  GroupCommitLog log(*wal_, hooks);
  fs_.FailSyncs(Status::Internal("Input/output error (injected)"));
  std::vector<CommitItem> items(3);
  items[1].payload = "rejected";
  std::vector<Status> statuses;
  CommitWhileFirstSyncIsHeld(log, items, &statuses);

  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(statuses[i].code(), StatusCode::kFailedPrecondition) << i << ": " << statuses[i];
    EXPECT_NE(statuses[i].message().find("wal poisoned"), std::string::npos);
    EXPECT_EQ(items[i].position, LogPosition{});
  }
  EXPECT_EQ(applied, 0);
  ASSERT_EQ(aborted.size(), 2u) << "both batches failed";
  EXPECT_EQ(aborted[0].first + aborted[1].first, 3u);
  EXPECT_EQ(aborted[1].second.code(), StatusCode::kFailedPrecondition);
}

TEST_F(GroupCommitTest, HooksRunOneBatchAtATimeAndBatchesRespectTheCap) {
  std::atomic<bool> in_hook{false};
  std::atomic<int> overlaps{0};
  size_t applied_items = 0;  // only touched by hooks, which never overlap
  size_t largest_batch = 0;
  GroupCommitHooks hooks;
  auto enter = [&] {
    if (in_hook.exchange(true)) ++overlaps;
  };
  auto leave = [&] { in_hook = false; };
  hooks.prepare = [&](std::span<CommitItem* const> batch) {
    enter();
    largest_batch = std::max(largest_batch, batch.size());
    leave();
  };
  hooks.apply = [&](std::span<CommitItem* const> batch) {
    enter();
    applied_items += batch.size();
    leave();
  };
  GroupCommitOptions options;
  options.max_batch_records = 5;
  GroupCommitLog log(*wal_, hooks, options);
  constexpr int kThreads = 8, kCommits = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCommits; ++i) {
        CommitItem item;
        item.payload = "x";
        EXPECT_TRUE(log.Commit(&item).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(applied_items, static_cast<size_t>(kThreads * kCommits));
  EXPECT_LE(largest_batch, 5u);
  EXPECT_EQ(wal_->last_position().seq, static_cast<uint64_t>(kThreads * kCommits));
}

TEST_F(GroupCommitTest, StopFinishesTheBatchInFlightFailsTheQueueAndRunsNoDoneAfterIt) {
  GroupCommitLog log(*wal_, GroupCommitHooks{});
  constexpr size_t kItems = 4;
  std::vector<CommitItem> items(kItems);
  std::vector<std::optional<Status>> done(kItems);
  std::atomic<int> done_count{0};
  Mutex mu;
  auto submit = [&](size_t i) {
    items[i].payload = "x";
    log.Submit(&items[i], [&, i](CommitItem* item) {
      MutexLock lock(&mu);
      done[i] = item->status;
      ++done_count;
    });
  };
  // The first item's fsync is held, so the others queue up behind it.
  fs_.CloseSyncGate();
  submit(0);
  ASSERT_TRUE(fs_.WaitForBlockedSyncs(1, 10s));
  for (size_t i = 1; i < kItems; ++i) submit(i);
  ASSERT_TRUE(WaitUntil([&] { return log.queued() == kItems; }));
  // Stop() waits for the batch in flight (its fsync still held), then fails
  // the rest.
  std::thread stopper([&] { log.Stop(); });
  // Stop() has begun once a new item fails on the submitting thread; until
  // then each probe just queues up (nothing commits while the gate is shut).
  std::deque<CommitItem> probes;
  std::deque<std::atomic<bool>> probe_done;
  const bool refused = WaitUntil([&] {
    probes.emplace_back();
    std::atomic<bool>* flag = &probe_done.emplace_back(false);
    log.Submit(&probes.back(), [flag](CommitItem*) { *flag = true; });
    return flag->load();
  });
  fs_.OpenSyncGate();  // also on failure: never leave the committer parked
  stopper.join();
  ASSERT_TRUE(refused) << "Stop() never began";
  // Once Stop() returned every Done has run: the one durable write with OK,
  // the queued ones with UNAVAILABLE.
  MutexLock lock(&mu);
  ASSERT_EQ(done_count.load(), static_cast<int>(kItems));
  EXPECT_TRUE(done[0]->ok()) << done[0]->ToString();
  for (size_t i = 1; i < kItems; ++i) EXPECT_EQ(done[i]->code(), StatusCode::kUnavailable) << i;
  for (const std::atomic<bool>& probe : probe_done) EXPECT_TRUE(probe.load()) << "a queued probe never completed";
  EXPECT_EQ(wal_->durable_position().seq, 1u);
  // Later items fail at once, on the caller's thread.
  CommitItem late;
  EXPECT_EQ(log.Commit(&late).code(), StatusCode::kUnavailable);
  log.Stop();  // idempotent
}

}  // namespace
}  // namespace baton::gateway
