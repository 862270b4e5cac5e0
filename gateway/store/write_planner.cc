#include "gateway/store/write_planner.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace baton::gateway {
namespace {

constexpr int64_t kMaxTimestamp = std::numeric_limits<int64_t>::max();

std::string Quoted(const std::string& id) { return "object '" + id + "'"; }

WriteOutcome Decided(const std::string& id, StatusCode code, int64_t timestamp, std::string message = {}) {
  WriteOutcome out;
  out.code = code;
  out.id = id;
  out.timestamp = timestamp;
  out.message = std::move(message);
  return out;
}

}  // namespace

WriteRequest WriteRequest::Put(v1::WriteOp op, const v1::Object& object, std::string origin_cluster,
                               bool mirrored) {
  WriteRequest r;
  r.op = op;
  r.id = object.id();
  r.vector.assign(object.vector().begin(), object.vector().end());
  r.metadata = object.metadata();
  r.timestamp = object.timestamp();
  r.origin_cluster = std::move(origin_cluster);
  r.mirrored = mirrored;
  return r;
}

WriteRequest WriteRequest::Remove(std::string id, int64_t timestamp, std::string origin_cluster, bool mirrored) {
  WriteRequest r;
  r.op = v1::WRITE_OP_REMOVE;
  r.id = std::move(id);
  r.timestamp = timestamp;
  r.origin_cluster = std::move(origin_cluster);
  r.mirrored = mirrored;
  return r;
}

WriteRequest WriteRequest::RemoveByTimestamp(int64_t before, std::string origin_cluster, bool mirrored) {
  WriteRequest r;
  r.op = v1::WRITE_OP_REMOVE_BY_TIMESTAMP;
  r.before = before;
  r.origin_cluster = std::move(origin_cluster);
  r.mirrored = mirrored;
  return r;
}

WriteBatchPlanner::WriteBatchPlanner(ObjectStore& store) : store_(store) {}

std::optional<ObjectStore::Entry> WriteBatchPlanner::Current(const std::string& id) const {
  if (auto it = overlay_.find(id); it != overlay_.end()) return it->second;
  return store_.Lookup(id);
}

Result<int64_t> WriteBatchPlanner::AssignTimestamp(int64_t floor) {
  const int64_t last = store_.last_assigned_timestamp();
  if (floor == kMaxTimestamp || last == kMaxTimestamp) {
    return Status::FailedPrecondition("cannot assign a timestamp newer than " + std::to_string(kMaxTimestamp));
  }
  const int64_t wall_ns = ToNanos(store_.clock_.WallNow());
  const int64_t ts = std::max({wall_ns, last + 1, floor + 1});
  store_.NoteAssigned(ts);
  return ts;
}

v1::Mutation WriteBatchPlanner::PutMutation(const WriteRequest& request, const Version& version, bool assigned) {
  v1::Mutation m;
  m.set_op(request.op);
  m.set_timestamp_assigned(assigned);
  v1::StoredObject* put = m.mutable_put();
  put->set_id(request.id);
  put->mutable_vector()->Add(request.vector.begin(), request.vector.end());
  put->set_timestamp(version.timestamp);
  put->set_metadata(request.metadata);
  put->set_origin_cluster(request.origin_cluster);
  return m;
}

v1::Mutation WriteBatchPlanner::RemoveMutation(const WriteRequest& request, const Version& version, bool assigned) {
  v1::Mutation m;
  m.set_op(v1::WRITE_OP_REMOVE);
  m.set_timestamp_assigned(assigned);
  v1::Tombstone* t = m.mutable_remove();
  t->set_id(request.id);
  t->set_timestamp(version.timestamp);
  t->set_origin_cluster(request.origin_cluster);
  t->set_removed_at_wall_ns(ToNanos(store_.clock_.WallNow()));
  return m;
}

void WriteBatchPlanner::Commit(v1::Mutation mutation, const std::string& id, WriteOutcome* outcome) {
  overlay_[id] = ObjectStore::EntryFromMutation(mutation);
  outcome->mutations.push_back(std::move(mutation));
}

WriteOutcome WriteBatchPlanner::Plan(const WriteRequest& request) {
  switch (request.op) {
    case v1::WRITE_OP_INSERT:
    case v1::WRITE_OP_UPDATE:
    case v1::WRITE_OP_UPSERT:
      return PlanPut(request);
    case v1::WRITE_OP_REMOVE:
      return PlanRemove(request);
    case v1::WRITE_OP_REMOVE_BY_TIMESTAMP:
      return PlanRemoveByTimestamp(request);
    default:
      return Decided(request.id, StatusCode::kInvalidArgument, 0,
                     "op: " + std::to_string(static_cast<int>(request.op)) + " is not a write operation");
  }
}

Result<Version> WriteBatchPlanner::RequestVersion(const WriteRequest& request, const std::optional<Entry>& cur) {
  Version version{request.timestamp, request.origin_cluster};
  if (request.timestamp == 0) {
    BATON_ASSIGN_OR_RETURN(version.timestamp, AssignTimestamp(cur ? cur->version.timestamp : 0));
  }
  return version;
}

WriteOutcome WriteBatchPlanner::PlanPut(const WriteRequest& request) {
  const std::string& id = request.id;
  const std::optional<Entry> cur = Current(id);
  const bool live = cur && cur->live;

  const bool assigned = request.timestamp == 0;
  Result<Version> requested = RequestVersion(request, cur);
  if (!requested.ok()) {
    return Decided(id, requested.status().code(), 0, Quoted(id) + ": " + requested.status().message());
  }
  const Version version = *requested;

  const bool as_update = request.op == v1::WRITE_OP_UPDATE || (request.op == v1::WRITE_OP_UPSERT && live);
  if (live) {
    // Not newer than what is stored: an idempotent retry (or a stale mirrored
    // write); answer with the stored version.
    if (version <= cur->version) return Decided(id, StatusCode::kOk, cur->version.timestamp);
    if (!as_update) {
      return Decided(id, StatusCode::kAlreadyExists, cur->version.timestamp, Quoted(id) + " already exists");
    }
    if (cur->vector == request.vector && cur->metadata == request.metadata) {
      WriteOutcome same = Decided(id, StatusCode::kAlreadyExists, cur->version.timestamp,
                                  Quoted(id) + ": same vector and metadata as stored");
      // A peer's newer version of the same content still takes the version,
      // so that every cluster ends with the same (timestamp, origin): the
      // digests that prove convergence include it.
      if (request.mirrored) Commit(PutMutation(request, version, assigned), id, &same);
      return same;
    }
  } else if (cur && cur->version >= version) {
    // Removed by a newer (or this very) remove: a late write cannot resurrect.
    return Decided(id, StatusCode::kOk, cur->version.timestamp);
  } else if (as_update) {
    return Decided(id, StatusCode::kNotFound, 0, Quoted(id) + " not found");
  }

  WriteOutcome out = Decided(id, StatusCode::kOk, version.timestamp);
  Commit(PutMutation(request, version, assigned), id, &out);
  return out;
}

WriteOutcome WriteBatchPlanner::PlanRemove(const WriteRequest& request) {
  const std::string& id = request.id;
  const std::optional<Entry> cur = Current(id);
  const bool live = cur && cur->live;

  const bool assigned = request.timestamp == 0;
  Result<Version> requested = RequestVersion(request, cur);
  if (!requested.ok()) {
    return Decided(id, requested.status().code(), 0, Quoted(id) + ": " + requested.status().message());
  }
  const Version version = *requested;

  if (cur && version <= cur->version) {
    // Live and not older than us: idempotent retry. A tombstone at least as
    // new: already removed (by this remove, or by a newer one).
    return Decided(id, StatusCode::kOk, cur->version.timestamp);
  }
  if (!live) {
    WriteOutcome missing = Decided(id, StatusCode::kNotFound, 0, Quoted(id) + " not found");
    // A peer's remove may overtake the insert it removes (they come from
    // different clusters): the tombstone keeps that insert from landing later.
    if (request.mirrored) Commit(RemoveMutation(request, version, assigned), id, &missing);
    return missing;
  }
  WriteOutcome out = Decided(id, StatusCode::kOk, version.timestamp);
  Commit(RemoveMutation(request, version, assigned), id, &out);
  return out;
}

WriteOutcome WriteBatchPlanner::PlanRemoveByTimestamp(const WriteRequest& request) {
  const int64_t before = request.before;
  if (before <= 0) {
    return Decided({}, StatusCode::kInvalidArgument, 0, "before: " + std::to_string(before) + " is not positive");
  }
  // The store's matches, corrected by what this batch already changed.
  std::vector<std::pair<std::string, Version>> candidates = store_.LiveOlderThan(before);
  std::erase_if(candidates, [&](const auto& c) { return overlay_.count(c.first) > 0; });
  for (const auto& [id, e] : overlay_) {
    if (e.live && e.version.timestamp < before) candidates.emplace_back(id, e.version);
  }
  if (candidates.empty()) {
    return Decided({}, StatusCode::kNotFound, 0,
                   "no object has a timestamp before " + std::to_string(before));
  }
  std::sort(candidates.begin(), candidates.end());  // a deterministic log record

  Version version{request.timestamp, request.origin_cluster};
  const bool assigned = request.timestamp == 0;
  if (assigned) {
    int64_t floor = 0;
    for (const auto& c : candidates) floor = std::max(floor, c.second.timestamp);
    Result<int64_t> ts = AssignTimestamp(floor);
    if (!ts.ok()) return Decided({}, ts.status().code(), 0, ts.status().message());
    version.timestamp = *ts;
  }

  const int64_t now_ns = ToNanos(store_.clock_.WallNow());
  WriteOutcome out = Decided({}, StatusCode::kOk, version.timestamp);
  for (const auto& [id, stored] : candidates) {
    // Only an explicit (mirrored) timestamp can be older than a match.
    if (version <= stored) continue;
    v1::Mutation m;
    m.set_op(v1::WRITE_OP_REMOVE_BY_TIMESTAMP);
    m.set_timestamp_assigned(assigned);
    v1::Tombstone* t = m.mutable_remove();
    t->set_id(id);
    t->set_timestamp(version.timestamp);
    t->set_origin_cluster(request.origin_cluster);
    t->set_removed_at_wall_ns(now_ns);
    Commit(std::move(m), id, &out);
  }
  if (out.mutations.empty()) {
    return Decided({}, StatusCode::kNotFound, 0,
                   "no object older than the remove has a timestamp before " + std::to_string(before));
  }
  return out;
}

}  // namespace baton::gateway
