// A FileSystem that wraps a real one and lets a test break the disk on
// purpose: fail Sync(), fill the disk, hold Sync() at a gate, and simulate a
// power cut by dropping everything that was never synced (LevelDB's
// db/fault_injection_test.cc model).
//
// Thread-safe: the code under test calls the file system from its own threads
// while the test flips faults. Must outlive every file it hands out.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/file_system.h"
#include "common/mutex.h"

namespace baton::testing {

class FaultFileSystem : public FileSystem {
 public:
  explicit FaultFileSystem(FileSystem& base = PosixFileSystem()) : base_(base) {}

  // --- faults -------------------------------------------------------------
  // Every Sync() fails with `status` (nothing is synced) until cleared.
  void FailSyncs(Status status);
  void ClearSyncFailure();
  // Disk full: every Append() writes the first half of its data, then fails
  // with RESOURCE_EXHAUSTED, as a real short write on ENOSPC does.
  void SetDiskFull(bool full);
  // Every TruncateFile() fails with `status` until cleared.
  void FailTruncates(Status status);
  void ClearTruncateFailure();

  // Gate: while closed, Sync() blocks before syncing. Opening it releases
  // every blocked Sync() and lets later ones through.
  void CloseSyncGate();
  void OpenSyncGate();
  // Number of Sync() calls parked at the closed gate right now.
  int blocked_syncs() const;
  // Waits (real time) until at least `n` Sync() calls are parked.
  bool WaitForBlockedSyncs(int n, std::chrono::milliseconds timeout) const;

  // --- observation --------------------------------------------------------
  // Sync() calls made (including failed and blocked ones).
  int sync_calls() const { return sync_calls_.load(); }
  // Sync() calls that returned OK.
  int syncs_completed() const { return syncs_completed_.load(); }

  // --- power loss ---------------------------------------------------------
  // Truncates every file written through this object to the size it had at
  // its last successful Sync() (0 if never synced), and removes files it
  // created whose directory was never synced afterwards. Call with no file
  // of this object open for writing (e.g. after destroying the Wal).
  Status DropUnsyncedData();

  // --- FileSystem ---------------------------------------------------------
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) override {
    return base_.NewSequentialFile(path);
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    return base_.NewRandomAccessFile(path);
  }
  Result<std::string> ReadFileToString(const std::string& path) override { return base_.ReadFileToString(path); }
  Result<bool> FileExists(const std::string& path) override { return base_.FileExists(path); }
  Result<uint64_t> GetFileSize(const std::string& path) override { return base_.GetFileSize(path); }
  Result<std::vector<std::string>> GetChildren(const std::string& dir) override { return base_.GetChildren(dir); }
  Status CreateDirs(const std::string& dir) override { return base_.CreateDirs(dir); }
  Status RemoveFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status TruncateFile(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override;

 private:
  class File;
  friend class File;

  // What this object knows about one file it opened for writing.
  struct FileState {
    uint64_t size = 0;           // bytes written so far
    uint64_t synced_size = 0;    // bytes durable as of the last OK Sync()
    bool entry_durable = true;   // false: created here, parent dir not synced since
  };

  Result<std::unique_ptr<WritableFile>> Wrap(const std::string& path, Result<std::unique_ptr<WritableFile>> base,
                                             bool existed);
  Status BeforeAppend();
  // Blocks at the gate, then returns the injected failure, if any.
  Status BeforeSync();
  void AfterAppend(const std::string& path, uint64_t size);
  void AfterSync(const std::string& path, uint64_t size);

  FileSystem& base_;
  std::atomic<int> sync_calls_{0};
  std::atomic<int> syncs_completed_{0};

  mutable Mutex mu_;
  mutable CondVar cv_{&mu_};
  std::optional<Status> sync_failure_ GUARDED_BY(mu_);
  std::optional<Status> truncate_failure_ GUARDED_BY(mu_);
  bool disk_full_ GUARDED_BY(mu_) = false;
  bool gate_closed_ GUARDED_BY(mu_) = false;
  int blocked_syncs_ GUARDED_BY(mu_) = 0;
  std::map<std::string, FileState> files_ GUARDED_BY(mu_);
};

}  // namespace baton::testing
