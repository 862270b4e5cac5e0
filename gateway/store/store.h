// ObjectStore: the in-memory state of a gateway, live objects and tombstones,
// rebuilt on start from a snapshot plus the write-ahead log.
//
// Writes go in two steps so that a batch is decided before anything is
// durable: a WriteBatchPlanner (write_planner.h) decides each request against
// the store and yields the mutations to log; once the log record is durable,
// Apply() applies it. Apply() is also what replays the log on recovery and on
// standbys, so it is deterministic and enforces last-writer-wins by itself:
// applying any set of mutations in any order, any number of times, leaves the
// same state (the digest() says so), except that CompactTombstones() forgets.
//
// Thread-safety: the const methods (Get, Exists, ForEach*, size, digest,
// SerializeTo) may be called from any thread, concurrently with each other and
// with Apply(); they take a shared lock. Apply, LoadFrom, CompactTombstones and
// planning (WriteBatchPlanner) must be called from one writer thread at a time
// (the group-commit leader, or the standby's apply loop). `clock` must outlive
// the store.
#pragma once

#include "gateway/log/format.h"
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "baton/v1/storage.pb.h"
#include "common/clock.h"
#include "common/status.h"
#include "gateway/store/object.h"
#include "gateway/store/shared_mutex.h"

namespace baton::gateway {

struct ObjectStoreOptions {
  // index.dimension: Apply() and LoadFrom() refuse vectors of another length.
  // 0 accepts any length (tools that only inspect a snapshot).
  int dimension = 0;
};

class ObjectStore {
 public:
  ObjectStore(Clock& clock, ObjectStoreOptions options);
  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;

  // ---- Reads: any thread. ----

  // The live object, or nullopt when absent or removed.
  std::optional<Object> Get(std::string_view id) const;
  bool Exists(std::string_view id) const;
  // Copies the live object's vector into *out; false when absent or removed.
  bool GetVector(std::string_view id, std::vector<float>* out) const;

  // Calls fn(id, vector) for every live object, in no particular order, under
  // the shared lock: fn must be quick and must not call back into the store.
  using VectorVisitor = std::function<void(std::string_view id, std::span<const float> vector)>;
  void ForEachLive(const VectorVisitor& fn) const;
  // As ForEachLive, for the live objects among `ids` only.
  void ForEachLiveOf(std::span<const std::string> ids, const VectorVisitor& fn) const;

  // Live objects.
  size_t size() const;
  size_t tombstone_count() const;
  // Sum mod 2^64 of ObjectHash() over the live objects: equal for any two
  // stores with the same live content, whatever order it was written in.
  uint64_t digest() const;
  // The highest timestamp this gateway assigned (or replayed as assigned).
  int64_t last_assigned_timestamp() const { return last_assigned_.load(std::memory_order_relaxed); }
  int dimension() const { return options_.dimension; }

  // ---- Writes: the writer thread only. ----

  // Applies the record's mutations, each only if its version is newer than
  // what the store holds for that id (ties: see Supersedes in store.cc), so a
  // replayed or reordered mutation never moves a version backwards. A record
  // with no mirror_origin raises last_assigned_timestamp() to its assigned
  // timestamps. Returns INVALID_ARGUMENT naming the mutation, and applies none
  // of the record, if any mutation is malformed (no kind, empty id, a vector of
  // the wrong dimension or a zero timestamp).
  // `at` is the record's log position: applied_position() then reports it,
  // and snapshots are exact about what they contain (divergence repair
  // relies on that). A default position leaves applied_position() alone.
  [[nodiscard]] Status Apply(const v1::WriteRecord& record, LogPosition at = {});
  // Position of the last record applied with one (or loaded from a snapshot).
  LogPosition applied_position() const;

  // The whole state as mutations (a put per live object, a remove per
  // tombstone, each with its version) and the position it is at: what a
  // mirror target gets when the log no longer reaches back to its cursor.
  // Any thread; holds the shared lock while copying.
  std::vector<v1::Mutation> ExportMutations(LogPosition* at) const;

  // Mirror cursors (PRODUCT.md §6): how far this cluster's log was delivered
  // to each mirror target, as the log's kCursor records say. They live here
  // because they are state rebuilt from snapshot + log like the objects, so
  // a promoted standby has them. ApplyCursors keeps, per target, the higher
  // cursor (a replayed older record never moves one back). Writer thread;
  // `at` as for Apply().
  void ApplyCursors(const v1::MirrorCursorRecord& record, LogPosition at = {});
  // target name -> delivered seq. Any thread.
  std::map<std::string, uint64_t> mirror_cursors() const;
  // Mirrored mutations applied since this process started (or loaded), by
  // origin cluster: each peer's write counts once when mirroring does not
  // echo. Any thread.
  std::map<std::string, uint64_t> mirror_applied() const;
  // Empties the store (full resync). Writer thread.
  void Clear();

  // Drops the tombstones removed before `older_than` (their removed_at wall
  // time); returns how many. After this a write older than a dropped remove
  // can bring the object back: the tombstone TTL bounds how late a mirrored
  // write may arrive.
  size_t CompactTombstones(WallTime older_than);

  // ---- Snapshot payload (store_snapshot.cc). ----

  // Appends the whole state (objects, tombstones, last assigned timestamp) to
  // *out, and sets *covers (if given) to the applied_position() of exactly
  // that state. Any thread; holds the shared lock throughout, so Apply()
  // waits (about 0.2 s per 100k 128-d objects).
  [[nodiscard]] Status SerializeTo(std::string* out, LogPosition* covers = nullptr) const;
  // Replaces the whole state with a payload from SerializeTo(). All or
  // nothing: on error (DATA_LOSS naming the record and what is wrong, or
  // FAILED_PRECONDITION for another dimension) the store is unchanged. Writer
  // thread. A VectorIndex over this store must be Rebuild()t afterwards.
  // `covers` becomes applied_position().
  [[nodiscard]] Status LoadFrom(std::string_view payload, LogPosition covers = {});

 private:
  friend class WriteBatchPlanner;

  // The state of one id: a live object or a tombstone.
  struct Entry {
    Version version;
    bool live = false;
    std::vector<float> vector;       // live only
    std::string metadata;            // live only
    int64_t removed_at_wall_ns = 0;  // tombstone only
    uint64_t hash = 0;               // live only: ObjectHash, summed into digest_
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using EntryMap = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;

  // True if `incoming` replaces `existing` under last-writer-wins.
  static bool Supersedes(const Entry& incoming, const Entry& existing);
  static Status CheckMutation(const v1::Mutation& m, int dimension);
  static Entry EntryFromMutation(const v1::Mutation& m);

  // A copy of the state of `id`, or nullopt if the store never saw it (or
  // compacted its tombstone). For the planner.
  std::optional<Entry> Lookup(std::string_view id) const;
  // (id, version) of every live object with timestamp < before.
  std::vector<std::pair<std::string, Version>> LiveOlderThan(int64_t before) const;
  // Raises last_assigned_ to at least `ts`.
  void NoteAssigned(int64_t ts);
  void ApplyEntry(std::string id, Entry entry) REQUIRES(mu_);

  Clock& clock_;
  const ObjectStoreOptions options_;
  std::atomic<int64_t> last_assigned_{0};

  mutable SharedMutex mu_;
  EntryMap entries_ GUARDED_BY(mu_);
  size_t live_count_ GUARDED_BY(mu_) = 0;
  size_t tombstone_count_ GUARDED_BY(mu_) = 0;
  uint64_t digest_ GUARDED_BY(mu_) = 0;
  LogPosition applied_ GUARDED_BY(mu_);
  std::map<std::string, uint64_t> mirror_cursors_ GUARDED_BY(mu_);
  std::map<std::string, uint64_t> mirror_applied_ GUARDED_BY(mu_);
};

}  // namespace baton::gateway
