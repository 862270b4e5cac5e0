// Fuzz target: client request validation (gateway/store/validation.*) on
// requests parsed from bytes with protobuf's ParseFromArray, and what the
// gateway does next with a request validation lets through: the planner
// decides it and the store applies the logged record
// (gateway/store/write_planner.*, store.cc).
//
// Input: byte 0 picks the request type (low 4 bits, see kKinds) and whether
// it arrives mirrored from a peer (bit 4); the rest is the serialized
// request. Checks:
//  - validation returns OK or INVALID_ARGUMENT (nothing else, no crash);
//  - a write it accepts is planned, and the record WritePath would log from
//    the plan parses back and applies (the gateway treats a planned record
//    that does not apply as a bug: it is durable and replay would fail on
//    it), leaving each id at the version of its last applied mutation;
//  - IsValidUtf8 agrees with nlohmann's UTF-8 check on the raw bytes.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "baton/v1/gateway.pb.h"
#include "baton/v1/storage.pb.h"
#include "common/clock.h"
#include "gateway/store/store.h"
#include "gateway/store/validation.h"
#include "gateway/store/write_planner.h"
#include "tests/fuzz/fuzz_util.h"

namespace baton::gateway {
namespace {

constexpr int kDimension = 4;
const ValidationOptions kOptions{kDimension, 1000};

enum Kind : uint8_t {
  kInsert, kUpdate, kUpsert, kRemove, kRemoveByTimestamp, kMultiInsert, kMultiUpdate, kMultiUpsert,
  kMultiRemove, kSearch, kSearchByID, kGetObject, kExists, kKinds
};

// "a" and "b" live, "c" removed: the seeds' ids reach every status rule.
void Prefill(ObjectStore& store) {
  v1::WriteRecord record;
  for (const char* id : {"a", "b"}) {
    v1::StoredObject* put = record.add_mutations()->mutable_put();
    put->set_id(id);
    for (int i = 0; i < kDimension; ++i) put->add_vector(static_cast<float>(i));
    put->set_timestamp(1000);
  }
  v1::Tombstone* removed = record.add_mutations()->mutable_remove();
  removed->set_id("c");
  removed->set_timestamp(1000);
  FUZZ_CHECK(store.Apply(record, LogPosition{1, 1}).ok());
}

template <typename Request>
bool Parse(std::string_view bytes, Request* request) {
  return request->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

// Validates the request of kind `kind` in `bytes`; fills *writes with what
// the client service would hand the planner when it is a valid write.
// False when the bytes do not parse as that request.
bool Validate(uint8_t kind, std::string_view bytes, const std::string& origin, bool mirrored, Status* status,
              std::vector<WriteRequest>* writes) {
  auto put = [&](v1::WriteOp op, const v1::Object& object) { writes->push_back(WriteRequest::Put(op, object, origin, mirrored)); };
  switch (kind) {
    case kInsert: {
      v1::InsertRequest r;
      if (!Parse(bytes, &r)) return false;
      *status = ValidateInsert(r, kOptions);
      put(v1::WRITE_OP_INSERT, r.object());
      return true;
    }
    case kUpdate: {
      v1::UpdateRequest r;
      if (!Parse(bytes, &r)) return false;
      *status = ValidateUpdate(r, kOptions);
      put(v1::WRITE_OP_UPDATE, r.object());
      return true;
    }
    case kUpsert: {
      v1::UpsertRequest r;
      if (!Parse(bytes, &r)) return false;
      *status = ValidateUpsert(r, kOptions);
      put(v1::WRITE_OP_UPSERT, r.object());
      return true;
    }
    case kRemove: {
      v1::RemoveRequest r;
      if (!Parse(bytes, &r)) return false;
      *status = ValidateRemove(r);
      writes->push_back(WriteRequest::Remove(r.id(), r.timestamp(), origin, mirrored));
      return true;
    }
    case kRemoveByTimestamp: {
      v1::RemoveByTimestampRequest r;
      if (!Parse(bytes, &r)) return false;
      *status = ValidateRemoveByTimestamp(r);
      writes->push_back(WriteRequest::RemoveByTimestamp(r.before(), origin, mirrored));
      return true;
    }
    case kMultiInsert: {
      v1::MultiInsertRequest r;
      if (!Parse(bytes, &r)) return false;
      *status = ValidateMultiInsert(r, kOptions);
      for (const auto& item : r.requests()) put(v1::WRITE_OP_INSERT, item.object());
      return true;
    }
    case kMultiUpdate: {
      v1::MultiUpdateRequest r;
      if (!Parse(bytes, &r)) return false;
      *status = ValidateMultiUpdate(r, kOptions);
      for (const auto& item : r.requests()) put(v1::WRITE_OP_UPDATE, item.object());
      return true;
    }
    case kMultiUpsert: {
      v1::MultiUpsertRequest r;
      if (!Parse(bytes, &r)) return false;
      *status = ValidateMultiUpsert(r, kOptions);
      for (const auto& item : r.requests()) put(v1::WRITE_OP_UPSERT, item.object());
      return true;
    }
    case kMultiRemove: {
      v1::MultiRemoveRequest r;
      if (!Parse(bytes, &r)) return false;
      *status = ValidateMultiRemove(r);
      for (const auto& item : r.requests()) {
        writes->push_back(WriteRequest::Remove(item.id(), item.timestamp(), origin, mirrored));
      }
      return true;
    }
    case kSearch: {
      v1::SearchRequest r;
      if (!Parse(bytes, &r)) return false;
      *status = ValidateSearch(r, kOptions);
      return true;
    }
    case kSearchByID: {
      v1::SearchByIDRequest r;
      if (!Parse(bytes, &r)) return false;
      *status = ValidateSearchByID(r, kOptions);
      return true;
    }
    case kGetObject: {
      v1::GetObjectRequest r;
      if (!Parse(bytes, &r)) return false;
      *status = ValidateGetObject(r);
      return true;
    }
    case kExists: {
      v1::ExistsRequest r;
      if (!Parse(bytes, &r)) return false;
      *status = ValidateExists(r);
      return true;
    }
  }
  return false;
}

// Plans the writes as one call (one log record), as WritePath::Prepare does,
// round-trips the record through its encoding and applies it.
void PlanAndApply(const std::vector<WriteRequest>& writes) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDimension});
  Prefill(store);
  WriteBatchPlanner planner(store);
  v1::WriteRecord record;
  for (const WriteRequest& request : writes) {
    WriteOutcome outcome = planner.Plan(request);
    FUZZ_CHECK(outcome.ok() == outcome.message.empty(), outcome.message);
    for (v1::Mutation& m : outcome.mutations) *record.add_mutations() = m;
    if (request.mirrored) record.set_mirror_origin(request.origin_cluster);
    if (request.op == v1::WRITE_OP_REMOVE_BY_TIMESTAMP) record.set_remove_before(request.before);
  }
  if (record.mutations_size() == 0) return;
  std::string payload;
  FUZZ_CHECK(record.SerializeToString(&payload));
  v1::WriteRecord logged;
  FUZZ_CHECK(logged.ParseFromString(payload), "a planned record does not parse back");
  Status applied = store.Apply(logged, LogPosition{1, 2});
  FUZZ_CHECK(applied.ok(), "a planned record does not apply: " + applied.ToString());

  // Later mutations of an id in one record supersede earlier ones.
  std::map<std::string, const v1::Mutation*> last;
  for (const v1::Mutation& m : logged.mutations()) last[m.has_put() ? m.put().id() : m.remove().id()] = &m;
  for (const auto& [id, m] : last) {
    std::optional<Object> now = store.Get(id);
    if (m->has_put()) {
      FUZZ_CHECK(now.has_value() && now->timestamp == m->put().timestamp(), "object '" + id + "' is not as planned");
    } else {
      FUZZ_CHECK(!now.has_value(), "object '" + id + "' survived its planned remove");
    }
  }
}

void CheckUtf8(std::string_view bytes) {
  size_t bad = 0;
  const bool ours = IsValidUtf8(bytes, &bad);
  bool theirs = true;
  try {
    (void)nlohmann::json(std::string(bytes)).dump();
  } catch (const nlohmann::json::type_error&) {
    theirs = false;
  }
  FUZZ_CHECK(ours == theirs, std::string("IsValidUtf8 says ") + (ours ? "valid" : "invalid"));
  if (!ours) {
    FUZZ_CHECK(bad < bytes.size());
    size_t unused = 0;
    FUZZ_CHECK(IsValidUtf8(bytes.substr(0, bad), &unused), "bytes before the reported bad offset are not valid");
  }
}

}  // namespace
}  // namespace baton::gateway

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  baton::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace baton;
  using namespace baton::gateway;
  if (size == 0) return 0;
  const uint8_t kind = bytes[0] & 0x0f;
  const bool mirrored = (bytes[0] & 0x10) != 0;
  const std::string_view body(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  CheckUtf8(body.substr(0, 1024));

  Status status;
  std::vector<WriteRequest> writes;
  if (kind >= kKinds || !Validate(kind, body, mirrored ? "c2" : "c1", mirrored, &status, &writes)) return 0;
  FUZZ_CHECK(status.ok() || status.code() == StatusCode::kInvalidArgument, status.ToString());
  if (status.ok() && !writes.empty()) PlanAndApply(writes);
  return 0;
}
