// Mirror targets in the arbiter (PRODUCT.md §6, docs/arbiter.md "Mirror
// targets"): the JSON each target is stored as in ZooKeeper
// (`mirror-targets/{name}`), the body PUT /v1/mirror-targets/{name} takes,
// the JSON GET answers with, and which targets each cluster's assignment
// carries.
//
// Versions: a target's REST `version` is its znode's data version + 1, so it
// is 1 when created and grows by one with every change; 0 in a PUT means
// "only if no target of that name exists".
//
// Thread-safety: pure functions and value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mirror_target.h"
#include "common/status.h"

namespace baton::arbiter {

struct StoredMirrorTarget {
  MirrorTargetSpec spec;
  // ZooKeeper data version of its znode (the compare-and-set token).
  int32_t zk_version = 0;

  uint64_t version() const { return static_cast<uint64_t>(zk_version) + 1; }
  bool operator==(const StoredMirrorTarget& other) const = default;
};

// {"name": ..., "cluster": ..., "addresses": [...]}.
std::string EncodeMirrorTarget(const MirrorTargetSpec& target);
// INVALID_ARGUMENT naming the field on malformed input: not a JSON object,
// an unknown or missing field, a wrong type, or what ValidateMirrorTarget
// refuses. Never throws.
Result<MirrorTargetSpec> DecodeMirrorTarget(std::string_view json);

// What a PUT asks for.
struct MirrorTargetPut {
  MirrorTargetSpec target;
  // Compare-and-set: the REST version the caller read (0: must not exist).
  std::optional<uint64_t> version;
};
// PUT /v1/mirror-targets/{name}: `body` is {"cluster", "addresses",
// optional "version", optional "name" (must equal `name`)}. INVALID_ARGUMENT
// as `field "X": why` for an unknown field, a missing or mistyped one, a name
// in the body other than the path's, and whatever ValidateMirrorTarget
// refuses (the path's name included).
Result<MirrorTargetPut> ParseMirrorTargetPut(const std::string& name, const nlohmann::json& body);

// {"name", "cluster", "addresses", "version"}: one entry of GET's answer.
nlohmann::json MirrorTargetView(const StoredMirrorTarget& target);

// The targets the members of `cluster` deliver to: every target whose
// cluster is another one (full mesh among the clusters that have targets),
// sorted by name so that the same set always makes the same assignment.
std::vector<MirrorTargetSpec> MirrorTargetsFor(const std::vector<MirrorTargetSpec>& all, const std::string& cluster);

// The `mirror.targets` seed list of the arbiter's config: ParseMirrorTargets
// with the key named in the error.
Result<std::vector<MirrorTargetSpec>> ParseSeedTargets(const std::vector<std::string>& specs);

}  // namespace baton::arbiter
