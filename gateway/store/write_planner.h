// Deciding writes before they are durable. The group-commit leader creates a
// WriteBatchPlanner per batch, plans every request of the batch in order, logs
// the resulting mutations in one record, fsyncs, and only then calls
// ObjectStore::Apply(). The status rules of PRODUCT.md sections 2, 6 and 9
// live here and nowhere else:
//
//   Insert  live, request <= stored      -> OK, stored timestamp, not applied
//           live, request newer          -> ALREADY_EXISTS
//           tombstone >= request         -> OK, tombstone timestamp, not applied
//           otherwise                    -> applied
//   Update  not live, tombstone >= req.  -> OK, tombstone timestamp, not applied
//           not live otherwise           -> NOT_FOUND
//           live, request <= stored      -> OK, stored timestamp, not applied
//           same vector and metadata     -> ALREADY_EXISTS (mirrored: the
//                                           newer version is still applied)
//           otherwise                    -> applied
//   Upsert  live: as Update; not live: as Insert
//   Remove  live, request <= stored      -> OK, stored timestamp, not applied
//           live otherwise               -> applied (leaves a tombstone)
//           not live, tombstone >= req.  -> OK, tombstone timestamp
//           not live otherwise           -> NOT_FOUND (mirrored: and a
//                                           tombstone is recorded)
//   RemoveByTimestamp(before): a tombstone for every live object with
//           timestamp < before; NOT_FOUND when none matched.
//
// "request <= stored" compares versions (timestamp, origin cluster). A
// timestamp of 0 is assigned here: max(wall now, last assigned + 1, stored
// timestamp of the id + 1), so assigned timestamps strictly increase per
// gateway and a local write always beats what is stored, even a version
// mirrored in from a peer whose clock runs ahead.
//
// Thread-safety: confined to the store's writer thread. Between constructing a
// planner and applying (or discarding) its mutations, no other planner may be
// created and no other record applied: the planner's overlay assumes the store
// does not change under it. `store` must outlive the planner.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "baton/v1/gateway.pb.h"
#include "baton/v1/storage.pb.h"
#include "common/status.h"
#include "gateway/store/store.h"

namespace baton::gateway {

// One write, independent of the RPC that carried it. Assumed validated
// (validation.h); the planner still refuses an unspecified op.
struct WriteRequest {
  v1::WriteOp op = v1::WRITE_OP_UNSPECIFIED;
  std::string id;              // every op but RemoveByTimestamp
  std::vector<float> vector;   // Insert, Update, Upsert
  std::string metadata;        // Insert, Update, Upsert
  int64_t timestamp = 0;       // 0: assigned by this gateway
  int64_t before = 0;          // RemoveByTimestamp only
  // Local cluster id for a client write; the peer's for a mirrored one.
  std::string origin_cluster;
  // Came from a peer (request metadata baton-mirror-origin): never forwarded.
  bool mirrored = false;

  // Insert/Update/Upsert of `object` (gateway.proto).
  static WriteRequest Put(v1::WriteOp op, const v1::Object& object, std::string origin_cluster,
                          bool mirrored = false);
  static WriteRequest Remove(std::string id, int64_t timestamp, std::string origin_cluster,
                             bool mirrored = false);
  static WriteRequest RemoveByTimestamp(int64_t before, std::string origin_cluster, bool mirrored = false);
};

// The decision about one WriteRequest.
struct WriteOutcome {
  StatusCode code = StatusCode::kOk;
  std::string message;  // empty when OK
  std::string id;       // the request's id; empty for RemoveByTimestamp
  // The stored version's timestamp after this write: the new one when
  // applied, the stored one for an idempotent retry or ALREADY_EXISTS, the
  // tombstones' one for RemoveByTimestamp; 0 for NOT_FOUND.
  int64_t timestamp = 0;
  // What to log and then Apply(); empty when nothing is applied. One per
  // removed object for RemoveByTimestamp.
  std::vector<v1::Mutation> mutations;

  bool ok() const { return code == StatusCode::kOk; }
  bool applied() const { return !mutations.empty(); }
};

class WriteBatchPlanner {
 public:
  explicit WriteBatchPlanner(ObjectStore& store);
  WriteBatchPlanner(const WriteBatchPlanner&) = delete;
  WriteBatchPlanner& operator=(const WriteBatchPlanner&) = delete;

  // Decides `request` against the store as it will be once every earlier
  // request of this batch is applied.
  WriteOutcome Plan(const WriteRequest& request);

 private:
  using Entry = ObjectStore::Entry;

  std::optional<Entry> Current(const std::string& id) const;
  // A fresh timestamp newer than `floor`; FAILED_PRECONDITION if int64 is
  // exhausted (a stored timestamp of INT64_MAX cannot be beaten).
  Result<int64_t> AssignTimestamp(int64_t floor);
  // The request's version: its own timestamp, or one assigned above `cur`.
  Result<Version> RequestVersion(const WriteRequest& request, const std::optional<Entry>& cur);
  WriteOutcome PlanPut(const WriteRequest& request);
  WriteOutcome PlanRemove(const WriteRequest& request);
  WriteOutcome PlanRemoveByTimestamp(const WriteRequest& request);
  v1::Mutation PutMutation(const WriteRequest& request, const Version& version, bool assigned);
  v1::Mutation RemoveMutation(const WriteRequest& request, const Version& version, bool assigned);
  // Records the mutation in the overlay and in `outcome`.
  void Commit(v1::Mutation mutation, const std::string& id, WriteOutcome* outcome);

  ObjectStore& store_;
  // The state of the ids this batch has already changed.
  std::unordered_map<std::string, Entry> overlay_;
};

}  // namespace baton::gateway
