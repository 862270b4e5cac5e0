// The JSON the operator API answers with (docs/operator-api.md), as pure
// functions of what the arbiter knows, so leader and follower answers come
// from one place and the shapes are unit-tested without servers.
//
// Thread-safety: free functions on values; no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "arbiter/cluster_book.h"
#include "arbiter/cluster_state.h"
#include "common/clock.h"
#include "common/status.h"

namespace baton::arbiter {

// One cluster as the leader sees it now (`observed_age_ms` 0). The leader
// publishes exactly this for followers, with "as_of_ms" (wall clock) added.
nlohmann::json ClusterView(const std::string& name, const ClusterObservation& observation, MonoTime now);

// One cluster as a follower answers it: the stored state and config (the
// truth) over the leader's last published view (`observed`, may be absent or
// unparsable), with its ages moved on to `now_wall_ms`.
nlohmann::json FollowerClusterView(const std::string& name, const ClusterState& state, const ClusterConfig& config,
                                   const std::optional<std::string>& observed, int64_t now_wall_ms);

nlohmann::json ConfigView(const ClusterConfig& config);

// PUT /v1/clusters/{c}/config: `body` applied to `current`. INVALID_ARGUMENT
// naming the field (unknown field, wrong type, out of range, missing
// version); ABORTED when version is not current.version. The result has
// version current.version + 1 and current's zk_version.
Result<ClusterConfig> ApplyConfigUpdate(const ClusterConfig& current, const nlohmann::json& body);

// INVALID_ARGUMENT naming the first field of `body` (a JSON object, else
// an error saying so) not in `allowed`.
Status CheckFields(const nlohmann::json& body, std::initializer_list<std::string_view> allowed);
// doc[key] when `doc` is an object with a string there, else "": for JSON
// read back from ZooKeeper, which may be another version's or damaged and
// must not make a handler throw (nlohmann's value() throws on a wrong type).
std::string StringFieldOrEmpty(const nlohmann::json& doc, std::string_view key);

// An event as GET /v1/events shows it: the stored JSON with "seq" and an
// ISO-8601 "time" added.
nlohmann::json EventView(uint64_t seq, const std::string& stored_json);
std::string EncodeEvent(const ClusterEvent& event);

int64_t WallNowMs();

}  // namespace baton::arbiter
