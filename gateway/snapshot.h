// Snapshot files: the whole store at a log position, so recovery replays
// only the log after it and old log segments can be deleted.
//
// File `snapshots/<20-digit seq>.snap`: a 48-byte header (format in
// docs/formats/snapshot.md: magic, version, covered position, payload length,
// payload CRC32C, header CRC32C) followed by the store payload. Written to a
// temp file, fsynced, renamed, and the directory fsynced, so a crash leaves
// either the old set of snapshots or the new one, never a half file under a
// real name.
//
// Thread-compatible: one writer (the snapshotter thread) at a time; Load*
// before the writer starts. `fs` must outlive the object.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/file_system.h"
#include "common/status.h"
#include "gateway/log/format.h"

namespace baton::gateway {

inline constexpr char kSnapshotMagic[8] = {'B', 'A', 'T', 'N', 'S', 'N', 'A', 'P'};
inline constexpr uint32_t kSnapshotVersion = 1;
inline constexpr size_t kSnapshotHeaderSize = 48;

struct Snapshot {
  LogPosition covers;  // every record up to here is in the payload
  std::string payload;
  std::string path;
};

// Encodes header + payload. Decode checks magic, version, both CRCs and the
// length; errors are DATA_LOSS naming what is wrong (never a crash).
std::string EncodeSnapshot(LogPosition covers, std::string_view payload);
Result<Snapshot> DecodeSnapshot(std::string_view bytes);

class SnapshotFiles {
 public:
  // `dir` is created if missing. Keeps the newest `keep` snapshots.
  SnapshotFiles(FileSystem& fs, std::string dir, size_t keep = 2);

  Status Init();
  // Writes a snapshot durably (temp, fsync, rename, fsync dir), then deletes
  // snapshots beyond `keep`. Logs progress for large payloads.
  Status Write(LogPosition covers, std::string_view payload);
  // The newest snapshot that decodes cleanly; a damaged newer one is skipped
  // with a warning. The caller must check that the log still reaches back to
  // the snapshot it got (segments are deleted once a newer one is durable).
  // nullopt when there is none.
  Result<std::optional<Snapshot>> LoadNewest();
  // Deletes every snapshot but the one at `seq` (a standby that installed
  // its active's snapshot must never fall back to its own older history).
  Status RemoveAllExcept(uint64_t seq);

  const std::string& dir() const { return dir_; }

 private:
  std::string PathFor(uint64_t seq) const;
  Result<std::vector<std::string>> ListSnapshots();  // sorted by seq, oldest first

  FileSystem& fs_;
  const std::string dir_;
  const size_t keep_;
};

}  // namespace baton::gateway
