// Mirror targets (the ValdMirrorTarget analogue, PRODUCT.md §6) as text:
// how config files and flags name a peer cluster, for the arbiter's seed list
// (`mirror.targets`) and a standalone gateway's own list.
//
//   NAME=CLUSTER@HOST:PORT[+HOST:PORT...]     e.g. "site-b=c2@10.0.0.7:7700+10.0.0.8:7700"
//
// Thread-safe: pure functions and value types.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace baton {

struct MirrorTargetSpec {
  std::string name;     // unique among the targets; [A-Za-z0-9._-], 1..64 characters
  std::string cluster;  // the peer's instance.cluster; same character rules
  std::vector<std::string> addresses;  // gRPC host:port of the peer's gateways, at least one

  bool operator==(const MirrorTargetSpec& other) const = default;
};

// INVALID_ARGUMENT naming the part that is wrong (name, cluster or which
// address) when `spec` does not follow the format above.
Result<MirrorTargetSpec> ParseMirrorTarget(std::string_view spec);
// The inverse of ParseMirrorTarget.
std::string FormatMirrorTarget(const MirrorTargetSpec& target);
// The same checks ParseMirrorTarget makes, for targets that arrive as JSON.
Status ValidateMirrorTarget(const MirrorTargetSpec& target);
// Parses every entry; also refuses two entries with one name.
Result<std::vector<MirrorTargetSpec>> ParseMirrorTargets(const std::vector<std::string>& specs);

}  // namespace baton
