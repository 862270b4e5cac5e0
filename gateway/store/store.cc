#include "gateway/store/store.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace baton::gateway {

ObjectStore::ObjectStore(Clock& clock, ObjectStoreOptions options) : clock_(clock), options_(options) {}

std::optional<Object> ObjectStore::Get(std::string_view id) const {
  ReaderLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || !it->second.live) return std::nullopt;
  const Entry& e = it->second;
  return Object{it->first, e.vector, e.version.timestamp, e.metadata, e.version.origin_cluster};
}

bool ObjectStore::Exists(std::string_view id) const {
  ReaderLock lock(&mu_);
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.live;
}

bool ObjectStore::GetVector(std::string_view id, std::vector<float>* out) const {
  ReaderLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || !it->second.live) return false;
  *out = it->second.vector;
  return true;
}

void ObjectStore::ForEachLive(const VectorVisitor& fn) const {
  ReaderLock lock(&mu_);
  for (const auto& [id, e] : entries_) {
    if (e.live) fn(id, e.vector);
  }
}

void ObjectStore::ForEachLiveOf(std::span<const std::string> ids, const VectorVisitor& fn) const {
  ReaderLock lock(&mu_);
  for (const std::string& id : ids) {
    auto it = entries_.find(id);
    if (it != entries_.end() && it->second.live) fn(it->first, it->second.vector);
  }
}

size_t ObjectStore::size() const {
  ReaderLock lock(&mu_);
  return live_count_;
}

size_t ObjectStore::tombstone_count() const {
  ReaderLock lock(&mu_);
  return tombstone_count_;
}

uint64_t ObjectStore::digest() const {
  ReaderLock lock(&mu_);
  return digest_;
}

std::optional<ObjectStore::Entry> ObjectStore::Lookup(std::string_view id) const {
  ReaderLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, Version>> ObjectStore::LiveOlderThan(int64_t before) const {
  std::vector<std::pair<std::string, Version>> out;
  ReaderLock lock(&mu_);
  for (const auto& [id, e] : entries_) {
    if (e.live && e.version.timestamp < before) out.emplace_back(id, e.version);
  }
  return out;
}

void ObjectStore::NoteAssigned(int64_t ts) {
  int64_t cur = last_assigned_.load(std::memory_order_relaxed);
  while (ts > cur && !last_assigned_.compare_exchange_weak(cur, ts, std::memory_order_relaxed)) {
  }
}

// Last-writer-wins with a total order, so that the outcome never depends on
// the order mutations arrive in: the higher version wins; at an equal version
// (which the planner never produces, but a buggy or hostile peer might) a
// tombstone beats a put, and between two puts or two tombstones the greater
// content wins.
bool ObjectStore::Supersedes(const Entry& incoming, const Entry& existing) {
  if (auto c = incoming.version <=> existing.version; c != 0) return c > 0;
  if (incoming.live != existing.live) return !incoming.live;
  if (!incoming.live) return incoming.removed_at_wall_ns > existing.removed_at_wall_ns;
  const size_t a_bytes = incoming.vector.size() * sizeof(float);
  const size_t b_bytes = existing.vector.size() * sizeof(float);
  if (a_bytes != b_bytes) return a_bytes > b_bytes;
  if (int c = std::memcmp(incoming.vector.data(), existing.vector.data(), a_bytes); c != 0) return c > 0;
  return incoming.metadata > existing.metadata;
}

Status ObjectStore::CheckMutation(const v1::Mutation& m, int dimension) {
  switch (m.kind_case()) {
    case v1::Mutation::kPut: {
      const v1::StoredObject& p = m.put();
      if (p.id().empty()) return Status::InvalidArgument("put.id: empty");
      if (p.timestamp() <= 0) return Status::InvalidArgument("put '" + p.id() + "': timestamp " +
                                                             std::to_string(p.timestamp()) + " is not positive");
      if (dimension > 0 && p.vector_size() != dimension) {
        return Status::InvalidArgument("put '" + p.id() + "': vector has " + std::to_string(p.vector_size()) +
                                       " values, dimension is " + std::to_string(dimension));
      }
      return Status::Ok();
    }
    case v1::Mutation::kRemove: {
      const v1::Tombstone& t = m.remove();
      if (t.id().empty()) return Status::InvalidArgument("remove.id: empty");
      if (t.timestamp() <= 0) return Status::InvalidArgument("remove '" + t.id() + "': timestamp " +
                                                             std::to_string(t.timestamp()) + " is not positive");
      return Status::Ok();
    }
    case v1::Mutation::KIND_NOT_SET:
      break;
  }
  return Status::InvalidArgument("neither put nor remove set");
}

ObjectStore::Entry ObjectStore::EntryFromMutation(const v1::Mutation& m) {
  Entry e;
  if (m.has_put()) {
    const v1::StoredObject& p = m.put();
    e.version = Version{p.timestamp(), p.origin_cluster()};
    e.live = true;
    e.vector.assign(p.vector().begin(), p.vector().end());
    e.metadata = p.metadata();
    e.hash = ObjectHash(p.id(), p.timestamp(), e.vector, e.metadata);
  } else {
    const v1::Tombstone& t = m.remove();
    e.version = Version{t.timestamp(), t.origin_cluster()};
    e.removed_at_wall_ns = t.removed_at_wall_ns();
  }
  return e;
}

void ObjectStore::ApplyEntry(std::string id, Entry entry) {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    if (entry.live) {
      ++live_count_;
      digest_ += entry.hash;
    } else {
      ++tombstone_count_;
    }
    entries_.emplace(std::move(id), std::move(entry));
    return;
  }
  Entry& old = it->second;
  if (!Supersedes(entry, old)) return;
  if (old.live) {
    --live_count_;
    digest_ -= old.hash;
  } else {
    --tombstone_count_;
  }
  if (entry.live) {
    ++live_count_;
    digest_ += entry.hash;
  } else {
    ++tombstone_count_;
  }
  old = std::move(entry);
}

Status ObjectStore::Apply(const v1::WriteRecord& record, LogPosition at) {
  // Check everything first: a record applies entirely or not at all.
  for (int i = 0; i < record.mutations_size(); ++i) {
    Status s = CheckMutation(record.mutations(i), options_.dimension);
    if (!s.ok()) return s.WithContext("mutation " + std::to_string(i));
  }
  // Decode outside the lock: readers should wait only for the map updates.
  std::vector<std::pair<std::string, Entry>> decoded;
  decoded.reserve(record.mutations_size());
  int64_t max_assigned = 0;
  for (const v1::Mutation& m : record.mutations()) {
    const std::string& id = m.has_put() ? m.put().id() : m.remove().id();
    decoded.emplace_back(id, EntryFromMutation(m));
    if (m.timestamp_assigned()) max_assigned = std::max(max_assigned, decoded.back().second.version.timestamp);
  }
  {
    WriterLock lock(&mu_);
    for (auto& [id, entry] : decoded) ApplyEntry(std::move(id), std::move(entry));
    if (at.seq != 0) applied_ = at;
    if (!record.mirror_origin().empty()) mirror_applied_[record.mirror_origin()] += decoded.size();
  }
  // A mirrored record's timestamps were assigned by the peer, not by us.
  if (record.mirror_origin().empty()) NoteAssigned(max_assigned);
  return Status::Ok();
}

LogPosition ObjectStore::applied_position() const {
  ReaderLock lock(&mu_);
  return applied_;
}

std::vector<v1::Mutation> ObjectStore::ExportMutations(LogPosition* at) const {
  std::vector<v1::Mutation> out;
  ReaderLock lock(&mu_);
  *at = applied_;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) {
    v1::Mutation& m = out.emplace_back();
    if (e.live) {
      m.set_op(v1::WRITE_OP_UPSERT);
      v1::StoredObject* put = m.mutable_put();
      put->set_id(id);
      put->mutable_vector()->Add(e.vector.begin(), e.vector.end());
      put->set_timestamp(e.version.timestamp);
      put->set_metadata(e.metadata);
      put->set_origin_cluster(e.version.origin_cluster);
    } else {
      m.set_op(v1::WRITE_OP_REMOVE);
      v1::Tombstone* t = m.mutable_remove();
      t->set_id(id);
      t->set_timestamp(e.version.timestamp);
      t->set_origin_cluster(e.version.origin_cluster);
      t->set_removed_at_wall_ns(e.removed_at_wall_ns);
    }
  }
  return out;
}

void ObjectStore::ApplyCursors(const v1::MirrorCursorRecord& record, LogPosition at) {
  WriterLock lock(&mu_);
  for (const v1::MirrorCursor& cursor : record.cursors()) {
    uint64_t& seq = mirror_cursors_[cursor.target()];
    seq = std::max(seq, cursor.delivered_seq());
  }
  if (at.seq != 0) applied_ = at;
}

std::map<std::string, uint64_t> ObjectStore::mirror_cursors() const {
  ReaderLock lock(&mu_);
  return mirror_cursors_;
}

std::map<std::string, uint64_t> ObjectStore::mirror_applied() const {
  ReaderLock lock(&mu_);
  return mirror_applied_;
}

void ObjectStore::Clear() {
  EntryMap old;
  {
    WriterLock lock(&mu_);
    entries_.swap(old);
    live_count_ = 0;
    tombstone_count_ = 0;
    digest_ = 0;
    applied_ = LogPosition{};
    mirror_cursors_.clear();
  }
  last_assigned_.store(0, std::memory_order_relaxed);
}

size_t ObjectStore::CompactTombstones(WallTime older_than) {
  const int64_t limit_ns = ToNanos(older_than);
  WriterLock lock(&mu_);
  size_t dropped = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!it->second.live && it->second.removed_at_wall_ns < limit_ns) {
      it = entries_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  tombstone_count_ -= dropped;
  return dropped;
}

}  // namespace baton::gateway
