// EpochHistory: epoch -> first log position, like Raft terms or PostgreSQL
// timelines. Two gateways' logs agree on every record up to the last seq at
// which both histories name the same epoch (an epoch has one writer, so the
// same (epoch, seq) is the same record with the same prefix); that is where
// a returning standby cuts a tail the new active never had.
//
// Persisted as the text file `<data_dir>/epochs` ("epoch first_seq" lines),
// rewritten with temp + fsync + rename + dir fsync on every change.
//
// It also keeps the highest epoch this gateway was assigned (like Raft's
// currentTerm), in `<data_dir>/assigned_epoch` (one decimal line, written the
// same way): a standby told of a new epoch has no record of it yet, and
// without this a restart would take it back to the log's older epoch.
// Thread-safe (one internal mutex); `fs` must outlive it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "baton/v1/common.pb.h"
#include "common/file_system.h"
#include "common/mutex.h"
#include "common/status.h"

namespace baton::gateway {

struct EpochStartEntry {
  uint64_t epoch = 0;
  uint64_t first_seq = 0;
  bool operator==(const EpochStartEntry&) const = default;
};

// Epoch of record `seq` under `history` (sorted by first_seq): the entry with
// the greatest first_seq <= seq; 0 when none.
uint64_t EpochAt(const std::vector<EpochStartEntry>& history, uint64_t seq);

// The greatest seq <= min(a_last, b_last) at which both histories name the
// same epoch (0 when none): the logs' longest common prefix.
uint64_t CommonPrefix(const std::vector<EpochStartEntry>& a, uint64_t a_last, const std::vector<EpochStartEntry>& b,
                      uint64_t b_last);

class EpochHistory {
 public:
  // The file is `<dir>/epochs`.
  EpochHistory(FileSystem& fs, std::string dir);

  // Reads the file (a missing file is an empty history). DATA_LOSS naming the
  // line on a malformed file.
  Status Load() EXCLUDES(mu_);

  // Records that `epoch` begins at `first_seq`, dropping entries at or after
  // first_seq (a tail that was cut); no-op if the last entry already has this
  // epoch. Durable before it returns.
  Status Begin(uint64_t epoch, uint64_t first_seq) EXCLUDES(mu_);
  // Drops entries that begin after `seq` (log truncated after seq).
  Status TruncateAfter(uint64_t seq) EXCLUDES(mu_);
  // Replaces the whole history (snapshot install: the active's history up to
  // the snapshot's position).
  Status Replace(std::vector<EpochStartEntry> entries) EXCLUDES(mu_);

  // Records that this gateway took an assignment at `epoch`; durable before
  // it returns when the epoch is higher than every one recorded (no I/O
  // otherwise).
  Status RecordAssigned(uint64_t epoch) EXCLUDES(mu_);

  std::vector<EpochStartEntry> entries() const EXCLUDES(mu_);
  uint64_t last_epoch() const EXCLUDES(mu_);
  // The higher of last_epoch() and the highest epoch recorded assigned: the
  // epoch this gateway must never go below.
  uint64_t highest_epoch() const EXCLUDES(mu_);

  static std::vector<EpochStartEntry> FromProto(const google::protobuf::RepeatedPtrField<v1::EpochStart>& in);
  static void ToProto(const std::vector<EpochStartEntry>& in, google::protobuf::RepeatedPtrField<v1::EpochStart>* out);

 private:
  Status PersistLocked() REQUIRES(mu_);
  Status WriteDurably(const std::string& path, const std::string& text) REQUIRES(mu_);
  Status LoadAssignedLocked() REQUIRES(mu_);

  FileSystem& fs_;
  const std::string dir_;
  const std::string path_;
  mutable Mutex mu_;
  const std::string assigned_path_;
  std::vector<EpochStartEntry> entries_ GUARDED_BY(mu_);
  uint64_t assigned_epoch_ GUARDED_BY(mu_) = 0;
};

}  // namespace baton::gateway
