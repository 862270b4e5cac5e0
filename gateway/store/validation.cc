#include "gateway/store/validation.h"

#include <cmath>
#include <string>

namespace baton::gateway {
namespace {

Status Invalid(std::string_view field, const std::string& reason) {
  return Status::InvalidArgument(std::string(field) + ": " + reason);
}

std::string Join(std::string_view prefix, std::string_view field) {
  std::string s(prefix);
  s += field;
  return s;
}

Status ValidateTimestamp(int64_t timestamp, std::string_view field) {
  if (timestamp < 0) return Invalid(field, std::to_string(timestamp) + " is negative");
  return Status::Ok();
}

Status ValidateRemoveItem(const v1::RemoveRequest& request, std::string_view prefix) {
  BATON_RETURN_IF_ERROR(ValidateId(request.id(), Join(prefix, "id")));
  return ValidateTimestamp(request.timestamp(), Join(prefix, "timestamp"));
}

// "requests[3]." for item 3 of a Multi* request.
template <typename Items, typename Fn>
Status ValidateItems(const Items& items, Fn validate_one) {
  for (int i = 0; i < items.size(); ++i) {
    BATON_RETURN_IF_ERROR(validate_one(items.Get(i), "requests[" + std::to_string(i) + "]."));
  }
  return Status::Ok();
}

}  // namespace

bool IsValidUtf8(std::string_view s, size_t* bad_offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      *bad_offset = i;
      return false;
    }
    if (i + len > n) {
      *bad_offset = i;
      return false;
    }
    for (size_t j = 1; j < len; ++j) {
      if ((p[i + j] & 0xc0) != 0x80) {
        *bad_offset = i;
        return false;
      }
      cp = (cp << 6) | (p[i + j] & 0x3f);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      *bad_offset = i;
      return false;
    }
    i += len;
  }
  return true;
}

Status ValidateId(std::string_view id, std::string_view field) {
  if (id.empty()) return Invalid(field, "empty");
  if (id.size() > kMaxIdBytes) {
    return Invalid(field, std::to_string(id.size()) + " bytes, at most " + std::to_string(kMaxIdBytes));
  }
  size_t bad = 0;
  if (!IsValidUtf8(id, &bad)) return Invalid(field, "not valid UTF-8 (byte " + std::to_string(bad) + ")");
  return Status::Ok();
}

Status ValidateVector(std::span<const float> vector, std::string_view field, const ValidationOptions& options) {
  if (options.dimension <= 0) return Status::Internal("validation: index.dimension is not configured");
  if (vector.size() != static_cast<size_t>(options.dimension)) {
    return Invalid(field, std::to_string(vector.size()) + " values, index.dimension is " +
                              std::to_string(options.dimension));
  }
  for (size_t i = 0; i < vector.size(); ++i) {
    const float v = vector[i];
    if (std::isnan(v)) {
      return Status::InvalidArgument(std::string(field) + "[" + std::to_string(i) + "] is NaN");
    }
    if (std::isinf(v)) {
      return Status::InvalidArgument(std::string(field) + "[" + std::to_string(i) + "] is " +
                                     (v > 0 ? "+Inf" : "-Inf"));
    }
  }
  return Status::Ok();
}

Status ValidateObject(const v1::Object& object, std::string_view field, const ValidationOptions& options) {
  const std::string prefix = std::string(field) + ".";
  BATON_RETURN_IF_ERROR(ValidateId(object.id(), prefix + "id"));
  BATON_RETURN_IF_ERROR(ValidateVector({object.vector().data(), static_cast<size_t>(object.vector_size())}, prefix + "vector", options));
  BATON_RETURN_IF_ERROR(ValidateTimestamp(object.timestamp(), prefix + "timestamp"));
  if (object.metadata().size() > kMaxMetadataBytes) {
    return Invalid(prefix + "metadata", std::to_string(object.metadata().size()) + " bytes, at most " +
                                            std::to_string(kMaxMetadataBytes));
  }
  return Status::Ok();
}

Status ValidateInsert(const v1::InsertRequest& request, const ValidationOptions& options) {
  return ValidateObject(request.object(), "object", options);
}
Status ValidateUpdate(const v1::UpdateRequest& request, const ValidationOptions& options) {
  return ValidateObject(request.object(), "object", options);
}
Status ValidateUpsert(const v1::UpsertRequest& request, const ValidationOptions& options) {
  return ValidateObject(request.object(), "object", options);
}
Status ValidateRemove(const v1::RemoveRequest& request) { return ValidateRemoveItem(request, ""); }

Status ValidateRemoveByTimestamp(const v1::RemoveByTimestampRequest& request) {
  if (request.before() <= 0) return Invalid("before", std::to_string(request.before()) + " is not positive");
  return Status::Ok();
}

Status ValidateMultiInsert(const v1::MultiInsertRequest& request, const ValidationOptions& options) {
  return ValidateItems(request.requests(), [&](const v1::InsertRequest& r, const std::string& prefix) {
    return ValidateObject(r.object(), prefix + "object", options);
  });
}
Status ValidateMultiUpdate(const v1::MultiUpdateRequest& request, const ValidationOptions& options) {
  return ValidateItems(request.requests(), [&](const v1::UpdateRequest& r, const std::string& prefix) {
    return ValidateObject(r.object(), prefix + "object", options);
  });
}
Status ValidateMultiUpsert(const v1::MultiUpsertRequest& request, const ValidationOptions& options) {
  return ValidateItems(request.requests(), [&](const v1::UpsertRequest& r, const std::string& prefix) {
    return ValidateObject(r.object(), prefix + "object", options);
  });
}
Status ValidateMultiRemove(const v1::MultiRemoveRequest& request) {
  return ValidateItems(request.requests(), [&](const v1::RemoveRequest& r, const std::string& prefix) {
    return ValidateRemoveItem(r, prefix);
  });
}

Status ValidateSearch(const v1::SearchRequest& request, const ValidationOptions& options) {
  BATON_RETURN_IF_ERROR(ValidateVector({request.vector().data(), static_cast<size_t>(request.vector_size())}, "vector", options));
  if (request.k() < 1 || request.k() > options.max_k) {
    return Invalid("k", std::to_string(request.k()) + " is outside 1.." + std::to_string(options.max_k));
  }
  return Status::Ok();
}

Status ValidateSearchByID(const v1::SearchByIDRequest& request, const ValidationOptions& options) {
  BATON_RETURN_IF_ERROR(ValidateId(request.id(), "id"));
  if (request.k() < 1 || request.k() > options.max_k) {
    return Invalid("k", std::to_string(request.k()) + " is outside 1.." + std::to_string(options.max_k));
  }
  return Status::Ok();
}

Status ValidateGetObject(const v1::GetObjectRequest& request) { return ValidateId(request.id(), "id"); }
Status ValidateExists(const v1::ExistsRequest& request) { return ValidateId(request.id(), "id"); }

}  // namespace baton::gateway
