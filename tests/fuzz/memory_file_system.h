// An in-memory FileSystem for the fuzz targets: the WAL and snapshot code run
// unchanged over it, thousands of times a second, without touching the disk
// or leaving files behind when a run is killed.
//
// Everything is "durable" at once (Sync and SyncDir do nothing): the fuzz
// targets test decoding and recovery, not crash consistency (tests/support's
// FaultFileSystem does that). Directories exist once CreateDirs made them or
// a file was put under them.
//
// Thread-safe (one mutex); files handed out must not outlive it.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_system.h"
#include "common/mutex.h"

namespace baton::fuzz {

class MemoryFileSystem : public FileSystem {
 public:
  // Creates or replaces `path` with `contents` (and its directory).
  void PutFile(const std::string& path, std::string_view contents);
  // The contents of `path`, or nullptr if it does not exist. The pointer is
  // valid until the next call that changes the file system.
  const std::string* Contents(const std::string& path) const;

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) override;
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override;
  Result<std::string> ReadFileToString(const std::string& path) override;
  Result<bool> FileExists(const std::string& path) override;
  Result<uint64_t> GetFileSize(const std::string& path) override;
  Result<std::vector<std::string>> GetChildren(const std::string& dir) override;
  Status CreateDirs(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status TruncateFile(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override;

 private:
  class Writable;
  class Sequential;
  class RandomAccess;
  // A file's bytes, shared with the handles open on it (a removed or
  // renamed-over file stays readable through them, as on POSIX).
  using Data = std::shared_ptr<std::string>;

  Result<Data> Find(const std::string& path) const REQUIRES(mu_);
  void AddDirs(const std::string& dir) REQUIRES(mu_);

  mutable Mutex mu_;
  std::map<std::string, Data> files_ GUARDED_BY(mu_);
  std::set<std::string> dirs_ GUARDED_BY(mu_);
};

}  // namespace baton::fuzz
