// The narrow disk interface: every file the gateway reads or writes goes
// through a FileSystem, so tests can substitute one that fails Sync(), fills
// the disk or drops unsynced data (tests/support/fault_file_system.h).
// LevelDB's Env, cut down to what the WAL and snapshots need.
//
// Errors (all calls): RESOURCE_EXHAUSTED for ENOSPC/EDQUOT (disk full: the
// caller may retry later), NOT_FOUND for ENOENT, INTERNAL for anything else.
// Messages name the operation, the path and the system's reason:
// "fdatasync /data/log/00000000000000000001.log: Input/output error".
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace baton {

// A file open for appending. Thread-compatible: one thread at a time (the
// WAL's single writer). The FileSystem that made it must outlive it.
class WritableFile {
 public:
  virtual ~WritableFile() = default;  // closes the file if Close() was not called

  // Appends all of `data` (retries short writes and EINTR). On failure a
  // prefix of `data` may have reached the file; Size() counts it.
  virtual Status Append(std::string_view data) = 0;
  // fdatasync: every byte appended so far, and the file size, are durable
  // once this returns OK. After a failure nothing is known about what is on
  // disk; do not retry and carry on (callers poison themselves instead).
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
  // Bytes in the file: its size when opened plus everything appended since.
  virtual uint64_t Size() const = 0;
};

// A file read from front to back. Thread-compatible.
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Replaces *out with up to `n` next bytes; fewer (maybe none) at the end.
  virtual Status Read(size_t n, std::string* out) = 0;
  virtual Status Skip(uint64_t n) = 0;
};

// A file read at explicit offsets (pread). Thread-safe: concurrent reads on
// one object are fine, and reading while another handle appends to the same
// file is fine (the reader sees some prefix of what was appended).
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Replaces *out with up to `n` bytes starting at `offset`; fewer at the end
  // of the file, none past it.
  virtual Status Read(uint64_t offset, size_t n, std::string* out) const = 0;
};

// Thread-safe. Paths are plain strings; directories are created with
// CreateDirs. Nothing here is durable until the file's Sync() (contents) and
// the parent's SyncDir() (names: creation, rename, removal) return OK.
class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Creates `path`, or truncates it to zero bytes if it exists.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Opens `path` for appending, creating it if missing; Size() starts at the
  // current length.
  virtual Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  virtual Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) = 0;
  virtual Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) = 0;

  virtual Result<std::string> ReadFileToString(const std::string& path) = 0;
  // False only when the path does not exist; other failures are errors.
  virtual Result<bool> FileExists(const std::string& path) = 0;
  virtual Result<uint64_t> GetFileSize(const std::string& path) = 0;
  // Names (not paths) of the entries of `dir`, without "." and "..", sorted.
  virtual Result<std::vector<std::string>> GetChildren(const std::string& dir) = 0;
  // mkdir -p; OK if the directory already exists.
  virtual Status CreateDirs(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Atomically replaces `to` if it exists (rename(2)).
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Sets the length of `path` to `size` and makes the new length durable
  // (ftruncate + fsync) before returning.
  virtual Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // fsync of a directory: makes creations, renames and removals in it durable.
  virtual Status SyncDir(const std::string& dir) = 0;
};

// The real file system (POSIX). A process-wide, stateless singleton.
FileSystem& PosixFileSystem();

// Joins two path parts with exactly one '/'.
std::string JoinPath(std::string_view dir, std::string_view name);

}  // namespace baton
