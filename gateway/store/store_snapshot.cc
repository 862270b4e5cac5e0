// ObjectStore's snapshot payload: encode and decode the whole state.
//
// Payload := record(StoreSnapshotHeader)
//            record(StoredObject) x header.object_count
//            record(Tombstone)    x header.tombstone_count
// record(m) := varint length, then m serialized (storage.proto).
// The header also carries the mirror cursors (absent in older snapshots).
//
// Length-delimited small messages rather than one big message: protobuf caps a
// message at 2 GiB (4M objects of 128 floats), and a reader can say which
// record is broken. The file around the payload (position, crc, atomic
// rename) belongs to the snapshot writer, not to the store.
#include <string>
#include <utility>

#include "gateway/store/store.h"

namespace baton::gateway {
namespace {

constexpr uint32_t kPayloadFormatVersion = 1;

void AppendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void AppendRecord(std::string* out, const google::protobuf::MessageLite& m) {
  const size_t n = m.ByteSizeLong();
  AppendVarint(out, n);
  const size_t at = out->size();
  out->resize(at + n);
  m.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out->data() + at));
}

// Reads records from a payload; every failure says where.
class RecordReader {
 public:
  explicit RecordReader(std::string_view data) : data_(data) {}

  Status Next(google::protobuf::MessageLite* m, const std::string& what) {
    const size_t start = pos_;
    uint64_t len = 0;
    for (int shift = 0;; shift += 7) {
      if (pos_ >= data_.size()) return Status::DataLoss(what + ": truncated length at offset " + std::to_string(start));
      if (shift > 63) return Status::DataLoss(what + ": bad length at offset " + std::to_string(start));
      const auto byte = static_cast<uint8_t>(data_[pos_++]);
      len |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
    }
    if (len > data_.size() - pos_) {
      return Status::DataLoss(what + ": length " + std::to_string(len) + " at offset " + std::to_string(start) +
                              " runs past the end (" + std::to_string(data_.size() - pos_) + " bytes left)");
    }
    if (!m->ParseFromArray(data_.data() + pos_, static_cast<int>(len))) {
      return Status::DataLoss(what + ": does not parse (offset " + std::to_string(start) + ")");
    }
    pos_ += len;
    return Status::Ok();
  }
  size_t remaining() const { return data_.size() - pos_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace

Status ObjectStore::SerializeTo(std::string* out, LogPosition* covers) const {
  ReaderLock lock(&mu_);
  if (covers) *covers = applied_;
  v1::StoreSnapshotHeader header;
  header.set_format_version(kPayloadFormatVersion);
  header.set_dimension(static_cast<uint32_t>(options_.dimension));
  header.set_object_count(live_count_);
  header.set_tombstone_count(tombstone_count_);
  header.set_last_assigned_timestamp(last_assigned_timestamp());
  header.set_digest(digest_);
  for (const auto& [target, seq] : mirror_cursors_) {
    v1::MirrorCursor* cursor = header.add_mirror_cursors();
    cursor->set_target(target);
    cursor->set_delivered_seq(seq);
  }
  const size_t per_object = static_cast<size_t>(options_.dimension) * sizeof(float) + 48;
  out->reserve(out->size() + 64 + live_count_ * per_object + tombstone_count_ * 48);
  AppendRecord(out, header);

  v1::StoredObject object;  // reused: keeps its buffers between records
  for (const auto& [id, e] : entries_) {
    if (!e.live) continue;
    object.set_id(id);
    object.mutable_vector()->Clear();
    object.mutable_vector()->Add(e.vector.begin(), e.vector.end());
    object.set_timestamp(e.version.timestamp);
    object.set_metadata(e.metadata);
    object.set_origin_cluster(e.version.origin_cluster);
    AppendRecord(out, object);
  }
  v1::Tombstone tombstone;
  for (const auto& [id, e] : entries_) {
    if (e.live) continue;
    tombstone.set_id(id);
    tombstone.set_timestamp(e.version.timestamp);
    tombstone.set_origin_cluster(e.version.origin_cluster);
    tombstone.set_removed_at_wall_ns(e.removed_at_wall_ns);
    AppendRecord(out, tombstone);
  }
  return Status::Ok();
}

Status ObjectStore::LoadFrom(std::string_view payload, LogPosition covers) {
  RecordReader reader(payload);
  v1::StoreSnapshotHeader header;
  BATON_RETURN_IF_ERROR(reader.Next(&header, "snapshot header"));
  if (header.format_version() != kPayloadFormatVersion) {
    return Status::FailedPrecondition("snapshot format_version " + std::to_string(header.format_version()) +
                                      " is not supported (this gateway reads " + std::to_string(kPayloadFormatVersion) + ")");
  }
  const int dimension = options_.dimension > 0 ? options_.dimension : static_cast<int>(header.dimension());
  if (options_.dimension > 0 && header.dimension() != 0 &&
      header.dimension() != static_cast<uint32_t>(options_.dimension)) {
    return Status::FailedPrecondition("snapshot dimension " + std::to_string(header.dimension()) +
                                      ", index.dimension is " + std::to_string(options_.dimension));
  }
  // Every record takes at least one byte: bounds the counts before reserving.
  if (header.object_count() > reader.remaining() || header.tombstone_count() > reader.remaining() - header.object_count()) {
    return Status::DataLoss("snapshot header: " + std::to_string(header.object_count()) + " objects and " +
                            std::to_string(header.tombstone_count()) + " tombstones cannot fit in " +
                            std::to_string(reader.remaining()) + " bytes");
  }

  EntryMap entries;
  entries.reserve(header.object_count() + header.tombstone_count());
  uint64_t digest = 0;
  v1::StoredObject object;
  for (uint64_t i = 0; i < header.object_count(); ++i) {
    const std::string what = "snapshot object " + std::to_string(i);
    BATON_RETURN_IF_ERROR(reader.Next(&object, what));
    if (object.id().empty()) return Status::DataLoss(what + ": empty id");
    if (object.timestamp() <= 0) return Status::DataLoss(what + " '" + object.id() + "': timestamp " +
                                                         std::to_string(object.timestamp()) + " is not positive");
    if (dimension > 0 && object.vector_size() != dimension) {
      return Status::DataLoss(what + " '" + object.id() + "': vector has " + std::to_string(object.vector_size()) +
                              " values, dimension is " + std::to_string(dimension));
    }
    Entry e;
    e.version = Version{object.timestamp(), object.origin_cluster()};
    e.live = true;
    e.vector.assign(object.vector().begin(), object.vector().end());
    e.metadata = object.metadata();
    e.hash = ObjectHash(object.id(), object.timestamp(), e.vector, e.metadata);
    digest += e.hash;
    if (!entries.emplace(object.id(), std::move(e)).second) {
      return Status::DataLoss(what + ": duplicate id '" + object.id() + "'");
    }
  }
  v1::Tombstone tombstone;
  for (uint64_t i = 0; i < header.tombstone_count(); ++i) {
    const std::string what = "snapshot tombstone " + std::to_string(i);
    BATON_RETURN_IF_ERROR(reader.Next(&tombstone, what));
    if (tombstone.id().empty()) return Status::DataLoss(what + ": empty id");
    if (tombstone.timestamp() <= 0) return Status::DataLoss(what + " '" + tombstone.id() + "': timestamp " +
                                                            std::to_string(tombstone.timestamp()) + " is not positive");
    Entry e;
    e.version = Version{tombstone.timestamp(), tombstone.origin_cluster()};
    e.removed_at_wall_ns = tombstone.removed_at_wall_ns();
    if (!entries.emplace(tombstone.id(), std::move(e)).second) {
      return Status::DataLoss(what + ": duplicate id '" + tombstone.id() + "'");
    }
  }
  if (reader.remaining() != 0) {
    return Status::DataLoss("snapshot: " + std::to_string(reader.remaining()) + " bytes after the last record");
  }
  if (digest != header.digest()) {
    return Status::DataLoss("snapshot: digest of the objects does not match the header");
  }

  {
    WriterLock lock(&mu_);
    entries_.swap(entries);
    live_count_ = header.object_count();
    tombstone_count_ = header.tombstone_count();
    digest_ = digest;
    applied_ = covers;
    mirror_cursors_.clear();
    for (const v1::MirrorCursor& cursor : header.mirror_cursors()) {
      mirror_cursors_[cursor.target()] = cursor.delivered_seq();
    }
  }
  last_assigned_.store(header.last_assigned_timestamp(), std::memory_order_relaxed);
  // The old state is freed here, outside the lock.
  return Status::Ok();
}

}  // namespace baton::gateway
