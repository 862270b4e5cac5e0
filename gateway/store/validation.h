// Validation of client requests (gateway.proto) before anything is planned.
// Every failure is INVALID_ARGUMENT with a message that starts with the path
// of the offending field, as the client spelled it:
//   "object.vector: 3 values, index.dimension is 128"
//   "object.vector[5] is NaN"
//   "requests[3].object.id: empty"
// A Multi* request is invalid as a whole when any item is (PRODUCT.md section
// 9): the first bad item is named and nothing is applied.
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "baton/v1/gateway.pb.h"
#include "common/status.h"

namespace baton::gateway {

inline constexpr size_t kMaxIdBytes = 256;
inline constexpr size_t kMaxMetadataBytes = 64 * 1024;

struct ValidationOptions {
  // index.dimension: every vector has exactly this many values. Must be > 0.
  int dimension = 0;
  // Search k must be in 1..max_k.
  uint32_t max_k = 1000;
};

// Field checks; `field` is the path used in the message ("object.id").
Status ValidateId(std::string_view id, std::string_view field);
Status ValidateVector(std::span<const float> vector, std::string_view field, const ValidationOptions& options);
Status ValidateObject(const v1::Object& object, std::string_view field, const ValidationOptions& options);

// Writes.
Status ValidateInsert(const v1::InsertRequest& request, const ValidationOptions& options);
Status ValidateUpdate(const v1::UpdateRequest& request, const ValidationOptions& options);
Status ValidateUpsert(const v1::UpsertRequest& request, const ValidationOptions& options);
Status ValidateRemove(const v1::RemoveRequest& request);
Status ValidateRemoveByTimestamp(const v1::RemoveByTimestampRequest& request);
Status ValidateMultiInsert(const v1::MultiInsertRequest& request, const ValidationOptions& options);
Status ValidateMultiUpdate(const v1::MultiUpdateRequest& request, const ValidationOptions& options);
Status ValidateMultiUpsert(const v1::MultiUpsertRequest& request, const ValidationOptions& options);
Status ValidateMultiRemove(const v1::MultiRemoveRequest& request);

// Reads.
Status ValidateSearch(const v1::SearchRequest& request, const ValidationOptions& options);
Status ValidateSearchByID(const v1::SearchByIDRequest& request, const ValidationOptions& options);
Status ValidateGetObject(const v1::GetObjectRequest& request);
Status ValidateExists(const v1::ExistsRequest& request);

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points above U+10FFFF); otherwise *bad_offset is the first bad byte.
bool IsValidUtf8(std::string_view s, size_t* bad_offset);

}  // namespace baton::gateway
